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

use crate::json::Value;

use crate::schemes::shared_secret::SharedSecret;
use crate::schemes::standard_webhooks::StandardWebhooks;
use crate::schemes::{SignatureScheme, Unverified};
use crate::vendors::Family;

/// The default replay window, in seconds.
pub const DEFAULT_TOLERANCE_SECONDS: u64 = 300;
/// The default body limit, in bytes (1 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The prefix of every environment variable switchboard reads.
pub const ENV_PREFIX: &str = "SWITCHBOARD_";

/// Every variable [`Config::apply_env`] reads, and the host's own.
fn known_variables(host_variables: &[&str]) -> Vec<String> {
    let mut known: Vec<String> = [
        "SWITCHBOARD_VENDORS",
        "SWITCHBOARD_TOLERANCE_SECONDS",
        "SWITCHBOARD_BODY_LIMIT",
        "SWITCHBOARD_INCLUDE_RAW",
    ]
    .into_iter()
    .chain(host_variables.iter().copied())
    .map(str::to_owned)
    .collect();
    for family in crate::FAMILIES {
        let upper = family.name().to_ascii_uppercase();
        known.push(format!("SWITCHBOARD_SECRET_{upper}"));
        known.push(format!("SWITCHBOARD_SCHEME_{upper}"));
    }
    known
}

/// The known name closest to `name`, if it is a likely misspelling (at most
/// two edits away).
pub(crate) fn did_you_mean<'k>(name: &str, known: &'k [String]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

/// Levenshtein distance over bytes (names are ASCII).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.as_bytes().iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The `SWITCHBOARD_*` variables of an environment, every name checked.
struct Env<'v> {
    vars: Vec<(&'v str, &'v str)>,
}

impl<'v> Env<'v> {
    /// Refuses any name that is neither [`Config::apply_env`]'s nor one of
    /// `host_variables`, suggesting the closest known one.
    fn new<K: AsRef<str>, V: AsRef<str>>(
        vars: &'v [(K, V)],
        host_variables: &[&str],
    ) -> Result<Env<'v>, ConfigError> {
        let known = known_variables(host_variables);
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
        if let Some((name, _)) = vars
            .iter()
            .find(|(name, _)| !known.iter().any(|k| k == name))
        {
            let hint = did_you_mean(name, &known)
                .map(|k| format!(" (did you mean {k}?)"))
                .unwrap_or_default();
            return Err(ConfigError::new(
                *name,
                format!("not a switchboard variable{hint}"),
            ));
        }
        Ok(Env { vars })
    }

    fn get(&self, name: &str) -> Option<&'v str> {
        self.vars.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    fn number(&self, name: &str) -> Result<Option<u64>, ConfigError> {
        self.get(name)
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| ConfigError::new(name, "is not a whole number"))
            })
            .transpose()
    }
}

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

/// Why a configuration cannot be used: the key at fault and what is wrong
/// with it. It never contains a configured value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct ConfigError {
    key: String,
    problem: String,
}

impl ConfigError {
    /// The error for `key` (`vendors.varda.secrets`, `SWITCHBOARD_VENDORS`).
    pub fn new(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            key: key.into(),
            problem: problem.into(),
        }
    }

    /// A document that does not parse, from its parser's message, with any
    /// string value the parser quoted removed: a value in the wrong place
    /// may be a secret (`secrets = "hunter2"`).
    pub fn unreadable(document: impl Into<String>, message: &str) -> ConfigError {
        ConfigError::new(document, redact_quoted(message))
    }

    /// The key at fault.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// `message` with the contents of every double-quoted string cut out
