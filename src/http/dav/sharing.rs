//! Who sees which collection where: a requester's own collections, those
//! shared with them (directly or through a group, at any depth of
//! nesting), and their domain's directory, all inside their own homes so
//! that clients which look only there (Apple, Thunderbird, DAVx5) find
//! them.
//!
//! A collection bound into someone else's home is named
//! `{collection}@{owner}`: `work@alice@example.com` for Alice's `work`,
//! `directory@example.com` for the directory of `example.com`. Own
//! collections cannot be created with names of those two forms, so the
//! two never collide (an own collection made before keeps precedence). The binding is computed on every request from the
//! grants in the owner's view and the directory, never stored, so a
//! revoked grant or a membership change takes effect on the next request.

use super::resource::Ctx;
use super::DavResult;
use events::payload::{AddressBookProps, CalendarProps, Member, Sharee};
use events::AggregateVersion;
use formats::davpath::{self as path, Kind};
use projections::calendars::{Change, CollectionRecord, Grant, ObjectMeta, ObjectRecord};
use projections::contacts::ContactsView;
use projections::directory::UserRecord;
use projections::registry::Views;
use projections::StoreError;
use std::collections::BTreeMap;

/// The name of the directory's address book in every home of its domain.
pub const DIRECTORY: &str = "directory";

/// What the requester may do with a collection, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rights {
    Read,
    ReadWrite,
    Owner,
}

impl From<events::payload::Access> for Rights {
    fn from(access: events::payload::Access) -> Rights {
        match access {
            events::payload::Access::Read => Rights::Read,
            events::payload::Access::ReadWrite => Rights::ReadWrite,
        }
    }
}

/// A calendar or address book as the requester sees it: where it appears
/// (a home and a name there, which make its href) and where its data
/// lives (an owner and the collection's name among the owner's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    pub kind: Kind,
    pub home: String,
    pub name: String,
    /// A principal, or a domain for its directory.
    pub owner: String,
    pub collection: String,
    pub rights: Rights,
}

impl Place {
    /// One of the requester's own collections.
    pub fn own(kind: Kind, principal: &str, name: &str) -> Place {
        Place {
            kind,
            home: principal.to_string(),
            name: name.to_string(),
            owner: principal.to_string(),
            collection: name.to_string(),
            rights: Rights::Owner,
        }
    }

    pub fn href(&self) -> String {
        path::collection_href(self.kind, &self.home, &self.name)
    }

    pub fn object_href(&self, object: &str) -> String {
        path::object_href(self.kind, &self.home, &self.name, object)
    }

    /// Another owner's collection bound into the requester's home.
    pub fn is_bound(&self) -> bool {
        self.home != self.owner
    }

    /// A domain's directory rather than a user's collection.
    pub fn is_directory(&self) -> bool {
        !self.owner.contains('@')
    }

    pub fn may_write(&self) -> bool {
        self.rights >= Rights::ReadWrite
    }

    /// The address-book view holding this place's data.
    fn books(&self, views: &Views) -> ContactsView {
        if self.is_directory() {
            directory_book(views)
        } else {
            views.contacts.clone()
        }
    }

    pub fn calendar(
        &self,
        views: &Views,
    ) -> Result<Option<CollectionRecord<CalendarProps>>, StoreError> {
        match self.kind {
            Kind::Calendar => views.calendars.collection(&self.owner, &self.collection),
            Kind::AddressBook => Ok(None),
        }
    }

    pub fn address_book(
        &self,
        views: &Views,
    ) -> Result<Option<CollectionRecord<AddressBookProps>>, StoreError> {
        match self.kind {
            Kind::AddressBook => self.books(views).collection(&self.owner, &self.collection),
            Kind::Calendar => Ok(None),
        }
    }

    /// Whether the collection is there (a calendar or an address book by
    /// this place's kind).
    pub fn exists(&self, views: &Views) -> Result<bool, StoreError> {
        Ok(match self.kind {
            Kind::Calendar => self.calendar(views)?.is_some(),
            Kind::AddressBook => self.address_book(views)?.is_some(),
        })
    }

    pub fn object(&self, views: &Views, name: &str) -> Result<Option<ObjectRecord>, StoreError> {
        match self.kind {
            Kind::Calendar => views.calendars.object(&self.owner, &self.collection, name),
            Kind::AddressBook => self
                .books(views)
                .object(&self.owner, &self.collection, name),
        }
    }

    pub fn objects(&self, views: &Views) -> Result<Vec<(String, ObjectRecord)>, StoreError> {
        match self.kind {
            Kind::Calendar => views.calendars.objects(&self.owner, &self.collection),
            Kind::AddressBook => self.books(views).objects(&self.owner, &self.collection),
        }
    }

    pub fn members(&self, views: &Views) -> Result<Vec<(String, ObjectMeta)>, StoreError> {
        match self.kind {
            Kind::Calendar => views.calendars.members(&self.owner, &self.collection),
            Kind::AddressBook => self.books(views).members(&self.owner, &self.collection),
        }
    }

