//! `switchboard forward --from`: a range of the journal sent again to a
//! downstream, read-only, through the receiver's forwarder
//! ([`crate::serve::forward::Downstream`]), touching neither its
//! `.forwarded` offset nor its `.dead` file.

use std::fs::File;
use std::path::PathBuf;

use anyhow::{Context, bail};
use bytes::Bytes;
use hyper::Uri;
use serde::Deserialize;
use tokio::sync::watch;

use super::Incomplete;
use super::sources::{MAX_LINE, parse_time};
use super::tail::clean;
use super::tail::{EVENTS_AFTER, EVENTS_END};
use crate::serve::forward::{Backlog, Downstream, Item, Sent, shown};
use crate::serve::postgres::StoreUrl;

/// An end of the range: an event id, or a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// The event with this `id`.
    Id(String),
    /// Unix seconds and nanoseconds.
    Time(i64, u32),
}

impl Mark {
    /// An RFC 3339 time, else an event id.
    pub fn parse(text: &str) -> Mark {
        match parse_time(text) {
            Some((seconds, nanos)) => Mark::Time(seconds, nanos),
            None => Mark::Id(text.to_owned()),
        }
    }
}

/// One `forward --from` run.
#[derive(Debug)]
pub struct Range {
    /// The journal.
    pub journal: PathBuf,
    /// Read the PostgreSQL store instead of the journal.
    pub store: Option<StoreUrl>,
    /// The downstream.
    pub url: Uri,
    /// The first event: the one with this id, or the first whose `time` is
    /// at or after this time.
    pub from: Mark,
    /// The last: the one with this id, or the last before the first whose
    /// `time` is after this time.
    pub until: Option<Mark>,
    /// Attempts per event.
    pub attempts: u32,
}

#[derive(Deserialize)]
struct Head {
    id: Option<String>,
    time: Option<String>,
}

#[derive(Debug, Default)]
struct Counts {
    accepted: u64,
    refused: u64,
    failed: u64,
}

impl Range {
    /// Sends the range; an [`Incomplete`] error if some event was not
    /// delivered.
    pub fn run(self) -> anyhow::Result<()> {
        let runtime = tokio::runtime::Runtime::new()?;
        runtime.block_on(self.send())
    }

    async fn send(self) -> anyhow::Result<()> {
        let (mut events, source) = match &self.store {
            Some(url) => (Events::store(url).await?, url.to_string()),
            None => {
                let file = File::open(&self.journal)
                    .with_context(|| format!("reading the journal {}", self.journal.display()))?;
                let length = file.metadata()?.len();
                let mut backlog = Backlog::new(file, 0, MAX_LINE);
                backlog.allow(length);
                (Events::Journal(backlog), self.journal.display().to_string())
            }
        };
        let downstream = Downstream::new(self.url.clone());
        let (stop, mut stopped) = watch::channel(false);
        tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut terminate), Ok(mut interrupt)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return;
            };
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
            stop.send_replace(true);
        });
        let mut counts = Counts::default();
        let mut started = false;
        let mut interrupted = false;
        let mut number = 0u64;
        while let Some(text) = events.next().await? {
            number += 1;
            let head = text
                .as_deref()
                .and_then(|text| serde_json::from_slice::<Head>(text).ok());
            let (id, time) = head
                .as_ref()
                .map(|h| (h.id.as_deref(), h.time.as_deref().and_then(parse_time)))
                .unwrap_or_default();
            if !started {
                started = match &self.from {
                    Mark::Id(from) => id == Some(from.as_str()),
                    Mark::Time(s, n) => time.is_some_and(|t| t >= (*s, *n)),
                };
                if !started {
                    continue;
                }
            }
            if let (Some(Mark::Time(s, n)), Some(t)) = (&self.until, time)
                && t > (*s, *n)
            {
                break;
            }
            let (Some(text), Some(id)) = (text, id) else {
                eprintln!(
                    "event {number} of {source} is not a CloudEvent (or over {MAX_LINE} bytes); not sent"
                );
                counts.failed += 1;
                continue;
            };
            let shown_id = shown(id);
            let last = matches!(&self.until, Some(Mark::Id(until)) if until == id);
            let sent = downstream
                .deliver(
                    Bytes::from(text.clone()),
                    &shown_id,
                    Some(self.attempts),
                    &mut stopped,
                    None,
                )
                .await;
            match sent {
                Sent::Accepted => counts.accepted += 1,
                Sent::Refused {
                    status, excerpt, ..
                } => {
                    counts.refused += 1;
                    eprintln!(
                        "{shown_id}: refused: the downstream answered {status}: {}",
                        clean(&excerpt, 200)
                    );
                }
                Sent::GaveUp { reason, attempts } => {
                    counts.failed += 1;
                    eprintln!("{shown_id}: not delivered after {attempts} attempts: {reason}");
                }
                Sent::Stopped => {
                    interrupted = true;
                    break;
                }
            }
            if last {
                break;
            }
        }
        if !started {
            bail!(
                "no event {} in {}: nothing sent",
                match &self.from {
                    Mark::Id(id) => format!("with the id {}", shown(id)),
                    Mark::Time(..) => "with a time at or after --from".to_owned(),
                },
                source
            );
        }
        let Counts {
            accepted,
            refused,
            failed,
        } = counts;
        println!(
            "{} events sent to {}: {accepted} accepted, {refused} refused, {failed} not delivered{}",
            accepted + refused + failed,
            self.url,
            if interrupted { " (interrupted)" } else { "" }
        );
        if refused + failed > 0 || interrupted {
            return Err(
                Incomplete(format!("{} events were not delivered", refused + failed)).into(),
            );
        }
        Ok(())
    }
}

