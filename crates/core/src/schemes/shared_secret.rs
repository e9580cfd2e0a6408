//! A shared secret: a configured header must equal one of the secrets,
//! compared in constant time. Nothing about the body is signed, so this only
//! proves the sender knows the secret; prefer an HMAC scheme where the
//! vendor offers one.

use serde::Deserialize;

use super::{Key, Keys, SignInput, SignatureScheme, Verified, VerifyError};
use crate::request::Request;

/// The `shared-secret` scheme: `header` must carry one of the secrets.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedSecret {
    /// The header's name.
    pub header: String,
}

impl SignatureScheme for SharedSecret {
    fn name(&self) -> &'static str {
        "shared-secret"
    }

    /// The header and each secret are compared as SHA-256 digests, in
    /// constant time, so that the time taken depends on neither the
    /// secrets' lengths nor how much of one the header got right; every
    /// secret is compared, whatever matched first.
    fn verify_at(
        &self,
        keys: &Keys,
        request: &Request<'_>,
        _now: i64,
        _tolerance: u64,
    ) -> Result<Verified, VerifyError> {
        let value = request
            .header(&self.header)
            .ok_or_else(|| VerifyError::MissingConfiguredHeader(self.header.clone()))?;
        if keys.any_equals(value.as_bytes()) {
            Ok(Verified::default())
        } else {
            Err(VerifyError::Mismatch(self.header.clone()))
        }
    }

    fn sign(&self, key: &Key, _: SignInput<'_>) -> Vec<(String, String)> {
        vec![(
            self.header.clone(),
            String::from_utf8_lossy(key.bytes()).into_owned(),
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use crate::schemes::KeyForm;

    fn verify(secrets: &[&str], headers: &[(&str, &str)]) -> Result<Verified, VerifyError> {
        let secrets: Vec<Secret> = secrets.iter().map(|s| Secret::new(*s)).collect();
        let keys = Keys::new("v", "shared-secret", &secrets, KeyForm::Utf8).unwrap();
        let scheme = SharedSecret {
            header: "X-Token".into(),
        };
        scheme.verify_at(&keys, &Request::new(headers.iter().copied(), b""), 0, 0)
    }

    #[test]
    fn any_secret_matches_and_others_fail() {
        assert!(verify(&["one", "two"], &[("x-token", "two")]).is_ok());
        assert_eq!(
            verify(&["one", "two"], &[("x-token", "tw")]),
            Err(VerifyError::Mismatch("X-Token".into()))
        );
        assert_eq!(
            verify(&["one", "two"], &[]),
            Err(VerifyError::MissingConfiguredHeader("X-Token".into()))
        );
        // The empty header value matches nothing.
        assert_eq!(
            verify(&["hunter2"], &[("x-token", "")]),
            Err(VerifyError::Mismatch("X-Token".into()))
        );
    }

    #[test]
    fn blank_secrets_are_refused() {
        let secrets = [Secret::new("")];
        assert!(Keys::new("v", "shared-secret", &secrets, KeyForm::Utf8).is_err());
    }
}
