//! When a calendar object happens: date and time values in their zones,
//! recurrence (RRULE, RDATE, EXDATE, overridden instances), and the
//! time-range tests of CalDAV (RFC 4791 §9.9).
//!
//! Zones: a TZID is an IANA name (prefixes such as `/mozilla.org/...`
//! stripped), else a Windows name (CLDR mapping), else the object's own
//! VTIMEZONE, else UTC. Floating times and DATEs are in the floating zone.
//! A wall-clock time in a DST gap is read with the offset before the gap,
//! one in an overlap is its earlier instant (RFC 5545 §3.3.5).
//!
//! Recurrence: RRULE arithmetic is the `rrule` crate's, on wall-clock time
//! (see `time/rule.rs`), so instances keep their local time across DST changes.
//! The code has no clock: expansion stops at the end of the range (widened
//! by the longest instance and THISANDFUTURE shift), and with no end at
//! `max_instances` matching occurrences (an error), or after a budget of
//! generated instances (also [`TimeError::TooManyInstances`]).

mod parts;
mod plain;
mod rule;
mod shape;
#[cfg(test)]
mod tests;
mod value;
mod windows_zones;
mod zone;

use super::tree::{Component, ContentProperty};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use std::collections::HashSet;
use std::sync::OnceLock;
use value::{parse_duration, parse_period, parse_written, Dur, PeriodEnd, Written};
use zone::{known_zone, CustomZone, Zone};

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
    #[error("more than {0} occurrences in one query")]
    TooManyInQuery(usize),
}

/// The occurrences one whole query may still produce (expanded instances,
/// free-busy periods), shared by all its objects, so that many objects
/// each under the per-object limit cannot add up without bound.
#[derive(Debug)]
pub struct InstanceBudget {
    left: std::cell::Cell<usize>,
    max: usize,
}

impl InstanceBudget {
    pub fn new(max: usize) -> InstanceBudget {
        InstanceBudget {
            left: std::cell::Cell::new(max),
            max,
        }
    }

    /// Spends `n` occurrences, or fails once the query has used them all.
    pub fn spend(&self, n: usize) -> Result<(), TimeError> {
        let left = self
            .left
            .get()
            .checked_sub(n)
            .ok_or(TimeError::TooManyInQuery(self.max))?;
        self.left.set(left);
        Ok(())
    }
}

fn invalid(property: &ContentProperty) -> TimeError {
    TimeError::InvalidValue {
        property: property.name.clone(),
        value: property.value.clone(),
    }
}

/// Whether a TZID names an IANA or Windows zone, so that [`Zones`] never
/// reads the object's own VTIMEZONE of that TZID.
pub(crate) fn is_known_zone(tzid: &str) -> bool {
    known_zone(tzid).is_some()
}

/// How DATE-TIME values with a TZID, or floating, become instants.
pub struct Zones<'a> {
    floating: chrono_tz::Tz,
    custom: Vec<CustomEntry<'a>>,
}

/// A VTIMEZONE of the calendar, read on first use.
struct CustomEntry<'a> {
    tzid: &'a str,
    component: &'a Component,
    zone: OnceLock<Option<CustomZone>>,
}

/// A DATE or DATE-TIME value in its zone: the wall-clock time (midnight
/// for a DATE) and the instant.
#[derive(Debug, Clone, Copy)]
struct Stamp<'z> {
    local: NaiveDateTime,
    zone: Zone<'z>,
    date: bool,
    instant: DateTime<Utc>,
}

impl<'a> Zones<'a> {
    /// `calendar` is the VCALENDAR (its VTIMEZONEs are used when a TZID
    /// names no IANA or Windows zone); `floating` is the zone floating
    /// times are in (the calendar's `calendar-timezone`), UTC when None.
    pub fn new(calendar: &'a Component, floating: Option<&str>) -> Zones<'a> {
        let custom = calendar
            .components_named("VTIMEZONE")
            .filter_map(|component| {
                Some(CustomEntry {
                    tzid: component.property("TZID")?.value.trim(),
                    component,
                    zone: OnceLock::new(),
                })
            })
            .collect();
        Zones {
            floating: floating.and_then(known_zone).unwrap_or(chrono_tz::Tz::UTC),
            custom,
        }
    }

    /// A DATE or DATE-TIME property as an instant (a DATE is its midnight
    /// in the floating zone) and whether it was a DATE.
    ///
    /// A list value (EXDATE, RDATE) gives its first item, a PERIOD its start.
    pub fn instant(&self, property: &ContentProperty) -> Result<(DateTime<Utc>, bool), TimeError> {
        let stamp = self.stamp(property)?;
        Ok((stamp.instant, stamp.date))
    }

    /// A DATE or DATE-TIME value with no TZID (a UTC one, a floating one
    /// or a DATE, read as [`Zones::instant`] reads them), as an instant and
    /// whether it was a DATE. None when it is neither.
    pub fn instant_of(&self, value: &str) -> Option<(DateTime<Utc>, bool)> {
        let stamp = self.stamp_written(parse_written(value)?, None)?;
        Some((stamp.instant, stamp.date))
    }

    /// The value `property` would have at `instant`, written as it writes
    /// its own: a DATE, a UTC DATE-TIME, or a local one in its TZID (its
    /// parameters stay valid). None when the instant does not exist there.
    pub fn written_at(
        &self,
        property: &ContentProperty,
        instant: DateTime<Utc>,
    ) -> Result<Option<String>, TimeError> {
        let stamp = self.stamp(property)?;
        let Some(moved) = stamp.at_instant(instant) else {
            return Ok(None);
        };
        Ok(Some(if stamp.date {
            moved.local.format("%Y%m%d").to_string()
        } else if property.value.trim().ends_with(['Z', 'z']) {
            moved.local.format("%Y%m%dT%H%M%SZ").to_string()
        } else {
            moved.local.format("%Y%m%dT%H%M%S").to_string()
        }))
    }

    /// The zone a TZID names.
    fn zone(&self, tzid: &str) -> Zone<'_> {
        if let Some(tz) = known_zone(tzid) {
            return Zone::Iana(tz);
        }
        let tzid = tzid.trim();
        self.custom
            .iter()
            .find(|entry| entry.tzid == tzid)
            .and_then(|entry| {
                entry
                    .zone
                    .get_or_init(|| CustomZone::build(entry.component))
                    .as_ref()
            })
            .map_or(Zone::UTC, Zone::Custom)
    }

