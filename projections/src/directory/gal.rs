//! The global address book of each domain: an address book in the
//! directory's own tree, in the key layout of `collections.rs` (owner =
//! the domain, collection [`COLLECTION`]), so the DAV layer serves it like
//! any other (sync tokens, ctag, multiget, queries). Only directory events
//! change it.
//!
//! Cards are vCard 4.0, a pure function of the directory, so every
//! instance and every rebuild writes the same bytes. After each applied
//! event the cards it may change are regenerated, and written only when
//! their text changed: a password change keeps every ETag and the ctag.
//!
//! - users (`KIND:individual`, `user-<login>.vcf`): FN (display name, else
//!   login), N (the display name's last word as family name, the words
//!   before it as given names), EMAIL, TEL (the phone), ORG (the domain's
//!   display name, else its name). Disabled users have no card.
//! - groups (`KIND:group`, `group-<name>.vcf`): FN, N, EMAIL, a `MEMBER`
//!   per direct member (users, disabled ones included, and nested
//!   groups), and Apple's `X-ADDRESSBOOKSERVER-KIND:group` and
//!   `X-ADDRESSBOOKSERVER-MEMBER` lines.
//! - resources (`resource-<name>.vcf`): rooms `KIND:location`, equipment
//!   `KIND:device` (RFC 6869), FN, EMAIL, the location as the street of a
//!   work `ADR`, the capacity as `X-REPRISE-CAPACITY`.
//!
//! UIDs are `urn:uuid:` names derived from the entry (see [`entry_uid`]):
//! the same across updates, another for a later entry of the same name.

use super::{member_parts, Apply, DomainRecord, GroupRecord, ResourceRecord, UserRecord, DOM};
use crate::collections::Collections;
use crate::outcome::Outcome;
use crate::projection::ApplyError;
use crate::store::StoreError;
use crate::view::keys::key;
use events::payload::{AddressBookProps, Member, ResourceKind};
use events::{AggregateVersion, Payload};
use formats::vcard::CardWriter;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The collection name of every domain's global address book.
pub const COLLECTION: &str = "directory";

const PRODID: &str = "-//reprise//directory//EN";

/// What a card stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryKind {
    User,
    Group,
    Resource,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::User => "user",
            EntryKind::Group => "group",
            EntryKind::Resource => "resource",
        }
    }
}

/// The href of an entry's card: `user-alice.vcf`, `group-staff.vcf`,
/// `resource-boardroom.vcf`.
pub fn href(kind: EntryKind, name: &str) -> String {
    format!("{}-{name}.vcf", kind.as_str())
}

/// The UID of an entry's card: `urn:uuid:` and the first 16 bytes of a
/// SHA-256 over kind, name, domain and the version of the entry's
/// creation, with the RFC 9562 version 8 and variant bits set.
///
/// A group's card names every member by UID and is regenerated with each
/// membership change, so the UIDs are remembered per thread (a pure
/// function's results, bounded).
pub fn entry_uid(kind: EntryKind, name: &str, domain: &str, created: AggregateVersion) -> String {
    use std::cell::RefCell;
    use std::collections::HashMap;
    type Key = (EntryKind, String, String, u64);
    const REMEMBERED: usize = 1 << 16;
    thread_local! {
        static UIDS: RefCell<HashMap<Key, String>> = RefCell::new(HashMap::new());
    }
    let key = (kind, name.to_string(), domain.to_string(), created.0);
    UIDS.with(|uids| {
        let mut uids = uids.borrow_mut();
        if let Some(uid) = uids.get(&key) {
            return uid.clone();
        }
        if uids.len() >= REMEMBERED {
            uids.clear();
        }
        let uid = compute_entry_uid(kind, name, domain, created);
        uids.insert(key, uid.clone());
        uid
    })
}

