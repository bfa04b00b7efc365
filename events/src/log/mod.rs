//! The log: one trait, two backends.
//!
//! The model is Kafka's: a topic per [`Domain`], a fixed number of
//! partitions per topic, records with a key, headers, a timestamp and a
//! value, and offsets that grow by one per record within a partition.
//! Readers are assigned partitions explicitly and keep their positions
//! themselves (in the view database), never in consumer groups, so any
//! number of installations can read one log independently.

pub mod embedded;
pub mod frame;
// Behind a feature so that crates reading only the embedded log (the views'
// tests, the pure crates) build without librdkafka.
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod sled_era;

use crate::domain::Domain;
use async_trait::async_trait;
use std::time::Duration;

pub use embedded::EmbeddedLog;
#[cfg(feature = "kafka")]
pub use kafka::{ClientProperties, KafkaConfig, KafkaLog};
pub use sled_era::SledEraLog;

/// Where a record is: its partition within its topic and its offset there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LogPosition {
    pub partition: u32,
    pub offset: u64,
}

/// A record to append. Its partition is chosen from the key with
/// [`crate::domain::partition_for`], unless one is given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutgoingRecord {
    /// Only for records that must go to one exact partition whatever their
    /// key: a fence goes to every partition, and a copy of a log keeps
    /// each record where it was.
    pub partition: Option<u32>,
    pub key: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub value: Vec<u8>,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
}

/// A record read back from the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    pub domain: Domain,
    pub partition: u32,
    pub offset: u64,
    pub timestamp_ms: i64,
    pub key: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub value: Vec<u8>,
}

impl LogRecord {
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    pub fn position(&self) -> LogPosition {
        LogPosition {
            partition: self.partition,
            offset: self.offset,
        }
    }

    /// Bytes this record occupies: key, headers and value.
    pub fn size(&self) -> usize {
        record_size(&self.key, &self.headers, &self.value)
    }
}

impl OutgoingRecord {
    /// Bytes this record occupies: key, headers and value.
    pub fn size(&self) -> usize {
        record_size(&self.key, &self.headers, &self.value)
    }
}

fn record_size(key: &[u8], headers: &[(String, Vec<u8>)], value: &[u8]) -> usize {
    key.len()
        + value.len()
        + headers
            .iter()
            .map(|(n, v)| n.len() + v.len())
            .sum::<usize>()
}

/// One partition of one topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub domain: Domain,
    pub partition: u32,
}

/// Where a reader starts in one partition: the offset of the next record
/// it wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadStart {
    pub topic_partition: TopicPartition,
    pub offset: u64,
}

/// What one poll returned.
#[derive(Debug, Default)]
pub struct ReadBatch {
    pub records: Vec<LogRecord>,
    /// True when, after these records, every assigned partition had been
    /// read to its end (as the backend last saw it). Decided from reads,
    /// not from watermark queries.
    pub caught_up: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("log storage at {path}: {reason}")]
    Storage { path: String, reason: String },
    #[error(
        "the data directory {path} is in use by another process (is `reprise serve` running?); \
         stop it, or run the command against the server with --server URL"
    )]
    Locked { path: String },
    #[error("{path} cannot be used as a reprise log: {reason}; refusing to touch it")]
    Foreign { path: String, reason: String },
    #[error("Kafka broker(s) {brokers} unreachable: {reason}")]
    Unreachable { brokers: String, reason: String },
    #[error("Kafka broker(s) {brokers} refused the credentials: {reason} (check sasl.username and sasl.password in --kafka-config)")]
    Authentication { brokers: String, reason: String },
    /// The principal lacks an ACL the log needs.
    #[error("Kafka broker(s) {brokers} refused to {action} topic {topic}: {reason}; reprise's principal needs Describe, DescribeConfigs, Read, Write and Create on its topics (see the README's Kafka section)")]
    NotAuthorized {
        brokers: String,
        action: &'static str,
        topic: String,
        reason: String,
    },
    /// A record over the size the log accepts: nothing of the append was written.
    #[error("a record of {size} bytes is larger than {topic} accepts ({limit} bytes)")]
    RecordTooLarge {
        topic: String,
        size: usize,
        limit: usize,
    },
    /// Bad client settings (`--kafka-config`), found before connecting.
    #[error("Kafka client settings: {0}")]
    ClientSettings(String),
    #[error("Kafka: {0}")]
    Kafka(String),
    /// A topic whose settings would lose or refuse events: the log is the
    /// truth, so nothing in it may expire or be compacted away.
    #[error(transparent)]
    TopicSetting(Box<BadTopicSetting>),
    #[error(
        "topic {topic} has {actual} partitions but {configured} are configured; \
         changing the count would remap keys to other partitions"
    )]
    PartitionMismatch {
        topic: String,
        actual: u32,
        configured: u32,
    },
    #[error("corrupt record in {topic}/{partition} at offset {offset}: {reason}")]
    Corrupt {
        topic: String,
        partition: u32,
        offset: u64,
        reason: String,
    },
    #[error("unknown partition {partition} of topic {topic}")]
    UnknownPartition { topic: String, partition: u32 },
    #[error("timed out after {0:?} waiting for the log to acknowledge")]
    Timeout(Duration),
}

