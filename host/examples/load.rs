//! `make load`: a timed load run against `switchboard serve` on loopback,
//! and a crash check.
//!
//! 1. Starts the receiver (the release binary) on a free port with a fresh
//!    journal on disk (fsynced before each `200`, as always) and sends it
//!    unique signed deliveries (all four vendors) over `--connections`
//!    keep-alive connections (32), each sending its next delivery as soon as
//!    the last is answered: `--warmup` seconds (1) not counted, then
//!    `--seconds` (10) measured. Reports requests per second, p50, p99 and
//!    p99.9 latency, the group commit's events per fsync and the CPU time
//!    per request of the receiver and of this client, all over the measured
//!    window alone. Every acknowledged event must be in the journal exactly
//!    once.
//! 2. Runs again on the same journal and kills the receiver with SIGKILL a
//!    second in; restarts it and checks that every event acknowledged in
//!    either run is in the journal exactly once, and that redelivering
//!    acknowledged events now answers `"duplicate": true`.
//!
//! 32 connections is what a receiver behind a load balancer has in flight
//! at the goal's rate: the balancer keeps a pool of keep-alive connections
//! and uses as many as requests are in flight, 20 000/s × about 1.5 ms
//! (Little's law). Fewer cap each group commit lower (a batch holds at most
//! one event per connection); more only queue: on two cores the receiver
//! is CPU-bound, so its throughput stays and every added connection adds
//! its share of latency (p99 grows with them).
//!
//! The receiver's log goes to a file beside the journal, as `2>>file`
//! would have it, rather than to a pipe whose reader wakes for each line.
//! The client is kept cheap, since it shares the cores with the receiver:
//! every delivery is signed and written out as the bytes of its HTTP
//! request before the clock starts, and one thread drives every connection
//! (a current-thread tokio runtime), reading each answer's head and body by
//! its `Content-Length`. Loopback only; every request and the whole run are
//! bounded in time.

#[path = "../../tests/support/http.rs"]
#[allow(dead_code)] // the load run needs no downstream
mod http;

use std::cell::Cell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use serde::Deserialize;
use switchboard_core::{Config, SignInput};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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

/// The most one request may take, connection included, before the run
/// fails.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the killed run sends before the SIGKILL.
const KILL_AFTER: Duration = Duration::from_secs(1);

/// The body of delivery `n` (each one unique, so that none is a duplicate)
/// and its vendor: the four vendors in turn.
fn body(n: usize) -> (&'static str, String) {
    match n % 4 {
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
    }
}

