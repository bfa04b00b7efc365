//! iTIP (RFC 5546) as server-side CalDAV scheduling (RFC 6638) needs it,
//! pure: who takes part in a calendar object and in which of its
//! instances ([`participation`]), what an organizer's change means for
//! each attendee ([`organizer_deliveries`]), and the iTIP message that
//! carries it to one attendee ([`message_for`]). What a server does with
//! the deliveries (an attendee's copy, an inbox item, an email) is decided
//! elsewhere; this module only reads and writes text.

use super::time::Zones;
use super::tree::{parse_tree, Component, ContentProperty};
use crate::FormatError;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

const ITEMS: [&str; 3] = ["VEVENT", "VTODO", "VJOURNAL"];

/// Who handles scheduling for one calendar user (RFC 6638 §7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agent {
    /// The server delivers (the default).
    Server,
    /// The client does; the server only stores.
    Client,
    /// No one does.
    None,
}

/// A calendar user address as compared: `mailto:` addresses lowercased
/// (RFC 6638 §3.1 leaves case to the server; mail is case-insensitive in
/// practice), others as written.
pub fn normalized_address(value: &str) -> String {
    let value = value.trim();
    match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("mailto:") => {
            format!("mailto:{}", value[7..].to_ascii_lowercase())
        }
        _ => value.to_string(),
    }
}

/// An ORGANIZER or ATTENDEE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Party {
    /// Normalised ([`normalized_address`]).
    pub address: String,
    pub agent: Agent,
    /// PARTSTAT, uppercased; None when absent (NEEDS-ACTION by default).
    pub partstat: Option<String>,
    /// CUTYPE, uppercased; None for INDIVIDUAL by default.
    pub cutype: Option<String>,
}

impl Party {
    fn of(p: &ContentProperty) -> Party {
        let agent = match p.param("SCHEDULE-AGENT").map(str::to_ascii_uppercase) {
            Some(a) if a == "CLIENT" => Agent::Client,
            Some(a) if a == "NONE" => Agent::None,
            _ => Agent::Server,
        };
        Party {
            address: normalized_address(&p.value),
            agent,
            partstat: p.param("PARTSTAT").map(str::to_ascii_uppercase),
            cutype: p.param("CUTYPE").map(str::to_ascii_uppercase),
        }
    }
}

/// Which instance a component describes: the master (None) or the
/// override for a RECURRENCE-ID, as an instant.
pub type InstanceId = Option<DateTime<Utc>>;

/// Who takes part in one scheduling object, instance by instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Participation {
    pub uid: String,
    pub organizer: Party,
    /// Per instance (master first when there is one), its attendees and
    /// whether it is cancelled (STATUS:CANCELLED).
    pub instances: BTreeMap<InstanceId, InstanceParties>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstanceParties {
    pub attendees: Vec<Party>,
    pub cancelled: bool,
}

/// The participation of an object, or None when it is not a scheduling
/// object (no ORGANIZER, or no ATTENDEE at all: RFC 6638 §3.1).
pub fn participation(text: &str) -> Result<Option<Participation>, FormatError> {
    let calendar = parse_tree(text)?;
    let zones = Zones::new(&calendar, None);
    let mut organizer = None;
    let mut uid = String::new();
    let mut instances = BTreeMap::new();
    for c in calendar.components.iter().filter(|c| is_item(c)) {
        if let Some(o) = c.property("ORGANIZER") {
            organizer.get_or_insert_with(|| Party::of(o));
        }
        if let Some(u) = c.property("UID") {
            uid = u.value.clone();
        }
        let id = instance_id(c, &zones);
        let parties = InstanceParties {
            attendees: c.properties_named("ATTENDEE").map(Party::of).collect(),
            cancelled: c
                .property("STATUS")
                .is_some_and(|s| s.value.trim().eq_ignore_ascii_case("CANCELLED")),
        };
        instances.insert(id, parties);
    }
    let Some(organizer) = organizer else {
        return Ok(None);
    };
    if instances.values().all(|i| i.attendees.is_empty()) {
        return Ok(None);
    }
    Ok(Some(Participation {
        uid,
        organizer,
        instances,
    }))
}

fn is_item(c: &Component) -> bool {
    ITEMS.contains(&c.name.as_str())
}

/// The instance a component describes; a RECURRENCE-ID that does not read
/// as a time counts as the master's (the validator refuses such objects).
fn instance_id(c: &Component, zones: &Zones<'_>) -> InstanceId {
    c.property("RECURRENCE-ID")
        .and_then(|p| zones.instant(p).ok())
        .map(|(instant, _)| instant)
}

/// What the server sends one attendee after an organizer's change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub attendee: String,
    pub method: Method,
    /// The components the message carries: the master (None) and the
    /// overrides the attendee is (REQUEST) or was (CANCEL) in.
    pub instances: BTreeSet<InstanceId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Method {
    Request,
    Cancel,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Request => "REQUEST",
            Method::Cancel => "CANCEL",
        }
    }
}

