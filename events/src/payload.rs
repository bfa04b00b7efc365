//! What happened: one struct per kind of event, gathered in [`Payload`].
//!
//! Calendar, contact and seen events are about the envelope's partition key
//! (the owning principal, `login@domain`); directory events are about the
//! envelope's domain. Collection and object names are the last segment of
//! the DAV path a client sees, so the views need no separate id mapping.

use crate::domain::Domain;
use crate::envelope::AggregateVersion;
use crate::object::{fetch_text, ObjectRef, PayloadSource, ResolveError};
pub use crate::scheduling::{
    Cause, ImipQueued, ImipSent, SchedulingCompleted, SchedulingDelivered, SchedulingRole,
};
use crate::uidset::UidSet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// WebDAV dead properties: Clark name (`{namespace}local`) → the whole
/// property element as self-contained XML (namespaces declared inside), so
/// a client gets back exactly what it stored.
pub type DeadProperties = BTreeMap<String, String>;

/// A change of dead properties: `Some` sets, `None` removes.
pub type DeadPropertiesPatch = BTreeMap<String, Option<String>>;

/// `Option<Option<T>>` fields of update events (and of the admin API's
/// PATCH bodies): absent leaves a property as it was, `null` removes it, a
/// value sets it. Plain serde would read `null` back as absent and lose
/// the removal.
pub mod change {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, T: Serialize>(
        value: &Option<Option<T>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}

/// Properties of a calendar collection, as set by MKCALENDAR or PROPPATCH.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarProps {
    pub display_name: Option<String>,
    /// `#RRGGBB` or `#RRGGBBAA`, as Apple and Thunderbird write it.
    pub color: Option<String>,
    pub description: Option<String>,
    /// A VTIMEZONE (iCalendar text) or an IANA zone name.
    pub timezone: Option<String>,
    /// VEVENT, VTODO, VJOURNAL; empty means all three.
    pub components: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dead: DeadProperties,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarCreated {
    pub calendar: String,
    pub props: CalendarProps,
}

/// A change of some properties; `None` leaves a property as it was and
/// `Some(None)` removes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarUpdated {
    pub calendar: String,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "change")]
    pub display_name: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "change")]
    pub color: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "change")]
    pub description: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "change")]
    pub timezone: Option<Option<String>>,
    pub components: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dead: DeadPropertiesPatch,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarDeleted {
    pub calendar: String,
}

/// A calendar object resource written by PUT (or import): one VCALENDAR
/// holding the components of one UID and the VTIMEZONEs they use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarObjectPut {
    pub calendar: String,
    pub href: String,
    pub uid: String,
    /// The text; empty in the log when it is in the object store (larger
    /// than `--inline-limit`), until a reader resolves it
    /// ([`Payload::resolve`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ical: String,
    /// Where the text is when it is not in the event. A build that
    /// predates the object store finds no `ical` and refuses the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ical_object: Option<ObjectRef>,
    /// Set when the object is a scheduling object the server schedules
    /// for (RFC 6638): who the writer is in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling: Option<SchedulingRole>,
}

/// A managed attachment (RFC 8607) added to, replaced on or removed from
/// a calendar object: the object's new text, which carries (or no longer
/// carries) the attachment's `ATTACH;MANAGED-ID` property, and the
/// attachment, in one event so that both change together. The bytes are
/// in the object store, stored before this event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarAttachmentChanged {
    pub calendar: String,
    pub href: String,
    pub uid: String,
    pub ical: String,
    /// An added attachment, or the new version of an updated one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added: Option<ManagedAttachment>,
    /// The managed ID an update replaced or a removal took away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed: Option<String>,
}

/// One managed attachment: its ID in the object's text, its bytes in the
/// object store, and what describes them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedAttachment {
    pub managed_id: String,
    pub object: ObjectRef,
    pub filename: String,
    pub content_type: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarObjectDeleted {
    pub calendar: String,
    pub href: String,
    /// As for [`CalendarObjectPut::scheduling`]: an organizer's delete
    /// cancels, an attendee's declines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling: Option<SchedulingRole>,
}

