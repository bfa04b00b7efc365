//! The default log: durable, append-only, in the data directory, with
//! Kafka's model so that code and operators see one shape.
//!
//! A fjall database (see [`crate::storage`]) with one keyspace per
//! partition (`calendar.3`), its records keyed by offset (u64 big-endian),
//! each value a checksummed frame ([`super::frame`]). Keys only grow, so
//! the tables the engine writes out never overlap and its compaction only
//! moves them: the log is written once, not rewritten level by level. An append assigns offsets
//! and writes its records as one atomic batch under a lock, then waits
//! for an fsync that covers them: concurrent appends share one fsync
//! (group commit). Readers see records only up to the *durable* end of a
//! partition, so a view can never get ahead of what survives a crash.
//!
//! The storage engine's journal recovery discards a damaged tail rather
//! than failing; for the log that would silently drop acknowledged
//! records. So every fsync is followed by a note of the ends it made
//! durable (`reprise-acknowledged`, checksummed, written without its own
//! fsync: after a power cut it can only be older than the truth), and a
//! log whose records end before a noted end is refused at open.

use super::{
    frame, partition_of, EventLog, LogError, LogPosition, LogReader, LogRecord, OutgoingRecord,
    ReadBatch, ReadStart, TopicPartition,
};
use crate::domain::Domain;
use crate::storage::{self, Format, Memory, OpenError};
use async_trait::async_trait;
use fjall::{Database, Keyspace, PersistMode};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Partitions per topic when a log is created without an explicit count.
pub const DEFAULT_PARTITIONS: u32 = 8;

const FORMAT: Format = Format {
    kind: "reprise-log",
    version: 2,
};
const META: &str = "meta";
/// The note of acknowledged ends, beside the engine's files.
const ACKNOWLEDGED: &str = "reprise-acknowledged";

/// The embedded log. Cheap to clone; clones share one database.
#[derive(Clone)]
pub struct EmbeddedLog {
    inner: Arc<Inner>,
}

/// Offsets handed out and written, not yet known durable.
struct Appending {
    /// The offset the next appended record of each partition gets.
    next: HashMap<TopicPartition, u64>,
    /// Counts the batches written; an fsync covers every one before it.
    written: u64,
}

struct Inner {
    path: PathBuf,
    db: Database,
    /// One keyspace per partition.
    partitions_ks: HashMap<TopicPartition, Keyspace>,
    /// See [`storage::throttle`].
    write_buffer_bytes: u64,
    partitions: BTreeMap<Domain, u32>,
    appending: Mutex<Appending>,
    /// The last batch an fsync covered; held while one runs, so writers
    /// that queue behind it find their batch covered and return.
    synced: Mutex<u64>,
    /// How far each partition is durable; readers stop there.
    durable: Mutex<HashMap<TopicPartition, u64>>,
    appended: Condvar,
    /// The first failure of an append: the engine refuses writes after a
    /// failed one (it "poisons" itself), so later appends are refused
    /// with this cause until the log is reopened.
    failed: Mutex<Option<String>>,
}

/// The keyspace of a partition: `calendar.3`.
fn keyspace_name(tp: TopicPartition) -> String {
    format!("{}.{}", tp.domain, tp.partition)
}

fn record_key(offset: u64) -> [u8; 8] {
    offset.to_be_bytes()
}

