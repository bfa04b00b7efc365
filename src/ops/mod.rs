//! Operator commands: rebuilding, inspecting projections and the log,
//! import and export, recovery (copy, clone) and snapshots, data directory
//! conversion, the object store checked against the log. Each works on an opened log and views or a plain option
//! struct; the command line parses into them.

pub mod convert;
pub mod export;
pub mod import;
pub mod log;
pub mod objects;
pub mod projections;
pub mod rebuild;
pub mod recovery;
pub mod snapshot;
