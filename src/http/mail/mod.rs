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

use crate::engine::SubmitError;
use crate::http::dav::DavError;
use crate::http::{identify, AppState, Caller, Shared};
use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use events::payload::SeenChanged;
use events::uidset::UidSetError;
use events::{AggregateVersion, EventEnvelope, Payload, UidSet};
use projections::seen::{RoaringBitmap, SeenChanges};
use projections::{Outcome, Rejection, StoreError};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::time::Duration;

/// The largest request body.
pub const MAX_BODY_BYTES: usize = 4 << 20;
/// Mailboxes one bulk request may read and write, together.
pub const MAX_MAILBOXES: usize = 1_000;
/// The longest mailbox name, in bytes of UTF-8.
pub const MAX_MAILBOX_NAME: usize = 1_000;
/// Ranges one write may name in `add` and `remove` together: keeps its
/// event well under the log's 1 MB record limit.
pub const MAX_WRITE_RANGES: usize = 50_000;
/// How often a conditional write is tried again after another write to
/// the mailbox came first, before answering 503.
const CONDSTORE_ATTEMPTS: usize = 10;
/// How long a writer waits for the log and the projection before 503.
const WRITE_TIMEOUT: Duration = Duration::from_secs(15);
/// What `changed` says when the change list does not reach back far
/// enough: every UID.
const EVERY_UID: &str = "1:4294967295";

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
            MailError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for MailError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
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
        tracing::warn!(error = %e, "seen write not confirmed");
        MailError::Unavailable(e.to_string())
    }
}

