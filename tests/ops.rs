//! The operator's commands against a running receiver on loopback: the
//! refusal log (its reasons, its caps, its redactions), `switchboard
//! replay` through `POST /replay` (once, then duplicate; a dry run writes
//! nothing; browsers and bad input refused), `tail` (history, filters,
//! following a receiver, torn lines) and `forward --from` to a downstream.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

#[path = "support/http.rs"]
#[allow(dead_code)] // shared with the other suites
mod http;
#[path = "support/receiver.rs"]
#[allow(dead_code)] // shared with the other suites
mod receiver;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use receiver::Receiver;
use serde_json::Value;
use switchboard_core::{Config, SignInput};

const SWITCHBOARD: &str = env!("CARGO_BIN_EXE_switchboard");

/// The secret the sender signs with.
const VARDA_SECRET: &str = "ops-varda";

fn config_text(varda_secret: &str) -> String {
    format!(
        r#"
body_limit = 4096

[vendors.varda]
secrets = ["{varda_secret}"]

[vendors.opencx]
secrets = ["ops-opencx-token"]
scheme = {{ type = "shared-secret", header = "X-OpenCX-Token" }}
"#
    )
}

/// A fresh directory for one test, with a configuration whose Varda secret
/// is `varda_secret`.
fn scratch(test: &str, varda_secret: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("switchboard-ops-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    write_config(&dir, varda_secret);
    dir
}

fn write_config(dir: &Path, varda_secret: &str) {
    std::fs::write(dir.join("switchboard.toml"), config_text(varda_secret)).unwrap();
}

fn journal(dir: &Path) -> PathBuf {
    dir.join("events.ndjson")
}

fn refused(dir: &Path) -> PathBuf {
    dir.join("events.ndjson.refused")
}

fn start(dir: &Path, extra: &[&str]) -> Receiver {
    Receiver::start(
        SWITCHBOARD,
        &dir.join("switchboard.toml"),
        &journal(dir),
        extra,
    )
    .unwrap()
}

fn now() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(since.as_secs()).unwrap()
}

/// A Varda body numbered `n` (a distinct event each).
fn varda_body(n: u32) -> Vec<u8> {
    format!(
        r#"{{"event":"contact.created","timestamp":"2026-03-25T18:29:58Z","data":{{"id":{n}}}}}"#
    )
    .into_bytes()
}

/// `body` signed for Varda with the sender's secret, now.
fn varda_headers(body: &[u8]) -> Vec<(String, String)> {
    let config: Config = toml::from_str(&config_text(VARDA_SECRET)).unwrap();
    let settings = &config.vendors["varda"];
    let input = SignInput {
        body,
        timestamp: now(),
        id: "msg_ops",
    };
    switchboard_core::sign("varda", &settings.scheme, &settings.secrets[0], input).unwrap()
}

