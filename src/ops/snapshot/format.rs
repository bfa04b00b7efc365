//! The snapshot file: framing, header, record digests, writing and a
//! checked scan. The file is self-describing and checked as a whole
//! before anything is restored:
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
//! Integers are big-endian. The header names the log (description, topics,
//! partition counts). The anchors identify the log: for each partition a
//! version had read, a digest of the last record it applied. A restore
//! refuses a log whose partition counts differ or whose records at those
//! offsets are not the same, rather than comparing log descriptions, which
//! name paths: a clone of the log (same records at the same offsets, in
//! another directory) is a valid target, another log is not.

use crate::ops::log::wire::TopicInfo;
use events::{Domain, EventLog, LogError, LogRecord};
use projections::{BuildState, ProjectionId, StoreError, ViewStore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 16] = b"REPRISE-SNAPSHOT";
/// The format this build writes and reads.
pub const FORMAT: u32 = 1;
const VERSION_FRAME: u8 = b'P';
const ENTRY_FRAME: u8 = b'K';
const END_FRAME: u8 = b'E';
const ANCHOR_FRAME: u8 = b'A';
const LAST_FRAME: u8 = b'Z';

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{0} exists already; a snapshot never overwrites a file")]
    Exists(String),
    #[error("{path} is damaged or incomplete ({reason}); nothing was restored")]
    Damaged { path: String, reason: String },
    #[error("{path} is in snapshot format {found}; this build reads format {FORMAT}")]
    Format { path: String, found: u32 },
    #[error(
        "the snapshot holds {id}, a projection version this build does not know (it knows {known}); \
         restore it with the build that took it"
    )]
    UnknownVersion { id: String, known: String },
    #[error("{0}")]
    WrongLog(String),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Log(#[from] LogError),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> SnapshotError + '_ {
    move |e| SnapshotError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// What the header says.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Header {
    pub format: u32,
    /// When the snapshot was taken (RFC 3339).
    pub created: String,
    /// The reprise version that took it.
    pub reprise: String,
    /// The log's description where it was taken (informative).
    pub log: String,
    /// Every topic with its name and partition count.
    pub topics: Vec<TopicInfo>,
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

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VersionSummary {
    pub projection: String,
    pub live: bool,
    pub entries: u64,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A digest of a record's content: what makes it the same record in
/// another copy of the log.
pub fn record_digest(r: &LogRecord) -> String {
    let mut h = Sha256::new();
    h.update(r.timestamp_ms.to_be_bytes());
    h.update((r.key.len() as u64).to_be_bytes());
    h.update(&r.key);
    h.update((r.headers.len() as u64).to_be_bytes());
    for (name, value) in &r.headers {
        h.update((name.len() as u64).to_be_bytes());
        h.update(name.as_bytes());
        h.update((value.len() as u64).to_be_bytes());
        h.update(value);
    }
    h.update((r.value.len() as u64).to_be_bytes());
    h.update(&r.value);
    hex(&h.finalize())
}

pub fn header_of(log: &dyn EventLog) -> Header {
    Header {
        format: FORMAT,
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        reprise: env!("CARGO_PKG_VERSION").to_string(),
        log: log.describe(),
        topics: TopicInfo::all(log),
    }
}

// ------------------------------------------------------------------ writing

/// A snapshot being written: to `FILE.partial-PID`, renamed to `FILE` only
/// once complete and on disk; removed if dropped unfinished.
pub struct SnapshotWriter {
    out: BufWriter<File>,
    hasher: Sha256,
    bytes: u64,
    partial: PathBuf,
    path: PathBuf,
    done: bool,
}

impl SnapshotWriter {
    pub fn create(path: &Path) -> Result<SnapshotWriter, SnapshotError> {
        if path.exists() {
            return Err(SnapshotError::Exists(path.display().to_string()));
        }
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".partial-{}", std::process::id()));
        let partial = path.with_file_name(name);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&partial)
            .map_err(io(path))?;
        Ok(SnapshotWriter {
            out: BufWriter::with_capacity(1 << 20, file),
            hasher: Sha256::new(),
            bytes: 0,
            partial,
            path: path.to_path_buf(),
            done: false,
        })
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        self.hasher.update(bytes);
        self.bytes += bytes.len() as u64;
        self.out.write_all(bytes).map_err(io(&self.partial))
    }

    fn put_len(&mut self, len: usize) -> Result<(), SnapshotError> {
        let len = u32::try_from(len).map_err(|_| SnapshotError::Io {
            path: self.path.display().to_string(),
            reason: format!("a frame of {len} bytes is over the format's 4 GiB limit"),
        })?;
        self.put(&len.to_be_bytes())
    }

    fn put_json<T: Serialize>(&mut self, tag: Option<u8>, value: &T) -> Result<(), SnapshotError> {
        let json = serde_json::to_vec(value).map_err(|e| SnapshotError::Io {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        })?;
        if let Some(tag) = tag {
            self.put(&[tag])?;
        }
        self.put_len(json.len())?;
        self.put(&json)
    }

    pub fn header(&mut self, header: &Header) -> Result<(), SnapshotError> {
        self.put(MAGIC)?;
        self.put(&FORMAT.to_be_bytes())?;
        self.put_json(None, header)
    }

    /// Writes every given version, tree and catalogue state. The caller
    /// keeps the trees still meanwhile (offline, or `with_views_still`).
    pub fn versions(
        &mut self,
        store: &ViewStore,
        ids: &[ProjectionId],
    ) -> Result<(Vec<VersionSummary>, Vec<VersionInfo>), SnapshotError> {
        let mut summaries = Vec::new();
        let mut infos = Vec::new();
        for id in ids {
            let state = store.state(id)?;
            if state != Some(BuildState::Ready) {
                return Err(SnapshotError::Refused(format!(
                    "{id} is not ready (it has not caught up with the log yet); a snapshot holds \
                     served views only: try again once it is"
                )));
            }
            let info = VersionInfo {
                name: id.name.clone(),
                version: id.version,
                state: BuildState::Ready,
                live: store.live(&id.name)? == Some(id.version),
                positions: store
                    .positions(id)?
                    .into_iter()
                    .map(|(tp, next)| (tp.domain, tp.partition, next))
                    .collect(),
            };
            self.put_json(Some(VERSION_FRAME), &info)?;
            let mut entries = 0u64;
            for entry in store.entries(id)? {
                let (k, v) = entry?;
                self.put(&[ENTRY_FRAME])?;
                self.put_len(k.len())?;
                self.put(&k)?;
                self.put_len(v.len())?;
                self.put(&v)?;
                entries += 1;
            }
            self.put(&[END_FRAME])?;
            self.put(&entries.to_be_bytes())?;
            summaries.push(VersionSummary {
                projection: id.to_string(),
                live: info.live,
                entries,
            });
            infos.push(info);
        }
        Ok((summaries, infos))
    }

    /// The anchors, the end, the checksum; then the file takes its name.
    pub fn finish(mut self, anchors: &[Anchor]) -> Result<(u64, String), SnapshotError> {
        self.put_json(Some(ANCHOR_FRAME), &anchors)?;
        self.put(&[LAST_FRAME])?;
        let digest = std::mem::take(&mut self.hasher).finalize();
        self.out.write_all(&digest).map_err(io(&self.partial))?;
        self.out.flush().map_err(io(&self.partial))?;
        self.out.get_ref().sync_all().map_err(io(&self.partial))?;
        if self.path.exists() {
            return Err(SnapshotError::Exists(self.path.display().to_string()));
        }
        std::fs::rename(&self.partial, &self.path).map_err(io(&self.path))?;
        self.done = true;
        Ok((self.bytes + digest.len() as u64, hex(&digest)))
    }
}

