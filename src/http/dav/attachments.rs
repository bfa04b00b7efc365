//! Managed attachments (RFC 8607): `POST …/object.ics?action=attachment-add`
//! (`-update`, `-remove`) on a calendar object, and `GET
//! /dav/attachments/{owner}/{managed-id}`.
//!
//! A change is written like every other: the attachment's bytes go to the
//! object store first (spooled, hashed, stored under their SHA-256), then
//! one `CalendarAttachmentChanged` event in the owner's partition carries
//! the object's new text (its ATTACH property added, replaced or removed,
//! by `formats::ical::attach`) and the attachment's reference. Whoever may
//! write the calendar (its owner, a read-write sharee) may manage its
//! attachments; whoever may read it may read them, and no one else.

use super::sharing::{self, Place};
use super::{check_write_conditions, rejected, Call, DavError, DavResult};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use events::payload::{CalendarAttachmentChanged, ManagedAttachment};
use events::Payload;
use formats::davpath::{self as path, DavPath, Kind};
use formats::ical::attach::{self, AttachError, Instances, ManagedAttach};
use formats::xml::CALDAV;
use percent_encoding::percent_decode_str;
use projections::calendars::ObjectRecord;
use projections::Outcome;

/// `Cal-Managed-ID` (RFC 8607 §3.4): the ID of the attachment a POST
/// added or updated.
const CAL_MANAGED_ID: &str = "cal-managed-id";

fn precondition(status: StatusCode, name: &str) -> DavError {
    DavError::precondition(status, CALDAV, name)
}

fn unknown_managed_id() -> DavError {
    precondition(StatusCode::FORBIDDEN, "valid-managed-id")
}

impl From<AttachError> for DavError {
    fn from(e: AttachError) -> DavError {
        match e {
            AttachError::UnknownManagedId(_) => unknown_managed_id(),
            AttachError::BadRid(_) => precondition(StatusCode::FORBIDDEN, "valid-rid-parameter"),
            AttachError::NothingToAttachTo => {
                DavError::forbidden("the object has no event, to-do or journal to attach to")
            }
            // The stored text was valid when it was written.
            AttachError::Format(e) => DavError::status(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the stored object does not parse: {e}"),
            ),
            AttachError::Time(_) => precondition(StatusCode::FORBIDDEN, "valid-rid-parameter"),
        }
    }
}

/// The query of an attachment POST.
#[derive(Debug, Default, PartialEq, Eq)]
struct Query {
    action: Option<String>,
    rid: Option<String>,
    managed_id: Option<String>,
}

impl Query {
    fn parse(query: &str) -> Query {
        let mut q = Query::default();
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = value.replace('+', " ");
            let value = percent_decode_str(&value).decode_utf8_lossy().into_owned();
            match name {
                "action" => q.action = Some(value),
                "rid" => q.rid = Some(value),
                "managed-id" => q.managed_id = Some(value),
                _ => {}
            }
        }
        q
    }
}

/// Whether a POST is an attachment action (else it is a `CS:share`).
pub fn is_attachment_post(call: &Call<'_>) -> bool {
    call.query
        .as_deref()
        .is_some_and(|q| Query::parse(q).action.is_some())
}

pub async fn post(call: &mut Call<'_>) -> DavResult<Response> {
    let query = Query::parse(call.query.as_deref().unwrap_or_default());
    let DavPath::Object(Kind::Calendar, _, collection, name) = call.path.clone() else {
        return Err(DavError::method_not_allowed(
            "attachments are managed on calendar objects",
        ));
    };
    let place = sharing::resolve(&call.ctx(), Kind::Calendar, &collection)?
        .ok_or_else(DavError::not_found)?;
    let record = place
        .object(&call.views, &name)?
        .ok_or_else(DavError::not_found)?;
    if !place.may_write() {
        return Err(DavError::precondition(
            StatusCode::FORBIDDEN,
            formats::xml::DAV,
            "need-privileges",
        ));
    }
    check_write_conditions(&call.headers, Some(&record.etag()))?;
    let instances = Instances::parse(query.rid.as_deref());
    let target = Target {
        place: &place,
        name: &name,
        record: &record,
    };
    match query.action.as_deref() {
        Some("attachment-add") => add(call, &target, &instances).await,
        Some("attachment-update") => {
            let id = query.managed_id.ok_or_else(unknown_managed_id)?;
            update(call, &target, &id).await
        }
        Some("attachment-remove") => {
            let id = query.managed_id.ok_or_else(unknown_managed_id)?;
            remove(call, &target, &id, &instances).await
        }
        other => Err(DavError::bad_request(format!(
            "unknown action {:?}: attachment-add, attachment-update or attachment-remove",
            other.unwrap_or_default()
        ))),
    }
}

/// The calendar object a POST is about.
struct Target<'a> {
    place: &'a Place,
    name: &'a str,
    record: &'a ObjectRecord,
}

