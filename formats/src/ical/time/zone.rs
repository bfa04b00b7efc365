//! Time zones: IANA (chrono-tz), Windows names mapped to IANA, and the
//! VTIMEZONE components an object carries (RFC 5545 §3.6.5).
//!
//! Wall-clock times that do not exist or exist twice follow RFC 5545
//! §3.3.5: a time in a gap (spring forward) is read with the offset in
//! force before the gap, so 02:30 on a day Paris jumps from 02:00 to 03:00
//! is 01:30Z (03:30 CEST); a time in an overlap (fall back) is its first,
//! earlier, occurrence.

use super::rule::Rule;
use super::value::{parse_utc_offset, parse_written, Written};
use super::windows_zones::windows_to_iana;
use crate::ical::tree::Component;
use chrono::{DateTime, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// A resolved zone.
#[derive(Debug, Clone, Copy)]
pub(super) enum Zone<'z> {
    Iana(Tz),
    Custom(&'z CustomZone),
}

impl Zone<'_> {
    pub(super) const UTC: Zone<'static> = Zone::Iana(Tz::UTC);

    /// Seconds east of UTC at the instant `utc`.
    fn offset_at(&self, utc: NaiveDateTime) -> i64 {
        match self {
            Zone::Iana(Tz::UTC) => 0,
            Zone::Iana(tz) => i64::from(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc()),
            Zone::Custom(zone) => zone.offset_at(utc),
        }
    }

    /// The instant of a wall-clock time (see the module for gaps and
    /// overlaps); None only beyond chrono's range.
    pub(super) fn to_utc(self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        if let Zone::Iana(Tz::UTC) = self {
            return Some(local.and_utc());
        }
        let day = TimeDelta::days(1);
        // Offsets stay within a day of UTC, so the offsets in force a day
        // before and after (read as UTC) bracket every candidate.
        let probes = [
            local.checked_sub_signed(day),
            Some(local),
            local.checked_add_signed(day),
        ];
        let mut before = None;
        let mut best: Option<NaiveDateTime> = None;
        // Mostly all three probes find one offset: its candidate is
        // checked once (offset lookups are most of the work, and every
        // instance of every rule comes through here).
        let mut tried = [None; 3];
        for (i, probe) in probes.into_iter().flatten().enumerate() {
            let offset = self.offset_at(probe);
            before.get_or_insert(offset);
            if tried.contains(&Some(offset)) {
                continue;
            }
            if let Some(slot) = tried.get_mut(i) {
                *slot = Some(offset);
            }
            let Some(utc) = local.checked_sub_signed(TimeDelta::try_seconds(offset)?) else {
                continue;
            };
            if self.offset_at(utc) == offset && best.is_none_or(|b| utc < b) {
                best = Some(utc);
            }
        }
        let utc = match best {
            Some(utc) => utc,
            // In a gap: the offset before it.
            None => local.checked_sub_signed(TimeDelta::try_seconds(before?)?)?,
        };
        Some(utc.and_utc())
    }

    /// The wall-clock time of an instant.
    pub(super) fn to_local(self, instant: DateTime<Utc>) -> Option<NaiveDateTime> {
        let utc = instant.naive_utc();
        utc.checked_add_signed(TimeDelta::try_seconds(self.offset_at(utc))?)
    }
}

/// A VTIMEZONE as the UTC instants its offset changes at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CustomZone {
    /// The offset before the first transition.
    initial: i64,
    /// `(instant, offset from then on)`, ascending.
    transitions: Vec<(NaiveDateTime, i64)>,
}

/// Observance onsets are computed up to this year; the last offset holds
/// after it.
const HORIZON_YEAR: i32 = 2200;
/// At most this many onsets per observance (a hostile rule is cut short).
const MAX_ONSETS: usize = 2_000;
/// Zones remembered by [`CustomZone::build`] (all are forgotten when it is
/// full).
const REMEMBERED_ZONES: usize = 256;

/// Built zones by the text of their observances. Expanding a VTIMEZONE's
/// rules to [`HORIZON_YEAR`] costs hundreds of `rrule` iterations
/// (milliseconds in a debug build), and a calendar-query reads the zones
/// of every object afresh, while a calendar's objects mostly carry the
/// same few VTIMEZONEs.
fn remembered() -> &'static Mutex<HashMap<String, Option<CustomZone>>> {
    static ZONES: OnceLock<Mutex<HashMap<String, Option<CustomZone>>>> = OnceLock::new();
    ZONES.get_or_init(Mutex::default)
}

