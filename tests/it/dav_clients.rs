//! Real DAV clients against `reprise serve`: the litmus WebDAV suite on the
//! file area, python caldav's whole CalDAV flow (on the embedded log and on
//! Kafka) and its searches, vdirsyncer syncing a calendar and an address
//! book both ways, and khal listing a calendar vdirsyncer synced.
//!
//! The tools are installed by `.ci/run` and found through:
//! - `REPRISE_TEST_LITMUS`: the `litmus` script, else `litmus` on `PATH`;
//! - `REPRISE_TEST_PYTHON`: a Python with `caldav`, `vdirsyncer` and
//!   `khal`, else `$REPRISE_TEST_VENV/bin/python`, else
//!   `$HOME/.cache/reprise-clients-venv/bin/python`.
//!
//! A missing tool fails the test (never skips it), naming `.ci/run`. The
//! client scripts live in `tests/clients/`; each prints `ok: ...` lines and
//! `<name>: PASS` last, or `<name>: FAIL: <what>`.

use crate::common;
use crate::support;

use crate::common::clients::{client_script, on_path, python_with, run_with_timeout, INSTALL_HINT};
use crate::common::server::{TestServer, USERS};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The litmus suites run against the file area (`locks` is left out: the
/// server does not advertise DAV class 2).
const LITMUS_SUITES: [&str; 4] = ["basic", "copymove", "props", "http"];

/// litmus tests that may fail or be skipped, as `"suite/name"` (a name
/// repeated in a suite, like `props/propget`, covers every instance).
/// Each entry needs a comment saying why the test does not apply.
const LITMUS_NOT_APPLICABLE: &[&str] = &[];

const LITMUS_TIMEOUT: Duration = Duration::from_secs(300);
const CALDAV_TIMEOUT: Duration = Duration::from_secs(180);
const VDIRSYNCER_TIMEOUT: Duration = Duration::from_secs(300);

fn alice() -> (&'static str, &'static str) {
    USERS[0]
}

// ---------------------------------------------------------------- tools

fn litmus_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("REPRISE_TEST_LITMUS") {
        let bin = PathBuf::from(bin);
        assert!(
            bin.is_file(),
            "REPRISE_TEST_LITMUS={} is not a file; {INSTALL_HINT}",
            bin.display()
        );
        return bin;
    }
    on_path("litmus").unwrap_or_else(|| {
        panic!("litmus not found: REPRISE_TEST_LITMUS is unset and no `litmus` on PATH; {INSTALL_HINT}")
    })
}

// ---------------------------------------------------------------- running

/// Runs a script of `tests/clients/` against `server` as alice and checks
/// its verdict and the `ok:` lines it must have printed.
fn client_flow(
    server: &TestServer,
    script: &str,
    module: &str,
    extra: &[&str],
    expected: &[&str],
    timeout: Duration,
) {
    client_flow_as(server, alice(), script, module, extra, expected, timeout)
}

/// [`client_flow`] logged in as `(user, password)`.
fn client_flow_as(
    server: &TestServer,
    (user, password): (&str, &str),
    script: &str,
    module: &str,
    extra: &[&str],
    expected: &[&str],
    timeout: Duration,
) {
    let python = python_with(module);
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(&python);
    cmd.arg(client_script(script))
        .args(["--url", &server.url, "--user", user, "--password", password])
        .args(extra)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1");
    let ran = run_with_timeout(cmd, dir.path(), timeout);
    let name = script.trim_end_matches(".py");
    let mut problems = Vec::new();
    if !ran.success {
        problems.push(format!("{script} {}", ran.status));
    }
    if !ran.output.lines().any(|l| l == format!("{name}: PASS")) {
        problems.push(format!("no `{name}: PASS` line"));
    }
    for line in expected {
        if !ran.output.lines().any(|l| l.starts_with(line)) {
            problems.push(format!("no line starting with `{line}`"));
        }
    }
    assert!(
        problems.is_empty(),
        "{script} against {}: {}\n--- output ---\n{}",
        server.url,
        problems.join("; "),
        ran.output
    );
    println!("{}", ran.output);
}

