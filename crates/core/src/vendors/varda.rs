//! Varda: conversations, messages, calls, call outcomes and contacts, with
//! marketing attribution.
//!
//! Envelope `{"event", "timestamp", "data"}`; ids are numbers (written as
//! strings); money is integer cents. No event id is sent, so the event id is
//! the body digest; the source is plain `/varda`.

use super::{Family, Normalized};
use std::borrow::Cow;

use crate::error::Error;
use crate::event::{Call, Contact, Conversation, EventType, Message, Outcome, Section};
use crate::fields::{self, Object};
use crate::json::{Text, Value};
use crate::request::Request;
use crate::schemes::varda::{DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER};
use crate::schemes::{self, SignatureScheme};

/// The Varda family.
#[derive(Debug, Clone, Copy)]
pub struct Varda;

/// Reads one event's `data` into the event.
type Parse = for<'a> fn(&Object<'a>, &mut Normalized<'a>) -> Result<(), &'static str>;

/// Varda's event types: the normalized type and how `data` is read.
/// `message.created` is `message.received` or `message.sent` by direction.
const EVENTS: &[(&str, EventType, Parse)] = &[
    (
        "conversation.created",
        EventType::ConversationStarted,
        conversation,
    ),
    (
        "conversation.resolved",
        EventType::ConversationResolved,
        conversation,
    ),
    (
        "conversation.closed",
        EventType::ConversationClosed,
        conversation,
    ),
    ("message.created", EventType::MessageReceived, message),
    ("call.started", EventType::CallStarted, call),
    ("call.ended", EventType::CallEnded, call),
    ("call.outcome_tagged", EventType::CallOutcomeTagged, outcome),
    ("contact.created", EventType::ContactCreated, contact),
    ("contact.updated", EventType::ContactUpdated, contact),
];

impl Family for Varda {
    fn name(&self) -> &'static str {
        "varda"
    }

    fn default_scheme(&self, _request: &Request<'_>) -> Option<&'static dyn SignatureScheme> {
        Some(&schemes::varda::Varda)
    }

    fn default_schemes(&self) -> &'static [&'static dyn SignatureScheme] {
        &[&schemes::varda::Varda]
    }

    fn claims_headers(&self, request: &Request<'_>) -> bool {
        request.has_header(SIGNATURE_HEADER)
            || request.has_header(EVENT_HEADER)
            || request
                .header("User-Agent")
                .is_some_and(|ua| ua.starts_with("Varda-Webhooks/"))
    }

    /// `X-Varda-Delivery`, else (a Varda account configured for Standard
    /// Webhooks) `webhook-id`.
    fn delivery_id<'r>(&self, request: &Request<'r>) -> Option<&'r str> {
        request
            .header(DELIVERY_HEADER)
            .or_else(|| request.header("webhook-id"))
    }

    fn delivery_headers(&self, payload: Option<&Object<'_>>) -> Vec<(String, String)> {
        let mut headers = vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            ("User-Agent".to_owned(), "Varda-Webhooks/1.0".to_owned()),
        ];
        if let Some(event) = payload.and_then(|p| fields::string(p, "event")) {
            headers.push((EVENT_HEADER.to_owned(), event.into_owned()));
        }
        headers
    }

    fn normalize<'a>(&self, payload: &Object<'a>) -> Result<Normalized<'a>, Error> {
        let vendor_event =
            fields::string(payload, "event").ok_or(Error::MissingEventType { field: "event" })?;
        let known = EVENTS.iter().find(|(name, _, _)| *name == vendor_event);
        let event_type = known.map_or(EventType::Unrecognized, |(_, t, _)| *t);
        let mut event = Normalized::new(event_type, vendor_event);
        event.time = fields::strict_time(payload, "timestamp");
        if let Some((_, _, parse)) = known {
            let vendor_event = event.vendor_event.to_string();
            let missing = |field| Error::MissingField {
                event: vendor_event.clone(),
                field,
            };
            let data = fields::object(payload, "data").ok_or_else(|| missing("data"))?;
            parse(data, &mut event).map_err(missing)?;
            event.data.contact = contact_of(data);
            event.data.attribution = fields::get(data, "attribution").map(Value::unique);
        }
        Ok(event)
    }
}

fn conversation<'a>(data: &Object<'a>, event: &mut Normalized<'a>) -> Result<(), &'static str> {
    let id = fields::id(data, "id").ok_or("data.id")?;
    event.subject = Some(id.clone());
    event.data.conversation = Conversation {
        id: Some(id),
        channel: fields::string(data, "channel_type").or_else(|| fields::string(data, "channel")),
        status: fields::string(data, "status"),
        priority: fields::string(data, "priority"),
        resolution: (event.event_type == EventType::ConversationResolved)
            .then_some(Cow::Borrowed("resolved")),
        summary: fields::string(data, "summary"),
        ..Conversation::default()
    }
    .non_empty();
    Ok(())
}

fn message<'a>(data: &Object<'a>, event: &mut Normalized<'a>) -> Result<(), &'static str> {
    let id = fields::id(data, "id");
    let conversation_id = fields::id(data, "conversation_id");
    event.subject = Some(
        id.clone()
            .or_else(|| conversation_id.clone())
            .ok_or("data.id")?,
    );
    let sender_type = fields::string(data, "sender_type");
    let direction = fields::direction(data, "direction")
        .filter(|d| d == "inbound" || d == "outbound")
        .or_else(|| sender_direction(sender_type.as_deref()?).map(Cow::Borrowed))
        .ok_or("data.direction")?;
    if direction == "outbound" {
        event.event_type = EventType::MessageSent;
    }
    event.data.message = Message {
        id,
        conversation_id,
        direction: Some(direction),
        sender_role: sender_type.map(sender_role),
        sender_name: fields::string(data, "sender_name"),
        text: ["content", "text", "body"]
            .iter()
            .find_map(|key| fields::string(data, key)),
        channel: fields::string(data, "channel_type"),
        status: fields::string(data, "status"),
        ..Message::default()
    }
    .non_empty();
    Ok(())
}

