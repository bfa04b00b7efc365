//! Events on the wire: CBOR (ciborium), a schema version in both the
//! envelope and a record header, and an upcaster chain so this build reads
//! every schema version ever written.
//!
//! Schema history:
//! - **1**: `occurred_at_ms` (Unix milliseconds), no `leader_epoch`, and seen
//!   flags as an IMAP sequence-set string.
//! - **2**: `occurred_at` as an RFC 3339 timestamp, `leader_epoch`,
//!   seen flags as a list of `[first, last]` ranges.
//! - **3** (current): in `CalendarUpdated`, `AddressBookUpdated` and
//!   `UserUpdated`, an absent property field means "unchanged" and `null`
//!   means "removed". Schema 2 wrote `null` for "unchanged" and could not
//!   express a removal, so its nulls become absent fields.

use crate::envelope::EventEnvelope;
use crate::log::{LogRecord, OutgoingRecord};
use crate::uidset::UidSet;
use ciborium::Value;

pub const CURRENT_SCHEMA_VERSION: u32 = 3;

pub const HEADER_SCHEMA: &str = "reprise-schema";
pub const HEADER_EVENT_TYPE: &str = "reprise-event-type";
pub const HEADER_EVENT_ID: &str = "reprise-event-id";
pub const HEADER_CONTENT_TYPE: &str = "content-type";
/// On a record whose event names objects of the object store: what
/// `objects verify` and `objects gc` decode, every other record skipped
/// unread.
pub const HEADER_OBJECTS: &str = "reprise-objects";
const CONTENT_TYPE: &[u8] = b"application/cbor";

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("not CBOR: {0}")]
    NotCbor(String),
    #[error(
        "schema version {0} is newer than this build understands (up to {CURRENT_SCHEMA_VERSION})"
    )]
    FutureSchema(u32),
    #[error("schema version {0} is unknown")]
    UnknownSchema(u32),
    #[error("schema version header is not a number: {0:?}")]
    BadSchemaHeader(String),
    #[error("upcasting from schema {from}: {reason}")]
    Upcast { from: u32, reason: String },
    #[error("does not match the event schema: {0}")]
    Shape(String),
    #[error("event type {declared:?} does not match its payload {actual:?}")]
    TypeMismatch { declared: String, actual: String },
    #[error("event domain {declared} does not match its payload ({actual})")]
    DomainMismatch {
        declared: crate::Domain,
        actual: crate::Domain,
    },
}

/// Encodes an event into a record ready to append: key = partition key,
/// headers carry schema version, event type and id, so that an inspector
/// can filter without decoding.
pub fn encode(event: &EventEnvelope) -> OutgoingRecord {
    let mut value = Vec::with_capacity(256);
    // Writing into a Vec cannot fail and every field is serialisable.
    ciborium::into_writer(event, &mut value).expect("CBOR encoding into memory");
    let mut record = OutgoingRecord {
        partition: None,
        key: event.partition_key.as_bytes().to_vec(),
        headers: vec![
            (
                HEADER_SCHEMA.to_string(),
                event.schema_version.to_string().into_bytes(),
            ),
            (
                HEADER_EVENT_TYPE.to_string(),
                event.event_type.clone().into_bytes(),
            ),
            (
                HEADER_EVENT_ID.to_string(),
                event.event_id.to_string().into_bytes(),
            ),
            (HEADER_CONTENT_TYPE.to_string(), CONTENT_TYPE.to_vec()),
        ],
        value,
        timestamp_ms: event.occurred_at.timestamp_millis(),
    };
    let objects = event.payload.objects().len();
    if objects > 0 {
        record
            .headers
            .push((HEADER_OBJECTS.to_string(), objects.to_string().into_bytes()));
    }
    record
}

/// Decodes a record read from the log, upcasting older schema versions.
pub fn decode_record(record: &LogRecord) -> Result<EventEnvelope, CodecError> {
    let schema = match record.header(HEADER_SCHEMA) {
        Some(raw) => Some(parse_schema_header(raw)?),
        None => None,
    };
    decode(&record.value, schema)
}

