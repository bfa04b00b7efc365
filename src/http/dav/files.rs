//! Writes in a principal's plain WebDAV file area: PUT, MKCOL, DELETE,
//! COPY and MOVE of files and folders (RFC 4918). Same shape as the
//! groupware writes: check against the view, append one event, answer
//! from its outcome.

use super::write::{overwrite, written};
use super::{
    check_write_conditions, payload_too_large, rejected, Call, DavError, DavResult, Depth,
};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use events::payload::{FileContent, FileDeleted, FilePut, FilesCopied, FilesMoved, FolderCreated};
use events::{AggregateVersion, Payload};
use projections::files::FileEntry;
use projections::{Outcome, Rejection};

fn entry(call: &Call<'_>, principal: &str, path: &str) -> DavResult<Option<FileEntry>> {
    Ok(call.views.files.entry(principal, path)?)
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(parent, _)| parent)
}

/// 409 unless the parent of `path` is an existing folder (RFC 4918 §9.7.1,
/// §9.3.1: intermediate collections are never created implicitly).
fn require_parent(call: &Call<'_>, principal: &str, path: &str) -> DavResult<()> {
    let parent = parent(path);
    if parent.is_empty() {
        return Ok(());
    }
    match entry(call, principal, parent)? {
        Some(e) if e.is_folder() => Ok(()),
        _ => Err(DavError::conflict(format!(
            "the parent folder /{parent}/ does not exist"
        ))),
    }
}

pub async fn put(call: &mut Call<'_>, principal: &str, path: &str) -> DavResult<Response> {
    if path.is_empty() {
        return Err(DavError::method_not_allowed("PUT on a folder"));
    }
    let existing = entry(call, principal, path)?;
    if existing.as_ref().is_some_and(FileEntry::is_folder) {
        return Err(DavError::method_not_allowed("PUT on a folder"));
    }
    require_parent(call, principal, path)?;
    check_write_conditions(
        &call.headers,
        existing.as_ref().map(FileEntry::etag).as_deref(),
    )?;
    let content_type = call
        .header(header::CONTENT_TYPE)
        .unwrap_or("application/octet-stream")
        .to_string();
    // The object first, durable under its name; then the event naming it.
    // A failure in between leaves an orphan for `objects gc`, never an
    // event without its object.
    let spooled = call
        .spool_body(call.limits().file, payload_too_large)
        .await?;
    let object = call.objects().put(&spooled).await?;
    drop(spooled);
    let expected = existing
        .as_ref()
        .map_or(AggregateVersion::ABSENT, |e| e.version);
    let payload = Payload::FilePut(FilePut {
        path: path.to_string(),
        content_type,
        content: FileContent::Stored(object),
    });
    written(call.submit(payload, expected).await?, existing.is_none())
}

pub async fn mkcol(call: &mut Call<'_>, principal: &str, path: &str) -> DavResult<Response> {
    // A plain MKCOL has no body; an extended one makes groupware
    // collections, which live elsewhere (RFC 4918 §9.3: 415).
    let body = call.body(payload_too_large).await?;
    if !body.is_empty() {
        return Err(DavError::status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "MKCOL in the file area takes no body",
        ));
    }
    if path.is_empty() || entry(call, principal, path)?.is_some() {
        return Err(DavError::method_not_allowed(
            "something exists at this path",
        ));
    }
    require_parent(call, principal, path)?;
    let payload = Payload::FolderCreated(FolderCreated {
        path: path.to_string(),
        dead: Default::default(),
    });
    match call.submit(payload, AggregateVersion::ABSENT).await? {
        Outcome::Applied { .. } => Ok(StatusCode::CREATED.into_response()),
        Outcome::Rejected {
            rejection: Rejection::AlreadyExists { .. },
        } => Err(DavError::method_not_allowed(
            "something exists at this path",
        )),
        other => Err(rejected(other)),
    }
}

pub async fn delete(call: &mut Call<'_>, principal: &str, path: &str) -> DavResult<Response> {
    if path.is_empty() {
        return Err(DavError::forbidden("the root of the file area stays"));
    }
    let existing = entry(call, principal, path)?.ok_or_else(DavError::not_found)?;
    check_write_conditions(&call.headers, Some(&existing.etag()))?;
    let payload = Payload::FileDeleted(FileDeleted {
        path: path.to_string(),
    });
    written(call.submit(payload, existing.version).await?, false)
}

pub async fn copy_move(
    call: &mut Call<'_>,
    moving: bool,
    principal: &str,
    from: &str,
    to: &str,
) -> DavResult<Response> {
    if from.is_empty() || to.is_empty() {
        return Err(DavError::forbidden(
            "the root of the file area stays where it is",
        ));
    }
    let depth = call.depth(Depth::Infinity)?;
    let recursive = match (moving, depth) {
        (_, Depth::Infinity) => true,
        (false, Depth::Zero) => false,
        _ => {
            return Err(DavError::bad_request(
                "Depth must be infinity for MOVE, 0 or infinity for COPY",
            ))
        }
    };
    let source = entry(call, principal, from)?.ok_or_else(DavError::not_found)?;
    check_write_conditions(&call.headers, Some(&source.etag()))?;
    if from == to || to.starts_with(&format!("{from}/")) {
        return Err(DavError::forbidden(
            "the destination is the source or inside it",
        ));
    }
    require_parent(call, principal, to)?;
    let replaced = entry(call, principal, to)?;
    let overwrite = overwrite(call);
    if replaced.is_some() && !overwrite {
        return Err(DavError::status(
            StatusCode::PRECONDITION_FAILED,
            "the destination exists and Overwrite is F",
        ));
    }
    let payload = if moving {
        Payload::FilesMoved(FilesMoved {
            from: from.to_string(),
            to: to.to_string(),
            overwrite,
        })
    } else {
        Payload::FilesCopied(FilesCopied {
            from: from.to_string(),
            to: to.to_string(),
            recursive,
            overwrite,
        })
    };
    let outcome = call.submit(payload, source.version).await?;
    // A copied folder has no ETag to announce.
    let outcome = match outcome {
        Outcome::Applied { .. } if source.is_folder() => Outcome::Applied {
            version: AggregateVersion::ABSENT,
        },
        other => other,
    };
    written(outcome, replaced.is_none())
}
