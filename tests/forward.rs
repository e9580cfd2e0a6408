//! The receiver's journal and forwarder through the `switchboard` binary,
//! with a real downstream on loopback: one writer per journal, dedupe that
//! costs the same whatever a sender puts in an event, permanent refusals
//! dead-lettered, retries logged, the offset kept across restarts, and the
//! backlog counted in metrics and at shutdown.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

#[path = "support/http.rs"]
#[allow(dead_code)] // every receiver here is started with its log
mod http;
#[path = "support/ports.rs"]
mod ports;

use std::ffi::OsString;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use switchboard_core::{Config, SignInput};

const SWITCHBOARD: &str = env!("CARGO_BIN_EXE_switchboard");

const CONFIG: &str = r#"
body_limit = 300000

[vendors.varda]
secrets = ["forward-varda"]

[vendors.opencx]
scheme = { type = "none" }
"#;

const WAIT: Duration = Duration::from_secs(20);

struct Server {
    child: Child,
    address: SocketAddr,
    log: Receiver<String>,
}

impl Server {
    fn start(dir: &Path, extra: &[String]) -> Server {
        let (child, address, log) =
            http::start_receiver_logged(SWITCHBOARD, &args(dir, extra)).unwrap();
        Server {
            child,
            address,
            log,
        }
    }

    fn post(&self, path: &str, headers: &[(String, String)], body: &[u8]) -> Value {
        let response = http::request(self.address, "POST", path, headers, body).unwrap();
        assert_eq!(response.status, 200, "{}", response.body);
        serde_json::from_str(&response.body).unwrap()
    }

    /// Posts a signed Varda event numbered `n`; returns its id.
    fn post_varda(&self, n: u32) -> String {
        let body = format!(
            r#"{{"event":"contact.created","timestamp":"2026-03-25T18:29:58Z","data":{{"id":{n}}}}}"#
        );
        let answer = self.post("/webhooks/varda", &signed(body.as_bytes()), body.as_bytes());
        assert_eq!(answer["duplicate"], false, "{answer}");
        answer["id"].as_str().unwrap().to_owned()
    }

    fn metrics(&self) -> String {
        http::request(self.address, "GET", "/metrics", &[], b"")
            .unwrap()
            .body
    }

    /// Polls `/metrics` until it holds every one of `lines`.
    fn await_metrics(&self, lines: &[&str]) {
        let started = Instant::now();
        loop {
            let metrics = self.metrics();
            if lines.iter().all(|line| metrics.lines().any(|l| l == *line)) {
                return;
            }
            assert!(started.elapsed() < WAIT, "{lines:?} not in\n{metrics}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The next log line that contains every one of `parts`.
    fn await_log(&self, parts: &[&str]) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) if parts.iter().all(|p| line.contains(p)) => return line,
                Ok(_) => {}
                Err(e) => panic!("no log line with {parts:?}: {e}"),
            }
        }
    }

    /// SIGTERM, a clean exit, and the rest of its log.
    fn terminate(mut self) -> Vec<String> {
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
        self.log.iter().collect()
    }

    fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kib * 1024
    }
}

impl Drop for Server {
    /// A failing test must not leave its server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn args(dir: &Path, extra: &[String]) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["--listen", "127.0.0.1:0", "--read-timeout", "5", "--config"]
        .map(Into::into)
        .to_vec();
    args.extend([
        dir.join("switchboard.toml").into(),
        "--out".into(),
        journal(dir).into(),
    ]);
    args.extend(extra.iter().map(Into::into));
    args
}

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("switchboard-forward-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("switchboard.toml"), CONFIG).unwrap();
    dir
}

fn journal(dir: &Path) -> PathBuf {
    dir.join("events.ndjson")
}

fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    dir.join(format!("events.ndjson{suffix}"))
}

fn forward_to(downstream: SocketAddr) -> Vec<String> {
    vec![
        "--forward".to_owned(),
        format!("http://{downstream}/ingest"),
    ]
}

fn signed(body: &[u8]) -> Vec<(String, String)> {
    let config: Config = toml::from_str(CONFIG).unwrap();
    let varda = &config.vendors["varda"];
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let input = SignInput {
        body,
        timestamp: i64::try_from(now).unwrap(),
        id: "msg_forward_test",
    };
    switchboard_core::sign("varda", &varda.scheme, &varda.secrets[0], input).unwrap()
}

fn journal_lines(dir: &Path) -> usize {
    std::fs::read_to_string(journal(dir))
        .unwrap()
        .lines()
        .count()
}

