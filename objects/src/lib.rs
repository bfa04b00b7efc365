//! The object store: immutable payloads (file bodies, attachments, large
//! calendar and contact bodies) named by the SHA-256 of their bytes, kept
//! outside the log and shared by every installation that shares the log.
//!
//! The order of a write is the invariant everything else relies on: the
//! bytes are spooled to a local file while they are hashed and counted
//! ([`Spool`]), the object is made durable under its name
//! ([`ObjectStore::put`]: create-if-absent, never a partial object under a
//! name), and only then does the caller append the event that carries its
//! [`ObjectRef`]. A crash in between leaves an orphan object and no event;
//! `reprise objects gc` removes orphans.
//!
//! Every read checks what it reads against the reference: size first, then
//! the SHA-256 of the bytes. A small object is read whole and checked
//! before anything is answered; a large one streams in ranges and its last
//! chunk is an error if the digest differs, so a client never receives a
//! damaged object as complete.
//!
//! Two backends: `file://` (our own, in `local.rs`, because objects must
//! be fsynced before the event that names them) and `s3://` (the
//! `object_store` crate, in `s3.rs`).

mod local;
pub mod location;
mod s3;
mod spool;

pub use events::{ObjectId, ObjectRef};
pub use location::{BadLocation, StoreLocation};
pub use spool::{Spool, Spooled};

use bytes::{Bytes, BytesMut};
use futures::stream::{self, BoxStream, StreamExt};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Objects up to this size are read whole and checked before a byte is
/// answered; larger ones stream in ranges of [`RANGE`].
pub const WHOLE_READ_LIMIT: u64 = 1 << 20;
/// The size of one ranged read, and so the memory one download holds.
pub const RANGE: u64 = 4 << 20;
/// Spool files older than this are leftovers of a crash (an upload takes
/// seconds to minutes), removed when `serve` probes the store.
const STALE_SPOOL: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// The store did not answer, or answered with a failure that may pass:
    /// a client gets 503 and may retry.
    #[error("the object store {store} is unavailable: {reason}")]
    Unavailable { store: String, reason: String },
    /// The store refused our credentials or our rights.
    #[error("the object store {store} refused access: {reason}")]
    Denied { store: String, reason: String },
    /// An s3:// store whose bucket does not exist.
    #[error("the object store {store}: bucket {bucket:?} does not exist")]
    NoBucket { store: String, bucket: String },
    /// An object the log references is not in the store.
    #[error("object {0} is missing from the store")]
    Missing(ObjectId),
    /// An object whose bytes are not what its name and size promise.
    #[error("object {id} is damaged: {reason}")]
    Damaged { id: ObjectId, reason: String },
    /// A body larger than the limit it was spooled under.
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The spool (a local folder) failed: a full disk, say.
    #[error("spooling to {path}: {source}")]
    Spool {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Location(#[from] BadLocation),
    #[error("object store settings: {0}")]
    Settings(String),
}

impl ObjectError {
    /// Whether a client should be told to retry later (503).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            ObjectError::Unavailable { .. } | ObjectError::Denied { .. }
        )
    }
}

/// How to reach a store beyond its URL.
#[derive(Clone, Debug)]
pub struct StoreSettings {
    /// The longest one request to the store may take (a ranged read, one
    /// part of an upload), so that a store that stops answering gives
    /// errors, not hung requests.
    pub timeout: Duration,
    /// `key=value` settings of an s3:// store (the `object_store` crate's
    /// names: `aws_endpoint`, `aws_region`, `aws_access_key_id`...), over
    /// the AWS environment variables. Never printed.
    pub s3: Vec<(String, String)>,
}

impl Default for StoreSettings {
    fn default() -> StoreSettings {
        StoreSettings {
            timeout: Duration::from_secs(10),
            s3: Vec::new(),
        }
    }
}

/// Reads a settings file: one `key=value` per line, `#` comments and blank
/// lines ignored. The keys are checked when the store is opened; the
/// values are never printed.
pub fn parse_settings(text: &str) -> Result<Vec<(String, String)>, ObjectError> {
    let mut settings = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(ObjectError::Settings(format!(
                "line {}: expected key=value",
                n + 1
            )));
        };
        settings.push((key.trim().to_string(), value.trim().to_string()));
    }
    Ok(settings)
}

