//! `reprise projections status|digest|quarantine`: from the data
//! directory, or from a running server with `--server`.

use super::output::JsonFlag;
use super::target::operations;
use super::LogArgs;
use crate::engine::Role;
use crate::ops::projections::{quarantined, StatusReport};
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum ProjectionsCommand {
    /// Versions present, which is live, positions, lag and quarantine.
    Status(JsonFlag),
    /// A digest of each version's view contents (identical for identical logs).
    Digest(JsonFlag),
    /// Events a projection refused, with their position and reason.
    Quarantine(JsonFlag),
}

pub async fn run(args: &LogArgs, cmd: ProjectionsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ProjectionsCommand::Status(f) => {
            let report = operations(args)?.projection_status().await?;
            if f.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_status(&report);
            }
        }
        ProjectionsCommand::Digest(f) => {
            let list = operations(args)?.digests().await?;
            if f.json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for d in list {
                    println!("{}@{}  {}", d.projection, d.version, d.digest);
                }
            }
        }
        ProjectionsCommand::Quarantine(f) => {
            if args.server.is_some() {
                anyhow::bail!("quarantine listing works on the data directory; stop the server or use `projections status` for counts");
            }
            let all = quarantined(&args.open_views()?)?;
            if f.json {
                for (id, q) in &all {
                    println!(
                        "{}",
                        serde_json::json!({
                            "projection": id.to_string(), "topic": q.topic, "partition": q.partition,
                            "offset": q.offset, "event_type": q.event_type, "event_id": q.event_id,
                            "reason": q.reason, "bytes": q.value.len(),
                        })
                    );
                }
            } else if all.is_empty() {
                println!("no quarantined event");
            } else {
                for (id, q) in &all {
                    println!(
                        "{id}  {}/{}@{}  {}  {}",
                        q.topic,
                        q.partition,
                        q.offset,
                        q.event_type.as_deref().unwrap_or("?"),
                        q.reason
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_status(report: &StatusReport) {
    println!("log: {}", report.log);
    if let Some(c) = &report.cluster {
        let role = match &c.role {
            Role::Starting => "starting".to_string(),
            Role::Leader { epoch } => format!("leader, epoch {epoch}"),
            Role::Follower { epoch, leader } => format!(
                "follower of {}, epoch {epoch}",
                leader.as_deref().unwrap_or("(no leader yet: standby)")
            ),
        };
        println!("installation: {} ({role})", c.installation);
    }
    println!(
        "{:<12} {:>7} {:<9} {:>5} {:>10} {:>8} {:>11}  positions (partition:next/end)",
        "projection", "version", "state", "live", "lag", "lag s", "quarantined"
    );
    for p in &report.projections {
        if p.versions.is_empty() {
            println!(
                "{:<12} {:>7} {:<9} {:>5} {:>10} {:>8} {:>11}",
                p.name, p.current, "absent", "-", "-", "-", "-"
            );
        }
        for v in &p.versions {
            let positions: Vec<String> = v
                .positions
                .iter()
                .map(|x| format!("{}:{}/{}", x.partition, x.next_offset, x.end_offset))
                .collect();
            println!(
                "{:<12} {:>7} {:<9} {:>5} {:>10} {:>8} {:>11}  {}",
                p.name,
                v.version,
                v.state,
                if v.live { "yes" } else { "no" },
                v.lag,
                v.lag_seconds.map_or("-".to_string(), |s| format!("{s:.1}")),
                v.quarantined,
                positions.join(" ")
            );
        }
    }
}
