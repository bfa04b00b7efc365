//! The read methods: PROPFIND, REPORT (sync-collection, multiget), GET
//! and HEAD. They read the views only.

use super::cache::{self, CacheKey};
use super::principals;
use super::props;
use super::resource::{self, Ctx, Resource};
use super::sharing::Place;
use super::sync_token::{self, SyncToken};
use super::{multistatus, not_modified, Call, DavError, DavResult, Depth, QueryLimits};
use axum::body::Bytes;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use events::{AggregateVersion, ObjectRef};
use formats::calfilter::{
    self, parse_calendar_query, zone_name, CalendarData, CalendarQuery, Matcher,
};
use formats::cardfilter::{self, parse_addressbook_query, AddressbookQuery};
use formats::davpath::{self as path, DavPath, Kind};
use formats::filter::FilterError;
use formats::ical::time::{InstanceBudget, Limits, TimeError, TimeRange};
use formats::xml::{
    self, MultiStatus, PropRequest, QName, Report, ResponseBody, CALDAV, CARDDAV, DAV,
};
use projections::calendars::ObjectRecord;
use projections::files::FileContent;

/// What names a resource's current state in the render cache: its sync
/// token (collections) or its tag (homes). Other resources are not cached.
fn state_of(resource: &Resource) -> Option<String> {
    match resource {
        Resource::Calendar { record, .. } => {
            Some(format!("{}/{}", SyncToken::of(record), record.version.0))
        }
        Resource::AddressBook { record, .. } => {
            Some(format!("{}/{}", SyncToken::of(record), record.version.0))
        }
        Resource::Home { tag, .. } => Some(tag.clone()),
        _ => None,
    }
}

/// Serves a rendered body from the cache, or renders it and keeps it when
/// the resource did not change while rendering.
fn cached(
    call: &Call<'_>,
    resource: &Resource,
    key_parts: &[&[u8]],
    render: impl FnOnce() -> DavResult<String>,
) -> DavResult<Response> {
    let Some(state) = state_of(resource) else {
        return Ok(multistatus(render()?));
    };
    let mut parts = key_parts.to_vec();
    let href = resource.href();
    parts.push(href.as_bytes());
    parts.push(state.as_bytes());
    let key: CacheKey = cache::key(&parts);
    if let Some(body) = call.dav.cache.get(&key) {
        return Ok(multistatus(body));
    }
    let body = Bytes::from(render()?);
    let after = resource::load(&call.ctx(), &call.path)?;
    if after.as_ref().and_then(state_of).as_deref() == Some(state.as_str()) {
        call.dav.cache.insert(key, body.clone());
    }
    Ok(multistatus(body))
}

fn load(call: &Call<'_>) -> DavResult<Resource> {
    resource::load(&call.ctx(), &call.path)?.ok_or_else(DavError::not_found)
}

pub async fn propfind(call: &mut Call<'_>) -> DavResult<Response> {
    let depth = call.depth(Depth::Infinity)?;
    if depth == Depth::Infinity {
        return Err(DavError::precondition(
            StatusCode::FORBIDDEN,
            DAV,
            "propfind-finite-depth",
        ));
    }
    let body = call.xml_body().await?;
    let request = xml::parse_propfind(&body)?;
    call.limits().request.check_propfind(&request)?;
    let resource = load(call)?;
    let depth_tag: &[u8] = if depth == Depth::One { b"1" } else { b"0" };
    cached(call, &resource, &[b"PROPFIND", depth_tag, &body], || {
        let ctx = call.ctx();
        let mut ms = MultiStatus::default();
        ms.responses.push(xml::Response {
            href: resource.href(),
            body: resource.propstats(&ctx, &request),
        });
        if depth == Depth::One {
            for member in resource::members(&ctx, &resource)? {
                ms.responses.push(xml::Response {
                    href: member.href(),
                    body: member.propstats(&ctx, &request),
                });
            }
        }
        Ok(xml::write_multistatus(&ms))
    })
}

