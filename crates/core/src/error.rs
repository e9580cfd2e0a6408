//! The error of a refused delivery, and the five classes every host maps the
//! same way.

use crate::config::ConfigError;
use crate::schemes::VerifyError;

/// Why a delivery was refused.
///
/// Messages say what was wrong and never contain a secret, a computed digest
/// or the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The signature did not verify, or nothing could verify it.
    #[error(transparent)]
    Unauthenticated(#[from] VerifyError),
    /// The body is over the configured limit.
    #[error("body is {size} bytes, over the {limit} byte limit")]
    TooLarge {
        /// The body's length.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// No vendor family was named and none recognises the request.
    #[error("could not determine the vendor from the headers or the body")]
    VendorNotDetected,
    /// The named vendor family does not exist.
    #[error("{}", crate::vendors::no_such_family(crate::FAMILIES, .0))]
    NoSuchVendor(String),
    /// The vendor family exists but the configuration does not enable it.
    #[error("vendor `{0}` is not enabled")]
    VendorNotEnabled(String),
    /// The verified body is not a JSON document.
    #[error("body is not JSON: {0}")]
    NotJson(String),
    /// The verified body is JSON but not an object.
    #[error("body is a JSON {0}, not an object")]
    NotObject(&'static str),
    /// The payload does not say which event it is.
    #[error("payload has no usable `{field}` naming its event type")]
    MissingEventType {
        /// The field that should name it.
        field: &'static str,
    },
    /// A known event lacks a field it needs.
    #[error("`{event}` event has no usable `{field}`")]
    MissingField {
        /// The vendor's event type.
        event: String,
        /// The field, as a JSON path (`data.id`).
        field: &'static str,
    },
    /// The request handed to the JSON API cannot be read.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The configuration cannot be used: refused when it is loaded, and
    /// never reported as a refusal of the delivery.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
}

/// Every reason a delivery can be refused for: a stable, short, lowercase
/// code beside the class, for logs, metrics and operators (see
/// [`Error::reason`]). The list is closed: a new reason is a contract change.
pub const REASONS: &[&str] = &[
    "missing-header",
    "unparseable-signature",
    "no-match",
    "stale",
    "from-the-future",
    "too-many-signatures",
    "no-secret",
    "no-scheme",
    "too-large",
    "vendor-not-detected",
    "no-such-vendor",
    "vendor-not-enabled",
    "not-json",
    "not-object",
    "missing-event-type",
    "missing-field",
    "invalid-request",
    "invalid-config",
];

/// `code` as the `&'static str` of [`REASONS`] it spells, so that a host
/// reading a reason back from the component's interface keeps its metric
/// labels within the closed list; `None` for any other text.
pub fn reason_named(code: &str) -> Option<&'static str> {
    REASONS.iter().copied().find(|reason| *reason == code)
}

impl Error {
    /// Why the delivery was refused, as one of [`REASONS`].
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Unauthenticated(error) => error.reason(),
            Error::TooLarge { .. } => "too-large",
            Error::VendorNotDetected => "vendor-not-detected",
            Error::NoSuchVendor(_) => "no-such-vendor",
            Error::VendorNotEnabled(_) => "vendor-not-enabled",
            Error::NotJson(_) => "not-json",
            Error::NotObject(_) => "not-object",
            Error::MissingEventType { .. } => "missing-event-type",
            Error::MissingField { .. } => "missing-field",
            Error::InvalidRequest(_) => "invalid-request",
            Error::Config(_) => "invalid-config",
        }
    }

    /// The class of this error, which fixes its HTTP status and exit code.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Unauthenticated(_) => ErrorClass::Unauthenticated,
            Error::TooLarge { .. } => ErrorClass::TooLarge,
            Error::VendorNotDetected | Error::NoSuchVendor(_) | Error::VendorNotEnabled(_) => {
                ErrorClass::UnknownVendor
            }
            Error::NotJson(_)
            | Error::NotObject(_)
            | Error::MissingEventType { .. }
            | Error::InvalidRequest(_)
            | Error::MissingField { .. } => ErrorClass::Malformed,
            Error::Config(_) => ErrorClass::Config,
        }
    }
}

/// The classes of failure of normalized-events.md: the five a delivery can
/// be refused with, and the configuration error, which is the operator's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Signature missing, unparseable or wrong; timestamp outside the
    /// tolerance; no secret or scheme configured.
    Unauthenticated,
    /// A verified body that is not JSON, not an object, or a known event
    /// missing what it needs.
    Malformed,
    /// The vendor cannot be determined, or is not enabled.
    UnknownVendor,
    /// The body is over the configured limit.
    TooLarge,
    /// The component trapped or ran out of its budget.
    Internal,
    /// The configuration cannot be used (an empty or undecodable secret, an
    /// unknown vendor, scheme or `SWITCHBOARD_*` variable). Hosts refuse it
    /// when they load it; a delivery that meets it anyway is answered `503`
    /// so that the vendor retries once the operator has fixed it.
    Config,
}

impl ErrorClass {
    /// Every class, in the order of the table.
    pub const ALL: [ErrorClass; 6] = [
        ErrorClass::Unauthenticated,
        ErrorClass::Malformed,
        ErrorClass::UnknownVendor,
        ErrorClass::TooLarge,
        ErrorClass::Internal,
        ErrorClass::Config,
    ];

    /// The class's name on the wire (`unknown-vendor`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Unauthenticated => "unauthenticated",
            ErrorClass::Malformed => "malformed",
            ErrorClass::UnknownVendor => "unknown-vendor",
            ErrorClass::TooLarge => "too-large",
            ErrorClass::Internal => "internal",
            ErrorClass::Config => "invalid-config",
        }
    }

    /// The class named `name`, if any.
    pub fn from_name(name: &str) -> Option<ErrorClass> {
        ErrorClass::ALL
            .into_iter()
            .find(|class| class.as_str() == name)
    }

    /// The HTTP status a receiver answers with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorClass::Unauthenticated => 401,
            ErrorClass::Malformed => 400,
            ErrorClass::UnknownVendor => 404,
            ErrorClass::TooLarge => 413,
            ErrorClass::Internal => 500,
            ErrorClass::Config => 503,
        }
    }

    /// The exit code of the `switchboard` CLI (2, bad usage, for a
    /// configuration error).
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorClass::Unauthenticated => 3,
            ErrorClass::Malformed => 4,
            ErrorClass::UnknownVendor => 5,
            ErrorClass::TooLarge => 6,
            ErrorClass::Internal => 7,
            ErrorClass::Config => 2,
        }
    }
}

impl std::fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
