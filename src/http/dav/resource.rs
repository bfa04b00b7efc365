//! The resources a DAV path can name, loaded from the views, and their
//! live properties. Every value here comes from the views, so from the
//! log: two instances answer a PROPFIND with the same bytes.

use super::sharing::{self, Place, Rights};
use super::DavResult;
use events::payload::{AddressBookProps, CalendarProps, DeadProperties, Member, ResourceKind};
use events::AggregateVersion;
use formats::davpath::{self as path, DavPath, Kind};
use formats::xml::{
    Element, Node, PropRequest, PropStat, Property, QName, ResponseBody, Value, APPLE_ICAL, CALDAV,
    CALENDARSERVER, CARDDAV, DAV,
};
use projections::calendars::{CollectionRecord, ObjectMeta};
use projections::directory::{GroupRecord, ResourceRecord, UserRecord};
use projections::files::FileEntry;
use projections::registry::Views;
use sha2::{Digest, Sha256};

/// What a request may read: the views and who is asking.
pub struct Ctx<'a> {
    pub views: &'a Views,
    pub user: &'a UserRecord,
    pub principal: &'a str,
    pub max_resource_size: u64,
    pub query: super::QueryLimits,
}

pub enum Resource {
    /// `/`, `/dav/` and the area collections: only lead to the principal.
    Plain {
        href: String,
    },
    Principal {
        user: Box<UserRecord>,
    },
    GroupPrincipal {
        group: Box<GroupRecord>,
        domain: String,
    },
    Facility {
        resource: Box<ResourceRecord>,
        domain: String,
    },
    Home {
        kind: Kind,
        principal: String,
        tag: String,
    },
    Calendar {
        place: Place,
        record: CollectionRecord<CalendarProps>,
    },
    AddressBook {
        place: Place,
        record: CollectionRecord<AddressBookProps>,
    },
    /// A calendar object or vCard named `name` in its collection. Listings
    /// load no body (`body` None); a property that needs it reads it then.
    Object {
        place: Place,
        name: String,
        meta: ObjectMeta,
        body: Option<String>,
    },
    /// A folder of the file area; `entry` is None for the area's root.
    Folder {
        principal: String,
        path: String,
        entry: Option<FileEntry>,
    },
    File {
        principal: String,
        path: String,
        entry: FileEntry,
    },
}

/// A collection's sync token (RFC 6578): its creation and its last change,
/// both log positions, so every instance hands out the same tokens and a
/// collection deleted and created again invalidates the old ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncToken {
    pub created: AggregateVersion,
    pub ctag: AggregateVersion,
}

const SYNC_PREFIX: &str = "urn:reprise:sync:";
const HOME_PREFIX: &str = "urn:reprise:home:";

impl SyncToken {
    pub fn of<P>(record: &CollectionRecord<P>) -> SyncToken {
        SyncToken {
            created: record.created,
            ctag: record.ctag,
        }
    }

    pub fn parse(token: &str) -> Option<SyncToken> {
        let (created, ctag) = token.strip_prefix(SYNC_PREFIX)?.split_once(':')?;
        Some(SyncToken {
            created: AggregateVersion(created.parse().ok()?),
            ctag: AggregateVersion(ctag.parse().ok()?),
        })
    }
}

impl std::fmt::Display for SyncToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{SYNC_PREFIX}{}:{}", self.created.0, self.ctag.0)
    }
}

/// A home's tag: a digest of its collections' names, versions and the
/// requester's rights, so it changes when any of them is created,
/// changed, deleted, written to, shared or unshared.
pub fn home_tag(collections: &[Resource]) -> String {
    let mut hasher = Sha256::new();
    for resource in collections {
        let (place, created, ctag, version) = match resource {
            Resource::Calendar { place, record } => {
                (place, record.created, record.ctag, record.version)
            }
            Resource::AddressBook { place, record } => {
                (place, record.created, record.ctag, record.version)
            }
            _ => continue,
        };
        hasher.update(place.name.as_bytes());
        hasher.update([0, place.rights as u8]);
        hasher.update(created.0.to_be_bytes());
        hasher.update(ctag.0.to_be_bytes());
        hasher.update(version.0.to_be_bytes());
    }
    let digest = hasher.finalize();
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("{HOME_PREFIX}{hex}")
}

pub fn is_home_token(token: &str) -> bool {
    token.starts_with(HOME_PREFIX)
}

