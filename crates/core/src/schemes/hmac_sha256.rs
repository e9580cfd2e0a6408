//! A configurable HMAC-SHA256 header, for vendors that sign with a plain HMAC
//! but publish no scheme of their own: the header name, the digest encoding
//! (`hex` or `base64`), an optional value prefix (`sha256=`), and the signed
//! content (the body, or `"{timestamp}.{body}"` with the timestamp from a
//! configured header and the replay window applied). Keys are the secrets'
//! UTF-8 bytes. A header may hold several digests separated by commas or
//! spaces; any one matching passes.

use super::{
    EntryCount, KeyForm, Keys, SignInput, Verified, VerifyError, base64, check_window,
    decode_base64, decode_hex, hex, hmac_sha256, parse_unix,
};
use crate::config::{ConfigError, DigestEncoding, HmacOptions, Secret};
use crate::request::Request;
use crate::time::SignedTime;

/// Verifies deliveries signed as `options` describes.
#[derive(Debug, Clone)]
pub struct Verifier<'o> {
    options: &'o HmacOptions,
    keys: Keys,
}

impl<'o> Verifier<'o> {
    /// A verifier trying each of `secrets`.
    pub fn new(
        vendor: &str,
        options: &'o HmacOptions,
        secrets: &[Secret],
    ) -> Result<Verifier<'o>, ConfigError> {
        let keys = Keys::new(vendor, "hmac-sha256", secrets, KeyForm::Utf8)?;
        Ok(Verifier::with_keys(options, keys))
    }

    /// A verifier with keys already checked (by a scheme built on this one).
    pub(crate) fn with_keys(options: &'o HmacOptions, keys: Keys) -> Verifier<'o> {
        Verifier { options, keys }
    }

    /// Verifies `request` at `now` (unix seconds); with a timestamp header,
    /// refuses timestamps more than `tolerance` seconds away.
    pub fn verify_at(
        &self,
        request: &Request<'_>,
        now: i64,
        tolerance: u64,
    ) -> Result<Verified, VerifyError> {
        let header = &self.options.header;
        let mut values = request.headers_named(header).peekable();
        if values.peek().is_none() {
            return Err(VerifyError::MissingConfiguredHeader(header.clone()));
        }
        let mut count = EntryCount::new(header);
        let mut signatures = Vec::new();
        for value in values {
            let value = value.trim();
            let digests = match &self.options.prefix {
                Some(prefix) => value.strip_prefix(prefix.as_str()).ok_or_else(|| {
                    VerifyError::UnparseableHeader {
                        header: header.clone(),
                        reason: "the value does not start with the configured prefix",
                    }
                })?,
                None => value,
            };
            let entries = digests.split(|c: char| c == ',' || c.is_ascii_whitespace());
            for entry in entries.filter(|e| !e.is_empty()) {
                count.add()?;
                signatures.extend(self.decode(entry));
            }
        }
        let mut signed_at = None;
        let mut timestamp_text = "";
        if let Some(timestamp_header) = &self.options.timestamp_header {
            timestamp_text = request
                .header(timestamp_header)
                .ok_or_else(|| VerifyError::MissingConfiguredHeader(timestamp_header.clone()))?
                .trim();
            let timestamp =
                parse_unix(timestamp_text).ok_or_else(|| VerifyError::UnparseableHeader {
                    header: timestamp_header.clone(),
                    reason: "not a unix timestamp",
                })?;
            check_window(timestamp, now, tolerance)?;
            signed_at = Some(SignedTime::Seconds(timestamp));
        }
        let matched = match signed_at {
            Some(_) => self.keys.any_matches(
                &[timestamp_text.as_bytes(), b".", request.body()],
                &signatures,
            ),
            None => self.keys.any_matches(&[request.body()], &signatures),
        };
        if matched {
            Ok(Verified {
                scheme: "hmac-sha256",
                signed_at,
                webhook_id: None,
            })
        } else {
            Err(VerifyError::Mismatch(header.clone()))
        }
    }

    fn decode(&self, digest: &str) -> Option<Vec<u8>> {
        match self.options.encoding {
            DigestEncoding::Hex => decode_hex(digest),
            DigestEncoding::Base64 => decode_base64(digest),
        }
    }
}

