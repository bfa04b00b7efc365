//! The live properties of homes, calendars and address books, with the
//! calendarserver-sharing ones.

use super::{el, el_with, reports, requester, text, Listed, Live, Table, EVERY, ON_REQUEST};
use crate::http::dav::resource::{Ctx, Resource};
use crate::http::dav::sharing::Place;
use crate::http::dav::sync_token::SyncToken;
use events::payload::{AddressBookProps, CalendarProps};
use formats::davpath::{self as path, Kind};
use formats::xml::{Element, Node, QName, Value, APPLE_ICAL, CALDAV, CALENDARSERVER, CARDDAV, DAV};

const CALENDAR_REPORTS: &[(&str, &str)] = &[
    (CALDAV, "calendar-multiget"),
    (CALDAV, "calendar-query"),
    (CALDAV, "free-busy-query"),
    (DAV, "sync-collection"),
];
const ADDRESSBOOK_REPORTS: &[(&str, &str)] = &[
    (CARDDAV, "addressbook-multiget"),
    (CARDDAV, "addressbook-query"),
    (DAV, "sync-collection"),
];

/// What a home and the collections in it have.
const COLLECTION: &[Live] = &[
    Live::always(DAV, "owner", |ctx, r| match r {
        Resource::Home { .. } => requester(ctx),
        _ => owner_of(place(r)?),
    }),
    Live::always(DAV, "supported-report-set", |_, r| {
        Some(reports(match kind(r)? {
            Kind::Calendar => CALENDAR_REPORTS,
            Kind::AddressBook => ADDRESSBOOK_REPORTS,
        }))
    }),
    Live::always(DAV, "sync-token", tag),
    Live::always(CALENDARSERVER, "getctag", tag),
];

/// The calendarserver-sharing properties, on collections other than the
/// directory: `invite` on all, `shared-url` on a share bound into the
/// requester's home, `allowed-sharing-modes` on the requester's own.
const SHARING: &[Live] = &[
    Live::new(
        CALENDARSERVER,
        "invite",
        Listed::When(|r| place(r).is_some_and(|p| !p.is_directory())),
        |ctx, r| {
            let place = place(r).filter(|p| !p.is_directory())?;
            invite(ctx, place)
        },
    ),
    Live::if_set(CALENDARSERVER, "shared-url", |_, r| {
        let place = place(r).filter(|p| !p.is_directory() && p.is_bound())?;
        Some(Value::Hrefs(vec![path::collection_href(
            place.kind,
            &place.owner,
            &place.collection,
        )]))
    }),
    Live::if_set(CALENDARSERVER, "allowed-sharing-modes", |_, r| {
        place(r).filter(|p| !p.is_directory() && !p.is_bound())?;
        Some(Value::Elements(vec![el(CALENDARSERVER, "can-be-shared")]))
    }),
];

pub(super) const HOME: Table = &[EVERY, COLLECTION, MANAGED_ATTACHMENTS, ON_REQUEST];

/// RFC 8607 §6: where managed attachments live and how many and how large
/// they may be, on calendar homes and calendars (None elsewhere).
const MANAGED_ATTACHMENTS: &[Live] = &[
    Live::if_set(CALDAV, "managed-attachments-server-URL", |_, r| {
        takes_attachments(r).then(|| Value::Hrefs(vec![format!("{}attachments/", path::ROOT)]))
    }),
    Live::if_set(CALDAV, "max-attachment-size", |ctx, r| {
        takes_attachments(r).then(|| Value::Text(ctx.limits.attachment.to_string()))
    }),
    Live::if_set(CALDAV, "max-attachments-per-resource", |ctx, r| {
        takes_attachments(r).then(|| Value::Text(ctx.limits.attachments_per_resource.to_string()))
    }),
];

fn takes_attachments(r: &Resource) -> bool {
    matches!(
        r,
        Resource::Home {
            kind: Kind::Calendar,
            ..
        } | Resource::Calendar { .. }
    )
}

pub(super) const CALENDAR: Table = &[
    EVERY,
    SHARING,
    COLLECTION,
    MANAGED_ATTACHMENTS,
    &[
        Live::always(CALDAV, "supported-calendar-component-set", |_, r| {
            Some(Value::Elements(
                calendar_components(calendar(r)?)
                    .iter()
                    .map(|c| Element {
                        attrs: vec![(QName::new("", "name"), c.to_string())],
                        ..el(CALDAV, "comp")
                    })
                    .collect(),
            ))
        }),
        Live::always(CALDAV, "supported-calendar-data", |_, _| {
            Some(Value::Elements(vec![Element {
                attrs: vec![
                    (QName::new("", "content-type"), "text/calendar".into()),
                    (QName::new("", "version"), "2.0".into()),
                ],
                ..el(CALDAV, "calendar-data")
            }]))
        }),
        Live::always(CALDAV, "max-resource-size", |ctx, _| {
            text(ctx.max_resource_size.to_string())
        }),
        Live::if_set(DAV, "displayname", |_, r| {
            calendar(r)?.display_name.clone().map(Value::Text)
        }),
        Live::if_set(CALDAV, "calendar-description", |_, r| {
            calendar(r)?.description.clone().map(Value::Text)
        }),
        Live::if_set(APPLE_ICAL, "calendar-color", |_, r| {
            calendar(r)?.color.clone().map(Value::Text)
        }),
        Live::if_set(CALDAV, "calendar-timezone", |_, r| {
            calendar(r)?.timezone.clone().map(Value::Text)
        }),
        // On the inbox (RFC 6638 §9.2): where invitations go.
        Live::if_set(CALDAV, "schedule-default-calendar-URL", |ctx, r| {
            let place = place(r).filter(|p| super::scheduling_box(p) == Some("schedule-inbox"))?;
            let calendars = ctx.views.calendars.collections(&place.owner).ok()?;
            let default = projections::scheduling::default_calendar_of(&calendars)?;
            Some(Value::Hrefs(vec![path::collection_href(
                Kind::Calendar,
                &place.owner,
                &default,
            )]))
        }),
    ],
    ON_REQUEST,
];

