//! Granting and withdrawing shares of calendars and address books, for
//! both the DAV `CS:share` POST and the admin API / `reprise share`.
//!
//! Sharees are named the way clients and operators name them (`mailto:`
//! addresses, principal URLs, `login@domain`, `group:name@domain`) and
//! resolved against the directory before anything is appended, so an
//! unknown sharee, a share with oneself or with another domain appends
//! nothing. The grant carries the sharee's creation version: a later user
//! or group of the same name does not inherit it.

use crate::engine::{Engine, SubmitError};
use events::payload::{
    Access, AddressBookShared, AddressBookUnshared, CalendarShared, CalendarUnshared, Sharee,
};
use events::{AggregateVersion, EventEnvelope, Payload};
use formats::davpath::{href_path, DavPath, Kind};
use projections::directory::DirectoryView;
use projections::{Outcome, StoreError};
use serde::{Deserialize, Serialize};

/// How many sharees one request may change.
pub const MAX_CHANGES: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    UnknownSharee(String),
    #[error("{0}")]
    NotAllowed(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Unavailable(#[from] SubmitError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A grant as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShareSummary {
    /// `user:login@domain` or `group:name@domain`.
    pub sharee: String,
    #[schema(value_type = crate::directory::wire::AccessSchema)]
    pub access: Access,
}

pub fn sharee_label(sharee: &Sharee) -> String {
    match sharee {
        Sharee::User(p) => format!("user:{p}"),
        Sharee::Group(g) => format!("group:{g}"),
    }
}

/// Finds the sharee a name designates, in `domain` only: `mailto:email`
/// (a user's or a group's), a principal URL (`/dav/principals/...`,
/// absolute or not), `user:login@domain`, `group:name@domain`, or a bare
/// `login@domain` / email.
pub fn find_sharee(
    directory: &DirectoryView,
    domain: &str,
    name: &str,
) -> Result<(Sharee, AggregateVersion), ShareError> {
    let name = name.trim();
    let unknown = || ShareError::UnknownSharee(format!("no user or group {name:?} in {domain}"));
    let elsewhere = || {
        ShareError::NotAllowed(format!(
            "{name:?} is not in {domain}; collections are shared within their domain"
        ))
    };
    let user = |login: &str, d: &str| -> Result<(Sharee, AggregateVersion), ShareError> {
        if d != domain {
            return Err(elsewhere());
        }
        let record = directory.user(d, login)?.ok_or_else(unknown)?;
        Ok((Sharee::User(record.principal()), record.created))
    };
    let group = |group: &str, d: &str| -> Result<(Sharee, AggregateVersion), ShareError> {
        if d != domain {
            return Err(elsewhere());
        }
        let record = directory.group(d, group)?.ok_or_else(unknown)?;
        Ok((Sharee::Group(format!("{group}@{d}")), record.created))
    };
    let split = |s: &str| {
        s.rsplit_once('@')
            .map(|(a, d)| (a.to_string(), d.to_lowercase()))
    };
    if let Some(rest) = name.strip_prefix("group:") {
        let (g, d) = split(rest).ok_or_else(unknown)?;
        return group(&g, &d);
    }
    if let Some(rest) = name.strip_prefix("user:") {
        let (l, d) = split(rest).ok_or_else(unknown)?;
        return user(&l, &d);
    }
    if name.starts_with('/') || name.starts_with("http://") || name.starts_with("https://") {
        return match DavPath::parse(href_path(name)) {
            Ok(DavPath::Principal(p)) => {
                let (l, d) = split(&p).ok_or_else(unknown)?;
                user(&l, &d)
            }
            Ok(DavPath::GroupPrincipal(g)) => {
                let (g, d) = split(&g).ok_or_else(unknown)?;
                group(&g, &d)
            }
            _ => Err(unknown()),
        };
    }
    let address = name
        .strip_prefix("mailto:")
        .or_else(|| name.strip_prefix("MAILTO:"))
        .unwrap_or(name);
    let (local, d) = split(address).ok_or_else(unknown)?;
    if d != domain {
        return Err(elsewhere());
    }
    let by_login = directory.user(&d, &local)?;
    let by_email = match by_login {
        Some(_) => None,
        None => match directory.email_holder(&d, address)? {
            Some(login) => directory.user(&d, &login)?,
            None => None,
        },
    };
    if let Some(record) = by_login.or(by_email) {
        return Ok((Sharee::User(record.principal()), record.created));
    }
    let lowered = address.to_lowercase();
    if let Some(record) = directory.groups(&d)?.into_iter().find(|g| {
        g.email
            .as_deref()
            .is_some_and(|e| e.to_lowercase() == lowered)
    }) {
        return Ok((
            Sharee::Group(format!("{}@{d}", record.name)),
            record.created,
        ));
    }
    Err(unknown())
}

/// One change of a collection's grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShareChange {
    Grant {
        sharee: Sharee,
        since: AggregateVersion,
        access: Access,
    },
    Revoke(Sharee),
}

