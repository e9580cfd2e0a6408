//! Signature schemes: one module each, all verifying the raw body bytes in
//! constant time against every configured secret.
//!
//! Every scheme is a type implementing [`SignatureScheme`]: its name, how it
//! reads a configured secret as a key (checked once, when the configuration
//! is loaded), `verify_at(keys, request, now)` and `sign`. [`verify`] and
//! [`sign`] dispatch through the trait, in one place. The generic schemes
//! (Standard Webhooks, HMAC-SHA256, shared secret, none) are what the
//! configuration can name; a vendor's own scheme (Varda's, Atoms',
//! OpenPhone's) is its family's business: the family returns it as its
//! default. The helpers here (`Keys`, `EntryCount`, `hmac_sha256`, the
//! decoders, `check_window`) are public so that a scheme can live outside
//! this crate too (`crates/core/tests/fifth_family.rs` shows one). The
//! current time is always an argument: the core has no clock.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::config::{ConfigError, Secret};
use crate::error::Error;
use crate::request::Request;
use crate::time::SignedTime;

pub mod atoms;
pub mod hmac_sha256;
pub mod openphone;
pub mod shared_secret;
pub mod standard_webhooks;
pub mod varda;

/// One way of signing deliveries.
pub trait SignatureScheme: Sync {
    /// The scheme's name: how the configuration names it (for the generic
    /// ones) and what the events' `verification` attribute says.
    fn name(&self) -> &'static str;

    /// How a configured secret becomes a key.
    fn key_form(&self) -> KeyForm {
        KeyForm::Utf8
    }

    /// Whether the scheme verifies anything, and so needs a secret; only
    /// `none` does not.
    fn verifies(&self) -> bool {
        true
    }

    /// Verifies `request` with `keys` at `now` (unix seconds), refusing
    /// signed timestamps more than `tolerance` seconds away. Reads at most
    /// [`MAX_SIGNATURES`] signature entries and hashes each distinct signed
    /// content once per key.
    fn verify_at(
        &self,
        keys: &Keys,
        request: &Request<'_>,
        now: i64,
        tolerance: u64,
    ) -> Result<Verified, VerifyError>;

    /// The headers a sender would send for `input`, signed with `key`.
    fn sign(&self, key: &Key, input: SignInput<'_>) -> Vec<(String, String)>;
}

/// What a successful verification established.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified {
    /// The signed timestamp, when the scheme signs one.
    pub signed_at: Option<SignedTime>,
    /// The Standard Webhooks `webhook-id`, when that scheme verified.
    pub webhook_id: Option<String>,
}

impl Verified {
    /// A verification that established a signed time.
    pub fn at(signed_at: SignedTime) -> Verified {
        Verified {
            signed_at: Some(signed_at),
            webhook_id: None,
        }
    }
}

/// The `none` scheme: nothing is verified, by the operator's explicit choice.
#[derive(Debug, Clone, Copy)]
pub struct Unverified;

impl SignatureScheme for Unverified {
    fn name(&self) -> &'static str {
        "none"
    }

    fn verifies(&self) -> bool {
        false
    }

    fn verify_at(
        &self,
        _: &Keys,
        _: &Request<'_>,
        _: i64,
        _: u64,
    ) -> Result<Verified, VerifyError> {
        Ok(Verified::default())
    }

    fn sign(&self, _: &Key, _: SignInput<'_>) -> Vec<(String, String)> {
        Vec::new()
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
    /// The request carries more signature entries than are ever tried.
    #[error("too many signatures in {header}: at most {limit} are tried")]
    TooManySignatures {
        /// The signature header's name.
        header: String,
        /// [`MAX_SIGNATURES`].
        limit: usize,
    },
}

impl VerifyError {
    /// Why verification failed, as one of [`crate::error::REASONS`].
    pub fn reason(&self) -> &'static str {
        match self {
            VerifyError::MissingHeader(_) | VerifyError::MissingConfiguredHeader(_) => {
                "missing-header"
            }
            VerifyError::UnparseableHeader { .. } => "unparseable-signature",
            VerifyError::Mismatch(_) => "no-match",
            VerifyError::TimestampTooOld { .. } => "stale",
            VerifyError::TimestampInFuture { .. } => "from-the-future",
            VerifyError::NoSecret(_) => "no-secret",
            VerifyError::NoScheme(_) => "no-scheme",
            VerifyError::TooManySignatures { .. } => "too-many-signatures",
        }
    }
}

