//! The view database: one fjall database under `<data-dir>/views`, one
//! keyspace per projection version, and a catalogue of which versions
//! exist, whether each finished building, and which one is live.
//!
//! Views are not fsynced batch by batch: the log is what is durable, and a
//! view resumes from the positions stored with its last batch that
//! reached the disk (each batch is atomic, positions included). The
//! runner persists at checkpoints, and `flush` on shutdown.

use crate::view::keys;
use events::log::TopicPartition;
use events::storage::{self, Format, Memory, OpenError};
use fjall::{Database, Keyspace, PersistMode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

const CATALOGUE: &str = "reprise-views";
const FORMAT: Format = Format {
    kind: "reprise-views",
    version: 2,
};

/// A projection version: `calendars@1`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProjectionId {
    pub name: String,
    pub version: u32,
}

impl ProjectionId {
    pub fn new(name: &str, version: u32) -> ProjectionId {
        ProjectionId {
            name: name.to_string(),
            version,
        }
    }

    fn keyspace_name(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for ProjectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

/// How far a projection version got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildState {
    /// Started from offset 0 and not yet caught up once; not servable.
    Building,
    /// Caught up with the log at least once; servable.
    Ready,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the data directory {path} is in use by another process (is `reprise serve` running?); \
         stop it, or run the command against the server with --server URL"
    )]
    Locked { path: String },
    #[error("{path} cannot be used as a reprise view database: {reason}; refusing to touch it")]
    Foreign { path: String, reason: String },
    #[error(
        "{path} holds views written by reprise's sled-based build; convert the data directory \
         with `reprise data-dir convert` (it keeps the old files)"
    )]
    SledEra { path: String },
    #[error("view storage at {path}: {reason}")]
    Storage { path: String, reason: String },
    /// The engine refuses writes since an earlier one failed (a full disk,
    /// an I/O error: that error came first).
    #[error("view storage at {path}: {}", storage::describe(&fjall::Error::Poisoned))]
    Stopped { path: String },
    #[error("corrupt view data in {projection} at key {key:?}: {reason}")]
    Corrupt {
        projection: String,
        key: String,
        reason: String,
    },
}

impl StoreError {
    fn engine(path: &str, e: fjall::Error) -> StoreError {
        if storage::stopped(&e) {
            StoreError::Stopped {
                path: path.to_string(),
            }
        } else {
            StoreError::Storage {
                path: path.to_string(),
                reason: storage::describe(&e),
            }
        }
    }
}

/// One key and its value in a version's keyspace.
pub type Entry = (Vec<u8>, Vec<u8>);

/// The view database. Cheap to clone.
#[derive(Clone)]
pub struct ViewStore {
    path: PathBuf,
    db: Database,
    catalogue: Keyspace,
    memory: Memory,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct CatalogueEntry {
    state: BuildState,
}

/// The keyspace of one projection version, with what writing to it
/// atomically needs. Cheap to clone.
#[derive(Clone)]
pub struct ViewTree {
    keyspace: Keyspace,
    db: Database,
    /// See [`storage::throttle`].
    write_buffer_bytes: u64,
    /// The projection version, for errors.
    name: String,
}

/// The writes of one batch: a value, or None to delete the key.
pub(crate) type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

impl ViewTree {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn storage(&self, e: fjall::Error) -> StoreError {
        StoreError::engine(&self.name, e)
    }

    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<fjall::Slice>, StoreError> {
        self.keyspace.get(key).map_err(|e| self.storage(e))
    }

    pub(crate) fn contains(&self, key: &[u8]) -> Result<bool, StoreError> {
        self.keyspace.contains_key(key).map_err(|e| self.storage(e))
    }

    /// Keys and values under `prefix`, in key order.
    pub(crate) fn prefix(
        &self,
        prefix: &[u8],
    ) -> impl Iterator<Item = Result<(fjall::Slice, fjall::Slice), StoreError>> + '_ {
        self.keyspace
            .prefix(prefix)
            .map(|guard| guard.into_inner().map_err(|e| self.storage(e)))
    }

