//! What the directory's admin API and commands share: the error every
//! directory operation returns, submitting one event and reading its
//! outcome, name rules, paging, and the JSON shape of a partial update.
//!
//! The operations themselves live in `domains`, `users`, `groups` and
//! `resources`; each checks a request against the view first, so a bad
//! one appends nothing, then appends its events and answers once the
//! local projection applied them (the log order settles races).

pub mod domains;
pub mod groups;
pub mod passwords;
pub mod resources;
pub mod shares;
pub mod users;
pub mod wire;

use crate::engine::{Engine, SubmitError};
use events::{AggregateVersion, EventEnvelope};
use projections::directory::{valid_name, Page};
use projections::{Outcome, Rejection, StoreError};
use serde::{Deserialize, Serialize};

/// The actor recorded on events from the admin API and the command line.
pub const ACTOR_API: &str = "admin:api";
pub const ACTOR_CLI: &str = "system:cli";

/// Why a directory operation failed; the API maps each to its status.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The request itself is wrong (400).
    #[error("{0}")]
    Invalid(String),
    /// The entry it names does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// It clashes with the directory as it is (409): exists already, a
    /// cycle, or a concurrent change that came first in the log.
    #[error("{0}")]
    Conflict(String),
    /// The log or the projection did not answer (503).
    #[error(transparent)]
    Unavailable(#[from] SubmitError),
    /// Too many passwords are being hashed (503), or hashing failed.
    #[error(transparent)]
    Password(#[from] crate::directory::passwords::PasswordError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T> = std::result::Result<T, DirectoryError>;

/// The error for an outcome other than applied; `what` says what the
/// event was doing ("creating group staff").
pub fn outcome_error(outcome: &Outcome, what: &str) -> Option<DirectoryError> {
    match outcome {
        Outcome::Applied { .. } => None,
        Outcome::Rejected { rejection } => Some(match rejection {
            Rejection::NotFound { .. } => DirectoryError::NotFound(format!("{what}: {rejection}")),
            Rejection::VersionConflict { .. } => {
                DirectoryError::Conflict(format!("{what}: changed meanwhile ({rejection}); retry"))
            }
            _ => DirectoryError::Conflict(format!("{what}: {rejection}")),
        }),
        Outcome::Quarantined { reason } => {
            Some(DirectoryError::Invalid(format!("{what}: {reason}")))
        }
    }
}

/// Appends one event and waits until the local projection applied it;
/// the version it left.
pub async fn submit(engine: &Engine, event: EventEnvelope, what: &str) -> Result<AggregateVersion> {
    let outcomes = engine.submit(vec![event]).await?;
    let outcome = outcomes
        .first()
        .ok_or_else(|| DirectoryError::Invalid(format!("{what}: no outcome")))?;
    match outcome_error(outcome, what) {
        Some(e) => Err(e),
        None => match outcome {
            Outcome::Applied { version } => Ok(*version),
            _ => Err(DirectoryError::Invalid(format!("{what}: not applied"))),
        },
    }
}

/// A login, group or resource name (see [`valid_name`]).
pub fn check_name(kind: &str, name: &str) -> Result<()> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(DirectoryError::Invalid(format!(
            "invalid {kind} name {name:?}: use lowercase letters, digits, '.', '_' and '-' \
             (at most 64)"
        )))
    }
}

/// A domain name, lowercased: ASCII letters, digits, `.` and `-`.
pub fn check_domain(domain: &str) -> Result<String> {
    let domain = domain.trim().to_lowercase();
    let ok = !domain.is_empty()
        && domain.len() <= 253
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-".contains(&b))
        && !domain.starts_with(['.', '-'])
        && !domain.ends_with(['.', '-']);
    if ok {
        Ok(domain)
    } else {
        Err(DirectoryError::Invalid(format!(
            "invalid domain {domain:?}"
        )))
    }
}

/// An email address: something before and after one `@`, no whitespace.
pub fn check_email(email: &str) -> Result<()> {
    let ok = email
        .rsplit_once('@')
        .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty())
        && !email.contains(|c: char| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(DirectoryError::Invalid(format!(
            "{email:?} is not an email address"
        )))
    }
}

/// Free text (display names, phones, locations): one line.
pub fn check_text(field: &str, text: &str) -> Result<()> {
    if text.contains(|c: char| c.is_control()) || text.len() > 512 {
        return Err(DirectoryError::Invalid(format!(
            "{field} must be one line of at most 512 bytes"
        )));
    }
    Ok(())
}

/// Splits `name@domain` (a group or resource) into checked parts; a bare
/// name takes `domain`.
pub fn entry_name(kind: &str, name: &str, domain: Option<&str>) -> Result<(String, String)> {
    let (name, domain) = match (name.rsplit_once('@'), domain) {
        (Some((n, d)), None) => (n, d),
        (Some((n, d)), Some(given)) if d.eq_ignore_ascii_case(given) => (n, d),
        (Some(_), Some(given)) => {
            return Err(DirectoryError::Invalid(format!(
                "{name:?} is not in domain {given}"
            )))
        }
        (None, Some(d)) => (name, d),
        (None, None) => {
            return Err(DirectoryError::Invalid(format!(
                "{kind} {name:?} needs a domain: {name}@example.com"
            )))
        }
    };
    check_name(kind, name)?;
    Ok((name.to_string(), check_domain(domain)?))
}

