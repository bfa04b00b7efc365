//! The DAV URL space: percent-decoding and which resource a request path
//! names. A path that parses names no traversal, and its canonical href
//! names the same resource.
#![no_main]

use formats::davpath::{encode_segment, href_path, DavPath};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    let _ = encode_segment(path);
    let path = href_path(path);
    let Ok(parsed) = DavPath::parse(path) else {
        return;
    };
    let href = parsed.href();
    assert_eq!(
        DavPath::parse(&href).as_ref(),
        Ok(&parsed),
        "{path:?} is written back as {href:?}"
    );
});