fn parse_schema_header(raw: &[u8]) -> Result<u32, CodecError> {
    std::str::from_utf8(raw)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| CodecError::BadSchemaHeader(String::from_utf8_lossy(raw).into_owned()))
}

/// Decodes an event body. `schema_hint` is the header's version; without
/// it the version is read from the body.
pub fn decode(bytes: &[u8], schema_hint: Option<u32>) -> Result<EventEnvelope, CodecError> {
    // The fast path: current events deserialise straight from the bytes.
    let event: EventEnvelope = if schema_hint == Some(CURRENT_SCHEMA_VERSION) {
        ciborium::from_reader(bytes).map_err(|e| CodecError::Shape(e.to_string()))?
    } else {
        let value: Value =
            ciborium::from_reader(bytes).map_err(|e| CodecError::NotCbor(e.to_string()))?;
        let version = match schema_hint {
            Some(v) => v,
            None => body_schema_version(&value)?,
        };
        let value = upcast(value, version)?;
        value
            .deserialized()
            .map_err(|e| CodecError::Shape(e.to_string()))?
    };
    check(event)
}

fn check(event: EventEnvelope) -> Result<EventEnvelope, CodecError> {
    let actual = event.payload.event_type();
    if event.event_type != actual {
        return Err(CodecError::TypeMismatch {
            declared: event.event_type,
            actual: actual.to_string(),
        });
    }
    if event.domain != event.payload.domain() {
        return Err(CodecError::DomainMismatch {
            declared: event.domain,
            actual: event.payload.domain(),
        });
    }
    Ok(event)
}

fn body_schema_version(value: &Value) -> Result<u32, CodecError> {
    map_get(value, "schema_version")
        .and_then(|v| v.as_integer())
        .and_then(|i| u32::try_from(i).ok())
        .ok_or_else(|| CodecError::Shape("no schema_version in the envelope".into()))
}

/// One step of the chain: turns a body of schema `N` into schema `N + 1`.
type Upcaster = fn(Value) -> Result<Value, String>;

/// `UPCASTERS[i]` upcasts schema `i + 1` to `i + 2`.
const UPCASTERS: &[Upcaster] = &[v1_to_v2, v2_to_v3];

/// Brings a body of any known schema version to the current one.
pub fn upcast(mut value: Value, from: u32) -> Result<Value, CodecError> {
    if from > CURRENT_SCHEMA_VERSION {
        return Err(CodecError::FutureSchema(from));
    }
    if from == 0 {
        return Err(CodecError::UnknownSchema(from));
    }
    for version in from..CURRENT_SCHEMA_VERSION {
        let step = UPCASTERS[(version - 1) as usize];
        value = step(value).map_err(|reason| CodecError::Upcast {
            from: version,
            reason,
        })?;
    }
    Ok(value)
}

fn v1_to_v2(value: Value) -> Result<Value, String> {
    let Value::Map(entries) = value else {
        return Err("envelope is not a map".into());
    };
    let mut out = Vec::with_capacity(entries.len() + 1);
    for (k, v) in entries {
        match k.as_text() {
            Some("occurred_at_ms") => {
                let ms = v
                    .as_integer()
                    .and_then(|i| i64::try_from(i).ok())
                    .ok_or("occurred_at_ms is not an integer")?;
                let at = chrono::DateTime::from_timestamp_millis(ms)
                    .ok_or("occurred_at_ms is out of range")?;
                out.push((text("occurred_at"), Value::Text(at.to_rfc3339())));
            }
            Some("schema_version") => out.push((k, Value::Integer(2.into()))),
            Some("payload") => out.push((k, v1_payload_to_v2(v)?)),
            _ => out.push((k, v)),
        }
    }
    out.push((text("leader_epoch"), Value::Integer(0.into())));
    Ok(Value::Map(out))
}