impl CustomZone {
    fn offset_at(&self, utc: NaiveDateTime) -> i64 {
        let after = self.transitions.partition_point(|(at, _)| *at <= utc);
        match after.checked_sub(1).and_then(|i| self.transitions.get(i)) {
            Some((_, offset)) => *offset,
            None => self.initial,
        }
    }

    /// Builds the zone from the STANDARD and DAYLIGHT observances of a
    /// VTIMEZONE: each onset (DTSTART, RRULE, RDATE) is a wall-clock time
    /// in TZOFFSETFROM after which TZOFFSETTO is in force. Observances
    /// that cannot be read are skipped; None when none can. The same
    /// observances give a remembered zone.
    pub(super) fn build(vtimezone: &Component) -> Option<CustomZone> {
        let mut key = String::new();
        for observance in &vtimezone.components {
            key.push_str(&observance.name);
            key.push('\n');
            for property in &observance.properties {
                key.push_str(&property.raw);
                key.push('\n');
            }
        }
        let lock = || remembered().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(zone) = lock().get(&key) {
            return zone.clone();
        }
        let zone = CustomZone::expand(vtimezone);
        let mut zones = lock();
        if zones.len() >= REMEMBERED_ZONES {
            zones.clear();
        }
        zones.insert(key, zone.clone());
        zone
    }

    fn expand(vtimezone: &Component) -> Option<CustomZone> {
        let mut transitions: Vec<(NaiveDateTime, i64, i64)> = Vec::new();
        for observance in &vtimezone.components {
            if observance.name != "STANDARD" && observance.name != "DAYLIGHT" {
                continue;
            }
            let Some(from) = observance
                .property("TZOFFSETFROM")
                .and_then(|p| parse_utc_offset(&p.value))
            else {
                continue;
            };
            let Some(to) = observance
                .property("TZOFFSETTO")
                .and_then(|p| parse_utc_offset(&p.value))
            else {
                continue;
            };
            let Some(start) = observance
                .property("DTSTART")
                .and_then(|p| parse_written(&p.value))
                .map(Written::local)
            else {
                continue;
            };
            let Some(from_delta) = TimeDelta::try_seconds(from) else {
                continue;
            };
            let to_utc = |local: NaiveDateTime| local.checked_sub_signed(from_delta);
            let mut onsets = vec![start];
            for rrule in observance.properties_named("RRULE") {
                let Ok(rule) = Rule::parse(&rrule.value, start) else {
                    continue;
                };
                for local in rule.instances().take(MAX_ONSETS) {
                    if chrono::Datelike::year(&local) > HORIZON_YEAR {
                        break;
                    }
                    if let Some(until) = rule.until {
                        if !until.admits(local, to_utc(local)) {
                            break;
                        }
                    }
                    onsets.push(local);
                }
            }
            for rdate in observance.properties_named("RDATE") {
                for item in rdate.value.split(',').take(MAX_ONSETS) {
                    let item = item.split('/').next().unwrap_or(item);
                    if let Some(written) = parse_written(item) {
                        onsets.push(written.local());
                    }
                }
            }
            for onset in onsets {
                if let Some(at) = to_utc(onset) {
                    transitions.push((at, from, to));
                }
            }
        }
        transitions.sort_by_key(|(at, _, _)| *at);
        let initial = transitions.first()?.1;
        Some(CustomZone {
            initial,
            transitions: transitions
                .into_iter()
                .map(|(at, _, to)| (at, to))
                .collect(),
        })
    }
}

/// Prefixes some producers put before an IANA name.
const PREFIXES: &[&str] = &[
    "/mozilla.org/",
    "/softwarestudio.org/",
    "/freeassociation.sourceforge.net/",
    "/citadel.org/",
    "tzone://Microsoft/",
];