/// RFC 6638 §3.2.1: what an organizer's create (`old` None), change, or
/// delete (`new` None) sends. Every attendee the server schedules for
/// (SCHEDULE-AGENT=SERVER) who is not the organizer gets a REQUEST with
/// the components they take part in, and a CANCEL with those they were
/// removed from (all of them when removed from the object, or when it is
/// deleted). Sorted by attendee, then method.
pub fn organizer_deliveries(
    old: Option<&Participation>,
    new: Option<&Participation>,
) -> Vec<Delivery> {
    let organizer = new.or(old).map(|p| p.organizer.address.clone());
    // Attendee → instances they are in, before and after.
    let invited = |p: Option<&Participation>| {
        let mut by: BTreeMap<String, BTreeSet<InstanceId>> = BTreeMap::new();
        for (id, inst) in p.map(|p| &p.instances).into_iter().flatten() {
            for a in &inst.attendees {
                if a.agent == Agent::Server && Some(&a.address) != organizer.as_ref() {
                    by.entry(a.address.clone()).or_default().insert(*id);
                }
            }
        }
        by
    };
    let (before, after) = (invited(old), invited(new));
    let mut deliveries = Vec::new();
    for (attendee, now) in &after {
        deliveries.push(Delivery {
            attendee: attendee.clone(),
            method: Method::Request,
            instances: now.clone(),
        });
        let removed: BTreeSet<InstanceId> = before
            .get(attendee)
            .map(|was| was.difference(now).copied().collect())
            .unwrap_or_default();
        // Taken off overrides but still invited to the series: those
        // instances are cancelled for them.
        if !removed.is_empty() {
            deliveries.push(Delivery {
                attendee: attendee.clone(),
                method: Method::Cancel,
                instances: removed,
            });
        }
    }
    for (attendee, was) in before {
        if !after.contains_key(&attendee) {
            deliveries.push(Delivery {
                attendee,
                method: Method::Cancel,
                instances: was,
            });
        }
    }
    deliveries.sort_by(|a, b| (&a.attendee, a.method).cmp(&(&b.attendee, b.method)));
    deliveries
}

/// The iTIP message (`METHOD:REQUEST` or `METHOD:CANCEL`) carrying
/// `delivery` to its attendee: the object with only the components named
/// (and its VTIMEZONEs), a CANCEL's marked `STATUS:CANCELLED`. None when
/// the object has none of them.
pub fn message_for(text: &str, delivery: &Delivery) -> Result<Option<String>, FormatError> {
    let mut calendar = parse_tree(text)?;
    let zones_tree = calendar.clone();
    let zones = Zones::new(&zones_tree, None);
    calendar
        .components
        .retain(|c| !is_item(c) || delivery.instances.contains(&instance_id(c, &zones)));
    if !calendar.components.iter().any(is_item) {
        return Ok(None);
    }
    calendar.properties.retain(|p| p.name != "METHOD");
    calendar.properties.push(ContentProperty::written(
        "METHOD",
        Vec::new(),
        delivery.method.as_str(),
    ));
    // What the organizer's server writes for itself stays there.
    for c in calendar.components.iter_mut().filter(|c| is_item(c)) {
        for p in c
            .properties
            .iter_mut()
            .filter(|p| p.name == "ATTENDEE" || p.name == "ORGANIZER")
        {
            if p.params.iter().any(|(n, _)| n == "SCHEDULE-STATUS") {
                let params = p
                    .params
                    .iter()
                    .filter(|(n, _)| n != "SCHEDULE-STATUS")
                    .cloned()
                    .collect();
                let name = p.name.clone();
                *p = ContentProperty::written(&name, params, &p.value);
            }
        }
    }
    if delivery.method == Method::Cancel {
        for c in calendar.components.iter_mut().filter(|c| is_item(c)) {
            c.properties.retain(|p| p.name != "STATUS");
            c.properties
                .push(ContentProperty::written("STATUS", Vec::new(), "CANCELLED"));
        }
    }
    Ok(Some(calendar.to_text()))
}

