//! caldav-server-tester (the CalDAV conformance checker maintained with
//! python caldav, from PyPI) against `reprise serve`: every feature the
//! server claims must be found fully supported.
//!
//! The tester runs its checks (classes like `CheckSearch`), each probing
//! some dotted features (`search.time-range.event`...) and grading them
//! `full`, `quirk`, `fragile`, `ungraceful`, `broken`, `unsupported` or
//! `unknown`. Its `--format json` report leaves out every feature graded
//! at the library's default, so "full" and "never probed" look the same
//! there; `--format hints` lists every feature probed (as a Python dict
//! literal, turned into JSON here by the same Python).
//!
//! Found like the other real clients (see `tests/it/common/clients.rs`): a
//! Python with `caldav_server_tester` (and `vobject`, which its time zone
//! check needs), installed by `.ci/run`.

use crate::common::clients::{python_with, run_with_timeout, INSTALL_HINT};
use crate::common::server::{TestServer, USERS};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

const TESTER_TIMEOUT: Duration = Duration::from_secs(600);

/// Features the tester must grade `full`, by the check that probes them:
/// the checks covering what the server claims (README, "What the server
/// does" and "Queries").
const MUST_PASS: &[(&str, &[&str])] = &[
    // Discovery from the bare URL.
    (
        "CheckGetCurrentUserPrincipal",
        &["get-current-user-principal"],
    ),
    // A 401 naming Basic, which the client can then use.
    (
        "CheckWWWAuthenticate",
        &[
            "auth.www-authenticate",
            "auth.www-authenticate.usable-scheme",
        ],
    ),
    (
        "CheckPropfindAllprop",
        &[
            "propfind",
            "propfind.allprop",
            "propfind.allprop.resourcetype",
            "propfind.principal-depth-1",
        ],
    ),
    // MKCALENDAR (with a display name), DELETE, and both visible at once
    // (writes answer only once their projection applied them).
    (
        "CheckMakeDeleteCalendar",
        &[
            "create-calendar",
            "create-calendar.set-displayname",
            "create-calendar.stable-url",
            "delete-calendar",
            "delete-calendar.free-namespace",
            "propfind.displayname",
            "synchronous-write.create-calendar",
            "synchronous-write.delete-calendar",
        ],
    ),
    (
        "CheckSupportedComponentSet",
        &["create-calendar.with-supported-component-types"],
    ),
    // The fixtures every search check uses: events, todos and journals,
    // recurring ones with exceptions, found again by URL; and '@' in
    // object, calendar and principal paths (the test logs in as
    // alice@example.com so that the last one is probed).
    (
        "PrepareCalendar",
        &[
            "save-load.event",
            "save-load.event.recurrences",
            "save-load.event.recurrences.count",
            "save-load.event.recurrences.exception",
            "save-load.todo",
            "save-load.todo.mixed-calendar",
            "save-load.todo.recurrences",
            "save-load.todo.recurrences.count",
            "save-load.journal",
            "save-load.journal.mixed-calendar",
            "save-load.get-by-url",
            "save-load.stable-url",
            "url.encode-at.encoded",
            "url.encode-at.literal.object",
            "url.encode-at.literal.collection",
            "url.encode-at.literal.principal",
        ],
    ),
    ("CheckTimezone", &["save-load.event.timezone"]),
    ("CheckEventWithoutDtend", &["save-load.event.no-dtend"]),
    ("CheckEventWithoutSummary", &["save-load.event.no-summary"]),
    (
        "CheckRescheduleRecurrenceSeries",
        &["save-load.event.recurrences.exception.reschedule"],
    ),
    (
        "CheckCancelledRecurrenceException",
        &["save-load.event.recurrences.exception.cancelled"],
    ),
    ("CheckRelatedTo", &["save-load.icalendar.related-to"]),
    ("CheckTodoUncomplete", &["save-load.todo.uncomplete"]),
    ("CheckMutable", &["save-load.mutable"]),
    (
        "CheckAttendeePartstat",
        &["save-load.mutable.attendee-partstat"],
    ),
    // ETags and preconditions.
    (
        "CheckIfMatchOptional",
        &["save-load.mutable.if-match-optional"],
    ),
    (
        "CheckPutEtag",
        &[
            "save.etag",
            "save.if-none-match",
            "save-load.mutable.if-match-wildcard",
        ],
    ),
    ("CheckNoUidConflict", &["save.no-uid-conflict"]),
    ("CheckDuplicateEvent", &["save.duplicate-event"]),
    ("CheckDuplicateUID", &["save.duplicate-uid.cross-calendar"]),
    (
        "CheckNonExistingResource",
        &[
            "non-existing-raises-not-found.collection",
            "non-existing-raises-not-found.object",
        ],
    ),
    ("CheckSynchronousWrite", &["synchronous-write"]),
    ("CheckProppatchDelay", &["synchronous-write.proppatch"]),
    // PROPPATCH of colours and of any dead property (the order).
    (
        "CheckCalendarProperties",
        &["calendar-color", "calendar-color.name", "calendar-order"],
    ),
    // calendar-query: comp-filter, prop-filter, text-match, time-range.
    (
        "CheckSearch",
        &[
            "search.comp-type",
            "search.comp-type.optional",
            "search.combined-is-logical-and",
            "search.text.category",
            "search.time-range.event",
            "search.time-range.event.old-dates",
            "search.time-range.todo",
            "search.time-range.todo.old-dates",
            "search.unlimited-time-range",
        ],
    ),
    (
        "CheckIsNotDefined",
        &[
            "search.is-not-defined",
            "search.is-not-defined.category",
            "search.is-not-defined.class",
            "search.is-not-defined.dtend",
        ],
    ),
    // time-range on VALARM.
    ("CheckAlarmSearch", &["search.time-range.alarm"]),
    // The recurrence set in time ranges, and expand.
    (
        "CheckRecurrenceSearch",
        &[
            "search.recurrences.expanded.event",
            "search.recurrences.expanded.exception",
            "search.recurrences.expanded.todo",
            "search.recurrences.includes-implicit.event",
            "search.recurrences.includes-implicit.infinite-scope",
            "search.recurrences.includes-implicit.todo",
            "search.recurrences.includes-implicit.todo.pending",
        ],
    ),
    // Collations: i;octet and i;ascii-casemap.
    (
        "CheckCaseSensitiveSearch",
        &["search.text.case-sensitive", "search.text.case-insensitive"],
    ),
    ("CheckSubstringSearch", &["search.text.substring"]),
    // RFC 4791 §9.9: either bound may be left out; to-dos by its table.
    (
        "CheckOpenTimeRangeSearch",
        &[
            "search.time-range.open.start",
            "search.time-range.open.start.duration",
            "search.time-range.open.end",
        ],
    ),
    (
        "CheckTodoNoDtstartSearch",
        &[
            "search.time-range.todo.no-dtstart",
            "search.time-range.todo.no-dtstart.no-due",
        ],
    ),
    (
        "CheckTodoTimeRangeStrict",
        &["search.time-range.todo.strict"],
    ),
    ("CheckFreeBusyQuery", &["freebusy-query"]),
    // sync-collection: changes, deletions, a bad token, nresults.
    (
        "CheckSyncToken",
        &[
            "sync-token",
            "sync-token.delete",
            "sync-token.invalid-token",
        ],
    ),
    (
        "CheckSyncTokenLimit",
        &["sync-token.limit", "sync-token.limit.initial-sync"],
    ),
    // RFC 6638 scheduling, probed between the two users (bob is the
    // tester's second account): the DAV header, inbox and outbox, the
    // address set, Schedule-Tag on PUT, delivery to the inbox with the
    // copy already in the attendee's calendar, an attendee's answer that
    // keeps the tag, and free-busy through the outbox.
    ("CheckScheduling", &["scheduling"]),
    (
        "CheckSchedulingDetails",
        &[
            "scheduling.mailbox",
            "scheduling.calendar-user-address-set",
            "scheduling.calendar-user-address-set.populated",
        ],
    ),
    ("CheckScheduleTag", &["scheduling.schedule-tag"]),
    (
        "CheckSchedulingInboxDelivery",
        &[
            "scheduling.mailbox.inbox-delivery",
            "scheduling.auto-schedule",
        ],
    ),
    (
        "CheckScheduleTagStablePartstat",
        &["scheduling.schedule-tag.stable-partstat"],
    ),
    ("CheckFreeBusyQueryRFC6638", &["scheduling.freebusy-query"]),
    // principal-property-search: by display name, and listing everyone.
    (
        "CheckPrincipalSearch",
        &[
            "principal-search",
            "principal-search.by-name.self",
            "principal-search.list-all",
        ],
    ),
];