/// Loads what a path names; None when it does not exist or the
/// requester may not see it. The dispatcher has already refused paths
/// under another principal's homes and principals of other domains.
pub fn load(ctx: &Ctx<'_>, path: &DavPath) -> DavResult<Option<Resource>> {
    let views = ctx.views;
    Ok(match path {
        DavPath::ServerRoot | DavPath::DavRoot | DavPath::Area(_) => {
            Some(Resource::Plain { href: path.href() })
        }
        DavPath::Principal(p) if p == ctx.principal => Some(Resource::Principal {
            user: Box::new(ctx.user.clone()),
        }),
        DavPath::Principal(p) => match p.rsplit_once('@') {
            Some((login, domain)) => {
                views
                    .directory
                    .user(domain, login)?
                    .map(|user| Resource::Principal {
                        user: Box::new(user),
                    })
            }
            None => None,
        },
        DavPath::GroupPrincipal(g) => match g.rsplit_once('@') {
            Some((name, domain)) => {
                views
                    .directory
                    .group(domain, name)?
                    .map(|group| Resource::GroupPrincipal {
                        group: Box::new(group),
                        domain: domain.to_string(),
                    })
            }
            None => None,
        },
        DavPath::ResourcePrincipal(r) => match r.rsplit_once('@') {
            Some((name, domain)) => {
                views
                    .directory
                    .resource(domain, name)?
                    .map(|record| Resource::Facility {
                        resource: Box::new(record),
                        domain: domain.to_string(),
                    })
            }
            None => None,
        },
        DavPath::Home(kind, p) => Some(Resource::Home {
            kind: *kind,
            principal: p.clone(),
            tag: home_tag(&collections(ctx, *kind)?),
        }),
        DavPath::Collection(kind, _, c) => match sharing::resolve(ctx, *kind, c)? {
            Some(place) => collection(views, place)?,
            None => None,
        },
        DavPath::Object(kind, _, c, o) => match sharing::resolve(ctx, *kind, c)? {
            Some(place) => place.object(views, o)?.map(|record| Resource::Object {
                place,
                name: o.clone(),
                meta: record.meta(),
                body: Some(record.body),
            }),
            None => None,
        },
        DavPath::File(p, file) if file.is_empty() => Some(Resource::Folder {
            principal: p.clone(),
            path: String::new(),
            entry: None,
        }),
        DavPath::File(p, file) => views
            .files
            .entry(p, file)?
            .map(|entry| file_resource(p, file.clone(), entry)),
    })
}

/// The collection at `place`, if it exists.
fn collection(views: &Views, place: Place) -> DavResult<Option<Resource>> {
    Ok(match place.kind {
        Kind::Calendar => place
            .calendar(views)?
            .map(|record| Resource::Calendar { place, record }),
        Kind::AddressBook => place
            .address_book(views)?
            .map(|record| Resource::AddressBook { place, record }),
    })
}

/// Everything in the requester's home of `kind`: their own collections,
/// then those bound into it.
pub fn collections(ctx: &Ctx<'_>, kind: Kind) -> DavResult<Vec<Resource>> {
    let me = ctx.principal;
    let mut out: Vec<Resource> = match kind {
        Kind::Calendar => ctx
            .views
            .calendars
            .collections(me)?
            .into_iter()
            .map(|(name, record)| Resource::Calendar {
                place: Place::own(kind, me, &name),
                record,
            })
            .collect(),
        Kind::AddressBook => ctx
            .views
            .contacts
            .collections(me)?
            .into_iter()
            .map(|(name, record)| Resource::AddressBook {
                place: Place::own(kind, me, &name),
                record,
            })
            .collect(),
    };
    for place in sharing::bound_collections(ctx, kind)? {
        out.extend(collection(ctx.views, place)?);
    }
    Ok(out)
}

fn file_resource(principal: &str, path: String, entry: FileEntry) -> Resource {
    if entry.is_folder() {
        Resource::Folder {
            principal: principal.to_string(),
            path,
            entry: Some(entry),
        }
    } else {
        Resource::File {
            principal: principal.to_string(),
            path,
            entry,
        }
    }
}