/// Where the events come from: the journal's lines, or the PostgreSQL
/// store's events in the consumer's order (up to what was settled when
/// the run started).
enum Events {
    Journal(Backlog<File>),
    Store {
        client: tokio_postgres::Client,
        url: Box<StoreUrl>,
        /// The position read up to, and what is read but not yet taken.
        cursor: (String, i64),
        page: std::collections::VecDeque<Vec<u8>>,
        /// The newest settled position when the run started.
        end: Option<(String, i64)>,
    },
}

impl Events {
    async fn store(url: &StoreUrl) -> anyhow::Result<Events> {
        let (client, _) = url.listen("switchboard_events").await?;
        let end = client
            .query_opt(EVENTS_END, &[])
            .await
            .map_err(|e| store_error(url, &e))?
            .map(|row| (row.get::<_, String>(0), row.get::<_, i64>(1)));
        Ok(Events::Store {
            client,
            url: Box::new(url.clone()),
            cursor: ("0".to_owned(), 0),
            page: std::collections::VecDeque::new(),
            end,
        })
    }

    /// The next event: `Some(None)` for a journal line too long to read.
    async fn next(&mut self) -> anyhow::Result<Option<Option<Vec<u8>>>> {
        match self {
            Events::Journal(backlog) => Ok(backlog.next()?.map(|item| match item {
                Item::Line { text, .. } => Some(text),
                Item::TooLong { .. } => None,
            })),
            Events::Store {
                client,
                url,
                cursor,
                page,
                end,
            } => {
                if page.is_empty() && end.as_ref().is_some_and(|end| &*cursor != end) {
                    let rows = client
                        .query(EVENTS_AFTER, &[&cursor.0, &cursor.1])
                        .await
                        .map_err(|e| store_error(url, &e))?;
                    for row in rows {
                        let position = (row.get::<_, String>(0), row.get::<_, i64>(1));
                        let past = end.as_ref().is_some_and(|end| {
                            position.0.parse::<u64>().unwrap_or(0)
                                > end.0.parse::<u64>().unwrap_or(0)
                                || (position.0 == end.0 && position.1 > end.1)
                        });
                        if past {
                            *end = Some(cursor.clone());
                            break;
                        }
                        *cursor = position;
                        page.push_back(row.get::<_, String>(2).into_bytes());
                    }
                    if page.is_empty() {
                        *end = Some(cursor.clone());
                    }
                }
                Ok(page.pop_front().map(Some))
            }
        }
    }
}

/// A database error, its password scrubbed.
fn store_error(url: &StoreUrl, error: &tokio_postgres::Error) -> anyhow::Error {
    let detail = error
        .as_db_error()
        .map(|db| format!(": {}", db.message()))
        .unwrap_or_default();
    anyhow::anyhow!(url.scrub(&format!("reading {url}: {error}{detail}")))
}
