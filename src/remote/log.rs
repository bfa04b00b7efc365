//! The log of a running server, read through its admin API
//! (`/log`, `/log/end`, `/log/read`).

use super::client::{Client, API};
use crate::ops::log::wire::{LogInfo, ReadRequest, ReadResponse, TopicInfo, WireStart};
use anyhow::anyhow;
use events::log::{LogReader, ReadBatch, ReadStart};
use events::{Domain, EventLog, LogError, LogPosition, OutgoingRecord};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

impl Client {
    /// The log's description and topics.
    pub fn log_info(&self) -> anyhow::Result<LogInfo> {
        self.get(&format!("{API}/log"), &[])
    }

    /// The end offset of each partition of `domain`'s topic.
    pub fn log_end(&self, domain: Domain) -> anyhow::Result<Vec<u64>> {
        self.get(&format!("{API}/log/end"), &[("domain", domain.as_str())])
    }

    /// Records from the given positions, waiting up to the request's
    /// timeout for some.
    pub fn log_read(&self, request: &ReadRequest) -> anyhow::Result<ReadResponse> {
        self.post(&format!("{API}/log/read"), request)
    }
}

/// The log of a running server, read through its admin API: what `log
/// tail` and `log stats` use with `--server`. Appending is refused; writes
/// go through the commands that have their own endpoints.
pub struct RemoteLog {
    client: Arc<Client>,
    info: LogInfo,
}

impl RemoteLog {
    pub fn connect(data_dir: &Path, url: &str, ca: Option<&Path>) -> anyhow::Result<RemoteLog> {
        let client = Client::new(data_dir, url, ca)?;
        let info = client.log_info()?;
        Ok(RemoteLog {
            client: Arc::new(client),
            info,
        })
    }

    fn topic(&self, domain: Domain) -> Option<&TopicInfo> {
        self.info.topics.iter().find(|t| t.domain == domain)
    }

    fn error(&self, e: anyhow::Error) -> LogError {
        LogError::Storage {
            path: self.client.base().to_string(),
            reason: format!("{e:#}"),
        }
    }
}

#[async_trait::async_trait]
impl EventLog for RemoteLog {
    fn describe(&self) -> String {
        format!("{}, through {}", self.info.describe, self.client.base())
    }

    fn topic_name(&self, domain: Domain) -> String {
        self.topic(domain)
            .map_or_else(|| domain.to_string(), |t| t.name.clone())
    }

    fn partitions(&self, domain: Domain) -> u32 {
        self.topic(domain).map_or(0, |t| t.partitions)
    }

    async fn append(
        &self,
        _domain: Domain,
        _records: Vec<OutgoingRecord>,
    ) -> Result<Vec<LogPosition>, LogError> {
        Err(self.error(anyhow!("the log is read-only through --server")))
    }

    fn reader(&self, starts: &[ReadStart]) -> Result<Box<dyn LogReader>, LogError> {
        Ok(Box::new(RemoteReader {
            client: self.client.clone(),
            positions: starts.iter().map(WireStart::from).collect(),
        }))
    }

    async fn end_offsets(&self, domain: Domain) -> Result<Vec<u64>, LogError> {
        let client = self.client.clone();
        tokio::task::spawn_blocking(move || client.log_end(domain))
            .await
            .map_err(|e| self.error(e.into()))?
            .map_err(|e| self.error(e))
    }
}

struct RemoteReader {
    client: Arc<Client>,
    positions: Vec<WireStart>,
}

impl LogReader for RemoteReader {
    fn poll(&mut self, max: usize, timeout: Duration) -> Result<ReadBatch, LogError> {
        let storage = |reason: String| LogError::Storage {
            path: self.client.base().to_string(),
            reason,
        };
        let request = ReadRequest {
            starts: self.positions.clone(),
            max,
            timeout_ms: timeout.as_millis().min(u128::from(u64::MAX)) as u64,
        };
        let response = self
            .client
            .log_read(&request)
            .map_err(|e| storage(format!("{e:#}")))?;
        let mut records = Vec::with_capacity(response.records.len());
        for wire in response.records {
            let record = wire
                .into_record()
                .map_err(|e| storage(format!("bad record from the server: {e}")))?;
            if let Some(p) = self
                .positions
                .iter_mut()
                .find(|p| p.domain == record.domain && p.partition == record.partition)
            {
                p.offset = record.offset + 1;
            }
            records.push(record);
        }
        Ok(ReadBatch {
            records,
            caught_up: response.caught_up,
        })
    }
}
