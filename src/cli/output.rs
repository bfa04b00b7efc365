//! Output choices several commands share.

use clap::Args;

#[derive(Args, Debug)]
pub struct JsonFlag {
    /// Print JSON instead of a table.
    #[arg(long, env = "REPRISE_JSON")]
    pub json: bool,
}
