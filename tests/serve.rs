//! `switchboard serve` on an ephemeral port, one concern per test, each
//! with its own receiver and journal: signed deliveries from every vendor
//! and their redelivery across a restart, every refusal class, the routes,
//! a stalled body, a journal that cannot be written, forwarding, and the
//! receiver's bounds (metric labels, header caps, the 413 a client can
//! read, connections, body bytes, the wait for an instance).
//!
//! The suite runs over either store. By default each receiver journals to
//! a file (`--out`); with `RECEIVER_TEST_STORE=postgres` (`make test`
//! runs it both ways) each test takes a fresh database of one real
//! PostgreSQL per test process (`support/postgres.rs`), its receivers get
//! `--store`, and the events are read back from `switchboard_events`. The
//! few tests whose subject is the file journal itself say so and return
//! early on PostgreSQL, naming what covers that concern there.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

#[path = "support/http.rs"]
#[allow(dead_code)] // shared with the gateway tests and the load and attack scripts
mod http;
#[path = "support/ports.rs"]
mod ports;
#[path = "support/postgres.rs"]
#[allow(dead_code)] // shared with the PostgreSQL store's tests
mod postgres;
#[path = "support/receiver.rs"]
#[allow(dead_code)] // shared with the attack script
mod receiver;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use receiver::Receiver;
use serde_json::Value;
use switchboard_core::{Config, SignInput};
use switchboard_http::http::Method;
use switchboard_http::{RETRY_AFTER_SECONDS, Routes};

const SWITCHBOARD: &str = env!("CARGO_BIN_EXE_switchboard");

const CONFIG: &str = r#"
body_limit = 4096

[vendors.varda]
secrets = ["serve-varda"]

[vendors.openphone]
secrets = ["c2VydmUtb3BlbnBob25lLWtleQ=="]

[vendors.atoms]
secrets = ["serve-atoms"]

[vendors.opencx]
secrets = ["serve-opencx-token"]
scheme = { type = "shared-secret", header = "X-OpenCX-Token" }
"#;

const VARDA_BODY: &[u8] =
    br#"{"event":"call.ended","timestamp":"2026-03-25T18:35:00Z","data":{"id":42}}"#;

