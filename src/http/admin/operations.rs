//! The operator commands' part of the admin API, what `--server` sends:
//! projections status and digests, import, export, and the read-only log
//! (`log tail` and `log stats` through a server holding the embedded log).
//! The routes are spelled in the router (`crate::http::router`).

use crate::http::admin::directory::Body;
use crate::http::openapi::Gate;
use crate::http::{ApiError, ErrorBody, Shared};
use crate::ops::export::{export_user, Export, ExportError};
use crate::ops::import::{ImportError, ImportKind, ImportReport};
use crate::ops::log::wire::{LogInfo, ReadRequest, ReadResponse, TopicInfo, MAX_READ, MAX_WAIT_MS};
use crate::ops::projections::{DigestEntry, StatusReport};
use axum::extract::rejection::{PathRejection, QueryRejection, StringRejection};
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

/// A query string refused as a 400 `{"error": ...}` like every other.
impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError(StatusCode::BAD_REQUEST, e.body_text())
    }
}

/// A text body refused (not UTF-8: 400, too large: 413), as JSON.
impl From<StringRejection> for ApiError {
    fn from(e: StringRejection) -> Self {
        ApiError(e.status(), e.body_text())
    }
}

/// `GET /admin/v1/projections/status`: the report, with what only the
/// running engine knows (lag in seconds, its role among installations).
#[utoipa::path(get, path = "/admin/v1/projections/status", tag = "operations", responses(
    (status = 200, description = "Every projection version: positions, lag, quarantine", body = StatusReport),
    Gate,
))]
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
#[utoipa::path(get, path = "/admin/v1/projections/digest", tag = "operations", responses(
    (status = 200, description = "A digest of every projection version's view", body = Vec<DigestEntry>),
    Gate,
))]
pub(crate) async fn projection_digest(State(state): State<Shared>) -> Result<Response, ApiError> {
    let digests =
        crate::ops::projections::digests(&state.engine.store).map_err(anyhow::Error::from)?;
    Ok(Json(digests).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ImportQuery {
    /// The user whose collection receives the objects.
    #[param(example = "alice@example.com")]
    owner: String,
    /// The calendar or address book, created when absent.
    #[serde(default = "default_collection")]
    #[param(default = "default")]
    collection: String,
    /// What the file is called in error messages.
    source: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct ImportPath {
    /// What the body holds.
    #[param(inline, example = "calendar")]
    kind: ImportKind,
}

fn default_collection() -> String {
    crate::directory::users::DEFAULT_COLLECTION.to_string()
}

/// `POST /admin/v1/import/{kind}`: an .ics file (`calendar`) or a .vcf
/// file (`contacts`) as the body.
#[utoipa::path(post, path = "/admin/v1/import/{kind}", tag = "operations", params(ImportPath, ImportQuery),
    request_body(
        content = String,
        content_type = "text/plain",
        description = "An iCalendar file (.ics) for `calendar`, a vCard file (.vcf) for `contacts`",
        example = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//example//EN\r\nBEGIN:VEVENT\r\nUID:imported-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T090000Z\r\nSUMMARY:Imported\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ),
    responses(
        (status = 200, description = "What was applied, and why anything was rejected", body = ImportReport),
        (status = 400, description = "A bad query, a body that is not UTF-8 or not of the kind", body = ErrorBody),
        (status = 404, description = "No such kind or owner", body = ErrorBody),
        (status = 413, description = "A body over the request limit", body = ErrorBody),
        Gate,
))]
pub(crate) async fn import(
    State(state): State<Shared>,
    kind: Result<Path<ImportPath>, PathRejection>,
    query: Result<Query<ImportQuery>, QueryRejection>,
    body: Result<String, StringRejection>,
) -> Result<Response, ApiError> {
    let Path(ImportPath { kind }) = kind.map_err(|_| {
        ApiError(
            StatusCode::NOT_FOUND,
            "no such import: calendar or contacts".into(),
        )
    })?;
    let (Query(q), body) = (query?, body?);
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
#[utoipa::path(get, path = "/admin/v1/export/{user}", tag = "operations", params(("user" = String, Path, description = "`login@domain`, an email, or a login that exists in one domain", example = "alice@example.com")), responses(
    (status = 200, description = "The user's own calendars and address books, one file each", body = Export),
    (status = 404, description = "No such user", body = ErrorBody),
    Gate,
))]
pub(crate) async fn export(State(state): State<Shared>, Path(user): Path<String>) -> Response {
    let error = |status: StatusCode, message: String| ApiError(status, message).into_response();
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
#[utoipa::path(get, path = "/admin/v1/log", tag = "operations", responses(
    (status = 200, description = "What the log is, and its topics", body = LogInfo),
    Gate,
))]
pub(crate) async fn log_info(State(state): State<Shared>) -> Json<LogInfo> {
    let log = &state.engine.log;
    Json(LogInfo {
        describe: log.describe(),
        topics: TopicInfo::all(log.as_ref()),
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EndQuery {
    /// The topic, by the kind of data it carries.
    #[param(value_type = crate::ops::log::wire::DomainSchema, example = "directory")]
    domain: Domain,
}

/// `GET /admin/v1/log/end?domain=D`: the end offset of each partition.
#[utoipa::path(get, path = "/admin/v1/log/end", tag = "operations", params(EndQuery), responses(
    (status = 200, description = "The end offset of each partition, by partition", body = Vec<u64>),
    (status = 400, description = "No domain, or an unknown one", body = ErrorBody),
    Gate,
))]
pub(crate) async fn log_end(
    State(state): State<Shared>,
    query: Result<Query<EndQuery>, QueryRejection>,
) -> Result<Json<Vec<u64>>, ApiError> {
    let Query(q) = query?;
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
#[utoipa::path(post, path = "/admin/v1/log/read", tag = "operations", request_body = ReadRequest, responses(
    (status = 200, description = "At most `max` records (up to 5000) from the given positions, after waiting up to `timeout_ms` (at most 5000) for one", body = ReadResponse),
    (status = 400, description = "Bad JSON, or a position the log does not have", body = ErrorBody),
    Gate,
))]
pub(crate) async fn log_read(
    State(state): State<Shared>,
    Body(req): Body<ReadRequest>,
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
