//! `switchboard serve`: the webhook receiver, an HTTP adapter over the
//! contract of `crates/http` (routes, statuses, bodies, limits).
//!
//! Each delivery is read (bounded by the body limit, the body budget and a
//! read timeout), run through the component in a pooled instance (after a
//! bounded wait for one; in place when it is small, on the blocking pool
//! when it is not: [`INLINE_BYTES`]), and its event kept in the store
//! ([`store`]: the file journal, or PostgreSQL with `--store`); the vendor
//! hears `200` only once the event is durable.
//! Routes: `POST /webhooks/{vendor}`, `POST /webhooks` (detection),
//! `GET /healthz`, `GET /metrics`, the loopback-only admin route `POST
//! /replay` ([`replay`]) and the browser console under `/console`
//! ([`console`]: loopback only unless `--console-token` is set). A delivery
//! the component refuses is kept in the refusal log ([`refused`]); every
//! delivery is kept for a while in the console's bounded ring.
//!
//! Bounds ([`Limits`], each a flag): connections, buffered body bytes and
//! the wait for an instance, past which the answer is `503 overloaded` with
//! `Retry-After`; request heads past `switchboard_http::MAX_HEADERS` fields
//! or `MAX_HEADER_BYTES` bytes are `431` (hyper's answer). Connections close
//! lingering ([`limits::Lingering`]), so a refused body's sender reads its
//! `413`.

pub mod console;
pub mod delivery;
pub mod forward;
mod journal;
mod limits;
mod metrics;
mod outbox;
pub mod postgres;
pub mod refused;
mod replay;
pub mod store;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::CONTENT_LENGTH;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Request, Response, Uri};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use switchboard_core::{Config, ErrorClass, SignatureScheme};
use switchboard_host::{HostOptions, Pool, Switchboard};
use switchboard_http::{Answer, ConsoleRoute, Overload, Route, Routes};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use journal::Journal;
pub use limits::Limits;
use limits::{BodyBudget, Lingering};
use metrics::{Metrics, vendor_label};
pub use store::Target;
use store::{Event, Outcome, Store};

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
    /// Connections, body bytes, instances.
    pub limits: Limits,
    /// Whether and within what caps refused deliveries are kept.
    pub refused: refused::Settings,
    /// The console: whether it is served, its token, its caps.
    pub console: console::Settings,
    /// The most connections to a PostgreSQL store.
    pub store_connections: usize,
    /// How long a replica forwarding from PostgreSQL holds the events it
    /// claimed before another may take them.
    pub forward_lease: Duration,
}

/// A response's body: a whole one, or a console stream.
type ResponseBody = BoxBody<Bytes, Infallible>;

/// What every request shares.
struct State {
    pool: Arc<Pool>,
    /// One permit per instance of the pool, held for the length of a call.
    instances: Arc<Semaphore>,
    instance_wait: Duration,
    budget: BodyBudget,
    /// The configuration as the component's JSON document, the same text
    /// on every call, so that each pooled instance prepares it once.
    config_json: Arc<str>,
    body_limit: usize,
    read_timeout: Duration,
    store: Store,
    metrics: Arc<Metrics>,
    /// The refusal log, unless it is off or the journal is `-`.
    keeper: Option<refused::Keeper>,
    /// The console, unless `--no-console`.
    console: Option<Arc<console::Console>>,
    /// The routes served (the console's only when it is on).
    routes: Routes,
}

/// The most a connection's read buffer holds: room for the largest request
/// head, and hyper's default beyond it.
const MAX_BUF_SIZE: usize = switchboard_http::MAX_HEADER_BYTES + 8 * 1024;