/// Posts Varda event `n`: the status and the answer.
fn post_varda(server: &Receiver, n: u32) -> (u16, Value) {
    let body = varda_body(n);
    let response = server
        .post("/webhooks/varda", &varda_headers(&body), &body)
        .unwrap();
    let answer = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    (response.status, answer)
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Runs `switchboard args...`.
fn switchboard(args: &[&str]) -> Output {
    Command::new(SWITCHBOARD)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Polls until `ready` holds, for at most 10 s.
fn eventually(what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < Duration::from_secs(10), "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn receiver_url(server: &Receiver) -> String {
    format!("http://{}", server.address)
}

#[test]
fn a_refused_delivery_is_kept_and_replayed_once_after_the_secret_is_fixed() {
    let dir = scratch("replay", "a-wrong-secret");
    let server = start(&dir, &[]);
    let (status, answer) = post_varda(&server, 1);
    assert_eq!(status, 401, "{answer}");
    eventually("the refusal is kept", || lines(&refused(&dir)).len() == 1);
    let record = &lines(&refused(&dir))[0];
    assert_eq!(record["class"], "unauthenticated");
    assert_eq!(record["reason"], "no-match", "a wrong secret: {record}");
    assert_eq!(record["vendor"], "varda");
    assert_eq!(record["status"], 401);
    assert!(record["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(record["body"], String::from_utf8(varda_body(1)).unwrap());
    let received_at = record["received_at"].as_i64().unwrap();
    assert!((now() - received_at).abs() < 60, "{record}");
    let headers = record["headers"].to_string();
    assert!(headers.contains(r#"["x-varda-signature","t="#), "{headers}");
    stop(server);

    // The operator fixes the secret and restarts the receiver.
    write_config(&dir, VARDA_SECRET);
    let server = start(&dir, &[]);
    let url = receiver_url(&server);
    let out = journal(&dir);
    let out = out.to_str().unwrap();

    let dry = switchboard(&["replay", "--receiver", &url, "--out", out, "--dry-run"]);
    let (stdout, stderr) = text(&dry);
    assert!(dry.status.success(), "{stdout}{stderr}");
    assert!(stdout.starts_with("would-accept"), "{stdout}");
    assert!(stdout.contains("1 would be accepted"), "{stdout}");
    assert!(lines(&journal(&dir)).is_empty(), "a dry run writes nothing");

    let first = switchboard(&["replay", "--receiver", &url, "--out", out]);
    let (stdout, stderr) = text(&first);
    assert!(first.status.success(), "{stdout}{stderr}");
    assert!(stdout.starts_with("accepted"), "{stdout}");
    assert!(stdout.contains("events.ndjson.refused:1"), "{stdout}");
    assert!(stdout.contains("1 accepted, 0 duplicate"), "{stdout}");
    let events = lines(&journal(&dir));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "contact.created");

    let second = switchboard(&["replay", "--receiver", &url, "--out", out]);
    let (stdout, stderr) = text(&second);
    assert!(second.status.success(), "{stdout}{stderr}");
    assert!(stdout.starts_with("duplicate"), "{stdout}");
    assert!(stdout.contains("0 accepted, 1 duplicate"), "{stdout}");
    assert_eq!(lines(&journal(&dir)).len(), 1, "written exactly once");
    // Replays are not refusals of their own.
    assert_eq!(lines(&refused(&dir)).len(), 1);

    // Filters: nothing refused for another reason, or later.
    let filtered = switchboard(&[
        "replay",
        "--receiver",
        &url,
        "--out",
        out,
        "--reason",
        "malformed",
        "--since",
        &(now() + 3600).to_string(),
    ]);
    let (stdout, _) = text(&filtered);
    assert!(filtered.status.success(), "{stdout}");
    assert!(
        stdout.contains("0 deliveries") && stdout.contains("(1 filtered out)"),
        "{stdout}"
    );
    stop(server);
}

/// `now` is the time the delivery was received: a fixture signed months
/// ago is accepted at its own `now`, refused at the wall clock's.
#[test]
fn a_delivery_is_verified_at_the_time_it_was_received() {
    let dir = scratch("received-at", "vk_live_2026_primary_7Hq2");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/varda/call-started.json");
    let fixture = fixture.to_str().unwrap();
    let server = start(&dir, &[]);
    let url = receiver_url(&server);
    let replayed = switchboard(&["replay", "--receiver", &url, fixture]);
    let (stdout, stderr) = text(&replayed);
    assert!(replayed.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("call.started"), "{stdout}");
    assert_eq!(lines(&journal(&dir))[0]["type"], "call.started");

    // The same request captured without its time: verified now, too old.
    let delivery: Value = serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    let capture = serde_json::json!({"headers": delivery["request"]["headers"], "body": delivery["request"]["body"]});
    let path = dir.join("captured.ndjson");
    std::fs::write(&path, format!("{capture}\nnot json\n")).unwrap();
    let replayed = switchboard(&["replay", "--receiver", &url, path.to_str().unwrap()]);
    let (stdout, _) = text(&replayed);
    assert_eq!(replayed.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("refused       "), "{stdout}");
    assert!(stdout.contains("unauthenticated/"), "{stdout}");
    assert!(
        stdout.contains("unreadable    ") && stdout.contains("captured.ndjson:2"),
        "{stdout}"
    );

    // process --request reads the same formats: the fixture, at its now.
    let config = dir.join("switchboard.toml");
    let processed = switchboard(&[
        "process",
        "--config",
        config.to_str().unwrap(),
        "--request",
        fixture,
    ]);
    let (stdout, stderr) = text(&processed);
    assert!(processed.status.success(), "{stderr}");
    let event: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(event["type"], "call.started");
    // ... and one capture line, at the wall clock.
    std::fs::write(&path, format!("{capture}\n")).unwrap();
    let processed = switchboard(&[
        "process",
        "--config",
        config.to_str().unwrap(),
        "--request",
        path.to_str().unwrap(),
    ]);
    assert_eq!(
        processed.status.code(),
        Some(3),
        "unauthenticated: too old now"
    );
    std::fs::write(&path, format!("{capture}\n{capture}\n")).unwrap();
    let processed = switchboard(&[
        "process",
        "--config",
        config.to_str().unwrap(),
        "--request",
        path.to_str().unwrap(),
    ]);
    let (_, stderr) = text(&processed);
    assert!(stderr.contains("more than one delivery"), "{stderr}");
    stop(server);
}

#[test]
fn secrets_never_reach_the_refusal_log() {
    let dir = scratch("redact", VARDA_SECRET);
    let server = start(&dir, &[]);
    let body = br#"{"event":"conversation.started","organization_id":"org_1","data":{"conversation_id":"c1"}}"#;
    let headers: Vec<(String, String)> = [
        // A wrong token, and the configured one under another name.
        ("X-OpenCX-Token", "not-the-token"),
        ("X-Copied", "ops-opencx-token"),
        ("Authorization", "Bearer abc"),
        ("Cookie", "session=1"),
        ("X-Varda-Signature", "t=1,v1=00"),
    ]
    .map(|(n, v)| (n.to_owned(), v.to_owned()))
    .to_vec();
    let response = server.post("/webhooks/opencx", &headers, body).unwrap();
    assert_eq!(response.status, 401, "{}", response.body);
    eventually("the refusal is kept", || lines(&refused(&dir)).len() == 1);
    let text = std::fs::read_to_string(refused(&dir)).unwrap();
    assert!(
        !text.contains("ops-opencx-token") && !text.contains("Bearer"),
        "{text}"
    );
    let record: Value = serde_json::from_str(text.trim()).unwrap();
    let kept: Vec<(String, String)> = serde_json::from_value(record["headers"].clone()).unwrap();
    let value = |name: &str| {
        kept.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap()
    };
    for name in ["x-opencx-token", "x-copied", "authorization", "cookie"] {
        assert_eq!(value(name), "[redacted]", "{name}");
    }
    assert_eq!(
        value("x-varda-signature"),
        "t=1,v1=00",
        "signatures are kept"
    );
    stop(server);
}

#[test]
fn the_refusal_log_keeps_only_processed_deliveries_within_its_caps() {
    let dir = scratch("caps", "a-wrong-secret");
    let server = start(
        &dir,
        &[
            "--refused-max-deliveries",
            "4",
            "--refused-max-bytes",
            "100000",
        ],
    );
    // Not processed: no route, wrong method, over the body limit.
    assert_eq!(server.send("POST", "/nowhere").unwrap().status, 404);
    assert_eq!(server.send("GET", "/webhooks/varda").unwrap().status, 405);
    let big = vec![b'x'; 5000];
    assert_eq!(
        server.post("/webhooks/varda", &[], &big).unwrap().status,
        413
    );
    for n in 0..7 {
        assert_eq!(post_varda(&server, n).0, 401);
    }
    let kept = |metrics: &str| metrics.contains("switchboard_refusals_kept_total 7\n");
    eventually("seven kept", || kept(&server.metrics().unwrap()));
    let metrics = server.metrics().unwrap();
    assert!(
        metrics.contains("switchboard_refusals_dropped_total 0\n"),
        "{metrics}"
    );
    let current = lines(&refused(&dir));
    let older = lines(&dir.join("events.ndjson.refused.1"));
    assert!(
        current.len() + older.len() <= 4,
        "{} + {}",
        current.len(),
        older.len()
    );
    // The newest is kept, in order.
    let last = current.last().unwrap()["body"].as_str().unwrap().to_owned();
    assert!(last.contains(r#""id":6"#), "{last}");
    assert_eq!(older.len(), 2);
    stop(server);

    // Bytes: each record is about 600 bytes; two generations of 1000.
    let dir = scratch("caps-bytes", "a-wrong-secret");
    let server = start(&dir, &["--refused-max-bytes", "2048"]);
    for n in 0..6 {
        assert_eq!(post_varda(&server, n).0, 401);
    }
    eventually("six handled", || {
        let metrics = server.metrics().unwrap();
        metrics.contains("switchboard_refusals_kept_total 6\n")
    });
    let bytes = |path: PathBuf| std::fs::metadata(path).map_or(0, |m| m.len());
    let total = bytes(refused(&dir)) + bytes(dir.join("events.ndjson.refused.1"));
    assert!(total <= 2048, "{total} bytes");
    stop(server);

    // Off: nothing kept.
    let dir = scratch("caps-off", "a-wrong-secret");
    let server = start(&dir, &["--no-keep-refused"]);
    assert_eq!(post_varda(&server, 1).0, 401);
    assert!(!server.metrics().unwrap().contains("switchboard_refusals"));
    stop(server);
    assert!(!refused(&dir).exists());
}

#[test]
fn replay_refuses_browsers_bad_input_and_says_when_the_receiver_is_gone() {
    let dir = scratch("replay-refusals", VARDA_SECRET);
    let server = start(&dir, &[]);
    // A browser page (Origin) may not use the admin route.
    let capture = serde_json::json!({"headers": [], "body": "{}"}).to_string();
    let origin = [("Origin".to_owned(), "http://evil.example".to_owned())];
    let response = server.post("/replay", &origin, capture.as_bytes()).unwrap();
    assert_eq!(response.status, 403, "{}", response.body);
    assert!(response.body.contains("\"forbidden\""), "{}", response.body);
    // Each line has its answer; a bad one does not stop the others.
    let body = varda_body(1);
    let good = serde_json::json!({
        "headers": varda_headers(&body),
        "body": String::from_utf8(body).unwrap(),
        "vendor": "varda",
    });
    let request = format!("{{not json\n{good}\n\n{capture}\n");
    let response = server.post("/replay", &[], request.as_bytes()).unwrap();
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(
        response.header("content-type"),
        Some("application/x-ndjson")
    );
    let results: Vec<Value> = response
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), 3, "{results:?}");
    assert_eq!(results[0]["outcome"], "not-run");
    assert_eq!(results[0]["code"], "bad-request");
    assert!(
        results[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("line 1: ")
    );
    assert_eq!(results[1]["outcome"], "accepted");
    assert_eq!(results[2]["outcome"], "refused");
    assert_eq!(results[2]["class"], "unknown-vendor");
    // Too many deliveries in one request: none run.
    let many = format!("{capture}\n").repeat(1001);
    let response = server.post("/replay", &[], many.as_bytes()).unwrap();
    assert_eq!(response.status, 413, "{}", response.body);

    // A corrupt refusal log line is reported with its place; the rest run.
    let log = dir.join("other.ndjson.refused");
    std::fs::write(&log, format!("{good}\n{{\"headers\":\n")).unwrap();
    let url = receiver_url(&server);
    let out = dir.join("other.ndjson");
    let replayed = switchboard(&["replay", "--receiver", &url, "--out", out.to_str().unwrap()]);
    let (stdout, _) = text(&replayed);
    assert_eq!(replayed.status.code(), Some(1), "{stdout}");
    let printed: Vec<&str> = stdout.lines().collect();
    assert!(
        printed[0].starts_with("duplicate") && printed[0].contains("other.ndjson.refused:1"),
        "{stdout}"
    );
    assert!(
        printed[1].starts_with("unreadable") && printed[1].contains("other.ndjson.refused:2"),
        "{stdout}"
    );
    stop(server);

    // No receiver: a clear error, not a hang.
    let replayed = switchboard(&["replay", "--receiver", &url, log.to_str().unwrap()]);
    let (_, stderr) = text(&replayed);
    assert_eq!(replayed.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot reach the receiver"), "{stderr}");
    // No such source, no refusal log.
    let missing = switchboard(&["replay", "--receiver", &url, "/nonexistent/x.ndjson"]);
    assert!(
        text(&missing).1.contains("/nonexistent/x.ndjson"),
        "{:?}",
        text(&missing)
    );
    let none = switchboard(&["replay", "--out", "/nonexistent/events.ndjson"]);
    assert!(
        text(&none).1.contains("no refusal log"),
        "{:?}",
        text(&none)
    );
}

#[test]
fn tail_prints_history_with_filters_and_follows_a_running_receiver() {
    let dir = scratch("tail", VARDA_SECRET);
    let server = start(&dir, &[]);
    for n in 0..3 {
        assert_eq!(post_varda(&server, n).0, 200);
    }
    let out = journal(&dir);
    let out = out.to_str().unwrap();
    let tail = |args: &[&str]| {
        let mut all = vec!["tail", "--out", out, "--no-follow"];
        all.extend(args);
        let output = switchboard(&all);
        assert!(output.status.success(), "{:?}", text(&output));
        text(&output).0
    };
    // Not a terminal: the JSON lines themselves.
    let last = tail(&["-n", "1"]);
    assert_eq!(last.lines().count(), 1, "{last}");
    let event: Value = serde_json::from_str(last.trim()).unwrap();
    assert_eq!(event["subject"], "2", "{event}");
    assert_eq!(tail(&["--from-start"]).lines().count(), 3);
    assert_eq!(
        tail(&["--from-start", "--type", "contact.*"])
            .lines()
            .count(),
        3
    );
    assert_eq!(
        tail(&["--from-start", "--vendor", "atoms"]).lines().count(),
        0
    );
    let pretty = tail(&["-n", "2", "--format", "pretty"]);
    assert_eq!(pretty.lines().count(), 2);
    assert!(
        pretty
            .lines()
            .all(|l| l.contains("  varda  ") && l.contains("contact.created")),
        "{pretty}"
    );

    // Following: a new event appears as the receiver journals it.
    let mut follower = Command::new(SWITCHBOARD)
        .args(["tail", "--out", out, "-n", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut followed = BufReader::new(follower.stdout.take().unwrap()).lines();
    // The history first; following goes on from where it ended.
    let history: Value = serde_json::from_str(&followed.next().unwrap().unwrap()).unwrap();
    assert_eq!(history["subject"], "2", "{history}");
    assert_eq!(post_varda(&server, 3).0, 200);
    let line = followed.next().unwrap().unwrap();
    let event: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["subject"], "3", "{event}");
    Command::new("kill")
        .arg("-TERM")
        .arg(follower.id().to_string())
        .status()
        .unwrap();
    assert!(
        follower.wait().unwrap().success(),
        "a clean exit on SIGTERM"
    );

    // The refusal log, with --refused.
    let body = varda_body(9);
    let response = server
        .post(
            "/webhooks/varda",
            &[("X-Varda-Signature".to_owned(), "t=1,v1=00".to_owned())],
            &body,
        )
        .unwrap();
    assert_eq!(response.status, 401);
    eventually("kept", || lines(&refused(&dir)).len() == 1);
    let refusals = tail(&["--refused", "--format", "pretty"]);
    assert!(refusals.contains("unauthenticated/"), "{refusals}");
    assert_eq!(
        tail(&["--refused", "--reason", "malformed"])
            .lines()
            .count(),
        0
    );
    stop(server);
}

#[test]
fn tail_prints_complete_lines_only_and_skips_what_is_not_json() {
    let dir = scratch("tail-torn", VARDA_SECRET);
    let path = journal(&dir);
    std::fs::write(
        &path,
        "{\"id\":\"1\",\"type\":\"a\"}\nnot json\n{\"id\":\"2\",\"type\":\"a\"}\n{\"id\":\"3\",\"ty",
    )
    .unwrap();
    let output = switchboard(&[
        "tail",
        "--out",
        path.to_str().unwrap(),
        "--from-start",
        "--no-follow",
    ]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        stdout,
        "{\"id\":\"1\",\"type\":\"a\"}\n{\"id\":\"2\",\"type\":\"a\"}\n"
    );
    assert!(stderr.contains("not JSON"), "{stderr}");

    // Following: the torn line is printed once it is complete; a closed
    // pipe ends the follower cleanly.
    let mut follower = Command::new(SWITCHBOARD)
        .args(["tail", "--out", path.to_str().unwrap(), "-n", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut followed = BufReader::new(follower.stdout.take().unwrap()).lines();
    assert_eq!(
        followed.next().unwrap().unwrap(),
        "{\"id\":\"2\",\"type\":\"a\"}"
    );
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(b"pe\":\"a\"}\n").unwrap();
    assert_eq!(
        followed.next().unwrap().unwrap(),
        "{\"id\":\"3\",\"type\":\"a\"}"
    );
    drop(followed);
    file.write_all(b"{\"id\":\"4\"}\n").unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = follower.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still following a closed pipe"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");

    let missing = switchboard(&["tail", "--out", "/nonexistent/events.ndjson", "--no-follow"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing)
            .1
            .contains("no journal at /nonexistent/events.ndjson")
    );
}

#[test]
fn forward_from_sends_a_range_again_without_touching_the_offset() {
    let dir = scratch("forward-from", VARDA_SECRET);
    let server = start(&dir, &[]);
    let mut ids = Vec::new();
    for n in 0..4 {
        let (status, answer) = post_varda(&server, n);
        assert_eq!(status, 200, "{answer}");
        ids.push(answer["id"].as_str().unwrap().to_owned());
    }
    let (downstream, received) = http::downstream(|_| "202 Accepted");
    let to = format!("http://{downstream}/ingest");
    let out = journal(&dir);
    let out = out.to_str().unwrap();
    let sent = switchboard(&[
        "forward", "--out", out, "--from", &ids[1], "--until", &ids[2], "--to", &to,
    ]);
    let (stdout, stderr) = text(&sent);
    assert!(sent.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("2 events sent") && stdout.contains("2 accepted"),
        "{stdout}"
    );
    for id in &ids[1..3] {
        let request = received.recv_timeout(Duration::from_secs(5)).unwrap();
        let event: Value = serde_json::from_str(&request.body).unwrap();
        assert_eq!(event["id"], id.as_str());
        assert!(request.head.contains("application/cloudevents+json"));
    }
    assert!(
        received.recv_timeout(Duration::from_millis(100)).is_err(),
        "only the range"
    );
    assert!(!dir.join("events.ndjson.forwarded").exists());
    assert!(!dir.join("events.ndjson.dead").exists());

    // From a time (every event here has the same one), to the end; a
    // downstream that refuses: counted, exit 1, nothing dead-lettered.
    let (downstream, _received) =
        http::downstream(|n| if n == 0 { "400 Bad Request" } else { "200 OK" });
    let to = format!("http://{downstream}/ingest");
    let sent = switchboard(&[
        "forward",
        "--out",
        out,
        "--from",
        "2026-03-25T18:00:00Z",
        "--to",
        &to,
    ]);
    let (stdout, stderr) = text(&sent);
    assert_eq!(sent.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("4 events sent") && stdout.contains("3 accepted, 1 refused"),
        "{stdout}"
    );
    assert!(!dir.join("events.ndjson.dead").exists());

    // An id that is not there: nothing sent.
    let sent = switchboard(&[
        "forward",
        "--out",
        out,
        "--from",
        "sha256:nope",
        "--to",
        &to,
    ]);
    assert_eq!(sent.status.code(), Some(2));
    assert!(
        text(&sent).1.contains("no event with the id"),
        "{:?}",
        text(&sent)
    );
    stop(server);
}

/// SIGTERM, and a clean exit.
fn stop(server: Receiver) {
    let status = server.terminate().unwrap();
    assert!(status.success(), "a clean exit after SIGTERM: {status}");
}
