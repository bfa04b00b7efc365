//! Recovery end to end: point-in-time rebuilds, clones (embedded, through
//! a server, from Kafka), snapshots and their restore, and per-user
//! exports, through the `reprise` binary.

use crate::common;
use crate::support;

use crate::common::cmd::{fails, ok, reprise};
use crate::common::http::Dav;
use crate::common::server::{free_port, raw_get, TestServer};
use crate::common::*;
use events::log::KafkaLog;
use events::payload::{ContactPut, SeenAdded};
use events::{EventEnvelope, EventLog, Payload};
use projections::registry::Views;
use projections::{BuildState, ProjectionId, ViewStore};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A data directory whose embedded log (4 partitions) holds `events`.
fn seeded(data: &Path, events: &[EventEnvelope]) {
    std::fs::create_dir_all(data).unwrap();
    reprise::config::write_data_dir_marker(data).unwrap();
    append_to(data, events);
}

fn append_to(data: &Path, events: &[EventEnvelope]) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let log = open_log(data);
        append(log.as_ref(), events).await;
    });
}

/// Events after `varied_log`: more objects, contacts and seen flags.
fn more_events(first_id: u128, n: usize) -> Vec<EventEnvelope> {
    let mut ev = Events::starting_at(first_id);
    let mut out = Vec::new();
    for i in 0..n {
        let owner = ["alice@example.com", "bob@example.com"][i % 2];
        out.push(ev.make(
            owner,
            put(
                "default",
                &format!("later{i}.ics"),
                &format!("{owner}-later{i}"),
                "Later",
            ),
        ));
        out.push(ev.make(
            owner,
            Payload::ContactPut(ContactPut {
                address_book: "default".into(),
                href: format!("later{i}.vcf"),
                uid: format!("later{i}"),
                vcard: vcard(&format!("later{i}"), "Later"),
                vcard_object: None,
            }),
        ));
        out.push(ev.make(
            owner,
            Payload::SeenAdded(SeenAdded {
                mailbox: "INBOX".into(),
                uids: format!("{}", 1000 + i).parse().unwrap(),
            }),
        ));
    }
    out
}

fn with(mut cmd: Command, args: &[&str]) -> Command {
    cmd.args(args);
    cmd
}

