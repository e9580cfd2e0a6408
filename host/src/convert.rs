//! Conversions between the core's types and the WIT types the host passes.

use serde_json::{Map, Value, json};
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

/// The configuration as the JSON document the component's `config-json`
/// parameters take (`process-json`, `process-body`): the same document the
/// CLI reads, which reads back as an equal [`core::Config`]. It holds the
/// secrets: it is for the component, never for a log.
pub fn config_json(config: &core::Config) -> String {
    let vendors: Map<String, Value> = config
        .vendors
        .iter()
        .map(|(vendor, settings)| {
            let secrets: Vec<&str> = settings.secrets.iter().map(core::Secret::expose).collect();
            let settings = json!({"secrets": secrets, "scheme": scheme_json(&settings.scheme)});
            (vendor.clone(), settings)
        })
        .collect();
    json!({
        "vendors": vendors,
        "tolerance_seconds": config.tolerance_seconds,
        "body_limit": config.body_limit,
        "include_raw": config.include_raw,
    })
    .to_string()
}

/// A scheme as the configuration document names it: a name, or a table
/// with its `type` and options.
fn scheme_json(scheme: &core::Scheme) -> Value {
    match scheme {
        core::Scheme::HmacSha256(o) => {
            let mut table = json!({
                "type": "hmac-sha256",
                "header": o.header,
                "encoding": match o.encoding {
                    core::config::DigestEncoding::Hex => "hex",
                    core::config::DigestEncoding::Base64 => "base64",
                },
            });
            if let Some(prefix) = &o.prefix {
                table["prefix"] = json!(prefix);
            }
            if let Some(header) = &o.timestamp_header {
                table["timestamp_header"] = json!(header);
            }
            table
        }
        core::Scheme::SharedSecret(scheme) => {
            json!({"type": "shared-secret", "header": scheme.header})
        }
        core::Scheme::VendorDefault | core::Scheme::StandardWebhooks | core::Scheme::None => {
            json!(scheme.name())
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every fixture's configuration, and one with every scheme's options,
    /// read back from [`config_json`] as the configuration it was written
    /// from.
    #[test]
    fn the_config_document_reads_back_as_the_config() {
        let every_option = r#"{"vendors": {
            "varda": {"secrets": ["a", "b"], "scheme": {"type": "hmac-sha256", "header": "X-Sig", "encoding": "base64", "prefix": "sha256=", "timestamp_header": "X-Ts"}},
            "atoms": {"secrets": ["t"], "scheme": {"type": "shared-secret", "header": "X-Token"}},
            "openphone": {"secrets": ["bG9hZA=="], "scheme": {"type": "hmac-sha256", "header": "X-Sig"}},
            "opencx": {"scheme": "none"}
        }, "tolerance_seconds": 60, "body_limit": 1000, "include_raw": false}"#;
        let mut documents = vec![every_option.to_owned()];
        documents.extend(
            switchboard_fixtures::all()
                .iter()
                .map(|fixture| fixture.config_json()),
        );
        let mut read = 0;
        for document in documents {
            let Ok(config) = core::Config::from_json(&document) else {
                continue; // a fixture of a configuration that cannot be used
            };
            let written = config_json(&config);
            assert_eq!(
                core::Config::from_json(&written).ok(),
                Some(config),
                "{written}"
            );
            read += 1;
        }
        assert!(read > 1, "only {read} configurations read");
    }
}
