//! Copying a log record by record: each record to its own partition at
//! its own offset, every appended position checked against the source's.
//! Also what a copy needs to know of its source first: where each
//! partition ends, and its one partition count.

use events::log::{all_end_offsets, LogReader, ReadStart, TopicPartition};
use events::{Domain, EventLog, LogError, LogRecord, OutgoingRecord};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::bounds::Bounds;

/// How long a copy waits for records the source said it had (a Kafka
/// watermark) before giving up on them.
const STALL_LIMIT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(
        "the source log's topics have different partition counts ({0}); the embedded log \
         has one count for every topic, so a copy with the same partitions is impossible"
    )]
    UnevenPartitions(String),
    #[error(
        "{topic}/{partition}: the source's next record is at offset {found}, not {expected} \
         (records removed by retention or compaction?); a copy with the same offsets is impossible"
    )]
    Gap {
        topic: String,
        partition: u32,
        expected: u64,
        found: u64,
    },
    #[error(
        "{topic}/{partition}: the copy's record went to partition {got_partition} offset \
         {got_offset}, not {partition} offset {expected}; copy aborted"
    )]
    Misplaced {
        topic: String,
        partition: u32,
        expected: u64,
        got_partition: u32,
        got_offset: u64,
    },
    #[error(
        "{topic}/{partition}: the source said it ends at offset {end} but no record after \
         {next} came within {STALL_LIMIT:?}"
    )]
    Stalled {
        topic: String,
        partition: u32,
        next: u64,
        end: u64,
    },
    #[error(transparent)]
    Log(#[from] LogError),
}

/// What was copied of one topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicCopy {
    pub domain: Domain,
    pub topic: String,
    pub events: u64,
    /// Per partition: where the copy stopped (the copy's end offset), and
    /// the source's end when the copy started.
    pub cuts: Vec<(u64, u64)>,
}

/// The ends a copy stops at: every log's `end_offsets` are exact (the
/// embedded log's durable ends, Kafka's high watermarks, a server's
/// log's through it).
pub async fn source_ends(
    log: Arc<dyn EventLog>,
) -> Result<BTreeMap<TopicPartition, u64>, LogError> {
    all_end_offsets(log.as_ref()).await
}

/// The one partition count of every topic of a log, or why there is none.
pub fn uniform_partitions(log: &dyn EventLog) -> Result<u32, CopyError> {
    let counts: Vec<u32> = Domain::ALL.iter().map(|&d| log.partitions(d)).collect();
    if counts.windows(2).all(|w| w[0] == w[1]) {
        Ok(counts[0])
    } else {
        Err(CopyError::UnevenPartitions(
            Domain::ALL
                .iter()
                .zip(&counts)
                .map(|(d, c)| format!("{d}: {c}"))
                .collect::<Vec<_>>()
                .join(", "),
        ))
    }
}

/// One poll, on a blocking thread (readers block).
async fn poll(
    mut reader: Box<dyn LogReader>,
    max: usize,
) -> Result<(Box<dyn LogReader>, events::log::ReadBatch), CopyError> {
    let (reader, batch) = tokio::task::spawn_blocking(move || {
        let batch = reader.poll(max, Duration::from_millis(500));
        (reader, batch)
    })
    .await
    .map_err(|e| LogError::Storage {
        path: "the copy".into(),
        reason: format!("a read task failed: {e}"),
    })?;
    Ok((reader, batch?))
}

