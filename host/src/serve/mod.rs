//! `switchboard serve`: the webhook receiver.
//!
//! Each delivery is read (bounded by the body limit and a read timeout), run
//! through the component in a pooled instance on the blocking pool, and its
//! event appended to the journal; the vendor hears `200` only once the event
//! is durable. Routes: `POST /webhooks/{vendor}`, `POST /webhooks`
//! (detection), `GET /healthz`, `GET /metrics`.

mod forward;
mod journal;
mod metrics;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use serde_json::json;
use switchboard_core::{Config, ErrorClass};
use switchboard_host::{HostOptions, Instance, Switchboard, wit};
use tokio::net::TcpListener;

pub use journal::Target;
use journal::{Journal, Outcome};
use metrics::Metrics;

/// Everything `serve` is started with.
#[derive(Debug)]
pub struct Options {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The processor configuration.
    pub config: Config,
    /// The component to run.
    pub component: PathBuf,
    /// Where events go.
    pub target: Target,
    /// Where events are forwarded, if anywhere.
    pub forward: Option<Uri>,
    /// How many recent events are remembered for duplicate detection.
    pub dedupe_window: usize,
    /// How long a client may take to send its headers, and its body.
    pub read_timeout: Duration,
    /// How long in-flight requests may take to finish at shutdown.
    pub drain_timeout: Duration,
}

struct State {
    pool: Pool,
    config: wit::Config,
    body_limit: usize,
    read_timeout: Duration,
    journal: Journal,
    metrics: Arc<Metrics>,
}

/// Runs the receiver until SIGTERM or Ctrl-C, then drains and flushes.
pub async fn run(options: Options) -> anyhow::Result<()> {
    let host_options = HostOptions::default();
    let pool_size = host_options.max_instances;
    let switchboard = Switchboard::from_file(&options.component, host_options)?;
    // The receiver runs for the life of the process; so does its component.
    let switchboard: &'static Switchboard = Box::leak(Box::new(switchboard));
    let metrics = Arc::new(Metrics::new());
    let (journal, writer) = Journal::open(
        options.target.clone(),
        options.dedupe_window,
        Arc::clone(&metrics),
    )
    .context("opening the journal")?;
    let forwarder = match (&options.forward, &options.target) {
        (Some(url), Target::File(path)) => Some(forward::spawn(
            url.clone(),
            path.clone(),
            journal.durable.clone(),
            options.config.body_limit,
            Arc::clone(&metrics),
        )),
        (Some(_), Target::Stdout) => {
            anyhow::bail!("--forward needs a journal file to spool to, not --out -")
        }
        (None, _) => None,
    };
    let state = Arc::new(State {
        pool: Pool::new(switchboard, pool_size),
        config: wit::Config::from(&options.config),
        body_limit: options.config.body_limit,
        read_timeout: options.read_timeout,
        journal,
        metrics,
    });

    let listener = TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("listening on {}", options.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "listening on {address}");
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let state = Arc::clone(&state);
                let service = service_fn(move |request| handle(Arc::clone(&state), request));
                let connection = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(options.read_timeout)
                    .serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: finishing in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(options.drain_timeout) => tracing::warn!("in-flight requests did not finish in time"),
    }
    drop(state);
    writer.await.context("the journal writer failed")?;
    if let Some(forwarder) = forwarder {
        forwarder.stop().await;
    }
    tracing::info!("stopped; the journal is flushed");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// What one request came to, for the response, the log line and metrics.
struct Answer {
    status: StatusCode,
    body: String,
    content_type: &'static str,
    vendor: String,
    event_type: String,
    outcome: String,
    close: bool,
}

impl Answer {
    fn error(status: StatusCode, class: &str, message: &str, vendor: &str) -> Answer {
        Answer {
            status,
            body: json!({"error": class, "message": message}).to_string(),
            content_type: "application/json",
            vendor: vendor.to_owned(),
            event_type: String::new(),
            outcome: class.to_owned(),
            close: false,
        }
    }

    fn text(body: String, content_type: &'static str) -> Answer {
        Answer {
            status: StatusCode::OK,
            body,
            content_type,
            vendor: String::new(),
            event_type: String::new(),
            outcome: "ok".to_owned(),
            close: false,
        }
    }
}

async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let answer = route(&state, request).await;
    let took = started.elapsed();
    let webhook = path.starts_with("/webhooks");
    if webhook {
        state
            .metrics
            .request(&answer.vendor, &answer.event_type, &answer.outcome, took);
    }
    tracing::info!(
        %method,
        path,
        status = answer.status.as_u16(),
        vendor = answer.vendor,
        r#type = answer.event_type,
        outcome = answer.outcome,
        micros = took.as_micros() as u64,
        "request"
    );
    let mut response = Response::builder()
        .status(answer.status)
        .header(CONTENT_TYPE, answer.content_type);
    if answer.close {
        response = response.header(CONNECTION, "close");
    }
    Ok(response
        .body(Full::new(Bytes::from(answer.body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))))
}

