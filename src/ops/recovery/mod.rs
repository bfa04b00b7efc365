//! `reprise clone` and point-in-time rebuilds (`rebuild --until ... --into
//! DIR`): copy a log, whole or up to a cut, into a new data directory's
//! own embedded log, record by record with the same partition and offset,
//! then build that directory's views from it.
//!
//! Why offsets and not just events: ETags, ctags, sync tokens and mail
//! modseqs are log positions, so a copy with identical positions serves
//! identical views (`ViewStore::digest` proves it) to clients that synced
//! against the source. Each appended position is checked against the
//! source's; any difference aborts the copy and removes what it wrote.
//!
//! The copy only ever reads the source. Its writes, and everything a
//! server on the new directory does later, go to the new directory's own
//! log: a clone is a complete, independent installation.

use crate::cli::LogArgs;
use crate::cli::{BoundArgs, CloneArgs, RebuildCommand};
use anyhow::{bail, Context};
use events::log::{
    all_end_offsets, EmbeddedLog, KafkaConfig, KafkaLog, LogReader, ReadStart, TopicPartition,
};
use events::{Domain, EventLog, LogError, LogRecord, OutgoingRecord};
use projections::registry;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a copy waits for records the source said it had (a Kafka
/// watermark) before giving up on them.
const STALL_LIMIT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("{0}")]
    BadBound(String),
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

/// Where each partition's copy stops.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bounds {
    /// Stop each partition at its first record later than this (Unix ms).
    pub until_ms: Option<i64>,
    /// Exclusive end offsets of the listed partitions.
    pub offsets: BTreeMap<TopicPartition, u64>,
}

impl Bounds {
    pub fn is_empty(&self) -> bool {
        self.until_ms.is_none() && self.offsets.is_empty()
    }
}

