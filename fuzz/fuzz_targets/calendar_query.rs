//! A fuzzed calendar object against a fuzzed calendar-query, as
//! `src/http/dav/read.rs` evaluates it: the filter (time ranges over
//! recurrences in the object's VTIMEZONEs or the query's floating zone),
//! then calendar-data (comp selection, expand, limit-recurrence-set), and
//! the object's free-busy over the filter's range. The input is the
//! REPORT body, a NUL byte, then the object.
#![no_main]

use chrono::{TimeZone, Utc};
use formats::calfilter::{self, parse_calendar_query, zone_name, Matcher, ZonedObject};
use formats::ical::time::{InstanceBudget, Limits};
use formats::ical::tree::parse_tree;
use formats::xml;
use libfuzzer_sys::fuzz_target;

/// The server's defaults (`QueryLimits::DEFAULT`).
const PER_OBJECT: usize = 10_000;
const PER_QUERY: usize = 100_000;

fuzz_target!(|data: &[u8]| {
    let Some(split) = data.iter().position(|&b| b == 0) else {
        return;
    };
    let (body, object) = (&data[..split], &data[split + 1..]);
    let Ok(object) = std::str::from_utf8(object) else {
        return;
    };
    let Ok(root) = xml::parse(body) else {
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
        max_instances: PER_OBJECT,
    };
    let budget = InstanceBudget::new(PER_QUERY);
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
});
