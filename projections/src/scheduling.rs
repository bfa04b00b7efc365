//! Server-side scheduling (RFC 6638) in the calendars view: what a
//! client's write of a scheduling object sends, and what a delivered iTIP
//! message does to the recipient's calendars. Pure like every apply step:
//! the decisions (who gets which message, what an attendee's copy
//! becomes, whether a room is free) are made here, at the event's place in
//! the log, so every instance and every rebuild decides the same.
//!
//! Keys, under the owner like every key of the view:
//! - `sch\0owner\0offset` (big-endian) → [`Outgoing`]: what the event at
//!   that offset of the owner's partition sends, kept until the leader's
//!   `SchedulingCompleted` says it was delivered. The leader's process
//!   manager reads these ([`pending`]); after a switch the next leader
//!   finds the same ones.
//! - `dlv\0owner\0uid\0sender` → [`Cause`]: the newest cause delivered
//!   here from `sender` about `uid`; a delivery from an older or the same
//!   cause (appended twice, across a switch) changes nothing.
//! - `stg\0owner\0uid` → the object's Schedule-Tag (RFC 6638 §3.2.10): the
//!   version of its last change that was not only a reply merged or a
//!   delivery status written.
//! - `mail\0owner\0cause-offset\0to\0part` (offset and part big-endian)
//!   → [`QueuedMail`]: a mail to a recipient outside the directory (iMIP),
//!   kept from its `ImipQueued` until its `ImipSent`. The leader's mail
//!   sender reads these ([`mail_pending`]); after a crash between sending
//!   one and recording it, the next leader sends it again, with the same
//!   Message-ID.
//! - `mlq\0owner\0cause-offset\0to\0part` → nothing: that mail was
//!   queued once. Kept after it is sent, so that the same mail queued
//!   again (by a leader that had not yet read its first queuing, or after
//!   a restart) changes nothing and is never sent twice.

use crate::collections::{CollectionRecord, Collections};
use crate::outcome::{Outcome, Rejection};
use crate::projection::ApplyError;
use crate::store::StoreError;
use crate::view::keys::{key, under};
use crate::view::ReadTree;
use events::payload::CalendarProps;
use events::scheduling::{Cause, ImipQueued, ImipSent, SchedulingCompleted, SchedulingDelivered};
use events::{AggregateVersion, EventId};
use formats::ical::itip::{self, ReplyError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The collection of a calendar home that holds delivered iTIP messages
/// (`schedule-inbox-URL`); no client writes to it but to delete.
pub const SCHEDULE_INBOX: &str = "schedule-inbox";
/// The name of the outbox (`schedule-outbox-URL`), which holds nothing:
/// clients POST free-busy requests to it.
pub const SCHEDULE_OUTBOX: &str = "schedule-outbox";
/// The calendar made for a room or equipment at its first invitation.
pub const RESOURCE_CALENDAR: &str = "calendar";
/// Items an inbox keeps: the newest; older ones go as new ones arrive
/// (the copies in the calendars already say everything they said).
pub const INBOX_KEEP: usize = 200;

const SCH: &[u8] = b"sch\0";
const DLV: &[u8] = b"dlv\0";
const STG: &[u8] = b"stg\0";
const MAIL: &[u8] = b"mail\0";
const MLQ: &[u8] = b"mlq\0";

/// What one event sends, until delivered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    pub cause: Cause,
    /// The id of the event at `cause`: the effects' ids derive from it.
    pub cause_event: EventId,
    pub uid: String,
    /// The sender's address, normalised.
    pub from: String,
    /// Distinct message texts (most recipients of one change get the
    /// same one).
    pub messages: Vec<String>,
    /// Recipient address → indexes into `messages`.
    pub to: BTreeMap<String, Vec<u32>>,
    /// Sent by the organizer: the delivery statuses go on its object.
    pub organizer: bool,
}

impl Outgoing {
    /// The messages for one recipient.
    pub fn messages_for(&self, to: &str) -> Vec<String> {
        self.to
            .get(to)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.messages.get(i as usize).cloned())
            .collect()
    }
}

/// An [`Outgoing`] with its owner, as the process manager reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub owner: String,
    pub outgoing: Outgoing,
}

/// A mail queued and not sent yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedMail {
    /// The id of the `ImipQueued` event: what its `ImipSent`'s derives from.
    pub queued: EventId,
    pub mail: ImipQueued,
}

/// A [`QueuedMail`] with the owner it is sent for (the sender, whose
/// partition its events go to), as the mail sender reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingMail {
    pub owner: String,
    pub queued: EventId,
    pub mail: ImipQueued,
}

fn sch_key(owner: &str, offset: u64) -> Vec<u8> {
    let mut k = under(SCH, &[owner.as_bytes()]);
    k.extend_from_slice(&offset.to_be_bytes());
    k
}

