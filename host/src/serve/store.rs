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

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

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

/// An accepted event as it is kept: the component's CloudEvents document,
/// and the attributes it is filed, deduplicated and counted under, read
/// from it once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its `id`.
    pub id: String,
    /// Its `source`: with the id, what a duplicate is known by.
    pub source: String,
    /// Its normalized `type`.
    pub event_type: String,
    /// Its `vendor` extension: the family.
    pub vendor: String,
    /// The document, on one line: what the journal appends.
    pub json: String,
}

impl Event {
    /// The event the document `json` is, or why it is not one (which the
    /// component never answers).
    pub fn from_json(json: String) -> Result<Event, serde_json::Error> {
        /// The attributes, borrowed from the document where no escape
        /// needs undoing; the rest (`data`, mostly) is read past.
        #[derive(Deserialize)]
        struct Attributes<'a> {
            #[serde(borrow)]
            id: Cow<'a, str>,
            #[serde(borrow)]
            source: Cow<'a, str>,
            #[serde(borrow, rename = "type")]
            event_type: Cow<'a, str>,
            #[serde(borrow)]
            vendor: Cow<'a, str>,
        }
        let attributes: Attributes<'_> = serde_json::from_str(&json)?;
        Ok(Event {
            id: attributes.id.into_owned(),
            source: attributes.source.into_owned(),
            event_type: attributes.event_type.into_owned(),
            vendor: attributes.vendor.into_owned(),
            json,
        })
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
    pub async fn append(&self, event: Event) -> Result<Outcome, SinkError> {
        match self {
            Store::File(journal) => {
                let key = journal::key(&event.source, &event.id);
                journal.append(key, event.json).await
            }
            Store::Postgres(postgres) => postgres.append(&event).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_filed_under_its_own_attributes() {
        let json = r#"{"specversion":"1.0","id":"a\"b","source":"/varda","type":"call.ended","vendor":"varda","data":{"raw":{"id":"not this"}}}"#;
        let event = Event::from_json(json.to_owned()).unwrap();
        assert_eq!(
            (
                event.id.as_str(),
                event.source.as_str(),
                event.event_type.as_str(),
                event.vendor.as_str(),
                event.json.as_str()
            ),
            ("a\"b", "/varda", "call.ended", "varda", json)
        );
        assert!(Event::from_json(r#"{"id":"1"}"#.to_owned()).is_err());
        assert!(Event::from_json("not json".to_owned()).is_err());
    }
}
