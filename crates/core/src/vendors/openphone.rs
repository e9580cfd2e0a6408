//! OpenPhone, now branded Quo: calls and their recordings, voicemails,
//! summaries and transcripts; messages; contacts. Both webhook generations
//! are one family.
//!
//! - **Legacy** (API versions `v2`, `v3`, `v4`): envelope `{"id": "EV…",
//!   "object": "event", "apiVersion", "createdAt", "type", "data":
//!   {"object": {…}}}`, signed with `openphone-signature` (see
//!   [`crate::schemes::openphone`]).
//! - **Quo** (API version `2026-03-30`): envelope `{"id", "apiVersion",
//!   "createdAt", "type", "data": {"resource", "context", "links"}}`, signed
//!   with Standard Webhooks (`whsec_` keys). A request carrying
//!   `webhook-signature` is verified that way, any other with the legacy
//!   scheme.
//!
//! Both generations go through one table: the object is `data.resource`,
//! else `data.object`, and what Quo moved into `data.context` (phone number,
//! conversation, user, contacts, participants, message sender and
//! recipients) is read from there when the object lacks it. Detection: an
//! `openphone-signature` header; or a Standard Webhooks request whose body
//! has Quo's envelope (an `EV…` id with `data.resource`, or a date-shaped
//! `apiVersion`); or a legacy envelope (`EV…` id, `object: "event"`,
//! `data.object`) whatever its headers, so that an unsigned one is refused
//! for its missing signature rather than as an unknown vendor.
//!
//! The envelope gives the event's `id`, and `createdAt`, the time the event
//! happened (Quo documents it so; the send time is the signed timestamp), its
//! `time`. The source is `/openphone/phone-numbers/<PN id>` from the object's
//! `phoneNumberId` or the context's, plain `/openphone` without one
//! (contacts, legacy summaries and transcripts). The subject is the call id
//! for `call.*` (`callId` for summaries, transcripts and voicemails), the
//! message id for `message.*` (else the conversation id), the contact id for
//! `contact.*`; a known event without it is `malformed`, except a voicemail
//! whose source call Quo could not resolve (`callId: null`), which has no
//! subject. Unknown events (`call.menu.selected`, `task.*`, …) are
//! `unrecognized`, still with their id, time and source.
//!
//! Choices where the vendor's documentation is silent:
//!
//! - **Calls.** `from` and `to` are the object's (v2/v3, Quo voicemails);
//!   else, by direction, v4's `participants` (the other party's numbers: the
//!   caller of an inbound call, the callee of an outbound one; the first
//!   when there are several) or Quo's `context.participants` (`external`
//!   and `workspace`, first of each). Without a direction they are left out.
//!   `createdAt`, `answeredAt`, `completedAt` and `duration` are the call's
//!   start, answer, end and length; the recording is the first `url` of
//!   `media[]` (legacy) or `recordings[]` (Quo); the voicemail is
//!   `voicemail.url` (legacy) or Quo's `recordingUrl`; `forwardedTo` is the
//!   `transfer_target`; the agent is `answeredBy` / `answeredByUserId`, else
//!   `initiatedBy`, else the `userId`. For events after which the call is
//!   over (`call.completed`, `call.recording.completed`), `answeredAt: null`
//!   gives `answered: false` (a time gives `true`), and `call.missed` is
//!   always `answered: false`; earlier events (a ringing call has no
//!   `answeredAt` yet) say nothing. `call.missed` and `call.forwarded`
//!   without a direction are `inbound`: Quo sends them for incoming calls
//!   only. The status stays verbatim. The OpenPhone conversation (`CN…`) is
//!   `data.conversation.id` on call events.
//! - **Voicemails** (Quo): the call is `callId`; `from`, `to`, the direction
//!   and `recordingUrl` fill `data.call`; Quo's transcription of it is one
//!   `data.transcript` turn spoken by the caller.
//! - **Summaries and transcripts.** `summary[]` and `nextSteps[]` are
//!   `data.summary.text` and `next_steps` (left out while Quo's
//!   `processingStatus` leaves them `null`). Each `dialogue[]` entry is a
//!   turn: `content` the text, `start` and `end` the offsets in seconds as
//!   given, the speaker its `identifier` (a phone number), else its `userId`;
//!   OpenPhone gives no role, so none is written.
//! - **Messages.** The text is `text` (v4, Quo) or `body` (v2/v3); `from` is
//!   the object's, else Quo's `context.senderIdentifier`; `to` is the
//!   object's (a string in v2/v3, a list in v4), else Quo's
//!   `context.recipientIdentifiers`, written as a string when it holds one
//!   number and a list when several. An inbound message's `sender_role` is
//!   `contact`; an outbound one's is left out (a user, an automation or the
//!   API may have sent it). `media[]` entries are `{url, type}` objects or
//!   bare URLs. Quo's `errorCode` (`message.failed`) is `failure_reason`.
//! - **Contacts.** Contact events read the name from `firstName` and
//!   `lastName` (at the top or in `defaultFields`), the email and phone from
//!   the first of `emails[]` and `phoneNumbers[]`. Other events name a
//!   contact (`data.contact.id`) only when exactly one contact id comes with
//!   them (Quo's `context.contacts.ids`, legacy `contactIds`): with several,
//!   which one is meant is unknown.

