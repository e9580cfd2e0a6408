//! The event journal: every accepted event appended as one NDJSON line and
//! made durable before the delivery is acknowledged, at most once per
//! `(source, id)`.
//!
//! One writer owns the file, and holds an exclusive lock on it for the
//! life of the process: a second receiver on the same file refuses to start
//! rather than journal the same events twice. Requests hand the writer their
//! line and wait for the answer; the writer takes everything that is
//! waiting, appends it in one write and one `fsync` (group commit), then
//! answers each. The writer is a thread of the blocking pool of its own for
//! the journal's life, which sleeps in the `fsync` and wakes for the queue:
//! a task that handed each write to the blocking pool and back paid two
//! more hand-overs per group commit.
//!
//! Duplicates (same `source` and `id`) are answered as such and not
//! written: the writer remembers a 16-byte digest of the `source` and `id` of
//! each of the last `window` events, rebuilt from the file at start, so
//! redeliveries are recognised across restarts within that window, and the
//! memory this takes depends on the window alone, never on what a sender
//! puts in an event (see [`Seen::heap_bytes`]).
//!
//! After each group commit the writer publishes the journal's durable
//! length ([`Durable`]); the forwarder never reads past it. A crash can
//! leave a torn last line only for an event that was never acknowledged (the
//! answer comes after the `fsync`); opening the journal cuts such a tail
//! off. A failed write is cut off the same way and answered as an error, so
//! the vendor retries; if even that cut fails, the next write cuts the file
//! back to its durable length before appending, and fails if it cannot.

use std::collections::{HashSet, VecDeque};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::Deserialize;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::metrics::Metrics;
pub use super::store::{Outcome, SinkError, Target};

/// How much of the journal file is durable: its first `bytes` bytes are
/// fsynced and hold `lines` complete lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Durable {
    /// The durable length, always just after a newline (or 0).
    pub bytes: u64,
    /// The lines below it.
    pub lines: u64,
}

/// The key an event is deduplicated by: the first 16 bytes of the SHA-256
/// of its `source` and `id` (see [`key`]).
pub type Key = [u8; 16];

struct Entry {
    key: Key,
    line: String,
    answer: oneshot::Sender<Result<Outcome, SinkError>>,
}

/// The handle requests append through.
#[derive(Debug, Clone)]
pub struct Journal {
    entries: mpsc::Sender<Entry>,
    /// The journal's durable length, published after every group commit
    /// (for the forwarder). Stays at 0 for standard output or a device.
    pub durable: watch::Receiver<Durable>,
}

/// The most entries one group commit takes.
const MAX_BATCH: usize = 1024;

