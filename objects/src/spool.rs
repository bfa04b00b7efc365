//! A body on its way into the store: written to a local file while its
//! SHA-256 and length are computed, so that its name is known before it is
//! stored and no body is ever held whole in memory.

use crate::{ObjectError, ObjectId, ObjectRef};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncWriteExt, BufWriter};

/// Writes go through a buffer of this size, so that the small chunks an
/// HTTP body arrives in become few system calls.
const BUFFER: usize = 256 << 10;

/// A body being spooled. Dropped before [`Spool::finish`], it removes its
/// file.
pub struct Spool {
    file: Option<BufWriter<tokio::fs::File>>,
    path: PathBuf,
    hasher: Sha256,
    size: u64,
    limit: u64,
}

/// A spooled body, durable in its spool file, with its name. The file is
/// removed when this is dropped: the store has linked or uploaded it by
/// then, or it was refused.
pub struct Spooled {
    path: PathBuf,
    object: ObjectRef,
}

fn spool_error(path: &Path) -> impl FnOnce(std::io::Error) -> ObjectError + '_ {
    move |source| ObjectError::Spool {
        path: path.to_path_buf(),
        source,
    }
}

impl Spool {
    pub(crate) async fn create(dir: &Path, limit: u64) -> Result<Spool, ObjectError> {
        // A v7 UUID: unique without coordination, and sorted by time for
        // whoever looks at a spool left behind by a crash.
        let path = dir.join(format!("{}.part", uuid::Uuid::now_v7()));
        let file = match tokio::fs::File::create_new(&path).await {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(spool_error(dir))?;
                tokio::fs::File::create_new(&path).await
            }
            created => created,
        }
        .map_err(spool_error(&path))?;
        Ok(Spool {
            file: Some(BufWriter::with_capacity(BUFFER, file)),
            path,
            hasher: Sha256::new(),
            size: 0,
            limit,
        })
    }

    /// Appends a chunk; refuses to go past the limit.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), ObjectError> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(ObjectError::TooLarge { limit: self.limit });
        }
        self.hasher.update(chunk);
        let file = self
            .file
            .as_mut()
            .expect("a spool is written until finished");
        file.write_all(chunk).await.map_err(spool_error(&self.path))
    }

    /// The bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Flushes and fsyncs the spool file: from here, a store that links it
    /// (the file store) has durable bytes under the object's name.
    pub async fn finish(mut self) -> Result<Spooled, ObjectError> {
        let mut file = self.file.take().expect("finished once");
        file.flush().await.map_err(spool_error(&self.path))?;
        file.get_ref()
            .sync_all()
            .await
            .map_err(spool_error(&self.path))?;
        let digest: [u8; 32] = std::mem::take(&mut self.hasher).finalize().into();
        Ok(Spooled {
            path: std::mem::take(&mut self.path),
            object: ObjectRef {
                sha256: ObjectId(digest),
                size: self.size,
            },
        })
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Spooled {
    pub fn object(&self) -> ObjectRef {
        self.object
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