use std::borrow::Cow;

use crate::json::{Text, Value};

use super::{Family, Normalized};
use crate::error::Error;
use crate::event::{
    Call, Contact, Conversation, EventType, Media, Message, Section, Summary, TranscriptTurn,
};
use crate::fields::{self, Object};
use crate::request::Request;
use crate::schemes::{SignatureScheme, openphone, standard_webhooks};

/// The OpenPhone / Quo family.
#[derive(Debug, Clone, Copy)]
pub struct OpenPhone;

/// Reads one event's object (and context) into the event; `Err` names the
/// missing field.
type Parse = for<'a> fn(&View<'_, 'a>, &mut Normalized<'a>) -> Result<(), &'static str>;

/// The event types of both generations: the normalized type and how the
/// object is read. `callSummary` and `callTranscript` are the legacy names
/// of the summary and transcript events.
const EVENTS: &[(&str, EventType, Parse)] = &[
    ("call.ringing", EventType::CallRinging, call),
    ("call.answered", EventType::CallAnswered, call),
    ("call.completed", EventType::CallEnded, call),
    ("call.missed", EventType::CallMissed, call),
    ("call.forwarded", EventType::CallForwarded, call),
    (
        "call.recording.completed",
        EventType::CallRecordingReady,
        call,
    ),
    (
        "call.voicemail.completed",
        EventType::CallVoicemailReady,
        voicemail,
    ),
    (
        "call.summary.completed",
        EventType::CallSummaryReady,
        summary,
    ),
    ("callSummary", EventType::CallSummaryReady, summary),
    (
        "call.transcript.completed",
        EventType::CallTranscriptReady,
        transcript,
    ),
    ("callTranscript", EventType::CallTranscriptReady, transcript),
    ("message.received", EventType::MessageReceived, message),
    ("message.delivered", EventType::MessageDelivered, message),
    ("message.failed", EventType::MessageFailed, message),
    ("contact.updated", EventType::ContactUpdated, contact),
    ("contact.deleted", EventType::ContactDeleted, contact),
];

/// The events after which the call is over, so that `answeredAt: null`
/// means it was never answered.
const CALL_OVER: &[EventType] = &[EventType::CallEnded, EventType::CallRecordingReady];

/// `data.object.<field>` for a legacy payload, `data.resource.<field>` for
/// Quo's, as a `&'static str`.
macro_rules! path {
    ($view:expr, $field:literal) => {
        if $view.quo {
            concat!("data.resource.", $field)
        } else {
            concat!("data.object.", $field)
        }
    };
}

