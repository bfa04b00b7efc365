//! Sharing calendars and address books over DAV (calendarserver-sharing's
//! `CS:share` POST), seen from the owner and the sharee, against a running
//! `reprise serve`.

use crate::common;

use crate::common::api::Api;
use crate::common::cmd::ok;
use crate::common::http::{assert_status, Dav, Reply};
use crate::common::server::TestServer;
use serde_json::json;

const ALICE_WORK: &str = "/dav/calendars/alice@example.com/work/";
const BOB_HOME: &str = "/dav/calendars/bob@example.com/";
/// Alice's `work` calendar as Bob sees it, bound into his home.
const BOB_WORK: &str = "/dav/calendars/bob@example.com/work@alice@example.com/";

fn add_user(server: &TestServer, login: &str, email: &str, extra: &[&str]) {
    let mut cmd = server.command();
    cmd.args([
        "--server",
        &server.url,
        "user",
        "add",
        login,
        "--email",
        email,
    ])
    .args(extra)
    .arg("--password-stdin");
    ok(cmd, &format!("{login}-secret\n"));
}

fn share(sharee: &str, access: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<CS:share xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">
  <CS:set><D:href>{sharee}</D:href><CS:summary>Work</CS:summary><CS:{access}/></CS:set>
</CS:share>"#
    )
}

fn unshare(sharee: &str) -> String {
    format!(
        r#"<CS:share xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">
  <CS:remove><D:href>{sharee}</D:href></CS:remove></CS:share>"#
    )
}

fn post(dav: &Dav, path: &str, body: &str) -> Reply {
    dav.request(
        "POST",
        path,
        &[("Content-Type", "application/xml; charset=utf-8")],
        body,
    )
}

const PROPPATCH: &str = r#"<propertyupdate xmlns="DAV:"><set><prop><displayname>Mine</displayname></prop></set></propertyupdate>"#;

const PROPS: &str = r#"<propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/">
  <prop><resourcetype/><owner/><current-user-privilege-set/><CS:getctag/><sync-token/><CS:invite/><displayname/></prop></propfind>"#;

/// The `<d:response>` of `href` in a multistatus.
fn response_for<'a>(body: &'a str, href: &str) -> Option<&'a str> {
    let at = body.find(&format!("<d:href>{href}</d:href>"))?;
    let end = body[at..]
        .find("</d:response>")
        .map_or(body.len(), |e| at + e);
    Some(&body[at..end])
}

fn text_of<'a>(response: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let start = response
        .find(&open)
        .unwrap_or_else(|| panic!("{tag} in {response}"))
        + open.len();
    let end = response[start..].find('<').unwrap() + start;
    &response[start..end]
}

