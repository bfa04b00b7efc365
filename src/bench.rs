//! `reprise bench rebuild` (being written).
use crate::cli::BenchRebuildArgs;
use crate::config::LogArgs;
use std::process::ExitCode;

pub async fn rebuild(_args: &LogArgs, _opts: BenchRebuildArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet")
}
