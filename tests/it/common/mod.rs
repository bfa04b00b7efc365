//! Helpers shared by the integration tests: hand-made events with real
//! iCalendar and vCard bodies, and log/view setup.

pub mod api;
pub mod clients;
pub mod cluster;
pub mod cmd;
pub mod disk;
pub mod http;
pub mod load;
pub mod s3;
pub mod server;
pub mod smtp;

use chrono::TimeZone;
use events::log::EmbeddedLog;
use events::payload::*;
use events::{
    codec, AggregateVersion, Domain, EventEnvelope, EventId, EventLog, LogPosition, Payload,
};
use std::collections::BTreeMap;
use std::sync::Arc;

pub const ALICE: &str = "alice@example.com";

/// Deterministic envelopes: ids and times from a counter, never the clock.
pub struct Events {
    next: u128,
}

impl Default for Events {
    fn default() -> Self {
        Events { next: 1 }
    }
}

impl Events {
    /// Ids from `first` on, to add events to a log made by another `Events`.
    pub fn starting_at(first: u128) -> Events {
        Events { next: first }
    }

    pub fn make(&mut self, key: &str, payload: Payload) -> EventEnvelope {
        let n = self.next;
        self.next += 1;
        let at = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
            + chrono::Duration::seconds(n as i64);
        EventEnvelope::new(
            EventId(uuid::Uuid::from_u128(
                0x0190_0000_0000_7000_8000_0000_0000_0000 | n,
            )),
            at,
            key,
            key,
            payload,
        )
    }

    pub fn expecting(&mut self, key: &str, payload: Payload, v: AggregateVersion) -> EventEnvelope {
        self.make(key, payload).expecting(v)
    }
}