#[test]
fn an_owner_shares_a_calendar_and_the_sharee_reads_and_writes_it_in_their_own_home() {
    let server = TestServer::start();
    let alice = Dav::new(server.port, "alice", "alice-secret");
    let bob = Dav::new(server.port, "bob", "bob-secret");
    add_user(&server, "dave", "dave@other.org", &[]);
    assert_status(&alice.request("MKCALENDAR", ALICE_WORK, &[], ""), 201);
    let event = common::ical("standup", "Standup");
    assert_status(
        &alice.put(
            &format!("{ALICE_WORK}standup.ics"),
            "text/calendar",
            &event,
            &[],
        ),
        201,
    );
    // Before any share, the bound name is nothing to Bob.
    assert_status(&bob.get(&format!("{BOB_WORK}standup.ics")), 404);

    // Bad shares are refused and append nothing.
    let before = server.log_records();
    for (sharee, status) in [
        ("mailto:alice@example.com", 403),
        ("mailto:nobody@example.com", 409),
        ("mailto:dave@other.org", 403),
        ("/dav/principals/groups/nogroup@example.com/", 409),
    ] {
        let reply = post(&alice, ALICE_WORK, &share(sharee, "read"));
        assert_status(&reply, status);
    }
    assert_status(&post(&alice, ALICE_WORK, "<not-share/>"), 400);
    assert_status(
        &post(
            &alice,
            "/dav/calendars/alice@example.com/",
            &share("mailto:bob@example.com", "read"),
        ),
        405,
    );
    assert_eq!(server.log_records(), before);

    // Read access: Bob finds it in his own home and reads it.
    assert_status(
        &post(&alice, ALICE_WORK, &share("mailto:bob@example.com", "read")),
        200,
    );
    assert_eq!(server.log_records(), before + 1);
    let home = bob.propfind(BOB_HOME, "1", PROPS);
    assert_status(&home, 207);
    let bound = response_for(&home.body, BOB_WORK).expect("the share in Bob's home");
    assert!(bound.contains("<cs:shared/>"), "{bound}");
    assert!(
        bound.contains("/dav/principals/alice@example.com/"),
        "{bound}"
    );
    assert!(bound.contains("<d:read/>") && !bound.contains("<d:write-content/>"));
    let owner_view = alice.propfind(ALICE_WORK, "0", PROPS);
    let own = response_for(&owner_view.body, ALICE_WORK).unwrap();
    assert!(own.contains("<cs:shared-owner/>"), "{own}");
    assert!(own.contains("/dav/principals/bob@example.com/") && own.contains("<cs:read/>"));
    // The same collection: the same tokens on both sides.
    assert_eq!(text_of(bound, "cs:getctag"), text_of(own, "cs:getctag"));
    assert_eq!(text_of(bound, "d:sync-token"), text_of(own, "d:sync-token"));
    let got = bob.get(&format!("{BOB_WORK}standup.ics"));
    assert_status(&got, 200);
    assert_eq!(got.body, event);
    let alice_etag = alice.get(&format!("{ALICE_WORK}standup.ics")).etag();
    assert_eq!(got.etag(), alice_etag);

    // Read only: Bob's writes are refused before anything is appended.
    let before = server.log_records();
    let bobs = common::ical("bobs", "Bob's");
    let refused = bob.put(&format!("{BOB_WORK}bobs.ics"), "text/calendar", &bobs, &[]);
    assert_status(&refused, 403);
    assert!(refused.body.contains("need-privileges"), "{}", refused.body);
    assert_status(
        &bob.request("DELETE", &format!("{BOB_WORK}standup.ics"), &[], ""),
        403,
    );
    assert_status(
        &bob.request(
            "PROPPATCH",
            BOB_WORK,
            &[("Content-Type", "application/xml")],
            r#"<propertyupdate xmlns="DAV:"><set><prop><displayname>Mine</displayname></prop></set></propertyupdate>"#,
        ),
        207,
    );
    // Nor can a sharee share it on.
    assert_status(
        &post(&bob, BOB_WORK, &share("mailto:alice@example.com", "read")),
        403,
    );
    assert_eq!(server.log_records(), before);

    // Read-write: Bob's write lands in Alice's calendar, in her partition.
    assert_status(
        &post(
            &alice,
            ALICE_WORK,
            &share("mailto:bob@example.com", "read-write"),
        ),
        200,
    );
    let token_before = text_of(
        response_for(&alice.propfind(ALICE_WORK, "0", PROPS).body, ALICE_WORK).unwrap(),
        "d:sync-token",
    )
    .to_string();
    let written = bob.put(&format!("{BOB_WORK}bobs.ics"), "text/calendar", &bobs, &[]);
    assert_status(&written, 201);
    let mine = alice.get(&format!("{ALICE_WORK}bobs.ics"));
    assert_status(&mine, 200);
    assert_eq!(mine.etag(), written.etag());
    let changes = alice.report(
        ALICE_WORK,
        &format!(
            r#"<sync-collection xmlns="DAV:"><sync-token>{token_before}</sync-token><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>"#
        ),
    );
    assert!(
        changes.body.contains(&format!("{ALICE_WORK}bobs.ics")),
        "{}",
        changes.body
    );
    // A UID clash in the owner's calendar names the href Bob sees.
    let clash = bob.put(&format!("{BOB_WORK}other.ics"), "text/calendar", &bobs, &[]);
    assert_status(&clash, 409);
    assert!(
        clash.body.contains(&format!("{BOB_WORK}bobs.ics")),
        "{}",
        clash.body
    );
    // Moving between owners would need two partitions: refused; copying works.
    let copy_to = |method: &str| {
        bob.request(
            method,
            &format!("{BOB_WORK}bobs.ics"),
            &[(
                "Destination",
                "/dav/calendars/bob@example.com/default/copied.ics",
            )],
            "",
        )
    };
    assert_status(&copy_to("MOVE"), 403);
    assert_status(&copy_to("COPY"), 201);

    // Revoking removes access on the next request.
    assert_status(
        &post(&alice, ALICE_WORK, &unshare("mailto:bob@example.com")),
        200,
    );
    assert_status(&bob.get(&format!("{BOB_WORK}standup.ics")), 404);
    let home = bob.propfind(BOB_HOME, "1", PROPS);
    assert!(!home.body.contains("work@alice"), "{}", home.body);
    let again = bob.put(&format!("{BOB_WORK}late.ics"), "text/calendar", &bobs, &[]);
    assert_status(&again, 409);

    // A sharee may leave a share: DELETE of the bound collection.
    assert_status(
        &post(
            &alice,
            ALICE_WORK,
            &share("/dav/principals/bob@example.com/", "read"),
        ),
        200,
    );
    assert_status(&bob.request("DELETE", BOB_WORK, &[], ""), 204);
    assert_status(&bob.get(&format!("{BOB_WORK}standup.ics")), 404);
    assert_status(&alice.get(&format!("{ALICE_WORK}standup.ics")), 200);
    let invite = alice.propfind(ALICE_WORK, "0", PROPS);
    assert!(!invite.body.contains("bob@example.com"), "{}", invite.body);
}

