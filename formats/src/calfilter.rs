//! CalDAV `calendar-query` (RFC 4791 §7.8, §9.7): the request, its filter,
//! whether a calendar object matches it, and the `calendar-data`
//! selection of components and properties (§9.6).

pub use crate::filter::ParamFilter;
use crate::filter::{
    name_attr, report_props, unescape_text, unknown, Collation, FilterError, TextMatch,
};
use crate::ical::time::{self, InstanceBudget, Limits, TimeError, TimeRange, Zones};
use crate::ical::tree::{Component, ContentProperty};
use crate::xml::{Element, PropRequest, CALDAV};
use chrono::{DateTime, NaiveDateTime, Utc};
use std::cell::RefCell;

/// A parsed `calendar-query` REPORT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarQuery {
    pub props: PropRequest,
    /// `calendar-data` with children: what to return of each object.
    pub calendar_data: Option<CalendarData>,
    /// The top-level comp-filter (always VCALENDAR).
    pub filter: CompFilter,
    /// `<C:timezone>`: the VTIMEZONE floating times are in, for this query.
    pub timezone: Option<String>,
}

/// What a `calendar-data` element asks of each object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CalendarData {
    /// `<C:comp name="VCALENDAR">…`: None returns everything.
    pub comp: Option<CompSelection>,
    /// `<C:expand>`: instances in the range, in UTC, without recurrence
    /// rules (both bounds given).
    pub expand: Option<TimeRange>,
    /// `<C:limit-recurrence-set>`: the master and only the overridden
    /// instances that bear on the range (both bounds given).
    pub limit_recurrence_set: Option<TimeRange>,
}

