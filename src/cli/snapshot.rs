//! Arguments of `reprise snapshot`.

use clap::{Args, Subcommand};
use std::path::PathBuf;

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
