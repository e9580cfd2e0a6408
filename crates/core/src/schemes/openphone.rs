//! OpenPhone's legacy scheme (the webhooks of API versions v2-v4):
//! `openphone-signature: hmac;1;<timestamp>;<base64 digest>`.
//!
//! The digest is the standard base64 HMAC-SHA256 of `"{timestamp}.{raw
//! body}"`, with the timestamp text exactly as sent. The timestamp is in unix
//! **milliseconds**; the replay window is the same as every other scheme's
//! (the tolerance in seconds, both ways around `now`), compared in
//! milliseconds. The key is the configured signing key **base64-decoded**; a
//! key that is not base64 cannot be used. A `whsec_` prefix is stripped first,
//! as Standard Webhooks does, so that during a migration to Quo's webhooks
//! one list of secrets can hold the keys of both generations (each scheme's
//! keys simply never match the other's signatures).
//!
//! A header may carry several comma-separated signatures, and a request
//! several headers; entries of another scheme or version than `hmac;1` are
//! ignored, and any entry that verifies passes. When none does, the error is
//! the most telling one: a mismatch, else a timestamp outside the window,
//! else an unparseable header.

use super::{
    EntryCount, Key, KeyForm, Keys, SignInput, SignatureScheme, Verified, VerifyError, base64,
    decode_base64, hmac_sha256, parse_unix,
};
use crate::request::Request;
use crate::time::SignedTime;

/// The header carrying the signatures.
pub const SIGNATURE_HEADER: &str = "openphone-signature";
/// The signature scheme named in each entry.
pub const SCHEME: &str = "hmac";
/// The signature version named in each entry.
pub const VERSION: &str = "1";

/// Timestamps of this value and above are taken as already in milliseconds
/// by [`millis`] (as seconds they would lie past the year 5000).
const MILLIS_FROM: i64 = 100_000_000_000;

/// OpenPhone's legacy scheme, the openphone family's default for requests
/// without a `webhook-signature`. Keys are base64-decoded.
#[derive(Debug, Clone, Copy)]
pub struct OpenPhone;

impl SignatureScheme for OpenPhone {
    fn name(&self) -> &'static str {
        "openphone"
    }

    fn key_form(&self) -> KeyForm {
        KeyForm::Base64
    }

    /// Every entry of every `openphone-signature` header is read (at most
    /// [`MAX_SIGNATURES`](super::MAX_SIGNATURES) in all); each distinct
    /// timestamp within the window is hashed once per key.
    fn verify_at(
        &self,
        keys: &Keys,
        request: &Request<'_>,
        now: i64,
        tolerance: u64,
    ) -> Result<Verified, VerifyError> {
        let mut count = EntryCount::new(SIGNATURE_HEADER);
        let mut failure = Failure::None;
        let mut saw_header = false;
        // Signatures by the timestamp text they sign, in window.
        let mut signed: Vec<(&str, i64, Vec<Vec<u8>>)> = Vec::new();
        for value in request.headers_named(SIGNATURE_HEADER) {
            saw_header = true;
            for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                count.add()?;
                let (timestamp_text, timestamp, signature) = match parse_entry(entry) {
                    Ok(Some(parsed)) => parsed,
                    Ok(None) => continue,
                    Err(error) => {
                        failure = failure.worse(error);
                        continue;
                    }
                };
                if let Err(error) = check_window_millis(timestamp, now, tolerance) {
                    failure = failure.worse(error);
                    continue;
                }
                let candidate = decode_base64(signature);
                match signed.iter_mut().find(|(text, ..)| *text == timestamp_text) {
                    Some((.., candidates)) => candidates.extend(candidate),
                    None => {
                        signed.push((timestamp_text, timestamp, candidate.into_iter().collect()))
                    }
                }
            }
        }
        for (timestamp_text, timestamp, candidates) in &signed {
            let content = [timestamp_text.as_bytes(), b".", request.body()];
            if keys.any_matches(&content, candidates) {
                return Ok(Verified::at(SignedTime::Millis(*timestamp)));
            }
            failure = failure.worse(VerifyError::Mismatch(SIGNATURE_HEADER.to_owned()));
        }
        Err(match failure {
            _ if !saw_header => VerifyError::MissingHeader(SIGNATURE_HEADER),
            Failure::None => unparseable("no hmac;1 signature"),
            Failure::Unparseable(error) | Failure::Window(error) | Failure::Mismatch(error) => {
                error
            }
        })
    }

    /// Signs at `input.timestamp`, taken as milliseconds when it already is
    /// one (see [`millis`]).
    fn sign(&self, key: &Key, input: SignInput<'_>) -> Vec<(String, String)> {
        let t = millis(input.timestamp).to_string();
        let digest = hmac_sha256(key.bytes(), &[t.as_bytes(), b".", input.body]);
        let value = format!("{SCHEME};{VERSION};{t};{}", base64(&digest));
        vec![(SIGNATURE_HEADER.to_owned(), value)]
    }
}

