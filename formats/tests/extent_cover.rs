//! `ical::time::extent` is a cover: every occurrence the full expansion
//! finds lies inside one of its spans, whatever number of rule instances
//! it was allowed to keep apart. The index of `calendars@2` rules objects
//! out by these spans, so an occurrence outside them would be a query
//! answer lost.
//!
//! Objects: the recurrence-oracle corpus (`fixtures/recurrence-oracle/`),
//! the client fixtures of `fixtures/ical/`, and generated ones mixing
//! rules bounded by UNTIL (UTC, local, DATE) or COUNT (of plain shapes
//! and of others), EXDATE, RDATE, overrides with and without
//! RANGE=THISANDFUTURE, all-day and floating times, zones with DST and a
//! VTIMEZONE of their own, to-dos and journals.

use reprise_formats as formats;

use chrono::{DateTime, TimeZone, Utc};
use formats::ical::time::{extent, occurrences_in, Limits, Span, TimeRange, Zones};
use formats::ical::tree::{parse_tree, Component};
use std::path::Path;

/// Instances kept apart before the rest of a rule is one span.
const CAPS: [usize; 4] = [1, 3, 8, 32];
/// Floating times are read in these zones (None: UTC).
const FLOATING: [Option<&str>; 2] = [None, Some("America/New_York")];

fn year(y: i32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, 1, 1, 0, 0, 0).unwrap()
}

/// Every occurrence from 1990 to 2070 lies inside a span of the extent.
fn check(name: &str, text: &str, calendar: &Component) {
    let window = TimeRange {
        start: Some(year(1990)),
        end: Some(year(2070)),
    };
    let limits = Limits {
        max_instances: 100_000,
    };
    for floating in FLOATING {
        let zones = Zones::new(calendar, floating);
        let occurrences = occurrences_in(calendar, &window, &zones, &limits)
            .unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
        for cap in CAPS {
            let spans: Vec<Span> =
                extent(calendar, &zones, cap).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
            for o in &occurrences {
                let (lo, hi) = (o.start.min(o.end), o.start.max(o.end));
                assert!(
                    spans.iter().any(|&(a, b)| a <= lo && hi <= b),
                    "{name}, cap {cap}, floating {floating:?}: the occurrence {lo}..{hi} \
                     lies outside {spans:?}\n{text}"
                );
            }
        }
    }
}

fn check_dir(dir: &Path) -> usize {
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "ics") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        if formats::ical::validate_calendar_object(&text).is_err() {
            continue;
        }
        let calendar = parse_tree(&text).unwrap();
        check(&path.display().to_string(), &text, &calendar);
        checked += 1;
    }
    checked
}

#[test]
fn the_extent_covers_the_fixtures() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    assert!(check_dir(&fixtures.join("recurrence-oracle")) >= 200);
    assert!(check_dir(&fixtures.join("ical")) >= 5);
}

/// A small deterministic generator (no dependency, no clock).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.next(items.len() as u64) as usize]
    }
}

const MY_ZONE: &str = "BEGIN:VTIMEZONE\nTZID:My Zone\n\
BEGIN:STANDARD\nDTSTART:19701025T030000\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\n\
TZOFFSETFROM:+0300\nTZOFFSETTO:+0200\nEND:STANDARD\n\
BEGIN:DAYLIGHT\nDTSTART:19700329T020000\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\n\
TZOFFSETFROM:+0200\nTZOFFSETTO:+0300\nEND:DAYLIGHT\nEND:VTIMEZONE";

