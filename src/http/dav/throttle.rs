//! Failed logins, limited per account and per client address, so that
//! guessing finds a password neither fast nor by filling the argon2 pool.
//!
//! Pure: the caller gives the time. An attempt is asked for before any
//! password check and counts as a failure from that moment (so a burst
//! of concurrent guesses is counted before the first of them is
//! answered) until it is settled as a success or as unchecked. Each key,
//! an account or an address, has a free allowance of failures; each
//! failure beyond it makes the key wait, 1 s, then twice as long each
//! time up to `max_wait`, and while it waits every attempt naming it is
//! refused with the time left (429 and Retry-After) without a password
//! check. Nothing is permanent: a key quiet for `forget_after` is
//! forgotten, and at most `tracked` keys of each kind are held, the one
//! least recently failed dropped first, so that spraying names or
//! addresses cannot grow the memory.
//!
//! A success ends the account's count, and the address's when all of its
//! failures were for that account (a user who mistyped); an address
//! that failed for several accounts (a guesser holding an account of its
//! own, or a shared address) only has the success's own attempt taken
//! back, so that logging in with one's own account cannot buy more
//! guesses at others.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The wait after the first failure beyond the allowance.
const FIRST_WAIT: Duration = Duration::from_secs(1);

/// How failed logins are limited (`serve` flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginLimits {
    /// Failures for one account before it waits.
    pub account_free: u32,
    /// Failures from one address before it waits: more than an account's,
    /// since several users may share an address (a NAT).
    pub address_free: u32,
    /// The longest wait; 0 turns waiting off.
    pub max_wait: Duration,
    /// A key without a failure for this long is forgotten; never less
    /// than `max_wait`, so a waiting key is never forgotten.
    pub forget_after: Duration,
    /// Most keys of each kind (accounts, addresses) held.
    pub tracked: usize,
}

impl LoginLimits {
    /// A guesser at one account gets 5 tries, then about 9 more in the
    /// next 8 minutes, then one every 5 minutes: about 300 a day, and
    /// pausing for the hour that forgets it gives only 5 an hour. A
    /// mistyping user waits a second after the sixth try.
    pub const DEFAULT: LoginLimits = LoginLimits {
        account_free: 5,
        address_free: 20,
        max_wait: Duration::from_secs(5 * 60),
        forget_after: Duration::from_secs(60 * 60),
        // About 100 bytes each with the maps' overhead: a few MB.
        tracked: 65_536,
    };
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits::DEFAULT
    }
}

/// Accounts are held by a keyed hash of their name: a fixed size
/// whatever name a client sends.
type AccountKey = u64;

/// Whose failures an address had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sole {
    One(AccountKey),
    Several,
}

#[derive(Debug)]
struct Count {
    failures: u32,
    /// The last failure counted.
    last: Instant,
    /// Attempts are refused until then.
    until: Option<Instant>,
    /// Its place in [`Tracked::order`].
    touch: u64,
    sole: Sole,
}

/// The counts of one kind of key, and their order of last failure.
struct Tracked<K> {
    free: u32,
    counts: HashMap<K, Count>,
    /// Touch number → key, oldest first: what is forgotten or evicted
    /// first. Times only move forward, so this is also the order of
    /// `Count::last`.
    order: BTreeMap<u64, K>,
    next_touch: u64,
}

impl<K: Hash + Eq + Copy> Tracked<K> {
    fn new(free: u32) -> Tracked<K> {
        Tracked {
            free,
            counts: HashMap::new(),
            order: BTreeMap::new(),
            next_touch: 0,
        }
    }

    /// How long `key` must still wait at `now`.
    fn wait(&self, key: &K, now: Instant) -> Option<Duration> {
        let until = self.counts.get(key)?.until?;
        (until > now).then(|| until - now)
    }

    /// Drops the keys quiet for `quiet` (oldest first, so each call does
    /// only what is due).
    fn forget(&mut self, now: Instant, quiet: Duration) {
        while let Some((&touch, key)) = self.order.first_key_value() {
            let due = self
                .counts
                .get(key)
                .is_none_or(|c| now.saturating_duration_since(c.last) >= quiet);
            if !due {
                break;
            }
            let key = *key;
            self.order.remove(&touch);
            self.counts.remove(&key);
        }
    }

    /// Counts one failure of `key`, for `account`.
    fn fail(&mut self, key: K, account: AccountKey, now: Instant, limits: &LoginLimits) {
        if !self.counts.contains_key(&key) {
            while self.counts.len() >= limits.tracked.max(1) {
                let Some((_, oldest)) = self.order.pop_first() else {
                    break;
                };
                self.counts.remove(&oldest);
            }
        }
        let touch = self.next_touch;
        self.next_touch += 1;
        let count = self.counts.entry(key).or_insert(Count {
            failures: 0,
            last: now,
            until: None,
            touch,
            sole: Sole::One(account),
        });
        self.order.remove(&count.touch);
        self.order.insert(touch, key);
        count.touch = touch;
        count.last = now;
        count.failures = count.failures.saturating_add(1);
        if count.sole != Sole::One(account) {
            count.sole = Sole::Several;
        }
        if count.failures > self.free {
            let doublings = (count.failures - self.free - 1).min(31);
            let wait = FIRST_WAIT
                .saturating_mul(1 << doublings)
                .min(limits.max_wait);
            count.until = Some(now + wait);
        }
    }