/// The entry a path names, as `name@domain`, or 404.
pub fn named(kind: &str, name: &str) -> Result<(String, String)> {
    entry_name(kind, name, None).map_err(|_| DirectoryError::NotFound(format!("no {kind} {name}")))
}

/// The group or resource a path names: `name@domain`, or a bare name
/// when exactly one domain has it (as for users), so that the `group` or
/// `resource` an answer carries addresses it; else 404. `get` reads one
/// entry by domain and name.
pub fn locate<R>(
    views: &projections::registry::Views,
    kind: &str,
    name: &str,
    get: impl Fn(&str, &str) -> std::result::Result<Option<R>, StoreError>,
) -> Result<R> {
    if name.contains('@') {
        let (entry, domain) = named(kind, name)?;
        return get(&domain, &entry)?
            .ok_or_else(|| DirectoryError::NotFound(format!("no {kind} {entry}@{domain}")));
    }
    let not_found = || DirectoryError::NotFound(format!("no {kind} {name}"));
    if !valid_name(name) {
        return Err(not_found());
    }
    let mut found = Vec::new();
    for domain in views.directory.domains()? {
        found.extend(get(&domain.name, name)?);
    }
    match <[R; 1]>::try_from(found) {
        Ok([entry]) => Ok(entry),
        Err(found) if found.is_empty() => Err(not_found()),
        Err(_) => Err(DirectoryError::NotFound(format!(
            "{kind} {name} exists in several domains: name it {name}@domain"
        ))),
    }
}

/// Listing parameters: `?domain=&limit=&after=`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this domain's entries.
    pub domain: Option<String>,
    /// Entries per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// The `next` of the previous page.
    pub after: Option<String>,
}

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

impl ListQuery {
    pub fn limit(&self) -> Result<usize> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(n) => Err(DirectoryError::Invalid(format!(
                "limit {n} is out of range: 1 to {MAX_LIMIT}"
            ))),
        }
    }

    pub fn domain(&self) -> Option<String> {
        self.domain.as_deref().map(|d| d.trim().to_lowercase())
    }
}

/// One page of a listing: `{"items": [...], "next": cursor or null}`.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Listing<T> {
    pub items: Vec<T>,
    /// Pass as `after` for the next page; null on the last one.
    pub next: Option<String>,
}

impl<T> Listing<T> {
    pub fn from_page<R>(page: Page<R>) -> Listing<T>
    where
        T: for<'r> From<&'r R>,
    {
        Listing {
            items: page.items.iter().map(T::from).collect(),
            next: page.next,
        }
    }
}

/// A required field in a partial update: `null` cannot remove it.
pub fn required<T: Clone>(field: &str, change: &Option<Option<T>>) -> Result<Option<T>> {
    match change {
        None => Ok(None),
        Some(Some(v)) => Ok(Some(v.clone())),
        Some(None) => Err(DirectoryError::Invalid(format!(
            "{field} cannot be removed"
        ))),
    }
}

/// An optional text set to blank is removed.
pub fn cleaned(change: &Option<Option<String>>) -> Option<Option<String>> {
    change
        .clone()
        .map(|v| v.filter(|text| !text.trim().is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Serialize)]
    struct Change {
        #[serde(
            default,
            with = "events::payload::change",
            skip_serializing_if = "Option::is_none"
        )]
        phone: Option<Option<String>>,
    }

    #[test]
    fn a_patch_tells_absent_null_and_value_apart_both_ways() {
        for (json, value) in [
            ("{}", None),
            (r#"{"phone":null}"#, Some(None)),
            (r#"{"phone":"1"}"#, Some(Some("1".to_string()))),
        ] {
            let change: Change = serde_json::from_str(json).unwrap();
            assert_eq!(change.phone, value);
            assert_eq!(serde_json::to_string(&change).unwrap(), json);
        }
    }

    #[test]
    fn entry_names_and_domains() {
        assert_eq!(
            entry_name("group", "staff@Example.com", None).unwrap(),
            ("staff".to_string(), "example.com".to_string())
        );
        assert_eq!(
            entry_name("group", "staff", Some("example.com")).unwrap(),
            ("staff".to_string(), "example.com".to_string())
        );
        for bad in ["staff", "Staff@example.com", "a/b@example.com", "x@-bad"] {
            assert!(entry_name("group", bad, None).is_err(), "{bad}");
        }
        assert!(entry_name("group", "staff@a.com", Some("b.com")).is_err());
        assert!(check_domain("example.com.").is_err());
        assert!(check_email("a b@example.com").is_err());
        assert!(ListQuery {
            limit: Some(1001),
            ..ListQuery::default()
        }
        .limit()
        .is_err());
    }
}
