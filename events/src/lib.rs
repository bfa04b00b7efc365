//! The vocabulary of reprise: every change to calendars, contacts, the
//! directory and mail seen-flags is an [`EventEnvelope`] appended to a log.
//!
//! This crate owns what an event *is* ([`payload`], [`envelope`]), how it is
//! written down ([`codec`], with an upcaster chain so every older schema
//! version stays readable), what names a payload kept in the object store ([`object`]),
//! and where it is kept ([`log`]: one
//! [`log::EventLog`] trait, an embedded log on fjall and a Kafka log), and
//! [`storage`], the one way reprise opens its storage engine.
//! It knows nothing of HTTP or of views.

pub mod codec;
pub mod domain;
pub mod envelope;
pub mod fence;
pub mod log;
pub mod object;
pub mod payload;
pub mod scheduling;
pub mod sled_guard;
pub mod storage;
pub mod uidset;

pub use codec::{CodecError, CURRENT_SCHEMA_VERSION};
pub use domain::Domain;
pub use envelope::{AggregateVersion, EventEnvelope, EventId};
pub use log::{EventLog, LogError, LogPosition, LogReader, LogRecord, OutgoingRecord};
pub use object::{ObjectId, ObjectRef, PayloadSource, ResolveError};
pub use payload::Payload;
pub use uidset::UidSet;
