//! `make load`: a bounded load run against `switchboard serve` on loopback,
//! and a crash check.
//!
//! 1. Starts the receiver (the release binary) on a free port with a fresh
//!    journal, sends `--requests` signed deliveries (all four vendors, each
//!    body unique) from `--concurrency` threads, and reports requests per
//!    second and p50/p99 latency. Every acknowledged event must be in the
//!    journal exactly once.
//! 2. Runs again on the same journal and kills the receiver with SIGKILL
//!    half-way; restarts it and checks that every event acknowledged in
//!    either run is in the journal exactly once, and that redelivering
//!    acknowledged events now answers `"duplicate": true`.
//!
//! Loopback only; every request and the whole run are bounded in time.

#[path = "../../tests/support/http.rs"]
#[allow(dead_code)] // the load run needs no downstream
mod http;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use switchboard_core::{Config, SignInput};

const SWITCHBOARD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/switchboard");
const CONFIG: &str = r#"
[vendors.varda]
secrets = ["load-varda"]
[vendors.openphone]
secrets = ["bG9hZC1vcGVucGhvbmUta2V5"]
[vendors.atoms]
secrets = ["load-atoms"]
[vendors.opencx]
secrets = ["whsec_bG9hZC1vcGVuY3gta2V5"]
scheme = "standard-webhooks"
"#;

struct Delivery {
    vendor: &'static str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn delivery(config: &Config, n: usize, now: i64) -> anyhow::Result<Delivery> {
    let (vendor, body) = match n % 4 {
        0 => (
            "varda",
            format!(
                r#"{{"event":"call.ended","timestamp":"2026-03-25T18:35:00Z","data":{{"id":{n},"direction":"inbound","duration_seconds":{}}}}}"#,
                n % 600
            ),
        ),
        1 => (
            "openphone",
            format!(
                r#"{{"id":"EVload{n}","object":"event","apiVersion":"v3","createdAt":"2026-03-25T18:35:00.000Z","type":"message.received","data":{{"object":{{"id":"ACload{n}","object":"message","from":"+15550001111","to":"+15550002222","direction":"incoming","body":"load {n}","phoneNumberId":"PNload"}}}}}}"#
            ),
        ),
        2 => (
            "atoms",
            format!(
                r#"{{"url":"http://127.0.0.1/","description":"load","event":"agent_load.post-conversation","metadata":{{"agentId":"agent_load","eventType":"post-conversation","callId":"CALL-{n}","callData":{{"fromNumber":"+15550003333","toNumber":"+15550004444","callDuration":12.5,"callStatus":"completed","callDirection":"telephony_inbound"}}}},"id":"dlv-{n}"}}"#
            ),
        ),
        _ => (
            "opencx",
            format!(
                r#"{{"event":"conversation.contact_response","organization_id":"org_load","data":{{"conversation_id":"conv_{n}","contact_id":"ct_1","message":"hello {n}","timestamp":"2026-04-14T14:00:00Z"}}}}"#
            ),
        ),
    };
    let settings = &config.vendors[vendor];
    let id = format!("msg_load_{n}");
    let input = SignInput {
        body: body.as_bytes(),
        timestamp: now,
        id: &id,
    };
    let headers = switchboard_core::sign(vendor, &settings.scheme, &settings.secrets[0], input)?;
    Ok(Delivery {
        vendor,
        headers,
        body: body.into_bytes(),
    })
}

struct Server {
    child: Child,
    address: SocketAddr,
}

fn start(dir: &Path) -> anyhow::Result<Server> {
    let args = ["--listen", "127.0.0.1:0", "--config"].map(Into::into);
    let args = [
        &args[..],
        &[
            dir.join("load.toml").into(),
            "--out".into(),
            dir.join("events.ndjson").into(),
        ],
    ]
    .concat();
    let (child, address) = http::start_receiver(SWITCHBOARD, &args)
        .with_context(|| format!("starting {SWITCHBOARD} (run `make build` first)"))?;
    Ok(Server { child, address })
}

/// What one run acknowledged: event id → the delivery's index.
struct Run {
    acknowledged: HashMap<String, usize>,
    latencies: Vec<Duration>,
    elapsed: Duration,
    failed: usize,
}

