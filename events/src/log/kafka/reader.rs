//! Reading the Kafka log: consumers assigned partitions explicitly at the
//! positions the views recorded, no consumer group state in the broker.
//!
//! Whether a reader is caught up is decided from the partition-EOF events
//! the consumer gets with its fetches, not from watermark queries: they
//! come with the data at no extra round trip, and they are about what this
//! consumer has read rather than a number read at another moment.

use super::{lock, ClientEvents, KafkaLog};
use crate::domain::Domain;
use crate::log::{EventLog, LogError, LogReader, LogRecord, ReadBatch, ReadStart, TopicPartition};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long a blocked reader sleeps at most before looking at its queues
/// again, in case a wake-up from librdkafka was missed.
const READER_WAKE_SLICE: Duration = Duration::from_millis(250);

impl KafkaLog {
    pub(super) fn domain_consumer(
        &self,
        domain: Domain,
        starts: &[&ReadStart],
        wake: &Arc<Wake>,
    ) -> Result<DomainConsumer, LogError> {
        let topic = self.topic_name(domain);
        let kafka = |what: &str, e: KafkaError| LogError::Kafka(format!("{what} for {topic}: {e}"));
        let mut consumer: BaseConsumer<ClientEvents> = self
            .config
            .consumer_config("reader")
            // A fetch at the end of a partition is answered as soon as a
            // record arrives, or empty after this wait; the partition EOF
            // that tells the reader it caught up comes with that empty
            // answer. So this bounds how late a reader learns it is caught
            // up (a server's readiness, a stateless read through
            // `--server`, the end of a rebuild), at the cost of one fetch
            // per wait per idle consumer. librdkafka's 500 ms made a fresh
            // consumer's first poll through `--server` end before it knew.
            .set("fetch.wait.max.ms", "100")
            // What librdkafka prefetches per consumer (default 64 MiB): a
            // rebuild reads five topics at once, and the runner takes a
            // few MB per batch. At 16 MiB a 1M-event rebuild ran as fast
            // and peaked at 416 MB instead of 534; at 8 MiB (and 16 MiB
            // fetches) 347 MB but 25% slower; at 4 MiB half as fast.
            .set("queued.max.messages.kbytes", "16384")
            .create_with_context(self.events.clone())
            .map_err(|e| kafka("creating a consumer", e))?;
        let waker = wake.clone();
        consumer.set_nonempty_callback(move || waker.notify());

        let mut assignment = TopicPartitionList::with_capacity(starts.len());
        let mut partitions = HashMap::new();
        for s in starts {
            let partition = s.topic_partition.partition;
            let offset = i64::try_from(s.offset).map_err(|_| {
                LogError::Kafka(format!(
                    "offset {} of {topic}/{partition} is out of range",
                    s.offset
                ))
            })?;
            assignment
                .add_partition_offset(&topic, partition as i32, Offset::Offset(offset))
                .map_err(|e| kafka("assigning partitions", e))?;
            partitions.insert(
                partition as i32,
                PartitionState {
                    next: s.offset,
                    eof: false,
                },
            );
        }
        consumer
            .assign(&assignment)
            .map_err(|e| kafka("assigning partitions", e))?;
        Ok(DomainConsumer {
            domain,
            topic,
            consumer,
            partitions,
        })
    }
}

/// Lets librdkafka's threads wake a reader blocked in `poll`. The counter
/// closes the gap between "queues looked empty" and "started waiting".
#[derive(Default)]
pub(super) struct Wake {
    generation: Mutex<u64>,
    changed: Condvar,
}

impl Wake {
    fn notify(&self) {
        *lock(&self.generation) += 1;
        self.changed.notify_all();
    }

    fn current(&self) -> u64 {
        *lock(&self.generation)
    }

    /// Waits until the generation moves past `seen`, or `timeout`.
    fn wait_past(&self, seen: u64, timeout: Duration) {
        let guard = lock(&self.generation);
        let _ = self
            .changed
            .wait_timeout_while(guard, timeout, |g| *g == seen)
            .unwrap_or_else(|p| p.into_inner());
    }
}

struct PartitionState {
    /// The offset of the next record this reader expects.
    next: u64,
    /// The consumer reported the end of the partition and no record came
    /// after that.
    eof: bool,
}

pub(super) struct DomainConsumer {
    domain: Domain,
    topic: String,
    consumer: BaseConsumer<ClientEvents>,
    partitions: HashMap<i32, PartitionState>,
}

pub(super) struct KafkaReader {
    pub(super) consumers: Vec<DomainConsumer>,
    pub(super) wake: Arc<Wake>,
    pub(super) appended: Arc<Mutex<HashMap<TopicPartition, u64>>>,
    /// The consumer to drain first next time, so none starves another.
    pub(super) cursor: usize,
    pub(super) brokers: String,
}

