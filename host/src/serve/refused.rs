//! The refusal log: deliveries the component refused, kept as received so
//! that an operator can see why and replay them (`switchboard replay`).
//!
//! Each record is one NDJSON line of `<journal>.refused`: `time` (RFC 3339)
//! and `received_at` (unix seconds), the `peer`, the `vendor` path segment
//! (`null` for `/webhooks`), the `class`, `reason` and `message` it was
//! refused with, its `status`, every header (`[name, value]` pairs, in
//! order) and the body (`body`, or `body_base64` when it is not UTF-8).
//! Only deliveries whose body was read and run through the component are
//! kept: not unknown routes, wrong methods, bodies over the limit turned
//! away before they were read, nor overload `503`s.
//!
//! - **Never a secret.** The shared-secret scheme's header of every vendor
//!   configured with one, `Authorization`, `Cookie` and
//!   `Proxy-Authorization` are written `"[redacted]"`, and so is any header
//!   whose value holds a configured secret. Signature headers are kept:
//!   they are not secrets, and a replay needs them. (A delivery refused
//!   under the shared-secret scheme therefore cannot be replayed from the
//!   log: its token is the secret.)
//! - **Bounded** in records and bytes ([`Settings`]), as two generations: a
//!   record that would take `<journal>.refused` past half of either cap
//!   first renames it to `<journal>.refused.1` (dropping the older one), so
//!   the two together stay within the caps. A record over half the byte cap
//!   is not kept.
//! - **Never in the way.** Requests hand records to a writer thread through
//!   a bounded queue ([`QUEUE_RECORDS`] records, [`QUEUE_BYTES`] bytes);
//!   when it is full the record is dropped and counted
//!   (`switchboard_refusals_dropped_total`), the request never waits.
//! - **In the database** instead, when the store is PostgreSQL: each
//!   record is a row of `switchboard_refusals` (`seq`, `received_at`,
//!   `bytes`, `record`: the same JSON object), written by one task per
//!   replica; after each insert the oldest rows past either cap are
//!   deleted, under a lock shared by the replicas, so the table stays
//!   within the caps whatever number of replicas write to it.
//! - **Not fsynced.** Each record is one `write`, so readers (`switchboard
//!   tail --refused`) see it at once, but it is a diagnostic log, not a
//!   ledger: a crash may lose the last records. A torn last line is cut off
//!   at the next start.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use switchboard_core::{Config, ErrorClass, Scheme};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::delivery::body_field;
use super::journal::complete_length;
use super::postgres::Postgres;

/// How many records may wait for the writer.
pub const QUEUE_RECORDS: usize = 256;
/// How many bytes of records may wait for the writer.
pub const QUEUE_BYTES: usize = 16 << 20;
/// What a redacted header's value is written as.
pub const REDACTED: &str = "[redacted]";
/// Headers that are always redacted (lowercase).
const ALWAYS_REDACTED: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// The refusal log's caps, each a `serve` flag.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Keep refused deliveries in `<journal>.refused` (none with `--out
    /// -`); `--keep-refused=false` or `--no-keep-refused` turns it off.
    #[arg(
        long,
        value_name = "BOOL",
        default_value_t = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub keep_refused: bool,
    /// Do not keep refused deliveries.
    #[arg(long, overrides_with = "keep_refused")]
    pub no_keep_refused: bool,
    /// The most refused deliveries kept, across the two generations.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub refused_max_deliveries: usize,
    /// The most bytes the refusal log takes, across the two generations
    /// (64 MiB).
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    pub refused_max_bytes: u64,
}

impl Settings {
    /// Whether refused deliveries are kept.
    pub fn enabled(&self) -> bool {
        self.keep_refused && !self.no_keep_refused
    }

    /// Refuses caps that could keep nothing.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.refused_max_deliveries >= 2,
            "--refused-max-deliveries must be at least 2 (one per generation)"
        );
        anyhow::ensure!(
            self.refused_max_bytes >= 2048,
            "--refused-max-bytes must be at least 2048"
        );
        Ok(())
    }
}

/// `<journal>.refused`.
pub fn path_beside(journal: &Path) -> PathBuf {
    let mut name = journal.as_os_str().to_owned();
    name.push(".refused");
    PathBuf::from(name)
}

