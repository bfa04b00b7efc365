//! The seen-flag decisions, without I/O: what a write may contain, how a
//! UID set is written, which UIDs a CONDSTORE write leaves alone and what
//! "changed since" answers. The handlers in `mod.rs` read the view and
//! append the events these decide.

use super::error::MailError;
use super::types::ChangesAnswer;
use events::uidset::UidSetError;
use events::{AggregateVersion, UidSet};
use projections::seen::{RoaringBitmap, SeenChanges};
use std::fmt::Write as _;

/// The longest mailbox name, in bytes of UTF-8.
pub const MAX_MAILBOX_NAME: usize = 1_000;
/// Ranges one write may name in `add` and `remove` together: keeps its
/// event well under the log's 1 MB record limit.
pub const MAX_WRITE_RANGES: usize = 50_000;
/// What `changed` says when the change list does not reach back far
/// enough: every UID.
const EVERY_UID: &str = "1:4294967295";

/// A validated write to one mailbox: disjoint sets, within the bounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenWrite {
    pub mailbox: String,
    pub add: UidSet,
    pub remove: UidSet,
    pub unchanged_since: Option<AggregateVersion>,
}

/// A mailbox name must be usable as a key part and stay small.
pub fn check_mailbox(name: &str) -> Result<(), MailError> {
    if name.is_empty() {
        return Err(MailError::BadRequest("the mailbox name is empty".into()));
    }
    if name.contains('\0') {
        return Err(MailError::BadRequest(
            "a mailbox name may not contain NUL".into(),
        ));
    }
    if name.len() > MAX_MAILBOX_NAME {
        return Err(MailError::BadRequest(format!(
            "the mailbox name is longer than {MAX_MAILBOX_NAME} bytes"
        )));
    }
    Ok(())
}

/// A UID set from the body; absent and `""` are the empty set (what a
/// read answers for a mailbox with nothing seen).
pub fn parse_set(field: &str, text: Option<&str>) -> Result<UidSet, MailError> {
    match text {
        None | Some("") => Ok(UidSet::default()),
        Some(t) => t
            .parse()
            .map_err(|e: UidSetError| MailError::BadRequest(format!("invalid {field} set: {e}"))),
    }
}

impl SeenWrite {
    pub fn parse(
        mailbox: String,
        add: Option<&str>,
        remove: Option<&str>,
        unchanged_since: Option<u64>,
    ) -> Result<SeenWrite, MailError> {
        check_mailbox(&mailbox)?;
        let add = parse_set("add", add)?;
        let remove = parse_set("remove", remove)?;
        if let Some(uid) = add.first_common(&remove) {
            return Err(MailError::BadRequest(format!(
                "UID {uid} is in both add and remove"
            )));
        }
        if add.ranges().len() + remove.ranges().len() > MAX_WRITE_RANGES {
            return Err(MailError::TooLarge(format!(
                "one write may name at most {MAX_WRITE_RANGES} ranges in add and remove"
            )));
        }
        Ok(SeenWrite {
            mailbox,
            add,
            remove,
            unchanged_since: unchanged_since.map(AggregateVersion),
        })
    }
}

/// The IMAP sequence set of a bitmap (`1:5,9,12:20`; `""` when empty), by
/// runs rather than by UID.
pub fn sequence_set(bitmap: &RoaringBitmap) -> String {
    let mut out = String::new();
    let mut runs = bitmap.iter();
    while let Some(run) = runs.next_range() {
        if !out.is_empty() {
            out.push(',');
        }
        let (a, b) = (*run.start(), *run.end());
        // Writing into a String cannot fail.
        let _ = if a == b {
            write!(out, "{a}")
        } else {
            write!(out, "{a}:{b}")
        };
    }
    out
}

/// Whether applying the write to `seen` would change anything.
pub fn changes_anything(seen: &RoaringBitmap, add: &UidSet, remove: &UidSet) -> bool {
    add.ranges()
        .iter()
        .any(|&(a, b)| !seen.contains_range(a..=b))
        || remove
            .ranges()
            .iter()
            .any(|&(a, b)| seen.range_cardinality(a..=b) > 0)
}

