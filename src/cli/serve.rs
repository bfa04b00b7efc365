//! `reprise serve`: opens the engine, listens, leaves `serve.json` for the
//! commands sent with `--server`, and serves until a signal.

use super::LogArgs;
use crate::config::{random_token, write_serve_info, ServeInfo};
use crate::engine::imip::{Secret, SmtpSettings};
use crate::engine::{Engine, Identity, Versions};
use crate::http::dav::{LoginGuard, LoginLimits, QueryLimits};
use crate::http::{ServeOptions, Server};
use anyhow::Context;
use clap::Args;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "REPRISE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    #[command(flatten)]
    pub connection: super::connection::ConnectionArgs,
    /// Where Prometheus scrapes `/metrics` (a listener of its own, so that
    /// it can stay on loopback or a management network), or `off`.
    #[arg(
        long,
        env = "REPRISE_METRICS_LISTEN",
        default_value = crate::telemetry::DEFAULT_SERVE_LISTEN
    )]
    pub metrics_listen: String,
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
    /// Largest XML request body accepted, in bytes (PROPFIND, PROPPATCH,
    /// REPORT, MKCOL, MKCALENDAR, sharing POSTs), and largest free-busy
    /// request to the outbox; larger ones get 413 before being read.
    #[arg(long, env = "REPRISE_MAX_XML_SIZE", default_value_t = crate::http::dav::DEFAULT_MAX_XML_SIZE)]
    pub max_xml_size: u64,
    /// Largest vCard accepted, in bytes (413 `max-resource-size` beyond,
    /// and what address books report as their `max-resource-size`); at
    /// most --max-resource-size.
    #[arg(long, env = "REPRISE_MAX_VCARD_SIZE", default_value_t = crate::http::dav::DEFAULT_MAX_VCARD_SIZE)]
    pub max_vcard_size: u64,
    /// Most content lines (properties, BEGIN and END lines; a folded line
    /// counts once) in one calendar object or vCard a client stores (403
    /// beyond).
    #[arg(long, env = "REPRISE_MAX_OBJECT_LINES", default_value_t = formats::DEFAULT_MAX_CONTENT_LINES)]
    pub max_object_lines: usize,
    /// Most resources one calendar-multiget or addressbook-multiget names,
    /// and most sharees of one sharing POST (403
    /// `number-of-matches-within-limits` beyond).
    #[arg(long, env = "REPRISE_MAX_MULTIGET_HREFS", default_value_t = formats::xml::RequestLimits::DEFAULT.hrefs)]
    pub max_multiget_hrefs: usize,
    /// Most properties one PROPFIND, PROPPATCH, MKCOL or REPORT names (403
    /// beyond).
    #[arg(long, env = "REPRISE_MAX_REQUEST_PROPERTIES", default_value_t = formats::xml::RequestLimits::DEFAULT.properties)]
    pub max_request_properties: usize,
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
    /// Free space kept on the disks of the embedded log and the views
    /// (e.g. `64MiB`): below it, writes are refused with 507 (DAV) or 503
    /// (JSON APIs) before anything is written, `/readyz` says the disk is
    /// full, and writes resume by themselves once space is freed. `0`
    /// turns the check off.
    #[arg(
        long,
        env = "REPRISE_MIN_FREE_SPACE",
        value_name = "BYTES",
        default_value = "64MiB",
        value_parser = crate::config::parse_size
    )]
    pub min_free_space: u64,
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
    /// The SMTP relay that mail to calendar users outside the directory
    /// goes through (iMIP, RFC 6047): invitations and cancellations to
    /// outside attendees, answers to outside organizers. Without it they
    /// are sent nothing (SCHEDULE-STATUS 3.7).
    #[arg(long, env = "REPRISE_SMTP_RELAY", value_name = "HOST:PORT")]
    pub smtp_relay: Option<String>,
    /// Upgrade connections to the relay with STARTTLS (required: a relay
    /// that does not offer it is not sent to).
    #[arg(long, env = "REPRISE_SMTP_STARTTLS", requires = "smtp_relay")]
    pub smtp_starttls: bool,
    /// Log in to the relay as this user (SMTP AUTH); the password comes
    /// from --smtp-password-file or REPRISE_SMTP_PASSWORD.
    #[arg(long, env = "REPRISE_SMTP_USER", requires = "smtp_relay")]
    pub smtp_user: Option<String>,
    /// A file holding the relay password (its first line).
    #[arg(
        long,
        env = "REPRISE_SMTP_PASSWORD_FILE",
        value_name = "PATH",
        requires = "smtp_user"
    )]
    pub smtp_password_file: Option<std::path::PathBuf>,
    /// The relay password, from the environment only (a flag would show
    /// in the process list).
    #[arg(
        long = "smtp-password",
        env = "REPRISE_SMTP_PASSWORD",
        hide_env_values = true,
        hide = true,
        requires = "smtp_user",
        conflicts_with = "smtp_password_file"
    )]
    pub smtp_password: Option<Secret>,
    /// Attempts after the first at sending a mail the relay did not take
    /// (unreachable, or a temporary refusal); then the attendee's
    /// SCHEDULE-STATUS says 5.1.
    #[arg(long, env = "REPRISE_SMTP_RETRIES", default_value_t = 5)]
    pub smtp_retries: u32,
    /// Wait before the first retry, in milliseconds; each next one waits
    /// twice as long.
    #[arg(long, env = "REPRISE_SMTP_RETRY_DELAY_MS", default_value_t = 1000)]
    pub smtp_retry_delay_ms: u64,
    /// Failed logins for one account before it must wait: 1 s after the
    /// next failure, then twice as long after each one, up to
    /// --login-backoff-max. Meanwhile its logins get 429 with Retry-After
    /// and no password check; the user's devices already logged in keep
    /// working.
    #[arg(long, env = "REPRISE_LOGIN_FREE_FAILURES", default_value_t = LoginLimits::DEFAULT.account_free)]
    pub login_free_failures: u32,
    /// Failed logins from one client address (an IPv6 /64) before it must
    /// wait likewise, for any account; more than an account's, since
    /// users may share an address.
    #[arg(long, env = "REPRISE_LOGIN_FREE_FAILURES_PER_ADDRESS", default_value_t = LoginLimits::DEFAULT.address_free)]
    pub login_free_failures_per_address: u32,
    /// The longest wait after failed logins, in seconds (0: no waiting).
    #[arg(long, env = "REPRISE_LOGIN_BACKOFF_MAX", value_name = "SECONDS", default_value_t = LoginLimits::DEFAULT.max_wait.as_secs())]
    pub login_backoff_max: u64,
    /// Seconds without a failed login after which an account's or an
    /// address's failures are forgotten (at least --login-backoff-max); a
    /// successful login forgets them at once.
    #[arg(long, env = "REPRISE_LOGIN_FORGET_AFTER", value_name = "SECONDS", default_value_t = LoginLimits::DEFAULT.forget_after.as_secs())]
    pub login_forget_after: u64,
    /// Addresses of proxies (such as `reprise proxy`) whose
    /// X-Forwarded-For is believed, so that failed logins are counted
    /// under each client's address rather than the proxy's. Default:
    /// none, every peer is the client.
    #[arg(
        long,
        env = "REPRISE_TRUSTED_PROXY",
        value_name = "ADDR",
        value_delimiter = ','
    )]
    pub trusted_proxy: Vec<std::net::IpAddr>,
}