fn offset_of_key(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

impl EmbeddedLog {
    /// Opens (or creates) the log at `path` with the default memory
    /// budget. `partitions` is the count to create topics with; an
    /// existing topic with another count is refused.
    pub fn open(path: &Path, partitions: Option<u32>) -> Result<EmbeddedLog, LogError> {
        EmbeddedLog::open_with(
            path,
            partitions,
            Memory::split(storage::DEFAULT_CACHE_BYTES).0,
        )
    }

    /// [`EmbeddedLog::open`] with the engine's memory bounded by `memory`.
    pub fn open_with(
        path: &Path,
        partitions: Option<u32>,
        memory: Memory,
    ) -> Result<EmbeddedLog, LogError> {
        let display = path.display().to_string();
        let (db, meta) = storage::open(path, memory, META, FORMAT).map_err(|e| match e {
            OpenError::Locked => LogError::Locked {
                path: display.clone(),
            },
            OpenError::Storage(reason) => LogError::Storage {
                path: display.clone(),
                reason,
            },
            other => LogError::Foreign {
                path: display.clone(),
                reason: other.to_string(),
            },
        })?;
        let storage = |e: fjall::Error| LogError::Storage {
            path: display.clone(),
            reason: storage::describe(&e),
        };
        let mut counts = BTreeMap::new();
        let mut next = HashMap::new();
        let mut partitions_ks = HashMap::new();
        for domain in Domain::ALL {
            let key = format!("partitions/{domain}");
            let count = match meta.get(&key).map_err(storage)? {
                Some(raw) => {
                    let stored = raw
                        .as_ref()
                        .try_into()
                        .map(u32::from_be_bytes)
                        .map_err(|_| LogError::Foreign {
                            path: display.clone(),
                            reason: format!("bad partition count for {domain}"),
                        })?;
                    if let Some(configured) = partitions {
                        if configured != stored {
                            return Err(LogError::PartitionMismatch {
                                topic: domain.to_string(),
                                actual: stored,
                                configured,
                            });
                        }
                    }
                    stored
                }
                None => {
                    let count = partitions.unwrap_or(DEFAULT_PARTITIONS).max(1);
                    meta.insert(&key, count.to_be_bytes()).map_err(storage)?;
                    count
                }
            };
            counts.insert(domain, count);
            for partition in 0..count {
                let tp = TopicPartition { domain, partition };
                let records = db
                    .keyspace(&keyspace_name(tp), || storage::keyspace_options(memory))
                    .map_err(storage)?;
                let last = records.last_key_value();
                let end = match last {
                    None => 0,
                    Some(guard) => {
                        let key = guard.key().map_err(storage)?;
                        offset_of_key(&key)
                            .map(|o| o + 1)
                            .ok_or_else(|| LogError::Corrupt {
                                topic: domain.to_string(),
                                partition,
                                offset: 0,
                                reason: "record key is not an offset".into(),
                            })?
                    }
                };
                next.insert(tp, end);
                partitions_ks.insert(tp, records);
            }
        }
        check_acknowledged(path, &next)?;
        storage::settle(&db, &meta).map_err(storage)?;
        let durable = next.clone();
        let inner = Inner {
            path: path.to_path_buf(),
            db,
            partitions_ks,
            write_buffer_bytes: memory.write_buffer_bytes,
            partitions: counts,
            appending: Mutex::new(Appending { next, written: 0 }),
            synced: Mutex::new(0),
            durable: Mutex::new(durable.clone()),
            appended: Condvar::new(),
            failed: Mutex::new(None),
        };
        inner.note_acknowledged(&durable)?;
        Ok(EmbeddedLog {
            inner: Arc::new(inner),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Bytes the log occupies on disk.
    pub fn size_on_disk(&self) -> Result<u64, LogError> {
        storage::size_on_disk(&self.inner.path).map_err(|e| self.inner.log_error(e.to_string()))
    }

    /// Writes `bytes` as the stored record at `offset` of `tp`, as damage
    /// on disk would leave it; for tests of the refusal of damaged records.
    #[doc(hidden)]
    pub fn damage_for_tests(&self, tp: TopicPartition, offset: u64, bytes: &[u8]) {
        self.inner.partitions_ks[&tp]
            .insert(record_key(offset), bytes)
            .expect("test damage written");
    }
}

/// Refuses a log whose records end before the ends noted as acknowledged.
fn check_acknowledged(path: &Path, ends: &HashMap<TopicPartition, u64>) -> Result<(), LogError> {
    let Some(noted) = read_acknowledged(&path.join(ACKNOWLEDGED)) else {
        return Ok(());
    };
    for (tp, acknowledged) in noted {
        let end = ends.get(&tp).copied().unwrap_or(0);
        if end < acknowledged {
            return Err(LogError::Corrupt {
                topic: tp.domain.to_string(),
                partition: tp.partition,
                offset: end,
                reason: format!(
                    "records up to offset {} were acknowledged as durable, but the store holds \
                     them only up to offset {end}: its journal was damaged and lost them; \
                     refusing to serve a log that lost records (restore the data directory \
                     from a backup, or clone it from a copy of the log)",
                    acknowledged - 1
                ),
            });
        }
    }
    Ok(())
}

/// `(topic len u8 ‖ topic ‖ partition u32 ‖ end u64)* ‖ crc32`; None when
/// missing or torn (then nothing is checked).
fn read_acknowledged(path: &Path) -> Option<Vec<(TopicPartition, u64)>> {
    let bytes = std::fs::read(path).ok()?;
    let (body, crc) = bytes.split_last_chunk::<4>()?;
    if u32::from_be_bytes(*crc) != crc32fast::hash(body) {
        tracing::warn!(path = %path.display(), "the note of acknowledged ends is torn; not checked");
        return None;
    }
    let mut out = Vec::new();
    let mut rest = body;
    while let Some((&len, tail)) = rest.split_first() {
        let (topic, tail) = tail.split_at_checked(usize::from(len))?;
        let (partition, tail) = tail.split_first_chunk::<4>()?;
        let (end, tail) = tail.split_first_chunk::<8>()?;
        let domain = std::str::from_utf8(topic).ok()?.parse().ok()?;
        out.push((
            TopicPartition {
                domain,
                partition: u32::from_be_bytes(*partition),
            },
            u64::from_be_bytes(*end),
        ));
        rest = tail;
    }
    Some(out)
}

fn encode_acknowledged(ends: &HashMap<TopicPartition, u64>) -> Vec<u8> {
    let mut sorted: Vec<_> = ends.iter().collect();
    sorted.sort();
    let mut out = Vec::with_capacity(sorted.len() * 24 + 4);
    for (tp, end) in sorted {
        let topic = tp.domain.as_str().as_bytes();
        out.push(topic.len() as u8);
        out.extend_from_slice(topic);
        out.extend_from_slice(&tp.partition.to_be_bytes());
        out.extend_from_slice(&end.to_be_bytes());
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

impl Inner {
    /// An append's storage failure, remembered as the cause of every
    /// later refusal.
    fn append_failed(&self, e: fjall::Error) -> LogError {
        let mut failed = lock(&self.failed);
        let cause = failed.get_or_insert_with(|| storage::describe(&e)).clone();
        self.log_error(cause)
    }

    fn refusal(&self) -> Option<String> {
        lock(&self.failed).as_ref().map(|cause| {
            format!("refusing writes since one failed ({cause}); restart once the cause is fixed")
        })
    }

    fn log_error(&self, reason: String) -> LogError {
        LogError::Storage {
            path: self.path.display().to_string(),
            reason,
        }
    }

    /// Notes the ends an fsync made durable. The note has a fixed length
    /// for a log (every partition is listed), so it is rewritten in place.
    fn note_acknowledged(&self, ends: &HashMap<TopicPartition, u64>) -> Result<(), LogError> {
        use std::os::unix::fs::FileExt;
        let bytes = encode_acknowledged(ends);
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.path.join(ACKNOWLEDGED))
            .and_then(|file| file.write_all_at(&bytes, 0))
            .map_err(|e| self.log_error(format!("noting the acknowledged ends: {e}")))
    }

    /// Writes records and makes them durable. Blocking (writes and
    /// fsyncs); callers on an async runtime run it on a blocking thread.
    fn append_blocking(
        &self,
        domain: Domain,
        records: Vec<OutgoingRecord>,
    ) -> Result<Vec<LogPosition>, LogError> {
        let count = self.partitions[&domain];
        if let Some(partition) = records
            .iter()
            .map(|r| partition_of(r, count))
            .find(|&p| p >= count)
        {
            return Err(LogError::UnknownPartition {
                topic: domain.to_string(),
                partition,
            });
        }
        if let Some(refusal) = self.refusal() {
            return Err(self.log_error(refusal));
        }
        let mut positions = Vec::with_capacity(records.len());
        let ticket = {
            // Offsets are assigned and written under one lock, so batches
            // reach the journal in offset order: an fsync never makes a
            // later offset durable without the earlier ones.
            let mut appending = lock(&self.appending);
            let mut batch = self.db.batch();
            for record in &records {
                let tp = TopicPartition {
                    domain,
                    partition: partition_of(record, count),
                };
                let slot = appending.next.entry(tp).or_insert(0);
                positions.push(LogPosition {
                    partition: tp.partition,
                    offset: *slot,
                });
                batch.insert(
                    &self.partitions_ks[&tp],
                    record_key(*slot),
                    frame::encode(record),
                );
                *slot += 1;
            }
            if let Err(e) = batch.commit() {
                // Nothing of this append is visible (readers stop at the
                // durable end); give the offsets back so none is skipped.
                for (record, position) in records.iter().zip(&positions).rev() {
                    let tp = TopicPartition {
                        domain,
                        partition: partition_of(record, count),
                    };
                    let slot = appending.next.entry(tp).or_insert(0);
                    *slot = (*slot).min(position.offset);
                }
                return Err(self.append_failed(e));
            }
            appending.written += 1;
            appending.written
        };
        // The partition of the last record written stands for those of
        // the append when memtables must be sealed.
        if let Some(last) = positions.last() {
            let tp = TopicPartition {
                domain,
                partition: last.partition,
            };
            storage::throttle(&self.db, &self.partitions_ks[&tp], self.write_buffer_bytes)
                .map_err(|e| self.append_failed(e))?;
        }
        self.sync_through(ticket)?;
        Ok(positions)
    }

    /// Returns once an fsync covered the batch `ticket`: the first writer
    /// to get here syncs everything written so far, and the writers that
    /// queued meanwhile find their batches covered.
    fn sync_through(&self, ticket: u64) -> Result<(), LogError> {
        let mut synced = lock(&self.synced);
        if *synced >= ticket {
            return Ok(());
        }
        let (covered, ends) = {
            let appending = lock(&self.appending);
            (appending.written, appending.next.clone())
        };
        self.db
            .persist(PersistMode::SyncData)
            .map_err(|e| self.append_failed(e))?;
        *lock(&self.durable) = ends.clone();
        *synced = covered;
        self.appended.notify_all();
        self.note_acknowledged(&ends)
    }
}

impl Drop for Inner {
    /// A clean close: the records written out, so the next open replays
    /// no journal.
    fn drop(&mut self) {
        if let Err(e) = storage::write_out(&self.db) {
            tracing::warn!(log = %self.path.display(), error = %e, "closing the log");
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere never leaves these maps half-updated, so a
    // poisoned lock still holds consistent data.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[async_trait]
impl EventLog for EmbeddedLog {
    fn describe(&self) -> String {
        format!("embedded log at {}", self.inner.path.display())
    }

    fn refusing_appends(&self) -> Option<String> {
        self.inner.refusal()
    }

    fn topic_name(&self, domain: Domain) -> String {
        domain.to_string()
    }

    fn partitions(&self, domain: Domain) -> u32 {
        self.inner.partitions[&domain]
    }

    async fn append(
        &self,
        domain: Domain,
        records: Vec<OutgoingRecord>,
    ) -> Result<Vec<LogPosition>, LogError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.append_blocking(domain, records))
            .await
            .map_err(|e| LogError::Storage {
                path: self.inner.path.display().to_string(),
                reason: format!("the append task failed: {e}"),
            })?
    }

    fn reader(&self, starts: &[ReadStart]) -> Result<Box<dyn LogReader>, LogError> {
        for s in starts {
            let tp = s.topic_partition;
            if tp.partition >= self.inner.partitions[&tp.domain] {
                return Err(LogError::UnknownPartition {
                    topic: tp.domain.to_string(),
                    partition: tp.partition,
                });
            }
        }
        Ok(Box::new(EmbeddedReader {
            inner: self.inner.clone(),
            positions: starts
                .iter()
                .map(|s| (s.topic_partition, s.offset))
                .collect(),
            cursor: 0,
        }))
    }

    async fn end_offsets(&self, domain: Domain) -> Result<Vec<u64>, LogError> {
        let durable = lock(&self.inner.durable);
        Ok((0..self.partitions(domain))
            .map(|partition| {
                durable
                    .get(&TopicPartition { domain, partition })
                    .copied()
                    .unwrap_or(0)
            })
            .collect())
    }
}

struct EmbeddedReader {
    inner: Arc<Inner>,
    positions: Vec<(TopicPartition, u64)>,
    cursor: usize,
}

impl EmbeddedReader {
    fn durable_ends(&self) -> Vec<u64> {
        let durable = lock(&self.inner.durable);
        self.positions
            .iter()
            .map(|(tp, _)| durable.get(tp).copied().unwrap_or(0))
            .collect()
    }

    fn read_available(&mut self, ends: &[u64], max: usize) -> Result<Vec<LogRecord>, LogError> {
        let mut records = Vec::new();
        let n = self.positions.len();
        for step in 0..n {
            if records.len() >= max {
                break;
            }
            let i = (self.cursor + step) % n;
            let (tp, from) = self.positions[i];
            let end = ends[i];
            if from >= end {
                continue;
            }
            let range = self.inner.partitions_ks[&tp].range(record_key(from)..record_key(end));
            for guard in range.take(max - records.len()) {
                let expected = self.positions[i].1;
                let (key, value) = match guard.into_inner() {
                    Ok(kv) => kv,
                    Err(e) => return Err(self.locate_damage(tp, expected, end, e)),
                };
                let corrupt = |reason: &str| LogError::Corrupt {
                    topic: tp.domain.to_string(),
                    partition: tp.partition,
                    offset: expected,
                    reason: reason.to_string(),
                };
                // Offsets are contiguous: a record missing in the middle
                // is damage, never a reason to skip ahead.
                if offset_of_key(&key) != Some(expected) {
                    return Err(corrupt(
                        "record missing (the next stored one is further on)",
                    ));
                }
                let record = frame::decode(tp, expected, &value).map_err(corrupt)?;
                self.positions[i].1 = expected + 1;
                records.push(record);
            }
            if self.positions[i].1 < end && records.len() < max {
                return Err(LogError::Corrupt {
                    topic: tp.domain.to_string(),
                    partition: tp.partition,
                    offset: self.positions[i].1,
                    reason: format!("records missing before the durable end {end}"),
                });
            }
        }
        self.cursor = (self.cursor + 1) % n.max(1);
        Ok(records)
    }

    /// The engine refused a block of a range (a checksum, a read error):
    /// finds the first offset it refuses, so the error names the record.
    fn locate_damage(
        &self,
        tp: TopicPartition,
        from: u64,
        end: u64,
        error: fjall::Error,
    ) -> LogError {
        let offset = (from..end)
            .find(|&o| self.inner.partitions_ks[&tp].get(record_key(o)).is_err())
            .unwrap_or(from);
        LogError::Corrupt {
            topic: tp.domain.to_string(),
            partition: tp.partition,
            offset,
            reason: format!("the store cannot read it: {error}"),
        }
    }
}

impl LogReader for EmbeddedReader {
    fn poll(&mut self, max: usize, timeout: Duration) -> Result<ReadBatch, LogError> {
        let deadline = Instant::now() + timeout;
        loop {
            let ends = self.durable_ends();
            let records = self.read_available(&ends, max.max(1))?;
            let caught_up = self
                .positions
                .iter()
                .zip(&ends)
                .all(|((_, pos), end)| pos >= end);
            let now = Instant::now();
            if !records.is_empty() || now >= deadline {
                return Ok(ReadBatch { records, caught_up });
            }
            // Wait for an append to make something new durable.
            let durable = lock(&self.inner.durable);
            let unchanged = |d: &mut HashMap<TopicPartition, u64>| {
                self.positions
                    .iter()
                    .zip(&ends)
                    .all(|((tp, _), end)| d.get(tp).copied().unwrap_or(0) == *end)
            };
            let _ = self
                .inner
                .appended
                .wait_timeout_while(durable, deadline - now, unchanged)
                .unwrap_or_else(|p| p.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_note_of_acknowledged_ends_round_trips_and_a_torn_one_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(ACKNOWLEDGED);
        let ends: HashMap<_, _> = [
            (
                TopicPartition {
                    domain: Domain::Seen,
                    partition: 3,
                },
                17,
            ),
            (
                TopicPartition {
                    domain: Domain::Calendar,
                    partition: 0,
                },
                0,
            ),
        ]
        .into_iter()
        .collect();
        let bytes = encode_acknowledged(&ends);
        std::fs::write(&path, &bytes).unwrap();
        let back: HashMap<_, _> = read_acknowledged(&path).unwrap().into_iter().collect();
        assert_eq!(back, ends);
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        assert_eq!(read_acknowledged(&path), None);
    }
}
