//! The production log: Apache Kafka (or any broker speaking its protocol)
//! through rdkafka.
//!
//! The shape is the embedded log's: one topic per [`Domain`] under a
//! prefix, keys mapped to partitions by [`crate::domain::partition_for`] (never by the
//! client's partitioner, so both backends place a key identically), and
//! readers that are assigned partitions explicitly and keep no state in
//! the broker (`reader`). What the log asks of the cluster's topics and of
//! the operator's client properties is in `settings`.

mod reader;
mod settings;

pub use settings::ClientProperties;

use super::{
    partition_of, EventLog, LogError, LogPosition, LogReader, OutgoingRecord, ReadStart,
    TopicPartition,
};
use crate::domain::Domain;
use crate::log::embedded::DEFAULT_PARTITIONS;
use async_trait::async_trait;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use reader::{KafkaReader, Wake};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Room for Kafka's batch and record framing on top of a record's own
/// bytes, when deriving the protocol limits from [`KafkaConfig::max_record_bytes`].
const FRAMING_ALLOWANCE: usize = 16 * 1024;

/// How long an append asks the cluster whether it is back, once every
/// broker was reported down.
const BROKER_PROBE_TIMEOUT: Duration = Duration::from_secs(1);

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
    /// Replicas of each partition of topics this log creates; when set, an
    /// existing topic with another count is refused. `None`: the broker's
    /// `default.replication.factor`.
    pub replication_factor: Option<u16>,
    /// `min.insync.replicas` of topics this log creates: with `acks=all`,
    /// a write is acknowledged once that many replicas have it. When set,
    /// an existing topic with another value is refused. `None`: the
    /// broker's default.
    pub min_insync_replicas: Option<u16>,
    /// The operator's librdkafka properties (security, SASL, TLS).
    pub client: ClientProperties,
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
            min_insync_replicas: None,
            client: ClientProperties::default(),
            connect_timeout: Duration::from_secs(5),
            append_timeout: Duration::from_secs(30),
            // Kafka's own default (message.max.bytes is about 1 MB), so a
            // stock broker accepts whatever we accept.
            max_record_bytes: 1_000_000,
        }
    }

    /// Settings every client of this log shares: ours, then the
    /// operator's (which may override the timeouts and the client id).
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
            // A broker back after a crash is noticed within a second
            // (librdkafka's default backs off up to 10 s).
            .set("reconnect.backoff.max.ms", "1000")
            // Idle connections being closed by the broker is not news.
            .set("log.connection.close", "false");
        self.client.apply_to(&mut c);
        c
    }

    /// A consumer's settings: partitions are assigned explicitly and read
    /// to their end (which it reports). librdkafka needs a group to accept
    /// an assignment; nothing is ever committed to it (no group ACL is
    /// needed), positions live in the view database.
    fn consumer_config(&self, purpose: &str) -> ClientConfig {
        let mut c = self.client_config();
        c.set(
            "group.id",
            format!("reprise-{purpose}-{}", uuid::Uuid::now_v7()),
        )
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest");
        c
    }

    /// The largest batch the producer sends, and so the smallest
    /// `max.message.bytes` a topic may have.
    fn batch_bytes(&self) -> usize {
        self.max_record_bytes + FRAMING_ALLOWANCE
    }
}

fn millis(d: Duration) -> String {
    d.as_millis().to_string()
}

/// Receives librdkafka's global errors, so that a failure to connect can
/// say why (refused credentials, a TLS handshake) rather than only that
/// no answer came.
#[derive(Clone, Default)]
struct ClientEvents {
    heard: Arc<Mutex<Heard>>,
}

#[derive(Default)]
struct Heard {
    /// Why the credentials were refused, if they were: kept, because
    /// librdkafka's next word is only that every broker is down.
    refused: Option<String>,
    last: Option<String>,
    /// librdkafka reported every broker down, and no metadata request
    /// has succeeded since.
    all_down: bool,
}

impl ClientEvents {
    /// Why the credentials were refused, if they were since this client started.
    fn refused_credentials(&self) -> Option<String> {
        lock(&self.heard).refused.clone()
    }

    fn last_error(&self) -> Option<String> {
        lock(&self.heard).last.clone()
    }