pub async fn report(call: &mut Call<'_>) -> DavResult<Response> {
    let body = call.xml_body().await?;
    let report = xml::parse_report(&body)?;
    call.limits().request.check_report(&report)?;
    let resource = load(call)?;
    match report {
        Report::SyncCollection {
            token,
            limit,
            props,
            ..
        } => cached(call, &resource, &[b"sync", &body], || {
            sync_collection(&call.ctx(), &resource, &token, limit, &props)
        }),
        Report::CalendarMultiget {
            props,
            hrefs,
            calendar_data,
        } => {
            // Children that narrow nothing (limit-freebusy-set alone) ask
            // for the whole objects.
            let data = calendar_data
                .as_ref()
                .map(calfilter::parse_calendar_data)
                .transpose()
                .map_err(|e| filter_error(CALDAV, e))?
                .filter(|d| *d != CalendarData::default());
            let multiget = Multiget {
                kind: Kind::Calendar,
                props: &props,
                hrefs: &hrefs,
                calendar_data: data.as_ref(),
            };
            multiget_report(call, &resource, multiget, &body)
        }
        Report::AddressbookMultiget { props, hrefs } => {
            let multiget = Multiget {
                kind: Kind::AddressBook,
                props: &props,
                hrefs: &hrefs,
                calendar_data: None,
            };
            multiget_report(call, &resource, multiget, &body)
        }
        Report::Other(root) if root.is(CALDAV, "calendar-query") => {
            let query = parse_calendar_query(&root).map_err(|e| filter_error(CALDAV, e))?;
            cached(call, &resource, &[b"calendar-query", &body], || {
                calendar_query(&call.ctx(), &resource, &query)
            })
        }
        Report::Other(root) if root.is(CALDAV, "free-busy-query") => {
            let range =
                calfilter::parse_free_busy_query(&root).map_err(|e| filter_error(CALDAV, e))?;
            free_busy_query(&call.ctx(), &resource, range)
        }
        Report::Other(root) if root.is(CARDDAV, "addressbook-query") => {
            let query = parse_addressbook_query(&root).map_err(|e| filter_error(CARDDAV, e))?;
            cached(call, &resource, &[b"addressbook-query", &body], || {
                addressbook_query(&call.ctx(), &resource, &query)
            })
        }
        Report::Other(root) if root.is(DAV, "principal-property-search") => {
            let search = xml::parse_principal_property_search(&root)
                .map_err(|e| DavError::bad_request(e.to_string()))?;
            Ok(multistatus(principals::search(
                &call.ctx(),
                &call.dav.principals,
                &search,
            )?))
        }
        Report::Other(root) if root.is(DAV, "principal-search-property-set") => Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
            principals::search_property_set(),
        )
            .into_response()),
        Report::Other(root) => {
            tracing::debug!(report = %root.name, "unsupported report");
            Err(DavError::unsupported_report())
        }
    }
}

/// A refused filter: the CalDAV or CardDAV precondition that names why.
fn filter_error(ns: &str, e: FilterError) -> DavError {
    tracing::debug!(error = %e, "filter refused");
    let condition = match e {
        FilterError::UnsupportedCollation(_) => "supported-collation",
        FilterError::Unsupported(_) => "supported-filter",
        // CardDAV has no valid-filter precondition.
        FilterError::Invalid(_) if ns == CARDDAV => "supported-filter",
        FilterError::Invalid(_) => "valid-filter",
    };
    DavError::precondition(StatusCode::FORBIDDEN, ns, condition)
}

/// The zone floating times are in: the query's `timezone`, else the
/// calendar's `calendar-timezone`; either may be a VTIMEZONE or a name.
fn floating_zone(
    query: &CalendarQuery,
    calendar: &events::payload::CalendarProps,
) -> Option<String> {
    let given = query.timezone.as_deref().or(calendar.timezone.as_deref())?;
    Some(zone_name(given))
}

/// RFC 4791 §7.10: a VFREEBUSY (text/calendar, not a multistatus) of the
/// calendar's events in the range. Not cached: its DTSTAMP is the time of
/// the request.
fn free_busy_query(
    ctx: &Ctx<'_>,
    resource: &Resource,
    range: (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
) -> DavResult<Response> {
    let Resource::Calendar { place, .. } = resource else {
        return Err(DavError::unsupported_report());
    };
    let text = free_busy_text(
        ctx,
        &place.owner,
        std::slice::from_ref(&place.collection),
        range,
    )?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
        text,
    )
        .into_response())
}

