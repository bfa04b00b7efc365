//! The default log: durable, append-only, in sled under the data
//! directory, with Kafka's model so that code and operators see one shape.
//!
//! One sled tree per (topic, partition), keyed by big-endian offset. An
//! append assigns offsets under a lock, writes, then flushes; readers only
//! see records up to the *durable* end of a partition, so a view can never
//! get ahead of what survives a crash.

use super::{
    partition_of, EventLog, LogError, LogPosition, LogReader, LogRecord, OutgoingRecord, ReadBatch,
    ReadStart, TopicPartition,
};
use crate::domain::Domain;
use crate::sled_guard::OpenError;
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Partitions per topic when a log is created without an explicit count.
pub const DEFAULT_PARTITIONS: u32 = 8;

const META_TREE: &str = "reprise-meta";
const FORMAT: &[u8] = b"reprise-log 1";

/// The embedded log. Cheap to clone; clones share one database.
#[derive(Clone)]
pub struct EmbeddedLog {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    db: sled::Db,
    partitions: BTreeMap<Domain, u32>,
    trees: HashMap<TopicPartition, sled::Tree>,
    /// The offset the next appended record of each partition gets.
    next: Mutex<HashMap<TopicPartition, u64>>,
    /// How far each partition is durable; readers stop there.
    durable: Mutex<HashMap<TopicPartition, u64>>,
    appended: Condvar,
    /// One fsync at a time: sled 0.34 can deadlock when flushes run
    /// concurrently (spacejam/sled#1308), which concurrent writers hit.
    flushing: Mutex<()>,
}