    fn all_down(&self) -> bool {
        lock(&self.heard).all_down
    }

    fn reached(&self) {
        lock(&self.heard).all_down = false;
    }
}

impl ClientContext for ClientEvents {
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(target: "librdkafka", "{error}: {reason}");
        let mut heard = lock(&self.heard);
        if matches!(
            error.rdkafka_error_code(),
            Some(RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SaslAuthenticationFailed)
        ) {
            heard.refused = Some(reason.to_string());
        }
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            // Says less than the error before it (a refused connection, a
            // failed TLS handshake), which is kept.
            heard.all_down = true;
        } else {
            heard.last = Some(reason.to_string());
        }
    }
}

impl ConsumerContext for ClientEvents {}

/// The Kafka log. Cheap to share behind an `Arc`; one producer serves all
/// appends, each reader has its own consumers.
pub struct KafkaLog {
    config: KafkaConfig,
    producer: FutureProducer<ClientEvents>,
    events: ClientEvents,
    partitions: BTreeMap<Domain, u32>,
    /// The end of each partition as far as this process appended to it,
    /// so that readers of this log never call themselves caught up before
    /// they have read what was appended through it.
    appended: Arc<Mutex<HashMap<TopicPartition, u64>>>,
}

/// A topic as the cluster's metadata shows it.
#[derive(Clone, Copy, Debug)]
struct TopicShape {
    partitions: u32,
    /// The fewest replicas of any of its partitions.
    replicas: usize,
}

