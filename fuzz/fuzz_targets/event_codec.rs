//! The CBOR event decoder with its upcaster chain, as a log reader meets a
//! record: the first byte picks the schema header (none, or a version),
//! the rest is the record's value. What decodes encodes and decodes again
//! to the same event.
#![no_main]

use events::codec::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, value)) = data.split_first() else {
        return;
    };
    // 0: no header (the version is read from the body); 1 to 3: the known
    // schema versions; anything else a version no build wrote.
    let hint = match selector {
        0 => None,
        n @ 1..=3 => Some(u32::from(n)),
        n => Some(u32::from(n) << 8),
    };
    let Ok(event) = decode(value, hint) else {
        return;
    };
    let record = encode(&event);
    let again = decode(&record.value, Some(events::codec::CURRENT_SCHEMA_VERSION))
        .unwrap_or_else(|e| panic!("a decoded event does not decode once encoded: {e}"));
    assert_eq!(
        encode(&again).value,
        record.value,
        "the event changed through encoding"
    );
});
