//! The log, timed and counted: every append of the engine (writes,
//! fences, scheduling effects) goes through one [`MeteredLog`].

use async_trait::async_trait;
use events::log::{LogReader, ReadStart};
use events::{Domain, EventLog, LogError, LogPosition, OutgoingRecord};
use std::sync::Arc;
use std::time::Instant;

/// An [`EventLog`] that records its appends in [`super::metrics`].
pub struct MeteredLog {
    inner: Arc<dyn EventLog>,
}

impl MeteredLog {
    pub fn wrap(inner: Arc<dyn EventLog>) -> Arc<dyn EventLog> {
        Arc::new(MeteredLog { inner })
    }
}

#[async_trait]
impl EventLog for MeteredLog {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn refusing_appends(&self) -> Option<String> {
        self.inner.refusing_appends()
    }

    fn topic_name(&self, domain: Domain) -> String {
        self.inner.topic_name(domain)
    }

    fn shared(&self) -> bool {
        self.inner.shared()
    }

    fn partitions(&self, domain: Domain) -> u32 {
        self.inner.partitions(domain)
    }

    fn max_record_bytes(&self) -> Option<usize> {
        self.inner.max_record_bytes()
    }

    async fn append(
        &self,
        domain: Domain,
        records: Vec<OutgoingRecord>,
    ) -> Result<Vec<LogPosition>, LogError> {
        let count = records.len() as u64;
        let bytes: u64 = records.iter().map(|r| r.size() as u64).sum();
        let started = Instant::now();
        let appended = self.inner.append(domain, records).await;
        super::metrics().log_append(
            domain.as_str(),
            count,
            bytes,
            started.elapsed(),
            appended.is_ok(),
        );
        appended
    }

    fn reader(&self, starts: &[ReadStart]) -> Result<Box<dyn LogReader>, LogError> {
        self.inner.reader(starts)
    }

    async fn end_offsets(&self, domain: Domain) -> Result<Vec<u64>, LogError> {
        self.inner.end_offsets(domain).await
    }
}