    /// Takes back one failure of `key`: an attempt that was not a failure.
    fn take_back(&mut self, key: &K) {
        if let Some(count) = self.counts.get_mut(key) {
            count.failures = count.failures.saturating_sub(1);
            if count.failures <= self.free {
                count.until = None;
            }
        }
    }

    fn remove(&mut self, key: &K) {
        if let Some(count) = self.counts.remove(key) {
            self.order.remove(&count.touch);
        }
    }
}

/// Failed logins per account and per address.
pub struct Throttle {
    limits: LoginLimits,
    hasher: RandomState,
    accounts: Tracked<AccountKey>,
    addresses: Tracked<IpAddr>,
}

/// An attempt admitted to a password check, to settle when it is known.
#[derive(Debug)]
#[must_use = "an attempt counts as a failure until settled"]
pub struct Attempt {
    account: AccountKey,
    address: Option<IpAddr>,
}

impl Throttle {
    pub fn new(mut limits: LoginLimits) -> Throttle {
        limits.forget_after = limits.forget_after.max(limits.max_wait);
        Throttle {
            hasher: RandomState::new(),
            accounts: Tracked::new(limits.account_free),
            addresses: Tracked::new(limits.address_free),
            limits,
        }
    }

    /// Before checking a password for `account` (what identifies it: the
    /// user's principal, or the name sent) from `address` (`None`:
    /// unknown, limited per account only): the time to wait when either
    /// waits, else the attempt, counted as a failure until settled.
    pub fn attempt(
        &mut self,
        now: Instant,
        account: &str,
        address: Option<IpAddr>,
    ) -> Result<Attempt, Duration> {
        self.accounts.forget(now, self.limits.forget_after);
        self.addresses.forget(now, self.limits.forget_after);
        let account = self.hasher.hash_one(account);
        let address = address.map(address_key);
        let waits = [
            self.accounts.wait(&account, now),
            address.and_then(|a| self.addresses.wait(&a, now)),
        ];
        if let Some(wait) = waits.into_iter().flatten().max() {
            return Err(wait);
        }
        self.accounts.fail(account, account, now, &self.limits);
        if let Some(address) = address {
            self.addresses.fail(address, account, now, &self.limits);
        }
        Ok(Attempt { account, address })
    }

    /// The password was right.
    pub fn succeeded(&mut self, attempt: Attempt) {
        self.accounts.remove(&attempt.account);
        if let Some(address) = attempt.address {
            let sole = self.addresses.counts.get(&address).map(|c| c.sole);
            if sole == Some(Sole::One(attempt.account)) {
                self.addresses.remove(&address);
            } else {
                self.addresses.take_back(&address);
            }
        }
    }

    /// The password was not checked (the pool was busy): not a failure.
    pub fn unchecked(&mut self, attempt: Attempt) {
        self.accounts.take_back(&attempt.account);
        if let Some(address) = attempt.address {
            self.addresses.take_back(&address);
        }
    }

    /// Keys held: (accounts, addresses).
    #[cfg(test)]
    fn tracked(&self) -> (usize, usize) {
        (self.accounts.counts.len(), self.addresses.counts.len())
    }
}

