//! switchboard's HTTP contract, written once for every HTTP shell.
//!
//! A shell (the receiver in `host/src/serve/mod.rs`; the wasi:http gateway in
//! `crates/gateway`) reads a request in, asks [`Routes::route`] where it goes
//! and [`check_declared_length`] whether its body may be read, runs the
//! delivery through switchboard-core (directly or through the component), and
//! writes the resulting [`Answer`] out. The status, the headers, the body and
//! the metric label of every answer come from here, so the shells answer the
//! same request the same way. No I/O and no runtime: this crate also builds
//! for `wasm32-unknown-unknown`.
//!
//! ```
//! use switchboard_http::http::{Method, StatusCode};
//! use switchboard_http::{Answer, Route, Routes, check_declared_length};
//!
//! let routes = Routes::RECEIVER;
//! assert_eq!(
//!     routes.route(&Method::POST, "/webhooks/varda"),
//!     Ok(Route::Webhook { vendor: Some("varda") })
//! );
//!
//! let refused = routes.route(&Method::GET, "/webhooks/varda").unwrap_err();
//! assert_eq!(refused.status(), StatusCode::METHOD_NOT_ALLOWED);
//! assert_eq!(refused.code(), "method-not-allowed");
//! assert_eq!(
//!     refused.body(),
//!     r#"{"error":"method-not-allowed","reason":"wrong-method","message":"use POST"}"#
//! );
//!
//! // A declared length over the limit is refused before any body is read.
//! let too_large = check_declared_length(Some(b"2000000"), 1 << 20).unwrap_err();
//! assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
//! assert!(too_large.closes());
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

/// The `http` crate this contract is written in, so that shells name the
/// same `StatusCode` and `Method`.
pub use http;

pub mod shell;

use http::header::{ALLOW, CONNECTION, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderName, HeaderValue, Method, Response, StatusCode};
use serde_json::json;
use switchboard_core::ErrorClass;

/// The most header fields a request may carry: hyper's default, five times
/// what a vendor's delivery carries (10 to 20 fields, a proxy's included).
/// Past it the answer is `431` ([`Answer::HeadersTooLarge`]).
pub const MAX_HEADERS: usize = 100;

/// The most bytes a request's head (request line and header fields) may
/// take: 400 KiB, hyper's default read buffer. A list of 14 000 OpenPhone
/// signature entries (364 KB) fits, so such a flood reaches the core and is
/// refused there as `unauthenticated` (past its cap on signature entries)
/// like any forged delivery. `MAX_HEADER_BYTES` times a shell's connection
/// limit bounds the request heads it holds. Past it the answer is `431`.
pub const MAX_HEADER_BYTES: usize = 400 * 1024;

/// What every `503` tells the client in `Retry-After`, in seconds: vendors
/// retry a `503`, and a short overload has usually passed by then.
pub const RETRY_AFTER_SECONDS: u32 = 2;

/// The longest request path an answer repeats back (in a `404`'s message);
/// the rest is cut and marked with `…`.
pub const ECHOED_PATH_CHARS: usize = 64;

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// `POST /webhooks/{vendor}` (`Some`), or `POST /webhooks` (`None`:
    /// the vendor is detected).
    Webhook {
        /// The vendor the path names, as written (it may name no family:
        /// the core refuses that as `unknown-vendor`).
        vendor: Option<&'a str>,
    },
    /// `GET /healthz`.
    Health,
    /// `GET /metrics`, in shells that serve metrics.
    Metrics,
    /// `POST /replay` (`?dry-run=1` for a dry run), in shells that have an
    /// admin surface (the receiver): re-runs deliveries given as JSON lines
    /// through the current configuration into the journal. Only a loopback
    /// peer may use it ([`admin_allowed`]).
    Replay {
        /// Whether nothing is to be written (`dry-run=1` in the query).
        dry_run: bool,
    },
    /// Under `/console`, in shells that serve the browser console (the
    /// receiver). Who may use it is [`console_allowed`]'s rule.
    Console(ConsoleRoute<'a>),
}

/// The console's routes, each under `/console`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleRoute<'a> {
    /// `GET /console` (or `/console/`): the page.
    Page,
    /// `GET /console/assets/{name}`: one of the page's files (its scripts,
    /// its style sheet, the processor transpiled by jco). One segment; the
    /// shell answers `404` for a name it does not have.
    Asset(&'a str),
    /// `GET /console/api/deliveries`: the recent deliveries and the
    /// counters, as JSON.
    Deliveries,
    /// `GET /console/api/deliveries/{seq}`: one delivery in full.
    Delivery(u64),
    /// `POST /console/api/deliveries/{seq}/replay`: that refused delivery
    /// re-run through the current configuration into the journal.
    Replay(u64),
    /// `GET /console/api/stream`: deliveries as they arrive, as
    /// server-sent events.
    Stream,
}

impl ConsoleRoute<'_> {
    /// Whether the route answers with the receiver's data (everything but
    /// the page and its files, which hold none): with a console token set,
    /// these need it.
    pub fn is_data(&self) -> bool {
        !matches!(self, ConsoleRoute::Page | ConsoleRoute::Asset(_))
    }
}

/// The routes a shell serves. Every shell serves `POST /webhooks/{vendor}`,
/// `POST /webhooks` and `GET /healthz`; the receiver also `GET /metrics`.
///
/// The rules, the same in every shell: a path the shell serves, with another
/// method, is `405` with `Allow`; `/webhooks/{vendor}` takes one non-empty
/// segment (`/webhooks/` and `/webhooks/a/b` are `404`); anything else is
/// `404`. The query string is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Routes {
    /// Whether `GET /metrics` is served (else `/metrics` is `404`).
    pub metrics: bool,
    /// Whether the admin route `POST /replay` is served (else `/replay` is
    /// `404`).
    pub admin: bool,
    /// Whether the console is served under `/console` (else it is `404`).
    pub console: bool,
}

impl Routes {
    /// The receiver's routes (`switchboard serve`): metrics, the admin
    /// route and the console included.
    pub const RECEIVER: Routes = Routes {
        metrics: true,
        admin: true,
        console: true,
    };
    /// The gateway's routes: no metrics, no admin route, no console.
    pub const GATEWAY: Routes = Routes {
        metrics: false,
        admin: false,
        console: false,
    };

