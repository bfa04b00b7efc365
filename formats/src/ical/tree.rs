//! A calendar object as a tree of components and properties, for what
//! needs more than validation: queries (filters, time ranges, recurrence)
//! and `calendar-data` selection. Built from an object that passed
//! [`crate::ical::validate_calendar_object`], so it only checks nesting;
//! or by the validator itself in the same pass over the text
//! ([`crate::ical::validate_calendar_tree`]), then possibly keeping only
//! what a [`TreeScope`] needs.

use super::structure::Comp;
use super::time::is_known_zone;
use crate::contentline::{Dialect, LogicalLine, LogicalLines, Property};
use crate::{strip_bom, FormatError};

/// A component (`VCALENDAR`, `VEVENT`, `VALARM`...), names uppercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub name: String,
    pub properties: Vec<ContentProperty>,
    pub components: Vec<Component>,
}

/// One property line, unfolded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentProperty {
    /// Uppercased.
    pub name: String,
    /// `(NAME, value)` per parameter value, names uppercased, quotes off.
    pub params: Vec<(String, String)>,
    /// Unfolded; text escapes untouched.
    pub value: String,
    /// The logical line as stored (folds included), for returning a
    /// selection of properties byte for byte.
    pub raw: String,
}

impl Component {
    /// The first property with this name.
    pub fn property(&self, name: &str) -> Option<&ContentProperty> {
        self.properties.iter().find(|p| p.name == name)
    }

    /// Every property with this name.
    pub fn properties_named<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a ContentProperty> + 'a {
        self.properties.iter().filter(move |p| p.name == name)
    }

    /// Every direct sub-component with this name.
    pub fn components_named<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Component> + 'a {
        self.components.iter().filter(move |c| c.name == name)
    }
}

impl ContentProperty {
    /// The first value of a parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a parameter.
    pub fn param_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.params
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses the first VCALENDAR of `text` into a tree.
pub fn parse_tree(text: &str) -> Result<Component, FormatError> {
    let mut stack: Vec<Component> = Vec::new();
    let mut scratch = String::new();
    for line in LogicalLines::new(strip_bom(text)) {
        let line = line?;
        let prop = line.parse(Dialect::ICalendar, &mut scratch)?;
        if prop.is("BEGIN") {
            stack.push(Component {
                name: prop.value().trim().to_ascii_uppercase(),
                properties: Vec::new(),
                components: Vec::new(),
            });
        } else if prop.is("END") {
            let name = prop.value().trim().to_ascii_uppercase();
            let Some(done) = stack.pop() else {
                return Err(FormatError::new(
                    line.line,
                    format!("END:{name} without BEGIN"),
                ));
            };
            if done.name != name {
                return Err(FormatError::new(
                    line.line,
                    format!("END:{name} closes BEGIN:{}", done.name),
                ));
            }
            match stack.last_mut() {
                Some(parent) => parent.components.push(done),
                None => return Ok(done),
            }
        } else {
            let Some(current) = stack.last_mut() else {
                return Err(FormatError::new(
                    line.line,
                    "a property outside any component",
                ));
            };
            current.properties.push(ContentProperty::of(&line, &prop));
        }
    }
    Err(FormatError::new(0, "the calendar is not closed"))
}

impl ContentProperty {
    fn of(line: &LogicalLine<'_>, prop: &Property<'_>) -> ContentProperty {
        ContentProperty {
            name: prop.name.to_ascii_uppercase(),
            params: prop.params(),
            value: prop.value().into_owned(),
            raw: line.raw.to_string(),
        }
    }
}

/// What a tree built by the validator keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeScope {
    /// Everything: the tree [`parse_tree`] gives.
    Whole,
    /// What the object's occurrences depend on: every VEVENT, VTODO and
    /// VJOURNAL with only [`OCCURRENCE_PROPERTIES`] and no VALARM; every
    /// VTIMEZONE with its TZID, and its observances unless that TZID
    /// names an IANA or Windows zone (which is used instead of them); no
    /// property of the VCALENDAR itself. Enough for
    /// [`crate::ical::time::extent`], `occurrences_in` and
    /// `any_occurrence_in`, which answer on it exactly as on the whole
    /// tree; not for alarms, property filters or `calendar-data`.
    Occurrences,
}

/// The properties of a VEVENT, VTODO or VJOURNAL that decide when it
/// occurs (RFC 4791 §9.9 and the recurrence set).
pub const OCCURRENCE_PROPERTIES: [&str; 10] = [
    "DTSTART",
    "DTEND",
    "DURATION",
    "DUE",
    "COMPLETED",
    "CREATED",
    "RECURRENCE-ID",
    "RRULE",
    "RDATE",
    "EXDATE",
];

/// Receives what the validator reads, once it has checked it: components
/// opened and closed (properly nested) and the properties inside them.
pub(crate) trait Sink {
    fn begin(&mut self, comp: Comp);
    fn property(&mut self, line: &LogicalLine<'_>, prop: &Property<'_>);
    fn end(&mut self);
}