fn offset(dir: &Path) -> u64 {
    std::fs::read_to_string(sibling(dir, ".forwarded"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn journal_bytes(dir: &Path) -> u64 {
    std::fs::metadata(journal(dir)).unwrap().len()
}

/// The id of the event a downstream received.
fn received_id(received: &Receiver<http::Received>) -> String {
    let request = received.recv_timeout(WAIT).expect("a forwarded event");
    assert!(
        request.head.starts_with("POST /ingest HTTP/1.1"),
        "{}",
        request.head
    );
    let event: Value = serde_json::from_str(&request.body).unwrap();
    event["id"].as_str().unwrap().to_owned()
}

/// A loopback port nothing listens on (below the ephemeral range, so that
/// no other test's `bind(…:0)` is handed it meanwhile).
fn closed_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], ports::unused_loopback_port()))
}

/// Finding 7: two receivers on one journal both accepted, and journaled the
/// same event twice.
#[test]
fn a_second_receiver_on_the_same_journal_refuses_to_start() {
    let dir = scratch("lock");
    let first = Server::start(&dir, &[]);

    let mut second = Command::new(SWITCHBOARD)
        .arg("serve")
        .args(args(&dir, &[]))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(second.stderr.take().unwrap());
    let mut lines = Vec::new();
    for line in stderr.lines().map_while(Result::ok) {
        let listening = line.contains("listening on");
        lines.push(line);
        if listening {
            let _ = second.kill();
            let _ = second.wait();
            panic!("the second receiver started:\n{}", lines.join("\n"));
        }
    }
    let log = lines.join("\n");
    let status = second.wait().unwrap();
    assert!(!status.success(), "{status}");
    assert!(
        log.contains(&journal(&dir).display().to_string()) && log.contains("another process"),
        "{log}"
    );

    // The first one was not disturbed.
    let id = first.post_varda(1);
    assert_eq!(journal_lines(&dir), 1);
    let text = std::fs::read_to_string(journal(&dir)).unwrap();
    assert!(text.contains(&id), "{text}");
    first.terminate();
}

/// Finding 9: the dedupe keys were the events' `source` and `id`, so an
/// OpenCX sender under `none` could make each remembered event cost as much
/// as its `organization_id`. Now the receiver's memory does not grow with
/// them, and their redeliveries are still recognised after a restart.
#[test]
fn dedupe_memory_does_not_grow_with_event_size_and_survives_a_restart() {
    let dir = scratch("dedupe");
    let server = Server::start(&dir, &[]);
    let body = |n: usize| {
        let organization = format!("{n:06}{}", "o".repeat(200_000));
        format!(
            r#"{{"event":"conversation.started","organization_id":"{organization}","data":{{"conversation_id":"c{n}","channel":"web","timestamp":"2026-04-14T14:00:00Z"}}}}"#
        )
        .into_bytes()
    };
    let send = |server: &Server, n: usize| server.post("/webhooks/opencx", &[], &body(n));
    // Warm up the instance, the allocator and the journal's buffers.
    for n in 0..30 {
        assert_eq!(send(&server, n)["duplicate"], false);
    }
    let before = server.rss_bytes();
    for n in 30..180 {
        assert_eq!(send(&server, n)["duplicate"], false);
    }
    let grown = server.rss_bytes().saturating_sub(before);
    // Keys holding the source would take 150 × 2 × 200 kB = 60 MB more.
    assert!(
        grown < 24 << 20,
        "{grown} bytes more for 150 events with 200 kB sources"
    );
    assert_eq!(send(&server, 179)["duplicate"], true);
    server.terminate();

    let server = Server::start(&dir, &[]);
    for n in [0, 100, 179] {
        assert_eq!(send(&server, n)["duplicate"], true, "event {n}");
    }
    assert_eq!(send(&server, 180)["duplicate"], false);
    assert_eq!(journal_lines(&dir), 181);
    server.terminate();
}

/// Finding 6: a downstream that refused one event for good (a 4xx) held
/// back every later event forever.
#[test]
fn a_permanent_refusal_is_dead_lettered_and_the_next_event_forwarded() {
    let dir = scratch("dead");
    let (downstream, received) = http::downstream_answering(|attempt| match attempt {
        0 => ("400 Bad Request", "no such tenant"),
        _ => ("202 Accepted", ""),
    });
    let server = Server::start(&dir, &forward_to(downstream));
    let refused = server.post_varda(1);
    assert_eq!(received_id(&received), refused);
    let next = server.post_varda(2);
    assert_eq!(received_id(&received), next, "forwarding went on");

    server.await_metrics(&[
        "switchboard_dead_letters_total 1",
        "switchboard_forwarded_total 1",
        "switchboard_forward_backlog_events 0",
        "switchboard_forward_backlog_bytes 0",
    ]);
    let dead = std::fs::read_to_string(sibling(&dir, ".dead")).unwrap();
    let letters: Vec<Value> = dead
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(letters.len(), 1, "{dead}");
    let letter = &letters[0];
    assert_eq!(letter["status"], 400, "{letter}");
    assert_eq!(letter["response"], "no such tenant", "{letter}");
    assert_eq!(letter["event"]["id"], refused.as_str(), "{letter}");
    assert_eq!(letter["event"]["type"], "contact.created", "{letter}");
    assert_eq!(letter["offset"], 0, "{letter}");
    assert!(
        letter["reason"].as_str().unwrap().contains("400"),
        "{letter}"
    );
    assert!(letter["time"].as_str().unwrap().ends_with('Z'), "{letter}");
    server.await_log(&["refused an event for good", &refused, "status=400"]);
    server.terminate();
}

