//! A shell configured by its environment, step by step: the wasi:http
//! gateway (`crates/gateway`, `wasi:cli/environment`) and the edge shells
//! (`crates/edge`: a Cloudflare Worker's bindings, `Deno.env`) read the same
//! variables with [`Settings::from_env`] and answer a request with the same
//! three steps, doing only the I/O between them:
//!
//! 1. [`head`]: the route, the header caps and the declared length, before
//!    any of the body is read; either the answer, or how much body to read.
//! 2. [`deliver`]: the body through switchboard-core; either the answer, or
//!    the event to forward.
//! 3. [`forwarded`]: what the downstream said, as the answer.
//!
//! ```
//! use switchboard_http::http::Method;
//! use switchboard_http::shell::{self, Head, Settings};
//! use switchboard_http::{Answer, Routes};
//!
//! let settings = Settings::from_env(&[("SWITCHBOARD_SECRET_VARDA", "s")]);
//! let head = shell::head(Routes::GATEWAY, settings.as_ref(), &Method::POST, "/webhooks/varda", 1, 20, Some(b"2"));
//! assert!(matches!(head, Head::ReadBody { vendor: Some("varda"), limit: 1048576 }));
//!
//! let bad = Settings::from_env(&[("SWITCHBOARD_BODY_LIMIT", "lots")]);
//! let Head::Answer(answer) = shell::head(Routes::GATEWAY, bad.as_ref(), &Method::GET, "/healthz", 0, 0, None) else { panic!() };
//! assert_eq!(answer.status(), 503);
//! assert!(answer.body().contains("SWITCHBOARD_BODY_LIMIT"));
//! ```

use std::time::Duration;

use http::Method;
use switchboard_core::{Config, ConfigError, Error, Processor, Request};

use crate::{
    Answer, Route, Routes, check_declared_length, check_header_caps, check_received_length, echoed,
};

/// Where accepted events are POSTed (absent: the event is the answer).
pub const FORWARD_URL: &str = "SWITCHBOARD_FORWARD_URL";
/// How long a client may take to send the body once its head arrived, in
/// whole seconds above 0 (default [`DEFAULT_TIMEOUT`]).
pub const READ_TIMEOUT: &str = "SWITCHBOARD_READ_TIMEOUT_SECONDS";
/// How long the downstream may take to answer, in whole seconds above 0
/// (default [`DEFAULT_TIMEOUT`]).
pub const FORWARD_TIMEOUT: &str = "SWITCHBOARD_FORWARD_TIMEOUT_SECONDS";
/// The default of both timeouts: 10 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a shell was configured with, read and validated once: the core's
/// configuration (`Config::apply_env` over every vendor family, narrowed by
/// `SWITCHBOARD_VENDORS`), where to forward, and the read timeout.
#[derive(Debug)]
pub struct Settings {
    /// The configuration, validated, its keys decoded once.
    pub processor: Processor<'static>,
    /// Where accepted events go, if anywhere.
    pub forward: Option<Forward>,
    /// How long the body may take to arrive.
    pub read_timeout: Duration,
}

impl Settings {
    /// Reads the `SWITCHBOARD_*` variables among `vars` (others are
    /// ignored; an unknown `SWITCHBOARD_*` name is refused, with the closest
    /// known one suggested). The error names the variable at fault, never a
    /// value.
    pub fn from_env<K: AsRef<str>, V: AsRef<str>>(
        vars: &[(K, V)],
    ) -> Result<Settings, ConfigError> {
        let mut config = Config::all_vendors();
        let own = [FORWARD_URL, READ_TIMEOUT, FORWARD_TIMEOUT];
        config.apply_env(vars.iter().map(|(k, v)| (k.as_ref(), v.as_ref())), &own)?;
        let processor = Processor::new(config)?;
        let get = |name: &str| {
            vars.iter()
                .find(|(k, _)| k.as_ref() == name)
                .map(|(_, v)| v.as_ref())
        };
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
            processor,
            forward,
            read_timeout: seconds(READ_TIMEOUT)?,
        })
    }

    /// The core's configuration.
    pub fn config(&self) -> &Config {
        self.processor.config()
    }
}