// ---------------------------------------------------------------- litmus output

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Pass,
    Fail(String),
    Skipped(String),
    /// Anything else litmus printed as a result (OOPS, a crash...).
    Other(String),
    /// Started but never reported: the suite program died.
    NoResult,
}

#[derive(Debug, Clone)]
struct LitmusTest {
    index: u32,
    name: String,
    outcome: Outcome,
    warnings: Vec<String>,
}

#[derive(Debug, Default)]
struct LitmusSuite {
    name: String,
    tests: Vec<LitmusTest>,
    /// The `<- summary for ...` (or `<- all tests skipped ...`) line.
    summary: Option<String>,
}

/// Parses litmus 0.13's (neon test framework) non-quiet output:
///
/// ```text
/// -> running `basic':
/// \r 0. init.................. \r 0. init.................. pass
/// \r 3. put_get............... \r 3. put_get............... FAIL (PUT of `/x' failed: 400 Bad Request)
/// \r 9. delete_fragment....... WARNING: DELETE removed collection resource ...
///     ...................... pass (with 1 warning)
/// \r 7. propget............... \r 7. propget............... SKIPPED
/// -> 2 tests were skipped.
/// <- summary for `basic': of 14 tests run: 11 passed, 3 failed. 78.6%
/// -> 1 warning was issued.
/// ```
///
/// Each test prints its prefix twice (before and after running, with `\r`
/// between), so the text after the last `\r` of a line is what a terminal
/// shows. A FAIL/SKIPPED context may span lines. Tests after a fatal one
/// (e.g. `begin` failing to MKCOL) are not printed at all, and
/// `litmus -k` exits 0 whatever happened: only this parse tells.
fn parse_litmus(output: &str) -> Vec<LitmusSuite> {
    let mut suites: Vec<LitmusSuite> = Vec::new();
    // Whether the current test's last result line may continue (an open
    // FAIL/SKIPPED context).
    let mut open_context = false;
    for raw in output.split('\n') {
        let line = shown(raw);
        if let Some(rest) = line.strip_prefix("-> running `") {
            suites.push(LitmusSuite {
                name: rest.split('\'').next().unwrap_or("").to_string(),
                ..LitmusSuite::default()
            });
            open_context = false;
            continue;
        }
        let Some(suite) = suites.last_mut() else {
            continue;
        };
        if line.starts_with("<- ") {
            suite.summary = Some(line.to_string());
            open_context = false;
        } else if line.starts_with("-> ") {
            open_context = false;
        } else if let Some((index, name, rest)) = test_line(line) {
            suite.tests.push(LitmusTest {
                index,
                name,
                outcome: Outcome::NoResult,
                warnings: Vec::new(),
            });
            open_context = record_result(suite.tests.last_mut().unwrap(), rest);
        } else if let Some(rest) = line.trim_start().strip_prefix("......................") {
            // The result of a test that printed warnings.
            if let Some(test) = suite.tests.last_mut() {
                open_context = record_result(test, rest.trim_start());
            }
        } else if open_context {
            if let Some(test) = suite.tests.last_mut() {
                if let Outcome::Fail(c) | Outcome::Skipped(c) | Outcome::Other(c) =
                    &mut test.outcome
                {
                    c.push('\n');
                    c.push_str(line);
                }
            }
        }
    }
    suites
}

/// What a terminal shows of a line: from the last `\r` that starts a test
/// prefix (a FAIL context may itself hold a `\r`: litmus puts random bytes
/// in some resource names).
fn shown(raw: &str) -> &str {
    let mut start = None;
    for (at, _) in raw.match_indices('\r') {
        if test_line(&raw[at + 1..]).is_some() {
            start = Some(at + 1);
        }
    }
    match start {
        Some(at) => &raw[at..],
        None => raw.trim_start_matches('\r'),
    }
}

