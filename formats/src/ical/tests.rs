use super::*;
use tree::TreeScope;

const GOOGLE: &str = include_str!("../../../fixtures/ical/google_export.ics");
const OUTLOOK: &str = include_str!("../../../fixtures/ical/outlook_export.ics");
const ICLOUD: &str = include_str!("../../../fixtures/ical/icloud_event.ics");
const THUNDERBIRD: &str = include_str!("../../../fixtures/ical/thunderbird_todo.ics");
const ALLDAY: &str = include_str!("../../../fixtures/ical/allday_event.ics");
const TWO_CALENDARS: &str = include_str!("../../../fixtures/ical/two_calendars.ics");
const BAD_UNTERMINATED: &str = include_str!("../../../fixtures/ical/bad_unterminated.ics");
const BAD_NO_COLON: &str = include_str!("../../../fixtures/ical/bad_no_colon.ics");
const BAD_MISMATCHED_END: &str = include_str!("../../../fixtures/ical/bad_mismatched_end.ics");
const BAD_MISSING_UID: &str = include_str!("../../../fixtures/ical/bad_missing_uid.ics");

const STANDUP_UID: &str = "4m2k9q7p1v3s5u8x0z6b2d4f7h@google.com";
const OUTLOOK_PLANNING_UID: &str =
    "040000008200E00074C5B7101A82E00800000000D0F1C2E3A4B5DA01000000000000000010000000C8C7A4D3D1B0E44F8B3A5A4E6F2D1C0B";

