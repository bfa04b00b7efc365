//! `reprise user add|list`, and the one function that creates a user for
//! both the command line and the admin API.

use crate::cli::{UserAddArgs, UserCommand, UserListArgs, UserNameArgs};
use crate::config::LogArgs;
use crate::engine::{Engine, SubmitError};
use anyhow::{bail, Context};
use argon2::{Argon2, PasswordHasher};
use events::payload::{
    AddressBookCreated, AddressBookProps, CalendarCreated, CalendarProps, DomainCreated,
    UserCreated, UserUpdated,
};
use events::{EventEnvelope, Payload};
use projections::directory::{principal, valid_login, UserRecord};
use projections::Outcome;
use serde::{Deserialize, Serialize};
use std::io::BufRead;
use std::process::ExitCode;
use uuid::Uuid;

/// The collection every user gets at creation.
pub const DEFAULT_COLLECTION: &str = "default";

/// A request to create a user, from the command line or the admin API.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NewUser {
    pub login: String,
    pub domain: Option<String>,
    pub email: String,
    pub password: String,
    pub display_name: Option<String>,
    #[serde(default)]
    pub admin: bool,
}

/// A user as the API and `user list --json` show it (no password hash).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UserSummary {
    pub principal: String,
    pub login: String,
    pub domain: String,
    pub email: String,
    pub display_name: Option<String>,
    pub admin: bool,
    pub enabled: bool,
}

