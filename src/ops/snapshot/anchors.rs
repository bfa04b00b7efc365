//! Anchors: what identifies the log a snapshot was taken on, the digest
//! of the last record each version applied in each partition.

use super::format::{record_digest, Anchor, SnapshotError, VersionInfo};
use events::log::{ReadStart, TopicPartition};
use events::{EventLog, LogError, LogRecord};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The records at the wanted positions, several in one partition allowed
/// (None where the log has no record there): one reader per round, each
/// round taking at most one offset per partition.
pub(super) async fn records_at(
    log: &Arc<dyn EventLog>,
    wanted: &[(TopicPartition, u64)],
) -> Result<BTreeMap<(TopicPartition, u64), Option<LogRecord>>, LogError> {
    let mut found = BTreeMap::new();
    let mut rest = wanted.to_vec();
    while !rest.is_empty() {
        let mut round: Vec<(TopicPartition, u64)> = Vec::new();
        let mut later = Vec::new();
        for (tp, offset) in rest {
            if round.iter().any(|(t, _)| *t == tp) {
                later.push((tp, offset));
            } else {
                round.push((tp, offset));
            }
        }
        let read = one_record_per_partition(log.clone(), round.clone()).await?;
        for (tp, offset) in round {
            found.insert((tp, offset), read.get(&tp).cloned().flatten());
        }
        rest = later;
    }
    Ok(found)
}

/// The wanted record of each partition, read from the log (None where the
/// log has no record at that offset).
async fn one_record_per_partition(
    log: Arc<dyn EventLog>,
    wanted: Vec<(TopicPartition, u64)>,
) -> Result<BTreeMap<TopicPartition, Option<LogRecord>>, LogError> {
    if wanted.is_empty() {
        return Ok(BTreeMap::new());
    }
    let task = tokio::task::spawn_blocking(move || {
        let starts: Vec<ReadStart> = wanted
            .iter()
            .map(|&(topic_partition, offset)| ReadStart {
                topic_partition,
                offset,
            })
            .collect();
        let want: BTreeMap<TopicPartition, u64> = wanted.into_iter().collect();
        let mut found: BTreeMap<TopicPartition, Option<LogRecord>> = BTreeMap::new();
        let mut reader = log.reader(&starts)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while found.len() < want.len() {
            let batch = reader.poll(64, Duration::from_millis(200))?;
            let empty = batch.records.is_empty();
            for r in batch.records {
                let tp = TopicPartition {
                    domain: r.domain,
                    partition: r.partition,
                };
                if let (Some(&offset), false) = (want.get(&tp), found.contains_key(&tp)) {
                    let hit = r.offset == offset;
                    found.insert(tp, hit.then_some(r));
                }
            }
            if (empty && batch.caught_up) || Instant::now() > deadline {
                break;
            }
        }
        for tp in want.keys() {
            found.entry(*tp).or_insert(None);
        }
        Ok(found)
    });
    task.await.map_err(|e| LogError::Storage {
        path: "the snapshot".into(),
        reason: format!("a read task failed: {e}"),
    })?
}

/// The anchors of the written versions: the last record each applied in
/// each partition.
pub async fn anchors(
    log: Arc<dyn EventLog>,
    infos: &[VersionInfo],
) -> Result<Vec<Anchor>, SnapshotError> {
    let mut wanted: Vec<(TopicPartition, u64)> = Vec::new();
    for info in infos {
        for &(domain, partition, next) in &info.positions {
            if next > 0 {
                wanted.push((TopicPartition { domain, partition }, next - 1));
            }
        }
    }
    wanted.sort();
    wanted.dedup();
    // Two versions of one projection may stand at different offsets of a
    // partition.
    let found = records_at(&log, &wanted).await?;
    let mut anchors = Vec::new();
    for (tp, offset) in wanted {
        let record = found
            .get(&(tp, offset))
            .and_then(Option::as_ref)
            .ok_or_else(|| {
                SnapshotError::Refused(format!(
                    "the log has no record at {}/{} offset {offset}, which the views applied",
                    tp.domain, tp.partition
                ))
            })?;
        anchors.push(Anchor {
            domain: tp.domain,
            partition: tp.partition,
            offset,
            record_sha256: record_digest(record),
        });
    }
    Ok(anchors)
}
