//! Why a mail API request was refused, and how that is answered: a
//! status, `{"error": "..."}` and, for 401, 429 and 503, the header that
//! tells the client what to do next.

use crate::engine::SubmitError;
use crate::http::dav::{retry_after, throttled_message, DavError};
use crate::http::ErrorBody;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use projections::StoreError;
use std::time::Duration;

/// Why a request was refused; answered as `{"error": "..."}`.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("{0}")]
    BadRequest(String),
    #[error("credentials required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The log or the projection is not keeping up, or the mailbox kept
    /// changing under a conditional write: try again.
    #[error("{0}")]
    Unavailable(String),
    /// Too many failed logins for the account or from the address.
    #[error("{}", throttled_message(*.0))]
    Throttled(Duration),
    #[error("{0}")]
    Internal(String),
}

impl MailError {
    fn status(&self) -> StatusCode {
        match self {
            MailError::BadRequest(_) => StatusCode::BAD_REQUEST,
            MailError::Unauthorized => StatusCode::UNAUTHORIZED,
            MailError::Forbidden(_) => StatusCode::FORBIDDEN,
            MailError::NotFound(_) => StatusCode::NOT_FOUND,
            MailError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            MailError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            MailError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            MailError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            MailError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            MailError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for MailError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (
            status,
            Json(ErrorBody {
                error: self.to_string(),
            }),
        )
            .into_response();
        let headers = response.headers_mut();
        match self {
            MailError::Unauthorized => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"reprise\", charset=\"UTF-8\""),
                );
            }
            MailError::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            }
            MailError::Throttled(wait) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after(wait)));
            }
            _ => {}
        }
        response
    }
}

impl From<StoreError> for MailError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "seen view read failed");
        MailError::Internal(e.to_string())
    }
}

impl From<SubmitError> for MailError {
    fn from(e: SubmitError) -> Self {
        if e.too_large() {
            return MailError::TooLarge(e.to_string());
        }
        tracing::warn!(error = %e, "seen write not confirmed");
        MailError::Unavailable(e.to_string())
    }
}

impl From<DavError> for MailError {
    fn from(e: DavError) -> Self {
        match e {
            DavError::Unauthorized => MailError::Unauthorized,
            DavError::Unavailable(m) => MailError::Unavailable(m),
            DavError::Throttled(wait) => MailError::Throttled(wait),
            DavError::Status(StatusCode::FORBIDDEN, m) => MailError::Forbidden(m),
            DavError::Status(_, m) => MailError::Internal(m),
            DavError::Precondition { condition, .. } => {
                MailError::Internal(format!("unexpected precondition {condition:?}"))
            }
        }
    }
}

impl From<PathRejection> for MailError {
    fn from(e: PathRejection) -> Self {
        MailError::BadRequest(e.body_text())
    }
}

impl From<QueryRejection> for MailError {
    fn from(e: QueryRejection) -> Self {
        MailError::BadRequest(e.body_text())
    }
}

impl MailError {
    /// Says which item of a bulk request the error is about.
    pub(super) fn in_item(self, list: &str, index: usize, mailbox: &str) -> MailError {
        let context = |m: String| format!("{list}[{index}] (mailbox {mailbox:?}): {m}");
        match self {
            MailError::BadRequest(m) => MailError::BadRequest(context(m)),
            MailError::TooLarge(m) => MailError::TooLarge(context(m)),
            other => other,
        }
    }
}
