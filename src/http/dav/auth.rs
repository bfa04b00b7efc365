//! HTTP Basic authentication against the directory view.
//!
//! argon2 is slow on purpose (tens of milliseconds), far too slow to run
//! on every request of a syncing client. A verified `Authorization` value
//! is remembered by its salted SHA-256 (never the password) together with
//! the password hash it was checked against; a hit is honoured only while
//! the directory still holds that hash for an enabled user, so a password
//! change or a disabled account takes effect on the next request.
//!
//! What is remembered is bounded for an installation of tens of thousands
//! of users polling all day: see [`Remembered`]. Clearing everything when
//! full, as this once did at 10,000 entries, made 20,000 polling users run
//! argon2 on most requests.

use base64::Engine as _;
use projections::directory::{DirectoryView, UserRecord};
use projections::StoreError;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a verified credential is trusted without running argon2.
const TRUST_FOR: Duration = Duration::from_secs(15 * 60);
/// Credentials per generation of [`Remembered`]: a credential used again
/// before this many others were remembered is always recalled, and at most
/// twice this many are held. An entry is about 150 bytes with the map's
/// own overhead, so the bound is about 20 MB; an installation of tens of
/// thousands of users, each with one password and any number of devices
/// sending it, fits in one generation.
const GENERATION: usize = 65_536;

#[derive(Debug)]
pub enum Authenticated {
    User(UserRecord),
    /// No credentials, unreadable ones, or wrong ones.
    Refused,
    /// Right password, but the account is disabled.
    Disabled,
    /// Too many password checks are waiting (see `crate::directory::passwords`).
    Busy,
}

/// A salted SHA-256 of an `Authorization` value.
type Fingerprint = [u8; 32];

/// One verified credential.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Credential {
    principal: Box<str>,
    /// SHA-256 of the password hash (PHC string) it was verified against:
    /// enough to notice a change, in a third of the PHC string's size.
    password_hash: [u8; 32],
    /// When argon2 verified it; a hit does not extend it.
    at: Instant,
}

/// Verified credentials, bounded by two generations of at most
/// `generation` entries: new ones go to `current`; when it is full it
/// becomes `previous` and the former `previous` is dropped, and a hit in
/// `previous` moves back to `current`. So what is dropped at once is only
/// what nobody used since the last turn (an approximation of least
/// recently used, with O(1) work per request and no list to maintain),
/// and a credential used at least once per `generation` new ones is never
/// dropped, whatever the order of use. Expired entries are dropped when
/// met, and with their generation otherwise.
struct Remembered {
    generation: usize,
    current: HashMap<Fingerprint, Credential>,
    previous: HashMap<Fingerprint, Credential>,
}

impl Remembered {
    fn new(generation: usize) -> Remembered {
        Remembered {
            generation: generation.max(1),
            current: HashMap::new(),
            previous: HashMap::new(),
        }
    }

    /// The credential remembered for a fingerprint, if still trusted at
    /// `now`.
    fn recall(&mut self, fingerprint: &Fingerprint, now: Instant) -> Option<Credential> {
        let trusted = |c: &Credential| now.saturating_duration_since(c.at) < TRUST_FOR;
        if let Some(c) = self.current.get(fingerprint) {
            if trusted(c) {
                return Some(c.clone());
            }
            self.current.remove(fingerprint);
            return None;
        }
        let c = self.previous.remove(fingerprint)?;
        if !trusted(&c) {
            return None;
        }
        self.insert(*fingerprint, c.clone());
        Some(c)
    }