#[test]
fn every_user_reads_their_domains_directory_in_their_address_book_home() {
    let server = TestServer::start();
    add_user(&server, "dave", "dave@other.org", &["--name", "Dave"]);
    let bob = Dav::new(server.port, "bob", "bob-secret");
    let gal = "/dav/addressbooks/bob@example.com/directory@example.com/";
    let home = bob.propfind("/dav/addressbooks/bob@example.com/", "1", PROPS);
    assert_status(&home, 207);
    let listed = response_for(&home.body, gal).expect("the directory in Bob's home");
    assert!(
        listed.contains("<d:read/>") && !listed.contains("write"),
        "{listed}"
    );
    let card = bob.get(&format!("{gal}user-alice.vcf"));
    assert_status(&card, 200);
    assert!(
        card.body.contains("FN:Alice") && card.body.contains("EMAIL"),
        "{}",
        card.body
    );
    let sync = bob.report(
        gal,
        r#"<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>"#,
    );
    assert_status(&sync, 207);
    assert!(
        sync.body.contains("user-bob.vcf") && !sync.body.contains("dave"),
        "{}",
        sync.body
    );
    // Read only, and another domain's directory is not there.
    let before = server.log_records();
    let put = bob.put(
        &format!("{gal}mine.vcf"),
        "text/vcard",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:mine\r\nFN:Mine\r\nEND:VCARD\r\n",
        &[],
    );
    assert_status(&put, 403);
    assert_status(
        &bob.request("DELETE", &format!("{gal}user-alice.vcf"), &[], ""),
        403,
    );
    assert_status(&bob.request("DELETE", gal, &[], ""), 403);
    assert_eq!(server.log_records(), before);
    assert_status(
        &bob.get("/dav/addressbooks/bob@example.com/directory@other.org/user-dave.vcf"),
        404,
    );
}

