//! `switchboard serve` on an ephemeral port: one signed request per vendor,
//! every refusal class, a redelivery, a restart, and the server still serving
//! after each.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

#[path = "support/http.rs"]
mod http;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use switchboard_core::{Config, SignInput};

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

struct Server {
    child: Child,
    address: SocketAddr,
}

impl Server {
    fn start(dir: &Path) -> Server {
        Server::start_with(dir, &dir.join("events.ndjson"), &[])
    }

    fn start_with(dir: &Path, journal: &Path, extra: &[String]) -> Server {
        let mut args: Vec<std::ffi::OsString> =
            ["--listen", "127.0.0.1:0", "--read-timeout", "2", "--config"]
                .map(Into::into)
                .to_vec();
        args.extend([
            dir.join("switchboard.toml").into(),
            "--out".into(),
            journal.into(),
        ]);
        args.extend(extra.iter().map(Into::into));
        let (child, address) = http::start_receiver(SWITCHBOARD, &args).unwrap();
        Server { child, address }
    }

    fn post(&self, path: &str, headers: &[(String, String)], body: &[u8]) -> (u16, Value) {
        let response = http::request(self.address, "POST", path, headers, body).unwrap();
        let body = serde_json::from_str(&response.body).unwrap_or(Value::Null);
        (response.status, body)
    }

    fn healthy(&self) -> bool {
        http::request(self.address, "GET", "/healthz", &[], b"").is_ok_and(|r| r.status == 200)
    }

    fn terminate(mut self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        assert!(
            self.child.wait().unwrap().success(),
            "a clean exit after SIGTERM"
        );
    }
}