    /// Keys under `prefix`, in key order, without reading values.
    pub(crate) fn prefix_keys(
        &self,
        prefix: &[u8],
    ) -> impl Iterator<Item = Result<fjall::Slice, StoreError>> + '_ {
        self.keyspace
            .prefix(prefix)
            .map(|guard| guard.key().map_err(|e| self.storage(e)))
    }

    /// Keys and values in a range, in key order.
    pub(crate) fn range<R: std::ops::RangeBounds<Vec<u8>>>(
        &self,
        range: R,
    ) -> impl Iterator<Item = Result<(fjall::Slice, fjall::Slice), StoreError>> + '_ {
        self.keyspace
            .range(range)
            .map(|guard| guard.into_inner().map_err(|e| self.storage(e)))
    }

    /// Every key and value, in key order.
    fn iter(&self) -> impl Iterator<Item = Result<(fjall::Slice, fjall::Slice), StoreError>> + '_ {
        self.keyspace
            .iter()
            .map(|guard| guard.into_inner().map_err(|e| self.storage(e)))
    }

    /// Writes a batch atomically: every write or none, even across a crash.
    /// It reaches the operating system before this returns (it survives
    /// the process being killed), but not the disk: see the module's note.
    pub(crate) fn commit(&self, writes: Writes) -> Result<(), StoreError> {
        let mut batch = fjall::OwnedWriteBatch::with_capacity(self.db.clone(), writes.len())
            .durability(Some(PersistMode::Buffer));
        for (k, v) in writes {
            match v {
                Some(v) => batch.insert(&self.keyspace, k, v),
                None => batch.remove(&self.keyspace, k),
            }
        }
        batch.commit().map_err(|e| self.storage(e))?;
        storage::throttle(&self.db, &self.keyspace, self.write_buffer_bytes)
            .map_err(|e| self.storage(e))
    }
}

impl ViewStore {
    /// Opens (or creates) the view database with the default memory budget.
    pub fn open(path: &Path) -> Result<ViewStore, StoreError> {
        ViewStore::open_with(path, Memory::default())
    }

