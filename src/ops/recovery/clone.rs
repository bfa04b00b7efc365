//! A copy of a log into a new data directory, then that directory's views
//! built from it: what `clone` and `rebuild --into` do once their source
//! is open. The destination is checked and the bounds parsed before
//! anything is written; on any failure what was written is removed again.

use super::bounds::{parse_bounds, BoundSpec, Bounds};
use super::copy::{copy_log, source_ends, uniform_partitions, TopicCopy};
use crate::config::Config;
use crate::ops::rebuild::Progress;
use anyhow::{bail, Context};
use events::log::{EmbeddedLog, TopicPartition};
use events::EventLog;
use projections::registry;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// A destination that cannot take a copy.
#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    #[error(
        "{0} is not empty; a copy goes into a new or empty data directory \
         (it never merges into an existing installation)"
    )]
    NotEmpty(String),
    #[error("{0} is a file, not a directory")]
    File(String),
    #[error("reading {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Checks that `path` is new or an empty directory; true when it is new.
pub fn check_destination(path: &Path) -> Result<bool, DestinationError> {
    match std::fs::read_dir(path) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(DestinationError::NotEmpty(path.display().to_string()));
            }
            Ok(false)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            Err(DestinationError::File(path.display().to_string()))
        }
        Err(source) => Err(DestinationError::Read {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// Whether two paths name one directory (as written, when either is missing).
pub fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// A destination data directory being written: removed again unless the
/// copy finishes, so that a failed copy leaves nothing behind.
struct Destination {
    path: PathBuf,
    /// Whether the directory itself was made here (else it existed empty).
    made: bool,
    keep: bool,
}

impl Drop for Destination {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let result = if self.made {
            std::fs::remove_dir_all(&self.path)
        } else {
            std::fs::read_dir(&self.path).and_then(|entries| {
                for entry in entries.flatten() {
                    let path = entry.path();
                    if path.is_dir() {
                        std::fs::remove_dir_all(&path)?;
                    } else {
                        std::fs::remove_file(&path)?;
                    }
                }
                Ok(())
            })
        };
        // A drop cannot return it, and the operator must know what is left.
        if let Err(e) = result {
            eprintln!(
                "could not remove the unfinished copy in {}: {e}",
                self.path.display()
            );
        }
    }
}

/// What a copy is asked to do.
pub struct CopyPlan<'a> {
    pub source: Arc<dyn EventLog>,
    /// The new data directory.
    pub dest: &'a Path,
    pub bounds: &'a BoundSpec,
    pub batch_size: usize,
    /// Build the views after copying the log.
    pub build_views: bool,
    /// The storage engine's memory in the new directory (`--cache-size`).
    pub cache_size: u64,
    /// Where the rebuild's advance is shown.
    pub progress: &'a dyn Progress,
}

/// What a copy has done so far, for the operator.
pub enum Step<'a> {
    /// The copy starts.
    Copying {
        source: &'a str,
        dest: &'a str,
        partitions: u32,
        bounds: &'a Bounds,
    },
    /// Records copied so far, of at most `total`.
    Progress { copied: u64, total: u64 },
    /// The log is copied.
    Copied {
        events: u64,
        seconds: f64,
        topics: &'a [TopicCopy],
    },
    /// Done without views, as asked.
    LogOnly { dir: &'a Path },
    /// The views are built: the copy is complete.
    Built {
        projections: usize,
        events: u64,
        quarantined: u64,
        seconds: f64,
        dir: &'a Path,
    },
}

/// Copies the log, then builds the views; `report` hears each step. The
/// destination is checked (new or empty) and the bounds parsed before
/// anything is written; on any failure the destination is removed again.
pub async fn copy_into(plan: CopyPlan<'_>, mut report: impl FnMut(Step<'_>)) -> anyhow::Result<()> {
    let made = check_destination(plan.dest)?;
    let source = plan.source.clone();
    // Taken first: the copy stops there even when the source keeps growing.
    let ends = source_ends(source.clone())
        .await
        .with_context(|| format!("reading the ends of the {}", source.describe()))?;
    let bounds = parse_bounds(plan.bounds, source.as_ref(), &ends)?;
    let partitions = uniform_partitions(source.as_ref())?;

    let mut guard = Destination {
        path: plan.dest.to_path_buf(),
        made,
        keep: false,
    };
    let dest = Config {
        partitions: Some(partitions),
        cache_size: plan.cache_size,
        ..Config::new(plan.dest)
    };
    let result = copy_and_build(&dest, source, &ends, &bounds, &plan, &mut report).await;
    if result.is_ok() {
        guard.keep = true;
    }
    drop(guard);
    result
}

async fn copy_and_build(
    config: &Config,
    source: Arc<dyn EventLog>,
    ends: &BTreeMap<TopicPartition, u64>,
    bounds: &Bounds,
    plan: &CopyPlan<'_>,
    report: &mut impl FnMut(Step<'_>),
) -> anyhow::Result<()> {
    config.prepare_data_dir()?;
    let dest_log = EmbeddedLog::open_with(
        &config.data_dir.join("log"),
        config.partitions,
        config.memory().0,
    )?;
    let dest: Arc<dyn EventLog> = Arc::new(dest_log);
    let total: u64 = ends.values().sum();
    report(Step::Copying {
        source: &source.describe(),
        dest: &dest.describe(),
        partitions: config.partitions.unwrap_or(0),
        bounds,
    });
    let started = Instant::now();
    let copied = copy_log(
        source.as_ref(),
        dest.as_ref(),
        ends,
        bounds,
        plan.batch_size,
        |copied| report(Step::Progress { copied, total }),
    )
    .await?;
    report(Step::Copied {
        events: copied.iter().map(|t| t.events).sum(),
        seconds: started.elapsed().as_secs_f64(),
        topics: &copied,
    });
    if !plan.build_views {
        report(Step::LogOnly {
            dir: &config.data_dir,
        });
        return Ok(());
    }
    let store = config.open_views()?;
    let opts = crate::ops::rebuild::Options {
        batch_size: plan.batch_size,
        // The copy's bodies over the inline limit are in its store.
        payloads: Some(objects::payload_source(
            config.open_objects()?,
            tokio::runtime::Handle::current(),
        )),
        ..Default::default()
    };
    let started = Instant::now();
    let results = crate::ops::rebuild::rebuild(
        dest.clone(),
        &store,
        &registry::current(),
        &opts,
        plan.progress,
    )
    .await?;
    store.close()?;
    if let Some(r) = results.iter().find(|r| !r.complete) {
        bail!("building {} in the copy did not complete", r.id);
    }
    report(Step::Built {
        projections: results.len(),
        events: results.iter().map(|r| r.events).sum(),
        quarantined: results.iter().map(|r| r.quarantined).sum(),
        seconds: started.elapsed().as_secs_f64(),
        dir: &config.data_dir,
    });
    drop(store);
    Ok(())
}
