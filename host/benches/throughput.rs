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