/// A calendar object resource moved (WebDAV MOVE) to another href, in the
/// same or another calendar of the same owner: one event, so the move is
/// atomic. `overwrite` allows replacing a resource at the destination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarObjectMoved {
    pub calendar: String,
    pub href: String,
    pub to_calendar: String,
    pub to_href: String,
    pub overwrite: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressBookProps {
    pub display_name: Option<String>,
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dead: DeadProperties,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressBookCreated {
    pub address_book: String,
    pub props: AddressBookProps,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressBookUpdated {
    pub address_book: String,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "change")]
    pub display_name: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "change")]
    pub description: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dead: DeadPropertiesPatch,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressBookDeleted {
    pub address_book: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactPut {
    pub address_book: String,
    pub href: String,
    pub uid: String,
    /// The text; empty in the log when it is in the object store, as for
    /// [`CalendarObjectPut::ical`].
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub vcard: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcard_object: Option<ObjectRef>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactDeleted {
    pub address_book: String,
    pub href: String,
}

/// A contact moved to another href of the same owner (see
/// [`CalendarObjectMoved`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactMoved {
    pub address_book: String,
    pub href: String,
    pub to_address_book: String,
    pub to_href: String,
    pub overwrite: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainCreated {
    pub domain: String,
    pub display_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserCreated {
    /// Unique within the domain; the principal is `login@domain`.
    pub login: String,
    pub email: String,
    pub display_name: Option<String>,
    /// A PHC string (`$argon2id$...`); never the password itself.
    pub password_hash: String,
    pub admin: bool,
    /// A telephone number for the directory (the global address book).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserUpdated {
    pub login: String,
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "change")]
    pub display_name: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "change")]
    pub phone: Option<Option<String>>,
    pub password_hash: Option<String>,
    pub admin: Option<bool>,
    /// `Some(true)` re-enables a disabled user.
    pub enabled: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserDisabled {
    pub login: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserDeleted {
    pub login: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupCreated {
    pub group: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupUpdated {
    pub group: String,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "change")]
    pub display_name: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "change")]
    pub email: Option<Option<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDeleted {
    pub group: String,
}

/// A member of a group: a user (by login) or another group (nesting).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Member {
    User(String),
    Group(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberAdded {
    pub group: String,
    pub member: Member,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRemoved {
    pub group: String,
    pub member: Member,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceKind {
    Room,
    Equipment,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceCreated {
    pub resource: String,
    pub kind: ResourceKind,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub capacity: Option<u32>,
    pub location: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceUpdated {
    pub resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "change")]
    pub display_name: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "change")]
    pub email: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "change")]
    pub capacity: Option<Option<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "change")]
    pub location: Option<Option<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceDeleted {
    pub resource: String,
}

/// Who a collection is shared with. Both name a directory entry of the
/// owner's domain: `login@domain` for a user, `group@domain` for a group.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sharee {
    User(String),
    Group(String),
}

/// What a sharee may do with a shared collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    Read,
    ReadWrite,
}

/// A grant on one of the partition key's calendars (or address books, in
/// [`AddressBookShared`]): a new grant, or a new access level for an
/// existing one.
///
/// `sharee_since` is the directory version at which the sharee was
/// created. The grant belongs to that user or group only: a later one of
/// the same name (after a deletion) is someone else and gets nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarShared {
    pub calendar: String,
    pub sharee: Sharee,
    pub sharee_since: AggregateVersion,
    pub access: Access,
}

/// A grant withdrawn, by the owner or by the sharee leaving the share.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarUnshared {
    pub calendar: String,
    pub sharee: Sharee,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressBookShared {
    pub address_book: String,
    pub sharee: Sharee,
    pub sharee_since: AggregateVersion,
    pub access: Access,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressBookUnshared {
    pub address_book: String,
    pub sharee: Sharee,
}

/// Everything the partition key's principal owns in one topic is gone:
/// appended to each data topic when a user is deleted, so each view drops
/// that user's data in the order of its own partition. The events before
/// it stay in the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalDataDeleted {
    /// The topic this event is in (calendar, contact, seen or files).
    pub domain: Domain,
}

/// Messages marked seen in one mailbox of the partition key's user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenAdded {
    /// UTF-8 mailbox name; may contain `/`.
    pub mailbox: String,
    pub uids: UidSet,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenRemoved {
    pub mailbox: String,
    pub uids: UidSet,
}

