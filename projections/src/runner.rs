//! Feeds a projection from the log: read a batch, decode, apply each event
//! into the overlay, and commit the writes with the new positions in one
//! atomic batch. After a crash the stored positions say exactly where to
//! resume: no event is applied twice and none is skipped.

use crate::outcome::{Outcome, Rejection};
use crate::projection::{Applied, ApplyError, Projection};
use crate::store::{encode, ProjectionId, StoreError, ViewStore, ViewTree, Writes};
use crate::view::{keys, ViewTxn};
use events::codec::{self, HEADER_EVENT_ID, HEADER_EVENT_TYPE};
use events::log::{LogReader, ReadStart, TopicPartition};
use events::{Domain, EventLog, LogError, LogPosition, LogRecord, PayloadSource};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An event's body is in the object store and could not be read: the
    /// runner stops before the event, to retry (never applies it without).
    #[error(transparent)]
    Payload(#[from] events::ResolveError),
}

impl RunnerError {
    /// Whether retrying later may succeed: the log or the object store
    /// did not answer (a broken view is not).
    pub fn is_transient(&self) -> bool {
        matches!(self, RunnerError::Log(_) | RunnerError::Payload(_))
    }
}

/// An event the runner could not apply, kept with its position and reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineRecord {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub event_type: Option<String>,
    pub event_id: Option<String>,
    pub reason: String,
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
}

/// The last fence a projection applied in one partition: events written
/// there under an older epoch are rejected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fence {
    pub epoch: u64,
    pub leader: String,
}

/// Where a runner is: the next offset per partition, and whether it has
/// read everything there was at its last poll.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub positions: BTreeMap<TopicPartition, u64>,
    pub caught_up: bool,
    /// The log timestamp of the last record applied (milliseconds since
    /// the Unix epoch), for telling how far behind in time a view is.
    pub last_timestamp_ms: Option<i64>,
    /// The same, per topic.
    pub last_timestamp_ms_by_topic: BTreeMap<Domain, i64>,
}

impl Progress {
    /// Whether the event at `offset` of `tp` has been applied.
    pub fn has_applied(&self, tp: TopicPartition, offset: u64) -> bool {
        self.positions.get(&tp).is_some_and(|next| *next > offset)
    }
}

/// What one catch-up did.
#[derive(Clone, Debug, Default)]
pub struct CatchUp {
    pub events: u64,
    pub batches: u64,
    pub quarantined: u64,
    /// False when stopped early (by `max_batches` or the stop flag).
    pub caught_up: bool,
}

/// Runs one projection version against one log.
pub struct Runner {
    applier: Applier,
    id: ProjectionId,
    store: ViewStore,
    tree: ViewTree,
    log: Arc<dyn EventLog>,
    progress: watch::Sender<Progress>,
    reader: Option<Box<dyn LogReader>>,
    batch_size: usize,
    /// Threads a batch's partitions are applied on (1: in this thread).
    workers: usize,
    /// The fences applied, per partition (what the tree holds under
    /// `fen/`), consulted for every event.
    fences: BTreeMap<TopicPartition, Fence>,
    /// When the view database was last made durable.
    checkpointed: Instant,
}

/// How often a runner that applied something makes the views durable.
/// Between checkpoints its batches reach the operating system, not the
/// disk: a power cut loses at most this much, which is replayed from the
/// log (the positions are in the same atomic batches as the data).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(5);

/// Batches smaller than this are applied in the runner's thread: starting
/// threads would cost more than it saves (the view is the same either way).
const PARALLEL_FROM: usize = 64;

/// What applying one event needs, shared by the threads of one batch.
struct Applier {
    projection: Arc<dyn Projection>,
    log: Arc<dyn EventLog>,
    label: String,
    /// Where bodies kept in the object store are read (none: a reader
    /// that meets one stops with [`RunnerError::Payload`]).
    payloads: Option<Arc<dyn PayloadSource>>,
}

/// What one thread made of its part of a batch.
struct AppliedPart {
    writes: Writes,
    fences: BTreeMap<TopicPartition, Fence>,
}

