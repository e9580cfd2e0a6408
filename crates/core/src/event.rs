//! The normalized event: a CloudEvents 1.0 event in structured JSON mode, with
//! the common vocabulary of normalized-events.md.

use serde::Serialize;
use serde_json::{Number, Value};

/// One value of the normalized type vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // each variant is its own wire name, listed in `as_str`
pub enum EventType {
    ConversationStarted,
    ConversationResolved,
    ConversationClosed,
    ConversationHandoff,
    ConversationHandoffFailed,
    MessageReceived,
    MessageSent,
    MessageDelivered,
    MessageFailed,
    CallRinging,
    CallStarted,
    CallAnswered,
    CallEnded,
    CallMissed,
    CallFailed,
    CallTransferred,
    CallForwarded,
    CallRecordingReady,
    CallVoicemailReady,
    CallTranscriptReady,
    CallSummaryReady,
    CallAnalysisCompleted,
    CallOutcomeTagged,
    ContactCreated,
    ContactUpdated,
    ContactDeleted,
    CsatRequested,
    CsatSubmitted,
    WorkflowSucceeded,
    WorkflowFailed,
    /// A vendor event type the family does not know.
    Unrecognized,
}

impl EventType {
    /// The type as the event's `type` attribute writes it.
    pub fn as_str(self) -> &'static str {
        use EventType::*;
        match self {
            ConversationStarted => "conversation.started",
            ConversationResolved => "conversation.resolved",
            ConversationClosed => "conversation.closed",
            ConversationHandoff => "conversation.handoff",
            ConversationHandoffFailed => "conversation.handoff_failed",
            MessageReceived => "message.received",
            MessageSent => "message.sent",
            MessageDelivered => "message.delivered",
            MessageFailed => "message.failed",
            CallRinging => "call.ringing",
            CallStarted => "call.started",
            CallAnswered => "call.answered",
            CallEnded => "call.ended",
            CallMissed => "call.missed",
            CallFailed => "call.failed",
            CallTransferred => "call.transferred",
            CallForwarded => "call.forwarded",
            CallRecordingReady => "call.recording_ready",
            CallVoicemailReady => "call.voicemail_ready",
            CallTranscriptReady => "call.transcript_ready",
            CallSummaryReady => "call.summary_ready",
            CallAnalysisCompleted => "call.analysis_completed",
            CallOutcomeTagged => "call.outcome_tagged",
            ContactCreated => "contact.created",
            ContactUpdated => "contact.updated",
            ContactDeleted => "contact.deleted",
            CsatRequested => "csat.requested",
            CsatSubmitted => "csat.submitted",
            WorkflowSucceeded => "workflow.succeeded",
            WorkflowFailed => "workflow.failed",
            Unrecognized => "unrecognized",
        }
    }
}

impl Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One normalized event, serialized as CloudEvents structured JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Always `"1.0"`.
    pub specversion: &'static str,
    /// Stable across redeliveries (see `crate::process`).
    pub id: String,
    /// `/<vendor>` plus the account scope the payload names.
    pub source: String,
    /// The normalized type.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The id of the entity the type's first word names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// When it happened, RFC 3339 UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Always `"application/json"`.
    pub datacontenttype: &'static str,
    /// Extension: the vendor family.
    pub vendor: &'static str,
    /// Extension: the vendor's own event type, verbatim.
    pub vendorevent: String,
    /// Extension: the scheme that verified the delivery, or `none`.
    pub verification: &'static str,
    /// The normalized payload.
    pub data: Data,
}

impl Event {
    /// The event as one line of CloudEvents structured JSON.
    pub fn to_json(&self) -> String {
        // Serializing plain structs, strings and JSON values cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| unreachable!("events always serialize"))
    }
}

/// Implemented by every section of `data`, so that a section with nothing in
/// it is left out rather than written empty.
pub trait Section: Default + PartialEq + Sized {
    /// `Some(self)` unless every field is empty.
    fn non_empty(self) -> Option<Self> {
        (self != Self::default()).then_some(self)
    }
}

macro_rules! section {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }
        impl Section for $name {}
    };
}

section!(
    /// The normalized payload. Each section is present only when the vendor
    /// payload has something for it.
    Data {
        /// The call the event is about.
        call: Call,
        /// The conversation the event is about.
        conversation: Conversation,
        /// The message the event is about.
        message: Message,
        /// The contact involved.
        contact: Contact,
        /// The call's transcript, in order.
        transcript: Vec<TranscriptTurn>,
        /// A call summary.
        summary: Summary,
        /// Post-call analysis.
        analysis: Analysis,
        /// A tagged call outcome.
        outcome: Outcome,
        /// A satisfaction survey.
        csat: Csat,
        /// A workflow run.
        workflow: Workflow,
        /// The vendor's marketing attribution, as given.
        attribution: Value,
        /// The vendor's call variables, as given.
        variables: Value,
        /// The vendor's custom data, as given.
        custom_data: Value,
        /// The language or languages the vendor reports, as given (beyond
        /// the spec: OpenCX's `language`, a code or a list of codes).
        language: Value,
        /// The vendor payload as parsed JSON, unless turned off.
        raw: Value,
    }
);

