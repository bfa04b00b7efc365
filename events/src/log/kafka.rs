//! The production log: Apache Kafka (or any broker speaking its protocol)
//! through rdkafka.
//!
//! The shape is the embedded log's: one topic per [`Domain`] under a
//! prefix, keys mapped to partitions by [`crate::domain::partition_for`] (never by the
//! client's partitioner, so both backends place a key identically), and
//! readers that are assigned partitions explicitly and keep no state in
//! the broker.
//!
//! Whether a reader is caught up is decided from partition-EOF events the
//! consumer sees while fetching, never from watermark queries: some brokers
//! (tansu, used by the tests) answer ListOffsets with wrong numbers after
//! batched produces, while their fetches are right. tansu also fetches
//! only from record-batch boundaries; readers cope with that by starting
//! a little early (see `PartitionState::judge`).

use super::{
    partition_of, EventLog, LogError, LogPosition, LogReader, LogRecord, OutgoingRecord, ReadBatch,
    ReadStart, TopicPartition,
};
use crate::domain::Domain;
use crate::log::embedded::DEFAULT_PARTITIONS;
use async_trait::async_trait;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Room for Kafka's batch and record framing on top of a record's own
/// bytes, when deriving the protocol limits from [`KafkaConfig::max_record_bytes`].
const FRAMING_ALLOWANCE: usize = 16 * 1024;

/// How long a blocked reader sleeps at most before looking at its queues
/// again, in case a wake-up from librdkafka was missed.
const READER_WAKE_SLICE: Duration = Duration::from_millis(250);

/// The most records the producer puts in one batch, and how early readers
/// start fetching (see `PartitionState::judge`).
const BATCH_RECORDS: u64 = 64;

/// A topic setting the log needs, and what another value would do.
struct TopicRule {
    setting: &'static str,
    wanted: &'static str,
    /// Whether the value a topic has is acceptable.
    accepts: fn(&str) -> bool,
    harm: &'static str,
}

/// The log is the truth: topics this log creates keep every record, and a
/// topic that would expire or compact records away is refused at connect.
const KEPT_FOREVER: [TopicRule; 3] = [
    TopicRule {
        setting: "retention.ms",
        wanted: "-1",
        accepts: |v| v == "-1",
        harm: "delete events once they are that old",
    },
    TopicRule {
        setting: "retention.bytes",
        wanted: "-1",
        accepts: |v| v == "-1",
        harm: "delete the oldest events once a partition is that large",
    },
    TopicRule {
        setting: "cleanup.policy",
        wanted: "delete",
        // "delete" with infinite retention deletes nothing; compaction
        // would keep only the newest event of each key.
        accepts: |v| v.split(',').all(|p| p.trim() != "compact"),
        harm: "compact away every event but the newest of each key",
    },
];

/// How long a reader waits for librdkafka to carry out a seek.
const SEEK_TIMEOUT: Duration = Duration::from_secs(5);

/// How to reach a Kafka cluster.
///
/// Build it with [`KafkaConfig::new`] and override fields as needed, so
/// that new knobs get defaults.
#[derive(Clone, Debug)]
pub struct KafkaConfig {
    /// Bootstrap brokers, `host:port[,host:port...]`.
    pub brokers: String,
    /// Topics are `<prefix>.calendar`, `<prefix>.contact`, ...
    pub topic_prefix: String,
    /// The partition count to create missing topics with; when set, an
    /// existing topic with another count is refused.
    /// `None`: [`DEFAULT_PARTITIONS`] for new topics, any count for existing ones.
    pub partitions: Option<u32>,
    /// Replication factor of topics this log creates; `None` asks for the
    /// broker's default (Kafka 2.4 or later; tansu accepts it too).
    pub replication_factor: Option<u16>,
    /// How long `connect` waits for the cluster (metadata, topic creation)
    /// before reporting it unreachable.
    pub connect_timeout: Duration,
    /// How long an append waits for every record to be acknowledged.
    pub append_timeout: Duration,
    /// The largest record (key, headers and value) an append accepts.
    /// Topics this log creates get a matching `max.message.bytes`.
    pub max_record_bytes: usize,
}

