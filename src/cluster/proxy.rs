//! `reprise proxy`: blue/green cutover without a failed request (`reprise
//! switch`, in [`super::switch`], asks for one).
//!
//! The proxy forwards every client request (any method, bodies streamed
//! both ways, the client's headers including Authorization) to the active
//! backend over pooled keep-alive connections. A switch, asked for on the
//! admin listener:
//!
//! 1. holds new requests at the door and waits for the ones in flight on
//!    the old backend to be answered (a write is answered once applied);
//! 2. asks the old backend to hand over: it stops writing and appends a
//!    fence naming the new backend to every partition of every topic;
//! 3. asks the new backend to take over: it applies the log up to the
//!    fence everywhere, so it has every acknowledged write, then leads;
//! 4. routes to the new backend and releases the held requests.
//!
//! When the old backend cannot be reached (it died), the new one appends
//! the fence itself; an old one that is in fact alive can no longer write
//! past it. See `engine/leadership.rs` for the backends' side.

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

use crate::config::constant_time_eq;
use crate::engine::{ClusterStatus, HandOver, Role, TakeOver, TakeOverRequest};
use crate::remote::API;
use crate::telemetry::{self, request_id};

/// Largest answer read from a backend's cluster endpoints.
const ADMIN_BODY_LIMIT: usize = 1 << 20;

struct Backend {
    name: String,
    /// `http://host:port`, no trailing slash.
    base: String,
    /// Requests forwarded to it and not yet answered (headers received).
    in_flight: AtomicUsize,
}

struct Proxy {
    backends: Vec<Backend>,
    active: AtomicUsize,
    /// True while a switch holds new requests.
    holding: watch::Sender<bool>,
    client: Client<HttpConnector, Body>,
    cluster_token: Option<String>,
    drain_timeout: Duration,
    /// One switch at a time.
    switching: tokio::sync::Mutex<()>,
    /// Requests held by the switch under way, and when the first of them
    /// arrived (µs since `started`): the longest hold ends at the release.
    held: AtomicU64,
    first_held_us: AtomicU64,
    started: Instant,
    last_switch: Mutex<Option<SwitchReport>>,
}

/// What a switch did: the engine's type, since the installation that
/// took over keeps the report the proxy posts it (its console shows it).
pub use crate::engine::SwitchReport;

#[derive(Debug, Serialize, Deserialize)]
pub struct ProxyStatus {
    pub active: String,
    pub holding: bool,
    pub backends: Vec<BackendStatus>,
    pub last_switch: Option<SwitchReport>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct BackendStatus {
    pub name: String,
    pub url: String,
    pub in_flight: usize,
}

/// Headers that describe one connection, not the request (RFC 9110
/// §7.6.1): never forwarded.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    // hyper frames the body again on the other side.
    headers.remove(header::TRANSFER_ENCODING);
}

