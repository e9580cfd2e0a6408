//! `process_json`, the strings-only API of the component: the request
//! document, the vendor, the configuration document and `now` all come from
//! the input. The answer is always a JSON document: an event, or
//! `{"error": <class>, "reason": <code>, "message": <text>}` with a class of the wire
//! vocabulary other than `internal` (which only a host gives, for a trap).
//!
//! Input: request JSON, vendor, configuration JSON and `now` (decimal),
//! separated by NUL bytes (which JSON text cannot hold); missing parts are
//! empty, and a `now` that is not a number is the Varda vector's.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use switchboard_core::{ErrorClass, process_json};
use switchboard_fuzz::{NOW, check_event_json};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |&b| b == 0).map(String::from_utf8_lossy);
    let request = parts.next().unwrap_or_default();
    let vendor = parts.next().unwrap_or_default();
    let config = parts.next().unwrap_or_default();
    let now = parts
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(NOW);

    let answer = process_json(&request, &vendor, &config, now);
    let json: Value = serde_json::from_str(&answer)
        .unwrap_or_else(|e| panic!("process_json answered no JSON ({e}): {answer}"));
    match json.get("error") {
        Some(class) => {
            let class = class
                .as_str()
                .unwrap_or_else(|| panic!("a non-string class: {json}"));
            let known = ErrorClass::from_name(class)
                .unwrap_or_else(|| panic!("an unknown error class: {json}"));
            assert_ne!(
                known,
                ErrorClass::Internal,
                "the core answered internal: {json}"
            );
            let message = json.get("message").and_then(Value::as_str);
            assert!(message.is_some_and(|m| !m.is_empty()), "no message: {json}");
            let reason = json.get("reason").and_then(Value::as_str);
            assert!(
                reason.is_some_and(|r| switchboard_core::error::reason_named(r).is_some()),
                "an unlisted reason: {json}"
            );
            assert_eq!(json.as_object().map(|o| o.len()), Some(3), "{json}");
        }
        None => check_event_json(&json),
    }
});