/// Features that may be graded otherwise, with why (the README's table
/// says the same).
const NOT_CLAIMED: &[(&str, &str)] = &[
    (
        "well-known",
        "the tester does not probe /.well-known on localhost (tests/dav.rs does)",
    ),
    (
        "create-calendar.auto",
        "calendars are made by MKCALENDAR (or extended MKCOL), not by using their URL",
    ),
    (
        "url.encode-at.identity",
        "'@' and '%40' in a path name one resource (lenient; the library's default)",
    ),
    (
        "search.text.comp-type-optional",
        "a prop-filter directly under VCALENDAR tests VCALENDAR's own properties \
         (RFC 4791 §9.7.2), so a SUMMARY or CATEGORIES there matches nothing",
    ),
    (
        "search.time-range.comp-type-optional",
        "a time-range directly under VCALENDAR is refused with valid-filter, as \
         RFC 4791 §7.8 says; clients query per component type",
    ),
    (
        "get-current-user-principal.has-calendar",
        "an observation (the user has a calendar), not a verdict",
    ),
];

/// `{feature: {"support": ..., ...}}` from the output of `--format hints`:
/// its last block from a line `{` to a line `}` (log lines go to the same
/// output, before the report).
fn parse_report(python: &std::path::Path, output: &str) -> Result<BTreeMap<String, Value>, String> {
    let lines: Vec<&str> = output.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| *l == "{")
        .ok_or("no report (a line `{`) in the output")?;
    let end = start
        + lines[start..]
            .iter()
            .position(|l| *l == "}")
            .ok_or("the report does not end (no line `}`)")?;
    let literal = lines[start..=end].join("\n");
    let mut child = Command::new(python)
        .args([
            "-c",
            "import ast, json, sys; json.dump(ast.literal_eval(sys.stdin.read()), sys.stdout)",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running {}: {e}", python.display()))?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(literal.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if !out.status.success() {
        return Err(format!(
            "the report is no Python literal: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("the report as JSON: {e}"))
}

fn support(node: &Value) -> &str {
    node.get("support").and_then(Value::as_str).unwrap_or("?")
}

/// Problems (a MUST_PASS feature missing or not `full`) and notes (the
/// other features' grades, and any the lists do not know).
fn judge(report: &BTreeMap<String, Value>) -> (Vec<String>, Vec<String>) {
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let mut listed: Vec<&str> = NOT_CLAIMED.iter().map(|(f, _)| *f).collect();
    for (check, features) in MUST_PASS {
        for feature in *features {
            listed.push(feature);
            match report.get(*feature) {
                None => problems.push(format!("{check}: {feature} not reported")),
                Some(node) if support(node) == "full" => {}
                Some(node) => problems.push(format!("{check}: {feature} is {node}")),
            }
        }
    }
    for (feature, why) in NOT_CLAIMED {
        if let Some(node) = report.get(*feature) {
            notes.push(format!("not claimed: {feature} = {node} ({why})"));
        }
    }
    for (feature, node) in report {
        if !listed.contains(&feature.as_str()) {
            notes.push(format!(
                "not in this test's lists (a newer tester?): {feature} = {node}"
            ));
        }
    }
    (problems, notes)
}

#[test]
fn caldav_server_tester() {
    let python = python_with("caldav_server_tester, vobject");
    let server = TestServer::start();
    let (login, password) = USERS[0];
    // Logged in by principal, so that an '@' in the username is probed too.
    let user = format!("{login}@example.com");
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(&python);
    cmd.args([
        "-c",
        "import sys; from caldav_server_tester import check_server_compatibility as main; \
         sys.argv[0] = 'caldav-server-tester'; main()",
        "--caldav-url",
        &format!("{}/", server.url),
        "--caldav-username",
        &user,
        "--caldav-password",
        password,
        "--format",
        "hints",
    ])
    .env("PYTHONDONTWRITEBYTECODE", "1")
    .env("PYTHONUNBUFFERED", "1");
    // Only the arguments say where the server is.
    for (k, _) in std::env::vars() {
        if k.starts_with("CALDAV_")
            || k.starts_with("PYTHON_CALDAV_")
            || k.starts_with("CALENDARING_")
        {
            cmd.env_remove(k);
        }
    }
    // The second user, which the tester takes only from a config file
    // section: the attendee of its scheduling checks.
    let (bob, bob_password) = USERS[1];
    let config = dir.path().join("caldav.json");
    std::fs::write(
        &config,
        serde_json::json!({
            "bob": {
                "caldav_url": format!("{}/", server.url),
                "caldav_username": format!("{bob}@example.com"),
                "caldav_password": bob_password,
            }
        })
        .to_string(),
    )
    .unwrap();
    cmd.env("CALDAV_CONFIG_FILE", &config)
        .args(["--config-section", "bob"]);
    let ran = run_with_timeout(cmd, dir.path(), TESTER_TIMEOUT);
    assert!(
        ran.success,
        "caldav-server-tester {}; {INSTALL_HINT}\n--- output ---\n{}",
        ran.status, ran.output
    );
    let report = parse_report(&python, &ran.output)
        .unwrap_or_else(|e| panic!("{e}\n--- output ---\n{}", ran.output));
    let (problems, notes) = judge(&report);
    println!("caldav-server-tester {}\n{}", ran.status, ran.output);
    println!("{}", notes.join("\n"));
    assert!(
        problems.is_empty(),
        "caldav-server-tester against {}: features claimed but not found fully supported:\n{}",
        server.url,
        problems.join("\n")
    );
}

#[test]
fn judging_a_report() {
    let mut report: BTreeMap<String, Value> = MUST_PASS
        .iter()
        .flat_map(|(_, features)| features.iter())
        .map(|f| (f.to_string(), serde_json::json!({"support": "full"})))
        .collect();
    report.insert(
        "create-calendar.auto".into(),
        serde_json::json!({"support": "unsupported"}),
    );
    report.insert("brand-new".into(), serde_json::json!({"support": "broken"}));
    let (problems, notes) = judge(&report);
    assert!(problems.is_empty(), "{problems:?}");
    assert!(notes
        .iter()
        .any(|n| n.starts_with("not claimed: create-calendar.auto")));
    assert!(notes.iter().any(|n| n.contains("brand-new")));

    report.insert(
        "search.time-range.open.end".into(),
        serde_json::json!({"support": "ungraceful", "behaviour": "403"}),
    );
    report.remove("freebusy-query");
    let (problems, _) = judge(&report);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].starts_with("CheckOpenTimeRangeSearch: search.time-range.open.end is"));
    assert!(problems[1].contains("freebusy-query not reported"));
}