impl EmbeddedLog {
    /// Opens (or creates) the log at `path`. `partitions` is the count to
    /// create topics with; an existing topic with another count is refused.
    pub fn open(path: &Path, partitions: Option<u32>) -> Result<EmbeddedLog, LogError> {
        let display = path.display().to_string();
        let (db, meta) = crate::sled_guard::open(path, 8 * 1024 * 1024, META_TREE, FORMAT)
            .map_err(|e| match e {
                OpenError::Locked => LogError::Locked {
                    path: display.clone(),
                },
                OpenError::Foreign(reason) => LogError::Foreign {
                    path: display.clone(),
                    reason,
                },
                OpenError::Storage(reason) => LogError::Storage {
                    path: display.clone(),
                    reason,
                },
            })?;
        let storage = |e: sled::Error| LogError::Storage {
            path: display.clone(),
            reason: e.to_string(),
        };

        let mut counts = BTreeMap::new();
        let mut trees = HashMap::new();
        let mut next = HashMap::new();
        for domain in Domain::ALL {
            let key = format!("partitions/{domain}");
            let count = match meta.get(&key).map_err(storage)? {
                Some(raw) => {
                    let stored = u32::from_be_bytes(raw.as_ref().try_into().map_err(|_| {
                        LogError::Foreign {
                            path: display.clone(),
                            reason: format!("bad partition count for {domain}"),
                        }
                    })?);
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
                    meta.insert(&key, &count.to_be_bytes()).map_err(storage)?;
                    count
                }
            };
            counts.insert(domain, count);
            for partition in 0..count {
                let tp = TopicPartition { domain, partition };
                let tree = db
                    .open_tree(format!("{domain}/{partition}"))
                    .map_err(storage)?;
                let end = match tree.last().map_err(storage)? {
                    Some((k, _)) => {
                        offset_from_key(&k)
                            .map(|o| o + 1)
                            .ok_or_else(|| LogError::Corrupt {
                                topic: domain.to_string(),
                                partition,
                                offset: 0,
                                reason: "record key is not an offset".into(),
                            })?
                    }
                    None => 0,
                };
                trees.insert(tp, tree);
                next.insert(tp, end);
            }
        }
        db.flush().map_err(storage)?;
        let durable = next.clone();
        Ok(EmbeddedLog {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                db,
                partitions: counts,
                trees,
                next: Mutex::new(next),
                durable: Mutex::new(durable),
                appended: Condvar::new(),
                flushing: Mutex::new(()),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }
}

impl Inner {
    fn storage_error(&self, e: sled::Error) -> LogError {
        LogError::Storage {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        }
    }

    /// Writes records and makes them durable. Blocking: sled writes and
    /// fsyncs; callers on an async runtime run it on a blocking thread, so
    /// the runtime's workers are never stuck behind sled's locks.
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
        let mut positions = Vec::with_capacity(records.len());
        let mut touched: HashMap<TopicPartition, u64> = HashMap::new();
        {
            let mut next = lock(&self.next);
            let mut batches: HashMap<TopicPartition, sled::Batch> = HashMap::new();
            let mut assigned: Vec<(TopicPartition, u64)> = Vec::with_capacity(records.len());
            for record in &records {
                let tp = TopicPartition {
                    domain,
                    partition: partition_of(record, count),
                };
                let slot = next.entry(tp).or_insert(0);
                let offset = *slot;
                *slot += 1;
                batches
                    .entry(tp)
                    .or_default()
                    .insert(&offset.to_be_bytes(), frame(record));
                assigned.push((tp, offset));
            }
            for (tp, batch) in batches {
                if let Err(e) = self.trees[&tp].apply_batch(batch) {
                    // Nothing of this append is visible (readers stop at the
                    // durable end); give the offsets back so none is skipped.
                    for (tp, offset) in assigned.iter().rev() {
                        let slot = next.entry(*tp).or_insert(0);
                        *slot = (*slot).min(*offset);
                    }
                    return Err(self.storage_error(e));
                }
            }
            for (tp, offset) in assigned {
                positions.push(LogPosition {
                    partition: tp.partition,
                    offset,
                });
                let end = touched.entry(tp).or_insert(0);
                *end = (*end).max(offset + 1);
            }
        }
        {
            // A writer that waited here often finds its records flushed by
            // the one before it; sled's flush is then cheap.
            let _one_at_a_time = lock(&self.flushing);
            self.db.flush().map_err(|e| self.storage_error(e))?;
        }
        {
            let mut durable = lock(&self.durable);
            for (tp, end) in touched {
                let d = durable.entry(tp).or_insert(0);
                *d = (*d).max(end);
            }
        }
        self.appended.notify_all();
        Ok(positions)
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
            if !self.inner.trees.contains_key(&s.topic_partition) {
                return Err(LogError::UnknownPartition {
                    topic: s.topic_partition.domain.to_string(),
                    partition: s.topic_partition.partition,
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
            let tree = &self.inner.trees[&tp];
            let range = tree.range(from.to_be_bytes()..end.to_be_bytes());
            for item in range.take(max - records.len()) {
                let (k, v) = item.map_err(|e| LogError::Storage {
                    path: self.inner.path.display().to_string(),
                    reason: e.to_string(),
                })?;
                let corrupt = |reason: &str| LogError::Corrupt {
                    topic: tp.domain.to_string(),
                    partition: tp.partition,
                    offset: from,
                    reason: reason.to_string(),
                };
                let offset = offset_from_key(&k).ok_or_else(|| corrupt("bad key"))?;
                let record = unframe(tp, offset, &v).ok_or_else(|| corrupt("bad frame"))?;
                self.positions[i].1 = offset + 1;
                records.push(record);
            }
        }
        self.cursor = (self.cursor + 1) % n.max(1);
        Ok(records)
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

fn offset_from_key(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

/// `timestamp i64 | key len u32 | key | header count u16 |
/// (name len u16 | name | value len u32 | value)* | value`, big-endian.
fn frame(record: &OutgoingRecord) -> Vec<u8> {
    let headers: usize = record
        .headers
        .iter()
        .map(|(n, v)| 6 + n.len() + v.len())
        .sum();
    let mut out = Vec::with_capacity(14 + record.key.len() + headers + record.value.len());
    out.extend_from_slice(&record.timestamp_ms.to_be_bytes());
    out.extend_from_slice(&(record.key.len() as u32).to_be_bytes());
    out.extend_from_slice(&record.key);
    out.extend_from_slice(&(record.headers.len() as u16).to_be_bytes());
    for (name, value) in &record.headers {
        out.extend_from_slice(&(name.len() as u16).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(value.len() as u32).to_be_bytes());
        out.extend_from_slice(value);
    }
    out.extend_from_slice(&record.value);
    out
}

fn unframe(tp: TopicPartition, offset: u64, bytes: &[u8]) -> Option<LogRecord> {
    struct Cursor<'a>(&'a [u8]);
    impl<'a> Cursor<'a> {
        fn take(&mut self, n: usize) -> Option<&'a [u8]> {
            if self.0.len() < n {
                return None;
            }
            let (head, rest) = self.0.split_at(n);
            self.0 = rest;
            Some(head)
        }
        fn u16(&mut self) -> Option<usize> {
            Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?) as usize)
        }
        fn u32(&mut self) -> Option<usize> {
            Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?) as usize)
        }
    }
    let mut c = Cursor(bytes);
    let timestamp_ms = i64::from_be_bytes(c.take(8)?.try_into().ok()?);
    let key_len = c.u32()?;
    let key = c.take(key_len)?.to_vec();
    let header_count = c.u16()?;
    let mut headers = Vec::with_capacity(header_count);
    for _ in 0..header_count {
        let n = c.u16()?;
        let name = String::from_utf8(c.take(n)?.to_vec()).ok()?;
        let v = c.u32()?;
        headers.push((name, c.take(v)?.to_vec()));
    }
    Some(LogRecord {
        domain: tp.domain,
        partition: tp.partition,
        offset,
        timestamp_ms,
        key,
        headers,
        value: c.0.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let rec = OutgoingRecord {
            partition: None,
            key: b"alice@example.com".to_vec(),
            headers: vec![("a".into(), b"1".to_vec()), ("bb".into(), vec![])],
            value: vec![1, 2, 3],
            timestamp_ms: -5,
        };
        let tp = TopicPartition {
            domain: Domain::Seen,
            partition: 3,
        };
        let back = unframe(tp, 7, &frame(&rec)).unwrap();
        assert_eq!(back.key, rec.key);
        assert_eq!(back.headers, rec.headers);
        assert_eq!(back.value, rec.value);
        assert_eq!(back.timestamp_ms, -5);
        assert_eq!(back.offset, 7);
        assert!(unframe(tp, 7, &frame(&rec)[..10]).is_none());
    }
}