impl KafkaReader {
    /// Takes what the consumers hold right now, up to `max` records.
    fn drain(&mut self, records: &mut Vec<LogRecord>, max: usize) -> Result<(), LogError> {
        let n = self.consumers.len();
        for step in 0..n {
            let dc = &mut self.consumers[(self.cursor + step) % n];
            while records.len() < max {
                let Some(event) = dc.consumer.poll(Duration::ZERO) else {
                    break;
                };
                match event {
                    Ok(message) => {
                        let record = to_record(dc.domain, &message)?;
                        if let Some(state) = dc.partitions.get_mut(&message.partition()) {
                            // Offsets in our topics are dense (no compaction,
                            // no transactions): a gap means records were
                            // deleted behind reprise's back.
                            if record.offset > state.next {
                                tracing::warn!(
                                    topic = %dc.topic, partition = message.partition(),
                                    expected = state.next, got = record.offset,
                                    "records missing from the log"
                                );
                            }
                            state.next = record.offset + 1;
                            state.eof = false;
                        }
                        records.push(record);
                    }
                    Err(KafkaError::PartitionEOF(partition)) => {
                        if let Some(state) = dc.partitions.get_mut(&partition) {
                            state.eof = true;
                        }
                    }
                    Err(e @ KafkaError::MessageConsumptionFatal(_)) => {
                        return Err(LogError::Kafka(format!("reading {}: {e}", dc.topic)))
                    }
                    Err(e) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) => {
                        return Err(LogError::Unreachable {
                            brokers: self.brokers.clone(),
                            reason: format!("reading {}: {e}", dc.topic),
                        })
                    }
                    // librdkafka looks up the coordinator of the group it
                    // needs for `assign` although nothing is ever committed
                    // to it; a principal without rights on groups (none are
                    // needed) is refused that lookup, and reads go on.
                    Err(e)
                        if e.rdkafka_error_code()
                            == Some(RDKafkaErrorCode::GroupAuthorizationFailed) =>
                    {
                        tracing::debug!(topic = %dc.topic, "reading: {e}")
                    }
                    // Transient (a broker restarting, a connection closed):
                    // librdkafka retries by itself.
                    Err(e) => tracing::warn!(topic = %dc.topic, "reading: {e}"),
                }
            }
        }
        self.cursor = (self.cursor + 1) % n.max(1);
        Ok(())
    }

    /// Every partition reported its end since its last record, and holds
    /// nothing this process appended that the reader has not yet read.
    fn caught_up(&self) -> bool {
        let appended = lock(&self.appended);
        self.consumers.iter().all(|dc| {
            dc.partitions.iter().all(|(&partition, state)| {
                let tp = TopicPartition {
                    domain: dc.domain,
                    partition: partition as u32,
                };
                state.eof && state.next >= appended.get(&tp).copied().unwrap_or(0)
            })
        })
    }
}

impl LogReader for KafkaReader {
    fn poll(&mut self, max: usize, timeout: Duration) -> Result<ReadBatch, LogError> {
        let max = max.max(1);
        let deadline = Instant::now() + timeout;
        let mut records = Vec::new();
        loop {
            let seen = self.wake.current();
            self.drain(&mut records, max)?;
            let now = Instant::now();
            if !records.is_empty() || now >= deadline {
                break;
            }
            self.wake
                .wait_past(seen, (deadline - now).min(READER_WAKE_SLICE));
        }
        Ok(ReadBatch {
            records,
            caught_up: self.caught_up(),
        })
    }
}

fn to_record(domain: Domain, message: &BorrowedMessage<'_>) -> Result<LogRecord, LogError> {
    let corrupt = |reason: &str| LogError::Corrupt {
        topic: message.topic().to_string(),
        partition: message.partition().max(0) as u32,
        offset: message.offset().max(0) as u64,
        reason: reason.to_string(),
    };
    let partition =
        u32::try_from(message.partition()).map_err(|_| corrupt("negative partition"))?;
    let offset = u64::try_from(message.offset()).map_err(|_| corrupt("negative offset"))?;
    let headers = match message.headers() {
        Some(headers) => headers
            .iter()
            .map(|h| {
                (
                    h.key.to_string(),
                    h.value.map(<[u8]>::to_vec).unwrap_or_default(),
                )
            })
            .collect(),
        None => Vec::new(),
    };
    Ok(LogRecord {
        domain,
        partition,
        offset,
        timestamp_ms: message.timestamp().to_millis().unwrap_or(0),
        key: message.key().map(<[u8]>::to_vec).unwrap_or_default(),
        headers,
        value: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
    })
}