/// Why a proxy does not start, or stops. The messages name the command's
/// flags: the options are those flags, and the operator reads these.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("a proxy needs at least two --backend NAME=URL to switch between")]
    TooFewBackends,
    #[error("--backend {spec:?}: {why}")]
    BadBackend { spec: String, why: &'static str },
    #[error("--backend {spec:?}: {url:?} is not a URL")]
    NotAUrl {
        spec: String,
        url: String,
        #[source]
        source: axum::http::uri::InvalidUri,
    },
    #[error("--backend {0} is given twice")]
    DuplicateBackend(String),
    #[error("--active {name}: no such backend ({known})")]
    UnknownActive { name: String, known: String },
    #[error("listening on {address}")]
    Listen {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("serving")]
    Serve(#[source] std::io::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// `NAME=URL` → (name, base URL without trailing slash).
fn parse_backend(spec: &str) -> Result<(String, String), ProxyError> {
    let bad = |why| ProxyError::BadBackend {
        spec: spec.to_string(),
        why,
    };
    let (name, url) = spec
        .split_once('=')
        .ok_or_else(|| bad("expected NAME=URL"))?;
    let (name, url) = (name.trim(), url.trim().trim_end_matches('/'));
    if name.is_empty() {
        return Err(bad("the name is empty"));
    }
    let uri: Uri = url.parse().map_err(|source| ProxyError::NotAUrl {
        spec: spec.to_string(),
        url: url.to_string(),
        source,
    })?;
    if uri.scheme_str() != Some("http") || uri.authority().is_none() {
        return Err(bad("expected http://HOST:PORT"));
    }
    if uri.path() != "/" && !uri.path().is_empty() {
        return Err(bad("a backend is a server root, without a path"));
    }
    Ok((name.to_string(), url.to_string()))
}

impl Proxy {
    fn now_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    /// Waits while a switch holds requests, then counts this one in flight
    /// on the active backend; returns the backend's index.
    async fn admit(&self) -> usize {
        let mut holding = self.holding.subscribe();
        let mut counted = false;
        loop {
            if *holding.borrow_and_update() {
                if !counted {
                    counted = true;
                    self.held.fetch_add(1, Ordering::Relaxed);
                    self.first_held_us
                        .fetch_min(self.now_us(), Ordering::Relaxed);
                }
                telemetry::metrics().proxy_holding(1);
                // The sender lives as long as the proxy.
                let _ = holding.wait_for(|h| !*h).await;
                telemetry::metrics().proxy_holding(-1);
            }
            let active = self.active.load(Ordering::SeqCst);
            self.backends[active]
                .in_flight
                .fetch_add(1, Ordering::SeqCst);
            // A switch that started meanwhile must either see this request
            // in flight, or this request must see the switch.
            if !*self.holding.borrow() && self.active.load(Ordering::SeqCst) == active {
                return active;
            }
            self.backends[active]
                .in_flight
                .fetch_sub(1, Ordering::SeqCst);
        }
    }

    async fn forward(&self, peer: Option<SocketAddr>, request: Request) -> Response {
        let index = self.admit().await;
        let backend = &self.backends[index];
        let _in_flight = InFlight(&backend.in_flight);
        telemetry::metrics().proxy_request(&backend.name);
        let (mut parts, body) = request.into_parts();
        // The backend logs the request under this id; the client gets it
        // back in the answer, also when the proxy answers itself.
        let id = request_id::of(parts.headers.get(&request_id::HEADER));
        parts.headers.insert(request_id::HEADER.clone(), id.clone());
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        parts.uri = match format!("{}{path}", backend.base).parse() {
            Ok(uri) => uri,
            Err(e) => return with_id(bad_gateway(&backend.name, &e.to_string()), id),
        };
        parts.version = axum::http::Version::HTTP_11;
        strip_hop_by_hop(&mut parts.headers);
        // The client's address, after whatever it sent: a backend that
        // trusts this proxy (`serve --trusted-proxy`) counts failed logins
        // under it.
        if let Some(value) = peer.and_then(|p| HeaderValue::from_str(&p.ip().to_string()).ok()) {
            parts.headers.append("x-forwarded-for", value);
        }
        match self.client.request(Request::from_parts(parts, body)).await {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                with_id(Response::from_parts(parts, Body::new(body)), id)
            }
            Err(e) => with_id(bad_gateway(&backend.name, &format!("{e:#}")), id),
        }
    }

    /// A call to a backend's cluster endpoint: a JSON POST with `body`, or
    /// a GET without.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        backend: &Backend,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, CallError> {
        let mut request = Request::builder().uri(format!("{}{API}/cluster{path}", backend.base));
        if let Some(token) = &self.cluster_token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(body) => {
                request = request
                    .method(Method::POST)
                    .header(header::CONTENT_TYPE, "application/json");
                let json = serde_json::to_vec(body)
                    .map_err(|e| CallError::Unreachable(format!("encoding the request: {e}")))?;
                Body::from(json)
            }
            None => Body::empty(),
        };
        let request = request
            .body(body)
            .map_err(|e| CallError::Unreachable(e.to_string()))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| CallError::Unreachable(format!("{e:#}")))?;
        let status = response.status();
        let bytes = axum::body::to_bytes(Body::new(response.into_body()), ADMIN_BODY_LIMIT)
            .await
            .map_err(|e| CallError::Unreachable(e.to_string()))?;
        if !status.is_success() {
            let message = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
            return Err(CallError::Refused(status, message));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| CallError::Refused(status, format!("unexpected answer: {e}")))
    }

    /// The cutover; see the module documentation.
    async fn switch(&self, to: &str) -> Result<SwitchReport, (StatusCode, String)> {
        let _one = self.switching.lock().await;
        let to_index = self
            .backends
            .iter()
            .position(|b| b.name == to)
            .ok_or_else(|| {
                (
                    StatusCode::NOT_FOUND,
                    format!("no backend named {to:?}; the proxy knows {}", self.names()),
                )
            })?;
        let from_index = self.active.load(Ordering::SeqCst);
        if from_index == to_index {
            return Err((StatusCode::CONFLICT, format!("{to} is already active")));
        }
        let (from, next) = (&self.backends[from_index], &self.backends[to_index]);
        let started = Instant::now();
        self.held.store(0, Ordering::Relaxed);
        self.first_held_us.store(u64::MAX, Ordering::Relaxed);
        self.holding.send_replace(true);
        tracing::info!(from = %from.name, to = %next.name, "switch: holding new requests");

        let drain_deadline = started + self.drain_timeout;
        while from.in_flight.load(Ordering::SeqCst) > 0 {
            if Instant::now() >= drain_deadline {
                self.holding.send_replace(false);
                return Err((
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "{} requests on {} were still running after {:?}; switch abandoned, \
                         {} stays active",
                        from.in_flight.load(Ordering::SeqCst),
                        from.name,
                        self.drain_timeout,
                        from.name
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let drained = started.elapsed();

        let body = serde_json::json!({ "to": next.name });
        let handed = self.call::<HandOver>(from, "/hand-over", Some(&body)).await;
        let handed_at = started.elapsed();
        let (request, hand_over_error) = match handed {
            Ok(hand_over) => (
                TakeOverRequest {
                    fences: Some(hand_over.fences),
                    timeout_ms: None,
                },
                None,
            ),
            // Gone, or no longer the leader: the new side fences itself,
            // which also stops an old side that is alive after all.
            Err(CallError::Unreachable(e)) | Err(CallError::Refused(StatusCode::CONFLICT, e)) => {
                tracing::warn!(backend = %from.name, error = %e, "hand-over failed; the new side fences itself");
                (TakeOverRequest::default(), Some(e))
            }
            Err(CallError::Refused(status, e)) => {
                self.holding.send_replace(false);
                return Err((
                    StatusCode::BAD_GATEWAY,
                    format!(
                        "{} could not hand over ({status}: {e}); it may have stopped writing: \
                         run the switch again",
                        from.name
                    ),
                ));
            }
        };
        let taken = self
            .call::<TakeOver>(next, "/take-over", Some(&request))
            .await;
        let taken_at = started.elapsed();
        let take_over = match taken {
            Ok(take_over) => take_over,
            Err(e) => {
                // The old side has stopped writing; route to the new one,
                // which answers reads, and let the operator retry.
                self.active.store(to_index, Ordering::SeqCst);
                self.holding.send_replace(false);
                return Err((
                    StatusCode::BAD_GATEWAY,
                    format!(
                        "{} did not take over ({e}); requests now go to it, but it does not \
                         write yet: run the switch again",
                        next.name
                    ),
                ));
            }
        };
        self.active.store(to_index, Ordering::SeqCst);
        self.holding.send_replace(false);
        let released_us = self.now_us();
        let total = started.elapsed();
        let first_held = self.first_held_us.load(Ordering::Relaxed);
        let longest_hold_us = released_us.saturating_sub(first_held.min(released_us));
        let report = SwitchReport {
            from: from.name.clone(),
            to: next.name.clone(),
            epoch: take_over.epoch,
            fenced_by: take_over.fenced_by,
            drain_ms: drained.as_millis() as u64,
            hand_over_ms: (handed_at - drained).as_millis() as u64,
            take_over_ms: (taken_at - handed_at).as_millis() as u64,
            total_ms: total.as_millis() as u64,
            held_requests: self.held.load(Ordering::Relaxed),
            longest_hold_ms: longest_hold_us as f64 / 1000.0,
            hand_over_error,
        };
        tracing::info!(?report, "switched");
        // The new leader shows it in its console; a failure to tell it
        // changes nothing of the switch.
        if let Err(e) = self
            .call::<serde::de::IgnoredAny>(next, "/switch-report", Some(&report))
            .await
        {
            tracing::warn!(backend = %next.name, error = %e, "the switch report was not delivered");
        }
        *self.last_switch.lock().unwrap_or_else(|p| p.into_inner()) = Some(report.clone());
        Ok(report)
    }

    /// What the metrics listener answers: the process-wide families and
    /// which backend is active, with its requests in flight.
    fn measure(self: &Arc<Self>) -> telemetry::Measure {
        let proxy = Arc::downgrade(self);
        Arc::new(move || {
            let mut scrape = telemetry::Scrape::default();
            if let Some(proxy) = proxy.upgrade() {
                let active = proxy.active.load(Ordering::SeqCst);
                for (i, backend) in proxy.backends.iter().enumerate() {
                    let labels = || vec![("backend", backend.name.clone())];
                    scrape.gauge(
                        "reprise_proxy_active_backend",
                        "1 for the backend the proxy sends requests to",
                        labels(),
                        if i == active { 1.0 } else { 0.0 },
                    );
                    scrape.gauge(
                        "reprise_proxy_in_flight_requests",
                        "Requests forwarded to a backend and not yet answered",
                        labels(),
                        backend.in_flight.load(Ordering::SeqCst) as f64,
                    );
                }
            }
            Box::pin(std::future::ready(telemetry::render(
                telemetry::Component::Proxy,
                scrape,
            )))
        })
    }

    fn names(&self) -> String {
        let names: Vec<&str> = self.backends.iter().map(|b| b.name.as_str()).collect();
        names.join(", ")
    }

    fn status(&self) -> ProxyStatus {
        ProxyStatus {
            active: self.backends[self.active.load(Ordering::SeqCst)]
                .name
                .clone(),
            holding: *self.holding.borrow(),
            backends: self
                .backends
                .iter()
                .map(|b| BackendStatus {
                    name: b.name.clone(),
                    url: b.base.clone(),
                    in_flight: b.in_flight.load(Ordering::SeqCst),
                })
                .collect(),
            last_switch: self
                .last_switch
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }

    /// The backend to route to at start, from what the log's fences say
    /// as the backends report them: the one that leads (the highest
    /// epoch, should two say so); else the one the last fence names, when
    /// a switch was cut short between the hand-over and the take-over
    /// (the fence is in the log, nobody leads yet): it is asked to take
    /// over, which completes that switch. None when no backend answers.
    async fn find_leader(&self) -> Option<usize> {
        let mut statuses = Vec::new();
        for (i, backend) in self.backends.iter().enumerate() {
            let asked = self.call::<ClusterStatus>(backend, "", None::<&()>);
            if let Ok(Ok(status)) = tokio::time::timeout(Duration::from_secs(2), asked).await {
                statuses.push((i, status.role));
            }
        }
        let leading = statuses
            .iter()
            .filter_map(|(i, role)| match role {
                Role::Leader { epoch } => Some((*epoch, *i)),
                _ => None,
            })
            .max();
        if let Some((_, i)) = leading {
            return Some(i);
        }
        let (epoch, named) = statuses
            .iter()
            .filter_map(|(_, role)| match role {
                Role::Follower {
                    epoch,
                    leader: Some(leader),
                } => Some((*epoch, leader.clone())),
                _ => None,
            })
            .max()?;
        let i = self.backends.iter().position(|b| b.name == named)?;
        tracing::warn!(backend = %named, epoch, "the last fence names a backend that does not lead yet (a switch was cut short); asking it to take over");
        let taken = self
            .call::<TakeOver>(
                &self.backends[i],
                "/take-over",
                Some(&TakeOverRequest::default()),
            )
            .await;
        match taken {
            Ok(take_over) => {
                tracing::info!(backend = %named, epoch = take_over.epoch, "took over")
            }
            // Routed there anyway: it answers reads, and a switch to it
            // (which the operator runs again) makes it write.
            Err(e) => tracing::error!(backend = %named, error = %e, "did not take over"),
        }
        Some(i)
    }
}

enum CallError {
    Unreachable(String),
    Refused(StatusCode, String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Unreachable(e) => write!(f, "unreachable: {e}"),
            CallError::Refused(status, e) => write!(f, "{status}: {e}"),
        }
    }
}

/// Counts a request in flight until its answer's headers are back.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn bad_gateway(backend: &str, reason: &str) -> Response {
    tracing::warn!(backend, reason, "backend request failed");
    (
        StatusCode::BAD_GATEWAY,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("the proxy could not reach backend {backend}: {reason}\n"),
    )
        .into_response()
}

fn with_id(mut response: Response, id: HeaderValue) -> Response {
    response
        .headers_mut()
        .insert(request_id::HEADER.clone(), id);
    response
}

async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    // Absent when the listener does not say who the peer is.
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| *peer);
    proxy.forward(peer, request).await
}

