//! A delivery as it is kept and replayed: the request as received (every
//! header, the raw body) and what is known of its arrival.
//!
//! One JSON object reads as a delivery in any of three shapes:
//!
//! - a **capture**: `{"headers": [[name, value], ...], "body": "..." |
//!   "body_base64": "...", "vendor"?: "...", "received_at"?: unix seconds}`;
//! - a **refusal-log record** (`<journal>.refused`): a capture with `time`,
//!   `peer`, `class`, `reason` and `message` besides;
//! - a **fixture** (`fixtures/**/*.json`): `{"request": {"headers", "body" |
//!   "body_base64"}, "vendor"?, "now"}`, `now` standing for `received_at`.
//!
//! [`Delivery::to_json`] writes the capture shape, which is what `POST
//! /replay` takes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// One delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Every header, as received, in order.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
    /// The vendor path segment it was posted to (`/webhooks/{vendor}`), if
    /// any; without one the vendor is detected.
    pub vendor: Option<String>,
    /// When it arrived, in unix seconds: the `now` it is verified at.
    pub received_at: Option<i64>,
    /// From a refusal-log record: the class it was refused with.
    pub class: Option<String>,
    /// From a refusal-log record: the reason code it was refused with.
    pub reason: Option<String>,
}

#[derive(Deserialize)]
struct Request {
    headers: Vec<(String, String)>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_base64: Option<String>,
}

/// Every shape at once; which fields are present says which it is.
#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    headers: Option<Vec<(String, String)>>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_base64: Option<String>,
    #[serde(default)]
    vendor: Option<String>,
    #[serde(default)]
    received_at: Option<i64>,
    #[serde(default)]
    class: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    /// A fixture's request and time.
    #[serde(default)]
    request: Option<Request>,
    #[serde(default)]
    now: Option<i64>,
}

impl Delivery {
    /// Reads one delivery from one JSON object in any of the three shapes.
    /// The error says what is wrong, never quoting the input.
    pub fn from_json(text: &[u8]) -> Result<Delivery, String> {
        let wire: Wire = serde_json::from_slice(text).map_err(|e| {
            format!("not a delivery (a capture, a refusal-log record or a fixture): {e}")
        })?;
        let (headers, body, body_base64, received_at) = match wire.request {
            Some(request) => {
                if wire.headers.is_some() || wire.body.is_some() || wire.body_base64.is_some() {
                    return Err("a fixture's headers and body belong in its `request`".to_owned());
                }
                (
                    request.headers,
                    request.body,
                    request.body_base64,
                    wire.now.or(wire.received_at),
                )
            }
            None => (
                wire.headers
                    .ok_or("no `headers` (a list of [name, value] pairs)")?,
                wire.body,
                wire.body_base64,
                wire.received_at,
            ),
        };
        let body = match (body, body_base64) {
            (Some(text), None) => text.into_bytes(),
            (None, Some(encoded)) => BASE64
                .decode(encoded.trim())
                .map_err(|e| format!("`body_base64` is not base64: {e}"))?,
            (None, None) => return Err("no `body` nor `body_base64`".to_owned()),
            (Some(_), Some(_)) => return Err("both `body` and `body_base64`".to_owned()),
        };
        Ok(Delivery {
            headers,
            body,
            vendor: wire.vendor,
            received_at,
            class: wire.class,
            reason: wire.reason,
        })
    }

    /// The capture shape, as one JSON line (without its newline): `body`
    /// when the body is UTF-8, `body_base64` otherwise.
    pub fn to_json(&self) -> String {
        let mut object = Map::new();
        object.insert("headers".to_owned(), json!(self.headers));
        let (key, body) = body_field(&self.body);
        object.insert(key.to_owned(), body);
        if let Some(vendor) = &self.vendor {
            object.insert("vendor".to_owned(), json!(vendor));
        }
        if let Some(received_at) = self.received_at {
            object.insert("received_at".to_owned(), json!(received_at));
        }
        Value::Object(object).to_string()
    }
}

/// `("body", text)` for a UTF-8 body, else `("body_base64", encoded)`.
pub fn body_field(body: &[u8]) -> (&'static str, Value) {
    match std::str::from_utf8(body) {
        Ok(text) => ("body", json!(text)),
        Err(_) => ("body_base64", json!(BASE64.encode(body))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_shapes_read_alike() {
        let capture = Delivery::from_json(
            br#"{"headers":[["X-A","1"]],"body":"{}","vendor":"varda","received_at":17}"#,
        )
        .unwrap();
        assert_eq!(capture.headers, vec![("X-A".to_owned(), "1".to_owned())]);
        assert_eq!(
            (
                capture.body.as_slice(),
                capture.vendor.as_deref(),
                capture.received_at
            ),
            (&b"{}"[..], Some("varda"), Some(17))
        );
        let record = Delivery::from_json(
            br#"{"time":"1970-01-01T00:00:17Z","received_at":17,"peer":"127.0.0.1:1","vendor":null,"class":"unauthenticated","reason":"no-match","message":"m","headers":[],"body_base64":"/w=="}"#,
        )
        .unwrap();
        assert_eq!(record.body, vec![0xff]);
        assert_eq!(record.reason.as_deref(), Some("no-match"));
        let fixture = Delivery::from_json(
            br#"{"description":"d","config":{},"now":99,"vendor":"atoms","request":{"headers":[],"body":"x"},"expect":{}}"#,
        )
        .unwrap();
        assert_eq!(
            (
                fixture.body.as_slice(),
                fixture.received_at,
                fixture.vendor.as_deref()
            ),
            (&b"x"[..], Some(99), Some("atoms"))
        );
        // What is written reads back the same.
        assert_eq!(
            Delivery::from_json(record.to_json().as_bytes())
                .unwrap()
                .body,
            record.body
        );
        assert_eq!(
            Delivery::from_json(capture.to_json().as_bytes())
                .unwrap()
                .class,
            None
        );
    }

    #[test]
    fn what_is_not_a_delivery_says_why() {
        for (text, why) in [
            (&b"not json"[..], "not a delivery"),
            (br#"{"body":"x"}"#, "no `headers`"),
            (br#"{"headers":[]}"#, "no `body`"),
            (br#"{"headers":[],"body":"x","body_base64":"eA=="}"#, "both"),
            (br#"{"headers":[],"body_base64":"***"}"#, "not base64"),
            (
                br#"{"headers":[["only-a-name"]],"body":""}"#,
                "not a delivery",
            ),
            (
                br#"{"request":{"headers":[],"body":""},"headers":[]}"#,
                "fixture",
            ),
        ] {
            let error = Delivery::from_json(text).unwrap_err();
            assert!(error.contains(why), "{error}");
        }
    }
}
