//! Mail seen-flags: per user and mailbox, the seen UID set as a compressed
//! bitmap, its modification sequence (the version of the mailbox's last
//! change, from the log), and a bounded change list for QRESYNC-style
//! "what changed since" and CONDSTORE "unchanged since" questions.
//!
//! - `mbx\0principal\0mailbox` → [`MailboxRecord`]
//! - `mch\0principal\0mailbox\0modseq` → [`SeenChange`]: the UIDs whose seen
//!   state that event changed
//! - `del\0principal` → the version at which all of the principal's seen
//!   state was deleted ([`PrincipalDataDeleted`]), so that a client holding
//!   an older modseq learns that it must start again
//!
//! [`PrincipalDataDeleted`]: events::payload::PrincipalDataDeleted

use crate::outcome::{check_expected, Outcome};
use crate::projection::{check_name, Applied, ApplyError, Projection};
use crate::store::{encode, StoreError, ViewTree};
use crate::view::keys::{key, under};
use crate::view::{ReadTree, ViewTxn};
use events::{AggregateVersion, Domain, Payload, UidSet};
pub use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

const MBX: &[u8] = b"mbx\0";
const MCH: &[u8] = b"mch\0";
const DEL: &[u8] = b"del\0";

/// The change list keeps at least the newest this many changes of a
/// mailbox...
pub const HISTORY_CHANGES: u32 = 1024;
/// ...as long as they take at most this many bytes (a change that marks
/// a huge scattered set is large).
pub const HISTORY_BYTES: u64 = 1 << 20;
/// Pruning waits until the list is this much over its bounds, so that its
/// scan of the list is paid once per many writes rather than on each.
const HISTORY_SLACK_CHANGES: u32 = 256;
const HISTORY_SLACK_BYTES: u64 = 256 << 10;

/// One mailbox's seen state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxRecord {
    /// The modification sequence: the version of the last change.
    pub modseq: AggregateVersion,
    /// A serialised [`RoaringBitmap`] of the seen UIDs.
    #[serde(with = "serde_bytes")]
    pub seen: Vec<u8>,
    /// Every change with a higher modseq is in the change list; older
    /// ones were pruned (or deleted with the owner's data).
    pub history_from: AggregateVersion,
    /// Entries in the change list, and their encoded size.
    pub history_len: u32,
    pub history_bytes: u64,
}

/// What one event changed in a mailbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenChange {
    /// A serialised [`RoaringBitmap`] of the UIDs whose seen state changed
    /// (either way).
    #[serde(with = "serde_bytes")]
    pub changed: Vec<u8>,
}

impl SeenChange {
    pub fn bitmap(&self) -> Result<RoaringBitmap, String> {
        deserialise(&self.changed)
    }
}

/// A mailbox as a reader sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct MailboxState {
    pub seen: RoaringBitmap,
    /// 0 for a mailbox that never had a seen flag.
    pub modseq: AggregateVersion,
    /// Changes after this modseq are all known; see [`SeenView::changed_since`].
    pub history_from: AggregateVersion,
}

/// The answer to "what changed since": a QRESYNC-style resync.
#[derive(Clone, Debug, PartialEq)]
pub struct SeenChanges {
    /// The mailbox's modseq this answer is consistent with.
    pub modseq: AggregateVersion,
    /// The seen UIDs at `modseq`.
    pub seen: RoaringBitmap,
    /// UIDs whose seen state changed after the asked modseq; meaningful
    /// only when `complete`.
    pub changed: RoaringBitmap,
    /// False when the change list no longer reaches back to the asked
    /// modseq: the caller must treat every UID as changed.
    pub complete: bool,
}

pub struct Seen;

impl Seen {
    pub const NAME: &'static str = "seen";
    /// 2: the `SeenChanged` event, change entries that hold the UIDs that
    /// really changed, a bounded change list, and deletion of an owner.
    pub const VERSION: u32 = 2;
}

/// What an event asks of one mailbox.
enum Change<'a> {
    Flags {
        seen: &'a UidSet,
        unseen: &'a UidSet,
    },
    Reset,
}

fn serialise(bitmap: &RoaringBitmap) -> Vec<u8> {
    let mut out = Vec::with_capacity(bitmap.serialized_size());
    // Writing into a Vec cannot fail.
    bitmap
        .serialize_into(&mut out)
        .expect("bitmap serialisation into memory");
    out
}

fn bitmap_of(uids: &UidSet) -> RoaringBitmap {
    let mut bitmap = RoaringBitmap::new();
    for &(a, b) in uids.ranges() {
        bitmap.insert_range(a..=b);
    }
    bitmap
}