#[test]
fn principals_are_found_by_name_and_email_within_the_domain() {
    let server = TestServer::start();
    add_user(
        &server,
        "carol",
        "carol.martin@example.com",
        &["--name", "Carol Martin"],
    );
    add_user(
        &server,
        "dave",
        "dave@other.org",
        &["--name", "Dave Martin"],
    );
    let bob = Dav::new(server.port, "bob", "bob-secret");
    let search = |body: &str| {
        bob.request(
            "REPORT",
            "/dav/principals/",
            &[("Depth", "0"), ("Content-Type", "application/xml")],
            body,
        )
    };
    let by_name_body = r#"<D:principal-property-search xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:property-search><D:prop><D:displayname/></D:prop><D:match>martin</D:match></D:property-search>
  <D:prop><D:displayname/><C:calendar-user-address-set/><C:calendar-user-type/></D:prop>
</D:principal-property-search>"#;
    let by_name = search(by_name_body);
    assert_status(&by_name, 207);
    assert!(
        by_name.body.contains("/dav/principals/carol@example.com/"),
        "{}",
        by_name.body
    );
    assert!(by_name.body.contains("mailto:carol.martin@example.com"));
    assert!(by_name.body.contains("INDIVIDUAL"));
    // Another domain's principals are never found, nor readable.
    assert!(!by_name.body.contains("dave"), "{}", by_name.body);
    assert_status(
        &bob.propfind("/dav/principals/dave@other.org/", "0", PROPS),
        403,
    );
    let by_email = search(
        r#"<D:principal-property-search xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" test="anyof">
  <D:property-search><D:prop><C:calendar-user-address-set/></D:prop><D:match match-type="starts-with">carol.m</D:match></D:property-search>
  <D:property-search><D:prop><D:displayname/></D:prop><D:match>zzz</D:match></D:property-search>
  <D:prop><D:displayname/></D:prop>
</D:principal-property-search>"#,
    );
    assert!(by_email.body.contains("Carol Martin"), "{}", by_email.body);
    let all_of = search(
        r#"<D:principal-property-search xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:property-search><D:prop><C:calendar-user-address-set/></D:prop><D:match>carol</D:match></D:property-search>
  <D:property-search><D:prop><D:displayname/></D:prop><D:match>zzz</D:match></D:property-search>
  <D:prop><D:displayname/></D:prop>
</D:principal-property-search>"#,
    );
    assert!(!all_of.body.contains("Carol"), "{}", all_of.body);
    // Searches see every directory change at once: a new user, a renamed
    // one, a disabled one.
    let martins = || search(by_name_body).body.matches("<d:response>").count();
    add_user(
        &server,
        "erin",
        "erin@example.com",
        &["--name", "Erin Martin"],
    );
    assert_eq!(martins(), 2);
    let mut rename = server.command();
    rename.args([
        "--server",
        &server.url,
        "user",
        "update",
        "carol",
        "--name",
        "Carol Smith",
    ]);
    ok(rename, "");
    assert_eq!(martins(), 1);
    let mut disable = server.command();
    disable.args(["--server", &server.url, "user", "disable", "erin"]);
    ok(disable, "");
    assert_eq!(martins(), 0);
    let set = bob.request(
        "REPORT",
        "/dav/principals/",
        &[("Depth", "0")],
        r#"<D:principal-search-property-set xmlns:D="DAV:"/>"#,
    );
    assert_status(&set, 200);
    assert!(
        set.body.contains("calendar-user-address-set"),
        "{}",
        set.body
    );
    assert_status(
        &search(
            r#"<D:principal-property-search xmlns:D="DAV:"><D:property-search><D:prop/><D:match>x</D:match></D:property-search></D:principal-property-search>"#,
        ),
        400,
    );
}

/// Someone the access matrix tries every request (DAV, admin API, mail
/// API) as.
struct Actor {
    name: &'static str,
    /// None: no credentials at all.
    dav: Option<Dav>,
    /// Their own principal (their homes hold bound collections).
    principal: &'static str,
}

impl Actor {
    fn send(&self, port: u16, method: &str, path: &str, body: &str) -> Reply {
        let path = path.replace("{me}", self.principal);
        let destination = format!("/dav/calendars/{}/default/copy.ics", self.principal);
        let content_type = if path.starts_with("/admin/") || path.starts_with("/api/") {
            "application/json"
        } else if method == "PUT" {
            "text/calendar"
        } else {
            "application/xml"
        };
        let headers: &[(&str, &str)] = &[
            ("Depth", "1"),
            ("Content-Type", content_type),
            ("Destination", &destination),
        ];
        match &self.dav {
            Some(dav) => dav.request(method, &path, headers, body),
            None => common::http::send(port, method, &path, headers, body.as_bytes()),
        }
    }
}

