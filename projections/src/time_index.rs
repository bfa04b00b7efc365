//! The time index of `calendars@2`: where each calendar object can match
//! a `calendar-query` time range, so that a one-month query on a big
//! calendar reads and parses only the objects that may be in that month.
//!
//! The index is a cover, not an answer: an object it rules out cannot
//! match, and an object it admits is still tested by the full filter.
//! Per object it keeps the top-level component kinds and a few closed
//! spans in Unix seconds ([`formats::ical::time::extent`], widened for
//! floating times and merged), so it never depends on the calendar's
//! time zone or on the clock. Keys, in the calendars tree:
//!
//! - `tix\0owner\0collection\0href` → [`TimeIndexEntry`] bytes
//! - `tmo\0owner\0collection\0` month (u32 BE) href → nothing: objects
//!   whose spans touch at most [`MAX_MONTHS`] months, once per month
//! - `tlg\0owner\0collection\0href` → nothing: the others (open-ended
//!   series, long spans), checked on every query

use crate::collections::ObjectIndex;
use crate::store::StoreError;
use crate::view::{keys::key, keys::under, ReadTree, ViewTxn};
use chrono::{DateTime, Datelike, Utc};
use formats::ical::time::{extent, TimeRange, Zones};
use formats::ical::tree::{Component, TreeScope};
use formats::ical::validate_calendar_tree;
use std::collections::BTreeSet;

const TIX: &[u8] = b"tix\0";
const TMO: &[u8] = b"tmo\0";
const TLG: &[u8] = b"tlg\0";

/// Spans kept per object once the closest ones are merged.
const MAX_SPANS: usize = 32;
/// Instances of each RRULE kept as spans of their own; later ones are one
/// span up to the rule's UNTIL or COUNT, or open to the end of time. More
/// than the entry keeps apart would only be merged again, and every one
/// is `rrule` work on each put and rebuild.
const RULE_INSTANCES: usize = MAX_SPANS;
/// Objects touching more months than this are listed apart.
pub const MAX_MONTHS: usize = 24;
/// Floating times and dates are read in UTC here and may be in any zone
/// when queried: more than the largest UTC offset on either side.
const SLACK_SECONDS: i64 = 26 * 3600;

/// The top-level component kinds, as bits.
const KINDS: [(&str, u8); 3] = [("VEVENT", 1), ("VTODO", 2), ("VJOURNAL", 4)];
const OTHER_KIND: u8 = 8;
const EVERY_KIND: u8 = 15;

/// What the index keeps of one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeIndexEntry {
    kinds: u8,
    /// Closed, ascending, disjoint spans in Unix seconds; `i64::MIN` and
    /// `i64::MAX` stand for the open ends of time.
    spans: Vec<(i64, i64)>,
}

impl TimeIndexEntry {
    /// The entry of a stored calendar object. Deterministic: reads only
    /// the body. An object whose times cannot be read is admitted by
    /// every range (the full filter then decides).
    pub fn of(body: &str) -> TimeIndexEntry {
        match validate_calendar_tree(body, TreeScope::Occurrences) {
            Ok((_, calendar)) => TimeIndexEntry::of_tree(&calendar),
            // Stored objects passed this validation when they were put.
            Err(_) => TimeIndexEntry {
                kinds: EVERY_KIND,
                spans: vec![(i64::MIN, i64::MAX)],
            },
        }
    }

    /// The entry of an object from its tree, whole or of
    /// [`TreeScope::Occurrences`] (the same entry either way).
    pub fn of_tree(calendar: &Component) -> TimeIndexEntry {
        let kinds = kinds_of(calendar);
        let spans = match extent(calendar, &Zones::new(calendar, None), RULE_INSTANCES) {
            Ok(spans) => spans
                .into_iter()
                .map(|(lo, hi)| {
                    (
                        seconds(lo).saturating_sub(SLACK_SECONDS),
                        seconds(hi).saturating_add(SLACK_SECONDS),
                    )
                })
                .collect(),
            Err(_) => vec![(i64::MIN, i64::MAX)],
        };
        TimeIndexEntry {
            kinds,
            spans: coarsen(merge(spans), MAX_SPANS),
        }
    }

