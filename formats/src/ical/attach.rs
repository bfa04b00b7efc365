//! Managed attachments (RFC 8607) in a calendar object's text: the
//! `ATTACH;MANAGED-ID=…` properties a server adds, replaces and removes
//! when a client POSTs `?action=attachment-add|update|remove`, on every
//! component or on the instances a `rid` names (creating the override of
//! an instance that has none). Pure: text in, text out.
//!
//! An edited object is written back from its tree: each property keeps
//! its stored line, components and lines end in CRLF.

use super::time::{any_occurrence_in, Limits, TimeError, TimeRange, Zones};
use super::tree::{parse_tree, Component, ContentProperty};
use crate::FormatError;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::BTreeSet;

/// The components an attachment belongs to.
const ITEMS: [&str; 3] = ["VEVENT", "VTODO", "VJOURNAL"];
/// What an override does not take from its master.
const SERIES_ONLY: [&str; 5] = ["RRULE", "RDATE", "EXDATE", "EXRULE", "RECURRENCE-ID"];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AttachError {
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(transparent)]
    Time(#[from] TimeError),
    #[error("the object has no event, to-do or journal to attach to")]
    NothingToAttachTo,
    /// RFC 8607 `CALDAV:valid-managed-id`.
    #[error("no attachment with managed ID {0:?} on this object")]
    UnknownManagedId(String),
    /// RFC 8607 `CALDAV:valid-rid-parameter`.
    #[error("rid {0:?} names no instance of this object")]
    BadRid(String),
}

/// One managed attachment as its ATTACH property says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagedAttach {
    pub managed_id: String,
    pub filename: String,
    pub size: u64,
    pub fmttype: String,
    /// Where a client GETs it.
    pub url: String,
}

impl ManagedAttach {
    fn property(&self) -> ContentProperty {
        let params = vec![
            ("MANAGED-ID".to_string(), self.managed_id.clone()),
            ("FMTTYPE".to_string(), self.fmttype.clone()),
            ("SIZE".to_string(), self.size.to_string()),
            ("FILENAME".to_string(), self.filename.clone()),
        ];
        ContentProperty::written("ATTACH", params, &self.url)
    }
}

