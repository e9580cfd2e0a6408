//! `POST /replay`: deliveries re-run through the current configuration into
//! the journal, while the receiver runs (it holds the journal's lock, so
//! this is the one way in).
//!
//! The body is JSON lines of deliveries ([`super::delivery`]: captures,
//! refusal-log records or fixtures, one per line); each is run through the
//! same pool and appended through the same journal as a `POST /webhooks`
//! delivery, so the journal's dedupe applies (a second replay answers
//! `duplicate`), but verified at the time it was received (`received_at`,
//! else now), so that a timestamp check is against its first arrival. The
//! answer is one JSON line per delivery, in order ([`Replayed`]). With
//! `?dry-run=1` nothing is written: an accepted delivery is `would-accept`.
//!
//! Only a loopback peer, and no browser page, may use it
//! ([`switchboard_http::admin_allowed`]); its refusals are not kept in the
//! refusal log (they are there already). Bounds: the body is read within
//! the body budget (and charged to it), at most [`MAX_DELIVERIES`]
//! deliveries per request; each delivery's headers within the contract's
//! caps and its body within the body limit, like any delivery.

use std::net::SocketAddr;

use hyper::Request;
use hyper::body::Incoming;
use hyper::header::ORIGIN;
use switchboard_http::{Answer, Replayed};

use super::delivery::Delivery;
use super::{Processed, Received, State, keep, process, read_body, unix_now};

/// The most deliveries one `POST /replay` may carry (`switchboard replay`
/// sends fewer at a time).
pub const MAX_DELIVERIES: usize = 1000;

/// The most bytes a `POST /replay` body may take: room for two deliveries
/// of the largest size (with their headers, and base64's third more), at
/// least 4 MiB, and never more than the body budget it is charged to.
pub fn body_limit(delivery_limit: usize, budget: usize) -> usize {
    delivery_limit
        .saturating_mul(3)
        .saturating_add(2 * switchboard_http::MAX_HEADER_BYTES)
        .max(4 << 20)
        .min(budget)
}

/// Answers one `POST /replay`.
pub async fn replay(
    state: &State,
    peer: SocketAddr,
    request: Request<Incoming>,
    dry_run: bool,
) -> Answer {
    if let Err(forbidden) =
        switchboard_http::admin_allowed(peer.ip(), request.headers().contains_key(ORIGIN))
    {
        tracing::warn!(%peer, "POST /replay refused: not a loopback peer, or a browser");
        return forbidden;
    }
    let (parts, body) = request.into_parts();
    let limit = body_limit(state.body_limit, state.budget.limit());
    let body = match read_body(state, &parts.headers, body, limit).await {
        Ok(body) => body,
        Err(refusal) => return refusal,
    };
    let lines: Vec<&[u8]> = body
        .bytes
        .split(|&b| b == b'\n')
        .filter(|line| !line.trim_ascii().is_empty())
        .collect();
    if lines.len() > MAX_DELIVERIES {
        return Answer::TooManyDeliveries {
            count: lines.len(),
            limit: MAX_DELIVERIES,
        };
    }
    let mut results = Vec::with_capacity(lines.len());
    for (n, line) in lines.into_iter().enumerate() {
        results.push(one(state, n + 1, line, dry_run).await);
    }
    Answer::Replayed(results)
}

/// One delivery of the body (its `n`-th line).
async fn one(state: &State, n: usize, line: &[u8], dry_run: bool) -> Replayed {
    let delivery = match Delivery::from_json(line) {
        Ok(delivery) => delivery,
        Err(why) => {
            return Replayed::NotRun {
                code: "bad-request",
                message: format!("line {n}: {why}"),
            };
        }
    };
    run(state, delivery, dry_run).await
}

/// Runs one delivery through the current configuration into the journal
/// (nothing written on a dry run), as `POST /replay` does: within the
/// contract's header caps, verified at its `received_at` (else now).
pub(super) async fn run(state: &State, delivery: Delivery, dry_run: bool) -> Replayed {
    let head_bytes = delivery
        .headers
        .iter()
        .map(|(name, value)| name.len() + value.len())
        .sum();
    if let Err(refusal) = switchboard_http::check_header_caps(delivery.headers.len(), head_bytes) {
        return not_run(&refusal);
    }
    let now = delivery.received_at.unwrap_or_else(unix_now);
    let received = Received {
        headers: delivery.headers,
        body: delivery.body,
    };
    let (processed, _) = process(state, received, delivery.vendor.as_deref(), now).await;
    let event = match processed {
        Processed::Event(event) => event,
        Processed::Refused(refused) => {
            return Replayed::Refused {
                class: refused.class,
                reason: refused.reason.to_owned(),
                message: refused.message,
            };
        }
        Processed::Overloaded => {
            return not_run(&Answer::Overloaded(switchboard_http::Overload::Instances));
        }
    };
    if dry_run {
        return Replayed::WouldAccept {
            id: event.id,
            event_type: event.event_type,
        };
    }
    match keep(state, event).await {
        Answer::Accepted {
            id,
            event_type,
            duplicate,
        } => Replayed::Accepted {
            id,
            event_type,
            duplicate,
        },
        other => not_run(&other),
    }
}

fn not_run(answer: &Answer) -> Replayed {
    Replayed::NotRun {
        code: answer.code(),
        message: answer.message().unwrap_or_default(),
    }
}
