//! The strings-only API, for hosts whose component bindings cannot pass
//! records or lists: the request, the configuration and the result are JSON
//! text.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde_json::json;

use crate::{Config, ConfigError, Error, Processor, Request};

/// A request as JSON: `headers` as `[["name", "value"], ...]` (or an object
/// of name to value), and the raw body as `body` (UTF-8 text) or
/// `body_base64` (any bytes).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRequest {
    headers: JsonHeaders,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_base64: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum JsonHeaders {
    Pairs(Vec<(String, String)>),
    Object(std::collections::BTreeMap<String, String>),
}

/// [`crate::process`] over JSON text. `vendor` is empty to detect. Returns
/// the CloudEvent document, or `{"error": "<class>", "message": "..."}`.
/// A request document that cannot be read is `malformed`; a configuration
/// that cannot be read or used is `invalid-config`.
pub fn process_json(request_json: &str, vendor: &str, config_json: &str, now: i64) -> String {
    let processor = Config::from_json(config_json).and_then(Processor::new);
    process_json_with(processor.as_ref(), request_json, vendor, now)
}

/// [`process_json`] with the configuration already read into a
/// [`Processor`], or the reason it could not be (reported once the request
/// document has been read, as [`process_json`] reports it).
pub fn process_json_with(
    processor: Result<&Processor<'_>, &ConfigError>,
    request_json: &str,
    vendor: &str,
    now: i64,
) -> String {
    match run(processor, request_json, vendor, now) {
        Ok(event) => event,
        Err(error) => error_json(&error),
    }
}

/// The error document of `error`: `{"error": "<class>", "message": "..."}`.
pub fn error_json(error: &Error) -> String {
    json!({"error": error.class().as_str(), "message": error.to_string()}).to_string()
}

fn run(
    processor: Result<&Processor<'_>, &ConfigError>,
    request_json: &str,
    vendor: &str,
    now: i64,
) -> Result<String, Error> {
    let request: JsonRequest = serde_json::from_str(request_json)
        .map_err(|e| Error::InvalidRequest(format!("request document: {e}")))?;
    let processor = processor.map_err(|e| Error::Config(e.clone()))?;
    let body = match (request.body, request.body_base64) {
        (Some(text), None) => text.into_bytes(),
        (None, Some(encoded)) => BASE64
            .decode(encoded)
            .map_err(|e| Error::InvalidRequest(format!("body_base64: {e}")))?,
        _ => {
            return Err(Error::InvalidRequest(
                "the request needs exactly one of body and body_base64".to_owned(),
            ));
        }
    };
    let headers: Vec<(&str, &str)> = match &request.headers {
        JsonHeaders::Pairs(pairs) => pairs
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect(),
        JsonHeaders::Object(map) => map.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect(),
    };
    let vendor = (!vendor.is_empty()).then_some(vendor);
    processor
        .process(&Request::new(headers, &body), vendor, now)
        .map(|e| e.to_json())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const CONFIG: &str = r#"{"vendors": {"varda": {"secrets": ["test_secret"]}}}"#;

    fn call(request: Value, config: &str) -> Value {
        serde_json::from_str(&process_json(&request.to_string(), "", config, 1711411200)).unwrap()
    }

    #[test]
    fn the_published_vector_through_json() {
        let body = r#"{"event":"call.ended","timestamp":"2026-03-25T18:35:00Z","data":{"id":42}}"#;
        let sig =
            "t=1711411200,v1=85afa0623ef8797b3f36226284f6bf92856b4ea0ad2033defc1b2dae74999725";
        let event = call(
            json!({"headers": [["X-Varda-Signature", sig]], "body": body}),
            CONFIG,
        );
        assert_eq!(event["type"], "call.ended");
        let encoded = BASE64.encode(body);
        let event = call(
            json!({"headers": {"x-varda-signature": sig}, "body_base64": encoded}),
            CONFIG,
        );
        assert_eq!(event["subject"], "42");
    }

    #[test]
    fn errors_carry_their_class() {
        let err = call(json!({"headers": [], "body": "{}"}), CONFIG);
        assert_eq!(err["error"], "unknown-vendor");
        let err = call(json!({"headers": []}), CONFIG);
        assert_eq!(err["error"], "malformed");
        let err = call(
            json!({"headers": [["X-Varda-Event", "x"]], "body": "{}"}),
            "{\"nope\": 1}",
        );
        assert_eq!(err["error"], "invalid-config");
        assert!(
            err["message"]
                .as_str()
                .unwrap()
                .contains("unknown field `nope`")
        );
        let err = call(
            json!({"headers": [["X-Varda-Event", "x"]], "body": "{}"}),
            r#"{"vendors": {"varda": {"secrets": "hunter2"}}}"#,
        );
        assert_eq!(err["error"], "invalid-config");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
