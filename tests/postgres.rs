//! `switchboard serve --store postgres://…` against a real PostgreSQL
//! (started by the test harness, [`postgres`]), with real receivers:
//! replicas sharing one dedupe, `200` only once committed (a database
//! killed mid-run is `503` with `Retry-After`, and the receiver recovers
//! when it is back), the schema migrated idempotently and a newer one
//! refused, forwarding by two replicas with each event sent once and none
//! lost when one is killed, refusals kept in the database within the caps,
//! and the consumer's ordered read with `LISTEN`. Bad URLs and a refused
//! password are clear errors that never show the password.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

#[path = "support/http.rs"]
#[allow(dead_code)]
mod http;
#[path = "support/ports.rs"]
mod ports;
#[path = "support/postgres.rs"]
#[allow(dead_code)]
mod postgres;
#[path = "support/receiver.rs"]
#[allow(dead_code)]
mod receiver;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use postgres::{Cluster, GUARDED_PASSWORD, GUARDED_USER, eventually};
use receiver::Receiver;
use serde_json::Value;
use switchboard_core::{Config, SignInput};

const SWITCHBOARD: &str = env!("CARGO_BIN_EXE_switchboard");
const WAIT: Duration = Duration::from_secs(10);

const CONFIG: &str = r#"
[vendors.varda]
secrets = ["pg-varda"]
"#;

/// A directory for one test, holding the configuration.
fn scratch(test: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("switchboard-pgtest-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("switchboard.toml"), CONFIG).unwrap();
    dir
}

/// A test's own database on the shared cluster, its URL, and its scratch
/// directory.
struct Fresh {
    cluster: &'static Cluster,
    database: String,
    dir: PathBuf,
    url: String,
}

fn fresh(test: &str) -> Fresh {
    let cluster = postgres::shared();
    let database = cluster.database(test);
    let url = cluster.url(&database);
    Fresh {
        cluster,
        database,
        dir: scratch(test),
        url,
    }
}

fn start(dir: &Path, store: &str, extra: &[&str]) -> (Receiver, std::sync::mpsc::Receiver<String>) {
    Receiver::start_store(SWITCHBOARD, &dir.join("switchboard.toml"), store, extra).unwrap()
}

/// A signed Varda delivery numbered `n`.
fn varda(n: u32) -> (Vec<(String, String)>, Vec<u8>) {
    let body = format!(
        r#"{{"event":"contact.created","timestamp":"2026-03-25T18:29:58Z","data":{{"id":{n}}}}}"#
    );
    let config: Config = toml::from_str(CONFIG).unwrap();
    let settings = &config.vendors["varda"];
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let input = SignInput {
        body: body.as_bytes(),
        timestamp: i64::try_from(now).unwrap(),
        id: "msg_pg_test",
    };
    let headers =
        switchboard_core::sign("varda", &settings.scheme, &settings.secrets[0], input).unwrap();
    (headers, body.into_bytes())
}

/// Posts delivery `n`: the status, the JSON answer and the raw response.
fn post(receiver: &Receiver, n: u32) -> (u16, Value, http::Response) {
    let (headers, body) = varda(n);
    let response = receiver.post("/webhooks/varda", &headers, &body).unwrap();
    let answer = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    (response.status, answer, response)
}

fn accepted(receiver: &Receiver, n: u32) -> Value {
    let (status, answer, _) = post(receiver, n);
    assert_eq!(status, 200, "{answer}");
    answer
}

fn count(cluster: &Cluster, database: &str, sql: &str) -> i64 {
    cluster.sql(database, sql).unwrap()[0].parse().unwrap()
}

/// Every log line received so far.
fn drain(log: &std::sync::mpsc::Receiver<String>) -> String {
    log.try_iter().collect::<Vec<_>>().join("\n")
}

#[test]
fn replicas_share_one_dedupe() {
    let Fresh {
        cluster,
        database,
        dir,
        url,
    } = fresh("dedupe");
    let (a, _) = start(&dir, &url, &[]);
    let (b, _) = start(&dir, &url, &[]);
    let first = accepted(&a, 1);
    assert_eq!(first["duplicate"], false, "{first}");
    // The vendor's retry lands on the other replica.
    let again = accepted(&b, 1);
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(again["id"], first["id"]);
    // Sent to both at once, still written once.
    let (a, b) = (Arc::new(a), Arc::new(b));
    let racing: Vec<_> = [Arc::clone(&a), Arc::clone(&b)]
        .into_iter()
        .map(|receiver| std::thread::spawn(move || accepted(&receiver, 2)["duplicate"] == true))
        .collect();
    let duplicates: Vec<bool> = racing.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        duplicates.iter().filter(|&&d| d).count(),
        1,
        "{duplicates:?}"
    );
    assert_eq!(
        count(
            cluster,
            &database,
            "SELECT count(*) FROM switchboard_events"
        ),
        2
    );
    assert_eq!(
        count(
            cluster,
            &database,
            "SELECT count(*) FROM switchboard_outbox"
        ),
        2
    );
    let stored = cluster
        .sql(
            &database,
            "SELECT event::text FROM switchboard_events ORDER BY seq LIMIT 1",
        )
        .unwrap();
    let event: Value = serde_json::from_str(&stored[0]).unwrap();
    assert_eq!(event["id"], first["id"]);
    assert_eq!(event["type"], "contact.created");
}