fn run(
    address: SocketAddr,
    deliveries: &Arc<Vec<Delivery>>,
    concurrency: usize,
    stop: &Arc<AtomicBool>,
) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let results = Arc::new(Mutex::new((HashMap::new(), Vec::new(), 0usize)));
    let started = Instant::now();
    let threads: Vec<_> = (0..concurrency)
        .map(|_| {
            let (next, results, deliveries, stop) = (
                Arc::clone(&next),
                Arc::clone(&results),
                Arc::clone(deliveries),
                Arc::clone(stop),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(120)
                {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some(d) = deliveries.get(n) else { break };
                    let sent = Instant::now();
                    let response = http::request(
                        address,
                        "POST",
                        &format!("/webhooks/{}", d.vendor),
                        &d.headers,
                        &d.body,
                    );
                    let took = sent.elapsed();
                    let mut results = results.lock().unwrap_or_else(|e| e.into_inner());
                    match response {
                        Ok(r) if r.status == 200 => {
                            let answer: serde_json::Value =
                                serde_json::from_str(&r.body).unwrap_or_default();
                            if let Some(id) = answer["id"].as_str() {
                                results.0.insert(id.to_owned(), n);
                            }
                            results.1.push(took);
                        }
                        _ => results.2 += 1,
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
    let elapsed = started.elapsed();
    let (acknowledged, mut latencies, failed) =
        std::mem::take(&mut *results.lock().unwrap_or_else(|e| e.into_inner()));
    latencies.sort();
    Run {
        acknowledged,
        latencies,
        elapsed,
        failed,
    }
}

/// How many times each event id appears in the journal.
fn journal_counts(dir: &Path) -> anyhow::Result<HashMap<String, usize>> {
    let mut counts = HashMap::new();
    for line in std::fs::read_to_string(dir.join("events.ndjson"))?.lines() {
        let event: serde_json::Value =
            serde_json::from_str(line).context("a journal line is not JSON")?;
        let id = event["id"]
            .as_str()
            .context("an event without id")?
            .to_owned();
        *counts.entry(id).or_default() += 1;
    }
    Ok(counts)
}

fn check_exactly_once(dir: &Path, acknowledged: &HashMap<String, usize>) -> anyhow::Result<usize> {
    let counts = journal_counts(dir)?;
    for (id, count) in &counts {
        ensure!(*count == 1, "event {id} is in the journal {count} times");
    }
    for id in acknowledged.keys() {
        ensure!(
            counts.contains_key(id),
            "acknowledged event {id} is missing from the journal"
        );
    }
    Ok(counts.len())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// `--requests` (4 000, at most 100 000) and `--concurrency` (16, 1 to 64).
fn flags() -> anyhow::Result<(usize, usize)> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str, default: usize| -> anyhow::Result<usize> {
        match args.iter().position(|a| a == name) {
            Some(i) => Ok(args.get(i + 1).context("a number")?.parse()?),
            None => Ok(default),
        }
    };
    let requests = flag("--requests", 4000)?.min(100_000);
    let concurrency = flag("--concurrency", 16)?.clamp(1, 64);
    Ok((requests, concurrency))
}

/// Twice `requests` unique signed deliveries, split in two halves: one per
/// run.
fn two_halves(config: &Config, requests: usize) -> anyhow::Result<[Arc<Vec<Delivery>>; 2]> {
    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())?;
    let mut first = (0..2 * requests)
        .map(|n| delivery(config, n, now))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let second = first.split_off(requests);
    Ok([Arc::new(first), Arc::new(second)])
}

/// Run 1: every delivery acknowledged and in the journal exactly once; the
/// group commit's figures from `/metrics`.
fn first_run(
    server: &Server,
    dir: &Path,
    deliveries: &Arc<Vec<Delivery>>,
    concurrency: usize,
) -> anyhow::Result<Run> {
    let never = Arc::new(AtomicBool::new(false));
    let one = run(server.address, deliveries, concurrency, &never);
    let rps = one.latencies.len() as f64 / one.elapsed.as_secs_f64();
    println!(
        "run 1: {} acknowledged, {} failed in {:.2} s: {rps:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms",
        one.acknowledged.len(),
        one.failed,
        one.elapsed.as_secs_f64(),
        percentile(&one.latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&one.latencies, 0.99).as_secs_f64() * 1e3,
    );
    ensure!(one.failed == 0, "requests failed without a crash");
    let events = check_exactly_once(dir, &one.acknowledged)?;
    println!("run 1: the journal holds {events} events, each acknowledged one exactly once");
    let metrics = http::request(server.address, "GET", "/metrics", &[], b"")?.body;
    let metric = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    };
    let commits = metric("switchboard_sink_write_seconds_count");
    println!(
        "run 1: group commit: {commits:.0} fsyncs for {:.0} events ({:.1} events per fsync, mean {:.2} ms per write+fsync)",
        metric("switchboard_sink_events_total"),
        metric("switchboard_sink_events_total") / commits.max(1.0),
        metric("switchboard_sink_write_seconds_sum") / commits.max(1.0) * 1e3,
    );
    Ok(one)
}

/// Run 2: the receiver is killed with SIGKILL after `after`, while the
/// deliveries are being sent.
fn killed_run(
    server: &mut Server,
    deliveries: &Arc<Vec<Delivery>>,
    concurrency: usize,
    after: Duration,
) -> anyhow::Result<Run> {
    let stop = Arc::new(AtomicBool::new(false));
    let killer = {
        let (stop, pid) = (Arc::clone(&stop), server.child.id());
        std::thread::spawn(move || {
            std::thread::sleep(after);
            let killed = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
            std::thread::sleep(Duration::from_millis(200));
            stop.store(true, Ordering::Relaxed);
            killed
        })
    };
    let two = run(server.address, deliveries, concurrency, &stop);
    match killer.join() {
        Ok(Ok(status)) if status.success() => {}
        _ => bail!("could not SIGKILL the receiver"),
    }
    let _ = server.child.wait();
    println!(
        "run 2: SIGKILL after {:.2} s: {} acknowledged before the kill, {} refused or cut off",
        after.as_secs_f64(),
        two.acknowledged.len(),
        two.failed
    );
    Ok(two)
}

/// After the restart: every event acknowledged in either run is in the
/// journal exactly once, and redelivering run 2's answers `duplicate`
/// without writing anything.
fn check_after_restart(
    server: &Server,
    dir: &Path,
    acknowledged: &HashMap<String, usize>,
    two: &Run,
    second: &[Delivery],
) -> anyhow::Result<()> {
    let events = check_exactly_once(dir, acknowledged)?;
    println!(
        "after restart: the journal holds {events} events; all {} acknowledged are there exactly once",
        acknowledged.len()
    );
    let mut duplicates = 0;
    for n in two.acknowledged.values().take(50) {
        let d = &second[*n];
        let r = http::request(
            server.address,
            "POST",
            &format!("/webhooks/{}", d.vendor),
            &d.headers,
            &d.body,
        )?;
        ensure!(
            r.status == 200 && r.body.contains("\"duplicate\":true"),
            "redelivery answered {} {}",
            r.status,
            r.body
        );
        duplicates += 1;
    }
    ensure!(
        check_exactly_once(dir, acknowledged)? == events,
        "redeliveries were written again"
    );
    println!(
        "after restart: {duplicates} redeliveries of acknowledged events answered duplicate, nothing written"
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let (requests, concurrency) = flags()?;
    let dir: PathBuf =
        std::env::temp_dir().join(format!("switchboard-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("load.toml"), CONFIG)?;
    let config: Config = toml::from_str(CONFIG)?;
    let [first, second] = two_halves(&config, requests)?;
    println!(
        "load: {requests} signed deliveries (4 vendors), {concurrency} connections, journal {}",
        dir.display()
    );
    let mut server = start(&dir)?;
    let one = first_run(&server, &dir, &first, concurrency)?;
    let two = killed_run(&mut server, &second, concurrency, one.elapsed / 2)?;
    server = start(&dir)?;
    let mut acknowledged = one.acknowledged;
    acknowledged.extend(
        two.acknowledged
            .iter()
            .map(|(id, n)| (id.clone(), *n + requests)),
    );
    check_after_restart(&server, &dir, &acknowledged, &two, &second)?;
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(server.child.id().to_string())
        .status();
    let _ = server.child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