/// How long the accept loop pauses after a failed accept (out of file
/// descriptors, say), rather than spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Runs the receiver until SIGTERM or Ctrl-C, then drains and flushes.
pub async fn run(options: Options) -> anyhow::Result<()> {
    options.limits.check(options.config.body_limit)?;
    options.refused.check()?;
    options.console.check()?;
    // Compiled code is cached as the CLI caches it, so that a restart
    // starts in milliseconds rather than recompiling the component.
    let host_options = HostOptions {
        max_instances: options.limits.instances,
        compile_cache: true,
        ..HostOptions::default()
    };
    let switchboard = Switchboard::from_file(&options.component, host_options)?;
    let metrics = Arc::new(Metrics::new());
    let opened = open_store(&options, &metrics).await?;
    let (stop, stopping) = watch::channel(false);
    let console = (!options.console.no_console).then(|| {
        // The refusal log's generations, older first: the console starts
        // with the refusals kept before, so that they can be replayed.
        let refused = match (&options.target, options.refused.enabled()) {
            (Target::File(journal), true) => {
                let current = refused::path_beside(journal);
                vec![refused::older(&current), current]
            }
            _ => Vec::new(),
        };
        Arc::new(console::Console::new(
            &options.console,
            &options.config,
            &refused,
            stopping,
        ))
    });
    let pool = Pool::new(switchboard);
    let state = Arc::new(State {
        instances: Arc::new(Semaphore::new(pool.size())),
        pool: Arc::new(pool),
        instance_wait: options.limits.instance_wait(),
        budget: BodyBudget::new(options.limits.body_budget),
        config_json: Arc::from(switchboard_host::config_json(&options.config)),
        body_limit: options.config.body_limit,
        read_timeout: options.read_timeout,
        store: opened.store,
        metrics,
        keeper: opened.keeper,
        routes: Routes {
            console: console.is_some(),
            ..Routes::RECEIVER
        },
        console,
    });

    let listener = TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("listening on {}", options.listen))?;
    let address = listener.local_addr()?;
    let shutdown = shutdown_signal()?;
    log_vendors(&options.config);
    tracing::info!(%address, "listening on {address}");
    if let Some(console) = &state.console {
        let access = match console.token() {
            Some(_) => "any peer, its data with the console token",
            None => "loopback peers only",
        };
        tracing::info!("the console: http://{address}/console ({access})");
    }
    let graceful = GracefulShutdown::new();
    accept_until_shutdown(&listener, &state, &graceful, &options.limits, shutdown).await;
    drop(listener);
    // Console streams never finish by themselves.
    let _ = stop.send(true);
    tracing::info!("shutting down: finishing in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(options.drain_timeout) => tracing::warn!("in-flight requests did not finish in time"),
    }
    drop(state);
    if let Some(writer) = opened.writer {
        writer.await.context("the journal writer failed")?;
    }
    if let Some(writer) = opened.keeper_writer {
        writer.await.context("the refusal log's writer failed")?;
    }
    if let Some(forwarder) = opened.forwarder {
        forwarder.stop().await;
    }
    tracing::info!("stopped; every acknowledged event is durable");
    Ok(())
}

/// The store, with what runs beside it: the journal's writer task, the
/// refusal log and its writer, the forwarder.
struct Opened {
    store: Store,
    writer: Option<tokio::task::JoinHandle<()>>,
    keeper: Option<refused::Keeper>,
    keeper_writer: Option<tokio::task::JoinHandle<()>>,
    forwarder: Option<forward::Forwarder>,
}

/// Opens the store `options` name (migrating a PostgreSQL schema), and
/// starts the refusal log and forwarding that go with it.
async fn open_store(options: &Options, metrics: &Arc<Metrics>) -> anyhow::Result<Opened> {
    let keep_refused = options.refused.enabled();
    match &options.target {
        Target::Postgres(url) => {
            let postgres = postgres::Postgres::open(
                Arc::clone(url),
                options.store_connections,
                Arc::clone(metrics),
            )
            .await
            .with_context(|| format!("opening the PostgreSQL store {url}"))?;
            let (keeper, keeper_writer) = match keep_refused {
                true => {
                    let (keeper, writer) = refused::Keeper::open_postgres(
                        postgres.clone(),
                        &options.refused,
                        &options.config,
                    );
                    (Some(keeper), Some(writer))
                }
                false => (None, None),
            };
            let forwarder = options.forward.as_ref().map(|url| {
                outbox::spawn(
                    url.clone(),
                    postgres.clone(),
                    options.forward_lease,
                    Arc::clone(metrics),
                )
            });
            Ok(Opened {
                store: Store::Postgres(postgres),
                writer: None,
                keeper,
                keeper_writer,
                forwarder,
            })
        }
        Target::File(_) | Target::Stdout => {
            let (journal, writer) = Journal::open(
                options.target.clone(),
                options.dedupe_window,
                Arc::clone(metrics),
            )
            .with_context(|| match &options.target {
                Target::Stdout => "opening the journal on standard output".to_owned(),
                target => format!("opening the journal {}", target.shown()),
            })?;
            let forwarder = match (&options.forward, &options.target) {
                (Some(url), Target::File(path)) => Some(forward::spawn(
                    url.clone(),
                    path.clone(),
                    journal.durable.clone(),
                    options.config.body_limit,
                    Arc::clone(metrics),
                )),
                (Some(_), _) => {
                    anyhow::bail!("--forward needs a journal file to spool to, not --out -")
                }
                (None, _) => None,
            };
            let (keeper, keeper_writer) = match &options.target {
                Target::File(journal) if keep_refused => {
                    let path = refused::path_beside(journal);
                    let (keeper, writer) =
                        refused::Keeper::open(path.clone(), &options.refused, &options.config)
                            .with_context(|| {
                                format!("opening the refusal log {}", path.display())
                            })?;
                    (Some(keeper), Some(writer))
                }
                _ => (None, None),
            };
            Ok(Opened {
                store: Store::File(journal),
                writer: Some(writer),
                keeper,
                keeper_writer,
                forwarder,
            })
        }
    }
}

