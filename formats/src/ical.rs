//! iCalendar calendar object resources (RFC 5545, RFC 4791 section 4.1).

pub mod attach;
mod deep;
pub mod itip;
mod split;
mod structure;
#[cfg(test)]
mod tests;
pub mod time;
pub mod tree;

pub use split::{split_calendar_export, SplitObject};

use crate::contentline::{Dialect, LogicalLines};
use crate::{strip_bom, FormatError};
use structure::{Comp, Nesting};
use tree::{Component, Sink, TreeBuilder, TreeScope};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentKind {
    Event,
    Todo,
    Journal,
}

impl ComponentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentKind::Event => "VEVENT",
            ComponentKind::Todo => "VTODO",
            ComponentKind::Journal => "VJOURNAL",
        }
    }

    fn of(comp: Comp) -> Option<ComponentKind> {
        match comp {
            Comp::Event => Some(ComponentKind::Event),
            Comp::Todo => Some(ComponentKind::Todo),
            Comp::Journal => Some(ComponentKind::Journal),
            _ => None,
        }
    }
}

/// What the validator learned about a calendar object resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarObject {
    pub uid: String,
    pub kind: ComponentKind,
    /// The object has RRULE/RDATE or overridden instances (RECURRENCE-ID).
    pub has_recurrence: bool,
}

/// Validates one calendar object resource (RFC 4791 section 4.1): exactly
/// one VCALENDAR; VERSION:2.0 present; BEGIN/END properly nested and
/// matched; at least one VEVENT/VTODO/VJOURNAL; all those components share
/// one UID and one kind (a master plus overridden instances with
/// RECURRENCE-ID); every component has a UID; no METHOD property (iTIP
/// messages are not stored resources); every line is a well-formed content
/// line.
///
/// This runs for every stored calendar object whenever views are rebuilt,
/// so it is one pass over the text that only looks closely at the handful
/// of properties it needs.
pub fn validate_calendar_object(text: &str) -> Result<CalendarObject, FormatError> {
    validate(text, &mut ())
}

/// [`validate_calendar_object`], building in the same pass the object's
/// tree with what `scope` keeps, for a caller that needs both (the
/// calendars projection indexes every object it stores): the text is
/// read once. The same objects pass, with the same errors.
pub fn validate_calendar_tree(
    text: &str,
    scope: TreeScope,
) -> Result<(CalendarObject, Component), FormatError> {
    let mut builder = TreeBuilder::new(scope);
    let object = validate(text, &mut builder)?;
    // A valid object closed its VCALENDAR, so the tree is complete.
    let tree = builder
        .finish()
        .ok_or_else(|| FormatError::new(1, "no BEGIN:VCALENDAR found"))?;
    Ok((object, tree))
}

/// The validator's single pass; `sink` sees every component and property
/// once it was checked.
fn validate(text: &str, sink: &mut impl Sink) -> Result<CalendarObject, FormatError> {
    let mut v = Validator::default();
    let mut nesting = Nesting::new();
    let mut scratch = String::new();
    for line in LogicalLines::new(strip_bom(text)) {
        let line = line?;
        let prop = line.parse(Dialect::ICalendar, &mut scratch)?;
        let at = line.line;
        if prop.is("BEGIN") {
            if v.calendar_closed && nesting.depth() == 0 {
                return Err(FormatError::new(
                    at,
                    "a calendar object holds exactly one VCALENDAR; another one starts here",
                ));
            }
            let comp = nesting.begin(&prop.value(), at)?;
            v.begin(comp, at)?;
            sink.begin(comp);
        } else if prop.is("END") {
            let (comp, opened) = nesting.end(&prop.value(), at)?;
            v.end(comp, opened)?;
            sink.end();
        } else {
            match nesting.top() {
                None if v.calendar_closed => {
                    return Err(FormatError::new(at, "content after END:VCALENDAR"))
                }
                None => {
                    return Err(FormatError::new(
                        at,
                        format!("{} appears before BEGIN:VCALENDAR", prop.name),
                    ))
                }
                Some(Comp::Calendar) => {
                    if prop.is("VERSION") {
                        v.version(&prop.value(), at)?;
                    } else if prop.is("METHOD") {
                        return Err(FormatError::new(
                            at,
                            "METHOD is not allowed in a stored calendar object \
                             (it marks an iTIP message, RFC 4791 section 4.1)",
                        ));
                    }
                }
                Some(Comp::Event | Comp::Todo | Comp::Journal) => {
                    if prop.is("UID") {
                        v.uid(&prop.value(), at)?;
                    } else if prop.is("RECURRENCE-ID") {
                        v.has_recurrence = true;
                        v.current_recurrence_id = Some(prop.value().trim_ascii().to_string());
                    } else if prop.is("RRULE") || prop.is("RDATE") {
                        v.has_recurrence = true;
                    }
                }
                Some(Comp::Timezone) => {
                    if prop.is("TZID") {
                        v.current_has_uid = true;
                    }
                }
                Some(_) => {}
            }
            sink.property(&line, &prop);
        }
    }
    nesting.finish()?;
    v.finish()
}

