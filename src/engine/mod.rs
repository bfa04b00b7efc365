//! The running core shared by `serve` and the offline commands: the log,
//! the view store, one follower thread per projection, and the write path
//! (append an event, wait until its projection applied it, read the
//! recorded outcome).

use crate::config::Config;
use anyhow::{anyhow, bail, Context};
use events::log::TopicPartition;
use events::{codec, Domain, EventEnvelope, EventLog, PayloadSource};
use projections::projection::Projection;
use projections::registry::{self, Views};
use projections::runner::{outcome_of, Progress};
use projections::{BuildState, Outcome, ProjectionId, Runner, ViewStore};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::watch;

pub mod imip;
mod leadership;
pub mod scheduling;
mod space;

pub use leadership::{
    ClusterStatus, FencePosition, HandOver, Identity, LeadershipError, Role, SwitchReport,
    TakeOver, TakeOverRequest,
};
pub use space::{DiskFull, SpaceGuard};

/// Longest an upgraded-away version's trees wait for requests still
/// reading them before they are dropped anyway.
const OLD_VIEWS_LIMIT: Duration = Duration::from_secs(600);

/// How long a writer waits for its projection before answering 503.
pub const APPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Room an event's envelope (ids, principal, href, timestamps) takes
/// beside the body it carries, in a log record.
const ENVELOPE_ALLOWANCE: usize = 16 * 1024;

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
    #[error(
        "this installation ({installation}) does not write: {}; send requests through the \
         proxy (commands: --server URL of the leader)",
        match leader { Some(l) => format!("{l} leads"), None => "it is a standby".to_string() }
    )]
    NotLeader {
        installation: String,
        leader: Option<String>,
    },
    #[error("not ready to write: {0}")]
    NotReady(String),
    /// Refused before anything was appended; writes resume by themselves
    /// once space is freed.
    #[error(transparent)]
    DiskFull(#[from] DiskFull),
    #[error(
        "the {projection} projection stopped: {reason}; nothing is written until the cause is \
         fixed and the server restarted"
    )]
    Stopped { projection: String, reason: String },
}

impl SubmitError {
    /// The event is larger than the log accepts (nothing was appended):
    /// the request's body was too large.
    pub fn too_large(&self) -> bool {
        matches!(
            self,
            SubmitError::Log(events::LogError::RecordTooLarge { .. })
        )
    }

    /// Nothing was appended because the disk is full: the request could
    /// not be stored (507 on DAV).
    pub fn disk_full(&self) -> bool {
        matches!(self, SubmitError::DiskFull(_))
    }
}

struct Follower {
    id: ProjectionId,
    domains: &'static [Domain],
    progress: watch::Receiver<Progress>,
    ready: Arc<AtomicBool>,
    /// Stops this follower alone (an old version after a switch).
    stop: Arc<AtomicBool>,
    /// Held by the follower while it applies a batch; holding it keeps the
    /// view still, with its positions matching its data (a snapshot).
    applying: Arc<Mutex<()>>,
    /// Why the follower's thread stopped on its own (its view store
    /// failed: a full disk, an I/O error); it does not restart, since the
    /// engine refuses writes once one failed.
    stopped: Arc<Mutex<Option<String>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Follower {
    fn stopped(&self) -> Option<SubmitError> {
        let reason = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        reason.as_ref().map(|reason| SubmitError::Stopped {
            projection: self.id.to_string(),
            reason: reason.clone(),
        })
    }
}

/// What readers and writers are served from: the views, and per
/// projection name the follower whose version they are.
struct Serving {
    views: Arc<Views>,
    /// Projection name → index in `Core::followers`.
    followers: BTreeMap<String, usize>,
}

struct Core {
    store: ViewStore,
    followers: Vec<Follower>,
    serving: RwLock<Serving>,
}

impl Core {
    fn serving(&self) -> std::sync::RwLockReadGuard<'_, Serving> {
        self.serving.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The follower serving `domain`.
    fn follower_of(&self, domain: Domain) -> Option<usize> {
        self.follower_of_locked(&self.serving(), domain)
    }