#[test]
fn acknowledged_only_once_committed_and_recovered_without_a_restart() {
    let cluster = Cluster::start().unwrap();
    let database = cluster.database("durable");
    let dir = scratch("durable");
    // A password the server does not ask for (trust), which must never be
    // shown all the same.
    let url = format!(
        "postgres://postgres:never-shown-pw@127.0.0.1:{}/{database}",
        cluster.port
    );
    let (receiver, log) = start(&dir, &url, &[]);
    accepted(&receiver, 1);
    cluster.kill().unwrap();
    let (status, answer, response) = post(&receiver, 2);
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"], "unavailable", "{answer}");
    assert!(
        response.header("retry-after").is_some(),
        "{:?}",
        response.head
    );
    assert!(
        !response.body.contains("never-shown-pw"),
        "{}",
        response.body
    );
    // The receiver still answers, and recovers once the database is back.
    assert!(receiver.healthy());
    cluster.restart().unwrap();
    eventually(WAIT, "the receiver writes again", || {
        post(&receiver, 2).0 == 200
    });
    assert_eq!(accepted(&receiver, 2)["duplicate"], true);
    assert_eq!(
        accepted(&receiver, 1)["duplicate"],
        true,
        "event 1 survived the crash"
    );
    assert_eq!(
        count(
            &cluster,
            &database,
            "SELECT count(*) FROM switchboard_events"
        ),
        2
    );
    let logged = drain(&log);
    assert!(
        logged.contains("postgres://postgres:***@127.0.0.1"),
        "{logged}"
    );
    assert!(!logged.contains("never-shown-pw"), "{logged}");
    receiver.terminate().unwrap();
}

#[test]
fn the_schema_is_migrated_once_and_a_newer_one_is_refused() {
    let Fresh {
        cluster,
        database,
        dir,
        url,
    } = fresh("schema");
    for _ in 0..2 {
        let (receiver, log) = start(&dir, &url, &[]);
        accepted(&receiver, 7);
        let logged = drain(&log);
        assert!(logged.contains("PostgreSQL store opened"), "{logged}");
        receiver.terminate().unwrap();
    }
    let version = cluster
        .sql(
            &database,
            "SELECT value FROM switchboard_meta WHERE key = 'schema_version'",
        )
        .unwrap();
    assert_eq!(version, ["1"]);
    assert_eq!(
        count(
            cluster,
            &database,
            "SELECT count(*) FROM switchboard_events"
        ),
        1
    );
    cluster
        .sql(
            &database,
            "UPDATE switchboard_meta SET value = '99' WHERE key = 'schema_version'",
        )
        .unwrap();
    let output = Command::new(SWITCHBOARD)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--store",
            &url,
            "--config",
        ])
        .arg(dir.join("switchboard.toml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("schema is version 99, newer than this switchboard knows (1)"),
        "{stderr}"
    );
}

/// A downstream that counts the events it receives by id, answering `503`
/// while `refusing` is set, `202` otherwise.
struct Downstream {
    address: SocketAddr,
    received: Arc<Mutex<HashMap<String, usize>>>,
    refusing: Arc<AtomicBool>,
}

