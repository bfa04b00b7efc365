//! The resources a DAV path can name, loaded from the views: what exists,
//! its members, its href, what the requester may do with it. What a
//! PROPFIND says of it is in [`super::props`].

use super::sharing::{self, Place, Rights};
use super::sync_token::home_tag;
use super::DavResult;
use events::payload::{AddressBookProps, CalendarProps, DeadProperties};
use formats::davpath::{self as path, DavPath, Kind};
use projections::calendars::{CollectionRecord, ObjectMeta};
use projections::directory::{GroupRecord, ResourceRecord, UserRecord};
use projections::files::FileEntry;
use projections::registry::Views;

/// What a request may read: the views and who is asking.
pub struct Ctx<'a> {
    pub views: &'a Views,
    pub user: &'a UserRecord,
    pub principal: &'a str,
    pub max_resource_size: u64,
    pub limits: super::BodyLimits,
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
        DavPath::Home(kind, p) if p != ctx.principal => {
            match sharing::resource_place(ctx, *kind, p, "") {
                Some(_) => Some(Resource::Home {
                    kind: *kind,
                    principal: p.clone(),
                    tag: home_tag(&resource_calendars(ctx, p)?),
                }),
                None => None,
            }
        }
        DavPath::Home(kind, p) => Some(Resource::Home {
            kind: *kind,
            principal: p.clone(),
            tag: home_tag(&collections(ctx, *kind)?),
        }),
        DavPath::Collection(kind, home, c) => match sharing::locate(ctx, *kind, home, c)? {
            Some(place) => collection(views, place)?,
            None => None,
        },
        DavPath::Object(kind, home, c, o) => match sharing::locate(ctx, *kind, home, c)? {
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
        // Read by GET alone (`attachments::get`), never as a DAV resource.
        DavPath::Attachment(..) => None,
    })
}

/// The collection at `place`, if it exists.
fn collection(views: &Views, place: Place) -> DavResult<Option<Resource>> {
    Ok(match place.kind {
        // The scheduling inbox exists from the first delivery, the
        // outbox never: both are there for their owner from the start.
        Kind::Calendar if super::props::scheduling_box(&place).is_some() => {
            let record = place.calendar(views)?.unwrap_or(CollectionRecord {
                props: CalendarProps::default(),
                created: events::AggregateVersion::ABSENT,
                version: events::AggregateVersion::ABSENT,
                ctag: events::AggregateVersion::ABSENT,
            });
            Some(Resource::Calendar { place, record })
        }
        Kind::Calendar => place
            .calendar(views)?
            .map(|record| Resource::Calendar { place, record }),
        Kind::AddressBook => place
            .address_book(views)?
            .map(|record| Resource::AddressBook { place, record }),
    })
}

/// The calendars of a room's or equipment's home (`owner`), read-only.
fn resource_calendars(ctx: &Ctx<'_>, owner: &str) -> DavResult<Vec<Resource>> {
    let mut out = Vec::new();
    for (name, record) in ctx.views.calendars.collections(owner)? {
        if name == projections::scheduling::SCHEDULE_INBOX {
            continue;
        }
        if let Some(place) = sharing::resource_place(ctx, Kind::Calendar, owner, &name) {
            out.push(Resource::Calendar { place, record });
        }
    }
    Ok(out)
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
            // Reached by `schedule-inbox-URL`; not a calendar to list.
            .filter(|(name, _)| name != projections::scheduling::SCHEDULE_INBOX)
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
        Resource::Home { principal, .. } if *principal != ctx.principal => {
            resource_calendars(ctx, principal)?
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

    /// An object's body: the one loaded with it, else read now.
    pub(super) fn body(&self, ctx: &Ctx<'_>) -> Option<String> {
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
}
