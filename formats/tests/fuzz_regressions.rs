//! Every input a fuzz target (`fuzz/`) found a crash, hang or memory
//! blow-up with, kept in `fixtures/fuzz/<target>/`, runs through what
//! that target runs and must come back, an error being a fine answer.
//! `fuzz/README.md` says how a finding becomes a file here.

use reprise_formats as formats;

use chrono::{TimeZone, Utc};
use formats::calfilter::{self, parse_calendar_query, zone_name, Matcher, ZonedObject};
use formats::ical::time::{extent, InstanceBudget, Limits, Zones};
use formats::ical::tree::{parse_tree, TreeScope};
use formats::ical::{split_calendar_export, validate_calendar_object, validate_calendar_tree};
use std::path::{Path, PathBuf};

/// The findings of one target, sorted by name.
fn findings(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/fuzz")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).expect("a finding");
            (path, bytes)
        })
        .collect()
}

/// What `fuzz/fuzz_targets/ical.rs` runs.
fn ical(text: &str) {
    let _ = validate_calendar_object(text);
    if let Ok((_, occurrences)) = validate_calendar_tree(text, TreeScope::Occurrences) {
        let _ = extent(&occurrences, &Zones::new(&occurrences, None), 32);
    }
    if let Ok(tree) = parse_tree(text) {
        let _ = tree.to_text();
    }
    let _ = split_calendar_export(text);
}

#[test]
fn ical_findings_are_answered() {
    let found = findings("ical");
    assert!(!found.is_empty());
    for (path, bytes) in found {
        let text = std::str::from_utf8(&bytes).expect("UTF-8");
        ical(text);
        println!("{}: answered", path.display());
    }
}

/// What `fuzz/fuzz_targets/calendar_query.rs` runs: the query (before the
/// first NUL byte) against the object (after it).
fn calendar_query(data: &[u8]) {
    let Some(split) = data.iter().position(|&b| b == 0) else {
        return;
    };
    let (body, object) = (&data[..split], &data[split + 1..]);
    let Ok(object) = std::str::from_utf8(object) else {
        return;
    };
    let Ok(root) = formats::xml::parse(body) else {
        return;
    };
    let Ok(query) = parse_calendar_query(&root) else {
        return;
    };
    let Ok(calendar) = parse_tree(object) else {
        return;
    };
    let floating = query.timezone.as_deref().map(zone_name);
    let limits = Limits {
        max_instances: 10_000,
    };
    let budget = InstanceBudget::new(100_000);
    let matcher = Matcher {
        filter: &query.filter,
        limits,
    };
    if let Ok(true) = matcher.matches(&calendar, floating.as_deref()) {
        if let Some(data) = &query.calendar_data {
            let _ = calfilter::calendar_data(
                &calendar,
                object,
                data,
                floating.as_deref(),
                (&limits, &budget),
            );
        }
    }
    if let Some((_, Some(range))) = query.filter.required_occurrence() {
        let far = |y| Utc.with_ymd_and_hms(y, 1, 1, 0, 0, 0).single();
        let (Some(start), Some(end)) = (range.start.or(far(1900)), range.end.or(far(2100))) else {
            return;
        };
        if start < end {
            let objects = [ZonedObject {
                calendar: &calendar,
                floating: floating.as_deref(),
            }];
            let _ = calfilter::free_busy(&objects, (start, end), start, &limits, &budget);
        }
    }
}

#[test]
fn calendar_query_findings_are_answered() {
    let found = findings("calendar_query");
    assert!(!found.is_empty());
    for (path, bytes) in found {
        let started = std::time::Instant::now();
        calendar_query(&bytes);
        println!("{}: answered in {:?}", path.display(), started.elapsed());
    }
}

/// Found by fuzzing (`fixtures/fuzz/calendar_query/expand-from-year-*`):
/// a daily rule starting in the year 25, expanded over 2024 and 2025, put
/// every one of its 240,000 earlier instances through its zone, seconds
/// of work for one object. Instances that cannot reach the range are now
/// skipped before their instant is computed; the answer is the same.
#[test]
fn a_rule_starting_centuries_before_the_range_finds_the_same_occurrences() {
    use formats::ical::time::{occurrences_in, TimeRange};
    let object = |dtstart: &str, until: &str| {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:u\r\n\
             DTSTAMP:20250101T000000Z\r\nDTSTART;TZID=Europe/Paris:{dtstart}\r\nDURATION:PT1H\r\n\
             RRULE:FREQ=DAILY;INTERVAL=3{until}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    };
    let range = TimeRange {
        start: Some(Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap()),
        end: Some(Utc.with_ymd_and_hms(2024, 4, 1, 0, 0, 0).unwrap()),
    };
    let starts = |text: &str| -> Vec<String> {
        let tree = parse_tree(text).unwrap();
        occurrences_in(&tree, &range, &Zones::new(&tree, None), &Limits::default())
            .unwrap()
            .iter()
            .map(|o| o.start.to_rfc3339())
            .collect()
    };
    // The same series, started in 1025 and in 2024 on a day of it.
    let old = starts(&object("10250101T090000", ""));
    let first = chrono::NaiveDate::from_ymd_opt(1025, 1, 1).unwrap();
    let day = (0..)
        .map(|i| chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Days::new(i))
        .find(|d| (*d - first).num_days() % 3 == 0)
        .unwrap();
    let recent = starts(&object(&format!("{}T090000", day.format("%Y%m%d")), ""));
    assert_eq!(old.len(), 10, "{old:?}");
    assert_eq!(old, recent);
    // Over before the range: nothing, whichever way UNTIL is written.
    for until in [
        ";UNTIL=20231231T235959Z",
        ";UNTIL=20231231T235959",
        ";UNTIL=20231231",
    ] {
        assert!(
            starts(&object("10250101T090000", until)).is_empty(),
            "{until}"
        );
    }
    // Ending inside it: the instances up to UNTIL.
    let cut = starts(&object("10250101T090000", ";UNTIL=20240315T000000Z"));
    assert_eq!(cut, old[..cut.len()].to_vec());
    assert!(!cut.is_empty() && cut.len() < old.len());
}