/// An IANA zone named by `name`, directly, after stripping a producer's
/// prefix (`/mozilla.org/20050126_1/Europe/Paris`), or through the CLDR
/// Windows mapping.
pub(super) fn known_zone(name: &str) -> Option<Tz> {
    let name = name.trim().trim_matches('"').trim();
    if name.is_empty() {
        return None;
    }
    if let Some(tz) = by_name(name) {
        return Some(tz);
    }
    let lower = name.to_ascii_lowercase();
    for prefix in PREFIXES {
        if lower.starts_with(&prefix.to_ascii_lowercase()) {
            let rest = name.get(prefix.len()..).unwrap_or_default();
            if let Some(tz) = by_name(rest) {
                return Some(tz);
            }
        }
    }
    // `/vendor/version/Area/City`: try every tail, longest first.
    if name.starts_with('/') {
        for (i, c) in name.char_indices() {
            if c == '/' {
                if let Some(tz) = name.get(i + 1..).and_then(by_name) {
                    return Some(tz);
                }
            }
        }
    }
    None
}

fn by_name(name: &str) -> Option<Tz> {
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    if let Ok(tz) = name.parse::<Tz>() {
        return Some(tz);
    }
    if name.eq_ignore_ascii_case("UTC") || name.eq_ignore_ascii_case("GMT") {
        return Some(Tz::UTC);
    }
    windows_to_iana(name).and_then(|iana| iana.parse::<Tz>().ok())
}

