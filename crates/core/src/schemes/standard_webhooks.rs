//! Standard Webhooks: `webhook-id`, `webhook-timestamp` (unix seconds) and
//! `webhook-signature` (space-separated `v1,<base64>` entries; other versions
//! are ignored). The signed content is `"{id}.{timestamp}.{raw body}"`; the
//! key is the secret with any `whsec_` prefix stripped, base64-decoded.

use super::{
    EntryCount, KeyForm, Keys, SignInput, SignatureScheme, Verified, VerifyError, base64,
    check_window, decode_base64, hmac_sha256, parse_unix,
};
use crate::request::Request;
use crate::time::SignedTime;

/// The message id header.
pub const ID_HEADER: &str = "webhook-id";
/// The timestamp header (unix seconds).
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The signatures header.
pub const SIGNATURE_HEADER: &str = "webhook-signature";
/// The prefix Standard Webhooks secrets are written with.
pub const SECRET_PREFIX: &str = "whsec_";

/// Standard Webhooks, configurable for any vendor (and Quo's generation of
/// OpenPhone's default). Keys are base64 after an optional `whsec_` prefix.
#[derive(Debug, Clone, Copy)]
pub struct StandardWebhooks;

impl SignatureScheme for StandardWebhooks {
    fn name(&self) -> &'static str {
        "standard-webhooks"
    }

    fn key_form(&self) -> KeyForm {
        KeyForm::Base64
    }

    /// At most [`MAX_SIGNATURES`](super::MAX_SIGNATURES) entries are read,
    /// whatever their version; the signed content is hashed once per key.
    fn verify_at(
        &self,
        keys: &Keys,
        request: &Request<'_>,
        now: i64,
        tolerance: u64,
    ) -> Result<Verified, VerifyError> {
        let id = request
            .header(ID_HEADER)
            .ok_or(VerifyError::MissingHeader(ID_HEADER))?;
        let timestamp_text = request
            .header(TIMESTAMP_HEADER)
            .ok_or(VerifyError::MissingHeader(TIMESTAMP_HEADER))?
            .trim();
        let timestamp = parse_unix(timestamp_text).ok_or(VerifyError::UnparseableHeader {
            header: TIMESTAMP_HEADER.to_owned(),
            reason: "not a unix timestamp",
        })?;
        let mut count = EntryCount::new(SIGNATURE_HEADER);
        let mut signatures = Vec::new();
        let mut saw_v1 = false;
        let mut saw_header = false;
        for value in request.headers_named(SIGNATURE_HEADER) {
            saw_header = true;
            for entry in value.split_ascii_whitespace() {
                count.add()?;
                if let Some(("v1", signature)) = entry.split_once(',') {
                    saw_v1 = true;
                    signatures.extend(decode_base64(signature));
                }
            }
        }
        if !saw_header {
            return Err(VerifyError::MissingHeader(SIGNATURE_HEADER));
        }
        if !saw_v1 {
            return Err(VerifyError::UnparseableHeader {
                header: SIGNATURE_HEADER.to_owned(),
                reason: "no v1 signature",
            });
        }
        check_window(timestamp, now, tolerance)?;
        let signed = [
            id.as_bytes(),
            b".",
            timestamp_text.as_bytes(),
            b".",
            request.body(),
        ];
        if keys.any_matches(&signed, &signatures) {
            Ok(Verified {
                signed_at: Some(SignedTime::Seconds(timestamp)),
                webhook_id: Some(id.to_owned()),
            })
        } else {
            Err(VerifyError::Mismatch(SIGNATURE_HEADER.to_owned()))
        }
    }

    /// The three headers a Standard Webhooks sender would send.
    fn sign(&self, key: &[u8], input: SignInput<'_>) -> Vec<(String, String)> {
        let timestamp = input.timestamp.to_string();
        let digest = hmac_sha256(
            key,
            &[
                input.id.as_bytes(),
                b".",
                timestamp.as_bytes(),
                b".",
                input.body,
            ],
        );
        vec![
            (ID_HEADER.to_owned(), input.id.to_owned()),
            (TIMESTAMP_HEADER.to_owned(), timestamp),
            (
                SIGNATURE_HEADER.to_owned(),
                format!("v1,{}", base64(&digest)),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use crate::schemes::MAX_SIGNATURES;

    fn keys(secret: &str) -> Result<Keys, crate::ConfigError> {
        Keys::new(
            "test",
            "standard-webhooks",
            &[Secret::new(secret)],
            KeyForm::Base64,
        )
    }

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn verify(signature: &str, now: i64) -> Result<Verified, VerifyError> {
        let headers = [
            ("Webhook-Id", ID),
            ("Webhook-Timestamp", "1614265330"),
            ("Webhook-Signature", signature),
        ];
        StandardWebhooks.verify_at(
            &keys(SECRET).unwrap(),
            &Request::new(headers, BODY),
            now,
            300,
        )
    }

    #[test]
    fn published_vector_signs_and_verifies() {
        let input = SignInput {
            body: BODY,
            timestamp: 1614265330,
            id: ID,
        };
        let key = KeyForm::Base64.key(SECRET).unwrap();
        let headers = StandardWebhooks.sign(&key, input);
        assert_eq!(
            headers[2],
            (SIGNATURE_HEADER.to_owned(), SIGNATURE.to_owned())
        );
        let verified = verify(SIGNATURE, 1614265330).unwrap();
        assert_eq!(verified.webhook_id.as_deref(), Some(ID));
    }

    #[test]
    fn other_versions_are_ignored_and_any_v1_passes() {
        assert!(verify(&format!("v2,abc v1,AAAA {SIGNATURE}"), 1614265330).is_ok());
        assert!(matches!(
            verify("v2,abc", 1614265330),
            Err(VerifyError::UnparseableHeader { .. })
        ));
        assert_eq!(
            verify("v1,AAAA v1,!!", 1614265330),
            Err(VerifyError::Mismatch(SIGNATURE_HEADER.into()))
        );
    }

    #[test]
    fn replay_window_applies() {
        assert!(matches!(
            verify(SIGNATURE, 1614265330 + 301),
            Err(VerifyError::TimestampTooOld { age: 301, .. })
        ));
        assert!(matches!(
            verify(SIGNATURE, 1614265330 - 301),
            Err(VerifyError::TimestampInFuture { ahead: 301, .. })
        ));
    }

    #[test]
    fn unusable_secret_is_named_not_shown() {
        let secrets = [Secret::new("whsec_%%%")];
        let err = Keys::new("opencx", "standard-webhooks", &secrets, KeyForm::Base64).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("secret 1 of opencx"), "{message}");
        assert!(message.starts_with("vendors.opencx.secrets: "), "{message}");
        assert!(!message.contains("%%%"), "{message}");
    }

    #[test]
    fn signature_floods_are_refused_before_hashing() {
        let flood = vec!["v2,x"; 14_000].join(" ");
        assert_eq!(
            verify(&flood, 1614265330),
            Err(VerifyError::TooManySignatures {
                header: SIGNATURE_HEADER.into(),
                limit: MAX_SIGNATURES
            })
        );
        let rotation = format!("v1,AAAA v1a,BBBB {SIGNATURE}");
        assert!(verify(&rotation, 1614265330).is_ok());
    }
}
