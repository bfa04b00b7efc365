//! The mail seen-flags API (`/api/v1/mail`) against a running `reprise
//! serve`, over raw HTTP: round trips, one event per write, CONDSTORE,
//! changes since, bulk requests, who may do what, bad input, rebuilds.

use crate::common::api::Api;
use crate::common::cmd::ok;
use crate::common::http::Reply;
use crate::common::server::TestServer;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use std::io::{Read, Write};

const ALICE: &str = "alice@example.com";

fn alice(server: &TestServer) -> Api {
    Api::basic(server, "alice", "alice-secret")
}

fn seen_path(login: &str, mailbox: &str) -> String {
    format!(
        "/api/v1/mail/{login}/mailboxes/{}/seen",
        utf8_percent_encode(mailbox, NON_ALPHANUMERIC)
    )
}

fn changes_path(login: &str, mailbox: &str, since: u64) -> String {
    format!("{}/changes?since={since}", seen_path(login, mailbox))
}

fn bulk_path(login: &str) -> String {
    format!("/api/v1/mail/{login}/seen")
}

/// The JSON body of a reply with the expected status.
fn body(reply: &Reply, status: u16) -> Value {
    assert_eq!(reply.status, status, "{reply:#?}");
    serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("{e}: {reply:#?}"))
}

fn error(reply: &Reply, status: u16) -> String {
    let v = body(reply, status);
    v["error"].as_str().expect("an error message").to_string()
}

fn modseq(v: &Value) -> u64 {
    v["modseq"].as_u64().expect("a modseq")
}

fn add_user(server: &TestServer, login: &str, password: &str, extra: &[&str]) {
    let mut cmd = server.command();
    cmd.args(["--server", &server.url, "user", "add", login])
        .args(["--email", login, "--password-stdin"])
        .args(extra);
    ok(cmd, &format!("{password}\n"));
}

fn user_command(server: &TestServer, verb: &str, user: &str) {
    let mut cmd = server.command();
    cmd.args(["--server", &server.url, "user", verb, user]);
    ok(cmd, "");
}

#[test]
fn names_with_slashes_and_non_ascii_round_trip_and_each_write_is_one_event() {
    let server = TestServer::start();
    let api = alice(&server);

    let unknown = body(&api.get(&seen_path(ALICE, "INBOX")), 200);
    assert_eq!(
        unknown,
        json!({"mailbox": "INBOX", "seen": "", "modseq": 0})
    );

    let names = [
        "INBOX",
        "Archives/2026/Entwürfe",
        "日本語/メール",
        "a%b c+d?#.",
        "/leading and trailing/",
    ];
    let mut records = server.log_records();
    for (i, name) in names.iter().enumerate() {
        let written = body(
            &api.post(
                &seen_path(ALICE, name),
                &json!({"add": "1:5,9,12:20", "remove": "7"}),
            ),
            200,
        );
        assert_eq!(written["modified"], "");
        records += 1;
        assert_eq!(server.log_records(), records, "one event for {name:?}");
        let read = body(&api.get(&seen_path("alice", name)), 200);
        assert_eq!(read["mailbox"], *name);
        assert_eq!(read["seen"], "1:5,9,12:20");
        assert_eq!(modseq(&read), modseq(&written));

        // Adding and removing in one write: one event, one new modseq.
        let both = body(
            &api.post(
                &seen_path(ALICE, name),
                &json!({"add": "6:8", "remove": "2:3,15"}),
            ),
            200,
        );
        records += 1;
        assert_eq!(server.log_records(), records);
        assert!(modseq(&both) > modseq(&written), "{i}");
        let read = body(&api.get(&seen_path(ALICE, name)), 200);
        assert_eq!(read["seen"], "1,4:9,12:14,16:20");
        assert_eq!(modseq(&read), modseq(&both));
    }
    // The documented encoding, written by hand.
    let by_hand = body(
        &api.get("/api/v1/mail/alice@example.com/mailboxes/Archives%2F2026%2FEntw%C3%BCrfe/seen"),
        200,
    );
    assert_eq!(by_hand["seen"], "1,4:9,12:14,16:20");

    // A write that changes nothing appends nothing and keeps the modseq.
    let before = body(&api.get(&seen_path(ALICE, "INBOX")), 200);
    let same = body(
        &api.post(
            &seen_path(ALICE, "INBOX"),
            &json!({"add": "4:6", "remove": "2"}),
        ),
        200,
    );
    assert_eq!(modseq(&same), modseq(&before));
    let empty = body(&api.post(&seen_path(ALICE, "INBOX"), &json!({})), 200);
    assert_eq!(modseq(&empty), modseq(&before));
    assert_eq!(server.log_records(), records);

    // An unencoded slash is another path, and says how to encode.
    let slash = api.get("/api/v1/mail/alice/mailboxes/Archives/2026/seen");
    assert!(error(&slash, 404).contains("%2F"));
}

