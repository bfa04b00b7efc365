//! RRULE expansion by the `rrule` crate, on wall-clock times.
//!
//! Recurrence rules are defined on local time (RFC 5545 §3.3.10): a weekly
//! 09:00 meeting stays at 09:00 across a DST change. The crate is given the
//! start's wall-clock time as if it were UTC (a zone without transitions),
//! so it does the calendar arithmetic and nothing else; the caller turns
//! each wall-clock result into an instant with the start's own zone (IANA,
//! Windows or a VTIMEZONE of the object), with one gap/overlap policy for
//! all of them. UNTIL is taken out of the rule and applied by the caller,
//! since only the caller knows the zone to compare it in.
//!
//! A rule also says, when its parts make that cheap, how late its COUNT
//! lets it run ([`Rule::count_bound`]), so that a cover of its instances
//! need not generate them all (see `time/shape.rs`).

use super::parts::Parts;
use super::plain::{Plain, PlainIter};
use super::shape::Shape;
use super::value::{parse_written, Written};
use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use rrule::{RRule, RRuleSet, RRuleSetIter, Unvalidated};

/// The UNTIL of a rule, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Until {
    /// `...Z`: compared with each instance's instant.
    Utc(NaiveDateTime),
    /// Without `Z`: compared with the instance's wall-clock time.
    Local(NaiveDateTime),
    /// A DATE: the instance's wall-clock date is at most this.
    Date(NaiveDate),
}

impl Until {
    /// Whether the instance at `local`, whose instant is `utc` (None when
    /// it has none), is within UNTIL.
    pub(super) fn admits(self, local: NaiveDateTime, utc: Option<NaiveDateTime>) -> bool {
        match self {
            Until::Utc(until) => utc.is_some_and(|u| u <= until),
            Until::Local(until) => local <= until,
            Until::Date(until) => local.date() <= until,
        }
    }

    /// Whether every instance from the wall-clock time `local` on is past
    /// UNTIL, whatever its zone (an offset is less than a day).
    pub(super) fn passed(self, local: NaiveDateTime) -> bool {
        match self {
            Until::Utc(until) => until
                .checked_add_signed(chrono::TimeDelta::days(1))
                .is_some_and(|latest| local > latest),
            Until::Local(until) => local > until,
            Until::Date(until) => local.date() > until,
        }
    }
}

/// A parsed RRULE for one start.
pub(super) struct Rule {
    set: RRuleSet,
    pub(super) until: Option<Until>,
    count: Option<u32>,
    start: NaiveDateTime,
    shape: Option<Shape>,
    plain: Option<Plain>,
}

impl Rule {
    /// Parses `value` (the RRULE property value) for a recurrence starting
    /// at the wall-clock time `start`. The error is a reason for humans.
    pub(super) fn parse(value: &str, start: NaiveDateTime) -> Result<Rule, String> {
        // A RECUR value is ASCII (RFC 5545 §3.3.10); rrule 0.14 slices
        // weekdays by bytes and panics inside a multi-byte character.
        if !value.is_ascii() {
            return Err(format!("the rule {value:?} is not ASCII"));
        }
        let mut kept: Vec<String> = Vec::new();
        let mut until = None;
        let mut count = None;
        for part in value.split(';') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (name, text) = part
                .split_once('=')
                .ok_or_else(|| format!("the rule part {part:?} has no value"))?;
            let name = name.trim().to_ascii_uppercase();
            let text = text.trim();
            match name.as_str() {
                "UNTIL" => {
                    until = Some(match parse_written(text) {
                        Some(Written::Date(date)) => Until::Date(date),
                        Some(Written::DateTime { local, utc: true }) => Until::Utc(local),
                        Some(Written::DateTime { local, utc: false }) => Until::Local(local),
                        None => return Err(format!("UNTIL={text} is not a date")),
                    });
                }
                // RFC 7529: only the Gregorian scale is understood; SKIP
                // only matters for other scales.
                "RSCALE" | "SKIP" => {}
                _ if name.starts_with("X-") => {}
                _ => {
                    if name == "COUNT" {
                        count = Some(
                            text.parse::<u32>()
                                .map_err(|_| format!("COUNT={text} is not a count"))?,
                        );
                    }
                    if name == "INTERVAL" && text.parse::<u32>().is_ok_and(|i| i == 0) {
                        return Err("INTERVAL=0".into());
                    }
                    kept.push(format!("{name}={}", text.to_ascii_uppercase()));
                }
            }
        }
        if !kept.iter().any(|p| p.starts_with("FREQ=")) {
            return Err("no FREQ".into());
        }
        let rule: RRule<Unvalidated> = kept.join(";").parse().map_err(|e| format!("{e}"))?;
        let proxy = rrule::Tz::UTC.from_utc_datetime(&start);
        let rule = rule.validate(proxy).map_err(|e| format!("{e}"))?;
        let parts = Parts::of(&kept);
        Ok(Rule {
            set: RRuleSet::new(proxy).rrule(rule).limit(),
            until,
            count,
            start,
            shape: parts.as_ref().and_then(|p| Shape::of(p, start)),
            plain: parts.as_ref().and_then(|p| Plain::of(p, start)),
        })
    }

    /// The number COUNT allows, when the rule has one.
    pub(super) fn count(&self) -> Option<u32> {
        self.count
    }

    /// A wall-clock time no instance of the rule starts after, derived
    /// from COUNT and the rule's shape without generating instances; None
    /// without COUNT or when the shape does not promise instances often
    /// enough to bound it (see `Shape`).
    pub(super) fn count_bound(&self) -> Option<NaiveDateTime> {
        self.shape?.bound(self.start, self.count?)
    }

    /// The wall-clock times the rule generates, ascending, without UNTIL
    /// applied. When the start is not one of them, it still counts as the
    /// first occurrence for COUNT (RFC 5545 §3.8.5.3), so one fewer is
    /// generated; the caller adds the start itself.
    pub(super) fn instances(&self) -> Instances<'_> {
        Instances {
            inner: Source::Rrule((&self.set).into_iter()),
            start: self.start,
            remaining: self.count,
            first: true,
        }
    }

    /// The same instances, for a cover: generated by date arithmetic when
    /// the rule is plain (`plain.rs`), else by `rrule`.
    pub(super) fn cover_instances(&self) -> Instances<'_> {
        let inner = match &self.plain {
            Some(plain) => Source::Plain(plain.iter()),
            None => Source::Rrule((&self.set).into_iter()),
        };
        Instances {
            inner,
            start: self.start,
            remaining: self.count,
            first: true,
        }
    }
}

