//! Server-side scheduling across a blue/green switch: two installations
//! on one Kafka log (a real broker) behind `reprise proxy`, the organizer
//! writing on one and the attendee answering on the other. Each attendee
//! gets one copy and one inbox item, the organizer one REPLY, the log
//! holds each effect once (or, when a switch cut a delivery in two, the
//! same event twice, applied once), both installations' views are equal,
//! and a rebuild sends nothing.
//!
//! Three places a switch can fall: after the invitation was delivered and
//! closed; while the old leader's process manager is delivering it (the
//! proxy hands over the moment the organizer's PUT is answered, which in
//! practice lands between the deliveries and their completion); and
//! after the invitation is in the log and before anything was sent (the
//! leader dies; the test appends its last write itself).

use crate::common::cluster::{add_users, append_directly, Installation, Proxy};
use crate::common::cmd::ok;
use crate::common::http::{assert_status, basic_auth, send_in_two_parts, Dav};
use crate::common::smtp::SmtpSink;
use crate::scheduling::{eventually, line_of, meeting, members, put_ics};
use crate::support;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";
const CAROL: &str = "carol@example.com";
/// Outside the directory: mailed.
const DAVE: &str = "dave@elsewhere.test";

fn calendar(user: &str) -> String {
    format!("/dav/calendars/{user}/default/")
}

fn inbox(user: &str) -> String {
    format!("/dav/calendars/{user}/schedule-inbox/")
}

/// Blue leading, green a standby, the proxy in front of both, and the
/// three users through proxy clients.
struct Cluster {
    prefix: String,
    blue: Installation,
    green: Installation,
    proxy: Proxy,
    alice: Dav,
    bob: Dav,
    carol: Dav,
    _root: support::TempDir,
}

fn cluster(what: &str) -> Cluster {
    cluster_with(what, &[])
}

/// [`cluster`] with more `serve` flags for both installations.
fn cluster_with(what: &str, extra: &[&str]) -> Cluster {
    let prefix = support::unique_name(what);
    let root = support::TempDir::new(what);
    let (blue, green) = (root.path().join("blue"), root.path().join("green"));
    add_users(&blue, &prefix);
    let blue = Installation::start("blue", &blue, &prefix, extra);
    let standby: Vec<&str> = extra.iter().copied().chain(["--standby"]).collect();
    let green = Installation::start("green", &green, &prefix, &standby);
    assert_eq!(blue.cluster()["role"], "leader");
    assert_eq!(green.cluster()["role"], "follower");
    let proxy = Proxy::start(&[&blue, &green]);
    let dav = |user: &str, password: &str| Dav::new(proxy.port, user, password);
    Cluster {
        alice: dav(ALICE, "alice-secret"),
        bob: dav(BOB, "bob-secret"),
        carol: dav(CAROL, "carol-secret"),
        prefix,
        blue,
        green,
        proxy,
        _root: root,
    }
}

/// The bodies of the members of `collection` about `uid`.
fn about(dav: &Dav, collection: &str, uid: &str) -> Vec<(String, String)> {
    members(dav, collection)
        .into_iter()
        .filter_map(|href| {
            let reply = dav.get(&href);
            assert_status(&reply, 200);
            let unfolded = reply.body.replace("\r\n ", "");
            let ours = unfolded.split("\r\n").any(|l| l == format!("UID:{uid}"));
            ours.then_some((href, reply.body))
        })
        .collect()
}

