//! `reprise data-dir convert`: brings a data directory written by
//! reprise's first, sled-based build (format 1) to the current format.
//!
//! The log is copied record by record into a new embedded log (same
//! topics, partitions, offsets, keys, headers, timestamps: the copy of
//! `reprise clone`, [`crate::ops::recovery::copy_log`], which checks every
//! position), so every ETag, ctag, sync token, seen modseq and file ETag a
//! client holds stays valid; then the views are built from it. The old
//! files are moved, never deleted, to `sled-era/`.
//!
//! Every step leaves a state the next run recognises, so a conversion
//! stopped at any point is run again:
//!
//! ```text
//! log/ sled                      copy into log.converting/ (restarted from scratch)
//! log/ sled, copy complete       log/ → sled-era/log/, views/ (sled) → sled-era/views/
//! no log/, log.converting/       log.converting/ → log/
//! log/ and views/ not sled       marker: format 2
//! format 2                       build (or resume) the views
//! ```
//!
//! On Kafka there is no embedded log: only the views move aside and are
//! built again from the topics.

use crate::cli::ConvertArgs;
use crate::cli::LogArgs;
use crate::config::{self, DataDirFormat, DATA_DIR_FORMAT};
use crate::ops::recovery::{copy_log, source_ends, uniform_partitions, Bounds};
use anyhow::{bail, Context};
use events::log::{sled_era, EmbeddedLog, SledEraLog, TopicPartition};
use events::storage::{inspect, Found};
use events::EventLog;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

/// Where the sled-era files are kept, in the data directory.
pub const SLED_ERA: &str = "sled-era";
/// The new log while it is being copied.
const CONVERTING: &str = "log.converting";
/// Scratch copies of the sled-era databases, which sled opens.
const READING: &str = "sled-era.reading";

/// A scratch directory, emptied when made and removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(path: std::path::PathBuf) -> anyhow::Result<Scratch> {
        if path.exists() {
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("removing {}", path.display()))?;
        }
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Scratch(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            eprintln!("could not remove {}: {e}", self.0.display());
        }
    }
}

/// Copies a directory tree (a sled database: files and `blobs/`).
fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry.with_context(|| format!("reading {}", from.display()))?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).with_context(|| {
                format!("copying {} to {}", entry.path().display(), target.display())
            })?;
        }
    }
    Ok(())
}