impl Downstream {
    fn start() -> Downstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(HashMap::new()));
        let refusing = Arc::new(AtomicBool::new(false));
        let (counts, refuse) = (Arc::clone(&received), Arc::clone(&refusing));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (counts, refuse) = (Arc::clone(&counts), Arc::clone(&refuse));
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let Some(body) = read_body(&mut stream) else {
                        return;
                    };
                    let status = match refuse.load(Ordering::SeqCst) {
                        true => "503 Service Unavailable",
                        false => {
                            let event: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                            let id = event["id"].as_str().unwrap_or("?").to_owned();
                            *counts.lock().unwrap().entry(id).or_default() += 1;
                            "202 Accepted"
                        }
                    };
                    let answer = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: 0\r\nRetry-After: 0\r\nConnection: close\r\n\r\n"
                    );
                    let _ = stream.write_all(answer.as_bytes());
                });
            }
        });
        Downstream {
            address,
            received,
            refusing,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/ingest", self.address)
    }

    fn counts(&self) -> HashMap<String, usize> {
        self.received.lock().unwrap().clone()
    }
}

/// A request's body, by its `Content-Length`.
fn read_body(stream: &mut std::net::TcpStream) -> Option<String> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            if body.len() >= length {
                return Some(body.to_owned());
            }
        }
    }
}

#[test]
fn two_replicas_forward_each_event_once_and_lose_none_to_a_kill() {
    let Fresh {
        cluster,
        database,
        dir,
        url,
    } = fresh("forward");
    let downstream = Downstream::start();
    let forward = downstream.url();
    let extra = ["--forward", forward.as_str(), "--forward-lease", "1"];
    let (a, _) = start(&dir, &url, &extra);
    let (b, _) = start(&dir, &url, &extra);
    // The normal case: both forward, each event is sent once.
    let mut ids = Vec::new();
    for n in 0..30 {
        let receiver = if n % 2 == 0 { &a } else { &b };
        ids.push(accepted(receiver, n)["id"].as_str().unwrap().to_owned());
    }
    eventually(WAIT, "30 events forwarded", || {
        downstream.counts().len() == 30
    });
    let outbox = || {
        count(
            cluster,
            &database,
            "SELECT count(*) FROM switchboard_outbox",
        )
    };
    eventually(WAIT, "the outbox emptied", || outbox() == 0);
    let counts = downstream.counts();
    assert!(counts.values().all(|&n| n == 1), "sent twice: {counts:?}");
    assert!(ids.iter().all(|id| counts.contains_key(id)));
    // A replica killed while it holds events it could not deliver: the
    // other takes them once its lease runs out.
    downstream.refusing.store(true, Ordering::SeqCst);
    let mut later = Vec::new();
    for n in 100..110 {
        later.push(accepted(&a, n)["id"].as_str().unwrap().to_owned());
    }
    let leased = || {
        count(
            cluster,
            &database,
            "SELECT count(*) FROM switchboard_outbox WHERE owner IS NOT NULL",
        )
    };
    eventually(WAIT, "the events claimed", || leased() > 0);
    a.kill().unwrap();
    downstream.refusing.store(false, Ordering::SeqCst);
    eventually(WAIT, "the killed replica's events forwarded", || {
        let counts = downstream.counts();
        later.iter().all(|id| counts.contains_key(id))
    });
    eventually(WAIT, "the outbox emptied", || outbox() == 0);
    let counts = downstream.counts();
    assert!(ids.iter().all(|id| counts[id] == 1), "{counts:?}");
    b.terminate().unwrap();
}

