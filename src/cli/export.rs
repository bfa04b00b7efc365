//! `reprise export --user U --to DIR`: reads the export from a stopped
//! data directory or a running server (`--server`), writes the files.

use super::target::operations;
use super::LogArgs;
use crate::ops::export::Export;
use anyhow::{bail, Context};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The user: `login@domain`, an email, or a login that exists in one domain.
    #[arg(long, env = "REPRISE_EXPORT_USER")]
    pub user: String,
    /// A new or empty directory: DIR/calendars/NAME.ics, DIR/contacts/NAME.vcf.
    #[arg(long, value_name = "DIR", env = "REPRISE_EXPORT_TO")]
    pub to: PathBuf,
}

pub async fn run(args: &LogArgs, opts: ExportArgs) -> anyhow::Result<ExitCode> {
    let export = operations(args)?.export(&opts.user).await?;
    write_files(&export, &opts.to)?;
    println!("exported {} to {}:", export.principal, opts.to.display());
    for (folder, files) in [
        ("calendars", &export.calendars),
        ("contacts", &export.contacts),
    ] {
        for f in files {
            println!("  {folder}/{}  {} object(s)", f.file, f.objects);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes an export under `dir` (new or empty).
fn write_files(export: &Export, dir: &Path) -> anyhow::Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "{} is not empty; export writes into a new or empty directory",
                    dir.display()
                );
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    }
    for (folder, files) in [
        ("calendars", &export.calendars),
        ("contacts", &export.contacts),
    ] {
        let folder = dir.join(folder);
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("creating {}", folder.display()))?;
        for f in files {
            let path = folder.join(&f.file);
            std::fs::write(&path, &f.text)
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(())
}
