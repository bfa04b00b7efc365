//! Bounds on the work one request body asks for: how many resources a
//! multiget names and how many properties a body names. The body's size
//! bounds how long it takes to parse; these bound what answering it costs
//! (each href a lookup and a response, each property a lookup per
//! resource, and with `Depth: 1` per member), so they are checked on the
//! parsed request before any of that work is done.

use super::{Element, MkcolRequest, PropRequest, PropertyUpdate, Report, CALDAV, CARDDAV, DAV};

/// Most hrefs one multiget may name, and most properties one body may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestLimits {
    /// `DAV:href`s of a calendar-multiget or addressbook-multiget, and
    /// sharees of a `CS:share`.
    pub hrefs: usize,
    /// Properties named by a PROPFIND, set or removed by a PROPPATCH or an
    /// extended MKCOL, or named anywhere in a REPORT (its `DAV:prop`, and
    /// the `prop`s of `calendar-data` or `address-data`).
    pub properties: usize,
}

impl RequestLimits {
    /// Clients fetch in batches far below these: DAVx5 multigets 10
    /// resources at a time, Evolution 100, Apple's clients a few hundred;
    /// the largest PROPFIND a client sends (Apple's, on a calendar home)
    /// names about 60 properties.
    pub const DEFAULT: RequestLimits = RequestLimits {
        hrefs: 1000,
        properties: 256,
    };

    pub fn check_propfind(&self, request: &PropRequest) -> Result<(), Exceeded> {
        let named = match request {
            PropRequest::AllProp { include } => include.len(),
            PropRequest::PropName => 0,
            PropRequest::Prop(names) => names.len(),
        };
        self.properties(named)
    }

    pub fn check_proppatch(&self, updates: &[PropertyUpdate]) -> Result<(), Exceeded> {
        self.properties(updates.len())
    }

    pub fn check_mkcol(&self, request: &MkcolRequest) -> Result<(), Exceeded> {
        self.properties(request.set.len() + request.resourcetype.len())
    }

    /// Hrefs of a multiget, and properties named anywhere in the report.
    pub fn check_report(&self, report: &Report) -> Result<(), Exceeded> {
        let named = match report {
            Report::SyncCollection { props, .. } => prop_request_names(props),
            Report::CalendarMultiget {
                props,
                hrefs,
                calendar_data,
            } => {
                self.hrefs(hrefs.len())?;
                prop_request_names(props) + calendar_data.as_ref().map_or(0, named_properties)
            }
            Report::AddressbookMultiget { props, hrefs } => {
                self.hrefs(hrefs.len())?;
                prop_request_names(props)
            }
            Report::Other(root) => named_properties(root),
        };
        self.properties(named)
    }

    /// The sharees a `CS:share` sets and removes.
    pub fn check_sharees(&self, count: usize) -> Result<(), Exceeded> {
        self.hrefs(count)
    }

    fn hrefs(&self, given: usize) -> Result<(), Exceeded> {
        if given > self.hrefs {
            return Err(Exceeded::Hrefs {
                given,
                most: self.hrefs,
            });
        }
        Ok(())
    }

    fn properties(&self, given: usize) -> Result<(), Exceeded> {
        if given > self.properties {
            return Err(Exceeded::Properties {
                given,
                most: self.properties,
            });
        }
        Ok(())
    }
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits::DEFAULT
    }
}

/// Which bound a request went over, and by how much.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Exceeded {
    #[error("the request names {given} resources; this server answers at most {most} at once")]
    Hrefs { given: usize, most: usize },
    #[error("the request names {given} properties; this server accepts at most {most} at once")]
    Properties { given: usize, most: usize },
}

fn prop_request_names(request: &PropRequest) -> usize {
    match request {
        PropRequest::AllProp { include } => include.len(),
        PropRequest::PropName => 0,
        PropRequest::Prop(names) => names.len(),
    }
}