/// Delivery `n`, signed at `now`, as the bytes of its HTTP/1.1 request
/// (keep-alive), appended to `out`.
fn render(config: &Config, n: usize, now: i64, out: &mut Vec<u8>) -> anyhow::Result<()> {
    use std::io::Write as _;
    let (vendor, body) = body(n);
    let settings = &config.vendors[vendor];
    let id = format!("msg_load_{n}");
    let input = SignInput {
        body: body.as_bytes(),
        timestamp: now,
        id: &id,
    };
    let headers = switchboard_core::sign(vendor, &settings.scheme, &settings.secrets[0], input)?;
    write!(
        out,
        "POST /webhooks/{vendor} HTTP/1.1\r\nHost: load\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    )?;
    for (name, value) in &headers {
        write!(out, "{name}: {value}\r\n")?;
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body.as_bytes());
    Ok(())
}

/// Signed deliveries, ready to send: request `i` is
/// `bytes[ends[i - 1]..ends[i]]`, and it is delivery `first + i`.
struct Prepared {
    first: usize,
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Prepared {
    /// Deliveries `range`, each signed at `now`.
    fn new(config: &Config, range: std::ops::Range<usize>, now: i64) -> anyhow::Result<Prepared> {
        let mut prepared = Prepared {
            first: range.start,
            bytes: Vec::with_capacity(range.len() * 640),
            ends: Vec::with_capacity(range.len()),
        };
        for n in range {
            render(config, n, now, &mut prepared.bytes)?;
            prepared.ends.push(prepared.bytes.len());
        }
        Ok(prepared)
    }

    /// Only `indices` of `self`, in that order (for redelivery).
    fn pick(&self, indices: &[usize]) -> Prepared {
        let mut picked = Prepared {
            first: 0,
            bytes: Vec::new(),
            ends: Vec::new(),
        };
        for &i in indices {
            picked.bytes.extend_from_slice(self.request(i));
            picked.ends.push(picked.bytes.len());
        }
        picked
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn request(&self, i: usize) -> &[u8] {
        let start = i.checked_sub(1).map_or(0, |before| self.ends[before]);
        &self.bytes[start..self.ends[i]]
    }
}

struct Server {
    child: Child,
    address: SocketAddr,
}

/// A run that fails leaves no receiver behind (one already stopped or
/// killed is only waited for).
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    let (child, address) =
        http::start_receiver_logging_to(SWITCHBOARD, &args, &dir.join("receiver.log"))
            .with_context(|| format!("starting {SWITCHBOARD} (run `make build` first)"))?;
    Ok(Server { child, address })
}

/// When a run counts: answers that arrive from `start` to `end`; nothing
/// is sent after `end`.
#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

/// What one run came to.
#[derive(Default)]
struct Run {
    /// Event id → the index of the delivery acknowledged with it.
    acknowledged: HashMap<String, usize>,
    /// Acknowledged as duplicates.
    duplicates: usize,
    /// Latencies of the answers in the window, in microseconds.
    latencies: Vec<u32>,
    /// Connections that ended on an error or a status other than `200`.
    failed: usize,
    /// The first failure, for the report.
    failure: Option<String>,
    /// Whether every prepared delivery was sent before the window ended.
    ran_out: bool,
}

/// The receiver's answer to a delivery, as much as the run needs.
#[derive(Deserialize)]
struct Ack {
    id: String,
    #[serde(default)]
    duplicate: bool,
}

/// Sends `prepared` over `connections` connections, from one thread, until
/// the window ends, `stop` is set or the deliveries run out.
fn run(
    address: SocketAddr,
    prepared: &Rc<Prepared>,
    connections: usize,
    window: Window,
    stop: &Arc<AtomicBool>,
) -> Run {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return Run {
                failed: connections,
                failure: Some(format!("no runtime: {e}")),
                ..Run::default()
            };
        }
    };
    let next = Rc::new(Cell::new(0usize));
    let local = tokio::task::LocalSet::new();
    let tallies = local.block_on(&runtime, async {
        let tasks: Vec<_> = (0..connections)
            .map(|_| {
                let sender = Sender {
                    address,
                    prepared: Rc::clone(prepared),
                    next: Rc::clone(&next),
                    window,
                    stop: Arc::clone(stop),
                };
                tokio::task::spawn_local(sender.send())
            })
            .collect();
        let mut tallies = Vec::with_capacity(tasks.len());
        for task in tasks {
            tallies.push(task.await.unwrap_or_else(|e| Run {
                failed: 1,
                failure: Some(format!("a connection's task failed: {e}")),
                ..Run::default()
            }));
        }
        tallies
    });
    let mut total = Run {
        ran_out: next.get() >= prepared.len(),
        ..Run::default()
    };
    for tally in tallies {
        total.acknowledged.extend(tally.acknowledged);
        total.duplicates += tally.duplicates;
        total.latencies.extend(tally.latencies);
        total.failed += tally.failed;
        total.failure = total.failure.or(tally.failure);
    }
    total.latencies.sort_unstable();
    total
}

/// One keep-alive connection, and what it shares with the others.
struct Sender {
    address: SocketAddr,
    prepared: Rc<Prepared>,
    /// The next delivery to send, whichever connection sends it.
    next: Rc<Cell<usize>>,
    window: Window,
    stop: Arc<AtomicBool>,
}

impl Sender {
    /// Sends the next delivery as soon as the last is answered, until the
    /// window's end, `stop`, the deliveries running out, or the first
    /// failure.
    async fn send(self) -> Run {
        let mut tally = Run::default();
        let mut stream = None;
        let mut buffer = Vec::with_capacity(1024);
        loop {
            if self.stop.load(Ordering::Relaxed) || Instant::now() >= self.window.end {
                break;
            }
            let i = self.next.get();
            if i >= self.prepared.len() {
                break;
            }
            self.next.set(i + 1);
            let delivery = self.prepared.first + i;
            let sent = Instant::now();
            let answer = tokio::time::timeout(
                REQUEST_TIMEOUT,
                exchange(
                    &mut stream,
                    self.address,
                    self.prepared.request(i),
                    &mut buffer,
                ),
            )
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer within {REQUEST_TIMEOUT:?}")));
            let answered = Instant::now();
            match answer.and_then(|(status, body)| acknowledgement(status, body)) {
                Ok(ack) => {
                    if (self.window.start..self.window.end).contains(&answered) {
                        let micros = answered.duration_since(sent).as_micros();
                        tally
                            .latencies
                            .push(u32::try_from(micros).unwrap_or(u32::MAX));
                    }
                    tally.duplicates += usize::from(ack.duplicate);
                    tally.acknowledged.insert(ack.id, delivery);
                }
                Err(e) => {
                    tally.failed += 1;
                    tally.failure = Some(format!("delivery {delivery}: {e:#}"));
                    break;
                }
            }
        }
        tally
    }
}

