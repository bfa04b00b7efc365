//! The text forms of RFC 5545 §3.3: DATE, DATE-TIME, DURATION, PERIOD and
//! UTC-OFFSET. Nothing here panics: every number is checked.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};

/// A DATE or DATE-TIME as written, before any zone is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Written {
    Date(NaiveDate),
    /// `utc` when the value ends with `Z`.
    DateTime {
        local: NaiveDateTime,
        utc: bool,
    },
}

impl Written {
    /// The wall-clock time (midnight for a DATE).
    pub(super) fn local(self) -> NaiveDateTime {
        match self {
            Written::Date(date) => date.and_time(NaiveTime::MIN),
            Written::DateTime { local, .. } => local,
        }
    }
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn date(s: &str) -> Option<NaiveDate> {
    if s.len() != 8 {
        return None;
    }
    let year = digits(s.get(0..4)?)?;
    let month = digits(s.get(4..6)?)?;
    let day = digits(s.get(6..8)?)?;
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

/// `YYYYMMDD` or `YYYYMMDDTHHMMSS[Z]` (a leap second reads as :59).
pub(super) fn parse_written(value: &str) -> Option<Written> {
    let s = value.trim();
    if s.len() == 8 {
        return date(s).map(Written::Date);
    }
    let (day, rest) = s.split_at_checked(8)?;
    let day = date(day)?;
    let rest = rest.strip_prefix('T').or_else(|| rest.strip_prefix('t'))?;
    let (time, utc) = match rest.strip_suffix('Z').or_else(|| rest.strip_suffix('z')) {
        Some(time) => (time, true),
        None => (rest, false),
    };
    if time.len() != 6 {
        return None;
    }
    let hour = digits(time.get(0..2)?)?;
    let minute = digits(time.get(2..4)?)?;
    let second = digits(time.get(4..6)?)?.min(59);
    let time = NaiveTime::from_hms_opt(hour, minute, second)?;
    Some(Written::DateTime {
        local: day.and_time(time),
        utc,
    })
}

/// An RFC 5545 DURATION: `days` are nominal (calendar days, weeks folded
/// in), `seconds` exact; `negative` applies to both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Dur {
    pub negative: bool,
    pub days: i64,
    pub seconds: i64,
}

/// Bounds keep every later computation far from chrono's limits.
const MAX_DAYS: i64 = 100_000_000;

impl Dur {
    /// The signed number of days.
    pub(super) fn signed_days(self) -> i64 {
        if self.negative {
            -self.days
        } else {
            self.days
        }
    }

    /// The signed exact part.
    pub(super) fn signed_seconds(self) -> i64 {
        if self.negative {
            -self.seconds
        } else {
            self.seconds
        }
    }

    /// Whether it is longer than zero.
    pub(super) fn is_positive(self) -> bool {
        !self.negative && (self.days > 0 || self.seconds > 0)
    }

