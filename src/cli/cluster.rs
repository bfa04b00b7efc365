//! Arguments of `reprise proxy` and `reprise switch`.

use clap::Args;

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
