//! Signature schemes: one module each, all verifying the raw body bytes in
//! constant time against every configured secret.
//!
//! Each scheme follows one shape: a verifier built from the configured
//! secrets (the constructor rejects unusable keys), `verify_at(request, now)`
//! returning what was verified, and a `sign` for tests and tooling. The
//! current time is always an argument: the core has no clock.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::config::{Scheme, Secret};
use crate::request::Request;
use crate::time::SignedTime;

pub mod atoms;
pub mod hmac_sha256;
pub mod openphone;
pub mod shared_secret;
pub mod standard_webhooks;
pub mod varda;

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The scheme's name, as the event's `verification` attribute says it.
    pub scheme: &'static str,
    /// The signed timestamp, when the scheme signs one.
    pub signed_at: Option<SignedTime>,
    /// The Standard Webhooks `webhook-id`, when that scheme verified.
    pub webhook_id: Option<String>,
}

impl Verified {
    /// Nothing was verified: the operator configured `none`.
    pub fn unverified() -> Verified {
        Verified {
            scheme: "none",
            signed_at: None,
            webhook_id: None,
        }
    }
}

/// Why a delivery did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The signature header is absent.
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    /// A configured header is absent.
    #[error("missing {0} header")]
    MissingConfiguredHeader(String),
    /// The signature header cannot be read.
    #[error("unparseable {header} header: {reason}")]
    UnparseableHeader {
        /// The header's name.
        header: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No signature in the header matches any configured secret.
    #[error("no signature in {0} matches a configured secret")]
    Mismatch(String),
    /// The signed timestamp is older than the tolerance.
    #[error("timestamp {timestamp} is {age} s older than the {tolerance} s tolerance")]
    TimestampTooOld {
        /// The signed timestamp, as sent.
        timestamp: i64,
        /// How many seconds before `now` it is.
        age: u64,
        /// The configured tolerance.
        tolerance: u64,
    },
    /// The signed timestamp is further in the future than the tolerance.
    #[error("timestamp {timestamp} is {ahead} s in the future, beyond the {tolerance} s tolerance")]
    TimestampInFuture {
        /// The signed timestamp, as sent.
        timestamp: i64,
        /// How many seconds after `now` it is.
        ahead: u64,
        /// The configured tolerance.
        tolerance: u64,
    },
    /// The vendor has no secret configured.
    #[error("no secret is configured for {0}")]
    NoSecret(String),
    /// The vendor publishes no scheme and none is configured.
    #[error("no signature scheme is configured for {0}")]
    NoScheme(String),
    /// A configured secret cannot be used by the scheme.
    #[error("secret {index} of {vendor} cannot be used with {scheme}: {reason}")]
    UnusableSecret {
        /// The vendor.
        vendor: String,
        /// The scheme.
        scheme: &'static str,
        /// Which secret, counting from 1.
        index: usize,
        /// What is wrong with it (never the secret itself).
        reason: &'static str,
    },
}

/// The signing keys of one verifier, as bytes. `Debug` never shows them.
#[derive(Clone, Default)]
pub(crate) struct Keys(Vec<Vec<u8>>);

impl Keys {
    /// Each secret's UTF-8 bytes, used as they are.
    pub(crate) fn utf8(secrets: &[Secret]) -> Keys {
        Keys(
            secrets
                .iter()
                .map(|s| s.expose().as_bytes().to_vec())
                .collect(),
        )
    }

    /// Each secret decoded by `decode`, which names what is wrong; a secret
    /// it refuses is `UnusableSecret`, naming `vendor`, `scheme` and its
    /// position, never its value.
    pub(crate) fn decoded(
        vendor: &str,
        scheme: &'static str,
        secrets: &[Secret],
        decode: impl Fn(&str) -> Result<Vec<u8>, &'static str>,
    ) -> Result<Keys, VerifyError> {
        secrets
            .iter()
            .enumerate()
            .map(|(i, s)| {
                decode(s.expose()).map_err(|reason| VerifyError::UnusableSecret {
                    vendor: vendor.to_owned(),
                    scheme,
                    index: i + 1,
                    reason,
                })
            })
            .collect::<Result<_, _>>()
            .map(Keys)
    }

    /// [`Keys::decoded`] for the one secret `sign` signs with.
    pub(crate) fn decoded_one(
        vendor: &str,
        scheme: &'static str,
        secret: &Secret,
        decode: impl Fn(&str) -> Result<Vec<u8>, &'static str>,
    ) -> Result<Vec<u8>, VerifyError> {
        let Keys(mut keys) = Keys::decoded(vendor, scheme, std::slice::from_ref(secret), decode)?;
        Ok(keys.remove(0))
    }

    /// Whether `candidate` is the HMAC-SHA256 of `parts` under any key.
    /// Every key is tried, whether or not an earlier one matched.
    pub(crate) fn any_matches(&self, parts: &[&[u8]], candidates: &[Vec<u8>]) -> bool {
        let mut matched = false;
        for key in &self.0 {
            let tag = hmac_sha256(key, parts);
            for candidate in candidates {
                matched |= bool::from(tag.as_slice().ct_eq(candidate.as_slice()));
            }
        }
        matched
    }
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keys(<{} redacted>)", self.0.len())
    }
}

/// HMAC-SHA256 of the concatenation of `parts`.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    for part in parts {
        mac.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

/// SHA-256 of the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    use sha2::Digest;
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(&hasher.finalize());
    out
}

/// Lowercase hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// Hexadecimal of either case; `None` when it is not hex.
pub(crate) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

