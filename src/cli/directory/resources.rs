//! `reprise resource add|list|show|update|delete`.

use super::{
    change, list_all, on_target, or_blank, print_json, EntryArgs, InDomainListArgs, NamingArgs,
    NamingChangeArgs, ShowArgs,
};
use crate::cli::target::DirectoryAdmin;
use crate::cli::LogArgs;
use crate::directory::resources::{NewResource, ResourceChanges, ResourceSummary};
use anyhow::bail;
use clap::{Args, Subcommand, ValueEnum};
use events::payload::ResourceKind;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum ResourceCommand {
    /// Create a room or a piece of equipment.
    Add(ResourceAddArgs),
    /// List resources.
    List(InDomainListArgs),
    /// Show a resource.
    Show(ShowArgs),
    /// Change a resource's display name, email, capacity or location.
    Update(ResourceUpdateArgs),
    /// Delete a resource.
    Delete(EntryArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum KindArg {
    Room,
    Equipment,
}

#[derive(Args, Debug)]
pub struct ResourceAddArgs {
    /// `name@domain`, or a name with --domain.
    pub name: String,
    #[arg(long, env = "REPRISE_DOMAIN")]
    pub domain: Option<String>,
    #[arg(long, value_enum, env = "REPRISE_KIND")]
    pub kind: KindArg,
    #[command(flatten)]
    pub naming: NamingArgs,
    /// How many people a room holds.
    #[arg(long, env = "REPRISE_CAPACITY")]
    pub capacity: Option<u32>,
    /// Where it is, e.g. "Floor 3, wing B".
    #[arg(long, env = "REPRISE_LOCATION")]
    pub location: Option<String>,
}

#[derive(Args, Debug)]
pub struct ResourceUpdateArgs {
    /// `name@domain`.
    pub name: String,
    #[command(flatten)]
    pub naming: NamingChangeArgs,
    #[arg(long, env = "REPRISE_CAPACITY", conflicts_with = "no_capacity")]
    pub capacity: Option<u32>,
    #[arg(long)]
    pub no_capacity: bool,
    #[arg(long, env = "REPRISE_LOCATION", conflicts_with = "no_location")]
    pub location: Option<String>,
    #[arg(long)]
    pub no_location: bool,
}

fn kind_name(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Room => "room",
        ResourceKind::Equipment => "equipment",
    }
}

fn print_resource(r: &ResourceSummary) {
    println!("resource: {}@{}", r.resource, r.domain);
    println!("kind: {}", kind_name(r.kind));
    println!("display name: {}", or_blank(&r.display_name));
    println!("email: {}", or_blank(&r.email));
    let capacity = r.capacity.map(|c| c.to_string());
    println!("capacity: {}", or_blank(&capacity));
    println!("location: {}", or_blank(&r.location));
}

pub async fn resource(args: &LogArgs, cmd: ResourceCommand) -> anyhow::Result<ExitCode> {
    on_target(args, cmd, run_resource).await
}

async fn run_resource(t: &dyn DirectoryAdmin, cmd: ResourceCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ResourceCommand::Add(a) => {
            let req = NewResource {
                resource: a.name,
                domain: a.domain,
                kind: match a.kind {
                    KindArg::Room => ResourceKind::Room,
                    KindArg::Equipment => ResourceKind::Equipment,
                },
                display_name: a.naming.display_name,
                email: a.naming.email,
                capacity: a.capacity,
                location: a.location,
            };
            let r = t.add_resource(&req).await?;
            println!("created {} {}@{}", kind_name(r.kind), r.resource, r.domain);
        }
        ResourceCommand::List(InDomainListArgs { domain, json, page }) => {
            let all = list_all(domain.as_deref(), page.page_size, |q| async move {
                t.list_resources(&q).await
            })
            .await?;
            if json {
                print_json(&all)?;
                return Ok(ExitCode::SUCCESS);
            }
            for r in &all {
                let capacity = r.capacity.map(|c| c.to_string());
                println!(
                    "{:<32} {:<10} {:<24} {:>5} {}",
                    format!("{}@{}", r.resource, r.domain),
                    kind_name(r.kind),
                    or_blank(&r.display_name),
                    or_blank(&capacity),
                    or_blank(&r.location)
                );
            }
            if all.is_empty() {
                println!("no resources");
            }
        }
        ResourceCommand::Show(ShowArgs { name, json }) => {
            let r = t.show_resource(&name).await?;
            if json {
                print_json(&r)?;
            } else {
                print_resource(&r);
            }
        }
        ResourceCommand::Update(a) => {
            let changes = ResourceChanges {
                display_name: a.naming.display_name(),
                email: a.naming.email(),
                capacity: change(a.capacity, a.no_capacity),
                location: change(a.location, a.no_location),
            };
            if serde_json::to_value(&changes)?
                .as_object()
                .is_none_or(|o| o.is_empty())
            {
                bail!("nothing to change: give --display-name, --email, --capacity or --location");
            }
            let r = t.update_resource(&a.name, &changes).await?;
            println!("updated resource {}@{}", r.resource, r.domain);
        }
        ResourceCommand::Delete(a) => {
            let gone = t.delete_resource(&a.name).await?;
            println!("deleted resource {}", gone.deleted);
        }
    }
    Ok(ExitCode::SUCCESS)
}
