//! When a calendar object happens: date and time values in their zones,
//! recurrence (RRULE, RDATE, EXDATE, overridden instances), and the
//! time-range tests of CalDAV (RFC 4791 §9.9).
//!
//! SKELETON: signatures are fixed, bodies are being written.

use super::tree::{Component, ContentProperty};
use chrono::{DateTime, Utc};

/// A CalDAV `time-range`: either bound may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// Bounds on the work one object may cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most occurrences expanded per object and query.
    pub max_instances: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_instances: 10_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("invalid date or time {value:?} in {property}")]
    InvalidValue { property: String, value: String },
    #[error("invalid recurrence rule {rule:?}: {reason}")]
    InvalidRule { rule: String, reason: String },
    #[error("more than {0} occurrences")]
    TooManyInstances(usize),
}

/// How DATE-TIME values with a TZID, or floating, become instants.
pub struct Zones<'a> {
    _calendar: &'a Component,
}

impl<'a> Zones<'a> {
    /// `calendar` is the VCALENDAR (its VTIMEZONEs are used when a TZID
    /// names no IANA or Windows zone); `floating` is the zone floating
    /// times are in (the calendar's `calendar-timezone`), UTC when None.
    pub fn new(calendar: &'a Component, floating: Option<&str>) -> Zones<'a> {
        let _ = floating;
        todo!()
    }

    /// A DATE or DATE-TIME property as an instant (a DATE is its midnight
    /// in the floating zone) and whether it was a DATE.
    pub fn instant(&self, property: &ContentProperty) -> Result<(DateTime<Utc>, bool), TimeError> {
        let _ = property;
        todo!()
    }
}

/// One occurrence of a VEVENT, VTODO or VJOURNAL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub start: DateTime<Utc>,
    /// RFC 4791 §9.9's effective end (e.g. DTSTART + 1 day for an all-day
    /// event without DTEND, DTSTART itself for a zero-duration event).
    pub end: DateTime<Utc>,
    /// The instance's RECURRENCE-ID (its original start), None when the
    /// object does not recur.
    pub recurrence_id: Option<DateTime<Utc>>,
    /// Index in `calendar.components` of the component describing it: the
    /// master, or the override for that RECURRENCE-ID.
    pub component: usize,
}

/// The occurrences of the object's VEVENT, VTODO or VJOURNAL (its master
/// and overrides share one UID) that overlap `range` by the rules of
/// RFC 4791 §9.9 for their component type, in start order. Open-ended
/// rules are clamped to the range; more than `limits.max_instances`
/// occurrences is an error.
pub fn occurrences_in(
    calendar: &Component,
    range: &TimeRange,
    zones: &Zones<'_>,
    limits: &Limits,
) -> Result<Vec<Occurrence>, TimeError> {
    let _ = (calendar, range, zones, limits);
    todo!()
}

/// Whether an alarm of the component at `component` (an index in
/// `calendar.components`) triggers within `range` for any occurrence
/// (RFC 4791 §9.9, VALARM row; repeats included).
pub fn alarm_in_range(
    calendar: &Component,
    component: usize,
    range: &TimeRange,
    zones: &Zones<'_>,
    limits: &Limits,
) -> Result<bool, TimeError> {
    let _ = (calendar, component, range, zones, limits);
    todo!()
}

/// Whether a DATE or DATE-TIME property (DTSTAMP, COMPLETED, CREATED,
/// LAST-MODIFIED, DUE...) lies in `range` (RFC 4791 §9.9, last rule).
pub fn property_in_range(
    property: &ContentProperty,
    range: &TimeRange,
    zones: &Zones<'_>,
) -> Result<bool, TimeError> {
    let _ = (property, range, zones);
    todo!()
}