/// The most signature entries one request may carry, counted over every
/// signature header of its scheme before anything is decoded or hashed.
/// Senders put one, or two or three while they rotate keys; past this the
/// request is refused as `unauthenticated` without hashing anything, so the
/// work one request can cost is bounded by the body limit, this cap and the
/// number of configured keys (each distinct signed content is hashed once
/// per key).
pub const MAX_SIGNATURES: usize = 8;

/// How a scheme turns a configured secret into key bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyForm {
    /// The secret's UTF-8 bytes as they are. It must not be empty, nor
    /// begin or end with whitespace (a stray newline from a file or a
    /// variable would otherwise become part of the key).
    Utf8,
    /// Standard base64, after an optional `whsec_` prefix; surrounding
    /// whitespace is ignored and the padding is optional.
    Base64,
}

impl KeyForm {
    /// The key `secret` stands for when verifying, or what is wrong with it
    /// (never the secret itself). Under [`KeyForm::Base64`], a `whpk_` key
    /// is an ed25519 public key, and a `whsk_` key (a signing key, which a
    /// receiver must never hold) is refused.
    pub fn key(self, secret: &str) -> Result<Key, &'static str> {
        match self.parse(secret)? {
            Key(KeyKind::Signing(_)) => Err(
                "it is a whsk_ signing key, which only the sender needs: configure its whpk_ public key (`switchboard keygen` prints both)",
            ),
            key => Ok(key),
        }
    }

    /// The key `secret` stands for when signing: a `whsk_` key signs `v1a`;
    /// a `whpk_` public key cannot sign.
    pub fn signing_key(self, secret: &str) -> Result<Key, &'static str> {
        match self.parse(secret)? {
            Key(KeyKind::Public(_)) => {
                Err("it is a whpk_ public key, which can only verify: sign with its whsk_ key")
            }
            key => Ok(key),
        }
    }

    fn parse(self, secret: &str) -> Result<Key, &'static str> {
        match self {
            KeyForm::Utf8 if secret.trim().is_empty() => Err("it is empty"),
            KeyForm::Utf8 if secret.trim() != secret => {
                Err("it begins or ends with whitespace (a stray newline?)")
            }
            KeyForm::Utf8 => Ok(Key(KeyKind::Hmac(HmacKey::new(secret.as_bytes().to_vec())))),
            KeyForm::Base64 => {
                let trimmed = secret.trim();
                if let Some(encoded) = trimmed.strip_prefix(PUBLIC_KEY_PREFIX) {
                    return ed25519_public(encoded).map(|key| Key(KeyKind::Public(key)));
                }
                if let Some(encoded) = trimmed.strip_prefix(SIGNING_KEY_PREFIX) {
                    return ed25519_signing(encoded).map(|key| Key(KeyKind::Signing(key)));
                }
                let encoded = trimmed.strip_prefix("whsec_").unwrap_or(trimmed);
                match decode_base64_key(encoded) {
                    Some(key) if !key.is_empty() => Ok(Key(KeyKind::Hmac(HmacKey::new(key)))),
                    Some(_) => Err("it is empty"),
                    None => Err("it is not base64 (after any whsec_ prefix)"),
                }
            }
        }
    }
}

/// The prefix of a Standard Webhooks ed25519 public key.
pub const PUBLIC_KEY_PREFIX: &str = "whpk_";
/// The prefix of a Standard Webhooks ed25519 signing (secret) key.
pub const SIGNING_KEY_PREFIX: &str = "whsk_";

/// A `whpk_` key: base64 of the 32 bytes of a valid, not weak, ed25519
/// point.
fn ed25519_public(encoded: &str) -> Result<ed25519_dalek::VerifyingKey, &'static str> {
    let bytes = decode_base64_key(encoded).ok_or("it is not base64 after the whpk_ prefix")?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| "a whpk_ public key is 32 bytes")?;
    match ed25519_dalek::VerifyingKey::from_bytes(&bytes) {
        Ok(key) if !key.is_weak() => Ok(key),
        _ => Err("it is not a valid ed25519 public key"),
    }
}

