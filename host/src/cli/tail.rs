//! `switchboard tail`: the journal (or the refusal log) as it grows.
//!
//! It only reads: it never takes the receiver's lock, and only ever prints
//! complete lines (a line being written is printed once its newline is
//! there). It polls the file's length; a refusal log that rotates is
//! finished, then followed in its new file.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

use super::sources::MAX_LINE;
use crate::serve::forward::{Backlog, Item};
use crate::serve::postgres::StoreUrl;
use crate::serve::refused;

/// How often a followed file's length is looked at.
const POLL: Duration = Duration::from_millis(200);

/// How lines are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `pretty` on a terminal, `json` otherwise.
    Auto,
    /// One aligned line per event, control characters escaped.
    Pretty,
    /// The lines as they are in the file (JSON lines).
    Json,
}

/// What is shown.
#[derive(Debug)]
pub struct Filter {
    /// The event's (or refusal's) vendor.
    pub vendor: Option<String>,
    /// The event's type (`call.ended`; `call.*` for a prefix).
    pub event_type: Option<String>,
    /// The refusal's reason or class.
    pub reason: Option<String>,
}

impl Filter {
    fn matches(&self, line: &Value) -> bool {
        let field = |name: &str| line.get(name).and_then(Value::as_str);
        let vendor = self
            .vendor
            .as_deref()
            .is_none_or(|v| field("vendor").is_some_and(|f| f.eq_ignore_ascii_case(v)));
        let event_type = self.event_type.as_deref().is_none_or(|t| {
            field("type").is_some_and(|f| match t.strip_suffix('*') {
                Some(prefix) => f.starts_with(prefix),
                None => f == t,
            })
        });
        let reason = self
            .reason
            .as_deref()
            .is_none_or(|r| field("reason") == Some(r) || field("class") == Some(r));
        vendor && event_type && reason
    }
}

/// Where to start.
#[derive(Debug, Clone, Copy)]
pub enum Start {
    /// The last `n` matching lines.
    Last(usize),
    /// Every line.
    FromStart,
}

/// One `tail` run.
#[derive(Debug)]
pub struct Tail {
    /// The journal, or the refusal log.
    pub path: PathBuf,
    /// Whether it is the refusal log (with its older generation).
    pub refused: bool,
    /// Where to start.
    pub start: Start,
    /// Whether to keep following.
    pub follow: bool,
    /// What is shown.
    pub filter: Filter,
    /// Pretty or JSON.
    pub pretty: bool,
    /// Read the PostgreSQL store instead of `path`.
    pub store: Option<StoreUrl>,
}

