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
pub mod json;
pub mod json_api;
pub mod request;
pub mod schemes;
pub mod time;
pub mod vendors;

use std::borrow::Cow;
use std::sync::OnceLock;

pub use config::{Config, ConfigError, Scheme, Secret, VendorConfig};
pub use error::{Error, ErrorClass};
pub use event::{Event, EventType};
pub use json_api::process_json;
pub use request::Request;
pub use schemes::{SignInput, SignatureScheme, VerifyError};
pub use vendors::{FAMILIES, Family};

use schemes::{KeyForm, Keys};

/// Verifies and normalizes one delivery.
///
/// `vendor` names the family, or is `None` to detect it. `now` is the current
/// time in unix seconds, against which signed timestamps are checked. The
/// order is fixed: the size limit, the vendor, the signature over the raw
/// bytes, and only then the JSON (the body is parsed once, before the
/// signature only when detection has to read it).
///
/// The event's `id` is the payload's own event id; else the Standard Webhooks
/// `webhook-id` that verified it; else `sha256:` and the hex SHA-256 of the
/// vendor name, a newline and the raw body, so a redelivery of the same bytes
/// keeps its id. Its `time` is the vendor's occurrence time, else the signed
/// timestamp. Its `data` borrows text from the body.
///
/// The configuration is used as it is: hosts validate it when they load it
/// ([`Config::validate`]), and a secret the scheme cannot use is reported
/// here as [`Error::Config`]. [`Processor`] validates once and decodes every
/// key once, for hosts that process many deliveries with one configuration.
pub fn process<'a>(
    request: &Request<'a>,
    vendor: Option<&str>,
    config: &Config,
    now: i64,
) -> Result<Event<'a>, Error> {
    process_with(FAMILIES, request, vendor, config, now)
}

/// [`process`] with `families` in place of [`FAMILIES`]: how a family
/// defined outside this crate plugs in (`crates/core/tests/fifth_family.rs`).
pub fn process_with<'a>(
    families: &[&dyn Family],
    request: &Request<'a>,
    vendor: Option<&str>,
    config: &Config,
    now: i64,
) -> Result<Event<'a>, Error> {
    run(families, request, vendor, config, None, now)
}

/// A configuration validated once, with every secret decoded into its key
/// once: what a host that processes many deliveries with one configuration
/// holds (the component's `configured` resource is one).
pub struct Processor<'f> {
    families: &'f [&'f dyn Family],
    config: Config,
    /// Per enabled vendor (in the configuration's order), its keys in each
    /// form its schemes read them, made when a delivery first needs them
    /// (an instance that lives for one delivery makes one vendor's).
    keys: Vec<PreparedKeys>,
}

/// One vendor's keys, decoded in each form its schemes use.
#[derive(Debug, Default)]
struct PreparedKeys {
    utf8: OnceLock<Option<Keys>>,
    base64: OnceLock<Option<Keys>>,
}

impl std::fmt::Debug for Processor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Processor")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Processor<'static> {
    /// Validates `config` ([`Config::validate`]) and decodes its keys.
    pub fn new(config: Config) -> Result<Processor<'static>, ConfigError> {
        Processor::with_families(FAMILIES, config)
    }
}

impl<'f> Processor<'f> {
    /// [`Processor::new`] with `families` in place of [`FAMILIES`].
    pub fn with_families(
        families: &'f [&'f dyn Family],
        config: Config,
    ) -> Result<Processor<'f>, ConfigError> {
        config.validate_with(families)?;
        let keys = config
            .vendors
            .keys()
            .map(|_| PreparedKeys::default())
            .collect();
        Ok(Processor {
            families,
            config,
            keys,
        })
    }

    /// Reads the JSON form of the configuration ([`Config::from_json`]),
    /// validating it once.
    pub fn from_json(text: &str) -> Result<Processor<'static>, ConfigError> {
        Processor::new(Config::read_json(text)?)
    }

    /// The configuration it was made from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// [`process`] with this configuration.
    pub fn process<'a>(
        &self,
        request: &Request<'a>,
        vendor: Option<&str>,
        now: i64,
    ) -> Result<Event<'a>, Error> {
        run(
            self.families,
            request,
            vendor,
            &self.config,
            Some(self),
            now,
        )
    }

    /// The keys `scheme` verifies `vendor`'s deliveries with, made once.
    fn keys(&self, vendor: &str, scheme: &dyn SignatureScheme) -> Option<&Keys> {
        let index = self.config.vendors.keys().position(|name| name == vendor)?;
        let prepared = self.keys.get(index)?;
        let slot = match scheme.key_form() {
            KeyForm::Utf8 => &prepared.utf8,
            KeyForm::Base64 => &prepared.base64,
        };
        slot.get_or_init(|| {
            let secrets = &self.config.vendors.get(vendor)?.secrets;
            // Validated when the processor was made: this cannot fail.
            Keys::new(vendor, scheme.name(), secrets, scheme.key_form()).ok()
        })
        .as_ref()
    }
}

