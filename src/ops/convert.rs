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

use crate::config::{self, Config, DataDirFormat, DATA_DIR_FORMAT, SLED_ERA};
use crate::ops::rebuild::Progress;
use crate::ops::recovery::{copy_log, source_ends, uniform_partitions, Bounds};
use anyhow::{bail, Context};
use events::log::{sled_era, EmbeddedLog, SledEraLog, TopicPartition};
use events::storage::{inspect, Found};
use events::EventLog;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

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

/// What a conversion has done so far, for the operator.
pub enum Step<'a> {
    /// The directory is of this build's format already.
    AlreadyCurrent {
        dir: &'a Path,
    },
    /// The sled-era log is being copied.
    Copying {
        from: &'a Path,
        to: &'a Path,
        records: u64,
    },
    Copied {
        records: u64,
        seconds: f64,
    },
    /// The files are converted; the views come next.
    Converted {
        dir: &'a Path,
    },
    Built {
        views: usize,
        events: u64,
        seconds: f64,
    },
    /// Done; the old files are kept there.
    SledEraKept {
        dir: &'a Path,
    },
}

/// How a conversion runs.
pub struct Options {
    /// Records per copied batch and events per view batch.
    pub batch_size: usize,
}

/// Converts the data directory of `config` (stopped) to this build's
/// format and builds its views; `report` hears each step.
pub async fn convert(
    config: &Config,
    opts: &Options,
    progress: &dyn Progress,
    mut report: impl FnMut(Step<'_>),
) -> anyhow::Result<()> {
    let dir = &config.data_dir;
    match config::data_dir_format(dir)? {
        DataDirFormat::New => bail!(
            "{} holds no data directory; nothing to convert",
            dir.display()
        ),
        DataDirFormat::Format(1) => convert_files(config, opts.batch_size, &mut report).await?,
        DataDirFormat::Format(DATA_DIR_FORMAT) => report(Step::AlreadyCurrent { dir }),
        DataDirFormat::Format(newer) => bail!(
            "{} is a data directory of format {newer}, newer than this build reads \
             (format {DATA_DIR_FORMAT}); nothing to convert",
            dir.display()
        ),
    }
    build_views(config, opts, progress, &mut report).await?;
    if dir.join(SLED_ERA).exists() {
        report(Step::SledEraKept {
            dir: &dir.join(SLED_ERA),
        });
    }
    Ok(())
}

/// Moves a format 1 directory to format 2: the log copied, the old
/// databases moved aside, the marker rewritten last.
async fn convert_files(
    config: &Config,
    batch_size: usize,
    report: &mut impl FnMut(Step<'_>),
) -> anyhow::Result<()> {
    let dir = &config.data_dir;
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
        copy_sled_log(
            &scratch.0.join("log"),
            &log,
            &staging,
            &applied,
            batch_size,
            report,
        )
        .await?;
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
    report(Step::Converted { dir });
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
    report: &mut impl FnMut(Step<'_>),
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
    let copied = copy_records(source, to, original, batch_size, report).await;
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
    report: &mut impl FnMut(Step<'_>),
) -> anyhow::Result<()> {
    let source: std::sync::Arc<dyn EventLog> = std::sync::Arc::new(source);
    let ends = source_ends(source.clone()).await?;
    let partitions = uniform_partitions(source.as_ref())?;
    let dest = EmbeddedLog::open(to, Some(partitions))?;
    let total: u64 = ends.values().sum();
    report(Step::Copying {
        from: original,
        to,
        records: total,
    });
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
    report(Step::Copied {
        records: events,
        seconds: started.elapsed().as_secs_f64(),
    });
    Ok(())
}

fn rename(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::rename(from, to)
        .with_context(|| format!("moving {} to {}", from.display(), to.display()))
}

/// Builds (or resumes) every projection this build serves, as `serve`
/// would before it is ready.
async fn build_views(
    config: &Config,
    opts: &Options,
    progress: &dyn Progress,
    report: &mut impl FnMut(Step<'_>),
) -> anyhow::Result<()> {
    let log = config.open_log().await?;
    let store = config.open_views()?;
    let rebuild = crate::ops::rebuild::Options {
        batch_size: opts.batch_size,
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
    let results = crate::ops::rebuild::rebuild(log, &store, &pending, &rebuild, progress).await?;
    if let Some(r) = results.iter().find(|r| !r.complete) {
        bail!(
            "building {} did not complete; run the conversion again",
            r.id
        );
    }
    report(Step::Built {
        views: results.len(),
        events: results.iter().map(|r| r.events).sum(),
        seconds: started.elapsed().as_secs_f64(),
    });
    Ok(())
}