impl Journal {
    /// Opens (creating) and locks the journal and starts its writer; the
    /// handle ends when every `Journal` clone is dropped and the queue is
    /// drained. Fails if another process holds the journal.
    pub fn open(
        target: Target,
        window: usize,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<(Journal, JoinHandle<()>)> {
        let mut seen = Seen::new(window)?;
        let (writer, durable) = match &target {
            Target::File(path) => {
                let (file, durable) = open_file(path, &mut seen)?;
                let regular = durable.is_some();
                let durable = durable.unwrap_or_default();
                (
                    Writer::File {
                        file,
                        regular,
                        durable,
                    },
                    durable,
                )
            }
            Target::Stdout => (Writer::Stdout, Durable::default()),
            Target::Postgres(url) => {
                return Err(std::io::Error::other(format!(
                    "{url} is a database, not a journal file"
                )));
            }
        };
        metrics.journal_durable(durable.bytes, durable.lines);
        let (published, watched) = watch::channel(durable);
        let (entries, queue) = mpsc::channel(4 * MAX_BATCH);
        let task =
            tokio::task::spawn_blocking(move || run(queue, writer, seen, published, metrics));
        Ok((
            Journal {
                entries,
                durable: watched,
            },
            task,
        ))
    }

    /// Appends `line` unless an event with `key` is already in the journal.
    pub async fn append(&self, key: Key, line: String) -> Result<Outcome, SinkError> {
        let (answer, answered) = oneshot::channel();
        self.entries
            .send(Entry { key, line, answer })
            .await
            .map_err(|_| SinkError::new("the journal is closed"))?;
        answered
            .await
            .map_err(|_| SinkError::new("the journal writer stopped"))?
    }
}

/// The key of an event: SHA-256 over the length of its `source` (8 bytes,
/// little-endian), the `source` and the `id`, truncated to 16 bytes.
///
/// The length prefix makes the encoding unambiguous (`("a\nb", "c")` and
/// `("a", "b\nc")` differ). 16 bytes are enough: two distinct events share a
/// key with probability about n²/2¹²⁹ (10⁻²⁹ for a window of 10⁵), and a
/// sender who wanted one of its events to hide someone else's would need a
/// second preimage of a 128-bit digest (2¹²⁸ work); a collision between two
/// events of its own choosing (2⁶⁴ work) only hides its own event.
pub fn key(source: &str, id: &str) -> Key {
    let digest = switchboard_core::schemes::sha256(&[
        &(source.len() as u64).to_le_bytes(),
        source.as_bytes(),
        id.as_bytes(),
    ]);
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

enum Writer {
    /// `regular` is false for a device such as `/dev/full`, which has no
    /// length to track; `durable` is what the file is known to hold.
    File {
        file: File,
        regular: bool,
        durable: Durable,
    },
    Stdout,
}

/// The writer: group commits until every [`Journal`] is dropped and the
/// queue is drained.
fn run(
    mut queue: mpsc::Receiver<Entry>,
    mut writer: Writer,
    mut seen: Seen,
    published: watch::Sender<Durable>,
    metrics: Arc<Metrics>,
) {
    while let Some(first) = queue.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(entry) => batch.push(entry),
                Err(_) => break,
            }
        }
        let mut text = String::new();
        let mut fresh = Vec::new();
        let mut in_batch = HashSet::new();
        for entry in batch {
            if seen.contains(&entry.key) || !in_batch.insert(entry.key) {
                let _ = entry.answer.send(Ok(Outcome::Duplicate));
            } else {
                text.push_str(&entry.line);
                text.push('\n');
                fresh.push(entry);
            }
        }
        if fresh.is_empty() {
            continue;
        }
        let started = Instant::now();
        let lines = fresh.len() as u64;
        let result = write(&mut writer, text.as_bytes(), lines);
        metrics.sink_written(started.elapsed(), fresh.len());
        match result {
            Ok(durable) => {
                for entry in fresh {
                    seen.insert(entry.key);
                    let _ = entry.answer.send(Ok(Outcome::Written));
                }
                if let Some(durable) = durable {
                    metrics.journal_durable(durable.bytes, durable.lines);
                    published.send_replace(durable);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, events = fresh.len(), "journal write failed");
                let error = SinkError::new(format!("the journal write failed: {e}"));
                for entry in fresh {
                    let _ = entry.answer.send(Err(error.clone()));
                }
            }
        }
    }
}

/// Appends and syncs `bytes` (`lines` complete lines); on failure, cuts the
/// file back to its durable length. Returns the new durable length of a
/// regular file.
fn write(writer: &mut Writer, bytes: &[u8], lines: u64) -> std::io::Result<Option<Durable>> {
    match writer {
        Writer::File {
            file,
            regular: true,
            durable,
        } => {
            // A failed write whose cut-back failed too left bytes past the
            // durable length: remove them first, or refuse to write after
            // them.
            if file.metadata()?.len() != durable.bytes {
                file.set_len(durable.bytes)?;
            }
            let result = file.write_all(bytes).and_then(|()| file.sync_data());
            if let Err(e) = result {
                let _ = file.set_len(durable.bytes);
                return Err(e);
            }
            durable.bytes += bytes.len() as u64;
            durable.lines += lines;
            Ok(Some(*durable))
        }
        Writer::File { file, .. } => {
            file.write_all(bytes)?;
            file.sync_data()?;
            Ok(None)
        }
        Writer::Stdout => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(bytes)?;
            stdout.flush()?;
            Ok(None)
        }
    }
}

