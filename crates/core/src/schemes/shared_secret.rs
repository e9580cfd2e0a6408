//! A shared secret: a configured header must equal one of the secrets,
//! compared in constant time. Nothing about the body is signed, so this only
//! proves the sender knows the secret; prefer an HMAC scheme where the
//! vendor offers one.

use subtle::ConstantTimeEq;

use super::{KeyForm, Keys, Verified, VerifyError, sha256};
use crate::config::{ConfigError, Secret};
use crate::request::Request;

/// Verifies that a header carries one of the secrets.
///
/// The header and each secret are compared as SHA-256 digests, in constant
/// time, so that the time taken depends on neither the secrets' lengths nor
/// how much of one the header got right.
#[derive(Clone)]
pub struct Verifier<'a> {
    header: &'a str,
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for Verifier<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Verifier({}, <{} redacted>)",
            self.header,
            self.digests.len()
        )
    }
}

impl<'a> Verifier<'a> {
    /// A verifier comparing `header` with each of `secrets`; an empty secret
    /// is refused, naming `vendor` and its position.
    pub fn new(
        vendor: &str,
        header: &'a str,
        secrets: &[Secret],
    ) -> Result<Verifier<'a>, ConfigError> {
        // Checked as keys are, then kept only as digests.
        Keys::new(vendor, "shared-secret", secrets, KeyForm::Utf8)?;
        let digests = secrets
            .iter()
            .map(|s| sha256(&[s.expose().as_bytes()]))
            .collect();
        Ok(Verifier { header, digests })
    }

    /// Verifies `request`: every secret is compared, whatever matched first.
    pub fn verify_at(&self, request: &Request<'_>) -> Result<Verified, VerifyError> {
        let value = request
            .header(self.header)
            .ok_or_else(|| VerifyError::MissingConfiguredHeader(self.header.to_owned()))?;
        let presented = sha256(&[value.as_bytes()]);
        let mut matched = false;
        for digest in &self.digests {
            matched |= bool::from(presented.ct_eq(digest));
        }
        if matched {
            Ok(Verified {
                scheme: "shared-secret",
                signed_at: None,
                webhook_id: None,
            })
        } else {
            Err(VerifyError::Mismatch(self.header.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_secret_matches_and_others_fail() {
        let secrets = [Secret::new("one"), Secret::new("two")];
        let verifier = Verifier::new("v", "X-Token", &secrets).unwrap();
        assert!(
            verifier
                .verify_at(&Request::new([("x-token", "two")], b""))
                .is_ok()
        );
        assert_eq!(
            verifier.verify_at(&Request::new([("x-token", "tw")], b"")),
            Err(VerifyError::Mismatch("X-Token".into()))
        );
        assert_eq!(
            verifier.verify_at(&Request::new([], b"")),
            Err(VerifyError::MissingConfiguredHeader("X-Token".into()))
        );
    }

    #[test]
    fn secrets_are_kept_as_digests_and_blank_ones_refused() {
        let secrets = [Secret::new("hunter2")];
        let verifier = Verifier::new("v", "X-Token", &secrets).unwrap();
        assert!(!format!("{verifier:?}").contains("hunter2"));
        assert!(Verifier::new("v", "X-Token", &[Secret::new("")]).is_err());
        // The empty header value matches nothing, not an empty secret.
        assert_eq!(
            verifier.verify_at(&Request::new([("x-token", "")], b"")),
            Err(VerifyError::Mismatch("X-Token".into()))
        );
    }
}
