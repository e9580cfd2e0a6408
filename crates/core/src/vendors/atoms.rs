//! Smallest.ai Atoms: voice-agent calls, in two payload formats.
//!
//! - **The seed format**: flat snake_case payloads
//!   `{"event", "timestamp", "agent_id", "call_id", ...}` with `event` one of
//!   `call.start`, `call.end`, `analytics.completed`.
//! - **The wire format** (Atoms' published API): the envelope
//!   `{"url", "description", "event": "<agentId>.<eventType>", "metadata", "id"}`
//!   with everything else in `metadata`, `metadata.eventType` one of
//!   `pre-conversation`, `post-conversation`, `analytics-completed`.
//!
//! A payload is in the wire format when it has a `metadata` field, or when
//! its `event` ends in a wire event type; otherwise it is in the seed format.
//! Both map through the one table `EVENTS`; `vendorevent` is the seed's
//! `event` or the wire's `eventType` (`post-conversation`, without the agent
//! prefix). Any other event type is `unrecognized`, keeping its source, id
//! and time but no data beyond `raw`.
//!
//! Choices where the spec is silent:
//!
//! - `id`: the wire envelope's `id` (Atoms' delivery id; Atoms never retries,
//!   so it names the event, and a replayed capture keeps it). The seed
//!   format has none, so its id is the body digest. Nothing time-based is
//!   signed (see [`crate::schemes::atoms`]), so there is no replay window:
//!   deduplicate on the id.
//! - `source`: `/atoms/agents/<agent id>`, from `agent_id`, or
//!   `metadata.agentId`, or the prefix of the wire `event`; plain `/atoms`
//!   when none is given. The same id is `data.call.agent_id`.
//! - `subject` and `data.call.id`: `call_id` / `metadata.callId`, required
//!   by every known event (without it the payload is `malformed`).
//! - `time`: the seed's `timestamp`. The wire format carries no envelope
//!   time and nothing is signed, so `time` is omitted, except for
//!   `post-conversation`, whose occurrence (the call ending) is
//!   `callData.endTime`. `analytics-completed` also carries `endTime`, but
//!   the analysis finished later, so it has no `time`.
//! - Directions: `call_direction` / `callDirection` as the shared rule
//!   says; else `conversationType`, only when it is `telephonyInbound` or
//!   `telephonyOutbound` (other values name a channel, not a direction).
//! - Phones: the seed's `caller_phone` is the contact, so it is `from` on
//!   inbound calls and `to` on outbound ones, `agent_phone` the other side;
//!   when the direction is missing or neither, neither is placed (they stay
//!   in `raw`). The wire's `fromPhone`/`fromNumber` and `toPhone`/`toNumber`
//!   are `from` and `to` as they are.
//! - `data.call.status`: `callStatus` with Atoms' two spellings folded into
//!   one, `no-answer` → `no_answer` and `cancelled` → `canceled` (as other
//!   vendors spell them); any other status verbatim. A call that ended
//!   unanswered is still `call.ended`: its status says how.
//! - `data.call.disposition`: the seed's `disposition`, verbatim.
//! - `data.transcript`: each `{role, content, timestamp}` turn as
//!   `{role, text, at}`, role verbatim (`agent`, `user`), `at` rewritten in
//!   UTC when it is a time and kept verbatim otherwise.
//! - `data.analysis`: the seed's `metrics` object as given; on the wire,
//!   `summary` from `analytics.summary` and `metrics` the rest of
//!   `analytics` as given, i.e. `{"dispositionMetrics": [...],
//!   "successMetrics": [...]}` with every metric object whole (identifier,
//!   value, confidence, reasoning, type), since identifiers vary per agent.
//! - `data.variables`: `variables` as given (Atoms' keys are dynamic).
//! - Older Atoms documentation wrote `callData` in snake_case
//!   (`from_number`, `call_duration`, `answer_time`, ...): those names are
//!   read too.
//!
//! Detection: `X-Signature` is too generic a header name to claim a request
//! on its own (an operator may configure it for another vendor's
//! `hmac-sha256`), so Atoms claims a body carrying `X-Signature` whose shape
//! is one of the two formats: a `metadata` object with a string `event`, or
//! a string `event` with a seed event name, `call_id` or `agent_id`.

