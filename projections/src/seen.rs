//! Mail seen-flags: per user and mailbox, the seen UID set as a compressed
//! bitmap, its modification sequence (the version of the mailbox's last
//! change, from the log), and a change list for QRESYNC-style queries.
//!
//! - `mbx\0principal\0mailbox` → [`MailboxRecord`]
//! - `mch\0principal\0mailbox\0modseq` → [`SeenChange`]

use crate::outcome::{check_expected, Outcome};
use crate::projection::{check_name, Applied, ApplyError, Projection};
use crate::store::StoreError;
use crate::view::keys::{key, under};
use crate::view::{ReadTree, ViewTxn};
use events::{AggregateVersion, Domain, Payload, UidSet};
use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

const MBX: &[u8] = b"mbx\0";
const MCH: &[u8] = b"mch\0";

/// One mailbox's seen state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxRecord {
    /// The modification sequence: the version of the last change.
    pub modseq: AggregateVersion,
    /// A serialised [`RoaringBitmap`] of the seen UIDs.
    #[serde(with = "serde_bytes")]
    pub seen: Vec<u8>,
}

impl MailboxRecord {
    pub fn bitmap(&self) -> Result<RoaringBitmap, String> {
        RoaringBitmap::deserialize_from(&self.seen[..]).map_err(|e| e.to_string())
    }
}

/// What one event changed in a mailbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "lowercase")]
pub enum SeenChange {
    Added { uids: UidSet },
    Removed { uids: UidSet },
    Reset,
}

pub struct Seen;

impl Seen {
    pub const NAME: &'static str = "seen";
    pub const VERSION: u32 = 1;
}

fn insert(bitmap: &mut RoaringBitmap, uids: &UidSet) {
    for &(a, b) in uids.ranges() {
        bitmap.insert_range(a..=b);
    }
}

fn remove(bitmap: &mut RoaringBitmap, uids: &UidSet) {
    for &(a, b) in uids.ranges() {
        bitmap.remove_range(a..=b);
    }
}

fn serialise(bitmap: &RoaringBitmap) -> Vec<u8> {
    let mut out = Vec::with_capacity(bitmap.serialized_size());
    // Writing into a Vec cannot fail.
    bitmap
        .serialize_into(&mut out)
        .expect("bitmap serialisation into memory");
    out
}

impl Projection for Seen {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn version(&self) -> u32 {
        Self::VERSION
    }

    fn domains(&self) -> &'static [Domain] {
        &[Domain::Seen]
    }

    fn apply(&self, event: &Applied<'_>, view: &mut ViewTxn<'_>) -> Result<Outcome, ApplyError> {
        let owner = &event.event.partition_key;
        let (mailbox, change) = match &event.event.payload {
            Payload::SeenAdded(e) => (
                &e.mailbox,
                SeenChange::Added {
                    uids: e.uids.clone(),
                },
            ),
            Payload::SeenRemoved(e) => (
                &e.mailbox,
                SeenChange::Removed {
                    uids: e.uids.clone(),
                },
            ),
            Payload::MailboxSeenReset(e) => (&e.mailbox, SeenChange::Reset),
            other => {
                return Err(ApplyError::Refused(format!(
                    "{} is not a seen-flag event",
                    other.event_type()
                )))
            }
        };
        check_name("user", owner)?;
        check_name("mailbox", mailbox)?;
        let k = key(MBX, &[owner.as_bytes(), mailbox.as_bytes()]);
        let current: Option<MailboxRecord> = view.get_as(&k)?;
        let version = current
            .as_ref()
            .map_or(AggregateVersion::ABSENT, |m| m.modseq);
        if let Err(rejection) = check_expected(event.event.expected_version, version) {
            return Ok(Outcome::Rejected { rejection });
        }
        let mut bitmap = match &current {
            Some(m) => m.bitmap().map_err(|reason| StoreError::Corrupt {
                projection: "seen".into(),
                key: String::from_utf8_lossy(&k).into_owned(),
                reason,
            })?,
            None => RoaringBitmap::new(),
        };
        match &change {
            SeenChange::Added { uids } => insert(&mut bitmap, uids),
            SeenChange::Removed { uids } => remove(&mut bitmap, uids),
            SeenChange::Reset => bitmap.clear(),
        }
        let modseq = event.version();
        view.put_as(
            k,
            &MailboxRecord {
                modseq,
                seen: serialise(&bitmap),
            },
        );
        view.put_as(
            key(
                MCH,
                &[
                    owner.as_bytes(),
                    mailbox.as_bytes(),
                    &modseq.0.to_be_bytes(),
                ],
            ),
            &change,
        );
        Ok(Outcome::Applied { version: modseq })
    }
}

/// The read side of the seen flags.
#[derive(Clone)]
pub struct SeenView {
    tree: ReadTree,
}

impl SeenView {
    pub(crate) fn new(tree: sled::Tree, name: String) -> SeenView {
        SeenView {
            tree: ReadTree::new(tree, name),
        }
    }

    /// The seen UIDs of a mailbox and its modification sequence; an unknown
    /// mailbox has no seen UID and modseq 0.
    pub fn mailbox(
        &self,
        principal: &str,
        mailbox: &str,
    ) -> Result<(RoaringBitmap, AggregateVersion), StoreError> {
        let k = key(MBX, &[principal.as_bytes(), mailbox.as_bytes()]);
        match self.tree.get::<MailboxRecord>(&k)? {
            None => Ok((RoaringBitmap::new(), AggregateVersion::ABSENT)),
            Some(record) => {
                let bitmap = record.bitmap().map_err(|reason| StoreError::Corrupt {
                    projection: Seen::NAME.into(),
                    key: String::from_utf8_lossy(&k).into_owned(),
                    reason,
                })?;
                Ok((bitmap, record.modseq))
            }
        }
    }

    /// A user's mailboxes that have seen state.
    pub fn mailboxes(&self, principal: &str) -> Result<Vec<String>, StoreError> {
        self.tree.names(&under(MBX, &[principal.as_bytes()]))
    }

    /// Changes with a modseq above `since`, oldest first.
    pub fn changes_since(
        &self,
        principal: &str,
        mailbox: &str,
        since: AggregateVersion,
    ) -> Result<Vec<(AggregateVersion, SeenChange)>, StoreError> {
        self.tree.after(
            &under(MCH, &[principal.as_bytes(), mailbox.as_bytes()]),
            since,
        )
    }
}
