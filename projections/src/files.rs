//! A plain WebDAV file area per principal: folders and files with their
//! dead properties, for WebDAV clients and the litmus suite.
//!
//! The partition key is the owner. Paths are relative to the owner's area:
//! segments joined by `/`, no leading or trailing slash. The root is the
//! path "" and exists implicitly, so it is never stored. Keys:
//!
//! - `ent\0owner\0parent\0name` → [`FileEntry`] (root members have the
//!   parent ""), so a folder's members are one prefix scan
//! - `body\0owner\0path` → the raw bytes of a file written inline in its
//!   event (before the object store), apart from its entry so that listing
//!   a folder never loads a body. A file whose bytes are in the object
//!   store has none: its entry holds the [`ObjectRef`], and a copy or move
//!   carries only that.
//!
//! Everything below a folder `p` is the entries whose parent is `p` or
//! starts with `p/`: two prefix scans, whatever the depth.

use crate::outcome::{check_expected, Outcome, Rejection};
use crate::projection::{check_name, Applied, ApplyError, Projection};
use crate::store::{StoreError, ViewTree};
use crate::view::keys::{key, under};
use crate::view::{ReadTree, ViewTxn};
pub use events::payload::FileContent;
use events::payload::{
    DeadProperties, DeadPropertiesPatch, FileDeleted, FilePropertiesPatched, FilePut, FilesCopied,
    FilesMoved, FolderCreated,
};
use events::{AggregateVersion, Domain, ObjectRef, Payload};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const ENT: &[u8] = b"ent\0";
const BODY: &[u8] = b"body\0";

/// What a path holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FileKind {
    Folder,
    File {
        content_type: String,
        length: u64,
        /// Where the bytes are when they are in the object store; absent
        /// (and not written, so older views read the same) for an inline
        /// body under `body\0`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        object: Option<ObjectRef>,
    },
}

/// A file or folder. Its times come from the envelope, never the clock, so
/// every instance and every rebuild serves the same values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub kind: FileKind,
    /// Last change of the content (creation, PUT, copy or move target): the
    /// ETag is `"{version}"`.
    pub version: AggregateVersion,
    /// `occurred_at` of that event in Unix milliseconds: getlastmodified.
    pub modified_ms: i64,
    /// Same, at creation: creationdate.
    pub created_ms: i64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dead: DeadProperties,
}

impl FileEntry {
    /// The strong ETag, quotes included.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }

    pub fn is_folder(&self) -> bool {
        matches!(self.kind, FileKind::Folder)
    }

    /// A file whose bytes are under `body\0` rather than in the store.
    fn has_inline_body(&self) -> bool {
        matches!(self.kind, FileKind::File { object: None, .. })
    }
}

pub struct Files;

impl Files {
    pub const NAME: &'static str = "files";
    pub const VERSION: u32 = 1;
}

/// Whether a path names something that can be stored: not the root, and
/// no segment that is empty, `.` or `..` (a client would resolve those to
/// another path), and no NUL (the key separator).
fn is_valid_path(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\0')
        && path
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
}

/// An event with an invalid path should never have been written.
fn check_path(path: &str) -> Result<(), ApplyError> {
    if is_valid_path(path) {
        Ok(())
    } else {
        Err(ApplyError::Refused(format!("invalid file path {path:?}")))
    }
}

