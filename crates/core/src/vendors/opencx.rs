//! OpenCX: conversations and their messages, handoffs, workflow runs, CSAT
//! surveys, and calls handled by its AI phone agents.
//!
//! Envelope `{"event", "organization_id", "data"}`, with no event id and no
//! envelope timestamp: the event's time is `data.timestamp`, its source
//! `/opencx/organizations/<organization_id>`, and its id the Standard
//! Webhooks `webhook-id` when that scheme verified the delivery, else the
//! body digest. `data` is an object, or a one-element array holding one (as
//! older docs show for `conversation.closed` and
//! `conversation.handoff_to_human`; accepted for every event).
//!
//! **Verification.** OpenCX publishes no signing scheme, so the family has
//! no default: until the operator configures `standard-webhooks`,
//! `hmac-sha256`, `shared-secret` or, explicitly, `none`, every OpenCX
//! delivery is `unauthenticated`, whatever headers it carries. OpenCX sends
//! no header of its own, so it is detected by its body: an `event` with an
//! `organization_id`.
//!
//! Choices where the vendor documentation is silent:
//!
//! - **Phone calls.** The call id is `data.call_id`, else `data.session_id`,
//!   else `data.conversation_id`: OpenCX documents no call id, and a call is
//!   a conversation (`phone_call.started` co-fires `conversation.started`,
//!   and `phone_call.ended` carries the conversation's resolution), so the
//!   conversation id is what identifies it. It is the `subject`;
//!   `data.conversation` then holds the conversation id, channel `phone` and
//!   the resolution. `data.timestamp` also fills `started_at`, `answered_at`
//!   or `ended_at` for the matching event. `call_ended_by` becomes
//!   `ended_by` (`user` → `contact`; `agent`, `system` kept),
//!   `failure_category` becomes `failure_reason` verbatim, the duration is
//!   `custom_data.duration_seconds` (else `data.duration_seconds`), the
//!   status `custom_data.call_status`, the direction `data.direction` else
//!   `custom_data.is_outbound`, the transfer target `transfer_target`,
//!   `destination` or `transferred_to`.
//! - **Resolution.** `human_resolution_status`, else
//!   `ai_resolution_status`, else the older `resolution_status`; only
//!   `resolved` and `not_resolved` (or `unresolved`) give a resolution. A
//!   call the AI `handed_off` has none: it went on elsewhere, and whether it
//!   was resolved there is unknown (the status stays in `raw`).
//! - **Who.** `closed_by` (an object's `type`, or a string) is written in
//!   the message roles: `AI` → `ai`, `human` → `agent`, `contact`,
//!   `workflow`, others verbatim. Message events give `sender_role`
//!   `contact` (inbound), `ai`, `agent` or `third_party_agent` (outbound);
//!   a third-party response's `sender_name` is its `third_party_name`. The
//!   text is `message`, `response` or `content`; the subject is
//!   `message_id` when sent, else the conversation id.
//! - **Channels.** `web` is written `webchat`; other channels verbatim.
//!   `conversation.started`'s `first_message` is also given as
//!   `data.message`, inbound from the contact.
//! - **Contacts.** The id is `contact_id`, else `customer_id`, else
//!   `contact.id`; the email and phone come from `contact` or its
//!   `enriched_data` (`phone` or `phone_number`).
//! - **Open data.** `data.custom_data` is OpenCX's `custom_data`, whole
//!   (SIP X-headers and call metadata for calls); the contact's own
//!   `custom_data` stays in `raw`. `language` (a code for conversations, a
//!   list of the phone agent's codes for calls) is `data.language`, as given.
//! - **Workflows and CSAT.** The run id is `run_id`, `workflow_run_id` or
//!   `id`, the workflow id `workflow_id`; one of them is needed. The status
//!   is `status`, else `succeeded` or `failed` from the event; the error is
//!   `error` (a string, or an object's `message`) or `error_message`. CSAT
//!   events need the conversation id; the score is `score`, `csat_score` or
//!   `rating`, the comment `comment` or `feedback`.
//! - Conversation and CSAT events need `conversation_id`, calls a call id;
//!   without it they are `malformed`. Unknown events are `unrecognized`,
//!   still with their source and time.

use std::borrow::Cow;

use crate::json::{Text, Value};

use super::{Family, Normalized};
use crate::error::Error;
use crate::event::{Call, Contact, Conversation, Csat, EventType, Message, Section, Workflow};
use crate::fields::{self, Object};
use crate::request::Request;
use crate::schemes::SignatureScheme;

/// The OpenCX family.
#[derive(Debug, Clone, Copy)]
pub struct OpenCx;

