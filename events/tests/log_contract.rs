//! The contract every log backend keeps, written once over `&dyn EventLog`
//! and run against the embedded log and against Kafka (a real Apache Kafka broker
//! the tests start themselves; see `support`).

// The name the server's tests know this crate by, which the shared
// support module uses.
extern crate reprise_events as events;

mod support;

use reprise_events::domain::partition_for;
use reprise_events::log::{
    starts_from_beginning, ClientProperties, EmbeddedLog, KafkaConfig, KafkaLog, LogReader,
    ReadStart, TopicPartition,
};
use reprise_events::{Domain, EventLog, LogError, LogPosition, LogRecord, OutgoingRecord};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};
use support::{
    grant_topic_acls, kafka_brokers, kafka_sasl_brokers, kafka_tls_brokers, sasl_properties,
    unique_name, TempDir,
};

/// Generous bound for reads to complete; only reached when something is broken.
const READ_WITHIN: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------- fixtures

/// A fresh, empty log; for the embedded log also the directory it lives in.
struct Fixture {
    log: Box<dyn EventLog>,
    _dir: Option<TempDir>,
}

async fn embedded_fixture() -> Fixture {
    let dir = TempDir::new("log-contract");
    let log = EmbeddedLog::open(dir.path(), None).expect("open embedded log");
    Fixture {
        log: Box::new(log),
        _dir: Some(dir),
    }
}

fn kafka_config(prefix: &str) -> KafkaConfig {
    // Default replication (the broker's): one, on the test's single broker.
    support::kafka_config(prefix)
}

async fn kafka_fixture() -> Fixture {
    // Each test gets its own topics, so tests never see each other's data.
    let prefix = unique_name("contract");
    let log = KafkaLog::connect(kafka_config(&prefix))
        .await
        .expect("connect to the test broker");
    Fixture {
        log: Box::new(log),
        _dir: None,
    }
}

// ----------------------------------------------------------------- helpers

/// A record whose content says which key and sequence number it is.
fn record(key: &str, seq: usize) -> OutgoingRecord {
    OutgoingRecord {
        partition: None,
        key: key.as_bytes().to_vec(),
        headers: vec![
            ("seq".into(), seq.to_string().into_bytes()),
            ("empty".into(), Vec::new()),
        ],
        value: format!("{key}#{seq}").into_bytes(),
        timestamp_ms: 1_700_000_000_000 + seq as i64,
    }
}

fn key_of(i: usize, keys: usize) -> String {
    format!("owner-{}@example.com", (i * 7 + i / keys) % keys)
}

fn seq_of(r: &LogRecord) -> usize {
    std::str::from_utf8(r.header("seq").expect("seq header"))
        .expect("utf-8")
        .parse()
        .expect("a number")
}

/// Checks a record read back is exactly what was appended.
fn assert_same(read: &LogRecord, sent: &OutgoingRecord) {
    assert_eq!(read.key, sent.key);
    assert_eq!(read.value, sent.value);
    assert_eq!(read.headers, sent.headers);
    assert_eq!(read.timestamp_ms, sent.timestamp_ms);
}

/// Polls until `n` records arrived (panics after [`READ_WITHIN`]).
fn read_n(reader: &mut dyn LogReader, n: usize) -> Vec<LogRecord> {
    let deadline = Instant::now() + READ_WITHIN;
    let mut out = Vec::new();
    while out.len() < n {
        assert!(
            Instant::now() < deadline,
            "read only {} of {n} records within {READ_WITHIN:?}",
            out.len()
        );
        let batch = reader.poll(1000, Duration::from_millis(200)).expect("poll");
        out.extend(batch.records);
    }
    assert_eq!(out.len(), n, "more records than appended");
    out
}

/// Polls until the reader says it is caught up, returning the polls it took;
/// no record may arrive meanwhile.
fn poll_until_caught_up(reader: &mut dyn LogReader) -> usize {
    let deadline = Instant::now() + READ_WITHIN;
    for polls in 1.. {
        let batch = reader.poll(100, Duration::from_millis(100)).expect("poll");
        assert!(
            batch.records.is_empty(),
            "unexpected records: {:?}",
            batch.records
        );
        if batch.caught_up {
            return polls;
        }
        assert!(
            Instant::now() < deadline,
            "never caught up within {READ_WITHIN:?}"
        );
    }
    unreachable!()
}

/// Appends in batches of the given sizes (cycled), returning the positions
/// in append order.
async fn append_in_batches(
    log: &dyn EventLog,
    domain: Domain,
    records: &[OutgoingRecord],
    sizes: &[usize],
) -> Vec<LogPosition> {
    let mut positions = Vec::with_capacity(records.len());
    let mut rest = records;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (batch, tail) = rest.split_at(size.min(rest.len()));
        let got = log.append(domain, batch.to_vec()).await.expect("append");
        assert_eq!(got.len(), batch.len(), "one position per record");
        positions.extend(got);
        rest = tail;
    }
    positions
}