/// The VFREEBUSY of `owner`'s `calendars` over `range`: what a
/// free-busy-query REPORT answers for one calendar, and the outbox's
/// free-busy POST for a calendar user (`schedule.rs`). Each calendar's
/// floating times are in its own time zone.
pub(super) fn free_busy_text(
    ctx: &Ctx<'_>,
    owner: &str,
    calendars: &[String],
    range: (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
) -> DavResult<String> {
    let range_filter = TimeRange {
        start: Some(range.0),
        end: Some(range.1),
    };
    let deadline = Deadline::start(&ctx.query);
    let mut trees = Vec::new();
    for calendar in calendars {
        let Some(record) = ctx.views.calendars.collection(owner, calendar)? else {
            continue;
        };
        let floating = record.props.timezone.as_deref().map(zone_name);
        let place = Place::own(Kind::Calendar, owner, calendar);
        for (_, object) in candidate_objects(ctx, &place, Some(("VEVENT", Some(&range_filter))))? {
            deadline.check()?;
            if let Ok(tree) = formats::ical::tree::parse_tree(&object.body) {
                trees.push((tree, floating.clone()));
            }
        }
    }
    let objects: Vec<calfilter::ZonedObject<'_>> = trees
        .iter()
        .map(|(calendar, floating)| calfilter::ZonedObject {
            calendar,
            floating: floating.as_deref(),
        })
        .collect();
    let budget = InstanceBudget::new(ctx.query.per_query);
    let text = calfilter::free_busy(
        &objects,
        range,
        chrono::Utc::now(),
        &object_limits(&ctx.query),
        &budget,
    )
    .map_err(|e| DavError::forbidden(format!("{e}; narrow the range")))?;
    deadline.check()?;
    Ok(text)
}

/// The objects of a calendar that a query must test, in href order: with
/// `required` (a component and maybe a time range every match has), the
/// view's time index leaves out those that cannot match; without it, or
/// on a view version without the index, every object.
fn candidate_objects(
    ctx: &Ctx<'_>,
    place: &Place,
    required: Option<(&str, Option<&TimeRange>)>,
) -> DavResult<Vec<(String, ObjectRecord)>> {
    let calendars = &ctx.views.calendars;
    let (owner, calendar) = (place.owner.as_str(), place.collection.as_str());
    let hrefs = match required {
        Some((component, range)) => calendars.candidates(owner, calendar, component, range)?,
        None => None,
    };
    let Some(hrefs) = hrefs else {
        return Ok(calendars.objects(owner, calendar)?);
    };
    let mut objects = Vec::with_capacity(hrefs.len());
    for href in hrefs {
        if let Some(object) = calendars.object(owner, calendar, &href)? {
            objects.push((href, object));
        }
    }
    Ok(objects)
}

/// RFC 4791 §7.8 on a calendar (every object through the filter) or on
/// one object (Depth: 0, as Microsoft-derived clients send it).
fn calendar_query(ctx: &Ctx<'_>, resource: &Resource, query: &CalendarQuery) -> DavResult<String> {
    let (place, objects, props) = match resource {
        Resource::Calendar { place, record } => (
            place,
            candidate_objects(ctx, place, query.filter.required_occurrence())?,
            record.props.clone(),
        ),
        Resource::Object {
            place,
            name,
            meta,
            body,
        } if place.kind == Kind::Calendar => {
            let record = body.as_ref().map(|body| ObjectRecord {
                uid: meta.uid.clone(),
                component: meta.component.clone(),
                body: body.clone(),
                version: meta.version,
                modified_ms: meta.modified_ms,
            });
            let props = place
                .calendar(ctx.views)?
                .map(|c| c.props)
                .unwrap_or_default();
            (
                place,
                record.map(|r| (name.clone(), r)).into_iter().collect(),
                props,
            )
        }
        _ => return Err(DavError::unsupported_report()),
    };
    let floating = floating_zone(query, &props);
    let matcher = Matcher {
        filter: &query.filter,
        limits: object_limits(&ctx.query),
    };
    let budget = InstanceBudget::new(ctx.query.per_query);
    let deadline = Deadline::start(&ctx.query);
    let mut ms = MultiStatus::default();
    for (name, record) in objects {
        deadline.check()?;
        let Ok(tree) = formats::ical::tree::parse_tree(&record.body) else {
            continue;
        };
        match matcher.matches(&tree, floating.as_deref()) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(TimeError::TooManyInstances(n)) => {
                return Err(DavError::forbidden(format!(
                    "{name} recurs more than {n} times within the query's range; narrow the range"
                )))
            }
            Err(e) => {
                tracing::debug!(object = %name, error = %e, "object skipped by the query");
                continue;
            }
        }
        let body = match &query.calendar_data {
            Some(data) => calendar_data(
                &name,
                (&tree, &record.body),
                data,
                floating.as_deref(),
                (&matcher.limits, &budget),
            )?,
            None => record.body.clone(),
        };
        let object = Resource::object(place, &name, record.meta(), Some(body));
        ms.responses.push(xml::Response {
            href: object.href(),
            body: object.propstats(ctx, &query.props),
        });
    }
    Ok(xml::write_multistatus(&ms))
}

