//! CalDAV scheduling (RFC 6638) at the edge: who the writer of a
//! scheduling object is in it (the event carries the decision, the
//! projection acts on it; see `projections::scheduling`), the writer's
//! checks (the ORGANIZER must be the calendar owner's address, a bounded
//! attendee list), the delivery status the server writes on each
//! attendee, the Schedule-Tag and `If-Schedule-Tag-Match`, and the
//! outbox's free-busy POST.

use super::resource::Ctx;
use super::sharing::Place;
use super::{Call, DavError, DavResult};
use crate::engine::imip;
use crate::engine::scheduling::{recipient, Recipient};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use events::payload::SchedulingRole;
use events::AggregateVersion;
use formats::ical::itip::{self, Agent};
use formats::xml::CALDAV;
use projections::calendars::ObjectRecord;
use projections::registry::Views;
use std::collections::BTreeMap;

pub use projections::scheduling::{SCHEDULE_INBOX, SCHEDULE_OUTBOX};

/// Default for `--max-attendees`: attendees of one scheduling object.
pub const DEFAULT_MAX_ATTENDEES: usize = 100;

pub static SCHEDULE_TAG: HeaderName = HeaderName::from_static("schedule-tag");
static IF_SCHEDULE_TAG_MATCH: HeaderName = HeaderName::from_static("if-schedule-tag-match");

/// The calendar user addresses of `owner` (a principal), normalised: its
/// email as `mailto:` and its principal URL, as `calendar-user-address-set`
/// says.
pub fn addresses_of(views: &Views, owner: &str) -> DavResult<Vec<String>> {
    let Some((login, domain)) = owner.rsplit_once('@') else {
        return Ok(Vec::new());
    };
    let mut out = vec![formats::davpath::principal_href(owner)];
    if let Some(user) = views.directory.user(domain, login)? {
        out.insert(
            0,
            itip::normalized_address(&format!("mailto:{}", user.email)),
        );
    }
    Ok(out)
}

/// What a PUT stores and the role its event carries.
pub struct Scheduled {
    pub text: String,
    pub role: Option<SchedulingRole>,
    /// The server changed the text (delivery statuses written, a
    /// SCHEDULE-FORCE-SEND taken out): no ETag in the answer (RFC 4791
    /// §5.3.4), since the client's copy is not the stored one.
    pub changed: bool,
}

fn forbidden(local: &str, why: String) -> DavError {
    tracing::debug!(%why, "scheduling write refused");
    DavError::precondition(StatusCode::FORBIDDEN, CALDAV, local)
}

/// Where `address` leads (see [`recipient`]), refusing a `mailto:`
/// address outside the directory that is not a plain mail address: what
/// the server mails to (iMIP) must not be able to say more in a mail
/// header than one recipient (a line break, a second address, a display
/// name). Refused with or without a relay, so that what is stored is
/// mailable once one is set.
fn mailable_recipient(call: &Call<'_>, address: &str, domain: &str) -> DavResult<Recipient> {
    let mails = call.engine.mails_outside();
    let found = recipient(&call.views.directory, address, domain, mails)?;
    let mailto = address
        .get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("mailto:"));
    if mailto && !matches!(found, Recipient::Calendar { .. }) {
        if let Err(e) = imip::mail_address(address) {
            return Err(forbidden("valid-calendar-data", e.to_string()));
        }
    }
    Ok(found)
}