impl Family for OpenPhone {
    fn name(&self) -> &'static str {
        "openphone"
    }

    fn default_scheme(&self, request: &Request<'_>) -> Option<&'static dyn SignatureScheme> {
        Some(if request.has_header(standard_webhooks::SIGNATURE_HEADER) {
            &standard_webhooks::StandardWebhooks
        } else {
            &openphone::OpenPhone
        })
    }

    fn default_schemes(&self) -> &'static [&'static dyn SignatureScheme] {
        &[&openphone::OpenPhone, &standard_webhooks::StandardWebhooks]
    }

    fn claims_headers(&self, request: &Request<'_>) -> bool {
        request.has_header(openphone::SIGNATURE_HEADER)
    }

    fn claims_body(&self, request: &Request<'_>, payload: &Object<'_>) -> bool {
        let event_id = fields::string(payload, "id").is_some_and(|id| id.starts_with("EV"));
        let typed = fields::string(payload, "type").is_some();
        let data = fields::object(payload, "data");
        let has = |key| data.is_some_and(|d| fields::object(d, key).is_some());
        let legacy = event_id
            && typed
            && fields::string(payload, "object").as_deref() == Some("event")
            && has("object");
        let quo = typed && ((event_id && has("resource")) || dated_version(payload));
        legacy || (quo && request.has_header(standard_webhooks::SIGNATURE_HEADER))
    }

    fn delivery_headers(&self, _payload: Option<&Object<'_>>) -> Vec<(String, String)> {
        vec![("Content-Type".to_owned(), "application/json".to_owned())]
    }

    fn normalize<'a>(&self, payload: &Object<'a>) -> Result<Normalized<'a>, Error> {
        let vendor_event =
            fields::string(payload, "type").ok_or(Error::MissingEventType { field: "type" })?;
        let known = EVENTS.iter().find(|(name, _, _)| *name == vendor_event);
        let event_type = known.map_or(EventType::Unrecognized, |(_, t, _)| *t);
        let mut event = Normalized::new(event_type, vendor_event);
        event.id = fields::id(payload, "id");
        event.time = fields::strict_time(payload, "createdAt");
        let view = View::of(payload);
        if let Ok(view) = &view {
            event.scope = view
                .id("phoneNumberId")
                .map(|id| format!("phone-numbers/{id}"));
        }
        if let Some((_, _, parse)) = known {
            let vendor_event = event.vendor_event.to_string();
            let missing = |field| Error::MissingField {
                event: vendor_event.clone(),
                field,
            };
            let view = view.map_err(missing)?;
            parse(&view, &mut event).map_err(missing)?;
            if event.data.contact.is_none() {
                event.data.contact = view.only_contact();
            }
        }
        Ok(event)
    }
}

/// What one event is about: the object and, for Quo, its context.
struct View<'p, 'a> {
    /// `data.resource` (Quo) or `data.object` (legacy).
    object: &'p Object<'a>,
    /// Quo's `data.context`, if any.
    context: Option<&'p Object<'a>>,
    /// Whether the object is Quo's `data.resource`.
    quo: bool,
}

