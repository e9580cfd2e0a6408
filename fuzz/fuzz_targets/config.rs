//! The configuration loader, in both its forms: `Config::from_json` (the
//! component's `process-json`, the fixtures) and `toml::from_str::<Config>`
//! (the CLI's file). Any text loads or is refused, never panics; a loaded
//! configuration's `Debug` never depends on its secrets; and a loaded
//! configuration processes each family's published request to an event or
//! an error of a class other than `internal`.
//!
//! With the `secret-leak` feature, a refused configuration's error must not
//! depend on the values of its secrets either (issue 11, finding 3): the
//! document is reloaded with every secret replaced by another of the same
//! length, and the two errors must be the same.
//!
//! Input: the configuration text, JSON or TOML.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use switchboard_core::{Config, ErrorClass, Request, Secret, process};
use switchboard_fixtures::Fixture;
use switchboard_fuzz::check_event;

/// One published request per family, processed under each loaded
/// configuration.
static PROBES: LazyLock<Vec<Fixture>> = LazyLock::new(|| {
    [
        "varda/published-vector.json",
        "atoms/published-vector.json",
        "openphone/published-vector.json",
        "opencx/standard-webhooks/valid.json",
    ]
    .iter()
    .map(|name| switchboard_fixtures::load(&switchboard_fixtures::dir().join(name)))
    .collect()
});

fuzz_target!(|data: &[u8]| {
    // The CLI reads the file as UTF-8 text and refuses anything else.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let json = Config::from_json(text);
    let toml = toml::from_str::<Config>(text);
    #[cfg(feature = "secret-leak")]
    {
        leak::check_json(text, json.as_ref().err().map(ToString::to_string));
        leak::check_toml(text, toml.as_ref().err().map(ToString::to_string));
    }
    for config in [json.ok(), toml.ok()].into_iter().flatten() {
        check(&config);
    }
});

fn check(config: &Config) {
    let mut blank = config.clone();
    for vendor in blank.vendors.values_mut() {
        for secret in &mut vendor.secrets {
            *secret = Secret::new("");
        }
    }
    assert_eq!(
        format!("{config:?}"),
        format!("{blank:?}"),
        "a configuration's Debug shows its secrets"
    );
    for probe in PROBES.iter() {
        let headers = probe.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
        let request = Request::new(headers, &probe.body);
        match process(&request, None, config, probe.now) {
            Ok(event) => {
                check_event(&event);
            }
            Err(error) => assert_ne!(error.class(), ErrorClass::Internal, "{error}"),
        }
    }
}

#[cfg(feature = "secret-leak")]
mod leak {
    //! Reloads a refused document with its secrets replaced. Only secrets
    //! of printable ASCII without quotes or backslashes are replaced, so
    //! that every position in the document, and so every location an error
    //! names, stays the same.

    use serde_json::Value;
    use switchboard_core::Config;

    /// The secret strings of a generic document: every string under
    /// `vendors.<name>.secrets`.
    fn secrets_of(vendors: Option<&Value>) -> Vec<String> {
        fn strings(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::String(s) => out.push(s.clone()),
                Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
                Value::Object(map) => map.values().for_each(|v| strings(v, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        if let Some(Value::Object(vendors)) = vendors {
            for vendor in vendors.values() {
                if let Some(secrets) = vendor.get("secrets") {
                    strings(secrets, &mut out);
                }
            }
        }
        out
    }

    fn replaceable(secret: &str) -> bool {
        !secret.is_empty()
            && secret
                .bytes()
                .all(|b| (b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'\\')) || b == b' ')
    }

    /// `value` with each replaceable secret string under
    /// `vendors.*.secrets` changed to another of the same length.
    fn replaced(value: &Value) -> Value {
        fn replace(value: &mut Value) {
            match value {
                Value::String(s) if replaceable(s) => {
                    let fill = if s.bytes().all(|b| b == b'x') {
                        "y"
                    } else {
                        "x"
                    };
                    *s = fill.repeat(s.len());
                }
                Value::Array(items) => items.iter_mut().for_each(replace),
                Value::Object(map) => map.values_mut().for_each(replace),
                _ => {}
            }
        }
        let mut value = value.clone();
        if let Some(Value::Object(vendors)) = value.get_mut("vendors") {
            for vendor in vendors.values_mut() {
                if let Some(secrets) = vendor.get_mut("secrets") {
                    replace(secrets);
                }
            }
        }
        value
    }

    fn assert_same(
        form: &str,
        secrets: &[String],
        original: Option<String>,
        other: Option<String>,
    ) {
        if secrets.iter().any(|s| replaceable(s)) {
            assert_eq!(
                original, other,
                "a {form} configuration error depends on a secret's value"
            );
        }
    }

    pub fn check_json(text: &str, error: Option<String>) {
        let Some(_) = error else { return };
        let Ok(value) = serde_json::from_str::<Value>(text) else {
            return;
        };
        let secrets = secrets_of(value.get("vendors"));
        // Both documents are written the same way, so that only the secrets
        // differ between them.
        let original = Config::from_json(&value.to_string()).err();
        let other = Config::from_json(&replaced(&value).to_string()).err();
        assert_same(
            "JSON",
            &secrets,
            original.map(|e| e.to_string()),
            other.map(|e| e.to_string()),
        );
    }

    pub fn check_toml(text: &str, error: Option<String>) {
        let Some(_) = error else { return };
        let Ok(table) = toml::from_str::<toml::Table>(text) else {
            return;
        };
        let Ok(value) = serde_json::to_value(&table) else {
            return;
        };
        let secrets = secrets_of(value.get("vendors"));
        let write = |value: &Value| {
            serde_json::from_value::<toml::Table>(value.clone())
                .ok()
                .and_then(|t| toml::to_string(&t).ok())
        };
        let (Some(original), Some(other)) = (write(&value), write(&replaced(&value))) else {
            return;
        };
        let original = toml::from_str::<Config>(&original).err();
        let other = toml::from_str::<Config>(&other).err();
        assert_same(
            "TOML",
            &secrets,
            original.map(|e| e.to_string()),
            other.map(|e| e.to_string()),
        );
    }
}
