//! Managed attachments (RFC 8607) of calendar objects, in the calendars
//! view: `att\0owner\0managed-id` → [`AttachmentRecord`], under the owner
//! like every key of the view. A record says where the object that
//! carries the attachment is; the object's text, which holds the
//! `ATTACH;MANAGED-ID` property, is the authority on whether it still
//! does (a client PUT may drop it), so readers check both.

use crate::store::StoreError;
use crate::view::keys::{key, under};
use crate::view::{ReadTree, ViewTxn};
use events::payload::ManagedAttachment;
use events::ObjectRef;
use formats::ical::attach::managed_ids;
use serde::{Deserialize, Serialize};

const ATT: &[u8] = b"att\0";

/// One managed attachment, and the object that carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRecord {
    pub object: ObjectRef,
    pub filename: String,
    pub content_type: String,
    pub calendar: String,
    pub href: String,
}

fn att_key(owner: &str, managed_id: &str) -> Vec<u8> {
    key(ATT, &[owner.as_bytes(), managed_id.as_bytes()])
}

/// Records an attachment added (or the new version of an updated one) at
/// `calendar`/`href`.
pub(crate) fn record(
    view: &mut ViewTxn<'_>,
    owner: &str,
    calendar: &str,
    href: &str,
    added: &ManagedAttachment,
) {
    let record = AttachmentRecord {
        object: added.object,
        filename: added.filename.clone(),
        content_type: added.content_type.clone(),
        calendar: calendar.to_string(),
        href: href.to_string(),
    };
    view.put_as(att_key(owner, &added.managed_id), &record);
}

pub(crate) fn forget(view: &mut ViewTxn<'_>, owner: &str, managed_id: &str) {
    view.delete(att_key(owner, managed_id));
}

/// An object moved to `calendar`/`href` with `body`: the attachments it
/// carries move with it.
pub(crate) fn moved(
    view: &mut ViewTxn<'_>,
    owner: &str,
    calendar: &str,
    href: &str,
    body: &str,
) -> Result<(), StoreError> {
    // Most objects have none: no parse for them.
    if !body.contains("MANAGED-ID") {
        return Ok(());
    }
    let Ok(ids) = managed_ids(body) else {
        return Ok(());
    };
    for id in ids {
        let k = att_key(owner, &id);
        if let Some(mut record) = view.get_as::<AttachmentRecord>(&k)? {
            record.calendar = calendar.to_string();
            record.href = href.to_string();
            view.put_as(k, &record);
        }
    }
    Ok(())
}

/// The owner was deleted: their attachments' records go (their objects
/// stay in the store, named by past events).
pub(crate) fn forget_all(view: &mut ViewTxn<'_>, owner: &str) -> Result<(), StoreError> {
    for k in view.keys_with_prefix(&under(ATT, &[owner.as_bytes()]))? {
        view.delete(k);
    }
    Ok(())
}

/// The record of `owner`'s attachment `managed_id`, if any.
pub(crate) fn find(
    tree: &ReadTree,
    owner: &str,
    managed_id: &str,
) -> Result<Option<AttachmentRecord>, StoreError> {
    tree.get(&att_key(owner, managed_id))
}
