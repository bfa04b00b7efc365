//! `reprise serve`: opens the engine, listens, leaves `serve.json` for the
//! commands sent with `--server`, and serves until a signal.

use super::LogArgs;
use crate::config::{random_token, write_serve_info, ServeInfo};
use crate::engine::{Engine, Identity, Versions};
use crate::http::dav::QueryLimits;
use crate::http::{ServeOptions, Server};
use anyhow::Context;
use clap::Args;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "REPRISE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Largest request body accepted, in bytes: calendar objects, vCards,
    /// files and XML bodies (larger ones get 413 before being read). On
    /// Kafka, calendar objects and vCards are also capped to what a record
    /// holds; files go to the object store and are not.
    #[arg(long, env = "REPRISE_MAX_RESOURCE_SIZE", default_value_t = crate::http::dav::DEFAULT_MAX_RESOURCE_SIZE)]
    pub max_resource_size: u64,
    /// Largest managed attachment (RFC 8607) a client may add to a
    /// calendar object, in bytes (413 with `max-attachment-size` beyond).
    #[arg(long, env = "REPRISE_MAX_ATTACHMENT_SIZE", default_value_t = crate::http::dav::DEFAULT_MAX_ATTACHMENT_SIZE)]
    pub max_attachment_size: u64,
    /// Most managed attachments on one calendar object (403 with
    /// `max-attachments-per-resource` beyond).
    #[arg(
        long,
        env = "REPRISE_MAX_ATTACHMENTS_PER_RESOURCE",
        default_value_t = 20
    )]
    pub max_attachments_per_resource: usize,
    /// Most attendees of one scheduling object (a meeting); a PUT with
    /// more gets 403 `max-attendees-per-instance`.
    #[arg(
        long,
        env = "REPRISE_MAX_ATTENDEES",
        default_value_t = crate::http::dav::DEFAULT_MAX_ATTENDEES
    )]
    pub max_attendees: usize,
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

pub async fn run(args: &LogArgs, opts: ServeArgs) -> anyhow::Result<ExitCode> {
    if args.server.is_some() {
        anyhow::bail!("--server is for commands sent to a server; `serve` runs one");
    }
    let versions = Versions {
        keep_old: opts.keep_old,
        build_rate: opts.build_rate,
        ..Default::default()
    };
    let identity = Identity {
        installation: opts.installation.clone(),
        standby: opts.standby,
    };
    let config = args.config()?;
    // Before the engine starts: a store that is not there, or lets us in
    // nowhere, is one line at start rather than a failure at first upload.
    let objects = config.open_objects()?;
    objects.probe().await?;
    let engine = Engine::start_on(&config, &versions, objects.clone())
        .await?
        .with_identity(identity);
    let listener = tokio::net::TcpListener::bind(&opts.listen)
        .await
        .with_context(|| format!("listening on {}", opts.listen))?;
    let url = format!("http://{}", listener.local_addr()?);
    let token = random_token()?;
    let info = ServeInfo {
        pid: std::process::id(),
        url: url.clone(),
        token: token.clone(),
    };
    let serve_file = args.serve_file();
    write_serve_info(&serve_file, &info)?;
    tracing::info!(%url, log = %engine.log.describe(), "serving");

    let options = ServeOptions {
        max_resource_size: opts.max_resource_size,
        max_attachment_size: opts.max_attachment_size,
        max_attachments_per_resource: opts.max_attachments_per_resource,
        max_attendees: opts.max_attendees,
        objects,
        query: QueryLimits {
            per_object: opts.max_instances,
            per_query: opts.max_query_instances,
            time: std::time::Duration::from_secs(opts.query_timeout),
        },
        token,
        cluster_token: opts.cluster_token.clone(),
    };
    let server = Server::new(engine, options)?;
    let result = server.serve(listener, shutdown_signal()).await;
    let _ = std::fs::remove_file(&serve_file);
    result.context("serving HTTP")?;
    match server.into_engine() {
        Some(engine) => engine.shutdown()?,
        None => tracing::warn!("requests still running at shutdown"),
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Completes at Ctrl-C or SIGTERM: a server's and the proxy's cue to stop
/// taking requests and finish the ones under way.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