#[test]
fn a_conditional_write_leaves_out_what_changed_since_and_says_so() {
    let server = TestServer::start();
    let api = alice(&server);
    let path = seen_path(ALICE, "INBOX");
    let first = modseq(&body(&api.post(&path, &json!({"add": "1:10"})), 200));
    // Another client marks 5 unread after this one read the mailbox.
    let other = Api::basic(&server, ALICE, "alice-secret");
    let second = modseq(&body(&other.post(&path, &json!({"remove": "5"})), 200));
    assert!(second > first);

    let records = server.log_records();
    let conditional = body(
        &api.post(
            &path,
            &json!({"add": "11:20", "remove": "3:6", "unchangedsince": first}),
        ),
        200,
    );
    assert_eq!(conditional["modified"], "5");
    assert!(modseq(&conditional) > second);
    assert_eq!(server.log_records(), records + 1);
    let read = body(&api.get(&path), 200);
    assert_eq!(read["seen"], "1:2,7:20");

    // Unchanged since the current modseq: everything is written.
    let current = modseq(&read);
    let fresh = body(
        &api.post(&path, &json!({"add": "5", "unchangedsince": current})),
        200,
    );
    assert_eq!(fresh["modified"], "");
    // Only modified UIDs asked for: nothing is appended.
    let records = server.log_records();
    let nothing = body(
        &api.post(&path, &json!({"remove": "5", "unchangedsince": current})),
        200,
    );
    assert_eq!(nothing["modified"], "5");
    assert_eq!(modseq(&nothing), modseq(&fresh));
    assert_eq!(server.log_records(), records);

    // Writers racing on one mailbox, each unchanged since the same modseq
    // and each on its own UIDs: the log orders them, the losers work
    // their writes out again, and every write lands.
    let start = modseq(&body(&api.get(&path), 200));
    let before_race = server.log_records();
    let writers: Vec<_> = (0..8u32)
        .map(|i| {
            let api = api.clone();
            let path = path.clone();
            std::thread::spawn(move || {
                let uid = 100 + i;
                body(
                    &api.post(
                        &path,
                        &json!({"add": uid.to_string(), "unchangedsince": start}),
                    ),
                    200,
                )
            })
        })
        .collect();
    let mut modseqs: Vec<u64> = writers
        .into_iter()
        .map(|w| {
            let answer = w.join().unwrap();
            assert_eq!(answer["modified"], "", "{answer}");
            modseq(&answer)
        })
        .collect();
    modseqs.sort_unstable();
    modseqs.dedup();
    assert_eq!(modseqs.len(), 8, "each write has its own modseq");
    // Rejected attempts stay in the log, so it holds at least the eight.
    let raced = server.log_records() - before_race;
    assert!(raced >= 8, "{raced}");
    let read = body(&api.get(&path), 200);
    assert_eq!(read["seen"], "1:2,5,7:20,100:107");
    assert_eq!(modseq(&read), modseqs[7]);
}

