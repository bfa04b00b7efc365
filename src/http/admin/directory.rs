//! The directory part of the admin API (`/admin/v1`, admins only):
//! domains, users, groups and resources, and the shares of users'
//! calendars and address books. Each handler is a thin shell
//! over the operation the command line runs too; errors are
//! `{"error": ...}` with 400 (invalid), 404 (unknown entry), 409
//! (conflict), 503 (log unavailable).

use crate::directory::domains::{DomainSummary, NewDomain};
use crate::directory::groups::{GroupChanges, GroupDetail, GroupSummary, NewGroup};
use crate::directory::passwords::PasswordError;
use crate::directory::resources::{NewResource, ResourceChanges, ResourceSummary};
use crate::directory::shares::{CollectionShares, GrantRequest, ShareError};
use crate::directory::users::{Deleted, NewPassword, NewUser, UserChanges, UserSummary};
use crate::directory::wire::MemberSchema;
use crate::directory::{domains, groups, resources, shares, users};
use crate::directory::{DirectoryError, ListQuery, Listing, ACTOR_API};
use crate::http::openapi::Gate;
use crate::http::{ApiError, ErrorBody, Shared};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use events::payload::Member;
use serde::de::DeserializeOwned;

impl From<DirectoryError> for ApiError {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::Invalid(m) => ApiError(StatusCode::BAD_REQUEST, m),
            DirectoryError::NotFound(m) => ApiError(StatusCode::NOT_FOUND, m),
            DirectoryError::Conflict(m) => ApiError(StatusCode::CONFLICT, m),
            DirectoryError::Unavailable(e) => e.into(),
            DirectoryError::Password(e @ PasswordError::Busy) => {
                ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
            DirectoryError::Password(e) => {
                ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
            DirectoryError::Store(e) => e.into(),
        }
    }
}

impl From<ShareError> for ApiError {
    fn from(e: ShareError) -> Self {
        match e {
            // A grant that can never be made (to the owner, to another
            // domain) is a bad request, not a permission matter: the
            // caller is an admin.
            ShareError::Invalid(m) | ShareError::NotAllowed(m) => {
                ApiError(StatusCode::BAD_REQUEST, m)
            }
            ShareError::UnknownSharee(m) | ShareError::NotFound(m) => {
                ApiError(StatusCode::NOT_FOUND, m)
            }
            ShareError::Conflict(m) => ApiError(StatusCode::CONFLICT, m),
            ShareError::Unavailable(e) => e.into(),
            ShareError::Store(e) => e.into(),
        }
    }
}

/// A JSON body whose refusal is a 400 `{"error": ...}` like every other.
pub(crate) struct Body<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let value = match Json::<serde_json::Value>::from_request(req, state).await {
            Ok(Json(value)) => value,
            Err(e) => return Err(ApiError(StatusCode::BAD_REQUEST, e.body_text())),
        };
        // serde also reads a struct from an array of its fields in order;
        // every body of this API is an object.
        if !value.is_object() {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                "the body must be a JSON object".into(),
            ));
        }
        T::deserialize(value).map(Body).map_err(|e| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("Failed to deserialize the JSON body into the target type: {e}"),
            )
        })
    }
}

/// `?domain=&limit=&after=`, refused as a 400 `{"error": ...}`.
pub(super) struct Listed(ListQuery);

impl<S: Send + Sync> FromRequestParts<S> for Listed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<ListQuery>::from_request_parts(parts, state).await {
            Ok(Query(q)) => Ok(Listed(q)),
            Err(e) => Err(ApiError(StatusCode::BAD_REQUEST, e.body_text())),
        }
    }
}

type Answer<T> = Result<Json<T>, ApiError>;
type Created<T> = Result<(StatusCode, Json<T>), ApiError>;

/// This part of the admin API in the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list_domains,
    create_domain,
    show_domain,
    list_users,
    create_user,
    show_user,
    update_user,
    delete_user,
    set_password,
    disable_user,
    enable_user,
    show_shares,
    grant_share,
    revoke_share,
    list_groups,
    create_group,
    show_group,
    update_group,
    delete_group,
    add_member,
    remove_member,
    list_resources,
    create_resource,
    show_resource,
    update_resource,
    delete_resource,
))]
pub(crate) struct DirectoryApi;

// The path parameters, described once for the document.
mod path {
    use crate::http::openapi::path_parameter;

