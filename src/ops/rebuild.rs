//! `reprise rebuild`: build projection versions from offset 0 of the log.
//!
//! A version whose build was interrupted (state `building`) is resumed from
//! its stored positions; a finished one is dropped and built again. Each
//! projection runs on its own thread. Its advance goes to a [`Progress`]
//! the caller gives (the command line draws bars on a terminal); where
//! nothing is drawn, it goes to the log as plain lines.

use anyhow::Context;
use events::EventLog;
use projections::registry;
use projections::{BuildState, Projection, ProjectionId, Runner, ViewStore};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a rebuild runs.
#[derive(Clone)]
pub struct Options {
    /// Events per batch.
    pub batch_size: usize,
    /// Threads applying the partitions of one projection's batch.
    pub workers: usize,
    /// Stop after this many batches per projection, leaving the build
    /// resumable (for tests of interrupted rebuilds).
    pub stop_after_batches: Option<u64>,
    /// Where bodies kept in the object store are read; a log that has
    /// some cannot be rebuilt without it.
    pub payloads: Option<Arc<dyn events::PayloadSource>>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            batch_size: 2_000,
            workers: crate::engine::default_workers(),
            stop_after_batches: None,
            payloads: None,
        }
    }
}

/// Where a long task's advance is shown: the command line draws bars on
/// a terminal. Libraries only report to it, so they never draw.
pub trait Progress: Send + Sync {
    /// A task named `label` starts with `done` of `total` units done;
    /// `None` when nothing is drawn (the task logs lines instead).
    fn start(&self, label: &str, done: u64, total: u64) -> Option<Box<dyn Meter>>;
}

/// The advance of one task.
pub trait Meter: Send {
    /// Units done so far, counting those from before.
    fn set(&mut self, done: u64);
    /// Done: the meter stays, showing where it ended.
    fn finish(&mut self);
    /// Done: the meter goes away.
    fn clear(&mut self);
}

/// A task's advance: to its meter when one is drawn, else, at most every
/// 5 s, to a line the caller writes (so a log gets lines, not a flood).
pub struct Advance {
    meter: Option<Box<dyn Meter>>,
    last_line: Instant,
}

impl Advance {
    pub fn start(progress: &dyn Progress, label: &str, done: u64, total: u64) -> Advance {
        Advance {
            meter: progress.start(label, done, total),
            last_line: Instant::now(),
        }
    }

    /// `done` units done; `line` hears it when nothing is drawn.
    pub fn set(&mut self, done: u64, line: impl FnOnce(u64)) {
        match self.meter.as_mut() {
            Some(meter) => meter.set(done),
            None if self.last_line.elapsed() > Duration::from_secs(5) => {
                self.last_line = Instant::now();
                line(done);
            }
            None => {}
        }
    }

    /// Done, the meter kept showing where it ended.
    pub fn finish(mut self) {
        if let Some(meter) = self.meter.as_mut() {
            meter.finish();
        }
    }

    /// Done, the meter gone.
    pub fn clear(mut self) {
        if let Some(meter) = self.meter.as_mut() {
            meter.clear();
        }
    }
}

/// Draws nothing: rebuilds log their advance as lines.
pub struct Unseen;

impl Progress for Unseen {
    fn start(&self, _label: &str, _done: u64, _total: u64) -> Option<Box<dyn Meter>> {
        None
    }
}

/// What one rebuild did.
#[derive(Debug, Clone)]
pub struct Rebuilt {
    pub id: ProjectionId,
    pub events: u64,
    pub quarantined: u64,
    pub complete: bool,
    /// How long this projection took (they build side by side).
    pub seconds: f64,
}

/// No projection of this build matches what was asked for.
#[derive(Debug, thiserror::Error)]
#[error(
    "no projection matches{}{}; this build can build {known}",
    .projection.as_ref().map(|n| format!(" --projection {n}")).unwrap_or_default(),
    .version.map(|v| format!(" --version {v}")).unwrap_or_default()
)]
pub struct NoMatch {
    pub projection: Option<String>,
    pub version: Option<u32>,
    /// What this build can build, `name@version, ...`.
    pub known: String,
}