/// Checks everything read against what was appended: the same records,
/// each at the position its append reported, each key in its own partition
/// and in append order, and offsets dense from 0 in every partition.
fn check_read_back(
    log: &dyn EventLog,
    sent: &[OutgoingRecord],
    positions: &[LogPosition],
    read: &[LogRecord],
) {
    assert_eq!(read.len(), sent.len());
    let partitions = log.partitions(read.first().map_or(Domain::Calendar, |r| r.domain));
    let by_position: HashMap<LogPosition, &LogRecord> =
        read.iter().map(|r| (r.position(), r)).collect();
    assert_eq!(by_position.len(), read.len(), "a position was read twice");
    for (record, position) in sent.iter().zip(positions) {
        let key = std::str::from_utf8(&record.key).expect("utf-8 key");
        assert_eq!(
            position.partition,
            partition_for(key, partitions),
            "partition of {key}"
        );
        let back = by_position
            .get(position)
            .unwrap_or_else(|| panic!("nothing read at {position:?}"));
        assert_same(back, record);
    }
    // Per key: read-back order is append order.
    let mut sent_by_key: BTreeMap<&[u8], Vec<&[u8]>> = BTreeMap::new();
    for r in sent {
        sent_by_key.entry(&r.key).or_default().push(&r.value);
    }
    let mut read_by_key: BTreeMap<&[u8], Vec<&[u8]>> = BTreeMap::new();
    for r in read {
        read_by_key.entry(&r.key).or_default().push(&r.value);
    }
    assert_eq!(sent_by_key, read_by_key);
    // Per partition: offsets 0, 1, 2, ... in the order read.
    let mut per_partition: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for r in read {
        per_partition.entry(r.partition).or_default().push(r.offset);
    }
    for (partition, offsets) in per_partition {
        let expected: Vec<u64> = (0..offsets.len() as u64).collect();
        assert_eq!(offsets, expected, "offsets of partition {partition}");
    }
}

// --------------------------------------------------------------- contract

async fn check_order_per_key(log: &dyn EventLog) {
    let domain = Domain::Calendar;
    let sent: Vec<OutgoingRecord> = (0..600).map(|i| record(&key_of(i, 23), i)).collect();
    let positions = append_in_batches(log, domain, &sent, &[1, 7, 50, 3, 120]).await;
    let mut reader = log
        .reader(&starts_from_beginning(log, &[domain]))
        .expect("reader");
    let read = read_n(&mut *reader, sent.len());
    check_read_back(log, &sent, &positions, &read);
    // And each key lives in exactly one partition.
    let mut partitions_of_key: HashMap<&[u8], BTreeSet<u32>> = HashMap::new();
    for r in &read {
        partitions_of_key
            .entry(&r.key)
            .or_default()
            .insert(r.partition);
    }
    assert!(partitions_of_key.values().all(|p| p.len() == 1));
    assert!(
        partitions_of_key
            .values()
            .flatten()
            .collect::<BTreeSet<_>>()
            .len()
            > 1,
        "23 keys should spread over several partitions"
    );
}

async fn check_offsets_monotonic(log: &dyn EventLog) {
    let domain = Domain::Contact;
    let mut next: BTreeMap<u32, u64> = BTreeMap::new();
    for round in 0..5 {
        let batch: Vec<OutgoingRecord> = (0..40)
            .map(|i| record(&key_of(i + round, 11), round * 100 + i))
            .collect();
        for position in log.append(domain, batch).await.expect("append") {
            let expected = next.entry(position.partition).or_insert(0);
            assert_eq!(
                position.offset, *expected,
                "offset in partition {}",
                position.partition
            );
            *expected += 1;
        }
    }
    let mut reader = log
        .reader(&starts_from_beginning(log, &[domain]))
        .expect("reader");
    let read = read_n(&mut *reader, 200);
    let mut seen: BTreeMap<u32, u64> = BTreeMap::new();
    for r in &read {
        let expected = seen.entry(r.partition).or_insert(0);
        assert_eq!(
            r.offset, *expected,
            "read offset in partition {}",
            r.partition
        );
        *expected += 1;
    }
    assert_eq!(seen, next);
}

async fn check_read_from_any_offset(log: &dyn EventLog) {
    let domain = Domain::Directory;
    let key = "carol@example.com";
    let partition = partition_for(key, log.partitions(domain));
    let sent: Vec<OutgoingRecord> = (0..50).map(|i| record(key, i)).collect();
    append_in_batches(log, domain, &sent, &[10, 1, 4]).await;
    let tp = TopicPartition { domain, partition };
    for from in [0u64, 1, 20, 49] {
        let mut reader = log
            .reader(&[ReadStart {
                topic_partition: tp,
                offset: from,
            }])
            .expect("reader");
        let read = read_n(&mut *reader, 50 - from as usize);
        for (r, expected) in read.iter().zip(from..) {
            assert_eq!(r.offset, expected);
            assert_eq!(r.partition, partition);
            assert_same(r, &sent[expected as usize]);
        }
        poll_until_caught_up(&mut *reader);
    }
    // Starting at the end: nothing, and caught up.
    let mut reader = log
        .reader(&[ReadStart {
            topic_partition: tp,
            offset: 50,
        }])
        .expect("reader");
    poll_until_caught_up(&mut *reader);
}