    /// Whether the object may hold a `component` matching `range` (any
    /// time when None).
    pub fn admits(&self, component: &str, range: Option<&TimeRange>) -> bool {
        if self.kinds & kind_bit(component) == 0 {
            return false;
        }
        let Some(range) = range else {
            return true;
        };
        let (start, end) = (range.start.map(seconds), range.end.map(seconds));
        self.spans
            .iter()
            .any(|&(lo, hi)| start.is_none_or(|s| s <= hi) && end.is_none_or(|e| e >= lo))
    }

    /// The months its spans touch, ascending, or None when open-ended or
    /// more than [`MAX_MONTHS`].
    fn months(&self) -> Option<Vec<u32>> {
        let mut months = Vec::with_capacity(MAX_MONTHS);
        for &(lo, hi) in &self.spans {
            if lo == i64::MIN || hi == i64::MAX {
                return None;
            }
            let (first, last) = (month_of(lo), month_of(hi));
            if last.saturating_sub(first) as usize >= MAX_MONTHS {
                return None;
            }
            months.extend(first..=last);
        }
        // Spans are few and short (checked above), and mostly in order.
        months.sort_unstable();
        months.dedup();
        (months.len() <= MAX_MONTHS).then_some(months)
    }

    /// `kinds u8 ‖ (lo i64 ‖ hi i64)*`, big-endian.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 16 * self.spans.len());
        out.push(self.kinds);
        for (lo, hi) in &self.spans {
            out.extend_from_slice(&lo.to_be_bytes());
            out.extend_from_slice(&hi.to_be_bytes());
        }
        out
    }

    fn from_bytes(bytes: &[u8]) -> Result<TimeIndexEntry, String> {
        let (&kinds, rest) = bytes.split_first().ok_or("empty time index entry")?;
        if rest.len() % 16 != 0 {
            return Err("time index entry cut short".into());
        }
        let int = |b: &[u8]| i64::from_be_bytes(b.try_into().unwrap_or([0; 8]));
        let spans = rest
            .chunks_exact(16)
            .map(|c| (int(&c[..8]), int(&c[8..])))
            .collect();
        Ok(TimeIndexEntry { kinds, spans })
    }
}

fn kinds_of(calendar: &Component) -> u8 {
    calendar
        .components
        .iter()
        .filter(|c| c.name != "VTIMEZONE")
        .fold(0, |bits, c| bits | kind_bit(&c.name))
}

fn kind_bit(name: &str) -> u8 {
    KINDS
        .iter()
        .find(|(n, _)| name.eq_ignore_ascii_case(n))
        .map_or(OTHER_KIND, |(_, bit)| *bit)
}

