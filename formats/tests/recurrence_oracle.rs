//! The time-range engine against an independent oracle, without Python.
//!
//! `fixtures/recurrence-oracle/` holds calendar objects made by the seeded
//! generator of `tests/clients/recurrence_oracle.py` (recurring series in
//! zones with DST, all-day and floating ones, COUNT/UNTIL, EXDATEs,
//! moved overrides, RDATE periods) and, in `expected*.txt`, the objects
//! that python's `recurring-ical-events` (with the RFC 5545 instance ends
//! the script computes) says have an occurrence in each window. Each
//! window becomes a `calendar-query` body parsed the way the server
//! parses it, and `calfilter::Matcher` must pick exactly those objects,
//! with floating times in the zone the file names (as a calendar's
//! `calendar-timezone` would give it). See `fixtures/README.md` for how
//! the corpus is regenerated.

use reprise_formats as formats;

use formats::calfilter::{parse_calendar_query, Matcher};
use formats::ical::time::Limits;
use formats::ical::tree::{parse_tree, Component};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/recurrence-oracle")
}

struct Expected {
    file: String,
    /// None: floating times in UTC.
    floating: Option<String>,
    /// (start, end, UIDs), times as `YYYYMMDDTHHMMSSZ`.
    windows: Vec<(String, String, BTreeSet<String>)>,
}

fn read_expected(path: &Path) -> Expected {
    let text = std::fs::read_to_string(path).unwrap();
    let mut floating = None;
    let mut windows = Vec::new();
    for line in text.lines() {
        if let Some(zone) = line.strip_prefix("# floating zone: ") {
            floating = (zone != "UTC").then(|| zone.to_string());
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut words = line.split_whitespace().map(str::to_string);
        let start = words.next().unwrap();
        let end = words.next().expect("a window needs an end");
        windows.push((start, end, words.collect()));
    }
    Expected {
        file: path.file_name().unwrap().to_string_lossy().into_owned(),
        floating,
        windows,
    }
}

/// The objects by UID (the file name without `.ics`), checked to be
/// objects the server would store.
fn objects() -> BTreeMap<String, (String, Component)> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(corpus()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "ics") {
            continue;
        }
        let uid = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let object = formats::ical::validate_calendar_object(&text)
            .unwrap_or_else(|e| panic!("{}: not a storable object: {e}", path.display()));
        assert_eq!(
            object.uid,
            uid,
            "{}: UID differs from the file name",
            path.display()
        );
        let tree = parse_tree(&text).unwrap();
        out.insert(uid, (text, tree));
    }
    out
}

fn query(start: &str, end: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
    <C:time-range start="{start}" end="{end}"/>
  </C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"#
    )
}

#[test]
fn time_ranges_agree_with_the_oracle() {
    let objects = objects();
    assert!(
        objects.len() >= 200,
        "only {} objects in {}",
        objects.len(),
        corpus().display()
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("expected") && name.ends_with(".txt")
        })
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no expected*.txt in {}",
        corpus().display()
    );

    let mut windows = 0;
    let mut problems = Vec::new();
    for path in &files {
        let expected = read_expected(path);
        assert!(
            expected.windows.len() >= 100,
            "{}: only {} windows",
            expected.file,
            expected.windows.len()
        );
        for (start, end, want) in &expected.windows {
            windows += 1;
            for uid in want {
                assert!(
                    objects.contains_key(uid),
                    "{}: unknown UID {uid}",
                    expected.file
                );
            }
            let root = formats::xml::parse(query(start, end).as_bytes()).unwrap();
            let q = parse_calendar_query(&root).unwrap();
            let matcher = Matcher {
                filter: &q.filter,
                limits: Limits::default(),
            };
            for (uid, (text, tree)) in &objects {
                let got = matcher
                    .matches(tree, expected.floating.as_deref())
                    .unwrap_or_else(|e| panic!("{uid} in {start}..{end}: {e}\n{text}"));
                if got != want.contains(uid) {
                    problems.push(format!(
                        "{} {start}..{end}: {uid} in the window by the engine: {got}, \
                         by the oracle: {}\n{text}",
                        expected.file, !got,
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} (window, object) pairs differ from the oracle; the first ones:\n{}",
        problems.len(),
        windows * objects.len(),
        problems
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
