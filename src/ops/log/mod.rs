//! `reprise log tail|stats`: an inspector for the log, as handy as kcat.

pub mod wire;

use crate::cli::LogArgs;
use crate::cli::{Format, JsonFlag, TailArgs};
use anyhow::{anyhow, Context};
use chrono::{DateTime, NaiveDate, Utc};
use events::codec::{self, HEADER_EVENT_TYPE};
use events::log::{ReadStart, TopicPartition};
use events::{Domain, EventLog, LogRecord};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

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
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<StartAt> {
        match s {
            "beginning" => Ok(StartAt::Beginning),
            "end" => Ok(StartAt::End),
            _ => {
                let parse = |t: &str| {
                    t.parse::<u64>()
                        .map_err(|_| anyhow!("-o takes beginning, end, N or -N, not {s:?}"))
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
pub fn parse_time(s: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .with_context(|| format!("{s:?} is neither an RFC 3339 time nor a YYYY-MM-DD date"))?;
    Ok(date
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or_default())
}

fn topics(log: &dyn EventLog, topic: Option<&str>) -> anyhow::Result<Vec<Domain>> {
    match topic {
        None => Ok(Domain::ALL.to_vec()),
        Some(name) => {
            // Accept both `calendar` and the full Kafka name `reprise.calendar`.
            Domain::ALL
                .into_iter()
                .find(|d| d.as_str() == name || log.topic_name(*d) == name)
                .map(|d| vec![d])
                .ok_or_else(|| {
                    anyhow!("unknown topic {name:?}: calendar, contact, directory or seen")
                })
        }
    }
}

/// One record as `log tail` prints it.
#[derive(Serialize)]
struct TailLine<'a> {
    topic: String,
    partition: u32,
    offset: u64,
    timestamp: String,
    key: String,
    headers: BTreeMap<&'a str, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    decode_error: Option<String>,
}

fn timestamp(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

fn line<'a>(log: &dyn EventLog, r: &'a LogRecord) -> TailLine<'a> {
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

fn print_pretty(out: &mut impl Write, l: &TailLine<'_>) -> std::io::Result<()> {
    let kind = l
        .headers
        .get(HEADER_EVENT_TYPE)
        .map(String::as_str)
        .unwrap_or("?");
    writeln!(
        out,
        "{}/{}@{}  {}  {}  {}",
        l.topic, l.partition, l.offset, l.timestamp, l.key, kind
    )?;
    match (&l.event, &l.decode_error) {
        (Some(e), _) => {
            let text = serde_json::to_string_pretty(e).unwrap_or_default();
            for row in text.lines() {
                writeln!(out, "    {row}")?;
            }
        }
        (None, Some(err)) => writeln!(out, "    undecodable: {err}")?,
        _ => {}
    }
    writeln!(out)
}

pub async fn tail(args: &LogArgs, opts: TailArgs) -> anyhow::Result<ExitCode> {
    let start: StartAt = opts.offset.parse()?;
    let since = opts.since.as_deref().map(parse_time).transpose()?;
    let until = opts.until.as_deref().map(parse_time).transpose()?;
    let log = args.open_log().await?;
    let domains = topics(log.as_ref(), opts.topic.as_deref())?;

    let mut starts = Vec::new();
    for &domain in &domains {
        let ends = log.end_offsets(domain).await?;
        for (partition, end) in ends.into_iter().enumerate() {
            let offset = match start {
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
    let log2 = log.clone();
    let printed = tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
        let mut reader = log2.reader(&starts)?;
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        let mut printed = 0u64;
        loop {
            let batch = reader.poll(
                1000,
                Duration::from_millis(if opts.follow { 500 } else { 200 }),
            )?;
            for r in &batch.records {
                if opts
                    .key
                    .as_deref()
                    .is_some_and(|k| k.as_bytes() != r.key.as_slice())
                {
                    continue;
                }
                if let Some(t) = &opts.event_type {
                    if r.header(HEADER_EVENT_TYPE) != Some(t.as_bytes()) {
                        continue;
                    }
                }
                if since.is_some_and(|s| r.timestamp_ms < s.timestamp_millis())
                    || until.is_some_and(|u| r.timestamp_ms > u.timestamp_millis())
                {
                    continue;
                }
                let l = line(log2.as_ref(), r);
                let written = match opts.format {
                    Format::Json => serde_json::to_writer(&mut out, &l)
                        .map_err(std::io::Error::other)
                        .and_then(|_| writeln!(out)),
                    Format::Pretty => print_pretty(&mut out, &l),
                };
                if let Err(e) = written {
                    // A closed pipe (`| head`) ends the tail quietly.
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        return Ok(printed);
                    }
                    return Err(e.into());
                }
                printed += 1;
                if opts.count.is_some_and(|c| printed >= c) {
                    out.flush().ok();
                    return Ok(printed);
                }
            }
            if opts.follow {
                out.flush().ok();
            } else if batch.records.is_empty() && batch.caught_up {
                out.flush().ok();
                return Ok(printed);
            }
        }
    })
    .await??;
    tracing::debug!(printed, "tail done");
    Ok(ExitCode::SUCCESS)
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
}

/// Reads every partition once, to its end: exact on any backend (no
/// reliance on watermark answers).
pub async fn compute_stats(
    log: std::sync::Arc<dyn EventLog>,
) -> anyhow::Result<Vec<PartitionStats>> {
    tokio::task::spawn_blocking(move || {
        let mut stats: BTreeMap<TopicPartition, PartitionStats> = BTreeMap::new();
        let mut starts = Vec::new();
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
                starts.push(ReadStart {
                    topic_partition: tp,
                    offset: 0,
                });
            }
        }
        let mut reader = log.reader(&starts)?;
        loop {
            let batch = reader.poll(5000, Duration::from_millis(200))?;
            for r in &batch.records {
                let tp = TopicPartition {
                    domain: r.domain,
                    partition: r.partition,
                };
                let s = stats.entry(tp).or_default();
                s.count += 1;
                s.bytes += r.size() as u64;
                if s.first_offset.is_none() {
                    s.first_offset = Some(r.offset);
                    s.first_timestamp = Some(timestamp(r.timestamp_ms));
                }
                s.last_offset = Some(r.offset);
                s.last_timestamp = Some(timestamp(r.timestamp_ms));
            }
            if batch.records.is_empty() && batch.caught_up {
                return Ok(stats.into_values().collect());
            }
        }
    })
    .await?
}

pub async fn stats(args: &LogArgs, opts: JsonFlag) -> anyhow::Result<ExitCode> {
    let log = args.open_log().await?;
    println!("{}", log.describe());
    let stats = compute_stats(log).await?;
    if opts.json {
        println!("{}", serde_json::to_string_pretty(&stats)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<24} {:>4} {:>10} {:>12} {:>12} {:>26} {:>26} {:>12}",
        "topic", "part", "count", "first", "last", "first time", "last time", "bytes"
    );
    let dash = || "-".to_string();
    for s in &stats {
        println!(
            "{:<24} {:>4} {:>10} {:>12} {:>12} {:>26} {:>26} {:>12}",
            s.topic,
            s.partition,
            s.count,
            s.first_offset.map_or_else(dash, |o| o.to_string()),
            s.last_offset.map_or_else(dash, |o| o.to_string()),
            s.first_timestamp.clone().unwrap_or_else(dash),
            s.last_timestamp.clone().unwrap_or_else(dash),
            s.bytes
        );
    }
    Ok(ExitCode::SUCCESS)
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
