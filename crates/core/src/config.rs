//! What the operator configures: enabled vendors, their secrets and schemes,
//! the replay tolerance, the body limit and whether events carry `raw`.
//!
//! The same document is read from JSON (the component's `process-json`, the
//! fixtures) and TOML (the CLI's configuration file):
//!
//! ```json
//! {
//!   "vendors": {
//!     "varda": { "secrets": ["current", "previous"] },
//!     "opencx": { "secrets": ["whsec_..."], "scheme": "standard-webhooks" }
//!   },
//!   "tolerance_seconds": 300,
//!   "body_limit": 1048576,
//!   "include_raw": true
//! }
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_json::Value;

/// The default replay window, in seconds.
pub const DEFAULT_TOLERANCE_SECONDS: u64 = 300;
/// The default body limit, in bytes (1 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The whole configuration of one processor.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The enabled vendor families, by name. A delivery for any other vendor
    /// is refused as `unknown-vendor`.
    #[serde(default)]
    pub vendors: BTreeMap<String, VendorConfig>,
    /// The replay window, applied both ways around `now`.
    #[serde(default = "default_tolerance")]
    pub tolerance_seconds: u64,
    /// The largest accepted body, in bytes.
    #[serde(default = "default_body_limit")]
    pub body_limit: usize,
    /// Whether events carry the vendor payload as `data.raw`.
    #[serde(default = "default_include_raw")]
    pub include_raw: bool,
}

fn default_tolerance() -> u64 {
    DEFAULT_TOLERANCE_SECONDS
}

fn default_body_limit() -> usize {
    DEFAULT_BODY_LIMIT
}

fn default_include_raw() -> bool {
    true
}

impl Default for Config {
    fn default() -> Self {
        Config {
            vendors: BTreeMap::new(),
            tolerance_seconds: DEFAULT_TOLERANCE_SECONDS,
            body_limit: DEFAULT_BODY_LIMIT,
            include_raw: true,
        }
    }
}

impl Config {
    /// Reads the JSON form of the configuration.
    pub fn from_json(text: &str) -> Result<Config, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Every vendor family enabled with its default scheme and no secret:
    /// where the CLI and the gateway start when no file says otherwise.
    pub fn all_vendors() -> Config {
        let mut config = Config::default();
        for family in crate::FAMILIES {
            config.vendor_mut(family.name());
        }
        config
    }

    /// Applies the `SWITCHBOARD_*` environment variables among `vars` on top
    /// of this configuration (the CLI, the receiver and the gateway read the
    /// same ones):
    ///
    /// - `SWITCHBOARD_VENDORS`: the enabled vendors, comma-separated (others
    ///   are disabled);
    /// - `SWITCHBOARD_SECRET_<VENDOR>`: its secrets, comma-separated,
    ///   replacing any configured;
    /// - `SWITCHBOARD_SCHEME_<VENDOR>`: its scheme, a name or a JSON table
    ///   (`{"type": "hmac-sha256", "header": "X-Signature"}`);
    /// - `SWITCHBOARD_TOLERANCE_SECONDS`, `SWITCHBOARD_BODY_LIMIT`,
    ///   `SWITCHBOARD_INCLUDE_RAW` (`true`/`false`).
    ///
    /// `<VENDOR>` is the family name in capitals. An error names the
    /// variable at fault, never its value.
    pub fn apply_env<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Result<(), String> {
        let vars: Vec<(K, V)> = vars.into_iter().collect();
        let get = |name: &str| {
            vars.iter()
                .find(|(k, _)| k.as_ref() == name)
                .map(|(_, v)| v.as_ref())
        };
        if let Some(list) = get("SWITCHBOARD_VENDORS") {
            let enabled: Vec<&str> = list
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .collect();
            self.vendors
                .retain(|name, _| enabled.contains(&name.as_str()));
            for vendor in enabled {
                self.vendor_mut(vendor);
            }
        }
        for family in crate::FAMILIES {
            let upper = family.name().to_ascii_uppercase();
            if let Some(secrets) = get(&format!("SWITCHBOARD_SECRET_{upper}")) {
                let secrets = secrets.split(',').map(str::trim).filter(|s| !s.is_empty());
                self.vendor_mut(family.name()).secrets = secrets.map(Secret::new).collect();
            }
            let variable = format!("SWITCHBOARD_SCHEME_{upper}");
            if let Some(scheme) = get(&variable) {
                let value = match scheme.trim_start().starts_with('{') {
                    true => serde_json::from_str(scheme).map_err(|e| format!("{variable}: {e}"))?,
                    false => Value::String(scheme.trim().to_owned()),
                };
                self.vendor_mut(family.name()).scheme =
                    Scheme::try_from(value).map_err(|e| format!("{variable}: {e}"))?;
            }
        }
        let number = |name: &str| -> Result<Option<u64>, String> {
            get(name)
                .map(|v| {
                    v.trim()
                        .parse()
                        .map_err(|_| format!("{name} is not a whole number"))
                })
                .transpose()
        };
        if let Some(tolerance) = number("SWITCHBOARD_TOLERANCE_SECONDS")? {
            self.tolerance_seconds = tolerance;
        }
        if let Some(limit) = number("SWITCHBOARD_BODY_LIMIT")? {
            self.body_limit = usize::try_from(limit)
                .map_err(|_| "SWITCHBOARD_BODY_LIMIT is too large".to_owned())?;
        }
        if let Some(raw) = get("SWITCHBOARD_INCLUDE_RAW") {
            self.include_raw = match raw.trim() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => return Err("SWITCHBOARD_INCLUDE_RAW is not true or false".to_owned()),
            };
        }
        Ok(())
    }

    /// Enables `vendor` (if it is not already) and returns its settings.
    pub fn vendor_mut(&mut self, vendor: &str) -> &mut VendorConfig {
        self.vendors.entry(vendor.to_owned()).or_default()
    }
}

