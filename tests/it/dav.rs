//! WebDAV, CalDAV and CardDAV against a running `reprise serve`, over raw
//! HTTP so each test sees exactly what a client would.

use crate::common;

use crate::common::cmd::{fixture, ok};
use crate::common::http::{assert_status, send, Dav, Reply};
use crate::common::server::TestServer;
use std::collections::BTreeSet;

const ALICE: &str = "alice@example.com";
const CAL: &str = "/dav/calendars/alice@example.com/default/";
const BOOK: &str = "/dav/addressbooks/alice@example.com/default/";
const GETETAG: &str = r#"<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>"#;

fn alice(server: &TestServer) -> Dav {
    Dav::new(server.port, "alice", "alice-secret")
}

fn event(uid: &str, summary: &str) -> String {
    common::ical(uid, summary)
}

fn todo(uid: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VTODO\r\nUID:{uid}\r\n\
DTSTAMP:20260101T000000Z\r\nSUMMARY:Todo\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    )
}

/// Fixtures holding exactly one UID: each is one storable resource.
fn single_object_fixtures(dir: &str, ext: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(fixture(dir)).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(ext) || name.starts_with("bad_") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let uids: BTreeSet<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("UID:"))
            .map(str::trim)
            .collect();
        let cards = text.matches("BEGIN:VCARD").count();
        let version_ok = ext != ".vcf" || !text.contains("VERSION:2.1");
        if uids.len() == 1 && cards <= 1 && version_ok {
            out.push((name, text));
        }
    }
    out.sort();
    out
}

