//! `make attack`: a bounded loopback attack on `switchboard serve`, with
//! valid deliveries measured while it lasts.
//!
//! Starts the receiver (the release binary, default limits, the demo
//! configuration `host/demo/switchboard.toml`) on a free loopback port,
//! then for `--seconds` (15) runs, at once:
//!
//! - signature-list floods: 14 000 comma-separated OpenPhone entries (and
//!   14 000 `v1=` Varda entries) with a 1 MB body, back to back;
//! - forged max-size bodies: a 1 MiB body under a forged Varda signature,
//!   and a 2 MiB one written whole before reading the answer;
//! - slow bodies: connections that declare 1 MiB and trickle 1 KiB every
//!   200 ms until the receiver cuts them off;
//! - random paths and methods;
//! - valid signed deliveries from every vendor, one every 10 ms per sender,
//!   whose answers and latencies are the figures.
//!
//! The same valid senders first run alone for 3 s, as a baseline on this
//! machine. It prints what each kind of request was answered and how fast,
//! then the valid deliveries' success rate and p50/p99 without and during
//! the attack, the receiver's own time for them (from its log) and the
//! journal's group commits (from `/metrics`), and fails unless every valid
//! delivery was acknowledged with p99 at most 50 ms during the attack.
//!
//! Each valid delivery waits for its fsync. The journal goes to the system's
//! temporary directory, or to `--journal-dir DIR`: on a tmpfs (`/dev/shm`)
//! fsync costs nothing, which leaves the front door's share alone.

#[path = "../../tests/support/http.rs"]
#[allow(dead_code)] // the attack needs no downstream
mod http;
#[path = "../../tests/support/receiver.rs"]
#[allow(dead_code)]
mod receiver;

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, ensure};
use switchboard_core::{Config, SignInput};

const SWITCHBOARD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/switchboard");
const DEMO_CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/demo/switchboard.toml");

/// The goal for valid deliveries during the attack.
const P99_GOAL: Duration = Duration::from_millis(50);

/// How long the valid senders run alone first.
const BASELINE: Duration = Duration::from_secs(3);

/// How many threads run each hostile kind, and the valid senders.
const FLOODERS: usize = 2;
const FORGERS: usize = 2;
const SLOW_BODIES: usize = 16;
const PATH_SCANNERS: usize = 2;
const SENDERS: usize = 2;

/// A request to send: path, headers, body.
type Request = (String, Vec<(String, String)>, Vec<u8>);