/// What a REQUEST or CANCEL makes of an attendee's copy (RFC 6638 §3.2.2;
/// `existing` is the copy as it is, if any): the organizer's data, the
/// method gone, with what is the attendee's own kept per instance: their
/// alarms and TRANSP, and their answer (PARTSTAT) unless the organizer
/// raised the SEQUENCE, which asks everyone again (RFC 5546 §2.1.4).
/// A CANCEL marks the instances it names
/// `STATUS:CANCELLED` (adding an override the copy did not have), so the
/// attendee sees it was cancelled; it never makes a copy where none was
/// (None).
pub fn attendee_copy(
    message: &str,
    existing: Option<&str>,
    attendee: &str,
) -> Result<Option<String>, FormatError> {
    let me = normalized_address(attendee);
    let mut incoming = parse_tree(message)?;
    let method = incoming
        .property("METHOD")
        .map(|m| m.value.trim().to_ascii_uppercase());
    incoming.properties.retain(|p| p.name != "METHOD");
    let incoming_tree = incoming.clone();
    let incoming_zones = Zones::new(&incoming_tree, None);
    let old = existing.map(parse_tree).transpose()?;
    let old_tree = old.clone();
    let old_zones = old_tree.as_ref().map(|t| Zones::new(t, None));
    let own = |id: InstanceId| -> Option<&Component> {
        let (old, zones) = (old_tree.as_ref()?, old_zones.as_ref()?);
        old.components
            .iter()
            .find(|c| is_item(c) && instance_id(c, zones) == id)
    };
    if method.as_deref() == Some("CANCEL") {
        let Some(mut copy) = old else {
            return Ok(None);
        };
        let zones_tree = copy.clone();
        let zones = Zones::new(&zones_tree, None);
        for cancelled in incoming.components.iter().filter(|c| is_item(c)) {
            let id = instance_id(cancelled, &incoming_zones);
            match copy
                .components
                .iter_mut()
                .find(|c| is_item(c) && instance_id(c, &zones) == id)
            {
                Some(c) => {
                    c.properties.retain(|p| p.name != "STATUS");
                    c.properties
                        .push(ContentProperty::written("STATUS", Vec::new(), "CANCELLED"));
                }
                None => copy.components.push(cancelled.clone()),
            }
        }
        return Ok(Some(copy.to_text()));
    }
    for c in incoming.components.iter_mut().filter(|c| is_item(c)) {
        let Some(mine) = own(instance_id(c, &incoming_zones)) else {
            continue;
        };
        c.components.retain(|sub| sub.name != "VALARM");
        c.components.extend(
            mine.components
                .iter()
                .filter(|s| s.name == "VALARM")
                .cloned(),
        );
        c.properties.retain(|p| p.name != "TRANSP");
        c.properties
            .extend(mine.properties_named("TRANSP").cloned());
        let sequence = |c: &Component| {
            c.property("SEQUENCE")
                .and_then(|p| p.value.trim().parse::<i64>().ok())
                .unwrap_or(0)
        };
        let my_answer = mine
            .properties_named("ATTENDEE")
            .find(|p| normalized_address(&p.value) == me)
            .and_then(|p| p.param("PARTSTAT"))
            .map(str::to_string);
        if let (Some(answer), true) = (my_answer, sequence(c) <= sequence(mine)) {
            for p in c
                .properties
                .iter_mut()
                .filter(|p| p.name == "ATTENDEE" && normalized_address(&p.value) == me)
            {
                let mut params = p.params.clone();
                set_param(&mut params, "PARTSTAT", &answer);
                *p = ContentProperty::written("ATTENDEE", params, &p.value);
            }
        }
    }
    Ok(Some(incoming.to_text()))
}

/// The iTIP REPLY (RFC 5546 §3.2.3) an attendee's copy sends: for each
/// component the attendee is in, what identifies it (UID, RECURRENCE-ID,
/// SEQUENCE, DTSTAMP, ORGANIZER) and only the attendee's own ATTENDEE
/// line. None when the attendee is in no component.
pub fn reply_for(text: &str, attendee: &str) -> Result<Option<String>, FormatError> {
    const KEPT: [&str; 6] = [
        "UID",
        "RECURRENCE-ID",
        "SEQUENCE",
        "DTSTAMP",
        "ORGANIZER",
        "DTSTART",
    ];
    let mut calendar = parse_tree(text)?;
    let me = normalized_address(attendee);
    let mut any = false;
    for c in calendar.components.iter_mut().filter(|c| is_item(c)) {
        let mine = c
            .properties
            .iter()
            .any(|p| p.name == "ATTENDEE" && normalized_address(&p.value) == me);
        c.components.clear();
        c.properties.retain(|p| {
            KEPT.contains(&p.name.as_str())
                || (p.name == "ATTENDEE" && normalized_address(&p.value) == me)
        });
        any |= mine;
    }
    calendar
        .components
        .retain(|c| !is_item(c) || c.properties.iter().any(|p| p.name == "ATTENDEE"));
    if !any {
        return Ok(None);
    }
    calendar.properties.retain(|p| p.name != "METHOD");
    calendar
        .properties
        .push(ContentProperty::written("METHOD", Vec::new(), "REPLY"));
    Ok(Some(calendar.to_text()))
}

/// Why a REPLY cannot be applied to the organizer's copy.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReplyError {
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("the reply is about object {reply:?}, not {object:?}")]
    OtherObject { reply: String, object: String },
    #[error("the reply has no ATTENDEE, or more than one")]
    NoAttendee,
    /// RFC 6638 §3.2.2.1: a reply from someone not invited is refused.
    #[error("{0} is not an attendee of this object")]
    NotInvited(String),
}

