//! The normalized event: a CloudEvents 1.0 event in structured JSON mode, with
//! the common vocabulary of normalized-events.md.

use serde::Serialize;
use serde_json::Number;

use crate::json::{Text, Value, WriteJson, Writer};

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

/// One normalized event, written as CloudEvents structured JSON. Its `data`
/// borrows text from the delivery's body (`'a`); the envelope is owned.
#[derive(Debug, Clone, PartialEq)]
pub struct Event<'a> {
    /// Always `"1.0"`.
    pub specversion: &'static str,
    /// Stable across redeliveries (see `crate::process`).
    pub id: String,
    /// `/<vendor>` plus the account scope the payload names.
    pub source: String,
    /// The normalized type.
    pub event_type: EventType,
    /// The id of the entity the type's first word names.
    pub subject: Option<String>,
    /// When it happened, RFC 3339 UTC.
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
    pub data: Data<'a>,
}

impl Event<'_> {
    /// The event as one line of CloudEvents structured JSON.
    pub fn to_json(&self) -> String {
        let raw = self.data.raw.as_ref().map_or(0, |raw| raw.json.len());
        let mut w = Writer::with_capacity(2 * raw + 1024);
        self.write_json(&mut w);
        w.finish()
    }
}

impl WriteJson for Event<'_> {
    fn write_json(&self, w: &mut Writer) {
        w.begin_object();
        w.member(crate::key!("specversion"), self.specversion);
        w.member(crate::key!("id"), &self.id);
        w.member(crate::key!("source"), &self.source);
        w.member(crate::key!("type"), self.event_type.as_str());
        w.member_opt(crate::key!("subject"), self.subject.as_ref());
        w.member_opt(crate::key!("time"), self.time.as_ref());
        w.member(crate::key!("datacontenttype"), self.datacontenttype);
        w.member(crate::key!("vendor"), self.vendor);
        w.member(crate::key!("vendorevent"), &self.vendorevent);
        w.member(crate::key!("verification"), self.verification);
        w.member(crate::key!("data"), &self.data);
        w.end_object();
    }
}

/// The vendor payload exactly as the body wrote it: text that is one valid
/// JSON document (only `crate::process` makes one, from a body it parsed).
/// It is written as it is, but for line breaks between tokens, which become
/// spaces so that the event stays one line: a consumer parsing it gets the
/// payload the body holds (a key written twice keeps both occurrences, and
/// JSON parsers take the last, as switchboard does).
#[derive(Debug, Clone, PartialEq)]
pub struct Raw<'a> {
    json: Text<'a>,
    /// Whether `json` holds a line break, as parsing it found.
    breaks_lines: bool,
}

impl<'a> Raw<'a> {
    /// `json`, which the caller has parsed as one JSON document
    /// ([`crate::json::parse_document`], which says whether it
    /// `breaks_lines`).
    pub(crate) fn parsed(json: Text<'a>, breaks_lines: bool) -> Raw<'a> {
        Raw { json, breaks_lines }
    }

    /// The payload's text.
    pub fn as_str(&self) -> &str {
        &self.json
    }
}

impl WriteJson for Raw<'_> {
    fn write_json(&self, w: &mut Writer) {
        w.raw(&self.json, self.breaks_lines);
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

/// A field's name in the JSON: its own, or the one given after `as`.
macro_rules! json_name {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident $name:literal) => {
        $name
    };
}

macro_rules! section {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident $(as $json:literal)?: $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $name<'a> {
            $(
                $(#[$fmeta])*
                pub $field: Option<$ty>,
            )*
        }
        impl Section for $name<'_> {}
        impl WriteJson for $name<'_> {
            fn write_json(&self, w: &mut Writer) {
                w.begin_object();
                $( w.member_opt(crate::key!(json_name!($field $($json)?)), self.$field.as_ref()); )*
                w.end_object();
            }
        }
    };
}

section!(
    /// The normalized payload. Each section is present only when the vendor
    /// payload has something for it.
    Data {
        /// The call the event is about.
        call: Call<'a>,
        /// The conversation the event is about.
        conversation: Conversation<'a>,
        /// The message the event is about.
        message: Message<'a>,
        /// The contact involved.
        contact: Contact<'a>,
        /// The call's transcript, in order.
        transcript: Vec<TranscriptTurn<'a>>,
        /// A call summary.
        summary: Summary<'a>,
        /// Post-call analysis.
        analysis: Analysis<'a>,
        /// A tagged call outcome.
        outcome: Outcome<'a>,
        /// A satisfaction survey.
        csat: Csat<'a>,
        /// A workflow run.
        workflow: Workflow<'a>,
        /// The vendor's marketing attribution, as given.
        attribution: Value<'a>,
        /// The vendor's call variables, as given.
        variables: Value<'a>,
        /// The vendor's custom data, as given.
        custom_data: Value<'a>,
        /// The language or languages the vendor reports, as given (beyond
        /// the spec: OpenCX's `language`, a code or a list of codes).
        language: Value<'a>,
        /// The vendor payload exactly as the body wrote it, unless turned
        /// off.
        raw: Raw<'a>,
    }
);