    fn follower_of_locked(&self, serving: &Serving, domain: Domain) -> Option<usize> {
        serving
            .followers
            .values()
            .copied()
            .find(|&i| self.followers[i].domains.contains(&domain))
    }
}

/// How an engine chooses the projection versions it serves.
#[derive(Clone, Debug, Default)]
pub struct Versions {
    /// Versions to serve instead of the current ones (`calendars=1`).
    pub pinned: Vec<ProjectionId>,
    /// After switching to a new version, keep the old one's trees.
    pub keep_old: bool,
    /// Most events per second a version built beside the served one
    /// applies (`serve --build-rate`), so that an upgrade leaves the
    /// cores to the requests; `None`: as fast as it can.
    pub build_rate: Option<u64>,
}

/// One projection's plan at start: the version it serves now, and the
/// version it builds beside it to switch to.
struct Plan {
    serve: Arc<dyn Projection>,
    build: Option<Arc<dyn Projection>>,
}

/// Chooses, per projection, what to serve and what to build: the target
/// version (current or pinned) once it is live; until then the live
/// version, if this build knows it, while the target builds beside it.
/// Views of a version newer than any this build knows are refused.
fn plan(store: &ViewStore, versions: &Versions) -> anyhow::Result<Vec<Plan>> {
    let mut plans = Vec::new();
    for current in registry::current() {
        let name = current.name();
        let target = match versions.pinned.iter().find(|id| id.name == name) {
            Some(id) => registry::find(name, id.version).ok_or_else(|| {
                anyhow!(
                    "this build cannot serve {id}; it knows {}",
                    known_versions(name)
                )
            })?,
            None => current.clone(),
        };
        let newest = registry::known()
            .iter()
            .filter(|p| p.name() == name)
            .map(|p| p.version())
            .max()
            .unwrap_or(0);
        let live = store.live(name)?;
        let plan = match live {
            Some(live) if live > newest => bail!(
                "the views in {} serve {name}@{live}, newer than this build of reprise knows \
                 ({}); run the newer build, or move the views away and rebuild them from the log",
                store.path().display(),
                known_versions(name)
            ),
            Some(live) if live != target.version() => match registry::find(name, live) {
                Some(old)
                    if store.state(&ProjectionId::new(name, live))? == Some(BuildState::Ready) =>
                {
                    Plan {
                        serve: old,
                        build: Some(target),
                    }
                }
                // A live version this build cannot serve: build the target
                // and serve once it is ready.
                _ => Plan {
                    serve: target,
                    build: None,
                },
            },
            _ => Plan {
                serve: target,
                build: None,
            },
        };
        plans.push(plan);
    }
    Ok(plans)
}

fn known_versions(name: &str) -> String {
    let known: Vec<String> = registry::known()
        .iter()
        .filter(|p| p.name() == name)
        .map(|p| format!("{name}@{}", p.version()))
        .collect();
    known.join(", ")
}

pub struct Engine {
    pub log: Arc<dyn EventLog>,
    pub store: ViewStore,
    core: Arc<Core>,
    stop: Arc<AtomicBool>,
    /// Threads that switch to a version built in the background.
    switchers: Vec<JoinHandle<()>>,
    leadership: leadership::Leadership,
    /// Where calendar objects and vCards larger than the inline limit go
    /// (none: every body stays in its event).
    bodies: Option<LargeBodies>,
    /// Wakes the scheduling process manager (`scheduling.rs`).
    scheduling_wake: tokio::sync::Notify,
    /// The relay mail to attendees outside the directory goes through
    /// (`imip.rs`); none: they are not sent anything.
    smtp: Option<imip::SmtpSettings>,
    /// Wakes the mail sender (`imip.rs`).
    mail_wake: tokio::sync::Notify,
    /// Writes are refused while the disks of the log and views are below
    /// their reserve (`space.rs`).
    space: SpaceGuard,
}

/// Calendar objects and vCards larger than `inline_limit` bytes are kept
/// in the object store, their events carrying only a reference, so that
/// no record of the log nears what a broker accepts.
#[derive(Clone, Debug)]
pub struct LargeBodies {
    pub objects: objects::ObjectStore,
    pub inline_limit: u64,
}

impl Engine {
    /// Opens the log and views and starts a follower per projection; each
    /// catches up, marks its version ready and live, then follows.
    pub async fn start(config: &Config) -> anyhow::Result<Engine> {
        Engine::start_versions(config, &Versions::default()).await
    }

