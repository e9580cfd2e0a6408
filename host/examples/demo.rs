//! `make demo`: sends every sample request in `fixtures/` that yields an
//! event to a running receiver (`make run`), re-signed now with the demo
//! secrets of `host/demo/switchboard.toml`, and prints each answer.
//! Samples whose body repeats an earlier one come back `"duplicate": true`.

#[path = "../../tests/support/http.rs"]
#[allow(dead_code)] // the demo sends; it starts no receiver
mod http;

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use switchboard_core::{Config, SignInput};
use switchboard_fixtures::Expect;

fn main() -> anyhow::Result<()> {
    let address: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8787".to_owned())
        .parse()
        .context("the receiver's address, like 127.0.0.1:8787")?;
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/demo/switchboard.toml");
    let config: Config = toml::from_str(&std::fs::read_to_string(demo)?)?;
    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())?;
    let (mut sent, mut accepted) = (0, 0);
    for fixture in switchboard_fixtures::all() {
        let Expect::Event(event) = &fixture.expect else {
            continue;
        };
        let Some(vendor) = event["vendor"].as_str() else {
            continue;
        };
        let Some(settings) = config.vendors.get(vendor) else {
            continue;
        };
        let Some(secret) = settings.secrets.first() else {
            continue;
        };
        let id = format!("msg_demo_{sent}");
        let input = SignInput {
            body: &fixture.body,
            timestamp: now,
            id: &id,
        };
        let headers = switchboard_core::sign(vendor, &settings.scheme, secret, input)?;
        let response = http::request(
            address,
            "POST",
            &format!("/webhooks/{vendor}"),
            &headers,
            &fixture.body,
        )
        .with_context(|| {
            format!(
                "sending {} to {address} (is `make run` running?)",
                fixture.name
            )
        })?;
        println!(
            "{} {} {}",
            response.status,
            fixture.name,
            response.body.trim()
        );
        sent += 1;
        accepted += usize::from(response.status == 200);
    }
    println!("{accepted} of {sent} samples acknowledged by http://{address}");
    Ok(())
}