    pub fn changes_since(
        &self,
        views: &Views,
        since: AggregateVersion,
    ) -> Result<Vec<(AggregateVersion, Change)>, StoreError> {
        match self.kind {
            Kind::Calendar => views
                .calendars
                .changes_since(&self.owner, &self.collection, since),
            Kind::AddressBook => {
                self.books(views)
                    .changes_since(&self.owner, &self.collection, since)
            }
        }
    }

    pub fn href_of_uid(&self, views: &Views, uid: &str) -> Result<Option<String>, StoreError> {
        match self.kind {
            Kind::Calendar => views
                .calendars
                .href_of_uid(&self.owner, &self.collection, uid),
            Kind::AddressBook => self
                .books(views)
                .href_of_uid(&self.owner, &self.collection, uid),
        }
    }

    pub fn grants(&self, views: &Views) -> Result<Vec<(Sharee, Grant)>, StoreError> {
        match self.kind {
            Kind::Calendar => views.calendars.grants(&self.owner, &self.collection),
            Kind::AddressBook => views.contacts.grants(&self.owner, &self.collection),
        }
    }
}

/// The directory's address books (owner = domain), kept by the directory
/// projection.
fn directory_book(views: &Views) -> ContactsView {
    views.directory.address_book()
}

/// `{collection}@{owner}` → (collection, owner), for names with an `@`.
pub fn parse_bound(name: &str) -> Option<(&str, &str)> {
    let (collection, owner) = name.split_once('@')?;
    (!collection.is_empty() && !owner.is_empty()).then_some((collection, owner))
}

/// Whether an own collection may not take this name, because it has the
/// form of a binding: `{collection}@{login@domain}` or
/// `directory@{domain}`. Other names with an `@` are an owner's to take.
pub fn is_reserved(name: &str) -> bool {
    parse_bound(name)
        .is_some_and(|(collection, owner)| owner.contains('@') || collection == DIRECTORY)
}

pub fn bound_name(collection: &str, owner: &str) -> String {
    format!("{collection}@{owner}")
}

/// The domain part of a principal or of a `name@domain` entry.
pub fn domain_of(name: &str) -> &str {
    name.rsplit_once('@').map_or("", |(_, d)| d)
}

/// The version that created a user: a grant to a user of the same name
/// created later (after a deletion) does not apply to them.
pub fn incarnation(user: &UserRecord) -> AggregateVersion {
    user.created
}

/// The groups a user belongs to, directly or through nested groups, with
/// the version that created each.
pub fn groups_of(
    views: &Views,
    user: &UserRecord,
) -> Result<BTreeMap<String, AggregateVersion>, StoreError> {
    let directory = &views.directory;
    let domain = user.domain.as_str();
    let mut found = BTreeMap::new();
    let mut pending = directory.groups_of(domain, &Member::User(user.login.clone()))?;
    while let Some(group) = pending.pop() {
        let name = format!("{group}@{domain}");
        if found.contains_key(&name) {
            continue;
        }
        let Some(record) = directory.group(domain, &group)? else {
            continue;
        };
        found.insert(name, record.created);
        pending.extend(directory.groups_of(domain, &Member::Group(group))?);
    }
    Ok(found)
}

/// What the requester may do with a grant, if it is theirs.
fn rights_from(
    sharee: &Sharee,
    grant: &Grant,
    me: (&str, AggregateVersion),
    groups: &BTreeMap<String, AggregateVersion>,
) -> Option<Rights> {
    let holds = match sharee {
        Sharee::User(p) => p == me.0 && grant.sharee_since == me.1,
        Sharee::Group(g) => groups.get(g) == Some(&grant.sharee_since),
    };
    holds.then(|| grant.access.into())
}

/// The collection a name in the requester's home stands for, if they may
/// see it. Own collections are not checked for existence here.
/// A calendar of a room or equipment of the requester's domain, which
/// every user of the domain reads (its bookings; no one writes there but
/// the server's scheduling).
pub fn resource_place(ctx: &Ctx<'_>, kind: Kind, home: &str, name: &str) -> Option<Place> {
    let (_, domain) = projections::directory::resource_of_calendar_owner(home)?;
    (kind == Kind::Calendar && domain == ctx.user.domain).then(|| Place {
        kind,
        home: home.to_string(),
        name: name.to_string(),
        owner: home.to_string(),
        collection: name.to_string(),
        rights: Rights::Read,
    })
}

/// What `name` in `home` is: in another principal's home only a room's or
/// equipment's calendar ([`resource_place`]; the dispatcher refused the
/// rest), in the requester's own home [`resolve`].
pub fn locate(ctx: &Ctx<'_>, kind: Kind, home: &str, name: &str) -> DavResult<Option<Place>> {
    if home != ctx.principal {
        return Ok(resource_place(ctx, kind, home, name));
    }
    resolve(ctx, kind, name)
}