/// `<C:comp>` selection: which properties and sub-components to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompSelection {
    pub name: String,
    /// None: `allprop` (or no prop given); Some: only these.
    pub props: Option<Vec<String>>,
    /// None: `allcomp` (or no comp given); Some: only these.
    pub comps: Option<Vec<CompSelection>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompFilter {
    pub name: String,
    pub is_not_defined: bool,
    pub time_range: Option<TimeRange>,
    pub prop_filters: Vec<PropFilter>,
    pub comp_filters: Vec<CompFilter>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropFilter {
    pub name: String,
    pub is_not_defined: bool,
    pub time_range: Option<TimeRange>,
    pub text_match: Option<TextMatch>,
    pub param_filters: Vec<ParamFilter>,
}

impl CompFilter {
    /// What every object matching this top-level (VCALENDAR) filter must
    /// hold: a component of this name (VEVENT, VTODO or VJOURNAL) and,
    /// when given, an occurrence of it in the time range. None when the
    /// filter requires no such component. A query index narrows the
    /// objects to test with it.
    pub fn required_occurrence(&self) -> Option<(&str, Option<&TimeRange>)> {
        if self.is_not_defined {
            return None;
        }
        let mut required = self.comp_filters.iter().filter(|f| {
            !f.is_not_defined && matches!(f.name.as_str(), "VEVENT" | "VTODO" | "VJOURNAL")
        });
        let first = required.clone().next()?;
        let chosen = required.find(|f| f.time_range.is_some()).unwrap_or(first);
        Some((chosen.name.as_str(), chosen.time_range.as_ref()))
    }
}

/// The zone a `<C:timezone>` or a calendar's `calendar-timezone` names:
/// a zone name as given, or the TZID of the VTIMEZONE in a VCALENDAR.
pub fn zone_name(given: &str) -> String {
    if !given.contains("BEGIN:") {
        return given.trim().to_string();
    }
    given
        .lines()
        .find_map(|l| l.trim().strip_prefix("TZID:"))
        .map_or_else(String::new, |tzid| tzid.trim().to_string())
}

/// Reads the REPORT body's root element (`{CALDAV}calendar-query`).
pub fn parse_calendar_query(root: &Element) -> Result<CalendarQuery, FilterError> {
    if !root.is(CALDAV, "calendar-query") {
        return Err(unknown(&root.name));
    }
    let (props, data) = report_props(root, (CALDAV, "calendar-data"));
    let calendar_data = data.map(parse_calendar_data).transpose()?;
    let mut filter = None;
    let mut timezone = None;
    for child in root.elements() {
        if child.is(CALDAV, "filter") {
            filter = Some(parse_top_filter(child)?);
        } else if child.is(CALDAV, "timezone") {
            timezone = Some(child.text());
        }
    }
    Ok(CalendarQuery {
        props,
        calendar_data,
        filter: filter.ok_or_else(|| FilterError::Invalid("no filter".into()))?,
        timezone,
    })
}

/// `calendar-data` in a prop request (calendar-query or multiget).
pub fn parse_calendar_data(el: &Element) -> Result<CalendarData, FilterError> {
    let mut data = CalendarData::default();
    for child in el.elements() {
        match (child.name.ns.as_str(), child.name.local.as_str()) {
            (CALDAV, "comp") => data.comp = Some(parse_comp_selection(child)?),
            (CALDAV, "expand") => data.expand = Some(parse_bounded_range(child)?),
            (CALDAV, "limit-recurrence-set") => {
                data.limit_recurrence_set = Some(parse_bounded_range(child)?)
            }
            // Only narrows FREEBUSY properties of VFREEBUSY components,
            // which calendars here do not hold as stored objects of their
            // own kind; accepted and not applied.
            (CALDAV, "limit-freebusy-set") => {
                parse_bounded_range(child)?;
            }
            _ => return Err(unknown(&child.name)),
        }
    }
    Ok(data)
}

fn parse_comp_selection(el: &Element) -> Result<CompSelection, FilterError> {
    let mut selection = CompSelection {
        name: name_attr(el)?.to_ascii_uppercase(),
        props: Some(Vec::new()),
        comps: Some(Vec::new()),
    };
    let mut saw_prop = false;
    let mut saw_comp = false;
    for child in el.elements() {
        match (child.name.ns.as_str(), child.name.local.as_str()) {
            (CALDAV, "allprop") => selection.props = None,
            (CALDAV, "allcomp") => selection.comps = None,
            (CALDAV, "prop") => {
                saw_prop = true;
                if let Some(props) = selection.props.as_mut() {
                    props.push(name_attr(child)?.to_ascii_uppercase());
                }
            }
            (CALDAV, "comp") => {
                saw_comp = true;
                let nested = parse_comp_selection(child)?;
                if let Some(comps) = selection.comps.as_mut() {
                    comps.push(nested);
                }
            }
            _ => return Err(unknown(&child.name)),
        }
    }
    // An empty `<C:comp name="VTIMEZONE"/>` means the whole component (as
    // RFC 4791's own example reads); otherwise the lists are literal.
    if !saw_prop && !saw_comp && selection.props.is_some() && selection.comps.is_some() {
        selection.props = None;
        selection.comps = None;
    }
    Ok(selection)
}

fn parse_top_filter(el: &Element) -> Result<CompFilter, FilterError> {
    let mut comps = el.elements();
    let top = comps
        .next()
        .ok_or_else(|| FilterError::Invalid("an empty filter".into()))?;
    if comps.next().is_some() {
        return Err(FilterError::Invalid(
            "a filter holds one comp-filter".into(),
        ));
    }
    if !top.is(CALDAV, "comp-filter") {
        return Err(unknown(&top.name));
    }
    let filter = parse_comp_filter(top)?;
    if filter.name != "VCALENDAR" {
        return Err(FilterError::Invalid(format!(
            "the top comp-filter must be VCALENDAR, not {}",
            filter.name
        )));
    }
    // RFC 4791 §7.8 names this as invalid; ignoring it would answer a
    // time-bounded query with every object.
    if filter.time_range.is_some() {
        return Err(FilterError::Invalid(
            "a time-range cannot be on VCALENDAR, only on a component in it".into(),
        ));
    }
    Ok(filter)
}

fn parse_comp_filter(el: &Element) -> Result<CompFilter, FilterError> {
    let name = name_attr(el)?.to_ascii_uppercase();
    if !matches!(
        name.as_str(),
        "VCALENDAR" | "VEVENT" | "VTODO" | "VJOURNAL" | "VFREEBUSY" | "VALARM" | "VTIMEZONE"
    ) {
        return Err(FilterError::Unsupported(format!("comp-filter on {name}")));
    }
    let mut filter = CompFilter {
        name,
        is_not_defined: false,
        time_range: None,
        prop_filters: Vec::new(),
        comp_filters: Vec::new(),
    };
    for child in el.elements() {
        match (child.name.ns.as_str(), child.name.local.as_str()) {
            (CALDAV, "is-not-defined") => filter.is_not_defined = true,
            (CALDAV, "time-range") => filter.time_range = Some(parse_time_range(child)?),
            (CALDAV, "prop-filter") => filter.prop_filters.push(parse_prop_filter(child)?),
            (CALDAV, "comp-filter") => filter.comp_filters.push(parse_comp_filter(child)?),
            _ => return Err(unknown(&child.name)),
        }
    }
    Ok(filter)
}

fn parse_prop_filter(el: &Element) -> Result<PropFilter, FilterError> {
    let mut filter = PropFilter {
        name: name_attr(el)?.to_ascii_uppercase(),
        is_not_defined: false,
        time_range: None,
        text_match: None,
        param_filters: Vec::new(),
    };
    for child in el.elements() {
        match (child.name.ns.as_str(), child.name.local.as_str()) {
            (CALDAV, "is-not-defined") => filter.is_not_defined = true,
            (CALDAV, "time-range") => filter.time_range = Some(parse_time_range(child)?),
            (CALDAV, "text-match") => {
                filter.text_match = Some(TextMatch::from_element(child, Collation::AsciiCasemap)?)
            }
            (CALDAV, "param-filter") => filter.param_filters.push(ParamFilter::parse(
                child,
                CALDAV,
                Collation::AsciiCasemap,
            )?),
            _ => return Err(unknown(&child.name)),
        }
    }
    Ok(filter)
}

/// `start`/`end` attributes: UTC date-times (`20260301T000000Z`), at
/// least one, and start before end.
/// The ranges of `expand` and the limits (RFC 4791 §9.6.5-7): both
/// bounds are required there.
fn parse_bounded_range(el: &Element) -> Result<TimeRange, FilterError> {
    let range = parse_time_range(el)?;
    if range.start.is_none() || range.end.is_none() {
        return Err(FilterError::Invalid(format!(
            "{} needs both a start and an end",
            el.name.local
        )));
    }
    Ok(range)
}

fn parse_time_range(el: &Element) -> Result<TimeRange, FilterError> {
    let attr = |name: &str| {
        el.attrs
            .iter()
            .find(|(n, _)| n.ns.is_empty() && n.local == name)
            .map(|(_, v)| v.trim())
    };
    let instant = |value: &str| -> Result<DateTime<Utc>, FilterError> {
        let utc = value
            .strip_suffix('Z')
            .ok_or_else(|| FilterError::Invalid(format!("time {value:?} is not in UTC")))?;
        NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S")
            .map(|t| t.and_utc())
            .map_err(|_| FilterError::Invalid(format!("time {value:?} is not a date-time")))
    };
    let range = TimeRange {
        start: attr("start").map(instant).transpose()?,
        end: attr("end").map(instant).transpose()?,
    };
    match (range.start, range.end) {
        (None, None) => Err(FilterError::Invalid(
            "a time-range needs a start or an end".into(),
        )),
        (Some(s), Some(e)) if s >= e => Err(FilterError::Invalid(
            "the time-range starts after it ends".into(),
        )),
        _ => Ok(range),
    }
}

/// Why an object could not be evaluated: its times could not be read, or
/// it recurs more than the limit allows within the range.
pub type EvalError = TimeError;

/// Evaluates a query against one object.
pub struct Matcher<'q> {
    pub filter: &'q CompFilter,
    pub limits: Limits,
}