    /// Where `method` on `target` (a path, with or without its query) goes,
    /// or the `404` / `405` to answer.
    pub fn route<'a>(&self, method: &Method, target: &'a str) -> Result<Route<'a>, Answer> {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let (route, allow) = match path {
            "/healthz" => (Route::Health, Method::GET),
            "/metrics" if self.metrics => (Route::Metrics, Method::GET),
            "/replay" if self.admin => (
                Route::Replay {
                    dry_run: query
                        .split('&')
                        .any(|pair| matches!(pair, "dry-run=1" | "dry-run=true" | "dry-run")),
                },
                Method::POST,
            ),
            "/webhooks" => (Route::Webhook { vendor: None }, Method::POST),
            console if self.console && is_console(console) => match console_route(console) {
                Some(route) => route,
                None => {
                    return Err(Answer::NotFound {
                        method: method.clone(),
                        path: echoed(path),
                    });
                }
            },
            other => match other.strip_prefix("/webhooks/") {
                Some(vendor) if !vendor.is_empty() && !vendor.contains('/') => (
                    Route::Webhook {
                        vendor: Some(vendor),
                    },
                    Method::POST,
                ),
                _ => {
                    return Err(Answer::NotFound {
                        method: method.clone(),
                        path: echoed(path),
                    });
                }
            },
        };
        if *method == allow {
            Ok(route)
        } else {
            Err(Answer::MethodNotAllowed { allow })
        }
    }
}

/// Whether `path` is the console's: `/console` or under `/console/`.
fn is_console(path: &str) -> bool {
    path == "/console" || path.starts_with("/console/")
}

/// A console path's route and the method it takes; `None` for a path
/// under `/console/` that names nothing.
fn console_route(path: &str) -> Option<(Route<'_>, Method)> {
    let rest = path.strip_prefix("/console").unwrap_or_default();
    let seq = |text: &str| text.parse::<u64>().ok();
    let (route, method) = match rest {
        "" | "/" => (ConsoleRoute::Page, Method::GET),
        "/api/deliveries" => (ConsoleRoute::Deliveries, Method::GET),
        "/api/stream" => (ConsoleRoute::Stream, Method::GET),
        _ => {
            if let Some(name) = rest.strip_prefix("/assets/") {
                if name.is_empty() || name.contains('/') {
                    return None;
                }
                (ConsoleRoute::Asset(name), Method::GET)
            } else {
                let delivery = rest.strip_prefix("/api/deliveries/")?;
                match delivery.strip_suffix("/replay") {
                    Some(n) => (ConsoleRoute::Replay(seq(n)?), Method::POST),
                    None => (ConsoleRoute::Delivery(seq(delivery)?), Method::GET),
                }
            }
        }
    };
    Some((Route::Console(route), method))
}

/// The Content-Security-Policy of every console response: everything from
/// the receiver's own origin and nothing else, no inline script or style,
/// WebAssembly compilation allowed (the try pane runs the processor), no
/// framing, forms and `<base>` pinned.
pub const CONSOLE_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The headers of a console success with this media type: the
/// [`CONSOLE_CSP`], `nosniff`, no referrer, no caching (the data changes;
/// the files are small and embedded).
pub fn console_headers(content_type: &'static str) -> Vec<(HeaderName, HeaderValue)> {
    use http::header::{
        CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    };
    vec![
        (CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONSOLE_CSP),
        ),
        (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ]
}

/// What [`console_allowed`] needs of a request.
#[derive(Debug, Clone, Copy)]
pub struct ConsoleRequest<'a> {
    /// The peer's address.
    pub peer: std::net::IpAddr,
    /// The `Host` header, if any.
    pub host: Option<&'a [u8]>,
    /// The `Origin` header, if any.
    pub origin: Option<&'a [u8]>,
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a [u8]>,
}

/// Whether a request may use `route` of the console, given the console
/// token the shell was started with (`--console-token`), if any:
///
/// - **Without a token**, only a loopback peer (as [`admin_allowed`]
///   counts them), naming the receiver by a loopback `Host` (`localhost`,
///   `127.0.0.0/8`, `[::1]`), so that a page whose name an attacker points
///   at `127.0.0.1` (DNS rebinding) is not served either: else `403`.
/// - **With a token**, any peer; the data routes
///   ([`ConsoleRoute::is_data`]) need `Authorization: Bearer <token>`,
///   compared in constant time: else `401`, with `WWW-Authenticate`. The
///   page and its files hold no data and are served without it (a browser
///   cannot put a header on a page it navigates to); the page asks for the
///   token and sends it with every request.
/// - **Always**, a request whose `Origin` is not the receiver's own
///   (`http://` and its `Host`) is `403`: a page elsewhere cannot post a
///   replay, nor read through a browser that would send it.
pub fn console_allowed(
    route: ConsoleRoute<'_>,
    request: ConsoleRequest<'_>,
    token: Option<&str>,
) -> Result<(), Answer> {
    let forbidden = |message: &str| {
        Err(Answer::ConsoleForbidden {
            message: message.to_owned(),
        })
    };
    if token.is_none() {
        if !request.peer.to_canonical().is_loopback() {
            return forbidden(
                "the console answers loopback peers only, unless the receiver has a --console-token",
            );
        }
        if request.host.is_some_and(|host| !loopback_host(host)) {
            return forbidden(
                "the console answers requests for a loopback name only (localhost, 127.0.0.1, [::1]), unless the receiver has a --console-token",
            );
        }
    }
    if let Some(origin) = request.origin {
        let own = request
            .host
            .is_some_and(|host| origin.strip_prefix(b"http://") == Some(host));
        if !own {
            return forbidden("the console does not answer pages of another origin");
        }
    }
    match token {
        Some(token) if route.is_data() => {
            use subtle::ConstantTimeEq;
            let presented = request
                .authorization
                .and_then(|value| value.strip_prefix(b"Bearer "))
                .map(<[u8]>::trim_ascii);
            match presented {
                Some(presented) if bool::from(presented.ct_eq(token.as_bytes())) => Ok(()),
                Some(_) => Err(Answer::Unauthorized {
                    message: "the console token is wrong".to_owned(),
                }),
                None => Err(Answer::Unauthorized {
                    message: "the console needs its token: Authorization: Bearer <token>"
                        .to_owned(),
                }),
            }
        }
        _ => Ok(()),
    }
}