/// `(parent, name)`; members of the root have the parent "".
fn split(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

fn join(folder: &str, name: &str) -> String {
    if folder.is_empty() {
        name.to_string()
    } else {
        format!("{folder}/{name}")
    }
}

/// Whether `path` is `ancestor` or lies below it.
fn within(path: &str, ancestor: &str) -> bool {
    path.strip_prefix(ancestor)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn ent_key(owner: &str, path: &str) -> Vec<u8> {
    let (parent, name) = split(path);
    key(ENT, &[owner.as_bytes(), parent.as_bytes(), name.as_bytes()])
}

fn body_key(owner: &str, path: &str) -> Vec<u8> {
    key(BODY, &[owner.as_bytes(), path.as_bytes()])
}

/// The prefix of the entries of a folder's direct members.
fn members_prefix(owner: &str, folder: &str) -> Vec<u8> {
    under(ENT, &[owner.as_bytes(), folder.as_bytes()])
}

/// The prefix of the entries below a folder's direct members: those whose
/// parent starts with `folder/`.
fn deeper_prefix(owner: &str, folder: &str) -> Vec<u8> {
    key(ENT, &[owner.as_bytes(), format!("{folder}/").as_bytes()])
}

/// The path an entry key stands for.
fn path_of_key(owner: &str, k: &[u8]) -> Option<String> {
    let rest = k.strip_prefix(under(ENT, &[owner.as_bytes()]).as_slice())?;
    let (parent, name) = std::str::from_utf8(rest).ok()?.split_once('\0')?;
    Some(join(parent, name))
}

/// Why an apply step stops early: a rejection decided by the log order, or
/// an error of [`ApplyError`]'s. Lets the rules below use `?` for both.
enum Stop {
    Rejected(Rejection),
    Failed(ApplyError),
}

impl From<Rejection> for Stop {
    fn from(r: Rejection) -> Stop {
        Stop::Rejected(r)
    }
}

impl From<ApplyError> for Stop {
    fn from(e: ApplyError) -> Stop {
        Stop::Failed(e)
    }
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Stop {
        Stop::Failed(e.into())
    }
}

/// One entry of a subtree being deleted, copied or moved, with its path
/// relative to the subtree's top ("" for the top, `/a/b` below it) and,
/// once loaded, its body when it is a file.
struct Node {
    suffix: String,
    entry: FileEntry,
    body: Option<Vec<u8>>,
}

/// The apply side for one event.
struct Area<'e, 'v, 't> {
    event: &'e Applied<'e>,
    view: &'v mut ViewTxn<'t>,
}

impl<'e> Area<'e, '_, '_> {
    fn owner(&self) -> &'e str {
        &self.event.event.partition_key
    }

    /// The event's time, which becomes getlastmodified and creationdate.
    fn now_ms(&self) -> i64 {
        self.event.event.occurred_at.timestamp_millis()
    }

    fn expect(&self, current: AggregateVersion) -> Result<(), Rejection> {
        check_expected(self.event.event.expected_version, current)
    }

    fn load(&self, path: &str) -> Result<Option<FileEntry>, StoreError> {
        self.view.get_as(&ent_key(self.owner(), path))
    }

    /// The entry at `path`, or the rejection for an event about it.
    fn existing(&self, path: &str) -> Result<FileEntry, Stop> {
        self.load(path)?.ok_or_else(|| {
            Rejection::NotFound {
                what: format!("file or folder {path}"),
            }
            .into()
        })
    }

    /// What is created at `path` needs a folder above it: the root always
    /// is one; a missing parent or a file is a conflict (WebDAV's 409).
    fn require_parent_folder(&self, path: &str) -> Result<(), Stop> {
        let (parent, _) = split(path);
        if parent.is_empty() || self.load(parent)?.is_some_and(|e| e.is_folder()) {
            return Ok(());
        }
        Err(Rejection::NotFound {
            what: format!("parent folder {parent}"),
        }
        .into())
    }

    fn body(&self, path: &str) -> Result<Vec<u8>, StoreError> {
        let k = body_key(self.owner(), path);
        self.view.get(&k)?.ok_or_else(|| StoreError::Corrupt {
            projection: Files::NAME.into(),
            key: String::from_utf8_lossy(&k).into_owned(),
            reason: "a file without a body".into(),
        })
    }

    /// `path` and, when `deep` and it is a folder, everything below it,
    /// without bodies (see [`Area::with_bodies`]).
    fn subtree(&self, path: &str, top: FileEntry, deep: bool) -> Result<Vec<Node>, StoreError> {
        let deep = deep && top.is_folder();
        let mut nodes = vec![Node {
            suffix: String::new(),
            entry: top,
            body: None,
        }];
        if !deep {
            return Ok(nodes);
        }
        let owner = self.owner();
        let mut keys = self.view.keys_with_prefix(&members_prefix(owner, path))?;
        keys.extend(self.view.keys_with_prefix(&deeper_prefix(owner, path))?);
        for k in keys {
            let corrupt = |reason: &str| StoreError::Corrupt {
                projection: Files::NAME.into(),
                key: String::from_utf8_lossy(&k).into_owned(),
                reason: reason.into(),
            };
            let full = path_of_key(owner, &k).ok_or_else(|| corrupt("bad entry key"))?;
            let suffix = full
                .strip_prefix(path)
                .ok_or_else(|| corrupt("entry outside its folder"))?
                .to_string();
            let entry = self
                .view
                .get_as(&k)?
                .ok_or_else(|| corrupt("entry vanished"))?;
            nodes.push(Node {
                suffix,
                entry,
                body: None,
            });
        }
        Ok(nodes)
    }

    /// Loads the inline bodies of the files of a subtree at `top`, which a
    /// copy or a move carries along (a deletion needs none; a stored file's
    /// entry carries its object).
    fn with_bodies(&self, top: &str, mut nodes: Vec<Node>) -> Result<Vec<Node>, StoreError> {
        for node in &mut nodes {
            if node.entry.has_inline_body() {
                node.body = Some(self.body(&format!("{top}{}", node.suffix))?);
            }
        }
        Ok(nodes)
    }

    /// Removes a subtree that starts at `top`.
    fn remove(&mut self, top: &str, nodes: &[Node]) {
        let owner = self.owner();
        for node in nodes {
            let path = format!("{top}{}", node.suffix);
            self.view.delete(ent_key(owner, &path));
            if node.entry.has_inline_body() {
                self.view.delete(body_key(owner, &path));
            }
        }
    }

    /// Writes a subtree at `top`.
    fn write(&mut self, top: &str, nodes: Vec<Node>) {
        let owner = self.owner();
        for node in nodes {
            let path = format!("{top}{}", node.suffix);
            self.view.put_as(ent_key(owner, &path), &node.entry);
            if let Some(body) = node.body {
                self.view.put(body_key(owner, &path), body);
            }
        }
    }

    fn create_folder(&mut self, e: &FolderCreated) -> Result<Outcome, Stop> {
        check_path(&e.path)?;
        self.require_parent_folder(&e.path)?;
        if self.load(&e.path)?.is_some() {
            return Err(Rejection::AlreadyExists {
                what: format!("file or folder {}", e.path),
            }
            .into());
        }
        self.expect(AggregateVersion::ABSENT)?;
        let (version, now) = (self.event.version(), self.now_ms());
        let entry = FileEntry {
            kind: FileKind::Folder,
            version,
            modified_ms: now,
            created_ms: now,
            dead: e.dead.clone(),
        };
        self.view.put_as(ent_key(self.owner(), &e.path), &entry);
        Ok(Outcome::Applied { version })
    }

    /// Creates or replaces a file; a replacement keeps what describes the
    /// resource rather than its content: dead properties and creation time.
    fn put(&mut self, e: &FilePut) -> Result<Outcome, Stop> {
        check_path(&e.path)?;
        self.require_parent_folder(&e.path)?;
        let existing = self.load(&e.path)?;
        if existing.as_ref().is_some_and(FileEntry::is_folder) {
            return Err(Rejection::NotAllowed {
                reason: format!("{} is a folder: PUT cannot replace it", e.path),
            }
            .into());
        }
        self.expect(
            existing
                .as_ref()
                .map_or(AggregateVersion::ABSENT, |x| x.version),
        )?;
        let (version, now) = (self.event.version(), self.now_ms());
        let (created_ms, dead) =
            existing.map_or((now, DeadProperties::new()), |x| (x.created_ms, x.dead));
        let object = match &e.content {
            FileContent::Stored(object) => Some(*object),
            FileContent::Inline(_) => None,
        };
        let entry = FileEntry {
            kind: FileKind::File {
                content_type: e.content_type.clone(),
                length: e.content.size(),
                object,
            },
            version,
            modified_ms: now,
            created_ms,
            dead,
        };
        let owner = self.owner();
        self.view.put_as(ent_key(owner, &e.path), &entry);
        // A stored file replacing an inline one leaves no body behind.
        match &e.content {
            FileContent::Inline(body) => self.view.put(body_key(owner, &e.path), body.clone()),
            FileContent::Stored(_) => self.view.delete(body_key(owner, &e.path)),
        }
        Ok(Outcome::Applied { version })
    }

    fn delete(&mut self, e: &FileDeleted) -> Result<Outcome, Stop> {
        check_path(&e.path)?;
        let entry = self.existing(&e.path)?;
        self.expect(entry.version)?;
        let nodes = self.subtree(&e.path, entry, true)?;
        self.remove(&e.path, &nodes);
        Ok(Outcome::Applied {
            version: AggregateVersion::ABSENT,
        })
    }

    /// The source of a COPY or MOVE, checked against the expected version
    /// (an `If-Match` on the request is about the source).
    fn source(&self, from: &str, to: &str) -> Result<FileEntry, Stop> {
        check_path(from)?;
        check_path(to)?;
        let entry = self.existing(from)?;
        self.expect(entry.version)?;
        Ok(entry)
    }

    /// The checks COPY and MOVE share on the destination. Returns what
    /// `overwrite` replaces (empty when `to` is free), so that it is
    /// removed before the new subtree lands, as RFC 4918 asks.
    fn destination(
        &self,
        verb: &str,
        from: &str,
        to: &str,
        overwrite: bool,
    ) -> Result<Vec<Node>, Stop> {
        if within(to, from) {
            return Err(Rejection::NotAllowed {
                reason: format!("cannot {verb} {from} onto itself or into itself ({to})"),
            }
            .into());
        }
        self.require_parent_folder(to)?;
        let Some(existing) = self.load(to)? else {
            return Ok(Vec::new());
        };
        if !overwrite {
            return Err(Rejection::AlreadyExists {
                what: format!("file or folder {to}"),
            }
            .into());
        }
        // Replacing a folder that holds the source would delete the source
        // (mod_dav answers 403 too).
        if within(from, to) {
            return Err(Rejection::NotAllowed {
                reason: format!("cannot {verb} {from} over {to}, which holds it"),
            }
            .into());
        }
        Ok(self.subtree(to, existing, true)?)
    }

    /// A copy is a new resource: new version and times, same content and
    /// dead properties. Without `recursive`, a folder comes alone.
    fn copy(&mut self, e: &FilesCopied) -> Result<Outcome, Stop> {
        let source = self.source(&e.from, &e.to)?;
        let replaced = self.destination("copy", &e.from, &e.to, e.overwrite)?;
        let nodes = self.subtree(&e.from, source, e.recursive)?;
        let mut nodes = self.with_bodies(&e.from, nodes)?;
        let (version, now) = (self.event.version(), self.now_ms());
        for node in &mut nodes {
            node.entry.version = version;
            node.entry.modified_ms = now;
            node.entry.created_ms = now;
        }
        self.remove(&e.to, &replaced);
        self.write(&e.to, nodes);
        Ok(Outcome::Applied { version })
    }

    /// A move keeps each resource's creation time and dead properties; its
    /// new URL gets a new version (and so a new ETag).
    fn move_(&mut self, e: &FilesMoved) -> Result<Outcome, Stop> {
        let source = self.source(&e.from, &e.to)?;
        let replaced = self.destination("move", &e.from, &e.to, e.overwrite)?;
        let nodes = self.subtree(&e.from, source, true)?;
        let mut nodes = self.with_bodies(&e.from, nodes)?;
        let (version, now) = (self.event.version(), self.now_ms());
        self.remove(&e.to, &replaced);
        self.remove(&e.from, &nodes);
        for node in &mut nodes {
            node.entry.version = version;
            node.entry.modified_ms = now;
        }
        self.write(&e.to, nodes);
        Ok(Outcome::Applied { version })
    }

    /// PROPPATCH. The ETag is about the content, so the version stays and
    /// the outcome reports it unchanged.
    /// The owner was deleted: the whole area goes, its events stay.
    fn delete_all(&mut self) -> Result<Outcome, Stop> {
        let owner = self.owner().as_bytes();
        for prefix in [under(ENT, &[owner]), under(BODY, &[owner])] {
            for k in self.view.keys_with_prefix(&prefix)? {
                self.view.delete(k);
            }
        }
        Ok(Outcome::Applied {
            version: AggregateVersion::ABSENT,
        })
    }

    fn patch(&mut self, e: &FilePropertiesPatched) -> Result<Outcome, Stop> {
        check_path(&e.path)?;
        let mut entry = self.existing(&e.path)?;
        self.expect(entry.version)?;
        apply_patch(&mut entry.dead, &e.dead);
        self.view.put_as(ent_key(self.owner(), &e.path), &entry);
        Ok(Outcome::Applied {
            version: entry.version,
        })
    }
}

