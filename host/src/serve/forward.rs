//! Forwarding: every event in the journal is POSTed downstream as a
//! structured CloudEvent (`Content-Type: application/cloudevents+json`).
//!
//! The vendor is acknowledged once the event is durable in the journal (the
//! spool), never later, so a slow or absent downstream never makes a vendor
//! wait or retry. This task then reads the journal in order from a persisted
//! offset (`<journal>.forwarded`) and delivers each event:
//!
//! - **Streaming, below the durable length.** The journal is read line by
//!   line through a 64 KiB buffer, never past the length the writer last
//!   fsynced ([`Durable`]), so a line being written, torn or rolled back is
//!   never read. A line longer than [`max_line`] (4 × the body limit + 64
//!   KiB) is not buffered: it is skipped and recorded in the dead-letter file
//!   by its offset and length.
//! - **Retries.** A 2xx is accepted. A 5xx, 408, 429, a network error or no
//!   answer within 10 s is retried with exponential backoff (100 ms doubling
//!   to 30 s; a `Retry-After` in seconds is honoured up to 30 s), for as long
//!   as it takes; each retry is logged with the event id, the attempt and the
//!   next delay.
//! - **Dead letters.** Any other answer (a 4xx but 408 and 429, a 3xx) is a
//!   permanent refusal: the event is appended to `<journal>.dead` (NDJSON:
//!   the time, the status, the reason, the first 512 bytes of the answer,
//!   the event's offset and length in the journal, and the event) and
//!   forwarding goes on with the next one.
//! - **The offset** is replaced durably (temporary file, fsync, rename,
//!   fsync of the directory) whenever the backlog is drained, at least every
//!   second while it is not, and at shutdown; it only ever names the end of
//!   a line below the durable length. Delivery is at least once: after a
//!   crash, events after the last persisted offset (at most about a second's
//!   worth, or the one in flight) are sent again, so the downstream should
//!   deduplicate on the CloudEvent's `source` and `id`.
//! - At shutdown the forwarder abandons the attempt in flight, persists its
//!   offset and logs how many events are left for the next start.
//!
//! Plain `http://` only.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Take, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, RETRY_AFTER};
use hyper::{StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::journal::Durable;
use super::metrics::Metrics;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a refusal's body the dead letter keeps, and how long it may
/// take to arrive.
const EXCERPT_BYTES: usize = 512;
const EXCERPT_TIMEOUT: Duration = Duration::from_secs(2);
/// The journal is read through a buffer of this size.
const READ_BUFFER: usize = 64 * 1024;
/// While the backlog is not drained, the offset is persisted this often.
const PERSIST_EVERY: Duration = Duration::from_secs(1);

/// The longest journal line that is forwarded: 4 × the body limit + 64 KiB.
/// An event repeats parts of its body (`raw`, `data`, an id in `source`), so
/// no event the receiver accepted comes near it; a longer line is
/// dead-lettered by offset instead of being read into memory.
pub fn max_line(body_limit: usize) -> usize {
    body_limit.saturating_mul(4).saturating_add(64 * 1024)
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// A running forwarder.
#[derive(Debug)]
pub struct Forwarder {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Forwarder {
    /// A forwarder running as `task`, stopped through `stop`.
    pub(super) fn new(stop: watch::Sender<bool>, task: JoinHandle<()>) -> Forwarder {
        Forwarder { stop, task }
    }

    /// Stops forwarding: abandons the attempt in flight (it is sent again at
    /// the next start), persists the offset and logs what is left.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the forwarder failed");
        }
    }
}

/// Starts forwarding `journal`, up to its `durable` length, to `url`.
pub fn spawn(
    url: Uri,
    journal: PathBuf,
    durable: watch::Receiver<Durable>,
    body_limit: usize,
    metrics: Arc<Metrics>,
) -> Forwarder {
    let (stop, stopped) = watch::channel(false);
    let forwarding = Forwarding {
        downstream: Downstream::new(url),
        offset: Offset {
            path: sibling(&journal, ".forwarded"),
            written: None,
            at: Instant::now(),
        },
        dead: sibling(&journal, ".dead"),
        journal,
        durable,
        max_line: max_line(body_limit),
        metrics,
        stop: stopped,
    };
    Forwarder {
        stop,
        task: tokio::spawn(forwarding.run()),
    }
}

struct Forwarding {
    downstream: Downstream,
    journal: PathBuf,
    offset: Offset,
    dead: PathBuf,
    durable: watch::Receiver<Durable>,
    max_line: usize,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
}

/// The persisted offset: where it is, what was last written and when.
struct Offset {
    path: PathBuf,
    written: Option<u64>,
    at: Instant,
}

/// How one event ended.
enum Done {
    /// Forwarded, or dead-lettered.
    Yes,
    /// Asked to stop first.
    Stopped,
}

impl Forwarding {
    async fn run(mut self) {
        let Some((mut backlog, mut position)) = self.open().await else {
            return;
        };
        self.metrics
            .forwarded_through(position.bytes, position.lines);
        let mut read_backoff = FIRST_BACKOFF;
        loop {
            if *self.stop.borrow() {
                break;
            }
            backlog.allow(self.durable.borrow_and_update().bytes);
            let read;
            (backlog, read) = blocking(move || {
                let read = backlog.next();
                (backlog, read)
            })
            .await;
            let item = match read {
                Ok(Some(item)) => item,
                Ok(None) => {
                    // Drained: persist, then wait for the next commit.
                    self.persist(position.bytes).await;
                    let closed = tokio::select! {
                        changed = self.durable.changed() => changed.is_err(),
                        _ = self.stop.wait_for(|&stop| stop) => break,
                    };
                    if closed {
                        // The writer is gone: nothing more will come.
                        let _ = self.stop.wait_for(|&stop| stop).await;
                        break;
                    }
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the journal to forward it; retrying");
                    if pause(&mut self.stop, read_backoff).await {
                        break;
                    }
                    read_backoff = (read_backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            read_backoff = FIRST_BACKOFF;
            let end = item.end();
            let done = match item {
                Item::Line { text, start, end } => self.forward(text, start, end - start - 1).await,
                Item::TooLong { start, length, .. } => {
                    let reason = format!(
                        "the journal line is {length} bytes, over the {} byte limit; \
                         it was not read: it is at offset {start} of the journal",
                        self.max_line
                    );
                    tracing::error!(offset = start, length, "{reason}; dead-lettered");
                    let letter = letter(None, start, length, None, &reason, None);
                    self.dead_letter(letter).await
                }
            };
            if let Done::Stopped = done {
                break;
            }
            position = Durable {
                bytes: end,
                lines: position.lines + 1,
            };
            self.metrics
                .forwarded_through(position.bytes, position.lines);
            if self.offset.at.elapsed() >= PERSIST_EVERY {
                self.persist(position.bytes).await;
            }
        }
        self.persist(position.bytes).await;
        let durable = *self.durable.borrow();
        let events = durable.lines.saturating_sub(position.lines);
        let bytes = durable.bytes.saturating_sub(position.bytes);
        tracing::info!(
            events,
            bytes,
            "forwarding stopped: {events} events not yet forwarded (sent at the next start)"
        );
    }

    /// Opens the journal at the persisted offset, retrying until it opens or
    /// the forwarder is stopped; also returns the position of the offset.
    async fn open(&mut self) -> Option<(Backlog<File>, Durable)> {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let durable = *self.durable.borrow_and_update();
            let (journal, offset, max_line) = (
                self.journal.clone(),
                self.offset.path.clone(),
                self.max_line,
            );
            match blocking(move || open_backlog(&journal, &offset, durable, max_line)).await {
                Ok(opened) => return Some(opened),
                Err(e) => {
                    tracing::error!(
                        error = %e,
                        journal = %self.journal.display(),
                        "cannot open the journal to forward it; retrying"
                    );
                }
            }
            if pause(&mut self.stop, backoff).await {
                return None;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Sends one journal line (at `start`, `length` bytes) until the
    /// downstream accepts it, or dead-letters it if refused for good.
    async fn forward(&mut self, text: Vec<u8>, start: u64, length: u64) -> Done {
        #[derive(Deserialize)]
        struct Head {
            id: String,
        }
        let id = match serde_json::from_slice::<Head>(&text) {
            Ok(head) => shown(&head.id),
            Err(e) => {
                let reason = format!("the journal line is not a CloudEvent: {e}");
                tracing::error!(offset = start, "{reason}; dead-lettered");
                return self
                    .dead_letter(letter(Some(&text), start, length, None, &reason, None))
                    .await;
            }
        };
        let body = Bytes::from(text);
        let sent = self
            .downstream
            .deliver(body.clone(), &id, None, &mut self.stop, Some(&self.metrics))
            .await;
        let (status, reason, excerpt) = match sent {
            Sent::Accepted => return Done::Yes,
            Sent::Stopped => return Done::Stopped,
            Sent::Refused {
                status,
                excerpt,
                attempts,
            } => {
                tracing::warn!(
                    id = %id,
                    attempt = attempts,
                    status = status.as_u16(),
                    "the downstream refused an event for good; dead-lettered"
                );
                let reason = format!("the downstream answered {status}");
                (Some(status.as_u16()), reason, Some(excerpt))
            }
            // Not with unlimited attempts; dead-lettered all the same.
            Sent::GaveUp { reason, .. } => (None, reason, None),
        };
        let letter = letter(
            Some(&body),
            start,
            length,
            status,
            &reason,
            excerpt.as_deref(),
        );
        self.dead_letter(letter).await
    }

    /// Appends `letter` to the dead-letter file, retrying until it is
    /// durable or the forwarder is stopped.
    async fn dead_letter(&mut self, letter: String) -> Done {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let (path, record) = (self.dead.clone(), letter.clone());
            match blocking(move || append_line(&path, &record)).await {
                Ok(()) => {
                    self.metrics.dead_letter();
                    return Done::Yes;
                }
                Err(e) => tracing::error!(
                    error = %e,
                    path = %self.dead.display(),
                    "cannot write the dead-letter file; retrying"
                ),
            }
            if pause(&mut self.stop, backoff).await {
                return Done::Stopped;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Replaces the persisted offset with `offset`, unless it already says
    /// so. A failure is logged; the next call tries again.
    async fn persist(&mut self, offset: u64) {
        if self.offset.written == Some(offset) {
            return;
        }
        let path = self.offset.path.clone();
        match blocking(move || write_offset(&path, offset)).await {
            Ok(()) => self.offset.written = Some(offset),
            Err(e) => {
                tracing::warn!(error = %e, path = %self.offset.path.display(), "cannot persist the forwarding offset");
            }
        }
        self.offset.at = Instant::now();
    }
}

/// Runs blocking file work off the async workers.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// Sleeps for `delay`; true if the forwarder was stopped meanwhile.
async fn pause(stop: &mut watch::Receiver<bool>, delay: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(delay) => false,
        _ = stop.wait_for(|&stop| stop) => true,
    }
}

/// A downstream events are POSTed to: the one HTTP client, retry policy
/// and classification of both the receiver's forwarder and `switchboard
/// forward`.
#[derive(Debug)]
pub struct Downstream {
    client: HttpClient,
    url: Uri,
}

/// How one event's delivery ended.
#[derive(Debug)]
pub enum Sent {
    /// A 2xx.
    Accepted,
    /// Refused for good (a 4xx but 408 and 429, a 3xx), at the `attempts`-th
    /// attempt.
    Refused {
        /// The downstream's status.
        status: StatusCode,
        /// The first bytes of its answer.
        excerpt: String,
        /// Attempts made.
        attempts: u32,
    },
    /// Every attempt allowed failed with a retryable answer or error.
    GaveUp {
        /// Why the last one failed.
        reason: String,
        /// Attempts made.
        attempts: u32,
    },
    /// Asked to stop first.
    Stopped,
}

impl Downstream {
    /// A downstream at `url` (`http://`).
    pub fn new(url: Uri) -> Downstream {
        Downstream {
            client: Client::builder(TokioExecutor::new()).build_http(),
            url,
        }
    }

    /// POSTs `body` (the event with id `id`, as logged) until the
    /// downstream accepts or refuses it for good, retrying a 5xx, 408, 429,
    /// a network error or no answer within 10 s with exponential backoff
    /// (100 ms doubling to 30 s, a `Retry-After` honoured up to 30 s), at
    /// most `attempts` times (`None`: for as long as it takes), or until
    /// `stop`. Each retry is logged; each attempt counted in `metrics`.
    pub async fn deliver(
        &self,
        body: Bytes,
        id: &str,
        attempts: Option<u32>,
        stop: &mut watch::Receiver<bool>,
        metrics: Option<&Metrics>,
    ) -> Sent {
        let count = |ok: bool| {
            if let Some(metrics) = metrics {
                metrics.forward(ok);
            }
        };
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let answer = tokio::select! {
                answer = send(&self.client, &self.url, body.clone()) => answer,
                _ = stop.wait_for(|&stop| stop) => return Sent::Stopped,
            };
            let (why, retry_after) = match answer {
                Ok(Answer::Accepted) => {
                    count(true);
                    return Sent::Accepted;
                }
                Ok(Answer::Refused { status, excerpt }) => {
                    count(false);
                    return Sent::Refused {
                        status,
                        excerpt,
                        attempts: attempt,
                    };
                }
                Ok(Answer::Retry { status, after }) => {
                    (format!("the downstream answered {status}"), after)
                }
                Err(why) => (why, None),
            };
            count(false);
            if attempts.is_some_and(|most| attempt >= most) {
                return Sent::GaveUp {
                    reason: why,
                    attempts: attempt,
                };
            }
            let delay = retry_after.map_or(backoff, |after| after.clamp(backoff, MAX_BACKOFF));
            tracing::warn!(
                id = %id,
                attempt,
                next_delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                reason = %why,
                "forwarding failed; retrying"
            );
            if pause(stop, delay).await {
                return Sent::Stopped;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// What the downstream made of one attempt.
#[derive(Debug)]
enum Answer {
    /// 2xx.
    Accepted,
    /// 5xx, 408 or 429: try again (not before `after`, if it said).
    Retry {
        status: StatusCode,
        after: Option<Duration>,
    },
    /// Anything else: it will never take this event.
    Refused { status: StatusCode, excerpt: String },
}

/// What a status means for the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Accepted,
    Retry,
    Refused,
}

fn class(status: StatusCode) -> Class {
    if status.is_success() {
        Class::Accepted
    } else if status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        Class::Retry
    } else {
        Class::Refused
    }
}

/// One attempt; `Err` says why there was no answer.
async fn send(client: &HttpClient, url: &Uri, body: Bytes) -> Result<Answer, String> {
    let request = hyper::Request::post(url.clone())
        .header(CONTENT_TYPE, "application/cloudevents+json")
        .body(Full::new(body))
        .map_err(|e| format!("cannot build the request: {e}"))?;
    let response = match tokio::time::timeout(ATTEMPT_TIMEOUT, client.request(request)).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => return Err(format!("the downstream is unreachable: {}", chain(&e))),
        Err(_) => {
            return Err(format!(
                "the downstream did not answer within {} s",
                ATTEMPT_TIMEOUT.as_secs()
            ));
        }
    };
    let status = response.status();
    Ok(match class(status) {
        Class::Accepted => Answer::Accepted,
        Class::Retry => Answer::Retry {
            status,
            after: response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok())
                .map(Duration::from_secs),
        },
        Class::Refused => Answer::Refused {
            status,
            excerpt: excerpt(response.into_body()).await,
        },
    })
}

/// The first [`EXCERPT_BYTES`] of a body (lossy UTF-8), whatever arrived
/// within [`EXCERPT_TIMEOUT`].
async fn excerpt(mut body: Incoming) -> String {
    let mut kept = Vec::new();
    let _ = tokio::time::timeout(EXCERPT_TIMEOUT, async {
        while kept.len() < EXCERPT_BYTES {
            let Some(Ok(frame)) = body.frame().await else {
                break;
            };
            if let Ok(data) = frame.into_data() {
                let room = EXCERPT_BYTES - kept.len();
                kept.extend_from_slice(&data[..data.len().min(room)]);
            }
        }
    })
    .await;
    String::from_utf8_lossy(&kept).into_owned()
}

/// An event id as logged: quoted and escaped (it comes from a sender), and
/// cut at 128 characters.
pub fn shown(id: &str) -> String {
    const MAX: usize = 128;
    match id.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}…", &id[..cut]),
        None => format!("{id:?}"),
    }
}

/// An error and its sources, `: `-separated.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// One dead-letter record: when, the status (if the downstream answered),
/// why, the start of its answer, where the event is in the journal, and the
/// event (as JSON when it is, as text otherwise, `null` if not read).
fn letter(
    event: Option<&[u8]>,
    offset: u64,
    length: u64,
    status: Option<u16>,
    reason: &str,
    response: Option<&str>,
) -> String {
    let event = event.map(|text| {
        serde_json::from_slice::<Value>(text)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(text).into_owned()))
    });
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    json!({
        "time": switchboard_core::time::from_unix_number(millis),
        "status": status,
        "reason": reason,
        "response": response,
        "offset": offset,
        "length": length,
        "event": event,
    })
    .to_string()
}

/// `<journal><suffix>`.
pub fn sibling(journal: &Path, suffix: &str) -> PathBuf {
    let mut name = journal.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The journal, positioned at the persisted offset (checked against the
/// journal), and that position: the offset and the lines below it.
fn open_backlog(
    journal: &Path,
    offset_path: &Path,
    durable: Durable,
    max_line: usize,
) -> std::io::Result<(Backlog<File>, Durable)> {
    let mut file = File::open(journal)?;
    let offset = start_offset(&mut file, read_offset(offset_path), durable.bytes)?;
    file.seek(SeekFrom::Start(offset))?;
    let pending = count_lines((&mut file).take(durable.bytes - offset))?;
    file.seek(SeekFrom::Start(offset))?;
    let position = Durable {
        bytes: offset,
        lines: durable.lines.saturating_sub(pending),
    };
    tracing::info!(
        journal = %journal.display(),
        offset,
        events = pending,
        "forwarding from offset {offset}: {pending} events to send"
    );
    Ok((Backlog::new(file, offset, max_line), position))
}

/// The persisted offset; 0 (from the start) if there is none or it is not
/// a number.
fn read_offset(path: &Path) -> u64 {
    match std::fs::read_to_string(path) {
        Ok(text) => text.trim().parse().unwrap_or_else(|_| {
            tracing::warn!(path = %path.display(), "the forwarding offset is not a number; forwarding the journal from its start");
            0
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => {
            tracing::warn!(error = %e, path = %path.display(), "cannot read the forwarding offset; forwarding the journal from its start");
            0
        }
    }
}

/// `stored` if it is the start of a line within the durable journal, else 0:
/// an offset past the end or inside a line means the journal was replaced or
/// cut, and resending (at least once) is better than losing events.
fn start_offset(journal: &mut File, stored: u64, durable: u64) -> std::io::Result<u64> {
    if stored == 0 {
        return Ok(0);
    }
    if stored > durable {
        tracing::warn!(
            offset = stored,
            journal_bytes = durable,
            "the forwarding offset is past the end of the journal; forwarding the journal from its start"
        );
        return Ok(0);
    }
    let mut before = [0u8];
    journal.seek(SeekFrom::Start(stored - 1))?;
    journal.read_exact(&mut before)?;
    if before != *b"\n" {
        tracing::warn!(
            offset = stored,
            "the forwarding offset is not at the start of a line; forwarding the journal from its start"
        );
        return Ok(0);
    }
    Ok(stored)
}

/// The newlines in `reader`, read through a bounded buffer.
fn count_lines(reader: impl Read) -> std::io::Result<u64> {
    let mut reader = BufReader::with_capacity(READ_BUFFER, reader);
    let mut lines = 0;
    loop {
        let chunk = match reader.fill_buf() {
            Ok([]) => return Ok(lines),
            Ok(chunk) => chunk,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        let n = chunk.len();
        reader.consume(n);
    }
}

/// Replaces the offset file durably: a temporary file written and fsynced,
/// renamed over it, and the directory fsynced.
fn write_offset(path: &Path, offset: u64) -> std::io::Result<()> {
    let temporary = sibling(path, ".tmp");
    let mut file = File::create(&temporary)?;
    file.write_all(format!("{offset}\n").as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)?;
    sync_directory(path)
}

/// Appends one line to `path`, fsynced (and its directory, when the file is
/// new). A torn last line left by an earlier failure is ended first.
fn append_line(path: &Path, line: &str) -> std::io::Result<()> {
    let created = !path.exists();
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)?;
    let len = file.metadata()?.len();
    let mut text = Vec::with_capacity(line.len() + 2);
    if len > 0 {
        let mut last = [0u8];
        file.seek(SeekFrom::Start(len - 1))?;
        file.read_exact(&mut last)?;
        if last != *b"\n" {
            text.push(b'\n');
        }
    }
    text.extend_from_slice(line.as_bytes());
    text.push(b'\n');
    file.write_all(&text)?;
    file.sync_data()?;
    if created {
        sync_directory(path)?;
    }
    Ok(())
}

fn sync_directory(path: &Path) -> std::io::Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(directory)?.sync_all()
}

/// One line of the journal, or a line too long to read.
#[derive(Debug, PartialEq, Eq)]
pub enum Item {
    /// A complete line (without its newline) from `start` to `end` (after
    /// its newline).
    Line { text: Vec<u8>, start: u64, end: u64 },
    /// A line of `length` bytes over the limit, skipped without being held.
    TooLong { start: u64, length: u64, end: u64 },
}

impl Item {
    /// Where the line ends (after its newline).
    pub fn end(&self) -> u64 {
        match self {
            Item::Line { end, .. } | Item::TooLong { end, .. } => *end,
        }
    }
}

/// The journal read line by line from an offset, never past the length it
/// is allowed (the durable length), through a buffer of [`READ_BUFFER`]
/// bytes, holding at most `max_line` bytes of one line.
pub struct Backlog<R> {
    reader: BufReader<Take<R>>,
    /// How far into the journal the reader may go.
    allowed: u64,
    /// Where the line being read starts, and how much of it was read.
    start: u64,
    read: u64,
    line: Vec<u8>,
    too_long: bool,
    max_line: usize,
}

impl<R: Read> Backlog<R> {
    /// `inner` must be positioned at `offset`, the start of a line.
    pub fn new(inner: R, offset: u64, max_line: usize) -> Backlog<R> {
        Backlog {
            reader: BufReader::with_capacity(READ_BUFFER, inner.take(0)),
            allowed: offset,
            start: offset,
            read: 0,
            line: Vec::new(),
            too_long: false,
            max_line,
        }
    }

    /// Where the line being read starts (the end of the last complete one).
    pub fn line_start(&self) -> u64 {
        self.start
    }

    /// The reader underneath.
    pub fn inner(&self) -> &R {
        self.reader.get_ref().get_ref()
    }

    /// Lets the reader go up to `durable` bytes into the journal.
    pub fn allow(&mut self, durable: u64) {
        if durable > self.allowed {
            let take = self.reader.get_mut();
            take.set_limit(take.limit() + (durable - self.allowed));
            self.allowed = durable;
        }
    }

    /// The next complete line below the allowed length, if there is one.
    pub fn next(&mut self) -> std::io::Result<Option<Item>> {
        loop {
            let chunk = match self.reader.fill_buf() {
                Ok([]) => return Ok(None),
                Ok(chunk) => chunk,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let newline = chunk.iter().position(|&b| b == b'\n');
            let part = newline.unwrap_or(chunk.len());
            if !self.too_long {
                if self.line.len() + part > self.max_line {
                    self.too_long = true;
                    self.line = Vec::new();
                } else {
                    self.line.extend_from_slice(&chunk[..part]);
                }
            }
            self.read += part as u64;
            self.reader.consume(part + usize::from(newline.is_some()));
            if newline.is_some() {
                let (start, length) = (self.start, self.read);
                let end = start + length + 1;
                self.start = end;
                self.read = 0;
                let item = if std::mem::take(&mut self.too_long) {
                    Item::TooLong { start, length, end }
                } else {
                    Item::Line {
                        text: std::mem::take(&mut self.line),
                        start,
                        end,
                    }
                };
                return Ok(Some(item));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A journal of `lines` lines of `width` bytes each, made up as it is
    /// read (never held), counting the bytes read from it.
    struct Synthetic {
        lines: u64,
        width: u64,
        position: u64,
        read: u64,
    }

    impl Synthetic {
        fn byte(&self, at: u64) -> u8 {
            let (line, column) = (at / self.width, at % self.width);
            if column == self.width - 1 {
                b'\n'
            } else {
                // The line's number, then padding.
                let column = usize::try_from(column).unwrap();
                (column < 20)
                    .then(|| line.to_string().as_bytes().get(column).copied())
                    .flatten()
                    .unwrap_or(b'.')
            }
        }
    }

    impl Read for Synthetic {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let end = (self.position + buf.len() as u64).min(self.lines * self.width);
            let n = usize::try_from(end - self.position).unwrap();
            for (i, b) in buf[..n].iter_mut().enumerate() {
                *b = self.byte(self.position + i as u64);
            }
            self.position = end;
            self.read += n as u64;
            Ok(n)
        }
    }

    fn line(item: Option<Item>) -> String {
        match item {
            Some(Item::Line { text, .. }) => String::from_utf8(text).unwrap(),
            other => panic!("not a line: {other:?}"),
        }
    }

    /// Finding 6: the whole backlog used to be read into one string before
    /// the first event was sent.
    #[test]
    fn a_large_backlog_is_streamed_through_a_bounded_buffer() {
        let (lines, width) = (1 << 16, 1024); // a 64 MiB backlog
        let journal = Synthetic {
            lines,
            width,
            position: 0,
            read: 0,
        };
        let mut backlog = Backlog::new(journal, 0, 4096);
        backlog.allow(lines * width);
        for expected in 0..100u64 {
            let text = line(backlog.next().unwrap());
            assert!(text.starts_with(&format!("{expected}.")), "{text}");
            assert_eq!(text.len() as u64, width - 1);
        }
        let read = backlog.reader.get_ref().get_ref().read;
        assert!(
            read <= 2 * READ_BUFFER as u64,
            "{read} bytes read for 100 events"
        );
        // Every line still comes out, in order, with its place.
        let mut count = 100;
        while let Some(item) = backlog.next().unwrap() {
            let Item::Line { start, end, .. } = item else {
                panic!("{item:?}")
            };
            assert_eq!((start, end), (count * width, (count + 1) * width));
            count += 1;
        }
        assert_eq!(count, lines);
    }

    /// Finding 6: bytes past the last fsync (a write in progress, or one
    /// that failed and is about to be cut off) are never read.
    #[test]
    fn nothing_past_the_durable_length_is_read() {
        let journal = b"{\"id\":\"1\"}\n{\"id\":\"2\"}\n{\"id\":\"rolled back\"}\n";
        let durable = 22;
        let mut backlog = Backlog::new(&journal[..], 0, 1024);
        backlog.allow(durable);
        assert_eq!(line(backlog.next().unwrap()), r#"{"id":"1"}"#);
        assert_eq!(line(backlog.next().unwrap()), r#"{"id":"2"}"#);
        assert_eq!(backlog.next().unwrap(), None);
        assert_eq!(backlog.reader.get_ref().get_ref().len(), journal.len() - 22);
        // Once it is durable, it is read; a line cut by the limit waits.
        backlog.allow(30);
        assert_eq!(backlog.next().unwrap(), None);
        backlog.allow(journal.len() as u64);
        assert_eq!(line(backlog.next().unwrap()), r#"{"id":"rolled back"}"#);
    }

    #[test]
    fn an_overlong_line_is_skipped_by_offset_without_being_held() {
        let mut journal = b"short\n".to_vec();
        journal.extend(std::iter::repeat_n(b'x', 200_000));
        journal.extend(b"\nnext\n");
        let mut backlog = Backlog::new(&journal[..], 0, 100);
        backlog.allow(journal.len() as u64);
        assert_eq!(line(backlog.next().unwrap()), "short");
        assert_eq!(
            backlog.next().unwrap(),
            Some(Item::TooLong {
                start: 6,
                length: 200_000,
                end: 200_007
            })
        );
        assert!(
            backlog.line.capacity() <= 200,
            "{}",
            backlog.line.capacity()
        );
        assert_eq!(
            backlog.next().unwrap(),
            Some(Item::Line {
                text: b"next".to_vec(),
                start: 200_007,
                end: 200_012
            })
        );
        assert_eq!(backlog.next().unwrap(), None);
    }

    #[test]
    fn ids_are_logged_escaped_and_bounded() {
        assert_eq!(shown("sha256:ab"), r#""sha256:ab""#);
        assert_eq!(shown("a\nforged line"), r#""a\nforged line""#);
        let long = shown(&"é".repeat(1000));
        assert_eq!(long.chars().count(), 128 + 3, "{long}");
    }

    #[test]
    fn statuses_are_accepted_retried_or_refused() {
        for (status, expected) in [
            (200, Class::Accepted),
            (202, Class::Accepted),
            (204, Class::Accepted),
            (408, Class::Retry),
            (429, Class::Retry),
            (500, Class::Retry),
            (503, Class::Retry),
            (400, Class::Refused),
            (401, Class::Refused),
            (404, Class::Refused),
            (410, Class::Refused),
            (422, Class::Refused),
            (301, Class::Refused),
        ] {
            assert_eq!(
                class(StatusCode::from_u16(status).unwrap()),
                expected,
                "{status}"
            );
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("switchboard-forward-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_stored_offset_is_used_only_at_a_line_start_within_the_journal() {
        let dir = scratch("offset");
        let path = dir.join("events.ndjson");
        std::fs::write(&path, "{\"id\":\"1\"}\n{\"id\":\"2\"}\n").unwrap();
        let mut file = File::open(&path).unwrap();
        assert_eq!(start_offset(&mut file, 11, 22).unwrap(), 11);
        assert_eq!(start_offset(&mut file, 22, 22).unwrap(), 22);
        assert_eq!(start_offset(&mut file, 5, 22).unwrap(), 0, "inside a line");
        assert_eq!(
            start_offset(&mut file, 22, 11).unwrap(),
            0,
            "past the durable end"
        );
        assert_eq!(
            start_offset(&mut file, 1000, 22).unwrap(),
            0,
            "past the end"
        );
    }

    #[test]
    fn the_offset_is_replaced_whole() {
        let dir = scratch("replace");
        let path = dir.join("events.ndjson.forwarded");
        write_offset(&path, 12_345).unwrap();
        write_offset(&path, 22).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "22\n");
        assert_eq!(read_offset(&path), 22);
        assert!(!sibling(&path, ".tmp").exists());
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn dead_letters_are_whole_lines() {
        let dir = scratch("dead");
        let path = dir.join("events.ndjson.dead");
        append_line(&path, "{\"a\":1}").unwrap();
        // A torn record left by a failed write is ended, not extended.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"torn").unwrap();
        append_line(&path, "{\"b\":2}").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"torn\n{\"b\":2}\n"
        );
        let record: Value = serde_json::from_str(&letter(
            Some(br#"{"id":"e1"}"#),
            7,
            11,
            Some(400),
            "the downstream answered 400 Bad Request",
            Some("no such tenant"),
        ))
        .unwrap();
        assert_eq!(record["status"], 400);
        assert_eq!(record["event"]["id"], "e1");
        assert_eq!(record["response"], "no such tenant");
        assert_eq!(
            (record["offset"].as_u64(), record["length"].as_u64()),
            (Some(7), Some(11))
        );
        assert!(record["time"].as_str().unwrap().ends_with('Z'), "{record}");
    }
}
