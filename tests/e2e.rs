//! End to end: the built component, run in-process through `host/`, over
//! every fixture, through each of its functions.
//!
//! Needs the component `make build` produces (`target/switchboard.wasm`).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;
use switchboard_core::{Config, ErrorClass};
use switchboard_fixtures::{Fixture, run_all};
use switchboard_host::{Error, HostOptions, Switchboard, default_component, wit};

fn switchboard() -> &'static Switchboard {
    static SWITCHBOARD: OnceLock<Switchboard> = OnceLock::new();
    SWITCHBOARD.get_or_init(|| load(HostOptions::default()))
}

fn load(options: HostOptions) -> Switchboard {
    let path = default_component();
    Switchboard::from_file(&path, options)
        .unwrap_or_else(|e| panic!("{e} (run `make build` first)"))
}

fn request(fixture: &Fixture) -> wit::Request {
    let headers = fixture
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()));
    wit::Request::new(headers, fixture.body.clone())
}

/// The fixture's configuration as the WIT record, or the outcome a host gets
/// for a configuration it cannot read. It is deliberately not validated
/// here: the component validates what it is given.
fn config(fixture: &Fixture) -> Result<wit::Config, (String, String)> {
    serde_json::from_str::<Config>(&fixture.config_json())
        .map(|c| wit::Config::from(&c))
        .map_err(|e| {
            (
                ErrorClass::Config.to_string(),
                format!("invalid configuration: {e}"),
            )
        })
}

fn outcome(result: Result<wit::Event, Error>) -> Result<Value, (String, String)> {
    match result {
        Ok(event) => Ok(serde_json::from_str(&event.json).expect("events are JSON")),
        Err(e) => Err((e.class().to_string(), e.to_string())),
    }
}

#[test]
fn the_component_imports_nothing() {
    assert_eq!(switchboard().imports(), Vec::<String>::new());
}

#[test]
fn every_fixture_through_a_fresh_instance_per_request() {
    let switchboard = switchboard();
    run_all("component, fresh instance", |fixture| {
        let config = config(fixture)?;
        outcome(switchboard.process(
            &request(fixture),
            fixture.vendor.as_deref(),
            &config,
            fixture.now,
        ))
    });
}

#[test]
fn every_fixture_through_one_reused_instance() {
    let mut instance = switchboard().instance().expect("instantiates");
    run_all("component, reused instance", |fixture| {
        let config = config(fixture)?;
        outcome(instance.process(
            &request(fixture),
            fixture.vendor.as_deref(),
            &config,
            fixture.now,
        ))
    });
}

#[test]
fn every_fixture_through_the_json_function() {
    use base64::Engine as _;
    let mut instance = switchboard().instance().expect("instantiates");
    run_all("component, process-json", |fixture| {
        let body = base64::engine::general_purpose::STANDARD.encode(&fixture.body);
        let request = serde_json::json!({"headers": fixture.headers, "body_base64": body});
        let vendor = fixture.vendor.as_deref().unwrap_or("");
        let answer = instance
            .process_json(
                &request.to_string(),
                vendor,
                &fixture.config_json(),
                fixture.now,
            )
            .map_err(|e| (e.class().to_string(), e.to_string()))?;
        let answer: Value = serde_json::from_str(&answer).expect("answers are JSON");
        match (answer.get("error"), answer.get("message")) {
            (Some(Value::String(class)), Some(Value::String(message))) => {
                Err((class.clone(), message.clone()))
            }
            _ => Ok(answer),
        }
    });
}

#[test]
fn detection_agrees_with_the_core() {
    let switchboard = switchboard();
    for fixture in switchboard_fixtures::all() {
        let headers = fixture
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()));
        let native =
            switchboard_core::detect(&switchboard_core::Request::new(headers, &fixture.body));
        let guest = switchboard.detect(&request(&fixture)).expect("detect runs");
        assert_eq!(guest.as_deref(), native, "{}", fixture.name);
    }
}

/// A body the component must grow its memory for, past a small limit: the
/// guest traps, the host reports `internal`, and the next call works.
#[test]
fn a_guest_out_of_memory_is_internal_and_the_host_carries_on() {
    let switchboard = load(HostOptions {
        memory_limit: 4 << 20,
        ..HostOptions::default()
    });
    let config = wit::Config::from(
        &Config::from_json(r#"{"vendors": {"varda": {"secrets": ["s"]}}, "body_limit": 67108864}"#)
            .unwrap(),
    );
    let big = wit::Request::new([("X-Varda-Signature", "t=1,v1=00")], vec![b' '; 8 << 20]);
    let mut instance = switchboard.instance().expect("instantiates");
    let err = instance
        .process(&big, Some("varda"), &config, 1)
        .unwrap_err();
    assert_eq!(err.class().as_str(), "internal", "{err}");
    assert!(
        matches!(&err, Error::Trap(m) if !m.contains("interrupt")),
        "{err:?}"
    );
    let small = wit::Request::new([("X-Varda-Signature", "t=1,v1=00")], b"{}".to_vec());
    let err = instance
        .process(&small, Some("varda"), &config, 1)
        .unwrap_err();
    assert_eq!(
        err.class().as_str(),
        "unauthenticated",
        "the replaced instance answers: {err}"
    );
}

/// A call that outlives its deadline is interrupted: `internal`, and the
/// host carries on.
#[test]
fn a_call_past_its_deadline_is_internal() {
    let switchboard = load(HostOptions {
        call_timeout: Duration::from_millis(10),
        memory_limit: 512 << 20,
        ..HostOptions::default()
    });
    let config = wit::Config::from(
        &Config::from_json(
            r#"{"vendors": {"varda": {"secrets": ["a", "b", "c", "d"]}}, "body_limit": 134217728}"#,
        )
        .unwrap(),
    );
    // Four HMACs over 96 MiB take far longer than 10 ms.
    let body = vec![b'x'; 96 << 20];
    let big = wit::Request::new([("X-Varda-Signature", "t=1,v1=00")], body);
    let err = switchboard
        .process(&big, Some("varda"), &config, 1)
        .unwrap_err();
    assert!(
        matches!(&err, Error::Trap(m) if m.contains("interrupt")),
        "{err:?}"
    );
    assert_eq!(err.class().as_str(), "internal");
    let small = wit::Request::new([], b"{}".to_vec());
    let err = switchboard
        .process(&small, Some("varda"), &config, 1)
        .unwrap_err();
    assert_eq!(err.class().as_str(), "unauthenticated", "{err}");
}