fn apply_patch(dead: &mut DeadProperties, patch: &DeadPropertiesPatch) {
    for (name, value) in patch {
        match value {
            Some(value) => dead.insert(name.clone(), value.clone()),
            None => dead.remove(name),
        };
    }
}

impl Projection for Files {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn version(&self) -> u32 {
        Self::VERSION
    }

    fn domains(&self) -> &'static [Domain] {
        &[Domain::Files]
    }

    // Every key is under the owner, the partition key.
    fn partitions_independent(&self) -> bool {
        true
    }

    fn apply(&self, event: &Applied<'_>, view: &mut ViewTxn<'_>) -> Result<Outcome, ApplyError> {
        check_name("owner", &event.event.partition_key)?;
        let mut area = Area { event, view };
        let result = match &event.event.payload {
            Payload::FolderCreated(e) => area.create_folder(e),
            Payload::FilePut(e) => area.put(e),
            Payload::FileDeleted(e) => area.delete(e),
            Payload::FilesCopied(e) => area.copy(e),
            Payload::FilesMoved(e) => area.move_(e),
            Payload::FilePropertiesPatched(e) => area.patch(e),
            Payload::PrincipalDataDeleted(_) => area.delete_all(),
            other => {
                return Err(ApplyError::Refused(format!(
                    "{} is not a file event",
                    other.event_type()
                )))
            }
        };
        match result {
            Ok(outcome) => Ok(outcome),
            Err(Stop::Rejected(rejection)) => Ok(Outcome::Rejected { rejection }),
            Err(Stop::Failed(e)) => Err(e),
        }
    }
}

/// The read side of the file areas.
#[derive(Clone)]
pub struct FilesView {
    tree: ReadTree,
}

impl FilesView {
    pub(crate) fn new(tree: ViewTree) -> Self {
        FilesView {
            tree: ReadTree::new(tree),
        }
    }

    /// None when absent. The root ("") is not stored: callers treat it as
    /// an existing folder.
    pub fn entry(&self, owner: &str, path: &str) -> Result<Option<FileEntry>, StoreError> {
        if !is_valid_path(path) {
            return Ok(None);
        }
        self.tree.get(&ent_key(owner, path))
    }

    /// Where a file's bytes are: inline (read here) or in the object
    /// store. None for folders and absent paths.
    pub fn content(&self, owner: &str, path: &str) -> Result<Option<FileContent>, StoreError> {
        let Some(entry) = self.entry(owner, path)? else {
            return Ok(None);
        };
        match entry.kind {
            FileKind::Folder => Ok(None),
            FileKind::File {
                object: Some(object),
                ..
            } => Ok(Some(FileContent::Stored(object))),
            FileKind::File { object: None, .. } => Ok(self
                .tree
                .raw(&body_key(owner, path))?
                .map(|v| FileContent::Inline(v.to_vec()))),
        }
    }

