//! The operator commands' part of the admin API, what `--server` sends:
//! projections status and digests, import, export, and the read-only log
//! (`log tail` and `log stats` through a server holding the embedded log).
//! The routes are spelled in the router (`crate::http::router`).

use crate::http::{ApiError, Shared};
use crate::ops::export::{export_user, ExportError};
use crate::ops::import::{ImportError, ImportKind};
use crate::ops::log::wire::{LogInfo, ReadRequest, ReadResponse, TopicInfo, MAX_READ, MAX_WAIT_MS};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use events::log::ReadStart;
use events::Domain;
use serde::Deserialize;

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::Invalid(m) => ApiError(StatusCode::BAD_REQUEST, m),
            ImportError::NotFound(m) => ApiError(StatusCode::NOT_FOUND, m),
            ImportError::Unavailable(e) => e.into(),
            ImportError::Store(e) => e.into(),
            ImportError::Objects(e) if e.is_unavailable() => {
                ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
            ImportError::Objects(e) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
}

/// `GET /admin/v1/projections/status`: the report, with what only the
/// running engine knows (lag in seconds, its role among installations).
pub(crate) async fn projection_status(State(state): State<Shared>) -> Result<Response, ApiError> {
    let engine = &state.engine;
    let mut report = crate::ops::projections::report(engine.log.as_ref(), &engine.store)
        .await
        .map_err(anyhow::Error::from)?;
    let cluster = engine.cluster_status().await;
    crate::ops::projections::add_running(
        &mut report,
        &engine.progress(),
        cluster,
        chrono::Utc::now().timestamp_millis(),
    );
    Ok(Json(report).into_response())
}

/// `GET /admin/v1/projections/digest`.
pub(crate) async fn projection_digest(State(state): State<Shared>) -> Result<Response, ApiError> {
    let digests =
        crate::ops::projections::digests(&state.engine.store).map_err(anyhow::Error::from)?;
    Ok(Json(digests).into_response())
}

#[derive(Deserialize)]
pub(crate) struct ImportQuery {
    owner: String,
    #[serde(default = "default_collection")]
    collection: String,
    source: Option<String>,
}

fn default_collection() -> String {
    crate::directory::users::DEFAULT_COLLECTION.to_string()
}

/// `POST /admin/v1/import/calendar`: an .ics file as the body.
pub(crate) async fn import_calendar(
    State(state): State<Shared>,
    Query(q): Query<ImportQuery>,
    body: String,
) -> Result<Response, ApiError> {
    import(state, ImportKind::Calendar, q, body).await
}

/// `POST /admin/v1/import/contacts`: a .vcf file as the body.
pub(crate) async fn import_contacts(
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

/// `GET /admin/v1/export/{user}`: the files as JSON.
pub(crate) async fn export(State(state): State<Shared>, Path(user): Path<String>) -> Response {
    let error = |status: StatusCode, message: String| {
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    };
    if !state.engine.ready() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the views are still catching up with the log".into(),
        );
    }
    let views = state.engine.views();
    match tokio::task::spawn_blocking(move || export_user(&views, &user)).await {
        Ok(Ok(export)) => Json(export).into_response(),
        Ok(Err(e @ ExportError::UnknownUser(_))) => error(StatusCode::NOT_FOUND, e.to_string()),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `GET /admin/v1/log`: what the log is and its topics.
pub(crate) async fn log_info(State(state): State<Shared>) -> Json<LogInfo> {
    let log = &state.engine.log;
    Json(LogInfo {
        describe: log.describe(),
        topics: TopicInfo::all(log.as_ref()),
    })
}

#[derive(Deserialize)]
pub(crate) struct EndQuery {
    domain: Domain,
}

/// `GET /admin/v1/log/end?domain=D`: the end offset of each partition.
pub(crate) async fn log_end(
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

/// `POST /admin/v1/log/read`: one poll of a reader opened at the given
/// positions; stateless, so a client tails by sending the positions after
/// what it has seen.
pub(crate) async fn log_read(
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