/// One object as a listing gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedObject {
    pub id: ObjectId,
    pub size: u64,
    /// When it was written, in Unix milliseconds.
    pub modified_ms: i64,
}

enum Backend {
    Local(local::LocalStore),
    S3(s3::S3Store),
}

/// A store, opened. Cheap to clone.
#[derive(Clone)]
pub struct ObjectStore {
    inner: Arc<Inner>,
    observer: Option<Observer>,
}

/// What a store does, as an observer is told of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Put,
    /// Asking for an object's size (whether it is there).
    Head,
    /// Reading bytes of an object (a whole small one, or one chunk).
    Read,
    Delete,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Put => "put",
            Operation::Head => "head",
            Operation::Read => "read",
            Operation::Delete => "delete",
        }
    }
}

/// Told of every operation on the backend: which, whether it succeeded,
/// and how long it took (for the server's metrics; this crate counts
/// nothing itself).
pub type Observer = Arc<dyn Fn(Operation, bool, Duration) + Send + Sync>;

struct Inner {
    location: StoreLocation,
    backend: Backend,
    spool_dir: PathBuf,
}

impl std::fmt::Debug for ObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ObjectStore({})", self.inner.location)
    }
}

impl ObjectStore {
    /// Opens a store without contacting it (see [`ObjectStore::probe`]).
    /// `spool_dir` is where bodies wait while they are hashed, for stores
    /// that are not on this file system (made at the first body, so that
    /// commands that only read make nothing); a file store spools under
    /// its own root, so that an object is linked into place, not copied.
    pub fn open(
        location: StoreLocation,
        spool_dir: &Path,
        settings: &StoreSettings,
    ) -> Result<ObjectStore, ObjectError> {
        let (backend, spool_dir) = match &location {
            StoreLocation::Local { root } => {
                let store = local::LocalStore::open(root)?;
                let spool = store.spool_dir();
                (Backend::Local(store), spool)
            }
            StoreLocation::S3 { bucket, prefix } => (
                Backend::S3(s3::S3Store::open(
                    &location.to_string(),
                    bucket,
                    prefix,
                    settings,
                )?),
                spool_dir.to_path_buf(),
            ),
        };
        Ok(ObjectStore {
            inner: Arc::new(Inner {
                location,
                backend,
                spool_dir,
            }),
            observer: None,
        })
    }

    /// This store, telling `observer` of each operation.
    pub fn observed(mut self, observer: Observer) -> ObjectStore {
        self.observer = Some(observer);
        self
    }

    /// Runs one backend operation, telling the observer.
    async fn timed<T>(
        &self,
        operation: Operation,
        run: impl std::future::Future<Output = Result<T, ObjectError>>,
    ) -> Result<T, ObjectError> {
        let started = std::time::Instant::now();
        let result = run.await;
        if let Some(observer) = &self.observer {
            observer(operation, result.is_ok(), started.elapsed());
        }
        result
    }

    pub fn location(&self) -> &StoreLocation {
        &self.inner.location
    }

    /// Asks the store whether it is there and lets us in: a listing of one
    /// key. What `serve` checks at start, so that a wrong bucket or wrong
    /// credentials are one line, not a failure at the first upload.
    pub async fn probe(&self) -> Result<(), ObjectError> {
        match &self.inner.backend {
            Backend::Local(store) => store.probe().await?,
            Backend::S3(store) => store.probe().await?,
        }
        self.clean_spool(STALE_SPOOL).await;
        Ok(())
    }

