//! The console: a page an engineer opens in a browser at `/console`, and
//! its JSON API. Host glue: the routes, statuses and access rule are the
//! contract's ([`switchboard_http::ConsoleRoute`],
//! [`switchboard_http::console_allowed`]); this module keeps the recent
//! deliveries and writes the answers.
//!
//! - **The ring.** Every request to a webhook route is recorded where its
//!   log line is written ([`Console::record`]): time, vendor, type,
//!   outcome and reason, the vendor's delivery id, latency, the headers
//!   (redacted as the refusal log redacts them: never a configured
//!   secret), the event (accepted) or the body (refused by the component,
//!   for a replay). It holds at most `--console-deliveries` entries (500)
//!   and `--console-bytes` bytes (8 MiB), the oldest dropped first; a body
//!   or an event is kept cut to [`KEPT_BYTES`] (64 KiB), and a delivery
//!   whose body was cut cannot be replayed from here. At start it is
//!   filled with the newest records of the refusal log, so that a refusal
//!   can be replayed after a restart with the right secret.
//! - **Live.** `GET /console/api/stream` sends the ring (`event:
//!   snapshot`), then each delivery as it is recorded (`event: delivery`),
//!   as server-sent events. At most `--console-streams` (8) at once, past
//!   which `503`; each client has a queue of [`STREAM_QUEUE`] frames, and a
//!   client that lets it fill is dropped (it reconnects and starts again
//!   from a snapshot) rather than buffered for.
//! - **Replay.** `POST /console/api/deliveries/{seq}/replay` re-runs one
//!   refused delivery through the current configuration into the journal,
//!   as `POST /replay` does (same pool, same journal, its dedupe; verified
//!   at the time it was first received).
//! - **The page** (`host/console/`) and the processor transpiled for it by
//!   jco (`target/console-wasm/`, made by `make build`) are embedded in the
//!   binary ([`ASSETS`]); see `host/build.rs`.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::body::{Body, Frame};
use serde_json::{Map, Value, json};
use switchboard_core::Config;
use switchboard_http::{Answer, ConsoleRoute, Overload, Replayed};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, mpsc, watch};

use super::delivery::{Delivery, body_field};
use super::refused::{REDACTED, Redactor};

/// The most bytes of a body or an event an entry keeps.
pub const KEPT_BYTES: usize = 64 * 1024;
/// How many frames wait for one stream's client before it is dropped.
pub const STREAM_QUEUE: usize = 64;
/// How many deliveries the stream's shared backlog holds for clients
/// between two of their reads.
const STREAM_BACKLOG: usize = 64;
/// How often a quiet stream sends a comment, so that proxies keep the
/// connection and a client gone away is noticed: the write after it closed
/// fails, so its place under the stream cap is free within two of these.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// What an entry costs besides its strings: its fields and the ring's slot.
const ENTRY_OVERHEAD: usize = 256;
/// The most characters of a signature header's value the console shows.
const SIGNATURE_SHOWN: usize = 10;

/// The console's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// The console's bearer token. Without one, `/console` answers
    /// loopback peers only; with one, any peer, and its data only with
    /// `Authorization: Bearer <token>` (the page asks for it once).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "SWITCHBOARD_CONSOLE_TOKEN",
        hide_env_values = true
    )]
    pub console_token: Option<String>,
    /// Do not serve the console (and keep no recent deliveries).
    #[arg(long)]
    pub no_console: bool,
    /// The most recent deliveries the console keeps.
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub console_deliveries: usize,
    /// The most bytes the console's recent deliveries take (8 MiB).
    #[arg(long, value_name = "BYTES", default_value_t = 8 << 20)]
    pub console_bytes: usize,
    /// The most console streams (open pages) at once.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub console_streams: usize,
}

impl Settings {
    /// Refuses caps that could keep or serve nothing, and an empty token.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.console_deliveries >= 1,
            "--console-deliveries must be at least 1"
        );
        anyhow::ensure!(
            self.console_bytes >= 64 * 1024,
            "--console-bytes must be at least 65536"
        );
        anyhow::ensure!(
            self.console_streams >= 1,
            "--console-streams must be at least 1"
        );
        if let Some(token) = &self.console_token {
            anyhow::ensure!(
                token.trim().len() >= 16 && token.trim() == token,
                "--console-token must be at least 16 characters, without spaces around"
            );
        }
        Ok(())
    }
}

