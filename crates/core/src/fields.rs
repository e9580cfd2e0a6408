//! Lenient readers for vendor payloads, and the normalization rules every
//! vendor shares: ids as strings, directions, phone numbers, times.
//!
//! `null` counts as absent everywhere; a field of an unexpected type is
//! treated as absent too (it stays visible in `raw`). Text is borrowed from
//! the body wherever it is passed on as it is.

use std::borrow::Cow;

use serde_json::Number;

use crate::json::{Text, Value};
use crate::time;

/// A JSON object of the payload.
pub type Object<'a> = crate::json::Object<'a>;

/// The value at `key`, unless absent or `null`.
pub fn get<'p, 'a>(object: &'p Object<'a>, key: &str) -> Option<&'p Value<'a>> {
    object.get(key).filter(|v| !v.is_null())
}

/// The first of `keys` that is present and not `null`.
pub fn first<'p, 'a>(object: &'p Object<'a>, keys: &[&str]) -> Option<&'p Value<'a>> {
    keys.iter().find_map(|key| get(object, key))
}

/// The object at `key`.
pub fn object<'p, 'a>(object: &'p Object<'a>, key: &str) -> Option<&'p Object<'a>> {
    get(object, key)?.as_object()
}

/// A string field, verbatim.
pub fn string<'a>(object: &Object<'a>, key: &str) -> Option<Text<'a>> {
    get(object, key)?.as_text()
}

/// An id: a non-empty string as it is, an integer written in decimal.
pub fn id<'a>(object: &Object<'a>, key: &str) -> Option<Text<'a>> {
    id_value(get(object, key)?)
}

/// [`id`] of a value.
pub fn id_value<'a>(value: &Value<'a>) -> Option<Text<'a>> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

/// A number (integer or float kept as given); digits in a string count too.
pub fn number(object: &Object<'_>, key: &str) -> Option<Number> {
    match get(object, key)? {
        Value::Number(n) => Some(n.clone()),
        Value::String(s) => crate::json::number(s.trim()),
        _ => None,
    }
}

/// Money in integer cents: an integer, an integral float, or a string of
/// digits. Anything with a fraction of a cent is treated as absent rather
/// than rounded.
pub fn cents(object: &Object<'_>, key: &str) -> Option<i64> {
    match get(object, key)? {
        Value::Number(n) => n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A time: RFC 3339 rewritten in UTC, unix seconds or milliseconds (as a
/// number or digits) converted. Text that is not a time is kept verbatim.
pub fn time<'a>(object: &Object<'a>, key: &str) -> Option<Text<'a>> {
    match get(object, key)? {
        Value::String(s) => Some(match time::rewrite_rfc3339(s) {
            // Already written as it would be rewritten: the text as it is.
            Some(None) => s.clone(),
            Some(Some(rewritten)) => Cow::Owned(rewritten),
            None => s
                .trim()
                .parse()
                .ok()
                .and_then(time::from_unix_number)
                .map_or_else(|| s.clone(), Cow::Owned),
        }),
        Value::Number(n) => time::from_unix_number(n.as_i64()?).map(Cow::Owned),
        _ => None,
    }
}

/// A time for the event's `time` attribute, which must be RFC 3339: like
/// [`time`], but `None` for text that is not a time.
pub fn strict_time(object: &Object<'_>, key: &str) -> Option<String> {
    match get(object, key)? {
        Value::String(s) => time::normalize_rfc3339(s),
        Value::Number(n) => time::from_unix_number(n.as_i64()?),
        _ => None,
    }
}

/// A direction, normalized: `incoming`, `inbound`, `INBOUND`,
/// `telephony_inbound`, `telephonyInbound` → `inbound`, and likewise
/// `outbound`. Any other value is kept verbatim.
pub fn direction<'a>(object: &Object<'a>, key: &str) -> Option<Text<'a>> {
    string(object, key).map(normalize_direction)
}

