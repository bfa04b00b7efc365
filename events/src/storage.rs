//! The one way reprise opens a storage engine database: fjall, an LSM
//! engine, for the embedded log (`<data-dir>/log`) and for the views
//! (`<data-dir>/views`).
//!
//! Before fjall sees a directory, [`inspect`] says what is there: nothing
//! (a new database), a fjall database, a database of reprise's first,
//! sled-based build (to be converted, never opened for writing), or
//! anything else (refused untouched). After it opened, the database must
//! carry reprise's format marker for this kind of database, at a format
//! this build reads.

use fjall::{Database, Keyspace, KeyspaceCreateOptions};
use std::path::Path;

/// The format marker's key in the marker keyspace.
const FORMAT_KEY: &[u8] = b"format";

/// What kind of reprise database, and the format this build writes:
/// stored as `"{kind} {version}"` (`reprise-log 2`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    pub kind: &'static str,
    pub version: u32,
}

impl Format {
    fn marker(&self) -> String {
        format!("{} {}", self.kind, self.version)
    }
}

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("another process holds it")]
    Locked,
    /// Not a reprise database of this kind, or damaged: refused without
    /// writing.
    #[error("{0}")]
    Foreign(String),
    /// Written by reprise's sled-based build: readable only to convert it.
    #[error("it was written by reprise's sled-based build (data directory format 1)")]
    SledEra,
    /// Written by a newer build.
    #[error("it holds format {found:?}, newer than this build reads ({reads:?})")]
    Newer { found: String, reads: String },
    #[error("{0}")]
    Storage(String),
}

/// Memory the engine may use for one database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memory {
    /// The block cache: decompressed blocks of the tables read recently.
    pub cache_bytes: u64,
    /// Largest in-memory write buffer (memtable) of one keyspace before it
    /// is written out as a table.
    pub memtable_bytes: u64,
    /// Memtables of all keyspaces, those waiting to be written out
    /// included, beyond which writers wait for the engine's worker (see
    /// [`throttle`]).
    pub write_buffer_bytes: u64,
}

impl Memory {
    /// Splits a cache budget (`--cache-size`) between the log and the
    /// views: the views read at random and get most of it; the log is read
    /// in order. Each database's memtables together may hold half its
    /// share, each an eighth (at least 1 MiB, at most 32 MiB), so the whole
    /// stays within one and a half times the budget.
    pub fn split(total_bytes: u64) -> (Memory, Memory) {
        let log = total_bytes / 4;
        let views = total_bytes - log;
        let of = |bytes: u64| {
            let memtable_bytes = (bytes / 8).clamp(1 << 20, 32 << 20);
            Memory {
                cache_bytes: bytes.max(1 << 20),
                memtable_bytes,
                write_buffer_bytes: (bytes / 2).max(2 * memtable_bytes),
            }
        };
        (of(log), of(views))
    }
}

/// Journals kept before the engine writes out the keyspaces that pin the
/// oldest: its smallest allowed bound.
const MAX_JOURNAL_BYTES: u64 = 64 << 20;

/// The default `--cache-size`: 64 MiB.
pub const DEFAULT_CACHE_BYTES: u64 = 64 << 20;

impl Default for Memory {
    fn default() -> Memory {
        Memory::split(DEFAULT_CACHE_BYTES).1
    }
}

/// What a directory holds, judged from its file names only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// Missing or empty: a new database goes there.
    Nothing,
    /// A fjall database.
    Database,
    /// A sled database (reprise's first build).
    SledEra,
    /// Anything else, with its file names.
    Other(Vec<String>),
}

/// Says what `dir` holds without opening or writing anything.
pub fn inspect(dir: &Path) -> Result<Found, String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Nothing),
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let has = |n: &str| names.iter().any(|x| x == n);
    Ok(if names.is_empty() {
        Found::Nothing
    } else if has("version") && has("keyspaces") {
        Found::Database
    } else if has("conf") && has("db") {
        Found::SledEra
    } else {
        Found::Other(names)
    })
}

