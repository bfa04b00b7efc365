//! A fuzzed vCard against a fuzzed addressbook-query, as
//! `src/http/dav/read.rs` evaluates it: the filter (text-match with
//! collations, param-filters), then the selected properties. The input is
//! the REPORT body, a NUL byte, then the card.
#![no_main]

use formats::cardfilter::{parse_addressbook_query, select_properties};
use formats::vcard::properties;
use formats::xml;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(split) = data.iter().position(|&b| b == 0) else {
        return;
    };
    let (body, card) = (&data[..split], &data[split + 1..]);
    let Ok(card) = std::str::from_utf8(card) else {
        return;
    };
    let Ok(root) = xml::parse(body) else {
        return;
    };
    let Ok(query) = parse_addressbook_query(&root) else {
        return;
    };
    let Ok(card) = properties(card) else {
        return;
    };
    if query.filter.matches(&card) {
        if let Some(selected) = &query.address_data_props {
            let _ = select_properties(&card, selected);
        }
    }
});