fn split(text: &str) -> Vec<SplitObject> {
    match split_calendar_export(text) {
        Ok(objects) => objects,
        Err(e) => panic!("split failed: {e}"),
    }
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// [`validate_calendar_object`], checking that building a tree in the
/// same pass (either scope) accepts and refuses exactly alike.
fn validate_all_ways(text: &str) -> Result<CalendarObject, FormatError> {
    let plain = validate_calendar_object(text);
    for scope in [TreeScope::Whole, TreeScope::Occurrences] {
        let with_tree = validate_calendar_tree(text, scope).map(|(object, _)| object);
        assert_eq!(with_tree, plain, "{scope:?}\n{text}");
    }
    plain
}

/// A small event as a client would PUT it, with `lines` extra lines.
fn event(extra: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:abc\r\n\
         DTSTAMP:20240101T000000Z\r\nDTSTART:20240101T100000Z\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

// --- validate_calendar_object on single-object fixtures ---

#[test]
fn validates_icloud_event_with_alarms_carrying_their_own_uid() {
    let object = validate_calendar_object(ICLOUD).unwrap();
    assert_eq!(object.uid, "6D1B2C3A-4E5F-4A6B-8C7D-9E0F1A2B3C4D");
    assert_eq!(object.kind, ComponentKind::Event);
    assert!(!object.has_recurrence);
}

#[test]
fn validates_thunderbird_todo_with_lf_line_endings() {
    let object = validate_calendar_object(THUNDERBIRD).unwrap();
    assert_eq!(object.uid, "b3f1c6a2-8d4e-4f7a-9b1c-2d3e4f5a6b7c");
    assert_eq!(object.kind, ComponentKind::Todo);
    assert_eq!(object.kind.as_str(), "VTODO");
}

#[test]
fn validates_sloppy_all_day_event() {
    // BOM, LF only, lower-case names, trailing whitespace, blank lines at the end.
    let object = validate_calendar_object(ALLDAY).unwrap();
    assert_eq!(object.uid, "holiday-2024-07-04@lincoln-school.example.org");
    assert_eq!(object.kind, ComponentKind::Event);
}

#[test]
fn exports_are_not_single_objects() {
    // METHOD:PUBLISH (line 5) comes before the second UID.
    let err = validate_calendar_object(GOOGLE).unwrap_err();
    assert_eq!(err.line, 5);
    assert!(err.message.contains("METHOD"), "{err}");
    let err = validate_calendar_object(TWO_CALENDARS).unwrap_err();
    assert_eq!(err.line, 37, "{err}"); // the dentist's UID
    assert!(err.message.contains("differs"), "{err}");
}

#[test]
fn master_with_overrides_is_one_object() {
    let text = event(
        "RRULE:FREQ=DAILY\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:abc\r\nDTSTAMP:20240101T000000Z\r\n\
         RECURRENCE-ID:20240102T100000Z\r\nDTSTART:20240102T120000Z\r\n",
    );
    let object = validate_calendar_object(&text).unwrap();
    assert!(object.has_recurrence);
}

#[test]
fn rejects_what_rfc_4791_forbids() {
    let cases: &[(String, usize, &str)] = &[
        (event("").replace("VERSION:2.0\r\n", ""), 1, "VERSION"),
        (
            event("").replace("VERSION:2.0", "VERSION:1.0"),
            2,
            "VERSION",
        ),
        (event("").replace("UID:abc\r\n", ""), 4, "no UID"),
        (
            event("").replace("PRODID", "METHOD:REQUEST\r\nPRODID"),
            3,
            "METHOD",
        ),
        (
            event("").replace("UID:abc", "UID:abc\r\nUID:abc"),
            6,
            "twice",
        ),
        (
            event("END:VEVENT\r\nBEGIN:VTODO\r\nUID:abc\r\n")
                .replace("END:VEVENT\r\nEND", "END:VTODO\r\nEND"),
            9,
            "one kind",
        ),
        (
            event("END:VEVENT\r\nBEGIN:VEVENT\r\nUID:other\r\n"),
            10,
            "differs",
        ),
        (
            event("END:VEVENT\r\nBEGIN:VEVENT\r\nUID:abc\r\n"),
            9,
            "without RECURRENCE-ID",
        ),
        (event("") + &event(""), 10, "exactly one VCALENDAR"),
        (event("") + "X-TRAILING:1\r\n", 10, "after END:VCALENDAR"),
        (
            event("END:VEVENT\r\nBEGIN:VFREEBUSY\r\n"),
            9,
            "not supported",
        ),
        (
            event("BEGIN:VALARM\r\nACTION:DISPLAY\r\n"),
            10,
            "does not match BEGIN:VALARM on line 8",
        ),
        (event("BEGIN:VEVENT\r\n"), 8, "not allowed inside VEVENT"),
        (event("DESCRIPTION:a\r\nbroken fold\r\n"), 9, "no ':'"),
        (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n".to_string(),
            1,
            "no VEVENT",
        ),
        (String::new(), 1, "no BEGIN:VCALENDAR"),
        ("\r\n\r\n".to_string(), 1, "no BEGIN:VCALENDAR"),
    ];
    for (text, line, needle) in cases {
        let err = validate_all_ways(text).unwrap_err();
        assert_eq!(err.line, *line, "{err} in\n{text}");
        assert!(
            err.message.contains(needle),
            "{err:?} should mention {needle:?}"
        );
    }
}

#[test]
fn malformed_fixtures_fail_on_the_right_line() {
    let cases = [
        (BAD_UNTERMINATED, 12, "never closed"),
        (BAD_NO_COLON, 11, "no ':'"),
        (
            BAD_MISMATCHED_END,
            9,
            "END:VEVENT does not match BEGIN:VTODO on line 4",
        ),
        (BAD_MISSING_UID, 11, "VEVENT has no UID"),
    ];
    for (text, line, needle) in cases {
        let err = split_calendar_export(text).unwrap_err();
        assert_eq!(err.line, line, "{err}");
        assert!(
            err.message.contains(needle),
            "{err:?} should mention {needle:?}"
        );
    }
    // The same for the validator, except for the truncated export which
    // holds two UIDs and fails on that first.
    for (text, line, needle) in &cases[1..] {
        let err = validate_all_ways(text).unwrap_err();
        assert_eq!(err.line, *line, "{err}");
        assert!(
            err.message.contains(needle),
            "{err:?} should mention {needle:?}"
        );
    }
    let err = validate_all_ways(BAD_UNTERMINATED).unwrap_err();
    assert_eq!(err.line, 16, "{err}");
}

/// Every valid object of the fixtures and of the recurrence-oracle corpus.
fn valid_fixture_objects() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut out = Vec::new();
    for dir in ["ical", "recurrence-oracle"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "ics") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            if validate_all_ways(&text).is_ok() {
                out.push((path.display().to_string(), text));
            }
        }
    }
    out.push(("sloppy all-day".into(), ALLDAY.to_string()));
    out
}

#[test]
fn the_tree_built_while_validating_is_the_parsed_one() {
    let objects = valid_fixture_objects();
    assert!(objects.len() > 200);
    for (name, text) in &objects {
        let (object, whole) = validate_calendar_tree(text, TreeScope::Whole).unwrap();
        assert_eq!(Ok(object), validate_calendar_object(text), "{name}");
        assert_eq!(Ok(&whole), tree::parse_tree(text).as_ref(), "{name}");
    }
}

