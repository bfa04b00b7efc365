//! Crashes at any moment and full disks: `serve` SIGKILLed under a mix of
//! writes while a new projection version builds beside the live one, and
//! a data directory on a small filesystem that fills up.

use crate::common;
use crate::common::cmd::{add_user, ok, reprise};
use crate::common::http::{assert_status, try_send, Dav};
use crate::common::server::{free_port, raw_get, wait_ready, TestServer};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CAL: &str = "/dav/calendars/alice@example.com/default/";
const MOVES: [&str; 2] = [
    "/dav/calendars/alice@example.com/moves-a/",
    "/dav/calendars/alice@example.com/moves-b/",
];
const WORK: &str = "/dav/calendars/alice@example.com/work/";
const AUTH: &str = "Basic YWxpY2U6YWxpY2Utc2VjcmV0"; // alice:alice-secret
const WRITERS: usize = 4;
const KILLS: usize = 30;

fn event(uid: &str, summary: &str) -> String {
    common::ical(uid, summary)
}

/// splitmix64: a small seeded generator, so a failing run is replayed
/// with `REPRISE_TEST_SEED`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn seed() -> u64 {
    let seed = match std::env::var("REPRISE_TEST_SEED") {
        Ok(s) => s.parse().expect("REPRISE_TEST_SEED is a number"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    };
    eprintln!("crash loop seed: {seed} (replay with REPRISE_TEST_SEED={seed})");
    seed
}

/// Where a moved object is, as far as its writer knows.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Place {
    /// In `MOVES[i]`, acknowledged.
    Known(usize),
    /// A MOVE got no answer (or 5xx): it may or may not have happened.
    Unsure,
}

/// What one writer had acknowledged, and what it tried beyond that.
#[derive(Debug, Default)]
struct Writer {
    /// PUTs answered 201: href → ETag. Each href is written once.
    puts: BTreeMap<String, String>,
    /// The dead property `X:w{n}` on the default calendar: the last value
    /// acknowledged and the last one tried (values only grow).
    prop_acked: u64,
    prop_tried: u64,
    /// Objects moved between the two calendars: name → where.
    moves: BTreeMap<String, Place>,
    /// Seen flags of mailbox `w{n}`: UIDs acknowledged, the highest tried.
    seen_acked: BTreeSet<u64>,
    seen_tried: u64,
    counts: [usize; 4],
}

fn put_op(port: u16, w: usize, i: u64, state: &Mutex<Writer>) {
    let uid = format!("p{w}-{i}");
    let href = format!("{CAL}{uid}.ics");
    let body = event(&uid, "Crash loop");
    let reply = try_send(
        port,
        "PUT",
        &href,
        &[("Authorization", AUTH), ("Content-Type", "text/calendar")],
        body.as_bytes(),
    );
    if let Some(reply) = reply.filter(|r| r.status == 201) {
        let mut state = state.lock().unwrap();
        state.puts.insert(href, reply.etag());
        state.counts[0] += 1;
    }
}

fn proppatch_op(port: u16, w: usize, state: &Mutex<Writer>) {
    let value = {
        let mut state = state.lock().unwrap();
        state.prop_tried += 1;
        state.prop_tried
    };
    let body = format!(
        r#"<D:propertyupdate xmlns:D="DAV:" xmlns:X="urn:reprise:crash"><D:set><D:prop><X:w{w}>{value}</X:w{w}></D:prop></D:set></D:propertyupdate>"#
    );
    let reply = try_send(
        port,
        "PROPPATCH",
        CAL,
        &[("Authorization", AUTH), ("Content-Type", "application/xml")],
        body.as_bytes(),
    );
    if reply.is_some_and(|r| r.status == 207 && r.body.contains("HTTP/1.1 200")) {
        let mut state = state.lock().unwrap();
        state.prop_acked = state.prop_acked.max(value);
        state.counts[1] += 1;
    }
}

