//! Conversions between the core's types and the WIT types the host passes.

use switchboard_core::{self as core, ErrorClass};

use crate::wit;

impl From<&core::Config> for wit::Config {
    fn from(config: &core::Config) -> wit::Config {
        wit::Config {
            vendors: config
                .vendors
                .iter()
                .map(|(vendor, settings)| wit::VendorConfig {
                    vendor: vendor.clone(),
                    secrets: settings
                        .secrets
                        .iter()
                        .map(|s| s.expose().to_owned())
                        .collect(),
                    scheme: wit_scheme(&settings.scheme),
                })
                .collect(),
            tolerance_seconds: Some(u32::try_from(config.tolerance_seconds).unwrap_or(u32::MAX)),
            body_limit: Some(u32::try_from(config.body_limit).unwrap_or(u32::MAX)),
            include_raw: Some(config.include_raw),
        }
    }
}

fn wit_scheme(scheme: &core::Scheme) -> wit::Scheme {
    match scheme {
        core::Scheme::VendorDefault => wit::Scheme::VendorDefault,
        core::Scheme::StandardWebhooks => wit::Scheme::StandardWebhooks,
        core::Scheme::HmacSha256(o) => wit::Scheme::HmacSha256(wit::HmacOptions {
            header: o.header.clone(),
            encoding: match o.encoding {
                core::config::DigestEncoding::Hex => wit::DigestEncoding::Hex,
                core::config::DigestEncoding::Base64 => wit::DigestEncoding::Base64,
            },
            prefix: o.prefix.clone(),
            timestamp_header: o.timestamp_header.clone(),
        }),
        core::Scheme::SharedSecret(scheme) => wit::Scheme::SharedSecret(scheme.header.clone()),
        core::Scheme::None => wit::Scheme::None,
    }
}

impl wit::Request {
    /// A request from header pairs and the raw body.
    pub fn new<'a>(
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
        body: Vec<u8>,
    ) -> wit::Request {
        wit::Request {
            headers: headers
                .into_iter()
                .map(|(name, value)| wit::Header {
                    name: name.to_owned(),
                    value: value.to_owned(),
                })
                .collect(),
            body,
        }
    }
}

/// The host error for a refusal the component returned.
pub(crate) fn rejected(error: wit::Error) -> crate::Error {
    let class = match error.class {
        wit::ErrorClass::Unauthenticated => ErrorClass::Unauthenticated,
        wit::ErrorClass::Malformed => ErrorClass::Malformed,
        wit::ErrorClass::UnknownVendor => ErrorClass::UnknownVendor,
        wit::ErrorClass::TooLarge => ErrorClass::TooLarge,
        wit::ErrorClass::Internal => ErrorClass::Internal,
        wit::ErrorClass::InvalidConfig => ErrorClass::Config,
    };
    crate::Error::Rejected {
        class,
        reason: error.reason,
        message: error.message,
    }
}
