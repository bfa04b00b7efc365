//! Work bounds per request, against a running server with small limits:
//! each request over one is answered with its status (and DAV
//! precondition) before the work, and changes nothing.

use crate::common::http::{assert_status, send_declaring, Dav};
use crate::common::server::TestServer;
use crate::scheduling::meeting;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const CAL: &str = "/dav/calendars/alice@example.com/default/";
const BOOK: &str = "/dav/addressbooks/alice@example.com/default/";
const OUTBOX: &str = "/dav/calendars/alice@example.com/schedule-outbox/";
const XML_LIMIT: usize = 256 * 1024;
const GETCTAG: &str = r#"<propfind xmlns="DAV:"><prop><getctag xmlns="http://calendarserver.org/ns/"/></prop></propfind>"#;

/// A server whose limits are small enough to reach with small requests.
fn server() -> TestServer {
    TestServer::start_with(
        &[],
        &[
            "--max-xml-size",
            &XML_LIMIT.to_string(),
            "--max-resource-size",
            "65536",
            "--max-vcard-size",
            "4096",
            "--max-object-lines",
            "60",
            "--max-multiget-hrefs",
            "5",
            "--max-request-properties",
            "8",
            "--max-attendees",
            "3",
        ],
    )
}

fn alice(server: &TestServer) -> Dav {
    Dav::new(server.port, "alice", "alice-secret")
}

fn ctag(dav: &Dav, collection: &str) -> String {
    let reply = dav.propfind(collection, "0", GETCTAG);
    assert_status(&reply, 207);
    let start = reply.body.find("<cs:getctag>").expect("a ctag") + 12;
    let end = reply.body[start..].find('<').expect("the ctag's end") + start;
    reply.body[start..end].to_string()
}

fn event(uid: &str, extra_lines: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
         DTSTAMP:20310101T000000Z\r\nDTSTART:20310301T100000Z\r\nDURATION:PT1H\r\n{extra_lines}\
         SUMMARY:Limits\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// Names `count` properties of a namespace of our own.
fn props(count: usize) -> String {
    (0..count).map(|i| format!("<x:p{i}/>")).collect()
}

/// Sends `body` with chunked transfer encoding (no Content-Length), so the
/// server only learns its size by reading it. Written from a thread while
/// the answer is read, since the server may answer before reading it all.
fn send_chunked(port: u16, method: &str, path: &str, auth: &str, body: Vec<u8>) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Authorization: {auth}\r\nContent-Type: application/xml\r\nDepth: 0\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        for chunk in body.chunks(16 * 1024) {
            let framed = [
                format!("{:x}\r\n", chunk.len()).as_bytes(),
                chunk,
                b"\r\n".as_slice(),
            ]
            .concat();
            // The server may have answered and closed: stop quietly.
            if writer.write_all(&framed).is_err() {
                return;
            }
        }
        let _ = writer.write_all(b"0\r\n\r\n");
    });
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let _ = sending.join();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    (status, text)
}

#[test]
fn xml_bodies_over_their_limit_get_413_before_being_read() {
    let server = server();
    let dav = alice(&server);
    let auth = crate::common::http::basic_auth("alice", "alice-secret");
    let before = ctag(&dav, CAL);

    // Content-Length says too much: answered without a byte of the body.
    for (method, path) in [
        ("PROPFIND", CAL),
        ("REPORT", CAL),
        ("PROPPATCH", CAL),
        ("MKCALENDAR", "/dav/calendars/alice@example.com/new/"),
        ("MKCOL", "/dav/addressbooks/alice@example.com/new/"),
        ("POST", CAL),
    ] {
        let reply = send_declaring(
            server.port,
            method,
            path,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/xml"),
                ("Depth", "0"),
            ],
            XML_LIMIT as u64 + 1,
        );
        assert_status(&reply, 413);
        assert!(
            reply.body.contains(&format!("{XML_LIMIT} bytes at most")),
            "{method}: {}",
            reply.body
        );
    }

    // A chunked body is refused once it runs over, and changes nothing.
    let name = "x".repeat(XML_LIMIT);
    let proppatch = format!(
        r#"<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>{name}</d:displayname></d:prop></d:set></d:propertyupdate>"#
    );
    let (status, text) = send_chunked(server.port, "PROPPATCH", CAL, &auth, proppatch.into_bytes());
    assert_eq!(status, 413, "{text}");
    assert_eq!(ctag(&dav, CAL), before);

    // Below the limit, however padded, a body is read and answered.
    let padding = " ".repeat(XML_LIMIT - 1024);
    let propfind =
        format!(r#"<propfind xmlns="DAV:">{padding}<prop><displayname/></prop></propfind>"#);
    let (status, text) = send_chunked(server.port, "PROPFIND", CAL, &auth, propfind.into_bytes());
    assert_eq!(status, 207, "{text}");
    // The MKCALENDAR refused above made nothing.
    let made = dav.propfind("/dav/calendars/alice@example.com/new/", "0", "");
    assert_status(&made, 404);
}

