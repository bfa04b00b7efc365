//! The directory's admin API (`/admin/v1`) against a running `reprise
//! serve`: every endpoint, paging, who may call it, bad input that must
//! append nothing, and deleting a user; the group commands through the
//! binary with `--server`.

use crate::common;

use crate::common::api::Api;
use crate::common::cmd::{fails, ok};
use crate::common::http::{Dav, Reply};
use crate::common::server::TestServer;
use serde_json::{json, Value};

/// The admin API with the local admin token.
fn admin(server: &TestServer) -> Api {
    Api::token(server).under("/admin/v1")
}

fn basic(server: &TestServer, user: &str, password: &str) -> Api {
    Api::basic(server, user, password).under("/admin/v1")
}

/// Every item of a listing, following `next` with pages of `limit`.
fn list_all(api: &Api, path: &str, limit: usize) -> (Vec<Value>, usize) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    let mut pages = 0;
    let mut after: Option<String> = None;
    loop {
        let mut url = format!("{path}{sep}limit={limit}");
        if let Some(a) = &after {
            url.push_str(&format!("&after={a}"));
        }
        let page = api.json(&url);
        pages += 1;
        let got = page["items"].as_array().expect("items").clone();
        assert!(got.len() <= limit, "{page}");
        items.extend(got);
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_string()),
            None => {
                assert!(page["next"].is_null(), "{page}");
                return (items, pages);
            }
        }
    }
}