/// The whole tree without what [`TreeScope::Occurrences`] leaves out.
fn pruned(whole: &Component) -> Component {
    fn keep(c: &Component) -> Component {
        let tzid = c.property("TZID").map(|p| p.value.as_str());
        let properties = c
            .properties
            .iter()
            .filter(|p| match c.name.as_str() {
                "VCALENDAR" => false,
                "VEVENT" | "VTODO" | "VJOURNAL" => {
                    tree::OCCURRENCE_PROPERTIES.contains(&p.name.as_str())
                }
                "VTIMEZONE" => p.name == "TZID",
                _ => true,
            })
            .cloned()
            .collect();
        let components = c
            .components
            .iter()
            .filter(|sub| match sub.name.as_str() {
                "VALARM" => false,
                "STANDARD" | "DAYLIGHT" => tzid.is_none_or(|t| !time::is_known_zone(t)),
                _ => true,
            })
            .map(keep)
            .collect();
        Component {
            name: c.name.clone(),
            properties,
            components,
        }
    }
    keep(whole)
}

#[test]
fn the_occurrences_scope_keeps_what_occurrences_depend_on() {
    use time::{extent, occurrences_in, Limits, TimeRange, Zones};
    let everything = TimeRange {
        start: None,
        end: Some(chrono::DateTime::from_timestamp(2_000_000_000, 0).unwrap()),
    };
    let (mut custom, mut known) = (0, 0);
    for (name, text) in valid_fixture_objects() {
        let (_, whole) = validate_calendar_tree(&text, TreeScope::Whole).unwrap();
        let (_, small) = validate_calendar_tree(&text, TreeScope::Occurrences).unwrap();
        assert_eq!(small, pruned(&whole), "{name}");
        for zone in small.components_named("VTIMEZONE") {
            match zone.components.is_empty() {
                true => known += 1,
                false => custom += 1,
            }
        }
        for floating in [None, Some("Asia/Tokyo")] {
            let (zw, zs) = (Zones::new(&whole, floating), Zones::new(&small, floating));
            assert_eq!(extent(&whole, &zw, 32), extent(&small, &zs, 32), "{name}");
            let limits = Limits::default();
            assert_eq!(
                occurrences_in(&whole, &everything, &zw, &limits),
                occurrences_in(&small, &everything, &zs, &limits),
                "{name}"
            );
        }
    }
    // Both kinds of VTIMEZONE were there.
    assert!(
        custom >= 10 && known >= 100,
        "{custom} custom, {known} known"
    );
}

// --- split_calendar_export ---

#[test]
fn splits_google_export_by_uid_with_needed_timezones() {
    let objects = split(GOOGLE);
    let uids: Vec<&str> = objects.iter().map(|o| o.uid.as_str()).collect();
    assert_eq!(
        uids,
        [
            STANDUP_UID,
            "0a1b2c3d4e5f6g7h8i9j0k1l2m@google.com",
            "7t9v1x3z5b7d9f1h3j5l7n9p1r@google.com"
        ]
    );
    assert_eq!(
        objects.iter().map(|o| o.line).collect::<Vec<_>>(),
        [44, 66, 86]
    );

    // The standup: master and the override 56 lines further down, Berlin only.
    let standup = &objects[0].ical;
    assert_eq!(count(standup, "BEGIN:VEVENT"), 2);
    assert_eq!(
        count(standup, "RECURRENCE-ID;TZID=Europe/Berlin:20240214T093000"),
        1
    );
    assert_eq!(count(standup, "BEGIN:VTIMEZONE"), 1);
    assert!(standup.contains("TZID:Europe/Berlin\r\n"));
    assert!(!standup.contains("America/New_York"));
    // Header lines kept, export-only ones dropped.
    assert!(standup.starts_with(
        "BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\nVERSION:2.0\r\nCALSCALE:GREGORIAN\r\n"
    ));
    assert!(!standup.contains("METHOD"));
    assert!(!standup.contains("X-WR-CALNAME"));
    // Folded lines stay folded, exactly as exported.
    assert!(standup.contains("PARTSTAT=ACCEPTED;CN=Jane\r\n  Doe;X-NUM-GUESTS=0"));
    let object = validate_calendar_object(standup).unwrap();
    assert!(object.has_recurrence);

    assert_eq!(count(&objects[1].ical, "BEGIN:VTIMEZONE"), 1);
    assert!(objects[1].ical.contains("TZID:America/New_York\r\n"));
    assert!(objects[1].ical.contains("BEGIN:VALARM"));
    // The all-day event refers to no zone.
    assert_eq!(count(&objects[2].ical, "BEGIN:VTIMEZONE"), 0);
    assert!(objects.iter().all(|o| o.kind == ComponentKind::Event));
}