/// A file of the page: its name under `/console/assets/`, its media type
/// and its bytes.
type Asset = (&'static str, &'static str, &'static [u8]);

/// The page's own files (`host/console/`).
const PAGE_ASSETS: [Asset; 4] = [
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/console.js"),
    ),
    (
        "try.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/try.js"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_bytes!("../../console/console.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../../console/favicon.svg"),
    ),
];
const PAGE: &[u8] = include_bytes!("../../console/index.html");

// `GENERATED`: the jco output embedded by `host/build.rs` (empty when
// `make build` has not made it; the try pane then says so).
include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));

/// Every file under `/console/assets/`, for the tests.
pub fn asset_names() -> impl Iterator<Item = &'static str> {
    PAGE_ASSETS
        .iter()
        .chain(GENERATED.iter())
        .map(|(name, _, _)| *name)
}

fn asset(name: &str) -> Option<&'static Asset> {
    PAGE_ASSETS
        .iter()
        .chain(GENERATED.iter())
        .find(|(n, _, _)| *n == name)
}

/// What the receiver keeps of a request to a webhook route for the
/// console, as it handles it.
#[derive(Debug, Default)]
pub struct Capture {
    /// The path's vendor segment, if any (a replay posts it again).
    pub path_vendor: Option<String>,
    /// Every header.
    pub headers: Vec<(String, String)>,
    /// The body, when the component refused it (for a replay).
    pub body: Option<Vec<u8>>,
    /// The event's document, when one was accepted.
    pub event: Option<String>,
}

/// One request to a webhook route, as the receiver hands it over.
#[derive(Debug)]
pub struct Seen {
    /// Who sent it.
    pub peer: SocketAddr,
    /// The vendor label ([`super::metrics::vendor_label`]).
    pub vendor: &'static str,
    /// The normalized type, or empty.
    pub event_type: String,
    /// The vendor's delivery id.
    pub delivery: Option<String>,
    /// How long it took.
    pub took: Duration,
    /// The request, and the event or body.
    pub capture: Capture,
}

/// One recent delivery.
#[derive(Debug)]
struct Entry {
    seq: u64,
    /// Unix milliseconds.
    at: i64,
    /// Unix seconds: when it was received, the `now` a replay verifies at.
    received_at: i64,
    peer: String,
    vendor: String,
    path_vendor: Option<String>,
    event_type: String,
    status: u16,
    outcome: String,
    reason: Option<String>,
    message: Option<String>,
    delivery: Option<String>,
    id: Option<String>,
    micros: u64,
    /// Redacted.
    headers: Vec<(String, String)>,
    /// The body as received (cut), for a component refusal.
    body: Option<Vec<u8>>,
    body_bytes: usize,
    /// The event's document (cut).
    event: Option<String>,
    event_bytes: usize,
    /// From the refusal log, kept before this start.
    earlier: bool,
    /// What the last replay of it came to.
    replayed: Option<String>,
}

impl Entry {
    fn bytes(&self) -> usize {
        let strings = [&self.peer, &self.vendor, &self.event_type, &self.outcome]
            .iter()
            .map(|s| s.len())
            .sum::<usize>();
        let optional = [
            &self.path_vendor,
            &self.reason,
            &self.message,
            &self.delivery,
            &self.id,
            &self.event,
            &self.replayed,
        ]
        .iter()
        .map(|s| s.as_ref().map_or(0, String::len))
        .sum::<usize>();
        let headers = self
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 48)
            .sum::<usize>();
        ENTRY_OVERHEAD + strings + optional + headers + self.body.as_ref().map_or(0, Vec::len)
    }

    /// Whether its body is kept whole and the component refused it.
    fn replayable(&self) -> bool {
        self.body
            .as_ref()
            .is_some_and(|body| body.len() == self.body_bytes)
    }

    /// The list's line: everything but the headers, body and event.
    fn summary(&self) -> Value {
        json!({
            "seq": self.seq,
            "time": switchboard_core::time::from_unix_number(self.at),
            "vendor": self.vendor,
            "type": self.event_type,
            "status": self.status,
            "outcome": self.outcome,
            "reason": self.reason,
            "message": self.message,
            "delivery": self.delivery,
            "id": self.id,
            "micros": self.micros,
            "replayable": self.replayable(),
            "earlier": self.earlier,
            "replayed": self.replayed,
        })
    }

    /// The whole of it, headers shown as [`shown`] writes them.
    fn detail(&self, shown: &Shown) -> Value {
        let mut object = match self.summary() {
            Value::Object(object) => object,
            _ => Map::new(),
        };
        let headers: Vec<(&str, String)> = self
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), shown.value(name, value)))
            .collect();
        object.insert("peer".to_owned(), json!(self.peer));
        object.insert("headers".to_owned(), json!(headers));
        if let Some(body) = &self.body {
            let (key, value) = body_field(body);
            object.insert(key.to_owned(), value);
            object.insert("body_bytes".to_owned(), json!(self.body_bytes));
            object.insert("body_cut".to_owned(), json!(body.len() < self.body_bytes));
        }
        if let Some(event) = &self.event {
            object.insert("event".to_owned(), json!(event));
            object.insert(
                "event_cut".to_owned(),
                json!(event.len() < self.event_bytes),
            );
        }
        Value::Object(object)
    }
}

