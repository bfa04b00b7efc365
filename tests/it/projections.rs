//! Projections against a real embedded log: determinism, resumable
//! rebuilds, conflicts decided by log order, quarantine, and the views.

use crate::common::*;
use events::payload::*;
use events::{AggregateVersion, Domain, EventLog, OutgoingRecord, Payload};
use projections::calendars::Calendars;
use projections::registry::{self, Views};
use projections::runner::{outcome_of, quarantine_of};
use projections::{BuildState, Outcome, ProjectionId, Rejection, ViewStore};
use reprise::ops::rebuild::{rebuild, Options, Unseen};
use std::collections::BTreeMap;
use std::sync::Arc;

fn opts(batch_size: usize, stop_after_batches: Option<u64>) -> Options {
    Options {
        batch_size,
        stop_after_batches,
        ..Options::default()
    }
}

fn digests(store: &ViewStore) -> BTreeMap<ProjectionId, String> {
    store
        .versions()
        .unwrap()
        .keys()
        .map(|id| (id.clone(), store.digest(id).unwrap()))
        .collect()
}

async fn build(log: Arc<dyn EventLog>, dir: &std::path::Path, batch_size: usize) -> ViewStore {
    let store = ViewStore::open(dir).unwrap();
    let done = rebuild(
        log,
        &store,
        &registry::current(),
        &opts(batch_size, None),
        &Unseen,
    )
    .await
    .unwrap();
    assert!(done.iter().all(|r| r.complete));
    store
}

