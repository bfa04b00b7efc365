//! Arguments of `reprise projections`.

use super::output::JsonFlag;
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum ProjectionsCommand {
    /// Versions present, which is live, positions, lag and quarantine.
    Status(JsonFlag),
    /// A digest of each version's view contents (identical for identical logs).
    Digest(JsonFlag),
    /// Events a projection refused, with their position and reason.
    Quarantine(JsonFlag),
}
