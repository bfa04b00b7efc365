//! The contract between a view and the runner that feeds it.

use crate::outcome::{Outcome, Rejection};
use crate::store::StoreError;
use crate::view::ViewTxn;
use events::{AggregateVersion, Domain, EventEnvelope, LogPosition};

/// An event as the apply step sees it: decoded, with where it is in the log.
pub struct Applied<'a> {
    pub event: &'a EventEnvelope,
    pub domain: Domain,
    pub position: LogPosition,
}

impl Applied<'_> {
    /// The version an aggregate has once this event changed it.
    pub fn version(&self) -> AggregateVersion {
        AggregateVersion::after_offset(self.position.offset)
    }
}

/// Why the apply step would not take an event at all.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The event is invalid in itself; it goes to the quarantine.
    #[error("{0}")]
    Refused(String),
    /// The view could not be read; the runner stops.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Rejection> for Result<Outcome, ApplyError> {
    fn from(rejection: Rejection) -> Self {
        Ok(Outcome::Rejected { rejection })
    }
}

/// A versioned view built from some topics of the log.
///
/// `apply` must be deterministic: it may read only the event and its own
/// view (through `view`), never the clock, randomness or anything else, so
/// that two rebuilds of one log write identical bytes.
pub trait Projection: Send + Sync {
    fn name(&self) -> &'static str;
    fn version(&self) -> u32;
    fn domains(&self) -> &'static [Domain];
    fn apply(&self, event: &Applied<'_>, view: &mut ViewTxn<'_>) -> Result<Outcome, ApplyError>;

    /// True when `apply` of an event reads and writes only keys that
    /// belong to its partition key (the owner, or the domain of directory
    /// events), which lives in one partition: then the partitions of a
    /// batch can be applied on several threads and their writes merged,
    /// with the same result as in log order. The runner refuses a batch
    /// whose partitions wrote one key.
    fn partitions_independent(&self) -> bool {
        false
    }
}

/// A name (collection, href, login, mailbox) must be usable as a key part.
pub fn check_name(kind: &str, name: &str) -> Result<(), ApplyError> {
    if name.is_empty() || name.contains('\0') {
        return Err(ApplyError::Refused(format!("invalid {kind} name {name:?}")));
    }
    Ok(())
}
