//! Arguments of `reprise log`.

use super::output::JsonFlag;
use clap::{Args, Subcommand, ValueEnum};

#[derive(Subcommand, Debug)]
pub enum LogCommand {
    /// Print records, like `kcat -C`.
    Tail(TailArgs),
    /// Per topic and partition: count, first and last offset and time, bytes.
    Stats(JsonFlag),
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Json,
    Pretty,
}

#[derive(Args, Debug)]
pub struct TailArgs {
    /// Topic: calendar, contact, directory or seen (all when omitted).
    #[arg(long, env = "REPRISE_TOPIC")]
    pub topic: Option<String>,
    /// Start: beginning, end, an offset N, or -N for the last N of each partition.
    #[arg(
        short = 'o',
        long = "offset",
        env = "REPRISE_OFFSET",
        default_value = "beginning",
        allow_hyphen_values = true
    )]
    pub offset: String,
    /// Keep waiting for new records.
    #[arg(short = 'f', long, env = "REPRISE_FOLLOW")]
    pub follow: bool,
    /// Only records with this key (partition key: `login@domain` or a domain).
    #[arg(long, env = "REPRISE_KEY")]
    pub key: Option<String>,
    /// Only events of this type (e.g. CalendarObjectPut).
    #[arg(long = "type", env = "REPRISE_TYPE")]
    pub event_type: Option<String>,
    /// Only records at or after this time (RFC 3339, or a date YYYY-MM-DD).
    #[arg(long, env = "REPRISE_SINCE")]
    pub since: Option<String>,
    /// Only records at or before this time (RFC 3339, or a date
    /// YYYY-MM-DD), as `clone --until` and `rebuild --until` cut.
    #[arg(long, env = "REPRISE_UNTIL")]
    pub until: Option<String>,
    /// Stop after this many records.
    #[arg(short = 'c', long, env = "REPRISE_COUNT")]
    pub count: Option<u64>,
    /// Output format: json (one object per line) or pretty.
    #[arg(long, value_enum, env = "REPRISE_FORMAT", default_value = "json")]
    pub format: Format,
}
