//! The command line. Every flag can also come from a `REPRISE_*`
//! environment variable.

pub mod directory;

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
    /// Build projection versions from offset 0 of the log; with --into,
    /// a point-in-time copy into another data directory.
    Rebuild(RebuildCommand),
    /// Inspect projections: versions, positions, lag, quarantine, digests.
    #[command(subcommand)]
    Projections(ProjectionsCommand),
    /// Inspect the log, like kcat.
    #[command(subcommand)]
    Log(LogCommand),
    /// Manage directory domains.
    #[command(subcommand)]
    Domain(DomainCommand),
    /// Manage users without a DAV client.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage groups and their members (users and nested groups).
    #[command(subcommand)]
    Group(GroupCommand),
    /// Manage bookable resources: rooms and equipment.
    #[command(subcommand)]
    Resource(ResourceCommand),
    /// Share calendars and address books with users and groups.
    #[command(subcommand)]
    Share(ShareCommand),
    /// Import calendars and address books from files.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Copy a log into a new data directory (same partitions and offsets),
    /// whole or up to a point in time, and build its views: an
    /// independent installation with the same ETags and sync tokens.
    Clone(CloneArgs),
    /// Snapshots of the served views: create one, or restore one into a
    /// data directory without views so that only the log's tail is replayed.
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Write one user's own calendars (.ics) and address books (.vcf) to files.
    Export(ExportArgs),
    /// The data directory itself: convert one written by an older build.
    #[command(subcommand)]
    DataDir(DataDirCommand),
    /// Benchmarks (figures, not tests).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Forward client traffic to the active one of several installations
    /// sharing a Kafka log, and switch between them without a failed
    /// request (blue/green upgrades, promoting a standby).
    Proxy(ProxyArgs),
    /// Cut a proxy over to another backend: hold requests, hand over the
    /// lead with a fence in the log, release them to the new backend.
    Switch(SwitchArgs),
}

#[derive(Subcommand, Debug)]
pub enum DataDirCommand {
    /// Convert a data directory written by reprise's sled-based build
    /// (format 1): copy its log record by record into the current store
    /// (same offsets: ETags, sync tokens and modseqs stay valid), build the
    /// views, and keep the old files under `sled-era/`. Safe to run again
    /// after an interruption.
    Convert(ConvertArgs),
}

#[derive(Args, Debug)]
pub struct ConvertArgs {
    /// Records per copied batch and events per view batch.
    #[arg(long, env = "REPRISE_BATCH_SIZE", default_value_t = 2000)]
    pub batch_size: usize,
}

#[derive(Args, Debug)]
pub struct ProxyArgs {
    /// Address clients connect to.
    #[arg(long, env = "REPRISE_PROXY_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: String,
    /// A backend installation, as NAME=http://HOST:PORT (its
    /// `serve --installation NAME`); at least two.
    #[arg(long = "backend", required = true)]
    pub backends: Vec<String>,
    /// Address of the proxy's own API (`GET /status`, `POST /switch`);
    /// keep it private.
    #[arg(long, env = "REPRISE_PROXY_ADMIN", default_value = "127.0.0.1:8001")]
    pub admin: String,
    /// The backend to start with (default: the one that says it leads,
    /// else the first).
    #[arg(long)]
    pub active: Option<String>,
    /// The backends' `--cluster-token`; also required by the proxy's API.
    #[arg(long, env = "REPRISE_CLUSTER_TOKEN", hide_env_values = true)]
    pub cluster_token: Option<String>,
    /// Seconds a switch waits for requests in flight on the old backend
    /// before giving up (and leaving it active).
    #[arg(long, default_value_t = 10)]
    pub drain_timeout: u64,
}

