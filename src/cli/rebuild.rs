//! `reprise rebuild`: in place (`ops::rebuild`), or with --into a
//! point-in-time copy (`ops::recovery`).

use super::recovery::BoundArgs;
use crate::cli::LogArgs;
use crate::ops::recovery::{check_destination, copy_into, same_dir, CopyPlan, ObjectsPlan};
use anyhow::bail;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct RebuildArgs {
    /// Only this projection (directory, calendars, contacts, seen).
    #[arg(long, env = "REPRISE_PROJECTION")]
    pub projection: Option<String>,
    /// Only this version (must be one this build can build).
    #[arg(long, env = "REPRISE_VERSION")]
    pub version: Option<u32>,
    /// Stop after applying this many batches per projection, leaving the
    /// build resumable (the next `rebuild` resumes it): for testing
    /// interrupted rebuilds.
    #[arg(long, env = "REPRISE_STOP_AFTER_BATCHES", hide_short_help = true)]
    pub stop_after_batches: Option<u64>,
    /// Events per batch.
    #[arg(long, env = "REPRISE_BATCH_SIZE", default_value_t = 2000)]
    pub batch_size: usize,
    /// Threads that apply the partitions of one projection's batch
    /// (default: the machine's cores). The views are the same whatever
    /// the number.
    #[arg(long, env = "REPRISE_WORKERS")]
    pub workers: Option<usize>,
}

impl RebuildArgs {
    /// The rebuild these flags ask for.
    pub fn options(&self) -> crate::ops::rebuild::Options {
        crate::ops::rebuild::Options {
            batch_size: self.batch_size,
            workers: self.workers.unwrap_or_else(crate::engine::default_workers),
            stop_after_batches: self.stop_after_batches,
            payloads: None,
        }
    }
}

/// `rebuild`: the projection flags, and the point-in-time ones.
#[derive(Args, Debug)]
pub struct RebuildCommand {
    #[command(flatten)]
    pub args: RebuildArgs,
    #[command(flatten)]
    pub bounds: BoundArgs,
    /// Copy this data directory's log (or the --server's, or Kafka's) into
    /// DIR, a new data directory, up to --until/--until-offsets, and build
    /// DIR's views there. The live views are never rewritten to the past:
    /// the bounds need --into.
    #[arg(long, value_name = "DIR", env = "REPRISE_INTO")]
    pub into: Option<PathBuf>,
}

/// `reprise rebuild`: in place, or with --into a point-in-time copy.
pub async fn rebuild(args: &LogArgs, cmd: RebuildCommand) -> anyhow::Result<ExitCode> {
    let bounded = !cmd.bounds.spec().is_empty();
    let Some(into) = &cmd.into else {
        if bounded {
            bail!(
                "--until and --until-offsets need --into DIR: a point-in-time rebuild goes into \
                 a new data directory, and the live views are never rewritten to the past"
            );
        }
        return in_place(args, cmd.args).await;
    };
    if cmd.args.projection.is_some()
        || cmd.args.version.is_some()
        || cmd.args.stop_after_batches.is_some()
    {
        bail!("rebuild --into builds every projection of the copy; it takes no --projection, --version or --stop-after-batches");
    }
    if same_dir(into, &args.data_dir) {
        bail!(
            "--into {} is this data directory; a point-in-time rebuild goes into another one",
            into.display()
        );
    }
    check_destination(into)?;
    let source = args.open_log().await?;
    let config = args.config()?;
    copy_into(
        CopyPlan {
            source,
            dest: into,
            bounds: &cmd.bounds.spec(),
            batch_size: cmd.args.batch_size,
            build_views: true,
            cache_size: args.cache_size,
            progress: &*super::progress::on_stderr(),
            // This installation's store, named explicitly: its default is
            // in this data directory, not in the copy.
            objects: ObjectsPlan::Unchecked {
                store: crate::config::ObjectOptions {
                    url: Some(config.object_location()?.to_string()),
                    settings: config.objects.settings,
                },
            },
        },
        super::recovery::copy_printer(),
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// Rebuilds the data directory's own views.
async fn in_place(args: &LogArgs, opts: RebuildArgs) -> anyhow::Result<ExitCode> {
    if args.server.is_some() {
        bail!("rebuild works on the data directory itself; stop the server first (a rebuild beside a running version comes with the upgrade machinery)");
    }
    let selected = crate::ops::rebuild::select(opts.projection.as_deref(), opts.version)?;
    let log = args.open_log().await?;
    let store = args.open_views()?;
    let mut options = opts.options();
    // Bodies over the inline limit are read from the installation's store.
    options.payloads = Some(::objects::payload_source(
        args.config()?.open_objects()?,
        tokio::runtime::Handle::current(),
    ));
    let started = Instant::now();
    let results = crate::ops::rebuild::rebuild(
        log,
        &store,
        &selected,
        &options,
        &*super::progress::on_stderr(),
    )
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    let events: u64 = results.iter().map(|r| r.events).sum();
    let quarantined: u64 = results.iter().map(|r| r.quarantined).sum();
    let complete = results.iter().all(|r| r.complete);
    println!(
        "{} {} projection(s): {events} events in {seconds:.2} s ({:.0} events/s), {quarantined} quarantined",
        if complete { "rebuilt" } else { "interrupted" },
        results.len(),
        events as f64 / seconds.max(1e-9),
    );
    Ok(ExitCode::SUCCESS)
}
