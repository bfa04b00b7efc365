//! `reprise domain|user|group|resource|share ...`: the directory commands.
//! Each command's body is written once against [`DirectoryAdmin`]; the
//! target (`cli::target`) runs it on the data directory or, with
//! `--server`, through a running server's admin API.

use crate::cli::target::{self, DirectoryAdmin};
use crate::cli::LogArgs;
use crate::directory::domains::NewDomain;
use crate::directory::groups::{self, GroupChanges, GroupDetail, NewGroup};
use crate::directory::resources::{NewResource, ResourceChanges, ResourceSummary};
use crate::directory::shares::CollectionShares;
use crate::directory::users::{self, NewUser, UserChanges, UserSummary};
use crate::directory::{ListQuery, Listing};
use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use events::payload::{Access, Member, ResourceKind};
use formats::davpath::Kind;
use serde::Serialize;
use std::future::Future;
use std::io::BufRead;
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

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user (and its domain, default calendar and address book).
    Add(UserAddArgs),
    /// List users.
    List(UserListArgs),
    /// Show a user.
    Show(ShowArgs),
    /// Change a user's email, display name, phone, admin flag or state.
    Update(UserUpdateArgs),
    /// Set a user's password (read from standard input).
    Passwd(UserPasswdArgs),
    /// Refuse a user's logins from now on (their data stays).
    Disable(UserNameArgs),
    /// Let a disabled user log in again.
    Enable(UserNameArgs),
    /// Delete a user and their calendars, address books, seen flags and
    /// files from the views (the events stay in the log).
    Delete(UserNameArgs),
}

#[derive(Args, Debug)]
pub struct UserNameArgs {
    /// `login@domain`, an email, or a login that exists in one domain.
    pub user: String,
}

#[derive(Args, Debug)]
pub struct UserAddArgs {
    /// Login: lowercase letters, digits, `.`, `_`, `-`; or `login@domain`.
    pub login: String,
    #[arg(long, env = "REPRISE_EMAIL")]
    pub email: String,
    /// Read the password from the first line of standard input.
    #[arg(long, required = true)]
    pub password_stdin: bool,
    /// Display name.
    #[arg(long, env = "REPRISE_NAME")]
    pub name: Option<String>,
    /// Telephone number, for the global address book.
    #[arg(long, env = "REPRISE_PHONE")]
    pub phone: Option<String>,
    /// Make the user an administrator.
    #[arg(long)]
    pub admin: bool,
    /// Directory domain (default: the domain of `login@domain`, else of the email).
    #[arg(long, env = "REPRISE_DOMAIN")]
    pub domain: Option<String>,
}

#[derive(Args, Debug)]
pub struct UserListArgs {
    /// Only this domain.
    #[arg(long, env = "REPRISE_DOMAIN")]
    pub domain: Option<String>,
    #[arg(long, env = "REPRISE_JSON")]
    pub json: bool,
    #[command(flatten)]
    pub page: PageArgs,
}

#[derive(Args, Debug)]
pub struct UserUpdateArgs {
    /// `login@domain`, an email, or a login that exists in one domain.
    pub user: String,
    #[arg(long, env = "REPRISE_EMAIL")]
    pub email: Option<String>,
    /// Display name.
    #[arg(long, env = "REPRISE_NAME", conflicts_with = "no_name")]
    pub name: Option<String>,
    /// Remove the display name.
    #[arg(long)]
    pub no_name: bool,
    #[arg(long, env = "REPRISE_PHONE", conflicts_with = "no_phone")]
    pub phone: Option<String>,
    /// Remove the phone.
    #[arg(long)]
    pub no_phone: bool,
    /// Administrator or not.
    #[arg(long, value_name = "true|false")]
    pub admin: Option<bool>,
    /// Enabled or disabled.
    #[arg(long, value_name = "true|false")]
    pub enabled: Option<bool>,
}

#[derive(Args, Debug)]
pub struct UserPasswdArgs {
    /// `login@domain`, an email, or a login that exists in one domain.
    pub user: String,
    /// Read the password from the first line of standard input.
    #[arg(long, required = true)]
    pub password_stdin: bool,
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

#[derive(Args, Debug)]
pub struct EntryArgs {
    /// `name@domain`.
    pub name: String,
}

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
    /// Display name.
    #[arg(long, env = "REPRISE_NAME")]
    pub display_name: Option<String>,
    #[arg(long, env = "REPRISE_EMAIL")]
    pub email: Option<String>,
}

#[derive(Args, Debug)]
pub struct GroupUpdateArgs {
    /// `name@domain`.
    pub name: String,
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
    /// Display name.
    #[arg(long, env = "REPRISE_NAME")]
    pub display_name: Option<String>,
    #[arg(long, env = "REPRISE_EMAIL")]
    pub email: Option<String>,
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
    /// Display name.
    #[arg(long, env = "REPRISE_NAME", conflicts_with = "no_display_name")]
    pub display_name: Option<String>,
    #[arg(long)]
    pub no_display_name: bool,
    #[arg(long, env = "REPRISE_EMAIL", conflicts_with = "no_email")]
    pub email: Option<String>,
    #[arg(long)]
    pub no_email: bool,
    #[arg(long, env = "REPRISE_CAPACITY", conflicts_with = "no_capacity")]
    pub capacity: Option<u32>,
    #[arg(long)]
    pub no_capacity: bool,
    #[arg(long, env = "REPRISE_LOCATION", conflicts_with = "no_location")]
    pub location: Option<String>,
    #[arg(long)]
    pub no_location: bool,
}