/// Opens and locks the journal for appending, cutting off a torn last line
/// and remembering the keys of its last events. The durable length is
/// `None` for a device or pipe (`/dev/stdout`, `/dev/full`).
fn open_file(path: &Path, seen: &mut Seen) -> std::io::Result<(File, Option<Durable>)> {
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        // Nothing to lock (every process may share `/dev/stdout`) or rebuild.
        return Ok((file, None));
    }
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                format!(
                    "{} is locked by another process (another `switchboard serve` writing to the same journal?); \
                     stop it or give this one its own --out",
                    path.display()
                ),
            ));
        }
        Err(TryLockError::Error(e)) => {
            return Err(std::io::Error::new(
                e.kind(),
                format!("locking {}: {e}", path.display()),
            ));
        }
    }
    let len = file.metadata()?.len();
    let complete = complete_length(&mut file, len)?;
    if complete < len {
        tracing::warn!(
            path = %path.display(),
            bytes = len - complete,
            "cutting off a torn last line (an event that was never acknowledged)"
        );
        file.set_len(complete)?;
    }
    // What a previous process wrote is durable before anyone forwards it.
    file.sync_all()?;
    file.seek(SeekFrom::Start(0))?;
    #[derive(Deserialize)]
    struct Ids {
        source: String,
        id: String,
    }
    let mut events = 0usize;
    let mut lines = 0u64;
    for line in BufReader::new((&mut file).take(complete)).split(b'\n') {
        let line = line?;
        lines += 1;
        match serde_json::from_slice::<Ids>(&line) {
            Ok(ids) => {
                seen.insert(key(&ids.source, &ids.id));
                events += 1;
            }
            Err(_) => {
                tracing::warn!(path = %path.display(), line = lines, "skipping a journal line that is not an event")
            }
        }
    }
    tracing::info!(
        path = %path.display(),
        events,
        remembered = seen.len(),
        dedupe_bytes = seen.heap_bytes(),
        "journal opened"
    );
    Ok((
        file,
        Some(Durable {
            bytes: complete,
            lines,
        }),
    ))
}

/// The length of the file up to and including its last newline.
pub(super) fn complete_length(file: &mut File, len: u64) -> std::io::Result<u64> {
    let mut end = len;
    let mut buf = [0u8; 4096];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..usize::try_from(end - start).unwrap_or(0)];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// The keys of the last `window` events, oldest evicted first.
///
/// Both tables are allocated once, at start, and never grow: the queue
/// holds `window` keys; the hash set room for twice as many, so that it
/// only ever rehashes in place (std's SwissTable grows instead when it is
/// more than half full and out of free slots). Pages are only touched as
/// keys arrive.
struct Seen {
    window: usize,
    keys: HashSet<Key>,
    order: VecDeque<Key>,
    /// The set's capacity as allocated (its `capacity()` shrinks while
    /// removed keys leave tombstones).
    slots: usize,
}

impl Seen {
    fn new(window: usize) -> std::io::Result<Seen> {
        let window = window.max(1);
        let mut keys = HashSet::new();
        let mut order = VecDeque::new();
        keys.try_reserve(window.saturating_mul(2))
            .map_err(|e| e.to_string())
            .and_then(|()| order.try_reserve_exact(window).map_err(|e| e.to_string()))
            .map_err(|e| {
                std::io::Error::other(format!(
                    "a dedupe window of {window} events cannot be allocated: {e}"
                ))
            })?;
        Ok(Seen {
            window,
            slots: keys.capacity(),
            keys,
            order,
        })
    }