impl Drop for Server {
    /// A failing test must not leave its server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

fn signed(config: &Config, vendor: &str, body: &[u8]) -> Vec<(String, String)> {
    let settings = &config.vendors[vendor];
    let input = SignInput {
        body,
        timestamp: now(),
        id: "msg_serve_test",
    };
    switchboard_core::sign(vendor, &settings.scheme, &settings.secrets[0], input).unwrap()
}

fn journal_lines(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("events.ndjson"))
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("switchboard-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("switchboard.toml"), CONFIG).unwrap();
    dir
}

#[test]
fn the_receiver_acknowledges_only_what_it_wrote() {
    let dir = scratch();
    let config: Config = toml::from_str(CONFIG).unwrap();
    let server = Server::start(&dir);

    let samples: [(&str, &[u8]); 4] = [
        ("varda", br#"{"event":"call.ended","timestamp":"2026-03-25T18:35:00Z","data":{"id":42}}"#),
        ("openphone", br#"{"id":"EVserve1","object":"event","apiVersion":"v3","createdAt":"2022-01-24T19:22:25.427Z","type":"call.completed","data":{"object":{"id":"ACserve","object":"call","status":"completed","direction":"incoming","phoneNumberId":"PNserve"}}}"#),
        ("atoms", br#"{"event":"call.start","timestamp":"2024-07-15T14:30:00Z","agent_id":"agent_1","call_id":"call_1","call_direction":"inbound","caller_phone":"+15551234567","agent_phone":"+15559876543"}"#),
        ("opencx", br#"{"event":"conversation.started","organization_id":"org_1","data":{"conversation_id":"conv_1","channel":"web","timestamp":"2026-04-14T14:00:00Z"}}"#),
    ];
    for (vendor, body) in samples {
        let (status, answer) = server.post("/webhooks", &signed(&config, vendor, body), body);
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

    let (vendor, body) = samples[0];
    let headers = signed(&config, vendor, body);
    let mut tampered = body.to_vec();
    tampered[30] ^= 1;
    type Refusal<'a> = (&'a str, Vec<(String, String)>, Vec<u8>, u16, &'a str);
    let refusals: Vec<Refusal<'_>> = vec![
        (
            "/webhooks/varda",
            headers.clone(),
            tampered,
            401,
            "unauthenticated",
        ),
        (
            "/webhooks/varda",
            signed(&config, "varda", b"not json"),
            b"not json".to_vec(),
            400,
            "malformed",
        ),
        (
            "/webhooks/nosuchvendor",
            headers.clone(),
            body.to_vec(),
            404,
            "unknown-vendor",
        ),
        (
            "/webhooks/varda",
            signed(&config, "varda", &[b' '; 10_000]),
            vec![b' '; 10_000],
            413,
            "too-large",
        ),
    ];
    for (path, headers, body, status, class) in refusals {
        let (got, answer) = server.post(path, &headers, &body);
        assert_eq!(got, status, "{path} {class}: {answer}");
        assert_eq!(answer["error"], class, "{answer}");
        assert!(answer["message"].is_string(), "{answer}");
        assert!(server.healthy(), "still serving after {class}");
    }

    // A client that stops sending half-way through its body is cut off.
    {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(server.address).unwrap();
        stream
            .write_all(b"POST /webhooks/varda HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"event\"")
            .unwrap();
        let started = std::time::Instant::now();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 408"), "{response}");
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        assert!(server.healthy(), "still serving after a stalled client");
    }

    let (status, answer) = server.post("/webhooks/varda", &headers, body);
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

    let metrics = http::request(server.address, "GET", "/metrics", &[], b"").unwrap();
    assert!(
        metrics.body.contains(
            r#"switchboard_requests_total{vendor="varda",type="call.ended",outcome="duplicate"} 1"#
        ),
        "{}",
        metrics.body
    );
    assert!(
        metrics.body.contains("switchboard_sink_events_total 4"),
        "{}",
        metrics.body
    );
    server.terminate();

    // After a restart the journal still knows what it holds.
    let server = Server::start(&dir);
    let (status, answer) = server.post("/webhooks/varda", &headers, body);
    assert_eq!(
        (status, &answer["duplicate"]),
        (200, &Value::Bool(true)),
        "{answer}"
    );
    assert_eq!(journal_lines(&dir).len(), 4);
    server.terminate();
}

/// A journal that cannot be written (`/dev/full`): the vendor hears 503, so
/// it retries, never a 200.
#[test]
fn a_failed_journal_write_is_a_503() {
    let dir = std::env::temp_dir().join(format!("switchboard-full-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("switchboard.toml"), CONFIG).unwrap();
    let server = Server::start_with(&dir, Path::new("/dev/full"), &[]);
    let config: Config = toml::from_str(CONFIG).unwrap();
    let body = br#"{"event":"contact.created","data":{"id":1}}"#;
    let (status, answer) = server.post("/webhooks/varda", &signed(&config, "varda", body), body);
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"], "unavailable");
    assert!(server.healthy());
    server.terminate();
}

#[test]
fn events_are_forwarded_after_a_refusal() {
    let dir = std::env::temp_dir().join(format!("switchboard-forward-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("switchboard.toml"), CONFIG).unwrap();
    // The downstream refuses the first delivery (503), then accepts.
    let (downstream, received) = http::downstream(|attempt| match attempt {
        0 => "503 Service Unavailable",
        _ => "202 Accepted",
    });
    let forward = [
        "--forward".to_owned(),
        format!("http://{downstream}/ingest"),
    ];
    let server = Server::start_with(&dir, &dir.join("events.ndjson"), &forward);

    let config: Config = toml::from_str(CONFIG).unwrap();
    let body = br#"{"event":"contact.created","timestamp":"2026-03-25T18:29:58Z","data":{"id":456,"name":"Jane Doe"}}"#;
    let (status, answer) = server.post("/webhooks/varda", &signed(&config, "varda", body), body);
    assert_eq!(
        status, 200,
        "acknowledged once spooled, whatever the downstream does: {answer}"
    );
    let refused = received
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("a first delivery");
    assert_eq!(refused.attempt, 0);
    let http::Received {
        head,
        body: forwarded,
        ..
    } = received
        .recv_timeout(std::time::Duration::from_secs(20))
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
    server.terminate();
}