fn dlv_key(owner: &str, uid: &str, from: &str) -> Vec<u8> {
    key(DLV, &[owner.as_bytes(), uid.as_bytes(), from.as_bytes()])
}

fn stg_key(owner: &str, uid: &str) -> Vec<u8> {
    key(STG, &[owner.as_bytes(), uid.as_bytes()])
}

/// The key of one mail (`prefix` [`MAIL`] or [`MLQ`]) of the owner's.
fn mail_key(prefix: &[u8], owner: &str, cause: Cause, to: &str, part: u32) -> Vec<u8> {
    key(
        prefix,
        &[
            owner.as_bytes(),
            &cause.offset.to_be_bytes(),
            to.as_bytes(),
            &part.to_be_bytes(),
        ],
    )
}

/// Every mail still to be sent, by owner, then in the order of their
/// causes in the log.
pub(crate) fn mail_pending(tree: &ReadTree) -> Result<Vec<PendingMail>, StoreError> {
    let records: Vec<(String, QueuedMail)> = tree.list(MAIL)?;
    Ok(records
        .into_iter()
        .filter_map(|(k, record)| {
            // `owner\0` then the offset, the address and the part.
            let (owner, _) = k.split_once('\0')?;
            Some(PendingMail {
                owner: owner.to_string(),
                queued: record.queued,
                mail: record.mail,
            })
        })
        .collect())
}

/// Everything still to be delivered, by owner, then in log order.
pub(crate) fn pending(tree: &ReadTree) -> Result<Vec<Pending>, StoreError> {
    let records: Vec<(String, Outgoing)> = tree.list(SCH)?;
    Ok(records
        .into_iter()
        .filter_map(|(k, outgoing)| {
            // `owner\0` then the offset's 8 bytes.
            let (owner, _) = k.split_once('\0')?;
            Some(Pending {
                owner: owner.to_string(),
                outgoing,
            })
        })
        .collect())
}

/// The Schedule-Tag of `owner`'s object `uid`, if it is a scheduling
/// object written since scheduling exists.
pub(crate) fn schedule_tag(
    tree: &ReadTree,
    owner: &str,
    uid: &str,
) -> Result<Option<AggregateVersion>, StoreError> {
    tree.get(&stg_key(owner, uid))
}

type Calendars<'c, 'e, 'v, 't> = &'c mut Collections<'e, 'v, 't>;

fn cause_of(c: &Collections<'_, '_, '_>) -> Cause {
    Cause {
        partition: c.event.position.partition,
        offset: c.event.position.offset,
    }
}

/// Records what this event sends (`bag`, from `from` about `uid`), if
/// anything, as the owner's [`Outgoing`] at the event's position.
fn send(c: Calendars<'_, '_, '_, '_>, uid: &str, from: String, bag: Mailbag, organizer: bool) {
    if bag.to.is_empty() {
        return;
    }
    let outgoing = Outgoing {
        cause: cause_of(c),
        cause_event: c.event.event.event_id,
        uid: uid.to_string(),
        from,
        messages: bag.messages,
        to: bag.to,
        organizer,
    };
    let k = sch_key(&c.event.event.partition_key, outgoing.cause.offset);
    c.view.put_as(k, &outgoing);
}

/// Writes a text the server derived (a merged reply, statuses, an inbox
/// item) at `col`/`href`, with the component it holds.
fn put_text(
    c: Calendars<'_, '_, '_, '_>,
    (col, href): (&str, &str),
    uid: &str,
    text: &str,
) -> Result<(), StoreError> {
    let kind = formats::ical::validate_calendar_object(text)
        .map(|o| o.kind.as_str().to_string())
        .ok();
    c.put_derived::<CalendarProps>(col, href, uid, kind.as_deref(), text)
}

/// Collects messages, each text once.
#[derive(Default)]
struct Mailbag {
    messages: Vec<String>,
    to: BTreeMap<String, Vec<u32>>,
}

impl Mailbag {
    fn add(&mut self, to: &str, message: String) {
        let i = match self.messages.iter().position(|m| *m == message) {
            Some(i) => i,
            None => {
                self.messages.push(message);
                self.messages.len() - 1
            }
        };
        self.to.entry(to.to_string()).or_default().push(i as u32);
    }
}

/// The schedule tag changes: a client wrote the object, or the organizer
/// changed the attendee's copy.
pub(crate) fn new_schedule_tag(c: Calendars<'_, '_, '_, '_>, uid: &str) {
    let (owner, v) = (c.event.event.partition_key.clone(), c.event.version());
    c.view.put_as(stg_key(&owner, uid), &v);
}