impl KafkaLog {
    /// Connects, creates missing topics, checks every topic's settings
    /// and learns its partition count. Fails within about
    /// `connect_timeout` when no broker answers ([`LogError::Unreachable`])
    /// or the credentials are refused ([`LogError::Authentication`]).
    pub async fn connect(config: KafkaConfig) -> Result<KafkaLog, LogError> {
        let events = ClientEvents::default();
        let batch_bytes = config.batch_bytes().to_string();
        let producer: FutureProducer<ClientEvents> = config
            .client_config()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", millis(config.append_timeout))
            .set("message.max.bytes", &batch_bytes)
            .set("batch.size", &batch_bytes)
            // Every append is awaited by a writer: send at once rather
            // than wait librdkafka's 5 ms for more (under load, batches
            // still form from what queues while requests are in flight).
            .set("linger.ms", "0")
            .create_with_context(events.clone())
            .map_err(|e| LogError::ClientSettings(format!("creating the producer: {e}")))?;

        // One admin client for topic creation and the settings check.
        let admin = admin_client(&config, &events)?;
        let failed = |e: KafkaError| cluster_failure(&config, &events, &e);
        let deadline = Instant::now() + config.connect_timeout;
        let mut existing = topic_shapes(&producer, config.connect_timeout)
            .await
            .map_err(failed)?;

        let missing: Vec<String> = Domain::ALL
            .iter()
            .map(|d| d.topic(&config.topic_prefix))
            .filter(|t| !existing.contains_key(t))
            .collect();
        if !missing.is_empty() {
            create_topics(&config, &admin, &missing).await?;
            // Topic creation is asynchronous in Kafka: wait until metadata
            // shows every topic with its partitions.
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                existing = topic_shapes(&producer, left.max(Duration::from_secs(1)))
                    .await
                    .map_err(failed)?;
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
            let shape = existing.get(&topic).copied().unwrap_or(TopicShape {
                partitions: 0,
                replicas: 0,
            });
            if let Some(configured) = config.partitions {
                if configured != shape.partitions {
                    return Err(LogError::PartitionMismatch {
                        topic,
                        actual: shape.partitions,
                        configured,
                    });
                }
            }
            if let Some(configured) = config.replication_factor {
                if usize::from(configured) != shape.replicas {
                    return Err(LogError::Kafka(format!(
                        "topic {topic} has {} replica(s) per partition but --replication-factor \
                         {configured} is configured; change it with kafka-reassign-partitions.sh",
                        shape.replicas
                    )));
                }
            }
            partitions.insert(domain, shape.partitions);
        }
        check_topic_settings(&config, &admin).await?;
        tracing::debug!(brokers = %config.brokers, ?partitions, "connected to Kafka");
        Ok(KafkaLog {
            config,
            producer,
            events,
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

    /// While librdkafka says every broker is down, an append would wait
    /// out the append timeout in its queue: ask the cluster first, so
    /// writers hear at once (and a writer after the cluster came back
    /// goes ahead).
    async fn check_brokers_up(&self, topic: &str) -> Result<(), LogError> {
        if !self.events.all_down() {
            return Ok(());
        }
        match topic_shapes(&self.producer, BROKER_PROBE_TIMEOUT).await {
            Ok(_) => {
                self.events.reached();
                Ok(())
            }
            Err(e) => {
                Err(self.unreachable(format!("appending to {topic}: every broker is down ({e})")))
            }
        }
    }

    /// Where a record that was appended is: the first one from the end of
    /// its partition with the same key and value (events carry a unique
    /// id, so there is one), found by reading ever longer tails. Fails if
    /// it is not there, or not found within the append timeout.
    pub async fn position_of(
        &self,
        domain: Domain,
        record: &OutgoingRecord,
    ) -> Result<LogPosition, LogError> {
        let topic = self.topic_name(domain);
        let partition = partition_of(record, self.partitions(domain));
        let consumer: BaseConsumer<ClientEvents> = self
            .config
            .consumer_config("finder")
            .create_with_context(self.events.clone())
            .map_err(|e| LogError::Kafka(format!("creating a consumer for {topic}: {e}")))?;
        let (key, value) = (record.key.clone(), record.value.clone());
        let timeout = self.config.append_timeout;
        let brokers = self.config.brokers.clone();
        let blocking = tokio::task::spawn_blocking(move || {
            find_from_the_end(&consumer, &topic, partition, &key, &value, timeout).map_err(|e| {
                LogError::Unreachable {
                    brokers,
                    reason: format!("finding an acknowledged record in {topic}/{partition}: {e}"),
                }
            })
        });
        let offset = blocking
            .await
            .map_err(|e| LogError::Kafka(format!("finding a record: {e}")))??;
        Ok(LogPosition { partition, offset })
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
                | RDKafkaErrorCode::Resolve
                | RDKafkaErrorCode::NotEnoughReplicas
                | RDKafkaErrorCode::NotEnoughReplicasAfterAppend,
            ) => self.unreachable(format!("appending to {topic}: {e}")),
            Some(RDKafkaErrorCode::TopicAuthorizationFailed) => LogError::NotAuthorized {
                brokers: self.config.brokers.clone(),
                action: "write to",
                topic: topic.to_string(),
                reason: e.to_string(),
            },
            Some(RDKafkaErrorCode::MessageSizeTooLarge) => LogError::Kafka(format!(
                "appending to {topic}: a record is larger than the broker accepts \
                 (the topic's max.message.bytes): {e}"
            )),
            _ => LogError::Kafka(format!("appending to {topic}: {e}")),
        }
    }
}

/// Why the cluster did not answer: refused credentials, or unreachable
/// (with librdkafka's last word on it, e.g. a refused connection).
fn cluster_failure(config: &KafkaConfig, events: &ClientEvents, e: &KafkaError) -> LogError {
    if let Some(reason) = events.refused_credentials() {
        return LogError::Authentication {
            brokers: config.brokers.clone(),
            reason,
        };
    }
    let mut reason = match e.rdkafka_error_code() {
        Some(RDKafkaErrorCode::OperationTimedOut) => format!(
            "no answer to a metadata request within {:?}",
            config.connect_timeout
        ),
        _ => format!("metadata request failed: {e}"),
    };
    if let Some(last) = events.last_error() {
        reason = format!("{reason} (last error: {last})");
    }
    LogError::Unreachable {
        brokers: config.brokers.clone(),
        reason,
    }
}

/// Every topic that is ready (no error, at least one partition). Lists
/// all topics rather than asking for ours by name, because a by-name
/// request may auto-create a topic with the broker's default partition count.
async fn topic_shapes(
    producer: &FutureProducer<ClientEvents>,
    timeout: Duration,
) -> Result<HashMap<String, TopicShape>, KafkaError> {
    let producer = producer.clone();
    let blocking = tokio::task::spawn_blocking(move || {
        let metadata = producer.client().fetch_metadata(None, timeout)?;
        Ok(metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none() && !t.partitions().is_empty())
            .map(|t| {
                let shape = TopicShape {
                    partitions: t.partitions().len() as u32,
                    replicas: t
                        .partitions()
                        .iter()
                        .map(|p| p.replicas().len())
                        .min()
                        .unwrap_or(0),
                };
                (t.name().to_string(), shape)
            })
            .collect())
    });
    blocking.await.unwrap_or_else(|e| {
        tracing::error!("metadata task failed: {e}");
        Err(KafkaError::MetadataFetch(RDKafkaErrorCode::Fail))
    })
}

