//! Forwarding from the PostgreSQL store: every replica started with
//! `--forward` takes part, and each event is sent by one of them.
//!
//! Each event's row in `switchboard_outbox` is written in the event's own
//! transaction. A replica claims up to [`BATCH`] rows whose lease is free
//! or ran out (`SELECT … FOR UPDATE SKIP LOCKED`, then a lease of
//! `--forward-lease` in its name), so two replicas never claim the same
//! row while its lease runs; it renews the lease of what it holds every
//! third of the lease while it delivers, and deletes each row once the
//! downstream accepted the event. The retries and the dead-letter rule are
//! the file forwarder's ([`Downstream::deliver`]): a permanent refusal
//! moves the event to `switchboard_dead_letters` (with the status, the
//! reason and the start of the answer) in the transaction that deletes
//! its outbox row.
//!
//! At least once: a replica killed mid-delivery leaves its lease to run
//! out, and another replica (or itself, restarted) sends those events
//! again; so does a replica whose delete did not reach the database. In
//! the normal case, nothing is sent twice. A replica wakes when it writes
//! an event, and otherwise looks for claimable rows every [`POLL`].
//! Stopping releases the leases it holds, so the others take over at once.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::Uri;
use tokio::sync::watch;

use super::forward::{Downstream, Forwarder, Sent, shown};
use super::metrics::Metrics;
use super::postgres::{OPERATION_TIMEOUT, Postgres};

/// The most events claimed at a time.
pub const BATCH: i64 = 16;
/// How often a replica with nothing to send looks for claimable events.
pub const POLL: Duration = Duration::from_secs(1);

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Claims up to $1 free events for $2 milliseconds in the name of $3.
const CLAIM: &str = "\
WITH free AS (
    SELECT seq FROM switchboard_outbox
    WHERE lease_until IS NULL OR lease_until < clock_timestamp()
    ORDER BY seq LIMIT $1
    FOR UPDATE SKIP LOCKED
), leased AS (
    UPDATE switchboard_outbox o
    SET lease_until = clock_timestamp() + $2::bigint * interval '1 millisecond', owner = $3
    FROM free WHERE o.seq = free.seq
    RETURNING o.seq
)
SELECT e.seq, e.id, e.event::text FROM leased JOIN switchboard_events e ON e.seq = leased.seq
ORDER BY e.seq";

/// Starts this replica's share of forwarding the store's events to `url`.
pub fn spawn(url: Uri, postgres: Postgres, lease: Duration, metrics: Arc<Metrics>) -> Forwarder {
    let (stop, stopped) = watch::channel(false);
    let outbox = Outbox {
        downstream: Downstream::new(url),
        owner: owner(),
        lease,
        postgres,
        metrics,
        stop: stopped,
    };
    Forwarder::new(stop, tokio::spawn(outbox.run()))
}

/// A name for this replica's leases: its process id and start time.
fn owner() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos:x}", std::process::id())
}

/// One claimed event.
struct Claimed {
    seq: i64,
    id: String,
    event: String,
}

struct Outbox {
    downstream: Downstream,
    owner: String,
    lease: Duration,
    postgres: Postgres,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
}

