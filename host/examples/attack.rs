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
//! It prints what each kind of request was answered, then the valid
//! deliveries' success rate and p50/p99, and fails unless every valid
//! delivery was acknowledged with p99 at most 50 ms.

#[path = "../../tests/support/http.rs"]
#[allow(dead_code)] // the attack needs no downstream
mod http;
#[path = "../../tests/support/receiver.rs"]
#[allow(dead_code)]
mod receiver;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, ensure};
use switchboard_core::{Config, SignInput};

const SWITCHBOARD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/switchboard");
const DEMO_CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/demo/switchboard.toml");

/// The goal for valid deliveries during the attack.
const P99_GOAL: Duration = Duration::from_millis(50);

/// How many threads run each hostile kind, and the valid senders.
const FLOODERS: usize = 2;
const FORGERS: usize = 2;
const SLOW_BODIES: usize = 16;
const PATH_SCANNERS: usize = 2;
const SENDERS: usize = 2;

/// A request to send: path, headers, body.
type Request = (String, Vec<(String, String)>, Vec<u8>);

/// What each kind of request was answered: kind → status (0: no answer,
/// the connection failed) → count.
type Tally = Arc<Mutex<BTreeMap<&'static str, BTreeMap<u16, usize>>>>;

fn count(tally: &Tally, kind: &'static str, status: u16) {
    let mut tally = tally.lock().unwrap_or_else(|e| e.into_inner());
    *tally.entry(kind).or_default().entry(status).or_default() += 1;
}

fn unix_now() -> anyhow::Result<i64> {
    Ok(i64::try_from(
        SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs(),
    )?)
}

/// The precomputed hostile requests: (path, headers, body).
struct Hostile {
    floods: Vec<Request>,
    forged: Vec<Request>,
}

fn hostile(now: i64) -> Hostile {
    let body = vec![b' '; 1_000_000];
    let openphone = vec![format!("hmac;1;{};AAAA", now * 1000); 14_000].join(",");
    let varda = format!("t={now},{}", vec!["v1=00"; 14_000].join(","));
    let forged_signature = format!("t={now},v1={}", "ab".repeat(32));
    Hostile {
        floods: vec![
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
        ],
        forged: vec![
            (
                "/webhooks/varda".to_owned(),
                vec![("X-Varda-Signature".to_owned(), forged_signature.clone())],
                vec![b'{'; 1 << 20],
            ),
            (
                "/webhooks/varda".to_owned(),
                vec![("X-Varda-Signature".to_owned(), forged_signature)],
                vec![b'{'; 2 << 20],
            ),
        ],
    }
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

/// Sends `requests` in turn until `stop`, counting answers under `kind`.
fn hammer(
    address: SocketAddr,
    kind: &'static str,
    requests: Arc<Vec<Request>>,
    stop: Arc<AtomicBool>,
    tally: Tally,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for (path, headers, body) in requests.iter().cycle() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let status =
                http::request(address, "POST", path, headers, body).map_or(0, |r| r.status);
            count(&tally, kind, status);
        }
    })
}

/// Declares 1 MiB and sends 1 KiB every 200 ms until the receiver answers
/// (its read timeout) or `stop`; then starts over.
fn trickle(
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    tally: Tally,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let status = slow_body(address, &stop).unwrap_or(0);
            count(&tally, "slow body", status);
        }
    })
}

fn slow_body(address: SocketAddr, stop: &AtomicBool) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_millis(1)))?;
    stream.write_all(
        b"POST /webhooks/varda HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n",
    )?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        if stream.write_all(&[b' '; 1024]).is_err() {
            break;
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
        if !answer.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(http::parse_response(&answer).map_or(0, |r| r.status))
}

/// Random paths and methods, back to back.
fn scan(
    address: SocketAddr,
    seed: u64,
    stop: Arc<AtomicBool>,
    tally: Tally,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut state = seed | 1;
        while !stop.load(Ordering::Relaxed) {
            // xorshift: no dependency, and the same run each time.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let (method, path) = match state % 4 {
                0 => ("POST", format!("/webhooks/{state:x}")),
                1 => ("GET", format!("/{state:x}/{}", state >> 3)),
                2 => ("PUT", "/webhooks".to_owned()),
                _ => ("POST", format!("/webhooks/{state:x}/../{}", state % 97)),
            };
            let status = http::request(address, method, &path, &[], b"{}").map_or(0, |r| r.status);
            count(&tally, "random path", status);
        }
    })
}