/// The `200` answer's id, else why not.
fn acknowledgement(status: u16, body: &[u8]) -> anyhow::Result<Ack> {
    ensure!(
        status == 200,
        "answered {status} {}",
        String::from_utf8_lossy(body)
    );
    serde_json::from_slice(body).context("an answer that is not the acknowledgement")
}

/// Sends one request over `stream` (connecting first if there is none) and
/// reads its answer into `buffer`: the status and the body. A connection
/// the receiver closes is dropped, for the next request to open another.
async fn exchange<'b>(
    stream: &mut Option<TcpStream>,
    address: SocketAddr,
    request: &[u8],
    buffer: &'b mut Vec<u8>,
) -> anyhow::Result<(u16, &'b [u8])> {
    let connected = match stream {
        Some(connected) => connected,
        None => {
            let connected = TcpStream::connect(address).await?;
            connected.set_nodelay(true)?;
            stream.insert(connected)
        }
    };
    connected.write_all(request).await?;
    buffer.clear();
    let (status, head, length, close) = loop {
        if connected.read_buf(buffer).await? == 0 {
            bail!("the connection closed before the answer");
        }
        if let Some(parsed) = parse_head(buffer)? {
            break parsed;
        }
    };
    while buffer.len() < head + length {
        if connected.read_buf(buffer).await? == 0 {
            bail!("the connection closed in the answer's body");
        }
    }
    if close {
        *stream = None;
    }
    Ok((status, &buffer[head..head + length]))
}

/// The status, the head's length, the body's `Content-Length` and whether
/// the receiver closes the connection, once the whole head is in `buffer`.
fn parse_head(buffer: &[u8]) -> anyhow::Result<Option<(u16, usize, usize, bool)>> {
    let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buffer[..end]).context("a head that is not text")?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .context("no status line")?;
    let (mut length, mut close) = (0, false);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().context("a bad Content-Length")?;
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.trim().eq_ignore_ascii_case("close");
        }
    }
    Ok(Some((status, end + 4, length, close)))
}

/// How many times each event id appears in the journal.
fn journal_counts(dir: &Path) -> anyhow::Result<HashMap<String, usize>> {
    #[derive(Deserialize)]
    struct Id {
        id: String,
    }
    let mut counts = HashMap::new();
    for line in std::fs::read_to_string(dir.join("events.ndjson"))?.lines() {
        let event: Id = serde_json::from_str(line).context("a journal line is not an event")?;
        *counts.entry(event.id).or_default() += 1;
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

/// The `p` quantile of sorted microseconds, in milliseconds.
fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    f64::from(sorted[((sorted.len() - 1) as f64 * p).round() as usize]) / 1e3
}

/// The command line.
struct Flags {
    /// Measured seconds.
    seconds: u64,
    /// Seconds sent first and not counted.
    warmup: u64,
    /// Keep-alive connections.
    connections: usize,
    /// The most requests per second the prepared deliveries last for.
    max_rate: usize,
    /// Where the journal's directory is made.
    journal_dir: PathBuf,
}

/// `--seconds` (10, 1 to 600), `--warmup` (1, 0 to 60), `--connections`
/// (32, 1 to 256: the receiver's default connection limit), `--max-rate`
/// (40 000, 1 000 to 200 000) and `--journal-dir` (the system's temporary
/// directory, on disk here; a tmpfs such as `/dev/shm` takes the disk out
/// of the run, to compare the receiver's CPU alone).
fn flags() -> anyhow::Result<Flags> {
    let mut flags = Flags {
        seconds: 10,
        warmup: 1,
        connections: 32,
        max_rate: 40_000,
        journal_dir: std::env::temp_dir(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let given = args
            .next()
            .with_context(|| format!("{arg} without its value"))?;
        if arg == "--journal-dir" {
            flags.journal_dir = given.into();
            continue;
        }
        let value: u64 = given
            .parse()
            .with_context(|| format!("{arg} takes a number"))?;
        match arg.as_str() {
            "--seconds" => flags.seconds = value.clamp(1, 600),
            "--warmup" => flags.warmup = value.min(60),
            "--connections" => flags.connections = value.clamp(1, 256) as usize,
            "--max-rate" => flags.max_rate = value.clamp(1_000, 200_000) as usize,
            other => bail!(
                "unknown flag {other} (--seconds S, --warmup S, --connections N, --max-rate R, --journal-dir DIR)"
            ),
        }
    }
    Ok(flags)
}

/// The counters of the receiver's `/metrics` that the report uses.
#[derive(Clone, Copy, Default)]
struct Counters {
    fsyncs: f64,
    fsync_seconds: f64,
    events: f64,
}

fn counters(address: SocketAddr) -> anyhow::Result<Counters> {
    let metrics = http::request(address, "GET", "/metrics", &[], b"")?.body;
    let metric = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    };
    Ok(Counters {
        fsyncs: metric("switchboard_sink_write_seconds_count"),
        fsync_seconds: metric("switchboard_sink_write_seconds_sum"),
        events: metric("switchboard_sink_events_total"),
    })
}

/// CPU time (user and system) a process has used, from `/proc`.
fn cpu_time(pid: &str) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command's closing parenthesis; utime and stime
    // are the 14th and 15th of the whole line, in clock ticks (USER_HZ,
    // 100 on Linux).
    let after = stat.rsplit_once(')').context("a stat line")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    Ok(Duration::from_millis(ticks * 10))
}

