//! `switchboard replay`: stored refusals, captures or fixtures posted to a
//! running receiver's `POST /replay`, which runs them through its current
//! configuration into its journal (it holds the journal's lock).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Uri;
use hyper::header::CONTENT_TYPE;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::Incomplete;
use super::sources::{self, Read1};
use super::tail::clean;
use crate::serve::delivery::Delivery;
use crate::serve::forward::chain;

/// The most deliveries, and bytes, one request carries (a longer delivery
/// goes alone).
const BATCH_DELIVERIES: usize = 100;
const BATCH_BYTES: usize = 1 << 20;
/// The longest answer read.
const MAX_ANSWER: usize = 16 << 20;
/// How long one batch may take.
const BATCH_TIMEOUT: Duration = Duration::from_secs(120);

/// Which deliveries are replayed.
#[derive(Debug, Default)]
pub struct Filter {
    /// Received at or after (unix seconds).
    pub since: Option<i64>,
    /// Posted to this vendor's path.
    pub vendor: Option<String>,
    /// Refused with this reason (or class).
    pub reason: Option<String>,
}

impl Filter {
    fn keeps(&self, delivery: &Delivery) -> bool {
        let since = self
            .since
            .is_none_or(|since| delivery.received_at.is_some_and(|at| at >= since));
        let vendor = self.vendor.as_deref().is_none_or(|v| {
            delivery
                .vendor
                .as_deref()
                .is_some_and(|d| d.eq_ignore_ascii_case(v))
        });
        let reason = self.reason.as_deref().is_none_or(|r| {
            delivery.reason.as_deref() == Some(r) || delivery.class.as_deref() == Some(r)
        });
        since && vendor && reason
    }
}

/// One `replay` run.
#[derive(Debug)]
pub struct Replay {
    /// The receiver's base URL.
    pub receiver: Uri,
    /// Where the deliveries are, oldest first.
    pub sources: Vec<PathBuf>,
    /// Which are replayed.
    pub filter: Filter,
    /// Whether nothing is written.
    pub dry_run: bool,
}

#[derive(Debug, Default)]
struct Totals {
    accepted: u64,
    duplicate: u64,
    would_accept: u64,
    refused: u64,
    not_run: u64,
    unreadable: u64,
    filtered: u64,
}

struct Batch {
    origins: Vec<String>,
    body: Vec<u8>,
}

impl Replay {
    /// Replays every source; an [`Incomplete`] error if some delivery is
    /// still not accepted.
    pub fn run(self) -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let url: Uri = format!(
            "{}/replay{}",
            self.receiver.to_string().trim_end_matches('/'),
            if self.dry_run { "?dry-run=1" } else { "" }
        )
        .parse()
        .context("--receiver")?;
        let mut totals = Totals::default();
        let mut batch = Batch {
            origins: Vec::new(),
            body: Vec::new(),
        };
        let post = |batch: &mut Batch, totals: &mut Totals| -> anyhow::Result<()> {
            if batch.origins.is_empty() {
                return Ok(());
            }
            let body = std::mem::take(&mut batch.body);
            let origins = std::mem::take(&mut batch.origins);
            let answer = runtime.block_on(post_batch(&client, &url, body))?;
            let results: Vec<&str> = answer.lines().filter(|l| !l.is_empty()).collect();
            if results.len() != origins.len() {
                bail!(
                    "the receiver answered {} results for {} deliveries",
                    results.len(),
                    origins.len()
                );
            }
            for (origin, result) in origins.iter().zip(results) {
                report(origin, result, totals)?;
            }
            Ok(())
        };
        for source in &self.sources {
            sources::each(source, &mut |Read1 { origin, delivery }| {
                let delivery = match delivery {
                    Ok(delivery) => delivery,
                    Err(why) => {
                        // In order: what was read before it is answered first.
                        post(&mut batch, &mut totals)?;
                        totals.unreadable += 1;
                        println!(
                            "unreadable    {}  {}",
                            clean(&origin, 200),
                            clean(&why, 300)
                        );
                        return Ok(());
                    }
                };
                if !self.filter.keeps(&delivery) {
                    totals.filtered += 1;
                    return Ok(());
                }
                let line = delivery.to_json();
                if !batch.origins.is_empty()
                    && (batch.origins.len() >= BATCH_DELIVERIES
                        || batch.body.len() + line.len() > BATCH_BYTES)
                {
                    post(&mut batch, &mut totals)?;
                }
                batch.body.extend_from_slice(line.as_bytes());
                batch.body.push(b'\n');
                batch.origins.push(origin);
                Ok(())
            })?;
        }
        post(&mut batch, &mut totals)?;
        let Totals {
            accepted,
            duplicate,
            would_accept,
            refused,
            not_run,
            unreadable,
            filtered,
        } = totals;
        let total = accepted + duplicate + would_accept + refused + not_run + unreadable;
        let done = if self.dry_run {
            format!("{would_accept} would be accepted")
        } else {
            format!("{accepted} accepted, {duplicate} duplicate")
        };
        println!(
            "{total} deliveries{}: {done}, {refused} refused, {not_run} not run, {unreadable} unreadable ({filtered} filtered out)",
            if self.dry_run {
                " (dry run: nothing written)"
            } else {
                ""
            }
        );
        let failed = refused + not_run + unreadable;
        if failed > 0 {
            return Err(Incomplete(format!("{failed} deliveries were not accepted")).into());
        }
        Ok(())
    }
}