impl Runner {
    pub fn new(
        projection: Arc<dyn Projection>,
        store: ViewStore,
        log: Arc<dyn EventLog>,
    ) -> Result<Runner, RunnerError> {
        let id = ProjectionId::new(projection.name(), projection.version());
        let tree = store.tree(&id)?;
        let mut positions = store.positions(&id)?;
        // Every partition of every topic read, from 0 when never read.
        for &domain in projection.domains() {
            for partition in 0..log.partitions(domain) {
                positions
                    .entry(TopicPartition { domain, partition })
                    .or_insert(0);
            }
        }
        let (progress, _) = watch::channel(Progress {
            positions,
            caught_up: false,
            last_timestamp_ms: None,
            last_timestamp_ms_by_topic: BTreeMap::new(),
        });
        let fences = fences_of(&store, &id)?;
        Ok(Runner {
            fences,
            applier: Applier {
                projection,
                log: log.clone(),
                label: id.to_string(),
                payloads: None,
            },
            id,
            store,
            tree,
            log,
            progress,
            reader: None,
            batch_size: 2_000,
            workers: 1,
            checkpointed: Instant::now(),
        })
    }

    pub fn id(&self) -> &ProjectionId {
        &self.id
    }

    /// Records per batch while catching up (steady state takes what is
    /// there, up to this).
    pub fn with_batch_size(mut self, batch_size: usize) -> Runner {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Applies the partitions of each batch on up to `workers` threads,
    /// when the projection's partitions are independent (see
    /// [`Projection::partitions_independent`]). The view is the same
    /// whatever the number: each partition's events are applied in log
    /// order, and no two partitions touch one key.
    pub fn with_workers(mut self, workers: usize) -> Runner {
        self.workers = workers.max(1);
        self
    }

    /// Where the bodies events keep in the object store are read.
    pub fn with_payloads(mut self, payloads: Option<Arc<dyn PayloadSource>>) -> Runner {
        self.applier.payloads = payloads;
        self
    }
    /// Watches the runner's progress (for writers waiting on their event).
    pub fn subscribe(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }

    fn reader(&mut self) -> Result<&mut Box<dyn LogReader>, RunnerError> {
        if self.reader.is_none() {
            let starts: Vec<ReadStart> = self
                .progress
                .borrow()
                .positions
                .iter()
                .map(|(tp, offset)| ReadStart {
                    topic_partition: *tp,
                    offset: *offset,
                })
                .collect();
            self.reader = Some(self.log.reader(&starts)?);
        }
        // Just set above when missing.
        Ok(self.reader.as_mut().expect("reader opened"))
    }

    /// Drops the reader; the next step reopens it at the applied positions
    /// (after a log error).
    pub fn reset_reader(&mut self) {
        self.reader = None;
    }

    /// Reads and applies one batch; returns the number of events applied.
    pub fn step(&mut self, timeout: Duration) -> Result<usize, RunnerError> {
        let max = self.batch_size;
        let batch = self.reader()?.poll(max, timeout)?;
        let n = batch.records.len();
        if n > 0 {
            self.apply_batch(&batch.records)?;
        }
        let caught_up = batch.caught_up;
        self.progress.send_if_modified(|p| {
            let changed = n > 0 || p.caught_up != caught_up;
            p.caught_up = caught_up;
            changed
        });
        Ok(n)
    }

    fn apply_batch(&mut self, records: &[LogRecord]) -> Result<(), RunnerError> {
        let mut advanced: BTreeMap<TopicPartition, u64> = BTreeMap::new();
        for record in records {
            let tp = TopicPartition {
                domain: record.domain,
                partition: record.partition,
            };
            advanced.insert(tp, record.offset + 1);
        }
        let groups = self.groups(records, advanced.len());
        let done = if groups.len() <= 1 {
            // Taken out while the batch borrows the tree; on an error the
            // runner stops, so a half-applied map is never used.
            let fences = std::mem::take(&mut self.fences);
            vec![self.applier.apply_all(&self.tree, records.iter(), fences)?]
        } else {
            self.apply_in_parallel(records, groups)?
        };
        let mut writes = Writes::new();
        for part in done {
            self.fences.extend(part.fences);
            for (key, value) in part.writes {
                // Partitions are independent: a key written from two of
                // them would make the view depend on thread timing.
                if writes.insert(key.clone(), value).is_some() {
                    return Err(StoreError::Corrupt {
                        projection: self.id.to_string(),
                        key: String::from_utf8_lossy(&key).into_owned(),
                        reason: "written by events of two partitions applied in parallel".into(),
                    }
                    .into());
                }
            }
        }
        for (tp, next) in &advanced {
            writes.insert(
                keys::position(tp.domain, tp.partition),
                Some(next.to_be_bytes().to_vec()),
            );
        }
        self.tree.commit(writes)?;
        if self.checkpointed.elapsed() >= CHECKPOINT_EVERY {
            self.store.flush()?;
            self.checkpointed = Instant::now();
        }
        let last = records.iter().map(|r| r.timestamp_ms).max();
        let mut by_topic: BTreeMap<Domain, i64> = BTreeMap::new();
        for r in records {
            let newest = by_topic.entry(r.domain).or_insert(r.timestamp_ms);
            *newest = (*newest).max(r.timestamp_ms);
        }
        self.progress.send_modify(|p| {
            p.positions.extend(advanced);
            p.last_timestamp_ms = last.or(p.last_timestamp_ms);
            p.last_timestamp_ms_by_topic.extend(by_topic);
        });
        Ok(())
    }

    /// The partitions of a batch, grouped for the threads that apply them
    /// (one group when they must be applied in one thread).
    fn groups(&self, records: &[LogRecord], partitions: usize) -> Vec<Vec<TopicPartition>> {
        let workers = self.workers.min(partitions);
        if workers <= 1
            || records.len() < PARALLEL_FROM
            || !self.applier.projection.partitions_independent()
        {
            return Vec::new();
        }
        // Spread by the number of records, so that the threads share the
        // work whatever the partitions' sizes.
        let mut sizes: BTreeMap<TopicPartition, usize> = BTreeMap::new();
        for r in records {
            *sizes
                .entry(TopicPartition {
                    domain: r.domain,
                    partition: r.partition,
                })
                .or_default() += 1;
        }
        let mut by_size: Vec<(TopicPartition, usize)> = sizes.into_iter().collect();
        by_size.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut groups = vec![(0usize, Vec::new()); workers];
        for (tp, n) in by_size {
            if let Some(lightest) = groups.iter_mut().min_by_key(|(load, _)| *load) {
                lightest.0 += n;
                lightest.1.push(tp);
            }
        }
        groups.into_iter().map(|(_, tps)| tps).collect()
    }

    /// Applies each group's records (in log order) on a thread of its own
    /// (the first in this one), each into its own overlay over the tree.
    fn apply_in_parallel(
        &mut self,
        records: &[LogRecord],
        groups: Vec<Vec<TopicPartition>>,
    ) -> Result<Vec<AppliedPart>, RunnerError> {
        let fences = std::mem::take(&mut self.fences);
        let (applier, tree) = (&self.applier, &self.tree);
        let part = |group: &[TopicPartition]| {
            let mine: BTreeMap<TopicPartition, Fence> = fences
                .iter()
                .filter(|(tp, _)| group.contains(tp))
                .map(|(tp, f)| (*tp, f.clone()))
                .collect();
            let group = group.to_vec();
            let records = records.iter().filter(move |r| {
                group.contains(&TopicPartition {
                    domain: r.domain,
                    partition: r.partition,
                })
            });
            (records, mine)
        };
        let mut out = std::thread::scope(|scope| -> Result<Vec<AppliedPart>, RunnerError> {
            let mut handles = Vec::with_capacity(groups.len());
            for group in &groups[1..] {
                let (records, mine) = part(group);
                let handle = std::thread::Builder::new()
                    .name(format!("{} apply", applier.label))
                    .spawn_scoped(scope, move || applier.apply_all(tree, records, mine))
                    .map_err(|e| StoreError::Storage {
                        path: applier.label.clone(),
                        reason: format!("starting a thread: {e}"),
                    })?;
                handles.push(handle);
            }
            let (records, mine) = part(&groups[0]);
            let mut out = vec![applier.apply_all(tree, records, mine)?];
            for handle in handles {
                out.push(handle.join().map_err(|_| StoreError::Storage {
                    path: applier.label.clone(),
                    reason: "a thread applying a batch panicked".into(),
                })??);
            }
            Ok(out)
        })?;
        // Fences of partitions no group held this time stay as they were.
        let mut kept = fences;
        for part in &out {
            for tp in part.fences.keys() {
                kept.remove(tp);
            }
        }
        out.push(AppliedPart {
            writes: Writes::new(),
            fences: kept,
        });
        Ok(out)
    }

    /// Applies batches until the log is read to its end (as far as the
    /// backend can tell), `max_batches` batches were applied, or `stop` is
    /// set. `on_batch` is called with the events applied so far.
    pub fn catch_up(
        &mut self,
        max_batches: Option<u64>,
        stop: &AtomicBool,
        mut on_batch: impl FnMut(u64),
    ) -> Result<CatchUp, RunnerError> {
        let quarantined_before = self.store.quarantined(&self.id)?;
        let mut done = CatchUp::default();
        loop {
            if stop.load(Ordering::Relaxed) || max_batches.is_some_and(|m| done.batches >= m) {
                break;
            }
            let n = self.step(Duration::from_millis(200))?;
            if n > 0 {
                done.events += n as u64;
                done.batches += 1;
                on_batch(done.events);
            }
            // The batch that reaches the end says so: no extra empty poll.
            if self.progress.borrow().caught_up {
                done.caught_up = true;
                break;
            }
        }
        done.quarantined = self.store.quarantined(&self.id)? - quarantined_before;
        Ok(done)
    }
}

impl Applier {
    /// Applies records (in log order) into one overlay over the tree: what
    /// one thread does with its part of a batch.
    fn apply_all<'r>(
        &self,
        tree: &ViewTree,
        records: impl Iterator<Item = &'r LogRecord>,
        mut fences: BTreeMap<TopicPartition, Fence>,
    ) -> Result<AppliedPart, RunnerError> {
        let mut txn = ViewTxn::new(tree);
        for record in records {
            self.apply_record(record, &mut txn, &mut fences)?;
        }
        Ok(AppliedPart {
            writes: txn.into_writes(),
            fences,
        })
    }

