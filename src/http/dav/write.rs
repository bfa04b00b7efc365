//! The write methods on calendars and address books: PUT, DELETE,
//! PROPPATCH, MKCALENDAR, extended MKCOL, COPY and MOVE. Each checks what
//! it can against the views (so bad requests append nothing), then appends
//! one event and answers from the outcome the projection recorded for it.

use super::files;
use super::props;
use super::resource::{self, Resource};
use super::schedule;
use super::sharing::{self, Place, Rights};
use super::{check_write_conditions, multistatus, rejected, Call, DavError, DavResult};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use events::payload::*;
use events::{AggregateVersion, Payload};
use formats::davpath::{self as path, DavPath, Kind};
use formats::xml::{
    self, Element, MkcolRequest, MultiStatus, PropStat, Property, PropertyUpdate, QName,
    ResponseBody, Value, APPLE_ICAL, CALDAV, CARDDAV, DAV,
};
use projections::{Outcome, Rejection};

fn namespace(kind: Kind) -> &'static str {
    match kind {
        Kind::Calendar => CALDAV,
        Kind::AddressBook => CARDDAV,
    }
}

/// 201 or 204 with the new ETag, from an applied write.
pub fn written(outcome: Outcome, created: bool) -> DavResult<Response> {
    match outcome {
        Outcome::Applied { version } => {
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::NO_CONTENT
            };
            let mut response = status.into_response();
            if version != AggregateVersion::ABSENT {
                if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
                    response.headers_mut().insert(header::ETAG, v);
                }
            }
            Ok(response)
        }
        other => Err(rejected(other)),
    }
}

/// `no-uid-conflict` (RFC 4791 §5.3.2.1, RFC 6352 §6.3.2.1), naming the
/// resource that holds the UID.
fn uid_conflict(kind: Kind, href: String) -> DavError {
    DavError::precondition(StatusCode::CONFLICT, namespace(kind), "no-uid-conflict").with_href(href)
}

/// [`written`] for an object write, naming the holder of a conflicting UID
/// by the href a client sees.
fn object_written(outcome: Outcome, place: &Place, created: bool) -> DavResult<Response> {
    match outcome {
        Outcome::Rejected {
            rejection: Rejection::UidConflict { href },
        } => Err(uid_conflict(place.kind, place.object_href(&href))),
        other => written(other, created),
    }
}

/// 403 with `DAV:need-privileges` (RFC 3744 §7.1.1).
fn need_privileges() -> DavError {
    DavError::precondition(StatusCode::FORBIDDEN, DAV, "need-privileges")
}

/// The collection a calendar or address-book path names, for a write of
/// its members: 409 when there is none the requester may see (as for a
/// missing parent, RFC 4918 §9.7.1), 403 when they may only read it.
fn writable_place(call: &Call<'_>, kind: Kind, collection: &str) -> DavResult<Place> {
    let missing = || DavError::conflict(format!("no collection {collection}"));
    let place = sharing::resolve(&call.ctx(), kind, collection)?.ok_or_else(missing)?;
    if !place.exists(&call.views)? {
        return Err(missing());
    }
    if !place.may_write() {
        return Err(need_privileges());
    }
    Ok(place)
}

pub async fn put(call: &mut Call<'_>) -> DavResult<Response> {
    match call.path.clone() {
        DavPath::Object(kind, _, collection, name) => {
            if kind == Kind::Calendar
                && [schedule::SCHEDULE_INBOX, schedule::SCHEDULE_OUTBOX]
                    .contains(&collection.as_str())
            {
                return Err(DavError::forbidden(
                    "the scheduling inbox and outbox are written by the server",
                ));
            }
            let place = writable_place(call, kind, &collection)?;
            put_object(call, &place, &name).await
        }
        DavPath::File(principal, file) => files::put(call, &principal, &file).await,
        _ => Err(DavError::method_not_allowed(
            "PUT makes resources, not collections",
        )),
    }
}

