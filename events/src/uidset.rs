//! A set of IMAP message UIDs as sorted, disjoint, inclusive ranges, written
//! in IMAP sequence-set syntax (`1:5,9,12:20`, RFC 3501 section 9).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How many ranges one set may hold; bounds the size of one event.
pub const MAX_RANGES: usize = 100_000;

/// Sorted, non-overlapping, non-adjacent inclusive UID ranges. UID 0 does
/// not exist in IMAP and is never a member.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<(u32, u32)>", into = "Vec<(u32, u32)>")]
pub struct UidSet {
    ranges: Vec<(u32, u32)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UidSetError {
    #[error("empty sequence set")]
    Empty,
    /// The part of the set that is neither `n` nor `n:m`.
    #[error("{0:?} is not a UID: expected a number from 1 to 4294967295, or a range n:m")]
    NotAUid(String),
    #[error("{0} is above the highest UID, 4294967295")]
    TooLarge(String),
    #[error("`*` is not accepted: UIDs must be explicit")]
    Star,
    #[error("UID 0 does not exist")]
    Zero,
    #[error("range {0}:{1} is reversed")]
    Reversed(u32, u32),
    #[error("more than {MAX_RANGES} ranges in one set")]
    TooManyRanges,
}

impl UidSet {
    /// Builds a set from arbitrary ranges, normalising order and overlaps.
    pub fn from_ranges(
        ranges: impl IntoIterator<Item = (u32, u32)>,
    ) -> Result<UidSet, UidSetError> {
        let mut raw: Vec<(u32, u32)> = Vec::new();
        for (a, b) in ranges {
            if a == 0 || b == 0 {
                return Err(UidSetError::Zero);
            }
            if a > b {
                return Err(UidSetError::Reversed(a, b));
            }
            raw.push((a, b));
            if raw.len() > MAX_RANGES {
                return Err(UidSetError::TooManyRanges);
            }
        }
        raw.sort_unstable();
        let mut ranges: Vec<(u32, u32)> = Vec::with_capacity(raw.len());
        for (a, b) in raw {
            match ranges.last_mut() {
                Some(last) if u64::from(a) <= u64::from(last.1) + 1 => last.1 = last.1.max(b),
                _ => ranges.push((a, b)),
            }
        }
        Ok(UidSet { ranges })
    }

    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.ranges
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The number of UIDs in the set.
    pub fn len(&self) -> u64 {
        self.ranges
            .iter()
            .map(|&(a, b)| u64::from(b) - u64::from(a) + 1)
            .sum()
    }

    /// The smallest UID in both sets, if any.
    pub fn first_common(&self, other: &UidSet) -> Option<u32> {
        let (mut i, mut j) = (0, 0);
        while let (Some(&(a, b)), Some(&(c, d))) = (self.ranges.get(i), other.ranges.get(j)) {
            if a.max(c) <= b.min(d) {
                return Some(a.max(c));
            }
            if b < d {
                i += 1;
            } else {
                j += 1;
            }
        }
        None
    }
}

impl TryFrom<Vec<(u32, u32)>> for UidSet {
    type Error = UidSetError;
    fn try_from(ranges: Vec<(u32, u32)>) -> Result<Self, Self::Error> {
        UidSet::from_ranges(ranges)
    }
}

impl From<UidSet> for Vec<(u32, u32)> {
    fn from(set: UidSet) -> Self {
        set.ranges
    }
}

impl FromStr for UidSet {
    type Err = UidSetError;

    /// Parses `1:5,9,12:20`. A range may be written high-to-low (`5:1`),
    /// as IMAP allows; `*` is refused because a stored set must be explicit.
    /// Errors name the offending part as the client wrote it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().is_empty() {
            return Err(UidSetError::Empty);
        }
        let mut ranges = Vec::new();
        for part in s.split(',') {
            let uid = |t: &str| -> Result<u32, UidSetError> {
                if t == "*" {
                    return Err(UidSetError::Star);
                }
                if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(UidSetError::NotAUid(part.to_string()));
                }
                match t.parse::<u32>() {
                    Ok(0) => Err(UidSetError::Zero),
                    Ok(n) => Ok(n),
                    // Only digits, so the number is too large for a u32.
                    Err(_) => Err(UidSetError::TooLarge(t.to_string())),
                }
            };
            let range = match part.split_once(':') {
                Some((a, b)) => {
                    let (a, b) = (uid(a)?, uid(b)?);
                    (a.min(b), a.max(b))
                }
                None => {
                    let n = uid(part)?;
                    (n, n)
                }
            };
            ranges.push(range);
            if ranges.len() > MAX_RANGES {
                return Err(UidSetError::TooManyRanges);
            }
        }
        UidSet::from_ranges(ranges)
    }
}

impl fmt::Display for UidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(a, b)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if a == b {
                write!(f, "{a}")?;
            } else {
                write!(f, "{a}:{b}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let s: UidSet = "12:20,1:5,9,6,21".parse().unwrap();
        assert_eq!(s.to_string(), "1:6,9,12:21");
        assert_eq!(s.len(), 6 + 1 + 10);
        let r: UidSet = "5:1".parse().unwrap();
        assert_eq!(r.to_string(), "1:5");
        let max: UidSet = "4294967295".parse().unwrap();
        assert_eq!(max.ranges(), &[(u32::MAX, u32::MAX)]);
    }

    #[test]
    fn refuses_bad_sets() {
        for bad in [
            "",
            "5:",
            "0",
            "a",
            "1,,2",
            "4294967296",
            "1:4294967296",
            "*",
            "-1",
            "1:*",
        ] {
            assert!(bad.parse::<UidSet>().is_err(), "{bad:?} accepted");
        }
        assert_eq!("0".parse::<UidSet>(), Err(UidSetError::Zero));
    }

    #[test]
    fn errors_name_what_the_client_wrote() {
        let message = |s: &str| s.parse::<UidSet>().unwrap_err().to_string();
        assert!(
            message("5:").starts_with("\"5:\" is not a UID"),
            "{}",
            message("5:")
        );
        assert!(message("1,a").starts_with("\"a\" is not a UID"));
        assert_eq!(
            message("1:4294967296"),
            "4294967296 is above the highest UID, 4294967295"
        );
        assert_eq!("1:*".parse::<UidSet>(), Err(UidSetError::Star));
        assert_eq!("*".parse::<UidSet>(), Err(UidSetError::Star));
        let many = (1..=MAX_RANGES as u32 + 1)
            .map(|n| (2 * n).to_string())
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(many.parse::<UidSet>(), Err(UidSetError::TooManyRanges));
    }

    #[test]
    fn finds_the_first_common_uid() {
        let set = |s: &str| s.parse::<UidSet>().unwrap();
        assert_eq!(set("1:5,9").first_common(&set("6:8,10")), None);
        assert_eq!(set("1:5,9").first_common(&set("6:9")), Some(9));
        assert_eq!(set("3:7").first_common(&set("1:4")), Some(3));
        assert_eq!(set("1").first_common(&UidSet::default()), None);
    }

    #[test]
    fn deserialising_checks_invariants() {
        let mut buf = Vec::new();
        ciborium::into_writer(&vec![(5u32, 1u32)], &mut buf).unwrap();
        assert!(ciborium::from_reader::<UidSet, _>(&buf[..]).is_err());
    }
}
