//! `reprise user add|list|show|update|passwd|disable|enable|delete`.

use super::{
    change, list_all, on_target, or_blank, print_json, read_password, InDomainListArgs, ShowArgs,
};
use crate::cli::target::DirectoryAdmin;
use crate::cli::LogArgs;
use crate::directory::users::{self, NewUser, UserChanges, UserSummary};
use anyhow::bail;
use clap::{Args, Subcommand};
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user (and its domain, default calendar and address book).
    Add(UserAddArgs),
    /// List users.
    List(InDomainListArgs),
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