/// The members of a collection (Depth: 1), without the collection.
pub fn members(ctx: &Ctx<'_>, resource: &Resource) -> DavResult<Vec<Resource>> {
    let views = ctx.views;
    let me = ctx.principal.to_string();
    Ok(match resource {
        Resource::Plain { href } if href == "/" => Vec::new(),
        Resource::Plain { href } if href == path::ROOT => [
            path::Area::Principals,
            path::Area::Calendars,
            path::Area::AddressBooks,
            path::Area::Files,
        ]
        .into_iter()
        .map(|area| Resource::Plain {
            href: DavPath::Area(area).href(),
        })
        .collect(),
        Resource::Plain { href } => {
            let path = DavPath::parse(href).map_err(|_| super::DavError::not_found())?;
            let domain = ctx.user.domain.as_str();
            let own = match path {
                DavPath::Area(path::Area::Principals) => DavPath::Principal(me),
                DavPath::Area(path::Area::Groups) => {
                    return Ok(views
                        .directory
                        .groups(domain)?
                        .into_iter()
                        .map(|group| Resource::GroupPrincipal {
                            group: Box::new(group),
                            domain: domain.to_string(),
                        })
                        .collect())
                }
                DavPath::Area(path::Area::Resources) => {
                    return Ok(views
                        .directory
                        .resources(domain)?
                        .into_iter()
                        .map(|resource| Resource::Facility {
                            resource: Box::new(resource),
                            domain: domain.to_string(),
                        })
                        .collect())
                }
                DavPath::Area(path::Area::Calendars) => DavPath::Home(Kind::Calendar, me),
                DavPath::Area(path::Area::AddressBooks) => DavPath::Home(Kind::AddressBook, me),
                _ => DavPath::File(me, String::new()),
            };
            load(ctx, &own)?.into_iter().collect()
        }
        Resource::Home { kind, .. } => collections(ctx, *kind)?,
        Resource::Calendar { place, .. } | Resource::AddressBook { place, .. } => place
            .members(views)?
            .into_iter()
            .map(|(name, meta)| Resource::Object {
                place: place.clone(),
                name,
                meta,
                body: None,
            })
            .collect(),
        Resource::Folder {
            principal, path, ..
        } => views
            .files
            .children(principal, path)?
            .into_iter()
            .map(|(path, entry)| file_resource(principal, path, entry))
            .collect(),
        Resource::Principal { .. }
        | Resource::GroupPrincipal { .. }
        | Resource::Facility { .. }
        | Resource::Object { .. }
        | Resource::File { .. } => Vec::new(),
    })
}

fn el(ns: &str, local: &str) -> Element {
    Element {
        name: QName::new(ns, local),
        attrs: Vec::new(),
        children: Vec::new(),
    }
}

fn el_with(ns: &str, local: &str, children: Vec<Element>) -> Element {
    Element {
        children: children.into_iter().map(Node::Element).collect(),
        ..el(ns, local)
    }
}

fn text(s: impl Into<String>) -> Option<Value> {
    Some(Value::Text(s.into()))
}

/// `getlastmodified`: an HTTP date.
pub fn http_date(ms: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0).unsigned_abs());
    httpdate::fmt_http_date(at)
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// `current-user-privilege-set` for what the requester may do.
fn privileges(rights: Rights) -> Value {
    let privilege = |name: &str| el_with(DAV, "privilege", vec![el(DAV, name)]);
    let names: &[&str] = match rights {
        Rights::Owner => &[
            "all",
            "read",
            "write",
            "write-properties",
            "write-content",
            "bind",
            "unbind",
            "read-current-user-privilege-set",
        ],
        // A sharee writes the members, not the owner's collection.
        Rights::ReadWrite => &[
            "read",
            "write-content",
            "bind",
            "unbind",
            "read-current-user-privilege-set",
        ],
        Rights::Read => &["read", "read-current-user-privilege-set"],
    };
    Value::Elements(names.iter().copied().map(privilege).collect())
}

fn reports(names: &[(&str, &str)]) -> Value {
    Value::Elements(
        names
            .iter()
            .map(|(ns, local)| {
                el_with(
                    DAV,
                    "supported-report",
                    vec![el_with(DAV, "report", vec![el(ns, local)])],
                )
            })
            .collect(),
    )
}

const CALENDAR_REPORTS: &[(&str, &str)] = &[
    (CALDAV, "calendar-multiget"),
    (CALDAV, "calendar-query"),
    (CALDAV, "free-busy-query"),
    (DAV, "sync-collection"),
];
const PRINCIPAL_REPORTS: &[(&str, &str)] = &[
    (DAV, "principal-property-search"),
    (DAV, "principal-search-property-set"),
];
const ADDRESSBOOK_REPORTS: &[(&str, &str)] = &[
    (CARDDAV, "addressbook-multiget"),
    (CARDDAV, "addressbook-query"),
    (DAV, "sync-collection"),
];

/// Live properties that PROPPATCH may not change (RFC 4918 §15 and the
/// CalDAV/CardDAV computed ones).
pub fn is_protected(name: &QName) -> bool {
    const PROTECTED: &[(&str, &str)] = &[
        (DAV, "getetag"),
        (DAV, "getcontentlength"),
        (DAV, "getlastmodified"),
        (DAV, "creationdate"),
        (DAV, "resourcetype"),
        (DAV, "lockdiscovery"),
        (DAV, "supportedlock"),
        (DAV, "sync-token"),
        (DAV, "supported-report-set"),
        (DAV, "current-user-principal"),
        (DAV, "current-user-privilege-set"),
        (DAV, "owner"),
        (DAV, "principal-URL"),
        (DAV, "getcontenttype"),
        (CALENDARSERVER, "getctag"),
        (CALDAV, "supported-calendar-component-set"),
        (CALDAV, "supported-calendar-data"),
        (CALDAV, "max-resource-size"),
        (CALDAV, "calendar-home-set"),
        (CALDAV, "calendar-user-address-set"),
        (CARDDAV, "addressbook-home-set"),
        (CARDDAV, "supported-address-data"),
        (CARDDAV, "max-resource-size"),
    ];
    PROTECTED.iter().any(|(ns, local)| name.is(ns, local))
}