/// One `hmac;1;<ms>;<base64>` entry: its timestamp as sent and as a number,
/// and its signature; `None` for another scheme or version, which is
/// skipped.
fn parse_entry(entry: &str) -> Result<Option<(&str, i64, &str)>, VerifyError> {
    let mut parts = entry.split(';').map(str::trim);
    let (Some(scheme), Some(version)) = (parts.next(), parts.next()) else {
        return Err(unparseable("expected hmac;1;<timestamp>;<signature>"));
    };
    if !scheme.eq_ignore_ascii_case(SCHEME) || version != VERSION {
        return Ok(None);
    }
    let (Some(timestamp_text), Some(signature), None) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(unparseable("expected hmac;1;<timestamp>;<signature>"));
    };
    let timestamp = parse_unix(timestamp_text)
        .ok_or_else(|| unparseable("the timestamp is not unix milliseconds"))?;
    Ok(Some((timestamp_text, timestamp, signature)))
}

enum Failure {
    None,
    Unparseable(VerifyError),
    Window(VerifyError),
    Mismatch(VerifyError),
}

impl Failure {
    fn rank(&self) -> u8 {
        match self {
            Failure::None => 0,
            Failure::Unparseable(_) => 1,
            Failure::Window(_) => 2,
            Failure::Mismatch(_) => 3,
        }
    }

    fn worse(self, error: VerifyError) -> Failure {
        let next = match error {
            error @ VerifyError::Mismatch(_) => Failure::Mismatch(error),
            error @ (VerifyError::TimestampTooOld { .. }
            | VerifyError::TimestampInFuture { .. }) => Failure::Window(error),
            error => Failure::Unparseable(error),
        };
        if next.rank() > self.rank() {
            next
        } else {
            self
        }
    }
}

fn unparseable(reason: &'static str) -> VerifyError {
    VerifyError::UnparseableHeader {
        header: SIGNATURE_HEADER.to_owned(),
        reason,
    }
}

/// Refuses a millisecond timestamp more than `tolerance` seconds from `now`
/// (unix seconds). Ages are reported in whole seconds, rounded up, so that a
/// refused timestamp is never said to be within the tolerance.
fn check_window_millis(timestamp: i64, now: i64, tolerance: u64) -> Result<(), VerifyError> {
    let delta = i128::from(now) * 1000 - i128::from(timestamp);
    let distance = delta.unsigned_abs();
    if distance <= u128::from(tolerance) * 1000 {
        return Ok(());
    }
    let seconds = u64::try_from(distance.div_ceil(1000)).unwrap_or(u64::MAX);
    Err(if delta > 0 {
        VerifyError::TimestampTooOld {
            timestamp,
            age: seconds,
            tolerance,
        }
    } else {
        VerifyError::TimestampInFuture {
            timestamp,
            ahead: seconds,
            tolerance,
        }
    })
}