impl KafkaConfig {
    pub fn new(brokers: impl Into<String>, topic_prefix: impl Into<String>) -> KafkaConfig {
        KafkaConfig {
            brokers: brokers.into(),
            topic_prefix: topic_prefix.into(),
            partitions: None,
            replication_factor: None,
            connect_timeout: Duration::from_secs(5),
            append_timeout: Duration::from_secs(30),
            // Kafka's own default (message.max.bytes is about 1 MB), so a
            // stock broker accepts whatever we accept.
            max_record_bytes: 1_000_000,
        }
    }

    /// Settings every client of this log shares.
    fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers)
            .set("client.id", "reprise")
            // Fail fast on a dead address instead of librdkafka's 30 s.
            .set(
                "socket.connection.setup.timeout.ms",
                millis(self.connect_timeout.max(Duration::from_secs(1))),
            )
            .set(
                "socket.timeout.ms",
                millis(self.append_timeout.max(Duration::from_secs(10))),
            )
            // Idle connections being closed by the broker is not news.
            .set("log.connection.close", "false");
        c
    }

    fn protocol_max_bytes(&self) -> String {
        (self.max_record_bytes + FRAMING_ALLOWANCE).to_string()
    }
}

fn millis(d: Duration) -> String {
    d.as_millis().to_string()
}

/// The Kafka log. Cheap to share behind an `Arc`; one producer serves all
/// appends, each reader has its own consumers.
pub struct KafkaLog {
    config: KafkaConfig,
    producer: FutureProducer,
    partitions: BTreeMap<Domain, u32>,
    /// The end of each partition as far as this process appended to it,
    /// so that readers of this log never call themselves caught up before
    /// they have read what was appended through it.
    appended: Arc<Mutex<HashMap<TopicPartition, u64>>>,
}

impl KafkaLog {
    /// Connects, creates missing topics and learns each topic's partition
    /// count. Fails with [`LogError::Unreachable`] within about
    /// `connect_timeout` when no broker answers.
    pub async fn connect(config: KafkaConfig) -> Result<KafkaLog, LogError> {
        let producer: FutureProducer = config
            .client_config()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", millis(config.append_timeout))
            .set("message.max.bytes", config.protocol_max_bytes())
            .set("batch.size", config.protocol_max_bytes())
            // Short batches let readers start mid-partition on brokers
            // that fetch only from batch boundaries (see `PartitionState::judge`).
            .set("batch.num.messages", BATCH_RECORDS.to_string())
            .create()
            .map_err(|e| LogError::Kafka(format!("creating the producer: {e}")))?;

        let unreachable = |reason: String| LogError::Unreachable {
            brokers: config.brokers.clone(),
            reason,
        };
        let deadline = Instant::now() + config.connect_timeout;
        let mut existing = topic_partition_counts(&producer, config.connect_timeout)
            .await
            .map_err(|e| unreachable(metadata_failure(&e, config.connect_timeout)))?;

        let missing: Vec<String> = Domain::ALL
            .iter()
            .map(|d| d.topic(&config.topic_prefix))
            .filter(|t| !existing.contains_key(t))
            .collect();
        if !missing.is_empty() {
            create_topics(&config, &missing).await?;
            // Topic creation is asynchronous in Kafka: wait until metadata
            // shows every topic with its partitions.
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                existing = topic_partition_counts(&producer, left.max(Duration::from_secs(1)))
                    .await
                    .map_err(|e| unreachable(metadata_failure(&e, config.connect_timeout)))?;
                if missing.iter().all(|t| existing.contains_key(t)) {
                    break;
                }
                if left.is_zero() {
                    return Err(LogError::Kafka(format!(
                        "created topics {} but they did not show up in metadata within {:?}",
                        missing.join(", "),
                        config.connect_timeout
                    )));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }

        let mut partitions = BTreeMap::new();
        for domain in Domain::ALL {
            let topic = domain.topic(&config.topic_prefix);
            let actual = existing.get(&topic).copied().unwrap_or(0);
            if let Some(configured) = config.partitions {
                if configured != actual {
                    return Err(LogError::PartitionMismatch {
                        topic,
                        actual,
                        configured,
                    });
                }
            }
            partitions.insert(domain, actual);
        }
        check_topic_settings(&config).await?;
        tracing::debug!(brokers = %config.brokers, ?partitions, "connected to Kafka");
        Ok(KafkaLog {
            config,
            producer,
            partitions,
            appended: Arc::default(),
        })
    }

    pub fn config(&self) -> &KafkaConfig {
        &self.config
    }

    fn unreachable(&self, reason: String) -> LogError {
        LogError::Unreachable {
            brokers: self.config.brokers.clone(),
            reason,
        }
    }

    /// Maps a failed produce to what an operator needs to read.
    fn produce_error(&self, topic: &str, e: &KafkaError) -> LogError {
        match e.rdkafka_error_code() {
            Some(
                RDKafkaErrorCode::MessageTimedOut
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::OperationTimedOut
                | RDKafkaErrorCode::RequestTimedOut
                | RDKafkaErrorCode::NetworkException
                | RDKafkaErrorCode::Resolve,
            ) => self.unreachable(format!("appending to {topic}: {e}")),
            Some(RDKafkaErrorCode::MessageSizeTooLarge) => LogError::Kafka(format!(
                "appending to {topic}: a record is larger than the broker accepts \
                 (the topic's max.message.bytes): {e}"
            )),
            _ => LogError::Kafka(format!("appending to {topic}: {e}")),
        }
    }
}

/// Topic name -> partition count of every topic that is ready (no error,
/// at least one partition). Lists all topics rather than asking for ours
/// by name, because a by-name request may auto-create a topic with the
/// broker's default partition count.
async fn topic_partition_counts(
    producer: &FutureProducer,
    timeout: Duration,
) -> Result<HashMap<String, u32>, KafkaError> {
    let producer = producer.clone();
    let blocking = tokio::task::spawn_blocking(move || {
        let metadata = producer.client().fetch_metadata(None, timeout)?;
        Ok(metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none() && !t.partitions().is_empty())
            .map(|t| (t.name().to_string(), t.partitions().len() as u32))
            .collect())
    });
    blocking
        .await
        .unwrap_or_else(|e| Err(KafkaError::MetadataFetch(join_error_code(&e))))
}

