//! Throttling of failed logins, per account and per client address, and of wrong group keys,
//! per user and per client address (the same machinery with its own allowances).
//!
//! governor counts failures with a token bucket per key (a burst, then a steady refill). Once a
//! key runs dry it is blocked until the bucket has a token again, and every attempt in that time
//! is refused before any password is checked, so guessing in parallel gains nothing.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts allowed in a burst for one account, then one more per `ACCOUNT_REFILL`.
pub const ACCOUNT_BURST: u32 = 5;
pub const ACCOUNT_REFILL: Duration = Duration::from_secs(60);
/// The same for one client address (which may hide many honest users behind a NAT).
pub const IP_BURST: u32 = 20;
pub const IP_REFILL: Duration = Duration::from_secs(6);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Ip(IpAddr),
}

/// Wrong group keys allowed in a burst for one user (10 in 10 minutes), then one more per
/// `KEY_USER_REFILL`; the same for one client address.
pub const KEY_USER_BURST: u32 = 10;
pub const KEY_USER_REFILL: Duration = Duration::from_secs(60);
pub const KEY_IP_BURST: u32 = 30;
pub const KEY_IP_REFILL: Duration = Duration::from_secs(20);

/// Password checks one client address may have running at once (a school's NAT holds many
/// honest users; one attacker's address cannot fill the hashing queue).
pub const IP_PARALLEL: u32 = 4;

pub struct LoginThrottle {
    accounts: DefaultKeyedRateLimiter<String>,
    ips: DefaultKeyedRateLimiter<IpAddr>,
    blocked: Mutex<HashMap<Key, Instant>>,
    /// Attempts whose password check is running, per account and per address.
    in_flight: Mutex<HashMap<Key, u32>>,
    clock: DefaultClock,
}

/// An attempt in progress (see [`LoginThrottle::begin`]); ends when dropped, however the
/// request ends (answered, failed, or abandoned by the client).
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    keys: Vec<Key>,
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        let mut running = self
            .throttle
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for key in &self.keys {
            if let Some(n) = running.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    running.remove(key);
                }
            }
        }
    }
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new()
    }
}

fn quota(burst: u32, refill: Duration) -> Quota {
    Quota::with_period(refill)
        .expect("non-zero period")
        .allow_burst(NonZeroU32::new(burst).expect("non-zero burst"))
}

impl LoginThrottle {
    pub fn new() -> Self {
        Self::with_allowances((ACCOUNT_BURST, ACCOUNT_REFILL), (IP_BURST, IP_REFILL))
    }

    /// The throttle of wrong group keys (accounts are users here).
    pub fn for_group_keys() -> Self {
        Self::with_allowances(
            (KEY_USER_BURST, KEY_USER_REFILL),
            (KEY_IP_BURST, KEY_IP_REFILL),
        )
    }

    /// A throttle allowing `(burst, one more per refill)` failures per account and per address
    /// (tests use short ones).
    pub fn with_allowances(account: (u32, Duration), ip: (u32, Duration)) -> Self {
        LoginThrottle {
            accounts: RateLimiter::keyed(quota(account.0, account.1)),
            ips: RateLimiter::keyed(quota(ip.0, ip.1)),
            blocked: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            clock: DefaultClock::default(),
        }
    }

    /// Before checking a password: `Err(wait)` while the account or the address is blocked.
    /// `account` names the account's bucket: the same for its login name and its e-mail when it
    /// exists, the folded text typed when it does not.
    pub fn check(&self, account: &str, ip: Option<IpAddr>) -> Result<(), Duration> {
        let now = Instant::now();
        let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = Duration::ZERO;
        for key in keys(account, ip) {
            match blocked.get(&key) {
                Some(until) if *until > now => wait = wait.max(*until - now),
                Some(_) => {
                    blocked.remove(&key);
                }
                None => {}
            }
        }
        if wait.is_zero() {
            Ok(())
        } else {
            Err(round_up(wait))
        }
    }

