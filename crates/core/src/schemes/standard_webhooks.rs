//! Standard Webhooks: `webhook-id`, `webhook-timestamp` (unix seconds) and
//! `webhook-signature` (space-separated `<version>,<base64>` entries). The
//! signed content is `"{id}.{timestamp}.{raw body}"`.
//!
//! - `v1`: HMAC-SHA256, keyed with a `whsec_` secret (base64 after the
//!   prefix).
//! - `v1a`: ed25519, verified with a `whpk_` public key (base64 of its 32
//!   bytes), signed with a `whsk_` key (base64 of the 32-byte seed, or of
//!   libsodium's 64 bytes of seed and public key). Verification is strict
//!   (`verify_strict`), so the receiver never holds anything that can forge
//!   a delivery.
//!
//! One secrets list may hold `whsec_` and `whpk_` keys together; a delivery
//! passes when any `v1` entry matches any symmetric key or any `v1a` entry
//! verifies under any public key. Other versions are ignored; the replay
//! window and the signature cap apply to all.

use super::{
    EntryCount, Key, KeyForm, Keys, SignInput, SignatureScheme, Verified, VerifyError, base64,
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
        let mut symmetric = Vec::new();
        let mut asymmetric: Vec<[u8; 64]> = Vec::new();
        let mut saw_known = false;
        let mut saw_header = false;
        for value in request.headers_named(SIGNATURE_HEADER) {
            saw_header = true;
            for entry in value.split_ascii_whitespace() {
                count.add()?;
                match entry.split_once(',') {
                    Some(("v1", signature)) => {
                        saw_known = true;
                        symmetric.extend(decode_base64(signature));
                    }
                    Some(("v1a", signature)) => {
                        saw_known = true;
                        // A signature that is not 64 bytes can verify nothing.
                        asymmetric.extend(
                            decode_base64(signature)
                                .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok()),
                        );
                    }
                    _ => {}
                }
            }
        }
        if !saw_header {
            return Err(VerifyError::MissingHeader(SIGNATURE_HEADER));
        }
        if !saw_known {
            return Err(VerifyError::UnparseableHeader {
                header: SIGNATURE_HEADER.to_owned(),
                reason: "no v1 or v1a signature",
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
        if keys.any_matches(&signed, &symmetric) || keys.any_ed25519_verifies(&signed, &asymmetric)
        {
            Ok(Verified {
                signed_at: Some(SignedTime::Seconds(timestamp)),
                webhook_id: Some(id.to_owned()),
            })
        } else {
            Err(VerifyError::Mismatch(SIGNATURE_HEADER.to_owned()))
        }
    }

    /// The three headers a Standard Webhooks sender would send.
    /// `v1` with a `whsec_` key, `v1a` with a `whsk_` key (ed25519 signing is
    /// deterministic: no randomness is needed).
    fn sign(&self, key: &Key, input: SignInput<'_>) -> Vec<(String, String)> {
        let timestamp = input.timestamp.to_string();
        let signed = [
            input.id.as_bytes(),
            b".",
            timestamp.as_bytes(),
            b".",
            input.body,
        ];
        let signature = match key.sign_ed25519(&signed.concat()) {
            Some(signature) => format!("v1a,{}", base64(&signature)),
            None => format!("v1,{}", base64(&hmac_sha256(key.bytes(), &signed))),
        };
        vec![
            (ID_HEADER.to_owned(), input.id.to_owned()),
            (TIMESTAMP_HEADER.to_owned(), timestamp),
            (SIGNATURE_HEADER.to_owned(), signature),
        ]
    }
}

/// The `whsk_` signing key and `whpk_` public key of the ed25519 key pair
/// whose 32-byte seed is `seed`. The caller brings the randomness (the core
/// has none): `switchboard keygen` reads it from the operating system.
pub fn key_pair(seed: &[u8; 32]) -> (String, String) {
    let signing = ed25519_dalek::SigningKey::from_bytes(seed);
    (
        format!("{}{}", super::SIGNING_KEY_PREFIX, base64(seed)),
        format!(
            "{}{}",
            super::PUBLIC_KEY_PREFIX,
            base64(signing.verifying_key().as_bytes())
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use crate::schemes::MAX_SIGNATURES;

    fn keys_for(secret: &str) -> Keys {
        keys(secret).unwrap()
    }

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

    #[test]
    fn v1a_signs_with_whsk_and_verifies_with_whpk() {
        let (signing, public) = key_pair(&[7; 32]);
        let input = SignInput {
            body: BODY,
            timestamp: 1614265330,
            id: ID,
        };
        let headers = StandardWebhooks.sign(&KeyForm::Base64.signing_key(&signing).unwrap(), input);
        assert!(headers[2].1.starts_with("v1a,"), "{headers:?}");
        let request = Request::new(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())), BODY);
        let keys = Keys::new(
            "t",
            "standard-webhooks",
            &[Secret::new(&public)],
            KeyForm::Base64,
        );
        let keys = keys.unwrap();
        assert!(
            StandardWebhooks
                .verify_at(&keys, &request, 1614265330, 300)
                .is_ok()
        );
        // A public key verifies but never signs; a signing key never verifies.
        assert!(KeyForm::Base64.signing_key(&public).is_err());
        assert!(KeyForm::Base64.key(&signing).is_err());
        // HMAC keys do not verify v1a, nor public keys v1.
        let hmac_only = keys_for(SECRET);
        assert!(
            StandardWebhooks
                .verify_at(&hmac_only, &request, 1614265330, 300)
                .is_err()
        );
    }
}