    fn contains(&self, key: &Key) -> bool {
        self.keys.contains(key)
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    fn insert(&mut self, key: Key) {
        if self.keys.contains(&key) {
            return;
        }
        if self.order.len() == self.window
            && let Some(oldest) = self.order.pop_front()
        {
            self.keys.remove(&oldest);
        }
        self.keys.insert(key);
        self.order.push_back(key);
    }

    /// The heap the two tables take, from their allocated capacities: std's
    /// hash set (a SwissTable) has a key and a control byte per bucket and
    /// at most 7 keys per 8 buckets; the queue holds each key once. 61
    /// bytes per event at the default window of 100 000 (6.1 MB).
    fn heap_bytes(&self) -> usize {
        let key = std::mem::size_of::<Key>();
        let buckets = (self.slots * 8).div_ceil(7);
        buckets * (key + 1) + self.order.capacity() * key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("switchboard-journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("events.ndjson")
    }

    #[test]
    fn the_window_forgets_the_oldest() {
        let mut seen = Seen::new(2).unwrap();
        for k in ["a", "b", "c"] {
            seen.insert(key("/s", k));
        }
        assert!(!seen.contains(&key("/s", "a")));
        assert!(seen.contains(&key("/s", "b")) && seen.contains(&key("/s", "c")));
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn keys_are_unambiguous_digests() {
        assert_ne!(key("a\nb", "c"), key("a", "b\nc"));
        assert_ne!(key("ab", "c"), key("a", "bc"));
        assert_eq!(key("/varda", "1"), key("/varda", "1"));
    }

    /// Fills `seen` three times over with keys from `event`, checking that
    /// neither table ever grows past what was allocated at start.
    fn churn(seen: &mut Seen, event: impl Fn(usize) -> (String, String)) {
        let (slots, queue) = (seen.keys.capacity(), seen.order.capacity());
        for i in 0..3 * seen.window {
            let (source, id) = event(i);
            seen.insert(key(&source, &id));
            assert!(seen.keys.capacity() <= slots, "the set grew at {i}");
            assert_eq!(seen.order.capacity(), queue, "the queue grew at {i}");
        }
        assert_eq!(seen.len(), seen.window);
    }

    /// Finding 9: a key used to be the `source` and `id` themselves, so each
    /// remembered event could cost as much memory as its sender liked.
    #[test]
    fn memory_per_remembered_event_is_fixed_whatever_the_event() {
        let window = 200;
        let organization = "o".repeat(64 << 10);
        assert_eq!(
            std::mem::size_of_val(&key(&organization, &organization)),
            16
        );
        let mut huge = Seen::new(window).unwrap();
        churn(&mut huge, |i| {
            (
                format!("/opencx/organizations/{organization}"),
                format!("{organization}{i}"),
            )
        });
        let mut small = Seen::new(window).unwrap();
        churn(&mut small, |i| ("/varda".to_owned(), i.to_string()));
        assert_eq!(huge.heap_bytes(), small.heap_bytes());
        assert!(
            huge.heap_bytes() <= 100 * window,
            "{} bytes for {window} events",
            huge.heap_bytes()
        );
    }

    /// The figure in the README and `--dedupe-window`'s help: 6.1 MB at the
    /// default 100 000 events.
    #[test]
    fn the_default_window_takes_its_documented_bytes() {
        let mut seen = Seen::new(100_000).unwrap();
        churn(&mut seen, |i| ("/varda".to_owned(), i.to_string()));
        let bytes = seen.heap_bytes();
        assert!((6_000_000..=6_100_000).contains(&bytes), "{bytes} bytes");
    }

    #[test]
    fn an_impossible_window_is_refused_at_start() {
        let error = Seen::new(usize::MAX / 4).err().unwrap();
        assert!(error.to_string().contains("dedupe window"), "{error}");
    }

    #[test]
    fn torn_tails_are_cut_and_keys_remembered() {
        let path = scratch("torn");
        std::fs::write(
            &path,
            "{\"source\":\"/varda\",\"id\":\"1\"}\n{\"source\":\"/varda\",\"id\":\"2\"}\n{\"sour",
        )
        .unwrap();
        let mut seen = Seen::new(10).unwrap();
        let (_file, durable) = open_file(&path, &mut seen).unwrap();
        assert!(seen.contains(&key("/varda", "1")) && seen.contains(&key("/varda", "2")));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with("\"2\"}\n"), "{text:?}");
        assert_eq!(
            durable,
            Some(Durable {
                bytes: text.len() as u64,
                lines: 2
            })
        );
    }

    /// Finding 7: one journal, one writer.
    #[test]
    fn a_locked_journal_is_refused_with_its_name() {
        let path = scratch("lock");
        let first = open_file(&path, &mut Seen::new(10).unwrap()).unwrap();
        let error = open_file(&path, &mut Seen::new(10).unwrap()).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains(&path.display().to_string()) && message.contains("another process"),
            "{message}"
        );
        drop(first);
        assert!(
            open_file(&path, &mut Seen::new(10).unwrap()).is_ok(),
            "unlocked"
        );
    }

    /// Bytes past the durable length (a write whose cut-back failed) are
    /// removed before the next write, so no later durable line sits behind
    /// them.
    #[test]
    fn a_write_never_lands_after_bytes_that_were_not_durable() {
        let path = scratch("rollback");
        let (file, durable) = open_file(&path, &mut Seen::new(10).unwrap()).unwrap();
        let mut writer = Writer::File {
            file,
            regular: true,
            durable: durable.unwrap(),
        };
        let first = write(&mut writer, b"{\"id\":\"1\"}\n", 1).unwrap().unwrap();
        assert_eq!(
            first,
            Durable {
                bytes: 11,
                lines: 1
            }
        );
        let mut other = OpenOptions::new().append(true).open(&path).unwrap();
        other.write_all(b"{\"id\":\"torn").unwrap();
        let second = write(&mut writer, b"{\"id\":\"2\"}\n", 1).unwrap().unwrap();
        assert_eq!(
            second,
            Durable {
                bytes: 22,
                lines: 2
            }
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"id\":\"1\"}\n{\"id\":\"2\"}\n"
        );
    }
}