/// The UIDs of `set` that are in `bitmap`, as sorted ranges.
fn intersect(set: &UidSet, bitmap: &RoaringBitmap) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for &(a, b) in set.ranges() {
        let mut runs = bitmap.range(a..=b);
        while let Some(run) = runs.next_range() {
            out.push((*run.start(), *run.end()));
        }
    }
    out
}

/// `set` without the UIDs of `minus` (both sorted and disjoint).
fn subtract(set: &UidSet, minus: &UidSet) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let holes = minus.ranges();
    let mut j = 0;
    for &(a, b) in set.ranges() {
        let mut from = a;
        while j < holes.len() && holes[j].1 < from {
            j += 1;
        }
        let mut k = j;
        let mut whole = true;
        while let Some(&(c, d)) = holes.get(k) {
            if c > b {
                break;
            }
            if c > from {
                out.push((from, c - 1));
            }
            if d >= b {
                whole = false;
                break;
            }
            from = d + 1;
            k += 1;
        }
        if whole {
            out.push((from, b));
        }
    }
    out
}

/// STORE UNCHANGEDSINCE (RFC 7162 §3.1.3) over the change list: a UID
/// whose seen state changed after the given modseq is left as it is and
/// reported as modified; when the change list does not reach back that
/// far, every UID of the write is. Returns what may still be written
/// (add, remove) and the modified UIDs.
pub fn condstore(
    add: &UidSet,
    remove: &UidSet,
    changes: &SeenChanges,
) -> Result<(UidSet, UidSet, UidSet), UidSetError> {
    let modified = if changes.complete {
        let mut both = intersect(add, &changes.changed);
        both.extend(intersect(remove, &changes.changed));
        UidSet::from_ranges(both)?
    } else {
        UidSet::from_ranges(add.ranges().iter().chain(remove.ranges()).copied())?
    };
    if modified.is_empty() {
        return Ok((add.clone(), remove.clone(), modified));
    }
    let add = UidSet::from_ranges(subtract(add, &modified))?;
    let remove = UidSet::from_ranges(subtract(remove, &modified))?;
    Ok((add, remove, modified))
}

