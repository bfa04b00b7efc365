//! Calendar collections and calendar object resources, per owner.

use crate::collections::{patch_dead, Collections, CollectionsView, NewObject};
use crate::outcome::Outcome;
use crate::projection::{Applied, ApplyError, Projection};
use crate::scheduling;
use crate::view::ViewTxn;
use events::payload::{CalendarProps, SchedulingRole};
use events::{Domain, Payload};

pub use crate::collections::{
    Change, CollectionRecord, Grant, ObjectMeta, ObjectRecord, SharedCollection,
};
pub use crate::time_index::TimeIndexEntry;

use crate::attachments;
pub use crate::attachments::AttachmentRecord;
use crate::collections::ObjectIndex;
use crate::store::{ProjectionId, StoreError, ViewStore, ViewTree};
use crate::time_index::{TimeIndex, TimeIndexView};
use crate::view::ReadTree;
use formats::ical::time::TimeRange;
use formats::ical::tree::TreeScope;
use formats::ical::{validate_calendar_object, validate_calendar_tree};

/// The calendars projection at one of its versions:
/// - v1: collections, objects by href and UID, change lists;
/// - v2: v1 and a time index (`time_index.rs`), so that time-range
///   queries read only the objects that may match.
///
/// Both answer every query identically; v2 reads less to do it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Calendars {
    version: u32,
}

impl Calendars {
    pub const NAME: &'static str = "calendars";
    pub const V1: Calendars = Calendars { version: 1 };
    pub const V2: Calendars = Calendars { version: 2 };
    /// The version this build serves.
    pub const CURRENT: Calendars = Calendars::V2;
    pub const VERSION: u32 = Self::CURRENT.version;

    fn index(&self) -> Option<&'static dyn ObjectIndex> {
        (self.version >= 2).then_some(&TimeIndex as &'static dyn ObjectIndex)
    }
}

/// The read side: collections by owner, objects by href and UID, changes,
/// and (from v2) the time index.
#[derive(Clone)]
pub struct CalendarsView {
    collections: CollectionsView<CalendarProps>,
    index: Option<TimeIndexView>,
    tree: ReadTree,
}

impl std::ops::Deref for CalendarsView {
    type Target = CollectionsView<CalendarProps>;

    fn deref(&self) -> &Self::Target {
        &self.collections
    }
}

impl CalendarsView {
    /// The view of one version, built or not (to compare versions).
    pub fn open(store: &ViewStore, version: u32) -> Result<CalendarsView, StoreError> {
        let id = ProjectionId::new(Calendars::NAME, version);
        Ok(CalendarsView::new(store.tree(&id)?, version))
    }

    pub(crate) fn new(tree: ViewTree, version: u32) -> CalendarsView {
        let index = (version >= 2).then(|| TimeIndexView {
            tree: ReadTree::new(tree.clone()),
        });
        CalendarsView {
            collections: CollectionsView::new(tree.clone()),
            index,
            tree: ReadTree::new(tree),
        }
    }

    /// `owner`'s managed attachment `managed_id` (see `attachments.rs`).
    pub fn attachment(
        &self,
        owner: &str,
        managed_id: &str,
    ) -> Result<Option<AttachmentRecord>, StoreError> {
        attachments::find(&self.tree, owner, managed_id)
    }

    /// What scheduling writes recorded as to be sent and the leader has
    /// not delivered yet, by owner then log order.
    pub fn scheduling_pending(&self) -> Result<Vec<scheduling::Pending>, StoreError> {
        scheduling::pending(&self.tree)
    }

    /// Mails to recipients outside the directory (iMIP) that the leader
    /// has queued and not recorded as sent, by owner then log order.
    pub fn mail_pending(&self) -> Result<Vec<scheduling::PendingMail>, StoreError> {
        scheduling::mail_pending(&self.tree)
    }

    /// The Schedule-Tag of `owner`'s scheduling object `uid`.
    pub fn schedule_tag(
        &self,
        owner: &str,
        uid: &str,
    ) -> Result<Option<events::AggregateVersion>, StoreError> {
        scheduling::schedule_tag(&self.tree, owner, uid)
    }