/// What each kind of request was answered, and how fast.
#[derive(Debug, Default)]
struct Tally(Mutex<BTreeMap<&'static str, Answers>>);

/// The answers to one kind of request: status (0: none, the connection
/// failed) → count, and each latency.
#[derive(Debug, Default)]
struct Answers {
    statuses: BTreeMap<u16, usize>,
    latencies: Vec<Duration>,
}

impl Tally {
    fn record(&self, kind: &'static str, status: u16, took: Duration) {
        let mut kinds = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let answers = kinds.entry(kind).or_default();
        *answers.statuses.entry(status).or_default() += 1;
        answers.latencies.push(took);
    }

    fn take(&self) -> BTreeMap<&'static str, Answers> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

fn unix_now() -> anyhow::Result<i64> {
    Ok(i64::try_from(
        SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs(),
    )?)
}

/// The signature-list floods: 14 000 entries, a 1 MB body.
fn floods(now: i64) -> Vec<Request> {
    let body = vec![b' '; 1_000_000];
    let openphone = vec![format!("hmac;1;{};AAAA", now * 1000); 14_000].join(",");
    let varda = format!("t={now},{}", vec!["v1=00"; 14_000].join(","));
    vec![
        (
            "/webhooks/openphone".to_owned(),
            vec![("openphone-signature".to_owned(), openphone)],
            body.clone(),
        ),
        (
            "/webhooks/varda".to_owned(),
            vec![("X-Varda-Signature".to_owned(), varda)],
            body,
        ),
    ]
}

/// Forged bodies: the demo's whole 1 MiB limit, and twice it (written
/// whole before the answer is read).
fn forged(now: i64) -> Vec<Request> {
    let signature = vec![(
        "X-Varda-Signature".to_owned(),
        format!("t={now},v1={}", "ab".repeat(32)),
    )];
    vec![
        (
            "/webhooks/varda".to_owned(),
            signature.clone(),
            vec![b'{'; 1 << 20],
        ),
        ("/webhooks/varda".to_owned(), signature, vec![b'{'; 2 << 20]),
    ]
}

/// One valid delivery, signed with the demo secret of its vendor, its body
/// unique to `n`.
fn valid(config: &Config, n: usize, now: i64) -> anyhow::Result<Request> {
    let (vendor, body) = match n % 4 {
        0 => (
            "varda",
            format!(
                r#"{{"event":"call.ended","timestamp":"2026-03-25T18:35:00Z","data":{{"id":{n}}}}}"#
            ),
        ),
        1 => (
            "openphone",
            format!(
                r#"{{"id":"EVattack{n}","object":"event","apiVersion":"v3","createdAt":"2026-03-25T18:35:00.000Z","type":"message.received","data":{{"object":{{"id":"AC{n}","object":"message","from":"+15550001111","to":"+15550002222","direction":"incoming","body":"hi","phoneNumberId":"PNattack"}}}}}}"#
            ),
        ),
        2 => (
            "atoms",
            format!(
                r#"{{"event":"call.start","timestamp":"2024-07-15T14:30:00Z","agent_id":"agent_1","call_id":"call_{n}","call_direction":"inbound","caller_phone":"+15551234567","agent_phone":"+15559876543"}}"#
            ),
        ),
        _ => (
            "opencx",
            format!(
                r#"{{"event":"conversation.started","organization_id":"org_attack","data":{{"conversation_id":"conv_{n}","channel":"web","timestamp":"2026-04-14T14:00:00Z"}}}}"#
            ),
        ),
    };
    let settings = &config.vendors[vendor];
    let secret = settings.secrets.first().context("a demo secret")?;
    let id = format!("msg_attack_{n}");
    let input = SignInput {
        body: body.as_bytes(),
        timestamp: now,
        id: &id,
    };
    let headers = switchboard_core::sign(vendor, &settings.scheme, secret, input)?;
    Ok((format!("/webhooks/{vendor}"), headers, body.into_bytes()))
}

/// `request` as HTTP/1.1 bytes, once: an attacker does not format each
/// request anew, and the CPU this client saves is the receiver's.
fn wire(address: SocketAddr, (path, headers, body): &Request) -> Vec<u8> {
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Writes `request` whole on a new connection (an error writing is ignored:
/// the answer may already be there), then reads the answer's status (0:
/// none).
fn send_raw(address: SocketAddr, request: &[u8]) -> u16 {
    let Ok(mut stream) = TcpStream::connect(address) else {
        return 0;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    http::parse_response(&answer).map_or(0, |r| r.status)
}

/// Sends `requests` in turn, back to back, until `stop`, counting answers
/// under `kind`.
fn hammer(
    address: SocketAddr,
    kind: &'static str,
    requests: &[Request],
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) -> std::thread::JoinHandle<()> {
    let requests: Vec<Vec<u8>> = requests.iter().map(|r| wire(address, r)).collect();
    std::thread::spawn(move || {
        for request in requests.iter().cycle() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let sent = Instant::now();
            let status = send_raw(address, request);
            tally.record(kind, status, sent.elapsed());
        }
    })
}

/// Declares 1 MiB and sends 1 KiB every 200 ms until the receiver answers
/// (its read timeout) or `stop`; then starts over.
fn trickle(
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let sent = Instant::now();
            // One still trickling when the attack ends was not answered yet.
            if let Some(status) = slow_body(address, &stop).unwrap_or(Some(0)) {
                tally.record("slow body", status, sent.elapsed());
            }
        }
    })
}

/// The status the receiver answered a slow body with (0: the connection
/// ended without one), or `None` if the attack ended first.
fn slow_body(address: SocketAddr, stop: &AtomicBool) -> std::io::Result<Option<u16>> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_millis(1)))?;
    stream.write_all(
        b"POST /webhooks/varda HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n",
    )?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        if stream.write_all(&[b' '; 1024]).is_err() {
            break;
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
        if !answer.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(Some(http::parse_response(&answer).map_or(0, |r| r.status)))
}

/// Random paths and methods, back to back.
fn scan(
    address: SocketAddr,
    seed: u64,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut state = seed | 1;
        while !stop.load(Ordering::Relaxed) {
            // xorshift: no dependency, and the same paths every run.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let (method, path) = match state % 4 {
                0 => ("POST", format!("/webhooks/{state:x}")),
                1 => ("GET", format!("/{state:x}/{}", state >> 3)),
                2 => ("PUT", "/webhooks".to_owned()),
                _ => ("POST", format!("/webhooks/{state:x}/../{}", state % 97)),
            };
            let sent = Instant::now();
            let status = http::request(address, method, &path, &[], b"{}").map_or(0, |r| r.status);
            tally.record("random path", status, sent.elapsed());
        }
    })
}

