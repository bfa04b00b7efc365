//! Which log and which data directory a command works on.
//!
//! Layout of a data directory: `REPRISE-DATA-DIR` (a marker, so a foreign
//! directory is never written to), `log/` (the embedded log, unless Kafka
//! is used), `views/` (the projections), and `serve.json` while a server
//! runs (its address, pid and the local admin token).

use anyhow::{bail, Context};
use clap::Args;
use events::log::{EmbeddedLog, KafkaConfig, KafkaLog};
use events::{EventLog, LogError};
use projections::{ProjectionId, StoreError, ViewStore};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const MARKER: &str = "REPRISE-DATA-DIR";
const SERVE_FILE: &str = "serve.json";

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
    /// Send the command to a running server instead of opening the data
    /// directory (which a running server holds).
    #[arg(long, global = true, env = "REPRISE_SERVER")]
    pub server: Option<String>,
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
}

/// What a running server leaves in its data directory.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServeInfo {
    pub pid: u32,
    pub url: String,
    /// Grants admin access to the API, to whoever can read this file.
    pub token: String,
}

impl LogArgs {
    /// The `--projection-version` pins, checked against this build.
    pub fn pinned_versions(&self) -> anyhow::Result<Vec<ProjectionId>> {
        self.projection_versions
            .iter()
            .map(|pin| {
                let (name, version) = pin
                    .split_once('=')
                    .and_then(|(n, v)| Some((n.trim(), v.trim().parse::<u32>().ok()?)))
                    .with_context(|| {
                        format!(
                            "--projection-version {pin:?}: expected NAME=VERSION, e.g. calendars=1"
                        )
                    })?;
                if projections::registry::find(name, version).is_none() {
                    bail!("--projection-version {pin}: this build does not know {name}@{version}");
                }
                Ok(ProjectionId::new(name, version))
            })
            .collect()
    }

    /// Checks the data directory is ours (or new), and marks a new one.
    pub fn prepare_data_dir(&self) -> anyhow::Result<()> {
        let dir = &self.data_dir;
        match std::fs::read_dir(dir) {
            Ok(entries) => {
                let names: Vec<String> = entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                if !names.is_empty() && !names.iter().any(|n| n == MARKER) {
                    bail!(
                        "{} is not a reprise data directory (it holds {}); refusing to write to it. \
                         Choose another --data-dir",
                        dir.display(),
                        names.join(", ")
                    );
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
        }
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let marker = dir.join(MARKER);
        if !marker.exists() {
            std::fs::write(&marker, "reprise data directory, format 1\n")
                .with_context(|| format!("writing {}", marker.display()))?;
        }
        Ok(())
    }

    /// Opens the log this command should use: through a running server
    /// with `--server` (read-only), else Kafka or the embedded log.
    pub async fn open_log(&self) -> anyhow::Result<Arc<dyn EventLog>> {
        if let Some(url) = &self.server {
            let args = self.clone();
            let url = url.clone();
            let log =
                tokio::task::spawn_blocking(move || crate::remote::RemoteLog::connect(&args, &url))
                    .await??;
            return Ok(Arc::new(log));
        }
        if let Some(brokers) = &self.kafka_brokers {
            let mut config = KafkaConfig::new(brokers.clone(), self.topic_prefix.clone());
            config.partitions = self.partitions;
            let log = KafkaLog::connect(config).await?;
            return Ok(Arc::new(log));
        }
        self.prepare_data_dir()?;
        let path = self.data_dir.join("log");
        match EmbeddedLog::open(&path, self.partitions) {
            Ok(log) => Ok(Arc::new(log)),
            Err(LogError::Locked { .. }) => Err(self.locked_error()),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens the view database.
    pub fn open_views(&self) -> anyhow::Result<ViewStore> {
        self.prepare_data_dir()?;
        match ViewStore::open(&self.data_dir.join("views")) {
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
        self.data_dir.join(SERVE_FILE)
    }

    pub fn serve_info(&self) -> Option<ServeInfo> {
        let text = std::fs::read_to_string(self.serve_file()).ok()?;
        serde_json::from_str(&text).ok()
    }
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