async fn check_ten_thousand(log: &dyn EventLog) {
    let domain = Domain::Seen;
    let sent: Vec<OutgoingRecord> = (0..10_000).map(|i| record(&key_of(i, 37), i)).collect();
    let started = Instant::now();
    // 9,900 in batches of 100, then 100 single appends.
    let mut positions = append_in_batches(log, domain, &sent[..9_900], &[100]).await;
    for r in &sent[9_900..] {
        positions.extend(log.append(domain, vec![r.clone()]).await.expect("append"));
    }
    let appended = started.elapsed();
    let mut reader = log
        .reader(&starts_from_beginning(log, &[domain]))
        .expect("reader");
    let read = read_n(&mut *reader, sent.len());
    eprintln!(
        "{}: appended 10,000 in {appended:?}, read back in {:?}",
        log.describe(),
        started.elapsed() - appended
    );
    check_read_back(log, &sent, &positions, &read);
    for r in &read {
        assert_eq!(r.value, sent[seq_of(r)].value);
    }
}

async fn check_follow(log: &dyn EventLog) {
    let domain = Domain::Directory;
    let mut reader = log
        .reader(&starts_from_beginning(log, &[domain]))
        .expect("reader");
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let follower = std::thread::spawn(move || {
        let deadline = Instant::now() + READ_WITHIN;
        let mut got = Vec::new();
        started_tx.send(()).expect("signal");
        while got.len() < 25 && Instant::now() < deadline {
            // Long polls: the reader sits blocked until records come.
            let batch = reader.poll(100, Duration::from_secs(10)).expect("poll");
            got.extend(batch.records);
        }
        got
    });
    started_rx.recv().expect("follower started");
    std::thread::sleep(Duration::from_millis(300)); // let it block in poll
    let sent: Vec<OutgoingRecord> = (0..25).map(|i| record("dave@example.com", i)).collect();
    for chunk in sent.chunks(5) {
        log.append(domain, chunk.to_vec()).await.expect("append");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = follower.join().expect("follower thread");
    assert_eq!(got.len(), sent.len(), "the follower saw every record");
    for (r, s) in got.iter().zip(&sent) {
        assert_same(r, s);
    }
}

async fn check_caught_up(log: &dyn EventLog) {
    let domain = Domain::Seen;
    let mut reader = log
        .reader(&starts_from_beginning(log, &[domain]))
        .expect("reader");
    // Empty log: caught up within a few polls.
    let polls = poll_until_caught_up(&mut *reader);
    assert!(
        polls <= 50,
        "took {polls} polls to see an empty log is empty"
    );

    // Never caught up while records are still unread.
    let sent: Vec<OutgoingRecord> = (0..30).map(|i| record(&key_of(i, 5), i)).collect();
    log.append(domain, sent.clone()).await.expect("append");
    let mut read = 0;
    let deadline = Instant::now() + READ_WITHIN;
    while read < sent.len() {
        assert!(Instant::now() < deadline, "read only {read} records");
        let batch = reader.poll(7, Duration::from_millis(200)).expect("poll");
        read += batch.records.len();
        if read < sent.len() {
            assert!(
                !batch.caught_up,
                "caught up after {read} of {} records",
                sent.len()
            );
        }
    }
    assert_eq!(read, sent.len());
    poll_until_caught_up(&mut *reader);

    // A new append: not caught up until it is read.
    log.append(domain, vec![record("erin@example.com", 99)])
        .await
        .expect("append");
    let deadline = Instant::now() + READ_WITHIN;
    loop {
        assert!(Instant::now() < deadline, "the new record never arrived");
        let batch = reader.poll(10, Duration::from_millis(200)).expect("poll");
        if batch.records.is_empty() {
            assert!(!batch.caught_up, "caught up before reading the new record");
        } else {
            assert_eq!(batch.records.len(), 1);
            assert_eq!(batch.records[0].value, b"erin@example.com#99");
            break;
        }
    }
    poll_until_caught_up(&mut *reader);
}

macro_rules! contract_tests {
    ($backend:ident, $fixture:path) => {
        mod $backend {
            use super::*;

            #[tokio::test]
            async fn order_per_key() {
                let f = $fixture().await;
                check_order_per_key(&*f.log).await;
            }

            #[tokio::test]
            async fn offsets_monotonic() {
                let f = $fixture().await;
                check_offsets_monotonic(&*f.log).await;
            }

            #[tokio::test]
            async fn read_from_any_offset() {
                let f = $fixture().await;
                check_read_from_any_offset(&*f.log).await;
            }

            #[tokio::test]
            async fn ten_thousand_appends() {
                let f = $fixture().await;
                check_ten_thousand(&*f.log).await;
            }

            #[tokio::test]
            async fn follow() {
                let f = $fixture().await;
                check_follow(&*f.log).await;
            }

            #[tokio::test]
            async fn caught_up() {
                let f = $fixture().await;
                check_caught_up(&*f.log).await;
            }
        }
    };
}

contract_tests!(embedded, embedded_fixture);
contract_tests!(kafka, kafka_fixture);

// ---------------------------------------------------------- embedded only

mod embedded_only {
    use super::*;

    #[tokio::test]
    async fn durable_across_restart() {
        let dir = TempDir::new("log-restart");
        let domain = Domain::Calendar;
        let sent: Vec<OutgoingRecord> = (0..300).map(|i| record(&key_of(i, 13), i)).collect();
        let (positions, ends) = {
            let log = EmbeddedLog::open(dir.path(), None).expect("open");
            let positions = append_in_batches(&log, domain, &sent, &[1, 30, 100]).await;
            (positions, log.end_offsets(domain).await.expect("ends"))
        }; // dropped: the "process" is gone

        let log = EmbeddedLog::open(dir.path(), None).expect("reopen");
        assert_eq!(log.end_offsets(domain).await.expect("ends"), ends);
        let mut reader = log
            .reader(&starts_from_beginning(&log, &[domain]))
            .expect("reader");
        let read = read_n(&mut *reader, sent.len());
        check_read_back(&log, &sent, &positions, &read);

        // Appends continue where the log left off.
        let more: Vec<OutgoingRecord> = (300..340).map(|i| record(&key_of(i, 13), i)).collect();
        let mut next = ends.clone();
        for position in log.append(domain, more).await.expect("append") {
            let slot = &mut next[position.partition as usize];
            assert_eq!(position.offset, *slot);
            *slot += 1;
        }
        assert_eq!(log.end_offsets(domain).await.expect("ends"), next);
    }

    #[test]
    fn refuses_a_foreign_directory_untouched() {
        let dir = TempDir::new("log-foreign");
        std::fs::create_dir_all(dir.path()).expect("mkdir");
        std::fs::write(dir.path().join("notes.txt"), b"precious").expect("write");
        let listing = || {
            let mut names: Vec<_> = std::fs::read_dir(dir.path())
                .expect("list")
                .map(|e| e.expect("entry").file_name())
                .collect();
            names.sort();
            names
        };
        let before = listing();
        match EmbeddedLog::open(dir.path(), None) {
            Err(LogError::Foreign { path, reason }) => {
                assert!(reason.contains("notes.txt"), "{reason}");
                assert!(path.contains("log-foreign"), "{path}");
            }
            Err(other) => panic!("expected Foreign, got {other}"),
            Ok(_) => panic!("opened a foreign directory"),
        }
        assert_eq!(listing(), before);
        assert_eq!(
            std::fs::read(dir.path().join("notes.txt")).expect("read"),
            b"precious"
        );
    }

    #[test]
    fn refuses_a_directory_already_open() {
        let dir = TempDir::new("log-locked");
        let _first = EmbeddedLog::open(dir.path(), None).expect("open");
        match EmbeddedLog::open(dir.path(), None) {
            Err(LogError::Locked { path }) => assert!(path.contains("log-locked")),
            Err(other) => panic!("expected Locked, got {other}"),
            Ok(_) => panic!("opened one directory twice"),
        }
    }

    /// A record whose stored bytes were damaged is refused by its offset:
    /// the reader stops there and never skips it.
    #[tokio::test]
    async fn a_damaged_record_is_refused_by_offset() {
        let dir = TempDir::new("log-damaged");
        let log = EmbeddedLog::open(dir.path(), Some(1)).expect("open");
        let sent: Vec<OutgoingRecord> = (0..10).map(|i| record("alice@example.com", i)).collect();
        log.append(Domain::Calendar, sent).await.expect("append");
        let tp = TopicPartition {
            domain: Domain::Calendar,
            partition: 0,
        };
        log.damage_for_tests(tp, 6, b"\0\0\0\0not a record");
        let mut reader = log
            .reader(&starts_from_beginning(&log, &[Domain::Calendar]))
            .expect("reader");
        let mut read = Vec::new();
        let error = loop {
            match reader.poll(3, Duration::from_millis(100)) {
                Ok(batch) => read.extend(batch.records),
                Err(e) => break e,
            }
        };
        assert_eq!(read.len(), 6, "the records before the damage are read");
        match error {
            LogError::Corrupt {
                topic,
                partition,
                offset,
                reason,
            } => {
                assert_eq!((topic.as_str(), partition, offset), ("calendar", 0, 6));
                assert!(reason.contains("checksum"), "{reason}");
            }
            other => panic!("expected Corrupt, got {other}"),
        }
        // Asked again from the same place, it is refused again.
        let mut again = log
            .reader(&[ReadStart {
                topic_partition: tp,
                offset: 6,
            }])
            .expect("reader");
        assert!(matches!(
            again.poll(10, Duration::from_millis(100)),
            Err(LogError::Corrupt { offset: 6, .. })
        ));
    }

    /// The storage engine's recovery drops a damaged journal tail; a log
    /// that lost records it had acknowledged is refused at open, naming
    /// the partition and the offsets lost.
    #[tokio::test]
    async fn a_log_that_lost_acknowledged_records_is_refused() {
        let dir = TempDir::new("log-lost");
        {
            let log = EmbeddedLog::open(dir.path(), Some(1)).expect("open");
            let sent: Vec<OutgoingRecord> =
                (0..5).map(|i| record("alice@example.com", i)).collect();
            log.append(Domain::Seen, sent).await.expect("append");
        }
        // What the journal would have held had it lost the last records:
        // the same log, with records only up to offset 2.
        let shorter = TempDir::new("log-lost-shorter");
        {
            let log = EmbeddedLog::open(shorter.path(), Some(1)).expect("open");
            let sent: Vec<OutgoingRecord> =
                (0..3).map(|i| record("alice@example.com", i)).collect();
            log.append(Domain::Seen, sent).await.expect("append");
        }
        // The longer log's note of what it acknowledged, over the shorter one.
        std::fs::copy(
            dir.path().join("reprise-acknowledged"),
            shorter.path().join("reprise-acknowledged"),
        )
        .expect("copy the note");
        match EmbeddedLog::open(shorter.path(), None) {
            Err(LogError::Corrupt {
                topic,
                partition,
                offset,
                reason,
            }) => {
                assert_eq!((topic.as_str(), partition, offset), ("seen", 0, 3));
                assert!(reason.contains("up to offset 4"), "{reason}");
            }
            Err(other) => panic!("expected Corrupt, got {other}"),
            Ok(_) => panic!("opened a log that lost acknowledged records"),
        }
        // The intact log opens.
        drop(EmbeddedLog::open(dir.path(), None).expect("reopen"));
    }

    /// Many writers at once share fsyncs; each gets its own positions, in
    /// order per key, and everything acknowledged survives a reopen.
    // Appends run on the blocking pool, so one runtime thread is enough
    // for them to overlap.
    #[tokio::test]
    async fn concurrent_appends_share_fsyncs_and_all_survive() {
        let dir = TempDir::new("log-group-commit");
        let log = std::sync::Arc::new(EmbeddedLog::open(dir.path(), Some(2)).expect("open"));
        let mut tasks = Vec::new();
        for writer in 0..16 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                let key = format!("writer-{writer}@example.com");
                let mut positions = Vec::new();
                for seq in 0..25 {
                    let p = log
                        .append(Domain::Files, vec![record(&key, seq)])
                        .await
                        .expect("append");
                    positions.extend(p);
                }
                positions
            }));
        }
        let mut all = BTreeSet::new();
        for task in tasks {
            let positions = task.await.expect("writer");
            assert!(positions.windows(2).all(|w| w[0].offset < w[1].offset));
            all.extend(positions.into_iter().map(|p| (p.partition, p.offset)));
        }
        assert_eq!(all.len(), 16 * 25, "every position handed out once");
        drop(log);
        let log = EmbeddedLog::open(dir.path(), None).expect("reopen");
        let ends: u64 = log
            .end_offsets(Domain::Files)
            .await
            .expect("ends")
            .iter()
            .sum();
        assert_eq!(ends, 16 * 25);
    }

    #[test]
    fn refuses_another_partition_count() {
        let dir = TempDir::new("log-mismatch");
        drop(EmbeddedLog::open(dir.path(), Some(3)).expect("create with 3"));
        match EmbeddedLog::open(dir.path(), Some(5)) {
            Err(LogError::PartitionMismatch {
                actual, configured, ..
            }) => assert_eq!((actual, configured), (3, 5)),
            Err(other) => panic!("expected PartitionMismatch, got {other}"),
            Ok(_) => panic!("accepted another partition count"),
        }
        // Without an explicit count the stored one is used.
        let log = EmbeddedLog::open(dir.path(), None).expect("reopen");
        assert_eq!(log.partitions(Domain::Seen), 3);
    }
}

