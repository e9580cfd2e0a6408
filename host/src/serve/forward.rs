//! Forwarding: every event in the journal is POSTed downstream as a
//! structured CloudEvent (`Content-Type: application/cloudevents+json`).
//!
//! The vendor is acknowledged once the event is durable in the journal (the
//! spool), never later, so a slow or absent downstream never makes a vendor
//! wait or retry. This task then reads the journal in order from a persisted
//! offset (`<journal>.forwarded`) and delivers each event, retrying with
//! exponential backoff (100 ms doubling to 30 s) until the downstream answers
//! 2xx. Delivery is at least once: after a crash, events after the last
//! persisted offset are sent again, so the downstream should deduplicate on
//! the CloudEvent's `source` and `id`. Plain `http://` only.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::metrics::Metrics;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts forwarding `journal` to `url`.
pub fn spawn(
    url: Uri,
    journal: PathBuf,
    written: Arc<Notify>,
    metrics: Arc<Metrics>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let offset_path = offset_path(&journal);
        let mut offset = read_offset(&offset_path);
        loop {
            let pending = match read_from(&journal, offset) {
                Ok(pending) => pending,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the journal to forward it");
                    Vec::new()
                }
            };
            if pending.is_empty() {
                let _ = tokio::time::timeout(Duration::from_secs(1), written.notified()).await;
                continue;
            }
            for line in pending {
                deliver(&client, &url, &line, &metrics).await;
                offset += line.len() as u64 + 1;
                if let Err(e) = write_offset(&offset_path, offset) {
                    tracing::warn!(error = %e, "cannot persist the forwarding offset");
                }
            }
        }
    })
}

/// Sends one event until the downstream accepts it.
async fn deliver(
    client: &Client<HttpConnector, Full<Bytes>>,
    url: &Uri,
    line: &str,
    metrics: &Metrics,
) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let request = hyper::Request::post(url.clone())
            .header("content-type", "application/cloudevents+json")
            .body(Full::new(Bytes::copy_from_slice(line.as_bytes())));
        let outcome = match request {
            Ok(request) => tokio::time::timeout(ATTEMPT_TIMEOUT, client.request(request)).await,
            Err(e) => {
                tracing::error!(error = %e, "cannot build the forwarding request");
                return;
            }
        };
        match outcome {
            Ok(Ok(response)) if response.status().is_success() => {
                metrics.forward(true);
                return;
            }
            Ok(Ok(response)) => {
                tracing::warn!(status = %response.status(), "downstream refused an event; retrying")
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "downstream unreachable; retrying"),
            Err(_) => tracing::warn!("downstream timed out; retrying"),
        }
        metrics.forward(false);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn offset_path(journal: &Path) -> PathBuf {
    let mut name = journal.as_os_str().to_owned();
    name.push(".forwarded");
    PathBuf::from(name)
}

fn read_offset(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0)
}

fn write_offset(path: &Path, offset: u64) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    std::fs::write(&temporary, offset.to_string())?;
    std::fs::rename(&temporary, path)
}

/// The complete lines of the journal after `offset`.
fn read_from(journal: &Path, offset: u64) -> std::io::Result<Vec<String>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(journal)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    let complete = text.rfind('\n').map_or(0, |i| i + 1);
    Ok(text[..complete].lines().map(str::to_owned).collect())
}
