//! Where accepted events are kept: the one interface the receiver writes
//! through, with the file journal ([`super::journal`], the default) and
//! PostgreSQL ([`super::postgres`], `--store postgres://…`) behind it.
//!
//! Both answer the same question the same way: an event is `Written` once
//! it is durable (fsynced, or its transaction committed), `Duplicate` if an
//! event with the same `source` and `id` is already kept (nothing is
//! written), or an error, which the receiver answers `503` with
//! `Retry-After` so that the vendor retries. The file journal dedupes
//! within its window, in one process; PostgreSQL dedupes permanently,
//! across every replica writing to the database.

use std::path::PathBuf;
use std::sync::Arc;

use switchboard_host::wit;

use super::journal::{self, Journal};
use super::postgres::{Postgres, StoreUrl};

/// Where events go, as configured.
#[derive(Debug, Clone)]
pub enum Target {
    /// Appended to this file and fsynced.
    File(PathBuf),
    /// Written to standard output (not durable; for piping).
    Stdout,
    /// Inserted into this PostgreSQL database.
    Postgres(Arc<StoreUrl>),
}

impl Target {
    /// The target as logged and named in errors (a password redacted).
    pub fn shown(&self) -> String {
        match self {
            Target::File(path) => path.display().to_string(),
            Target::Stdout => "standard output".to_owned(),
            Target::Postgres(url) => url.to_string(),
        }
    }
}

/// What became of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Kept (and durable, but on standard output).
    Written,
    /// Already kept: nothing written.
    Duplicate,
}

/// Why an event could not be kept.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(String);

impl SinkError {
    /// An error saying `why`; it is sent to the vendor, so it names no
    /// secret.
    pub fn new(why: impl Into<String>) -> SinkError {
        SinkError(why.into())
    }
}

/// The store requests write through.
#[derive(Debug, Clone)]
pub enum Store {
    /// The NDJSON journal (or standard output).
    File(Journal),
    /// A PostgreSQL database, shared with any other replica.
    Postgres(Postgres),
}

impl Store {
    /// Keeps `event` unless one with its `source` and `id` is already
    /// kept; returns once it is durable.
    pub async fn append(&self, event: &wit::Event) -> Result<Outcome, SinkError> {
        match self {
            Store::File(journal) => {
                let key = journal::key(&event.source, &event.id);
                journal.append(key, event.json.clone()).await
            }
            Store::Postgres(postgres) => postgres.append(event).await,
        }
    }
}
