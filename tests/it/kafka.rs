//! The same views from Kafka as from the embedded log, and the `reprise`
//! command on Kafka, against a real Apache Kafka broker started by the tests.

use crate::common;
use crate::support;

use crate::common::cmd::{bin, ok};
use crate::common::*;
use events::log::KafkaLog;
use events::EventLog;
use projections::{registry, ViewStore};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

async fn kafka_log(prefix: &str) -> Arc<dyn EventLog> {
    let mut config = support::kafka_config(prefix);
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
        let log = KafkaLog::connect(support::kafka_config(&prefix))
            .await
            .unwrap();
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

/// `--kafka-config`: SASL over TLS with the broker's CA and only the ACLs
/// the README documents works (as in production), a wrong password is one
/// line naming the broker within 10 s, and no password is printed, not
/// even in a server's debug log.
#[test]
fn kafka_config_authenticates_and_a_wrong_password_is_one_line() {
    let dir = support::TempDir::new("kafka-sasl");
    std::fs::create_dir_all(dir.path()).unwrap();
    let prefix = support::unique_name("sasl-cli");
    support::grant_topic_acls("reprise", &prefix);
    let (tls_brokers, ca) = support::kafka_tls_brokers();
    let good = dir.path().join("good.properties");
    let over_tls = support::sasl_properties("reprise", "reprise-secret")
        .replace("SASL_PLAINTEXT", "SASL_SSL")
        + &format!("ssl.ca.location={}\n", ca.display());
    std::fs::write(&good, over_tls).unwrap();
    let bad = dir.path().join("bad.properties");
    std::fs::write(&bad, support::sasl_properties("reprise", "a-wrong-secret")).unwrap();
    let sasl = |data: &str, config: &Path| {
        let brokers = if config == good {
            tls_brokers.clone()
        } else {
            support::kafka_sasl_brokers()
        };
        let mut cmd = common::cmd::reprise(&dir.path().join(data));
        cmd.args([
            "--kafka-brokers",
            &brokers,
            "--topic-prefix",
            &prefix,
            "--kafka-config",
        ])
        .arg(config);
        cmd
    };
    let added = common::cmd::add_user(sasl("data", &good), "alice", "pw", &[]);
    assert!(added.contains("created user alice@example.com"), "{added}");
    let mut list = sasl("other", &good);
    list.args(["user", "list"]);
    assert!(ok(list, "").contains("alice@example.com"));

    let started = std::time::Instant::now();
    let out = sasl("third", &bad).args(["user", "list"]).output().unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.contains(&format!(
            "Kafka broker(s) {} refused the credentials",
            support::kafka_sasl_brokers()
        )),
        "{err}"
    );
    assert!(!err.contains("a-wrong-secret"), "{err}");

    // A server at debug level says nothing of the password.
    let port = common::server::free_port();
    let mut serve = sasl("data", &good);
    serve
        .args(["--log-level", "debug", "serve", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = serve.spawn().unwrap();
    common::server::wait_ready(port);
    terminate(&child);
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("connected to Kafka"), "{said}");
    assert!(!said.contains("reprise-secret"), "{said}");
}

/// Stops a child with SIGTERM, as an operator would.
fn terminate(child: &std::process::Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// An iCalendar object of about `bytes` bytes (a long, folded DESCRIPTION).
fn ical_of_size(uid: &str, bytes: usize) -> String {
    let base = ical(uid, "Large");
    let mut description = String::from("DESCRIPTION:");
    let mut line = 12;
    while base.len() + description.len() < bytes {
        if line == 74 {
            description.push_str("\r\n ");
            line = 1;
        }
        description.push('x');
        line += 1;
    }
    description.push_str("\r\n");
    base.replace(
        "SUMMARY:Large\r\n",
        &format!("SUMMARY:Large\r\n{description}"),
    )
}

/// Kafka refuses records over the topic's `max.message.bytes` (1 MB):
/// a calendar object larger than that is kept in the object store and
/// its event carries a reference, so it is taken (201), read back, and
/// rebuilt from the log and the store; only an `--inline-limit` set above
/// what a record holds brings back the 413, with nothing appended.
#[test]
fn a_body_larger_than_a_kafka_record_goes_to_the_object_store() {
    use common::http::Dav;
    use common::server::TestServer;
    let prefix = support::unique_name("large");
    let brokers = support::kafka_brokers();
    let mut server = TestServer::start_with(
        &["--kafka-brokers", &brokers, "--topic-prefix", &prefix],
        &[],
    );
    let dav = Dav::new(server.port, "alice", "alice-secret");
    let calendar = "/dav/calendars/alice@example.com/default/";
    let props = dav.propfind(
        calendar,
        "0",
        r#"<propfind xmlns="DAV:"><prop><max-resource-size xmlns="urn:ietf:params:xml:ns:caldav"/></prop></propfind>"#,
    );
    // Not capped to a record: --max-resource-size's 10 MiB.
    assert!(props.body.contains(">10485760</"), "{}", props.body);

    let large = ical_of_size("large", 3_000_000);
    let taken = dav.put(
        &format!("{calendar}large.ics"),
        "text/calendar",
        &large,
        &[],
    );
    assert_eq!(taken.status, 201, "{taken:?}");
    assert_eq!(dav.get(&format!("{calendar}large.ics")).body, large);
    let largest = server.largest_record();
    assert!(largest < 4096, "the largest record is {largest} bytes");
    // A rebuild reads the body back from the store.
    server.restart(true);
    assert_eq!(dav.get(&format!("{calendar}large.ics")).body, large);

    // An inline limit over the record size: refused before anything is
    // appended.
    let kafka = [
        "--kafka-brokers",
        brokers.as_str(),
        "--topic-prefix",
        prefix.as_str(),
    ];
    let mut log_args = kafka.to_vec();
    log_args.extend(["--inline-limit", "2MiB"]);
    server.restart_with(&log_args, &[]);
    let before = server.log_records();
    let refused = dav.put(
        &format!("{calendar}inline.ics"),
        "text/calendar",
        // Under what the server drains before refusing (1 MiB), so the
        // answer is read rather than a closed connection.
        &ical_of_size("inline", 1_010_000),
        &[],
    );
    assert_eq!(refused.status, 413, "{refused:?}");
    assert_eq!(server.log_records(), before, "nothing appended");
}

/// The broker is SIGKILLed while 8 clients write and 8 read, and comes
/// back 5 s later on the same storage. Meanwhile writes get 503 with
/// Retry-After and reads go on from the views; afterwards writes succeed
/// without restarting reprise, every acknowledged write is on both the
/// active installation and a standby following the log, no event is in
/// the log twice, sync tokens from before still work, and both
/// installations' digests are equal.
#[test]
fn a_broker_killed_under_load_loses_no_acknowledged_write() {
    use common::http::Dav;
    use common::load::Load;
    use common::server::TestServer;
    use std::time::{Duration, Instant};
    let mut broker = crate::own_broker::OwnBroker::start();
    let prefix = support::unique_name("crash");
    let active = TestServer::start_with(
        &[
            "--kafka-brokers",
            &broker.address,
            "--topic-prefix",
            &prefix,
        ],
        &[],
    );
    let standby = active.beside(&["--installation", "standby", "--standby"]);
    let dav = Dav::new(active.port, "alice", "alice-secret");
    const CALENDAR: &str = "/dav/calendars/alice@example.com/default/";
    const KEPT: &str = "/dav/calendars/alice@example.com/default/kept.ics";
    assert_eq!(
        dav.put(KEPT, "text/calendar", &ical("kept", "Kept"), &[])
            .status,
        201
    );
    let token = dav.sync_collection(CALENDAR, "", None).sync_token();

    let read: common::load::Read = |dav, _| (format!("GET {KEPT}"), dav.get(KEPT), 200);
    let load = Load::start(active.port, ("alice", "alice-secret"), CALENDAR, 8, 8, read);
    std::thread::sleep(Duration::from_secs(3));
    let killed = Instant::now();
    broker.kill();
    std::thread::sleep(Duration::from_secs(5));
    broker.restart();
    let restarted = Instant::now();
    eprintln!("broker back {:?} after the kill", restarted - killed);
    let deadline = restarted + Duration::from_secs(60);
    while !load.acknowledged_since(restarted) {
        assert!(
            Instant::now() < deadline,
            "no write succeeded within 60 s of the restart"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(3));
    let done = load.finish();

    // What clients saw.
    let reads: Vec<_> = done.answers.iter().filter(|a| !a.write).collect();
    assert!(
        reads.iter().all(|a| a.status == 200),
        "a read failed during the outage"
    );
    assert!(
        reads.iter().any(|a| a.at > killed && a.at < restarted),
        "reads went on during the outage"
    );
    let writes: Vec<_> = done.answers.iter().filter(|a| a.write).collect();
    for w in &writes {
        assert!(
            w.status == 201 || (w.status == 503 && w.retry_after),
            "a write got {} (Retry-After: {})",
            w.status,
            w.retry_after
        );
    }
    let first_refusal = writes
        .iter()
        .find(|w| w.status == 503)
        .expect("writes were refused during the outage")
        .at;
    assert!(
        first_refusal > killed,
        "no write was refused before the kill"
    );
    let last_before = writes
        .iter()
        .filter(|w| w.status == 201 && w.at < first_refusal)
        .map(|w| w.at)
        .max()
        .expect("writes succeeded before the outage");
    let first_after = writes
        .iter()
        .find(|w| w.status == 201 && w.at > first_refusal)
        .expect("writes succeeded after the outage")
        .at;
    let refused = writes.iter().filter(|w| w.status == 503).count();
    eprintln!(
        "outage as clients saw it: {:?} from the last 201 before it to the first 201 after it; \
         first 503 {:?} after the kill; {refused} writes refused, {} acknowledged, {} reads, all 200",
        first_after - last_before,
        first_refusal - killed,
        done.written.len(),
        reads.len()
    );

    // Every acknowledged write is on both installations, with its ETag.
    let standby_dav = Dav::new(standby.port, "alice", "alice-secret");
    let settle = Instant::now() + Duration::from_secs(60);
    for (href, etag) in &done.written {
        for (name, dav) in [("active", &dav), ("standby", &standby_dav)] {
            loop {
                let got = dav.get(href);
                if got.status == 200 {
                    assert_eq!(got.header("etag"), Some(etag.as_str()), "{name} {href}");
                    break;
                }
                assert!(Instant::now() < settle, "{href} is missing on the {name}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    // No event twice in the log (the idempotent producer's retries).
    let mut tail = active.command();
    tail.args(["log", "tail", "--topic", "calendar"]);
    let mut ids = std::collections::HashMap::new();
    for line in ok(tail, "").lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = record["headers"]["reprise-event-id"]
            .as_str()
            .unwrap()
            .to_string();
        *ids.entry(id).or_insert(0) += 1;
    }
    let twice: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "events in the log more than once: {twice:?}"
    );
    assert!(ids.len() > done.written.len());

    // A sync token from before the outage still works and lists them all.
    let changes = dav.sync_collection(CALENDAR, &token, None);
    assert_eq!(changes.status, 207, "{changes:?}");
    for (href, _) in &done.written {
        assert!(
            changes.body.contains(href.as_str()),
            "{href} not in the sync report"
        );
    }

    // Both installations hold the same views.
    let digest = |server: &TestServer| {
        let mut cmd = server.command();
        cmd.args(["--server", &server.url, "projections", "digest", "--json"]);
        ok(cmd, "")
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while digest(&active) != digest(&standby) {
        assert!(
            Instant::now() < deadline,
            "the standby never matched the active installation"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