    /// Direct members of a folder ("" = the root), sorted by name: (path,
    /// entry) with the full path.
    pub fn children(
        &self,
        owner: &str,
        folder: &str,
    ) -> Result<Vec<(String, FileEntry)>, StoreError> {
        if !folder.is_empty() && !is_valid_path(folder) {
            return Ok(Vec::new());
        }
        let members = self.tree.list(&members_prefix(owner, folder))?;
        Ok(members
            .into_iter()
            .map(|(name, entry)| (join(folder, &name), entry))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ProjectionId;
    use crate::testing::TestStore;
    use events::payload::{PrincipalDataDeleted, SeenAdded};
    use events::{EventEnvelope, EventId, UidSet};

    const ALICE: &str = "alice@example.com";
    /// 2026-01-01T00:00:00Z: the time of the event at offset 0.
    const EPOCH_MS: i64 = 1_767_225_600_000;

    /// A files view in a fresh view database, fed the way the runner feeds
    /// it: each event applied through a [`ViewTxn`] over the real tree, a
    /// rejected or refused event's writes dropped, and one atomic batch per
    /// `batch` events. Event `n` (from 0) is at offset `n`, so it leaves
    /// version `n + 1`, and happens `n` seconds after [`EPOCH_MS`].
    struct Fixture {
        harness: TestStore,
        view: FilesView,
    }

    fn at(n: u64) -> i64 {
        EPOCH_MS + n as i64 * 1000
    }

    /// The event at offset `n`: id and time from `n`, never the clock.
    fn envelope(n: u64, owner: &str, payload: Payload) -> EventEnvelope {
        let id = format!("01900000-0000-7000-8000-{n:012x}");
        let time = format!(
            "2026-01-01T{:02}:{:02}:{:02}Z",
            n / 3600,
            n / 60 % 60,
            n % 60
        );
        EventEnvelope::new(
            EventId(id.parse().expect("uuid")),
            time.parse().expect("time"),
            owner,
            owner,
            payload,
        )
    }

    impl Fixture {
        fn new() -> Fixture {
            let harness = TestStore::new(ProjectionId::new(Files::NAME, Files::VERSION));
            let view = FilesView::new(harness.tree());
            Fixture { harness, view }
        }

        /// Applies events at the next offsets, `batch` per atomic batch.
        fn run(&mut self, events: &[EventEnvelope], batch: usize) -> Vec<Outcome> {
            self.harness.run(&Files, Domain::Files, events, batch)
        }

        fn event(&self, payload: Payload) -> EventEnvelope {
            envelope(self.harness.next, ALICE, payload)
        }

        fn apply_event(&mut self, event: EventEnvelope) -> Outcome {
            self.run(&[event], 1).remove(0)
        }

        fn apply(&mut self, payload: Payload) -> Outcome {
            let event = self.event(payload);
            self.apply_event(event)
        }

        /// Applies an event that must succeed; returns the version it left.
        fn ok(&mut self, payload: Payload) -> AggregateVersion {
            match self.apply(payload) {
                Outcome::Applied { version } => version,
                other => panic!("expected applied, got {other:?}"),
            }
        }

        fn ok_expecting(&mut self, payload: Payload, v: AggregateVersion) -> AggregateVersion {
            let event = self.event(payload).expecting(v);
            match self.apply_event(event) {
                Outcome::Applied { version } => version,
                other => panic!("expected applied, got {other:?}"),
            }
        }

        fn digest(&self) -> String {
            self.harness.store.digest(&self.harness.id).unwrap()
        }

        /// An event that must be rejected and change nothing.
        fn rejected_event(&mut self, event: EventEnvelope) -> Rejection {
            let before = self.digest();
            let outcome = self.apply_event(event);
            assert_eq!(self.digest(), before, "a rejection changed the view");
            match outcome {
                Outcome::Rejected { rejection } => rejection,
                other => panic!("expected a rejection, got {other:?}"),
            }
        }

        fn rejected(&mut self, payload: Payload) -> Rejection {
            let event = self.event(payload);
            self.rejected_event(event)
        }

        fn rejected_expecting(&mut self, payload: Payload, v: AggregateVersion) -> Rejection {
            let event = self.event(payload).expecting(v);
            self.rejected_event(event)
        }

        /// An event that must be quarantined and change nothing.
        fn refused_event(&mut self, event: EventEnvelope) -> String {
            let before = self.digest();
            let outcome = self.apply_event(event);
            assert_eq!(self.digest(), before, "a refused event changed the view");
            match outcome {
                Outcome::Quarantined { reason } => reason,
                other => panic!("expected a refusal, got {other:?}"),
            }
        }

        fn refused(&mut self, payload: Payload) -> String {
            let event = self.event(payload);
            self.refused_event(event)
        }

        fn entry(&self, path: &str) -> Option<FileEntry> {
            self.view.entry(ALICE, path).unwrap()
        }

        /// An inline file's bytes.
        fn body(&self, path: &str) -> Option<Vec<u8>> {
            match self.view.content(ALICE, path).unwrap()? {
                FileContent::Inline(body) => Some(body),
                FileContent::Stored(object) => panic!("{path} is stored as {object:?}"),
            }
        }

        /// A stored file's object.
        fn stored(&self, path: &str) -> Option<ObjectRef> {
            match self.view.content(ALICE, path).unwrap()? {
                FileContent::Stored(object) => Some(object),
                FileContent::Inline(_) => panic!("{path} is inline"),
            }
        }

        fn children(&self, folder: &str) -> Vec<String> {
            let members = self.view.children(ALICE, folder).unwrap();
            members.into_iter().map(|(path, _)| path).collect()
        }
    }

    fn folder(path: &str) -> Payload {
        folder_with(path, &[])
    }

    fn folder_with(path: &str, dead: &[(&str, &str)]) -> Payload {
        Payload::FolderCreated(FolderCreated {
            path: path.into(),
            dead: props(dead),
        })
    }

    fn props(dead: &[(&str, &str)]) -> DeadProperties {
        dead.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn put(path: &str, body: &str) -> Payload {
        Payload::FilePut(FilePut {
            path: path.into(),
            content_type: "text/plain".into(),
            content: FileContent::Inline(body.as_bytes().to_vec()),
        })
    }

    /// A file whose bytes are in the object store, named by `n`.
    fn put_stored(path: &str, n: u8, size: u64) -> Payload {
        Payload::FilePut(FilePut {
            path: path.into(),
            content_type: "application/pdf".into(),
            content: FileContent::Stored(object(n, size)),
        })
    }

    fn object(n: u8, size: u64) -> ObjectRef {
        ObjectRef {
            sha256: events::ObjectId([n; 32]),
            size,
        }
    }

    fn delete(path: &str) -> Payload {
        Payload::FileDeleted(FileDeleted { path: path.into() })
    }

    fn copy(from: &str, to: &str, recursive: bool, overwrite: bool) -> Payload {
        Payload::FilesCopied(FilesCopied {
            from: from.into(),
            to: to.into(),
            recursive,
            overwrite,
        })
    }

    fn mv(from: &str, to: &str, overwrite: bool) -> Payload {
        Payload::FilesMoved(FilesMoved {
            from: from.into(),
            to: to.into(),
            overwrite,
        })
    }

    fn patch(path: &str, changes: &[(&str, Option<&str>)]) -> Payload {
        Payload::FilePropertiesPatched(FilePropertiesPatched {
            path: path.into(),
            dead: changes
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
                .collect(),
        })
    }

    fn not_found(what: &str) -> Rejection {
        Rejection::NotFound { what: what.into() }
    }

    fn exists(path: &str) -> Rejection {
        Rejection::AlreadyExists {
            what: format!("file or folder {path}"),
        }
    }

    fn conflict(expected: u64, actual: u64) -> Rejection {
        Rejection::VersionConflict {
            expected: AggregateVersion(expected),
            actual: AggregateVersion(actual),
        }
    }

    fn not_allowed(r: Rejection) -> bool {
        matches!(r, Rejection::NotAllowed { .. })
    }

    const NOTE: &str = "{urn:x}note";
    const NOTE_XML: &str = "<x:note xmlns:x=\"urn:x\">hi</x:note>";

    #[test]
    fn folders_and_files_at_the_root_and_below() {
        let mut a = Fixture::new();
        let v = a.ok(folder_with("docs", &[(NOTE, NOTE_XML)]));
        assert_eq!(v, AggregateVersion(1));
        assert_eq!(a.ok(put("readme.txt", "hello")), AggregateVersion(2));
        assert_eq!(a.ok(put("docs/a.txt", "a")), AggregateVersion(3));

        let docs = a.entry("docs").unwrap();
        assert_eq!(
            docs,
            FileEntry {
                kind: FileKind::Folder,
                version: AggregateVersion(1),
                modified_ms: at(0),
                created_ms: at(0),
                dead: props(&[(NOTE, NOTE_XML)]),
            }
        );
        assert!(docs.is_folder());
        let readme = a.entry("readme.txt").unwrap();
        assert_eq!(
            readme.kind,
            FileKind::File {
                content_type: "text/plain".into(),
                length: 5,
                object: None,
            }
        );
        assert_eq!(readme.etag(), "\"2\"");
        assert_eq!((readme.created_ms, readme.modified_ms), (at(1), at(1)));
        assert!(!readme.is_folder());
        assert_eq!(a.body("readme.txt").unwrap(), b"hello");
        assert_eq!(a.body("docs/a.txt").unwrap(), b"a");
        assert_eq!(a.body("docs"), None, "folders have no body");
        assert_eq!(a.body("nothing"), None);

        assert_eq!(a.entry(""), None, "the root is never stored");
        assert_eq!(a.children(""), ["docs", "readme.txt"]);
        assert_eq!(a.children("docs"), ["docs/a.txt"]);
        assert!(a.children("readme.txt").is_empty());
        // Another owner's area is separate.
        assert_eq!(a.view.entry("bob@example.com", "docs").unwrap(), None);
        assert!(a.view.children("bob@example.com", "").unwrap().is_empty());
    }

    #[test]
    fn children_are_the_direct_members_sorted_by_name() {
        let mut a = Fixture::new();
        for p in ["b", "a", "a/z", "a/y", "a/y/deep", "ab", "a.txt"] {
            a.ok(folder(p));
        }
        a.ok(put("a/m.txt", "m"));
        a.ok(put("ab/x", "x"));
        assert_eq!(a.children(""), ["a", "a.txt", "ab", "b"]);
        assert_eq!(a.children("a"), ["a/m.txt", "a/y", "a/z"]);
        assert_eq!(a.children("a/y"), ["a/y/deep"]);
        let listed = a.view.children(ALICE, "a").unwrap();
        assert_eq!(listed[0].1, a.entry("a/m.txt").unwrap());
        // Paths a client could send but that name nothing.
        assert!(a.children("a/").is_empty());
        assert!(a.children("/a").is_empty());
        assert_eq!(a.entry("a//y"), None);
    }

    #[test]
    fn a_folder_needs_a_parent_folder_and_a_free_path() {
        let mut a = Fixture::new();
        a.ok(folder("docs"));
        a.ok(put("f.txt", "f"));
        assert_eq!(
            a.rejected(folder("missing/sub")),
            not_found("parent folder missing")
        );
        assert_eq!(
            a.rejected(folder("f.txt/sub")),
            not_found("parent folder f.txt")
        );
        assert_eq!(a.rejected(folder("docs")), exists("docs"));
        assert_eq!(a.rejected(folder("f.txt")), exists("f.txt"));
        assert_eq!(
            a.rejected_expecting(folder("new"), AggregateVersion(1)),
            conflict(1, 0)
        );
        a.ok_expecting(folder("new"), AggregateVersion::ABSENT);
        a.ok(folder("docs/sub"));
        assert_eq!(a.children("docs"), ["docs/sub"]);
    }

    #[test]
    fn put_creates_and_replaces_keeping_dead_properties_and_creation() {
        let mut a = Fixture::new();
        a.ok(folder("docs"));
        let v1 = a.ok(put("docs/f.txt", "one"));
        a.ok(patch("docs/f.txt", &[(NOTE, Some(NOTE_XML))]));
        let v2 = a.ok_expecting(
            Payload::FilePut(FilePut {
                path: "docs/f.txt".into(),
                content_type: "application/octet-stream".into(),
                content: FileContent::Inline(vec![0, 1, 2, 255]),
            }),
            v1,
        );
        let f = a.entry("docs/f.txt").unwrap();
        assert_eq!(
            f,
            FileEntry {
                kind: FileKind::File {
                    content_type: "application/octet-stream".into(),
                    length: 4,
                    object: None,
                },
                version: v2,
                modified_ms: at(3),
                created_ms: at(1),
                dead: props(&[(NOTE, NOTE_XML)]),
            }
        );
        assert_eq!(a.body("docs/f.txt").unwrap(), [0, 1, 2, 255]);
        // An empty body is a file too.
        a.ok(put("empty", ""));
        assert_eq!(a.body("empty").unwrap(), b"");
    }

    #[test]
    fn put_rejections_change_nothing() {
        let mut a = Fixture::new();
        a.ok(folder("docs"));
        let v = a.ok(put("docs/f.txt", "one"));
        assert_eq!(
            a.rejected(put("nope/f.txt", "x")),
            not_found("parent folder nope")
        );
        assert_eq!(
            a.rejected(put("docs/f.txt/g", "x")),
            not_found("parent folder docs/f.txt")
        );
        assert!(not_allowed(a.rejected(put("docs", "x"))));
        assert_eq!(
            a.rejected_expecting(put("docs/f.txt", "two"), AggregateVersion(1)),
            conflict(1, v.0)
        );
        // If-None-Match: * on an existing file.
        assert_eq!(
            a.rejected_expecting(put("docs/f.txt", "two"), AggregateVersion::ABSENT),
            conflict(0, v.0)
        );
        assert_eq!(
            a.rejected_expecting(put("docs/g.txt", "two"), v),
            conflict(v.0, 0)
        );
        assert_eq!(a.body("docs/f.txt").unwrap(), b"one");
    }

    #[test]
    fn delete_removes_a_file_or_a_whole_folder() {
        let mut a = Fixture::new();
        for p in ["a", "a/b", "a/b/c", "ab", "a-b"] {
            a.ok(folder(p));
        }
        a.ok(put("a/f", "1"));
        a.ok(put("a/b/c/g", "2"));
        a.ok(put("ab/h", "3"));
        a.ok(put("a.txt", "4"));
        let only_siblings = {
            let mut b = Fixture::new();
            b.ok(folder("ab"));
            b.ok(folder("a-b"));
            b.ok(put("ab/h", "3"));
            b.ok(put("a.txt", "4"));
            b.children("")
        };

        assert_eq!(a.rejected(delete("zz")), not_found("file or folder zz"));
        let v = a.entry("a").unwrap().version;
        assert_eq!(
            a.rejected_expecting(delete("a"), AggregateVersion(v.0 + 1)),
            conflict(v.0 + 1, v.0)
        );

        assert_eq!(
            a.apply(delete("a")),
            Outcome::Applied {
                version: AggregateVersion::ABSENT
            }
        );
        for gone in ["a", "a/b", "a/b/c", "a/f", "a/b/c/g"] {
            assert_eq!(a.entry(gone), None, "{gone}");
            assert_eq!(a.body(gone), None, "{gone}");
        }
        assert_eq!(a.children(""), only_siblings);
        assert_eq!(a.body("ab/h").unwrap(), b"3");
        assert_eq!(a.rejected(delete("a/f")), not_found("file or folder a/f"));

        a.ok_expecting(delete("a.txt"), a.entry("a.txt").unwrap().version);
        assert_eq!(a.body("a.txt"), None);
        assert_eq!(a.children(""), ["a-b", "ab"]);
    }

    /// `src` with a dead property, a file, and a subfolder with a file.
    fn tree_with_members(a: &mut Fixture) {
        a.ok(folder_with("src", &[(NOTE, NOTE_XML)]));
        a.ok(put("src/f", "f"));
        a.ok(folder("src/sub"));
        a.ok(put("src/sub/g", "g"));
        a.ok(patch(
            "src/sub/g",
            &[(NOTE, Some("<x:note xmlns:x=\"urn:x\"/>"))],
        ));
    }

    #[test]
    fn a_shallow_copy_takes_a_folder_alone_and_a_recursive_one_everything() {
        let mut a = Fixture::new();
        tree_with_members(&mut a);
        let before = a.children("src");

        let v = a.ok(copy("src", "shallow", false, false));
        let shallow = a.entry("shallow").unwrap();
        assert_eq!(
            shallow,
            FileEntry {
                kind: FileKind::Folder,
                version: v,
                modified_ms: at(v.0 - 1),
                created_ms: at(v.0 - 1),
                dead: props(&[(NOTE, NOTE_XML)]),
            }
        );
        assert!(a.children("shallow").is_empty());

        let v = a.ok(copy("src", "deep", true, false));
        assert_eq!(a.children("deep"), ["deep/f", "deep/sub"]);
        assert_eq!(a.children("deep/sub"), ["deep/sub/g"]);
        assert_eq!(a.body("deep/sub/g").unwrap(), b"g");
        for p in ["deep", "deep/f", "deep/sub", "deep/sub/g"] {
            let e = a.entry(p).unwrap();
            assert_eq!(e.version, v, "{p}");
            assert_eq!((e.created_ms, e.modified_ms), (at(v.0 - 1), at(v.0 - 1)));
        }
        assert_eq!(
            a.entry("deep/sub/g").unwrap().dead,
            a.entry("src/sub/g").unwrap().dead
        );
        // The source is untouched.
        assert_eq!(a.children("src"), before);
        assert_eq!(a.entry("src/f").unwrap().version, AggregateVersion(2));

        // A file copies with its body, whatever the depth.
        let v = a.ok(copy("src/f", "f-copy", false, false));
        assert_eq!(a.body("f-copy").unwrap(), b"f");
        assert_eq!(a.entry("f-copy").unwrap().version, v);
    }

    #[test]
    fn copy_and_move_rejections_change_nothing() {
        let mut a = Fixture::new();
        tree_with_members(&mut a);
        a.ok(put("other", "o"));
        let src = a.entry("src").unwrap().version;
        for (name, op) in [
            (
                "copy",
                (|f, t, o| copy(f, t, true, o)) as fn(&str, &str, bool) -> Payload,
            ),
            ("move", mv),
        ] {
            assert_eq!(
                a.rejected(op("nope", "x", false)),
                not_found("file or folder nope"),
                "{name}"
            );
            assert!(not_allowed(a.rejected(op("src", "src", true))), "{name}");
            assert!(
                not_allowed(a.rejected(op("src", "src/sub/x", true))),
                "{name}"
            );
            // Replacing a folder that holds the source.
            assert!(
                not_allowed(a.rejected(op("src/sub", "src", true))),
                "{name}"
            );
            assert_eq!(a.rejected(op("src/sub", "src", false)), exists("src"));
            assert_eq!(
                a.rejected(op("src", "no/x", false)),
                not_found("parent folder no"),
                "{name}"
            );
            assert_eq!(
                a.rejected(op("src", "other/x", false)),
                not_found("parent folder other"),
                "{name}"
            );
            assert_eq!(a.rejected(op("src", "other", false)), exists("other"));
            // The expected version is the source's, not the destination's.
            let other = a.entry("other").unwrap().version;
            assert_eq!(
                a.rejected_expecting(op("src", "fresh", false), other),
                conflict(other.0, src.0),
                "{name}"
            );
        }
        // A name that only starts like the source is not inside it.
        a.ok_expecting(copy("src", "src2", true, false), src);
        assert_eq!(a.children("src2"), ["src2/f", "src2/sub"]);
    }

    #[test]
    fn overwrite_removes_the_old_destination_first() {
        let mut a = Fixture::new();
        a.ok(put("new", "new body"));
        a.ok(patch("new", &[(NOTE, Some(NOTE_XML))]));
        for p in ["old", "old/sub"] {
            a.ok(folder(p));
        }
        a.ok(put("old/x", "x"));
        a.ok(put("old/sub/y", "y"));
        a.ok(folder("old2"));
        a.ok(put("old2/z", "z"));

        // A file over a folder: nothing of the folder's subtree survives.
        let v = a.ok(copy("new", "old", false, true));
        let old = a.entry("old").unwrap();
        assert_eq!(old.version, v);
        assert_eq!(old.dead, props(&[(NOTE, NOTE_XML)]));
        assert_eq!(a.body("old").unwrap(), b"new body");
        assert!(a.children("old").is_empty());
        for gone in ["old/x", "old/sub", "old/sub/y"] {
            assert_eq!(a.entry(gone), None, "{gone}");
            assert_eq!(a.body(gone), None, "{gone}");
        }
        // A folder over a folder: the old members do not mix in.
        a.ok(folder("fresh"));
        a.ok(put("fresh/w", "w"));
        a.ok(mv("fresh", "old2", true));
        assert_eq!(a.children("old2"), ["old2/w"]);
        assert_eq!(a.body("old2/z"), None);
        assert_eq!(a.entry("fresh"), None);
    }

    #[test]
    fn move_carries_a_folder_with_its_members_and_dead_properties() {
        let mut a = Fixture::new();
        tree_with_members(&mut a);
        a.ok(folder("dest"));
        let created: Vec<_> = ["src", "src/f", "src/sub", "src/sub/g"]
            .iter()
            .map(|p| a.entry(p).unwrap())
            .collect();

        let v = a.ok_expecting(mv("src", "dest/moved", false), created[0].version);
        assert_eq!(a.entry("src"), None);
        assert_eq!(a.children(""), ["dest"]);
        for (p, before) in [
            "dest/moved",
            "dest/moved/f",
            "dest/moved/sub",
            "dest/moved/sub/g",
        ]
        .iter()
        .zip(&created)
        {
            let now = a.entry(p).unwrap();
            assert_eq!(now.version, v, "{p}");
            assert_eq!(now.modified_ms, at(v.0 - 1), "{p}");
            assert_eq!(now.created_ms, before.created_ms, "{p}");
            assert_eq!(now.dead, before.dead, "{p}");
            assert_eq!(now.kind, before.kind, "{p}");
        }
        assert_eq!(a.body("dest/moved/sub/g").unwrap(), b"g");
        assert_eq!(a.body("src/sub/g"), None);
        assert_eq!(a.children("dest/moved"), ["dest/moved/f", "dest/moved/sub"]);

        // Back to the root, renamed, as a file would be.
        a.ok(mv("dest/moved/f", "f2", false));
        assert_eq!(a.body("f2").unwrap(), b"f");
        assert_eq!(a.children(""), ["dest", "f2"]);
    }

    #[test]
    fn proppatch_sets_and_removes_without_changing_the_version() {
        let mut a = Fixture::new();
        a.ok(folder_with(
            "docs",
            &[("{urn:x}keep", "<k/>"), (NOTE, "<old/>")],
        ));
        let v = a.entry("docs").unwrap().version;
        let outcome = a.apply_event(
            a.event(patch(
                "docs",
                &[
                    (NOTE, Some(NOTE_XML)),
                    ("{urn:x}keep", None),
                    ("{urn:y}new", Some("<n/>")),
                ],
            ))
            .expecting(v),
        );
        assert_eq!(outcome, Outcome::Applied { version: v });
        let docs = a.entry("docs").unwrap();
        assert_eq!(docs.version, v);
        assert_eq!(docs.modified_ms, at(0));
        assert_eq!(
            docs.dead,
            props(&[(NOTE, NOTE_XML), ("{urn:y}new", "<n/>")])
        );
        // Removing what is not there is fine.
        a.ok(patch("docs", &[("{urn:z}absent", None)]));
        assert_eq!(
            a.rejected(patch("nope", &[(NOTE, None)])),
            not_found("file or folder nope")
        );
        assert_eq!(
            a.rejected_expecting(patch("docs", &[(NOTE, None)]), AggregateVersion(9)),
            conflict(9, v.0)
        );
    }

    #[test]
    fn invalid_paths_and_foreign_events_are_quarantined() {
        let mut a = Fixture::new();
        a.ok(folder("docs"));
        a.ok(put("docs/f", "f"));
        for bad in [
            "",
            "/a",
            "a/",
            "a//b",
            ".",
            "docs/.",
            "..",
            "docs/../x",
            "a\0b",
        ] {
            assert!(
                a.refused(folder(bad)).contains("invalid file path"),
                "{bad:?}"
            );
            assert!(a.refused(put(bad, "x")).contains("invalid"), "{bad:?}");
            a.refused(delete(bad));
            a.refused(patch(bad, &[]));
            a.refused(copy("docs", bad, true, true));
            a.refused(copy(bad, "docs2", true, true));
            a.refused(mv("docs/f", bad, true));
            a.refused(mv(bad, "docs2", true));
        }
        // Segments that merely contain dots are names like any other.
        a.ok(folder("docs/..hidden"));
        a.ok(put("docs/.f", "x"));
        let owner = envelope(a.harness.next, "a\0b", folder("x"));
        assert!(a.refused_event(owner).contains("invalid owner"));
        let seen = a.refused(Payload::SeenAdded(SeenAdded {
            mailbox: "INBOX".into(),
            uids: UidSet::default(),
        }));
        assert!(seen.contains("not a file event"), "{seen}");
    }

    #[test]
    fn a_stored_file_keeps_only_its_reference_and_copies_and_moves_carry_it() {
        let mut a = Fixture::new();
        a.ok(folder("docs"));
        a.ok(put_stored("docs/big.pdf", 1, 20 << 20));
        let big = a.entry("docs/big.pdf").unwrap();
        assert_eq!(
            big.kind,
            FileKind::File {
                content_type: "application/pdf".into(),
                length: 20 << 20,
                object: Some(object(1, 20 << 20)),
            }
        );
        assert_eq!(a.stored("docs/big.pdf"), Some(object(1, 20 << 20)));
        // An inline file replaced by a stored one leaves no body behind,
        // and the other way round.
        a.ok(put("docs/small.txt", "inline"));
        a.ok(put_stored("docs/small.txt", 2, 6));
        assert_eq!(a.stored("docs/small.txt"), Some(object(2, 6)));
        assert!(a
            .harness
            .tree()
            .get(&body_key(ALICE, "docs/small.txt"))
            .unwrap()
            .is_none());
        a.ok(copy("docs", "copy", true, false));
        assert_eq!(a.stored("copy/big.pdf"), Some(object(1, 20 << 20)));
        a.ok(mv("copy", "moved", false));
        assert_eq!(a.stored("moved/small.txt"), Some(object(2, 6)));
        assert_eq!(a.entry("copy/small.txt"), None);
        a.ok(put("moved/small.txt", "inline again"));
        assert_eq!(a.body("moved/small.txt").unwrap(), b"inline again");
        a.ok(delete("moved"));
        assert_eq!(a.entry("moved/big.pdf"), None);
        // The original is untouched by what happened to its copies.
        assert_eq!(a.stored("docs/big.pdf"), Some(object(1, 20 << 20)));
    }

    #[test]
    fn an_event_with_both_or_neither_kind_of_content_does_not_decode() {
        use ciborium::Value;
        let text = |s: &str| Value::Text(s.into());
        let wire = |extra: Vec<(Value, Value)>| {
            let mut fields = vec![
                (text("path"), text("f")),
                (text("content_type"), text("text/plain")),
            ];
            fields.extend(extra);
            Value::Map(fields)
        };
        let body = (text("body"), Value::Bytes(b"x".to_vec()));
        let stored = Value::serialized(&object(3, 1)).unwrap();
        let decode = |v: Value| v.deserialized::<FilePut>().map_err(|e| e.to_string());
        assert_eq!(
            decode(wire(vec![body.clone()])).unwrap().content,
            FileContent::Inline(b"x".to_vec())
        );
        assert_eq!(
            decode(wire(vec![(text("object"), stored.clone())]))
                .unwrap()
                .content,
            FileContent::Stored(object(3, 1))
        );
        let both = decode(wire(vec![body, (text("object"), stored)])).unwrap_err();
        assert!(both.contains("both"), "{both}");
        let neither = decode(wire(vec![])).unwrap_err();
        assert!(neither.contains("neither"), "{neither}");
    }

    /// A sequence that exercises every rule, with rejections in between.
    fn varied() -> Vec<EventEnvelope> {
        let payloads = [
            folder_with("a", &[(NOTE, NOTE_XML)]),
            put("a/f", "1"),
            folder("a/b"),
            put("a/b/g", "2"),
            put("top", "3"),
            copy("a", "c", true, false),
            copy("a", "d", false, false),
            patch("c/b/g", &[(NOTE, Some(NOTE_XML))]),
            mv("c", "d", false),
            mv("c", "d", true),
            put("a/f", "4"),
            folder("a/b"),
            delete("a/b"),
            copy("top", "d/top", false, true),
            mv("d/b", "b", false),
            delete("missing"),
            folder("e"),
            put("e/h", "5"),
            delete("e"),
        ];
        payloads
            .into_iter()
            .enumerate()
            .map(|(n, p)| envelope(n as u64, ALICE, p))
            .collect()
    }

    #[test]
    fn a_deleted_owner_loses_the_whole_area_and_no_one_else_anything() {
        let mut a = Fixture::new();
        a.ok(folder("docs"));
        a.ok(put("docs/a.txt", "a"));
        a.ok(put("top.txt", "top"));
        let bob = "bob@example.com";
        let theirs = envelope(a.harness.next, bob, put("keep.txt", "bob's"));
        assert!(matches!(a.apply_event(theirs), Outcome::Applied { .. }));
        let gone = Payload::PrincipalDataDeleted(PrincipalDataDeleted {
            domain: Domain::Files,
        });
        assert_eq!(
            a.apply(gone.clone()),
            Outcome::Applied {
                version: AggregateVersion::ABSENT
            }
        );
        assert!(a.children("").is_empty());
        assert_eq!(a.body("docs/a.txt"), None);
        assert_eq!(
            a.view.content(bob, "keep.txt").unwrap(),
            Some(FileContent::Inline(b"bob's".to_vec()))
        );
        // Nothing of the owner's is left in the tree, and a repeat is harmless.
        let owner_keys = |f: &Fixture| {
            f.harness
                .store
                .tree(&f.harness.id)
                .unwrap()
                .prefix_keys(b"")
                .filter(|k| {
                    let k = k.as_ref().unwrap();
                    k.windows(ALICE.len()).any(|w| w == ALICE.as_bytes())
                        && !k.starts_with(b"out\0")
                })
                .count()
        };
        assert_eq!(owner_keys(&a), 0);
        assert!(matches!(a.apply(gone), Outcome::Applied { .. }));
        a.ok(put("new.txt", "a new start"));
        assert_eq!(a.children(""), ["new.txt"]);
    }

    #[test]
    fn two_runs_of_the_same_events_give_identical_views() {
        let events = varied();
        let mut one = Fixture::new();
        let mut all = Fixture::new();
        // One batch per event, and the whole log in one batch: the overlay
        // must read its own writes as the tree would.
        let a = one.run(&events, 1);
        let b = all.run(&events, events.len());
        assert_eq!(a, b);
        assert!(a.iter().any(|o| matches!(o, Outcome::Rejected { .. })));
        assert_eq!(one.digest(), all.digest());
        assert_ne!(one.digest(), Fixture::new().digest());
        assert_eq!(all.children(""), ["a", "b", "d", "top"]);
        assert_eq!(all.children("d"), ["d/f", "d/top"]);
        assert_eq!(all.entry("e"), None);
    }
}