    pub async fn start_versions(config: &Config, versions: &Versions) -> anyhow::Result<Engine> {
        Engine::start_on(config, versions, config.open_objects()?).await
    }

    /// [`Engine::start_versions`] with the object store already open (by
    /// `serve`, which probes it first and shares it with its handlers).
    pub async fn start_on(
        config: &Config,
        versions: &Versions,
        objects: objects::ObjectStore,
    ) -> anyhow::Result<Engine> {
        // Every append of this engine (writes, fences, scheduling) is
        // timed and counted there.
        let log = crate::telemetry::MeteredLog::wrap(config.open_log().await?);
        let store = config.open_views()?;
        let versions = Versions {
            pinned: config.pinned.clone(),
            ..versions.clone()
        };
        // Calendar objects and vCards larger than the inline limit are in
        // the object store; the followers read them there.
        let payloads = objects::payload_source(objects.clone(), tokio::runtime::Handle::current());
        // The disks this engine writes to: the embedded log's and the
        // views'; a Kafka log's are the broker's concern. No reserve
        // unless one is set (`serve --min-free-space`).
        let mut watched = vec![store.path().to_path_buf()];
        if config.kafka_brokers.is_none() {
            watched.push(config.data_dir.join("log"));
        }
        let engine = Engine::start_with(log, store, &versions, Some(payloads))?;
        Ok(engine
            .with_large_bodies(LargeBodies {
                objects,
                inline_limit: config.inline_limit,
            })
            .with_space_guard(SpaceGuard::new(watched, 0)))
    }

    pub fn start_with(
        log: Arc<dyn EventLog>,
        store: ViewStore,
        versions: &Versions,
        payloads: Option<Arc<dyn PayloadSource>>,
    ) -> anyhow::Result<Engine> {
        let plans = plan(&store, versions)?;
        let stop = Arc::new(AtomicBool::new(false));
        let mut followers = Vec::new();
        let mut serving = BTreeMap::new();
        let mut switches = Vec::new();
        for plan in &plans {
            let served = start_follower(
                &log,
                &store,
                &stop,
                plan.serve.clone(),
                true,
                None,
                &payloads,
            )?;
            serving.insert(plan.serve.name().to_string(), followers.len());
            followers.push(served);
            if let Some(build) = &plan.build {
                tracing::info!(
                    "serving {}@{} while {}@{} builds from the log beside it",
                    plan.serve.name(),
                    plan.serve.version(),
                    build.name(),
                    build.version()
                );
                let built = start_follower(
                    &log,
                    &store,
                    &stop,
                    build.clone(),
                    false,
                    versions.build_rate,
                    &payloads,
                )?;
                switches.push((followers.len() - 1, followers.len()));
                followers.push(built);
            }
        }
        let served: Vec<ProjectionId> =
            serving.values().map(|&i| followers[i].id.clone()).collect();
        let views = Arc::new(Views::open_at(&store, &served)?);
        let core = Arc::new(Core {
            store: store.clone(),
            followers,
            serving: RwLock::new(Serving {
                views,
                followers: serving,
            }),
        });
        let mut switchers = Vec::new();
        for (old, new) in switches {
            let (core, stop, keep_old) = (core.clone(), stop.clone(), versions.keep_old);
            let thread = std::thread::Builder::new()
                .name(format!("switch to {}", core.followers[new].id))
                .spawn(move || switch_when_caught_up(&core, old, new, keep_old, &stop))
                .context("spawning a switching thread")?;
            switchers.push(thread);
        }
        Ok(Engine {
            log,
            store,
            core,
            stop,
            switchers,
            leadership: leadership::Leadership::new(Identity::default()),
            bodies: None,
            scheduling_wake: tokio::sync::Notify::new(),
            smtp: None,
            mail_wake: tokio::sync::Notify::new(),
            space: SpaceGuard::default(),
        })
    }

    /// Refuses writes while a watched disk is below its reserve.
    pub fn with_space_guard(mut self, space: SpaceGuard) -> Engine {
        self.space = space;
        self
    }