/// Where instances come from.
enum Source<'r> {
    Rrule(RRuleSetIter),
    Plain(PlainIter<'r>),
}

pub(super) struct Instances<'r> {
    inner: Source<'r>,
    start: NaiveDateTime,
    remaining: Option<u32>,
    first: bool,
}

impl Iterator for Instances<'_> {
    type Item = NaiveDateTime;

    fn next(&mut self) -> Option<NaiveDateTime> {
        let next = match &mut self.inner {
            Source::Rrule(rrule) => rrule.next()?.naive_utc(),
            Source::Plain(plain) => plain.next()?,
        };
        if self.first {
            self.first = false;
            if next != self.start {
                if let Some(remaining) = self.remaining.as_mut() {
                    *remaining = remaining.saturating_sub(1);
                }
            }
        }
        if let Some(remaining) = self.remaining.as_mut() {
            if *remaining == 0 {
                return None;
            }
            *remaining -= 1;
        }
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        parse_written(s).unwrap().local()
    }

    /// Found by fuzzing (fixtures/fuzz/ical/rrule-byday-multibyte.ics):
    /// rrule sliced `-ȬU` inside the `Ȭ` and panicked.
    #[test]
    fn a_rule_outside_ascii_is_refused() {
        let refused = Rule::parse(
            "FREQ=YEARLY;BYMONTH=3;BYDAY=-\u{22c}U",
            at("19700329T020000"),
        );
        assert!(matches!(refused, Err(reason) if reason.contains("not ASCII")));
    }

    #[test]
    fn expands_on_the_wall_clock() {
        let rule = Rule::parse("FREQ=WEEKLY;COUNT=3;BYDAY=MO", at("20260302T090000")).unwrap();
        let got: Vec<String> = rule.instances().map(|d| d.to_string()).collect();
        assert_eq!(
            got,
            [
                "2026-03-02 09:00:00",
                "2026-03-09 09:00:00",
                "2026-03-16 09:00:00"
            ]
        );
    }

    #[test]
    fn an_unsynchronised_start_counts_as_the_first() {
        // A Tuesday start with a Monday rule: the start plus two Mondays.
        let rule = Rule::parse("FREQ=WEEKLY;COUNT=3;BYDAY=MO", at("20260303T090000")).unwrap();
        assert_eq!(rule.instances().count(), 2);
    }

    #[test]
    fn takes_until_out_and_ignores_extensions() {
        let rule = Rule::parse(
            "freq=daily;UNTIL=20260305T000000Z;X-FOO=1;RSCALE=GREGORIAN",
            at("20260302T090000"),
        )
        .unwrap();
        assert_eq!(rule.until, Some(Until::Utc(at("20260305T000000"))));
        assert!(rule.instances().take(10).count() == 10);
    }

    #[test]
    fn refuses_bad_rules() {
        for bad in [
            "",
            "COUNT=3",
            "FREQ=SOMETIMES",
            "FREQ=DAILY;COUNT=x",
            "FREQ=DAILY;INTERVAL=0",
            "FREQ=DAILY;BYDAY=XX",
            "FREQ=DAILY;UNTIL=tomorrow",
            "FREQ=DAILY;FOO",
            "FREQ=MONTHLY;BYMONTHDAY=40",
        ] {
            assert!(Rule::parse(bad, at("20260302T090000")).is_err(), "{bad}");
        }
    }
}
