//! Guards around opening a sled database that reprise wrote.
//!
//! sled treats a database whose segment header fails its checksum as
//! empty and starts a new one over it. For the log, the only source of
//! truth, that would silently replace everything; so before sled opens a
//! directory we check the first segment header ourselves, and after it
//! opened one that existed we insist that reprise's format marker survived.

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
    let len = std::fs::metadata(dir.join("db")).map_or(0, |m| m.len());
    if len == 0 {
        return Ok(Existing::Fresh); // created, never written: nothing to lose
    }
    check_segment_headers(dir).map(|_| Existing::Database)
}

/// The segment size sled records in its `conf` file (512 KiB by default).
fn segment_size(dir: &Path) -> u64 {
    std::fs::read_to_string(dir.join("conf"))
        .ok()
        .and_then(|conf| {
            conf.lines()
                .find_map(|l| l.strip_prefix("segment_size:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .filter(|&size: &u64| size >= SEGMENT_HEADER_LEN as u64)
        .unwrap_or(512 * 1024)
}

/// Reads the header of every segment, as sled's recovery does: each must
/// be free (all zeros: sled zeroes segments it frees) or pass its
/// checksum, and at least one must be in use (reprise writes its format
/// marker into every new database at once).
fn check_segment_headers(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::FileExt;
    let file =
        std::fs::File::open(dir.join("db")).map_err(|e| format!("cannot read its db file: {e}"))?;
    let len = file
        .metadata()
        .map_err(|e| format!("cannot read its db file: {e}"))?
        .len();
    let segment = segment_size(dir);
    let mut in_use = 0;
    let mut header = [0u8; SEGMENT_HEADER_LEN];
    for index in 0..len.div_ceil(segment) {
        let at = index * segment;
        if len - at < SEGMENT_HEADER_LEN as u64 {
            return Err(format!(
                "its db file is corrupt (segment {index} is truncated)"
            ));
        }
        file.read_exact_at(&mut header, at)
            .map_err(|e| format!("cannot read its db file: {e}"))?;
        if header.iter().all(|&b| b == 0) {
            continue;
        }
        if !segment_header_ok(&header) {
            return Err(format!(
                "its db file is corrupt (the header of segment {index} fails its checksum)"
            ));
        }
        in_use += 1;
    }
    if in_use == 0 {
        return Err("its db file is corrupt (no segment holds data)".into());
    }
    Ok(())
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
        // A freed (zeroed) segment is fine as long as another is in use.
        let segment = segment_size(&dir) as usize;
        let mut freed = bytes.clone();
        freed.resize(bytes.len().max(2 * segment), 0);
        freed[segment..segment + SEGMENT_HEADER_LEN].copy_from_slice(&bytes[..SEGMENT_HEADER_LEN]);
        freed[..segment].fill(0);
        std::fs::write(dir.join("db"), &freed).unwrap();
        assert_eq!(check_before_open(&dir), Ok(Existing::Database));
        std::fs::write(dir.join("db"), vec![0u8; 2 * segment]).unwrap();
        assert!(check_before_open(&dir).unwrap_err().contains("no segment"));
        bytes[5] ^= 0xff;
        std::fs::write(dir.join("db"), &bytes).unwrap();
        assert!(check_before_open(&dir).unwrap_err().contains("corrupt"));
        std::fs::write(dir.join("db"), b"short").unwrap();
        assert!(check_before_open(&dir).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
