//! The directory: domains, users, groups (nested) and resources, per domain.
//!
//! Directory events are keyed by their domain, so every rule here (unique
//! logins and emails, existing members, no membership cycles) depends
//! only on the events of one partition: the log order decides the same way
//! on every instance. Keys:
//!
//! - `dom\0domain` → [`DomainRecord`]
//! - `usr\0domain\0login` → [`UserRecord`]; `lgn\0login\0domain` (login index)
//! - `eml\0email\0domain` → login (emails compared lowercase)
//! - `grp\0domain\0group` → [`GroupRecord`]
//! - `mem\0domain\0group\0u|g\0name` and the reverse `mof\0domain\0u|g\0name\0group`
//! - `res\0domain\0resource` → [`ResourceRecord`]
//!
//! and, in the key layout of `collections.rs`, each domain's global
//! address book (owner = the domain, collection [`gal::COLLECTION`]): a
//! vCard per enabled user, group and resource, rewritten by the events
//! that change its text (see [`gal`]).
//!
//! Versions: v2 added `created` to users, groups and resources, a user's
//! phone, group and resource updates, and the address book; group and
//! resource names follow the login rule (they name vCard hrefs).

pub mod gal;
#[cfg(test)]
mod tests;

use crate::contacts::ContactsView;
use crate::outcome::{check_expected, Outcome, Rejection};
use crate::projection::{check_name, Applied, ApplyError, Projection};
use crate::store::{StoreError, ViewTree};
use crate::view::keys::{key, under};
use crate::view::{ReadTree, ViewTxn};
use events::payload::{Member, ResourceKind};
use events::{AggregateVersion, Domain, Payload};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

const DOM: &[u8] = b"dom\0";
const USR: &[u8] = b"usr\0";
const LGN: &[u8] = b"lgn\0";
const EML: &[u8] = b"eml\0";
const GRP: &[u8] = b"grp\0";
/// A group's direct member, `mem\0 domain \0 group \0 kind \0 name`, whose
/// value is the version that created the member (big-endian), so that a
/// group's card is one scan, not one read per member.
const MEM: &[u8] = b"mem\0";
const MOF: &[u8] = b"mof\0";
const RES: &[u8] = b"res\0";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainRecord {
    pub name: String,
    pub display_name: Option<String>,
    pub version: AggregateVersion,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub login: String,
    pub domain: String,
    pub email: String,
    pub display_name: Option<String>,
    /// A telephone number for the global address book.
    pub phone: Option<String>,
    pub password_hash: String,
    pub admin: bool,
    pub enabled: bool,
    /// The last change.
    pub version: AggregateVersion,
    /// The version of the `UserCreated` event, fixed for the user's life:
    /// it tells this user apart from an earlier or later one of the same
    /// login (share grants are bound to it).
    pub created: AggregateVersion,
}

impl UserRecord {
    /// The principal: `login@domain`, the partition key of the user's data.
    pub fn principal(&self) -> String {
        principal(&self.login, &self.domain)
    }
}

pub fn principal(login: &str, domain: &str) -> String {
    format!("{login}@{domain}")
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub name: String,
    pub domain: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    /// The last change, membership included.
    pub version: AggregateVersion,
    /// The version of the `GroupCreated` event (see [`UserRecord::created`]).
    pub created: AggregateVersion,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRecord {
    pub name: String,
    pub domain: String,
    pub kind: ResourceKind,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub capacity: Option<u32>,
    pub location: Option<String>,
    pub version: AggregateVersion,
    /// The version of the `ResourceCreated` event.
    pub created: AggregateVersion,
}

impl ResourceRecord {
    /// The partition key of the resource's calendar: `name+resource@domain`
    /// (a login has no `+`, so no user's data shares it).
    pub fn calendar_owner(&self) -> String {
        resource_calendar_owner(&self.name, &self.domain)
    }
}

/// See [`ResourceRecord::calendar_owner`].
pub fn resource_calendar_owner(name: &str, domain: &str) -> String {
    format!("{name}+resource@{domain}")
}

/// The resource (name, domain) whose calendars `owner` holds, if it is
/// one's ([`resource_calendar_owner`]).
pub fn resource_of_calendar_owner(owner: &str) -> Option<(&str, &str)> {
    let (local, domain) = owner.rsplit_once('@')?;
    Some((local.strip_suffix("+resource")?, domain))
}

/// A login, group or resource name: lowercase ASCII letters, digits, `.`,
/// `_` and `-`, at most 64.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

pub fn valid_login(login: &str) -> bool {
    valid_name(login)
}

/// The refusal of a group or resource name outside [`valid_name`].
fn check_entry_name(kind: &str, name: &str) -> Result<(), ApplyError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(ApplyError::Refused(format!("invalid {kind} name {name:?}")))
    }
}