/// A signing timestamp in milliseconds: `timestamp` as it is when it is
/// already milliseconds (10^11 and above), else seconds times 1000.
pub fn millis(timestamp: i64) -> i64 {
    if timestamp.unsigned_abs() >= MILLIS_FROM.unsigned_abs() {
        timestamp
    } else {
        timestamp.saturating_mul(1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use crate::schemes::MAX_SIGNATURES;

    fn keys(keys: &[&str]) -> Result<Keys, crate::ConfigError> {
        let secrets: Vec<Secret> = keys.iter().map(|k| Secret::new(*k)).collect();
        Keys::new("openphone", "openphone", &secrets, KeyForm::Base64)
    }

    fn sign(key: &str, timestamp: i64, body: &[u8]) -> String {
        let key = KeyForm::Base64.key(key).unwrap();
        let input = SignInput {
            body,
            timestamp,
            id: "",
        };
        OpenPhone.sign(&key, input).remove(0).1
    }

    const KEY: &str = "R2ZLM2o0bFhBNVpyUnU2NG9mYXQ1MHNyR3pvSUhIVVg=";
    const BODY: &[u8] = br#"{"id":"EVtest","object":"event","apiVersion":"v3","createdAt":"2022-01-24T19:22:25.427Z","type":"call.completed","data":{"object":{"id":"ACtest","object":"call","status":"completed"}}}"#;
    const VECTOR: &str = "hmac;1;1639710054089;RIqtvxSIaY8ERuw3v48sSBOk3fgAozMWeXBRYpRVv3g=";
    const NOW: i64 = 1639710054;

    fn verify_with(header: &str, keys: &[&str], now: i64) -> Result<Verified, VerifyError> {
        OpenPhone.verify_at(
            &self::keys(keys).unwrap(),
            &Request::new([("OpenPhone-Signature", header)], BODY),
            now,
            300,
        )
    }

    fn verify(header: &str, now: i64) -> Result<Verified, VerifyError> {
        verify_with(header, &[KEY], now)
    }

    #[test]
    fn published_vector_signs_and_verifies() {
        let signed = sign(KEY, 1639710054089, BODY);
        assert_eq!(signed, VECTOR);
        let verified = verify(VECTOR, NOW).unwrap();
        assert_eq!(verified.signed_at, Some(SignedTime::Millis(1639710054089)));
        assert_eq!(verified.webhook_id, None);
    }

    #[test]
    fn the_key_is_base64_decoded_not_used_as_text() {
        let raw = hmac_sha256(KEY.as_bytes(), &[b"1639710054089.", BODY]);
        let header = format!("hmac;1;1639710054089;{}", base64(&raw));
        assert_eq!(
            verify(&header, NOW),
            Err(VerifyError::Mismatch(SIGNATURE_HEADER.into()))
        );
        // A whsec_ prefix is stripped: the same key written as Quo writes its
        // keys still verifies.
        let prefixed = format!("whsec_{KEY}");
        assert!(verify_with(VECTOR, &[&prefixed], NOW).is_ok());
    }

    #[test]
    fn several_signatures_and_keys() {
        let header = format!("hmac;1;1639710054089;AAAA, hmac;2;1;x,{VECTOR}");
        assert!(verify(&header, NOW).is_ok());
        assert!(verify_with(VECTOR, &["b3RoZXIta2V5", KEY], NOW).is_ok());
        assert_eq!(
            verify_with(VECTOR, &["b3RoZXIta2V5"], NOW),
            Err(VerifyError::Mismatch(SIGNATURE_HEADER.into()))
        );
    }

    #[test]
    fn replay_window_in_milliseconds() {
        // Exactly 300 s either way passes; a millisecond more does not.
        assert!(verify(VECTOR, (1639710054089 + 300_000) / 1000).is_ok());
        let err = verify(VECTOR, 1639710054 + 301).unwrap_err();
        assert!(
            matches!(err, VerifyError::TimestampTooOld { age: 301, .. }),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "timestamp 1639710054089 is 301 s older than the 300 s tolerance"
        );
        let err = verify(VECTOR, 1639710054 - 300).unwrap_err();
        assert!(
            matches!(err, VerifyError::TimestampInFuture { ahead: 301, .. }),
            "{err}"
        );
        assert!(check_window_millis(0, i64::MAX, u64::MAX).is_ok());
        assert!(check_window_millis(i64::MAX, i64::MIN, 300).is_err());
        assert!(check_window_millis(i64::MIN, i64::MAX, 0).is_err());
    }

    #[test]
    fn a_mismatch_is_reported_over_a_stale_entry() {
        let header = "hmac;1;1;AAAA,hmac;1;1639710054089;AAAA";
        assert_eq!(
            verify(header, NOW),
            Err(VerifyError::Mismatch(SIGNATURE_HEADER.into()))
        );
    }

    #[test]
    fn garbage_is_unparseable_never_a_panic() {
        for header in [
            "",
            ",",
            "hmac",
            "hmac;1",
            "hmac;1;1639710054089",
            "hmac;1;abc;AAAA",
            "hmac;1;-5;AAAA",
            "hmac;1;1639710054089;AAAA;extra",
            "hmac;2;1639710054089;AAAA",
            "sha1;1;1639710054089;AAAA",
        ] {
            let err = verify(header, NOW).unwrap_err();
            assert!(
                matches!(err, VerifyError::UnparseableHeader { .. }),
                "{header}: {err}"
            );
        }
        assert_eq!(
            verify("hmac;1;1639710054089;!!", NOW),
            Err(VerifyError::Mismatch(SIGNATURE_HEADER.into()))
        );
        let err = OpenPhone
            .verify_at(&keys(&[KEY]).unwrap(), &Request::new([], BODY), NOW, 300)
            .unwrap_err();
        assert_eq!(err, VerifyError::MissingHeader(SIGNATURE_HEADER));
    }

    #[test]
    fn unusable_keys_are_named_not_shown() {
        for key in ["not base64!", "whsec_%%%", ""] {
            let err = keys(&[KEY, key]).unwrap_err();
            let message = err.to_string();
            assert!(
                message.starts_with(
                    "vendors.openphone.secrets: secret 2 of openphone cannot be used with openphone"
                ),
                "{message}"
            );
            assert!(key.is_empty() || !message.contains(key), "{message}");
        }
    }

    #[test]
    fn the_scheme_is_not_configurable_by_name() {
        let err = crate::config::Scheme::from_name("openphone").unwrap_err();
        assert!(err.contains("vendor-default"), "{err}");
    }

    #[test]
    fn signing_timestamps_become_milliseconds() {
        assert_eq!(millis(1639710054), 1639710054000);
        assert_eq!(millis(1639710054089), 1639710054089);
        assert_eq!(millis(0), 0);
        assert_eq!(millis(i64::MAX / 10), i64::MAX / 10);
    }

    #[test]
    fn signature_floods_are_refused_before_hashing() {
        let flood = vec!["hmac;1;1639710054089;AAAA"; 14_000].join(",");
        assert_eq!(
            verify(&flood, NOW),
            Err(VerifyError::TooManySignatures {
                header: SIGNATURE_HEADER.into(),
                limit: MAX_SIGNATURES
            })
        );
        let rotation = format!("hmac;1;1639710054089;AAAA,hmac;1;1639710054089;BBBB,{VECTOR}");
        assert!(verify(&rotation, NOW).is_ok());
    }
}
