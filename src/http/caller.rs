//! Who sent a request to one of the JSON APIs, and the admin gate of
//! `/admin/v1`.

use crate::config::constant_time_eq;
use crate::http::dav::{retry_after, throttled_message, DavError};
use crate::http::peer::client_address;
use crate::http::{ApiError, AppState, ErrorBody, Shared};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::net::IpAddr;
use std::time::Duration;

/// Who sent a request to one of the JSON APIs.
pub(crate) enum Caller {
    /// The holder of the local admin token (`serve.json`).
    Token,
    User(projections::directory::UserRecord),
}

/// Identifies the caller by the local admin token (`Bearer`) or Basic
/// credentials sent from `client` (its address, when known);
/// `DavError::Unauthorized` when neither is right.
pub(crate) async fn identify(
    state: &AppState,
    headers: &HeaderMap,
    client: Option<IpAddr>,
) -> Result<Caller, DavError> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Some(token) = auth.and_then(|a| a.strip_prefix("Bearer ")) {
        return if constant_time_eq(token.as_bytes(), state.token.as_bytes()) {
            Ok(Caller::Token)
        } else {
            Err(DavError::Unauthorized)
        };
    }
    state
        .dav
        .authenticate(&state.engine, auth, client)
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
            Json(ErrorBody {
                error: "admin credentials required".into(),
            }),
        )
            .into_response()
    };
    let client = client_address(request.extensions(), &headers, state.dav.trusted_proxies());
    let admitted = match identify(&state, &headers, client).await {
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
        Err(DavError::Unauthorized) => false,
        // A disabled admin, or the directory unreadable: JSON like every
        // other answer of this API.
        Err(DavError::Status(status, message)) => return ApiError(status, message).into_response(),
        Err(DavError::Unavailable(message)) => {
            return ApiError(StatusCode::SERVICE_UNAVAILABLE, message).into_response()
        }
        Err(DavError::Throttled(wait)) => return throttled(wait),
        Err(e) => return e.into_response(),
    };
    if admitted {
        next.run(request).await
    } else {
        unauthorized()
    }
}

/// 429 for a JSON API: too many failed logins, and when to retry.
pub(crate) fn throttled(wait: Duration) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, retry_after(wait).to_string())],
        Json(ErrorBody {
            error: throttled_message(wait),
        }),
    )
        .into_response()
}
