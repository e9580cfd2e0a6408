//! The gateway: a complete webhook endpoint as a `wasi:http/proxy`
//! component. It answers the vendor's HTTP request itself, with the same
//! `switchboard-core` as the processor component; this file is HTTP glue.
//!
//! - `POST /webhooks/{vendor}`, `POST /webhooks` (detection), `GET /healthz`.
//! - Configuration: the `SWITCHBOARD_*` environment variables the runtime
//!   passes (see `switchboard_core::Config::apply_env`; every vendor family is
//!   enabled unless `SWITCHBOARD_VENDORS` says otherwise), read once per
//!   instance. The current time is `wasi:clocks/wall-clock`.
//! - By default an accepted delivery is answered `200` with the CloudEvent as
//!   the body (`application/cloudevents+json`). With `SWITCHBOARD_FORWARD_URL`
//!   set, the event is POSTed there through `wasi:http/outgoing-handler`, and
//!   the vendor hears `200` only when the downstream answered 2xx, else `502`
//!   (so the vendor retries).
//! - Refusals answer their class's status with `{"error", "message"}`.
//!
//! Built for `wasm32-unknown-unknown` and encoded with wit-component, so it
//! imports only what it uses: the `wasi:http/proxy` world's interfaces, plus
//! `wasi:cli/environment` for its configuration.

// The generated WASI bindings and `export!` are the only unsafe code here.
#![allow(unsafe_code)]

use std::io::Write as _;
use std::sync::OnceLock;

use serde_json::json;
use switchboard_core::{Config, Error, Request};
use wasip2::exports::http::incoming_handler::Guest;
use wasip2::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingRequest, OutgoingResponse,
    ResponseOutparam, Scheme,
};
use wasip2::io::streams::StreamError;

struct Gateway;

wasip2::http::proxy::export!(Gateway);

/// What the instance was configured with, read once.
struct Settings {
    config: Result<Config, String>,
    forward: Option<String>,
}

fn settings() -> &'static Settings {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    SETTINGS.get_or_init(|| {
        let vars = wasip2::cli::environment::get_environment();
        let mut config = Config::all_vendors();
        let config = config
            .apply_env(vars.iter().map(|(k, v)| (k, v)))
            .map(|()| config);
        let forward = vars
            .iter()
            .find(|(k, _)| k == "SWITCHBOARD_FORWARD_URL")
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty());
        Settings { config, forward }
    })
}

/// A response to send.
struct Answer {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Answer {
    fn error(status: u16, class: &str, message: &str) -> Answer {
        Answer {
            status,
            content_type: "application/json",
            body: json!({"error": class, "message": message})
                .to_string()
                .into_bytes(),
        }
    }

    fn refused(error: &Error) -> Answer {
        let class = error.class();
        Answer::error(class.http_status(), class.as_str(), &error.to_string())
    }
}

impl Guest for Gateway {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let answer = route(request);
        let headers = Fields::new();
        let _ = headers.set("content-type", &[answer.content_type.as_bytes().to_vec()]);
        let response = OutgoingResponse::new(headers);
        let _ = response.set_status_code(answer.status);
        let Ok(body) = response.body() else { return };
        ResponseOutparam::set(response_out, Ok(response));
        if let Ok(mut out) = body.write() {
            let _ = out.write_all(&answer.body);
            let _ = out.flush();
        }
        let _ = OutgoingBody::finish(body, None);
    }
}

fn route(request: IncomingRequest) -> Answer {
    let path_and_query = request.path_with_query().unwrap_or_default();
    let path = path_and_query
        .split('?')
        .next()
        .unwrap_or_default()
        .to_owned();
    let method = request.method();
    let vendor = match (path.as_str(), &method) {
        ("/healthz", Method::Get) => {
            return Answer {
                status: 200,
                content_type: "text/plain",
                body: b"ok\n".to_vec(),
            };
        }
        ("/webhooks", Method::Post) => None,
        (other, Method::Post) => match other.strip_prefix("/webhooks/") {
            Some(vendor) if !vendor.is_empty() && !vendor.contains('/') => Some(vendor.to_owned()),
            _ => return Answer::error(404, "not-found", &format!("no route for POST {other}")),
        },
        ("/healthz" | "/webhooks", _) => {
            return Answer::error(405, "method-not-allowed", "wrong method");
        }
        (other, _) if other.starts_with("/webhooks/") => {
            return Answer::error(405, "method-not-allowed", "use POST");
        }
        (other, _) => return Answer::error(404, "not-found", &format!("no route for {other}")),
    };
    let settings = settings();
    let config = match &settings.config {
        Ok(config) => config,
        Err(e) => return Answer::error(500, "internal", &format!("invalid configuration: {e}")),
    };
    webhook(
        request,
        vendor.as_deref(),
        config,
        settings.forward.as_deref(),
    )
}

