//! The strings-only API, for hosts whose component bindings cannot pass
//! records or lists: the request, the configuration and the result are JSON
//! text.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::json::{self, Text, Value, Writer};
use crate::{ConfigError, Error, Processor, Request};

/// The members a request document may have.
const MEMBERS: [&str; 3] = ["headers", "body", "body_base64"];

/// [`crate::process`] over JSON text. `vendor` is empty to detect. Returns
/// the CloudEvent document, or `{"error": "<class>", "reason": "<reason>",
/// "message": "..."}`.
/// A request document that cannot be read is `malformed`; a configuration
/// that cannot be read or used is `invalid-config`.
pub fn process_json(request_json: &str, vendor: &str, config_json: &str, now: i64) -> String {
    let processor = Processor::from_json(config_json);
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

/// The error document of `error`: `{"error": "<class>", "reason":
/// "<reason>", "message": "..."}` (the reason is one of
/// [`crate::error::REASONS`]).
pub fn error_json(error: &Error) -> String {
    let mut w = Writer::default();
    w.begin_object();
    w.member(crate::key!("error"), error.class().as_str());
    w.member(crate::key!("reason"), error.reason());
    w.member(crate::key!("message"), &error.to_string());
    w.end_object();
    w.finish()
}

fn run(
    processor: Result<&Processor<'_>, &ConfigError>,
    request_json: &str,
    vendor: &str,
    now: i64,
) -> Result<String, Error> {
    let (headers, body) = read_request(request_json)?;
    let processor = processor.map_err(|e| Error::Config(e.clone()))?;
    let headers = headers.iter().map(|(n, v)| (n.as_ref(), v.as_ref()));
    let vendor = (!vendor.is_empty()).then_some(vendor);
    processor
        .process(&Request::new(headers, &body), vendor, now)
        .map(|e| e.to_json())
}

/// Headers and body as [`read_request`] reads them.
type JsonRequest<'a> = (Vec<(Text<'a>, Text<'a>)>, Cow<'a, [u8]>);

/// A request document: `headers` as `[["name", "value"], ...]` (or an
/// object of name to value, in its order, a name written twice taken once
/// with its last value), and the raw body as `body` (UTF-8 text) or
/// `body_base64` (any bytes). Nothing else.
fn read_request(text: &str) -> Result<JsonRequest<'_>, Error> {
    let invalid = |problem: &str| Error::InvalidRequest(format!("request document: {problem}"));
    let document = json::parse(text).map_err(|e| invalid(&e.to_string()))?;
    let Value::Object(request) = document else {
        return Err(invalid(&format!(
            "a JSON {}, not an object",
            document.type_name()
        )));
    };
    for (i, (key, _)) in request.iter().enumerate() {
        if !MEMBERS.contains(&key) {
            return Err(invalid(&format!(
                "unknown field `{key}`, expected one of `headers`, `body`, `body_base64`"
            )));
        }
        if request.iter().take(i).any(|(earlier, _)| earlier == key) {
            return Err(invalid(&format!("duplicate field `{key}`")));
        }
    }
    let headers = match request.get("headers") {
        None => return Err(invalid("missing field `headers`")),
        Some(Value::Array(pairs)) => pairs
            .iter()
            .map(|pair| match pair.as_array() {
                Some([name, value]) => Some((name.as_text()?, value.as_text()?)),
                _ => None,
            })
            .collect::<Option<Vec<_>>>(),
        Some(Value::Object(names)) => names
            .unique()
            .into_entries()
            .into_iter()
            .map(|(name, value)| Some((name, value.as_text()?)))
            .collect::<Option<Vec<_>>>(),
        Some(_) => None,
    }
    .ok_or_else(|| {
        invalid("`headers` must be [[name, value], ...] or {name: value}, all strings")
    })?;
    let text_member = |name: &str| match request.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_text()
            .map(Some)
            .ok_or_else(|| invalid(&format!("`{name}` must be a string"))),
    };
    let body = match (text_member("body")?, text_member("body_base64")?) {
        (Some(Cow::Borrowed(text)), None) => Cow::Borrowed(text.as_bytes()),
        (Some(Cow::Owned(text)), None) => Cow::Owned(text.into_bytes()),
        (None, Some(encoded)) => Cow::Owned(
            BASE64
                .decode(encoded.as_bytes())
                .map_err(|e| Error::InvalidRequest(format!("body_base64: {e}")))?,
        ),
        _ => {
            return Err(Error::InvalidRequest(
                "the request needs exactly one of body and body_base64".to_owned(),
            ));
        }
    };
    Ok((headers, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

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
    fn the_request_document_is_read_strictly() {
        let refused = |document: &str| {
            let answer: Value =
                serde_json::from_str(&process_json(document, "", CONFIG, 1711411200)).unwrap();
            assert_eq!(answer["error"], "malformed", "{document}: {answer}");
            answer["message"].as_str().unwrap().to_owned()
        };
        assert!(
            refused(r#"{"headers": [], "body": "{}", "extra": 1}"#)
                .contains("unknown field `extra`")
        );
        assert!(
            refused(r#"{"headers": [], "body": "{}", "body": "{}"}"#)
                .contains("duplicate field `body`")
        );
        assert!(refused(r#"{"body": "{}"}"#).contains("missing field `headers`"));
        assert!(refused(r#"{"headers": [["a"]], "body": "{}"}"#).contains("`headers` must be"));
        assert!(refused(r#"{"headers": {"a": 1}, "body": "{}"}"#).contains("`headers` must be"));
        assert!(refused(r#"{"headers": [], "body": 5}"#).contains("`body` must be a string"));
        assert!(
            refused(r#"{"headers": [], "body": "{}", "body_base64": "e30="}"#)
                .contains("exactly one")
        );
        assert!(refused(r#"{"headers": [], "body_base64": "%%"}"#).contains("body_base64"));
        assert!(refused("[1]").contains("a JSON array, not an object"));
        assert!(refused("{").contains("EOF"));
        // Escaped names, values and bodies are read as what they denote.
        let sig =
            "t=1711411200,v1=85afa0623ef8797b3f36226284f6bf92856b4ea0ad2033defc1b2dae74999725";
        let body = r#"{\"\u0065vent\":\"call.ended\",\"timestamp\":\"2026-03-25T18:35:00Z\",\"data\":{\"id\":42}}"#;
        let document =
            format!(r#"{{"headers": {{"X-Varda-Signatur\u0065": "{sig}"}}, "body": "{body}"}}"#);
        let event: Value =
            serde_json::from_str(&process_json(&document, "", CONFIG, 1711411200)).unwrap();
        assert_eq!(event["type"], "call.ended", "{document}: {event}");
    }

    #[test]
    fn errors_carry_their_class_and_reason() {
        let err = call(json!({"headers": [], "body": "{}"}), CONFIG);
        assert_eq!(err["error"], "unknown-vendor");
        assert_eq!(err["reason"], "vendor-not-detected");
        let err = call(json!({"headers": []}), CONFIG);
        assert_eq!(err["error"], "malformed");
        assert_eq!(err["reason"], "invalid-request");
        let err = call(
            json!({"headers": [["X-Varda-Event", "x"]], "body": "{}"}),
            "{\"nope\": 1}",
        );
        assert_eq!(err["error"], "invalid-config");
        assert_eq!(err["reason"], "invalid-config");
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
