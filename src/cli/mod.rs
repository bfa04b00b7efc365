//! The command line. Every flag can also come from a `REPRISE_*`
//! environment variable.

pub mod bench;
pub mod cluster;
pub mod connection;
pub mod data_dir;
pub mod directory;
pub mod export;
pub mod import;
pub mod log;
pub mod objects;
pub mod output;
pub mod progress;
pub mod projections;
pub mod rebuild;
pub mod recovery;
pub mod serve;
pub mod snapshot;
pub mod target;

use crate::config::{Config, KafkaOptions, ObjectOptions};
use ::objects::StoreSettings;
use ::projections::ViewStore;
use anyhow::Context;
use clap::Args;
use clap::{Parser, Subcommand};
use events::log::ClientProperties;
use events::EventLog;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "reprise",
    version,
    about = "Event-sourced groupware backend: the log is the truth, views are rebuilt from it"
)]
pub struct Cli {
    #[command(flatten)]
    pub log: LogArgs,

    /// Log filter for diagnostics on stderr (tracing syntax, e.g. `info`,
    /// `reprise=debug`); default `info` for serve and rebuild, else `warn`.
    /// librdkafka's own chatter is off unless named (`librdkafka=debug`):
    /// reprise reports Kafka failures itself, naming the broker.
    #[arg(long, global = true, env = "REPRISE_LOG")]
    pub log_level: Option<String>,

    /// How diagnostics are written: `text` for people, `json` for a log
    /// pipeline (one object per line: timestamp, level, target, fields
    /// with the message, and the request's span with its id).
    #[arg(long, global = true, env = "REPRISE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct LogArgs {
    /// Data directory: the embedded log and the views.
    #[arg(
        long,
        global = true,
        env = "REPRISE_DATA_DIR",
        default_value = "./data"
    )]
    pub data_dir: PathBuf,
    /// Use Kafka instead of the embedded log: HOST:PORT[,HOST:PORT...].
    #[arg(long, global = true, env = "REPRISE_KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,
    /// Kafka topic prefix: topics are PREFIX.calendar, .contact, .directory, .seen.
    #[arg(
        long,
        global = true,
        env = "REPRISE_TOPIC_PREFIX",
        default_value = "reprise"
    )]
    pub topic_prefix: String,
    /// Partitions per topic when the log creates topics (default 8); an
    /// existing topic with another count is refused.
    #[arg(long, global = true, env = "REPRISE_PARTITIONS")]
    pub partitions: Option<u32>,
    /// librdkafka properties for every Kafka client, one `key=value` per
    /// line: `security.protocol`, `sasl.mechanism`, `sasl.username`,
    /// `sasl.password`, `ssl.ca.location`... Secrets in it are never printed.
    #[arg(long, global = true, env = "REPRISE_KAFKA_CONFIG", value_name = "FILE")]
    pub kafka_config: Option<PathBuf>,
    /// Replicas per partition of the Kafka topics reprise creates (default:
    /// the broker's `default.replication.factor`; 3 in production); an
    /// existing topic with another count is refused.
    #[arg(long, global = true, env = "REPRISE_REPLICATION_FACTOR")]
    pub replication_factor: Option<u16>,
    /// `min.insync.replicas` of the Kafka topics reprise creates (default:
    /// the broker's; 2 with 3 replicas); an existing topic with another
    /// value is refused.
    #[arg(long, global = true, env = "REPRISE_MIN_INSYNC_REPLICAS")]
    pub min_insync_replicas: Option<u16>,
    /// Send the command to a running server instead of opening the data
    /// directory (which a running server holds).
    #[arg(long, global = true, env = "REPRISE_SERVER")]
    pub server: Option<String>,
    /// The PEM certificate(s) of the CA that signed an https --server's
    /// certificate, when it is not one of the public CAs (a company's own,
    /// or a self-signed one).
    #[arg(long, global = true, env = "REPRISE_SERVER_CA", value_name = "FILE")]
    pub server_ca: Option<std::path::PathBuf>,
    /// Serve a projection at another version this build knows than its
    /// current one, as NAME=VERSION (e.g. `calendars=1`); repeatable.
    /// Switching the served version builds the new one beside the old,
    /// which serves until the switch.
    #[arg(
        long = "projection-version",
        global = true,
        env = "REPRISE_PROJECTION_VERSION",
        value_delimiter = ','
    )]
    pub projection_versions: Vec<String>,
    /// Memory for the storage engine's caches and write buffers, in bytes
    /// or with a unit (`64MiB`, `1GiB`); a quarter goes to the log, the
    /// rest to the views.
    #[arg(
        long,
        global = true,
        env = "REPRISE_CACHE_SIZE",
        default_value = "64MiB",
        value_parser = crate::config::parse_size
    )]
    pub cache_size: u64,
    /// Where immutable payloads (file bodies) are kept:
    /// `file:///absolute/path` or `s3://bucket/prefix` (AWS S3, Ceph RGW,
    /// MinIO, Garage...; endpoint, region and credentials from the AWS_*
    /// environment variables or --object-store-config). Default:
    /// `objects/` in the data directory. Installations that share a log
    /// must share it.
    #[arg(long, global = true, env = "REPRISE_OBJECT_STORE", value_name = "URL")]
    pub object_store: Option<String>,
    /// S3 settings, one `key=value` per line, over the environment:
    /// `aws_endpoint`, `aws_region`, `aws_access_key_id`,
    /// `aws_secret_access_key`, `aws_allow_http`... Never printed.
    #[arg(
        long,
        global = true,
        env = "REPRISE_OBJECT_STORE_CONFIG",
        value_name = "FILE"
    )]
    pub object_store_config: Option<PathBuf>,
    /// The longest one request to the object store may take, in seconds,
    /// before the client's request fails with 503 (no hang).
    #[arg(
        long,
        global = true,
        env = "REPRISE_OBJECT_STORE_TIMEOUT",
        default_value_t = 10
    )]
    pub object_store_timeout: u64,
    /// Calendar objects and vCards larger than this (bytes, or with a unit:
    /// `256KiB`) are kept in the object store, their events carrying only
    /// a reference, so that no record nears a broker's limit.
    #[arg(
        long,
        global = true,
        env = "REPRISE_INLINE_LIMIT",
        default_value = "256KiB",
        value_parser = crate::config::parse_size
    )]
    pub inline_limit: u64,
}

