//! Standard Webhooks: `webhook-id`, `webhook-timestamp` (unix seconds) and
//! `webhook-signature` (space-separated `<version>,<base64>` entries). The
//! signed content is `"{id}.{timestamp}.{raw body}"`.
//!
//! - `v1`: HMAC-SHA256, keyed with a `whsec_` secret (base64 after the
//!   prefix).
//! - `v1a`: ed25519, verified with a `whpk_` public key (base64 of its 32
//!   bytes), signed with a `whsk_` key (base64 of the 32-byte seed, or of
//!   libsodium's 64 bytes of seed and public key). Verification is strict
//!   (as libsodium's: see [`Keys::any_ed25519_verifies`]); the receiver
//!   never holds anything that can forge a delivery.
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
    let signing = super::ed25519_secret_key(seed);
    (
        format!("{}{}", super::SIGNING_KEY_PREFIX, base64(seed)),
        format!("{}{}", super::PUBLIC_KEY_PREFIX, base64(&signing[32..])),
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

    fn hex<const N: usize>(text: &str) -> [u8; N] {
        let mut bytes = [0; N];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
        }
        bytes
    }

    fn public_keys(key: &[u8]) -> Result<Keys, crate::ConfigError> {
        keys(&format!("whpk_{}", base64(key)))
    }

    /// RFC 8032's test vectors 1 and 2 (section 7.1): the key pair, the
    /// signature (deterministic) and its verification, at the level of keys.
    #[test]
    fn ed25519_follows_rfc_8032() {
        let vectors: [(&str, &str, &[u8], &str); 2] = [
            (
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                b"",
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
            ),
            (
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
                &[0x72],
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
            ),
        ];
        for (seed, public, message, signature) in vectors {
            let (seed, public, signature) = (hex::<32>(seed), hex::<32>(public), hex(signature));
            let (signing, whpk) = key_pair(&seed);
            assert_eq!(whpk, format!("whpk_{}", base64(&public)));
            let key = KeyForm::Base64.signing_key(&signing).unwrap();
            assert_eq!(key.sign_ed25519(message), Some(signature));
            let keys = public_keys(&public).unwrap();
            assert!(keys.any_ed25519_verifies(&[message], &[signature]));
            // The message in parts is the same message.
            let (a, b) = message.split_at(message.len() / 2);
            assert!(keys.any_ed25519_verifies(&[a, b], &[signature]));
            assert!(!keys.any_ed25519_verifies(&[message, b"!"], &[signature]));
            // libsodium's 64-byte form: the seed, then the public key.
            let whsk = format!("whsk_{}", base64(&[seed, public].concat()));
            assert_eq!(
                KeyForm::Base64
                    .signing_key(&whsk)
                    .unwrap()
                    .sign_ed25519(message),
                Some(signature)
            );
            let mismatched = format!("whsk_{}", base64(&[seed, [9; 32]].concat()));
            assert!(KeyForm::Base64.signing_key(&mismatched).is_err());
        }
    }

    /// The all-zero seed (which ed25519-compact will not expand itself)
    /// still makes a key pair that signs and verifies, as it did with
    /// ed25519-dalek.
    #[test]
    fn the_all_zero_seed_is_a_key_like_any_other() {
        let (signing, public) = key_pair(&[0; 32]);
        assert_eq!(public, "whpk_O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=");
        let key = KeyForm::Base64.signing_key(&signing).unwrap();
        let signature = key.sign_ed25519(BODY).unwrap();
        assert!(keys_for(&public).any_ed25519_verifies(&[BODY], &[signature]));
        assert!(!keys_for(&public).any_ed25519_verifies(&[b"other"], &[signature]));
    }

    /// What strict verification refuses: weak (small-order) and
    /// non-canonical public keys, at configuration; a non-canonical `S`
    /// (the signature plus the group order, the same point equation) and
    /// a small-order `R`, at verification.
    #[test]
    fn ed25519_verification_is_strict() {
        // Small order: the identity (1), a point of order 4 (0) and one of
        // order 8.
        for weak in [
            "0100000000000000000000000000000000000000000000000000000000000000",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        ] {
            assert!(public_keys(&hex::<32>(weak)).is_err(), "{weak}");
        }
        // y = 3 + p: a point (of mixed order) whose canonical encoding has
        // y = 3. ed25519-dalek took this key; it is refused now.
        let non_canonical = "f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f";
        assert!(public_keys(&hex::<32>(non_canonical)).is_err());
        assert!(public_keys(&[1; 31]).is_err());

        let (signing, public) = key_pair(&[7; 32]);
        let key = KeyForm::Base64.signing_key(&signing).unwrap();
        let keys = keys_for(&public);
        let signature = key.sign_ed25519(BODY).unwrap();
        assert!(keys.any_ed25519_verifies(&[BODY], &[signature]));
        // S + L, little-endian, with the carry.
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut malleated = signature;
        let mut carry = 0u16;
        for (byte, l) in malleated[32..].iter_mut().zip(L) {
            let sum = u16::from(*byte) + u16::from(l) + carry;
            *byte = sum as u8;
            carry = sum >> 8;
        }
        assert_eq!(carry, 0);
        assert!(!keys.any_ed25519_verifies(&[BODY], &[malleated]));
        // A small-order R (the identity) with S = 0.
        let mut small_r = [0; 64];
        small_r[0] = 1;
        assert!(!keys.any_ed25519_verifies(&[BODY], &[small_r]));
        // Any one good signature among bad ones passes.
        assert!(keys.any_ed25519_verifies(&[BODY], &[small_r, malleated, signature]));
    }
}