/// Options of every keyspace reprise creates: LZ4 on every level (the log
/// and the views are mostly text), the memtable size from [`Memory`].
pub fn keyspace_options(memory: Memory) -> KeyspaceCreateOptions {
    use fjall::config::CompressionPolicy;
    use fjall::CompressionType;
    KeyspaceCreateOptions::default()
        .max_memtable_size(memory.memtable_bytes)
        .data_block_compression_policy(CompressionPolicy::all(CompressionType::Lz4))
}

/// Opens (or creates) the database at `dir` for reprise, and checks (or,
/// on a new database, writes) the format marker in the keyspace
/// `marker`. Returns the database and that keyspace.
pub fn open(
    dir: &Path,
    memory: Memory,
    marker: &str,
    format: Format,
) -> Result<(Database, Keyspace), OpenError> {
    let fresh = match inspect(dir).map_err(OpenError::Foreign)? {
        Found::Nothing => true,
        Found::Database => false,
        Found::SledEra => return Err(OpenError::SledEra),
        Found::Other(names) => {
            return Err(OpenError::Foreign(format!(
                "it holds other files ({})",
                names.join(", ")
            )))
        }
    };
    let db = Database::builder(dir)
        .cache_size(memory.cache_bytes)
        // A journal is dropped only once every keyspace it holds writes of
        // has written them out; a keyspace written rarely (the catalogue,
        // the log's metadata) would otherwise keep the journal growing to
        // the default 512 MiB, all of it replayed into memory at start.
        // The engine's smallest bound makes it flush such keyspaces early.
        .max_journaling_size(MAX_JOURNAL_BYTES)
        // One background thread per database flushes and compacts. With
        // two, the first hands every compaction to the second and spins
        // re-queueing them meanwhile (fjall 3.1's worker pool): a core
        // burnt for nothing on a two-core machine.
        .worker_threads(1)
        .open()
        .map_err(|e| match e {
            fjall::Error::Locked => OpenError::Locked,
            other if !fresh => {
                OpenError::Foreign(format!("it cannot be read ({})", describe(&other)))
            }
            other => OpenError::Storage(describe(&other)),
        })?;
    let storage = |e: fjall::Error| OpenError::Storage(describe(&e));
    let keyspace = db
        .keyspace(marker, || keyspace_options(memory))
        .map_err(storage)?;
    match keyspace.get(FORMAT_KEY).map_err(storage)? {
        Some(found) if *found == *format.marker().as_bytes() => {}
        Some(found) => return Err(refusal(&String::from_utf8_lossy(&found), format)),
        // A new database, or one whose creation was cut before its
        // marker was written: nothing in it to lose.
        None if fresh || holds_nothing(&db).map_err(storage)? => {
            keyspace
                .insert(FORMAT_KEY, format.marker())
                .map_err(storage)?;
            settle(&db, &keyspace).map_err(storage)?;
        }
        None => {
            return Err(OpenError::Foreign(format!(
                "a database without reprise's {} format marker",
                format.kind
            )))
        }
    }
    Ok((db, keyspace))
}

/// Writes a rarely written keyspace (a marker, a catalogue) out to a table
/// at once, so that its few writes do not keep a journal alive (see
/// [`MAX_JOURNAL_BYTES`]), which start-up would replay.
pub fn settle(db: &Database, keyspace: &Keyspace) -> Result<(), fjall::Error> {
    write_out_keyspaces(db, std::slice::from_ref(keyspace))
}

/// Writes every keyspace's memtable out to tables, so that the journals
/// can go and the next start has nothing to replay: what a clean stop
/// does (a crash instead replays the journals, which is slower, not less
/// safe).
pub fn write_out(db: &Database) -> Result<(), fjall::Error> {
    let keyspaces = db
        .list_keyspace_names()
        .iter()
        .map(|name| db.keyspace(name, KeyspaceCreateOptions::default))
        .collect::<Result<Vec<_>, _>>()?;
    write_out_keyspaces(db, &keyspaces)
}