fn member_parts(m: &Member) -> (&'static [u8], &str) {
    match m {
        Member::User(n) => (b"u", n),
        Member::Group(n) => (b"g", n),
    }
}

pub struct Directory;

impl Directory {
    pub const NAME: &'static str = "directory";
    pub const VERSION: u32 = 2;
}

struct Apply<'e, 'v, 't> {
    event: &'e Applied<'e>,
    view: &'v mut ViewTxn<'t>,
    domain: &'e str,
}

fn rejected(r: Rejection) -> Result<Outcome, ApplyError> {
    r.into()
}

impl Apply<'_, '_, '_> {
    fn d(&self) -> &[u8] {
        self.domain.as_bytes()
    }

    fn check_version(&self, current: AggregateVersion) -> Result<(), Rejection> {
        check_expected(self.event.event.expected_version, current)
    }

    fn applied(&self) -> Outcome {
        Outcome::Applied {
            version: self.event.version(),
        }
    }

    fn domain_exists(&self) -> Result<bool, StoreError> {
        self.view.contains(&key(DOM, &[self.d()]))
    }

    fn user(&self, login: &str) -> Result<Option<UserRecord>, StoreError> {
        self.view.get_as(&key(USR, &[self.d(), login.as_bytes()]))
    }

    fn group(&self, name: &str) -> Result<Option<GroupRecord>, StoreError> {
        self.view.get_as(&key(GRP, &[self.d(), name.as_bytes()]))
    }

    fn resource(&self, name: &str) -> Result<Option<ResourceRecord>, StoreError> {
        self.view.get_as(&key(RES, &[self.d(), name.as_bytes()]))
    }

    /// Groups `m` belongs to directly.
    fn groups_of(&self, m: &Member) -> Result<Vec<String>, StoreError> {
        let (kind, name) = member_parts(m);
        let of = under(MOF, &[self.d(), kind, name.as_bytes()]);
        Ok(self
            .view
            .keys_with_prefix(&of)?
            .iter()
            .map(|k| String::from_utf8_lossy(&k[of.len()..]).into_owned())
            .collect())
    }

    /// The version that created `m`, if it exists.
    fn member_created(&self, m: &Member) -> Result<Option<AggregateVersion>, StoreError> {
        match m {
            Member::User(n) => self.created(USR, n),
            Member::Group(n) => self.created(GRP, n),
        }
    }

    fn email_holder(&self, email: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .view
            .get(&key(EML, &[email.to_lowercase().as_bytes(), self.d()]))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    fn put_user(&mut self, user: &UserRecord) {
        let k = key(USR, &[self.d(), user.login.as_bytes()]);
        self.view.put_as(k, user);
    }

    fn membership_keys(&self, group: &str, m: &Member) -> (Vec<u8>, Vec<u8>) {
        let (kind, name) = member_parts(m);
        (
            key(MEM, &[self.d(), group.as_bytes(), kind, name.as_bytes()]),
            key(MOF, &[self.d(), kind, name.as_bytes(), group.as_bytes()]),
        )
    }

    /// Removes every membership of and in `m`.
    fn forget_member(&mut self, m: &Member) -> Result<(), StoreError> {
        let (kind, name) = member_parts(m);
        let of = under(MOF, &[self.d(), kind, name.as_bytes()]);
        for k in self.view.keys_with_prefix(&of)? {
            let group = String::from_utf8_lossy(&k[of.len()..]).into_owned();
            let (mem, mof) = self.membership_keys(&group, m);
            self.view.delete(mem);
            self.view.delete(mof);
        }
        if let Member::Group(g) = m {
            let inside = under(MEM, &[self.d(), g.as_bytes()]);
            for k in self.view.keys_with_prefix(&inside)? {
                if let Some(member) = parse_member(&k[inside.len()..]) {
                    let (mem, mof) = self.membership_keys(g, &member);
                    self.view.delete(mem);
                    self.view.delete(mof);
                }
            }
        }
        Ok(())
    }

    /// Whether `target` is `group` or a group nested anywhere inside it.
    fn contains_group(&self, group: &str, target: &str) -> Result<bool, StoreError> {
        let mut stack = vec![group.to_string()];
        let mut seen = std::collections::BTreeSet::new();
        while let Some(g) = stack.pop() {
            if g == target {
                return Ok(true);
            }
            if !seen.insert(g.clone()) {
                continue;
            }
            let inside = under(MEM, &[self.d(), g.as_bytes(), b"g"]);
            for k in self.view.keys_with_prefix(&inside)? {
                stack.push(String::from_utf8_lossy(&k[inside.len()..]).into_owned());
            }
        }
        Ok(false)
    }

    fn run(&mut self) -> Result<Outcome, ApplyError> {
        let event = self.event.event;
        let v = self.event.version();
        match &event.payload {
            Payload::DomainCreated(e) => {
                if e.domain != self.domain {
                    return Err(ApplyError::Refused(format!(
                        "domain {:?} created under partition key {:?}",
                        e.domain, self.domain
                    )));
                }
                let k = key(DOM, &[self.d()]);
                let current = self
                    .view
                    .get_as::<DomainRecord>(&k)?
                    .map_or(AggregateVersion::ABSENT, |d| d.version);
                if let Err(r) = self.check_version(current) {
                    return rejected(r);
                }
                if current != AggregateVersion::ABSENT {
                    return rejected(Rejection::AlreadyExists {
                        what: format!("domain {}", e.domain),
                    });
                }
                let record = DomainRecord {
                    name: e.domain.clone(),
                    display_name: e.display_name.clone(),
                    version: v,
                };
                self.view.put_as(k, &record);
                self.create_address_book(&record)
            }
            Payload::UserCreated(e) => {
                if !valid_login(&e.login) {
                    return Err(ApplyError::Refused(format!("invalid login {:?}", e.login)));
                }
                if !e.password_hash.starts_with("$argon2") {
                    return Err(ApplyError::Refused("password hash is not argon2".into()));
                }
                if !self.domain_exists()? {
                    return rejected(Rejection::NotFound {
                        what: format!("domain {}", self.domain),
                    });
                }
                let current = self
                    .user(&e.login)?
                    .map_or(AggregateVersion::ABSENT, |u| u.version);
                if let Err(r) = self.check_version(current) {
                    return rejected(r);
                }
                if current != AggregateVersion::ABSENT {
                    return rejected(Rejection::AlreadyExists {
                        what: format!("user {}", e.login),
                    });
                }
                if let Some(holder) = self.email_holder(&e.email)? {
                    return rejected(Rejection::AlreadyExists {
                        what: format!("email {} (user {holder})", e.email),
                    });
                }
                let user = UserRecord {
                    login: e.login.clone(),
                    domain: self.domain.to_string(),
                    email: e.email.clone(),
                    display_name: e.display_name.clone(),
                    phone: e.phone.clone(),
                    password_hash: e.password_hash.clone(),
                    admin: e.admin,
                    enabled: true,
                    version: v,
                    created: v,
                };
                self.put_user(&user);
                self.view
                    .put(key(LGN, &[e.login.as_bytes(), self.d()]), Vec::new());
                self.view.put(
                    key(EML, &[e.email.to_lowercase().as_bytes(), self.d()]),
                    e.login.as_bytes().to_vec(),
                );
                Ok(self.applied())
            }
            Payload::UserUpdated(e) => {
                let Some(mut user) = self.user(&e.login)? else {
                    return rejected(Rejection::NotFound {
                        what: format!("user {}", e.login),
                    });
                };
                if let Err(r) = self.check_version(user.version) {
                    return rejected(r);
                }
                if let Some(email) = &e.email {
                    if !email.eq_ignore_ascii_case(&user.email) {
                        if let Some(holder) = self.email_holder(email)? {
                            return rejected(Rejection::AlreadyExists {
                                what: format!("email {email} (user {holder})"),
                            });
                        }
                        self.view
                            .delete(key(EML, &[user.email.to_lowercase().as_bytes(), self.d()]));
                        self.view.put(
                            key(EML, &[email.to_lowercase().as_bytes(), self.d()]),
                            user.login.as_bytes().to_vec(),
                        );
                    }
                    user.email = email.clone();
                }
                if let Some(hash) = &e.password_hash {
                    if !hash.starts_with("$argon2") {
                        return Err(ApplyError::Refused("password hash is not argon2".into()));
                    }
                    user.password_hash = hash.clone();
                }
                if let Some(name) = &e.display_name {
                    user.display_name = name.clone();
                }
                if let Some(phone) = &e.phone {
                    user.phone = phone.clone();
                }
                if let Some(admin) = e.admin {
                    user.admin = admin;
                }
                if let Some(enabled) = e.enabled {
                    user.enabled = enabled;
                }
                user.version = v;
                self.put_user(&user);
                Ok(self.applied())
            }
            Payload::UserDisabled(e) => {
                let Some(mut user) = self.user(&e.login)? else {
                    return rejected(Rejection::NotFound {
                        what: format!("user {}", e.login),
                    });
                };
                if let Err(r) = self.check_version(user.version) {
                    return rejected(r);
                }
                user.enabled = false;
                user.version = v;
                self.put_user(&user);
                Ok(self.applied())
            }
            Payload::UserDeleted(e) => {
                let Some(user) = self.user(&e.login)? else {
                    return rejected(Rejection::NotFound {
                        what: format!("user {}", e.login),
                    });
                };
                if let Err(r) = self.check_version(user.version) {
                    return rejected(r);
                }
                self.forget_member(&Member::User(user.login.clone()))?;
                self.view
                    .delete(key(USR, &[self.d(), user.login.as_bytes()]));
                self.view
                    .delete(key(LGN, &[user.login.as_bytes(), self.d()]));
                self.view
                    .delete(key(EML, &[user.email.to_lowercase().as_bytes(), self.d()]));
                Ok(Outcome::Applied {
                    version: AggregateVersion::ABSENT,
                })
            }
            Payload::GroupCreated(e) => {
                check_entry_name("group", &e.group)?;
                if !self.domain_exists()? {
                    return rejected(Rejection::NotFound {
                        what: format!("domain {}", self.domain),
                    });
                }
                let current = self
                    .group(&e.group)?
                    .map_or(AggregateVersion::ABSENT, |g| g.version);
                if let Err(r) = self.check_version(current) {
                    return rejected(r);
                }
                if current != AggregateVersion::ABSENT {
                    return rejected(Rejection::AlreadyExists {
                        what: format!("group {}", e.group),
                    });
                }
                let group = GroupRecord {
                    name: e.group.clone(),
                    domain: self.domain.to_string(),
                    display_name: e.display_name.clone(),
                    email: e.email.clone(),
                    version: v,
                    created: v,
                };
                self.view
                    .put_as(key(GRP, &[self.d(), e.group.as_bytes()]), &group);
                Ok(self.applied())
            }
            Payload::GroupUpdated(e) => {
                let Some(mut group) = self.group(&e.group)? else {
                    return rejected(Rejection::NotFound {
                        what: format!("group {}", e.group),
                    });
                };
                if let Err(r) = self.check_version(group.version) {
                    return rejected(r);
                }
                if let Some(name) = &e.display_name {
                    group.display_name = name.clone();
                }
                if let Some(email) = &e.email {
                    group.email = email.clone();
                }
                group.version = v;
                self.view
                    .put_as(key(GRP, &[self.d(), e.group.as_bytes()]), &group);
                Ok(self.applied())
            }
            Payload::GroupDeleted(e) => {
                let Some(group) = self.group(&e.group)? else {
                    return rejected(Rejection::NotFound {
                        what: format!("group {}", e.group),
                    });
                };
                if let Err(r) = self.check_version(group.version) {
                    return rejected(r);
                }
                self.forget_member(&Member::Group(e.group.clone()))?;
                self.view.delete(key(GRP, &[self.d(), e.group.as_bytes()]));
                Ok(Outcome::Applied {
                    version: AggregateVersion::ABSENT,
                })
            }
            Payload::MemberAdded(e) => {
                let Some(mut group) = self.group(&e.group)? else {
                    return rejected(Rejection::NotFound {
                        what: format!("group {}", e.group),
                    });
                };
                if let Err(r) = self.check_version(group.version) {
                    return rejected(r);
                }
                let Some(created) = self.member_created(&e.member)? else {
                    let (kind, name) = match &e.member {
                        Member::User(n) => ("user", n),
                        Member::Group(n) => ("group", n),
                    };
                    return rejected(Rejection::NotFound {
                        what: format!("{kind} {name}"),
                    });
                };
                if let Member::Group(inner) = &e.member {
                    if self.contains_group(inner, &e.group)? {
                        return rejected(Rejection::NotAllowed {
                            reason: format!(
                                "adding group {inner} to {} would make a group contain itself",
                                e.group
                            ),
                        });
                    }
                }
                let (mem, mof) = self.membership_keys(&e.group, &e.member);
                if self.view.contains(&mem)? {
                    return rejected(Rejection::AlreadyExists {
                        what: format!("that member of group {}", e.group),
                    });
                }
                self.view.put(mem, created.0.to_be_bytes().to_vec());
                self.view.put(mof, Vec::new());
                group.version = v;
                self.view
                    .put_as(key(GRP, &[self.d(), e.group.as_bytes()]), &group);
                Ok(self.applied())
            }
            Payload::MemberRemoved(e) => {
                let Some(mut group) = self.group(&e.group)? else {
                    return rejected(Rejection::NotFound {
                        what: format!("group {}", e.group),
                    });
                };
                if let Err(r) = self.check_version(group.version) {
                    return rejected(r);
                }
                let (mem, mof) = self.membership_keys(&e.group, &e.member);
                if !self.view.contains(&mem)? {
                    return rejected(Rejection::NotFound {
                        what: format!("that member of group {}", e.group),
                    });
                }
                self.view.delete(mem);
                self.view.delete(mof);
                group.version = v;
                self.view
                    .put_as(key(GRP, &[self.d(), e.group.as_bytes()]), &group);
                Ok(self.applied())
            }
            Payload::ResourceCreated(e) => {
                check_entry_name("resource", &e.resource)?;
                if !self.domain_exists()? {
                    return rejected(Rejection::NotFound {
                        what: format!("domain {}", self.domain),
                    });
                }
                let k = key(RES, &[self.d(), e.resource.as_bytes()]);
                let current = self
                    .view
                    .get_as::<ResourceRecord>(&k)?
                    .map_or(AggregateVersion::ABSENT, |r| r.version);
                if let Err(r) = self.check_version(current) {
                    return rejected(r);
                }
                if current != AggregateVersion::ABSENT {
                    return rejected(Rejection::AlreadyExists {
                        what: format!("resource {}", e.resource),
                    });
                }
                let record = ResourceRecord {
                    name: e.resource.clone(),
                    domain: self.domain.to_string(),
                    kind: e.kind,
                    display_name: e.display_name.clone(),
                    email: e.email.clone(),
                    capacity: e.capacity,
                    location: e.location.clone(),
                    version: v,
                    created: v,
                };
                self.view.put_as(k, &record);
                Ok(self.applied())
            }
            Payload::ResourceUpdated(e) => {
                let k = key(RES, &[self.d(), e.resource.as_bytes()]);
                let Some(mut record) = self.view.get_as::<ResourceRecord>(&k)? else {
                    return rejected(Rejection::NotFound {
                        what: format!("resource {}", e.resource),
                    });
                };
                if let Err(r) = self.check_version(record.version) {
                    return rejected(r);
                }
                if let Some(name) = &e.display_name {
                    record.display_name = name.clone();
                }
                if let Some(email) = &e.email {
                    record.email = email.clone();
                }
                if let Some(capacity) = e.capacity {
                    record.capacity = capacity;
                }
                if let Some(location) = &e.location {
                    record.location = location.clone();
                }
                record.version = v;
                self.view.put_as(k, &record);
                Ok(self.applied())
            }
            Payload::ResourceDeleted(e) => {
                let k = key(RES, &[self.d(), e.resource.as_bytes()]);
                let Some(record) = self.view.get_as::<ResourceRecord>(&k)? else {
                    return rejected(Rejection::NotFound {
                        what: format!("resource {}", e.resource),
                    });
                };
                if let Err(r) = self.check_version(record.version) {
                    return rejected(r);
                }
                self.view.delete(k);
                Ok(Outcome::Applied {
                    version: AggregateVersion::ABSENT,
                })
            }
            other => Err(ApplyError::Refused(format!(
                "{} is not a directory event",
                other.event_type()
            ))),
        }
    }
}