impl From<DavError> for MailError {
    fn from(e: DavError) -> Self {
        match e {
            DavError::Unauthorized => MailError::Unauthorized,
            DavError::Unavailable(m) => MailError::Unavailable(m),
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

async fn no_such_endpoint() -> MailError {
    MailError::NotFound(
        "no such endpoint: a mailbox name is one path segment, with / written as %2F".into(),
    )
}

async fn method_not_allowed() -> MailError {
    MailError::MethodNotAllowed("this endpoint does not take this method".into())
}

// ---------------------------------------------------------------------------
// Request and answer bodies.

/// `POST .../seen`. Unknown fields are refused, so that a misspelt
/// `unchangedsince` cannot turn a conditional write into a blind one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteBody {
    add: Option<String>,
    remove: Option<String>,
    unchangedsince: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkBody {
    #[serde(default)]
    read: Vec<String>,
    #[serde(default)]
    write: Vec<BulkWrite>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkWrite {
    mailbox: String,
    add: Option<String>,
    remove: Option<String>,
    unchangedsince: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct ChangesQuery {
    since: u64,
}

#[derive(Debug, Serialize)]
struct SeenAnswer {
    mailbox: String,
    seen: String,
    modseq: u64,
}

#[derive(Debug, Serialize)]
struct WriteAnswer {
    /// Only in bulk answers, where it says which write this is.
    #[serde(skip_serializing_if = "Option::is_none")]
    mailbox: Option<String>,
    modseq: u64,
    /// UIDs left unchanged because they changed after `unchangedsince`.
    modified: String,
}

#[derive(Debug, Serialize)]
struct ChangesAnswer {
    mailbox: String,
    modseq: u64,
    changed: String,
    seen: String,
    complete: bool,
}

#[derive(Debug, Serialize)]
struct BulkAnswer {
    read: Vec<SeenAnswer>,
    write: Vec<WriteAnswer>,
}

// ---------------------------------------------------------------------------
// Pure parts: validation, sequence sets, CONDSTORE.

/// A validated write to one mailbox: disjoint sets, within the bounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenWrite {
    pub mailbox: String,
    pub add: UidSet,
    pub remove: UidSet,
    pub unchanged_since: Option<AggregateVersion>,
}

/// A mailbox name must be usable as a key part and stay small.
pub fn check_mailbox(name: &str) -> Result<(), MailError> {
    if name.is_empty() {
        return Err(MailError::BadRequest("the mailbox name is empty".into()));
    }
    if name.contains('\0') {
        return Err(MailError::BadRequest(
            "a mailbox name may not contain NUL".into(),
        ));
    }
    if name.len() > MAX_MAILBOX_NAME {
        return Err(MailError::BadRequest(format!(
            "the mailbox name is longer than {MAX_MAILBOX_NAME} bytes"
        )));
    }
    Ok(())
}

/// A UID set from the body; absent and `""` are the empty set (what a
/// read answers for a mailbox with nothing seen).
pub fn parse_set(field: &str, text: Option<&str>) -> Result<UidSet, MailError> {
    match text {
        None | Some("") => Ok(UidSet::default()),
        Some(t) => t
            .parse()
            .map_err(|e: UidSetError| MailError::BadRequest(format!("invalid {field} set: {e}"))),
    }
}

impl SeenWrite {
    pub fn parse(
        mailbox: String,
        add: Option<&str>,
        remove: Option<&str>,
        unchanged_since: Option<u64>,
    ) -> Result<SeenWrite, MailError> {
        check_mailbox(&mailbox)?;
        let add = parse_set("add", add)?;
        let remove = parse_set("remove", remove)?;
        if let Some(uid) = add.first_common(&remove) {
            return Err(MailError::BadRequest(format!(
                "UID {uid} is in both add and remove"
            )));
        }
        if add.ranges().len() + remove.ranges().len() > MAX_WRITE_RANGES {
            return Err(MailError::TooLarge(format!(
                "one write may name at most {MAX_WRITE_RANGES} ranges in add and remove"
            )));
        }
        Ok(SeenWrite {
            mailbox,
            add,
            remove,
            unchanged_since: unchanged_since.map(AggregateVersion),
        })
    }
}

/// The IMAP sequence set of a bitmap (`1:5,9,12:20`; `""` when empty), by
/// runs rather than by UID.
pub fn sequence_set(bitmap: &RoaringBitmap) -> String {
    let mut out = String::new();
    let mut runs = bitmap.iter();
    while let Some(run) = runs.next_range() {
        if !out.is_empty() {
            out.push(',');
        }
        let (a, b) = (*run.start(), *run.end());
        // Writing into a String cannot fail.
        let _ = if a == b {
            write!(out, "{a}")
        } else {
            write!(out, "{a}:{b}")
        };
    }
    out
}

/// Whether applying the write to `seen` would change anything.
pub fn changes_anything(seen: &RoaringBitmap, add: &UidSet, remove: &UidSet) -> bool {
    add.ranges()
        .iter()
        .any(|&(a, b)| !seen.contains_range(a..=b))
        || remove
            .ranges()
            .iter()
            .any(|&(a, b)| seen.range_cardinality(a..=b) > 0)
}

/// The UIDs of `set` that are in `bitmap`, as sorted ranges.
fn intersect(set: &UidSet, bitmap: &RoaringBitmap) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for &(a, b) in set.ranges() {
        let mut runs = bitmap.range(a..=b);
        while let Some(run) = runs.next_range() {
            out.push((*run.start(), *run.end()));
        }
    }
    out
}

/// `set` without the UIDs of `minus` (both sorted and disjoint).
fn subtract(set: &UidSet, minus: &UidSet) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let holes = minus.ranges();
    let mut j = 0;
    for &(a, b) in set.ranges() {
        let mut from = a;
        while j < holes.len() && holes[j].1 < from {
            j += 1;
        }
        let mut k = j;
        let mut whole = true;
        while let Some(&(c, d)) = holes.get(k) {
            if c > b {
                break;
            }
            if c > from {
                out.push((from, c - 1));
            }
            if d >= b {
                whole = false;
                break;
            }
            from = d + 1;
            k += 1;
        }
        if whole {
            out.push((from, b));
        }
    }
    out
}

/// STORE UNCHANGEDSINCE (RFC 7162 §3.1.3) over the change list: a UID
/// whose seen state changed after the given modseq is left as it is and
/// reported as modified; when the change list does not reach back that
/// far, every UID of the write is. Returns what may still be written
/// (add, remove) and the modified UIDs.
pub fn condstore(
    add: &UidSet,
    remove: &UidSet,
    changes: &SeenChanges,
) -> Result<(UidSet, UidSet, UidSet), UidSetError> {
    let modified = if changes.complete {
        let mut both = intersect(add, &changes.changed);
        both.extend(intersect(remove, &changes.changed));
        UidSet::from_ranges(both)?
    } else {
        UidSet::from_ranges(add.ranges().iter().chain(remove.ranges()).copied())?
    };
    if modified.is_empty() {
        return Ok((add.clone(), remove.clone(), modified));
    }
    let add = UidSet::from_ranges(subtract(add, &modified))?;
    let remove = UidSet::from_ranges(subtract(remove, &modified))?;
    Ok((add, remove, modified))
}

/// The answer to "what changed since": when the change list does not
/// reach back far enough, every UID counts as changed.
fn changes_answer(mailbox: String, changes: &SeenChanges) -> ChangesAnswer {
    let changed = if changes.complete {
        sequence_set(&changes.changed)
    } else {
        EVERY_UID.to_string()
    };
    let seen = if changes.complete {
        sequence_set(&(&changes.changed & &changes.seen))
    } else {
        sequence_set(&changes.seen)
    };
    ChangesAnswer {
        mailbox,
        modseq: changes.modseq.0,
        changed,
        seen,
        complete: changes.complete,
    }
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
    login: &str,
) -> Result<Access, MailError> {
    // A view still being built would answer with part of the flags.
    if !state.engine.ready() {
        return Err(MailError::Unavailable(
            "the views are still being built from the log; retry shortly".into(),
        ));
    }
    let caller = identify(state, headers).await?;
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

async fn read_seen(
    State(state): State<Shared>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<SeenAnswer>, MailError> {
    let Path((login, mailbox)) = path?;
    let access = authorise(&state, &headers, &login).await?;
    check_mailbox(&mailbox)?;
    Ok(Json(read_one(&state, &access, mailbox)?))
}

async fn write_seen(
    State(state): State<Shared>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Body,
) -> Result<Json<WriteAnswer>, MailError> {
    let Path((login, mailbox)) = path?;
    let access = authorise(&state, &headers, &login).await?;
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

async fn changes(
    State(state): State<Shared>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<ChangesQuery>, QueryRejection>,
) -> Result<Json<ChangesAnswer>, MailError> {
    let Path((login, mailbox)) = path?;
    let access = authorise(&state, &headers, &login).await?;
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
async fn bulk(
    State(state): State<Shared>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Json<BulkAnswer>, MailError> {
    let Path(login) = path?;
    let access = authorise(&state, &headers, &login).await?;
    let body: BulkBody = json_body(&headers, body).await?;
    if body.read.len() + body.write.len() > MAX_MAILBOXES {
        return Err(MailError::TooLarge(format!(
            "one request may read and write at most {MAX_MAILBOXES} mailboxes"
        )));
    }
    for (i, mailbox) in body.read.iter().enumerate() {
        check_mailbox(mailbox).map_err(|e| in_item("read", i, mailbox, e))?;
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
        .map_err(|e| in_item("write", i, &name, e))?;
        if !written.insert(name.clone()) {
            return Err(in_item(
                "write",
                i,
                &name,
                MailError::BadRequest("the mailbox is written twice in one request".into()),
            ));
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

/// Says which item of a bulk request an error is about.
fn in_item(list: &str, index: usize, mailbox: &str, e: MailError) -> MailError {
    let context = |m: String| format!("{list}[{index}] (mailbox {mailbox:?}): {m}");
    match e {
        MailError::BadRequest(m) => MailError::BadRequest(context(m)),
        MailError::TooLarge(m) => MailError::TooLarge(context(m)),
        other => other,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &str) -> UidSet {
        parse_set("test", Some(s)).unwrap()
    }

    fn bitmap(s: &str) -> RoaringBitmap {
        let mut b = RoaringBitmap::new();
        for &(x, y) in set(s).ranges() {
            b.insert_range(x..=y);
        }
        b
    }

    fn bad(e: Result<impl std::fmt::Debug, MailError>) -> String {
        match e {
            Err(MailError::BadRequest(m)) => m,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn sequence_sets_are_written_by_runs() {
        assert_eq!(sequence_set(&RoaringBitmap::new()), "");
        assert_eq!(sequence_set(&bitmap("1:5,9,12:20")), "1:5,9,12:20");
        assert_eq!(
            sequence_set(&bitmap("4294967290:4294967295,1")),
            "1,4294967290:4294967295"
        );
        // Runs across the bitmap's 65,536-UID containers stay one range.
        let mut big = bitmap("1:200000");
        big.remove(70_000);
        big.optimize();
        assert_eq!(sequence_set(&big), "1:69999,70001:200000");
    }

    #[test]
    fn writes_are_checked_before_anything_happens() {
        let w = SeenWrite::parse("INBOX".into(), Some("1:5,9"), Some("7"), Some(3)).unwrap();
        assert_eq!(w.add, set("1:5,9"));
        assert_eq!(w.unchanged_since, Some(AggregateVersion(3)));
        let none = SeenWrite::parse("Sent".into(), None, Some(""), None).unwrap();
        assert!(none.add.is_empty() && none.remove.is_empty());
        assert!(
            bad(SeenWrite::parse("INBOX".into(), Some("5:"), None, None))
                .contains("\"5:\" is not a UID")
        );
        assert!(bad(SeenWrite::parse("INBOX".into(), None, Some("0"), None)).contains("UID 0"));
        assert!(bad(SeenWrite::parse(
            "INBOX".into(),
            Some("1:4294967296"),
            None,
            None
        ))
        .contains("above the highest UID"));
        assert!(
            bad(SeenWrite::parse("INBOX".into(), Some("1:*"), None, None)).contains("explicit")
        );
        assert!(bad(SeenWrite::parse(
            "INBOX".into(),
            Some("1:5"),
            Some("5:9"),
            None
        ))
        .contains("UID 5 is in both"));
        assert!(bad(SeenWrite::parse(String::new(), Some("1"), None, None)).contains("empty"));
        assert!(bad(SeenWrite::parse("a\0b".into(), Some("1"), None, None)).contains("NUL"));
        assert!(bad(SeenWrite::parse("x".repeat(1001), Some("1"), None, None)).contains("longer"));
        // 30,000 ranges each: within a set's bound, over a write's.
        let spaced = |first: u32| {
            (0..30_000)
                .map(|n| (first + 2 * n).to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        assert!(matches!(
            SeenWrite::parse(
                "INBOX".into(),
                Some(&spaced(1)),
                Some(&spaced(100_001)),
                None
            ),
            Err(MailError::TooLarge(_))
        ));
    }

    #[test]
    fn subtraction_splits_ranges() {
        let minus = |a: &str, b: &str| UidSet::from_ranges(subtract(&set(a), &set(b))).unwrap();
        assert_eq!(minus("1:10", "3,5:6").to_string(), "1:2,4,7:10");
        assert_eq!(minus("1:10,20:30", "5:25").to_string(), "1:4,26:30");
        assert_eq!(minus("1:10", "1:10").to_string(), "");
        assert_eq!(minus("5", "1:4,6:9").to_string(), "5");
        assert_eq!(
            minus("1:4294967295", "4294967295").to_string(),
            "1:4294967294"
        );
    }

    fn changes(changed: &str, seen: &str, complete: bool) -> SeenChanges {
        SeenChanges {
            modseq: AggregateVersion(9),
            seen: bitmap(seen),
            changed: if changed.is_empty() {
                RoaringBitmap::new()
            } else {
                bitmap(changed)
            },
            complete,
        }
    }

    #[test]
    fn condstore_leaves_out_what_changed_since() {
        // 7 and 9 changed after UNCHANGEDSINCE: neither is written, both
        // are reported; 8 never changed.
        let (add, remove, modified) =
            condstore(&set("1:8"), &set("9"), &changes("7,9,30", "1:3", true)).unwrap();
        assert_eq!(add.to_string(), "1:6,8");
        assert_eq!(remove.to_string(), "");
        assert_eq!(modified.to_string(), "7,9");
        let (add, remove, modified) =
            condstore(&set("1:3"), &set("4"), &changes("", "", true)).unwrap();
        assert_eq!(
            (add.to_string(), remove.to_string()),
            ("1:3".into(), "4".into())
        );
        assert!(modified.is_empty());
        // History shorter than asked: every UID of the write is modified.
        let (add, remove, modified) =
            condstore(&set("1:3"), &set("5"), &changes("", "", false)).unwrap();
        assert!(add.is_empty() && remove.is_empty());
        assert_eq!(modified.to_string(), "1:3,5");
    }

    #[test]
    fn only_writes_that_change_something_are_appended() {
        let seen = bitmap("1:10");
        assert!(!changes_anything(&seen, &set("2:5"), &set("11:20")));
        assert!(changes_anything(&seen, &set("10:11"), &UidSet::default()));
        assert!(changes_anything(&seen, &UidSet::default(), &set("10")));
    }

    #[test]
    fn changes_beyond_the_history_mean_everything() {
        let recent = changes_answer("INBOX".into(), &changes("3:5", "1:4", true));
        assert_eq!(
            (recent.changed.as_str(), recent.seen.as_str()),
            ("3:5", "3:4")
        );
        let old = changes_answer("INBOX".into(), &changes("", "1:4", false));
        assert_eq!(old.changed, EVERY_UID);
        assert_eq!(old.seen, "1:4");
        assert!(!old.complete);
    }
}