/// Appends the changes to `owner`'s `collection` as one batch in the
/// owner's partition, in order, and checks every outcome. The caller has
/// checked that the requester owns the collection (or is an admin).
pub async fn change(
    engine: &Engine,
    kind: Kind,
    owner: &str,
    collection: &str,
    changes: Vec<ShareChange>,
    actor: &str,
) -> Result<(), ShareError> {
    if changes.is_empty() {
        return Err(ShareError::Invalid("no sharee to grant or revoke".into()));
    }
    if changes.len() > MAX_CHANGES {
        return Err(ShareError::Invalid(format!(
            "at most {MAX_CHANGES} sharees per request"
        )));
    }
    require_collection(engine, kind, owner, collection)?;
    let grants = grants(engine, kind, owner, collection)?;
    let correlation = uuid::Uuid::now_v7();
    let mut events = Vec::with_capacity(changes.len());
    for change in changes {
        let payload = match change {
            ShareChange::Grant { sharee, .. } if sharee == Sharee::User(owner.to_string()) => {
                return Err(ShareError::NotAllowed(
                    "a collection cannot be shared with its owner".into(),
                ))
            }
            ShareChange::Grant {
                sharee,
                since,
                access,
            } => match kind {
                Kind::Calendar => Payload::CalendarShared(CalendarShared {
                    calendar: collection.to_string(),
                    sharee,
                    sharee_since: since,
                    access,
                }),
                Kind::AddressBook => Payload::AddressBookShared(AddressBookShared {
                    address_book: collection.to_string(),
                    sharee,
                    sharee_since: since,
                    access,
                }),
            },
            // Revoking what is not granted is already done.
            ShareChange::Revoke(sharee) if !grants.iter().any(|(s, _)| *s == sharee) => continue,
            ShareChange::Revoke(sharee) => match kind {
                Kind::Calendar => Payload::CalendarUnshared(CalendarUnshared {
                    calendar: collection.to_string(),
                    sharee,
                }),
                Kind::AddressBook => Payload::AddressBookUnshared(AddressBookUnshared {
                    address_book: collection.to_string(),
                    sharee,
                }),
            },
        };
        events.push(EventEnvelope::now(owner, actor, payload).with_correlation(correlation));
    }
    if events.is_empty() {
        return Ok(());
    }
    for outcome in engine.submit(events).await? {
        match outcome {
            Outcome::Applied { .. } => {}
            Outcome::Rejected { rejection } => {
                return Err(ShareError::Conflict(rejection.to_string()))
            }
            Outcome::Quarantined { reason } => return Err(ShareError::Invalid(reason)),
        }
    }
    Ok(())
}

/// The grants of a collection, as the API shows them.
pub fn list(
    engine: &Engine,
    kind: Kind,
    owner: &str,
    collection: &str,
) -> Result<Vec<ShareSummary>, ShareError> {
    Ok(grants(engine, kind, owner, collection)?
        .iter()
        .map(|(sharee, grant)| ShareSummary {
            sharee: sharee_label(sharee),
            access: grant.access,
        })
        .collect())
}

fn grants(
    engine: &Engine,
    kind: Kind,
    owner: &str,
    collection: &str,
) -> Result<Vec<(Sharee, projections::calendars::Grant)>, StoreError> {
    match kind {
        Kind::Calendar => engine.views().calendars.grants(owner, collection),
        Kind::AddressBook => engine.views().contacts.grants(owner, collection),
    }
}

fn noun(kind: Kind) -> &'static str {
    match kind {
        Kind::Calendar => "calendar",
        Kind::AddressBook => "address book",
    }
}

fn require_collection(
    engine: &Engine,
    kind: Kind,
    owner: &str,
    collection: &str,
) -> Result<(), ShareError> {
    let views = &engine.views();
    let exists = match kind {
        Kind::Calendar => views.calendars.collection(owner, collection)?.is_some(),
        Kind::AddressBook => views.contacts.collection(owner, collection)?.is_some(),
    };
    if exists {
        Ok(())
    } else {
        Err(ShareError::NotFound(format!(
            "{owner} has no {} {collection}",
            noun(kind)
        )))
    }
}

