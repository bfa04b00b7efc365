//! `reprise domain add|list|show`.

use super::{list_all, on_target, or_blank, print_json, ListArgs, ShowArgs};
use crate::cli::target::DirectoryAdmin;
use crate::cli::LogArgs;
use crate::directory::domains::NewDomain;
use clap::{Args, Subcommand};
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum DomainCommand {
    /// Create a domain (`user add` also creates its user's domain).
    Add(DomainAddArgs),
    /// List domains.
    List(ListArgs),
    /// Show a domain.
    Show(ShowArgs),
}

#[derive(Args, Debug)]
pub struct DomainAddArgs {
    pub domain: String,
    /// Display name (the organisation in the global address book).
    #[arg(long, env = "REPRISE_NAME")]
    pub name: Option<String>,
}

pub async fn domain(args: &LogArgs, cmd: DomainCommand) -> anyhow::Result<ExitCode> {
    on_target(args, cmd, run_domain).await
}

async fn run_domain(t: &dyn DirectoryAdmin, cmd: DomainCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DomainCommand::Add(a) => {
            let req = NewDomain {
                domain: a.domain,
                display_name: a.name,
            };
            let domain = t.add_domain(&req).await?;
            println!("created domain {}", domain.domain);
        }
        DomainCommand::List(ListArgs { json, page }) => {
            let all = list_all(
                None,
                page.page_size,
                |q| async move { t.list_domains(&q).await },
            )
            .await?;
            if json {
                print_json(&all)?;
            } else if all.is_empty() {
                println!("no domains");
            }
            for d in all.iter().filter(|_| !json) {
                println!("{:<32} {}", d.domain, or_blank(&d.display_name));
            }
        }
        DomainCommand::Show(ShowArgs { name, json }) => {
            let domain = t.show_domain(&name).await?;
            if json {
                print_json(&domain)?;
            } else {
                println!("domain: {}", domain.domain);
                println!("display name: {}", or_blank(&domain.display_name));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