    /// Removes spool files older than `age`: what a crashed process left
    /// mid-upload. Younger ones may be another installation's uploads in
    /// flight (a file store's spool is in its shared root). Best effort.
    async fn clean_spool(&self, age: Duration) {
        let dir = self.inner.spool_dir.clone();
        let cleaned = tokio::task::spawn_blocking(move || {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                return 0;
            };
            let mut removed = 0;
            for entry in entries.flatten() {
                let old = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|elapsed| elapsed > age);
                let spooled = entry.file_name().to_string_lossy().ends_with(".part");
                if old && spooled && std::fs::remove_file(entry.path()).is_ok() {
                    removed += 1;
                }
            }
            removed
        })
        .await
        .unwrap_or(0);
        if cleaned > 0 {
            tracing::info!(
                files = cleaned,
                "removed spool files left by an interrupted upload"
            );
        }
    }

    /// A spool for one body of at most `limit` bytes.
    pub async fn spool(&self, limit: u64) -> Result<Spool, ObjectError> {
        Spool::create(&self.inner.spool_dir, limit).await
    }

    /// Makes a spooled body an object: durable under its name when this
    /// returns. An object already there under that name is success.
    pub async fn put(&self, spooled: &Spooled) -> Result<ObjectRef, ObjectError> {
        self.timed(Operation::Put, async {
            match &self.inner.backend {
                Backend::Local(store) => store.adopt(spooled).await,
                Backend::S3(store) => store.upload(spooled).await,
            }
        })
        .await?;
        Ok(spooled.object())
    }

    /// Spools and puts bytes held in memory.
    pub async fn put_bytes(&self, bytes: &[u8]) -> Result<ObjectRef, ObjectError> {
        let mut spool = self.spool(bytes.len() as u64).await?;
        spool.write(bytes).await?;
        let spooled = spool.finish().await?;
        self.put(&spooled).await
    }

    /// The size of an object as the store has it; None when absent.
    pub async fn size_of(&self, id: &ObjectId) -> Result<Option<u64>, ObjectError> {
        self.timed(Operation::Head, async {
            match &self.inner.backend {
                Backend::Local(store) => store.size_of(id).await,
                Backend::S3(store) => store.size_of(id).await,
            }
        })
        .await
    }

    async fn read_range(&self, id: &ObjectId, start: u64, end: u64) -> Result<Bytes, ObjectError> {
        if start == end {
            return Ok(Bytes::new());
        }
        let bytes = self
            .timed(Operation::Read, async {
                match &self.inner.backend {
                    Backend::Local(store) => store.read_range(id, start, end).await,
                    Backend::S3(store) => store.read_range(id, start, end).await,
                }
            })
            .await?;
        if bytes.len() as u64 != end - start {
            return Err(ObjectError::Damaged {
                id: *id,
                reason: format!(
                    "bytes {start}..{end} came back as {} bytes: shorter than its reference says",
                    bytes.len()
                ),
            });
        }
        Ok(bytes)
    }

    /// An object's bytes, checked against `object` (see the crate's
    /// documentation for when the check happens).
    pub async fn read(&self, object: &ObjectRef) -> Result<ObjectBody, ObjectError> {
        let id = object.sha256;
        match self.size_of(&id).await? {
            None => return Err(ObjectError::Missing(id)),
            Some(size) if size != object.size => {
                return Err(ObjectError::Damaged {
                    id,
                    reason: format!("{size} bytes where its reference says {}", object.size),
                })
            }
            Some(_) => {}
        }
        if object.size <= WHOLE_READ_LIMIT {
            let bytes = self.read_range(&id, 0, object.size).await?;
            check_digest(&id, Sha256::digest(&bytes).into())?;
            return Ok(ObjectBody::Whole(bytes));
        }
        Ok(ObjectBody::Stream(self.clone().stream(*object)))
    }

    /// Reads and checks an object whole into memory; for verification and
    /// copies, which need no stream.
    pub async fn read_all(&self, object: &ObjectRef) -> Result<Bytes, ObjectError> {
        match self.read(object).await? {
            ObjectBody::Whole(bytes) => Ok(bytes),
            ObjectBody::Stream(mut chunks) => {
                let mut all = BytesMut::with_capacity(object.size as usize);
                while let Some(chunk) = chunks.next().await {
                    all.extend_from_slice(&chunk?);
                }
                Ok(all.freeze())
            }
        }
    }

    /// Checks an object in the store against its reference without
    /// keeping its bytes: what `objects verify` does for each.
    pub async fn check(&self, object: &ObjectRef) -> Result<(), ObjectError> {
        match self.read(object).await? {
            ObjectBody::Whole(_) => Ok(()),
            ObjectBody::Stream(mut chunks) => {
                while let Some(chunk) = chunks.next().await {
                    chunk?;
                }
                Ok(())
            }
        }
    }

    fn stream(self, object: ObjectRef) -> BoxStream<'static, Result<Bytes, ObjectError>> {
        struct State {
            store: ObjectStore,
            object: ObjectRef,
            offset: u64,
            hasher: Option<Sha256>,
        }
        let state = State {
            store: self,
            object,
            offset: 0,
            hasher: Some(Sha256::new()),
        };
        stream::unfold(state, |mut s| async move {
            let hasher = s.hasher.take()?;
            let id = s.object.sha256;
            let end = (s.offset + RANGE).min(s.object.size);
            let mut hasher = hasher;
            let chunk = match s.store.read_range(&id, s.offset, end).await {
                Ok(chunk) => chunk,
                Err(e) => return Some((Err(e), s)),
            };
            hasher.update(&chunk);
            s.offset = end;
            if end < s.object.size {
                s.hasher = Some(hasher);
                return Some((Ok(chunk), s));
            }
            // The last chunk goes out only if the whole matched.
            match check_digest(&id, hasher.finalize().into()) {
                Ok(()) => Some((Ok(chunk), s)),
                Err(e) => Some((Err(e), s)),
            }
        })
        .boxed()
    }

    /// Every object in the store, in no particular order.
    pub fn list(&self) -> BoxStream<'static, Result<ListedObject, ObjectError>> {
        match &self.inner.backend {
            Backend::Local(store) => store.list(),
            Backend::S3(store) => store.list(),
        }
    }

    /// Removes an object; one already gone is success.
    pub async fn delete(&self, id: &ObjectId) -> Result<(), ObjectError> {
        self.timed(Operation::Delete, async {
            match &self.inner.backend {
                Backend::Local(store) => store.delete(id).await,
                Backend::S3(store) => store.delete(id).await,
            }
        })
        .await
    }
}