    /// The hrefs of a calendar, in href order, that may hold a `component`
    /// (VEVENT, VTODO, VJOURNAL) occurring in `range` (at any time when
    /// None): every object that matches is among them. None when this
    /// version keeps no index, and every object must be tested.
    pub fn candidates(
        &self,
        owner: &str,
        col: &str,
        component: &str,
        range: Option<&TimeRange>,
    ) -> Result<Option<Vec<String>>, StoreError> {
        self.index
            .as_ref()
            .map(|index| index.candidates(owner, col, component, range))
            .transpose()
    }
}

/// Whether a calendar takes a component; an empty set takes all three.
fn accepts(props: &CalendarProps, component: Option<&str>) -> bool {
    props.components.is_empty()
        || component.is_some_and(|c| props.components.iter().any(|s| s.eq_ignore_ascii_case(c)))
}

impl Calendars {
    /// A calendar object written whole: by PUT, or with an attachment.
    fn put(
        &self,
        c: &mut Collections<'_, '_, '_>,
        calendar: &str,
        href: &str,
        uid: &str,
        ical: &str,
    ) -> Result<Outcome, ApplyError> {
        let invalid = |err| ApplyError::Refused(format!("invalid iCalendar: {err}"));
        // With an index, the one pass over the text that validates it also
        // builds what the index reads.
        let (object, tree) = match self.index() {
            Some(_) => validate_calendar_tree(ical, TreeScope::Occurrences)
                .map(|(object, tree)| (object, Some(tree))),
            None => validate_calendar_object(ical).map(|object| (object, None)),
        }
        .map_err(invalid)?;
        if object.uid != uid {
            return Err(ApplyError::Refused(format!(
                "the event says UID {uid:?} but its iCalendar holds {:?}",
                object.uid
            )));
        }
        c.put_with_tree(
            NewObject {
                collection: calendar,
                href,
                uid,
                component: Some(object.kind.as_str()),
                body: ical,
            },
            tree.as_ref(),
            accepts,
        )
    }
}

/// What a client's write of a scheduling object sends (see
/// `scheduling.rs`); its Schedule-Tag changes with it.
fn scheduled_write(
    c: &mut Collections<'_, '_, '_>,
    role: Option<&SchedulingRole>,
    uid: &str,
    old: Option<&str>,
    new: Option<&str>,
) -> Result<(), StoreError> {
    match role {
        None => {}
        Some(SchedulingRole::Organizer { address }) => {
            scheduling::new_schedule_tag(c, uid);
            scheduling::organizer_wrote(c, address, uid, old, new);
        }
        Some(SchedulingRole::Attendee { address, force }) => {
            scheduling::keep_schedule_tag(c, uid)?;
            scheduling::attendee_wrote(c, address, *force, uid, old, new);
        }
    }
    Ok(())
}

impl Projection for Calendars {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn version(&self) -> u32 {
        self.version
    }