/// The properties a tree names: the children of every `DAV:prop`, and every
/// CalDAV or CardDAV `prop` (which name iCalendar and vCard properties).
/// A walk with a stack of its own rather than recursion, though the parser
/// bounds the depth anyway.
fn named_properties(root: &Element) -> usize {
    let mut count = 0;
    let mut pending = vec![root];
    while let Some(element) = pending.pop() {
        if element.is(DAV, "prop") {
            count += element.elements().count();
        } else if element.is(CALDAV, "prop") || element.is(CARDDAV, "prop") {
            count += 1;
        }
        pending.extend(element.elements());
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{parse_propfind, parse_proppatch, parse_report};

    const SMALL: RequestLimits = RequestLimits {
        hrefs: 2,
        properties: 3,
    };

    fn propfind(props: usize) -> String {
        let names: String = (0..props).map(|i| format!("<x:p{i}/>")).collect();
        format!(
            "<d:propfind xmlns:d=\"DAV:\" xmlns:x=\"urn:x\"><d:prop>{names}</d:prop></d:propfind>"
        )
    }

    fn multiget(hrefs: usize) -> String {
        let hrefs: String = (0..hrefs)
            .map(|i| format!("<d:href>/dav/calendars/a/c/{i}.ics</d:href>"))
            .collect();
        format!(
            "<c:calendar-multiget xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\">\
             <d:prop><d:getetag/><c:calendar-data/></d:prop>{hrefs}</c:calendar-multiget>"
        )
    }

    #[test]
    fn propfind_properties_are_counted() {
        let at_limit = parse_propfind(propfind(3).as_bytes()).unwrap();
        assert_eq!(SMALL.check_propfind(&at_limit), Ok(()));
        let over = parse_propfind(propfind(4).as_bytes()).unwrap();
        assert_eq!(
            SMALL.check_propfind(&over),
            Err(Exceeded::Properties { given: 4, most: 3 })
        );
        assert_eq!(SMALL.check_propfind(&PropRequest::PropName), Ok(()));
    }

    #[test]
    fn multiget_hrefs_are_counted() {
        let at_limit = parse_report(multiget(2).as_bytes()).unwrap();
        assert_eq!(SMALL.check_report(&at_limit), Ok(()));
        let over = parse_report(multiget(3).as_bytes()).unwrap();
        assert_eq!(
            SMALL.check_report(&over),
            Err(Exceeded::Hrefs { given: 3, most: 2 })
        );
    }

    #[test]
    fn properties_inside_a_report_are_counted() {
        let query = "<c:calendar-query xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\">\
            <d:prop><d:getetag/><c:calendar-data><c:comp name=\"VCALENDAR\">\
            <c:prop name=\"VERSION\"/><c:comp name=\"VEVENT\"><c:prop name=\"UID\"/>\
            <c:prop name=\"SUMMARY\"/></c:comp></c:comp></c:calendar-data></d:prop>\
            <c:filter><c:comp-filter name=\"VCALENDAR\"/></c:filter></c:calendar-query>";
        let report = parse_report(query.as_bytes()).unwrap();
        // getetag, calendar-data, and three iCalendar properties.
        assert_eq!(
            SMALL.check_report(&report),
            Err(Exceeded::Properties { given: 5, most: 3 })
        );
        assert_eq!(RequestLimits::DEFAULT.check_report(&report), Ok(()));
    }

    #[test]
    fn deep_nesting_is_refused_on_a_small_stack() {
        // The tree parser keeps open elements on a heap stack and refuses
        // at MAX_DEPTH: 100,000 levels run on a 64 KiB thread stack.
        let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
        let refused = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || crate::xml::parse(deep.as_bytes()))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(refused, Err(crate::xml::XmlError::TooDeep));
    }

    #[test]
    fn elements_and_attributes_are_bounded() {
        use crate::xml::{parse, XmlError, MAX_ELEMENTS};
        let many = |elements: usize| format!("<r>{}</r>", "<a/>".repeat(elements - 1));
        assert!(parse(many(MAX_ELEMENTS).as_bytes()).is_ok());
        assert_eq!(
            parse(many(MAX_ELEMENTS + 1).as_bytes()),
            Err(XmlError::TooManyElements)
        );
        let attributes: String = (0..MAX_ELEMENTS).map(|i| format!(" a{i}=\"\"")).collect();
        assert_eq!(
            parse(format!("<r{attributes}/>").as_bytes()),
            Err(XmlError::TooManyElements)
        );
    }

    #[test]
    fn proppatch_updates_are_counted() {
        let sets: String = (0..4).map(|i| format!("<x:p{i}>v</x:p{i}>")).collect();
        let body = format!(
            "<d:propertyupdate xmlns:d=\"DAV:\" xmlns:x=\"urn:x\"><d:set><d:prop>{sets}\
             </d:prop></d:set></d:propertyupdate>"
        );
        let updates = parse_proppatch(body.as_bytes()).unwrap();
        assert_eq!(
            SMALL.check_proppatch(&updates),
            Err(Exceeded::Properties { given: 4, most: 3 })
        );
    }
}