/// How header values are shown: redacted as the refusal log redacts them,
/// signature values shortened.
#[derive(Debug)]
struct Shown {
    redactor: Redactor,
    /// Lowercase names of configured signature headers besides those
    /// named `*signature*`.
    signatures: Vec<String>,
}

impl Shown {
    fn new(config: &Config) -> Shown {
        let signatures = config
            .vendors
            .values()
            .filter_map(|settings| match &settings.scheme {
                switchboard_core::Scheme::HmacSha256(options) => {
                    Some(options.header.to_ascii_lowercase())
                }
                _ => None,
            })
            .collect();
        Shown {
            redactor: Redactor::new(config),
            signatures,
        }
    }

    /// The value as kept: redacted.
    fn kept<'v>(&self, name: &str, value: &'v str) -> &'v str {
        self.redactor.value(name, value)
    }

    /// [`Shown::kept`] of an owned value: the value itself unless it is
    /// redacted.
    fn kept_owned(&self, name: &str, value: String) -> String {
        let kept = self.kept(name, &value);
        if std::ptr::eq(kept, value.as_str()) {
            value
        } else {
            kept.to_owned()
        }
    }

    /// The value as shown: kept, and a signature's cut to its first
    /// characters.
    fn value(&self, name: &str, value: &str) -> String {
        let value = self.kept(name, value);
        let lower = name.to_ascii_lowercase();
        let signature = lower.contains("signature") || self.signatures.contains(&lower);
        match value.char_indices().nth(SIGNATURE_SHOWN) {
            Some((cut, _)) if signature && value != REDACTED => {
                format!("{}… ({} characters)", &value[..cut], value.chars().count())
            }
            _ => value.to_owned(),
        }
    }
}