/// A `whsk_` key: base64 of the 32-byte seed, or of the 64 bytes of seed
/// and public key that libsodium writes (the public half must match).
fn ed25519_signing(encoded: &str) -> Result<ed25519_dalek::SigningKey, &'static str> {
    let bytes = decode_base64_key(encoded).ok_or("it is not base64 after the whsk_ prefix")?;
    let seed: [u8; 32] = bytes
        .get(..32)
        .and_then(|seed| seed.try_into().ok())
        .ok_or("a whsk_ signing key is 32 bytes (or 64 with its public key)")?;
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    match bytes.len() {
        32 => Ok(key),
        64 if bytes[32..] == key.verifying_key().to_bytes() => Ok(key),
        64 => Err("the public half of this whsk_ key does not match its seed"),
        _ => Err("a whsk_ signing key is 32 bytes (or 64 with its public key)"),
    }
}

/// One configured key. `Debug` never shows it.
#[derive(Clone)]
pub struct Key(KeyKind);

#[derive(Clone)]
enum KeyKind {
    /// An HMAC key.
    Hmac(HmacKey),
    /// An ed25519 public key (`whpk_`): verifies `v1a`.
    Public(ed25519_dalek::VerifyingKey),
    /// An ed25519 signing key (`whsk_`): signs `v1a`, for tools only.
    Signing(ed25519_dalek::SigningKey),
}

/// An HMAC key (or a shared secret): its bytes, its HMAC-SHA256 state with
/// the key already absorbed (so that verifying hashes only the signed
/// content), and its SHA-256 digest (what a shared secret is compared by, so
/// that comparing costs the same whatever the secret's length).
#[derive(Clone)]
struct HmacKey {
    bytes: Vec<u8>,
    mac: Hmac<Sha256>,
    digest: [u8; 32],
}

impl HmacKey {
    fn new(bytes: Vec<u8>) -> HmacKey {
        HmacKey {
            mac: hmac_state(&bytes),
            digest: sha256(&[&bytes]),
            bytes,
        }
    }
}

impl Key {
    /// The key's bytes: an HMAC key's, or an ed25519 key's 32 bytes.
    pub fn bytes(&self) -> &[u8] {
        match &self.0 {
            KeyKind::Hmac(key) => &key.bytes,
            KeyKind::Public(key) => key.as_bytes(),
            KeyKind::Signing(key) => key.as_bytes(),
        }
    }