fn parse_member(rest: &[u8]) -> Option<Member> {
    let (kind, name) = (rest.first()?, rest.get(2..)?);
    let name = String::from_utf8_lossy(name).into_owned();
    match kind {
        b'u' => Some(Member::User(name)),
        b'g' => Some(Member::Group(name)),
        _ => None,
    }
}

impl Projection for Directory {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn version(&self) -> u32 {
        Self::VERSION
    }

    fn domains(&self) -> &'static [Domain] {
        &[Domain::Directory]
    }

    // Every key is under the domain, the partition key of directory events.
    fn partitions_independent(&self) -> bool {
        true
    }

    fn apply(&self, event: &Applied<'_>, view: &mut ViewTxn<'_>) -> Result<Outcome, ApplyError> {
        check_name("domain", &event.event.partition_key)?;
        let mut apply = Apply {
            event,
            view,
            domain: &event.event.partition_key,
        };
        // Read before the event applies: a deleted member's groups.
        let touched = apply.touched_cards()?;
        let outcome = apply.run()?;
        if matches!(outcome, Outcome::Applied { .. }) {
            apply.refresh_cards(&touched)?;
        }
        Ok(outcome)
    }
}

/// One page of a listing, in key order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// What to pass as `after` for the next page; None on the last one.
    pub next: Option<String>,
}

