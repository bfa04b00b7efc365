//! Arguments of `reprise export`.

use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The user: `login@domain`, an email, or a login that exists in one domain.
    #[arg(long, env = "REPRISE_EXPORT_USER")]
    pub user: String,
    /// A new or empty directory: DIR/calendars/NAME.ics, DIR/contacts/NAME.vcf.
    #[arg(long, value_name = "DIR", env = "REPRISE_EXPORT_TO")]
    pub to: PathBuf,
}