/// Whether a `Host` value names the loopback: `localhost`, an address in
/// `127.0.0.0/8` or `[::1]`, with or without a port.
fn loopback_host(host: &[u8]) -> bool {
    let Ok(host) = std::str::from_utf8(host) else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split_once(']').map_or("", |(name, _)| name),
        None => host.split_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// Whether a request may use the admin route ([`Route::Replay`]): only from
/// a loopback peer (`127.0.0.0/8`, `::1`, or either mapped in IPv6), and
/// never from a browser page (a request carrying `Origin`, which every
/// browser sends on a cross-origin `POST`, so that a web page the operator
/// visits cannot post to a receiver on its machine). Otherwise the answer
/// is `403` ([`Answer::Forbidden`]).
pub fn admin_allowed(peer: std::net::IpAddr, has_origin: bool) -> Result<(), Answer> {
    if !peer.to_canonical().is_loopback() {
        return Err(Answer::Forbidden {
            message: "the admin route answers loopback peers only".to_owned(),
        });
    }
    if has_origin {
        return Err(Answer::Forbidden {
            message: "the admin route does not answer browser requests (an Origin header)"
                .to_owned(),
        });
    }
    Ok(())
}

/// `path` as answers (and log lines) repeat it: cut to
/// [`ECHOED_PATH_CHARS`] characters, so a client cannot make them as long
/// as its request head.
pub fn echoed(path: &str) -> String {
    match path.char_indices().nth(ECHOED_PATH_CHARS) {
        Some((cut, _)) => format!("{}…", &path[..cut]),
        None => path.to_owned(),
    }
}

/// The declared `Content-Length` check, made before any of the body is
/// read: a declared length over `limit` is `413` from the header alone.
/// Returns the declared length, if there is one that parses (a shell's HTTP
/// parser refuses a malformed one itself; without one, the limit is checked
/// as the body streams in, with [`check_received_length`]).
pub fn check_declared_length(value: Option<&[u8]>, limit: usize) -> Result<Option<u64>, Answer> {
    let declared = value
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(size) if size > limit as u64 => Err(Answer::TooLarge {
            size: Some(size),
            limit,
        }),
        declared => Ok(declared),
    }
}

/// The streamed-body check: `413` as soon as the bytes `received` so far
/// pass `limit`, so the rest is never read.
pub fn check_received_length(received: usize, limit: usize) -> Result<(), Answer> {
    if received > limit {
        Err(Answer::TooLarge { size: None, limit })
    } else {
        Ok(())
    }
}

/// The header caps, for shells whose HTTP parser does not enforce them
/// itself: `count` fields taking `bytes` bytes (names and values) past
/// [`MAX_HEADERS`] or [`MAX_HEADER_BYTES`] are `431`.
pub fn check_header_caps(count: usize, bytes: usize) -> Result<(), Answer> {
    if count > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        Err(Answer::HeadersTooLarge)
    } else {
        Ok(())
    }
}

/// A header value as the core reads it: its bytes as UTF-8, each invalid
/// sequence replaced by U+FFFD. Signatures and ids are ASCII, so a value
/// that needed replacing simply fails to verify; nothing is dropped, so the
/// core sees every field the vendor sent.
pub fn header_text(value: &[u8]) -> String {
    String::from_utf8_lossy(value).into_owned()
}

/// Which bound of a shell is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Overload {
    /// The shell holds as many connections as it may.
    Connections,
    /// The bodies being read and processed hold the whole body budget.
    BodyBudget,
    /// No processor instance became free within the shell's wait.
    Instances,
    /// The console streams as many clients as it may.
    Streams,
}

/// Everything a shell answers, refusals included. Each has one status, one
/// code (the `error` field of an error body, and the `outcome` label of the
/// receiver's metrics: a closed set of `&'static str`), one body and its
/// headers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Answer {
    /// `GET /healthz`: `200`, `ok`.
    Healthy,
    /// `GET /metrics`: `200`, this Prometheus text exposition.
    Metrics(String),
    /// The event is durable (the receiver journals it): `200 {"id", "type",
    /// "duplicate"}`, `duplicate` when it was journaled before.
    Accepted {
        /// The event's `id`.
        id: String,
        /// The event's normalized `type`.
        event_type: String,
        /// Whether the journal already held it.
        duplicate: bool,
    },
    /// The event itself (the gateway, which keeps nothing): `200`, the
    /// CloudEvent document as `application/cloudevents+json`.
    Event(String),
    /// The downstream accepted the event (the gateway, forwarding): `200
    /// {"id", "type", "forwarded": true}`.
    Forwarded {
        /// The event's `id`.
        id: String,
        /// The event's normalized `type`.
        event_type: String,
    },
    /// The core refused the delivery: its class's status
    /// ([`ErrorClass::http_status`]) and name.
    Refused {
        /// The class of the refusal.
        class: ErrorClass,
        /// Its reason: one of the core's
        /// [`REASONS`](switchboard_core::error::REASONS), or of a host's
        /// own (a guest trap, a deadline).
        reason: &'static str,
        /// What was wrong.
        message: String,
    },
    /// No such route: `404 not-found`.
    NotFound {
        /// The request's method.
        method: Method,
        /// The request's path, cut to [`ECHOED_PATH_CHARS`].
        path: String,
    },
    /// A route that takes another method: `405 method-not-allowed`, with
    /// `Allow`.
    MethodNotAllowed {
        /// The method the route takes.
        allow: Method,
    },
    /// The body is over the limit: `413 too-large` (the class the core uses
    /// for the same refusal); the connection is closed, so that the rest of
    /// the body is never read.
    TooLarge {
        /// The declared length, when the refusal came from it.
        size: Option<u64>,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The request head is past [`MAX_HEADERS`] or [`MAX_HEADER_BYTES`]:
    /// `431 headers-too-large`.
    HeadersTooLarge,
    /// The body did not arrive within the read timeout: `408 timeout`, and
    /// the connection is closed.
    BodyTimeout {
        /// The timeout, in seconds.
        seconds: u64,
    },
    /// The body could not be read (the client broke its framing or the
    /// connection): `400 bad-request`, and the connection is closed.
    BodyUnreadable,
    /// A bound of the shell is reached: `503 overloaded`, with
    /// `Retry-After`.
    Overloaded(Overload),
    /// The event could not be made durable: `503 unavailable`, with
    /// `Retry-After`.
    Unavailable {
        /// Why.
        message: String,
    },
    /// The downstream refused the event or could not be reached: `502
    /// bad-gateway`.
    BadGateway {
        /// Why.
        message: String,
    },
    /// The admin route from a peer that may not use it: `403 forbidden`.
    Forbidden {
        /// Why.
        message: String,
    },
    /// The console from a peer, a `Host` or an `Origin` that may not use
    /// it ([`console_allowed`]): `403 forbidden`.
    ConsoleForbidden {
        /// Why.
        message: String,
    },
    /// A console data route without the console token, or with a wrong
    /// one: `401 unauthorized`, with `WWW-Authenticate: Bearer`.
    Unauthorized {
        /// Why.
        message: String,
    },
    /// A console delivery that is not (or no longer) among the recent
    /// deliveries kept: `404 not-found`.
    NotInRing {
        /// The delivery's number.
        seq: u64,
    },
    /// A console replay of a delivery that cannot be replayed (it was
    /// accepted, its body was not read or was kept cut): `409 conflict`.
    NotReplayable {
        /// Why.
        message: String,
    },
    /// A `POST /replay` body of more deliveries than a request may carry:
    /// `413 too-large`; none was run.
    TooManyDeliveries {
        /// How many it carried.
        count: usize,
        /// The most it may.
        limit: usize,
    },
    /// `POST /replay` ran: `200`, one JSON line per delivery, in order
    /// ([`Replayed::line`]), as `application/x-ndjson`.
    Replayed(Vec<Replayed>),
}

