//! The operator console at `/admin/`: a page for administrators showing
//! this installation, the log, every projection version (with a progress
//! bar and ETA while one builds), quarantined events and the last
//! switches, polling one JSON endpoint (`GET /admin/v1/console`, routed
//! in the router).
//!
//! The page, its script and its style are built into the binary; the
//! script is an asset of its own so that the Content-Security-Policy can
//! forbid inline scripts. A browser cannot send Basic credentials from a
//! form portably, so the page logs in with a form checked by the same code
//! as the admin API ([`crate::http::identify`]) and keeps a session
//! cookie ([`sessions`]).

mod sessions;
mod status;

use crate::http::dav::{retry_after, throttled_message, DavError};
use crate::http::peer::ClientAddress;
use crate::http::{identify, ApiError, Caller, Shared};
use axum::extract::{Form, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::Engine as _;
use serde::Deserialize;

pub(crate) use self::sessions::Sessions;
use self::status::Sampler;

const INDEX: &str = include_str!("index.html");
const LOGIN: &str = include_str!("login.html");
const SCRIPT: &str = include_str!("console.js");
const STYLE: &str = include_str!("console.css");

/// What the console keeps in memory on this installation: sessions, the
/// build rates it measured and the switches it read from the log.
pub(crate) struct Console {
    pub(crate) sessions: Sessions,
    sampler: Sampler,
}

impl Console {
    pub(crate) fn new() -> Console {
        Console {
            sessions: Sessions::new(),
            sampler: Sampler::new(),
        }
    }
}

/// The page, its assets and logging in and out, under `/admin`.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin", get(|| async { Redirect::permanent("/admin/") }))
        .route("/admin/", get(page))
        .route("/admin/console.js", get(script))
        .route("/admin/console.css", get(style))
        .route("/admin/login", post(login))
        .route("/admin/logout", post(logout))
        .layer(middleware::map_response(protect))
}

/// The console's data, relative to the admin API's root: admitted by a
/// console session or by what the admin API admits.
pub(crate) fn data_routes(state: Shared) -> Router<Shared> {
    Router::new()
        .route("/console", get(data))
        .route_layer(middleware::from_fn_with_state(state, require_session))
        .layer(middleware::map_response(protect))
}

/// Headers on everything the console answers: nothing from elsewhere runs
/// in the page, nothing is sniffed, framed or kept in a cache.
async fn protect(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = |headers: &mut HeaderMap, name, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::CACHE_CONTROL, "no-store");
    response
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

/// The login page with a notice (401 unless said otherwise).
fn login_page(status: StatusCode, notice: &str) -> Response {
    let notice = if notice.is_empty() {
        String::new()
    } else {
        format!(
            "<p class=\"notice\" role=\"alert\">{}</p>",
            // XML's escaping covers HTML text: markup characters and quotes.
            formats::xml::escape_attr(notice)
        )
    };
    html(status, LOGIN.replace("<!--notice-->", &notice))
}

