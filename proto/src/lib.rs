//! Lyceum's gRPC contracts and event payloads, generated from `proto/lyceum`.

#![allow(clippy::all, missing_docs)]

/// `lyceum.common.v1`: paging.
pub mod common {
    pub mod v1 {
        tonic::include_proto!("lyceum.common.v1");
    }
}

/// `lyceum.events.v1`: the bus envelope and event payloads.
pub mod events {
    pub mod v1 {
        tonic::include_proto!("lyceum.events.v1");
    }
}

/// `lyceum.lms.v1`: people, courses, enrolments.
pub mod lms {
    pub mod v1 {
        tonic::include_proto!("lyceum.lms.v1");
    }
}

/// `lyceum.lxp.v1`: catalogue and feed.
pub mod lxp {
    pub mod v1 {
        tonic::include_proto!("lyceum.lxp.v1");
    }
}

/// `lyceum.lrs.v1`: statements for internal systems.
pub mod lrs {
    pub mod v1 {
        tonic::include_proto!("lyceum.lrs.v1");
    }
}

/// Conversions between protobuf timestamps and `time::OffsetDateTime`.
pub mod timestamp {
    use prost_types::Timestamp;
    use time::OffsetDateTime;

    /// A protobuf timestamp for an instant.
    pub fn from_time(t: OffsetDateTime) -> Timestamp {
        Timestamp {
            seconds: t.unix_timestamp(),
            nanos: t.nanosecond() as i32,
        }
    }

    /// The instant of a protobuf timestamp; `None` when it is out of range.
    pub fn to_time(t: &Timestamp) -> Option<OffsetDateTime> {
        let nanos = i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos);
        OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
    }
}
