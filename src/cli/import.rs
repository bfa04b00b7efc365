//! Arguments of `reprise import`.

use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Import an .ics file (one event per object, split by UID).
    Calendar(ImportArgs),
    /// Import a .vcf file (one event per card).
    Contacts(ImportArgs),
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The owner: `login@domain`, or a login that exists in one domain.
    pub login: String,
    pub file: PathBuf,
    /// Target collection (created when missing); default `default`.
    #[arg(long, env = "REPRISE_COLLECTION", default_value = "default")]
    pub collection: String,
}