impl Drop for SnapshotWriter {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

// ------------------------------------------------------------------ reading

/// Reads a snapshot through the checksum, refusing lengths the rest of the
/// input cannot hold (so a damaged length is reported, not allocated).
pub(super) struct SnapshotReader<R> {
    input: R,
    hasher: Sha256,
    left: u64,
    /// What the errors call the input (the file's path).
    name: String,
}

/// One frame.
pub(super) enum Frame {
    Version(VersionInfo),
    Entry(Vec<u8>, Vec<u8>),
    End(u64),
    Anchors(Vec<Anchor>),
    Last,
}

impl SnapshotReader<BufReader<File>> {
    pub(super) fn open(path: &Path) -> Result<Self, SnapshotError> {
        let file = File::open(path).map_err(io(path))?;
        let len = file.metadata().map_err(io(path))?.len();
        let input = BufReader::with_capacity(1 << 20, file);
        Ok(SnapshotReader::new(input, len, path.display().to_string()))
    }
}

impl<R: Read> SnapshotReader<R> {
    /// A reader of `len` bytes of snapshot.
    pub(super) fn new(input: R, len: u64, name: String) -> Self {
        SnapshotReader {
            input,
            hasher: Sha256::new(),
            left: len,
            name,
        }
    }

    pub(super) fn damaged(&self, reason: impl Into<String>) -> SnapshotError {
        SnapshotError::Damaged {
            path: self.name.clone(),
            reason: reason.into(),
        }
    }

