//! `reprise clone`, and the bounds and the copy's report `rebuild --into`
//! shares with it: the sources are opened here (a stopped data directory,
//! a running server, Kafka), the copy is `ops::recovery`.

use crate::cli::LogArgs;
use crate::ops::recovery::{bounds, check_destination, copy_into, same_dir, BoundSpec};
use crate::ops::recovery::{check_objects_plan, CopyPlan, ObjectsPlan, SourceStore, Step};
use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use events::log::{EmbeddedLog, KafkaLog};
use events::{EventLog, LogError};
use objects::{StoreLocation, StoreSettings};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where a copy of the log stops, per partition. Without either, every
/// partition is copied to the end it had when the copy started.
#[derive(Args, Debug, Clone, Default)]
pub struct BoundArgs {
    /// Per partition, copy the records up to, not including, the first one
    /// whose timestamp is later than TIME (RFC 3339, or YYYY-MM-DD meaning
    /// 00:00 UTC).
    #[arg(
        long,
        value_name = "TIME",
        env = "REPRISE_COPY_UNTIL",
        conflicts_with = "until_offsets"
    )]
    pub until: Option<String>,
    /// Exclusive end offsets, TOPIC/PARTITION=OFFSET[,...] (e.g.
    /// `calendar/0=120,directory/1=7`); TOPIC is a domain (calendar,
    /// contact, directory, seen, files) or the log's topic name. Partitions
    /// not listed are copied to their end.
    #[arg(
        long,
        value_name = "TOPIC/PARTITION=OFFSET,...",
        env = "REPRISE_COPY_UNTIL_OFFSETS",
        value_delimiter = ','
    )]
    pub until_offsets: Vec<String>,
}

impl BoundArgs {
    /// The bounds these flags give, unchecked.
    pub fn spec(&self) -> BoundSpec {
        BoundSpec {
            until: self.until.clone(),
            until_offsets: self.until_offsets.clone(),
        }
    }
}

/// `clone`: the destination is the global --data-dir, which must be new or
/// empty; the source is exactly one of --from, --from-server,
/// --from-kafka-brokers.
#[derive(Args, Debug)]
#[command(group(
    clap::ArgGroup::new("source")
        .required(true)
        .args(["from", "from_server", "from_kafka_brokers"])
))]
pub struct CloneArgs {
    /// A data directory whose embedded log is copied. Stopped, it is read
    /// directly (readers only); held by `reprise serve`, it is read through
    /// that server, found in its serve.json.
    #[arg(long, value_name = "DIR", env = "REPRISE_FROM")]
    pub from: Option<PathBuf>,
    /// A running server whose log is read through its admin API
    /// (credentials from REPRISE_ADMIN_USER / REPRISE_ADMIN_PASSWORD).
    #[arg(long, value_name = "URL", env = "REPRISE_FROM_SERVER")]
    pub from_server: Option<String>,
    /// A Kafka cluster whose topics are copied: HOST:PORT[,HOST:PORT...].
    #[arg(long, value_name = "BROKERS", env = "REPRISE_FROM_KAFKA_BROKERS")]
    pub from_kafka_brokers: Option<String>,
    /// The source topics' prefix, with --from-kafka-brokers (default `reprise`).
    #[arg(long, value_name = "PREFIX", env = "REPRISE_FROM_TOPIC_PREFIX")]
    pub from_topic_prefix: Option<String>,
    #[command(flatten)]
    pub bounds: BoundArgs,
    /// Copy the log only, without building views (e.g. to restore a
    /// snapshot into the copy next).
    #[arg(long, env = "REPRISE_LOG_ONLY")]
    pub log_only: bool,
    /// Records per read and append, and events per batch when building views.
    #[arg(long, env = "REPRISE_BATCH_SIZE", default_value_t = 2000)]
    pub batch_size: usize,
    /// What becomes of the objects (file bodies) the copied log names.
    /// `share`: none is copied; the clone is served with the source's
    /// store, which --object-store must name: each object is checked to
    /// be there. `copy`: each is read from --from-object-store, checked,
    /// and stored in the clone's own store (--object-store, default
    /// `objects/` in the new data directory).
    #[arg(
        long,
        value_enum,
        value_name = "share|copy",
        env = "REPRISE_CLONE_OBJECTS",
        default_value_t = ObjectsMode::Share
    )]
    pub objects: ObjectsMode,
    /// The source's object store, which --objects copy reads:
    /// `file:///absolute/path` or `s3://bucket/prefix`. Default with
    /// --from DIR: `objects/` in DIR.
    #[arg(long, value_name = "URL", env = "REPRISE_FROM_OBJECT_STORE")]
    pub from_object_store: Option<String>,
    /// S3 settings of --from-object-store, one `key=value` per line (as
    /// --object-store-config). Never printed.
    #[arg(
        long,
        value_name = "FILE",
        env = "REPRISE_FROM_OBJECT_STORE_CONFIG",
        requires = "from_object_store"
    )]
    pub from_object_store_config: Option<PathBuf>,
}