/// Forget every seen flag of a mailbox (e.g. its UIDVALIDITY changed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxSeenReset {
    pub mailbox: String,
}

/// One write of the seen-flag API: UIDs marked seen and UIDs marked unseen
/// in one mailbox of the partition key's user, in one event so the change
/// gets one modification sequence. The two sets are disjoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenChanged {
    /// UTF-8 mailbox name; may contain `/`.
    pub mailbox: String,
    pub seen: UidSet,
    pub unseen: UidSet,
}

/// A folder in a principal's file area (a plain WebDAV collection).
/// Paths are relative to the area's root: segments joined by `/`, no
/// leading or trailing slash. The parent must exist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderCreated {
    pub path: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dead: DeadProperties,
}

/// A file written by PUT: created, or replaced keeping its dead properties.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "FilePutWire", into = "FilePutWire")]
pub struct FilePut {
    pub path: String,
    pub content_type: String,
    pub content: FileContent,
}

/// Where a file's bytes are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileContent {
    /// In the event itself: how every file was written before the object
    /// store, and so what old logs hold. Still read, never written.
    Inline(Vec<u8>),
    /// In the object store, written (and checked) before the event.
    Stored(ObjectRef),
}

impl FileContent {
    pub fn size(&self) -> u64 {
        match self {
            FileContent::Inline(body) => body.len() as u64,
            FileContent::Stored(object) => object.size,
        }
    }
}

/// `FilePut` as CBOR: an inline file keeps the shape it always had
/// (`body`), a stored one has `object` and no `body`, so that a build that
/// predates the object store refuses it as undecodable rather than serving
/// an empty file.
#[derive(Serialize, Deserialize)]
struct FilePutWire {
    path: String,
    content_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "serde_bytes")]
    body: Option<Vec<u8>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    object: Option<ObjectRef>,
}

impl TryFrom<FilePutWire> for FilePut {
    type Error = String;

    fn try_from(w: FilePutWire) -> Result<FilePut, String> {
        let content = match (w.body, w.object) {
            (Some(body), None) => FileContent::Inline(body),
            (None, Some(object)) => FileContent::Stored(object),
            (Some(_), Some(_)) => return Err("a FilePut has both a body and an object".into()),
            (None, None) => return Err("a FilePut has neither a body nor an object".into()),
        };
        Ok(FilePut {
            path: w.path,
            content_type: w.content_type,
            content,
        })
    }
}

impl From<FilePut> for FilePutWire {
    fn from(e: FilePut) -> FilePutWire {
        let (body, object) = match e.content {
            FileContent::Inline(body) => (Some(body), None),
            FileContent::Stored(object) => (None, Some(object)),
        };
        FilePutWire {
            path: e.path,
            content_type: e.content_type,
            body,
            object,
        }
    }
}

/// A file, or a folder with everything under it, deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDeleted {
    pub path: String,
}

/// WebDAV COPY in the file area: `recursive` is `Depth: infinity` (a
/// folder's members come along), `overwrite` lets it replace what is at
/// `to` (which is removed first, as RFC 4918 asks).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesCopied {
    pub from: String,
    pub to: String,
    pub recursive: bool,
    pub overwrite: bool,
}

/// WebDAV MOVE in the file area, always with everything under `from`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesMoved {
    pub from: String,
    pub to: String,
    pub overwrite: bool,
}

/// PROPPATCH of dead properties on a file or folder; all or nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePropertiesPatched {
    pub path: String,
    pub dead: DeadPropertiesPatch,
}

/// A cutover between installations sharing one log, appended to every
/// partition of every topic. From it on, in its partition, events written
/// under an older leader epoch are rejected by every projection, so an
/// installation that lost the lead can never write again; `leader` names
/// the installation that writes from here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderFenced {
    /// The topic this copy of the fence is in (a fence belongs to all).
    pub topic: Domain,
    pub epoch: u64,
    pub leader: String,
}