/// `GET /admin/`: the console for a session, else the login page (401).
async fn page(State(state): State<Shared>, headers: HeaderMap) -> Response {
    match state.console.sessions.admit(&state.engine, &headers) {
        Ok(sessions::Admitted::Admin(_)) => html(StatusCode::OK, INDEX.to_string()),
        Ok(sessions::Admitted::None) => login_page(StatusCode::UNAUTHORIZED, ""),
        Ok(sessions::Admitted::Revoked(why)) => login_page(StatusCode::UNAUTHORIZED, &why),
        Err(e) => login_page(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

#[derive(Deserialize)]
struct LoginForm {
    user: String,
    password: String,
}

/// `POST /admin/login`: the form's credentials checked as the admin API
/// checks Basic ones (same code, same cache of verified credentials); an
/// admin gets a session and goes to the console.
async fn login(
    State(state): State<Shared>,
    ClientAddress(client): ClientAddress,
    Form(form): Form<LoginForm>,
) -> Response {
    // Basic credentials cannot carry a ':' in the user name; no login has one.
    if form.user.is_empty() || form.user.contains(':') {
        return login_page(StatusCode::UNAUTHORIZED, "wrong user or password");
    }
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", form.user, form.password));
    let mut headers = HeaderMap::new();
    match HeaderValue::from_str(&format!("Basic {basic}")) {
        Ok(value) => headers.insert(header::AUTHORIZATION, value),
        Err(_) => return login_page(StatusCode::UNAUTHORIZED, "wrong user or password"),
    };
    match identify(&state, &headers, client).await {
        Ok(Caller::User(user)) if user.admin => {
            let cookie = match state.console.sessions.open(&user) {
                Ok(cookie) => cookie,
                Err(e) => return login_page(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}")),
            };
            tracing::info!(admin = %format!("{}@{}", user.login, user.domain), "console login");
            let mut response = Redirect::to("/admin/").into_response();
            // Made of a hex id and fixed text: always a valid value.
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Ok(_) => login_page(
            StatusCode::FORBIDDEN,
            "this account is not an administrator: the console is for administrators only",
        ),
        Err(DavError::Unauthorized) => {
            login_page(StatusCode::UNAUTHORIZED, "wrong user or password")
        }
        Err(DavError::Status(status, message)) => login_page(status, &message),
        Err(DavError::Unavailable(message)) => {
            login_page(StatusCode::SERVICE_UNAVAILABLE, &message)
        }
        Err(DavError::Throttled(wait)) => {
            let mut page = login_page(StatusCode::TOO_MANY_REQUESTS, &throttled_message(wait));
            page.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after(wait)));
            page
        }
        Err(_) => login_page(StatusCode::INTERNAL_SERVER_ERROR, "the login failed"),
    }
}

/// `POST /admin/logout`: the session ends here and in the browser.
async fn logout(State(state): State<Shared>, headers: HeaderMap) -> Response {
    state.console.sessions.close(&headers);
    let mut response = Redirect::to("/admin/").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(sessions::CLEARED_COOKIE),
    );
    response
}

/// Admits a console session, or else what the admin API admits (the
/// local token, an admin's Basic credentials). Anonymous: 401; known but
/// not an admin (or no longer): 403.
async fn require_session(
    State(state): State<Shared>,
    headers: HeaderMap,
    mut request: Request,
    next: Next,
) -> Response {
    match state.console.sessions.admit(&state.engine, &headers) {
        Ok(sessions::Admitted::Admin(principal)) => {
            request.extensions_mut().insert(Viewer(principal));
            return next.run(request).await;
        }
        Ok(sessions::Admitted::Revoked(why)) => {
            return ApiError(StatusCode::FORBIDDEN, why).into_response()
        }
        Ok(sessions::Admitted::None) => {}
        Err(e) => return ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
    if headers.contains_key(header::AUTHORIZATION) {
        return crate::http::require_admin(State(state), headers, request, next).await;
    }
    // No `WWW-Authenticate: Basic` here: it would make the browser polling
    // this ask for a password itself instead of the page's login.
    ApiError(
        StatusCode::UNAUTHORIZED,
        "log in at /admin/, or send an admin's credentials".into(),
    )
    .into_response()
}

/// `POST /admin/v1/cluster/switch-report` (the cluster token): the
/// proxy's figures of the switch that made this installation the leader.
pub(crate) async fn switch_report(
    State(state): State<Shared>,
    Json(hold): Json<status::Hold>,
) -> Json<serde_json::Value> {
    let epoch = hold.epoch;
    state.console.sampler.note_hold(hold);
    Json(serde_json::json!({ "noted": epoch }))
}

/// The admin a console session belongs to (`login@domain`): the only
/// user name the console shows.
#[derive(Clone)]
struct Viewer(String);

/// `GET /admin/v1/console`: everything the page shows.
async fn data(
    State(state): State<Shared>,
    viewer: Option<Extension<Viewer>>,
) -> Result<Json<status::Console>, ApiError> {
    let viewer = viewer.map(|Extension(Viewer(principal))| principal);
    Ok(Json(status::gather(&state, viewer).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_assets_are_separate_files_and_the_page_has_no_inline_script() {
        for page in [INDEX, LOGIN] {
            assert!(!page.contains("<script>"), "an inline script");
            assert!(!page.contains("style="), "an inline style");
        }
        assert!(INDEX.contains("src=\"/admin/console.js\""));
        assert!(LOGIN.contains("<!--notice-->"));
    }
}