async fn route(state: &State, request: Request<Incoming>) -> Answer {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let vendor = match path.as_str() {
        "/healthz" if method == Method::GET => {
            return Answer::text("ok\n".to_owned(), "text/plain");
        }
        "/metrics" if method == Method::GET => {
            return Answer::text(state.metrics.render(), "text/plain; version=0.0.4");
        }
        "/webhooks" => None,
        other => match other.strip_prefix("/webhooks/") {
            Some(vendor) if !vendor.is_empty() && !vendor.contains('/') => Some(vendor.to_owned()),
            _ if other == "/healthz" || other == "/metrics" => {
                return Answer::error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method-not-allowed",
                    "use GET",
                    "",
                );
            }
            _ => {
                let message = format!("no route for {method} {path}");
                return Answer::error(StatusCode::NOT_FOUND, "not-found", &message, "");
            }
        },
    };
    if method != Method::POST {
        return Answer::error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "use POST",
            "",
        );
    }
    webhook(state, request, vendor).await
}

async fn webhook(state: &State, request: Request<Incoming>, vendor: Option<String>) -> Answer {
    let named = vendor.clone().unwrap_or_default();
    let limit = state.body_limit;
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        let message = format!(
            "body is {} bytes, over the {limit} byte limit",
            declared.unwrap_or_default()
        );
        return too_large(message, &named);
    }
    let (parts, body) = request.into_parts();
    let body =
        match tokio::time::timeout(state.read_timeout, Limited::new(body, limit).collect()).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(e))
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                return too_large(format!("body is over the {limit} byte limit"), &named);
            }
            Ok(Err(e)) => {
                let mut answer = Answer::error(
                    StatusCode::BAD_REQUEST,
                    "bad-request",
                    &format!("reading the body: {e}"),
                    &named,
                );
                answer.close = true;
                return answer;
            }
            Err(_) => {
                let message = format!(
                    "the body did not arrive within {} s",
                    state.read_timeout.as_secs()
                );
                let mut answer =
                    Answer::error(StatusCode::REQUEST_TIMEOUT, "timeout", &message, &named);
                answer.close = true;
                return answer;
            }
        };
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| wit::Header {
            name: name.as_str().to_owned(),
            value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
        })
        .collect();
    let request = wit::Request {
        headers,
        body: body.to_vec(),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let event = match state
        .pool
        .process(request, vendor, state.config.clone(), now)
        .await
    {
        Ok(event) => event,
        Err(e) => {
            let class = e.class();
            let status = StatusCode::from_u16(class.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Answer::error(status, class.as_str(), &e.to_string(), &named);
        }
    };
    let duplicate = match state
        .journal
        .append(journal::key(&event.source, &event.id), event.json)
        .await
    {
        Ok(outcome) => outcome == Outcome::Duplicate,
        Err(e) => {
            let mut answer = Answer::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                &e.to_string(),
                &event.vendor,
            );
            answer.event_type = event.type_;
            return answer;
        }
    };
    Answer {
        status: StatusCode::OK,
        body: json!({"id": event.id, "type": event.type_, "duplicate": duplicate}).to_string(),
        content_type: "application/json",
        vendor: event.vendor,
        event_type: event.type_,
        outcome: if duplicate { "duplicate" } else { "ok" }.to_owned(),
        close: false,
    }
}

/// 413, closing the connection so the rest of the body is never read.
fn too_large(message: String, vendor: &str) -> Answer {
    let mut answer = Answer::error(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorClass::TooLarge.as_str(),
        &message,
        vendor,
    );
    answer.close = true;
    answer
}

/// Reusable component instances, one per concurrent request at most. An
/// instance that trapped replaces itself (see `switchboard_host::Instance`).
/// Requests beyond the pool's size wait for an instance rather than fail.
struct Pool {
    switchboard: &'static Switchboard,
    idle: Mutex<Vec<Instance<'static>>>,
    permits: tokio::sync::Semaphore,
}

impl Pool {
    fn new(switchboard: &'static Switchboard, size: u32) -> Pool {
        Pool {
            switchboard,
            idle: Mutex::new(Vec::new()),
            permits: tokio::sync::Semaphore::new(size as usize),
        }
    }

    async fn process(
        &self,
        request: wit::Request,
        vendor: Option<String>,
        config: wit::Config,
        now: i64,
    ) -> Result<wit::Event, switchboard_host::Error> {
        let _permit =
            self.permits.acquire().await.map_err(|_| {
                switchboard_host::Error::Trap("the instance pool is closed".to_owned())
            })?;
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut instance = match idle {
            Some(instance) => instance,
            None => self.switchboard.instance()?,
        };
        let (instance, result) = tokio::task::spawn_blocking(move || {
            let result = instance.process(&request, vendor.as_deref(), &config, now);
            (instance, result)
        })
        .await
        .map_err(|e| switchboard_host::Error::Trap(format!("the processing task failed: {e}")))?;
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(instance);
        }
        result
    }
}