/// Spools and stores the request body as a new attachment of `target`,
/// described as its headers say.
async fn store(call: &mut Call<'_>, target: &Target<'_>) -> DavResult<(ManagedAttachment, String)> {
    let limit = call.limits().attachment;
    let too_large = || precondition(StatusCode::PAYLOAD_TOO_LARGE, "max-attachment-size");
    let content_type = call
        .header(header::CONTENT_TYPE)
        .unwrap_or("application/octet-stream")
        .to_string();
    let filename = call
        .header(header::CONTENT_DISPOSITION)
        .and_then(filename_of)
        .unwrap_or_else(|| "attachment".to_string());
    let spooled = call.spool_body(limit, too_large).await?;
    let object = call.objects().put(&spooled).await?;
    drop(spooled);
    // Made here, at the edge, and carried by the event: every instance and
    // every rebuild sees the same ID.
    let managed_id = uuid::Uuid::now_v7().simple().to_string();
    let url = format!(
        "{}{}",
        origin(call),
        path::attachment_href(&target.place.owner, &managed_id)
    );
    let added = ManagedAttachment {
        managed_id,
        object,
        filename,
        content_type,
    };
    Ok((added, url))
}

fn attach_line(added: &ManagedAttachment, url: String) -> ManagedAttach {
    ManagedAttach {
        managed_id: added.managed_id.clone(),
        filename: added.filename.clone(),
        size: added.object.size,
        fmttype: added.content_type.clone(),
        url,
    }
}

async fn add(
    call: &mut Call<'_>,
    target: &Target<'_>,
    instances: &Instances,
) -> DavResult<Response> {
    let present = attach::managed_ids(&target.record.body)
        .map_err(AttachError::from)?
        .len();
    if present >= call.limits().attachments_per_resource {
        return Err(precondition(
            StatusCode::FORBIDDEN,
            "max-attachments-per-resource",
        ));
    }
    // The rid is checked before the body is stored.
    attach::add(&target.record.body, instances, &probe_line())?;
    let (added, url) = store(call, target).await?;
    let ical = attach::add(&target.record.body, instances, &attach_line(&added, url))?;
    let id = added.managed_id.clone();
    let outcome = submit(call, target, ical, Some(added), None).await?;
    answer(outcome, StatusCode::CREATED, Some(&id), target)
}

async fn update(call: &mut Call<'_>, target: &Target<'_>, old: &str) -> DavResult<Response> {
    known(call, target, old)?;
    let (added, url) = store(call, target).await?;
    let ical = attach::update(&target.record.body, old, &attach_line(&added, url))?;
    let id = added.managed_id.clone();
    let outcome = submit(call, target, ical, Some(added), Some(old.to_string())).await?;
    answer(outcome, StatusCode::OK, Some(&id), target)
}

async fn remove(
    call: &mut Call<'_>,
    target: &Target<'_>,
    id: &str,
    instances: &Instances,
) -> DavResult<Response> {
    known(call, target, id)?;
    let ical = attach::remove(&target.record.body, id, instances)?;
    // Taken from some instances only, it stays the object's.
    let gone = !attach::managed_ids(&ical)
        .map_err(AttachError::from)?
        .contains(id);
    let removed = gone.then(|| id.to_string());
    let outcome = submit(call, target, ical, None, removed).await?;
    answer(outcome, StatusCode::NO_CONTENT, None, target)
}

/// A stand-in for the line an add will write, to check where it goes
/// before anything is stored.
fn probe_line() -> ManagedAttach {
    ManagedAttach {
        managed_id: String::new(),
        filename: String::new(),
        size: 0,
        fmttype: String::new(),
        url: String::new(),
    }
}

/// `valid-managed-id`: the ID is on this object, and recorded for it.
fn known(call: &Call<'_>, target: &Target<'_>, id: &str) -> DavResult<()> {
    let on_object = attach::managed_ids(&target.record.body)
        .map_err(AttachError::from)?
        .contains(id);
    if on_object && recorded_for(call, target.place, target.name, id)? {
        Ok(())
    } else {
        Err(unknown_managed_id())
    }
}

async fn submit(
    call: &Call<'_>,
    target: &Target<'_>,
    ical: String,
    added: Option<ManagedAttachment>,
    removed: Option<String>,
) -> DavResult<Outcome> {
    let payload = Payload::CalendarAttachmentChanged(CalendarAttachmentChanged {
        calendar: target.place.collection.clone(),
        href: target.name.to_string(),
        uid: target.record.uid.clone(),
        ical,
        added,
        removed,
    });
    call.submit_to(&target.place.owner, payload, target.record.version)
        .await
}

fn answer(
    outcome: Outcome,
    status: StatusCode,
    managed_id: Option<&str>,
    target: &Target<'_>,
) -> DavResult<Response> {
    let Outcome::Applied { version } = outcome else {
        return Err(rejected(outcome));
    };
    let mut response = status.into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        headers.insert(header::ETAG, v);
    }
    if let Some(id) = managed_id {
        if let Ok(v) = HeaderValue::from_str(id) {
            headers.insert(CAL_MANAGED_ID, v);
        }
        let location = path::attachment_href(&target.place.owner, id);
        if let Ok(v) = HeaderValue::from_str(&location) {
            headers.insert(header::LOCATION, v);
        }
    }
    Ok(response)
}

