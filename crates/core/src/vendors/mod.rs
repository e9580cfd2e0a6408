//! Vendor families: one module each, listed once in [`FAMILIES`].
//!
//! A family knows how to recognise its deliveries, which scheme it signs with
//! by default, and how to turn a verified payload into a [`Normalized`]
//! event. Its event-type mapping is a table in its module. Adding a vendor is
//! a module here, a line in [`FAMILIES`], and its fixtures.

use crate::error::Error;
use crate::event::{Data, EventType};
use crate::fields::Object;
use crate::json::Text;
use crate::request::Request;
use crate::schemes::SignatureScheme;

pub mod atoms;
pub mod opencx;
pub mod openphone;
pub mod varda;

/// Every vendor family, in detection order.
pub static FAMILIES: &[&dyn Family] = &[
    &opencx::OpenCx,
    &varda::Varda,
    &atoms::Atoms,
    &openphone::OpenPhone,
];

/// Every family's name, comma-separated, for messages.
pub fn names() -> String {
    names_of(FAMILIES)
}

/// Why `name` is no family of `families`: the nearest name when one is a
/// likely typo, and every name.
pub fn no_such_family(families: &[&dyn Family], name: &str) -> String {
    let known: Vec<String> = families.iter().map(|f| f.name().to_owned()).collect();
    let hint = crate::config::did_you_mean(name, &known)
        .map(|near| format!("did you mean `{near}`? "))
        .unwrap_or_default();
    format!(
        "no vendor family is called `{name}` ({hint}expected one of {})",
        names_of(families)
    )
}

/// The names of `families`, comma-separated.
pub fn names_of(families: &[&dyn Family]) -> String {
    families
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The family called `name`.
pub fn family(name: &str) -> Option<&'static dyn Family> {
    family_in(FAMILIES, name)
}

/// The family called `name` among `families`.
pub fn family_in<'f>(families: &[&'f dyn Family], name: &str) -> Option<&'f dyn Family> {
    families.iter().copied().find(|f| f.name() == name)
}

/// The vendor's id of a delivery, from its headers alone, for log lines:
/// [`Family::delivery_id`] of `vendor`, or of the family whose headers
/// claim the request, else `webhook-id`. Unverified: a log shows it for what
/// it is, the sender's claim.
pub fn delivery_id<'r>(request: &Request<'r>, vendor: Option<&str>) -> Option<&'r str> {
    let claimed = || FAMILIES.iter().copied().find(|f| f.claims_headers(request));
    match vendor.and_then(family).or_else(claimed) {
        Some(family) => family.delivery_id(request),
        None => request.header("webhook-id"),
    }
}

/// The family a request belongs to: the one whose headers claim it, else
/// the one that recognises the body's shape. Nothing is verified. Families
/// do not overlap (`tests/fixtures.rs` checks every fixture against every
/// family), so the order of [`FAMILIES`] is not a priority.
pub fn detect(request: &Request<'_>) -> Option<&'static dyn Family> {
    detect_in(FAMILIES, request)
}

/// [`detect`] among `families`.
pub fn detect_in<'f>(families: &[&'f dyn Family], request: &Request<'_>) -> Option<&'f dyn Family> {
    detect_parsed(families, request).map(|(family, _)| family)
}

/// [`detect_in`], also returning the body as parsed when detection had to
/// read it, so that it is parsed only once.
pub(crate) fn detect_parsed<'f, 'a>(
    families: &[&'f dyn Family],
    request: &Request<'a>,
) -> Option<(&'f dyn Family, Option<crate::json::Document<'a>>)> {
    if let Some(family) = families.iter().find(|f| f.claims_headers(request)) {
        return Some((*family, None));
    }
    let parsed = crate::json::parse_body(request.body()).ok()?;
    let payload = parsed.value.as_object()?;
    let family = families
        .iter()
        .copied()
        .find(|f| f.claims_body(request, payload))?;
    Some((family, Some(parsed)))
}

/// One vendor family.
pub trait Family: Sync {
    /// The family's name: the `vendor` attribute, the first segment of the
    /// `source`, the key of its configuration.
    fn name(&self) -> &'static str;

    /// The scheme used when the operator leaves it at `vendor-default`, which
    /// may depend on the request's headers; `None` when the vendor publishes
    /// none, so that deliveries are refused until one is configured.
    fn default_scheme(&self, request: &Request<'_>) -> Option<&'static dyn SignatureScheme>;

    /// Every scheme [`Family::default_scheme`] may choose (empty when the
    /// vendor publishes none): configuration loading checks the secrets
    /// against each.
    fn default_schemes(&self) -> &'static [&'static dyn SignatureScheme];

    /// Whether the headers alone mark the request as this family's.
    fn claims_headers(&self, request: &Request<'_>) -> bool;

    /// Whether the body's shape marks the request as this family's; asked
    /// only when no family's headers claimed it.
    fn claims_body(&self, _request: &Request<'_>, _payload: &Object<'_>) -> bool {
        false
    }

    /// The vendor's id of this delivery, from its headers, for log lines
    /// (nothing is verified): by default the Standard Webhooks
    /// `webhook-id`, which every family may be configured to use.
    fn delivery_id<'r>(&self, request: &Request<'r>) -> Option<&'r str> {
        request.header("webhook-id")
    }

    /// The headers the vendor sends besides the signature (`sign` prints
    /// them), given the payload when it is a JSON object.
    fn delivery_headers(&self, _payload: Option<&Object<'_>>) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Maps a verified payload. An event type the family does not know gives
    /// an [`EventType::Unrecognized`] event, not an error; a known one
    /// missing what it needs is [`Error::MissingField`].
    /// Text the event passes on as the payload wrote it is borrowed from
    /// the payload (`'a`).
    fn normalize<'a>(&self, payload: &Object<'a>) -> Result<Normalized<'a>, Error>;
}

/// What a family makes of a payload; `crate::process` completes the event.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized<'a> {
    /// The normalized type.
    pub event_type: EventType,
    /// The vendor's own event type, verbatim.
    pub vendor_event: Text<'a>,
    /// The event id the payload carries, if any.
    pub id: Option<Text<'a>>,
    /// The account scope after `/<vendor>/` in the source
    /// (`organizations/org_1`), if the payload names one.
    pub scope: Option<String>,
    /// The id of the entity the type names.
    pub subject: Option<Text<'a>>,
    /// When it happened, RFC 3339 UTC, if the payload says.
    pub time: Option<String>,
    /// The normalized payload, `raw` aside.
    pub data: Data<'a>,
}

impl<'a> Normalized<'a> {
    /// An event of `event_type` with nothing else known yet.
    pub fn new(event_type: EventType, vendor_event: impl Into<Text<'a>>) -> Normalized<'a> {
        Normalized {
            event_type,
            vendor_event: vendor_event.into(),
            id: None,
            scope: None,
            subject: None,
            time: None,
            data: Data::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delivery_id_is_the_vendors_header() {
        let headers = [
            ("X-Varda-Event", "call.ended"),
            ("X-Varda-Delivery", "dlv_1"),
            ("webhook-id", "msg_1"),
        ];
        let varda = Request::new(headers, b"");
        assert_eq!(delivery_id(&varda, Some("varda")), Some("dlv_1"));
        assert_eq!(delivery_id(&varda, None), Some("dlv_1"));
        let standard = Request::new([("webhook-id", "msg_1")], b"");
        assert_eq!(delivery_id(&standard, Some("opencx")), Some("msg_1"));
        assert_eq!(delivery_id(&standard, Some("nope")), Some("msg_1"));
        assert_eq!(delivery_id(&Request::new([], b""), None), None);
    }
}
