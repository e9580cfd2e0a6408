//! `make bench`: the median time per event for a mix of the sample requests
//! (every fixture that yields an event), natively and through the component,
//! measured in one run so that the ratios compare like with like.
//!
//! Each round processes the whole mix once; the figure is the round's time
//! divided by the mix's size, and the median is over the rounds.

use std::hint::black_box;
use std::time::{Duration, Instant};

use switchboard_core::{Config, Request};
use switchboard_fixtures::{Expect, Fixture};
use switchboard_host::{HostOptions, Switchboard, default_component, wit};

struct Sample {
    fixture: Fixture,
    config: Config,
    wit_config: wit::Config,
    wit_request: wit::Request,
    request_json: String,
    config_json: String,
}

fn main() -> anyhow::Result<()> {
    let samples: Vec<Sample> = switchboard_fixtures::all()
        .into_iter()
        .filter(|f| matches!(f.expect, Expect::Event(_)))
        .map(|fixture| {
            let config =
                Config::from_json(&fixture.config_json()).expect("sample configs are valid");
            let headers = fixture
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()));
            let wit_request = wit::Request::new(headers, fixture.body.clone());
            let request_json = serde_json::json!({
                "headers": fixture.headers,
                "body": String::from_utf8(fixture.body.clone()).expect("sample bodies are UTF-8"),
            })
            .to_string();
            Sample {
                wit_config: wit::Config::from(&config),
                config_json: fixture.config_json(),
                config,
                wit_request,
                request_json,
                fixture,
            }
        })
        .collect();
    let path = default_component();
    let switchboard = Switchboard::from_file(&path, HostOptions::default())?;
    let mut instance = switchboard.instance()?;
    let bytes: usize = samples.iter().map(|s| s.fixture.body.len()).sum();
    println!(
        "mix: {} sample requests from fixtures/ (mean body {} bytes); component {} ({} bytes)",
        samples.len(),
        bytes / samples.len(),
        path.display(),
        std::fs::metadata(&path)?.len()
    );

    let native = median_per_event(&samples, 400, |s| {
        let headers = s
            .fixture
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()));
        let request = Request::new(headers, &s.fixture.body);
        let event = switchboard_core::process(
            &request,
            s.fixture.vendor.as_deref(),
            &s.config,
            s.fixture.now,
        )
        .expect("samples are accepted");
        black_box(event.to_json());
    });
    let reused = median_per_event(&samples, 400, |s| {
        let event = instance
            .process(
                &s.wit_request,
                s.fixture.vendor.as_deref(),
                &s.wit_config,
                s.fixture.now,
            )
            .expect("samples are accepted");
        black_box(event);
    });
    let json = median_per_event(&samples, 400, |s| {
        let vendor = s.fixture.vendor.as_deref().unwrap_or("");
        let event = instance
            .process_json(&s.request_json, vendor, &s.config_json, s.fixture.now)
            .expect("samples are accepted");
        black_box(event);
    });
    let detect = median_per_event(&samples, 400, |s| {
        black_box(instance.detect(&s.wit_request).expect("detect"));
    });
    let fresh = median_per_event(&samples, 100, |s| {
        let event = switchboard
            .process(
                &s.wit_request,
                s.fixture.vendor.as_deref(),
                &s.wit_config,
                s.fixture.now,
            )
            .expect("samples are accepted");
        black_box(event);
    });

    println!("{:<40} {:>12} {:>8}", "median time per event", "", "ratio");
    for (name, time) in [
        ("native (switchboard-core)", native),
        ("component, reused instance", reused),
        ("component, reused, process-json", json),
        ("component, fresh instance per request", fresh),
        ("component call overhead (detect)", detect),
    ] {
        let ratio = time.as_secs_f64() / native.as_secs_f64();
        println!(
            "{name:<40} {:>9.2} µs {ratio:>7.2}×",
            time.as_secs_f64() * 1e6
        );
    }
    worst_refusal(&mut instance)
}

/// The most expensive unauthenticated request the limits allow: a body at
/// the default limit (1 MiB), `MAX_SIGNATURES` entries that each sign a
/// different content (a distinct timestamp inside the window), and every one
/// of `KEYS` configured keys tried on each; the guest time through a reused
/// instance, and past the cap (the flood of issue 11) for comparison.
fn worst_refusal(instance: &mut switchboard_host::Instance) -> anyhow::Result<()> {
    const KEYS: usize = 4;
    const NOW: i64 = 1_639_710_054;
    let secrets: Vec<String> = (0..KEYS)
        .map(|i| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(format!("key-number-{i}-of-{KEYS}"))
        })
        .collect();
    let config = Config::from_json(
        &serde_json::json!({"vendors": {"openphone": {"secrets": secrets}}}).to_string(),
    )?;
    let config = wit::Config::from(&config);
    let body = vec![b' '; switchboard_core::config::DEFAULT_BODY_LIMIT];
    let entries = |n: usize| {
        (0..n)
            .map(|i| format!("hmac;1;{};AAAA", NOW * 1000 - i as i64))
            .collect::<Vec<_>>()
            .join(",")
    };
    let cap = switchboard_core::schemes::MAX_SIGNATURES;
    for (name, header) in [
        (
            format!("{cap} distinct signed contents × {KEYS} keys, 1 MiB body"),
            entries(cap),
        ),
        (
            "signature flood (14 000 entries), 1 MiB body".to_owned(),
            entries(14_000),
        ),
    ] {
        let request = wit::Request::new([("openphone-signature", header.as_str())], body.clone());
        let mut times: Vec<Duration> = (0..15)
            .map(|_| {
                let start = Instant::now();
                let refused = instance.process(&request, Some("openphone"), &config, NOW);
                assert!(refused.is_err(), "a forged request is refused");
                start.elapsed()
            })
            .collect();
        times.sort();
        println!(
            "worst unauthenticated request: {name:<52} {:>8.2} ms",
            times[times.len() / 2].as_secs_f64() * 1e3
        );
    }
    Ok(())
}

/// The median over `rounds` rounds of one pass over the mix, per event.
fn median_per_event(samples: &[Sample], rounds: usize, mut run: impl FnMut(&Sample)) -> Duration {
    for sample in samples {
        run(sample); // warm-up
    }
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for sample in samples {
                run(sample);
            }
            start.elapsed() / u32::try_from(samples.len()).expect("small mix")
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}