/// `scheme://host` as the client reached us (through a proxy, its
/// `X-Forwarded-Proto`), for the absolute URL an ATTACH property needs.
fn origin(call: &Call<'_>) -> String {
    let host = call.header(header::HOST).unwrap_or("localhost");
    let scheme = call
        .header(header::HeaderName::from_static("x-forwarded-proto"))
        .filter(|p| *p == "https" || *p == "http")
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

/// The `filename` of a `Content-Disposition`: `filename*=UTF-8''…`
/// (RFC 6266) first, else `filename="…"` or a bare token. Only the last
/// path segment is kept, and nothing that would break a parameter.
fn filename_of(disposition: &str) -> Option<String> {
    let mut plain = None;
    let mut extended = None;
    for part in disposition.split(';').map(str::trim) {
        let Some((name, value)) = part.split_once('=') else {
            continue;
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "filename*" => {
                let value = value.trim();
                let encoded = value
                    .split_once("''")
                    .map_or(value, |(_charset, rest)| rest);
                extended = Some(percent_decode_str(encoded).decode_utf8_lossy().into_owned());
            }
            "filename" => plain = Some(value.trim().trim_matches('"').to_string()),
            _ => {}
        }
    }
    let name = extended.or(plain)?;
    let name = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let name: String = name.chars().filter(|c| !c.is_control()).collect();
    (!name.is_empty()).then_some(name)
}

/// GET (or HEAD) of a managed attachment: only for someone who may read
/// the object that carries it; to anyone else it does not exist.
pub async fn get(
    call: &Call<'_>,
    owner: &str,
    managed_id: &str,
    with_body: bool,
) -> DavResult<Response> {
    let record = call
        .views
        .calendars
        .attachment(owner, managed_id)?
        .ok_or_else(DavError::not_found)?;
    let place = if owner == call.principal {
        Some(Place::own(Kind::Calendar, owner, &record.calendar))
    } else {
        sharing::resolve(
            &call.ctx(),
            Kind::Calendar,
            &sharing::bound_name(&record.calendar, owner),
        )?
    };
    let place = place.ok_or_else(DavError::not_found)?;
    let carried = place
        .object(&call.views, &record.href)?
        .and_then(|object| attach::managed_ids(&object.body).ok())
        .is_some_and(|ids| ids.contains(managed_id));
    if !carried {
        return Err(DavError::not_found());
    }
    let mut response = if with_body {
        call.object_body(&record.object).await?.into_response()
    } else {
        ().into_response()
    };
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&record.content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(record.object.size),
    );
    // The bytes never change under a managed ID: their digest is an ETag.
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", record.object.sha256)) {
        headers.insert(header::ETAG, v);
    }
    let disposition = format!(
        "attachment; filename*=UTF-8''{}",
        percent_encoding::utf8_percent_encode(&record.filename, percent_encoding::NON_ALPHANUMERIC)
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// A client PUT of a calendar object may keep, but not invent, managed
/// attachments: every MANAGED-ID in its text must be one recorded for
/// this very object (`valid-managed-id`).
pub fn check_put(call: &Call<'_>, place: &Place, name: &str, text: &str) -> DavResult<()> {
    if !text.contains("MANAGED-ID") {
        return Ok(());
    }
    let Ok(ids) = attach::managed_ids(text) else {
        return Ok(());
    };
    for id in ids {
        if !recorded_for(call, place, name, &id)? {
            return Err(unknown_managed_id());
        }
    }
    Ok(())
}

/// Whether the view records attachment `id` as carried by the object
/// `name` at `place`.
fn recorded_for(call: &Call<'_>, place: &Place, name: &str, id: &str) -> DavResult<bool> {
    Ok(call
        .views
        .calendars
        .attachment(&place.owner, id)?
        .is_some_and(|r| r.calendar == place.collection && r.href == name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_and_filenames_parse_as_clients_send_them() {
        assert_eq!(
            Query::parse("action=attachment-remove&managed-id=ab%2Fc&rid=M,20260105T090000Z"),
            Query {
                action: Some("attachment-remove".into()),
                rid: Some("M,20260105T090000Z".into()),
                managed_id: Some("ab/c".into()),
            }
        );
        assert_eq!(
            filename_of("attachment; filename=\"agenda.pdf\""),
            Some("agenda.pdf".into())
        );
        assert_eq!(
            filename_of("attachment;filename=plain.txt"),
            Some("plain.txt".into())
        );
        assert_eq!(
            filename_of("attachment; filename=\"a.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"),
            Some("résumé.pdf".into())
        );
        assert_eq!(
            filename_of("attachment; filename=\"../../etc/passwd\""),
            Some("passwd".into())
        );
        assert_eq!(filename_of("attachment"), None);
    }
}