pub fn ical(uid: &str, summary: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//reprise//tests//EN\r\n\
BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n\
BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Paris:20260302T090000\r\nDTEND;TZID=Europe/Paris:20260302T100000\r\n\
RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

pub fn vcard(uid: &str, name: &str) -> String {
    format!("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nFN:{name}\r\nEMAIL:{uid}@example.com\r\nEND:VCARD\r\n")
}

pub fn calendar_created(name: &str) -> Payload {
    Payload::CalendarCreated(CalendarCreated {
        calendar: name.into(),
        props: CalendarProps::default(),
    })
}

pub fn put(calendar: &str, href: &str, uid: &str, summary: &str) -> Payload {
    put_ical(calendar, href, uid, ical(uid, summary))
}

pub fn put_ical(calendar: &str, href: &str, uid: &str, ical: String) -> Payload {
    Payload::CalendarObjectPut(CalendarObjectPut {
        calendar: calendar.into(),
        href: href.into(),
        uid: uid.into(),
        ical,
        ical_object: None,
        scheduling: None,
    })
}

pub fn open_log(dir: &std::path::Path) -> Arc<dyn EventLog> {
    Arc::new(EmbeddedLog::open(&dir.join("log"), Some(4)).unwrap())
}

/// Appends events per domain; returns where each one went.
pub async fn append(
    log: &dyn EventLog,
    events: &[EventEnvelope],
) -> BTreeMap<EventId, LogPosition> {
    let mut at = BTreeMap::new();
    for domain in Domain::ALL {
        let mine: Vec<&EventEnvelope> = events.iter().filter(|e| e.domain == domain).collect();
        if !mine.is_empty() {
            let records = mine.iter().map(|e| codec::encode(e)).collect();
            let positions = log.append(domain, records).await.unwrap();
            at.extend(mine.iter().map(|e| e.event_id).zip(positions));
        }
    }
    at
}

/// A small but varied log: a domain with users and groups, calendars with
/// puts, updates and deletes, contacts, seen flags, and file areas with
/// copies, moves, property patches and a rejected write.
pub fn varied_log() -> Vec<EventEnvelope> {
    let mut ev = Events::default();
    let mut out = Vec::new();
    out.push(ev.make(
        "example.com",
        Payload::DomainCreated(DomainCreated {
            domain: "example.com".into(),
            display_name: None,
        }),
    ));
    for login in ["alice", "bob", "carol"] {
        out.push(ev.make(
            "example.com",
            Payload::UserCreated(UserCreated {
                login: login.into(),
                email: format!("{login}@example.com"),
                display_name: Some(login.to_uppercase()),
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaA".into(),
                admin: login == "alice",
                phone: None,
            }),
        ));
    }
    out.push(ev.make(
        "example.com",
        Payload::GroupCreated(GroupCreated {
            group: "staff".into(),
            display_name: None,
            email: None,
        }),
    ));
    out.push(ev.make(
        "example.com",
        Payload::MemberAdded(MemberAdded {
            group: "staff".into(),
            member: Member::User("bob".into()),
        }),
    ));
    for owner in ["alice@example.com", "bob@example.com", "carol@example.com"] {
        out.push(ev.make(owner, calendar_created("default")));
        out.push(ev.make(
            owner,
            Payload::AddressBookCreated(AddressBookCreated {
                address_book: "default".into(),
                props: AddressBookProps::default(),
            }),
        ));
        for i in 0..40 {
            out.push(ev.make(
                owner,
                put(
                    "default",
                    &format!("e{i}.ics"),
                    &format!("{owner}-e{i}"),
                    "Standup",
                ),
            ));
            out.push(ev.make(
                owner,
                Payload::ContactPut(ContactPut {
                    address_book: "default".into(),
                    href: format!("c{i}.vcf"),
                    uid: format!("c{i}"),
                    vcard: vcard(&format!("c{i}"), "Someone"),
                    vcard_object: None,
                }),
            ));
            out.push(ev.make(
                owner,
                Payload::SeenAdded(SeenAdded {
                    mailbox: "INBOX".into(),
                    uids: format!("{}:{}", i * 10 + 1, i * 10 + 5).parse().unwrap(),
                }),
            ));
        }
        for i in 0..10 {
            out.push(ev.make(
                owner,
                put(
                    "default",
                    &format!("e{i}.ics"),
                    &format!("{owner}-e{i}"),
                    "Moved standup",
                ),
            ));
            out.push(ev.make(
                owner,
                Payload::CalendarObjectDeleted(CalendarObjectDeleted {
                    calendar: "default".into(),
                    href: format!("e{}.ics", 20 + i),
                    scheduling: None,
                }),
            ));
            out.push(ev.make(
                owner,
                Payload::SeenRemoved(SeenRemoved {
                    mailbox: "INBOX".into(),
                    uids: format!("{}", i * 10 + 3).parse().unwrap(),
                }),
            ));
        }
        out.extend(files(&mut ev, owner));
    }
    out
}

/// One owner's file area: `docs` with a file and a subfolder, copied,
/// moved, patched and pruned, and a put under a missing folder (rejected).
fn files(ev: &mut Events, owner: &str) -> Vec<EventEnvelope> {
    let folder = |path: &str| {
        Payload::FolderCreated(FolderCreated {
            path: path.into(),
            dead: BTreeMap::new(),
        })
    };
    let file = |path: &str, body: &str| {
        Payload::FilePut(FilePut {
            path: path.into(),
            content_type: "text/plain".into(),
            // Inline, as files were written before the object store: the
            // log this makes stands for an installation's history.
            content: FileContent::Inline(body.as_bytes().to_vec()),
        })
    };
    [
        folder("docs"),
        file("docs/readme.txt", owner),
        folder("docs/old"),
        file("docs/old/notes.txt", "notes"),
        Payload::FilesCopied(FilesCopied {
            from: "docs".into(),
            to: "backup".into(),
            recursive: true,
            overwrite: false,
        }),
        Payload::FilesMoved(FilesMoved {
            from: "docs/old".into(),
            to: "archive".into(),
            overwrite: false,
        }),
        Payload::FilePropertiesPatched(FilePropertiesPatched {
            path: "archive".into(),
            dead: BTreeMap::from([(
                "{urn:x}note".to_string(),
                Some("<x:note xmlns:x=\"urn:x\">kept</x:note>".to_string()),
            )]),
        }),
        Payload::FileDeleted(FileDeleted {
            path: "backup/old".into(),
        }),
        file("missing/x.txt", "rejected"),
    ]
    .into_iter()
    .map(|payload| ev.make(owner, payload))
    .collect()
}
