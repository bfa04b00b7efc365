//! The live properties of principals: users, groups and facilities
//! (rooms and equipment).

use super::{reports, text, Live, Table, EVERY};
use crate::http::dav::resource::{Ctx, Resource};
use events::payload::{Member, ResourceKind};
use formats::davpath::{self as path, Kind};
use formats::xml::{Element, Node, Value, CALDAV, CALENDARSERVER, CARDDAV, DAV};
use projections::directory::{GroupRecord, ResourceRecord, UserRecord};
use projections::scheduling::{SCHEDULE_INBOX, SCHEDULE_OUTBOX};

const REPORTS: &[(&str, &str)] = &[
    (DAV, "principal-property-search"),
    (DAV, "principal-search-property-set"),
];

/// What every principal has, after [`EVERY`].
const PRINCIPAL: &[Live] = &[
    Live::always(DAV, "supported-report-set", |_, _| Some(reports(REPORTS))),
    Live::always(DAV, "displayname", |_, r| match r {
        Resource::Principal { user } => text(
            user.display_name
                .clone()
                .unwrap_or_else(|| user.login.clone()),
        ),
        Resource::GroupPrincipal { group, .. } => text(
            group
                .display_name
                .clone()
                .unwrap_or_else(|| group.name.clone()),
        ),
        Resource::Facility { resource, .. } => text(
            resource
                .display_name
                .clone()
                .unwrap_or_else(|| resource.name.clone()),
        ),
        _ => None,
    }),
    Live::always(DAV, "principal-URL", |_, r| {
        Some(Value::Hrefs(vec![r.href()]))
    }),
    Live::always(
        DAV,
        "principal-collection-set",
        super::principal_collection_set,
    ),
];

pub(super) const USER: Table = &[
    EVERY,
    PRINCIPAL,
    &[
        Live::always(DAV, "group-membership", |ctx, r| {
            let user = user(r)?;
            memberships(ctx, &user.domain, &Member::User(user.login.clone()))
        }),
        Live::always(CALDAV, "calendar-home-set", |_, r| {
            let user = user(r)?;
            Some(Value::Hrefs(vec![path::home_href(
                Kind::Calendar,
                &user.principal(),
            )]))
        }),
        Live::always(CALDAV, "calendar-user-address-set", |_, r| {
            let user = user(r)?;
            addresses(Some(&user.email), r.href())
        }),
        Live::always(CALDAV, "calendar-user-type", |_, _| text("INDIVIDUAL")),
        Live::always(CALDAV, "schedule-inbox-URL", |_, r| {
            let user = user(r)?;
            Some(Value::Hrefs(vec![path::collection_href(
                Kind::Calendar,
                &user.principal(),
                SCHEDULE_INBOX,
            )]))
        }),
        Live::always(CALDAV, "schedule-outbox-URL", |_, r| {
            let user = user(r)?;
            Some(Value::Hrefs(vec![path::collection_href(
                Kind::Calendar,
                &user.principal(),
                SCHEDULE_OUTBOX,
            )]))
        }),
        Live::always(CARDDAV, "addressbook-home-set", |_, r| {
            let user = user(r)?;
            Some(Value::Hrefs(vec![path::home_href(
                Kind::AddressBook,
                &user.principal(),
            )]))
        }),
        Live::always(CALENDARSERVER, "email-address-set", |_, r| {
            let user = user(r)?;
            Some(Value::Elements(vec![Element {
                children: vec![Node::Text(user.email.clone())],
                ..super::el(CALENDARSERVER, "email-address")
            }]))
        }),
    ],
];

pub(super) const GROUP: Table = &[
    EVERY,
    PRINCIPAL,
    &[
        Live::always(DAV, "group-member-set", |ctx, r| {
            let (group, domain) = group(r)?;
            let members = ctx.views.directory.members(domain, &group.name).ok()?;
            Some(Value::Hrefs(
                members
                    .iter()
                    .map(|m| match m {
                        Member::User(login) => path::principal_href(&format!("{login}@{domain}")),
                        Member::Group(g) => path::group_principal_href(&format!("{g}@{domain}")),
                    })
                    .collect(),
            ))
        }),
        Live::always(DAV, "group-membership", |ctx, r| {
            let (group, domain) = group(r)?;
            memberships(ctx, domain, &Member::Group(group.name.clone()))
        }),
        Live::always(CALDAV, "calendar-user-address-set", |_, r| {
            let (group, _) = group(r)?;
            addresses(group.email.as_deref(), r.href())
        }),
        Live::always(CALDAV, "calendar-user-type", |_, _| text("GROUP")),
    ],
];

pub(super) const FACILITY: Table = &[
    EVERY,
    PRINCIPAL,
    &[
        // A facility is in no group.
        Live::always(DAV, "group-membership", |_, _| {
            Some(Value::Hrefs(Vec::new()))
        }),
        Live::always(CALDAV, "calendar-user-address-set", |_, r| {
            let resource = facility(r)?;
            addresses(resource.email.as_deref(), r.href())
        }),
        // Its bookings, which the domain reads.
        Live::always(CALDAV, "calendar-home-set", |_, r| {
            let resource = facility(r)?;
            Some(Value::Hrefs(vec![path::home_href(
                Kind::Calendar,
                &resource.calendar_owner(),
            )]))
        }),
        Live::always(CALDAV, "calendar-user-type", |_, r| {
            let resource = facility(r)?;
            text(match resource.kind {
                ResourceKind::Room => "ROOM",
                ResourceKind::Equipment => "RESOURCE",
            })
        }),
    ],
];

// The tables are only used with their own kind, so these always match.

fn user(r: &Resource) -> Option<&UserRecord> {
    match r {
        Resource::Principal { user } => Some(user.as_ref()),
        _ => None,
    }
}

fn group(r: &Resource) -> Option<(&GroupRecord, &str)> {
    match r {
        Resource::GroupPrincipal { group, domain } => Some((group.as_ref(), domain.as_str())),
        _ => None,
    }
}

fn facility(r: &Resource) -> Option<&ResourceRecord> {
    match r {
        Resource::Facility { resource, .. } => Some(resource.as_ref()),
        _ => None,
    }
}

/// The principals of the groups `member` belongs to directly.
fn memberships(ctx: &Ctx<'_>, domain: &str, member: &Member) -> Option<Value> {
    let groups = ctx.views.directory.groups_of(domain, member).ok()?;
    Some(Value::Hrefs(
        groups
            .iter()
            .map(|g| path::group_principal_href(&format!("{g}@{domain}")))
            .collect(),
    ))
}

/// `calendar-user-address-set`: the email address, if any, then the
/// principal.
fn addresses(email: Option<&str>, principal_href: String) -> Option<Value> {
    let mut hrefs: Vec<String> = email.map(|e| format!("mailto:{e}")).into_iter().collect();
    hrefs.push(principal_href);
    Some(Value::Hrefs(hrefs))
}
