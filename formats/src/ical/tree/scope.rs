//! Building a tree in the validator's pass ([`crate::ical::validate_calendar_tree`]),
//! whole or with only what a [`TreeScope`] needs: the calendars projection
//! indexes every object it stores, and copying every DESCRIPTION, ATTENDEE
//! and alarm into owned strings for that was most of its parsing cost.

use super::{Component, ContentProperty};
use crate::contentline::{LogicalLine, Property};
use crate::ical::structure::Comp;
use crate::ical::time::is_known_zone;

/// What a tree built by the validator keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeScope {
    /// Everything: the tree [`super::parse_tree`] gives.
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