/// One line per enabled vendor: its scheme and how many secrets it has
/// (never a value); a warning for a vendor that refuses every delivery
/// because it has no scheme, or no secret for a scheme that verifies.
fn log_vendors(config: &Config) {
    if config.vendors.is_empty() {
        tracing::warn!("no vendor is enabled: every delivery is refused");
    }
    for (vendor, settings) in &config.vendors {
        let schemes: Vec<&dyn SignatureScheme> = match settings.scheme.configured() {
            Some(scheme) => vec![scheme],
            None => switchboard_core::vendors::family(vendor)
                .map(|family| family.default_schemes().to_vec())
                .unwrap_or_default(),
        };
        let names: Vec<&str> = schemes.iter().map(|scheme| scheme.name()).collect();
        let scheme = names.join(" or ");
        let secrets = settings.secrets.len();
        if schemes.is_empty() {
            tracing::warn!(
                vendor,
                secrets,
                "vendor enabled without a signature scheme (it has no default one): every delivery is refused"
            );
        } else if secrets == 0 && schemes.iter().any(|scheme| scheme.verifies()) {
            tracing::warn!(
                vendor,
                scheme,
                secrets,
                "vendor enabled without a secret: every delivery is refused"
            );
        } else {
            tracing::info!(vendor, scheme, secrets, "vendor enabled");
        }
    }
}

/// Serves each accepted connection while under the connection limit, turns
/// away the others, until `shutdown`.
async fn accept_until_shutdown(
    listener: &TcpListener,
    state: &Arc<State>,
    graceful: &GracefulShutdown,
    limits: &Limits,
    shutdown: impl Future<Output = ()>,
) {
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let turning_away = Arc::new(Semaphore::new(limits.max_connections));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match Arc::clone(&connections).try_acquire_owned() {
                    Ok(permit) => serve_connection(state, graceful, stream, peer, permit),
                    Err(_) => {
                        let answer = Answer::Overloaded(Overload::Connections);
                        state.metrics.request(vendor_label(None), "", outcome(&answer), Duration::ZERO);
                        limits::turn_away(stream, &turning_away);
                    }
                },
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
}

/// Serves one connection's requests with hyper, holding `permit` (its place
/// under the connection limit) until it is closed.
fn serve_connection(
    state: &Arc<State>,
    graceful: &GracefulShutdown,
    stream: TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
) {
    let service_state = Arc::clone(state);
    let service = service_fn(move |request| handle(Arc::clone(&service_state), peer, request));
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(state.read_timeout)
        .max_headers(switchboard_http::MAX_HEADERS)
        .max_header_size(switchboard_http::MAX_HEADER_BYTES)
        .max_buf_size(MAX_BUF_SIZE)
        .serve_connection(TokioIo::new(Lingering::new(stream)), service);
    let connection = graceful.watch(connection);
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(%peer, error = %e, "connection ended with an error");
        }
        drop(permit);
    });
}

/// SIGTERM or SIGINT (Ctrl-C), listened for from the moment this returns:
/// before the receiver says it listens, so that a signal sent as soon as it
/// does is never the default, fatal one. A second one while in-flight
/// requests finish exits at once (status 130): every acknowledged event is
/// already fsynced, and the deliveries cut off were not acknowledged, so
/// their senders retry.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        tokio::spawn(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
            tracing::warn!("a second signal: exiting without finishing in-flight requests");
            std::process::exit(130);
        });
    })
}