/// Decides a PUT of `text` into `place` (RFC 6638 §3.2): not a scheduling
/// object, or the owner's own meeting (the ORGANIZER is theirs, whoever
/// writes: a sharee with write access acts as the organizer, §3.2.3), or
/// the owner's copy of someone else's (they are an ATTENDEE). Anything
/// else is refused (403 `CALDAV:valid-organizer`), as is a meeting with
/// more than `max_attendees` attendees, or one naming someone the server
/// would mail at an address that is not a plain one (403
/// `CALDAV:valid-calendar-data`).
pub fn decide_put(
    call: &Call<'_>,
    place: &Place,
    text: String,
    max_attendees: usize,
) -> DavResult<Scheduled> {
    let plain = |text| Scheduled {
        text,
        role: None,
        changed: false,
    };
    let Some(participation) = itip::participation(&text).ok().flatten() else {
        return Ok(plain(text));
    };
    let mine = addresses_of(&call.views, &place.owner)?;
    let organizer = &participation.organizer;
    let attendees: BTreeMap<&str, &itip::Party> = participation
        .instances
        .values()
        .flat_map(|i| &i.attendees)
        .map(|a| (a.address.as_str(), a))
        .collect();
    if mine.contains(&organizer.address) {
        if attendees.len() > max_attendees {
            return Err(forbidden(
                "max-attendees-per-instance",
                format!("{} attendees, at most {max_attendees}", attendees.len()),
            ));
        }
        let (stripped, _) = itip::without_client_only_params(&text)
            .map_err(|e| forbidden("valid-calendar-data", e.to_string()))?;
        let domain = place.owner.rsplit_once('@').map_or("", |(_, d)| d);
        let mut statuses = BTreeMap::new();
        for (address, party) in &attendees {
            if party.agent != Agent::Server || mine.iter().any(|m| m == address) {
                continue;
            }
            let status = match mailable_recipient(call, address, domain)? {
                Recipient::Calendar { .. } => crate::engine::scheduling::status::DELIVERED,
                // Mailed once the leader gets to it: its ImipSent says how
                // that went (1.1 or 5.1).
                Recipient::Outside => imip::status::PENDING,
                Recipient::Undeliverable(status) => status,
            };
            statuses.insert(address.to_string(), status.to_string());
        }
        let annotated = itip::with_schedule_statuses(&stripped, &statuses)
            .map_err(|e| forbidden("valid-calendar-data", e.to_string()))?;
        let stored = annotated.unwrap_or(stripped);
        return Ok(Scheduled {
            changed: stored != text,
            text: stored,
            role: Some(SchedulingRole::Organizer {
                address: organizer.address.clone(),
            }),
        });
    }
    let me = mine.iter().find(|m| attendees.contains_key(m.as_str()));
    match me {
        Some(address) => {
            // The owner's answers go to the organizer, by mail when outside.
            if organizer.agent == Agent::Server {
                let domain = place.owner.rsplit_once('@').map_or("", |(_, d)| d);
                mailable_recipient(call, &organizer.address, domain)?;
            }
            let (stripped, force) = itip::without_client_only_params(&text)
                .map_err(|e| forbidden("valid-calendar-data", e.to_string()))?;
            Ok(Scheduled {
                changed: stripped != text,
                text: stripped,
                role: Some(SchedulingRole::Attendee {
                    address: address.clone(),
                    force,
                }),
            })
        }
        // The client schedules (SCHEDULE-AGENT=CLIENT on the organizer):
        // the server only stores.
        None if organizer.agent != Agent::Server => Ok(plain(text)),
        // Someone outside the directory's meeting the owner keeps without
        // being invited under one of their addresses (an event copied
        // from elsewhere, an export imported): stored, scheduling nothing.
        None if recipient(
            &call.views.directory,
            &organizer.address,
            domain_of(place),
            false,
        )? == Recipient::Undeliverable(crate::engine::scheduling::status::UNKNOWN) =>
        {
            Ok(plain(text))
        }
        // Another user's (or room's) name as organizer: refused.
        None => Err(forbidden(
            "valid-organizer",
            format!(
                "the ORGANIZER {} is not the calendar owner's address, and the owner is not \
                 invited",
                organizer.address
            ),
        )),
    }
}

fn domain_of(place: &Place) -> &str {
    place.owner.rsplit_once('@').map_or("", |(_, d)| d)
}

/// The role of a DELETE of `existing` at `place`: the organizer's cancels,
/// an attendee's declines; None when it is no scheduling object of the
/// owner's.
pub fn decide_delete(
    views: &Views,
    place: &Place,
    existing: &str,
) -> DavResult<Option<SchedulingRole>> {
    let Some(participation) = itip::participation(existing).ok().flatten() else {
        return Ok(None);
    };
    let mine = addresses_of(views, &place.owner)?;
    if mine.contains(&participation.organizer.address) {
        return Ok(Some(SchedulingRole::Organizer {
            address: participation.organizer.address,
        }));
    }
    let invited = participation
        .instances
        .values()
        .flat_map(|i| &i.attendees)
        .find(|a| mine.contains(&a.address));
    Ok(invited.map(|a| SchedulingRole::Attendee {
        address: a.address.clone(),
        force: false,
    }))
}

