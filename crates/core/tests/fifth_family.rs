//! The seam: a fifth vendor family, defined in this file and nowhere else,
//! with its own signature header, its own HMAC layout and its own event
//! table, plugs into the core through the two traits the built-in families
//! use ([`Family`] and [`SignatureScheme`]). Nothing in the crate changes:
//! the family list is an argument ([`process_with`], [`Config::validate_with`]).
//!
//! In the tree, adding this vendor is this file's two types under
//! `crates/core/src/vendors/acme.rs` (the scheme may sit in
//! `crates/core/src/schemes/acme.rs`), its line in `FAMILIES`, and its
//! fixtures; the README's "Adding a vendor" says the same.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use switchboard_core::event::{Call, EventType};
use switchboard_core::fields::{self, Object};
use switchboard_core::schemes::{
    EntryCount, Key, KeyForm, Keys, SignInput, Verified, VerifyError, base64, check_window,
    decode_base64, hmac_sha256, parse_unix,
};
use switchboard_core::time::SignedTime;
use switchboard_core::vendors::Normalized;
use switchboard_core::{
    Config, Error, ErrorClass, FAMILIES, Family, Request, SignatureScheme, process_with,
};

/// Acme signs `"{body}|{t}"` (the body first, then the time) and sends
/// `X-Acme-Signature: <t>:<base64>`, comma-separated during rotation.
struct AcmeScheme;

const SIGNATURE_HEADER: &str = "X-Acme-Signature";

impl SignatureScheme for AcmeScheme {
    fn name(&self) -> &'static str {
        "acme"
    }

    fn key_form(&self) -> KeyForm {
        KeyForm::Base64
    }

    fn verify_at(
        &self,
        keys: &Keys,
        request: &Request<'_>,
        now: i64,
        tolerance: u64,
    ) -> Result<Verified, VerifyError> {
        let header = request
            .header(SIGNATURE_HEADER)
            .ok_or(VerifyError::MissingHeader(SIGNATURE_HEADER))?;
        let mut count = EntryCount::new(SIGNATURE_HEADER);
        let mut outcome = Err(VerifyError::Mismatch(SIGNATURE_HEADER.to_owned()));
        for entry in header.split(',') {
            count.add()?;
            let (t, signature) =
                entry
                    .trim()
                    .split_once(':')
                    .ok_or(VerifyError::UnparseableHeader {
                        header: SIGNATURE_HEADER.to_owned(),
                        reason: "expected <t>:<signature>",
                    })?;
            let timestamp = parse_unix(t).ok_or(VerifyError::UnparseableHeader {
                header: SIGNATURE_HEADER.to_owned(),
                reason: "t is not a unix timestamp",
            })?;
            check_window(timestamp, now, tolerance)?;
            let candidates: Vec<Vec<u8>> = decode_base64(signature).into_iter().collect();
            if keys.any_matches(&[request.body(), b"|", t.as_bytes()], &candidates) {
                outcome = Ok(Verified::at(SignedTime::Seconds(timestamp)));
            }
        }
        outcome
    }

    fn sign(&self, key: &Key, input: SignInput<'_>) -> Vec<(String, String)> {
        let t = input.timestamp.to_string();
        let digest = hmac_sha256(key.bytes(), &[input.body, b"|", t.as_bytes()]);
        vec![(
            SIGNATURE_HEADER.to_owned(),
            format!("{t}:{}", base64(&digest)),
        )]
    }
}

/// Acme's events: `{"kind": "...", "call": {"ref": ...}, "uid": "..."}`.
struct Acme;

/// The event table.
const EVENTS: &[(&str, EventType)] = &[
    ("call.done", EventType::CallEnded),
    ("call.missed", EventType::CallMissed),
];

