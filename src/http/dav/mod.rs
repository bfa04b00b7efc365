//! WebDAV, CalDAV and CardDAV over the views and the log.
//!
//! A request is authenticated against the directory view, its path is
//! parsed ([`formats::davpath`]), and the method handler either reads the
//! views ([`read`]) or builds one event and hands it to the engine
//! ([`write`], [`files`]), which appends it, waits until the projection
//! applied it and returns the outcome recorded for it. Nothing here keeps state that the
//! log does not hold, except caches keyed by log positions.

mod attachments;
mod auth;
mod cache;
mod error;
mod files;
mod principals;
mod props;
mod read;
mod resource;
mod schedule;
mod share;
pub(crate) mod sharing;
mod sync_token;
mod throttle;
mod write;

pub use error::{retry_after, throttled_message, DavError, DavResult};
pub use schedule::DEFAULT_MAX_ATTENDEES;
pub use throttle::LoginLimits;

use crate::engine::Engine;
use auth::{Authenticated, Authenticator};
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use events::{AggregateVersion, EventEnvelope, Payload};
use formats::davpath::{self as path, DavPath};
use futures::StreamExt;
use objects::ObjectStore;
use projections::directory::UserRecord;
use projections::registry::Views;
use projections::{Outcome, Rejection};
use resource::Ctx;
use std::sync::Arc;
use std::time::Duration;

/// Methods a client may use; OPTIONS says so in `Allow`.
const ALLOW: &str = "OPTIONS, GET, HEAD, POST, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, MKCALENDAR, COPY, MOVE, REPORT";
/// Only what is implemented: no class 2 without LOCK.
const DAV_CLASSES: &str =
    "1, 3, calendar-access, addressbook, extended-mkcol, calendarserver-sharing, \
     calendar-managed-attachments, calendar-auto-schedule";
/// Default for `--max-resource-size`.
pub const DEFAULT_MAX_RESOURCE_SIZE: u64 = 10 * 1024 * 1024;
/// Default for `--max-xml-size`: an XML request body names properties,
/// hrefs or a query, never a calendar, and the largest a client sends (a
/// multiget of a thousand hrefs) is about 100 KiB.
pub const DEFAULT_MAX_XML_SIZE: u64 = 1024 * 1024;
/// Default for `--max-vcard-size`. Phones and hosted address books keep
/// contact photos small (iCloud refuses cards over 256 KiB, Android stores
/// a 720-pixel photo); a 3 MB camera picture kept whole is 4 MiB once in
/// base64, and fits.
pub const DEFAULT_MAX_VCARD_SIZE: u64 = 4 * 1024 * 1024;
/// Largest managed attachment by default: 25 MiB, as large as mail
/// systems commonly let an attachment be.
pub const DEFAULT_MAX_ATTACHMENT_SIZE: u64 = 25 * 1024 * 1024;
/// How much of the body of a request refused before its handler (401,
/// 403, 503...) is read so the connection can serve the client's retry;
/// a larger body is left and the connection closed.
const DRAIN_BEFORE_REFUSAL: usize = 1024 * 1024;
/// How long a writer waits for the log and its projection before 503.
const WRITE_TIMEOUT: Duration = Duration::from_secs(15);

/// Bounds on the work of one calendar query (`serve` flags).
#[derive(Clone, Copy, Debug)]
pub struct QueryLimits {
    /// Occurrences expanded per object (403 naming the object beyond).
    pub per_object: usize,
    /// Occurrences produced by a whole query (403 beyond).
    pub per_query: usize,
    /// Time a query may run (503 beyond).
    pub time: Duration,
}

impl QueryLimits {
    pub const DEFAULT: QueryLimits = QueryLimits {
        per_object: 10_000,
        per_query: 100_000,
        time: Duration::from_secs(10),
    };
}

