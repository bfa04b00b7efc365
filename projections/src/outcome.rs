//! What became of an event, recorded per event id so that the writer who
//! appended it can answer its client: every instance records the same.

use events::AggregateVersion;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum Outcome {
    /// The event changed the view; the aggregate is now at `version`.
    Applied { version: AggregateVersion },
    /// A valid event that lost to the log order (a conflict).
    Rejected { rejection: Rejection },
    /// An event that should never have been written (undecodable, or
    /// refused by the apply step); see the quarantine.
    Quarantined { reason: String },
}

impl Outcome {
    /// The outcome of most events, implied rather than stored: applied,
    /// leaving its aggregate at the version its position gives.
    pub fn default_for(position: events::LogPosition) -> Outcome {
        Outcome::Applied {
            version: AggregateVersion::after_offset(position.offset),
        }
    }
}

/// Why a valid event was not applied. Decided only by the events before it
/// in its partition, so every instance decides the same.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Rejection {
    /// The writer expected another version of the aggregate.
    VersionConflict {
        expected: AggregateVersion,
        actual: AggregateVersion,
    },
    /// Another resource in the collection already holds this UID.
    UidConflict { href: String },
    /// What the event is about does not exist.
    NotFound { what: String },
    /// What the event creates exists already.
    AlreadyExists { what: String },
    /// The collection does not accept this kind of component.
    UnsupportedComponent { component: String },
    /// A rule of the domain forbids it (e.g. a group containing itself).
    NotAllowed { reason: String },
    /// Written under a leader epoch that a fence earlier in its partition
    /// ended: the writer had lost the right to write (see `LeaderFenced`).
    Fenced { writer_epoch: u64, fence_epoch: u64 },
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::VersionConflict { expected, actual } => {
                write!(f, "expected version {expected}, found {actual}")
            }
            Rejection::UidConflict { href } => write!(f, "UID already used by {href}"),
            Rejection::NotFound { what } => write!(f, "{what} not found"),
            Rejection::AlreadyExists { what } => write!(f, "{what} already exists"),
            Rejection::UnsupportedComponent { component } => {
                write!(f, "{component} is not supported by this calendar")
            }
            Rejection::NotAllowed { reason } => f.write_str(reason),
            Rejection::Fenced {
                writer_epoch,
                fence_epoch,
            } => write!(
                f,
                "written under leader epoch {writer_epoch}, which the fence of epoch \
                 {fence_epoch} ended"
            ),
        }
    }
}

/// The rejection for an event whose expected version is not `current`.
pub fn check_expected(
    expected: Option<AggregateVersion>,
    current: AggregateVersion,
) -> Result<(), Rejection> {
    match expected {
        Some(expected) if expected != current => Err(Rejection::VersionConflict {
            expected,
            actual: current,
        }),
        _ => Ok(()),
    }
}