/// The recent deliveries, within both caps.
#[derive(Debug)]
struct Ring {
    entries: VecDeque<Entry>,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
    next: u64,
    /// Deliveries since start by vendor, then outcome (nested, so that a
    /// delivery of a combination already seen is counted without making
    /// its key).
    counters: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Ring {
    fn new(max_entries: usize, max_bytes: usize) -> Ring {
        Ring {
            entries: VecDeque::new(),
            bytes: 0,
            max_entries,
            max_bytes,
            next: 1,
            counters: BTreeMap::new(),
        }
    }

    /// Adds `entry` (numbered here), dropping the oldest past a cap.
    fn push(&mut self, mut entry: Entry) -> &Entry {
        entry.seq = self.next;
        self.next += 1;
        if !entry.earlier {
            self.count(&entry.vendor, &entry.outcome);
        }
        self.bytes += entry.bytes();
        self.entries.push_back(entry);
        while self.entries.len() > self.max_entries
            || (self.bytes > self.max_bytes && self.entries.len() > 1)
        {
            if let Some(old) = self.entries.pop_front() {
                self.bytes -= old.bytes();
            }
        }
        &self.entries[self.entries.len() - 1]
    }

    fn count(&mut self, vendor: &str, outcome: &str) {
        let outcomes = match self.counters.get_mut(vendor) {
            Some(outcomes) => outcomes,
            None => self.counters.entry(vendor.to_owned()).or_default(),
        };
        match outcomes.get_mut(outcome) {
            Some(count) => *count += 1,
            None => {
                outcomes.insert(outcome.to_owned(), 1);
            }
        }
    }

    fn get(&mut self, seq: u64) -> Option<&mut Entry> {
        let first = self.entries.front()?.seq;
        let index = usize::try_from(seq.checked_sub(first)?).ok()?;
        self.entries.get_mut(index)
    }

    fn counters(&self) -> Value {
        let counters: Vec<Value> = self
            .counters
            .iter()
            .flat_map(|(vendor, outcomes)| {
                outcomes.iter().map(
                    move |(outcome, n)| json!({"vendor": vendor, "outcome": outcome, "count": n}),
                )
            })
            .collect();
        json!(counters)
    }

    fn snapshot(&self) -> Value {
        let deliveries: Vec<Value> = self.entries.iter().map(Entry::summary).collect();
        json!({
            "deliveries": deliveries,
            "counters": self.counters(),
            "caps": {"deliveries": self.max_entries, "bytes": self.max_bytes, "kept_bytes": KEPT_BYTES},
        })
    }
}

/// The console's state, shared by every request.
#[derive(Debug)]
pub struct Console {
    ring: Mutex<Ring>,
    live: broadcast::Sender<Arc<str>>,
    streams: Arc<Semaphore>,
    token: Option<String>,
    shown: Shown,
    stopping: watch::Receiver<bool>,
}

impl Console {
    /// The console of `settings`, its ring filled from `refused` (the
    /// refusal log's generations, older first) when given; `stopping`
    /// turns `true` when the receiver shuts down, which ends every stream.
    pub fn new(
        settings: &Settings,
        config: &Config,
        refused: &[std::path::PathBuf],
        stopping: watch::Receiver<bool>,
    ) -> Console {
        let console = Console {
            ring: Mutex::new(Ring::new(
                settings.console_deliveries,
                settings.console_bytes,
            )),
            live: broadcast::channel(STREAM_BACKLOG).0,
            streams: Arc::new(Semaphore::new(settings.console_streams)),
            token: settings.console_token.clone(),
            shown: Shown::new(config),
            stopping,
        };
        let mut ring = console.ring();
        for path in refused {
            match std::fs::File::open(path) {
                Ok(file) => earlier(&mut ring, &console.shown, file),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "the console cannot read the refusal log");
                }
            }
        }
        drop(ring);
        console
    }

    fn ring(&self) -> MutexGuard<'_, Ring> {
        // A panic while it was held left a consistent ring: every change is
        // a push or a field set.
        self.ring
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The token the console needs, if it was given one.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Records one request to a webhook route and what it came to, and
    /// sends it to every open stream.
    pub fn record(&self, seen: Seen, answer: &Answer) {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let Capture {
            path_vendor,
            headers,
            body,
            event,
        } = seen.capture;
        let headers = headers
            .into_iter()
            .map(|(name, value)| {
                let value = self.shown.kept_owned(&name, value);
                (name, value)
            })
            .collect();
        let (event, event_bytes) = match event {
            Some(event) => {
                let bytes = event.len();
                (Some(cut_text(event)), bytes)
            }
            None => (None, 0),
        };
        let (body, body_bytes) = match body {
            Some(body) => {
                let bytes = body.len();
                (Some(cut_bytes(body)), bytes)
            }
            None => (None, 0),
        };
        let entry = Entry {
            seq: 0,
            at: i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
            received_at: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
            peer: seen.peer.to_string(),
            vendor: seen.vendor.to_owned(),
            path_vendor,
            event_type: seen.event_type,
            status: answer.status().as_u16(),
            outcome: answer.code().to_owned(),
            reason: answer.reason().map(str::to_owned),
            message: answer.message(),
            delivery: seen.delivery,
            id: match answer {
                Answer::Accepted { id, .. } => Some(id.clone()),
                _ => None,
            },
            micros: u64::try_from(seen.took.as_micros()).unwrap_or(u64::MAX),
            headers,
            body,
            body_bytes,
            event,
            event_bytes,
            earlier: false,
            replayed: None,
        };
        let mut ring = self.ring();
        let entry = ring.push(entry);
        // Sent under the lock, so that a stream's snapshot and what follows
        // it neither miss nor repeat a delivery; a stream subscribes under
        // it too, so with none open now there is nothing to send (and the
        // summary is not written for nobody).
        if self.live.receiver_count() > 0 {
            let _ = self.live.send(Arc::from(entry.summary().to_string()));
        }
    }

    /// Answers one console request, the access rule already passed.
    pub async fn answer(
        self: &Arc<Self>,
        route: ConsoleRoute<'_>,
        replay: impl AsyncFnOnce(Delivery) -> Replayed,
    ) -> Result<Success, Answer> {
        match route {
            ConsoleRoute::Page => Ok(Success::Fixed("text/html; charset=utf-8", PAGE)),
            ConsoleRoute::Asset(name) => match asset(name) {
                Some((_, media, bytes)) => Ok(Success::Fixed(media, bytes)),
                None => Err(Answer::NotFound {
                    method: hyper::Method::GET,
                    path: switchboard_http::echoed(&format!("/console/assets/{name}")),
                }),
            },
            ConsoleRoute::Deliveries => Ok(Success::Json(self.ring().snapshot().to_string())),
            ConsoleRoute::Delivery(seq) => {
                let mut ring = self.ring();
                let entry = ring.get(seq).ok_or(Answer::NotInRing { seq })?;
                Ok(Success::Json(entry.detail(&self.shown).to_string()))
            }
            ConsoleRoute::Replay(seq) => {
                let delivery = self.delivery(seq)?;
                let result = replay(delivery).await;
                let line = result.line();
                if let Some(entry) = self.ring().get(seq) {
                    let outcome: Value = serde_json::from_str(&line).unwrap_or_default();
                    entry.replayed = outcome["outcome"].as_str().map(str::to_owned);
                }
                Ok(Success::Json(line))
            }
            ConsoleRoute::Stream => self.stream(),
        }
    }

    /// The delivery to replay for entry `seq`.
    fn delivery(&self, seq: u64) -> Result<Delivery, Answer> {
        let mut ring = self.ring();
        let entry = ring.get(seq).ok_or(Answer::NotInRing { seq })?;
        let why = match &entry.body {
            _ if entry.id.is_some() => Some("it was accepted"),
            None => Some("its body was not read, or it was not refused by the processor"),
            Some(_) if !entry.replayable() => {
                Some("its body was kept cut; replay it from the refusal log (switchboard replay)")
            }
            Some(_) => None,
        };
        if let Some(why) = why {
            return Err(Answer::NotReplayable {
                message: format!("delivery {seq} cannot be replayed: {why}"),
            });
        }
        Ok(Delivery {
            headers: entry.headers.clone(),
            body: entry.body.clone().unwrap_or_default(),
            vendor: entry.path_vendor.clone(),
            received_at: Some(entry.received_at),
            class: None,
            reason: None,
        })
    }

    /// A stream: the snapshot, then each delivery, until the client goes,
    /// falls behind, or the receiver stops.
    fn stream(self: &Arc<Self>) -> Result<Success, Answer> {
        let permit = Arc::clone(&self.streams)
            .try_acquire_owned()
            .map_err(|_| Answer::Overloaded(Overload::Streams))?;
        let (frames, queue) = mpsc::channel(STREAM_QUEUE);
        let (live, snapshot) = {
            let ring = self.ring();
            (self.live.subscribe(), ring.snapshot())
        };
        let first = Bytes::from(format!("event: snapshot\ndata: {snapshot}\n\n"));
        let stopping = self.stopping.clone();
        tokio::spawn(pump(first, live, frames, stopping, permit));
        Ok(Success::Stream(Frames(queue)))
    }
}

