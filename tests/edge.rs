//! The edge shells for real: Cloudflare's workerd running the Worker and
//! `deno serve` running the Deno entry (`host/edge/`, both over the edge
//! component `target/edge.wasm`), started on free loopback ports and
//! stopped after each test (`support/edge.rs`).
//!
//! - The fixtures' contract subset (`switchboard_fixtures::contract`), over
//!   HTTP: an accepted case answers 200 with exactly the CloudEvent the
//!   processor component produces (the fixture's), a refused one its class's
//!   status and error body. Each fixture has its own configuration and
//!   `now`, so these go to the test entries (`tests/edge/`), which take both
//!   from two request headers and hand the rest to the same handler.
//! - The production entries (what `make workerd` / `make deno` run),
//!   configured by their environment and timed by the clock: a signed
//!   delivery, a tampered one, `/healthz`, the test headers ignored, and
//!   every refusal the shell itself makes (a configuration that cannot be
//!   used, a vendor without a secret, a declared length over the limit
//!   before any body is sent, a body that does not arrive, a downstream
//!   that refuses or cannot be reached).
//!
//! `tests/gateway.rs`'s `every_shell_answers_alike` sends the contract's own
//! requests (404, 405, 413, ...) to both and to the receiver and gateway.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

#[path = "support/answers.rs"]
mod answers;
#[path = "support/edge.rs"]
#[allow(dead_code)] // `Runtime::ALL` is for tests/gateway.rs
mod edge;
#[path = "support/engine.rs"]
mod engine;
#[path = "support/http.rs"]
#[allow(dead_code)] // the downstream and the client only
mod http;
#[path = "support/ports.rs"]
mod ports;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use edge::{Edge, Entry, Runtime};
use serde_json::Value;
use switchboard_fixtures::Fixture;

/// The demo secrets of `host/demo/switchboard.toml`, as `make workerd` and
/// `make deno` pass them (the Makefile's `DEMO_ENV`).
const DEMO_ENV: &[(&str, &str)] = &[
    ("SWITCHBOARD_SECRET_VARDA", "demo-varda-secret"),
    (
        "SWITCHBOARD_SECRET_OPENPHONE",
        "ZGVtby1vcGVucGhvbmUtc2lnbmluZy1rZXk=,whsec_ZGVtby1xdW8tc3RhbmRhcmQtd2ViaG9va3Mta2V5",
    ),
    ("SWITCHBOARD_SECRET_ATOMS", "demo-atoms-secret"),
    (
        "SWITCHBOARD_SECRET_OPENCX",
        "whsec_ZGVtby1vcGVuY3gtc3RhbmRhcmQtd2ViaG9va3Mta2V5",
    ),
    ("SWITCHBOARD_SCHEME_OPENCX", "standard-webhooks"),
];

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn path_of(fixture: &Fixture) -> String {
    match &fixture.vendor {
        Some(vendor) => format!("/webhooks/{vendor}"),
        None => "/webhooks".to_owned(),
    }
}

/// A Varda delivery of `body` signed with `secret` at `at`.
fn signed(secret: &str, body: &[u8], at: i64) -> Vec<(String, String)> {
    let input = switchboard_core::SignInput {
        body,
        timestamp: at,
        id: "",
    };
    switchboard_core::sign(
        "varda",
        &switchboard_core::Scheme::VendorDefault,
        &switchboard_core::Secret::new(secret),
        input,
    )
    .unwrap()
}

const CALL_ENDED: &[u8] = br#"{"event":"call.ended","timestamp":"2026-03-25T18:35:00Z","data":{"id":7,"direction":"inbound","duration_seconds":42}}"#;

