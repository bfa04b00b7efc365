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
use objects::{ListedObject, ObjectBody, ObjectError, ObjectStore};
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

/// Every object the log names, by name. Reads from a blocking thread. A
/// record that may name objects and does not decode is an error: this is
/// what `verify` and `gc` rely on, and gc must never take an object such
/// a record names.
pub async fn referenced(
    log: Arc<dyn EventLog>,
) -> Result<BTreeMap<ObjectRef, Reference>, ObjectsError> {
    Ok(scan_references(log, true).await?.objects)
}

/// The objects a log names, and the records that may name some but do
/// not decode (which the views quarantine, so no served file stands on
/// them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct References {
    pub objects: BTreeMap<ObjectRef, Reference>,
    /// `topic/partition@offset: reason` of each such record.
    pub undecodable: Vec<String>,
}

impl References {
    /// The bytes of every object named.
    pub fn bytes(&self) -> u64 {
        self.objects.keys().map(|o| o.size).sum()
    }
}

/// Every object the log names, passing over records that do not decode
/// (listed in the answer): what a copy of the log checks or copies, which
/// must not fail on a record the views quarantine anyway.
pub async fn references(log: Arc<dyn EventLog>) -> Result<References, ObjectsError> {
    scan_references(log, false).await
}

async fn scan_references(log: Arc<dyn EventLog>, strict: bool) -> Result<References, ObjectsError> {
    tokio::task::spawn_blocking(move || {
        let mut found = References::default();
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
            let event = match codec::decode_record(record) {
                Ok(event) => event,
                Err(e) if strict => {
                    return Err(ObjectsError::Undecodable {
                        at,
                        reason: e.to_string(),
                    })
                }
                Err(e) => {
                    found.undecodable.push(format!("{at}: {e}"));
                    return Ok(());
                }
            };
            for object in event.payload.objects() {
                found.objects.entry(object).or_insert_with(|| Reference {
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
    let problems = problems(&references, |object| async move {
        match store.check(object).await {
            Ok(()) => Ok(None),
            Err(e @ ObjectError::Missing(_)) => Ok(Some(("missing", e.to_string()))),
            Err(e @ ObjectError::Damaged { .. }) => Ok(Some(("damaged", e.to_string()))),
            // A store that fails is not a verdict on the objects.
            Err(e) => Err(e),
        }
    })
    .await?;
    Ok(VerifyReport {
        referenced: references.len() as u64,
        bytes: references.keys().map(|o| o.size).sum(),
        problems,
    })
}

/// Runs `probe` on every referenced object, [`CONCURRENCY`] at a time, and
/// lists what it finds wrong (`missing` or `damaged`, and why), by digest.
async fn problems<'r, F, Fut>(
    references: &'r BTreeMap<ObjectRef, Reference>,
    probe: F,
) -> Result<Vec<Problem>, ObjectsError>
where
    F: Fn(&'r ObjectRef) -> Fut,
    Fut: std::future::Future<Output = Result<Option<(&'static str, String)>, ObjectError>>,
{
    let probes = futures::stream::iter(references)
        .map(|(object, reference)| {
            let probed = probe(object);
            async move { (reference, probed.await) }
        })
        .buffer_unordered(CONCURRENCY);
    let mut probes = std::pin::pin!(probes);
    let mut problems = Vec::new();
    while let Some((reference, probed)) = probes.next().await {
        if let Some((kind, reason)) = probed? {
            problems.push(Problem {
                reference: reference.clone(),
                kind,
                reason,
            });
        }
    }
    problems.sort_by(|a, b| a.reference.sha256.cmp(&b.reference.sha256));
    Ok(problems)
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

/// Which of `references` a store lacks, by a HEAD each (no byte is
/// read): absent (`missing`), or held at another size than the reference
/// says (`damaged`). What a copy of the log that shares the source's
/// store checks before it is served with that store.
pub async fn absent(
    store: &ObjectStore,
    references: &BTreeMap<ObjectRef, Reference>,
) -> Result<Vec<Problem>, ObjectsError> {
    problems(references, |object| async move {
        Ok(match store.size_of(&object.sha256).await? {
            Some(size) if size == object.size => None,
            Some(size) => Some((
                "damaged",
                format!(
                    "{} holds {size} bytes under its name, where its reference says {}",
                    store.location(),
                    object.size
                ),
            )),
            None => Some(("missing", format!("not in {}", store.location()))),
        })
    })
    .await
}

/// What [`copy_objects`] did.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct CopyReport {
    /// Objects the copied log names, and their bytes.
    pub referenced: u64,
    pub bytes: u64,
    /// Read from the source (checked) and stored in the destination.
    pub copied: u64,
    pub copied_bytes: u64,
    /// Already in the destination at their size: left as they were.
    pub present: u64,
    pub present_bytes: u64,
    /// Of the copied, those the destination held at a wrong size: removed
    /// and stored again.
    pub replaced: u64,
    /// Objects the source lacks or holds damaged: not copied.
    pub problems: Vec<Problem>,
}

/// How many objects a copy moves at once: each holds at most one range
/// ([`objects::RANGE`]) in memory, the rest goes through a spool file.
const COPY_CONCURRENCY: usize = 4;

/// Copies every object of `references` from `source` into `dest`, each
/// read with its check (size and SHA-256) and spooled, so that no object
/// is held whole in memory, then stored under its name. Objects the
/// destination already has at their size are skipped. An object the
/// source lacks or holds damaged is a [`Problem`] of the report, and the
/// others are still copied, so that one run names them all; a store that
/// fails is an error at once. `progress` hears each object done.
pub async fn copy_objects(
    source: &ObjectStore,
    dest: &ObjectStore,
    references: &BTreeMap<ObjectRef, Reference>,
    mut progress: impl FnMut(&CopyReport),
) -> Result<CopyReport, ObjectsError> {
    let mut report = CopyReport {
        referenced: references.len() as u64,
        bytes: references.keys().map(|o| o.size).sum(),
        ..CopyReport::default()
    };
    let copies = futures::stream::iter(references)
        .map(|(object, reference)| async move {
            (object, reference, copy_one(source, dest, object).await)
        })
        .buffer_unordered(COPY_CONCURRENCY);
    let mut copies = std::pin::pin!(copies);
    while let Some((object, reference, copied)) = copies.next().await {
        match copied {
            Ok(Copied::Present) => {
                report.present += 1;
                report.present_bytes += object.size;
            }
            Ok(Copied::Stored { replaced }) => {
                report.copied += 1;
                report.copied_bytes += object.size;
                report.replaced += u64::from(replaced);
            }
            Err(e @ ObjectError::Missing(_)) => report.problems.push(Problem {
                reference: reference.clone(),
                kind: "missing",
                reason: format!("{e} {}", source.location()),
            }),
            Err(e @ ObjectError::Damaged { .. }) => report.problems.push(Problem {
                reference: reference.clone(),
                kind: "damaged",
                reason: format!("in {}: {e}", source.location()),
            }),
            // A store that fails is not a verdict on the objects.
            Err(e) => return Err(e.into()),
        }
        progress(&report);
    }
    report
        .problems
        .sort_by(|a, b| a.reference.sha256.cmp(&b.reference.sha256));
    Ok(report)
}

enum Copied {
    /// The destination had it at its size.
    Present,
    /// Copied; `replaced` when the destination held it at another size.
    Stored { replaced: bool },
}

/// One object from `source` into `dest`. Missing and Damaged errors are
/// about the source's copy of the object; any other is a store failing.
async fn copy_one(
    source: &ObjectStore,
    dest: &ObjectStore,
    object: &ObjectRef,
) -> Result<Copied, ObjectError> {
    let id = object.sha256;
    let replaced = match dest.size_of(&id).await? {
        Some(size) if size == object.size => return Ok(Copied::Present),
        // Damaged there: both stores create only if absent, so the wrong
        // bytes must go before the right ones can be stored.
        Some(_) => true,
        None => false,
    };
    let mut spool = dest.spool(object.size).await?;
    let wrong_length = |e: ObjectError| match e {
        ObjectError::TooLarge { .. } => ObjectError::Damaged {
            id,
            reason: format!("longer than the {} bytes its reference says", object.size),
        },
        e => e,
    };
    match source.read(object).await? {
        ObjectBody::Whole(bytes) => spool.write(&bytes).await.map_err(wrong_length)?,
        ObjectBody::Stream(mut chunks) => {
            while let Some(chunk) = chunks.next().await {
                spool.write(&chunk?).await.map_err(wrong_length)?;
            }
        }
    }
    let spooled = spool.finish().await?;
    // The read checked it; what the spool hashed must say the same.
    if spooled.object() != *object {
        return Err(ObjectError::Damaged {
            id,
            reason: format!(
                "copied as {} ({} bytes)",
                spooled.object().sha256,
                spooled.object().size
            ),
        });
    }
    if replaced {
        dest.delete(&id).await?;
    }
    dest.put(&spooled).await?;
    Ok(Copied::Stored { replaced })
}
