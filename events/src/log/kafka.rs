//! The production log: Apache Kafka through rdkafka. (Being written.)

use super::{EventLog, LogError, LogPosition, LogReader, OutgoingRecord, ReadStart};
use crate::domain::Domain;
use async_trait::async_trait;

/// How to reach a Kafka cluster.
#[derive(Clone, Debug)]
pub struct KafkaConfig {
    pub brokers: String,
    pub topic_prefix: String,
    /// The partition count to create missing topics with.
    pub partitions: Option<u32>,
}

pub struct KafkaLog {
    config: KafkaConfig,
}

impl KafkaLog {
    pub async fn connect(config: KafkaConfig) -> Result<KafkaLog, LogError> {
        Err(LogError::Kafka(format!("not yet implemented ({})", config.brokers)))
    }
}

#[async_trait]
impl EventLog for KafkaLog {
    fn describe(&self) -> String {
        format!("kafka at {}", self.config.brokers)
    }
    fn topic_name(&self, domain: Domain) -> String {
        domain.topic(&self.config.topic_prefix)
    }
    fn partitions(&self, _domain: Domain) -> u32 {
        1
    }
    async fn append(
        &self,
        _domain: Domain,
        _records: Vec<OutgoingRecord>,
    ) -> Result<Vec<LogPosition>, LogError> {
        Err(LogError::Kafka("not yet implemented".into()))
    }
    fn reader(&self, _starts: &[ReadStart]) -> Result<Box<dyn LogReader>, LogError> {
        Err(LogError::Kafka("not yet implemented".into()))
    }
    async fn end_offsets(&self, _domain: Domain) -> Result<Vec<u64>, LogError> {
        Err(LogError::Kafka("not yet implemented".into()))
    }
}