pub(super) const ADDRESS_BOOK: Table = &[
    EVERY,
    SHARING,
    COLLECTION,
    &[
        Live::always(CARDDAV, "supported-address-data", |_, _| {
            Some(Value::Elements(
                ["3.0", "4.0"]
                    .into_iter()
                    .map(|version| Element {
                        attrs: vec![
                            (QName::new("", "content-type"), "text/vcard".into()),
                            (QName::new("", "version"), version.into()),
                        ],
                        ..el(CARDDAV, "address-data-type")
                    })
                    .collect(),
            ))
        }),
        Live::always(CARDDAV, "max-resource-size", |ctx, _| {
            text(ctx.limits.vcard.to_string())
        }),
        Live::if_set(DAV, "displayname", |_, r| {
            address_book(r)?.display_name.clone().map(Value::Text)
        }),
        Live::if_set(CARDDAV, "addressbook-description", |_, r| {
            address_book(r)?.description.clone().map(Value::Text)
        }),
    ],
    ON_REQUEST,
];

// The tables are only used with their own kinds, so these match there.

fn place(r: &Resource) -> Option<&Place> {
    match r {
        Resource::Calendar { place, .. } | Resource::AddressBook { place, .. } => Some(place),
        _ => None,
    }
}

fn kind(r: &Resource) -> Option<Kind> {
    match r {
        Resource::Home { kind, .. } => Some(*kind),
        _ => place(r).map(|p| p.kind),
    }
}

fn calendar(r: &Resource) -> Option<&CalendarProps> {
    match r {
        Resource::Calendar { record, .. } => Some(&record.props),
        _ => None,
    }
}

fn address_book(r: &Resource) -> Option<&AddressBookProps> {
    match r {
        Resource::AddressBook { record, .. } => Some(&record.props),
        _ => None,
    }
}

/// `sync-token` and `getctag`: a home's tag, a collection's sync token.
fn tag(_: &Ctx<'_>, r: &Resource) -> Option<Value> {
    match r {
        Resource::Home { tag, .. } => text(tag.clone()),
        Resource::Calendar { record, .. } => text(SyncToken::of(record).to_string()),
        Resource::AddressBook { record, .. } => text(SyncToken::of(record).to_string()),
        _ => None,
    }
}

/// `owner`: the owning principal; a directory has none.
pub(super) fn owner_of(place: &Place) -> Option<Value> {
    (!place.is_directory()).then(|| Value::Hrefs(vec![path::principal_href(&place.owner)]))
}

/// A collection's resourcetype: `kind_element` plus `CS:shared-owner` on
/// a shared collection of the requester's, `CS:shared` on a share.
pub(super) fn resourcetype(ctx: &Ctx<'_>, place: &Place, kind_element: Element) -> Vec<Element> {
    let mut types = vec![el(DAV, "collection"), kind_element];
    if place.is_bound() && !place.is_directory() {
        types.push(el(CALENDARSERVER, "shared"));
    } else if !place.is_bound() && place.grants(ctx.views).is_ok_and(|g| !g.is_empty()) {
        types.push(el(CALENDARSERVER, "shared-owner"));
    }
    types
}

/// `CS:invite`: who the collection is shared with, every grant accepted
/// (reprise binds a share into the sharee's home at once).
fn invite(ctx: &Ctx<'_>, place: &Place) -> Option<Value> {
    let grants = place.grants(ctx.views).ok()?;
    let users = grants
        .iter()
        .map(|(sharee, grant)| {
            let href = match sharee {
                events::payload::Sharee::User(p) => path::principal_href(p),
                events::payload::Sharee::Group(g) => path::group_principal_href(g),
            };
            let access = match grant.access {
                events::payload::Access::Read => "read",
                events::payload::Access::ReadWrite => "read-write",
            };
            el_with(
                CALENDARSERVER,
                "user",
                vec![
                    Element {
                        children: vec![Node::Text(href)],
                        ..el(DAV, "href")
                    },
                    el(CALENDARSERVER, "invite-accepted"),
                    el_with(CALENDARSERVER, "access", vec![el(CALENDARSERVER, access)]),
                ],
            )
        })
        .collect();
    Some(Value::Elements(users))
}

/// The components a calendar takes; an empty set in the view means all.
pub fn calendar_components(props: &CalendarProps) -> Vec<String> {
    if props.components.is_empty() {
        ["VEVENT", "VTODO", "VJOURNAL"].map(String::from).to_vec()
    } else {
        props.components.clone()
    }
}