fn seconds(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// Months since year -300000, so that every instant chrono can hold maps
/// to a u32 in time order.
fn month_of(t: i64) -> u32 {
    let Some(date) = DateTime::from_timestamp(t, 0) else {
        return if t < 0 { 0 } else { u32::MAX };
    };
    let months = (i64::from(date.year()) + 300_000) * 12 + i64::from(date.month0());
    u32::try_from(months.max(0)).unwrap_or(u32::MAX)
}

/// Sorted, with overlapping or touching spans joined.
fn merge(mut spans: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    spans.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(spans.len());
    for (lo, hi) in spans {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// At most `max` spans: the smallest gaps (the earliest among equal ones)
/// are closed first. Takes sorted, disjoint spans.
fn coarsen(spans: Vec<(i64, i64)>, max: usize) -> Vec<(i64, i64)> {
    if spans.len() <= max {
        return spans;
    }
    let mut gaps: Vec<(i64, usize)> = spans
        .windows(2)
        .enumerate()
        .map(|(i, w)| (w[1].0.saturating_sub(w[0].1), i))
        .collect();
    gaps.sort_unstable();
    let mut close = vec![false; spans.len()];
    for &(_, i) in gaps.iter().take(spans.len() - max) {
        close[i] = true;
    }
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(max);
    let mut joining = false;
    for (i, (lo, hi)) in spans.into_iter().enumerate() {
        match out.last_mut() {
            Some(last) if joining => last.1 = hi,
            _ => out.push((lo, hi)),
        }
        joining = close[i];
    }
    out
}

fn entry_key(owner: &str, col: &str, href: &str) -> Vec<u8> {
    key(TIX, &[owner.as_bytes(), col.as_bytes(), href.as_bytes()])
}
/// The keys listing `href` under each of `months`.
fn month_keys<'h>(
    owner: &str,
    col: &str,
    months: Vec<u32>,
    href: &'h str,
) -> impl Iterator<Item = Vec<u8>> + 'h {
    let prefix = under(TMO, &[owner.as_bytes(), col.as_bytes()]);
    months.into_iter().map(move |month| {
        let mut k = Vec::with_capacity(prefix.len() + 4 + href.len());
        k.extend_from_slice(&prefix);
        k.extend_from_slice(&month.to_be_bytes());
        k.extend_from_slice(href.as_bytes());
        k
    })
}
fn long_key(owner: &str, col: &str, href: &str) -> Vec<u8> {
    key(TLG, &[owner.as_bytes(), col.as_bytes(), href.as_bytes()])
}

/// The write side, plugged into the collections logic by `calendars@2`.
pub(crate) struct TimeIndex;

impl ObjectIndex for TimeIndex {
    fn prefixes(&self) -> &'static [&'static [u8]] {
        &[TIX, TMO, TLG]
    }

    fn insert(
        &self,
        view: &mut ViewTxn<'_>,
        (owner, col, href): (&str, &str, &str),
        body: &str,
        tree: Option<&Component>,
    ) {
        let entry = match tree {
            Some(calendar) => TimeIndexEntry::of_tree(calendar),
            None => TimeIndexEntry::of(body),
        };
        match entry.months() {
            Some(months) => {
                for key in month_keys(owner, col, months, href) {
                    view.put(key, Vec::new());
                }
            }
            None => view.put(long_key(owner, col, href), Vec::new()),
        }
        view.put(entry_key(owner, col, href), entry.to_bytes());
    }

    fn remove(
        &self,
        view: &mut ViewTxn<'_>,
        (owner, col, href): (&str, &str, &str),
    ) -> Result<(), StoreError> {
        let key = entry_key(owner, col, href);
        let Some(entry) = view.get_with(&key, TimeIndexEntry::from_bytes)? else {
            return Ok(());
        };
        match entry.months() {
            Some(months) => {
                for key in month_keys(owner, col, months, href) {
                    view.delete(key);
                }
            }
            None => view.delete(long_key(owner, col, href)),
        }
        view.delete(key);
        Ok(())
    }
}

/// The read side.
#[derive(Clone)]
pub(crate) struct TimeIndexView {
    pub(crate) tree: ReadTree,
}