fn deserialise(bytes: &[u8]) -> Result<RoaringBitmap, String> {
    RoaringBitmap::deserialize_from(bytes).map_err(|e| e.to_string())
}

fn corrupt(k: &[u8], reason: String) -> StoreError {
    StoreError::Corrupt {
        projection: format!("{}@{}", Seen::NAME, Seen::VERSION),
        key: String::from_utf8_lossy(k).into_owned(),
        reason,
    }
}

fn mailbox_key(owner: &str, mailbox: &str) -> Vec<u8> {
    key(MBX, &[owner.as_bytes(), mailbox.as_bytes()])
}

fn changes_prefix(owner: &str, mailbox: &str) -> Vec<u8> {
    under(MCH, &[owner.as_bytes(), mailbox.as_bytes()])
}

/// The modseq a change key ends with.
fn change_modseq(prefix: &[u8], k: &[u8]) -> Result<AggregateVersion, StoreError> {
    k.get(prefix.len()..)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(|b| AggregateVersion(u64::from_be_bytes(b)))
        .ok_or_else(|| corrupt(k, "bad change key".into()))
}

impl Seen {
    fn change(
        &self,
        event: &Applied<'_>,
        view: &mut ViewTxn<'_>,
        mailbox: &str,
        change: Change<'_>,
    ) -> Result<Outcome, ApplyError> {
        let owner = &event.event.partition_key;
        check_name("mailbox", mailbox)?;
        let k = mailbox_key(owner, mailbox);
        let current: Option<MailboxRecord> = view.get_as(&k)?;
        // A mailbox not seen since its owner's data was deleted is at the
        // version of that deletion, so that writers and readers agree.
        let deleted_at: AggregateVersion = view
            .get_as(&key(DEL, &[owner.as_bytes()]))?
            .unwrap_or(AggregateVersion::ABSENT);
        let version = current.as_ref().map_or(deleted_at, |m| m.modseq);
        if let Err(rejection) = check_expected(event.event.expected_version, version) {
            return Ok(Outcome::Rejected { rejection });
        }
        let (mut record, before) = match current {
            Some(record) => {
                let bitmap = deserialise(&record.seen).map_err(|r| corrupt(&k, r))?;
                (record, bitmap)
            }
            None => (
                MailboxRecord {
                    modseq: deleted_at,
                    seen: Vec::new(),
                    history_from: deleted_at,
                    history_len: 0,
                    history_bytes: 0,
                },
                RoaringBitmap::new(),
            ),
        };
        let mut after = match change {
            // Set operations rather than removing ranges in place: roaring
            // drops emptied containers one Vec::remove at a time, which is
            // quadratic for a range over many of them (`1:4294967295`).
            Change::Flags { seen, unseen } => &(&before | &bitmap_of(seen)) - &bitmap_of(unseen),
            Change::Reset => RoaringBitmap::new(),
        };
        let mut changed = &before ^ &after;
        if changed.is_empty() {
            // Nothing to record: the mailbox keeps its modseq, so a
            // repeated write does not make clients resync.
            return Ok(Outcome::Applied { version });
        }
        // Run containers: long runs of seen UIDs take a few bytes.
        after.optimize();
        changed.optimize();
        let modseq = event.version();
        let entry = encode(&SeenChange {
            changed: serialise(&changed),
        });
        record.modseq = modseq;
        record.seen = serialise(&after);
        record.history_len += 1;
        record.history_bytes += entry.len() as u64;
        view.put(
            key(
                MCH,
                &[
                    owner.as_bytes(),
                    mailbox.as_bytes(),
                    &modseq.0.to_be_bytes(),
                ],
            ),
            entry,
        );
        if record.history_len > HISTORY_CHANGES + HISTORY_SLACK_CHANGES
            || record.history_bytes > HISTORY_BYTES + HISTORY_SLACK_BYTES
        {
            prune(view, owner, mailbox, &mut record)?;
        }
        view.put_as(k, &record);
        Ok(Outcome::Applied { version: modseq })
    }

    /// Forgets every mailbox and change of the owner, remembering when.
    fn delete_owner(
        &self,
        event: &Applied<'_>,
        view: &mut ViewTxn<'_>,
    ) -> Result<Outcome, ApplyError> {
        let owner = event.event.partition_key.as_bytes();
        for prefix in [under(MBX, &[owner]), under(MCH, &[owner])] {
            for k in view.keys_with_prefix(&prefix)? {
                view.delete(k);
            }
        }
        view.put_as(key(DEL, &[owner]), &event.version());
        Ok(Outcome::Applied {
            version: event.version(),
        })
    }
}