/// What became of one delivery sent to `POST /replay`: one JSON line of its
/// answer, `{"outcome": ..., ...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Replayed {
    /// Journaled now (`"outcome": "accepted"`), or already in the journal
    /// (`"duplicate"`), with the event's `id` and `type`.
    Accepted {
        /// The event's `id`.
        id: String,
        /// The event's normalized `type`.
        event_type: String,
        /// Whether the journal already held it.
        duplicate: bool,
    },
    /// A dry run: the current configuration accepts it (`"would-accept"`);
    /// whether the journal already holds it is not checked.
    WouldAccept {
        /// The event's `id`.
        id: String,
        /// The event's normalized `type`.
        event_type: String,
    },
    /// Still refused (`"refused"`): the class, the reason code and the
    /// message, as `POST /webhooks` would answer.
    Refused {
        /// The refusal's class (`unauthenticated`).
        class: ErrorClass,
        /// Its stable reason code.
        reason: String,
        /// What was wrong.
        message: String,
    },
    /// Not run (`"not-run"`): the line is not a delivery, the receiver was
    /// overloaded, or the journal could not be written; `code` is the
    /// answer's code (`bad-request`, `overloaded`, `unavailable`,
    /// `headers-too-large`).
    NotRun {
        /// The code of what stopped it.
        code: &'static str,
        /// Why.
        message: String,
    },
}

impl Replayed {
    /// The answer's JSON line (without its newline).
    pub fn line(&self) -> String {
        match self {
            Replayed::Accepted {
                id,
                event_type,
                duplicate,
            } => json!({
                "outcome": if *duplicate { "duplicate" } else { "accepted" },
                "id": id,
                "type": event_type,
            }),
            Replayed::WouldAccept { id, event_type } => {
                json!({"outcome": "would-accept", "id": id, "type": event_type})
            }
            Replayed::Refused {
                class,
                reason,
                message,
            } => json!({
                "outcome": "refused",
                "class": class.as_str(),
                "reason": reason,
                "message": message,
            }),
            Replayed::NotRun { code, message } => {
                json!({"outcome": "not-run", "code": code, "message": message})
            }
        }
        .to_string()
    }
}