use std::borrow::Cow;
use std::ops::Range;

use crate::json::{Text, Value};

use super::{Family, Normalized};
use crate::error::Error;
use crate::event::{Analysis, Call, EventType, Section, TranscriptTurn};
use crate::fields::{self, Object};
use crate::request::Request;
use crate::schemes::atoms::SIGNATURE_HEADER;
use crate::schemes::{self, SignatureScheme};

/// The Atoms family.
#[derive(Debug, Clone, Copy)]
pub struct Atoms;

/// Which of Atoms' two payload formats an event type belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// Flat snake_case fields at the top level.
    Seed,
    /// The envelope, with the event's fields in `metadata`.
    Wire,
}

/// Reads one event's fields (the payload for the seed format, `metadata`
/// for the wire format) into the event.
type Parse = for<'a> fn(&Object<'a>, &mut Normalized<'a>) -> Result<(), &'static str>;

/// Atoms' event types in both formats: the normalized type and how the
/// fields are read.
const EVENTS: &[(&str, Format, EventType, Parse)] = &[
    (
        "call.start",
        Format::Seed,
        EventType::CallStarted,
        call_start,
    ),
    ("call.end", Format::Seed, EventType::CallEnded, call_end),
    (
        "analytics.completed",
        Format::Seed,
        EventType::CallAnalysisCompleted,
        seed_analytics,
    ),
    (
        "pre-conversation",
        Format::Wire,
        EventType::CallStarted,
        pre_conversation,
    ),
    (
        "post-conversation",
        Format::Wire,
        EventType::CallEnded,
        post_conversation,
    ),
    (
        "analytics-completed",
        Format::Wire,
        EventType::CallAnalysisCompleted,
        wire_analytics,
    ),
];

impl Family for Atoms {
    fn name(&self) -> &'static str {
        "atoms"
    }

    fn default_scheme(&self, _request: &Request<'_>) -> Option<&'static dyn SignatureScheme> {
        Some(&schemes::atoms::Atoms)
    }

    fn default_schemes(&self) -> &'static [&'static dyn SignatureScheme] {
        &[&schemes::atoms::Atoms]
    }

    fn claims_headers(&self, _request: &Request<'_>) -> bool {
        false
    }

    fn claims_body(&self, request: &Request<'_>, payload: &Object<'_>) -> bool {
        let Some(event) = fields::string(payload, "event") else {
            return false;
        };
        let wire = fields::object(payload, "metadata").is_some();
        let seed = is_known(&event, Format::Seed)
            || fields::get(payload, "call_id").is_some()
            || fields::get(payload, "agent_id").is_some();
        request.has_header(SIGNATURE_HEADER) && (wire || seed)
    }

    fn delivery_headers(&self, _payload: Option<&Object<'_>>) -> Vec<(String, String)> {
        vec![("Content-Type".to_owned(), "application/json".to_owned())]
    }

    fn normalize<'a>(&self, payload: &Object<'a>) -> Result<Normalized<'a>, Error> {
        let envelope = match format_of(payload) {
            Format::Seed => seed_envelope(payload)?,
            Format::Wire => wire_envelope(payload)?,
        };
        let known = EVENTS
            .iter()
            .find(|(name, format, _, _)| *name == envelope.event && *format == envelope.format);
        let event_type = known.map_or(EventType::Unrecognized, |(_, _, t, _)| *t);
        let mut event = Normalized::new(event_type, envelope.event);
        event.id = envelope.id;
        event.time = envelope.time;
        event.scope = envelope
            .agent
            .as_ref()
            .map(|agent| format!("agents/{agent}"));
        if let Some((_, _, _, parse)) = known {
            let vendor_event = event.vendor_event.to_string();
            let missing = |field| Error::MissingField {
                event: vendor_event.clone(),
                field,
            };
            let fields = envelope.fields.ok_or_else(|| missing("metadata"))?;
            parse(fields, &mut event).map_err(missing)?;
            if let Some(call) = &mut event.data.call {
                call.agent_id = envelope.agent;
            }
        }
        Ok(event)
    }
}

