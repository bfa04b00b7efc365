//! Reading the snapshot file: its framing, the frames, and a checked scan.
//! Pure over any [`Read`], so that a fuzzer and the tests read it as
//! `reprise snapshot restore` does; opening, writing and the header's
//! content (which names the log) are the binary's (`src/ops/snapshot`).
//!
//! ```text
//! "REPRISE-SNAPSHOT" | format u32 | header length u32 | header (JSON)
//! frames: 'P' len u32 + version (JSON: name, version, state, live, positions)
//!         'K' key len u32 + key + value len u32 + value   (every entry of its tree)
//!         'E' entries u64                                 (end of the version)
//!         'A' len u32 + anchors (JSON)                    (after every version)
//!         'Z'                                             (end of the frames)
//! SHA-256 of every byte before it
//! ```
//!
//! Integers are big-endian.

use crate::{BuildState, ProjectionId};
use events::Domain;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;

pub const MAGIC: &[u8; 16] = b"REPRISE-SNAPSHOT";
/// The format this build writes and reads.
pub const FORMAT: u32 = 1;
pub const VERSION_FRAME: u8 = b'P';
pub const ENTRY_FRAME: u8 = b'K';
pub const END_FRAME: u8 = b'E';
pub const ANCHOR_FRAME: u8 = b'A';
pub const LAST_FRAME: u8 = b'Z';

/// Why a snapshot file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path} is damaged or incomplete ({reason}); nothing was restored")]
    Damaged { path: String, reason: String },
    #[error("{path} is in snapshot format {found}; this build reads format {FORMAT}")]
    Format { path: String, found: u32 },
}

/// A projection version in the file: its catalogue state and positions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VersionInfo {
    pub name: String,
    pub version: u32,
    pub state: BuildState,
    pub live: bool,
    /// The next offset of every partition it has read.
    pub positions: Vec<(Domain, u32, u64)>,
}

impl VersionInfo {
    pub fn id(&self) -> ProjectionId {
        ProjectionId::new(&self.name, self.version)
    }
}

/// The last record a version applied in one partition, by digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub domain: Domain,
    pub partition: u32,
    pub offset: u64,
    pub record_sha256: String,
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a snapshot through the checksum, refusing lengths the rest of the
/// input cannot hold (so a damaged length is reported, not allocated).
pub struct SnapshotReader<R> {
    input: R,
    hasher: Sha256,
    left: u64,
    /// What the errors call the input (the file's path).
    name: String,
}

/// One frame.
pub enum Frame {
    Version(VersionInfo),
    Entry(Vec<u8>, Vec<u8>),
    End(u64),
    Anchors(Vec<Anchor>),
    Last,
}

impl<R: Read> SnapshotReader<R> {
    /// A reader of `len` bytes of snapshot.
    pub fn new(input: R, len: u64, name: String) -> Self {
        SnapshotReader {
            input,
            hasher: Sha256::new(),
            left: len,
            name,
        }
    }

    pub fn damaged(&self, reason: impl Into<String>) -> FileError {
        FileError::Damaged {
            path: self.name.clone(),
            reason: reason.into(),
        }
    }

    fn take(&mut self, n: u64) -> Result<Vec<u8>, FileError> {
        // The checksum's 32 bytes always follow.
        if n.saturating_add(32) > self.left {
            return Err(self.damaged("cut short"));
        }
        let mut buf = vec![0u8; n as usize];
        self.input
            .read_exact(&mut buf)
            .map_err(|e| self.damaged(format!("reading: {e}")))?;
        self.left -= n;
        self.hasher.update(&buf);
        Ok(buf)
    }

