//! How often a recurrence rule is sure to produce an instance, read from
//! its parts, so that COUNT bounds how long it runs without expanding it.
//!
//! A rule's periods are FREQ × INTERVAL long, the first one holding
//! DTSTART. When every `every` consecutive periods hold at least one
//! instance whatever the year, month or weekday, the k-th instance lies in
//! one of the first k × `every` periods after the first, so a rule of
//! COUNT=n starts nothing after DTSTART + (n × `every` + 1) periods. Only
//! shapes where that is plain are recognised: anything else (BYWEEKNO,
//! BYYEARDAY, a BYSETPOS without 1 or -1, BYMONTH limiting a MONTHLY rule,
//! a 31st some months lack, a 5th weekday...) has no shape, and the caller
//! finds its bound another way or leaves it open.

use super::parts::{ByDay, Freq, Parts};
use chrono::{Datelike, Months, NaiveDateTime, TimeDelta};

/// A rule that holds an instance in every `every` consecutive periods of
/// `interval` × `freq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Shape {
    freq: Freq,
    interval: u32,
    every: u32,
}

impl Shape {
    /// The shape of a rule with these parts starting at `start`; None
    /// when it is not one of the plain ones.
    pub(super) fn of(p: &Parts, start: NaiveDateTime) -> Option<Shape> {
        if p.other {
            return None;
        }
        // One of the first or last of a non-empty set is there.
        if p.by_set_pos
            .as_ref()
            .is_some_and(|pos| !pos.iter().any(|&n| n == 1 || n == -1))
        {
            return None;
        }
        Some(Shape {
            freq: p.freq,
            interval: p.interval,
            every: every(p, start)?,
        })
    }

    /// A wall-clock time after which none of `count` instances from
    /// `start` begins; None when it is beyond chrono's range.
    pub(super) fn bound(self, start: NaiveDateTime, count: u32) -> Option<NaiveDateTime> {
        let periods = u64::from(count)
            .checked_mul(u64::from(self.every))?
            .checked_add(1)?;
        let units = periods.checked_mul(u64::from(self.interval))?;
        let seconds = |per: u64| {
            let s = units.checked_mul(per)?;
            start.checked_add_signed(TimeDelta::try_seconds(i64::try_from(s).ok()?)?)
        };
        let months = |per: u64| {
            let m = u32::try_from(units.checked_mul(per)?).ok()?;
            start.checked_add_months(Months::new(m))
        };
        match self.freq {
            Freq::Secondly => seconds(1),
            Freq::Minutely => seconds(60),
            Freq::Hourly => seconds(3_600),
            Freq::Daily => seconds(86_400),
            Freq::Weekly => seconds(7 * 86_400),
            Freq::Monthly => months(1),
            Freq::Yearly => months(12),
        }
    }
}