/// A validated object body: its UID and component.
struct Validated {
    uid: String,
    component: Option<String>,
}

fn validate(kind: Kind, text: &str) -> DavResult<Validated> {
    let invalid = |local: &str, e: formats::FormatError| {
        tracing::debug!(error = %e, "invalid object");
        DavError::precondition(StatusCode::FORBIDDEN, namespace(kind), local)
    };
    match kind {
        Kind::Calendar => {
            let object = formats::ical::validate_calendar_object(text)
                .map_err(|e| invalid("valid-calendar-data", e))?;
            Ok(Validated {
                uid: object.uid,
                component: Some(object.kind.as_str().to_string()),
            })
        }
        Kind::AddressBook => {
            let card = formats::vcard::validate_card(text)
                .map_err(|e| invalid("valid-address-data", e))?;
            let uid = card.uid.ok_or_else(|| {
                DavError::precondition(StatusCode::FORBIDDEN, CARDDAV, "valid-address-data")
            })?;
            Ok(Validated {
                uid,
                component: None,
            })
        }
    }
}

fn check_content_type(call: &Call<'_>, kind: Kind) -> DavResult<()> {
    let Some(ct) = call.header(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let accepted: &[&str] = match kind {
        Kind::Calendar => &["text/calendar"],
        Kind::AddressBook => &["text/vcard", "text/x-vcard", "text/directory"],
    };
    if accepted.contains(&media.as_str()) {
        return Ok(());
    }
    Err(match kind {
        Kind::Calendar => DavError::precondition(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            CALDAV,
            "supported-calendar-data",
        ),
        Kind::AddressBook => DavError::precondition(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            CARDDAV,
            "supported-address-data",
        ),
    })
}

/// Whether a calendar takes a component (address books take any card).
fn accepts(call: &Call<'_>, place: &Place, component: Option<&str>) -> DavResult<bool> {
    Ok(match place.kind {
        Kind::Calendar => {
            let Some(record) = place.calendar(&call.views)? else {
                return Err(DavError::conflict(format!(
                    "no calendar {}",
                    place.collection
                )));
            };
            let set = props::calendar_components(&record.props);
            component.is_some_and(|c| set.iter().any(|s| s.eq_ignore_ascii_case(c)))
        }
        Kind::AddressBook => true,
    })
}

fn object(
    call: &Call<'_>,
    place: &Place,
    name: &str,
) -> DavResult<Option<projections::calendars::ObjectRecord>> {
    Ok(place.object(&call.views, name)?)
}

fn uid_holder(call: &Call<'_>, place: &Place, uid: &str) -> DavResult<Option<String>> {
    Ok(place.href_of_uid(&call.views, uid)?)
}

/// The event of a PUT: its body inline, or stored first when larger than
/// the inline limit.
async fn put_payload(
    call: &Call<'_>,
    kind: Kind,
    collection: &str,
    href: &str,
    uid: String,
    body: String,
    scheduling: Option<SchedulingRole>,
) -> DavResult<Payload> {
    let (text, object) = call.engine.body_for_event(body).await?;
    Ok(match kind {
        Kind::Calendar => Payload::CalendarObjectPut(CalendarObjectPut {
            calendar: collection.to_string(),
            href: href.to_string(),
            uid,
            ical: text,
            ical_object: object,
            scheduling,
        }),
        Kind::AddressBook => Payload::ContactPut(ContactPut {
            address_book: collection.to_string(),
            href: href.to_string(),
            uid,
            vcard: text,
            vcard_object: object,
        }),
    })
}

async fn put_object(call: &mut Call<'_>, place: &Place, name: &str) -> DavResult<Response> {
    let kind = place.kind;
    check_content_type(call, kind)?;
    let limit = match kind {
        Kind::Calendar => call.limits().inline,
        Kind::AddressBook => call.limits().vcard,
    };
    let body = call
        .body_within(limit, || {
            DavError::precondition(
                StatusCode::PAYLOAD_TOO_LARGE,
                namespace(kind),
                "max-resource-size",
            )
        })
        .await?;
    let text = String::from_utf8(body.to_vec()).map_err(|_| {
        DavError::precondition(
            StatusCode::FORBIDDEN,
            namespace(kind),
            match kind {
                Kind::Calendar => "valid-calendar-data",
                Kind::AddressBook => "valid-address-data",
            },
        )
    })?;
    // Before validating: each line is a property in every tree built from
    // the object (queries, scheduling), which the size alone does not bound.
    // No CalDAV or CardDAV precondition names a count of lines.
    formats::check_content_lines(&text, call.limits().object_lines)
        .map_err(|e| DavError::forbidden(e.to_string()))?;
    let valid = validate(kind, &text)?;
    if !accepts(call, place, valid.component.as_deref())? {
        return Err(DavError::precondition(
            StatusCode::FORBIDDEN,
            CALDAV,
            "supported-calendar-component",
        ));
    }
    let existing = object(call, place, name)?;
    // If-Schedule-Tag-Match stands in for If-Match (RFC 6638 §3.2.10).
    let tag_matched =
        kind == Kind::Calendar && schedule::check_schedule_tag(call, place, existing.as_ref())?;
    if !tag_matched {
        check_write_conditions(
            &call.headers,
            existing.as_ref().map(|o| o.etag()).as_deref(),
        )?;
    }
    if kind == Kind::Calendar {
        super::attachments::check_put(call, place, name, &text)?;
    }
    if let Some(holder) = uid_holder(call, place, &valid.uid)? {
        if holder != name {
            return Err(uid_conflict(kind, place.object_href(&holder)));
        }
    }
    let scheduled = match kind {
        Kind::Calendar => schedule::decide_put(call, place, text, call.limits().attendees)?,
        Kind::AddressBook => schedule::Scheduled {
            text,
            role: None,
            changed: false,
        },
    };
    let expected = existing
        .as_ref()
        .map_or(AggregateVersion::ABSENT, |o| o.version);
    let uid = valid.uid.clone();
    let scheduling = scheduled.role.is_some();
    let payload = put_payload(
        call,
        kind,
        &place.collection,
        name,
        valid.uid,
        scheduled.text,
        scheduled.role,
    )
    .await?;
    let outcome = call.submit_to(&place.owner, payload, expected).await?;
    let mut response = object_written(outcome, place, existing.is_none())?;
    if scheduled.changed {
        // The stored text is not the client's (RFC 4791 §5.3.4).
        response.headers_mut().remove(header::ETAG);
    }
    if scheduling {
        let tag = call
            .engine
            .views()
            .calendars
            .schedule_tag(&place.owner, &uid)?;
        if let Some(v) = tag.and_then(schedule::tag_header) {
            response
                .headers_mut()
                .insert(schedule::SCHEDULE_TAG.clone(), v);
        }
    }
    Ok(response)
}

pub async fn delete(call: &mut Call<'_>) -> DavResult<Response> {
    match call.path.clone() {
        DavPath::Object(kind, _, c, o) => {
            let place = sharing::resolve(&call.ctx(), kind, &c)?.ok_or_else(DavError::not_found)?;
            let existing = object(call, &place, &o)?.ok_or_else(DavError::not_found)?;
            if !place.may_write() {
                return Err(need_privileges());
            }
            let tag_matched = kind == Kind::Calendar
                && schedule::check_schedule_tag(call, &place, Some(&existing))?;
            if !tag_matched {
                check_write_conditions(&call.headers, Some(&existing.etag()))?;
            }
            // Deleting what the inbox holds answers nothing.
            let scheduling = match kind {
                Kind::Calendar if props::scheduling_box(&place).is_none() => {
                    schedule::decide_delete(&call.views, &place, &existing.body)?
                }
                _ => None,
            };
            let payload = match kind {
                Kind::Calendar => Payload::CalendarObjectDeleted(CalendarObjectDeleted {
                    calendar: place.collection.clone(),
                    href: o,
                    scheduling,
                }),
                Kind::AddressBook => Payload::ContactDeleted(ContactDeleted {
                    address_book: place.collection.clone(),
                    href: o,
                }),
            };
            let outcome = call
                .submit_to(&place.owner, payload, existing.version)
                .await?;
            written(outcome, false)
        }
        DavPath::Collection(..) => {
            let resource =
                resource::load(&call.ctx(), &call.path)?.ok_or_else(DavError::not_found)?;
            let (place, version) = match &resource {
                Resource::Calendar { place, record } => (place, record.version),
                Resource::AddressBook { place, record } => (place, record.version),
                _ => return Err(DavError::not_found()),
            };
            if place.is_bound() {
                return leave_share(call, place).await;
            }
            if props::scheduling_box(place).is_some() {
                return Err(DavError::forbidden(
                    "the scheduling inbox and outbox cannot be deleted",
                ));
            }
            check_write_conditions(&call.headers, Some(&format!("\"{version}\"")))?;
            let collection = place.collection.clone();
            let payload = match place.kind {
                Kind::Calendar => Payload::CalendarDeleted(CalendarDeleted {
                    calendar: collection,
                }),
                Kind::AddressBook => Payload::AddressBookDeleted(AddressBookDeleted {
                    address_book: collection,
                }),
            };
            written(call.submit(payload, version).await?, false)
        }
        DavPath::File(p, file) => files::delete(call, &p, &file).await,
        _ => Err(DavError::forbidden("this collection cannot be deleted")),
    }
}

/// Where a property of a PROPPATCH or MKCOL goes.
enum Target {
    /// A live property the server computes.
    Protected,
    /// A live property stored in the collection's own fields.
    Live,
    Dead,
}

fn target(resource: &Resource, name: &QName) -> Target {
    if props::is_protected(name) {
        return Target::Protected;
    }
    let live: &[(&str, &str)] = match resource {
        Resource::Calendar { .. } => &[
            (DAV, "displayname"),
            (CALDAV, "calendar-description"),
            (APPLE_ICAL, "calendar-color"),
            (CALDAV, "calendar-timezone"),
        ],
        Resource::AddressBook { .. } => {
            &[(DAV, "displayname"), (CARDDAV, "addressbook-description")]
        }
        Resource::Folder { entry: Some(_), .. } | Resource::File { .. } => &[],
        _ => return Target::Protected,
    };
    if live.iter().any(|(ns, local)| name.is(ns, local)) {
        Target::Live
    } else {
        Target::Dead
    }
}

/// The text of a property, `None` for a removal or an empty value.
fn text_value(update: &PropertyUpdate) -> Option<String> {
    match update {
        PropertyUpdate::Set(el) => {
            let text = el.text();
            (!text.trim().is_empty()).then_some(text)
        }
        PropertyUpdate::Remove(_) => None,
    }
}

fn update_name(update: &PropertyUpdate) -> &QName {
    match update {
        PropertyUpdate::Set(el) => &el.name,
        PropertyUpdate::Remove(name) => name,
    }
}

pub async fn proppatch(call: &mut Call<'_>) -> DavResult<Response> {
    let body = call.xml_body().await?;
    let updates = xml::parse_proppatch(&body)?;
    call.limits().request.check_proppatch(&updates)?;
    let resource = resource::load(&call.ctx(), &call.path)?.ok_or_else(DavError::not_found)?;
    let names: Vec<QName> = {
        let mut names: Vec<QName> = Vec::new();
        for u in &updates {
            if !names.contains(update_name(u)) {
                names.push(update_name(u).clone());
            }
        }
        names
    };
    let refused: Vec<&QName> = names
        .iter()
        .filter(|n| matches!(target(&resource, n), Target::Protected))
        .collect();
    let answer = |status_of: &dyn Fn(&QName) -> u16| {
        let mut stats: Vec<PropStat> = Vec::new();
        for name in &names {
            let status = status_of(name);
            let prop = Property {
                name: name.clone(),
                value: Value::Empty,
            };
            match stats.iter_mut().find(|s| s.status == status) {
                Some(s) => s.props.push(prop),
                None => stats.push(PropStat {
                    status,
                    props: vec![prop],
                }),
            }
        }
        multistatus(xml::write_multistatus(&MultiStatus {
            responses: vec![xml::Response {
                href: resource.href(),
                body: ResponseBody::PropStats(stats),
            }],
            sync_token: None,
        }))
    };
    if !refused.is_empty() {
        // All or nothing (RFC 4918 §9.2): the rest fail with 424.
        return Ok(answer(&|n| if refused.contains(&n) { 403 } else { 424 }));
    }
    let mut dead = DeadPropertiesPatch::new();
    let mut live: Vec<(&QName, Option<String>)> = Vec::new();
    for update in &updates {
        let name = update_name(update);
        match target(&resource, name) {
            Target::Live => live.push((name, text_value(update))),
            Target::Dead => {
                let value = match update {
                    PropertyUpdate::Set(el) => Some(el.to_xml()),
                    PropertyUpdate::Remove(_) => None,
                };
                dead.insert(name.clark(), value);
            }
            Target::Protected => {}
        }
    }
    // Dead properties add up over PROPPATCHes, and every read of the
    // resource loads them all: bounded per resource, with RFC 4918's 507
    // on the properties that did not fit (§9.2.1), 424 on the others.
    if let Some(stored) = stored_dead(&resource) {
        if !dead_properties_fit(stored, &dead) {
            return Ok(answer(&|n| {
                if dead.get(&n.clark()).is_some_and(Option::is_some) {
                    507
                } else {
                    424
                }
            }));
        }
    }
    let (payload, expected) = match &resource {
        Resource::Calendar { place, .. } | Resource::AddressBook { place, .. }
            if place.rights != Rights::Owner =>
        {
            return Ok(answer(&|_| 403))
        }
        Resource::Calendar { place, record } => {
            let mut e = CalendarUpdated {
                calendar: place.collection.clone(),
                dead,
                ..CalendarUpdated::default()
            };
            for (prop, value) in live {
                match prop.local.as_str() {
                    "displayname" => e.display_name = Some(value),
                    "calendar-description" => e.description = Some(value),
                    "calendar-color" => e.color = Some(value),
                    _ => e.timezone = Some(value),
                }
            }
            (Payload::CalendarUpdated(e), record.version)
        }
        Resource::AddressBook { place, record } => {
            let mut e = AddressBookUpdated {
                address_book: place.collection.clone(),
                dead,
                ..AddressBookUpdated::default()
            };
            for (prop, value) in live {
                match prop.local.as_str() {
                    "displayname" => e.display_name = Some(value),
                    _ => e.description = Some(value),
                }
            }
            (Payload::AddressBookUpdated(e), record.version)
        }
        Resource::Folder {
            path,
            entry: Some(entry),
            ..
        }
        | Resource::File { path, entry, .. } => (
            Payload::FilePropertiesPatched(FilePropertiesPatched {
                path: path.clone(),
                dead,
            }),
            entry.version,
        ),
        _ => return Ok(answer(&|_| 403)),
    };
    match call.submit(payload, expected).await? {
        Outcome::Applied { .. } => Ok(answer(&|_| 200)),
        other => Err(rejected(other)),
    }
}

/// Most dead properties one resource keeps.
const MAX_DEAD_PROPERTIES: usize = 256;
/// Most bytes of dead properties (names and values) one resource keeps:
/// clients store a colour, an order, a few settings, never more than a
/// few KiB.
const MAX_DEAD_PROPERTY_BYTES: usize = 256 * 1024;

/// The dead properties a resource holds, when it can hold any.
fn stored_dead(resource: &Resource) -> Option<&events::payload::DeadProperties> {
    match resource {
        Resource::Calendar { record, .. } => Some(&record.props.dead),
        Resource::AddressBook { record, .. } => Some(&record.props.dead),
        Resource::Folder {
            entry: Some(entry), ..
        }
        | Resource::File { entry, .. } => Some(&entry.dead),
        _ => None,
    }
}

/// Whether `stored` with `patch` applied stays within the bounds. A patch
/// that only removes always fits, so a resource over them (stored before
/// they existed) can be brought back under.
fn dead_properties_fit(
    stored: &events::payload::DeadProperties,
    patch: &events::payload::DeadPropertiesPatch,
) -> bool {
    if patch.values().all(Option::is_none) {
        return true;
    }
    let mut count = 0;
    let mut bytes = 0;
    for (name, value) in stored {
        if !patch.contains_key(name) {
            count += 1;
            bytes += name.len() + value.len();
        }
    }
    for (name, value) in patch {
        if let Some(value) = value {
            count += 1;
            bytes += name.len() + value.len();
        }
    }
    count <= MAX_DEAD_PROPERTIES && bytes <= MAX_DEAD_PROPERTY_BYTES
}

/// Collection properties from an MKCALENDAR or extended MKCOL body.
fn calendar_props(set: &[Element]) -> CalendarProps {
    let mut props = CalendarProps::default();
    for el in set {
        let text = el.text();
        let value = (!text.trim().is_empty()).then_some(text);
        match (el.name.ns.as_str(), el.name.local.as_str()) {
            (DAV, "displayname") => props.display_name = value,
            (CALDAV, "calendar-description") => props.description = value,
            (APPLE_ICAL, "calendar-color") => props.color = value,
            (CALDAV, "calendar-timezone") => props.timezone = value,
            (CALDAV, "supported-calendar-component-set") => {
                props.components = el
                    .elements()
                    .filter(|c| c.is(CALDAV, "comp"))
                    .filter_map(|c| {
                        c.attrs
                            .iter()
                            .find(|(n, _)| n.local == "name")
                            .map(|(_, v)| v.to_ascii_uppercase())
                    })
                    .collect();
            }
            _ => {
                props.dead.insert(el.name.clark(), el.to_xml());
            }
        }
    }
    props
}

fn address_book_props(set: &[Element]) -> AddressBookProps {
    let mut props = AddressBookProps::default();
    for el in set {
        let text = el.text();
        let value = (!text.trim().is_empty()).then_some(text);
        match (el.name.ns.as_str(), el.name.local.as_str()) {
            (DAV, "displayname") => props.display_name = value,
            (CARDDAV, "addressbook-description") => props.description = value,
            _ => {
                props.dead.insert(el.name.clark(), el.to_xml());
            }
        }
    }
    props
}

pub async fn mkcol(call: &mut Call<'_>, method: &str) -> DavResult<Response> {
    let calendar_method = method == "MKCALENDAR";
    let location_not_ok = || {
        DavError::precondition(
            StatusCode::FORBIDDEN,
            CALDAV,
            "calendar-collection-location-ok",
        )
    };
    let (kind, collection) = match call.path.clone() {
        DavPath::Collection(kind, _, collection) => (kind, collection),
        DavPath::File(p, file) if !calendar_method => return files::mkcol(call, &p, &file).await,
        DavPath::Object(..) | DavPath::File(..) if calendar_method => return Err(location_not_ok()),
        DavPath::Object(..) => {
            return Err(DavError::forbidden(
                "collections cannot be nested in calendars or address books",
            ))
        }
        _ => {
            return Err(DavError::method_not_allowed(
                "this collection already exists",
            ))
        }
    };
    if kind == Kind::Calendar
        && [schedule::SCHEDULE_INBOX, schedule::SCHEDULE_OUTBOX].contains(&collection.as_str())
    {
        return Err(DavError::method_not_allowed(
            "this name is the scheduling inbox's or outbox's",
        ));
    }
    let body = call.xml_body().await?;
    let empty = body.iter().all(u8::is_ascii_whitespace);
    let request = match (empty, calendar_method) {
        (true, _) => MkcolRequest::default(),
        (false, true) => xml::parse_mkcalendar(&body)?,
        (false, false) => xml::parse_mkcol(&body)?,
    };
    call.limits().request.check_mkcol(&request)?;
    if resource::load(&call.ctx(), &call.path)?.is_some() {
        return Err(DavError::method_not_allowed(
            "this collection already exists",
        ));
    }
    if sharing::is_reserved(&collection) {
        return Err(DavError::forbidden(
            "names of the form name@login@domain and directory@domain are kept for shared collections and directories",
        ));
    }
    let wanted = match kind {
        Kind::Calendar => QName::new(CALDAV, "calendar"),
        Kind::AddressBook => QName::new(CARDDAV, "addressbook"),
    };
    if calendar_method && kind != Kind::Calendar {
        return Err(location_not_ok());
    }
    if !calendar_method && !request.resourcetype.contains(&wanted) {
        return Err(DavError::precondition(
            StatusCode::FORBIDDEN,
            DAV,
            "valid-resourcetype",
        ));
    }
    let payload = match kind {
        Kind::Calendar => Payload::CalendarCreated(CalendarCreated {
            calendar: collection,
            props: calendar_props(&request.set),
        }),
        Kind::AddressBook => Payload::AddressBookCreated(AddressBookCreated {
            address_book: collection,
            props: address_book_props(&request.set),
        }),
    };
    match call.submit(payload, AggregateVersion::ABSENT).await? {
        Outcome::Applied { .. } => Ok(StatusCode::CREATED.into_response()),
        Outcome::Rejected {
            rejection: Rejection::AlreadyExists { .. } | Rejection::VersionConflict { .. },
        } => Err(DavError::method_not_allowed(
            "this collection already exists",
        )),
        other => Err(rejected(other)),
    }
}

/// The `Destination` of a COPY or MOVE, as a path of this principal.
pub fn destination(call: &Call<'_>) -> DavResult<DavPath> {
    let dest = call
        .header(header::HeaderName::from_static("destination"))
        .ok_or_else(|| DavError::bad_request("COPY and MOVE need a Destination header"))?;
    let path = DavPath::parse(path::href_path(dest)).map_err(|e| match e {
        path::PathError::NotFound => {
            DavError::forbidden("the destination is not on this server's DAV tree")
        }
        bad => DavError::bad_request(bad.to_string()),
    })?;
    if path.owner() != Some(call.principal.as_str()) {
        return Err(DavError::forbidden(
            "the destination belongs to another principal",
        ));
    }
    Ok(path)
}

/// `Overwrite: F` forbids replacing the destination; the default is T.
pub fn overwrite(call: &Call<'_>) -> bool {
    !call
        .header(header::HeaderName::from_static("overwrite"))
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("f"))
}