/// An attendee's own write keeps the tag (RFC 6638 §3.2.10: their answer
/// is not a change the organizer made); their first write sets one.
pub(crate) fn keep_schedule_tag(c: Calendars<'_, '_, '_, '_>, uid: &str) -> Result<(), StoreError> {
    let owner = c.event.event.partition_key.clone();
    if c.view.get(&stg_key(&owner, uid))?.is_none() {
        new_schedule_tag(c, uid);
    }
    Ok(())
}

/// An organizer wrote (`new`) or deleted (`new` None) a scheduling object
/// that was `old`: REQUESTs to those invited, CANCELs to those no longer
/// (RFC 6638 §3.2.1).
pub(crate) fn organizer_wrote(
    c: Calendars<'_, '_, '_, '_>,
    address: &str,
    uid: &str,
    old: Option<&str>,
    new: Option<&str>,
) {
    let me = itip::normalized_address(address);
    let of = |text: Option<&str>| {
        text.and_then(|t| itip::participation(t).ok().flatten())
            .filter(|p| p.organizer.address == me)
    };
    let (before, after) = (of(old), of(new));
    let mut bag = Mailbag::default();
    for delivery in itip::organizer_deliveries(before.as_ref(), after.as_ref()) {
        let source = match delivery.method {
            itip::Method::Request => new,
            itip::Method::Cancel => old,
        };
        let Some(text) = source else { continue };
        if let Ok(Some(message)) = itip::message_for(text, &delivery) {
            bag.add(&delivery.attendee, message);
        }
    }
    send(c, uid, me, bag, true);
}

/// An attendee wrote (`new`) or deleted (`new` None) their copy `old`:
/// a REPLY to the organizer when their answer changed (or `force`), a
/// declining one when they deleted it (RFC 6638 §3.2.2).
pub(crate) fn attendee_wrote(
    c: Calendars<'_, '_, '_, '_>,
    address: &str,
    force: bool,
    uid: &str,
    old: Option<&str>,
    new: Option<&str>,
) {
    let me = itip::normalized_address(address);
    let Some(text) = new.or(old) else { return };
    let Ok(Some(participation)) = itip::participation(text) else {
        return;
    };
    let organizer = participation.organizer;
    if organizer.agent != itip::Agent::Server || organizer.address == me {
        return;
    }
    let answers = |t: Option<&str>| t.and_then(|t| itip::answers(t, &me).ok());
    let reply = match new {
        Some(new) => {
            let now = answers(Some(new));
            // A copy the attendee stores first (an invitation that came by
            // mail) answered nothing until it says more than NEEDS-ACTION.
            let before = match old {
                Some(_) => answers(old),
                None => now
                    .as_ref()
                    .map(|a| a.keys().map(|k| (*k, "NEEDS-ACTION".to_string())).collect()),
            };
            if before == now && !force {
                return;
            }
            itip::reply_for(new, &me)
        }
        None => {
            let was = answers(old).unwrap_or_default();
            if was.values().all(|p| p == "DECLINED") {
                return;
            }
            let declined = match itip::with_partstat(text, &me, "DECLINED") {
                Ok(Some(d)) => d,
                _ => text.to_string(),
            };
            itip::reply_for(&declined, &me)
        }
    };
    let Ok(Some(reply)) = reply else { return };
    let mut bag = Mailbag::default();
    bag.add(&organizer.address, reply);
    send(c, uid, me, bag, false);
}

/// Where the owner keeps an object with `uid`: a calendar (not the inbox),
/// its href and text.
fn find_by_uid(
    c: Calendars<'_, '_, '_, '_>,
    uid: &str,
) -> Result<Option<(String, String, String)>, StoreError> {
    for (col, _) in c.owned::<CalendarProps>()? {
        if col == SCHEDULE_INBOX {
            continue;
        }
        if let Some(href) = c.href_of_uid(&col, uid)? {
            if let Some(body) = c.object_body(&col, &href)? {
                return Ok(Some((col, href, body)));
            }
        }
    }
    Ok(None)
}

/// The calendar a new invitation goes to (`schedule-default-calendar-URL`):
/// the first, by name, that takes its component.
fn default_calendar(
    c: Calendars<'_, '_, '_, '_>,
    component: &str,
) -> Result<Option<String>, StoreError> {
    Ok(c.owned::<CalendarProps>()?
        .into_iter()
        .find(|(col, record)| col != SCHEDULE_INBOX && takes(record, component))
        .map(|(col, _)| col))
}

/// The default calendar of the owner, as readers see it.
pub fn default_calendar_of(
    collections: &[(String, CollectionRecord<CalendarProps>)],
) -> Option<String> {
    collections
        .iter()
        .find(|(col, record)| col != SCHEDULE_INBOX && takes(record, "VEVENT"))
        .map(|(col, _)| col.clone())
}