    fn take(&mut self, n: u64) -> Result<Vec<u8>, SnapshotError> {
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

    fn u32(&mut self) -> Result<u32, SnapshotError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, SnapshotError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&b);
        Ok(u64::from_be_bytes(a))
    }

    fn sized(&mut self) -> Result<Vec<u8>, SnapshotError> {
        let n = self.u32()?;
        self.take(u64::from(n))
    }

    fn json<T: serde::de::DeserializeOwned>(&mut self, what: &str) -> Result<T, SnapshotError> {
        let bytes = self.sized()?;
        serde_json::from_slice(&bytes).map_err(|e| self.damaged(format!("{what}: {e}")))
    }

    pub(super) fn header(&mut self) -> Result<Header, SnapshotError> {
        let magic = self
            .take(MAGIC.len() as u64)
            .map_err(|_| self.damaged("too short to be a reprise snapshot"))?;
        if magic != MAGIC {
            return Err(self.damaged("not a reprise snapshot (no REPRISE-SNAPSHOT magic)"));
        }
        let format = self.u32()?;
        if format != FORMAT {
            return Err(SnapshotError::Format {
                path: self.name.clone(),
                found: format,
            });
        }
        self.json("header")
    }

    pub(super) fn frame(&mut self) -> Result<Frame, SnapshotError> {
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
    pub(super) fn check_end(mut self) -> Result<String, SnapshotError> {
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
pub struct Scanned {
    pub header: Header,
    pub versions: Vec<(VersionInfo, u64)>,
    pub anchors: Vec<Anchor>,
    pub sha256: String,
}

/// Reads the whole file once: structure, frame order, entry counts and
/// checksum. Nothing is written.
pub fn scan(path: &Path) -> Result<Scanned, SnapshotError> {
    scan_reader(SnapshotReader::open(path)?)
}

/// [`scan`] over `len` bytes from any reader; `name` is what errors call it.
pub fn scan_bytes(input: impl Read, len: u64, name: &str) -> Result<Scanned, SnapshotError> {
    scan_reader(SnapshotReader::new(input, len, name.to_string()))
}

fn scan_reader<R: Read>(mut r: SnapshotReader<R>) -> Result<Scanned, SnapshotError> {
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

    fn damaged(bytes: &[u8]) -> String {
        match scan_bytes(bytes, bytes.len() as u64, "input") {
            Err(SnapshotError::Damaged { reason, .. }) => reason,
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
        let len = newer.len() as u64;
        assert!(matches!(
            scan_bytes(&newer[..], len, "input"),
            Err(SnapshotError::Format { .. })
        ));
    }
}
