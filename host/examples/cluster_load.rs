//! `make cluster-load`: receivers sharing one PostgreSQL under a bounded
//! loopback load, with a replica killed and the database restarted
//! mid-run.
//!
//! A throwaway PostgreSQL is started (tests/support/postgres.rs), then:
//!
//! 1. **One replica**: [`EVENTS`] signed deliveries from [`SENDERS`]
//!    threads; requests per second and p50/p99.
//! 2. **Three replicas**, the same load spread round-robin.
//! 3. **Three replicas** on a fresh database: the same number of requests,
//!    each delivered to one replica and redelivered to another, spread
//!    round-robin. A third of the way in, one replica is killed with
//!    `SIGKILL`; at two thirds, PostgreSQL is restarted (`pg_ctl restart
//!    -m immediate`). A sender retries a `503` or a failed connection on
//!    the next replica (as a vendor retries), up to [`ATTEMPTS`] times.
//!
//! Then it checks: every acknowledged event is in `switchboard_events`
//! exactly once (0 lost, 0 doubled), every redelivery of an event already
//! acknowledged was answered `duplicate` whichever replica took it, and no
//! request sent while the database was down was acknowledged. Exits 1 if
//! any check fails.

#![allow(clippy::unwrap_used)]

#[path = "../../tests/support/http.rs"]
#[allow(dead_code)]
mod http;
#[path = "../../tests/support/ports.rs"]
mod ports;
#[path = "../../tests/support/postgres.rs"]
#[allow(dead_code)]
mod postgres;
#[path = "../../tests/support/receiver.rs"]
#[allow(dead_code)]
mod receiver;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, ensure};
use postgres::Cluster;
use receiver::Receiver;
use serde_json::Value;
use switchboard_core::{Config, SignInput};

const SWITCHBOARD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/switchboard");
const CONFIG: &str = "[vendors.varda]\nsecrets = [\"cluster-load-varda\"]\n";

/// Events per run.
const EVENTS: usize = 3000;
/// Concurrent senders.
const SENDERS: usize = 8;
/// Attempts per delivery (a 503 or a failed connection is retried on the
/// next replica after [`RETRY_PAUSE`]).
const ATTEMPTS: usize = 200;
const RETRY_PAUSE: Duration = Duration::from_millis(20);

/// One delivery's fate.
#[derive(Debug, Clone)]
struct Sent {
    event: usize,
    redelivery: bool,
    /// The id and `duplicate` of the `200`, if it was acknowledged.
    accepted: Option<(String, bool)>,
    /// When the acknowledged attempt started and ended.
    window: (Instant, Instant),
    latency: Duration,
    attempts: usize,
}

fn signed(n: usize, config: &Config) -> (Vec<(String, String)>, Vec<u8>) {
    let body = format!(
        r#"{{"event":"contact.created","timestamp":"2026-03-25T18:29:58Z","data":{{"id":{n}}}}}"#
    );
    let settings = &config.vendors["varda"];
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let input = SignInput {
        body: body.as_bytes(),
        timestamp: i64::try_from(now).unwrap(),
        id: "msg_cluster_load",
    };
    let headers =
        switchboard_core::sign("varda", &settings.scheme, &settings.secrets[0], input).unwrap();
    (headers, body.into_bytes())
}

/// Sends `event` starting with replica `first`, retrying on the next.
fn deliver(
    addresses: &[SocketAddr],
    first: usize,
    event: usize,
    redelivery: bool,
    config: &Config,
) -> Sent {
    let (headers, body) = signed(event, config);
    let started = Instant::now();
    for attempt in 0..ATTEMPTS {
        let address = addresses[(first + attempt) % addresses.len()];
        let sent_at = Instant::now();
        if let Ok(response) = http::request(address, "POST", "/webhooks/varda", &headers, &body)
            && response.status == 200
        {
            let answer: Value = serde_json::from_str(&response.body).unwrap_or(Value::Null);
            let id = answer["id"].as_str().unwrap_or_default().to_owned();
            return Sent {
                event,
                redelivery,
                accepted: Some((id, answer["duplicate"] == true)),
                window: (sent_at, Instant::now()),
                latency: started.elapsed(),
                attempts: attempt + 1,
            };
        }
        std::thread::sleep(RETRY_PAUSE);
    }
    Sent {
        event,
        redelivery,
        accepted: None,
        window: (started, Instant::now()),
        latency: started.elapsed(),
        attempts: ATTEMPTS,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(rank).copied().unwrap_or_default()
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs `jobs` (event, redelivery, first replica) from [`SENDERS`]
/// threads; `progress` is called with the count done after each.
fn run(
    addresses: &[SocketAddr],
    jobs: Vec<(usize, bool, usize)>,
    config: &Config,
    progress: &(dyn Fn(usize) + Sync),
) -> (Vec<Sent>, Duration) {
    let jobs = Arc::new(Mutex::new(jobs.into_iter()));
    let done = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..SENDERS {
            scope.spawn(|| {
                loop {
                    let job = jobs.lock().unwrap().next();
                    let Some((event, redelivery, first)) = job else {
                        break;
                    };
                    let sent = deliver(addresses, first, event, redelivery, config);
                    results.lock().unwrap().push(sent);
                    progress(done.fetch_add(1, Ordering::SeqCst) + 1);
                }
            });
        }
    });
    (results.into_inner().unwrap(), started.elapsed())
}

