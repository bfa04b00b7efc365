//! Turning an exported .ics file into calendar object resources.
//!
//! Exports come as one VCALENDAR holding everything (Google, Apple,
//! Thunderbird), as several VCALENDARs glued together (Outlook "save all",
//! `cat *.ics`), or both. CalDAV wants one resource per UID, so components
//! are grouped by UID across the whole file and each group gets the
//! VTIMEZONEs it refers to.

use std::collections::HashMap;

use super::structure::{Comp, Nesting};
use super::{deep, validate_calendar_object, ComponentKind};
use crate::contentline::{push_crlf, Dialect, LogicalLines};
use crate::{strip_bom, FormatError};

/// One object split out of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitObject {
    pub uid: String,
    pub kind: ComponentKind,
    /// A complete VCALENDAR with CRLF line endings.
    pub ical: String,
    /// Where its first component started in the input.
    pub line: usize,
}

/// Splits an iCalendar export into calendar object resources, one per UID.
///
/// Each output is a complete VCALENDAR carrying the VERSION, PRODID and
/// CALSCALE lines of the calendar its first component came from, the
/// VTIMEZONEs its components reference through TZID parameters (and only
/// those; a reference to a zone the file does not define is left as it is,
/// as many exporters rely on well-known zone names), and every component
/// with its UID, wherever in the file they were. Calendar-level METHOD and
/// X-WR-* properties of exports are dropped. Content lines are copied as
/// they were, folds included, with CRLF line endings.
///
/// The whole file is checked, including a parse with the `ical` crate,
/// before anything is returned; the first problem fails the whole call.
pub fn split_calendar_export(text: &str) -> Result<Vec<SplitObject>, FormatError> {
    let text = strip_bom(text);
    let export = scan(text)?;
    let calendar_lines: Vec<usize> = export.calendars.iter().map(|c| c.line).collect();
    deep::check(text, &calendar_lines)?;
    let groups = group_by_uid(&export.components)?;
    groups.iter().map(|g| export.assemble(g)).collect()
}

struct Calendar<'a> {
    line: usize,
    /// VERSION, PRODID and CALSCALE lines, as written.
    header: Vec<&'a str>,
    version_seen: bool,
    timezones: Vec<Timezone<'a>>,
}

impl<'a> Calendar<'a> {
    fn timezone(&self, tzid: &str) -> Option<&Timezone<'a>> {
        self.timezones.iter().find(|t| t.tzid == tzid)
    }
}

struct Timezone<'a> {
    tzid: String,
    text: &'a str,
}

struct Component<'a> {
    calendar: usize,
    kind: ComponentKind,
    line: usize,
    start: usize,
    text: &'a str,
    uid: Option<String>,
    recurrence_id: Option<String>,
    tzids: Vec<String>,
}

#[derive(Default)]
struct Export<'a> {
    calendars: Vec<Calendar<'a>>,
    components: Vec<Component<'a>>,
}

