//! `reprise log tail|stats`: prints what `ops::log` reads, from the data
//! directory's log, Kafka, or a running server (`--server`).

use super::output::JsonFlag;
use super::LogArgs;
use crate::ops::log::{compute_stats, parse_time, StartAt, Tail, TailLine, TailOptions};
use clap::{Args, Subcommand, ValueEnum};
use events::codec::HEADER_EVENT_TYPE;
use std::io::Write;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum LogCommand {
    /// Print records, like `kcat -C`.
    Tail(TailArgs),
    /// Per topic and partition: count, first and last offset and time, bytes,
    /// the largest record.
    Stats(JsonFlag),
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Json,
    Pretty,
}

#[derive(Args, Debug)]
pub struct TailArgs {
    /// Topic: calendar, contact, directory or seen (all when omitted).
    #[arg(long, env = "REPRISE_TOPIC")]
    pub topic: Option<String>,
    /// Start: beginning, end, an offset N, or -N for the last N of each partition.
    #[arg(
        short = 'o',
        long = "offset",
        env = "REPRISE_OFFSET",
        default_value = "beginning",
        allow_hyphen_values = true
    )]
    pub offset: String,
    /// Keep waiting for new records.
    #[arg(short = 'f', long, env = "REPRISE_FOLLOW")]
    pub follow: bool,
    /// Only records with this key (partition key: `login@domain` or a domain).
    #[arg(long, env = "REPRISE_KEY")]
    pub key: Option<String>,
    /// Only events of this type (e.g. CalendarObjectPut).
    #[arg(long = "type", env = "REPRISE_TYPE")]
    pub event_type: Option<String>,
    /// Only records at or after this time (RFC 3339, or a date YYYY-MM-DD).
    #[arg(long, env = "REPRISE_SINCE")]
    pub since: Option<String>,
    /// Only records at or before this time (RFC 3339, or a date
    /// YYYY-MM-DD), as `clone --until` and `rebuild --until` cut.
    #[arg(long, env = "REPRISE_UNTIL")]
    pub until: Option<String>,
    /// Stop after this many records.
    #[arg(short = 'c', long, env = "REPRISE_COUNT")]
    pub count: Option<u64>,
    /// Output format: json (one object per line) or pretty.
    #[arg(long, value_enum, env = "REPRISE_FORMAT", default_value = "json")]
    pub format: Format,
}

pub async fn tail(args: &LogArgs, opts: TailArgs) -> anyhow::Result<ExitCode> {
    let start: StartAt = opts.offset.parse()?;
    let since = opts.since.as_deref().map(parse_time).transpose()?;
    let until = opts.until.as_deref().map(parse_time).transpose()?;
    let log = args.open_log().await?;
    let options = TailOptions {
        topic: opts.topic,
        start,
        follow: opts.follow,
        key: opts.key,
        event_type: opts.event_type,
        since,
        until,
    };
    let tail = Tail::open(log, options).await?;
    let (format, count, follow) = (opts.format, opts.count, opts.follow);
    let printed = tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
        let mut reader = tail.reader()?;
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        let mut printed = 0u64;
        while let Some(records) = reader.next_batch()? {
            for r in &records {
                let l = reader.line(r);
                let written = match format {
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
                if count.is_some_and(|c| printed >= c) {
                    out.flush().ok();
                    return Ok(printed);
                }
            }
            if follow {
                out.flush().ok();
            }
        }
        out.flush().ok();
        Ok(printed)
    })
    .await??;
    tracing::debug!(printed, "tail done");
    Ok(ExitCode::SUCCESS)
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

pub async fn stats(args: &LogArgs, opts: JsonFlag) -> anyhow::Result<ExitCode> {
    let log = args.open_log().await?;
    println!("{}", log.describe());
    let stats = compute_stats(log).await?;
    if opts.json {
        println!("{}", serde_json::to_string_pretty(&stats)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<24} {:>4} {:>10} {:>12} {:>12} {:>26} {:>26} {:>12} {:>10}",
        "topic", "part", "count", "first", "last", "first time", "last time", "bytes", "largest"
    );
    let dash = || "-".to_string();
    for s in &stats {
        println!(
            "{:<24} {:>4} {:>10} {:>12} {:>12} {:>26} {:>26} {:>12} {:>10}",
            s.topic,
            s.partition,
            s.count,
            s.first_offset.map_or_else(dash, |o| o.to_string()),
            s.last_offset.map_or_else(dash, |o| o.to_string()),
            s.first_timestamp.clone().unwrap_or_else(dash),
            s.last_timestamp.clone().unwrap_or_else(dash),
            s.bytes,
            s.largest
        );
    }
    Ok(ExitCode::SUCCESS)
}
