//! The snapshot file: header, record digests and writing; the framing is
//! read, and the file scanned, by `projections::snapshot_file` (pure, so
//! that it is fuzzed). The file is self-describing and checked as a whole
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
use events::{EventLog, LogError, LogRecord};
use projections::snapshot_file::{
    self, hex, FileError, ANCHOR_FRAME, END_FRAME, ENTRY_FRAME, LAST_FRAME, MAGIC, VERSION_FRAME,
};
pub use projections::snapshot_file::{Anchor, Frame, SnapshotReader, VersionInfo, FORMAT};
use projections::{BuildState, ProjectionId, StoreError, ViewStore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{0} exists already; a snapshot never overwrites a file")]
    Exists(String),
    /// Damaged, or in another format.
    #[error(transparent)]
    File(#[from] FileError),
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

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VersionSummary {
    pub projection: String,
    pub live: bool,
    pub entries: u64,
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

/// A reader of the snapshot file at `path`.
pub(super) fn open(path: &Path) -> Result<SnapshotReader<BufReader<File>>, SnapshotError> {
    let file = File::open(path).map_err(io(path))?;
    let len = file.metadata().map_err(io(path))?.len();
    let input = BufReader::with_capacity(1 << 20, file);
    Ok(SnapshotReader::new(input, len, path.display().to_string()))
}

/// What a whole, checked pass over a snapshot found.
pub type Scanned = snapshot_file::Scanned<Header>;

/// Reads the whole file once: structure, frame order, entry counts and
/// checksum. Nothing is written.
pub fn scan(path: &Path) -> Result<Scanned, SnapshotError> {
    Ok(snapshot_file::scan(open(path)?)?)
}

/// [`scan`] over `len` bytes from any reader; `name` is what errors call it.
pub fn scan_bytes(input: impl Read, len: u64, name: &str) -> Result<Scanned, SnapshotError> {
    Ok(snapshot_file::scan(SnapshotReader::new(
        input,
        len,
        name.to_string(),
    ))?)
}