/// Listing cursors name the last entry shown: `domain` for domains,
/// `name@domain` for users, groups and resources (names hold no `@`).
fn cursor_key(root: &[u8], cursor: &str) -> Vec<u8> {
    match cursor.rsplit_once('@') {
        Some((name, domain)) => key(root, &[domain.as_bytes(), name.as_bytes()]),
        None => key(root, &[cursor.as_bytes()]),
    }
}

fn cursor_of(root: &[u8], k: &[u8]) -> String {
    let rest = String::from_utf8_lossy(&k[root.len()..]).into_owned();
    match rest.split_once('\0') {
        Some((domain, name)) => format!("{name}@{domain}"),
        None => rest,
    }
}

/// The read side of the directory.
#[derive(Clone)]
pub struct DirectoryView {
    tree: ReadTree,
    address_book: ContactsView,
}

impl DirectoryView {
    pub(crate) fn new(tree: ViewTree) -> DirectoryView {
        DirectoryView {
            address_book: ContactsView::new(tree.clone()),
            tree: ReadTree::new(tree),
        }
    }

    /// The global address books, read like any address book: owner = the
    /// domain, collection [`gal::COLLECTION`] (`"directory"`), hrefs from
    /// [`gal::href`]. Read-only: only directory events change it.
    pub fn address_book(&self) -> ContactsView {
        self.address_book.clone()
    }