impl Matcher<'_> {
    /// Whether the object (its VCALENDAR) matches. `floating` is the zone
    /// floating times are in (the calendar's timezone, IANA name).
    pub fn matches(&self, calendar: &Component, floating: Option<&str>) -> Result<bool, EvalError> {
        let zones = Zones::new(calendar, floating);
        let eval = Eval {
            calendar,
            zones: &zones,
            limits: &self.limits,
        };
        // The top filter is VCALENDAR and applies to the object itself.
        eval.component_matches(self.filter, calendar, None)
    }
}

struct Eval<'a> {
    calendar: &'a Component,
    zones: &'a Zones<'a>,
    limits: &'a Limits,
}

impl Eval<'_> {
    /// `filter` on `component`, which is already known to carry its name.
    /// `index` is its position in the VCALENDAR for components that recur.
    fn component_matches(
        &self,
        filter: &CompFilter,
        component: &Component,
        index: Option<usize>,
    ) -> Result<bool, EvalError> {
        for prop_filter in &filter.prop_filters {
            if !self.prop_filter_matches(prop_filter, component)? {
                return Ok(false);
            }
        }
        for child_filter in &filter.comp_filters {
            if !self.child_matches(child_filter, component, index)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// A comp-filter on the sub-components of `parent`.
    fn child_matches(
        &self,
        filter: &CompFilter,
        parent: &Component,
        parent_index: Option<usize>,
    ) -> Result<bool, EvalError> {
        let top_level = std::ptr::eq(parent, self.calendar);
        let candidates: Vec<(usize, &Component)> = parent
            .components
            .iter()
            .enumerate()
            .filter(|(_, c)| c.name == filter.name)
            .collect();
        if filter.is_not_defined {
            return Ok(candidates.is_empty());
        }
        let recurring =
            top_level && matches!(filter.name.as_str(), "VEVENT" | "VTODO" | "VJOURNAL");
        match (&filter.time_range, recurring) {
            // An object without such a component has no occurrence of it
            // (and its other components' recurrence is not expanded).
            (Some(_), true) if candidates.is_empty() => Ok(false),
            // The recurrence set decides: each occurrence is described by
            // the master or an override; that component must then pass the
            // rest of the filter. The first such occurrence settles it, so
            // a range open at the end over an endless rule stops there
            // rather than counting instances up to the limit.
            (Some(range), true) => {
                // Each component's verdict, decided once; an error stops
                // the expansion (as a hit) and is returned.
                // Whether a component passes does not depend on which of
                // its occurrences is asked, so decide what can be decided
                // now: when none passes, no occurrence will, and an
                // endless rule is not expanded in vain.
                let mut decided = Vec::with_capacity(candidates.len());
                let mut undecided = false;
                for &(index, component) in &candidates {
                    match self.component_matches(filter, component, Some(index)) {
                        Ok(verdict) => decided.push((index, verdict)),
                        Err(_) => undecided = true,
                    }
                }
                if !undecided && decided.iter().all(|&(_, verdict)| !verdict) {
                    return Ok(false);
                }
                let verdicts: RefCell<Vec<(usize, bool)>> = RefCell::new(decided);
                let failure = RefCell::new(None);
                let passes = |occurrence: &time::Occurrence| {
                    let index = occurrence.component;
                    if let Some(&(_, verdict)) = verdicts.borrow().iter().find(|(i, _)| *i == index)
                    {
                        return verdict;
                    }
                    let verdict = match self.calendar.components.get(index) {
                        Some(component) if component.name == filter.name => {
                            match self.component_matches(filter, component, Some(index)) {
                                Ok(verdict) => verdict,
                                Err(error) => {
                                    *failure.borrow_mut() = Some(error);
                                    return true;
                                }
                            }
                        }
                        _ => false,
                    };
                    verdicts.borrow_mut().push((index, verdict));
                    verdict
                };
                let found = time::any_occurrence_in(
                    self.calendar,
                    range,
                    self.zones,
                    self.limits,
                    &passes,
                )?;
                match failure.into_inner() {
                    Some(error) => Err(error),
                    None => Ok(found),
                }
            }
            (Some(range), false) if filter.name == "VALARM" => {
                let Some(index) = parent_index else {
                    return Ok(false);
                };
                if !time::alarm_in_range(self.calendar, index, range, self.zones, self.limits)? {
                    return Ok(false);
                }
                for (_, alarm) in candidates {
                    if self.component_matches(filter, alarm, parent_index)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            (Some(_), false) => Err(TimeError::InvalidValue {
                property: filter.name.clone(),
                value: "time-range on this component".into(),
            }),
            (None, _) => {
                for (i, component) in candidates {
                    let index = if top_level { Some(i) } else { parent_index };
                    if self.component_matches(filter, component, index)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
        }
    }

    fn prop_filter_matches(
        &self,
        filter: &PropFilter,
        component: &Component,
    ) -> Result<bool, EvalError> {
        let mut instances = component.properties_named(&filter.name).peekable();
        if filter.is_not_defined {
            return Ok(instances.peek().is_none());
        }
        for property in instances {
            if self.property_matches(filter, property)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn property_matches(
        &self,
        filter: &PropFilter,
        property: &ContentProperty,
    ) -> Result<bool, EvalError> {
        if let Some(range) = &filter.time_range {
            if !time::property_in_range(property, range, self.zones)? {
                return Ok(false);
            }
        }
        if let Some(text) = &filter.text_match {
            if !text.matches(&unescape_text(&property.value)) {
                return Ok(false);
            }
        }
        Ok(filter
            .param_filters
            .iter()
            .all(|p| p.matches(property.param_values(&p.name))))
    }
}

/// RFC 4791 §9.6.5 `expand`: the object's occurrences within `range` as
/// separate components, each with its RECURRENCE-ID, times in UTC (dates
/// stay dates), and no RRULE, RDATE or EXDATE. A component that does not
/// recur is returned as it is, so the VTIMEZONEs stay for it.
pub fn expand(
    calendar: &Component,
    range: &TimeRange,
    floating: Option<&str>,
    limits: &Limits,
    budget: &InstanceBudget,
) -> Result<String, EvalError> {
    let zones = Zones::new(calendar, floating);
    let occurrences = time::occurrences_in(calendar, range, &zones, limits)?;
    budget.spend(occurrences.len())?;
    let mut out = String::from("BEGIN:VCALENDAR\r\n");
    for property in &calendar.properties {
        out.push_str(&property.raw);
        out.push_str("\r\n");
    }
    // Expanded instances are in UTC; only a component returned as it is
    // still needs its VTIMEZONEs.
    if occurrences.iter().any(|o| o.recurrence_id.is_none()) {
        for timezone in calendar.components_named("VTIMEZONE") {
            write_all(&mut out, timezone);
        }
    }
    for occurrence in occurrences {
        let Some(component) = calendar.components.get(occurrence.component) else {
            continue;
        };
        if occurrence.recurrence_id.is_none() {
            write_all(&mut out, component);
            continue;
        }
        let is_date = component
            .property("DTSTART")
            .map(|p| zones.instant(p).map(|(_, date)| date))
            .transpose()?
            .unwrap_or(false);
        let stamp = |at: DateTime<Utc>| {
            if is_date {
                format!(";VALUE=DATE:{}", at.format("%Y%m%d"))
            } else {
                format!(":{}", at.format("%Y%m%dT%H%M%SZ"))
            }
        };
        out.push_str("BEGIN:");
        out.push_str(&component.name);
        out.push_str("\r\n");
        for property in &component.properties {
            let replaced = matches!(
                property.name.as_str(),
                "DTSTART"
                    | "DTEND"
                    | "DUE"
                    | "DURATION"
                    | "RRULE"
                    | "RDATE"
                    | "EXDATE"
                    | "RECURRENCE-ID"
            );
            if !replaced {
                out.push_str(&property.raw);
                out.push_str("\r\n");
            }
        }
        if component.property("DTSTART").is_some() {
            out.push_str(&format!("DTSTART{}\r\n", stamp(occurrence.start)));
        }
        let end_name = if component.name == "VTODO" {
            "DUE"
        } else {
            "DTEND"
        };
        let has_end = ["DTEND", "DUE", "DURATION"]
            .iter()
            .any(|n| component.property(n).is_some());
        if has_end && occurrence.end > occurrence.start {
            out.push_str(&format!("{end_name}{}\r\n", stamp(occurrence.end)));
        }
        if let Some(id) = occurrence.recurrence_id {
            out.push_str(&format!("RECURRENCE-ID{}\r\n", stamp(id)));
        }
        for child in &component.components {
            write_all(&mut out, child);
        }
        out.push_str("END:");
        out.push_str(&component.name);
        out.push_str("\r\n");
    }
    out.push_str("END:VCALENDAR\r\n");
    Ok(out)
}

/// A `free-busy-query` REPORT body (RFC 4791 §7.10): its time range,
/// which must be closed.
pub fn parse_free_busy_query(
    root: &Element,
) -> Result<(DateTime<Utc>, DateTime<Utc>), FilterError> {
    if !root.is(CALDAV, "free-busy-query") {
        return Err(unknown(&root.name));
    }
    let el = root
        .child(CALDAV, "time-range")
        .ok_or_else(|| FilterError::Invalid("free-busy-query without a time-range".into()))?;
    match parse_time_range(el)? {
        TimeRange {
            start: Some(start),
            end: Some(end),
        } => Ok((start, end)),
        _ => Err(FilterError::Invalid(
            "free-busy-query needs a start and an end".into(),
        )),
    }
}

/// One calendar object with the zone its floating times are in.
pub struct ZonedObject<'a> {
    pub calendar: &'a Component,
    pub floating: Option<&'a str>,
}

/// The VFREEBUSY answering a free-busy-query (RFC 4791 §7.10): the busy
/// time of every VEVENT occurrence in the range, merged, without
/// TRANSP:TRANSPARENT or STATUS:CANCELLED events, tentative events apart
/// as BUSY-TENTATIVE. `stamp` is the DTSTAMP (the time of the request).
pub fn free_busy(
    objects: &[ZonedObject<'_>],
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    stamp: DateTime<Utc>,
    limits: &Limits,
    budget: &InstanceBudget,
) -> Result<String, EvalError> {
    let range = TimeRange {
        start: Some(start),
        end: Some(end),
    };
    let mut busy: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    let mut tentative: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for object in objects {
        let zones = Zones::new(object.calendar, object.floating);
        let occurrences = time::occurrences_in(object.calendar, &range, &zones, limits)?;
        budget.spend(occurrences.len())?;
        for occurrence in occurrences {
            let Some(component) = object.calendar.components.get(occurrence.component) else {
                continue;
            };
            let value = |name: &str| {
                component
                    .property(name)
                    .map(|p| p.value.trim().to_ascii_uppercase())
            };
            if component.name != "VEVENT"
                || value("TRANSP").as_deref() == Some("TRANSPARENT")
                || value("STATUS").as_deref() == Some("CANCELLED")
            {
                continue;
            }
            let period = (occurrence.start.max(start), occurrence.end.min(end));
            if period.0 >= period.1 {
                continue;
            }
            match value("STATUS").as_deref() {
                Some("TENTATIVE") => tentative.push(period),
                _ => busy.push(period),
            }
        }
    }
    let utc = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
    let mut out = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//reprise//free-busy//EN\r\nBEGIN:VFREEBUSY\r\n",
    );
    out.push_str(&format!(
        "DTSTAMP:{}\r\nDTSTART:{}\r\nDTEND:{}\r\n",
        utc(stamp),
        utc(start),
        utc(end)
    ));
    for (kind, periods) in [
        ("", merge(busy)),
        (";FBTYPE=BUSY-TENTATIVE", merge(tentative)),
    ] {
        for (from, to) in periods {
            out.push_str(&format!("FREEBUSY{kind}:{}/{}\r\n", utc(from), utc(to)));
        }
    }
    out.push_str("END:VFREEBUSY\r\nEND:VCALENDAR\r\n");
    Ok(out)
}

/// Sorts periods and joins those that overlap or touch.
fn merge(mut periods: Vec<(DateTime<Utc>, DateTime<Utc>)>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    periods.sort();
    let mut out: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for (start, end) in periods {
        match out.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    out
}

/// The `calendar-data` a query or multiget returns for one object
/// (RFC 4791 §9.6): the stored `body` itself when nothing narrows it, else
/// the object expanded, limited to the overrides bearing on a range,
/// and/or with only the selected components and properties.
pub fn calendar_data(
    calendar: &Component,
    body: &str,
    data: &CalendarData,
    floating: Option<&str>,
    (limits, budget): (&Limits, &InstanceBudget),
) -> Result<String, EvalError> {
    let narrowed = match (&data.expand, &data.limit_recurrence_set) {
        (Some(range), _) => Some(expand(calendar, range, floating, limits, budget)?),
        (None, Some(range)) => Some(limit_recurrence_set(
            calendar, range, floating, limits, budget,
        )?),
        (None, None) => None,
    };
    Ok(match (narrowed, &data.comp) {
        (None, None) => body.to_string(),
        (None, Some(selection)) => select(calendar, selection),
        (Some(text), None) => text,
        (Some(text), Some(selection)) => match crate::ical::tree::parse_tree(&text) {
            Ok(tree) => select(&tree, selection),
            Err(_) => text,
        },
    })
}

/// RFC 4791 §9.6.6 `limit-recurrence-set`: the object without the
/// overridden instances that have nothing to do with `range`. Kept: every
/// component that is no override (masters, VTIMEZONEs), overrides with an
/// occurrence in the range, overrides whose RECURRENCE-ID lies in the
/// range (the instance they moved away), and THISANDFUTURE overrides
/// starting before the range ends (they change the later instances).
pub fn limit_recurrence_set(
    calendar: &Component,
    range: &TimeRange,
    floating: Option<&str>,
    limits: &Limits,
    budget: &InstanceBudget,
) -> Result<String, EvalError> {
    let zones = Zones::new(calendar, floating);
    let occurring: Vec<usize> = time::occurrences_in(calendar, range, &zones, limits)?
        .into_iter()
        .map(|o| o.component)
        .collect();
    budget.spend(occurring.len())?;
    let within =
        |t: DateTime<Utc>| range.start.is_none_or(|s| t >= s) && range.end.is_none_or(|e| t < e);
    let mut keep = Vec::with_capacity(calendar.components.len());
    for (index, component) in calendar.components.iter().enumerate() {
        let Some(rid) = component.property("RECURRENCE-ID") else {
            keep.push(true);
            continue;
        };
        let at = zones.instant(rid).map(|(t, _)| t)?;
        let future = rid
            .param("RANGE")
            .is_some_and(|r| r.trim().eq_ignore_ascii_case("THISANDFUTURE"));
        keep.push(
            occurring.contains(&index)
                || within(at)
                || (future && range.end.is_none_or(|e| at < e)),
        );
    }
    let mut out = String::new();
    out.push_str("BEGIN:VCALENDAR\r\n");
    for property in &calendar.properties {
        out.push_str(&property.raw);
        out.push_str("\r\n");
    }
    for (component, keep) in calendar.components.iter().zip(keep) {
        if keep {
            write_all(&mut out, component);
        }
    }
    out.push_str("END:VCALENDAR\r\n");
    Ok(out)
}

/// The object with only what `selection` names (RFC 4791 §9.6.1), as
/// iCalendar text with CRLF line ends.
pub fn select(calendar: &Component, selection: &CompSelection) -> String {
    let mut out = String::new();
    write_selected(&mut out, calendar, selection);
    out
}

fn write_selected(out: &mut String, component: &Component, selection: &CompSelection) {
    out.push_str("BEGIN:");
    out.push_str(&component.name);
    out.push_str("\r\n");
    for property in &component.properties {
        let keep = match &selection.props {
            None => true,
            Some(names) => names.contains(&property.name),
        };
        if keep {
            out.push_str(&property.raw);
            out.push_str("\r\n");
        }
    }
    for child in &component.components {
        match &selection.comps {
            None => write_all(out, child),
            Some(comps) => {
                if let Some(nested) = comps.iter().find(|c| c.name == child.name) {
                    write_selected(out, child, nested);
                }
            }
        }
    }
    out.push_str("END:");
    out.push_str(&component.name);
    out.push_str("\r\n");
}

fn write_all(out: &mut String, component: &Component) {
    let everything = CompSelection {
        name: component.name.clone(),
        props: None,
        comps: None,
    };
    write_selected(out, component, &everything);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ical::tree::parse_tree;
    use crate::xml::parse;

    const EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n\
BEGIN:VEVENT\r\nUID:e1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260302T090000Z\r\n\
SUMMARY:Quarterly review\\, Paris\r\nLOCATION:Room 4\r\n\
ATTENDEE;PARTSTAT=ACCEPTED:mailto:ann@example.com\r\n\
BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    fn query(filter: &str) -> CalendarQuery {
        let body = format!(
            r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
               <D:prop><D:getetag/><C:calendar-data><C:comp name="VCALENDAR"><C:prop name="VERSION"/>
               <C:comp name="VEVENT"><C:prop name="SUMMARY"/><C:prop name="UID"/></C:comp></C:comp></C:calendar-data></D:prop>
               <C:filter>{filter}</C:filter></C:calendar-query>"#
        );
        parse_calendar_query(&parse(body.as_bytes()).unwrap()).unwrap()
    }

    fn matches(filter: &str) -> bool {
        let q = query(filter);
        let calendar = parse_tree(EVENT).unwrap();
        Matcher {
            filter: &q.filter,
            limits: Limits::default(),
        }
        .matches(&calendar, None)
        .unwrap()
    }

    #[test]
    fn filters_without_time() {
        assert!(matches(r#"<C:comp-filter name="VCALENDAR"/>"#));
        assert!(matches(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter>"#
        ));
        assert!(!matches(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"/></C:comp-filter>"#
        ));
        assert!(matches(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"><C:is-not-defined/></C:comp-filter></C:comp-filter>"#
        ));
        assert!(matches(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
               <C:prop-filter name="SUMMARY"><C:text-match>review, paris</C:text-match></C:prop-filter>
               </C:comp-filter></C:comp-filter>"#
        ));
        assert!(!matches(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
               <C:prop-filter name="SUMMARY"><C:text-match negate-condition="yes">review</C:text-match></C:prop-filter>
               </C:comp-filter></C:comp-filter>"#
        ));
        assert!(!matches(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
               <C:prop-filter name="SUMMARY"><C:text-match collation="i;octet">REVIEW</C:text-match></C:prop-filter>
               </C:comp-filter></C:comp-filter>"#
        ));
        assert!(matches(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
               <C:prop-filter name="STATUS"><C:is-not-defined/></C:prop-filter>
               <C:prop-filter name="ATTENDEE"><C:param-filter name="PARTSTAT"><C:text-match>accepted</C:text-match></C:param-filter></C:prop-filter>
               </C:comp-filter></C:comp-filter>"#
        ));
        // All conditions must hold (CalDAV's filters are conjunctions).
        assert!(!matches(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
               <C:prop-filter name="LOCATION"><C:text-match>Room 4</C:text-match></C:prop-filter>
               <C:prop-filter name="STATUS"/>
               </C:comp-filter></C:comp-filter>"#
        ));
        assert!(matches(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:comp-filter name="VALARM"/></C:comp-filter></C:comp-filter>"#
        ));
    }

    #[test]
    fn refuses_malformed_filters() {
        let bad = |filter: &str| {
            let body = format!(
                r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><C:filter>{filter}</C:filter></C:calendar-query>"#
            );
            parse_calendar_query(&parse(body.as_bytes()).unwrap())
        };
        let invalid =
            |r: Result<CalendarQuery, FilterError>| matches!(r, Err(FilterError::Invalid(_)));
        assert!(invalid(bad(r#"<C:comp-filter name="VEVENT"/>"#)));
        assert!(invalid(bad(
            r#"<C:comp-filter name="VCALENDAR"><C:time-range start="20260301T000000Z"/></C:comp-filter>"#
        )));
        assert!(invalid(bad("")));
        assert!(invalid(bad(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20260301T000000" end="20260302T000000Z"/></C:comp-filter></C:comp-filter>"#
        )));
        assert!(invalid(bad(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20260302T000000Z" end="20260301T000000Z"/></C:comp-filter></C:comp-filter>"#
        )));
        assert!(matches!(
            bad(
                r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY"><C:text-match collation="i;klingon">x</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter>"#
            ),
            Err(FilterError::UnsupportedCollation(_))
        ));
        assert!(matches!(
            bad(r#"<C:comp-filter name="VCALENDAR"><C:whatever/></C:comp-filter>"#),
            Err(FilterError::Unsupported(_))
        ));
    }

    #[test]
    fn selects_components_and_properties() {
        let q = query(r#"<C:comp-filter name="VCALENDAR"/>"#);
        let selection = q.calendar_data.unwrap().comp.unwrap();
        let text = select(&parse_tree(EVENT).unwrap(), &selection);
        assert_eq!(
            text,
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e1\r\n\
SUMMARY:Quarterly review\\, Paris\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
    }

    /// An endless monthly to-do with one moved instance, as
    /// caldav-server-tester stores it.
    const ENDLESS_TODO: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n\
BEGIN:VTODO\r\nUID:t1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20000109T120000Z\r\n\
DUE:20000109T130000Z\r\nRRULE:FREQ=MONTHLY\r\nSUMMARY:Water the plants\r\n\
STATUS:NEEDS-ACTION\r\nEND:VTODO\r\n\
BEGIN:VTODO\r\nUID:t1\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID:20260309T120000Z\r\n\
DTSTART:20260310T120000Z\r\nDUE:20260310T130000Z\r\nSUMMARY:Water the plants (moved)\r\n\
STATUS:COMPLETED\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";

    fn todo_matches(inner: &str) -> Result<bool, EvalError> {
        let q = query(&format!(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO">{inner}</C:comp-filter></C:comp-filter>"#
        ));
        let calendar = parse_tree(ENDLESS_TODO).unwrap();
        Matcher {
            filter: &q.filter,
            limits: Limits::default(),
        }
        .matches(&calendar, None)
    }

    /// A time range open at the end over an endless rule is decided by the
    /// first matching occurrence, not refused for recurring too often
    /// (caldav-server-tester's `search.time-range.open.end` got a 403).
    #[test]
    fn open_ended_range_over_an_endless_rule() {
        let open_end = r#"<C:time-range start="20260101T000000Z"/>"#;
        assert_eq!(todo_matches(open_end), Ok(true));
        // The master fails the rest of the filter, the override passes it.
        assert_eq!(
            todo_matches(&format!(
                r#"{open_end}<C:prop-filter name="STATUS"><C:text-match>COMPLETED</C:text-match></C:prop-filter>"#
            )),
            Ok(true)
        );
        // A bounded range still finds nothing when no component passes.
        assert_eq!(
            todo_matches(
                r#"<C:time-range start="20260101T000000Z" end="20270101T000000Z"/>
                   <C:prop-filter name="SUMMARY"><C:text-match>laundry</C:text-match></C:prop-filter>"#
            ),
            Ok(false)
        );
        // No component passes the rest of the filter: no match, even
        // with the range open at the end (it once hit the instance limit).
        assert_eq!(
            todo_matches(&format!(
                r#"{open_end}<C:prop-filter name="SUMMARY"><C:text-match>laundry</C:text-match></C:prop-filter>"#
            )),
            Ok(false)
        );
        // An endless series of events is no to-do, however open the range.
        let events = ENDLESS_TODO.replace("VTODO", "VEVENT");
        let q = query(&format!(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO">{open_end}</C:comp-filter></C:comp-filter>"#
        ));
        let matcher = Matcher {
            filter: &q.filter,
            limits: Limits::default(),
        };
        assert_eq!(
            matcher.matches(&parse_tree(&events).unwrap(), None),
            Ok(false)
        );
        // Open at the start: instances before the end bound are enough.
        assert_eq!(
            todo_matches(r#"<C:time-range end="20000201T000000Z"/>"#),
            Ok(true)
        );
        assert_eq!(
            todo_matches(r#"<C:time-range end="20000101T000000Z"/>"#),
            Ok(false)
        );
    }
}
