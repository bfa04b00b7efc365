//! References to immutable payloads kept in the object store: the log
//! carries an [`ObjectRef`] (the SHA-256 of the bytes and their length),
//! never the bytes. The store itself is the `reprise-objects` crate; this
//! is only the vocabulary, so that events and views can name an object.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The SHA-256 of an object's bytes: its name in the store.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ObjectId(#[serde(with = "serde_bytes")] pub [u8; 32]);

impl ObjectId {
    /// Lower-case hex, 64 characters: how the store's keys and every
    /// message spell it.
    pub fn hex(&self) -> String {
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        out
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({})", self.hex())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a SHA-256 in hex (64 characters 0-9a-f): {0:?}")]
pub struct BadObjectId(pub String);

impl FromStr for ObjectId {
    type Err = BadObjectId;

    fn from_str(s: &str) -> Result<ObjectId, BadObjectId> {
        let bad = || BadObjectId(s.chars().take(80).collect());
        let digits = s.as_bytes();
        if digits.len() != 64 {
            return Err(bad());
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut id = [0u8; 32];
        for (i, pair) in digits.chunks_exact(2).enumerate() {
            id[i] = (nibble(pair[0]).ok_or_else(bad)? << 4) | nibble(pair[1]).ok_or_else(bad)?;
        }
        Ok(ObjectId(id))
    }
}

/// What an event says of a payload it keeps in the object store: which
/// object, and how long it is (checked on write and on every read).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    pub sha256: ObjectId,
    pub size: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_what_is_not_a_digest() {
        let id = ObjectId([0xab; 32]);
        assert_eq!(id.hex(), "ab".repeat(32));
        assert_eq!(id.hex().parse::<ObjectId>(), Ok(id));
        assert!("AB".repeat(32).parse::<ObjectId>().is_err());
        assert!("ab".repeat(31).parse::<ObjectId>().is_err());
        assert!("zz".repeat(32).parse::<ObjectId>().is_err());
    }

    #[test]
    fn a_reference_is_small_in_cbor() {
        let r = ObjectRef {
            sha256: ObjectId([7; 32]),
            size: 20 << 20,
        };
        let mut bytes = Vec::new();
        ciborium::into_writer(&r, &mut bytes).unwrap();
        assert!(bytes.len() < 60, "{} bytes", bytes.len());
        let back: ObjectRef = ciborium::from_reader(bytes.as_slice()).unwrap();
        assert_eq!(back, r);
    }
}