fn takes(record: &CollectionRecord<CalendarProps>, component: &str) -> bool {
    let components = &record.props.components;
    components.is_empty() || components.iter().any(|c| c.eq_ignore_ascii_case(component))
}

/// An href for a copy of `uid`: the UID itself when it is a plain name.
fn href_for(uid: &str) -> String {
    let plain = !uid.is_empty()
        && uid.len() <= 200
        && uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b));
    if plain {
        format!("{uid}.ics")
    } else {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(uid.as_bytes());
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("{hex}.ics")
    }
}

/// The owner's collection `col`, made when missing (the inbox; a room's
/// calendar).
fn ensure_collection(c: Calendars<'_, '_, '_, '_>, col: &str) -> Result<(), ApplyError> {
    if c.owned::<CalendarProps>()?.iter().any(|(n, _)| n == col) {
        return Ok(());
    }
    let props = CalendarProps {
        components: vec!["VEVENT".into(), "VTODO".into()],
        ..CalendarProps::default()
    };
    match c.create(col, props)? {
        Outcome::Applied { .. } => Ok(()),
        other => Err(ApplyError::Refused(format!(
            "making the collection {col}: {other:?}"
        ))),
    }
}

fn method_of(message: &str) -> String {
    formats::ical::tree::parse_tree(message)
        .ok()
        .and_then(|t| {
            t.property("METHOD")
                .map(|m| m.value.trim().to_ascii_uppercase())
        })
        .unwrap_or_default()
}

fn refused(reason: String) -> Result<Outcome, ApplyError> {
    Rejection::NotAllowed { reason }.into()
}

/// iTIP messages delivered to the owner (the envelope's partition key).
pub(crate) fn delivered(
    c: Calendars<'_, '_, '_, '_>,
    e: &SchedulingDelivered,
) -> Result<Outcome, ApplyError> {
    let owner = c.event.event.partition_key.clone();
    let applied = Outcome::Applied {
        version: c.event.version(),
    };
    let last: Option<Cause> = c.view.get_as(&dlv_key(&owner, &e.uid, &e.from))?;
    if last.is_some_and(|last| last >= e.cause) {
        return Ok(applied);
    }
    let mut auto_reply = None;
    for message in &e.messages {
        match method_of(message).as_str() {
            "REQUEST" | "CANCEL" => {
                let found = find_by_uid(c, &e.uid)?;
                let existing = found.as_ref().map(|(_, _, body)| body.as_str());
                let copy = match itip::attendee_copy(message, existing, &e.to) {
                    Ok(Some(copy)) => copy,
                    Ok(None) => continue,
                    Err(err) => return refused(format!("unreadable iTIP message: {err}")),
                };
                let copy = if e.auto_answer && method_of(message) == "REQUEST" {
                    let answered = answer_as_resource(c, &copy, &e.to, found.as_ref())?;
                    auto_reply = itip::reply_for(&answered, &e.to).ok().flatten();
                    answered
                } else {
                    copy
                };
                let object = match formats::ical::validate_calendar_object(&copy) {
                    Ok(object) => object,
                    Err(err) => return refused(format!("the copy would be invalid: {err}")),
                };
                let (col, href) = match found {
                    Some((col, href, _)) => (col, href),
                    None => {
                        if e.auto_answer {
                            ensure_collection(c, RESOURCE_CALENDAR)?;
                        }
                        let Some(col) = default_calendar(c, object.kind.as_str())? else {
                            return Rejection::NotFound {
                                what: "a calendar to deliver the invitation to".into(),
                            }
                            .into();
                        };
                        let mut href = href_for(&e.uid);
                        if c.object_body(&col, &href)?.is_some() {
                            href = format!(
                                "{}-{}.ics",
                                href.trim_end_matches(".ics"),
                                c.event.position.offset
                            );
                        }
                        (col, href)
                    }
                };
                c.put_derived::<CalendarProps>(
                    &col,
                    &href,
                    &e.uid,
                    Some(object.kind.as_str()),
                    &copy,
                )?;
                new_schedule_tag(c, &e.uid);
            }
            "REPLY" => {
                let Some((col, href, body)) = find_by_uid(c, &e.uid)? else {
                    return Rejection::NotFound {
                        what: format!("the object {} the reply answers", e.uid),
                    }
                    .into();
                };
                match itip::apply_reply(&body, message) {
                    Ok(updated) => put_text(c, (&col, &href), &e.uid, &updated)?,
                    Err(err @ ReplyError::NotInvited(_)) => return refused(err.to_string()),
                    Err(err) => return refused(format!("the reply cannot be applied: {err}")),
                }
            }
            other => return refused(format!("iTIP method {other:?} is not delivered")),
        }
    }
    to_inbox(c, e)?;
    c.view.put_as(dlv_key(&owner, &e.uid, &e.from), &e.cause);
    if let Some(reply) = auto_reply {
        if let Ok(Some(p)) = itip::participation(&reply) {
            let mut bag = Mailbag::default();
            bag.add(&p.organizer.address, reply);
            send(c, &e.uid, itip::normalized_address(&e.to), bag, false);
        }
    }
    Ok(applied)
}

