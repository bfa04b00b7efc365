//! The log over HTTP: what the admin API's `/admin/v1/log` endpoints
//! exchange, so that `log tail` and `log stats` work through a server that
//! holds the embedded log (`--server`). Read-only.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use events::log::{ReadBatch, ReadStart, TopicPartition};
use events::{Domain, LogRecord};
use serde::{Deserialize, Serialize};

/// Most records one read returns.
pub const MAX_READ: usize = 5_000;
/// Longest one read waits for a record.
pub const MAX_WAIT_MS: u64 = 5_000;

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogInfo {
    pub describe: String,
    pub topics: Vec<TopicInfo>,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TopicInfo {
    #[schema(value_type = DomainSchema)]
    pub domain: Domain,
    pub name: String,
    pub partitions: u32,
}

impl TopicInfo {
    /// Every topic of `log`, in `Domain::ALL` order.
    pub fn all(log: &dyn events::EventLog) -> Vec<TopicInfo> {
        Domain::ALL
            .into_iter()
            .map(|domain| TopicInfo {
                domain,
                name: log.topic_name(domain),
                partitions: log.partitions(domain),
            })
            .collect()
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WireStart {
    #[schema(value_type = DomainSchema)]
    pub domain: Domain,
    pub partition: u32,
    pub offset: u64,
}

impl From<&ReadStart> for WireStart {
    fn from(s: &ReadStart) -> Self {
        WireStart {
            domain: s.topic_partition.domain,
            partition: s.topic_partition.partition,
            offset: s.offset,
        }
    }
}

impl From<WireStart> for ReadStart {
    fn from(s: WireStart) -> Self {
        ReadStart {
            topic_partition: TopicPartition {
                domain: s.domain,
                partition: s.partition,
            },
            offset: s.offset,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"starts": [{"domain": "directory", "partition": 0, "offset": 0}], "max": 10, "timeout_ms": 0}))]
pub struct ReadRequest {
    pub starts: Vec<WireStart>,
    pub max: usize,
    pub timeout_ms: u64,
}

/// A record with its binary parts in base64.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WireRecord {
    #[schema(value_type = DomainSchema)]
    pub domain: Domain,
    pub partition: u32,
    pub offset: u64,
    pub timestamp_ms: i64,
    pub key: String,
    /// `[name, value]` pairs, the value in base64.
    #[schema(value_type = Vec<Vec<String>>)]
    pub headers: Vec<(String, String)>,
    pub value: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReadResponse {
    pub records: Vec<WireRecord>,
    pub caught_up: bool,
}

impl From<ReadBatch> for ReadResponse {
    fn from(batch: ReadBatch) -> Self {
        ReadResponse {
            caught_up: batch.caught_up,
            records: batch
                .records
                .into_iter()
                .map(|r| WireRecord {
                    domain: r.domain,
                    partition: r.partition,
                    offset: r.offset,
                    timestamp_ms: r.timestamp_ms,
                    key: B64.encode(&r.key),
                    headers: r
                        .headers
                        .iter()
                        .map(|(n, v)| (n.clone(), B64.encode(v)))
                        .collect(),
                    value: B64.encode(&r.value),
                })
                .collect(),
        }
    }
}

impl WireRecord {
    pub fn into_record(self) -> Result<LogRecord, base64::DecodeError> {
        let mut headers = Vec::with_capacity(self.headers.len());
        for (n, v) in self.headers {
            headers.push((n, B64.decode(v)?));
        }
        Ok(LogRecord {
            domain: self.domain,
            partition: self.partition,
            offset: self.offset,
            timestamp_ms: self.timestamp_ms,
            key: B64.decode(self.key)?,
            headers,
            value: B64.decode(self.value)?,
        })
    }
}

/// The schema of [`Domain`] as the wire carries it (`events` derives no
/// schema: it has no HTTP concerns).
#[derive(utoipa::ToSchema)]
#[schema(as = Domain)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // only its schema is used
pub enum DomainSchema {
    Calendar,
    Contact,
    Directory,
    Seen,
    Files,
}