// ------------------------------------------------------------- Kafka only

mod kafka_only {
    use super::*;

    #[tokio::test]
    async fn unreachable_broker_fails_fast_and_names_it() {
        // A port nothing listens on: bind, note it, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let brokers = format!("127.0.0.1:{port}");
        let started = Instant::now();
        let result = KafkaLog::connect(KafkaConfig::new(&brokers, unique_name("nowhere"))).await;
        let elapsed = started.elapsed();
        match result {
            Err(e @ LogError::Unreachable { .. }) => {
                eprintln!("{e}");
                assert!(e.to_string().contains(&brokers), "{e}");
            }
            Err(other) => panic!("expected Unreachable, got {other}"),
            Ok(_) => panic!("connected to a closed port"),
        }
        eprintln!("unreachable broker reported after {elapsed:?}");
        // A bound on the failure path: it must not hang.
        assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    }

    fn admin() -> rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> {
        rdkafka::ClientConfig::new()
            .set("bootstrap.servers", kafka_brokers())
            .create()
            .expect("admin client")
    }

    /// The settings of one topic, as the broker reports them.
    async fn topic_settings(topic: &str) -> std::collections::HashMap<String, String> {
        use rdkafka::admin::{AdminOptions, ResourceSpecifier};
        let results = admin()
            .describe_configs(&[ResourceSpecifier::Topic(topic)], &AdminOptions::new())
            .await
            .expect("describe configs");
        let resource = results
            .into_iter()
            .next()
            .expect("one topic")
            .expect("its settings");
        resource
            .entries
            .into_iter()
            .filter_map(|e| Some((e.name, e.value?)))
            .collect()
    }

