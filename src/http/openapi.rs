//! The OpenAPI 3 document of the admin API and the mail seen-flag API,
//! built from the handlers' own types and `#[utoipa::path]` annotations,
//! served at `GET /admin/v1/openapi.json` and checked in as
//! `openapi/reprise.json` (`tests/it/openapi.rs` compares the two and runs
//! schemathesis against a live server).

use crate::http::admin::directory::DirectoryApi;
use crate::http::admin::{operations, snapshot};
use crate::http::mail::MailApi;
use crate::http::ErrorBody;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::LazyLock;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{IntoResponses, Modify, OpenApi};

const DESCRIPTION: &str = "\
The admin API under `/admin/v1` and the mail seen-flag API under `/api/v1/mail` \
of a reprise server.

Both take HTTP Basic credentials of a directory user or the local admin token \
from `DATA_DIR/serve.json` as `Authorization: Bearer`. The admin API admits \
enabled users with the admin flag and the token; the mail API also admits a \
mailbox's owner. Errors are always `{\"error\": \"...\"}`.

This document itself needs no credentials: it describes the API and reveals \
no data. It leaves out `/admin/v1/cluster`, which the blue/green proxy \
(`reprise proxy`, `reprise switch`) drives with its own token to hand \
leadership over between installations, and `/admin/v1/console`, the data of \
the operator console at `/admin/`, which takes the console's session cookie.";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "reprise admin and mail seen-flag API",
        version = "1",
        description = DESCRIPTION,
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&Security),
    security(("basic" = []), ("token" = [])),
    paths(
        openapi_json,
        operations::projection_status,
        operations::projection_digest,
        operations::export,
        operations::import,
        operations::log_info,
        operations::log_end,
        operations::log_read,
        snapshot::create_snapshot,
    ),
    tags(
        (name = "directory", description = "Domains, users, groups, resources and shares"),
        (name = "operations", description = "What `reprise ... --server` sends: projections, snapshots, import, export, the log"),
        (name = "mail", description = "IMAP `\\Seen` flags, kept as events"),
    ),
)]
struct ApiDoc;

/// The two ways in: Basic credentials of a directory user, or the local
/// admin token.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, scheme, description) in [
            (
                "basic",
                HttpAuthScheme::Basic,
                "A directory user's login (or email) and password",
            ),
            (
                "token",
                HttpAuthScheme::Bearer,
                "The local admin token from `DATA_DIR/serve.json`",
            ),
        ] {
            let http = HttpBuilder::new()
                .scheme(scheme)
                .description(Some(description))
                .build();
            components.add_security_scheme(name, SecurityScheme::Http(http));
        }
    }
}

/// A path parameter the handler reads as a string, described for the
/// document: `path_parameter!(UserPath, user, "doc", "example")`.
macro_rules! path_parameter {
    ($name:ident, $field:ident, $doc:literal, $example:literal) => {
        #[derive(utoipa::IntoParams)]
        #[into_params(parameter_in = Path)]
        #[allow(dead_code)] // only its description is used
        pub(super) struct $name {
            #[doc = $doc]
            #[param(example = $example)]
            $field: String,
        }
    };
}
pub(crate) use path_parameter;

/// How an answer addresses its entry in a path, as OpenAPI links: a
/// group's or resource's name alone is ambiguous when two domains have
/// it, so the links say `name@domain` (and a user's `principal`). Each
/// answer carrying the entry links to every operation with that path
/// parameter.
struct Addresses;

/// (the answer's schema, the path parameter, the runtime expression).
const ADDRESSES: [(&str, &str, &str); 3] = [
    (
        "GroupDetail",
        "group",
        "{$response.body#/group}@{$response.body#/domain}",
    ),
    (
        "ResourceSummary",
        "resource",
        "{$response.body#/resource}@{$response.body#/domain}",
    ),
    ("UserSummary", "user", "$response.body#/principal"),
];

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

impl Modify for Addresses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (schema, parameter, expression) in ADDRESSES {
            let reference = format!("#/components/schemas/{schema}");
            let placeholder = format!("{{{parameter}}}");
            // The operations that take the parameter, by operation id.
            let mut targets = Vec::new();
            for (path, item) in openapi.paths.paths.iter_mut() {
                if path.contains(&placeholder) {
                    targets.extend(operations(item).filter_map(|o| o.operation_id.clone()));
                }
            }
            for item in openapi.paths.paths.values_mut() {
                for operation in operations(item) {
                    let own = operation.operation_id.clone();
                    for response in operation.responses.responses.values_mut() {
                        let RefOr::T(response) = response else {
                            continue;
                        };
                        let carries = response.content.values().any(|content| {
                            matches!(content, RefOr::T(c)
                                if matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location == reference))
                        });
                        if !carries {
                            continue;
                        }
                        for target in targets.iter().filter(|t| Some(*t) != own.as_ref()) {
                            let link = LinkBuilder::new()
                                .operation_id(target)
                                .parameter(parameter, expression)
                                .build();
                            response.links.insert(target.clone(), RefOr::T(link));
                        }
                    }
                }
            }
        }
    }
}

/// What the gates answer before any handler runs: `require_admin` for
/// the admin API, `authorise` for the mail API.
#[derive(IntoResponses)]
#[allow(dead_code)] // only its responses are used
pub(crate) enum Gate {
    #[response(
        status = 401,
        description = "No credentials, or wrong ones",
        headers(("WWW-Authenticate" = String))
    )]
    Unauthorized(ErrorBody),
    #[response(
        status = 403,
        description = "Not allowed: not an administrator (admin API), neither the mailbox's \
                       owner nor an administrator (mail API, whether or not the user exists), \
                       or a disabled account"
    )]
    Forbidden(ErrorBody),
    #[response(
        status = 429,
        description = "Too many failed logins for this account or from this address: \
                       nothing was checked; retry after the seconds `Retry-After` says",
        headers(("Retry-After" = String))
    )]
    Throttled(ErrorBody),
    #[response(
        status = 503,
        description = "The views are being built, or the log did not answer; retry",
        headers(("Retry-After" = String))
    )]
    Unavailable(ErrorBody),
}

/// The mail API's gate, to an administrator naming nobody.
#[derive(IntoResponses)]
#[allow(dead_code)] // only its responses are used
pub(crate) enum UnknownOwner {
    #[response(status = 404, description = "No such user")]
    NotFound(ErrorBody),
}

/// The document, pretty-printed with its keys in a stable order, as
/// served and as checked in.
pub(crate) fn document() -> &'static str {
    static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
        // Through a `Value` (a sorted map): every key in name order.
        let mut document = ApiDoc::openapi();
        document.merge(DirectoryApi::openapi());
        document.merge(MailApi::openapi());
        // Once every operation is in.
        Addresses.modify(&mut document);
        let value =
            serde_json::to_value(document).expect("the OpenAPI document is plain JSON data");
        let mut text =
            serde_json::to_string_pretty(&value).expect("a JSON value always serialises");
        text.push('\n');
        text
    });
    &DOCUMENT
}

/// `GET /admin/v1/openapi.json`, without credentials.
#[utoipa::path(
    get,
    path = "/admin/v1/openapi.json",
    tag = "operations",
    security(()),
    responses((status = 200, description = "This document", content_type = "application/json", body = Object)),
)]
pub(crate) async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document()).into_response()
}
