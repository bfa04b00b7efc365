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
//!
//! Against guessing ([`super::throttle`]): a password is checked only
//! after the throttle admits the attempt for the account and the client's
//! address; a refused one is answered 429 before any argon2 work. What
//! is already known is answered without asking it: a remembered
//! credential, and one remembered as wrong (a device sending an old
//! password is one failure, not one per request, and never makes its
//! owner wait). A credential verified before, whose trust expired, is
//! checked again without asking the throttle either, so a user's devices
//! keep working while someone guesses at their account. The trade-off:
//! a device the user has not logged in with yet waits like the guesser
//! while the account waits (at most `--login-backoff-max` after the last
//! guess), since admitting a right password from any address would
//! admit the guesser's right guess from a fresh address too.
//! Concurrent checks of one credential wait for the first: a client
//! opening several connections at its first login is one attempt.

use base64::Engine as _;
use projections::directory::{DirectoryView, UserRecord};
use projections::StoreError;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::throttle::{LoginLimits, Throttle};

/// How long a verified credential is trusted without running argon2.
const TRUST_FOR: Duration = Duration::from_secs(15 * 60);
/// How long a refused credential is answered 401 without a check (while
/// its account's password hash is unchanged).
const REFUSED_FOR: Duration = Duration::from_secs(60 * 60);
/// Refused credentials per generation: they are only a saving, so fewer.
const REFUSED_GENERATION: usize = 16_384;
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
    /// Too many failed logins for the account or from the address: retry
    /// after this long (nothing was checked).
    Throttled(Duration),
}

/// A salted SHA-256 of an `Authorization` value.
type Fingerprint = [u8; 32];

/// One verified (or refused) credential.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Credential {
    /// The user's principal; for a refused one, the name sent when no
    /// user has it.
    principal: Box<str>,
    /// SHA-256 of the password hash (PHC string) it was verified against:
    /// enough to notice a change, in a third of the PHC string's size;
    /// [`NO_USER`] for a name no user has.
    password_hash: [u8; 32],
    /// When argon2 verified it; a hit does not extend it.
    at: Instant,
}

/// The `password_hash` of a credential refused because no user has its
/// name.
const NO_USER: [u8; 32] = [0; 32];

/// What is remembered of a credential.
#[derive(Debug, PartialEq, Eq)]
enum Recalled {
    /// Checked less than the trust period ago.
    Trusted(Credential),
    /// Checked before that: known, but to check again.
    Expired(Credential),
}

/// Verified credentials, bounded by two generations of at most
/// `generation` entries: new ones go to `current`; when it is full it
/// becomes `previous` and the former `previous` is dropped, and a hit in
/// `previous` moves back to `current`. So what is dropped at once is only
/// what nobody used since the last turn (an approximation of least
/// recently used, with O(1) work per request and no list to maintain),
/// and a credential used at least once per `generation` new ones is never
/// dropped, whatever the order of use. Expired entries stay (known, to
/// check again) until checked again or dropped with their generation.
struct Remembered {
    generation: usize,
    /// How long a credential is trusted after its check.
    trust_for: Duration,
    current: HashMap<Fingerprint, Credential>,
    previous: HashMap<Fingerprint, Credential>,
}

impl Remembered {
    fn new(generation: usize, trust_for: Duration) -> Remembered {
        Remembered {
            generation: generation.max(1),
            trust_for,
            current: HashMap::new(),
            previous: HashMap::new(),
        }
    }

    /// The credential remembered for a fingerprint, and whether it is
    /// still trusted at `now`.
    fn recall(&mut self, fingerprint: &Fingerprint, now: Instant) -> Option<Recalled> {
        let c = match self.current.get(fingerprint) {
            Some(c) => c.clone(),
            None => {
                let c = self.previous.remove(fingerprint)?;
                self.insert(*fingerprint, c.clone());
                c
            }
        };
        Some(if now.saturating_duration_since(c.at) < self.trust_for {
            Recalled::Trusted(c)
        } else {
            Recalled::Expired(c)
        })
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
    /// Credentials checked and found wrong, or naming nobody.
    refused: Mutex<Remembered>,
    throttle: Mutex<Throttle>,
    /// Credentials being checked, each with a sender whose drop (the
    /// check ended) wakes the requests waiting with the same credential.
    checking: Mutex<HashMap<Fingerprint, tokio::sync::watch::Sender<()>>>,
}

/// What is known of a credential before any check.
enum Known {
    /// Remembered and still honoured: the answer.
    Answer(Authenticated),
    /// Verified before against the user's present password hash, its
    /// trust expired: to check again, but not a guess.
    Verified,
    Nothing,
}

/// Takes a credential out of [`Authenticator::checking`] when its check
/// ends, however it ends.
struct Checking<'a> {
    checking: &'a Mutex<HashMap<Fingerprint, tokio::sync::watch::Sender<()>>>,
    fingerprint: Fingerprint,
}