pub async fn run(args: &LogArgs, opts: ConvertArgs) -> anyhow::Result<ExitCode> {
    if args.server.is_some() {
        bail!("data-dir convert works on a stopped data directory; stop the server first");
    }
    let dir = &args.data_dir;
    match config::data_dir_format(dir)? {
        DataDirFormat::New => bail!(
            "{} holds no data directory; nothing to convert",
            dir.display()
        ),
        DataDirFormat::Format(1) => convert_files(args, opts.batch_size).await?,
        DataDirFormat::Format(DATA_DIR_FORMAT) => {
            println!("{} is already in format {DATA_DIR_FORMAT}", dir.display());
        }
        DataDirFormat::Format(newer) => bail!(
            "{} is a data directory of format {newer}, newer than this build reads \
             (format {DATA_DIR_FORMAT}); nothing to convert",
            dir.display()
        ),
    }
    build_views(args, opts.batch_size).await?;
    if dir.join(SLED_ERA).exists() {
        println!(
            "the sled-era files are kept in {}; remove them once the converted installation \
             has served you well",
            dir.join(SLED_ERA).display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Moves a format 1 directory to format 2: the log copied, the old
/// databases moved aside, the marker rewritten last.
async fn convert_files(args: &LogArgs, batch_size: usize) -> anyhow::Result<()> {
    let dir = &args.data_dir;
    let (log, views) = (dir.join("log"), dir.join("views"));
    let (staging, old) = (dir.join(CONVERTING), dir.join(SLED_ERA));
    let found = |path: &Path| {
        inspect(path).map_err(|reason| anyhow::anyhow!("{}: {reason}", path.display()))
    };
    if found(&log)? == Found::SledEra {
        // sled rewrites files as it opens a database (its snapshot, a torn
        // tail), so it only ever opens copies: the originals stay exactly
        // as the old build left them.
        let scratch = Scratch::new(dir.join(READING))?;
        copy_dir(&log, &scratch.0.join("log"))?;
        // What the old views had applied proves how long the log was.
        let applied = if found(&views)? == Found::SledEra {
            copy_dir(&views, &scratch.0.join("views"))?;
            sled_era::applied_by_views(&scratch.0.join("views")).with_context(|| {
                format!(
                    "reading the sled-era views {} to check the log against them (nothing was \
                     changed; if only the views are damaged, move {} away and convert again)",
                    views.display(),
                    views.display()
                )
            })?
        } else {
            BTreeMap::new()
        };
        copy_sled_log(&scratch.0.join("log"), &log, &staging, &applied, batch_size).await?;
        drop(scratch);
        std::fs::create_dir_all(&old).with_context(|| format!("creating {}", old.display()))?;
        rename(&log, &old.join("log"))?;
    }
    if found(&views)? == Found::SledEra {
        std::fs::create_dir_all(&old).with_context(|| format!("creating {}", old.display()))?;
        rename(&views, &old.join("views"))?;
    }
    if staging.exists() {
        if log.exists() {
            // A copy that never finished: the sled log is still in place.
            bail!(
                "{} and {} both exist: remove {} (an unfinished copy) and run the conversion again",
                log.display(),
                staging.display(),
                staging.display()
            );
        }
        rename(&staging, &log)?;
    }
    for path in [&log, &views] {
        if let Found::Other(names) = found(path)? {
            bail!(
                "{} holds files this build does not recognise ({}); refusing to convert",
                path.display(),
                names.join(", ")
            );
        }
    }
    config::write_data_dir_marker(dir)?;
    println!(
        "{} is now a data directory of format {DATA_DIR_FORMAT}",
        dir.display()
    );
    Ok(())
}

/// Copies the sled-era log at `from` (a scratch copy of `original`)
/// into a new log at `to`, whole, partition by partition at the same
/// offsets; an earlier unfinished copy is discarded first, and this one
/// is removed again if it fails.
async fn copy_sled_log(
    from: &Path,
    original: &Path,
    to: &Path,
    applied: &BTreeMap<TopicPartition, u64>,
    batch_size: usize,
) -> anyhow::Result<()> {
    if to.exists() {
        std::fs::remove_dir_all(to)
            .with_context(|| format!("removing the unfinished copy {}", to.display()))?;
    }
    let source = SledEraLog::open(from).with_context(|| {
        format!(
            "reading the sled-era log {} (nothing was changed)",
            original.display()
        )
    })?;
    sled_era::check_against_views(&source, applied).with_context(|| {
        format!(
            "checking the sled-era log {} (nothing was changed)",
            original.display()
        )
    })?;
    let copied = copy_records(source, to, original, batch_size).await;
    if copied.is_err() {
        let _ = std::fs::remove_dir_all(to);
    }
    copied
}

async fn copy_records(
    source: SledEraLog,
    to: &Path,
    original: &Path,
    batch_size: usize,
) -> anyhow::Result<()> {
    let source: std::sync::Arc<dyn EventLog> = std::sync::Arc::new(source);
    let ends = source_ends(source.clone()).await?;
    let partitions = uniform_partitions(source.as_ref())?;
    let dest = EmbeddedLog::open(to, Some(partitions))?;
    let total: u64 = ends.values().sum();
    println!(
        "copying the sled-era log {} ({total} records) into {}",
        original.display(),
        to.display()
    );
    let started = Instant::now();
    let copied = copy_log(
        source.as_ref(),
        &dest,
        &ends,
        &Bounds::default(),
        batch_size,
        |_| {},
    )
    .await
    .with_context(|| {
        format!(
            "copying {} (the sled-era log is unchanged)",
            original.display()
        )
    })?;
    let events: u64 = copied.iter().map(|t| t.events).sum();
    if events != total {
        bail!("copied {events} records of {total}; the sled-era log is unchanged");
    }
    println!(
        "copied {events} records in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn rename(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::rename(from, to)
        .with_context(|| format!("moving {} to {}", from.display(), to.display()))
}

/// Builds (or resumes) every projection this build serves, as `serve`
/// would before it is ready.
async fn build_views(args: &LogArgs, batch_size: usize) -> anyhow::Result<()> {
    let log = args.open_log().await?;
    let store = args.open_views()?;
    let opts = crate::ops::rebuild::Options {
        batch_size,
        ..Default::default()
    };
    let started = Instant::now();
    let mut pending = Vec::new();
    for p in projections::registry::current() {
        let id = projections::ProjectionId::new(p.name(), p.version());
        if store.state(&id)? != Some(projections::BuildState::Ready) {
            pending.push(p);
        }
    }
    if pending.is_empty() {
        return Ok(());
    }
    let results = crate::ops::rebuild::rebuild(
        log,
        &store,
        &pending,
        &opts,
        std::io::stderr().is_terminal(),
    )
    .await?;
    if let Some(r) = results.iter().find(|r| !r.complete) {
        bail!(
            "building {} did not complete; run the conversion again",
            r.id
        );
    }
    let events: u64 = results.iter().map(|r| r.events).sum();
    println!(
        "built {} view(s) from {events} events in {:.2} s",
        results.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