/// A topic setting the log cannot work with, and the command that fixes it.
#[derive(Debug, thiserror::Error)]
#[error(
    "topic {topic} has {setting}={value}, which would {harm}; set {setting}={wanted} \
     (kafka-configs.sh --bootstrap-server {brokers} --alter --entity-type topics \
     --entity-name {topic} --add-config {setting}={wanted})"
)]
pub struct BadTopicSetting {
    pub brokers: String,
    pub topic: String,
    pub setting: &'static str,
    pub value: String,
    pub wanted: String,
    pub harm: String,
}

/// An append-only, partitioned log of records.
#[async_trait]
pub trait EventLog: Send + Sync {
    /// What this log is, for messages: `embedded log at ./data/log`.
    fn describe(&self) -> String;

    /// Why this log refuses appends until it is reopened, if it does (its
    /// storage failed: a full disk, an I/O error). A server is not ready
    /// while it does.
    fn refusing_appends(&self) -> Option<String> {
        None
    }

    /// The topic name of a domain (`reprise.calendar`).
    fn topic_name(&self, domain: Domain) -> String;

    /// Whether other installations may read and write this log too (a
    /// Kafka cluster); an embedded log belongs to one process.
    fn shared(&self) -> bool {
        false
    }

    /// The partition count of a domain's topic.
    fn partitions(&self, domain: Domain) -> u32;

    /// The largest record (key, headers and value, as
    /// [`OutgoingRecord::size`] counts) an append accepts; `None`: no limit
    /// short of memory. Larger records fail with [`LogError::RecordTooLarge`]
    /// before anything is written.
    fn max_record_bytes(&self) -> Option<usize> {
        None
    }

    /// Appends records to one topic, each to the partition its key maps
    /// to. Returns only once every record is durable, with the positions in
    /// the order given. Records with the same key keep their order.
    async fn append(
        &self,
        domain: Domain,
        records: Vec<OutgoingRecord>,
    ) -> Result<Vec<LogPosition>, LogError>;

    /// A reader of the given partitions from the given offsets.
    fn reader(&self, starts: &[ReadStart]) -> Result<Box<dyn LogReader>, LogError>;

    /// The offset the next record of each partition will get, as the
    /// backend can tell (a watermark query on Kafka: informative only).
    async fn end_offsets(&self, domain: Domain) -> Result<Vec<u64>, LogError>;
}

/// Reads records in batches; blocking, so it runs on a projection's own
/// thread.
pub trait LogReader: Send {
    /// Up to `max` records, waiting at most `timeout` when none is ready.
    fn poll(&mut self, max: usize, timeout: Duration) -> Result<ReadBatch, LogError>;
}

/// The partition a record goes to in a topic of `count` partitions.
pub fn partition_of(record: &OutgoingRecord, count: u32) -> u32 {
    record.partition.unwrap_or_else(|| {
        crate::domain::partition_for(&String::from_utf8_lossy(&record.key), count)
    })
}

/// The end offset of every partition of every topic (informative only on
/// Kafka, like [`EventLog::end_offsets`]).
pub async fn all_end_offsets(
    log: &dyn EventLog,
) -> Result<std::collections::BTreeMap<TopicPartition, u64>, LogError> {
    let mut ends = std::collections::BTreeMap::new();
    for domain in Domain::ALL {
        for (partition, end) in log.end_offsets(domain).await?.into_iter().enumerate() {
            ends.insert(
                TopicPartition {
                    domain,
                    partition: partition as u32,
                },
                end,
            );
        }
    }
    Ok(ends)
}

/// Every partition of the given domains from offset 0.
pub fn starts_from_beginning(log: &dyn EventLog, domains: &[Domain]) -> Vec<ReadStart> {
    domains
        .iter()
        .flat_map(|&domain| {
            (0..log.partitions(domain)).map(move |partition| ReadStart {
                topic_partition: TopicPartition { domain, partition },
                offset: 0,
            })
        })
        .collect()
}