impl Drop for Checking<'_> {
    fn drop(&mut self) {
        lock(self.checking).remove(&self.fingerprint);
    }
}

/// A lock whose holder never leaves its data half-changed, so a panic
/// elsewhere does not stop logins.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Authenticator {
    pub fn new(salt: [u8; 16], limits: LoginLimits) -> Authenticator {
        Authenticator {
            salt,
            remembered: Mutex::new(Remembered::new(GENERATION, TRUST_FOR)),
            refused: Mutex::new(Remembered::new(REFUSED_GENERATION, REFUSED_FOR)),
            throttle: Mutex::new(Throttle::new(limits)),
            checking: Mutex::new(HashMap::new()),
        }
    }

    fn fingerprint(&self, authorization: &str) -> Fingerprint {
        let mut hasher = Sha256::new();
        hasher.update(self.salt);
        hasher.update(authorization.as_bytes());
        hasher.finalize().into()
    }

    /// Checks an `Authorization` header value sent from `address` (the
    /// client's, when known).
    pub async fn authenticate(
        self: &Arc<Self>,
        directory: &DirectoryView,
        authorization: Option<&str>,
        address: Option<IpAddr>,
    ) -> Result<Authenticated, StoreError> {
        let Some(authorization) = authorization else {
            // No credentials: a client's first request, not an attempt.
            return Ok(Authenticated::Refused);
        };
        let checked = self.check(directory, authorization, address).await;
        let metrics = crate::telemetry::metrics();
        match &checked {
            Ok(Authenticated::User(_)) => metrics.authentication(true),
            Ok(Authenticated::Refused | Authenticated::Disabled) => metrics.authentication(false),
            Ok(Authenticated::Throttled(_)) => metrics.authentication_throttled(),
            Ok(Authenticated::Busy) | Err(_) => {}
        }
        checked
    }

    async fn check(
        &self,
        directory: &DirectoryView,
        authorization: &str,
        address: Option<IpAddr>,
    ) -> Result<Authenticated, StoreError> {
        let fingerprint = self.fingerprint(authorization);
        loop {
            let now = Instant::now();
            let known = match self.recall(directory, &fingerprint, now)? {
                Known::Answer(answer) => return Ok(answer),
                Known::Verified => true,
                Known::Nothing => false,
            };
            if self.recall_refused(directory, &fingerprint, now)? {
                return Ok(Authenticated::Refused);
            }
            // One check per credential at a time: the others wait for it
            // and find its outcome remembered.
            let under_way = {
                let mut checking = lock(&self.checking);
                match checking.get(&fingerprint) {
                    Some(check) => Some(check.subscribe()),
                    None => {
                        checking.insert(fingerprint, tokio::sync::watch::channel(()).0);
                        None
                    }
                }
            };
            if let Some(mut ended) = under_way {
                // Nothing is ever sent: this returns when the sender goes.
                let _ = ended.changed().await;
                continue;
            }
            let _checking = Checking {
                checking: &self.checking,
                fingerprint,
            };
            return self
                .verify(directory, authorization, fingerprint, known, address)
                .await;
        }
    }

    /// The password check itself, admitted by the throttle unless the
    /// credential is `known` to be right.
    async fn verify(
        &self,
        directory: &DirectoryView,
        authorization: &str,
        fingerprint: Fingerprint,
        known: bool,
        address: Option<IpAddr>,
    ) -> Result<Authenticated, StoreError> {
        let Some((name, password)) = basic_credentials(authorization) else {
            return Ok(Authenticated::Refused);
        };
        let user = directory.find_user(&name)?;
        // An account under any of its names (login, login@domain, email).
        let account = match &user {
            Some(user) => user.principal(),
            None => name.to_lowercase(),
        };
        let attempt = if known {
            None
        } else {
            match lock(&self.throttle).attempt(Instant::now(), &account, address) {
                Ok(attempt) => Some(attempt),
                Err(wait) => return Ok(Authenticated::Throttled(wait)),
            }
        };
        // Dropped unsettled, an attempt stays counted as a failure.
        let Some(user) = user else {
            self.remember_refused(fingerprint, name, NO_USER);
            return Ok(Authenticated::Refused);
        };
        let verified =
            match crate::directory::passwords::verify(&password, &user.password_hash).await {
                Ok(verified) => verified,
                Err(_) => {
                    if let Some(attempt) = attempt {
                        lock(&self.throttle).unchecked(attempt);
                    }
                    return Ok(Authenticated::Busy);
                }
            };
        if !verified {
            self.remember_refused(fingerprint, account, digest(&user.password_hash));
            return Ok(Authenticated::Refused);
        }
        if let Some(attempt) = attempt {
            lock(&self.throttle).succeeded(attempt);
        }
        if !user.enabled {
            return Ok(Authenticated::Disabled);
        }
        self.remember(fingerprint, &user);
        Ok(Authenticated::User(user))
    }

    /// What is known of a remembered credential, if its user still has
    /// the same password hash.
    fn recall(
        &self,
        directory: &DirectoryView,
        fingerprint: &Fingerprint,
        now: Instant,
    ) -> Result<Known, StoreError> {
        // The lock is not held while the directory is read.
        let recalled = lock(&self.remembered).recall(fingerprint, now);
        let (credential, trusted) = match recalled {
            None => return Ok(Known::Nothing),
            Some(Recalled::Trusted(c)) => (c, true),
            Some(Recalled::Expired(c)) => (c, false),
        };
        Ok(match directory.find_user(&credential.principal)? {
            Some(user) if digest(&user.password_hash) == credential.password_hash => {
                if !trusted {
                    Known::Verified
                } else if user.enabled {
                    Known::Answer(Authenticated::User(user))
                } else {
                    Known::Answer(Authenticated::Disabled)
                }
            }
            _ => {
                // Another password, or no such user any more: this
                // credential will not be honoured again.
                lock(&self.remembered).forget(fingerprint, &credential);
                Known::Nothing
            }
        })
    }

    /// Whether a credential was refused lately and would be again: its
    /// account's password hash (or the absence of a user) is unchanged.
    fn recall_refused(
        &self,
        directory: &DirectoryView,
        fingerprint: &Fingerprint,
        now: Instant,
    ) -> Result<bool, StoreError> {
        let Some(Recalled::Trusted(credential)) = lock(&self.refused).recall(fingerprint, now)
        else {
            return Ok(false);
        };
        let hash = directory
            .find_user(&credential.principal)?
            .map_or(NO_USER, |user| digest(&user.password_hash));
        if hash == credential.password_hash {
            return Ok(true);
        }
        lock(&self.refused).forget(fingerprint, &credential);
        Ok(false)
    }

    fn remember(&self, fingerprint: Fingerprint, user: &UserRecord) {
        let credential = Credential {
            principal: user.principal().into_boxed_str(),
            password_hash: digest(&user.password_hash),
            at: Instant::now(),
        };
        lock(&self.remembered).insert(fingerprint, credential);
    }

    fn remember_refused(&self, fingerprint: Fingerprint, name: String, password_hash: [u8; 32]) {
        let credential = Credential {
            principal: name.into_boxed_str(),
            password_hash,
            at: Instant::now(),
        };
        lock(&self.refused).insert(fingerprint, credential);
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

    /// What `recall` gives, if trusted.
    fn trusted(recalled: Option<Recalled>) -> Option<Credential> {
        match recalled {
            Some(Recalled::Trusted(c)) => Some(c),
            _ => None,
        }
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
        let mut remembered = Remembered::new(GENERATION, TRUST_FOR);
        let users = 20_000;
        for i in 0..users {
            remembered.insert(fingerprint(i), credential(i, now));
        }
        let mut once = 1_000_000;
        for round in 0..4 {
            for i in 0..users {
                let found = trusted(remembered.recall(&fingerprint(i), now));
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
        let mut remembered = Remembered::new(2, TRUST_FOR);
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
    fn expired_and_replaced_credentials_are_not_trusted() {
        let now = Instant::now();
        let mut remembered = Remembered::new(GENERATION, TRUST_FOR);
        remembered.insert(fingerprint(1), credential(1, now));
        assert!(trusted(remembered.recall(&fingerprint(1), now)).is_some());
        // Expired, it is still known (to check again without the
        // throttle), not trusted.
        assert_eq!(
            remembered.recall(&fingerprint(1), now + TRUST_FOR),
            Some(Recalled::Expired(credential(1, now)))
        );

        // A hit does not extend the trust, even from the older generation.
        let mut remembered = Remembered::new(1, TRUST_FOR);
        remembered.insert(fingerprint(1), credential(1, now));
        remembered.insert(fingerprint(2), credential(2, now));
        let later = now + TRUST_FOR / 2;
        assert_eq!(
            trusted(remembered.recall(&fingerprint(1), later)).map(|c| c.at),
            Some(now)
        );
        assert!(trusted(remembered.recall(&fingerprint(1), now + TRUST_FOR)).is_none());

        // Forgetting spares a credential verified again meanwhile.
        let old = credential(5, now);
        let mut new = credential(5, later);
        new.password_hash = digest("$argon2id$v=19$another");
        remembered.insert(fingerprint(5), new.clone());
        remembered.forget(&fingerprint(5), &old);
        assert_eq!(
            remembered.recall(&fingerprint(5), later),
            Some(Recalled::Trusted(new.clone()))
        );
        remembered.forget(&fingerprint(5), &new);
        assert!(remembered.recall(&fingerprint(5), later).is_none());
    }
}
