//! calendar-query time ranges of a real `reprise serve` against an
//! independent oracle: `tests/clients/recurrence_oracle.py` generates
//! random recurring events from a seed (zones with DST, all-day and
//! floating ones, COUNT/UNTIL, EXDATEs, moved overrides, RDATEs) and
//! random windows, PUTs the events into a fresh calendar, and compares
//! the objects each `calendar-query` REPORT returns with what python's
//! `recurring-ical-events` computes (its docstring lists where that
//! library and the RFCs differ, and what the script does about it).
//!
//! A few fixed seeds run every time, one of them in a calendar whose
//! `calendar-timezone` puts floating times in Europe/Paris; set
//! `REPRISE_ORACLE_SEED` to run one more seed (e.g. one a failure printed,
//! or a new one to explore). The Python is found as in `dav_clients.rs`
//! (`REPRISE_TEST_PYTHON`, `REPRISE_TEST_VENV`, the default venv); a
//! missing one fails the test, naming `.ci/run`. The fixtures-only
//! counterpart, without Python, is `formats/tests/recurrence_oracle.rs`.

use crate::common::clients::{client_script, python_with, run_with_timeout};
use crate::common::server::{TestServer, USERS};
use std::process::Command;
use std::time::Duration;

const SCRIPT: &str = "recurrence_oracle.py";
const EVENTS: u32 = 150;
const WINDOWS: u32 = 60;
const TIMEOUT: Duration = Duration::from_secs(180);

/// (seed, the calendar's calendar-timezone: where floating times are).
const FIXED: [(u64, Option<&str>); 3] = [(1, None), (2, Some("Europe/Paris")), (3, None)];

/// Runs the script on one seed; its output, or why it failed.
fn live(server: &TestServer, seed: u64, floating: Option<&str>) -> Result<String, String> {
    let python = python_with("recurring_ical_events");
    let dir = tempfile::tempdir().unwrap();
    let (user, password) = USERS[0];
    let mut cmd = Command::new(&python);
    cmd.arg(client_script(SCRIPT))
        .arg("live")
        .args(["--url", &server.url, "--user", user, "--password", password])
        .args(["--seed", &seed.to_string()])
        .args(["--events", &EVENTS.to_string()])
        .args(["--windows", &WINDOWS.to_string()])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1");
    if let Some(zone) = floating {
        cmd.args(["--floating-zone", zone]);
    }
    let ran = run_with_timeout(cmd, dir.path(), TIMEOUT);
    let zone = floating.unwrap_or("UTC");
    let agreed = format!(
        "ok: {WINDOWS} calendar-query time ranges agree with the oracle \
         (seed {seed}, floating times in {zone})"
    );
    let lines: Vec<&str> = ran.output.lines().collect();
    if ran.success
        && lines.contains(&agreed.as_str())
        && lines.last() == Some(&"recurrence_oracle: PASS")
    {
        Ok(ran.output)
    } else {
        Err(format!(
            "seed {seed}, floating times in {zone}: {SCRIPT} {}\n--- output ---\n{}",
            ran.status, ran.output
        ))
    }
}

/// The fixed seeds, and `REPRISE_ORACLE_SEED` when set, against one server.
#[test]
fn calendar_query_agrees_with_the_oracle() {
    let mut runs: Vec<(u64, Option<&str>)> = FIXED.to_vec();
    if let Ok(seed) = std::env::var("REPRISE_ORACLE_SEED") {
        let seed = seed
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("REPRISE_ORACLE_SEED={seed:?} is not a number"));
        runs.push((seed, None));
    }
    let server = TestServer::start();
    let mut failures = Vec::new();
    for (seed, floating) in runs {
        match live(&server, seed, floating) {
            Ok(output) => println!("{output}"),
            Err(why) => failures.push(why),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