/// The store as the log's readers see it ([`events::PayloadSource`]): a
/// blocking read, for the threads that apply events, on the runtime
/// `handle` (they are not its workers).
pub fn payload_source(
    store: ObjectStore,
    handle: tokio::runtime::Handle,
) -> Arc<dyn events::PayloadSource> {
    Arc::new(Payloads { store, handle })
}

struct Payloads {
    store: ObjectStore,
    handle: tokio::runtime::Handle,
}

impl events::PayloadSource for Payloads {
    fn fetch(&self, object: &ObjectRef) -> Result<Vec<u8>, String> {
        self.handle
            .block_on(self.store.read_all(object))
            .map(|bytes| bytes.to_vec())
            .map_err(|e| e.to_string())
    }
}

fn check_digest(id: &ObjectId, digest: [u8; 32]) -> Result<(), ObjectError> {
    if digest == id.0 {
        return Ok(());
    }
    tracing::error!(object = %id, actual = %ObjectId(digest), "an object's bytes do not match its name");
    Err(ObjectError::Damaged {
        id: *id,
        reason: format!("its bytes hash to {}", ObjectId(digest)),
    })
}

/// What a read gives: the whole object, already checked, or a stream whose
/// last item is an error if the object turns out damaged.
pub enum ObjectBody {
    Whole(Bytes),
    Stream(BoxStream<'static, Result<Bytes, ObjectError>>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path) -> ObjectStore {
        let location = StoreLocation::Local {
            root: dir.join("objects"),
        };
        ObjectStore::open(location, &dir.join("unused"), &StoreSettings::default()).unwrap()
    }

    fn sha(bytes: &[u8]) -> ObjectId {
        ObjectId(Sha256::digest(bytes).into())
    }

    async fn collect(body: ObjectBody) -> Result<Vec<u8>, ObjectError> {
        match body {
            ObjectBody::Whole(bytes) => Ok(bytes.to_vec()),
            ObjectBody::Stream(mut chunks) => {
                let mut all = Vec::new();
                while let Some(chunk) = chunks.next().await {
                    all.extend_from_slice(&chunk?);
                }
                Ok(all)
            }
        }
    }