/// Waits until every cause that delivered something about `uid` has its
/// `SchedulingCompleted` in the log (the delivery statuses on the
/// organizer's copy are written with its PUT, so they say nothing).
fn wait_until_completed(c: &Cluster, uid: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = effects(c);
        let causes: BTreeSet<(u64, u64)> = found
            .iter()
            .filter(|e| e.kind == "SchedulingDelivered" && e.data["uid"] == uid)
            .map(|e| e.cause)
            .collect();
        let done = !causes.is_empty()
            && causes.iter().all(|cause| {
                found
                    .iter()
                    .any(|e| e.kind == "SchedulingCompleted" && e.cause == *cause)
            });
        if done {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{uid} was not completed: {found:#?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every attendee has exactly one copy of `uid`, in their default
/// calendar at `<uid>.ics`, and exactly one inbox item about it, a
/// REQUEST.
fn assert_one_copy_and_one_request(c: &Cluster, uid: &str) {
    for (who, dav) in [(BOB, &c.bob), (CAROL, &c.carol)] {
        // The statuses on the organizer's copy are written with its PUT:
        // the copies may still be on their way.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while about(dav, &calendar(who), uid).is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let copies = about(dav, &calendar(who), uid);
        let hrefs: Vec<&String> = copies.iter().map(|(h, _)| h).collect();
        assert_eq!(
            hrefs,
            [&format!("{}{uid}.ics", calendar(who))],
            "{who}'s copies of {uid}"
        );
        let items = about(dav, &inbox(who), uid);
        assert_eq!(
            items.len(),
            1,
            "{who}'s inbox items about {uid}: {items:#?}"
        );
        assert!(items[0].1.contains("METHOD:REQUEST"), "{}", items[0].1);
    }
}

/// Bob accepts `uid` through the proxy: a PUT of his copy with
/// If-Schedule-Tag-Match; then waits until the organizer's copy says so.
fn bob_accepts(c: &Cluster, uid: &str) {
    let path = format!("{}{uid}.ics", calendar(BOB));
    let copy = c.bob.get(&path);
    assert_status(&copy, 200);
    let tag = copy.header("schedule-tag").expect("a Schedule-Tag");
    let unfolded = copy.body.replace("\r\n ", "");
    let accepted = unfolded.replace(
        "PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@",
        "PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:bob@",
    );
    assert_ne!(accepted, unfolded);
    let answer = put_ics(&c.bob, &path, &accepted, &[("If-Schedule-Tag-Match", tag)]);
    assert_status(&answer, 204);
    let organizer = eventually(
        &c.alice,
        &format!("{}{uid}.ics", calendar(ALICE)),
        "Bob's answer on the organizer's copy",
        |r| line_of(&r.body, "ATTENDEE", "bob@").contains("PARTSTAT=ACCEPTED"),
    );
    assert!(line_of(&organizer.body, "ATTENDEE", "carol@").contains("PARTSTAT=NEEDS-ACTION"));
}

/// The organizer's inbox has exactly one item about `uid`: Bob's REPLY.
fn assert_one_reply(c: &Cluster, uid: &str) {
    let replies = about(&c.alice, &inbox(ALICE), uid);
    assert_eq!(replies.len(), 1, "Alice's inbox about {uid}: {replies:#?}");
    assert!(replies[0].1.contains("METHOD:REPLY"), "{}", replies[0].1);
    assert!(
        line_of(&replies[0].1, "ATTENDEE", "bob@").contains("PARTSTAT=ACCEPTED"),
        "{}",
        replies[0].1
    );
}

/// A scheduling event in the log, as `reprise log tail` prints it.
#[derive(Debug)]
struct Effect {
    kind: String,
    /// Where it is: shown when an assertion fails.
    #[allow(dead_code)]
    at: (u64, u64),
    /// The partition key: the recipient of a delivery, the sender of a
    /// completion.
    key: String,
    id: String,
    epoch: u64,
    /// The cause's (partition, offset).
    cause: (u64, u64),
    data: Value,
}

/// Every `SchedulingDelivered` and `SchedulingCompleted` of the calendar
/// topic, in log order per partition.
fn effects(c: &Cluster) -> Vec<Effect> {
    let mut tail = c.green.command();
    tail.args(["log", "tail", "--topic", "calendar"]);
    let mut found = Vec::new();
    for line in ok(tail, "").lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        let event = &record["event"];
        let kind = event["payload"]["type"].as_str().unwrap_or_default();
        if !kind.starts_with("Scheduling") {
            continue;
        }
        let data = event["payload"]["data"].clone();
        found.push(Effect {
            kind: kind.to_string(),
            at: (
                record["partition"].as_u64().unwrap(),
                record["offset"].as_u64().unwrap(),
            ),
            key: record["key"].as_str().unwrap().to_string(),
            id: event["event_id"].as_str().unwrap().to_string(),
            epoch: event["leader_epoch"].as_u64().unwrap(),
            cause: (
                data["cause"]["partition"].as_u64().unwrap(),
                data["cause"]["offset"].as_u64().unwrap(),
            ),
            data,
        });
    }
    found
}

/// Records in the test's topics, counted by `log stats`.
fn log_records(c: &Cluster) -> u64 {
    let mut stats = c.green.command();
    stats.args(["log", "stats", "--json"]);
    let text = ok(stats, "");
    let stats: Vec<Value> = serde_json::from_str(&text[text.find('[').unwrap()..]).unwrap();
    stats
        .iter()
        .filter(|s| {
            s["topic"]
                .as_str()
                .is_some_and(|t| t.starts_with(&c.prefix))
        })
        .map(|s| s["count"].as_u64().unwrap())
        .sum()
}

/// What the log says about one scheduling object `uid`: how the
/// organizer's cause and the REPLY's were delivered.
#[derive(Debug)]
struct Sent {
    /// Records per recipient of the organizer's cause (one cause).
    request: BTreeMap<String, usize>,
    /// The leader epochs the REQUEST deliveries and their completion were
    /// appended at.
    request_epochs: Vec<u64>,
    completion_epochs: Vec<u64>,
    /// Records of the REPLY's delivery (to Alice) and of its completion.
    replies: usize,
    reply_completions: usize,
}

/// Checks that each effect about `uid` went to one recipient once, as one
/// event: records with the same recipient and cause have one id and one
/// payload (a duplicate appended across a switch is the same event), and
/// each cause has one completion (possibly recorded twice, as one event).
fn sent(effects: &[Effect], uid: &str) -> Sent {
    let delivered: Vec<&Effect> = effects
        .iter()
        .filter(|e| e.kind == "SchedulingDelivered" && e.data["uid"] == uid)
        .collect();
    // (cause, recipient) → records.
    let mut by_target: BTreeMap<((u64, u64), String), Vec<&Effect>> = BTreeMap::new();
    for e in &delivered {
        by_target
            .entry((e.cause, e.key.clone()))
            .or_default()
            .push(e);
    }
    for ((cause, to), records) in &by_target {
        let ids: BTreeSet<&str> = records.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids.len(),
            1,
            "the cause {cause:?} delivered to {to} as different events: {records:#?}"
        );
        assert!(
            records.iter().all(|e| e.data == records[0].data),
            "the cause {cause:?} delivered to {to} with different payloads: {records:#?}"
        );
    }
    let causes = |from: &str| -> BTreeSet<(u64, u64)> {
        delivered
            .iter()
            .filter(|e| e.data["from"] == format!("mailto:{from}"))
            .map(|e| e.cause)
            .collect()
    };
    let (organizer, attendee) = (causes(ALICE), causes(BOB));
    assert_eq!(
        organizer.len(),
        1,
        "REQUESTs about {uid} from more than one cause: {delivered:#?}"
    );
    assert!(
        attendee.len() <= 1,
        "REPLYs from several causes: {delivered:#?}"
    );
    let completions = |cause: Option<&(u64, u64)>| -> Vec<&Effect> {
        let Some(cause) = cause else {
            return Vec::new();
        };
        let found: Vec<&Effect> = effects
            .iter()
            .filter(|e| e.kind == "SchedulingCompleted" && e.cause == *cause)
            .collect();
        let ids: BTreeSet<&str> = found.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids.len(), 1, "completions of {cause:?}: {found:#?}");
        assert!(
            found.iter().all(|e| e.data == found[0].data),
            "completions of {cause:?} with different statuses: {found:#?}"
        );
        found
    };
    let request_cause = organizer.first();
    let reply_cause = attendee.first();
    let for_cause = |cause: Option<&(u64, u64)>| {
        delivered
            .iter()
            .filter(|e| Some(&e.cause) == cause)
            .copied()
            .collect::<Vec<_>>()
    };
    let mut request = BTreeMap::new();
    for e in for_cause(request_cause) {
        *request.entry(e.key.clone()).or_insert(0) += 1;
    }
    let replies = for_cause(reply_cause);
    assert!(
        replies.iter().all(|e| e.key == ALICE),
        "a REPLY delivered to someone else than the organizer: {replies:#?}"
    );
    Sent {
        request_epochs: for_cause(request_cause).iter().map(|e| e.epoch).collect(),
        completion_epochs: completions(request_cause).iter().map(|e| e.epoch).collect(),
        request,
        replies: replies.len(),
        reply_completions: completions(reply_cause).len(),
    }
}