/// Valid deliveries, one every 10 ms, until `stop`: each latency, or why it failed.
fn send_valid(
    address: SocketAddr,
    deliveries: Arc<Vec<Request>>,
    first: usize,
    stop: Arc<AtomicBool>,
    tally: Tally,
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
            let status = response.as_ref().map_or(0, |r| r.status);
            count(&tally, "valid delivery", status);
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

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = match args.iter().position(|a| a == "--seconds") {
        Some(i) => args
            .get(i + 1)
            .context("--seconds takes a number")?
            .parse()?,
        None => 15,
    };
    let seconds = seconds.clamp(1, 120);
    let dir = std::env::temp_dir().join(format!("switchboard-attack-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let config: Config = toml::from_str(&std::fs::read_to_string(DEMO_CONFIG)?)?;
    let server = receiver::Receiver::start(
        SWITCHBOARD,
        DEMO_CONFIG.as_ref(),
        &dir.join("events.ndjson"),
        &["--read-timeout", "10"],
    )
    .with_context(|| format!("starting {SWITCHBOARD} (run `make build` first)"))?;
    let address = server.address;
    let now = unix_now()?;
    let hostile = hostile(now);
    // Enough valid deliveries for the run, at most one per 10 ms per sender.
    let deliveries: Vec<_> = (0..SENDERS * 100 * seconds as usize + SENDERS)
        .map(|n| valid(&config, n, now))
        .collect::<anyhow::Result<_>>()?;
    println!(
        "attack: {seconds} s on {address}: {FLOODERS} signature-list flooders, {FORGERS} forgers of max-size bodies, \
         {SLOW_BODIES} slow bodies, {PATH_SCANNERS} path scanners; {SENDERS} senders of valid deliveries (one per 10 ms each)"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let tally: Tally = Arc::default();
    let floods = Arc::new(hostile.floods);
    let forged = Arc::new(hostile.forged);
    let deliveries = Arc::new(deliveries);
    let mut attackers = Vec::new();
    for _ in 0..FLOODERS {
        attackers.push(hammer(
            address,
            "signature flood",
            Arc::clone(&floods),
            Arc::clone(&stop),
            Arc::clone(&tally),
        ));
    }
    for _ in 0..FORGERS {
        attackers.push(hammer(
            address,
            "forged max-size body",
            Arc::clone(&forged),
            Arc::clone(&stop),
            Arc::clone(&tally),
        ));
    }
    for _ in 0..SLOW_BODIES {
        attackers.push(trickle(address, Arc::clone(&stop), Arc::clone(&tally)));
    }
    for seed in 0..PATH_SCANNERS {
        attackers.push(scan(
            address,
            0x9e37_79b9_7f4a_7c15 + seed as u64,
            Arc::clone(&stop),
            Arc::clone(&tally),
        ));
    }
    // Let the flood build up before measuring.
    std::thread::sleep(Duration::from_millis(500));
    let senders: Vec<_> = (0..SENDERS)
        .map(|first| {
            send_valid(
                address,
                Arc::clone(&deliveries),
                first,
                Arc::clone(&stop),
                Arc::clone(&tally),
            )
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut results = Vec::new();
    for sender in senders {
        results.extend(
            sender
                .join()
                .map_err(|_| anyhow::anyhow!("a sender panicked"))?,
        );
    }
    for attacker in attackers {
        let _ = attacker.join();
    }

    let tally = std::mem::take(&mut *tally.lock().unwrap_or_else(|e| e.into_inner()));
    for (kind, statuses) in &tally {
        let answers: Vec<String> = statuses
            .iter()
            .map(|(status, n)| match status {
                0 => format!("{n} × no answer"),
                status => format!("{n} × {status}"),
            })
            .collect();
        println!("  {kind:>20}: {}", answers.join(", "));
    }
    let mut latencies: Vec<Duration> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    latencies.sort();
    let failures: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    let p50 = percentile(&latencies, 0.50);
    let p99 = percentile(&latencies, 0.99);
    println!(
        "valid deliveries during the attack: {}/{} acknowledged ({:.2} %), p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        results.len(),
        latencies.len() as f64 * 100.0 / results.len().max(1) as f64,
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    for failure in failures.iter().take(5) {
        println!("  refused: {failure}");
    }
    let stopped = server.terminate()?;
    let _ = std::fs::remove_dir_all(&dir);
    ensure!(
        stopped.success(),
        "the receiver did not stop cleanly: {stopped}"
    );
    ensure!(!results.is_empty(), "no valid delivery was sent");
    ensure!(
        failures.is_empty(),
        "{} valid deliveries were not acknowledged",
        failures.len()
    );
    ensure!(p99 <= P99_GOAL, "p99 {p99:?} is over the {P99_GOAL:?} goal");
    println!(
        "goal met: every valid delivery acknowledged, p99 <= {} ms",
        P99_GOAL.as_millis()
    );
    Ok(())
}
