//! `reprise domain|user|group|resource|share ...`: the directory commands,
//! one file each (clap types and shell). Each command's body is written
//! once against [`DirectoryAdmin`]; the target (`cli::target`) runs it on
//! the data directory or, with `--server`, through a running server's
//! admin API.

mod domains;
mod groups;
mod resources;
mod shares;
mod users;

pub use self::{domains::*, groups::*, resources::*, shares::*, users::*};

use crate::cli::target::{self, DirectoryAdmin};
use crate::cli::LogArgs;
use crate::directory::{ListQuery, Listing};
use anyhow::{bail, Context};
use clap::Args;
use serde::Serialize;
use std::future::Future;
use std::io::BufRead;
use std::process::ExitCode;

/// How `list` commands fetch: pages of this many entries, following each
/// page's cursor until the last.
#[derive(Args, Debug)]
pub struct PageArgs {
    #[arg(long, default_value_t = crate::directory::MAX_LIMIT, hide_short_help = true)]
    pub page_size: usize,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[arg(long, env = "REPRISE_JSON")]
    pub json: bool,
    #[command(flatten)]
    pub page: PageArgs,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The entry: a domain, `login@domain` for a user, `name@domain` for a
    /// group or resource.
    pub name: String,
    #[arg(long, env = "REPRISE_JSON")]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct InDomainListArgs {
    /// Only this domain.
    #[arg(long, env = "REPRISE_DOMAIN")]
    pub domain: Option<String>,
    #[arg(long, env = "REPRISE_JSON")]
    pub json: bool,
    #[command(flatten)]
    pub page: PageArgs,
}

/// The display name and email a group or a resource is created with.
#[derive(Args, Debug)]
pub struct NamingArgs {
    /// Display name.
    #[arg(long, env = "REPRISE_NAME")]
    pub display_name: Option<String>,
    #[arg(long, env = "REPRISE_EMAIL")]
    pub email: Option<String>,
}

/// A change of a group's or a resource's display name or email: set with
/// `--x`, removed with `--no-x`.
#[derive(Args, Debug)]
pub struct NamingChangeArgs {
    /// Display name.
    #[arg(long, env = "REPRISE_NAME", conflicts_with = "no_display_name")]
    pub display_name: Option<String>,
    #[arg(long)]
    pub no_display_name: bool,
    #[arg(long, env = "REPRISE_EMAIL", conflicts_with = "no_email")]
    pub email: Option<String>,
    #[arg(long)]
    pub no_email: bool,
}

impl NamingChangeArgs {
    pub fn display_name(&self) -> Option<Option<String>> {
        change(self.display_name.clone(), self.no_display_name)
    }

    pub fn email(&self) -> Option<Option<String>> {
        change(self.email.clone(), self.no_email)
    }
}

#[derive(Args, Debug)]
pub struct EntryArgs {
    /// `name@domain`.
    pub name: String,
}

/// Runs a command on the target `--server` chooses, and closes the
/// target whatever happened.
pub(super) async fn on_target<C>(
    args: &LogArgs,
    cmd: C,
    run: impl AsyncFnOnce(&dyn DirectoryAdmin, C) -> anyhow::Result<ExitCode>,
) -> anyhow::Result<ExitCode> {
    let target = target::open(args).await?;
    let result = run(&*target, cmd).await;
    target.close()?;
    result
}

/// Every entry of a listing, page after page.
pub(super) async fn list_all<T, Page>(
    domain: Option<&str>,
    page_size: usize,
    page: impl Fn(ListQuery) -> Page,
) -> anyhow::Result<Vec<T>>
where
    Page: Future<Output = anyhow::Result<Listing<T>>>,
{
    let mut q = ListQuery {
        domain: domain.map(str::to_string),
        limit: Some(page_size),
        after: None,
    };
    let mut all = Vec::new();
    loop {
        let listing = page(q.clone()).await?;
        all.extend(listing.items);
        match listing.next {
            Some(next) => q.after = Some(next),
            None => return Ok(all),
        }
    }
}

pub(super) fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub(super) fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(password)
}

/// `--x VALUE` sets, `--no-x` removes, neither leaves as is.
pub(super) fn change<T>(value: Option<T>, remove: bool) -> Option<Option<T>> {
    if remove {
        Some(None)
    } else {
        value.map(Some)
    }
}

pub(super) fn or_blank(text: &Option<String>) -> &str {
    text.as_deref().unwrap_or("")
}