    fn apply_record(
        &self,
        record: &LogRecord,
        txn: &mut ViewTxn<'_>,
        fences: &mut BTreeMap<TopicPartition, Fence>,
    ) -> Result<(), RunnerError> {
        let mut event = match codec::decode_record(record) {
            Ok(event) => event,
            Err(e) => {
                self.quarantine(record, None, format!("undecodable: {e}"), txn);
                return Ok(());
            }
        };
        event.payload.resolve(self.payloads.as_deref())?;
        let applied = Applied {
            event: &event,
            domain: record.domain,
            position: record.position(),
        };
        match apply_event(self.projection.as_ref(), &applied, fences, txn)? {
            Step::Refused(reason) => {
                self.quarantine(record, Some(&event.event_id.0.into_bytes()), reason, txn);
            }
            Step::Done(outcome) => {
                // Most events apply at the version their position gives;
                // that outcome is implied (see `outcome_of`) rather than
                // written, which saves one write per event on every rebuild.
                if outcome != Outcome::default_for(applied.position) {
                    txn.put_as(keys::outcome(&event.event_id.0.into_bytes()), &outcome);
                }
                txn.commit_event();
            }
        }
        Ok(())
    }

    fn quarantine(
        &self,
        record: &LogRecord,
        event_id: Option<&[u8; 16]>,
        reason: String,
        txn: &mut ViewTxn<'_>,
    ) {
        tracing::warn!(
            projection = %self.label,
            topic = %record.domain,
            partition = record.partition,
            offset = record.offset,
            %reason,
            "event quarantined"
        );
        let header = |name| {
            record
                .header(name)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        let entry = QuarantineRecord {
            topic: self.log.topic_name(record.domain),
            partition: record.partition,
            offset: record.offset,
            event_type: header(HEADER_EVENT_TYPE),
            event_id: header(HEADER_EVENT_ID),
            reason: reason.clone(),
            value: record.value.clone(),
        };
        txn.put(
            keys::quarantine(record.domain, record.partition, record.offset),
            encode(&entry),
        );
        if let Some(id) = event_id {
            txn.put_as(keys::outcome(id), &Outcome::Quarantined { reason });
        }
        txn.commit_event();
    }
}

/// What one decoded event came to in the overlay.
pub(crate) enum Step {
    /// Applied, or rejected (its writes dropped): the outcome to record.
    Done(Outcome),
    /// Refused by the projection (its writes dropped): for the quarantine.
    Refused(String),
}

/// Applies one decoded event into the overlay: its partition's fence
/// first, then the projection. The writes of an event rejected or refused
/// are dropped; recording the outcome, quarantining and committing the
/// event are the caller's (the unit tests' harness calls this too, so the
/// projections are tested through the runner's own step).
pub(crate) fn apply_event(
    projection: &dyn Projection,
    applied: &Applied<'_>,
    fences: &mut BTreeMap<TopicPartition, Fence>,
    txn: &mut ViewTxn<'_>,
) -> Result<Step, StoreError> {
    let event = applied.event;
    let tp = TopicPartition {
        domain: applied.domain,
        partition: applied.position.partition,
    };
    let outcome = match (&event.payload, fences.get(&tp)) {
        (events::Payload::LeaderFenced(fence), _) => {
            apply_fence(fences, tp, applied.position, fence, txn)
        }
        (_, Some(fence)) if event.leader_epoch < fence.epoch => Outcome::Rejected {
            rejection: Rejection::Fenced {
                writer_epoch: event.leader_epoch,
                fence_epoch: fence.epoch,
            },
        },
        _ => match projection.apply(applied, txn) {
            Ok(outcome) => outcome,
            Err(ApplyError::Refused(reason)) => {
                txn.abort_event();
                return Ok(Step::Refused(reason));
            }
            Err(ApplyError::Store(e)) => return Err(e),
        },
    };
    if matches!(outcome, Outcome::Rejected { .. }) {
        // A rejected event changes nothing but its recorded outcome.
        txn.abort_event();
    }
    Ok(Step::Done(outcome))
}

/// A fence raises the partition's epoch; one of a lower epoch than the
/// partition's (a leader that lost the lead, fencing late) is rejected,
/// and one repeating the current fence changes nothing.
fn apply_fence(
    fences: &mut BTreeMap<TopicPartition, Fence>,
    tp: TopicPartition,
    position: LogPosition,
    fence: &events::payload::LeaderFenced,
    txn: &mut ViewTxn<'_>,
) -> Outcome {
    if let Some(current) = fences.get(&tp) {
        let repeated = current.epoch == fence.epoch && current.leader == fence.leader;
        if repeated {
            return Outcome::default_for(position);
        }
        if fence.epoch <= current.epoch {
            return Outcome::Rejected {
                rejection: Rejection::Fenced {
                    writer_epoch: fence.epoch,
                    fence_epoch: current.epoch,
                },
            };
        }
    }
    let stored = Fence {
        epoch: fence.epoch,
        leader: fence.leader.clone(),
    };
    txn.put_as(keys::fence(tp.domain, tp.partition), &stored);
    fences.insert(tp, stored);
    Outcome::default_for(position)
}

/// The outcome of the event `event_id` at `position`, once the
/// projection has passed that position (the caller waits for that): the
/// recorded outcome, or the implied one, applied at the version its
/// position gives.
pub fn outcome_of(
    store: &ViewStore,
    id: &ProjectionId,
    event_id: &events::EventId,
    position: LogPosition,
) -> Result<Outcome, StoreError> {
    let tree = store.tree(id)?;
    let key = keys::outcome(&event_id.0.into_bytes());
    match tree.get(&key)? {
        None => Ok(Outcome::default_for(position)),
        Some(raw) => crate::store::decode(&raw).map_err(|reason| StoreError::Corrupt {
            projection: id.to_string(),
            key: "outcome".into(),
            reason,
        }),
    }
}

/// The last fence a version applied in each partition.
pub fn fences_of(
    store: &ViewStore,
    id: &ProjectionId,
) -> Result<BTreeMap<TopicPartition, Fence>, StoreError> {
    let tree = store.tree(id)?;
    let mut out = BTreeMap::new();
    for item in tree.prefix(keys::FENCE) {
        let (k, v) = item?;
        let corrupt = |reason: String| StoreError::Corrupt {
            projection: id.to_string(),
            key: "fence".into(),
            reason,
        };
        let (domain, partition) = keys::parse_partition(keys::FENCE, &k)
            .ok_or_else(|| corrupt("bad fence key".into()))?;
        out.insert(
            TopicPartition { domain, partition },
            crate::store::decode(&v).map_err(corrupt)?,
        );
    }
    Ok(out)
}

/// Every outcome a version recorded (those other than the implied one).
pub fn recorded_outcomes(store: &ViewStore, id: &ProjectionId) -> Result<Vec<Outcome>, StoreError> {
    let tree = crate::view::ReadTree::new(store.tree(id)?);
    Ok(tree
        .list::<Outcome>(keys::OUTCOME)?
        .into_iter()
        .map(|(_, o)| o)
        .collect())
}

/// The quarantine of a projection version, in log order.
pub fn quarantine_of(
    store: &ViewStore,
    id: &ProjectionId,
) -> Result<Vec<QuarantineRecord>, StoreError> {
    let tree = store.tree(id)?;
    let mut out = Vec::new();
    for item in tree.prefix(keys::QUARANTINE) {
        let (_, v) = item?;
        out.push(
            crate::store::decode(&v).map_err(|reason| StoreError::Corrupt {
                projection: id.to_string(),
                key: "quarantine".into(),
                reason,
            })?,
        );
    }
    Ok(out)
}