fn compute_entry_uid(
    kind: EntryKind,
    name: &str,
    domain: &str,
    created: AggregateVersion,
) -> String {
    let mut hasher = Sha256::new();
    for part in ["reprise directory entry", kind.as_str(), name, domain] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.update(created.0.to_be_bytes());
    let digest: [u8; 32] = hasher.finalize().into();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        hex::encode(&b[0..4]),
        hex::encode(&b[4..6]),
        hex::encode(&b[6..8]),
        hex::encode(&b[8..10]),
        hex::encode(&b[10..16])
    )
}

/// The properties the address book is created with.
pub fn address_book_props(domain: &DomainRecord) -> AddressBookProps {
    AddressBookProps {
        display_name: Some(format!("{} directory", organisation(domain))),
        description: Some(format!("Users, groups and resources of {}", domain.name)),
        dead: BTreeMap::new(),
    }
}

fn organisation(domain: &DomainRecord) -> &str {
    non_blank(domain.display_name.as_deref()).unwrap_or(&domain.name)
}

fn non_blank(text: Option<&str>) -> Option<&str> {
    text.filter(|t| !t.trim().is_empty())
}

/// (family, given): the last word and the words before it. A guess, but
/// N only helps clients sort; FN is what they show.
fn split_name(full: &str) -> (&str, &str) {
    let full = full.trim();
    match full.rsplit_once(char::is_whitespace) {
        Some((given, family)) => (family, given.trim_end()),
        None => (full, ""),
    }
}

const WORK: &[(&str, &str)] = &[("TYPE", "work")];

pub fn user_card(domain: &DomainRecord, user: &UserRecord) -> String {
    let full = non_blank(user.display_name.as_deref()).unwrap_or(&user.login);
    let (family, given) = split_name(full);
    let mut w = CardWriter::new();
    w.text("PRODID", PRODID)
        .raw(
            "UID",
            &entry_uid(EntryKind::User, &user.login, &user.domain, user.created),
        )
        .raw("KIND", "individual")
        .text("FN", full)
        .structured("N", &[], &[family, given, "", "", ""])
        .text_with("EMAIL", WORK, &user.email);
    if let Some(phone) = non_blank(user.phone.as_deref()) {
        w.text_with("TEL", WORK, phone);
    }
    w.structured("ORG", &[], &[organisation(domain)]);
    w.finish()
}

/// A group's card; `members` are the UIDs of its direct members.
pub fn group_card(group: &GroupRecord, members: &[String]) -> String {
    let full = non_blank(group.display_name.as_deref()).unwrap_or(&group.name);
    let mut w = CardWriter::new();
    w.text("PRODID", PRODID)
        .raw(
            "UID",
            &entry_uid(EntryKind::Group, &group.name, &group.domain, group.created),
        )
        .raw("KIND", "group")
        .text("FN", full)
        .structured("N", &[], &[full.trim(), "", "", "", ""]);
    if let Some(email) = non_blank(group.email.as_deref()) {
        w.text_with("EMAIL", WORK, email);
    }
    for uid in members {
        w.raw("MEMBER", uid);
    }
    w.raw("X-ADDRESSBOOKSERVER-KIND", "group");
    for uid in members {
        w.raw("X-ADDRESSBOOKSERVER-MEMBER", uid);
    }
    w.finish()
}

pub fn resource_card(resource: &ResourceRecord) -> String {
    let full = non_blank(resource.display_name.as_deref()).unwrap_or(&resource.name);
    let kind = match resource.kind {
        ResourceKind::Room => "location",
        ResourceKind::Equipment => "device",
    };
    let mut w = CardWriter::new();
    w.text("PRODID", PRODID)
        .raw(
            "UID",
            &entry_uid(
                EntryKind::Resource,
                &resource.name,
                &resource.domain,
                resource.created,
            ),
        )
        .raw("KIND", kind)
        .text("FN", full);
    if let Some(email) = non_blank(resource.email.as_deref()) {
        w.text_with("EMAIL", WORK, email);
    }
    if let Some(location) = non_blank(resource.location.as_deref()) {
        w.structured("ADR", WORK, &["", "", location, "", "", "", ""]);
    }
    if let Some(capacity) = resource.capacity {
        w.raw("X-REPRISE-CAPACITY", &capacity.to_string());
    }
    w.finish()
}