/// Hands the keyspaces' memtables to the engine's worker and waits until
/// it wrote them out. Gives up at once when the engine failed (a full
/// disk: its worker stops, and nothing would ever be written out), and
/// after a minute on a disk too slow (the journal keeps the writes).
fn write_out_keyspaces(db: &Database, keyspaces: &[Keyspace]) -> Result<(), fjall::Error> {
    const PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);
    db.persist(fjall::PersistMode::SyncAll)?;
    for keyspace in keyspaces {
        keyspace.rotate_memtable()?;
    }
    let deadline = std::time::Instant::now() + PATIENCE;
    while keyspaces.iter().any(|k| k.sealed_memtable_count() > 0) {
        // Fails once the engine is poisoned.
        db.persist(fjall::PersistMode::Buffer)?;
        if std::time::Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    db.persist(fjall::PersistMode::SyncAll)
}

/// Keeps `db`'s memtables within `limit` bytes, after a write to
/// `written`: the engine's single worker rotates full memtables, writes
/// them out and compacts, one task after the other, so while it compacts
/// (seconds, on a large keyspace) a fast writer's memtable keeps growing,
/// hundreds of MB in a rebuild. Past the limit, the writer seals its own
/// memtable and waits until the worker wrote enough out. Gives up when
/// the engine stopped, and after a minute.
pub fn throttle(db: &Database, written: &Keyspace, limit: u64) -> Result<(), fjall::Error> {
    const PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);
    if db.write_buffer_size() <= limit {
        return Ok(());
    }
    if db.outstanding_flushes() == 0 {
        written.rotate_memtable()?;
    }
    let deadline = std::time::Instant::now() + PATIENCE;
    while db.write_buffer_size() > limit && db.outstanding_flushes() > 0 {
        // Fails once the engine is poisoned.
        db.persist(fjall::PersistMode::Buffer)?;
        if std::time::Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    Ok(())
}