/// Who sent a message, in the normalized roles.
fn sender_role(sender_type: Text<'_>) -> Text<'_> {
    Cow::Borrowed(match sender_type.as_ref() {
        "contact" | "customer" => "contact",
        "ai" | "bot" | "assistant" => "ai",
        "agent" | "user" | "human" => "agent",
        "system" => "system",
        _ => return sender_type,
    })
}

/// The direction a sender implies when `direction` is absent.
fn sender_direction(sender_type: &str) -> Option<&'static str> {
    match sender_role(Cow::Borrowed(sender_type)).as_ref() {
        "contact" => Some("inbound"),
        "ai" | "agent" | "system" => Some("outbound"),
        _ => None,
    }
}

fn call<'a>(data: &Object<'a>, event: &mut Normalized<'a>) -> Result<(), &'static str> {
    let id = fields::id(data, "id").ok_or("data.id")?;
    event.subject = Some(id.clone());
    event.data.call = Call {
        id: Some(id),
        direction: fields::direction(data, "direction"),
        from: fields::phone(data, "from_number"),
        to: fields::phone(data, "to_number"),
        status: fields::string(data, "status"),
        started_at: fields::time(data, "started_at"),
        answered_at: fields::time(data, "answered_at"),
        ended_at: fields::time(data, "ended_at"),
        duration_seconds: fields::number(data, "duration_seconds"),
        disposition: fields::string(data, "disposition"),
        recording_url: fields::string(data, "recording_url"),
        ..Call::default()
    }
    .non_empty();
    Ok(())
}

fn outcome<'a>(data: &Object<'a>, event: &mut Normalized<'a>) -> Result<(), &'static str> {
    let call_id = fields::id(data, "call_session_id").ok_or("data.call_session_id")?;
    event.subject = Some(call_id.clone());
    event.data.call = Some(Call {
        id: Some(call_id),
        ..Call::default()
    });
    event.data.outcome = Outcome {
        id: fields::id(data, "id"),
        outcome_type: fields::string(data, "outcome_type"),
        estimated_value_cents: fields::cents(data, "estimated_value_cents"),
        actual_value_cents: fields::cents(data, "actual_value_cents"),
        revenue_cents: fields::cents(data, "revenue_cents"),
        notes: fields::string(data, "notes"),
    }
    .non_empty();
    Ok(())
}

fn contact<'a>(data: &Object<'a>, event: &mut Normalized<'a>) -> Result<(), &'static str> {
    // The contact is `data` itself, or `data.contact` where it is nested.
    let contact = fields::object(data, "contact").unwrap_or(data);
    event.subject = Some(fields::id(contact, "id").ok_or("data.id")?);
    Ok(())
}

/// The contact a payload names: `data.contact`, or `data` itself for the
/// contact events.
fn contact_of<'a>(data: &Object<'a>) -> Option<Contact<'a>> {
    let contact = match fields::object(data, "contact") {
        Some(contact) => contact,
        None if data.contains_key("email") || data.contains_key("phone") => data,
        None => return None,
    };
    Contact {
        id: fields::id(contact, "id"),
        name: fields::string(contact, "name"),
        email: fields::string(contact, "email"),
        phone: fields::phone(contact, "phone"),
    }
    .non_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use serde_json::json;

    fn normalize(payload: Value) -> Result<Normalized<'static>, Error> {
        Varda.normalize(crate::json::Value::from_serde(payload).as_object().unwrap())
    }

    #[test]
    fn every_event_in_the_table_maps() {
        for (name, event_type, _) in EVENTS {
            let data = json!({"id": 1, "call_session_id": 2, "direction": "inbound"});
            let event = normalize(json!({"event": name, "data": data})).unwrap();
            assert_eq!(event.event_type, *event_type, "{name}");
            assert!(event.subject.is_some(), "{name}");
        }
    }

    #[test]
    fn outbound_messages_are_sent() {
        let event = normalize(
            json!({"event": "message.created", "data": {"id": 7, "sender_type": "agent"}}),
        )
        .unwrap();
        assert_eq!(event.event_type, EventType::MessageSent);
        let err = normalize(json!({"event": "message.created", "data": {"id": 7}})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`message.created` event has no usable `data.direction`"
        );
    }

    #[test]
    fn unknown_events_are_unrecognized_without_data() {
        let event = normalize(json!({"event": "invoice.paid"})).unwrap();
        assert_eq!(event.event_type, EventType::Unrecognized);
        assert_eq!(event.vendor_event, "invoice.paid");
    }

    #[test]
    fn known_events_need_their_ids() {
        let err = normalize(json!({"event": "call.ended", "data": {"direction": "inbound"}}))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`call.ended` event has no usable `data.id`"
        );
        let err = normalize(json!({"event": "call.ended", "data": [1]})).unwrap_err();
        assert_eq!(err.to_string(), "`call.ended` event has no usable `data`");
        let err = normalize(json!({"data": {}})).unwrap_err();
        assert!(matches!(err, Error::MissingEventType { field: "event" }));
    }
}
