//! The gateway: a complete webhook endpoint as a `wasi:http/proxy`
//! component. It answers the vendor's HTTP request itself, with the same
//! `switchboard-core` as the processor component; this file is HTTP glue.
//!
//! - `POST /webhooks/{vendor}`, `POST /webhooks` (detection), `GET /healthz`.
//! - Configuration: the `SWITCHBOARD_*` environment variables the runtime
//!   passes (see `switchboard_core::Config::apply_env`; every vendor family is
//!   enabled unless `SWITCHBOARD_VENDORS` says otherwise), plus
//!   `SWITCHBOARD_FORWARD_URL`, `SWITCHBOARD_READ_TIMEOUT_SECONDS` and
//!   `SWITCHBOARD_FORWARD_TIMEOUT_SECONDS` (10 s each by default), read and
//!   validated once per instance, at its first request (the proxy world has
//!   no start hook). A configuration that cannot be used answers `GET
//!   /healthz` with `503` and the reason, and every delivery with `503
//!   invalid-config`, naming the key at fault, never a value. The current
//!   time is `wasi:clocks/wall-clock`.
//! - By default an accepted delivery is answered `200` with the CloudEvent as
//!   the body (`application/cloudevents+json`). With `SWITCHBOARD_FORWARD_URL`
//!   set, the event is POSTed there through `wasi:http/outgoing-handler`, and
//!   the vendor hears `200` only when the downstream answered 2xx, else `502`
//!   (so the vendor retries).
//! - Refusals answer their class's status with `{"error", "message"}`. A
//!   body that does not arrive within the read timeout is `408`; a
//!   downstream that does not answer within its timeout is `502`.
//!
//! Built for `wasm32-unknown-unknown` and encoded with wit-component, so it
//! imports only what it uses: the `wasi:http/proxy` world's interfaces, plus
//! `wasi:cli/environment` for its configuration.

// The generated WASI bindings and `export!` are the only unsafe code here.
#![allow(unsafe_code)]

use std::io::Write as _;
use std::sync::OnceLock;
use std::time::Duration;

use switchboard_core::{Config, ConfigError, Error, Request};
use switchboard_http::{
    Answer, Route, Routes, check_declared_length, check_header_caps, check_received_length,
    header_text, http,
};
use wasip2::clocks::monotonic_clock;
use wasip2::exports::http::incoming_handler::Guest;
use wasip2::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingRequest, OutgoingResponse,
    RequestOptions, ResponseOutparam, Scheme,
};
use wasip2::io::poll::{self, Pollable};
use wasip2::io::streams::StreamError;

struct Gateway;

wasip2::http::proxy::export!(Gateway);

/// The variable naming where events are forwarded.
const FORWARD_URL: &str = "SWITCHBOARD_FORWARD_URL";
/// How long a client may take to send the body once its headers arrived, in
/// seconds (default 10).
const READ_TIMEOUT: &str = "SWITCHBOARD_READ_TIMEOUT_SECONDS";
/// How long the downstream may take to answer, in seconds (default 10).
const FORWARD_TIMEOUT: &str = "SWITCHBOARD_FORWARD_TIMEOUT_SECONDS";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the instance was configured with, read and validated once, at its
/// first request (the proxy world has no start hook). A configuration that
/// cannot be used is kept as its error: every delivery is then answered
/// `503 invalid-config` and `/healthz` says why.
struct Settings {
    config: Config,
    forward: Option<Forward>,
    read_timeout: Duration,
}

fn settings() -> &'static Result<Settings, ConfigError> {
    static SETTINGS: OnceLock<Result<Settings, ConfigError>> = OnceLock::new();
    SETTINGS.get_or_init(|| {
        let vars = wasip2::cli::environment::get_environment();
        let mut config = Config::all_vendors();
        let own = [FORWARD_URL, READ_TIMEOUT, FORWARD_TIMEOUT];
        config.apply_env(vars.iter().map(|(k, v)| (k, v)), &own)?;
        config.validate()?;
        let get = |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        let seconds = |name: &str| match get(name) {
            None => Ok(DEFAULT_TIMEOUT),
            Some(text) => match text.trim().parse::<u64>() {
                Ok(seconds) if seconds > 0 => Ok(Duration::from_secs(seconds)),
                _ => Err(ConfigError::new(
                    name,
                    "is not a whole number of seconds above 0",
                )),
            },
        };
        let forward = get(FORWARD_URL)
            .map(|url| Forward::parse(url, seconds(FORWARD_TIMEOUT)?))
            .transpose()?;
        Ok(Settings {
            config,
            forward,
            read_timeout: seconds(READ_TIMEOUT)?,
        })
    })
}