/// What is read at both ends of the measured window.
struct Snapshot {
    counters: Counters,
    receiver_cpu: Duration,
    client_cpu: Duration,
}

fn snapshot(server: &Server) -> anyhow::Result<Snapshot> {
    Ok(Snapshot {
        counters: counters(server.address)?,
        receiver_cpu: cpu_time(&server.child.id().to_string())?,
        client_cpu: cpu_time("self")?,
    })
}

/// Run 1: the warm-up, then the measured window, with the group commit's
/// figures and the CPU time taken between the window's ends (snapshots
/// taken by a thread of their own); every delivery acknowledged once and
/// in the journal exactly once.
fn first_run(
    server: &Server,
    dir: &Path,
    prepared: &Rc<Prepared>,
    flags: &Flags,
) -> anyhow::Result<Run> {
    let now = Instant::now();
    let window = Window {
        start: now + Duration::from_secs(flags.warmup),
        end: now + Duration::from_secs(flags.warmup + flags.seconds),
    };
    let never = Arc::new(AtomicBool::new(false));
    let (one, snapshots) = std::thread::scope(|scope| {
        let snapshots = scope.spawn(|| -> anyhow::Result<(Snapshot, Snapshot)> {
            std::thread::sleep(window.start.saturating_duration_since(Instant::now()));
            let before = snapshot(server)?;
            std::thread::sleep(window.end.saturating_duration_since(Instant::now()));
            Ok((before, snapshot(server)?))
        });
        let one = run(server.address, prepared, flags.connections, window, &never);
        (one, snapshots.join())
    });
    let (before, after) = snapshots.map_err(|_| anyhow::anyhow!("the snapshots panicked"))??;
    if let Some(failure) = &one.failure {
        bail!(
            "{} connections failed without a crash: {failure}",
            one.failed
        );
    }
    ensure!(
        !one.ran_out,
        "the {} prepared deliveries ran out before the window ended: raise --max-rate",
        prepared.len()
    );
    ensure!(one.duplicates == 0, "unique deliveries answered duplicate");
    let measured = window.end.duration_since(window.start).as_secs_f64();
    let counted = one.latencies.len();
    println!(
        "run 1: {counted} requests answered 200 in the {measured:.0} s window: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms (max {:.2} ms)",
        counted as f64 / measured,
        percentile(&one.latencies, 0.50),
        percentile(&one.latencies, 0.99),
        percentile(&one.latencies, 0.999),
        percentile(&one.latencies, 1.0),
    );
    let fsyncs = after.counters.fsyncs - before.counters.fsyncs;
    let events = after.counters.events - before.counters.events;
    println!(
        "run 1: group commit: {fsyncs:.0} fsyncs for {events:.0} events ({:.1} events per fsync, mean {:.2} ms per write+fsync)",
        events / fsyncs.max(1.0),
        (after.counters.fsync_seconds - before.counters.fsync_seconds) / fsyncs.max(1.0) * 1e3,
    );
    let per_request = |cpu: Duration| cpu.as_secs_f64() * 1e6 / counted.max(1) as f64;
    let receiver = after.receiver_cpu.saturating_sub(before.receiver_cpu);
    let client = after.client_cpu.saturating_sub(before.client_cpu);
    println!(
        "run 1: CPU per request: receiver {:.0} µs, client {:.0} µs (busy: receiver {:.0}%, client {:.0}% of one core)",
        per_request(receiver),
        per_request(client),
        receiver.as_secs_f64() / measured * 100.0,
        client.as_secs_f64() / measured * 100.0,
    );
    let events = check_exactly_once(dir, &one.acknowledged)?;
    println!(
        "run 1: the journal holds {events} events (warm-up included), each acknowledged one exactly once"
    );
    Ok(one)
}

