//! The mail seen-flags JSON API, under `/api/v1/mail` (for a mail
//! front-end or an IMAP server keeping its `\Seen` flags here):
//!
//! - `GET  {login}/mailboxes/{mailbox}/seen`: the seen UIDs and the modseq
//! - `POST {login}/mailboxes/{mailbox}/seen`: `{"add", "remove",
//!   "unchangedsince"}`, one `SeenChanged` event (CONDSTORE when
//!   `unchangedsince` is given)
//! - `GET  {login}/mailboxes/{mailbox}/seen/changes?since=N`: QRESYNC-style
//! - `POST {login}/seen`: many mailboxes read and written in one request
//!
//! `{mailbox}` is one path segment, percent-encoded UTF-8 (`/` is `%2F`):
//! routes match the raw path and the extractor decodes it. Only the owner,
//! directory admins and the local admin token get in. Everything is checked
//! before anything is appended, so a refused request changes nothing.

mod error;
mod seen;
mod types;

pub use error::MailError;
pub use seen::{
    changes_anything, check_mailbox, condstore, parse_set, sequence_set, SeenWrite,
    MAX_MAILBOX_NAME, MAX_WRITE_RANGES,
};

use crate::http::openapi::{Gate, UnknownOwner};
use crate::http::peer::ClientAddress;
use crate::http::{identify, AppState, Caller, ErrorBody, Shared};
use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::routing::{get, post};
use axum::{Json, Router};
use events::payload::SeenChanged;
use events::{AggregateVersion, EventEnvelope, Payload, UidSet};
use projections::{Outcome, Rejection};
use seen::changes_answer;
use std::net::IpAddr;
use std::time::Duration;
use types::{
    BulkAnswer, BulkBody, ChangesAnswer, ChangesQuery, LoginPath, MailboxPath, SeenAnswer,
    WriteAnswer, WriteBody,
};

/// The largest request body.
pub const MAX_BODY_BYTES: usize = 4 << 20;
/// Mailboxes one bulk request may read and write, together.
pub const MAX_MAILBOXES: usize = 1_000;
/// How often a conditional write is tried again after another write to
/// the mailbox came first, before answering 503.
const CONDSTORE_ATTEMPTS: usize = 10;
/// How long a writer waits for the log and the projection before 503.
const WRITE_TIMEOUT: Duration = Duration::from_secs(15);

/// This API in the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(read_seen, write_seen, changes, bulk))]
pub(crate) struct MailApi;

/// What a write's body may be refused for, once the caller is admitted.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // only its responses are used
enum WriteRefusal {
    #[response(
        status = 400,
        description = "Bad JSON, a bad mailbox name or UID set, a UID in both sets, a mailbox \
                       written twice"
    )]
    Invalid(ErrorBody),
    #[response(
        status = 413,
        description = "A body over 4 MiB, more than 1000 mailboxes, or more than 50000 ranges \
                       in one write"
    )]
    TooLarge(ErrorBody),
    #[response(status = 415, description = "The body is not `application/json`")]
    NotJson(ErrorBody),
}

pub(crate) fn router() -> Router<Shared> {
    Router::new()
        .route(
            "/{login}/mailboxes/{mailbox}/seen",
            get(read_seen).post(write_seen),
        )
        .route("/{login}/mailboxes/{mailbox}/seen/changes", get(changes))
        .route("/{login}/seen", post(bulk))
        .fallback(no_such_endpoint)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn no_such_endpoint() -> MailError {
    MailError::NotFound(
        "no such endpoint: a mailbox name is one path segment, with / written as %2F".into(),
    )
}

async fn method_not_allowed() -> MailError {
    MailError::MethodNotAllowed("this endpoint does not take this method".into())
}

/// A JSON body: `application/json`, within the size limit, read only once
/// the caller is known.
async fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
) -> Result<T, MailError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    // Not only a courtesy: a cross-site form cannot send application/json
    // without the browser asking first, so remembered Basic credentials
    // cannot be used to write from another site.
    if !json {
        return Err(MailError::UnsupportedMediaType(
            "the body must be application/json".into(),
        ));
    }
    let too_large = || {
        MailError::TooLarge(format!(
            "the request body is larger than {MAX_BODY_BYTES} bytes"
        ))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let bytes: Bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| too_large())?;
    // serde also reads a struct from an array of its fields in order;
    // every body of this API is an object.
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return Err(MailError::BadRequest(
            "invalid JSON body: it must be an object".into(),
        ));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| MailError::BadRequest(format!("invalid JSON body: {e}")))
}