fn move_op(port: u16, rng: &mut Rng, state: &Mutex<Writer>) {
    let known: Vec<(String, usize)> = {
        let state = state.lock().unwrap();
        state
            .moves
            .iter()
            .filter_map(|(name, place)| match place {
                Place::Known(at) => Some((name.clone(), *at)),
                Place::Unsure => None,
            })
            .collect()
    };
    if known.is_empty() {
        return;
    }
    let (name, at) = &known[rng.below(known.len() as u64) as usize];
    let to = 1 - at;
    let destination = format!("http://127.0.0.1:{port}{}{name}", MOVES[to]);
    let reply = try_send(
        port,
        "MOVE",
        &format!("{}{name}", MOVES[*at]),
        &[
            ("Authorization", AUTH),
            ("Destination", &destination),
            ("Overwrite", "F"),
        ],
        b"",
    );
    let mut state = state.lock().unwrap();
    let place = match reply.map(|r| r.status) {
        Some(201 | 204) => {
            state.counts[2] += 1;
            Place::Known(to)
        }
        // Refused before anything was appended.
        Some(s) if (400..500).contains(&s) => Place::Known(*at),
        // No answer, or 5xx (e.g. the wait for the view cut short): it
        // may be in the log.
        _ => Place::Unsure,
    };
    state.moves.insert(name.clone(), place);
}