/// RFC 6352 §8.6 on an address book: each card through the filter, the
/// selected vCard properties only when `address-data` names some, and a
/// 507 `number-of-matches-within-limits` when `nresults` cut the answer.
fn addressbook_query(
    ctx: &Ctx<'_>,
    resource: &Resource,
    query: &AddressbookQuery,
) -> DavResult<String> {
    let Resource::AddressBook { place, .. } = resource else {
        return Err(DavError::unsupported_report());
    };
    let mut ms = MultiStatus::default();
    let limit = query.limit.map_or(usize::MAX, |n| n as usize);
    for (href, record) in place.objects(ctx.views)? {
        let Ok(card) = formats::vcard::properties(&record.body) else {
            continue;
        };
        if !query.filter.matches(&card) {
            continue;
        }
        if ms.responses.len() == limit {
            ms.responses.push(xml::Response {
                href: resource.href(),
                body: ResponseBody::Error {
                    status: 507,
                    condition: QName::dav("number-of-matches-within-limits"),
                },
            });
            break;
        }
        let selected = query
            .address_data_props
            .as_ref()
            .map(|names| cardfilter::select_properties(&card, names));
        let object = Resource::object(
            place,
            &href,
            record.meta(),
            Some(selected.unwrap_or(record.body)),
        );
        ms.responses.push(xml::Response {
            href: object.href(),
            body: object.propstats(ctx, &query.props),
        });
    }
    Ok(xml::write_multistatus(&ms))
}

fn invalid_sync_token() -> DavError {
    DavError::precondition(StatusCode::FORBIDDEN, DAV, "valid-sync-token")
}

/// RFC 6578 on a collection (changes since the token, deletions as 404)
/// or on a home (its collections, when its tag moved).
fn sync_collection(
    ctx: &Ctx<'_>,
    resource: &Resource,
    token: &str,
    limit: Option<u32>,
    props: &PropRequest,
) -> DavResult<String> {
    let (place, current) = match resource {
        Resource::Calendar { place, record } => (place, SyncToken::of(record)),
        Resource::AddressBook { place, record } => (place, SyncToken::of(record)),
        Resource::Home { tag, .. } => return sync_home(ctx, resource, tag, token, props),
        _ => return Err(DavError::unsupported_report()),
    };
    let since = if token.is_empty() {
        None
    } else {
        let asked = SyncToken::parse(token).ok_or_else(invalid_sync_token)?;
        if asked.created != current.created || asked.ctag > current.ctag {
            return Err(invalid_sync_token());
        }
        Some(asked.ctag)
    };
    let changes = place.changes_since(ctx.views, since.unwrap_or(AggregateVersion::ABSENT))?;
    // A first sync lists what exists; deletions only matter to a client
    // that had seen the resource.
    let mut changes: Vec<_> = changes
        .into_iter()
        .filter(|(_, change)| since.is_some() || !change.deleted)
        .collect();
    let mut ms = MultiStatus::default();
    let mut reached = current.ctag;
    let truncated = limit.is_some_and(|n| changes.len() > n as usize);
    if let Some(n) = limit.filter(|_| truncated) {
        changes.truncate(n as usize);
        reached = changes
            .last()
            .map_or(since.unwrap_or(current.created), |(v, _)| *v);
    } else if let Some((v, _)) = changes.last() {
        reached = reached.max(*v);
    }
    for (_, change) in changes {
        let href = place.object_href(&change.href);
        let object = match change.deleted {
            true => None,
            false => place.object(ctx.views, &change.href)?,
        };
        let body = match object {
            Some(record) => Resource::object(place, &change.href, record.meta(), Some(record.body))
                .propstats(ctx, props),
            None => ResponseBody::Status(404),
        };
        ms.responses.push(xml::Response { href, body });
    }
    if truncated {
        ms.responses.push(xml::Response {
            href: resource.href(),
            body: ResponseBody::Status(507),
        });
    }
    ms.sync_token = Some(
        SyncToken {
            created: current.created,
            ctag: reached,
        }
        .to_string(),
    );
    Ok(xml::write_multistatus(&ms))
}