// ---------------------------------------------------------------------------
// Access.

/// Whose mailboxes a request is about, and who is acting.
struct Access {
    /// The owner's principal, `login@domain`: the partition key.
    owner: String,
    /// The event's actor: the owner, or `admin:<principal>`.
    actor: String,
}

/// Admits the owner, an enabled directory admin or the local admin
/// token. Anyone else gets 403 whether or not the user exists.
async fn authorise(
    state: &AppState,
    headers: &HeaderMap,
    client: Option<IpAddr>,
    login: &str,
) -> Result<Access, MailError> {
    // A view still being built would answer with part of the flags.
    if !state.engine.ready() {
        return Err(MailError::Unavailable(
            "the views are still being built from the log; retry shortly".into(),
        ));
    }
    let caller = identify(state, headers, client).await?;
    let user = state.engine.views().directory.find_user(login)?;
    let actor = match caller {
        Caller::User(me) if !me.admin => {
            return match user {
                Some(user) if user.principal() == me.principal() => Ok(Access {
                    owner: user.principal(),
                    actor: me.principal(),
                }),
                _ => Err(MailError::Forbidden(
                    "only the mailbox owner or an administrator may do this".into(),
                )),
            };
        }
        Caller::User(me) => format!("admin:{}", me.principal()),
        Caller::Token => "admin:api".to_string(),
    };
    let user = user.ok_or_else(|| MailError::NotFound(format!("no user {login:?}")))?;
    Ok(Access {
        owner: user.principal(),
        actor,
    })
}

// ---------------------------------------------------------------------------
// Handlers.

#[utoipa::path(get, path = "/api/v1/mail/{login}/mailboxes/{mailbox}/seen", tag = "mail", params(LoginPath, MailboxPath), responses(
    (status = 200, description = "The seen UIDs and the modseq", body = SeenAnswer),
    (status = 400, description = "A bad mailbox name", body = ErrorBody),
    Gate,
    UnknownOwner,
))]
async fn read_seen(
    State(state): State<Shared>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<SeenAnswer>, MailError> {
    let Path((login, mailbox)) = path?;
    let access = authorise(&state, &headers, client, &login).await?;
    check_mailbox(&mailbox)?;
    Ok(Json(read_one(&state, &access, mailbox)?))
}

#[utoipa::path(post, path = "/api/v1/mail/{login}/mailboxes/{mailbox}/seen", tag = "mail", params(LoginPath, MailboxPath), request_body = WriteBody, responses(
    (status = 200, description = "Written: the new modseq, and what `unchangedsince` left alone", body = WriteAnswer),
    WriteRefusal,
    Gate,
    UnknownOwner,
))]
async fn write_seen(
    State(state): State<Shared>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Body,
) -> Result<Json<WriteAnswer>, MailError> {
    let Path((login, mailbox)) = path?;
    let access = authorise(&state, &headers, client, &login).await?;
    let body: WriteBody = json_body(&headers, body).await?;
    let write = SeenWrite::parse(
        mailbox,
        body.add.as_deref(),
        body.remove.as_deref(),
        body.unchangedsince,
    )?;
    let mut answers = write_all(&state, &access, vec![write]).await?;
    let mut answer = answers
        .pop()
        .ok_or_else(|| MailError::Internal("the write got no answer".into()))?;
    answer.mailbox = None;
    Ok(Json(answer))
}