/// `<journal>.refused.1`, the older generation.
pub fn older(current: &Path) -> PathBuf {
    let mut name = current.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}

/// One refusal, as the receiver hands it over.
#[derive(Debug)]
pub struct Refusal<'a> {
    /// Who sent it.
    pub peer: SocketAddr,
    /// The path's vendor segment, if any.
    pub vendor: Option<&'a str>,
    /// Every header, as the component saw them.
    pub headers: &'a [(String, String)],
    /// The raw body.
    pub body: &'a [u8],
    /// The class it was refused with.
    pub class: ErrorClass,
    /// Its reason code.
    pub reason: &'a str,
    /// Its message.
    pub message: &'a str,
}

/// The handle requests keep refusals through; never blocks.
#[derive(Debug, Clone)]
pub struct Keeper {
    queue: mpsc::Sender<String>,
    counts: Arc<Counts>,
    redactor: Arc<Redactor>,
}

#[derive(Debug, Default)]
struct Counts {
    queued_bytes: AtomicUsize,
    kept: AtomicU64,
    dropped: AtomicU64,
}

impl Keeper {
    /// Opens (creating) `path` within `settings`' caps and starts its
    /// writer thread, which ends once every `Keeper` clone is dropped.
    pub fn open(
        path: PathBuf,
        settings: &Settings,
        config: &Config,
    ) -> std::io::Result<(Keeper, JoinHandle<()>)> {
        let mut store = Store::open(path, settings)?;
        let (keeper, mut records) = Keeper::new(config);
        let writing = Arc::clone(&keeper.counts);
        let writer = tokio::task::spawn_blocking(move || {
            while let Some(record) = records.blocking_recv() {
                writing
                    .queued_bytes
                    .fetch_sub(record.len(), Ordering::Relaxed);
                match store.append(&record) {
                    Ok(true) => writing.kept.fetch_add(1, Ordering::Relaxed),
                    Ok(false) => writing.dropped.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        tracing::warn!(error = %e, path = %store.path.display(), "cannot write the refusal log");
                        writing.dropped.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        });
        Ok((keeper, writer))
    }

    /// Starts a writer task keeping refusals in the PostgreSQL store's
    /// `switchboard_refusals` table, within `settings`' caps (the oldest
    /// records deleted past them; a record over the byte cap by itself is
    /// not kept); it ends once every `Keeper` clone is dropped.
    pub fn open_postgres(
        postgres: Postgres,
        settings: &Settings,
        config: &Config,
    ) -> (Keeper, JoinHandle<()>) {
        let (keeper, mut records) = Keeper::new(config);
        let writing = Arc::clone(&keeper.counts);
        let (max_records, max_bytes) =
            (settings.refused_max_deliveries, settings.refused_max_bytes);
        let writer = tokio::spawn(async move {
            while let Some(record) = records.recv().await {
                writing
                    .queued_bytes
                    .fetch_sub(record.len(), Ordering::Relaxed);
                if record.len() as u64 > max_bytes {
                    writing.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                match postgres.keep_refusal(&record, max_records, max_bytes).await {
                    Ok(()) => writing.kept.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot keep a refusal in the database");
                        writing.dropped.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        });
        (keeper, writer)
    }

    /// A keeper and the queue its writer reads.
    fn new(config: &Config) -> (Keeper, mpsc::Receiver<String>) {
        let (queue, records) = mpsc::channel::<String>(QUEUE_RECORDS);
        let keeper = Keeper {
            queue,
            counts: Arc::new(Counts::default()),
            redactor: Arc::new(Redactor::new(config)),
        };
        (keeper, records)
    }

    /// Hands `refusal` to the writer, or drops and counts it if the queue
    /// is full.
    pub fn keep(&self, refusal: &Refusal<'_>) {
        let record = self.record(refusal, SystemTime::now());
        let counts = &self.counts;
        let queued = counts
            .queued_bytes
            .fetch_add(record.len(), Ordering::Relaxed);
        let length = record.len();
        if queued + length > QUEUE_BYTES || self.queue.try_send(record).is_err() {
            counts.queued_bytes.fetch_sub(length, Ordering::Relaxed);
            counts.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The record's JSON line (without its newline).
    fn record(&self, refusal: &Refusal<'_>, at: SystemTime) -> String {
        let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let seconds = i64::try_from(since.as_secs()).unwrap_or(i64::MAX);
        let millis = i64::try_from(since.as_millis()).unwrap_or(i64::MAX);
        let headers: Vec<(&str, &str)> = refusal
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), self.redactor.value(name, value)))
            .collect();
        let mut object = Map::new();
        let mut put = |key: &str, value: Value| object.insert(key.to_owned(), value);
        put(
            "time",
            json!(switchboard_core::time::from_unix_number(millis)),
        );
        put("received_at", json!(seconds));
        put("peer", json!(refusal.peer.to_string()));
        put("vendor", json!(refusal.vendor));
        put("class", json!(refusal.class.as_str()));
        put("reason", json!(refusal.reason));
        put("message", json!(refusal.message));
        put("status", json!(refusal.class.http_status()));
        put("headers", json!(headers));
        let (key, body) = body_field(refusal.body);
        put(key, body);
        Value::Object(object).to_string()
    }

    /// The refusal log's counters, in Prometheus' text format.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write as _;
        let counters = [
            (
                "switchboard_refusals_kept_total",
                "Refused deliveries written to the refusal log.",
                &self.counts.kept,
            ),
            (
                "switchboard_refusals_dropped_total",
                "Refused deliveries not kept: the writer's queue was full, the record was over half --refused-max-bytes, or the write failed.",
                &self.counts.dropped,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
    }
}

/// Which header values are never written (nor shown by the console).
#[derive(Debug)]
pub(super) struct Redactor {
    /// Lowercase names: the fixed ones and every shared-secret header.
    names: Vec<String>,
    /// Every configured secret (and its key after a `whsec_`/`whsk_`/
    /// `whpk_` prefix), for values that hold one under another name.
    secrets: Vec<String>,
}

impl Redactor {
    pub(super) fn new(config: &Config) -> Redactor {
        let mut names: Vec<String> = ALWAYS_REDACTED.iter().map(|&n| n.to_owned()).collect();
        let mut secrets = Vec::new();
        for settings in config.vendors.values() {
            if let Scheme::SharedSecret(scheme) = &settings.scheme {
                names.push(scheme.header.to_ascii_lowercase());
            }
            for secret in &settings.secrets {
                let text = secret.expose().trim();
                let key = ["whsec_", "whsk_", "whpk_"]
                    .iter()
                    .find_map(|prefix| text.strip_prefix(prefix))
                    .unwrap_or(text);
                // Too short to be told from ordinary text.
                secrets.extend(
                    [text, key]
                        .into_iter()
                        .filter(|s| s.len() >= 4)
                        .map(str::to_owned),
                );
            }
        }
        // A secret without a prefix is its own key: searched for once.
        secrets.sort_unstable();
        secrets.dedup();
        Redactor { names, secrets }
    }

    /// `value`, or [`REDACTED`] when `name` is always redacted or the value
    /// holds a configured secret.
    pub(super) fn value<'v>(&self, name: &str, value: &'v str) -> &'v str {
        let named = self.names.iter().any(|n| n.eq_ignore_ascii_case(name));
        // Most values are shorter than any secret: those are not searched
        // (a search sets up its tables before it looks at the value).
        let holds = |secret: &String| value.len() >= secret.len() && value.contains(secret);
        if named || self.secrets.iter().any(holds) {
            REDACTED
        } else {
            value
        }
    }
}

/// The two generations on disk, and what the current one holds.
struct Store {
    path: PathBuf,
    older: PathBuf,
    file: File,
    records: usize,
    bytes: u64,
    /// Half the caps: what one generation may hold.
    max_records: usize,
    max_bytes: u64,
}

impl Store {
    /// Opens the current generation, cutting off a torn last line and
    /// counting its records; a generation over the (possibly lowered) caps
    /// is rotated or removed, so the two stay within them.
    fn open(path: PathBuf, settings: &Settings) -> std::io::Result<Store> {
        let older = older(&path);
        let max_records = settings.refused_max_deliveries / 2;
        let max_bytes = settings.refused_max_bytes / 2;
        if let Ok(metadata) = std::fs::metadata(&older)
            && (metadata.len() > max_bytes || count_lines(&older)? > max_records)
        {
            std::fs::remove_file(&older)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        let len = file.metadata()?.len();
        let complete = complete_length(&mut file, len)?;
        if complete < len {
            file.set_len(complete)?;
        }
        let mut store = Store {
            records: count_lines(&path)?,
            bytes: complete,
            path,
            older,
            file,
            max_records,
            max_bytes,
        };
        if store.records > max_records || store.bytes > max_bytes {
            store.rotate()?;
        }
        Ok(store)
    }

    /// Appends one record (a line without its newline), rotating first if
    /// it would take the current generation past half a cap. `false` if it
    /// is over half the byte cap by itself, and so not kept.
    fn append(&mut self, record: &str) -> std::io::Result<bool> {
        let length = record.len() as u64 + 1;
        if length > self.max_bytes {
            return Ok(false);
        }
        if self.records + 1 > self.max_records || self.bytes + length > self.max_bytes {
            self.rotate()?;
        }
        let mut line = Vec::with_capacity(record.len() + 1);
        line.extend_from_slice(record.as_bytes());
        line.push(b'\n');
        if let Err(e) = self.file.write_all(&line) {
            // Leave no torn record behind for the next one to follow.
            let _ = self.file.set_len(self.bytes);
            return Err(e);
        }
        self.records += 1;
        self.bytes += length;
        Ok(true)
    }

    /// The current generation becomes the older one (replacing it), and a
    /// new, empty one is started.
    fn rotate(&mut self) -> std::io::Result<()> {
        std::fs::rename(&self.path, &self.older)?;
        self.file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&self.path)?;
        self.records = 0;
        self.bytes = 0;
        Ok(())
    }
}

/// The complete lines of `path`, read through a bounded buffer.
fn count_lines(path: &Path) -> std::io::Result<usize> {
    let mut reader = BufReader::with_capacity(64 * 1024, File::open(path)?);
    let mut lines = 0;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(lines);
        }
        lines += chunk.iter().filter(|&&b| b == b'\n').count();
        let n = chunk.len();
        reader.consume(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("switchboard-refused-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("events.ndjson.refused")
    }

    fn settings(records: usize, bytes: u64) -> Settings {
        Settings {
            keep_refused: true,
            no_keep_refused: false,
            refused_max_deliveries: records,
            refused_max_bytes: bytes,
        }
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn two_generations_stay_within_the_record_cap() {
        let path = scratch("records");
        let mut store = Store::open(path.clone(), &settings(5, 1 << 20)).unwrap();
        for n in 0..11 {
            assert!(store.append(&format!("{{\"n\":{n}}}")).unwrap());
        }
        // Two per generation: 8 and 9 were rotated out by 10.
        assert_eq!(lines(&older(&path)), ["{\"n\":8}", "{\"n\":9}"]);
        assert_eq!(lines(&path), ["{\"n\":10}"]);
        // A restart counts what is there and carries on.
        drop(store);
        let mut store = Store::open(path.clone(), &settings(5, 1 << 20)).unwrap();
        store.append("{\"n\":11}").unwrap();
        store.append("{\"n\":12}").unwrap();
        assert_eq!(lines(&older(&path)), ["{\"n\":10}", "{\"n\":11}"]);
        assert_eq!(lines(&path), ["{\"n\":12}"]);
    }

    #[test]
    fn two_generations_stay_within_the_byte_cap() {
        let path = scratch("bytes");
        let mut store = Store::open(path.clone(), &settings(1000, 4096)).unwrap();
        let record = format!("{{\"pad\":\"{}\"}}", "x".repeat(500));
        for _ in 0..20 {
            assert!(store.append(&record).unwrap());
            let total = std::fs::metadata(&path).unwrap().len()
                + std::fs::metadata(older(&path)).map_or(0, |m| m.len());
            assert!(total <= 4096, "{total} bytes");
        }
        // A record over half the cap alone is not kept.
        assert!(!store.append(&"x".repeat(2048)).unwrap());
    }

    #[test]
    fn a_torn_line_is_cut_and_lowered_caps_are_applied_at_start() {
        let path = scratch("torn");
        std::fs::write(&path, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"to").unwrap();
        std::fs::write(older(&path), "{\"n\":0}\n".repeat(10)).unwrap();
        let mut store = Store::open(path.clone(), &settings(4, 1 << 20)).unwrap();
        // The older generation was over the new half cap: removed; the
        // current one too: rotated.
        assert_eq!(
            lines(&older(&path)),
            ["{\"n\":1}", "{\"n\":2}", "{\"n\":3}"]
        );
        assert!(lines(&path).is_empty());
        store.append("{\"n\":4}").unwrap();
        assert_eq!(lines(&path), ["{\"n\":4}"]);
    }

    fn refusal<'a>(headers: &'a [(String, String)], body: &'a [u8]) -> Refusal<'a> {
        Refusal {
            peer: "127.0.0.1:4000".parse().unwrap(),
            vendor: Some("opencx"),
            headers,
            body,
            class: ErrorClass::Unauthenticated,
            reason: "no-match",
            message: "no signature matches",
        }
    }

    #[tokio::test]
    async fn secrets_are_redacted_and_signatures_kept() {
        let config: Config = toml::from_str(
            r#"
            [vendors.opencx]
            secrets = ["the-opencx-token"]
            scheme = { type = "shared-secret", header = "X-OpenCX-Token" }
            [vendors.openphone]
            secrets = ["whsec_c2VjcmV0LWtleQ=="]
            "#,
        )
        .unwrap();
        let path = scratch("redact");
        let (keeper, writer) = Keeper::open(path.clone(), &settings(10, 1 << 20), &config).unwrap();
        let headers: Vec<(String, String)> = [
            ("x-opencx-token", "a-wrong-token"),
            ("Authorization", "Bearer abc"),
            ("cookie", "session=1"),
            ("Proxy-Authorization", "Basic eA=="),
            ("X-Forwarded-Token", "it is the-opencx-token"),
            ("X-Key", "c2VjcmV0LWtleQ=="),
            ("webhook-signature", "v1,abcd"),
            ("Content-Type", "application/json"),
        ]
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .to_vec();
        keeper.keep(&refusal(&headers, b"\xff\x00"));
        let rendered = {
            drop(keeper.clone());
            let mut out = String::new();
            keeper.render(&mut out);
            out
        };
        assert!(rendered.contains("# TYPE switchboard_refusals_dropped_total counter"));
        drop(keeper);
        writer.await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let record: Value = serde_json::from_str(text.trim_end()).unwrap();
        let kept: Vec<(String, String)> =
            serde_json::from_value(record["headers"].clone()).unwrap();
        let value = |name: &str| kept.iter().find(|(n, _)| n == name).unwrap().1.clone();
        for name in [
            "x-opencx-token",
            "Authorization",
            "cookie",
            "Proxy-Authorization",
            "X-Forwarded-Token",
            "X-Key",
        ] {
            assert_eq!(value(name), REDACTED, "{name}");
        }
        assert_eq!(value("webhook-signature"), "v1,abcd");
        assert_eq!(value("Content-Type"), "application/json");
        assert_eq!(record["body_base64"], "/wA=");
        assert_eq!(record["reason"], "no-match");
        assert_eq!(record["class"], "unauthenticated");
        assert_eq!(record["status"], 401);
        assert_eq!(record["vendor"], "opencx");
        assert_eq!(record["peer"], "127.0.0.1:4000");
        assert!(record["time"].as_str().unwrap().ends_with('Z'));
        assert!(!text.contains("the-opencx-token") && !text.contains("c2VjcmV0LWtleQ"));
    }

    /// The writer is never waited for: past the queue, refusals are dropped
    /// and counted.
    #[tokio::test]
    async fn a_full_queue_drops_and_counts() {
        let (queue, _held) = mpsc::channel(1);
        let keeper = Keeper {
            queue,
            counts: Arc::new(Counts::default()),
            redactor: Arc::new(Redactor::new(&Config::default())),
        };
        let headers = Vec::new();
        for _ in 0..3 {
            keeper.keep(&refusal(&headers, b"{}"));
        }
        assert_eq!(keeper.counts.dropped.load(Ordering::Relaxed), 2);
        let mut out = String::new();
        keeper.render(&mut out);
        assert!(
            out.contains("switchboard_refusals_dropped_total 2\n"),
            "{out}"
        );
    }
}
