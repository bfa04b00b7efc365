//! Room on the disks the log and the views live on.
//!
//! The storage engine (fjall) stops for good after a failed write or
//! flush (it "poisons" itself), so a disk that fills under it costs a
//! restart. Writes are therefore refused *before* they reach it while the
//! free space is below a reserve: nothing is appended, the views are not
//! written, and once space is freed the next write goes through, without a
//! restart. The reserve covers what a write sets in motion after the check
//! (its record, its view batch, the memtables written out behind them).

use std::path::PathBuf;

/// Why a write is refused: the disk under `path` is (nearly) full.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the disk holding {path} is full: {free} bytes free, below the {reserve} bytes kept in \
     reserve; writes are refused until space is freed (reads go on)"
)]
pub struct DiskFull {
    pub path: String,
    pub free: u64,
    pub reserve: u64,
}

/// The directories whose disks must keep `reserve` bytes free.
#[derive(Clone, Debug, Default)]
pub struct SpaceGuard {
    paths: Vec<PathBuf>,
    reserve: u64,
}

impl SpaceGuard {
    pub fn new(paths: Vec<PathBuf>, reserve: u64) -> SpaceGuard {
        SpaceGuard { paths, reserve }
    }

    pub fn with_reserve(self, reserve: u64) -> SpaceGuard {
        SpaceGuard { reserve, ..self }
    }

    /// The first watched disk below the reserve. A disk whose free space
    /// cannot be read is not held against writes: the write itself will
    /// say what is wrong.
    pub fn check(&self) -> Result<(), DiskFull> {
        if self.reserve == 0 {
            return Ok(());
        }
        for path in &self.paths {
            match free_bytes(path) {
                Some(free) if free < self.reserve => {
                    return Err(DiskFull {
                        path: path.display().to_string(),
                        free,
                        reserve: self.reserve,
                    })
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Bytes an unprivileged writer may still use on the filesystem of `path`.
fn free_bytes(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs fills the zeroed struct it is given from a
    // NUL-terminated path; both outlive the call.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    Some((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disk_below_the_reserve_refuses_and_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        let roomy = SpaceGuard::new(vec![dir.path().to_path_buf()], 1);
        assert_eq!(roomy.check(), Ok(()));
        let full = roomy.with_reserve(u64::MAX);
        let refused = full.check().unwrap_err();
        assert_eq!(refused.path, dir.path().display().to_string());
        assert!(refused.to_string().contains("is full"), "{refused}");
        assert_eq!(SpaceGuard::default().check(), Ok(()));
    }
}
