//! Where a copy of a log stops: `--until TIME` and `--until-offsets
//! TOPIC/PARTITION=OFFSET,...` checked against the source log and the ends
//! it had when the copy started, and described back to the operator.

use events::log::TopicPartition;
use events::{Domain, EventLog};
use std::collections::BTreeMap;

/// The bounds as the operator wrote them.
#[derive(Clone, Debug, Default)]
pub struct BoundSpec {
    /// A time (RFC 3339, or YYYY-MM-DD meaning 00:00 UTC).
    pub until: Option<String>,
    /// `TOPIC/PARTITION=OFFSET` items; empty ones are ignored.
    pub until_offsets: Vec<String>,
}

impl BoundSpec {
    pub fn is_empty(&self) -> bool {
        self.until.is_none() && self.until_offsets.is_empty()
    }
}

/// A bound that names nothing the log has, or cannot be read; the message
/// names the flag.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadBound(pub String);

/// Where each partition's copy stops.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bounds {
    /// Stop each partition at its first record later than this (Unix ms).
    pub until_ms: Option<i64>,
    /// Exclusive end offsets of the listed partitions.
    pub offsets: BTreeMap<TopicPartition, u64>,
}

impl Bounds {
    pub fn is_empty(&self) -> bool {
        self.until_ms.is_none() && self.offsets.is_empty()
    }
}

/// Parses the bound flags against a log and the ends it had when the copy
/// started: unknown topics, partitions out of range and offsets beyond a
/// partition's end are refused before anything is written.
pub fn parse_bounds(
    spec: &BoundSpec,
    log: &dyn EventLog,
    ends: &BTreeMap<TopicPartition, u64>,
) -> Result<Bounds, BadBound> {
    let mut bounds = Bounds::default();
    if let Some(text) = &spec.until {
        let time =
            crate::ops::log::parse_time(text).map_err(|e| BadBound(format!("--until: {e:#}")))?;
        bounds.until_ms = Some(time.timestamp_millis());
    }
    for item in spec.until_offsets.iter().map(|s| s.trim()) {
        if item.is_empty() {
            continue;
        }
        let bad = |why: String| BadBound(format!("--until-offsets {item:?}: {why}"));
        let (place, offset) = item
            .split_once('=')
            .ok_or_else(|| bad("expected TOPIC/PARTITION=OFFSET".into()))?;
        let (topic, partition) = place
            .rsplit_once('/')
            .ok_or_else(|| bad("expected TOPIC/PARTITION=OFFSET".into()))?;
        let domain = Domain::ALL
            .into_iter()
            .find(|d| d.as_str() == topic || log.topic_name(*d) == topic)
            .ok_or_else(|| {
                bad(format!(
                    "no topic {topic:?} in the {} (topics: {})",
                    log.describe(),
                    Domain::ALL
                        .iter()
                        .map(|d| d.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        let partition: u32 = partition
            .parse()
            .map_err(|_| bad(format!("{partition:?} is not a partition number")))?;
        let count = log.partitions(domain);
        if partition >= count {
            return Err(bad(format!(
                "{domain} has {count} partitions (0 to {})",
                count.saturating_sub(1)
            )));
        }
        let offset: u64 = offset
            .parse()
            .map_err(|_| bad(format!("{offset:?} is not an offset")))?;
        let tp = TopicPartition { domain, partition };
        let end = ends.get(&tp).copied().unwrap_or(0);
        if offset > end {
            return Err(bad(format!(
                "{domain}/{partition} ends at offset {end}; it has no offset {offset} to stop at"
            )));
        }
        if bounds.offsets.insert(tp, offset).is_some() {
            return Err(bad(format!("{domain}/{partition} is named twice")));
        }
    }
    Ok(bounds)
}

/// The bounds as the copy's first line ends: empty when there are none,
/// else `, records up to TIME, up to offsets T/P=O,...`.
pub fn describe(bounds: &Bounds) -> String {
    let mut parts = Vec::new();
    if let Some(ms) = bounds.until_ms {
        let time = chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_else(|| ms.to_string());
        parts.push(format!("records up to {time}"));
    }
    if !bounds.offsets.is_empty() {
        let list: Vec<String> = bounds
            .offsets
            .iter()
            .map(|(tp, o)| format!("{}/{}={o}", tp.domain, tp.partition))
            .collect();
        parts.push(format!("up to offsets {}", list.join(",")));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(", {}", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::recovery::copy::tests::record;
    use events::log::{all_end_offsets, EmbeddedLog};

    #[tokio::test(flavor = "multi_thread")]
    async fn bad_bounds_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(dir.path(), Some(2)).unwrap();
        log.append(Domain::Calendar, vec![record("a", 1, Some(1))])
            .await
            .unwrap();
        let ends = all_end_offsets(&log).await.unwrap();
        let parse = |until: Option<&str>, offsets: &[&str]| {
            parse_bounds(
                &BoundSpec {
                    until: until.map(str::to_string),
                    until_offsets: offsets.iter().map(|s| s.to_string()).collect(),
                },
                &log,
                &ends,
            )
        };
        let err = |r: Result<Bounds, BadBound>| r.unwrap_err().to_string();
        assert!(err(parse(Some("yesterday"), &[])).contains("--until"));
        assert!(err(parse(None, &["mail/0=1"])).contains("no topic \"mail\""));
        assert!(err(parse(None, &["calendar/2=0"])).contains("has 2 partitions"));
        assert!(err(parse(None, &["calendar/1=2"])).contains("ends at offset 1"));
        assert!(err(parse(None, &["calendar/1"])).contains("TOPIC/PARTITION=OFFSET"));
        assert!(err(parse(None, &["calendar/1=1", "calendar/1=0"])).contains("twice"));
        let ok = parse(Some("2026-01-02"), &["calendar/1=1", "seen/0=0"]).unwrap();
        assert_eq!(ok.until_ms, Some(1_767_312_000_000));
        assert_eq!(ok.offsets.len(), 2);
    }
}