#[tokio::test(flavor = "multi_thread")]
async fn two_rebuilds_of_one_log_give_identical_digests() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    append(log.as_ref(), &varied_log()).await;
    let a = build(log.clone(), &dir.path().join("a"), 2000).await;
    // Another batch size changes how events are grouped, not the result.
    let b = build(log.clone(), &dir.path().join("b"), 7).await;
    let (da, db) = (digests(&a), digests(&b));
    assert_eq!(da.len(), 5);
    assert_eq!(da, db);
    for id in da.keys() {
        assert_eq!(a.state(id).unwrap(), Some(BuildState::Ready));
        assert_eq!(a.live(&id.name).unwrap(), Some(id.version));
    }
    // The file areas, read through the registry's views.
    let files = Views::open(&a).unwrap().files;
    let paths = |folder: &str| -> Vec<String> {
        let children = files.children(ALICE, folder).unwrap();
        children.into_iter().map(|(path, _)| path).collect()
    };
    assert_eq!(paths(""), ["archive", "backup", "docs"]);
    assert_eq!(paths("archive"), ["archive/notes.txt"]);
    assert_eq!(paths("backup"), ["backup/readme.txt"]);
    assert_eq!(paths("docs"), ["docs/readme.txt"]);
    assert_eq!(
        files.content(ALICE, "backup/readme.txt").unwrap().unwrap(),
        projections::files::FileContent::Inline(ALICE.as_bytes().to_vec())
    );
    let archive = files.entry(ALICE, "archive").unwrap().unwrap();
    assert!(archive.is_folder());
    assert_eq!(archive.dead.len(), 1);
    assert_eq!(files.entry(ALICE, "missing/x.txt").unwrap(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_rebuild_resumes_to_the_uninterrupted_digest() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    append(log.as_ref(), &varied_log()).await;
    let reference = digests(&build(log.clone(), &dir.path().join("ref"), 13).await);
    for stop_after in [1, 4, 9] {
        let store = ViewStore::open(&dir.path().join(format!("cut{stop_after}"))).unwrap();
        let first = rebuild(
            log.clone(),
            &store,
            &registry::current(),
            &opts(13, Some(stop_after)),
            &Unseen,
        )
        .await
        .unwrap();
        assert!(first.iter().any(|r| !r.complete), "stopped early");
        for r in &first {
            assert_eq!(
                store.state(&r.id).unwrap(),
                Some(if r.complete {
                    BuildState::Ready
                } else {
                    BuildState::Building
                })
            );
        }
        // Resuming continues from the stored positions: never twice, never skipped.
        let second = rebuild(
            log.clone(),
            &store,
            &registry::current(),
            &opts(13, None),
            &Unseen,
        )
        .await
        .unwrap();
        // An interrupted build resumes: before and after the cut add up to
        // the log, none twice, none skipped. A finished one is built anew.
        for projection in registry::current() {
            let find = |list: &[reprise::ops::rebuild::Rebuilt]| {
                list.iter()
                    .find(|r| r.id.name == projection.name())
                    .cloned()
                    .unwrap()
            };
            let (before, after) = (find(&first), find(&second));
            let in_log = varied_log()
                .iter()
                .filter(|e| projection.domains().contains(&e.domain))
                .count() as u64;
            let resumed = if before.complete { 0 } else { before.events };
            assert_eq!(resumed + after.events, in_log, "{}", projection.name());
        }
        assert_eq!(
            digests(&store),
            reference,
            "after stopping at batch {stop_after}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn conflicts_are_decided_by_log_order_the_same_way_on_every_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    let mut ev = Events::default();
    let create = ev.make(ALICE, calendar_created("work"));
    // Two writers both saw "absent" and create the same href.
    let first = ev.expecting(
        ALICE,
        put("work", "a.ics", "uid-a", "First"),
        AggregateVersion::ABSENT,
    );
    let second = ev.expecting(
        ALICE,
        put("work", "a.ics", "uid-a", "Second"),
        AggregateVersion::ABSENT,
    );
    // Another href claims a UID that a.ics holds.
    let clash = ev.make(ALICE, put("work", "b.ics", "uid-a", "Clash"));
    let missing = ev.make(ALICE, put("nope", "c.ics", "uid-c", "No calendar"));
    let events = vec![
        create,
        first.clone(),
        second.clone(),
        clash.clone(),
        missing.clone(),
    ];
    let at = append(log.as_ref(), &events).await;

    for name in ["x", "y"] {
        let store = build(log.clone(), &dir.path().join(name), 2).await;
        let id = ProjectionId::new(Calendars::NAME, Calendars::VERSION);
        let outcome = |e: &events::EventEnvelope| {
            outcome_of(&store, &id, &e.event_id, at[&e.event_id]).unwrap()
        };
        let Outcome::Applied { version } = outcome(&first) else {
            panic!("first write applies")
        };
        assert_eq!(
            outcome(&second),
            Outcome::Rejected {
                rejection: Rejection::VersionConflict {
                    expected: AggregateVersion::ABSENT,
                    actual: version
                }
            }
        );
        assert_eq!(
            outcome(&clash),
            Outcome::Rejected {
                rejection: Rejection::UidConflict {
                    href: "a.ics".into()
                }
            }
        );
        assert!(matches!(
            outcome(&missing),
            Outcome::Rejected {
                rejection: Rejection::NotFound { .. }
            }
        ));
        let views = Views::open(&store).unwrap();
        let obj = views
            .calendars
            .object(ALICE, "work", "a.ics")
            .unwrap()
            .unwrap();
        assert!(obj.body.contains("SUMMARY:First"));
        assert_eq!(obj.etag(), format!("\"{version}\""));
        assert!(views
            .calendars
            .object(ALICE, "work", "b.ics")
            .unwrap()
            .is_none());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn undecodable_and_invalid_events_are_quarantined_and_the_view_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    let mut ev = Events::default();
    let create = ev.make(ALICE, calendar_created("default"));
    let mut bad_ical = ev.make(ALICE, put("default", "bad.ics", "bad", "x"));
    if let Payload::CalendarObjectPut(p) = &mut bad_ical.payload {
        p.ical =
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:bad\r\nEND:VCALENDAR\r\n".into();
    }
    let good = ev.make(ALICE, put("default", "good.ics", "good", "fine"));
    append(log.as_ref(), &[create]).await;
    log.append(
        Domain::Calendar,
        vec![OutgoingRecord {
            partition: None,
            key: ALICE.as_bytes().to_vec(),
            headers: vec![],
            value: b"\xffnot cbor".to_vec(),
            timestamp_ms: 0,
        }],
    )
    .await
    .unwrap();
    let at = append(log.as_ref(), &[bad_ical.clone(), good.clone()]).await;

    let store = build(log.clone(), &dir.path().join("v"), 100).await;
    let id = ProjectionId::new(Calendars::NAME, Calendars::VERSION);
    let quarantine = quarantine_of(&store, &id).unwrap();
    assert_eq!(quarantine.len(), 2);
    assert!(
        quarantine[0].reason.contains("undecodable"),
        "{}",
        quarantine[0].reason
    );
    assert!(
        quarantine[1].reason.contains("invalid iCalendar"),
        "{}",
        quarantine[1].reason
    );
    assert_eq!(
        quarantine[1].event_type.as_deref(),
        Some("CalendarObjectPut")
    );
    assert!(quarantine[0].offset < quarantine[1].offset);
    assert_eq!(store.quarantined(&id).unwrap(), 2);
    assert!(matches!(
        outcome_of(&store, &id, &bad_ical.event_id, at[&bad_ical.event_id]).unwrap(),
        Outcome::Quarantined { .. }
    ));
    assert!(matches!(
        outcome_of(&store, &id, &good.event_id, at[&good.event_id]).unwrap(),
        Outcome::Applied { .. }
    ));
    let views = Views::open(&store).unwrap();
    assert!(views
        .calendars
        .object(ALICE, "default", "bad.ics")
        .unwrap()
        .is_none());
    assert!(views
        .calendars
        .object(ALICE, "default", "good.ics")
        .unwrap()
        .is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_change_list_keeps_the_latest_change_per_href() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    let mut ev = Events::default();
    let events = vec![
        ev.make(ALICE, calendar_created("default")),
        ev.make(ALICE, put("default", "a.ics", "a", "A")),
        ev.make(ALICE, put("default", "b.ics", "b", "B")),
        ev.make(ALICE, put("default", "a.ics", "a", "A2")),
        ev.make(
            ALICE,
            Payload::CalendarObjectDeleted(CalendarObjectDeleted {
                calendar: "default".into(),
                href: "b.ics".into(),
                scheduling: None,
            }),
        ),
    ];
    append(log.as_ref(), &events).await;
    let store = build(log.clone(), &dir.path().join("v"), 100).await;
    let views = Views::open(&store).unwrap();
    let col = views
        .calendars
        .collection(ALICE, "default")
        .unwrap()
        .unwrap();
    let all = views
        .calendars
        .changes_since(ALICE, "default", col.created)
        .unwrap();
    let summary: Vec<(String, bool)> = all
        .iter()
        .map(|(_, c)| (c.href.clone(), c.deleted))
        .collect();
    assert_eq!(
        summary,
        vec![("a.ics".to_string(), false), ("b.ics".to_string(), true)]
    );
    assert_eq!(
        all.last().unwrap().0,
        col.ctag,
        "the ctag is the newest change"
    );
    assert!(views
        .calendars
        .changes_since(ALICE, "default", col.ctag)
        .unwrap()
        .is_empty());
    let objects = views.calendars.objects(ALICE, "default").unwrap();
    assert_eq!(objects.len(), 1);
    assert_eq!(
        views
            .calendars
            .href_of_uid(ALICE, "default", "a")
            .unwrap()
            .as_deref(),
        Some("a.ics")
    );
    assert_eq!(
        views.calendars.href_of_uid(ALICE, "default", "b").unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn seen_flags_keep_a_bitmap_a_modseq_and_changes() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    let mut ev = Events::default();
    let mailbox = "Archives/2026/Entwürfe";
    let add = ev.make(
        ALICE,
        Payload::SeenAdded(SeenAdded {
            mailbox: mailbox.into(),
            uids: "1:5,9,4294967290:4294967295".parse().unwrap(),
        }),
    );
    let remove = ev.make(
        ALICE,
        Payload::SeenRemoved(SeenRemoved {
            mailbox: mailbox.into(),
            uids: "3".parse().unwrap(),
        }),
    );
    let stale = ev.expecting(
        ALICE,
        Payload::SeenAdded(SeenAdded {
            mailbox: mailbox.into(),
            uids: "7".parse().unwrap(),
        }),
        AggregateVersion(1),
    );
    let at = append(log.as_ref(), &[add, remove, stale.clone()]).await;
    let store = build(log.clone(), &dir.path().join("v"), 100).await;
    let views = Views::open(&store).unwrap();
    let (bitmap, modseq) = views.seen.mailbox(ALICE, mailbox).unwrap();
    assert_eq!(
        bitmap.iter().take(5).collect::<Vec<_>>(),
        vec![1, 2, 4, 5, 9]
    );
    assert_eq!(bitmap.len(), 5 + 6);
    assert_eq!(modseq, AggregateVersion(2));
    let changes = views
        .seen
        .changes_since(ALICE, mailbox, AggregateVersion(1))
        .unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        views.seen.mailboxes(ALICE).unwrap(),
        vec![mailbox.to_string()]
    );
    let id = ProjectionId::new("seen", projections::seen::Seen::VERSION);
    assert!(matches!(
        outcome_of(&store, &id, &stale.event_id, at[&stale.event_id]).unwrap(),
        Outcome::Rejected {
            rejection: Rejection::VersionConflict { .. }
        }
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_directory_refuses_cycles_unknown_members_and_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    let mut events = varied_log();
    let mut ev = Events::starting_at(1_000_000);
    let d = "example.com";
    let group = |g: &str| {
        Payload::GroupCreated(GroupCreated {
            group: g.into(),
            display_name: None,
            email: None,
        })
    };
    let add = |g: &str, m: Member| {
        Payload::MemberAdded(MemberAdded {
            group: g.into(),
            member: m,
        })
    };
    let tail = vec![
        ev.make(d, group("all")),
        ev.make(d, add("all", Member::Group("staff".into()))),
        ev.make(d, add("staff", Member::Group("all".into()))), // cycle
        ev.make(d, add("staff", Member::Group("staff".into()))), // itself
        ev.make(d, add("staff", Member::User("nobody".into()))), // unknown
        ev.make(
            d,
            Payload::UserCreated(UserCreated {
                login: "dave".into(),
                email: "ALICE@example.com".into(),
                display_name: None,
                password_hash: "$argon2id$x".into(),
                admin: false,
                phone: None,
            }),
        ), // email taken
        ev.make(
            d,
            Payload::UserDeleted(UserDeleted {
                login: "bob".into(),
            }),
        ),
    ];
    events.extend(tail.clone());
    let at = append(log.as_ref(), &events).await;
    let store = build(log.clone(), &dir.path().join("v"), 100).await;
    let id = ProjectionId::new("directory", projections::directory::Directory::VERSION);
    let outcome =
        |e: &events::EventEnvelope| outcome_of(&store, &id, &e.event_id, at[&e.event_id]).unwrap();
    assert!(matches!(outcome(&tail[1]), Outcome::Applied { .. }));
    for (i, e) in tail.iter().enumerate().skip(2).take(2) {
        assert!(
            matches!(
                outcome(e),
                Outcome::Rejected {
                    rejection: Rejection::NotAllowed { .. }
                }
            ),
            "event {i}"
        );
    }
    assert!(matches!(
        outcome(&tail[4]),
        Outcome::Rejected {
            rejection: Rejection::NotFound { .. }
        }
    ));
    assert!(matches!(
        outcome(&tail[5]),
        Outcome::Rejected {
            rejection: Rejection::AlreadyExists { .. }
        }
    ));
    let views = Views::open(&store).unwrap();
    assert_eq!(
        views.directory.members(d, "staff").unwrap(),
        vec![],
        "bob's membership went with him"
    );
    assert_eq!(
        views
            .directory
            .groups_of(d, &Member::Group("staff".into()))
            .unwrap(),
        vec!["all".to_string()]
    );
    assert!(views
        .directory
        .find_user("bob@example.com")
        .unwrap()
        .is_none());
    assert_eq!(
        views
            .directory
            .find_user("alice")
            .unwrap()
            .unwrap()
            .principal(),
        ALICE
    );
    assert_eq!(
        views
            .directory
            .find_user("ALICE@EXAMPLE.COM")
            .unwrap()
            .unwrap()
            .login,
        "alice"
    );
}

/// A test projection with two versions that count seen-flag events
/// differently: per user (v1) and per mailbox (v2).
struct SeenCounter {
    version: u32,
}

impl projections::Projection for SeenCounter {
    fn name(&self) -> &'static str {
        "seen-counter"
    }
    fn version(&self) -> u32 {
        self.version
    }
    fn domains(&self) -> &'static [Domain] {
        &[Domain::Seen]
    }
    fn apply(
        &self,
        event: &projections::Applied<'_>,
        view: &mut projections::view::ViewTxn<'_>,
    ) -> Result<Outcome, projections::projection::ApplyError> {
        let mut key = event.event.partition_key.clone().into_bytes();
        if self.version == 2 {
            if let Payload::SeenAdded(SeenAdded { mailbox, .. }) = &event.event.payload {
                key.push(0);
                key.extend_from_slice(mailbox.as_bytes());
            }
        }
        let count: u64 = view.get_as(&key)?.unwrap_or(0);
        view.put_as(key, &(count + 1));
        Ok(Outcome::default_for(event.position))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_versions_of_a_projection_live_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    append(log.as_ref(), &varied_log()).await;
    let store = ViewStore::open(&dir.path().join("views")).unwrap();
    let v1: Arc<dyn projections::Projection> = Arc::new(SeenCounter { version: 1 });
    let v2: Arc<dyn projections::Projection> = Arc::new(SeenCounter { version: 2 });
    rebuild(
        log.clone(),
        &store,
        std::slice::from_ref(&v1),
        &opts(50, None),
        &Unseen,
    )
    .await
    .unwrap();
    let (id1, id2) = (
        ProjectionId::new("seen-counter", 1),
        ProjectionId::new("seen-counter", 2),
    );
    let digest_v1 = store.digest(&id1).unwrap();
    assert_eq!(store.live("seen-counter").unwrap(), Some(1));

    // The new version builds beside the old one, from offset 0.
    rebuild(log.clone(), &store, &[v2], &opts(50, None), &Unseen)
        .await
        .unwrap();
    let versions = store.versions().unwrap();
    assert_eq!(versions.get(&id1), Some(&BuildState::Ready));
    assert_eq!(versions.get(&id2), Some(&BuildState::Ready));
    assert_eq!(
        store.live("seen-counter").unwrap(),
        Some(2),
        "the newer ready version goes live"
    );
    assert_eq!(
        store.digest(&id1).unwrap(),
        digest_v1,
        "the old version is untouched"
    );
    assert_ne!(
        store.digest(&id2).unwrap(),
        digest_v1,
        "each version owns its own data"
    );
    assert_eq!(
        store.positions(&id1).unwrap(),
        store.positions(&id2).unwrap()
    );

    // Rebuilding the old version later does not take the live pointer back.
    rebuild(log.clone(), &store, &[v1], &opts(50, None), &Unseen)
        .await
        .unwrap();
    assert_eq!(store.live("seen-counter").unwrap(), Some(2));
    assert_eq!(store.digest(&id1).unwrap(), digest_v1);

    // Dropping the old version leaves the new one as it was.
    let digest_v2 = store.digest(&id2).unwrap();
    store.drop_version(&id1).unwrap();
    assert_eq!(store.versions().unwrap().len(), 1);
    assert_eq!(store.digest(&id2).unwrap(), digest_v2);
}

/// A varied calendar object: timed, all-day, floating, recurring with
/// overrides, to-dos and journals, from a small deterministic generator.
fn generated_object(uid: &str, rng: &mut u64) -> String {
    let mut next = |n: u64| {
        *rng = rng
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (*rng >> 33) % n
    };
    let day = format!("2026{:02}{:02}", 1 + next(12), 1 + next(28));
    let zone = [
        "TZID=Europe/Paris:",
        "TZID=America/New_York:",
        ":",
        "TZID=Romance Standard Time:",
    ][next(4) as usize];
    let start = format!("{day}T{:02}{:02}00", next(24), 15 * next(4));
    let body = match next(9) {
        0 => format!("BEGIN:VEVENT\nUID:{uid}\nDTSTART;VALUE=DATE:{day}\nEND:VEVENT"),
        1 => format!("BEGIN:VTODO\nUID:{uid}\nDUE;{zone}{start}\nEND:VTODO"),
        2 => format!("BEGIN:VTODO\nUID:{uid}\nDTSTART;{zone}{start}\nDURATION:P2D\nEND:VTODO"),
        3 => format!("BEGIN:VTODO\nUID:{uid}\nCOMPLETED:{day}T120000Z\nEND:VTODO"),
        4 => format!("BEGIN:VJOURNAL\nUID:{uid}\nDTSTART;VALUE=DATE:{day}\nEND:VJOURNAL"),
        5 | 6 => {
            let rule = ["FREQ=WEEKLY", "FREQ=MONTHLY;BYDAY=2TU", "FREQ=DAILY;COUNT=5", "FREQ=YEARLY", "FREQ=WEEKLY;INTERVAL=3;UNTIL=20270101T000000Z"]
                [next(5) as usize];
            let mut text = format!(
                "BEGIN:VEVENT\nUID:{uid}\nDTSTART;{zone}{start}\nDURATION:PT1H\nRRULE:{rule}\nEXDATE;{zone}{start}\nEND:VEVENT"
            );
            if next(2) == 0 {
                text += &format!(
                    "\nBEGIN:VEVENT\nUID:{uid}\nRECURRENCE-ID;{zone}{start}\nDTSTART:2027{:02}03T100000Z\nDURATION:PT1H\nEND:VEVENT",
                    1 + next(12)
                );
            }
            text
        }
        _ => format!(
            "BEGIN:VEVENT\nUID:{uid}\nDTSTART;{zone}{start}\nDTEND;{zone}{day}T235900\nEND:VEVENT"
        ),
    }
    .replace(";:", ":");
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{}\r\nEND:VCALENDAR\r\n",
        body.replace('\n', "\r\n")
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn calendars_v1_and_v2_answer_time_range_queries_identically() {
    use formats::calfilter::{CompFilter, Matcher};
    use formats::ical::time::{Limits, TimeRange};
    use projections::calendars::CalendarsView;

    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    let mut ev = Events::default();
    let mut events = vec![
        ev.make(ALICE, calendar_created("work")),
        ev.make(ALICE, calendar_created("home")),
    ];
    let mut rng = 7u64;
    let mut bodies = Vec::new();
    for name in std::fs::read_dir("fixtures/ical").unwrap() {
        let path = name.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if let Ok(object) = formats::ical::validate_calendar_object(&text) {
            bodies.push((object.uid, text));
        }
    }
    for i in 0..200 {
        let uid = format!("gen-{i}");
        bodies.push((uid.clone(), generated_object(&uid, &mut rng)));
    }
    for (i, (uid, ical)) in bodies.iter().enumerate() {
        events.push(ev.make(
            ALICE,
            put_ical("work", &format!("{i}.ics"), uid, ical.clone()),
        ));
    }
    // Overwrites with other times, deletions and moves must leave no
    // stale index entry behind.
    for i in (0..bodies.len()).step_by(7) {
        let uid = format!("over-{i}");
        let ical = generated_object(&uid, &mut rng);
        events.push(ev.make(ALICE, put_ical("work", &format!("{i}.ics"), &uid, ical)));
    }
    for i in (3..bodies.len()).step_by(11) {
        events.push(ev.make(
            ALICE,
            Payload::CalendarObjectDeleted(CalendarObjectDeleted {
                calendar: "work".into(),
                href: format!("{i}.ics"),
                scheduling: None,
            }),
        ));
    }
    for i in (5..bodies.len()).step_by(13) {
        events.push(ev.make(
            ALICE,
            Payload::CalendarObjectMoved(CalendarObjectMoved {
                calendar: "work".into(),
                href: format!("{i}.ics"),
                to_calendar: "home".into(),
                to_href: format!("moved-{i}.ics"),
                overwrite: false,
            }),
        ));
    }
    append(log.as_ref(), &events).await;
    let store = ViewStore::open(&dir.path().join("views")).unwrap();
    let both: Vec<Arc<dyn projections::Projection>> =
        vec![Arc::new(Calendars::V1), Arc::new(Calendars::V2)];
    let done = rebuild(log, &store, &both, &opts(64, None), &Unseen)
        .await
        .unwrap();
    assert!(done.iter().all(|r| r.complete));
    let (v1, v2) = (
        CalendarsView::open(&store, 1).unwrap(),
        CalendarsView::open(&store, 2).unwrap(),
    );
    assert_eq!(v1.candidates(ALICE, "work", "VEVENT", None).unwrap(), None);

    let at = |day: i64, hour: i64| {
        chrono::DateTime::parse_from_rfc3339("2025-12-01T00:00:00Z")
            .unwrap()
            .to_utc()
            + chrono::Duration::days(day)
            + chrono::Duration::hours(hour)
    };
    let mut ranges = vec![
        TimeRange {
            start: None,
            end: None,
        },
        TimeRange {
            start: Some(at(400, 0)),
            end: None,
        },
        TimeRange {
            start: None,
            end: Some(at(60, 0)),
        },
    ];
    for k in 0..24 {
        let start = at((k * 37) % 500, (k * 5) % 24);
        let length = [1, 6, 24, 24 * 7, 24 * 31, 24 * 90][k as usize % 6];
        ranges.push(TimeRange {
            start: Some(start),
            end: Some(start + chrono::Duration::hours(length)),
        });
    }
    let (mut tested_v1, mut tested_v2) = (0, 0);
    for calendar in ["work", "home"] {
        let all: Vec<_> = v1
            .objects(ALICE, calendar)
            .unwrap()
            .into_iter()
            .map(|(href, o)| {
                (
                    href,
                    o.version,
                    formats::ical::tree::parse_tree(&o.body).unwrap(),
                )
            })
            .collect();
        for component in ["VEVENT", "VTODO", "VJOURNAL"] {
            for (i, range) in ranges.iter().enumerate() {
                let floating = [None, Some("Pacific/Auckland"), Some("America/Los_Angeles")][i % 3];
                let filter = CompFilter {
                    name: "VCALENDAR".into(),
                    is_not_defined: false,
                    time_range: None,
                    prop_filters: vec![],
                    comp_filters: vec![CompFilter {
                        name: component.into(),
                        is_not_defined: false,
                        time_range: Some(*range),
                        prop_filters: vec![],
                        comp_filters: vec![],
                    }],
                };
                let matcher = Matcher {
                    filter: &filter,
                    limits: Limits::default(),
                };
                let matches = |tree| matcher.matches(tree, floating).unwrap_or(false);
                tested_v1 += all.len();
                let expected: Vec<&str> = all
                    .iter()
                    .filter(|(_, _, tree)| matches(tree))
                    .map(|(href, _, _)| href.as_str())
                    .collect();
                let hrefs = v2
                    .candidates(ALICE, calendar, component, Some(range))
                    .unwrap()
                    .expect("v2 keeps a time index");
                tested_v2 += hrefs.len();
                let mut found = Vec::new();
                for href in &hrefs {
                    let (_, version, tree) = all
                        .iter()
                        .find(|(h, _, _)| h == href)
                        .unwrap_or_else(|| panic!("{href} is a candidate but no object"));
                    assert_eq!(
                        v2.object_meta(ALICE, calendar, href)
                            .unwrap()
                            .map(|m| m.version),
                        Some(*version)
                    );
                    if matches(tree) {
                        found.push(href.as_str());
                    }
                }
                assert_eq!(
                    found, expected,
                    "{calendar} {component} {range:?} floating in {floating:?}"
                );
            }
        }
    }
    // The index must actually narrow what is read: most queries here are
    // short windows, or ask for components the calendar barely holds.
    assert!(
        tested_v2 * 4 < tested_v1,
        "v2 tested {tested_v2} objects, v1 {tested_v1}"
    );
    // Both versions hold the same objects.
    for calendar in ["work", "home"] {
        assert_eq!(
            v1.objects(ALICE, calendar).unwrap(),
            v2.objects(ALICE, calendar).unwrap()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn shares_are_granted_changed_revoked_and_bound_writes_are_checked_in_log_order() {
    const BOB: &str = "bob@example.com";
    const CAROL: &str = "carol@example.com";
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    let mut ev = Events::default();
    let shared = |sharee: Sharee, access: Access| {
        Payload::CalendarShared(CalendarShared {
            calendar: "work".into(),
            sharee,
            sharee_since: AggregateVersion(7),
            access,
        })
    };
    let by = |ev: &mut Events, actor: &str, payload: Payload| {
        let mut e = ev.make(ALICE, payload);
        e.actor = actor.into();
        e
    };
    let bob = Sharee::User(BOB.into());
    let team = Sharee::Group("team@example.com".into());
    let mut events = vec![
        ev.make(ALICE, calendar_created("work")),
        ev.make(ALICE, shared(bob.clone(), Access::Read)),
    ];
    // Bob may read only: his write is refused where the log puts it.
    let refused = by(&mut ev, BOB, put("work", "b1.ics", "b1", "By Bob"));
    events.push(refused.clone());
    events.push(ev.make(ALICE, shared(bob.clone(), Access::ReadWrite)));
    let allowed = by(&mut ev, BOB, put("work", "b2.ics", "b2", "By Bob"));
    events.push(allowed.clone());
    // Carol has no grant of her own, but a read-write group grant lets
    // the projection through (membership is checked when serving).
    let carol_before = by(&mut ev, CAROL, put("work", "c1.ics", "c1", "By Carol"));
    events.push(carol_before.clone());
    events.push(ev.make(ALICE, shared(team.clone(), Access::ReadWrite)));
    let carol_after = by(&mut ev, CAROL, put("work", "c2.ics", "c2", "By Carol"));
    events.push(carol_after.clone());
    // A sharee may not change the calendar itself, nor share it on.
    let rename = by(
        &mut ev,
        BOB,
        Payload::CalendarUpdated(CalendarUpdated {
            calendar: "work".into(),
            display_name: Some(Some("Mine".into())),
            ..CalendarUpdated::default()
        }),
    );
    events.push(rename.clone());
    let reshare = by(
        &mut ev,
        BOB,
        shared(Sharee::User(CAROL.into()), Access::Read),
    );
    events.push(reshare.clone());
    let to_self = ev.make(ALICE, shared(Sharee::User(ALICE.into()), Access::Read));
    events.push(to_self.clone());
    // Bob leaves the share himself.
    let leave = by(
        &mut ev,
        BOB,
        Payload::CalendarUnshared(CalendarUnshared {
            calendar: "work".into(),
            sharee: bob.clone(),
        }),
    );
    events.push(leave.clone());
    // Without a grant of his own, only the group grant can let him in.
    let after_leaving = by(&mut ev, BOB, put("work", "b3.ics", "b3", "By Bob"));
    events.push(after_leaving.clone());
    events.push(ev.make(
        ALICE,
        Payload::CalendarUnshared(CalendarUnshared {
            calendar: "work".into(),
            sharee: team.clone(),
        }),
    ));
    let after_revoke = by(&mut ev, CAROL, put("work", "c3.ics", "c3", "By Carol"));
    events.push(after_revoke.clone());
    events.push(ev.make(ALICE, shared(team.clone(), Access::ReadWrite)));
    let at = append(log.as_ref(), &events).await;

    let store = build(log.clone(), &dir.path().join("v"), 3).await;
    let id = ProjectionId::new(Calendars::NAME, Calendars::VERSION);
    let outcome =
        |e: &events::EventEnvelope| outcome_of(&store, &id, &e.event_id, at[&e.event_id]).unwrap();
    let not_allowed = |o: Outcome| {
        matches!(
            o,
            Outcome::Rejected {
                rejection: Rejection::NotAllowed { .. }
            }
        )
    };
    assert!(not_allowed(outcome(&refused)));
    assert!(matches!(outcome(&allowed), Outcome::Applied { .. }));
    assert!(not_allowed(outcome(&carol_before)));
    assert!(matches!(outcome(&carol_after), Outcome::Applied { .. }));
    assert!(not_allowed(outcome(&rename)));
    assert!(not_allowed(outcome(&reshare)));
    assert!(not_allowed(outcome(&to_self)));
    assert!(matches!(outcome(&leave), Outcome::Applied { .. }));
    assert!(matches!(outcome(&after_leaving), Outcome::Applied { .. }));
    assert!(not_allowed(outcome(&after_revoke)));

    let views = Views::open(&store).unwrap();
    let grants = views.calendars.grants(ALICE, "work").unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].0, team);
    assert_eq!(grants[0].1.access, Access::ReadWrite);
    assert_eq!(grants[0].1.sharee_since, AggregateVersion(7));
    assert!(views.calendars.shared_with(&bob).unwrap().is_empty());
    let with_team = views.calendars.shared_with(&team).unwrap();
    assert_eq!(
        (
            with_team[0].owner.as_str(),
            with_team[0].collection.as_str()
        ),
        (ALICE, "work")
    );
    let hrefs: Vec<String> = views
        .calendars
        .members(ALICE, "work")
        .unwrap()
        .into_iter()
        .map(|(href, _)| href)
        .collect();
    assert_eq!(hrefs, ["b2.ics", "b3.ics", "c2.ics"]);

    // Deleting the calendar drops its grants on both sides.
    append(
        log.as_ref(),
        &[ev.make(
            ALICE,
            Payload::CalendarDeleted(CalendarDeleted {
                calendar: "work".into(),
            }),
        )],
    )
    .await;
    let store = build(log.clone(), &dir.path().join("w"), 5).await;
    let views = Views::open(&store).unwrap();
    assert!(views.calendars.grants(ALICE, "work").unwrap().is_empty());
    assert!(views.calendars.shared_with(&team).unwrap().is_empty());
}

fn directory_event(ev: &mut Events, payload: Payload) -> events::EventEnvelope {
    ev.make("example.com", payload)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_global_address_book_follows_the_directory_and_rebuilds_identically() {
    use projections::directory::gal;
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    let mut events = varied_log();
    let mut ev = Events::starting_at(2_000_000);
    let tail = vec![
        directory_event(
            &mut ev,
            Payload::UserUpdated(UserUpdated {
                login: "carol".into(),
                phone: Some(Some("+49 30 1234".into())),
                ..UserUpdated::default()
            }),
        ),
        directory_event(
            &mut ev,
            Payload::ResourceCreated(ResourceCreated {
                resource: "beamer".into(),
                kind: ResourceKind::Equipment,
                display_name: Some("Beamer".into()),
                email: None,
                capacity: None,
                location: Some("Reception".into()),
            }),
        ),
        // Not on any card: must leave every ETag and the ctag.
        directory_event(
            &mut ev,
            Payload::UserUpdated(UserUpdated {
                login: "alice".into(),
                password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3".into()),
                ..UserUpdated::default()
            }),
        ),
    ];
    events.extend(tail.clone());
    let at = append(log.as_ref(), &events).await;
    let password_change = AggregateVersion::after_offset(at[&tail[2].event_id].offset);

    let a = build(log.clone(), &dir.path().join("a"), 2000).await;
    let b = build(log.clone(), &dir.path().join("b"), 3).await;
    let id = ProjectionId::new(
        projections::directory::Directory::NAME,
        projections::directory::Directory::VERSION,
    );
    assert_eq!(a.digest(&id).unwrap(), b.digest(&id).unwrap());

    let book = Views::open(&a).unwrap().directory.address_book();
    let d = "example.com";
    let collection = book.collection(d, gal::COLLECTION).unwrap().unwrap();
    assert!(
        collection.ctag < password_change,
        "a password change moved the ctag"
    );
    let members = book.members(d, gal::COLLECTION).unwrap();
    let hrefs: Vec<&str> = members.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(
        hrefs,
        [
            "group-staff.vcf",
            "resource-beamer.vcf",
            "user-alice.vcf",
            "user-bob.vcf",
            "user-carol.vcf"
        ]
    );
    for (href, meta) in &members {
        assert!(meta.version < password_change, "{href} was rewritten");
        let object = book.object(d, gal::COLLECTION, href).unwrap().unwrap();
        assert_eq!(object.etag(), meta.etag());
        let card = formats::vcard::validate_card(&object.body).unwrap();
        assert_eq!(card.uid.as_deref(), Some(meta.uid.as_str()));
    }
    let carol = book
        .object(d, gal::COLLECTION, "user-carol.vcf")
        .unwrap()
        .unwrap();
    assert!(
        carol.body.contains("TEL;TYPE=work:+49 30 1234\r\n"),
        "{}",
        carol.body
    );
    let staff = book
        .object(d, gal::COLLECTION, "group-staff.vcf")
        .unwrap()
        .unwrap();
    let bob = book
        .object(d, gal::COLLECTION, "user-bob.vcf")
        .unwrap()
        .unwrap();
    assert!(staff.body.contains(&format!("MEMBER:{}\r\n", bob.uid)));
    let beamer = book
        .object(d, gal::COLLECTION, "resource-beamer.vcf")
        .unwrap()
        .unwrap();
    assert!(beamer.body.contains("KIND:device\r\n"));
    // The same cards, byte for byte, on the other build.
    let other = Views::open(&b).unwrap().directory.address_book();
    assert_eq!(
        other.objects(d, gal::COLLECTION).unwrap(),
        book.objects(d, gal::COLLECTION).unwrap()
    );
    let changes = book
        .changes_since(d, gal::COLLECTION, AggregateVersion::ABSENT)
        .unwrap();
    assert_eq!(changes.len(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_principal_loses_every_collection_and_index_entry() {
    const BOB: &str = "bob@example.com";
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    let mut ev = Events::default();
    let mut events = Vec::new();
    for owner in [ALICE, BOB] {
        for cal in ["default", "work"] {
            events.push(ev.make(owner, calendar_created(cal)));
            for i in 0..3 {
                let uid = format!("{owner}-{cal}-{i}");
                events.push(ev.make(owner, put(cal, &format!("{i}.ics"), &uid, "Standup")));
            }
        }
        events.push(ev.make(
            owner,
            Payload::AddressBookCreated(AddressBookCreated {
                address_book: "default".into(),
                props: AddressBookProps::default(),
            }),
        ));
        events.push(ev.make(
            owner,
            Payload::ContactPut(ContactPut {
                address_book: "default".into(),
                href: "c.vcf".into(),
                uid: "c".into(),
                vcard: vcard("c", "Someone"),
                vcard_object: None,
            }),
        ));
    }
    for domain in [Domain::Calendar, Domain::Contact] {
        events.push(ev.make(
            ALICE,
            Payload::PrincipalDataDeleted(PrincipalDataDeleted { domain }),
        ));
    }
    // What comes after starts from nothing.
    events.push(ev.make(ALICE, calendar_created("default")));
    let at = append(log.as_ref(), &events).await;
    let store = build(log.clone(), &dir.path().join("v"), 5).await;
    for e in events
        .iter()
        .filter(|e| matches!(e.payload, Payload::PrincipalDataDeleted(_)))
    {
        let id = match e.domain {
            Domain::Calendar => ProjectionId::new(Calendars::NAME, Calendars::VERSION),
            _ => ProjectionId::new("contacts", 1),
        };
        assert!(matches!(
            outcome_of(&store, &id, &e.event_id, at[&e.event_id]).unwrap(),
            Outcome::Applied { .. }
        ));
    }
    let views = Views::open(&store).unwrap();
    let alice_cals = views.calendars.collections(ALICE).unwrap();
    assert_eq!(alice_cals.len(), 1);
    assert!(views
        .calendars
        .objects(ALICE, "default")
        .unwrap()
        .is_empty());
    assert!(views
        .calendars
        .changes_since(ALICE, "default", AggregateVersion::ABSENT)
        .unwrap()
        .is_empty());
    assert_eq!(
        views
            .calendars
            .candidates(ALICE, "default", "VEVENT", None)
            .unwrap(),
        Some(vec![])
    );
    assert!(views.contacts.collections(ALICE).unwrap().is_empty());
    assert_eq!(views.calendars.collections(BOB).unwrap().len(), 2);
    assert_eq!(views.calendars.objects(BOB, "work").unwrap().len(), 3);
    assert_eq!(views.contacts.objects(BOB, "default").unwrap().len(), 1);
    // No key of alice's old data is left in either view (outcomes aside).
    for id in [
        ProjectionId::new(Calendars::NAME, Calendars::VERSION),
        ProjectionId::new("contacts", 1),
    ] {
        let left: Vec<String> = store
            .entries(&id)
            .unwrap()
            .map(|e| String::from_utf8_lossy(&e.unwrap().0).into_owned())
            .filter(|k| k.contains(ALICE) && !k.starts_with("out\0"))
            .filter(|k| !k.starts_with(&format!("col\0{ALICE}\0default")))
            .collect();
        assert!(left.is_empty(), "{id}: {left:?}");
    }
}

/// A fence in every partition ends the epochs before it there: an event
/// of an older epoch after it is rejected (and changes nothing), one of
/// the fence's epoch applies, a late fence of a lower epoch or of another
/// leader at the same epoch is rejected, a repeated fence is harmless;
/// every rebuild decides the same.
#[tokio::test(flavor = "multi_thread")]
async fn events_of_an_epoch_a_fence_ended_are_rejected_the_same_way_on_every_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    let mut ev = Events::default();
    let before = vec![
        ev.make(ALICE, calendar_created("default")),
        ev.make(ALICE, put("default", "before.ics", "before", "Epoch 0")),
    ];
    append(log.as_ref(), &before).await;
    let fence = |epoch, leader| events::fence::records(Domain::Calendar, 4, epoch, leader, "test");
    log.append(Domain::Calendar, fence(1, "green"))
        .await
        .unwrap();
    let stale = ev.make(ALICE, put("default", "stale.ics", "stale", "Epoch 0"));
    let mut current = ev.make(ALICE, put("default", "current.ics", "current", "Epoch 1"));
    current.leader_epoch = 1;
    let at = append(log.as_ref(), &[stale.clone(), current.clone()]).await;
    let late = log
        .append(Domain::Calendar, fence(1, "blue"))
        .await
        .unwrap();
    let repeated = log
        .append(Domain::Calendar, fence(1, "green"))
        .await
        .unwrap();
    let lower = log
        .append(Domain::Calendar, fence(0, "blue"))
        .await
        .unwrap();

    let store = build(log.clone(), &dir.path().join("a"), 3).await;
    let id = ProjectionId::new(Calendars::NAME, Calendars::VERSION);
    assert_eq!(
        outcome_of(&store, &id, &stale.event_id, at[&stale.event_id]).unwrap(),
        Outcome::Rejected {
            rejection: Rejection::Fenced {
                writer_epoch: 0,
                fence_epoch: 1
            }
        }
    );
    assert!(matches!(
        outcome_of(&store, &id, &current.event_id, at[&current.event_id]).unwrap(),
        Outcome::Applied { .. }
    ));
    let views = Views::open(&store).unwrap();
    let object = |href| views.calendars.object(ALICE, "default", href).unwrap();
    assert!(object("before.ics").is_some());
    assert!(object("stale.ics").is_none());
    assert!(object("current.ics").is_some());
    let fences = projections::runner::fences_of(&store, &id).unwrap();
    assert_eq!(fences.len(), 4);
    assert!(fences.values().all(|f| f.epoch == 1 && f.leader == "green"));
    let recorded = projections::runner::recorded_outcomes(&store, &id).unwrap();
    let fenced = recorded
        .iter()
        .filter(|o| {
            matches!(
                o,
                Outcome::Rejected {
                    rejection: Rejection::Fenced { .. }
                }
            )
        })
        .count();
    // The stale event, the 4 late fences and the 4 lower ones; the
    // repeated fences are applied.
    assert_eq!(fenced, 1 + late.len() + lower.len(), "{recorded:?}");
    assert_eq!(repeated.len(), 4);

    let again = build(log, &dir.path().join("b"), 1).await;
    assert_eq!(digests(&store), digests(&again));
}
