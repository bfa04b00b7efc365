//! The cluster part of the admin API (`/admin/v1/cluster`): this
//! installation's role among those sharing the log, and the two halves of
//! a cutover the proxy drives (`reprise switch`): the leader hands over
//! (stops writing, appends the fence), the next one takes over (applies up
//! to the fence, then writes). Admits admins, and the shared
//! `--cluster-token` the proxy presents.

use crate::engine::{ClusterStatus, HandOver, LeadershipError, TakeOver, TakeOverRequest};
use crate::http::{require_admin, ApiError, Shared};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

impl From<LeadershipError> for ApiError {
    fn from(e: LeadershipError) -> Self {
        let status = match e {
            LeadershipError::NotLeader { .. } | LeadershipError::NotNamed { .. } => {
                StatusCode::CONFLICT
            }
            LeadershipError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError(status, e.to_string())
    }
}

pub(crate) fn routes(state: Shared) -> Router<Shared> {
    Router::new()
        .route("/", get(status))
        .route("/hand-over", post(hand_over))
        .route("/take-over", post(take_over))
        .route("/switch-report", post(crate::http::console::switch_report))
        .route_layer(middleware::from_fn_with_state(state, require_cluster))
}

/// The cluster token, or else an admin.
async fn require_cluster(
    State(state): State<Shared>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.strip_prefix("Bearer "));
    if let (Some(token), Some(expected)) = (presented, state.cluster_token.as_deref()) {
        if crate::config::constant_time_eq(token.as_bytes(), expected.as_bytes()) {
            return next.run(request).await;
        }
    }
    require_admin(State(state), headers, request, next).await
}

async fn status(State(state): State<Shared>) -> Json<ClusterStatus> {
    Json(state.engine.cluster_status().await)
}

#[derive(Debug, Deserialize)]
struct HandOverRequest {
    to: String,
}

async fn hand_over(
    State(state): State<Shared>,
    Json(request): Json<HandOverRequest>,
) -> Result<Json<HandOver>, ApiError> {
    if request.to.trim().is_empty() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "\"to\" must name the installation that takes over".into(),
        ));
    }
    Ok(Json(state.engine.hand_over(&request.to).await?))
}

async fn take_over(
    State(state): State<Shared>,
    Json(request): Json<TakeOverRequest>,
) -> Result<Json<TakeOver>, ApiError> {
    Ok(Json(state.engine.take_over(request).await?))
}