impl LogArgs {
    /// The log and data directory these flags name (`--server` aside).
    pub fn config(&self) -> anyhow::Result<Config> {
        Ok(Config {
            data_dir: self.data_dir.clone(),
            kafka_brokers: self.kafka_brokers.clone(),
            topic_prefix: self.topic_prefix.clone(),
            partitions: self.partitions,
            pinned: crate::config::parse_pins(&self.projection_versions)?,
            cache_size: self.cache_size,
            kafka: KafkaOptions {
                replication_factor: self.replication_factor,
                min_insync_replicas: self.min_insync_replicas,
                client: match &self.kafka_config {
                    Some(path) => read_kafka_config(path)?,
                    None => ClientProperties::default(),
                },
            },
            inline_limit: self.inline_limit,
            objects: ObjectOptions {
                url: self.object_store.clone(),
                settings: StoreSettings {
                    timeout: std::time::Duration::from_secs(self.object_store_timeout.max(1)),
                    s3: match &self.object_store_config {
                        Some(path) => read_object_store_config(path, "--object-store-config")?,
                        None => Vec::new(),
                    },
                },
            },
        })
    }

    /// Opens the log this command should use: through a running server
    /// with `--server` (read-only), else Kafka or the embedded log.
    pub async fn open_log(&self) -> anyhow::Result<Arc<dyn EventLog>> {
        if let Some(url) = &self.server {
            let data_dir = self.data_dir.clone();
            let url = url.clone();
            let ca = self.server_ca.clone();
            let log = tokio::task::spawn_blocking(move || {
                crate::remote::RemoteLog::connect(&data_dir, &url, ca.as_deref())
            })
            .await??;
            return Ok(Arc::new(log));
        }
        self.config()?.open_log().await
    }

    pub fn open_views(&self) -> anyhow::Result<ViewStore> {
        self.config()?.open_views()
    }

