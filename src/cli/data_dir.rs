//! Arguments of `reprise data-dir`.

use clap::{Args, Subcommand};

#[derive(Subcommand, Debug)]
pub enum DataDirCommand {
    /// Convert a data directory written by reprise's sled-based build
    /// (format 1): copy its log record by record into the current store
    /// (same offsets: ETags, sync tokens and modseqs stay valid), build the
    /// views, and keep the old files under `sled-era/`. Safe to run again
    /// after an interruption.
    Convert(ConvertArgs),
}

#[derive(Args, Debug)]
pub struct ConvertArgs {
    /// Records per copied batch and events per view batch.
    #[arg(long, env = "REPRISE_BATCH_SIZE", default_value_t = 2000)]
    pub batch_size: usize,
}