/// Sends `deliveries` (every `SENDERS`-th from `first`), one every 10 ms,
/// until they run out or `stop`: each one's latency, or why it failed.
fn send_valid(
    address: SocketAddr,
    deliveries: Arc<Vec<Request>>,
    first: usize,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<Result<Duration, String>>> {
    std::thread::spawn(move || {
        let mut results = Vec::new();
        for (path, headers, body) in deliveries.iter().skip(first).step_by(SENDERS) {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let sent = Instant::now();
            let response = http::request(address, "POST", path, headers, body);
            let took = sent.elapsed();
            results.push(match response {
                Ok(r) if r.status == 200 => Ok(took),
                Ok(r) => Err(format!("{} {}", r.status, r.body)),
                Err(e) => Err(e.to_string()),
            });
            std::thread::sleep(Duration::from_millis(10));
        }
        results
    })
}

/// Runs the valid senders over `deliveries` for `length`.
fn measure_valid(
    address: SocketAddr,
    deliveries: Vec<Request>,
    length: Duration,
) -> anyhow::Result<Vec<Result<Duration, String>>> {
    let deliveries = Arc::new(deliveries);
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..SENDERS)
        .map(|first| send_valid(address, Arc::clone(&deliveries), first, Arc::clone(&stop)))
        .collect();
    std::thread::sleep(length);
    stop.store(true, Ordering::Relaxed);
    let mut results = Vec::new();
    for sender in senders {
        let sent = sender.join().map_err(|_| anyhow!("a sender panicked"))?;
        results.extend(sent);
    }
    Ok(results)
}

/// Starts every hostile thread; they run until `stop`.
fn start_attack(
    address: SocketAddr,
    now: i64,
    stop: &Arc<AtomicBool>,
    tally: &Arc<Tally>,
) -> Vec<std::thread::JoinHandle<()>> {
    let (floods, forged) = (floods(now), forged(now));
    let mut attackers = Vec::new();
    for _ in 0..FLOODERS {
        let (stop, tally) = (Arc::clone(stop), Arc::clone(tally));
        attackers.push(hammer(address, "signature flood", &floods, stop, tally));
    }
    for _ in 0..FORGERS {
        let (stop, tally) = (Arc::clone(stop), Arc::clone(tally));
        attackers.push(hammer(
            address,
            "forged max-size body",
            &forged,
            stop,
            tally,
        ));
    }
    for _ in 0..SLOW_BODIES {
        attackers.push(trickle(address, Arc::clone(stop), Arc::clone(tally)));
    }
    for seed in 0..PATH_SCANNERS as u64 {
        let seed = 0x9e37_79b9_7f4a_7c15 + seed;
        attackers.push(scan(address, seed, Arc::clone(stop), Arc::clone(tally)));
    }
    attackers
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The valid deliveries' figures: how many were acknowledged, p50 and p99.
struct Figures {
    acknowledged: usize,
    sent: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
    failures: Vec<String>,
}

impl Figures {
    fn of(results: Vec<Result<Duration, String>>) -> Figures {
        let sent = results.len();
        let (mut latencies, mut failures) = (Vec::new(), Vec::new());
        for result in results {
            match result {
                Ok(took) => latencies.push(took),
                Err(why) => failures.push(why),
            }
        }
        latencies.sort();
        Figures {
            acknowledged: latencies.len(),
            sent,
            p50: percentile(&latencies, 0.50),
            p99: percentile(&latencies, 0.99),
            max: latencies.last().copied().unwrap_or_default(),
            failures,
        }
    }

    fn print(&self, when: &str) {
        println!(
            "valid deliveries {when}: {}/{} acknowledged ({:.2} %), p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.acknowledged,
            self.sent,
            self.acknowledged as f64 * 100.0 / self.sent.max(1) as f64,
            millis(self.p50),
            millis(self.p99),
            millis(self.max),
        );
        for failure in self.failures.iter().take(5) {
            println!("  not acknowledged: {failure}");
        }
    }
}

fn print_tally(tally: BTreeMap<&'static str, Answers>) {
    for (kind, mut answers) in tally {
        let statuses: Vec<String> = answers
            .statuses
            .iter()
            .map(|(status, n)| match status {
                0 => format!("{n} × no answer"),
                status => format!("{n} × {status}"),
            })
            .collect();
        answers.latencies.sort();
        println!(
            "  {kind:>20}: {} (answered in p50 {:.1} ms, p99 {:.1} ms)",
            statuses.join(", "),
            millis(percentile(&answers.latencies, 0.50)),
            millis(percentile(&answers.latencies, 0.99)),
        );
    }
}

/// The receiver's own time for the deliveries it acknowledged since last
/// asked, from its log lines (`outcome="ok"`, `micros=`): what the
/// end-to-end figures owe to the receiver rather than to this client and
/// the machine's scheduler.
fn print_server_time(log: &std::sync::mpsc::Receiver<String>, when: &str) {
    let mut micros: Vec<Duration> = log
        .try_iter()
        .filter(|line| line.contains("outcome=\"ok\""))
        .filter_map(|line| {
            let value = line.split("micros=").nth(1)?.split_whitespace().next()?;
            Some(Duration::from_micros(value.parse().ok()?))
        })
        .collect();
    micros.sort();
    println!(
        "  the receiver's own time for them {when}: p50 {:.2} ms, p99 {:.2} ms (from its log)",
        millis(percentile(&micros, 0.50)),
        millis(percentile(&micros, 0.99)),
    );
}

/// The journal's group commits from `/metrics`: how many, the mean write
/// and fsync, and how many took over 10 ms.
fn print_journal(metrics: &str) {
    let metric = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    };
    let commits = metric("switchboard_sink_write_seconds_count");
    let within = metric("switchboard_sink_write_seconds_bucket{le=\"0.01\"}");
    println!(
        "  the journal over the whole run: {commits:.0} group commits, mean {:.2} ms per write and fsync, {:.0} over 10 ms",
        metric("switchboard_sink_write_seconds_sum") / commits.max(1.0) * 1e3,
        commits - within,
    );
}

