//! Arguments of `reprise clone` and the bounds `rebuild --into` shares with it.

use clap::Args;
use std::path::PathBuf;

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
}