/// Every kind of event. The variant name is the event type written in the
/// envelope and in the record's `reprise-event-type` header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum Payload {
    CalendarCreated(CalendarCreated),
    CalendarUpdated(CalendarUpdated),
    CalendarDeleted(CalendarDeleted),
    CalendarObjectPut(CalendarObjectPut),
    CalendarObjectDeleted(CalendarObjectDeleted),
    CalendarObjectMoved(CalendarObjectMoved),
    CalendarAttachmentChanged(CalendarAttachmentChanged),
    CalendarShared(CalendarShared),
    CalendarUnshared(CalendarUnshared),
    SchedulingDelivered(SchedulingDelivered),
    SchedulingCompleted(SchedulingCompleted),
    ImipQueued(ImipQueued),
    ImipSent(ImipSent),
    AddressBookCreated(AddressBookCreated),
    AddressBookUpdated(AddressBookUpdated),
    AddressBookDeleted(AddressBookDeleted),
    ContactPut(ContactPut),
    ContactDeleted(ContactDeleted),
    ContactMoved(ContactMoved),
    AddressBookShared(AddressBookShared),
    AddressBookUnshared(AddressBookUnshared),
    PrincipalDataDeleted(PrincipalDataDeleted),
    DomainCreated(DomainCreated),
    UserCreated(UserCreated),
    UserUpdated(UserUpdated),
    UserDisabled(UserDisabled),
    UserDeleted(UserDeleted),
    GroupCreated(GroupCreated),
    GroupUpdated(GroupUpdated),
    GroupDeleted(GroupDeleted),
    MemberAdded(MemberAdded),
    MemberRemoved(MemberRemoved),
    ResourceCreated(ResourceCreated),
    ResourceUpdated(ResourceUpdated),
    ResourceDeleted(ResourceDeleted),
    SeenAdded(SeenAdded),
    SeenRemoved(SeenRemoved),
    MailboxSeenReset(MailboxSeenReset),
    SeenChanged(SeenChanged),
    FolderCreated(FolderCreated),
    FilePut(FilePut),
    FileDeleted(FileDeleted),
    FilesCopied(FilesCopied),
    FilesMoved(FilesMoved),
    FilePropertiesPatched(FilePropertiesPatched),
    LeaderFenced(LeaderFenced),
}

/// The topics whose events may name objects of the object store: what
/// `objects verify` and `objects gc` read (and of them only the records
/// with the `reprise-objects` header, see `codec`).
pub const DOMAINS_WITH_OBJECTS: &[Domain] = &[Domain::Files, Domain::Calendar, Domain::Contact];

impl Payload {
    /// The objects of the object store this event names.
    pub fn objects(&self) -> Vec<ObjectRef> {
        match self {
            Payload::FilePut(FilePut {
                content: FileContent::Stored(object),
                ..
            }) => vec![*object],
            Payload::CalendarAttachmentChanged(CalendarAttachmentChanged {
                added: Some(added),
                ..
            }) => vec![added.object],
            Payload::CalendarObjectPut(CalendarObjectPut {
                ical_object: Some(object),
                ..
            })
            | Payload::ContactPut(ContactPut {
                vcard_object: Some(object),
                ..
            }) => vec![*object],
            _ => Vec::new(),
        }
    }

    /// Puts back into the event the body it keeps in the object store, so
    /// that a projection applies it as if it had been inline. Nothing to do
    /// for any other event.
    pub fn resolve(&mut self, source: Option<&dyn PayloadSource>) -> Result<(), ResolveError> {
        match self {
            Payload::CalendarObjectPut(CalendarObjectPut {
                ical,
                ical_object: Some(object),
                ..
            }) if ical.is_empty() => *ical = fetch_text(source, object)?,
            Payload::ContactPut(ContactPut {
                vcard,
                vcard_object: Some(object),
                ..
            }) if vcard.is_empty() => *vcard = fetch_text(source, object)?,
            _ => {}
        }
        Ok(())
    }