/// Where accepted events are POSTed.
struct Forward {
    scheme: Scheme,
    authority: String,
    path: String,
    /// How long the downstream may take to connect, to send its first byte
    /// and between bytes; and, in all, to answer.
    timeout: Duration,
}

impl Forward {
    /// `http://host[:port][/path]` or `https://…`.
    fn parse(url: &str, timeout: Duration) -> Result<Forward, ConfigError> {
        let invalid = |problem: &str| ConfigError::new(FORWARD_URL, problem);
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid("is not an http:// or https:// URL"))?;
        let scheme = match scheme {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            _ => return Err(invalid("is not an http:// or https:// URL")),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            return Err(invalid("has no host"));
        }
        Ok(Forward {
            scheme,
            authority: authority.to_owned(),
            path: path.to_owned(),
            timeout,
        })
    }
}

impl Guest for Gateway {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let answer = route(request);
        let headers = Fields::new();
        for (name, value) in answer.headers() {
            let _ = headers.append(name.as_str(), value.as_bytes());
        }
        let response = OutgoingResponse::new(headers);
        let _ = response.set_status_code(answer.status().as_u16());
        let Ok(body) = response.body() else { return };
        ResponseOutparam::set(response_out, Ok(response));
        if let Ok(mut out) = body.write() {
            let _ = out.write_all(answer.body().as_bytes());
            let _ = out.flush();
        }
        let _ = OutgoingBody::finish(body, None);
    }
}

/// The contract's answer to `request` (see `switchboard_http::Routes`).
fn route(request: IncomingRequest) -> Answer {
    let target = request.path_with_query().unwrap_or_default();
    let method = match request.method() {
        Method::Get => http::Method::GET,
        Method::Post => http::Method::POST,
        Method::Put => http::Method::PUT,
        Method::Delete => http::Method::DELETE,
        Method::Head => http::Method::HEAD,
        Method::Patch => http::Method::PATCH,
        Method::Options => http::Method::OPTIONS,
        Method::Connect => http::Method::CONNECT,
        Method::Trace => http::Method::TRACE,
        // A method that is not a valid token takes no route: any method no
        // route takes gives the same 404 or 405 answer.
        Method::Other(other) => {
            http::Method::from_bytes(other.as_bytes()).unwrap_or(http::Method::PATCH)
        }
    };
    let vendor = match Routes::GATEWAY.route(&method, &target) {
        Ok(Route::Webhook { vendor }) => vendor.map(str::to_owned),
        Ok(Route::Health) => {
            return match settings() {
                Ok(_) => Answer::Healthy,
                Err(e) => Answer::from(&Error::Config(e.clone())),
            };
        }
        // Never routed here (`Routes::GATEWAY` serves no metrics, no admin
        // route and no console).
        Ok(Route::Metrics | Route::Replay { .. } | Route::Console(_)) => {
            return Answer::NotFound {
                method,
                path: switchboard_http::echoed(&target),
            };
        }
        Err(refused) => return refused,
    };
    match settings() {
        Ok(settings) => webhook(request, vendor.as_deref(), settings).unwrap_or_else(|a| a),
        Err(e) => Answer::from(&Error::Config(e.clone())),
    }
}