    path_parameter!(DomainPath, domain, "A domain name.", "example.com");
    path_parameter!(
        UserPath,
        user,
        "`login@domain`, an email, or a login that exists in one domain.",
        "alice@example.com"
    );
    path_parameter!(
        GroupPath,
        group,
        "`name@domain`, or a name that exists in one domain.",
        "team@example.com"
    );
    path_parameter!(
        ResourcePath,
        resource,
        "`name@domain`, or a name that exists in one domain.",
        "room1@example.com"
    );
    path_parameter!(
        CollectionKindPath,
        kind,
        "`calendars` or `addressbooks` (anything else is 404).",
        "calendars"
    );
    path_parameter!(
        CollectionPath,
        collection,
        "The collection's name.",
        "default"
    );
    path_parameter!(
        ShareePath,
        sharee,
        "`user:login@domain`, `group:name@domain`, or a name as for `reprise share`.",
        "user:bob@example.com"
    );
    path_parameter!(MemberKindPath, kind, "`user` or `group`.", "user");
    path_parameter!(
        MemberPath,
        name,
        "The member's name in the group's domain.",
        "alice"
    );
}
use path::{
    CollectionKindPath, CollectionPath, DomainPath, GroupPath, MemberKindPath, MemberPath,
    ResourcePath, ShareePath, UserPath,
};

/// What a change of the directory may be refused for, besides an
/// unknown entry.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // only its responses are used
enum Refusal {
    #[response(
        status = 400,
        description = "Invalid input: bad JSON, a bad name, email or sharee, an unknown member, \
                       a group added to itself, a grant to the owner or to another domain"
    )]
    Invalid(ErrorBody),
    #[response(
        status = 409,
        description = "It exists already, a group would contain itself through nesting, an \
                       email in use, or a concurrent change came first in the log"
    )]
    Conflict(ErrorBody),
    #[response(
        status = 413,
        description = "The event would not fit in a record of the log"
    )]
    TooLarge(ErrorBody),
}

/// What `Listed` refuses.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // only its responses are used
enum ListRefusal {
    #[response(status = 400, description = "A bad limit or cursor")]
    BadQuery(ErrorBody),
}

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/domains", get(list_domains).post(create_domain))
        .route("/domains/{domain}", get(show_domain))
        .route("/users", get(list_users).post(create_user))
        .route(
            "/users/{user}",
            get(show_user).patch(update_user).delete(delete_user),
        )
        .route("/users/{user}/password", put(set_password))
        .route("/users/{user}/disable", post(disable_user))
        .route("/users/{user}/enable", post(enable_user))
        .route("/users/{user}/{kind}/{collection}/shares", get(show_shares))
        .route(
            "/users/{user}/{kind}/{collection}/shares/{sharee}",
            put(grant_share).delete(revoke_share),
        )
        .route("/groups", get(list_groups).post(create_group))
        .route(
            "/groups/{group}",
            get(show_group).patch(update_group).delete(delete_group),
        )
        .route("/groups/{group}/members", post(add_member))
        .route(
            "/groups/{group}/members/{kind}/{name}",
            delete(remove_member),
        )
        .route("/resources", get(list_resources).post(create_resource))
        .route(
            "/resources/{resource}",
            get(show_resource)
                .patch(update_resource)
                .delete(delete_resource),
        )
}

#[utoipa::path(get, path = "/admin/v1/domains", tag = "directory", params(ListQuery), responses(
    (status = 200, description = "One page, in name order", body = Listing<DomainSummary>),
    ListRefusal,
    Gate,
))]
async fn list_domains(
    State(s): State<Shared>,
    Listed(q): Listed,
) -> Answer<Listing<DomainSummary>> {
    Ok(Json(domains::list_domains(&s.engine.views(), &q)?))
}

#[utoipa::path(post, path = "/admin/v1/domains", tag = "directory", request_body = NewDomain, responses(
    (status = 201, description = "Created", body = DomainSummary),
    Refusal,
    Gate,
))]
async fn create_domain(
    State(s): State<Shared>,
    Body(req): Body<NewDomain>,
) -> Created<DomainSummary> {
    let domain = domains::add_domain(&s.engine, &req, ACTOR_API).await?;
    Ok((StatusCode::CREATED, Json(domain)))
}

#[utoipa::path(get, path = "/admin/v1/domains/{domain}", tag = "directory", params(DomainPath), responses(
    (status = 200, description = "The domain", body = DomainSummary),
    (status = 404, description = "No such domain", body = ErrorBody),
    Gate,
))]
async fn show_domain(State(s): State<Shared>, Path(d): Path<String>) -> Answer<DomainSummary> {
    Ok(Json(domains::show_domain(&s.engine.views(), &d)?))
}