/// Parses the bound flags against a log and the ends it had when the copy
/// started: unknown topics, partitions out of range and offsets beyond a
/// partition's end are refused before anything is written.
pub fn parse_bounds(
    args: &BoundArgs,
    log: &dyn EventLog,
    ends: &BTreeMap<TopicPartition, u64>,
) -> Result<Bounds, CopyError> {
    let mut bounds = Bounds::default();
    if let Some(text) = &args.until {
        let time = crate::ops::log::parse_time(text)
            .map_err(|e| CopyError::BadBound(format!("--until: {e:#}")))?;
        bounds.until_ms = Some(time.timestamp_millis());
    }
    for item in args.until_offsets.iter().map(|s| s.trim()) {
        if item.is_empty() {
            continue;
        }
        let bad = |why: String| CopyError::BadBound(format!("--until-offsets {item:?}: {why}"));
        let (place, offset) = item
            .split_once('=')
            .ok_or_else(|| bad("expected TOPIC/PARTITION=OFFSET".into()))?;
        let (topic, partition) = place
            .rsplit_once('/')
            .ok_or_else(|| bad("expected TOPIC/PARTITION=OFFSET".into()))?;
        let domain = Domain::ALL
            .into_iter()
            .find(|d| d.as_str() == topic || log.topic_name(*d) == topic)
            .ok_or_else(|| {
                bad(format!(
                    "no topic {topic:?} in the {} (topics: {})",
                    log.describe(),
                    Domain::ALL
                        .iter()
                        .map(|d| d.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        let partition: u32 = partition
            .parse()
            .map_err(|_| bad(format!("{partition:?} is not a partition number")))?;
        let count = log.partitions(domain);
        if partition >= count {
            return Err(bad(format!(
                "{domain} has {count} partitions (0 to {})",
                count.saturating_sub(1)
            )));
        }
        let offset: u64 = offset
            .parse()
            .map_err(|_| bad(format!("{offset:?} is not an offset")))?;
        let tp = TopicPartition { domain, partition };
        let end = ends.get(&tp).copied().unwrap_or(0);
        if offset > end {
            return Err(bad(format!(
                "{domain}/{partition} ends at offset {end}; it has no offset {offset} to stop at"
            )));
        }
        if bounds.offsets.insert(tp, offset).is_some() {
            return Err(bad(format!("{domain}/{partition} is named twice")));
        }
    }
    Ok(bounds)
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

/// Whether a log's `end_offsets` are exact: the embedded log's are its
/// durable ends, Kafka's are watermark answers that some brokers get wrong
/// after batched produces (tansu answers the batch count). A log read
/// through a server is described by the server's log first.
pub fn ends_are_exact(log: &dyn EventLog) -> bool {
    !log.describe().starts_with("kafka at")
}

/// The end of every partition as reading finds it: every partition read
/// to its end once (what `log stats` does too). For logs whose end offset
/// answers are not exact; on a live log it stops at the first moment it
/// has caught up.
pub async fn read_ends(log: Arc<dyn EventLog>) -> Result<BTreeMap<TopicPartition, u64>, LogError> {
    let task = tokio::task::spawn_blocking(move || {
        let starts = events::log::starts_from_beginning(log.as_ref(), &Domain::ALL);
        let mut ends: BTreeMap<TopicPartition, u64> =
            starts.iter().map(|s| (s.topic_partition, 0)).collect();
        let mut reader = log.reader(&starts)?;
        loop {
            let batch = reader.poll(5_000, Duration::from_millis(200))?;
            let empty = batch.records.is_empty();
            for r in &batch.records {
                let end = ends
                    .entry(TopicPartition {
                        domain: r.domain,
                        partition: r.partition,
                    })
                    .or_insert(0);
                *end = (*end).max(r.offset + 1);
            }
            if empty && batch.caught_up {
                return Ok(ends);
            }
        }
    });
    task.await.map_err(|e| LogError::Storage {
        path: "the copy".into(),
        reason: format!("a read task failed: {e}"),
    })?
}

/// The ends a copy stops at: asked of the log when its answers are exact,
/// else found by reading it once.
pub async fn source_ends(
    log: Arc<dyn EventLog>,
) -> Result<BTreeMap<TopicPartition, u64>, LogError> {
    if ends_are_exact(log.as_ref()) {
        all_end_offsets(log.as_ref()).await
    } else {
        read_ends(log).await
    }
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

/// A destination data directory being written: removed again unless the
/// copy finishes, so that a failed copy leaves nothing behind.
struct Destination {
    path: PathBuf,
    /// Whether the directory itself was made here (else it existed empty).
    made: bool,
    keep: bool,
}

impl Destination {
    /// Checks that `path` is new or an empty directory.
    fn check(path: &Path) -> anyhow::Result<bool> {
        match std::fs::read_dir(path) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    bail!(
                        "{} is not empty; a copy goes into a new or empty data directory \
                         (it never merges into an existing installation)",
                        path.display()
                    );
                }
                Ok(false)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
                bail!("{} is a file, not a directory", path.display())
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
}

impl Drop for Destination {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let result = if self.made {
            std::fs::remove_dir_all(&self.path)
        } else {
            std::fs::read_dir(&self.path).and_then(|entries| {
                for entry in entries.flatten() {
                    let path = entry.path();
                    if path.is_dir() {
                        std::fs::remove_dir_all(&path)?;
                    } else {
                        std::fs::remove_file(&path)?;
                    }
                }
                Ok(())
            })
        };
        if let Err(e) = result {
            eprintln!(
                "could not remove the unfinished copy in {}: {e}",
                self.path.display()
            );
        }
    }
}

/// What a copy is asked to do.
pub struct CopyPlan<'a> {
    pub source: Arc<dyn EventLog>,
    /// The new data directory.
    pub dest: &'a Path,
    pub bounds: &'a BoundArgs,
    pub batch_size: usize,
    /// Build the views after copying the log.
    pub build_views: bool,
    /// The storage engine's memory in the new directory (`--cache-size`).
    pub cache_size: u64,
}

/// Copies, prints what was copied, and builds the views. The destination
/// is checked (new or empty) and the bounds parsed before anything is
/// written; on any failure the destination is removed again.
pub async fn copy_into(plan: CopyPlan<'_>) -> anyhow::Result<()> {
    let made = Destination::check(plan.dest)?;
    let source = plan.source.clone();
    // Taken first: the copy stops there even when the source keeps growing.
    if !ends_are_exact(source.as_ref()) {
        eprintln!(
            "reading the {} once to find where each partition ends (its end offset answers \
             are informative only)",
            source.describe()
        );
    }
    let ends = source_ends(source.clone())
        .await
        .with_context(|| format!("reading the ends of the {}", source.describe()))?;
    let bounds = parse_bounds(plan.bounds, source.as_ref(), &ends)?;
    let partitions = uniform_partitions(source.as_ref())?;

    let mut guard = Destination {
        path: plan.dest.to_path_buf(),
        made,
        keep: false,
    };
    let dest_args = LogArgs {
        data_dir: plan.dest.to_path_buf(),
        kafka_brokers: None,
        topic_prefix: "reprise".into(),
        partitions: Some(partitions),
        server: None,
        projection_versions: Vec::new(),
        cache_size: plan.cache_size,
    };
    let result = copy_and_build(&dest_args, source, &ends, &bounds, &plan).await;
    if result.is_ok() {
        guard.keep = true;
    }
    drop(guard);
    result
}

async fn copy_and_build(
    dest_args: &LogArgs,
    source: Arc<dyn EventLog>,
    ends: &BTreeMap<TopicPartition, u64>,
    bounds: &Bounds,
    plan: &CopyPlan<'_>,
) -> anyhow::Result<()> {
    dest_args.prepare_data_dir()?;
    let dest_log = EmbeddedLog::open_with(
        &dest_args.data_dir.join("log"),
        dest_args.partitions,
        dest_args.memory().0,
    )?;
    let dest: Arc<dyn EventLog> = Arc::new(dest_log);
    let total: u64 = ends.values().sum();
    println!(
        "copying the {} into the {} ({} partitions per topic){}",
        source.describe(),
        dest.describe(),
        dest_args.partitions.unwrap_or(0),
        describe_bounds(bounds)
    );
    let on_terminal = std::io::stderr().is_terminal();
    let mut last_line = Instant::now();
    let started = Instant::now();
    let copied = copy_log(
        source.as_ref(),
        dest.as_ref(),
        ends,
        bounds,
        plan.batch_size,
        |n| {
            if last_line.elapsed() > Duration::from_secs(5) {
                last_line = Instant::now();
                eprintln!("  copied {n} of at most {total} records");
            }
        },
    )
    .await?;
    let events: u64 = copied.iter().map(|t| t.events).sum();
    println!(
        "copied {events} events in {:.2} s; per topic, partition:cut/source end",
        started.elapsed().as_secs_f64()
    );
    for t in &copied {
        let cuts: Vec<String> = t
            .cuts
            .iter()
            .enumerate()
            .map(|(p, (cut, end))| format!("{p}:{cut}/{end}"))
            .collect();
        println!(
            "  {:<10} {:>9} events  {}",
            t.domain,
            t.events,
            cuts.join(" ")
        );
    }
    if !plan.build_views {
        println!(
            "log only: no views built in {} (`reprise --data-dir {} rebuild` or `serve` builds \
             them; `snapshot restore` can start them from a snapshot)",
            dest_args.data_dir.display(),
            dest_args.data_dir.display()
        );
        return Ok(());
    }
    let store = dest_args.open_views()?;
    let opts = crate::ops::rebuild::Options {
        batch_size: plan.batch_size,
        ..Default::default()
    };
    let started = Instant::now();
    let results = crate::ops::rebuild::rebuild(
        dest.clone(),
        &store,
        &registry::current(),
        &opts,
        on_terminal,
    )
    .await?;
    store.close()?;
    let applied: u64 = results.iter().map(|r| r.events).sum();
    let quarantined: u64 = results.iter().map(|r| r.quarantined).sum();
    if let Some(r) = results.iter().find(|r| !r.complete) {
        bail!("building {} in the copy did not complete", r.id);
    }
    println!(
        "built {} projection(s) in {}: {applied} events in {:.2} s, {quarantined} quarantined",
        results.len(),
        dest_args.data_dir.display(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "{} is an independent installation: its writes go to its own log, never to the source",
        dest_args.data_dir.display()
    );
    drop(store);
    Ok(())
}

fn describe_bounds(bounds: &Bounds) -> String {
    let mut parts = Vec::new();
    if let Some(ms) = bounds.until_ms {
        let time = chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_else(|| ms.to_string());
        parts.push(format!("records up to {time}"));
    }
    if !bounds.offsets.is_empty() {
        let list: Vec<String> = bounds
            .offsets
            .iter()
            .map(|(tp, o)| format!("{}/{}={o}", tp.domain, tp.partition))
            .collect();
        parts.push(format!("up to offsets {}", list.join(",")));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(", {}", parts.join(", "))
    }
}

/// Opens a `--from DIR` source: its embedded log directly when stopped,
/// else through the server that holds it.
async fn open_dir_source(args: &LogArgs, dir: &Path) -> anyhow::Result<Arc<dyn EventLog>> {
    let log_dir = dir.join("log");
    if !log_dir.is_dir() {
        bail!(
            "{} has no embedded log ({} is missing): name a reprise data directory, or for an \
             installation on Kafka use --from-kafka-brokers",
            dir.display(),
            log_dir.display()
        );
    }
    match EmbeddedLog::open(&log_dir, None) {
        Ok(log) => Ok(Arc::new(log)),
        Err(LogError::Locked { .. }) => {
            let source = LogArgs {
                data_dir: dir.to_path_buf(),
                ..args.clone()
            };
            let Some(info) = source.serve_info() else {
                bail!(
                    "{} is in use by another reprise process; wait for it to finish, or name \
                     the server that holds it with --from-server URL",
                    dir.display()
                );
            };
            eprintln!(
                "{} is held by `reprise serve` (pid {}); reading its log through {}",
                dir.display(),
                info.pid,
                info.url
            );
            let url = info.url.clone();
            let log = tokio::task::spawn_blocking(move || {
                crate::remote::RemoteLog::connect(&source.data_dir, &url)
            })
            .await??;
            Ok(Arc::new(log))
        }
        Err(e) => Err(e.into()),
    }
}

/// The global flags name the destination for `clone`: they must not ask
/// for another log than its own embedded one.
fn check_destination_flags(args: &LogArgs, command: &str) -> anyhow::Result<()> {
    if args.server.is_some() {
        bail!(
            "{command} writes a new data directory itself; name the source server with \
             --from-server URL, not --server"
        );
    }
    if args.kafka_brokers.is_some() {
        bail!(
            "{command} copies into the new data directory's own embedded log; name a Kafka \
             source with --from-kafka-brokers, not --kafka-brokers"
        );
    }
    Ok(())
}

/// `reprise clone`.
pub async fn clone(args: &LogArgs, opts: CloneArgs) -> anyhow::Result<ExitCode> {
    check_destination_flags(args, "clone")?;
    if opts.from_topic_prefix.is_some() && opts.from_kafka_brokers.is_none() {
        bail!("--from-topic-prefix names the topics of --from-kafka-brokers, which is not given");
    }
    let dest = args.data_dir.clone();
    // Refused before any source is opened: a source must never be touched
    // for a copy that cannot happen.
    Destination::check(&dest)?;
    let source: Arc<dyn EventLog> = if let Some(dir) = &opts.from {
        if same_dir(dir, &dest) {
            bail!("the source and the destination are both {}", dir.display());
        }
        open_dir_source(args, dir).await?
    } else if let Some(url) = &opts.from_server {
        let (args, url) = (args.clone(), url.clone());
        Arc::new(
            tokio::task::spawn_blocking(move || {
                crate::remote::RemoteLog::connect(&args.data_dir, &url)
            })
            .await??,
        )
    } else if let Some(brokers) = &opts.from_kafka_brokers {
        let prefix = opts.from_topic_prefix.as_deref().unwrap_or("reprise");
        let config = KafkaConfig::new(brokers.clone(), prefix);
        Arc::new(KafkaLog::connect(config).await?)
    } else {
        bail!("name the source: --from DIR, --from-server URL or --from-kafka-brokers BROKERS");
    };
    copy_into(CopyPlan {
        source,
        dest: &dest,
        bounds: &opts.bounds,
        batch_size: opts.batch_size,
        build_views: !opts.log_only,
        cache_size: args.cache_size,
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// `reprise rebuild`: in place, or with --into a point-in-time copy.
pub async fn rebuild(args: &LogArgs, cmd: RebuildCommand) -> anyhow::Result<ExitCode> {
    let bounded = cmd.bounds.until.is_some() || !cmd.bounds.until_offsets.is_empty();
    let Some(into) = &cmd.into else {
        if bounded {
            bail!(
                "--until and --until-offsets need --into DIR: a point-in-time rebuild goes into \
                 a new data directory, and the live views are never rewritten to the past"
            );
        }
        return crate::ops::rebuild::run(args, cmd.args).await;
    };
    if cmd.args.projection.is_some()
        || cmd.args.version.is_some()
        || cmd.args.stop_after_batches.is_some()
    {
        bail!("rebuild --into builds every projection of the copy; it takes no --projection, --version or --stop-after-batches");
    }
    if same_dir(into, &args.data_dir) {
        bail!(
            "--into {} is this data directory; a point-in-time rebuild goes into another one",
            into.display()
        );
    }
    Destination::check(into)?;
    let source = args.open_log().await?;
    copy_into(CopyPlan {
        source,
        dest: into,
        bounds: &cmd.bounds,
        batch_size: cmd.args.batch_size,
        build_views: true,
        cache_size: args.cache_size,
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embedded(dir: &Path, partitions: u32) -> EmbeddedLog {
        EmbeddedLog::open(dir, Some(partitions)).unwrap()
    }

    fn record(key: &str, ts: i64, partition: Option<u32>) -> OutgoingRecord {
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
    async fn bad_bounds_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let log = embedded(dir.path(), 2);
        log.append(Domain::Calendar, vec![record("a", 1, Some(1))])
            .await
            .unwrap();
        let ends = all_end_offsets(&log).await.unwrap();
        let parse = |until: Option<&str>, offsets: &[&str]| {
            parse_bounds(
                &BoundArgs {
                    until: until.map(str::to_string),
                    until_offsets: offsets.iter().map(|s| s.to_string()).collect(),
                },
                &log,
                &ends,
            )
        };
        let err = |r: Result<Bounds, CopyError>| r.unwrap_err().to_string();
        assert!(err(parse(Some("yesterday"), &[])).contains("--until"));
        assert!(err(parse(None, &["mail/0=1"])).contains("no topic \"mail\""));
        assert!(err(parse(None, &["calendar/2=0"])).contains("has 2 partitions"));
        assert!(err(parse(None, &["calendar/1=2"])).contains("ends at offset 1"));
        assert!(err(parse(None, &["calendar/1"])).contains("TOPIC/PARTITION=OFFSET"));
        assert!(err(parse(None, &["calendar/1=1", "calendar/1=0"])).contains("twice"));
        let ok = parse(Some("2026-01-02"), &["calendar/1=1", "seen/0=0"]).unwrap();
        assert_eq!(ok.until_ms, Some(1_767_312_000_000));
        assert_eq!(ok.offsets.len(), 2);
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