section!(
    /// A phone call.
    Call {
        /// The call's id.
        id: Text<'a>,
        /// `inbound` or `outbound`.
        direction: Text<'a>,
        /// The calling number.
        from: Text<'a>,
        /// The called number.
        to: Text<'a>,
        /// The vendor's status, verbatim but for spellings its module folds
        /// into one (Atoms' `no-answer` is `no_answer`).
        status: Text<'a>,
        /// When the call started, RFC 3339 UTC.
        started_at: Text<'a>,
        /// When the call was answered.
        answered_at: Text<'a>,
        /// When the call ended.
        ended_at: Text<'a>,
        /// Its length in seconds.
        duration_seconds: Number,
        /// `contact`, `agent` or `system`.
        ended_by: Text<'a>,
        /// Why the call failed.
        failure_reason: Text<'a>,
        /// The vendor's own outcome category for the call (beyond the spec:
        /// Varda's and Atoms' `disposition`, verbatim).
        disposition: Text<'a>,
        /// Where the recording is.
        recording_url: Text<'a>,
        /// Where the voicemail is.
        voicemail_url: Text<'a>,
        /// Where the call was transferred to.
        transfer_target: Text<'a>,
        /// The AI agent or user that handled it.
        agent_id: Text<'a>,
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
        id: Text<'a>,
        /// `phone`, `sms`, `webchat`, `email`, `whatsapp`, ... (open).
        channel: Text<'a>,
        /// The vendor's status, verbatim.
        status: Text<'a>,
        /// The vendor's priority, verbatim.
        priority: Text<'a>,
        /// `resolved` or `not_resolved`.
        resolution: Text<'a>,
        /// A summary of the conversation.
        summary: Text<'a>,
        /// Who closed it.
        closed_by: Text<'a>,
        /// Why it was handed off.
        handoff_reason: Text<'a>,
    }
);

section!(
    /// A message.
    Message {
        /// The message's id.
        id: Text<'a>,
        /// The conversation it belongs to.
        conversation_id: Text<'a>,
        /// `inbound` or `outbound`.
        direction: Text<'a>,
        /// The sending number, where the channel has one.
        from: Text<'a>,
        /// The receiving number(s), where the channel has them.
        to: Value<'a>,
        /// `contact`, `ai`, `agent`, `third_party_agent` or `system`.
        sender_role: Text<'a>,
        /// The sender's display name.
        sender_name: Text<'a>,
        /// The text.
        text: Text<'a>,
        /// The channel it travelled on.
        channel: Text<'a>,
        /// The vendor's delivery status, verbatim.
        status: Text<'a>,
        /// Attached media.
        media: Vec<Media<'a>>,
        /// Why the message failed, as the vendor says (beyond the spec:
        /// Quo's carrier `errorCode`, verbatim).
        failure_reason: Text<'a>,
    }
);

/// One attachment of a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Media<'a> {
    /// Where it is.
    pub url: Text<'a>,
    /// Its media type, where given.
    pub content_type: Option<Text<'a>>,
}

impl WriteJson for Media<'_> {
    fn write_json(&self, w: &mut Writer) {
        w.begin_object();
        w.member(crate::key!("url"), &self.url);
        w.member_opt(crate::key!("content_type"), self.content_type.as_ref());
        w.end_object();
    }
}

section!(
    /// A contact.
    Contact {
        /// The contact's id.
        id: Text<'a>,
        /// Their name.
        name: Text<'a>,
        /// Their email address.
        email: Text<'a>,
        /// Their phone number.
        phone: Text<'a>,
    }
);

section!(
    /// One turn of a transcript.
    TranscriptTurn {
        /// Who spoke: the vendor's role, verbatim (`agent`, `user`).
        role: Text<'a>,
        /// What was said.
        text: Text<'a>,
        /// The speaker's identifier (a phone number or user id).
        speaker: Text<'a>,
        /// Offset of the turn's start, in seconds.
        start_seconds: Number,
        /// Offset of the turn's end, in seconds.
        end_seconds: Number,
        /// When it was said, as the vendor wrote it.
        at: Text<'a>,
    }
);

section!(
    /// A call summary.
    Summary {
        /// The summary's points.
        text: Vec<Text<'a>>,
        /// The suggested next steps.
        next_steps: Vec<Text<'a>>,
    }
);

section!(
    /// Post-call analysis.
    Analysis {
        /// A summary of the call.
        summary: Text<'a>,
        /// The vendor's metrics, as given.
        metrics: Value<'a>,
    }
);

section!(
    /// A tagged call outcome. Money is integer cents.
    Outcome {
        /// The outcome's own id (beyond the spec: Varda's outcome `id`).
        id: Text<'a>,
        /// `booked`, `quoted`, ... (open).
        outcome_type as "type": Text<'a>,
        /// The estimated value.
        estimated_value_cents: i64,
        /// The actual value.
        actual_value_cents: i64,
        /// The revenue.
        revenue_cents: i64,
        /// Free-form notes.
        notes: Text<'a>,
    }
);

section!(
    /// A satisfaction survey.
    Csat {
        /// The score given.
        score: Number,
        /// The comment given.
        comment: Text<'a>,
    }
);

section!(
    /// A workflow run.
    Workflow {
        /// The workflow's id.
        id: Text<'a>,
        /// The run's id.
        run_id: Text<'a>,
        /// The run's status.
        status: Text<'a>,
        /// Why it failed.
        error: Text<'a>,
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
        let mut w = Writer::default();
        data.write_json(&mut w);
        assert_eq!(w.finish(), "{}");
    }
}