#[utoipa::path(get, path = "/admin/v1/users", tag = "directory", params(ListQuery), responses(
    (status = 200, description = "One page, in name order", body = Listing<UserSummary>),
    ListRefusal,
    Gate,
))]
async fn list_users(State(s): State<Shared>, Listed(q): Listed) -> Answer<Listing<UserSummary>> {
    Ok(Json(users::list_users(&s.engine.views(), &q)?))
}

#[utoipa::path(post, path = "/admin/v1/users", tag = "directory", request_body = NewUser, responses(
    (status = 201, description = "Created, with a default calendar and address book", body = UserSummary),
    Refusal,
    Gate,
))]
async fn create_user(State(s): State<Shared>, Body(req): Body<NewUser>) -> Created<UserSummary> {
    let user = users::add_user(&s.engine, &req, ACTOR_API).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[utoipa::path(get, path = "/admin/v1/users/{user}", tag = "directory", params(UserPath), responses(
    (status = 200, description = "The user", body = UserSummary),
    (status = 404, description = "No such user", body = ErrorBody),
    Gate,
))]
async fn show_user(State(s): State<Shared>, Path(user): Path<String>) -> Answer<UserSummary> {
    Ok(Json(users::show_user(&s.engine.views(), &user)?))
}

#[utoipa::path(patch, path = "/admin/v1/users/{user}", tag = "directory", params(UserPath), request_body = UserChanges, responses(
    (status = 200, description = "The user, changed", body = UserSummary),
    (status = 404, description = "No such user", body = ErrorBody),
    Refusal,
    Gate,
))]
async fn update_user(
    State(s): State<Shared>,
    Path(user): Path<String>,
    Body(changes): Body<UserChanges>,
) -> Answer<UserSummary> {
    Ok(Json(
        users::update_user(&s.engine, &user, &changes, ACTOR_API).await?,
    ))
}

#[utoipa::path(put, path = "/admin/v1/users/{user}/password", tag = "directory", params(UserPath), request_body = NewPassword, responses(
    (status = 200, description = "The user", body = UserSummary),
    (status = 404, description = "No such user", body = ErrorBody),
    Refusal,
    Gate,
))]
async fn set_password(
    State(s): State<Shared>,
    Path(user): Path<String>,
    Body(req): Body<NewPassword>,
) -> Answer<UserSummary> {
    Ok(Json(
        users::set_password(&s.engine, &user, &req.password, ACTOR_API).await?,
    ))
}

#[utoipa::path(post, path = "/admin/v1/users/{user}/disable", tag = "directory", params(UserPath), responses(
    (status = 200, description = "The user, disabled", body = UserSummary),
    (status = 404, description = "No such user", body = ErrorBody),
    (status = 409, description = "It exists already, or a concurrent change came first in the log", body = ErrorBody),
    Gate,
))]
async fn disable_user(State(s): State<Shared>, Path(user): Path<String>) -> Answer<UserSummary> {
    Ok(Json(
        users::set_enabled(&s.engine, &user, false, ACTOR_API).await?,
    ))
}

#[utoipa::path(post, path = "/admin/v1/users/{user}/enable", tag = "directory", params(UserPath), responses(
    (status = 200, description = "The user, enabled", body = UserSummary),
    (status = 404, description = "No such user", body = ErrorBody),
    (status = 409, description = "It exists already, or a concurrent change came first in the log", body = ErrorBody),
    Gate,
))]
async fn enable_user(State(s): State<Shared>, Path(user): Path<String>) -> Answer<UserSummary> {
    Ok(Json(
        users::set_enabled(&s.engine, &user, true, ACTOR_API).await?,
    ))
}

#[utoipa::path(delete, path = "/admin/v1/users/{user}", tag = "directory", params(UserPath), responses(
    (status = 200, description = "The user and their data are gone", body = Deleted),
    (status = 404, description = "No such user", body = ErrorBody),
    (status = 409, description = "It exists already, or a concurrent change came first in the log", body = ErrorBody),
    Gate,
))]
async fn delete_user(State(s): State<Shared>, Path(user): Path<String>) -> Answer<Deleted> {
    Ok(Json(users::delete_user(&s.engine, &user, ACTOR_API).await?))
}

/// `calendars` or `addressbooks` in a share's path, or 404.
fn collection_kind(segment: &str) -> Result<formats::davpath::Kind, ApiError> {
    formats::davpath::Kind::from_segment(segment).ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("no collection kind {segment:?}: calendars or addressbooks"),
        )
    })
}