/// (`invalid type: string "hunter2"` becomes `invalid type: string "…"`).
fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find('"') {
        out.push_str(&rest[..=open]);
        let after = &rest[open + 1..];
        let mut escaped = false;
        let close = after.char_indices().find(|&(_, c)| {
            let end = c == '"' && !escaped;
            escaped = c == '\\' && !escaped;
            end
        });
        match close {
            Some((i, _)) => {
                out.push_str("…\"");
                rest = &after[i + 1..];
            }
            None => {
                out.push('…');
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

impl Config {
    /// Reads the JSON form of the configuration and [validates](Config::validate) it.
    pub fn from_json(text: &str) -> Result<Config, ConfigError> {
        let config = Config::read_json(text)?;
        config.validate()?;
        Ok(config)
    }

    /// [`Config::from_json`] before validation (for [`crate::Processor`],
    /// which validates).
    pub(crate) fn read_json(text: &str) -> Result<Config, ConfigError> {
        let unreadable =
            |e: &dyn fmt::Display| ConfigError::unreadable("configuration", &e.to_string());
        let document = crate::json::parse(text).map_err(|e| unreadable(&e))?;
        Config::deserialize(document).map_err(|e| unreadable(&e))
    }

    /// Checks everything that can be checked before a delivery arrives:
    /// every vendor is a known family, and every secret can be used by the
    /// scheme that will verify with it (none empty, none undecodable). Every
    /// host runs this when it loads a configuration.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_with(crate::FAMILIES)
    }

    /// [`Config::validate`] with `families` in place of
    /// [`FAMILIES`](crate::FAMILIES).
    pub fn validate_with(&self, families: &[&dyn Family]) -> Result<(), ConfigError> {
        self.vendors
            .keys()
            .try_for_each(|name| self.check_vendor(families, name))
    }

    /// [`Config::validate`] for one vendor.
    fn check_vendor(&self, families: &[&dyn Family], name: &str) -> Result<(), ConfigError> {
        let family = crate::vendors::family_in(families, name).ok_or_else(|| {
            ConfigError::new(
                format!("vendors.{name}"),
                crate::vendors::no_such_family(families, name),
            )
        })?;
        let Some(settings) = self.vendors.get(name) else {
            return Ok(());
        };
        let configured = settings.scheme.configured();
        let schemes: &[&dyn SignatureScheme] = match &configured {
            None => family.default_schemes(),
            Some(configured) => std::slice::from_ref(configured),
        };
        if schemes.is_empty() {
            // Nothing to verify with yet: secrets must still not be blank.
            crate::schemes::check_secrets(name, &Unverified, &settings.secrets)?;
        }
        schemes
            .iter()
            .try_for_each(|scheme| crate::schemes::check_secrets(name, *scheme, &settings.secrets))
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
    /// `<VENDOR>` is the family name in capitals. Any other `SWITCHBOARD_*`
    /// variable is refused (a misspelt one would otherwise be ignored
    /// silently), unless the host names it in `host_variables`; so is an
    /// empty secret, and a secret or scheme for a vendor the configuration
    /// does not enable. An error names the variable at fault, never its
    /// value. Run [`Config::validate`] once everything is applied.
    pub fn apply_env<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        vars: impl IntoIterator<Item = (K, V)>,
        host_variables: &[&str],
    ) -> Result<(), ConfigError> {
        let vars: Vec<(K, V)> = vars
            .into_iter()
            .filter(|(k, _)| k.as_ref().starts_with(ENV_PREFIX))
            .collect();
        let env = Env::new(&vars, host_variables)?;
        if let Some(list) = env.get("SWITCHBOARD_VENDORS") {
            self.enable_only(list)?;
        }
        for family in crate::FAMILIES {
            self.apply_vendor_env(&env, family.name())?;
        }
        self.apply_limits_env(&env)
    }

    /// `SWITCHBOARD_VENDORS`: enables the families listed, disables others.
    fn enable_only(&mut self, list: &str) -> Result<(), ConfigError> {
        let enabled: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect();
        if let Some(unknown) = enabled.iter().find(|v| crate::vendors::family(v).is_none()) {
            return Err(ConfigError::new(
                "SWITCHBOARD_VENDORS",
                crate::vendors::no_such_family(crate::FAMILIES, unknown),
            ));
        }
        self.vendors
            .retain(|name, _| enabled.contains(&name.as_str()));
        for vendor in enabled {
            self.vendor_mut(vendor);
        }
        Ok(())
    }

    /// `SWITCHBOARD_SCHEME_<VENDOR>`, then `SWITCHBOARD_SECRET_<VENDOR>`,
    /// whose secrets are checked against the scheme at once.
    fn apply_vendor_env(&mut self, env: &Env<'_>, vendor: &str) -> Result<(), ConfigError> {
        let upper = vendor.to_ascii_uppercase();
        let variable = format!("SWITCHBOARD_SCHEME_{upper}");
        if let Some(scheme) = env.get(&variable) {
            let value = match scheme.trim_start().starts_with('{') {
                true => crate::json::parse(scheme)
                    .map_err(|e| ConfigError::unreadable(&variable, &e.to_string()))?
                    .into_owned(),
                false => Value::String(scheme.trim().to_owned().into()),
            };
            let scheme = Scheme::try_from(value).map_err(|e| ConfigError::new(&variable, e))?;
            self.enabled(vendor, &variable)?.scheme = scheme;
        }
        let variable = format!("SWITCHBOARD_SECRET_{upper}");
        if let Some(secrets) = env.get(&variable) {
            self.enabled(vendor, &variable)?.secrets =
                secrets.split(',').map(|s| Secret::new(s.trim())).collect();
            self.check_vendor(crate::FAMILIES, vendor)
                .map_err(|e| ConfigError::new(&variable, e.problem))?;
        }
        Ok(())
    }

    /// `SWITCHBOARD_TOLERANCE_SECONDS`, `SWITCHBOARD_BODY_LIMIT`,
    /// `SWITCHBOARD_INCLUDE_RAW`.
    fn apply_limits_env(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
        if let Some(tolerance) = env.number("SWITCHBOARD_TOLERANCE_SECONDS")? {
            self.tolerance_seconds = tolerance;
        }
        if let Some(limit) = env.number("SWITCHBOARD_BODY_LIMIT")? {
            self.body_limit = usize::try_from(limit)
                .map_err(|_| ConfigError::new("SWITCHBOARD_BODY_LIMIT", "is too large"))?;
        }
        if let Some(raw) = env.get("SWITCHBOARD_INCLUDE_RAW") {
            self.include_raw = match raw.trim() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => {
                    return Err(ConfigError::new(
                        "SWITCHBOARD_INCLUDE_RAW",
                        "is not true or false",
                    ));
                }
            };
        }
        Ok(())
    }

    /// The settings of `vendor`, which `setting` configures: an error when
    /// the configuration does not enable it (a secret for a vendor left out
    /// is a mistake, not a way to enable it).
    pub fn enabled(
        &mut self,
        vendor: &str,
        setting: &str,
    ) -> Result<&mut VendorConfig, ConfigError> {
        self.vendors.get_mut(vendor).ok_or_else(|| {
            ConfigError::new(
                setting,
                format!(
                    "configures {vendor}, which the configuration does not enable (add it to the file's vendors or to SWITCHBOARD_VENDORS)"
                ),
            )
        })
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

/// How a vendor's deliveries are verified: its own scheme, or one of the
/// generic ones the configuration can name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Value<'static>")]
pub enum Scheme {
    /// The vendor's own scheme (see each vendor module). A vendor without
    /// one is refused until a scheme is configured.
    #[default]
    VendorDefault,
    /// Standard Webhooks (`webhook-id`, `webhook-timestamp`,
    /// `webhook-signature`).
    StandardWebhooks,
    /// A configurable HMAC-SHA256 header.
    HmacSha256(HmacOptions),
    /// A header that must equal the secret.
    SharedSecret(SharedSecret),
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
    /// The scheme configured, or `None` for [`Scheme::VendorDefault`],
    /// which the vendor resolves.
    pub fn configured(&self) -> Option<&dyn SignatureScheme> {
        match self {
            Scheme::VendorDefault => None,
            Scheme::StandardWebhooks => Some(&StandardWebhooks),
            Scheme::HmacSha256(options) => Some(options),
            Scheme::SharedSecret(scheme) => Some(scheme),
            Scheme::None => Some(&Unverified),
        }
    }

    /// The scheme's name, as written in configuration.
    pub fn name(&self) -> &'static str {
        self.configured().map_or("vendor-default", |s| s.name())
    }

    /// The scheme a bare name stands for. `hmac-sha256` and `shared-secret`
    /// need options, so they cannot be named alone; a vendor's own scheme is
    /// chosen with `vendor-default`, never by name.
    pub fn from_name(name: &str) -> Result<Scheme, String> {
        match name {
            "vendor-default" | "default" => return Ok(Scheme::VendorDefault),
            "standard-webhooks" => return Ok(Scheme::StandardWebhooks),
            "none" => return Ok(Scheme::None),
            "hmac-sha256" | "shared-secret" => {
                return Err(format!(
                    "scheme `{name}` needs options: write it as a table with `type = \"{name}\"` and `header`"
                ));
            }
            _ => {}
        }
        let owner = crate::FAMILIES.iter().find(|family| {
            family
                .default_schemes()
                .iter()
                .any(|scheme| scheme.name() == name)
        });
        Err(match owner {
            Some(family) => format!(
                "`{name}` is the {} family's own scheme: write `vendor-default`",
                family.name()
            ),
            None => format!(
                "unknown scheme `{name}` (expected vendor-default, standard-webhooks, hmac-sha256, shared-secret or none)"
            ),
        })
    }
}

impl TryFrom<Value<'static>> for Scheme {
    type Error = String;

    fn try_from(value: Value<'static>) -> Result<Scheme, String> {
        let table = match value {
            Value::String(name) => return Scheme::from_name(&name),
            Value::Object(table) => table.unique(),
            _ => return Err("a scheme is a name or a table with a `type`".to_owned()),
        };
        let kind = match table.get("type") {
            Some(Value::String(kind)) => kind.to_string(),
            _ => return Err("a scheme table needs a string `type`".to_owned()),
        };
        let mut options = table;
        options.retain(|key, _| key != "type");
        let empty = options.is_empty();
        let options = Value::Object(options);
        match kind.as_str() {
            "hmac-sha256" => HmacOptions::deserialize(options)
                .map(Scheme::HmacSha256)
                .map_err(|e| format!("scheme `hmac-sha256`: {e}")),
            "shared-secret" => SharedSecret::deserialize(options)
                .map(Scheme::SharedSecret)
                .map_err(|e| format!("scheme `shared-secret`: {e}")),
            name if empty => Scheme::from_name(name),
            name => Err(format!("scheme `{name}` takes no options")),
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
                "varda": {"scheme": "standard-webhooks"},
                "opencx": {"scheme": {"type": "hmac-sha256", "header": "X-Sig", "encoding": "base64", "prefix": "sha256="}},
                "atoms": {"scheme": {"type": "shared-secret", "header": "X-Token"}},
                "openphone": {"scheme": {"type": "none"}}
            }}"#,
        )
        .unwrap();
        assert_eq!(config.vendors["varda"].scheme, Scheme::StandardWebhooks);
        assert_eq!(
            config.vendors["opencx"].scheme,
            Scheme::HmacSha256(HmacOptions {
                header: "X-Sig".into(),
                encoding: DigestEncoding::Base64,
                prefix: Some("sha256=".into()),
                timestamp_header: None,
            })
        );
        assert_eq!(
            config.vendors["atoms"].scheme,
            Scheme::SharedSecret(SharedSecret {
                header: "X-Token".into()
            })
        );
        assert_eq!(config.vendors["openphone"].scheme, Scheme::None);
    }

    #[test]
    fn bad_configuration_names_the_key() {
        let err =
            Config::from_json(r#"{"vendors": {"varda": {"scheme": "hmac-sha1"}}}"#).unwrap_err();
        assert!(
            err.to_string().contains("unknown scheme `hmac-sha1`"),
            "{err}"
        );
        let err = Config::from_json(r#"{"tolerance": 3}"#).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `tolerance`"),
            "{err}"
        );
        let err =
            Config::from_json(r#"{"vendors": {"varda": {"scheme": {"type": "hmac-sha256"}}}}"#)
                .unwrap_err();
        assert!(err.to_string().contains("missing field `header`"), "{err}");
    }

    #[test]
    fn validation_refuses_what_could_never_verify() {
        let refused = |json: &str| Config::from_json(json).unwrap_err().to_string();
        let err = refused(r#"{"vendors": {"vrada": {"secrets": ["s"]}}}"#);
        assert!(
            err.starts_with(
                "vendors.vrada: no vendor family is called `vrada` (did you mean `varda`? expected one of "
            ),
            "{err}"
        );
        let err = refused(r#"{"vendors": {"stripe": {"secrets": ["s"]}}}"#);
        assert!(
            err.contains("(expected one of") && !err.contains("did you mean"),
            "no suggestion when nothing is close: {err}"
        );
        for blank in ["", " ", "\\n"] {
            let err = refused(&format!(
                r#"{{"vendors": {{"varda": {{"secrets": ["ok", "{blank}"]}}}}}}"#
            ));
            assert_eq!(
                err,
                "vendors.varda.secrets: secret 2 of varda cannot be used with varda: it is empty"
            );
        }
        // Every scheme, the generic ones and those that verify nothing too.
        for scheme in [
            r#""standard-webhooks""#,
            r#"{"type": "hmac-sha256", "header": "X-Sig"}"#,
            r#"{"type": "shared-secret", "header": "X-Token"}"#,
            r#""none""#,
        ] {
            let err = refused(&format!(
                r#"{{"vendors": {{"varda": {{"secrets": [""], "scheme": {scheme}}}}}}}"#
            ));
            assert!(
                err.contains("secret 1 of varda cannot be used"),
                "{scheme}: {err}"
            );
        }
        // OpenCX publishes no scheme: its secrets are still checked.
        assert!(refused(r#"{"vendors": {"opencx": {"secrets": [""]}}}"#).contains("empty"));
        // A rotation list with one undecodable key is refused whole, at load.
        let err = refused(
            r#"{"vendors": {"openphone": {"secrets": ["ZGVtbw==", "whsec_not*base64!"]}}}"#,
        );
        assert!(err.contains("secret 2 of openphone"), "{err}");
        assert!(!err.contains("not*base64"), "{err}");
        // A stray newline or missing padding is forgiven in whsec_ keys.
        Config::from_json(r#"{"vendors": {"opencx": {"scheme": "standard-webhooks", "secrets": ["whsec_ZGVtbw\n"]}}}"#).unwrap();
    }

    #[test]
    fn values_never_appear_in_errors() {
        for json in [
            r#"{"vendors": {"varda": {"secrets": "hunter2"}}}"#,
            r#"{"vendors": {"varda": {"secrets": [["hunter2"]]}}}"#,
            r#"{"vendors": {"varda": "hunter2"}}"#,
            r#"{"vendors": {"varda": {"secrets": ["hunter2"], "scheme": 5}}}"#,
            r#"{"vendors": {"varda": {"secrets": ["hunter2\"]}}}"#,
        ] {
            let err = Config::from_json(json).unwrap_err().to_string();
            assert!(!err.contains("hunter2"), "{json}: {err}");
        }
        assert_eq!(
            redact_quoted(r#"invalid type: string "a\"b", expected x "y"#),
            r#"invalid type: string "…", expected x "…"#
        );
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
        config.apply_env(vars, &[]).unwrap();
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
            Scheme::SharedSecret(SharedSecret {
                header: "X-Token".into()
            })
        );
        assert_eq!((config.tolerance_seconds, config.include_raw), (60, false));
        let err = config
            .apply_env([("SWITCHBOARD_BODY_LIMIT", "lots")], &[])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "SWITCHBOARD_BODY_LIMIT: is not a whole number"
        );
        let err = config
            .apply_env([("SWITCHBOARD_SCHEME_VARDA", "md5")], &[])
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("SWITCHBOARD_SCHEME_VARDA: unknown scheme `md5`"),
            "{err}"
        );
    }

    #[test]
    fn the_environment_refuses_mistakes_by_name() {
        let refused = |vars: &[(&str, &str)]| {
            let mut config = Config::from_json(r#"{"vendors": {"varda": {}}}"#).unwrap();
            config
                .apply_env(vars.iter().copied(), &["SWITCHBOARD_COMPONENT"])
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            refused(&[("SWITCHBOARD_SECRET_VARDAA", "hunter2")]),
            "SWITCHBOARD_SECRET_VARDAA: not a switchboard variable (did you mean SWITCHBOARD_SECRET_VARDA?)"
        );
        assert_eq!(
            refused(&[("SWITCHBOARD_SECRET_VARDA", "")]),
            "SWITCHBOARD_SECRET_VARDA: secret 1 of varda cannot be used with varda: it is empty"
        );
        assert_eq!(
            refused(&[("SWITCHBOARD_SECRET_VARDA", "a,,b")]),
            "SWITCHBOARD_SECRET_VARDA: secret 2 of varda cannot be used with varda: it is empty"
        );
        let err = refused(&[
            ("SWITCHBOARD_SCHEME_VARDA", "standard-webhooks"),
            ("SWITCHBOARD_SECRET_VARDA", "whsec_%%%"),
        ]);
        assert!(
            err.starts_with(
                "SWITCHBOARD_SECRET_VARDA: secret 1 of varda cannot be used with standard-webhooks"
            ),
            "{err}"
        );
        let err = refused(&[("SWITCHBOARD_SECRET_ATOMS", "hunter2")]);
        assert!(
            err.starts_with("SWITCHBOARD_SECRET_ATOMS: configures atoms, which the configuration does not enable"),
            "{err}"
        );
        let err = refused(&[("SWITCHBOARD_VENDORS", "varda,vrada")]);
        assert!(err.contains("`vrada`"), "{err}");
        // The host's own variables, and others' prefixes, pass.
        let mut config = Config::all_vendors();
        config
            .apply_env(
                [
                    ("SWITCHBOARD_COMPONENT", "x.wasm"),
                    ("OTHER_SWITCHBOARD_X", "1"),
                ],
                &["SWITCHBOARD_COMPONENT"],
            )
            .unwrap();
        // Listed in SWITCHBOARD_VENDORS, a vendor takes its secret.
        let mut config = Config::default();
        config
            .apply_env(
                [
                    ("SWITCHBOARD_VENDORS", "atoms"),
                    ("SWITCHBOARD_SECRET_ATOMS", "s"),
                ],
                &[],
            )
            .unwrap();
        assert_eq!(config.vendors["atoms"].secrets, [Secret::new("s")]);
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