fn report(what: &str, sent: &[Sent], took: Duration) {
    let mut latencies: Vec<Duration> = sent.iter().map(|s| s.latency).collect();
    latencies.sort();
    let retried = sent.iter().filter(|s| s.attempts > 1).count();
    println!(
        "{what}: {} requests in {:.2} s: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms ({retried} retried)",
        sent.len(),
        took.as_secs_f64(),
        sent.len() as f64 / took.as_secs_f64(),
        millis(percentile(&latencies, 0.50)),
        millis(percentile(&latencies, 0.99)),
    );
}

fn main() -> anyhow::Result<()> {
    ensure!(
        std::path::Path::new(SWITCHBOARD).is_file(),
        "{SWITCHBOARD} is missing: `make build` builds it"
    );
    let config: Config = toml::from_str(CONFIG)?;
    let dir = std::env::temp_dir().join(format!("switchboard-cluster-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let config_path = dir.join("switchboard.toml");
    std::fs::write(&config_path, CONFIG)?;
    let cluster = Cluster::start_in(std::env::temp_dir()).map_err(anyhow::Error::msg)?;
    let quiet: [&str; 0] = [];

    // 1. One replica.
    let url = cluster.url(&cluster.database("one"));
    let (one, _) = Receiver::start_store(SWITCHBOARD, &config_path, &url, &quiet)?;
    let jobs = (0..EVENTS).map(|n| (n, false, 0)).collect();
    let (sent, took) = run(&[one.address], jobs, &config, &|_| {});
    report("one replica", &sent, took);
    one.terminate()?;

    // 2. Three replicas, nothing going wrong.
    let url = cluster.url(&cluster.database("three_clean"));
    let mut clean = Vec::new();
    for _ in 0..3 {
        clean.push(Receiver::start_store(SWITCHBOARD, &config_path, &url, &quiet)?.0);
    }
    let addresses: Vec<SocketAddr> = clean.iter().map(|r| r.address).collect();
    let jobs = (0..EVENTS).map(|n| (n, false, n % 3)).collect();
    let (sent, took) = run(&addresses, jobs, &config, &|_| {});
    report("three replicas", &sent, took);
    for replica in clean {
        replica.terminate()?;
    }

    // 3. Three replicas, a kill and a database restart.
    let database = cluster.database("three");
    let url = cluster.url(&database);
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(Receiver::start_store(SWITCHBOARD, &config_path, &url, &quiet)?.0);
    }
    let addresses: Vec<SocketAddr> = replicas.iter().map(|r| r.address).collect();
    // Each event to replica n % 3, its redelivery to the next one, a
    // little later in the run.
    let mut jobs = Vec::new();
    for n in 0..EVENTS / 2 {
        jobs.push((n, false, n % 3));
        if n >= 20 {
            jobs.push((n - 20, true, (n - 19) % 3));
        }
    }
    for n in EVENTS / 2 - 20..EVENTS / 2 {
        jobs.push((n, true, (n + 1) % 3));
    }
    let total = jobs.len();
    let killed = Mutex::new(Some(replicas.remove(2)));
    let down: Mutex<Option<(Instant, Instant)>> = Mutex::new(None);
    let restarting = AtomicBool::new(false);
    let (sent, took) = run(&addresses, jobs, &config, &|done| {
        if done == total / 3
            && let Some(victim) = killed.lock().unwrap().take()
        {
            println!("  SIGKILL to one replica after {done} requests");
            let _ = victim.kill();
        }
        if done == 2 * total / 3 && !restarting.swap(true, Ordering::SeqCst) {
            // Stopped, then started: the window in between is down.
            let stopping = Instant::now();
            cluster.kill().unwrap();
            let stopped = Instant::now();
            std::thread::sleep(Duration::from_millis(300));
            let starting = Instant::now();
            cluster.restart().unwrap();
            println!(
                "  PostgreSQL stopped (-m immediate) after {done} requests, down {:.0} ms",
                millis(starting - stopping)
            );
            *down.lock().unwrap() = Some((stopped, starting));
        }
    });
    report(
        "three replicas (one killed, the database restarted)",
        &sent,
        took,
    );

    // The checks.
    let mut failures = Vec::new();
    let unacknowledged = sent.iter().filter(|s| s.accepted.is_none()).count();
    if unacknowledged > 0 {
        failures.push(format!("{unacknowledged} deliveries never acknowledged"));
    }
    let acknowledged: HashMap<usize, String> = sent
        .iter()
        .filter_map(|s| s.accepted.as_ref().map(|(id, _)| (s.event, id.clone())))
        .collect();
    let rows = cluster
        .sql(&database, "SELECT id FROM switchboard_events")
        .map_err(anyhow::Error::msg)?;
    let mut in_table: HashMap<&str, usize> = HashMap::new();
    for id in &rows {
        *in_table.entry(id.as_str()).or_default() += 1;
    }
    let lost = acknowledged
        .values()
        .filter(|id| !in_table.contains_key(id.as_str()))
        .count();
    let doubled = in_table.values().filter(|&&n| n > 1).count();
    // A redelivery sent after its first delivery was acknowledged must be
    // a duplicate; so must whichever of the two came second.
    let mut firsts: HashMap<usize, Vec<&Sent>> = HashMap::new();
    for s in &sent {
        firsts.entry(s.event).or_default().push(s);
    }
    let mut not_duplicate = 0;
    for deliveries in firsts.values() {
        let fresh = deliveries
            .iter()
            .filter(|s| matches!(&s.accepted, Some((_, false))))
            .count();
        let first_end = deliveries
            .iter()
            .find(|s| !s.redelivery && s.accepted.is_some())
            .map(|s| s.window.1);
        let late_fresh = deliveries.iter().any(|s| {
            s.redelivery
                && matches!(&s.accepted, Some((_, false)))
                && first_end.is_some_and(|end| s.window.0 > end)
        });
        if fresh > 1 || late_fresh {
            not_duplicate += 1;
        }
    }
    let down = down
        .lock()
        .unwrap()
        .context("the database was never restarted")?;
    let acknowledged_while_down = sent
        .iter()
        .filter(|s| s.accepted.is_some() && s.window.0 >= down.0 && s.window.1 <= down.1)
        .count();
    println!(
        "checks: {} events acknowledged, {} rows; {lost} lost, {doubled} doubled, {not_duplicate} redeliveries not answered duplicate, {acknowledged_while_down} acknowledged while the database was down",
        acknowledged.len(),
        rows.len()
    );
    if lost > 0 {
        failures.push(format!("{lost} acknowledged events lost"));
    }
    if doubled > 0 {
        failures.push(format!("{doubled} events written twice"));
    }
    if not_duplicate > 0 {
        failures.push(format!("{not_duplicate} events acknowledged as new twice"));
    }
    if acknowledged_while_down > 0 {
        failures.push(format!(
            "{acknowledged_while_down} deliveries acknowledged while the database was down"
        ));
    }
    if acknowledged.len() != EVENTS / 2 || rows.len() != EVENTS / 2 {
        failures.push(format!(
            "{} events acknowledged and {} rows, not {}",
            acknowledged.len(),
            rows.len(),
            EVENTS / 2
        ));
    }
    for replica in replicas {
        replica.terminate()?;
    }
    drop(cluster);
    let _ = std::fs::remove_dir_all(&dir);
    ensure!(failures.is_empty(), "FAILED: {}", failures.join("; "));
    println!(
        "ok: 0 lost, 0 doubled, every redelivery a duplicate, nothing acknowledged while the database was down"
    );
    Ok(())
}
