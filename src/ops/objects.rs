//! `reprise objects verify` and `objects gc`: the object store checked
//! against the log, which alone says which objects exist for a reason.
//!
//! Both read every record that names an object (by its `reprise-objects`
//! header, so no other record is decoded), from the start of the log, so
//! an object that any past event names counts as referenced: a
//! rebuild to any point in time needs it. gc lists the store *before* it
//! reads the log and only considers objects older than `--older-than`, so
//! an object whose event is being appended right now is never a
//! candidate.

use crate::ops::log::{scan, InspectError};
use events::codec::{self, HEADER_OBJECTS};
use events::payload::DOMAINS_WITH_OBJECTS;
use events::{EventLog, ObjectId, ObjectRef};
use futures::{StreamExt, TryStreamExt};
use objects::{ListedObject, ObjectError, ObjectStore};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ObjectsError {
    #[error(transparent)]
    Log(#[from] InspectError),
    #[error("record {at} does not decode: {reason}")]
    Undecodable { at: String, reason: String },
    #[error(transparent)]
    Store(#[from] ObjectError),
}

/// An object the log names, and where it is first named.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Reference {
    pub sha256: String,
    pub size: u64,
    /// The first record that names it (`topic/partition@offset`).
    pub first: String,
}

/// Every object the log names, by name. Reads from a blocking thread.
pub async fn referenced(
    log: Arc<dyn EventLog>,
) -> Result<BTreeMap<ObjectRef, Reference>, ObjectsError> {
    tokio::task::spawn_blocking(move || {
        let mut found = BTreeMap::new();
        scan(log.as_ref(), DOMAINS_WITH_OBJECTS, |record| {
            if record.header(HEADER_OBJECTS).is_none() {
                return Ok(());
            }
            let at = format!(
                "{}/{}@{}",
                log.topic_name(record.domain),
                record.partition,
                record.offset
            );
            let event = codec::decode_record(record).map_err(|e| ObjectsError::Undecodable {
                at: at.clone(),
                reason: e.to_string(),
            })?;
            for object in event.payload.objects() {
                found.entry(object).or_insert_with(|| Reference {
                    sha256: object.sha256.hex(),
                    size: object.size,
                    first: at.clone(),
                });
            }
            Ok::<(), ObjectsError>(())
        })?;
        Ok(found)
    })
    .await
    .map_err(|e| ObjectsError::Log(InspectError::Stopped(e)))?
}

/// What is wrong with one referenced object.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Problem {
    #[serde(flatten)]
    pub reference: Reference,
    /// `missing` or `damaged`.
    pub kind: &'static str,
    pub reason: String,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct VerifyReport {
    /// Objects the log names.
    pub referenced: u64,
    /// Their bytes, all read and hashed.
    pub bytes: u64,
    pub problems: Vec<Problem>,
}

/// How many objects are checked at once.
const CONCURRENCY: usize = 8;

/// Checks that every object the log names is in the store, with the size
/// and SHA-256 its name and reference promise.
pub async fn verify(
    log: Arc<dyn EventLog>,
    store: &ObjectStore,
) -> Result<VerifyReport, ObjectsError> {
    let references = referenced(log).await?;
    let mut report = VerifyReport {
        referenced: references.len() as u64,
        bytes: references.keys().map(|o| o.size).sum(),
        problems: Vec::new(),
    };
    let checks = futures::stream::iter(references)
        .map(|(object, reference)| async move { (reference, store.check(&object).await) })
        .buffer_unordered(CONCURRENCY);
    let mut checks = std::pin::pin!(checks);
    while let Some((reference, checked)) = checks.next().await {
        let (kind, reason) = match checked {
            Ok(()) => continue,
            Err(e @ ObjectError::Missing(_)) => ("missing", e.to_string()),
            Err(e @ ObjectError::Damaged { .. }) => ("damaged", e.to_string()),
            // A store that fails is not a verdict on the objects.
            Err(e) => return Err(e.into()),
        };
        report.problems.push(Problem {
            reference,
            kind,
            reason,
        });
    }
    report
        .problems
        .sort_by(|a, b| a.reference.sha256.cmp(&b.reference.sha256));
    Ok(report)
}

#[derive(Clone, Debug)]
pub struct GcOptions {
    /// Only objects written longer ago than this are candidates.
    pub older_than: std::time::Duration,
    /// List what would be removed, remove nothing.
    pub dry_run: bool,
}

/// One object gc removed (or would remove).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Orphan {
    pub sha256: String,
    pub size: u64,
    pub modified: String,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct GcReport {
    /// Objects in the store.
    pub stored: u64,
    /// Of them, named by the log (kept).
    pub referenced: u64,
    /// Not named but younger than `--older-than` (kept).
    pub young: u64,
    /// Not named and old enough: removed, or with `--dry-run` listed.
    pub orphans: Vec<Orphan>,
    pub orphan_bytes: u64,
    pub dry_run: bool,
}

/// Removes objects that no record of the log names.
pub async fn gc(
    log: Arc<dyn EventLog>,
    store: &ObjectStore,
    options: &GcOptions,
) -> Result<GcReport, ObjectsError> {
    let cutoff = chrono::Utc::now()
        - chrono::Duration::from_std(options.older_than).unwrap_or(chrono::Duration::MAX);
    // The store first: an object listed now whose event is appended later
    // is younger than the cutoff, unless its write outlived the cutoff.
    let listed: Vec<ListedObject> = store.list().try_collect().await?;
    let references = referenced(log).await?;
    let named: std::collections::HashSet<ObjectId> = references.keys().map(|o| o.sha256).collect();
    let mut report = GcReport {
        stored: listed.len() as u64,
        dry_run: options.dry_run,
        ..GcReport::default()
    };
    for object in listed {
        if named.contains(&object.id) {
            report.referenced += 1;
            continue;
        }
        if object.modified_ms > cutoff.timestamp_millis() {
            report.young += 1;
            continue;
        }
        if !options.dry_run {
            store.delete(&object.id).await?;
        }
        report.orphan_bytes += object.size;
        report.orphans.push(Orphan {
            sha256: object.id.hex(),
            size: object.size,
            modified: chrono::DateTime::from_timestamp_millis(object.modified_ms)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default(),
        });
    }
    report.orphans.sort_by(|a, b| a.sha256.cmp(&b.sha256));
    Ok(report)
}
