//! `reprise log tail|stats` (being written).
use crate::cli::{JsonFlag, TailArgs};
use crate::config::LogArgs;
use std::process::ExitCode;

pub async fn tail(_args: &LogArgs, _opts: TailArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet")
}
pub async fn stats(_args: &LogArgs, _opts: JsonFlag) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet")
}