/// The organizer's copy with an attendee's answers (PARTSTAT, per
/// instance) from their REPLY: only that attendee's ATTENDEE parameters
/// change, and SCHEDULE-STATUS goes (the answer is the news). Instances
/// the organizer's copy has no component for keep the series' answer.
pub fn apply_reply(organizer_text: &str, reply: &str) -> Result<String, ReplyError> {
    let replied = parse_tree(reply)?;
    let reply_zones = Zones::new(&replied, None);
    let mut answers: BTreeMap<InstanceId, (String, String)> = BTreeMap::new();
    let mut uid = None;
    for c in replied.components.iter().filter(|c| is_item(c)) {
        uid = c.property("UID").map(|u| u.value.clone()).or(uid);
        let mut attendees = c.properties_named("ATTENDEE");
        let (Some(a), None) = (attendees.next(), attendees.next()) else {
            return Err(ReplyError::NoAttendee);
        };
        let partstat = a
            .param("PARTSTAT")
            .unwrap_or("NEEDS-ACTION")
            .to_ascii_uppercase();
        answers.insert(
            instance_id(c, &reply_zones),
            (normalized_address(&a.value), partstat),
        );
    }
    let Some(who) = answers.values().next().map(|(who, _)| who.clone()) else {
        return Err(ReplyError::NoAttendee);
    };
    let mut calendar = parse_tree(organizer_text)?;
    let frozen = calendar.clone();
    let zones = Zones::new(&frozen, None);
    let object_uid = calendar
        .components
        .iter()
        .find_map(|c| c.property("UID"))
        .map(|u| u.value.clone())
        .unwrap_or_default();
    if uid.as_deref() != Some(object_uid.as_str()) {
        return Err(ReplyError::OtherObject {
            reply: uid.unwrap_or_default(),
            object: object_uid,
        });
    }
    let mut invited = false;
    for c in calendar.components.iter_mut().filter(|c| is_item(c)) {
        let id = instance_id(c, &zones);
        // An override takes its own answer, else the series'.
        let Some((_, partstat)) = answers.get(&id).or_else(|| answers.get(&None)) else {
            continue;
        };
        for p in c.properties.iter_mut().filter(|p| p.name == "ATTENDEE") {
            if normalized_address(&p.value) != who {
                continue;
            }
            invited = true;
            let mut params: Vec<(String, String)> = p
                .params
                .iter()
                .filter(|(n, _)| n != "PARTSTAT" && n != "SCHEDULE-STATUS")
                .cloned()
                .collect();
            params.push(("PARTSTAT".into(), partstat.clone()));
            *p = ContentProperty::written("ATTENDEE", params, &p.value);
        }
    }
    if !invited {
        return Err(ReplyError::NotInvited(who));
    }
    Ok(calendar.to_text())
}

/// A content line's parameters, as the tree keeps them.
type Params = Vec<(String, String)>;

/// A span of time.
type Span = (DateTime<Utc>, DateTime<Utc>);

/// `text` with the parameters of `address`'s ATTENDEE lines changed by
/// `change` (on every component), or None when nothing changed.
fn with_attendee_params(
    text: &str,
    address: &str,
    change: &dyn Fn(&mut Params),
) -> Result<Option<String>, FormatError> {
    let mut calendar = parse_tree(text)?;
    let who = normalized_address(address);
    let mut changed = false;
    for c in calendar.components.iter_mut().filter(|c| is_item(c)) {
        for p in c.properties.iter_mut().filter(|p| p.name == "ATTENDEE") {
            if normalized_address(&p.value) != who {
                continue;
            }
            let mut params = p.params.clone();
            change(&mut params);
            if params != p.params {
                *p = ContentProperty::written("ATTENDEE", params, &p.value);
                changed = true;
            }
        }
    }
    Ok(changed.then(|| calendar.to_text()))
}

fn set_param(params: &mut Params, name: &str, value: &str) {
    params.retain(|(n, _)| n != name);
    params.push((name.to_string(), value.to_string()));
}

/// `text` with `attendee`'s PARTSTAT set to `partstat` wherever they are
/// invited (an attendee's delete declines: RFC 6638 §3.2.2.2; a room
/// answers), RSVP gone; None when nothing changed.
pub fn with_partstat(
    text: &str,
    attendee: &str,
    partstat: &str,
) -> Result<Option<String>, FormatError> {
    with_attendee_params(text, attendee, &|params| {
        params.retain(|(n, _)| n != "RSVP");
        set_param(params, "PARTSTAT", partstat);
    })
}

/// `text` with each attendee's SCHEDULE-STATUS (RFC 6638 §7.3) set as
/// `statuses` says (address → status); None when nothing changed.
pub fn with_schedule_statuses(
    text: &str,
    statuses: &BTreeMap<String, String>,
) -> Result<Option<String>, FormatError> {
    let mut current = None::<String>;
    for (address, status) in statuses {
        let base = current.as_deref().unwrap_or(text);
        if let Some(changed) = with_attendee_params(base, address, &|params| {
            set_param(params, "SCHEDULE-STATUS", status)
        })? {
            current = Some(changed);
        }
    }
    Ok(current)
}