/// A room's or equipment's answer to an invitation: accepted when free in
/// every instance, declined when one overlaps a booking it accepted.
fn answer_as_resource(
    c: Calendars<'_, '_, '_, '_>,
    copy: &str,
    resource: &str,
    found: Option<&(String, String, String)>,
) -> Result<String, ApplyError> {
    let mut others = Vec::new();
    for (col, _) in c.owned::<CalendarProps>()? {
        if col == SCHEDULE_INBOX {
            continue;
        }
        for href in c.hrefs(&col)? {
            if found.is_some_and(|(fc, fh, _)| *fc == col && *fh == href) {
                continue;
            }
            if let Some(body) = c.object_body(&col, &href)? {
                others.push(body);
            }
        }
    }
    let others: Vec<&str> = others.iter().map(String::as_str).collect();
    let limits = formats::ical::time::Limits {
        max_instances: 1000,
    };
    // An invitation that cannot be read in time is declined: a room is
    // never double-booked by a rule too long to check.
    let busy = itip::busy_conflict(copy, &others, resource, &limits).unwrap_or(true);
    let partstat = if busy { "DECLINED" } else { "ACCEPTED" };
    Ok(itip::with_partstat(copy, resource, partstat)
        .ok()
        .flatten()
        .unwrap_or_else(|| copy.to_string()))
}

/// Each message as an item of the owner's inbox, the oldest going beyond
/// [`INBOX_KEEP`].
fn to_inbox(c: Calendars<'_, '_, '_, '_>, e: &SchedulingDelivered) -> Result<(), ApplyError> {
    ensure_collection(c, SCHEDULE_INBOX)?;
    let offset = c.event.position.offset;
    for (i, message) in e.messages.iter().enumerate() {
        let href = format!("{offset:020}-{i}.ics");
        put_text(c, (SCHEDULE_INBOX, &href), &e.uid, message)?;
    }
    let hrefs = c.hrefs(SCHEDULE_INBOX)?;
    if hrefs.len() > INBOX_KEEP {
        for href in &hrefs[..hrefs.len() - INBOX_KEEP] {
            c.remove_derived::<CalendarProps>(SCHEDULE_INBOX, href)?;
        }
    }
    Ok(())
}

/// The leader delivered what the owner's event at `e.cause` sent.
pub(crate) fn completed(
    c: Calendars<'_, '_, '_, '_>,
    e: &SchedulingCompleted,
) -> Result<Outcome, ApplyError> {
    let owner = c.event.event.partition_key.clone();
    let applied = Outcome::Applied {
        version: c.event.version(),
    };
    let k = sch_key(&owner, e.cause.offset);
    let Some(outgoing) = c.view.get_as::<Outgoing>(&k)? else {
        return Ok(applied);
    };
    c.view.delete(k);
    if outgoing.organizer && !e.statuses.is_empty() {
        set_schedule_statuses(c, &outgoing.uid, &e.statuses)?;
    }
    Ok(applied)
}

/// The owner's object `uid` (when they still have it) with the attendees'
/// delivery statuses written, its Schedule-Tag kept: a status is no
/// change of the organizer's.
fn set_schedule_statuses(
    c: Calendars<'_, '_, '_, '_>,
    uid: &str,
    statuses: &BTreeMap<String, String>,
) -> Result<(), ApplyError> {
    let Some((col, href, body)) = find_by_uid(c, uid)? else {
        return Ok(());
    };
    if let Ok(Some(updated)) = itip::with_schedule_statuses(&body, statuses) {
        put_text(c, (&col, &href), uid, &updated)?;
    }
    Ok(())
}

/// The leader will mail `e.message` to `e.to`, outside the directory: the
/// mail is pending until its `ImipSent`. Queued once: the same mail queued
/// again changes nothing, sent or not.
pub(crate) fn imip_queued(
    c: Calendars<'_, '_, '_, '_>,
    e: &ImipQueued,
) -> Result<Outcome, ApplyError> {
    let owner = c.event.event.partition_key.clone();
    let applied = Outcome::Applied {
        version: c.event.version(),
    };
    let marker = mail_key(MLQ, &owner, e.cause, &e.to, e.part);
    if c.view.contains(&marker)? {
        return Ok(applied);
    }
    c.view.put(marker, Vec::new());
    let record = QueuedMail {
        queued: c.event.event.event_id,
        mail: e.clone(),
    };
    c.view
        .put_as(mail_key(MAIL, &owner, e.cause, &e.to, e.part), &record);
    Ok(applied)
}

