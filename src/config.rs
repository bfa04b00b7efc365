//! Which log and which data directory a command works on.
//!
//! Layout of a data directory: `REPRISE-DATA-DIR` (a marker with the
//! directory's format, so a foreign directory is never written to and an
//! older or newer one is recognised), `log/` (the embedded log, unless
//! Kafka is used), `views/` (the projections), `objects/` (the object
//! store, unless `--object-store` names another), `spool/` (bodies on
//! their way to an s3:// store), and `serve.json` while a server runs (its
//! address, pid and the local admin token).
//!
//! Format 2 (this build): `log/` and `views/` are fjall databases. Format
//! 1 (the first build): sled databases, which `reprise data-dir convert`
//! converts, keeping the old files under `sled-era/`.

use anyhow::{bail, Context};
use events::log::ClientProperties;
use events::log::{EmbeddedLog, KafkaConfig, KafkaLog};
use events::storage::{Memory, DEFAULT_CACHE_BYTES};
use events::{EventLog, LogError};
use objects::{ObjectStore, StoreLocation, StoreSettings};
use projections::{ProjectionId, StoreError, ViewStore};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The file that says a directory is a reprise data directory, and of which format.
pub const MARKER: &str = "REPRISE-DATA-DIR";
/// The data directory format this build writes and reads.
pub const DATA_DIR_FORMAT: u32 = 2;
const SERVE_FILE: &str = "serve.json";
/// Where `data-dir convert` keeps the files of a sled-era (format 1)
/// directory, inside the data directory.
pub const SLED_ERA: &str = "sled-era";

/// Which log and data directory a command works on, as the command line
/// or a test gives them.
#[derive(Debug, Clone)]
pub struct Config {
    /// The embedded log (unless Kafka is used) and the views.
    pub data_dir: PathBuf,
    /// Kafka bootstrap servers, HOST:PORT[,HOST:PORT...]; none for the
    /// embedded log.
    pub kafka_brokers: Option<String>,
    /// Kafka topic prefix: topics are PREFIX.calendar, .contact, .directory, .seen.
    pub topic_prefix: String,
    /// Partitions per topic when the log creates topics (default 8).
    pub partitions: Option<u32>,
    /// Projection versions served instead of their current one.
    pub pinned: Vec<ProjectionId>,
    /// Bytes for the storage engine's caches and write buffers.
    pub cache_size: u64,
    /// How to create and talk to Kafka topics (with `kafka_brokers`).
    pub kafka: KafkaOptions,
    /// Where immutable payloads are kept.
    pub objects: ObjectOptions,
    /// Calendar objects and vCards larger than this go to the object store.
    pub inline_limit: u64,
}

/// Default `--inline-limit`: 256 KiB, far below every broker's record limit
/// and above nearly every real calendar object.
pub const DEFAULT_INLINE_LIMIT: u64 = 256 * 1024;

/// The object store: `--object-store` and its settings.
#[derive(Debug, Clone, Default)]
pub struct ObjectOptions {
    /// `file:///path` or `s3://bucket/prefix`; none: `<data-dir>/objects`.
    pub url: Option<String>,
    pub settings: StoreSettings,
}

/// The Kafka settings beyond brokers, prefix and partitions.
#[derive(Debug, Clone, Default)]
pub struct KafkaOptions {
    /// Replicas per partition of topics the log creates (`None`: the
    /// broker's default); an existing topic with another count is refused.
    pub replication_factor: Option<u16>,
    /// `min.insync.replicas` of topics the log creates; likewise checked.
    pub min_insync_replicas: Option<u16>,
    /// The operator's librdkafka properties (`--kafka-config`).
    pub client: ClientProperties,
}

impl Config {
    /// The defaults of the command line, on `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            kafka_brokers: None,
            topic_prefix: "reprise".to_string(),
            partitions: None,
            pinned: Vec::new(),
            cache_size: DEFAULT_CACHE_SIZE,
            kafka: KafkaOptions::default(),
            objects: ObjectOptions::default(),
            inline_limit: DEFAULT_INLINE_LIMIT,
        }
    }
}

/// A size in bytes: a number, optionally with a unit (`k`/`KiB`, `M`/`MiB`,
/// `G`/`GiB`: powers of 1024; `KB`, `MB`, `GB`: powers of 1000).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a number of bytes, e.g. 64MiB"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (use KiB, MiB or GiB)"
            ))
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("{text:?}: too large"))
}