/// Seen flags were an IMAP sequence-set string in v1.
fn v1_payload_to_v2(payload: Value) -> Result<Value, String> {
    let kind = map_get(&payload, "type")
        .and_then(|t| t.as_text())
        .unwrap_or("");
    if kind != "SeenAdded" && kind != "SeenRemoved" {
        return Ok(payload);
    }
    let Value::Map(entries) = payload else {
        return Err("payload is not a map".into());
    };
    let mut out = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        if k.as_text() == Some("data") {
            let Value::Map(fields) = v else {
                return Err("payload data is not a map".into());
            };
            let mut data = Vec::with_capacity(fields.len());
            for (fk, fv) in fields {
                if fk.as_text() == Some("uids") {
                    let s = fv.as_text().ok_or("v1 uids is not a string")?;
                    let set: UidSet = s.parse().map_err(|e| format!("v1 uids: {e}"))?;
                    let ranges = Value::serialized(&set).map_err(|e| e.to_string())?;
                    data.push((fk, ranges));
                } else {
                    data.push((fk, fv));
                }
            }
            out.push((k, Value::Map(data)));
        } else {
            out.push((k, v));
        }
    }
    Ok(Value::Map(out))
}

fn v2_to_v3(value: Value) -> Result<Value, String> {
    let Value::Map(entries) = value else {
        return Err("envelope is not a map".into());
    };
    let mut out = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        match k.as_text() {
            Some("schema_version") => out.push((k, Value::Integer(3.into()))),
            Some("payload") => out.push((k, v2_payload_to_v3(v)?)),
            _ => out.push((k, v)),
        }
    }
    Ok(Value::Map(out))
}

