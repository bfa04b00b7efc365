//! Managed attachments (RFC 8607) over raw HTTP, with the RFC's headers
//! and preconditions: added, updated and removed on a recurring event
//! (whole series and single instances by `rid`), read back by the owner
//! and by sharees as their share allows, kept across a client PUT, and
//! their bytes in the object store while the log carries their names.

use crate::common::http::{basic_auth, binary, send, send_declaring, Reply};
use crate::common::server::TestServer;
use sha2::{Digest, Sha256};

const CAL: &str = "/dav/calendars/alice@example.com/work/";
const EVENT: &str = "/dav/calendars/alice@example.com/work/weekly.ics";
const BOB_EVENT: &str = "/dav/calendars/bob@example.com/work@alice@example.com/weekly.ics";
const MIB: usize = 1 << 20;

const WEEKLY: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//reprise//test//EN\r\n\
BEGIN:VEVENT\r\nUID:weekly-1\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART:20260105T090000Z\r\nDTEND:20260105T100000Z\r\n\
RRULE:FREQ=WEEKLY;COUNT=8\r\nSUMMARY:Weekly review\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

fn basic(user: &str) -> String {
    basic_auth(user, &format!("{user}-secret"))
}

fn request(
    server: &TestServer,
    user: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let auth = basic(user);
    let mut all = vec![("Authorization", auth.as_str())];
    all.extend_from_slice(headers);
    send(server.port, method, path, &all, body)
}

/// `POST EVENT?query` with an attachment body.
fn post(server: &TestServer, user: &str, query: &str, file: &str, body: &[u8]) -> Reply {
    let disposition = format!("attachment;filename={file}");
    request(
        server,
        user,
        "POST",
        &format!("{EVENT}?{query}"),
        &[
            ("Content-Type", "application/pdf"),
            ("Content-Disposition", &disposition),
        ],
        body,
    )
}

fn get_bytes(server: &TestServer, user: &str, path: &str) -> (u16, Vec<u8>) {
    let auth = basic(user);
    binary(
        server.port,
        "GET",
        path,
        &[("Authorization", auth.as_str())],
        b"",
    )
}

fn event_text(server: &TestServer) -> String {
    let reply = request(server, "alice", "GET", EVENT, &[], b"");
    assert_eq!(reply.status, 200);
    reply.body.replace("\r\n ", "")
}

/// The `ATTACH` lines of the event, unfolded.
fn attach_lines(server: &TestServer) -> Vec<String> {
    event_text(server)
        .lines()
        .filter(|l| l.starts_with("ATTACH"))
        .map(str::to_string)
        .collect()
}

fn precondition(reply: &Reply, status: u16, name: &str) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert!(
        reply.body.contains(name) && reply.body.contains("urn:ietf:params:xml:ns:caldav"),
        "{reply:?}"
    );
}