/// The DAV service: authentication and caches; the engine is passed in.
pub struct Dav {
    auth: Arc<Authenticator>,
    cache: cache::RenderCache,
    principals: principals::SearchIndex,
    /// Largest body of a calendar object or contact, which the log
    /// carries: `--max-resource-size`, capped to what a record holds.
    max_resource_size: u64,
    limits: BodyLimits,
    query: QueryLimits,
    objects: ObjectStore,
    /// Proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    trusted_proxies: Vec<std::net::IpAddr>,
}

/// How logins are guarded against guessing (`serve` flags).
#[derive(Clone, Debug, Default)]
pub struct LoginGuard {
    pub limits: LoginLimits,
    /// Peers whose `X-Forwarded-For` is believed: the address they say
    /// is the client's, not their own, is what failures are counted under.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

/// How large what clients send may be.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimits {
    /// A calendar object, a vCard or an XML body, which the log carries
    /// (`--max-resource-size`, capped to what a record of the log holds).
    pub inline: u64,
    /// A file of the file area, kept in the object store
    /// (`--max-resource-size` as given).
    pub file: u64,
    /// A managed attachment (`--max-attachment-size`).
    pub attachment: u64,
    /// Managed attachments on one calendar object
    /// (`--max-attachments-per-resource`).
    pub attachments_per_resource: usize,
    /// Attendees of one scheduling object, and of one free-busy request
    /// to the outbox (`--max-attendees`).
    pub attendees: usize,
    /// An XML request body, or the outbox's free-busy request
    /// (`--max-xml-size`).
    pub xml: u64,
    /// A vCard (`--max-vcard-size`, capped to `inline`).
    pub vcard: u64,
    /// Content lines of one calendar object or vCard a client stores
    /// (`--max-object-lines`).
    pub object_lines: usize,
    /// Hrefs of a multiget and properties one body names
    /// (`--max-multiget-hrefs`, `--max-request-properties`).
    pub request: formats::xml::RequestLimits,
}

/// One authenticated request on its way through a handler.
pub(crate) struct Call<'a> {
    pub engine: &'a Engine,
    /// The views this request reads, the same from start to end even if
    /// the engine switches versions meanwhile.
    pub views: Arc<Views>,
    pub dav: &'a Dav,
    pub user: UserRecord,
    pub principal: String,
    pub path: DavPath,
    pub headers: HeaderMap,
    /// The request URI's query, undecoded (`action=attachment-add&rid=…`).
    pub query: Option<String>,
    /// Taken once by [`Call::body`]; in a mutex only so that `&Call` is
    /// `Send` (a body stream is not `Sync`).
    body: std::sync::Mutex<Option<Body>>,
}

