//! A copy of a log into a new data directory, then that directory's views
//! built from it: what `clone` and `rebuild --into` do once their source
//! is open. The destination is checked and the bounds parsed before
//! anything is written; on any failure what was written is removed again.
//!
//! The objects the copied log names (file bodies, attachments) are then
//! either shared (the copy will be served with the source's store: each
//! is checked to be there) or copied into the destination's own store,
//! verified; see [`ObjectsPlan`].

use super::bounds::{parse_bounds, BoundSpec, Bounds};
use super::copy::{copy_log, source_ends, uniform_partitions, TopicCopy};
use crate::config::{Config, ObjectOptions};
use crate::ops::objects::{absent, copy_objects, references, CopyReport, Problem, References};
use crate::ops::rebuild::Progress;
use anyhow::{bail, Context};
use events::log::{EmbeddedLog, TopicPartition};
use events::EventLog;
use objects::{ObjectStore, StoreLocation, StoreSettings};
use projections::registry;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// A destination that cannot take a copy.
#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    #[error(
        "{0} is not empty; a copy goes into a new or empty data directory \
         (it never merges into an existing installation)"
    )]
    NotEmpty(String),
    #[error("{0} is a file, not a directory")]
    File(String),
    #[error("reading {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Why the objects of a copy are not ready for it to be served.
#[derive(Debug, thiserror::Error)]
pub enum CopyObjectsError {
    #[error(
        "the source and the destination object store are both {0}: --objects copy copies \
         into another store (to read the source's store, use --objects share)"
    )]
    SameStore(String),
    #[error(
        "the source's object store {0} does not exist; name the store the source is served \
         with: --from-object-store URL"
    )]
    NoSourceStore(String),
    #[error(
        "the copy cannot be served with the object store {store}: {}to share the source's \
         store, name it with --object-store URL (and --object-store-config FILE for S3); to \
         give the copy a store of its own, use --objects copy --from-object-store URL",
        list(.problems)
    )]
    NotShared {
        store: String,
        problems: Vec<Problem>,
    },
    #[error(
        "copying objects from {source_store}: {}the copy is not kept; name the source's \
         store with --from-object-store URL, or restore these objects in it",
        list(.problems)
    )]
    NotCopied {
        source_store: String,
        problems: Vec<Problem>,
    },
}

/// The first problems, one a line, and how many more: an error message
/// that stays readable when a store lost thousands.
fn list(problems: &[Problem]) -> String {
    const SHOWN: usize = 20;
    let mut text = format!(
        "{} object(s) the copied log names are missing or damaged:",
        problems.len()
    );
    for p in problems.iter().take(SHOWN) {
        text.push_str(&format!(
            "\n  {} {} ({} bytes, first named at {}): {}",
            p.kind, p.reference.sha256, p.reference.size, p.reference.first, p.reason
        ));
    }
    if problems.len() > SHOWN {
        text.push_str(&format!("\n  and {} more", problems.len() - SHOWN));
    }
    text.push('\n');
    text
}

/// A store to read from: where it is and how to reach it.
#[derive(Clone, Debug)]
pub struct SourceStore {
    pub location: StoreLocation,
    pub settings: StoreSettings,
}

/// What a copy does with the objects its log names.
#[derive(Clone, Debug)]
pub enum ObjectsPlan {
    /// Nothing: `rebuild --into` copies this installation's log, whose
    /// store (`store`) it keeps reading.
    Unchecked { store: ObjectOptions },
    /// The copy will be served with `dest` (the destination's
    /// `--object-store`), which must be the source's store: every object
    /// the copied log names is checked to be there (by its size); none is
    /// written.
    Share { dest: ObjectOptions },
    /// Every object the copied log names is read from `source`, checked,
    /// and stored in `dest`, the copy's own store.
    Copy {
        source: SourceStore,
        dest: ObjectOptions,
    },
}

/// Whether two stores are one: the same folder, or the same bucket and
/// prefix at the same endpoint.
pub fn same_store(
    a: &StoreLocation,
    a_settings: &StoreSettings,
    b: &StoreLocation,
    b_settings: &StoreSettings,
) -> bool {
    match (a, b) {
        (StoreLocation::Local { root: a }, StoreLocation::Local { root: b }) => same_dir(a, b),
        (StoreLocation::S3 { .. }, StoreLocation::S3 { .. }) => {
            a == b && endpoint(a_settings) == endpoint(b_settings)
        }
        _ => false,
    }
}