#[test]
fn discovery_leads_clients_from_the_bare_url_to_their_homes() {
    let server = TestServer::start();
    let dav = alice(&server);

    let options = send(server.port, "OPTIONS", "/dav/", &[], b"");
    assert_status(&options, 200);
    let classes = options.header("dav").unwrap();
    assert!(classes.contains("calendar-access") && classes.contains("addressbook"));
    assert!(!classes.split(',').any(|c| c.trim() == "2"), "{classes}");
    assert!(options.header("allow").unwrap().contains("MKCALENDAR"));

    for well_known in ["/.well-known/caldav", "/.well-known/carddav"] {
        let r = send(server.port, "PROPFIND", well_known, &[], b"");
        assert_status(&r, 301);
        assert_eq!(r.header("location"), Some("/dav/"));
    }

    // Apple sends everything unauthenticated first.
    let anonymous = send(server.port, "PROPFIND", "/", &[("Depth", "0")], b"");
    assert_status(&anonymous, 401);
    assert!(anonymous
        .header("www-authenticate")
        .unwrap()
        .starts_with("Basic"));
    let wrong = Dav::new(server.port, "alice", "nope").propfind("/", "0", GETETAG);
    assert_status(&wrong, 401);

    let root = dav.propfind(
        "/",
        "0",
        r#"<propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>"#,
    );
    assert_status(&root, 207);
    assert!(root
        .body
        .contains("<d:href>/dav/principals/alice@example.com/</d:href>"));

    // The email works as a login too.
    let by_email = Dav::new(server.port, ALICE, "alice-secret");
    let principal = by_email.propfind(
        "/dav/principals/alice@example.com/",
        "0",
        r#"<propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:A="urn:ietf:params:xml:ns:carddav">
             <prop><displayname/><principal-URL/><C:calendar-home-set/><A:addressbook-home-set/>
             <C:calendar-user-address-set/></prop></propfind>"#,
    );
    assert_status(&principal, 207);
    for expected in [
        "<d:displayname>Alice</d:displayname>",
        "<c:calendar-home-set><d:href>/dav/calendars/alice@example.com/</d:href>",
        "<card:addressbook-home-set><d:href>/dav/addressbooks/alice@example.com/</d:href>",
        "<d:href>mailto:alice@example.com</d:href>",
        "<d:principal-URL><d:href>/dav/principals/alice@example.com/</d:href>",
    ] {
        assert!(
            principal.body.contains(expected),
            "{expected}\n{}",
            principal.body
        );
    }

    let home = dav.propfind("/dav/calendars/alice@example.com/", "1", "");
    assert_status(&home, 207);
    assert!(home.body.contains("<cs:getctag>"));
    assert!(home.body.contains("<d:sync-collection/>"), "{}", home.body);
    assert!(home.body.contains(CAL), "the default calendar is listed");
    let books = dav.propfind("/dav/addressbooks/alice@example.com/", "1", "");
    assert!(books.body.contains(BOOK) && books.body.contains("<card:addressbook/>"));

    let infinite = dav.propfind(CAL, "infinity", GETETAG);
    assert_status(&infinite, 403);
    assert!(infinite.body.contains("propfind-finite-depth"));

    let names = dav.propfind(CAL, "0", r#"<propfind xmlns="DAV:"><propname/></propfind>"#);
    assert!(names.body.contains("<c:supported-calendar-component-set/>"));
    let missing = dav.propfind(
        CAL,
        "0",
        r#"<propfind xmlns="DAV:"><prop><getctag xmlns="http://calendarserver.org/ns/"/><x xmlns="urn:none"/></prop></propfind>"#,
    );
    assert!(
        missing.body.contains("HTTP/1.1 404 Not Found"),
        "{}",
        missing.body
    );
}

#[test]
fn objects_round_trip_with_etags_and_conditional_requests() {
    let server = TestServer::start();
    let dav = alice(&server);
    let calendars = single_object_fixtures("ical", ".ics");
    assert!(calendars.len() >= 3, "{calendars:?}");
    for (name, body) in &calendars {
        let href = format!("{CAL}{name}");
        let put = dav.put(&href, "text/calendar; charset=utf-8", body, &[]);
        assert_status(&put, 201);
        let etag = put.etag();
        let got = dav.get(&href);
        assert_status(&got, 200);
        assert_eq!(&got.body, body, "{name} comes back byte for byte");
        assert_eq!(got.etag(), etag);
        assert!(got.header("last-modified").is_some());
    }
    let cards = single_object_fixtures("vcard", ".vcf");
    assert!(!cards.is_empty());
    for (i, (name, body)) in cards.iter().enumerate() {
        // Old Thunderbird connectors send text/x-vcard.
        let ct = if i % 2 == 0 {
            "text/vcard"
        } else {
            "text/x-vcard"
        };
        let put = dav.put(&format!("{BOOK}{name}"), ct, body, &[]);
        assert_status(&put, 201);
        assert_eq!(&dav.get(&format!("{BOOK}{name}")).body, body);
    }

    let href = format!("{CAL}conditional.ics");
    let created = dav.put(
        &href,
        "text/calendar",
        &event("cond", "v1"),
        &[("If-None-Match", "*")],
    );
    assert_status(&created, 201);
    let v1 = created.etag();
    let again = dav.put(
        &href,
        "text/calendar",
        &event("cond", "v1"),
        &[("If-None-Match", "*")],
    );
    assert_status(&again, 412);
    let stale = dav.put(
        &href,
        "text/calendar",
        &event("cond", "v2"),
        &[("If-Match", "\"1\"")],
    );
    assert_status(&stale, 412);
    let updated = dav.put(
        &href,
        "text/calendar",
        &event("cond", "v2"),
        &[("If-Match", &v1)],
    );
    assert_status(&updated, 204);
    let v2 = updated.etag();
    assert_ne!(v1, v2);
    let head = dav.request("HEAD", &href, &[], "");
    assert_status(&head, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.etag(), v2);
    let cached = dav.request("GET", &href, &[("If-None-Match", &v2)], "");
    assert_status(&cached, 304);
    // Evolution escapes the quotes.
    let escaped = format!("\"\\{}\\\"\"", &v2[..v2.len() - 1]);
    let del_stale = dav.request("DELETE", &href, &[("If-Match", &v1)], "");
    assert_status(&del_stale, 412);
    let del = dav.request("DELETE", &href, &[("If-Match", &escaped)], "");
    assert_status(&del, 204);
    assert_status(&dav.get(&href), 404);
    assert_status(&dav.request("DELETE", &href, &[], ""), 404);
}

#[test]
fn collections_are_created_patched_and_deleted() {
    let server = TestServer::start();
    let dav = alice(&server);
    let work = "/dav/calendars/alice@example.com/work/";
    let mk = dav.request(
        "MKCALENDAR",
        work,
        &[("Content-Type", "application/xml")],
        r#"<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:A="http://apple.com/ns/ical/">
             <D:set><D:prop><D:displayname>Work</D:displayname><A:calendar-color>#FF0000FF</A:calendar-color>
             <C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set>
             </D:prop></D:set></C:mkcalendar>"#,
    );
    assert_status(&mk, 201);
    assert_status(&dav.request("MKCALENDAR", work, &[], ""), 405);
    let event_in_todo_list = dav.put(
        &format!("{work}e.ics"),
        "text/calendar",
        &event("e", "x"),
        &[],
    );
    assert_status(&event_in_todo_list, 403);
    assert!(event_in_todo_list
        .body
        .contains("supported-calendar-component"));
    assert_status(
        &dav.put(&format!("{work}t.ics"), "text/calendar", &todo("t"), &[]),
        201,
    );

    let patch = dav.request(
        "PROPPATCH",
        work,
        &[("Content-Type", "application/xml")],
        r#"<D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:X="urn:example:x">
             <D:set><D:prop><D:displayname>Work things</D:displayname>
               <C:calendar-description>Everything at work</C:calendar-description>
               <X:order xml:lang="en">3<X:sub a="b"/></X:order></D:prop></D:set>
             <D:remove><D:prop><A:calendar-color xmlns:A="http://apple.com/ns/ical/"/></D:prop></D:remove>
           </D:propertyupdate>"#,
    );
    assert_status(&patch, 207);
    assert!(!patch.body.contains("403"), "{}", patch.body);
    let props = dav.propfind(
        work,
        "0",
        r#"<propfind xmlns="DAV:"><prop><displayname/><calendar-description xmlns="urn:ietf:params:xml:ns:caldav"/>
           <calendar-color xmlns="http://apple.com/ns/ical/"/><order xmlns="urn:example:x"/></prop></propfind>"#,
    );
    assert!(props
        .body
        .contains("<d:displayname>Work things</d:displayname>"));
    assert!(props.body.contains("Everything at work"));
    assert!(props.body.contains(r#"xml:lang="en">3<"#), "{}", props.body);
    assert!(
        props
            .body
            .contains("<ical:calendar-color/></d:prop><d:status>HTTP/1.1 404"),
        "{}",
        props.body
    );

    // A protected property fails the whole PROPPATCH.
    let protected = dav.request(
        "PROPPATCH",
        work,
        &[("Content-Type", "application/xml")],
        r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:getetag>x</D:getetag>
           <D:displayname>Never</D:displayname></D:prop></D:set></D:propertyupdate>"#,
    );
    assert_status(&protected, 207);
    assert!(protected.body.contains("403") && protected.body.contains("424"));
    assert!(dav.propfind(work, "0", "").body.contains("Work things"));

    let book = "/dav/addressbooks/alice@example.com/team/";
    let mkcol = dav.request(
        "MKCOL",
        book,
        &[("Content-Type", "application/xml")],
        r#"<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>
           <D:resourcetype><D:collection/><C:addressbook/></D:resourcetype><D:displayname>Team</D:displayname>
           </D:prop></D:set></D:mkcol>"#,
    );
    assert_status(&mkcol, 201);
    assert!(dav
        .propfind(book, "0", "")
        .body
        .contains("<d:displayname>Team</d:displayname>"));
    let plain = dav.request(
        "MKCOL",
        "/dav/addressbooks/alice@example.com/plain/",
        &[],
        "",
    );
    assert_status(&plain, 403);
    let nested = dav.request("MKCALENDAR", &format!("{work}inner/"), &[], "");
    assert_status(&nested, 403);
    assert!(nested.body.contains("calendar-collection-location-ok"));

    assert_status(&dav.request("DELETE", work, &[], ""), 204);
    assert_status(&dav.propfind(work, "0", ""), 404);
    assert_status(&dav.get(&format!("{work}t.ics")), 404);
}

#[test]
fn sync_collection_reports_changes_and_deletions_since_a_token() {
    let server = TestServer::start();
    let dav = alice(&server);
    for i in 0..3 {
        assert_status(
            &dav.put(
                &format!("{CAL}{i}.ics"),
                "text/calendar",
                &event(&format!("u{i}"), "x"),
                &[],
            ),
            201,
        );
    }
    let first = dav.sync_collection(CAL, "", None);
    assert_status(&first, 207);
    assert_eq!(first.body.matches("<d:response>").count(), 3);
    let token = first.sync_token();

    let unchanged = dav.sync_collection(CAL, &token, None);
    assert_eq!(unchanged.body.matches("<d:response>").count(), 0);
    assert_eq!(unchanged.sync_token(), token);

    assert_status(
        &dav.put(
            &format!("{CAL}1.ics"),
            "text/calendar",
            &event("u1", "changed"),
            &[],
        ),
        204,
    );
    assert_status(&dav.request("DELETE", &format!("{CAL}2.ics"), &[], ""), 204);
    assert_status(
        &dav.put(
            &format!("{CAL}3.ics"),
            "text/calendar",
            &event("u3", "new"),
            &[],
        ),
        201,
    );
    let delta = dav.sync_collection(CAL, &token, None);
    assert_eq!(
        delta.body.matches("<d:response>").count(),
        3,
        "{}",
        delta.body
    );
    assert!(delta.body.contains(&format!(
        "<d:href>{CAL}2.ics</d:href><d:status>HTTP/1.1 404"
    )));
    assert!(!delta.body.contains(&format!("{CAL}0.ics")));

    // A deleted member is not listed on a first sync.
    let fresh = dav.sync_collection(CAL, "", None);
    assert_eq!(fresh.body.matches("<d:response>").count(), 3);
    assert!(!fresh.body.contains("404"));

    let limited = dav.sync_collection(CAL, &token, Some(1));
    assert_eq!(limited.body.matches("<d:getetag>").count(), 1);
    assert!(limited.body.contains("HTTP/1.1 507"));
    let rest = dav.sync_collection(CAL, &limited.sync_token(), None);
    assert_eq!(
        rest.body.matches("<d:response>").count(),
        2,
        "{}",
        rest.body
    );

    for bad in [
        "urn:reprise:sync:1:999999",
        "http://elsewhere/token",
        "urn:reprise:sync:7:7",
    ] {
        let r = dav.sync_collection(CAL, bad, None);
        assert_status(&r, 403);
        assert!(r.body.contains("valid-sync-token"));
    }
    // The ctag moved with every change, and the home's tag with it.
    let ctag = |path: &str| {
        let r = dav.propfind(path, "0", r#"<propfind xmlns="DAV:"><prop><getctag xmlns="http://calendarserver.org/ns/"/></prop></propfind>"#);
        let start = r.body.find("<cs:getctag>").unwrap() + 12;
        r.body[start..start + r.body[start..].find('<').unwrap()].to_string()
    };
    let (cal_tag, home_tag) = (ctag(CAL), ctag("/dav/calendars/alice@example.com/"));
    assert_status(&dav.request("DELETE", &format!("{CAL}3.ics"), &[], ""), 204);
    assert_ne!(ctag(CAL), cal_tag);
    assert_ne!(ctag("/dav/calendars/alice@example.com/"), home_tag);
}

#[test]
fn objects_copy_and_move_between_collections_of_their_owner() {
    let server = TestServer::start();
    let dav = alice(&server);
    let other = "/dav/calendars/alice@example.com/other/";
    assert_status(&dav.request("MKCALENDAR", other, &[], ""), 201);
    let src = format!("{CAL}a.ics");
    assert_status(&dav.put(&src, "text/calendar", &event("a", "A"), &[]), 201);
    let dest = |path: &str| format!("{}{path}", server.url);

    let copy = dav.request(
        "COPY",
        &src,
        &[("Destination", &dest(&format!("{other}a.ics")))],
        "",
    );
    assert_status(&copy, 201);
    assert_eq!(dav.get(&format!("{other}a.ics")).body, event("a", "A"));
    // The same UID twice in one calendar is refused, naming the holder.
    let twin = dav.request(
        "COPY",
        &src,
        &[("Destination", &dest(&format!("{CAL}b.ics")))],
        "",
    );
    assert_status(&twin, 409);
    assert!(
        twin.body.contains(&format!("<d:href>{src}</d:href>")),
        "{}",
        twin.body
    );

    let no_overwrite = dav.request(
        "MOVE",
        &src,
        &[
            ("Destination", &dest(&format!("{other}a.ics"))),
            ("Overwrite", "F"),
        ],
        "",
    );
    assert_status(&no_overwrite, 412);
    let rename = dav.request(
        "MOVE",
        &src,
        &[("Destination", &dest(&format!("{CAL}renamed.ics")))],
        "",
    );
    assert_status(&rename, 201);
    assert_status(&dav.get(&src), 404);
    assert_eq!(dav.get(&format!("{CAL}renamed.ics")).body, event("a", "A"));
    let moved = dav.request(
        "MOVE",
        &format!("{CAL}renamed.ics"),
        &[("Destination", &dest(&format!("{other}a.ics")))],
        "",
    );
    assert_status(&moved, 204);
    let listing = dav.propfind(CAL, "1", GETETAG);
    assert!(!listing.body.contains("renamed.ics"));

    let elsewhere = dav.request(
        "COPY",
        &format!("{other}a.ics"),
        &[(
            "Destination",
            &dest("/dav/calendars/bob@example.com/default/a.ics"),
        )],
        "",
    );
    assert_status(&elsewhere, 403);
}

#[test]
fn nobody_reads_or_writes_another_principals_data() {
    let server = TestServer::start();
    let bob = Dav::new(server.port, "bob", "bob-secret");
    let secret = "/dav/calendars/bob@example.com/default/secret.ics";
    assert_status(
        &bob.put(
            secret,
            "text/calendar",
            &event("secret", "Bob's secret"),
            &[],
        ),
        201,
    );
    let dav = alice(&server);
    for (method, path) in [
        ("PROPFIND", "/dav/calendars/bob@example.com/default/"),
        ("PROPPATCH", "/dav/principals/bob@example.com/"),
        ("GET", secret),
        ("DELETE", secret),
        ("PUT", "/dav/calendars/bob@example.com/default/x.ics"),
        ("PROPFIND", "/dav/files/bob@example.com/"),
    ] {
        let r = dav.request(
            method,
            path,
            &[("Depth", "1"), ("Content-Type", "text/calendar")],
            "",
        );
        assert_status(&r, 403);
        assert!(!r.body.contains("secret"), "{}", r.body);
    }
    // Colleagues find each other: a principal of the same domain is
    // readable, and says nothing of its calendars' contents.
    let principal = dav.request(
        "PROPFIND",
        "/dav/principals/bob@example.com/",
        &[("Depth", "1")],
        "",
    );
    assert_status(&principal, 207);
    assert!(principal.body.contains("mailto:bob@example.com"));
    assert!(!principal.body.contains("secret"), "{}", principal.body);
    let multiget = dav.report(
        CAL,
        &format!(
            r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
               <D:prop><D:getetag/><C:calendar-data/></D:prop><D:href>{secret}</D:href>
               <D:href>{CAL}missing.ics</D:href></C:calendar-multiget>"#
        ),
    );
    assert_status(&multiget, 207);
    assert!(multiget.body.contains("HTTP/1.1 403"), "{}", multiget.body);
    assert!(multiget.body.contains("HTTP/1.1 404"));
    assert!(!multiget.body.contains("Bob's secret"));
    let sync = dav.sync_collection("/dav/calendars/bob@example.com/default/", "", None);
    assert_status(&sync, 403);
    assert_eq!(bob.get(secret).body, event("secret", "Bob's secret"));

    // A disabled account is refused at once, though its password is
    // remembered; enabling it lets it in again.
    let toggle = |verb: &str| {
        let mut cmd = server.command();
        cmd.args(["--server", &server.url, "user", verb, "bob"]);
        ok(cmd, "")
    };
    assert!(toggle("disable").contains("disabled user bob@example.com"));
    let refused = bob.get(secret);
    assert_status(&refused, 403);
    assert!(refused.body.contains("disabled"));
    toggle("enable");
    assert_status(&bob.get(secret), 200);
}

#[test]
fn bad_input_gets_a_clear_error_and_appends_nothing() {
    let server = TestServer::start_with(&[], &["--max-resource-size", "4096"]);
    let dav = alice(&server);
    assert_status(
        &dav.put(
            &format!("{CAL}taken.ics"),
            "text/calendar",
            &event("taken", "t"),
            &[],
        ),
        201,
    );
    let before = server.log_records();
    let xml = [("Content-Type", "application/xml")];

    let malformed = dav.request(
        "PROPFIND",
        CAL,
        &[("Depth", "0"), xml[0]],
        "<propfind xmlns='DAV:'><prop>",
    );
    assert_status(&malformed, 400);
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>
        <propfind xmlns="DAV:"><prop><displayname>&lol2;</displayname></prop></propfind>"#;
    let dtd = dav.request("PROPPATCH", CAL, &xml, laughs);
    assert_status(&dtd, 400);
    assert!(dtd.body.contains("document type"), "{}", dtd.body);
    let unknown = dav.report(CAL, r#"<x:no-such-report xmlns:x="urn:example:x"/>"#);
    assert_status(&unknown, 403);
    assert!(unknown.body.contains("supported-report"));

    let big = event("big", &"x".repeat(5000));
    let too_large = dav.put(&format!("{CAL}big.ics"), "text/calendar", &big, &[]);
    assert_status(&too_large, 413);
    assert!(too_large.body.contains("max-resource-size"));
    let invalid = dav.put(
        &format!("{CAL}bad.ics"),
        "text/calendar",
        "BEGIN:VCALENDAR\r\nEND:VEVENT\r\n",
        &[],
    );
    assert_status(&invalid, 403);
    assert!(invalid.body.contains("valid-calendar-data"));
    let card = dav.put(
        &format!("{BOOK}bad.vcf"),
        "text/vcard",
        "BEGIN:VCARD\r\nVERSION:4.0\r\nEND:VCARD\r\n",
        &[],
    );
    assert_status(&card, 403);
    assert!(card.body.contains("valid-address-data"));
    let duplicate = dav.put(
        &format!("{CAL}other.ics"),
        "text/calendar",
        &event("taken", "t"),
        &[],
    );
    assert_status(&duplicate, 409);
    assert!(duplicate.body.contains(&format!(
        "<c:no-uid-conflict><d:href>{CAL}taken.ics</d:href>"
    )));
    let wrong_type = dav.put(
        &format!("{CAL}plain.ics"),
        "text/plain",
        &event("p", "p"),
        &[],
    );
    assert_status(&wrong_type, 415);
    assert!(wrong_type.body.contains("supported-calendar-data"));
    let wrong_xml_type = dav.request("PROPPATCH", CAL, &[("Content-Type", "text/plain")], "<x/>");
    assert_status(&wrong_xml_type, 415);
    for path in [
        "/dav/calendars/alice@example.com/../bob@example.com/default/",
        "/dav/calendars/alice@example.com/default%2F..%2F/",
        "/dav/calendars/alice@example.com/%2e%2e/",
    ] {
        assert_status(&dav.propfind(path, "0", GETETAG), 400);
    }
    assert_status(
        &dav.put(
            &format!("{CAL}..%2Fx.ics"),
            "text/calendar",
            &event("y", "y"),
            &[],
        ),
        400,
    );

    assert_eq!(server.log_records(), before, "bad requests append nothing");
}

#[test]
fn concurrent_writers_are_decided_by_the_log() {
    let server = TestServer::start();
    let dav = alice(&server);
    let href = format!("{CAL}contended.ics");
    let etag = dav
        .put(&href, "text/calendar", &event("contended", "v0"), &[])
        .etag();
    let port = server.port;
    let writers: Vec<_> = (0..6)
        .map(|i| {
            let (href, etag) = (href.clone(), etag.clone());
            std::thread::spawn(move || {
                Dav::new(port, "alice", "alice-secret")
                    .put(
                        &href,
                        "text/calendar",
                        &event("contended", &format!("v{i}")),
                        &[("If-Match", &etag)],
                    )
                    .status
            })
        })
        .collect();
    let statuses: Vec<u16> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 204).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 412).count(),
        5,
        "{statuses:?}"
    );
}

#[test]
fn a_rebuild_serves_the_same_etags_ctags_and_sync_tokens() {
    let mut server = TestServer::start();
    let dav = alice(&server);
    for i in 0..5 {
        dav.put(
            &format!("{CAL}{i}.ics"),
            "text/calendar",
            &event(&format!("r{i}"), "x"),
            &[],
        );
        dav.put(
            &format!("{BOOK}{i}.vcf"),
            "text/vcard",
            &common::vcard(&format!("c{i}"), "Someone"),
            &[],
        );
    }
    dav.request("DELETE", &format!("{CAL}3.ics"), &[], "");
    dav.request(
        "MOVE",
        &format!("{CAL}4.ics"),
        &[("Destination", &format!("{CAL}moved.ics"))],
        "",
    );
    let props = r#"<propfind xmlns="DAV:"><prop><getetag/><sync-token/><getlastmodified/>
        <getctag xmlns="http://calendarserver.org/ns/"/></prop></propfind>"#;
    let snapshot = |dav: &Dav| {
        [
            dav.propfind(CAL, "1", props).body,
            dav.propfind(BOOK, "1", props).body,
            dav.propfind("/dav/calendars/alice@example.com/", "1", props)
                .body,
            dav.sync_collection(CAL, "", None).body,
        ]
    };
    let before = snapshot(&dav);
    server.restart(true);
    let after = snapshot(&alice(&server));
    assert_eq!(before, after);
}

#[test]
fn address_books_serve_multiget_sync_and_their_own_preconditions() {
    let server = TestServer::start();
    let dav = alice(&server);
    let v3 = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ann\r\nFN:Ann Example\r\nN:Example;Ann;;;\r\nEND:VCARD\r\n";
    let v4 = common::vcard("ben", "Ben Example");
    assert_status(
        &dav.put(
            &format!("{BOOK}ann.vcf"),
            "text/vcard; charset=utf-8",
            v3,
            &[],
        ),
        201,
    );
    assert_status(
        &dav.put(&format!("{BOOK}ben.vcf"), "text/x-vcard", &v4, &[]),
        201,
    );

    let multiget = dav.report(
        BOOK,
        &format!(
            r#"<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
               <D:prop><D:getetag/><C:address-data/></D:prop>
               <D:href>{BOOK}ann.vcf</D:href><D:href>{BOOK}ben.vcf</D:href><D:href>{BOOK}nobody.vcf</D:href>
               </C:addressbook-multiget>"#
        ),
    );
    assert_status(&multiget, 207);
    assert!(multiget.body.contains("FN:Ann Example") && multiget.body.contains("FN:Ben Example"));
    assert!(multiget.body.contains(&format!(
        "<d:href>{BOOK}nobody.vcf</d:href><d:status>HTTP/1.1 404"
    )));
    assert!(multiget.body.contains("<card:address-data>"));

    let twin = dav.put(&format!("{BOOK}ann-again.vcf"), "text/vcard", v3, &[]);
    assert_status(&twin, 409);
    assert!(
        twin.body.contains(&format!(
            "<card:no-uid-conflict><d:href>{BOOK}ann.vcf</d:href>"
        )),
        "{}",
        twin.body
    );
    let no_uid = dav.put(
        &format!("{BOOK}anon.vcf"),
        "text/vcard",
        "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Anon\r\nEND:VCARD\r\n",
        &[],
    );
    assert_status(&no_uid, 403);

    let first = dav.sync_collection(BOOK, "", None);
    assert_eq!(first.body.matches("<d:getetag>").count(), 2);
    assert_status(
        &dav.request("DELETE", &format!("{BOOK}ben.vcf"), &[], ""),
        204,
    );
    let delta = dav.sync_collection(BOOK, &first.sync_token(), None);
    assert!(delta.body.contains(&format!(
        "<d:href>{BOOK}ben.vcf</d:href><d:status>HTTP/1.1 404"
    )));
    let supported = dav.propfind(
        BOOK,
        "0",
        r#"<propfind xmlns="DAV:"><prop><supported-address-data xmlns="urn:ietf:params:xml:ns:carddav"/><supported-report-set/></prop></propfind>"#,
    );
    assert!(
        supported.body.contains(r#"version="3.0""#) && supported.body.contains(r#"version="4.0""#)
    );
    assert!(supported.body.contains("<card:addressbook-multiget/>"));
}

/// Many writers at once (sled 0.34 deadlocked on concurrent flushes from
/// async workers: the server then answered nothing, not even /healthz).
#[test]
fn many_concurrent_writers_all_get_their_answer() {
    let server = TestServer::start();
    let port = server.port;
    let writers: Vec<_> = (0..32)
        .map(|w| {
            std::thread::spawn(move || {
                let dav = Dav::new(port, "alice", "alice-secret");
                (0..20)
                    .map(|i| {
                        let uid = format!("w{w}-{i}");
                        dav.put(
                            &format!("{CAL}{uid}.ics"),
                            "text/calendar",
                            &event(&uid, "x"),
                            &[],
                        )
                        .status
                    })
                    .collect::<Vec<u16>>()
            })
        })
        .collect();
    for writer in writers {
        assert!(writer.join().unwrap().iter().all(|s| *s == 201));
    }
    let listing = alice(&server).propfind(CAL, "1", GETETAG);
    assert_eq!(listing.body.matches("<d:getetag>").count(), 32 * 20);
}

fn addressbook_query(dav: &Dav, filter: &str, extra: &str) -> Reply {
    dav.report(
        BOOK,
        &format!(
            r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
               <D:prop><D:getetag/><C:address-data><C:prop name="FN"/></C:address-data></D:prop>
               <C:filter>{filter}</C:filter>{extra}</C:addressbook-query>"#
        ),
    )
}

#[test]
fn addressbook_query_filters_cards_and_returns_the_selected_properties() {
    let server = TestServer::start();
    let dav = alice(&server);
    for (uid, name, email) in [
        ("ann", "Ann Example", "ann@work.example"),
        ("ben", "Ben Sample", "ben@home.example"),
        ("cid", "Cid Example", "cid@work.example"),
    ] {
        let card = format!(
            "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nFN:{name}\r\nEMAIL;TYPE=work:{email}\r\nNOTE:secret\r\nEND:VCARD\r\n"
        );
        assert_status(
            &dav.put(&format!("{BOOK}{uid}.vcf"), "text/vcard", &card, &[]),
            201,
        );
    }
    let by_name = addressbook_query(
        &dav,
        r#"<C:prop-filter name="FN"><C:text-match match-type="ends-with">EXAMPLE</C:text-match></C:prop-filter>"#,
        "",
    );
    assert_status(&by_name, 207);
    assert_eq!(
        by_name.body.matches("<d:response>").count(),
        2,
        "{}",
        by_name.body
    );
    assert!(by_name.body.contains("FN:Ann Example") && by_name.body.contains("FN:Cid Example"));
    assert!(
        !by_name.body.contains("NOTE:secret"),
        "only the selected properties"
    );

    let by_email = addressbook_query(
        &dav,
        r#"<C:prop-filter name="EMAIL"><C:text-match>@home.</C:text-match></C:prop-filter>"#,
        "",
    );
    assert_eq!(by_email.body.matches("<d:response>").count(), 1);
    assert!(by_email.body.contains("FN:Ben Sample"));

    let limited = addressbook_query(&dav, "", "<C:limit><C:nresults>2</C:nresults></C:limit>");
    assert_eq!(limited.body.matches("<d:getetag>").count(), 2);
    assert!(
        limited.body.contains("507") && limited.body.contains("number-of-matches-within-limits")
    );

    let collation = addressbook_query(
        &dav,
        r#"<C:prop-filter name="FN"><C:text-match collation="i;klingon">x</C:text-match></C:prop-filter>"#,
        "",
    );
    assert_status(&collation, 403);
    assert!(collation.body.contains("supported-collation"));
    let unknown = addressbook_query(&dav, "<C:no-such-filter/>", "");
    assert_status(&unknown, 403);
    assert!(unknown.body.contains("supported-filter"));
}

fn calendar_query(dav: &Dav, path: &str, filter: &str, data: &str) -> Reply {
    dav.report(
        path,
        &format!(
            r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
               <D:prop><D:getetag/>{data}</D:prop><C:filter>{filter}</C:filter></C:calendar-query>"#
        ),
    )
}

fn events_in(dav: &Dav, start: &str, end: &str) -> usize {
    let filter = format!(
        r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter>"#
    );
    let reply = calendar_query(dav, CAL, &filter, "");
    assert_status(&reply, 207);
    reply.body.matches("<d:response>").count()
}

#[test]
fn calendar_query_finds_recurring_instances_where_they_really_are() {
    let server = TestServer::start();
    let dav = alice(&server);
    let series =
        std::fs::read_to_string(fixture("ical/thunderbird_recurring_override.ics")).unwrap();
    assert_status(
        &dav.put(&format!("{CAL}series.ics"), "text/calendar", &series, &[]),
        201,
    );

    // Tuesdays 09:00 Europe/Berlin, 2024-01-09 to 2024-06-25.
    assert_eq!(
        events_in(&dav, "20240116T073000Z", "20240116T081500Z"),
        1,
        "winter: 08:00Z"
    );
    assert_eq!(
        events_in(&dav, "20240409T063000Z", "20240409T071500Z"),
        1,
        "summer: 07:00Z"
    );
    assert_eq!(
        events_in(&dav, "20240409T073000Z", "20240409T081500Z"),
        0,
        "not an hour late"
    );
    assert_eq!(
        events_in(&dav, "20240402T000000Z", "20240403T000000Z"),
        0,
        "EXDATE"
    );
    assert_eq!(
        events_in(&dav, "20240305T000000Z", "20240306T000000Z"),
        0,
        "moved away"
    );
    assert_eq!(
        events_in(&dav, "20240307T125000Z", "20240307T131000Z"),
        1,
        "moved here"
    );
    assert_eq!(
        events_in(&dav, "20240702T000000Z", "20240703T000000Z"),
        0,
        "after UNTIL"
    );

    let text = calendar_query(
        &dav,
        CAL,
        r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
           <C:prop-filter name="SUMMARY"><C:text-match>MOVED TO</C:text-match></C:prop-filter>
           </C:comp-filter></C:comp-filter>"#,
        "",
    );
    assert_eq!(text.body.matches("<d:response>").count(), 1);

    let expanded = calendar_query(
        &dav,
        CAL,
        r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20240301T000000Z" end="20240316T000000Z"/></C:comp-filter></C:comp-filter>"#,
        r#"<C:calendar-data><C:expand start="20240301T000000Z" end="20240316T000000Z"/></C:calendar-data>"#,
    );
    assert_status(&expanded, 207);
    // 2024-03-05 moved to 03-07 13:00Z, and 03-12 at 08:00Z.
    assert!(
        expanded.body.contains("RECURRENCE-ID:20240305T080000Z"),
        "{}",
        expanded.body
    );
    assert!(expanded.body.contains("DTSTART:20240307T130000Z"));
    assert!(expanded.body.contains("RECURRENCE-ID:20240312T080000Z"));
    assert!(!expanded.body.contains("RRULE"));

    let free_busy = dav.report(
        CAL,
        r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20240304T000000Z" end="20240315T000000Z"/></C:free-busy-query>"#,
    );
    assert_status(&free_busy, 200);
    assert!(free_busy
        .header("content-type")
        .unwrap()
        .starts_with("text/calendar"));
    assert!(
        free_busy
            .body
            .contains("FREEBUSY:20240307T130000Z/20240307T133000Z\r\n"),
        "{}",
        free_busy.body
    );
    assert!(free_busy
        .body
        .contains("FREEBUSY:20240312T080000Z/20240312T083000Z\r\n"));
    assert_eq!(free_busy.body.matches("FREEBUSY:").count(), 2);

    for (uid, completed) in [("open", false), ("done", true)] {
        let extra = if completed {
            "STATUS:COMPLETED\r\nCOMPLETED:20240301T100000Z\r\n"
        } else {
            "STATUS:NEEDS-ACTION\r\n"
        };
        let todo = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VTODO\r\nUID:{uid}\r\nDTSTAMP:20240101T000000Z\r\nSUMMARY:{uid}\r\n{extra}END:VTODO\r\nEND:VCALENDAR\r\n"
        );
        assert_status(
            &dav.put(&format!("{CAL}{uid}.ics"), "text/calendar", &todo, &[]),
            201,
        );
    }
    let open = calendar_query(
        &dav,
        CAL,
        r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO">
           <C:prop-filter name="COMPLETED"><C:is-not-defined/></C:prop-filter>
           <C:prop-filter name="STATUS"><C:text-match negate-condition="yes">COMPLETED</C:text-match></C:prop-filter>
           </C:comp-filter></C:comp-filter>"#,
        "",
    );
    assert_eq!(open.body.matches("<d:response>").count(), 1);
    assert!(open.body.contains("open.ics"));

    let invalid = calendar_query(
        &dav,
        CAL,
        r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20240301T000000"/></C:comp-filter></C:comp-filter>"#,
        "",
    );
    assert_status(&invalid, 403);
    assert!(invalid.body.contains("valid-filter"));
    // RFC 4791 §7.8: no time-range on VCALENDAR itself (it was ignored,
    // answering with every object).
    let on_vcalendar = calendar_query(
        &dav,
        CAL,
        r#"<C:comp-filter name="VCALENDAR"><C:time-range start="20300101T000000Z" end="20300102T000000Z"/></C:comp-filter>"#,
        "",
    );
    assert_status(&on_vcalendar, 403);
    assert!(on_vcalendar.body.contains("valid-filter"));
}

#[test]
fn calendar_data_is_narrowed_alike_in_queries_and_multigets() {
    let server = TestServer::start();
    let dav = alice(&server);
    let series =
        std::fs::read_to_string(fixture("ical/thunderbird_recurring_override.ics")).unwrap();
    let href = format!("{CAL}series.ics");
    assert_status(&dav.put(&href, "text/calendar", &series, &[]), 201);
    let multiget = |data: &str| {
        dav.report(
            CAL,
            &format!(
                r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
                   <D:prop><D:getetag/>{data}</D:prop><D:href>{href}</D:href></C:calendar-multiget>"#
            ),
        )
    };

    // Plain calendar-data: the stored bytes.
    let whole = multiget("<C:calendar-data/>");
    assert_status(&whole, 207);
    assert!(whole.body.contains("RRULE:"), "{}", whole.body);

    // expand in a multiget, as in a query: instances in UTC, no rule.
    let expand = r#"<C:calendar-data><C:expand start="20240301T000000Z" end="20240316T000000Z"/></C:calendar-data>"#;
    let expanded = multiget(expand);
    assert_status(&expanded, 207);
    assert!(
        expanded.body.contains("RECURRENCE-ID:20240305T080000Z"),
        "{}",
        expanded.body
    );
    assert!(expanded.body.contains("RECURRENCE-ID:20240312T080000Z"));
    assert!(!expanded.body.contains("RRULE"));
    let query = calendar_query(
        &dav,
        CAL,
        r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter>"#,
        expand,
    );
    let data = |body: &str| {
        let start = body.find("BEGIN:VCALENDAR").unwrap();
        let end = body.find("END:VCALENDAR").unwrap();
        body[start..end].to_string()
    };
    assert_eq!(data(&query.body), data(&expanded.body));

    // comp/prop selection in a multiget.
    let selected = multiget(
        r#"<C:calendar-data><C:comp name="VCALENDAR"><C:comp name="VEVENT"><C:prop name="UID"/><C:prop name="DTSTART"/></C:comp></C:comp></C:calendar-data>"#,
    );
    assert_status(&selected, 207);
    assert!(selected.body.contains("UID:"));
    assert!(!selected.body.contains("SUMMARY"), "{}", selected.body);
    assert!(!selected.body.contains("VTIMEZONE"));

    // limit-recurrence-set: the master stays, the override of 2024-03-05
    // only when the range bears on it.
    let limited = |start: &str, end: &str| {
        multiget(&format!(
            r#"<C:calendar-data><C:limit-recurrence-set start="{start}" end="{end}"/></C:calendar-data>"#
        ))
        .body
    };
    let march = limited("20240301T000000Z", "20240316T000000Z");
    assert!(march.contains("RRULE:"), "{march}");
    assert!(march.contains("RECURRENCE-ID"), "{march}");
    let may = limited("20240501T000000Z", "20240516T000000Z");
    assert!(may.contains("RRULE:"), "{may}");
    assert!(!may.contains("RECURRENCE-ID"), "{may}");

    // Both bounds are required, and a bad request appends nothing.
    let records = server.log_records();
    let half =
        multiget(r#"<C:calendar-data><C:expand start="20240301T000000Z"/></C:calendar-data>"#);
    assert_status(&half, 403);
    assert!(half.body.contains("valid-filter"), "{}", half.body);
    assert_eq!(server.log_records(), records);
}

#[test]
fn queries_are_bounded_per_object_and_per_query() {
    let server = TestServer::start_with(
        &[],
        &["--max-instances", "50", "--max-query-instances", "80"],
    );
    let dav = alice(&server);
    for uid in ["daily-a", "daily-b"] {
        let body = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260101T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY\r\nSUMMARY:{uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        assert_status(
            &dav.put(&format!("{CAL}{uid}.ics"), "text/calendar", &body, &[]),
            201,
        );
    }
    let filter = |start: &str, end: &str| {
        format!(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter>"#
        )
    };
    let expand = |start: &str, end: &str| {
        format!(r#"<C:calendar-data><C:expand start="{start}" end="{end}"/></C:calendar-data>"#)
    };
    // 40 days: 40 instances per object, 80 in all: within both limits.
    let (a, b) = ("20260201T000000Z", "20260313T000000Z");
    let fits = calendar_query(&dav, CAL, &filter(a, b), &expand(a, b));
    assert_status(&fits, 207);
    assert_eq!(fits.body.matches("RECURRENCE-ID").count(), 80);
    // 45 days: each object is under 50, the query over 80.
    let (a, b) = ("20260201T000000Z", "20260318T000000Z");
    let too_many = calendar_query(&dav, CAL, &filter(a, b), &expand(a, b));
    assert_status(&too_many, 403);
    assert!(too_many.body.contains("in one query"), "{}", too_many.body);
    // 60 days: one object alone is over 50, and is named.
    let (a, b) = ("20260201T000000Z", "20260402T000000Z");
    let one = calendar_query(&dav, CAL, &filter(a, b), &expand(a, b));
    assert_status(&one, 403);
    assert!(one.body.contains("daily-a.ics"), "{}", one.body);
    // Matching alone stops at the first instance: no limit applies.
    let plain = calendar_query(
        &dav,
        CAL,
        &filter("20260201T000000Z", "20270101T000000Z"),
        "",
    );
    assert_status(&plain, 207);
    assert_eq!(plain.body.matches("<d:response>").count(), 2);
    let free_busy = dav.report(
        CAL,
        r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20260201T000000Z" end="20260318T000000Z"/></C:free-busy-query>"#,
    );
    assert_status(&free_busy, 403);
}
