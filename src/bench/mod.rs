//! `reprise bench rebuild`: writes a synthetic log (see
//! [`crate::bench::synthetic`]; with `--users N`, an installation of N users set
//! up at its start), rebuilds every projection from it, and prints
//! figures. Only the rebuild is timed; the last line of standard output is
//! one JSON object:
//!
//! `{"events":N,"seconds":S,"events_per_s":R,"peak_rss_mb":M,"views_bytes":V,"log_bytes":L}`
//!
//! where `events` is what the projections applied, `peak_rss_mb` the
//! peak resident memory of the whole process (`VmHWM`), write phase
//! included, and the sizes what the views and the embedded log occupy on
//! disk (`du`; the log is 0 on Kafka). The figures are printed by the
//! command line; this runs the benchmark and measures.

pub mod synthetic;

use crate::config::Config;
use crate::ops::rebuild::Rebuilt;
use crate::ops::rebuild::{Advance, Progress};
use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use synthetic::Written;

/// A directory the benchmark made for itself, removed when dropped.
struct Scratch {
    path: PathBuf,
    remove: bool,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.remove {
            if let Err(e) = std::fs::remove_dir_all(&self.path) {
                eprintln!("could not remove {}: {e}", self.path.display());
            }
        }
    }
}

/// `reprise-bench-<pid>-<millis>`: unique per run on one machine.
fn run_name() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("reprise-bench-{}-{millis}", std::process::id())
}

/// Uses `dir` (which must be empty or missing), or makes a temporary one.
fn prepare_dir(dir: Option<&Path>, name: &str) -> anyhow::Result<Scratch> {
    match dir {
        Some(dir) => {
            if let Ok(mut entries) = std::fs::read_dir(dir) {
                if entries.next().is_some() {
                    bail!(
                        "{} is not empty; the benchmark writes a fresh log and views, so give it an \
                         empty or missing directory",
                        dir.display()
                    );
                }
            }
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            Ok(Scratch {
                path: dir.to_path_buf(),
                remove: false,
            })
        }
        None => {
            let path = std::env::temp_dir().join(name);
            std::fs::create_dir(&path).with_context(|| format!("creating {}", path.display()))?;
            Ok(Scratch { path, remove: true })
        }
    }
}

/// The peak resident set size of this process, in MiB (`VmHWM`).
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

pub fn rate(events: u64, elapsed: Duration) -> f64 {
    events as f64 / elapsed.as_secs_f64().max(1e-9)
}

pub fn human_bytes(bytes: u64) -> String {
    let mb = bytes as f64 / (1024.0 * 1024.0);
    if mb >= 1024.0 {
        format!("{:.2} GiB", mb / 1024.0)
    } else {
        format!("{mb:.1} MiB")
    }
}

/// What `bench rebuild` is asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    /// Events to write.
    pub events: u64,
    /// Users of the synthetic installation, all set up at its start (see
    /// [`synthetic::Synthetic::with_users`]).
    pub users: Option<u64>,
    /// Seed of the generator.
    pub seed: u64,
    /// Events per rebuild batch.
    pub batch_size: usize,
    /// Where to put the log and views, kept afterwards (default: a
    /// temporary directory, removed).
    pub dir: Option<PathBuf>,
    /// Threads per projection.
    pub workers: usize,
    /// Percent of new calendar objects that are meetings with users of
    /// the directory, followed by their scheduling effects.
    pub scheduling: u64,
}

/// What the write phase tells the operator as it goes.
pub enum Step<'a> {
    /// On Kafka, the topics the benchmark writes (and leaves in place).
    Kafka {
        brokers: &'a str,
        prefix: &'a str,
    },
    Writing {
        log: &'a str,
    },
    /// Events written so far (every 5 s, when no progress is drawn).
    Written {
        events: u64,
    },
    WriteDone {
        events: u64,
        seconds: f64,
        peak_rss_mb: Option<f64>,
    },
    /// The log ends before every user asked for is set up.
    TooFewEvents {
        users: u64,
        set_up: u64,
    },
}

