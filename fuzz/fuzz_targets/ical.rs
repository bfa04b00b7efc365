//! iCalendar as a client PUTs it and as an export is imported: the
//! validator every stored object passes, the tree (whole and of the
//! occurrences, as the calendars view reads it), the view's time index
//! (`extent`), and `split` of an export.
#![no_main]

use formats::ical::time::{extent, Zones};
use formats::ical::tree::{parse_tree, TreeScope};
use formats::ical::{split_calendar_export, validate_calendar_object, validate_calendar_tree};
use libfuzzer_sys::fuzz_target;

/// As many instances of a rule as the calendars view's time index spans.
const RULE_INSTANCES: usize = 32;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = validate_calendar_object(text);
    if let Ok((_, occurrences)) = validate_calendar_tree(text, TreeScope::Occurrences) {
        let _ = extent(
            &occurrences,
            &Zones::new(&occurrences, None),
            RULE_INSTANCES,
        );
    }
    if let Ok(tree) = parse_tree(text) {
        let _ = tree.to_text();
    }
    if let Ok(objects) = split_calendar_export(text) {
        // What split makes is what a PUT stores: it validates.
        for object in objects {
            if let Err(e) = validate_calendar_object(&object.ical) {
                panic!(
                    "split made an object that does not validate: {e}\n{}",
                    object.ical
                );
            }
        }
    }
});