/// The sharee a revocation names: one the directory knows, or else one
/// that no longer exists but may still hold a grant under its name
/// (`user:login@domain`, `group:name@domain` or a principal URL).
pub fn sharee_to_revoke(
    directory: &DirectoryView,
    domain: &str,
    name: &str,
) -> Result<Sharee, ShareError> {
    match find_sharee(directory, domain, name) {
        Ok((sharee, _)) => Ok(sharee),
        Err(ShareError::UnknownSharee(m)) => {
            named_sharee(name.trim()).ok_or(ShareError::UnknownSharee(m))
        }
        Err(e) => Err(e),
    }
}

/// The sharee a label or a principal URL names, without asking the
/// directory.
fn named_sharee(name: &str) -> Option<Sharee> {
    let qualified = |n: &str| n.contains('@').then(|| n.to_string());
    if let Some(user) = name.strip_prefix("user:") {
        return qualified(user).map(Sharee::User);
    }
    if let Some(group) = name.strip_prefix("group:") {
        return qualified(group).map(Sharee::Group);
    }
    match DavPath::parse(href_path(name)).ok()? {
        DavPath::Principal(p) => Some(Sharee::User(p)),
        DavPath::GroupPrincipal(g) => Some(Sharee::Group(g)),
        _ => None,
    }
}

/// A collection and its grants, as the admin API and `reprise share`
/// show them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CollectionShares {
    pub owner: String,
    /// `calendars` or `addressbooks`.
    pub kind: String,
    pub collection: String,
    pub shares: Vec<ShareSummary>,
}

/// The body of a grant: `{"access": "read"}` or `{"access": "read-write"}`.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"access": "read-write"}))]
pub struct GrantRequest {
    #[schema(value_type = crate::directory::wire::AccessSchema)]
    pub access: Access,
}

/// The owner a request names (`login@domain`, an email, or a login of
/// one domain), as a principal with its domain.
fn find_owner(engine: &Engine, owner: &str) -> Result<(String, String), ShareError> {
    let user = engine
        .views()
        .directory
        .find_user(owner)?
        .ok_or_else(|| ShareError::NotFound(format!("no user {owner}")))?;
    Ok((user.principal(), user.domain))
}

/// `owner`'s `collection` and who it is shared with.
pub fn show(
    engine: &Engine,
    owner: &str,
    kind: Kind,
    collection: &str,
) -> Result<CollectionShares, ShareError> {
    let (owner, _) = find_owner(engine, owner)?;
    require_collection(engine, kind, &owner, collection)?;
    shares_of(engine, owner, kind, collection)
}

/// The grants of a collection known to exist, of an owner already found.
fn shares_of(
    engine: &Engine,
    owner: String,
    kind: Kind,
    collection: &str,
) -> Result<CollectionShares, ShareError> {
    Ok(CollectionShares {
        shares: list(engine, kind, &owner, collection)?,
        owner,
        kind: kind.segment().to_string(),
        collection: collection.to_string(),
    })
}

/// Grants `access` on `owner`'s `collection` to `sharee` (any name
/// [`find_sharee`] takes), or changes the access of an existing grant.
pub async fn grant(
    engine: &Engine,
    owner: &str,
    kind: Kind,
    collection: &str,
    sharee: &str,
    access: Access,
    actor: &str,
) -> Result<CollectionShares, ShareError> {
    let (principal, domain) = find_owner(engine, owner)?;
    let (sharee, since) = find_sharee(&engine.views().directory, &domain, sharee)?;
    let grant = ShareChange::Grant {
        sharee,
        since,
        access,
    };
    change(engine, kind, &principal, collection, vec![grant], actor).await?;
    shares_of(engine, principal, kind, collection)
}

/// Withdraws `sharee`'s grant on `owner`'s `collection`; withdrawing what
/// is not granted changes nothing.
pub async fn revoke(
    engine: &Engine,
    owner: &str,
    kind: Kind,
    collection: &str,
    sharee: &str,
    actor: &str,
) -> Result<CollectionShares, ShareError> {
    let (principal, domain) = find_owner(engine, owner)?;
    let sharee = sharee_to_revoke(&engine.views().directory, &domain, sharee)?;
    let revoke = ShareChange::Revoke(sharee);
    change(engine, kind, &principal, collection, vec![revoke], actor).await?;
    shares_of(engine, principal, kind, collection)
}