/// A card an event may change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Touched(EntryKind, String);

impl<'e, 't> Apply<'e, '_, 't> {
    fn collections(&mut self) -> Collections<'e, '_, 't> {
        Collections {
            event: self.event,
            view: &mut *self.view,
            noun: "address book",
            index: None,
        }
    }

    /// Creates the domain's address book, empty (a new domain has no
    /// entries).
    pub(super) fn create_address_book(
        &mut self,
        domain: &DomainRecord,
    ) -> Result<Outcome, ApplyError> {
        let props = address_book_props(domain);
        self.collections().create(COLLECTION, props)
    }

    /// The cards the event may change, read before it applies (a deleted
    /// member's groups are gone after).
    pub(super) fn touched_cards(&self) -> Result<Vec<Touched>, StoreError> {
        use EntryKind::{Group, Resource, User};
        let with_groups = |kind: EntryKind, member: Member| -> Result<Vec<Touched>, StoreError> {
            let name = member_parts(&member).1.to_string();
            let mut out: Vec<Touched> = self
                .groups_of(&member)?
                .into_iter()
                .map(|g| Touched(Group, g))
                .collect();
            out.push(Touched(kind, name));
            Ok(out)
        };
        Ok(match &self.event.event.payload {
            Payload::UserCreated(e) => vec![Touched(User, e.login.clone())],
            Payload::UserUpdated(e) => vec![Touched(User, e.login.clone())],
            Payload::UserDisabled(e) => vec![Touched(User, e.login.clone())],
            Payload::UserDeleted(e) => with_groups(User, Member::User(e.login.clone()))?,
            Payload::GroupCreated(e) => vec![Touched(Group, e.group.clone())],
            Payload::GroupUpdated(e) => vec![Touched(Group, e.group.clone())],
            Payload::MemberAdded(e) => vec![Touched(Group, e.group.clone())],
            Payload::MemberRemoved(e) => vec![Touched(Group, e.group.clone())],
            Payload::GroupDeleted(e) => with_groups(Group, Member::Group(e.group.clone()))?,
            Payload::ResourceCreated(e) => vec![Touched(Resource, e.resource.clone())],
            Payload::ResourceUpdated(e) => vec![Touched(Resource, e.resource.clone())],
            Payload::ResourceDeleted(e) => vec![Touched(Resource, e.resource.clone())],
            _ => Vec::new(),
        })
    }

    /// Writes each touched card as the directory now has it, or removes it
    /// when its entry is gone (or a disabled user).
    pub(super) fn refresh_cards(&mut self, touched: &[Touched]) -> Result<(), StoreError> {
        let Some(domain) = self.view.get_as::<DomainRecord>(&key(DOM, &[self.d()]))? else {
            return Ok(());
        };
        for Touched(kind, name) in touched {
            let card = match kind {
                EntryKind::User => self
                    .user(name)?
                    .filter(|u| u.enabled)
                    .map(|u| (self.uid_of(*kind, name, u.created), user_card(&domain, &u))),
                EntryKind::Group => match self.group(name)? {
                    Some(g) => {
                        let members = self.member_uids(name)?;
                        Some((
                            self.uid_of(*kind, name, g.created),
                            group_card(&g, &members),
                        ))
                    }
                    None => None,
                },
                EntryKind::Resource => self
                    .resource(name)?
                    .map(|r| (self.uid_of(*kind, name, r.created), resource_card(&r))),
            };
            let href = href(*kind, name);
            let mut c = self.collections();
            match card {
                Some((uid, body)) => {
                    c.put_derived::<AddressBookProps>(COLLECTION, &href, &uid, None, &body)?
                }
                None => c.remove_derived::<AddressBookProps>(COLLECTION, &href)?,
            }
        }
        Ok(())
    }

    fn uid_of(&self, kind: EntryKind, name: &str, created: AggregateVersion) -> String {
        entry_uid(kind, name, self.domain, created)
    }

    /// The UIDs of a group's direct members, in key order. A group's card
    /// is regenerated on every change of its membership (a group of a
    /// thousand people changes often), so this is one scan of the
    /// memberships, which hold when each member was created.
    fn member_uids(&self, group: &str) -> Result<Vec<String>, StoreError> {
        let inside = crate::view::keys::under(super::MEM, &[self.d(), group.as_bytes()]);
        let mut uids = Vec::new();
        for (k, created) in self.view.entries_with_prefix(&inside)? {
            let created = <[u8; 8]>::try_from(created.as_slice())
                .map(|b| AggregateVersion(u64::from_be_bytes(b)))
                .map_err(|_| StoreError::Corrupt {
                    projection: super::Directory::NAME.into(),
                    key: String::from_utf8_lossy(&k).into_owned(),
                    reason: "a membership without its member's creation version".into(),
                })?;
            let uid = match super::parse_member(&k[inside.len()..]) {
                Some(Member::User(login)) => self.uid_of(EntryKind::User, &login, created),
                Some(Member::Group(name)) => self.uid_of(EntryKind::Group, &name, created),
                None => continue,
            };
            uids.push(uid);
        }
        Ok(uids)
    }

    /// When the user or group `name` (records under `prefix`) was created.
    pub(super) fn created(
        &self,
        prefix: &[u8],
        name: &str,
    ) -> Result<Option<AggregateVersion>, StoreError> {
        /// The one field read of a user's or a group's record; the others
        /// are skipped without being decoded into values.
        #[derive(serde::Deserialize)]
        struct Created {
            created: AggregateVersion,
        }
        Ok(self
            .view
            .get_as::<Created>(&key(prefix, &[self.d(), name.as_bytes()]))?
            .map(|c| c.created))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use formats::vcard::{properties, split_cards, validate_card};

    fn domain(display: Option<&str>) -> DomainRecord {
        DomainRecord {
            name: "example.com".into(),
            display_name: display.map(str::to_string),
            version: AggregateVersion(1),
        }
    }

    fn alice() -> UserRecord {
        UserRecord {
            login: "alice".into(),
            domain: "example.com".into(),
            email: "alice@example.com".into(),
            display_name: Some("Alice Pleasance Liddell".into()),
            phone: Some("+44 1865 000000".into()),
            password_hash: "$argon2id$x".into(),
            admin: false,
            enabled: true,
            version: AggregateVersion(9),
            created: AggregateVersion(2),
        }
    }

    /// `NAME:value` lines, unfolded, params dropped; BEGIN/END/VERSION kept.
    fn lines(card: &str) -> Vec<String> {
        properties(card)
            .unwrap()
            .into_iter()
            .map(|p| format!("{}:{}", p.name, p.value))
            .collect()
    }

    fn valid(card: &str) {
        validate_card(card).unwrap();
        // The second opinion (vcard_parser) on 4.0 cards.
        assert_eq!(split_cards(card).unwrap().len(), 1, "{card}");
    }

    #[test]
    fn uids_are_version_8_and_tell_entries_apart() {
        let uid = entry_uid(EntryKind::User, "alice", "example.com", AggregateVersion(2));
        assert_eq!(
            uid,
            entry_uid(EntryKind::User, "alice", "example.com", AggregateVersion(2))
        );
        let bare = uid.strip_prefix("urn:uuid:").unwrap();
        assert_eq!(bare.len(), 36);
        assert_eq!(&bare[14..15], "8", "{uid}");
        assert!("89ab".contains(&bare[19..20]), "{uid}");
        for other in [
            entry_uid(
                EntryKind::Group,
                "alice",
                "example.com",
                AggregateVersion(2),
            ),
            entry_uid(EntryKind::User, "alice", "example.org", AggregateVersion(2)),
            entry_uid(EntryKind::User, "alice", "example.com", AggregateVersion(3)),
            entry_uid(EntryKind::User, "alic", "eexample.com", AggregateVersion(2)),
        ] {
            assert_ne!(uid, other);
        }
    }

    #[test]
    fn a_user_card_has_names_mail_phone_and_organisation() {
        let card = user_card(&domain(Some("Example; Inc")), &alice());
        valid(&card);
        let uid = entry_uid(EntryKind::User, "alice", "example.com", AggregateVersion(2));
        assert_eq!(
            lines(&card),
            [
                "BEGIN:VCARD",
                "VERSION:4.0",
                "PRODID:-//reprise//directory//EN",
                &format!("UID:{uid}"),
                "KIND:individual",
                "FN:Alice Pleasance Liddell",
                "N:Liddell;Alice Pleasance;;;",
                "EMAIL:alice@example.com",
                "TEL:+44 1865 000000",
                "ORG:Example\\; Inc",
                "END:VCARD",
            ]
        );
        // No display name, no phone: the login, and the domain as ORG.
        let bare = UserRecord {
            display_name: None,
            phone: None,
            ..alice()
        };
        let card = user_card(&domain(None), &bare);
        valid(&card);
        let l = lines(&card);
        assert!(l.contains(&"FN:alice".to_string()), "{l:?}");
        assert!(l.contains(&"N:alice;;;;".to_string()), "{l:?}");
        assert!(l.contains(&"ORG:example.com".to_string()), "{l:?}");
        assert!(!l.iter().any(|p| p.starts_with("TEL")), "{l:?}");
    }

    #[test]
    fn a_group_card_lists_its_members_for_rfc_6350_and_apple() {
        let group = GroupRecord {
            name: "staff".into(),
            domain: "example.com".into(),
            display_name: Some("All staff, Paris".into()),
            email: Some("staff@example.com".into()),
            version: AggregateVersion(7),
            created: AggregateVersion(5),
        };
        let members = vec![
            entry_uid(
                EntryKind::Group,
                "paris",
                "example.com",
                AggregateVersion(6),
            ),
            entry_uid(EntryKind::User, "alice", "example.com", AggregateVersion(2)),
        ];
        let card = group_card(&group, &members);
        valid(&card);
        let l = lines(&card);
        assert!(l.contains(&"KIND:group".to_string()));
        assert!(l.contains(&"FN:All staff\\, Paris".to_string()), "{l:?}");
        assert!(l.contains(&"EMAIL:staff@example.com".to_string()));
        assert!(l.contains(&"X-ADDRESSBOOKSERVER-KIND:group".to_string()));
        for uid in &members {
            assert!(l.contains(&format!("MEMBER:{uid}")));
            assert!(l.contains(&format!("X-ADDRESSBOOKSERVER-MEMBER:{uid}")));
        }
        // An empty group is a valid card too.
        valid(&group_card(&group, &[]));
    }

    #[test]
    fn rooms_are_locations_and_equipment_devices() {
        let room = ResourceRecord {
            name: "salle-lumiere".into(),
            domain: "example.com".into(),
            kind: ResourceKind::Room,
            display_name: Some("Salle Lumière".into()),
            email: Some("lumiere@example.com".into()),
            capacity: Some(12),
            location: Some("3e étage; aile B".into()),
            version: AggregateVersion(4),
            created: AggregateVersion(4),
        };
        let card = resource_card(&room);
        valid(&card);
        let l = lines(&card);
        for expected in [
            "KIND:location",
            "FN:Salle Lumière",
            "EMAIL:lumiere@example.com",
            "ADR:;;3e étage\\; aile B;;;;",
            "X-REPRISE-CAPACITY:12",
        ] {
            assert!(l.contains(&expected.to_string()), "{expected}: {l:?}");
        }
        let beamer = ResourceRecord {
            name: "beamer-1".into(),
            kind: ResourceKind::Equipment,
            display_name: None,
            email: None,
            capacity: None,
            location: None,
            ..room
        };
        let card = resource_card(&beamer);
        valid(&card);
        let l = lines(&card);
        assert!(l.contains(&"KIND:device".to_string()));
        assert!(l.contains(&"FN:beamer-1".to_string()));
        assert!(!l
            .iter()
            .any(|p| p.starts_with("ADR") || p.starts_with("X-REPRISE")));
    }
}