/// The endpoint an S3 store's settings name, under any of the names the
/// settings take for it (none: the environment's, the same for both).
fn endpoint(settings: &StoreSettings) -> Option<&str> {
    const NAMES: [&str; 4] = [
        "aws_endpoint",
        "aws_endpoint_url",
        "endpoint",
        "endpoint_url",
    ];
    settings
        .s3
        .iter()
        .rev()
        .find(|(key, _)| NAMES.iter().any(|n| key.eq_ignore_ascii_case(n)))
        .map(|(_, value)| value.trim_end_matches('/'))
}

/// Refuses a plan that cannot work, before anything is read or written:
/// a copy from a store into itself.
pub fn check_objects_plan(plan: &ObjectsPlan, dest_dir: &Path) -> anyhow::Result<()> {
    let ObjectsPlan::Copy { source, dest } = plan else {
        return Ok(());
    };
    let dest_config = Config {
        objects: dest.clone(),
        ..Config::new(dest_dir)
    };
    let dest_location = dest_config.object_location()?;
    if same_store(
        &source.location,
        &source.settings,
        &dest_location,
        &dest.settings,
    ) {
        return Err(CopyObjectsError::SameStore(dest_location.to_string()).into());
    }
    Ok(())
}

/// Checks that `path` is new or an empty directory; true when it is new.
pub fn check_destination(path: &Path) -> Result<bool, DestinationError> {
    match std::fs::read_dir(path) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(DestinationError::NotEmpty(path.display().to_string()));
            }
            Ok(false)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            Err(DestinationError::File(path.display().to_string()))
        }
        Err(source) => Err(DestinationError::Read {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// Whether two paths name one directory (as written, when either is missing).
pub fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// A destination data directory being written: removed again unless the
/// copy finishes, so that a failed copy leaves nothing behind.
struct Destination {
    path: PathBuf,
    /// Whether the directory itself was made here (else it existed empty).
    made: bool,
    keep: bool,
}

impl Drop for Destination {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let result = if self.made {
            std::fs::remove_dir_all(&self.path)
        } else {
            std::fs::read_dir(&self.path).and_then(|entries| {
                for entry in entries.flatten() {
                    let path = entry.path();
                    if path.is_dir() {
                        std::fs::remove_dir_all(&path)?;
                    } else {
                        std::fs::remove_file(&path)?;
                    }
                }
                Ok(())
            })
        };
        // A drop cannot return it, and the operator must know what is left.
        if let Err(e) = result {
            eprintln!(
                "could not remove the unfinished copy in {}: {e}",
                self.path.display()
            );
        }
    }
}

/// What a copy is asked to do.
pub struct CopyPlan<'a> {
    pub source: Arc<dyn EventLog>,
    /// The new data directory.
    pub dest: &'a Path,
    pub bounds: &'a BoundSpec,
    pub batch_size: usize,
    /// Build the views after copying the log.
    pub build_views: bool,
    /// The storage engine's memory in the new directory (`--cache-size`).
    pub cache_size: u64,
    /// Where the rebuild's advance is shown.
    pub progress: &'a dyn Progress,
    /// What becomes of the objects the copied log names.
    pub objects: ObjectsPlan,
}

/// What a copy has done so far, for the operator.
pub enum Step<'a> {
    /// The copy starts.
    Copying {
        source: &'a str,
        dest: &'a str,
        partitions: u32,
        bounds: &'a Bounds,
    },
    /// Records copied so far, of at most `total`.
    Progress { copied: u64, total: u64 },
    /// The log is copied.
    Copied {
        events: u64,
        seconds: f64,
        topics: &'a [TopicCopy],
    },
    /// The objects the copy names are in `store`, which it shares with
    /// the source and must be served with.
    ObjectsShared {
        objects: u64,
        bytes: u64,
        store: &'a StoreLocation,
        /// Records that may name objects but do not decode (quarantined).
        undecodable: &'a [String],
    },
    /// Objects copied so far (copied, or found there), of `total`.
    ObjectsProgress { done: u64, total: u64, bytes: u64 },
    /// The objects the copy names are in its own store.
    ObjectsCopied {
        report: &'a CopyReport,
        source: &'a StoreLocation,
        dest: &'a StoreLocation,
        seconds: f64,
        undecodable: &'a [String],
    },
    /// Done without views, as asked.
    LogOnly { dir: &'a Path },
    /// The views are built: the copy is complete.
    Built {
        projections: usize,
        events: u64,
        quarantined: u64,
        seconds: f64,
        dir: &'a Path,
    },
}