#[utoipa::path(get, path = "/api/v1/mail/{login}/mailboxes/{mailbox}/seen/changes", tag = "mail", params(LoginPath, MailboxPath, ChangesQuery), responses(
    (status = 200, description = "What changed after `since`", body = ChangesAnswer),
    (status = 400, description = "A bad mailbox name, or a missing or bad `since`", body = ErrorBody),
    Gate,
    UnknownOwner,
))]
async fn changes(
    State(state): State<Shared>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<ChangesQuery>, QueryRejection>,
) -> Result<Json<ChangesAnswer>, MailError> {
    let Path((login, mailbox)) = path?;
    let access = authorise(&state, &headers, client, &login).await?;
    check_mailbox(&mailbox)?;
    let Query(query) = query?;
    let changes = state.engine.views().seen.changed_since(
        &access.owner,
        &mailbox,
        AggregateVersion(query.since),
    )?;
    Ok(Json(changes_answer(mailbox, &changes)))
}

/// Writes first, then reads, so that the reads see the writes.
#[utoipa::path(post, path = "/api/v1/mail/{login}/seen", tag = "mail", params(LoginPath), request_body = BulkBody, responses(
    (status = 200, description = "The writes' answers, then the reads', in request order", body = BulkAnswer),
    WriteRefusal,
    Gate,
    UnknownOwner,
))]
async fn bulk(
    State(state): State<Shared>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Json<BulkAnswer>, MailError> {
    let Path(login) = path?;
    let access = authorise(&state, &headers, client, &login).await?;
    let body: BulkBody = json_body(&headers, body).await?;
    if body.read.len() + body.write.len() > MAX_MAILBOXES {
        return Err(MailError::TooLarge(format!(
            "one request may read and write at most {MAX_MAILBOXES} mailboxes"
        )));
    }
    for (i, mailbox) in body.read.iter().enumerate() {
        check_mailbox(mailbox).map_err(|e| e.in_item("read", i, mailbox))?;
    }
    let mut writes = Vec::with_capacity(body.write.len());
    let mut written = std::collections::HashSet::new();
    for (i, w) in body.write.into_iter().enumerate() {
        let name = w.mailbox.clone();
        let write = SeenWrite::parse(
            w.mailbox,
            w.add.as_deref(),
            w.remove.as_deref(),
            w.unchangedsince,
        )
        .map_err(|e| e.in_item("write", i, &name))?;
        if !written.insert(name.clone()) {
            return Err(MailError::BadRequest(
                "the mailbox is written twice in one request".into(),
            )
            .in_item("write", i, &name));
        }
        writes.push(write);
    }
    let write = write_all(&state, &access, writes).await?;
    let read = body
        .read
        .into_iter()
        .map(|mailbox| read_one(&state, &access, mailbox))
        .collect::<Result<_, _>>()?;
    Ok(Json(BulkAnswer { read, write }))
}

fn read_one(state: &AppState, access: &Access, mailbox: String) -> Result<SeenAnswer, MailError> {
    let (seen, modseq) = state.engine.views().seen.mailbox(&access.owner, &mailbox)?;
    Ok(SeenAnswer {
        mailbox,
        seen: sequence_set(&seen),
        modseq: modseq.0,
    })
}

// ---------------------------------------------------------------------------
// Writing.

fn event(access: &Access, write: &SeenWrite, add: UidSet, remove: UidSet) -> EventEnvelope {
    EventEnvelope::now(
        access.owner.clone(),
        access.actor.clone(),
        Payload::SeenChanged(SeenChanged {
            mailbox: write.mailbox.clone(),
            seen: add,
            unseen: remove,
        }),
    )
}

async fn submit(state: &AppState, events: Vec<EventEnvelope>) -> Result<Vec<Outcome>, MailError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let count = events.len();
    let outcomes = tokio::time::timeout(WRITE_TIMEOUT, state.engine.submit(events))
        .await
        .map_err(|_| {
            MailError::Unavailable(format!(
                "the log did not confirm the write within {WRITE_TIMEOUT:?}"
            ))
        })??;
    if outcomes.len() != count {
        return Err(MailError::Internal("a write got no outcome".into()));
    }
    Ok(outcomes)
}