/// An attendee's answers: instance → PARTSTAT (NEEDS-ACTION when absent),
/// for every component they are in.
pub fn answers(text: &str, attendee: &str) -> Result<BTreeMap<InstanceId, String>, FormatError> {
    let calendar = parse_tree(text)?;
    let zones = Zones::new(&calendar, None);
    let who = normalized_address(attendee);
    let mut out = BTreeMap::new();
    for c in calendar.components.iter().filter(|c| is_item(c)) {
        if let Some(p) = c
            .properties_named("ATTENDEE")
            .find(|p| normalized_address(&p.value) == who)
        {
            let partstat = p.param("PARTSTAT").unwrap_or("NEEDS-ACTION");
            out.insert(instance_id(c, &zones), partstat.to_ascii_uppercase());
        }
    }
    Ok(out)
}

/// The parameters a client may send that the server acts on and never
/// stores (RFC 6638 §7.1, §7.2): SCHEDULE-FORCE-SEND on ORGANIZER and
/// ATTENDEE, and SCHEDULE-STATUS on ORGANIZER (the server's to write).
/// Returns the text without them and whether a force-send was asked for;
/// the text unchanged when there is nothing to remove.
pub fn without_client_only_params(text: &str) -> Result<(String, bool), FormatError> {
    let mut calendar = parse_tree(text)?;
    let mut forced = false;
    let mut changed = false;
    for c in calendar.components.iter_mut().filter(|c| is_item(c)) {
        for p in c
            .properties
            .iter_mut()
            .filter(|p| p.name == "ATTENDEE" || p.name == "ORGANIZER")
        {
            let before = p.params.len();
            forced |= p.params.iter().any(|(n, _)| n == "SCHEDULE-FORCE-SEND");
            let mut params = p.params.clone();
            params.retain(|(n, _)| n != "SCHEDULE-FORCE-SEND");
            if params.len() != before {
                let name = p.name.clone();
                *p = ContentProperty::written(&name, params, &p.value);
                changed = true;
            }
        }
    }
    Ok(if changed {
        (calendar.to_text(), forced)
    } else {
        (text.to_string(), forced)
    })
}

