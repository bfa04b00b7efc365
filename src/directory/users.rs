//! Users: create (with a default calendar and address book), show, list,
//! update, change password, disable and enable, delete. One function per
//! operation, for both the command line and the admin API.

use crate::directory::{
    check_domain, check_email, check_name, check_text, cleaned, outcome_error, required, submit,
    DirectoryError, ListQuery, Listing, Result,
};
use crate::engine::Engine;
use events::payload::{
    AddressBookCreated, AddressBookProps, CalendarCreated, CalendarProps, DomainCreated,
    PrincipalDataDeleted, UserCreated, UserDeleted, UserDisabled, UserUpdated,
};
use events::{Domain, EventEnvelope, Payload};
use projections::directory::{principal, UserRecord};
use projections::registry::Views;
use projections::Outcome;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The collection every user gets at creation.
pub const DEFAULT_COLLECTION: &str = "default";

/// The data topics a user owns something in, each emptied on deletion.
const DATA_TOPICS: [Domain; 4] = [
    Domain::Calendar,
    Domain::Contact,
    Domain::Seen,
    Domain::Files,
];

/// A request to create a user, from the command line or the admin API.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"login": "carol", "domain": "example.com", "email": "carol@example.com", "password": "carol-secret", "display_name": "Carol"}))]
pub struct NewUser {
    pub login: String,
    pub domain: Option<String>,
    pub email: String,
    pub password: String,
    pub display_name: Option<String>,
    #[serde(default)]
    pub admin: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// A user as the API and `user list --json` show it (no password hash).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserSummary {
    pub principal: String,
    pub login: String,
    pub domain: String,
    pub email: String,
    pub display_name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
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
            phone: u.phone.clone(),
            admin: u.admin,
            enabled: u.enabled,
        }
    }
}

/// A partial update (`PATCH /users/{user}`): absent fields stay, `null`
/// removes the display name or phone.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"display_name": "Alice Liddell", "phone": null}))]
pub struct UserChanges {
    #[serde(
        default,
        with = "events::payload::change",
        skip_serializing_if = "Option::is_none"
    )]
    pub email: Option<Option<String>>,
    #[serde(
        default,
        with = "events::payload::change",
        skip_serializing_if = "Option::is_none"
    )]
    pub display_name: Option<Option<String>>,
    #[serde(
        default,
        with = "events::payload::change",
        skip_serializing_if = "Option::is_none"
    )]
    pub phone: Option<Option<String>>,
    #[serde(
        default,
        with = "events::payload::change",
        skip_serializing_if = "Option::is_none"
    )]
    pub admin: Option<Option<bool>>,
    #[serde(
        default,
        with = "events::payload::change",
        skip_serializing_if = "Option::is_none"
    )]
    pub enabled: Option<Option<bool>>,
}

/// The body of a password change (`PUT /users/{user}/password`).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"password": "new-secret"}))]
pub struct NewPassword {
    pub password: String,
}

/// What `DELETE` answers: the entry that is gone.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Deleted {
    pub deleted: String,
}

/// Splits `login@domain`; otherwise the domain comes from `domain` or the
/// email's domain. Checks everything a new user needs.
pub fn resolve(req: &NewUser) -> Result<(String, String)> {
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
                        DirectoryError::Invalid(format!("{:?} is not an email address", req.email))
                    })?,
            };
            (req.login.clone(), domain)
        }
    };
    check_name("login", &login)?;
    let domain = check_domain(&domain)?;
    check_email(&req.email)?;
    if req.password.is_empty() {
        return Err(DirectoryError::Invalid("the password is empty".into()));
    }
    for (field, text) in [("display_name", &req.display_name), ("phone", &req.phone)] {
        if let Some(text) = text {
            check_text(field, text)?;
        }
    }
    Ok((login, domain))
}