/// What the envelope of either format says, before the event's own fields.
struct Envelope<'p, 'a> {
    format: Format,
    /// The vendor's event type.
    event: Text<'a>,
    /// The agent that handled the call.
    agent: Option<Text<'a>>,
    /// The payload's event id.
    id: Option<Text<'a>>,
    /// The occurrence time the envelope gives.
    time: Option<String>,
    /// Where the event's fields are: `None` when the wire `metadata` is
    /// missing.
    fields: Option<&'p Object<'a>>,
}

/// The wire format has `metadata`, or an `event` ending in a wire type.
fn format_of(payload: &Object<'_>) -> Format {
    let wire_event = fields::string(payload, "event").is_some_and(|event| {
        let event_type = event.rsplit_once('.').map_or(event.as_ref(), |(_, t)| t);
        is_known(event_type, Format::Wire)
    });
    if fields::get(payload, "metadata").is_some() || wire_event {
        Format::Wire
    } else {
        Format::Seed
    }
}

fn is_known(event: &str, format: Format) -> bool {
    EVENTS
        .iter()
        .any(|(name, f, _, _)| *name == event && *f == format)
}

fn seed_envelope<'p, 'a>(payload: &'p Object<'a>) -> Result<Envelope<'p, 'a>, Error> {
    Ok(Envelope {
        format: Format::Seed,
        event: fields::string(payload, "event")
            .ok_or(Error::MissingEventType { field: "event" })?,
        agent: fields::id(payload, "agent_id"),
        id: None,
        time: fields::strict_time(payload, "timestamp"),
        fields: Some(payload),
    })
}

fn wire_envelope<'p, 'a>(payload: &'p Object<'a>) -> Result<Envelope<'p, 'a>, Error> {
    let metadata = fields::object(payload, "metadata");
    let declared = metadata.and_then(|m| fields::string(m, "eventType"));
    // `event` is `<agentId>.<eventType>`: split it where the declared type
    // starts, else at the last dot.
    let envelope_event = fields::string(payload, "event");
    let (prefix, suffix) = match (&envelope_event, &declared) {
        (Some(event), Some(event_type)) => {
            let end = match event.strip_suffix(event_type.as_ref()) {
                Some(rest) => rest.strip_suffix('.').map(str::len),
                None => event.rfind('.'),
            };
            (end.map(|end| slice(event, 0..end)), None)
        }
        (Some(event), None) => match event.rfind('.') {
            Some(dot) => (
                Some(slice(event, 0..dot)),
                Some(slice(event, dot + 1..event.len())),
            ),
            None => (None, Some(event.clone())),
        },
        (None, _) => (None, None),
    };
    let event = declared.or(suffix).ok_or(Error::MissingEventType {
        field: "metadata.eventType",
    })?;
    let agent = metadata
        .and_then(|m| fields::id(m, "agentId"))
        .or_else(|| prefix.filter(|p| !p.is_empty()));
    Ok(Envelope {
        format: Format::Wire,
        event,
        agent,
        id: fields::id(payload, "id"),
        time: None,
        fields: metadata,
    })
}

// --- the seed format ---

fn call_start<'a>(payload: &Object<'a>, event: &mut Normalized<'a>) -> Result<(), &'static str> {
    seed_call(payload, event)
}

fn call_end<'a>(payload: &Object<'a>, event: &mut Normalized<'a>) -> Result<(), &'static str> {
    seed_call(payload, event)?;
    event.data.transcript = transcript(payload);
    event.data.variables = open_value(payload, "variables");
    Ok(())
}

fn seed_analytics<'a>(
    payload: &Object<'a>,
    event: &mut Normalized<'a>,
) -> Result<(), &'static str> {
    seed_call(payload, event)?;
    event.data.analysis = Analysis {
        metrics: open_value(payload, "metrics"),
        ..Analysis::default()
    }
    .non_empty();
    Ok(())
}

