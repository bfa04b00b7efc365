//! The embedded log of reprise's first, sled-based build, read-only: what
//! `reprise data-dir convert` copies into the current log, record by
//! record at the same partitions and offsets. Nothing else opens it.
//!
//! Layout (format 1): a sled database with one tree per partition,
//! `{topic}/{partition}`, keyed by big-endian offset, values in
//! [`super::frame::decode_v1`]'s frame; the tree `reprise-meta` holds the
//! format marker and the partition count of each topic.

use super::{
    frame, EventLog, LogError, LogPosition, LogReader, LogRecord, OutgoingRecord, ReadBatch,
    ReadStart, TopicPartition,
};
use crate::domain::Domain;
use crate::sled_guard::{self, OpenError};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const META_TREE: &str = "reprise-meta";
const FORMAT: &[u8] = b"reprise-log 1";

/// A sled-era embedded log, open for reading only.
#[derive(Clone)]
pub struct SledEraLog {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    partitions: BTreeMap<Domain, u32>,
    trees: HashMap<TopicPartition, sled::Tree>,
    ends: HashMap<TopicPartition, u64>,
    // Kept open while trees are read.
    _db: sled::Db,
}

impl SledEraLog {
    /// Opens the sled-era log at `path`. A damaged database (sled would
    /// silently start a new one over it) is refused before sled sees it.
    pub fn open(path: &Path) -> Result<SledEraLog, LogError> {
        let display = path.display().to_string();
        let (db, meta) =
            sled_guard::open(path, 8 * 1024 * 1024, META_TREE, FORMAT).map_err(|e| match e {
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
        let mut partitions = BTreeMap::new();
        let mut trees = HashMap::new();
        let mut ends = HashMap::new();
        for domain in Domain::ALL {
            let raw = meta
                .get(format!("partitions/{domain}"))
                .map_err(storage)?
                .ok_or_else(|| LogError::Foreign {
                    path: display.clone(),
                    reason: format!("no partition count recorded for {domain}"),
                })?;
            let count = <[u8; 4]>::try_from(raw.as_ref())
                .map(u32::from_be_bytes)
                .map_err(|_| LogError::Foreign {
                    path: display.clone(),
                    reason: format!("bad partition count for {domain}"),
                })?;
            partitions.insert(domain, count);
            for partition in 0..count {
                let tp = TopicPartition { domain, partition };
                let tree = db
                    .open_tree(format!("{domain}/{partition}"))
                    .map_err(storage)?;
                let end = match tree.last().map_err(storage)? {
                    None => 0,
                    Some((k, _)) => {
                        offset_of(&k)
                            .map(|o| o + 1)
                            .ok_or_else(|| LogError::Corrupt {
                                topic: domain.to_string(),
                                partition,
                                offset: 0,
                                reason: "record key is not an offset".into(),
                            })?
                    }
                };
                trees.insert(tp, tree);
                ends.insert(tp, end);
            }
        }
        Ok(SledEraLog {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                partitions,
                trees,
                ends,
                _db: db,
            }),
        })
    }
}

/// How far the views of a sled-era data directory (at `path`) had applied
/// each partition: the highest next offset any of its projections stored.
/// sled recovers a truncated database as a shorter one without a word, so
/// this is the evidence that its log is whole: a log that ends before
/// its views did lost records.
///
/// Format 1 views: a sled database, one tree per projection version, each
/// keeping `pos\0{topic}\0{partition u32 BE}` → next offset (u64 BE).
pub fn applied_by_views(path: &Path) -> Result<BTreeMap<TopicPartition, u64>, LogError> {
    const CATALOGUE: &str = "reprise-views";
    const POSITION: &[u8] = b"pos\0";
    let display = path.display().to_string();
    let (db, _) = sled_guard::open(path, 8 * 1024 * 1024, CATALOGUE, b"reprise-views 1").map_err(
        |e| match e {
            OpenError::Locked => LogError::Locked {
                path: display.clone(),
            },
            OpenError::Foreign(reason) | OpenError::Storage(reason) => LogError::Foreign {
                path: display.clone(),
                reason,
            },
        },
    )?;
    let corrupt = |reason: String| LogError::Foreign {
        path: display.clone(),
        reason,
    };
    let mut applied = BTreeMap::new();
    for name in db.tree_names() {
        if name.as_ref() == CATALOGUE.as_bytes() || name.as_ref() == b"__sled__default" {
            continue;
        }
        let tree = db.open_tree(&name).map_err(|e| corrupt(e.to_string()))?;
        for item in tree.scan_prefix(POSITION) {
            let (k, v) = item.map_err(|e| corrupt(e.to_string()))?;
            let parsed = k
                .strip_prefix(POSITION)
                .and_then(|rest| rest.split_last_chunk::<5>())
                .and_then(|(topic, partition)| {
                    let domain = std::str::from_utf8(topic).ok()?.parse().ok()?;
                    let partition = partition.strip_prefix(&[0])?.try_into().ok()?;
                    let next = u64::from_be_bytes(v.as_ref().try_into().ok()?);
                    Some((domain, u32::from_be_bytes(partition), next))
                });
            let Some((domain, partition, next)) = parsed else {
                return Err(corrupt(format!(
                    "a position of {} cannot be read",
                    String::from_utf8_lossy(&name)
                )));
            };
            let slot = applied
                .entry(TopicPartition { domain, partition })
                .or_insert(0);
            *slot = (*slot).max(next);
        }
    }
    Ok(applied)
}