    /// Creates the calendar topic of `prefix` beforehand, keeping events
    /// forever but for `setting` (a broker's defaults expire them).
    async fn create_calendar_topic(prefix: &str, setting: (&str, &str)) -> String {
        use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
        let admin = admin();
        let topic = format!("{prefix}.calendar");
        let mut settings = std::collections::BTreeMap::from([
            ("retention.ms", "-1"),
            ("retention.bytes", "-1"),
            ("cleanup.policy", "delete"),
        ]);
        settings.insert(setting.0, setting.1);
        let new = settings.iter().fold(
            NewTopic::new(&topic, 8, TopicReplication::Fixed(1)),
            |new, (name, value)| new.set(name, value),
        );
        for result in admin
            .create_topics(&[new], &AdminOptions::new())
            .await
            .expect("create topics")
        {
            result.expect("topic created");
        }
        topic
    }

    #[tokio::test]
    async fn topics_it_creates_keep_every_event() {
        let prefix = unique_name("forever");
        let _log = KafkaLog::connect(KafkaConfig {
            replication_factor: Some(1),
            min_insync_replicas: Some(1),
            ..kafka_config(&prefix)
        })
        .await
        .expect("connect");
        for domain in Domain::ALL {
            let settings = topic_settings(&domain.topic(&prefix)).await;
            assert_eq!(settings["retention.ms"], "-1", "{domain}: {settings:?}");
            assert_eq!(settings["retention.bytes"], "-1", "{domain}: {settings:?}");
            assert_eq!(
                settings["cleanup.policy"], "delete",
                "{domain}: {settings:?}"
            );
            assert_eq!(settings["min.insync.replicas"], "1", "{settings:?}");
            // The largest record (1,000,000 bytes) and a batch's framing.
            assert_eq!(settings["max.message.bytes"], "1016384", "{settings:?}");
        }
        // A reconnection with the same settings checks and accepts them;
        // another replication factor than the topics have is refused.
        KafkaLog::connect(KafkaConfig {
            min_insync_replicas: Some(1),
            ..kafka_config(&prefix)
        })
        .await
        .expect("the same settings again");
        match KafkaLog::connect(KafkaConfig {
            replication_factor: Some(3),
            ..kafka_config(&prefix)
        })
        .await
        {
            Err(e) => assert!(
                e.to_string()
                    .contains("1 replica(s) per partition but --replication-factor 3"),
                "{e}"
            ),
            Ok(_) => panic!("accepted topics with fewer replicas than asked for"),
        }
    }