/// The call every seed event is about, with whatever the payload says of it.
fn seed_call<'a>(payload: &Object<'a>, event: &mut Normalized<'a>) -> Result<(), &'static str> {
    let id = fields::id(payload, "call_id").ok_or("call_id")?;
    event.subject = Some(id.clone());
    let direction = fields::direction(payload, "call_direction");
    let caller = fields::phone(payload, "caller_phone");
    let agent = fields::phone(payload, "agent_phone");
    let (from, to) = match direction.as_deref() {
        Some("inbound") => (caller, agent),
        Some("outbound") => (agent, caller),
        _ => (None, None),
    };
    event.data.call = Some(Call {
        id: Some(id),
        direction,
        from,
        to,
        duration_seconds: fields::number(payload, "duration_seconds"),
        disposition: fields::string(payload, "disposition"),
        ..Call::default()
    });
    Ok(())
}

// --- the wire format ---

fn pre_conversation<'a>(
    metadata: &Object<'a>,
    event: &mut Normalized<'a>,
) -> Result<(), &'static str> {
    wire_call(metadata, event)
}

fn post_conversation<'a>(
    metadata: &Object<'a>,
    event: &mut Normalized<'a>,
) -> Result<(), &'static str> {
    wire_call(metadata, event)?;
    event.time = fields::object(metadata, "callData")
        .and_then(|data| fields::strict_time(data, pick(data, &["endTime", "end_time"])));
    event.data.transcript = transcript(metadata);
    event.data.variables = open_value(metadata, "variables");
    Ok(())
}

fn wire_analytics<'a>(
    metadata: &Object<'a>,
    event: &mut Normalized<'a>,
) -> Result<(), &'static str> {
    wire_call(metadata, event)?;
    let Some(analytics) = fields::object(metadata, "analytics") else {
        return Ok(());
    };
    let mut metrics = analytics.unique();
    metrics.retain(|key, value| key != "summary" && !value.is_null());
    event.data.analysis = Analysis {
        summary: fields::string(analytics, "summary"),
        metrics: (!metrics.is_empty()).then_some(Value::Object(metrics)),
    }
    .non_empty();
    Ok(())
}

/// The call every wire event is about: `metadata` and its `callData`.
fn wire_call<'a>(metadata: &Object<'a>, event: &mut Normalized<'a>) -> Result<(), &'static str> {
    let id = fields::id(metadata, "callId").ok_or("metadata.callId")?;
    event.subject = Some(id.clone());
    let empty = Object::new();
    let data = fields::object(metadata, "callData").unwrap_or(&empty);
    let conversation_direction = fields::direction(metadata, "conversationType")
        .filter(|d| d == "inbound" || d == "outbound");
    event.data.call = Some(Call {
        id: Some(id),
        direction: fields::direction(data, pick(data, &["callDirection", "call_direction"]))
            .or(conversation_direction),
        from: fields::phone(data, pick(data, &["fromNumber", "from_number"]))
            .or_else(|| fields::phone(metadata, "fromPhone")),
        to: fields::phone(data, pick(data, &["toNumber", "to_number"]))
            .or_else(|| fields::phone(metadata, "toPhone")),
        status: fields::string(data, pick(data, &["callStatus", "call_status"])).map(call_status),
        answered_at: fields::time(data, pick(data, &["answerTime", "answer_time"])),
        ended_at: fields::time(data, pick(data, &["endTime", "end_time"])),
        duration_seconds: fields::number(data, pick(data, &["callDuration", "call_duration"])),
        recording_url: fields::string(metadata, "recordingUrl"),
        ..Call::default()
    });
    Ok(())
}

/// Atoms' call status with its two spellings folded into one.
fn call_status(status: Text<'_>) -> Text<'_> {
    match status.to_ascii_lowercase().replace('-', "_").as_str() {
        "no_answer" => Cow::Borrowed("no_answer"),
        "canceled" | "cancelled" => Cow::Borrowed("canceled"),
        _ => status,
    }
}

// --- shared by both formats ---

/// `range` of `text`, borrowed from the payload when `text` is.
fn slice<'a>(text: &Text<'a>, range: Range<usize>) -> Text<'a> {
    match text {
        Cow::Borrowed(s) => Cow::Borrowed(s.get(range).unwrap_or_default()),
        Cow::Owned(s) => Cow::Owned(s.get(range).unwrap_or_default().to_owned()),
    }
}