/// Copies `source` into the empty `dest`, topic by topic, each record to
/// its own partition at its own offset, up to `bounds` and to the ends
/// `ends` the source had when the copy started (so a copy of a live log
/// terminates). `progress` gets the number of records copied so far.
pub async fn copy_log(
    source: &dyn EventLog,
    dest: &dyn EventLog,
    ends: &BTreeMap<TopicPartition, u64>,
    bounds: &Bounds,
    batch_size: usize,
    mut progress: impl FnMut(u64),
) -> Result<Vec<TopicCopy>, CopyError> {
    let batch_size = batch_size.max(1);
    let mut copied_total = 0u64;
    let mut report = Vec::new();
    for domain in Domain::ALL {
        let topic = source.topic_name(domain);
        let count = source.partitions(domain);
        let mut next = vec![0u64; count as usize];
        let mut done = vec![false; count as usize];
        // The offset each partition is copied up to, at most.
        let targets: Vec<u64> = (0..count)
            .map(|partition| {
                let tp = TopicPartition { domain, partition };
                let end = ends.get(&tp).copied().unwrap_or(0);
                bounds.offsets.get(&tp).map_or(end, |&o| o.min(end))
            })
            .collect();
        let starts: Vec<ReadStart> = (0..count)
            .filter(|&p| targets[p as usize] > 0)
            .map(|partition| ReadStart {
                topic_partition: TopicPartition { domain, partition },
                offset: 0,
            })
            .collect();
        for p in 0..count as usize {
            done[p] = targets[p] == 0;
        }
        let mut events = 0u64;
        if !starts.is_empty() {
            let mut reader = source.reader(&starts)?;
            let mut last_progress = Instant::now();
            while done.iter().any(|d| !d) {
                let (back, batch) = poll(reader, batch_size).await?;
                reader = back;
                let finished_before = done.iter().filter(|d| **d).count();
                // Any record read is progress, even one of a partition
                // already cut.
                if !batch.records.is_empty() {
                    last_progress = Instant::now();
                }
                let mut records = Vec::with_capacity(batch.records.len());
                let mut expected = Vec::with_capacity(batch.records.len());
                for record in batch.records {
                    let p = record.partition as usize;
                    if p >= next.len() || done[p] {
                        continue;
                    }
                    if record.offset < next[p] {
                        continue; // delivered again after a reconnect
                    }
                    if record.offset > next[p] {
                        return Err(CopyError::Gap {
                            topic: topic.clone(),
                            partition: record.partition,
                            expected: next[p],
                            found: record.offset,
                        });
                    }
                    if bounds.until_ms.is_some_and(|t| record.timestamp_ms > t) {
                        done[p] = true;
                        continue;
                    }
                    next[p] += 1;
                    if next[p] >= targets[p] {
                        done[p] = true;
                    }
                    expected.push((record.partition, record.offset));
                    records.push(outgoing(record));
                }
                let finished_now = done.iter().filter(|d| **d).count();
                if finished_now > finished_before && finished_now < done.len() {
                    // Stop reading the partitions that are cut.
                    let rest: Vec<ReadStart> = (0..count)
                        .filter(|&p| !done[p as usize])
                        .map(|partition| ReadStart {
                            topic_partition: TopicPartition { domain, partition },
                            offset: next[partition as usize],
                        })
                        .collect();
                    reader = source.reader(&rest)?;
                }
                if records.is_empty() {
                    if last_progress.elapsed() > STALL_LIMIT {
                        let p = done.iter().position(|d| !d).unwrap_or(0);
                        return Err(CopyError::Stalled {
                            topic,
                            partition: p as u32,
                            next: next[p],
                            end: targets[p],
                        });
                    }
                    continue;
                }
                let n = records.len() as u64;
                let positions = dest.append(domain, records).await?;
                for (got, (partition, offset)) in positions.iter().zip(&expected) {
                    if got.partition != *partition || got.offset != *offset {
                        return Err(CopyError::Misplaced {
                            topic: topic.clone(),
                            partition: *partition,
                            expected: *offset,
                            got_partition: got.partition,
                            got_offset: got.offset,
                        });
                    }
                }
                if positions.len() != expected.len() {
                    return Err(LogError::Storage {
                        path: dest.describe(),
                        reason: format!(
                            "{} positions for {} records appended",
                            positions.len(),
                            expected.len()
                        ),
                    }
                    .into());
                }
                events += n;
                copied_total += n;
                progress(copied_total);
            }
        }
        report.push(TopicCopy {
            domain,
            topic,
            events,
            cuts: next
                .iter()
                .zip(0..count)
                .map(|(&n, partition)| {
                    let tp = TopicPartition { domain, partition };
                    (n, ends.get(&tp).copied().unwrap_or(0))
                })
                .collect(),
        });
    }
    Ok(report)
}