/// Feeds one stream's queue, holding its place under the stream cap.
async fn pump(
    first: Bytes,
    mut live: broadcast::Receiver<Arc<str>>,
    frames: mpsc::Sender<Bytes>,
    mut stopping: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    if frames.try_send(first).is_err() {
        return;
    }
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.reset();
    loop {
        let frame = tokio::select! {
            delivery = live.recv() => match delivery {
                Ok(summary) => Bytes::from(format!("event: delivery\ndata: {summary}\n\n")),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::info!(missed, "console stream dropped: its client fell behind");
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = heartbeat.tick() => Bytes::from_static(b": still here\n\n"),
            _ = stopping.wait_for(|stop| *stop) => return,
        };
        match frames.try_send(frame) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::info!("console stream dropped: its client does not read");
                return;
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
    }
}

/// A console answer that is not a refusal.
#[derive(Debug)]
pub enum Success {
    /// An embedded file.
    Fixed(&'static str, &'static [u8]),
    /// A JSON document.
    Json(String),
    /// Server-sent events.
    Stream(Frames),
}

/// A stream's body: the frames its pump queues.
#[derive(Debug)]
pub struct Frames(mpsc::Receiver<Bytes>);

impl Body for Frames {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|frame| frame.map(|data| Ok(Frame::data(data))))
    }
}

