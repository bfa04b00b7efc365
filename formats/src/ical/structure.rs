//! BEGIN/END bookkeeping shared by the validator and the splitter.
//!
//! The set of components and where they may appear is deliberately the one
//! the `ical` crate understands (plus the rule that stored objects hold no
//! VFREEBUSY or loose VALARM), so that whatever passes here also passes the
//! deep parse done on import.

use crate::FormatError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comp {
    Calendar,
    Event,
    Todo,
    Journal,
    Timezone,
    Standard,
    Daylight,
    Alarm,
}

impl Comp {
    const ALL: [Comp; 8] = [
        Comp::Calendar,
        Comp::Event,
        Comp::Todo,
        Comp::Journal,
        Comp::Timezone,
        Comp::Standard,
        Comp::Daylight,
        Comp::Alarm,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Comp::Calendar => "VCALENDAR",
            Comp::Event => "VEVENT",
            Comp::Todo => "VTODO",
            Comp::Journal => "VJOURNAL",
            Comp::Timezone => "VTIMEZONE",
            Comp::Standard => "STANDARD",
            Comp::Daylight => "DAYLIGHT",
            Comp::Alarm => "VALARM",
        }
    }

    fn from_name(name: &str) -> Option<Comp> {
        Comp::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }

    fn allowed_in(self, parent: Option<Comp>) -> bool {
        use Comp::*;
        matches!(
            (parent, self),
            (None, Calendar)
                | (Some(Calendar), Event | Todo | Journal | Timezone)
                | (Some(Event | Todo), Alarm)
                | (Some(Timezone), Standard | Daylight)
        )
    }
}

/// The allowed nesting is at most VCALENDAR > VEVENT/VTODO > VALARM.
const MAX_DEPTH: usize = 3;

/// The stack of open components with the line each was opened on. A fixed
/// array: the validator runs for every stored object and should not
/// allocate for this.
pub(crate) struct Nesting {
    stack: [(Comp, usize); MAX_DEPTH],
    depth: usize,
}

impl Nesting {
    pub fn new() -> Self {
        Nesting {
            stack: [(Comp::Calendar, 0); MAX_DEPTH],
            depth: 0,
        }
    }

    pub fn depth(&self) -> usize {
        self.depth
    }

    pub fn top(&self) -> Option<Comp> {
        self.depth
            .checked_sub(1)
            .and_then(|i| self.stack.get(i))
            .map(|&(c, _)| c)
    }

    /// Handles `BEGIN:<value>` found on `line`.
    pub fn begin(&mut self, value: &str, line: usize) -> Result<Comp, FormatError> {
        let name = value.trim_ascii();
        let parent = self.top();
        let comp = Comp::from_name(name).filter(|c| c.allowed_in(parent));
        let slot = self.stack.get_mut(self.depth);
        let (Some(comp), Some(slot)) = (comp, slot) else {
            let message = match parent {
                None => format!("expected BEGIN:VCALENDAR, found BEGIN:{name}"),
                Some(Comp::Calendar) => format!(
                    "BEGIN:{name} is not supported here; a calendar holds VEVENT, VTODO, \
                     VJOURNAL and VTIMEZONE components"
                ),
                Some(p) => format!("BEGIN:{name} is not allowed inside {}", p.name()),
            };
            return Err(FormatError::new(line, message));
        };
        *slot = (comp, line);
        self.depth += 1;
        Ok(comp)
    }

    /// Handles `END:<value>` found on `line`; returns the component closed
    /// and the line it was opened on.
    pub fn end(&mut self, value: &str, line: usize) -> Result<(Comp, usize), FormatError> {
        let name = value.trim_ascii();
        let open = self
            .depth
            .checked_sub(1)
            .and_then(|i| self.stack.get(i))
            .copied();
        match open {
            None => Err(FormatError::new(
                line,
                format!("END:{name} without a matching BEGIN"),
            )),
            Some((comp, opened)) if comp.name().eq_ignore_ascii_case(name) => {
                self.depth -= 1;
                Ok((comp, opened))
            }
            Some((comp, opened)) => Err(FormatError::new(
                line,
                format!(
                    "END:{name} does not match BEGIN:{} on line {opened}",
                    comp.name()
                ),
            )),
        }
    }

    /// At the end of the text: everything opened must have been closed.
    pub fn finish(&self) -> Result<(), FormatError> {
        match self.depth.checked_sub(1).and_then(|i| self.stack.get(i)) {
            None => Ok(()),
            Some(&(comp, opened)) => Err(FormatError::new(
                opened,
                format!(
                    "BEGIN:{0} is never closed (no END:{0} before the end of the text)",
                    comp.name()
                ),
            )),
        }
    }
}