    /// An ed25519 signature of `message` when this is a signing key.
    pub(crate) fn sign_ed25519(&self, message: &[u8]) -> Option<[u8; 64]> {
        use ed25519_dalek::Signer as _;
        match &self.0 {
            KeyKind::Signing(key) => Some(key.sign(message).to_bytes()),
            _ => None,
        }
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

/// The keys one scheme verifies with. `Debug` never shows them.
#[derive(Clone, Default)]
pub struct Keys(Vec<Key>);

impl Keys {
    /// Each of `secrets` in `form`; a secret that cannot be used is a
    /// configuration error naming `vendor`, `scheme` and its position, never
    /// its value.
    pub fn new(
        vendor: &str,
        scheme: &'static str,
        secrets: &[Secret],
        form: KeyForm,
    ) -> Result<Keys, ConfigError> {
        secrets
            .iter()
            .enumerate()
            .map(|(i, s)| {
                form.key(s.expose())
                    .map_err(|reason| unusable(vendor, scheme, i, reason))
            })
            .collect::<Result<_, _>>()
            .map(Keys)
    }

    /// Whether there are no keys (no secret is configured).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The key of the one secret `sign` signs with.
    pub fn one(
        vendor: &str,
        scheme: &'static str,
        secret: &Secret,
        form: KeyForm,
    ) -> Result<Key, ConfigError> {
        form.signing_key(secret.expose())
            .map_err(|reason| unusable(vendor, scheme, 0, reason))
    }

    fn hmac(&self) -> impl Iterator<Item = &HmacKey> {
        self.0.iter().filter_map(|key| match &key.0 {
            KeyKind::Hmac(key) => Some(key),
            _ => None,
        })
    }

    /// Whether any of `candidates` is the HMAC-SHA256 of `parts` under any
    /// HMAC key. Each key hashes `parts` once, and every key and candidate
    /// is tried, whether or not an earlier one matched.
    pub fn any_matches(&self, parts: &[&[u8]], candidates: &[Vec<u8>]) -> bool {
        let mut matched = false;
        for key in self.hmac() {
            let mut mac = key.mac.clone();
            for part in parts {
                mac.update(part);
            }
            let tag = mac.finalize().into_bytes();
            for candidate in candidates {
                matched |= bool::from(tag.as_slice().ct_eq(candidate.as_slice()));
            }
        }
        matched
    }

    /// Whether any of `signatures` is a valid ed25519 signature of the
    /// concatenation of `parts` under any public key, checked strictly
    /// (`verify_strict`: no malleable signatures, no small-order points).
    /// Public-key verification reveals nothing secret, so it need not be
    /// constant-time.
    pub fn any_ed25519_verifies(&self, parts: &[&[u8]], signatures: &[[u8; 64]]) -> bool {
        let mut public = self
            .0
            .iter()
            .filter_map(|key| match &key.0 {
                KeyKind::Public(key) => Some(key),
                _ => None,
            })
            .peekable();
        if public.peek().is_none() || signatures.is_empty() {
            return false;
        }
        let message = parts.concat();
        public.any(|key| {
            signatures.iter().any(|signature| {
                let signature = ed25519_dalek::Signature::from_bytes(signature);
                key.verify_strict(&message, &signature).is_ok()
            })
        })
    }

    /// Whether `presented` equals any key, compared as SHA-256 digests in
    /// constant time: the time taken depends on neither the keys' lengths
    /// (their digests are computed once, when the keys are) nor how much of
    /// one `presented` got right. Every key is compared.
    pub fn any_equals(&self, presented: &[u8]) -> bool {
        let presented = sha256(&[presented]);
        let mut matched = false;
        for key in self.hmac() {
            matched |= bool::from(presented.ct_eq(&key.digest));
        }
        matched
    }
}

/// The configuration error for secret `index` (from 0) of `vendor`.
fn unusable(vendor: &str, scheme: &'static str, index: usize, reason: &str) -> ConfigError {
    ConfigError::new(
        format!("vendors.{vendor}.secrets"),
        format!(
            "secret {} of {vendor} cannot be used with {scheme}: {reason}",
            index + 1
        ),
    )
}

/// Counts signature entries against [`MAX_SIGNATURES`].
#[derive(Debug)]
pub struct EntryCount<'h> {
    header: &'h str,
    seen: usize,
}

impl<'h> EntryCount<'h> {
    /// A count for the entries of `header`.
    pub fn new(header: &'h str) -> EntryCount<'h> {
        EntryCount { header, seen: 0 }
    }

    /// Counts one more entry; past the cap, the refusal.
    pub fn add(&mut self) -> Result<(), VerifyError> {
        self.seen += 1;
        if self.seen > MAX_SIGNATURES {
            Err(VerifyError::TooManySignatures {
                header: self.header.to_owned(),
                limit: MAX_SIGNATURES,
            })
        } else {
            Ok(())
        }
    }
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keys(<{} redacted>)", self.0.len())
    }
}

/// The HMAC-SHA256 state of `key`, before any content.
fn hmac_state(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length; this cannot fail.
    <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"))
}

/// HMAC-SHA256 of the concatenation of `parts`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = hmac_state(key);
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
pub fn decode_hex(text: &str) -> Option<Vec<u8>> {
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
pub fn base64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

/// Standard base64; `None` when it is not base64.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    BASE64.decode(text).ok()
}

/// Standard base64 with or without its padding, as secrets are written.
fn decode_base64_key(text: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    LENIENT.decode(text).ok()
}

/// A unix timestamp written as plain ASCII digits (at most 18).
pub fn parse_unix(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Refuses a signed timestamp (unix seconds) outside `tolerance` of `now`.
pub fn check_window(timestamp: i64, now: i64, tolerance: u64) -> Result<(), VerifyError> {
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

/// Checks that every one of `secrets` can be used as a key by `scheme` for
/// `vendor`: what configuration loading runs, so that a bad secret is
/// refused at start, not at each delivery.
pub fn check_secrets(
    vendor: &str,
    scheme: &dyn SignatureScheme,
    secrets: &[Secret],
) -> Result<(), ConfigError> {
    // Decoded only: the HMAC states `Keys::new` would also compute are not
    // needed to know that every secret can be used.
    let form = scheme.key_form();
    secrets.iter().enumerate().try_for_each(|(i, secret)| {
        form.key(secret.expose())
            .map(drop)
            .map_err(|reason| unusable(vendor, scheme.name(), i, reason))
    })
}

/// Verifies `request` as `vendor`'s delivery under `scheme` (the configured
/// one, or the vendor's own). A secret the scheme cannot use is a
/// configuration error, not a refusal.
pub fn verify(
    vendor: &str,
    scheme: &dyn SignatureScheme,
    secrets: &[Secret],
    request: &Request<'_>,
    now: i64,
    tolerance: u64,
) -> Result<Verified, Error> {
    let keys = Keys::new(vendor, scheme.name(), secrets, scheme.key_form())?;
    verify_keys(vendor, scheme, &keys, request, now, tolerance)
}

/// [`verify`] with the keys already decoded (one per configured secret).
pub fn verify_keys(
    vendor: &str,
    scheme: &dyn SignatureScheme,
    keys: &Keys,
    request: &Request<'_>,
    now: i64,
    tolerance: u64,
) -> Result<Verified, Error> {
    if scheme.verifies() && keys.is_empty() {
        return Err(VerifyError::NoSecret(vendor.to_owned()).into());
    }
    Ok(scheme.verify_at(keys, request, now, tolerance)?)
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
    scheme: &dyn SignatureScheme,
    secret: &Secret,
    input: SignInput<'_>,
) -> Result<Vec<(String, String)>, Error> {
    let key = Keys::one(vendor, scheme.name(), secret, scheme.key_form())?;
    Ok(scheme.sign(&key, input))
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
    fn key_forms_refuse_unusable_secrets() {
        let bytes = |form: KeyForm, secret: &str| form.key(secret).map(|k| k.bytes().to_vec());
        assert_eq!(bytes(KeyForm::Utf8, "s3cret"), Ok(b"s3cret".to_vec()));
        for blank in ["", " ", "\n"] {
            assert_eq!(bytes(KeyForm::Utf8, blank), Err("it is empty"));
            assert_eq!(bytes(KeyForm::Base64, blank), Err("it is empty"));
        }
        assert!(KeyForm::Utf8.key("s3cret\n").is_err());
        assert!(KeyForm::Utf8.key(" s3cret").is_err());
        // whsec_ keys as people paste them: a trailing newline, no padding.
        let key = b"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_vec();
        for written in [
            "whsec_TWZLUTlyOEdLWXFyVHdqVVBEOElMUFpJbzJMYUxhU3c=",
            "whsec_TWZLUTlyOEdLWXFyVHdqVVBEOElMUFpJbzJMYUxhU3c=\n",
            "whsec_TWZLUTlyOEdLWXFyVHdqVVBEOElMUFpJbzJMYUxhU3c",
            "TWZLUTlyOEdLWXFyVHdqVVBEOElMUFpJbzJMYUxhU3c",
        ] {
            assert_eq!(
                bytes(KeyForm::Base64, written),
                Ok(key.clone()),
                "{written:?}"
            );
        }
        assert!(KeyForm::Base64.key("whsec_not*base64!").is_err());
        assert_eq!(bytes(KeyForm::Base64, "whsec_"), Err("it is empty"));
    }

    #[test]
    fn the_signature_cap_counts_every_entry() {
        let mut count = EntryCount::new("X-Sig");
        for _ in 0..MAX_SIGNATURES {
            assert_eq!(count.add(), Ok(()));
        }
        assert_eq!(
            count.add(),
            Err(VerifyError::TooManySignatures {
                header: "X-Sig".into(),
                limit: MAX_SIGNATURES
            })
        );
    }

    #[test]
    fn keys_are_redacted_in_debug() {
        let keys = Keys::new("v", "varda", &[Secret::new("hunter2")], KeyForm::Utf8).unwrap();
        assert_eq!(format!("{keys:?}"), "Keys(<1 redacted>)");
    }
}