impl Tail {
    /// Prints, then follows until SIGINT, SIGTERM or a closed stdout.
    pub fn run(self) -> anyhow::Result<()> {
        if let Some(url) = &self.store {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            return runtime.block_on(self.run_store(url));
        }
        if !self.path.is_file() {
            bail!(
                "no {} at {} (the receiver creates it when it starts; --out names the journal)",
                if self.refused {
                    "refusal log"
                } else {
                    "journal"
                },
                self.path.display()
            );
        }
        let mut out = Out {
            stdout: std::io::BufWriter::new(std::io::stdout().lock()),
            pretty: self.pretty,
            refused: self.refused,
        };
        let mut files = Vec::new();
        if self.refused {
            let older = refused::older(&self.path);
            if older.is_file() {
                files.push(older);
            }
        }
        files.push(self.path.clone());
        // Following goes on from where the history ended, so that nothing
        // written meanwhile is missed.
        let printed = match self.start {
            Start::FromStart => files
                .iter()
                .try_fold(0, |_, file| print_from(file, 0, &self.filter, &mut out)),
            Start::Last(n) => last(&files, n, &self.filter, &mut out),
        };
        let mut position = match printed.and_then(|end| out.flush().map(|()| end)) {
            Ok(end) => Followed::at(&self.path, end)?,
            Err(e) if closed(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        if !self.follow {
            return Ok(());
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let mut terminate = signal(SignalKind::terminate())?;
            let mut interrupt = signal(SignalKind::interrupt())?;
            loop {
                match position
                    .poll(&self.path, &self.filter, &mut out)
                    .and_then(|()| out.flush())
                {
                    Ok(()) => {}
                    Err(e) if closed(&e) => return Ok(()),
                    Err(e) => return Err(e),
                }
                tokio::select! {
                    () = tokio::time::sleep(POLL) => {}
                    _ = terminate.recv() => return Ok(()),
                    _ = interrupt.recv() => return Ok(()),
                }
            }
        })
    }
}

/// Events in the order a consumer reads them (README, "Reading events in
/// order"): after the position `($1, $2)`, never one that a transaction
/// still in progress could put below it.
pub const EVENTS_AFTER: &str = "SELECT xid::text, seq, event::text FROM switchboard_events \
     WHERE (xid, seq) > ($1::text::xid8, $2) AND xid < pg_snapshot_xmin(pg_current_snapshot()) \
     ORDER BY xid, seq LIMIT 500";
/// The same, backwards from the position `($1, $2)` included.
const EVENTS_BEFORE: &str = "SELECT xid::text, seq, event::text FROM switchboard_events \
     WHERE (xid, seq) <= ($1::text::xid8, $2) ORDER BY xid DESC, seq DESC LIMIT 500";
/// The newest settled position.
pub const EVENTS_END: &str = "SELECT xid::text, seq FROM switchboard_events \
     WHERE xid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY xid DESC, seq DESC LIMIT 1";
/// Refusals by `seq` (a diagnostic log: one committed late may be
/// passed over while following).
const REFUSALS_AFTER: &str = "SELECT '0', seq, record::text FROM switchboard_refusals \
     WHERE seq > $2 AND $1::text IS NOT NULL ORDER BY seq LIMIT 500";
const REFUSALS_BEFORE: &str = "SELECT '0', seq, record::text FROM switchboard_refusals \
     WHERE seq <= $2 AND $1::text IS NOT NULL ORDER BY seq DESC LIMIT 500";
const REFUSALS_END: &str = "SELECT '0', seq FROM switchboard_refusals ORDER BY seq DESC LIMIT 1";

impl Tail {
    /// [`Tail::run`] against the PostgreSQL store: the history by the
    /// consumer's order, then woken by `LISTEN switchboard_events` (and
    /// every [`POLL`] × 5, for events that were held back behind a
    /// transaction in progress).
    async fn run_store(&self, url: &StoreUrl) -> anyhow::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let (after, before, end) = match self.refused {
            true => (REFUSALS_AFTER, REFUSALS_BEFORE, REFUSALS_END),
            false => (EVENTS_AFTER, EVENTS_BEFORE, EVENTS_END),
        };
        let (client, woken) = url.listen("switchboard_events").await?;
        let shown = PathBuf::from(url.to_string());
        let mut out = Out {
            stdout: std::io::BufWriter::new(std::io::stdout().lock()),
            pretty: self.pretty,
            refused: self.refused,
        };
        let scrub = |e: tokio_postgres::Error| {
            anyhow::anyhow!(url.scrub(&format!(
                "reading {url}: {e}: {}",
                e.as_db_error().map(|d| d.message()).unwrap_or_default()
            )))
        };
        let position = |row: &tokio_postgres::Row| (row.get::<_, String>(0), row.get::<_, i64>(1));
        let newest = client.query_opt(end, &[]).await.map_err(scrub)?;
        let mut cursor = ("0".to_owned(), 0i64);
        let mut history = Vec::new();
        match (self.start, newest) {
            (_, None) => {}
            (Start::FromStart, Some(_)) => {}
            (Start::Last(n), Some(newest)) => {
                // Backwards from the newest, until n match.
                cursor = position(&newest);
                let mut from = cursor.clone();
                'pages: loop {
                    let rows = client
                        .query(before, &[&from.0, &from.1])
                        .await
                        .map_err(scrub)?;
                    let Some(last) = rows.last() else { break };
                    let next = position(last);
                    for row in &rows {
                        if history.len() == n {
                            break 'pages;
                        }
                        let text: String = row.get(2);
                        let matches = serde_json::from_str::<Value>(&text)
                            .is_ok_and(|value| self.filter.matches(&value));
                        if matches {
                            history.push(text);
                        }
                    }
                    if rows.len() < 500 {
                        break;
                    }
                    from = (next.0, next.1 - 1);
                }
                history.reverse();
            }
        }
        for text in &history {
            out.line(text.as_bytes(), &shown, 0, &self.filter)?;
        }
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut woken = woken;
        let follow_from_start = matches!(self.start, Start::FromStart);
        let mut first = true;
        loop {
            if !first || follow_from_start {
                loop {
                    let rows = client
                        .query(after, &[&cursor.0, &cursor.1])
                        .await
                        .map_err(scrub)?;
                    for row in &rows {
                        cursor = position(row);
                        let text: String = row.get(2);
                        out.line(text.as_bytes(), &shown, 0, &self.filter)?;
                    }
                    if rows.len() < 500 {
                        break;
                    }
                }
            }
            first = false;
            match out.flush() {
                Ok(()) => {}
                Err(e) if closed(&e) => return Ok(()),
                Err(e) => return Err(e),
            }
            if !self.follow {
                return Ok(());
            }
            tokio::select! {
                notified = woken.recv() => if notified.is_none() {
                    anyhow::bail!("the connection to {url} was lost");
                },
                () = tokio::time::sleep(POLL * 5) => {}
                _ = terminate.recv() => return Ok(()),
                _ = interrupt.recv() => return Ok(()),
            }
        }
    }
}