impl Resource {
    /// The calendar object or vCard stored as `name` at `place`.
    pub fn object(place: &Place, name: &str, meta: ObjectMeta, body: Option<String>) -> Resource {
        Resource::Object {
            place: place.clone(),
            name: name.to_string(),
            meta,
            body,
        }
    }

    pub fn href(&self) -> String {
        match self {
            Resource::Plain { href } => href.clone(),
            Resource::Principal { user } => path::principal_href(&user.principal()),
            Resource::GroupPrincipal { group, domain } => {
                path::group_principal_href(&format!("{}@{domain}", group.name))
            }
            Resource::Facility { resource, domain } => {
                path::resource_principal_href(&format!("{}@{domain}", resource.name))
            }
            Resource::Home {
                kind, principal, ..
            } => path::home_href(*kind, principal),
            Resource::Calendar { place, .. } | Resource::AddressBook { place, .. } => place.href(),
            Resource::Object { place, name, .. } => place.object_href(name),
            Resource::Folder {
                principal, path, ..
            } => path::file_href(principal, path, true),
            Resource::File {
                principal, path, ..
            } => path::file_href(principal, path, false),
        }
    }

    /// What the requester may do with this resource.
    pub fn rights(&self, ctx: &Ctx<'_>) -> Rights {
        match self {
            Resource::Calendar { place, .. }
            | Resource::AddressBook { place, .. }
            | Resource::Object { place, .. } => place.rights,
            Resource::Principal { user } if user.principal() == ctx.principal => Rights::Owner,
            Resource::Principal { .. }
            | Resource::GroupPrincipal { .. }
            | Resource::Facility { .. } => Rights::Read,
            _ => Rights::Owner,
        }
    }

    pub fn dead(&self) -> Option<&DeadProperties> {
        match self {
            Resource::Calendar { record, .. } => Some(&record.props.dead),
            Resource::AddressBook { record, .. } => Some(&record.props.dead),
            Resource::Folder {
                entry: Some(entry), ..
            }
            | Resource::File { entry, .. } => Some(&entry.dead),
            _ => None,
        }
    }

    /// The names of the live properties this resource has, for `propname`
    /// and `allprop` (which leaves out the expensive or derived ones that
    /// RFC 4791/6352 say it must not return, like calendar-data).
    pub fn live_names(&self, allprop: bool) -> Vec<QName> {
        let mut names: Vec<(&str, &str)> = vec![
            (DAV, "resourcetype"),
            (DAV, "current-user-principal"),
            (DAV, "current-user-privilege-set"),
        ];
        match self {
            Resource::Plain { .. } => {}
            Resource::Principal { .. } => names.extend([
                (DAV, "supported-report-set"),
                (DAV, "displayname"),
                (DAV, "principal-URL"),
                (DAV, "principal-collection-set"),
                (DAV, "group-membership"),
                (CALDAV, "calendar-home-set"),
                (CALDAV, "calendar-user-address-set"),
                (CALDAV, "calendar-user-type"),
                (CARDDAV, "addressbook-home-set"),
                (CALENDARSERVER, "email-address-set"),
            ]),
            Resource::GroupPrincipal { .. } => names.extend([
                (DAV, "supported-report-set"),
                (DAV, "displayname"),
                (DAV, "principal-URL"),
                (DAV, "principal-collection-set"),
                (DAV, "group-member-set"),
                (DAV, "group-membership"),
                (CALDAV, "calendar-user-address-set"),
                (CALDAV, "calendar-user-type"),
            ]),
            Resource::Facility { .. } => names.extend([
                (DAV, "supported-report-set"),
                (DAV, "displayname"),
                (DAV, "principal-URL"),
                (DAV, "principal-collection-set"),
                (DAV, "group-membership"),
                (CALDAV, "calendar-user-address-set"),
                (CALDAV, "calendar-user-type"),
            ]),
            Resource::Home { .. } => names.extend([
                (DAV, "owner"),
                (DAV, "supported-report-set"),
                (DAV, "sync-token"),
                (CALENDARSERVER, "getctag"),
            ]),
            Resource::Calendar { record, place } => {
                names.extend(sharing_names(place));
                names.extend([
                    (DAV, "owner"),
                    (DAV, "supported-report-set"),
                    (DAV, "sync-token"),
                    (CALENDARSERVER, "getctag"),
                    (CALDAV, "supported-calendar-component-set"),
                    (CALDAV, "supported-calendar-data"),
                    (CALDAV, "max-resource-size"),
                ]);
                let p = &record.props;
                for (set, name) in [
                    (p.display_name.is_some(), (DAV, "displayname")),
                    (p.description.is_some(), (CALDAV, "calendar-description")),
                    (p.color.is_some(), (APPLE_ICAL, "calendar-color")),
                    (p.timezone.is_some(), (CALDAV, "calendar-timezone")),
                ] {
                    if set {
                        names.push(name);
                    }
                }
            }
            Resource::AddressBook { record, place } => {
                names.extend(sharing_names(place));
                names.extend([
                    (DAV, "owner"),
                    (DAV, "supported-report-set"),
                    (DAV, "sync-token"),
                    (CALENDARSERVER, "getctag"),
                    (CARDDAV, "supported-address-data"),
                    (CARDDAV, "max-resource-size"),
                ]);
                let p = &record.props;
                if p.display_name.is_some() {
                    names.push((DAV, "displayname"));
                }
                if p.description.is_some() {
                    names.push((CARDDAV, "addressbook-description"));
                }
            }
            Resource::Object { place, .. } => {
                let kind = &place.kind;
                names.extend([
                    (DAV, "owner"),
                    (DAV, "getetag"),
                    (DAV, "getcontenttype"),
                    (DAV, "getcontentlength"),
                    (DAV, "getlastmodified"),
                ]);
                if !allprop {
                    names.push(match kind {
                        Kind::Calendar => (CALDAV, "calendar-data"),
                        Kind::AddressBook => (CARDDAV, "address-data"),
                    });
                }
            }
            Resource::Folder { entry, .. } => {
                names.push((DAV, "owner"));
                if entry.is_some() {
                    names.extend([(DAV, "getlastmodified"), (DAV, "creationdate")]);
                }
            }
            Resource::File { .. } => names.extend([
                (DAV, "owner"),
                (DAV, "getetag"),
                (DAV, "getcontenttype"),
                (DAV, "getcontentlength"),
                (DAV, "getlastmodified"),
                (DAV, "creationdate"),
            ]),
        }
        names
            .into_iter()
            .map(|(ns, local)| QName::new(ns, local))
            .collect()
    }

