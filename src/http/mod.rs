//! Every HTTP surface of a running server: WebDAV/CalDAV/CardDAV (see
//! [`dav`]) for clients, the mail seen-flags API ([`mail`]), health and
//! readiness probes, and the admin API the command line uses through
//! `--server` ([`admin`]). This module is the router and the probes;
//! `reprise serve` (in `cli`) opens the engine and the listener.

mod admin;
mod build_rate;
mod caller;
mod console;
pub mod dav;
pub mod mail;
mod observe;
mod openapi;
mod peer;
mod scrape;

pub(crate) use self::caller::{identify, require_admin, Caller};

use crate::engine::{Engine, SubmitError};
use crate::http::admin::operations;
use crate::http::dav::{BodyLimits, Dav, LoginGuard, QueryLimits};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::future::Future;
use std::sync::Arc;

pub(crate) struct AppState {
    pub(crate) engine: Engine,
    pub(crate) dav: Dav,
    /// The local admin token (`serve.json`).
    token: String,
    /// Admits the proxy to `/admin/v1/cluster` (`--cluster-token`).
    cluster_token: Option<String>,
    /// The operator console's sessions and measurements (`/admin/`).
    console: console::Console,
    /// Building versions' rates, for the console and the metrics.
    build_rates: build_rate::BuildRates,
}

pub(crate) type Shared = Arc<AppState>;

/// What a server needs besides its engine.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Largest request body accepted, in bytes.
    pub max_resource_size: u64,
    /// Largest managed attachment (RFC 8607), in bytes.
    pub max_attachment_size: u64,
    /// Most managed attachments on one calendar object.
    pub max_attachments_per_resource: usize,
    /// Most attendees of one scheduling object.
    pub max_attendees: usize,
    /// What one request may ask (`BodyLimits`' fields of the same names):
    /// the largest XML body, vCard, content lines of an object, hrefs of
    /// a multiget and properties named.
    pub max_xml_size: u64,
    pub max_vcard_size: u64,
    pub max_object_lines: usize,
    pub request_limits: formats::xml::RequestLimits,
    /// Where file bodies and attachments go (probed by the caller).
    pub objects: objects::ObjectStore,
    pub query: QueryLimits,
    /// The local admin token, as written to `serve.json`.
    pub token: String,
    /// The proxy's shared secret for `/admin/v1/cluster`.
    pub cluster_token: Option<String>,
    /// Limits on failed logins, and whose `X-Forwarded-For` is believed.
    pub login: LoginGuard,
}

/// The HTTP side of a running server: the engine and what the handlers
/// share.
pub struct Server {
    state: Shared,
}

impl Server {
    pub fn new(engine: Engine, options: ServeOptions) -> anyhow::Result<Server> {
        let mut max_resource_size = options.max_resource_size;
        // Large bodies go to the object store: then only the inline limit
        // must fit in a record (see `LargeBodies`).
        let capped = engine
            .max_body_bytes()
            .filter(|_| !engine.stores_large_bodies());
        if let Some(fits) = capped {
            if fits < max_resource_size {
                tracing::info!(
                    "calendar and contact bodies are limited to {fits} bytes rather than \
                     --max-resource-size {max_resource_size}: larger ones would not fit in a \
                     record of the log (files go to the object store)"
                );
                max_resource_size = fits;
            }
        }
        let limits = BodyLimits {
            inline: max_resource_size,
            file: options.max_resource_size,
            attachment: options.max_attachment_size,
            attachments_per_resource: options.max_attachments_per_resource,
            attendees: options.max_attendees,
            xml: options.max_xml_size,
            vcard: options.max_vcard_size.min(max_resource_size),
            object_lines: options.max_object_lines,
            request: options.request_limits,
        };
        let dav = Dav::new(limits, options.query, options.objects, options.login)?;
        Ok(Server {
            state: Arc::new(AppState {
                engine,
                dav,
                token: options.token,
                cluster_token: options.cluster_token,
                console: console::Console::new(),
                build_rates: build_rate::BuildRates::default(),
            }),
        })
    }

