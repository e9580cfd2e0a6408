//! A fixture's outcome as an HTTP shell answers it (the gateway, the edge
//! runtimes): `200` and the CloudEvent, or the refusal's status and
//! `{"error", "reason", "message"}` body. Include it beside the suite.

use serde_json::Value;
use switchboard_core::ErrorClass;
use switchboard_fixtures::{Fixture, Refusal};

/// The event `shell` answered with, or its refusal, whose status must be
/// its class's.
pub fn outcome(fixture: &Fixture, shell: &str, status: u16, body: &[u8]) -> Result<Value, Refusal> {
    let answer: Value = serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!(
            "{}: {shell} answered {status} with non-JSON ({e}): {}",
            fixture.name,
            String::from_utf8_lossy(body)
        )
    });
    if status == 200 {
        return Ok(answer);
    }
    let class = answer["error"].as_str().unwrap_or_default().to_owned();
    let expected = ErrorClass::from_name(&class).map(|c| c.http_status());
    assert_eq!(
        expected,
        Some(status),
        "{}: {shell}: status {status} for class {class:?}",
        fixture.name
    );
    let text = |field: &str| answer[field].as_str().unwrap_or_default().to_owned();
    Err(Refusal::new(class, text("reason"), text("message")))
}
