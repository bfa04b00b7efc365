//! Creating a snapshot from a view store and its log: the versions
//! written while the caller holds them still, then their anchors.

use super::anchors::anchors;
use super::format::{header_of, SnapshotError, SnapshotWriter, VersionInfo, VersionSummary};
use events::EventLog;
use projections::{registry, ProjectionId, ViewStore};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// What `POST /admin/v1/snapshot` asks for.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// The file to write, an absolute path on the server's machine.
    #[schema(value_type = String)]
    pub to: PathBuf,
}

/// What `create` reports.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = SnapshotCreated)]
pub struct Created {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
    pub log: String,
    pub versions: Vec<VersionSummary>,
    pub seconds: f64,
    /// How long the served views were held still (writers waited).
    pub held_seconds: f64,
}

/// The versions a stopped data directory serves: per projection, its live
/// version, which this build must know.
pub fn served_versions(store: &ViewStore) -> Result<Vec<ProjectionId>, SnapshotError> {
    let mut ids = Vec::new();
    for p in registry::current() {
        let Some(live) = store.live(p.name())? else {
            return Err(SnapshotError::Refused(format!(
                "{} has no live {} view: build the views first (`reprise rebuild`, or `serve` \
                 until ready)",
                store.path().display(),
                p.name()
            )));
        };
        if registry::find(p.name(), live).is_none() {
            return Err(SnapshotError::UnknownVersion {
                id: format!("{}@{live}", p.name()),
                known: super::known(),
            });
        }
        ids.push(ProjectionId::new(p.name(), live));
    }
    Ok(ids)
}

/// Writes a snapshot of the given versions, which `hold` keeps still while
/// their trees are read: `hold(f)` runs `f` on the store and the versions.
pub async fn create<H>(
    log: Arc<dyn EventLog>,
    path: &Path,
    hold: H,
) -> Result<Created, SnapshotError>
where
    H: FnOnce(
            &mut dyn FnMut(&ViewStore, &[ProjectionId]) -> Result<Held, SnapshotError>,
        ) -> Result<Held, SnapshotError>
        + Send
        + 'static,
{
    let started = Instant::now();
    let mut writer = SnapshotWriter::create(path)?;
    let header = header_of(log.as_ref());
    writer.header(&header)?;
    let (writer, held) = tokio::task::spawn_blocking(move || {
        let mut writer = writer;
        let held = hold(&mut |store, ids| {
            let held_from = Instant::now();
            let (summaries, infos) = writer.versions(store, ids)?;
            Ok(Held {
                summaries,
                infos,
                seconds: held_from.elapsed().as_secs_f64(),
            })
        });
        (writer, held)
    })
    .await
    .map_err(|e| SnapshotError::Io {
        path: path.display().to_string(),
        reason: format!("the writing task failed: {e}"),
    })?;
    let held = held?;
    let anchors = anchors(log, &held.infos).await?;
    let (bytes, sha256) = writer.finish(&anchors)?;
    Ok(Created {
        file: path.display().to_string(),
        bytes,
        sha256,
        log: header.log,
        versions: held.summaries,
        seconds: started.elapsed().as_secs_f64(),
        held_seconds: held.seconds,
    })
}

/// What was written while the views were held.
pub struct Held {
    summaries: Vec<VersionSummary>,
    infos: Vec<VersionInfo>,
    seconds: f64,
}