#[test]
fn every_actor_gets_exactly_its_access_on_every_path() {
    let server = TestServer::start();
    let port = server.port;
    add_user(&server, "carol", "carol@example.com", &[]);
    add_user(&server, "erin", "erin@example.com", &[]);
    add_user(&server, "frank", "frank@example.com", &[]);
    add_user(&server, "dave", "dave@other.org", &[]);
    add_user(&server, "root", "root@example.com", &["--admin"]);
    let alice = Dav::new(port, "alice", "alice-secret");
    assert_status(&alice.request("MKCALENDAR", ALICE_WORK, &[], ""), 201);
    let secret = common::ical("secret", "Secret standup");
    for object in ["secret.ics", "carol.ics"] {
        let body = secret.replace("UID:secret", &format!("UID:{object}"));
        assert_status(
            &alice.put(
                &format!("{ALICE_WORK}{object}"),
                "text/calendar",
                &body,
                &[],
            ),
            201,
        );
    }
    for (sharee, access) in [
        ("mailto:bob@example.com", "read"),
        ("mailto:carol@example.com", "read-write"),
        ("mailto:frank@example.com", "read"),
    ] {
        assert_status(&post(&alice, ALICE_WORK, &share(sharee, access)), 200);
    }
    let mut disable = server.command();
    disable.args(["--server", &server.url, "user", "disable", "frank"]);
    ok(disable, "");

    let actor = |name, login: &'static str, principal| Actor {
        name,
        dav: Some(Dav::new(port, login, &format!("{login}-secret"))),
        principal,
    };
    let mut owner = actor("owner", "alice", "alice@example.com");
    owner.dav = Some(Dav::new(port, "alice", "alice-secret"));
    let mut reader = actor("sharee (read)", "bob", "bob@example.com");
    reader.dav = Some(Dav::new(port, "bob", "bob-secret"));
    let actors = [
        owner,
        reader,
        actor("sharee (read-write)", "carol", "carol@example.com"),
        actor("same domain", "erin", "erin@example.com"),
        actor("other domain", "dave", "dave@other.org"),
        actor("disabled sharee", "frank", "frank@example.com"),
        actor("admin", "root", "root@example.com"),
        Actor {
            name: "no credentials",
            dav: None,
            principal: "nobody@example.com",
        },
    ];
    let put_body = common::ical("new", "New");
    let report_sync = r#"<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>"#;
    let multiget = format!(
        r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop><D:href>{ALICE_WORK}secret.ics</D:href><D:href>/dav/calendars/{{me}}/work@alice@example.com/secret.ics</D:href></C:calendar-multiget>"#
    );
    let query = r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>"#;
    let share_bob = share("mailto:bob@example.com", "read");
    let bound = "/dav/calendars/{me}/work@alice@example.com/";
    let gal = "/dav/addressbooks/{me}/directory@example.com/";
    let search = r#"<D:principal-property-search xmlns:D="DAV:"><D:property-search><D:prop><D:displayname/></D:prop><D:match>alice</D:match></D:property-search><D:prop><D:displayname/></D:prop></D:principal-property-search>"#;
    let admin_shares = "/admin/v1/users/alice@example.com/calendars/work/shares";
    // (method, path, body, expected status for each actor in order:
    //  owner, read, read-write, same domain, other domain, disabled, admin, none)
    let direct_object = format!("{ALICE_WORK}secret.ics");
    #[rustfmt::skip]
    let rows: Vec<(&str, String, String, [u16; 8])> = vec![
        ("PROPFIND", "/dav/calendars/alice@example.com/".into(), String::new(), [207, 403, 403, 403, 403, 403, 403, 401]),
        ("PROPFIND", ALICE_WORK.into(), String::new(), [207, 403, 403, 403, 403, 403, 403, 401]),
        ("GET", direct_object.clone(), String::new(), [200, 403, 403, 403, 403, 403, 403, 401]),
        ("PUT", format!("{ALICE_WORK}x.ics"), put_body.clone(), [201, 403, 403, 403, 403, 403, 403, 401]),
        ("REPORT", ALICE_WORK.into(), report_sync.into(), [207, 403, 403, 403, 403, 403, 403, 401]),
        ("POST", ALICE_WORK.into(), share_bob.clone(), [200, 403, 403, 403, 403, 403, 403, 401]),
        ("PROPFIND", "/dav/principals/alice@example.com/".into(), String::new(), [207, 207, 207, 207, 403, 403, 207, 401]),
        ("PROPPATCH", "/dav/principals/alice@example.com/".into(), PROPPATCH.into(), [207, 403, 403, 403, 403, 403, 403, 401]),
        ("PROPFIND", "/dav/files/alice@example.com/".into(), String::new(), [207, 403, 403, 403, 403, 403, 403, 401]),
        ("PROPFIND", bound.into(), String::new(), [404, 207, 207, 404, 404, 403, 404, 401]),
        ("GET", format!("{bound}secret.ics"), String::new(), [404, 200, 200, 404, 404, 403, 404, 401]),
        ("REPORT", bound.into(), report_sync.into(), [404, 207, 207, 404, 404, 403, 404, 401]),
        ("REPORT", bound.into(), query.into(), [404, 207, 207, 404, 404, 403, 404, 401]),
        ("REPORT", "/dav/calendars/{me}/default/".into(), multiget.clone(), [207, 207, 207, 207, 207, 403, 207, 401]),
        ("PUT", format!("{bound}new.ics"), common::ical("bound-new", "New"), [409, 403, 201, 409, 409, 403, 409, 401]),
        ("DELETE", format!("{bound}carol.ics"), String::new(), [404, 403, 204, 404, 404, 403, 404, 401]),
        ("MOVE", format!("{bound}secret.ics"), String::new(), [404, 403, 403, 404, 404, 403, 404, 401]),
        ("COPY", format!("{bound}secret.ics"), String::new(), [404, 201, 201, 404, 404, 403, 404, 401]),
        ("POST", bound.into(), share_bob.clone(), [404, 403, 403, 404, 404, 403, 404, 401]),
        ("PROPFIND", "/dav/addressbooks/alice@example.com/default/".into(), String::new(), [207, 403, 403, 403, 403, 403, 403, 401]),
        ("PROPFIND", gal.into(), String::new(), [207, 207, 207, 207, 404, 403, 207, 401]),
        ("GET", format!("{gal}user-alice.vcf"), String::new(), [200, 200, 200, 200, 404, 403, 200, 401]),
        ("REPORT", "/dav/principals/".into(), search.into(), [207, 207, 207, 207, 207, 403, 207, 401]),
        ("GET", "/api/v1/mail/alice@example.com/mailboxes/INBOX/seen".into(), String::new(), [200, 403, 403, 403, 403, 403, 200, 401]),
        ("POST", "/api/v1/mail/alice@example.com/mailboxes/INBOX/seen".into(), r#"{"add": "1:5"}"#.into(), [200, 403, 403, 403, 403, 403, 200, 401]),
        ("GET", "/api/v1/mail/{me}/mailboxes/INBOX/seen".into(), String::new(), [200, 200, 200, 200, 200, 403, 200, 401]),
        ("GET", "/admin/v1/users".into(), String::new(), [403, 403, 403, 403, 403, 403, 200, 401]),
        ("GET", admin_shares.into(), String::new(), [403, 403, 403, 403, 403, 403, 200, 401]),
        ("PUT", format!("{admin_shares}/bob@example.com"), r#"{"access": "read"}"#.into(), [403, 403, 403, 403, 403, 403, 200, 401]),
        ("GET", "/admin/v1/projections/status".into(), String::new(), [403, 403, 403, 403, 403, 403, 200, 401]),
    ];
    for (method, path, body, expected) in &rows {
        for (actor, want) in actors.iter().zip(expected) {
            // Everyone's own default calendar exists; the owner's multiget
            // is answered like anyone's, per href.
            let reply = actor.send(port, method, path, body);
            assert_eq!(
                reply.status, *want,
                "{} {method} {path}: {}",
                actor.name, reply.body
            );
            let reads = matches!(*want, 200 | 207) && actor.name.starts_with("sharee")
                || actor.name == "owner";
            if !reads && *method != "PROPFIND" {
                assert!(
                    !reply.body.contains("Secret standup"),
                    "{} {method} {path} leaked: {}",
                    actor.name,
                    reply.body
                );
            }
        }
    }
}

/// `reprise --server ...` against the test server; its output.
fn cli(server: &TestServer, args: &[&str]) -> String {
    let mut cmd = server.command();
    cmd.args(["--server", &server.url]).args(args);
    ok(cmd, "")
}

/// Whether `who` can read Alice's shared `work` calendar through their
/// own home.
fn sees_work(server: &TestServer, who: &str) -> bool {
    let dav = Dav::new(server.port, who, &format!("{who}-secret"));
    let path = format!("/dav/calendars/{who}@example.com/work@alice@example.com/standup.ics");
    let reply = dav.get(&path);
    assert!(matches!(reply.status, 200 | 404), "{who}: {reply:?}");
    reply.status == 200
}

#[test]
fn group_grants_follow_nested_membership_and_the_admin_api_manages_shares() {
    let server = TestServer::start();
    let alice = Dav::new(server.port, "alice", "alice-secret");
    for login in ["carol", "erin"] {
        add_user(&server, login, &format!("{login}@example.com"), &[]);
    }
    add_user(&server, "dave", "dave@other.org", &[]);
    assert_status(&alice.request("MKCALENDAR", ALICE_WORK, &[], ""), 201);
    let standup = common::ical("standup", "Standup");
    let put = alice.put(
        &format!("{ALICE_WORK}standup.ics"),
        "text/calendar",
        &standup,
        &[],
    );
    assert_status(&put, 201);

    // team ⊃ {bob, leads}, leads ⊃ {carol}.
    cli(
        &server,
        &[
            "group",
            "add",
            "team@example.com",
            "--email",
            "team@example.com",
        ],
    );
    cli(&server, &["group", "add", "leads@example.com"]);
    cli(
        &server,
        &[
            "group",
            "add-member",
            "leads@example.com",
            "--user",
            "carol",
        ],
    );
    cli(
        &server,
        &[
            "group",
            "add-member",
            "team@example.com",
            "--group",
            "leads",
        ],
    );
    cli(
        &server,
        &["group", "add-member", "team@example.com", "--user", "bob"],
    );
    let shown = cli(
        &server,
        &[
            "share",
            "grant",
            "alice@example.com",
            "--calendar",
            "work",
            "--to",
            "group:team@example.com",
            "--access",
            "read-write",
        ],
    );
    assert!(
        shown.contains("group:team@example.com") && shown.contains("read-write"),
        "{shown}"
    );
    assert!(sees_work(&server, "bob") && sees_work(&server, "carol"));
    assert!(!sees_work(&server, "erin"));
    // Carol writes through the grant of a group she is in by nesting.
    let carol = Dav::new(server.port, "carol", "carol-secret");
    let bound = "/dav/calendars/carol@example.com/work@alice@example.com/";
    let note = common::ical("from-carol", "From Carol");
    assert_status(
        &carol.put(
            &format!("{bound}from-carol.ics"),
            "text/calendar",
            &note,
            &[],
        ),
        201,
    );
    assert_status(&alice.get(&format!("{ALICE_WORK}from-carol.ics")), 200);

    // Membership changes move access with them, at the next request.
    cli(
        &server,
        &[
            "group",
            "remove-member",
            "team@example.com",
            "--group",
            "leads",
        ],
    );
    assert!(!sees_work(&server, "carol") && sees_work(&server, "bob"));
    assert_status(
        &carol.put(&format!("{bound}again.ics"), "text/calendar", &note, &[]),
        409,
    );
    cli(
        &server,
        &[
            "group",
            "remove-member",
            "team@example.com",
            "--user",
            "bob",
        ],
    );
    assert!(!sees_work(&server, "bob"));
    cli(
        &server,
        &["group", "add-member", "team@example.com", "--user", "erin"],
    );
    assert!(sees_work(&server, "erin"));

    // The admin API lists, grants and revokes like the command.
    let api = Api::token(&server).under("/admin/v1");
    let shares = "/users/alice@example.com/calendars/work/shares";
    let listed = api.json(shares);
    assert_eq!(listed["owner"], "alice@example.com");
    assert_eq!(
        listed["shares"],
        json!([{"sharee": "group:team@example.com", "access": "read-write"}])
    );
    let granted = api.expect(
        200,
        "PUT",
        &format!("{shares}/bob@example.com"),
        Some(json!({"access": "read"})),
    );
    assert_eq!(
        granted["shares"].as_array().map(Vec::len),
        Some(2),
        "{granted}"
    );
    assert!(sees_work(&server, "bob"));
    let bob = Dav::new(server.port, "bob", "bob-secret");
    let bob_bound = format!("{BOB_WORK}standup.ics");
    assert_status(
        &bob.put(&format!("{BOB_WORK}bob.ics"), "text/calendar", &note, &[]),
        403,
    );
    assert_status(&bob.get(&bob_bound), 200);
    // Revoking the group leaves Bob's own grant; Erin loses hers.
    api.expect(
        200,
        "DELETE",
        &format!("{shares}/group:team@example.com"),
        None,
    );
    assert!(sees_work(&server, "bob") && !sees_work(&server, "erin"));

    // A user deleted and created again does not inherit the old grant,
    // which the owner can still see and withdraw under its name.
    cli(&server, &["user", "delete", "bob@example.com"]);
    add_user(&server, "bob", "bob@example.com", &[]);
    assert!(!sees_work(&server, "bob"));
    let stale = api.json(shares);
    assert_eq!(
        stale["shares"],
        json!([{"sharee": "user:bob@example.com", "access": "read"}])
    );
    let revoked = cli(
        &server,
        &[
            "share",
            "revoke",
            "alice@example.com",
            "--calendar",
            "work",
            "--to",
            "user:bob@example.com",
        ],
    );
    assert!(revoked.contains("not shared"), "{revoked}");
    // A new grant is the new Bob's.
    cli(
        &server,
        &[
            "share",
            "grant",
            "alice@example.com",
            "--calendar",
            "work",
            "--to",
            "bob@example.com",
        ],
    );
    assert!(sees_work(&server, "bob"));

    // Address books are shared the same way.
    cli(
        &server,
        &[
            "share",
            "grant",
            "alice@example.com",
            "--address-book",
            "default",
            "--to",
            "carol@example.com",
        ],
    );
    let book = carol.propfind("/dav/addressbooks/carol@example.com/", "1", PROPS);
    assert!(
        response_for(
            &book.body,
            "/dav/addressbooks/carol@example.com/default@alice@example.com/"
        )
        .is_some(),
        "{}",
        book.body
    );

    // Bad requests get a clear error and append nothing.
    let before = server.log_records();
    #[rustfmt::skip]
    let refused: [(&str, String, Option<serde_json::Value>, u16); 9] = [
        ("PUT", format!("{shares}/nobody@example.com"), Some(json!({"access": "read"})), 404),
        ("PUT", format!("{shares}/group:nogroup@example.com"), Some(json!({"access": "read"})), 404),
        ("PUT", format!("{shares}/alice@example.com"), Some(json!({"access": "read"})), 400),
        ("PUT", format!("{shares}/dave@other.org"), Some(json!({"access": "read"})), 400),
        ("PUT", format!("{shares}/erin@example.com"), Some(json!({"access": "owner"})), 400),
        ("PUT", format!("{shares}/erin@example.com"), Some(json!({"access": "read", "extra": 1})), 400),
        ("PUT", "/users/alice@example.com/calendars/nothing/shares/erin@example.com".into(), Some(json!({"access": "read"})), 404),
        ("GET", "/users/nobody@example.com/calendars/work/shares".into(), None, 404),
        ("GET", "/users/alice@example.com/files/work/shares".into(), None, 404),
    ];
    for (method, path, body, status) in refused {
        api.expect(status, method, &path, body);
    }
    let mut both = server.command();
    both.args([
        "--server",
        &server.url,
        "share",
        "grant",
        "alice@example.com",
        "--calendar",
        "work",
        "--address-book",
        "default",
        "--to",
        "erin",
    ]);
    common::cmd::fails(both, "");
    assert_eq!(server.log_records(), before);
}