/// Plain validation builds nothing.
impl Sink for () {
    fn begin(&mut self, _: Comp) {}
    fn property(&mut self, _: &LogicalLine<'_>, _: &Property<'_>) {}
    fn end(&mut self) {}
}

/// Builds the tree of a [`TreeScope`] from the validator's reading.
pub(crate) struct TreeBuilder {
    scope: TreeScope,
    /// The open components the scope keeps, outermost first.
    open: Vec<(Comp, Component)>,
    /// How deep inside a component the scope drops we are.
    dropped: usize,
    root: Option<Component>,
}

impl TreeBuilder {
    pub(crate) fn new(scope: TreeScope) -> TreeBuilder {
        TreeBuilder {
            scope,
            open: Vec::with_capacity(3),
            dropped: 0,
            root: None,
        }
    }

    /// The tree once its VCALENDAR was closed.
    pub(crate) fn finish(self) -> Option<Component> {
        self.root
    }

    fn keeps_component(&self, comp: Comp) -> bool {
        match (self.scope, comp) {
            (TreeScope::Whole, _) => true,
            (TreeScope::Occurrences, Comp::Alarm) => false,
            (TreeScope::Occurrences, Comp::Standard | Comp::Daylight) => {
                // The zone's observances matter only when its (first)
                // TZID, if already read, is none that `time` knows.
                let tzid = self
                    .open
                    .last()
                    .and_then(|(_, vtimezone)| vtimezone.property("TZID"));
                tzid.is_none_or(|tzid| !is_known_zone(&tzid.value))
            }
            (TreeScope::Occurrences, _) => true,
        }
    }

    fn keeps_property(&self, comp: Comp, name: &str) -> bool {
        match (self.scope, comp) {
            (TreeScope::Whole, _) => true,
            (TreeScope::Occurrences, Comp::Calendar | Comp::Alarm) => false,
            (TreeScope::Occurrences, Comp::Event | Comp::Todo | Comp::Journal) => {
                OCCURRENCE_PROPERTIES
                    .iter()
                    .any(|p| p.eq_ignore_ascii_case(name))
            }
            (TreeScope::Occurrences, Comp::Timezone) => name.eq_ignore_ascii_case("TZID"),
            // A custom zone is built, and remembered, from all of them.
            (TreeScope::Occurrences, Comp::Standard | Comp::Daylight) => true,
        }
    }
}

impl Sink for TreeBuilder {
    fn begin(&mut self, comp: Comp) {
        if self.dropped > 0 || !self.keeps_component(comp) {
            self.dropped += 1;
            return;
        }
        self.open.push((
            comp,
            Component {
                name: comp.name().to_string(),
                properties: Vec::new(),
                components: Vec::new(),
            },
        ));
    }

    fn property(&mut self, line: &LogicalLine<'_>, prop: &Property<'_>) {
        if self.dropped > 0 {
            return;
        }
        let Some(&(comp, _)) = self.open.last() else {
            return;
        };
        if !self.keeps_property(comp, prop.name) {
            return;
        }
        if let Some((_, current)) = self.open.last_mut() {
            current.properties.push(ContentProperty::of(line, prop));
        }
    }

    fn end(&mut self) {
        if self.dropped > 0 {
            self.dropped -= 1;
            return;
        }
        let Some((_, done)) = self.open.pop() else {
            return;
        };
        match self.open.last_mut() {
            Some((_, parent)) => parent.components.push(done),
            None => self.root = Some(done),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_tree_with_params_and_raw_lines() {
        let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:1\r\n\
DTSTART;TZID=\"Europe/Paris\":20260302T090000\r\nSUMMARY:A long\r\n  title\r\n\
ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED:mailto:a@example.com\r\n\
BEGIN:VALARM\r\nTRIGGER:-PT15M\r\nACTION:DISPLAY\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let cal = parse_tree(text).unwrap();
        assert_eq!(cal.name, "VCALENDAR");
        let event = cal.components_named("VEVENT").next().unwrap();
        let start = event.property("DTSTART").unwrap();
        assert_eq!(start.param("TZID"), Some("Europe/Paris"));
        assert_eq!(start.value, "20260302T090000");
        let summary = event.property("SUMMARY").unwrap();
        assert_eq!(summary.value, "A long title");
        assert_eq!(summary.raw, "SUMMARY:A long\r\n  title");
        assert_eq!(event.components[0].name, "VALARM");
        assert_eq!(
            event.property("ATTENDEE").unwrap().param("PARTSTAT"),
            Some("ACCEPTED")
        );
    }

    #[test]
    fn refuses_bad_nesting() {
        assert!(parse_tree("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VCALENDAR\r\n").is_err());
        assert!(parse_tree("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n").is_err());
        assert!(parse_tree("VERSION:2.0\r\n").is_err());
    }
}