/// Standard base64 with padding.
pub(crate) fn base64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

/// Standard base64; `None` when it is not base64.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    BASE64.decode(text).ok()
}

/// A unix timestamp written as plain ASCII digits (at most 18).
pub(crate) fn parse_unix(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Refuses a signed timestamp (unix seconds) outside `tolerance` of `now`.
pub(crate) fn check_window(timestamp: i64, now: i64, tolerance: u64) -> Result<(), VerifyError> {
    let delta = i128::from(now) - i128::from(timestamp);
    let distance = u64::try_from(delta.unsigned_abs()).unwrap_or(u64::MAX);
    if distance <= tolerance {
        Ok(())
    } else if delta > 0 {
        Err(VerifyError::TimestampTooOld {
            timestamp,
            age: distance,
            tolerance,
        })
    } else {
        Err(VerifyError::TimestampInFuture {
            timestamp,
            ahead: distance,
            tolerance,
        })
    }
}

/// Verifies `request` as `vendor`'s delivery under `scheme`, which the
/// caller has resolved from the vendor's default: `VendorDefault` here
/// means the vendor publishes no scheme and none is configured.
pub fn verify(
    vendor: &str,
    scheme: &Scheme,
    secrets: &[Secret],
    request: &Request<'_>,
    now: i64,
    tolerance: u64,
) -> Result<Verified, VerifyError> {
    match scheme {
        Scheme::VendorDefault => Err(VerifyError::NoScheme(vendor.to_owned())),
        Scheme::None => Ok(Verified::unverified()),
        _ if secrets.is_empty() => Err(VerifyError::NoSecret(vendor.to_owned())),
        Scheme::Varda => varda::Verifier::new(secrets).verify_at(request, now, tolerance),
        Scheme::Atoms => atoms::Verifier::new(secrets).verify_at(request),
        Scheme::OpenPhone => {
            openphone::Verifier::new(vendor, secrets)?.verify_at(request, now, tolerance)
        }
        Scheme::StandardWebhooks => {
            standard_webhooks::Verifier::new(vendor, secrets)?.verify_at(request, now, tolerance)
        }
        Scheme::HmacSha256(options) => {
            hmac_sha256::Verifier::new(options, secrets).verify_at(request, now, tolerance)
        }
        Scheme::SharedSecret { header } => {
            shared_secret::Verifier::new(header, secrets).verify_at(request)
        }
    }
}

/// What `sign` signs.
#[derive(Debug, Clone, Copy)]
pub struct SignInput<'a> {
    /// The raw body.
    pub body: &'a [u8],
    /// The unix timestamp to sign, in seconds.
    pub timestamp: i64,
    /// A message id, for schemes that sign one.
    pub id: &'a str,
}

/// The headers `scheme` would send for `input`, signed with `secret`.
pub fn sign(
    vendor: &str,
    scheme: &Scheme,
    secret: &Secret,
    input: SignInput<'_>,
) -> Result<Vec<(String, String)>, VerifyError> {
    Ok(match scheme {
        Scheme::VendorDefault => return Err(VerifyError::NoScheme(vendor.to_owned())),
        Scheme::None => Vec::new(),
        Scheme::Varda => vec![(
            varda::SIGNATURE_HEADER.to_owned(),
            varda::sign(secret, input.timestamp, input.body),
        )],
        Scheme::Atoms => vec![(
            atoms::SIGNATURE_HEADER.to_owned(),
            atoms::sign(secret, input.body),
        )],
        Scheme::OpenPhone => vec![(
            openphone::SIGNATURE_HEADER.to_owned(),
            openphone::sign(
                vendor,
                secret,
                openphone::millis(input.timestamp),
                input.body,
            )?,
        )],
        Scheme::StandardWebhooks => standard_webhooks::sign(vendor, secret, input)?,
        Scheme::HmacSha256(options) => hmac_sha256::sign(options, secret, input),
        Scheme::SharedSecret { header } => vec![(header.clone(), secret.expose().to_owned())],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_in_either_case() {
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(decode_hex("00ABff"), Some(vec![0x00, 0xab, 0xff]));
        assert_eq!(decode_hex("0g"), None);
        assert_eq!(decode_hex("abc"), None);
        assert_eq!(decode_hex("é1"), None);
    }

    #[test]
    fn window_is_inclusive_both_ways() {
        assert_eq!(check_window(1000, 1300, 300), Ok(()));
        assert_eq!(check_window(1300, 1000, 300), Ok(()));
        assert!(matches!(
            check_window(999, 1300, 300),
            Err(VerifyError::TimestampTooOld { age: 301, .. })
        ));
        assert!(matches!(
            check_window(1301, 1000, 300),
            Err(VerifyError::TimestampInFuture { ahead: 301, .. })
        ));
        assert!(check_window(i64::MIN, i64::MAX, 300).is_err());
    }

    #[test]
    fn unix_timestamps_are_plain_digits() {
        assert_eq!(parse_unix("1711411200"), Some(1711411200));
        assert_eq!(parse_unix("-5"), None);
        assert_eq!(parse_unix("+5"), None);
        assert_eq!(parse_unix("1e9"), None);
        assert_eq!(parse_unix("9999999999999999999"), None);
        assert_eq!(parse_unix(""), None);
    }

    #[test]
    fn keys_are_redacted_in_debug() {
        let keys = Keys::utf8(&[Secret::new("hunter2")]);
        assert_eq!(format!("{keys:?}"), "Keys(<1 redacted>)");
    }
}
