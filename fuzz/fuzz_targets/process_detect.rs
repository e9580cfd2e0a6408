//! `process` with detection: no vendor named, headers and body from the
//! input, under two configurations: every family enabled with
//! `"scheme": "none"` (so that every detected body reaches normalization),
//! and every family with its published cases' secrets and schemes (so that
//! detection leads into each verification).
//!
//! Input: a message (header lines, an empty line, the body).

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use switchboard_core::{Config, ErrorClass, FAMILIES, Request, process};
use switchboard_fuzz::{
    NOW, assert_no_secret, check_error, check_event, header_lines, split_message,
};

/// The cases whose configurations, merged, make the verifying one.
const SIGNED: [&str; 4] = [
    "varda/published-vector.json",
    "atoms/published-vector.json",
    "openphone/legacy-whsec-key-in-list.json",
    "opencx/standard-webhooks/valid.json",
];

struct Configs {
    unsigned: Config,
    signed: Config,
    secrets: Vec<String>,
}

static CONFIGS: LazyLock<Configs> = LazyLock::new(|| {
    let mut vendors = serde_json::Map::new();
    for family in FAMILIES {
        vendors.insert(family.name().to_owned(), json!({"scheme": "none"}));
    }
    let unsigned = Config::from_json(&json!({ "vendors": vendors }).to_string())
        .expect("the unsigned configuration loads");
    let mut vendors = serde_json::Map::new();
    let mut secrets = Vec::new();
    for name in SIGNED {
        let fixture = switchboard_fixtures::load(&switchboard_fixtures::dir().join(name));
        secrets.extend(fixture.secrets());
        if let Some(Value::Object(more)) = fixture.config.get("vendors") {
            vendors.extend(more.clone());
        }
    }
    assert_eq!(vendors.len(), FAMILIES.len(), "one signed case per family");
    let signed = Config::from_json(&json!({ "vendors": vendors }).to_string())
        .expect("the signed configuration loads");
    Configs {
        unsigned,
        signed,
        secrets,
    }
});

fuzz_target!(|data: &[u8]| {
    let (head, body) = split_message(data);
    let headers = header_lines(&head);
    let request = Request::new(headers.iter().copied(), body);
    let configs = &*CONFIGS;

    // Nothing is verified: what is detected is normalized or malformed.
    let unsigned = process(&request, None, &configs.unsigned, NOW);
    match &unsigned {
        Ok(event) => assert_eq!(check_event(event)["verification"], "none"),
        Err(error) => check_error(error, &[ErrorClass::Malformed, ErrorClass::UnknownVendor]),
    }

    let signed = process(&request, None, &configs.signed, NOW);
    let shown = match &signed {
        Ok(event) => check_event(event).to_string(),
        Err(error) => {
            let allowed = [
                ErrorClass::Unauthenticated,
                ErrorClass::Malformed,
                ErrorClass::UnknownVendor,
            ];
            check_error(error, &allowed);
            error.to_string()
        }
    };
    let input = format!("{head}\n\n{}", String::from_utf8_lossy(body));
    assert_no_secret(&shown, &configs.secrets, &input);

    // Detection does not depend on the configuration: both find the same
    // family, or neither finds one.
    let detected =
        |outcome: &Result<switchboard_core::Event<'_>, switchboard_core::Error>| match outcome {
            Ok(event) => Some(Some(event.vendor)),
            Err(error) if error.class() == ErrorClass::UnknownVendor => None,
            Err(_) => Some(None),
        };
    match (detected(&unsigned), detected(&signed)) {
        (None, None) | (Some(_), Some(None)) | (Some(None), Some(_)) => {}
        (Some(Some(a)), Some(Some(b))) => assert_eq!(a, b, "detected differently"),
        (a, b) => panic!("detection depends on the configuration: {a:?} / {b:?}"),
    }
});
