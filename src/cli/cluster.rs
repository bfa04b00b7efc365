//! `reprise proxy` and `reprise switch`: flags to options, and the
//! switch's report printed.

use super::serve::shutdown_signal;
use crate::cluster::proxy::{self, ProxyOptions};
use crate::cluster::switch::{self, SwitchOptions};
use clap::Args;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct ProxyArgs {
    /// Address clients connect to.
    #[arg(long, env = "REPRISE_PROXY_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: String,
    #[command(flatten)]
    pub connection: super::connection::ConnectionArgs,
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
    /// Where Prometheus scrapes the proxy's `/metrics`, or `off`.
    #[arg(
        long,
        env = "REPRISE_PROXY_METRICS_LISTEN",
        default_value = crate::telemetry::DEFAULT_PROXY_LISTEN
    )]
    pub metrics_listen: String,
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

pub async fn run_proxy(args: ProxyArgs) -> anyhow::Result<ExitCode> {
    let options = ProxyOptions {
        listen: args.listen,
        limits: args.connection.limits()?,
        tls: args.connection.tls()?,
        backends: args.backends,
        admin: args.admin,
        active: args.active,
        cluster_token: args.cluster_token,
        drain_timeout: Duration::from_secs(args.drain_timeout),
        metrics_listen: args.metrics_listen,
    };
    proxy::run(options, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// `reprise switch --proxy URL --to NAME`.
pub async fn run_switch(args: SwitchArgs) -> anyhow::Result<ExitCode> {
    let json = args.json;
    let report = switch::switch(SwitchOptions {
        proxy: args.proxy,
        to: args.to,
        cluster_token: args.cluster_token,
    })
    .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "switched {} -> {} at epoch {} (fence appended by {}): held {} request(s), longest hold \
             {:.1} ms; drain {} ms, hand-over {} ms, take-over {} ms, total {} ms",
            report.from,
            report.to,
            report.epoch,
            report.fenced_by,
            report.held_requests,
            report.longest_hold_ms,
            report.drain_ms,
            report.hand_over_ms,
            report.take_over_ms,
            report.total_ms
        );
        if let Some(e) = &report.hand_over_error {
            println!(
                "note: {} could not hand over ({e}); {} fenced it",
                report.from, report.to
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