/// Whether an error is stdout's reader having gone (`| head`).
fn closed(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == ErrorKind::BrokenPipe)
}

struct Out<W: Write> {
    stdout: W,
    pretty: bool,
    refused: bool,
}

impl<W: Write> Out<W> {
    /// Prints one line (`at` is where it starts, for messages).
    fn line(&mut self, text: &[u8], file: &Path, at: u64, filter: &Filter) -> anyhow::Result<()> {
        let Ok(value) = serde_json::from_slice::<Value>(text) else {
            eprintln!(
                "tail: the line at byte {at} of {} is not JSON; skipped",
                file.display()
            );
            return Ok(());
        };
        if !filter.matches(&value) {
            return Ok(());
        }
        if self.pretty {
            let line = if self.refused {
                pretty_refusal(&value)
            } else {
                pretty_event(&value)
            };
            writeln!(self.stdout, "{line}")?;
        } else {
            self.stdout.write_all(text)?;
            self.stdout.write_all(b"\n")?;
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        Ok(self.stdout.flush()?)
    }
}

/// Prints `file`'s complete lines from `offset`; returns where the last
/// complete line ends.
fn print_from(
    file: &Path,
    offset: u64,
    filter: &Filter,
    out: &mut Out<impl Write>,
) -> anyhow::Result<u64> {
    let mut reader = File::open(file).with_context(|| format!("reading {}", file.display()))?;
    let length = reader.metadata()?.len();
    reader.seek(SeekFrom::Start(offset))?;
    let mut backlog = Backlog::new(reader, offset, MAX_LINE);
    backlog.allow(length);
    let mut end = offset;
    while let Some(item) = backlog.next()? {
        end = item.end();
        emit(item, file, filter, out)?;
    }
    Ok(end)
}

fn emit(item: Item, file: &Path, filter: &Filter, out: &mut Out<impl Write>) -> anyhow::Result<()> {
    match item {
        Item::Line { text, start, .. } => out.line(&text, file, start, filter),
        Item::TooLong { start, length, .. } => {
            eprintln!(
                "tail: the line at byte {start} of {} is {length} bytes, over the {MAX_LINE} byte limit; skipped",
                file.display()
            );
            Ok(())
        }
    }
}

/// Prints the last `n` lines of `files` (read in order) that match,
/// holding only their places; returns where the last file's last complete
/// line ends.
fn last(
    files: &[PathBuf],
    n: usize,
    filter: &Filter,
    out: &mut Out<impl Write>,
) -> anyhow::Result<u64> {
    let mut kept: VecDeque<(usize, u64, u64)> = VecDeque::with_capacity(n.min(1 << 16));
    let mut last_end = 0;
    for (index, file) in files.iter().enumerate() {
        last_end = 0;
        let reader = File::open(file).with_context(|| format!("reading {}", file.display()))?;
        let length = reader.metadata()?.len();
        let mut backlog = Backlog::new(reader, 0, MAX_LINE);
        backlog.allow(length);
        while let Some(item) = backlog.next()? {
            last_end = item.end();
            let Item::Line { text, start, end } = item else {
                continue;
            };
            let matches = serde_json::from_slice::<Value>(&text)
                .map(|value| filter.matches(&value))
                .unwrap_or(true); // reported when printed
            if matches && n > 0 {
                if kept.len() == n {
                    kept.pop_front();
                }
                kept.push_back((index, start, end));
            }
        }
    }
    for (index, start, end) in kept {
        let file = &files[index];
        let mut reader = File::open(file)?;
        reader.seek(SeekFrom::Start(start))?;
        let mut text = Vec::new();
        reader.take(end - start - 1).read_to_end(&mut text)?;
        out.line(&text, file, start, filter)?;
    }
    Ok(last_end)
}

/// The followed file: its reader from where printing stopped, and which
/// file (inode) it is.
struct Followed {
    backlog: Backlog<File>,
    inode: u64,
    allowed: u64,
}

impl Followed {
    fn at(path: &Path, offset: u64) -> anyhow::Result<Followed> {
        let mut file = File::open(path).with_context(|| format!("reading {}", path.display()))?;
        let inode = file.metadata()?.ino();
        file.seek(SeekFrom::Start(offset))?;
        Ok(Followed {
            backlog: Backlog::new(file, offset, MAX_LINE),
            inode,
            allowed: offset,
        })
    }