    fn stamp_written(&self, written: Written, tzid: Option<&str>) -> Option<Stamp<'_>> {
        let floating = Zone::Iana(self.floating);
        let (zone, date) = match written {
            Written::Date(_) => (floating, true),
            Written::DateTime { utc: true, .. } => (Zone::UTC, false),
            Written::DateTime { utc: false, .. } => {
                (tzid.map_or(floating, |t| self.zone(t)), false)
            }
        };
        let local = written.local();
        Some(Stamp {
            local,
            zone,
            date,
            instant: zone.to_utc(local)?,
        })
    }

    fn stamp(&self, property: &ContentProperty) -> Result<Stamp<'_>, TimeError> {
        let first = property.value.split(',').next().unwrap_or_default();
        let first = first.split('/').next().unwrap_or_default();
        parse_written(first)
            .and_then(|written| self.stamp_written(written, property.param("TZID")))
            .ok_or_else(|| invalid(property))
    }
}

impl<'z> Stamp<'z> {
    /// The same kind of value at another instant, in the same zone.
    fn at_instant(&self, instant: DateTime<Utc>) -> Option<Stamp<'z>> {
        Some(Stamp {
            local: self.zone.to_local(instant)?,
            instant,
            ..*self
        })
    }

    /// Plus a duration: its days on the wall clock, the rest exactly.
    fn plus(&self, dur: Dur) -> Option<DateTime<Utc>> {
        let base = if dur.days == 0 {
            self.instant
        } else {
            let local = self
                .local
                .checked_add_signed(TimeDelta::try_days(dur.signed_days())?)?;
            self.zone.to_utc(local)?
        };
        base.checked_add_signed(TimeDelta::try_seconds(dur.signed_seconds())?)
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Event,
    Todo,
    Journal,
}

impl Kind {
    fn of(name: &str) -> Option<Kind> {
        match name {
            "VEVENT" => Some(Kind::Event),
            "VTODO" => Some(Kind::Todo),
            "VJOURNAL" => Some(Kind::Journal),
            _ => None,
        }
    }
}

/// The condition of RFC 4791 §9.9 an instance is tested with (`start` and
/// `end` are the range's, DTSTART/end the instance's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Test {
    /// start < end AND end > DTSTART (VEVENT with DTEND or a positive
    /// DURATION, all-day VEVENT, VJOURNAL with a DATE).
    Span,
    /// start <= DTSTART AND end > DTSTART (zero duration).
    AtStart,
    /// VTODO with DTSTART and DURATION: start <= DTSTART+DURATION AND
    /// (end > DTSTART OR end >= DTSTART+DURATION).
    TodoDuration,
    /// VTODO with DTSTART and DUE: (start < DUE OR start <= DTSTART) AND
    /// (end > DTSTART OR end >= DUE).
    TodoDue,
    /// VTODO with DUE only: start < DUE AND end >= DUE.
    DueOnly,
    /// VTODO with COMPLETED and CREATED only.
    CompletedCreated {
        completed: DateTime<Utc>,
        created: DateTime<Utc>,
    },
    /// VTODO with COMPLETED only: start <= COMPLETED AND end >= COMPLETED.
    Completed(DateTime<Utc>),
    /// VTODO with CREATED only: end > CREATED.
    Created(DateTime<Utc>),
    /// VTODO with none of them.
    Always,
    /// VJOURNAL without DTSTART (and a VEVENT without one).
    Never,
}

/// One instance: its effective start and end, and its test.
#[derive(Debug, Clone, Copy)]
struct Inst {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    test: Test,
}

impl Inst {
    /// The smallest closed interval outside which no range can pass its
    /// test, or None when none ever does.
    fn bounds(&self) -> Option<Span> {
        match self.test {
            Test::Never => None,
            _ => Some((self.start.min(self.end), self.start.max(self.end))),
        }
    }

