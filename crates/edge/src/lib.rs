//! The edge component: `switchboard-http`'s contract (`shell::head`,
//! `shell::deliver`, `shell::forwarded`) behind `wit/edge/edge.wit`, for the
//! shells written in JavaScript (`host/edge/`: the Cloudflare Worker and the
//! Deno entry point), so that they hand-write no route, status, error body
//! or limit. WIT values in, the contract in the middle, WIT values out.

// The generated bindings and `export!` are the only unsafe code here.
#![allow(unsafe_code)]

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/edge",
        world: "edge",
    });
}

use std::cell::RefCell;

use bindings::exports::switchboard::edge::shell::{
    Admission, BodyRead, Forward, Guest, Outcome, Response,
};
use switchboard_core::{ConfigError, ErrorClass};
use switchboard_http::http::{Method, header::CONNECTION};
use switchboard_http::shell::{self, Delivered, Settings};
use switchboard_http::{Answer, Routes, header_text};

struct Edge;

bindings::export!(Edge with_types_in bindings);

type Env = Vec<(String, String)>;

thread_local! {
    /// The environment the last call was given, read: while every call
    /// passes an equal one, it is read and validated once.
    static LAST_ENV: RefCell<Option<(Env, Result<Settings, ConfigError>)>> =
        const { RefCell::new(None) };
}

/// Runs `f` with `env` read ([`Settings::from_env`], the gateway's reading).
fn with_settings<R>(env: Env, f: impl FnOnce(Result<&Settings, &ConfigError>) -> R) -> R {
    LAST_ENV.with_borrow_mut(|last| {
        let (env, settings) = match last.take() {
            Some((kept, settings)) if kept == env => (kept, settings),
            _ => {
                let settings = Settings::from_env(&env);
                (env, settings)
            }
        };
        let outcome = f(settings.as_ref());
        *last = Some((env, settings));
        outcome
    })
}

impl Guest for Edge {
    fn head(method: String, target: String, headers: Env, env: Env) -> Admission {
        with_settings(env, |settings| {
            match admit(&method, &target, &headers, settings) {
                Ok(limit) => Admission::ReadBody(BodyRead {
                    limit: u32::try_from(limit).unwrap_or(u32::MAX),
                    timeout_ms: settings.map_or(0, |s| millis(s.read_timeout)),
                }),
                Err(answer) => Admission::Respond(response(&answer)),
            }
        })
    }

    fn handle(
        method: String,
        target: String,
        headers: Env,
        body: Vec<u8>,
        env: Env,
        now: i64,
    ) -> Outcome {
        with_settings(env, |settings| {
            let delivered = admit(&method, &target, &headers, settings).and_then(|_| {
                let settings = settings.map_err(config_refusal)?;
                let vendor = vendor_of(&target);
                let headers: Env = headers
                    .into_iter()
                    .map(|(name, value)| (name, byte_string(&value)))
                    .collect();
                Ok((
                    shell::deliver(settings, vendor, &headers, &body, now),
                    settings,
                ))
            });
            match delivered {
                Err(answer) | Ok((Delivered::Answer(answer), _)) => {
                    Outcome::Respond(response(&answer))
                }
                Ok((
                    Delivered::Forward {
                        document,
                        id,
                        event_type,
                    },
                    settings,
                )) => match &settings.forward {
                    Some(forward) => Outcome::Forward(Forward {
                        url: forward.url(),
                        content_type: Answer::Event(String::new()).content_type().to_owned(),
                        timeout_ms: millis(forward.timeout),
                        document,
                        id,
                        event_type,
                    }),
                    None => Outcome::Respond(response(&Answer::Event(document))),
                },
            }
        })
    }

    fn forwarded(downstream: Result<u16, String>, id: String, event_type: String) -> Response {
        response(&shell::forwarded(downstream, id, event_type))
    }

    fn unread(timed_out: bool, env: Env) -> Response {
        with_settings(env, |settings| {
            response(&match (timed_out, settings) {
                (true, Ok(settings)) => Answer::BodyTimeout {
                    seconds: settings.read_timeout.as_secs(),
                },
                (true, Err(e)) => config_refusal(e),
                (false, _) => Answer::BodyUnreadable,
            })
        })
    }

    fn failed(problem: String) -> Response {
        response(&Answer::Refused {
            class: ErrorClass::Internal,
            reason: "trap",
            message: problem,
        })
    }
}

/// `shell::head` over the WIT arguments: the body limit to read up to, or
/// the answer.
fn admit(
    method: &str,
    target: &str,
    headers: &[(String, String)],
    settings: Result<&Settings, &ConfigError>,
) -> Result<usize, Answer> {
    // A method that is not a token takes no route: any method no route
    // takes gives the same 404 or 405 answer (as in the gateway).
    let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::PATCH);
    let bytes = headers.iter().map(|(n, v)| n.len() + v.len()).sum();
    let declared = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .map(|(_, value)| value.as_bytes());
    match shell::head(
        Routes::GATEWAY,
        settings,
        &method,
        target,
        headers.len(),
        bytes,
        declared,
    ) {
        shell::Head::ReadBody { limit, .. } => Ok(limit),
        shell::Head::Answer(answer) => Err(answer),
    }
}

/// The vendor a webhook target names (`head` has admitted it).
fn vendor_of(target: &str) -> Option<&str> {
    match Routes::GATEWAY.route(&Method::POST, target) {
        Ok(switchboard_http::Route::Webhook { vendor }) => vendor,
        _ => None,
    }
}

fn millis(duration: std::time::Duration) -> u32 {
    u32::try_from(duration.as_millis()).unwrap_or(u32::MAX)
}

fn config_refusal(error: &ConfigError) -> Answer {
    Answer::from(&switchboard_core::Error::Config(error.clone()))
}

/// A header value as a JavaScript runtime gives it, a ByteString (one
/// character per byte received), as the core reads it
/// ([`header_text`]: the bytes as UTF-8, lossily). A value with a character
/// past U+00FF is not a ByteString and is taken as the text it is.
fn byte_string(value: &str) -> String {
    if value.is_ascii() {
        return value.to_owned();
    }
    let bytes: Option<Vec<u8>> = value.chars().map(|c| u8::try_from(c).ok()).collect();
    match bytes {
        Some(bytes) => header_text(&bytes),
        None => value.to_owned(),
    }
}

/// The answer as the WIT response; `connection` is the runtime's.
fn response(answer: &Answer) -> Response {
    Response {
        status: answer.status().as_u16(),
        headers: answer
            .headers()
            .into_iter()
            .filter(|(name, _)| *name != CONNECTION)
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: answer.body(),
    }
}
