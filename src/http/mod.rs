//! `reprise serve`: the engine plus HTTP: WebDAV/CalDAV/CardDAV (see
//! [`crate::http::dav`]) for clients, the mail seen-flags API ([`crate::http::mail`]),
//! health and readiness probes, and the admin API the command line uses
//! through `--server` (the directory's part in [`admin`]).

mod admin;
pub mod dav;
pub mod mail;

use crate::cli::LogArgs;
use crate::cli::ServeArgs;
use crate::config::{write_serve_info, ServeInfo};
use crate::engine::{Engine, SubmitError};
use crate::http::dav::Dav;
use crate::ops::import::{ImportError, ImportKind};
use crate::ops::log::wire::{LogInfo, ReadRequest, ReadResponse, TopicInfo, MAX_READ, MAX_WAIT_MS};
use anyhow::Context;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use events::log::ReadStart;
use events::Domain;
use serde::Deserialize;
use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

pub(crate) struct AppState {
    pub(crate) engine: Engine,
    pub(crate) dav: Dav,
    token: String,
    /// Admits the proxy to `/admin/v1/cluster` (`--cluster-token`).
    cluster_token: Option<String>,
}

pub(crate) type Shared = Arc<AppState>;

/// An API error: a status and a message, as `{"error": "..."}`.
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response();
        if self.0 == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("2"));
        }
        response
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
    }
}

impl From<projections::StoreError> for ApiError {
    fn from(e: projections::StoreError) -> Self {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))
    }
}

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::Invalid(m) => ApiError(StatusCode::BAD_REQUEST, m),
            ImportError::NotFound(m) => ApiError(StatusCode::NOT_FOUND, m),
            ImportError::Unavailable(e) => e.into(),
            ImportError::Store(e) => e.into(),
        }
    }
}

pub async fn run(args: &LogArgs, opts: ServeArgs) -> anyhow::Result<ExitCode> {
    if args.server.is_some() {
        anyhow::bail!("--server is for commands sent to a server; `serve` runs one");
    }
    let versions = crate::engine::Versions {
        keep_old: opts.keep_old,
        build_rate: opts.build_rate,
        ..Default::default()
    };
    let identity = crate::engine::Identity {
        installation: opts.installation.clone(),
        standby: opts.standby,
    };
    let engine = Engine::start_versions(&args.config()?, &versions)
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

    let query = crate::http::dav::QueryLimits {
        per_object: opts.max_instances,
        per_query: opts.max_query_instances,
        time: std::time::Duration::from_secs(opts.query_timeout),
    };
    let dav = Dav::new(opts.max_resource_size, query)?;
    let state = Arc::new(AppState {
        engine,
        dav,
        token,
        cluster_token: opts.cluster_token.clone(),
    });
    let result = axum::serve(listener, router(state.clone()))
        .with_graceful_shutdown(shutdown_signal())
        .await;
    let _ = std::fs::remove_file(&serve_file);
    result.context("serving HTTP")?;
    match Arc::try_unwrap(state) {
        Ok(state) => state.engine.shutdown()?,
        Err(_) => tracing::warn!("requests still running at shutdown"),
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

fn router(state: Shared) -> Router {
    let admin = Router::new()
        .route("/projections/status", get(projection_status))
        .route("/projections/digest", get(projection_digest))
        .route("/snapshot", post(admin::snapshot::create_snapshot))
        .route("/export/{user}", get(crate::ops::export::http_export))
        .merge(admin::directory::routes())
        .route("/import/calendar", post(import_calendar))
        .route("/import/contacts", post(import_contacts))
        .route("/log", get(log_info))
        .route("/log/end", get(log_end))
        .route("/log/read", post(log_read))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_admin))
        .nest("/cluster", admin::cluster::routes(state.clone()));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .nest("/admin/v1", admin)
        .nest("/api/v1/mail", crate::http::mail::router())
        .fallback(dav)
        .with_state(state)
}

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

fn random_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Who sent a request to one of the JSON APIs.
pub(crate) enum Caller {
    /// The holder of the local admin token (`serve.json`).
    Token,
    User(projections::directory::UserRecord),
}

/// Identifies the caller by the local admin token (`Bearer`) or Basic
/// credentials; `DavError::Unauthorized` when neither is right.
pub(crate) async fn identify(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Caller, crate::http::dav::DavError> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Some(token) = auth.and_then(|a| a.strip_prefix("Bearer ")) {
        return if constant_time_eq(token.as_bytes(), state.token.as_bytes()) {
            Ok(Caller::Token)
        } else {
            Err(crate::http::dav::DavError::Unauthorized)
        };
    }
    state
        .dav
        .authenticate(&state.engine, auth)
        .await
        .map(Caller::User)
}