    /// The topic this event belongs to.
    pub fn domain(&self) -> Domain {
        use Payload::*;
        match self {
            CalendarCreated(_)
            | CalendarUpdated(_)
            | CalendarDeleted(_)
            | CalendarObjectPut(_)
            | CalendarObjectDeleted(_)
            | CalendarObjectMoved(_)
            | CalendarAttachmentChanged(_)
            | CalendarShared(_)
            | CalendarUnshared(_)
            | SchedulingDelivered(_)
            | SchedulingCompleted(_)
            | ImipQueued(_)
            | ImipSent(_) => Domain::Calendar,
            AddressBookCreated(_)
            | AddressBookUpdated(_)
            | AddressBookDeleted(_)
            | ContactPut(_)
            | ContactDeleted(_)
            | ContactMoved(_)
            | AddressBookShared(_)
            | AddressBookUnshared(_) => Domain::Contact,
            PrincipalDataDeleted(e) => e.domain,
            DomainCreated(_) | UserCreated(_) | UserUpdated(_) | UserDisabled(_)
            | UserDeleted(_) | GroupCreated(_) | GroupUpdated(_) | GroupDeleted(_)
            | MemberAdded(_) | MemberRemoved(_) | ResourceCreated(_) | ResourceUpdated(_)
            | ResourceDeleted(_) => Domain::Directory,
            SeenAdded(_) | SeenRemoved(_) | MailboxSeenReset(_) | SeenChanged(_) => Domain::Seen,
            FolderCreated(_)
            | FilePut(_)
            | FileDeleted(_)
            | FilesCopied(_)
            | FilesMoved(_)
            | FilePropertiesPatched(_) => Domain::Files,
            LeaderFenced(e) => e.topic,
        }
    }

    /// The event type: the variant name, e.g. `CalendarObjectPut`.
    pub fn event_type(&self) -> &'static str {
        use Payload::*;
        match self {
            CalendarCreated(_) => "CalendarCreated",
            CalendarUpdated(_) => "CalendarUpdated",
            CalendarDeleted(_) => "CalendarDeleted",
            CalendarObjectPut(_) => "CalendarObjectPut",
            CalendarObjectDeleted(_) => "CalendarObjectDeleted",
            CalendarObjectMoved(_) => "CalendarObjectMoved",
            CalendarAttachmentChanged(_) => "CalendarAttachmentChanged",
            CalendarShared(_) => "CalendarShared",
            CalendarUnshared(_) => "CalendarUnshared",
            SchedulingDelivered(_) => "SchedulingDelivered",
            SchedulingCompleted(_) => "SchedulingCompleted",
            ImipQueued(_) => "ImipQueued",
            ImipSent(_) => "ImipSent",
            AddressBookCreated(_) => "AddressBookCreated",
            AddressBookUpdated(_) => "AddressBookUpdated",
            AddressBookDeleted(_) => "AddressBookDeleted",
            ContactPut(_) => "ContactPut",
            ContactDeleted(_) => "ContactDeleted",
            ContactMoved(_) => "ContactMoved",
            AddressBookShared(_) => "AddressBookShared",
            AddressBookUnshared(_) => "AddressBookUnshared",
            PrincipalDataDeleted(_) => "PrincipalDataDeleted",
            DomainCreated(_) => "DomainCreated",
            UserCreated(_) => "UserCreated",
            UserUpdated(_) => "UserUpdated",
            UserDisabled(_) => "UserDisabled",
            UserDeleted(_) => "UserDeleted",
            GroupCreated(_) => "GroupCreated",
            GroupUpdated(_) => "GroupUpdated",
            GroupDeleted(_) => "GroupDeleted",
            MemberAdded(_) => "MemberAdded",
            MemberRemoved(_) => "MemberRemoved",
            ResourceCreated(_) => "ResourceCreated",
            ResourceUpdated(_) => "ResourceUpdated",
            ResourceDeleted(_) => "ResourceDeleted",
            SeenAdded(_) => "SeenAdded",
            SeenRemoved(_) => "SeenRemoved",
            MailboxSeenReset(_) => "MailboxSeenReset",
            SeenChanged(_) => "SeenChanged",
            FolderCreated(_) => "FolderCreated",
            FilePut(_) => "FilePut",
            FileDeleted(_) => "FileDeleted",
            FilesCopied(_) => "FilesCopied",
            FilesMoved(_) => "FilesMoved",
            FilePropertiesPatched(_) => "FilePropertiesPatched",
            LeaderFenced(_) => "LeaderFenced",
        }
    }
}