/// The Schedule-Tag of an object, when it is a scheduling object.
pub fn schedule_tag(
    views: &Views,
    place: &Place,
    object: &ObjectRecord,
) -> DavResult<Option<AggregateVersion>> {
    Ok(views.calendars.schedule_tag(&place.owner, &object.uid)?)
}

/// `If-Schedule-Tag-Match` (RFC 6638 §8.3): 412 unless the object exists
/// with that Schedule-Tag. Returns whether the header was given (then it
/// stands in for If-Match: an attendee's reply merged into the object
/// changed its ETag, not its Schedule-Tag).
pub fn check_schedule_tag(
    call: &Call<'_>,
    place: &Place,
    existing: Option<&ObjectRecord>,
) -> DavResult<bool> {
    let Some(wanted) = call.header(IF_SCHEDULE_TAG_MATCH.clone()) else {
        return Ok(false);
    };
    let current = match existing {
        Some(object) => schedule_tag(&call.views, place, object)?,
        None => None,
    };
    let wanted = wanted.trim().trim_matches('"');
    match current {
        Some(tag) if tag.to_string() == wanted => Ok(true),
        _ => Err(DavError::precondition_failed()),
    }
}

/// A Schedule-Tag header value.
pub fn tag_header(tag: AggregateVersion) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("\"{tag}\"")).ok()
}

/// Whether a request is for the requester's own outbox.
pub fn is_outbox(call: &Call<'_>) -> bool {
    matches!(&call.path, formats::davpath::DavPath::Collection(formats::davpath::Kind::Calendar, home, name)
        if name == SCHEDULE_OUTBOX && *home == call.principal)
}

/// POST to the outbox (RFC 6638 §5): a VFREEBUSY request answered for
/// each ATTENDEE from their calendars, in a `schedule-response`.
pub async fn outbox_post(call: &mut Call<'_>) -> DavResult<Response> {
    // A free-busy request is a few lines: the XML bodies' limit, not a
    // calendar object's.
    let limit = call.limits().xml;
    let body = call
        .body_within(limit, || {
            super::request_too_large("free-busy request", limit)
        })
        .await?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| DavError::bad_request("the request is not UTF-8"))?;
    let request = FreeBusyRequest::parse(text).map_err(DavError::bad_request)?;
    // Each attendee is a free-busy computation over their calendars.
    let most = call.limits().attendees;
    if request.attendees.len() > most {
        return Err(forbidden(
            "max-attendees-per-instance",
            format!(
                "{} attendees asked, at most {most}",
                request.attendees.len()
            ),
        ));
    }
    let mine = addresses_of(&call.views, &call.principal)?;
    if !mine.contains(&request.organizer) {
        return Err(forbidden(
            "organizer-allowed",
            format!("{} is not the requester's address", request.organizer),
        ));
    }
    let ctx = call.ctx();
    let domain = call.user.domain.clone();
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<C:schedule-response xmlns:D=\"DAV:\" \
         xmlns:C=\"urn:ietf:params:xml:ns:caldav\">",
    );
    for attendee in &request.attendees {
        let answer = match recipient(&call.views.directory, attendee, &domain, false)? {
            // Free-busy is shown to anyone of the same domain.
            Recipient::Calendar { owner, .. }
                if owner.rsplit_once('@').is_some_and(|(_, d)| d == domain) =>
            {
                let text = free_busy_of(&ctx, &owner, &request, attendee)?;
                Some(text)
            }
            Recipient::Calendar { .. } | Recipient::Outside | Recipient::Undeliverable(_) => None,
        };
        out.push_str("<C:response><C:recipient><D:href>");
        out.push_str(&xml_escape(attendee));
        out.push_str("</D:href></C:recipient>");
        match answer {
            Some(data) => {
                out.push_str("<C:request-status>2.0;Success</C:request-status><C:calendar-data>");
                out.push_str(&xml_escape(&data));
                out.push_str("</C:calendar-data>");
            }
            None => out.push_str("<C:request-status>3.7;Invalid calendar user</C:request-status>"),
        }
        out.push_str("</C:response>");
    }
    out.push_str("</C:schedule-response>\n");
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        out,
    )
        .into_response())
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A VFREEBUSY REQUEST (RFC 5546 §3.3.2) as the outbox reads it.
struct FreeBusyRequest {
    organizer: String,
    attendees: Vec<String>,
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
    uid: Option<String>,
}