/// Posts one batch; the answer's text.
async fn post_batch(
    client: &Client<HttpConnector, Full<Bytes>>,
    url: &Uri,
    body: Vec<u8>,
) -> anyhow::Result<String> {
    let request = hyper::Request::post(url.clone())
        .header(CONTENT_TYPE, "application/x-ndjson")
        .body(Full::new(Bytes::from(body)))?;
    let exchange = async {
        let response = client.request(request).await.map_err(|e| {
            anyhow!(
                "cannot reach the receiver at {url}: {} (is `switchboard serve` running there? --receiver names it)",
                chain(&e)
            )
        })?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| anyhow!("reading the receiver's answer: {e}"))?
            .to_bytes();
        let text = String::from_utf8_lossy(&body).into_owned();
        if !status.is_success() {
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or(text);
            bail!(
                "the receiver at {url} answered {status}: {}",
                clean(&message, 300)
            );
        }
        Ok(text)
    };
    tokio::time::timeout(BATCH_TIMEOUT, exchange)
        .await
        .map_err(|_| {
            anyhow!(
                "the receiver at {url} did not answer within {} s",
                BATCH_TIMEOUT.as_secs()
            )
        })?
}

/// Prints one result line and counts it.
fn report(origin: &str, result: &str, totals: &mut Totals) -> anyhow::Result<()> {
    let value: Value = serde_json::from_str(result)
        .map_err(|e| anyhow!("the receiver's answer is not JSON lines: {e}"))?;
    let field = |key: &str| clean(value.get(key).and_then(Value::as_str).unwrap_or("-"), 200);
    let origin = clean(origin, 200);
    let outcome = value.get("outcome").and_then(Value::as_str).unwrap_or("");
    match outcome {
        "accepted" | "duplicate" | "would-accept" => {
            match outcome {
                "accepted" => totals.accepted += 1,
                "duplicate" => totals.duplicate += 1,
                _ => totals.would_accept += 1,
            }
            println!(
                "{outcome:<12}  {origin}  {}  {}",
                field("type"),
                field("id")
            );
        }
        "refused" => {
            totals.refused += 1;
            println!(
                "refused       {origin}  {}/{}: {}",
                field("class"),
                field("reason"),
                field("message")
            );
        }
        _ => {
            totals.not_run += 1;
            println!(
                "not-run       {origin}  {}: {}",
                field("code"),
                field("message")
            );
        }
    }
    Ok(())
}