fn webhook(
    request: IncomingRequest,
    vendor: Option<&str>,
    config: &Config,
    forward: Option<&str>,
) -> Answer {
    let limit = config.body_limit;
    let headers: Vec<(String, String)> = request
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect();
    let declared = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<u64>().ok());
    if let Some(length) = declared.filter(|&length| length > limit as u64) {
        return Answer::refused(&Error::TooLarge {
            size: usize::try_from(length).unwrap_or(usize::MAX),
            limit,
        });
    }
    let body = match read_body(&request, limit) {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let now = i64::try_from(wasip2::clocks::wall_clock::now().seconds).unwrap_or(i64::MAX);
    let pairs = headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
    let event = match switchboard_core::process(&Request::new(pairs, &body), vendor, config, now) {
        Ok(event) => event,
        Err(error) => return Answer::refused(&error),
    };
    let document = event.to_json();
    match forward {
        None => Answer {
            status: 200,
            content_type: "application/cloudevents+json",
            body: document.into_bytes(),
        },
        Some(url) => match post(url, document.as_bytes()) {
            Ok(status) if (200..300).contains(&status) => Answer {
                status: 200,
                content_type: "application/json",
                body: json!({"id": event.id, "type": event.event_type.as_str(), "forwarded": true})
                    .to_string()
                    .into_bytes(),
            },
            Ok(status) => Answer::error(
                502,
                "bad-gateway",
                &format!("the downstream answered {status}"),
            ),
            Err(e) => Answer::error(
                502,
                "bad-gateway",
                &format!("the downstream could not be reached: {e}"),
            ),
        },
    }
}

/// The body, refused as soon as it passes `limit` (the rest is never read).
fn read_body(request: &IncomingRequest, limit: usize) -> Result<Vec<u8>, Answer> {
    let unreadable = || Answer::error(400, "bad-request", "the body could not be read");
    let incoming = request.consume().map_err(|()| unreadable())?;
    let stream = incoming.stream().map_err(|()| unreadable())?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => {
                body.extend_from_slice(&chunk);
                if body.len() > limit {
                    return Err(Answer::refused(&Error::TooLarge {
                        size: body.len(),
                        limit,
                    }));
                }
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(_)) => return Err(unreadable()),
        }
    }
    Ok(body)
}

/// POSTs a CloudEvent to `url` and returns the downstream's status.
fn post(url: &str, document: &[u8]) -> Result<u16, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or("SWITCHBOARD_FORWARD_URL is not a URL")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let headers = Fields::new();
    headers
        .set("content-type", &[b"application/cloudevents+json".to_vec()])
        .and_then(|()| headers.set("content-length", &[document.len().to_string().into_bytes()]))
        .map_err(|e| format!("{e:?}"))?;
    let request = OutgoingRequest::new(headers);
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => return Err(format!("unsupported scheme {other}")),
    };
    let set = |ok: Result<(), ()>, what: &str| {
        ok.map_err(|()| format!("invalid {what} in SWITCHBOARD_FORWARD_URL"))
    };
    set(request.set_method(&Method::Post), "method")?;
    set(request.set_scheme(Some(&scheme)), "scheme")?;
    set(request.set_authority(Some(authority)), "authority")?;
    set(request.set_path_with_query(Some(path)), "path")?;
    let body = request.body().map_err(|()| "no request body".to_owned())?;
    let pending =
        wasip2::http::outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    {
        let mut out = body.write().map_err(|()| "no body stream".to_owned())?;
        out.write_all(document).map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }
    OutgoingBody::finish(body, None).map_err(|e| format!("{e:?}"))?;
    pending.subscribe().block();
    match pending.get() {
        Some(Ok(Ok(response))) => Ok(response.status()),
        Some(Ok(Err(e))) => Err(format!("{e:?}")),
        Some(Err(())) | None => Err("no response".to_owned()),
    }
}