/// `projections digest --json` as `name@version` → digest.
fn digests(cmd: Command) -> BTreeMap<String, String> {
    let text = ok(with(cmd, &["projections", "digest", "--json"]), "");
    let list: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    list.iter()
        .map(|d| {
            (
                format!("{}@{}", d["projection"].as_str().unwrap(), d["version"]),
                d["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `log stats --json` as (domain, partition) → record count.
fn log_counts(cmd: Command) -> BTreeMap<(String, u64), u64> {
    let text = ok(with(cmd, &["log", "stats", "--json"]), "");
    let json = &text[text.find('[').expect("JSON")..];
    let stats: Vec<serde_json::Value> = serde_json::from_str(json).unwrap();
    stats
        .iter()
        .map(|s| {
            let topic = s["topic"].as_str().unwrap();
            // `prefix.calendar` on Kafka, `calendar` on the embedded log.
            let domain = topic.rsplit('.').next().unwrap().to_string();
            (
                (domain, s["partition"].as_u64().unwrap()),
                s["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Every file under `dir`, by path relative to it.
fn files(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for folder in ["calendars", "contacts"] {
        let Ok(entries) = std::fs::read_dir(dir.join(folder)) else {
            continue;
        };
        for e in entries.flatten() {
            out.insert(
                format!("{folder}/{}", e.file_name().to_string_lossy()),
                std::fs::read_to_string(e.path()).unwrap(),
            );
        }
    }
    out
}

/// A `reprise serve` on a data directory, killed on drop.
struct Serving {
    child: Child,
    url: String,
}

impl Serving {
    fn start(data: &Path, log_args: &[&str]) -> Serving {
        let port = free_port();
        let mut cmd = reprise(data);
        cmd.args(["--log-level", "warn"])
            .args(log_args)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = cmd.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !raw_get(port, "/readyz").is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
            assert!(Instant::now() < deadline, "never ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        Serving {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// uid → body of an owner's collection, read from stopped views.
fn objects(data: &Path, owner: &str) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let store = ViewStore::open(&data.join("views")).unwrap();
    let views = Views::open(&store).unwrap();
    let cal = views
        .calendars
        .objects(owner, "default")
        .unwrap()
        .into_iter()
        .map(|(_, o)| (o.uid, o.body))
        .collect();
    let card = views
        .contacts
        .objects(owner, "default")
        .unwrap()
        .into_iter()
        .map(|(_, o)| (o.uid, o.body))
        .collect();
    (cal, card)
}

/// The acceptance story: events are deleted by mistake; a rebuild of the
/// log as it was before, into another directory, has them, and an export
/// from there gives them back, while the live installation is untouched.
#[test]
fn a_point_in_time_rebuild_before_a_deletion_gives_the_events_back() {
    let server = TestServer::start();
    let dav = Dav::new(server.port, "alice", "alice-secret");
    let base = "/dav/calendars/alice@example.com/default";
    for i in 0..3 {
        let put = dav.put(
            &format!("{base}/board{i}.ics"),
            "text/calendar",
            &ical(&format!("board-{i}"), "Board meeting"),
            &[],
        );
        assert_eq!(put.status, 201, "{put:?}");
    }
    let cut = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    std::thread::sleep(Duration::from_millis(1100));
    for i in 0..3 {
        let deleted = dav.request("DELETE", &format!("{base}/board{i}.ics"), &[], "");
        assert_eq!(deleted.status, 204, "{deleted:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let live_digests = digests(with(server.command(), &["--server", &server.url]));

    // The live installation no longer has them (export through the server).
    let live = dir.path().join("live");
    let mut export = server.command();
    export.args([
        "--server",
        &server.url,
        "export",
        "--user",
        "alice@example.com",
        "--to",
    ]);
    export.arg(&live);
    ok(export, "");
    let live_files = files(&live);
    assert!(
        live_files.contains_key("calendars/default.ics"),
        "{live_files:?}"
    );
    assert!(!live_files["calendars/default.ics"].contains("board-"));

    // The log as it was at `cut`, rebuilt beside it.
    let before = dir.path().join("before");
    let mut rebuild = server.command();
    rebuild.args([
        "--server",
        &server.url,
        "rebuild",
        "--until",
        &cut,
        "--into",
    ]);
    rebuild.arg(&before);
    let out = ok(rebuild, "");
    assert!(
        out.contains("copied ") && out.contains("calendar "),
        "{out}"
    );
    assert!(out.contains("built 5 projection(s)"), "{out}");

    let restored = dir.path().join("restored");
    let mut export = reprise(&before);
    export.args(["export", "--user", "alice@example.com", "--to"]);
    export.arg(&restored);
    let listing = ok(export, "");
    assert!(
        listing.contains("calendars/default.ics  3 object(s)"),
        "{listing}"
    );
    let ics = &files(&restored)["calendars/default.ics"];
    for i in 0..3 {
        assert!(ics.contains(&format!("UID:board-{i}\r\n")), "{ics}");
    }

    // Imported back into the live installation, they are there again;
    // the rebuild itself changed nothing of it.
    assert_eq!(
        digests(with(server.command(), &["--server", &server.url])),
        live_digests
    );
    let mut import = server.command();
    import.args(["--server", &server.url, "import", "calendar", "alice"]);
    import.arg(restored.join("calendars/default.ics"));
    assert!(ok(import, "").contains("imported 3 object(s)"));
    let got = dav.get(&format!("{base}/board-1.ics"));
    assert_eq!(got.status, 200, "{got:?}");
    assert!(got.body.contains("UID:board-1"));
}

#[test]
fn until_offsets_cut_the_listed_partitions_and_copy_the_others_whole() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    seeded(&src, &varied_log());
    let counts = log_counts(reprise(&src));
    let ((_, cal), cal_count) = counts
        .iter()
        .filter(|((d, _), n)| d == "calendar" && **n >= 10)
        .map(|(k, n)| (k.clone(), *n))
        .next()
        .expect("a calendar partition with records");
    let ((_, dir_p), _) = counts
        .iter()
        .find(|((d, _), n)| d == "directory" && **n > 0)
        .map(|(k, n)| (k.clone(), *n))
        .unwrap();
    let into = dir.path().join("cut");
    let mut cmd = reprise(&src);
    cmd.args([
        "rebuild",
        "--until-offsets",
        &format!("calendar/{cal}={},directory/{dir_p}=1", cal_count / 2),
        "--into",
    ]);
    cmd.arg(&into);
    let out = ok(cmd, "");
    assert!(
        out.contains(&format!("{cal}:{}/{cal_count}", cal_count / 2)),
        "the cut is printed: {out}"
    );
    let copied = log_counts(reprise(&into));
    for (key, n) in &counts {
        let want = match key {
            (d, p) if d == "calendar" && *p == cal => cal_count / 2,
            (d, p) if d == "directory" && *p == dir_p => 1,
            _ => *n,
        };
        assert_eq!(copied[key], want, "{key:?}");
    }
    assert_eq!(digests(reprise(&into)).len(), 5, "views built in the copy");
    // The source was only read: no views, same log.
    assert!(!src.join("views").exists());
    assert_eq!(log_counts(reprise(&src)), counts);
}

#[test]
fn a_clone_has_the_same_views_and_its_writes_never_reach_the_source() {
    let server = TestServer::start();
    let dav = Dav::new(server.port, "alice", "alice-secret");
    for i in 0..5 {
        let put = dav.put(
            &format!("/dav/calendars/alice@example.com/default/c{i}.ics"),
            "text/calendar",
            &ical(&format!("c{i}"), "Clone me"),
            &[],
        );
        assert_eq!(put.status, 201);
    }
    let mut admin = server.command();
    admin.args(["--server", &server.url]);
    common::cmd::add_user(admin, "root", "root-secret", &["--admin"]);
    let dir = tempfile::tempdir().unwrap();
    let remote = || with(server.command(), &["--server", &server.url]);
    let source_digests = digests(remote());
    let source_counts = log_counts(remote());
    assert_eq!(source_digests.len(), 5);

    // From the data directory, which the server holds: read through it.
    let clone = dir.path().join("clone");
    let mut cmd = reprise(&clone);
    cmd.args(["clone", "--from"]).arg(&server.data);
    let out = ok(cmd, "");
    assert!(out.contains("independent installation"), "{out}");
    assert_eq!(digests(reprise(&clone)), source_digests);
    assert_eq!(log_counts(reprise(&clone)), source_counts);

    // From the server by URL, as an admin.
    let by_url = dir.path().join("by-url");
    let mut cmd = reprise(&by_url);
    cmd.args(["clone", "--from-server", &server.url])
        .env("REPRISE_ADMIN_USER", "root@example.com")
        .env("REPRISE_ADMIN_PASSWORD", "root-secret");
    ok(cmd, "");
    assert_eq!(digests(reprise(&by_url)), source_digests);

    // The clone is an installation of its own: writes go to its log.
    common::cmd::add_user(reprise(&clone), "carol", "pw", &[]);
    let mut import = reprise(&clone);
    import
        .args(["import", "calendar", "alice"])
        .arg(common::cmd::fixture("ical/google_export.ics"));
    ok(import, "");
    assert_ne!(log_counts(reprise(&clone)), source_counts);
    assert_eq!(log_counts(remote()), source_counts);
    assert_eq!(digests(remote()), source_digests);

    // And it serves: the same ETags as the source for the same objects.
    let served = Serving::start(&by_url, &[]);
    let port: u16 = served.url.rsplit(':').next().unwrap().parse().unwrap();
    let theirs = Dav::new(port, "alice", "alice-secret");
    for i in 0..5 {
        let href = format!("/dav/calendars/alice@example.com/default/c{i}.ics");
        let (a, b) = (dav.get(&href), theirs.get(&href));
        assert_eq!(a.status, 200);
        assert_eq!(a.etag(), b.etag());
        assert_eq!(a.body, b.body);
    }
}

#[test]
fn a_snapshot_restored_replays_only_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    seeded(&src, &varied_log());
    ok(with(reprise(&src), &["rebuild"]), "");
    let snap = dir.path().join("views.snap");
    let mut create = reprise(&src);
    create.args(["snapshot", "create", "--to"]).arg(&snap);
    let out = ok(create, "");
    assert!(
        out.contains("calendars@2") && out.contains("sha256"),
        "{out}"
    );
    let tail = more_events(100_000, 20);
    append_to(&src, &tail);

    // What a full rebuild of the grown log gives.
    let full = dir.path().join("full");
    ok(
        with(
            reprise(&src),
            &["rebuild", "--into", full.to_str().unwrap()],
        ),
        "",
    );
    let expected = digests(reprise(&full));

    // The views were lost: restore into the same data directory.
    std::fs::remove_dir_all(src.join("views")).unwrap();
    let mut restore = reprise(&src);
    restore.args(["snapshot", "restore"]).arg(&snap);
    let out = ok(restore, "");
    assert!(
        out.contains(&format!("{} events of the log are newer", tail.len())),
        "{out}"
    );
    let out = ok(with(reprise(&src), &["rebuild"]), "");
    assert!(
        out.starts_with(&format!("rebuilt 5 projection(s): {} events", tail.len())),
        "only the tail is replayed: {out}"
    );
    assert_eq!(digests(reprise(&src)), expected);

    // A new data directory over a copy of the log: restore, then serve.
    let standby = dir.path().join("standby");
    let mut copy = reprise(&standby);
    copy.args(["clone", "--log-only", "--from"]).arg(&src);
    assert!(ok(copy, "").contains("log only"));
    let mut restore = reprise(&standby);
    restore.args(["snapshot", "restore"]).arg(&snap);
    ok(restore, "");
    let text = ok(
        with(reprise(&standby), &["projections", "status", "--json"]),
        "",
    );
    let status: serde_json::Value = serde_json::from_str(&text).unwrap();
    for p in status["projections"].as_array().unwrap() {
        let v = &p["versions"][0];
        assert_eq!(v["state"], "building", "{p}");
        assert_eq!(v["live"], true, "{p}");
        let applied: u64 = v["positions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["next_offset"].as_u64().unwrap())
            .sum();
        assert!(applied > 0, "resumes from the snapshot's positions: {p}");
    }
    let served = Serving::start(&standby, &[]);
    assert_eq!(
        digests(with(reprise(&standby), &["--server", &served.url])),
        expected
    );
}

#[test]
fn a_snapshot_through_the_server_restores_beside_it() {
    let server = TestServer::start();
    let dav = Dav::new(server.port, "bob", "bob-secret");
    let put = dav.put(
        "/dav/calendars/bob@example.com/default/s.ics",
        "text/calendar",
        &ical("s", "Snap"),
        &[],
    );
    assert_eq!(put.status, 201);
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("server.snap");
    let mut create = server.command();
    create
        .args(["--server", &server.url, "snapshot", "create", "--to"])
        .arg(&snap);
    let out = ok(create, "");
    assert!(out.contains("views held"), "{out}");
    assert!(snap.is_file());
    // A second snapshot never overwrites the first.
    let mut again = server.command();
    again
        .args(["--server", &server.url, "snapshot", "create", "--to"])
        .arg(&snap);
    assert!(fails(again, "").contains("exists already"));

    let standby = dir.path().join("standby");
    let mut copy = reprise(&standby);
    copy.args(["clone", "--log-only", "--from"])
        .arg(&server.data);
    ok(copy, "");
    let mut restore = reprise(&standby);
    restore.args(["snapshot", "restore"]).arg(&snap);
    assert!(ok(restore, "").contains("0 events of the log are newer"));
    let out = ok(with(reprise(&standby), &["rebuild"]), "");
    assert!(
        out.starts_with("rebuilt 5 projection(s): 0 events"),
        "{out}"
    );
    assert_eq!(
        digests(reprise(&standby)),
        digests(with(server.command(), &["--server", &server.url]))
    );
}

#[test]
fn a_damaged_or_foreign_snapshot_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    seeded(&src, &varied_log());
    ok(with(reprise(&src), &["rebuild"]), "");
    let snap = dir.path().join("good.snap");
    let mut create = reprise(&src);
    create.args(["snapshot", "create", "--to"]).arg(&snap);
    ok(create, "");
    let bytes = std::fs::read(&snap).unwrap();

    let target = dir.path().join("target");
    let mut copy = reprise(&target);
    copy.args(["clone", "--log-only", "--from"]).arg(&src);
    ok(copy, "");
    let restore = |file: &Path, data: &Path| {
        let mut cmd = reprise(data);
        cmd.args(["snapshot", "restore"]).arg(file);
        fails(cmd, "")
    };
    let nothing_written = |data: &Path| {
        assert!(
            !data.join("views").exists(),
            "views written in {}",
            data.display()
        );
        assert!(!data.join("views.restoring").exists());
    };

    let bad = dir.path().join("bad.snap");
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    let err = restore(&bad, &target);
    assert!(err.contains("damaged or incomplete"), "{err}");
    nothing_written(&target);
    let mut flipped = bytes.clone();
    let at = flipped.len() * 2 / 3;
    flipped[at] ^= 0x20;
    std::fs::write(&bad, &flipped).unwrap();
    let err = restore(&bad, &target);
    assert!(err.contains("damaged or incomplete"), "{err}");
    nothing_written(&target);

    // Another log with the same partition counts.
    let other = dir.path().join("other");
    let mut log = varied_log();
    log.remove(1);
    seeded(&other, &log);
    let err = restore(&snap, &other);
    assert!(
        err.contains("another log") || err.contains("not the log"),
        "{err}"
    );
    nothing_written(&other);
    // A log with other partition counts.
    let narrow = dir.path().join("narrow");
    ok(
        with(reprise(&narrow), &["--partitions", "2", "log", "stats"]),
        "",
    );
    let err = restore(&snap, &narrow);
    assert!(err.contains("partitions"), "{err}");
    nothing_written(&narrow);
    // No log at all: nothing is even created.
    let empty = dir.path().join("empty");
    let err = restore(&snap, &empty);
    assert!(err.contains("has no log"), "{err}");
    assert!(!empty.exists());
    // Views already there.
    let err = restore(&snap, &src);
    assert!(err.contains("already has views"), "{err}");

    // A version this build does not know.
    let foreign = dir.path().join("foreign.snap");
    {
        let store = ViewStore::open(&dir.path().join("foreign-views")).unwrap();
        let id = ProjectionId::new("calendars", 99);
        store
            .put_entries(&id, [(b"k".to_vec(), b"v".to_vec())])
            .unwrap();
        store.set_state(&id, BuildState::Ready).unwrap();
        let mut w = reprise::ops::snapshot::SnapshotWriter::create(&foreign).unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let header = runtime.block_on(async {
            let log = open_log(&target);
            reprise::ops::snapshot::header_of(log.as_ref())
        });
        w.header(&header).unwrap();
        w.versions(&store, &[id]).unwrap();
        w.finish(&[]).unwrap();
    }
    let err = restore(&foreign, &target);
    assert!(
        err.contains("calendars@99") && err.contains("does not know"),
        "{err}"
    );
    nothing_written(&target);

    // The good one still restores.
    let mut cmd = reprise(&target);
    cmd.args(["snapshot", "restore"]).arg(&snap);
    ok(cmd, "");
    assert_eq!(
        digests(reprise(&target)),
        digests(reprise(&src)),
        "restored views are the snapshot's"
    );
}

#[test]
fn bad_clone_and_rebuild_inputs_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    seeded(&src, &varied_log());
    let counts = log_counts(reprise(&src));
    let dest = dir.path().join("dest");
    let clone = |args: &[&str]| {
        let mut cmd = reprise(&dest);
        cmd.args(["clone", "--from"]).arg(&src).args(args);
        fails(cmd, "")
    };
    for (args, says) in [
        (vec!["--until", "yesterday"], "--until"),
        (vec!["--until-offsets", "mail/0=1"], "no topic \"mail\""),
        (vec!["--until-offsets", "calendar/4=1"], "has 4 partitions"),
        (
            vec!["--until-offsets", "calendar/0=100000"],
            "ends at offset",
        ),
        (
            vec!["--until-offsets", "calendar/0"],
            "TOPIC/PARTITION=OFFSET",
        ),
    ] {
        let err = clone(&args);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!dest.exists(), "{args:?} created {}", dest.display());
    }
    // Not into an existing installation, nor into itself.
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(dest.join("keep.txt"), "mine").unwrap();
    assert!(clone(&[]).contains("not empty"));
    assert_eq!(std::fs::read_dir(&dest).unwrap().count(), 1);
    let mut into_itself = reprise(&src);
    into_itself.args(["clone", "--from"]).arg(&src);
    assert!(fails(into_itself, "").contains("not empty"));
    // The destination's own log is embedded: no --kafka-brokers, no --server.
    let fresh = dir.path().join("fresh");
    let mut kafka = reprise(&fresh);
    kafka
        .args(["--kafka-brokers", "127.0.0.1:1", "clone", "--from"])
        .arg(&src);
    assert!(fails(kafka, "").contains("--from-kafka-brokers"));
    let mut neither = reprise(&fresh);
    neither.arg("clone");
    assert!(fails(neither, "").contains("--from"));
    assert!(!fresh.exists());

    // A point-in-time rebuild never rewrites the live views.
    let mut rebuild = reprise(&src);
    rebuild.args(["rebuild", "--until", "2026-01-01"]);
    assert!(fails(rebuild, "").contains("need --into"));
    let mut rebuild = reprise(&src);
    rebuild.args(["rebuild", "--until-offsets", "seen/0=1"]);
    assert!(fails(rebuild, "").contains("need --into"));
    assert!(!src.join("views").exists());
    assert_eq!(log_counts(reprise(&src)), counts);

    // An export of an unknown user writes nothing.
    ok(with(reprise(&src), &["rebuild"]), "");
    let out = dir.path().join("export");
    let mut export = reprise(&src);
    export
        .args(["export", "--user", "nobody@example.com", "--to"])
        .arg(&out);
    assert!(fails(export, "").contains("no user nobody@example.com"));
    assert!(!out.exists());
}

#[test]
fn an_export_imported_elsewhere_gives_the_same_objects() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    seeded(&src, &varied_log());
    ok(with(reprise(&src), &["rebuild"]), "");
    let out = dir.path().join("alice");
    let mut export = reprise(&src);
    export
        .args(["export", "--user", "alice@example.com", "--to"])
        .arg(&out);
    ok(export, "");
    let exported = files(&out);
    assert_eq!(
        exported.keys().collect::<Vec<_>>(),
        ["calendars/default.ics", "contacts/default.vcf"],
        "own collections only: no share, no global address book"
    );
    assert!(!exported["calendars/default.ics"].contains("bob@example.com"));

    let fresh = dir.path().join("fresh");
    common::cmd::add_user(reprise(&fresh), "alice", "pw", &[]);
    for (kind, file) in [
        ("calendar", "calendars/default.ics"),
        ("contacts", "contacts/default.vcf"),
    ] {
        let mut import = reprise(&fresh);
        import.args(["import", kind, "alice"]).arg(out.join(file));
        ok(import, "");
    }
    let (cal_a, card_a) = objects(&src, ALICE);
    let (cal_b, card_b) = objects(&fresh, ALICE);
    assert_eq!(cal_a.len(), 30);
    assert_eq!(card_a.len(), 40);
    assert_eq!(cal_a, cal_b, "same UIDs, same iCalendar text");
    assert_eq!(card_a, card_b, "same UIDs, same vCard text");
}

/// Production runs on Kafka: a clone reads its topics into an embedded
/// log with the same offsets, and a snapshot of a Kafka installation's
/// views restores into a new data directory on the same topics.
#[test]
fn kafka_topics_clone_and_restore_with_the_same_views() {
    let brokers = support::kafka_brokers();
    let prefix = support::unique_name("recovery");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let kafka: Arc<dyn EventLog> = runtime.block_on(async {
        let mut config = support::kafka_config(&prefix);
        config.partitions = Some(4);
        let log: Arc<dyn EventLog> = Arc::new(KafkaLog::connect(config).await.unwrap());
        append(log.as_ref(), &varied_log()).await;
        log
    });
    let dir = tempfile::tempdir().unwrap();
    let on_kafka = |data: &Path| {
        let mut cmd = reprise(data);
        cmd.args(["--kafka-brokers", &brokers, "--topic-prefix", &prefix]);
        cmd
    };
    let views = dir.path().join("kafka-views");
    ok(with(on_kafka(&views), &["rebuild"]), "");
    let kafka_digests = digests(on_kafka(&views));

    let clone = dir.path().join("clone");
    let mut cmd = reprise(&clone);
    cmd.args([
        "clone",
        "--from-kafka-brokers",
        &brokers,
        "--from-topic-prefix",
        &prefix,
    ]);
    let out = ok(cmd, "");
    assert!(out.contains(&format!("kafka at {brokers}")), "{out}");
    assert_eq!(log_counts(reprise(&clone)), log_counts(on_kafka(&views)));
    assert_eq!(digests(reprise(&clone)), kafka_digests);

    // Snapshot on Kafka, more events, restore into a new data directory.
    let snap = dir.path().join("kafka.snap");
    let mut create = on_kafka(&views);
    create.args(["snapshot", "create", "--to"]).arg(&snap);
    ok(create, "");
    let tail = more_events(200_000, 10);
    runtime.block_on(append(kafka.as_ref(), &tail));
    let standby = dir.path().join("standby");
    let mut restore = on_kafka(&standby);
    restore.args(["snapshot", "restore"]).arg(&snap);
    ok(restore, "");
    let out = ok(with(on_kafka(&standby), &["rebuild"]), "");
    assert!(
        out.starts_with(&format!("rebuilt 5 projection(s): {} events", tail.len())),
        "{out}"
    );
    let full = dir.path().join("full");
    ok(with(on_kafka(&full), &["rebuild"]), "");
    assert_eq!(digests(on_kafka(&standby)), digests(on_kafka(&full)));
}