#[derive(Deserialize)]
struct SwitchRequest {
    to: String,
}

async fn admin_switch(
    State(proxy): State<Arc<Proxy>>,
    headers: HeaderMap,
    Json(request): Json<SwitchRequest>,
) -> Response {
    if !authorized(&proxy, &headers) {
        return unauthorized();
    }
    match proxy.switch(&request.to).await {
        Ok(report) => {
            let hold = Duration::from_millis(report.total_ms);
            telemetry::metrics().proxy_switch(Some(hold));
            Json(report).into_response()
        }
        Err((status, error)) => {
            // An unknown or already active backend is a refusal, not a
            // switch that failed.
            if status.is_server_error() {
                telemetry::metrics().proxy_switch(None);
            }
            tracing::error!(%error, "switch failed");
            (status, Json(serde_json::json!({ "error": error }))).into_response()
        }
    }
}

async fn admin_status(State(proxy): State<Arc<Proxy>>, headers: HeaderMap) -> Response {
    if !authorized(&proxy, &headers) {
        return unauthorized();
    }
    Json(proxy.status()).into_response()
}

/// Whether the request carries the cluster token (when there is one).
fn authorized(proxy: &Proxy, headers: &HeaderMap) -> bool {
    let Some(expected) = &proxy.cluster_token else {
        return true;
    };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.strip_prefix("Bearer "))
        .is_some_and(|token| constant_time_eq(token.as_bytes(), expected.as_bytes()))
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(serde_json::json!({ "error": "the cluster token is required (Bearer)" })),
    )
        .into_response()
}