/// Reads one event's `data` into the event.
type Parse = for<'a> fn(&Object<'a>, &mut Normalized<'a>) -> Result<(), &'static str>;

/// OpenCX's event types: the normalized type and how `data` is read.
const EVENTS: &[(&str, EventType, Parse)] = &[
    (
        "conversation.started",
        EventType::ConversationStarted,
        conversation,
    ),
    (
        "conversation.closed",
        EventType::ConversationClosed,
        conversation,
    ),
    (
        "conversation.handoff_to_human",
        EventType::ConversationHandoff,
        conversation,
    ),
    (
        "conversation.handoff_to_third_party_failed",
        EventType::ConversationHandoffFailed,
        conversation,
    ),
    (
        "conversation.contact_response",
        EventType::MessageReceived,
        contact_message,
    ),
    (
        "conversation.ai_response",
        EventType::MessageSent,
        ai_message,
    ),
    (
        "conversation.agent_response",
        EventType::MessageSent,
        agent_message,
    ),
    (
        "conversation.third_party_agent_response",
        EventType::MessageSent,
        third_party_message,
    ),
    (
        "workflow.run.succeeded",
        EventType::WorkflowSucceeded,
        workflow,
    ),
    ("workflow.run.failed", EventType::WorkflowFailed, workflow),
    ("csat.requested", EventType::CsatRequested, csat),
    ("csat.score_submitted", EventType::CsatSubmitted, csat),
    ("phone_call.started", EventType::CallStarted, call),
    ("phone_call.answered", EventType::CallAnswered, call),
    ("phone_call.ended", EventType::CallEnded, call),
    ("phone_call.transferred", EventType::CallTransferred, call),
    ("phone_call.failed", EventType::CallFailed, call),
];

impl Family for OpenCx {
    fn name(&self) -> &'static str {
        "opencx"
    }

    /// OpenCX publishes no scheme: deliveries are refused until one is
    /// configured.
    fn default_scheme(&self, _request: &Request<'_>) -> Option<&'static dyn SignatureScheme> {
        None
    }

    fn default_schemes(&self) -> &'static [&'static dyn SignatureScheme] {
        &[]
    }

    /// OpenCX sends no header of its own.
    fn claims_headers(&self, _request: &Request<'_>) -> bool {
        false
    }

    fn claims_body(&self, _request: &Request<'_>, payload: &Object<'_>) -> bool {
        fields::string(payload, "event").is_some()
            && fields::id(payload, "organization_id").is_some()
    }

    fn delivery_headers(&self, _payload: Option<&Object<'_>>) -> Vec<(String, String)> {
        vec![("Content-Type".to_owned(), "application/json".to_owned())]
    }

    fn normalize<'a>(&self, payload: &Object<'a>) -> Result<Normalized<'a>, Error> {
        let vendor_event =
            fields::string(payload, "event").ok_or(Error::MissingEventType { field: "event" })?;
        let known = EVENTS.iter().find(|(name, _, _)| *name == vendor_event);
        let event_type = known.map_or(EventType::Unrecognized, |(_, t, _)| *t);
        let mut event = Normalized::new(event_type, vendor_event);
        event.scope =
            fields::id(payload, "organization_id").map(|org| format!("organizations/{org}"));
        let data = data_of(payload);
        event.time = data
            .and_then(|data| fields::strict_time(data, "timestamp"))
            .or_else(|| fields::strict_time(payload, "timestamp"));
        if let Some((_, _, parse)) = known {
            let vendor_event = event.vendor_event.to_string();
            let missing = |field| Error::MissingField {
                event: vendor_event.clone(),
                field,
            };
            let data = data.ok_or_else(|| missing("data"))?;
            parse(data, &mut event).map_err(missing)?;
            event.data.contact = contact_of(data);
            event.data.custom_data = fields::get(data, "custom_data").map(Value::unique);
            event.data.language = fields::get(data, "language").map(Value::unique);
        }
        Ok(event)
    }
}

/// `data` as an object, or the object of a one-element array.
fn data_of<'p, 'a>(payload: &'p Object<'a>) -> Option<&'p Object<'a>> {
    match fields::get(payload, "data")? {
        Value::Object(data) => Some(data),
        Value::Array(items) => match items.as_slice() {
            [Value::Object(data)] => Some(data),
            _ => None,
        },
        _ => None,
    }
}

