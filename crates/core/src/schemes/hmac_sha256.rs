//! A configurable HMAC-SHA256 header, for vendors that sign with a plain HMAC
//! but publish no scheme of their own: the header name, the digest encoding
//! (`hex` or `base64`), an optional value prefix (`sha256=`), and the signed
//! content (the body, or `"{timestamp}.{body}"` with the timestamp from a
//! configured header and the replay window applied). Keys are the secrets'
//! UTF-8 bytes. A header may hold several digests separated by commas or
//! spaces; any one matching passes.

use super::{
    EntryCount, Key, Keys, SignInput, SignatureScheme, Verified, VerifyError, base64, check_window,
    decode_base64, decode_hex, hex, hmac_sha256, parse_unix,
};
use crate::config::{DigestEncoding, HmacOptions};
use crate::request::Request;
use crate::time::SignedTime;

/// The configured options are the scheme: `hmac-sha256` with its header,
/// encoding, prefix and timestamp header. Keys are the secrets' UTF-8 bytes.
impl SignatureScheme for HmacOptions {
    fn name(&self) -> &'static str {
        "hmac-sha256"
    }

    /// With a timestamp header, refuses timestamps more than `tolerance`
    /// seconds away from `now`.
    fn verify_at(
        &self,
        keys: &Keys,
        request: &Request<'_>,
        now: i64,
        tolerance: u64,
    ) -> Result<Verified, VerifyError> {
        let header = &self.header;
        let mut values = request.headers_named(header).peekable();
        if values.peek().is_none() {
            return Err(VerifyError::MissingConfiguredHeader(header.clone()));
        }
        let mut count = EntryCount::new(header);
        let mut signatures = Vec::new();
        for value in values {
            let value = value.trim();
            let digests = match &self.prefix {
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
                signatures.extend(decode(self.encoding, entry));
            }
        }
        let mut signed_at = None;
        let mut timestamp_text = "";
        if let Some(timestamp_header) = &self.timestamp_header {
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
            Some(_) => keys.any_matches(
                &[timestamp_text.as_bytes(), b".", request.body()],
                &signatures,
            ),
            None => keys.any_matches(&[request.body()], &signatures),
        };
        if matched {
            Ok(Verified {
                signed_at,
                webhook_id: None,
            })
        } else {
            Err(VerifyError::Mismatch(header.clone()))
        }
    }

    fn sign(&self, key: &Key, input: SignInput<'_>) -> Vec<(String, String)> {
        let timestamp = input.timestamp.to_string();
        let digest = match self.timestamp_header {
            Some(_) => hmac_sha256(key.bytes(), &[timestamp.as_bytes(), b".", input.body]),
            None => hmac_sha256(key.bytes(), &[input.body]),
        };
        let encoded = match self.encoding {
            DigestEncoding::Hex => hex(&digest),
            DigestEncoding::Base64 => base64(&digest),
        };
        let prefix = self.prefix.as_deref().unwrap_or("");
        let mut headers = vec![(self.header.clone(), format!("{prefix}{encoded}"))];
        if let Some(timestamp_header) = &self.timestamp_header {
            headers.push((timestamp_header.clone(), timestamp));
        }
        headers
    }
}

/// A digest as `encoding` writes it; `None` when it is not.
fn decode(encoding: DigestEncoding, digest: &str) -> Option<Vec<u8>> {
    match encoding {
        DigestEncoding::Hex => decode_hex(digest),
        DigestEncoding::Base64 => decode_base64(digest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use crate::schemes::{KeyForm, MAX_SIGNATURES};

    fn keys(secrets: &[&str]) -> Keys {
        let secrets: Vec<Secret> = secrets.iter().map(|s| Secret::new(*s)).collect();
        Keys::new("v", "hmac-sha256", &secrets, KeyForm::Utf8).unwrap()
    }

    fn options(encoding: DigestEncoding, prefix: Option<&str>, ts: Option<&str>) -> HmacOptions {
        HmacOptions {
            header: "X-Hub-Signature-256".into(),
            encoding,
            prefix: prefix.map(Into::into),
            timestamp_header: ts.map(Into::into),
        }
    }

    fn round_trip(options: &HmacOptions, now: i64) -> Result<Verified, VerifyError> {
        let secret = "It's a Secret to Everybody";
        let input = SignInput {
            body: b"Hello, World!",
            timestamp: 1_700_000_000,
            id: "",
        };
        let headers = options.sign(&KeyForm::Utf8.key(secret).unwrap(), input);
        let pairs = headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
        options.verify_at(
            &keys(&["old", secret]),
            &Request::new(pairs, input.body),
            now,
            300,
        )
    }

    #[test]
    fn github_style_vector() {
        // GitHub's published example for X-Hub-Signature-256.
        let options = options(DigestEncoding::Hex, Some("sha256="), None);
        let headers = options.sign(
            &KeyForm::Utf8.key("It's a Secret to Everybody").unwrap(),
            SignInput {
                body: b"Hello, World!",
                timestamp: 0,
                id: "",
            },
        );
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
        let keys = keys(&["s"]);
        let err = options
            .verify_at(
                &keys,
                &Request::new([("X-Hub-Signature-256", "sha1=00")], b""),
                0,
                300,
            )
            .unwrap_err();
        assert!(matches!(err, VerifyError::UnparseableHeader { .. }));
        let err = options
            .verify_at(&keys, &Request::new([], b""), 0, 300)
            .unwrap_err();
        assert_eq!(
            err,
            VerifyError::MissingConfiguredHeader("X-Hub-Signature-256".into())
        );
    }

    #[test]
    fn signature_floods_are_refused_before_hashing() {
        let options = options(DigestEncoding::Hex, None, None);
        let flood = vec!["00"; 14_000].join(",");
        let err = options
            .verify_at(
                &keys(&["s"]),
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