/// The settings of one vendor family.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorConfig {
    /// The secrets to try, in order; any one that verifies passes.
    #[serde(default)]
    pub secrets: Vec<Secret>,
    /// How deliveries are verified.
    #[serde(default)]
    pub scheme: Scheme,
}

/// A signing secret. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret as configured (with any `whsec_` prefix).
    pub fn new(secret: impl Into<String>) -> Secret {
        Secret(secret.into())
    }

    /// The secret as configured. Only the schemes should need this.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// How a vendor's deliveries are verified.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Value")]
pub enum Scheme {
    /// The vendor's own scheme (see each vendor module). A vendor without
    /// one is refused until a scheme is configured.
    #[default]
    VendorDefault,
    /// Varda's `X-Varda-Signature: t=…,v1=…`: the varda family's default.
    /// A vendor's own scheme is chosen with `VendorDefault`, not by name.
    Varda,
    /// Smallest.ai Atoms' `X-Signature: <hex>` over the raw body: the atoms
    /// family's default, chosen with `VendorDefault`, not by name.
    Atoms,
    /// OpenPhone's legacy `openphone-signature: hmac;1;<ms>;<base64>`: the
    /// openphone family's default when the request carries no
    /// `webhook-signature`, chosen with `VendorDefault`, not by name.
    OpenPhone,
    /// Standard Webhooks (`webhook-id`, `webhook-timestamp`,
    /// `webhook-signature`).
    StandardWebhooks,
    /// A configurable HMAC-SHA256 header.
    HmacSha256(HmacOptions),
    /// A header that must equal the secret.
    SharedSecret {
        /// The header's name.
        header: String,
    },
    /// No verification, set explicitly by the operator.
    None,
}

/// Options of the generic `hmac-sha256` scheme.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HmacOptions {
    /// The header carrying the digest.
    pub header: String,
    /// How the digest is written.
    #[serde(default)]
    pub encoding: DigestEncoding,
    /// A prefix stripped from the header value first (`sha256=`).
    #[serde(default)]
    pub prefix: Option<String>,
    /// When set, the signed content is `"{timestamp}.{body}"` with the unix
    /// seconds timestamp read from this header, and the replay window
    /// applies.
    #[serde(default)]
    pub timestamp_header: Option<String>,
}

/// The text form of a digest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DigestEncoding {
    /// Hexadecimal, either case.
    #[default]
    Hex,
    /// Standard base64.
    Base64,
}

impl Scheme {
    /// The scheme's name, as written in configuration and in the events'
    /// `verification` attribute.
    pub fn name(&self) -> &'static str {
        match self {
            Scheme::VendorDefault => "vendor-default",
            Scheme::Varda => "varda",
            Scheme::Atoms => "atoms",
            Scheme::OpenPhone => "openphone",
            Scheme::StandardWebhooks => "standard-webhooks",
            Scheme::HmacSha256(_) => "hmac-sha256",
            Scheme::SharedSecret { .. } => "shared-secret",
            Scheme::None => "none",
        }
    }

    /// The scheme a bare name stands for. `hmac-sha256` and `shared-secret`
    /// need options, so they cannot be named alone.
    pub fn from_name(name: &str) -> Result<Scheme, String> {
        match name {
            "vendor-default" | "default" => Ok(Scheme::VendorDefault),
            "varda" => {
                Err("`varda` is the Varda family's own scheme: write `vendor-default`".to_owned())
            }
            "atoms" => {
                Err("`atoms` is the Atoms family's own scheme: write `vendor-default`".to_owned())
            }
            "openphone" => Err(
                "`openphone` is the OpenPhone family's own scheme: write `vendor-default`"
                    .to_owned(),
            ),
            "standard-webhooks" => Ok(Scheme::StandardWebhooks),
            "none" => Ok(Scheme::None),
            "hmac-sha256" | "shared-secret" => Err(format!(
                "scheme `{name}` needs options: write it as a table with `type = \"{name}\"` and `header`"
            )),
            other => Err(format!(
                "unknown scheme `{other}` (expected vendor-default, standard-webhooks, hmac-sha256, shared-secret or none)"
            )),
        }
    }
}

impl TryFrom<Value> for Scheme {
    type Error = String;