/// Waits until `db`'s worker has nothing to flush or compact (for half a
/// second in a row: a finished compaction may schedule another), at most
/// `patience`: what its files on disk are once the engine caught up with
/// a burst of writes.
pub fn wait_idle(db: &Database, patience: std::time::Duration) {
    let deadline = std::time::Instant::now() + patience;
    let mut idle_since = None;
    while std::time::Instant::now() < deadline {
        if db.outstanding_flushes() == 0 && db.active_compactions() == 0 {
            let since = *idle_since.get_or_insert_with(std::time::Instant::now);
            if since.elapsed() >= std::time::Duration::from_millis(500) {
                return;
            }
        } else {
            idle_since = None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Whether `e` says the engine refuses writes since an earlier one failed
/// (fjall "poisons" a database after a failed write or flush: a full disk,
/// an I/O error). It has to be reopened; the first failure said why.
pub fn stopped(e: &fjall::Error) -> bool {
    matches!(e, fjall::Error::Poisoned)
}

/// An engine error in words: an I/O error as the operating system says it
/// (`No space left on device (os error 28)`), others as the engine does.
pub fn describe(e: &fjall::Error) -> String {
    match e {
        fjall::Error::Io(io) => io.to_string(),
        fjall::Error::Storage(fjall::LsmError::Io(io)) => io.to_string(),
        fjall::Error::Poisoned => {
            "the storage engine stopped after an earlier write failed (a full \
             disk or an I/O error, reported first); it must be reopened once the cause is fixed"
                .to_string()
        }
        other => other.to_string(),
    }
}

/// Whether no keyspace of `db` holds anything.
fn holds_nothing(db: &Database) -> Result<bool, fjall::Error> {
    for name in db.list_keyspace_names() {
        let keyspace = db.keyspace(&name, KeyspaceCreateOptions::default)?;
        if !keyspace.is_empty()? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Why a marker other than ours is refused: another kind, an older or a
/// newer format.
fn refusal(found: &str, ours: Format) -> OpenError {
    let version = found
        .strip_prefix(ours.kind)
        .and_then(|rest| rest.trim().parse::<u32>().ok());
    match version {
        Some(v) if v > ours.version => OpenError::Newer {
            found: found.to_string(),
            reads: ours.marker(),
        },
        _ => OpenError::Foreign(format!(
            "unknown format {found:?} (this build reads {:?})",
            ours.marker()
        )),
    }
}

/// Bytes the files under `dir` occupy on disk, as `du` counts them: the
/// engine preallocates its journal, whose length says little.
pub fn size_on_disk(dir: &Path) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            size_on_disk(&entry.path())?
        } else {
            meta.blocks() * 512
        };
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORMAT: Format = Format {
        kind: "reprise-test",
        version: 2,
    };

    #[test]
    fn a_new_database_gets_the_marker_and_others_are_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        assert_eq!(inspect(&path), Ok(Found::Nothing));
        {
            let (_db, marker) = open(&path, Memory::default(), "meta", FORMAT).unwrap();
            assert_eq!(
                marker.get(FORMAT_KEY).unwrap().as_deref(),
                Some(&b"reprise-test 2"[..])
            );
        }
        assert_eq!(inspect(&path), Ok(Found::Database));
        // Reopens.
        drop(open(&path, Memory::default(), "meta", FORMAT).unwrap());

        // A newer format is refused by name; another kind is foreign.
        let newer = Format {
            kind: "reprise-test",
            version: 1,
        };
        match open(&path, Memory::default(), "meta", newer) {
            Err(OpenError::Newer { found, .. }) => assert_eq!(found, "reprise-test 2"),
            other => panic!("{:?}", other.err()),
        }
        let other = Format {
            kind: "reprise-other",
            version: 2,
        };
        assert!(matches!(
            open(&path, Memory::default(), "meta", other),
            Err(OpenError::Foreign(_))
        ));

        let foreign = dir.path().join("foreign");
        std::fs::create_dir(&foreign).unwrap();
        std::fs::write(foreign.join("notes.txt"), b"precious").unwrap();
        match open(&foreign, Memory::default(), "meta", FORMAT) {
            Err(OpenError::Foreign(reason)) => assert!(reason.contains("notes.txt")),
            other => panic!("{:?}", other.err()),
        }
        assert_eq!(std::fs::read_dir(&foreign).unwrap().count(), 1);

        let sled = dir.path().join("sled");
        std::fs::create_dir(&sled).unwrap();
        std::fs::write(sled.join("conf"), b"").unwrap();
        std::fs::write(sled.join("db"), b"").unwrap();
        assert!(matches!(
            open(&sled, Memory::default(), "meta", FORMAT),
            Err(OpenError::SledEra)
        ));
    }

    #[test]
    fn a_creation_cut_before_the_marker_is_adopted_but_data_without_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        drop(Database::builder(&empty).open().unwrap());
        assert_eq!(inspect(&empty), Ok(Found::Database));
        drop(open(&empty, Memory::default(), "meta", FORMAT).unwrap());

        let data = dir.path().join("data");
        {
            let db = Database::builder(&data).open().unwrap();
            let ks = db
                .keyspace("other", KeyspaceCreateOptions::default)
                .unwrap();
            ks.insert("k", "v").unwrap();
        }
        match open(&data, Memory::default(), "meta", FORMAT) {
            Err(OpenError::Foreign(reason)) => assert!(reason.contains("format marker")),
            other => panic!("{:?}", other.err()),
        }
    }

    #[test]
    fn a_database_opened_twice_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let _first = open(dir.path(), Memory::default(), "meta", FORMAT).unwrap();
        assert!(matches!(
            open(dir.path(), Memory::default(), "meta", FORMAT),
            Err(OpenError::Locked)
        ));
    }
}