    /// The reserve of free space kept on the watched disks (`serve
    /// --min-free-space`; 0: none).
    pub fn with_min_free_space(mut self, bytes: u64) -> Engine {
        self.space = self.space.with_reserve(bytes);
        self
    }

    /// Whether a watched disk is below its reserve now (writes are refused
    /// until space is freed).
    pub fn disk_full(&self) -> Option<DiskFull> {
        self.space.check().err()
    }

    /// Keeps calendar objects and vCards over the limit in the store.
    pub fn with_large_bodies(mut self, bodies: LargeBodies) -> Engine {
        self.bodies = Some(bodies);
        self
    }

    /// Whether large bodies go to the object store (so that the log's
    /// record size does not limit them).
    pub fn stores_large_bodies(&self) -> bool {
        self.bodies.is_some()
    }

    /// A calendar object's or vCard's text as its event carries it: the
    /// text itself, or, over the inline limit, nothing and the reference of
    /// the object it was stored as first (object, then event).
    pub async fn body_for_event(
        &self,
        text: String,
    ) -> Result<(String, Option<events::ObjectRef>), objects::ObjectError> {
        match &self.bodies {
            Some(b) if text.len() as u64 > b.inline_limit => {
                let object = b.objects.put_bytes(text.as_bytes()).await?;
                Ok((String::new(), Some(object)))
            }
            _ => Ok((text, None)),
        }
    }

    /// Names this installation among those sharing the log.
    pub fn with_identity(mut self, identity: Identity) -> Engine {
        self.leadership = leadership::Leadership::new(identity);
        self
    }

    /// The views requests are served from. A request keeps the ones it
    /// started with; a switch to a new version affects later requests.
    /// The largest body a write may carry for its event to fit in a log
    /// record, if the log limits records.
    pub fn max_body_bytes(&self) -> Option<u64> {
        self.log
            .max_record_bytes()
            .map(|limit| limit.saturating_sub(ENVELOPE_ALLOWANCE) as u64)
    }

    pub fn views(&self) -> Arc<Views> {
        self.core.serving().views.clone()
    }

    /// True once every projection served from has caught up with the log
    /// once (a version building beside it does not count), and neither
    /// they nor the log stopped.
    pub fn ready(&self) -> bool {
        if self.stopped().is_some() {
            return false;
        }
        let serving = self.core.serving();
        serving
            .followers
            .values()
            .all(|&i| self.core.followers[i].ready.load(Ordering::Acquire))
    }

    /// Why the log or a served projection stopped, if one did (their
    /// storage failed: an I/O error, a disk that filled under them): the
    /// server then answers no write and is not ready until restarted. A
    /// disk below its reserve is [`Engine::disk_full`], which passes.
    pub fn stopped(&self) -> Option<String> {
        if let Some(refusal) = self.log.refusing_appends() {
            return Some(format!("{}: {refusal}", self.log.describe()));
        }
        let serving = self.core.serving();
        let stopped = serving
            .followers
            .values()
            .find_map(|&i| self.core.followers[i].stopped());
        stopped.map(|e| e.to_string())
    }

