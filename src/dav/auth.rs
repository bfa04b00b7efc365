//! HTTP Basic authentication against the directory view.
//!
//! argon2 is slow on purpose (tens of milliseconds), far too slow to run
//! on every request of a syncing client. A verified `Authorization` value
//! is remembered by its salted SHA-256 (never the password) together with
//! the password hash it was checked against; a hit is honoured only while
//! the directory still holds that hash for an enabled user, so a password
//! change or a disabled account takes effect on the next request.

use base64::Engine as _;
use projections::directory::{DirectoryView, UserRecord};
use projections::StoreError;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a verified credential is trusted without running argon2.
const TRUST_FOR: Duration = Duration::from_secs(15 * 60);
/// Bound on remembered credentials; the map is cleared when full.
const MAX_REMEMBERED: usize = 10_000;

#[derive(Debug)]
pub enum Authenticated {
    User(UserRecord),
    /// No credentials, unreadable ones, or wrong ones.
    Refused,
    /// Right password, but the account is disabled.
    Disabled,
    /// Too many password checks are waiting (see `crate::passwords`).
    Busy,
}

struct Remembered {
    principal: String,
    password_hash: String,
    at: Instant,
}

pub struct Authenticator {
    salt: [u8; 16],
    remembered: Mutex<HashMap<[u8; 32], Remembered>>,
}

impl Authenticator {
    pub fn new(salt: [u8; 16]) -> Authenticator {
        Authenticator {
            salt,
            remembered: Mutex::new(HashMap::new()),
        }
    }

    fn fingerprint(&self, authorization: &str) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.salt);
        hasher.update(authorization.as_bytes());
        hasher.finalize().into()
    }

    /// Checks an `Authorization` header value.
    pub async fn authenticate(
        self: &Arc<Self>,
        directory: &DirectoryView,
        authorization: Option<&str>,
    ) -> Result<Authenticated, StoreError> {
        let Some(authorization) = authorization else {
            return Ok(Authenticated::Refused);
        };
        let fingerprint = self.fingerprint(authorization);
        if let Some(user) = self.recall(directory, &fingerprint)? {
            return Ok(user);
        }
        let Some((name, password)) = basic_credentials(authorization) else {
            return Ok(Authenticated::Refused);
        };
        let Some(user) = directory.find_user(&name)? else {
            return Ok(Authenticated::Refused);
        };
        let verified = match crate::passwords::verify(&password, &user.password_hash).await {
            Ok(verified) => verified,
            Err(_) => return Ok(Authenticated::Busy),
        };
        if !verified {
            return Ok(Authenticated::Refused);
        }
        if !user.enabled {
            return Ok(Authenticated::Disabled);
        }
        self.remember(fingerprint, &user);
        Ok(Authenticated::User(user))
    }

    /// A remembered credential, if its user still has the same password
    /// hash and is enabled.
    fn recall(
        &self,
        directory: &DirectoryView,
        fingerprint: &[u8; 32],
    ) -> Result<Option<Authenticated>, StoreError> {
        let (principal, password_hash) = {
            let map = self.remembered.lock().unwrap_or_else(|p| p.into_inner());
            match map.get(fingerprint) {
                Some(r) if r.at.elapsed() < TRUST_FOR => {
                    (r.principal.clone(), r.password_hash.clone())
                }
                _ => return Ok(None),
            }
        };
        Ok(match directory.find_user(&principal)? {
            Some(user) if user.password_hash == password_hash => Some(if user.enabled {
                Authenticated::User(user)
            } else {
                Authenticated::Disabled
            }),
            _ => None,
        })
    }

    fn remember(&self, fingerprint: [u8; 32], user: &UserRecord) {
        let mut map = self.remembered.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_REMEMBERED {
            map.clear();
        }
        map.insert(
            fingerprint,
            Remembered {
                principal: user.principal(),
                password_hash: user.password_hash.clone(),
                at: Instant::now(),
            },
        );
    }
}

/// `Basic base64(name:password)` → (name, password).
fn basic_credentials(authorization: &str) -> Option<(String, String)> {
    let (scheme, encoded) = authorization.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (name, password) = text.split_once(':')?;
    Some((name.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_basic_credentials() {
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("alice:pa:ss")
        );
        assert_eq!(
            basic_credentials(&header),
            Some(("alice".into(), "pa:ss".into()))
        );
        assert_eq!(basic_credentials("Bearer x"), None);
        assert_eq!(basic_credentials("Basic !!!"), None);
    }
}
