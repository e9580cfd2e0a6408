//! Varda's scheme: `X-Varda-Signature: t=<unix seconds>,v1=<hex>`, the
//! lowercase hex HMAC-SHA256 of `"{t}.{raw body}"` keyed with the secret's
//! UTF-8 bytes. Pairs may come in any order, and several `v1` may appear
//! (any one matching passes); unknown keys are ignored.

use super::{
    EntryCount, Key, Keys, SignInput, SignatureScheme, Verified, VerifyError, check_window,
    decode_hex, hex, hmac_sha256, parse_unix,
};
use crate::request::Request;
use crate::time::SignedTime;

/// The header carrying the timestamp and signatures.
pub const SIGNATURE_HEADER: &str = "X-Varda-Signature";
/// The header naming the event type.
pub const EVENT_HEADER: &str = "X-Varda-Event";
/// The header carrying the delivery id.
pub const DELIVERY_HEADER: &str = "X-Varda-Delivery";

/// Varda's scheme, the varda family's default. Keys are the secrets' UTF-8
/// bytes.
#[derive(Debug, Clone, Copy)]
pub struct Varda;

impl SignatureScheme for Varda {
    fn name(&self) -> &'static str {
        "varda"
    }

    /// Every `X-Varda-Signature` header is read (at most
    /// [`MAX_SIGNATURES`](super::MAX_SIGNATURES) `v1` entries in all); each
    /// distinct timestamp within the window is hashed once per key, and any
    /// `v1` signed with it that matches passes.
    fn verify_at(
        &self,
        keys: &Keys,
        request: &Request<'_>,
        now: i64,
        tolerance: u64,
    ) -> Result<Verified, VerifyError> {
        let mut count = EntryCount::new(SIGNATURE_HEADER);
        let mut signed: Vec<Parsed<'_>> = Vec::new();
        let mut failure = None;
        for value in request.headers_named(SIGNATURE_HEADER) {
            let parsed = match parse_header(value, &mut count)? {
                Ok(parsed) => parsed,
                Err(error) => {
                    failure.get_or_insert(error);
                    continue;
                }
            };
            match signed
                .iter_mut()
                .find(|p| p.timestamp_text == parsed.timestamp_text)
            {
                Some(same) => same.signatures.extend(parsed.signatures),
                None => signed.push(parsed),
            }
        }
        if signed.is_empty() {
            return Err(failure.unwrap_or(VerifyError::MissingHeader(SIGNATURE_HEADER)));
        }
        let mut window_error = None;
        for parsed in &signed {
            if let Err(error) = check_window(parsed.timestamp, now, tolerance) {
                window_error.get_or_insert(error);
                continue;
            }
            let content = [parsed.timestamp_text.as_bytes(), b".", request.body()];
            if keys.any_matches(&content, &parsed.signatures) {
                return Ok(Verified::at(SignedTime::Seconds(parsed.timestamp)));
            }
            // A timestamp in the window that matched nothing is the answer.
            window_error = Some(VerifyError::Mismatch(SIGNATURE_HEADER.to_owned()));
        }
        Err(window_error.unwrap_or_else(|| VerifyError::Mismatch(SIGNATURE_HEADER.to_owned())))
    }

    fn sign(&self, key: &Key, input: SignInput<'_>) -> Vec<(String, String)> {
        let t = input.timestamp.to_string();
        let digest = hmac_sha256(key.bytes(), &[t.as_bytes(), b".", input.body]);
        vec![(
            SIGNATURE_HEADER.to_owned(),
            format!("t={t},v1={}", hex(&digest)),
        )]
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

/// One header: the outer error is the cap (which refuses the request), the
/// inner one a header that cannot be read (others may still verify).
#[allow(clippy::type_complexity)]
fn parse_header<'h>(
    header: &'h str,
    count: &mut EntryCount<'_>,
) -> Result<Result<Parsed<'h>, VerifyError>, VerifyError> {
    let unparseable = |reason| {
        Ok(Err(VerifyError::UnparseableHeader {
            header: SIGNATURE_HEADER.to_owned(),
            reason,
        }))
    };
    let mut timestamp = None;
    let mut signatures = Vec::new();
    let mut saw_v1 = false;
    for pair in header.split(',') {
        let Some((key, value)) = pair.trim().split_once('=') else {
            return unparseable("expected comma-separated key=value pairs");
        };
        match key.trim() {
            "t" => {
                if timestamp.is_some() {
                    return unparseable("more than one t=");
                }
                let text = value.trim();
                let Some(t) = parse_unix(text) else {
                    return unparseable("t= is not a unix timestamp");
                };
                timestamp = Some((t, text));
            }
            "v1" => {
                count.add()?;
                saw_v1 = true;
                signatures.extend(decode_hex(value.trim()));
            }
            _ => {}
        }
    }
    let Some((timestamp, timestamp_text)) = timestamp else {
        return unparseable("no t= timestamp");
    };
    if !saw_v1 {
        // A header with no v1 still counts, so that a flood of them is
        // bounded too.
        count.add()?;
        return unparseable("no v1= signature");
    }
    Ok(Ok(Parsed {
        timestamp,
        timestamp_text,
        signatures,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use crate::schemes::{KeyForm, MAX_SIGNATURES};

    fn keys(secrets: &[&str]) -> Keys {
        let secrets: Vec<Secret> = secrets.iter().map(|s| Secret::new(*s)).collect();
        Keys::new("varda", "varda", &secrets, KeyForm::Utf8).unwrap()
    }

    fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
        let input = SignInput {
            body,
            timestamp,
            id: "",
        };
        Varda
            .sign(&KeyForm::Utf8.key(secret).unwrap(), input)
            .remove(0)
            .1
    }

    const BODY: &[u8] =
        br#"{"event":"call.ended","timestamp":"2026-03-25T18:35:00Z","data":{"id":42}}"#;
    const VECTOR: &str =
        "t=1711411200,v1=85afa0623ef8797b3f36226284f6bf92856b4ea0ad2033defc1b2dae74999725";

    fn verify(header: &str, secrets: &[&str], now: i64) -> Result<Verified, VerifyError> {
        Varda.verify_at(
            &keys(secrets),
            &Request::new([(SIGNATURE_HEADER, header)], BODY),
            now,
            300,
        )
    }

    #[test]
    fn published_vector_signs_and_verifies() {
        assert_eq!(sign("test_secret", 1711411200, BODY), VECTOR);
        let verified = verify(VECTOR, &["test_secret"], 1711411200).unwrap();
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

    #[test]
    fn signature_floods_are_refused_before_hashing() {
        let sig = &VECTOR["t=1711411200,".len()..];
        let eight = format!("t=1711411200,{}", [sig; 8].join(","));
        assert!(verify(&eight, &["test_secret"], 1711411200).is_ok());
        let flood = format!("t=1711411200,{}", vec!["v1=00"; 14_000].join(","));
        assert_eq!(
            verify(&flood, &["test_secret"], 1711411200),
            Err(VerifyError::TooManySignatures {
                header: SIGNATURE_HEADER.into(),
                limit: MAX_SIGNATURES
            })
        );
        // Many headers count too, with or without v1.
        let keys = keys(&["test_secret"]);
        for line in [VECTOR, "t=1711411200"] {
            let headers = vec![(SIGNATURE_HEADER, line); MAX_SIGNATURES + 1];
            let err = Varda
                .verify_at(&keys, &Request::new(headers, BODY), 1711411200, 300)
                .unwrap_err();
            assert!(
                matches!(err, VerifyError::TooManySignatures { .. }),
                "{err}"
            );
        }
    }

    #[test]
    fn several_headers_any_one_verifying() {
        let keys = keys(&["test_secret"]);
        let headers = [
            (SIGNATURE_HEADER, "garbage"),
            (SIGNATURE_HEADER, "t=1711411200,v1=00"),
            (SIGNATURE_HEADER, VECTOR),
        ];
        assert!(
            Varda
                .verify_at(&keys, &Request::new(headers, BODY), 1711411200, 300)
                .is_ok()
        );
        let stale_and_wrong = [
            (SIGNATURE_HEADER, "t=1,v1=00"),
            (SIGNATURE_HEADER, "t=1711411200,v1=00"),
        ];
        assert_eq!(
            Varda.verify_at(&keys, &Request::new(stale_and_wrong, BODY), 1711411200, 300),
            Err(VerifyError::Mismatch(SIGNATURE_HEADER.into()))
        );
    }

    #[test]
    fn an_empty_secret_is_a_configuration_error() {
        let secrets = [Secret::new("ok"), Secret::new("")];
        let err = Keys::new("varda", Varda.name(), &secrets, Varda.key_form()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "vendors.varda.secrets: secret 2 of varda cannot be used with varda: it is empty"
        );
    }
}