#[utoipa::path(get, path = "/admin/v1/users/{user}/{kind}/{collection}/shares", tag = "directory", params(UserPath, CollectionKindPath, CollectionPath), responses(
    (status = 200, description = "The collection's grants", body = CollectionShares),
    (status = 404, description = "No such user, collection kind or collection", body = ErrorBody),
    Gate,
))]
async fn show_shares(
    State(s): State<Shared>,
    Path((user, kind, collection)): Path<(String, String, String)>,
) -> Answer<CollectionShares> {
    let kind = collection_kind(&kind)?;
    Ok(Json(shares::show(&s.engine, &user, kind, &collection)?))
}

#[utoipa::path(put, path = "/admin/v1/users/{user}/{kind}/{collection}/shares/{sharee}", tag = "directory", params(UserPath, CollectionKindPath, CollectionPath, ShareePath), request_body = GrantRequest, responses(
    (status = 200, description = "The collection's grants", body = CollectionShares),
    (status = 404, description = "No such user, collection kind, collection or sharee", body = ErrorBody),
    Refusal,
    Gate,
))]
async fn grant_share(
    State(s): State<Shared>,
    Path((user, kind, collection, sharee)): Path<(String, String, String, String)>,
    Body(req): Body<GrantRequest>,
) -> Answer<CollectionShares> {
    let kind = collection_kind(&kind)?;
    Ok(Json(
        shares::grant(
            &s.engine,
            &user,
            kind,
            &collection,
            &sharee,
            req.access,
            ACTOR_API,
        )
        .await?,
    ))
}

#[utoipa::path(delete, path = "/admin/v1/users/{user}/{kind}/{collection}/shares/{sharee}", tag = "directory", params(UserPath, CollectionKindPath, CollectionPath, ShareePath), responses(
    (status = 200, description = "The collection's grants; revoking what is not granted changes nothing", body = CollectionShares),
    (status = 400, description = "A bad sharee, the owner or another domain's sharee", body = ErrorBody),
    (status = 404, description = "No such user, collection kind, collection or sharee", body = ErrorBody),
    (status = 409, description = "It exists already, or a concurrent change came first in the log", body = ErrorBody),
    Gate,
))]
async fn revoke_share(
    State(s): State<Shared>,
    Path((user, kind, collection, sharee)): Path<(String, String, String, String)>,
) -> Answer<CollectionShares> {
    let kind = collection_kind(&kind)?;
    Ok(Json(
        shares::revoke(&s.engine, &user, kind, &collection, &sharee, ACTOR_API).await?,
    ))
}

#[utoipa::path(get, path = "/admin/v1/groups", tag = "directory", params(ListQuery), responses(
    (status = 200, description = "One page, in name order", body = Listing<GroupSummary>),
    ListRefusal,
    Gate,
))]
async fn list_groups(State(s): State<Shared>, Listed(q): Listed) -> Answer<Listing<GroupSummary>> {
    Ok(Json(groups::list_groups(&s.engine.views(), &q)?))
}

#[utoipa::path(post, path = "/admin/v1/groups", tag = "directory", request_body = NewGroup, responses(
    (status = 201, description = "Created", body = GroupDetail),
    (status = 404, description = "No such domain", body = ErrorBody),
    Refusal,
    Gate,
))]
async fn create_group(State(s): State<Shared>, Body(req): Body<NewGroup>) -> Created<GroupDetail> {
    let group = groups::add_group(&s.engine, &req, ACTOR_API).await?;
    Ok((StatusCode::CREATED, Json(group)))
}

#[utoipa::path(get, path = "/admin/v1/groups/{group}", tag = "directory", params(GroupPath), responses(
    (status = 200, description = "The group, its direct members and the groups it is in", body = GroupDetail),
    (status = 404, description = "No such group", body = ErrorBody),
    Gate,
))]
async fn show_group(State(s): State<Shared>, Path(group): Path<String>) -> Answer<GroupDetail> {
    Ok(Json(groups::show_group(&s.engine.views(), &group)?))
}

#[utoipa::path(patch, path = "/admin/v1/groups/{group}", tag = "directory", params(GroupPath), request_body = GroupChanges, responses(
    (status = 200, description = "The group, changed", body = GroupDetail),
    (status = 404, description = "No such group", body = ErrorBody),
    Refusal,
    Gate,
))]
async fn update_group(
    State(s): State<Shared>,
    Path(group): Path<String>,
    Body(changes): Body<GroupChanges>,
) -> Answer<GroupDetail> {
    Ok(Json(
        groups::update_group(&s.engine, &group, &changes, ACTOR_API).await?,
    ))
}