pub fn resolve(ctx: &Ctx<'_>, kind: Kind, name: &str) -> DavResult<Option<Place>> {
    let me = ctx.principal;
    let Some((collection, owner)) = parse_bound(name) else {
        return Ok(Some(Place::own(kind, me, name)));
    };
    // A collection made with an `@` before bindings existed stays its own.
    let own = Place::own(kind, me, name);
    if own.exists(ctx.views)? {
        return Ok(Some(own));
    }
    let bound = |rights| Place {
        kind,
        home: me.to_string(),
        name: name.to_string(),
        owner: owner.to_string(),
        collection: collection.to_string(),
        rights,
    };
    if !owner.contains('@') {
        let visible =
            kind == Kind::AddressBook && collection == DIRECTORY && owner == ctx.user.domain;
        return Ok(visible.then(|| bound(Rights::Read)));
    }
    if owner == me {
        return Ok(None);
    }
    let probe = bound(Rights::Read);
    let grants = probe.grants(ctx.views)?;
    if grants.is_empty() {
        return Ok(None);
    }
    let groups = groups_of(ctx.views, ctx.user)?;
    let mine = (me, incarnation(ctx.user));
    let rights = grants
        .iter()
        .filter_map(|(sharee, grant)| rights_from(sharee, grant, mine, &groups))
        .max();
    Ok(rights.map(bound))
}

/// The collections bound into the requester's home of `kind`: those
/// shared with them and, for address books, their domain's directory.
pub fn bound_collections(ctx: &Ctx<'_>, kind: Kind) -> DavResult<Vec<Place>> {
    let me = ctx.principal;
    let groups = groups_of(ctx.views, ctx.user)?;
    let mine = (me, incarnation(ctx.user));
    let mut sharees = vec![Sharee::User(me.to_string())];
    sharees.extend(groups.keys().map(|g| Sharee::Group(g.clone())));
    let mut best: BTreeMap<(String, String), Rights> = BTreeMap::new();
    for sharee in &sharees {
        let shared = match kind {
            Kind::Calendar => ctx.views.calendars.shared_with(sharee)?,
            Kind::AddressBook => ctx.views.contacts.shared_with(sharee)?,
        };
        for s in shared {
            if s.owner == me {
                continue;
            }
            if let Some(rights) = rights_from(sharee, &s.grant, mine, &groups) {
                let entry = best.entry((s.owner, s.collection)).or_insert(rights);
                *entry = (*entry).max(rights);
            }
        }
    }
    let mut places: Vec<Place> = best
        .into_iter()
        .map(|((owner, collection), rights)| Place {
            kind,
            home: me.to_string(),
            name: bound_name(&collection, &owner),
            owner,
            collection,
            rights,
        })
        .collect();
    if kind == Kind::AddressBook {
        let domain = ctx.user.domain.as_str();
        if directory_book(ctx.views)
            .collection(domain, DIRECTORY)?
            .is_some()
        {
            places.push(Place {
                kind,
                home: me.to_string(),
                name: bound_name(DIRECTORY, domain),
                owner: domain.to_string(),
                collection: DIRECTORY.to_string(),
                rights: Rights::Read,
            });
        }
    }
    Ok(places)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_names_split_at_the_first_at() {
        assert_eq!(
            parse_bound("work@alice@example.com"),
            Some(("work", "alice@example.com"))
        );
        assert_eq!(
            parse_bound("directory@example.com"),
            Some(("directory", "example.com"))
        );
        assert_eq!(parse_bound("work"), None);
        assert_eq!(parse_bound("@alice@example.com"), None);
        assert_eq!(parse_bound("work@"), None);
        assert_eq!(
            bound_name("work", "alice@example.com"),
            "work@alice@example.com"
        );
        assert!(is_reserved("work@alice@example.com"));
        assert!(is_reserved("directory@example.com"));
        assert!(!is_reserved("team@example.com"));
        assert!(!is_reserved("work"));
    }

    #[test]
    fn a_grant_holds_only_for_the_incarnation_it_names() {
        let grant = |since| Grant {
            access: events::payload::Access::ReadWrite,
            sharee_since: AggregateVersion(since),
            version: AggregateVersion(50),
        };
        let me = ("bob@example.com", AggregateVersion(10));
        let mut groups = BTreeMap::new();
        groups.insert("team@example.com".to_string(), AggregateVersion(20));
        let user = Sharee::User("bob@example.com".into());
        let team = Sharee::Group("team@example.com".into());
        assert_eq!(
            rights_from(&user, &grant(10), me, &groups),
            Some(Rights::ReadWrite)
        );
        // Bob was deleted and created again: the old grant is not his.
        assert_eq!(rights_from(&user, &grant(3), me, &groups), None);
        assert_eq!(
            rights_from(&team, &grant(20), me, &groups),
            Some(Rights::ReadWrite)
        );
        assert_eq!(rights_from(&team, &grant(19), me, &groups), None);
        let other = Sharee::Group("others@example.com".into());
        assert_eq!(rights_from(&other, &grant(20), me, &groups), None);
    }
}
