//! Every WebDAV request body the server parses, each body through every
//! parser, the way `src/http/dav` dispatches them: PROPFIND, PROPPATCH,
//! MKCOL, MKCALENDAR, CS:share, and REPORT with what its root selects
//! (sync-collection, multigets with their calendar-data, calendar-query,
//! free-busy-query, addressbook-query, principal-property-search).
#![no_main]

use formats::xml::{self, Report, CALDAV, CARDDAV, DAV};
use formats::{calfilter, cardfilter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let _ = xml::parse_propfind(body);
    let _ = xml::parse_proppatch(body);
    let _ = xml::parse_mkcol(body);
    let _ = xml::parse_mkcalendar(body);
    let _ = xml::parse_share(body);
    match xml::parse_report(body) {
        Ok(Report::CalendarMultiget {
            calendar_data: Some(data),
            ..
        }) => {
            let _ = calfilter::parse_calendar_data(&data);
        }
        Ok(Report::Other(root)) => {
            if root.is(CALDAV, "calendar-query") {
                let _ = calfilter::parse_calendar_query(&root);
            } else if root.is(CALDAV, "free-busy-query") {
                let _ = calfilter::parse_free_busy_query(&root);
            } else if root.is(CARDDAV, "addressbook-query") {
                let _ = cardfilter::parse_addressbook_query(&root);
            } else if root.is(DAV, "principal-property-search") {
                let _ = xml::parse_principal_property_search(&root);
            }
            // What the tree writes back reads as the same tree.
            let written = root.to_xml();
            let again = xml::parse(written.as_bytes())
                .unwrap_or_else(|e| panic!("the tree's own XML does not parse: {e}\n{written}"));
            assert_eq!(
                again, root,
                "the tree's own XML reads differently:\n{written}"
            );
        }
        _ => {}
    }
});
