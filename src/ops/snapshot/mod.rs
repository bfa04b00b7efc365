//! `reprise snapshot create|restore`: a consistent copy of the served
//! projection versions in one file, so that a data directory that lost its
//! views (or a new one over the same log, or a clone of it) starts from the
//! snapshot's positions and replays only the log's tail instead of all of it.
//!
//! The file is self-describing and checked as a whole before anything is
//! restored:
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

use crate::cli::LogArgs;
use crate::cli::SnapshotCommand;
use crate::ops::log::wire::TopicInfo;
use anyhow::{bail, Context};
use events::log::{ReadStart, TopicPartition};
use events::{Domain, EventLog, LogError, LogRecord};
use projections::{registry, BuildState, ProjectionId, StoreError, ViewStore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MAGIC: &[u8; 16] = b"REPRISE-SNAPSHOT";
/// The format this build writes and reads.
pub const FORMAT: u32 = 1;
const VERSION_FRAME: u8 = b'P';
const ENTRY_FRAME: u8 = b'K';
const END_FRAME: u8 = b'E';
const ANCHOR_FRAME: u8 = b'A';
const LAST_FRAME: u8 = b'Z';
/// Entries per write batch while restoring.
const RESTORE_CHUNK: usize = 10_000;
/// The staging view database a restore writes before renaming it `views`.
const STAGING: &str = "views.restoring";

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
    fn id(&self) -> ProjectionId {
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

/// What `create` reports.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Created {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
    pub log: String,
    pub versions: Vec<VersionSummary>,
    pub seconds: f64,
    /// How long the served views were held still (writers waited).
    pub held_seconds: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
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

/// The records at the wanted positions, several in one partition allowed
/// (None where the log has no record there): one reader per round, each
/// round taking at most one offset per partition.
async fn records_at(
    log: &Arc<dyn EventLog>,
    wanted: &[(TopicPartition, u64)],
) -> Result<BTreeMap<(TopicPartition, u64), Option<LogRecord>>, LogError> {
    let mut found = BTreeMap::new();
    let mut rest = wanted.to_vec();
    while !rest.is_empty() {
        let mut round: Vec<(TopicPartition, u64)> = Vec::new();
        let mut later = Vec::new();
        for (tp, offset) in rest {
            if round.iter().any(|(t, _)| *t == tp) {
                later.push((tp, offset));
            } else {
                round.push((tp, offset));
            }
        }
        let read = one_record_per_partition(log.clone(), round.clone()).await?;
        for (tp, offset) in round {
            found.insert((tp, offset), read.get(&tp).cloned().flatten());
        }
        rest = later;
    }
    Ok(found)
}

/// The wanted record of each partition, read from the log (None where the
/// log has no record at that offset).
async fn one_record_per_partition(
    log: Arc<dyn EventLog>,
    wanted: Vec<(TopicPartition, u64)>,
) -> Result<BTreeMap<TopicPartition, Option<LogRecord>>, LogError> {
    if wanted.is_empty() {
        return Ok(BTreeMap::new());
    }
    let task = tokio::task::spawn_blocking(move || {
        let starts: Vec<ReadStart> = wanted
            .iter()
            .map(|&(topic_partition, offset)| ReadStart {
                topic_partition,
                offset,
            })
            .collect();
        let want: BTreeMap<TopicPartition, u64> = wanted.into_iter().collect();
        let mut found: BTreeMap<TopicPartition, Option<LogRecord>> = BTreeMap::new();
        let mut reader = log.reader(&starts)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while found.len() < want.len() {
            let batch = reader.poll(64, Duration::from_millis(200))?;
            let empty = batch.records.is_empty();
            for r in batch.records {
                let tp = TopicPartition {
                    domain: r.domain,
                    partition: r.partition,
                };
                if let (Some(&offset), false) = (want.get(&tp), found.contains_key(&tp)) {
                    let hit = r.offset == offset;
                    found.insert(tp, hit.then_some(r));
                }
            }
            if (empty && batch.caught_up) || Instant::now() > deadline {
                break;
            }
        }
        for tp in want.keys() {
            found.entry(*tp).or_insert(None);
        }
        Ok(found)
    });
    task.await.map_err(|e| LogError::Storage {
        path: "the snapshot".into(),
        reason: format!("a read task failed: {e}"),
    })?
}

/// The anchors of the written versions: the last record each applied in
/// each partition.
pub async fn anchors(
    log: Arc<dyn EventLog>,
    infos: &[VersionInfo],
) -> Result<Vec<Anchor>, SnapshotError> {
    let mut wanted: Vec<(TopicPartition, u64)> = Vec::new();
    for info in infos {
        for &(domain, partition, next) in &info.positions {
            if next > 0 {
                wanted.push((TopicPartition { domain, partition }, next - 1));
            }
        }
    }
    wanted.sort();
    wanted.dedup();
    // Two versions of one projection may stand at different offsets of a
    // partition.
    let found = records_at(&log, &wanted).await?;
    let mut anchors = Vec::new();
    for (tp, offset) in wanted {
        let record = found
            .get(&(tp, offset))
            .and_then(Option::as_ref)
            .ok_or_else(|| {
                SnapshotError::Refused(format!(
                    "the log has no record at {}/{} offset {offset}, which the views applied",
                    tp.domain, tp.partition
                ))
            })?;
        anchors.push(Anchor {
            domain: tp.domain,
            partition: tp.partition,
            offset,
            record_sha256: record_digest(record),
        });
    }
    Ok(anchors)
}

/// The versions a stopped data directory serves: per projection, its live
/// version, which this build must know.
pub fn served_versions(store: &ViewStore) -> Result<Vec<ProjectionId>, SnapshotError> {
    let mut ids = Vec::new();
    for p in registry::current() {
        let Some(live) = store.live(p.name())? else {
            return Err(SnapshotError::Refused(format!(
                "{} has no live {} view: build the views first (`reprise rebuild`, or `serve` \
                 until ready)",
                store.path().display(),
                p.name()
            )));
        };
        if registry::find(p.name(), live).is_none() {
            return Err(SnapshotError::UnknownVersion {
                id: format!("{}@{live}", p.name()),
                known: known(),
            });
        }
        ids.push(ProjectionId::new(p.name(), live));
    }
    Ok(ids)
}

fn known() -> String {
    registry::known()
        .iter()
        .map(|p| format!("{}@{}", p.name(), p.version()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes a snapshot of the given versions, which `hold` keeps still while
/// their trees are read: `hold(f)` runs `f` on the store and the versions.
pub async fn create<H>(
    log: Arc<dyn EventLog>,
    path: &Path,
    hold: H,
) -> Result<Created, SnapshotError>
where
    H: FnOnce(
            &mut dyn FnMut(&ViewStore, &[ProjectionId]) -> Result<Held, SnapshotError>,
        ) -> Result<Held, SnapshotError>
        + Send
        + 'static,
{
    let started = Instant::now();
    let mut writer = SnapshotWriter::create(path)?;
    let header = header_of(log.as_ref());
    writer.header(&header)?;
    let (writer, held) = tokio::task::spawn_blocking(move || {
        let mut writer = writer;
        let held = hold(&mut |store, ids| {
            let held_from = Instant::now();
            let (summaries, infos) = writer.versions(store, ids)?;
            Ok(Held {
                summaries,
                infos,
                seconds: held_from.elapsed().as_secs_f64(),
            })
        });
        (writer, held)
    })
    .await
    .map_err(|e| SnapshotError::Io {
        path: path.display().to_string(),
        reason: format!("the writing task failed: {e}"),
    })?;
    let held = held?;
    let anchors = anchors(log, &held.infos).await?;
    let (bytes, sha256) = writer.finish(&anchors)?;
    Ok(Created {
        file: path.display().to_string(),
        bytes,
        sha256,
        log: header.log,
        versions: held.summaries,
        seconds: started.elapsed().as_secs_f64(),
        held_seconds: held.seconds,
    })
}

/// What was written while the views were held.
pub struct Held {
    summaries: Vec<VersionSummary>,
    infos: Vec<VersionInfo>,
    seconds: f64,
}

// ------------------------------------------------------------------ reading

/// Reads a snapshot through the checksum, refusing lengths the rest of the
/// file cannot hold (so a damaged length is reported, not allocated).
struct SnapshotReader {
    input: BufReader<File>,
    hasher: Sha256,
    left: u64,
    path: PathBuf,
}

/// One frame.
enum Frame {
    Version(VersionInfo),
    Entry(Vec<u8>, Vec<u8>),
    End(u64),
    Anchors(Vec<Anchor>),
    Last,
}

impl SnapshotReader {
    fn open(path: &Path) -> Result<SnapshotReader, SnapshotError> {
        let file = File::open(path).map_err(io(path))?;
        let left = file.metadata().map_err(io(path))?.len();
        Ok(SnapshotReader {
            input: BufReader::with_capacity(1 << 20, file),
            hasher: Sha256::new(),
            left,
            path: path.to_path_buf(),
        })
    }

    fn damaged(&self, reason: impl Into<String>) -> SnapshotError {
        SnapshotError::Damaged {
            path: self.path.display().to_string(),
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

    fn header(&mut self) -> Result<Header, SnapshotError> {
        let magic = self
            .take(MAGIC.len() as u64)
            .map_err(|_| self.damaged("too short to be a reprise snapshot"))?;
        if magic != MAGIC {
            return Err(self.damaged("not a reprise snapshot (no REPRISE-SNAPSHOT magic)"));
        }
        let format = self.u32()?;
        if format != FORMAT {
            return Err(SnapshotError::Format {
                path: self.path.display().to_string(),
                found: format,
            });
        }
        self.json("header")
    }

    fn frame(&mut self) -> Result<Frame, SnapshotError> {
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
    fn check_end(mut self) -> Result<String, SnapshotError> {
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
    let mut r = SnapshotReader::open(path)?;
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

/// Writes the snapshot's versions into `store` (a fresh staging database),
/// each recorded `building` at its stored positions so that `serve` and
/// `rebuild` resume it; returns the file's checksum as read this time.
fn write_into(path: &Path, store: &ViewStore) -> Result<String, SnapshotError> {
    let mut r = SnapshotReader::open(path)?;
    r.header()?;
    let mut current: Option<VersionInfo> = None;
    let mut chunk: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(RESTORE_CHUNK);
    loop {
        match r.frame()? {
            Frame::Version(info) => current = Some(info),
            Frame::Entry(k, v) => {
                let Some(info) = &current else {
                    return Err(r.damaged("an entry outside a version"));
                };
                chunk.push((k, v));
                if chunk.len() >= RESTORE_CHUNK {
                    store.put_entries(&info.id(), std::mem::take(&mut chunk))?;
                }
            }
            Frame::End(_) => {
                let Some(info) = current.take() else {
                    return Err(r.damaged("an end frame outside a version"));
                };
                let id = info.id();
                store.put_entries(&id, std::mem::take(&mut chunk))?;
                store.set_state(&id, BuildState::Building)?;
                if info.live {
                    store.set_live(&id)?;
                }
            }
            Frame::Anchors(_) => {}
            Frame::Last => break,
        }
    }
    store.close()?;
    r.check_end()
}

/// What a restore did.
pub struct Restored {
    pub scanned: Scanned,
    /// Events the restored versions are behind the log: the tail to replay
    /// (None on Kafka, whose end offset answers are informative only).
    pub behind: Option<u64>,
}

/// Restores a snapshot into a data directory without views over the same
/// log. Everything is checked before anything is written: the file whole
/// (checksum), the versions (known to this build), the log (partition
/// counts and the anchors' records), and the views (none yet).
pub async fn restore(args: &LogArgs, file: &Path) -> anyhow::Result<Restored> {
    if args.server.is_some() {
        bail!(
            "snapshot restore writes the data directory's views itself; it takes no --server \
             (stop the server, or restore into another data directory)"
        );
    }
    let scanned = {
        let file = file.to_path_buf();
        tokio::task::spawn_blocking(move || scan(&file)).await??
    };
    let mut seen = Vec::new();
    for (info, _) in &scanned.versions {
        let id = info.id();
        if registry::find(&id.name, id.version).is_none() {
            return Err(SnapshotError::UnknownVersion {
                id: id.to_string(),
                known: known(),
            }
            .into());
        }
        if seen.contains(&id) {
            bail!("{} holds {id} twice", file.display());
        }
        seen.push(id);
    }
    if args.kafka_brokers.is_none() && !args.data_dir.join("log").is_dir() {
        bail!(
            "{} has no log: a snapshot is restored over the log it was taken from. Copy that \
             log first (`reprise --data-dir {} clone --log-only --from ...`), restore into the \
             data directory that lost its views, or give the Kafka flags",
            args.data_dir.display(),
            args.data_dir.display()
        );
    }
    let log = args.open_log().await?;
    check_log(log.clone(), &scanned).await?;

    let views = args.data_dir.join("views");
    if views.exists() {
        let store = args.open_views()?;
        if !store.is_empty()? {
            bail!(
                "{} already has views; a snapshot is restored only into a data directory \
                 without them (move {} away first, with no server running)",
                args.data_dir.display(),
                views.display()
            );
        }
    }
    args.prepare_data_dir()?;
    let staging = args.data_dir.join(STAGING);
    if staging.exists() {
        // Left by an interrupted restore: never served, ours to remove.
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("removing {}", staging.display()))?;
    }
    let written = {
        let (file, staging) = (file.to_path_buf(), staging.clone());
        tokio::task::spawn_blocking(move || -> Result<String, SnapshotError> {
            let store = ViewStore::open(&staging)?;
            write_into(&file, &store)
        })
        .await?
    };
    let written = match written {
        Ok(sha) if sha == scanned.sha256 => Ok(()),
        Ok(_) => Err(anyhow::anyhow!(
            "{} changed while it was being restored; nothing was restored",
            file.display()
        )),
        Err(e) => Err(e.into()),
    };
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    if views.exists() {
        std::fs::remove_dir_all(&views)
            .with_context(|| format!("removing the empty {}", views.display()))?;
    }
    std::fs::rename(&staging, &views)
        .with_context(|| format!("moving {} to {}", staging.display(), views.display()))?;

    if !crate::ops::recovery::ends_are_exact(log.as_ref()) {
        return Ok(Restored {
            scanned,
            behind: None,
        });
    }
    let ends = events::log::all_end_offsets(log.as_ref()).await?;
    let mut behind = 0;
    for (info, _) in &scanned.versions {
        let reads = registry::find(&info.name, info.version)
            .map(|p| p.domains().to_vec())
            .unwrap_or_default();
        let at: BTreeMap<TopicPartition, u64> = info
            .positions
            .iter()
            .map(|&(domain, partition, next)| (TopicPartition { domain, partition }, next))
            .collect();
        for (tp, end) in &ends {
            if reads.contains(&tp.domain) {
                behind += end.saturating_sub(at.get(tp).copied().unwrap_or(0));
            }
        }
    }
    Ok(Restored {
        scanned,
        behind: Some(behind),
    })
}

/// Refuses a log other than the snapshot's: other partition counts, or
/// other records where the views stand.
async fn check_log(log: Arc<dyn EventLog>, scanned: &Scanned) -> Result<(), SnapshotError> {
    for topic in &scanned.header.topics {
        let here = log.partitions(topic.domain);
        if here != topic.partitions {
            return Err(SnapshotError::WrongLog(format!(
                "the snapshot was taken on a log whose {} topic has {} partitions; the {} has {here}: \
                 it is not the same log",
                topic.domain,
                topic.partitions,
                log.describe()
            )));
        }
    }
    let wanted: Vec<(TopicPartition, u64)> = scanned
        .anchors
        .iter()
        .map(|a| {
            (
                TopicPartition {
                    domain: a.domain,
                    partition: a.partition,
                },
                a.offset,
            )
        })
        .collect();
    let found = records_at(&log, &wanted).await.map_err(|e| {
        SnapshotError::WrongLog(format!(
            "reading the records the snapshot's views stand on from the {}: {e}",
            log.describe()
        ))
    })?;
    for (anchor, (tp, offset)) in scanned.anchors.iter().zip(wanted) {
        match found.get(&(tp, offset)).and_then(Option::as_ref) {
            None => {
                return Err(SnapshotError::WrongLog(format!(
                    "the {} has no record at {}/{} offset {offset}, where the snapshot's views \
                     stand: it is not the log the snapshot was taken from (\"{}\"), or it is \
                     shorter",
                    log.describe(),
                    tp.domain,
                    tp.partition,
                    scanned.header.log
                )))
            }
            Some(record) if record_digest(record) != anchor.record_sha256 => {
                return Err(SnapshotError::WrongLog(format!(
                    "the record at {}/{} offset {offset} of the {} is not the one the \
                     snapshot's views applied: the snapshot was taken on another log (\"{}\")",
                    tp.domain,
                    tp.partition,
                    log.describe(),
                    scanned.header.log
                )))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- commands

pub async fn run(args: &LogArgs, cmd: SnapshotCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SnapshotCommand::Create(opts) => {
            let created: Created = match &args.server {
                Some(url) => {
                    let to = if opts.to.is_absolute() {
                        opts.to.clone()
                    } else {
                        std::env::current_dir()?.join(&opts.to)
                    };
                    let client = crate::remote::Client::new(&args.data_dir, url)?;
                    let body = serde_json::json!({ "to": to });
                    tokio::task::spawn_blocking(move || {
                        client.post::<_, Created>("/admin/v1/snapshot", &body)
                    })
                    .await??
                }
                None => create_offline(args, &opts.to).await?,
            };
            println!(
                "snapshot of {} written to {}: {} bytes, sha256 {}, in {:.2} s (views held {:.2} s)",
                created.log,
                created.file,
                created.bytes,
                created.sha256,
                created.seconds,
                created.held_seconds
            );
            for v in &created.versions {
                println!(
                    "  {:<14} {:>10} entries{}",
                    v.projection,
                    v.entries,
                    if v.live { ", live" } else { "" }
                );
            }
        }
        SnapshotCommand::Restore(opts) => {
            let restored = restore(args, &opts.file).await?;
            let s = &restored.scanned;
            println!(
                "restored {} projection version(s) from {} (taken {} on the {}) into {}",
                s.versions.len(),
                opts.file.display(),
                s.header.created,
                s.header.log,
                args.data_dir.join("views").display()
            );
            for (info, entries) in &s.versions {
                let applied: u64 = info.positions.iter().map(|p| p.2).sum();
                println!(
                    "  {:<14} {:>10} entries, {applied} events applied{}",
                    info.id().to_string(),
                    entries,
                    if info.live { ", live" } else { "" }
                );
            }
            let newer = match restored.behind {
                Some(n) => format!("{n} events of the log are"),
                None => "the events of the log".to_string(),
            };
            println!(
                "{newer} newer than the snapshot: `reprise serve` or `reprise rebuild` resumes \
                 from the stored positions and replays only those"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A snapshot of a stopped data directory.
async fn create_offline(args: &LogArgs, to: &Path) -> anyhow::Result<Created> {
    if !args.data_dir.join("views").is_dir() {
        bail!("{} has no views to snapshot", args.data_dir.display());
    }
    let store = args.open_views()?;
    let log = args.open_log().await?;
    let ids = served_versions(&store)?;
    let created = create(log, to, move |write| write(&store, &ids)).await?;
    Ok(created)
}

// -------------------------------------------------------------------- HTTP

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateRequest {
    to: PathBuf,
}

/// `POST /admin/v1/snapshot` `{"to": "/abs/path"}`: writes the snapshot on
/// the server's machine while the served views stand still between two
/// batches (writers wait meanwhile).
pub(crate) async fn http_create(
    axum::extract::State(state): axum::extract::State<crate::http::Shared>,
    body: Result<axum::Json<CreateRequest>, axum::extract::rejection::JsonRejection>,
) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let error = |status: StatusCode, message: String| {
        (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
    };
    let request = match body {
        Ok(axum::Json(r)) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    if !request.to.is_absolute() {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "\"to\" must be an absolute path on the server's machine, not {}",
                request.to.display()
            ),
        );
    }
    if !state.engine.ready() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the views are still catching up with the log; snapshot once /readyz is 200".into(),
        );
    }
    let log = state.engine.log.clone();
    let held = state.clone();
    let result = create(log, &request.to, move |write| {
        held.engine.with_views_still(|store, ids| write(store, ids))
    })
    .await;
    match result {
        Ok(created) => (StatusCode::CREATED, axum::Json(created)).into_response(),
        Err(e @ SnapshotError::Exists(_)) => error(StatusCode::CONFLICT, e.to_string()),
        Err(e @ SnapshotError::Refused(_)) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        Err(e @ SnapshotError::Io { .. }) => error(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(dir: &Path) -> (ViewStore, ProjectionId) {
        let store = ViewStore::open(&dir.join("views")).unwrap();
        let id = ProjectionId::new("seen", 1);
        store
            .put_entries(
                &id,
                (0..25u8).map(|i| (vec![b'k', i], vec![i; usize::from(i)])),
            )
            .unwrap();
        store.mark_ready(&id).unwrap();
        (store, id)
    }

    fn write(store: &ViewStore, id: &ProjectionId, path: &Path) {
        let mut w = SnapshotWriter::create(path).unwrap();
        w.header(&Header {
            format: FORMAT,
            created: "now".into(),
            reprise: "test".into(),
            log: "a log".into(),
            topics: Vec::new(),
        })
        .unwrap();
        w.versions(store, std::slice::from_ref(id)).unwrap();
        w.finish(&[]).unwrap();
    }

    #[test]
    fn a_snapshot_round_trips_and_any_damage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (store, id) = sample(dir.path());
        let path = dir.path().join("s.snap");
        write(&store, &id, &path);
        assert!(matches!(
            SnapshotWriter::create(&path),
            Err(SnapshotError::Exists(_))
        ));
        let scanned = scan(&path).unwrap();
        assert_eq!(scanned.versions.len(), 1);
        assert_eq!(scanned.versions[0].1, 25);
        assert!(scanned.versions[0].0.live);

        let restored = ViewStore::open(&dir.path().join("restored")).unwrap();
        assert!(restored.is_empty().unwrap());
        write_into(&path, &restored).unwrap();
        assert_eq!(restored.digest(&id).unwrap(), store.digest(&id).unwrap());
        assert_eq!(restored.state(&id).unwrap(), Some(BuildState::Building));
        assert_eq!(restored.live("seen").unwrap(), Some(1));
        assert!(!restored.is_empty().unwrap());

        let bytes = std::fs::read(&path).unwrap();
        let damaged = dir.path().join("damaged");
        for (what, content) in [
            ("truncated", bytes[..bytes.len() - 40].to_vec()),
            ("no checksum", bytes[..bytes.len() - 32].to_vec()),
            ("flipped", {
                let mut b = bytes.clone();
                let at = b.len() / 2;
                b[at] ^= 1;
                b
            }),
            ("trailing", {
                let mut b = bytes.clone();
                b.push(0);
                b
            }),
            ("empty", Vec::new()),
        ] {
            std::fs::write(&damaged, &content).unwrap();
            let err = scan(&damaged)
                .err()
                .unwrap_or_else(|| panic!("{what} accepted"));
            assert!(
                matches!(err, SnapshotError::Damaged { .. }),
                "{what}: {err}"
            );
        }
    }
}
