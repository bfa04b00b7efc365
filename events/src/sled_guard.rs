//! Guards around opening a sled database that reprise wrote.
//!
//! sled treats a database whose segment header fails its checksum as
//! empty and starts a new one over it. For the log, the only source of
//! truth, that would silently replace everything; so before sled opens a
//! directory we check the first segment header ourselves, and after it
//! opened one that existed we insist that reprise's format marker survived.

use std::io::Read;
use std::path::Path;

/// Why a database could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// Another process holds the directory.
    Locked,
    /// Not ours, or corrupt: refused without writing.
    Foreign(String),
    /// sled failed.
    Storage(String),
}

/// Opens the sled database at `dir` for reprise: refuses foreign or
/// corrupt directories before sled writes anything, and checks (or, on a
/// new database, writes) the `format` marker in the tree `marker_tree`.
/// Returns the database and that tree.
pub fn open(
    dir: &Path,
    cache_bytes: u64,
    marker_tree: &str,
    format: &[u8],
) -> Result<(sled::Db, sled::Tree), OpenError> {
    const FORMAT_KEY: &[u8] = b"format";
    let existing = check_before_open(dir).map_err(OpenError::Foreign)?;
    let db = sled::Config::new()
        .path(dir)
        .cache_capacity(cache_bytes)
        .mode(sled::Mode::HighThroughput)
        // No background fsync: the log flushes each append itself, and the
        // views flush where it matters (build states, shutdown) and are
        // otherwise rebuilt from their stored positions after a crash.
        .flush_every_ms(None)
        .open()
        .map_err(|e| {
            let text = e.to_string();
            if text.contains("could not acquire lock") || text.contains("WouldBlock") {
                OpenError::Locked
            } else {
                OpenError::Storage(text)
            }
        })?;
    let storage = |e: sled::Error| OpenError::Storage(e.to_string());
    let marker = db.open_tree(marker_tree).map_err(storage)?;
    match marker.get(FORMAT_KEY).map_err(storage)? {
        Some(f) if f.as_ref() == format => {}
        Some(f) => {
            return Err(OpenError::Foreign(format!(
                "unknown format {:?}",
                String::from_utf8_lossy(&f)
            )))
        }
        None => {
            let others = db
                .tree_names()
                .into_iter()
                .filter(|n| {
                    n.as_ref() != b"__sled__default" && n.as_ref() != marker_tree.as_bytes()
                })
                .count();
            // sled may have started afresh over a database it could not
            // read: a database that existed must still carry its marker.
            if existing == Existing::Database || others > 0 || !db.is_empty() {
                return Err(OpenError::Foreign(
                    "a sled database without reprise's format marker".into(),
                ));
            }
            marker.insert(FORMAT_KEY, format).map_err(storage)?;
            db.flush().map_err(storage)?;
        }
    }
    Ok((db, marker))
}

/// Length of sled 0.34's segment header: crc32, lsn, max stable lsn.
const SEGMENT_HEADER_LEN: usize = 20;

/// What was found in a directory before sled opened it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// No database file: sled will create one.
    Fresh,
    /// A database file with an intact first segment header.
    Database,
}

/// Checks `dir` before sled opens it: a directory holding anything but a
/// sled database, or a database whose first segment header is corrupt, is
/// refused with the reason.
pub fn check_before_open(dir: &Path) -> Result<Existing, String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Fresh),
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    let names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if names.is_empty() {
        return Ok(Existing::Fresh);
    }
    if !names.iter().any(|n| n == "db") {
        return Err(format!("it holds other files ({})", names.join(", ")));
    }
    // Only the first segment header: the file may be gigabytes.
    let mut header = Vec::with_capacity(SEGMENT_HEADER_LEN);
    std::fs::File::open(dir.join("db"))
        .and_then(|f| f.take(SEGMENT_HEADER_LEN as u64).read_to_end(&mut header))
        .map_err(|e| format!("cannot read its db file: {e}"))?;
    if header.is_empty() {
        return Ok(Existing::Fresh);
    }
    if header.len() < SEGMENT_HEADER_LEN || !segment_header_ok(&header) {
        return Err("its db file is corrupt (the first segment header fails its checksum)".into());
    }
    Ok(Existing::Database)
}

/// sled stores `!crc32(lsn bytes)` little-endian before the two LSNs.
fn segment_header_ok(header: &[u8]) -> bool {
    let Ok(stored) = <[u8; 4]>::try_from(&header[..4]) else {
        return false;
    };
    u32::from_le_bytes(stored) ^ 0xFFFF_FFFF == crc32fast::hash(&header[4..SEGMENT_HEADER_LEN])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_real_database_and_refuses_garbage() {
        let dir = std::env::temp_dir().join(format!("reprise-guard-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(check_before_open(&dir), Ok(Existing::Fresh));
        {
            let db = sled::open(&dir).unwrap();
            db.insert("k", "v").unwrap();
            db.flush().unwrap();
        }
        assert_eq!(check_before_open(&dir), Ok(Existing::Database));
        let mut bytes = std::fs::read(dir.join("db")).unwrap();
        bytes[5] ^= 0xff;
        std::fs::write(dir.join("db"), &bytes).unwrap();
        assert!(check_before_open(&dir).unwrap_err().contains("corrupt"));
        std::fs::write(dir.join("db"), b"short").unwrap();
        assert!(check_before_open(&dir).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