#[cfg(test)]
mod tests {
    use super::super::windows_zones::WINDOWS_ZONES;
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        parse_written(s).unwrap().local()
    }

    #[test]
    fn every_windows_name_maps_to_a_known_zone() {
        for (windows, iana) in WINDOWS_ZONES {
            assert!(iana.parse::<Tz>().is_ok(), "{windows} -> {iana}");
            assert!(known_zone(windows).is_some(), "{windows}");
        }
        assert_eq!(
            known_zone("w. europe standard time"),
            Some(Tz::Europe__Berlin)
        );
    }

    #[test]
    fn strips_producer_prefixes() {
        for name in [
            "Europe/Paris",
            " Europe/Paris ",
            "/mozilla.org/20050126_1/Europe/Paris",
            "/softwarestudio.org/Tzfile/Europe/Paris",
            "/softwarestudio.org/Olson_20011030_5/Europe/Paris",
            "/freeassociation.sourceforge.net/Europe/Paris",
            "/freeassociation.sourceforge.net/Tzfile/Europe/Paris",
            "tzone://Microsoft/Romance Standard Time",
        ] {
            assert_eq!(known_zone(name), Some(Tz::Europe__Paris), "{name}");
        }
        assert_eq!(known_zone("tzone://Microsoft/Utc"), Some(Tz::UTC));
        assert_eq!(known_zone("My Zone"), None);
        assert_eq!(known_zone(""), None);
        assert_eq!(known_zone("/"), None);
    }

    #[test]
    fn gaps_take_the_offset_before_and_overlaps_the_first() {
        let paris = Zone::Iana(Tz::Europe__Paris);
        // 2026-03-29 02:30 does not exist in Paris: read at +01:00.
        assert_eq!(
            paris.to_utc(at("20260329T023000")).unwrap().naive_utc(),
            at("20260329T013000")
        );
        // 2026-10-25 02:30 happens twice: the first, at +02:00.
        assert_eq!(
            paris.to_utc(at("20261025T023000")).unwrap().naive_utc(),
            at("20261025T003000")
        );
        assert_eq!(
            paris.to_utc(at("20260701T120000")).unwrap().naive_utc(),
            at("20260701T100000")
        );
        let instant = paris.to_utc(at("20260701T120000")).unwrap();
        assert_eq!(paris.to_local(instant), Some(at("20260701T120000")));
    }

    /// `to_utc` as it was written before probes sharing an offset were
    /// checked once.
    fn to_utc_every_probe(zone: Zone<'_>, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        if let Zone::Iana(Tz::UTC) = zone {
            return Some(local.and_utc());
        }
        let day = TimeDelta::days(1);
        let probes = [
            local.checked_sub_signed(day),
            Some(local),
            local.checked_add_signed(day),
        ];
        let mut before = None;
        let mut best: Option<NaiveDateTime> = None;
        for probe in probes.into_iter().flatten() {
            let offset = zone.offset_at(probe);
            before.get_or_insert(offset);
            let Some(utc) = local.checked_sub_signed(TimeDelta::try_seconds(offset)?) else {
                continue;
            };
            if zone.offset_at(utc) == offset && best.is_none_or(|b| utc < b) {
                best = Some(utc);
            }
        }
        let utc = match best {
            Some(utc) => utc,
            None => local.checked_sub_signed(TimeDelta::try_seconds(before?)?)?,
        };
        Some(utc.and_utc())
    }

    #[test]
    fn checking_each_offset_once_reads_every_time_alike() {
        let zones = [
            Tz::Europe__Paris,
            Tz::America__New_York,
            Tz::Australia__Lord_Howe,
            Tz::Pacific__Apia,
            Tz::Asia__Kolkata,
            Tz::America__Sao_Paulo,
        ];
        // Every quarter hour around the transitions of 1995-2030 and a
        // day either side of them.
        for tz in zones {
            let zone = Zone::Iana(tz);
            let mut local = at("19950101T000000");
            while local < at("20300101T000000") {
                let next = local + TimeDelta::hours(7);
                let shifts = zone.offset_at(local) != zone.offset_at(next);
                let step = if shifts { 15 } else { 7 * 60 };
                for m in (0..7 * 60).step_by(step) {
                    let t = local + TimeDelta::minutes(m);
                    assert_eq!(zone.to_utc(t), to_utc_every_probe(zone, t), "{tz} {t}");
                }
                local = next;
            }
        }
    }

    #[test]
    fn a_vtimezone_with_rules_and_a_gap() {
        let text = "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:My Zone\r\n\
BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n\
TZOFFSETFROM:+0300\r\nTZOFFSETTO:+0200\r\nEND:STANDARD\r\n\
BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n\
TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0300\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n";
        let cal = crate::ical::tree::parse_tree(text).unwrap();
        let custom = CustomZone::build(&cal.components[0]).unwrap();
        let zone = Zone::Custom(&custom);
        let utc = |s| zone.to_utc(at(s)).unwrap().naive_utc();
        assert_eq!(utc("20260101T120000"), at("20260101T100000"));
        assert_eq!(utc("20260701T120000"), at("20260701T090000"));
        // The gap of 2026-03-29 02:00 -> 03:00: read at +02:00.
        assert_eq!(utc("20260329T023000"), at("20260329T003000"));
        // The overlap of 2026-10-25 02:00-03:00: the first, at +03:00.
        assert_eq!(utc("20261025T023000"), at("20261024T233000"));
        // Before any onset: the first TZOFFSETFROM.
        assert_eq!(utc("19600101T120000"), at("19600101T100000"));
        assert_eq!(
            zone.to_local(zone.to_utc(at("20260701T120000")).unwrap()),
            Some(at("20260701T120000"))
        );
    }

    #[test]
    fn zones_are_remembered_by_their_observances() {
        let vtimezone = |tzid: &str, to: &str| {
            let text = format!(
                "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:{tzid}\r\nBEGIN:STANDARD\r\n\
DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n\
TZOFFSETFROM:+0200\r\nTZOFFSETTO:{to}\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n"
            );
            crate::ical::tree::parse_tree(&text).unwrap().components[0].clone()
        };
        let first = CustomZone::build(&vtimezone("Remembered", "+0100")).unwrap();
        assert_eq!(
            Some(&first),
            CustomZone::expand(&vtimezone("Remembered", "+0100")).as_ref()
        );
        assert_eq!(
            CustomZone::build(&vtimezone("Remembered", "+0100")).as_ref(),
            Some(&first)
        );
        // The same TZID with other rules is another zone.
        let other = CustomZone::build(&vtimezone("Remembered", "+0000")).unwrap();
        assert_eq!(first.offset_at(at("20270101T000000")), 3600);
        assert_eq!(other.offset_at(at("20270101T000000")), 0);
    }

    #[test]
    fn unreadable_vtimezones_give_none() {
        let cal = crate::ical::tree::parse_tree(
            "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:X\r\nBEGIN:STANDARD\r\n\
DTSTART:19701025T030000\r\nTZOFFSETFROM:bad\r\nTZOFFSETTO:+0200\r\nEND:STANDARD\r\n\
END:VTIMEZONE\r\nEND:VCALENDAR\r\n",
        )
        .unwrap();
        assert_eq!(CustomZone::build(&cal.components[0]), None);
    }
}