/// Drops the `null` property fields of update events (see schema 3).
fn v2_payload_to_v3(payload: Value) -> Result<Value, String> {
    let kind = map_get(&payload, "type")
        .and_then(|t| t.as_text())
        .unwrap_or("");
    if !matches!(
        kind,
        "CalendarUpdated" | "AddressBookUpdated" | "UserUpdated"
    ) {
        return Ok(payload);
    }
    let Value::Map(entries) = payload else {
        return Err("payload is not a map".into());
    };
    let out = entries
        .into_iter()
        .map(|(k, v)| match (k.as_text(), v) {
            (Some("data"), Value::Map(fields)) => {
                let kept = fields.into_iter().filter(|(_, fv)| !fv.is_null()).collect();
                (k, Value::Map(kept))
            }
            (_, v) => (k, v),
        })
        .collect();
    Ok(Value::Map(out))
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn map_get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value
        .as_map()?
        .iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{AggregateVersion, EventId};
    use crate::payload::*;
    use chrono::TimeZone;
    use uuid::Uuid;

    fn sample() -> EventEnvelope {
        let id = EventId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001));
        let at = chrono::Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap();
        EventEnvelope::new(
            id,
            at,
            "alice@example.com",
            "alice@example.com",
            Payload::SeenAdded(SeenAdded {
                mailbox: "INBOX/Archive 2026".into(),
                uids: "1:5,9".parse().unwrap(),
            }),
        )
        .expecting(AggregateVersion(3))
    }

    /// Absent leaves a property, `Some(None)` removes it: both must
    /// survive the codec, or a PROPPATCH removal would silently vanish.
    #[test]
    fn property_removals_survive_encoding() {
        let update = |display_name, color| {
            let base = sample();
            EventEnvelope::new(
                base.event_id,
                base.occurred_at,
                "alice@example.com",
                "alice@example.com",
                Payload::CalendarUpdated(CalendarUpdated {
                    calendar: "work".into(),
                    display_name,
                    color,
                    ..CalendarUpdated::default()
                }),
            )
        };
        for e in [
            update(None, Some(None)),
            update(Some(Some("Work".into())), None),
            update(Some(None), Some(Some("#FF0000".into()))),
        ] {
            let decoded = decode_record(&record(encode(&e))).unwrap();
            assert_eq!(decoded.payload, e.payload);
        }
    }

    fn record(out: OutgoingRecord) -> LogRecord {
        LogRecord {
            domain: crate::Domain::Seen,
            partition: 0,
            offset: 0,
            timestamp_ms: out.timestamp_ms,
            key: out.key,
            headers: out.headers,
            value: out.value,
        }
    }

    #[test]
    fn round_trips_the_current_schema() {
        let event = sample();
        let rec = record(encode(&event));
        assert_eq!(
            rec.header(HEADER_SCHEMA),
            Some(CURRENT_SCHEMA_VERSION.to_string().as_bytes())
        );
        assert_eq!(rec.header(HEADER_EVENT_TYPE), Some(&b"SeenAdded"[..]));
        assert_eq!(decode_record(&rec).unwrap(), event);
        // Without the header the version is read from the body.
        assert_eq!(decode(&rec.value, None).unwrap(), event);
    }

    /// The stored fixture was written by schema 1 (see `fixtures/events`).
    #[test]
    fn upcasts_the_stored_version_1_fixture() {
        let bytes = include_bytes!("../../fixtures/events/seen-added.v1.cbor");
        let event = decode(bytes, Some(1)).expect("v1 fixture decodes");
        assert_eq!(event.schema_version, CURRENT_SCHEMA_VERSION);
        assert_eq!(event.leader_epoch, 0);
        assert_eq!(event.partition_key, "alice@example.com");
        assert_eq!(
            event.occurred_at,
            chrono::Utc.with_ymd_and_hms(2024, 5, 17, 8, 0, 0).unwrap()
        );
        match event.payload {
            Payload::SeenAdded(s) => {
                assert_eq!(s.mailbox, "INBOX");
                assert_eq!(s.uids.to_string(), "1:5,9,12:20");
            }
            other => panic!("unexpected payload {other:?}"),
        }
        // The body's own version is enough when the header is missing.
        assert_eq!(
            decode(bytes, None).unwrap().schema_version,
            CURRENT_SCHEMA_VERSION
        );
    }

    /// Schema 2 wrote `null` for an unchanged property; it must still
    /// mean "unchanged", not "removed".
    #[test]
    fn schema_2_nulls_stay_unchanged_properties() {
        let base = sample();
        let current = EventEnvelope::new(
            base.event_id,
            base.occurred_at,
            "alice@example.com",
            "alice@example.com",
            Payload::CalendarUpdated(CalendarUpdated {
                calendar: "work".into(),
                display_name: Some(Some("Work".into())),
                ..CalendarUpdated::default()
            }),
        );
        // Rewrite it the way schema 2 wrote it: every field present.
        let Value::Map(mut v2) = Value::serialized(&current).unwrap() else {
            panic!("an envelope is a map");
        };
        for (k, v) in v2.iter_mut() {
            match k.as_text() {
                Some("schema_version") => *v = Value::Integer(2.into()),
                Some("payload") => {
                    let Value::Map(payload) = v else { panic!() };
                    for (pk, pv) in payload.iter_mut() {
                        if pk.as_text() == Some("data") {
                            let Value::Map(data) = pv else { panic!() };
                            for field in ["color", "description", "timezone"] {
                                data.push((text(field), Value::Null));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        let v2 = Value::Map(v2);
        let mut bytes = Vec::new();
        ciborium::into_writer(&v2, &mut bytes).unwrap();
        let event = decode(&bytes, Some(2)).expect("v2 decodes");
        match event.payload {
            Payload::CalendarUpdated(e) => {
                assert_eq!(e.display_name, Some(Some("Work".into())));
                assert_eq!((e.color, e.description, e.timezone), (None, None, None));
            }
            other => panic!("unexpected payload {other:?}"),
        }
    }

    #[test]
    fn refuses_garbage_and_future_schemas() {
        assert!(matches!(
            decode(b"\xff\x00", None),
            Err(CodecError::NotCbor(_))
        ));
        let rec = encode(&sample());
        assert!(matches!(
            decode(&rec.value, Some(9)),
            Err(CodecError::FutureSchema(9))
        ));
        assert!(matches!(
            decode(&rec.value, Some(0)),
            Err(CodecError::UnknownSchema(0))
        ));
        let mut e = sample();
        e.event_type = "UserCreated".into();
        let rec = encode(&e);
        assert!(matches!(
            decode(&rec.value, Some(2)),
            Err(CodecError::TypeMismatch { .. })
        ));
    }
}
