//! Views materialised from the log.
//!
//! A [`Projection`] is a named, versioned, pure function from events to
//! writes on its own keyspace. The [`runner`] feeds it the log in batches
//! and commits each batch together with the new log positions in one atomic
//! write batch, so a crash resumes exactly where the view stopped. Each
//! `(name, version)` owns one keyspace of the view database (fjall,
//! `calendars@1`), so two versions of one projection can live side by side.
//!
//! The views here are the only place the rest of reprise reads from:
//! [`calendars`], [`contacts`], [`directory`], [`seen`] and [`files`]. Their read
//! types hide the storage engine behind [`store::ViewTree`].

mod attachments;
pub mod calendars;
mod collections;
pub mod contacts;
pub mod directory;
pub mod files;
pub mod outcome;
pub mod projection;
pub mod registry;
pub mod runner;
pub mod scheduling;
pub mod seen;
pub mod snapshot_file;
pub mod store;
#[cfg(test)]
mod testing;
mod time_index;
pub mod view;

pub use outcome::{Outcome, Rejection};
pub use projection::{Applied, Projection};
pub use runner::{CatchUp, Runner, RunnerError};
pub use store::{BuildState, ProjectionId, StoreError, ViewStore};
