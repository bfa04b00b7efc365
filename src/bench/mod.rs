//! `reprise bench rebuild`: writes a synthetic log (see
//! [`crate::bench::synthetic`]; with `--users N`, an installation of N users set
//! up at its start), rebuilds every projection from it, and prints
//! figures. Only the rebuild is timed; the last line of standard output is
//! one JSON object:
//!
//! `{"events":N,"seconds":S,"events_per_s":R,"peak_rss_mb":M,"views_bytes":V,"log_bytes":L}`
//!
//! where `events` is what the projections applied, `peak_rss_mb` the
//! peak resident memory of the whole process (`VmHWM`), write phase
//! included, and the sizes what the views and the embedded log occupy on
//! disk (`du`; the log is 0 on Kafka).

pub mod synthetic;

use crate::cli::BenchRebuildArgs;
use crate::cli::LogArgs;
use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A directory the benchmark made for itself, removed when dropped.
struct Scratch {
    path: PathBuf,
    remove: bool,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.remove {
            if let Err(e) = std::fs::remove_dir_all(&self.path) {
                eprintln!("could not remove {}: {e}", self.path.display());
            }
        }
    }
}

/// `reprise-bench-<pid>-<millis>`: unique per run on one machine.
fn run_name() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("reprise-bench-{}-{millis}", std::process::id())
}

/// Uses `dir` (which must be empty or missing), or makes a temporary one.
fn prepare_dir(dir: Option<&Path>, name: &str) -> anyhow::Result<Scratch> {
    match dir {
        Some(dir) => {
            if let Ok(mut entries) = std::fs::read_dir(dir) {
                if entries.next().is_some() {
                    bail!(
                        "{} is not empty; the benchmark writes a fresh log and views, so give it an \
                         empty or missing directory",
                        dir.display()
                    );
                }
            }
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            Ok(Scratch {
                path: dir.to_path_buf(),
                remove: false,
            })
        }
        None => {
            let path = std::env::temp_dir().join(name);
            std::fs::create_dir(&path).with_context(|| format!("creating {}", path.display()))?;
            Ok(Scratch { path, remove: true })
        }
    }
}

/// The peak resident set size of this process, in MiB (`VmHWM`).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

fn rate(events: u64, elapsed: Duration) -> f64 {
    events as f64 / elapsed.as_secs_f64().max(1e-9)
}

fn human_bytes(bytes: u64) -> String {
    let mb = bytes as f64 / (1024.0 * 1024.0);
    if mb >= 1024.0 {
        format!("{:.2} GiB", mb / 1024.0)
    } else {
        format!("{mb:.1} MiB")
    }
}

