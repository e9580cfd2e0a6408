//! What switchboard's fuzz targets share: the input formats, the fixture
//! cases they start from, and the invariants every outcome must satisfy.
//!
//! The targets use only the core's public API (`process`, `process_json`,
//! `Config::from_json`, and `toml::from_str::<Config>` as the CLI reads its
//! file). Every outcome is checked, not only the absence of a panic: an
//! event's JSON parses and carries the CloudEvents attributes, an error is of
//! a class the call can produce, and no configured secret appears in an
//! output unless the request itself carried it.
//!
//! Input formats (`fuzz/seeds.py` writes the seeds from `fixtures/`):
//!
//! - *header lines*: `Name: value` lines separated by `\n`; the one space
//!   after the colon is dropped, a line without a colon is a header with an
//!   empty value, and invalid UTF-8 is replaced (`U+FFFD`);
//! - *a message*: header lines, an empty line (`\n\n`), then the raw body.

use serde_json::Value;
use switchboard_core::{Config, Error, ErrorClass, Event, FAMILIES, Request, process};
use switchboard_fixtures::{Expect, Fixture};

/// The `now` of the targets that take no fixture's: the Varda published
/// vector's.
pub const NOW: i64 = 1_711_411_200;

/// The headers written in `text` as header lines.
pub fn header_lines(text: &str) -> Vec<(&str, &str)> {
    text.split('\n')
        .filter(|line| !line.is_empty())
        .map(|line| match line.split_once(':') {
            Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        })
        .collect()
}

/// A message's header lines (as text) and its body.
pub fn split_message(data: &[u8]) -> (String, &[u8]) {
    let (head, body) = match data.windows(2).position(|pair| pair == b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &[][..]),
    };
    (String::from_utf8_lossy(head).into_owned(), body)
}

/// A fixture case whose request verifies: the body, configuration, vendor
/// and `now` a header-parsing target keeps while the headers come from the
/// fuzz input.
#[derive(Debug)]
pub struct Base {
    fixture: Fixture,
    config: Config,
    vendor: String,
    expected: Value,
}

impl Base {
    /// The case `name` (its path under `fixtures/`). Panics unless it is a
    /// case whose own headers verify and give its expected event, so that a
    /// target can never silently lose its success path.
    pub fn load(name: &str) -> Base {
        let fixture = switchboard_fixtures::load(&switchboard_fixtures::dir().join(name));
        let config = Config::from_json(&fixture.config_json())
            .unwrap_or_else(|e| panic!("{name}: the configuration does not load: {e}"));
        // The vendor is named even where the case detects it: fuzzed headers
        // must reach this vendor's verification, not another family's.
        let enabled: Vec<&String> = config.vendors.keys().collect();
        let vendor = match (&fixture.vendor, &enabled[..]) {
            (Some(vendor), _) => vendor.clone(),
            (None, [only]) => (*only).clone(),
            _ => panic!("{name}: a base names its vendor or enables only one"),
        };
        let Expect::Event(expected) = fixture.expect.clone() else {
            panic!("{name}: a base is a case that gives an event");
        };
        let base = Base {
            fixture,
            config,
            vendor,
            expected,
        };
        let own = base.fixture.headers.iter();
        match base.process(own.map(|(n, v)| (n.as_str(), v.as_str()))) {
            Ok(event) if check_event(&event) == base.expected => base,
            outcome => panic!("{name}: its own request does not give its event: {outcome:?}"),
        }
    }

    /// The base's request with `headers` instead of its own.
    pub fn process<'a>(
        &'a self,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Event<'a>, Error> {
        let request = Request::new(headers, &self.fixture.body);
        process(&request, Some(&self.vendor), &self.config, self.fixture.now)
    }

    /// Runs the base's request with the headers written in `data` and
    /// checks the outcome: the body is the base's, so it either verifies
    /// and gives exactly the base's event (whatever else the headers carry,
    /// what verified is what the base signed), or it is `unauthenticated`.
    pub fn check_headers(&self, data: &[u8]) {
        let text = String::from_utf8_lossy(data);
        let outcome = self.process(header_lines(&text));
        let shown = match &outcome {
            Ok(event) => {
                let json = check_event(event);
                assert_eq!(json, self.expected, "a different event verified");
                event.to_json()
            }
            Err(error) => {
                check_error(error, &[ErrorClass::Unauthenticated]);
                error.to_string()
            }
        };
        assert_no_secret(&shown, &self.fixture.secrets(), &text);
    }
}

/// Checks every base against the headers written in `data`.
pub fn check_headers(bases: &[Base], data: &[u8]) {
    for base in bases {
        base.check_headers(data);
    }
}

/// Checks an event and returns its JSON: the JSON parses and carries the
/// CloudEvents attributes as normalized-events.md writes them.
pub fn check_event(event: &Event<'_>) -> Value {
    let text = event.to_json();
    let json: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the event's JSON does not parse ({e}): {text}"));
    check_event_json(&json);
    json
}

