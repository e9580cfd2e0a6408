//! `make run`: every sample request in `fixtures/` through the component,
//! printing each normalized event as one JSON line (or, for the samples that
//! are meant to be refused, the error it gets), one line per sample after a
//! `# <fixture>` header.

use switchboard_core::Config;
use switchboard_host::{HostOptions, Switchboard, default_component, wit};

fn main() -> anyhow::Result<()> {
    let switchboard = Switchboard::from_file(&default_component(), HostOptions::default())?;
    let mut instance = switchboard.instance()?;
    let (mut accepted, mut refused) = (0, 0);
    for fixture in switchboard_fixtures::all() {
        println!("# {}", fixture.name);
        let config = match Config::from_json(&fixture.config_json()) {
            Ok(config) => wit::Config::from(&config),
            Err(e) => {
                println!("error: unauthenticated: invalid configuration: {e}");
                refused += 1;
                continue;
            }
        };
        let headers = fixture
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()));
        let request = wit::Request::new(headers, fixture.body.clone());
        match instance.process(&request, fixture.vendor.as_deref(), &config, fixture.now) {
            Ok(event) => {
                println!("{}", event.json);
                accepted += 1;
            }
            Err(e) => {
                println!("error: {}: {e}", e.class());
                refused += 1;
            }
        }
    }
    eprintln!(
        "{accepted} events, {refused} refused, from {}",
        switchboard_fixtures::dir().display()
    );
    Ok(())
}
