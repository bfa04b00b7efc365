//! Console sessions: a random 256-bit id in an `HttpOnly; SameSite=Strict`
//! cookie, mapped to the admin who logged in.
//!
//! Sessions are kept in memory on this installation only: a session is
//! not domain data, so it is not an event and not in the log (another
//! installation, or this one restarted, asks for a new login). What a
//! session proves is only who logged in; whether they may still use the
//! console is read from the directory view on every request, so a user
//! disabled or no longer an admin is refused at once (their password is
//! not checked again).

use crate::engine::Engine;
use axum::http::{header, HeaderMap};
use events::AggregateVersion;
use projections::directory::UserRecord;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A session ends this long after the login, used or not.
const LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// Most sessions kept; past it the oldest goes, so that logging in in a
/// loop cannot grow memory without bound.
const MOST: usize = 1024;
const COOKIE: &str = "reprise-console";
/// What `logout` sends: the cookie emptied and expired.
pub(super) const CLEARED_COOKIE: &str =
    "reprise-console=; HttpOnly; SameSite=Strict; Path=/admin; Max-Age=0";

struct Session {
    /// `login@domain`.
    principal: String,
    /// The user's `UserCreated` version: a later user of the same login is
    /// someone else.
    created: AggregateVersion,
    opened: Instant,
}

pub(crate) struct Sessions {
    open: Mutex<HashMap<String, Session>>,
}

/// What a request's cookie says.
pub(super) enum Admitted {
    /// An admin's live session: `login@domain`.
    Admin(String),
    /// No session cookie, or an unknown or expired one.
    None,
    /// A session whose user is no longer an enabled admin (ended now).
    Revoked(String),
}

impl Sessions {
    pub(super) fn new() -> Sessions {
        Sessions {
            open: Mutex::new(HashMap::new()),
        }
    }

    fn open_sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // Every change is one map operation: a poisoned lock holds a
        // consistent map.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new session for `user`; the `Set-Cookie` value carrying it.
    pub(super) fn open(&self, user: &UserRecord) -> anyhow::Result<String> {
        // 256 bits from the system's random source.
        let id = crate::config::random_token()?;
        let now = Instant::now();
        let mut open = self.open_sessions();
        open.retain(|_, s| now.duration_since(s.opened) < LIFETIME);
        if open.len() >= MOST {
            let oldest = open
                .iter()
                .min_by_key(|(_, s)| s.opened)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                open.remove(&oldest);
            }
        }
        open.insert(
            id.clone(),
            Session {
                principal: format!("{}@{}", user.login, user.domain),
                created: user.created,
                opened: now,
            },
        );
        Ok(format!(
            "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/admin; Max-Age={}",
            LIFETIME.as_secs()
        ))
    }

    /// Ends the session the request's cookie names, if any.
    pub(super) fn close(&self, headers: &HeaderMap) {
        if let Some(id) = session_id(headers) {
            self.open_sessions().remove(id);
        }
    }

    /// Whether the request's cookie names a live session of a user the
    /// directory still holds as an enabled admin.
    pub(super) fn admit(
        &self,
        engine: &Engine,
        headers: &HeaderMap,
    ) -> Result<Admitted, projections::StoreError> {
        let Some(id) = session_id(headers) else {
            return Ok(Admitted::None);
        };
        let (principal, created) = {
            let mut open = self.open_sessions();
            match open.get(id) {
                Some(s) if s.opened.elapsed() < LIFETIME => (s.principal.clone(), s.created),
                Some(_) => {
                    open.remove(id);
                    return Ok(Admitted::None);
                }
                None => return Ok(Admitted::None),
            }
        };
        let user = engine.views().directory.find_user(&principal)?;
        let refusal = match user {
            Some(u) if u.created == created && u.enabled && u.admin => {
                return Ok(Admitted::Admin(principal))
            }
            Some(u) if u.created == created && !u.enabled => "your account was disabled",
            Some(u) if u.created == created => "your account is no longer an administrator",
            _ => "your account no longer exists",
        };
        self.open_sessions().remove(id);
        Ok(Admitted::Revoked(format!(
            "{refusal}: the console session ended"
        )))
    }
}

/// The session id a request's `Cookie` headers carry.
fn session_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1"));
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("b=2; reprise-console=abc; c=3"),
        );
        assert_eq!(session_id(&headers), Some("abc"));
        let mut empty = HeaderMap::new();
        empty.insert(header::COOKIE, HeaderValue::from_static("reprise-console="));
        assert_eq!(session_id(&empty), None);
    }
}
