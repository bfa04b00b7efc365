//! What `reprise projections status|digest|quarantine` report: versions,
//! positions, lag, quarantine and digests, read from the views and the log.
//! These are also the admin API's JSON answers.

use events::log::TopicPartition;
use events::{EventLog, LogError};
use projections::registry;
use projections::runner::{quarantine_of, QuarantineRecord};
use projections::{ProjectionId, StoreError, ViewStore};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum ProjectionsError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusReport {
    pub log: String,
    /// This installation among those sharing the log (from a running
    /// server only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<crate::engine::ClusterStatus>,
    pub projections: Vec<ProjectionStatus>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProjectionStatus {
    pub name: String,
    /// The version this build serves.
    pub current: u32,
    pub live: Option<u32>,
    pub versions: Vec<VersionStatus>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VersionStatus {
    pub version: u32,
    pub state: String,
    pub live: bool,
    pub positions: Vec<PartitionStatus>,
    /// Events in the log this version has not applied yet.
    pub lag: u64,
    /// How far behind in time: 0 when caught up (by the broker's end
    /// offsets and by the reader's own last poll), else the age of the
    /// newest event applied (from a running server only; the log's
    /// timestamps are the writers' clocks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_seconds: Option<f64>,
    pub quarantined: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PartitionStatus {
    pub topic: String,
    pub partition: u32,
    pub next_offset: u64,
    pub end_offset: u64,
    pub lag: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DigestEntry {
    pub projection: String,
    pub version: u32,
    pub digest: String,
}

/// Status of every projection version in the store, against the log's ends.
pub async fn report(
    log: &dyn EventLog,
    store: &ViewStore,
) -> Result<StatusReport, ProjectionsError> {
    let ends = events::log::all_end_offsets(log).await?;
    report_at(log, store, &ends)
}

/// [`report`] against ends already read (`events::log::all_end_offsets`),
/// for a caller that shows them too.
pub fn report_at(
    log: &dyn EventLog,
    store: &ViewStore,
    ends: &BTreeMap<TopicPartition, u64>,
) -> Result<StatusReport, ProjectionsError> {
    let versions = store.versions()?;
    let mut projections = Vec::new();
    for p in registry::current() {
        let live = store.live(p.name())?;
        let mut list = Vec::new();
        for (id, state) in versions.iter().filter(|(id, _)| id.name == p.name()) {
            let stored = store.positions(id)?;
            let mut positions = Vec::new();
            for &domain in p.domains() {
                for partition in 0..log.partitions(domain) {
                    let tp = TopicPartition { domain, partition };
                    let next = stored.get(&tp).copied().unwrap_or(0);
                    let end = ends.get(&tp).copied().unwrap_or(0).max(next);
                    positions.push(PartitionStatus {
                        topic: log.topic_name(domain),
                        partition,
                        next_offset: next,
                        end_offset: end,
                        lag: end - next,
                    });
                }
            }
            list.push(VersionStatus {
                version: id.version,
                state: format!("{state:?}").to_lowercase(),
                live: live == Some(id.version),
                lag: positions.iter().map(|p| p.lag).sum(),
                lag_seconds: None,
                positions,
                quarantined: store.quarantined(id)?,
            });
        }
        projections.push(ProjectionStatus {
            name: p.name().to_string(),
            current: p.version(),
            live,
            versions: list,
        });
    }
    Ok(StatusReport {
        log: log.describe(),
        cluster: None,
        projections,
    })
}

/// Adds what only a running engine knows: the lag in seconds of each
/// version it runs, and its role among the installations.
pub fn add_running(
    report: &mut StatusReport,
    progress: &BTreeMap<projections::ProjectionId, projections::runner::Progress>,
    cluster: crate::engine::ClusterStatus,
    now_ms: i64,
) {
    for p in &mut report.projections {
        for v in &mut p.versions {
            let id = projections::ProjectionId::new(&p.name, v.version);
            let Some(running) = progress.get(&id) else {
                continue;
            };
            // The end offsets were read once, before this; writes since
            // then are not in `lag`. So "caught up" is also the reader's
            // own: its last poll reached the end of every partition.
            v.lag_seconds = if v.lag == 0 && running.caught_up {
                Some(0.0)
            } else {
                running
                    .last_timestamp_ms
                    .map(|t| (now_ms - t).max(0) as f64 / 1000.0)
            };
        }
    }
    report.cluster = Some(cluster);
}

/// Digests of every version present.
pub fn digests(store: &ViewStore) -> Result<Vec<DigestEntry>, StoreError> {
    let mut out = Vec::new();
    for id in store.versions()?.keys() {
        out.push(DigestEntry {
            projection: id.name.clone(),
            version: id.version,
            digest: store.digest(id)?,
        });
    }
    Ok(out)
}

/// Every event a projection version refused, version by version.
pub fn quarantined(store: &ViewStore) -> Result<Vec<(ProjectionId, QuarantineRecord)>, StoreError> {
    let mut all = Vec::new();
    for id in store.versions()?.keys() {
        for q in quarantine_of(store, id)? {
            all.push((id.clone(), q));
        }
    }
    Ok(all)
}