/// The modseq an applied write left; anything else is a server fault,
/// since the request was checked before it was appended.
fn applied(outcome: Outcome) -> Result<AggregateVersion, MailError> {
    match outcome {
        Outcome::Applied { version } => Ok(version),
        Outcome::Rejected { rejection } => Err(MailError::Internal(format!(
            "the write was rejected: {rejection}"
        ))),
        Outcome::Quarantined { reason } => Err(MailError::Internal(format!(
            "the write was refused: {reason}"
        ))),
    }
}

fn write_answer(write: &SeenWrite, modseq: AggregateVersion, modified: &UidSet) -> WriteAnswer {
    WriteAnswer {
        mailbox: Some(write.mailbox.clone()),
        modseq: modseq.0,
        modified: modified.to_string(),
    }
}

/// Applies validated writes, answering in their order: the unconditional
/// ones as one batch of events, each conditional one on its own.
async fn write_all(
    state: &AppState,
    access: &Access,
    writes: Vec<SeenWrite>,
) -> Result<Vec<WriteAnswer>, MailError> {
    let seen = &state.engine.views().seen;
    let none = UidSet::default();
    let mut answers: Vec<Option<WriteAnswer>> = writes.iter().map(|_| None).collect();
    let correlation = uuid::Uuid::now_v7();
    let mut batch = Vec::new();
    let mut batched = Vec::new();
    for (i, write) in writes.iter().enumerate() {
        if write.unchanged_since.is_some() {
            continue;
        }
        let (flags, modseq) = seen.mailbox(&access.owner, &write.mailbox)?;
        if changes_anything(&flags, &write.add, &write.remove) {
            let e = event(access, write, write.add.clone(), write.remove.clone());
            batch.push(e.with_correlation(correlation));
            batched.push(i);
        } else {
            // Nothing to change: nothing appended, the modseq stays.
            answers[i] = Some(write_answer(write, modseq, &none));
        }
    }
    for (i, outcome) in batched.into_iter().zip(submit(state, batch).await?) {
        answers[i] = Some(write_answer(&writes[i], applied(outcome)?, &none));
    }
    for (i, write) in writes.iter().enumerate() {
        if let Some(since) = write.unchanged_since {
            answers[i] =
                Some(write_unless_changed(state, access, write, since, correlation).await?);
        }
    }
    answers
        .into_iter()
        .map(|a| a.ok_or_else(|| MailError::Internal("a write got no answer".into())))
        .collect()
}

/// CONDSTORE with optimistic concurrency: read the mailbox at modseq M,
/// leave out what changed after `since`, append expecting M; when another
/// write came first the log rejects this one, and it is worked out again.
async fn write_unless_changed(
    state: &AppState,
    access: &Access,
    write: &SeenWrite,
    since: AggregateVersion,
    correlation: uuid::Uuid,
) -> Result<WriteAnswer, MailError> {
    let seen = &state.engine.views().seen;
    for _ in 0..CONDSTORE_ATTEMPTS {
        let changes = seen.changed_since(&access.owner, &write.mailbox, since)?;
        let (add, remove, modified) = condstore(&write.add, &write.remove, &changes)
            .map_err(|e| MailError::TooLarge(format!("the write is too fragmented: {e}")))?;
        if !changes_anything(&changes.seen, &add, &remove) {
            return Ok(write_answer(write, changes.modseq, &modified));
        }
        let e = event(access, write, add, remove)
            .expecting(changes.modseq)
            .with_correlation(correlation);
        let outcome = submit(state, vec![e])
            .await?
            .pop()
            .ok_or_else(|| MailError::Internal("the write got no outcome".into()))?;
        match outcome {
            Outcome::Rejected {
                rejection: Rejection::VersionConflict { .. },
            } => continue,
            other => return Ok(write_answer(write, applied(other)?, &modified)),
        }
    }
    Err(MailError::Unavailable(format!(
        "mailbox {:?} kept changing during {CONDSTORE_ATTEMPTS} attempts; retry",
        write.mailbox
    )))
}
