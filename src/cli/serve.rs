//! Arguments of `reprise serve`.

use clap::Args;

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