#[derive(Args, Debug)]
pub struct SwitchArgs {
    /// The proxy's admin URL (its `--admin` address).
    #[arg(long, env = "REPRISE_PROXY")]
    pub proxy: String,
    /// The backend to make active.
    #[arg(long)]
    pub to: String,
    #[arg(long, env = "REPRISE_CLUSTER_TOKEN", hide_env_values = true)]
    pub cluster_token: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "REPRISE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Largest request body accepted, in bytes: calendar objects, vCards,
    /// files and XML bodies (larger ones get 413 before being read).
    #[arg(long, env = "REPRISE_MAX_RESOURCE_SIZE", default_value_t = crate::http::dav::DEFAULT_MAX_RESOURCE_SIZE)]
    pub max_resource_size: u64,
    /// Most occurrences of one calendar object a query expands; an object
    /// recurring more within the range gets a 403 naming it.
    #[arg(long, env = "REPRISE_MAX_INSTANCES", default_value_t = crate::http::dav::QueryLimits::DEFAULT.per_object)]
    pub max_instances: usize,
    /// Most occurrences one whole query produces (expand,
    /// limit-recurrence-set, free-busy) over all its objects.
    #[arg(long, env = "REPRISE_MAX_QUERY_INSTANCES", default_value_t = crate::http::dav::QueryLimits::DEFAULT.per_query)]
    pub max_query_instances: usize,
    /// Seconds a calendar-query or free-busy-query may run before it is
    /// abandoned with 503.
    #[arg(long, env = "REPRISE_QUERY_TIMEOUT", default_value_t = crate::http::dav::QueryLimits::DEFAULT.time.as_secs())]
    pub query_timeout: u64,
    /// After switching to a projection version built beside the live one
    /// (an upgrade), keep the old version's trees instead of dropping them.
    #[arg(long, env = "REPRISE_KEEP_OLD")]
    pub keep_old: bool,
    /// Most events per second a projection version built beside the live
    /// one applies (an upgrade), so that the build leaves the cores to the
    /// requests (default: as fast as it can).
    #[arg(long, env = "REPRISE_BUILD_RATE", value_name = "EVENTS_PER_S")]
    pub build_rate: Option<u64>,
    /// This installation's name among those sharing a Kafka log (what
    /// fences and the proxy's `--backend NAME=URL` call it).
    #[arg(long, env = "REPRISE_INSTALLATION", default_value = "main")]
    pub installation: String,
    /// Follow the log without writing until a switch makes this
    /// installation the leader (a standby, or the green side of a
    /// blue/green pair). Without it, an installation writes unless the
    /// last fence in the log names another one.
    #[arg(long, env = "REPRISE_STANDBY")]
    pub standby: bool,
    /// A shared secret that admits the proxy to /admin/v1/cluster (the
    /// hand-over and take-over of a switch); admins are admitted too.
    #[arg(long, env = "REPRISE_CLUSTER_TOKEN", hide_env_values = true)]
    pub cluster_token: Option<String>,
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
    /// Threads that apply the partitions of one projection's batch
    /// (default: the machine's cores). The views are the same whatever
    /// the number.
    #[arg(long, env = "REPRISE_WORKERS")]
    pub workers: Option<usize>,
}

impl RebuildArgs {
    /// The rebuild these flags ask for.
    pub fn options(&self) -> crate::ops::rebuild::Options {
        crate::ops::rebuild::Options {
            batch_size: self.batch_size,
            workers: self
                .workers
                .unwrap_or_else(crate::ops::rebuild::default_workers),
            stop_after_batches: self.stop_after_batches,
        }
    }
}

/// `rebuild`: the projection flags, and the point-in-time ones.
#[derive(Args, Debug)]
pub struct RebuildCommand {
    #[command(flatten)]
    pub args: RebuildArgs,
    #[command(flatten)]
    pub bounds: BoundArgs,
    /// Copy this data directory's log (or the --server's, or Kafka's) into
    /// DIR, a new data directory, up to --until/--until-offsets, and build
    /// DIR's views there. The live views are never rewritten to the past:
    /// the bounds need --into.
    #[arg(long, value_name = "DIR", env = "REPRISE_INTO")]
    pub into: Option<PathBuf>,
}

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

#[derive(Subcommand, Debug)]
pub enum SnapshotCommand {
    /// Write every served projection version (live and ready), tree and
    /// catalogue state, to one checksummed file. With --server, the server
    /// writes it on its own machine, holding its views still meanwhile.
    Create(SnapshotCreateArgs),
    /// Restore a snapshot into the data directory, which must have no views
    /// yet and whose log must be the one the snapshot was taken from (or a
    /// clone of it); `serve` or `rebuild` then replay only the tail.
    Restore(SnapshotRestoreArgs),
}