impl ServeArgs {
    fn login_guard(&self) -> LoginGuard {
        LoginGuard {
            limits: LoginLimits {
                account_free: self.login_free_failures,
                address_free: self.login_free_failures_per_address,
                max_wait: Duration::from_secs(self.login_backoff_max),
                forget_after: Duration::from_secs(self.login_forget_after),
                ..LoginLimits::DEFAULT
            },
            trusted_proxies: self.trusted_proxy.clone(),
        }
    }

    /// The relay settings, when a relay is given; the password read from
    /// its file or the environment.
    fn smtp(&self) -> anyhow::Result<Option<SmtpSettings>> {
        let Some(relay) = &self.smtp_relay else {
            return Ok(None);
        };
        let credentials = match &self.smtp_user {
            None => None,
            Some(user) => {
                let password = match (&self.smtp_password_file, &self.smtp_password) {
                    (Some(path), _) => {
                        let text = std::fs::read_to_string(path).with_context(|| {
                            format!("reading the SMTP password from {}", path.display())
                        })?;
                        Secret::new(text.lines().next().unwrap_or_default())
                    }
                    (None, Some(password)) => password.clone(),
                    (None, None) => Secret::new(""),
                };
                Some((user.clone(), password))
            }
        };
        let settings = SmtpSettings::new(relay, self.smtp_starttls, credentials)?.with_retries(
            self.smtp_retries,
            std::time::Duration::from_millis(self.smtp_retry_delay_ms),
        );
        settings.check().context("setting up the SMTP relay")?;
        Ok(Some(settings))
    }
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
    let smtp = opts.smtp()?;
    let limits = opts.connection.limits()?;
    let tls = opts.connection.tls()?;
    // Before the engine starts (which may take a while to catch up): a
    // taken port is one line at start.
    let metrics_listener = crate::telemetry::bind_unless_off(&opts.metrics_listen).await?;
    let config = args.config()?;
    // Before the engine starts: a store that is not there, or lets us in
    // nowhere, is one line at start rather than a failure at first upload.
    let objects = config
        .open_objects()?
        .observed(crate::telemetry::object_store_observer());
    objects.probe().await?;
    let mut engine = Engine::start_on(&config, &versions, objects.clone())
        .await?
        .with_identity(identity)
        .with_min_free_space(opts.min_free_space);
    if let Some(smtp) = smtp {
        tracing::info!(relay = %format!("{}:{}", smtp.host, smtp.port), starttls = smtp.starttls, user = ?smtp.credentials.as_ref().map(|(u, _)| u), "mail to outside attendees goes through the relay");
        engine = engine.with_smtp(smtp);
    }
    let listener = tokio::net::TcpListener::bind(&opts.listen)
        .await
        .with_context(|| format!("listening on {}", opts.listen))?;
    let listener = crate::net::Listener::new(listener, limits, tls);
    let url = format!("{}://{}", listener.scheme(), listener.local_addr()?);
    let token = random_token()?;
    let metrics_url = match &metrics_listener {
        Some(listener) => Some(format!("http://{}/metrics", listener.local_addr()?)),
        None => None,
    };
    let info = ServeInfo {
        pid: std::process::id(),
        url: url.clone(),
        token: token.clone(),
        metrics: metrics_url.clone(),
    };
    let serve_file = args.serve_file();
    write_serve_info(&serve_file, &info)?;
    tracing::info!(%url, metrics = metrics_url.as_deref().unwrap_or("off"), log = %engine.log.describe(), "serving");

    let options = ServeOptions {
        max_resource_size: opts.max_resource_size,
        max_attachment_size: opts.max_attachment_size,
        max_attachments_per_resource: opts.max_attachments_per_resource,
        max_attendees: opts.max_attendees,
        max_xml_size: opts.max_xml_size,
        max_vcard_size: opts.max_vcard_size,
        max_object_lines: opts.max_object_lines,
        request_limits: formats::xml::RequestLimits {
            hrefs: opts.max_multiget_hrefs,
            properties: opts.max_request_properties,
        },
        objects,
        query: QueryLimits {
            per_object: opts.max_instances,
            per_query: opts.max_query_instances,
            time: std::time::Duration::from_secs(opts.query_timeout),
        },
        token,
        cluster_token: opts.cluster_token.clone(),
        login: opts.login_guard(),
    };
    let server = Server::new(engine, options)?;
    let (stop_metrics, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
    let metrics = metrics_listener.map(|listener| {
        tokio::spawn(crate::telemetry::serve(listener, server.metrics(), async {
            let _ = metrics_stopped.await;
        }))
    });
    let result = server.serve(listener, shutdown_signal()).await;
    let _ = stop_metrics.send(());
    if let Some(metrics) = metrics {
        let _ = metrics.await;
    }
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