    #[test]
    fn settings_are_lines_of_key_value() {
        let text = "# S3\naws_region = eu-west-1\n\naws_endpoint=http://h:9000/x=y\n";
        assert_eq!(
            parse_settings(text).unwrap(),
            [
                ("aws_region".to_string(), "eu-west-1".to_string()),
                ("aws_endpoint".to_string(), "http://h:9000/x=y".to_string())
            ]
        );
        let bad = parse_settings("aws_region\n").unwrap_err().to_string();
        assert!(bad.contains("line 1"), "{bad}");
    }

    #[tokio::test]
    async fn an_object_is_named_by_its_digest_and_read_back_checked() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        store.probe().await.unwrap();
        let small = b"hello".to_vec();
        let big: Vec<u8> = (0..(RANGE * 2 + 17)).map(|i| (i % 251) as u8).collect();
        for bytes in [&small, &big, &Vec::new()] {
            let object = store.put_bytes(bytes).await.unwrap();
            assert_eq!(object.sha256, sha(bytes));
            assert_eq!(object.size, bytes.len() as u64);
            // Putting it again is success and changes nothing.
            assert_eq!(store.put_bytes(bytes).await.unwrap(), object);
            assert_eq!(
                collect(store.read(&object).await.unwrap()).await.unwrap(),
                *bytes
            );
        }
        let mut listed: Vec<_> = store.list().map(|o| o.unwrap().id).collect().await;
        listed.sort();
        let mut expected = vec![sha(&small), sha(&big), sha(b"")];
        expected.sort();
        assert_eq!(listed, expected);
        // The spool holds nothing once the objects are in.
        let spool = dir.path().join("objects/.spool");
        assert_eq!(std::fs::read_dir(spool).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn a_probe_removes_only_stale_spool_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        store.probe().await.unwrap();
        let spool = dir.path().join("objects/.spool");
        std::fs::create_dir_all(&spool).unwrap();
        let (stale, fresh) = (spool.join("old.part"), spool.join("new.part"));
        std::fs::write(&stale, b"left by a crash").unwrap();
        std::fs::write(&fresh, b"in flight").unwrap();
        let long_ago = std::time::SystemTime::now() - Duration::from_secs(7200);
        std::fs::File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        store.probe().await.unwrap();
        assert!(!stale.exists());
        assert!(fresh.exists());
    }

    #[tokio::test]
    async fn a_spool_refuses_more_than_its_limit_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let mut spool = store.spool(4).await.unwrap();
        spool.write(b"1234").await.unwrap();
        assert!(matches!(
            spool.write(b"5").await,
            Err(ObjectError::TooLarge { limit: 4 })
        ));
        drop(spool);
        let spool = dir.path().join("objects/.spool");
        assert_eq!(std::fs::read_dir(spool).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn damaged_and_missing_objects_are_errors_never_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let small = store.put_bytes(b"small object").await.unwrap();
        let big_bytes = vec![7u8; (RANGE + 5) as usize];
        let big = store.put_bytes(&big_bytes).await.unwrap();
        let path = |id: &ObjectId| dir.path().join("objects").join(location::key_of(id));
        // Same length, other bytes: found by the digest.
        std::fs::write(path(&small.sha256), b"SMALL OBJECT").unwrap();
        assert!(matches!(
            store.read(&small).await,
            Err(ObjectError::Damaged { .. })
        ));
        let mut damaged = big_bytes.clone();
        damaged[RANGE as usize + 2] = 8;
        std::fs::write(path(&big.sha256), &damaged).unwrap();
        let streamed = collect(store.read(&big).await.unwrap()).await;
        assert!(matches!(streamed, Err(ObjectError::Damaged { .. })));
        assert!(store.check(&big).await.is_err());
        // Shorter: found before a byte is read.
        std::fs::write(path(&big.sha256), &big_bytes[..10]).unwrap();
        assert!(matches!(
            store.read(&big).await,
            Err(ObjectError::Damaged { .. })
        ));
        store.delete(&big.sha256).await.unwrap();
        store.delete(&big.sha256).await.unwrap();
        assert!(matches!(
            store.read(&big).await,
            Err(ObjectError::Missing(id)) if id == big.sha256
        ));
    }
}
