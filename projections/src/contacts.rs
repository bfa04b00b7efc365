//! Address books and vCards, per owner.

use crate::collections::{patch_dead, Collections, CollectionsView, NewObject};
use crate::outcome::Outcome;
use crate::projection::{Applied, ApplyError, Projection};
use crate::view::ViewTxn;
use events::payload::AddressBookProps;
use events::{Domain, Payload};

pub use crate::collections::{
    Change, CollectionRecord, Grant, ObjectMeta, ObjectRecord, SharedCollection,
};

pub type ContactsView = CollectionsView<AddressBookProps>;

pub struct Contacts;

impl Contacts {
    pub const NAME: &'static str = "contacts";
    pub const VERSION: u32 = 1;
}

impl Projection for Contacts {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn version(&self) -> u32 {
        Self::VERSION
    }

    fn domains(&self) -> &'static [Domain] {
        &[Domain::Contact]
    }

    // Every key is under the owner (see `collections.rs`), the partition key.
    fn partitions_independent(&self) -> bool {
        true
    }

    fn apply(&self, event: &Applied<'_>, view: &mut ViewTxn<'_>) -> Result<Outcome, ApplyError> {
        let mut c = Collections {
            event,
            view,
            noun: "address book",
            index: None,
        };
        let payload = &event.event.payload;
        let (writes, leaving): (Vec<&str>, _) = match payload {
            Payload::ContactPut(e) => (vec![&e.address_book], None),
            Payload::ContactDeleted(e) => (vec![&e.address_book], None),
            Payload::ContactMoved(e) => (vec![&e.address_book, &e.to_address_book], None),
            Payload::AddressBookUnshared(e) => (Vec::new(), Some(&e.sharee)),
            _ => (Vec::new(), None),
        };
        if let Some(rejection) = c.foreign_actor_refused(&writes, leaving)? {
            return rejection.into();
        }
        match payload {
            Payload::AddressBookCreated(e) => c.create(&e.address_book, e.props.clone()),
            Payload::AddressBookUpdated(e) => {
                c.update(&e.address_book, |p: &mut AddressBookProps| {
                    if let Some(v) = &e.display_name {
                        p.display_name = v.clone();
                    }
                    if let Some(v) = &e.description {
                        p.description = v.clone();
                    }
                    patch_dead(&mut p.dead, &e.dead);
                })
            }
            Payload::AddressBookDeleted(e) => c.delete::<AddressBookProps>(&e.address_book),
            // The owner was deleted: every collection goes, its events stay.
            Payload::PrincipalDataDeleted(_) => c.delete_all(),
            Payload::ContactPut(e) => {
                let card = formats::vcard::validate_card(&e.vcard)
                    .map_err(|err| ApplyError::Refused(format!("invalid vCard: {err}")))?;
                if card.uid.as_deref() != Some(e.uid.as_str()) {
                    return Err(ApplyError::Refused(format!(
                        "the event says UID {:?} but its vCard holds {:?}",
                        e.uid, card.uid
                    )));
                }
                c.put(
                    NewObject {
                        collection: &e.address_book,
                        href: &e.href,
                        uid: &e.uid,
                        component: None,
                        body: &e.vcard,
                    },
                    |_: &AddressBookProps, _| true,
                )
            }
            Payload::ContactDeleted(e) => c.remove::<AddressBookProps>(&e.address_book, &e.href),
            Payload::ContactMoved(e) => c.move_object(
                (&e.address_book, &e.href),
                (&e.to_address_book, &e.to_href),
                e.overwrite,
                |_: &AddressBookProps, _| true,
            ),
            Payload::AddressBookShared(e) => {
                c.share::<AddressBookProps>(&e.address_book, &e.sharee, e.sharee_since, e.access)
            }
            Payload::AddressBookUnshared(e) => {
                c.unshare::<AddressBookProps>(&e.address_book, &e.sharee)
            }
            other => Err(ApplyError::Refused(format!(
                "{} is not a contact event",
                other.event_type()
            ))),
        }
    }
}
