//! IMAP sequence sets as the mail API reads them (`1:5,9,12:20`), and as
//! events carry them (a list of ranges): what parses prints back as the
//! same set, and the set's invariants hold.
#![no_main]

use events::uidset::UidSet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(set) = text.parse::<UidSet>() else {
        return;
    };
    let ranges = set.ranges();
    for (i, &(a, b)) in ranges.iter().enumerate() {
        assert!(a >= 1 && a <= b, "{text:?}: range {a}:{b}");
        if let Some(&(next, _)) = ranges.get(i + 1) {
            assert!(
                u64::from(b) + 1 < u64::from(next),
                "{text:?}: ranges not disjoint"
            );
        }
    }
    let printed = set.to_string();
    assert_eq!(
        printed.parse::<UidSet>().as_ref(),
        Ok(&set),
        "{text:?} printed as {printed:?}"
    );
    assert_eq!(
        UidSet::from_ranges(ranges.iter().copied()).as_ref(),
        Ok(&set)
    );
    let _ = set.len();
    let _ = set.first_common(&set);
});