fn webhook(
    request: IncomingRequest,
    vendor: Option<&str>,
    settings: &Settings,
) -> Result<Answer, Answer> {
    let config = &settings.config;
    let limit = config.body_limit;
    let fields = request.headers().entries();
    let bytes = fields.iter().map(|(n, v)| n.len() + v.len()).sum();
    check_header_caps(fields.len(), bytes)?;
    let declared = fields
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .map(|(_, value)| value.as_slice());
    check_declared_length(declared, limit)?;
    let headers: Vec<(String, String)> = fields
        .into_iter()
        .map(|(name, value)| (name, header_text(&value)))
        .collect();
    let body = read_body(&request, limit, settings.read_timeout)?;
    let now = i64::try_from(wasip2::clocks::wall_clock::now().seconds).unwrap_or(i64::MAX);
    let pairs = headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
    let event = switchboard_core::process(&Request::new(pairs, &body), vendor, config, now)
        .map_err(|error| Answer::from(&error))?;
    let document = event.to_json();
    let Some(forward) = &settings.forward else {
        return Ok(Answer::Event(document));
    };
    match post(forward, document.as_bytes()) {
        Ok(status) if (200..300).contains(&status) => Ok(Answer::Forwarded {
            id: event.id,
            event_type: event.event_type.as_str().to_owned(),
        }),
        Ok(status) => Err(Answer::BadGateway {
            message: format!("the downstream answered {status}"),
        }),
        Err(e) => Err(Answer::BadGateway {
            message: format!("the downstream could not be reached: {e}"),
        }),
    }
}

/// The body, refused as soon as it passes `limit` (the rest is never read),
/// or once `timeout` has passed without it arriving whole.
fn read_body(
    request: &IncomingRequest,
    limit: usize,
    timeout: Duration,
) -> Result<Vec<u8>, Answer> {
    let incoming = request.consume().map_err(|()| Answer::BodyUnreadable)?;
    let stream = incoming.stream().map_err(|()| Answer::BodyUnreadable)?;
    let deadline = monotonic_clock::subscribe_duration(nanos(timeout));
    let mut body = Vec::new();
    loop {
        match stream.read(64 * 1024) {
            Ok(chunk) if chunk.is_empty() => {
                let readable = stream.subscribe();
                if !wait(&readable, &deadline) {
                    return Err(Answer::BodyTimeout {
                        seconds: timeout.as_secs(),
                    });
                }
            }
            Ok(chunk) => {
                body.extend_from_slice(&chunk);
                check_received_length(body.len(), limit)?;
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(_)) => return Err(Answer::BodyUnreadable),
        }
    }
    Ok(body)
}

/// Blocks until `ready` or `deadline` fires; whether `ready` did.
fn wait(ready: &Pollable, deadline: &Pollable) -> bool {
    poll::poll(&[ready, deadline]).contains(&0)
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// POSTs a CloudEvent downstream and returns its status, giving up after
/// the forward's timeout.
fn post(forward: &Forward, document: &[u8]) -> Result<u16, String> {
    let headers = Fields::new();
    headers
        .set("content-type", &[b"application/cloudevents+json".to_vec()])
        .and_then(|()| headers.set("content-length", &[document.len().to_string().into_bytes()]))
        .map_err(|e| format!("{e:?}"))?;
    let request = OutgoingRequest::new(headers);
    let set = |ok: Result<(), ()>, what: &str| {
        ok.map_err(|()| format!("invalid {what} in {FORWARD_URL}"))
    };
    set(request.set_method(&Method::Post), "method")?;
    set(request.set_scheme(Some(&forward.scheme)), "scheme")?;
    set(request.set_authority(Some(&forward.authority)), "authority")?;
    set(request.set_path_with_query(Some(&forward.path)), "path")?;
    let options = RequestOptions::new();
    // A runtime that does not support one of these still gets the overall
    // deadline below.
    let _ = options.set_connect_timeout(Some(nanos(forward.timeout)));
    let _ = options.set_first_byte_timeout(Some(nanos(forward.timeout)));
    let _ = options.set_between_bytes_timeout(Some(nanos(forward.timeout)));
    let deadline = monotonic_clock::subscribe_duration(nanos(forward.timeout));
    let body = request.body().map_err(|()| "no request body".to_owned())?;
    let pending = wasip2::http::outgoing_handler::handle(request, Some(options))
        .map_err(|e| format!("{e:?}"))?;
    {
        let mut out = body.write().map_err(|()| "no body stream".to_owned())?;
        out.write_all(document).map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }
    OutgoingBody::finish(body, None).map_err(|e| format!("{e:?}"))?;
    if !wait(&pending.subscribe(), &deadline) {
        return Err(format!("no answer within {} s", forward.timeout.as_secs()));
    }
    match pending.get() {
        Some(Ok(Ok(response))) => Ok(response.status()),
        Some(Ok(Err(e))) => Err(format!("{e:?}")),
        Some(Err(())) | None => Err("no response".to_owned()),
    }
}