    fn overlaps(&self, range: &TimeRange) -> bool {
        let start_lt = |x: DateTime<Utc>| range.start.is_none_or(|s| s < x);
        let start_le = |x: DateTime<Utc>| range.start.is_none_or(|s| s <= x);
        let end_gt = |x: DateTime<Utc>| range.end.is_none_or(|e| e > x);
        let end_ge = |x: DateTime<Utc>| range.end.is_none_or(|e| e >= x);
        let (start, end) = (self.start, self.end);
        match self.test {
            Test::Span => start_lt(end) && end_gt(start),
            Test::AtStart => start_le(start) && end_gt(start),
            Test::TodoDuration => start_le(end) && (end_gt(start) || end_ge(end)),
            Test::TodoDue => (start_lt(end) || start_le(start)) && (end_gt(start) || end_ge(end)),
            Test::DueOnly => start_lt(end) && end_ge(end),
            Test::CompletedCreated { completed, created } => {
                (start_le(created) || start_le(completed)) && (end_ge(created) || end_ge(completed))
            }
            Test::Completed(completed) => start_le(completed) && end_ge(completed),
            Test::Created(created) => end_gt(created),
            Test::Always => true,
            Test::Never => false,
        }
    }
}

/// How an instance's end follows from its start.
#[derive(Debug, Clone, Copy)]
enum EndRule {
    Same,
    Exact(TimeDelta),
    /// A DURATION, or the distance between two DATEs, on the wall clock.
    Nominal(Dur),
}

impl EndRule {
    /// An upper bound of its length, for widening windows.
    fn bound(self) -> TimeDelta {
        match self {
            EndRule::Same => TimeDelta::zero(),
            EndRule::Exact(delta) => delta.abs(),
            EndRule::Nominal(dur) => dur
                .approx()
                .abs()
                .checked_add(&TimeDelta::days(1))
                .unwrap_or(TimeDelta::MAX),
        }
    }
}

/// The timing of one VEVENT, VTODO or VJOURNAL component.
#[derive(Debug, Clone, Copy)]
struct Timing<'z> {
    kind: Kind,
    start: Option<Stamp<'z>>,
    end: EndRule,
    /// The test of instances that have a start.
    test: Test,
    /// The instance of a component without DTSTART.
    fixed: Option<Inst>,
}

fn days_between(start: &Stamp<'_>, end: &Stamp<'_>) -> EndRule {
    if start.date && end.date {
        let days = end
            .local
            .date()
            .signed_duration_since(start.local.date())
            .num_days();
        EndRule::Nominal(Dur {
            negative: days < 0,
            days: days.abs(),
            seconds: 0,
        })
    } else {
        EndRule::Exact(end.instant.signed_duration_since(start.instant))
    }
}

const ONE_DAY: Dur = Dur {
    negative: false,
    days: 1,
    seconds: 0,
};

impl<'z> Timing<'z> {
    fn of(
        component: &Component,
        kind: Kind,
        zones: &'z Zones<'_>,
    ) -> Result<Timing<'z>, TimeError> {
        let stamp = |name: &str| component.property(name).map(|p| zones.stamp(p)).transpose();
        let duration = || {
            component
                .property("DURATION")
                .map(|p| parse_duration(&p.value).ok_or_else(|| invalid(p)))
                .transpose()
        };
        let start = stamp("DTSTART")?;
        let mut timing = Timing {
            kind,
            start,
            end: EndRule::Same,
            test: Test::AtStart,
            fixed: None,
        };
        let never = Inst {
            start: DateTime::<Utc>::MIN_UTC,
            end: DateTime::<Utc>::MIN_UTC,
            test: Test::Never,
        };
        match (kind, start) {
            (Kind::Event, Some(start)) => {
                if let Some(end) = stamp("DTEND")? {
                    timing.end = days_between(&start, &end);
                    timing.test = Test::Span;
                } else if let Some(dur) = duration()? {
                    timing.end = EndRule::Nominal(dur);
                    timing.test = if dur.is_positive() {
                        Test::Span
                    } else {
                        Test::AtStart
                    };
                } else if start.date {
                    timing.end = EndRule::Nominal(ONE_DAY);
                    timing.test = Test::Span;
                }
            }
            (Kind::Todo, Some(start)) => {
                if let Some(due) = stamp("DUE")? {
                    timing.end = days_between(&start, &due);
                    timing.test = Test::TodoDue;
                } else if let Some(dur) = duration()? {
                    timing.end = EndRule::Nominal(dur);
                    timing.test = Test::TodoDuration;
                }
            }
            (Kind::Todo, None) => {
                let due = stamp("DUE")?.map(|s| s.instant);
                let completed = stamp("COMPLETED")?.map(|s| s.instant);
                let created = stamp("CREATED")?.map(|s| s.instant);
                let (start, end, test) = match (due, completed, created) {
                    (Some(due), _, _) => (due, due, Test::DueOnly),
                    (None, Some(completed), Some(created)) => (
                        completed.min(created),
                        completed.max(created),
                        Test::CompletedCreated { completed, created },
                    ),
                    (None, Some(completed), None) => {
                        (completed, completed, Test::Completed(completed))
                    }
                    (None, None, Some(created)) => {
                        (created, DateTime::<Utc>::MAX_UTC, Test::Created(created))
                    }
                    (None, None, None) => (
                        DateTime::<Utc>::MIN_UTC,
                        DateTime::<Utc>::MAX_UTC,
                        Test::Always,
                    ),
                };
                timing.fixed = Some(Inst { start, end, test });
            }
            (Kind::Journal, Some(start)) => {
                if start.date {
                    timing.end = EndRule::Nominal(ONE_DAY);
                    timing.test = Test::Span;
                }
            }
            (Kind::Event | Kind::Journal, None) => timing.fixed = Some(never),
        }
        Ok(timing)
    }

    /// The instance starting at `start`.
    fn at(&self, start: &Stamp<'_>) -> Option<Inst> {
        let end = match self.end {
            EndRule::Same => start.instant,
            EndRule::Exact(delta) => start.instant.checked_add_signed(delta)?,
            EndRule::Nominal(dur) => start.plus(dur)?,
        };
        Some(Inst {
            start: start.instant,
            end,
            test: self.test,
        })
    }

    /// The component's own instance: at its DTSTART, or its fixed one.
    fn own(&self) -> Option<Inst> {
        match &self.start {
            Some(start) => self.at(start),
            None => self.fixed,
        }
    }

    /// Its instance moved to start at `instant` (THISANDFUTURE).
    fn moved(&self, instant: DateTime<Utc>) -> Option<Inst> {
        match &self.start {
            Some(start) => self.at(&start.at_instant(instant)?),
            None => self.fixed,
        }
    }

    /// An instance given by an RDATE PERIOD.
    fn period(&self, start: &Stamp<'_>, end: DateTime<Utc>) -> Option<Inst> {
        let test = match self.kind {
            Kind::Event => Test::Span,
            Kind::Todo => Test::TodoDue,
            Kind::Journal => return self.at(start),
        };
        Some(Inst {
            start: start.instant,
            end,
            test,
        })
    }
}

