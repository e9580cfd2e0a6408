//! switchboard's core: verify, parse and normalize customer-communication
//! webhooks into CloudEvents 1.0 events. Pure Rust, no I/O, no clock: the
//! current time is always an argument.
//!
//! ```
//! use switchboard_core::{Config, Request, process};
//!
//! let body = br#"{"event":"call.ended","timestamp":"2026-03-25T18:35:00Z","data":{"id":42}}"#;
//! let signature = "t=1711411200,v1=85afa0623ef8797b3f36226284f6bf92856b4ea0ad2033defc1b2dae74999725";
//! let request = Request::new([("X-Varda-Signature", signature)], body);
//! let config = Config::from_json(r#"{"vendors": {"varda": {"secrets": ["test_secret"]}}}"#)?;
//!
//! let event = process(&request, None, &config, 1711411200)?;
//! assert_eq!(event.event_type.as_str(), "call.ended");
//! assert_eq!(event.subject.as_deref(), Some("42"));
//! assert_eq!(event.verification, "varda");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Layout: [`schemes`] holds one module per signature scheme, [`vendors`]
//! one module per vendor family; [`event`] is the normalized model and
//! [`fields`] the normalization rules they share.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod config;
pub mod error;
pub mod event;
pub mod fields;
pub mod json_api;
pub mod request;
pub mod schemes;
pub mod time;
pub mod vendors;

use serde_json::Value;

pub use config::{Config, ConfigError, Scheme, Secret, VendorConfig};
pub use error::{Error, ErrorClass};
pub use event::{Event, EventType};
pub use json_api::process_json;
pub use request::Request;
pub use schemes::{SignInput, SignatureScheme, VerifyError};
pub use vendors::{FAMILIES, Family};

/// Verifies and normalizes one delivery.
///
/// `vendor` names the family, or is `None` to detect it. `now` is the current
/// time in unix seconds, against which signed timestamps are checked. The
/// order is fixed: the size limit, the vendor, the signature over the raw
/// bytes, and only then the JSON.
///
/// The event's `id` is the payload's own event id; else the Standard Webhooks
/// `webhook-id` that verified it; else `sha256:` and the hex SHA-256 of the
/// vendor name, a newline and the raw body, so a redelivery of the same bytes
/// keeps its id. Its `time` is the vendor's occurrence time, else the signed
/// timestamp.
pub fn process(
    request: &Request<'_>,
    vendor: Option<&str>,
    config: &Config,
    now: i64,
) -> Result<Event, Error> {
    process_with(FAMILIES, request, vendor, config, now)
}

/// [`process`] with `families` in place of [`FAMILIES`]: how a family
/// defined outside this crate plugs in (`crates/core/tests/fifth_family.rs`).
pub fn process_with(
    families: &[&dyn Family],
    request: &Request<'_>,
    vendor: Option<&str>,
    config: &Config,
    now: i64,
) -> Result<Event, Error> {
    let body = request.body();
    if body.len() > config.body_limit {
        return Err(Error::TooLarge {
            size: body.len(),
            limit: config.body_limit,
        });
    }
    let family = match vendor {
        Some(name) => vendors::family_in(families, name)
            .ok_or_else(|| Error::NoSuchVendor(name.to_owned()))?,
        None => vendors::detect_in(families, request).ok_or(Error::VendorNotDetected)?,
    };
    let name = family.name();
    let settings = config
        .vendors
        .get(name)
        .ok_or_else(|| Error::VendorNotEnabled(name.to_owned()))?;
    let scheme = settings
        .scheme
        .configured()
        .or_else(|| family.default_scheme(request))
        .ok_or_else(|| VerifyError::NoScheme(name.to_owned()))?;
    let verified = schemes::verify(
        name,
        scheme,
        &settings.secrets,
        request,
        now,
        config.tolerance_seconds,
    )?;

    let payload = parse_object(body)?;
    let normalized = family.normalize(&payload)?;
    let mut data = normalized.data;
    if config.include_raw {
        data.raw = Some(Value::Object(payload));
    }
    let id = normalized
        .id
        .or(verified.webhook_id)
        .unwrap_or_else(|| body_digest(name, body));
    let source = match normalized.scope {
        Some(scope) => format!("/{name}/{scope}"),
        None => format!("/{name}"),
    };
    Ok(Event {
        specversion: "1.0",
        id,
        source,
        event_type: normalized.event_type,
        subject: normalized.subject,
        time: normalized
            .time
            .or_else(|| verified.signed_at.and_then(time::SignedTime::to_rfc3339)),
        datacontenttype: "application/json",
        vendor: name,
        vendorevent: normalized.vendor_event,
        verification: scheme.name(),
        data,
    })
}

/// The vendor family a request belongs to, from its headers and, where they
/// do not tell, its body's shape. Nothing is verified.
pub fn detect(request: &Request<'_>) -> Option<&'static str> {
    vendors::detect(request).map(|family| family.name())
}

/// The headers `vendor` would send for `input`, signed with `secret` under
/// `scheme` (the vendor's own when `VendorDefault`). For tests and tooling:
/// `switchboard sign` prints these.
pub fn sign(
    vendor: &str,
    scheme: &Scheme,
    secret: &Secret,
    input: SignInput<'_>,
) -> Result<Vec<(String, String)>, Error> {
    let family = vendors::family(vendor).ok_or_else(|| Error::NoSuchVendor(vendor.to_owned()))?;
    let request = Request::new([], input.body);
    let scheme = scheme
        .configured()
        .or_else(|| family.default_scheme(&request))
        .ok_or_else(|| VerifyError::NoScheme(vendor.to_owned()))?;
    let payload: Option<fields::Object> = serde_json::from_slice(input.body).ok();
    let mut headers = family.delivery_headers(payload.as_ref());
    headers.extend(schemes::sign(vendor, scheme, secret, input)?);
    Ok(headers)
}

/// The deterministic id of a delivery that carries none.
fn body_digest(vendor: &str, body: &[u8]) -> String {
    let digest = schemes::sha256(&[vendor.as_bytes(), b"\n", body]);
    format!("sha256:{}", schemes::hex(&digest))
}

/// The body as a JSON object, or why it is not one.
fn parse_object(body: &[u8]) -> Result<fields::Object, Error> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(Error::NotObject(match other {
            Value::Array(_) => "array",
            Value::String(_) => "string",
            Value::Number(_) => "number",
            Value::Bool(_) => "boolean",
            _ => "null",
        })),
        Err(e) => Err(Error::NotJson(e.to_string())),
    }
}