/// The user a client names (`login@domain`, an email, or a login that
/// exists in one domain), or 404.
pub fn find_user(views: &Views, name: &str) -> Result<UserRecord> {
    views
        .directory
        .find_user(name)?
        .ok_or_else(|| DirectoryError::NotFound(format!("no user {name}")))
}

pub fn show_user(views: &Views, name: &str) -> Result<UserSummary> {
    Ok(UserSummary::from(&find_user(views, name)?))
}

pub fn list_users(views: &Views, q: &ListQuery) -> Result<Listing<UserSummary>> {
    let domain = q.domain();
    let page = views
        .directory
        .users_page(domain.as_deref(), q.after.as_deref(), q.limit()?)?;
    Ok(Listing::from_page(page))
}

fn reread(views: &Views, user: &UserRecord) -> Result<UserSummary> {
    let now = views
        .directory
        .user(&user.domain, &user.login)?
        .ok_or_else(|| DirectoryError::NotFound(format!("user {} vanished", user.principal())))?;
    Ok(UserSummary::from(&now))
}

/// Creates a user, its domain when new, and its default calendar and
/// address book, each as events. Checks against the views first so that
/// bad requests append nothing; the log order settles races.
pub async fn add_user(engine: &Engine, req: &NewUser, actor: &str) -> Result<UserSummary> {
    let (login, domain) = resolve(req)?;
    let directory = &engine.views().directory;
    if directory.user(&domain, &login)?.is_some() {
        return Err(DirectoryError::Conflict(format!(
            "user {login}@{domain} already exists"
        )));
    }
    if let Some(holder) = directory.email_holder(&domain, &req.email)? {
        return Err(DirectoryError::Conflict(format!(
            "email {} is already in use in {domain} (user {holder})",
            req.email
        )));
    }
    let hash = crate::directory::passwords::hash(&req.password).await?;
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
                phone: req.phone.clone(),
            }),
        )
        .with_correlation(correlation),
    );
    let outcomes = engine.submit(directory_events).await?;
    // A DomainCreated that lost a race to another creator is fine.
    let user_outcome = outcomes
        .last()
        .ok_or_else(|| DirectoryError::Invalid("no outcome".into()))?;
    if let Some(e) = outcome_error(user_outcome, "creating the user") {
        return Err(e);
    }

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
            return Err(DirectoryError::Invalid(format!("{what}: {reason}")));
        }
        // AlreadyExists: left over from an earlier user of the same name.
    }
    let user = directory
        .user(&domain, &login)?
        .ok_or_else(|| DirectoryError::Invalid("the user vanished after creation".into()))?;
    Ok(UserSummary::from(&user))
}

/// Applies a partial update as one `UserUpdated` event carrying only what
/// differs; nothing is appended when nothing does.
pub async fn update_user(
    engine: &Engine,
    name: &str,
    changes: &UserChanges,
    actor: &str,
) -> Result<UserSummary> {
    let views = &engine.views();
    let user = find_user(views, name)?;
    let email = required("email", &changes.email)?.filter(|e| *e != user.email);
    let admin = required("admin", &changes.admin)?.filter(|a| *a != user.admin);
    let enabled = required("enabled", &changes.enabled)?.filter(|e| *e != user.enabled);
    let display_name = cleaned(&changes.display_name).filter(|n| *n != user.display_name);
    let phone = cleaned(&changes.phone).filter(|p| *p != user.phone);
    if let Some(email) = &email {
        check_email(email)?;
        match views.directory.email_holder(&user.domain, email)? {
            Some(holder) if holder != user.login => {
                return Err(DirectoryError::Conflict(format!(
                    "email {email} is already in use in {} (user {holder})",
                    user.domain
                )))
            }
            _ => {}
        }
    }
    for (field, text) in [("display_name", &display_name), ("phone", &phone)] {
        if let Some(Some(text)) = text {
            check_text(field, text)?;
        }
    }
    let event = UserUpdated {
        login: user.login.clone(),
        email,
        display_name,
        phone,
        password_hash: None,
        admin,
        enabled,
    };
    if event
        == (UserUpdated {
            login: user.login.clone(),
            ..UserUpdated::default()
        })
    {
        return Ok(UserSummary::from(&user));
    }
    let event = EventEnvelope::now(&user.domain, actor, Payload::UserUpdated(event))
        .expecting(user.version);
    submit(
        engine,
        event,
        &format!("updating user {}", user.principal()),
    )
    .await?;
    reread(views, &user)
}