    /// Prints what was completed since the last poll.
    fn poll(
        &mut self,
        path: &Path,
        filter: &Filter,
        out: &mut Out<impl Write>,
    ) -> anyhow::Result<()> {
        let current = std::fs::metadata(path).ok();
        let replaced = current.as_ref().is_some_and(|m| m.ino() != self.inode);
        let length = self.backlog_length()?;
        if length < self.allowed {
            // Cut (a torn tail removed at a receiver's start): go on from
            // the last complete line, which is still there.
            let start = self.backlog.line_start().min(length);
            *self = Followed::at(path, start)?;
        }
        self.allowed = self.allowed.max(length);
        self.backlog.allow(length);
        while let Some(item) = self.backlog.next()? {
            emit(item, path, filter, out)?;
        }
        if replaced {
            // Rotated: the old file is finished (its writer moved on).
            *self = Followed::at(path, 0)?;
            return self.poll(path, filter, out);
        }
        Ok(())
    }

    fn backlog_length(&mut self) -> anyhow::Result<u64> {
        Ok(self.backlog.inner().metadata()?.len())
    }
}

/// Text from a file, made safe for a terminal (control characters escaped)
/// and cut at `max` characters.
pub fn clean(text: &str, max: usize) -> String {
    let mut shown = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == max {
            shown.push('…');
            break;
        }
        if c.is_control() {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    shown
}

fn text<'v>(value: &'v Value, key: &str) -> &'v str {
    value.get(key).and_then(Value::as_str).unwrap_or("-")
}

/// `time  vendor  type  id  subject`.
fn pretty_event(event: &Value) -> String {
    let subject = event
        .get("subject")
        .and_then(Value::as_str)
        .map(|s| format!("  subject={}", clean(s, 64)))
        .unwrap_or_default();
    format!(
        "{:<24}  {:<9}  {:<28}  {}{subject}",
        clean(text(event, "time"), 40),
        clean(text(event, "vendor"), 20),
        clean(text(event, "type"), 60),
        clean(text(event, "id"), 80),
    )
}

/// `time  peer  vendor  class/reason  message`.
fn pretty_refusal(record: &Value) -> String {
    format!(
        "{:<24}  {:<21}  {:<9}  {}/{}  {}",
        clean(text(record, "time"), 40),
        clean(text(record, "peer"), 48),
        clean(text(record, "vendor"), 20),
        clean(text(record, "class"), 20),
        clean(text(record, "reason"), 40),
        clean(text(record, "message"), 200),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_output_is_escaped_and_cut() {
        assert_eq!(clean("a\u{1b}[31mred\n", 100), "a\\u{1b}[31mred\\n");
        assert_eq!(clean("abcdef", 3), "abc…");
        let line = pretty_event(&serde_json::json!({
            "time": "2026-03-25T18:30:55Z", "vendor": "varda", "type": "call.ended",
            "id": "sha256:ab", "subject": "42\u{7}"
        }));
        assert!(line.starts_with("2026-03-25T18:30:55Z"), "{line}");
        assert!(line.ends_with("sha256:ab  subject=42\\u{7}"), "{line}");
    }

    #[test]
    fn filters() {
        let event = serde_json::json!({"vendor": "varda", "type": "call.ended"});
        let filter = |vendor: Option<&str>, event_type: Option<&str>| Filter {
            vendor: vendor.map(str::to_owned),
            event_type: event_type.map(str::to_owned),
            reason: None,
        };
        assert!(filter(Some("Varda"), Some("call.*")).matches(&event));
        assert!(filter(None, Some("call.ended")).matches(&event));
        assert!(!filter(Some("atoms"), None).matches(&event));
        assert!(!filter(None, Some("call.started")).matches(&event));
    }
}