    fn get<T: DeserializeOwned>(&self, k: &[u8]) -> Result<Option<T>, StoreError> {
        self.tree.get(k)
    }

    fn list<T: DeserializeOwned>(&self, prefix: &[u8]) -> Result<Vec<T>, StoreError> {
        Ok(self
            .tree
            .list(prefix)?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    fn names_under(&self, prefix: &[u8]) -> Result<Vec<String>, StoreError> {
        self.tree.names(prefix)
    }

    /// Up to `limit` records of kind `root`, within `domain` when given,
    /// after the entry the cursor `after` names.
    fn page<T: DeserializeOwned>(
        &self,
        root: &[u8],
        domain: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<T>, StoreError> {
        let scope = match domain {
            Some(d) => under(root, &[d.as_bytes()]),
            None => root.to_vec(),
        };
        let after = after.map(|c| cursor_key(root, c));
        let mut rows = self
            .tree
            .page(&scope, after.as_deref(), limit.saturating_add(1))?;
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|(k, _)| cursor_of(root, k))
        } else {
            None
        };
        Ok(Page {
            items: rows.into_iter().map(|(_, v)| v).collect(),
            next,
        })
    }

    /// Moves with every directory event applied, and only then (see
    /// `ReadTree::applied`): what caches of directory data are keyed by.
    pub fn applied(&self) -> Result<u64, StoreError> {
        self.tree.applied()
    }

    pub fn domain(&self, domain: &str) -> Result<Option<DomainRecord>, StoreError> {
        self.get(&key(DOM, &[domain.as_bytes()]))
    }

    pub fn domains(&self) -> Result<Vec<DomainRecord>, StoreError> {
        self.list(DOM)
    }

    pub fn domains_page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<DomainRecord>, StoreError> {
        self.page(DOM, None, after, limit)
    }

    pub fn user(&self, domain: &str, login: &str) -> Result<Option<UserRecord>, StoreError> {
        self.get(&key(USR, &[domain.as_bytes(), login.as_bytes()]))
    }

    /// Finds the user a client names: `login@domain`, an email address, or
    /// a bare login when exactly one domain has it.
    pub fn find_user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        if let Some((login, domain)) = name.rsplit_once('@') {
            if let Some(user) = self.user(domain, login)? {
                return Ok(Some(user));
            }
            let holders = self.names_under(&under(EML, &[name.to_lowercase().as_bytes()]))?;
            if let [domain] = holders.as_slice() {
                return match self.email_holder(domain, name)? {
                    Some(login) => self.user(domain, &login),
                    None => Ok(None),
                };
            }
            return Ok(None);
        }
        match self
            .names_under(&under(LGN, &[name.as_bytes()]))?
            .as_slice()
        {
            [domain] => self.user(domain, name),
            _ => Ok(None),
        }
    }