/// What an address is counted under: IPv4 as is (an IPv4-mapped IPv6
/// address too), IPv6 by its /64, the least a site is given, so that one
/// holder of a prefix cannot spread its guesses over 2^64 addresses.
fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn limits() -> LoginLimits {
        LoginLimits {
            account_free: 3,
            address_free: 10,
            max_wait: 60 * S,
            forget_after: 600 * S,
            tracked: 1_000,
        }
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    /// Fails `account` from `address` at `now`; panics when refused.
    fn fail(t: &mut Throttle, now: Instant, account: &str, address: Option<IpAddr>) {
        let attempt = t.attempt(now, account, address);
        assert!(attempt.is_ok(), "{account} refused at once: {attempt:?}");
    }

    #[test]
    fn failures_beyond_the_allowance_double_the_wait_up_to_the_cap() {
        let mut t = Throttle::new(limits());
        let start = Instant::now();
        let mut now = start;
        for _ in 0..3 {
            fail(&mut t, now, "alice@example.com", None);
        }
        // The fourth failure is admitted and makes the account wait.
        fail(&mut t, now, "alice@example.com", None);
        let mut waits = Vec::new();
        for _ in 0..9 {
            let wait = t
                .attempt(now, "alice@example.com", None)
                .expect_err("waiting");
            // Still waiting just before the end, not at it.
            now += wait - Duration::from_millis(1);
            assert!(t.attempt(now, "alice@example.com", None).is_err());
            now += Duration::from_millis(1);
            waits.push(wait.as_secs());
            fail(&mut t, now, "alice@example.com", None);
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        // Another account is not held up by alice's.
        fail(&mut t, now, "bob@example.com", None);
    }

    #[test]
    fn a_success_ends_the_count_and_an_unchecked_attempt_is_no_failure() {
        let mut t = Throttle::new(limits());
        let now = Instant::now();
        let a = ip("192.0.2.1");
        for _ in 0..2 {
            fail(&mut t, now, "alice@example.com", a);
        }
        let right = t.attempt(now, "alice@example.com", a).unwrap();
        t.succeeded(right);
        assert_eq!(t.tracked(), (0, 0), "the user who mistyped starts afresh");
        for _ in 0..3 {
            let busy = t.attempt(now, "alice@example.com", a).unwrap();
            t.unchecked(busy);
        }
        for _ in 0..3 {
            fail(&mut t, now, "alice@example.com", a);
        }
        // Concurrent attempts count before any is answered: the fourth
        // is admitted, the fifth waits.
        let fourth = t.attempt(now, "alice@example.com", a).unwrap();
        assert!(t.attempt(now, "alice@example.com", a).is_err());
        t.unchecked(fourth);
        fail(&mut t, now, "alice@example.com", a);
    }

    /// A guesser who holds an account of its own cannot log in with it
    /// to clear its address's count.
    #[test]
    fn an_address_that_failed_for_others_keeps_its_count_after_a_success() {
        let mut t = Throttle::new(limits());
        let now = Instant::now();
        let a = ip("192.0.2.1");
        for i in 0..10 {
            fail(&mut t, now, &format!("user{i}@example.com"), a);
        }
        let own = t.attempt(now, "mallory@example.com", a).unwrap();
        assert!(t.attempt(now, "user99@example.com", a).is_err());
        t.succeeded(own);
        // Back at 10 failures: the next is admitted, the one after waits.
        fail(&mut t, now, "user11@example.com", a);
        assert!(t.attempt(now, "user12@example.com", a).is_err());
        // Yet a user elsewhere is not held up by that address.
        fail(&mut t, now, "user12@example.com", ip("198.51.100.7"));
    }

    #[test]
    fn a_quiet_key_is_forgotten() {
        let mut t = Throttle::new(limits());
        let start = Instant::now();
        for _ in 0..4 {
            fail(&mut t, start, "alice@example.com", ip("192.0.2.1"));
        }
        assert!(t.attempt(start, "alice@example.com", None).is_err());
        let later = start + 600 * S;
        // Forgotten: a fresh allowance, and nothing held but the new count.
        for _ in 0..3 {
            fail(&mut t, later, "alice@example.com", None);
        }
        assert_eq!(t.tracked(), (1, 0));
        // Never forgotten while it waits, even when told to forget sooner.
        let mut t = Throttle::new(LoginLimits {
            forget_after: S,
            ..limits()
        });
        for _ in 0..4 {
            fail(&mut t, start, "alice@example.com", None);
        }
        fail(&mut t, start + S, "alice@example.com", None);
        fail(&mut t, start + 3 * S, "alice@example.com", None);
        let wait = t.attempt(start + 5 * S, "alice@example.com", None);
        assert_eq!(wait.unwrap_err(), 2 * S);
    }

    /// Names and addresses sprayed by the million hold at most `tracked`
    /// keys of each kind, and the sprayer's own address, failing all the
    /// time, is the last one dropped.
    #[test]
    fn memory_is_bounded_whatever_is_sprayed() {
        let mut t = Throttle::new(LoginLimits {
            address_free: u32::MAX,
            ..limits()
        });
        let now = Instant::now();
        let sprayer = ip("203.0.113.9");
        for i in 0..20_000u32 {
            let _ = t.attempt(now, &format!("guess{i}"), sprayer);
            let elsewhere = IpAddr::V4(i.into());
            let _ = t.attempt(now, "alice@example.com", Some(elsewhere));
        }
        let (accounts, addresses) = t.tracked();
        assert!(
            accounts <= 1_000 && addresses <= 1_000,
            "{accounts} {addresses}"
        );
        assert!(t
            .addresses
            .counts
            .contains_key(&address_key(sprayer.unwrap())));
        assert!(t.attempt(now, "alice@example.com", None).is_err());
    }

    #[test]
    fn waiting_can_be_turned_off() {
        let mut t = Throttle::new(LoginLimits {
            max_wait: Duration::ZERO,
            ..limits()
        });
        let now = Instant::now();
        for _ in 0..100 {
            fail(&mut t, now, "alice@example.com", ip("192.0.2.1"));
        }
    }

    #[test]
    fn addresses_are_counted_by_site() {
        assert_eq!(
            address_key("2001:db8:1:2:aaaa::1".parse().unwrap()),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            address_key("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
        let mut t = Throttle::new(limits());
        let now = Instant::now();
        // The allowance, and one more that makes the site wait.
        for i in 0..11 {
            fail(&mut t, now, &format!("u{i}"), ip(&format!("2001:db8::{i}")));
        }
        assert!(t.attempt(now, "other", ip("2001:db8::ffff")).is_err());
        fail(&mut t, now, "other", ip("2001:db8:0:1::1"));
    }
}