/// `--seconds` (15, 1 to 120) and `--journal-dir` (the system's temporary
/// directory).
fn flags() -> anyhow::Result<(Duration, std::path::PathBuf)> {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| args.iter().position(|a| a == name).map(|i| args.get(i + 1));
    let seconds: u64 = match value("--seconds") {
        Some(given) => given.context("--seconds takes a number")?.parse()?,
        None => 15,
    };
    let dir = match value("--journal-dir") {
        Some(given) => given.context("--journal-dir takes a directory")?.into(),
        None => std::env::temp_dir(),
    };
    let dir = dir.join(format!("switchboard-attack-{}", std::process::id()));
    Ok((Duration::from_secs(seconds.clamp(1, 120)), dir))
}

fn main() -> anyhow::Result<()> {
    let (length, dir) = flags()?;
    std::fs::create_dir_all(&dir)?;
    let config: Config = toml::from_str(&std::fs::read_to_string(DEMO_CONFIG)?)?;
    let journal = dir.join("events.ndjson");
    let (server, log) = receiver::Receiver::start_logged(
        SWITCHBOARD,
        DEMO_CONFIG.as_ref(),
        &journal,
        &["--read-timeout", "10"],
    )
    .with_context(|| format!("starting {SWITCHBOARD} (run `make build` first)"))?;
    let address = server.address;
    let now = unix_now()?;
    // Enough unique deliveries for both phases: at most one per 10 ms per sender.
    let per_second = SENDERS * 100;
    let baseline_count = per_second * BASELINE.as_secs() as usize;
    let mut deliveries = (0..baseline_count + per_second * length.as_secs() as usize)
        .map(|n| valid(&config, n, now))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let during = deliveries.split_off(baseline_count);

    println!(
        "attack on {address} (default limits, demo configuration, journal {}): {SENDERS} senders of valid \
         deliveries, one per 10 ms each; {} s alone, then {} s with {FLOODERS} signature-list flooders, \
         {FORGERS} forgers of max-size bodies, {SLOW_BODIES} slow bodies and {PATH_SCANNERS} path scanners",
        journal.display(),
        BASELINE.as_secs(),
        length.as_secs()
    );
    let baseline = Figures::of(measure_valid(address, deliveries, BASELINE)?);
    baseline.print("without the attack");
    print_server_time(&log, "without the attack");

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let attackers = start_attack(address, now, &stop, &tally);
    // Let the flood build up before measuring.
    std::thread::sleep(Duration::from_millis(500));
    let attacked = Figures::of(measure_valid(address, during, length)?);
    stop.store(true, Ordering::Relaxed);
    for attacker in attackers {
        let _ = attacker.join();
    }
    print_tally(tally.take());
    attacked.print("during the attack");
    print_server_time(&log, "during the attack");
    print_journal(&server.metrics()?);

    let stopped = server.terminate()?;
    let _ = std::fs::remove_dir_all(&dir);
    ensure!(
        stopped.success(),
        "the receiver did not stop cleanly: {stopped}"
    );
    ensure!(attacked.sent > 0, "no valid delivery was sent");
    ensure!(
        attacked.failures.is_empty(),
        "{} valid deliveries were not acknowledged",
        attacked.failures.len()
    );
    ensure!(
        attacked.p99 <= P99_GOAL,
        "goal missed: p99 {:.2} ms is over {} ms",
        millis(attacked.p99),
        P99_GOAL.as_millis()
    );
    println!(
        "goal met: every valid delivery acknowledged, p99 <= {} ms",
        P99_GOAL.as_millis()
    );
    Ok(())
}