#[test]
fn splits_outlook_export_with_windows_zone_names() {
    let objects = split(OUTLOOK);
    assert_eq!(objects.len(), 3);
    let planning = &objects[0];
    assert_eq!(planning.uid, OUTLOOK_PLANNING_UID);
    assert_eq!(planning.line, 69);
    assert_eq!(count(&planning.ical, "BEGIN:VEVENT"), 2);
    // Quoted TZID parameters find the zone.
    assert_eq!(count(&planning.ical, "BEGIN:VTIMEZONE"), 1);
    assert!(planning.ical.contains("TZID:W. Europe Standard Time\r\n"));

    assert_eq!(objects[1].line, 105);
    assert_eq!(count(&objects[1].ical, "BEGIN:VTIMEZONE"), 1);
    assert!(objects[1].ical.contains("TZID:Pacific Standard Time\r\n"));

    // The zone's TZID line has trailing spaces in the export.
    assert_eq!(objects[2].line, 141);
    assert_eq!(count(&objects[2].ical, "BEGIN:VTIMEZONE"), 1);
    assert!(objects[2].ical.contains("TZID:Romance Standard Time  \r\n"));

    // Nobody uses Tokyo.
    assert!(objects.iter().all(|o| !o.ical.contains("Tokyo")));
    for object in &objects {
        assert_eq!(
            validate_calendar_object(&object.ical).unwrap().uid,
            object.uid
        );
    }
}

#[test]
fn splits_concatenated_calendars_and_joins_overrides_across_them() {
    let objects = split(TWO_CALENDARS);
    let summary: Vec<(&str, usize)> = objects.iter().map(|o| (o.uid.as_str(), o.line)).collect();
    assert_eq!(
        summary,
        [
            ("yoga-thursdays-2024@nextcloud.example.org", 22),
            ("dentist-20240209@nextcloud.example.org", 34),
            ("london-workshop-2024@sabre.example.org", 82),
        ]
    );
    let yoga = &objects[0].ical;
    assert_eq!(count(yoga, "BEGIN:VEVENT"), 2);
    assert!(yoga.contains("SUMMARY:Yoga (later this week)\r\n"));
    // One Berlin zone, the one from the master's own calendar (the second
    // calendar's copy has X-LIC-LOCATION), and the master's header.
    assert_eq!(count(yoga, "BEGIN:VTIMEZONE"), 1);
    assert!(!yoga.contains("X-LIC-LOCATION"));
    assert!(yoga.contains("PRODID:-//IDN nextcloud.com//Calendar app 4.6.5//EN\r\n"));
    assert!(!yoga.contains("\n\n") && !yoga.contains("\r\r"));

    assert_eq!(count(&objects[1].ical, "BEGIN:VTIMEZONE"), 0);
    let london = &objects[2].ical;
    assert!(london.contains("PRODID:-//Sabre//Sabre VObject 4.5.4//EN\r\n"));
    assert_eq!(count(london, "BEGIN:VTIMEZONE"), 1);
    assert!(london.contains("TZID:Europe/London\r\n"));
    // Every line of every output ends in CRLF.
    for object in &objects {
        assert!(object.ical.split("\r\n").all(|l| !l.contains('\n')));
    }
}

#[test]
fn single_object_files_split_into_themselves() {
    for (text, kind) in [
        (ICLOUD, ComponentKind::Event),
        (THUNDERBIRD, ComponentKind::Todo),
        (ALLDAY, ComponentKind::Event),
    ] {
        let objects = split(text);
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].kind, kind);
        assert_eq!(
            validate_calendar_object(&objects[0].ical).unwrap(),
            validate_calendar_object(text).unwrap()
        );
    }
    // The sloppy file keeps its lines, now with CRLF and without BOM.
    let allday = &split(ALLDAY)[0].ical;
    assert!(allday.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
    assert!(allday.contains("\r\nend:vevent   \r\n"));
    // Apple's structured location has a fold inside a quoted parameter.
    assert!(split(ICLOUD)[0]
        .ical
        .contains("X-ADDRESS=\"Herrengasse 14\\\\n1010 Wi\r\n en"));
}

