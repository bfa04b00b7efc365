//! The admin API under `/admin/v1`: the directory, operations and the
//! cluster hand-over.

pub mod cluster;
pub mod directory;
pub mod operations;
pub mod snapshot;