#[test]
fn xml_nested_deeper_than_64_is_refused_with_400() {
    let server = server();
    let dav = alice(&server);
    // 30,000 levels, within the size limit: refused at the 65th.
    for depth in [65, 30_000] {
        let body = format!(
            r#"<propfind xmlns="DAV:"><prop>{}{}</prop></propfind>"#,
            "<a>".repeat(depth),
            "</a>".repeat(depth)
        );
        let reply = dav.propfind(CAL, "0", &body);
        assert_status(&reply, 400);
        assert!(
            reply.body.contains("nested deeper than 64"),
            "{}",
            reply.body
        );
    }
    // The server is still there.
    assert_status(&dav.propfind(CAL, "0", GETCTAG), 207);
}

#[test]
fn multigets_and_property_lists_over_their_counts_are_refused() {
    let server = server();
    let dav = alice(&server);
    for i in 0..6 {
        let reply = dav.put(
            &format!("{CAL}{i}.ics"),
            "text/calendar",
            &event(&format!("limits-{i}"), ""),
            &[],
        );
        assert_status(&reply, 201);
    }
    let before = ctag(&dav, CAL);

    let multiget = |root: &str, ns: &str, data: &str, count: usize, collection: &str| {
        let hrefs: String = (0..count)
            .map(|i| format!("<d:href>{collection}{i}.ics</d:href>"))
            .collect();
        dav.report(
            collection,
            &format!(
                r#"<c:{root} xmlns:d="DAV:" xmlns:c="{ns}"><d:prop><d:getetag/><c:{data}/></d:prop>{hrefs}</c:{root}>"#
            ),
        )
    };
    let caldav = "urn:ietf:params:xml:ns:caldav";
    let carddav = "urn:ietf:params:xml:ns:carddav";
    let over = multiget("calendar-multiget", caldav, "calendar-data", 6, CAL);
    assert_status(&over, 403);
    assert!(
        over.body.contains("number-of-matches-within-limits"),
        "{}",
        over.body
    );
    let within = multiget("calendar-multiget", caldav, "calendar-data", 5, CAL);
    assert_status(&within, 207);
    assert_eq!(within.body.matches("BEGIN:VCALENDAR").count(), 5);
    let cards = multiget("addressbook-multiget", carddav, "address-data", 6, BOOK);
    assert_status(&cards, 403);
    assert!(cards.body.contains("number-of-matches-within-limits"));

    let propfind = |count: usize| {
        dav.propfind(
            CAL,
            "1",
            &format!(
                r#"<d:propfind xmlns:d="DAV:" xmlns:x="urn:x"><d:prop>{}</d:prop></d:propfind>"#,
                props(count)
            ),
        )
    };
    let over = propfind(9);
    assert_status(&over, 403);
    assert!(
        over.body.contains("names 9 properties") && over.body.contains("at most 8"),
        "{}",
        over.body
    );
    assert_status(&propfind(8), 207);

    // Properties asked of each object inside a query count too.
    let selected: String = (0..9)
        .map(|i| format!(r#"<c:prop name="X-P{i}"/>"#))
        .collect();
    let query = dav.report(
        CAL,
        &format!(
            r#"<c:calendar-query xmlns:d="DAV:" xmlns:c="{caldav}"><d:prop><c:calendar-data><c:comp name="VCALENDAR"><c:comp name="VEVENT">{selected}</c:comp></c:comp></c:calendar-data></d:prop><c:filter><c:comp-filter name="VCALENDAR"/></c:filter></c:calendar-query>"#
        ),
    );
    assert_status(&query, 403);

    // A PROPPATCH or MKCALENDAR setting too many properties sets none.
    let sets: String = (0..9).map(|i| format!("<x:p{i}>v</x:p{i}>")).collect();
    let proppatch = dav.request(
        "PROPPATCH",
        CAL,
        &[("Content-Type", "application/xml")],
        &format!(
            r#"<d:propertyupdate xmlns:d="DAV:" xmlns:x="urn:x"><d:set><d:prop>{sets}</d:prop></d:set></d:propertyupdate>"#
        ),
    );
    assert_status(&proppatch, 403);
    let read = dav.propfind(
        CAL,
        "0",
        r#"<d:propfind xmlns:d="DAV:" xmlns:x="urn:x"><d:prop><x:p0/></d:prop></d:propfind>"#,
    );
    assert!(read.body.contains("404"), "{}", read.body);
    let new = "/dav/calendars/alice@example.com/many/";
    let mkcalendar = dav.request(
        "MKCALENDAR",
        new,
        &[("Content-Type", "application/xml")],
        &format!(
            r#"<c:mkcalendar xmlns:d="DAV:" xmlns:c="{caldav}" xmlns:x="urn:x"><d:set><d:prop>{sets}</d:prop></d:set></c:mkcalendar>"#
        ),
    );
    assert_status(&mkcalendar, 403);
    assert_status(&dav.propfind(new, "0", ""), 404);
    assert_eq!(ctag(&dav, CAL), before);
}

#[test]
fn objects_over_their_limits_are_refused_and_change_nothing() {
    let server = server();
    let dav = alice(&server);
    let (book, calendar) = (ctag(&dav, BOOK), ctag(&dav, CAL));

    // A vCard over --max-vcard-size: 413 before it is read; the same
    // bytes as a calendar object are within --max-resource-size.
    let photo = "A".repeat(5000);
    let card = format!(
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:big\r\nFN:Big\r\nPHOTO:data:image/jpeg;base64,{photo}\r\nEND:VCARD\r\n"
    );
    let reply = dav.put(&format!("{BOOK}big.vcf"), "text/vcard", &card, &[]);
    assert_status(&reply, 413);
    assert!(
        reply.body.contains("max-resource-size") && reply.body.contains("carddav"),
        "{}",
        reply.body
    );
    assert_eq!(ctag(&dav, BOOK), book);
    let size = dav.propfind(
        BOOK,
        "0",
        r#"<d:propfind xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><card:max-resource-size/></d:prop></d:propfind>"#,
    );
    assert!(size.body.contains(">4096<"), "{}", size.body);
    let long = dav.put(
        &format!("{CAL}long.ics"),
        "text/calendar",
        &event("long", &format!("DESCRIPTION:{photo}\r\n")),
        &[],
    );
    assert_status(&long, 201);
    let calendar_before = ctag(&dav, CAL);
    assert_ne!(calendar_before, calendar);

    // More content lines than --max-object-lines: 403, nothing stored.
    let lines: String = (0..60).map(|i| format!("X-LINE-{i}:x\r\n")).collect();
    let reply = dav.put(
        &format!("{CAL}lines.ics"),
        "text/calendar",
        &event("lines", &lines),
        &[],
    );
    assert_status(&reply, 403);
    assert!(reply.body.contains("60 content lines"), "{}", reply.body);

    // A meeting with more attendees than --max-attendees.
    let attendees = [
        "bob@example.com",
        "carol@example.com",
        "dave@example.com",
        "erin@example.com",
    ];
    let crowded = meeting("crowded", "alice@example.com", &attendees, 3, 10);
    let reply = dav.put(&format!("{CAL}crowded.ics"), "text/calendar", &crowded, &[]);
    assert_status(&reply, 403);
    assert!(reply.body.contains("max-attendees-per-instance"));
    assert_eq!(ctag(&dav, CAL), calendar_before);

    // The outbox: as many attendees bounded, nesting bounded, size bounded.
    let free_busy = |attendees: &[&str]| {
        let asked: String = attendees
            .iter()
            .map(|a| format!("ATTENDEE:mailto:{a}\r\n"))
            .collect();
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nMETHOD:REQUEST\r\n\
             BEGIN:VFREEBUSY\r\nUID:fb\r\nDTSTAMP:20310101T000000Z\r\nDTSTART:20310305T000000Z\r\n\
             DTEND:20310306T000000Z\r\nORGANIZER:mailto:alice@example.com\r\n{asked}\
             END:VFREEBUSY\r\nEND:VCALENDAR\r\n"
        )
    };
    let post = |body: &str| {
        dav.request(
            "POST",
            OUTBOX,
            &[("Content-Type", "text/calendar; charset=utf-8")],
            body,
        )
    };
    let reply = post(&free_busy(&attendees));
    assert_status(&reply, 403);
    assert!(reply.body.contains("max-attendees-per-instance"));
    assert_status(&post(&free_busy(&attendees[..3])), 200);
    let depth = 5_000;
    let nested = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\n{}{}END:VCALENDAR\r\n",
        "BEGIN:VFREEBUSY\r\n".repeat(depth),
        "END:VFREEBUSY\r\n".repeat(depth)
    );
    let reply = post(&nested);
    assert_status(&reply, 400);
    assert!(
        reply.body.contains("nested deeper than 16"),
        "{}",
        reply.body
    );
    let auth = crate::common::http::basic_auth("alice", "alice-secret");
    let reply = send_declaring(
        server.port,
        "POST",
        OUTBOX,
        &[("Authorization", &auth), ("Content-Type", "text/calendar")],
        XML_LIMIT as u64 + 1,
    );
    assert_status(&reply, 413);
    assert_eq!(ctag(&dav, CAL), calendar_before);
    assert_eq!(ctag(&dav, BOOK), book);
}

