//! `reprise import calendar|contacts FILE`: into the data directory, or
//! through a running server with `--server`.

use super::target::{operations, ImportFile};
use super::LogArgs;
use crate::ops::import::{parse, ImportKind};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

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

pub async fn run(args: &LogArgs, cmd: ImportCommand) -> anyhow::Result<ExitCode> {
    let (kind, a) = match cmd {
        ImportCommand::Calendar(a) => (ImportKind::Calendar, a),
        ImportCommand::Contacts(a) => (ImportKind::Contacts, a),
    };
    let source = a.file.display().to_string();
    let text = std::fs::read_to_string(&a.file)
        .map_err(|e| anyhow::anyhow!("{source}: cannot read: {e}"))?;
    // Parse before touching the data directory: a bad file changes nothing.
    let items = parse(kind, &text, &source)?;
    let report = operations(args)?
        .import(ImportFile {
            kind,
            owner: a.login,
            collection: a.collection,
            source,
            text,
            items,
        })
        .await?;
    println!(
        "imported {} object(s) into {}/{}{}",
        report.applied,
        report.owner,
        report.collection,
        if report.rejected.is_empty() {
            String::new()
        } else {
            format!(", {} rejected:", report.rejected.len())
        }
    );
    for r in &report.rejected {
        println!("  {r}");
    }
    Ok(if report.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