/// Whether `candidate` (a room's or equipment's copy of an invitation)
/// overlaps, in any of its VEVENT instances, a busy instance of one of
/// `others` (the resource's other objects): one that is opaque, not
/// cancelled, and not declined by `resource`. Recurrences are looked at
/// within `limits`.
pub fn busy_conflict(
    candidate: &str,
    others: &[&str],
    resource: &str,
    limits: &super::time::Limits,
) -> Result<bool, FormatError> {
    use super::time::{occurrences_in, TimeRange};
    let everything = TimeRange {
        start: None,
        end: None,
    };
    let busy_spans = |text: &str, range: &TimeRange| -> Result<Vec<Span>, FormatError> {
        let calendar = parse_tree(text)?;
        let zones = Zones::new(&calendar, None);
        let who = normalized_address(resource);
        let occurrences = occurrences_in(&calendar, range, &zones, limits)
            .map_err(|e| FormatError::new(0, e.to_string()))?;
        Ok(occurrences
            .into_iter()
            .filter(|o| {
                let Some(c) = calendar.components.get(o.component) else {
                    return false;
                };
                let value = |name: &str| {
                    c.property(name)
                        .map(|p| p.value.trim().to_ascii_uppercase())
                };
                let declined = c.properties_named("ATTENDEE").any(|p| {
                    normalized_address(&p.value) == who
                        && p.param("PARTSTAT")
                            .is_some_and(|s| s.eq_ignore_ascii_case("DECLINED"))
                });
                c.name == "VEVENT"
                    && value("TRANSP").as_deref() != Some("TRANSPARENT")
                    && value("STATUS").as_deref() != Some("CANCELLED")
                    && !declined
                    && o.start < o.end
            })
            .map(|o| (o.start, o.end))
            .collect())
    };
    let wanted = busy_spans(candidate, &everything)?;
    let (Some(first), Some(last)) = (
        wanted.iter().map(|w| w.0).min(),
        wanted.iter().map(|w| w.1).max(),
    ) else {
        return Ok(false);
    };
    let range = TimeRange {
        start: Some(first),
        end: Some(last),
    };
    for other in others {
        for (start, end) in busy_spans(other, &range)? {
            if wanted.iter().any(|(s, e)| *s < end && start < *e) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ical::validate_calendar_object;

    const ALICE: &str = "mailto:alice@example.com";
    const BOB: &str = "mailto:bob@example.com";
    const CAROL: &str = "mailto:carol@example.com";

    fn object(attendees: &[&str], overrides: &[(&str, &[&str])]) -> String {
        let mut text = String::from(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\n\
             UID:meeting\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T090000Z\r\n\
             DTEND:20260105T100000Z\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Sync\r\n\
             ORGANIZER;CN=Alice:MAILTO:Alice@Example.com\r\n",
        );
        for a in attendees {
            text.push_str(&format!("ATTENDEE;PARTSTAT=NEEDS-ACTION:{a}\r\n"));
        }
        text.push_str("END:VEVENT\r\n");
        for (rid, attendees) in overrides {
            text.push_str(&format!(
                "BEGIN:VEVENT\r\nUID:meeting\r\nDTSTAMP:20260101T000000Z\r\n\
                 RECURRENCE-ID:{rid}\r\nDTSTART:{rid}\r\nDURATION:PT1H\r\nSUMMARY:Sync\r\n\
                 ORGANIZER:mailto:alice@example.com\r\n"
            ));
            for a in *attendees {
                text.push_str(&format!("ATTENDEE:{a}\r\n"));
            }
            text.push_str("END:VEVENT\r\n");
        }
        text.push_str("END:VCALENDAR\r\n");
        validate_calendar_object(&text).unwrap();
        text
    }

    fn at(rid: &str) -> InstanceId {
        Some(
            DateTime::parse_from_rfc3339(rid)
                .unwrap()
                .with_timezone(&Utc),
        )
    }

    fn delivery(attendee: &str, method: Method, instances: &[InstanceId]) -> Delivery {
        Delivery {
            attendee: attendee.into(),
            method,
            instances: instances.iter().copied().collect(),
        }
    }

    #[test]
    fn participation_reads_organizer_and_attendees_per_instance() {
        let text = object(
            &[ALICE, "MAILTO:Bob@Example.COM"],
            &[("20260112T090000Z", &[BOB, CAROL])],
        );
        let p = participation(&text).unwrap().unwrap();
        assert_eq!(p.uid, "meeting");
        assert_eq!(p.organizer.address, ALICE);
        assert_eq!(p.instances.len(), 2);
        let master = &p.instances[&None];
        assert_eq!(master.attendees[1].address, BOB);
        assert_eq!(
            master.attendees[1].partstat.as_deref(),
            Some("NEEDS-ACTION")
        );
        let moved = &p.instances[&at("2026-01-12T09:00:00Z")];
        assert_eq!(moved.attendees.len(), 2);
        // Without an ORGANIZER or any ATTENDEE there is nothing to schedule.
        let plain = text
            .lines()
            .filter(|l| !l.starts_with("ORGANIZER") && !l.starts_with("ATTENDEE"))
            .collect::<Vec<_>>()
            .join("\r\n");
        assert_eq!(participation(&plain).unwrap(), None);
    }

    #[test]
    fn an_organizers_changes_become_requests_and_cancels() {
        let first = participation(&object(&[ALICE, BOB, CAROL], &[])).unwrap();
        // Created: every attendee but the organizer gets a REQUEST.
        assert_eq!(
            organizer_deliveries(None, first.as_ref()),
            [
                delivery(BOB, Method::Request, &[None]),
                delivery(CAROL, Method::Request, &[None]),
            ]
        );
        // Carol removed; Bob moved to an override only: Carol's master is
        // cancelled, Bob gets the override and a cancel of the master.
        let rid = "20260112T090000Z";
        let second = participation(&object(&[ALICE], &[(rid, &[ALICE, BOB])])).unwrap();
        assert_eq!(
            organizer_deliveries(first.as_ref(), second.as_ref()),
            [
                delivery(BOB, Method::Request, &[at("2026-01-12T09:00:00Z")]),
                delivery(BOB, Method::Cancel, &[None]),
                delivery(CAROL, Method::Cancel, &[None]),
            ]
        );
        // Deleted: everyone invited is cancelled, in every component.
        assert_eq!(
            organizer_deliveries(second.as_ref(), None),
            [delivery(BOB, Method::Cancel, &[at("2026-01-12T09:00:00Z")])]
        );
    }

    #[test]
    fn attendees_the_server_does_not_schedule_for_get_nothing() {
        let text = object(&[ALICE, BOB], &[]).replace(
            &format!("ATTENDEE;PARTSTAT=NEEDS-ACTION:{BOB}"),
            &format!(
                "ATTENDEE;SCHEDULE-AGENT=CLIENT:{BOB}\r\nATTENDEE;SCHEDULE-AGENT=NONE:{CAROL}"
            ),
        );
        let p = participation(&text).unwrap();
        assert_eq!(organizer_deliveries(None, p.as_ref()), []);
    }

    #[test]
    fn an_attendees_answer_travels_as_a_reply_and_changes_only_their_line() {
        let rid = "20260112T090000Z";
        let organizers = object(&[ALICE, BOB, CAROL], &[(rid, &[ALICE, BOB])]);
        // Bob accepts the series and declines the override, in his copy.
        let bobs = organizers
            .replacen(
                &format!("ATTENDEE;PARTSTAT=NEEDS-ACTION:{BOB}"),
                &format!("ATTENDEE;PARTSTAT=ACCEPTED:{BOB}"),
                1,
            )
            .replace(
                &format!("ATTENDEE:{BOB}\r\nEND:VEVENT"),
                &format!("ATTENDEE;PARTSTAT=DECLINED:{BOB}\r\nEND:VEVENT"),
            );
        let reply = reply_for(&bobs, "MAILTO:bob@example.com").unwrap().unwrap();
        assert!(reply.contains("METHOD:REPLY\r\n"), "{reply}");
        assert!(
            !reply.contains(CAROL) && !reply.contains("SUMMARY"),
            "{reply}"
        );
        assert_eq!(reply.matches("ATTENDEE").count(), 2);
        let updated = apply_reply(&organizers, &reply).unwrap();
        let p = participation(&updated).unwrap().unwrap();
        let partstat = |id: InstanceId, who: &str| {
            p.instances[&id]
                .attendees
                .iter()
                .find(|a| a.address == who)
                .and_then(|a| a.partstat.clone())
        };
        assert_eq!(partstat(None, BOB).as_deref(), Some("ACCEPTED"));
        assert_eq!(
            partstat(at("2026-01-12T09:00:00Z"), BOB).as_deref(),
            Some("DECLINED")
        );
        assert_eq!(partstat(None, CAROL).as_deref(), Some("NEEDS-ACTION"));
        assert!(updated.contains("SUMMARY:Sync"));
        // Someone not invited, or another object: refused.
        let stranger = reply.replace(BOB, "mailto:mallory@example.com");
        assert_eq!(
            apply_reply(&organizers, &stranger),
            Err(ReplyError::NotInvited("mailto:mallory@example.com".into()))
        );
        let other = reply.replace("UID:meeting", "UID:other");
        assert!(matches!(
            apply_reply(&organizers, &other),
            Err(ReplyError::OtherObject { .. })
        ));
        assert_eq!(
            reply_for(&organizers, "mailto:dave@example.com").unwrap(),
            None
        );
    }

    #[test]
    fn an_attendees_copy_takes_the_organizers_data_and_keeps_their_own() {
        let text = object(&[ALICE, BOB], &[]);
        let request = message_for(&text, &delivery(BOB, Method::Request, &[None]))
            .unwrap()
            .unwrap();
        let first = attendee_copy(&request, None, BOB).unwrap().unwrap();
        assert!(!first.contains("METHOD"), "{first}");
        validate_calendar_object(&first).unwrap();
        // Bob adds an alarm and marks it free; the organizer renames it.
        let bobs = first.replace(
            "END:VEVENT",
            "TRANSP:TRANSPARENT\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT10M\r\n\
             DESCRIPTION:soon\r\nEND:VALARM\r\nEND:VEVENT",
        );
        let renamed = message_for(
            &text.replace("SUMMARY:Sync", "SUMMARY:Weekly sync"),
            &delivery(BOB, Method::Request, &[None]),
        )
        .unwrap()
        .unwrap();
        let updated = attendee_copy(&renamed, Some(&bobs), BOB).unwrap().unwrap();
        assert!(updated.contains("SUMMARY:Weekly sync"));
        assert!(updated.contains("TRANSP:TRANSPARENT"));
        assert!(updated.contains("TRIGGER:-PT10M"));
        validate_calendar_object(&updated).unwrap();
        // Bob's answer stays through an update, not through a new SEQUENCE.
        let accepted = with_partstat(&bobs, BOB, "ACCEPTED").unwrap().unwrap();
        let kept = attendee_copy(&renamed, Some(&accepted), BOB)
            .unwrap()
            .unwrap();
        assert_eq!(answers(&kept, BOB).unwrap()[&None], "ACCEPTED");
        let rescheduled = message_for(
            &text.replace("SUMMARY:Sync", "SUMMARY:Sync\r\nSEQUENCE:1"),
            &delivery(BOB, Method::Request, &[None]),
        )
        .unwrap()
        .unwrap();
        let asked = attendee_copy(&rescheduled, Some(&accepted), BOB)
            .unwrap()
            .unwrap();
        assert_eq!(answers(&asked, BOB).unwrap()[&None], "NEEDS-ACTION");
        // A cancel of one instance the copy has no override for: added,
        // cancelled; the series stays.
        let with_override = object(&[ALICE, BOB], &[("20260112T090000Z", &[ALICE, BOB])]);
        let cancel = message_for(
            &with_override,
            &delivery(BOB, Method::Cancel, &[at("2026-01-12T09:00:00Z")]),
        )
        .unwrap()
        .unwrap();
        let after = attendee_copy(&cancel, Some(&updated), BOB)
            .unwrap()
            .unwrap();
        assert_eq!(after.matches("BEGIN:VEVENT").count(), 2);
        assert_eq!(after.matches("STATUS:CANCELLED").count(), 1);
        validate_calendar_object(&after).unwrap();
        // A cancel never makes a copy.
        assert_eq!(attendee_copy(&cancel, None, BOB).unwrap(), None);
    }

    #[test]
    fn messages_carry_the_method_and_only_the_instances_named() {
        let rid = "20260112T090000Z";
        let text = object(&[ALICE, BOB], &[(rid, &[ALICE, BOB, CAROL])]);
        let only_override = delivery(CAROL, Method::Request, &[at("2026-01-12T09:00:00Z")]);
        let message = message_for(&text, &only_override).unwrap().unwrap();
        assert!(message.contains("METHOD:REQUEST\r\n"), "{message}");
        assert_eq!(message.matches("BEGIN:VEVENT").count(), 1);
        assert!(message.contains("RECURRENCE-ID:20260112T090000Z"));
        let both = [None, at("2026-01-12T09:00:00Z")];
        let cancel = message_for(&text, &delivery(BOB, Method::Cancel, &both))
            .unwrap()
            .unwrap();
        assert!(cancel.contains("METHOD:CANCEL\r\n"));
        assert_eq!(cancel.matches("STATUS:CANCELLED").count(), 2);
        let master = message_for(&text, &delivery(BOB, Method::Cancel, &[None]))
            .unwrap()
            .unwrap();
        assert_eq!(master.matches("BEGIN:VEVENT").count(), 1);
        assert!(!master.contains("RECURRENCE-ID"));
        let nothing = delivery(CAROL, Method::Request, &[at("2026-01-19T09:00:00Z")]);
        assert_eq!(message_for(&text, &nothing).unwrap(), None);
    }

    #[test]
    fn answers_statuses_and_client_only_parameters() {
        let text = object(&[ALICE, BOB], &[("20260112T090000Z", &[BOB])]);
        let answers = answers(&text, "MAILTO:bob@example.com").unwrap();
        assert_eq!(answers.len(), 2);
        assert!(answers.values().all(|p| p == "NEEDS-ACTION"));

        let declined = with_partstat(&text, BOB, "DECLINED").unwrap().unwrap();
        assert!(super::answers(&declined, BOB)
            .unwrap()
            .values()
            .all(|p| p == "DECLINED"));
        assert_eq!(with_partstat(&declined, BOB, "DECLINED").unwrap(), None);

        let statuses = BTreeMap::from([(BOB.to_string(), "1.2".to_string())]);
        let annotated = with_schedule_statuses(&text, &statuses).unwrap().unwrap();
        assert_eq!(annotated.matches("SCHEDULE-STATUS=1.2").count(), 2);
        assert_eq!(with_schedule_statuses(&annotated, &statuses).unwrap(), None);
        // What the organizer's server wrote is not sent to attendees.
        let request = message_for(&annotated, &delivery(BOB, Method::Request, &[None]))
            .unwrap()
            .unwrap();
        assert!(!request.contains("SCHEDULE-STATUS"), "{request}");

        let forced = text.replace(
            "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:bob",
            "ATTENDEE;SCHEDULE-FORCE-SEND=REQUEST;PARTSTAT=NEEDS-ACTION:mailto:bob",
        );
        assert_ne!(forced, text);
        let (stored, force) = without_client_only_params(&forced).unwrap();
        assert!(force);
        assert!(!stored.contains("SCHEDULE-FORCE-SEND"));
        assert_eq!(
            without_client_only_params(&text).unwrap(),
            (text.clone(), false)
        );
    }

    #[test]
    fn a_resource_is_busy_only_for_opaque_bookings_it_did_not_decline() {
        const ROOM: &str = "mailto:room@example.com";
        let booking = |uid: &str, start: &str, extra: &str| {
            format!(
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\n\
                 UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{start}\r\nDURATION:PT1H\r\n\
                 ORGANIZER:mailto:alice@example.com\r\n{extra}\
                 END:VEVENT\r\nEND:VCALENDAR\r\n"
            )
        };
        let limits = super::super::time::Limits::default();
        let wanted = booking(
            "new",
            "20260105T093000Z",
            "ATTENDEE:mailto:room@example.com\r\n",
        );
        let overlapping = booking(
            "a",
            "20260105T090000Z",
            "ATTENDEE;PARTSTAT=ACCEPTED:mailto:room@example.com\r\n",
        );
        let later = booking("b", "20260105T103000Z", "");
        let declined = booking(
            "c",
            "20260105T090000Z",
            "ATTENDEE;PARTSTAT=DECLINED:mailto:room@example.com\r\n",
        );
        let free = booking("d", "20260105T090000Z", "TRANSP:TRANSPARENT\r\n");
        let cancelled = booking("e", "20260105T090000Z", "STATUS:CANCELLED\r\n");
        assert!(busy_conflict(&wanted, &[&later, &overlapping], ROOM, &limits).unwrap());
        assert!(!busy_conflict(
            &wanted,
            &[&later, &declined, &free, &cancelled],
            ROOM,
            &limits
        )
        .unwrap());
        // A weekly series meets a booking in its third week.
        let weekly = booking("w", "20260105T090000Z", "RRULE:FREQ=WEEKLY;COUNT=4\r\n");
        let third = booking("t", "20260119T093000Z", "");
        assert!(busy_conflict(&weekly, &[&third], ROOM, &limits).unwrap());
    }
}