/// litmus output as a terminal shows it (one line per test), for people.
fn terminal_view(output: &str) -> String {
    output.split('\n').map(shown).collect::<Vec<_>>().join("\n")
}

/// `" 3. put_get............... rest"` -> (3, "put_get", "rest").
fn test_line(line: &str) -> Option<(u32, String, &str)> {
    let s = line.trim_start();
    let digits = s.find(|c: char| !c.is_ascii_digit())?;
    let index = s[..digits].parse().ok()?;
    let s = s[digits..].strip_prefix(". ")?;
    let name_end = s.find(['.', ' ']).unwrap_or(s.len());
    if name_end == 0 {
        return None;
    }
    let name = s[..name_end].to_string();
    let rest = s[name_end..].trim_start_matches('.');
    Some((index, name, rest.strip_prefix(' ').unwrap_or(rest)))
}

/// Records what follows a test's prefix; true when it may continue on
/// the next lines.
fn record_result(test: &mut LitmusTest, rest: &str) -> bool {
    let rest = rest.trim_end();
    if rest.is_empty() {
        return false;
    }
    if let Some(w) = rest.strip_prefix("WARNING:") {
        test.warnings.push(w.trim().to_string());
        return false;
    }
    let (outcome, open) = if rest.starts_with("pass") || rest.starts_with("XFAIL") {
        (Outcome::Pass, false)
    } else if rest.starts_with("FAIL") || rest.starts_with("fatal error") {
        (Outcome::Fail(rest.to_string()), true)
    } else if rest.starts_with("SKIPPED") {
        (Outcome::Skipped(rest.to_string()), true)
    } else {
        (Outcome::Other(rest.to_string()), true)
    };
    test.outcome = outcome;
    open
}