/// Sets a new password (stored as an argon2 hash; the password itself is
/// neither logged nor appended).
pub async fn set_password(
    engine: &Engine,
    name: &str,
    password: &str,
    actor: &str,
) -> Result<UserSummary> {
    let user = find_user(&engine.views(), name)?;
    if password.is_empty() {
        return Err(DirectoryError::Invalid("the password is empty".into()));
    }
    let hash = crate::directory::passwords::hash(password).await?;
    let event = EventEnvelope::now(
        &user.domain,
        actor,
        Payload::UserUpdated(UserUpdated {
            login: user.login.clone(),
            password_hash: Some(hash),
            ..UserUpdated::default()
        }),
    )
    .expecting(user.version);
    let what = format!("changing the password of {}", user.principal());
    submit(engine, event, &what).await?;
    reread(&engine.views(), &user)
}

/// Disables or re-enables a user, as one `UserUpdated` event.
pub async fn set_enabled(
    engine: &Engine,
    name: &str,
    enabled: bool,
    actor: &str,
) -> Result<UserSummary> {
    let user = find_user(&engine.views(), name)?;
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
    submit(
        engine,
        event,
        &format!("updating user {}", user.principal()),
    )
    .await?;
    reread(&engine.views(), &user)
}

/// Deletes a user: disabled first (so every instance refuses them from
/// the next request on), then `PrincipalDataDeleted` in each data topic
/// on the user's partition (each view drops their data in its own
/// order), then `UserDeleted`. Each step is safe to repeat, so running it
/// again after a crash in the middle completes it. The events before stay
/// in the log.
pub async fn delete_user(engine: &Engine, name: &str, actor: &str) -> Result<Deleted> {
    let user = find_user(&engine.views(), name)?;
    let owner = user.principal();
    let correlation = Uuid::now_v7();
    let mut version = user.version;
    if user.enabled {
        let event = EventEnvelope::now(
            &user.domain,
            actor,
            Payload::UserDisabled(UserDisabled {
                login: user.login.clone(),
            }),
        )
        .expecting(version)
        .with_correlation(correlation);
        version = submit(engine, event, &format!("disabling {owner}")).await?;
    }
    let forget = |domain: Domain| {
        let event = EventEnvelope::now(
            &owner,
            actor,
            Payload::PrincipalDataDeleted(PrincipalDataDeleted { domain }),
        )
        .with_correlation(correlation);
        engine.submit(vec![event])
    };
    let [calendar, contact, seen, files] = DATA_TOPICS.map(forget);
    let (calendar, contact, seen, files) = tokio::join!(calendar, contact, seen, files);
    // Every view must have dropped the data before the entry goes: a view
    // that kept it would show it to a later user of the same login. The
    // user stays disabled meanwhile, and a re-run retries.
    for (domain, outcomes) in DATA_TOPICS
        .into_iter()
        .zip([calendar, contact, seen, files])
    {
        let what = format!("deleting the {domain} data of {owner}");
        let outcome = outcomes?
            .into_iter()
            .next()
            .ok_or_else(|| DirectoryError::Invalid(format!("{what}: no outcome")))?;
        if let Some(e) = outcome_error(&outcome, &what) {
            return Err(e);
        }
    }
    let event = EventEnvelope::now(
        &user.domain,
        actor,
        Payload::UserDeleted(UserDeleted {
            login: user.login.clone(),
        }),
    )
    .expecting(version)
    .with_correlation(correlation);
    submit(engine, event, &format!("deleting {owner}")).await?;
    Ok(Deleted { deleted: owner })
}
