//! The running core shared by `serve` and the offline commands: the log,
//! the view store, one follower thread per projection, and the write path
//! (append an event, wait until its projection applied it, read the
//! recorded outcome).

use anyhow::{anyhow, Context};
use events::log::TopicPartition;
use events::{codec, Domain, EventEnvelope, EventLog};
use projections::registry::{self, Views};
use projections::runner::{outcome_of, Progress};
use projections::{BuildState, Outcome, ProjectionId, Runner, ViewStore};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::watch;

/// How long a writer waits for its projection before answering 503.
pub const APPLY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the log is unreachable: {0}")]
    Log(#[from] events::LogError),
    #[error("the {projection} projection did not apply the event within {timeout:?}")]
    Timeout {
        projection: String,
        timeout: Duration,
    },
    #[error("no projection reads the {0} topic")]
    NoProjection(Domain),
    #[error(transparent)]
    Store(#[from] projections::StoreError),
}

struct Follower {
    id: ProjectionId,
    domains: &'static [Domain],
    progress: watch::Receiver<Progress>,
    ready: Arc<AtomicBool>,
}

pub struct Engine {
    pub log: Arc<dyn EventLog>,
    pub store: ViewStore,
    pub views: Views,
    followers: Vec<Follower>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Engine {
    /// Opens the log and views and starts a follower per projection; each
    /// catches up, marks its version ready and live, then follows.
    pub async fn start(args: &crate::config::LogArgs) -> anyhow::Result<Engine> {
        let log = args.open_log().await?;
        let store = args.open_views()?;
        Engine::start_with(log, store)
    }

    pub fn start_with(log: Arc<dyn EventLog>, store: ViewStore) -> anyhow::Result<Engine> {
        let views = Views::open(&store)?;
        let stop = Arc::new(AtomicBool::new(false));
        let mut followers = Vec::new();
        let mut threads = Vec::new();
        for projection in registry::current() {
            let runner = Runner::new(projection.clone(), store.clone(), log.clone())
                .with_context(|| format!("starting the {} projection", projection.name()))?;
            let id = runner.id().clone();
            if store.state(&id)?.is_none() {
                store.set_state(&id, BuildState::Building)?;
            }
            let ready = Arc::new(AtomicBool::new(false));
            followers.push(Follower {
                id: id.clone(),
                domains: projection.domains(),
                progress: runner.subscribe(),
                ready: ready.clone(),
            });
            let (store, stop) = (store.clone(), stop.clone());
            let thread = std::thread::Builder::new()
                .name(format!("projection {id}"))
                .spawn(move || follow(runner, store, stop, ready))
                .context("spawning a projection thread")?;
            threads.push(thread);
        }
        Ok(Engine {
            log,
            store,
            views,
            followers,
            stop,
            threads,
        })
    }

    /// True once every projection has caught up with the log once.
    pub fn ready(&self) -> bool {
        self.followers
            .iter()
            .all(|f| f.ready.load(Ordering::Acquire))
    }

    /// Waits until every projection has caught up with the log.
    pub async fn wait_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.ready() {
            if tokio::time::Instant::now() >= deadline {
                let behind: Vec<String> = self
                    .followers
                    .iter()
                    .filter(|f| !f.ready.load(Ordering::Acquire))
                    .map(|f| f.id.to_string())
                    .collect();
                return Err(anyhow!(
                    "projections {} did not catch up with {} within {timeout:?}",
                    behind.join(", "),
                    self.log.describe()
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Positions of every projection.
    pub fn progress(&self) -> BTreeMap<ProjectionId, Progress> {
        self.followers
            .iter()
            .map(|f| (f.id.clone(), f.progress.borrow().clone()))
            .collect()
    }

    fn follower_of(&self, domain: Domain) -> Option<&Follower> {
        self.followers.iter().find(|f| f.domains.contains(&domain))
    }

    /// Appends events (all of one domain, in order) and waits until the
    /// projection applied each; returns their recorded outcomes.
    pub async fn submit(&self, events: Vec<EventEnvelope>) -> Result<Vec<Outcome>, SubmitError> {
        let Some(first) = events.first() else {
            return Ok(Vec::new());
        };
        let domain = first.domain;
        let follower = self
            .follower_of(domain)
            .ok_or(SubmitError::NoProjection(domain))?;
        let records = events.iter().map(codec::encode).collect();
        let positions = self.log.append(domain, records).await?;
        let mut progress = follower.progress.clone();
        let wanted: Vec<(TopicPartition, u64)> = positions
            .iter()
            .map(|p| {
                (
                    TopicPartition {
                        domain,
                        partition: p.partition,
                    },
                    p.offset,
                )
            })
            .collect();
        let waited = tokio::time::timeout(
            APPLY_TIMEOUT,
            progress.wait_for(|p| wanted.iter().all(|(tp, o)| p.has_applied(*tp, *o))),
        )
        .await;
        match waited {
            Ok(Ok(_)) => {}
            _ => {
                return Err(SubmitError::Timeout {
                    projection: follower.id.to_string(),
                    timeout: APPLY_TIMEOUT,
                })
            }
        }
        events
            .iter()
            .zip(positions)
            .map(|(e, position)| {
                Ok(outcome_of(
                    &self.store,
                    &follower.id,
                    &e.event_id,
                    position,
                )?)
            })
            .collect()
    }

    /// Stops the followers and makes the views durable.
    pub fn shutdown(mut self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Release);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.store.flush()?;
        Ok(())
    }
}

/// A projection's thread: catch up, mark ready and live, then follow.
/// Log errors are retried (the broker may come back); a broken view store
/// stops the thread.
fn follow(mut runner: Runner, store: ViewStore, stop: Arc<AtomicBool>, ready: Arc<AtomicBool>) {
    let id = runner.id().clone();
    let progress = runner.subscribe();
    while !stop.load(Ordering::Acquire) {
        match runner.step(Duration::from_millis(100)) {
            Ok(_) => {
                if !ready.load(Ordering::Relaxed) && progress.borrow().caught_up {
                    if let Err(e) = store.mark_ready(&id) {
                        tracing::error!(projection = %id, error = %e, "cannot record readiness");
                        return;
                    }
                    tracing::info!(projection = %id, "caught up with the log");
                    ready.store(true, Ordering::Release);
                }
            }
            Err(projections::RunnerError::Log(e)) => {
                tracing::warn!(projection = %id, error = %e, "log read failed; retrying");
                runner.reset_reader();
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(e) => {
                tracing::error!(projection = %id, error = %e, "projection stopped");
                return;
            }
        }
    }
}