/// What one request came to: the answer, and the labels of its metrics and
/// log line.
struct Handled {
    answer: Answer,
    /// A family's name or `unknown` ([`vendor_label`]).
    vendor: &'static str,
    /// The event's normalized type, or empty.
    event_type: String,
    /// The vendor's id of the delivery, from its headers, when it sends one
    /// (`X-Varda-Delivery`, `webhook-id`): unverified, for the log line.
    delivery: Option<String>,
    /// What the console keeps of a delivery (when it is on and this was
    /// one).
    capture: Option<console::Capture>,
}

impl Handled {
    fn answer(answer: Answer, vendor: &'static str) -> Handled {
        Handled {
            answer,
            vendor,
            event_type: String::new(),
            delivery: None,
            capture: None,
        }
    }
}

/// The outcome and reason labels of an answer's metrics.
fn outcome(answer: &Answer) -> (&'static str, &'static str) {
    (answer.code(), answer.reason().unwrap_or_default())
}

/// One request: answered, counted in the metrics and logged (with the
/// peer's address, and the event's id once one is accepted); a delivery is
/// recorded in the console's ring where it is logged.
async fn handle(
    state: Arc<State>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    let started = Instant::now();
    let method = request.method().clone();
    let path = switchboard_http::echoed(request.uri().path());
    let target = request
        .uri()
        .path_and_query()
        .map_or("/", |target| target.as_str());
    if let Ok(Route::Console(route)) = state.routes.route(&method, target) {
        let route = owned_route(route);
        return Ok(console_request(&state, peer, request, route, started).await);
    }
    let handled = respond(&state, peer, request).await;
    let took = started.elapsed();
    let Handled {
        answer,
        vendor,
        event_type,
        delivery,
        capture,
    } = handled;
    if !matches!(answer, Answer::Healthy | Answer::Metrics(_)) {
        state
            .metrics
            .request(vendor, &event_type, outcome(&answer), took);
    }
    let id = match &answer {
        Answer::Accepted { id, .. } => Some(id.as_str()),
        _ => None,
    };
    tracing::info!(
        %peer,
        %method,
        path,
        delivery = delivery.as_deref(),
        id,
        status = answer.status().as_u16(),
        vendor,
        r#type = event_type,
        outcome = answer.code(),
        reason = answer.reason(),
        detail = answer.message().as_deref(),
        micros = took.as_micros() as u64,
        "request"
    );
    if let (Some(console), Some(capture)) = (&state.console, capture) {
        let seen = console::Seen {
            peer,
            vendor,
            event_type,
            delivery,
            took,
            capture,
        };
        console.record(seen, &answer);
    }
    Ok(whole(answer.to_response().map(Bytes::from)))
}

/// A response with a whole body.
fn whole(response: Response<Bytes>) -> Response<ResponseBody> {
    response.map(|body| Full::new(body).boxed())
}