pub async fn copy_move(call: &mut Call<'_>, moving: bool) -> DavResult<Response> {
    let dest = destination(call)?;
    match (call.path.clone(), dest) {
        (DavPath::Object(k1, _, c1, o1), DavPath::Object(k2, _, c2, o2)) if k1 == k2 => {
            let ctx = call.ctx();
            let from = sharing::resolve(&ctx, k1, &c1)?.ok_or_else(DavError::not_found)?;
            let to = writable_place(call, k2, &c2)?;
            copy_move_object(call, moving, (&from, &o1), (&to, &o2)).await
        }
        (DavPath::File(p, from), DavPath::File(_, to)) => {
            files::copy_move(call, moving, &p, &from, &to).await
        }
        (DavPath::Collection(..), _) => Err(DavError::forbidden(
            "calendars and address books cannot be copied or moved; their objects can",
        )),
        _ => Err(DavError::forbidden(
            "COPY and MOVE work between collections of the same kind",
        )),
    }
}

async fn copy_move_object(
    call: &mut Call<'_>,
    moving: bool,
    (from, o1): (&Place, &str),
    (to, o2): (&Place, &str),
) -> DavResult<Response> {
    let kind = from.kind;
    let source = object(call, from, o1)?.ok_or_else(DavError::not_found)?;
    check_write_conditions(&call.headers, Some(&source.etag()))?;
    if moving && !from.may_write() {
        return Err(need_privileges());
    }
    // One event moves a resource, and one event lives in one owner's
    // partition: between owners, a client copies and then deletes.
    if moving && from.owner != to.owner {
        return Err(DavError::forbidden(
            "MOVE between collections of different owners is not atomic here; COPY, then DELETE",
        ));
    }
    let (c1, c2) = (from.collection.as_str(), to.collection.as_str());
    if from.owner == to.owner && (c1, o1) == (c2, o2) {
        return Err(DavError::forbidden("source and destination are the same"));
    }
    if !accepts(call, to, source.component.as_deref())? {
        return Err(DavError::precondition(
            StatusCode::FORBIDDEN,
            CALDAV,
            "supported-calendar-component",
        ));
    }
    let replaced = object(call, to, o2)?;
    let overwrite = overwrite(call);
    if replaced.is_some() && !overwrite {
        return Err(DavError::status(
            StatusCode::PRECONDITION_FAILED,
            "the destination exists and Overwrite is F",
        ));
    }
    if let Some(holder) = uid_holder(call, to, &source.uid)? {
        let leaving = moving && c1 == c2 && holder == o1;
        if holder != o2 && !leaving {
            return Err(uid_conflict(kind, to.object_href(&holder)));
        }
    }
    let (payload, expected) = if moving {
        let payload = match kind {
            Kind::Calendar => Payload::CalendarObjectMoved(CalendarObjectMoved {
                calendar: c1.to_string(),
                href: o1.to_string(),
                to_calendar: c2.to_string(),
                to_href: o2.to_string(),
                overwrite,
            }),
            Kind::AddressBook => Payload::ContactMoved(ContactMoved {
                address_book: c1.to_string(),
                href: o1.to_string(),
                to_address_book: c2.to_string(),
                to_href: o2.to_string(),
                overwrite,
            }),
        };
        (payload, source.version)
    } else {
        let expected = replaced
            .as_ref()
            .map_or(AggregateVersion::ABSENT, |o| o.version);
        (
            put_payload(
                call,
                kind,
                c2,
                o2,
                source.uid.clone(),
                source.body.clone(),
                None,
            )
            .await?,
            expected,
        )
    };
    let outcome = call.submit_to(&to.owner, payload, expected).await?;
    object_written(outcome, to, replaced.is_none())
}

/// DELETE of a shared collection in the sharee's home: the sharee leaves
/// the share (their own grant is withdrawn, in the owner's partition).
/// A share through a group is the group's; the directory does not bind
/// it, so it cannot be left alone.
async fn leave_share(call: &Call<'_>, place: &Place) -> DavResult<Response> {
    if place.is_directory() {
        return Err(need_privileges());
    }
    let me = events::payload::Sharee::User(call.principal.clone());
    let direct = place
        .grants(&call.views)?
        .iter()
        .any(|(sharee, _)| *sharee == me);
    if !direct {
        return Err(DavError::forbidden(
            "this collection is shared with a group of yours; its owner can withdraw it",
        ));
    }
    let collection = place.collection.clone();
    let payload = match place.kind {
        Kind::Calendar => Payload::CalendarUnshared(CalendarUnshared {
            calendar: collection,
            sharee: me,
        }),
        Kind::AddressBook => Payload::AddressBookUnshared(AddressBookUnshared {
            address_book: collection,
            sharee: me,
        }),
    };
    // Leaving expects nothing of the collection: its version is the owner's.
    let event = events::EventEnvelope::now(place.owner.clone(), call.principal.clone(), payload);
    written(call.submit_event(event).await?, false)
}
