//! The PostgreSQL store (`switchboard serve --store postgres://…`): every
//! replica pointed at one database shares one permanent dedupe, one
//! refusal log and one forwarding outbox.
//!
//! - **Schema.** Created and migrated at start from the SQL files of
//!   `host/sql/` ([`MIGRATIONS`]), in one transaction under an advisory
//!   lock, so that replicas starting together apply each migration once;
//!   the version reached is the `schema_version` row of `switchboard_meta`.
//!   A database whose schema is newer than this binary knows is refused at
//!   start ([`Error::NewerSchema`]).
//! - **Events** are keyed by `(source, id)`: `INSERT … ON CONFLICT DO
//!   NOTHING` decides `duplicate`, in the same transaction as the event's
//!   outbox row. The answer comes after `COMMIT` returned, so a `200` is
//!   never sent for an event the database does not hold (with PostgreSQL's
//!   default `synchronous_commit = on`). A database that cannot be reached,
//!   refuses, or does not answer within [`OPERATION_TIMEOUT`] is a `503`.
//! - **Connections** come from a bounded pool (`--store-connections`); a
//!   request waits at most [`OPERATION_TIMEOUT`] for one. A connection
//!   that broke (the server restarted) is dropped when it is next taken
//!   and a new one is made, so the receiver recovers without a restart;
//!   one that did not answer in time is dropped rather than reused.
//! - **Secrets.** The URL's password is never logged or sent: the URL is
//!   shown with `***` in its place ([`StoreUrl`]), and every error text is
//!   scrubbed of it.
//!
//! Plain TCP only: TLS (`tokio-postgres-rustls`) is the next step.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio::sync::Notify;
use tokio_postgres::NoTls;

use super::forward::chain;
use super::metrics::Metrics;
use super::store::{Event, Outcome, SinkError};

/// The schema migrations, in order: version `n` is `MIGRATIONS[n - 1]`.
pub const MIGRATIONS: &[&str] = &[include_str!("../../sql/001_events.sql")];

/// The schema version this binary brings the database to.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How long a database operation (taking a connection, a statement, a
/// commit) may take before the request is answered `503`.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// How long making a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The advisory lock held while migrating (any constant shared by every
/// replica: "switchboard" in ASCII, truncated).
const MIGRATION_LOCK: i64 = 0x7377_6974_6368_626f;
/// The advisory lock held while a refusal is kept and the table trimmed.
const REFUSALS_LOCK: i64 = MIGRATION_LOCK + 1;

/// Why the database could not be used.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `--store` is not a `postgres://` URL that parses.
    #[error("--store {shown}: {problem}")]
    Url {
        /// The URL, its password redacted.
        shown: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The database's schema is newer than this binary knows.
    #[error(
        "the database's switchboard schema is version {found}, newer than this switchboard knows ({known}): upgrade switchboard, or point --store at another database"
    )]
    NewerSchema {
        /// The version in `switchboard_meta`.
        found: i64,
        /// [`SCHEMA_VERSION`].
        known: i64,
    },
    /// A connection could not be had, or a statement failed.
    #[error("{0}")]
    Database(String),
    /// The database did not answer in time.
    #[error("the database did not answer within {} s", OPERATION_TIMEOUT.as_secs())]
    Timeout,
}

/// A `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?OPTIONS]` URL, parsed.
/// Its `Display` and `Debug` show it with the password as `***`.
#[derive(Clone)]
pub struct StoreUrl {
    config: tokio_postgres::Config,
    shown: String,
    /// The password as written and as decoded, to scrub from error texts.
    secrets: Vec<String>,
}