fn admin_client(
    config: &KafkaConfig,
    events: &ClientEvents,
) -> Result<AdminClient<ClientEvents>, LogError> {
    config
        .client_config()
        .create_with_context(events.clone())
        .map_err(|e| LogError::ClientSettings(format!("creating the admin client: {e}")))
}

/// The error for an admin request's code on one topic.
fn topic_refusal(
    config: &KafkaConfig,
    action: &'static str,
    topic: &str,
    code: RDKafkaErrorCode,
) -> LogError {
    match code {
        RDKafkaErrorCode::TopicAuthorizationFailed
        | RDKafkaErrorCode::ClusterAuthorizationFailed => LogError::NotAuthorized {
            brokers: config.brokers.clone(),
            action,
            topic: topic.to_string(),
            reason: code.to_string(),
        },
        RDKafkaErrorCode::InvalidReplicationFactor => LogError::Kafka(format!(
            "cannot {action} topic {topic}: {code} (--replication-factor {} needs as many brokers)",
            config
                .replication_factor
                .map_or("(the broker's default)".to_string(), |r| r.to_string())
        )),
        _ => LogError::Kafka(format!("cannot {action} topic {topic}: {code}")),
    }
}

/// Waits for an admin request, but never longer than the connect timeout
/// (the admin client answers within its request timeout; this only
/// guarantees that connect never hangs).
async fn admin_answer<T>(
    config: &KafkaConfig,
    what: &str,
    request: impl std::future::Future<Output = T>,
) -> Result<T, LogError> {
    tokio::time::timeout(config.connect_timeout + Duration::from_secs(1), request)
        .await
        .map_err(|_| LogError::Unreachable {
            brokers: config.brokers.clone(),
            reason: format!("no answer to {what} within {:?}", config.connect_timeout),
        })
}

/// Refuses topics whose settings would lose or refuse events (see
/// [`settings::judge_topic`]).
async fn check_topic_settings(
    config: &KafkaConfig,
    admin: &AdminClient<ClientEvents>,
) -> Result<(), LogError> {
    let topics: Vec<String> = Domain::ALL
        .iter()
        .map(|d| d.topic(&config.topic_prefix))
        .collect();
    let specifiers: Vec<ResourceSpecifier<'_>> =
        topics.iter().map(|t| ResourceSpecifier::Topic(t)).collect();
    let options = AdminOptions::new().request_timeout(Some(config.connect_timeout));
    let results = admin_answer(
        config,
        "a topic configuration request",
        admin.describe_configs(&specifiers, &options),
    )
    .await?
    .map_err(|e| {
        LogError::Kafka(format!(
            "reading the settings of {}: {e}",
            topics.join(", ")
        ))
    })?;
    for (topic, result) in topics.iter().zip(results) {
        let resource =
            result.map_err(|code| topic_refusal(config, "read the settings of", topic, code))?;
        settings::judge_topic(
            &config.brokers,
            topic,
            |name| resource.get(name).and_then(|entry| entry.value.clone()),
            config.batch_bytes(),
            config.min_insync_replicas,
        )?;
    }
    Ok(())
}