/// Where accepted events are POSTed: `http://host[:port][/path]` or
/// `https://…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// `https` (else `http`).
    pub https: bool,
    /// `host[:port]`.
    pub authority: String,
    /// The path and query (`/` when the URL has none).
    pub path: String,
    /// How long the downstream may take to connect, to send its first byte
    /// and between bytes; and, in all, to answer.
    pub timeout: Duration,
}

impl Forward {
    /// Reads [`FORWARD_URL`]'s value.
    pub fn parse(url: &str, timeout: Duration) -> Result<Forward, ConfigError> {
        let invalid = |problem: &str| ConfigError::new(FORWARD_URL, problem);
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid("is not an http:// or https:// URL"))?;
        let https = match scheme {
            "http" => false,
            "https" => true,
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
            https,
            authority: authority.to_owned(),
            path: path.to_owned(),
            timeout,
        })
    }

    /// The whole URL.
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority, self.path)
    }
}

/// What to do after the request's head.
#[derive(Debug, PartialEq, Eq)]
pub enum Head<'a> {
    /// Answer this, without reading the body.
    Answer(Answer),
    /// A delivery: read at most `limit` bytes of body (one more tells
    /// [`deliver`] it is over), then [`deliver`] it.
    ReadBody {
        /// The vendor the path names, or `None` to detect it.
        vendor: Option<&'a str>,
        /// The configured body limit.
        limit: usize,
    },
}

/// Step 1: where `method` on `target` goes under `routes`, the header caps
/// (`header_count` fields of `header_bytes` bytes) and the declared
/// `content_length`. A configuration that cannot be used answers `GET
/// /healthz` and every delivery `503 invalid-config`, naming the key.
pub fn head<'a>(
    routes: Routes,
    settings: Result<&Settings, &ConfigError>,
    method: &Method,
    target: &'a str,
    header_count: usize,
    header_bytes: usize,
    content_length: Option<&[u8]>,
) -> Head<'a> {
    let refused = |e: &ConfigError| Head::Answer(Answer::from(&Error::Config(e.clone())));
    match routes.route(method, target) {
        Ok(Route::Webhook { vendor }) => {
            let settings = match settings {
                Ok(settings) => settings,
                Err(e) => return refused(e),
            };
            let limit = settings.config().body_limit;
            let checked = check_header_caps(header_count, header_bytes)
                .and_then(|()| check_declared_length(content_length, limit));
            match checked {
                Ok(_) => Head::ReadBody { vendor, limit },
                Err(answer) => Head::Answer(answer),
            }
        }
        Ok(Route::Health) => match settings {
            Ok(_) => Head::Answer(Answer::Healthy),
            Err(e) => refused(e),
        },
        // A shell configured by its environment serves neither metrics nor
        // the admin route; a `Routes` that names them still gets a 404.
        Ok(Route::Metrics | Route::Replay { .. } | Route::Console(_)) => {
            Head::Answer(Answer::NotFound {
                method: method.clone(),
                path: echoed(target.split('?').next().unwrap_or_default()),
            })
        }
        Err(answer) => Head::Answer(answer),
    }
}

/// What became of a delivery's body.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivered {
    /// Answer this: the event itself (no forwarding configured), or the
    /// refusal.
    Answer(Answer),
    /// POST `document` to [`Settings::forward`], then ask [`forwarded`].
    Forward {
        /// The CloudEvent, `application/cloudevents+json`.
        document: String,
        /// The event's `id`.
        id: String,
        /// The event's normalized `type`.
        event_type: String,
    },
}