/// Runs a command on the target `--server` chooses, and closes the
/// target whatever happened.
async fn on_target<C>(
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
async fn list_all<T, Page>(
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

fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
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
fn change<T>(value: Option<T>, remove: bool) -> Option<Option<T>> {
    if remove {
        Some(None)
    } else {
        value.map(Some)
    }
}

fn or_blank(text: &Option<String>) -> &str {
    text.as_deref().unwrap_or("")
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

fn print_user(u: &UserSummary) {
    println!("user: {}", u.principal);
    println!("email: {}", u.email);
    println!("display name: {}", or_blank(&u.display_name));
    println!("phone: {}", or_blank(&u.phone));
    println!("admin: {}", u.admin);
    println!("enabled: {}", u.enabled);
}

/// What a user command brings on standard input, read and checked before
/// the data directory or the server is touched.
enum UserInput {
    None,
    NewUser(NewUser),
    Password(String),
}

pub async fn user(args: &LogArgs, cmd: UserCommand) -> anyhow::Result<ExitCode> {
    let input = match &cmd {
        UserCommand::Add(a) => {
            let req = NewUser {
                login: a.login.clone(),
                domain: a.domain.clone(),
                email: a.email.clone(),
                password: read_password()?,
                display_name: a.name.clone(),
                admin: a.admin,
                phone: a.phone.clone(),
            };
            users::resolve(&req)?;
            UserInput::NewUser(req)
        }
        UserCommand::Passwd(_) => UserInput::Password(read_password()?),
        _ => UserInput::None,
    };
    on_target(args, (cmd, input), run_user).await
}

async fn run_user(
    t: &dyn DirectoryAdmin,
    (cmd, input): (UserCommand, UserInput),
) -> anyhow::Result<ExitCode> {
    match cmd {
        UserCommand::Add(_) => {
            let UserInput::NewUser(req) = input else {
                bail!("no user to add");
            };
            let user = t.add_user(&req).await?;
            println!("created user {} <{}>", user.principal, user.email);
        }
        UserCommand::List(a) => {
            let all = list_all(a.domain.as_deref(), a.page.page_size, |q| async move {
                t.list_users(&q).await
            })
            .await?;
            if a.json {
                print_json(&all)?;
                return Ok(ExitCode::SUCCESS);
            }
            for u in &all {
                println!(
                    "{:<32} {:<32} {:<24} {}{}",
                    u.principal,
                    u.email,
                    or_blank(&u.display_name),
                    if u.admin { "admin " } else { "" },
                    if u.enabled { "" } else { "disabled" }
                );
            }
            if all.is_empty() {
                println!("no users");
            }
        }
        UserCommand::Show(ShowArgs { name, json }) => {
            let user = t.show_user(&name).await?;
            if json {
                print_json(&user)?;
            } else {
                print_user(&user);
            }
        }
        UserCommand::Update(a) => {
            let changes = UserChanges {
                email: a.email.map(Some),
                display_name: change(a.name, a.no_name),
                phone: change(a.phone, a.no_phone),
                admin: a.admin.map(Some),
                enabled: a.enabled.map(Some),
            };
            if serde_json::to_value(&changes)?
                .as_object()
                .is_none_or(|o| o.is_empty())
            {
                bail!("nothing to change: give --email, --name, --phone, --admin or --enabled");
            }
            let user = t.update_user(&a.user, &changes).await?;
            println!("updated user {}", user.principal);
        }
        UserCommand::Passwd(a) => {
            let UserInput::Password(password) = input else {
                bail!("no password");
            };
            let user = t.set_password(&a.user, &password).await?;
            println!("changed the password of {}", user.principal);
        }
        UserCommand::Disable(ref a) | UserCommand::Enable(ref a) => {
            let enabled = matches!(cmd, UserCommand::Enable(_));
            let verb = if enabled { "enable" } else { "disable" };
            let user = t.set_enabled(&a.user, enabled).await?;
            println!("{verb}d user {}", user.principal);
        }
        UserCommand::Delete(a) => {
            let gone = t.delete_user(&a.user).await?;
            println!("deleted user {}", gone.deleted);
        }
    }
    Ok(ExitCode::SUCCESS)
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
                display_name: a.display_name,
                email: a.email,
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
                display_name: change(a.display_name, a.no_display_name),
                email: change(a.email, a.no_email),
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
                display_name: a.display_name,
                email: a.email,
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
                display_name: change(a.display_name, a.no_display_name),
                email: change(a.email, a.no_email),
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
