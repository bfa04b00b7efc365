//! `reprise snapshot create|restore`: offline on a stopped data
//! directory, or `create --server` written by the running server.

use super::target::operations;
use crate::cli::LogArgs;
use crate::ops::snapshot::restore;
use anyhow::bail;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum SnapshotCommand {
    /// Write every served projection version (live and ready), tree and
    /// catalogue state, to one checksummed file. With --server, the server
    /// writes it on its own machine, holding its views still meanwhile.
    Create(SnapshotCreateArgs),
    /// Restore a snapshot into the data directory, which must have no views
    /// yet and whose log must be the one the snapshot was taken from (or a
    /// clone of it); `serve` or `rebuild` then replay only the tail.
    Restore(SnapshotRestoreArgs),
}

#[derive(Args, Debug)]
pub struct SnapshotCreateArgs {
    /// The file to write (must not exist). With --server, a path on the
    /// server's machine; a relative one is made absolute here first.
    #[arg(long, value_name = "FILE", env = "REPRISE_SNAPSHOT_TO")]
    pub to: PathBuf,
}

#[derive(Args, Debug)]
pub struct SnapshotRestoreArgs {
    /// The snapshot file.
    pub file: PathBuf,
}

/// `reprise snapshot create|restore`.
pub async fn snapshot(args: &LogArgs, cmd: SnapshotCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SnapshotCommand::Create(opts) => {
            let created = operations(args)?.create_snapshot(&opts.to).await?;
            println!(
                "snapshot of {} written to {}: {} bytes, sha256 {}, in {:.2} s (views held {:.2} s)",
                created.log,
                created.file,
                created.bytes,
                created.sha256,
                created.seconds,
                created.held_seconds
            );
            for v in &created.versions {
                println!(
                    "  {:<14} {:>10} entries{}",
                    v.projection,
                    v.entries,
                    if v.live { ", live" } else { "" }
                );
            }
        }
        SnapshotCommand::Restore(opts) => {
            if args.server.is_some() {
                bail!(
                    "snapshot restore writes the data directory's views itself; it takes no --server \
                     (stop the server, or restore into another data directory)"
                );
            }
            let restored = restore(&args.config()?, &opts.file).await?;
            let s = &restored.scanned;
            println!(
                "restored {} projection version(s) from {} (taken {} on the {}) into {}",
                s.versions.len(),
                opts.file.display(),
                s.header.created,
                s.header.log,
                args.data_dir.join("views").display()
            );
            for (info, entries) in &s.versions {
                let applied: u64 = info.positions.iter().map(|p| p.2).sum();
                println!(
                    "  {:<14} {:>10} entries, {applied} events applied{}",
                    info.id().to_string(),
                    entries,
                    if info.live { ", live" } else { "" }
                );
            }
            println!(
                "{} events of the log are newer than the snapshot: `reprise serve` or `reprise rebuild` resumes \
                 from the stored positions and replays only those",
                restored.behind
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
