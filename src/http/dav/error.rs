//! Errors a DAV request ends with, and how each is answered: a status, a
//! short text, and the DAV precondition element when one applies.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use formats::xml::{self, QName, XmlError};

#[derive(Debug)]
pub enum DavError {
    /// A plain status with a human-readable reason.
    Status(StatusCode, String),
    /// A failed DAV precondition (RFC 4918 §16): `<D:error>` names it.
    Precondition {
        status: StatusCode,
        condition: QName,
        /// E.g. the href holding a conflicting UID.
        hrefs: Vec<String>,
    },
    /// Missing or wrong credentials.
    Unauthorized,
    /// The log or the local projection is not keeping up: retry.
    Unavailable(String),
    /// Too many failed logins for the account or from the address: retry
    /// after this long.
    Throttled(std::time::Duration),
}

pub type DavResult<T> = Result<T, DavError>;

impl DavError {
    pub fn status(status: StatusCode, message: impl Into<String>) -> DavError {
        DavError::Status(status, message.into())
    }

    pub fn bad_request(message: impl Into<String>) -> DavError {
        DavError::status(StatusCode::BAD_REQUEST, message)
    }

    pub fn forbidden(message: impl Into<String>) -> DavError {
        DavError::status(StatusCode::FORBIDDEN, message)
    }

    pub fn not_found() -> DavError {
        DavError::status(StatusCode::NOT_FOUND, "no such resource")
    }

    pub fn conflict(message: impl Into<String>) -> DavError {
        DavError::status(StatusCode::CONFLICT, message)
    }

    pub fn precondition_failed() -> DavError {
        DavError::status(
            StatusCode::PRECONDITION_FAILED,
            "the resource changed: its ETag does not match",
        )
    }

    pub fn method_not_allowed(message: impl Into<String>) -> DavError {
        DavError::status(StatusCode::METHOD_NOT_ALLOWED, message)
    }

    pub fn precondition(status: StatusCode, ns: &str, local: &str) -> DavError {
        DavError::Precondition {
            status,
            condition: QName::new(ns, local),
            hrefs: Vec::new(),
        }
    }

    /// A REPORT this resource does not answer (RFC 3253 §3.6).
    pub fn unsupported_report() -> DavError {
        DavError::precondition(StatusCode::FORBIDDEN, formats::xml::DAV, "supported-report")
    }

    pub fn with_href(self, href: String) -> DavError {
        match self {
            DavError::Precondition {
                status,
                condition,
                mut hrefs,
            } => {
                hrefs.push(href);
                DavError::Precondition {
                    status,
                    condition,
                    hrefs,
                }
            }
            other => other,
        }
    }
}

impl From<XmlError> for DavError {
    fn from(e: XmlError) -> Self {
        DavError::bad_request(e.to_string())
    }
}

/// A request naming more than this server answers at once, refused
/// before anything is looked up. RFC 4918 names no precondition for too
/// many properties: 403 with the reason. Too many hrefs is WebDAV's
/// `DAV:number-of-matches-within-limits` (RFC 5323 §5.17, RFC 6578 §3.7):
/// the resources asked for are more than the server returns in one answer.
impl From<xml::Exceeded> for DavError {
    fn from(e: xml::Exceeded) -> Self {
        tracing::debug!(error = %e, "request over a limit");
        match e {
            xml::Exceeded::Hrefs { .. } => DavError::precondition(
                StatusCode::FORBIDDEN,
                xml::DAV,
                "number-of-matches-within-limits",
            ),
            xml::Exceeded::Properties { .. } => DavError::forbidden(e.to_string()),
        }
    }
}

impl From<projections::StoreError> for DavError {
    fn from(e: projections::StoreError) -> Self {
        tracing::error!(error = %e, "view read failed");
        DavError::status(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl From<objects::ObjectError> for DavError {
    fn from(e: objects::ObjectError) -> Self {
        use objects::ObjectError as E;
        match &e {
            E::Unavailable { .. } | E::Denied { .. } | E::NoBucket { .. } => {
                tracing::warn!(error = %e, "object store");
                DavError::Unavailable(e.to_string())
            }
            E::TooLarge { .. } => DavError::status(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
            // RFC 4918 §9.7.1: no room to store the body.
            E::Spool { .. } => {
                tracing::error!(error = %e, "spooling a body");
                DavError::status(StatusCode::INSUFFICIENT_STORAGE, e.to_string())
            }
            // The log names an object the store does not have, or has
            // damaged: this request fails, the hash is in the server log
            // for `objects verify` and the operator.
            E::Missing(_) | E::Damaged { .. } | E::Location(_) | E::Settings(_) => {
                tracing::error!(error = %e, "reading an object");
                DavError::status(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
        }
    }
}

impl From<crate::engine::SubmitError> for DavError {
    fn from(e: crate::engine::SubmitError) -> Self {
        if e.too_large() {
            return DavError::status(StatusCode::PAYLOAD_TOO_LARGE, e.to_string());
        }
        // RFC 4918 §11.5: the server is unable to store the
        // representation; nothing was appended.
        if e.disk_full() {
            tracing::warn!(error = %e, "write refused");
            return DavError::status(StatusCode::INSUFFICIENT_STORAGE, e.to_string());
        }
        tracing::warn!(error = %e, "write not confirmed");
        DavError::Unavailable(e.to_string())
    }
}

/// The `Retry-After` of a wait: whole seconds, rounded up, at least 1.
pub fn retry_after(wait: std::time::Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// What a throttled login is told.
pub fn throttled_message(wait: std::time::Duration) -> String {
    format!(
        "too many failed logins for this account or from this address; retry in {} s",
        retry_after(wait)
    )
}

impl IntoResponse for DavError {
    fn into_response(self) -> Response {
        match self {
            DavError::Status(status, message) => (
                status,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("{message}\n"),
            )
                .into_response(),
            DavError::Precondition {
                status,
                condition,
                hrefs,
            } => (
                status,
                [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
                xml::write_error(&condition, &hrefs),
            )
                .into_response(),
            DavError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                [
                    (
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Basic realm=\"reprise\", charset=\"UTF-8\""),
                    ),
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; charset=utf-8"),
                    ),
                ],
                "credentials required\n",
            )
                .into_response(),
            DavError::Throttled(wait) => (
                StatusCode::TOO_MANY_REQUESTS,
                [
                    (header::RETRY_AFTER, retry_after(wait).to_string()),
                    (
                        header::CONTENT_TYPE,
                        "text/plain; charset=utf-8".to_string(),
                    ),
                ],
                format!("{}\n", throttled_message(wait)),
            )
                .into_response(),
            DavError::Unavailable(message) => (
                StatusCode::SERVICE_UNAVAILABLE,
                [
                    (header::RETRY_AFTER, "2"),
                    (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                ],
                format!("{message}\n"),
            )
                .into_response(),
        }
    }
}