/// Run 2: the receiver is killed with SIGKILL after [`KILL_AFTER`], while
/// the deliveries are being sent.
fn killed_run(
    server: &mut Server,
    prepared: &Rc<Prepared>,
    connections: usize,
) -> anyhow::Result<Run> {
    let stop = Arc::new(AtomicBool::new(false));
    let pid = server.child.id();
    let now = Instant::now();
    let window = Window {
        start: now,
        end: now + KILL_AFTER + REQUEST_TIMEOUT,
    };
    let (two, killed) = std::thread::scope(|scope| {
        let killer = scope.spawn(|| {
            std::thread::sleep(KILL_AFTER);
            let killed = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
            std::thread::sleep(Duration::from_millis(200));
            stop.store(true, Ordering::Relaxed);
            killed
        });
        let two = run(server.address, prepared, connections, window, &stop);
        (two, killer.join())
    });
    match killed {
        Ok(Ok(status)) if status.success() => {}
        _ => bail!("could not SIGKILL the receiver"),
    }
    let _ = server.child.wait();
    ensure!(
        !two.ran_out,
        "the prepared deliveries ran out before the kill: raise --max-rate"
    );
    println!(
        "run 2: SIGKILL after {:.2} s: {} acknowledged before the kill, {} connections cut off",
        KILL_AFTER.as_secs_f64(),
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
    second: &Prepared,
) -> anyhow::Result<()> {
    let events = check_exactly_once(dir, acknowledged)?;
    println!(
        "after restart: the journal holds {events} events; all {} acknowledged are there exactly once",
        acknowledged.len()
    );
    let indices: Vec<usize> = two
        .acknowledged
        .values()
        .take(50)
        .map(|n| n - second.first)
        .collect();
    let again = Rc::new(second.pick(&indices));
    let now = Instant::now();
    let window = Window {
        start: now,
        end: now + REQUEST_TIMEOUT,
    };
    let never = Arc::new(AtomicBool::new(false));
    let redelivered = run(server.address, &again, 1, window, &never);
    if let Some(failure) = &redelivered.failure {
        bail!("a redelivery failed: {failure}");
    }
    ensure!(
        redelivered.duplicates == indices.len(),
        "{} of {} redeliveries answered duplicate",
        redelivered.duplicates,
        indices.len()
    );
    ensure!(
        check_exactly_once(dir, acknowledged)? == events,
        "redeliveries were written again"
    );
    println!(
        "after restart: {} redeliveries of acknowledged events answered duplicate, nothing written",
        redelivered.duplicates
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let flags = flags()?;
    let dir: PathBuf = flags
        .journal_dir
        .join(format!("switchboard-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("load.toml"), CONFIG)?;
    let config: Config = toml::from_str(CONFIG)?;
    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())?;
    // Enough for the whole run at --max-rate, then for the killed run.
    let first = flags.max_rate * (flags.seconds + flags.warmup) as usize;
    let second = flags.max_rate * 2 * KILL_AFTER.as_secs() as usize;
    let signing = Instant::now();
    let one_deliveries = Rc::new(Prepared::new(&config, 0..first, now)?);
    let two_deliveries = Rc::new(Prepared::new(&config, first..first + second, now)?);
    println!(
        "load: {} deliveries signed in {:.1} s (4 vendors, each body unique, {} MB); {} keep-alive connections; {} s warm-up, then {} s measured; journal {} (fsynced before each 200)",
        first + second,
        signing.elapsed().as_secs_f64(),
        (one_deliveries.bytes.len() + two_deliveries.bytes.len()) >> 20,
        flags.connections,
        flags.warmup,
        flags.seconds,
        dir.display()
    );
    let mut server = start(&dir)?;
    let one = first_run(&server, &dir, &one_deliveries, &flags)?;
    drop(one_deliveries);
    let two = killed_run(&mut server, &two_deliveries, flags.connections)?;
    server = start(&dir)?;
    let mut acknowledged = one.acknowledged;
    acknowledged.extend(two.acknowledged.iter().map(|(id, n)| (id.clone(), *n)));
    check_after_restart(&server, &dir, &acknowledged, &two, &two_deliveries)?;
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(server.child.id().to_string())
        .status();
    let _ = server.child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