/// The structural pass: checks every line and BEGIN/END, and records where
/// calendars, time zones and components are.
fn scan(text: &str) -> Result<Export<'_>, FormatError> {
    let mut export = Export::default();
    let mut nesting = Nesting::new();
    let mut scratch = String::new();
    // Start offset of the open VTIMEZONE, and its TZID once seen.
    let mut timezone: Option<(usize, Option<String>)> = None;
    for line in LogicalLines::new(text) {
        let line = line?;
        let prop = line.parse(Dialect::ICalendar, &mut scratch)?;
        let at = line.line;
        let end_of_line = line.start + line.raw.len();
        if prop.is("BEGIN") {
            match nesting.begin(&prop.value(), at)? {
                Comp::Calendar => export.calendars.push(Calendar {
                    line: at,
                    header: Vec::new(),
                    version_seen: false,
                    timezones: Vec::new(),
                }),
                Comp::Timezone => timezone = Some((line.start, None)),
                comp => {
                    if let Some(kind) = ComponentKind::of(comp) {
                        export.components.push(Component {
                            calendar: export.calendars.len().saturating_sub(1),
                            kind,
                            line: at,
                            start: line.start,
                            text: "",
                            uid: None,
                            recurrence_id: None,
                            tzids: Vec::new(),
                        });
                    }
                }
            }
            continue;
        }
        if prop.is("END") {
            let (comp, opened) = nesting.end(&prop.value(), at)?;
            export.close(comp, opened, text, end_of_line, &mut timezone)?;
            continue;
        }
        match nesting.top() {
            None => {
                return Err(FormatError::new(
                    at,
                    format!("{} is outside of BEGIN:VCALENDAR/END:VCALENDAR", prop.name),
                ))
            }
            Some(Comp::Calendar) => {
                let Some(calendar) = export.calendars.last_mut() else {
                    continue;
                };
                if prop.is("VERSION") {
                    let version = prop.value();
                    if version.trim_ascii() != "2.0" {
                        return Err(FormatError::new(
                            at,
                            format!("unsupported iCalendar VERSION {:?}", version.trim_ascii()),
                        ));
                    }
                    calendar.version_seen = true;
                    calendar.header.push(line.raw);
                } else if prop.is("PRODID") || prop.is("CALSCALE") {
                    calendar.header.push(line.raw);
                }
            }
            Some(Comp::Timezone) => {
                if let (true, Some((_, tzid))) = (prop.is("TZID"), timezone.as_mut()) {
                    *tzid = Some(prop.value().trim_ascii().to_string());
                }
            }
            Some(Comp::Standard | Comp::Daylight) => {}
            Some(top) => {
                let Some(component) = export.components.last_mut() else {
                    continue;
                };
                // TZID parameters count from nested VALARMs too, but UID
                // and RECURRENCE-ID only on the component itself (Apple
                // puts a UID in every VALARM).
                if let Some(tzid) = prop.param("TZID") {
                    let tzid = tzid.trim_ascii();
                    if !component.tzids.iter().any(|t| t == tzid) {
                        component.tzids.push(tzid.to_string());
                    }
                }
                if top == Comp::Alarm {
                    continue;
                }
                if prop.is("UID") {
                    let uid = prop.value().trim_ascii().to_string();
                    if uid.is_empty() || component.uid.is_some() {
                        return Err(FormatError::new(at, "empty or repeated UID"));
                    }
                    component.uid = Some(uid);
                } else if prop.is("RECURRENCE-ID") {
                    component.recurrence_id = Some(prop.value().trim_ascii().to_string());
                }
            }
        }
    }
    nesting.finish()?;
    if export.components.is_empty() {
        return Err(FormatError::new(
            export.calendars.first().map_or(1, |c| c.line),
            "the file holds no VEVENT, VTODO or VJOURNAL",
        ));
    }
    Ok(export)
}