/// The leader sent (or gave up sending) a queued mail: it is no longer
/// pending, and when the organizer sent it (a REQUEST or a CANCEL), their
/// object takes the attendee's delivery status (`SCHEDULE-STATUS`, RFC
/// 6638 §3.2.9), as [`completed`] does for recipients of the directory.
pub(crate) fn imip_sent(c: Calendars<'_, '_, '_, '_>, e: &ImipSent) -> Result<Outcome, ApplyError> {
    let owner = c.event.event.partition_key.clone();
    let applied = Outcome::Applied {
        version: c.event.version(),
    };
    let k = mail_key(MAIL, &owner, e.cause, &e.to, e.part);
    // Recorded twice (a leader that had not read the first): the first
    // said it.
    let Some(QueuedMail { mail, .. }) = c.view.get_as(&k)? else {
        return Ok(applied);
    };
    c.view.delete(k);
    if !matches!(method_of(&mail.message).as_str(), "REQUEST" | "CANCEL") {
        return Ok(applied);
    }
    let statuses = BTreeMap::from([(e.to.clone(), e.status.clone())]);
    set_schedule_statuses(c, &mail.uid, &statuses)?;
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendars::{Calendars, CalendarsView};
    use crate::store::ProjectionId;
    use crate::testing::TestStore;
    use events::payload::{CalendarCreated, CalendarObjectPut, Payload, SchedulingRole};
    use events::scheduling::SchedulingCompleted;
    use events::{Domain, EventEnvelope, EventId};

    const ALICE: &str = "alice@example.com";
    const BOB: &str = "bob@example.com";

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

    fn meeting(bob_partstat: &str) -> String {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\n\
             UID:m1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T090000Z\r\n\
             DURATION:PT1H\r\nSUMMARY:Sync\r\nORGANIZER:mailto:alice@example.com\r\n\
             ATTENDEE;PARTSTAT={bob_partstat}:mailto:bob@example.com\r\n\
             END:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    }

    fn put(owner_role: SchedulingRole, text: String) -> Payload {
        Payload::CalendarObjectPut(CalendarObjectPut {
            calendar: "default".into(),
            href: "m1.ics".into(),
            uid: "m1".into(),
            ical: text,
            ical_object: None,
            scheduling: Some(owner_role),
        })
    }

    struct Harness {
        store: TestStore,
        n: u64,
    }

    impl Harness {
        fn new() -> Harness {
            let id = ProjectionId::new(Calendars::NAME, Calendars::VERSION);
            let mut h = Harness {
                store: TestStore::new(id),
                n: 0,
            };
            for owner in [ALICE, BOB] {
                h.apply(
                    owner,
                    Payload::CalendarCreated(CalendarCreated {
                        calendar: "default".into(),
                        props: CalendarProps::default(),
                    }),
                );
            }
            h
        }

        fn apply(&mut self, owner: &str, payload: Payload) -> Outcome {
            self.n += 1;
            let event = envelope(self.n, owner, payload);
            self.store
                .run(&Calendars::CURRENT, Domain::Calendar, &[event], 1)
                .remove(0)
        }

        fn view(&self) -> CalendarsView {
            CalendarsView::open(&self.store.store, Calendars::VERSION).unwrap()
        }

        fn digest(&self) -> String {
            self.store.store.digest(&self.store.id).unwrap()
        }

        /// What the process manager would append for the one pending
        /// record: the delivery to `owner`.
        fn delivery(&self, pending: &Pending) -> Payload {
            let to = pending.outgoing.to.keys().next().unwrap().clone();
            Payload::SchedulingDelivered(SchedulingDelivered {
                cause: pending.outgoing.cause,
                from: pending.outgoing.from.clone(),
                to: to.clone(),
                uid: pending.outgoing.uid.clone(),
                messages: pending.outgoing.messages_for(&to),
                auto_answer: false,
            })
        }
    }

    #[test]
    fn an_invitation_is_delivered_once_and_the_answer_comes_back() {
        let mut h = Harness::new();
        let organizer = SchedulingRole::Organizer {
            address: "mailto:alice@example.com".into(),
        };
        h.apply(ALICE, put(organizer, meeting("NEEDS-ACTION")));
        let pending = h.view().scheduling_pending().unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].owner, ALICE);
        assert!(pending[0].outgoing.organizer);
        assert_eq!(
            pending[0].outgoing.to.keys().collect::<Vec<_>>(),
            ["mailto:bob@example.com"]
        );

        // Delivered: Bob's copy and inbox item; delivered again (after a
        // switch), nothing changes.
        let delivery = h.delivery(&pending[0]);
        h.apply(BOB, delivery.clone());
        let view = h.view();
        let copy = view.object(BOB, "default", "m1.ics").unwrap().unwrap();
        assert!(copy.body.contains("PARTSTAT=NEEDS-ACTION"));
        assert!(!copy.body.contains("METHOD"));
        assert_eq!(view.members(BOB, SCHEDULE_INBOX).unwrap().len(), 1);
        let tag = view.schedule_tag(BOB, "m1").unwrap();
        assert!(tag.is_some());
        let before = h.digest();
        h.apply(BOB, delivery);
        assert_eq!(h.digest(), before);

        // Completed: nothing pending.
        h.apply(
            ALICE,
            Payload::SchedulingCompleted(SchedulingCompleted {
                cause: pending[0].outgoing.cause,
                statuses: BTreeMap::from([("mailto:bob@example.com".into(), "1.2".into())]),
            }),
        );
        assert!(h.view().scheduling_pending().unwrap().is_empty());

        // Bob accepts: a REPLY pending; his tag stays.
        let attendee = SchedulingRole::Attendee {
            address: "mailto:bob@example.com".into(),
            force: false,
        };
        h.apply(
            BOB,
            put(
                attendee.clone(),
                copy.body.replace("NEEDS-ACTION", "ACCEPTED"),
            ),
        );
        assert_eq!(h.view().schedule_tag(BOB, "m1").unwrap(), tag);
        let pending = h.view().scheduling_pending().unwrap();
        assert_eq!(pending.len(), 1);
        assert!(!pending[0].outgoing.organizer);
        let reply = h.delivery(&pending[0]);
        let alice_tag = h.view().schedule_tag(ALICE, "m1").unwrap();
        h.apply(ALICE, reply);
        let organizers = h
            .view()
            .object(ALICE, "default", "m1.ics")
            .unwrap()
            .unwrap();
        assert!(
            organizers.body.contains("PARTSTAT=ACCEPTED"),
            "{}",
            organizers.body
        );
        // A reply merged leaves the organizer's Schedule-Tag.
        assert_eq!(h.view().schedule_tag(ALICE, "m1").unwrap(), alice_tag);

        // Saving the same answer again sends nothing.
        h.apply(
            BOB,
            put(attendee, copy.body.replace("NEEDS-ACTION", "ACCEPTED")),
        );
        assert_eq!(h.view().scheduling_pending().unwrap().len(), 1);
    }

    #[test]
    fn a_reply_from_someone_not_invited_is_refused_and_changes_nothing() {
        let mut h = Harness::new();
        let organizer = SchedulingRole::Organizer {
            address: "mailto:alice@example.com".into(),
        };
        h.apply(ALICE, put(organizer, meeting("NEEDS-ACTION")));
        let before = h.digest();
        let forged = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nMETHOD:REPLY\r\n\
                      BEGIN:VEVENT\r\nUID:m1\r\nDTSTAMP:20260101T000000Z\r\n\
                      ORGANIZER:mailto:alice@example.com\r\n\
                      ATTENDEE;PARTSTAT=ACCEPTED:mailto:mallory@example.com\r\n\
                      END:VEVENT\r\nEND:VCALENDAR\r\n";
        let outcome = h.apply(
            ALICE,
            Payload::SchedulingDelivered(SchedulingDelivered {
                cause: Cause {
                    partition: 0,
                    offset: 99,
                },
                from: "mailto:mallory@example.com".into(),
                to: "mailto:alice@example.com".into(),
                uid: "m1".into(),
                messages: vec![forged.into()],
                auto_answer: false,
            }),
        );
        assert!(
            matches!(
                outcome,
                Outcome::Rejected {
                    rejection: Rejection::NotAllowed { .. }
                }
            ),
            "{outcome:?}"
        );
        assert_eq!(h.digest(), before);
    }
}