#[test]
fn changes_since_a_modseq_and_beyond_the_kept_history() {
    let server = TestServer::start();
    let api = alice(&server);
    let name = "Lists/rust-users";
    let path = seen_path(ALICE, name);
    let m1 = modseq(&body(&api.post(&path, &json!({"add": "1:100"})), 200));
    let m2 = modseq(&body(
        &api.post(&path, &json!({"remove": "10:12", "add": "101"})),
        200,
    ));
    let m3 = modseq(&body(&api.post(&path, &json!({"add": "11"})), 200));

    let since_m1 = body(&api.get(&changes_path(ALICE, name, m1)), 200);
    assert_eq!(
        since_m1,
        json!({"mailbox": name, "modseq": m3, "changed": "10:12,101", "seen": "11,101",
               "complete": true})
    );
    let since_m2 = body(&api.get(&changes_path(ALICE, name, m2)), 200);
    assert_eq!(since_m2["changed"], "11");
    let current = body(&api.get(&changes_path(ALICE, name, m3)), 200);
    assert_eq!(
        (current["changed"].as_str(), current["complete"].as_bool()),
        (Some(""), Some(true))
    );
    let from_start = body(&api.get(&changes_path(ALICE, name, 0)), 200);
    assert_eq!(from_start["changed"], "1:101");
    assert_eq!(from_start["seen"], "1:9,11,13:101");

    // Beyond the kept history (1,024 changes, pruned in steps of 256):
    // everything must be treated as changed.
    let mut last = m3;
    for n in 0..1300u32 {
        let uid = (200 + n / 2).to_string();
        let change = if n % 2 == 0 {
            json!({"add": uid})
        } else {
            json!({"remove": uid})
        };
        last = modseq(&body(&api.post(&path, &change), 200));
    }
    let old = body(&api.get(&changes_path(ALICE, name, m1)), 200);
    assert_eq!(old["complete"], false);
    assert_eq!(old["changed"], "1:4294967295");
    assert_eq!(old["seen"], "1:9,11,13:101");
    assert_eq!(modseq(&old), last);
    let recent = body(&api.get(&changes_path(ALICE, name, last - 1)), 200);
    assert_eq!(recent["complete"], true);
    assert_eq!(recent["changed"], "849");
    // A conditional write that old: every UID it names is modified.
    let stale = body(
        &api.post(
            &path,
            &json!({"add": "500", "remove": "1", "unchangedsince": m1}),
        ),
        200,
    );
    assert_eq!(stale["modified"], "1,500");
    assert_eq!(modseq(&stale), last);

    assert!(error(&api.get(&format!("{path}/changes")), 400).contains("since"));
    assert!(error(&api.get(&format!("{path}/changes?since=-1")), 400).contains("since"));
}

#[test]
fn a_bulk_request_writes_then_reads_many_mailboxes() {
    let server = TestServer::start();
    let api = alice(&server);
    let first = modseq(&body(
        &api.post(&seen_path(ALICE, "INBOX"), &json!({"add": "1:50"})),
        200,
    ));
    let records = server.log_records();
    let answer = body(
        &api.post(
            &bulk_path(ALICE),
            &json!({
                "write": [
                    {"mailbox": "INBOX", "remove": "40:50", "unchangedsince": first},
                    {"mailbox": "Sent", "add": "1:3"},
                    {"mailbox": "Archives/2025", "add": "7", "remove": "8"},
                    {"mailbox": "Drafts", "remove": "1"},
                ],
                "read": ["INBOX", "Sent", "Archives/2025", "Drafts", "Trash/ünknown"],
            }),
        ),
        200,
    );
    // Drafts had nothing to remove: three events, not four.
    assert_eq!(server.log_records(), records + 3);
    let writes = answer["write"].as_array().unwrap();
    let reads = answer["read"].as_array().unwrap();
    assert_eq!(writes.len(), 4);
    assert_eq!(reads.len(), 5);
    for (w, name) in writes
        .iter()
        .zip(["INBOX", "Sent", "Archives/2025", "Drafts"])
    {
        assert_eq!(w["mailbox"], name);
        assert_eq!(w["modified"], "");
    }
    assert_eq!(modseq(&writes[3]), 0);
    let expected = [
        ("INBOX", "1:39"),
        ("Sent", "1:3"),
        ("Archives/2025", "7"),
        ("Drafts", ""),
        ("Trash/ünknown", ""),
    ];
    for (i, (r, (name, seen))) in reads.iter().zip(expected).enumerate() {
        assert_eq!(r["mailbox"], name);
        assert_eq!(r["seen"], seen, "{r}");
        if i < 3 {
            assert_eq!(modseq(r), modseq(&writes[i]), "reads see the writes");
        }
    }
    // The same answers one by one.
    let single = body(&api.get(&seen_path(ALICE, "Archives/2025")), 200);
    assert_eq!(single, reads[2]);

    // Reads only, and writes only.
    let only_reads = body(
        &api.post(&bulk_path("alice"), &json!({"read": ["Sent"]})),
        200,
    );
    assert_eq!(only_reads["write"], json!([]));
    assert_eq!(only_reads["read"][0]["seen"], "1:3");
    let only_writes = body(
        &api.post(
            &bulk_path("alice"),
            &json!({"write": [{"mailbox": "Sent", "add": "4"}]}),
        ),
        200,
    );
    assert_eq!(only_writes["read"], json!([]));
    assert_eq!(server.log_records(), records + 4);
}