pub async fn rebuild(args: &LogArgs, opts: BenchRebuildArgs) -> anyhow::Result<ExitCode> {
    if args.server.is_some() {
        bail!("bench rebuild runs in this process; it does not take --server");
    }
    if opts.events == 0 {
        bail!("--events must be at least 1");
    }
    let name = run_name();
    // Declared first, so it is dropped (and the directory removed) after
    // the log and the views are closed.
    let scratch = prepare_dir(opts.dir.as_deref(), &name)?;
    let on_terminal = std::io::stderr().is_terminal();

    // The directory is a data directory like any other, so the usual
    // tools (`reprise --data-dir DIR projections status`...) work on it.
    let mut data = args.clone();
    data.data_dir = scratch.path.clone();
    data.topic_prefix = name.clone();
    data.prepare_data_dir()?;
    let log = data.open_log().await?;
    if let Some(brokers) = &args.kafka_brokers {
        eprintln!("writing to Kafka at {brokers}, topics {name}.* (left in place)");
    }
    let shape = match opts.users {
        Some(users) => format!("{users} users, "),
        None => String::new(),
    };
    eprintln!(
        "writing {} synthetic events ({shape}seed {}) to the {}",
        opts.events,
        opts.seed,
        log.describe()
    );

    // Write phase.
    let bar = ProgressBar::with_draw_target(
        Some(opts.events),
        if on_terminal {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>14} [{bar:30}] {pos}/{len} events {per_sec} ETA {eta}",
        )
        .context("progress template")?
        .progress_chars("=> "),
    );
    bar.set_prefix("write");
    let started = Instant::now();
    let mut last_line = Instant::now();
    let summary =
        crate::bench::synthetic::write(log.as_ref(), opts.seed, opts.events, opts.users, |n| {
            bar.set_position(n);
            if !on_terminal && last_line.elapsed() > Duration::from_secs(5) {
                last_line = Instant::now();
                eprintln!("  written {n} events");
            }
        })
        .await
        .context("writing the synthetic log")?;
    let written = summary.events;
    bar.finish_and_clear();
    let write_time = started.elapsed();
    eprintln!(
        "write: {written} events in {:.2} s ({:.0} events/s), peak RSS so far {:.0} MB",
        write_time.as_secs_f64(),
        rate(written, write_time),
        peak_rss_mb().unwrap_or(0.0)
    );
    if let Some(users) = opts.users.filter(|&users| summary.users < users) {
        eprintln!(
            "warning: {} events end the log before all {users} users are set up (about five \
             events each): {} were; give more --events",
            opts.events, summary.users
        );
    }

    // Rebuild phase: the only one timed for the result.
    let store = data.open_views()?;
    let projections = projections::registry::current();
    let rebuild_opts = crate::ops::rebuild::Options {
        batch_size: opts.batch_size,
        workers: opts
            .workers
            .unwrap_or_else(crate::ops::rebuild::default_workers),
        stop_after_batches: None,
    };
    let started = Instant::now();
    let results = crate::ops::rebuild::rebuild(
        log.clone(),
        &store,
        &projections,
        &rebuild_opts,
        on_terminal,
    )
    .await
    .context("rebuilding the projections")?;
    let elapsed = started.elapsed();

    let events: u64 = results.iter().map(|r| r.events).sum();
    let quarantined: u64 = results.iter().map(|r| r.quarantined).sum();
    println!(
        "write phase: {written} events in {:.2} s ({:.0} events/s), not part of the result",
        write_time.as_secs_f64(),
        rate(written, write_time)
    );
    if let Some(users) = opts.users {
        println!(
            "installation: {} users (of {users} asked for) in {} domains; {} calendar and {} \
             address book grants",
            summary.users, summary.domains, summary.calendar_shares, summary.address_book_shares
        );
    }
    for r in &results {
        println!(
            "  {:<14} {:>9} events in {:>6.2} s, {} quarantined{}",
            r.id.to_string(),
            r.events,
            r.seconds,
            r.quarantined,
            if r.complete { "" } else { ", INCOMPLETE" }
        );
    }
    // Measured once the engine compacted what the rebuild left queued (not
    // timed): right after it, overlapping tables waiting for compaction
    // can count the same rows twice.
    store.wait_idle(std::time::Duration::from_secs(120));
    let views_bytes = store.size_on_disk().context("measuring the views")?;
    // The embedded log's size (none on Kafka).
    let log_dir = data.data_dir.join("log");
    let log_bytes = if log_dir.is_dir() {
        events::storage::size_on_disk(&log_dir).context("measuring the log")?
    } else {
        0
    };
    println!(
        "rebuild: {events} events in {:.2} s ({:.0} events/s); on disk: views {}, log {}",
        elapsed.as_secs_f64(),
        rate(events, elapsed),
        human_bytes(views_bytes),
        human_bytes(log_bytes)
    );
    if let Some(dir) = &opts.dir {
        println!("log and views kept in {}", dir.display());
    }
    if let Some(r) = results.iter().find(|r| !r.complete) {
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
    let peak = peak_rss_mb().context("reading VmHWM from /proc/self/status")?;
    // Written by hand to keep the documented key order (serde_json sorts
    // keys); every number is finite.
    let result = format!(
        "{{\"events\":{events},\"seconds\":{:.3},\"events_per_s\":{:.0},\"peak_rss_mb\":{:.1},\
         \"views_bytes\":{views_bytes},\"log_bytes\":{log_bytes}}}",
        elapsed.as_secs_f64(),
        rate(events, elapsed),
        peak
    );
    // Close the log and the views before the directory goes.
    drop(store);
    drop(log);
    drop(scratch);
    println!("{result}");
    Ok(ExitCode::SUCCESS)
}
