//! A recurrence rule's parts, read once for what the rule's shape
//! (`shape.rs`, how late COUNT lets it run) and the generator of plain
//! rules (`plain.rs`) need to know of it. `rrule` has accepted the rule
//! already; this only reads it.

use chrono::Weekday;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Freq {
    Secondly,
    Minutely,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

/// A BYDAY entry: a weekday, numbered (`2TU`, `-1FR`) or not (`MO`).
pub(super) type ByDay = (Option<i32>, Weekday);

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Parts {
    pub(super) freq: Freq,
    /// At least 1.
    pub(super) interval: u32,
    pub(super) wkst: Option<Weekday>,
    pub(super) by_day: Option<Vec<ByDay>>,
    /// Non-zero, within ±31.
    pub(super) by_month_day: Option<Vec<i32>>,
    /// Within 1..=12.
    pub(super) by_month: Option<Vec<u32>>,
    /// BYHOUR, BYMINUTE or BYSECOND is there.
    pub(super) by_time: bool,
    pub(super) by_set_pos: Option<Vec<i32>>,
    /// A part neither reads (BYWEEKNO, BYYEARDAY...), which makes the rule
    /// neither plain nor of a known shape.
    pub(super) other: bool,
}

impl Parts {
    /// The parts of a rule given as `NAME=VALUE` (uppercased, UNTIL taken
    /// out); None when one cannot be read here.
    pub(super) fn of(parts: &[String]) -> Option<Parts> {
        let mut freq = None;
        let mut p = Parts {
            freq: Freq::Yearly,
            interval: 1,
            wkst: None,
            by_day: None,
            by_month_day: None,
            by_month: None,
            by_time: false,
            by_set_pos: None,
            other: false,
        };
        for part in parts {
            let (name, value) = part.split_once('=')?;
            match name {
                "FREQ" => freq = Some(self::freq(value)?),
                "INTERVAL" => p.interval = value.parse().ok().filter(|&i| i > 0)?,
                "COUNT" => {}
                "WKST" => p.wkst = Some(weekday(value)?),
                "BYDAY" => p.by_day = Some(list(value, by_day)?),
                "BYMONTHDAY" => p.by_month_day = Some(list(value, month_day)?),
                "BYMONTH" => p.by_month = Some(list(value, month)?),
                "BYHOUR" | "BYMINUTE" | "BYSECOND" => p.by_time = true,
                "BYSETPOS" => p.by_set_pos = Some(list(value, |v| v.parse().ok())?),
                _ => p.other = true,
            }
        }
        p.freq = freq?;
        Some(p)
    }
}

fn freq(value: &str) -> Option<Freq> {
    Some(match value {
        "SECONDLY" => Freq::Secondly,
        "MINUTELY" => Freq::Minutely,
        "HOURLY" => Freq::Hourly,
        "DAILY" => Freq::Daily,
        "WEEKLY" => Freq::Weekly,
        "MONTHLY" => Freq::Monthly,
        "YEARLY" => Freq::Yearly,
        _ => return None,
    })
}

/// A non-empty comma-separated list.
fn list<T>(value: &str, item: impl Fn(&str) -> Option<T>) -> Option<Vec<T>> {
    let items = value.split(',').map(item).collect::<Option<Vec<T>>>()?;
    (!items.is_empty()).then_some(items)
}

fn weekday(value: &str) -> Option<Weekday> {
    Some(match value {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        _ => return None,
    })
}

/// `[+/-n]DD`.
fn by_day(entry: &str) -> Option<ByDay> {
    let (n, day) = entry.split_at_checked(entry.len().checked_sub(2)?)?;
    let n = match n {
        "" => None,
        n => Some(n.parse::<i32>().ok().filter(|&n| n != 0)?),
    };
    Some((n, weekday(day)?))
}

fn month_day(entry: &str) -> Option<i32> {
    entry
        .parse::<i32>()
        .ok()
        .filter(|&d| d != 0 && (-31..=31).contains(&d))
}

fn month(entry: &str) -> Option<u32> {
    entry.parse::<u32>().ok().filter(|m| (1..=12).contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(rule: &str) -> Option<Parts> {
        Parts::of(&rule.split(';').map(str::to_string).collect::<Vec<_>>())
    }

    #[test]
    fn reads_the_parts() {
        let p = parts("FREQ=MONTHLY;INTERVAL=2;BYDAY=2TU,-1FR,SU;COUNT=3;WKST=SU").unwrap();
        assert_eq!(p.freq, Freq::Monthly);
        assert_eq!(p.interval, 2);
        assert_eq!(p.wkst, Some(Weekday::Sun));
        assert_eq!(
            p.by_day,
            Some(vec![
                (Some(2), Weekday::Tue),
                (Some(-1), Weekday::Fri),
                (None, Weekday::Sun)
            ])
        );
        assert!(!p.other && !p.by_time);
        let p = parts("FREQ=YEARLY;BYMONTH=3,10;BYMONTHDAY=-1;BYHOUR=9;BYWEEKNO=1").unwrap();
        assert_eq!(p.by_month, Some(vec![3, 10]));
        assert_eq!(p.by_month_day, Some(vec![-1]));
        assert!(p.other && p.by_time);
        for unreadable in [
            "INTERVAL=2",
            "FREQ=SOMETIMES",
            "FREQ=DAILY;INTERVAL=0",
            "FREQ=WEEKLY;BYDAY=0MO",
            "FREQ=WEEKLY;BYDAY=XX",
            "FREQ=MONTHLY;BYMONTHDAY=32",
            "FREQ=YEARLY;BYMONTH=13",
            "FREQ=MONTHLY;BYSETPOS=x",
            "FREQ",
        ] {
            assert_eq!(parts(unreadable), None, "{unreadable}");
        }
    }
}