fn json(response: &http::Response) -> Value {
    serde_json::from_str(&response.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", response.body))
}

fn contract_subset(runtime: Runtime) {
    let started = Instant::now();
    let edge = Edge::start(runtime, Entry::Fixtures, &[]);
    let fixtures = switchboard_fixtures::contract();
    let mut failures = Vec::new();
    for fixture in &fixtures {
        let env: serde_json::Map<String, Value> = fixture
            .environment()
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let mut headers = fixture.headers.clone();
        headers.push((
            "x-switchboard-test-env".to_owned(),
            Value::Object(env).to_string(),
        ));
        headers.push(("x-switchboard-test-now".to_owned(), fixture.now.to_string()));
        let answer = match http::request(
            edge.address,
            "POST",
            &path_of(fixture),
            &headers,
            &fixture.body,
        ) {
            Ok(answer) => answer,
            Err(e) => {
                failures.push(format!("{}: {e}\n{}", fixture.name, edge.log()));
                continue;
            }
        };
        let outcome = answers::outcome(
            fixture,
            runtime.name(),
            answer.status,
            answer.body.as_bytes(),
        );
        if let Err(failure) = fixture.check(outcome) {
            failures.push(failure);
        }
    }
    assert!(
        failures.is_empty(),
        "{}: {} of {} fixtures failed:\n\n{}",
        runtime.name(),
        failures.len(),
        fixtures.len(),
        failures.join("\n\n")
    );
    eprintln!(
        "{}: all {} contract fixtures passed in {:?}",
        runtime.name(),
        fixtures.len(),
        started.elapsed()
    );
}

#[test]
fn the_contract_subset_through_workerd() {
    contract_subset(Runtime::Workerd);
}

#[test]
fn the_contract_subset_through_deno() {
    contract_subset(Runtime::Deno);
}

/// What `make workerd` and `make deno` must do: a signed Varda demo
/// delivery is the CloudEvent the core makes of it, a tampered one `401`,
/// `GET /healthz` `200`; the test entries' headers change nothing.
fn the_demo(runtime: Runtime) {
    let edge = Edge::start(runtime, Entry::Production, DEMO_ENV);
    let health = edge.request("GET", "/healthz", &[], &[]);
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));

    let at = now();
    let headers = signed("demo-varda-secret", CALL_ENDED, at);
    let answer = edge.request("POST", "/webhooks/varda", &headers, CALL_ENDED);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.header("content-type"),
        Some("application/cloudevents+json")
    );
    let mut config = switchboard_core::Config::default();
    config.vendors.insert(
        "varda".to_owned(),
        switchboard_core::VendorConfig {
            secrets: vec![switchboard_core::Secret::new("demo-varda-secret")],
            scheme: switchboard_core::Scheme::VendorDefault,
        },
    );
    let pairs = headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
    let expected = switchboard_core::process(
        &switchboard_core::Request::new(pairs, CALL_ENDED),
        Some("varda"),
        &config,
        at,
    )
    .unwrap();
    let expected: Value = serde_json::from_str(&expected.to_json()).unwrap();
    assert_eq!(json(&answer), expected, "{}", runtime.name());

    let mut tampered = CALL_ENDED.to_vec();
    tampered[20] ^= 1;
    let answer = edge.request("POST", "/webhooks/varda", &headers, &tampered);
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(json(&answer)["reason"], "no-match");

    // A delivery signed long ago, claiming its time and a configuration of
    // its own through the test entries' headers: the production entries do
    // not read them, so it is stale by the clock, not accepted.
    let old = at - 3600;
    let mut headers = signed("demo-varda-secret", CALL_ENDED, old);
    headers.push(("x-switchboard-test-now".to_owned(), old.to_string()));
    headers.push((
        "x-switchboard-test-env".to_owned(),
        r#"{"SWITCHBOARD_TOLERANCE_SECONDS":"999999"}"#.to_owned(),
    ));
    let answer = edge.request("POST", "/webhooks/varda", &headers, CALL_ENDED);
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(json(&answer)["reason"], "stale", "{}", answer.body);
}

#[test]
fn the_demo_through_workerd() {
    the_demo(Runtime::Workerd);
}

#[test]
fn the_demo_through_deno() {
    the_demo(Runtime::Deno);
}

/// A configuration that cannot be used (a scheme whose JSON does not parse,
/// beside a secret): `/healthz` and every delivery `503`, naming the
/// variable, never a value.
fn a_bad_configuration(runtime: Runtime) {
    let env = [
        ("SWITCHBOARD_SECRET_OPENCX", "whsec_aHVudGVyMg=="),
        (
            "SWITCHBOARD_SCHEME_OPENCX",
            r#"{"type": "hmac-sha256", "header": "hunter2"#,
        ),
    ];
    let edge = Edge::start(runtime, Entry::Production, &env);
    for (method, path) in [("GET", "/healthz"), ("POST", "/webhooks/opencx")] {
        let answer = edge.request(method, path, &[], b"{}");
        assert_eq!(answer.status, 503, "{method} {path}: {}", answer.body);
        let body = json(&answer);
        assert_eq!(body["error"], "invalid-config", "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("SWITCHBOARD_SCHEME_OPENCX"),
            "{body}"
        );
        assert!(!answer.body.contains("hunter2"), "{body}");
        assert!(!answer.body.contains("aHVudGVyMg"), "{body}");
        assert_eq!(answer.header("retry-after"), Some("2"));
    }
}

#[test]
fn a_bad_configuration_through_workerd() {
    a_bad_configuration(Runtime::Workerd);
}

#[test]
fn a_bad_configuration_through_deno() {
    a_bad_configuration(Runtime::Deno);
}

/// Writes a request head declaring `length` bytes and `sent` of them, then
/// reads whatever comes back within `wait`.
fn partial(edge: &Edge, length: usize, sent: &[u8], wait: Duration) -> http::Response {
    let mut stream = TcpStream::connect(edge.address).unwrap();
    stream.set_read_timeout(Some(wait)).unwrap();
    let head = format!(
        "POST /webhooks/varda HTTP/1.1\r\nHost: {}\r\nContent-Length: {length}\r\n\r\n",
        edge.address
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(sent).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    // Read until the response's head and its Content-Length body are in.
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if let Ok(response) = http::parse_response(&raw) {
            let length = response
                .header("content-length")
                .and_then(|l| l.parse::<usize>().ok());
            if length.is_some_and(|l| response.body.len() >= l) {
                return response;
            }
        }
    }
    http::parse_response(&raw).unwrap()
}