    /// [`ViewStore::open`] with the engine's memory bounded by `memory`.
    pub fn open_with(path: &Path, memory: Memory) -> Result<ViewStore, StoreError> {
        let display = path.display().to_string();
        let (db, catalogue) =
            storage::open(path, memory, CATALOGUE, FORMAT).map_err(|e| match e {
                OpenError::Locked => StoreError::Locked {
                    path: display.clone(),
                },
                OpenError::SledEra => StoreError::SledEra {
                    path: display.clone(),
                },
                OpenError::Storage(reason) => StoreError::Storage {
                    path: display.clone(),
                    reason,
                },
                other => StoreError::Foreign {
                    path: display.clone(),
                    reason: other.to_string(),
                },
            })?;
        Ok(ViewStore {
            path: path.to_path_buf(),
            db,
            catalogue,
            memory,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn err(&self, e: fjall::Error) -> StoreError {
        StoreError::engine(&self.path.display().to_string(), e)
    }

    /// The keyspace of a projection version, created empty when missing.
    pub fn tree(&self, id: &ProjectionId) -> Result<ViewTree, StoreError> {
        let memory = self.memory;
        let keyspace = self
            .db
            .keyspace(&id.keyspace_name(), || storage::keyspace_options(memory))
            .map_err(|e| self.err(e))?;
        Ok(ViewTree {
            keyspace,
            db: self.db.clone(),
            write_buffer_bytes: self.memory.write_buffer_bytes,
            name: id.to_string(),
        })
    }

    /// The versions present, with their state.
    pub fn versions(&self) -> Result<BTreeMap<ProjectionId, BuildState>, StoreError> {
        let mut out = BTreeMap::new();
        for item in self.catalogue.prefix(b"state/") {
            let (k, v) = item.into_inner().map_err(|e| self.err(e))?;
            let name = String::from_utf8_lossy(&k[b"state/".len()..]).into_owned();
            let Some((n, ver)) = name.rsplit_once('@') else {
                continue;
            };
            let Ok(version) = ver.parse() else { continue };
            let entry: CatalogueEntry = decode(&v).map_err(|reason| StoreError::Corrupt {
                projection: name.clone(),
                key: "state".into(),
                reason,
            })?;
            out.insert(ProjectionId::new(n, version), entry.state);
        }
        Ok(out)
    }

    pub fn state(&self, id: &ProjectionId) -> Result<Option<BuildState>, StoreError> {
        Ok(self.versions()?.get(id).copied())
    }

    pub fn set_state(&self, id: &ProjectionId, state: BuildState) -> Result<(), StoreError> {
        let value = encode(&CatalogueEntry { state });
        self.catalogue
            .insert(format!("state/{id}"), value)
            .map_err(|e| self.err(e))?;
        self.settle_catalogue()
    }

    /// Makes the catalogue's changes durable, in a table of their own (see
    /// [`storage::settle`]).
    fn settle_catalogue(&self) -> Result<(), StoreError> {
        self.flush()?;
        storage::settle(&self.db, &self.catalogue).map_err(|e| self.err(e))
    }

    /// The live version of a projection: the one readers are served from.
    pub fn live(&self, name: &str) -> Result<Option<u32>, StoreError> {
        let raw = self
            .catalogue
            .get(format!("live/{name}"))
            .map_err(|e| self.err(e))?;
        Ok(raw.and_then(|r| <[u8; 4]>::try_from(r.as_ref()).ok().map(u32::from_be_bytes)))
    }

    pub fn set_live(&self, id: &ProjectionId) -> Result<(), StoreError> {
        self.catalogue
            .insert(format!("live/{}", id.name), id.version.to_be_bytes())
            .map_err(|e| self.err(e))?;
        self.settle_catalogue()
    }

    /// Records that a version caught up with the log, and makes it live
    /// unless a newer version already is.
    pub fn mark_ready(&self, id: &ProjectionId) -> Result<(), StoreError> {
        self.set_state(id, BuildState::Ready)?;
        match self.live(&id.name)? {
            Some(live) if live > id.version => Ok(()),
            _ => self.set_live(id),
        }
    }

    /// Drops a projection version: its keyspace and its catalogue entry.
    /// Readers still holding the keyspace keep reading it until they let
    /// go; its files go then.
    pub fn drop_version(&self, id: &ProjectionId) -> Result<(), StoreError> {
        let tree = self.tree(id)?;
        self.db
            .delete_keyspace(tree.keyspace)
            .map_err(|e| self.err(e))?;
        self.catalogue
            .remove(format!("state/{id}"))
            .map_err(|e| self.err(e))?;
        if self.live(&id.name)? == Some(id.version) {
            self.catalogue
                .remove(format!("live/{}", id.name))
                .map_err(|e| self.err(e))?;
        }
        self.settle_catalogue()
    }

    /// The stored next offset of every partition a version has read.
    pub fn positions(
        &self,
        id: &ProjectionId,
    ) -> Result<BTreeMap<TopicPartition, u64>, StoreError> {
        let tree = self.tree(id)?;
        let mut out = BTreeMap::new();
        for item in tree.prefix(keys::POSITION) {
            let (k, v) = item?;
            let corrupt = |reason: &str| StoreError::Corrupt {
                projection: id.to_string(),
                key: String::from_utf8_lossy(&k).into_owned(),
                reason: reason.to_string(),
            };
            let (domain, partition) =
                keys::parse_position(&k).ok_or_else(|| corrupt("bad position key"))?;
            let offset = <[u8; 8]>::try_from(v.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| corrupt("bad position value"))?;
            out.insert(TopicPartition { domain, partition }, offset);
        }
        Ok(out)
    }

    /// Events quarantined by a version.
    pub fn quarantined(&self, id: &ProjectionId) -> Result<u64, StoreError> {
        let tree = self.tree(id)?;
        let mut count = 0;
        for key in tree.prefix_keys(keys::QUARANTINE) {
            key?;
            count += 1;
        }
        Ok(count)
    }

    /// A SHA-256 over a version's view contents in key order, positions
    /// excluded: two rebuilds of one log give the same digest.
    pub fn digest(&self, id: &ProjectionId) -> Result<String, StoreError> {
        let tree = self.tree(id)?;
        let mut hasher = Sha256::new();
        for item in tree.iter() {
            let (k, v) = item?;
            if k.starts_with(keys::POSITION) {
                continue;
            }
            hasher.update((k.len() as u64).to_be_bytes());
            hasher.update(&k);
            hasher.update((v.len() as u64).to_be_bytes());
            hasher.update(&v);
        }
        Ok(hex::encode(hasher.finalize()))
    }

    /// Every key and value of a version's keyspace, in key order:
    /// positions, data, outcomes, quarantine, everything. What a snapshot
    /// copies.
    pub fn entries(
        &self,
        id: &ProjectionId,
    ) -> Result<impl Iterator<Item = Result<Entry, StoreError>>, StoreError> {
        let tree = self.tree(id)?;
        let keyspace = tree.keyspace.clone();
        Ok(keyspace.iter().map(move |guard| {
            guard
                .into_inner()
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .map_err(|e| tree.storage(e))
        }))
    }

    /// Writes entries into a version's keyspace as one atomic batch (a
    /// snapshot's restore writes a keyspace in several, into a database
    /// that is not served until it is complete).
    pub fn put_entries(
        &self,
        id: &ProjectionId,
        entries: impl IntoIterator<Item = Entry>,
    ) -> Result<(), StoreError> {
        let tree = self.tree(id)?;
        tree.commit(entries.into_iter().map(|(k, v)| (k, Some(v))).collect())
    }

    /// True when the database holds no projection version: no catalogue
    /// entry and no keyspace with anything in it. A snapshot is restored
    /// only into such a database, so it never mixes with views already
    /// there.
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        // The catalogue always holds the format marker.
        for prefix in [&b"state/"[..], b"live/"] {
            if self.catalogue.prefix(prefix).next().is_some() {
                return Ok(false);
            }
        }
        for name in self.db.list_keyspace_names() {
            let name: &str = &name;
            if name == CATALOGUE {
                continue;
            }
            let keyspace = self
                .db
                .keyspace(name, fjall::KeyspaceCreateOptions::default)
                .map_err(|e| self.err(e))?;
            if !keyspace.is_empty().map_err(|e| self.err(e))? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Makes everything written so far durable.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db
            .persist(PersistMode::SyncAll)
            .map_err(|e| self.err(e))
    }

    /// Makes everything durable and written out of the journals, so that
    /// the next open replays nothing: for the end of a rebuild and a
    /// server's stop.
    pub fn close(&self) -> Result<(), StoreError> {
        storage::write_out(&self.db).map_err(|e| self.err(e))
    }

    /// Waits until the engine wrote out and compacted what it had queued,
    /// at most `patience` (see [`storage::wait_idle`]).
    pub fn wait_idle(&self, patience: std::time::Duration) {
        storage::wait_idle(&self.db, patience)
    }

    /// Bytes the database occupies on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        storage::size_on_disk(&self.path).map_err(|e| StoreError::Storage {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        })
    }
}

/// Stored values are CBOR; writing into memory cannot fail.
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    ciborium::into_writer(value, &mut out).expect("CBOR encoding into memory");
    out
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    ciborium::from_reader(bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_copy_a_tree_whole_and_an_empty_store_says_so() {
        let id = ProjectionId::new("seen", 1);
        let (a, b, c) = (
            crate::testing::TestStore::new(id.clone()),
            crate::testing::TestStore::new(id.clone()),
            crate::testing::TestStore::new(id.clone()),
        );
        let store = &a.store;
        assert!(store.is_empty().unwrap());
        // A tree opened but never written leaves the store empty.
        store.tree(&id).unwrap();
        assert!(store.is_empty().unwrap());
        store
            .put_entries(
                &id,
                [
                    (b"b".to_vec(), b"2".to_vec()),
                    (b"a".to_vec(), b"1".to_vec()),
                ],
            )
            .unwrap();
        assert!(!store.is_empty().unwrap());
        let entries: Vec<Entry> = store.entries(&id).unwrap().map(|e| e.unwrap()).collect();
        assert_eq!(
            entries,
            vec![
                (b"a".to_vec(), b"1".to_vec()),
                (b"b".to_vec(), b"2".to_vec())
            ]
        );
        let copy = &b.store;
        copy.put_entries(&id, entries).unwrap();
        assert_eq!(copy.digest(&id).unwrap(), store.digest(&id).unwrap());
        // A catalogue entry alone makes it not empty.
        let other = &c.store;
        other.set_live(&id).unwrap();
        assert!(!other.is_empty().unwrap());
    }
}