/// Fills `ring` with the refusal-log records read from `file` (the newest
/// ones stay, within its caps).
fn earlier(ring: &mut Ring, shown: &Shown, file: std::fs::File) {
    use std::io::BufRead;
    for line in std::io::BufReader::new(file).split(b'\n') {
        let Ok(line) = line else { break };
        let (Ok(delivery), Ok(record)) = (
            Delivery::from_json(&line),
            serde_json::from_slice::<Value>(&line),
        ) else {
            continue;
        };
        let text = |key: &str| record[key].as_str().map(str::to_owned);
        let received_at = delivery.received_at.unwrap_or_default();
        let delivery_id = {
            let headers = delivery
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()));
            let request = switchboard_core::Request::new(headers, &[]);
            switchboard_core::vendors::delivery_id(&request, delivery.vendor.as_deref())
                .map(switchboard_http::echoed)
        };
        let body_bytes = delivery.body.len();
        ring.push(Entry {
            seq: 0,
            at: received_at.saturating_mul(1000),
            received_at,
            peer: text("peer").unwrap_or_default(),
            vendor: super::metrics::vendor_label(delivery.vendor.as_deref()).to_owned(),
            path_vendor: delivery.vendor,
            event_type: String::new(),
            status: record["status"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or_default(),
            outcome: delivery.class.unwrap_or_default(),
            reason: delivery.reason,
            message: text("message"),
            delivery: delivery_id,
            id: None,
            micros: 0,
            headers: delivery
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), shown.kept(name, value).to_owned()))
                .collect(),
            body: Some(cut_bytes(delivery.body)),
            body_bytes,
            event: None,
            event_bytes: 0,
            earlier: true,
            replayed: None,
        });
    }
}

fn cut_bytes(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.len() > KEPT_BYTES {
        bytes.truncate(KEPT_BYTES);
        bytes.shrink_to_fit();
    }
    bytes
}