/// An override (a component with RECURRENCE-ID).
struct Override<'z> {
    index: usize,
    rid: DateTime<Utc>,
    future: bool,
    timing: Timing<'z>,
}

/// A THISANDFUTURE override, applying to later instances.
struct Future<'z> {
    index: usize,
    rid: DateTime<Utc>,
    shift: TimeDelta,
    timing: Timing<'z>,
}

/// Instances generated before this budget runs out (a multiple of
/// `max_instances`, at least this) count as too many: they are work even
/// when they lie before the range.
const MIN_BUDGET: usize = 200_000;

/// Why an expansion stopped early.
enum Halt {
    Error(TimeError),
    /// The `hit` predicate held for an occurrence.
    Hit,
}

impl From<TimeError> for Halt {
    fn from(error: TimeError) -> Halt {
        Halt::Error(error)
    }
}

/// Stops an expansion at the first occurrence it holds for.
type Hit<'h> = Option<&'h dyn Fn(&Occurrence) -> bool>;

struct Expansion<'r, 'z, 'h> {
    range: &'r TimeRange,
    max: usize,
    hit: Hit<'h>,
    found: Vec<Occurrence>,
    /// Recurrence ids already handled (overrides, DTSTART, RDATE).
    taken: HashSet<DateTime<Utc>>,
    ex_instants: HashSet<DateTime<Utc>>,
    ex_dates: HashSet<NaiveDate>,
    /// Ascending by `rid`.
    futures: Vec<Future<'z>>,
    /// Set by [`extent`]: every instance's bounds are collected here
    /// instead of being tested against the range.
    cover: Option<Cover>,
}

/// A closed interval of time.
pub type Span = (DateTime<Utc>, DateTime<Utc>);

/// What [`extent`] collects while it expands.
struct Cover {
    spans: Vec<Span>,
    /// RRULE instances to generate before the rest is one open span.
    rule_instances: usize,
}

impl<'z> Expansion<'_, 'z, '_> {
    fn offer(
        &mut self,
        inst: Inst,
        rid: Option<DateTime<Utc>>,
        component: usize,
    ) -> Result<(), Halt> {
        if let Some(cover) = &mut self.cover {
            if let Some(bounds) = inst.bounds() {
                cover.spans.push(bounds);
            }
            return Ok(());
        }
        if inst.overlaps(self.range) {
            let occurrence = Occurrence {
                start: inst.start,
                end: inst.end,
                recurrence_id: rid,
                component,
            };
            if self.hit.is_some_and(|hit| hit(&occurrence)) {
                return Err(Halt::Hit);
            }
            self.found.push(occurrence);
            if self.found.len() > self.max {
                return Err(TimeError::TooManyInstances(self.max).into());
            }
        }
        Ok(())
    }