impl From<&UserRecord> for UserSummary {
    fn from(u: &UserRecord) -> Self {
        UserSummary {
            principal: u.principal(),
            login: u.login.clone(),
            domain: u.domain.clone(),
            email: u.email.clone(),
            display_name: u.display_name.clone(),
            admin: u.admin,
            enabled: u.enabled,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Unavailable(#[from] SubmitError),
    #[error(transparent)]
    Store(#[from] projections::StoreError),
}

/// Splits `login@domain`; otherwise the domain comes from `domain` or the
/// email's domain.
fn resolve(req: &NewUser) -> Result<(String, String), UserError> {
    let (login, domain) = match req.login.rsplit_once('@') {
        Some((l, d)) => (l.to_string(), d.to_string()),
        None => {
            let domain = match &req.domain {
                Some(d) => d.clone(),
                None => req
                    .email
                    .rsplit_once('@')
                    .map(|(_, d)| d.to_string())
                    .ok_or_else(|| {
                        UserError::Invalid(format!("{:?} is not an email address", req.email))
                    })?,
            };
            (req.login.clone(), domain)
        }
    };
    let domain = domain.to_lowercase();
    if !valid_login(&login) {
        return Err(UserError::Invalid(format!(
            "invalid login {login:?}: use lowercase letters, digits, '.', '_' and '-' (at most 64)"
        )));
    }
    if domain.is_empty()
        || !domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-".contains(&b))
    {
        return Err(UserError::Invalid(format!("invalid domain {domain:?}")));
    }
    let email_ok = req.email.rsplit_once('@').is_some_and(|(l, d)| {
        !l.is_empty() && !d.is_empty() && !req.email.contains(char::is_whitespace)
    });
    if !email_ok {
        return Err(UserError::Invalid(format!(
            "{:?} is not an email address",
            req.email
        )));
    }
    if req.password.is_empty() {
        return Err(UserError::Invalid("the password is empty".into()));
    }
    Ok((login, domain))
}

fn hash_password(password: &str) -> Result<String, UserError> {
    // argon2 draws the salt from the OS random source.
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| UserError::Invalid(format!("cannot hash the password: {e}")))
}

fn expect_applied(outcome: &Outcome, what: &str) -> Result<(), UserError> {
    match outcome {
        Outcome::Applied { .. } => Ok(()),
        Outcome::Rejected { rejection } => Err(UserError::Conflict(format!("{what}: {rejection}"))),
        Outcome::Quarantined { reason } => Err(UserError::Invalid(format!("{what}: {reason}"))),
    }
}

/// Creates a user, its domain when new, and its default calendar and
/// address book, each as events. Checks against the views first so that
/// bad requests append nothing; the log order settles races.
pub async fn add_user(
    engine: &Engine,
    req: &NewUser,
    actor: &str,
) -> Result<UserSummary, UserError> {
    let (login, domain) = resolve(req)?;
    let directory = &engine.views.directory;
    if directory.user(&domain, &login)?.is_some() {
        return Err(UserError::Conflict(format!(
            "user {login}@{domain} already exists"
        )));
    }
    if directory
        .users(Some(&domain))?
        .iter()
        .any(|u| u.email.eq_ignore_ascii_case(&req.email))
    {
        return Err(UserError::Conflict(format!(
            "email {} is already in use in {domain}",
            req.email
        )));
    }
    let hash = hash_password(&req.password)?;
    let correlation = Uuid::now_v7();
    let mut directory_events = Vec::new();
    if directory.domain(&domain)?.is_none() {
        directory_events.push(
            EventEnvelope::now(
                &domain,
                actor,
                Payload::DomainCreated(DomainCreated {
                    domain: domain.clone(),
                    display_name: None,
                }),
            )
            .with_correlation(correlation),
        );
    }
    directory_events.push(
        EventEnvelope::now(
            &domain,
            actor,
            Payload::UserCreated(UserCreated {
                login: login.clone(),
                email: req.email.clone(),
                display_name: req.display_name.clone(),
                password_hash: hash,
                admin: req.admin,
                phone: None,
            }),
        )
        .with_correlation(correlation),
    );
    let outcomes = engine.submit(directory_events).await?;
    // A DomainCreated that lost a race to another creator is fine.
    let user_outcome = outcomes
        .last()
        .ok_or_else(|| UserError::Invalid("no outcome".into()))?;
    expect_applied(user_outcome, "creating the user")?;

    let owner = principal(&login, &domain);
    let calendar = EventEnvelope::now(
        &owner,
        actor,
        Payload::CalendarCreated(CalendarCreated {
            calendar: DEFAULT_COLLECTION.into(),
            props: CalendarProps {
                display_name: Some("Calendar".into()),
                ..CalendarProps::default()
            },
        }),
    )
    .with_correlation(correlation);
    let book = EventEnvelope::now(
        &owner,
        actor,
        Payload::AddressBookCreated(AddressBookCreated {
            address_book: DEFAULT_COLLECTION.into(),
            props: AddressBookProps {
                display_name: Some("Contacts".into()),
                ..AddressBookProps::default()
            },
        }),
    )
    .with_correlation(correlation);
    let (cal, book) = tokio::join!(engine.submit(vec![calendar]), engine.submit(vec![book]));
    for (outcomes, what) in [
        (cal?, "creating the default calendar"),
        (book?, "creating the default address book"),
    ] {
        if let Some(Outcome::Quarantined { reason }) = outcomes.first() {
            return Err(UserError::Invalid(format!("{what}: {reason}")));
        }
        // AlreadyExists: left over from an earlier user of the same name.
    }
    let user = engine
        .views
        .directory
        .user(&domain, &login)?
        .ok_or_else(|| UserError::Invalid("the user vanished after creation".into()))?;
    Ok(UserSummary::from(&user))
}

/// Disables or re-enables a user, as one `UserUpdated` event.
pub async fn set_enabled(
    engine: &Engine,
    name: &str,
    enabled: bool,
    actor: &str,
) -> Result<UserSummary, UserError> {
    let directory = &engine.views.directory;
    let user = directory
        .find_user(name)?
        .ok_or_else(|| UserError::Invalid(format!("no user {name}")))?;
    let event = EventEnvelope::now(
        &user.domain,
        actor,
        Payload::UserUpdated(UserUpdated {
            login: user.login.clone(),
            enabled: Some(enabled),
            ..UserUpdated::default()
        }),
    )
    .expecting(user.version);
    let outcomes = engine.submit(vec![event]).await?;
    let outcome = outcomes
        .first()
        .ok_or_else(|| UserError::Invalid("no outcome".into()))?;
    expect_applied(outcome, "updating the user")?;
    let user = directory
        .user(&user.domain, &user.login)?
        .ok_or_else(|| UserError::Invalid("the user vanished".into()))?;
    Ok(UserSummary::from(&user))
}

pub async fn run(args: &LogArgs, cmd: UserCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        UserCommand::Add(a) => add(args, a).await,
        UserCommand::List(a) => list(args, a).await,
        UserCommand::Disable(a) => enable(args, a, false).await,
        UserCommand::Enable(a) => enable(args, a, true).await,
    }
}

async fn enable(args: &LogArgs, a: UserNameArgs, enabled: bool) -> anyhow::Result<ExitCode> {
    let verb = if enabled { "enable" } else { "disable" };
    let user: UserSummary = match &args.server {
        Some(url) => crate::remote::Client::new(args, url)?
            .post(&format!("/admin/v1/users/{}/{verb}", a.user), &())?,
        None => {
            let engine = Engine::start(args).await?;
            engine
                .wait_ready(std::time::Duration::from_secs(3600))
                .await?;
            let result = set_enabled(&engine, &a.user, enabled, "system:cli").await;
            engine.shutdown()?;
            result?
        }
    };
    println!("{verb}d user {}", user.principal);
    Ok(ExitCode::SUCCESS)
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

async fn add(args: &LogArgs, a: UserAddArgs) -> anyhow::Result<ExitCode> {
    let req = NewUser {
        login: a.login,
        domain: a.domain,
        email: a.email,
        password: read_password()?,
        display_name: a.name,
        admin: a.admin,
    };
    // Refuse bad input before touching the data directory or the server.
    resolve(&req)?;
    let user: UserSummary = match &args.server {
        Some(url) => crate::remote::Client::new(args, url)?.post("/admin/v1/users", &req)?,
        None => {
            let engine = Engine::start(args).await?;
            engine
                .wait_ready(std::time::Duration::from_secs(3600))
                .await?;
            let result = add_user(&engine, &req, "system:cli").await;
            engine.shutdown()?;
            result?
        }
    };
    println!("created user {} <{}>", user.principal, user.email);
    Ok(ExitCode::SUCCESS)
}

async fn list(args: &LogArgs, a: UserListArgs) -> anyhow::Result<ExitCode> {
    let users: Vec<UserSummary> = match &args.server {
        Some(url) => {
            let query: Vec<(&str, &str)> =
                a.domain.iter().map(|d| ("domain", d.as_str())).collect();
            crate::remote::Client::new(args, url)?.get("/admin/v1/users", &query)?
        }
        None => {
            let engine = Engine::start(args).await?;
            engine
                .wait_ready(std::time::Duration::from_secs(3600))
                .await?;
            let users = engine.views.directory.users(a.domain.as_deref())?;
            engine.shutdown()?;
            users.iter().map(UserSummary::from).collect()
        }
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&users)?);
    } else {
        for u in &users {
            println!(
                "{:<32} {:<32} {:<24} {}{}",
                u.principal,
                u.email,
                u.display_name.as_deref().unwrap_or(""),
                if u.admin { "admin " } else { "" },
                if u.enabled { "" } else { "disabled" }
            );
        }
        if users.is_empty() {
            println!("no users");
        }
    }
    Ok(ExitCode::SUCCESS)
}