    pub fn serve_file(&self) -> PathBuf {
        crate::config::serve_file(&self.data_dir)
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server: the log, the projection runners and the HTTP API.
    // Boxed: its flags outgrow every other command's.
    Serve(Box<serve::ServeArgs>),
    /// Build projection versions from offset 0 of the log; with --into,
    /// a point-in-time copy into another data directory.
    Rebuild(rebuild::RebuildCommand),
    /// Inspect projections: versions, positions, lag, quarantine, digests.
    #[command(subcommand)]
    Projections(projections::ProjectionsCommand),
    /// Inspect the log, like kcat.
    #[command(subcommand)]
    Log(log::LogCommand),
    /// The object store against the log: verify it, collect its orphans.
    #[command(subcommand)]
    Objects(objects::ObjectsCommand),
    /// Manage directory domains.
    #[command(subcommand)]
    Domain(directory::DomainCommand),
    /// Manage users without a DAV client.
    #[command(subcommand)]
    User(directory::UserCommand),
    /// Manage groups and their members (users and nested groups).
    #[command(subcommand)]
    Group(directory::GroupCommand),
    /// Manage bookable resources: rooms and equipment.
    #[command(subcommand)]
    Resource(directory::ResourceCommand),
    /// Share calendars and address books with users and groups.
    #[command(subcommand)]
    Share(directory::ShareCommand),
    /// Import calendars and address books from files.
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// Copy a log into a new data directory (same partitions and offsets),
    /// whole or up to a point in time, and build its views: an
    /// independent installation with the same ETags and sync tokens.
    Clone(recovery::CloneArgs),
    /// Snapshots of the served views: create one, or restore one into a
    /// data directory without views so that only the log's tail is replayed.
    #[command(subcommand)]
    Snapshot(snapshot::SnapshotCommand),
    /// Write one user's own calendars (.ics) and address books (.vcf) to files.
    Export(export::ExportArgs),
    /// The data directory itself: convert one written by an older build.
    #[command(subcommand)]
    DataDir(data_dir::DataDirCommand),
    /// Benchmarks (figures, not tests).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Forward client traffic to the active one of several installations
    /// sharing a Kafka log, and switch between them without a failed
    /// request (blue/green upgrades, promoting a standby).
    Proxy(cluster::ProxyArgs),
    /// Cut a proxy over to another backend: hold requests, hand over the
    /// lead with a fence in the log, release them to the new backend.
    Switch(cluster::SwitchArgs),
}

pub fn init_tracing(cli: &Cli) {
    let base = match cli.command {
        Command::Serve(_)
        | Command::Rebuild(_)
        | Command::Bench(_)
        | Command::Proxy(_)
        | Command::DataDir(_) => "info",
        _ => "warn",
    };
    // Libraries that talk too much, quiet unless a level names them:
    // librdkafka reports every partition end as a "global error"; the
    // storage engine logs each keyspace it opens.
    const QUIET: [(&str, &str); 4] = [
        ("librdkafka", "off"),
        ("rdkafka", "off"),
        ("fjall", "warn"),
        ("lsm_tree", "warn"),
    ];
    let chosen = cli.log_level.as_deref().unwrap_or(base);
    let mut level = chosen.to_string();
    for (target, quiet) in QUIET {
        if !chosen.contains(target) {
            level.push_str(&format!(",{target}={quiet}"));
        }
    }
    let default = format!("{base},librdkafka=off,rdkafka=off,fjall=warn,lsm_tree=warn");
    let filter = tracing_subscriber::EnvFilter::try_new(&level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => builder.init(),
        // The current span only (a request's, with its id), not the
        // whole list: one line stays one event.
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let global = cli.log;
        match cli.command {
            Command::Serve(args) => serve::run(&global, *args).await,
            Command::Rebuild(cmd) => rebuild::rebuild(&global, cmd).await,
            Command::Projections(cmd) => projections::run(&global, cmd).await,
            Command::Log(log::LogCommand::Tail(args)) => log::tail(&global, args).await,
            Command::Log(log::LogCommand::Stats(args)) => log::stats(&global, args).await,
            Command::Objects(cmd) => objects::run(&global, cmd).await,
            Command::Domain(cmd) => directory::domain(&global, cmd).await,
            Command::User(cmd) => directory::user(&global, cmd).await,
            Command::Group(cmd) => directory::group(&global, cmd).await,
            Command::Resource(cmd) => directory::resource(&global, cmd).await,
            Command::Share(cmd) => directory::share(&global, cmd).await,
            Command::Import(cmd) => import::run(&global, cmd).await,
            Command::Clone(args) => recovery::clone(&global, args).await,
            Command::Snapshot(cmd) => snapshot::snapshot(&global, cmd).await,
            Command::Export(args) => export::run(&global, args).await,
            Command::DataDir(data_dir::DataDirCommand::Convert(args)) => {
                data_dir::convert(&global, args).await
            }
            Command::Bench(bench::BenchCommand::Rebuild(args)) => {
                bench::bench_rebuild(&global, args).await
            }
            Command::Proxy(args) => cluster::run_proxy(args).await,
            Command::Switch(args) => cluster::run_switch(args).await,
        }
    })
}

/// Reads an object store's settings file (`flag` names it in errors);
/// errors name the file and the line, never a value.
fn read_object_store_config(
    path: &std::path::Path,
    flag: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading {flag} {}", path.display()))?;
    ::objects::parse_settings(&text).with_context(|| format!("{flag} {}", path.display()))
}

/// Reads `--kafka-config`; errors name the file and the line, never a value.
fn read_kafka_config(path: &std::path::Path) -> anyhow::Result<ClientProperties> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading --kafka-config {}", path.display()))?;
    ClientProperties::parse(&text).with_context(|| format!("--kafka-config {}", path.display()))
}