#[test]
fn only_the_owner_and_administrators_get_in() {
    let server = TestServer::start();
    add_user(&server, "carol@example.org", "carol-secret", &[]);
    add_user(&server, "dave@example.com", "dave-secret", &[]);
    add_user(&server, "root@example.org", "root-secret", &["--admin"]);
    user_command(&server, "disable", "dave@example.com");
    let owner = alice(&server);
    let seeded = body(
        &owner.post(&seen_path(ALICE, "INBOX"), &json!({"add": "1:3"})),
        200,
    );

    // Every endpoint, as (method, path, body).
    let endpoints = |login: &str| {
        vec![
            ("GET", seen_path(login, "INBOX"), None),
            ("POST", seen_path(login, "INBOX"), Some(json!({"add": "4"}))),
            ("GET", changes_path(login, "INBOX", 0), None),
            ("POST", bulk_path(login), Some(json!({"read": ["INBOX"]}))),
        ]
    };
    let call = |api: &Api, (method, path, json): &(&str, String, Option<Value>)| match json {
        Some(v) => api.post(path, v),
        None => api.request(method, path, &[], b""),
    };
    let records = server.log_records();
    let refused = [
        (
            "another user of the domain",
            Api::basic(&server, "bob", "bob-secret"),
            403,
        ),
        (
            "a user of another domain",
            Api::basic(&server, "carol@example.org", "carol-secret"),
            403,
        ),
        (
            "a disabled user",
            Api::basic(&server, "dave@example.com", "dave-secret"),
            403,
        ),
        (
            "a wrong password",
            Api::basic(&server, "alice", "wrong"),
            401,
        ),
        ("no credentials", Api::anonymous(&server), 401),
    ];
    for (who, api, status) in &refused {
        for endpoint in endpoints(ALICE) {
            let reply = call(api, &endpoint);
            assert_eq!(reply.status, *status, "{who}: {endpoint:?}: {reply:#?}");
            assert!(reply.body.contains("\"error\""), "{who}: {reply:#?}");
            assert!(!reply.body.contains("1:3"), "{who} learns nothing");
            if *status == 401 {
                assert!(reply
                    .header("www-authenticate")
                    .unwrap()
                    .starts_with("Basic"));
            }
        }
    }
    assert_eq!(
        server.log_records(),
        records,
        "refused writes append nothing"
    );
    // A stranger cannot tell users that exist from users that do not.
    let bob = Api::basic(&server, "bob", "bob-secret");
    for endpoint in endpoints("nobody@example.com") {
        assert_eq!(call(&bob, &endpoint).status, 403, "{endpoint:?}");
    }
    // A disabled owner is refused on their own mailbox too.
    let dave = Api::basic(&server, "dave", "dave-secret");
    assert!(error(&dave.get(&seen_path("dave@example.com", "INBOX")), 403).contains("disabled"));

    // The owner (by any name the directory knows), an admin of any domain
    // and the local admin token get in.
    let admitted = [
        ("the owner", alice(&server), ALICE),
        (
            "the owner by email",
            Api::basic(&server, ALICE, "alice-secret"),
            "alice",
        ),
        (
            "an admin",
            Api::basic(&server, "root@example.org", "root-secret"),
            ALICE,
        ),
        ("the admin token", Api::token(&server), "alice"),
    ];
    for (who, api, login) in &admitted {
        for endpoint in endpoints(login) {
            let reply = call(api, &endpoint);
            assert_eq!(reply.status, 200, "{who}: {endpoint:?}: {reply:#?}");
        }
        let read = body(&api.get(&seen_path(login, "INBOX")), 200);
        assert_eq!(read["seen"], "1:4", "{who}");
        // Admins find out that a user does not exist.
        if *who != "the owner" && *who != "the owner by email" {
            for endpoint in endpoints("nobody@example.com") {
                assert_eq!(call(api, &endpoint).status, 404, "{who}: {endpoint:?}");
            }
        }
    }
    // Only the first "add 4" changed anything.
    assert_eq!(server.log_records(), records + 1);
    assert!(modseq(&body(&owner.get(&seen_path(ALICE, "INBOX")), 200)) > modseq(&seeded));

    // An admin's write names the admin as its actor.
    let root = Api::basic(&server, "root@example.org", "root-secret");
    body(
        &root.post(&seen_path(ALICE, "INBOX"), &json!({"remove": "1"})),
        200,
    );
    let mut tail = server.command();
    tail.args([
        "--server",
        &server.url,
        "log",
        "tail",
        "--topic",
        "seen",
        "-o",
        "-1",
    ]);
    let last = ok(tail, "");
    assert!(last.contains("admin:root@example.org"), "{last}");
    assert!(last.contains("SeenChanged"), "{last}");
}

