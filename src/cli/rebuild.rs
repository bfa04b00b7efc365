//! Arguments of `reprise rebuild`.

use super::recovery::BoundArgs;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct RebuildArgs {
    /// Only this projection (directory, calendars, contacts, seen).
    #[arg(long, env = "REPRISE_PROJECTION")]
    pub projection: Option<String>,
    /// Only this version (must be one this build can build).
    #[arg(long, env = "REPRISE_VERSION")]
    pub version: Option<u32>,
    /// Stop after applying this many batches per projection, leaving the
    /// build resumable (the next `rebuild` resumes it): for testing
    /// interrupted rebuilds.
    #[arg(long, env = "REPRISE_STOP_AFTER_BATCHES", hide_short_help = true)]
    pub stop_after_batches: Option<u64>,
    /// Events per batch.
    #[arg(long, env = "REPRISE_BATCH_SIZE", default_value_t = 2000)]
    pub batch_size: usize,
    /// Threads that apply the partitions of one projection's batch
    /// (default: the machine's cores). The views are the same whatever
    /// the number.
    #[arg(long, env = "REPRISE_WORKERS")]
    pub workers: Option<usize>,
}

impl RebuildArgs {
    /// The rebuild these flags ask for.
    pub fn options(&self) -> crate::ops::rebuild::Options {
        crate::ops::rebuild::Options {
            batch_size: self.batch_size,
            workers: self
                .workers
                .unwrap_or_else(crate::ops::rebuild::default_workers),
            stop_after_batches: self.stop_after_batches,
        }
    }
}

/// `rebuild`: the projection flags, and the point-in-time ones.
#[derive(Args, Debug)]
pub struct RebuildCommand {
    #[command(flatten)]
    pub args: RebuildArgs,
    #[command(flatten)]
    pub bounds: BoundArgs,
    /// Copy this data directory's log (or the --server's, or Kafka's) into
    /// DIR, a new data directory, up to --until/--until-offsets, and build
    /// DIR's views there. The live views are never rewritten to the past:
    /// the bounds need --into.
    #[arg(long, value_name = "DIR", env = "REPRISE_INTO")]
    pub into: Option<PathBuf>,
}