section!(
    /// A phone call.
    Call {
        /// The call's id.
        id: String,
        /// `inbound` or `outbound`.
        direction: String,
        /// The calling number.
        from: String,
        /// The called number.
        to: String,
        /// The vendor's status, verbatim but for spellings its module folds
        /// into one (Atoms' `no-answer` is `no_answer`).
        status: String,
        /// When the call started, RFC 3339 UTC.
        started_at: String,
        /// When the call was answered.
        answered_at: String,
        /// When the call ended.
        ended_at: String,
        /// Its length in seconds.
        duration_seconds: Number,
        /// `contact`, `agent` or `system`.
        ended_by: String,
        /// Why the call failed.
        failure_reason: String,
        /// The vendor's own outcome category for the call (beyond the spec:
        /// Varda's and Atoms' `disposition`, verbatim).
        disposition: String,
        /// Where the recording is.
        recording_url: String,
        /// Where the voicemail is.
        voicemail_url: String,
        /// Where the call was transferred to.
        transfer_target: String,
        /// The AI agent or user that handled it.
        agent_id: String,
        /// Whether the call was answered, where the vendor says so of a call
        /// that is over (beyond the spec: OpenPhone's `answeredAt`, a time or
        /// `null`, and Quo's `call.missed`).
        answered: bool,
    }
);

section!(
    /// A conversation.
    Conversation {
        /// The conversation's id.
        id: String,
        /// `phone`, `sms`, `webchat`, `email`, `whatsapp`, ... (open).
        channel: String,
        /// The vendor's status, verbatim.
        status: String,
        /// The vendor's priority, verbatim.
        priority: String,
        /// `resolved` or `not_resolved`.
        resolution: String,
        /// A summary of the conversation.
        summary: String,
        /// Who closed it.
        closed_by: String,
        /// Why it was handed off.
        handoff_reason: String,
    }
);

section!(
    /// A message.
    Message {
        /// The message's id.
        id: String,
        /// The conversation it belongs to.
        conversation_id: String,
        /// `inbound` or `outbound`.
        direction: String,
        /// The sending number, where the channel has one.
        from: String,
        /// The receiving number(s), where the channel has them.
        to: Value,
        /// `contact`, `ai`, `agent`, `third_party_agent` or `system`.
        sender_role: String,
        /// The sender's display name.
        sender_name: String,
        /// The text.
        text: String,
        /// The channel it travelled on.
        channel: String,
        /// The vendor's delivery status, verbatim.
        status: String,
        /// Attached media.
        media: Vec<Media>,
        /// Why the message failed, as the vendor says (beyond the spec:
        /// Quo's carrier `errorCode`, verbatim).
        failure_reason: String,
    }
);

/// One attachment of a message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Media {
    /// Where it is.
    pub url: String,
    /// Its media type, where given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

section!(
    /// A contact.
    Contact {
        /// The contact's id.
        id: String,
        /// Their name.
        name: String,
        /// Their email address.
        email: String,
        /// Their phone number.
        phone: String,
    }
);

section!(
    /// One turn of a transcript.
    TranscriptTurn {
        /// Who spoke: the vendor's role, verbatim (`agent`, `user`).
        role: String,
        /// What was said.
        text: String,
        /// The speaker's identifier (a phone number or user id).
        speaker: String,
        /// Offset of the turn's start, in seconds.
        start_seconds: Number,
        /// Offset of the turn's end, in seconds.
        end_seconds: Number,
        /// When it was said, as the vendor wrote it.
        at: String,
    }
);

section!(
    /// A call summary.
    Summary {
        /// The summary's points.
        text: Vec<String>,
        /// The suggested next steps.
        next_steps: Vec<String>,
    }
);

section!(
    /// Post-call analysis.
    Analysis {
        /// A summary of the call.
        summary: String,
        /// The vendor's metrics, as given.
        metrics: Value,
    }
);

section!(
    /// A tagged call outcome. Money is integer cents.
    Outcome {
        /// The outcome's own id (beyond the spec: Varda's outcome `id`).
        id: String,
        /// `booked`, `quoted`, ... (open).
        #[serde(rename = "type")]
        outcome_type: String,
        /// The estimated value.
        estimated_value_cents: i64,
        /// The actual value.
        actual_value_cents: i64,
        /// The revenue.
        revenue_cents: i64,
        /// Free-form notes.
        notes: String,
    }
);

section!(
    /// A satisfaction survey.
    Csat {
        /// The score given.
        score: Number,
        /// The comment given.
        comment: String,
    }
);

section!(
    /// A workflow run.
    Workflow {
        /// The workflow's id.
        id: String,
        /// The run's id.
        run_id: String,
        /// The run's status.
        status: String,
        /// Why it failed.
        error: String,
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sections_are_left_out() {
        assert_eq!(Contact::default().non_empty(), None);
        let contact = Contact {
            id: Some("1".into()),
            ..Contact::default()
        };
        assert_eq!(contact.clone().non_empty(), Some(contact));
        let data = Data::default();
        assert_eq!(serde_json::to_string(&data).unwrap(), "{}");
    }
}