/// Copies the log, then builds the views; `report` hears each step. The
/// destination is checked (new or empty) and the bounds parsed before
/// anything is written; on any failure the destination is removed again.
pub async fn copy_into(plan: CopyPlan<'_>, mut report: impl FnMut(Step<'_>)) -> anyhow::Result<()> {
    let made = check_destination(plan.dest)?;
    let source = plan.source.clone();
    // Taken first: the copy stops there even when the source keeps growing.
    let ends = source_ends(source.clone())
        .await
        .with_context(|| format!("reading the ends of the {}", source.describe()))?;
    let bounds = parse_bounds(plan.bounds, source.as_ref(), &ends)?;
    let partitions = uniform_partitions(source.as_ref())?;
    check_objects_plan(&plan.objects, plan.dest)?;

    let mut guard = Destination {
        path: plan.dest.to_path_buf(),
        made,
        keep: false,
    };
    // The copy's views are built reading the store it will be served with.
    let objects = match &plan.objects {
        ObjectsPlan::Unchecked { store } => store.clone(),
        ObjectsPlan::Share { dest } | ObjectsPlan::Copy { dest, .. } => dest.clone(),
    };
    let dest = Config {
        partitions: Some(partitions),
        cache_size: plan.cache_size,
        objects,
        ..Config::new(plan.dest)
    };
    let result = copy_and_build(&dest, source, &ends, &bounds, &plan, &mut report).await;
    if result.is_ok() {
        guard.keep = true;
    }
    drop(guard);
    result
}