/// Drops the oldest changes of a mailbox until the list is within its
/// bounds, always keeping the newest.
fn prune(
    view: &mut ViewTxn<'_>,
    owner: &str,
    mailbox: &str,
    record: &mut MailboxRecord,
) -> Result<(), StoreError> {
    let prefix = changes_prefix(owner, mailbox);
    for k in view.keys_with_prefix(&prefix)? {
        let within = record.history_len <= HISTORY_CHANGES && record.history_bytes <= HISTORY_BYTES;
        if within || record.history_len <= 1 {
            break;
        }
        let size = view.get(&k)?.map_or(0, |v| v.len() as u64);
        record.history_from = change_modseq(&prefix, &k)?;
        record.history_len -= 1;
        record.history_bytes = record.history_bytes.saturating_sub(size);
        view.delete(k);
    }
    Ok(())
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

    // Every key is under the owner, the partition key.
    fn partitions_independent(&self) -> bool {
        true
    }

    fn apply(&self, event: &Applied<'_>, view: &mut ViewTxn<'_>) -> Result<Outcome, ApplyError> {
        check_name("user", &event.event.partition_key)?;
        let none = UidSet::default();
        match &event.event.payload {
            Payload::SeenChanged(e) => {
                if let Some(uid) = e.seen.first_common(&e.unseen) {
                    return Err(ApplyError::Refused(format!(
                        "UID {uid} is marked both seen and unseen"
                    )));
                }
                let change = Change::Flags {
                    seen: &e.seen,
                    unseen: &e.unseen,
                };
                self.change(event, view, &e.mailbox, change)
            }
            Payload::SeenAdded(e) => {
                let change = Change::Flags {
                    seen: &e.uids,
                    unseen: &none,
                };
                self.change(event, view, &e.mailbox, change)
            }
            Payload::SeenRemoved(e) => {
                let change = Change::Flags {
                    seen: &none,
                    unseen: &e.uids,
                };
                self.change(event, view, &e.mailbox, change)
            }
            Payload::MailboxSeenReset(e) => self.change(event, view, &e.mailbox, Change::Reset),
            Payload::PrincipalDataDeleted(_) => self.delete_owner(event, view),
            other => Err(ApplyError::Refused(format!(
                "{} is not a seen-flag event",
                other.event_type()
            ))),
        }
    }
}

/// The read side of the seen flags.
#[derive(Clone)]
pub struct SeenView {
    tree: ReadTree,
}

impl SeenView {
    pub(crate) fn new(tree: ViewTree) -> SeenView {
        SeenView {
            tree: ReadTree::new(tree),
        }
    }

    /// The seen UIDs of a mailbox and its modification sequence; an unknown
    /// mailbox has no seen UID and modseq 0.
    pub fn mailbox(
        &self,
        principal: &str,
        mailbox: &str,
    ) -> Result<(RoaringBitmap, AggregateVersion), StoreError> {
        let state = self.state(principal, mailbox)?;
        Ok((state.seen, state.modseq))
    }

    /// A mailbox's seen UIDs, modseq and how far back its changes are known.
    pub fn state(&self, principal: &str, mailbox: &str) -> Result<MailboxState, StoreError> {
        let k = mailbox_key(principal, mailbox);
        match self.tree.get::<MailboxRecord>(&k)? {
            Some(record) => Ok(MailboxState {
                seen: deserialise(&record.seen).map_err(|r| corrupt(&k, r))?,
                modseq: record.modseq,
                history_from: record.history_from,
            }),
            None => {
                let deleted_at = self.deleted_at(principal)?;
                Ok(MailboxState {
                    seen: RoaringBitmap::new(),
                    modseq: deleted_at,
                    history_from: deleted_at,
                })
            }
        }
    }

    /// The version at which the principal's seen state was last deleted.
    fn deleted_at(&self, principal: &str) -> Result<AggregateVersion, StoreError> {
        Ok(self
            .tree
            .get(&key(DEL, &[principal.as_bytes()]))?
            .unwrap_or(AggregateVersion::ABSENT))
    }

    /// How far back a mailbox's changes are known, without its bitmap.
    fn history_from(&self, principal: &str, mailbox: &str) -> Result<AggregateVersion, StoreError> {
        match self
            .tree
            .get::<MailboxRecord>(&mailbox_key(principal, mailbox))?
        {
            Some(record) => Ok(record.history_from),
            None => self.deleted_at(principal),
        }
    }

