//! The same views from Kafka as from the embedded log, and the `reprise`
//! command on Kafka, against a real Apache Kafka broker started by the tests.

use crate::common;
use crate::support;

use crate::common::cmd::{bin, ok};
use crate::common::*;
use events::log::{KafkaConfig, KafkaLog};
use events::EventLog;
use projections::{registry, ViewStore};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

async fn kafka_log(prefix: &str) -> Arc<dyn EventLog> {
    let mut config = KafkaConfig::new(support::kafka_brokers(), prefix);
    config.partitions = Some(4);
    Arc::new(
        KafkaLog::connect(config)
            .await
            .expect("the Kafka broker is reachable"),
    )
}

async fn digests(log: Arc<dyn EventLog>, dir: &Path) -> BTreeMap<String, String> {
    let store = ViewStore::open(dir).unwrap();
    let opts = reprise::ops::rebuild::Options {
        batch_size: 500,
        ..Default::default()
    };
    let done = reprise::ops::rebuild::rebuild(
        log,
        &store,
        &registry::current(),
        &opts,
        &reprise::ops::rebuild::Unseen,
    )
    .await
    .unwrap();
    assert!(
        done.iter().all(|r| r.complete && r.quarantined == 0),
        "{done:?}"
    );
    reprise::ops::projections::digests(&store)
        .unwrap()
        .into_iter()
        .map(|d| (format!("{}@{}", d.projection, d.version), d.digest))
        .collect()
}

/// ETags, ctags and sync tokens come from log positions; with the same
/// partitioner on both backends, the same events give the same views.
#[tokio::test(flavor = "multi_thread")]
async fn kafka_and_the_embedded_log_give_identical_views() {
    let dir = support::TempDir::new("kafka-views");
    let events = varied_log();
    let embedded = open_log(dir.path());
    append(embedded.as_ref(), &events).await;
    let kafka = kafka_log(&support::unique_name("views")).await;
    append(kafka.as_ref(), &events).await;
    let a = digests(embedded, &dir.path().join("embedded-views")).await;
    let b = digests(kafka.clone(), &dir.path().join("kafka-views")).await;
    assert_eq!(a.len(), 5);
    assert_eq!(a, b);
    // A second installation built from the same Kafka topics agrees too.
    let c = digests(kafka, &dir.path().join("second-installation")).await;
    assert_eq!(a, c);
}

/// A command on a data directory and a topic prefix of the test broker.
fn reprise(data: &Path, prefix: &str) -> Command {
    let mut cmd = common::cmd::reprise(data);
    cmd.args([
        "--kafka-brokers",
        &support::kafka_brokers(),
        "--topic-prefix",
        prefix,
    ]);
    cmd
}