#[test]
fn split_refuses_what_cannot_become_objects() {
    let twice = GOOGLE
        .replace("Team standup (moved)", "x")
        .replace("RECURRENCE-ID;TZID=Europe/Berlin:20240214T093000\r\n", "");
    let err = split_calendar_export(&twice).unwrap_err();
    assert_eq!(err.line, 100);
    assert!(
        err.message
            .contains("without RECURRENCE-ID (first on line 44)"),
        "{err}"
    );

    let mixed = TWO_CALENDARS.replace(
        "BEGIN:VEVENT\nUID:yoga-thursdays-2024@nextcloud.example.org\nDTSTAMP:20240301T120000Z\nRECURRENCE-ID;TZID=Europe/Berlin:20240314T183000\nDTSTART;TZID=Europe/Berlin:20240314T190000\nDTEND;TZID=Europe/Berlin:20240314T203000\nSUMMARY:Yoga (later this week)\nSEQUENCE:2\nEND:VEVENT",
        "BEGIN:VTODO\nUID:yoga-thursdays-2024@nextcloud.example.org\nDTSTAMP:20240301T120000Z\nEND:VTODO",
    );
    let err = split_calendar_export(&mixed).unwrap_err();
    assert_eq!(err.line, 89);
    assert!(
        err.message
            .contains("VTODO here and by a VEVENT on line 22"),
        "{err}"
    );

    let empty = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nEND:VCALENDAR\r\n";
    assert_eq!(split_calendar_export(empty).unwrap_err().line, 1);
    assert_eq!(split_calendar_export("").unwrap_err().line, 1);

    let no_version = TWO_CALENDARS.replacen("VERSION:2.0\nPRODID:-//Sabre", "PRODID:-//Sabre", 1);
    let err = split_calendar_export(&no_version).unwrap_err();
    assert_eq!(err.line, 43);
    assert!(err.message.contains("VERSION"), "{err}");

    let stray = format!("{ICLOUD}X-STRAY:1\r\n");
    assert_eq!(split_calendar_export(&stray).unwrap_err().line, 57);
}

#[test]
fn zones_referenced_but_not_defined_are_tolerated() {
    // Some exporters rely on well-known zone names without VTIMEZONE.
    let text = event("DTEND;TZID=Europe/Paris:20240101T110000\r\n");
    let objects = split(&text);
    assert_eq!(objects.len(), 1);
    assert_eq!(count(&objects[0].ical, "VTIMEZONE"), 0);
}

#[test]
fn ical_crate_errors_get_a_line() {
    use ::ical::parser::ParserError;
    use ::ical::property::PropertyError;
    let err = deep::translate(
        ParserError::PropertyError(PropertyError::MissingName { line: 12 }),
        3,
    );
    assert_eq!(err.line, 12);
    let err = deep::translate(ParserError::InvalidComponent, 3);
    assert_eq!(err.line, 3);
    // And the normalisation we do for it keeps lower-case files acceptable.
    assert!(deep::check(ALLDAY.trim_start_matches('\u{feff}'), &[1]).is_ok());
}

/// A typical 1.6 KB object (an iCloud event with a VTIMEZONE, two alarms
/// and folded parameters), validated many times: exercises the hot path
/// (run with `--release -- --nocapture` to see the time per call).
#[test]
fn validate_hot_path_many_times() {
    let text = ICLOUD;
    let per_call = crate::best_time_per_call(|| {
        let object = validate_calendar_object(std::hint::black_box(text)).unwrap();
        assert_eq!(object.uid.len(), 36);
    });
    eprintln!(
        "validate_calendar_object: {} bytes, {per_call:.2} us per call",
        text.len()
    );
    // What the calendars projection does per stored object.
    let per_call = crate::best_time_per_call(|| {
        let (object, tree) =
            validate_calendar_tree(std::hint::black_box(text), TreeScope::Occurrences).unwrap();
        assert_eq!(object.uid.len() + tree.components.len(), 38);
    });
    eprintln!("validate_calendar_tree (occurrences): {per_call:.2} us per call");
}
