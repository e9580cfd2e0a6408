//! Deliveries read from files, for `switchboard replay` and `switchboard
//! process --request`: JSON lines of captures or refusal-log records, or
//! fixture files (`*.json`, one document each; a directory is searched for
//! them).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::serve::delivery::Delivery;
use crate::serve::forward::{Backlog, Item};

/// The longest line (or fixture file) read: 4 × 16 MiB + 64 KiB, room for
/// a delivery at any body limit a receiver sensibly has, in base64. Longer
/// ones are reported, never held.
pub const MAX_LINE: usize = 4 * (16 << 20) + (64 << 10);

/// One delivery as read, or why it could not be.
#[derive(Debug)]
pub struct Read1 {
    /// `file:line`, or the fixture file.
    pub origin: String,
    /// The delivery.
    pub delivery: Result<Delivery, String>,
}

/// Calls `each` with every delivery of `path`, in order, holding one line
/// at a time. `-` is standard input (JSON lines).
pub fn each(path: &Path, each: &mut dyn FnMut(Read1) -> anyhow::Result<()>) -> anyhow::Result<()> {
    if path == Path::new("-") {
        return lines(std::io::stdin().lock(), "-", u64::MAX, each);
    }
    let metadata =
        std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if metadata.is_dir() {
        let mut files = Vec::new();
        fixtures_in(path, &mut files)?;
        if files.is_empty() {
            bail!("{} holds no *.json fixture files", path.display());
        }
        files.sort();
        for file in files {
            each(document(&file)?)?;
        }
        return Ok(());
    }
    if path.extension().is_some_and(|e| e == "json") {
        return each(document(path)?);
    }
    let file = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    lines(file, &path.display().to_string(), metadata.len(), each)
}

/// A `.json` file: one delivery (a fixture, or one capture).
fn document(path: &Path) -> anyhow::Result<Read1> {
    let file = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut text = Vec::new();
    file.take(MAX_LINE as u64 + 1)
        .read_to_end(&mut text)
        .with_context(|| format!("reading {}", path.display()))?;
    let delivery = if text.len() > MAX_LINE {
        Err(format!("over the {MAX_LINE} byte limit; not read"))
    } else {
        Delivery::from_json(&text)
    };
    Ok(Read1 {
        origin: path.display().to_string(),
        delivery,
    })
}

/// JSON lines: one delivery per non-empty line.
fn lines(
    reader: impl Read,
    name: &str,
    length: u64,
    each: &mut dyn FnMut(Read1) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut backlog = Backlog::new(reader, 0, MAX_LINE);
    backlog.allow(length);
    let mut number = 0;
    while let Some(item) = backlog.next().with_context(|| format!("reading {name}"))? {
        number += 1;
        let origin = format!("{name}:{number}");
        let delivery = match item {
            Item::Line { text, .. } if text.trim_ascii().is_empty() => continue,
            Item::Line { text, .. } => Delivery::from_json(&text),
            Item::TooLong { length, .. } => Err(format!(
                "the line is {length} bytes, over the {MAX_LINE} byte limit; not read"
            )),
        };
        each(Read1 { origin, delivery })?;
    }
    Ok(())
}

fn fixtures_in(directory: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(directory)
        .with_context(|| format!("reading the directory {}", directory.display()))?
    {
        let path = entry?.path();
        if path.is_dir() {
            fixtures_in(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            files.push(path);
        }
    }
    Ok(())
}

/// The one delivery of `path` (`process --request`).
pub fn one(path: &Path) -> anyhow::Result<Delivery> {
    let mut found = Vec::new();
    each(path, &mut |read| {
        found.push(read);
        anyhow::ensure!(
            found.len() <= 1,
            "{} holds more than one delivery; `process --request` takes one (`switchboard replay` takes many)",
            path.display()
        );
        Ok(())
    })?;
    match found.pop() {
        Some(read) => read
            .delivery
            .map_err(|why| anyhow::anyhow!("{}: {why}", read.origin)),
        None => bail!("{} holds no delivery", path.display()),
    }
}

/// Unix seconds (with any fraction, in nanoseconds) of an RFC 3339 time,
/// or `None` when it is not one.
pub fn parse_time(text: &str) -> Option<(i64, u32)> {
    let utc = switchboard_core::time::normalize_rfc3339(text.trim())?;
    let b = utc.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<i64> { utc.get(range)?.parse().ok() };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let mut nanos = 0u32;
    if b.get(19) == Some(&b'.') {
        let digits: String = utc[20..].chars().take_while(char::is_ascii_digit).collect();
        let padded = format!("{:0<9}", &digits[..digits.len().min(9)]);
        nanos = padded.parse().ok()?;
    }
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + hour * 3600 + minute * 60 + second, nanos))
}

/// A time given as RFC 3339 or unix seconds, in unix seconds.
pub fn parse_since(text: &str) -> anyhow::Result<i64> {
    if let Ok(seconds) = text.trim().parse::<i64>() {
        return Ok(seconds);
    }
    parse_time(text)
        .map(|(seconds, _)| seconds)
        .ok_or_else(|| anyhow::anyhow!("`{text}` is neither an RFC 3339 time nor unix seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_to_unix_seconds() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(parse_time("2026-03-25T18:30:55Z"), Some((1_774_463_455, 0)));
        assert_eq!(
            parse_time("2026-03-25T20:30:55.25+02:00"),
            Some((1_774_463_455, 250_000_000))
        );
        assert_eq!(parse_time("2000-02-29T00:00:00Z"), Some((951_782_400, 0)));
        assert_eq!(parse_time("sha256:abc"), None);
        assert_eq!(parse_since("1774463455").unwrap(), 1_774_463_455);
        assert!(parse_since("yesterday").is_err());
    }
}
