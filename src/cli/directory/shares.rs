//! `reprise share list|grant|revoke`.

use super::{on_target, print_json};
use crate::cli::target::DirectoryAdmin;
use crate::cli::LogArgs;
use crate::directory::shares::CollectionShares;
use anyhow::bail;
use clap::{Args, Subcommand, ValueEnum};
use events::payload::Access;
use formats::davpath::Kind;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum ShareCommand {
    /// Show who a calendar or an address book is shared with.
    List(ShareListArgs),
    /// Grant read or read-write on a calendar or an address book to a
    /// user or a group of the owner's domain, or change a grant's access.
    Grant(ShareGrantArgs),
    /// Withdraw a grant.
    Revoke(ShareRevokeArgs),
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("collection").required(true).args(["calendar", "address_book"])))]
pub struct SharedCollectionArgs {
    /// The owner, `login@domain`.
    pub owner: String,
    /// The owner's calendar, by its name in the calendar home.
    #[arg(long)]
    pub calendar: Option<String>,
    /// The owner's address book, by its name in the address-book home.
    #[arg(long)]
    pub address_book: Option<String>,
}

#[derive(Args, Debug)]
pub struct ShareListArgs {
    #[command(flatten)]
    pub collection: SharedCollectionArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum AccessArg {
    Read,
    ReadWrite,
}

#[derive(Args, Debug)]
pub struct ShareGrantArgs {
    #[command(flatten)]
    pub collection: SharedCollectionArgs,
    /// The sharee: `login@domain`, an email, `user:login@domain` or
    /// `group:name@domain`.
    #[arg(long)]
    pub to: String,
    #[arg(long, value_enum, default_value = "read")]
    pub access: AccessArg,
}

#[derive(Args, Debug)]
pub struct ShareRevokeArgs {
    #[command(flatten)]
    pub collection: SharedCollectionArgs,
    /// The sharee, named as for `grant`.
    #[arg(long)]
    pub to: String,
}

fn shared_collection(a: &SharedCollectionArgs) -> anyhow::Result<(Kind, &str)> {
    match (&a.calendar, &a.address_book) {
        (Some(c), None) => Ok((Kind::Calendar, c)),
        (None, Some(b)) => Ok((Kind::AddressBook, b)),
        _ => bail!("give exactly one of --calendar and --address-book"),
    }
}

fn print_shares(s: &CollectionShares) {
    println!("{} {} of {}", s.kind, s.collection, s.owner);
    if s.shares.is_empty() {
        println!("not shared");
    }
    for share in &s.shares {
        let access = match share.access {
            Access::Read => "read",
            Access::ReadWrite => "read-write",
        };
        println!("{:<40} {access}", share.sharee);
    }
}

pub async fn share(args: &LogArgs, cmd: ShareCommand) -> anyhow::Result<ExitCode> {
    on_target(args, cmd, run_share).await
}

async fn run_share(t: &dyn DirectoryAdmin, cmd: ShareCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ShareCommand::List(a) => {
            let (kind, collection) = shared_collection(&a.collection)?;
            let owner = &a.collection.owner;
            let shown = t.show_shares(owner, kind, collection).await?;
            if a.json {
                print_json(&shown)?;
            } else {
                print_shares(&shown);
            }
        }
        ShareCommand::Grant(a) => {
            let (kind, collection) = shared_collection(&a.collection)?;
            let owner = &a.collection.owner;
            let access = match a.access {
                AccessArg::Read => Access::Read,
                AccessArg::ReadWrite => Access::ReadWrite,
            };
            let shown = t
                .grant_share(owner, kind, collection, &a.to, access)
                .await?;
            print_shares(&shown);
        }
        ShareCommand::Revoke(a) => {
            let (kind, collection) = shared_collection(&a.collection)?;
            let owner = &a.collection.owner;
            let shown = t.revoke_share(owner, kind, collection, &a.to).await?;
            print_shares(&shown);
        }
    }
    Ok(ExitCode::SUCCESS)
}