/// A home's members are its collections; its token is its tag. A client
/// holding an older tag is sent back to a full PROPFIND.
fn sync_home(
    ctx: &Ctx<'_>,
    home: &Resource,
    tag: &str,
    token: &str,
    props: &PropRequest,
) -> DavResult<String> {
    let mut ms = MultiStatus {
        sync_token: Some(tag.to_string()),
        ..MultiStatus::default()
    };
    if token.is_empty() {
        for member in resource::members(ctx, home)? {
            ms.responses.push(xml::Response {
                href: member.href(),
                body: member.propstats(ctx, props),
            });
        }
    } else if token != tag || !sync_token::is_home_token(token) {
        return Err(invalid_sync_token());
    }
    Ok(xml::write_multistatus(&ms))
}

/// A calendar-multiget or addressbook-multiget request.
struct Multiget<'r> {
    kind: Kind,
    props: &'r PropRequest,
    hrefs: &'r [String],
    /// What calendar-data asks of each object, when it narrows it.
    calendar_data: Option<&'r CalendarData>,
}

fn multiget_report(
    call: &Call<'_>,
    resource: &Resource,
    request: Multiget<'_>,
    body: &[u8],
) -> DavResult<Response> {
    let render = || multiget(&call.ctx(), &request);
    // Cacheable only when every href is inside the collection asked.
    let base = resource.href();
    let inside = matches!(
        resource,
        Resource::Calendar { .. } | Resource::AddressBook { .. }
    ) && request
        .hrefs
        .iter()
        .all(|h| path::href_path(h).starts_with(&base));
    if inside {
        cached(call, resource, &[b"multiget", body], render)
    } else {
        Ok(multistatus(render()?))
    }
}

/// calendar-multiget and addressbook-multiget: each href answered on its
/// own; another principal's hrefs get 403 and never data.
fn multiget(ctx: &Ctx<'_>, request: &Multiget<'_>) -> DavResult<String> {
    let mut ms = MultiStatus::default();
    for href in request.hrefs {
        let body = match DavPath::parse(path::href_path(href)) {
            Ok(path @ DavPath::Object(k, ..)) if k == request.kind => {
                if path.owner() != Some(ctx.principal) {
                    ResponseBody::Status(403)
                } else {
                    match resource::load(ctx, &path)? {
                        Some(object) => {
                            let object = match request.calendar_data {
                                Some(data) => narrowed(ctx, object, data)?,
                                None => object,
                            };
                            object.propstats(ctx, request.props)
                        }
                        None => ResponseBody::Status(404),
                    }
                }
            }
            Ok(path) if path.owner().is_some_and(|o| o != ctx.principal) => {
                ResponseBody::Status(403)
            }
            _ => ResponseBody::Status(404),
        };
        ms.responses.push(xml::Response {
            href: href.trim().to_string(),
            body,
        });
    }
    Ok(xml::write_multistatus(&ms))
}

/// A calendar object resource with its calendar-data narrowed as `data`
/// asks, floating times in its calendar's zone.
fn narrowed(ctx: &Ctx<'_>, mut object: Resource, data: &CalendarData) -> DavResult<Resource> {
    if let Resource::Object {
        place,
        name: href,
        body: Some(body),
        ..
    } = &mut object
    {
        let floating = place
            .calendar(ctx.views)?
            .and_then(|c| c.props.timezone)
            .map(|z| zone_name(&z));
        let tree = formats::ical::tree::parse_tree(body)
            .map_err(|e| DavError::forbidden(format!("{href}: {e}")))?;
        // A multiget names its objects one by one: the per-query budget is
        // per object here, like the per-object limit.
        let budget = InstanceBudget::new(ctx.query.per_query);
        let limits = object_limits(&ctx.query);
        *body = calendar_data(
            href,
            (&tree, body),
            data,
            floating.as_deref(),
            (&limits, &budget),
        )?;
    }
    Ok(object)
}

