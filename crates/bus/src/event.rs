//! Building events: the envelope, its encoding, and the subjects Lyceum uses.

use bytes::Bytes;
use lyceum_proto::events::v1::Envelope;
use lyceum_telemetry::HeaderCarrier;
use prost::Message;
use time::OffsetDateTime;
use uuid::Uuid;

/// Every subject Lyceum publishes on.
pub mod subjects {
    /// A course was published (payload `CoursePublished`).
    pub const COURSE_PUBLISHED: &str = "lyceum.lms.course.published";
    /// Every LMS course event.
    pub const COURSE_ALL: &str = "lyceum.lms.course.*";
    /// A person enrolled (payload `EnrollmentCreated`).
    pub const ENROLLMENT_CREATED: &str = "lyceum.lms.enrollment.created";
    /// A person completed a course (payload `EnrollmentCompleted`).
    pub const ENROLLMENT_COMPLETED: &str = "lyceum.lms.enrollment.completed";
    /// An xAPI statement for the LRS to store (payload: the statement, JSON).
    pub const XAPI_SUBMIT: &str = "lyceum.xapi.submit";
    /// The LRS stored a statement (payload `StatementStored`).
    pub const STATEMENT_STORED: &str = "lyceum.lrs.statement.stored";
}

/// Media type of protobuf payloads.
pub const CONTENT_TYPE_PROTOBUF: &str = "application/protobuf";
/// Media type of JSON payloads (xAPI statements).
pub const CONTENT_TYPE_JSON: &str = "application/json";

/// An event about to be written to the outbox.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The envelope, payload included.
    pub envelope: Envelope,
}

impl NewEvent {
    /// An event with a protobuf payload.
    pub fn proto(
        subject: &str,
        source: &str,
        subject_id: impl ToString,
        payload: &impl Message,
    ) -> Self {
        Self::raw(
            subject,
            source,
            subject_id.to_string(),
            payload.encode_to_vec(),
            CONTENT_TYPE_PROTOBUF,
        )
    }

    /// An event with a JSON payload.
    pub fn json(subject: &str, source: &str, subject_id: impl ToString, json: Vec<u8>) -> Self {
        Self::raw(
            subject,
            source,
            subject_id.to_string(),
            json,
            CONTENT_TYPE_JSON,
        )
    }

    fn raw(
        subject: &str,
        source: &str,
        subject_id: String,
        payload: Vec<u8>,
        content_type: &str,
    ) -> Self {
        Self {
            envelope: Envelope {
                id: Uuid::now_v7().to_string(),
                r#type: subject.to_string(),
                source: source.to_string(),
                occurred_at: Some(lyceum_proto::timestamp::from_time(OffsetDateTime::now_utc())),
                subject_id,
                payload,
                content_type: content_type.to_string(),
            },
        }
    }

    /// The event id.
    pub fn id(&self) -> Uuid {
        self.envelope.id.parse().expect("NewEvent ids are UUIDs")
    }
}

/// An event as the relay hands it to the bus.
#[derive(Debug, Clone)]
pub struct OutgoingEvent {
    /// Event id (de-duplication key: `Nats-Msg-Id`).
    pub id: Uuid,
    /// Subject to publish on.
    pub subject: String,
    /// The encoded [`Envelope`].
    pub envelope: Bytes,
    /// Trace headers captured when the event was written.
    pub headers: HeaderCarrier,
}

impl OutgoingEvent {
    /// Encodes an event for publishing now, with the current trace context (tests and tools;
    /// services go through the outbox).
    pub fn from_new(event: &NewEvent) -> Self {
        Self {
            id: event.id(),
            subject: event.envelope.r#type.clone(),
            envelope: Bytes::from(event.envelope.encode_to_vec()),
            headers: lyceum_telemetry::inject_current(),
        }
    }
}