/// Checks a litmus run: every suite ran to its `finish` test with a summary
/// line, and every test passed unless `allowed` names it. Ok: a report of
/// warnings and allowed results; Err: every problem found.
fn check_litmus(output: &str, suites: &[&str], allowed: &[&str]) -> Result<String, String> {
    let parsed = parse_litmus(output);
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    for want in suites {
        let found: Vec<&LitmusSuite> = parsed.iter().filter(|s| s.name == *want).collect();
        let [suite] = found.as_slice() else {
            problems.push(format!("suite {want}: ran {} times", found.len()));
            continue;
        };
        if suite.summary.is_none() {
            problems.push(format!("suite {want}: no summary line (did it crash?)"));
        }
        match suite.tests.last() {
            Some(t) if t.name == "finish" => {}
            Some(t) => problems.push(format!(
                "suite {want}: stopped after test {}. {} (a fatal failure skips the rest)",
                t.index, t.name
            )),
            None => problems.push(format!("suite {want}: no tests ran")),
        }
        for (i, t) in suite.tests.iter().enumerate() {
            if t.index as usize != i {
                problems.push(format!(
                    "suite {want}: test {}. {} reported as number {i}",
                    t.index, t.name
                ));
            }
            let key = format!("{want}/{}", t.name);
            let is_allowed = allowed.contains(&key.as_str());
            for w in &t.warnings {
                notes.push(format!("warning in {key} (test {}): {w}", t.index));
            }
            match (&t.outcome, is_allowed) {
                (Outcome::Pass, false) => {}
                (Outcome::Pass, true) => {
                    notes.push(format!("{key} passes: drop it from LITMUS_NOT_APPLICABLE"))
                }
                (other, true) => notes.push(format!("{key} (not applicable): {other:?}")),
                (other, false) => {
                    problems.push(format!("{want} {}. {}: {other:?}", t.index, t.name))
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(notes.join("\n"))
    } else {
        Err(problems.join("\n"))
    }
}

// ---------------------------------------------------------------- tests

/// The litmus WebDAV suites on alice's plain file area.
#[test]
fn litmus() {
    let litmus = litmus_bin();
    let server = TestServer::start();
    let (user, password) = alice();
    let url = format!("{}/dav/files/alice@example.com/", server.url);
    // litmus writes debug.log and child.log into its working directory.
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(&litmus);
    cmd.arg("-k") // keep going after a failed suite (the exit code is then always 0)
        .args([url.as_str(), user, password])
        .env("TESTS", LITMUS_SUITES.join(" "))
        .env("TEST_COLOUR", "0");
    let ran = run_with_timeout(cmd, dir.path(), LITMUS_TIMEOUT);
    // Keep the wire trace where a failing run can be looked at.
    let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join("litmus-debug.log");
    let _ = std::fs::copy(dir.path().join("debug.log"), &kept);
    let verdict = if ran.success {
        check_litmus(&ran.output, &LITMUS_SUITES, LITMUS_NOT_APPLICABLE)
    } else {
        Err(format!("litmus {}", ran.status))
    };
    match verdict {
        Ok(notes) => println!("{}\n{notes}", terminal_view(&ran.output)),
        Err(problems) => panic!(
            "litmus against {url}:\n{problems}\n--- litmus output ---\n{}\n\
             (wire trace: {})",
            terminal_view(&ran.output),
            kept.display()
        ),
    }
}

const CALDAV_FLOW_LINES: [&str; 8] = [
    "ok: principal /dav/principals/alice@example.com/",
    "ok: 1 calendar(s), default 'default' among them",
    "ok: MKCALENDAR /dav/calendars/alice@example.com/",
    "ok: event and todo saved",
    "ok: edit changed the ETag",
    "ok: stale ETag refused",
    "ok: event and todo deleted",
    "ok: contact in /dav/addressbooks/alice@example.com/default/",
];

fn python_caldav_flow_on(server: &TestServer) {
    client_flow(
        server,
        "python_caldav_flow.py",
        "caldav",
        &[
            "--default-calendar",
            "default",
            "--default-addressbook",
            "default",
        ],
        &CALDAV_FLOW_LINES,
        CALDAV_TIMEOUT,
    );
}

/// python caldav from the bare URL: discovery, MKCALENDAR, event and todo
/// round trips, ETags and preconditions, deletes; a contact by raw CardDAV.
#[test]
fn python_caldav_flow() {
    python_caldav_flow_on(&TestServer::start());
}

/// python caldav's searches: time ranges over a recurring series decided
/// by the server (no client-side filtering), with and without expansion
/// (the instances' RECURRENCE-ID, DTSTART and SUMMARY), todos by
/// completion, text search on SUMMARY and LOCATION.
#[test]
fn python_caldav_search() {
    let server = TestServer::start();
    let series = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/ical/thunderbird_recurring_override.ics");
    client_flow(
        &server,
        "python_caldav_search.py",
        "caldav",
        &["--series", &series.to_string_lossy()],
        &[
            "ok: a weekly series with an override and an EXDATE",
            "ok: time ranges decided by the server",
            "ok: server expansion",
            "ok: client expansion",
            "ok: todos by completion",
            "ok: text search",
        ],
        CALDAV_TIMEOUT,
    );
}

/// python caldav between alice and bob: save_with_invites, the
/// invitation in bob's inbox and his calendar, accept_invite, alice's copy
/// ACCEPTED and one REPLY in her inbox, her delete cancelling his copy;
/// a room accepting a meeting and declining an overlapping one.
#[test]
fn python_caldav_scheduling() {
    let server = TestServer::start();
    crate::scheduling::add_room(&server, "board-room");
    client_flow(
        &server,
        "python_caldav_scheduling.py",
        "caldav",
        &[
            "--attendee",
            "bob@example.com",
            "--attendee-password",
            "bob-secret",
            "--room",
            "board-room@example.com",
        ],
        &[
            "ok: two principals with inboxes",
            "ok: save_with_invites: the organizer's PUT has a Schedule-Tag",
            "ok: the attendee has the REQUEST in their inbox and the copy in their calendar",
            "ok: accept_invite: the organizer's copy shows ACCEPTED and their inbox one REPLY",
            "ok: the organizer's delete cancels the attendee's copy",
            "ok: a room accepts the first meeting and declines an overlapping one",
        ],
        CALDAV_TIMEOUT,
    );
}

/// The same flow on a server whose log is Kafka (an Apache Kafka broker).
#[test]
fn kafka_python_caldav_flow() {
    let brokers = support::kafka_brokers();
    let prefix = support::unique_name("dav-clients");
    let server = TestServer::start_with(
        &["--kafka-brokers", &brokers, "--topic-prefix", &prefix],
        &[],
    );
    python_caldav_flow_on(&server);
}

/// vdirsyncer: discovery, two-way sync of alice's default calendar and
/// address book through rounds of changes on both sides, conflicts, and a
/// final sync with nothing to do.
#[test]
fn vdirsyncer_sync() {
    let server = TestServer::start();
    client_flow(
        &server,
        "vdirsyncer_sync.py",
        "vdirsyncer",
        &["--calendar", "default", "--addressbook", "default"],
        &[
            "ok: discovered and synced {'cal': 0, 'card': 0}",
            "ok: new items on both sides synced",
            "ok: edits, additions and a server-side delete synced",
            "ok: deletions on both sides synced",
            "ok: conflicts resolved",
            "ok: a second sync has nothing to do",
        ],
        VDIRSYNCER_TIMEOUT,
    );
}

/// vdirsyncer logged in as bob finds alice's calendar shared with him
/// (read-write) in his own home, syncs it both ways, and a last sync has
/// nothing to do.
#[test]
fn vdirsyncer_syncs_a_shared_calendar() {
    let server = TestServer::start();
    let alice = common::http::Dav::new(server.port, "alice", "alice-secret");
    let work = "/dav/calendars/alice@example.com/work/";
    assert_eq!(alice.request("MKCALENDAR", work, &[], "").status, 201);
    let put = alice.put(
        &format!("{work}standup.ics"),
        "text/calendar",
        &common::ical("standup", "Standup"),
        &[],
    );
    assert_eq!(put.status, 201);
    let share = r#"<CS:share xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">
        <CS:set><D:href>mailto:bob@example.com</D:href><CS:read-write/></CS:set></CS:share>"#;
    let shared = alice.request("POST", work, &[("Content-Type", "application/xml")], share);
    assert_eq!(shared.status, 200, "{}", shared.body);
    client_flow_as(
        &server,
        ("bob", "bob-secret"),
        "vdirsyncer_shared.py",
        "vdirsyncer",
        &[
            "--owner-user",
            "alice",
            "--owner-password",
            "alice-secret",
            "--shared",
            "work@alice@example.com",
            "--shared-owner-name",
            "work",
        ],
        &[
            "ok: the shared calendar came down with 1 items, the owner's ETags",
            "ok: changes flow both ways through the share",
            "ok: a second sync has nothing to do",
        ],
        VDIRSYNCER_TIMEOUT,
    );
}

// ---------------------------------------------------------------- the parser itself

/// Real litmus 0.13 output (from runs against Radicale and Xandikos): a
/// warning, a multi-line FAIL context, one holding a `\r`, skips, and a
/// suite cut short by a fatal `begin`.
const LITMUS_SAMPLE: &str = "-> running `basic':\n\
\r 0. init.................. \r 0. init.................. pass\n\
\r 1. begin................. \r 1. begin................. pass\n\
\r 2. delete_fragment....... WARNING: DELETE removed collection resource with Request-URI including fragment; unsafe\n\
    ...................... pass (with 1 warning)\n\
\r 3. finish................ \r 3. finish................ pass\n\
<- summary for `basic': of 4 tests run: 4 passed, 0 failed. 100.0%\n\
-> 1 warning was issued.\n\
-> running `props':\n\
\r 0. init.................. \r 0. init.................. pass\n\
\r 1. propset............... \r 1. propset............... FAIL (PROPPATCH on `/litmus/prop': 403 Forbidden\n\
)\n\
\r 2. propget............... \r 2. propget............... SKIPPED\n\
\r 3. propinit.............. \r 3. propinit.............. FAIL (PUT of `\r\u{1b}Y': 400 Bad Request)\n\
\r 4. finish................ \r 4. finish................ pass\n\
-> 1 test was skipped.\n\
<- summary for `props': of 4 tests run: 2 passed, 2 failed. 50.0%\n\
-> running `http':\n\
\r 0. init.................. \r 0. init.................. pass\n\
\r 1. begin................. \r 1. begin................. FAIL (Could not create new collection `/alice/litmus/' for tests: 403 Forbidden\n\
Server must allow `MKCOL /alice/litmus/' for tests to proceed)\n\
<- summary for `http': of 2 tests run: 1 passed, 1 failed. 50.0%\n";

#[test]
fn litmus_output_parser() {
    let suites = parse_litmus(LITMUS_SAMPLE);
    let names: Vec<&str> = suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["basic", "props", "http"]);
    let basic = &suites[0];
    assert_eq!(basic.tests.len(), 4);
    assert!(basic.tests.iter().all(|t| t.outcome == Outcome::Pass));
    assert_eq!(basic.tests[2].name, "delete_fragment");
    assert_eq!(basic.tests[2].warnings.len(), 1);
    let props = &suites[1];
    assert_eq!(
        props.tests[1].outcome,
        Outcome::Fail("FAIL (PROPPATCH on `/litmus/prop': 403 Forbidden\n)".into())
    );
    assert_eq!(props.tests[2].outcome, Outcome::Skipped("SKIPPED".into()));
    // A `\r` inside a context (litmus's random resource names) is kept.
    assert_eq!(
        props.tests[3].outcome,
        Outcome::Fail("FAIL (PUT of `\r\u{1b}Y': 400 Bad Request)".into())
    );
    assert_eq!(props.tests[4].name, "finish");
    let http = &suites[2];
    assert!(matches!(&http.tests[1].outcome, Outcome::Fail(c) if c.contains("Server must allow")));

    assert!(check_litmus(LITMUS_SAMPLE, &["basic"], &[])
        .unwrap()
        .contains("warning in basic/delete_fragment"));
    let err =
        check_litmus(LITMUS_SAMPLE, &["basic", "props", "http", "copymove"], &[]).unwrap_err();
    assert!(err.contains("props 1. propset"), "{err}");
    assert!(err.contains("props 2. propget"), "{err}");
    assert!(
        err.contains("suite http: stopped after test 1. begin"),
        "{err}"
    );
    assert!(err.contains("suite copymove: ran 0 times"), "{err}");
    // An allow-list entry covers a test by suite and name.
    let allowed = ["props/propset", "props/propget", "props/propinit"];
    assert!(check_litmus(LITMUS_SAMPLE, &["props"], &allowed).is_ok());
    let err = check_litmus(LITMUS_SAMPLE, &["props"], &allowed[..2]).unwrap_err();
    assert!(err.contains("props 3. propinit"), "{err}");
}

// ---------------------------------------------------------------- khal

const KHAL_TIMEOUT: Duration = Duration::from_secs(300);

/// khal over a vdirsyncer-synced calendar: a weekly series in
/// Europe/Paris across the change to summer time, with an EXDATE and a
/// moved instance, listed at the right local times.
#[test]
fn khal_list() {
    let server = TestServer::start();
    client_flow(
        &server,
        "khal_list.py",
        "vdirsyncer, khal",
        &[],
        &[
            "ok: a weekly series in Europe/Paris with an EXDATE and a moved instance",
            "ok: vdirsyncer synced the series into a local calendar",
            "ok: khal lists the instances at their local times across the DST change",
        ],
        KHAL_TIMEOUT,
    );
}
