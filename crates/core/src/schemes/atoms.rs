//! Smallest.ai Atoms' scheme: `X-Signature: <hex>`, the HMAC-SHA256 of the
//! raw body keyed with the secret's UTF-8 bytes. Atoms writes the digest in
//! lowercase; either case is accepted. Every configured secret is tried.
//!
//! This is the generic `hmac-sha256` scheme ([`super::hmac_sha256`]) with
//! fixed options (header `X-Signature`, hex, no prefix, no timestamp),
//! reported as `atoms`. Like it, a header holding several digests separated
//! by commas or spaces passes when any one matches.
//!
//! **No replay window.** Nothing time-based is signed, so a captured delivery
//! verifies forever and the tolerance does not apply. Redeliveries are made
//! recognisable instead by the event id (see the `atoms` vendor module):
//! deduplicate on it. Atoms itself never retries a delivery.

use std::sync::LazyLock;

use super::{Key, Keys, SignInput, SignatureScheme, Verified, VerifyError};
use crate::config::{DigestEncoding, HmacOptions};
use crate::request::Request;

/// The header carrying the hex digest.
pub const SIGNATURE_HEADER: &str = "X-Signature";

/// The generic scheme's options that describe Atoms' signature.
static OPTIONS: LazyLock<HmacOptions> = LazyLock::new(|| HmacOptions {
    header: SIGNATURE_HEADER.to_owned(),
    encoding: DigestEncoding::Hex,
    prefix: None,
    timestamp_header: None,
});

/// Atoms' scheme, the atoms family's default. Keys are the secrets' UTF-8
/// bytes.
#[derive(Debug, Clone, Copy)]
pub struct Atoms;

impl SignatureScheme for Atoms {
    fn name(&self) -> &'static str {
        "atoms"
    }

    /// There is no timestamp, so `now` and `tolerance` play no part.
    fn verify_at(
        &self,
        keys: &Keys,
        request: &Request<'_>,
        now: i64,
        tolerance: u64,
    ) -> Result<Verified, VerifyError> {
        OPTIONS.verify_at(keys, request, now, tolerance)
    }

    fn sign(&self, key: &Key, input: SignInput<'_>) -> Vec<(String, String)> {
        OPTIONS.sign(key, input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use crate::schemes::KeyForm;

    /// The published test vector (vendors.md, section 4).
    const BODY: &[u8] = br#"{"url":"https://example.com/webhook","description":"d","event":"a1.pre-conversation","metadata":{"agentId":"a1","eventType":"pre-conversation","conversationType":"telephonyInbound","toPhone":"+15550000002","fromPhone":"+15550000001","callId":"CALL-1-abc"},"id":"d1"}"#;
    const VECTOR: &str = "15755829a7f1898db43865a7286b34c959643f47e36b0f6cbf90b7b6d3fbee86";

    fn verify(header: Option<&str>, secrets: &[&str]) -> Result<Verified, VerifyError> {
        let secrets: Vec<Secret> = secrets.iter().map(|s| Secret::new(*s)).collect();
        let headers = header.map(|h| ("x-signature", h));
        let keys = Keys::new("atoms", "atoms", &secrets, KeyForm::Utf8).unwrap();
        Atoms.verify_at(&keys, &Request::new(headers, BODY), 0, 0)
    }

    #[test]
    fn published_vector_signs_and_verifies() {
        let input = SignInput {
            body: BODY,
            timestamp: 0,
            id: "",
        };
        assert_eq!(
            Atoms.sign(&KeyForm::Utf8.key("test_secret").unwrap(), input),
            [(SIGNATURE_HEADER.to_owned(), VECTOR.to_owned())]
        );
        let verified = verify(Some(VECTOR), &["test_secret"]).unwrap();
        assert_eq!(verified, Verified::default());
    }

    #[test]
    fn either_case_and_any_secret() {
        let upper = VECTOR.to_ascii_uppercase();
        assert!(verify(Some(&upper), &["test_secret"]).is_ok());
        assert!(verify(Some(VECTOR), &["previous", "test_secret"]).is_ok());
    }

    #[test]
    fn wrong_garbage_and_missing_are_refused() {
        let mismatch = Err(VerifyError::Mismatch(SIGNATURE_HEADER.into()));
        assert_eq!(verify(Some(VECTOR), &["other"]), mismatch);
        assert_eq!(verify(Some(&VECTOR[1..]), &["test_secret"]), mismatch);
        assert_eq!(verify(Some("zz"), &["test_secret"]), mismatch);
        assert_eq!(verify(Some(""), &["test_secret"]), mismatch);
        let prefixed = format!("sha256={VECTOR}");
        assert_eq!(verify(Some(&prefixed), &["test_secret"]), mismatch);
        assert_eq!(
            verify(None, &["test_secret"]),
            Err(VerifyError::MissingConfiguredHeader(
                SIGNATURE_HEADER.into()
            ))
        );
    }

    #[test]
    fn not_configurable_by_name() {
        use crate::config::Scheme;
        let err = Scheme::from_name("atoms").unwrap_err();
        assert!(err.contains("vendor-default"), "{err}");
    }
}
