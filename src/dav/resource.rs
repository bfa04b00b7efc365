//! The resources a DAV path can name, loaded from the views, and their
//! live properties. Every value here comes from the views, so from the
//! log: two instances answer a PROPFIND with the same bytes.

use super::path::{self, DavPath, Kind};
use super::DavResult;
use events::payload::{AddressBookProps, CalendarProps, DeadProperties};
use events::AggregateVersion;
use formats::xml::{
    Element, Node, PropRequest, PropStat, Property, QName, ResponseBody, Value, APPLE_ICAL, CALDAV,
    CALENDARSERVER, CARDDAV, DAV,
};
use projections::calendars::{CollectionRecord, ObjectMeta, ObjectRecord};
use projections::directory::UserRecord;
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
    Home {
        kind: Kind,
        principal: String,
        tag: String,
    },
    Calendar {
        principal: String,
        name: String,
        record: CollectionRecord<CalendarProps>,
    },
    AddressBook {
        principal: String,
        name: String,
        record: CollectionRecord<AddressBookProps>,
    },
    /// A calendar object or vCard. Listings load no body (`body` None);
    /// a property that needs it reads it then.
    Object {
        kind: Kind,
        principal: String,
        collection: String,
        href: String,
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

/// A home's tag: a digest of its collections' names and versions, so it
/// changes when any of them is created, changed, deleted or written to.
pub fn home_tag<P>(collections: &[(String, CollectionRecord<P>)]) -> String {
    let mut hasher = Sha256::new();
    for (name, record) in collections {
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(record.created.0.to_be_bytes());
        hasher.update(record.ctag.0.to_be_bytes());
        hasher.update(record.version.0.to_be_bytes());
    }
    let digest = hasher.finalize();
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("{HOME_PREFIX}{hex}")
}

pub fn is_home_token(token: &str) -> bool {
    token.starts_with(HOME_PREFIX)
}

/// Loads what a path names; None when it does not exist.
pub fn load(ctx: &Ctx<'_>, path: &DavPath) -> DavResult<Option<Resource>> {
    let views = ctx.views;
    Ok(match path {
        DavPath::ServerRoot | DavPath::DavRoot | DavPath::Area(_) => {
            Some(Resource::Plain { href: path.href() })
        }
        DavPath::Principal(p) => (p == ctx.principal).then(|| Resource::Principal {
            user: Box::new(ctx.user.clone()),
        }),
        DavPath::Home(kind, p) => Some(Resource::Home {
            kind: *kind,
            principal: p.clone(),
            tag: match kind {
                Kind::Calendar => home_tag(&views.calendars.collections(p)?),
                Kind::AddressBook => home_tag(&views.contacts.collections(p)?),
            },
        }),
        DavPath::Collection(Kind::Calendar, p, c) => {
            views
                .calendars
                .collection(p, c)?
                .map(|record| Resource::Calendar {
                    principal: p.clone(),
                    name: c.clone(),
                    record,
                })
        }
        DavPath::Collection(Kind::AddressBook, p, c) => {
            views
                .contacts
                .collection(p, c)?
                .map(|record| Resource::AddressBook {
                    principal: p.clone(),
                    name: c.clone(),
                    record,
                })
        }
        DavPath::Object(kind, p, c, o) => object_record(views, *kind, p, c, o)?
            .map(|record| Resource::object(*kind, p, c, o, record.meta(), Some(record.body))),
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

/// A calendar object or vCard, by kind.
pub fn object_record(
    views: &Views,
    kind: Kind,
    principal: &str,
    collection: &str,
    name: &str,
) -> Result<Option<ObjectRecord>, projections::StoreError> {
    match kind {
        Kind::Calendar => views.calendars.object(principal, collection, name),
        Kind::AddressBook => views.contacts.object(principal, collection, name),
    }
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
        Resource::Plain { href } if href == path::ROOT => vec![
            Resource::Plain {
                href: DavPath::Area(path::Area::Principals).href(),
            },
            Resource::Plain {
                href: DavPath::Area(path::Area::Calendars).href(),
            },
            Resource::Plain {
                href: DavPath::Area(path::Area::AddressBooks).href(),
            },
            Resource::Plain {
                href: DavPath::Area(path::Area::Files).href(),
            },
        ],
        Resource::Plain { href } => {
            let path = DavPath::parse(href).map_err(|_| super::DavError::not_found())?;
            let own = match path {
                DavPath::Area(path::Area::Principals) => DavPath::Principal(me),
                DavPath::Area(path::Area::Calendars) => DavPath::Home(Kind::Calendar, me),
                DavPath::Area(path::Area::AddressBooks) => DavPath::Home(Kind::AddressBook, me),
                _ => DavPath::File(me, String::new()),
            };
            load(ctx, &own)?.into_iter().collect()
        }
        Resource::Home {
            kind: Kind::Calendar,
            principal,
            ..
        } => views
            .calendars
            .collections(principal)?
            .into_iter()
            .map(|(name, record)| Resource::Calendar {
                principal: principal.clone(),
                name,
                record,
            })
            .collect(),
        Resource::Home {
            kind: Kind::AddressBook,
            principal,
            ..
        } => views
            .contacts
            .collections(principal)?
            .into_iter()
            .map(|(name, record)| Resource::AddressBook {
                principal: principal.clone(),
                name,
                record,
            })
            .collect(),
        Resource::Calendar {
            principal, name, ..
        } => objects(
            Kind::Calendar,
            principal,
            name,
            views.calendars.members(principal, name)?,
        ),
        Resource::AddressBook {
            principal, name, ..
        } => objects(
            Kind::AddressBook,
            principal,
            name,
            views.contacts.members(principal, name)?,
        ),
        Resource::Folder {
            principal, path, ..
        } => views
            .files
            .children(principal, path)?
            .into_iter()
            .map(|(path, entry)| file_resource(principal, path, entry))
            .collect(),
        Resource::Principal { .. } | Resource::Object { .. } | Resource::File { .. } => Vec::new(),
    })
}

fn objects(
    kind: Kind,
    principal: &str,
    collection: &str,
    members: Vec<(String, ObjectMeta)>,
) -> Vec<Resource> {
    let base = path::collection_href(kind, principal, collection);
    members
        .into_iter()
        .map(|(name, meta)| Resource::Object {
            kind,
            principal: principal.to_string(),
            collection: collection.to_string(),
            href: format!("{base}{}", path::encode_segment(&name)),
            meta,
            body: None,
        })
        .collect()
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

fn privileges() -> Value {
    let privilege = |name: &str| el_with(DAV, "privilege", vec![el(DAV, name)]);
    Value::Elements(
        [
            "all",
            "read",
            "write",
            "write-properties",
            "write-content",
            "bind",
            "unbind",
            "read-current-user-privilege-set",
        ]
        .into_iter()
        .map(privilege)
        .collect(),
    )
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
    /// The calendar object or vCard stored as `name` in a collection.
    pub fn object(
        kind: Kind,
        principal: &str,
        collection: &str,
        name: &str,
        meta: ObjectMeta,
        body: Option<String>,
    ) -> Resource {
        Resource::Object {
            kind,
            principal: principal.to_string(),
            collection: collection.to_string(),
            href: path::object_href(kind, principal, collection, name),
            meta,
            body,
        }
    }

    pub fn href(&self) -> String {
        match self {
            Resource::Plain { href } => href.clone(),
            Resource::Principal { user } => path::principal_href(&user.principal()),
            Resource::Home {
                kind, principal, ..
            } => path::home_href(*kind, principal),
            Resource::Calendar {
                principal, name, ..
            } => path::collection_href(Kind::Calendar, principal, name),
            Resource::AddressBook {
                principal, name, ..
            } => path::collection_href(Kind::AddressBook, principal, name),
            Resource::Object { href, .. } => href.clone(),
            Resource::Folder {
                principal, path, ..
            } => path::file_href(principal, path, true),
            Resource::File {
                principal, path, ..
            } => path::file_href(principal, path, false),
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
                (DAV, "displayname"),
                (DAV, "principal-URL"),
                (DAV, "principal-collection-set"),
                (DAV, "group-membership"),
                (CALDAV, "calendar-home-set"),
                (CALDAV, "calendar-user-address-set"),
                (CALDAV, "calendar-user-type"),
                (CARDDAV, "addressbook-home-set"),
            ]),
            Resource::Home { .. } => names.extend([
                (DAV, "owner"),
                (DAV, "supported-report-set"),
                (DAV, "sync-token"),
                (CALENDARSERVER, "getctag"),
            ]),
            Resource::Calendar { record, .. } => {
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
            Resource::AddressBook { record, .. } => {
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
            Resource::Object { kind, .. } => {
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
                "current-user-privilege-set" => return Some(privileges()),
                "principal-collection-set" => {
                    return Some(Value::Hrefs(vec![
                        DavPath::Area(path::Area::Principals).href()
                    ]))
                }
                _ => {}
            }
        }
        match self {
            Resource::Plain { .. } => match (name.ns.as_str(), name.local.as_str()) {
                (DAV, "resourcetype") => Some(Value::Elements(vec![el(DAV, "collection")])),
                _ => None,
            },
            Resource::Principal { user } => principal_prop(user, name),
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
            Resource::Calendar { record, .. } => calendar_prop(ctx, record, name, me()),
            Resource::AddressBook { record, .. } => {
                let p = &record.props;
                match (name.ns.as_str(), name.local.as_str()) {
                    (DAV, "resourcetype") => Some(Value::Elements(vec![
                        el(DAV, "collection"),
                        el(CARDDAV, "addressbook"),
                    ])),
                    (DAV, "owner") => Some(Value::Hrefs(vec![me()])),
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
            Resource::Object { kind, meta, .. } => match (name.ns.as_str(), name.local.as_str()) {
                (DAV, "resourcetype") => Some(Value::Elements(Vec::new())),
                (DAV, "owner") => Some(Value::Hrefs(vec![me()])),
                (DAV, "getetag") => text(meta.etag()),
                (DAV, "getcontenttype") => {
                    text(object_content_type(*kind, meta.component.as_deref()))
                }
                (DAV, "getcontentlength") => text(meta.length.to_string()),
                (DAV, "getlastmodified") => text(http_date(meta.modified_ms)),
                (CALDAV, "calendar-data") if *kind == Kind::Calendar => {
                    self.body(ctx).map(Value::Text)
                }
                (CARDDAV, "address-data") if *kind == Kind::AddressBook => {
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
            kind,
            principal,
            collection,
            body,
            ..
        } = self
        else {
            return None;
        };
        if let Some(body) = body {
            return Some(body.clone());
        }
        let name = self.object_name()?;
        object_record(ctx.views, *kind, principal, collection, &name)
            .ok()
            .flatten()
            .map(|r| r.body)
    }

    /// An object's name in its collection: the last segment of its href.
    pub fn object_name(&self) -> Option<String> {
        let Resource::Object { href, .. } = self else {
            return None;
        };
        let name = href.rsplit('/').next()?;
        percent_encoding::percent_decode_str(name)
            .decode_utf8()
            .ok()
            .map(|n| n.into_owned())
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

fn principal_prop(user: &UserRecord, name: &QName) -> Option<Value> {
    let principal = user.principal();
    match (name.ns.as_str(), name.local.as_str()) {
        (DAV, "resourcetype") => Some(Value::Elements(vec![
            el(DAV, "collection"),
            el(DAV, "principal"),
        ])),
        (DAV, "displayname") => text(
            user.display_name
                .clone()
                .unwrap_or_else(|| user.login.clone()),
        ),
        (DAV, "principal-URL") => Some(Value::Hrefs(vec![path::principal_href(&principal)])),
        (DAV, "group-membership") => Some(Value::Hrefs(Vec::new())),
        (CALDAV, "calendar-home-set") => Some(Value::Hrefs(vec![path::home_href(
            Kind::Calendar,
            &principal,
        )])),
        (CARDDAV, "addressbook-home-set") => Some(Value::Hrefs(vec![path::home_href(
            Kind::AddressBook,
            &principal,
        )])),
        (CALDAV, "calendar-user-address-set") => Some(Value::Hrefs(vec![
            format!("mailto:{}", user.email),
            path::principal_href(&principal),
        ])),
        (CALDAV, "calendar-user-type") => text("INDIVIDUAL"),
        _ => None,
    }
}

fn calendar_prop(
    ctx: &Ctx<'_>,
    record: &CollectionRecord<CalendarProps>,
    name: &QName,
    me: String,
) -> Option<Value> {
    let p = &record.props;
    match (name.ns.as_str(), name.local.as_str()) {
        (DAV, "resourcetype") => Some(Value::Elements(vec![
            el(DAV, "collection"),
            el(CALDAV, "calendar"),
        ])),
        (DAV, "owner") => Some(Value::Hrefs(vec![me])),
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
