//! `POST /admin/v1/snapshot` `{"to": "/abs/path"}`: writes a snapshot on
//! the server's machine while the served views stand still between two
//! batches (writers wait meanwhile).

use crate::http::openapi::Gate;
use crate::http::{ApiError, ErrorBody, Shared};
use crate::ops::snapshot::{create, CreateRequest, Created, SnapshotError};
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

#[utoipa::path(post, path = "/admin/v1/snapshot", tag = "operations", request_body = CreateRequest, responses(
    (status = 201, description = "The snapshot is written", body = Created),
    (status = 400, description = "Bad JSON, a relative path, or a file that cannot be written there", body = ErrorBody),
    (status = 409, description = "The file exists", body = ErrorBody),
    Gate,
))]
pub(crate) async fn create_snapshot(
    State(state): State<Shared>,
    body: Result<Json<CreateRequest>, JsonRejection>,
) -> Response {
    let error = |status: StatusCode, message: String| ApiError(status, message).into_response();
    let request = match body {
        Ok(Json(r)) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    if !request.to.is_absolute() {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "\"to\" must be an absolute path on the server's machine, not {}",
                request.to.display()
            ),
        );
    }
    if !state.engine.ready() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the views are still catching up with the log; snapshot once /readyz is 200".into(),
        );
    }
    let log = state.engine.log.clone();
    let held = state.clone();
    let result = create(log, &request.to, move |write| {
        held.engine.with_views_still(|store, ids| write(store, ids))
    })
    .await;
    match result {
        Ok(created) => (StatusCode::CREATED, Json(created)).into_response(),
        Err(e @ SnapshotError::Exists(_)) => error(StatusCode::CONFLICT, e.to_string()),
        Err(e @ SnapshotError::Refused(_)) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        Err(e @ SnapshotError::Io { .. }) => error(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