    /// The value of a live property, or None when this resource has none.
    pub fn live(&self, ctx: &Ctx<'_>, name: &QName) -> Option<Value> {
        let me = || path::principal_href(ctx.principal);
        if name.ns == DAV {
            match name.local.as_str() {
                "current-user-principal" => return Some(Value::Hrefs(vec![me()])),
                "current-user-privilege-set" => return Some(privileges(self.rights(ctx))),
                "principal-collection-set" => {
                    return Some(Value::Hrefs(vec![
                        DavPath::Area(path::Area::Principals).href()
                    ]))
                }
                _ => {}
            }
        }
        let principal = matches!(
            self,
            Resource::Principal { .. }
                | Resource::GroupPrincipal { .. }
                | Resource::Facility { .. }
        );
        if principal && name.is(DAV, "supported-report-set") {
            return Some(reports(PRINCIPAL_REPORTS));
        }
        match self {
            Resource::Plain { .. } => match (name.ns.as_str(), name.local.as_str()) {
                (DAV, "resourcetype") => Some(Value::Elements(vec![el(DAV, "collection")])),
                _ => None,
            },
            Resource::Principal { user } => principal_prop(ctx, user, name),
            Resource::GroupPrincipal { group, domain } => group_prop(ctx, group, domain, name),
            Resource::Facility { resource, domain } => resource_prop(resource, domain, name),
            Resource::Home { kind, tag, .. } => match (name.ns.as_str(), name.local.as_str()) {
                (DAV, "resourcetype") => Some(Value::Elements(vec![el(DAV, "collection")])),
                (DAV, "owner") => Some(Value::Hrefs(vec![me()])),
                (DAV, "supported-report-set") => Some(reports(match kind {
                    Kind::Calendar => CALENDAR_REPORTS,
                    Kind::AddressBook => ADDRESSBOOK_REPORTS,
                })),
                (DAV, "sync-token") | (CALENDARSERVER, "getctag") => text(tag.clone()),
                _ => None,
            },
            Resource::Calendar { place, record } => sharing_prop(ctx, place, name)
                .unwrap_or_else(|| calendar_prop(ctx, place, record, name)),
            Resource::AddressBook { place, record } => {
                if let Some(value) = sharing_prop(ctx, place, name) {
                    return value;
                }
                let p = &record.props;
                match (name.ns.as_str(), name.local.as_str()) {
                    (DAV, "resourcetype") => Some(Value::Elements(resourcetype(
                        ctx,
                        place,
                        el(CARDDAV, "addressbook"),
                    ))),
                    (DAV, "owner") => owner_of(place),
                    (DAV, "displayname") => p.display_name.clone().map(Value::Text),
                    (CARDDAV, "addressbook-description") => p.description.clone().map(Value::Text),
                    (DAV, "supported-report-set") => Some(reports(ADDRESSBOOK_REPORTS)),
                    (DAV, "sync-token") | (CALENDARSERVER, "getctag") => {
                        text(SyncToken::of(record).to_string())
                    }
                    (CARDDAV, "supported-address-data") => Some(Value::Elements(
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
                    )),
                    (CARDDAV, "max-resource-size") => text(ctx.max_resource_size.to_string()),
                    _ => None,
                }
            }
            Resource::Object { place, meta, .. } => match (name.ns.as_str(), name.local.as_str()) {
                (DAV, "resourcetype") => Some(Value::Elements(Vec::new())),
                (DAV, "owner") => owner_of(place),
                (DAV, "getetag") => text(meta.etag()),
                (DAV, "getcontenttype") => {
                    text(object_content_type(place.kind, meta.component.as_deref()))
                }
                (DAV, "getcontentlength") => text(meta.length.to_string()),
                (DAV, "getlastmodified") => text(http_date(meta.modified_ms)),
                (CALDAV, "calendar-data") if place.kind == Kind::Calendar => {
                    self.body(ctx).map(Value::Text)
                }
                (CARDDAV, "address-data") if place.kind == Kind::AddressBook => {
                    self.body(ctx).map(Value::Text)
                }
                _ => None,
            },
            Resource::Folder { entry, .. } => match (name.ns.as_str(), name.local.as_str()) {
                (DAV, "resourcetype") => Some(Value::Elements(vec![el(DAV, "collection")])),
                (DAV, "owner") => Some(Value::Hrefs(vec![me()])),
                (DAV, "getlastmodified") => entry
                    .as_ref()
                    .map(|e| Value::Text(http_date(e.modified_ms))),
                (DAV, "creationdate") => entry.as_ref().map(|e| Value::Text(rfc3339(e.created_ms))),
                _ => None,
            },
            Resource::File { entry, .. } => {
                let length = match &entry.kind {
                    projections::files::FileKind::File { length, .. } => *length,
                    projections::files::FileKind::Folder => 0,
                };
                match (name.ns.as_str(), name.local.as_str()) {
                    (DAV, "resourcetype") => Some(Value::Elements(Vec::new())),
                    (DAV, "owner") => Some(Value::Hrefs(vec![me()])),
                    (DAV, "getetag") => text(entry.etag()),
                    (DAV, "getcontenttype") => text(file_content_type(entry)),
                    (DAV, "getcontentlength") => text(length.to_string()),
                    (DAV, "getlastmodified") => text(http_date(entry.modified_ms)),
                    (DAV, "creationdate") => text(rfc3339(entry.created_ms)),
                    _ => None,
                }
            }
        }
    }

