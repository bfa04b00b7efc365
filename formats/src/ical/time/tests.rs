use super::*;
use crate::ical::tree::parse_tree;

/// A VCALENDAR around `body` (lines separated by `\n`).
fn cal(body: &str) -> Component {
    let text = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{}\r\nEND:VCALENDAR\r\n",
        body.trim().replace('\n', "\r\n")
    );
    parse_tree(&text).unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    match parse_written(s) {
        Some(Written::DateTime { local, utc: true }) => local.and_utc(),
        _ => panic!("not a UTC date-time: {s}"),
    }
}

fn range(start: &str, end: &str) -> TimeRange {
    TimeRange {
        start: (!start.is_empty()).then(|| utc(start)),
        end: (!end.is_empty()).then(|| utc(end)),
    }
}

fn fmt(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

fn expand_with(
    c: &Component,
    r: &TimeRange,
    floating: Option<&str>,
    max: usize,
) -> Result<Vec<Occurrence>, TimeError> {
    let zones = Zones::new(c, floating);
    occurrences_in(c, r, &zones, &Limits { max_instances: max })
}

/// The starts of the occurrences in the range.
fn starts(c: &Component, r: &TimeRange) -> Vec<String> {
    expand_with(c, r, None, 10_000)
        .unwrap()
        .into_iter()
        .map(|o| fmt(o.start))
        .collect()
}

fn matches(c: &Component, r: &TimeRange) -> bool {
    !starts(c, r).is_empty()
}

const YEAR: (&str, &str) = ("20260101T000000Z", "20270101T000000Z");

fn year() -> TimeRange {
    range(YEAR.0, YEAR.1)
}

#[test]
fn a_weekly_rule_keeps_its_local_time_across_the_dst_change() {
    let c = cal(
        "BEGIN:VEVENT\nUID:1\nDTSTART;TZID=Europe/Paris:20260316T090000\n\
DTEND;TZID=Europe/Paris:20260316T100000\nRRULE:FREQ=WEEKLY;COUNT=4\nEND:VEVENT",
    );
    let occurrences = expand_with(&c, &year(), None, 100).unwrap();
    let got: Vec<(String, String)> = occurrences
        .iter()
        .map(|o| (fmt(o.start), fmt(o.end)))
        .collect();
    assert_eq!(
        got,
        [
            ("20260316T080000Z".into(), "20260316T090000Z".into()),
            ("20260323T080000Z".into(), "20260323T090000Z".into()),
            // Paris moved to summer time on 2026-03-29: 09:00 is 07:00Z.
            ("20260330T070000Z".into(), "20260330T080000Z".into()),
            ("20260406T070000Z".into(), "20260406T080000Z".into()),
        ]
    );
    assert!(occurrences
        .iter()
        .all(|o| o.recurrence_id == Some(o.start) && o.component == 0));
}

#[test]
fn a_daily_time_in_the_dst_gap_takes_the_offset_before_it() {
    let c = cal(
        "BEGIN:VEVENT\nUID:1\nDTSTART;TZID=Europe/Paris:20260328T023000\n\
RRULE:FREQ=DAILY;COUNT=3\nEND:VEVENT",
    );
    assert_eq!(
        starts(&c, &year()),
        [
            "20260328T013000Z",
            // 02:30 does not exist on the 29th: read at +01:00.
            "20260329T013000Z",
            "20260330T003000Z"
        ]
    );
}

#[test]
fn windows_zone_names_are_mapped() {
    let c = cal(
        "BEGIN:VEVENT\nUID:1\nDTSTART;TZID=\"W. Europe Standard Time\":20260701T090000\n\
DURATION:PT1H\nEND:VEVENT",
    );
    assert_eq!(starts(&c, &year()), ["20260701T070000Z"]);
    let c = cal(
        "BEGIN:VEVENT\nUID:1\nDTSTART;TZID=Pacific Standard Time:20260115T090000\n\
RRULE:FREQ=MONTHLY;COUNT=7\nEND:VEVENT",
    );
    let got = starts(&c, &year());
    assert_eq!(got[0], "20260115T170000Z");
    assert_eq!(got[6], "20260715T160000Z");
    let c = cal("BEGIN:VEVENT\nUID:1\nDTSTART;TZID=\"tzone://Microsoft/Romance Standard Time\":20260115T090000\n\
END:VEVENT");
    assert_eq!(starts(&c, &year()), ["20260115T080000Z"]);
}

const MY_ZONE: &str = "BEGIN:VTIMEZONE\nTZID:My Zone\n\
BEGIN:STANDARD\nDTSTART:19701025T030000\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\n\
TZOFFSETFROM:+0300\nTZOFFSETTO:+0200\nEND:STANDARD\n\
BEGIN:DAYLIGHT\nDTSTART:19700329T020000\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\n\
TZOFFSETFROM:+0200\nTZOFFSETTO:+0300\nEND:DAYLIGHT\nEND:VTIMEZONE";

#[test]
fn an_embedded_vtimezone_that_is_not_iana() {
    let c = cal(&format!(
        "{MY_ZONE}\nBEGIN:VEVENT\nUID:1\nDTSTART;TZID=My Zone:20260322T090000\n\
DTEND;TZID=My Zone:20260322T093000\nRRULE:FREQ=WEEKLY;UNTIL=20260406T000000Z\nEND:VEVENT"
    ));
    let occurrences = expand_with(&c, &year(), None, 100).unwrap();
    let got: Vec<String> = occurrences.iter().map(|o| fmt(o.start)).collect();
    // +02:00 before the last Sunday of March, +03:00 after.
    assert_eq!(
        got,
        ["20260322T070000Z", "20260329T060000Z", "20260405T060000Z"]
    );
    assert!(occurrences.iter().all(|o| o.component == 1));
    assert!(occurrences
        .iter()
        .all(|o| o.end - o.start == TimeDelta::minutes(30)));
    // A TZID nobody knows is UTC.
    let c = cal("BEGIN:VEVENT\nUID:1\nDTSTART;TZID=Nowhere:20260322T090000\nEND:VEVENT");
    assert_eq!(starts(&c, &year()), ["20260322T090000Z"]);
}

#[test]
fn floating_times_are_in_the_floating_zone() {
    let c = cal("BEGIN:VEVENT\nUID:1\nDTSTART:20260115T090000\nDTEND:20260115T100000\nEND:VEVENT");
    let new_york = expand_with(&c, &year(), Some("America/New_York"), 10).unwrap();
    assert_eq!(fmt(new_york[0].start), "20260115T140000Z");
    assert_eq!(fmt(new_york[0].end), "20260115T150000Z");
    assert_eq!(new_york[0].recurrence_id, None);
    let utc_zone = expand_with(&c, &year(), None, 10).unwrap();
    assert_eq!(fmt(utc_zone[0].start), "20260115T090000Z");
    // A range between the two readings tells them apart.
    let r = range("20260115T120000Z", "20260115T130000Z");
    assert!(expand_with(&c, &r, Some("America/New_York"), 10)
        .unwrap()
        .is_empty());
    let zones = Zones::new(&c, Some("America/New_York"));
    let (at, date) = zones
        .instant(c.components[0].property("DTSTART").unwrap())
        .unwrap();
    assert_eq!((fmt(at), date), ("20260115T140000Z".to_string(), false));
}

#[test]
fn all_day_events_with_and_without_dtend() {
    let one = cal("BEGIN:VEVENT\nUID:1\nDTSTART;VALUE=DATE:20260310\nEND:VEVENT");
    let o = &expand_with(&one, &year(), None, 10).unwrap()[0];
    assert_eq!(
        (fmt(o.start), fmt(o.end)),
        ("20260310T000000Z".into(), "20260311T000000Z".into())
    );
    assert!(matches(
        &one,
        &range("20260310T230000Z", "20260311T000000Z")
    ));
    assert!(!matches(
        &one,
        &range("20260311T000000Z", "20260312T000000Z")
    ));
    assert!(!matches(
        &one,
        &range("20260309T000000Z", "20260310T000000Z")
    ));
    let three = cal(
        "BEGIN:VEVENT\nUID:1\nDTSTART;VALUE=DATE:20260310\nDTEND;VALUE=DATE:20260313\nEND:VEVENT",
    );
    assert!(matches(
        &three,
        &range("20260312T120000Z", "20260312T130000Z")
    ));
    assert!(!matches(
        &three,
        &range("20260313T000000Z", "20260314T000000Z")
    ));
    // Midnight of the floating zone; the day across a DST change is 23h.
    let paris = cal(
        "BEGIN:VEVENT\nUID:1\nDTSTART;VALUE=DATE:20260329\nRRULE:FREQ=YEARLY;COUNT=2\nEND:VEVENT",
    );
    let o = expand_with(&paris, &year(), Some("Europe/Paris"), 10).unwrap();
    assert_eq!(o.len(), 1);
    assert_eq!(
        (fmt(o[0].start), fmt(o[0].end)),
        ("20260328T230000Z".into(), "20260329T220000Z".into())
    );
}

const WEEKLY: &str = "BEGIN:VEVENT\nUID:w\nDTSTART:20260302T090000Z\nDURATION:PT1H\n\
RRULE:FREQ=WEEKLY;COUNT=5";

#[test]
fn exdate_removes_an_instance() {
    let c = cal(&format!(
        "{WEEKLY}\nEXDATE:20260309T090000Z,20260323T090000Z\nEND:VEVENT"
    ));
    assert_eq!(
        starts(&c, &year()),
        ["20260302T090000Z", "20260316T090000Z", "20260330T090000Z"]
    );
    // A DATE EXDATE removes that day's instance of a DATE-TIME series.
    let c = cal(&format!("{WEEKLY}\nEXDATE;VALUE=DATE:20260316\nEND:VEVENT"));
    assert_eq!(starts(&c, &year()).len(), 4);
    // EXDATE may remove DTSTART itself.
    let c = cal(&format!("{WEEKLY}\nEXDATE:20260302T090000Z\nEND:VEVENT"));
    assert_eq!(starts(&c, &year())[0], "20260309T090000Z");
}

#[test]
fn an_override_moves_its_instance() {
    let c = cal(&format!(
        "{WEEKLY}\nEND:VEVENT\nBEGIN:VEVENT\nUID:w\nRECURRENCE-ID:20260309T090000Z\n\
DTSTART:20260310T140000Z\nDURATION:PT2H\nSUMMARY:moved\nEND:VEVENT"
    ));
    let all = expand_with(&c, &year(), None, 100).unwrap();
    assert_eq!(all.len(), 5);
    let moved = all.iter().find(|o| o.component == 1).unwrap();
    assert_eq!(fmt(moved.start), "20260310T140000Z");
    assert_eq!(fmt(moved.end), "20260310T160000Z");
    assert_eq!(moved.recurrence_id, Some(utc("20260309T090000Z")));
    // Found at its new time, not at the old one.
    assert!(starts(&c, &range("20260309T000000Z", "20260310T000000Z")).is_empty());
    let there = expand_with(&c, &range("20260310T150000Z", "20260310T151500Z"), None, 10).unwrap();
    assert_eq!(there.len(), 1);
    assert_eq!(there[0].component, 1);
}

#[test]
fn overrides_without_an_instance_or_without_a_master() {
    // RECURRENCE-ID that the rule does not generate: still an occurrence.
    let c = cal(&format!(
        "{WEEKLY}\nEND:VEVENT\nBEGIN:VEVENT\nUID:w\nRECURRENCE-ID:20260305T090000Z\n\
DTSTART:20260305T100000Z\nEND:VEVENT"
    ));
    assert_eq!(starts(&c, &year()).len(), 6);
    // Only an override (an invitation to one instance).
    let c = cal(
        "BEGIN:VEVENT\nUID:w\nRECURRENCE-ID;TZID=Europe/Paris:20260309T090000\n\
DTSTART;TZID=Europe/Paris:20260309T110000\nDTEND;TZID=Europe/Paris:20260309T120000\nEND:VEVENT",
    );
    let o = expand_with(&c, &year(), None, 10).unwrap();
    assert_eq!(o.len(), 1);
    assert_eq!(fmt(o[0].start), "20260309T100000Z");
    assert_eq!(o[0].recurrence_id, Some(utc("20260309T080000Z")));
    // An override of a non-recurring master replaces it.
    let c = cal(
        "BEGIN:VEVENT\nUID:s\nDTSTART:20260309T090000Z\nEND:VEVENT\n\
BEGIN:VEVENT\nUID:s\nRECURRENCE-ID:20260309T090000Z\nDTSTART:20260309T120000Z\nEND:VEVENT",
    );
    assert_eq!(starts(&c, &year()), ["20260309T120000Z"]);
}

#[test]
fn thisandfuture_moves_the_later_instances() {
    let c = cal(&format!(
        "{WEEKLY}\nEND:VEVENT\nBEGIN:VEVENT\nUID:w\nRECURRENCE-ID;RANGE=THISANDFUTURE:20260316T090000Z\n\
DTSTART:20260316T110000Z\nDURATION:PT30M\nEND:VEVENT"
    ));
    let o = expand_with(&c, &year(), None, 100).unwrap();
    let got: Vec<(String, usize)> = o.iter().map(|o| (fmt(o.start), o.component)).collect();
    assert_eq!(
        got,
        [
            ("20260302T090000Z".into(), 0),
            ("20260309T090000Z".into(), 0),
            ("20260316T110000Z".into(), 1),
            ("20260323T110000Z".into(), 1),
            ("20260330T110000Z".into(), 1),
        ]
    );
    assert!(o[3..]
        .iter()
        .all(|o| o.end - o.start == TimeDelta::minutes(30)));
    assert_eq!(o[4].recurrence_id, Some(utc("20260330T090000Z")));
    assert!(!matches(&c, &range("20260330T090000Z", "20260330T100000Z")));
    // A later instance moved into a range past the original series.
    let c = cal(
        "BEGIN:VEVENT\nUID:w\nDTSTART:20260302T090000Z\nRRULE:FREQ=DAILY;UNTIL=20260305T090000Z\n\
END:VEVENT\nBEGIN:VEVENT\nUID:w\nRECURRENCE-ID;RANGE=THISANDFUTURE:20260304T090000Z\n\
DTSTART:20260310T090000Z\nEND:VEVENT",
    );
    assert_eq!(
        starts(&c, &range("20260310T000000Z", "20260312T000000Z")),
        ["20260310T090000Z", "20260311T090000Z"]
    );
}

#[test]
fn rdate_dates_times_and_periods() {
    let c = cal(
        "BEGIN:VEVENT\nUID:r\nDTSTART:20260302T090000Z\nDTEND:20260302T100000Z\n\
RDATE;VALUE=PERIOD:20260304T120000Z/PT3H,20260306T120000Z/20260306T123000Z\n\
RDATE;TZID=Europe/Paris:20260308T090000\nEND:VEVENT",
    );
    let o = expand_with(&c, &year(), None, 10).unwrap();
    let got: Vec<(String, String)> = o.iter().map(|o| (fmt(o.start), fmt(o.end))).collect();
    assert_eq!(
        got,
        [
            ("20260302T090000Z".into(), "20260302T100000Z".into()),
            ("20260304T120000Z".into(), "20260304T150000Z".into()),
            ("20260306T120000Z".into(), "20260306T123000Z".into()),
            ("20260308T080000Z".into(), "20260308T090000Z".into()),
        ]
    );
    assert!(matches(&c, &range("20260304T140000Z", "20260304T141000Z")));
    // RDATE equal to an RRULE instance is one occurrence.
    let c = cal(
        "BEGIN:VEVENT\nUID:r\nDTSTART:20260302T090000Z\nRRULE:FREQ=DAILY;COUNT=3\n\
RDATE:20260303T090000Z\nEND:VEVENT",
    );
    assert_eq!(starts(&c, &year()).len(), 3);
}

#[test]
fn count_and_until() {
    let count = cal(
        "BEGIN:VEVENT\nUID:c\nDTSTART;TZID=Europe/Paris:20260302T090000\n\
RRULE:FREQ=DAILY;COUNT=10\nEND:VEVENT",
    );
    assert_eq!(starts(&count, &year()).len(), 10);
    assert_eq!(starts(&count, &range("20260310T000000Z", "")).len(), 2);
    // UNTIL is inclusive.
    let until = cal(
        "BEGIN:VEVENT\nUID:u\nDTSTART;TZID=Europe/Paris:20260302T090000\n\
RRULE:FREQ=DAILY;UNTIL=20260305T080000Z\nEND:VEVENT",
    );
    assert_eq!(
        starts(&until, &year()),
        [
            "20260302T080000Z",
            "20260303T080000Z",
            "20260304T080000Z",
            "20260305T080000Z"
        ]
    );
    // A DATE UNTIL for an all-day series.
    let dates = cal("BEGIN:VEVENT\nUID:d\nDTSTART;VALUE=DATE:20260302\n\
RRULE:FREQ=WEEKLY;UNTIL=20260316\nEND:VEVENT");
    assert_eq!(starts(&dates, &year()).len(), 3);
    // An UNTIL before DTSTART leaves DTSTART.
    let before = cal("BEGIN:VEVENT\nUID:b\nDTSTART:20260302T090000Z\n\
RRULE:FREQ=DAILY;UNTIL=20260301T000000Z\nEND:VEVENT");
    assert_eq!(starts(&before, &year()), ["20260302T090000Z"]);
}

const DAILY: &str = "BEGIN:VEVENT\nUID:d\nDTSTART;TZID=Europe/Paris:20200106T090000\n\
DTEND;TZID=Europe/Paris:20200106T093000\nRRULE:FREQ=DAILY\nEND:VEVENT";

#[test]
fn an_infinite_rule_is_clamped_to_the_range() {
    let c = cal(DAILY);
    let week = range("20260302T000000Z", "20260309T000000Z");
    let got = starts(&c, &week);
    assert_eq!(got.len(), 7);
    assert_eq!(got[0], "20260302T080000Z");
    // No end: only the limit stops it.
    let open = range("20260302T000000Z", "");
    assert_eq!(
        expand_with(&c, &open, None, 500),
        Err(TimeError::TooManyInstances(500))
    );
    let all = TimeRange {
        start: None,
        end: None,
    };
    assert_eq!(
        expand_with(&c, &all, None, 500),
        Err(TimeError::TooManyInstances(500))
    );
    // With no start, everything before the end.
    assert_eq!(starts(&c, &range("", "20200110T000000Z")).len(), 4);
}

#[test]
fn a_hostile_rule_hits_the_limit_quickly() {
    let started = std::time::Instant::now();
    let c = cal("BEGIN:VEVENT\nUID:h\nDTSTART:20260301T000000Z\nRRULE:FREQ=SECONDLY\nEND:VEVENT");
    assert_eq!(
        expand_with(&c, &year(), None, 10_000),
        Err(TimeError::TooManyInstances(10_000))
    );
    // Generated before the range: the work budget stops it.
    let c = cal("BEGIN:VEVENT\nUID:h\nDTSTART:20200101T000000Z\nRRULE:FREQ=SECONDLY\nEND:VEVENT");
    assert_eq!(
        expand_with(
            &c,
            &range("20260101T000000Z", "20260101T000100Z"),
            None,
            1000
        ),
        Err(TimeError::TooManyInstances(1000))
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn invalid_values_and_rules_are_errors() {
    let bad_start = cal("BEGIN:VEVENT\nUID:x\nDTSTART:20260231T090000Z\nEND:VEVENT");
    assert!(matches!(
        expand_with(&bad_start, &year(), None, 10),
        Err(TimeError::InvalidValue { property, .. }) if property == "DTSTART"
    ));
    let bad_rule =
        cal("BEGIN:VEVENT\nUID:x\nDTSTART:20260301T090000Z\nRRULE:FREQ=FORTNIGHTLY\nEND:VEVENT");
    assert!(matches!(
        expand_with(&bad_rule, &year(), None, 10),
        Err(TimeError::InvalidRule { rule, .. }) if rule == "FREQ=FORTNIGHTLY"
    ));
    let bad_exdate = cal(&format!("{WEEKLY}\nEXDATE:yesterday\nEND:VEVENT"));
    assert!(matches!(
        expand_with(&bad_exdate, &year(), None, 10),
        Err(TimeError::InvalidValue { property, .. }) if property == "EXDATE"
    ));
}

#[test]
fn nothing_panics_on_odd_input() {
    let rules = [
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=YEARLY;BYWEEKNO=53;BYDAY=SU",
        "FREQ=MONTHLY;BYDAY=5FR;BYSETPOS=-1",
        "FREQ=MONTHLY;BYMONTHDAY=-31",
        "FREQ=YEARLY;BYYEARDAY=366",
        "FREQ=DAILY;INTERVAL=65535",
        "FREQ=DAILY;INTERVAL=70000",
        "FREQ=DAILY;COUNT=4294967295",
        "FREQ=DAILY;COUNT=-1",
        "FREQ=HOURLY;BYHOUR=25",
        "FREQ=MINUTELY;BYSECOND=60",
        "FREQ=WEEKLY;WKST=XX",
        "FREQ=DAILY;UNTIL=99991231T235959Z",
        "FREQ=YEARLY;BYSETPOS=400",
        "FREQ=DAILY;;;",
        "FREQ=",
        "=",
        ";",
        "FREQ=DAILY;BYDAY=+53MO",
    ];
    let starts_at = [
        "00010101T000000Z",
        "20260301T090000Z",
        "99991231T235959Z",
        "99991231",
    ];
    for rule in rules {
        for start in starts_at {
            let c = cal(&format!(
                "BEGIN:VEVENT\nUID:x\nDTSTART:{start}\nRRULE:{rule}\nEND:VEVENT"
            ));
            for r in [year(), range("", "99991231T000000Z"), range("", "")] {
                let _ = expand_with(&c, &r, None, 50);
            }
        }
    }
    let values = [
        "DTSTART:",
        "DTSTART:99991231T235959Z\nDURATION:P99999999W",
        "DTSTART:00010101T000000Z\nDURATION:-P99999999W",
        "DTSTART;TZID=Pacific/Kiritimati:99991231T235959",
        "DTSTART;TZID=Etc/GMT+12:00010101T000000",
        "DTSTART:20260301T090000Z\nDTEND:nope",
        "DTSTART:20260301T090000Z\nRDATE;VALUE=PERIOD:20260301T090000Z/",
        "DTSTART:20260301T090000Z\nRDATE:20260301T090000Z/P99999999W",
        "DTSTART:20260301T090000Z\nEXDATE:,",
        "DTSTART:20260301T090000Z\nRECURRENCE-ID;RANGE=THISANDFUTURE:00010101T000000Z",
    ];
    for value in values {
        let c = cal(&format!(
            "BEGIN:VEVENT\nUID:x\n{value}\nRRULE:FREQ=DAILY;COUNT=3\n\
BEGIN:VALARM\nTRIGGER:-P99999999W\nREPEAT:4294967295\nDURATION:P99999999W\nEND:VALARM\nEND:VEVENT"
        ));
        let zones = Zones::new(&c, Some("Nowhere/Else"));
        for r in [year(), range("", ""), range("00010101T000000Z", "")] {
            let _ = occurrences_in(&c, &r, &zones, &Limits::default());
            let _ = alarm_in_range(&c, 0, &r, &zones, &Limits::default());
            let _ = alarm_in_range(&c, 99, &r, &zones, &Limits::default());
        }
    }
}

#[test]
fn zero_duration_events_follow_the_table() {
    let c = cal("BEGIN:VEVENT\nUID:z\nDTSTART:20260301T090000Z\nEND:VEVENT");
    let o = expand_with(&c, &year(), None, 10).unwrap();
    assert_eq!(o[0].start, o[0].end);
    // (start <= DTSTART AND end > DTSTART)
    assert!(matches(&c, &range("20260301T090000Z", "20260301T100000Z")));
    assert!(!matches(&c, &range("20260301T080000Z", "20260301T090000Z")));
    // DTEND equal to DTSTART: (start < DTEND AND end > DTSTART).
    let c =
        cal("BEGIN:VEVENT\nUID:z\nDTSTART:20260301T090000Z\nDTEND:20260301T090000Z\nEND:VEVENT");
    assert!(!matches(&c, &range("20260301T090000Z", "20260301T100000Z")));
    // A positive DURATION: the end is exclusive.
    let c = cal("BEGIN:VEVENT\nUID:z\nDTSTART:20260301T090000Z\nDURATION:PT1H\nEND:VEVENT");
    assert!(matches(&c, &range("20260301T095959Z", "20260301T100000Z")));
    assert!(!matches(&c, &range("20260301T100000Z", "20260301T110000Z")));
    // DURATION:PT0S is zero duration.
    let c = cal("BEGIN:VEVENT\nUID:z\nDTSTART:20260301T090000Z\nDURATION:PT0S\nEND:VEVENT");
    assert!(matches(&c, &range("20260301T090000Z", "20260301T100000Z")));
}

fn todo(props: &str) -> Component {
    cal(&format!("BEGIN:VTODO\nUID:t\n{props}\nEND:VTODO"))
}

#[test]
fn vtodo_table_rows() {
    // DTSTART + DURATION: start <= DTSTART+DURATION AND (end > DTSTART OR end >= DTSTART+DURATION)
    let t = todo("DTSTART:20260301T090000Z\nDURATION:PT1H");
    assert!(matches(&t, &range("20260301T100000Z", "20260301T110000Z")));
    assert!(!matches(&t, &range("20260301T100001Z", "20260301T110000Z")));
    assert!(!matches(&t, &range("20260301T080000Z", "20260301T090000Z")));
    // DTSTART + DUE: (start < DUE OR start <= DTSTART) AND (end > DTSTART OR end >= DUE)
    let t = todo("DTSTART:20260301T090000Z\nDUE:20260301T100000Z");
    assert!(matches(&t, &range("20260301T095900Z", "20260301T110000Z")));
    assert!(!matches(&t, &range("20260301T100000Z", "20260301T110000Z")));
    assert!(!matches(&t, &range("20260301T080000Z", "20260301T090000Z")));
    // DTSTART only: start <= DTSTART AND end > DTSTART
    let t = todo("DTSTART:20260301T090000Z");
    assert!(matches(&t, &range("20260301T090000Z", "20260301T090001Z")));
    assert!(!matches(&t, &range("20260301T090001Z", "20260302T000000Z")));
    // DUE only: start < DUE AND end >= DUE
    let t = todo("DUE:20260301T100000Z");
    assert!(matches(&t, &range("20260301T090000Z", "20260301T100000Z")));
    assert!(!matches(&t, &range("20260301T100000Z", "20260301T110000Z")));
    let o = expand_with(&t, &year(), None, 10).unwrap();
    assert_eq!(
        (fmt(o[0].start), fmt(o[0].end)),
        ("20260301T100000Z".into(), "20260301T100000Z".into())
    );
    // COMPLETED and CREATED:
    // (start <= CREATED OR start <= COMPLETED) AND (end >= CREATED OR end >= COMPLETED)
    let t = todo("CREATED:20260301T090000Z\nCOMPLETED:20260305T090000Z");
    assert!(matches(&t, &range("20260305T090000Z", "20260306T000000Z")));
    assert!(matches(&t, &range("20260201T000000Z", "20260301T090000Z")));
    assert!(!matches(&t, &range("20260305T090001Z", "20260306T000000Z")));
    assert!(!matches(&t, &range("20260201T000000Z", "20260301T085959Z")));
    // COMPLETED only: start <= COMPLETED AND end >= COMPLETED
    let t = todo("COMPLETED:20260305T090000Z");
    assert!(matches(&t, &range("20260305T080000Z", "20260305T090000Z")));
    assert!(!matches(&t, &range("20260305T090001Z", "20260306T000000Z")));
    // CREATED only: end > CREATED
    let t = todo("CREATED:20260301T090000Z");
    assert!(matches(&t, &range("20300101T000000Z", "20300102T000000Z")));
    assert!(!matches(&t, &range("20260201T000000Z", "20260301T090000Z")));
    // None of them: always.
    let t = todo("SUMMARY:whenever");
    assert!(matches(&t, &range("19700101T000000Z", "19700101T000001Z")));
    // DUE takes precedence over COMPLETED/CREATED.
    let t = todo("DUE:20260301T100000Z\nCOMPLETED:20260601T000000Z");
    assert!(!matches(&t, &range("20260601T000000Z", "20260602T000000Z")));
}

#[test]
fn a_recurring_vtodo_moves_its_due_with_each_instance() {
    let t = todo(
        "DTSTART;TZID=Europe/Paris:20260302T090000\nDUE;TZID=Europe/Paris:20260302T180000\n\
RRULE:FREQ=WEEKLY;COUNT=3",
    );
    let o = expand_with(&t, &year(), None, 10).unwrap();
    assert_eq!(o.len(), 3);
    assert!(o.iter().all(|o| o.end - o.start == TimeDelta::hours(9)));
    assert!(matches(&t, &range("20260316T160000Z", "20260316T170000Z")));
}

#[test]
fn vjournal() {
    let day = cal("BEGIN:VJOURNAL\nUID:j\nDTSTART;VALUE=DATE:20260301\nEND:VJOURNAL");
    assert!(matches(
        &day,
        &range("20260301T120000Z", "20260301T130000Z")
    ));
    assert!(!matches(
        &day,
        &range("20260302T000000Z", "20260303T000000Z")
    ));
    let instant = cal("BEGIN:VJOURNAL\nUID:j\nDTSTART:20260301T090000Z\nEND:VJOURNAL");
    assert!(matches(
        &instant,
        &range("20260301T090000Z", "20260301T090001Z")
    ));
    assert!(!matches(
        &instant,
        &range("20260301T090001Z", "20260301T100000Z")
    ));
    let none = cal("BEGIN:VJOURNAL\nUID:j\nSUMMARY:notes\nEND:VJOURNAL");
    assert!(!matches(&none, &range("", "")));
    // A VEVENT without DTSTART has no occurrence either.
    let none = cal("BEGIN:VEVENT\nUID:e\nSUMMARY:when?\nEND:VEVENT");
    assert!(!matches(&none, &range("", "")));
}

fn alarm(c: &Component, r: &TimeRange) -> bool {
    let zones = Zones::new(c, None);
    alarm_in_range(c, 0, r, &zones, &Limits::default()).unwrap()
}

#[test]
fn an_alarm_before_an_event_after_the_range() {
    let c = cal(
        "BEGIN:VEVENT\nUID:a\nDTSTART:20260301T100500Z\nDTEND:20260301T110000Z\n\
BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT15M\nEND:VALARM\nEND:VEVENT",
    );
    // The event starts after the range; its alarm (09:50) is in it.
    let r = range("20260301T090000Z", "20260301T100000Z");
    assert!(!matches(&c, &r));
    assert!(alarm(&c, &r));
    assert!(!alarm(&c, &range("20260301T095001Z", "20260301T095002Z")));
    assert!(!alarm(&c, &range("20260301T080000Z", "20260301T095000Z")));
}

#[test]
fn alarm_repeats_related_end_absolute_and_recurring() {
    // 09:30, then 09:40 and 09:50.
    let c = cal(
        "BEGIN:VEVENT\nUID:a\nDTSTART:20260301T100000Z\nDURATION:PT1H\n\
BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT30M\nREPEAT:2\nDURATION:PT10M\nEND:VALARM\nEND:VEVENT",
    );
    assert!(alarm(&c, &range("20260301T094500Z", "20260301T095500Z")));
    assert!(!alarm(&c, &range("20260301T095001Z", "20260301T100000Z")));
    assert!(!alarm(&c, &range("20260301T093100Z", "20260301T094000Z")));
    // RELATED=END: five minutes after the end (11:05).
    let c = cal(
        "BEGIN:VEVENT\nUID:a\nDTSTART:20260301T100000Z\nDURATION:PT1H\n\
BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER;RELATED=END:PT5M\nEND:VALARM\nEND:VEVENT",
    );
    assert!(alarm(&c, &range("20260301T110500Z", "20260301T110600Z")));
    assert!(!alarm(&c, &range("20260301T095500Z", "20260301T100000Z")));
    // Absolute.
    let c = cal("BEGIN:VEVENT\nUID:a\nDTSTART:20260301T100000Z\n\
BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER;VALUE=DATE-TIME:20260228T120000Z\nEND:VALARM\nEND:VEVENT");
    assert!(alarm(&c, &range("20260228T000000Z", "20260301T000000Z")));
    assert!(!alarm(&c, &range("20260301T000000Z", "20260302T000000Z")));
    // Every occurrence of a series has its alarm; a day before, on the
    // wall clock of Paris across the DST change.
    let c = cal(
        "BEGIN:VEVENT\nUID:a\nDTSTART;TZID=Europe/Paris:20260323T090000\n\
RRULE:FREQ=WEEKLY\nBEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-P1D\nEND:VALARM\nEND:VEVENT",
    );
    assert!(alarm(&c, &range("20260329T070000Z", "20260329T070001Z")));
    assert!(!alarm(&c, &range("20260329T080000Z", "20260329T080001Z")));
    assert!(alarm(&c, &range("20270530T070000Z", "20270530T070001Z")));
    assert!(!alarm(&c, &range("20270531T070000Z", "20270531T070001Z")));
    // A to-do's alarm relative to its DUE.
    let t = todo(
        "DUE:20260301T100000Z\nBEGIN:VALARM\nACTION:DISPLAY\nTRIGGER;RELATED=END:-PT1H\nEND:VALARM",
    );
    assert!(alarm(&t, &range("20260301T090000Z", "20260301T090001Z")));
    assert!(!alarm(&t, &range("20260301T100000Z", "20260301T110000Z")));
    // No alarm at all.
    let c = cal("BEGIN:VEVENT\nUID:a\nDTSTART:20260301T100000Z\nEND:VEVENT");
    assert!(!alarm(&c, &range("", "")));
}

#[test]
fn alarms_of_an_override_follow_the_override() {
    let c = cal(&format!(
        "{WEEKLY}\nEND:VEVENT\nBEGIN:VEVENT\nUID:w\nRECURRENCE-ID:20260309T090000Z\n\
DTSTART:20260310T140000Z\nBEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT10M\nEND:VALARM\nEND:VEVENT"
    ));
    let zones = Zones::new(&c, None);
    let at =
        |s: &str, e: &str| alarm_in_range(&c, 1, &range(s, e), &zones, &Limits::default()).unwrap();
    assert!(at("20260310T135000Z", "20260310T135001Z"));
    assert!(!at("20260309T085000Z", "20260309T085001Z"));
    // The master has no alarm.
    assert!(!alarm_in_range(&c, 0, &year(), &zones, &Limits::default()).unwrap());
}

#[test]
fn properties_in_range() {
    let c =
        cal("BEGIN:VTODO\nUID:p\nCOMPLETED:20260301T090000Z\nDUE;VALUE=DATE:20260310\nEND:VTODO");
    let zones = Zones::new(&c, None);
    let todo = &c.components[0];
    let completed = todo.property("COMPLETED").unwrap();
    let due = todo.property("DUE").unwrap();
    let test = |p, s, e| property_in_range(p, &range(s, e), &zones).unwrap();
    assert!(test(completed, "20260301T090000Z", "20260301T090001Z"));
    assert!(!test(completed, "20260301T080000Z", "20260301T090000Z"));
    assert!(test(completed, "", ""));
    assert!(test(due, "20260310T120000Z", "20260310T130000Z"));
    assert!(!test(due, "20260311T000000Z", "20260312T000000Z"));
    let bad = ContentProperty {
        name: "DTSTAMP".into(),
        params: Vec::new(),
        value: "soon".into(),
        raw: "DTSTAMP:soon".into(),
    };
    assert!(property_in_range(&bad, &year(), &zones).is_err());
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
}

#[test]
fn expanding_a_window_equals_expanding_its_two_halves() {
    let mut rng = Lcg(20260301);
    let zones = [
        "TZID=Europe/Paris:",
        "TZID=America/New_York:",
        ":",
        "TZID=My Zone:",
    ];
    let days = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
    for case in 0..60 {
        let freq = if rng.next(2) == 0 { "DAILY" } else { "WEEKLY" };
        let mut rule = format!("FREQ={freq};INTERVAL={}", 1 + rng.next(3));
        if rng.next(3) == 0 {
            rule += &format!(";COUNT={}", 1 + rng.next(40));
        }
        if freq == "WEEKLY" && rng.next(2) == 0 {
            rule += &format!(
                ";BYDAY={},{}",
                days[rng.next(7) as usize],
                days[rng.next(7) as usize]
            );
        }
        let zone = zones[rng.next(4) as usize];
        let start = format!(
            "2026{:02}{:02}T{:02}{:02}00",
            1 + rng.next(6),
            1 + rng.next(28),
            rng.next(24),
            15 * rng.next(4)
        );
        let length = match rng.next(3) {
            0 => String::new(),
            1 => format!("DURATION:PT{}M\n", 15 * (1 + rng.next(12))),
            _ => format!("DURATION:P{}D\n", 1 + rng.next(3)),
        };
        let exdate = if rng.next(2) == 0 {
            format!("EXDATE;{zone}{start}\n")
        } else {
            String::new()
        };
        let text = format!(
            "{MY_ZONE}\nBEGIN:VEVENT\nUID:p{case}\nDTSTART;{zone}{start}\n{length}{exdate}RRULE:{rule}\nEND:VEVENT"
        )
        .replace(";:", ":");
        let c = cal(&text);
        let a = utc("20260201T000000Z") + TimeDelta::hours(rng.next(24 * 60) as i64);
        let b = a + TimeDelta::minutes(rng.next(60 * 24 * 30) as i64);
        let e = b + TimeDelta::minutes(rng.next(60 * 24 * 30) as i64);
        let full = TimeRange {
            start: Some(a),
            end: Some(e),
        };
        let first = TimeRange {
            start: Some(a),
            end: Some(b),
        };
        let second = TimeRange {
            start: Some(b),
            end: Some(e),
        };
        let ids = |r: &TimeRange| {
            expand_with(&c, r, Some("Europe/Paris"), 10_000)
                .unwrap()
                .into_iter()
                .map(|o| o.recurrence_id.unwrap())
                .collect::<std::collections::BTreeSet<_>>()
        };
        let whole = ids(&full);
        let mut halves = ids(&first);
        halves.extend(ids(&second));
        assert_eq!(whole, halves, "{text}\n{a} {b} {e}");
    }
}

#[test]
fn an_alarm_query_without_end_stops_at_the_first_trigger() {
    let c = cal(&format!(
        "{}\nBEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT5M\nEND:VALARM\nEND:VEVENT",
        DAILY.trim_end_matches("END:VEVENT").trim_end()
    ));
    let zones = Zones::new(&c, None);
    let small = Limits { max_instances: 50 };
    assert_eq!(
        alarm_in_range(&c, 0, &range("20260302T000000Z", ""), &zones, &small),
        Ok(true)
    );
    // Its occurrences are too many, though.
    assert_eq!(
        occurrences_in(&c, &range("20260302T000000Z", ""), &zones, &small),
        Err(TimeError::TooManyInstances(50))
    );
}

#[test]
fn zones_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Zones<'static>>();
    shared::<Occurrence>();
    shared::<TimeError>();
}

#[test]
fn an_outlook_customized_time_zone_from_1601() {
    let c = cal("BEGIN:VTIMEZONE\nTZID:Customized Time Zone\n\
BEGIN:STANDARD\nDTSTART:16010101T030000\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0100\n\
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\nEND:STANDARD\n\
BEGIN:DAYLIGHT\nDTSTART:16010101T020000\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0200\n\
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\nEND:DAYLIGHT\nEND:VTIMEZONE\n\
BEGIN:VEVENT\nUID:o\nDTSTART;TZID=Customized Time Zone:20260115T090000\n\
DTEND;TZID=Customized Time Zone:20260115T100000\nRRULE:FREQ=MONTHLY;COUNT=8\n\
EXDATE;TZID=Customized Time Zone:20260215T090000\nEND:VEVENT");
    let got = starts(&c, &year());
    assert_eq!(got.len(), 7);
    assert_eq!(got[0], "20260115T080000Z");
    assert_eq!(got[1], "20260315T080000Z");
    assert_eq!(got[2], "20260415T070000Z");
}

/// Whether a closed span meets a range as the index tests it.
fn meets(span: &(DateTime<Utc>, DateTime<Utc>), r: &TimeRange) -> bool {
    r.start.is_none_or(|s| s <= span.1) && r.end.is_none_or(|e| e >= span.0)
}

#[test]
fn the_extent_covers_every_range_that_matches() {
    let mut rng = Lcg(20261125);
    let zones = [
        "TZID=Europe/Paris:",
        "TZID=America/New_York:",
        ":",
        "TZID=My Zone:",
    ];
    let rules = [
        "FREQ=DAILY",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH",
        "FREQ=MONTHLY;BYDAY=-1FR",
        "FREQ=YEARLY;COUNT=3",
        "FREQ=DAILY;UNTIL=20260320T000000Z",
        "FREQ=WEEKLY;BYDAY=SA,SU;COUNT=30",
    ];
    for case in 0..50 {
        let zone = zones[rng.next(4) as usize];
        let start = format!(
            "2026{:02}{:02}T{:02}0000",
            1 + rng.next(4),
            1 + rng.next(28),
            rng.next(24)
        );
        let mut body = format!("{MY_ZONE}\nBEGIN:VEVENT\nUID:x{case}\nDTSTART;{zone}{start}\n");
        if rng.next(2) == 0 {
            body += &format!("DURATION:PT{}H\n", rng.next(30));
        }
        if rng.next(4) != 0 {
            body += &format!("RRULE:{}\n", rules[rng.next(rules.len() as u64) as usize]);
        }
        if rng.next(3) == 0 {
            body += &format!("RDATE;{zone}20270{}05T100000\n", 1 + rng.next(8));
        }
        body += "END:VEVENT\n";
        if rng.next(3) == 0 {
            // An override moving the first instance by days, maybe for the
            // rest of the series.
            let range = if rng.next(2) == 0 {
                ";RANGE=THISANDFUTURE"
            } else {
                ""
            };
            body += &format!(
                "BEGIN:VEVENT\nUID:x{case}\nRECURRENCE-ID{range};{zone}{start}\nDTSTART:2026{:02}10T080000Z\nEND:VEVENT\n",
                1 + rng.next(12)
            );
        }
        let text = body.trim_end().replace(";:", ":");
        let c = cal(&text);
        let floating = Zones::new(&c, Some("Europe/Paris"));
        let cap = 1 + rng.next(20) as usize;
        let spans = extent(&c, &floating, cap).unwrap();
        for _ in 0..16 {
            let a = utc("20251201T000000Z") + TimeDelta::hours(rng.next(24 * 800) as i64);
            let r = TimeRange {
                start: Some(a),
                end: Some(a + TimeDelta::hours(1 + rng.next(24 * 20) as i64)),
            };
            let hit = !expand_with(&c, &r, Some("Europe/Paris"), 100_000)
                .unwrap()
                .is_empty();
            if hit {
                assert!(
                    spans.iter().any(|s| meets(s, &r)),
                    "{text}\ncap {cap}: {r:?} matches but no span of {spans:?} meets it"
                );
            }
        }
    }
}

#[test]
fn the_extent_of_todos_follows_the_table() {
    let zones_of = |c: &Component| extent(c, &Zones::new(c, None), 10).unwrap();
    // No DTSTART, DUE, COMPLETED or CREATED: every range.
    let always = todo("");
    assert_eq!(
        zones_of(&always),
        vec![(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC)]
    );
    // CREATED only: from then on.
    let created = todo("CREATED:20260105T000000Z");
    assert_eq!(
        zones_of(&created),
        vec![(utc("20260105T000000Z"), DateTime::<Utc>::MAX_UTC)]
    );
    // A VJOURNAL without DTSTART never matches a time range.
    let journal = cal("BEGIN:VJOURNAL\nUID:j\nSUMMARY:x\nEND:VJOURNAL");
    assert!(zones_of(&journal).is_empty());
    // An open-ended rule: the first instances, then one open span.
    let daily = cal("BEGIN:VEVENT\nUID:d\nDTSTART:20260101T100000Z\nRRULE:FREQ=DAILY\nEND:VEVENT");
    let spans = zones_of(&daily);
    assert_eq!(spans.len(), 11, "{spans:?}");
    assert_eq!(spans[0], (utc("20260101T100000Z"), utc("20260101T100000Z")));
    assert_eq!(spans[10].1, DateTime::<Utc>::MAX_UTC);
    assert!(spans[10].0 <= utc("20260111T100000Z"));
}

#[test]
fn the_extent_ends_a_bounded_rule_where_its_until_or_count_does() {
    let spans_of = |rule: &str| {
        let c = cal(&format!(
            "BEGIN:VEVENT\nUID:r\nDTSTART;TZID=Europe/Paris:20260302T090000\n\
DURATION:PT1H\nRRULE:{rule}\nEND:VEVENT"
        ));
        extent(&c, &Zones::new(&c, None), 4).unwrap()
    };
    let last_end = |rule: &str| {
        // DTSTART, four instances (DTSTART is not always one of them)
        // and the rest.
        let spans = spans_of(rule);
        assert!((5..=6).contains(&spans.len()), "{rule}: {spans:?}");
        spans.iter().map(|s| s.1).max().unwrap()
    };
    // UNTIL: the last start it admits, plus the instance and slack (a
    // day for the zone, the instance's length plus a day, two days).
    let until = last_end("FREQ=DAILY;UNTIL=20260601T000000Z");
    assert!(until >= utc("20260531T080000Z") && until <= utc("20260606T000000Z"));
    let local = last_end("FREQ=WEEKLY;UNTIL=20260601T235959");
    assert!(local >= utc("20260601T070000Z") && local <= utc("20260607T000000Z"));
    // COUNT with a plain shape: a bound without generating the rest.
    let count = last_end("FREQ=DAILY;COUNT=100");
    assert!(count >= utc("20260609T080000Z") && count <= utc("20260620T000000Z"));
    // COUNT with a shape that promises nothing (a 31st): run to its end,
    // DTSTART and 11 instances.
    let scanned = last_end("FREQ=MONTHLY;BYMONTHDAY=31;COUNT=12");
    assert!(scanned >= utc("20270831T070000Z") && scanned <= utc("20270906T000000Z"));
    // Neither: open to the end of time.
    assert_eq!(
        last_end("FREQ=MONTHLY;BYMONTHDAY=31"),
        DateTime::<Utc>::MAX_UTC
    );
    assert_eq!(
        last_end("FREQ=MONTHLY;BYMONTHDAY=31;COUNT=5000"),
        DateTime::<Utc>::MAX_UTC
    );
    // A rule that ends within the cap has no tail at all.
    assert_eq!(spans_of("FREQ=DAILY;COUNT=3").len(), 3);
}
