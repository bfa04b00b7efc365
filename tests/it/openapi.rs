//! The OpenAPI document of the admin API and the mail seen-flag API: the
//! server serves the one checked in at `openapi/reprise.json`, and
//! schemathesis, run against a live server with an admin's credentials,
//! finds no server error and no answer that the document does not
//! describe.

use crate::common::api::Api;
use crate::common::clients::run_with_timeout;
use crate::common::http::send;
use crate::common::server::TestServer;
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const DOCUMENT: &str = "/admin/v1/openapi.json";

fn checked_in() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi/reprise.json")
}

/// `REPRISE_BLESS=1` rewrites the checked-in file from the served one.
#[test]
fn the_served_document_is_the_one_checked_in() {
    let server = TestServer::start();
    // No credentials: the document describes the API and holds no data.
    let reply = send(server.port, "GET", DOCUMENT, &[], b"");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let served = reply.body;
    serde_json::from_str::<serde_json::Value>(&served).expect("the document is JSON");
    let path = checked_in();
    if std::env::var_os("REPRISE_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &served).expect("writing openapi/reprise.json");
        return;
    }
    let file = std::fs::read_to_string(&path).unwrap_or_default();
    if served != file {
        let line = served
            .lines()
            .zip(file.lines().chain(std::iter::repeat("<end of file>")))
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "{} differs from the document the server serves at {DOCUMENT} (first at line {}: \
             served {:?}, file {:?}). If the API changed on purpose, regenerate it with\n    \
             REPRISE_BLESS=1 cargo test --test it -- openapi::the_served_document_is_the_one_checked_in\n\
             and commit the file.",
            path.display(),
            line + 1,
            served.lines().nth(line).unwrap_or("<end>"),
            file.lines().nth(line).unwrap_or("<end of file>"),
        );
    }
}

/// A fixed seed, printed, so that a failure is replayed by running this
/// test again (or `st run` with the same flags);
/// `REPRISE_TEST_SCHEMATHESIS_SEED` explores others.
const SEED: u64 = 20_261_203;
/// Cases per operation and phase: the whole run stays within a couple of
/// minutes on two cores (`REPRISE_TEST_SCHEMATHESIS_EXAMPLES` for more).
const MAX_EXAMPLES: u64 = 60;

fn setting(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}
const ADMIN: (&str, &str) = ("root@example.com", "root-secret");

/// schemathesis's `st`: `REPRISE_TEST_SCHEMATHESIS`, else in the venv
/// `scripts/test` makes for it alone (it needs the real urllib3, which the
/// DAV clients' venv replaces with urllib3-future through niquests).
fn schemathesis() -> PathBuf {
    let st = std::env::var_os("REPRISE_TEST_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_default();
            PathBuf::from(home).join(".cache/reprise-schemathesis-venv/bin/st")
        });
    assert!(
        st.is_file(),
        "no schemathesis at {}; run scripts/test (it makes a venv with schemathesis), or \
         set REPRISE_TEST_SCHEMATHESIS to an `st` executable",
        st.display()
    );
    st
}

#[test]
fn schemathesis_finds_nothing_against_a_live_server() {
    let st = schemathesis();
    let server = TestServer::start();

    // Real objects for the document's examples to hit: the admin
    // schemathesis acts as, a group, a resource, a share and seen flags.
    let (login, password) = ADMIN;
    let admin = Api::token(&server);
    let make = |method: &str, path: &str, body: serde_json::Value| {
        let (status, answer) = admin.call(method, path, Some(body));
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {answer}"
        );
    };
    let user = json!({"login": login, "email": login, "password": password, "admin": true});
    make("POST", "/admin/v1/users", user);
    make(
        "POST",
        "/admin/v1/groups",
        json!({"group": "team@example.com"}),
    );
    let members = "/admin/v1/groups/team@example.com/members";
    make("POST", members, json!({"user": "alice"}));
    let room = json!({"resource": "room1@example.com", "kind": "room", "capacity": 8});
    make("POST", "/admin/v1/resources", room);
    let share = "/admin/v1/users/alice@example.com/calendars/default/shares/user:bob@example.com";
    make("PUT", share, json!({"access": "read"}));
    let seen = "/api/v1/mail/alice@example.com/mailboxes/INBOX/seen";
    make("POST", seen, json!({"add": "1:5,9"}));

    let seed = setting("REPRISE_TEST_SCHEMATHESIS_SEED", SEED);
    let examples = setting("REPRISE_TEST_SCHEMATHESIS_EXAMPLES", MAX_EXAMPLES);
    let work = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(&st);
    cmd.args(["run", &format!("{}{DOCUMENT}", server.url)])
        .args(["--url", &server.url])
        .args(["--auth", &format!("{login}:{password}")])
        // Every check but one: a body or query that the document allows
        // may still be refused with a 400 (an .ics file that is not
        // iCalendar, a name the directory's rules refuse), which a schema
        // cannot say; a 400 is documented wherever it can happen.
        .args(["--checks", "all"])
        .args(["--exclude-checks", "positive_data_acceptance"])
        .args(["--max-examples", &examples.to_string()])
        .args(["--seed", &seed.to_string()])
        .args(["--workers", "2"])
        .env("NO_COLOR", "1");
    println!("schemathesis: seed {seed}, {examples} examples per operation");
    let ran = run_with_timeout(cmd, work.path(), Duration::from_secs(600));
    assert!(
        ran.success,
        "schemathesis (seed {seed}, {examples} examples) {}:\n{}",
        ran.status, ran.output
    );
    println!("{}", ran.output);
}