/// Sends a request head declaring a body it never sends, and reads the
/// answer (the server must answer without reading the body).
fn declared_only(port: u16, path: &str, auth: &str, length: usize) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    // Read the head and the short JSON body; the connection stays open.
    while !String::from_utf8_lossy(&out).contains("}") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn bad_input_gets_a_clear_error_and_appends_nothing() {
    let server = TestServer::start();
    let api = alice(&server);
    let path = seen_path(ALICE, "INBOX");
    body(&api.post(&path, &json!({"add": "1:5"})), 200);
    let records = server.log_records();

    for (set, says) in [
        ("5:", "\"5:\" is not a UID"),
        ("0", "UID 0 does not exist"),
        ("a", "\"a\" is not a UID"),
        ("1,,2", "\"\" is not a UID"),
        ("4294967296", "4294967296 is above the highest UID"),
        ("1:4294967296", "4294967296 is above the highest UID"),
        ("*", "UIDs must be explicit"),
        ("1:*", "UIDs must be explicit"),
        ("1 : 2", "is not a UID"),
    ] {
        for field in ["add", "remove"] {
            let message = error(&api.post(&path, &json!({ field: set })), 400);
            assert!(message.contains(says), "{set:?}: {message}");
            assert!(
                message.contains(&format!("invalid {field} set")),
                "{message}"
            );
        }
        let bulk = error(
            &api.post(
                &bulk_path(ALICE),
                &json!({"write": [{"mailbox": "Sent", "add": "1"}, {"mailbox": "x/y", "add": set}]}),
            ),
            400,
        );
        assert!(
            bulk.contains("write[1] (mailbox \"x/y\")") && bulk.contains(says),
            "{bulk}"
        );
    }
    let overlap = error(
        &api.post(&path, &json!({"add": "1:10", "remove": "10:12"})),
        400,
    );
    assert!(
        overlap.contains("UID 10 is in both add and remove"),
        "{overlap}"
    );
    // Unknown fields are refused: a misspelt unchangedsince must not make
    // a conditional write unconditional.
    let misspelt = error(
        &api.post(&path, &json!({"add": "9", "unchangedSince": 1})),
        400,
    );
    assert!(
        misspelt.contains("unknown field `unchangedSince`"),
        "{misspelt}"
    );
    let bulk_unknown = error(
        &api.post(&bulk_path(ALICE), &json!({"reads": ["INBOX"]})),
        400,
    );
    assert!(bulk_unknown.contains("unknown field"), "{bulk_unknown}");
    assert!(error(&api.post(&path, &json!({"add": 7})), 400).contains("invalid JSON"));
    assert!(error(
        &api.post(&path, &json!({"add": "7", "unchangedsince": -1})),
        400
    )
    .contains("invalid JSON"));
    let not_json = api.request(
        "POST",
        &path,
        &[("Content-Type", "application/json")],
        b"add=1",
    );
    assert!(error(&not_json, 400).contains("invalid JSON"));
    let form = api.request(
        "POST",
        &path,
        &[("Content-Type", "text/plain")],
        br#"{"add": "7"}"#,
    );
    assert!(error(&form, 415).contains("application/json"));

    // Mailbox names: too long, NUL, not UTF-8.
    let long = "x".repeat(1001);
    assert!(error(
        &api.post(&seen_path(ALICE, &long), &json!({"add": "1"})),
        400
    )
    .contains("longer"));
    assert!(error(&api.get(&seen_path(ALICE, "a\0b")), 400).contains("NUL"));
    assert_eq!(api.get("/api/v1/mail/alice/mailboxes/%FF/seen").status, 400);
    let bulk_nul = error(
        &api.post(&bulk_path(ALICE), &json!({"read": ["ok", "a\u{0}b"]})),
        400,
    );
    assert!(bulk_nul.contains("read[1]"), "{bulk_nul}");

    // Bounds: mailboxes per request, twice the same mailbox, ranges per
    // write, body size.
    let many: Vec<String> = (0..1001).map(|i| format!("box{i}")).collect();
    assert!(error(&api.post(&bulk_path(ALICE), &json!({"read": many})), 413).contains("1000"));
    let twice = error(
        &api.post(
            &bulk_path(ALICE),
            &json!({"write": [{"mailbox": "A", "add": "1"}, {"mailbox": "A", "add": "2"}]}),
        ),
        400,
    );
    assert!(twice.contains("twice"), "{twice}");
    let spaced = |first: u32, count: u32| {
        (0..count)
            .map(|n| (first + 2 * n).to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let fragmented = api.post(
        &path,
        &json!({"add": spaced(1, 30_000), "remove": spaced(100_001, 30_000)}),
    );
    assert!(error(&fragmented, 413).contains("50000"));
    let too_many_ranges = api.post(&path, &json!({"add": spaced(1, 100_001)}));
    assert!(error(&too_many_ranges, 400).contains("more than 100000 ranges"));
    let auth = api.authorization().expect("credentials");
    let declared = declared_only(server.port, &path, auth, 5 << 20);
    assert!(declared.starts_with("HTTP/1.1 413"), "{declared}");

    assert_eq!(server.log_records(), records, "bad requests append nothing");
    assert_eq!(body(&api.get(&path), 200)["seen"], "1:5");
}

#[test]
fn a_rebuild_serves_the_same_flags_modseqs_and_changes() {
    let mut server = TestServer::start();
    let api = alice(&server);
    let boxes = ["INBOX", "Archives/2026", "Entwürfe"];
    for (i, name) in boxes.iter().enumerate() {
        let path = seen_path(ALICE, name);
        body(
            &api.post(&path, &json!({"add": format!("1:{}", 100 * (i + 1))})),
            200,
        );
        body(
            &api.post(&path, &json!({"remove": "7,50:60", "add": "1000"})),
            200,
        );
        body(
            &api.post(&path, &json!({"remove": "3", "unchangedsince": 1})),
            200,
        );
    }
    let snapshot = |api: &Api| {
        boxes
            .iter()
            .flat_map(|name| {
                [
                    api.get(&seen_path(ALICE, name)).body,
                    api.get(&changes_path(ALICE, name, 0)).body,
                    api.get(&changes_path(ALICE, name, 2)).body,
                ]
            })
            .collect::<Vec<_>>()
    };
    let digest = |server: &TestServer| {
        let mut cmd = server.command();
        cmd.args(["--server", &server.url, "projections", "digest", "--json"]);
        let text = ok(cmd, "");
        let all: Vec<Value> = serde_json::from_str(&text[text.find('[').unwrap()..]).unwrap();
        all.iter()
            .find(|d| d["projection"] == "seen" && d["version"] == 2)
            .expect("seen@2 is built")["digest"]
            .to_string()
    };
    let before = snapshot(&api);
    let digest_before = digest(&server);
    server.restart(true);
    let api = alice(&server);
    assert_eq!(snapshot(&api), before);
    assert_eq!(digest(&server), digest_before);
}