/// The `--projection-version` pins, checked against this build.
pub fn parse_pins(pins: &[String]) -> anyhow::Result<Vec<ProjectionId>> {
    pins.iter()
        .map(|pin| {
            let (name, version) = pin
                .split_once('=')
                .and_then(|(n, v)| Some((n.trim(), v.trim().parse::<u32>().ok()?)))
                .with_context(|| {
                    format!("--projection-version {pin:?}: expected NAME=VERSION, e.g. calendars=1")
                })?;
            if projections::registry::find(name, version).is_none() {
                bail!("--projection-version {pin}: this build does not know {name}@{version}");
            }
            Ok(ProjectionId::new(name, version))
        })
        .collect()
}

/// The default `--cache-size`.
pub const DEFAULT_CACHE_SIZE: u64 = DEFAULT_CACHE_BYTES;

/// What a data directory's marker says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataDirFormat {
    /// No directory, or an empty one.
    New,
    /// A reprise data directory of the given format.
    Format(u32),
}

/// Reads the marker of `dir`: refuses a directory that is not a reprise
/// data directory, or whose marker cannot be read.
pub fn data_dir_format(dir: &Path) -> anyhow::Result<DataDirFormat> {
    let names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(DataDirFormat::New),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    if names.is_empty() {
        return Ok(DataDirFormat::New);
    }
    if !names.iter().any(|n| n == MARKER) {
        bail!(
            "{} is not a reprise data directory (it holds {}); refusing to write to it. \
             Choose another --data-dir",
            dir.display(),
            names.join(", ")
        );
    }
    let path = dir.join(MARKER);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let format = text
        .trim()
        .strip_prefix("reprise data directory, format ")
        .and_then(|n| n.parse::<u32>().ok())
        .with_context(|| {
            format!(
                "{} says {:?}, not a data directory format this build knows; refusing to touch it",
                path.display(),
                text.trim()
            )
        })?;
    Ok(DataDirFormat::Format(format))
}

/// Writes the marker of the current format (through a temporary file, so
/// a crash leaves the old marker or the new one).
pub fn write_data_dir_marker(dir: &Path) -> anyhow::Result<()> {
    let marker = dir.join(MARKER);
    let staging = dir.join(format!("{MARKER}.new"));
    std::fs::write(
        &staging,
        format!("reprise data directory, format {DATA_DIR_FORMAT}\n"),
    )
    .with_context(|| format!("writing {}", staging.display()))?;
    std::fs::rename(&staging, &marker).with_context(|| format!("writing {}", marker.display()))
}

/// What a running server leaves in its data directory.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServeInfo {
    pub pid: u32,
    pub url: String,
    /// Grants admin access to the API, to whoever can read this file.
    pub token: String,
    /// Where its Prometheus metrics are (`http://ADDR/metrics`), unless
    /// they are off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<String>,
}