/// Nothing is appended for `quiet` while nobody writes: the process
/// managers have nothing left to send. Returns the number of records.
fn assert_idle(c: &Cluster, quiet: Duration) -> u64 {
    let before = log_records(c);
    std::thread::sleep(quiet);
    let after = log_records(c);
    assert_eq!(
        after,
        before,
        "{} record(s) appended while idle",
        after - before
    );
    after
}

/// Waits until both installations' views have the same digest.
fn assert_same_views(c: &Cluster) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (blue, green) = (c.blue.digest(), c.green.digest());
        if blue == green {
            return green;
        }
        assert!(
            Instant::now() < deadline,
            "the installations' views differ:\nblue: {blue}\ngreen: {green}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_switch_between_the_invitation_and_the_reply_delivers_each_message_once() {
    let started = Instant::now();
    // Both installations mail outside attendees through one relay.
    let sink = SmtpSink::start();
    let relay = sink.relay();
    let mut c = cluster_with("sched-switch", &["--smtp-relay", &relay]);
    let uid = "switch-1";

    // Alice invites Bob, Carol and Dave (outside) through the proxy, on
    // blue.
    let text = meeting(uid, ALICE, &[ALICE, BOB, CAROL, DAVE], 3, 10);
    let put = put_ics(
        &c.alice,
        &format!("{}{uid}.ics", calendar(ALICE)),
        &text,
        &[],
    );
    assert_status(&put, 201);
    for (who, dav) in [(BOB, &c.bob), (CAROL, &c.carol)] {
        eventually(dav, &format!("{}{uid}.ics", calendar(who)), who, |r| {
            r.status == 200
        });
    }
    // Switched once blue has also closed the record: a delivery whose
    // completion the switch cut off is the other test's.
    wait_until_completed(&c, uid);
    // And once the mail to Dave is recorded as sent (1.1): a switch
    // between the sending and its record may send it twice, with one
    // Message-ID (tests/it/imip.rs).
    eventually(
        &c.alice,
        &format!("{}{uid}.ics", calendar(ALICE)),
        "the mail to Dave recorded",
        |r| r.status == 200 && line_of(&r.body, "ATTENDEE", DAVE).contains("SCHEDULE-STATUS=1.1"),
    );
    let to_green = c.proxy.switch("green");
    assert_eq!(to_green["fenced_by"], "previous leader", "{to_green}");
    assert_eq!(c.green.cluster()["role"], "leader");

    // Bob answers, through the proxy, on green.
    bob_accepts(&c, uid);
    assert_one_copy_and_one_request(&c, uid);
    assert_one_reply(&c, uid);
    assert_eq!(members(&c.alice, &inbox(ALICE)).len(), 1);
    assert_eq!(members(&c.bob, &inbox(BOB)).len(), 1);

    // The log: two deliveries of the invitation, one of the reply, each
    // closed once; nothing more comes.
    let records = assert_idle(&c, Duration::from_secs(2));
    let log = effects(&c);
    let sent = sent(&log, uid);
    eprintln!("{sent:?}");
    assert_eq!(
        sent.request,
        BTreeMap::from([(BOB.to_string(), 1), (CAROL.to_string(), 1)]),
        "{log:#?}"
    );
    assert_eq!(sent.request_epochs, [0, 0], "{log:#?}");
    assert_eq!(sent.completion_epochs, [0], "{log:#?}");
    assert_eq!((sent.replies, sent.reply_completions), (1, 1), "{log:#?}");
    assert_eq!(log.len(), 5, "{log:#?}");
    let reply = log
        .iter()
        .find(|e| e.kind == "SchedulingDelivered" && e.key == ALICE)
        .unwrap();
    assert_eq!(reply.epoch, 1, "the reply is green's: {reply:?}");
    let digest = assert_same_views(&c);
    let to_dave = |mails: Vec<Value>| mails.into_iter().filter(|m| m["to"] == DAVE).count();
    assert_eq!(to_dave(sink.mails()), 1, "one mail to Dave");
    eprintln!(
        "invitation, switch, reply: {records} records, {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // A rebuild sends nothing: blue, its views rebuilt from the log,
    // follows, then leads, and appends no scheduling event.
    let rebuilding = Instant::now();
    c.blue.kill();
    let mut rebuild = c.blue.command();
    rebuild.arg("rebuild");
    let out = ok(rebuild, "");
    assert!(out.starts_with("rebuilt "), "{out}");
    c.blue.restart(&["--standby", "--smtp-relay", &relay]);
    assert_eq!(c.blue.cluster()["role"], "follower");
    assert_eq!(assert_idle(&c, Duration::from_secs(2)), records);
    assert_eq!(assert_same_views(&c), digest);
    eprintln!(
        "blue rebuilt and following in {:.1} s",
        rebuilding.elapsed().as_secs_f64()
    );
    let to_blue = c.proxy.switch("blue");
    assert_eq!(to_blue["epoch"], 2, "{to_blue}");
    assert_eq!(c.blue.cluster()["role"], "leader");
    assert_idle(&c, Duration::from_secs(2));
    let after = effects(&c);
    assert_eq!(after.len(), log.len(), "{after:#?}");
    assert_same_views(&c);
    assert_one_copy_and_one_request(&c, uid);
    assert_one_reply(&c, uid);
    assert_eq!(to_dave(sink.mails()), 1, "still one mail to Dave");
    eprintln!("total {:.1} s", started.elapsed().as_secs_f64());
}

#[test]
fn a_switch_racing_the_delivery_leaves_the_next_leader_to_finish_it_once() {
    let started = Instant::now();
    let c = cluster("sched-cut");
    let auth = basic_auth(ALICE, "alice-secret");
    let mut interleavings = Vec::new();
    // Each round, Alice's PUT is in flight on the leader when the switch
    // starts: the proxy hands over as soon as it is answered, racing the
    // leader's process manager, which the write has just woken.
    for (round, to) in ["green", "blue", "green", "blue"].into_iter().enumerate() {
        let uid = format!("cut-{round}");
        let text = meeting(&uid, ALICE, &[ALICE, BOB, CAROL], 3 + round as u32, 10);
        let path = format!("{}{uid}.ics", calendar(ALICE));
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "text/calendar; charset=utf-8"),
        ];
        let (put, report) = std::thread::scope(|s| {
            let mut switch = None;
            let put = send_in_two_parts(
                c.proxy.port,
                "PUT",
                &path,
                &headers,
                text.as_bytes(),
                || {
                    switch = Some(s.spawn(|| c.proxy.switch(to)));
                    // The switch holds new requests and waits for this one.
                    let deadline = Instant::now() + Duration::from_secs(30);
                    while c.proxy.status()["holding"] != true {
                        assert!(Instant::now() < deadline, "the switch never began");
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                },
            );
            (put, switch.unwrap().join().unwrap())
        });
        assert_status(&put, 201);
        assert!(
            report["drain_ms"].as_u64().unwrap() >= 50,
            "the PUT was not in flight when the switch began: {report}"
        );
        let leader = if to == "green" { &c.green } else { &c.blue };
        assert_eq!(leader.cluster()["role"], "leader");

        // The new leader finishes what the old one left.
        wait_until_completed(&c, &uid);
        assert_one_copy_and_one_request(&c, &uid);
        let log = effects(&c);
        let sent = sent(&log, &uid);
        assert_eq!(
            sent.request.keys().collect::<Vec<_>>(),
            [BOB, CAROL],
            "{log:#?}"
        );
        let epoch = report["epoch"].as_u64().unwrap();
        let by_old = sent.request_epochs.iter().filter(|&&e| e < epoch).count();
        let how = match (by_old, sent.completion_epochs.as_slice()) {
            (0, [e]) if *e == epoch => "the new leader delivered and completed",
            (2, [e]) if *e == epoch => {
                "the old leader delivered, the new one delivered again (applied once) and completed"
            }
            (2, [e]) if *e < epoch => "the old leader delivered and completed before the fence",
            _ => "unexpected",
        };
        eprintln!("round {round} (to {to}, epoch {epoch}): {how}: {sent:?}");
        assert_ne!(how, "unexpected", "{log:#?}");
        interleavings.push(how);
    }

    // Bob answers the last invitation; then nothing more is sent.
    let last = "cut-3";
    bob_accepts(&c, last);
    assert_one_reply(&c, last);
    assert_eq!(members(&c.alice, &inbox(ALICE)).len(), 1);
    assert_eq!(members(&c.bob, &inbox(BOB)).len(), 4);
    assert_eq!(members(&c.carol, &inbox(CAROL)).len(), 4);
    let records = assert_idle(&c, Duration::from_secs(2));
    let log = effects(&c);
    let sent = sent(&log, last);
    assert_eq!((sent.replies, sent.reply_completions), (1, 1), "{log:#?}");
    assert_same_views(&c);
    eprintln!(
        "4 switches racing the delivery ({interleavings:?}): {records} records, {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn the_standby_that_takes_over_delivers_what_a_dead_leader_wrote_and_never_sent() {
    let started = Instant::now();
    let mut c = cluster("sched-dead");
    let uid = "dead-1";
    // Blue acknowledges Alice's invitation and dies before its process
    // manager sends anything: the invitation is in the log, as blue's
    // (epoch 0) write, and nothing else is.
    c.blue.kill();
    let before = log_records(&c);
    let put = events::payload::CalendarObjectPut {
        calendar: "default".into(),
        href: format!("{uid}.ics"),
        uid: uid.into(),
        ical: meeting(uid, ALICE, &[ALICE, BOB, CAROL], 12, 10),
        ical_object: None,
        scheduling: Some(events::payload::SchedulingRole::Organizer {
            address: format!("mailto:{ALICE}"),
        }),
    };
    let event = crate::common::Events::starting_at(1 << 20)
        .make(ALICE, events::Payload::CalendarObjectPut(put));
    assert_eq!(event.leader_epoch, 0);
    append_directly(&c.prefix, &event);

    // Green follows: it applies the invitation and sends nothing.
    let on_green = |user: &str, password: &str| Dav::new(c.green.port, user, password);
    let (alice, bob) = (on_green(ALICE, "alice-secret"), on_green(BOB, "bob-secret"));
    let path = format!("{}{uid}.ics", calendar(ALICE));
    eventually(&alice, &path, "the invitation on green", |r| {
        r.status == 200
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_status(&bob.get(&format!("{}{uid}.ics", calendar(BOB))), 404);
    assert_eq!(log_records(&c), before + 1);

    // The switch: blue cannot hand over, green fences and leads, and
    // sends what blue left.
    let report = c.proxy.switch("green");
    assert_eq!(report["fenced_by"], "itself", "{report}");
    wait_until_completed(&c, uid);
    assert_one_copy_and_one_request(&c, uid);
    bob_accepts(&c, uid);
    assert_one_reply(&c, uid);
    assert_idle(&c, Duration::from_secs(2));
    let log = effects(&c);
    let sent = sent(&log, uid);
    assert_eq!(
        sent.request,
        BTreeMap::from([(BOB.to_string(), 1), (CAROL.to_string(), 1)]),
        "{log:#?}"
    );
    assert_eq!(sent.request_epochs, [1, 1], "{log:#?}");
    assert_eq!(sent.completion_epochs, [1], "{log:#?}");
    assert_eq!((sent.replies, sent.reply_completions), (1, 1), "{log:#?}");
    assert_eq!(log.len(), 5, "{log:#?}");

    // Blue comes back as a standby: it follows, sends nothing, and its
    // views equal green's.
    let records = log_records(&c);
    c.blue.restart(&["--standby"]);
    assert_eq!(c.blue.cluster()["role"], "follower");
    assert_eq!(assert_idle(&c, Duration::from_secs(2)), records);
    assert_same_views(&c);
    eprintln!(
        "a dead leader's invitation delivered by the next: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