/// One generated object, its lines separated by `\n`.
fn generated(rng: &mut Lcg, uid: &str) -> String {
    let kind = rng.pick(&["VEVENT", "VEVENT", "VEVENT", "VTODO", "VJOURNAL"]);
    let all_day = rng.next(4) == 0;
    let zone = if all_day {
        ";VALUE=DATE:"
    } else {
        rng.pick(&[
            ";TZID=Europe/Paris:",
            ";TZID=America/New_York:",
            ";TZID=W. Europe Standard Time:",
            ";TZID=My Zone:",
            ":",
            "Z",
        ])
    };
    let day = format!(
        "{}{:02}{:02}",
        2024 + rng.next(6),
        1 + rng.next(12),
        1 + rng.next(28)
    );
    let stamp = |rng: &mut Lcg, day: &str| {
        if all_day {
            format!("{zone}{day}")
        } else if zone == "Z" {
            format!(":{day}T{:02}{:02}00Z", rng.next(24), 15 * rng.next(4))
        } else {
            format!("{zone}{day}T{:02}{:02}00", rng.next(24), 15 * rng.next(4))
        }
    };
    let start = stamp(rng, &day);
    let mut body = format!("BEGIN:{kind}\nUID:{uid}\nDTSTART{start}\n");
    match (kind, rng.next(4)) {
        ("VEVENT", 0) => body += &format!("DURATION:PT{}M\n", 15 * rng.next(200)),
        ("VEVENT", 1) => body += &format!("DURATION:P{}D\n", 1 + rng.next(4)),
        ("VEVENT", 2) if !all_day => body += "DURATION:-PT2H\n",
        ("VTODO", 0 | 1) => body += &format!("DURATION:P{}DT3H\n", rng.next(3)),
        ("VTODO", 2) => body += &format!("DUE{}\n", stamp(rng, &day)),
        _ => {}
    }
    let until = |rng: &mut Lcg| match rng.next(3) {
        0 => format!(";UNTIL={}0615T120000Z", 2025 + rng.next(8)),
        1 => format!(";UNTIL={}1231T235959", 2025 + rng.next(8)),
        _ => format!(";UNTIL={}0301", 2025 + rng.next(8)),
    };
    let bound = match rng.next(5) {
        0 => String::new(),
        1 | 2 => until(rng),
        _ => format!(";COUNT={}", 1 + rng.next(300)),
    };
    let rule = rng.pick(&[
        "FREQ=DAILY",
        "FREQ=DAILY;INTERVAL=3",
        "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
        "FREQ=WEEKLY",
        "FREQ=WEEKLY;BYDAY=MO,WE",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;WKST=SU",
        "FREQ=MONTHLY",
        "FREQ=MONTHLY;BYMONTHDAY=31",
        "FREQ=MONTHLY;BYDAY=-1FR",
        "FREQ=MONTHLY;BYDAY=5WE",
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
        "FREQ=YEARLY",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
        "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO",
        "FREQ=HOURLY;INTERVAL=7",
    ]);
    let rule = if rule.starts_with("FREQ=HOURLY") && bound.is_empty() {
        format!("{rule};COUNT=500")
    } else {
        format!("{rule}{bound}")
    };
    if rng.next(5) != 0 {
        body += &format!("RRULE:{rule}\n");
        if rng.next(3) == 0 {
            body += &format!("RRULE:FREQ=WEEKLY;COUNT={}\n", 1 + rng.next(80));
        }
    }
    if rng.next(3) == 0 {
        body += &format!("EXDATE{start}\n");
    }
    if rng.next(3) == 0 && !all_day {
        let rdate = format!("{}0704", 2025 + rng.next(10));
        body += &match rng.next(3) {
            0 => format!("RDATE{}\n", stamp(rng, &rdate)),
            1 => format!("RDATE;VALUE=PERIOD:{rdate}T100000Z/PT5H\n"),
            _ => format!("RDATE;VALUE=DATE:{rdate}\n"),
        };
    }
    body += &format!("END:{kind}\n");
    if rng.next(3) == 0 {
        // An override of the first instance, moved by months, maybe with
        // every later one.
        let range = rng.pick(&["", ";RANGE=THISANDFUTURE"]);
        let moved = format!("{}{:02}10", 2024 + rng.next(8), 1 + rng.next(12));
        body += &format!(
            "BEGIN:{kind}\nUID:{uid}\nRECURRENCE-ID{range}{start}\nDTSTART{}\n\
             DURATION:PT{}H\nEND:{kind}\n",
            stamp(rng, &moved),
            rng.next(30)
        );
    }
    format!("{MY_ZONE}\n{body}").replace("DTSTART:Z", "DTSTART:")
}

#[test]
fn the_extent_covers_generated_objects() {
    let mut rng = Lcg(20_261_202);
    for case in 0..250 {
        let uid = format!("g{case}");
        let body = generated(&mut rng, &uid);
        let text = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{}END:VCALENDAR\r\n",
            body.replace('\n', "\r\n")
        );
        if let Err(e) = formats::ical::validate_calendar_object(&text) {
            panic!("case {case} is not a valid object: {e}\n{text}");
        }
        let calendar = parse_tree(&text).unwrap();
        check(&uid, &text, &calendar);
    }
}