#[cfg(test)]
mod mail_tests {
    use super::*;
    use crate::calendars::{Calendars, CalendarsView};
    use crate::store::ProjectionId;
    use crate::testing::TestStore;
    use events::payload::{CalendarCreated, CalendarObjectPut, SchedulingRole};
    use events::{Domain, EventEnvelope, Payload};

    const ALICE: &str = "alice@example.com";
    const CAROL: &str = "mailto:carol@elsewhere.test";

    fn envelope(n: u64, payload: Payload) -> EventEnvelope {
        let id = format!("01900000-0000-7000-8000-{n:012x}");
        EventEnvelope::new(
            EventId(id.parse().expect("uuid")),
            "2026-01-01T00:00:00Z".parse().expect("time"),
            ALICE,
            ALICE,
            payload,
        )
    }

    struct Fixture {
        harness: TestStore,
        view: CalendarsView,
    }

    impl Fixture {
        fn new() -> Fixture {
            let harness = TestStore::new(ProjectionId::new(Calendars::NAME, Calendars::VERSION));
            let view = CalendarsView::new(harness.tree(), Calendars::VERSION);
            Fixture { harness, view }
        }

        /// Applies `payload` at the next offset; returns that offset.
        fn apply(&mut self, payload: Payload) -> u64 {
            let at = self.harness.next;
            let outcome = self.harness.run(
                &Calendars::CURRENT,
                Domain::Calendar,
                &[envelope(at, payload)],
                1,
            );
            assert!(
                matches!(outcome[..], [Outcome::Applied { .. }]),
                "{outcome:?}"
            );
            at
        }

