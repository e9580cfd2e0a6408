//! Varda's scheme: `X-Varda-Signature: t=<unix seconds>,v1=<hex>`, the
//! lowercase hex HMAC-SHA256 of `"{t}.{raw body}"` keyed with the secret's
//! UTF-8 bytes. Pairs may come in any order, and several `v1` may appear
//! (any one matching passes); unknown keys are ignored.

use super::{Keys, Verified, VerifyError, check_window, decode_hex, hex, hmac_sha256, parse_unix};
use crate::config::Secret;
use crate::request::Request;
use crate::time::SignedTime;

/// The header carrying the timestamp and signatures.
pub const SIGNATURE_HEADER: &str = "X-Varda-Signature";
/// The header naming the event type.
pub const EVENT_HEADER: &str = "X-Varda-Event";
/// The header carrying the delivery id.
pub const DELIVERY_HEADER: &str = "X-Varda-Delivery";

/// Verifies Varda deliveries against a set of secrets.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: Keys,
}

impl Verifier {
    /// A verifier trying each of `secrets` (any UTF-8 string is a key).
    pub fn new(secrets: &[Secret]) -> Verifier {
        Verifier {
            keys: Keys::utf8(secrets),
        }
    }

    /// Verifies `request` at `now` (unix seconds), refusing timestamps more
    /// than `tolerance` seconds away. Every `X-Varda-Signature` header is
    /// tried; the first that verifies wins.
    pub fn verify_at(
        &self,
        request: &Request<'_>,
        now: i64,
        tolerance: u64,
    ) -> Result<Verified, VerifyError> {
        let mut outcome = Err(VerifyError::MissingHeader(SIGNATURE_HEADER));
        for value in request.headers_named(SIGNATURE_HEADER) {
            outcome = self.verify_one(value, request.body(), now, tolerance);
            if outcome.is_ok() {
                break;
            }
        }
        outcome
    }

    fn verify_one(
        &self,
        header: &str,
        body: &[u8],
        now: i64,
        tolerance: u64,
    ) -> Result<Verified, VerifyError> {
        let parsed = parse_header(header)?;
        check_window(parsed.timestamp, now, tolerance)?;
        if self.keys.any_matches(
            &[parsed.timestamp_text.as_bytes(), b".", body],
            &parsed.signatures,
        ) {
            Ok(Verified {
                scheme: "varda",
                signed_at: Some(SignedTime::Seconds(parsed.timestamp)),
                webhook_id: None,
            })
        } else {
            Err(VerifyError::Mismatch(SIGNATURE_HEADER.to_owned()))
        }
    }
}

struct Parsed<'h> {
    timestamp: i64,
    /// `t` exactly as sent: the signed content uses the text, not the number.
    timestamp_text: &'h str,
    /// The decoded `v1` digests; ones that are not hex are left out, as they
    /// can match nothing.
    signatures: Vec<Vec<u8>>,
}

fn parse_header(header: &str) -> Result<Parsed<'_>, VerifyError> {
    let unparseable = |reason| VerifyError::UnparseableHeader {
        header: SIGNATURE_HEADER.to_owned(),
        reason,
    };
    let mut timestamp = None;
    let mut signatures = Vec::new();
    let mut saw_v1 = false;
    for pair in header.split(',') {
        let Some((key, value)) = pair.trim().split_once('=') else {
            return Err(unparseable("expected comma-separated key=value pairs"));
        };
        match key.trim() {
            "t" => {
                if timestamp.is_some() {
                    return Err(unparseable("more than one t="));
                }
                let text = value.trim();
                let t =
                    parse_unix(text).ok_or_else(|| unparseable("t= is not a unix timestamp"))?;
                timestamp = Some((t, text));
            }
            "v1" => {
                saw_v1 = true;
                signatures.extend(decode_hex(value.trim()));
            }
            _ => {}
        }
    }
    let (timestamp, timestamp_text) = timestamp.ok_or_else(|| unparseable("no t= timestamp"))?;
    if !saw_v1 {
        return Err(unparseable("no v1= signature"));
    }
    Ok(Parsed {
        timestamp,
        timestamp_text,
        signatures,
    })
}

/// The `X-Varda-Signature` value Varda would send for `body` at `timestamp`.
pub fn sign(secret: &Secret, timestamp: i64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    let digest = hmac_sha256(secret.expose().as_bytes(), &[t.as_bytes(), b".", body]);
    format!("t={t},v1={}", hex(&digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] =
        br#"{"event":"call.ended","timestamp":"2026-03-25T18:35:00Z","data":{"id":42}}"#;
    const VECTOR: &str =
        "t=1711411200,v1=85afa0623ef8797b3f36226284f6bf92856b4ea0ad2033defc1b2dae74999725";

    fn verify(header: &str, secrets: &[&str], now: i64) -> Result<Verified, VerifyError> {
        let secrets: Vec<Secret> = secrets.iter().map(|s| Secret::new(*s)).collect();
        Verifier::new(&secrets).verify_at(
            &Request::new([(SIGNATURE_HEADER, header)], BODY),
            now,
            300,
        )
    }

    #[test]
    fn published_vector_signs_and_verifies() {
        assert_eq!(sign(&Secret::new("test_secret"), 1711411200, BODY), VECTOR);
        let verified = verify(VECTOR, &["test_secret"], 1711411200).unwrap();
        assert_eq!(verified.scheme, "varda");
        assert_eq!(verified.signed_at, Some(SignedTime::Seconds(1711411200)));
    }

    #[test]
    fn order_extra_keys_and_several_v1() {
        let sig = &VECTOR["t=1711411200,".len()..];
        let header = format!("v0=abc, v1=00, {sig} , t=1711411200");
        assert!(verify(&header, &["test_secret"], 1711411200).is_ok());
        assert!(verify(VECTOR, &["old", "test_secret"], 1711411200).is_ok());
        assert_eq!(
            verify(VECTOR, &["other"], 1711411200),
            Err(VerifyError::Mismatch(SIGNATURE_HEADER.into()))
        );
    }

    #[test]
    fn garbage_is_unparseable_never_a_panic() {
        for header in [
            "",
            "t",
            "t=abc,v1=00",
            "v1=00",
            "t=1711411200",
            "t=1,t=2,v1=00",
            "t=1711411200;v1=00",
        ] {
            let err = verify(header, &["test_secret"], 1711411200).unwrap_err();
            assert!(
                matches!(err, VerifyError::UnparseableHeader { .. }),
                "{header}: {err}"
            );
        }
        let err = verify("t=1711411200,v1=zz", &["test_secret"], 1711411200).unwrap_err();
        assert_eq!(err, VerifyError::Mismatch(SIGNATURE_HEADER.into()));
    }
}