impl StoreUrl {
    /// Parses `text`, which must be a `postgres://` or `postgresql://` URL
    /// naming a host and a database.
    pub fn parse(text: &str) -> Result<StoreUrl, Error> {
        let (shown, raw_password) = redact_url(text);
        let url_error = |problem: &str| Error::Url {
            shown: shown.clone(),
            problem: problem.to_owned(),
        };
        if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
            return Err(url_error(
                "takes a postgres://USER@HOST:PORT/DB URL (or a file journal with --out)",
            ));
        }
        let mut config = tokio_postgres::Config::from_str(text)
            .map_err(|e| url_error(&format!("does not parse: {}", chain(&e))))?;
        if config.get_hosts().is_empty() {
            return Err(url_error("names no host"));
        }
        if config.get_dbname().is_none_or(str::is_empty) {
            return Err(url_error("names no database (…/DB)"));
        }
        if config.get_user().is_none_or(str::is_empty) {
            return Err(url_error("names no user (USER@HOST)"));
        }
        if config.get_application_name().is_none() {
            config.application_name("switchboard");
        }
        config.connect_timeout(CONNECT_TIMEOUT);
        config.keepalives_idle(Duration::from_secs(30));
        let mut secrets = Vec::new();
        if let Some(raw) = raw_password.filter(|p| !p.is_empty()) {
            secrets.push(raw);
        }
        if let Some(password) = config.get_password() {
            let decoded = String::from_utf8_lossy(password).into_owned();
            if !decoded.is_empty() && !secrets.contains(&decoded) {
                secrets.push(decoded);
            }
        }
        Ok(StoreUrl {
            config,
            shown,
            secrets,
        })
    }

    /// `text` with the password replaced wherever it appears.
    pub fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            text = text.replace(secret.as_str(), "***");
        }
        text
    }

    /// The connection settings.
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// A single connection (not from a pool) that listens on `channel`:
    /// each notification's payload arrives on the receiver, which closes
    /// when the connection is lost. For the CLI's readers.
    pub async fn listen(
        &self,
        channel: &str,
    ) -> Result<
        (
            tokio_postgres::Client,
            tokio::sync::mpsc::UnboundedReceiver<String>,
        ),
        Error,
    > {
        let (client, mut connection) = self
            .config
            .connect(NoTls)
            .await
            .map_err(|e| self.database("cannot connect to", &e))?;
        let (notify, notified) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(Ok(message)) =
                std::future::poll_fn(|cx| connection.poll_message(cx)).await
            {
                if let tokio_postgres::AsyncMessage::Notification(n) = message
                    && notify.send(n.payload().to_owned()).is_err()
                {
                    break;
                }
            }
        });
        client
            .batch_execute(&format!("LISTEN {channel}"))
            .await
            .map_err(|e| self.database("cannot listen on", &e))?;
        Ok((client, notified))
    }

    /// A database error as shown: what was being done, the URL, and the
    /// server's or the client's message, scrubbed.
    fn database(&self, doing: &str, error: &dyn std::error::Error) -> Error {
        Error::Database(self.scrub(&format!("{doing} {self}: {}", chain(error))))
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreUrl({})", self.shown)
    }
}

/// The URL with the password of its user-info replaced by `***`, and that
/// password as written (percent-encoded). Only the part between `://` and
/// the last `@` before the host's path is looked at; a text that is not a
/// URL is shown whole unless it holds an `@`, in which case everything
/// before it is hidden.
fn redact_url(text: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = text.split_once("://") else {
        return match text.rsplit_once('@') {
            Some((_, host)) => (format!("***@{host}"), None),
            None => (text.to_owned(), None),
        };
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let mut password = None;
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, secret)) => {
                password = Some(secret.to_owned());
                format!("{user}:***@{host}")
            }
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    // A password may also be given as `?password=…`.
    let tail = match tail.split_once("password=") {
        Some((before, after)) => {
            let end = after.find('&').unwrap_or(after.len());
            password = Some(after[..end].to_owned());
            format!("{before}password=***{}", &after[end..])
        }
        None => tail.to_owned(),
    };
    (format!("{scheme}://{authority}{tail}"), password)
}

/// The store: a pool of connections to one database.
#[derive(Clone)]
pub struct Postgres {
    pool: Pool,
    url: Arc<StoreUrl>,
    /// Told after each event written, so that this replica's forwarder
    /// wakes at once.
    pub(super) written: Arc<Notify>,
    metrics: Arc<Metrics>,
}

impl fmt::Debug for Postgres {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Postgres")
            .field("url", &self.url)
            .field("status", &self.pool.status())
            .finish_non_exhaustive()
    }
}

/// The statement that keeps an event: inserted unless its `(source, id)`
/// is there, with its outbox row; a row back means written.
const INSERT_EVENT: &str = "\
WITH inserted AS (
    INSERT INTO switchboard_events (source, id, type, vendor, event)
    VALUES ($1, $2, $3, $4, $5::text::json)
    ON CONFLICT (source, id) DO NOTHING
    RETURNING seq
), queued AS (
    INSERT INTO switchboard_outbox (seq) SELECT seq FROM inserted RETURNING seq
)
SELECT seq FROM queued";

