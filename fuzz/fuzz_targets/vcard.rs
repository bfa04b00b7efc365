//! vCard as a client PUTs it and as an export is imported: the validator,
//! the property list addressbook-query reads, `split_cards` and `with_uid`.
#![no_main]

use formats::vcard::{properties, split_cards, validate_card, with_uid};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = validate_card(text);
    let _ = properties(text);
    let _ = with_uid(text, "fuzz-uid");
    let _ = split_cards(text);
});
