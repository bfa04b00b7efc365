//! `reprise bench rebuild`: runs `bench::rebuild` and prints its figures,
//! the last line of standard output one JSON object.

use crate::bench::{human_bytes, rate, Options, Step};
use crate::cli::LogArgs;
use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Write a synthetic log, rebuild every projection, print figures.
    Rebuild(BenchRebuildArgs),
}

#[derive(Args, Debug)]
pub struct BenchRebuildArgs {
    /// Events to write.
    #[arg(long, env = "REPRISE_BENCH_EVENTS", default_value_t = 100_000)]
    pub events: u64,
    /// Users of the synthetic installation, all set up at the start of the
    /// log (about five events each) in up to 20 domains, with groups and
    /// shares (default: one user per 500 events, joining over time, in up
    /// to 8 domains, as logs written before this option).
    #[arg(
        long,
        env = "REPRISE_BENCH_USERS",
        value_parser = clap::value_parser!(u64).range(1..=crate::bench::synthetic::MAX_USERS)
    )]
    pub users: Option<u64>,
    /// Seed of the generator (same seed, same log).
    #[arg(long, env = "REPRISE_BENCH_SEED", default_value_t = 42)]
    pub seed: u64,
    /// Events per rebuild batch.
    #[arg(long, env = "REPRISE_BATCH_SIZE", default_value_t = 2000)]
    pub batch_size: usize,
    /// Where to put the benchmark's log and views (default: a temporary directory).
    #[arg(long, env = "REPRISE_BENCH_DIR")]
    pub dir: Option<PathBuf>,
    /// Threads per projection, as `rebuild --workers` (default: the cores).
    #[arg(long, env = "REPRISE_WORKERS")]
    pub workers: Option<usize>,
    /// Percent of new calendar objects that are meetings inviting users
    /// of the directory, each followed by the deliveries and completion
    /// the leader's scheduling appends (0: none, the mix as before).
    #[arg(long, env = "REPRISE_BENCH_SCHEDULING", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=100))]
    pub scheduling: u64,
}

/// `reprise bench rebuild`.
pub async fn bench_rebuild(args: &LogArgs, opts: BenchRebuildArgs) -> anyhow::Result<ExitCode> {
    if args.server.is_some() {
        bail!("bench rebuild runs in this process; it does not take --server");
    }
    let options = Options {
        events: opts.events,
        users: opts.users,
        seed: opts.seed,
        batch_size: opts.batch_size,
        dir: opts.dir.clone(),
        workers: opts.workers.unwrap_or_else(crate::engine::default_workers),
        scheduling: opts.scheduling,
    };
    let report = crate::bench::rebuild(
        &args.config()?,
        &options,
        &*super::progress::on_stderr(),
        |step| match step {
            Step::Kafka { brokers, prefix } => {
                eprintln!("writing to Kafka at {brokers}, topics {prefix}.* (left in place)")
            }
            Step::Writing { log } => {
                let shape = match opts.users {
                    Some(users) => format!("{users} users, "),
                    None => String::new(),
                };
                eprintln!(
                    "writing {} synthetic events ({shape}seed {}) to the {log}",
                    opts.events, opts.seed
                );
            }
            Step::Written { events } => eprintln!("  written {events} events"),
            Step::WriteDone {
                events,
                seconds,
                peak_rss_mb,
            } => eprintln!(
            "write: {events} events in {seconds:.2} s ({:.0} events/s), peak RSS so far {:.0} MB",
            events as f64 / seconds.max(1e-9),
            peak_rss_mb.unwrap_or(0.0)
        ),
            Step::TooFewEvents { users, set_up } => eprintln!(
                "warning: {} events end the log before all {users} users are set up (about five \
             events each): {set_up} were; give more --events",
                opts.events
            ),
        },
    )
    .await?;

    let written = report.written.events;
    let (events, quarantined) = (report.events(), report.quarantined());
    let (write_time, elapsed) = (report.write_time, report.rebuild_time);
    println!(
        "write phase: {written} events in {:.2} s ({:.0} events/s), not part of the result",
        write_time.as_secs_f64(),
        rate(written, write_time)
    );
    if let Some(users) = opts.users {
        let summary = &report.written;
        println!(
            "installation: {} users (of {users} asked for) in {} domains; {} calendar and {} \
             address book grants",
            summary.users, summary.domains, summary.calendar_shares, summary.address_book_shares
        );
    }
    for r in &report.results {
        println!(
            "  {:<14} {:>9} events in {:>6.2} s, {} quarantined{}",
            r.id.to_string(),
            r.events,
            r.seconds,
            r.quarantined,
            if r.complete { "" } else { ", INCOMPLETE" }
        );
    }
    println!(
        "rebuild: {events} events in {:.2} s ({:.0} events/s); on disk: views {}, log {}",
        elapsed.as_secs_f64(),
        rate(events, elapsed),
        human_bytes(report.views_bytes),
        human_bytes(report.log_bytes)
    );
    if let Some(dir) = &opts.dir {
        println!("log and views kept in {}", dir.display());
    }
    if let Some(r) = report.results.iter().find(|r| !r.complete) {
        bail!("the rebuild of {} did not complete", r.id);
    }
    if quarantined > 0 {
        bail!(
            "{quarantined} events were quarantined; the synthetic log should hold only valid events \
             (see `reprise projections quarantine`{})",
            if opts.dir.is_some() { "" } else { " with --dir to keep the data" }
        );
    }
    if events != written {
        bail!("the rebuild applied {events} events but {written} were written");
    }
    let peak = report
        .peak_rss_mb
        .context("reading VmHWM from /proc/self/status")?;
    // Written by hand to keep the documented key order (serde_json sorts
    // keys); every number is finite.
    println!(
        "{{\"events\":{events},\"seconds\":{:.3},\"events_per_s\":{:.0},\"peak_rss_mb\":{:.1},\
         \"views_bytes\":{},\"log_bytes\":{}}}",
        elapsed.as_secs_f64(),
        rate(events, elapsed),
        peak,
        report.views_bytes,
        report.log_bytes
    );
    Ok(ExitCode::SUCCESS)
}