impl Answer {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Answer::Healthy
            | Answer::Metrics(_)
            | Answer::Accepted { .. }
            | Answer::Event(_)
            | Answer::Forwarded { .. }
            | Answer::Replayed(_) => StatusCode::OK,
            Answer::Refused { class, .. } => status_of(*class),
            Answer::NotFound { .. } => StatusCode::NOT_FOUND,
            Answer::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Answer::TooLarge { .. } | Answer::TooManyDeliveries { .. } => {
                status_of(ErrorClass::TooLarge)
            }
            Answer::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Answer::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Answer::BodyUnreadable => StatusCode::BAD_REQUEST,
            Answer::Overloaded(_) | Answer::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Answer::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            Answer::Forbidden { .. } | Answer::ConsoleForbidden { .. } => StatusCode::FORBIDDEN,
            Answer::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Answer::NotInRing { .. } => StatusCode::NOT_FOUND,
            Answer::NotReplayable { .. } => StatusCode::CONFLICT,
        }
    }

    /// The code: the `error` field of an error body, and the outcome label
    /// of metrics (`ok`, `duplicate`, a class name, `not-found`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Answer::Healthy
            | Answer::Metrics(_)
            | Answer::Event(_)
            | Answer::Forwarded { .. }
            | Answer::Replayed(_)
            | Answer::Accepted {
                duplicate: false, ..
            } => "ok",
            Answer::Accepted {
                duplicate: true, ..
            } => "duplicate",
            Answer::Refused { class, .. } => class.as_str(),
            Answer::NotFound { .. } => "not-found",
            Answer::MethodNotAllowed { .. } => "method-not-allowed",
            Answer::TooLarge { .. } | Answer::TooManyDeliveries { .. } => {
                ErrorClass::TooLarge.as_str()
            }
            Answer::HeadersTooLarge => "headers-too-large",
            Answer::BodyTimeout { .. } => "timeout",
            Answer::BodyUnreadable => "bad-request",
            Answer::Overloaded(_) => "overloaded",
            Answer::Unavailable { .. } => "unavailable",
            Answer::BadGateway { .. } => "bad-gateway",
            Answer::Forbidden { .. } | Answer::ConsoleForbidden { .. } => "forbidden",
            Answer::Unauthorized { .. } => "unauthorized",
            Answer::NotInRing { .. } => "not-found",
            Answer::NotReplayable { .. } => "conflict",
        }
    }

    /// Why, in one stable word, for the `reason` field, log lines and the
    /// `reason` metric label: a refusal's own reason; for the shell's
    /// answers `no-route`, `wrong-method`, `too-large`, `headers-too-large`,
    /// `body-timeout`, `body-unreadable`, `too-many-connections`,
    /// `body-budget-full`, `no-free-instance`, `not-durable`,
    /// `downstream-failed`, `admin-forbidden`, `too-many-deliveries`,
    /// `too-many-streams`, `console-forbidden`, `console-token`,
    /// `not-in-ring`, `not-replayable`. `None`
    /// for a success.
    pub fn reason(&self) -> Option<&'static str> {
        Some(match self {
            Answer::Healthy
            | Answer::Metrics(_)
            | Answer::Accepted { .. }
            | Answer::Event(_)
            | Answer::Forwarded { .. }
            | Answer::Replayed(_) => return None,
            Answer::Forbidden { .. } => "admin-forbidden",
            Answer::ConsoleForbidden { .. } => "console-forbidden",
            Answer::Unauthorized { .. } => "console-token",
            Answer::NotInRing { .. } => "not-in-ring",
            Answer::NotReplayable { .. } => "not-replayable",
            Answer::TooManyDeliveries { .. } => "too-many-deliveries",
            Answer::Refused { reason, .. } => reason,
            Answer::NotFound { .. } => "no-route",
            Answer::MethodNotAllowed { .. } => "wrong-method",
            Answer::TooLarge { .. } => "too-large",
            Answer::HeadersTooLarge => "headers-too-large",
            Answer::BodyTimeout { .. } => "body-timeout",
            Answer::BodyUnreadable => "body-unreadable",
            Answer::Overloaded(Overload::Connections) => "too-many-connections",
            Answer::Overloaded(Overload::BodyBudget) => "body-budget-full",
            Answer::Overloaded(Overload::Instances) => "no-free-instance",
            Answer::Overloaded(Overload::Streams) => "too-many-streams",
            Answer::Unavailable { .. } => "not-durable",
            Answer::BadGateway { .. } => "downstream-failed",
        })
    }

    /// What went wrong, for the `message` field; `None` for a success.
    pub fn message(&self) -> Option<String> {
        Some(match self {
            Answer::Healthy
            | Answer::Metrics(_)
            | Answer::Accepted { .. }
            | Answer::Event(_)
            | Answer::Forwarded { .. }
            | Answer::Replayed(_) => return None,
            Answer::Refused { message, .. }
            | Answer::Unavailable { message }
            | Answer::BadGateway { message }
            | Answer::Forbidden { message }
            | Answer::ConsoleForbidden { message }
            | Answer::Unauthorized { message }
            | Answer::NotReplayable { message } => message.clone(),
            Answer::NotInRing { seq } => {
                format!("delivery {seq} is not among the console's recent deliveries")
            }
            Answer::NotFound { method, path } => format!("no route for {method} {path}"),
            Answer::MethodNotAllowed { allow } => format!("use {allow}"),
            Answer::TooLarge {
                size: Some(size),
                limit,
            } => format!("body is {size} bytes, over the {limit} byte limit"),
            Answer::TooLarge { size: None, limit } => {
                format!("body is over the {limit} byte limit")
            }
            Answer::TooManyDeliveries { count, limit } => {
                format!("{count} deliveries in one request, over the limit of {limit}")
            }
            Answer::HeadersTooLarge => {
                format!("the request head is over {MAX_HEADERS} fields or {MAX_HEADER_BYTES} bytes")
            }
            Answer::BodyTimeout { seconds } => {
                format!("the body did not arrive within {seconds} s")
            }
            Answer::BodyUnreadable => "the body could not be read".to_owned(),
            Answer::Overloaded(Overload::Connections) => {
                "too many connections; retry later".to_owned()
            }
            Answer::Overloaded(Overload::BodyBudget) => {
                "too many request bodies in flight; retry later".to_owned()
            }
            Answer::Overloaded(Overload::Instances) => {
                "no processor instance was free in time; retry later".to_owned()
            }
            Answer::Overloaded(Overload::Streams) => {
                "the console streams to as many clients as it may; retry later".to_owned()
            }
        })
    }

    /// The body: `{"error", "reason", "message"}` for every refusal, else
    /// the success's own document.
    pub fn body(&self) -> String {
        match self {
            Answer::Healthy => "ok\n".to_owned(),
            Answer::Metrics(text) | Answer::Event(text) => text.clone(),
            Answer::Accepted {
                id,
                event_type,
                duplicate,
            } => json!({"id": id, "type": event_type, "duplicate": duplicate}).to_string(),
            Answer::Forwarded { id, event_type } => {
                json!({"id": id, "type": event_type, "forwarded": true}).to_string()
            }
            Answer::Replayed(results) => results.iter().fold(String::new(), |mut body, result| {
                body.push_str(&result.line());
                body.push('\n');
                body
            }),
            error => json!({
                "error": error.code(),
                "reason": error.reason().unwrap_or_default(),
                "message": error.message().unwrap_or_default(),
            })
            .to_string(),
        }
    }

    /// The body's media type.
    pub fn content_type(&self) -> &'static str {
        match self {
            Answer::Healthy => "text/plain",
            Answer::Metrics(_) => "text/plain; version=0.0.4",
            Answer::Event(_) => "application/cloudevents+json",
            Answer::Replayed(_) => "application/x-ndjson",
            _ => "application/json",
        }
    }

    /// Whether the connection must be closed after this answer: the body
    /// was left unread (or unreadable), or the connection itself was too
    /// many.
    pub fn closes(&self) -> bool {
        matches!(
            self,
            Answer::TooLarge { .. }
                | Answer::HeadersTooLarge
                | Answer::BodyTimeout { .. }
                | Answer::BodyUnreadable
                | Answer::Overloaded(Overload::Connections | Overload::BodyBudget)
        )
    }

    /// The headers to send: `Content-Type`; `Allow` on a `405`;
    /// `WWW-Authenticate` on a `401`;
    /// `Retry-After` on every `503` (the vendor retries; an `invalid-config`
    /// refusal is a `503` too); `Connection: close` when [`Answer::closes`].
    /// `Content-Length` is the shell's.
    pub fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        let mut headers = vec![(CONTENT_TYPE, HeaderValue::from_static(self.content_type()))];
        if let Answer::MethodNotAllowed { allow } = self {
            // A method is a token, always a valid header value.
            if let Ok(allow) = HeaderValue::from_str(allow.as_str()) {
                headers.push((ALLOW, allow));
            }
        }
        if self.status() == StatusCode::SERVICE_UNAVAILABLE {
            headers.push((RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS)));
        }
        if let Answer::Unauthorized { .. } = self {
            headers.push((
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"switchboard console\""),
            ));
        }
        if self.closes() {
            headers.push((CONNECTION, HeaderValue::from_static("close")));
        }
        headers
    }

    /// The whole response: status, headers and body.
    pub fn to_response(&self) -> Response<String> {
        let mut response = Response::new(self.body());
        *response.status_mut() = self.status();
        response.headers_mut().extend(self.headers());
        response
    }
}

