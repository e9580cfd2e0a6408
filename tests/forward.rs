//! The receiver's journal through the `switchboard` binary: one writer per
//! journal, and dedupe that costs the same whatever a sender puts in an
//! event.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

#[path = "support/http.rs"]
#[allow(dead_code)] // every receiver here is started with its log
mod http;

use std::ffi::OsString;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{SystemTime, UNIX_EPOCH};

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
