//! A shared secret: a configured header must equal one of the secrets,
//! compared in constant time. Nothing about the body is signed, so this only
//! proves the sender knows the secret; prefer an HMAC scheme where the
//! vendor offers one.

use subtle::ConstantTimeEq;

use super::{Verified, VerifyError};
use crate::config::Secret;
use crate::request::Request;

/// Verifies that a header carries one of the secrets.
#[derive(Debug, Clone)]
pub struct Verifier<'a> {
    header: &'a str,
    secrets: &'a [Secret],
}

impl<'a> Verifier<'a> {
    /// A verifier comparing `header` with each of `secrets`.
    pub fn new(header: &'a str, secrets: &'a [Secret]) -> Verifier<'a> {
        Verifier { header, secrets }
    }

    /// Verifies `request`: every secret is compared, whatever matched first.
    pub fn verify_at(&self, request: &Request<'_>) -> Result<Verified, VerifyError> {
        let value = request
            .header(self.header)
            .ok_or_else(|| VerifyError::MissingConfiguredHeader(self.header.to_owned()))?;
        let mut matched = false;
        for secret in self.secrets {
            matched |= bool::from(value.as_bytes().ct_eq(secret.expose().as_bytes()));
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
        let verifier = Verifier::new("X-Token", &secrets);
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
}
