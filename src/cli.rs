//! The command line. Every flag can also come from a `REPRISE_*`
//! environment variable.

use crate::config::LogArgs;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

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

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server: the log, the projection runners and the HTTP API.
    Serve(ServeArgs),
    /// Build projection versions from offset 0 of the log.
    Rebuild(RebuildArgs),
    /// Inspect projections: versions, positions, lag, quarantine, digests.
    #[command(subcommand)]
    Projections(ProjectionsCommand),
    /// Inspect the log, like kcat.
    #[command(subcommand)]
    Log(LogCommand),
    /// Manage users without a DAV client.
    #[command(subcommand)]
    User(UserCommand),
    /// Import calendars and address books from files.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Benchmarks (figures, not tests).
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "REPRISE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Largest request body accepted, in bytes: calendar objects, vCards,
    /// files and XML bodies (larger ones get 413 before being read).
    #[arg(long, env = "REPRISE_MAX_RESOURCE_SIZE", default_value_t = crate::dav::DEFAULT_MAX_RESOURCE_SIZE)]
    pub max_resource_size: u64,
    /// Most occurrences of one calendar object a query expands; an object
    /// recurring more within the range gets a 403 naming it.
    #[arg(long, env = "REPRISE_MAX_INSTANCES", default_value_t = crate::dav::QueryLimits::DEFAULT.per_object)]
    pub max_instances: usize,
    /// Most occurrences one whole query produces (expand,
    /// limit-recurrence-set, free-busy) over all its objects.
    #[arg(long, env = "REPRISE_MAX_QUERY_INSTANCES", default_value_t = crate::dav::QueryLimits::DEFAULT.per_query)]
    pub max_query_instances: usize,
    /// Seconds a calendar-query or free-busy-query may run before it is
    /// abandoned with 503.
    #[arg(long, env = "REPRISE_QUERY_TIMEOUT", default_value_t = crate::dav::QueryLimits::DEFAULT.time.as_secs())]
    pub query_timeout: u64,
}

#[derive(Args, Debug)]
pub struct RebuildArgs {
    /// Only this projection (directory, calendars, contacts, seen).
    #[arg(long, env = "REPRISE_PROJECTION")]
    pub projection: Option<String>,
    /// Only this version (must be one this build can build).
    #[arg(long, env = "REPRISE_VERSION")]
    pub version: Option<u32>,
    /// Stop after applying this many batches per projection, leaving the
    /// build resumable (the next `rebuild` resumes it): for testing
    /// interrupted rebuilds.
    #[arg(long, env = "REPRISE_STOP_AFTER_BATCHES", hide_short_help = true)]
    pub stop_after_batches: Option<u64>,
    /// Events per batch.
    #[arg(long, env = "REPRISE_BATCH_SIZE", default_value_t = 2000)]
    pub batch_size: usize,
}

#[derive(Subcommand, Debug)]
pub enum ProjectionsCommand {
    /// Versions present, which is live, positions, lag and quarantine.
    Status(JsonFlag),
    /// A digest of each version's view contents (identical for identical logs).
    Digest(JsonFlag),
    /// Events a projection refused, with their position and reason.
    Quarantine(JsonFlag),
}

#[derive(Args, Debug)]
pub struct JsonFlag {
    /// Print JSON instead of a table.
    #[arg(long, env = "REPRISE_JSON")]
    pub json: bool,
}

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
    /// Only records before this time (RFC 3339, or a date YYYY-MM-DD).
    #[arg(long, env = "REPRISE_UNTIL")]
    pub until: Option<String>,
    /// Stop after this many records.
    #[arg(short = 'c', long, env = "REPRISE_COUNT")]
    pub count: Option<u64>,
    /// Output format: json (one object per line) or pretty.
    #[arg(long, value_enum, env = "REPRISE_FORMAT", default_value = "json")]
    pub format: Format,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user (and its domain, default calendar and address book).
    Add(UserAddArgs),
    /// List users.
    List(UserListArgs),
    /// Refuse a user's logins from now on (their data stays).
    Disable(UserNameArgs),
    /// Let a disabled user log in again.
    Enable(UserNameArgs),
}

#[derive(Args, Debug)]
pub struct UserNameArgs {
    /// `login@domain`, an email, or a login that exists in one domain.
    pub user: String,
}

#[derive(Args, Debug)]
pub struct UserAddArgs {
    /// Login: lowercase letters, digits, `.`, `_`, `-`; or `login@domain`.
    pub login: String,
    #[arg(long, env = "REPRISE_EMAIL")]
    pub email: String,
    /// Read the password from the first line of standard input.
    #[arg(long, required = true)]
    pub password_stdin: bool,
    /// Display name.
    #[arg(long, env = "REPRISE_NAME")]
    pub name: Option<String>,
    /// Make the user an administrator.
    #[arg(long)]
    pub admin: bool,
    /// Directory domain (default: the domain of `login@domain`, else of the email).
    #[arg(long, env = "REPRISE_DOMAIN")]
    pub domain: Option<String>,
}

#[derive(Args, Debug)]
pub struct UserListArgs {
    /// Only this domain.
    #[arg(long, env = "REPRISE_DOMAIN")]
    pub domain: Option<String>,
    #[arg(long, env = "REPRISE_JSON")]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Import an .ics file (one event per object, split by UID).
    Calendar(ImportArgs),
    /// Import a .vcf file (one event per card).
    Contacts(ImportArgs),
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The owner: `login@domain`, or a login that exists in one domain.
    pub login: String,
    pub file: PathBuf,
    /// Target collection (created when missing); default `default`.
    #[arg(long, env = "REPRISE_COLLECTION", default_value = "default")]
    pub collection: String,
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Write a synthetic log, rebuild every projection, print figures.
    Rebuild(BenchRebuildArgs),
}

#[derive(Args, Debug)]
pub struct BenchRebuildArgs {
    /// Events to write.
    #[arg(long, env = "REPRISE_BENCH_EVENTS", default_value_t = 100_000)]
    pub events: u64,
    /// Seed of the generator (same seed, same log).
    #[arg(long, env = "REPRISE_BENCH_SEED", default_value_t = 42)]
    pub seed: u64,
    /// Events per rebuild batch.
    #[arg(long, env = "REPRISE_BATCH_SIZE", default_value_t = 2000)]
    pub batch_size: usize,
    /// Where to put the benchmark's log and views (default: a temporary directory).
    #[arg(long, env = "REPRISE_BENCH_DIR")]
    pub dir: Option<PathBuf>,
}

pub fn init_tracing(cli: &Cli) {
    let default = match cli.command {
        Command::Serve(_) | Command::Rebuild(_) | Command::Bench(_) => {
            "info,librdkafka=off,rdkafka=off"
        }
        _ => "warn,librdkafka=off,rdkafka=off",
    };
    let level = cli.log_level.as_deref().unwrap_or(default);
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let log = cli.log;
        match cli.command {
            Command::Serve(args) => crate::serve::run(&log, args).await,
            Command::Rebuild(args) => crate::rebuild::run(&log, args).await,
            Command::Projections(cmd) => crate::status::run(&log, cmd).await,
            Command::Log(LogCommand::Tail(args)) => crate::logtool::tail(&log, args).await,
            Command::Log(LogCommand::Stats(args)) => crate::logtool::stats(&log, args).await,
            Command::User(cmd) => crate::users::run(&log, cmd).await,
            Command::Import(cmd) => crate::import::run(&log, cmd).await,
            Command::Bench(BenchCommand::Rebuild(args)) => crate::bench::rebuild(&log, args).await,
        }
    })
}