/// Refuses a log that ends before what its views had applied.
pub fn check_against_views(
    log: &SledEraLog,
    applied: &BTreeMap<TopicPartition, u64>,
) -> Result<(), LogError> {
    for (tp, &next) in applied {
        let end = log.inner.ends.get(tp).copied().unwrap_or(0);
        if end < next {
            return Err(LogError::Corrupt {
                topic: tp.domain.to_string(),
                partition: tp.partition,
                offset: end,
                reason: format!(
                    "the log ends at offset {end}, but its views had applied records up to \
                     offset {}: the log is truncated or damaged",
                    next - 1
                ),
            });
        }
    }
    Ok(())
}

fn offset_of(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

#[async_trait]
impl EventLog for SledEraLog {
    fn describe(&self) -> String {
        format!(
            "sled-era embedded log at {} (read-only)",
            self.inner.path.display()
        )
    }

    fn topic_name(&self, domain: Domain) -> String {
        domain.to_string()
    }

    fn partitions(&self, domain: Domain) -> u32 {
        self.inner.partitions[&domain]
    }

    async fn append(
        &self,
        _domain: Domain,
        _records: Vec<OutgoingRecord>,
    ) -> Result<Vec<LogPosition>, LogError> {
        Err(LogError::Storage {
            path: self.inner.path.display().to_string(),
            reason: "a sled-era log is only read, to convert it".into(),
        })
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
        Ok(Box::new(SledEraReader {
            inner: self.inner.clone(),
            positions: starts
                .iter()
                .map(|s| (s.topic_partition, s.offset))
                .collect(),
            cursor: 0,
        }))
    }

    async fn end_offsets(&self, domain: Domain) -> Result<Vec<u64>, LogError> {
        Ok((0..self.partitions(domain))
            .map(|partition| {
                self.inner
                    .ends
                    .get(&TopicPartition { domain, partition })
                    .copied()
                    .unwrap_or(0)
            })
            .collect())
    }
}

struct SledEraReader {
    inner: Arc<Inner>,
    positions: Vec<(TopicPartition, u64)>,
    cursor: usize,
}

impl LogReader for SledEraReader {
    fn poll(&mut self, max: usize, _timeout: Duration) -> Result<ReadBatch, LogError> {
        let max = max.max(1);
        let mut records: Vec<LogRecord> = Vec::new();
        let n = self.positions.len();
        for step in 0..n {
            if records.len() >= max {
                break;
            }
            let i = (self.cursor + step) % n;
            let (tp, from) = self.positions[i];
            let end = self.inner.ends[&tp];
            if from >= end {
                continue;
            }
            let tree = &self.inner.trees[&tp];
            for item in tree
                .range(from.to_be_bytes()..end.to_be_bytes())
                .take(max - records.len())
            {
                let expected = self.positions[i].1;
                let corrupt = |reason: String| LogError::Corrupt {
                    topic: tp.domain.to_string(),
                    partition: tp.partition,
                    offset: expected,
                    reason,
                };
                let (k, v) = item.map_err(|e| corrupt(e.to_string()))?;
                if offset_of(&k) != Some(expected) {
                    return Err(corrupt("record missing".into()));
                }
                let record = frame::decode_v1(tp, expected, &v)
                    .ok_or_else(|| corrupt("record frame does not parse".into()))?;
                self.positions[i].1 = expected + 1;
                records.push(record);
            }
        }
        self.cursor = (self.cursor + 1) % n.max(1);
        let caught_up = self
            .positions
            .iter()
            .all(|(tp, pos)| *pos >= self.inner.ends[tp]);
        Ok(ReadBatch { records, caught_up })
    }
}