fn cut_text(text: String) -> String {
    if text.len() <= KEPT_BYTES {
        return text;
    }
    let mut cut = KEPT_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text[..cut].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(body: usize) -> Seen {
        Seen {
            peer: "127.0.0.1:9".parse().unwrap(),
            vendor: "varda",
            event_type: String::new(),
            delivery: Some("d-1".to_owned()),
            took: Duration::from_micros(1500),
            capture: Capture {
                path_vendor: Some("varda".to_owned()),
                headers: vec![
                    (
                        "X-Varda-Signature".to_owned(),
                        "t=1,v1=0123456789abcdef".to_owned(),
                    ),
                    ("Authorization".to_owned(), "Bearer abc".to_owned()),
                    (
                        "X-Echo".to_owned(),
                        "has the-varda-secret inside".to_owned(),
                    ),
                ],
                body: Some(vec![b'x'; body]),
                event: None,
            },
        }
    }

    fn refused() -> Answer {
        Answer::Refused {
            class: switchboard_core::ErrorClass::Unauthenticated,
            reason: "no-match",
            message: "no signature matches".to_owned(),
        }
    }

    fn console(settings: Settings) -> Arc<Console> {
        let mut config = Config::default();
        config.vendors.insert(
            "varda".to_owned(),
            switchboard_core::VendorConfig {
                secrets: vec![switchboard_core::Secret::new("the-varda-secret")],
                scheme: switchboard_core::Scheme::VendorDefault,
            },
        );
        Arc::new(Console::new(
            &settings,
            &config,
            &[],
            watch::channel(false).1,
        ))
    }

    fn settings(deliveries: usize, bytes: usize, streams: usize) -> Settings {
        Settings {
            console_token: None,
            no_console: false,
            console_deliveries: deliveries,
            console_bytes: bytes,
            console_streams: streams,
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_within_both_caps() {
        let console = console(settings(3, 1 << 20, 1));
        for _ in 0..5 {
            console.record(seen(10), &refused());
        }
        let ring = console.ring();
        let seqs: Vec<u64> = ring.entries.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [3, 4, 5]);
        assert_eq!(ring.counters["varda"]["unauthenticated"], 5);
        drop(ring);

        let console = console_bytes(200 * 1024);
        for _ in 0..10 {
            console.record(seen(60 * 1024), &refused());
        }
        let ring = console.ring();
        assert!(ring.bytes <= 200 * 1024, "{}", ring.bytes);
        assert_eq!(ring.entries.len(), 3);
        assert_eq!(
            ring.bytes,
            ring.entries.iter().map(Entry::bytes).sum::<usize>()
        );
    }

    fn console_bytes(bytes: usize) -> Arc<Console> {
        console(settings(500, bytes, 1))
    }

    #[test]
    fn a_long_body_is_kept_cut_and_not_replayable() {
        let console = console(settings(10, 1 << 20, 1));
        console.record(seen(KEPT_BYTES + 1), &refused());
        console.record(seen(KEPT_BYTES), &refused());
        let ring = console.ring();
        assert_eq!(ring.entries[0].body.as_ref().unwrap().len(), KEPT_BYTES);
        assert!(!ring.entries[0].replayable());
        assert!(ring.entries[1].replayable());
        drop(ring);
        let answer = console.delivery(1).unwrap_err();
        assert_eq!(answer.status().as_u16(), 409);
        assert!(console.delivery(2).is_ok());
        assert_eq!(console.delivery(3).unwrap_err().status().as_u16(), 404);
    }

    #[test]
    fn no_secret_is_kept_and_signatures_are_shown_short() {
        let console = console(settings(10, 1 << 20, 1));
        console.record(seen(1), &refused());
        let mut ring = console.ring();
        let detail = ring.get(1).unwrap().detail(&console.shown).to_string();
        assert!(!detail.contains("the-varda-secret"), "{detail}");
        assert!(!detail.contains("Bearer abc"), "{detail}");
        assert!(detail.contains("t=1,v1=012… (23 characters)"), "{detail}");
        // What a replay posts keeps the signature whole.
        let kept = &ring.get(1).unwrap().headers;
        assert_eq!(kept[0].1, "t=1,v1=0123456789abcdef");
        assert_eq!(kept[2].1, REDACTED);
    }

    #[tokio::test]
    async fn streams_are_capped_and_a_client_that_does_not_read_is_dropped() {
        let console = console(settings(10, 1 << 20, 1));
        let Ok(Success::Stream(Frames(mut frames))) = console.stream() else {
            panic!("no stream");
        };
        let second = console.stream().unwrap_err();
        assert_eq!(second.reason(), Some("too-many-streams"));
        let first = frames.recv().await.unwrap();
        assert!(first.starts_with(b"event: snapshot\ndata: {"));
        // Not read: past its queue, the client is dropped and its place
        // freed.
        for _ in 0..STREAM_QUEUE + 2 {
            console.record(seen(1), &refused());
            tokio::task::yield_now().await;
        }
        let mut received = 0;
        while let Some(frame) = frames.recv().await {
            assert!(frame.starts_with(b"event: delivery\n"));
            received += 1;
        }
        assert!(received <= STREAM_QUEUE, "{received}");
        assert!(console.stream().is_ok(), "the place is free again");
    }

    #[test]
    fn the_ring_is_filled_from_the_refusal_log() {
        let dir = std::env::temp_dir().join(format!("switchboard-console-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.ndjson.refused");
        let record = r#"{"time":"2024-03-26T00:00:00Z","received_at":1711411200,"peer":"127.0.0.1:5","vendor":"varda","class":"unauthenticated","reason":"no-match","message":"m","status":401,"headers":[["X-Varda-Delivery","dlv_7"]],"body":"{}"}"#;
        std::fs::write(&path, format!("{record}\nnot json\n{record}\n")).unwrap();
        let console = Arc::new(Console::new(
            &settings(10, 1 << 20, 1),
            &Config::default(),
            &[dir.join("absent"), path],
            watch::channel(false).1,
        ));
        let ring = console.ring();
        assert_eq!(ring.entries.len(), 2);
        let entry = &ring.entries[1];
        assert!(entry.earlier && entry.replayable());
        assert_eq!(entry.delivery.as_deref(), Some("dlv_7"));
        assert_eq!(
            (
                entry.outcome.as_str(),
                entry.reason.as_deref(),
                entry.received_at
            ),
            ("unauthenticated", Some("no-match"), 1711411200)
        );
        assert!(
            ring.counters.is_empty(),
            "counters count this run's deliveries"
        );
        drop(ring);
        let _ = std::fs::remove_dir_all(dir);
    }
}