/// A console route with its asset name owned, so that the request can be
/// moved on.
fn owned_route(route: ConsoleRoute<'_>) -> ConsoleRoute<'static> {
    match route {
        ConsoleRoute::Asset(name) => {
            // The names are the embedded files': anything else is 404.
            match console::asset_names().find(|known| *known == name) {
                Some(known) => ConsoleRoute::Asset(known),
                None => ConsoleRoute::Asset(""),
            }
        }
        ConsoleRoute::Page => ConsoleRoute::Page,
        ConsoleRoute::Deliveries => ConsoleRoute::Deliveries,
        ConsoleRoute::Delivery(seq) => ConsoleRoute::Delivery(seq),
        ConsoleRoute::Replay(seq) => ConsoleRoute::Replay(seq),
        ConsoleRoute::Stream => ConsoleRoute::Stream,
    }
}

/// One console request: the contract's access rule, then the console's
/// answer; logged like any request, not counted in the delivery metrics.
async fn console_request(
    state: &State,
    peer: SocketAddr,
    request: Request<Incoming>,
    route: ConsoleRoute<'static>,
    started: Instant,
) -> Response<ResponseBody> {
    let Some(console) = &state.console else {
        // Not routed here: the routes serve the console only when it is on.
        return whole(
            Answer::Unavailable {
                message: "no console".to_owned(),
            }
            .to_response()
            .map(Bytes::from),
        );
    };
    let method = request.method().clone();
    let path = switchboard_http::echoed(request.uri().path());
    let header = |name| {
        request
            .headers()
            .get(name)
            .map(|value: &hyper::header::HeaderValue| value.as_bytes())
    };
    let access = switchboard_http::ConsoleRequest {
        peer: peer.ip(),
        host: header(hyper::header::HOST),
        origin: header(hyper::header::ORIGIN),
        authorization: header(hyper::header::AUTHORIZATION),
    };
    let allowed = switchboard_http::console_allowed(route, access, console.token());
    drop(request);
    let result = match allowed {
        Ok(()) => {
            console
                .answer(route, async |delivery| {
                    replay::run(state, delivery, false).await
                })
                .await
        }
        Err(refusal) => Err(refusal),
    };
    let (status, outcome, reason) = match &result {
        Ok(_) => (200, "ok", None),
        Err(answer) => (answer.status().as_u16(), answer.code(), answer.reason()),
    };
    tracing::info!(
        %peer,
        %method,
        path,
        status,
        outcome,
        reason,
        micros = started.elapsed().as_micros() as u64,
        "console"
    );
    match result {
        Ok(success) => {
            let (media, body): (&'static str, ResponseBody) = match success {
                console::Success::Fixed(media, bytes) => {
                    (media, Full::new(Bytes::from_static(bytes)).boxed())
                }
                console::Success::Json(text) => {
                    ("application/json", Full::new(Bytes::from(text)).boxed())
                }
                console::Success::Stream(frames) => ("text/event-stream", frames.boxed()),
            };
            let mut response = Response::new(body);
            response
                .headers_mut()
                .extend(switchboard_http::console_headers(media));
            response
        }
        Err(answer) => whole(answer.to_response().map(Bytes::from)),
    }
}

async fn respond(state: &State, peer: SocketAddr, request: Request<Incoming>) -> Handled {
    let target = request
        .uri()
        .path_and_query()
        .map_or("/", |target| target.as_str())
        .to_owned();
    let vendor = match state.routes.route(request.method(), &target) {
        Ok(Route::Webhook { vendor }) => vendor.map(str::to_owned),
        Ok(Route::Health) => return Handled::answer(Answer::Healthy, vendor_label(None)),
        Ok(Route::Metrics) => {
            let mut text = state.metrics.render();
            metrics::gauge(
                &mut text,
                "switchboard_body_budget_held_bytes",
                "Request body bytes read and held now (bounded by --body-budget).",
                state.budget.held() as u64,
            );
            if let Some(keeper) = &state.keeper {
                keeper.render(&mut text);
            }
            return Handled::answer(Answer::Metrics(text), vendor_label(None));
        }
        Ok(Route::Replay { dry_run }) => {
            let answer = replay::replay(state, peer, request, dry_run).await;
            return Handled::answer(answer, vendor_label(None));
        }
        // Answered by `console_request` before this.
        Ok(Route::Console(_)) => {
            return Handled::answer(
                Answer::NotFound {
                    method: request.method().clone(),
                    path: switchboard_http::echoed(&target),
                },
                vendor_label(None),
            );
        }
        Err(refusal) => return Handled::answer(refusal, vendor_label(None)),
    };
    webhook(state, peer, request, vendor).await
}

/// One delivery: read, processed (a refusal kept in the refusal log),
/// journaled.
async fn webhook(
    state: &State,
    peer: SocketAddr,
    request: Request<Incoming>,
    vendor: Option<String>,
) -> Handled {
    let named = vendor_label(vendor.as_deref());
    let (parts, body) = request.into_parts();
    let headers = header_pairs(&parts.headers);
    let delivery = delivery_id(&headers, vendor.as_deref());
    // What the console keeps of it, when the console is on: the request's
    // own headers and body, moved there once the call is done with them.
    let capture = |headers, body, event| {
        state.console.as_ref().map(|_| console::Capture {
            path_vendor: vendor.clone(),
            headers,
            body,
            event,
        })
    };
    let refused = |refusal, capture| Handled {
        delivery: delivery.clone(),
        capture,
        ..Handled::answer(refusal, named)
    };
    // The body stays charged to the budget until the answer.
    let body = match read_body(state, &parts.headers, body, state.body_limit).await {
        Ok(body) => body,
        Err(refusal) => return refused(refusal, capture(headers, None, None)),
    };
    let received = Received {
        headers,
        body: body.bytes,
    };
    let (processed, received) = process(state, received, vendor.as_deref(), unix_now()).await;
    let event = match processed {
        Processed::Event(event) => event,
        Processed::Refused(refusal) => {
            if let Some(keeper) = &state.keeper {
                keeper.keep(&refused::Refusal {
                    peer,
                    vendor: vendor.as_deref(),
                    headers: &received.headers,
                    body: &received.body,
                    class: refusal.class,
                    reason: refusal.reason,
                    message: &refusal.message,
                });
            }
            let capture = capture(received.headers, Some(received.body), None);
            return refused(refusal.answer(), capture);
        }
        Processed::Overloaded => {
            let capture = capture(received.headers, None, None);
            return refused(Answer::Overloaded(Overload::Instances), capture);
        }
    };
    let vendor = vendor_label(Some(&event.vendor));
    let event_type = event.event_type.clone();
    let capture = capture(
        received.headers,
        None,
        state.console.as_ref().map(|_| event.json.clone()),
    );
    let answer = keep(state, event).await;
    Handled {
        answer,
        vendor,
        event_type,
        delivery,
        capture,
    }
}

/// A request body read whole, and its charge against the body budget.
struct Body<'s> {
    bytes: Vec<u8>,
    _charge: limits::Charge<'s>,
}

