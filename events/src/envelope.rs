//! The envelope every event travels in.

use crate::domain::Domain;
use crate::payload::Payload;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// An event's identity: a UUIDv7, so ids sort roughly by creation time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub Uuid);

impl EventId {
    /// A fresh id; randomness and the clock live at the edge that calls this.
    pub fn generate() -> EventId {
        EventId(Uuid::now_v7())
    }

    /// The id of an event another one causes (an attendee's copy of an
    /// invitation, say): a function of the cause's id and of `parts` (the
    /// recipient, the kind of effect), so that whoever appends the effect,
    /// and however often, it is the same event, recognised as already
    /// there. A UUIDv8 from the first 16 bytes of a SHA-256 over the
    /// cause and the length-prefixed parts.
    pub fn derived(cause: EventId, parts: &[&str]) -> EventId {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update(b"reprise derived event\0");
        hash.update(cause.0.as_bytes());
        for part in parts {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        let digest = hash.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        EventId(uuid::Builder::from_custom_bytes(bytes).into_uuid())
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The version of an aggregate (a calendar object, a mailbox, a user...):
/// one more than the partition offset of the last event applied to it, so
/// `0` means "does not exist" and versions are identical on every instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AggregateVersion(pub u64);

impl AggregateVersion {
    pub const ABSENT: AggregateVersion = AggregateVersion(0);

    /// The version an aggregate has after the event at `offset` changed it.
    pub fn after_offset(offset: u64) -> AggregateVersion {
        AggregateVersion(offset + 1)
    }
}

impl fmt::Display for AggregateVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One event, as appended to the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventEnvelope {
    pub event_id: EventId,
    pub domain: Domain,
    /// The owning principal (`login@domain`) or, for directory events, the
    /// directory domain. Records are keyed by it, so one owner's events
    /// are totally ordered in one partition.
    pub partition_key: String,
    pub event_type: String,
    pub schema_version: u32,
    pub occurred_at: DateTime<Utc>,
    /// Who caused it: a principal, `admin:<login>`, or `system:<command>`.
    pub actor: String,
    /// Ties together the events of one request or one import.
    pub correlation_id: Uuid,
    /// When set, the event applies only if the aggregate is at this version
    /// when the projection reaches it; otherwise it is rejected, the same
    /// way on every instance.
    pub expected_version: Option<AggregateVersion>,
    /// The writer's leader epoch; projections will refuse writes from a
    /// fenced epoch once blue/green cutover exists. 0 until then.
    pub leader_epoch: u64,
    pub payload: Payload,
}

impl EventEnvelope {
    /// A new event at the current schema version. The caller supplies the
    /// id and time, so this stays deterministic; see [`EventEnvelope::now`].
    pub fn new(
        event_id: EventId,
        occurred_at: DateTime<Utc>,
        partition_key: impl Into<String>,
        actor: impl Into<String>,
        payload: Payload,
    ) -> EventEnvelope {
        EventEnvelope {
            event_id,
            domain: payload.domain(),
            partition_key: partition_key.into(),
            event_type: payload.event_type().to_string(),
            schema_version: crate::codec::CURRENT_SCHEMA_VERSION,
            occurred_at,
            actor: actor.into(),
            correlation_id: event_id.0,
            expected_version: None,
            leader_epoch: 0,
            payload,
        }
    }

    /// A new event stamped with a fresh id and the wall clock.
    pub fn now(
        partition_key: impl Into<String>,
        actor: impl Into<String>,
        payload: Payload,
    ) -> EventEnvelope {
        EventEnvelope::new(
            EventId::generate(),
            Utc::now(),
            partition_key,
            actor,
            payload,
        )
    }

    pub fn with_correlation(mut self, correlation_id: Uuid) -> EventEnvelope {
        self.correlation_id = correlation_id;
        self
    }

    pub fn expecting(mut self, version: AggregateVersion) -> EventEnvelope {
        self.expected_version = Some(version);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_a_function_of_their_cause_and_parts() {
        let cause = EventId("01900000-0000-7000-8000-000000000001".parse().unwrap());
        let other = EventId("01900000-0000-7000-8000-000000000002".parse().unwrap());
        let id = EventId::derived(cause, &["mailto:bob@example.com", "request"]);
        assert_eq!(
            id,
            EventId::derived(cause, &["mailto:bob@example.com", "request"])
        );
        assert_eq!(id.0.get_version_num(), 8);
        assert_ne!(
            id,
            EventId::derived(other, &["mailto:bob@example.com", "request"])
        );
        assert_ne!(
            id,
            EventId::derived(cause, &["mailto:bob@example.com", "cancel"])
        );
        // Parts are length-prefixed: moving a boundary changes the id.
        assert_ne!(
            EventId::derived(cause, &["ab", "c"]),
            EventId::derived(cause, &["a", "bc"])
        );
    }
}
