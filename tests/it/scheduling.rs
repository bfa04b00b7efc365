//! Server-side scheduling (RFC 6638) against a running `reprise serve`:
//! an organizer's PUT becomes the attendee's copy and inbox item, the
//! attendee's answer comes back to the organizer's copy, a delete
//! cancels, rooms answer by themselves in log order, the outbox answers
//! free-busy, and bad requests append nothing.

use crate::common::cmd::ok;
use crate::common::http::{assert_status, Dav, Reply};
use crate::common::server::TestServer;
use std::time::{Duration, Instant};

pub(crate) const ALICE_CAL: &str = "/dav/calendars/alice@example.com/default/";
pub(crate) const BOB_CAL: &str = "/dav/calendars/bob@example.com/default/";
const ALICE_INBOX: &str = "/dav/calendars/alice@example.com/schedule-inbox/";
const BOB_INBOX: &str = "/dav/calendars/bob@example.com/schedule-inbox/";
const ALICE_OUTBOX: &str = "/dav/calendars/alice@example.com/schedule-outbox/";

pub(crate) fn alice(server: &TestServer) -> Dav {
    Dav::new(server.port, "alice@example.com", "alice-secret")
}

pub(crate) fn bob(server: &TestServer) -> Dav {
    Dav::new(server.port, "bob@example.com", "bob-secret")
}

/// A meeting organized by `organizer` with `attendees`, 10:00 to 11:00 on
/// 2031-03-`day`.
pub(crate) fn meeting(
    uid: &str,
    organizer: &str,
    attendees: &[&str],
    day: u32,
    start_hour: u32,
) -> String {
    let mut text = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//scheduling//EN\r\nBEGIN:VEVENT\r\n\
         UID:{uid}\r\nDTSTAMP:20310101T000000Z\r\nDTSTART:203103{day:02}T{start_hour:02}0000Z\r\n\
         DURATION:PT1H\r\nSUMMARY:Planning\r\nSEQUENCE:0\r\nORGANIZER;CN=Organizer:mailto:{organizer}\r\n"
    );
    for a in attendees {
        text.push_str(&format!(
            "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{a}\r\n"
        ));
    }
    text.push_str("END:VEVENT\r\nEND:VCALENDAR\r\n");
    text
}

/// Adds the room `name` to example.com, with the email `name@example.com`.
pub(crate) fn add_room(server: &TestServer, name: &str) {
    let mut cmd = server.command();
    cmd.args(["--server", &server.url, "resource", "add", name])
        .args(["--domain", "example.com", "--kind", "room", "--email"])
        .arg(format!("{name}@example.com"));
    ok(cmd, "");
}

pub(crate) fn put_ics(dav: &Dav, path: &str, body: &str, headers: &[(&str, &str)]) -> Reply {
    dav.put(path, "text/calendar; charset=utf-8", body, headers)
}