/// Checks an event's JSON document.
pub fn check_event_json(json: &Value) {
    let string = |key: &str| {
        json.get(key)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("the event has no string `{key}`: {json}"))
    };
    assert_eq!(string("specversion"), "1.0", "{json}");
    assert_eq!(string("datacontenttype"), "application/json", "{json}");
    assert!(!string("id").is_empty(), "empty id: {json}");
    assert!(!string("type").is_empty(), "empty type: {json}");
    assert!(!string("verification").is_empty(), "{json}");
    string("vendorevent");
    let vendor = string("vendor");
    assert!(
        FAMILIES.iter().any(|family| family.name() == vendor),
        "unknown vendor: {json}"
    );
    let source = string("source");
    let root = format!("/{vendor}");
    assert!(
        source == root || source.starts_with(&format!("{root}/")),
        "source outside /{vendor}: {json}"
    );
    if json.get("subject").is_some() {
        string("subject");
    }
    if json.get("time").is_some() {
        assert!(
            is_rfc3339_utc(string("time")),
            "time not RFC 3339 UTC: {json}"
        );
    }
    assert!(
        json.get("data").is_some_and(Value::is_object),
        "no data object: {json}"
    );
}

/// Checks an error: its class is one of `allowed` and it says something.
pub fn check_error(error: &Error, allowed: &[ErrorClass]) {
    let class = error.class();
    assert!(
        allowed.contains(&class),
        "{class} is not among {allowed:?}: {error}"
    );
    assert!(!error.to_string().is_empty(), "{class} without a message");
}

/// Checks that no secret of `secrets` appears in `output` unless the input
/// (`input`, the request as text) carried it.
pub fn assert_no_secret(output: &str, secrets: &[String], input: &str) {
    for secret in secrets {
        if !secret.is_empty() && !input.contains(secret.as_str()) {
            assert!(
                !output.contains(secret.as_str()),
                "a secret leaked: {output}"
            );
        }
    }
}

/// Whether `text` is an RFC 3339 UTC date-time as events write them:
/// `YYYY-MM-DDTHH:MM:SS`, optional fraction digits, `Z`.
pub fn is_rfc3339_utc(text: &str) -> bool {
    let b = text.as_bytes();
    let number = |at: usize, len: usize| -> Option<u32> {
        let digits = b.get(at..at + len)?;
        digits.iter().try_fold(0, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    let fields = (
        number(0, 4),
        number(5, 2),
        number(8, 2),
        number(11, 2),
        number(14, 2),
        number(17, 2),
    );
    let (Some(_), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = fields else {
        return false;
    };
    let separators = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':';
    let fraction = match &b[19.min(b.len())..] {
        [b'Z'] => true,
        [b'.', rest @ .., b'Z'] => !rest.is_empty() && rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    separators
        && fraction
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour <= 23
        && minute <= 59
        && second <= 59
}

/// One vendor's normalization, reached directly: the vendor is enabled with
/// `"scheme": "none"`, so every body goes past verification.
#[derive(Debug)]
pub struct Normalizer {
    vendor: &'static str,
    config: Config,
}

impl Normalizer {
    /// The normalizer of `vendor`.
    pub fn new(vendor: &'static str) -> Normalizer {
        let json = format!(r#"{{"vendors": {{"{vendor}": {{"scheme": "none"}}}}}}"#);
        let config = Config::from_json(&json)
            .unwrap_or_else(|e| panic!("the {vendor} normalization configuration: {e}"));
        Normalizer { vendor, config }
    }

    /// Processes `body` as this vendor's unsigned delivery: an event of this
    /// vendor, unverified, whose `data.raw` is the body as parsed; or a
    /// `malformed` error, the only class left once the vendor is named and
    /// nothing is verified.
    pub fn check(&self, body: &[u8]) {
        let request = Request::new([], body);
        match process(&request, Some(self.vendor), &self.config, NOW) {
            Ok(event) => {
                let json = check_event(&event);
                assert_eq!(json["vendor"], self.vendor, "{json}");
                assert_eq!(json["verification"], "none", "{json}");
                let payload: Value = serde_json::from_slice(body).expect("an event's body is JSON");
                assert_eq!(json["data"]["raw"], payload, "raw is not the body");
            }
            Err(error) => check_error(&error, &[ErrorClass::Malformed]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lines_and_messages() {
        assert_eq!(
            header_lines("A: 1\n\nB:2\nC\nD:  x"),
            [("A", "1"), ("B", "2"), ("C", ""), ("D", " x")]
        );
        let (head, body) = split_message(b"A: 1\n\n{\n\n}");
        assert_eq!((head.as_str(), body), ("A: 1", &b"{\n\n}"[..]));
        assert_eq!(split_message(b"A: 1").1, b"");
    }

    #[test]
    fn rfc3339_shapes() {
        assert!(is_rfc3339_utc("2026-03-25T18:35:00Z"));
        assert!(is_rfc3339_utc("2026-03-25T18:35:00.123Z"));
        assert!(!is_rfc3339_utc("2026-03-25T18:35:00.Z"));
        assert!(!is_rfc3339_utc("2026-03-25T18:35:00+00:00"));
        assert!(!is_rfc3339_utc("2026-13-25T18:35:00Z"));
        assert!(!is_rfc3339_utc("2026-03-25 18:35:00Z"));
        assert!(!is_rfc3339_utc("2026-03-25T18:35"));
    }
}