impl<'a> Export<'a> {
    /// Bookkeeping at an END line ending at byte `end`.
    fn close(
        &mut self,
        comp: Comp,
        opened: usize,
        text: &'a str,
        end: usize,
        timezone: &mut Option<(usize, Option<String>)>,
    ) -> Result<(), FormatError> {
        match comp {
            Comp::Calendar if !self.calendars.last().is_some_and(|c| c.version_seen) => {
                return Err(FormatError::new(opened, "VCALENDAR has no VERSION:2.0"));
            }
            Comp::Timezone => {
                let Some((start, tzid)) = timezone.take() else {
                    return Ok(());
                };
                let tzid = tzid.ok_or_else(|| FormatError::new(opened, "VTIMEZONE has no TZID"))?;
                if let Some(calendar) = self.calendars.last_mut() {
                    calendar.timezones.push(Timezone {
                        tzid,
                        text: &text[start..end],
                    });
                }
            }
            Comp::Event | Comp::Todo | Comp::Journal => {
                if let Some(component) = self.components.last_mut() {
                    if component.uid.is_none() {
                        return Err(FormatError::new(
                            opened,
                            format!("{} has no UID", comp.name()),
                        ));
                    }
                    component.text = &text[component.start..end];
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The time zone a component in `calendar` means by `tzid`: preferably
    /// one defined next to it, else one from another calendar in the file.
    fn timezone(&self, calendar: usize, tzid: &str) -> Option<&Timezone<'a>> {
        self.calendars
            .get(calendar)
            .and_then(|c| c.timezone(tzid))
            .or_else(|| self.calendars.iter().find_map(|c| c.timezone(tzid)))
    }

    fn assemble(&self, group: &Group<'_>) -> Result<SplitObject, FormatError> {
        let members: Vec<&Component<'a>> = group
            .members
            .iter()
            .filter_map(|&i| self.components.get(i))
            .collect();
        let mut ical = String::from("BEGIN:VCALENDAR\r\n");
        if let Some(calendar) = self.calendars.get(group.calendar) {
            for line in &calendar.header {
                push_crlf(&mut ical, line, 0, None);
            }
        }
        let mut zones_done: Vec<&str> = Vec::new();
        for member in &members {
            for tzid in &member.tzids {
                if zones_done.contains(&tzid.as_str()) {
                    continue;
                }
                zones_done.push(tzid);
                if let Some(zone) = self.timezone(member.calendar, tzid) {
                    push_crlf(&mut ical, zone.text, 0, None);
                }
            }
        }
        for member in &members {
            push_crlf(&mut ical, member.text, 0, None);
        }
        ical.push_str("END:VCALENDAR\r\n");
        // Cheap insurance that what we hand out is storable as it is.
        validate_calendar_object(&ical).map_err(|e| {
            FormatError::new(
                group.line,
                format!("object for UID {:?} would not be valid: {}", group.uid, e),
            )
        })?;
        Ok(SplitObject {
            uid: group.uid.to_string(),
            kind: group.kind,
            ical,
            line: group.line,
        })
    }
}

struct Group<'c> {
    uid: &'c str,
    kind: ComponentKind,
    line: usize,
    calendar: usize,
    members: Vec<usize>,
}

/// Groups components by UID in order of first appearance, refusing what a
/// single calendar object could not hold: mixed kinds, two masters, or the
/// same instance overridden twice.
fn group_by_uid<'c>(components: &'c [Component<'_>]) -> Result<Vec<Group<'c>>, FormatError> {
    let mut groups: Vec<Group<'c>> = Vec::new();
    let mut index: HashMap<&'c str, usize> = HashMap::new();
    for (i, component) in components.iter().enumerate() {
        let Some(uid) = component.uid.as_deref() else {
            continue;
        };
        let Some(&g) = index.get(uid) else {
            index.insert(uid, groups.len());
            groups.push(Group {
                uid,
                kind: component.kind,
                line: component.line,
                calendar: component.calendar,
                members: vec![i],
            });
            continue;
        };
        let Some(group) = groups.get_mut(g) else {
            continue;
        };
        if group.kind != component.kind {
            return Err(FormatError::new(
                component.line,
                format!(
                    "UID {uid:?} is used by a {} here and by a {} on line {}",
                    component.kind.as_str(),
                    group.kind.as_str(),
                    group.line
                ),
            ));
        }
        let clash = group
            .members
            .iter()
            .filter_map(|&m| components.get(m))
            .find(|other| other.recurrence_id == component.recurrence_id);
        if let Some(other) = clash {
            let what = match &component.recurrence_id {
                None => "appears twice without RECURRENCE-ID".to_string(),
                Some(id) => format!("overrides RECURRENCE-ID {id} twice"),
            };
            return Err(FormatError::new(
                component.line,
                format!("UID {uid:?} {what} (first on line {})", other.line),
            ));
        }
        group.members.push(i);
    }
    Ok(groups)
}