fn conversation<'a>(data: &Object<'a>, event: &mut Normalized<'a>) -> Result<(), &'static str> {
    let id = fields::id(data, "conversation_id").ok_or("data.conversation_id")?;
    event.subject = Some(id.clone());
    let channel = channel(data);
    if event.event_type == EventType::ConversationStarted {
        event.data.message = fields::string(data, "first_message").map(|text| Message {
            conversation_id: Some(id.clone()),
            direction: Some(Cow::Borrowed("inbound")),
            sender_role: Some(Cow::Borrowed("contact")),
            text: Some(text),
            channel: channel.clone(),
            ..Message::default()
        });
    }
    event.data.conversation = Conversation {
        id: Some(id),
        channel,
        resolution: resolution(data),
        summary: fields::string(data, "summary"),
        closed_by: closed_by(data),
        handoff_reason: (event.event_type == EventType::ConversationHandoff)
            .then(|| fields::string(data, "reason"))
            .flatten(),
        ..Conversation::default()
    }
    .non_empty();
    Ok(())
}

fn contact_message<'a>(data: &Object<'a>, event: &mut Normalized<'a>) -> Result<(), &'static str> {
    message(data, event, "contact")
}

fn ai_message<'a>(data: &Object<'a>, event: &mut Normalized<'a>) -> Result<(), &'static str> {
    message(data, event, "ai")
}

fn agent_message<'a>(data: &Object<'a>, event: &mut Normalized<'a>) -> Result<(), &'static str> {
    message(data, event, "agent")
}

fn third_party_message<'a>(
    data: &Object<'a>,
    event: &mut Normalized<'a>,
) -> Result<(), &'static str> {
    message(data, event, "third_party_agent")
}

/// A message sent by `role`: inbound from the contact, outbound otherwise.
fn message<'a>(
    data: &Object<'a>,
    event: &mut Normalized<'a>,
    role: &'static str,
) -> Result<(), &'static str> {
    let id = fields::id(data, "message_id");
    let conversation_id = fields::id(data, "conversation_id");
    event.subject = Some(
        id.clone()
            .or_else(|| conversation_id.clone())
            .ok_or("data.conversation_id")?,
    );
    let direction = if role == "contact" {
        "inbound"
    } else {
        "outbound"
    };
    event.data.message = Message {
        id,
        conversation_id,
        direction: Some(Cow::Borrowed(direction)),
        sender_role: Some(Cow::Borrowed(role)),
        sender_name: (role == "third_party_agent")
            .then(|| fields::string(data, "third_party_name"))
            .flatten(),
        text: ["message", "response", "content"]
            .iter()
            .find_map(|key| fields::string(data, key)),
        channel: channel(data),
        ..Message::default()
    }
    .non_empty();
    Ok(())
}

fn workflow<'a>(data: &Object<'a>, event: &mut Normalized<'a>) -> Result<(), &'static str> {
    let run_id = ["run_id", "workflow_run_id", "id"]
        .iter()
        .find_map(|key| fields::id(data, key));
    let workflow_id = fields::id(data, "workflow_id");
    if run_id.is_none() && workflow_id.is_none() {
        return Err("data.run_id");
    }
    event.subject = run_id.clone();
    let outcome = if event.event_type == EventType::WorkflowSucceeded {
        "succeeded"
    } else {
        "failed"
    };
    let error = match fields::get(data, "error") {
        Some(Value::String(error)) => Some(error.clone()),
        Some(Value::Object(error)) => fields::string(error, "message"),
        _ => None,
    };
    event.data.workflow = Some(Workflow {
        id: workflow_id,
        run_id,
        status: Some(fields::string(data, "status").unwrap_or(Cow::Borrowed(outcome))),
        error: error.or_else(|| fields::string(data, "error_message")),
    });
    event.data.conversation = Conversation {
        id: fields::id(data, "conversation_id"),
        ..Conversation::default()
    }
    .non_empty();
    Ok(())
}

fn csat<'a>(data: &Object<'a>, event: &mut Normalized<'a>) -> Result<(), &'static str> {
    let id = fields::id(data, "conversation_id").ok_or("data.conversation_id")?;
    event.subject = Some(id.clone());
    event.data.conversation = Some(Conversation {
        id: Some(id),
        channel: channel(data),
        ..Conversation::default()
    });
    event.data.csat = Csat {
        score: ["score", "csat_score", "rating"]
            .iter()
            .find_map(|key| fields::number(data, key)),
        comment: ["comment", "feedback"]
            .iter()
            .find_map(|key| fields::string(data, key)),
    }
    .non_empty();
    Ok(())
}