/// The figures of one run.
#[derive(Clone, Debug)]
pub struct Report {
    pub written: Written,
    pub write_time: Duration,
    pub results: Vec<Rebuilt>,
    /// The rebuild's time: the result.
    pub rebuild_time: Duration,
    pub views_bytes: u64,
    pub log_bytes: u64,
    /// Peak resident memory of the process, write phase included.
    pub peak_rss_mb: Option<f64>,
}

impl Report {
    /// Events the projections applied.
    pub fn events(&self) -> u64 {
        self.results.iter().map(|r| r.events).sum()
    }

    pub fn quarantined(&self) -> u64 {
        self.results.iter().map(|r| r.quarantined).sum()
    }
}

/// Writes a synthetic log into a fresh data directory on `config`'s log
/// (its data directory and topic prefix replaced), rebuilds every
/// projection from it, and measures; `report` hears the write phase.
pub async fn rebuild(
    config: &Config,
    opts: &Options,
    progress: &dyn Progress,
    mut report: impl FnMut(Step<'_>),
) -> anyhow::Result<Report> {
    if opts.events == 0 {
        bail!("--events must be at least 1");
    }
    let name = run_name();
    // Declared first, so it is dropped (and the directory removed) after
    // the log and the views are closed.
    let scratch = prepare_dir(opts.dir.as_deref(), &name)?;

    // The directory is a data directory like any other, so the usual
    // tools (`reprise --data-dir DIR projections status`...) work on it.
    let mut data = config.clone();
    data.data_dir = scratch.path.clone();
    data.topic_prefix = name.clone();
    data.prepare_data_dir()?;
    let log = data.open_log().await?;
    if let Some(brokers) = &config.kafka_brokers {
        report(Step::Kafka {
            brokers,
            prefix: &name,
        });
    }
    report(Step::Writing {
        log: &log.describe(),
    });

    // Write phase.
    let mut advance = Advance::start(progress, "write", 0, opts.events);
    let started = Instant::now();
    let summary = crate::bench::synthetic::write(
        log.as_ref(),
        opts.seed,
        opts.events,
        opts.users,
        opts.scheduling,
        |n| advance.set(n, |events| report(Step::Written { events })),
    )
    .await
    .context("writing the synthetic log")?;
    advance.clear();
    let write_time = started.elapsed();
    report(Step::WriteDone {
        events: summary.events,
        seconds: write_time.as_secs_f64(),
        peak_rss_mb: peak_rss_mb(),
    });
    if let Some(users) = opts.users.filter(|&users| summary.users < users) {
        report(Step::TooFewEvents {
            users,
            set_up: summary.users,
        });
    }

    // Rebuild phase: the only one timed for the result.
    let store = data.open_views()?;
    let projections = projections::registry::current();
    let rebuild_opts = crate::ops::rebuild::Options {
        batch_size: opts.batch_size,
        workers: opts.workers,
        stop_after_batches: None,
        payloads: None,
    };
    let started = Instant::now();
    let results =
        crate::ops::rebuild::rebuild(log.clone(), &store, &projections, &rebuild_opts, progress)
            .await
            .context("rebuilding the projections")?;
    let rebuild_time = started.elapsed();

    // Measured once the engine compacted what the rebuild left queued (not
    // timed): right after it, overlapping tables waiting for compaction
    // can count the same rows twice.
    store.wait_idle(std::time::Duration::from_secs(120));
    let views_bytes = store.size_on_disk().context("measuring the views")?;
    // The embedded log's size (none on Kafka).
    let log_dir = data.data_dir.join("log");
    let log_bytes = if log_dir.is_dir() {
        events::storage::size_on_disk(&log_dir).context("measuring the log")?
    } else {
        0
    };
    let peak_rss_mb = peak_rss_mb();
    // Close the log and the views before the directory goes.
    drop(store);
    drop(log);
    drop(scratch);
    Ok(Report {
        written: summary,
        write_time,
        results,
        rebuild_time,
        views_bytes,
        log_bytes,
        peak_rss_mb,
    })
}