impl<'p, 'a> View<'p, 'a> {
    /// The payload's object, or the path that should have held it.
    fn of(payload: &'p Object<'a>) -> Result<View<'p, 'a>, &'static str> {
        let data = fields::object(payload, "data").ok_or("data")?;
        let context = fields::object(data, "context");
        if let Some(object) = fields::object(data, "resource") {
            return Ok(View {
                object,
                context,
                quo: true,
            });
        }
        if let Some(object) = fields::object(data, "object") {
            return Ok(View {
                object,
                context,
                quo: false,
            });
        }
        Err(
            if context.is_some() || data.contains_key("resource") || dated_version(payload) {
                "data.resource"
            } else {
                "data.object"
            },
        )
    }

    /// An id from the object, else from the context.
    fn id(&self, key: &str) -> Option<Text<'a>> {
        fields::id(self.object, key).or_else(|| self.context.and_then(|c| fields::id(c, key)))
    }

    /// The user who handled the call.
    fn agent(&self) -> Option<Text<'a>> {
        ["answeredBy", "answeredByUserId", "initiatedBy", "userId"]
            .iter()
            .find_map(|key| fields::id(self.object, key))
            .or_else(|| self.context.and_then(|c| fields::id(c, "userId")))
    }

    /// The OpenPhone conversation the event belongs to.
    fn conversation(&self) -> Option<Conversation<'a>> {
        Conversation {
            id: self.id("conversationId"),
            ..Conversation::default()
        }
        .non_empty()
    }

    /// The calling and called numbers, given the call's direction.
    fn endpoints(&self, direction: Option<&str>) -> (Option<Text<'a>>, Option<Text<'a>>) {
        let from = fields::phone(self.object, "from");
        let to = fields::phone(self.object, "to");
        if from.is_some() || to.is_some() {
            return (from, to);
        }
        let participants = self.context.and_then(|c| fields::object(c, "participants"));
        let (workspace, external) = match participants {
            Some(p) => (first_phone(p, "workspace"), first_phone(p, "external")),
            None => (None, first_phone(self.object, "participants")),
        };
        match direction {
            Some("inbound") => (external, workspace),
            Some("outbound") => (workspace, external),
            _ => (None, None),
        }
    }

    /// The contact the event names, when exactly one is named.
    fn only_contact(&self) -> Option<Contact<'a>> {
        let ids = self
            .context
            .and_then(|c| fields::object(c, "contacts"))
            .and_then(|contacts| fields::get(contacts, "ids"))
            .or_else(|| fields::get(self.object, "contactIds"))?
            .as_array()?;
        match ids {
            [only] => Contact {
                id: fields::id_value(only),
                ..Contact::default()
            }
            .non_empty(),
            _ => None,
        }
    }
}

/// Whether `apiVersion` is a date (`2026-03-30`), as Quo's are.
fn dated_version(payload: &Object<'_>) -> bool {
    fields::string(payload, "apiVersion").is_some_and(|v| {
        let b = v.as_bytes();
        b.len() == 10
            && b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                _ => c.is_ascii_digit(),
            })
    })
}

/// The first string of the list at `key`, as a phone number.
fn first_phone<'a>(object: &Object<'a>, key: &str) -> Option<Text<'a>> {
    fields::get(object, key)?
        .as_array()?
        .iter()
        .find_map(Value::as_text)
        .map(fields::normalize_phone)
}

/// The strings of the list at `key` (a lone string counts as a list of
/// one); `None` when there are none.
fn strings<'a>(object: &Object<'a>, key: &str) -> Option<Vec<Text<'a>>> {
    let list: Vec<Text<'a>> = match fields::get(object, key)? {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().filter_map(Value::as_text).collect(),
        _ => Vec::new(),
    };
    (!list.is_empty()).then_some(list)
}

/// The first `url` of the list at `key` (of `{url, …}` objects or bare
/// URLs).
fn first_url<'a>(object: &Object<'a>, key: &str) -> Option<Text<'a>> {
    fields::get(object, key)?
        .as_array()?
        .iter()
        .find_map(|item| match item {
            Value::String(url) => Some(url.clone()),
            Value::Object(item) => fields::string(item, "url"),
            _ => None,
        })
}

/// The first `value` of the list at `key` (of `{value, …}` objects or bare
/// strings).
fn first_value<'a>(object: &Object<'a>, key: &str) -> Option<Text<'a>> {
    fields::get(object, key)?
        .as_array()?
        .iter()
        .find_map(|item| match item {
            Value::String(value) => Some(value.clone()),
            Value::Object(item) => fields::string(item, "value"),
            _ => None,
        })
}