/// Which instances a request names: all of them, or those of `rid`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Instances {
    All,
    Only(Vec<Rid>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rid {
    /// `M`: the master component.
    Master,
    /// A recurrence ID: a UTC DATE-TIME (`20260105T090000Z`) or a DATE.
    At(String),
}

impl Instances {
    /// The `rid` query parameter: a comma-separated list; none is all.
    pub fn parse(rid: Option<&str>) -> Instances {
        match rid {
            None => Instances::All,
            Some(list) => Instances::Only(
                list.split(',')
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(|r| {
                        if r.eq_ignore_ascii_case("M") {
                            Rid::Master
                        } else {
                            Rid::At(r.to_string())
                        }
                    })
                    .collect(),
            ),
        }
    }
}

fn is_item(c: &Component) -> bool {
    ITEMS.contains(&c.name.as_str())
}

fn managed_id(p: &ContentProperty) -> Option<&str> {
    (p.name == "ATTACH")
        .then(|| p.param("MANAGED-ID"))
        .flatten()
}

/// Every managed ID the object's attachments carry.
pub fn managed_ids(text: &str) -> Result<BTreeSet<String>, FormatError> {
    let calendar = parse_tree(text)?;
    Ok(calendar
        .components
        .iter()
        .filter(|c| is_item(c))
        .flat_map(|c| c.properties.iter().filter_map(managed_id))
        .map(str::to_string)
        .collect())
}

/// Adds `attach` to the instances named.
pub fn add(
    text: &str,
    instances: &Instances,
    attach: &ManagedAttach,
) -> Result<String, AttachError> {
    edit(text, |calendar, zones| {
        for i in targets(calendar, zones, instances)? {
            calendar.components[i].properties.push(attach.property());
        }
        Ok(())
    })
}

/// Replaces the attachment `old` wherever it is by `attach` (an update
/// gets a new managed ID: its content changed).
pub fn update(text: &str, old: &str, attach: &ManagedAttach) -> Result<String, AttachError> {
    edit(text, |calendar, _| {
        let mut found = false;
        for c in calendar.components.iter_mut().filter(|c| is_item(c)) {
            for p in &mut c.properties {
                if managed_id(p) == Some(old) {
                    *p = attach.property();
                    found = true;
                }
            }
        }
        found
            .then_some(())
            .ok_or_else(|| AttachError::UnknownManagedId(old.to_string()))
    })
}

/// Removes the attachment `id` from the instances named.
pub fn remove(text: &str, id: &str, instances: &Instances) -> Result<String, AttachError> {
    edit(text, |calendar, zones| {
        let mut found = false;
        for i in targets(calendar, zones, instances)? {
            let properties = &mut calendar.components[i].properties;
            let before = properties.len();
            properties.retain(|p| managed_id(p) != Some(id));
            found |= properties.len() < before;
        }
        found
            .then_some(())
            .ok_or_else(|| AttachError::UnknownManagedId(id.to_string()))
    })
}

/// Parses, lets `change` edit the tree (with the zones of the original,
/// which the edit cannot change), writes it back.
fn edit(
    text: &str,
    change: impl FnOnce(&mut Component, &Zones<'_>) -> Result<(), AttachError>,
) -> Result<String, AttachError> {
    let original = parse_tree(text)?;
    let zones = Zones::new(&original, None);
    let mut calendar = original.clone();
    change(&mut calendar, &zones)?;
    Ok(calendar.to_text())
}

/// Indices in `calendar.components` of the instances named, creating the
/// override of a named instance that has none.
fn targets(
    calendar: &mut Component,
    zones: &Zones<'_>,
    instances: &Instances,
) -> Result<Vec<usize>, AttachError> {
    let items: Vec<usize> = (0..calendar.components.len())
        .filter(|&i| is_item(&calendar.components[i]))
        .collect();
    if items.is_empty() {
        return Err(AttachError::NothingToAttachTo);
    }
    let rids = match instances {
        Instances::All => return Ok(items),
        Instances::Only(rids) => rids,
    };
    let master = items
        .iter()
        .copied()
        .find(|&i| calendar.components[i].property("RECURRENCE-ID").is_none());
    let mut chosen = Vec::new();
    for rid in rids {
        let index = match rid {
            Rid::Master => master.ok_or_else(|| AttachError::BadRid("M".into()))?,
            Rid::At(value) => {
                let bad = || AttachError::BadRid(value.clone());
                let (at, _) = zones.instant_of(value).ok_or_else(bad)?;
                let existing = items.iter().copied().find(|&i| {
                    calendar.components[i]
                        .property("RECURRENCE-ID")
                        .and_then(|p| zones.instant(p).ok())
                        .is_some_and(|(instant, _)| instant == at)
                });
                match existing {
                    Some(i) => i,
                    None => {
                        let master = master.ok_or_else(bad)?;
                        if !is_instance(calendar, zones, at)? {
                            return Err(bad());
                        }
                        let instance = override_of(&calendar.components[master], zones, at)?
                            .ok_or_else(bad)?;
                        calendar.components.push(instance);
                        calendar.components.len() - 1
                    }
                }
            }
        };
        if !chosen.contains(&index) {
            chosen.push(index);
        }
    }
    Ok(chosen)
}

/// Whether the series has an instance whose recurrence ID is `at`.
fn is_instance(
    calendar: &Component,
    zones: &Zones<'_>,
    at: DateTime<Utc>,
) -> Result<bool, TimeError> {
    let range = TimeRange {
        start: Some(at),
        end: Some(at + TimeDelta::days(1)),
    };
    any_occurrence_in(calendar, &range, zones, &Limits::default(), &|o| {
        o.recurrence_id == Some(at)
    })
}

/// The override of the instance at `at`: the master without what makes a
/// series, its start (and end or due) moved there, and a RECURRENCE-ID
/// written as its DTSTART is. None when the instance's time does not
/// exist in the master's zone.
fn override_of(
    master: &Component,
    zones: &Zones<'_>,
    at: DateTime<Utc>,
) -> Result<Option<Component>, AttachError> {
    let Some(start) = master.property("DTSTART") else {
        return Ok(None);
    };
    let (start_at, _) = zones.instant(start)?;
    let moved =
        |p: &ContentProperty, to: DateTime<Utc>| -> Result<Option<ContentProperty>, TimeError> {
            Ok(zones
                .written_at(p, to)?
                .map(|value| ContentProperty::written(&p.name, p.params.clone(), &value)))
        };
    let mut instance = master.clone();
    instance
        .properties
        .retain(|p| !SERIES_ONLY.contains(&p.name.as_str()));
    for p in &mut instance.properties {
        let to = match p.name.as_str() {
            "DTSTART" => at,
            "DTEND" | "DUE" => at + (zones.instant(p)?.0 - start_at),
            _ => continue,
        };
        match moved(p, to)? {
            Some(new) => *p = new,
            None => return Ok(None),
        }
    }
    let Some(mut recurrence_id) = moved(start, at)? else {
        return Ok(None);
    };
    recurrence_id =
        ContentProperty::written("RECURRENCE-ID", recurrence_id.params, &recurrence_id.value);
    let after_start = instance
        .properties
        .iter()
        .position(|p| p.name == "DTSTART")
        .map_or(0, |i| i + 1);
    instance.properties.insert(after_start, recurrence_id);
    Ok(Some(instance))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ical::validate_calendar_object;

    const WEEKLY: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n\
BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n\
TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n\
END:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nTZOFFSETFROM:+0100\r\n\
TZOFFSETTO:+0200\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART;TZID=Europe/Paris:20260105T100000\r\nDTEND;TZID=Europe/Paris:20260105T110000\r\n\
RRULE:FREQ=WEEKLY;COUNT=10\r\nSUMMARY:Weekly\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\n\
TRIGGER:-PT5M\r\nDESCRIPTION:soon\r\nEND:VALARM\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20260101T000000Z\r\n\
RECURRENCE-ID;TZID=Europe/Paris:20260112T100000\r\n\
DTSTART;TZID=Europe/Paris:20260112T140000\r\nDTEND;TZID=Europe/Paris:20260112T150000\r\n\
SUMMARY:Moved\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    fn attach(id: &str) -> ManagedAttach {
        ManagedAttach {
            managed_id: id.into(),
            filename: "agenda; final, v2.pdf".into(),
            size: 5 << 20,
            fmttype: "application/pdf".into(),
            url: format!("https://dav.example.com/dav/attachments/alice@example.com/{id}"),
        }
    }

    fn attachments_of(text: &str) -> Vec<(Option<String>, Vec<String>)> {
        let calendar = parse_tree(text).unwrap();
        calendar
            .components
            .iter()
            .filter(|c| is_item(c))
            .map(|c| {
                (
                    c.property("RECURRENCE-ID").map(|p| p.value.clone()),
                    c.properties
                        .iter()
                        .filter_map(managed_id)
                        .map(str::to_string)
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn an_attachment_added_to_all_goes_on_every_component_and_reads_back() {
        let text = add(WEEKLY, &Instances::All, &attach("m1")).unwrap();
        validate_calendar_object(&text).unwrap();
        assert_eq!(
            attachments_of(&text),
            [
                (None, vec!["m1".to_string()]),
                (Some("20260112T100000".into()), vec!["m1".to_string()])
            ]
        );
        let calendar = parse_tree(&text).unwrap();
        let line = calendar.components[1].property("ATTACH").unwrap();
        assert_eq!(line.param("FILENAME"), Some("agenda; final, v2.pdf"));
        assert_eq!(line.param("SIZE"), Some("5242880"));
        assert!(line
            .raw
            .replace("\r\n ", "")
            .contains("FILENAME=\"agenda; final, v2.pdf\""));
        assert!(line.raw.lines().all(|l| l.len() <= 76), "{}", line.raw);
        // Everything else is kept, the alarm after the new line.
        assert!(text.contains("BEGIN:VALARM\r\nACTION:DISPLAY"));
        assert_eq!(managed_ids(&text).unwrap().len(), 1);
    }

    #[test]
    fn a_rid_names_the_master_an_override_or_an_instance_that_gets_one() {
        // 09:00Z is 10:00 in Paris in January: the existing override.
        let only = |rids: &str| Instances::parse(Some(rids));
        let text = add(WEEKLY, &only("20260112T090000Z"), &attach("o")).unwrap();
        assert_eq!(
            attachments_of(&text),
            [
                (None, vec![]),
                (Some("20260112T100000".into()), vec!["o".to_string()])
            ]
        );
        let text = add(WEEKLY, &only("M"), &attach("m")).unwrap();
        assert_eq!(attachments_of(&text)[0], (None, vec!["m".to_string()]));
        // The third instance has no override: one is made, in Paris time.
        let text = add(WEEKLY, &only("20260119T090000Z,M"), &attach("n")).unwrap();
        validate_calendar_object(&text).unwrap();
        let calendar = parse_tree(&text).unwrap();
        let made = &calendar.components[3];
        assert_eq!(
            made.property("RECURRENCE-ID").unwrap().raw,
            "RECURRENCE-ID;TZID=Europe/Paris:20260119T100000"
        );
        assert_eq!(
            made.property("DTEND").unwrap().raw,
            "DTEND;TZID=Europe/Paris:20260119T110000"
        );
        assert!(made.property("RRULE").is_none());
        assert_eq!(made.property("SUMMARY").unwrap().value, "Weekly");
        assert_eq!(
            attachments_of(&text)
                .iter()
                .filter(|(_, ids)| ids == &["n"])
                .count(),
            2
        );
    }

    #[test]
    fn a_rid_that_is_no_instance_is_refused() {
        let only = |rids: &str| Instances::parse(Some(rids));
        for rid in ["20260119T093000Z", "20270101T090000Z", "tomorrow"] {
            assert_eq!(
                add(WEEKLY, &only(rid), &attach("x")),
                Err(AttachError::BadRid(rid.into())),
                "{rid}"
            );
        }
    }

    #[test]
    fn update_replaces_everywhere_and_remove_takes_from_the_instances_named() {
        let text = add(WEEKLY, &Instances::All, &attach("one")).unwrap();
        let text = update(&text, "one", &attach("two")).unwrap();
        assert_eq!(
            managed_ids(&text).unwrap(),
            BTreeSet::from(["two".to_string()])
        );
        assert_eq!(
            update(&text, "one", &attach("three")),
            Err(AttachError::UnknownManagedId("one".into()))
        );
        let text = remove(&text, "two", &Instances::parse(Some("M"))).unwrap();
        assert_eq!(
            attachments_of(&text),
            [
                (None, vec![]),
                (Some("20260112T100000".into()), vec!["two".to_string()])
            ]
        );
        let text = remove(&text, "two", &Instances::All).unwrap();
        assert!(managed_ids(&text).unwrap().is_empty());
        assert_eq!(
            remove(&text, "two", &Instances::All),
            Err(AttachError::UnknownManagedId("two".into()))
        );
    }
}