/// Step 2: the body (at most one byte past the limit: that byte makes it
/// `413`) of a delivery [`head`] admitted, verified and normalized at `now`
/// (unix seconds). `headers` are the request's, as [`crate::header_text`]
/// reads them.
pub fn deliver(
    settings: &Settings,
    vendor: Option<&str>,
    headers: &[(String, String)],
    body: &[u8],
    now: i64,
) -> Delivered {
    if let Err(answer) = check_received_length(body.len(), settings.config().body_limit) {
        return Delivered::Answer(answer);
    }
    let pairs = headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
    let event = match settings
        .processor
        .process(&Request::new(pairs, body), vendor, now)
    {
        Ok(event) => event,
        Err(error) => return Delivered::Answer(Answer::from(&error)),
    };
    let document = event.to_json();
    match settings.forward {
        None => Delivered::Answer(Answer::Event(document)),
        Some(_) => Delivered::Forward {
            document,
            id: event.id,
            event_type: event.event_type.as_str().to_owned(),
        },
    }
}

/// Step 3: the downstream's status, or why it could not be had, as the
/// answer: `200 forwarded` only for a 2xx, else `502` (so the vendor
/// retries).
pub fn forwarded(downstream: Result<u16, String>, id: String, event_type: String) -> Answer {
    match downstream {
        Ok(status) if (200..300).contains(&status) => Answer::Forwarded { id, event_type },
        Ok(status) => Answer::BadGateway {
            message: format!("the downstream answered {status}"),
        },
        Err(e) => Answer::BadGateway {
            message: format!("the downstream could not be reached: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_env(vars)
    }

    #[test]
    fn every_variable_at_fault_is_named_and_no_value_shown() {
        let cases = [
            ("SWITCHBOARD_SECRET_VARDA", "hunter2,"),
            ("SWITCHBOARD_SECRET_VARDAA", "hunter2"),
            ("SWITCHBOARD_FORWARD_URL", "ftp://hunter2"),
            ("SWITCHBOARD_FORWARD_URL", "http://"),
            ("SWITCHBOARD_READ_TIMEOUT_SECONDS", "0"),
            ("SWITCHBOARD_SCHEME_OPENCX", "{\"type\": \"hunter2"),
        ];
        for (name, value) in cases {
            let error = settings(&[(name, value)]).unwrap_err();
            assert_eq!(error.key(), name, "{error}");
            assert!(!error.to_string().contains("hunter2"), "{error}");
        }
    }

    #[test]
    fn defaults_and_forwarding() {
        let plain = settings(&[("HOME", "/root")]).unwrap();
        assert_eq!(plain.forward, None);
        assert_eq!(plain.read_timeout, DEFAULT_TIMEOUT);
        let vars = [
            ("SWITCHBOARD_FORWARD_URL", "https://example.invalid:8443"),
            ("SWITCHBOARD_FORWARD_TIMEOUT_SECONDS", "3"),
        ];
        let forward = settings(&vars).unwrap().forward.unwrap();
        assert_eq!(forward.url(), "https://example.invalid:8443/");
        assert_eq!(forward.timeout, Duration::from_secs(3));
    }

    #[test]
    fn the_declared_length_and_a_byte_past_the_limit_are_413() {
        let settings = settings(&[("SWITCHBOARD_BODY_LIMIT", "4")]).unwrap();
        let head = head(
            Routes::GATEWAY,
            Ok(&settings),
            &Method::POST,
            "/webhooks",
            1,
            10,
            Some(b"5"),
        );
        let Head::Answer(answer) = head else {
            panic!("{head:?}")
        };
        assert_eq!(answer.status(), 413);
        let Delivered::Answer(answer) = deliver(&settings, None, &[], b"12345", 0) else {
            panic!()
        };
        assert_eq!(answer.status(), 413);
    }

    #[test]
    fn only_a_2xx_downstream_is_200() {
        let answer = |status| forwarded(status, "e".to_owned(), "t".to_owned()).status();
        assert_eq!(answer(Ok(202)), 200);
        assert_eq!(answer(Ok(500)), 502);
        assert_eq!(answer(Ok(301)), 502);
        assert_eq!(answer(Err("refused".to_owned())), 502);
    }
}