/// Events of one type for one key, from `log tail`.
fn events_of(server: &TestServer, event_type: &str, key: &str) -> Vec<Value> {
    let mut cmd = server.command();
    cmd.args([
        "--server",
        &server.url,
        "log",
        "tail",
        "--type",
        event_type,
        "--key",
        key,
    ]);
    ok(cmd, "")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn new_user(login: &str, domain: &str, extra: Value) -> Value {
    let mut body = json!({
        "login": login,
        "domain": domain,
        "email": format!("{login}@{domain}"),
        "password": format!("{login}-secret"),
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

fn names(items: &[Value], field: &str) -> Vec<String> {
    items
        .iter()
        .map(|i| i[field].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_endpoint_answers_with_its_shape() {
    let server = TestServer::start();
    let api = admin(&server);

    // Domains.
    let corp = api.expect(
        201,
        "POST",
        "/domains",
        Some(json!({"domain": "Corp.Example", "display_name": "Corp"})),
    );
    assert_eq!(corp["domain"], "corp.example");
    assert_eq!(corp["display_name"], "Corp");
    api.expect(
        409,
        "POST",
        "/domains",
        Some(json!({"domain": "corp.example"})),
    );
    api.expect(
        400,
        "POST",
        "/domains",
        Some(json!({"domain": "bad domain"})),
    );
    assert_eq!(api.json("/domains/corp.example")["display_name"], "Corp");
    api.expect(404, "GET", "/domains/nope.example", None);
    let domains = api.json("/domains");
    assert_eq!(
        names(domains["items"].as_array().unwrap(), "domain"),
        ["corp.example", "example.com"]
    );
    assert!(domains["next"].is_null());

    // Users.
    let carol = api.expect(
        201,
        "POST",
        "/users",
        Some(new_user(
            "carol",
            "corp.example",
            json!({"phone": "+33 1 23"}),
        )),
    );
    assert_eq!(carol["principal"], "carol@corp.example");
    assert_eq!(carol["phone"], "+33 1 23");
    assert!(carol.get("password_hash").is_none());
    let shown = api.json("/users/carol@corp.example");
    assert_eq!(shown, carol);
    assert_eq!(api.json("/users/carol")["principal"], "carol@corp.example");
    api.expect(404, "GET", "/users/nobody@corp.example", None);
    let patched = api.expect(
        200,
        "PATCH",
        "/users/carol@corp.example",
        Some(json!({"display_name": "Carol C", "phone": null, "admin": true})),
    );
    assert_eq!(patched["display_name"], "Carol C");
    assert!(patched["phone"].is_null());
    assert_eq!(patched["admin"], true);
    api.expect(
        400,
        "PATCH",
        "/users/carol@corp.example",
        Some(json!({"email": null})),
    );
    api.expect(
        400,
        "PATCH",
        "/users/carol@corp.example",
        Some(json!({"displayname": "typo"})),
    );
    api.expect(404, "PATCH", "/users/nobody@corp.example", Some(json!({})));
    let dav = |password: &str| {
        Dav::new(server.port, "carol@corp.example", password)
            .propfind("/dav/principals/carol@corp.example/", "0", "")
            .status
    };
    assert_eq!(dav("carol-secret"), 207);
    api.expect(
        200,
        "PUT",
        "/users/carol@corp.example/password",
        Some(json!({"password": "changed"})),
    );
    assert_eq!(dav("carol-secret"), 401);
    assert_eq!(dav("changed"), 207);
    let off = api.expect(200, "POST", "/users/carol@corp.example/disable", None);
    assert_eq!(off["enabled"], false);
    assert_ne!(dav("changed"), 207);
    let on = api.expect(200, "POST", "/users/carol@corp.example/enable", None);
    assert_eq!(on["enabled"], true);
    assert_eq!(dav("changed"), 207);
    let listed = api.json("/users?domain=corp.example");
    assert_eq!(
        names(listed["items"].as_array().unwrap(), "login"),
        ["carol"]
    );

    // Groups.
    let staff = api.expect(
        201,
        "POST",
        "/groups",
        Some(json!({"group": "staff", "domain": "corp.example", "display_name": "Staff"})),
    );
    assert_eq!(staff["group"], "staff");
    assert_eq!(staff["members"], json!([]));
    api.expect(
        201,
        "POST",
        "/groups",
        Some(json!({"group": "team@corp.example"})),
    );
    api.expect(
        409,
        "POST",
        "/groups",
        Some(json!({"group": "team@corp.example"})),
    );
    let with_carol = api.expect(
        200,
        "POST",
        "/groups/staff@corp.example/members",
        Some(json!({"user": "carol"})),
    );
    assert_eq!(with_carol["members"], json!([{"user": "carol"}]));
    let nested = api.expect(
        200,
        "POST",
        "/groups/staff@corp.example/members",
        Some(json!({"group": "team"})),
    );
    assert_eq!(
        nested["members"],
        json!([{"group": "team"}, {"user": "carol"}])
    );
    let team = api.json("/groups/team@corp.example");
    assert_eq!(team["member_of"], json!(["staff"]));
    let renamed = api.expect(
        200,
        "PATCH",
        "/groups/staff@corp.example",
        Some(json!({"email": "staff@corp.example", "display_name": null})),
    );
    assert_eq!(renamed["email"], "staff@corp.example");
    assert!(renamed["display_name"].is_null());
    let without = api.expect(
        200,
        "DELETE",
        "/groups/staff@corp.example/members/user/carol",
        None,
    );
    assert_eq!(without["members"], json!([{"group": "team"}]));
    api.expect(
        404,
        "DELETE",
        "/groups/staff@corp.example/members/user/carol",
        None,
    );
    api.expect(
        404,
        "DELETE",
        "/groups/staff@corp.example/members/robot/carol",
        None,
    );
    let gone = api.expect(200, "DELETE", "/groups/team@corp.example", None);
    assert_eq!(gone["deleted"], "team@corp.example");
    api.expect(404, "GET", "/groups/team@corp.example", None);
    assert_eq!(api.json("/groups/staff@corp.example")["members"], json!([]));
    let groups = api.json("/groups?domain=corp.example");
    assert_eq!(
        names(groups["items"].as_array().unwrap(), "group"),
        ["staff"]
    );
    assert!(groups["next"].is_null());

    // Resources.
    let room = api.expect(
        201,
        "POST",
        "/resources",
        Some(
            json!({"resource": "boardroom", "domain": "corp.example", "kind": "room",
                    "display_name": "Boardroom", "capacity": 12, "location": "Floor 5"}),
        ),
    );
    assert_eq!(room["kind"], "room");
    assert_eq!(room["capacity"], 12);
    api.expect(
        201,
        "POST",
        "/resources",
        Some(json!({"resource": "beamer@corp.example", "kind": "equipment"})),
    );
    let changed = api.expect(
        200,
        "PATCH",
        "/resources/boardroom@corp.example",
        Some(json!({"capacity": null, "location": "Floor 6"})),
    );
    assert!(changed["capacity"].is_null());
    assert_eq!(changed["location"], "Floor 6");
    assert_eq!(
        api.json("/resources/beamer@corp.example")["kind"],
        "equipment"
    );
    let listed = api.json("/resources?domain=corp.example");
    assert_eq!(
        names(listed["items"].as_array().unwrap(), "resource"),
        ["beamer", "boardroom"]
    );
    let gone = api.expect(200, "DELETE", "/resources/beamer@corp.example", None);
    assert_eq!(gone["deleted"], "beamer@corp.example");
    api.expect(404, "GET", "/resources/beamer@corp.example", None);
    api.expect(404, "DELETE", "/resources/beamer@corp.example", None);
}

#[test]
fn listings_page_through_every_entry() {
    let server = TestServer::start();
    let api = admin(&server);
    for i in 0..7 {
        api.expect(
            201,
            "POST",
            "/groups",
            Some(json!({"group": format!("g{i}@example.com")})),
        );
    }
    for i in 0..5 {
        api.expect(
            201,
            "POST",
            "/resources",
            Some(json!({"resource": format!("r{i}@example.com"), "kind": "room"})),
        );
    }
    api.expect(
        201,
        "POST",
        "/domains",
        Some(json!({"domain": "b.example"})),
    );
    api.expect(
        201,
        "POST",
        "/domains",
        Some(json!({"domain": "c.example"})),
    );
    api.expect(
        201,
        "POST",
        "/users",
        Some(new_user("carol", "c.example", json!({}))),
    );

    let (groups, pages) = list_all(&api, "/groups?domain=example.com", 3);
    assert_eq!(pages, 3);
    assert_eq!(
        names(&groups, "group"),
        (0..7).map(|i| format!("g{i}")).collect::<Vec<_>>()
    );
    let (resources, pages) = list_all(&api, "/resources", 2);
    assert_eq!((resources.len(), pages), (5, 3));
    let (domains, pages) = list_all(&api, "/domains", 1);
    assert_eq!(
        names(&domains, "domain"),
        ["b.example", "c.example", "example.com"]
    );
    assert_eq!(pages, 3);
    // Users of every domain, by domain then login.
    let (users, _) = list_all(&api, "/users", 1);
    assert_eq!(
        names(&users, "principal"),
        ["carol@c.example", "alice@example.com", "bob@example.com"]
    );
    let (users, pages) = list_all(&api, "/users?domain=example.com", 1);
    assert_eq!((users.len(), pages), (2, 2));
    // The default limit shows everything here in one page.
    assert_eq!(api.json("/groups")["items"].as_array().unwrap().len(), 7);
    for bad in ["limit=0", "limit=1001", "limit=many"] {
        api.expect(400, "GET", &format!("/groups?{bad}"), None);
    }
}

/// Every directory endpoint, with a body each would accept.
fn endpoints() -> Vec<(&'static str, &'static str, Option<Value>)> {
    vec![
        ("GET", "/domains", None),
        ("POST", "/domains", Some(json!({"domain": "x.example"}))),
        ("GET", "/domains/example.com", None),
        ("GET", "/users", None),
        (
            "POST",
            "/users",
            Some(new_user("x", "example.com", json!({}))),
        ),
        ("GET", "/users/alice@example.com", None),
        (
            "PATCH",
            "/users/alice@example.com",
            Some(json!({"display_name": "x"})),
        ),
        (
            "PUT",
            "/users/alice@example.com/password",
            Some(json!({"password": "x"})),
        ),
        ("POST", "/users/alice@example.com/disable", None),
        ("POST", "/users/alice@example.com/enable", None),
        ("DELETE", "/users/alice@example.com", None),
        ("GET", "/groups", None),
        (
            "POST",
            "/groups",
            Some(json!({"group": "x", "domain": "example.com"})),
        ),
        ("GET", "/groups/staff@example.com", None),
        (
            "PATCH",
            "/groups/staff@example.com",
            Some(json!({"display_name": "x"})),
        ),
        ("DELETE", "/groups/staff@example.com", None),
        (
            "POST",
            "/groups/staff@example.com/members",
            Some(json!({"user": "bob"})),
        ),
        (
            "DELETE",
            "/groups/staff@example.com/members/user/alice",
            None,
        ),
        ("GET", "/resources", None),
        (
            "POST",
            "/resources",
            Some(json!({"resource": "x@example.com", "kind": "room"})),
        ),
        ("GET", "/resources/boardroom@example.com", None),
        (
            "PATCH",
            "/resources/boardroom@example.com",
            Some(json!({"capacity": 3})),
        ),
        ("DELETE", "/resources/boardroom@example.com", None),
    ]
}

#[test]
fn only_enabled_admins_reach_the_admin_api() {
    let server = TestServer::start();
    let api = admin(&server);
    api.expect(
        201,
        "POST",
        "/groups",
        Some(json!({"group": "staff@example.com"})),
    );
    api.expect(
        200,
        "POST",
        "/groups/staff@example.com/members",
        Some(json!({"user": "alice"})),
    );
    api.expect(
        201,
        "POST",
        "/resources",
        Some(json!({"resource": "boardroom@example.com", "kind": "room"})),
    );
    api.expect(
        201,
        "POST",
        "/users",
        Some(new_user("root", "example.com", json!({"admin": true}))),
    );
    // An enabled admin user is admitted by Basic credentials.
    let root = basic(&server, "root@example.com", "root-secret");
    assert_eq!(root.json("/users/bob@example.com")["login"], "bob");
    api.expect(200, "POST", "/users/root@example.com/disable", None);

    let before = server.log_records();
    // Missing or wrong credentials are 401; a known user who may not is 403.
    let callers = [
        (
            "no credentials",
            Api::anonymous(&server).under("/admin/v1"),
            401,
        ),
        (
            "a user who is no admin",
            basic(&server, "bob", "bob-secret"),
            403,
        ),
        (
            "a wrong token",
            Api::bearer(&server, "0000").under("/admin/v1"),
            401,
        ),
        (
            "a disabled admin",
            basic(&server, "root@example.com", "root-secret"),
            403,
        ),
    ];
    for (who, caller, want) in &callers {
        for (method, path, body) in endpoints() {
            let (status, json) = caller.call(method, path, body);
            assert_eq!(
                status, *want,
                "{who}: {method} {path} answered {status} {json}"
            );
            assert!(json["error"].is_string(), "{who}: {method} {path}: {json}");
        }
    }
    assert_eq!(server.log_records(), before, "refused calls appended");
    // And the admin still can.
    assert_eq!(
        api.json("/groups/staff@example.com")["members"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn bad_input_is_refused_clearly_and_appends_nothing() {
    let server = TestServer::start();
    let api = admin(&server);
    api.expect(
        201,
        "POST",
        "/groups",
        Some(json!({"group": "a@example.com"})),
    );
    api.expect(
        201,
        "POST",
        "/groups",
        Some(json!({"group": "b@example.com"})),
    );
    api.expect(
        200,
        "POST",
        "/groups/a@example.com/members",
        Some(json!({"group": "b"})),
    );
    let before = server.log_records();
    let members = "/groups/a@example.com/members";
    let refused: Vec<(u16, &str, &str, Value, &str)> = vec![
        (
            400,
            "POST",
            members,
            json!({"user": "nobody"}),
            "no user nobody",
        ),
        (
            400,
            "POST",
            members,
            json!({"group": "nogroup"}),
            "no group nogroup",
        ),
        (
            400,
            "POST",
            members,
            json!({"group": "a"}),
            "cannot contain itself",
        ),
        (
            409,
            "POST",
            "/groups/b@example.com/members",
            json!({"group": "a"}),
            "contain itself",
        ),
        (
            409,
            "POST",
            members,
            json!({"group": "b"}),
            "already a member",
        ),
        (
            400,
            "POST",
            members,
            json!({"user": "alice@other.example"}),
            "domain",
        ),
        (
            400,
            "POST",
            members,
            json!({"robot": "x"}),
            "unknown variant",
        ),
        (
            404,
            "POST",
            "/groups/nope@example.com/members",
            json!({"user": "alice"}),
            "no group",
        ),
        (
            400,
            "POST",
            "/groups",
            json!({"group": "Bad Name@example.com"}),
            "invalid group name",
        ),
        (
            400,
            "POST",
            "/groups",
            json!({"group": "staff"}),
            "needs a domain",
        ),
        (
            400,
            "POST",
            "/groups",
            json!({"group": "x@unknown.example"}),
            "no domain",
        ),
        (
            400,
            "POST",
            "/resources",
            json!({"resource": "a/b@example.com", "kind": "room"}),
            "invalid resource name",
        ),
        (
            400,
            "POST",
            "/resources",
            json!({"resource": "x@example.com", "kind": "castle"}),
            "unknown variant",
        ),
        (
            400,
            "POST",
            "/users",
            new_user("Bad", "example.com", json!({})),
            "invalid login",
        ),
        (
            409,
            "POST",
            "/users",
            json!({"login": "dave", "email": "ALICE@example.com", "password": "x"}),
            "already in use",
        ),
        (
            409,
            "POST",
            "/users",
            new_user("alice", "example.com", json!({"email": "new@example.com"})),
            "already exists",
        ),
        (
            409,
            "PATCH",
            "/users/bob@example.com",
            json!({"email": "alice@example.com"}),
            "already in use",
        ),
        (
            400,
            "PATCH",
            "/users/bob@example.com",
            json!({"email": "not an email"}),
            "not an email",
        ),
        (
            400,
            "PUT",
            "/users/bob@example.com/password",
            json!({"password": ""}),
            "empty",
        ),
        (
            400,
            "POST",
            "/domains",
            json!({"domain": "-bad-.example"}),
            "invalid domain",
        ),
        (
            404,
            "DELETE",
            "/users/nobody@example.com",
            json!(null),
            "no user",
        ),
    ];
    for (status, method, path, body, message) in refused {
        let body = (!body.is_null()).then_some(body);
        let json = api.expect(status, method, path, body);
        let error = json["error"].as_str().unwrap();
        assert!(
            error.contains(message),
            "{method} {path}: {error:?} lacks {message:?}"
        );
    }
    // A body that is no JSON at all.
    let reply = api.raw("POST", "/groups", "{not json");
    assert_eq!(reply.status, 400, "{reply:?}");
    assert!(reply.body.contains("\"error\""));
    assert_eq!(server.log_records(), before, "bad input appended events");
    assert_eq!(
        api.json("/groups/a@example.com")["members"],
        json!([{"group": "b"}])
    );
}

const CAL: &str = "/dav/calendars/alice@example.com/";
const GETETAG: &str = r#"<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>"#;
const BOOK: &str = "/dav/addressbooks/alice@example.com/";

fn hrefs(reply: &Reply) -> Vec<String> {
    reply
        .body
        .split("<d:href>")
        .skip(1)
        .filter_map(|s| s.split_once("</d:href>").map(|(h, _)| h.to_string()))
        .collect()
}

#[test]
fn a_deleted_user_is_refused_and_their_collections_are_gone() {
    let server = TestServer::start();
    let api = admin(&server);
    let alice = Dav::new(server.port, "alice", "alice-secret");
    let put = alice.put(
        &format!("{CAL}default/standup.ics"),
        "text/calendar",
        &common::ical("standup", "Standup"),
        &[],
    );
    assert_eq!(put.status, 201, "{put:?}");
    let card = alice.put(
        &format!("{BOOK}default/friend.vcf"),
        "text/vcard",
        &common::vcard("friend", "A Friend"),
        &[],
    );
    assert_eq!(card.status, 201, "{card:?}");
    let mk = alice.request("MKCALENDAR", &format!("{CAL}work/"), &[], "");
    assert_eq!(mk.status, 201, "{mk:?}");
    let file = alice.put(
        "/dav/files/alice@example.com/notes.txt",
        "text/plain",
        "notes",
        &[],
    );
    assert_eq!(file.status, 201, "{file:?}");
    api.expect(
        201,
        "POST",
        "/groups",
        Some(json!({"group": "staff@example.com"})),
    );
    api.expect(
        200,
        "POST",
        "/groups/staff@example.com/members",
        Some(json!({"user": "alice"})),
    );
    assert_eq!(alice.propfind(CAL, "1", "").status, 207);

    let gone = api.expect(200, "DELETE", "/users/alice@example.com", None);
    assert_eq!(gone["deleted"], "alice@example.com");
    // Refused from the next request on.
    assert_eq!(alice.propfind(CAL, "1", "").status, 401);
    api.expect(404, "GET", "/users/alice@example.com", None);
    api.expect(404, "DELETE", "/users/alice@example.com", None);
    assert_eq!(api.json("/groups/staff@example.com")["members"], json!([]));

    // A new alice starts empty: none of the old calendars or cards.
    api.expect(
        201,
        "POST",
        "/users",
        Some(new_user(
            "alice",
            "example.com",
            json!({"password": "new-secret"}),
        )),
    );
    assert_eq!(alice.propfind(CAL, "1", "").status, 401, "the old password");
    let again = Dav::new(server.port, "alice", "new-secret");
    let calendars = again.propfind(CAL, "1", GETETAG);
    assert_eq!(calendars.status, 207);
    let listed = hrefs(&calendars);
    assert!(
        listed.iter().any(|h| h == &format!("{CAL}default/")),
        "{listed:?}"
    );
    assert!(!listed.iter().any(|h| h.contains("/work/")), "{listed:?}");
    let default = hrefs(&again.propfind(&format!("{CAL}default/"), "1", GETETAG));
    assert_eq!(default, [format!("{CAL}default/")]);
    let book = hrefs(&again.propfind(&format!("{BOOK}default/"), "1", GETETAG));
    assert_eq!(book, [format!("{BOOK}default/")]);
    assert_eq!(again.get(&format!("{CAL}default/standup.ics")).status, 404);
    assert_eq!(
        again.get("/dav/files/alice@example.com/notes.txt").status,
        404
    );

    // The log still holds what the old alice did, and her deletion.
    assert_eq!(
        events_of(&server, "CalendarObjectPut", "alice@example.com").len(),
        1
    );
    assert_eq!(
        events_of(&server, "ContactPut", "alice@example.com").len(),
        1
    );
    let forgotten = events_of(&server, "PrincipalDataDeleted", "alice@example.com");
    let mut topics: Vec<&str> = forgotten
        .iter()
        .map(|e| e["topic"].as_str().unwrap())
        .collect();
    topics.sort();
    assert_eq!(topics, ["calendar", "contact", "files", "seen"]);
    let deleted = events_of(&server, "UserDeleted", "example.com");
    assert_eq!(deleted.len(), 1);

    // A deletion that stopped after disabling completes when re-run.
    api.expect(200, "POST", "/users/bob@example.com/disable", None);
    api.expect(200, "DELETE", "/users/bob@example.com", None);
    api.expect(404, "GET", "/users/bob@example.com", None);
    assert_eq!(
        events_of(&server, "UserDisabled", "example.com").len(),
        1,
        "alice's deletion disabled her; bob was disabled already"
    );
}

#[test]
fn the_group_commands_work_through_the_server() {
    let server = TestServer::start();
    let run = |args: &[&str]| {
        let mut cmd = server.command();
        cmd.args(["--server", &server.url]).args(args);
        cmd
    };
    let out = ok(
        run(&[
            "group",
            "add",
            "staff@example.com",
            "--display-name",
            "Staff",
        ]),
        "",
    );
    assert!(out.contains("created group staff@example.com"), "{out}");
    ok(
        run(&["group", "add", "team", "--domain", "example.com"]),
        "",
    );
    ok(run(&["group", "add", "ops@example.com"]), "");
    let out = ok(
        run(&[
            "group",
            "add-member",
            "staff@example.com",
            "--user",
            "alice",
        ]),
        "",
    );
    assert!(
        out.contains("added user alice to staff@example.com"),
        "{out}"
    );
    ok(
        run(&[
            "group",
            "add-member",
            "staff@example.com",
            "--group",
            "team",
        ]),
        "",
    );
    let err = fails(
        run(&[
            "group",
            "add-member",
            "team@example.com",
            "--group",
            "staff",
        ]),
        "",
    );
    assert!(
        err.contains("409") && err.contains("contain itself"),
        "{err}"
    );
    let err = fails(
        run(&[
            "group",
            "add-member",
            "team@example.com",
            "--user",
            "nobody",
        ]),
        "",
    );
    assert!(err.contains("no user nobody"), "{err}");

    // Pages of one entry, followed to the end.
    let listed = ok(run(&["group", "list", "--json", "--page-size", "1"]), "");
    let groups: Vec<Value> = serde_json::from_str(&listed).unwrap();
    assert_eq!(names(&groups, "group"), ["ops", "staff", "team"]);
    let shown: Value = serde_json::from_str(&ok(
        run(&["group", "show", "staff@example.com", "--json"]),
        "",
    ))
    .unwrap();
    assert_eq!(
        shown["members"],
        json!([{"group": "team"}, {"user": "alice"}])
    );
    ok(
        run(&[
            "group",
            "remove-member",
            "staff@example.com",
            "--user",
            "alice",
        ]),
        "",
    );
    ok(run(&["group", "delete", "ops@example.com"]), "");
    let text = ok(run(&["group", "list"]), "");
    assert!(
        text.contains("staff@example.com") && !text.contains("ops@"),
        "{text}"
    );
    let shown = ok(run(&["group", "show", "staff@example.com"]), "");
    assert!(shown.contains("members: group team"), "{shown}");
}

/// A sync-collection REPORT, which must succeed.
fn sync(dav: &Dav, path: &str, token: &str) -> Reply {
    let reply = dav.sync_collection(path, token, None);
    assert_eq!(reply.status, 207, "{reply:?}");
    reply
}

#[test]
fn the_global_address_book_is_served_over_carddav() {
    let server = TestServer::start();
    let api = admin(&server);
    api.expect(
        201,
        "POST",
        "/groups",
        Some(json!({"group": "staff@example.com", "display_name": "Staff"})),
    );
    api.expect(
        200,
        "POST",
        "/groups/staff@example.com/members",
        Some(json!({"user": "alice"})),
    );
    api.expect(
        201,
        "POST",
        "/resources",
        Some(json!({"resource": "boardroom@example.com", "kind": "room", "capacity": 12})),
    );
    let alice = Dav::new(server.port, "alice", "alice-secret");
    let gal = format!("{BOOK}directory@example.com/");
    let home = hrefs(&alice.propfind(BOOK, "1", GETETAG));
    assert!(home.contains(&gal), "{home:?}");

    let listed = hrefs(&alice.propfind(&gal, "1", GETETAG));
    let cards: Vec<&str> = listed.iter().filter_map(|h| h.strip_prefix(&gal)).collect();
    assert_eq!(
        cards,
        [
            "",
            "group-staff.vcf",
            "resource-boardroom.vcf",
            "user-alice.vcf",
            "user-bob.vcf"
        ]
    );
    let bob_card = alice.get(&format!("{gal}user-bob.vcf"));
    assert_eq!(bob_card.status, 200, "{bob_card:?}");
    assert!(bob_card.body.contains("FN:Bob\r\n") && bob_card.body.contains("KIND:individual\r\n"));
    let staff = alice.get(&format!("{gal}group-staff.vcf"));
    assert!(staff.body.contains("KIND:group\r\n") && staff.body.contains("MEMBER:urn:uuid:"));
    let room = alice.get(&format!("{gal}resource-boardroom.vcf"));
    assert!(
        room.body.contains("KIND:location\r\n") && room.body.contains("X-REPRISE-CAPACITY:12\r\n")
    );

    // A password change is on no card: nothing to sync, the same ETag.
    let token = sync(&alice, &gal, "").sync_token();
    api.expect(
        200,
        "PUT",
        "/users/bob@example.com/password",
        Some(json!({"password": "other"})),
    );
    let quiet = sync(&alice, &gal, &token);
    assert_eq!(
        quiet.body.matches("<d:response>").count(),
        0,
        "{}",
        quiet.body
    );
    assert_eq!(
        alice.get(&format!("{gal}user-bob.vcf")).etag(),
        bob_card.etag()
    );

    // A display name is: bob's card alone changes.
    api.expect(
        200,
        "PATCH",
        "/users/bob@example.com",
        Some(json!({"display_name": "Robert"})),
    );
    let changed = sync(&alice, &gal, &token);
    assert_eq!(
        changed.body.matches("<d:response>").count(),
        1,
        "{}",
        changed.body
    );
    assert!(changed.body.contains(&format!("{gal}user-bob.vcf")));
    assert!(alice
        .get(&format!("{gal}user-bob.vcf"))
        .body
        .contains("FN:Robert\r\n"));

    // A disabled user's card goes.
    let token = changed.sync_token();
    api.expect(200, "POST", "/users/bob@example.com/disable", None);
    let gone = sync(&alice, &gal, &token);
    assert!(
        gone.body.contains(&format!(
            "<d:href>{gal}user-bob.vcf</d:href><d:status>HTTP/1.1 404"
        )),
        "{}",
        gone.body
    );
    assert_eq!(alice.get(&format!("{gal}user-bob.vcf")).status, 404);

    // Read-only for everyone.
    let put = alice.put(
        &format!("{gal}mine.vcf"),
        "text/vcard",
        &common::vcard("mine", "Mine"),
        &[],
    );
    assert_eq!(put.status, 403, "{put:?}");
}