        fn digest(&self) -> String {
            self.harness.store.digest(&self.harness.id).unwrap()
        }

        fn carol_line(&self) -> String {
            let object = self
                .view
                .object(ALICE, "default", "m.ics")
                .unwrap()
                .unwrap();
            object
                .body
                .replace("\r\n ", "")
                .split("\r\n")
                .find(|l| l.starts_with("ATTENDEE") && l.contains("carol@"))
                .unwrap()
                .to_string()
        }
    }

    fn meeting() -> String {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:m\r\n\
             DTSTAMP:20310101T000000Z\r\nDTSTART:20310303T100000Z\r\nSUMMARY:Plan\r\n\
             ORGANIZER:mailto:{ALICE}\r\nATTENDEE;SCHEDULE-STATUS=1.0:{CAROL}\r\n\
             END:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    }

    #[test]
    fn a_mail_is_pending_from_its_queuing_to_its_sending_and_queued_once() {
        let mut f = Fixture::new();
        f.apply(Payload::CalendarCreated(CalendarCreated {
            calendar: "default".into(),
            props: CalendarProps::default(),
        }));
        let put = f.apply(Payload::CalendarObjectPut(CalendarObjectPut {
            calendar: "default".into(),
            href: "m.ics".into(),
            uid: "m".into(),
            ical: meeting(),
            ical_object: None,
            scheduling: Some(SchedulingRole::Organizer {
                address: format!("mailto:{ALICE}"),
            }),
        }));
        let cause = Cause {
            partition: 0,
            offset: put,
        };
        let pending = f.view.scheduling_pending().unwrap();
        assert_eq!(pending.len(), 1);
        let message = pending[0].outgoing.messages_for(CAROL).remove(0);
        let queued = ImipQueued {
            cause,
            to: CAROL.into(),
            part: 0,
            from: format!("mailto:{ALICE}"),
            uid: "m".into(),
            message,
            message_id: "<x@example.com>".into(),
        };
        let at = f.apply(Payload::ImipQueued(queued.clone()));
        let mails = f.view.mail_pending().unwrap();
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].owner, ALICE);
        assert_eq!(mails[0].mail, queued);
        assert_eq!(
            mails[0].queued,
            envelope(at, Payload::ImipQueued(queued.clone())).event_id
        );

        // Queued again (a leader that had not read the first): nothing.
        let before = f.digest();
        f.apply(Payload::ImipQueued(queued.clone()));
        assert_eq!(f.view.mail_pending().unwrap().len(), 1);
        assert_eq!(f.digest(), before);

        f.apply(Payload::SchedulingCompleted(SchedulingCompleted {
            cause,
            statuses: BTreeMap::from([(CAROL.to_string(), "1.0".to_string())]),
        }));
        assert!(f.carol_line().contains("SCHEDULE-STATUS=1.0"));
        let tag = f.view.schedule_tag(ALICE, "m").unwrap();

        let sent = ImipSent {
            cause,
            to: CAROL.into(),
            part: 0,
            status: "1.1".into(),
            reason: None,
        };
        f.apply(Payload::ImipSent(sent.clone()));
        assert!(f.view.mail_pending().unwrap().is_empty());
        assert!(
            f.carol_line().contains("SCHEDULE-STATUS=1.1"),
            "{}",
            f.carol_line()
        );
        // A status is not a change of the organizer's.
        assert_eq!(f.view.schedule_tag(ALICE, "m").unwrap(), tag);

        // Sent: queued or recorded again, nothing changes.
        let before = f.digest();
        f.apply(Payload::ImipQueued(queued));
        f.apply(Payload::ImipSent(ImipSent {
            status: "5.1".into(),
            reason: Some("late".into()),
            ..sent
        }));
        assert!(f.view.mail_pending().unwrap().is_empty());
        assert_eq!(f.digest(), before);
        assert!(f.carol_line().contains("SCHEDULE-STATUS=1.1"));
    }
}
