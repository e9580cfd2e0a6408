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

use bindings::exports::switchboard::webhooks::processor::Guest;
use bindings::exports::switchboard::webhooks::types::{
    Config, DigestEncoding, Error, Event, Request, Scheme,
};
use switchboard_core as core;

struct Component;

bindings::export!(Component with_types_in bindings);

impl Guest for Component {
    fn process(
        request: Request,
        vendor: Option<String>,
        config: Config,
        now: i64,
    ) -> Result<Event, Error> {
        let config = core_config(config);
        config
            .validate()
            .map_err(|e| wit_error(core::Error::Config(e)))?;
        core::process(&core_request(&request), vendor.as_deref(), &config, now)
            .map(wit_event)
            .map_err(wit_error)
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
        core::process_json(&request_json, &vendor, &config_json, now)
    }
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
    core::Config {
        vendors: config
            .vendors
            .into_iter()
            .map(|v| {
                let settings = core::VendorConfig {
                    secrets: v.secrets.into_iter().map(core::Secret::new).collect(),
                    scheme: core_scheme(v.scheme),
                };
                (v.vendor, settings)
            })
            .collect(),
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
    let message = error.to_string();
    match error.class() {
        core::ErrorClass::Unauthenticated => Error::Unauthenticated(message),
        core::ErrorClass::Malformed => Error::Malformed(message),
        core::ErrorClass::UnknownVendor => Error::UnknownVendor(message),
        core::ErrorClass::TooLarge => Error::TooLarge(message),
        core::ErrorClass::Internal => Error::Internal(message),
        core::ErrorClass::Config => Error::InvalidConfig(message),
    }
}