/// The record to append for one read: the same key, headers, value and
/// timestamp, into the same partition.
fn outgoing(record: LogRecord) -> OutgoingRecord {
    OutgoingRecord {
        partition: Some(record.partition),
        key: record.key,
        headers: record.headers,
        value: record.value,
        timestamp_ms: record.timestamp_ms,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use events::log::EmbeddedLog;
    use std::path::Path;

    fn embedded(dir: &Path, partitions: u32) -> EmbeddedLog {
        EmbeddedLog::open(dir, Some(partitions)).unwrap()
    }

    /// A record whose value says its key and time, so a copy's content can
    /// be checked; the bounds tests use it too.
    pub(in crate::ops::recovery) fn record(
        key: &str,
        ts: i64,
        partition: Option<u32>,
    ) -> OutgoingRecord {
        OutgoingRecord {
            partition,
            key: key.as_bytes().to_vec(),
            headers: vec![("h".into(), b"v".to_vec())],
            value: format!("{key}@{ts}").into_bytes(),
            timestamp_ms: ts,
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn copies_keep_partitions_offsets_and_content_and_stop_at_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let source = embedded(&dir.path().join("src"), 3);
        let mut sent = Vec::new();
        for i in 0..60 {
            sent.push(record(&format!("owner{}", i % 7), 1_000 + i, None));
        }
        source.append(Domain::Calendar, sent.clone()).await.unwrap();
        source
            .append(Domain::Directory, vec![record("example.com", 5, Some(2))])
            .await
            .unwrap();
        let ends = all_end_offsets(&source).await.unwrap();

        // Whole copy.
        let dest = embedded(&dir.path().join("all"), 3);
        let report = copy_log(&source, &dest, &ends, &Bounds::default(), 7, |_| {})
            .await
            .unwrap();
        assert_eq!(all_end_offsets(&dest).await.unwrap(), ends);
        assert_eq!(report.iter().map(|t| t.events).sum::<u64>(), 61);
        let read = |log: &EmbeddedLog| {
            let mut r = log
                .reader(&events::log::starts_from_beginning(log, &Domain::ALL))
                .unwrap();
            let mut all = Vec::new();
            loop {
                let b = r.poll(1000, Duration::from_millis(50)).unwrap();
                let empty = b.records.is_empty();
                all.extend(b.records);
                if empty && b.caught_up {
                    break;
                }
            }
            all.sort_by_key(|r| (r.domain, r.partition, r.offset));
            all
        };
        assert_eq!(read(&source), read(&dest));

        // A time bound: each partition stops at its first later record.
        let bounds = Bounds {
            until_ms: Some(1_029),
            ..Bounds::default()
        };
        let dest = embedded(&dir.path().join("time"), 3);
        copy_log(&source, &dest, &ends, &bounds, 5, |_| {})
            .await
            .unwrap();
        let copied = read(&dest);
        assert_eq!(
            copied.len(),
            30 + 1,
            "30 calendar records up to 1029, and the directory one"
        );
        assert!(copied.iter().all(|r| r.timestamp_ms <= 1_029));

        // Offsets: the listed partition stops there, the others run to the end.
        let cal0 = TopicPartition {
            domain: Domain::Calendar,
            partition: 0,
        };
        let bounds = Bounds {
            until_ms: None,
            offsets: BTreeMap::from([(cal0, 2)]),
        };
        let dest = embedded(&dir.path().join("offsets"), 3);
        copy_log(&source, &dest, &ends, &bounds, 5, |_| {})
            .await
            .unwrap();
        let dest_ends = all_end_offsets(&dest).await.unwrap();
        assert_eq!(dest_ends[&cal0], 2);
        for (tp, end) in &ends {
            if *tp != cal0 {
                assert_eq!(dest_ends[tp], *end, "{tp:?}");
            }
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_copy_whose_records_land_at_other_offsets_is_aborted() {
        let dir = tempfile::tempdir().unwrap();
        let source = embedded(&dir.path().join("src"), 1);
        source
            .append(
                Domain::Seen,
                vec![record("a", 1, None), record("a", 2, None)],
            )
            .await
            .unwrap();
        let ends = all_end_offsets(&source).await.unwrap();
        // A destination that is not empty puts the records at other offsets.
        let dest = embedded(&dir.path().join("dst"), 1);
        dest.append(Domain::Seen, vec![record("x", 0, None)])
            .await
            .unwrap();
        let err = copy_log(&source, &dest, &ends, &Bounds::default(), 10, |_| {})
            .await
            .unwrap_err();
        assert!(matches!(err, CopyError::Misplaced { .. }), "{err}");
        assert!(err.to_string().contains("copy aborted"), "{err}");
    }
}