/// Waits until `check` holds for a GET of `path`, returning that reply.
pub(crate) fn eventually(
    dav: &Dav,
    path: &str,
    what: &str,
    check: impl Fn(&Reply) -> bool,
) -> Reply {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let reply = dav.get(path);
        if check(&reply) {
            return reply;
        }
        assert!(Instant::now() < deadline, "{what}: {reply:#?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The hrefs of a collection's members (PROPFIND Depth 1).
pub(crate) fn members(dav: &Dav, collection: &str) -> Vec<String> {
    let reply = dav.propfind(
        collection,
        "1",
        r#"<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>"#,
    );
    assert_status(&reply, 207);
    reply
        .body
        .split("<d:href>")
        .skip(1)
        .filter_map(|s| s.split("</d:href>").next())
        .filter(|h| *h != collection)
        .map(str::to_string)
        .collect()
}

/// The unfolded content line starting with `start` that holds `contains`.
pub(crate) fn line_of(text: &str, start: &str, contains: &str) -> String {
    let unfolded = text.replace("\r\n ", "");
    unfolded
        .split("\r\n")
        .find(|l| l.starts_with(start) && l.contains(contains))
        .unwrap_or_else(|| panic!("no {start} line with {contains} in {text}"))
        .to_string()
}

#[test]
fn an_invitation_reaches_the_attendee_and_the_answer_comes_back() {
    let server = TestServer::start();
    let (alice, bob) = (alice(&server), bob(&server));

    // The principal says where the inbox and outbox are, and the server
    // says it schedules.
    let options = alice.request("OPTIONS", ALICE_CAL, &[], "");
    assert!(options
        .header("dav")
        .is_some_and(|d| d.contains("calendar-auto-schedule")));
    let principal = alice.propfind(
        "/dav/principals/alice@example.com/",
        "0",
        r#"<propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><prop><C:schedule-inbox-URL/><C:schedule-outbox-URL/><C:calendar-user-address-set/></prop></propfind>"#,
    );
    assert!(principal.body.contains(ALICE_INBOX), "{}", principal.body);
    assert!(principal.body.contains(ALICE_OUTBOX), "{}", principal.body);
    let inbox = alice.propfind(
        ALICE_INBOX,
        "0",
        r#"<propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><prop><resourcetype/><C:schedule-default-calendar-URL/></prop></propfind>"#,
    );
    assert_status(&inbox, 207);
    assert!(inbox.body.contains("schedule-inbox"), "{}", inbox.body);
    assert!(inbox.body.contains(ALICE_CAL), "{}", inbox.body);

    // Alice invites Bob and someone outside the directory.
    let text = meeting(
        "planning-1",
        "alice@example.com",
        &[
            "alice@example.com",
            "bob@example.com",
            "carol@elsewhere.test",
        ],
        3,
        10,
    );
    let put = put_ics(&alice, &format!("{ALICE_CAL}planning-1.ics"), &text, &[]);
    assert_status(&put, 201);
    let tag = put
        .header("schedule-tag")
        .expect("a Schedule-Tag")
        .to_string();
    // The server wrote the delivery statuses: the stored text is not the
    // client's, so no ETag.
    assert_eq!(put.header("etag"), None);
    let stored = alice.get(&format!("{ALICE_CAL}planning-1.ics"));
    assert!(line_of(&stored.body, "ATTENDEE", "bob@").contains("SCHEDULE-STATUS=1.2"));
    assert!(line_of(&stored.body, "ATTENDEE", "carol@").contains("SCHEDULE-STATUS=3.7"));
    assert_eq!(stored.header("schedule-tag"), Some(tag.as_str()));

    // Bob's copy and inbox item.
    let copy_path = format!("{BOB_CAL}planning-1.ics");
    let copy = eventually(&bob, &copy_path, "Bob's copy", |r| r.status == 200);
    assert!(!copy.body.contains("METHOD"), "{}", copy.body);
    assert!(line_of(&copy.body, "ATTENDEE", "bob@").contains("PARTSTAT=NEEDS-ACTION"));
    let items = members(&bob, BOB_INBOX);
    assert_eq!(items.len(), 1, "{items:?}");
    let item = bob.get(&items[0]);
    assert!(item.body.contains("METHOD:REQUEST"), "{}", item.body);
    // The organizer gets nothing, though listed as an attendee.
    assert!(members(&alice, ALICE_INBOX).is_empty());
    // The inbox is not listed among the calendars.
    let home = bob.propfind(
        "/dav/calendars/bob@example.com/",
        "1",
        r#"<propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>"#,
    );
    assert!(!home.body.contains("schedule-inbox"), "{}", home.body);

    // Bob accepts: a PUT of his copy with If-Schedule-Tag-Match.
    let bob_tag = copy.header("schedule-tag").expect("copy's tag").to_string();
    let unfolded = copy.body.replace("\r\n ", "");
    let accepted = unfolded.replace(
        "PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@",
        "PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:bob@",
    );
    assert_ne!(accepted, unfolded);
    let answer = put_ics(
        &bob,
        &copy_path,
        &accepted,
        &[("If-Schedule-Tag-Match", &bob_tag)],
    );
    assert_status(&answer, 204);
    assert_eq!(answer.header("schedule-tag"), Some(bob_tag.as_str()));
    // A stale tag is refused.
    let stale = put_ics(
        &bob,
        &copy_path,
        &accepted,
        &[("If-Schedule-Tag-Match", "\"1\"")],
    );
    assert_status(&stale, 412);

    // The organizer's copy takes the answer; the Schedule-Tag stays.
    let organizer = eventually(
        &alice,
        &format!("{ALICE_CAL}planning-1.ics"),
        "the reply",
        |r| r.body.contains("PARTSTAT=ACCEPTED"),
    );
    assert!(line_of(&organizer.body, "ATTENDEE", "bob@").contains("PARTSTAT=ACCEPTED"));
    assert_eq!(organizer.header("schedule-tag"), Some(tag.as_str()));
    let replies = members(&alice, ALICE_INBOX);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(alice.get(&replies[0]).body.contains("METHOD:REPLY"));

    // Alice cancels: Bob's copy says so.
    let deleted = alice.request("DELETE", &format!("{ALICE_CAL}planning-1.ics"), &[], "");
    assert_status(&deleted, 204);
    eventually(&bob, &copy_path, "the cancellation", |r| {
        r.body.contains("STATUS:CANCELLED")
    });
    assert_eq!(members(&bob, BOB_INBOX).len(), 2);

    // Bob deletes his inbox items: that answers nothing.
    let before = server.log_records();
    for item in members(&bob, BOB_INBOX) {
        assert_status(&bob.request("DELETE", &item, &[], ""), 204);
    }
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(server.log_records(), before + 2);
}

#[test]
fn bad_scheduling_requests_append_nothing() {
    let server = TestServer::start_with(&[], &["--max-attendees", "2"]);
    let alice = alice(&server);
    let before = server.log_records();
    // Alice may not organize in Bob's name.
    let forged = meeting(
        "forged",
        "bob@example.com",
        &["carol@elsewhere.test"],
        4,
        10,
    );
    let reply = put_ics(&alice, &format!("{ALICE_CAL}forged.ics"), &forged, &[]);
    assert_status(&reply, 403);
    assert!(reply.body.contains("valid-organizer"), "{}", reply.body);
    // An outside organizer's meeting the owner keeps (an export, a copy)
    // is stored and schedules nothing: checked below by the log count
    // staying put apart from it.
    let foreign = meeting(
        "foreign",
        "someone@elsewhere.test",
        &["x@elsewhere.test"],
        4,
        9,
    );
    let reply = put_ics(&alice, &format!("{ALICE_CAL}foreign.ics"), &foreign, &[]);
    assert_status(&reply, 201);
    assert!(reply.header("schedule-tag").is_none());
    let before = before + 1;
    // Too many attendees.
    let crowded = meeting(
        "crowded",
        "alice@example.com",
        &["a@elsewhere.test", "b@elsewhere.test", "c@elsewhere.test"],
        4,
        10,
    );
    let reply = put_ics(&alice, &format!("{ALICE_CAL}crowded.ics"), &crowded, &[]);
    assert_status(&reply, 403);
    assert!(
        reply.body.contains("max-attendees-per-instance"),
        "{}",
        reply.body
    );
    // Nobody writes into an inbox.
    let plain = meeting("plain", "alice@example.com", &["bob@example.com"], 4, 10);
    let reply = put_ics(&alice, &format!("{ALICE_INBOX}plain.ics"), &plain, &[]);
    assert_status(&reply, 403);
    // A malformed free-busy request.
    let reply = alice.request(
        "POST",
        ALICE_OUTBOX,
        &[("Content-Type", "text/calendar")],
        "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n",
    );
    assert_status(&reply, 400);
    // Someone else's free-busy request.
    let theirs = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nMETHOD:REQUEST\r\n\
                  BEGIN:VFREEBUSY\r\nUID:fb\r\nDTSTAMP:20310101T000000Z\r\n\
                  DTSTART:20310301T000000Z\r\nDTEND:20310302T000000Z\r\n\
                  ORGANIZER:mailto:bob@example.com\r\nATTENDEE:mailto:alice@example.com\r\n\
                  END:VFREEBUSY\r\nEND:VCALENDAR\r\n";
    let reply = alice.request(
        "POST",
        ALICE_OUTBOX,
        &[("Content-Type", "text/calendar")],
        theirs,
    );
    assert_status(&reply, 403);
    assert_eq!(server.log_records(), before);
}

#[test]
fn a_room_accepts_the_first_booking_and_declines_an_overlapping_one_and_free_busy_shows_it() {
    let server = TestServer::start();
    add_room(&server, "room-1");
    let (alice, bob) = (alice(&server), bob(&server));
    let first = meeting("first", "alice@example.com", &["room-1@example.com"], 5, 10);
    assert_status(
        &put_ics(&alice, &format!("{ALICE_CAL}first.ics"), &first, &[]),
        201,
    );
    let second = meeting("second", "bob@example.com", &["room-1@example.com"], 5, 10);
    assert_status(
        &put_ics(&bob, &format!("{BOB_CAL}second.ics"), &second, &[]),
        201,
    );
    let accepted = eventually(
        &alice,
        &format!("{ALICE_CAL}first.ics"),
        "the room's yes",
        |r| line_of(&r.body, "ATTENDEE", "room-1@").contains("PARTSTAT=ACCEPTED"),
    );
    assert!(accepted.status == 200);
    eventually(
        &bob,
        &format!("{BOB_CAL}second.ics"),
        "the room's no",
        |r| line_of(&r.body, "ATTENDEE", "room-1@").contains("PARTSTAT=DECLINED"),
    );

    // The room's calendar is read by the domain, written by no one.
    let room_cal = "/dav/calendars/room-1+resource@example.com/calendar/";
    let listed: Vec<String> = members(&bob, room_cal)
        .into_iter()
        .filter(|h| h.ends_with(".ics"))
        .collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    let home = bob.propfind(
        "/dav/principals/resources/room-1@example.com/",
        "0",
        r#"<propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><prop><C:calendar-home-set/></prop></propfind>"#,
    );
    assert!(
        home.body
            .contains("/dav/calendars/room-1%2Bresource@example.com/"),
        "{}",
        home.body
    );
    let write = put_ics(&bob, &format!("{room_cal}x.ics"), &first, &[]);
    assert_status(&write, 403);

    // Bob asks the outbox when Alice and the room are busy.
    let request = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nMETHOD:REQUEST\r\n\
                   BEGIN:VFREEBUSY\r\nUID:fb-1\r\nDTSTAMP:20310101T000000Z\r\n\
                   DTSTART:20310305T000000Z\r\nDTEND:20310306T000000Z\r\n\
                   ORGANIZER:mailto:bob@example.com\r\nATTENDEE:mailto:alice@example.com\r\n\
                   ATTENDEE:mailto:room-1@example.com\r\nATTENDEE:mailto:nobody@elsewhere.test\r\n\
                   END:VFREEBUSY\r\nEND:VCALENDAR\r\n";
    let reply = bob.request(
        "POST",
        "/dav/calendars/bob@example.com/schedule-outbox/",
        &[("Content-Type", "text/calendar; charset=utf-8")],
        request,
    );
    assert_status(&reply, 200);
    assert!(reply.body.contains("schedule-response"), "{}", reply.body);
    let busy = "FREEBUSY:20310305T100000Z/20310305T110000Z";
    assert_eq!(reply.body.matches(busy).count(), 2, "{}", reply.body);
    assert!(reply.body.contains("3.7"), "{}", reply.body);
}

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/scheduling")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn uid_of(text: &str) -> String {
    line_of(text, "UID:", "")
        .trim_start_matches("UID:")
        .to_string()
}

/// What Thunderbird and Apple Calendar PUT to invite and to answer (as
/// fixtures): each invitation reaches Bob with his client's view of it,
/// each answer reaches Alice, and an update keeps Bob's answer and alarm.
#[test]
fn thunderbirds_and_apples_scheduling_requests_round_trip() {
    let server = TestServer::start();
    let (alice, bob) = (alice(&server), bob(&server));
    for (client, answer) in [("thunderbird", "ACCEPTED"), ("apple", "TENTATIVE")] {
        let invitation = fixture(&format!("{client}_invitation.ics"));
        let uid = uid_of(&invitation);
        let organizers = format!("{ALICE_CAL}{client}.ics");
        assert_status(&put_ics(&alice, &organizers, &invitation, &[]), 201);
        let copy_path = format!("{BOB_CAL}{uid}.ics");
        let copy = eventually(&bob, &copy_path, client, |r| r.status == 200);
        assert!(line_of(&copy.body, "ATTENDEE", "bob@").contains("PARTSTAT=NEEDS-ACTION"));
        assert!(copy.body.contains("BEGIN:VTIMEZONE"), "{}", copy.body);

        let reply = fixture(&format!("{client}_reply.ics"));
        let tag = copy.header("schedule-tag").unwrap().to_string();
        let put = put_ics(&bob, &copy_path, &reply, &[("If-Schedule-Tag-Match", &tag)]);
        assert_status(&put, 204);
        let answered = eventually(&alice, &organizers, client, |r| {
            line_of(&r.body, "ATTENDEE", "bob@").contains(&format!("PARTSTAT={answer}"))
        });
        // Only Bob's answer changed in Alice's copy.
        assert_eq!(
            answered.body.matches("BEGIN:VALARM").count(),
            invitation.matches("BEGIN:VALARM").count()
        );
        assert!(!answered.body.contains("TRANSP:TRANSPARENT"));

        // Alice renames it (same SEQUENCE): Bob keeps his answer, his
        // alarm and his transparency.
        let renamed = answered.body.replace("SUMMARY:", "SUMMARY:Renamed ");
        assert_status(&put_ics(&alice, &organizers, &renamed, &[]), 204);
        let updated = eventually(&bob, &copy_path, client, |r| r.body.contains("Renamed"));
        assert!(line_of(&updated.body, "ATTENDEE", "bob@").contains(&format!("PARTSTAT={answer}")));
        let bobs_own = match client {
            "thunderbird" => "TRIGGER;VALUE=DURATION:-PT30M",
            _ => "TRANSP:TRANSPARENT",
        };
        assert!(updated.body.contains(bobs_own), "{}", updated.body);
    }

    // Apple's free-busy request, with the headers it sends.
    let request = fixture("apple_freebusy.ics");
    let reply = alice.request(
        "POST",
        ALICE_OUTBOX,
        &[
            ("Content-Type", "text/calendar"),
            ("Originator", "mailto:alice@example.com"),
            ("Recipient", "mailto:bob@example.com"),
        ],
        &request,
    );
    assert_status(&reply, 200);
    assert!(reply.body.contains("2.0;Success"), "{}", reply.body);
    assert!(reply.body.contains("METHOD:REPLY"), "{}", reply.body);
}

/// A sharee with write access to the owner's calendar acts as the
/// organizer (RFC 6638 §3.2.3): their change is sent as the owner's.
#[test]
fn a_sharee_editing_the_owners_meeting_acts_as_the_organizer() {
    let server = TestServer::start();
    let (alice, bob) = (alice(&server), bob(&server));
    let work = "/dav/calendars/alice@example.com/work/";
    assert_status(&alice.request("MKCALENDAR", work, &[], ""), 201);
    let share = r#"<CS:share xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">
        <CS:set><D:href>mailto:bob@example.com</D:href><CS:read-write/></CS:set></CS:share>"#;
    let shared = alice.request("POST", work, &[("Content-Type", "application/xml")], share);
    assert_status(&shared, 200);
    // Bob writes Alice's meeting, inviting himself, through the share.
    let text = meeting("shared-1", "alice@example.com", &["bob@example.com"], 6, 9);
    let put = put_ics(
        &bob,
        "/dav/calendars/bob@example.com/work@alice@example.com/shared-1.ics",
        &text,
        &[],
    );
    assert_status(&put, 201);
    eventually(&bob, &format!("{BOB_CAL}shared-1.ics"), "Bob's copy", |r| {
        r.status == 200
    });
    // He may not organize there in another user's name than the owner's,
    // his own included.
    let forged = meeting(
        "shared-2",
        "bob@example.com",
        &["dave@elsewhere.test"],
        6,
        9,
    );
    let put = put_ics(
        &bob,
        "/dav/calendars/bob@example.com/work@alice@example.com/shared-2.ics",
        &forged,
        &[],
    );
    assert_status(&put, 403);
}

/// A delivery its target refuses (the attendee has no calendar to take
/// it) is recorded, and the organizer's copy says so: SCHEDULE-STATUS
/// 5.3; a disabled user is known to be one at the PUT.
#[test]
fn a_refused_delivery_shows_in_the_schedule_status() {
    let server = TestServer::start();
    let (alice, bob) = (alice(&server), bob(&server));
    assert_status(&bob.request("DELETE", BOB_CAL, &[], ""), 204);
    let text = meeting(
        "refused-1",
        "alice@example.com",
        &["bob@example.com"],
        7,
        10,
    );
    let path = format!("{ALICE_CAL}refused-1.ics");
    assert_status(&put_ics(&alice, &path, &text, &[]), 201);
    eventually(&alice, &path, "the refusal's status", |r| {
        line_of(&r.body, "ATTENDEE", "bob@").contains("SCHEDULE-STATUS=5.3")
    });

    let mut cmd = server.command();
    cmd.args([
        "--server",
        &server.url,
        "user",
        "disable",
        "bob@example.com",
    ]);
    ok(cmd, "");
    let text = meeting(
        "refused-2",
        "alice@example.com",
        &["bob@example.com"],
        7,
        12,
    );
    let path = format!("{ALICE_CAL}refused-2.ics");
    assert_status(&put_ics(&alice, &path, &text, &[]), 201);
    let stored = alice.get(&path);
    assert!(line_of(&stored.body, "ATTENDEE", "bob@").contains("SCHEDULE-STATUS=5.3"));
}

/// An attendee deleting their copy declines (RFC 6638 §3.2.2.2); deleting
/// it again after a new invitation declines again, once.
#[test]
fn an_attendee_deleting_their_copy_declines() {
    let server = TestServer::start();
    let (alice, bob) = (alice(&server), bob(&server));
    let text = meeting(
        "declined-1",
        "alice@example.com",
        &["bob@example.com"],
        8,
        10,
    );
    let organizers = format!("{ALICE_CAL}declined-1.ics");
    assert_status(&put_ics(&alice, &organizers, &text, &[]), 201);
    let copy = format!("{BOB_CAL}declined-1.ics");
    eventually(&bob, &copy, "Bob's copy", |r| r.status == 200);
    assert_status(&bob.request("DELETE", &copy, &[], ""), 204);
    eventually(&alice, &organizers, "Bob's decline", |r| {
        line_of(&r.body, "ATTENDEE", "bob@").contains("PARTSTAT=DECLINED")
    });
    let replies = members(&alice, ALICE_INBOX);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(alice.get(&replies[0]).body.contains("PARTSTAT=DECLINED"));
}
