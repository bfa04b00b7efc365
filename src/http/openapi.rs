//! The OpenAPI 3 document of the admin API and the mail seen-flag API,
//! built from the handlers' own types and `#[utoipa::path]` annotations,
//! served at `GET /admin/v1/openapi.json` and checked in as
//! `openapi/reprise.json` (`tests/it/openapi.rs` compares the two and runs
//! schemathesis against a live server).

use crate::http::admin::{directory, operations, snapshot};
use crate::http::{mail, ErrorBody};
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
leadership over between installations.";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "reprise admin and mail seen-flag API",
        version = "1",
        description = DESCRIPTION,
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&Security, &Addresses),
    security(("basic" = []), ("token" = [])),
    paths(
        openapi_json,
        directory::list_domains,
        directory::create_domain,
        directory::show_domain,
        directory::list_users,
        directory::create_user,
        directory::show_user,
        directory::update_user,
        directory::delete_user,
        directory::set_password,
        directory::disable_user,
        directory::enable_user,
        directory::show_shares,
        directory::grant_share,
        directory::revoke_share,
        directory::list_groups,
        directory::create_group,
        directory::show_group,
        directory::update_group,
        directory::delete_group,
        directory::add_member,
        directory::remove_member,
        directory::list_resources,
        directory::create_resource,
        directory::show_resource,
        directory::update_resource,
        directory::delete_resource,
        operations::projection_status,
        operations::projection_digest,
        operations::export,
        operations::import_calendar,
        operations::import_contacts,
        operations::log_info,
        operations::log_end,
        operations::log_read,
        snapshot::create_snapshot,
        mail::read_seen,
        mail::write_seen,
        mail::changes,
        mail::bulk,
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
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some("A directory user's login (or email) and password"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The local admin token from `DATA_DIR/serve.json`"))
                    .build(),
            ),
        );
    }
}

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

/// What the admin gate (`require_admin`) answers before any admin
/// handler runs.
#[derive(IntoResponses)]
#[allow(dead_code)] // only its responses are used
pub(crate) enum AdminGate {
    #[response(
        status = 401,
        description = "No credentials, or wrong ones",
        headers(("WWW-Authenticate" = String))
    )]
    Unauthorized(ErrorBody),
    #[response(
        status = 403,
        description = "The user is not an administrator, or is disabled"
    )]
    Forbidden(ErrorBody),
    #[response(
        status = 503,
        description = "The directory cannot be read yet, or the log did not answer; retry",
        headers(("Retry-After" = String))
    )]
    Unavailable(ErrorBody),
}

/// What the mail API's gate (`authorise`) answers before any mail
/// handler reads or writes.
#[derive(IntoResponses)]
#[allow(dead_code)] // only its responses are used
pub(crate) enum MailGate {
    #[response(
        status = 401,
        description = "No credentials, or wrong ones",
        headers(("WWW-Authenticate" = String))
    )]
    Unauthorized(ErrorBody),
    #[response(
        status = 403,
        description = "Neither the mailbox's owner nor an administrator (also for a disabled \
                       account), whether or not the user exists"
    )]
    Forbidden(ErrorBody),
    #[response(status = 404, description = "An administrator named no user")]
    NotFound(ErrorBody),
    #[response(
        status = 503,
        description = "The views are being built, or the log did not confirm the write; retry",
        headers(("Retry-After" = String))
    )]
    Unavailable(ErrorBody),
}

/// The document, pretty-printed with its keys in a stable order, as
/// served and as checked in.
pub(crate) fn document() -> &'static str {
    static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
        // Through a `Value` (a sorted map): every key in name order.
        let value = serde_json::to_value(ApiDoc::openapi())
            .expect("the OpenAPI document is plain JSON data");
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