    /// A user's mailboxes that have seen state.
    pub fn mailboxes(&self, principal: &str) -> Result<Vec<String>, StoreError> {
        self.tree.names(&under(MBX, &[principal.as_bytes()]))
    }

    /// The kept changes with a modseq above `since`, oldest first.
    pub fn changes_since(
        &self,
        principal: &str,
        mailbox: &str,
        since: AggregateVersion,
    ) -> Result<Vec<(AggregateVersion, SeenChange)>, StoreError> {
        self.tree.after(&changes_prefix(principal, mailbox), since)
    }

    /// The UIDs whose seen state changed after `since`, with the state
    /// they are consistent with.
    pub fn changed_since(
        &self,
        principal: &str,
        mailbox: &str,
        since: AggregateVersion,
    ) -> Result<SeenChanges, StoreError> {
        let state = self.state(principal, mailbox)?;
        let mut answer = SeenChanges {
            modseq: state.modseq,
            seen: state.seen,
            changed: RoaringBitmap::new(),
            complete: true,
        };
        if since >= state.modseq {
            return Ok(answer);
        }
        if since < state.history_from {
            answer.complete = false;
            return Ok(answer);
        }
        let prefix = changes_prefix(principal, mailbox);
        for (modseq, change) in self.changes_since(principal, mailbox, since)? {
            // Changes applied after the state was read belong to a later
            // answer.
            if modseq > state.modseq {
                break;
            }
            answer.changed |= change.bitmap().map_err(|r| corrupt(&prefix, r))?;
        }
        // A write between the two reads may have pruned changes this
        // answer needed; it moved the history's start past `since` then.
        answer.complete = since >= self.history_from(principal, mailbox)?;
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ProjectionId;
    use crate::testing::TestStore;
    use events::payload::{
        MailboxSeenReset, PrincipalDataDeleted, SeenAdded, SeenChanged, SeenRemoved,
    };
    use events::{EventEnvelope, EventId};

    const ALICE: &str = "alice@example.com";
    const BOB: &str = "bob@example.com";

    /// A seen view fed the way the runner feeds it: event `n` (from 0) at
    /// offset `n`, a refused or rejected event's writes dropped, one atomic
    /// batch per `batch` events.
    struct Fixture {
        harness: TestStore,
        view: SeenView,
    }

    fn envelope(n: u64, owner: &str, payload: Payload) -> EventEnvelope {
        let id = format!("01900000-0000-7000-8000-{n:012x}");
        EventEnvelope::new(
            EventId(id.parse().expect("uuid")),
            "2026-01-01T00:00:00Z".parse().expect("time"),
            owner,
            owner,
            payload,
        )
    }

    fn set(s: &str) -> UidSet {
        if s.is_empty() {
            UidSet::default()
        } else {
            s.parse().unwrap()
        }
    }

    fn changed(mailbox: &str, seen: &str, unseen: &str) -> Payload {
        Payload::SeenChanged(SeenChanged {
            mailbox: mailbox.into(),
            seen: set(seen),
            unseen: set(unseen),
        })
    }

    fn uids(bitmap: &RoaringBitmap) -> Vec<u32> {
        bitmap.iter().collect()
    }

    impl Fixture {
        fn new() -> Fixture {
            let harness = TestStore::new(ProjectionId::new(Seen::NAME, Seen::VERSION));
            let view = SeenView::new(harness.tree());
            Fixture { harness, view }
        }

        /// Applies events at the next offsets, `batch` per atomic batch.
        fn run(&mut self, events: &[EventEnvelope], batch: usize) -> Vec<Outcome> {
            self.harness.run(&Seen, Domain::Seen, events, batch)
        }

        fn apply_as(&mut self, owner: &str, payload: Payload) -> Outcome {
            let event = envelope(self.harness.next, owner, payload);
            self.run(&[event], 1).remove(0)
        }

        fn apply(&mut self, payload: Payload) -> Outcome {
            self.apply_as(ALICE, payload)
        }

        fn expecting(&mut self, payload: Payload, version: u64) -> Outcome {
            let event =
                envelope(self.harness.next, ALICE, payload).expecting(AggregateVersion(version));
            self.run(&[event], 1).remove(0)
        }
    }

    fn applied(version: u64) -> Outcome {
        Outcome::Applied {
            version: AggregateVersion(version),
        }
    }

    #[test]
    fn one_event_marks_seen_and_unseen_and_records_what_really_changed() {
        let mut f = Fixture::new();
        assert_eq!(f.apply(changed("INBOX", "1:10", "")), applied(1));
        assert_eq!(f.apply(changed("INBOX", "12", "3:4")), applied(2));
        let (seen, modseq) = f.view.mailbox(ALICE, "INBOX").unwrap();
        assert_eq!(uids(&seen), vec![1, 2, 5, 6, 7, 8, 9, 10, 12]);
        assert_eq!(modseq, AggregateVersion(2));
        // 1:2 were seen already: only 12 and 3:4 changed.
        let changes = f
            .view
            .changed_since(ALICE, "INBOX", AggregateVersion(1))
            .unwrap();
        assert_eq!(uids(&changes.changed), vec![3, 4, 12]);
        assert!(changes.complete);
        // Nothing left to change: no new modseq, no change entry.
        assert_eq!(f.apply(changed("INBOX", "1:2", "3")), applied(2));
        assert_eq!(
            f.view
                .changes_since(ALICE, "INBOX", AggregateVersion::ABSENT)
                .unwrap()
                .len(),
            2
        );
        let refused = f.apply(changed("INBOX", "1:5", "5:6"));
        assert!(
            matches!(&refused, Outcome::Quarantined { reason } if reason.contains("UID 5")),
            "{refused:?}"
        );
        assert_eq!(
            f.view.mailbox(ALICE, "INBOX").unwrap().1,
            AggregateVersion(2)
        );
    }

    #[test]
    fn old_events_still_apply_and_a_reset_changes_what_was_seen() {
        let mut f = Fixture::new();
        let mailbox = "Archives/2026/Entwürfe";
        f.apply(Payload::SeenAdded(SeenAdded {
            mailbox: mailbox.into(),
            uids: set("1:5"),
        }));
        f.apply(Payload::SeenRemoved(SeenRemoved {
            mailbox: mailbox.into(),
            uids: set("2"),
        }));
        assert_eq!(
            uids(&f.view.mailbox(ALICE, mailbox).unwrap().0),
            vec![1, 3, 4, 5]
        );
        f.apply(Payload::MailboxSeenReset(MailboxSeenReset {
            mailbox: mailbox.into(),
        }));
        let changes = f
            .view
            .changed_since(ALICE, mailbox, AggregateVersion(2))
            .unwrap();
        assert_eq!(uids(&changes.changed), vec![1, 3, 4, 5]);
        assert!(changes.seen.is_empty());
        assert_eq!(changes.modseq, AggregateVersion(3));
    }

    #[test]
    fn expected_versions_decide_conflicts() {
        let mut f = Fixture::new();
        assert_eq!(f.expecting(changed("INBOX", "1", ""), 0), applied(1));
        assert!(matches!(
            f.expecting(changed("INBOX", "2", ""), 0),
            Outcome::Rejected { .. }
        ));
        assert_eq!(f.expecting(changed("INBOX", "2", ""), 1), applied(3));
        assert_eq!(uids(&f.view.mailbox(ALICE, "INBOX").unwrap().0), vec![1, 2]);
    }

    #[test]
    fn the_change_list_stays_bounded_and_says_how_far_back_it_reaches() {
        let mut f = Fixture::new();
        let total = HISTORY_CHANGES + HISTORY_SLACK_CHANGES + 10;
        let events: Vec<EventEnvelope> = (0..u64::from(total))
            .map(|n| {
                let uid = (n / 2 + 1).to_string();
                let payload = if n % 2 == 0 {
                    changed("INBOX", &uid, "")
                } else {
                    changed("INBOX", "", &uid)
                };
                envelope(n, ALICE, payload)
            })
            .collect();
        f.run(&events, 100);
        let kept = f
            .view
            .changes_since(ALICE, "INBOX", AggregateVersion::ABSENT)
            .unwrap();
        assert!(
            kept.len() >= HISTORY_CHANGES as usize
                && kept.len() <= (HISTORY_CHANGES + HISTORY_SLACK_CHANGES) as usize,
            "{}",
            kept.len()
        );
        let state = f.view.state(ALICE, "INBOX").unwrap();
        assert_eq!(state.modseq, AggregateVersion(u64::from(total)));
        // The oldest kept change is the one right after the history's start.
        assert!(kept[0].0 > state.history_from);
        assert_eq!(kept.last().unwrap().0, state.modseq);
        let old = f
            .view
            .changed_since(ALICE, "INBOX", AggregateVersion(1))
            .unwrap();
        assert!(!old.complete);
        let recent = f
            .view
            .changed_since(ALICE, "INBOX", state.history_from)
            .unwrap();
        assert!(recent.complete);
        // Each UID was set then cleared; the last 1,024 events touched the
        // last 512 UIDs.
        assert_eq!(
            recent.changed.len(),
            kept.len() as u64 / 2 + kept.len() as u64 % 2
        );
        // Two rebuilds with other batch sizes give the same view.
        let mut again = Fixture::new();
        again.run(&events, 7);
        assert_eq!(
            f.harness.store.digest(&f.harness.id).unwrap(),
            again.harness.store.digest(&again.harness.id).unwrap()
        );
    }

    #[test]
    fn deleting_the_owners_data_forgets_every_mailbox_and_change_and_says_so() {
        let mut f = Fixture::new();
        f.apply(changed("INBOX", "1:5", ""));
        f.apply(changed("Sent/2026", "1", ""));
        f.apply_as(BOB, changed("INBOX", "7", ""));
        let deleted = f.apply(Payload::PrincipalDataDeleted(PrincipalDataDeleted {
            domain: Domain::Seen,
        }));
        assert_eq!(deleted, applied(4));
        assert!(f.view.mailboxes(ALICE).unwrap().is_empty());
        assert!(f
            .view
            .changes_since(ALICE, "INBOX", AggregateVersion::ABSENT)
            .unwrap()
            .is_empty());
        let state = f.view.state(ALICE, "INBOX").unwrap();
        assert!(state.seen.is_empty());
        assert_eq!(state.modseq, AggregateVersion(4));
        // A client that knew the mailbox at modseq 1 must start again.
        assert!(
            !f.view
                .changed_since(ALICE, "INBOX", AggregateVersion(1))
                .unwrap()
                .complete
        );
        // Bob's mailbox is untouched.
        assert_eq!(uids(&f.view.mailbox(BOB, "INBOX").unwrap().0), vec![7]);
        // A write expecting the deleted state applies, and starts a new
        // history after the deletion.
        assert_eq!(f.expecting(changed("INBOX", "2", ""), 4), applied(5));
        let after = f
            .view
            .changed_since(ALICE, "INBOX", AggregateVersion(4))
            .unwrap();
        assert!(after.complete);
        assert_eq!(uids(&after.changed), vec![2]);
    }

    #[test]
    fn the_whole_uid_space_is_one_range_and_big_changes_are_bounded_by_bytes() {
        let mut f = Fixture::new();
        for _ in 0..4 {
            f.apply(changed("INBOX", "1:6,8:4294967295", ""));
            f.apply(changed("INBOX", "", "1:4294967295"));
        }
        f.apply(changed("INBOX", "1:6,8:4294967295", ""));
        let seen = f.view.mailbox(ALICE, "INBOX").unwrap().0;
        assert_eq!(seen.len(), u64::from(u32::MAX) - 1);
        assert!(!seen.contains(7));
        let tree = f.harness.store.tree(&f.harness.id).unwrap();
        let record: MailboxRecord =
            crate::store::decode(&tree.get(&mailbox_key(ALICE, "INBOX")).unwrap().unwrap())
                .unwrap();
        // Each of these changes is hundreds of kilobytes: the byte bound
        // keeps few of them, and always the newest.
        assert!(record.history_bytes <= HISTORY_BYTES + HISTORY_SLACK_BYTES);
        let kept = f
            .view
            .changes_since(ALICE, "INBOX", AggregateVersion::ABSENT)
            .unwrap();
        assert_eq!(kept.len() as u32, record.history_len);
        assert_eq!(kept.last().unwrap().0, AggregateVersion(9));
        let last = f
            .view
            .changed_since(ALICE, "INBOX", AggregateVersion(8))
            .unwrap();
        assert!(last.complete);
        assert_eq!(last.changed.len(), u64::from(u32::MAX) - 1);
    }

    #[test]
    fn long_runs_stay_small() {
        let mut f = Fixture::new();
        f.apply(changed("INBOX", "1:100000", ""));
        let scattered: Vec<String> = (0..300).map(|i| (i * 317 + 5).to_string()).collect();
        f.apply(changed("INBOX", "", &scattered.join(",")));
        let tree = f.harness.store.tree(&f.harness.id).unwrap();
        let record = tree.get(&mailbox_key(ALICE, "INBOX")).unwrap().unwrap();
        assert!(record.len() < 4096, "{} bytes", record.len());
    }
}