/// The projections of this build with that name and version (either
/// may be left open).
pub fn select(
    projection: Option<&str>,
    version: Option<u32>,
) -> Result<Vec<Arc<dyn Projection>>, NoMatch> {
    let chosen: Vec<_> = registry::current()
        .into_iter()
        .filter(|p| projection.is_none_or(|n| n == p.name()))
        .filter(|p| version.is_none_or(|v| v == p.version()))
        .collect();
    if chosen.is_empty() {
        let known: Vec<String> = registry::current()
            .iter()
            .map(|p| format!("{}@{}", p.name(), p.version()))
            .collect();
        return Err(NoMatch {
            projection: projection.map(str::to_string),
            version,
            known: known.join(", "),
        });
    }
    Ok(chosen)
}

/// Rebuilds the given projections in parallel, one thread each.
pub async fn rebuild(
    log: Arc<dyn EventLog>,
    store: &ViewStore,
    projections: &[Arc<dyn Projection>],
    opts: &Options,
    progress: &dyn Progress,
) -> anyhow::Result<Vec<Rebuilt>> {
    let mut jobs = Vec::new();
    for projection in projections {
        let id = ProjectionId::new(projection.name(), projection.version());
        match store.state(&id)? {
            Some(BuildState::Building) => {
                tracing::info!(projection = %id, "resuming an interrupted rebuild");
            }
            Some(BuildState::Ready) => store.drop_version(&id)?,
            None => {}
        }
        store.set_state(&id, BuildState::Building)?;
        let runner = Runner::new(projection.clone(), store.clone(), log.clone())?
            .with_batch_size(opts.batch_size)
            .with_workers(opts.workers)
            .with_payloads(opts.payloads.clone());
        let done: u64 = runner.subscribe().borrow().positions.values().sum();
        let mut total = 0;
        for &domain in projection.domains() {
            total += log.end_offsets(domain).await?.iter().sum::<u64>();
        }
        let advance = Advance::start(progress, &id.to_string(), done, total.max(done));
        jobs.push((runner, advance, done));
    }
    let stop_after = opts.stop_after_batches;
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let results = std::thread::scope(|scope| {
            let handles: Vec<_> =
                jobs.into_iter()
                    .map(|(mut runner, mut advance, done)| {
                        let store = &store;
                        let name = format!("rebuild {}", runner.id());
                        std::thread::Builder::new().name(name).spawn_scoped(
                            scope,
                            move || -> anyhow::Result<Rebuilt> {
                                let started = Instant::now();
                                let id = runner.id().clone();
                                let stop = AtomicBool::new(false);
                                let result = runner.catch_up(stop_after, &stop, |n| {
                                    advance.set(done + n, |events| {
                                    tracing::info!(projection = %id, events, "rebuilding")
                                })
                                })?;
                                advance.finish();
                                if result.caught_up {
                                    store.mark_ready(&id)?;
                                }
                                store.flush()?;
                                Ok(Rebuilt {
                                    id,
                                    events: result.events,
                                    quarantined: result.quarantined,
                                    complete: result.caught_up,
                                    seconds: started.elapsed().as_secs_f64(),
                                })
                            },
                        )
                    })
                    .collect();
            let outcomes: Vec<anyhow::Result<Rebuilt>> = handles
                .into_iter()
                .map(|h| {
                    h.context("starting a rebuild thread")?
                        .join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("a projection thread panicked")))
                })
                .collect();
            first_cause(outcomes)
        })?;
        // Written out of the journals, so the server that starts on these
        // views next has nothing to replay.
        store.close()?;
        Ok(results)
    })
    .await?
}

/// The results, or the error that explains the others: once one thread's
/// write failed (a full disk), the engine stops and every other thread
/// fails with "stopped", which says nothing of why.
fn first_cause(outcomes: Vec<anyhow::Result<Rebuilt>>) -> anyhow::Result<Vec<Rebuilt>> {
    let stopped = |e: &anyhow::Error| {
        e.chain().any(|c| {
            matches!(
                c.downcast_ref::<projections::StoreError>(),
                Some(projections::StoreError::Stopped { .. })
            ) || matches!(
                c.downcast_ref::<projections::RunnerError>(),
                Some(projections::RunnerError::Store(
                    projections::StoreError::Stopped { .. }
                ))
            )
        })
    };
    let mut errors = Vec::new();
    let mut done = Vec::new();
    for outcome in outcomes {
        match outcome {
            Ok(rebuilt) => done.push(rebuilt),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        return Ok(done);
    }
    let cause = errors.iter().position(|e| !stopped(e)).unwrap_or_default();
    Err(errors.swap_remove(cause))
}