/// The process path shared by [`process`] and [`Processor::process`]: keys
/// come from `prepared` when it has them, else are decoded here.
fn run<'a>(
    families: &[&dyn Family],
    request: &Request<'a>,
    vendor: Option<&str>,
    config: &Config,
    prepared: Option<&Processor<'_>>,
    now: i64,
) -> Result<Event<'a>, Error> {
    let body = request.body();
    if body.len() > config.body_limit {
        return Err(Error::TooLarge {
            size: body.len(),
            limit: config.body_limit,
        });
    }
    let (family, parsed) = match vendor {
        Some(name) => (
            vendors::family_in(families, name)
                .ok_or_else(|| Error::NoSuchVendor(name.to_owned()))?,
            None,
        ),
        None => vendors::detect_parsed(families, request).ok_or(Error::VendorNotDetected)?,
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
    let keys = match prepared.and_then(|p| p.keys(name, scheme)) {
        Some(keys) => Cow::Borrowed(keys),
        None => Cow::Owned(Keys::new(
            name,
            scheme.name(),
            &settings.secrets,
            scheme.key_form(),
        )?),
    };
    let verified =
        schemes::verify_keys(name, scheme, &keys, request, now, config.tolerance_seconds)?;

    let parsed = match parsed {
        Some(parsed) => parsed,
        None => json::parse_body(body).map_err(|e| Error::NotJson(e.to_string()))?,
    };
    let json::Value::Object(payload) = &parsed.value else {
        return Err(Error::NotObject(parsed.value.type_name()));
    };
    let normalized = family.normalize(payload)?;
    let mut data = normalized.data;
    if config.include_raw {
        data.raw = Some(event::Raw::parsed(
            Cow::Borrowed(parsed.text),
            parsed.breaks_lines,
        ));
    }
    let id = normalized
        .id
        .map(Cow::into_owned)
        .or(verified.webhook_id)
        .unwrap_or_else(|| body_digest(name, body));
    let scope = normalized.scope.as_deref();
    let mut source = String::with_capacity(2 + name.len() + scope.map_or(0, str::len));
    source.push('/');
    source.push_str(name);
    if let Some(scope) = scope {
        source.push('/');
        source.push_str(scope);
    }
    Ok(Event {
        specversion: "1.0",
        id,
        source,
        event_type: normalized.event_type,
        subject: normalized.subject.map(Cow::into_owned),
        time: normalized
            .time
            .or_else(|| verified.signed_at.and_then(time::SignedTime::to_rfc3339)),
        datacontenttype: "application/json",
        vendor: name,
        vendorevent: normalized.vendor_event.into_owned(),
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
    let parsed = json::parse_bytes(input.body).ok();
    let mut headers = family.delivery_headers(parsed.as_ref().and_then(json::Value::as_object));
    headers.extend(schemes::sign(vendor, scheme, secret, input)?);
    Ok(headers)
}

/// The deterministic id of a delivery that carries none.
fn body_digest(vendor: &str, body: &[u8]) -> String {
    let digest = schemes::sha256(&[vendor.as_bytes(), b"\n", body]);
    let mut id = String::with_capacity(7 + 64);
    id.push_str("sha256:");
    id.push_str(&schemes::hex(&digest));
    id
}