#[test]
fn refusals_are_kept_in_the_database_within_the_caps() {
    let Fresh {
        cluster,
        database,
        dir,
        url,
    } = fresh("refusals");
    let (receiver, _) = start(&dir, &url, &["--refused-max-deliveries", "3"]);
    for n in 0..5u32 {
        let (mut headers, body) = varda(n);
        for (name, value) in &mut headers {
            if name.eq_ignore_ascii_case("x-varda-signature") {
                value.push('0');
            }
        }
        let response = receiver.post("/webhooks/varda", &headers, &body).unwrap();
        assert_eq!(response.status, 401, "{}", response.body);
    }
    let kept = || {
        count(
            cluster,
            &database,
            "SELECT count(*) FROM switchboard_refusals",
        )
    };
    eventually(WAIT, "the refusals kept", || {
        receiver
            .metrics()
            .is_ok_and(|m| m.contains("switchboard_refusals_kept_total 5"))
    });
    assert_eq!(kept(), 3);
    let records = cluster
        .sql(
            &database,
            "SELECT record::text FROM switchboard_refusals ORDER BY seq",
        )
        .unwrap();
    let bodies: Vec<String> = records
        .iter()
        .map(|r| {
            serde_json::from_str::<Value>(r).unwrap()["body"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    for (body, n) in bodies.iter().zip(2..) {
        assert!(
            body.contains(&format!("\"id\":{n}}}")),
            "the newest are kept: {bodies:?}"
        );
    }
    let record: Value = serde_json::from_str(&records[0]).unwrap();
    assert_eq!(record["reason"], "no-match", "{record}");
    // `switchboard replay --store` runs them again (still refused).
    let output = Command::new(SWITCHBOARD)
        .args(["replay", "--store", &url, "--dry-run", "--receiver"])
        .arg(format!("http://{}", receiver.address))
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(1), "{printed}");
    assert_eq!(printed.matches("no-match").count(), 3, "{printed}");
    // The byte cap, on another receiver of the same database: the oldest
    // go until the rest fit.
    receiver.terminate().unwrap();
    let (receiver, _) = start(&dir, &url, &["--refused-max-bytes", "2048"]);
    let (mut headers, body) = varda(9);
    headers.retain(|(name, _)| !name.eq_ignore_ascii_case("x-varda-signature"));
    assert_eq!(
        receiver
            .post("/webhooks/varda", &headers, &body)
            .unwrap()
            .status,
        401
    );
    eventually(WAIT, "the byte cap applied", || {
        count(
            cluster,
            &database,
            "SELECT coalesce(sum(bytes), 0) FROM switchboard_refusals",
        ) <= 2048
            && kept() >= 1
    });
    receiver.terminate().unwrap();
}

/// The README's reader: events after a position, in order, never one that
/// could still appear below it.
const READ_AFTER: &str = "SELECT xid::text, seq, event::text FROM switchboard_events \
     WHERE (xid, seq) > ($1::text::xid8, $2) AND xid < pg_snapshot_xmin(pg_current_snapshot()) \
     ORDER BY xid, seq LIMIT 2";

#[test]
fn a_consumer_reads_events_in_order_and_is_woken() {
    let Fresh {
        cluster,
        database,
        dir,
        url,
    } = fresh("consumer");
    let (receiver, _) = start(&dir, &url, &[]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (client, mut connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        let (woken, mut wakes) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(Ok(message)) =
                std::future::poll_fn(|cx| connection.poll_message(cx)).await
            {
                if let tokio_postgres::AsyncMessage::Notification(n) = message {
                    let _ = woken.send(n.payload().to_owned());
                }
            }
        });
        client
            .batch_execute("LISTEN switchboard_events")
            .await
            .unwrap();
        let receiver = Arc::new(receiver);
        let mut ids = Vec::new();
        for n in 0..5 {
            let posting = Arc::clone(&receiver);
            let answer = tokio::task::spawn_blocking(move || accepted(&posting, n))
                .await
                .unwrap();
            ids.push(answer["id"].as_str().unwrap().to_owned());
            let payload = tokio::time::timeout(WAIT, wakes.recv())
                .await
                .unwrap()
                .unwrap();
            assert!(
                payload.parse::<i64>().is_ok(),
                "the payload is the seq: {payload}"
            );
        }
        // Read by pages of two from the start. An event shows once every
        // transaction that began before it committed has ended (other
        // tests' transactions in the same cluster hold that back for a
        // moment), so, as a consumer would, read again until all five
        // have shown.
        let (mut xid, mut seq) = ("0".to_owned(), 0i64);
        let mut read = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        while read.len() < ids.len() && tokio::time::Instant::now() < deadline {
            let rows = client.query(READ_AFTER, &[&xid, &seq]).await.unwrap();
            if rows.is_empty() {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            for row in rows {
                xid = row.get(0);
                let next: i64 = row.get(1);
                assert!(read.is_empty() || next > seq || xid != "0", "in order");
                seq = next;
                let event: Value = serde_json::from_str(row.get::<_, &str>(2)).unwrap();
                read.push(event["id"].as_str().unwrap().to_owned());
            }
        }
        assert_eq!(read, ids);
    });
    // `switchboard tail --store` prints them in the same order.
    let tail = |extra: &[&str]| {
        let output = Command::new(SWITCHBOARD)
            .args(["tail", "--store", &url, "--no-follow", "--format", "json"])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| {
                serde_json::from_str::<Value>(line).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect::<Vec<_>>()
    };
    let ids = cluster
        .sql(&database, "SELECT id FROM switchboard_events ORDER BY seq")
        .unwrap();
    assert_eq!(tail(&["--from-start"]), ids);
    assert_eq!(tail(&["-n", "2"]), ids[3..]);
    // `switchboard forward --store --from … --until …` sends that range.
    let downstream = Downstream::start();
    let output = Command::new(SWITCHBOARD)
        .args([
            "forward", "--store", &url, "--from", &ids[1], "--until", &ids[3],
        ])
        .args(["--to", &downstream.url()])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(printed.contains("3 events sent"), "{printed}");
    let counts = downstream.counts();
    assert_eq!(counts.len(), 3, "{counts:?}");
    assert!(
        ids[1..4].iter().all(|id| counts.get(id) == Some(&1)),
        "{counts:?}"
    );
}

#[test]
fn bad_urls_and_refused_passwords_are_clear_errors_without_the_password() {
    let cluster = postgres::shared();
    let database = cluster.database("refused");
    let dir = scratch("refused");
    let serve = |store: &str| {
        let output = Command::new(SWITCHBOARD)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--store",
                store,
                "--config",
            ])
            .arg(dir.join("switchboard.toml"))
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let wrong = format!(
        "postgres://{GUARDED_USER}:wrong-pw-5150@127.0.0.1:{}/{database}",
        cluster.port
    );
    let (code, stderr) = serve(&wrong);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("password authentication failed"),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("{GUARDED_USER}:***@")), "{stderr}");
    assert!(!stderr.contains("wrong-pw-5150"), "{stderr}");
    for (store, problem) in [
        (
            "postgres://app:secret-pw-1@127.0.0.1:notaport/db",
            "does not parse",
        ),
        (
            "postgres://app:secret-pw-1@127.0.0.1:5432",
            "names no database",
        ),
        (
            "mysql://app:secret-pw-1@127.0.0.1/db",
            "takes a postgres://",
        ),
    ] {
        let (code, stderr) = serve(store);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains(problem), "{store}: {stderr}");
        assert!(!stderr.contains("secret-pw-1"), "{stderr}");
    }
    // Nothing listens there: refused at start, at once.
    let (code, stderr) = serve("postgres://app@127.0.0.1:1/db");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot connect") || stderr.contains("connecting"),
        "{stderr}"
    );
    // The right password, from the configuration file rather than a flag.
    let right = format!(
        "postgres://{GUARDED_USER}:{GUARDED_PASSWORD}@127.0.0.1:{}/{database}",
        cluster.port
    );
    std::fs::write(
        dir.join("switchboard.toml"),
        format!("store = \"{right}\"\n{CONFIG}"),
    )
    .unwrap();
    // `--out` given explicitly wins over the file's `store`.
    let (receiver, log) = Receiver::start_logged(
        SWITCHBOARD,
        &dir.join("switchboard.toml"),
        &dir.join("events.ndjson"),
        &[],
    )
    .unwrap();
    receiver.terminate().unwrap();
    let logged = drain(&log);
    assert!(logged.contains("journal opened"), "{logged}");
    assert!(!logged.contains("PostgreSQL store opened"), "{logged}");
    // Without it, the file's `store`.
    let config = dir.join("switchboard.toml");
    let args: Vec<std::ffi::OsString> = vec![
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--config".into(),
        config.into(),
    ];
    let (mut child, _address, log) = http::start_receiver_logged(SWITCHBOARD, &args).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let logged = drain(&log);
    assert!(logged.contains("PostgreSQL store opened"), "{logged}");
    assert!(logged.contains(&format!("{GUARDED_USER}:***@")), "{logged}");
    assert!(!logged.contains(GUARDED_PASSWORD), "{logged}");
}