    /// An object's body: the one loaded with it, else read now.
    fn body(&self, ctx: &Ctx<'_>) -> Option<String> {
        let Resource::Object {
            place, name, body, ..
        } = self
        else {
            return None;
        };
        if let Some(body) = body {
            return Some(body.clone());
        }
        place.object(ctx.views, name).ok().flatten().map(|r| r.body)
    }

    /// The `propstat`s answering `request` for this resource.
    pub fn propstats(&self, ctx: &Ctx<'_>, request: &PropRequest) -> ResponseBody {
        let dead = self.dead();
        let mut found = Vec::new();
        let mut missing = Vec::new();
        let lookup = |name: &QName| -> Option<Value> {
            self.live(ctx, name).or_else(|| {
                dead.and_then(|d| d.get(&name.clark()))
                    .map(|xml| Value::Raw(xml.clone()))
            })
        };
        match request {
            PropRequest::PropName => {
                let names = self.live_names(false).into_iter().chain(
                    dead.into_iter()
                        .flat_map(|d| d.keys())
                        .filter_map(|k| QName::from_clark(k)),
                );
                found.extend(names.map(|name| Property {
                    name,
                    value: Value::Empty,
                }));
            }
            PropRequest::AllProp { include } => {
                for name in self.live_names(true) {
                    if let Some(value) = self.live(ctx, &name) {
                        found.push(Property { name, value });
                    }
                }
                for (clark, xml) in dead.into_iter().flatten() {
                    if let Some(name) = QName::from_clark(clark) {
                        found.push(Property {
                            name,
                            value: Value::Raw(xml.clone()),
                        });
                    }
                }
                for name in include {
                    if found.iter().any(|p| &p.name == name) {
                        continue;
                    }
                    match lookup(name) {
                        Some(value) => found.push(Property {
                            name: name.clone(),
                            value,
                        }),
                        None => missing.push(Property {
                            name: name.clone(),
                            value: Value::Empty,
                        }),
                    }
                }
            }
            PropRequest::Prop(names) => {
                for name in names {
                    match lookup(name) {
                        Some(value) => found.push(Property {
                            name: name.clone(),
                            value,
                        }),
                        None => missing.push(Property {
                            name: name.clone(),
                            value: Value::Empty,
                        }),
                    }
                }
            }
        }
        let mut stats = Vec::new();
        if !found.is_empty() || missing.is_empty() {
            stats.push(PropStat {
                status: 200,
                props: found,
            });
        }
        if !missing.is_empty() {
            stats.push(PropStat {
                status: 404,
                props: missing,
            });
        }
        ResponseBody::PropStats(stats)
    }
}