#[test]
fn the_command_runs_on_kafka() {
    let dir = support::TempDir::new("kafka-cli");
    let data = dir.path().join("data");
    let prefix = support::unique_name("cli");
    let added = common::cmd::add_user(reprise(&data, &prefix), "alice", "pw", &[]);
    assert!(added.contains("created user alice@example.com"));
    let mut import = reprise(&data, &prefix);
    import
        .args(["import", "calendar", "alice"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ical/google_export.ics"));
    assert!(ok(import, "").contains("into alice@example.com/default"));

    let mut stats = reprise(&data, &prefix);
    stats.args(["log", "stats", "--json"]);
    let text = ok(stats, "");
    assert!(
        text.starts_with(&format!("kafka at {}", support::kafka_brokers())),
        "{text}"
    );
    let stats: Vec<serde_json::Value> =
        serde_json::from_str(&text[text.find('[').unwrap()..]).unwrap();
    let calendar: u64 = stats
        .iter()
        .filter(|s| s["topic"] == format!("{prefix}.calendar"))
        .map(|s| s["count"].as_u64().unwrap())
        .sum();
    assert!(
        calendar >= 2,
        "calendar created and objects imported: {calendar}"
    );
    let mut tail = reprise(&data, &prefix);
    tail.args([
        "log",
        "tail",
        "--topic",
        "directory",
        "--type",
        "UserCreated",
    ]);
    let lines = ok(tail, "");
    assert_eq!(lines.lines().count(), 1);
    assert!(lines.contains(&format!("\"topic\":\"{prefix}.directory\"")));

    let digest = |data: &Path| {
        let mut cmd = reprise(data, &prefix);
        cmd.args(["projections", "digest", "--json"]);
        ok(cmd, "")
    };
    let before = digest(&data);
    let mut rebuild = reprise(&data, &prefix);
    rebuild.arg("rebuild");
    assert!(ok(rebuild, "").starts_with("rebuilt 5 projection(s)"));
    assert_eq!(digest(&data), before);
    // A standby: another data directory built from the same topics.
    let standby = dir.path().join("standby");
    let mut build = reprise(&standby, &prefix);
    build.arg("rebuild");
    ok(build, "");
    assert_eq!(digest(&standby), before);
}

#[test]
fn an_unreachable_broker_is_a_clear_error_within_ten_seconds() {
    let dir = support::TempDir::new("kafka-down");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let brokers = closed.to_string(); // the listener is dropped: nothing listens there
    let started = std::time::Instant::now();
    let out = Command::new(bin())
        .args([
            "--data-dir",
            dir.path().join("d").to_str().unwrap(),
            "--kafka-brokers",
            &brokers,
            "user",
            "list",
        ])
        .output()
        .unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(&format!("Kafka broker(s) {brokers} unreachable")),
        "{err}"
    );
    assert_eq!(
        err.lines().count(),
        1,
        "one clear line, no librdkafka noise: {err}"
    );
}

/// When Kafka is gone, a DAV write is answered 503 with Retry-After within
/// the write timeout (not hung, not acknowledged), and reads keep working
/// from the views.
#[test]
fn a_dav_write_gets_503_while_kafka_is_unreachable() {
    use common::http::Dav;
    use common::server::TestServer;
    let mut broker = crate::own_broker::OwnBroker::start();
    let prefix = support::unique_name("gone");
    let server = TestServer::start_with(
        &[
            "--kafka-brokers",
            &broker.address,
            "--topic-prefix",
            &prefix,
        ],
        &[],
    );
    let dav = Dav::new(server.port, "alice", "alice-secret");
    let href = "/dav/calendars/alice@example.com/default/kept.ics";
    let put = dav.put(href, "text/calendar", &ical("kept", "Kept"), &[]);
    assert_eq!(put.status, 201, "{put:?}");

    broker.stop();
    // The client gives up after 30 s, so an answer at all means the
    // server bounded its wait.
    let refused = dav.put(
        "/dav/calendars/alice@example.com/default/lost.ics",
        "text/calendar",
        &ical("lost", "Lost"),
        &[],
    );
    assert_eq!(refused.status, 503, "{refused:?}");
    assert!(refused.header("retry-after").is_some());
    let kept = dav.get(href);
    assert_eq!(kept.status, 200);
    assert_eq!(kept.body, ical("kept", "Kept"));
}

/// `projections status` counts the lag in events from the broker's own end
/// offsets: events appended in one batched produce, which no projection
/// has applied, are the calendars' lag exactly, and the other projections
/// have none.
#[test]
fn projections_status_counts_the_lag_from_the_brokers_end_offsets() {
    let dir = support::TempDir::new("kafka-lag");
    let data = dir.path().join("data");
    let prefix = support::unique_name("lag");
    common::cmd::add_user(reprise(&data, &prefix), "alice", "pw", &[]);

    const UNAPPLIED: u64 = 150;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let config = KafkaConfig::new(support::kafka_brokers(), &prefix);
        let log = KafkaLog::connect(config).await.unwrap();
        let mut events = common::Events::starting_at(1 << 21);
        let records = (0..UNAPPLIED)
            .map(|i| {
                let put = common::put("default", &format!("{i}.ics"), &format!("u{i}"), "Late");
                events::codec::encode(&events.make(common::ALICE, put))
            })
            .collect();
        log.append(events::Domain::Calendar, records).await.unwrap();
    });

    let mut status = reprise(&data, &prefix);
    status.args(["projections", "status", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&ok(status, "")).unwrap();
    let lag_of = |name: &str| -> u64 {
        report["projections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .and_then(|p| p["versions"].as_array())
            .map(|versions| versions.iter().map(|v| v["lag"].as_u64().unwrap()).sum())
            .unwrap_or_else(|| panic!("no projection {name} in {report}"))
    };
    assert_eq!(lag_of("calendars"), UNAPPLIED, "{report}");
    for caught_up in ["directory", "contacts", "seen"] {
        assert_eq!(lag_of(caught_up), 0, "{caught_up}: {report}");
    }

    // Applied, the lag is gone: the end offsets were the events'.
    let mut rebuild = reprise(&data, &prefix);
    rebuild.args(["rebuild", "--projection", "calendars"]);
    ok(rebuild, "");
    let mut status = reprise(&data, &prefix);
    status.args(["projections", "status", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&ok(status, "")).unwrap();
    let calendars = report["projections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "calendars")
        .unwrap();
    for v in calendars["versions"].as_array().unwrap() {
        assert_eq!(v["lag"], 0, "{report}");
    }
}
