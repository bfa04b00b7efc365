//! `reprise log tail|stats`: an inspector for the log, as handy as kcat.
//! This is the reading and filtering; the command line prints.

pub mod wire;

use chrono::{DateTime, NaiveDate, Utc};
use events::codec::{self, HEADER_EVENT_TYPE};
use events::log::{LogReader, ReadStart, TopicPartition};
use events::{Domain, EventLog, LogError, LogRecord};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("-o takes beginning, end, N or -N, not {0:?}")]
    BadStart(String),
    /// The reason is in the message, not a source, so that it shows
    /// wherever the message does.
    #[error("{text:?} is neither an RFC 3339 time nor a YYYY-MM-DD date: {reason}")]
    BadTime {
        text: String,
        reason: chrono::ParseError,
    },
    #[error("unknown topic {0:?}: calendar, contact, directory or seen")]
    UnknownTopic(String),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Stopped(#[from] tokio::task::JoinError),
}

/// Where `-o` starts reading each partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartAt {
    Beginning,
    End,
    Offset(u64),
    /// The last N records of each partition.
    Last(u64),
}

impl std::str::FromStr for StartAt {
    type Err = InspectError;
    fn from_str(s: &str) -> Result<StartAt, InspectError> {
        match s {
            "beginning" => Ok(StartAt::Beginning),
            "end" => Ok(StartAt::End),
            _ => {
                let parse = |t: &str| {
                    t.parse::<u64>()
                        .map_err(|_| InspectError::BadStart(s.to_string()))
                };
                match s.strip_prefix('-') {
                    Some(n) => parse(n).map(StartAt::Last),
                    None => parse(s).map(StartAt::Offset),
                }
            }
        }
    }
}

/// A time bound: RFC 3339, or a date meaning its midnight UTC.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, InspectError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let date =
        NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|reason| InspectError::BadTime {
            text: s.to_string(),
            reason,
        })?;
    Ok(date
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or_default())
}

fn topics(log: &dyn EventLog, topic: Option<&str>) -> Result<Vec<Domain>, InspectError> {
    match topic {
        None => Ok(Domain::ALL.to_vec()),
        Some(name) => {
            // Accept both `calendar` and the full Kafka name `reprise.calendar`.
            Domain::ALL
                .into_iter()
                .find(|d| d.as_str() == name || log.topic_name(*d) == name)
                .map(|d| vec![d])
                .ok_or_else(|| InspectError::UnknownTopic(name.to_string()))
        }
    }
}

/// One record as `log tail` prints it (its JSON line).
#[derive(Serialize)]
pub struct TailLine<'a> {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub timestamp: String,
    pub key: String,
    pub headers: BTreeMap<&'a str, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode_error: Option<String>,
}

fn timestamp(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

/// A record decoded for display; an undecodable one says why.
pub fn line<'a>(log: &dyn EventLog, r: &'a LogRecord) -> TailLine<'a> {
    let (event, decode_error) = match codec::decode_record(r) {
        Ok(e) => (serde_json::to_value(&e).ok(), None),
        Err(e) => (None, Some(e.to_string())),
    };
    TailLine {
        topic: log.topic_name(r.domain),
        partition: r.partition,
        offset: r.offset,
        timestamp: timestamp(r.timestamp_ms),
        key: String::from_utf8_lossy(&r.key).into_owned(),
        headers: r
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), String::from_utf8_lossy(v).into_owned()))
            .collect(),
        event,
        decode_error,
    }
}

/// Which records `log tail` shows, and from where.
#[derive(Clone, Debug)]
pub struct TailOptions {
    /// A topic (`calendar` or its full name); every topic when `None`.
    pub topic: Option<String>,
    pub start: StartAt,
    /// Keep waiting for new records rather than stop at the end.
    pub follow: bool,
    /// Only records with this key.
    pub key: Option<String>,
    /// Only events of this type.
    pub event_type: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// A tail positioned on the log: where each partition starts.
pub struct Tail {
    log: Arc<dyn EventLog>,
    starts: Vec<ReadStart>,
    options: TailOptions,
}

impl Tail {
    /// Resolves the topic and the start of each of its partitions.
    pub async fn open(log: Arc<dyn EventLog>, options: TailOptions) -> Result<Tail, InspectError> {
        let domains = topics(log.as_ref(), options.topic.as_deref())?;
        let mut starts = Vec::new();
        for &domain in &domains {
            let ends = log.end_offsets(domain).await?;
            for (partition, end) in ends.into_iter().enumerate() {
                let offset = match options.start {
                    StartAt::Beginning => 0,
                    StartAt::End => end,
                    StartAt::Offset(n) => n,
                    StartAt::Last(n) => end.saturating_sub(n),
                };
                starts.push(ReadStart {
                    topic_partition: TopicPartition {
                        domain,
                        partition: partition as u32,
                    },
                    offset,
                });
            }
        }
        Ok(Tail {
            log,
            starts,
            options,
        })
    }