    /// One instance of the master's recurrence set (the error only says
    /// the limit was passed; None from arithmetic drops the instance).
    fn instance(
        &mut self,
        master: (usize, &Timing<'z>),
        stamp: &Stamp<'z>,
        period_end: Option<DateTime<Utc>>,
        remember: bool,
    ) -> Result<(), Halt> {
        let rid = stamp.instant;
        if self.taken.contains(&rid) {
            return Ok(());
        }
        if remember {
            self.taken.insert(rid);
        }
        if self.ex_instants.contains(&rid) || self.ex_dates.contains(&stamp.local.date()) {
            return Ok(());
        }
        let before = self.futures.partition_point(|f| f.rid < rid);
        let future = before.checked_sub(1).and_then(|i| self.futures.get(i));
        let (inst, component) = match future {
            Some(f) => (
                rid.checked_add_signed(f.shift)
                    .and_then(|at| f.timing.moved(at)),
                f.index,
            ),
            None => (
                match period_end {
                    Some(end) => master.1.period(stamp, end),
                    None => master.1.at(stamp),
                },
                master.0,
            ),
        };
        match inst {
            Some(inst) => self.offer(inst, Some(rid), component),
            None => Ok(()),
        }
    }
}

/// The occurrences of the object's VEVENT, VTODO or VJOURNAL (its master
/// and overrides share one UID) that overlap `range` by the rules of
/// RFC 4791 §9.9 for their component type, in start order. Open-ended
/// rules are clamped to the range; more than `limits.max_instances`
/// occurrences is an error.
///
/// The recurrence set is DTSTART (always its first instance), RRULE,
/// RDATE (DATE, DATE-TIME, PERIOD), minus EXDATE (a DATE EXDATE removes
/// that day's instance of a DATE-TIME series); an override replaces the
/// instance with its RECURRENCE-ID, and with RANGE=THISANDFUTURE moves
/// every later instance by its own DTSTART − RECURRENCE-ID and gives them
/// its duration. An override whose RECURRENCE-ID is no instance is still
/// an occurrence, and so are the overrides of an object without master.
/// Occurrences of a component without DTSTART: a VEVENT or VJOURNAL has
/// none; a VTODO has one, tested by the rows of the table without DTSTART
/// (its `start`/`end` are DUE, or COMPLETED/CREATED, or unbounded).
pub fn occurrences_in(
    calendar: &Component,
    range: &TimeRange,
    zones: &Zones<'_>,
    limits: &Limits,
) -> Result<Vec<Occurrence>, TimeError> {
    match expand(calendar, range, zones, limits, None, None) {
        Ok((found, _)) => Ok(found),
        Err(Halt::Error(error)) => Err(error),
        Err(Halt::Hit) => Ok(Vec::new()),
    }
}

/// Whether `hit` holds for one of the occurrences [`occurrences_in`]
/// finds, stopping at the first: an open-ended range over an endless rule
/// then costs instances only until the first hit.
pub fn any_occurrence_in(
    calendar: &Component,
    range: &TimeRange,
    zones: &Zones<'_>,
    limits: &Limits,
    hit: &dyn Fn(&Occurrence) -> bool,
) -> Result<bool, TimeError> {
    match expand(calendar, range, zones, limits, Some(hit), None) {
        Ok(_) => Ok(false),
        Err(Halt::Hit) => Ok(true),
        Err(Halt::Error(error)) => Err(error),
    }
}

/// Where an object's occurrences can match a time range: closed spans
/// (unsorted, possibly overlapping) such that a range meeting none of them
/// matches no occurrence by RFC 4791 §9.9. A query index keeps them, so
/// they cover everything rather than describe it exactly: the first
/// `rule_instances` instances of each RRULE are spans of their own, and
/// whatever the rule yields after them is one span, up to the latest start
/// its UNTIL or COUNT allows (see `rule_tail_end`) or else open to the
/// end of time. Times are read as [`occurrences_in`] reads them, floating ones
/// in `zones`' floating zone (the caller widens the spans when that zone
/// may change).
pub fn extent(
    calendar: &Component,
    zones: &Zones<'_>,
    rule_instances: usize,
) -> Result<Vec<Span>, TimeError> {
    let cover = Cover {
        spans: Vec::new(),
        rule_instances,
    };
    let everything = TimeRange {
        start: None,
        end: None,
    };
    match expand(
        calendar,
        &everything,
        zones,
        &Limits::default(),
        None,
        Some(cover),
    ) {
        Ok((_, cover)) => Ok(cover.map(|c| c.spans).unwrap_or_default()),
        Err(Halt::Error(error)) => Err(error),
        Err(Halt::Hit) => Ok(Vec::new()),
    }
}

/// [`occurrences_in`], stopping early when `hit` holds for one, or
/// [`extent`]'s spans when given a `cover`.
fn expand(
    calendar: &Component,
    range: &TimeRange,
    zones: &Zones<'_>,
    limits: &Limits,
    hit: Hit<'_>,
    cover: Option<Cover>,
) -> Result<(Vec<Occurrence>, Option<Cover>), Halt> {
    let mut components = calendar
        .components
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some((i, c, Kind::of(&c.name)?)));
    let Some(first) = components.next() else {
        return Ok((Vec::new(), cover));
    };
    let kind = first.2;
    let mut master = None;
    let mut overrides = Vec::new();
    for (index, component, k) in std::iter::once(first).chain(components) {
        if k != kind {
            continue;
        }
        match component.property("RECURRENCE-ID") {
            Some(rid) => overrides.push(Override {
                index,
                rid: zones.stamp(rid)?.instant,
                future: rid
                    .param("RANGE")
                    .is_some_and(|r| r.trim().eq_ignore_ascii_case("THISANDFUTURE")),
                timing: Timing::of(component, kind, zones)?,
            }),
            None => {
                if master.is_none() {
                    master = Some((index, component));
                }
            }
        }
    }