    fn sasl_config(prefix: &str, user: &str, password: &str) -> KafkaConfig {
        let mut config = KafkaConfig::new(kafka_sasl_brokers(), prefix);
        config.client =
            ClientProperties::parse(&sasl_properties(user, password)).expect("properties");
        config
    }

    /// The ACLs the README documents are enough: topics are created,
    /// checked, written and read by a principal with only those.
    #[tokio::test]
    async fn sasl_with_only_the_documented_acls_creates_writes_and_reads() {
        let prefix = unique_name("sasl");
        grant_topic_acls("reprise", &prefix);
        let log = KafkaLog::connect(sasl_config(&prefix, "reprise", "reprise-secret"))
            .await
            .expect("connect with the documented ACLs");
        let sent: Vec<OutgoingRecord> = (0..20).map(|i| record(&key_of(i, 4), i)).collect();
        log.append(Domain::Calendar, sent.clone())
            .await
            .expect("append");
        let mut reader = log
            .reader(&starts_from_beginning(&log, &[Domain::Calendar]))
            .expect("reader");
        let read = read_n(&mut *reader, sent.len());
        let mut by_seq: Vec<&LogRecord> = read.iter().collect();
        by_seq.sort_by_key(|r| seq_of(r));
        for (r, s) in by_seq.into_iter().zip(&sent) {
            assert_same(r, s);
        }
        poll_until_caught_up(&mut *reader);
        let ends: u64 = log
            .end_offsets(Domain::Calendar)
            .await
            .expect("end offsets")
            .iter()
            .sum();
        assert_eq!(ends, 20);
    }