fn seen_op(port: u16, w: usize, state: &Mutex<Writer>) {
    let uid = {
        let mut state = state.lock().unwrap();
        state.seen_tried += 1;
        state.seen_tried
    };
    let body = format!(r#"{{"add": "{uid}"}}"#);
    let reply = try_send(
        port,
        "POST",
        &format!("/api/v1/mail/alice@example.com/mailboxes/w{w}/seen"),
        &[
            ("Authorization", AUTH),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    );
    if reply.is_some_and(|r| r.status == 200) {
        let mut state = state.lock().unwrap();
        state.seen_acked.insert(uid);
        state.counts[3] += 1;
    }
}

/// `href → ETag` of a calendar's objects.
fn listing(dav: &Dav, collection: &str) -> BTreeMap<String, String> {
    let reply = dav.propfind(
        collection,
        "1",
        r#"<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>"#,
    );
    assert_status(&reply, 207);
    let mut out = BTreeMap::new();
    for response in reply.body.split("<d:response>").skip(1) {
        let between = |open: &str, close: &str| {
            let start = response.find(open)? + open.len();
            let end = response[start..].find(close)? + start;
            Some(response[start..end].to_string())
        };
        if let (Some(href), Some(etag)) = (
            between("<d:href>", "</d:href>"),
            between("<d:getetag>", "</d:getetag>"),
        ) {
            out.insert(href, etag.replace("&quot;", "\""));
        }
    }
    out
}

/// The UIDs of a seen set such as `1:5,9`.
fn uids(set: &str) -> BTreeSet<u64> {
    let mut out = BTreeSet::new();
    for run in set.split(',').filter(|r| !r.is_empty()) {
        let (a, b) = run.split_once(':').unwrap_or((run, run));
        let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
        out.extend(a.min(b)..=a.max(b));
    }
    out
}

/// Every acknowledged write is there, and no unacknowledged one is half
/// there; settles each unsure MOVE to where the object is.
fn check_after_restart(port: u16, round: usize, writers: &[Arc<Mutex<Writer>>]) {
    let dav = Dav::new(port, "alice", "alice-secret");
    let objects = listing(&dav, CAL);
    let moved = [listing(&dav, MOVES[0]), listing(&dav, MOVES[1])];
    for (w, writer) in writers.iter().enumerate() {
        let mut writer = writer.lock().unwrap();
        for (href, etag) in &writer.puts {
            assert_eq!(
                objects.get(href),
                Some(etag),
                "round {round}: the acknowledged PUT of {href} is not there with its ETag"
            );
        }
        let value = {
            let reply = dav.propfind(
                CAL,
                "0",
                &format!(
                    r#"<propfind xmlns="DAV:"><prop><w{w} xmlns="urn:reprise:crash"/></prop></propfind>"#
                ),
            );
            let tag = format!("w{w} xmlns");
            reply
                .body
                .find(&tag)
                .and_then(|at| {
                    let rest = &reply.body[at..];
                    let start = rest.find('>')? + 1;
                    let end = rest[start..].find('<')? + start;
                    rest[start..end].parse::<u64>().ok()
                })
                .unwrap_or(0)
        };
        assert!(
            value >= writer.prop_acked && value <= writer.prop_tried,
            "round {round}: property w{w} is {value}, acknowledged {}, tried up to {}",
            writer.prop_acked,
            writer.prop_tried
        );
        let names: Vec<String> = writer.moves.keys().cloned().collect();
        for name in names {
            let at: Vec<usize> = (0..2)
                .filter(|&i| moved[i].contains_key(&format!("{}{name}", MOVES[i])))
                .collect();
            assert_eq!(
                at.len(),
                1,
                "round {round}: {name} is in {} of the two calendars",
                at.len()
            );
            match writer.moves[&name] {
                Place::Known(i) => assert_eq!(
                    at[0], i,
                    "round {round}: the acknowledged MOVE of {name} is undone"
                ),
                Place::Unsure => {
                    writer.moves.insert(name.clone(), Place::Known(at[0]));
                }
            }
        }
        let reply = dav.request(
            "GET",
            &format!("/api/v1/mail/alice@example.com/mailboxes/w{w}/seen"),
            &[],
            "",
        );
        assert_status(&reply, 200);
        let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        let seen = uids(json["seen"].as_str().unwrap());
        assert!(
            writer.seen_acked.is_subset(&seen),
            "round {round}: acknowledged seen flags of w{w} lost: {:?}",
            writer.seen_acked.difference(&seen).collect::<Vec<_>>()
        );
        assert!(
            seen.iter().all(|&u| u <= writer.seen_tried),
            "round {round}: w{w} has seen flags nobody set"
        );
    }
}

/// `projections digest --json` as (projection@version → digest).
fn digests(cmd: &mut std::process::Command) -> BTreeMap<String, String> {
    let text = ok(
        std::mem::replace(cmd, std::process::Command::new("true")),
        "",
    );
    let json: serde_json::Value = serde_json::from_str(&text[text.find('[').unwrap()..]).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                format!("{}@{}", d["projection"].as_str().unwrap(), d["version"]),
                d["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `serve` SIGKILLed 30 times at moments drawn from a seeded generator,
/// while four writers PUT, PROPPATCH a dead property, MOVE objects between
/// two calendars and set seen flags, and calendars@2 builds beside the
/// live calendars@1. After each restart every acknowledged write is there
/// and every MOVE left its object in exactly one place; at the end the
/// served views equal a clean rebuild of the same log in a copy.
#[test]
fn serve_killed_at_random_moments_keeps_every_acknowledged_write() {
    let mut rng = Rng(seed());
    let pin = ["--projection-version", "calendars=1"];
    let mut server = TestServer::start_with(&pin, &[]);
    let dav = Dav::new(server.port, "alice", "alice-secret");
    for collection in [MOVES[0], MOVES[1], WORK] {
        assert_status(&dav.request("MKCALENDAR", collection, &[], ""), 201);
    }
    // The new version has this much to build at a few events a second, so
    // it is still building beside the live one when the loop ends.
    let file = server.data_dir().parent().unwrap().join("work.ics");
    std::fs::write(&file, crate::upgrade::calendar(1500)).unwrap();
    let mut import = server.command();
    import.args(["--server", &server.url, "import", "calendar", "alice"]);
    import.arg(&file).args(["--collection", "work"]);
    ok(import, "");
    let writers: Vec<Arc<Mutex<Writer>>> = (0..WRITERS)
        .map(|w| {
            let mut writer = Writer::default();
            for k in 0..3 {
                let name = format!("m{w}-{k}.ics");
                let put = dav.put(
                    &format!("{}{name}", MOVES[0]),
                    "text/calendar",
                    &event(&format!("m{w}-{k}"), "Moved about"),
                    &[],
                );
                assert_status(&put, 201);
                writer.moves.insert(name, Place::Known(0));
            }
            Arc::new(Mutex::new(writer))
        })
        .collect();
    server.restart_with(&[], &["--build-rate", "10"]);
    let port = server.port;

    let started = Instant::now();
    let mut next_op = 0u64;
    for round in 0..KILLS {
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (stop, state) = (stop.clone(), writers[w].clone());
                let mut rng = Rng(rng.next());
                let first = next_op;
                std::thread::spawn(move || {
                    let mut i = first;
                    while !stop.load(Ordering::Relaxed) {
                        i += 1;
                        match rng.below(4) {
                            0 => put_op(port, w, i, &state),
                            1 => proppatch_op(port, w, &state),
                            2 => move_op(port, &mut rng, &state),
                            _ => seen_op(port, w, &state),
                        }
                        if raw_get(port, "/healthz").is_none() {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                })
            })
            .collect();
        next_op += 1_000_000;
        // A moment anywhere in the writers' stream, from their first
        // requests to well into it.
        std::thread::sleep(Duration::from_millis(rng.below(600)));
        let killed = Instant::now();
        server.stop();
        // Writers stopped while the server is down: what they were
        // doing at the kill is settled (acknowledged, or not), and the
        // check below sees no write in flight.
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
        let joined = killed.elapsed();
        server.restart(false);
        let restarted = killed.elapsed();
        check_after_restart(port, round, &writers);
        eprintln!(
            "round {round}: writers stopped after {joined:?}, restarted after {restarted:?}, \
             checked after {:?}",
            killed.elapsed()
        );
    }
    let counts = writers.iter().fold([0; 4], |mut sum, w| {
        let w = w.lock().unwrap();
        for (s, c) in sum.iter_mut().zip(w.counts) {
            *s += c;
        }
        sum
    });
    eprintln!(
        "{KILLS} kills in {:?}; acknowledged: {} PUT, {} PROPPATCH, {} MOVE, {} seen",
        started.elapsed(),
        counts[0],
        counts[1],
        counts[2],
        counts[3]
    );
    assert!(
        counts.iter().all(|&c| c > 0),
        "every kind of write got through: {counts:?}"
    );

    // The new version was building beside the live one all along.
    let mut status = server.command();
    status.args(["--server", &server.url, "projections", "status", "--json"]);
    let status = ok(status, "");
    assert!(
        status.contains("calendars") && status.contains("building"),
        "calendars@2 no longer builds beside calendars@1: {status}"
    );

    // The served views, caught up by a last start, against a clean
    // rebuild of the same log in a copy.
    server.restart(false);
    server.stop();
    let served = digests(server.command().args(["projections", "digest", "--json"]));
    let copy = tempfile::tempdir().unwrap();
    let copied = copy.path().join("data");
    copy_dir(server.data_dir(), &copied);
    std::fs::remove_dir_all(copied.join("views")).unwrap();
    // `rebuild` builds this build's current versions only; a server on
    // the copy, pinned to calendars@1, builds every served version from
    // offset 0 before it is ready.
    let port = free_port();
    let mut serve = reprise(&copied);
    serve
        .args(["--log-level", "warn"])
        .args(pin)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null());
    let rebuilding = Serve(serve.spawn().expect("spawn reprise serve"));
    wait_ready(port);
    drop(rebuilding);
    let rebuilt = digests(reprise(&copied).args(["projections", "digest", "--json"]));
    assert!(rebuilt.contains_key("calendars@1"), "{rebuilt:?}");
    for (version, digest) in &rebuilt {
        assert_eq!(
            served.get(version),
            Some(digest),
            "{version} differs from a clean rebuild"
        );
    }
}

fn copy_dir(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .expect("run cp");
    assert!(status.success(), "copying {}", from.display());
}

/// `reprise serve` on a small disk; killed when dropped, a failed
/// assertion included.
struct Serve(std::process::Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve_on(disk: &common::disk::SmallDisk, port: u16, extra: &[&str]) -> Serve {
    let mut cmd = disk.reprise("data");
    cmd.args(["--log-level", "warn", "serve", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .args(extra)
        .stdout(std::process::Stdio::null());
    let server = Serve(cmd.spawn().expect("spawn reprise serve"));
    wait_ready(port);
    server
}

/// A disk that fills under `serve` (below its reserve of free space):
/// writes are refused with 507 (DAV) and 503 (the mail API) before
/// anything is appended, reads go on, `/readyz` says the disk is full;
/// once space is freed, writes resume without a restart, and the views
/// equal a rebuild of the log.
#[test]
fn a_full_disk_refuses_writes_keeps_reads_and_resumes_once_space_is_freed() {
    let disk = common::disk::SmallDisk::new(96);
    add_user(
        disk.reprise("data"),
        "alice",
        "alice-secret",
        &["--name", "Alice"],
    );
    let port = free_port();
    let server = serve_on(&disk, port, &["--min-free-space", "16MiB"]);
    let dav = Dav::new(port, "alice", "alice-secret");
    let mut acknowledged = Vec::new();
    for i in 0..20 {
        let href = format!("{CAL}before-{i}.ics");
        let reply = dav.put(&href, "text/calendar", &event(&format!("b{i}"), "B"), &[]);
        assert_status(&reply, 201);
        acknowledged.push((href, reply.etag()));
    }
    let seen = "/api/v1/mail/alice@example.com/mailboxes/INBOX/seen";
    let json = [("Content-Type", "application/json")];
    assert_status(&dav.request("POST", seen, &json, r#"{"add": "1"}"#), 200);

    disk.fill(0);
    let refused = dav.put(
        &format!("{CAL}during.ics"),
        "text/calendar",
        &event("during", "D"),
        &[],
    );
    assert_status(&refused, 507);
    assert!(refused.body.contains("is full"), "{refused:#?}");
    let patch = dav.request(
        "PROPPATCH",
        CAL,
        &[("Content-Type", "application/xml")],
        r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>Never</D:displayname></D:prop></D:set></D:propertyupdate>"#,
    );
    assert_status(&patch, 507);
    let flag = dav.request("POST", seen, &json, r#"{"add": "2"}"#);
    assert_status(&flag, 503);
    assert!(flag.body.contains("is full"), "{flag:#?}");
    let ready = raw_get(port, "/readyz").unwrap();
    assert!(
        ready.starts_with("HTTP/1.1 503") && ready.contains("is full"),
        "{ready}"
    );
    // Reads go on, and nothing of the refused writes is there.
    for (href, etag) in &acknowledged {
        let got = dav.get(href);
        assert_status(&got, 200);
        assert_eq!(&got.etag(), etag, "{href}");
    }
    assert_status(&dav.get(&format!("{CAL}during.ics")), 404);
    assert!(!dav.propfind(CAL, "0", "").body.contains("Never"));
    let flags: serde_json::Value =
        serde_json::from_str(&dav.request("GET", seen, &[], "").body).unwrap();
    assert_eq!(flags["seen"], "1");

    disk.free();
    wait_ready(port);
    let after = dav.put(
        &format!("{CAL}after.ics"),
        "text/calendar",
        &event("after", "After"),
        &[],
    );
    assert_status(&after, 201);
    assert_status(&dav.request("POST", seen, &json, r#"{"add": "2"}"#), 200);

    drop(server);
    let digest = || {
        let mut cmd = disk.reprise("data");
        cmd.args(["projections", "digest", "--json"]);
        ok(cmd, "")
    };
    let served = digest();
    let mut rebuild = disk.reprise("data");
    rebuild.arg("rebuild");
    ok(rebuild, "");
    assert_eq!(digest(), served, "the views equal a rebuild of the log");
}

/// With the reserve off, the disk fills under the storage engine itself:
/// the write that meets it and every later one get 503 with the disk's
/// own words, readiness says why, and once there is space a restart serves
/// every acknowledged write and takes new ones.
#[test]
fn a_disk_full_under_the_storage_engine_stops_writes_until_a_restart_keeping_every_acknowledged_one(
) {
    let disk = common::disk::SmallDisk::new(48);
    add_user(
        disk.reprise("data"),
        "alice",
        "alice-secret",
        &["--name", "Alice"],
    );
    let port = free_port();
    let off = ["--min-free-space", "0"];
    let server = serve_on(&disk, port, &off);
    let dav = Dav::new(port, "alice", "alice-secret");
    let mut acknowledged = Vec::new();
    let mut refused = None;
    for i in 0.. {
        if i == 20 {
            disk.fill(0);
        }
        let href = format!("{CAL}full-{i}.ics");
        let reply = dav.put(
            &href,
            "text/calendar",
            &event(&format!("full-{i}"), "Full"),
            &[],
        );
        match reply.status {
            201 => acknowledged.push((href, reply.etag())),
            _ => {
                refused = Some(reply);
                break;
            }
        }
        assert!(i < 5000, "writes never failed on a full disk");
    }
    let refused = refused.unwrap();
    assert_status(&refused, 503);
    assert!(
        refused.body.contains("No space left on device"),
        "{refused:#?}"
    );
    assert!(acknowledged.len() >= 20);
    let again = dav.put(
        &format!("{CAL}later.ics"),
        "text/calendar",
        &event("later", "L"),
        &[],
    );
    assert_status(&again, 503);
    let ready = raw_get(port, "/readyz").unwrap();
    assert!(ready.starts_with("HTTP/1.1 503"), "{ready}");

    drop(server);
    disk.free();
    let _server = serve_on(&disk, port, &off);
    for (href, etag) in &acknowledged {
        let got = dav.get(href);
        assert_eq!(got.status, 200, "{href} lost");
        assert_eq!(&got.etag(), etag, "{href}");
    }
    let after = dav.put(
        &format!("{CAL}after.ics"),
        "text/calendar",
        &event("after", "After"),
        &[],
    );
    assert_status(&after, 201);
}

mod proxy {
    //! The proxy SIGKILLed at each step of a switch, writers going through
    //! it all along.

    use crate::common::cluster::{add_users, Installation, Proxy, TOKEN};
    use crate::common::http::{assert_status, try_send, Dav};
    use crate::support;
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    const WORK: &str = "/dav/calendars/alice@example.com/work/";
    const AUTH: &str = "Basic YWxpY2U6YWxpY2Utc2VjcmV0";

    /// What a writer's creations came to: href → the ETag of its 201, or
    /// None when a retry got 412 (an earlier attempt, whose answer was
    /// lost, created it).
    type Outcomes = Arc<Mutex<BTreeMap<String, Option<String>>>>;

    /// Creates `w{n}-{i}.ics` one after the other through the proxy, each
    /// with `If-None-Match: *`, retrying an attempt without a definitive
    /// answer (no answer, 502, 503) until it gets one: a retried create
    /// can never make a second object or overwrite the first.
    fn writer(port: u16, w: usize, stop: Arc<AtomicBool>, outcomes: Outcomes) {
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            i += 1;
            let uid = format!("w{w}-{i}");
            let href = format!("{WORK}{uid}.ics");
            let body = crate::common::ical(&uid, "Through the proxy");
            loop {
                let reply = try_send(
                    port,
                    "PUT",
                    &href,
                    &[
                        ("Authorization", AUTH),
                        ("Content-Type", "text/calendar"),
                        ("If-None-Match", "*"),
                    ],
                    body.as_bytes(),
                );
                match reply.map(|r| (r.status, r.header("etag").map(str::to_string))) {
                    Some((201, etag)) => {
                        assert!(etag.is_some(), "201 without an ETag for {href}");
                        outcomes.lock().unwrap().insert(href, etag);
                        break;
                    }
                    Some((412, _)) => {
                        outcomes.lock().unwrap().insert(href, None);
                        break;
                    }
                    Some((status, _)) if status != 502 && status != 503 => {
                        panic!("{href}: unexpected {status}")
                    }
                    _ => std::thread::sleep(Duration::from_millis(20)),
                }
                // A writer stopped in the middle of a retry leaves its
                // href unsettled; the check below allows that one.
                if stop.load(Ordering::Relaxed) {
                    return;
                }
            }
        }
    }

    fn wait_until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(t) = f() {
                return t;
            }
            assert!(Instant::now() < deadline, "never: {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn acknowledged(outcomes: &Outcomes) -> usize {
        outcomes.lock().unwrap().len()
    }

    /// Writes keep getting through the (restarted) proxy.
    fn writes_go_on(outcomes: &Outcomes) {
        let before = acknowledged(outcomes);
        wait_until("writes through the restarted proxy", || {
            (acknowledged(outcomes) >= before + 10).then_some(())
        });
    }

    /// Asks the proxy to switch to `to`, on a thread of its own (the
    /// proxy may be killed before it answers).
    fn switch_in_background(proxy: &Proxy, to: &str) -> std::thread::JoinHandle<()> {
        let (admin, to) = (proxy.admin_port, to.to_string());
        std::thread::spawn(move || {
            let bearer = format!("Bearer {TOKEN}");
            let body = format!(r#"{{"to": "{to}"}}"#);
            let _ = try_send(
                admin,
                "POST",
                "/switch",
                &[
                    ("Authorization", bearer.as_str()),
                    ("Content-Type", "application/json"),
                ],
                body.as_bytes(),
            );
        })
    }

    fn active(proxy: &Proxy) -> String {
        proxy.status()["active"].as_str().unwrap().to_string()
    }

    fn role(installation: &Installation) -> String {
        installation.cluster()["role"].as_str().unwrap().to_string()
    }

    /// The proxy SIGKILLed at each step of a switch, in turn: before any
    /// switch, while it holds requests and drains the old backend (a slow
    /// upload in flight), after the old backend handed over and before the
    /// new one took over (the new one stopped with SIGSTOP meanwhile), and
    /// right after a complete switch. Restarted without `--active`, it
    /// routes to the backend that leads, or completes the switch whose
    /// fence the log holds; writers going through it all along lose no
    /// acknowledged write and never make one twice.
    #[test]
    fn the_proxy_killed_at_each_step_of_a_switch_finds_the_leader_and_loses_no_write() {
        let prefix = support::unique_name("proxycrash");
        let root = support::TempDir::new("proxycrash");
        let (blue_dir, green_dir) = (root.path().join("blue"), root.path().join("green"));
        add_users(&blue_dir, &prefix);
        let blue = Installation::start("blue", &blue_dir, &prefix, &[]);
        let green = Installation::start("green", &green_dir, &prefix, &["--standby"]);
        let mut proxy = Proxy::start(&[&blue, &green]);
        let alice = Dav::new(proxy.port, "alice", "alice-secret");
        assert_status(&alice.request("MKCALENDAR", WORK, &[], ""), 201);

        let stop = Arc::new(AtomicBool::new(false));
        let outcomes: Outcomes = Arc::default();
        let port = proxy.port;
        let writers: Vec<_> = (0..3)
            .map(|w| {
                let (stop, outcomes) = (stop.clone(), outcomes.clone());
                std::thread::spawn(move || writer(port, w, stop, outcomes))
            })
            .collect();
        writes_go_on(&outcomes);

        // 1. Before any switch.
        proxy.restart();
        assert_eq!(active(&proxy), "blue");
        writes_go_on(&outcomes);

        // 2. While the switch holds requests, draining blue: an upload
        // that never finishes keeps a request in flight there.
        let mut slow = std::net::TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
        std::io::Write::write_all(
            &mut slow,
            format!(
                "PUT {WORK}slow.ics HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\n\
                 Content-Type: text/calendar\r\nContent-Length: 100000\r\n\r\nBEGIN:"
            )
            .as_bytes(),
        )
        .unwrap();
        wait_until("the slow upload in flight on blue", || {
            let status = proxy.status();
            let blue = &status["backends"][0];
            (blue["in_flight"].as_u64() > Some(0)).then_some(())
        });
        let switch = switch_in_background(&proxy, "green");
        wait_until("the switch holding requests", || {
            (proxy.status()["holding"] == true).then_some(())
        });
        proxy.restart();
        drop(slow);
        let _ = switch.join();
        assert_eq!(active(&proxy), "blue", "no fence yet: blue still leads");
        assert_eq!(role(&blue), "leader");
        writes_go_on(&outcomes);

        // 3. After blue handed over (its fence is in the log) and before
        // green took over: green is stopped, so the take-over waits.
        green.signal("STOP");
        let switch = switch_in_background(&proxy, "green");
        wait_until("blue handing over", || {
            (role(&blue) == "follower").then_some(())
        });
        proxy.kill();
        green.signal("CONT");
        let _ = switch.join();
        proxy.restart();
        assert_eq!(active(&proxy), "green", "the last fence names green");
        wait_until("green leading", || (role(&green) == "leader").then_some(()));
        writes_go_on(&outcomes);

        // 4. Right after a complete switch back to blue (what is left to
        // the proxy then, routing, is in its memory only).
        proxy.switch("blue");
        proxy.restart();
        assert_eq!(active(&proxy), "blue");
        writes_go_on(&outcomes);

        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.join().unwrap();
        }
        // Every create acknowledged is there once, with the ETag of its
        // one event; every one a retry found done is there; nothing else.
        let outcomes = outcomes.lock().unwrap();
        let listing = super::listing(&alice, WORK);
        for (href, etag) in outcomes.iter() {
            let there = listing.get(href);
            assert!(there.is_some(), "{href} was acknowledged and is lost");
            if let Some(etag) = etag {
                assert_eq!(there, Some(etag), "{href} was written again");
            }
        }
        let unsettled: Vec<&String> = listing
            .keys()
            .filter(|href| !outcomes.contains_key(*href))
            .collect();
        // At most one create per writer was cut short by the stop.
        assert!(
            unsettled.len() <= 3,
            "objects nobody acknowledged: {unsettled:?}"
        );
        eprintln!(
            "{} creates through four proxy kills, {} found done on a retry",
            outcomes.len(),
            outcomes.values().filter(|e| e.is_none()).count()
        );
    }
}