impl FreeBusyRequest {
    fn parse(text: &str) -> Result<FreeBusyRequest, String> {
        let calendar = formats::ical::tree::parse_tree(text).map_err(|e| e.to_string())?;
        let method = calendar
            .property("METHOD")
            .map(|m| m.value.trim().to_ascii_uppercase());
        if method.as_deref() != Some("REQUEST") {
            return Err("the outbox takes a METHOD:REQUEST".into());
        }
        let mut items = calendar.components.iter().filter(|c| c.name != "VTIMEZONE");
        let (Some(fb), None) = (items.next(), items.next()) else {
            return Err("one VFREEBUSY is expected".into());
        };
        if fb.name != "VFREEBUSY" {
            return Err(format!(
                "the outbox answers VFREEBUSY requests, not {}",
                fb.name
            ));
        }
        let zones = formats::ical::time::Zones::new(&calendar, None);
        let at = |name: &str| -> Result<chrono::DateTime<chrono::Utc>, String> {
            let p = fb.property(name).ok_or(format!("{name} is missing"))?;
            zones.instant(p).map(|(t, _)| t).map_err(|e| e.to_string())
        };
        let (start, end) = (at("DTSTART")?, at("DTEND")?);
        if end <= start {
            return Err("DTEND is not after DTSTART".into());
        }
        let organizer = fb
            .property("ORGANIZER")
            .map(|o| itip::normalized_address(&o.value))
            .ok_or("ORGANIZER is missing")?;
        let attendees: Vec<String> = fb
            .properties_named("ATTENDEE")
            .map(|a| itip::normalized_address(&a.value))
            .collect();
        if attendees.is_empty() {
            return Err("no ATTENDEE to ask".into());
        }
        Ok(FreeBusyRequest {
            organizer,
            attendees,
            start,
            end,
            uid: fb.property("UID").map(|u| u.value.clone()),
        })
    }
}

/// `owner`'s busy time over their calendars (the inbox aside, and those
/// marked transparent by `schedule-calendar-transp`), as a METHOD:REPLY.
fn free_busy_of(
    ctx: &Ctx<'_>,
    owner: &str,
    request: &FreeBusyRequest,
    attendee: &str,
) -> DavResult<String> {
    let calendars: Vec<String> = ctx
        .views
        .calendars
        .collections(owner)?
        .into_iter()
        .filter(|(name, record)| {
            name != SCHEDULE_INBOX && !super::props::is_transparent(&record.props)
        })
        .map(|(name, _)| name)
        .collect();
    let text = super::read::free_busy_text(ctx, owner, &calendars, (request.start, request.end))?;
    // The reply form (RFC 5546 §3.3.3): METHOD, ORGANIZER, ATTENDEE, UID.
    let mut lines = Vec::new();
    for line in text.split("\r\n") {
        match line {
            "BEGIN:VFREEBUSY" => {
                lines.push(line.to_string());
                lines.push(format!("ORGANIZER:{}", request.organizer));
                lines.push(format!("ATTENDEE:{attendee}"));
                if let Some(uid) = &request.uid {
                    lines.push(format!("UID:{uid}"));
                }
            }
            "BEGIN:VCALENDAR" => {
                lines.push(line.to_string());
                lines.push("METHOD:REPLY".into());
            }
            _ => lines.push(line.to_string()),
        }
    }
    Ok(lines.join("\r\n"))
}