#[test]
fn dead_properties_are_bounded_per_resource_with_507() {
    let server = server();
    let dav = alice(&server);
    let set = |name: &str, bytes: usize| {
        let value = "v".repeat(bytes);
        dav.request(
            "PROPPATCH",
            CAL,
            &[("Content-Type", "application/xml")],
            &format!(
                r#"<d:propertyupdate xmlns:d="DAV:" xmlns:x="urn:x"><d:set><d:prop><x:{name}>{value}</x:{name}></d:prop></d:set><d:remove><d:prop><x:gone/></d:prop></d:remove></d:propertyupdate>"#
            ),
        )
    };
    // 200 KiB fits the resource's 256 KiB; 200 KiB more does not.
    let first = set("first", 200 * 1024);
    assert_status(&first, 207);
    assert!(first.body.contains("HTTP/1.1 200"), "{}", first.body);
    let before = ctag(&dav, CAL);
    let second = set("second", 200 * 1024);
    assert_status(&second, 207);
    assert!(
        second.body.contains("HTTP/1.1 507") && second.body.contains("HTTP/1.1 424"),
        "{}",
        second.body
    );
    assert_eq!(ctag(&dav, CAL), before);
    let read = dav.propfind(
        CAL,
        "0",
        r#"<d:propfind xmlns:d="DAV:" xmlns:x="urn:x"><d:prop><x:first/><x:second/></d:prop></d:propfind>"#,
    );
    assert!(read.body.contains("<x:first") || read.body.contains("first>"));
    assert!(
        read.body.contains("404"),
        "second was not stored: {}",
        read.body
    );
    // Replacing the first one with the second fits.
    let replace = dav.request(
        "PROPPATCH",
        CAL,
        &[("Content-Type", "application/xml")],
        &format!(
            r#"<d:propertyupdate xmlns:d="DAV:" xmlns:x="urn:x"><d:remove><d:prop><x:first/></d:prop></d:remove><d:set><d:prop><x:second>{}</x:second></d:prop></d:set></d:propertyupdate>"#,
            "v".repeat(200 * 1024)
        ),
    );
    assert_status(&replace, 207);
    assert!(!replace.body.contains("507"), "{}", replace.body);
}