/// State of [`validate_calendar_object`] between lines.
#[derive(Default)]
struct Validator {
    calendar_line: Option<usize>,
    calendar_closed: bool,
    version_seen: bool,
    kind: Option<(ComponentKind, usize)>,
    uid: Option<(String, usize)>,
    has_recurrence: bool,
    /// Whether the open component has its identifier (UID, or TZID for a
    /// VTIMEZONE).
    current_has_uid: bool,
    current_recurrence_id: Option<String>,
    master_line: Option<usize>,
    /// Each overridden instance's RECURRENCE-ID and its line; looked up
    /// rather than scanned, so that many overrides do not cost n².
    recurrence_ids: std::collections::HashMap<String, usize>,
}

impl Validator {
    fn begin(&mut self, comp: Comp, line: usize) -> Result<(), FormatError> {
        if comp == Comp::Calendar {
            self.calendar_line = Some(line);
        }
        if matches!(
            comp,
            Comp::Timezone | Comp::Event | Comp::Todo | Comp::Journal
        ) {
            self.current_has_uid = false;
            self.current_recurrence_id = None;
        }
        let Some(kind) = ComponentKind::of(comp) else {
            return Ok(());
        };
        match self.kind {
            None => self.kind = Some((kind, line)),
            Some((first, first_line)) if first != kind => {
                return Err(FormatError::new(
                    line,
                    format!(
                        "a calendar object holds one kind of component, but this {} follows \
                         the {} on line {first_line}",
                        kind.as_str(),
                        first.as_str()
                    ),
                ))
            }
            Some(_) => {}
        }
        Ok(())
    }

    fn end(&mut self, comp: Comp, opened: usize) -> Result<(), FormatError> {
        match comp {
            Comp::Calendar => {
                if !self.version_seen {
                    return Err(FormatError::new(opened, "VCALENDAR has no VERSION:2.0"));
                }
                self.calendar_closed = true;
            }
            Comp::Timezone if !self.current_has_uid => {
                return Err(FormatError::new(opened, "VTIMEZONE has no TZID"));
            }
            Comp::Event | Comp::Todo | Comp::Journal => {
                if !self.current_has_uid {
                    return Err(FormatError::new(
                        opened,
                        format!("{} has no UID", comp.name()),
                    ));
                }
                self.instance(opened)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// One master and any number of distinct overridden instances.
    fn instance(&mut self, line: usize) -> Result<(), FormatError> {
        match self.current_recurrence_id.take() {
            None => {
                if let Some(first) = self.master_line {
                    return Err(FormatError::new(
                        line,
                        format!(
                            "second component with this UID without RECURRENCE-ID \
                             (the first is on line {first})"
                        ),
                    ));
                }
                self.master_line = Some(line);
            }
            Some(id) => {
                if let Some(first) = self.recurrence_ids.get(&id) {
                    return Err(FormatError::new(
                        line,
                        format!("RECURRENCE-ID {id} is overridden twice (also on line {first})"),
                    ));
                }
                self.recurrence_ids.insert(id, line);
            }
        }
        Ok(())
    }

    fn version(&mut self, value: &str, line: usize) -> Result<(), FormatError> {
        if self.version_seen {
            return Err(FormatError::new(line, "VERSION appears twice"));
        }
        let value = value.trim_ascii();
        if value != "2.0" {
            return Err(FormatError::new(
                line,
                format!("unsupported iCalendar VERSION {value:?} (only 2.0 exists)"),
            ));
        }
        self.version_seen = true;
        Ok(())
    }

    fn uid(&mut self, value: &str, line: usize) -> Result<(), FormatError> {
        let value = value.trim_ascii();
        if value.is_empty() {
            return Err(FormatError::new(line, "empty UID"));
        }
        if self.current_has_uid {
            return Err(FormatError::new(line, "UID appears twice in one component"));
        }
        self.current_has_uid = true;
        match &self.uid {
            None => self.uid = Some((value.to_string(), line)),
            Some((first, first_line)) if first != value => {
                return Err(FormatError::new(
                    line,
                    format!(
                        "UID {value:?} differs from {first:?} on line {first_line}; a calendar \
                         object holds the components of one UID only"
                    ),
                ))
            }
            Some(_) => {}
        }
        Ok(())
    }

    fn finish(self) -> Result<CalendarObject, FormatError> {
        let Some(calendar_line) = self.calendar_line else {
            return Err(FormatError::new(1, "no BEGIN:VCALENDAR found"));
        };
        match (self.uid, self.kind) {
            (Some((uid, _)), Some((kind, _))) => Ok(CalendarObject {
                uid,
                kind,
                has_recurrence: self.has_recurrence,
            }),
            _ => Err(FormatError::new(
                calendar_line,
                "the calendar holds no VEVENT, VTODO or VJOURNAL",
            )),
        }
    }
}