/// Finding 6: a 503, then a 429, then a 2xx: the event is retried, never
/// dead-lettered, and each retry says which event, which attempt and when
/// the next one comes.
#[test]
fn temporary_refusals_are_retried_and_logged_with_the_event() {
    let dir = scratch("retry");
    let (downstream, received) = http::downstream(|attempt| match attempt {
        0 => "503 Service Unavailable",
        1 => "429 Too Many Requests",
        _ => "202 Accepted",
    });
    let server = Server::start(&dir, &forward_to(downstream));
    let id = server.post_varda(1);
    for _ in 0..3 {
        assert_eq!(received_id(&received), id);
    }
    assert!(
        received.recv_timeout(Duration::from_millis(300)).is_err(),
        "not sent again once accepted"
    );
    server.await_log(&[
        "forwarding failed; retrying",
        &format!("id=\"{id}\""),
        "attempt=1",
        "next_delay_ms=100",
        "503",
    ]);
    server.await_log(&[
        "forwarding failed; retrying",
        &format!("id=\"{id}\""),
        "attempt=2",
        "next_delay_ms=200",
        "429",
    ]);
    server.await_metrics(&[
        "switchboard_forwarded_total 1",
        "switchboard_forward_failures_total 2",
        "switchboard_dead_letters_total 0",
        "switchboard_forward_backlog_events 0",
    ]);
    assert!(!sibling(&dir, ".dead").exists());
    server.terminate();
}

/// Finding 6: the offset is where forwarding resumes after a restart, and
/// never past the journal; the backlog is counted in metrics and at
/// shutdown.
#[test]
fn forwarding_resumes_from_the_persisted_offset() {
    let dir = scratch("offset");
    let (downstream, received) = http::downstream(|_| "202 Accepted");
    let server = Server::start(&dir, &forward_to(downstream));
    let first = [server.post_varda(1), server.post_varda(2)];
    assert_eq!([received_id(&received), received_id(&received)], first);
    server.await_metrics(&["switchboard_forward_backlog_events 0"]);
    let log = server.terminate();
    assert!(
        log.iter()
            .any(|l| l.contains("forwarding stopped: 0 events not yet forwarded")),
        "{log:#?}"
    );
    assert_eq!(offset(&dir), journal_bytes(&dir));
    assert!(!sibling(&dir, ".forwarded.tmp").exists());

    // A downstream that is down: the event waits, and is counted.
    let server = Server::start(&dir, &forward_to(closed_port()));
    let third = server.post_varda(3);
    server.await_log(&["forwarding failed; retrying", &third, "attempt=2"]);
    let length = std::fs::read_to_string(journal(&dir))
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .len()
        + 1;
    server.await_metrics(&[
        "switchboard_forward_backlog_events 1",
        &format!("switchboard_forward_backlog_bytes {length}"),
    ]);
    let log = server.terminate();
    assert!(
        log.iter()
            .any(|l| l.contains("forwarding stopped: 1 events not yet forwarded")),
        "{log:#?}"
    );
    assert_eq!(offset(&dir) + length as u64, journal_bytes(&dir));

    // Back up: only the event left over is sent.
    let (downstream, received) = http::downstream(|_| "202 Accepted");
    let server = Server::start(&dir, &forward_to(downstream));
    assert_eq!(received_id(&received), third);
    server.await_metrics(&["switchboard_forward_backlog_events 0"]);
    assert!(
        received.recv_timeout(Duration::from_millis(500)).is_err(),
        "nothing sent twice"
    );
    server.terminate();
    assert_eq!(offset(&dir), journal_bytes(&dir));

    // An offset past the end of the journal (the journal was replaced):
    // everything is sent again rather than nothing ever.
    std::fs::write(sibling(&dir, ".forwarded"), "99999999\n").unwrap();
    let (downstream, received) = http::downstream(|_| "202 Accepted");
    let server = Server::start(&dir, &forward_to(downstream));
    let again: Vec<String> = (0..3).map(|_| received_id(&received)).collect();
    assert_eq!(
        again,
        [first[0].as_str(), first[1].as_str(), third.as_str()]
    );
    server.await_log(&["past the end of the journal"]);
    server.terminate();
    assert_eq!(offset(&dir), journal_bytes(&dir));
}