    /// Opens the reader. Reading blocks: call from a blocking thread.
    pub fn reader(self) -> Result<TailReader, InspectError> {
        let reader = self.log.reader(&self.starts)?;
        Ok(TailReader {
            log: self.log,
            reader,
            options: self.options,
        })
    }
}

/// Reads a tail batch by batch.
pub struct TailReader {
    log: Arc<dyn EventLog>,
    reader: Box<dyn LogReader>,
    options: TailOptions,
}

impl TailReader {
    /// The records of the next poll that pass the filters; `None` once the
    /// end is reached, unless following.
    pub fn next_batch(&mut self) -> Result<Option<Vec<LogRecord>>, InspectError> {
        let wait = Duration::from_millis(if self.options.follow { 500 } else { 200 });
        let batch = self.reader.poll(1000, wait)?;
        if !self.options.follow && batch.records.is_empty() && batch.caught_up {
            return Ok(None);
        }
        let mut records = batch.records;
        records.retain(|r| self.shows(r));
        Ok(Some(records))
    }

    fn shows(&self, r: &LogRecord) -> bool {
        let o = &self.options;
        if o.key
            .as_deref()
            .is_some_and(|k| k.as_bytes() != r.key.as_slice())
        {
            return false;
        }
        if let Some(t) = &o.event_type {
            if r.header(HEADER_EVENT_TYPE) != Some(t.as_bytes()) {
                return false;
            }
        }
        !(o.since
            .is_some_and(|s| r.timestamp_ms < s.timestamp_millis())
            || o.until
                .is_some_and(|u| r.timestamp_ms > u.timestamp_millis()))
    }

    /// A record decoded for display.
    pub fn line<'a>(&self, r: &'a LogRecord) -> TailLine<'a> {
        line(self.log.as_ref(), r)
    }
}

/// What `log stats` reports for one partition.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct PartitionStats {
    pub topic: String,
    pub partition: u32,
    pub count: u64,
    pub first_offset: Option<u64>,
    pub last_offset: Option<u64>,
    pub first_timestamp: Option<String>,
    pub last_timestamp: Option<String>,
    pub bytes: u64,
    /// The largest record, in bytes (key, headers and value).
    pub largest: u64,
}

/// Reads every partition once, to its end: exact on any backend (no
/// reliance on watermark answers).
pub async fn compute_stats(log: Arc<dyn EventLog>) -> Result<Vec<PartitionStats>, InspectError> {
    tokio::task::spawn_blocking(move || {
        let mut stats: BTreeMap<TopicPartition, PartitionStats> = BTreeMap::new();
        for domain in Domain::ALL {
            for partition in 0..log.partitions(domain) {
                let tp = TopicPartition { domain, partition };
                stats.insert(
                    tp,
                    PartitionStats {
                        topic: log.topic_name(domain),
                        partition,
                        ..PartitionStats::default()
                    },
                );
            }
        }
        scan(log.as_ref(), &Domain::ALL, |r| {
            let tp = TopicPartition {
                domain: r.domain,
                partition: r.partition,
            };
            let s = stats.entry(tp).or_default();
            s.count += 1;
            s.bytes += r.size() as u64;
            s.largest = s.largest.max(r.size() as u64);
            if s.first_offset.is_none() {
                s.first_offset = Some(r.offset);
                s.first_timestamp = Some(timestamp(r.timestamp_ms));
            }
            s.last_offset = Some(r.offset);
            s.last_timestamp = Some(timestamp(r.timestamp_ms));
            Ok::<(), InspectError>(())
        })?;
        Ok(stats.into_values().collect())
    })
    .await?
}

/// Reads every partition of `domains` from its start to its end, handing
/// each record to `visit`. Blocks: call from a blocking thread.
pub fn scan<E: From<InspectError>>(
    log: &dyn EventLog,
    domains: &[Domain],
    mut visit: impl FnMut(&LogRecord) -> Result<(), E>,
) -> Result<(), E> {
    let mut starts = Vec::new();
    for &domain in domains {
        for partition in 0..log.partitions(domain) {
            starts.push(ReadStart {
                topic_partition: TopicPartition { domain, partition },
                offset: 0,
            });
        }
    }
    let mut reader = log.reader(&starts).map_err(InspectError::from)?;
    loop {
        let batch = reader
            .poll(5000, Duration::from_millis(200))
            .map_err(InspectError::from)?;
        for r in &batch.records {
            visit(r)?;
        }
        if batch.records.is_empty() && batch.caught_up {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_start_positions_like_kcat() {
        assert_eq!("beginning".parse::<StartAt>().unwrap(), StartAt::Beginning);
        assert_eq!("end".parse::<StartAt>().unwrap(), StartAt::End);
        assert_eq!("42".parse::<StartAt>().unwrap(), StartAt::Offset(42));
        assert_eq!("-5".parse::<StartAt>().unwrap(), StartAt::Last(5));
        assert!("-x".parse::<StartAt>().is_err());
        assert!("soon".parse::<StartAt>().is_err());
    }

    #[test]
    fn parses_time_bounds() {
        assert_eq!(
            parse_time("2026-01-02").unwrap().to_rfc3339(),
            "2026-01-02T00:00:00+00:00"
        );
        assert_eq!(
            parse_time("2026-01-02T10:00:00+01:00")
                .unwrap()
                .to_rfc3339(),
            "2026-01-02T09:00:00+00:00"
        );
        assert!(parse_time("yesterday").is_err());
    }
}