/// Message recipients: one number as a string, several as a list.
fn recipients<'a>(value: Option<&Value<'a>>) -> Option<Value<'a>> {
    let mut numbers: Vec<Value<'a>> = match value? {
        Value::String(s) => vec![Value::String(fields::normalize_phone(s.clone()))],
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_text)
            .map(|s| Value::String(fields::normalize_phone(s)))
            .collect(),
        _ => Vec::new(),
    };
    match numbers.len() {
        0 => None,
        1 => numbers.pop(),
        _ => Some(Value::Array(numbers)),
    }
}

fn call<'a>(view: &View<'_, 'a>, event: &mut Normalized<'a>) -> Result<(), &'static str> {
    let o = view.object;
    let id = fields::id(o, "id").ok_or(path!(view, "id"))?;
    event.subject = Some(id.clone());
    // Quo documents missed and forwarded calls as incoming only.
    let incoming_only = matches!(
        event.event_type,
        EventType::CallMissed | EventType::CallForwarded
    );
    let direction = fields::direction(o, "direction")
        .or_else(|| incoming_only.then_some(Cow::Borrowed("inbound")));
    let (from, to) = view.endpoints(direction.as_deref());
    let answered = if event.event_type == EventType::CallMissed {
        Some(false)
    } else if CALL_OVER.contains(&event.event_type) && o.contains_key("answeredAt") {
        Some(fields::get(o, "answeredAt").is_some())
    } else {
        None
    };
    event.data.call = Call {
        id: Some(id),
        direction,
        from,
        to,
        status: fields::string(o, "status"),
        started_at: fields::time(o, "createdAt"),
        answered_at: fields::time(o, "answeredAt"),
        ended_at: fields::time(o, "completedAt"),
        duration_seconds: fields::number(o, "duration"),
        recording_url: first_url(o, "media").or_else(|| first_url(o, "recordings")),
        voicemail_url: fields::object(o, "voicemail").and_then(|v| fields::string(v, "url")),
        transfer_target: fields::phone(o, "forwardedTo"),
        agent_id: view.agent(),
        answered,
        ..Call::default()
    }
    .non_empty();
    event.data.conversation = view.conversation();
    Ok(())
}

fn voicemail<'a>(view: &View<'_, 'a>, event: &mut Normalized<'a>) -> Result<(), &'static str> {
    let o = view.object;
    // The voicemail needs its own id or its call's: Quo may not have
    // resolved the call it was left on (`callId: null`).
    if fields::id(o, "id").is_none() && fields::id(o, "callId").is_none() {
        return Err(path!(view, "callId"));
    }
    let call_id = fields::id(o, "callId");
    event.subject = call_id.clone();
    let direction = fields::direction(o, "direction");
    let (from, to) = view.endpoints(direction.as_deref());
    event.data.transcript = fields::string(o, "transcript").map(|text| {
        vec![TranscriptTurn {
            text: Some(text),
            speaker: from.clone(),
            ..TranscriptTurn::default()
        }]
    });
    event.data.call = Call {
        id: call_id,
        direction,
        from,
        to,
        voicemail_url: fields::string(o, "recordingUrl")
            .or_else(|| fields::object(o, "voicemail").and_then(|v| fields::string(v, "url"))),
        agent_id: view.agent(),
        ..Call::default()
    }
    .non_empty();
    event.data.conversation = view.conversation();
    Ok(())
}

fn summary<'a>(view: &View<'_, 'a>, event: &mut Normalized<'a>) -> Result<(), &'static str> {
    let o = view.object;
    let call_id = fields::id(o, "callId").ok_or(path!(view, "callId"))?;
    event.subject = Some(call_id.clone());
    event.data.call = Some(Call {
        id: Some(call_id),
        from: fields::phone(o, "fromPhoneNumber"),
        agent_id: view.agent(),
        ..Call::default()
    });
    event.data.summary = Summary {
        text: strings(o, "summary"),
        next_steps: strings(o, "nextSteps"),
    }
    .non_empty();
    event.data.conversation = view.conversation();
    Ok(())
}