    /// Waits until every projection has caught up with the log.
    pub async fn wait_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.ready() {
            if tokio::time::Instant::now() >= deadline {
                let behind: Vec<String> = self
                    .core
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

    /// Positions of every projection version running, served or building.
    pub fn progress(&self) -> BTreeMap<ProjectionId, Progress> {
        self.core
            .followers
            .iter()
            .filter(|f| !f.stop.load(Ordering::Acquire))
            .map(|f| (f.id.clone(), f.progress.borrow().clone()))
            .collect()
    }

    /// Runs `f` while every served projection stands still between two
    /// batches, with the versions served: what `f` reads of their trees is
    /// consistent with their stored positions. Writers wait meanwhile.
    pub fn with_views_still<R>(&self, f: impl FnOnce(&ViewStore, &[ProjectionId]) -> R) -> R {
        let serving = self.core.serving();
        let served: Vec<&Follower> = serving
            .followers
            .values()
            .map(|&i| &self.core.followers[i])
            .collect();
        let _held: Vec<_> = served
            .iter()
            .map(|f| f.applying.lock().unwrap_or_else(|p| p.into_inner()))
            .collect();
        let ids: Vec<ProjectionId> = served.iter().map(|f| f.id.clone()).collect();
        f(&self.store, &ids)
    }

    /// Appends events (all of one domain, in order) and waits until the
    /// projection applied each; returns their recorded outcomes.
    /// Only the leader writes: each event is stamped with its epoch, and a
    /// hand-over waits for the writes in flight here.
    pub async fn submit(
        &self,
        mut events: Vec<EventEnvelope>,
    ) -> Result<Vec<Outcome>, SubmitError> {
        let Some(first) = events.first() else {
            return Ok(Vec::new());
        };
        let domain = first.domain;
        let (role, epoch) = self.leading().await?;
        for event in &mut events {
            event.leader_epoch = epoch;
        }
        let outcomes = self.append_and_wait(domain, &events).await?;
        drop(role);
        if domain == Domain::Calendar {
            // It may have recorded scheduling messages to send.
            self.scheduling_wake.notify_one();
        }
        let fenced = outcomes.iter().any(|o| {
            matches!(
                o,
                Outcome::Rejected {
                    rejection: projections::Rejection::Fenced { .. }
                }
            )
        });
        if fenced {
            self.learn_fenced().await;
            return Err(self.not_leader().await);
        }
        Ok(outcomes)
    }

    async fn append_and_wait(
        &self,
        domain: Domain,
        events: &[EventEnvelope],
    ) -> Result<Vec<Outcome>, SubmitError> {
        let mut follower = self
            .core
            .follower_of(domain)
            .ok_or(SubmitError::NoProjection(domain))?;
        if let Some(stopped) = self.core.followers[follower].stopped() {
            return Err(stopped);
        }
        // Before the storage engine meets the full disk, which would stop
        // it until a restart.
        self.space.check()?;
        let records = events.iter().map(codec::encode).collect();
        let positions = self.log.append(domain, records).await?;
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
        let deadline = tokio::time::Instant::now() + APPLY_TIMEOUT;
        loop {
            let f = &self.core.followers[follower];
            let mut progress = f.progress.clone();
            let waited = tokio::time::timeout_at(
                deadline,
                progress.wait_for(|p| wanted.iter().all(|(tp, o)| p.has_applied(*tp, *o))),
            )
            .await;
            match waited {
                Ok(Ok(_)) => {}
                // The follower's thread ended, and with it its progress.
                Ok(Err(_)) => {
                    return Err(f.stopped().unwrap_or_else(|| {
                        SubmitError::NotReady(format!("the {} projection is stopping", f.id))
                    }))
                }
                Err(_) => {
                    return Err(SubmitError::Timeout {
                        projection: f.id.to_string(),
                        timeout: APPLY_TIMEOUT,
                    })
                }
            }
            // Answered only while the version that applied the events is
            // the one served, so that what the writer reads next has them;
            // after a switch, the new version must have applied them too.
            let serving = self.core.serving();
            match self.core.follower_of_locked(&serving, domain) {
                Some(now) if now != follower => {
                    follower = now;
                    continue;
                }
                _ => {}
            }
            return events
                .iter()
                .zip(&positions)
                .map(|(e, position)| Ok(outcome_of(&self.store, &f.id, &e.event_id, *position)?))
                .collect();
        }
    }

    /// Stops the followers and makes the views durable.
    pub fn shutdown(mut self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Release);
        for t in self.switchers.drain(..) {
            let _ = t.join();
        }
        for f in &self.core.followers {
            let thread = f.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(t) = thread {
                let _ = t.join();
            }
        }
        self.store.close()?;
        Ok(())
    }
}

fn start_follower(
    log: &Arc<dyn EventLog>,
    store: &ViewStore,
    stop_all: &Arc<AtomicBool>,
    projection: Arc<dyn Projection>,
    served: bool,
    rate: Option<u64>,
    payloads: &Option<Arc<dyn PayloadSource>>,
) -> anyhow::Result<Follower> {
    // Catching up reads large batches, which spread over the cores; a
    // follower's small batches stay on its own thread.
    let runner = Runner::new(projection.clone(), store.clone(), log.clone())
        .with_context(|| format!("starting the {} projection", projection.name()))?
        .with_workers(default_workers())
        .with_payloads(payloads.clone());
    // A build held to a rate reads a quarter second's worth at a time, so
    // that it advances steadily (as `projections status` and the console
    // show it) rather than in bursts of a whole batch and long pauses.
    let runner = match rate.filter(|&r| r > 0) {
        Some(rate) => runner.with_batch_size((rate / 4).clamp(16, 2_000) as usize),
        None => runner,
    };
    let id = runner.id().clone();
    if store.state(&id)?.is_none() {
        store.set_state(&id, BuildState::Building)?;
    }
    let ready = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let applying = Arc::new(Mutex::new(()));
    let stopped = Arc::new(Mutex::new(None));
    let progress = runner.subscribe();
    let thread = {
        let (store, stop_all, stop, ready, applying, stopped) = (
            store.clone(),
            stop_all.clone(),
            stop.clone(),
            ready.clone(),
            applying.clone(),
            stopped.clone(),
        );
        std::thread::Builder::new()
            .name(format!("projection {id}"))
            .spawn(move || {
                let stops = [stop_all, stop];
                let reason = follow(runner, store, stops, ready, applying, served, rate);
                if let Some(reason) = reason {
                    *stopped.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason);
                }
            })
            .context("spawning a projection thread")?
    };
    Ok(Follower {
        id,
        domains: projection.domains(),
        progress,
        ready,
        stop,
        applying,
        stopped,
        thread: Mutex::new(Some(thread)),
    })
}

/// One worker per core the process may use: how many threads apply the
/// partitions of a projection's batch unless told otherwise.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Whether `new` has applied everything `old` has, partition by partition.
fn has_caught_up_with(new: &Progress, old: &Progress) -> bool {
    old.positions
        .iter()
        .all(|(tp, &next)| new.positions.get(tp).copied().unwrap_or(0) >= next)
}

/// Waits until the version built beside the served one has caught up,
/// switches readers and writers to it at an instant when it has applied
/// everything the old one has, records it live, then stops the old
/// version once requests that were waiting on it are answered, and drops
/// its trees unless asked to keep them.
fn switch_when_caught_up(core: &Core, old: usize, new: usize, keep_old: bool, stop: &AtomicBool) {
    let (old_f, new_f) = (&core.followers[old], &core.followers[new]);
    let mut reported = std::time::Instant::now();
    let old_views = loop {
        if stop.load(Ordering::Acquire) {
            return;
        }
        if new_f.ready.load(Ordering::Acquire) {
            let mut serving = core.serving.write().unwrap_or_else(|p| p.into_inner());
            if has_caught_up_with(&new_f.progress.borrow(), &old_f.progress.borrow()) {
                let views = match serving.views.replaced(&core.store, &new_f.id) {
                    Ok(views) => views,
                    Err(e) => {
                        tracing::error!(projection = %new_f.id, error = %e, "cannot open the new version; staying on the old one");
                        return;
                    }
                };
                if let Err(e) = core.store.set_live(&new_f.id) {
                    tracing::error!(projection = %new_f.id, error = %e, "cannot record the new version live; staying on the old one");
                    return;
                }
                let old_views = Arc::downgrade(&serving.views);
                serving.views = Arc::new(views);
                serving.followers.insert(new_f.id.name.clone(), new);
                break old_views;
            }
        } else if reported.elapsed() >= Duration::from_secs(10) {
            let applied: u64 = new_f.progress.borrow().positions.values().sum();
            let served: u64 = old_f.progress.borrow().positions.values().sum();
            tracing::info!(
                "building {} beside {}: {applied} of {served} events applied",
                new_f.id,
                old_f.id
            );
            reported = std::time::Instant::now();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    tracing::info!("switched from {} to {}", old_f.id, new_f.id);
    // Requests that waited on the old version are answered (or moved to
    // the new one) within APPLY_TIMEOUT; readers are waited for below.
    let grace = std::time::Instant::now() + APPLY_TIMEOUT + Duration::from_secs(1);
    while std::time::Instant::now() < grace {
        if stop.load(Ordering::Acquire) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    old_f.stop.store(true, Ordering::Release);
    let thread = old_f
        .thread
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    if let Some(t) = thread {
        let _ = t.join();
    }
    // A request still reading the old views (a long query that started
    // before the switch) keeps them; their trees go once the last is done.
    let deadline = std::time::Instant::now() + OLD_VIEWS_LIMIT;
    while old_views.strong_count() > 0 && std::time::Instant::now() < deadline {
        if stop.load(Ordering::Acquire) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if keep_old {
        tracing::info!("kept {} (--keep-old)", old_f.id);
    } else if let Err(e) = core.store.drop_version(&old_f.id) {
        tracing::warn!(projection = %old_f.id, error = %e, "cannot drop the old version");
    } else {
        tracing::info!("dropped {}", old_f.id);
    }
}

/// A projection's thread: catch up, mark ready (and live, when served),
/// then follow. Log errors are retried (the broker may come back); a
/// broken view store stops the thread, which returns why. A version
/// built beside the served one applies at most `rate` events per second
/// when one is set.
fn follow(
    mut runner: Runner,
    store: ViewStore,
    stops: [Arc<AtomicBool>; 2],
    ready: Arc<AtomicBool>,
    applying: Arc<Mutex<()>>,
    served: bool,
    rate: Option<u64>,
) -> Option<String> {
    let id = runner.id().clone();
    let progress = runner.subscribe();
    let stopping = || stops.iter().any(|s| s.load(Ordering::Acquire));
    // Since when reads fail (the log unreachable): said once, and once
    // more when they work again, rather than every retry.
    let mut failing_since: Option<std::time::Instant> = None;
    while !stopping() {
        let started = std::time::Instant::now();
        let stepped = {
            let _applying = applying.lock().unwrap_or_else(|p| p.into_inner());
            runner.step(Duration::from_millis(100))
        };
        if let (Some(rate), Ok(applied)) = (rate.filter(|&r| r > 0), &stepped) {
            let due = started + Duration::from_secs_f64(*applied as f64 / rate as f64);
            while std::time::Instant::now() < due && !stopping() {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        match stepped {
            Ok(_) => {
                if let Some(since) = failing_since.take() {
                    tracing::info!(projection = %id, after = ?since.elapsed(), "reads work again");
                }
                if !ready.load(Ordering::Relaxed) && progress.borrow().caught_up {
                    // A version built beside the served one becomes live
                    // when the engine switches to it.
                    let marked = if served {
                        store.mark_ready(&id)
                    } else {
                        store.set_state(&id, BuildState::Ready)
                    };
                    if let Err(e) = marked {
                        tracing::error!(projection = %id, error = %e, "cannot record readiness");
                        return Some(e.to_string());
                    }
                    tracing::info!(projection = %id, "caught up with the log");
                    ready.store(true, Ordering::Release);
                }
            }
            Err(e) if e.is_transient() => {
                if failing_since.is_none() {
                    tracing::warn!(projection = %id, error = %e, "log or object store read failed; retrying every second");
                    failing_since = Some(std::time::Instant::now());
                } else {
                    tracing::debug!(projection = %id, error = %e, "log read failed again");
                }
                runner.reset_reader();
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(e) => {
                tracing::error!(projection = %id, error = %e, "projection stopped");
                return Some(e.to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_newer_than_the_build_are_refused_and_older_ones_served_while_the_new_builds() {
        let dir = tempfile::tempdir().unwrap();
        let store = ViewStore::open(dir.path()).unwrap();
        let v1 = ProjectionId::new("calendars", 1);
        store.mark_ready(&v1).unwrap();
        let plans = plan(&store, &Versions::default()).unwrap();
        let calendars = plans
            .iter()
            .find(|p| p.serve.name() == "calendars")
            .unwrap();
        assert_eq!(calendars.serve.version(), 1);
        assert_eq!(calendars.build.as_ref().map(|b| b.version()), Some(2));

        store.set_live(&ProjectionId::new("calendars", 9)).unwrap();
        let refused = plan(&store, &Versions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(
            refused.contains("calendars@9") && refused.contains("newer than this build"),
            "{refused}"
        );
    }
}