impl Outbox {
    async fn run(mut self) {
        tracing::info!(owner = %self.owner, lease_ms = self.lease.as_millis() as u64, "forwarding from the database");
        let mut backoff = FIRST_BACKOFF;
        'forwarding: loop {
            if *self.stop.borrow() {
                break;
            }
            // Registered before the claim, so that an event written
            // meanwhile wakes the wait below.
            let written = Arc::clone(&self.postgres.written);
            let mut woken = std::pin::pin!(written.notified());
            woken.as_mut().enable();
            let claimed = match self.claim().await {
                Ok(claimed) => {
                    backoff = FIRST_BACKOFF;
                    claimed
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot claim events to forward; retrying");
                    if self.pause(backoff).await {
                        break;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            if claimed.is_empty() {
                tokio::select! {
                    () = woken => {}
                    () = tokio::time::sleep(POLL) => {}
                    _ = self.stop.wait_for(|&stop| stop) => break,
                }
                continue;
            }
            let mut held: Vec<i64> = claimed.iter().map(|c| c.seq).collect();
            for event in claimed {
                let sent = self.deliver(&event, &held).await;
                let done = match sent {
                    Sent::Accepted => self.settle(event.seq, None).await,
                    Sent::Stopped => break 'forwarding,
                    Sent::Refused {
                        status,
                        excerpt,
                        attempts,
                    } => {
                        tracing::warn!(
                            id = %shown(&event.id),
                            attempt = attempts,
                            status = status.as_u16(),
                            "the downstream refused an event for good; dead-lettered"
                        );
                        let letter = Letter {
                            status: Some(i32::from(status.as_u16())),
                            reason: format!("the downstream answered {status}"),
                            response: Some(excerpt),
                        };
                        self.settle(event.seq, Some(letter)).await
                    }
                    Sent::GaveUp { reason, .. } => {
                        let letter = Letter {
                            status: None,
                            reason,
                            response: None,
                        };
                        self.settle(event.seq, Some(letter)).await
                    }
                };
                if !done {
                    break 'forwarding;
                }
                held.retain(|&seq| seq != event.seq);
            }
        }
        self.release().await;
        tracing::info!("forwarding stopped; this replica's leases are released");
    }

    /// Claims up to [`BATCH`] free events.
    async fn claim(&self) -> Result<Vec<Claimed>, super::postgres::Error> {
        let doing = "claiming events to forward from";
        let deadline = tokio::time::Instant::now() + OPERATION_TIMEOUT;
        let client = self.postgres.client(doing, deadline).await?;
        let lease = i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX);
        let rows = tokio::time::timeout_at(deadline, async {
            let statement = client.prepare_cached(CLAIM).await?;
            client
                .query(&statement, &[&BATCH, &lease, &self.owner])
                .await
        })
        .await;
        let rows = self.postgres.finish(client, doing, rows)?;
        Ok(rows
            .iter()
            .map(|row| Claimed {
                seq: row.get(0),
                id: row.get(1),
                event: row.get(2),
            })
            .collect())
    }

    /// Delivers one event, renewing the leases of `held` every third of
    /// the lease meanwhile.
    async fn deliver(&mut self, event: &Claimed, held: &[i64]) -> Sent {
        let id = shown(&event.id);
        let body = Bytes::from(event.event.clone());
        let mut stop = self.stop.clone();
        let sending = self
            .downstream
            .deliver(body, &id, None, &mut stop, Some(&self.metrics));
        let mut sending = std::pin::pin!(sending);
        let mut renew = tokio::time::interval(self.lease / 3);
        renew.tick().await;
        loop {
            tokio::select! {
                sent = &mut sending => return sent,
                _ = renew.tick() => {
                    if let Err(e) = renew_leases(&self.postgres, held, self.lease, &self.owner).await {
                        tracing::warn!(error = %e, "cannot renew the forwarding leases");
                    }
                }
            }
        }
    }

    /// Deletes an event's outbox row (dead-lettering it first when it has a
    /// letter), retrying until it is done or the forwarder is stopped;
    /// false if stopped.
    async fn settle(&mut self, seq: i64, letter: Option<Letter>) -> bool {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let doing = "settling a forwarded event in";
            let deadline = tokio::time::Instant::now() + OPERATION_TIMEOUT;
            let result = match self.postgres.client(doing, deadline).await {
                Ok(mut client) => {
                    let done = tokio::time::timeout_at(deadline, async {
                        let transaction = client.transaction().await?;
                        if let Some(letter) = &letter {
                            transaction
                                .execute(
                                    "INSERT INTO switchboard_dead_letters (seq, status, reason, response)
                                     VALUES ($1, $2, $3, $4) ON CONFLICT (seq) DO NOTHING",
                                    &[&seq, &letter.status, &letter.reason, &letter.response],
                                )
                                .await?;
                        }
                        transaction
                            .execute("DELETE FROM switchboard_outbox WHERE seq = $1", &[&seq])
                            .await?;
                        transaction.commit().await
                    })
                    .await;
                    self.postgres.finish(client, doing, done)
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => {
                    if letter.is_some() {
                        self.metrics.dead_letter();
                    }
                    return true;
                }
                Err(e) => {
                    tracing::error!(error = %e, seq, "cannot record a forwarded event as done; retrying");
                }
            }
            if self.pause(backoff).await {
                return false;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Frees every lease this replica holds (best effort).
    async fn release(&self) {
        let doing = "releasing forwarding leases in";
        let deadline = tokio::time::Instant::now() + OPERATION_TIMEOUT;
        let Ok(client) = self.postgres.client(doing, deadline).await else {
            return;
        };
        let released = tokio::time::timeout_at(
            deadline,
            client.execute(
                "UPDATE switchboard_outbox SET lease_until = NULL, owner = NULL WHERE owner = $1",
                &[&self.owner],
            ),
        )
        .await;
        if let Err(e) = self.postgres.finish(client, doing, released) {
            tracing::warn!(error = %e, "cannot release the forwarding leases; they run out on their own");
        }
    }

    /// Sleeps for `delay`; true if the forwarder was stopped meanwhile.
    async fn pause(&mut self, delay: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(delay) => false,
            _ = self.stop.wait_for(|&stop| stop) => true,
        }
    }
}

/// Why an event was dead-lettered.
struct Letter {
    status: Option<i32>,
    reason: String,
    response: Option<String>,
}

/// Extends the leases of `held` that `owner` still holds.
async fn renew_leases(
    postgres: &Postgres,
    held: &[i64],
    lease: Duration,
    owner: &str,
) -> Result<u64, super::postgres::Error> {
    let doing = "renewing forwarding leases in";
    let deadline = tokio::time::Instant::now() + OPERATION_TIMEOUT;
    let client = postgres.client(doing, deadline).await?;
    let lease = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    let held = held.to_vec();
    let renewed = tokio::time::timeout_at(
        deadline,
        client.execute(
            "UPDATE switchboard_outbox SET lease_until = clock_timestamp() + $2::bigint * interval '1 millisecond'
             WHERE seq = ANY($1) AND owner = $3",
            &[&held, &lease, &owner],
        ),
    )
    .await;
    postgres.finish(client, doing, renewed)
}