impl From<&switchboard_core::Error> for Answer {
    /// The core's refusal, by its class and reason.
    fn from(error: &switchboard_core::Error) -> Answer {
        Answer::Refused {
            class: error.class(),
            reason: error.reason(),
            message: error.to_string(),
        }
    }
}

/// The status of a refusal class (500 for a status the class should never
/// name).
fn status_of(class: ErrorClass) -> StatusCode {
    StatusCode::from_u16(class.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const RECEIVER: Routes = Routes::RECEIVER;

    fn error_body(answer: &Answer) -> Value {
        let body: Value = serde_json::from_str(&answer.body()).unwrap();
        assert_eq!(body["error"], answer.code(), "{answer:?}");
        assert_eq!(body["reason"], answer.reason().unwrap(), "{answer:?}");
        assert!(body["message"].is_string(), "{answer:?}");
        body
    }

    #[test]
    fn webhook_routes_take_post_and_one_vendor_segment() {
        let post = Method::POST;
        assert_eq!(
            RECEIVER.route(&post, "/webhooks"),
            Ok(Route::Webhook { vendor: None })
        );
        assert_eq!(
            RECEIVER.route(&post, "/webhooks/openphone?attempt=2"),
            Ok(Route::Webhook {
                vendor: Some("openphone")
            })
        );
        for path in ["/webhooks/", "/webhooks/a/b", "/webhooksx", "/", "/webhook"] {
            let answer = RECEIVER.route(&post, path).unwrap_err();
            assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
            assert_eq!(
                error_body(&answer)["message"],
                format!("no route for POST {path}")
            );
        }
    }

    #[test]
    fn a_served_path_with_another_method_is_405_with_allow() {
        let cases = [
            (Method::GET, "/webhooks", "POST"),
            (Method::PUT, "/webhooks/varda", "POST"),
            (Method::POST, "/healthz", "GET"),
            (Method::DELETE, "/metrics", "GET"),
        ];
        for (method, path, allow) in cases {
            let answer = RECEIVER.route(&method, path).unwrap_err();
            assert_eq!(answer.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
            assert_eq!(error_body(&answer)["message"], format!("use {allow}"));
            let headers = answer.headers();
            assert!(headers.contains(&(ALLOW, HeaderValue::from_static(allow))));
            assert!(!answer.closes());
        }
    }

    #[test]
    fn health_everywhere_metrics_only_where_served() {
        for routes in [Routes::RECEIVER, Routes::GATEWAY] {
            assert_eq!(routes.route(&Method::GET, "/healthz"), Ok(Route::Health));
        }
        assert_eq!(
            Routes::RECEIVER.route(&Method::GET, "/metrics"),
            Ok(Route::Metrics)
        );
        let answer = Routes::GATEWAY.route(&Method::GET, "/metrics").unwrap_err();
        assert_eq!(answer.status(), StatusCode::NOT_FOUND);
        let answer = Routes::GATEWAY
            .route(&Method::POST, "/metrics")
            .unwrap_err();
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "not a 405 either");
    }

    #[test]
    fn replay_is_the_receivers_alone_and_loopback_only() {
        assert_eq!(
            RECEIVER.route(&Method::POST, "/replay"),
            Ok(Route::Replay { dry_run: false })
        );
        assert_eq!(
            RECEIVER.route(&Method::POST, "/replay?dry-run=1"),
            Ok(Route::Replay { dry_run: true })
        );
        assert_eq!(
            RECEIVER
                .route(&Method::GET, "/replay")
                .unwrap_err()
                .status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
        for method in [Method::POST, Method::GET] {
            let answer = Routes::GATEWAY.route(&method, "/replay").unwrap_err();
            assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{method}");
        }
        let loopback: [std::net::IpAddr; 3] = [
            "127.0.0.1".parse().unwrap(),
            "::1".parse().unwrap(),
            "::ffff:127.0.0.2".parse().unwrap(),
        ];
        for peer in loopback {
            assert_eq!(admin_allowed(peer, false), Ok(()), "{peer}");
            let answer = admin_allowed(peer, true).unwrap_err();
            assert_eq!(answer.status(), StatusCode::FORBIDDEN);
        }
        for peer in [
            "10.0.0.7",
            "192.168.1.2",
            "::ffff:10.0.0.1",
            "fe80::1",
            "0.0.0.0",
        ] {
            let answer = admin_allowed(peer.parse().unwrap(), false).unwrap_err();
            assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{peer}");
            assert_eq!(error_body(&answer)["error"], "forbidden");
        }
    }

    #[test]
    fn console_routes_are_the_receivers_alone() {
        let get = Method::GET;
        let cases = [
            ("/console", ConsoleRoute::Page),
            ("/console/", ConsoleRoute::Page),
            (
                "/console/assets/console.js",
                ConsoleRoute::Asset("console.js"),
            ),
            ("/console/api/deliveries", ConsoleRoute::Deliveries),
            ("/console/api/deliveries/17", ConsoleRoute::Delivery(17)),
            ("/console/api/stream?x=1", ConsoleRoute::Stream),
        ];
        for (path, route) in cases {
            assert_eq!(
                RECEIVER.route(&get, path),
                Ok(Route::Console(route)),
                "{path}"
            );
            let answer = Routes::GATEWAY.route(&get, path).unwrap_err();
            assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
        }
        assert_eq!(
            RECEIVER.route(&Method::POST, "/console/api/deliveries/3/replay"),
            Ok(Route::Console(ConsoleRoute::Replay(3)))
        );
        let answer = RECEIVER
            .route(&get, "/console/api/deliveries/3/replay")
            .unwrap_err();
        assert_eq!(answer.status(), StatusCode::METHOD_NOT_ALLOWED);
        for path in [
            "/console/assets/",
            "/console/assets/a/b",
            "/console/api/deliveries/x",
            "/console/api/deliveries/-1/replay",
            "/console/api",
            "/consolex",
        ] {
            let answer = RECEIVER.route(&get, path).unwrap_err();
            assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
        }
        assert!(!ConsoleRoute::Page.is_data() && !ConsoleRoute::Asset("a").is_data());
        assert!(ConsoleRoute::Stream.is_data() && ConsoleRoute::Replay(1).is_data());
    }

    fn console_request<'a>(peer: &str, host: &'a str) -> ConsoleRequest<'a> {
        ConsoleRequest {
            peer: peer.parse().unwrap(),
            host: Some(host.as_bytes()),
            origin: None,
            authorization: None,
        }
    }

    #[test]
    fn without_a_token_the_console_is_loopbacks_alone() {
        let data = ConsoleRoute::Deliveries;
        for (peer, host) in [
            ("127.0.0.1", "127.0.0.1:8787"),
            ("::1", "[::1]:8787"),
            ("127.0.0.1", "localhost:8787"),
            ("::ffff:127.0.0.1", "LOCALHOST"),
        ] {
            assert_eq!(
                console_allowed(data, console_request(peer, host), None),
                Ok(())
            );
        }
        for (peer, host) in [
            ("192.0.2.2", "192.0.2.2:8787"),
            ("10.0.0.1", "localhost"),
            ("fe80::1", "[::1]"),
            // A name pointed at the loopback by an attacker: DNS rebinding.
            ("127.0.0.1", "evil.example:8787"),
            ("127.0.0.1", "[::2]:8787"),
        ] {
            for route in [ConsoleRoute::Page, data] {
                let answer = console_allowed(route, console_request(peer, host), None).unwrap_err();
                assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{peer} {host}");
                assert_eq!(error_body(&answer)["reason"], "console-forbidden");
            }
        }
    }

    #[test]
    fn with_a_token_its_data_needs_it() {
        let token = Some("s3cret-token");
        let request = console_request("192.0.2.2", "192.0.2.2:8787");
        // The page holds no data: it is served, and asks for the token.
        assert_eq!(console_allowed(ConsoleRoute::Page, request, token), Ok(()));
        for authorization in [
            None,
            Some("Bearer wrong"),
            Some("Basic s3cret-token"),
            Some("Bearer s3cret-toke"),
        ] {
            let request = ConsoleRequest {
                authorization: authorization.map(str::as_bytes),
                ..request
            };
            let answer = console_allowed(ConsoleRoute::Stream, request, token).unwrap_err();
            assert_eq!(
                answer.status(),
                StatusCode::UNAUTHORIZED,
                "{authorization:?}"
            );
            assert_eq!(error_body(&answer)["reason"], "console-token");
            assert!(!answer.body().contains("s3cret"));
            assert!(
                answer
                    .headers()
                    .iter()
                    .any(|(name, _)| name == http::header::WWW_AUTHENTICATE)
            );
        }
        let with = ConsoleRequest {
            authorization: Some(b"Bearer s3cret-token"),
            ..request
        };
        assert_eq!(
            console_allowed(ConsoleRoute::Replay(1), with, token),
            Ok(())
        );
        // Loopback needs it too, once there is one.
        let local = console_request("127.0.0.1", "127.0.0.1:1");
        assert_eq!(
            console_allowed(ConsoleRoute::Deliveries, local, token)
                .unwrap_err()
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn a_foreign_origin_is_refused_token_or_not() {
        for (origin, allowed) in [
            ("http://127.0.0.1:8787", true),
            ("http://127.0.0.1:8788", false),
            ("https://127.0.0.1:8787", false),
            ("http://evil.example", false),
            ("null", false),
        ] {
            let request = ConsoleRequest {
                origin: Some(origin.as_bytes()),
                authorization: Some(b"Bearer t"),
                ..console_request("127.0.0.1", "127.0.0.1:8787")
            };
            for token in [None, Some("t")] {
                let result = console_allowed(ConsoleRoute::Replay(1), request, token);
                assert_eq!(result.is_ok(), allowed, "{origin} {token:?}");
                if let Err(answer) = result {
                    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
                }
            }
        }
    }

    #[test]
    fn console_answers() {
        let cases = [
            (
                Answer::NotInRing { seq: 9 },
                404,
                "not-found",
                "not-in-ring",
            ),
            (
                Answer::NotReplayable {
                    message: "cut".to_owned(),
                },
                409,
                "conflict",
                "not-replayable",
            ),
            (
                Answer::Overloaded(Overload::Streams),
                503,
                "overloaded",
                "too-many-streams",
            ),
        ];
        for (answer, status, code, reason) in cases {
            assert_eq!(answer.status().as_u16(), status);
            assert_eq!(error_body(&answer)["error"], code);
            assert_eq!(error_body(&answer)["reason"], reason);
        }
        let headers = console_headers("text/html; charset=utf-8");
        let csp = headers
            .iter()
            .find(|(name, _)| name == http::header::CONTENT_SECURITY_POLICY)
            .unwrap();
        assert!(
            csp.1
                .to_str()
                .unwrap()
                .starts_with("default-src 'self'; script-src 'self' 'wasm-unsafe-eval';")
        );
        assert!(!CONSOLE_CSP.contains("unsafe-inline"));
    }

    #[test]
    fn replay_answers_are_json_lines() {
        let answer = Answer::Replayed(vec![
            Replayed::Accepted {
                id: "e1".to_owned(),
                event_type: "call.ended".to_owned(),
                duplicate: true,
            },
            Replayed::Refused {
                class: ErrorClass::Unauthenticated,
                reason: "signature-mismatch".to_owned(),
                message: "no signature matches".to_owned(),
            },
            Replayed::NotRun {
                code: "bad-request",
                message: "line 3 is not JSON".to_owned(),
            },
        ]);
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(answer.content_type(), "application/x-ndjson");
        let lines: Vec<Value> = answer
            .body()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines[0]["outcome"], "duplicate");
        assert_eq!(lines[0]["id"], "e1");
        assert_eq!(lines[1]["outcome"], "refused");
        assert_eq!(lines[1]["class"], "unauthenticated");
        assert_eq!(lines[1]["reason"], "signature-mismatch");
        assert_eq!(lines[2]["outcome"], "not-run");
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn a_long_path_is_echoed_cut() {
        let path = format!("/{}", "é".repeat(10_000));
        let answer = RECEIVER.route(&Method::GET, &path).unwrap_err();
        let message = answer.message().unwrap();
        assert!(message.ends_with('…'), "{message}");
        assert_eq!(
            message.chars().count(),
            "no route for GET ".len() + ECHOED_PATH_CHARS + 1
        );
    }

    #[test]
    fn refusals_take_their_class_status_and_name() {
        for class in ErrorClass::ALL {
            let answer = Answer::Refused {
                class,
                reason: "stale",
                message: "why".to_owned(),
            };
            assert_eq!(answer.status().as_u16(), class.http_status());
            assert_eq!(answer.code(), class.as_str());
            assert_eq!(error_body(&answer)["message"], "why");
            assert_eq!(error_body(&answer)["reason"], "stale");
        }
        let core = switchboard_core::Error::NoSuchVendor("acme".to_owned());
        let answer = Answer::from(&core);
        assert_eq!(answer.status(), StatusCode::NOT_FOUND);
        assert_eq!(answer.code(), "unknown-vendor");
        assert_eq!(answer.reason(), Some("no-such-vendor"));
        assert_eq!(answer.message().unwrap(), core.to_string());
    }

    #[test]
    fn the_declared_length_is_checked_from_the_header_alone() {
        assert_eq!(check_declared_length(Some(b"1024"), 1024), Ok(Some(1024)));
        assert_eq!(check_declared_length(None, 1024), Ok(None));
        assert_eq!(check_declared_length(Some(b"lots"), 1024), Ok(None));
        let answer = check_declared_length(Some(b" 1025 "), 1024).unwrap_err();
        assert_eq!(
            answer,
            Answer::TooLarge {
                size: Some(1025),
                limit: 1024
            }
        );
        assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(answer.code(), "too-large");
        // The same words as the core's own refusal of the same body.
        let core = switchboard_core::Error::TooLarge {
            size: 1025,
            limit: 1024,
        };
        assert_eq!(answer.message().unwrap(), core.to_string());
        assert!(answer.closes());
        assert!(
            answer
                .headers()
                .contains(&(CONNECTION, HeaderValue::from_static("close")))
        );
    }

    #[test]
    fn a_streamed_body_is_refused_as_soon_as_it_passes_the_limit() {
        assert_eq!(check_received_length(1024, 1024), Ok(()));
        let answer = check_received_length(1025, 1024).unwrap_err();
        assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            error_body(&answer)["message"],
            "body is over the 1024 byte limit"
        );
    }

    #[test]
    fn header_caps() {
        assert_eq!(check_header_caps(MAX_HEADERS, MAX_HEADER_BYTES), Ok(()));
        for (count, bytes) in [(MAX_HEADERS + 1, 10), (1, MAX_HEADER_BYTES + 1)] {
            let answer = check_header_caps(count, bytes).unwrap_err();
            assert_eq!(answer.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
            assert_eq!(error_body(&answer)["error"], "headers-too-large");
        }
        // The OpenPhone flood of 14 000 entries fits in a head.
        let flood = vec!["hmac;1;1639710054089;AAAA"; 14_000].join(",");
        assert!(flood.len() + 1024 < MAX_HEADER_BYTES, "{}", flood.len());
    }

    #[test]
    fn header_values_are_read_as_lossy_utf8() {
        assert_eq!(header_text(b"t=1,v1=ab"), "t=1,v1=ab");
        assert_eq!(header_text(b"caf\xe9"), "caf\u{fffd}");
    }

    #[test]
    fn every_503_says_when_to_retry() {
        let answers = [
            Answer::Overloaded(Overload::Connections),
            Answer::Overloaded(Overload::BodyBudget),
            Answer::Overloaded(Overload::Instances),
            Answer::Unavailable {
                message: "disk full".to_owned(),
            },
        ];
        for answer in answers {
            assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
            let response = answer.to_response();
            assert_eq!(
                response.headers()[RETRY_AFTER],
                RETRY_AFTER_SECONDS.to_string().as_str(),
                "{answer:?}"
            );
            error_body(&answer);
        }
        assert_eq!(Answer::Overloaded(Overload::Instances).code(), "overloaded");
        // Instances ran out after the body was read whole: the connection
        // may be reused; the other two left bytes unread.
        assert!(!Answer::Overloaded(Overload::Instances).closes());
        assert!(Answer::Overloaded(Overload::BodyBudget).closes());
        assert!(
            !Answer::Healthy
                .headers()
                .iter()
                .any(|(n, _)| n == RETRY_AFTER)
        );
    }

    #[test]
    fn successes() {
        let accepted = Answer::Accepted {
            id: "evt_1".to_owned(),
            event_type: "call.ended".to_owned(),
            duplicate: true,
        };
        assert_eq!(accepted.status(), StatusCode::OK);
        assert_eq!(accepted.code(), "duplicate");
        assert_eq!(
            accepted.body(),
            r#"{"id":"evt_1","type":"call.ended","duplicate":true}"#
        );
        assert_eq!(accepted.message(), None);
        let forwarded = Answer::Forwarded {
            id: "evt_1".to_owned(),
            event_type: "call.ended".to_owned(),
        };
        assert_eq!(
            forwarded.body(),
            r#"{"id":"evt_1","type":"call.ended","forwarded":true}"#
        );
        assert_eq!(forwarded.code(), "ok");
        let event = Answer::Event("{}".to_owned()).to_response();
        assert_eq!(
            event.headers()[CONTENT_TYPE],
            "application/cloudevents+json"
        );
        assert_eq!(event.body(), "{}");
        let health = Answer::Healthy.to_response();
        assert_eq!(
            (health.status(), health.body().as_str()),
            (StatusCode::OK, "ok\n")
        );
        assert_eq!(
            Answer::Metrics(String::new()).content_type(),
            "text/plain; version=0.0.4"
        );
    }

    #[test]
    fn the_other_refusals() {
        let cases = [
            (Answer::HeadersTooLarge, 431, "headers-too-large", true),
            (Answer::BodyTimeout { seconds: 10 }, 408, "timeout", true),
            (Answer::BodyUnreadable, 400, "bad-request", true),
            (
                Answer::BadGateway {
                    message: "the downstream answered 500".to_owned(),
                },
                502,
                "bad-gateway",
                false,
            ),
        ];
        for (answer, status, code, closes) in cases {
            assert_eq!(answer.status().as_u16(), status, "{answer:?}");
            assert_eq!(answer.code(), code);
            assert_eq!(answer.closes(), closes, "{answer:?}");
            error_body(&answer);
        }
        assert_eq!(
            Answer::BodyTimeout { seconds: 10 }.message().unwrap(),
            "the body did not arrive within 10 s"
        );
    }
}