/// `clone --objects`.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ObjectsMode {
    /// The clone reads the source's store (the one --object-store names).
    Share,
    /// The clone gets its own store, with every object it needs copied in.
    Copy,
}

/// `reprise clone`.
pub async fn clone(args: &LogArgs, opts: CloneArgs) -> anyhow::Result<ExitCode> {
    check_destination_flags(args, "clone")?;
    if opts.from_topic_prefix.is_some() && opts.from_kafka_brokers.is_none() {
        bail!("--from-topic-prefix names the topics of --from-kafka-brokers, which is not given");
    }
    let dest = args.data_dir.clone();
    // Refused before any source is opened: a source must never be touched
    // for a copy that cannot happen.
    check_destination(&dest)?;
    let objects = objects_plan(args, &opts)?;
    check_objects_plan(&objects, &dest)?;
    let source: Arc<dyn EventLog> = if let Some(dir) = &opts.from {
        if same_dir(dir, &dest) {
            bail!("the source and the destination are both {}", dir.display());
        }
        open_dir_source(dir, args.server_ca.clone()).await?
    } else if let Some(url) = &opts.from_server {
        let (args, url) = (args.clone(), url.clone());
        Arc::new(
            tokio::task::spawn_blocking(move || {
                crate::remote::RemoteLog::connect(&args.data_dir, &url, args.server_ca.as_deref())
            })
            .await??,
        )
    } else if let Some(brokers) = &opts.from_kafka_brokers {
        let prefix = opts.from_topic_prefix.as_deref().unwrap_or("reprise");
        // --kafka-config serves the source: the destination is never Kafka.
        let config = args.config()?.kafka_config(brokers, prefix);
        Arc::new(KafkaLog::connect(config).await?)
    } else {
        bail!("name the source: --from DIR, --from-server URL or --from-kafka-brokers BROKERS");
    };
    copy_into(
        CopyPlan {
            source,
            dest: &dest,
            bounds: &opts.bounds.spec(),
            batch_size: opts.batch_size,
            build_views: !opts.log_only,
            cache_size: args.cache_size,
            progress: &*super::progress::on_stderr(),
            objects,
        },
        copy_printer(),
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// What `--objects` and the store flags ask for. The destination's store
/// is the global --object-store; the source's, --from-object-store or
/// `objects/` in --from DIR.
fn objects_plan(args: &LogArgs, opts: &CloneArgs) -> anyhow::Result<ObjectsPlan> {
    let dest = args.config()?.objects;
    if opts.objects == ObjectsMode::Share {
        if opts.from_object_store.is_some() {
            bail!(
                "--from-object-store names the store --objects copy reads; with --objects share \
                 the clone reads the store --object-store names, which must be the source's"
            );
        }
        return Ok(ObjectsPlan::Share { dest });
    }
    let location: StoreLocation = match (&opts.from_object_store, &opts.from) {
        (Some(url), _) => url
            .parse()
            .with_context(|| format!("--from-object-store {url}"))?,
        // The data directory's own store, where `serve` keeps it by default.
        (None, Some(dir)) => crate::config::Config::new(dir).object_location()?,
        (None, None) => bail!(
            "--objects copy reads the objects from the source's store: name it with \
             --from-object-store URL (and --from-object-store-config FILE for S3)"
        ),
    };
    let settings = StoreSettings {
        s3: match &opts.from_object_store_config {
            Some(path) => super::read_object_store_config(path, "--from-object-store-config")?,
            None => Vec::new(),
        },
        ..dest.settings.clone()
    };
    Ok(ObjectsPlan::Copy {
        source: SourceStore { location, settings },
        dest,
    })
}

/// Opens a `--from DIR` source: its embedded log directly when stopped,
/// else through the server that holds it.
async fn open_dir_source(
    dir: &Path,
    ca: Option<std::path::PathBuf>,
) -> anyhow::Result<Arc<dyn EventLog>> {
    let log_dir = dir.join("log");
    if !log_dir.is_dir() {
        bail!(
            "{} has no embedded log ({} is missing): name a reprise data directory, or for an \
             installation on Kafka use --from-kafka-brokers",
            dir.display(),
            log_dir.display()
        );
    }
    match EmbeddedLog::open(&log_dir, None) {
        Ok(log) => Ok(Arc::new(log)),
        Err(LogError::Locked { .. }) => {
            let Some(info) = crate::config::serve_info(dir) else {
                bail!(
                    "{} is in use by another reprise process; wait for it to finish, or name \
                     the server that holds it with --from-server URL",
                    dir.display()
                );
            };
            eprintln!(
                "{} is held by `reprise serve` (pid {}); reading its log through {}",
                dir.display(),
                info.pid,
                info.url
            );
            let (dir, url) = (dir.to_path_buf(), info.url.clone());
            let log = tokio::task::spawn_blocking(move || {
                crate::remote::RemoteLog::connect(&dir, &url, ca.as_deref())
            })
            .await??;
            Ok(Arc::new(log))
        }
        Err(e) => Err(e.into()),
    }
}

/// The global flags name the destination for `clone`: they must not ask
/// for another log than its own embedded one.
fn check_destination_flags(args: &LogArgs, command: &str) -> anyhow::Result<()> {
    if args.server.is_some() {
        bail!(
            "{command} writes a new data directory itself; name the source server with \
             --from-server URL, not --server"
        );
    }
    if args.kafka_brokers.is_some() {
        bail!(
            "{command} copies into the new data directory's own embedded log; name a Kafka \
             source with --from-kafka-brokers, not --kafka-brokers"
        );
    }
    Ok(())
}

/// Prints a copy's steps as they come; progress at most every 5 s.
pub fn copy_printer() -> impl FnMut(Step<'_>) {
    let mut last_line = Instant::now();
    move |step| match step {
        Step::Copying {
            source,
            dest,
            partitions,
            bounds,
        } => println!(
            "copying the {source} into the {dest} ({partitions} partitions per topic){}",
            bounds::describe(bounds)
        ),
        Step::Progress { copied, total } => {
            if last_line.elapsed() > Duration::from_secs(5) {
                last_line = Instant::now();
                eprintln!("  copied {copied} of at most {total} records");
            }
        }
        Step::Copied {
            events,
            seconds,
            topics,
        } => {
            println!(
                "copied {events} events in {seconds:.2} s; per topic, partition:cut/source end"
            );
            for t in topics {
                let cuts: Vec<String> = t
                    .cuts
                    .iter()
                    .enumerate()
                    .map(|(p, (cut, end))| format!("{p}:{cut}/{end}"))
                    .collect();
                println!(
                    "  {:<10} {:>9} events  {}",
                    t.domain,
                    t.events,
                    cuts.join(" ")
                );
            }
        }
        Step::ObjectsShared {
            objects,
            bytes,
            store,
            undecodable,
        } => {
            unreadable(undecodable);
            if objects == 0 {
                println!("the copied log names no object of the object store");
            } else {
                println!(
                    "the {objects} objects ({bytes} bytes) the copied log names are in {store}, \
                     which the clone shares with the source: serve it with --object-store \
                     {store}{}",
                    if matches!(store, StoreLocation::S3 { .. }) {
                        " and its --object-store-config"
                    } else {
                        ""
                    }
                );
            }
        }
        Step::ObjectsProgress { done, total, bytes } => {
            if last_line.elapsed() > Duration::from_secs(5) {
                last_line = Instant::now();
                eprintln!("  objects: {done} of {total} done, {bytes} bytes copied");
            }
        }
        Step::ObjectsCopied {
            report,
            source,
            dest,
            seconds,
            undecodable,
        } => {
            unreadable(undecodable);
            println!(
                "copied {} objects ({} bytes) from {source} into {dest} in {seconds:.2} s, \
                 each checked; {} were there already ({} bytes){}",
                report.copied,
                report.copied_bytes,
                report.present,
                report.present_bytes,
                if report.replaced > 0 {
                    format!(
                        "; {} held there at a wrong size were replaced",
                        report.replaced
                    )
                } else {
                    String::new()
                }
            );
        }
        Step::LogOnly { dir } => println!(
            "log only: no views built in {} (`reprise --data-dir {} rebuild` or `serve` builds \
             them; `snapshot restore` can start them from a snapshot)",
            dir.display(),
            dir.display()
        ),
        Step::Built {
            projections,
            events,
            quarantined,
            seconds,
            dir,
        } => {
            println!(
                "built {projections} projection(s) in {}: {events} events in {seconds:.2} s, \
                 {quarantined} quarantined",
                dir.display()
            );
            println!(
                "{} is an independent installation: its writes go to its own log, never to the source",
                dir.display()
            );
        }
    }
}

/// Warns of records that may name objects but do not decode: the views
/// quarantine them, and their objects, if any, were neither checked nor
/// copied.
fn unreadable(records: &[String]) {
    if let Some(first) = records.first() {
        eprintln!(
            "warning: {} record(s) that may name objects do not decode, so their objects were \
             not looked at (the views quarantine them); the first: {first}",
            records.len()
        );
    }
}