/// The first of `keys` present in `object`, else the first key.
fn pick<'k>(object: &Object<'_>, keys: &[&'k str]) -> &'k str {
    let first = keys.first().copied().unwrap_or_default();
    keys.iter()
        .copied()
        .find(|key| fields::get(object, key).is_some())
        .unwrap_or(first)
}

/// The `transcript` turns, `{role, content, timestamp}` each, in order.
fn transcript<'a>(object: &Object<'a>) -> Option<Vec<TranscriptTurn<'a>>> {
    let turns: Vec<TranscriptTurn<'_>> = fields::get(object, "transcript")?
        .as_array()?
        .iter()
        .filter_map(Value::as_object)
        .filter_map(|turn| {
            TranscriptTurn {
                role: fields::string(turn, "role"),
                text: fields::string(turn, "content"),
                at: fields::time(turn, "timestamp"),
                ..TranscriptTurn::default()
            }
            .non_empty()
        })
        .collect();
    (!turns.is_empty()).then_some(turns)
}

/// A vendor's open value as given, unless absent, `null` or empty.
fn open_value<'a>(object: &Object<'a>, key: &str) -> Option<Value<'a>> {
    let value = fields::get(object, key)?;
    let empty = match value {
        Value::Object(o) => o.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    };
    (!empty).then(|| value.unique())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The payload tree of a `json!` value.
    fn tree(value: Value) -> crate::json::Value<'static> {
        crate::json::Value::from_serde(value)
    }
    use serde_json::json;

    fn normalize(payload: Value) -> Result<Normalized<'static>, Error> {
        Atoms.normalize(crate::json::Value::from_serde(payload).as_object().unwrap())
    }

    fn wire(event_type: &str, metadata: Value) -> Value {
        let mut metadata = metadata;
        metadata["eventType"] = json!(event_type);
        json!({"url": "u", "description": "d", "event": format!("a1.{event_type}"),
               "metadata": metadata, "id": "d1"})
    }

    #[test]
    fn every_event_in_the_table_maps() {
        for (name, format, event_type, _) in EVENTS {
            let payload = match format {
                Format::Seed => json!({"event": name, "call_id": "c1", "agent_id": "a1"}),
                Format::Wire => wire(name, json!({"callId": "c1", "agentId": "a1"})),
            };
            let event = normalize(payload).unwrap();
            assert_eq!(event.event_type, *event_type, "{name}");
            assert_eq!(event.vendor_event, *name);
            assert_eq!(event.subject.as_deref(), Some("c1"), "{name}");
            assert_eq!(event.scope.as_deref(), Some("agents/a1"), "{name}");
            let call = event.data.call.unwrap();
            assert_eq!(call.agent_id.as_deref(), Some("a1"), "{name}");
        }
    }

    #[test]
    fn seed_phones_follow_the_direction() {
        let start = |direction: Value| {
            let payload = json!({"event": "call.start", "call_id": "c", "call_direction": direction,
                                 "caller_phone": "+1 555 0001", "agent_phone": "+15550002"});
            normalize(payload).unwrap().data.call.unwrap()
        };
        let inbound = start(json!("inbound"));
        assert_eq!(
            (inbound.from.as_deref(), inbound.to.as_deref()),
            (Some("+15550001"), Some("+15550002"))
        );
        let outbound = start(json!("OUTBOUND"));
        assert_eq!(outbound.direction.as_deref(), Some("outbound"));
        assert_eq!(
            (outbound.from.as_deref(), outbound.to.as_deref()),
            (Some("+15550002"), Some("+15550001"))
        );
        let unknown = start(Value::Null);
        assert_eq!(
            (unknown.from, unknown.to, unknown.direction),
            (None, None, None)
        );
    }

    #[test]
    fn the_agent_comes_from_metadata_or_the_event_prefix() {
        let mut payload = wire("pre-conversation", json!({"callId": "c"}));
        payload["event"] = json!("6a.b.pre-conversation");
        assert_eq!(
            normalize(payload).unwrap().scope.as_deref(),
            Some("agents/6a.b")
        );
        let payload =
            json!({"event": "a9.post-conversation", "id": "d", "metadata": {"callId": "c"}});
        let event = normalize(payload).unwrap();
        assert_eq!(event.event_type, EventType::CallEnded);
        assert_eq!(event.vendor_event, "post-conversation");
        assert_eq!(event.scope.as_deref(), Some("agents/a9"));
        assert_eq!(event.id.as_deref(), Some("d"));
    }

    #[test]
    fn call_status_spellings_fold() {
        for (given, normalized) in [
            ("no-answer", "no_answer"),
            ("no_answer", "no_answer"),
            ("cancelled", "canceled"),
            ("canceled", "canceled"),
            ("busy", "busy"),
            ("Voicemail", "Voicemail"),
        ] {
            assert_eq!(call_status(Cow::Borrowed(given)), normalized);
        }
    }

    #[test]
    fn older_snake_case_call_data_is_read() {
        let payload = wire(
            "post-conversation",
            json!({"callId": "c", "callData": {"call_duration": "30", "from_number": "+15550001",
                   "call_direction": "outbound", "end_time": "2024-03-21 10:00:31"}}),
        );
        let event = normalize(payload).unwrap();
        let call = event.data.call.unwrap();
        assert_eq!(call.duration_seconds.unwrap().to_string(), "30");
        assert_eq!(call.from.as_deref(), Some("+15550001"));
        assert_eq!(call.direction.as_deref(), Some("outbound"));
        // Without a zone it is not RFC 3339: kept in the call, not a `time`.
        assert_eq!(call.ended_at.as_deref(), Some("2024-03-21 10:00:31"));
        assert_eq!(event.time, None);
    }

    #[test]
    fn unknown_events_are_unrecognized_with_their_envelope() {
        let event = normalize(wire(
            "call-transferred",
            json!({"callId": "c", "agentId": "a1"}),
        ))
        .unwrap();
        assert_eq!(event.event_type, EventType::Unrecognized);
        assert_eq!(event.vendor_event, "call-transferred");
        assert_eq!(event.scope.as_deref(), Some("agents/a1"));
        assert_eq!(event.id.as_deref(), Some("d1"));
        assert_eq!((event.subject, event.data.call), (None, None));
        let event = normalize(json!({"event": "call.transfer", "agent_id": "a1",
                                     "timestamp": "2024-07-15T14:30:00Z"}))
        .unwrap();
        assert_eq!(event.event_type, EventType::Unrecognized);
        assert_eq!(event.time.as_deref(), Some("2024-07-15T14:30:00Z"));
    }

    #[test]
    fn known_events_need_their_call_ids() {
        let err = normalize(json!({"event": "call.end", "agent_id": "a"})).unwrap_err();
        assert_eq!(err.to_string(), "`call.end` event has no usable `call_id`");
        let err = normalize(wire("post-conversation", json!({"agentId": "a"}))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`post-conversation` event has no usable `metadata.callId`"
        );
        let err = normalize(json!({"event": "a.analytics-completed", "id": "d"})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`analytics-completed` event has no usable `metadata`"
        );
        let err = normalize(json!({"metadata": {"callId": "c"}})).unwrap_err();
        assert!(matches!(
            err,
            Error::MissingEventType {
                field: "metadata.eventType"
            }
        ));
        let err = normalize(json!({"call_id": "c"})).unwrap_err();
        assert!(matches!(err, Error::MissingEventType { field: "event" }));
    }

    #[test]
    fn detection_needs_the_header_and_a_shape() {
        let signed = Request::new([("X-Signature", "00")], b"");
        let unsigned = Request::new([], b"");
        let shapes = [
            json!({"event": "call.start"}),
            json!({"event": "call.transfer", "call_id": "c"}),
            json!({"event": "a.pre-conversation", "metadata": {}}),
        ];
        for shape in shapes {
            let payload = tree(shape.clone());
            let payload = payload.as_object().unwrap();
            assert!(Atoms.claims_body(&signed, payload), "{shape}");
            assert!(!Atoms.claims_body(&unsigned, payload), "{shape}");
        }
        for other in [
            json!({"event": "conversation.closed", "organization_id": "o", "data": {}}),
            json!({"type": "call.completed", "data": {}}),
        ] {
            assert!(
                !Atoms.claims_body(&signed, tree(other.clone()).as_object().unwrap()),
                "{other}"
            );
        }
    }
}