#[utoipa::path(delete, path = "/admin/v1/groups/{group}", tag = "directory", params(GroupPath), responses(
    (status = 200, description = "The group is gone", body = Deleted),
    (status = 404, description = "No such group", body = ErrorBody),
    (status = 409, description = "It exists already, or a concurrent change came first in the log", body = ErrorBody),
    Gate,
))]
async fn delete_group(State(s): State<Shared>, Path(group): Path<String>) -> Answer<Deleted> {
    Ok(Json(
        groups::delete_group(&s.engine, &group, ACTOR_API).await?,
    ))
}

#[utoipa::path(post, path = "/admin/v1/groups/{group}/members", tag = "directory", params(GroupPath), request_body = MemberSchema, responses(
    (status = 200, description = "The group", body = GroupDetail),
    (status = 404, description = "No such group", body = ErrorBody),
    Refusal,
    Gate,
))]
async fn add_member(
    State(s): State<Shared>,
    Path(group): Path<String>,
    Body(member): Body<Member>,
) -> Answer<GroupDetail> {
    Ok(Json(
        groups::add_member(&s.engine, &group, &member, ACTOR_API).await?,
    ))
}

#[utoipa::path(delete, path = "/admin/v1/groups/{group}/members/{kind}/{name}", tag = "directory", params(GroupPath, MemberKindPath, MemberPath), responses(
    (status = 200, description = "The group", body = GroupDetail),
    (status = 400, description = "A member kind other than `user` or `group`, or a bad name", body = ErrorBody),
    (status = 404, description = "No such group or member", body = ErrorBody),
    (status = 409, description = "It exists already, or a concurrent change came first in the log", body = ErrorBody),
    Gate,
))]
async fn remove_member(
    State(s): State<Shared>,
    Path((group, kind, name)): Path<(String, String, String)>,
) -> Answer<GroupDetail> {
    let member = groups::member_from_path(&kind, &name)?;
    Ok(Json(
        groups::remove_member(&s.engine, &group, &member, ACTOR_API).await?,
    ))
}

#[utoipa::path(get, path = "/admin/v1/resources", tag = "directory", params(ListQuery), responses(
    (status = 200, description = "One page, in name order", body = Listing<ResourceSummary>),
    ListRefusal,
    Gate,
))]
async fn list_resources(
    State(s): State<Shared>,
    Listed(q): Listed,
) -> Answer<Listing<ResourceSummary>> {
    Ok(Json(resources::list_resources(&s.engine.views(), &q)?))
}

#[utoipa::path(post, path = "/admin/v1/resources", tag = "directory", request_body = NewResource, responses(
    (status = 201, description = "Created", body = ResourceSummary),
    (status = 404, description = "No such domain", body = ErrorBody),
    Refusal,
    Gate,
))]
async fn create_resource(
    State(s): State<Shared>,
    Body(req): Body<NewResource>,
) -> Created<ResourceSummary> {
    let resource = resources::add_resource(&s.engine, &req, ACTOR_API).await?;
    Ok((StatusCode::CREATED, Json(resource)))
}

#[utoipa::path(get, path = "/admin/v1/resources/{resource}", tag = "directory", params(ResourcePath), responses(
    (status = 200, description = "The resource", body = ResourceSummary),
    (status = 404, description = "No such resource", body = ErrorBody),
    Gate,
))]
async fn show_resource(
    State(s): State<Shared>,
    Path(resource): Path<String>,
) -> Answer<ResourceSummary> {
    Ok(Json(resources::show_resource(
        &s.engine.views(),
        &resource,
    )?))
}

#[utoipa::path(patch, path = "/admin/v1/resources/{resource}", tag = "directory", params(ResourcePath), request_body = ResourceChanges, responses(
    (status = 200, description = "The resource, changed", body = ResourceSummary),
    (status = 404, description = "No such resource", body = ErrorBody),
    Refusal,
    Gate,
))]
async fn update_resource(
    State(s): State<Shared>,
    Path(resource): Path<String>,
    Body(changes): Body<ResourceChanges>,
) -> Answer<ResourceSummary> {
    Ok(Json(
        resources::update_resource(&s.engine, &resource, &changes, ACTOR_API).await?,
    ))
}

#[utoipa::path(delete, path = "/admin/v1/resources/{resource}", tag = "directory", params(ResourcePath), responses(
    (status = 200, description = "The resource is gone", body = Deleted),
    (status = 404, description = "No such resource", body = ErrorBody),
    (status = 409, description = "It exists already, or a concurrent change came first in the log", body = ErrorBody),
    Gate,
))]
async fn delete_resource(State(s): State<Shared>, Path(resource): Path<String>) -> Answer<Deleted> {
    Ok(Json(
        resources::delete_resource(&s.engine, &resource, ACTOR_API).await?,
    ))
}