impl Postgres {
    /// Connects (one connection, to migrate), migrates the schema and
    /// makes a pool of at most `connections` connections.
    pub async fn open(
        url: Arc<StoreUrl>,
        connections: usize,
        metrics: Arc<Metrics>,
    ) -> Result<Postgres, Error> {
        let manager = Manager::from_config(
            url.config().clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(connections.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(OPERATION_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(OPERATION_TIMEOUT))
            .build()
            .map_err(|e| Error::Database(format!("cannot make the connection pool: {e}")))?;
        let postgres = Postgres {
            pool,
            url,
            written: Arc::new(Notify::new()),
            metrics,
        };
        let doing = "migrating the schema of";
        let deadline = tokio::time::Instant::now() + OPERATION_TIMEOUT;
        let mut client = postgres.client(doing, deadline).await?;
        let migrated = tokio::time::timeout_at(deadline, migrate(&mut client)).await;
        let version = postgres.finish(client, doing, migrated)?;
        if version > SCHEMA_VERSION {
            return Err(Error::NewerSchema {
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        tracing::info!(
            store = %postgres.url,
            schema_version = version,
            connections,
            "PostgreSQL store opened"
        );
        Ok(postgres)
    }

    /// Keeps `event` unless its `(source, id)` is kept; returns once the
    /// transaction committed.
    pub async fn append(&self, event: &Event) -> Result<Outcome, SinkError> {
        let started = std::time::Instant::now();
        let result = self.insert(event).await;
        match result {
            Ok(true) => {
                self.metrics.sink_written(started.elapsed(), 1);
                self.written.notify_waiters();
                Ok(Outcome::Written)
            }
            Ok(false) => Ok(Outcome::Duplicate),
            Err(e) => {
                tracing::error!(error = %e, "the event was not kept in the database");
                Err(SinkError::new(format!(
                    "the event store is unavailable: {e}"
                )))
            }
        }
    }

    async fn insert(&self, event: &Event) -> Result<bool, Error> {
        let doing = "writing an event to";
        let deadline = tokio::time::Instant::now() + OPERATION_TIMEOUT;
        let mut client = self.client(doing, deadline).await?;
        let inserted = tokio::time::timeout_at(deadline, async {
            let transaction = client.transaction().await?;
            let statement = transaction.prepare_cached(INSERT_EVENT).await?;
            let row = transaction
                .query_opt(
                    &statement,
                    &[
                        &event.source,
                        &event.id,
                        &event.event_type,
                        &event.vendor,
                        &event.json,
                    ],
                )
                .await?;
            transaction.commit().await?;
            Ok(row.is_some())
        })
        .await;
        self.finish(client, doing, inserted)
    }

    /// Keeps one refusal record (a JSON object of `bytes` bytes), then
    /// deletes the oldest records past `max_records` or `max_bytes`, under
    /// a lock so that replicas trim one at a time.
    pub async fn keep_refusal(
        &self,
        record: &str,
        max_records: usize,
        max_bytes: u64,
    ) -> Result<(), Error> {
        let bytes = i32::try_from(record.len()).unwrap_or(i32::MAX);
        let max_records = i64::try_from(max_records).unwrap_or(i64::MAX);
        let max_bytes = i64::try_from(max_bytes).unwrap_or(i64::MAX);
        let doing = "keeping a refusal in";
        let deadline = tokio::time::Instant::now() + OPERATION_TIMEOUT;
        let mut client = self.client(doing, deadline).await?;
        let kept = tokio::time::timeout_at(deadline, async {
            let transaction = client.transaction().await?;
            transaction
                .execute("SELECT pg_advisory_xact_lock($1)", &[&REFUSALS_LOCK])
                .await?;
            transaction
                .execute(
                    "INSERT INTO switchboard_refusals (bytes, record) VALUES ($1, $2::text::json)",
                    &[&bytes, &record],
                )
                .await?;
            transaction
                .execute(
                    "DELETE FROM switchboard_refusals WHERE seq <= (
                        SELECT seq FROM (
                            SELECT seq, row_number() OVER newest AS n, sum(bytes) OVER newest AS b
                            FROM switchboard_refusals WINDOW newest AS (ORDER BY seq DESC)
                        ) kept WHERE n > $1 OR b > $2 ORDER BY seq DESC LIMIT 1)",
                    &[&max_records, &max_bytes],
                )
                .await?;
            transaction.commit().await
        })
        .await;
        self.finish(client, doing, kept)
    }

    /// A pooled connection, waited for until `deadline`.
    pub(super) async fn client(
        &self,
        doing: &str,
        deadline: tokio::time::Instant,
    ) -> Result<Object, Error> {
        match tokio::time::timeout_at(deadline, self.pool.get()).await {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(e)) => Err(self.url.database(&format!("{doing} (connecting)"), &e)),
            Err(_) => Err(Error::Timeout),
        }
    }

    /// What work on `client` came to. A connection whose work failed other
    /// than by the server's refusal (it broke), or did not finish in time,
    /// is discarded rather than returned to the pool.
    pub(super) fn finish<T>(
        &self,
        client: Object,
        doing: &str,
        result: Result<Result<T, tokio_postgres::Error>, tokio::time::error::Elapsed>,
    ) -> Result<T, Error> {
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                if e.as_db_error().is_none() {
                    drop(Object::take(client));
                }
                Err(self.url.database(doing, &e))
            }
            Err(_) => {
                drop(Object::take(client));
                Err(Error::Timeout)
            }
        }
    }
}

/// Brings the schema to [`SCHEMA_VERSION`] in one transaction, under the
/// migration lock; returns the version reached.
async fn migrate(client: &mut Object) -> Result<i64, tokio_postgres::Error> {
    let transaction = client.transaction().await?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS switchboard_meta (key text PRIMARY KEY, value text NOT NULL)",
        )
        .await?;
    let found: i64 = transaction
        .query_opt(
            "SELECT value FROM switchboard_meta WHERE key = 'schema_version'",
            &[],
        )
        .await?
        .map(|row| row.get::<_, String>(0))
        .map_or(0, |value| value.trim().parse().unwrap_or(i64::MAX));
    if found > SCHEMA_VERSION {
        // Not a database error: reported by the caller from the version.
        transaction.rollback().await?;
        return Ok(found);
    }
    for (n, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tracing::info!(version = n + 1, "applying schema migration");
        transaction.batch_execute(sql).await?;
    }
    transaction
        .execute(
            "INSERT INTO switchboard_meta (key, value) VALUES ('schema_version', $1)
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            &[&SCHEMA_VERSION.to_string()],
        )
        .await?;
    transaction.commit().await?;
    Ok(SCHEMA_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_never_shown() {
        for (text, shown) in [
            (
                "postgres://app:hunter2@db.internal:5432/events",
                "postgres://app:***@db.internal:5432/events",
            ),
            (
                "postgresql://app:p%40ss@127.0.0.1/events?sslmode=disable",
                "postgresql://app:***@127.0.0.1/events?sslmode=disable",
            ),
            (
                "postgres://app@127.0.0.1/events?password=hunter2&connect_timeout=3",
                "postgres://app@127.0.0.1/events?password=***&connect_timeout=3",
            ),
            (
                "postgres://app@127.0.0.1:5432/events",
                "postgres://app@127.0.0.1:5432/events",
            ),
        ] {
            let url = StoreUrl::parse(text).unwrap();
            assert_eq!(url.to_string(), shown);
            assert!(!format!("{url:?}").contains("hunter2"));
            assert_eq!(
                url.scrub(&format!("it was {text}")),
                format!("it was {}", url.scrub(text))
            );
            assert!(!url.scrub(text).contains("hunter2"));
        }
        let url = StoreUrl::parse("postgres://app:p%40ss@127.0.0.1/events").unwrap();
        assert_eq!(url.scrub("p@ss and p%40ss"), "*** and ***");
    }

    #[test]
    fn bad_urls_are_refused_clearly_without_their_password() {
        for (text, problem) in [
            ("mysql://app:hunter2@db/events", "takes a postgres://"),
            ("db.internal:5432", "takes a postgres://"),
            (
                "postgres://app:hunter2@db.internal:notaport/events",
                "does not parse",
            ),
            (
                "postgres://app:hunter2@db.internal:5432",
                "names no database",
            ),
            (
                "postgres://app:hunter2@db.internal:5432/events?nonsense=1",
                "does not parse",
            ),
        ] {
            let error = StoreUrl::parse(text).unwrap_err().to_string();
            assert!(error.contains(problem), "{text}: {error}");
            assert!(!error.contains("hunter2"), "{text}: {error}");
        }
    }
}
