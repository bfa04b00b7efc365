//! `reprise clone` and point-in-time rebuilds (`rebuild --until ... --into
//! DIR`): copy a log, whole or up to a cut, into a new data directory's
//! own embedded log, record by record with the same partition and offset,
//! then build that directory's views from it.
//!
//! Why offsets and not just events: ETags, ctags, sync tokens and mail
//! modseqs are log positions, so a copy with identical positions serves
//! identical views (`ViewStore::digest` proves it) to clients that synced
//! against the source. Each appended position is checked against the
//! source's; any difference aborts the copy and removes what it wrote.
//!
//! The copy only ever reads the source, which the caller opens. Its
//! writes, and everything a server on the new directory does later, go to
//! the new directory's own log: a clone is a complete, independent
//! installation.
//!
//! `bounds`: where the copy stops; `copy`: the copy itself; `clone`: a
//! new data directory made of a copy, its objects (shared with the source
//! or copied into its own store) and its views.

pub mod bounds;
pub mod clone;
pub mod copy;

pub use bounds::{parse_bounds, BadBound, BoundSpec, Bounds};
pub use clone::{
    check_destination, check_objects_plan, copy_into, same_dir, same_store, CopyObjectsError,
    CopyPlan, DestinationError, ObjectsPlan, SourceStore, Step,
};
pub use copy::{copy_log, source_ends, uniform_partitions, CopyError, TopicCopy};
