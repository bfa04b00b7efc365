//! What happened: one struct per kind of event, gathered in [`Payload`].
//!
//! Calendar, contact and seen events are about the envelope's partition key
//! (the owning principal, `login@domain`); directory events are about the
//! envelope's domain. Collection and object names are the last segment of
//! the DAV path a client sees, so the views need no separate id mapping.

use crate::domain::Domain;
use crate::uidset::UidSet;
use serde::{Deserialize, Serialize};

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
    pub display_name: Option<Option<String>>,
    pub color: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub timezone: Option<Option<String>>,
    pub components: Option<Vec<String>>,
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
    pub ical: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarObjectDeleted {
    pub calendar: String,
    pub href: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressBookProps {
    pub display_name: Option<String>,
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressBookCreated {
    pub address_book: String,
    pub props: AddressBookProps,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressBookUpdated {
    pub address_book: String,
    pub display_name: Option<Option<String>>,
    pub description: Option<Option<String>>,
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
    pub vcard: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactDeleted {
    pub address_book: String,
    pub href: String,
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
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserUpdated {
    pub login: String,
    pub email: Option<String>,
    pub display_name: Option<Option<String>>,
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceDeleted {
    pub resource: String,
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
    AddressBookCreated(AddressBookCreated),
    AddressBookUpdated(AddressBookUpdated),
    AddressBookDeleted(AddressBookDeleted),
    ContactPut(ContactPut),
    ContactDeleted(ContactDeleted),
    DomainCreated(DomainCreated),
    UserCreated(UserCreated),
    UserUpdated(UserUpdated),
    UserDisabled(UserDisabled),
    UserDeleted(UserDeleted),
    GroupCreated(GroupCreated),
    GroupDeleted(GroupDeleted),
    MemberAdded(MemberAdded),
    MemberRemoved(MemberRemoved),
    ResourceCreated(ResourceCreated),
    ResourceDeleted(ResourceDeleted),
    SeenAdded(SeenAdded),
    SeenRemoved(SeenRemoved),
    MailboxSeenReset(MailboxSeenReset),
}

impl Payload {
    /// The topic this event belongs to.
    pub fn domain(&self) -> Domain {
        use Payload::*;
        match self {
            CalendarCreated(_)
            | CalendarUpdated(_)
            | CalendarDeleted(_)
            | CalendarObjectPut(_)
            | CalendarObjectDeleted(_) => Domain::Calendar,
            AddressBookCreated(_)
            | AddressBookUpdated(_)
            | AddressBookDeleted(_)
            | ContactPut(_)
            | ContactDeleted(_) => Domain::Contact,
            DomainCreated(_) | UserCreated(_) | UserUpdated(_) | UserDisabled(_)
            | UserDeleted(_) | GroupCreated(_) | GroupDeleted(_) | MemberAdded(_)
            | MemberRemoved(_) | ResourceCreated(_) | ResourceDeleted(_) => Domain::Directory,
            SeenAdded(_) | SeenRemoved(_) | MailboxSeenReset(_) => Domain::Seen,
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
            AddressBookCreated(_) => "AddressBookCreated",
            AddressBookUpdated(_) => "AddressBookUpdated",
            AddressBookDeleted(_) => "AddressBookDeleted",
            ContactPut(_) => "ContactPut",
            ContactDeleted(_) => "ContactDeleted",
            DomainCreated(_) => "DomainCreated",
            UserCreated(_) => "UserCreated",
            UserUpdated(_) => "UserUpdated",
            UserDisabled(_) => "UserDisabled",
            UserDeleted(_) => "UserDeleted",
            GroupCreated(_) => "GroupCreated",
            GroupDeleted(_) => "GroupDeleted",
            MemberAdded(_) => "MemberAdded",
            MemberRemoved(_) => "MemberRemoved",
            ResourceCreated(_) => "ResourceCreated",
            ResourceDeleted(_) => "ResourceDeleted",
            SeenAdded(_) => "SeenAdded",
            SeenRemoved(_) => "SeenRemoved",
            MailboxSeenReset(_) => "MailboxSeenReset",
        }
    }
}