async fn create_topics(
    config: &KafkaConfig,
    admin: &AdminClient<ClientEvents>,
    topics: &[String],
) -> Result<(), LogError> {
    let count = config.partitions.unwrap_or(DEFAULT_PARTITIONS).max(1);
    let replication = config.replication_factor.map_or(-1, i32::from);
    let batch_bytes = config.batch_bytes().to_string();
    let min_insync = config.min_insync_replicas.map(|n| n.to_string());
    let new_topics: Vec<NewTopic> = topics
        .iter()
        .map(|t| {
            let mut topic = NewTopic::new(t, count as i32, TopicReplication::Fixed(replication))
                .set("max.message.bytes", &batch_bytes);
            for rule in &settings::KEPT_FOREVER {
                topic = topic.set(rule.setting, rule.wanted);
            }
            match &min_insync {
                Some(n) => topic.set("min.insync.replicas", n),
                None => topic,
            }
        })
        .collect();
    let options = AdminOptions::new()
        .request_timeout(Some(config.connect_timeout))
        .operation_timeout(Some(config.connect_timeout));
    let results = admin_answer(
        config,
        "topic creation",
        admin.create_topics(&new_topics, &options),
    )
    .await?
    .map_err(|e| LogError::Kafka(format!("creating topics {}: {e}", topics.join(", "))))?;
    for result in results {
        match result {
            Ok(topic) => tracing::info!(%topic, partitions = count, "created topic"),
            // Someone else created it meanwhile: its count is checked later.
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(topic_refusal(config, "create", &topic, code)),
        }
    }
    Ok(())
}

/// The offset of the last record of `topic`/`partition` with this key and
/// value, reading the last 256 records, then 1,024, ... back to the start.
fn find_from_the_end(
    consumer: &BaseConsumer<ClientEvents>,
    topic: &str,
    partition: u32,
    key: &[u8],
    value: &[u8],
    timeout: Duration,
) -> Result<u64, String> {
    let deadline = Instant::now() + timeout;
    let p = partition as i32;
    let (low, high) = consumer
        .fetch_watermarks(topic, p, timeout)
        .map_err(|e| e.to_string())?;
    let mut window = 256i64;
    let mut end = high;
    loop {
        let start = (end - window).max(low);
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(topic, p, Offset::Offset(start))
            .map_err(|e| e.to_string())?;
        consumer.assign(&assignment).map_err(|e| e.to_string())?;
        let mut found = None;
        let mut next = start;
        while next < end {
            if Instant::now() > deadline {
                return Err(format!("not found within {timeout:?}"));
            }
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    next = m.offset() + 1;
                    if m.offset() < end
                        && m.key().unwrap_or_default() == key
                        && m.payload().unwrap_or_default() == value
                    {
                        found = Some(m.offset());
                    }
                }
                Some(Err(KafkaError::PartitionEOF(_))) => break,
                Some(Err(e)) => tracing::debug!(%topic, partition, "finding a record: {e}"),
                None => {}
            }
        }
        if let Some(offset) = found {
            return u64::try_from(offset).map_err(|e| e.to_string());
        }
        if start <= low {
            return Err("it is not in the partition".into());
        }
        end = start;
        window = window.saturating_mul(4);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The values behind these locks are replaced in single statements, so
    // a poisoned lock still holds consistent data.
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

    fn max_record_bytes(&self) -> Option<usize> {
        Some(self.config.max_record_bytes)
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
        self.check_brokers_up(&topic).await?;
        // Refuse an oversized record before sending anything, so the call
        // fails as a whole with a message that says why.
        for record in &records {
            let partition = partition_of(record, count);
            if partition >= count {
                return Err(LogError::UnknownPartition { topic, partition });
            }
            let size = record.size();
            if size > self.config.max_record_bytes {
                return Err(LogError::RecordTooLarge {
                    topic,
                    size,
                    limit: self.config.max_record_bytes,
                });
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
            let Ok(partition) = u32::try_from(delivered.partition) else {
                return Err(LogError::Kafka(format!(
                    "appending to {topic}: the broker acknowledged with partition {}",
                    delivered.partition
                )));
            };
            let offset = match u64::try_from(delivered.offset) {
                Ok(offset) => offset,
                // Delivered, but librdkafka does not know where: a retried
                // send the broker recognised as one it had already written
                // (DUPLICATE_SEQUENCE_NUMBER). The record is in the log.
                Err(_) => {
                    let record = &records[positions.len()];
                    tracing::debug!(%topic, partition, "acknowledged without an offset; finding it");
                    self.position_of(domain, record).await?.offset
                }
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

    /// The high watermark of each partition: the offset the next record
    /// will get, so what a reader at offset `o` has still to read is
    /// `end - o` records (offsets are dense in our topics).
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