    fn try_from(value: Value) -> Result<Scheme, String> {
        let mut table = match value {
            Value::String(name) => return Scheme::from_name(&name),
            Value::Object(table) => table,
            _ => return Err("a scheme is a name or a table with a `type`".to_owned()),
        };
        let kind = match table.remove("type") {
            Some(Value::String(kind)) => kind,
            _ => return Err("a scheme table needs a string `type`".to_owned()),
        };
        let options = Value::Object(table);
        match kind.as_str() {
            "hmac-sha256" => serde_json::from_value(options)
                .map(Scheme::HmacSha256)
                .map_err(|e| format!("scheme `hmac-sha256`: {e}")),
            "shared-secret" => {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct SharedSecretOptions {
                    header: String,
                }
                serde_json::from_value::<SharedSecretOptions>(options)
                    .map(|o| Scheme::SharedSecret { header: o.header })
                    .map_err(|e| format!("scheme `shared-secret`: {e}"))
            }
            name => match options.as_object().map(|o| o.is_empty()) {
                Some(true) => Scheme::from_name(name),
                _ => Err(format!("scheme `{name}` takes no options")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply() {
        let config = Config::from_json(r#"{"vendors": {"varda": {"secrets": ["s"]}}}"#).unwrap();
        assert_eq!(config.tolerance_seconds, 300);
        assert_eq!(config.body_limit, 1024 * 1024);
        assert!(config.include_raw);
        assert_eq!(config.vendors["varda"].scheme, Scheme::VendorDefault);
    }

    #[test]
    fn schemes_are_names_or_tables() {
        let config = Config::from_json(
            r#"{"vendors": {
                "a": {"scheme": "standard-webhooks"},
                "b": {"scheme": {"type": "hmac-sha256", "header": "X-Sig", "encoding": "base64", "prefix": "sha256="}},
                "c": {"scheme": {"type": "shared-secret", "header": "X-Token"}},
                "d": {"scheme": {"type": "none"}}
            }}"#,
        )
        .unwrap();
        assert_eq!(config.vendors["a"].scheme, Scheme::StandardWebhooks);
        assert_eq!(
            config.vendors["b"].scheme,
            Scheme::HmacSha256(HmacOptions {
                header: "X-Sig".into(),
                encoding: DigestEncoding::Base64,
                prefix: Some("sha256=".into()),
                timestamp_header: None,
            })
        );
        assert_eq!(
            config.vendors["c"].scheme,
            Scheme::SharedSecret {
                header: "X-Token".into()
            }
        );
        assert_eq!(config.vendors["d"].scheme, Scheme::None);
    }

    #[test]
    fn bad_configuration_names_the_key() {
        let err = Config::from_json(r#"{"vendors": {"a": {"scheme": "hmac-sha1"}}}"#).unwrap_err();
        assert!(
            err.to_string().contains("unknown scheme `hmac-sha1`"),
            "{err}"
        );
        let err = Config::from_json(r#"{"tolerance": 3}"#).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `tolerance`"),
            "{err}"
        );
        let err = Config::from_json(r#"{"vendors": {"a": {"scheme": {"type": "hmac-sha256"}}}}"#)
            .unwrap_err();
        assert!(err.to_string().contains("missing field `header`"), "{err}");
    }

    #[test]
    fn the_environment_configures_everything() {
        let mut config = Config::all_vendors();
        let vars = [
            ("SWITCHBOARD_VENDORS", "varda, opencx"),
            ("SWITCHBOARD_SECRET_VARDA", "new, old"),
            (
                "SWITCHBOARD_SCHEME_OPENCX",
                r#"{"type": "shared-secret", "header": "X-Token"}"#,
            ),
            ("SWITCHBOARD_TOLERANCE_SECONDS", "60"),
            ("SWITCHBOARD_INCLUDE_RAW", "false"),
            ("UNRELATED", "x"),
        ];
        config.apply_env(vars).unwrap();
        assert_eq!(
            config.vendors.keys().collect::<Vec<_>>(),
            ["opencx", "varda"]
        );
        assert_eq!(
            config.vendors["varda"].secrets,
            [Secret::new("new"), Secret::new("old")]
        );
        assert_eq!(
            config.vendors["opencx"].scheme,
            Scheme::SharedSecret {
                header: "X-Token".into()
            }
        );
        assert_eq!((config.tolerance_seconds, config.include_raw), (60, false));
        let err = config
            .apply_env([("SWITCHBOARD_BODY_LIMIT", "lots")])
            .unwrap_err();
        assert_eq!(err, "SWITCHBOARD_BODY_LIMIT is not a whole number");
        let err = config
            .apply_env([("SWITCHBOARD_SCHEME_VARDA", "md5")])
            .unwrap_err();
        assert!(
            err.starts_with("SWITCHBOARD_SCHEME_VARDA: unknown scheme `md5`"),
            "{err}"
        );
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let config =
            Config::from_json(r#"{"vendors": {"varda": {"secrets": ["hunter2"]}}}"#).unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}