/// The body, read within the read timeout: refused from its declared length
/// (`413` past `limit`, or `503` when it cannot fit in the body budget now)
/// before any of it is read, else as soon as it passes the limit or the
/// budget; `408` when it is too slow.
async fn read_body<'s>(
    state: &'s State,
    headers: &HeaderMap,
    mut body: Incoming,
    limit: usize,
) -> Result<Body<'s>, Answer> {
    let declared = switchboard_http::check_declared_length(
        headers.get(CONTENT_LENGTH).map(|value| value.as_bytes()),
        limit,
    )?;
    if declared.is_some_and(|length| !state.budget.fits(length)) {
        return Err(Answer::Overloaded(Overload::BodyBudget));
    }
    let mut charge = state.budget.charge();
    // At most the limit, which the declared length is within.
    let mut bytes = Vec::with_capacity(declared.map_or(0, |length| length as usize));
    let read = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| Answer::BodyUnreadable)?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            switchboard_http::check_received_length(bytes.len() + data.len(), limit)?;
            charge.add(data.len())?;
            bytes.extend_from_slice(&data);
        }
        Ok(())
    };
    match tokio::time::timeout(state.read_timeout, read).await {
        Ok(Ok(())) => Ok(Body {
            bytes,
            _charge: charge,
        }),
        Ok(Err(refusal)) => Err(refusal),
        Err(_) => Err(Answer::BodyTimeout {
            seconds: state.read_timeout.as_secs(),
        }),
    }
}

/// The vendor's id of the delivery, from its headers (see
/// `switchboard_core::vendors::delivery_id`), cut as paths are cut.
fn delivery_id(headers: &[(String, String)], vendor: Option<&str>) -> Option<String> {
    let headers = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()));
    let request = switchboard_core::Request::new(headers, &[]);
    switchboard_core::vendors::delivery_id(&request, vendor).map(switchboard_http::echoed)
}

/// The request's headers as the component takes them, `(name, value)`,
/// values converted by the contract's rule.
fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = switchboard_http::header_text(value.as_bytes());
            (name.as_str().to_owned(), value)
        })
        .collect()
}

/// A delivery as the component takes it: every header, the raw body. The
/// call borrows it, and hands it back for the refusal log and the console.
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// What running a delivery came to.
enum Processed {
    /// An event.
    Event(Event),
    /// Refused by the component, or failed in it.
    Refused(Refused),
    /// Not run: no instance was free within the instance wait.
    Overloaded,
}

/// A refusal.
struct Refused {
    class: ErrorClass,
    /// The reason as a member of the closed list
    /// ([`switchboard_host::Error::reason_label`]).
    reason: &'static str,
    message: String,
}

impl Refused {
    /// The refusal as the vendor hears it.
    fn answer(&self) -> Answer {
        Answer::Refused {
            class: self.class,
            reason: self.reason,
            message: self.message.clone(),
        }
    }