/// The headers a sender configured as `options` would send for `input`.
pub fn sign(
    vendor: &str,
    options: &HmacOptions,
    secret: &Secret,
    input: SignInput<'_>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let key = &Keys::one(vendor, "hmac-sha256", secret, KeyForm::Utf8)?;
    let timestamp = input.timestamp.to_string();
    let digest = match options.timestamp_header {
        Some(_) => hmac_sha256(key, &[timestamp.as_bytes(), b".", input.body]),
        None => hmac_sha256(key, &[input.body]),
    };
    let encoded = match options.encoding {
        DigestEncoding::Hex => hex(&digest),
        DigestEncoding::Base64 => base64(&digest),
    };
    let prefix = options.prefix.as_deref().unwrap_or("");
    let mut headers = vec![(options.header.clone(), format!("{prefix}{encoded}"))];
    if let Some(timestamp_header) = &options.timestamp_header {
        headers.push((timestamp_header.clone(), timestamp));
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schemes::MAX_SIGNATURES;

    fn options(encoding: DigestEncoding, prefix: Option<&str>, ts: Option<&str>) -> HmacOptions {
        HmacOptions {
            header: "X-Hub-Signature-256".into(),
            encoding,
            prefix: prefix.map(Into::into),
            timestamp_header: ts.map(Into::into),
        }
    }

    fn round_trip(options: &HmacOptions, now: i64) -> Result<Verified, VerifyError> {
        let secret = Secret::new("It's a Secret to Everybody");
        let input = SignInput {
            body: b"Hello, World!",
            timestamp: 1_700_000_000,
            id: "",
        };
        let headers = sign("v", options, &secret, input).unwrap();
        let pairs = headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
        Verifier::new("v", options, &[Secret::new("old"), secret])
            .unwrap()
            .verify_at(&Request::new(pairs, input.body), now, 300)
    }

    #[test]
    fn github_style_vector() {
        // GitHub's published example for X-Hub-Signature-256.
        let options = options(DigestEncoding::Hex, Some("sha256="), None);
        let headers = sign(
            "v",
            &options,
            &Secret::new("It's a Secret to Everybody"),
            SignInput {
                body: b"Hello, World!",
                timestamp: 0,
                id: "",
            },
        )
        .unwrap();
        assert_eq!(
            headers[0].1,
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        assert!(round_trip(&options, 0).is_ok());
    }

    #[test]
    fn base64_and_timestamped_variants() {
        assert!(round_trip(&options(DigestEncoding::Base64, None, None), 0).is_ok());
        let timed = options(DigestEncoding::Hex, None, Some("X-Timestamp"));
        assert!(round_trip(&timed, 1_700_000_000).is_ok());
        assert!(matches!(
            round_trip(&timed, 1_700_000_301),
            Err(VerifyError::TimestampTooOld { .. })
        ));
    }

    #[test]
    fn wrong_prefix_and_missing_header() {
        let options = options(DigestEncoding::Hex, Some("sha256="), None);
        let verifier = Verifier::new("v", &options, &[Secret::new("s")]).unwrap();
        let err = verifier
            .verify_at(
                &Request::new([("X-Hub-Signature-256", "sha1=00")], b""),
                0,
                300,
            )
            .unwrap_err();
        assert!(matches!(err, VerifyError::UnparseableHeader { .. }));
        let err = verifier
            .verify_at(&Request::new([], b""), 0, 300)
            .unwrap_err();
        assert_eq!(
            err,
            VerifyError::MissingConfiguredHeader("X-Hub-Signature-256".into())
        );
    }

    #[test]
    fn signature_floods_are_refused_before_hashing() {
        let options = options(DigestEncoding::Hex, None, None);
        let verifier = Verifier::new("v", &options, &[Secret::new("s")]).unwrap();
        let flood = vec!["00"; 14_000].join(",");
        let err = verifier
            .verify_at(
                &Request::new([("X-Hub-Signature-256", flood.as_str())], b""),
                0,
                300,
            )
            .unwrap_err();
        assert_eq!(
            err,
            VerifyError::TooManySignatures {
                header: "X-Hub-Signature-256".into(),
                limit: MAX_SIGNATURES
            }
        );
    }
}
