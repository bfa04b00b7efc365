//! Restoring a snapshot into a data directory without views, over the log
//! it was taken from (or a copy of it): checked whole first, written to a
//! staging database, then moved into place.

use super::anchors::records_at;
use super::format::VersionInfo;
use super::format::{open, record_digest, scan, Frame, Header, Scanned, SnapshotError};
use crate::config::Config;
use anyhow::{bail, Context};
use events::log::TopicPartition;
use events::EventLog;
use projections::{registry, BuildState, ViewStore};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Entries per write batch while restoring.
const RESTORE_CHUNK: usize = 10_000;
/// The staging view database a restore writes before renaming it `views`.
const STAGING: &str = "views.restoring";

/// Writes the snapshot's versions into `store` (a fresh staging database),
/// each recorded `building` at its stored positions so that `serve` and
/// `rebuild` resume it; returns the file's checksum as read this time.
fn write_into(path: &Path, store: &ViewStore) -> Result<String, SnapshotError> {
    let mut r = open(path)?;
    r.header::<Header>()?;
    let mut current: Option<VersionInfo> = None;
    let mut chunk: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(RESTORE_CHUNK);
    loop {
        match r.frame()? {
            Frame::Version(info) => current = Some(info),
            Frame::Entry(k, v) => {
                let Some(info) = &current else {
                    return Err(r.damaged("an entry outside a version").into());
                };
                chunk.push((k, v));
                if chunk.len() >= RESTORE_CHUNK {
                    store.put_entries(&info.id(), std::mem::take(&mut chunk))?;
                }
            }
            Frame::End(_) => {
                let Some(info) = current.take() else {
                    return Err(r.damaged("an end frame outside a version").into());
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
    Ok(r.check_end()?)
}

/// What a restore did.
pub struct Restored {
    pub scanned: Scanned,
    /// Events the restored versions are behind the log: the tail to replay.
    pub behind: u64,
}

/// Restores a snapshot into a data directory without views over the same
/// log. Everything is checked before anything is written: the file whole
/// (checksum), the versions (known to this build), the log (partition
/// counts and the anchors' records), and the views (none yet).
pub async fn restore(config: &Config, file: &Path) -> anyhow::Result<Restored> {
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
                known: super::known(),
            }
            .into());
        }
        if seen.contains(&id) {
            bail!("{} holds {id} twice", file.display());
        }
        seen.push(id);
    }
    if config.kafka_brokers.is_none() && !config.data_dir.join("log").is_dir() {
        bail!(
            "{} has no log: a snapshot is restored over the log it was taken from. Copy that \
             log first (`reprise --data-dir {} clone --log-only --from ...`), restore into the \
             data directory that lost its views, or give the Kafka flags",
            config.data_dir.display(),
            config.data_dir.display()
        );
    }
    let log = config.open_log().await?;
    check_log(log.clone(), &scanned).await?;

    let views = config.data_dir.join("views");
    if views.exists() {
        let store = config.open_views()?;
        if !store.is_empty()? {
            bail!(
                "{} already has views; a snapshot is restored only into a data directory \
                 without them (move {} away first, with no server running)",
                config.data_dir.display(),
                views.display()
            );
        }
    }
    config.prepare_data_dir()?;
    let staging = config.data_dir.join(STAGING);
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
    Ok(Restored { scanned, behind })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::snapshot::format::{Header, FORMAT};
    use crate::ops::snapshot::SnapshotWriter;
    use projections::ProjectionId;

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
                matches!(
                    err,
                    SnapshotError::File(projections::snapshot_file::FileError::Damaged { .. })
                ),
                "{what}: {err}"
            );
        }
    }
}