impl<'a> Call<'a> {
    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            views: &self.views,
            user: &self.user,
            principal: &self.principal,
            max_resource_size: self.dav.max_resource_size,
            limits: self.dav.limits,
            query: self.dav.query,
        }
    }

    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Depth` header: 0, 1 or None for infinity; `default` if absent.
    pub fn depth(&self, default: Depth) -> DavResult<Depth> {
        match self.header(header::HeaderName::from_static("depth")) {
            None => Ok(default),
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "0" => Ok(Depth::Zero),
                "1" => Ok(Depth::One),
                "infinity" => Ok(Depth::Infinity),
                other => Err(DavError::bad_request(format!("bad Depth header {other:?}"))),
            },
        }
    }

    /// The request body, once; refused (413) before a byte is read when
    /// Content-Length says it is over `limit`.
    fn take_body(&mut self, limit: u64, too_large: impl Fn() -> DavError) -> DavResult<Body> {
        let declared = self
            .header(header::CONTENT_LENGTH)
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        Ok(self
            .body
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_default())
    }

    /// Reads the whole body, refusing (413) one over `--max-resource-size`
    /// before reading it when Content-Length says so, or as soon as it
    /// grows past.
    pub async fn body(&mut self, too_large: impl Fn() -> DavError) -> DavResult<Bytes> {
        self.body_within(self.dav.max_resource_size, too_large)
            .await
    }

    /// [`Call::body`] with a limit of its own.
    pub async fn body_within(
        &mut self,
        limit: u64,
        too_large: impl Fn() -> DavError,
    ) -> DavResult<Bytes> {
        let body = self.take_body(limit, &too_large)?;
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        axum::body::to_bytes(body, limit)
            .await
            .map_err(|_| too_large())
    }

    /// Streams the body into the object store's spool, hashing it on the
    /// way, so that it can be stored under its name before its event is
    /// appended; up to `limit`, with `too_large` beyond it (before a byte
    /// is read when Content-Length says so).
    pub async fn spool_body(
        &mut self,
        limit: u64,
        too_large: impl Fn() -> DavError,
    ) -> DavResult<objects::Spooled> {
        let body = self.take_body(limit, &too_large)?;
        let mut spool = self.dav.objects.spool(limit).await?;
        let mut chunks = body.into_data_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk
                .map_err(|e| DavError::bad_request(format!("reading the request body: {e}")))?;
            match spool.write(&chunk).await {
                Err(objects::ObjectError::TooLarge { .. }) => return Err(too_large()),
                other => other?,
            }
        }
        Ok(spool.finish().await?)
    }

    /// An object of the store as a response body: whole and checked when
    /// small, else streamed and cut short if it turns out damaged.
    pub async fn object_body(&self, object: &events::ObjectRef) -> DavResult<Body> {
        Ok(match self.dav.objects.read(object).await? {
            objects::ObjectBody::Whole(bytes) => Body::from(bytes),
            objects::ObjectBody::Stream(chunks) => Body::from_stream(chunks),
        })
    }

    pub fn objects(&self) -> &ObjectStore {
        &self.dav.objects
    }

    pub fn limits(&self) -> &BodyLimits {
        &self.dav.limits
    }

    /// An XML request body, up to `--max-xml-size`; empty when the client
    /// sent none.
    pub async fn xml_body(&mut self) -> DavResult<Bytes> {
        let limit = self.dav.limits.xml;
        let body = self
            .body_within(limit, || request_too_large("XML body", limit))
            .await?;
        if !body.iter().all(u8::is_ascii_whitespace) {
            if let Some(ct) = self.header(header::CONTENT_TYPE) {
                let ct = ct.to_ascii_lowercase();
                if !(ct.contains("xml")) {
                    return Err(DavError::status(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        format!("expected an XML body, got {ct}"),
                    ));
                }
            }
        }
        Ok(body)
    }

    /// Appends one event about this principal's data, expecting the
    /// aggregate at `expected`, and returns its recorded outcome.
    pub async fn submit(&self, payload: Payload, expected: AggregateVersion) -> DavResult<Outcome> {
        self.submit_to(&self.principal, payload, expected).await
    }

    /// [`Call::submit`] into `owner`'s partition (a share's owner), with
    /// this principal as the actor.
    pub async fn submit_to(
        &self,
        owner: &str,
        payload: Payload,
        expected: AggregateVersion,
    ) -> DavResult<Outcome> {
        let event = EventEnvelope::now(owner, self.principal.clone(), payload).expecting(expected);
        self.submit_event(event).await
    }

    /// Appends one event this principal wrote and returns its outcome.
    pub async fn submit_event(&self, event: EventEnvelope) -> DavResult<Outcome> {
        let submitted = tokio::time::timeout(WRITE_TIMEOUT, self.engine.submit(vec![event]))
            .await
            .map_err(|_| {
                DavError::Unavailable(format!(
                    "the log did not confirm the write within {WRITE_TIMEOUT:?}"
                ))
            })??;
        submitted
            .into_iter()
            .next()
            .ok_or_else(|| DavError::Unavailable("the write got no outcome".into()))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Depth {
    Zero,
    One,
    Infinity,
}

pub fn payload_too_large() -> DavError {
    DavError::status(
        StatusCode::PAYLOAD_TOO_LARGE,
        "the request body is larger than this server accepts",
    )
}

/// 413 for a request body over its own limit (an XML body, a free-busy
/// request), saying which and how large it may be.
pub fn request_too_large(what: &str, limit: u64) -> DavError {
    DavError::status(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the {what} is larger than this server accepts ({limit} bytes at most)"),
    )
}

/// Maps an outcome that is not `Applied` to its HTTP answer.
pub fn rejected(outcome: Outcome) -> DavError {
    match outcome {
        Outcome::Applied { .. } => DavError::status(StatusCode::INTERNAL_SERVER_ERROR, "applied"),
        Outcome::Quarantined { reason } => DavError::forbidden(reason),
        Outcome::Rejected { rejection } => match rejection {
            Rejection::VersionConflict { .. } => DavError::precondition_failed(),
            Rejection::UidConflict { href } => {
                DavError::conflict(format!("another resource already holds this UID: {href}"))
            }
            Rejection::NotFound { what } => DavError::conflict(format!("{what} not found")),
            Rejection::AlreadyExists { what } => DavError::status(
                StatusCode::PRECONDITION_FAILED,
                format!("{what} already exists"),
            ),
            Rejection::UnsupportedComponent { .. } => DavError::precondition(
                StatusCode::FORBIDDEN,
                formats::xml::CALDAV,
                "supported-calendar-component",
            ),
            Rejection::NotAllowed { reason } => DavError::forbidden(reason),
            // The engine turns these into SubmitError::NotLeader first.
            fenced @ Rejection::Fenced { .. } => DavError::Unavailable(fenced.to_string()),
        },
    }
}

/// ETag comparison as clients really send them: `W/` and escaped quotes
/// (Evolution) ignored.
fn bare_etag(tag: &str) -> &str {
    let tag = tag.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    tag.trim_matches(|c| c == '"' || c == '\\')
}

/// Evaluates `If-Match` and `If-None-Match` (RFC 9110 §13) for a write
/// against the current ETag (None when the resource does not exist).
pub fn check_write_conditions(headers: &HeaderMap, current: Option<&str>) -> DavResult<()> {
    let matches = |list: &str| {
        list.split(',').any(|t| {
            let t = t.trim();
            t == "*" && current.is_some() || current.is_some_and(|c| bare_etag(t) == bare_etag(c))
        })
    };
    if let Some(v) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) {
        if !matches(v) {
            return Err(DavError::precondition_failed());
        }
    }
    if let Some(v) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        if matches(v) {
            return Err(DavError::status(
                StatusCode::PRECONDITION_FAILED,
                "the resource exists (If-None-Match)",
            ));
        }
    }
    Ok(())
}

/// `If-None-Match` on a read: true when the client's copy is current.
pub fn not_modified(headers: &HeaderMap, current: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|list| {
            list.split(',')
                .any(|t| t.trim() == "*" || bare_etag(t) == bare_etag(current))
        })
}

impl Dav {
    pub fn new(
        limits: BodyLimits,
        query: QueryLimits,
        objects: ObjectStore,
        guard: LoginGuard,
    ) -> anyhow::Result<Dav> {
        let mut salt = [0u8; 16];
        getrandom(&mut salt)?;
        let trusted_proxies = guard
            .trusted_proxies
            .into_iter()
            .map(crate::http::peer::canonical)
            .collect();
        Ok(Dav {
            auth: Arc::new(Authenticator::new(salt, guard.limits)),
            trusted_proxies,
            cache: cache::RenderCache::new(64 * 1024 * 1024),
            principals: principals::SearchIndex::default(),
            max_resource_size: limits.inline,
            limits,
            query,
            objects,
        })
    }

    /// Proxies whose `X-Forwarded-For` is believed.
    pub(crate) fn trusted_proxies(&self) -> &[std::net::IpAddr] {
        &self.trusted_proxies
    }

    /// Authenticates a Basic `Authorization` value sent from `client`
    /// (its address, when known), for the JSON APIs too.
    pub async fn authenticate(
        &self,
        engine: &Engine,
        authorization: Option<&str>,
        client: Option<std::net::IpAddr>,
    ) -> DavResult<UserRecord> {
        match self
            .auth
            .authenticate(&engine.views().directory, authorization, client)
            .await?
        {
            Authenticated::User(user) => Ok(user),
            Authenticated::Refused => Err(DavError::Unauthorized),
            Authenticated::Disabled => Err(DavError::forbidden("this account is disabled")),
            Authenticated::Busy => Err(DavError::Unavailable(
                "too many logins are being checked; retry shortly".into(),
            )),
            Authenticated::Throttled(wait) => Err(DavError::Throttled(wait)),
        }
    }

    /// Answers any request outside the admin API.
    pub async fn handle(&self, engine: &Engine, request: Request) -> Response {
        let started = std::time::Instant::now();
        let method = request.method().clone();
        let uri_path = request.uri().path().to_string();
        let response = match self.dispatch(engine, request).await {
            Ok(response) => response,
            Err(e) => e.into_response(),
        };
        tracing::debug!(%method, path = %uri_path, status = response.status().as_u16(),
            elapsed_us = started.elapsed().as_micros() as u64, "dav");
        response
    }

    /// What is decided before a handler runs: redirects, readiness, the
    /// path, OPTIONS, credentials and where the user may go.
    async fn admit(
        &self,
        engine: &Engine,
        parts: &axum::http::request::Parts,
    ) -> DavResult<Admitted> {
        let uri_path = parts.uri.path();
        // RFC 6764, and the Nextcloud path GNOME Online Accounts probes.
        let redirected = [
            "/.well-known/caldav",
            "/.well-known/carddav",
            "/remote.php/dav",
        ];
        if redirected.contains(&uri_path.trim_end_matches('/')) {
            return Ok(Admitted::Answer(
                (
                    StatusCode::MOVED_PERMANENTLY,
                    [(header::LOCATION, path::ROOT)],
                )
                    .into_response(),
            ));
        }
        // A view still being built from the log (a first start, or a new
        // projection version after an upgrade) would answer with part of
        // a calendar, which a syncing client takes for deletions.
        if !engine.ready() {
            return Err(DavError::Unavailable(
                "the views are still being built from the log; retry shortly".into(),
            ));
        }
        let path = DavPath::parse(uri_path).map_err(|e| match e {
            path::PathError::NotFound => DavError::not_found(),
            bad => DavError::bad_request(bad.to_string()),
        })?;
        if parts.method == Method::OPTIONS {
            return Ok(Admitted::Answer(options()));
        }
        let authorization = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let client = crate::http::peer::client_address(
            &parts.extensions,
            &parts.headers,
            &self.trusted_proxies,
        );
        let user = self.authenticate(engine, authorization, client).await?;
        authorise(&path, &user, &parts.method)?;
        Ok(Admitted::Call(user, path))
    }

    async fn dispatch(&self, engine: &Engine, request: Request) -> DavResult<Response> {
        let (parts, body) = request.into_parts();
        let (user, path) = match self.admit(engine, &parts).await {
            Ok(Admitted::Call(user, path)) => (user, path),
            Ok(Admitted::Answer(response)) => return Ok(response),
            Err(refused) => {
                // Clients send their first request without credentials and
                // retry on the same connection after the 401: read the body
                // of a refused request, so the connection stays usable
                // rather than being dropped mid-exchange.
                let _ = axum::body::to_bytes(body, DRAIN_BEFORE_REFUSAL).await;
                return Err(refused);
            }
        };
        let principal = user.principal();
        let mut call = Call {
            engine,
            views: engine.views(),
            dav: self,
            user,
            principal,
            path,
            headers: parts.headers,
            query: parts.uri.query().map(str::to_string),
            body: std::sync::Mutex::new(Some(body)),
        };
        if let DavPath::Attachment(owner, id) = call.path.clone() {
            return match parts.method.as_str() {
                "GET" => attachments::get(&call, &owner, &id, true).await,
                "HEAD" => attachments::get(&call, &owner, &id, false).await,
                other => Err(DavError::method_not_allowed(format!(
                    "{other} on an attachment: it is managed by POST on its calendar object"
                ))),
            };
        }
        match parts.method.as_str() {
            "PROPFIND" => read::propfind(&mut call).await,
            "REPORT" => read::report(&mut call).await,
            "GET" => read::get(&call, true).await,
            "HEAD" => read::get(&call, false).await,
            "PROPPATCH" => write::proppatch(&mut call).await,
            "MKCOL" | "MKCALENDAR" => write::mkcol(&mut call, parts.method.as_str()).await,
            "PUT" => write::put(&mut call).await,
            "DELETE" => write::delete(&mut call).await,
            "COPY" | "MOVE" => write::copy_move(&mut call, parts.method == "MOVE").await,
            "POST" if attachments::is_attachment_post(&call) => attachments::post(&mut call).await,
            "POST" if schedule::is_outbox(&call) => schedule::outbox_post(&mut call).await,
            "POST" => share::post(&mut call).await,
            other => Err(DavError::method_not_allowed(format!(
                "{other} is not supported"
            ))),
        }
    }
}

/// The outcome of [`Dav::admit`].
enum Admitted {
    /// Answered before any handler (a redirect, OPTIONS).
    Answer(Response),
    Call(UserRecord, DavPath),
}

/// Who may go where, before anything is loaded: a user's own homes,
/// file area and principal; read-only the principals of their domain
/// (users, groups, rooms and equipment). Anything else is 403, whether it
/// exists or not. Shared collections appear inside the user's own homes
/// and are checked when loaded (`sharing::resolve`).
fn authorise(path: &DavPath, user: &UserRecord, method: &Method) -> DavResult<()> {
    let me = user.principal();
    let reading = matches!(method.as_str(), "PROPFIND" | "REPORT" | "GET" | "HEAD");
    match path {
        DavPath::Principal(p) if *p == me => Ok(()),
        DavPath::Principal(p) | DavPath::GroupPrincipal(p) | DavPath::ResourcePrincipal(p) => {
            let same_domain = sharing::domain_of(p) == user.domain;
            if same_domain && reading {
                Ok(())
            } else {
                Err(DavError::forbidden("this belongs to another principal"))
            }
        }
        // The calendars of the rooms and equipment of one's domain, read.
        other
            if reading
                && other
                    .owner()
                    .and_then(projections::directory::resource_of_calendar_owner)
                    .is_some_and(|(_, domain)| domain == user.domain) =>
        {
            Ok(())
        }
        other if other.owner().is_some_and(|owner| owner != me) => {
            Err(DavError::forbidden("this belongs to another principal"))
        }
        _ => Ok(()),
    }
}

fn options() -> Response {
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    headers.insert("DAV", HeaderValue::from_static(DAV_CLASSES));
    headers.insert(header::ALLOW, HeaderValue::from_static(ALLOW));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}

fn getrandom(buf: &mut [u8]) -> anyhow::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .map_err(|e| anyhow::anyhow!("reading /dev/urandom: {e}"))
}

/// A 207 Multi-Status response.
pub fn multistatus(xml: impl Into<Body>) -> Response {
    (
        StatusCode::MULTI_STATUS,
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        xml.into(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn write_conditions_follow_rfc_9110() {
        let cur = Some("\"7\"");
        assert!(check_write_conditions(&headers(&[]), cur).is_ok());
        assert!(check_write_conditions(&headers(&[("if-match", "\"7\"")]), cur).is_ok());
        assert!(check_write_conditions(&headers(&[("if-match", "\"\\\"7\\\"\"")]), cur).is_ok());
        assert!(check_write_conditions(&headers(&[("if-match", "W/\"7\", \"8\"")]), cur).is_ok());
        assert!(check_write_conditions(&headers(&[("if-match", "\"6\"")]), cur).is_err());
        assert!(check_write_conditions(&headers(&[("if-match", "*")]), None).is_err());
        assert!(check_write_conditions(&headers(&[("if-none-match", "*")]), cur).is_err());
        assert!(check_write_conditions(&headers(&[("if-none-match", "*")]), None).is_ok());
        assert!(not_modified(
            &headers(&[("if-none-match", "\"7\"")]),
            "\"7\""
        ));
    }
}