    /// The login holding an email address in a domain (compared lowercase).
    pub fn email_holder(&self, domain: &str, email: &str) -> Result<Option<String>, StoreError> {
        let k = key(EML, &[email.to_lowercase().as_bytes(), domain.as_bytes()]);
        Ok(self
            .tree
            .raw(&k)?
            .map(|login| String::from_utf8_lossy(&login).into_owned()))
    }

    /// Users of one domain, or of all domains, by domain then login.
    pub fn users(&self, domain: Option<&str>) -> Result<Vec<UserRecord>, StoreError> {
        match domain {
            Some(d) => self.list(&under(USR, &[d.as_bytes()])),
            None => self.list(USR),
        }
    }

    /// A page of [`DirectoryView::users`].
    pub fn users_page(
        &self,
        domain: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<UserRecord>, StoreError> {
        self.page(USR, domain, after, limit)
    }

    pub fn group(&self, domain: &str, group: &str) -> Result<Option<GroupRecord>, StoreError> {
        self.get(&key(GRP, &[domain.as_bytes(), group.as_bytes()]))
    }

    pub fn groups(&self, domain: &str) -> Result<Vec<GroupRecord>, StoreError> {
        self.list(&under(GRP, &[domain.as_bytes()]))
    }

    /// Groups of one domain or of all, by domain then name.
    pub fn groups_page(
        &self,
        domain: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<GroupRecord>, StoreError> {
        self.page(GRP, domain, after, limit)
    }

    /// Direct members of a group.
    pub fn members(&self, domain: &str, group: &str) -> Result<Vec<Member>, StoreError> {
        let prefix = under(MEM, &[domain.as_bytes(), group.as_bytes()]);
        Ok(self
            .names_under(&prefix)?
            .iter()
            .filter_map(|rest| parse_member(rest.as_bytes()))
            .collect())
    }

    /// Groups `member` belongs to directly.
    pub fn groups_of(&self, domain: &str, member: &Member) -> Result<Vec<String>, StoreError> {
        let (kind, name) = member_parts(member);
        self.names_under(&under(MOF, &[domain.as_bytes(), kind, name.as_bytes()]))
    }

    /// Whether `target` is `group` or a group nested at any depth in it:
    /// adding `group` to `target` would then make a cycle.
    pub fn group_contains(
        &self,
        domain: &str,
        group: &str,
        target: &str,
    ) -> Result<bool, StoreError> {
        let mut stack = vec![group.to_string()];
        let mut seen = std::collections::BTreeSet::new();
        while let Some(g) = stack.pop() {
            if g == target {
                return Ok(true);
            }
            if !seen.insert(g.clone()) {
                continue;
            }
            for member in self.members(domain, &g)? {
                if let Member::Group(inner) = member {
                    stack.push(inner);
                }
            }
        }
        Ok(false)
    }

    pub fn resource(
        &self,
        domain: &str,
        resource: &str,
    ) -> Result<Option<ResourceRecord>, StoreError> {
        self.get(&key(RES, &[domain.as_bytes(), resource.as_bytes()]))
    }

    pub fn resources(&self, domain: &str) -> Result<Vec<ResourceRecord>, StoreError> {
        self.list(&under(RES, &[domain.as_bytes()]))
    }

    /// Resources of one domain or of all, by domain then name.
    pub fn resources_page(
        &self,
        domain: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<ResourceRecord>, StoreError> {
        self.page(RES, domain, after, limit)
    }
}