impl TimeIndexView {
    /// The hrefs of a calendar that may hold a `component` matching
    /// `range`, in href order.
    pub(crate) fn candidates(
        &self,
        owner: &str,
        col: &str,
        component: &str,
        range: Option<&TimeRange>,
    ) -> Result<Vec<String>, StoreError> {
        let entry = |href: &str| {
            self.tree
                .get_with(&entry_key(owner, col, href), TimeIndexEntry::from_bytes)
        };
        let bounded =
            range.and_then(|r| Some((month_of(seconds(r.start?)), month_of(seconds(r.end?)))));
        let Some((first, last)) = bounded else {
            // No bounded range: every entry is read anyway.
            let entries = self.tree.list_with(
                &under(TIX, &[owner.as_bytes(), col.as_bytes()]),
                TimeIndexEntry::from_bytes,
            )?;
            return Ok(entries
                .into_iter()
                .filter(|(_, e)| e.admits(component, range))
                .map(|(href, _)| href)
                .collect());
        };
        let months = under(TMO, &[owner.as_bytes(), col.as_bytes()]);
        let mut hrefs = BTreeSet::new();
        let mut from = months.clone();
        from.extend_from_slice(&first.to_be_bytes());
        let mut to = months.clone();
        to.extend_from_slice(&last.saturating_add(1).to_be_bytes());
        for k in self.tree.keys_between(&from, &to)? {
            if let Some(href) = k.get(months.len() + 4..) {
                hrefs.insert(String::from_utf8_lossy(href).into_owned());
            }
        }
        hrefs.extend(
            self.tree
                .names(&under(TLG, &[owner.as_bytes(), col.as_bytes()]))?,
        );
        let mut out = Vec::with_capacity(hrefs.len());
        for href in hrefs {
            if entry(&href)?.is_some_and(|e| e.admits(component, range)) {
                out.push(href);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal(body: &str) -> String {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{}\r\nEND:VCALENDAR\r\n",
            body.trim().replace('\n', "\r\n")
        )
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn range(a: &str, b: &str) -> TimeRange {
        TimeRange {
            start: Some(at(a)),
            end: Some(at(b)),
        }
    }

    #[test]
    fn merge_joins_and_coarsen_closes_the_smallest_gaps() {
        assert_eq!(
            merge(vec![(5, 9), (1, 3), (4, 4), (20, 30)]),
            vec![(1, 9), (20, 30)]
        );
        let spans = vec![(0, 1), (10, 11), (12, 13), (100, 101), (103, 104)];
        assert_eq!(coarsen(spans.clone(), 5), spans);
        assert_eq!(
            coarsen(spans.clone(), 3),
            vec![(0, 1), (10, 13), (100, 104)]
        );
        assert_eq!(coarsen(spans, 1), vec![(0, 104)]);
    }

    #[test]
    fn entries_round_trip_and_admit_by_kind_and_time() {
        let event = TimeIndexEntry::of(&cal(
            "BEGIN:VEVENT\nUID:a\nDTSTART:20260310T100000Z\nDTEND:20260310T110000Z\nEND:VEVENT",
        ));
        assert_eq!(
            TimeIndexEntry::from_bytes(&event.to_bytes()),
            Ok(event.clone())
        );
        assert!(event.admits(
            "VEVENT",
            Some(&range("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"))
        ));
        assert!(event.admits("VEVENT", None));
        assert!(!event.admits("VTODO", None));
        assert!(!event.admits(
            "VEVENT",
            Some(&range("2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z"))
        ));
        assert_eq!(event.months().map(|m| m.len()), Some(1));
        // An open-ended series is listed apart and admitted long after.
        let weekly = TimeIndexEntry::of(&cal(
            "BEGIN:VEVENT\nUID:w\nDTSTART:20200106T090000Z\nRRULE:FREQ=WEEKLY\nEND:VEVENT",
        ));
        assert_eq!(weekly.months(), None);
        assert!(weekly.admits(
            "VEVENT",
            Some(&range("2031-03-01T00:00:00Z", "2031-03-02T00:00:00Z"))
        ));
        assert!(!weekly.admits(
            "VEVENT",
            Some(&range("2019-03-01T00:00:00Z", "2019-04-01T00:00:00Z"))
        ));
        // Unreadable times: admitted everywhere, the filter decides.
        let broken =
            TimeIndexEntry::of(&cal("BEGIN:VEVENT\nUID:b\nDTSTART:2026-03-10\nEND:VEVENT"));
        assert!(broken.admits(
            "VEVENT",
            Some(&range("1990-03-01T00:00:00Z", "1990-03-02T00:00:00Z"))
        ));
        assert!(TimeIndexEntry::from_bytes(&[1, 2, 3]).is_err());
    }
}