fn share(server: &TestServer, sharee: &str, access: &str) {
    let body = format!(
        r#"<CS:share xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">
  <CS:set><D:href>mailto:{sharee}</D:href><CS:{access}/></CS:set></CS:share>"#
    );
    let reply = request(
        server,
        "alice",
        "POST",
        CAL,
        &[("Content-Type", "application/xml")],
        body.as_bytes(),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
}

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn managed_attachments_are_added_updated_removed_and_read_as_rfc_8607_says() {
    let server = TestServer::start_with(
        &[],
        &[
            "--max-attachment-size",
            "8388608",
            "--max-attachments-per-resource",
            "3",
        ],
    );
    assert_eq!(
        request(&server, "alice", "MKCALENDAR", CAL, &[], b"").status,
        201
    );
    let put = request(
        &server,
        "alice",
        "PUT",
        EVENT,
        &[("Content-Type", "text/calendar")],
        WEEKLY.as_bytes(),
    );
    assert_eq!(put.status, 201);

    // The server says it manages attachments, and within which limits.
    let options = send(server.port, "OPTIONS", "/dav/", &[], b"");
    assert!(options
        .header("dav")
        .unwrap()
        .contains("calendar-managed-attachments"));
    let props = request(
        &server,
        "alice",
        "PROPFIND",
        CAL,
        &[("Depth", "0")],
        br#"<propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><prop>
<C:managed-attachments-server-URL/><C:max-attachment-size/><C:max-attachments-per-resource/>
</prop></propfind>"#,
    );
    assert_eq!(props.status, 207);
    assert!(props.body.contains(">8388608<"), "{}", props.body);
    assert!(props.body.contains(">3<"), "{}", props.body);
    assert!(props.body.contains("/dav/attachments/"), "{}", props.body);

    // Added to the whole series: 201, Cal-Managed-ID, the object's new ETag.
    let agenda = bytes(5 * MIB, 1);
    let etag = put.etag();
    let added = request(
        &server,
        "alice",
        "POST",
        &format!("{EVENT}?action=attachment-add"),
        &[
            ("Content-Type", "application/pdf"),
            ("Content-Disposition", "attachment;filename=agenda.pdf"),
            ("If-Match", &etag),
        ],
        &agenda,
    );
    assert_eq!(added.status, 201, "{added:?}");
    let id = added
        .header("cal-managed-id")
        .expect("Cal-Managed-ID")
        .to_string();
    let location = added.header("location").expect("Location").to_string();
    assert_eq!(location, format!("/dav/attachments/alice@example.com/{id}"));
    assert_ne!(added.etag(), etag);
    let lines = attach_lines(&server);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains(&format!("MANAGED-ID={id}")),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("FILENAME=agenda.pdf"), "{}", lines[0]);
    assert!(
        lines[0].contains(&format!("SIZE={}", agenda.len())),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("FMTTYPE=application/pdf"), "{}", lines[0]);
    assert!(
        lines[0].ends_with(&format!(":http://127.0.0.1:{}{location}", server.port)),
        "{}",
        lines[0]
    );
    assert_eq!(
        get_bytes(&server, "alice", &location),
        (200, agenda.clone())
    );
    // The old ETag no longer matches.
    let stale = request(
        &server,
        "alice",
        "POST",
        &format!("{EVENT}?action=attachment-add"),
        &[("If-Match", &etag)],
        b"x",
    );
    assert_eq!(stale.status, 412);

    // To one instance by rid: the instance gets an override of its own.
    let minutes = post(
        &server,
        "alice",
        "action=attachment-add&rid=20260112T090000Z",
        "minutes.txt",
        b"minutes",
    );
    assert_eq!(minutes.status, 201, "{minutes:?}");
    let minutes_id = minutes.header("cal-managed-id").unwrap().to_string();
    let text = event_text(&server);
    assert!(text.contains("RECURRENCE-ID:20260112T090000Z"), "{text}");
    assert_eq!(text.matches(&format!("MANAGED-ID={minutes_id}")).count(), 1);
    // The override inherits the series' attachment: two lines for it.
    assert_eq!(text.matches(&format!("MANAGED-ID={id}")).count(), 2);
    let bad_rid = post(
        &server,
        "alice",
        "action=attachment-add&rid=20260112T093000Z",
        "x.txt",
        b"x",
    );
    precondition(&bad_rid, 403, "valid-rid-parameter");

    // Updated: a new managed ID everywhere the old one was; 200.
    let agenda2 = bytes(MIB, 2);
    let updated = post(
        &server,
        "alice",
        &format!("action=attachment-update&managed-id={id}"),
        "agenda-v2.pdf",
        &agenda2,
    );
    assert_eq!(updated.status, 200, "{updated:?}");
    let id2 = updated.header("cal-managed-id").unwrap().to_string();
    assert_ne!(id2, id);
    let text = event_text(&server);
    assert!(!text.contains(&id), "{text}");
    assert_eq!(text.matches(&format!("MANAGED-ID={id2}")).count(), 2);
    assert_eq!(get_bytes(&server, "alice", &location).0, 404);
    assert_eq!(
        get_bytes(
            &server,
            "alice",
            &format!("/dav/attachments/alice@example.com/{id2}")
        ),
        (200, agenda2.clone())
    );

    // Limits and unknown IDs, each changing nothing.
    let before = event_text(&server);
    let third = post(&server, "alice", "action=attachment-add", "third.txt", b"3");
    assert_eq!(third.status, 201);
    let full = post(
        &server,
        "alice",
        "action=attachment-add",
        "fourth.txt",
        b"4",
    );
    precondition(&full, 403, "max-attachments-per-resource");
    let third_id = third.header("cal-managed-id").unwrap().to_string();
    let removed = post(
        &server,
        "alice",
        &format!("action=attachment-remove&managed-id={third_id}"),
        "",
        b"",
    );
    assert_eq!(removed.status, 204, "{removed:?}");
    assert_eq!(event_text(&server), before);
    let auth = basic("alice");
    let too_big = send_declaring(
        server.port,
        "POST",
        &format!("{EVENT}?action=attachment-add"),
        &[("Authorization", &auth)],
        9 * MIB as u64,
    );
    precondition(&too_big, 413, "max-attachment-size");
    let unknown = post(
        &server,
        "alice",
        "action=attachment-remove&managed-id=nope",
        "",
        b"",
    );
    precondition(&unknown, 403, "valid-managed-id");
    let unknown = post(
        &server,
        "alice",
        "action=attachment-update&managed-id=nope",
        "x",
        b"x",
    );
    precondition(&unknown, 403, "valid-managed-id");
    let no_action = post(&server, "alice", "action=attachment-frobnicate", "x", b"x");
    assert_eq!(no_action.status, 400);
    assert_eq!(event_text(&server), before);

    // A client PUT keeps what it names and may not invent an ID.
    let kept = before.replace("SUMMARY:Weekly review", "SUMMARY:Weekly review (moved)");
    let put = request(
        &server,
        "alice",
        "PUT",
        EVENT,
        &[("Content-Type", "text/calendar")],
        kept.as_bytes(),
    );
    assert_eq!(put.status, 204, "{put:?}");
    let invented = kept.replace(&id2, "0123456789abcdef");
    let put = request(
        &server,
        "alice",
        "PUT",
        EVENT,
        &[("Content-Type", "text/calendar")],
        invented.as_bytes(),
    );
    precondition(&put, 403, "valid-managed-id");

    // Sharees: read access reads attachments, read-write manages them;
    // anyone else sees nothing there.
    let attachment = format!("/dav/attachments/alice@example.com/{id2}");
    assert_eq!(get_bytes(&server, "bob", &attachment).0, 404);
    share(&server, "bob@example.com", "read");
    assert_eq!(
        get_bytes(&server, "bob", &attachment),
        (200, agenda2.clone())
    );
    let refused = request(
        &server,
        "bob",
        "POST",
        &format!("{BOB_EVENT}?action=attachment-add"),
        &[("Content-Disposition", "attachment;filename=b.txt")],
        b"bob",
    );
    assert_eq!(refused.status, 403, "{refused:?}");
    share(&server, "bob@example.com", "read-write");
    let by_bob = request(
        &server,
        "bob",
        "POST",
        &format!(
            "{BOB_EVENT}?action=attachment-remove&managed-id={minutes_id}&rid=20260112T090000Z"
        ),
        &[],
        b"",
    );
    assert_eq!(by_bob.status, 204, "{by_bob:?}");
    assert!(!event_text(&server).contains(&minutes_id));

    // The log carries names, not bytes; verify finds every object whole.
    let largest = server.largest_record();
    assert!(largest < 8192, "the largest record is {largest} bytes");
    let mut cmd = server.command();
    cmd.args(["--server", &server.url, "objects", "verify"]);
    let verified = crate::common::cmd::ok(cmd, "");
    assert!(
        verified.contains("every object is present and whole"),
        "{verified}"
    );
    let hex: String = Sha256::digest(&agenda2)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(server
        .data_dir()
        .join("objects/sha256")
        .join(&hex[..2])
        .join(&hex)
        .is_file());

    // A rebuild from the log serves the same attachments.
    let mut server = server;
    server.restart(true);
    assert_eq!(get_bytes(&server, "alice", &attachment), (200, agenda2));
}