    let recurs = !overrides.is_empty()
        || master
            .is_some_and(|(_, c)| c.property("RRULE").is_some() || c.property("RDATE").is_some());
    let mut expansion = Expansion {
        range,
        max: limits.max_instances,
        hit,
        found: Vec::new(),
        taken: HashSet::new(),
        ex_instants: HashSet::new(),
        ex_dates: HashSet::new(),
        futures: Vec::new(),
        cover,
    };
    for o in &overrides {
        if !expansion.taken.insert(o.rid) {
            continue;
        }
        if let Some(inst) = o.timing.own() {
            expansion.offer(inst, Some(o.rid), o.index)?;
        }
        if o.future {
            let shift = match &o.timing.start {
                Some(start) => start.instant.signed_duration_since(o.rid),
                None => TimeDelta::zero(),
            };
            expansion.futures.push(Future {
                index: o.index,
                rid: o.rid,
                shift,
                timing: o.timing,
            });
        }
    }
    expansion.futures.sort_by_key(|f| f.rid);

    if let Some((index, component)) = master {
        let timing = Timing::of(component, kind, zones)?;
        match timing.start {
            None => {
                if let Some(inst) = timing.fixed {
                    expansion.offer(inst, None, index)?;
                }
            }
            Some(start) if !recurs => {
                if let Some(inst) = timing.at(&start) {
                    expansion.offer(inst, None, index)?;
                }
            }
            Some(start) => expand_master(
                &mut expansion,
                (index, &timing),
                component,
                &start,
                zones,
                limits,
            )?,
        }
    }
    let mut found = expansion.found;
    found.sort_by(|a, b| {
        (a.start, a.recurrence_id, a.component).cmp(&(b.start, b.recurrence_id, b.component))
    });
    found.dedup();
    Ok((found, expansion.cover))
}

/// DTSTART, RDATE, EXDATE and RRULE of a recurring master.
fn expand_master<'z>(
    expansion: &mut Expansion<'_, 'z, '_>,
    master: (usize, &Timing<'z>),
    component: &Component,
    start: &Stamp<'z>,
    zones: &'z Zones<'_>,
    limits: &Limits,
) -> Result<(), Halt> {
    for exdate in component.properties_named("EXDATE") {
        for item in exdate.value.split(',') {
            let stamp = parse_written(item)
                .and_then(|w| zones.stamp_written(w, exdate.param("TZID")))
                .ok_or_else(|| invalid(exdate))?;
            expansion.ex_instants.insert(stamp.instant);
            if stamp.date || start.date {
                expansion.ex_dates.insert(stamp.local.date());
            }
        }
    }
    expansion.instance(master, start, None, true)?;
    for rdate in component.properties_named("RDATE") {
        let period = rdate
            .param("VALUE")
            .is_some_and(|v| v.eq_ignore_ascii_case("PERIOD"));
        for item in rdate.value.split(',') {
            let (written, end) = if period || item.contains('/') {
                let (written, end) = parse_period(item).ok_or_else(|| invalid(rdate))?;
                (written, Some(end))
            } else {
                (parse_written(item).ok_or_else(|| invalid(rdate))?, None)
            };
            let stamp = zones
                .stamp_written(written, rdate.param("TZID"))
                .ok_or_else(|| invalid(rdate))?;
            let end = match end {
                None => None,
                Some(PeriodEnd::After(dur)) => Some(stamp.plus(dur).ok_or_else(|| invalid(rdate))?),
                Some(PeriodEnd::At(end)) => Some(
                    zones
                        .stamp_written(end, rdate.param("TZID"))
                        .ok_or_else(|| invalid(rdate))?
                        .instant,
                ),
            };
            expansion.instance(master, &stamp, end, true)?;
        }
    }

    // Instances whose wall-clock start is past this cannot reach the
    // range, even moved by a THISANDFUTURE override.
    let reach = expansion
        .futures
        .iter()
        .map(|f| {
            f.shift
                .abs()
                .checked_add(&f.timing.end.bound())
                .unwrap_or(TimeDelta::MAX)
        })
        .chain([master.1.end.bound()])
        .fold(TimeDelta::days(2), |a, b| {
            a.checked_add(&b).unwrap_or(TimeDelta::MAX)
        });
    let stop = expansion
        .range
        .end
        .and_then(|end| end.naive_utc().checked_add_signed(reach));

    // Instances whose wall clock is more than a day (an offset is less)
    // and `reach` before the range end before it: a query skips them
    // without their instant, the costly part of one, so that a rule
    // starting centuries before the range costs only its generation.
    let skip_before = match expansion.cover {
        Some(_) => None,
        None => expansion.range.start.and_then(|start| {
            let margin = reach.checked_add(&TimeDelta::days(1))?;
            start.naive_utc().checked_sub_signed(margin)
        }),
    };
    let mut budget = limits.max_instances.saturating_mul(100).max(MIN_BUDGET);
    let rule_cap = expansion.cover.as_ref().map(|c| c.rule_instances);
    for rrule in component.properties_named("RRULE") {
        let rule = rule::Rule::parse(&rrule.value, start.local).map_err(|reason| {
            TimeError::InvalidRule {
                rule: rrule.value.clone(),
                reason,
            }
        })?;
        // A cover may take its instances from the faster generator of
        // plain rules; queries take them from `rrule` only.
        let all = match expansion.cover {
            Some(_) => rule.cover_instances(),
            None => rule.instances(),
        };
        let mut instances = all.enumerate();
        while let Some((generated, local)) = instances.next() {
            budget = budget
                .checked_sub(1)
                .ok_or(TimeError::TooManyInstances(limits.max_instances))?;
            let local = if start.date {
                local.date().and_time(chrono::NaiveTime::MIN)
            } else {
                local
            };
            if stop.is_some_and(|stop| local > stop) {
                break;
            }
            if skip_before.is_some_and(|before| local < before) {
                if rule.until.is_some_and(|until| until.passed(local)) {
                    break;
                }
                continue;
            }
            let Some(instant) = start.zone.to_utc(local) else {
                break;
            };
            if let Some(until) = rule.until {
                if !until.admits(local, Some(instant.naive_utc())) {
                    break;
                }
            }
            if rule_cap.is_some_and(|cap| generated >= cap) {
                // Later instances start no earlier than this one's wall
                // clock and no later than the rule's last, each moved by
                // at most `reach`.
                if let Some(cover) = &mut expansion.cover {
                    let from = instant
                        .checked_sub_signed(reach)
                        .unwrap_or(DateTime::<Utc>::MIN_UTC);
                    let rest = instances.by_ref().map(|(_, local)| local);
                    let to = rule_tail_end(&rule, std::iter::once(local).chain(rest))
                        .and_then(|last| last.checked_add_signed(reach))
                        .unwrap_or(DateTime::<Utc>::MAX_UTC);
                    cover.spans.push((from, to));
                }
                break;
            }
            let stamp = Stamp {
                local,
                instant,
                ..*start
            };
            expansion.instance(master, &stamp, None, false)?;
        }
    }
    Ok(())
}