    /// SASL over TLS: with the CA that signed the broker's certificate it
    /// works; without it, the failed handshake is what the error says.
    #[tokio::test]
    async fn sasl_over_tls_needs_the_brokers_ca() {
        let prefix = unique_name("tls");
        grant_topic_acls("reprise", &prefix);
        let (brokers, ca) = kafka_tls_brokers();
        let config = |trust: bool| {
            let mut text =
                sasl_properties("reprise", "reprise-secret").replace("SASL_PLAINTEXT", "SASL_SSL");
            if trust {
                text.push_str(&format!("ssl.ca.location={}\n", ca.display()));
            }
            let mut config = KafkaConfig::new(&brokers, &prefix);
            config.client = ClientProperties::parse(&text).expect("properties");
            config
        };
        let log = KafkaLog::connect(config(true))
            .await
            .expect("connect over TLS");
        let sent = vec![record("tls@example.com", 0)];
        log.append(Domain::Contact, sent.clone())
            .await
            .expect("append");
        let mut reader = log
            .reader(&starts_from_beginning(&log, &[Domain::Contact]))
            .expect("reader");
        assert_same(&read_n(&mut *reader, 1)[0], &sent[0]);

        let started = Instant::now();
        match KafkaLog::connect(config(false)).await {
            Err(e @ LogError::Unreachable { .. }) => {
                let text = e.to_string();
                assert!(text.contains(&brokers), "{text}");
                assert!(text.contains("certificate verify failed"), "{text}");
            }
            Err(other) => panic!("expected Unreachable, got {other}"),
            Ok(_) => panic!("trusted a certificate without its CA"),
        }
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn a_wrong_sasl_password_is_refused_naming_the_broker_within_ten_seconds() {
        let prefix = unique_name("wrong-password");
        grant_topic_acls("reprise", &prefix);
        let started = Instant::now();
        let refused = KafkaLog::connect(sasl_config(&prefix, "reprise", "not-the-password")).await;
        let elapsed = started.elapsed();
        match refused {
            Err(e @ LogError::Authentication { .. }) => {
                let text = e.to_string();
                assert!(text.contains(&kafka_sasl_brokers()), "{text}");
                assert!(text.contains("Authentication failed"), "{text}");
                assert!(!text.contains("not-the-password"), "{text}");
            }
            Err(other) => panic!("expected Authentication, got {other}"),
            Ok(_) => panic!("connected with a wrong password"),
        }
        assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    }

    #[tokio::test]
    async fn a_principal_without_create_rights_is_refused_naming_the_topic() {
        let prefix = unique_name("no-rights");
        let started = Instant::now();
        let refused = KafkaLog::connect(sasl_config(&prefix, "stranger", "stranger-secret")).await;
        assert!(started.elapsed() < Duration::from_secs(10));
        match refused {
            Err(e @ LogError::NotAuthorized { .. }) => {
                let text = e.to_string();
                assert!(text.contains(&format!("create topic {prefix}.")), "{text}");
                assert!(text.contains("Create"), "{text}");
            }
            Err(other) => panic!("expected NotAuthorized, got {other}"),
            Ok(_) => panic!("connected without rights"),
        }
        // Nothing was created.
        use rdkafka::consumer::{BaseConsumer, Consumer};
        let consumer: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", kafka_brokers())
            .create()
            .expect("consumer");
        let metadata = consumer
            .fetch_metadata(None, Duration::from_secs(5))
            .expect("metadata");
        assert!(
            metadata
                .topics()
                .iter()
                .all(|t| !t.name().starts_with(&prefix)),
            "topics were created"
        );
    }

    #[tokio::test]
    async fn topics_that_would_lose_events_are_refused_by_name() {
        for (setting, value) in [
            ("retention.ms", "604800000"),
            ("retention.bytes", "1073741824"),
            ("cleanup.policy", "compact"),
            ("cleanup.policy", "compact,delete"),
            // Smaller than the batches reprise writes: appends would fail.
            ("max.message.bytes", "100000"),
        ] {
            let prefix = unique_name("losing");
            let topic = create_calendar_topic(&prefix, (setting, value)).await;
            let started = Instant::now();
            let refused = KafkaLog::connect(kafka_config(&prefix)).await;
            let elapsed = started.elapsed();
            match refused {
                Err(e @ LogError::TopicSetting(_)) => {
                    let text = e.to_string();
                    assert!(text.contains(&topic), "{text}");
                    assert!(text.contains(&format!("{setting}={value}")), "{text}");
                    assert!(text.contains("--add-config"), "{text}");
                }
                Err(other) => panic!("{setting}={value}: expected TopicSetting, got {other}"),
                Ok(_) => panic!("{setting}={value}: a topic that loses events was accepted"),
            }
            assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
            // Nothing was appended: every partition is still empty.
            use rdkafka::consumer::{BaseConsumer, Consumer};
            let consumer: BaseConsumer = rdkafka::ClientConfig::new()
                .set("bootstrap.servers", kafka_brokers())
                .create()
                .expect("consumer");
            for partition in 0..8 {
                let (_, high) = consumer
                    .fetch_watermarks(&topic, partition, Duration::from_secs(5))
                    .expect("watermarks");
                assert_eq!(high, 0, "{topic}/{partition}");
            }
        }
    }

    #[tokio::test]
    async fn refuses_another_partition_count() {
        let prefix = unique_name("mismatch");
        let log = KafkaLog::connect(KafkaConfig {
            partitions: Some(3),
            replication_factor: Some(1),
            ..kafka_config(&prefix)
        })
        .await
        .expect("create with 3");
        assert_eq!(log.partitions(Domain::Calendar), 3);
        drop(log);
        match KafkaLog::connect(KafkaConfig {
            partitions: Some(5),
            ..kafka_config(&prefix)
        })
        .await
        {
            Err(LogError::PartitionMismatch {
                topic,
                actual,
                configured,
            }) => {
                assert_eq!((actual, configured), (3, 5));
                assert!(topic.starts_with(&prefix), "{topic}");
            }
            Err(other) => panic!("expected PartitionMismatch, got {other}"),
            Ok(_) => panic!("accepted another partition count"),
        }
        // Without an explicit count the topic's count is learned.
        let log = KafkaLog::connect(kafka_config(&prefix))
            .await
            .expect("reconnect");
        for domain in Domain::ALL {
            assert_eq!(log.partitions(domain), 3);
        }
        assert_eq!(
            log.describe(),
            format!("kafka at {} (topics {prefix}.*)", kafka_brokers())
        );
    }

    /// Another producer may write record batches longer than ours; a read
    /// starting inside such a batch must still get every record from its
    /// offset: Apache Kafka answers with the whole batch, and librdkafka
    /// skips its head.
    #[tokio::test]
    async fn reads_from_inside_a_long_batch_of_another_producer() {
        use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
        let prefix = unique_name("long-batch");
        let log = KafkaLog::connect(kafka_config(&prefix))
            .await
            .expect("connect");
        let domain = Domain::Calendar;
        let key = "grace@example.com";
        let partition = partition_for(key, log.partitions(domain));
        let foreign: FutureProducer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", kafka_brokers())
            .set("linger.ms", "200") // one batch for all of them
            .create()
            .expect("producer");
        let topic = log.topic_name(domain);
        let sent: Vec<OutgoingRecord> = (0..310).map(|i| record(key, i)).collect();
        let deliveries: Vec<_> = sent[..300]
            .iter()
            .map(|r| {
                let record = FutureRecord::to(&topic)
                    .partition(partition as i32)
                    .key(&r.key[..])
                    .payload(&r.value[..])
                    .timestamp(r.timestamp_ms)
                    .headers(r.headers.iter().fold(
                        rdkafka::message::OwnedHeaders::new(),
                        |h, (k, v)| {
                            h.insert(rdkafka::message::Header {
                                key: k.as_str(),
                                value: Some(v.as_slice()),
                            })
                        },
                    ));
                foreign
                    .send_result(record)
                    .map_err(|(e, _)| e)
                    .expect("enqueue")
            })
            .collect();
        for (i, d) in deliveries.into_iter().enumerate() {
            let delivered = d.await.expect("delivered").expect("acknowledged");
            assert_eq!(delivered.offset, i as i64);
        }
        foreign.flush(Duration::from_secs(5)).expect("flush");
        // A later batch, so the broker has something to skip ahead to.
        log.append(domain, sent[300..].to_vec())
            .await
            .expect("append");

        let mut reader = log
            .reader(&[ReadStart {
                topic_partition: TopicPartition { domain, partition },
                offset: 250,
            }])
            .expect("reader");
        let read = read_n(&mut *reader, 60);
        for (r, expected) in read.iter().zip(250..) {
            assert_eq!(r.offset, expected as u64);
            assert_same(r, &sent[expected]);
        }
        poll_until_caught_up(&mut *reader);
    }

    /// librdkafka may acknowledge a retried record without its offset;
    /// the log then finds it from the end of its partition.
    #[tokio::test]
    async fn an_appended_record_is_found_where_the_append_put_it() {
        let prefix = unique_name("find");
        let log = KafkaLog::connect(kafka_config(&prefix))
            .await
            .expect("connect");
        let sent: Vec<OutgoingRecord> = (0..600).map(|i| record("ida@example.com", i)).collect();
        let positions = log
            .append(Domain::Calendar, sent.clone())
            .await
            .expect("append");
        for i in [0, 299, 599] {
            let found = log
                .position_of(Domain::Calendar, &sent[i])
                .await
                .expect("found");
            assert_eq!(found, positions[i], "record {i}");
        }
        let never = record("ida@example.com", 600);
        assert!(log.position_of(Domain::Calendar, &never).await.is_err());
    }

    #[tokio::test]
    async fn large_records_round_trip_and_oversized_ones_are_refused() {
        let f = kafka_fixture().await;
        let log = &*f.log;
        let domain = Domain::Contact;
        let mut big = record("frank@example.com", 1);
        big.value = vec![0xAB; 900_000];
        let positions = log
            .append(domain, vec![big.clone()])
            .await
            .expect("append 900 KB");
        let mut reader = log
            .reader(&starts_from_beginning(log, &[domain]))
            .expect("reader");
        let read = read_n(&mut *reader, 1);
        assert_eq!(read[0].position(), positions[0]);
        assert_same(&read[0], &big);

        let mut huge = record("frank@example.com", 2);
        huge.value = vec![0xCD; 1_500_000];
        match log
            .append(domain, vec![record("frank@example.com", 3), huge])
            .await
        {
            Err(LogError::RecordTooLarge { size, limit, .. }) => {
                assert!(size > 1_500_000 && limit == 1_000_000, "{size} {limit}")
            }
            Err(other) => panic!("expected a size error, got {other}"),
            Ok(_) => panic!("appended a 1.5 MB record"),
        }
        // Nothing of the refused call was appended.
        poll_until_caught_up(&mut *reader);
    }
}