/// The answer to "what changed since": when the change list does not
/// reach back far enough, every UID counts as changed.
pub(super) fn changes_answer(mailbox: String, changes: &SeenChanges) -> ChangesAnswer {
    let changed = if changes.complete {
        sequence_set(&changes.changed)
    } else {
        EVERY_UID.to_string()
    };
    let seen = if changes.complete {
        sequence_set(&(&changes.changed & &changes.seen))
    } else {
        sequence_set(&changes.seen)
    };
    ChangesAnswer {
        mailbox,
        modseq: changes.modseq.0,
        changed,
        seen,
        complete: changes.complete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &str) -> UidSet {
        parse_set("test", Some(s)).unwrap()
    }

    fn bitmap(s: &str) -> RoaringBitmap {
        let mut b = RoaringBitmap::new();
        for &(x, y) in set(s).ranges() {
            b.insert_range(x..=y);
        }
        b
    }

    fn bad(e: Result<impl std::fmt::Debug, MailError>) -> String {
        match e {
            Err(MailError::BadRequest(m)) => m,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn sequence_sets_are_written_by_runs() {
        assert_eq!(sequence_set(&RoaringBitmap::new()), "");
        assert_eq!(sequence_set(&bitmap("1:5,9,12:20")), "1:5,9,12:20");
        assert_eq!(
            sequence_set(&bitmap("4294967290:4294967295,1")),
            "1,4294967290:4294967295"
        );
        // Runs across the bitmap's 65,536-UID containers stay one range.
        let mut big = bitmap("1:200000");
        big.remove(70_000);
        big.optimize();
        assert_eq!(sequence_set(&big), "1:69999,70001:200000");
    }

    #[test]
    fn writes_are_checked_before_anything_happens() {
        let w = SeenWrite::parse("INBOX".into(), Some("1:5,9"), Some("7"), Some(3)).unwrap();
        assert_eq!(w.add, set("1:5,9"));
        assert_eq!(w.unchanged_since, Some(AggregateVersion(3)));
        let none = SeenWrite::parse("Sent".into(), None, Some(""), None).unwrap();
        assert!(none.add.is_empty() && none.remove.is_empty());
        assert!(
            bad(SeenWrite::parse("INBOX".into(), Some("5:"), None, None))
                .contains("\"5:\" is not a UID")
        );
        assert!(bad(SeenWrite::parse("INBOX".into(), None, Some("0"), None)).contains("UID 0"));
        assert!(bad(SeenWrite::parse(
            "INBOX".into(),
            Some("1:4294967296"),
            None,
            None
        ))
        .contains("above the highest UID"));
        assert!(
            bad(SeenWrite::parse("INBOX".into(), Some("1:*"), None, None)).contains("explicit")
        );
        assert!(bad(SeenWrite::parse(
            "INBOX".into(),
            Some("1:5"),
            Some("5:9"),
            None
        ))
        .contains("UID 5 is in both"));
        assert!(bad(SeenWrite::parse(String::new(), Some("1"), None, None)).contains("empty"));
        assert!(bad(SeenWrite::parse("a\0b".into(), Some("1"), None, None)).contains("NUL"));
        assert!(bad(SeenWrite::parse("x".repeat(1001), Some("1"), None, None)).contains("longer"));
        // 30,000 ranges each: within a set's bound, over a write's.
        let spaced = |first: u32| {
            (0..30_000)
                .map(|n| (first + 2 * n).to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        assert!(matches!(
            SeenWrite::parse(
                "INBOX".into(),
                Some(&spaced(1)),
                Some(&spaced(100_001)),
                None
            ),
            Err(MailError::TooLarge(_))
        ));
    }

    #[test]
    fn subtraction_splits_ranges() {
        let minus = |a: &str, b: &str| UidSet::from_ranges(subtract(&set(a), &set(b))).unwrap();
        assert_eq!(minus("1:10", "3,5:6").to_string(), "1:2,4,7:10");
        assert_eq!(minus("1:10,20:30", "5:25").to_string(), "1:4,26:30");
        assert_eq!(minus("1:10", "1:10").to_string(), "");
        assert_eq!(minus("5", "1:4,6:9").to_string(), "5");
        assert_eq!(
            minus("1:4294967295", "4294967295").to_string(),
            "1:4294967294"
        );
    }

    fn changes(changed: &str, seen: &str, complete: bool) -> SeenChanges {
        SeenChanges {
            modseq: AggregateVersion(9),
            seen: bitmap(seen),
            changed: if changed.is_empty() {
                RoaringBitmap::new()
            } else {
                bitmap(changed)
            },
            complete,
        }
    }

    #[test]
    fn condstore_leaves_out_what_changed_since() {
        // 7 and 9 changed after UNCHANGEDSINCE: neither is written, both
        // are reported; 8 never changed.
        let (add, remove, modified) =
            condstore(&set("1:8"), &set("9"), &changes("7,9,30", "1:3", true)).unwrap();
        assert_eq!(add.to_string(), "1:6,8");
        assert_eq!(remove.to_string(), "");
        assert_eq!(modified.to_string(), "7,9");
        let (add, remove, modified) =
            condstore(&set("1:3"), &set("4"), &changes("", "", true)).unwrap();
        assert_eq!(
            (add.to_string(), remove.to_string()),
            ("1:3".into(), "4".into())
        );
        assert!(modified.is_empty());
        // History shorter than asked: every UID of the write is modified.
        let (add, remove, modified) =
            condstore(&set("1:3"), &set("5"), &changes("", "", false)).unwrap();
        assert!(add.is_empty() && remove.is_empty());
        assert_eq!(modified.to_string(), "1:3,5");
    }

    #[test]
    fn only_writes_that_change_something_are_appended() {
        let seen = bitmap("1:10");
        assert!(!changes_anything(&seen, &set("2:5"), &set("11:20")));
        assert!(changes_anything(&seen, &set("10:11"), &UidSet::default()));
        assert!(changes_anything(&seen, &UidSet::default(), &set("10")));
    }

    #[test]
    fn changes_beyond_the_history_mean_everything() {
        let recent = changes_answer("INBOX".into(), &changes("3:5", "1:4", true));
        assert_eq!(
            (recent.changed.as_str(), recent.seen.as_str()),
            ("3:5", "3:4")
        );
        let old = changes_answer("INBOX".into(), &changes("", "1:4", false));
        assert_eq!(old.changed, EVERY_UID);
        assert_eq!(old.seen, "1:4");
        assert!(!old.complete);
    }
}