fn join_error_code(e: &tokio::task::JoinError) -> RDKafkaErrorCode {
    tracing::error!("metadata task failed: {e}");
    RDKafkaErrorCode::Fail
}

fn metadata_failure(e: &KafkaError, timeout: Duration) -> String {
    match e.rdkafka_error_code() {
        Some(RDKafkaErrorCode::OperationTimedOut) => {
            format!("no answer to a metadata request within {timeout:?}")
        }
        _ => format!("metadata request failed: {e}"),
    }
}

fn admin_client(config: &KafkaConfig) -> Result<AdminClient<DefaultClientContext>, LogError> {
    config
        .client_config()
        .create()
        .map_err(|e| LogError::Kafka(format!("creating the admin client: {e}")))
}

/// Refuses topics whose settings would lose events (see [`KEPT_FOREVER`]).
async fn check_topic_settings(config: &KafkaConfig) -> Result<(), LogError> {
    let admin = admin_client(config)?;
    let topics: Vec<String> = Domain::ALL
        .iter()
        .map(|d| d.topic(&config.topic_prefix))
        .collect();
    let specifiers: Vec<ResourceSpecifier<'_>> =
        topics.iter().map(|t| ResourceSpecifier::Topic(t)).collect();
    let options = AdminOptions::new().request_timeout(Some(config.connect_timeout));
    let results = tokio::time::timeout(
        config.connect_timeout + Duration::from_secs(1),
        admin.describe_configs(&specifiers, &options),
    )
    .await
    .map_err(|_| LogError::Unreachable {
        brokers: config.brokers.clone(),
        reason: format!(
            "no answer to a topic configuration request within {:?}",
            config.connect_timeout
        ),
    })?
    .map_err(|e| {
        LogError::Kafka(format!(
            "reading the settings of {}: {e}",
            topics.join(", ")
        ))
    })?;
    for (topic, result) in topics.iter().zip(results) {
        let resource = result
            .map_err(|code| LogError::Kafka(format!("reading the settings of {topic}: {code}")))?;
        for rule in &KEPT_FOREVER {
            let value = resource
                .get(rule.setting)
                .and_then(|entry| entry.value.as_deref())
                .unwrap_or("(not reported)");
            if !(rule.accepts)(value) {
                return Err(LogError::TopicSetting {
                    brokers: config.brokers.clone(),
                    topic: topic.clone(),
                    setting: rule.setting,
                    value: value.to_string(),
                    wanted: rule.wanted,
                    harm: rule.harm,
                });
            }
        }
    }
    Ok(())
}