/// Admits the local admin token (from `serve.json`) or an enabled admin
/// user's Basic credentials.
pub(crate) async fn require_admin(
    State(state): State<Shared>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let unauthorized = || {
        (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                "Basic realm=\"reprise admin\", charset=\"UTF-8\"",
            )],
            Json(serde_json::json!({"error": "admin credentials required"})),
        )
            .into_response()
    };
    let admitted = match identify(&state, &headers).await {
        Ok(Caller::Token) => true,
        Ok(Caller::User(user)) if user.admin => true,
        // Known, but not allowed: other credentials would not help.
        Ok(Caller::User(_)) => {
            return ApiError(
                StatusCode::FORBIDDEN,
                "this needs an administrator".to_string(),
            )
            .into_response()
        }
        Err(crate::http::dav::DavError::Unauthorized) => false,
        // A disabled admin, or the directory unreadable: JSON like every
        // other answer of this API.
        Err(crate::http::dav::DavError::Status(status, message)) => {
            return ApiError(status, message).into_response()
        }
        Err(crate::http::dav::DavError::Unavailable(message)) => {
            return ApiError(StatusCode::SERVICE_UNAVAILABLE, message).into_response()
        }
        Err(e) => return e.into_response(),
    };
    if admitted {
        next.run(request).await
    } else {
        unauthorized()
    }
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn dav(State(state): State<Shared>, request: Request) -> Response {
    state.dav.handle(&state.engine, request).await
}

async fn readyz(State(state): State<Shared>) -> Response {
    if let Some(stopped) = state.engine.stopped() {
        (StatusCode::SERVICE_UNAVAILABLE, format!("{stopped}\n")).into_response()
    } else if state.engine.ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "catching up with the log\n",
        )
            .into_response()
    }
}

async fn projection_status(State(state): State<Shared>) -> Result<Response, ApiError> {
    let engine = &state.engine;
    let mut report = crate::ops::projections::report(engine.log.as_ref(), &engine.store).await?;
    let cluster = engine.cluster_status().await;
    crate::ops::projections::add_running(
        &mut report,
        &engine.progress(),
        cluster,
        chrono::Utc::now().timestamp_millis(),
    );
    Ok(Json(report).into_response())
}

async fn projection_digest(State(state): State<Shared>) -> Result<Response, ApiError> {
    Ok(Json(crate::ops::projections::digests(&state.engine.store)?).into_response())
}

#[derive(Deserialize)]
struct ImportQuery {
    owner: String,
    #[serde(default = "default_collection")]
    collection: String,
    source: Option<String>,
}

fn default_collection() -> String {
    crate::directory::users::DEFAULT_COLLECTION.to_string()
}

async fn import_calendar(
    State(state): State<Shared>,
    Query(q): Query<ImportQuery>,
    body: String,
) -> Result<Response, ApiError> {
    import(state, ImportKind::Calendar, q, body).await
}

async fn import_contacts(
    State(state): State<Shared>,
    Query(q): Query<ImportQuery>,
    body: String,
) -> Result<Response, ApiError> {
    import(state, ImportKind::Contacts, q, body).await
}

async fn import(
    state: Shared,
    kind: ImportKind,
    q: ImportQuery,
    body: String,
) -> Result<Response, ApiError> {
    let source = q.source.unwrap_or_else(|| "request body".into());
    let items = crate::ops::import::parse(kind, &body, &source)?;
    let report = crate::ops::import::import(
        &state.engine,
        kind,
        &q.owner,
        &q.collection,
        items,
        "admin:import",
    )
    .await?;
    Ok(Json(report).into_response())
}

async fn log_info(State(state): State<Shared>) -> Json<LogInfo> {
    let log = &state.engine.log;
    Json(LogInfo {
        describe: log.describe(),
        topics: TopicInfo::all(log.as_ref()),
    })
}

#[derive(Deserialize)]
struct EndQuery {
    domain: Domain,
}

async fn log_end(
    State(state): State<Shared>,
    Query(q): Query<EndQuery>,
) -> Result<Json<Vec<u64>>, ApiError> {
    let ends = state
        .engine
        .log
        .end_offsets(q.domain)
        .await
        .map_err(|e| ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    Ok(Json(ends))
}

/// One poll of a reader opened at the given positions: stateless, so a
/// client tails by sending the positions after what it has seen.
async fn log_read(
    State(state): State<Shared>,
    Json(req): Json<ReadRequest>,
) -> Result<Json<ReadResponse>, ApiError> {
    let starts: Vec<ReadStart> = req.starts.into_iter().map(ReadStart::from).collect();
    let max = req.max.clamp(1, MAX_READ);
    let wait = std::time::Duration::from_millis(req.timeout_ms.min(MAX_WAIT_MS));
    let log = state.engine.log.clone();
    let batch = tokio::task::spawn_blocking(move || log.reader(&starts)?.poll(max, wait))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.to_string()))?;
    Ok(Json(ReadResponse::from(batch)))
}
