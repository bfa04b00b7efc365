//! `reprise data-dir convert`: the conversion is `ops::convert`; this
//! checks the flags and prints its steps.

use crate::cli::LogArgs;
use crate::config::DATA_DIR_FORMAT;
use crate::ops::convert::{Options, Step};
use anyhow::bail;
use clap::{Args, Subcommand};
use std::process::ExitCode;

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

/// `reprise data-dir convert`.
pub async fn convert(args: &LogArgs, opts: ConvertArgs) -> anyhow::Result<ExitCode> {
    if args.server.is_some() {
        bail!("data-dir convert works on a stopped data directory; stop the server first");
    }
    let opts = Options {
        batch_size: opts.batch_size,
    };
    crate::ops::convert::convert(
        &args.config()?,
        &opts,
        &*super::progress::on_stderr(),
        |step| match step {
            Step::AlreadyCurrent { dir } => {
                println!("{} is already in format {DATA_DIR_FORMAT}", dir.display())
            }
            Step::Copying { from, to, records } => println!(
                "copying the sled-era log {} ({records} records) into {}",
                from.display(),
                to.display()
            ),
            Step::Copied { records, seconds } => {
                println!("copied {records} records in {seconds:.2} s")
            }
            Step::Converted { dir } => println!(
                "{} is now a data directory of format {DATA_DIR_FORMAT}",
                dir.display()
            ),
            Step::Built {
                views,
                events,
                seconds,
            } => println!("built {views} view(s) from {events} events in {seconds:.2} s"),
            Step::SledEraKept { dir } => println!(
                "the sled-era files are kept in {}; remove them once the converted installation \
             has served you well",
                dir.display()
            ),
        },
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}