/// A fresh admin token for `serve.json`: 32 random bytes in hex.
pub fn random_token() -> anyhow::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Compares a presented token with the expected one in time that does not
/// depend on where they differ, so that timing does not leak the secret.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Config {
    /// Checks the data directory is ours (or new) and of this build's
    /// format, and marks a new one.
    pub fn prepare_data_dir(&self) -> anyhow::Result<()> {
        let dir = &self.data_dir;
        match data_dir_format(dir)? {
            DataDirFormat::New => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                write_data_dir_marker(dir)
            }
            DataDirFormat::Format(DATA_DIR_FORMAT) => Ok(()),
            DataDirFormat::Format(1) => bail!(
                "{} was written by reprise's sled-based build (data directory format 1); convert \
                 it with `reprise --data-dir {} data-dir convert`: it copies the log into the \
                 current store record by record (same offsets, so ETags and sync tokens stay \
                 valid), builds the views, and keeps the old files under {}",
                dir.display(),
                dir.display(),
                dir.join(SLED_ERA).display()
            ),
            DataDirFormat::Format(newer) => bail!(
                "{} is a data directory of format {newer}, newer than this build of reprise reads \
                 (format {DATA_DIR_FORMAT}); run a newer build",
                dir.display()
            ),
        }
    }

    /// The memory budgets of the log and of the views (`--cache-size`).
    pub fn memory(&self) -> (Memory, Memory) {
        Memory::split(self.cache_size)
    }

    /// Opens the log: Kafka, or the embedded log in the data directory.
    pub async fn open_log(&self) -> anyhow::Result<Arc<dyn EventLog>> {
        if let Some(brokers) = &self.kafka_brokers {
            let mut config = self.kafka_config(brokers, &self.topic_prefix);
            config.partitions = self.partitions;
            let log = KafkaLog::connect(config).await?;
            return Ok(Arc::new(log));
        }
        self.prepare_data_dir()?;
        let path = self.data_dir.join("log");
        match EmbeddedLog::open_with(&path, self.partitions, self.memory().0) {
            Ok(log) => Ok(Arc::new(log)),
            Err(LogError::Locked { .. }) => Err(self.locked_error()),
            Err(e) => Err(e.into()),
        }
    }

    /// How to reach the topics `PREFIX.*` of the cluster at `brokers`,
    /// with this configuration's Kafka options.
    pub fn kafka_config(&self, brokers: &str, prefix: &str) -> KafkaConfig {
        let mut config = KafkaConfig::new(brokers, prefix);
        config.replication_factor = self.kafka.replication_factor;
        config.min_insync_replicas = self.kafka.min_insync_replicas;
        config.client = self.kafka.client.clone();
        config
    }

    /// Where the object store is: `--object-store`, else `objects/` in
    /// the data directory.
    pub fn object_location(&self) -> anyhow::Result<StoreLocation> {
        match &self.objects.url {
            Some(url) => Ok(url.parse()?),
            None => {
                let dir = std::path::absolute(&self.data_dir)
                    .with_context(|| format!("locating {}", self.data_dir.display()))?;
                Ok(StoreLocation::Local {
                    root: dir.join("objects"),
                })
            }
        }
    }

    /// Opens the object store, without contacting it (`serve` probes it).
    pub fn open_objects(&self) -> anyhow::Result<ObjectStore> {
        if self.objects.url.is_none() {
            // The data directory's own store, made with it.
            self.prepare_data_dir()?;
        }
        let location = self.object_location()?;
        let spool = self.data_dir.join("spool");
        ObjectStore::open(location.clone(), &spool, &self.objects.settings)
            .with_context(|| format!("opening the object store {location}"))
    }

    /// Opens the view database.
    pub fn open_views(&self) -> anyhow::Result<ViewStore> {
        self.prepare_data_dir()?;
        match ViewStore::open_with(&self.data_dir.join("views"), self.memory().1) {
            Ok(store) => Ok(store),
            Err(StoreError::Locked { .. }) => Err(self.locked_error()),
            Err(e) => Err(e.into()),
        }
    }

    /// The error for a data directory held by another process, with the
    /// way that works instead.
    fn locked_error(&self) -> anyhow::Error {
        match self.serve_info() {
            Some(info) => anyhow::anyhow!(
                "the data directory {} is in use by `reprise serve` (pid {}, {}); \
                 run this command through it with --server {} (or stop the server)",
                self.data_dir.display(),
                info.pid,
                info.url,
                info.url
            ),
            None => anyhow::anyhow!(
                "the data directory {} is in use by another reprise process; \
                 wait for it to finish, or if it is a server run this command with --server URL",
                self.data_dir.display()
            ),
        }
    }

    pub fn serve_file(&self) -> PathBuf {
        serve_file(&self.data_dir)
    }

    pub fn serve_info(&self) -> Option<ServeInfo> {
        serve_info(&self.data_dir)
    }
}

/// Where a server on `data_dir` says how to reach it.
pub fn serve_file(data_dir: &Path) -> PathBuf {
    data_dir.join(SERVE_FILE)
}

/// What a server on `data_dir` left in `serve.json`, if one runs.
pub fn serve_info(data_dir: &Path) -> Option<ServeInfo> {
    let text = std::fs::read_to_string(serve_file(data_dir)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Writes `serve.json` readable by the owner only.
pub fn write_serve_info(path: &Path, info: &ServeInfo) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(serde_json::to_string_pretty(info)?.as_bytes())?;
    Ok(())
}
