//! Server-side scheduling (RFC 6638) as events.
//!
//! A client's write of a scheduling object carries the [`SchedulingRole`]
//! the server decided for it (who the writer is in the object). Applying
//! it, the calendars projection records what it sends, by the position of
//! the event that caused it. The leading installation's process manager
//! turns each such record into [`SchedulingDelivered`] events, one per
//! recipient of the directory, then closes it with a
//! [`SchedulingCompleted`]. Everything an inbox or an attendee's copy
//! shows is therefore in the log: a rebuild, a standby or a clone shows
//! the same and sends nothing.
//!
//! A recipient outside the directory is sent mail (iMIP, RFC 6047), and a
//! mail is recorded before and after it is sent: [`ImipQueued`] says what
//! will be sent, with its Message-ID, and [`ImipSent`] how it went. The
//! one duplicate a crash can make is a resend of a queued mail whose
//! sending was not recorded yet, with the same Message-ID.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Who the writer of a calendar object is in it, as the server decided
/// when it accepted the write (the projection cannot read the directory).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum SchedulingRole {
    /// The owner organizes, as `address`: its attendees are sent REQUESTs
    /// and CANCELs (RFC 6638 §3.2.1).
    Organizer { address: String },
    /// The owner is invited as `address`: a change of their answer is sent
    /// to the organizer as a REPLY (§3.2.2); `force` sends it even when no
    /// answer changed (SCHEDULE-FORCE-SEND).
    Attendee {
        address: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        force: bool,
    },
}

impl SchedulingRole {
    pub fn address(&self) -> &str {
        match self {
            SchedulingRole::Organizer { address } | SchedulingRole::Attendee { address, .. } => {
                address
            }
        }
    }
}

/// Where the event that caused a scheduling effect is: a partition of the
/// calendar topic and an offset in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Cause {
    pub partition: u32,
    pub offset: u64,
}

/// iTIP messages delivered by the server to one calendar user of the
/// directory (the envelope's partition key): an item in their schedule
/// inbox per message, and what each means to their calendars: a REQUEST
/// or CANCEL updates their copy of the object, a REPLY the organizer's.
/// Appended by the leader; its event id derives from the cause's and the
/// recipient's, and a delivery from a cause not newer than the last one
/// applied from the same sender about the same object changes nothing, so
/// a delivery appended twice (after a switch) is applied once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulingDelivered {
    pub cause: Cause,
    /// The sender's calendar user address (`mailto:`), as normalised.
    pub from: String,
    /// The recipient's address as the messages name it.
    pub to: String,
    pub uid: String,
    /// iTIP text, each with its METHOD.
    pub messages: Vec<String>,
    /// A room or equipment: it answers by itself, accepting when it is
    /// free for every instance, declining when not.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_answer: bool,
}

/// The leader delivered everything the event at `cause` (in this
/// partition) sends: what it recorded as to be sent goes, and the
/// organizer's object takes each attendee's delivery status
/// (`SCHEDULE-STATUS`, RFC 6638 §3.2.9) where it differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulingCompleted {
    pub cause: Cause,
    /// Attendee address → request status (`1.2`, `3.7`, `5.3`...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub statuses: BTreeMap<String, String>,
}

/// A mail (iMIP, RFC 6047) the leader will send to a recipient outside
/// the directory, in the sender's partition. Appended before anything is
/// sent; its id derives from the cause's, the recipient's and `part`'s,
/// and one queued twice (after a switch or a restart) is queued once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImipQueued {
    pub cause: Cause,
    /// The recipient's calendar user address (`mailto:`), as normalised.
    pub to: String,
    /// Which of the messages `cause` sends to `to` this is (most causes
    /// send one: 0); each is a mail of its own, since an iMIP mail carries
    /// one METHOD.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub part: u32,
    /// The sender's address (`mailto:`), as normalised.
    pub from: String,
    /// The object the message is about: its organizer's copy takes the
    /// delivery status once the mail is sent.
    pub uid: String,
    /// iTIP text with its METHOD.
    pub message: String,
    /// The mail's `Message-ID` (with its angle brackets): a resend after
    /// a crash carries the same one, so the recipient's mail system can
    /// tell it is the same mail.
    pub message_id: String,
}

/// How sending an [`ImipQueued`] mail went, in the sender's partition:
/// `status` is the request status for the recipient (`1.1` sent to the
/// relay, `5.1` not delivered after retries, with `reason`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImipSent {
    pub cause: Cause,
    pub to: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub part: u32,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}