/// The refusals the shell makes itself, through the production entry: a
/// vendor enabled without a secret, a declared length over the limit
/// (answered before any of the body is sent), a body that stops arriving,
/// a downstream that refuses, then one that is gone.
fn the_shells_own_refusals(runtime: Runtime) {
    let (downstream, received) = http::downstream(|n| {
        if n == 0 {
            "202 Accepted"
        } else {
            "503 Service Unavailable"
        }
    });
    let url = format!("http://{downstream}/ingest");
    let env = [
        ("SWITCHBOARD_VENDORS", "varda,atoms"),
        ("SWITCHBOARD_SECRET_VARDA", "edge-varda-secret"),
        ("SWITCHBOARD_BODY_LIMIT", "4096"),
        ("SWITCHBOARD_READ_TIMEOUT_SECONDS", "1"),
        ("SWITCHBOARD_FORWARD_URL", url.as_str()),
        ("SWITCHBOARD_FORWARD_TIMEOUT_SECONDS", "2"),
    ];
    let edge = Edge::start(runtime, Entry::Production, &env);
    let name = runtime.name();

    let answer = edge.request("POST", "/webhooks/atoms", &[], b"{}");
    assert_eq!(answer.status, 401, "{name}: {}", answer.body);
    assert_eq!(json(&answer)["reason"], "no-secret", "{name}");

    let started = Instant::now();
    let answer = partial(&edge, 2 << 20, b"", Duration::from_secs(5));
    assert_eq!(answer.status, 413, "{name}: {answer:?}");
    assert_eq!(
        json(&answer)["message"],
        "body is 2097152 bytes, over the 4096 byte limit"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{name}: {:?}",
        started.elapsed()
    );

    let started = Instant::now();
    let answer = partial(&edge, 100, b"{\"ev", Duration::from_secs(8));
    assert_eq!(answer.status, 408, "{name}: {answer:?}");
    assert_eq!(json(&answer)["error"], "timeout");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{name}: {:?}",
        started.elapsed()
    );

    let at = now();
    let headers = signed("edge-varda-secret", CALL_ENDED, at);
    let answer = edge.request("POST", "/webhooks/varda", &headers, CALL_ENDED);
    assert_eq!(answer.status, 200, "{name}: {}", answer.body);
    let body = json(&answer);
    assert_eq!(body["forwarded"], true, "{body}");
    let forwarded = received.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        forwarded.head.starts_with("POST /ingest HTTP/1.1"),
        "{}",
        forwarded.head
    );
    assert!(
        forwarded
            .head
            .to_ascii_lowercase()
            .contains("content-type: application/cloudevents+json"),
        "{}",
        forwarded.head
    );
    let event: Value = serde_json::from_str(&forwarded.body).unwrap();
    assert_eq!(event["id"], body["id"]);
    assert_eq!(event["type"], "call.ended");

    let answer = edge.request("POST", "/webhooks/varda", &headers, CALL_ENDED);
    assert_eq!(answer.status, 502, "{name}: {}", answer.body);
    assert_eq!(
        json(&answer)["message"],
        "the downstream answered 503",
        "{name}"
    );
    drop(edge);

    // A downstream nobody listens on.
    let url = format!("http://127.0.0.1:{}/ingest", ports::unused_loopback_port());
    let env = [
        ("SWITCHBOARD_SECRET_VARDA", "edge-varda-secret"),
        ("SWITCHBOARD_FORWARD_URL", url.as_str()),
    ];
    let edge = Edge::start(runtime, Entry::Production, &env);
    let answer = edge.request("POST", "/webhooks/varda", &headers, CALL_ENDED);
    assert_eq!(answer.status, 502, "{name}: {}", answer.body);
    let body = json(&answer);
    assert_eq!(body["reason"], "downstream-failed", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("the downstream could not be reached"),
        "{body}"
    );
}

#[test]
fn the_shells_own_refusals_through_workerd() {
    the_shells_own_refusals(Runtime::Workerd);
}

#[test]
fn the_shells_own_refusals_through_deno() {
    the_shells_own_refusals(Runtime::Deno);
}

/// The edge component imports nothing (no clock, no environment: both are
/// arguments), so every JavaScript runtime instantiates it without shims.
#[test]
fn the_edge_component_imports_nothing() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/edge.wasm");
    let engine = engine::cached(wasmtime::Config::new());
    let component = wasmtime::component::Component::from_file(&engine, &path)
        .unwrap_or_else(|e| panic!("{}: {e} (run `make component`)", path.display()));
    let imports: Vec<String> = component
        .component_type()
        .imports(&engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    assert_eq!(imports, Vec::<String>::new());
    let exports: Vec<String> = component
        .component_type()
        .exports(&engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    assert_eq!(exports, ["switchboard:edge/shell@0.1.0"]);
}
