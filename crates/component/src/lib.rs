//! The processor component: WIT types in, `switchboard-core` in the middle,
//! WIT types out. Nothing else lives here.

// The generated bindings and `export!` are the only unsafe code here: the
// canonical ABI glue that wit-bindgen writes. This file itself has none.
#![allow(unsafe_code)]

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "switchboard",
    });
}

use std::cell::RefCell;

use bindings::exports::switchboard::webhooks::processor::Guest;
use bindings::exports::switchboard::webhooks::types::{
    Config, DigestEncoding, Error, ErrorClass, Event, Request, Scheme,
};
use switchboard_core as core;

mod heap;

#[global_allocator]
static HEAP: heap::Heap = heap::heap();

struct Component;

bindings::export!(Component with_types_in bindings);

thread_local! {
    /// The configuration the last `process` call was given, prepared
    /// (validated, every secret decoded into its key): a reused instance
    /// does that once while every call passes an equal configuration.
    static LAST_CONFIG: RefCell<Option<core::Processor<'static>>> = const { RefCell::new(None) };

    /// The same for the functions that take `config-json`, by its text.
    static LAST_CONFIG_JSON: RefCell<Option<(String, core::Processor<'static>)>> =
        const { RefCell::new(None) };
}

impl Guest for Component {
    fn process(
        request: Request,
        vendor: Option<String>,
        config: Config,
        now: i64,
    ) -> Result<Event, Error> {
        let config = core_config(config);
        LAST_CONFIG.with_borrow_mut(|last| {
            let processor = match last.take() {
                Some(processor) if *processor.config() == config => processor,
                _ => core::Processor::new(config).map_err(|e| wit_error(e.into()))?,
            };
            let outcome = processor
                .process(&core_request(&request), vendor.as_deref(), now)
                .map(wit_event)
                .map_err(wit_error);
            *last = Some(processor);
            outcome
        })
    }

    fn detect(request: Request) -> Option<String> {
        core::detect(&core_request(&request)).map(str::to_owned)
    }

    fn check_config_json(config_json: String) -> Result<(), String> {
        core::Config::from_json(&config_json)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn process_json(request_json: String, vendor: String, config_json: String, now: i64) -> String {
        with_config_json(config_json, |processor| {
            core::json_api::process_json_with(processor, &request_json, &vendor, now)
        })
    }

    fn process_body(
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        vendor: Option<String>,
        config_json: String,
        now: i64,
    ) -> Result<String, Error> {
        process_pairs(&headers, &body, vendor.as_deref(), config_json, now)
    }

    fn process_text(
        headers: Vec<(String, String)>,
        body: String,
        vendor: Option<String>,
        config_json: String,
        now: i64,
    ) -> Result<String, Error> {
        process_pairs(
            &headers,
            body.as_bytes(),
            vendor.as_deref(),
            config_json,
            now,
        )
    }

    fn sign(
        vendor: String,
        config_json: String,
        secret: String,
        body: Vec<u8>,
        timestamp: i64,
        id: String,
    ) -> Result<Vec<(String, String)>, Error> {
        let config =
            core::Config::from_json(&config_json).map_err(|e| wit_error(core::Error::Config(e)))?;
        let default = core::Scheme::VendorDefault;
        let scheme = config
            .vendors
            .get(&vendor)
            .map_or(&default, |settings| &settings.scheme);
        let input = core::SignInput {
            body: &body,
            timestamp,
            id: &id,
        };
        core::sign(&vendor, scheme, &core::Secret::new(secret), input).map_err(wit_error)
    }
}

/// `process-body` and `process-text`: the event's document, or the error.
fn process_pairs(
    headers: &[(String, String)],
    body: &[u8],
    vendor: Option<&str>,
    config_json: String,
    now: i64,
) -> Result<String, Error> {
    with_config_json(config_json, |processor| {
        let processor = processor.map_err(|e| wit_error(core::Error::Config(e.clone())))?;
        let headers = headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
        processor
            .process(&core::Request::new(headers, body), vendor, now)
            .map(|event| event.to_json())
            .map_err(wit_error)
    })
}

/// Runs `f` with the configuration `config_json` prepared, or why it cannot
/// be: the last one, when the text is the same, else read and validated now
/// (and kept when it can be used).
fn with_config_json<R>(
    config_json: String,
    f: impl FnOnce(Result<&core::Processor<'static>, &core::ConfigError>) -> R,
) -> R {
    LAST_CONFIG_JSON.with_borrow_mut(|last| {
        let processor = match last.take() {
            Some((text, processor)) if same_text(&text, &config_json) => Ok(processor),
            _ => core::Processor::from_json(&config_json),
        };
        let outcome = f(processor.as_ref());
        *last = processor.ok().map(|processor| (config_json, processor));
        outcome
    })
}

/// `a == b`, eight bytes at a time: the guest's `memcmp` compares one at a
/// time, and every `process-body` call compares its configuration's text
/// (a few hundred bytes) with the last one's.
fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let (a_words, b_words) = (a.chunks_exact(8), b.chunks_exact(8));
    let tails_equal = a_words.remainder() == b_words.remainder();
    let word = |chunk: &[u8]| u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
    tails_equal && a_words.zip(b_words).all(|(x, y)| word(x) == word(y))
}

fn core_request(request: &Request) -> core::Request<'_> {
    let headers = request
        .headers
        .iter()
        .map(|h| (h.name.as_str(), h.value.as_str()));
    core::Request::new(headers, &request.body)
}

fn core_config(config: Config) -> core::Config {
    let defaults = core::Config::default();
    // Inserted one by one (the last of a vendor named twice wins, as
    // collecting would have it) rather than collected, which would bring
    // in a sort.
    let mut vendors = std::collections::BTreeMap::new();
    for v in config.vendors {
        let settings = core::VendorConfig {
            secrets: v.secrets.into_iter().map(core::Secret::new).collect(),
            scheme: core_scheme(v.scheme),
        };
        vendors.insert(v.vendor, settings);
    }
    core::Config {
        vendors,
        tolerance_seconds: config
            .tolerance_seconds
            .map_or(defaults.tolerance_seconds, u64::from),
        body_limit: config
            .body_limit
            .map_or(defaults.body_limit, |l| l as usize),
        include_raw: config.include_raw.unwrap_or(defaults.include_raw),
    }
}

fn core_scheme(scheme: Scheme) -> core::Scheme {
    match scheme {
        Scheme::VendorDefault => core::Scheme::VendorDefault,
        Scheme::StandardWebhooks => core::Scheme::StandardWebhooks,
        Scheme::HmacSha256(o) => core::Scheme::HmacSha256(core::config::HmacOptions {
            header: o.header,
            encoding: match o.encoding {
                DigestEncoding::Hex => core::config::DigestEncoding::Hex,
                DigestEncoding::Base64 => core::config::DigestEncoding::Base64,
            },
            prefix: o.prefix,
            timestamp_header: o.timestamp_header,
        }),
        Scheme::SharedSecret(header) => {
            core::Scheme::SharedSecret(core::schemes::shared_secret::SharedSecret { header })
        }
        Scheme::None => core::Scheme::None,
    }
}

fn wit_event(event: core::Event<'_>) -> Event {
    Event {
        json: event.to_json(),
        id: event.id,
        source: event.source,
        type_: event.event_type.as_str().to_owned(),
        subject: event.subject,
        time: event.time,
        vendor: event.vendor.to_owned(),
        vendorevent: event.vendorevent,
        verification: event.verification.to_owned(),
    }
}

fn wit_error(error: core::Error) -> Error {
    Error {
        class: match error.class() {
            core::ErrorClass::Unauthenticated => ErrorClass::Unauthenticated,
            core::ErrorClass::Malformed => ErrorClass::Malformed,
            core::ErrorClass::UnknownVendor => ErrorClass::UnknownVendor,
            core::ErrorClass::TooLarge => ErrorClass::TooLarge,
            core::ErrorClass::Internal => ErrorClass::Internal,
            core::ErrorClass::Config => ErrorClass::InvalidConfig,
        },
        reason: error.reason().to_owned(),
        message: error.to_string(),
    }
}