async fn copy_and_build(
    config: &Config,
    source: Arc<dyn EventLog>,
    ends: &BTreeMap<TopicPartition, u64>,
    bounds: &Bounds,
    plan: &CopyPlan<'_>,
    report: &mut impl FnMut(Step<'_>),
) -> anyhow::Result<()> {
    config.prepare_data_dir()?;
    let dest_log = EmbeddedLog::open_with(
        &config.data_dir.join("log"),
        config.partitions,
        config.memory().0,
    )?;
    let dest: Arc<dyn EventLog> = Arc::new(dest_log);
    let total: u64 = ends.values().sum();
    report(Step::Copying {
        source: &source.describe(),
        dest: &dest.describe(),
        partitions: config.partitions.unwrap_or(0),
        bounds,
    });
    let started = Instant::now();
    let copied = copy_log(
        source.as_ref(),
        dest.as_ref(),
        ends,
        bounds,
        plan.batch_size,
        |copied| report(Step::Progress { copied, total }),
    )
    .await?;
    report(Step::Copied {
        events: copied.iter().map(|t| t.events).sum(),
        seconds: started.elapsed().as_secs_f64(),
        topics: &copied,
    });
    settle_objects(config, dest.clone(), &plan.objects, report).await?;
    if !plan.build_views {
        report(Step::LogOnly {
            dir: &config.data_dir,
        });
        return Ok(());
    }
    let store = config.open_views()?;
    let opts = crate::ops::rebuild::Options {
        batch_size: plan.batch_size,
        // The copy's bodies over the inline limit are in its store.
        payloads: Some(objects::payload_source(
            config.open_objects()?,
            tokio::runtime::Handle::current(),
        )),
        ..Default::default()
    };
    let started = Instant::now();
    let results = crate::ops::rebuild::rebuild(
        dest.clone(),
        &store,
        &registry::current(),
        &opts,
        plan.progress,
    )
    .await?;
    store.close()?;
    if let Some(r) = results.iter().find(|r| !r.complete) {
        bail!("building {} in the copy did not complete", r.id);
    }
    report(Step::Built {
        projections: results.len(),
        events: results.iter().map(|r| r.events).sum(),
        quarantined: results.iter().map(|r| r.quarantined).sum(),
        seconds: started.elapsed().as_secs_f64(),
        dir: &config.data_dir,
    });
    drop(store);
    Ok(())
}

/// Checks or copies the objects the copied log (`dest`) names, as `plan`
/// says: after the log, so that only what the copy holds (up to its
/// bounds) counts.
async fn settle_objects(
    config: &Config,
    dest: Arc<dyn EventLog>,
    plan: &ObjectsPlan,
    report: &mut impl FnMut(Step<'_>),
) -> anyhow::Result<()> {
    let (source, dest_options) = match plan {
        ObjectsPlan::Unchecked { .. } => return Ok(()),
        ObjectsPlan::Share { dest } => (None, dest),
        ObjectsPlan::Copy { source, dest } => (Some(source), dest),
    };
    let named: References = references(dest)
        .await
        .context("reading the objects the copied log names")?;
    let dest_config = Config {
        objects: dest_options.clone(),
        ..config.clone()
    };
    let store = dest_config.open_objects()?;
    let location = store.location().clone();
    let Some(source) = source else {
        if !named.objects.is_empty() {
            store
                .probe()
                .await
                .with_context(|| format!("reaching the object store {location}"))?;
        }
        let problems = absent(&store, &named.objects)
            .await
            .with_context(|| format!("checking the objects in {location}"))?;
        if !problems.is_empty() {
            return Err(CopyObjectsError::NotShared {
                store: location.to_string(),
                problems,
            }
            .into());
        }
        report(Step::ObjectsShared {
            objects: named.objects.len() as u64,
            bytes: named.bytes(),
            store: &location,
            undecodable: &named.undecodable,
        });
        return Ok(());
    };
    let started = Instant::now();
    let copied = if named.objects.is_empty() {
        // Nothing to read: the source's store is not even opened.
        CopyReport::default()
    } else {
        let source_store = open_source(source, &config.data_dir.join("spool"))?;
        for s in [&source_store, &store] {
            s.probe()
                .await
                .with_context(|| format!("reaching the object store {}", s.location()))?;
        }
        let total = named.objects.len() as u64;
        copy_objects(&source_store, &store, &named.objects, |so_far| {
            report(Step::ObjectsProgress {
                done: so_far.copied + so_far.present + so_far.problems.len() as u64,
                total,
                bytes: so_far.copied_bytes,
            })
        })
        .await
        .with_context(|| {
            format!(
                "copying objects from {} into {location}",
                source_store.location()
            )
        })?
    };
    if !copied.problems.is_empty() {
        return Err(CopyObjectsError::NotCopied {
            source_store: source.location.to_string(),
            problems: copied.problems,
        }
        .into());
    }
    report(Step::ObjectsCopied {
        report: &copied,
        source: &source.location,
        dest: &location,
        seconds: started.elapsed().as_secs_f64(),
        undecodable: &named.undecodable,
    });
    Ok(())
}

/// Opens the source's store for reading. A file store must exist: opening
/// one makes its folder, and the source is never written to.
fn open_source(source: &SourceStore, spool: &Path) -> anyhow::Result<ObjectStore> {
    if let StoreLocation::Local { root } = &source.location {
        if !root.join(objects::location::OBJECTS).is_dir() {
            return Err(CopyObjectsError::NoSourceStore(source.location.to_string()).into());
        }
    }
    ObjectStore::open(source.location.clone(), spool, &source.settings)
        .with_context(|| format!("opening the object store {}", source.location))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(url: &str, endpoint: Option<&str>) -> (StoreLocation, StoreSettings) {
        let settings = StoreSettings {
            s3: endpoint
                .map(|e| vec![("aws_endpoint".to_string(), e.to_string())])
                .unwrap_or_default(),
            ..StoreSettings::default()
        };
        (url.parse().unwrap(), settings)
    }

    #[test]
    fn a_store_is_the_same_by_its_folder_or_its_bucket_prefix_and_endpoint() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("objects");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        let local = |path: &Path| StoreLocation::Local {
            root: path.to_path_buf(),
        };
        let none = StoreSettings::default();
        assert!(same_store(
            &local(&root),
            &none,
            &local(&root.join("sub/..")),
            &none
        ));
        assert!(!same_store(
            &local(&root),
            &none,
            &local(&root.join("sub")),
            &none
        ));
        let (a, a_set) = s3("s3://b/p", Some("http://h:9000/"));
        let (b, b_set) = s3("s3://b/p/", Some("http://h:9000"));
        assert!(same_store(&a, &a_set, &b, &b_set));
        let (c, c_set) = s3("s3://b/p", Some("http://other:9000"));
        assert!(!same_store(&a, &a_set, &c, &c_set));
        let (d, d_set) = s3("s3://b/q", Some("http://h:9000"));
        assert!(!same_store(&a, &a_set, &d, &d_set));
        let (e, e_set) = s3("s3://b/p", None);
        assert!(same_store(&e, &e_set, &e, &e_set));
        assert!(!same_store(&e, &e_set, &local(&root), &none));
    }

    #[test]
    fn a_long_list_of_problems_is_cut() {
        let problem = |i: usize| Problem {
            reference: crate::ops::objects::Reference {
                sha256: format!("{i:064x}"),
                size: 3,
                first: "reprise.files/0@1".into(),
            },
            kind: "missing",
            reason: "not there".into(),
        };
        let text = list(&(0..25).map(problem).collect::<Vec<_>>());
        assert!(text.starts_with("25 object(s)"), "{text}");
        assert_eq!(text.matches("\n  missing ").count(), 20, "{text}");
        assert!(text.contains("and 5 more"), "{text}");
    }
}