/// Rules whose COUNT is at most this, but whose shape gives no bound, are
/// run to their end by [`rule_tail_end`]: no more work than generating
/// them, and a bounded cover keeps the object off the index's open list.
const COUNT_SCAN: u32 = 256;

/// The latest instant an instance of `rule` can start at, for the cover
/// of the instances from `rest` on (wall-clock times, ascending, UNTIL
/// not applied; the first is the one the cover stopped at); None when
/// only the end of time bounds them.
///
/// An instant is its wall-clock time minus an offset of less than a day
/// (IANA offsets stay within ±14 h, a VTIMEZONE's within ±23:59:59), also
/// in a DST gap, so a bound on the wall clock plus a day bounds the
/// instant in every zone; a DATE's midnight is no later than its day.
fn rule_tail_end(
    rule: &rule::Rule,
    rest: impl Iterator<Item = NaiveDateTime>,
) -> Option<DateTime<Utc>> {
    let day = TimeDelta::days(1);
    let wall = |local: NaiveDateTime| local.checked_add_signed(day).map(|l| l.and_utc());
    let by_until = rule.until.and_then(|until| match until {
        rule::Until::Utc(at) => Some(at.and_utc()),
        rule::Until::Local(at) => wall(at),
        rule::Until::Date(date) => date
            .succ_opt()
            .and_then(|next| wall(next.and_time(chrono::NaiveTime::MIN))),
    });
    let by_count = match rule.count_bound() {
        Some(local) => wall(local),
        None if rule.count().is_some_and(|n| n <= COUNT_SCAN) => {
            // The rest was generated up to COUNT with UNTIL ignored; the
            // last one (or the minimum with UNTIL) bounds the others.
            rest.last().and_then(wall)
        }
        None => None,
    };
    match (by_until, by_count) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Whether a trigger at `first`, repeated `repeat` more times every
/// `every`, falls in `range` (start inclusive, end exclusive).
fn triggers_in(first: DateTime<Utc>, repeat: u64, every: TimeDelta, range: &TimeRange) -> bool {
    let step = every.num_seconds();
    let mut at = first;
    if let Some(start) = range.start {
        if at < start {
            if repeat == 0 || step <= 0 {
                return false;
            }
            let behind = start.signed_duration_since(at).num_seconds();
            let steps = behind.div_euclid(step) + i64::from(behind.rem_euclid(step) != 0);
            if u64::try_from(steps).map_or(true, |s| s > repeat) {
                return false;
            }
            let Some(moved) = steps
                .checked_mul(step)
                .and_then(TimeDelta::try_seconds)
                .and_then(|d| at.checked_add_signed(d))
            else {
                return false;
            };
            at = moved;
        }
    }
    range.end.is_none_or(|end| at < end)
}

/// Whether an alarm of the component at `component` (an index in
/// `calendar.components`) triggers within `range` for any occurrence
/// (RFC 4791 §9.9, VALARM row; repeats included).
///
/// A relative TRIGGER is from the occurrence's start, or with
/// RELATED=END from its end (VEVENT: the effective end; VTODO: DUE or
/// DTSTART+DURATION); a component lacking the one named uses the other.
/// Days in a TRIGGER are on the component's wall clock; REPEAT intervals
/// are exact. An absolute TRIGGER fires once, whatever the recurrence.
pub fn alarm_in_range(
    calendar: &Component,
    component: usize,
    range: &TimeRange,
    zones: &Zones<'_>,
    limits: &Limits,
) -> Result<bool, TimeError> {
    let Some(comp) = calendar.components.get(component) else {
        return Ok(false);
    };
    let Some(kind) = Kind::of(&comp.name) else {
        return Ok(false);
    };
    if kind == Kind::Journal {
        return Ok(false);
    }
    let timing = Timing::of(comp, kind, zones)?;
    let has_start = timing.start.is_some();
    let has_end = match kind {
        Kind::Event => has_start,
        _ => {
            (has_start && matches!(timing.test, Test::TodoDue | Test::TodoDuration))
                || timing.fixed.is_some_and(|f| f.test == Test::DueOnly)
        }
    };
    for alarm in comp.components_named("VALARM") {
        let Some(trigger) = alarm.property("TRIGGER") else {
            continue;
        };
        let repeat = alarm
            .property("REPEAT")
            .and_then(|p| p.value.trim().parse::<u64>().ok())
            .unwrap_or(0);
        let every = alarm
            .property("DURATION")
            .and_then(|p| parse_duration(&p.value))
            .map(Dur::approx)
            .filter(|d| *d > TimeDelta::zero());
        let (repeat, every) = match every {
            Some(every) if repeat > 0 => (repeat, every),
            _ => (0, TimeDelta::zero()),
        };
        let value = trigger.value.trim();
        let absolute = trigger
            .param("VALUE")
            .is_some_and(|v| v.eq_ignore_ascii_case("DATE-TIME"))
            || !value.starts_with(['P', 'p', '+', '-']);
        if absolute {
            if triggers_in(zones.stamp(trigger)?.instant, repeat, every, range) {
                return Ok(true);
            }
            continue;
        }
        let offset = parse_duration(value).ok_or_else(|| invalid(trigger))?;
        let related_end = trigger
            .param("RELATED")
            .is_some_and(|r| r.trim().eq_ignore_ascii_case("END"));
        let use_end = if related_end { has_end } else { !has_start };
        if !(has_start || has_end) {
            continue;
        }
        // Occurrences whose start (or end) lies in this window can have a
        // trigger in the range.
        let day = TimeDelta::days(1);
        let span = i32::try_from(repeat)
            .ok()
            .and_then(|r| every.checked_mul(r))
            .unwrap_or(TimeDelta::MAX);
        let low = offset.approx().checked_sub(&day).unwrap_or(TimeDelta::MIN);
        let high = offset
            .approx()
            .checked_add(&span)
            .and_then(|h| h.checked_add(&day))
            .unwrap_or(TimeDelta::MAX);
        let window = TimeRange {
            start: range.start.and_then(|s| s.checked_sub_signed(high)),
            end: range.end.and_then(|e| e.checked_sub_signed(low)),
        };
        let fires = |occurrence: &Occurrence| {
            if occurrence.component != component {
                return false;
            }
            let base = if use_end {
                occurrence.end
            } else {
                occurrence.start
            };
            let first = match timing.start.and_then(|s| s.at_instant(base)) {
                Some(stamp) => stamp.plus(offset),
                None => base.checked_add_signed(offset.approx()),
            };
            first.is_some_and(|first| triggers_in(first, repeat, every, range))
        };
        match expand(calendar, &window, zones, limits, Some(&fires), None) {
            Ok(_) => {}
            Err(Halt::Hit) => return Ok(true),
            Err(Halt::Error(error)) => return Err(error),
        }
    }
    Ok(false)
}

/// Whether a DATE or DATE-TIME property (DTSTAMP, COMPLETED, CREATED,
/// LAST-MODIFIED, DUE...) lies in `range` (RFC 4791 §9.9, last rule).
///
/// A DATE-TIME is in the range when start <= value < end; a DATE is its
/// day (in the floating zone) and must overlap the range.
pub fn property_in_range(
    property: &ContentProperty,
    range: &TimeRange,
    zones: &Zones<'_>,
) -> Result<bool, TimeError> {
    let stamp = zones.stamp(property)?;
    let inst = if stamp.date {
        Inst {
            start: stamp.instant,
            end: stamp.plus(ONE_DAY).ok_or_else(|| invalid(property))?,
            test: Test::Span,
        }
    } else {
        Inst {
            start: stamp.instant,
            end: stamp.instant,
            test: Test::AtStart,
        }
    };
    Ok(inst.overlaps(range))
}
