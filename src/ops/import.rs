//! `reprise import calendar|contacts`: one event per object. The whole file
//! is parsed before anything is appended, so a malformed file appends
//! nothing and the error names the file, the line and the problem.

use crate::engine::{Engine, SubmitError};
use events::payload::{
    AddressBookCreated, AddressBookProps, CalendarCreated, CalendarObjectPut, CalendarProps,
    ContactPut,
};
use events::{EventEnvelope, Payload};
use projections::Outcome;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Events per append while importing.
const CHUNK: usize = 500;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImportKind {
    Calendar,
    Contacts,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub owner: String,
    pub collection: String,
    pub applied: u64,
    pub rejected: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Unavailable(#[from] SubmitError),
    #[error(transparent)]
    Store(#[from] projections::StoreError),
    /// A body over the inline limit could not be stored.
    #[error(transparent)]
    Objects(#[from] objects::ObjectError),
}

/// One parsed object, ready to become an event.
pub struct Item {
    uid: String,
    body: String,
}

/// Parses a whole file; `source` names it in errors. Done once, before
/// anything is appended, so a malformed file appends nothing.
pub fn parse(kind: ImportKind, text: &str, source: &str) -> Result<Vec<Item>, ImportError> {
    let located = |e: formats::FormatError| {
        ImportError::Invalid(format!("{source}:{}: {}", e.line, e.message))
    };
    Ok(match kind {
        ImportKind::Calendar => formats::ical::split_calendar_export(text)
            .map_err(located)?
            .into_iter()
            .map(|o| Item {
                uid: o.uid,
                body: o.ical,
            })
            .collect(),
        ImportKind::Contacts => formats::vcard::split_cards(text)
            .map_err(located)?
            .into_iter()
            .map(|c| match c.uid {
                Some(uid) => Item { uid, body: c.vcard },
                None => {
                    let uid = Uuid::now_v7().to_string();
                    Item {
                        body: formats::vcard::with_uid(&c.vcard, &uid),
                        uid,
                    }
                }
            })
            .collect(),
    })
}

/// The href a new object gets: its UID when that is a tidy path segment,
/// else a stable hash of it.
fn href_for(uid: &str, extension: &str) -> String {
    let tidy = uid.len() <= 128
        && uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
    if tidy {
        format!("{uid}.{extension}")
    } else {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in uid.bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{hash:016x}.{extension}")
    }
}

/// Imports a parsed file for an owner (a principal, or a login that one
/// domain has) into a collection, creating the collection when missing.
pub async fn import(
    engine: &Engine,
    kind: ImportKind,
    owner: &str,
    collection: &str,
    items: Vec<Item>,
    actor: &str,
) -> Result<ImportReport, ImportError> {
    if collection.is_empty() || collection.contains(['/', '\0']) {
        return Err(ImportError::Invalid(format!(
            "invalid collection name {collection:?}"
        )));
    }
    let user = engine
        .views()
        .directory
        .find_user(owner)?
        .ok_or_else(|| ImportError::NotFound(format!("no user {owner}")))?;
    let principal = user.principal();
    let correlation = Uuid::now_v7();
    let envelope =
        |payload| EventEnvelope::now(&principal, actor, payload).with_correlation(correlation);

    let (exists, extension) = match kind {
        ImportKind::Calendar => (
            engine
                .views()
                .calendars
                .collection(&principal, collection)?
                .is_some(),
            "ics",
        ),
        ImportKind::Contacts => (
            engine
                .views()
                .contacts
                .collection(&principal, collection)?
                .is_some(),
            "vcf",
        ),
    };
    if !exists {
        let create = match kind {
            ImportKind::Calendar => Payload::CalendarCreated(CalendarCreated {
                calendar: collection.to_string(),
                props: CalendarProps {
                    display_name: Some(collection.to_string()),
                    ..CalendarProps::default()
                },
            }),
            ImportKind::Contacts => Payload::AddressBookCreated(AddressBookCreated {
                address_book: collection.to_string(),
                props: AddressBookProps {
                    display_name: Some(collection.to_string()),
                    ..AddressBookProps::default()
                },
            }),
        };
        engine.submit(vec![envelope(create)]).await?;
    }

    let mut events = Vec::with_capacity(items.len());
    for item in items {
        // Re-importing an object updates it where it already lives.
        let existing = match kind {
            ImportKind::Calendar => engine
                .views()
                .calendars
                .href_of_uid(&principal, collection, &item.uid)?,
            ImportKind::Contacts => engine
                .views()
                .contacts
                .href_of_uid(&principal, collection, &item.uid)?,
        };
        let href = existing.unwrap_or_else(|| href_for(&item.uid, extension));
        let (text, object) = engine.body_for_event(item.body).await?;
        let payload = match kind {
            ImportKind::Calendar => Payload::CalendarObjectPut(CalendarObjectPut {
                calendar: collection.to_string(),
                href,
                uid: item.uid,
                ical: text,
                ical_object: object,
                scheduling: None,
            }),
            ImportKind::Contacts => Payload::ContactPut(ContactPut {
                address_book: collection.to_string(),
                href,
                uid: item.uid,
                vcard: text,
                vcard_object: object,
            }),
        };
        events.push(envelope(payload));
    }
    let mut report = ImportReport {
        owner: principal.clone(),
        collection: collection.to_string(),
        applied: 0,
        rejected: Vec::new(),
    };
    while !events.is_empty() {
        let rest = events.split_off(events.len().min(CHUNK));
        let chunk = std::mem::replace(&mut events, rest);
        let described: Vec<String> = chunk.iter().map(describe).collect();
        for (outcome, what) in engine.submit(chunk).await?.into_iter().zip(described) {
            match outcome {
                Outcome::Applied { .. } => report.applied += 1,
                Outcome::Rejected { rejection } => {
                    report.rejected.push(format!("{what}: {rejection}"))
                }
                Outcome::Quarantined { reason } => {
                    report.rejected.push(format!("{what}: {reason}"))
                }
            }
        }
    }
    Ok(report)
}

fn describe(e: &EventEnvelope) -> String {
    match &e.payload {
        Payload::CalendarObjectPut(p) => format!("{} (UID {})", p.href, p.uid),
        Payload::ContactPut(p) => format!("{} (UID {})", p.href, p.uid),
        other => other.event_type().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_are_tidy_or_hashed() {
        assert_eq!(
            href_for("abc-123@example.com", "ics"),
            "abc-123@example.com.ics"
        );
        let odd = href_for("a/b c", "ics");
        assert_eq!(odd.len(), 16 + 4);
        assert_eq!(odd, href_for("a/b c", "ics"));
    }
}