fn transcript<'a>(view: &View<'_, 'a>, event: &mut Normalized<'a>) -> Result<(), &'static str> {
    let o = view.object;
    let call_id = fields::id(o, "callId").ok_or(path!(view, "callId"))?;
    event.subject = Some(call_id.clone());
    event.data.call = Some(Call {
        id: Some(call_id),
        agent_id: view.agent(),
        ..Call::default()
    });
    let turns: Vec<TranscriptTurn<'_>> = fields::get(o, "dialogue")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .filter_map(|turn| {
            TranscriptTurn {
                text: fields::string(turn, "content"),
                speaker: fields::phone(turn, "identifier").or_else(|| fields::id(turn, "userId")),
                start_seconds: fields::number(turn, "start"),
                end_seconds: fields::number(turn, "end"),
                ..TranscriptTurn::default()
            }
            .non_empty()
        })
        .collect();
    event.data.transcript = (!turns.is_empty()).then_some(turns);
    event.data.conversation = view.conversation();
    Ok(())
}

fn message<'a>(view: &View<'_, 'a>, event: &mut Normalized<'a>) -> Result<(), &'static str> {
    let o = view.object;
    let context = view.context;
    let id = fields::id(o, "id");
    let conversation_id = view.id("conversationId");
    event.subject = Some(
        id.clone()
            .or_else(|| conversation_id.clone())
            .ok_or(path!(view, "id"))?,
    );
    let direction = fields::direction(o, "direction");
    let media: Vec<Media<'_>> = fields::get(o, "media")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|item| match item {
            Value::String(url) => Some(Media {
                url: url.clone(),
                content_type: None,
            }),
            Value::Object(item) => Some(Media {
                url: fields::string(item, "url")?,
                content_type: fields::string(item, "type"),
            }),
            _ => None,
        })
        .collect();
    event.data.message = Message {
        id,
        conversation_id,
        sender_role: (direction.as_deref() == Some("inbound")).then_some(Cow::Borrowed("contact")),
        direction,
        from: fields::phone(o, "from")
            .or_else(|| context.and_then(|c| fields::phone(c, "senderIdentifier"))),
        to: recipients(fields::get(o, "to"))
            .or_else(|| recipients(context.and_then(|c| fields::get(c, "recipientIdentifiers")))),
        text: fields::string(o, "text").or_else(|| fields::string(o, "body")),
        status: fields::string(o, "status"),
        media: (!media.is_empty()).then_some(media),
        failure_reason: fields::id(o, "errorCode"),
        ..Message::default()
    }
    .non_empty();
    Ok(())
}