    /// A failure of the host's own (a panic in the call, an answer that is
    /// not an event): internal, counted as a `trap`.
    fn internal(message: String) -> Refused {
        Refused {
            class: ErrorClass::Internal,
            reason: "trap",
            message,
        }
    }
}

/// The most request bytes (body and header text) whose call runs on the
/// runtime's own thread. The guest's work is linear in what it reads: a
/// delivery this size takes well under a millisecond, cheaper to run where
/// it is than to hand to the blocking pool and back (a wake-up and a
/// context switch each way, most of the receiver's time on two cores). A
/// larger one, up to the body limit, runs on the blocking pool, so that it
/// never holds up the other connections a worker serves.
const INLINE_BYTES: usize = 16 * 1024;

/// Runs the delivery in a pooled instance, once one is free (else
/// [`Processed::Overloaded`]), verified at `now`: in place when it is small
/// ([`INLINE_BYTES`]), else on the blocking pool. The delivery is handed
/// back whatever became of it.
async fn process(
    state: &State,
    received: Received,
    vendor: Option<&str>,
    now: i64,
) -> (Processed, Received) {
    let permit = tokio::time::timeout(
        state.instance_wait,
        Arc::clone(&state.instances).acquire_owned(),
    )
    .await;
    let Ok(Ok(permit)) = permit else {
        return (Processed::Overloaded, received);
    };
    let (result, received) = if request_bytes(&received) <= INLINE_BYTES {
        let result = call(&state.pool, &received, vendor, &state.config_json, now);
        drop(permit);
        (result, received)
    } else {
        let pool = Arc::clone(&state.pool);
        let config_json = Arc::clone(&state.config_json);
        let vendor = vendor.map(str::to_owned);
        // The permit goes with the call: it is held until the instance is
        // free, even if this request is abandoned meanwhile.
        let blocking = tokio::task::spawn_blocking(move || {
            let result = call(&pool, &received, vendor.as_deref(), &config_json, now);
            drop(permit);
            (result, received)
        });
        match blocking.await {
            Ok(done) => done,
            // Only a runtime shutting down cancels it; the call catches
            // its own panics.
            Err(e) => {
                let message = format!("the processing task failed: {e}");
                let received = Received {
                    headers: Vec::new(),
                    body: Vec::new(),
                };
                return (Processed::Refused(Refused::internal(message)), received);
            }
        }
    };
    let processed = match result {
        Ok(event) => Processed::Event(event),
        Err(refusal) => Processed::Refused(refusal),
    };
    (processed, received)
}

/// One call of the component (`process-body`), its document read as an
/// event. A panic in it (a bug in the host or wasmtime: the guest's own
/// failures are errors) is answered as an internal failure, as it was when
/// every call ran in a blocking task, rather than ending the connection.
fn call(
    pool: &Pool,
    received: &Received,
    vendor: Option<&str>,
    config_json: &str,
    now: i64,
) -> Result<Event, Refused> {
    let called = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.process_body(&received.headers, &received.body, vendor, config_json, now)
    }));
    match called {
        Ok(Ok(json)) => Event::from_json(json).map_err(|e| {
            Refused::internal(format!(
                "the component answered with a document that is not an event: {e}"
            ))
        }),
        Ok(Err(e)) => Err(Refused {
            class: e.class(),
            reason: e.reason_label(),
            message: e.to_string(),
        }),
        Err(_) => Err(Refused::internal(
            "the processing task failed: the call panicked".to_owned(),
        )),
    }
}

/// What the guest reads of a delivery: its body and its headers' text.
fn request_bytes(received: &Received) -> usize {
    let headers: usize = received
        .headers
        .iter()
        .map(|(name, value)| name.len() + value.len())
        .sum();
    received.body.len() + headers
}

/// Keeps the event in the store: `200` once it is durable (or was already
/// there), `503` if it cannot be written.
async fn keep(state: &State, event: Event) -> Answer {
    let (id, event_type) = (event.id.clone(), event.event_type.clone());
    match state.store.append(event).await {
        Ok(outcome) => Answer::Accepted {
            id,
            event_type,
            duplicate: outcome == Outcome::Duplicate,
        },
        Err(e) => Answer::Unavailable {
            message: e.to_string(),
        },
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