/// In how many consecutive periods an instance is sure, or None.
fn every(p: &Parts, start: NaiveDateTime) -> Option<u32> {
    let (days, month_days) = (p.by_day.as_deref(), p.by_month_day.as_deref());
    let by_month = p.by_month.is_some();
    // A list mixing plain and numbered weekdays is read by `rrule` its
    // own way (`4SA,SA` is the fourth Saturday only): there, only the
    // numbered ones are sure.
    let any_day = |days: &[ByDay], most: i32| {
        days.iter().all(|(n, _)| n.is_none())
            || days.iter().filter_map(|(n, _)| *n).any(|n| n.abs() <= most)
    };
    // A month-day every month has.
    let sure_month_day = |mds: &[i32]| mds.iter().any(|d| (1..=28).contains(&d.abs()));
    match p.freq {
        // BY parts limit sub-daily rules.
        Freq::Secondly | Freq::Minutely | Freq::Hourly => {
            (!by_month && !p.by_time && days.is_none() && month_days.is_none()).then_some(1)
        }
        Freq::Daily => {
            if by_month || month_days.is_some() {
                return None;
            }
            match days {
                None => Some(1),
                // Days `interval` apart run through every weekday within
                // seven periods when seven does not divide the interval.
                Some(days)
                    if days.iter().all(|(n, _)| n.is_none()) && !p.interval.is_multiple_of(7) =>
                {
                    Some(7)
                }
                Some(_) => None,
            }
        }
        Freq::Weekly => {
            let plain = days.is_none_or(|d| d.iter().all(|(n, _)| n.is_none()));
            (!by_month && month_days.is_none() && plain).then_some(1)
        }
        Freq::Monthly => {
            if by_month {
                return None;
            }
            let sure = match (days, month_days) {
                (Some(_), Some(_)) => false,
                // Every month has four of each weekday.
                (Some(days), None) => any_day(days, 4),
                (None, Some(mds)) => sure_month_day(mds),
                (None, None) => start.day() <= 28,
            };
            sure.then_some(1)
        }
        Freq::Yearly => {
            let sure = match (days, month_days) {
                (Some(_), Some(_)) => false,
                // Within a month four, within a year 52 of each weekday.
                (Some(days), None) => any_day(days, if by_month { 4 } else { 52 }),
                (None, Some(mds)) => sure_month_day(mds),
                (None, None) if by_month => start.day() <= 28,
                (None, None) => !(start.month() == 2 && start.day() == 29),
            };
            sure.then_some(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::rule::Rule;
    use super::super::value::parse_written;
    use chrono::NaiveDateTime;

    fn at(s: &str) -> NaiveDateTime {
        parse_written(s).unwrap().local()
    }

    fn bound(rule: &str, start: &str) -> Option<NaiveDateTime> {
        Rule::parse(rule, at(start)).unwrap().count_bound()
    }

    #[test]
    fn plain_shapes_are_bounded_and_the_others_are_not() {
        let start = "20260302T090000";
        for rule in [
            "FREQ=DAILY;COUNT=5",
            "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10",
            "FREQ=MONTHLY;BYMONTHDAY=15;COUNT=10",
            "FREQ=MONTHLY;BYDAY=-1FR;COUNT=3",
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=3",
            "FREQ=YEARLY;COUNT=3",
            "FREQ=YEARLY;BYMONTH=3;BYDAY=2SU;COUNT=3",
            "FREQ=DAILY;BYDAY=MO,FR;COUNT=9",
            "FREQ=HOURLY;INTERVAL=3;COUNT=9",
        ] {
            assert!(bound(rule, start).is_some(), "{rule}");
        }
        for rule in [
            "FREQ=DAILY",
            "FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3",
            "FREQ=MONTHLY;BYDAY=5FR;COUNT=3",
            "FREQ=MONTHLY;BYMONTH=2;COUNT=3",
            "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13;COUNT=3",
            "FREQ=YEARLY;BYWEEKNO=20;COUNT=3",
            "FREQ=YEARLY;BYYEARDAY=100;COUNT=3",
            "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=2;COUNT=3",
            "FREQ=DAILY;INTERVAL=7;BYDAY=TU;COUNT=3",
            "FREQ=HOURLY;BYHOUR=9;COUNT=3",
        ] {
            assert_eq!(bound(rule, start), None, "{rule}");
        }
        // A leap day every year, a 30th every month: not every period.
        assert_eq!(bound("FREQ=YEARLY;COUNT=3", "20240229T090000"), None);
        assert_eq!(bound("FREQ=MONTHLY;COUNT=3", "20260130T090000"), None);
        assert_eq!(
            bound("FREQ=WEEKLY;COUNT=2", "20260302T090000"),
            Some(at("20260323T090000"))
        );
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

    #[test]
    fn no_instance_starts_after_the_count_bound() {
        let mut rng = Lcg(4791);
        let freqs = ["HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"];
        let extras = [
            "",
            ";BYDAY=MO,WE",
            ";BYDAY=SU",
            ";BYDAY=-1FR",
            ";BYDAY=4TH",
            ";BYDAY=1MO,-2SA",
            ";BYDAY=20MO",
            ";BYDAY=5FR",
            ";BYDAY=-5MO,3TU",
            ";BYDAY=53SU",
            ";BYDAY=SU,5FR",
            ";BYDAY=5FR,TU",
            ";BYMONTHDAY=15",
            ";BYMONTHDAY=-1",
            ";BYMONTHDAY=1,31",
            ";BYMONTHDAY=28",
            ";BYMONTH=2",
            ";BYMONTH=2;BYMONTHDAY=28",
            ";BYMONTH=1,7;BYDAY=-1MO",
            ";BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
            ";BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1,3",
            ";BYHOUR=8,20",
            ";BYHOUR=7;BYMINUTE=0,30",
            ";WKST=SU",
        ];
        let mut bounded = 0;
        for case in 0..3000 {
            let freq = rng.pick(&freqs);
            let count = 1 + rng.next(if freq == "HOURLY" { 300 } else { 60 });
            let rule = format!(
                "FREQ={freq};INTERVAL={}{};COUNT={count}",
                1 + rng.next(15),
                rng.pick(&extras)
            );
            let start = format!(
                "{}{:02}{:02}T{:02}{:02}00",
                2020 + rng.next(8),
                1 + rng.next(12),
                [1, 15, 28, 29, 30, 31][rng.next(6) as usize],
                rng.next(24),
                30 * rng.next(2)
            );
            // Day 29-31 may not exist in that month: such starts are skipped.
            let Some(start) = parse_written(&start).map(|w| w.local()) else {
                continue;
            };
            let Ok(parsed) = Rule::parse(&rule, start) else {
                continue;
            };
            let Some(bound) = parsed.count_bound() else {
                continue;
            };
            bounded += 1;
            let last = parsed.instances().last();
            assert!(
                last.is_none_or(|last| last <= bound),
                "case {case}: {rule} from {start}: {last:?} after {bound}"
            );
        }
        assert!(bounded > 1000, "only {bounded} rules had a bound");
    }
}
