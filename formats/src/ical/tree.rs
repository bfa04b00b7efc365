//! A calendar object as a tree of components and properties, for what
//! needs more than validation: queries (filters, time ranges, recurrence)
//! and `calendar-data` selection. Built from an object that passed
//! [`crate::ical::validate_calendar_object`], so it only checks nesting;
//! or by the validator itself in the same pass over the text
//! ([`crate::ical::validate_calendar_tree`]), then possibly keeping only
//! what a [`TreeScope`] needs.

mod scope;

pub(crate) use scope::{Sink, TreeBuilder};
pub use scope::{TreeScope, OCCURRENCE_PROPERTIES};

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

impl Component {
    /// The component written back: each property as its stored line
    /// (folds kept), every line ending in CRLF.
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(1024);
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        out.push_str("BEGIN:");
        out.push_str(&self.name);
        out.push_str("\r\n");
        for p in &self.properties {
            // A stored line may fold with LF alone; the whole gets CRLF.
            for (i, physical) in p.raw.split('\n').enumerate() {
                if i > 0 {
                    out.push_str("\r\n");
                }
                out.push_str(physical.strip_suffix('\r').unwrap_or(physical));
            }
            out.push_str("\r\n");
        }
        for sub in &self.components {
            sub.write(out);
        }
        out.push_str("END:");
        out.push_str(&self.name);
        out.push_str("\r\n");
    }
}

impl ContentProperty {
    /// A property from its parts, its line written (parameter values
    /// quoted as needed, folded).
    pub fn written(name: &str, params: Vec<(String, String)>, value: &str) -> ContentProperty {
        let pairs = params.iter().map(|(p, v)| (p.as_str(), v.as_str()));
        let raw = crate::contentline::written_line(name, pairs, value);
        ContentProperty {
            name: name.to_string(),
            params,
            value: value.to_string(),
            raw,
        }
    }

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

/// Deepest nesting of components [`parse_tree`] accepts. A stored object
/// nests at most three deep (VCALENDAR > VEVENT > VALARM, as the validator
/// checks), but `parse_tree` also reads what was never validated (the
/// outbox's free-busy requests); the tree is dropped, written and walked
/// recursively, so its depth must not follow the input's.
pub const MAX_COMPONENT_DEPTH: usize = 16;

/// Parses the first VCALENDAR of `text` into a tree. Components nested
/// deeper than [`MAX_COMPONENT_DEPTH`] are refused.
pub fn parse_tree(text: &str) -> Result<Component, FormatError> {
    let mut stack: Vec<Component> = Vec::new();
    let mut scratch = String::new();
    for line in LogicalLines::new(strip_bom(text)) {
        let line = line?;
        let prop = line.parse(Dialect::ICalendar, &mut scratch)?;
        if prop.is("BEGIN") {
            if stack.len() >= MAX_COMPONENT_DEPTH {
                return Err(FormatError::new(
                    line.line,
                    format!("components nested deeper than {MAX_COMPONENT_DEPTH} levels"),
                ));
            }
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
    /// The property of a parsed content line.
    fn of(line: &LogicalLine<'_>, prop: &Property<'_>) -> ContentProperty {
        ContentProperty {
            name: prop.name.to_ascii_uppercase(),
            params: prop.params(),
            value: prop.value().into_owned(),
            raw: line.raw.to_string(),
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

    /// BEGIN lines `depth` deep, each closed.
    fn nested(depth: usize) -> String {
        let mut text = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n");
        text.push_str(&"BEGIN:X\r\n".repeat(depth - 1));
        text.push_str(&"END:X\r\n".repeat(depth - 1));
        text.push_str("END:VCALENDAR\r\n");
        text
    }

    #[test]
    fn bounds_the_nesting_without_recursion() {
        assert!(parse_tree(&nested(MAX_COMPONENT_DEPTH)).is_ok());
        let error = parse_tree(&nested(MAX_COMPONENT_DEPTH + 1)).unwrap_err();
        assert_eq!(error.line, MAX_COMPONENT_DEPTH + 2);
        assert!(error.message.contains("nested deeper than 16"), "{error}");
        // 100,000 levels on a 64 KiB stack: refused at the limit, never
        // built (dropping such a tree would recurse as deep).
        let deep = nested(100_000);
        let refused = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || parse_tree(&deep).is_err())
            .unwrap()
            .join()
            .unwrap();
        assert!(refused);
    }

    #[test]
    fn refuses_bad_nesting() {
        assert!(parse_tree("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VCALENDAR\r\n").is_err());
        assert!(parse_tree("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n").is_err());
        assert!(parse_tree("VERSION:2.0\r\n").is_err());
    }
}
