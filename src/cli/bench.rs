//! Arguments of `reprise bench`.

use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Write a synthetic log, rebuild every projection, print figures.
    Rebuild(BenchRebuildArgs),
}

#[derive(Args, Debug)]
pub struct BenchRebuildArgs {
    /// Events to write.
    #[arg(long, env = "REPRISE_BENCH_EVENTS", default_value_t = 100_000)]
    pub events: u64,
    /// Users of the synthetic installation, all set up at the start of the
    /// log (about five events each) in up to 20 domains, with groups and
    /// shares (default: one user per 500 events, joining over time, in up
    /// to 8 domains, as logs written before this option).
    #[arg(
        long,
        env = "REPRISE_BENCH_USERS",
        value_parser = clap::value_parser!(u64).range(1..=crate::bench::synthetic::MAX_USERS)
    )]
    pub users: Option<u64>,
    /// Seed of the generator (same seed, same log).
    #[arg(long, env = "REPRISE_BENCH_SEED", default_value_t = 42)]
    pub seed: u64,
    /// Events per rebuild batch.
    #[arg(long, env = "REPRISE_BATCH_SIZE", default_value_t = 2000)]
    pub batch_size: usize,
    /// Where to put the benchmark's log and views (default: a temporary directory).
    #[arg(long, env = "REPRISE_BENCH_DIR")]
    pub dir: Option<PathBuf>,
    /// Threads per projection, as `rebuild --workers` (default: the cores).
    #[arg(long, env = "REPRISE_WORKERS")]
    pub workers: Option<usize>,
}