fn call<'a>(data: &Object<'a>, event: &mut Normalized<'a>) -> Result<(), &'static str> {
    let id = ["call_id", "session_id", "conversation_id"]
        .iter()
        .find_map(|key| fields::id(data, key))
        .ok_or("data.conversation_id")?;
    event.subject = Some(id.clone());
    let custom = fields::object(data, "custom_data");
    let at = fields::time(data, "timestamp");
    let this = event.event_type;
    let at_if = |event_type| (this == event_type).then(|| at.clone()).flatten();
    event.data.call = Some(Call {
        id: Some(id),
        direction: fields::direction(data, "direction").or_else(|| {
            let outbound = fields::get(custom?, "is_outbound")?.as_bool()?;
            Some(Cow::Borrowed(if outbound { "outbound" } else { "inbound" }))
        }),
        from: fields::phone(data, "from_number").or_else(|| fields::phone(data, "from")),
        to: fields::phone(data, "to_number").or_else(|| fields::phone(data, "to")),
        status: custom
            .and_then(|custom| fields::string(custom, "call_status"))
            .or_else(|| fields::string(data, "status")),
        started_at: at_if(EventType::CallStarted),
        answered_at: at_if(EventType::CallAnswered),
        ended_at: at_if(EventType::CallEnded),
        duration_seconds: custom
            .and_then(|custom| fields::number(custom, "duration_seconds"))
            .or_else(|| fields::number(data, "duration_seconds")),
        ended_by: fields::string(data, "call_ended_by").map(ended_by),
        failure_reason: fields::string(data, "failure_category"),
        transfer_target: ["transfer_target", "destination", "transferred_to"]
            .iter()
            .find_map(|key| fields::phone(data, key)),
        agent_id: fields::id(data, "agent_id"),
        ..Call::default()
    });
    event.data.conversation = fields::id(data, "conversation_id").map(|id| Conversation {
        id: Some(id),
        channel: Some(Cow::Borrowed("phone")),
        resolution: resolution(data),
        ..Conversation::default()
    });
    Ok(())
}

/// The channel, with OpenCX's `web` written `webchat`.
fn channel<'a>(data: &Object<'a>) -> Option<Text<'a>> {
    fields::string(data, "channel").map(|channel| match channel.as_ref() {
        "web" => Cow::Borrowed("webchat"),
        _ => channel,
    })
}

/// `resolved` or `not_resolved`, from the human's verdict, else the AI's,
/// else the older `resolution_status`; any other value gives none.
fn resolution(data: &Object<'_>) -> Option<Text<'static>> {
    [
        "human_resolution_status",
        "ai_resolution_status",
        "resolution_status",
    ]
    .iter()
    .find_map(|key| match fields::string(data, key)?.as_ref() {
        "resolved" => Some(Cow::Borrowed("resolved")),
        "not_resolved" | "unresolved" => Some(Cow::Borrowed("not_resolved")),
        _ => None,
    })
}

/// Who closed a conversation, in the message roles.
fn closed_by<'a>(data: &Object<'a>) -> Option<Text<'a>> {
    let closer = match fields::get(data, "closed_by")? {
        Value::Object(closer) => fields::string(closer, "type")?,
        Value::String(closer) => closer.clone(),
        _ => return None,
    };
    Some(Cow::Borrowed(match closer.to_ascii_lowercase().as_str() {
        "ai" => "ai",
        "human" | "agent" => "agent",
        "contact" | "customer" => "contact",
        "workflow" => "workflow",
        "system" => "system",
        _ => return Some(closer),
    }))
}

