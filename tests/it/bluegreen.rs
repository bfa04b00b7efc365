//! Two installations on one Kafka log (a real Apache Kafka broker) behind
//! `reprise proxy`: blue/green switches under load, a standby promoted
//! after the active backend is SIGKILLed, and what a client that bypasses
//! the proxy, or a stray writer of an old epoch, gets.

use crate::common;
use crate::support;

use crate::common::cluster::{add_users, append_directly, log_args, Installation, Proxy};
use crate::common::cmd::{ok, reprise};
use crate::common::http::{assert_status, Dav, Reply};
use crate::common::load::Load;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const WORK: &str = "/dav/calendars/alice@example.com/work/";

fn wait_until_writes(load: &Load, at_least: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while load.writes() < at_least {
        assert!(
            Instant::now() < deadline,
            "the load wrote only {} events",
            load.writes()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn propfind_work(dav: &Dav, _: u64) -> (String, Reply, u16) {
    let reply = dav.propfind(
        WORK,
        "1",
        r#"<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>"#,
    );
    ("PROPFIND".into(), reply, 207)
}

/// Every (href, ETag) is served by `port` with that ETag, once its views
/// have caught up (a follower may be a moment behind).
fn assert_all_there(port: u16, written: &[(String, String)]) {
    let alice = Dav::new(port, "alice", "alice-secret");
    let deadline = Instant::now() + Duration::from_secs(30);
    for (href, etag) in written {
        loop {
            let reply = alice.get(href);
            if reply.status == 200 && &reply.etag() == etag {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{href} on port {port}: {} (ETag {:?}, acknowledged {etag})",
                reply.status,
                reply.header("etag")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// vdirsyncer through the proxy, for one phase of a cutover.
fn vdirsyncer(proxy: &Proxy, state: &Path, phase: &str, expected: &str) {
    use common::clients::{client_script, python_with, run_with_timeout};
    let python = python_with("vdirsyncer");
    let mut cmd = Command::new(&python);
    cmd.arg(client_script("vdirsyncer_sync.py"))
        .args(["--url", &format!("http://127.0.0.1:{}", proxy.port)])
        .args(["--user", "carol", "--password", "carol-secret"])
        .args(["--phase", phase, "--state", state.to_str().unwrap()])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1");
    let ran = run_with_timeout(cmd, state, Duration::from_secs(120));
    assert!(
        ran.success
            && ran.output.lines().any(|l| l == "vdirsyncer_sync: PASS")
            && ran.output.lines().any(|l| l.starts_with(expected)),
        "vdirsyncer --phase {phase}: {}\n{}",
        ran.status,
        ran.output
    );
}

struct Dirs {
    _root: support::TempDir,
    blue: PathBuf,
    green: PathBuf,
    vdirsyncer: PathBuf,
}

fn dirs(what: &str) -> Dirs {
    let root = support::TempDir::new(what);
    let dirs = Dirs {
        blue: root.path().join("blue"),
        green: root.path().join("green"),
        vdirsyncer: root.path().join("vdirsyncer"),
        _root: root,
    };
    std::fs::create_dir_all(&dirs.vdirsyncer).unwrap();
    dirs
}

#[test]
fn blue_green_blue_under_load_fails_no_request_and_loses_no_write() {
    let prefix = support::unique_name("bluegreen");
    let dirs = dirs("bluegreen");
    add_users(&dirs.blue, &prefix);
    let blue = Installation::start("blue", &dirs.blue, &prefix, &[]);
    // The green side runs another calendars version than blue.
    let green = Installation::start(
        "green",
        &dirs.green,
        &prefix,
        &["--standby", "--projection-version", "calendars=1"],
    );
    assert_eq!(blue.cluster()["role"], "leader");
    assert_eq!(green.cluster()["role"], "follower");
    let proxy = Proxy::start(&[&blue, &green]);

    let alice = Dav::new(proxy.port, "alice", "alice-secret");
    assert_status(&alice.request("MKCALENDAR", WORK, &[], ""), 201);
    vdirsyncer(
        &proxy,
        &dirs.vdirsyncer,
        "before",
        "ok: synced before the switch",
    );

    let load = Load::start(
        proxy.port,
        ("alice", "alice-secret"),
        WORK,
        3,
        2,
        propfind_work,
    );
    wait_until_writes(&load, 30);
    let to_green = proxy.switch("green");
    assert_eq!(to_green["epoch"], 1);
    assert_eq!(to_green["fenced_by"], "previous leader");
    assert_eq!(green.cluster()["role"], "leader");
    assert_eq!(blue.cluster()["leader"], "green");
    // Both consoles show the switch, read from the log; the one that took
    // over also has the proxy's hold figures.
    for side in [&blue, &green] {
        let console = side.console();
        let switch = &console["switches"][0];
        assert_eq!(switch["epoch"], 1, "{console}");
        assert_eq!(switch["leader"], "green");
        assert_eq!(switch["fenced_by"], "blue");
    }
    let hold = &green.console()["switches"][0]["hold"];
    assert_eq!(hold["held_requests"], to_green["held_requests"], "{hold}");

    // A client that bypasses the proxy gets a clear 503 from blue, and
    // its write is nowhere.
    let direct = Dav::new(blue.port, "alice", "alice-secret");
    let stray = format!("{WORK}bypass.ics");
    let refused = direct.put(
        &stray,
        "text/calendar",
        &common::ical("bypass", "Bypass"),
        &[],
    );
    assert_status(&refused, 503);
    assert!(refused.body.contains("green leads"), "{}", refused.body);
    assert_status(&alice.get(&stray), 404);

    let written = load.writes();
    wait_until_writes(&load, written + 30);
    let to_blue = proxy.switch("blue");
    assert_eq!(to_blue["epoch"], 2);
    let written = load.writes();
    wait_until_writes(&load, written + 30);
    let done = load.finish();
    done.assert_no_failure();
    eprintln!(
        "{} requests through two switches, none failed; {} writes acknowledged",
        done.requests,
        done.written.len()
    );

    // Every acknowledged write is on both sides, with the same ETag.
    assert_all_there(proxy.port, &done.written);
    assert_all_there(green.port, &done.written);
    vdirsyncer(
        &proxy,
        &dirs.vdirsyncer,
        "after",
        "ok: after the switch, a sync has nothing to do",
    );

    // A stray writer of an epoch a fence ended (an old leader that missed
    // the switch) appends straight to the log: every projection rejects it.
    let zombie = common::put("work", "zombie.ics", "zombie", "Written by a zombie");
    // Numbered far from the test's other events, and dated in the past:
    // Kafka refuses a record stamped more than an hour ahead
    // (`log.message.timestamp.after.max.ms`).
    let mut event = common::Events::starting_at(1 << 20).make(common::ALICE, zombie);
    event.leader_epoch = 1;
    append_directly(&prefix, &event);
    // Something written after it, through the proxy, is applied: so the
    // views have passed the stray event.
    let after = format!("{WORK}after-zombie.ics");
    assert_status(
        &alice.put(
            &after,
            "text/calendar",
            &common::ical("after", "After"),
            &[],
        ),
        201,
    );
    assert_status(&alice.get(&format!("{WORK}zombie.ics")), 404);
    assert_all_there(green.port, &[(after.clone(), alice.get(&after).etag())]);
    assert_status(
        &Dav::new(green.port, "alice", "alice-secret").get(&format!("{WORK}zombie.ics")),
        404,
    );
}

#[test]
fn a_standby_takes_over_when_the_active_backend_is_killed() {
    let prefix = support::unique_name("standby");
    let dirs = dirs("standby");
    add_users(&dirs.blue, &prefix);
    let mut blue = Installation::start("blue", &dirs.blue, &prefix, &[]);
    let green = Installation::start("green", &dirs.green, &prefix, &["--standby"]);
    let proxy = Proxy::start(&[&blue, &green]);
    let alice = Dav::new(proxy.port, "alice", "alice-secret");
    assert_status(&alice.request("MKCALENDAR", WORK, &[], ""), 201);

    let load = Load::start(
        proxy.port,
        ("alice", "alice-secret"),
        WORK,
        3,
        1,
        propfind_work,
    );
    wait_until_writes(&load, 40);

    // The standby follows: its status shows its lag in events and seconds.
    let mut status = reprise(&dirs.green);
    status.args(log_args(&prefix)).args([
        "--server",
        &green.url,
        "projections",
        "status",
        "--json",
    ]);
    let text = ok(status, "");
    let report: Value = serde_json::from_str(&text[text.find('{').unwrap()..]).unwrap();
    assert_eq!(report["cluster"]["role"], "follower", "{report}");
    let calendars = report["projections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "calendars")
        .unwrap();
    let live = &calendars["versions"][0];
    assert!(
        live["lag"].is_u64() && live["lag_seconds"].is_f64(),
        "{live}"
    );

    blue.kill();
    let acknowledged_before_the_kill = load.writes();
    let report = proxy.switch("green");
    assert_eq!(report["fenced_by"], "itself", "{report}");
    assert!(report["hand_over_error"].is_string(), "{report}");
    let written = load.writes();
    wait_until_writes(&load, written + 20);
    let done = load.finish();
    // Requests in flight on blue when it died, and those sent before the
    // switch, failed at the proxy (502); nothing else may fail.
    assert!(
        done.failures.iter().all(|f| f.contains(": 502")),
        "{:?}",
        &done.failures[..done.failures.len().min(10)]
    );
    assert!(done.written.len() >= acknowledged_before_the_kill + 20);
    assert_all_there(proxy.port, &done.written);
    assert_eq!(green.cluster()["role"], "leader");
}

/// Bytes over HTTP as `user`, an attachment's name given with them.
fn http_bytes(
    port: u16,
    user: (&str, &str),
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let auth = common::http::basic_auth(user.0, user.1);
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/octet-stream"),
        ("Content-Disposition", "attachment;filename=slides.pdf"),
    ];
    common::http::binary(port, method, path, &headers, body)
}

#[test]
fn a_file_and_an_attachment_written_on_blue_are_served_by_green_from_one_bucket() {
    let moto = common::s3::Moto::start();
    moto.create_bucket("shared");
    let prefix = support::unique_name("bluegreen-objects");
    let dirs = dirs("bluegreen-objects");
    let settings = dirs.vdirsyncer.join("s3.conf");
    std::fs::write(&settings, moto.settings()).unwrap();
    let settings = settings.display().to_string();
    let store = [
        "--object-store",
        "s3://shared/installation",
        "--object-store-config",
        settings.as_str(),
    ];
    add_users(&dirs.blue, &prefix);
    let blue = Installation::start("blue", &dirs.blue, &prefix, &store);
    let mut standby = store.to_vec();
    standby.push("--standby");
    let green = Installation::start("green", &dirs.green, &prefix, &standby);
    let proxy = Proxy::start(&[&blue, &green]);

    let alice = ("alice", "alice-secret");
    let file: Vec<u8> = (0..3 << 20).map(|i| (i % 253) as u8).collect();
    let slides: Vec<u8> = (0..2 << 20).map(|i| (i % 241) as u8).collect();
    let files = "/dav/files/alice@example.com/report.bin";
    assert_eq!(http_bytes(proxy.port, alice, "PUT", files, &file).0, 201);
    let dav = Dav::new(proxy.port, "alice", "alice-secret");
    assert_status(&dav.request("MKCALENDAR", WORK, &[], ""), 201);
    let event = format!("{WORK}review.ics");
    let ical = common::ical("review", "Review");
    assert_status(&dav.put(&event, "text/calendar", &ical, &[]), 201);
    let added = http_bytes(
        proxy.port,
        alice,
        "POST",
        &format!("{event}?action=attachment-add"),
        &slides,
    );
    assert_eq!(added.0, 201);
    let text = dav.get(&event).body.replace("\r\n ", "");
    let start = text.find("/dav/attachments/").expect("an attachment URL");
    let attachment = text[start..].lines().next().unwrap().to_string();

    let to_green = proxy.switch("green");
    assert_eq!(to_green["to"], "green");
    assert_eq!(green.cluster()["role"], "leader");
    // Served by green, through the proxy and directly, from the bucket:
    // neither installation keeps objects of its own.
    for port in [proxy.port, green.port] {
        assert_eq!(
            http_bytes(port, alice, "GET", files, b""),
            (200, file.clone())
        );
        assert_eq!(
            http_bytes(port, alice, "GET", &attachment, b""),
            (200, slides.clone())
        );
    }
    assert!(!dirs.blue.join("objects").exists());
    assert!(!dirs.green.join("objects").exists());
    assert_eq!(moto.list("shared", "installation/sha256/").len(), 2);
}