    /// Before checking a password: like [`LoginThrottle::check`], and also refuses (for a
    /// second) a second attempt on an account whose first is still being checked, or more than
    /// [`IP_PARALLEL`] at once from one address. Failures are counted when a check ends, so
    /// without this, guesses sent in parallel would all be checked before the first counted.
    pub fn begin(&self, account: &str, ip: Option<IpAddr>) -> Result<Attempt<'_>, Duration> {
        self.check(account, ip)?;
        let mut running = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        let account_key = Key::Account(account.to_string());
        if running.get(&account_key).copied().unwrap_or(0) >= 1 {
            return Err(Duration::from_secs(1));
        }
        if let Some(ip) = ip {
            if running.get(&Key::Ip(ip)).copied().unwrap_or(0) >= IP_PARALLEL {
                return Err(Duration::from_secs(1));
            }
        }
        let keys = keys(account, ip);
        for key in &keys {
            *running.entry(key.clone()).or_insert(0) += 1;
        }
        Ok(Attempt {
            throttle: self,
            keys,
        })
    }

    /// After a failed attempt: counts it, and `Err(wait)` if this failure used up the allowance.
    pub fn record_failure(&self, account: &str, ip: Option<IpAddr>) -> Result<(), Duration> {
        let mut wait = Duration::ZERO;
        let mut newly_blocked = Vec::new();
        if let Err(not_until) = self.accounts.check_key(&account.to_string()) {
            let w = not_until.wait_time_from(self.clock.now());
            newly_blocked.push((Key::Account(account.to_string()), w));
        }
        if let Some(ip) = ip {
            if let Err(not_until) = self.ips.check_key(&ip) {
                let w = not_until.wait_time_from(self.clock.now());
                newly_blocked.push((Key::Ip(ip), w));
            }
        }
        if newly_blocked.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        if blocked.len() > 100_000 {
            blocked.retain(|_, until| *until > now);
            self.accounts.retain_recent();
            self.ips.retain_recent();
        }
        for (key, w) in newly_blocked {
            blocked.insert(key, now + w);
            wait = wait.max(w);
        }
        Err(round_up(wait))
    }
}

fn keys(account: &str, ip: Option<IpAddr>) -> Vec<Key> {
    let mut k = vec![Key::Account(account.to_string())];
    k.extend(ip.map(Key::Ip));
    k
}

fn round_up(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_is_blocked_after_its_burst_and_others_are_not() {
        let t = LoginThrottle::new();
        for _ in 0..ACCOUNT_BURST {
            assert!(t.check("ada", None).is_ok());
            assert!(t.record_failure("ada", None).is_ok());
        }
        let wait = t.record_failure("ada", None).unwrap_err();
        assert!(
            wait >= Duration::from_secs(1) && wait <= ACCOUNT_REFILL,
            "{wait:?}"
        );
        assert!(t.check("ada", None).is_err());
        assert!(t.check("bob", None).is_ok());
    }

    #[test]
    fn one_check_at_a_time_per_account_and_a_few_per_address() {
        let t = LoginThrottle::new();
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        let first = t.begin("ada", Some(ip)).unwrap();
        assert!(t.begin("ada", Some("10.9.9.9".parse().unwrap())).is_err());
        let others: Vec<_> = (1..IP_PARALLEL)
            .map(|i| t.begin(&format!("user{i}"), Some(ip)).unwrap())
            .collect();
        assert!(
            t.begin("one-more", Some(ip)).is_err(),
            "address at its limit"
        );
        drop(first);
        assert!(t.begin("ada", Some("10.9.9.9".parse().unwrap())).is_ok());
        drop(others);
        assert!(
            t.in_flight.lock().unwrap().is_empty(),
            "every attempt ended"
        );
    }

    #[test]
    fn an_address_is_blocked_across_accounts() {
        let t = LoginThrottle::new();
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        for i in 0..IP_BURST {
            assert!(t.record_failure(&format!("user{i}"), Some(ip)).is_ok());
        }
        assert!(t.record_failure("another", Some(ip)).is_err());
        assert!(t.check("fresh-account", Some(ip)).is_err());
        assert!(t
            .check("fresh-account", Some("10.9.9.9".parse().unwrap()))
            .is_ok());
    }
}