async fn create_topics(config: &KafkaConfig, topics: &[String]) -> Result<(), LogError> {
    let admin = admin_client(config)?;
    let count = config.partitions.unwrap_or(DEFAULT_PARTITIONS).max(1);
    let replication = config.replication_factor.map_or(-1, i32::from);
    let max_bytes = config.protocol_max_bytes();
    let new_topics: Vec<NewTopic> = topics
        .iter()
        .map(|t| {
            KEPT_FOREVER.iter().fold(
                NewTopic::new(t, count as i32, TopicReplication::Fixed(replication))
                    .set("max.message.bytes", &max_bytes),
                |topic, rule| topic.set(rule.setting, rule.wanted),
            )
        })
        .collect();
    let options = AdminOptions::new()
        .request_timeout(Some(config.connect_timeout))
        .operation_timeout(Some(config.connect_timeout));
    // The admin client answers within its request timeout; the outer
    // timeout only guarantees connect never hangs.
    let results = tokio::time::timeout(
        config.connect_timeout + Duration::from_secs(1),
        admin.create_topics(&new_topics, &options),
    )
    .await
    .map_err(|_| LogError::Unreachable {
        brokers: config.brokers.clone(),
        reason: format!(
            "no answer to topic creation within {:?}",
            config.connect_timeout
        ),
    })?
    .map_err(|e| LogError::Kafka(format!("creating topics {}: {e}", topics.join(", "))))?;
    for result in results {
        match result {
            Ok(topic) => tracing::info!(%topic, partitions = count, "created topic"),
            // Someone else created it meanwhile: its count is checked later.
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(LogError::Kafka(format!("creating topic {topic}: {code}")))
            }
        }
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The maps behind these locks are updated in single statements, so a
    // poisoned lock still holds consistent data.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[async_trait]
impl EventLog for KafkaLog {
    fn shared(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!(
            "kafka at {} (topics {}.*)",
            self.config.brokers, self.config.topic_prefix
        )
    }

    fn topic_name(&self, domain: Domain) -> String {
        domain.topic(&self.config.topic_prefix)
    }

    fn partitions(&self, domain: Domain) -> u32 {
        self.partitions.get(&domain).copied().unwrap_or(1)
    }

    /// Sends every record to its partition in the order given and waits
    /// for all acknowledgements. The producer is idempotent, so records in
    /// flight together keep their order within a partition even across
    /// retries. If some records fail, others of the same call may already
    /// be in the log: callers retry, and readers drop duplicates by event id.
    async fn append(
        &self,
        domain: Domain,
        records: Vec<OutgoingRecord>,
    ) -> Result<Vec<LogPosition>, LogError> {
        let topic = self.topic_name(domain);
        let count = self.partitions(domain);
        // Refuse an oversized record before sending anything, so the call
        // fails as a whole with a message that says why.
        for record in &records {
            let partition = partition_of(record, count);
            if partition >= count {
                return Err(LogError::UnknownPartition { topic, partition });
            }
            let size = outgoing_size(record);
            if size > self.config.max_record_bytes {
                return Err(LogError::Kafka(format!(
                    "record for key {:?} in {topic} is {size} bytes, over the limit of {} \
                     (KafkaConfig::max_record_bytes)",
                    String::from_utf8_lossy(&record.key),
                    self.config.max_record_bytes
                )));
            }
        }

        let mut in_flight = Vec::with_capacity(records.len());
        for record in &records {
            let partition = partition_of(record, count);
            let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
            for (name, value) in &record.headers {
                headers = headers.insert(Header {
                    key: name.as_str(),
                    value: Some(value.as_slice()),
                });
            }
            let mut outgoing = FutureRecord::to(&topic)
                .partition(partition as i32)
                .key(record.key.as_slice())
                .payload(record.value.as_slice())
                .timestamp(record.timestamp_ms)
                .headers(headers);
            // Enqueue strictly in order; when librdkafka's local queue is
            // full, wait for room rather than reorder.
            let delivery = loop {
                match self.producer.send_result(outgoing) {
                    Ok(delivery) => break delivery,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        outgoing = back;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    Err((e, _)) => return Err(self.produce_error(&topic, &e)),
                }
            };
            in_flight.push(delivery);
        }

        let mut positions = Vec::with_capacity(in_flight.len());
        for delivery in in_flight {
            // librdkafka resolves every delivery within message.timeout.ms.
            let delivered = match delivery.await {
                Ok(Ok(delivered)) => delivered,
                Ok(Err((e, _))) => return Err(self.produce_error(&topic, &e)),
                Err(_) => {
                    return Err(LogError::Kafka(format!(
                        "appending to {topic}: the producer shut down before acknowledging"
                    )))
                }
            };
            let (Ok(partition), Ok(offset)) = (
                u32::try_from(delivered.partition),
                u64::try_from(delivered.offset),
            ) else {
                return Err(LogError::Kafka(format!(
                    "appending to {topic}: the broker acknowledged with partition {} offset {}",
                    delivered.partition, delivered.offset
                )));
            };
            positions.push(LogPosition { partition, offset });
        }

        let mut appended = lock(&self.appended);
        for p in &positions {
            let end = appended
                .entry(TopicPartition {
                    domain,
                    partition: p.partition,
                })
                .or_insert(0);
            *end = (*end).max(p.offset + 1);
        }
        Ok(positions)
    }

    fn reader(&self, starts: &[ReadStart]) -> Result<Box<dyn LogReader>, LogError> {
        let wake = Arc::new(Wake::default());
        let mut by_domain: BTreeMap<Domain, Vec<&ReadStart>> = BTreeMap::new();
        for s in starts {
            let tp = s.topic_partition;
            if tp.partition >= self.partitions(tp.domain) {
                return Err(LogError::UnknownPartition {
                    topic: self.topic_name(tp.domain),
                    partition: tp.partition,
                });
            }
            by_domain.entry(tp.domain).or_default().push(s);
        }
        // One consumer per topic: librdkafka reports partition EOF with a
        // partition number only, so a consumer must not mix topics.
        let mut consumers = Vec::with_capacity(by_domain.len());
        for (domain, starts) in by_domain {
            consumers.push(self.domain_consumer(domain, &starts, &wake)?);
        }
        Ok(Box::new(KafkaReader {
            consumers,
            wake,
            appended: self.appended.clone(),
            cursor: 0,
            brokers: self.config.brokers.clone(),
        }))
    }

    /// Watermark query: informative only. Some brokers answer it wrongly
    /// after batched produces; readers never rely on it.
    async fn end_offsets(&self, domain: Domain) -> Result<Vec<u64>, LogError> {
        let producer = self.producer.clone();
        let topic = self.topic_name(domain);
        let count = self.partitions(domain);
        let timeout = self.config.connect_timeout;
        let blocking = tokio::task::spawn_blocking(move || {
            (0..count)
                .map(|p| {
                    let (_, high) = producer
                        .client()
                        .fetch_watermarks(&topic, p as i32, timeout)?;
                    Ok(u64::try_from(high).unwrap_or(0))
                })
                .collect::<Result<Vec<u64>, KafkaError>>()
        });
        match blocking.await {
            Ok(Ok(ends)) => Ok(ends),
            Ok(Err(e)) => Err(self.unreachable(format!(
                "querying the end offsets of {}: {e}",
                self.topic_name(domain)
            ))),
            Err(e) => Err(LogError::Kafka(format!("watermark query failed: {e}"))),
        }
    }
}

impl KafkaLog {
    fn domain_consumer(
        &self,
        domain: Domain,
        starts: &[&ReadStart],
        wake: &Arc<Wake>,
    ) -> Result<DomainConsumer, LogError> {
        let topic = self.topic_name(domain);
        let kafka = |what: &str, e: KafkaError| LogError::Kafka(format!("{what} for {topic}: {e}"));
        let mut consumer: BaseConsumer = self
            .config
            .client_config()
            // librdkafka needs a group to accept an assignment; nothing is
            // ever committed to it, positions live in the view database.
            .set(
                "group.id",
                format!("reprise-reader-{}", uuid::Uuid::now_v7()),
            )
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "true")
            .set("auto.offset.reset", "earliest")
            // Followers wait on fetches; keep the broker's wait short so a
            // new record shows up promptly even where long polls are coarse
            // (tansu answers a fetch when its wait ends, not when data
            // arrives). It bounds how late a follower sees a write: what a
            // writer waits, a standby's lag, a switch's take-over. 100 ms
            // gave switch holds of 110-300 ms; 20 ms, 32-68 ms
            // (bench/switch.sh).
            .set("fetch.wait.max.ms", "20")
            .create()
            .map_err(|e| kafka("creating a consumer", e))?;
        let waker = wake.clone();
        consumer.set_nonempty_callback(move || waker.notify());

        let mut assignment = TopicPartitionList::with_capacity(starts.len());
        let mut partitions = HashMap::new();
        for s in starts {
            let partition = s.topic_partition.partition;
            // Start a little early and drop what precedes the start: see
            // `PartitionState::judge`.
            let early = s.offset.saturating_sub(BATCH_RECORDS);
            let offset = i64::try_from(early).map_err(|_| {
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
                    started: false,
                    rewind: (early > 0).then_some(2 * BATCH_RECORDS),
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

fn outgoing_size(record: &OutgoingRecord) -> usize {
    record.key.len()
        + record.value.len()
        + record
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len())
            .sum::<usize>()
}

/// Lets librdkafka's threads wake a reader blocked in `poll`. The counter
/// closes the gap between "queues looked empty" and "started waiting".
#[derive(Default)]
struct Wake {
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
    /// A record of this partition has been handed out.
    started: bool,
    /// How far to seek back when the first record skips past `next`;
    /// `None` once a seek back to offset 0 was tried.
    rewind: Option<u64>,
}

/// What to do with a record a consumer delivered.
enum Verdict {
    Take,
    /// Below the reader's position: already handed out, or before where
    /// it asked to start.
    Skip,
    /// Seek back this far: the broker skipped records we asked for.
    Rewind(u64),
}

impl PartitionState {
    /// Some brokers (tansu) answer a fetch from the middle of a record
    /// batch with the *next* batch, or with nothing when it is the last
    /// one, instead of the batch holding the offset. So readers start
    /// [`BATCH_RECORDS`] early (our batches are never longer) and drop what
    /// precedes the start. Offsets in our topics are dense (no compaction,
    /// no transactions), so if the first record still lands past the start
    /// (a longer batch from another producer), seek back further and
    /// further; a gap that persists down to offset 0 is real (retention)
    /// and is accepted.
    fn judge(&mut self, offset: u64) -> Verdict {
        if offset < self.next {
            return Verdict::Skip;
        }
        if offset > self.next && !self.started {
            if let Some(step) = self.rewind {
                let back = self.next.saturating_sub(step);
                // Once back at 0 there is nowhere further to go.
                self.rewind = (back > 0).then(|| step.saturating_mul(2));
                return Verdict::Rewind(back);
            }
        }
        Verdict::Take
    }
}

struct DomainConsumer {
    domain: Domain,
    topic: String,
    consumer: BaseConsumer,
    partitions: HashMap<i32, PartitionState>,
}

struct KafkaReader {
    consumers: Vec<DomainConsumer>,
    wake: Arc<Wake>,
    appended: Arc<Mutex<HashMap<TopicPartition, u64>>>,
    /// The consumer to drain first next time, so none starves another.
    cursor: usize,
    brokers: String,
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
                        let partition = message.partition();
                        drop(message); // a seek needs the consumer to itself
                        if let Some(state) = dc.partitions.get_mut(&partition) {
                            match state.judge(record.offset) {
                                Verdict::Take => {}
                                Verdict::Skip => continue,
                                Verdict::Rewind(back) => {
                                    tracing::debug!(
                                        topic = %dc.topic, partition, from = state.next,
                                        got = record.offset, back,
                                        "fetch skipped records; seeking back"
                                    );
                                    state.eof = false;
                                    dc.consumer
                                        .seek(
                                            &dc.topic,
                                            partition,
                                            Offset::Offset(back as i64),
                                            SEEK_TIMEOUT,
                                        )
                                        .map_err(|e| {
                                            LogError::Kafka(format!(
                                                "seeking in {}/{partition}: {e}",
                                                dc.topic
                                            ))
                                        })?;
                                    continue;
                                }
                            }
                            if record.offset > state.next {
                                tracing::warn!(
                                    topic = %dc.topic, partition, expected = state.next,
                                    got = record.offset, "records missing from the log"
                                );
                            }
                            state.next = record.offset + 1;
                            state.eof = false;
                            state.started = true;
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