    /// An exact approximation (a day is 24 hours), for bounds only.
    pub(super) fn approx(self) -> TimeDelta {
        let seconds = self
            .signed_days()
            .saturating_mul(86_400)
            .saturating_add(self.signed_seconds());
        TimeDelta::try_seconds(seconds).unwrap_or(TimeDelta::MAX)
    }
}

/// `[+/-]P(nW | nD[T...] | T nH nM nS)`, leniently: weeks and days may be
/// mixed, as some clients write `P1W2D`.
pub(super) fn parse_duration(value: &str) -> Option<Dur> {
    let s = value.trim();
    let (negative, s) = match s.as_bytes().first()? {
        b'-' => (true, s.get(1..)?),
        b'+' => (false, s.get(1..)?),
        _ => (false, s),
    };
    let s = s.strip_prefix('P').or_else(|| s.strip_prefix('p'))?;
    let mut dur = Dur {
        negative,
        ..Dur::default()
    };
    let mut in_time = false;
    let mut any = false;
    let mut number: Option<i64> = None;
    for c in s.chars() {
        if let Some(d) = c.to_digit(10) {
            let n = number.unwrap_or(0);
            number = Some(n.checked_mul(10)?.checked_add(i64::from(d))?);
            if number > Some(MAX_DAYS.saturating_mul(86_400)) {
                return None;
            }
            continue;
        }
        let c = c.to_ascii_uppercase();
        if c == 'T' {
            if in_time || number.is_some() {
                return None;
            }
            in_time = true;
            any = false;
            continue;
        }
        let n = number.take()?;
        match (in_time, c) {
            (false, 'W') => dur.days = dur.days.checked_add(n.checked_mul(7)?)?,
            (false, 'D') => dur.days = dur.days.checked_add(n)?,
            (true, 'H') => dur.seconds = dur.seconds.checked_add(n.checked_mul(3600)?)?,
            (true, 'M') => dur.seconds = dur.seconds.checked_add(n.checked_mul(60)?)?,
            (true, 'S') => dur.seconds = dur.seconds.checked_add(n)?,
            _ => return None,
        }
        any = true;
    }
    if !any || number.is_some() || dur.days > MAX_DAYS || dur.seconds > MAX_DAYS * 86_400 {
        return None;
    }
    Some(dur)
}

/// `+HHMM[SS]` or `-HHMM[SS]`, as seconds east of UTC.
pub(super) fn parse_utc_offset(value: &str) -> Option<i64> {
    let s = value.trim();
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, s.get(1..)?),
        b'-' => (-1, s.get(1..)?),
        _ => return None,
    };
    if rest.len() != 4 && rest.len() != 6 {
        return None;
    }
    let hours = i64::from(digits(rest.get(0..2)?)?);
    let minutes = i64::from(digits(rest.get(2..4)?)?);
    let seconds = match rest.get(4..6) {
        Some(s) if !s.is_empty() => i64::from(digits(s)?),
        _ => 0,
    };
    if hours > 23 || minutes > 59 || seconds > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60 + seconds))
}

/// The end of a PERIOD: an explicit end or a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PeriodEnd {
    At(Written),
    After(Dur),
}

/// `start/end` or `start/duration`.
pub(super) fn parse_period(value: &str) -> Option<(Written, PeriodEnd)> {
    let (start, end) = value.trim().split_once('/')?;
    let start = parse_written(start)?;
    let end = match parse_written(end) {
        Some(end) => PeriodEnd::At(end),
        None => PeriodEnd::After(parse_duration(end)?),
    };
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dates_and_times() {
        assert_eq!(
            parse_written("20260302"),
            Some(Written::Date(NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()))
        );
        let Some(Written::DateTime { local, utc }) = parse_written("20260302T090000Z") else {
            panic!("not a date-time");
        };
        assert!(utc);
        assert_eq!(local.to_string(), "2026-03-02 09:00:00");
        assert!(matches!(
            parse_written("20261231T235960"),
            Some(Written::DateTime { utc: false, .. })
        ));
        for bad in [
            "",
            "2026030",
            "20260230",
            "20260302T",
            "20260302T0900",
            "20260302T250000",
            "2026-03-02",
            "20260302X090000",
            "２０２６０３０２",
            "20260302T09000é",
        ] {
            assert_eq!(parse_written(bad), None, "{bad}");
        }
    }

    #[test]
    fn reads_durations() {
        let d = parse_duration("-PT15M").unwrap();
        assert_eq!((d.negative, d.days, d.seconds), (true, 0, 900));
        let d = parse_duration("P1W").unwrap();
        assert_eq!((d.days, d.seconds), (7, 0));
        let d = parse_duration("+P1DT2H3M4S").unwrap();
        assert_eq!((d.days, d.seconds), (1, 7384));
        assert!(parse_duration("PT0S").is_some_and(|d| !d.is_positive()));
        for bad in [
            "",
            "P",
            "PT",
            "P1",
            "PT1D",
            "P1H",
            "1D",
            "P1DT",
            "P99999999999999999999D",
            "-",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn reads_offsets_and_periods() {
        assert_eq!(parse_utc_offset("+0200"), Some(7200));
        assert_eq!(parse_utc_offset("-0530"), Some(-19800));
        assert_eq!(parse_utc_offset("+013045"), Some(5445));
        assert_eq!(parse_utc_offset("0200"), None);
        assert_eq!(parse_utc_offset("+2500"), None);
        let (_, end) = parse_period("20260302T090000Z/PT1H").unwrap();
        assert!(matches!(end, PeriodEnd::After(_)));
        let (_, end) = parse_period("20260302T090000Z/20260302T100000Z").unwrap();
        assert!(matches!(end, PeriodEnd::At(_)));
        assert_eq!(parse_period("20260302T090000Z"), None);
    }
}