    fn domains(&self) -> &'static [Domain] {
        &[Domain::Calendar]
    }

    // Every key is under the owner (see `collections.rs`), the partition key.
    fn partitions_independent(&self) -> bool {
        true
    }

    fn apply(&self, event: &Applied<'_>, view: &mut ViewTxn<'_>) -> Result<Outcome, ApplyError> {
        let mut c = Collections {
            event,
            view,
            noun: "calendar",
            index: self.index(),
        };
        let payload = &event.event.payload;
        let (writes, leaving): (Vec<&str>, _) = match payload {
            Payload::CalendarObjectPut(e) => (vec![&e.calendar], None),
            Payload::CalendarAttachmentChanged(e) => (vec![&e.calendar], None),
            Payload::CalendarObjectDeleted(e) => (vec![&e.calendar], None),
            Payload::CalendarObjectMoved(e) => (vec![&e.calendar, &e.to_calendar], None),
            Payload::CalendarUnshared(e) => (Vec::new(), Some(&e.sharee)),
            _ => (Vec::new(), None),
        };
        if let Some(rejection) = c.foreign_actor_refused(&writes, leaving)? {
            return rejection.into();
        }
        match payload {
            Payload::CalendarCreated(e) => c.create(&e.calendar, e.props.clone()),
            Payload::CalendarUpdated(e) => c.update(&e.calendar, |p: &mut CalendarProps| {
                if let Some(v) = &e.display_name {
                    p.display_name = v.clone();
                }
                if let Some(v) = &e.color {
                    p.color = v.clone();
                }
                if let Some(v) = &e.description {
                    p.description = v.clone();
                }
                if let Some(v) = &e.timezone {
                    p.timezone = v.clone();
                }
                if let Some(v) = &e.components {
                    p.components = v.clone();
                }
                patch_dead(&mut p.dead, &e.dead);
            }),
            Payload::CalendarDeleted(e) => c.delete::<CalendarProps>(&e.calendar),
            // The owner was deleted: every collection goes, its events stay.
            Payload::PrincipalDataDeleted(_) => {
                attachments::forget_all(c.view, &event.event.partition_key)?;
                c.delete_all()
            }
            Payload::CalendarObjectPut(e) => {
                // What a scheduling write sends depends on what it replaces.
                let old = match &e.scheduling {
                    Some(_) => c.object_body(&e.calendar, &e.href)?,
                    None => None,
                };
                let outcome = self.put(&mut c, &e.calendar, &e.href, &e.uid, &e.ical)?;
                if matches!(outcome, Outcome::Applied { .. }) {
                    scheduled_write(
                        &mut c,
                        e.scheduling.as_ref(),
                        &e.uid,
                        old.as_deref(),
                        Some(&e.ical),
                    )?;
                }
                Ok(outcome)
            }
            Payload::SchedulingDelivered(e) => scheduling::delivered(&mut c, e),
            Payload::SchedulingCompleted(e) => scheduling::completed(&mut c, e),
            Payload::ImipQueued(e) => scheduling::imip_queued(&mut c, e),
            Payload::ImipSent(e) => scheduling::imip_sent(&mut c, e),
            Payload::CalendarAttachmentChanged(e) => {
                let outcome = self.put(&mut c, &e.calendar, &e.href, &e.uid, &e.ical)?;
                if matches!(outcome, Outcome::Applied { .. }) {
                    let owner = &event.event.partition_key;
                    if let Some(removed) = &e.removed {
                        attachments::forget(c.view, owner, removed);
                    }
                    if let Some(added) = &e.added {
                        attachments::record(c.view, owner, &e.calendar, &e.href, added);
                    }
                }
                Ok(outcome)
            }
            Payload::CalendarObjectDeleted(e) => {
                let old = c.object_body(&e.calendar, &e.href)?;
                let outcome = c.remove::<CalendarProps>(&e.calendar, &e.href)?;
                if let (Outcome::Applied { .. }, Some(old)) = (&outcome, &old) {
                    if let Ok(object) = formats::ical::validate_calendar_object(old) {
                        scheduled_write(
                            &mut c,
                            e.scheduling.as_ref(),
                            &object.uid,
                            Some(old),
                            None,
                        )?;
                    }
                }
                Ok(outcome)
            }
            Payload::CalendarObjectMoved(e) => {
                let outcome = c.move_object(
                    (&e.calendar, &e.href),
                    (&e.to_calendar, &e.to_href),
                    e.overwrite,
                    accepts,
                )?;
                if matches!(outcome, Outcome::Applied { .. }) {
                    let owner = &event.event.partition_key;
                    if let Some(body) = c.object_body(&e.to_calendar, &e.to_href)? {
                        attachments::moved(c.view, owner, &e.to_calendar, &e.to_href, &body)?;
                    }
                }
                Ok(outcome)
            }
            Payload::CalendarShared(e) => {
                c.share::<CalendarProps>(&e.calendar, &e.sharee, e.sharee_since, e.access)
            }
            Payload::CalendarUnshared(e) => c.unshare::<CalendarProps>(&e.calendar, &e.sharee),
            other => Err(ApplyError::Refused(format!(
                "{} is not a calendar event",
                other.event_type()
            ))),
        }
    }
}