/// One sample delivery per vendor.
const SAMPLES: [(&str, &[u8]); 4] = [
    ("varda", VARDA_BODY),
    ("openphone", br#"{"id":"EVserve1","object":"event","apiVersion":"v3","createdAt":"2022-01-24T19:22:25.427Z","type":"call.completed","data":{"object":{"id":"ACserve","object":"call","status":"completed","direction":"incoming","phoneNumberId":"PNserve"}}}"#),
    ("atoms", br#"{"event":"call.start","timestamp":"2024-07-15T14:30:00Z","agent_id":"agent_1","call_id":"call_1","call_direction":"inbound","caller_phone":"+15551234567","agent_phone":"+15559876543"}"#),
    ("opencx", br#"{"event":"conversation.started","organization_id":"org_1","data":{"conversation_id":"conv_1","channel":"web","timestamp":"2026-04-14T14:00:00Z"}}"#),
];

/// A fresh directory for one test, holding `config` as `switchboard.toml`.
fn scratch(test: &str, config: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("switchboard-serve-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("switchboard.toml"), config).unwrap();
    dir
}

/// Whether this run's receivers keep events in PostgreSQL
/// (`RECEIVER_TEST_STORE=postgres`) rather than the file journal (unset,
/// or `file`). Not a `SWITCHBOARD_` name: the receivers it starts inherit
/// the environment and refuse a `SWITCHBOARD_` variable they do not know.
fn on_postgres() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| match std::env::var("RECEIVER_TEST_STORE").as_deref() {
        Err(std::env::VarError::NotPresent) | Ok("file") => false,
        Ok("postgres") => true,
        other => panic!("RECEIVER_TEST_STORE is `file` or `postgres`, not {other:?}"),
    })
}

/// On PostgreSQL, says that the test's `subject` is the file journal's
/// alone; the caller then returns.
fn file_journal_only(subject: &str) -> bool {
    let skipped = on_postgres();
    if skipped {
        eprintln!("not run on PostgreSQL: {subject} is the file journal's");
    }
    skipped
}

/// On PostgreSQL, the database of `dir`'s test: made on first use and
/// named in `dir/database`, so that a restarted receiver finds what the
/// previous one stored.
fn database(dir: &Path) -> Option<String> {
    if !on_postgres() {
        return None;
    }
    let named = dir.join("database");
    if let Ok(name) = std::fs::read_to_string(&named) {
        return Some(name);
    }
    let test = dir.file_name().unwrap().to_string_lossy();
    let name = postgres::shared().database(&format!("serve_{test}"));
    std::fs::write(&named, &name).unwrap();
    Some(name)
}

/// The flags that give `dir`'s receiver its store: `--out
/// dir/events.ndjson`, or `--store` and the test's database.
fn store_flags(dir: &Path) -> [OsString; 2] {
    match database(dir) {
        Some(name) => ["--store".into(), postgres::shared().url(&name).into()],
        None => ["--out".into(), dir.join("events.ndjson").into()],
    }
}

/// The receiver for `dir`, on this run's store.
fn start(dir: &Path, extra: &[&str]) -> Receiver {
    start_logged(dir, extra).0
}

/// [`start`], also handing over every line of its log.
fn start_logged(dir: &Path, extra: &[&str]) -> (Receiver, std::sync::mpsc::Receiver<String>) {
    let config = dir.join("switchboard.toml");
    match database(dir) {
        Some(name) => {
            Receiver::start_store(SWITCHBOARD, &config, &postgres::shared().url(&name), extra)
        }
        None => Receiver::start_logged(SWITCHBOARD, &config, &dir.join("events.ndjson"), extra),
    }
    .unwrap()
}

/// `POST path`: the status and the JSON body (`null` if not JSON).
fn post(server: &Receiver, path: &str, headers: &[(String, String)], body: &[u8]) -> (u16, Value) {
    let response = server.post(path, headers, body).unwrap();
    let body = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    (response.status, body)
}

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn config() -> Config {
    toml::from_str(CONFIG).unwrap()
}

fn signed(config: &Config, vendor: &str, body: &[u8]) -> Vec<(String, String)> {
    let settings = &config.vendors[vendor];
    let input = SignInput {
        body,
        timestamp: now(),
        id: "msg_serve_test",
    };
    switchboard_core::sign(vendor, &settings.scheme, &settings.secrets[0], input).unwrap()
}

/// The events `dir`'s receivers stored, in order: the journal's lines, or
/// `switchboard_events`' rows.
fn journal_lines(dir: &Path) -> Vec<Value> {
    let lines = match database(dir) {
        Some(name) => postgres::shared()
            .sql(
                &name,
                "SELECT event::text FROM switchboard_events ORDER BY seq",
            )
            .unwrap(),
        None => std::fs::read_to_string(dir.join("events.ndjson"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect(),
    };
    lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// A raw connection to the receiver, with generous timeouts.
fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

/// A connection the receiver has accepted and keeps open: a keep-alive
/// `GET /healthz` was answered on it.
fn held_open(address: SocketAddr) -> TcpStream {
    let mut stream = connect(address);
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !seen.ends_with(b"\r\n\r\nok\n") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    stream
}

/// Everything the receiver sends until it closes the connection.
fn read_response(stream: &mut TcpStream) -> http::Response {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    http::parse_response(&raw).unwrap()
}

/// An answer the contract calls `503 overloaded`, with `Retry-After`.
fn assert_overloaded(response: &http::Response) {
    assert_eq!(response.status, 503, "{response:?}");
    let body: Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(body["error"], "overloaded", "{body}");
    assert_eq!(
        response.header("retry-after"),
        Some(RETRY_AFTER_SECONDS.to_string().as_str()),
        "{response:?}"
    );
}

/// The value of the series named `series` (name and labels) in `metrics`.
fn metric(metrics: &str, series: &str) -> Option<u64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
}

/// The body bytes the receiver holds now, from its metrics.
fn budget_held(server: &Receiver) -> u64 {
    let metrics = server.metrics().unwrap();
    metric(&metrics, "switchboard_body_budget_held_bytes").expect("the budget gauge")
}

/// SIGTERM, and a clean exit.
fn stop(server: Receiver) {
    let status = server.terminate().unwrap();
    assert!(status.success(), "a clean exit after SIGTERM: {status}");
}

/// Polls until `ready` holds, for at most 10 s.
fn eventually(what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < Duration::from_secs(10), "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_vendor_is_acknowledged_once_journaled_and_redeliveries_are_duplicates() {
    let dir = scratch("acknowledged", CONFIG);
    let config = config();
    let server = start(&dir, &[]);
    for (vendor, body) in SAMPLES {
        let (status, answer) = post(&server, "/webhooks", &signed(&config, vendor, body), body);
        assert_eq!(status, 200, "{vendor}: {answer}");
        assert_eq!(answer["duplicate"], false, "{vendor}");
        assert!(
            answer["id"].is_string() && answer["type"].is_string(),
            "{answer}"
        );
    }
    let journal = journal_lines(&dir);
    assert_eq!(journal.len(), 4, "one line per accepted event");
    let vendors: Vec<&str> = journal
        .iter()
        .map(|e| e["vendor"].as_str().unwrap())
        .collect();
    assert_eq!(vendors, ["varda", "openphone", "atoms", "opencx"]);

    let headers = signed(&config, "varda", VARDA_BODY);
    let (status, answer) = post(&server, "/webhooks/varda", &headers, VARDA_BODY);
    assert_eq!(
        (status, &answer["duplicate"]),
        (200, &Value::Bool(true)),
        "{answer}"
    );
    assert_eq!(
        journal_lines(&dir).len(),
        4,
        "a redelivery is not written again"
    );
    let metrics = server.metrics().unwrap();
    assert!(
        metrics.contains(
            r#"switchboard_requests_total{vendor="varda",type="call.ended",outcome="duplicate",reason=""} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("switchboard_sink_events_total 4"),
        "{metrics}"
    );
    assert!(
        server.terminate().unwrap().success(),
        "a clean exit after SIGTERM"
    );

    // After a restart the store still knows what it holds.
    let server = start(&dir, &[]);
    let (status, answer) = post(&server, "/webhooks/varda", &headers, VARDA_BODY);
    assert_eq!(
        (status, &answer["duplicate"]),
        (200, &Value::Bool(true)),
        "{answer}"
    );
    assert_eq!(journal_lines(&dir).len(), 4);
    stop(server);
}

/// Varda, OpenCX without a scheme, Atoms without a secret; OpenPhone not
/// enabled.
const REASONS_CONFIG: &str = r#"
body_limit = 4096

[vendors.varda]
secrets = ["serve-varda"]

[vendors.opencx]
secrets = ["serve-opencx-token"]

[vendors.atoms]
secrets = []
"#;

/// Varda's headers for `body` signed at `timestamp`, with a delivery id.
fn varda_at(config: &Config, body: &[u8], timestamp: i64) -> Vec<(String, String)> {
    let settings = &config.vendors["varda"];
    let input = SignInput {
        body,
        timestamp,
        id: "msg_serve_test",
    };
    let mut headers =
        switchboard_core::sign("varda", &settings.scheme, &settings.secrets[0], input).unwrap();
    headers.push(("X-Varda-Delivery".to_owned(), "dlv_reasons".to_owned()));
    headers
}

/// Every reason a delivery over HTTP can be refused for is in the answer's
/// body, in the request's log line (with the vendor's delivery id) and in
/// the requests metric's `reason` label; and the receiver carries on. The
/// two reasons HTTP cannot reach (`invalid-config`: the receiver refuses
/// such a configuration at start; `invalid-request`: the JSON API's) are
/// in the fixtures every layer runs.
#[test]
fn each_reason_is_in_the_body_the_log_line_and_the_metric() {
    let dir = scratch("reasons", REASONS_CONFIG);
    let config: Config = toml::from_str(REASONS_CONFIG).unwrap();
    let (server, log) = start_logged(&dir, &[]);
    let at = |body: &[u8], timestamp: i64| varda_at(&config, body, timestamp);
    let varda = |body: &[u8]| at(body, now());
    let mut tampered = VARDA_BODY.to_vec();
    tampered[30] ^= 1;
    let header = |name: &str, value: &str| vec![(name.to_owned(), value.to_owned())];
    let flood = format!(
        "t={},{}",
        now(),
        vec![format!("v1={}", "0".repeat(64)); 9].join(",")
    );
    let missing_id = br#"{"event":"call.ended","timestamp":"2026-03-25T18:35:00Z","data":{}}"#;
    type Case<'a> = (
        &'a str,
        Vec<(String, String)>,
        Vec<u8>,
        u16,
        &'a str,
        &'a str,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "/webhooks/varda",
            header("X-Varda-Delivery", "dlv_reasons"),
            VARDA_BODY.to_vec(),
            401,
            "unauthenticated",
            "missing-header",
        ),
        (
            "/webhooks/varda",
            header("X-Varda-Signature", "garbage"),
            VARDA_BODY.to_vec(),
            401,
            "unauthenticated",
            "unparseable-signature",
        ),
        (
            "/webhooks/varda",
            varda(VARDA_BODY),
            tampered,
            401,
            "unauthenticated",
            "no-match",
        ),
        (
            "/webhooks/varda",
            at(VARDA_BODY, now() - 1000),
            VARDA_BODY.to_vec(),
            401,
            "unauthenticated",
            "stale",
        ),
        (
            "/webhooks/varda",
            at(VARDA_BODY, now() + 1000),
            VARDA_BODY.to_vec(),
            401,
            "unauthenticated",
            "from-the-future",
        ),
        (
            "/webhooks/varda",
            header("X-Varda-Signature", &flood),
            VARDA_BODY.to_vec(),
            401,
            "unauthenticated",
            "too-many-signatures",
        ),
        (
            "/webhooks/atoms",
            vec![],
            SAMPLES[2].1.to_vec(),
            401,
            "unauthenticated",
            "no-secret",
        ),
        (
            "/webhooks/opencx",
            vec![],
            SAMPLES[3].1.to_vec(),
            401,
            "unauthenticated",
            "no-scheme",
        ),
        (
            "/webhooks/varda",
            varda(&[b' '; 5000]),
            vec![b' '; 5000],
            413,
            "too-large",
            "too-large",
        ),
        (
            "/webhooks",
            vec![],
            b"{}".to_vec(),
            404,
            "unknown-vendor",
            "vendor-not-detected",
        ),
        (
            "/webhooks/nosuchvendor",
            vec![],
            VARDA_BODY.to_vec(),
            404,
            "unknown-vendor",
            "no-such-vendor",
        ),
        (
            "/webhooks/openphone",
            vec![],
            SAMPLES[1].1.to_vec(),
            404,
            "unknown-vendor",
            "vendor-not-enabled",
        ),
        (
            "/webhooks/varda",
            varda(b"not json"),
            b"not json".to_vec(),
            400,
            "malformed",
            "not-json",
        ),
        (
            "/webhooks/varda",
            varda(b"[1]"),
            b"[1]".to_vec(),
            400,
            "malformed",
            "not-object",
        ),
        (
            "/webhooks/varda",
            varda(b"{}"),
            b"{}".to_vec(),
            400,
            "malformed",
            "missing-event-type",
        ),
        (
            "/webhooks/varda",
            varda(missing_id),
            missing_id.to_vec(),
            400,
            "malformed",
            "missing-field",
        ),
    ];
    for (path, headers, body, status, class, reason) in &cases {
        let (got, answer) = post(&server, path, headers, body);
        assert_eq!(got, *status, "{path} {reason}: {answer}");
        assert_eq!(
            (&answer["error"], &answer["reason"]),
            (&Value::from(*class), &Value::from(*reason)),
            "{answer}"
        );
        assert!(answer["message"].is_string(), "{answer}");
        let wanted = format!("reason=\"{reason}\"");
        let line = std::iter::from_fn(|| log.recv_timeout(Duration::from_secs(10)).ok())
            .find(|line| line.contains(&format!("path=\"{path}\"")))
            .unwrap_or_else(|| panic!("{reason}: no request line"));
        assert!(
            line.contains(&wanted) && line.contains(&format!("status={status}")),
            "{reason}: {line}"
        );
        let is_varda = headers.iter().any(|(name, _)| name == "X-Varda-Delivery");
        assert_eq!(
            line.contains("delivery=\"dlv_reasons\""),
            is_varda,
            "{reason}: {line}"
        );
        assert!(server.healthy(), "still serving after {reason}");
    }
    let metrics = server.metrics().unwrap();
    for (path, _, _, _, class, reason) in &cases {
        let labels = format!(r#"outcome="{class}",reason="{reason}"}}"#);
        assert!(
            metrics.lines().any(|line| line.contains(&labels)),
            "{path}: no series with {labels}\n{metrics}"
        );
    }
    assert!(journal_lines(&dir).is_empty());
    stop(server);
}

/// The receiver answers routes and methods exactly as the contract in
/// `crates/http` says: same status, same body, `Allow` on a `405`.
#[test]
fn routes_and_methods_are_answered_as_the_contract_says() {
    let dir = scratch("routes", CONFIG);
    let server = start(&dir, &[]);
    let cases = [
        ("GET", "/webhooks/varda", Some("POST")),
        ("PUT", "/webhooks", Some("POST")),
        ("POST", "/healthz", Some("GET")),
        ("POST", "/metrics", Some("GET")),
        ("GET", "/nowhere", None),
        ("POST", "/webhooks/varda/extra", None),
        ("POST", "/webhooks/", None),
    ];
    for (method, path, allow) in cases {
        let expected = Routes::RECEIVER
            .route(&Method::from_bytes(method.as_bytes()).unwrap(), path)
            .unwrap_err();
        let response = server.send(method, path).unwrap();
        assert_eq!(
            response.status,
            expected.status().as_u16(),
            "{method} {path}"
        );
        assert_eq!(response.body, expected.body(), "{method} {path}");
        assert_eq!(response.header("allow"), allow, "{method} {path}");
    }
    assert!(server.healthy());
    stop(server);
}

/// A client that stops sending half-way through its body is cut off.
#[test]
fn a_stalled_body_is_cut_off_with_408() {
    let dir = scratch("stalled", CONFIG);
    let server = start(&dir, &["--read-timeout", "1"]);
    let mut stream = connect(server.address);
    stream
        .write_all(
            b"POST /webhooks/varda HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"event\"",
        )
        .unwrap();
    let started = Instant::now();
    let response = read_response(&mut stream);
    assert_eq!(response.status, 408, "{response:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(server.healthy(), "still serving after a stalled client");
    stop(server);
}

/// A journal that cannot be written (`/dev/full`): the vendor hears 503, so
/// it retries, never a 200.
#[test]
fn a_failed_journal_write_is_a_503() {
    // On PostgreSQL: tests/postgres.rs::acknowledged_only_once_committed_and_recovered_without_a_restart
    // (a database killed mid-run is 503 with Retry-After).
    if file_journal_only("a journal on /dev/full") {
        return;
    }
    let dir = scratch("full", CONFIG);
    let server = Receiver::start(
        SWITCHBOARD,
        &dir.join("switchboard.toml"),
        Path::new("/dev/full"),
        &[],
    )
    .unwrap();
    let body = br#"{"event":"contact.created","data":{"id":1}}"#;
    let response = server
        .post("/webhooks/varda", &signed(&config(), "varda", body), body)
        .unwrap();
    assert_eq!(response.status, 503, "{response:?}");
    let answer: Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(answer["error"], "unavailable");
    assert!(response.header("retry-after").is_some(), "{response:?}");
    assert!(server.healthy());
    stop(server);
}

#[test]
fn events_are_forwarded_after_a_refusal() {
    let dir = scratch("forward", CONFIG);
    // The downstream refuses the first delivery (503), then accepts.
    let (downstream, received) = http::downstream(|attempt| match attempt {
        0 => "503 Service Unavailable",
        _ => "202 Accepted",
    });
    let url = format!("http://{downstream}/ingest");
    let server = start(&dir, &["--forward", &url]);

    let body = br#"{"event":"contact.created","timestamp":"2026-03-25T18:29:58Z","data":{"id":456,"name":"Jane Doe"}}"#;
    let (status, answer) = post(
        &server,
        "/webhooks/varda",
        &signed(&config(), "varda", body),
        body,
    );
    assert_eq!(
        status, 200,
        "acknowledged once spooled, whatever the downstream does: {answer}"
    );
    let refused = received
        .recv_timeout(Duration::from_secs(20))
        .expect("a first delivery");
    assert_eq!(refused.attempt, 0);
    let http::Received {
        head,
        body: forwarded,
        ..
    } = received
        .recv_timeout(Duration::from_secs(20))
        .expect("forwarded after a retry");
    assert!(head.starts_with("POST /ingest HTTP/1.1"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/cloudevents+json"),
        "{head}"
    );
    let event: Value = serde_json::from_str(&forwarded).unwrap();
    assert_eq!(event["id"], answer["id"]);
    assert_eq!(event["type"], "contact.created");
    stop(server);
}

/// Finding 4: the metric labels come from closed sets (a family or
/// `unknown`, a vocabulary type, an answer's code), so hundreds of
/// made-up paths add no series (one label taken from a path would add one
/// each).
#[test]
fn random_paths_do_not_grow_metrics() {
    let dir = scratch("labels", CONFIG);
    let server = start(&dir, &[]);
    let series = |metrics: &str| -> Vec<String> {
        metrics
            .lines()
            .filter(|l| l.starts_with("switchboard_requests_total{"))
            .map(|l| l.rsplit_once(' ').unwrap().0.to_owned())
            .collect()
    };
    let mut sent = 0;
    let mut flood = |n: usize| {
        for _ in 0..n {
            sent += 1;
            let path = match sent % 3 {
                0 => format!("/webhooks/vendor-{sent}-\"quoted\""),
                1 => format!("/webhooks/v{sent}/deeper"),
                _ => format!("/random/{sent}"),
            };
            let status = server.post(&path, &[], b"{}").unwrap().status;
            assert_eq!(status, 404, "{path}");
        }
    };
    flood(30);
    let before = server.metrics().unwrap();
    flood(600);
    let after = server.metrics().unwrap();
    assert_eq!(series(&before), series(&after), "{after}");
    assert!(after.len() < 8 * 1024, "{} bytes", after.len());
    assert!(
        after.contains(
            r#"switchboard_requests_total{vendor="unknown",type="",outcome="unknown-vendor",reason="no-such-vendor"}"#
        ),
        "{after}"
    );
    assert!(
        after.contains(
            r#"switchboard_requests_total{vendor="unknown",type="",outcome="not-found",reason="no-route"}"#
        ),
        "{after}"
    );
    stop(server);
}

/// Finding 5: a client that writes its whole over-limit body before
/// reading (no `Expect: 100-continue`, like Python's `http.client`) can
/// write it all and then reads the `413`, rather than a broken pipe.
#[test]
fn a_client_that_sends_its_whole_body_reads_the_413() {
    let dir = scratch("linger", CONFIG);
    let server = start(&dir, &[]);
    let body = vec![b' '; 1 << 20];
    let mut stream = connect(server.address);
    let head = format!(
        "POST /webhooks/varda HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream
        .write_all(&body)
        .expect("the receiver reads the rest of a refused body before it closes");
    let response = read_response(&mut stream);
    assert_eq!(response.status, 413, "{response:?}");
    let answer: Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(answer["error"], "too-large");
    assert_eq!(response.header("connection"), Some("close"));
    assert!(server.healthy());
    stop(server);
}

/// The header caps of `crates/http`: past 100 fields or 400 KiB of head the
/// answer is `431`; a 300 KB head still reaches the core.
#[test]
fn request_heads_past_the_caps_are_431() {
    let dir = scratch("heads", CONFIG);
    let server = start(&dir, &[]);
    let many: Vec<(String, String)> = (0..switchboard_http::MAX_HEADERS + 1)
        .map(|n| (format!("X-Pad-{n}"), "x".to_owned()))
        .collect();
    let large = vec![(
        "X-Pad".to_owned(),
        "x".repeat(switchboard_http::MAX_HEADER_BYTES),
    )];
    for headers in [many, large] {
        let response = server.post("/webhooks/varda", &headers, b"{}").unwrap();
        assert_eq!(response.status, 431, "{}", response.head);
        assert!(server.healthy());
    }
    let within = vec![("X-Pad".to_owned(), "x".repeat(300_000))];
    let (status, answer) = post(&server, "/webhooks/varda", &within, b"{}");
    assert_eq!(status, 401, "the core saw it: {answer}");
    stop(server);
}

/// Finding 1, through the receiver: 14 000 signature entries and a 1 MB
/// body are refused `401` at once (the core's cap on signature entries),
/// not after a second of hashing.
#[test]
fn a_signature_flood_is_answered_401_at_once() {
    let config = r#"
body_limit = 1048576
[vendors.varda]
secrets = ["serve-varda"]
[vendors.openphone]
secrets = ["c2VydmUtb3BlbnBob25lLWtleQ=="]
"#;
    let dir = scratch("flood", config);
    let server = start(&dir, &[]);
    let body = vec![b' '; 1_000_000];
    let millis = now() * 1000;
    let floods = [
        (
            "openphone",
            "openphone-signature",
            vec![format!("hmac;1;{millis};AAAA"); 14_000].join(","),
        ),
        (
            "varda",
            "X-Varda-Signature",
            format!("t={},{}", now(), vec!["v1=00"; 14_000].join(",")),
        ),
    ];
    for (vendor, header, value) in floods {
        let started = Instant::now();
        let (status, answer) = post(
            &server,
            &format!("/webhooks/{vendor}"),
            &[(header.to_owned(), value)],
            &body,
        );
        let took = started.elapsed();
        assert_eq!(status, 401, "{vendor}: {answer}");
        assert!(
            answer["message"]
                .as_str()
                .unwrap()
                .contains("too many signatures"),
            "{answer}"
        );
        assert!(took < Duration::from_secs(1), "{vendor}: {took:?}");
    }
    stop(server);
}

/// Finding 8: past `--max-connections`, a new connection is answered `503`
/// with `Retry-After` at once; once connections close, it serves again.
#[test]
fn past_the_connection_limit_connections_are_turned_away() {
    let dir = scratch("connections", CONFIG);
    // Held connections stay open however slow the machine is.
    let server = start(&dir, &["--max-connections", "2", "--read-timeout", "30"]);
    let held: Vec<TcpStream> = (0..2).map(|_| held_open(server.address)).collect();
    let response = server.send("GET", "/healthz").unwrap();
    assert_overloaded(&response);
    assert_eq!(response.header("connection"), Some("close"));
    drop(held);
    // Polls sent before the receiver sees the closes are turned away too
    // (read as a 503, or cut off).
    let (mut read_503, mut not_served) = (1, 1);
    eventually("serving again once connections closed", || {
        let status = server.send("GET", "/healthz").map(|r| r.status);
        let served = matches!(status, Ok(200));
        read_503 += u64::from(matches!(status, Ok(503)));
        not_served += u64::from(!served);
        served
    });
    let metrics = server.metrics().unwrap();
    let series = r#"switchboard_requests_total{vendor="unknown",type="",outcome="overloaded",reason="too-many-connections"}"#;
    let counted = metric(&metrics, series).expect("the overloaded series");
    assert!(
        (read_503..=not_served).contains(&counted),
        "{counted} counted, {read_503} read as 503, {not_served} not served"
    );
    stop(server);
}

/// Finding 8: bodies held across requests are bounded by `--body-budget`;
/// a body that would pass it is `503` with `Retry-After` (from its declared
/// length, or as it streams in), and the budget comes back when the held
/// bodies go.
#[test]
fn past_the_body_budget_bodies_are_turned_away() {
    let dir = scratch("budget", CONFIG);
    let server = start(&dir, &["--body-budget", "8192", "--read-timeout", "30"]);
    // Two clients declare 4000 bytes, send 3000 and stall: 6000 held.
    let stalled: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut stream = connect(server.address);
            stream
                .write_all(
                    b"POST /webhooks/varda HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\n",
                )
                .unwrap();
            stream.write_all(&[b' '; 3000]).unwrap();
            stream
        })
        .collect();
    // Once the stalled bytes are in (a probe sent earlier could take the
    // budget from them), 3000 more cannot fit.
    eventually("the stalled bodies are held", || {
        budget_held(&server) == 6000
    });
    let response = server.post("/webhooks/varda", &[], &[b' '; 3000]).unwrap();
    assert_overloaded(&response);
    assert_eq!(response.header("connection"), Some("close"));

    let mut chunked = connect(server.address);
    chunked
        .write_all(b"POST /webhooks/varda HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nbb8\r\n")
        .unwrap();
    chunked.write_all(&[b' '; 3000]).unwrap();
    chunked.write_all(b"\r\n0\r\n\r\n").unwrap();
    assert_overloaded(&read_response(&mut chunked));

    drop(stalled);
    eventually("the budget is given back", || budget_held(&server) == 0);
    let response = server.post("/webhooks/varda", &[], &[b' '; 3000]).unwrap();
    assert_eq!(response.status, 401, "{response:?}");
    stop(server);
}

/// Finding 8: a delivery waits at most `--instance-wait-ms` for an
/// instance, then is `503` with `Retry-After`; the instance held meanwhile
/// (by a delivery that hashes a large body with many keys until its
/// deadline) is replaced, and the next delivery is answered normally.
#[test]
fn past_the_instance_wait_deliveries_are_turned_away() {
    let secrets: Vec<String> = (0..32).map(|n| format!("\"serve-varda-{n}\"")).collect();
    let config = format!(
        "body_limit = 16777216\n[vendors.varda]\nsecrets = [{}]\n",
        secrets.join(", ")
    );
    let dir = scratch("instances", &config);
    let server = start(&dir, &["--instances", "1", "--instance-wait-ms", "100"]);
    let mut stream = connect(server.address);
    let (sent, body_sent) = std::sync::mpsc::channel();
    let slow = std::thread::spawn(move || {
        let body = vec![b'x'; 8 << 20];
        let head = format!(
            "POST /webhooks/varda HTTP/1.1\r\nHost: x\r\nX-Varda-Signature: t={},v1=00\r\nContent-Length: {}\r\n\r\n",
            now(),
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&body).unwrap();
        let started = Instant::now();
        sent.send(()).unwrap();
        (read_response(&mut stream), started.elapsed())
    });
    // Once the receiver holds the slow delivery's 8 MiB (it takes the
    // instance next), well before its 32 HMACs over them end. (A fixed
    // pause lost that race on a busy machine: the probe came first.)
    body_sent.recv().unwrap();
    eventually("the slow delivery's body is held", || {
        budget_held(&server) >= 8 << 20
    });
    let parsed: Config = toml::from_str(&config).unwrap();
    let headers = signed(&parsed, "varda", VARDA_BODY);
    // A delivery that comes before the receiver has handed the slow one
    // the instance is served (on a busy machine, holding the body and
    // taking the instance can be a moment apart); the first that finds
    // the instance taken is turned away.
    let turned_away = (0..50)
        .find_map(|_| {
            let response = server
                .post("/webhooks/varda", &headers, VARDA_BODY)
                .unwrap();
            match response.status {
                200 => {
                    std::thread::sleep(Duration::from_millis(10));
                    None
                }
                _ => Some(response),
            }
        })
        .expect("a delivery turned away while the slow one held the instance");
    assert_overloaded(&turned_away);
    let (slow, took) = slow.join().unwrap();
    assert!(
        [401, 500].contains(&slow.status),
        "refused or interrupted: {slow:?}"
    );
    assert!(
        took > Duration::from_millis(400),
        "it held the instance: {took:?}"
    );
    let (status, answer) = post(&server, "/webhooks/varda", &headers, VARDA_BODY);
    assert_eq!(status, 200, "{answer}");
    stop(server);
}

/// Before it listens, the receiver says which vendors are enabled, with
/// which scheme and how many secrets (never a value), and warns about a
/// vendor whose deliveries will all be refused for want of a scheme or a
/// secret.
#[test]
fn the_startup_log_says_what_is_enabled() {
    let config = r#"
[vendors.varda]
secrets = ["startup-varda-secret", "startup-varda-next"]

[vendors.opencx]
secrets = ["whsec_c3RhcnR1cC1vcGVuY3g="]

[vendors.atoms]

[vendors.openphone]
scheme = "none"
"#;
    let dir = scratch("startup", config);
    let (server, log) = start_logged(&dir, &[]);
    let lines: Vec<String> = log.try_iter().collect();
    let line = |vendor: &str| {
        lines
            .iter()
            .find(|line| line.contains(&format!("vendor=\"{vendor}\"")))
            .unwrap_or_else(|| panic!("no line for {vendor}: {lines:#?}"))
            .clone()
    };
    let varda = line("varda");
    assert!(
        varda.contains("INFO") && varda.contains("scheme=\"varda\"") && varda.contains("secrets=2"),
        "{varda}"
    );
    let opencx = line("opencx");
    assert!(
        opencx.contains("WARN")
            && opencx.contains("without a signature scheme")
            && opencx.contains("secrets=1"),
        "OpenCX has no scheme of its own: {opencx}"
    );
    let atoms = line("atoms");
    assert!(
        atoms.contains("WARN")
            && atoms.contains("secrets=0")
            && atoms.contains("every delivery is refused"),
        "{atoms}"
    );
    let openphone = line("openphone");
    assert!(
        openphone.contains("INFO") && openphone.contains("scheme=\"none\""),
        "a scheme that verifies nothing needs no secret: {openphone}"
    );
    let all = lines.join("\n");
    for secret in [
        "startup-varda-secret",
        "startup-varda-next",
        "c3RhcnR1cC1vcGVuY3g",
    ] {
        assert!(!all.contains(secret), "a secret in the log:\n{all}");
    }
    stop(server);
}

/// A first SIGTERM waits for in-flight requests; a second one, while a
/// stalled delivery holds the drain, exits at once with status 130.
#[test]
fn a_second_signal_exits_at_once() {
    let dir = scratch("second-signal", CONFIG);
    let (mut server, log) = start_logged(&dir, &["--read-timeout", "30"]);
    let mut stalled = connect(server.address);
    stalled
        .write_all(b"POST /webhooks/varda HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        .unwrap();
    eventually("the stalled body is read", || budget_held(&server) == 1);
    server.send_sigterm().unwrap();
    let draining = log
        .iter()
        .find(|line| line.contains("shutting down"))
        .is_some();
    assert!(draining, "the first signal starts the drain");
    std::thread::sleep(Duration::from_millis(200));
    assert!(server.exited().unwrap().is_none(), "draining, not gone");
    server.send_sigterm().unwrap();
    let mut status = None;
    eventually("exited after the second signal", || {
        status = server.exited().unwrap();
        status.is_some()
    });
    assert_eq!(status.and_then(|s| s.code()), Some(130), "{status:?}");
    drop(stalled);
}

/// A journal that cannot be opened stops the receiver before it listens,
/// naming the file.
#[test]
fn a_journal_that_cannot_be_opened_is_named() {
    // On PostgreSQL: tests/postgres.rs::bad_urls_and_refused_passwords_are_clear_errors_without_the_password
    // (a database that cannot be reached stops it at start, exit 2).
    if file_journal_only("the journal's path in the error") {
        return;
    }
    let dir = scratch("unopenable", CONFIG);
    let journal = dir.join("missing").join("events.ndjson");
    let output = std::process::Command::new(SWITCHBOARD)
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--config"])
        .arg(dir.join("switchboard.toml"))
        .arg("--out")
        .arg(&journal)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("opening the journal {}", journal.display())),
        "{stderr}"
    );
}

/// Each request's log line names the peer, and the event's id once one is
/// accepted.
#[test]
fn request_lines_carry_the_peer_and_the_event_id() {
    let dir = scratch("log-lines", CONFIG);
    let (server, log) = start_logged(&dir, &[]);
    let headers = signed(&config(), "varda", VARDA_BODY);
    let (status, answer) = post(&server, "/webhooks/varda", &headers, VARDA_BODY);
    assert_eq!(status, 200, "{answer}");
    let id = answer["id"].as_str().unwrap();
    let line = std::iter::from_fn(|| log.recv_timeout(Duration::from_secs(10)).ok())
        .find(|line| line.contains("status=200"))
        .expect("the request's line");
    assert!(
        line.contains("peer=127.0.0.1:") && line.contains(&format!("id=\"{id}\"")),
        "{line}"
    );
    stop(server);
}

/// `--log-format json`: one JSON object per line, with the request line's
/// fields (the reason among them) as members.
#[test]
fn json_log_lines_carry_the_same_fields() {
    let dir = scratch("log-json", CONFIG);
    let (server, log) = start_logged(&dir, &["--log-format", "json"]);
    let (status, _) = post(&server, "/webhooks/varda", &[], VARDA_BODY);
    assert_eq!(status, 401);
    let line = std::iter::from_fn(|| log.recv_timeout(Duration::from_secs(10)).ok())
        .find(|line| line.contains("/webhooks/varda"))
        .expect("the request's line");
    let fields: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(fields["message"], "request", "{line}");
    assert_eq!(fields["level"], "INFO", "{line}");
    assert_eq!(fields["status"], 401, "{line}");
    assert_eq!(fields["reason"], "missing-header", "{line}");
    assert!(
        fields["peer"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{line}"
    );
    stop(server);
}

/// `--log-level warn` leaves the request lines out (and overrides
/// `RUST_LOG`); a level that does not parse is a usage error.
#[test]
fn the_log_level_is_chosen_on_the_command_line() {
    let dir = scratch("log-level", CONFIG);
    let port = ports::unused_loopback_port();
    let listen = format!("127.0.0.1:{port}");
    let log = dir.join("stderr.log");
    let mut child = std::process::Command::new(SWITCHBOARD)
        .args([
            "serve",
            "--listen",
            &listen,
            "--log-level",
            "warn",
            "--config",
        ])
        .arg(dir.join("switchboard.toml"))
        .args(store_flags(&dir))
        .env("RUST_LOG", "debug")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let address: SocketAddr = listen.parse().unwrap();
    eventually("the receiver answers", || {
        http::request(address, "GET", "/healthz", &[], b"").is_ok_and(|r| r.status == 200)
    });
    let response = http::request(address, "POST", "/webhooks/varda", &[], VARDA_BODY).unwrap();
    assert_eq!(response.status, 401);
    let _ = std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status();
    assert!(child.wait().unwrap().success());
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(!logged.contains("request"), "{logged}");
    assert!(!logged.contains("DEBUG"), "{logged}");

    let output = std::process::Command::new(SWITCHBOARD)
        .args(["serve", "--log-level", "loud=[", "--config"])
        .arg(dir.join("switchboard.toml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--log-level loud=["), "{stderr}");
}
