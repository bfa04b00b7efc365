//! `reprise objects verify|gc`: the object store checked against the log
//! (`ops::objects`). The log is the data directory's, Kafka, or a running
//! server's (`--server`); the store is `--object-store`'s, which every
//! installation sharing the log shares.

use super::output::JsonFlag;
use super::LogArgs;
use crate::ops::objects::{gc, verify, GcOptions};
use clap::{Args, Subcommand};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Subcommand, Debug)]
pub enum ObjectsCommand {
    /// Check that every object the log names is in the store, whole: its
    /// size and SHA-256. Lists what is missing or damaged; exit status 1
    /// if anything is.
    Verify(JsonFlag),
    /// Remove objects no record of the log names: orphans of writes that
    /// failed after their object was stored. Never one that any past event
    /// names, which a rebuild to that point needs.
    Gc(GcArgs),
}

#[derive(Args, Debug)]
pub struct GcArgs {
    /// Only objects written longer ago than this: `90s`, `30m`, `12h`,
    /// `7d`. Keep it well above the longest write (minutes), so that an
    /// object whose event is on its way is never taken.
    #[arg(long, value_parser = parse_duration)]
    pub older_than: Duration,
    /// List what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub output: JsonFlag,
}

/// `N` followed by `s`, `m`, `h` or `d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration such as 90s, 30m, 12h or 7d");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(bad)
}

pub async fn run(args: &LogArgs, command: ObjectsCommand) -> anyhow::Result<ExitCode> {
    let store = args.config()?.open_objects()?;
    let log = args.open_log().await?;
    match command {
        ObjectsCommand::Verify(output) => {
            let report = verify(log, &store).await?;
            if output.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "{}: {} objects named by the log, {} bytes read and checked",
                    store.location(),
                    report.referenced,
                    report.bytes
                );
                for p in &report.problems {
                    println!(
                        "{} {} ({} bytes, first named at {}): {}",
                        p.kind, p.reference.sha256, p.reference.size, p.reference.first, p.reason
                    );
                }
                if report.problems.is_empty() {
                    println!("every object is present and whole");
                }
            }
            Ok(if report.problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        ObjectsCommand::Gc(gc_args) => {
            let options = GcOptions {
                older_than: gc_args.older_than,
                dry_run: gc_args.dry_run,
            };
            let report = gc(log, &store, &options).await?;
            if gc_args.output.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
                return Ok(ExitCode::SUCCESS);
            }
            let verb = if report.dry_run {
                "would remove"
            } else {
                "removed"
            };
            for o in &report.orphans {
                println!(
                    "{verb} {} ({} bytes, written {})",
                    o.sha256, o.size, o.modified
                );
            }
            println!(
                "{}: {} objects; {} named by the log, {} too young to judge; {verb} {} ({} bytes)",
                store.location(),
                report.stored,
                report.referenced,
                report.young,
                report.orphans.len(),
                report.orphan_bytes
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_have_a_unit() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        for bad in ["", "10", "h", "1.5h", "-1h", "10 m", "3w"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