/// Who hung up: OpenCX's `user` is the contact.
fn ended_by(call_ended_by: Text<'_>) -> Text<'_> {
    match call_ended_by.as_ref() {
        "user" => Cow::Borrowed("contact"),
        _ => call_ended_by,
    }
}

/// The contact a payload names: its id from `contact_id`, `customer_id` or
/// `contact.id`, the rest from `contact` and its `enriched_data`.
fn contact_of<'a>(data: &Object<'a>) -> Option<Contact<'a>> {
    let contact = fields::object(data, "contact");
    let enriched = contact.and_then(|c| fields::object(c, "enriched_data"));
    let from_either = |keys: &[&str], read: fn(&Object<'a>, &str) -> Option<Text<'a>>| {
        [contact, enriched]
            .into_iter()
            .flatten()
            .find_map(|object| keys.iter().find_map(|key| read(object, key)))
    };
    Contact {
        id: ["contact_id", "customer_id"]
            .iter()
            .find_map(|key| fields::id(data, key))
            .or_else(|| fields::id(contact?, "id")),
        name: contact.and_then(|c| fields::string(c, "name")),
        email: from_either(&["email"], fields::string),
        phone: from_either(&["phone", "phone_number"], fields::phone),
    }
    .non_empty()
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
        OpenCx.normalize(crate::json::Value::from_serde(payload).as_object().unwrap())
    }

    #[test]
    fn every_event_in_the_table_maps() {
        assert_eq!(EVENTS.len(), 17);
        for (name, event_type, _) in EVENTS {
            let payload = json!({"event": name, "organization_id": "org_1", "data": {
                "conversation_id": "c1", "run_id": "r1", "timestamp": "2026-04-01T10:00:00Z"}});
            let event = normalize(payload).unwrap();
            assert_eq!(event.event_type, *event_type, "{name}");
            assert_eq!(
                event.scope.as_deref(),
                Some("organizations/org_1"),
                "{name}"
            );
            assert_eq!(
                event.time.as_deref(),
                Some("2026-04-01T10:00:00Z"),
                "{name}"
            );
            let expected = if name.starts_with("workflow.") {
                "r1"
            } else {
                "c1"
            };
            assert_eq!(event.subject.as_deref(), Some(expected), "{name}");
        }
    }

    #[test]
    fn data_may_be_a_one_element_array() {
        let event = normalize(json!({"event": "conversation.handoff_to_human",
            "data": [{"conversation_id": "c1", "customer_id": "u9", "reason": "asked"}]}))
        .unwrap();
        assert_eq!(event.subject.as_deref(), Some("c1"));
        let conversation = event.data.conversation.unwrap();
        assert_eq!(conversation.handoff_reason.as_deref(), Some("asked"));
        assert_eq!(event.data.contact.unwrap().id.as_deref(), Some("u9"));
        let err = normalize(json!({"event": "conversation.closed",
            "data": [{"conversation_id": "c1"}, {"conversation_id": "c2"}]}))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`conversation.closed` event has no usable `data`"
        );
    }

    #[test]
    fn calls_map_who_hung_up_and_resolution() {
        let event = normalize(json!({"event": "phone_call.ended", "data": {
            "conversation_id": "c1", "call_ended_by": "user", "ai_resolution_status": "handed_off",
            "custom_data": {"duration_seconds": 61.5, "is_outbound": true}}}))
        .unwrap();
        let call = event.data.call.unwrap();
        assert_eq!(call.ended_by.as_deref(), Some("contact"));
        assert_eq!(call.direction.as_deref(), Some("outbound"));
        assert_eq!(call.duration_seconds.unwrap().to_string(), "61.5");
        assert_eq!(event.data.conversation.unwrap().resolution, None);
        let event = normalize(json!({"event": "phone_call.started",
            "data": {"call_id": "call_7", "conversation_id": "c1"}}))
        .unwrap();
        assert_eq!(event.subject.as_deref(), Some("call_7"));
        assert_eq!(event.data.conversation.unwrap().id.as_deref(), Some("c1"));
    }

    #[test]
    fn resolution_prefers_the_human_verdict() {
        let data =
            json!({"human_resolution_status": "not_resolved", "ai_resolution_status": "resolved"});
        assert_eq!(
            resolution(tree(data).as_object().unwrap()).as_deref(),
            Some("not_resolved")
        );
        let data = json!({"human_resolution_status": null, "ai_resolution_status": "resolved"});
        assert_eq!(
            resolution(tree(data).as_object().unwrap()).as_deref(),
            Some("resolved")
        );
    }

    #[test]
    fn unknown_events_are_unrecognized_with_their_source() {
        let event = normalize(json!({"event": "ticket.created", "organization_id": 42, "data": 7}))
            .unwrap();
        assert_eq!(event.event_type, EventType::Unrecognized);
        assert_eq!(event.scope.as_deref(), Some("organizations/42"));
        assert_eq!(event.subject, None);
    }

    #[test]
    fn known_events_need_their_ids() {
        let err =
            normalize(json!({"event": "phone_call.failed", "data": {"failure_category": "busy"}}))
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`phone_call.failed` event has no usable `data.conversation_id`"
        );
        let err = normalize(json!({"event": "workflow.run.failed", "data": {}})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`workflow.run.failed` event has no usable `data.run_id`"
        );
        let err = normalize(json!({"event": "csat.requested"})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`csat.requested` event has no usable `data`"
        );
    }

    #[test]
    fn detection_needs_event_and_organization() {
        let request = Request::new([], b"");
        let claims =
            |payload: Value| OpenCx.claims_body(&request, tree(payload).as_object().unwrap());
        assert!(claims(
            json!({"event": "conversation.started", "organization_id": "org_1"})
        ));
        assert!(!claims(json!({"event": "conversation.started"})));
        assert!(!claims(json!({"organization_id": "org_1"})));
    }
}