#[derive(Args, Debug)]
pub struct SnapshotCreateArgs {
    /// The file to write (must not exist). With --server, a path on the
    /// server's machine; a relative one is made absolute here first.
    #[arg(long, value_name = "FILE", env = "REPRISE_SNAPSHOT_TO")]
    pub to: PathBuf,
}

#[derive(Args, Debug)]
pub struct SnapshotRestoreArgs {
    /// The snapshot file.
    pub file: PathBuf,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The user: `login@domain`, an email, or a login that exists in one domain.
    #[arg(long, env = "REPRISE_EXPORT_USER")]
    pub user: String,
    /// A new or empty directory: DIR/calendars/NAME.ics, DIR/contacts/NAME.vcf.
    #[arg(long, value_name = "DIR", env = "REPRISE_EXPORT_TO")]
    pub to: PathBuf,
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

#[derive(Subcommand, Debug)]
pub enum DomainCommand {
    /// Create a domain (`user add` also creates its user's domain).
    Add(DomainAddArgs),
    /// List domains.
    List(ListArgs),
    /// Show a domain.
    Show(ShowArgs),
}

#[derive(Args, Debug)]
pub struct DomainAddArgs {
    pub domain: String,
    /// Display name (the organisation in the global address book).
    #[arg(long, env = "REPRISE_NAME")]
    pub name: Option<String>,
}

/// How `list` commands fetch: pages of this many entries, following each
/// page's cursor until the last.
#[derive(Args, Debug)]
pub struct PageArgs {
    #[arg(long, default_value_t = crate::directory::MAX_LIMIT, hide_short_help = true)]
    pub page_size: usize,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[arg(long, env = "REPRISE_JSON")]
    pub json: bool,
    #[command(flatten)]
    pub page: PageArgs,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The entry: a domain, `login@domain` for a user, `name@domain` for a
    /// group or resource.
    pub name: String,
    #[arg(long, env = "REPRISE_JSON")]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user (and its domain, default calendar and address book).
    Add(UserAddArgs),
    /// List users.
    List(UserListArgs),
    /// Show a user.
    Show(ShowArgs),
    /// Change a user's email, display name, phone, admin flag or state.
    Update(UserUpdateArgs),
    /// Set a user's password (read from standard input).
    Passwd(UserPasswdArgs),
    /// Refuse a user's logins from now on (their data stays).
    Disable(UserNameArgs),
    /// Let a disabled user log in again.
    Enable(UserNameArgs),
    /// Delete a user and their calendars, address books, seen flags and
    /// files from the views (the events stay in the log).
    Delete(UserNameArgs),
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
    /// Telephone number, for the global address book.
    #[arg(long, env = "REPRISE_PHONE")]
    pub phone: Option<String>,
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
    #[command(flatten)]
    pub page: PageArgs,
}

#[derive(Args, Debug)]
pub struct UserUpdateArgs {
    /// `login@domain`, an email, or a login that exists in one domain.
    pub user: String,
    #[arg(long, env = "REPRISE_EMAIL")]
    pub email: Option<String>,
    /// Display name.
    #[arg(long, env = "REPRISE_NAME", conflicts_with = "no_name")]
    pub name: Option<String>,
    /// Remove the display name.
    #[arg(long)]
    pub no_name: bool,
    #[arg(long, env = "REPRISE_PHONE", conflicts_with = "no_phone")]
    pub phone: Option<String>,
    /// Remove the phone.
    #[arg(long)]
    pub no_phone: bool,
    /// Administrator or not.
    #[arg(long, value_name = "true|false")]
    pub admin: Option<bool>,
    /// Enabled or disabled.
    #[arg(long, value_name = "true|false")]
    pub enabled: Option<bool>,
}

#[derive(Args, Debug)]
pub struct UserPasswdArgs {
    /// `login@domain`, an email, or a login that exists in one domain.
    pub user: String,
    /// Read the password from the first line of standard input.
    #[arg(long, required = true)]
    pub password_stdin: bool,
}

#[derive(Args, Debug)]
pub struct InDomainListArgs {
    /// Only this domain.
    #[arg(long, env = "REPRISE_DOMAIN")]
    pub domain: Option<String>,
    #[arg(long, env = "REPRISE_JSON")]
    pub json: bool,
    #[command(flatten)]
    pub page: PageArgs,
}

#[derive(Args, Debug)]
pub struct EntryArgs {
    /// `name@domain`.
    pub name: String,
}

#[derive(Subcommand, Debug)]
pub enum GroupCommand {
    /// Create a group.
    Add(GroupAddArgs),
    /// List groups.
    List(InDomainListArgs),
    /// Show a group with its direct members and the groups it is in.
    Show(ShowArgs),
    /// Change a group's display name or email.
    Update(GroupUpdateArgs),
    /// Delete a group (its memberships go with it).
    Delete(EntryArgs),
    /// Add a user or a group of the same domain to a group.
    AddMember(MemberArgs),
    /// Remove a member from a group.
    RemoveMember(MemberArgs),
}

#[derive(Args, Debug)]
pub struct GroupAddArgs {
    /// `name@domain`, or a name with --domain. Lowercase letters, digits,
    /// `.`, `_`, `-`.
    pub name: String,
    #[arg(long, env = "REPRISE_DOMAIN")]
    pub domain: Option<String>,
    /// Display name.
    #[arg(long, env = "REPRISE_NAME")]
    pub display_name: Option<String>,
    #[arg(long, env = "REPRISE_EMAIL")]
    pub email: Option<String>,
}

#[derive(Args, Debug)]
pub struct GroupUpdateArgs {
    /// `name@domain`.
    pub name: String,
    /// Display name.
    #[arg(long, env = "REPRISE_NAME", conflicts_with = "no_display_name")]
    pub display_name: Option<String>,
    #[arg(long)]
    pub no_display_name: bool,
    #[arg(long, env = "REPRISE_EMAIL", conflicts_with = "no_email")]
    pub email: Option<String>,
    #[arg(long)]
    pub no_email: bool,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("member").required(true).args(["user", "group"])))]