fn contact<'a>(view: &View<'_, 'a>, event: &mut Normalized<'a>) -> Result<(), &'static str> {
    let o = view.object;
    let id = fields::id(o, "id").ok_or(path!(view, "id"))?;
    event.subject = Some(id.clone());
    // The REST API's contact shape nests the standard fields.
    let defaults = fields::object(o, "defaultFields");
    let read = |read: fn(&Object<'a>, &str) -> Option<Text<'a>>, key: &str| {
        read(o, key).or_else(|| defaults.and_then(|d| read(d, key)))
    };
    let name = [
        read(fields::string, "firstName"),
        read(fields::string, "lastName"),
    ]
    .into_iter()
    .flatten()
    .map(|part| part.trim().to_owned())
    .filter(|part| !part.is_empty())
    .collect::<Vec<_>>()
    .join(" ");
    event.data.contact = Contact {
        id: Some(id),
        name: (!name.is_empty()).then_some(Cow::Owned(name)),
        email: read(first_value, "emails"),
        phone: read(first_value, "phoneNumbers").map(fields::normalize_phone),
    }
    .non_empty();
    Ok(())
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
        OpenPhone.normalize(crate::json::Value::from_serde(payload).as_object().unwrap())
    }

    fn legacy(event_type: &str, object: Value) -> Value {
        json!({"id": "EV1", "object": "event", "apiVersion": "v3",
               "createdAt": "2022-01-24T19:22:25.427Z", "type": event_type,
               "data": {"object": object}})
    }

    fn quo(event_type: &str, resource: Value, context: Value) -> Value {
        json!({"id": "EV2", "apiVersion": "2026-03-30", "createdAt": "2026-04-13T12:00:00.000Z",
               "type": event_type, "data": {"resource": resource, "context": context}})
    }

    #[test]
    fn every_event_in_the_table_maps_in_both_generations() {
        let object = json!({"id": "AC1", "callId": "AC2", "direction": "incoming"});
        for (name, event_type, _) in EVENTS {
            for payload in [
                legacy(name, object.clone()),
                quo(name, object.clone(), json!({})),
            ] {
                let event = normalize(payload).unwrap();
                assert_eq!(event.event_type, *event_type, "{name}");
                assert!(event.subject.is_some(), "{name}");
                assert!(event.id.is_some() && event.time.is_some(), "{name}");
            }
        }
    }

    #[test]
    fn call_parties_follow_the_shape_and_direction() {
        let v2 = legacy(
            "call.completed",
            json!({"id": "AC1", "direction": "incoming", "from": "+1 (555) 000-0001", "to": "+15550000002"}),
        );
        let call = normalize(v2).unwrap().data.call.unwrap();
        assert_eq!(call.from.as_deref(), Some("+15550000001"));
        assert_eq!(call.to.as_deref(), Some("+15550000002"));
        let v4 = legacy(
            "call.completed",
            json!({"id": "AC1", "direction": "outgoing", "participants": ["+15550000003"]}),
        );
        let call = normalize(v4).unwrap().data.call.unwrap();
        assert_eq!(call.direction.as_deref(), Some("outbound"));
        assert_eq!(call.from, None);
        assert_eq!(call.to.as_deref(), Some("+15550000003"));
        let context =
            json!({"participants": {"workspace": ["+15550000001"], "external": ["+15550000002"]}});
        let incoming = quo(
            "call.completed",
            json!({"id": "AC1", "direction": "incoming"}),
            context,
        );
        let call = normalize(incoming).unwrap().data.call.unwrap();
        assert_eq!(call.from.as_deref(), Some("+15550000002"));
        assert_eq!(call.to.as_deref(), Some("+15550000001"));
    }

    #[test]
    fn answered_only_once_the_call_is_over() {
        let object = json!({"id": "AC1", "answeredAt": null});
        let answered = |event_type| {
            normalize(legacy(event_type, object.clone()))
                .unwrap()
                .data
                .call
                .and_then(|c| c.answered)
        };
        assert_eq!(answered("call.completed"), Some(false));
        assert_eq!(answered("call.ringing"), None);
        assert_eq!(answered("call.missed"), Some(false));
        let event = normalize(legacy(
            "call.completed",
            json!({"id": "AC1", "answeredAt": "2022-01-01T00:00:00Z"}),
        ))
        .unwrap();
        assert_eq!(event.data.call.unwrap().answered, Some(true));
        let event = normalize(legacy("call.completed", json!({"id": "AC1"}))).unwrap();
        assert_eq!(event.data.call.unwrap().answered, None);
    }

    #[test]
    fn message_shapes_drift() {
        let v2 = legacy(
            "message.received",
            json!({"id": "AC1", "body": "hi", "to": "+15550000002", "direction": "incoming"}),
        );
        let message = normalize(v2).unwrap().data.message.unwrap();
        assert_eq!(message.text.as_deref(), Some("hi"));
        assert_eq!(message.to, Some(tree(json!("+15550000002"))));
        assert_eq!(message.sender_role.as_deref(), Some("contact"));
        let v4 = legacy(
            "message.delivered",
            json!({"id": "AC1", "text": "hi", "to": ["+15550000002", "+15550000003"], "direction": "outgoing"}),
        );
        let message = normalize(v4).unwrap().data.message.unwrap();
        assert_eq!(
            message.to,
            Some(tree(json!(["+15550000002", "+15550000003"])))
        );
        assert_eq!(message.sender_role, None);
        let one = legacy(
            "message.received",
            json!({"id": "AC1", "to": ["+15550000002"]}),
        );
        let message = normalize(one).unwrap().data.message.unwrap();
        assert_eq!(message.to, Some(tree(json!("+15550000002"))));
    }

    #[test]
    fn a_lone_contact_id_names_the_contact() {
        let context = |ids: Value| json!({"contacts": {"ids": ids, "lookupStatus": "matched"}});
        let one = quo(
            "message.received",
            json!({"id": "AC1"}),
            context(json!(["CT1"])),
        );
        let contact = normalize(one).unwrap().data.contact.unwrap();
        assert_eq!(contact.id.as_deref(), Some("CT1"));
        let two = quo(
            "message.received",
            json!({"id": "AC1"}),
            context(json!(["CT1", "CT2"])),
        );
        assert_eq!(normalize(two).unwrap().data.contact, None);
    }

    #[test]
    fn unknown_events_keep_their_envelope() {
        let event = normalize(quo(
            "task.created",
            json!({"id": "TK1"}),
            json!({"phoneNumberId": "PN1"}),
        ))
        .unwrap();
        assert_eq!(event.event_type, EventType::Unrecognized);
        assert_eq!(event.vendor_event, "task.created");
        assert_eq!(event.scope.as_deref(), Some("phone-numbers/PN1"));
        assert_eq!(event.id.as_deref(), Some("EV2"));
        let event = normalize(json!({"type": "webhook.test"})).unwrap();
        assert_eq!(event.event_type, EventType::Unrecognized);
    }

    #[test]
    fn known_events_need_their_ids() {
        let err = normalize(legacy("call.completed", json!({"status": "completed"}))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`call.completed` event has no usable `data.object.id`"
        );
        let err = normalize(quo("callSummary", json!({"summary": []}), json!({}))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`callSummary` event has no usable `data.resource.callId`"
        );
        let err = normalize(json!({"type": "message.received", "data": {}})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`message.received` event has no usable `data.object`"
        );
        let err =
            normalize(json!({"type": "message.received", "apiVersion": "2026-03-30"})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`message.received` event has no usable `data`"
        );
        let err = normalize(json!({"data": {}})).unwrap_err();
        assert!(matches!(err, Error::MissingEventType { field: "type" }));
    }

    #[test]
    fn detection_and_default_scheme() {
        let quo_body = tree(quo("message.received", json!({"id": "AC1"}), json!({})));
        let legacy_body = tree(legacy("message.received", json!({"id": "AC1"})));
        let (quo_body, legacy_body) = (
            quo_body.as_object().unwrap(),
            legacy_body.as_object().unwrap(),
        );
        let standard = Request::new([("webhook-signature", "v1,AAAA")], b"");
        let legacy_signed = Request::new([("openphone-signature", "hmac;1;1;AAAA")], b"");
        let bare = Request::new([], b"");
        assert!(OpenPhone.claims_headers(&legacy_signed));
        assert!(!OpenPhone.claims_headers(&standard));
        assert!(OpenPhone.claims_body(&standard, quo_body));
        assert!(OpenPhone.claims_body(&standard, legacy_body));
        assert!(OpenPhone.claims_body(&bare, legacy_body));
        assert!(!OpenPhone.claims_body(&bare, quo_body));
        let other = json!({"event": "call.ended", "data": {"resource": {}}});
        assert!(!OpenPhone.claims_body(&standard, tree(other).as_object().unwrap()));
        let scheme = |request| OpenPhone.default_scheme(request).map(|s| s.name());
        assert_eq!(scheme(&standard), Some("standard-webhooks"));
        assert_eq!(scheme(&legacy_signed), Some("openphone"));
        assert_eq!(scheme(&bare), Some("openphone"));
    }
}