    fn insert(&mut self, fingerprint: Fingerprint, credential: Credential) {
        // One entry per fingerprint, so that the bound counts credentials.
        self.previous.remove(&fingerprint);
        if self.current.len() >= self.generation && !self.current.contains_key(&fingerprint) {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(fingerprint, credential);
    }

    /// Drops a credential the directory no longer honours, unless it was
    /// replaced meanwhile (verified again against the new password hash).
    fn forget(&mut self, fingerprint: &Fingerprint, credential: &Credential) {
        for map in [&mut self.current, &mut self.previous] {
            if map.get(fingerprint) == Some(credential) {
                map.remove(fingerprint);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

pub struct Authenticator {
    salt: [u8; 16],
    remembered: Mutex<Remembered>,
}

impl Authenticator {
    pub fn new(salt: [u8; 16]) -> Authenticator {
        Authenticator {
            salt,
            remembered: Mutex::new(Remembered::new(GENERATION)),
        }
    }

    fn fingerprint(&self, authorization: &str) -> Fingerprint {
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
            // No credentials: a client's first request, not an attempt.
            return Ok(Authenticated::Refused);
        };
        let checked = self.check(directory, authorization).await;
        match &checked {
            Ok(Authenticated::User(_)) => crate::telemetry::metrics().authentication(true),
            Ok(Authenticated::Refused | Authenticated::Disabled) => {
                crate::telemetry::metrics().authentication(false)
            }
            Ok(Authenticated::Busy) | Err(_) => {}
        }
        checked
    }

    async fn check(
        self: &Arc<Self>,
        directory: &DirectoryView,
        authorization: &str,
    ) -> Result<Authenticated, StoreError> {
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
        let verified =
            match crate::directory::passwords::verify(&password, &user.password_hash).await {
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
        fingerprint: &Fingerprint,
    ) -> Result<Option<Authenticated>, StoreError> {
        // The lock is not held while the directory is read.
        let credential = {
            let mut remembered = self.remembered.lock().unwrap_or_else(|p| p.into_inner());
            remembered.recall(fingerprint, Instant::now())
        };
        let Some(credential) = credential else {
            return Ok(None);
        };
        Ok(match directory.find_user(&credential.principal)? {
            Some(user) if digest(&user.password_hash) == credential.password_hash => {
                Some(if user.enabled {
                    Authenticated::User(user)
                } else {
                    Authenticated::Disabled
                })
            }
            _ => {
                // Another password, or no such user any more: this
                // credential will not be honoured again.
                self.remembered
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .forget(fingerprint, &credential);
                None
            }
        })
    }

    fn remember(&self, fingerprint: Fingerprint, user: &UserRecord) {
        let credential = Credential {
            principal: user.principal().into_boxed_str(),
            password_hash: digest(&user.password_hash),
            at: Instant::now(),
        };
        self.remembered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(fingerprint, credential);
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

    fn fingerprint(i: u64) -> Fingerprint {
        digest(&format!("Basic credential {i}"))
    }

    fn credential(i: u64, at: Instant) -> Credential {
        Credential {
            principal: format!("user{i}@example.com").into_boxed_str(),
            password_hash: digest("$argon2id$v=19$..."),
            at,
        }
    }

    /// 20,000 users polling in turn stay remembered, each verified once,
    /// while 40,000 credentials used only once (other clients, wrong
    /// guesses that happened to verify elsewhere) pass between two polls
    /// of a user, and the memory stays bounded. (Cleared when full at
    /// 10,000, as it was, every poll ran argon2.)
    #[test]
    fn users_polling_in_turn_stay_remembered() {
        let now = Instant::now();
        let mut remembered = Remembered::new(GENERATION);
        let users = 20_000;
        for i in 0..users {
            remembered.insert(fingerprint(i), credential(i, now));
        }
        let mut once = 1_000_000;
        for round in 0..4 {
            for i in 0..users {
                let found = remembered.recall(&fingerprint(i), now);
                assert_eq!(
                    found.map(|c| c.principal),
                    Some(format!("user{i}@example.com").into_boxed_str()),
                    "user {i} was forgotten in round {round}"
                );
                for _ in 0..2 {
                    remembered.insert(fingerprint(once), credential(once, now));
                    once += 1;
                }
                assert!(remembered.len() <= 2 * GENERATION, "{}", remembered.len());
            }
        }
        assert!(remembered.len() > GENERATION, "the bound was reached");
    }

    /// What is dropped is what was not used since the last turn: never
    /// everything at once.
    #[test]
    fn eviction_drops_only_the_unused_generation() {
        let now = Instant::now();
        let mut remembered = Remembered::new(2);
        for i in 0..3 {
            remembered.insert(fingerprint(i), credential(i, now));
        }
        // current {2}, previous {0, 1}: nothing dropped yet.
        assert_eq!(remembered.len(), 3);
        assert!(remembered.recall(&fingerprint(0), now).is_some());
        // 0 moved back to current {2, 0}; 3 turns it over: previous
        // {2, 0}, and 1, unused since the last turn, goes.
        remembered.insert(fingerprint(3), credential(3, now));
        assert!(remembered.recall(&fingerprint(1), now).is_none());
        for i in [0, 2, 3] {
            assert!(remembered.recall(&fingerprint(i), now).is_some(), "{i}");
        }
        assert!(remembered.len() <= 4);
        // Remembering one again keeps one entry for it.
        remembered.insert(fingerprint(3), credential(3, now));
        remembered.insert(fingerprint(3), credential(3, now));
        assert!(remembered.len() <= 4);
    }

    #[test]
    fn expired_and_replaced_credentials_are_not_recalled() {
        let now = Instant::now();
        let mut remembered = Remembered::new(GENERATION);
        remembered.insert(fingerprint(1), credential(1, now));
        assert!(remembered.recall(&fingerprint(1), now).is_some());
        assert!(remembered
            .recall(&fingerprint(1), now + TRUST_FOR)
            .is_none());
        assert_eq!(
            remembered.len(),
            0,
            "an expired credential is dropped when met"
        );

        // A hit does not extend the trust, even from the older generation.
        let mut remembered = Remembered::new(1);
        remembered.insert(fingerprint(1), credential(1, now));
        remembered.insert(fingerprint(2), credential(2, now));
        let later = now + TRUST_FOR / 2;
        assert_eq!(
            remembered.recall(&fingerprint(1), later).map(|c| c.at),
            Some(now)
        );
        assert!(remembered
            .recall(&fingerprint(1), now + TRUST_FOR)
            .is_none());

        // Forgetting spares a credential verified again meanwhile.
        let old = credential(5, now);
        let mut new = credential(5, later);
        new.password_hash = digest("$argon2id$v=19$another");
        remembered.insert(fingerprint(5), new.clone());
        remembered.forget(&fingerprint(5), &old);
        assert_eq!(remembered.recall(&fingerprint(5), later), Some(new.clone()));
        remembered.forget(&fingerprint(5), &new);
        assert!(remembered.recall(&fingerprint(5), later).is_none());
    }
}