    fn u32(&mut self) -> Result<u32, FileError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, FileError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&b);
        Ok(u64::from_be_bytes(a))
    }

    fn sized(&mut self) -> Result<Vec<u8>, FileError> {
        let n = self.u32()?;
        self.take(u64::from(n))
    }

    fn json<T: DeserializeOwned>(&mut self, what: &str) -> Result<T, FileError> {
        let bytes = self.sized()?;
        serde_json::from_slice(&bytes).map_err(|e| self.damaged(format!("{what}: {e}")))
    }

    /// The magic, the format and the header, whose type the caller names.
    pub fn header<H: DeserializeOwned>(&mut self) -> Result<H, FileError> {
        let magic = self
            .take(MAGIC.len() as u64)
            .map_err(|_| self.damaged("too short to be a reprise snapshot"))?;
        if magic != MAGIC {
            return Err(self.damaged("not a reprise snapshot (no REPRISE-SNAPSHOT magic)"));
        }
        let format = self.u32()?;
        if format != FORMAT {
            return Err(FileError::Format {
                path: self.name.clone(),
                found: format,
            });
        }
        self.json("header")
    }

    pub fn frame(&mut self) -> Result<Frame, FileError> {
        let tag = self.take(1)?[0];
        Ok(match tag {
            VERSION_FRAME => Frame::Version(self.json("version frame")?),
            ENTRY_FRAME => {
                let k = self.sized()?;
                let v = self.sized()?;
                Frame::Entry(k, v)
            }
            END_FRAME => Frame::End(self.u64()?),
            ANCHOR_FRAME => Frame::Anchors(self.json("anchors")?),
            LAST_FRAME => Frame::Last,
            other => return Err(self.damaged(format!("unknown frame {other:#04x}"))),
        })
    }

    /// After the last frame: the checksum, then nothing.
    pub fn check_end(mut self) -> Result<String, FileError> {
        let mut stored = [0u8; 32];
        self.input
            .read_exact(&mut stored)
            .map_err(|_| self.damaged("the checksum is missing"))?;
        let computed = std::mem::take(&mut self.hasher).finalize();
        if computed.as_slice() != stored {
            return Err(self.damaged("the SHA-256 checksum does not match the content"));
        }
        if self.left != 32 {
            return Err(self.damaged("bytes after the checksum"));
        }
        Ok(hex(&computed))
    }
}

/// What a whole, checked pass over a snapshot found.
pub struct Scanned<H> {
    pub header: H,
    pub versions: Vec<(VersionInfo, u64)>,
    pub anchors: Vec<Anchor>,
    pub sha256: String,
}

/// Reads the whole snapshot once: structure, frame order, entry counts and
/// checksum.
pub fn scan<H: DeserializeOwned, R: Read>(
    mut r: SnapshotReader<R>,
) -> Result<Scanned<H>, FileError> {
    let header = r.header()?;
    let mut versions: Vec<(VersionInfo, u64)> = Vec::new();
    let mut open: Option<(VersionInfo, u64)> = None;
    let mut anchors = None;
    loop {
        match r.frame()? {
            Frame::Version(info) if open.is_none() && anchors.is_none() => {
                open = Some((info, 0));
            }
            Frame::Entry(..) if open.is_some() => {
                if let Some((_, n)) = open.as_mut() {
                    *n += 1;
                }
            }
            Frame::End(count) => match open.take() {
                Some((info, n)) if n == count => versions.push((info, n)),
                Some((info, n)) => {
                    return Err(r.damaged(format!("{} has {n} entries but says {count}", info.id())))
                }
                None => return Err(r.damaged("an end frame outside a version")),
            },
            Frame::Anchors(a) if open.is_none() && anchors.is_none() => anchors = Some(a),
            Frame::Last if open.is_none() && anchors.is_some() => break,
            _ => return Err(r.damaged("frames out of order")),
        }
    }
    let sha256 = r.check_end()?;
    Ok(Scanned {
        header,
        versions,
        anchors: anchors.unwrap_or_default(),
        sha256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_bytes(bytes: &[u8]) -> Result<Scanned<serde_json::Value>, FileError> {
        scan(SnapshotReader::new(
            bytes,
            bytes.len() as u64,
            "input".into(),
        ))
    }

    fn damaged(bytes: &[u8]) -> String {
        match scan_bytes(bytes) {
            Err(FileError::Damaged { reason, .. }) => reason,
            Err(e) => panic!("not refused as damaged: {e}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn inputs_that_are_not_whole_snapshots_are_refused_with_the_reason() {
        assert!(damaged(b"").contains("too short"));
        assert!(damaged(&[b'x'; 64]).contains("no REPRISE-SNAPSHOT magic"));
        let mut cut = MAGIC.to_vec();
        cut.extend(FORMAT.to_be_bytes());
        cut.extend(1_000u32.to_be_bytes());
        cut.extend([0u8; 40]);
        assert!(damaged(&cut).contains("cut short"));
        let mut newer = MAGIC.to_vec();
        newer.extend((FORMAT + 1).to_be_bytes());
        newer.extend([0u8; 40]);
        assert!(matches!(scan_bytes(&newer), Err(FileError::Format { .. })));
    }
}