/// [`direction`] of a string.
pub fn normalize_direction<'a>(direction: impl Into<Text<'a>>) -> Text<'a> {
    let direction = direction.into();
    let prefix = "telephony";
    let mut word = direction.as_ref();
    if word.len() >= prefix.len() && word.is_char_boundary(prefix.len()) {
        let (head, tail) = word.split_at(prefix.len());
        if head.eq_ignore_ascii_case(prefix) {
            word = tail.strip_prefix('_').unwrap_or(tail);
        }
    }
    let is = |name: &str| word.eq_ignore_ascii_case(name);
    if is("inbound") || is("incoming") {
        Cow::Borrowed("inbound")
    } else if is("outbound") || is("outgoing") {
        Cow::Borrowed("outbound")
    } else {
        direction
    }
}

/// A phone number: spaces, dashes, dots and parentheses are stripped when
/// what remains is `+` followed by digits; anything else is kept verbatim
/// (no country is ever guessed).
pub fn phone<'a>(object: &Object<'a>, key: &str) -> Option<Text<'a>> {
    string(object, key).map(normalize_phone)
}

/// [`phone`] of a string.
pub fn normalize_phone<'a>(phone: impl Into<Text<'a>>) -> Text<'a> {
    let phone = phone.into();
    let separator = |b: u8| matches!(b, b' ' | b'-' | b'.' | b'(' | b')');
    // Only separators, one `+` before any digit, then at least one digit.
    let (mut plus, mut digits, mut separators) = (false, 0usize, false);
    for b in phone.bytes() {
        match b {
            _ if separator(b) => separators = true,
            b'+' if !plus => plus = true,
            b'0'..=b'9' if plus => digits += 1,
            _ => return phone,
        }
    }
    if !plus || digits == 0 || !separators {
        return phone;
    }
    Cow::Owned(
        phone
            .bytes()
            .filter(|&b| !separator(b))
            .map(char::from)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(value: serde_json::Value) -> Object<'static> {
        Value::from_serde(value).as_object().cloned().unwrap()
    }

    #[test]
    fn ids_are_strings() {
        let o = obj(json!({"a": 123, "b": "AC1", "c": "", "d": 1.5, "e": null}));
        assert_eq!(id(&o, "a").as_deref(), Some("123"));
        assert_eq!(id(&o, "b").as_deref(), Some("AC1"));
        assert_eq!(id(&o, "c"), None);
        assert_eq!(id(&o, "d"), None);
        assert_eq!(id(&o, "e"), None);
    }

    #[test]
    fn directions() {
        for d in [
            "incoming",
            "inbound",
            "INBOUND",
            "telephony_inbound",
            "telephonyInbound",
        ] {
            assert_eq!(normalize_direction(d), "inbound", "{d}");
        }
        for d in [
            "outgoing",
            "Outbound",
            "telephony_outbound",
            "telephonyOutbound",
        ] {
            assert_eq!(normalize_direction(d), "outbound", "{d}");
        }
        assert_eq!(normalize_direction("sideways"), "sideways");
    }

    #[test]
    fn phones() {
        assert_eq!(normalize_phone("+1 (800) 555-1234"), "+18005551234");
        assert_eq!(normalize_phone("+44.20.7946.0958"), "+442079460958");
        assert_eq!(normalize_phone("(800) 555-1234"), "(800) 555-1234");
        assert_eq!(normalize_phone("+1 800 CALL-NOW"), "+1 800 CALL-NOW");
        assert_eq!(normalize_phone("+"), "+");
    }

    #[test]
    fn money_is_integer_cents() {
        let o = obj(json!({"a": 250000, "b": 2500.0, "c": 25.5, "d": "300", "e": true}));
        assert_eq!(cents(&o, "a"), Some(250000));
        assert_eq!(cents(&o, "b"), Some(2500));
        assert_eq!(cents(&o, "c"), None);
        assert_eq!(cents(&o, "d"), Some(300));
        assert_eq!(cents(&o, "e"), None);
    }

    #[test]
    fn times() {
        let o = obj(
            json!({"a": "2026-03-25T18:30:00+01:00", "b": 1711411200, "c": "soon", "d": "1711411200"}),
        );
        assert_eq!(time(&o, "a").as_deref(), Some("2026-03-25T17:30:00Z"));
        assert_eq!(time(&o, "b").as_deref(), Some("2024-03-26T00:00:00Z"));
        assert_eq!(time(&o, "c").as_deref(), Some("soon"));
        assert_eq!(strict_time(&o, "c"), None);
        assert_eq!(time(&o, "d").as_deref(), Some("2024-03-26T00:00:00Z"));
    }
}