pub struct MemberArgs {
    /// The group, `name@domain`.
    #[arg(value_name = "GROUP")]
    pub name: String,
    /// A user of the group's domain, by login.
    #[arg(long)]
    pub user: Option<String>,
    /// A group of the same domain, by name (nesting).
    #[arg(long)]
    pub group: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum ShareCommand {
    /// Show who a calendar or an address book is shared with.
    List(ShareListArgs),
    /// Grant read or read-write on a calendar or an address book to a
    /// user or a group of the owner's domain, or change a grant's access.
    Grant(ShareGrantArgs),
    /// Withdraw a grant.
    Revoke(ShareRevokeArgs),
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("collection").required(true).args(["calendar", "address_book"])))]
pub struct SharedCollectionArgs {
    /// The owner, `login@domain`.
    pub owner: String,
    /// The owner's calendar, by its name in the calendar home.
    #[arg(long)]
    pub calendar: Option<String>,
    /// The owner's address book, by its name in the address-book home.
    #[arg(long)]
    pub address_book: Option<String>,
}

#[derive(Args, Debug)]
pub struct ShareListArgs {
    #[command(flatten)]
    pub collection: SharedCollectionArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum AccessArg {
    Read,
    ReadWrite,
}

#[derive(Args, Debug)]
pub struct ShareGrantArgs {
    #[command(flatten)]
    pub collection: SharedCollectionArgs,
    /// The sharee: `login@domain`, an email, `user:login@domain` or
    /// `group:name@domain`.
    #[arg(long)]
    pub to: String,
    #[arg(long, value_enum, default_value = "read")]
    pub access: AccessArg,
}

#[derive(Args, Debug)]
pub struct ShareRevokeArgs {
    #[command(flatten)]
    pub collection: SharedCollectionArgs,
    /// The sharee, named as for `grant`.
    #[arg(long)]
    pub to: String,
}

#[derive(Subcommand, Debug)]
pub enum ResourceCommand {
    /// Create a room or a piece of equipment.
    Add(ResourceAddArgs),
    /// List resources.
    List(InDomainListArgs),
    /// Show a resource.
    Show(ShowArgs),
    /// Change a resource's display name, email, capacity or location.
    Update(ResourceUpdateArgs),
    /// Delete a resource.
    Delete(EntryArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum KindArg {
    Room,
    Equipment,
}

#[derive(Args, Debug)]
pub struct ResourceAddArgs {
    /// `name@domain`, or a name with --domain.
    pub name: String,
    #[arg(long, env = "REPRISE_DOMAIN")]
    pub domain: Option<String>,
    #[arg(long, value_enum, env = "REPRISE_KIND")]
    pub kind: KindArg,
    /// Display name.
    #[arg(long, env = "REPRISE_NAME")]
    pub display_name: Option<String>,
    #[arg(long, env = "REPRISE_EMAIL")]
    pub email: Option<String>,
    /// How many people a room holds.
    #[arg(long, env = "REPRISE_CAPACITY")]
    pub capacity: Option<u32>,
    /// Where it is, e.g. "Floor 3, wing B".
    #[arg(long, env = "REPRISE_LOCATION")]
    pub location: Option<String>,
}

#[derive(Args, Debug)]
pub struct ResourceUpdateArgs {
    /// `name@domain`.
    pub name: String,
    /// Display name.
    #[arg(long, env = "REPRISE_NAME", conflicts_with = "no_display_name")]
    pub display_name: Option<String>,
    #[arg(long)]
    pub no_display_name: bool,
    #[arg(long, env = "REPRISE_EMAIL", conflicts_with = "no_email")]
    pub email: Option<String>,
    #[arg(long)]
    pub no_email: bool,
    #[arg(long, env = "REPRISE_CAPACITY", conflicts_with = "no_capacity")]
    pub capacity: Option<u32>,
    #[arg(long)]
    pub no_capacity: bool,
    #[arg(long, env = "REPRISE_LOCATION", conflicts_with = "no_location")]
    pub location: Option<String>,
    #[arg(long)]
    pub no_location: bool,
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
    /// Users of the synthetic installation, all set up at the start of the
    /// log (about five events each) in up to 20 domains, with groups and
    /// shares (default: one user per 500 events, joining over time, in up
    /// to 8 domains, as logs written before this option).
    #[arg(
        long,
        env = "REPRISE_BENCH_USERS",
        value_parser = clap::value_parser!(u64).range(1..=crate::bench::synthetic::MAX_USERS)
    )]
    pub users: Option<u64>,
    /// Seed of the generator (same seed, same log).
    #[arg(long, env = "REPRISE_BENCH_SEED", default_value_t = 42)]
    pub seed: u64,
    /// Events per rebuild batch.
    #[arg(long, env = "REPRISE_BATCH_SIZE", default_value_t = 2000)]
    pub batch_size: usize,
    /// Where to put the benchmark's log and views (default: a temporary directory).
    #[arg(long, env = "REPRISE_BENCH_DIR")]
    pub dir: Option<PathBuf>,
    /// Threads per projection, as `rebuild --workers` (default: the cores).
    #[arg(long, env = "REPRISE_WORKERS")]
    pub workers: Option<usize>,
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
            Command::Serve(args) => crate::http::run(&log, args).await,
            Command::Rebuild(cmd) => crate::ops::recovery::rebuild(&log, cmd).await,
            Command::Projections(cmd) => crate::ops::projections::run(&log, cmd).await,
            Command::Log(LogCommand::Tail(args)) => crate::ops::log::tail(&log, args).await,
            Command::Log(LogCommand::Stats(args)) => crate::ops::log::stats(&log, args).await,
            Command::Domain(cmd) => crate::cli::directory::domain(&log, cmd).await,
            Command::User(cmd) => crate::cli::directory::user(&log, cmd).await,
            Command::Group(cmd) => crate::cli::directory::group(&log, cmd).await,
            Command::Resource(cmd) => crate::cli::directory::resource(&log, cmd).await,
            Command::Share(cmd) => crate::cli::directory::share(&log, cmd).await,
            Command::Import(cmd) => crate::ops::import::run(&log, cmd).await,
            Command::Clone(args) => crate::ops::recovery::clone(&log, args).await,
            Command::Snapshot(cmd) => crate::ops::snapshot::run(&log, cmd).await,
            Command::Export(args) => crate::ops::export::run(&log, args).await,
            Command::DataDir(DataDirCommand::Convert(args)) => {
                crate::ops::convert::run(&log, args).await
            }
            Command::Bench(BenchCommand::Rebuild(args)) => crate::bench::rebuild(&log, args).await,
            Command::Proxy(args) => crate::cluster::proxy::run(args).await,
            Command::Switch(args) => crate::cluster::proxy::switch(args).await,
        }
    })
}