/// One object's calendar-data as `data` asks, or the 403 naming it when
/// it recurs too much in an `expand` or `limit-recurrence-set` range.
fn calendar_data(
    name: &str,
    (tree, body): (&formats::ical::tree::Component, &str),
    data: &CalendarData,
    floating: Option<&str>,
    limits: (&Limits, &InstanceBudget),
) -> DavResult<String> {
    calfilter::calendar_data(tree, body, data, floating, limits)
        .map_err(|e| DavError::forbidden(format!("{name}: {e}; narrow the range")))
}

fn object_limits(query: &QueryLimits) -> Limits {
    Limits {
        max_instances: query.per_object,
    }
}

/// When a query must give up (`QueryLimits::time`): checked between
/// objects, answered with 503 so the client may retry a narrower query.
struct Deadline {
    started: std::time::Instant,
    limit: std::time::Duration,
}

impl Deadline {
    fn start(query: &QueryLimits) -> Deadline {
        Deadline {
            started: std::time::Instant::now(),
            limit: query.time,
        }
    }

    fn check(&self) -> DavResult<()> {
        if self.started.elapsed() > self.limit {
            return Err(DavError::Unavailable(format!(
                "the query ran longer than {} s; narrow its range",
                self.limit.as_secs_f64()
            )));
        }
        Ok(())
    }
}

/// What a GET answers with: bytes at hand, or an object to read from the
/// store (only once the answer is known to carry a body).
enum Content {
    Bytes(Bytes),
    Object(ObjectRef),
}

impl Content {
    fn len(&self) -> u64 {
        match self {
            Content::Bytes(bytes) => bytes.len() as u64,
            Content::Object(object) => object.size,
        }
    }
}

pub async fn get(call: &Call<'_>, with_body: bool) -> DavResult<Response> {
    let resource = load(call)?;
    let (content_type, content, etag, modified) = match &resource {
        Resource::Object {
            place, meta, body, ..
        } => (
            props::object_content_type(place.kind, meta.component.as_deref()),
            Content::Bytes(Bytes::from(body.clone().unwrap_or_default())),
            Some(meta.etag()),
            Some(meta.modified_ms),
        ),
        Resource::File {
            principal,
            path,
            entry,
        } => (
            props::file_content_type(entry),
            match call.views.files.content(principal, path)? {
                Some(FileContent::Stored(object)) => Content::Object(object),
                Some(FileContent::Inline(body)) => Content::Bytes(Bytes::from(body)),
                None => Content::Bytes(Bytes::new()),
            },
            Some(entry.etag()),
            Some(entry.modified_ms),
        ),
        collection => {
            let mut listing = String::new();
            for member in resource::members(&call.ctx(), collection)? {
                listing.push_str(&member.href());
                listing.push('\n');
            }
            (
                "text/plain; charset=utf-8".to_string(),
                Content::Bytes(Bytes::from(listing)),
                None,
                None,
            )
        }
    };
    if let Some(etag) = &etag {
        if not_modified(&call.headers, etag) {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            if let Ok(v) = HeaderValue::from_str(etag) {
                response.headers_mut().insert(header::ETAG, v);
            }
            return Ok(response);
        }
    }
    let length = content.len();
    let mut response = match content {
        _ if !with_body => ().into_response(),
        Content::Bytes(bytes) => bytes.into_response(),
        // Read only now, after the conditions: a damaged small object is
        // a 500 here; a large one is cut short at its end (see objects).
        Content::Object(object) => call.object_body(&object).await?.into_response(),
    };
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Some(v) = etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        headers.insert(header::ETAG, v);
    }
    if let Some(v) = modified.and_then(|m| HeaderValue::from_str(&props::http_date(m)).ok()) {
        headers.insert(header::LAST_MODIFIED, v);
    }
    if let Resource::Object { place, meta, .. } = &resource {
        if place.kind == Kind::Calendar {
            let tag = call.views.calendars.schedule_tag(&place.owner, &meta.uid)?;
            if let Some(v) = tag.and_then(super::schedule::tag_header) {
                headers.insert(super::schedule::SCHEDULE_TAG.clone(), v);
            }
        }
    }
    Ok(response)
}
