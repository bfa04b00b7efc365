//! Calendar collections and calendar object resources, per owner.

use crate::collections::{patch_dead, Collections, CollectionsView, NewObject};
use crate::outcome::Outcome;
use crate::projection::{Applied, ApplyError, Projection};
use crate::view::ViewTxn;
use events::payload::CalendarProps;
use events::{Domain, Payload};

pub use crate::collections::{Change, CollectionRecord, ObjectMeta, ObjectRecord};

/// The read side: collections by owner, objects by href and UID, changes.
pub type CalendarsView = CollectionsView<CalendarProps>;

pub struct Calendars;

impl Calendars {
    pub const NAME: &'static str = "calendars";
    pub const VERSION: u32 = 1;
}

/// Whether a calendar takes a component; an empty set takes all three.
fn accepts(props: &CalendarProps, component: Option<&str>) -> bool {
    props.components.is_empty()
        || component.is_some_and(|c| props.components.iter().any(|s| s.eq_ignore_ascii_case(c)))
}

impl Projection for Calendars {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn version(&self) -> u32 {
        Self::VERSION
    }

    fn domains(&self) -> &'static [Domain] {
        &[Domain::Calendar]
    }

    fn apply(&self, event: &Applied<'_>, view: &mut ViewTxn<'_>) -> Result<Outcome, ApplyError> {
        let mut c = Collections {
            event,
            view,
            noun: "calendar",
        };
        match &event.event.payload {
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
            Payload::CalendarObjectPut(e) => {
                let object = formats::ical::validate_calendar_object(&e.ical)
                    .map_err(|err| ApplyError::Refused(format!("invalid iCalendar: {err}")))?;
                if object.uid != e.uid {
                    return Err(ApplyError::Refused(format!(
                        "the event says UID {:?} but its iCalendar holds {:?}",
                        e.uid, object.uid
                    )));
                }
                c.put(
                    NewObject {
                        collection: &e.calendar,
                        href: &e.href,
                        uid: &e.uid,
                        component: Some(object.kind.as_str().to_string()),
                        body: &e.ical,
                    },
                    accepts,
                )
            }
            Payload::CalendarObjectDeleted(e) => c.remove::<CalendarProps>(&e.calendar, &e.href),
            Payload::CalendarObjectMoved(e) => c.move_object(
                (&e.calendar, &e.href),
                (&e.to_calendar, &e.to_href),
                e.overwrite,
                accepts,
            ),
            other => Err(ApplyError::Refused(format!(
                "{} is not a calendar event",
                other.event_type()
            ))),
        }
    }
}
