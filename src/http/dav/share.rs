//! The calendarserver-sharing `CS:share` POST: an owner grants read or
//! read-write on one of their calendars or address books, or withdraws a
//! grant. Shares are accepted at once: the collection appears in the
//! sharee's home on their next request (see [`super::sharing`]).

use super::resource::{self, Resource};
use super::sharing::Rights;
use super::{Call, DavError, DavResult};
use crate::directory::shares::{self, ShareChange, ShareError};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use events::payload::Access;
use formats::xml::{self, DAV};

impl From<ShareError> for DavError {
    fn from(e: ShareError) -> DavError {
        match e {
            ShareError::Invalid(m) => DavError::bad_request(m),
            ShareError::UnknownSharee(m) | ShareError::Conflict(m) => DavError::conflict(m),
            ShareError::NotAllowed(m) => DavError::forbidden(m),
            ShareError::NotFound(_) => DavError::not_found(),
            ShareError::Unavailable(e) => e.into(),
            ShareError::Store(e) => e.into(),
        }
    }
}

pub async fn post(call: &mut Call<'_>) -> DavResult<Response> {
    let body = call.xml_body().await?;
    let resource = resource::load(&call.ctx(), &call.path)?.ok_or_else(DavError::not_found)?;
    let place = match &resource {
        Resource::Calendar { place, .. } | Resource::AddressBook { place, .. } => place.clone(),
        _ => {
            return Err(DavError::method_not_allowed(
                "POST here only shares calendars and address books (CS:share)",
            ))
        }
    };
    if place.rights != Rights::Owner {
        return Err(DavError::precondition(
            StatusCode::FORBIDDEN,
            DAV,
            "need-privileges",
        ));
    }
    let request = xml::parse_share(&body).map_err(|e| DavError::bad_request(e.to_string()))?;
    // Each sharee is a directory lookup and a grant.
    call.limits()
        .request
        .check_sharees(request.set.len() + request.remove.len())?;
    let directory = &call.views.directory;
    let domain = call.user.domain.as_str();
    let mut changes = Vec::new();
    for set in &request.set {
        let (sharee, since) = shares::find_sharee(directory, domain, &set.href)?;
        changes.push(ShareChange::Grant {
            sharee,
            since,
            access: if set.read_write {
                Access::ReadWrite
            } else {
                Access::Read
            },
        });
    }
    for href in &request.remove {
        changes.push(ShareChange::Revoke(shares::sharee_to_revoke(
            directory, domain, href,
        )?));
    }
    shares::change(
        call.engine,
        place.kind,
        &place.owner,
        &place.collection,
        changes,
        &call.principal,
    )
    .await?;
    Ok(StatusCode::OK.into_response())
}