    /// Answers on `listener` until `shutdown` completes and the requests
    /// under way are answered.
    pub async fn serve(
        &self,
        listener: crate::net::Listener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // The scheduling process manager runs beside the requests and
        // stops with them, so that the engine is free for a clean shutdown.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let state = self.state.clone();
        let stopped_too = stopped.clone();
        let scheduling = tokio::spawn(async move { state.engine.run_scheduling(stopped).await });
        // The mail sender (iMIP) likewise; a mail under way is finished
        // and recorded before it returns.
        let state = self.state.clone();
        let mail = tokio::spawn(async move { state.engine.run_mail(stopped_too).await });
        // The listener gives each request its peer's address, which failed
        // logins are counted under.
        let served = listener.serve(router(self.state.clone()), shutdown).await;
        let _ = stop.send(true);
        let _ = scheduling.await;
        let _ = mail.await;
        served
    }

    /// What the metrics listener answers: the process-wide families and
    /// this server's projections, measured at each scrape.
    pub fn metrics(&self) -> crate::telemetry::Measure {
        // Weak: a scrape must not keep the engine from its clean shutdown.
        let state = Arc::downgrade(&self.state);
        Arc::new(move || {
            let state = state.upgrade();
            Box::pin(async move {
                let measured = match &state {
                    Some(state) => scrape::measure(&state.engine, &state.build_rates).await,
                    None => crate::telemetry::Scrape::default(),
                };
                crate::telemetry::render(crate::telemetry::Component::Server, measured)
            })
        })
    }

    /// The engine back for a clean shutdown; `None` while a request still
    /// holds it.
    pub fn into_engine(self) -> Option<Engine> {
        Arc::try_unwrap(self.state).ok().map(|state| state.engine)
    }
}

/// An API error: a status and a message, as `{"error": "..."}`.
pub struct ApiError(StatusCode, String);

/// The body of every error answer of the admin and mail APIs.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody {
    pub(crate) error: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.0, Json(ErrorBody { error: self.1 })).into_response();
        if self.0 == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("2"));
        }
        response
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        if e.too_large() {
            return ApiError(StatusCode::PAYLOAD_TOO_LARGE, e.to_string());
        }
        ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
    }
}

impl From<projections::StoreError> for ApiError {
    fn from(e: projections::StoreError) -> Self {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))
    }
}

fn router(state: Shared) -> Router {
    let admin = Router::new()
        .route("/projections/status", get(operations::projection_status))
        .route("/projections/digest", get(operations::projection_digest))
        .route("/snapshot", post(admin::snapshot::create_snapshot))
        .route("/export/{user}", get(operations::export))
        .merge(admin::directory::routes())
        .route("/import/{kind}", post(operations::import))
        .route("/log", get(operations::log_info))
        .route("/log/end", get(operations::log_end))
        .route("/log/read", post(operations::log_read))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_admin))
        .merge(console::data_routes(state.clone()))
        .nest("/cluster", admin::cluster::routes(state.clone()))
        // Describes the API and reveals no data: no credentials.
        .route("/openapi.json", get(openapi::openapi_json));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .nest("/admin/v1", admin)
        .merge(console::routes())
        .nest("/api/v1/mail", crate::http::mail::router())
        .fallback(dav)
        .layer(middleware::from_fn(observe::observe))
        .with_state(state)
}

async fn dav(State(state): State<Shared>, request: Request) -> Response {
    state.dav.handle(&state.engine, request).await
}

async fn readyz(State(state): State<Shared>) -> Response {
    if let Some(stopped) = state.engine.stopped() {
        (StatusCode::SERVICE_UNAVAILABLE, format!("{stopped}\n")).into_response()
    } else if let Some(full) = state.engine.disk_full() {
        // Reads go on; writes resume once space is freed, without a
        // restart.
        (StatusCode::SERVICE_UNAVAILABLE, format!("{full}\n")).into_response()
    } else if state.engine.ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "catching up with the log\n",
        )
            .into_response()
    }
}