/// The receiver code above the two stores is the same: one set of
/// requests (every vendor, a redelivery, each refusal, the routes, a
/// replay) gets the same statuses and bodies from a receiver on the file
/// journal and one on PostgreSQL.
#[test]
fn the_receiver_answers_the_same_over_either_store() {
    const PARITY: &str = r#"
body_limit = 4096

[vendors.varda]
secrets = ["pg-varda"]

[vendors.opencx]
secrets = ["pg-opencx-token"]
scheme = { type = "shared-secret", header = "X-OpenCX-Token" }
"#;
    let cluster = postgres::shared();
    let database = cluster.database("parity");
    let dir = scratch("parity");
    std::fs::write(dir.join("switchboard.toml"), PARITY).unwrap();
    let file = Receiver::start(
        SWITCHBOARD,
        &dir.join("switchboard.toml"),
        &dir.join("events.ndjson"),
        &[],
    )
    .unwrap();
    let (database_store, _) = start(&dir, &cluster.url(&database), &[]);
    let (varda_headers, varda_body) = varda(1);
    let opencx_body = br#"{"event":"conversation.started","organization_id":"org_1","data":{"conversation_id":"conv_1","channel":"web","timestamp":"2026-04-14T14:00:00Z"}}"#.to_vec();
    let opencx = vec![("X-OpenCX-Token".to_owned(), "pg-opencx-token".to_owned())];
    let mut forged = varda_headers.clone();
    forged.iter_mut().for_each(|(_, value)| value.push('0'));
    let replay = format!(
        "{}\n",
        serde_json::json!({
            "vendor": "varda",
            "headers": varda(2).0,
            "body": String::from_utf8(varda(2).1).unwrap(),
        })
    );
    type Request<'a> = (&'a str, &'a str, Vec<(String, String)>, Vec<u8>);
    let requests: Vec<Request<'_>> = vec![
        (
            "POST",
            "/webhooks/varda",
            varda_headers.clone(),
            varda_body.clone(),
        ),
        (
            "POST",
            "/webhooks",
            varda_headers.clone(),
            varda_body.clone(),
        ),
        (
            "POST",
            "/webhooks/opencx",
            opencx.clone(),
            opencx_body.clone(),
        ),
        ("POST", "/webhooks/opencx", opencx, opencx_body),
        ("POST", "/webhooks/varda", forged, varda_body.clone()),
        (
            "POST",
            "/webhooks/varda",
            varda_headers.clone(),
            b"{not json".to_vec(),
        ),
        (
            "POST",
            "/webhooks/nosuch",
            varda_headers.clone(),
            varda_body.clone(),
        ),
        ("POST", "/webhooks/varda", varda_headers, vec![b'x'; 5000]),
        ("GET", "/webhooks/varda", Vec::new(), Vec::new()),
        ("GET", "/healthz", Vec::new(), Vec::new()),
        ("POST", "/replay", Vec::new(), replay.clone().into_bytes()),
        ("POST", "/replay", Vec::new(), replay.into_bytes()),
    ];
    for (method, path, headers, body) in &requests {
        let answers: Vec<(u16, String)> = [&file, &database_store]
            .iter()
            .map(|receiver| {
                let response =
                    http::request(receiver.address, method, path, headers, body).unwrap();
                (response.status, response.body)
            })
            .collect();
        assert_eq!(
            answers[0], answers[1],
            "{method} {path}: the file journal, then PostgreSQL"
        );
    }
    let journal = std::fs::read_to_string(dir.join("events.ndjson")).unwrap();
    let stored = cluster
        .sql(
            &database,
            "SELECT event::text FROM switchboard_events ORDER BY seq",
        )
        .unwrap();
    assert_eq!(
        journal.lines().collect::<Vec<_>>(),
        stored,
        "the same events, byte for byte"
    );
    let metrics = database_store.metrics().unwrap();
    assert!(
        metrics.contains("switchboard_sink_events_total 3"),
        "{metrics}"
    );
}
