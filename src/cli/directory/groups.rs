//! `reprise group add|list|show|update|delete|add-member|remove-member`.

use super::{
    list_all, on_target, or_blank, print_json, EntryArgs, InDomainListArgs, NamingArgs,
    NamingChangeArgs, ShowArgs,
};
use crate::cli::target::DirectoryAdmin;
use crate::cli::LogArgs;
use crate::directory::groups::{self, GroupChanges, GroupDetail, NewGroup};
use anyhow::bail;
use clap::{Args, Subcommand};
use events::payload::Member;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum GroupCommand {
    /// Create a group.
    Add(GroupAddArgs),
    /// List groups.
    List(InDomainListArgs),
    /// Show a group with its direct members and the groups it is in.
    Show(ShowArgs),
    /// Change a group's display name or email.
    Update(GroupUpdateArgs),
    /// Delete a group (its memberships go with it).
    Delete(EntryArgs),
    /// Add a user or a group of the same domain to a group.
    AddMember(MemberArgs),
    /// Remove a member from a group.
    RemoveMember(MemberArgs),
}

#[derive(Args, Debug)]
pub struct GroupAddArgs {
    /// `name@domain`, or a name with --domain. Lowercase letters, digits,
    /// `.`, `_`, `-`.
    pub name: String,
    #[arg(long, env = "REPRISE_DOMAIN")]
    pub domain: Option<String>,
    #[command(flatten)]
    pub naming: NamingArgs,
}

#[derive(Args, Debug)]
pub struct GroupUpdateArgs {
    /// `name@domain`.
    pub name: String,
    #[command(flatten)]
    pub naming: NamingChangeArgs,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("member").required(true).args(["user", "group"])))]
pub struct MemberArgs {
    /// The group, `name@domain`.
    #[arg(value_name = "GROUP")]
    pub name: String,
    /// A user of the group's domain, by login.
    #[arg(long)]
    pub user: Option<String>,
    /// A group of the same domain, by name (nesting).
    #[arg(long)]
    pub group: Option<String>,
}

fn member_of(a: &MemberArgs) -> anyhow::Result<Member> {
    match (&a.user, &a.group) {
        (Some(user), None) => Ok(Member::User(user.clone())),
        (None, Some(group)) => Ok(Member::Group(group.clone())),
        _ => bail!("give exactly one of --user and --group"),
    }
}

fn print_group(g: &GroupDetail) {
    println!("group: {}@{}", g.group.group, g.group.domain);
    println!("display name: {}", or_blank(&g.group.display_name));
    println!("email: {}", or_blank(&g.group.email));
    let members: Vec<String> = g.members.iter().map(groups::describe).collect();
    println!("members: {}", members.join(", "));
    println!("member of: {}", g.member_of.join(", "));
}

pub async fn group(args: &LogArgs, cmd: GroupCommand) -> anyhow::Result<ExitCode> {
    on_target(args, cmd, run_group).await
}

async fn run_group(t: &dyn DirectoryAdmin, cmd: GroupCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        GroupCommand::Add(a) => {
            let req = NewGroup {
                group: a.name,
                domain: a.domain,
                display_name: a.naming.display_name,
                email: a.naming.email,
            };
            let g = t.add_group(&req).await?;
            println!("created group {}@{}", g.group.group, g.group.domain);
        }
        GroupCommand::List(InDomainListArgs { domain, json, page }) => {
            let all = list_all(domain.as_deref(), page.page_size, |q| async move {
                t.list_groups(&q).await
            })
            .await?;
            if json {
                print_json(&all)?;
                return Ok(ExitCode::SUCCESS);
            }
            for g in &all {
                println!(
                    "{:<32} {:<24} {}",
                    format!("{}@{}", g.group, g.domain),
                    or_blank(&g.display_name),
                    or_blank(&g.email)
                );
            }
            if all.is_empty() {
                println!("no groups");
            }
        }
        GroupCommand::Show(ShowArgs { name, json }) => {
            let g = t.show_group(&name).await?;
            if json {
                print_json(&g)?;
            } else {
                print_group(&g);
            }
        }
        GroupCommand::Update(a) => {
            let changes = GroupChanges {
                display_name: a.naming.display_name(),
                email: a.naming.email(),
            };
            if changes.display_name.is_none() && changes.email.is_none() {
                bail!("nothing to change: give --display-name or --email");
            }
            let g = t.update_group(&a.name, &changes).await?;
            println!("updated group {}@{}", g.group.group, g.group.domain);
        }
        GroupCommand::Delete(a) => {
            let gone = t.delete_group(&a.name).await?;
            println!("deleted group {}", gone.deleted);
        }
        GroupCommand::AddMember(a) => {
            let member = member_of(&a)?;
            let g = t.add_member(&a.name, &member).await?;
            println!(
                "added {} to {}@{}",
                groups::describe(&member),
                g.group.group,
                g.group.domain
            );
        }
        GroupCommand::RemoveMember(a) => {
            let member = member_of(&a)?;
            let g = t.remove_member(&a.name, &member).await?;
            println!(
                "removed {} from {}@{}",
                groups::describe(&member),
                g.group.group,
                g.group.domain
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
