//! `reprise rebuild`: build projection versions from offset 0 of the log.
//!
//! A version whose build was interrupted (state `building`) is resumed from
//! its stored positions; a finished one is dropped and built again. Each
//! projection runs on its own thread; on a terminal each gets a progress
//! bar, otherwise progress goes to the log as plain lines.

use crate::cli::LogArgs;
use crate::cli::RebuildArgs;
use anyhow::{bail, Context};
use events::EventLog;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use projections::registry;
use projections::{BuildState, Projection, ProjectionId, Runner, ViewStore};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a rebuild runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Events per batch.
    pub batch_size: usize,
    /// Threads applying the partitions of one projection's batch.
    pub workers: usize,
    /// Stop after this many batches per projection, leaving the build
    /// resumable (for tests of interrupted rebuilds).
    pub stop_after_batches: Option<u64>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            batch_size: 2_000,
            workers: default_workers(),
            stop_after_batches: None,
        }
    }
}

/// One worker per core the process may use.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
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

pub async fn run(args: &LogArgs, opts: RebuildArgs) -> anyhow::Result<ExitCode> {
    if args.server.is_some() {
        bail!("rebuild works on the data directory itself; stop the server first (a rebuild beside a running version comes with the upgrade machinery)");
    }
    let selected = select(&opts)?;
    let log = args.open_log().await?;
    let store = args.open_views()?;
    let started = Instant::now();
    let results = rebuild(
        log,
        &store,
        &selected,
        &opts.options(),
        std::io::stderr().is_terminal(),
    )
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    let events: u64 = results.iter().map(|r| r.events).sum();
    let quarantined: u64 = results.iter().map(|r| r.quarantined).sum();
    let complete = results.iter().all(|r| r.complete);
    println!(
        "{} {} projection(s): {events} events in {seconds:.2} s ({:.0} events/s), {quarantined} quarantined",
        if complete { "rebuilt" } else { "interrupted" },
        results.len(),
        events as f64 / seconds.max(1e-9),
    );
    Ok(ExitCode::SUCCESS)
}

/// The projections a `rebuild` asks for.
pub fn select(opts: &RebuildArgs) -> anyhow::Result<Vec<Arc<dyn Projection>>> {
    let all = registry::current();
    let chosen: Vec<_> = all
        .into_iter()
        .filter(|p| opts.projection.as_deref().is_none_or(|n| n == p.name()))
        .filter(|p| opts.version.is_none_or(|v| v == p.version()))
        .collect();
    if chosen.is_empty() {
        let known: Vec<String> = registry::current()
            .iter()
            .map(|p| format!("{}@{}", p.name(), p.version()))
            .collect();
        bail!(
            "no projection matches{}{}; this build can build {}",
            opts.projection
                .as_ref()
                .map(|n| format!(" --projection {n}"))
                .unwrap_or_default(),
            opts.version
                .map(|v| format!(" --version {v}"))
                .unwrap_or_default(),
            known.join(", ")
        );
    }
    Ok(chosen)
}

/// Rebuilds the given projections in parallel, one thread each.
pub async fn rebuild(
    log: Arc<dyn EventLog>,
    store: &ViewStore,
    projections: &[Arc<dyn Projection>],
    opts: &Options,
    on_terminal: bool,
) -> anyhow::Result<Vec<Rebuilt>> {
    let bars = MultiProgress::with_draw_target(if on_terminal {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
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
            .with_workers(opts.workers);
        let done: u64 = runner.subscribe().borrow().positions.values().sum();
        let mut total = 0;
        for &domain in projection.domains() {
            total += log.end_offsets(domain).await?.iter().sum::<u64>();
        }
        let bar = bars.add(ProgressBar::new(total.max(done)));
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>14} [{bar:30}] {pos}/{len} events {per_sec} ETA {eta}",
            )
            .context("progress template")?
            .progress_chars("=> "),
        );
        bar.set_prefix(id.to_string());
        bar.set_position(done);
        jobs.push((runner, bar, done));
    }
    let stop_after = opts.stop_after_batches;
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let results = std::thread::scope(|scope| {
            let handles: Vec<_> = jobs
                .into_iter()
                .map(|(mut runner, bar, done)| {
                    let store = &store;
                    let name = format!("rebuild {}", runner.id());
                    std::thread::Builder::new().name(name).spawn_scoped(
                        scope,
                        move || -> anyhow::Result<Rebuilt> {
                            let started = Instant::now();
                            let id = runner.id().clone();
                            let stop = AtomicBool::new(false);
                            let mut last_line = Instant::now();
                            let result = runner.catch_up(stop_after, &stop, |n| {
                            bar.set_position(done + n);
                            if bar.is_hidden() && last_line.elapsed() > Duration::from_secs(5) {
                                last_line = Instant::now();
                                tracing::info!(projection = %id, events = done + n, "rebuilding");
                            }
                        })?;
                            bar.finish();
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