/// How a proxy runs (`reprise proxy` flags).
#[derive(Clone, Debug)]
pub struct ProxyOptions {
    /// Address clients connect to.
    pub listen: String,
    /// What a client connection and request may take.
    pub limits: crate::net::Limits,
    /// HTTPS for clients, when given.
    pub tls: Option<std::sync::Arc<crate::net::Tls>>,
    /// The backends, as NAME=http://HOST:PORT; at least two.
    pub backends: Vec<String>,
    /// Address of the proxy's own API (`GET /status`, `POST /switch`).
    pub admin: String,
    /// The backend to start with (default: the one that says it leads,
    /// else the first).
    pub active: Option<String>,
    /// The backends' cluster token; also required by the proxy's API.
    pub cluster_token: Option<String>,
    /// How long a switch waits for requests in flight on the old backend.
    pub drain_timeout: Duration,
    /// Where Prometheus scrapes the proxy's `/metrics`, or `off`.
    pub metrics_listen: String,
}

/// Proxies until `shutdown` completes and the requests under way are
/// answered.
pub async fn run(
    args: ProxyOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ProxyError> {
    if args.backends.len() < 2 {
        return Err(ProxyError::TooFewBackends);
    }
    let mut backends = Vec::new();
    for spec in &args.backends {
        let (name, base) = parse_backend(spec)?;
        if backends.iter().any(|b: &Backend| b.name == name) {
            return Err(ProxyError::DuplicateBackend(name));
        }
        backends.push(Backend {
            name,
            base,
            in_flight: AtomicUsize::new(0),
        });
    }
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .build(connector);
    let proxy = Arc::new(Proxy {
        backends,
        active: AtomicUsize::new(0),
        holding: watch::channel(false).0,
        client,
        cluster_token: args.cluster_token.clone(),
        drain_timeout: args.drain_timeout,
        switching: tokio::sync::Mutex::new(()),
        held: AtomicU64::new(0),
        first_held_us: AtomicU64::new(u64::MAX),
        started: Instant::now(),
        last_switch: Mutex::new(None),
    });
    let active = match &args.active {
        Some(name) => proxy
            .backends
            .iter()
            .position(|b| &b.name == name)
            .ok_or_else(|| ProxyError::UnknownActive {
                name: name.clone(),
                known: proxy.names(),
            })?,
        None => proxy.find_leader().await.unwrap_or(0),
    };
    proxy.active.store(active, Ordering::SeqCst);

    let bind = |address: String, named: String| async move {
        tokio::net::TcpListener::bind(&address)
            .await
            .map_err(|source| ProxyError::Listen {
                address: named,
                source,
            })
    };
    let listener = bind(args.listen.clone(), args.listen.clone()).await?;
    let listener = crate::net::Listener::new(listener, args.limits, args.tls.clone());
    let admin = bind(args.admin.clone(), format!("{} (--admin)", args.admin)).await?;
    let metrics = match telemetry::listen_address(&args.metrics_listen) {
        Some(address) => {
            let named = format!("{address} (--metrics-listen)");
            Some(bind(address.to_string(), named).await?)
        }
        None => None,
    };
    tracing::info!(
        listen = %listener.local_addr()?,
        admin = %admin.local_addr()?,
        active = %proxy.backends[active].name,
        "proxying"
    );
    let clients = Router::new().fallback(forward).with_state(proxy.clone());
    let control = Router::new()
        .route("/status", get(admin_status))
        .route("/switch", post(admin_switch))
        .with_state(proxy.clone());
    // One signal stops both listeners.
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        stop.send_replace(true);
    });
    let until_stopped = |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    let serve_clients = listener.serve(clients, until_stopped(stopped.clone()));
    let serve_admin =
        axum::serve(admin, control).with_graceful_shutdown(until_stopped(stopped.clone()));
    let serve_metrics = async {
        match metrics {
            Some(listener) => {
                telemetry::serve(listener, proxy.measure(), until_stopped(stopped)).await
            }
            None => Ok(()),
        }
    };
    tokio::try_join!(serve_clients, serve_admin, serve_metrics).map_err(ProxyError::Serve)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_are_names_and_server_roots() {
        assert_eq!(
            parse_backend("blue=http://127.0.0.1:8080/").unwrap(),
            ("blue".to_string(), "http://127.0.0.1:8080".to_string())
        );
        for bad in [
            "blue",
            "=http://x:1",
            "blue=https://x:1",
            "blue=http://x:1/dav",
            "blue=not a url",
        ] {
            assert!(parse_backend(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn connection_headers_are_not_forwarded() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-private"),
        );
        headers.insert("x-private", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        headers.insert("depth", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut headers);
        let mut left: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
        left.sort_unstable();
        assert_eq!(left, ["authorization", "depth"]);
    }
}