fn principal_resourcetype() -> Option<Value> {
    Some(Value::Elements(vec![
        el(DAV, "collection"),
        el(DAV, "principal"),
    ]))
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

fn addresses(email: Option<&str>, principal_href: String) -> Option<Value> {
    let mut hrefs: Vec<String> = email.map(|e| format!("mailto:{e}")).into_iter().collect();
    hrefs.push(principal_href);
    Some(Value::Hrefs(hrefs))
}

fn principal_prop(ctx: &Ctx<'_>, user: &UserRecord, name: &QName) -> Option<Value> {
    let principal = user.principal();
    match (name.ns.as_str(), name.local.as_str()) {
        (DAV, "resourcetype") => principal_resourcetype(),
        (DAV, "displayname") => text(
            user.display_name
                .clone()
                .unwrap_or_else(|| user.login.clone()),
        ),
        (DAV, "principal-URL") => Some(Value::Hrefs(vec![path::principal_href(&principal)])),
        (DAV, "group-membership") => {
            memberships(ctx, &user.domain, &Member::User(user.login.clone()))
        }
        (CALDAV, "calendar-home-set") => Some(Value::Hrefs(vec![path::home_href(
            Kind::Calendar,
            &principal,
        )])),
        (CARDDAV, "addressbook-home-set") => Some(Value::Hrefs(vec![path::home_href(
            Kind::AddressBook,
            &principal,
        )])),
        (CALDAV, "calendar-user-address-set") => {
            addresses(Some(&user.email), path::principal_href(&principal))
        }
        (CALENDARSERVER, "email-address-set") => Some(Value::Elements(vec![Element {
            children: vec![Node::Text(user.email.clone())],
            ..el(CALENDARSERVER, "email-address")
        }])),
        (CALDAV, "calendar-user-type") => text("INDIVIDUAL"),
        _ => None,
    }
}

fn group_prop(ctx: &Ctx<'_>, group: &GroupRecord, domain: &str, name: &QName) -> Option<Value> {
    let href = path::group_principal_href(&format!("{}@{domain}", group.name));
    match (name.ns.as_str(), name.local.as_str()) {
        (DAV, "resourcetype") => principal_resourcetype(),
        (DAV, "displayname") => text(
            group
                .display_name
                .clone()
                .unwrap_or_else(|| group.name.clone()),
        ),
        (DAV, "principal-URL") => Some(Value::Hrefs(vec![href])),
        (DAV, "group-member-set") => {
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
        }
        (DAV, "group-membership") => memberships(ctx, domain, &Member::Group(group.name.clone())),
        (CALDAV, "calendar-user-address-set") => addresses(group.email.as_deref(), href),
        (CALDAV, "calendar-user-type") => text("GROUP"),
        _ => None,
    }
}

fn resource_prop(resource: &ResourceRecord, domain: &str, name: &QName) -> Option<Value> {
    let href = path::resource_principal_href(&format!("{}@{domain}", resource.name));
    match (name.ns.as_str(), name.local.as_str()) {
        (DAV, "resourcetype") => principal_resourcetype(),
        (DAV, "displayname") => text(
            resource
                .display_name
                .clone()
                .unwrap_or_else(|| resource.name.clone()),
        ),
        (DAV, "principal-URL") => Some(Value::Hrefs(vec![href])),
        (DAV, "group-membership") => Some(Value::Hrefs(Vec::new())),
        (CALDAV, "calendar-user-address-set") => addresses(resource.email.as_deref(), href),
        (CALDAV, "calendar-user-type") => text(match resource.kind {
            ResourceKind::Room => "ROOM",
            ResourceKind::Equipment => "RESOURCE",
        }),
        _ => None,
    }
}

/// `owner`: the owning principal; a directory has none.
fn owner_of(place: &Place) -> Option<Value> {
    (!place.is_directory()).then(|| Value::Hrefs(vec![path::principal_href(&place.owner)]))
}

/// The sharing properties (calendarserver-sharing) a collection has.
fn sharing_names(place: &Place) -> Vec<(&'static str, &'static str)> {
    if place.is_directory() {
        Vec::new()
    } else if place.is_bound() {
        vec![(CALENDARSERVER, "invite"), (CALENDARSERVER, "shared-url")]
    } else {
        vec![
            (CALENDARSERVER, "invite"),
            (CALENDARSERVER, "allowed-sharing-modes"),
        ]
    }
}

/// A collection's resourcetype: `kind_element` plus `CS:shared-owner` on
/// a shared collection of the requester's, `CS:shared` on a share.
fn resourcetype(ctx: &Ctx<'_>, place: &Place, kind_element: Element) -> Vec<Element> {
    let mut types = vec![el(DAV, "collection"), kind_element];
    if place.is_bound() && !place.is_directory() {
        types.push(el(CALENDARSERVER, "shared"));
    } else if !place.is_bound() && place.grants(ctx.views).is_ok_and(|g| !g.is_empty()) {
        types.push(el(CALENDARSERVER, "shared-owner"));
    }
    types
}

/// The calendarserver-sharing properties: `Some(value)` when `name` is
/// one of them.
fn sharing_prop(ctx: &Ctx<'_>, place: &Place, name: &QName) -> Option<Option<Value>> {
    if name.ns != CALENDARSERVER || place.is_directory() {
        return None;
    }
    match name.local.as_str() {
        "invite" => Some(invite(ctx, place)),
        "allowed-sharing-modes" if !place.is_bound() => Some(Some(Value::Elements(vec![el(
            CALENDARSERVER,
            "can-be-shared",
        )]))),
        "shared-url" if place.is_bound() => Some(Some(Value::Hrefs(vec![path::collection_href(
            place.kind,
            &place.owner,
            &place.collection,
        )]))),
        _ => None,
    }
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

fn calendar_prop(
    ctx: &Ctx<'_>,
    place: &Place,
    record: &CollectionRecord<CalendarProps>,
    name: &QName,
) -> Option<Value> {
    let p = &record.props;
    match (name.ns.as_str(), name.local.as_str()) {
        (DAV, "resourcetype") => Some(Value::Elements(resourcetype(
            ctx,
            place,
            el(CALDAV, "calendar"),
        ))),
        (DAV, "owner") => owner_of(place),
        (DAV, "displayname") => p.display_name.clone().map(Value::Text),
        (CALDAV, "calendar-description") => p.description.clone().map(Value::Text),
        (APPLE_ICAL, "calendar-color") => p.color.clone().map(Value::Text),
        (CALDAV, "calendar-timezone") => p.timezone.clone().map(Value::Text),
        (DAV, "supported-report-set") => Some(reports(CALENDAR_REPORTS)),
        (DAV, "sync-token") | (CALENDARSERVER, "getctag") => {
            text(SyncToken::of(record).to_string())
        }
        (CALDAV, "supported-calendar-component-set") => Some(Value::Elements(
            calendar_components(p)
                .iter()
                .map(|c| Element {
                    attrs: vec![(QName::new("", "name"), c.to_string())],
                    ..el(CALDAV, "comp")
                })
                .collect(),
        )),
        (CALDAV, "supported-calendar-data") => Some(Value::Elements(vec![Element {
            attrs: vec![
                (QName::new("", "content-type"), "text/calendar".into()),
                (QName::new("", "version"), "2.0".into()),
            ],
            ..el(CALDAV, "calendar-data")
        }])),
        (CALDAV, "max-resource-size") => text(ctx.max_resource_size.to_string()),
        _ => None,
    }
}

/// The components a calendar takes; an empty set in the view means all.
pub fn calendar_components(props: &CalendarProps) -> Vec<String> {
    if props.components.is_empty() {
        ["VEVENT", "VTODO", "VJOURNAL"].map(String::from).to_vec()
    } else {
        props.components.clone()
    }
}

pub fn object_content_type(kind: Kind, component: Option<&str>) -> String {
    match kind {
        Kind::Calendar => format!(
            "text/calendar; charset=utf-8; component={}",
            component.unwrap_or("vevent").to_ascii_lowercase()
        ),
        Kind::AddressBook => "text/vcard; charset=utf-8".to_string(),
    }
}

pub fn file_content_type(entry: &FileEntry) -> String {
    match &entry.kind {
        projections::files::FileKind::File { content_type, .. } => content_type.clone(),
        projections::files::FileKind::Folder => "httpd/unix-directory".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_tokens_round_trip_and_refuse_strangers() {
        let t = SyncToken {
            created: AggregateVersion(3),
            ctag: AggregateVersion(42),
        };
        assert_eq!(t.to_string(), "urn:reprise:sync:3:42");
        assert_eq!(SyncToken::parse(&t.to_string()), Some(t));
        for bad in [
            "",
            "urn:reprise:sync:3",
            "urn:reprise:sync:a:1",
            "http://x/1",
        ] {
            assert_eq!(SyncToken::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn http_dates_are_imf_fixdate() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(rfc3339(86_400_000), "1970-01-02T00:00:00Z");
    }
}
