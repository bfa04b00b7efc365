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