impl Family for Acme {
    fn name(&self) -> &'static str {
        "acme"
    }

    fn default_scheme(&self, _: &Request<'_>) -> Option<&'static dyn SignatureScheme> {
        Some(&AcmeScheme)
    }

    fn default_schemes(&self) -> &'static [&'static dyn SignatureScheme] {
        &[&AcmeScheme]
    }

    fn claims_headers(&self, request: &Request<'_>) -> bool {
        request.has_header(SIGNATURE_HEADER)
    }

    fn normalize<'a>(&self, payload: &Object<'a>) -> Result<Normalized<'a>, Error> {
        let kind =
            fields::string(payload, "kind").ok_or(Error::MissingEventType { field: "kind" })?;
        let known = EVENTS.iter().find(|(name, _)| *name == kind);
        let mut event = Normalized::new(
            known.map_or(EventType::Unrecognized, |(_, t)| *t),
            kind.clone(),
        );
        event.id = fields::id(payload, "uid");
        if known.is_some() {
            let call = fields::object(payload, "call").ok_or_else(|| Error::MissingField {
                event: kind.to_string(),
                field: "call",
            })?;
            let id = fields::id(call, "ref");
            event.subject = id.clone();
            event.data.call = Some(Call {
                id,
                ..Call::default()
            });
        }
        Ok(event)
    }
}

const SECRET: &str = "YWNtZS1zaWduaW5nLWtleQ==";
const NOW: i64 = 1_774_463_700;
const BODY: &[u8] = br#"{"kind":"call.done","uid":"evt_1","call":{"ref":"c-42"}}"#;

fn families() -> Vec<&'static dyn Family> {
    FAMILIES
        .iter()
        .copied()
        .chain([&Acme as &dyn Family])
        .collect()
}

fn config(secrets: &[&str]) -> Config {
    let json =
        serde_json::json!({"vendors": {"acme": {"secrets": secrets}, "varda": {"secrets": ["v"]}}});
    let config: Config = serde_json::from_value(json).unwrap();
    config.validate_with(&families()).unwrap();
    config
}

fn signed(body: &[u8], timestamp: i64) -> String {
    let key = KeyForm::Base64.key(SECRET).unwrap();
    let input = SignInput {
        body,
        timestamp,
        id: "",
    };
    AcmeScheme.sign(&key, input).remove(0).1
}

#[test]
fn a_fifth_family_verifies_detects_and_normalizes() {
    let header = signed(BODY, NOW);
    let request = Request::new([(SIGNATURE_HEADER, header.as_str())], BODY);
    for vendor in [Some("acme"), None] {
        let event = process_with(&families(), &request, vendor, &config(&[SECRET]), NOW).unwrap();
        assert_eq!(event.vendor, "acme");
        assert_eq!(event.verification, "acme");
        assert_eq!(event.event_type, EventType::CallEnded);
        assert_eq!(event.id, "evt_1");
        assert_eq!(event.source, "/acme");
        assert_eq!(event.subject.as_deref(), Some("c-42"));
        assert_eq!(event.time.as_deref(), Some("2026-03-25T18:35:00Z"));
    }
}

#[test]
fn its_refusals_are_the_core_s() {
    let families = families();
    let process = |header: &str, config: &Config, now: i64| {
        let request = Request::new([(SIGNATURE_HEADER, header)], BODY);
        process_with(&families, &request, Some("acme"), config, now).unwrap_err()
    };
    let good = signed(BODY, NOW);
    let other = config(&["b3RoZXIta2V5"]);
    assert_eq!(
        process(&good, &other, NOW).class(),
        ErrorClass::Unauthenticated
    );
    let stale = process(&good, &config(&[SECRET]), NOW + 301);
    assert!(stale.to_string().contains("older than"), "{stale}");
    let flood = [good.as_str(); 9].join(",");
    let flood = process(&flood, &config(&[SECRET]), NOW);
    assert!(flood.to_string().contains("too many signatures"), "{flood}");
    // Its secrets are checked at load like any family's.
    let json = serde_json::json!({"vendors": {"acme": {"secrets": ["not base64!"]}}});
    let config: Config = serde_json::from_value(json).unwrap();
    let err = config.validate_with(&families).unwrap_err();
    assert!(
        err.to_string()
            .contains("secret 1 of acme cannot be used with acme"),
        "{err}"
    );
    // Without it in the list, the core knows no `acme`.
    assert!(config.validate().is_err());
}

#[test]
fn its_own_scheme_is_not_configurable_by_name() {
    // Only the generic schemes can be named; a family's own scheme is its
    // business, so `from_name` never learns `acme` (it is not in FAMILIES).
    let err = switchboard_core::Scheme::from_name("acme").unwrap_err();
    assert!(err.contains("unknown scheme `acme`"), "{err}");
    let err = switchboard_core::Scheme::from_name("varda").unwrap_err();
    assert!(err.contains("the varda family's own scheme"), "{err}");
}
