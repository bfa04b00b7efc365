//! The file store: objects as files under `root/sha256/ab/<hex>`, spooled
//! in `root/.spool` (the same file system) and linked into place. A link
//! is create-if-absent by nature, the spool file was fsynced before, and
//! the folder that receives the link is fsynced after, so an object is
//! durable under its name before its event can be appended.

use crate::location::{id_of_key, key_of, OBJECTS};
use crate::{ListedObject, ObjectError, ObjectId, Spooled};
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub(crate) struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// Makes nothing: a command that opens the store but never writes to
    /// it leaves no folder behind. [`LocalStore::probe`] (at `serve`) and
    /// the first write make what they need.
    pub(crate) fn open(root: &Path) -> Result<LocalStore, ObjectError> {
        Ok(LocalStore {
            root: root.to_path_buf(),
        })
    }

    pub(crate) fn spool_dir(&self) -> PathBuf {
        self.root.join(".spool")
    }

    fn path_of(&self, id: &ObjectId) -> PathBuf {
        self.root.join(key_of(id))
    }

    fn unavailable(&self, e: std::io::Error) -> ObjectError {
        ObjectError::Unavailable {
            store: format!("file://{}", self.root.display()),
            reason: e.to_string(),
        }
    }

    pub(crate) async fn probe(&self) -> Result<(), ObjectError> {
        let objects = self.root.join(OBJECTS);
        let probe = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&objects)?;
            std::fs::read_dir(objects).map(drop)
        });
        join(probe).await.map_err(|e| self.unavailable(e))
    }

    pub(crate) async fn adopt(&self, spooled: &Spooled) -> Result<(), ObjectError> {
        let from = spooled.path().to_path_buf();
        let to = self.path_of(&spooled.object().sha256);
        let link = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let folder = to.parent().expect("an object's path has a folder");
            std::fs::create_dir_all(folder)?;
            match std::fs::hard_link(&from, &to) {
                Ok(()) => {}
                // The same name is the same bytes: nothing to do.
                Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(()),
                Err(e) => return Err(e),
            }
            std::fs::File::open(folder)?.sync_all()
        });
        join(link).await.map_err(|e| self.unavailable(e))
    }

    pub(crate) async fn size_of(&self, id: &ObjectId) -> Result<Option<u64>, ObjectError> {
        match tokio::fs::metadata(self.path_of(id)).await {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.unavailable(e)),
        }
    }

    pub(crate) async fn read_range(
        &self,
        id: &ObjectId,
        start: u64,
        end: u64,
    ) -> Result<Bytes, ObjectError> {
        let path = self.path_of(id);
        let read = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
            let mut file = std::fs::File::open(path)?;
            file.seek(SeekFrom::Start(start))?;
            let mut bytes = Vec::with_capacity((end - start) as usize);
            file.take(end - start).read_to_end(&mut bytes)?;
            Ok(bytes)
        });
        match join(read).await {
            Ok(bytes) => Ok(Bytes::from(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(ObjectError::Missing(*id)),
            Err(e) => Err(self.unavailable(e)),
        }
    }

    /// Walks `sha256/*/` one fan-out folder at a time.
    pub(crate) fn list(&self) -> BoxStream<'static, Result<ListedObject, ObjectError>> {
        let objects = self.root.join(OBJECTS);
        let store = format!("file://{}", self.root.display());
        let fans = match std::fs::read_dir(&objects) {
            Ok(entries) => entries.filter_map(|e| e.ok()).map(|e| e.path()).collect(),
            // Nothing was ever stored.
            Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                let e = ObjectError::Unavailable {
                    store,
                    reason: e.to_string(),
                };
                return stream::once(async { Err(e) }).boxed();
            }
        };
        let fans: Vec<PathBuf> = fans;
        stream::iter(fans)
            .then(move |fan| {
                let store = store.clone();
                async move {
                    let listed = tokio::task::spawn_blocking(move || list_fan(&fan));
                    join(listed).await.map_err(|e| ObjectError::Unavailable {
                        store,
                        reason: e.to_string(),
                    })
                }
            })
            .flat_map(|fan| match fan {
                Ok(objects) => stream::iter(objects.into_iter().map(Ok)).boxed(),
                Err(e) => stream::once(async { Err(e) }).boxed(),
            })
            .boxed()
    }

    pub(crate) async fn delete(&self, id: &ObjectId) -> Result<(), ObjectError> {
        match tokio::fs::remove_file(self.path_of(id)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.unavailable(e)),
        }
    }
}

/// The objects of one fan-out folder; files that are not objects (none
/// should be there) are passed over.
fn list_fan(fan: &Path) -> std::io::Result<Vec<ListedObject>> {
    let Some(fan_name) = fan.file_name().and_then(|n| n.to_str()) else {
        return Ok(Vec::new());
    };
    let mut objects = Vec::new();
    for entry in std::fs::read_dir(fan)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Some(id) = id_of_key(&format!("{OBJECTS}/{fan_name}/{name}")) else {
            continue;
        };
        let meta = entry.metadata()?;
        let modified_ms = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as i64);
        objects.push(ListedObject {
            id,
            size: meta.len(),
            modified_ms,
        });
    }
    Ok(objects)
}

/// A blocking task's result; a panicked task is an I/O failure here.
async fn join<T>(task: tokio::task::JoinHandle<std::io::Result<T>>) -> std::io::Result<T> {
    task.await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())))
}
