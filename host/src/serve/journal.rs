//! The event journal: every accepted event appended as one NDJSON line and
//! made durable before the delivery is acknowledged, at most once per
//! `(source, id)`.
//!
//! One writer task owns the file, and holds an exclusive lock on it for the
//! life of the process: a second receiver on the same file refuses to start
//! rather than journal the same events twice. Requests hand the writer their
//! line and wait for the answer; the writer takes everything that is
//! waiting, appends it in one write and one `fsync` (group commit), then
//! answers each.
//!
//! Duplicates (same `source` and `id`) are answered as such and not
//! written: the writer remembers the keys of the last `window` events,
//! rebuilt from the file at start, so redeliveries are recognised across
//! restarts within that window.
//!
//! A crash can leave a torn last line only for an event that was never
//! acknowledged (the answer comes after the `fsync`); opening the journal
//! cuts such a tail off. A failed write is cut off the same way and answered
//! as an error, so the vendor retries.

use std::collections::{HashSet, VecDeque};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Deserialize;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::metrics::Metrics;

/// Where events go.
#[derive(Debug, Clone)]
pub enum Target {
    /// Appended to this file and fsynced.
    File(PathBuf),
    /// Written to standard output (not durable; for piping).
    Stdout,
}

/// What became of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Appended (and, for a file, durable).
    Written,
    /// Already in the journal: nothing written.
    Duplicate,
}

/// Why an event could not be written.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(String);

struct Entry {
    key: String,
    line: String,
    answer: oneshot::Sender<Result<Outcome, SinkError>>,
}

/// The handle requests append through.
#[derive(Debug, Clone)]
pub struct Journal {
    entries: mpsc::Sender<Entry>,
    /// Signalled after every durable write, for the forwarder.
    pub written: Arc<Notify>,
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
        let written = Arc::new(Notify::new());
        let mut seen = Seen::new(window);
        let writer = match &target {
            Target::File(path) => {
                let file = open_file(path, &mut seen)?;
                Writer::File(file)
            }
            Target::Stdout => Writer::Stdout,
        };
        let (entries, queue) = mpsc::channel(4 * MAX_BATCH);
        let task = tokio::spawn(run(queue, writer, seen, Arc::clone(&written), metrics));
        Ok((Journal { entries, written }, task))
    }

    /// Appends `line` unless an event with `key` is already in the journal.
    pub async fn append(&self, key: String, line: String) -> Result<Outcome, SinkError> {
        let (answer, answered) = oneshot::channel();
        self.entries
            .send(Entry { key, line, answer })
            .await
            .map_err(|_| SinkError("the journal is closed".to_owned()))?;
        answered
            .await
            .map_err(|_| SinkError("the journal writer stopped".to_owned()))?
    }
}

/// The key of an event: its `source` and `id`.
pub fn key(source: &str, id: &str) -> String {
    format!("{source}\n{id}")
}

enum Writer {
    File(File),
    Stdout,
}

async fn run(
    mut queue: mpsc::Receiver<Entry>,
    mut writer: Writer,
    mut seen: Seen,
    written: Arc<Notify>,
    metrics: Arc<Metrics>,
) {
    while let Some(first) = queue.recv().await {
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
            if seen.contains(&entry.key) || !in_batch.insert(entry.key.clone()) {
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
        let result;
        (writer, result) = tokio::task::spawn_blocking(move || {
            let result = write(&mut writer, text.as_bytes());
            (writer, result)
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        metrics.sink_written(started.elapsed(), fresh.len());
        match result {
            Ok(()) => {
                for entry in fresh {
                    seen.insert(entry.key);
                    let _ = entry.answer.send(Ok(Outcome::Written));
                }
                written.notify_waiters();
            }
            Err(e) => {
                tracing::error!(error = %e, events = fresh.len(), "journal write failed");
                let error = SinkError(format!("the journal write failed: {e}"));
                for entry in fresh {
                    let _ = entry.answer.send(Err(error.clone()));
                }
            }
        }
    }
}

/// Appends and syncs `bytes`; on failure, cuts the file back to where it was.
fn write(writer: &mut Writer, bytes: &[u8]) -> std::io::Result<()> {
    match writer {
        Writer::File(file) => {
            let before = file.seek(SeekFrom::End(0))?;
            let result = file.write_all(bytes).and_then(|()| file.sync_data());
            if result.is_err() {
                let _ = file.set_len(before);
            }
            result
        }
        Writer::Stdout => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(bytes)?;
            stdout.flush()
        }
    }
}

/// Opens and locks the journal for appending, cutting off a torn last line
/// and remembering the keys of its last events.
fn open_file(path: &Path, seen: &mut Seen) -> std::io::Result<File> {
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        // A device or pipe (`/dev/stdout`, `/dev/full`): nothing to lock
        // (every process may share it) or rebuild.
        return Ok(file);
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
        file.sync_all()?;
    }
    file.seek(SeekFrom::Start(0))?;
    #[derive(Deserialize)]
    struct Key {
        source: String,
        id: String,
    }
    let mut events = 0usize;
    for line in BufReader::new(&mut file).lines() {
        let line = line?;
        match serde_json::from_str::<Key>(&line) {
            Ok(k) => {
                seen.insert(key(&k.source, &k.id));
                events += 1;
            }
            Err(_) => {
                tracing::warn!(path = %path.display(), "skipping a journal line that is not an event")
            }
        }
    }
    tracing::info!(path = %path.display(), events, remembered = seen.len(), "journal opened");
    Ok(file)
}

/// The length of the file up to and including its last newline.
fn complete_length(file: &mut File, len: u64) -> std::io::Result<u64> {
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
struct Seen {
    window: usize,
    keys: HashSet<String>,
    order: VecDeque<String>,
}

impl Seen {
    fn new(window: usize) -> Seen {
        Seen {
            window: window.max(1),
            keys: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    fn contains(&self, key: &str) -> bool {
        self.keys.contains(key)
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    fn insert(&mut self, key: String) {
        if self.keys.insert(key.clone()) {
            self.order.push_back(key);
            if self.order.len() > self.window
                && let Some(oldest) = self.order.pop_front()
            {
                self.keys.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_forgets_the_oldest() {
        let mut seen = Seen::new(2);
        for k in ["a", "b", "c"] {
            seen.insert(k.to_owned());
        }
        assert!(!seen.contains("a"));
        assert!(seen.contains("b") && seen.contains("c"));
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn torn_tails_are_cut_and_keys_remembered() {
        let dir = std::env::temp_dir().join(format!("switchboard-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.ndjson");
        std::fs::write(
            &path,
            "{\"source\":\"/varda\",\"id\":\"1\"}\n{\"source\":\"/varda\",\"id\":\"2\"}\n{\"sour",
        )
        .unwrap();
        let mut seen = Seen::new(10);
        drop(open_file(&path, &mut seen).unwrap());
        assert!(seen.contains(&key("/varda", "1")) && seen.contains(&key("/varda", "2")));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with("\"2\"}\n"), "{text:?}");
    }

    /// Finding 7: one journal, one writer.
    #[test]
    fn a_locked_journal_is_refused_with_its_name() {
        let dir = std::env::temp_dir().join(format!("switchboard-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.ndjson");
        let first = open_file(&path, &mut Seen::new(10)).unwrap();
        let error = open_file(&path, &mut Seen::new(10)).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains(&path.display().to_string()) && message.contains("another process"),
            "{message}"
        );
        drop(first);
        assert!(open_file(&path, &mut Seen::new(10)).is_ok(), "unlocked");
    }
}
