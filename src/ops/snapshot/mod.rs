//! `reprise snapshot create|restore`: a consistent copy of the served
//! projection versions in one file, so that a data directory that lost its
//! views (or a new one over the same log, or a clone of it) starts from the
//! snapshot's positions and replays only the log's tail instead of all of it.
//!
//! The file (`format`) is checked as a whole before anything is restored,
//! and its anchors tie it to the log it was taken on (`anchors`), so a
//! clone of that log is a valid target and another log is not.
//!
//! `format`: the file; `anchors`: what ties it to its log; `create` and
//! `restore`: the two operations, over opened handles and a `Config`.

mod anchors;
pub mod create;
pub mod format;
pub mod restore;

pub use create::{create, served_versions, CreateRequest, Created, Held};
pub use format::{
    header_of, record_digest, scan, scan_bytes, Anchor, Header, Scanned, SnapshotError,
    SnapshotWriter, VersionInfo, VersionSummary, FORMAT,
};
pub use restore::{restore, Restored};

use projections::registry;

/// The projection versions this build knows, `name@version, ...`, for
/// the errors that refuse others.
fn known() -> String {
    registry::known()
        .iter()
        .map(|p| format!("{}@{}", p.name(), p.version()))
        .collect::<Vec<_>>()
        .join(", ")
}
