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

/// Where a reader of the log gets the payloads events keep in the object
/// store, when it needs their bytes (a projection indexing a calendar
/// object stored there). Blocking: it is called from the threads that
/// apply events. Implemented over the store by `reprise-objects`.
pub trait PayloadSource: Send + Sync {
    /// The bytes of `object`, checked against it (size and SHA-256).
    fn fetch(&self, object: &ObjectRef) -> Result<Vec<u8>, String>;
}

/// Why an event's stored payload could not be put back in it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResolveError {
    #[error(
        "the event's body is object {0} of the object store, and this reader has no object \
         store: give it the installation's --object-store"
    )]
    NoSource(ObjectId),
    /// The store failed or the object is missing or damaged: the reader
    /// waits and retries rather than apply the event without it.
    #[error("reading object {object} from the object store: {reason}")]
    Fetch { object: ObjectId, reason: String },
    #[error("object {0} should be the text of a calendar object or vCard and is not UTF-8")]
    NotText(ObjectId),
}

/// Fetches a stored text body.
pub(crate) fn fetch_text(
    source: Option<&dyn PayloadSource>,
    object: &ObjectRef,
) -> Result<String, ResolveError> {
    let source = source.ok_or(ResolveError::NoSource(object.sha256))?;
    let bytes = source.fetch(object).map_err(|reason| ResolveError::Fetch {
        object: object.sha256,
        reason,
    })?;
    String::from_utf8(bytes).map_err(|_| ResolveError::NotText(object.sha256))
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
