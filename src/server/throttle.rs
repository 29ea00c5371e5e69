//! Throttling of failed logins, per account and per client address, and of wrong group keys,
//! per user and per client address (the same machinery with its own allowances), and of
//! sign-ups refused because the login name or e-mail is taken.
//!
//! governor counts failures with a token bucket per key (a burst, then a steady refill). Once a
//! key runs dry it is blocked until the bucket has a token again, and every attempt in that time
//! is refused before any password is checked, so guessing in parallel gains nothing.
//!
//! A blocked account would also keep its owner out for as long as anyone keeps failing on it.
//! So a browser that signed in to the account before carries a signed device cookie
//! ([`DeviceCookies`], the OWASP "device cookie" scheme) and draws on its own small bucket
//! instead of the account's; every other client stays under the account's limit, wherever it
//! comes from.
//!
//! Addresses are counted as [`address_group`]s: an IPv6 client usually holds a whole /64 and
//! may use any address in it.
//!
//! Several servers on one database ([`LoginThrottle::share_through`]) count in the database
//! instead (`store/throttles.rs`: the same token bucket, kept as one number per bucket), so a
//! guesser gains nothing by spreading requests over the servers: every failure on any of them
//! draws on the one allowance. The servers' clocks are compared there, so they must agree (NTP)
//! to within a fraction of the shortest refill (6 s). What stays per server: the limit on
//! password checks running at once ([`LoginThrottle::begin`]), so with N servers a guesser has
//! at most N checks running on one account before the first failure is counted.

use super::store::throttles::{Bucket, ThrottleFamily};
use super::store_cell::StoreCell;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts allowed in a burst for one account, then one more per `ACCOUNT_REFILL`.
pub const ACCOUNT_BURST: u32 = 5;
pub const ACCOUNT_REFILL: Duration = Duration::from_secs(60);
/// The same for one client address (which may hide many honest users behind a NAT).
pub const IP_BURST: u32 = 20;
pub const IP_REFILL: Duration = Duration::from_secs(6);
/// The same for one device cookie (a browser that signed in to the account before).
pub const DEVICE_BURST: u32 = 5;
pub const DEVICE_REFILL: Duration = Duration::from_secs(60);

/// Sign-ups refused because the login name or e-mail is taken (each such answer tells whether
/// an account exists): per client address, then one more per `SIGNUP_IP_REFILL`.
pub const SIGNUP_IP_BURST: u32 = 10;
pub const SIGNUP_IP_REFILL: Duration = Duration::from_secs(30);
/// The same per login name tried.
pub const SIGNUP_NAME_BURST: u32 = 5;
pub const SIGNUP_NAME_REFILL: Duration = Duration::from_secs(60);

/// A client address as the throttles count it: an IPv4 address as it is (an IPv4-mapped IPv6
/// address as its IPv4), an IPv6 address as its /64 network, which one subscriber usually
/// holds whole.
pub fn address_group(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Whose allowance an attempt draws on (besides its client address's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    /// The account's (or for group keys, the user's) bucket: every client without a device
    /// cookie for the account.
    Account(&'a str),
    /// A browser's device cookie for the account, by its nonce (see [`DeviceCookies`]).
    Device(&'a str),
}

impl<'a> From<&'a str> for Subject<'a> {
    fn from(account: &'a str) -> Self {
        Subject::Account(account)
    }
}

impl<'a> From<&'a String> for Subject<'a> {
    fn from(account: &'a String) -> Self {
        Subject::Account(account)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Device(String),
    /// An [`address_group`].
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
    /// Where the buckets are, and their allowances: burst and refill per kind of key.
    families: [(ThrottleFamily, u32, Duration); 3],
    /// The store the buckets are kept in, when it keeps them (several servers).
    shared: std::sync::OnceLock<StoreCell>,
    accounts: DefaultKeyedRateLimiter<String>,
    devices: DefaultKeyedRateLimiter<String>,
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

    /// The throttle of sign-ups refused because the login name or e-mail is taken (accounts
    /// are the login names tried).
    pub fn for_signups() -> Self {
        Self::in_families(
            [ThrottleFamily::SignupName, ThrottleFamily::SignupIp],
            (SIGNUP_NAME_BURST, SIGNUP_NAME_REFILL),
            (SIGNUP_IP_BURST, SIGNUP_IP_REFILL),
        )
    }

    /// The throttle of wrong group keys (accounts are users here).
    pub fn for_group_keys() -> Self {
        Self::in_families(
            [ThrottleFamily::KeyUser, ThrottleFamily::KeyIp],
            (KEY_USER_BURST, KEY_USER_REFILL),
            (KEY_IP_BURST, KEY_IP_REFILL),
        )
    }

    /// A login throttle allowing `(burst, one more per refill)` failures per account and per
    /// address (tests use short ones).
    pub fn with_allowances(account: (u32, Duration), ip: (u32, Duration)) -> Self {
        Self::in_families(
            [ThrottleFamily::LoginAccount, ThrottleFamily::LoginIp],
            account,
            ip,
        )
    }

    /// Counts from now on in the buckets `storage`'s store keeps, when it keeps them (several
    /// servers on one database, see the module text); otherwise keeps counting in memory.
    pub fn share_through(&self, storage: &StoreCell) {
        if storage.store().is_ok_and(|s| s.shares_throttles()) {
            let _ = self.shared.set(storage.clone());
        }
    }

    fn in_families(
        [account_family, ip_family]: [ThrottleFamily; 2],
        account: (u32, Duration),
        ip: (u32, Duration),
    ) -> Self {
        LoginThrottle {
            families: [
                (account_family, account.0, account.1),
                // Device cookies are the login throttle's alone; the others never see one.
                (ThrottleFamily::LoginDevice, DEVICE_BURST, DEVICE_REFILL),
                (ip_family, ip.0, ip.1),
            ],
            shared: std::sync::OnceLock::new(),
            accounts: RateLimiter::keyed(quota(account.0, account.1)),
            devices: RateLimiter::keyed(quota(DEVICE_BURST, DEVICE_REFILL)),
            ips: RateLimiter::keyed(quota(ip.0, ip.1)),
            blocked: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            clock: DefaultClock::default(),
        }
    }

    /// Before checking a password: `Err(wait)` while the subject (account or device cookie) or
    /// the address is blocked. An account's bucket is the same for its login name and its
    /// e-mail when it exists, the folded text typed when it does not.
    pub fn check<'a>(
        &self,
        who: impl Into<Subject<'a>>,
        ip: Option<IpAddr>,
    ) -> Result<(), Duration> {
        let who = who.into();
        let now = Instant::now();
        let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = Duration::ZERO;
        for key in keys(who, ip) {
            match blocked.get(&key) {
                Some(until) if *until > now => wait = wait.max(*until - now),
                Some(_) => {
                    blocked.remove(&key);
                }
                None => {}
            }
        }
        drop(blocked);
        if let Some(storage) = self.shared.get() {
            wait = wait.max(self.shared_wait(storage, who, ip, false));
        }
        if wait.is_zero() {
            Ok(())
        } else {
            Err(round_up(wait))
        }
    }

    /// The bucket, burst and refill of `key`.
    fn allowance(&self, key: &Key) -> (Bucket, u32, Duration) {
        let (family, burst, refill, text) = match key {
            Key::Account(a) => {
                let (f, b, r) = self.families[0];
                (f, b, r, a.clone())
            }
            Key::Device(d) => {
                let (f, b, r) = self.families[1];
                (f, b, r, d.clone())
            }
            Key::Ip(ip) => {
                let (f, b, r) = self.families[2];
                (f, b, r, ip.to_string())
            }
        };
        (Bucket::new(family, &text), burst, refill)
    }

    /// With the buckets in the store: how long the subject or the address is blocked (zero
    /// when neither is), after counting one failure when `fail`. A store that cannot be
    /// reached counts nothing (logged) and blocks nothing: the login it guards cannot
    /// succeed without the store either.
    fn shared_wait(
        &self,
        storage: &StoreCell,
        who: Subject<'_>,
        ip: Option<IpAddr>,
        fail: bool,
    ) -> Duration {
        let allowances: Vec<_> = keys(who, ip).iter().map(|k| self.allowance(k)).collect();
        let now = crate::server::store::now_ms();
        let times = crate::server::state::off_the_worker(|| {
            let store = storage.store().map_err(|e| e.to_string())?;
            if fail {
                let spend: Vec<_> = allowances
                    .iter()
                    .map(|(b, _, refill)| (*b, refill.as_millis() as u64))
                    .collect();
                store.count_failures(&spend, now)
            } else {
                let buckets: Vec<_> = allowances.iter().map(|(b, _, _)| *b).collect();
                store.bucket_times(&buckets)
            }
            .map_err(|e| e.to_string())
        });
        let times = match times {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "the shared throttle could not be read or counted");
                return Duration::ZERO;
            }
        };
        // A bucket holds (tat - now) / refill failures not yet refilled; beyond its burst the
        // key is blocked until enough have refilled.
        let mut wait = 0u64;
        for ((_, burst, refill), tat) in allowances.iter().zip(times) {
            let allowed = now + u64::from(*burst) * refill.as_millis() as u64;
            wait = wait.max(tat.saturating_sub(allowed));
        }
        Duration::from_millis(wait)
    }

    /// Before checking a password: like [`LoginThrottle::check`], and also refuses (for a
    /// second) a second attempt on a subject whose first is still being checked, or more than
    /// [`IP_PARALLEL`] at once from one address group. Failures are counted when a check ends,
    /// so without this, guesses sent in parallel would all be checked before the first counted.
    pub fn begin<'a>(
        &self,
        who: impl Into<Subject<'a>>,
        ip: Option<IpAddr>,
    ) -> Result<Attempt<'_>, Duration> {
        let who = who.into();
        self.check(who, ip)?;
        let mut running = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if running.get(&subject_key(who)).copied().unwrap_or(0) >= 1 {
            return Err(Duration::from_secs(1));
        }
        if let Some(ip) = ip {
            let group = Key::Ip(address_group(ip));
            if running.get(&group).copied().unwrap_or(0) >= IP_PARALLEL {
                return Err(Duration::from_secs(1));
            }
        }
        let keys = keys(who, ip);
        for key in &keys {
            *running.entry(key.clone()).or_insert(0) += 1;
        }
        Ok(Attempt {
            throttle: self,
            keys,
        })
    }

    /// After a failed attempt: counts it, and `Err(wait)` if this failure used up the allowance.
    pub fn record_failure<'a>(
        &self,
        who: impl Into<Subject<'a>>,
        ip: Option<IpAddr>,
    ) -> Result<(), Duration> {
        let who = who.into();
        if let Some(storage) = self.shared.get() {
            let wait = self.shared_wait(storage, who, ip, true);
            return if wait.is_zero() {
                Ok(())
            } else {
                Err(round_up(wait))
            };
        }
        let mut wait = Duration::ZERO;
        let mut newly_blocked = Vec::new();
        let (limiter, name) = match who {
            Subject::Account(a) => (&self.accounts, a),
            Subject::Device(d) => (&self.devices, d),
        };
        if let Err(not_until) = limiter.check_key(&name.to_string()) {
            let w = not_until.wait_time_from(self.clock.now());
            newly_blocked.push((subject_key(who), w));
        }
        if let Some(ip) = ip.map(address_group) {
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
            self.devices.retain_recent();
            self.ips.retain_recent();
        }
        for (key, w) in newly_blocked {
            blocked.insert(key, now + w);
            wait = wait.max(w);
        }
        Err(round_up(wait))
    }
}

fn subject_key(who: Subject<'_>) -> Key {
    match who {
        Subject::Account(a) => Key::Account(a.to_string()),
        Subject::Device(d) => Key::Device(d.to_string()),
    }
}

fn keys(who: Subject<'_>, ip: Option<IpAddr>) -> Vec<Key> {
    let mut k = vec![subject_key(who)];
    k.extend(ip.map(|ip| Key::Ip(address_group(ip))));
    k
}

fn round_up(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(Duration::from_secs(1))
}

/// Name of the device cookie.
pub const DEVICE_COOKIE: &str = "tessera_device";
/// How long a device cookie is honoured after the sign-in that issued it (180 days).
pub const DEVICE_COOKIE_LIFETIME: Duration = Duration::from_secs(180 * 24 * 60 * 60);

/// Issues and reads device cookies: `<user id>.<expiry, Unix seconds>.<nonce>.<signature>`,
/// signed with a key derived from the server's secret. The nonce names the cookie's own
/// throttle bucket; a cookie that is forged, altered, expired or for another account is no
/// device cookie at all.
#[derive(Clone)]
pub struct DeviceCookies {
    key: [u8; 32],
}

impl DeviceCookies {
    /// Device cookies signed with the key derived from `secret` for this purpose alone.
    pub fn new(secret: &[u8; 32]) -> Self {
        DeviceCookies {
            key: super::signing::derive_key(secret, "device cookies"),
        }
    }

    fn signature(&self, user: &str, expires: &str, nonce: &str) -> String {
        super::signing::mac_hex(
            &self.key,
            &[user.as_bytes(), expires.as_bytes(), nonce.as_bytes()],
        )
    }

    /// A new device cookie value for `user`, valid for [`DEVICE_COOKIE_LIFETIME`] from `now`
    /// (Unix seconds), with a fresh nonce.
    pub fn issue(&self, user: u64, now: i64) -> String {
        let expires = now.saturating_add(DEVICE_COOKIE_LIFETIME.as_secs() as i64);
        let (user, expires, nonce) = (
            user.to_string(),
            expires.to_string(),
            super::signing::random_hex(),
        );
        let sig = self.signature(&user, &expires, &nonce);
        format!("{user}.{expires}.{nonce}.{sig}")
    }

    /// The throttle bucket (the nonce) of a cookie value that is a genuine, unexpired device
    /// cookie for `user` at `now`; `None` for anything else.
    pub fn bucket(&self, cookie: Option<&str>, user: u64, now: i64) -> Option<String> {
        let mut parts = cookie?.split('.');
        let (uid, expires, nonce, sig) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || nonce.len() != 32 {
            return None;
        }
        let genuine = super::signing::same_signature(sig, &self.signature(uid, expires, nonce));
        let alive = expires.parse::<i64>().is_ok_and(|e| e > now);
        (genuine && alive && uid.parse::<u64>().ok() == Some(user)).then(|| nonce.to_string())
    }
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

    #[test]
    fn servers_on_one_database_share_one_allowance() {
        let Some((_db, pg)) = crate::server::store::postgres::tests::temp_pg_store() else {
            return;
        };
        let store = crate::server::store::Store::new(pg);
        // Two servers: each its own throttles and store cell, one database.
        let servers: Vec<(LoginThrottle, LoginThrottle)> = (0..2)
            .map(|_| {
                let cell = StoreCell::new(store.clone(), Duration::from_secs(1));
                let (login, keys) = (LoginThrottle::new(), LoginThrottle::for_group_keys());
                login.share_through(&cell);
                keys.share_through(&cell);
                (login, keys)
            })
            .collect();
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        // A guesser alternating between the servers gets one account's allowance in all, as
        // on one server: the burst, then a block both servers apply.
        for i in 0..ACCOUNT_BURST as usize {
            let (login, _) = &servers[i % 2];
            assert!(login.check("ada", Some(ip)).is_ok(), "attempt {i}");
            assert!(login.record_failure("ada", Some(ip)).is_ok(), "failure {i}");
        }
        assert!(servers[1].0.check("ada", Some(ip)).is_ok());
        let wait = servers[1].0.record_failure("ada", Some(ip)).unwrap_err();
        assert!(
            wait >= Duration::from_secs(1) && wait <= ACCOUNT_REFILL,
            "{wait:?}"
        );
        for (login, _) in &servers {
            assert!(login.check("ada", None).is_err());
            assert!(login.check("bob", None).is_ok());
        }
        // Wrong group keys count in buckets of their own: the same user is not blocked there.
        assert!(servers[0].1.check("ada", None).is_ok());
        // An address is blocked across accounts and servers.
        let other: IpAddr = "192.0.2.9".parse().unwrap();
        for i in 0..IP_BURST as usize {
            let (login, _) = &servers[i % 2];
            assert!(login
                .record_failure(&format!("user{i}"), Some(other))
                .is_ok());
        }
        assert!(servers[0].0.record_failure("x", Some(other)).is_err());
        assert!(servers[1].0.check("fresh", Some(other)).is_err());
        // Without the database the two servers would each have allowed a full burst.
        let (a, b) = (LoginThrottle::new(), LoginThrottle::new());
        for _ in 0..ACCOUNT_BURST {
            assert!(a.record_failure("cy", None).is_ok());
        }
        assert!(b.record_failure("cy", None).is_ok());
    }

    fn lock_account(t: &LoginThrottle, account: &str) {
        for _ in 0..ACCOUNT_BURST {
            assert!(t.record_failure(account, None).is_ok());
        }
        assert!(t.record_failure(account, None).is_err());
    }

    #[test]
    fn a_device_cookie_has_its_own_bucket_apart_from_its_account() {
        let t = LoginThrottle::new();
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        lock_account(&t, "user:1");
        assert!(t.check("user:1", Some(ip)).is_err(), "account locked");
        let device = Subject::Device("0123456789abcdef0123456789abcdef");
        assert!(
            t.check(device, Some(ip)).is_ok(),
            "the owner's browser is not"
        );
        assert!(t.begin(device, Some(ip)).is_ok());
        // The device's own failures lock it, and neither the account's bucket...
        for _ in 0..DEVICE_BURST {
            assert!(t.record_failure(device, None).is_ok());
        }
        assert!(t.record_failure(device, None).is_err());
        assert!(t.check(device, None).is_err(), "device locked");
        // ...nor another device of the same account.
        assert!(t.check(Subject::Device("ffff"), None).is_ok());
        let fresh = LoginThrottle::new();
        for _ in 0..DEVICE_BURST + 1 {
            let _ = fresh.record_failure(Subject::Device("abc"), None);
        }
        assert!(fresh.check("user:1", None).is_ok(), "account untouched");
    }

    #[test]
    fn only_a_genuine_unexpired_device_cookie_for_this_account_counts() {
        let cookies = DeviceCookies::new(&[3u8; 32]);
        let now = 1_800_000_000;
        let value = cookies.issue(7, now);
        let bucket = cookies.bucket(Some(&value), 7, now).expect("genuine");
        assert_eq!(bucket.len(), 32);
        assert_ne!(
            cookies.bucket(Some(&cookies.issue(7, now)), 7, now),
            Some(bucket),
            "each sign-in a new nonce"
        );
        // Another account's cookie, a forged one, an altered one, one signed with another
        // server secret, an expired one, garbage: no device cookie.
        assert_eq!(cookies.bucket(Some(&value), 8, now), None);
        let parts: Vec<&str> = value.split('.').collect();
        let other_user = format!("8.{}.{}.{}", parts[1], parts[2], parts[3]);
        assert_eq!(cookies.bucket(Some(&other_user), 8, now), None);
        let forged = format!("7.{}.{}.{}", parts[1], parts[2], "0".repeat(32));
        assert_eq!(cookies.bucket(Some(&forged), 7, now), None);
        let later = format!("7.{}.{}.{}", i64::MAX, parts[2], parts[3]);
        assert_eq!(cookies.bucket(Some(&later), 7, now), None);
        let elsewhere = DeviceCookies::new(&[4u8; 32]);
        assert_eq!(elsewhere.bucket(Some(&value), 7, now), None);
        let expires = now + DEVICE_COOKIE_LIFETIME.as_secs() as i64;
        assert_eq!(cookies.bucket(Some(&value), 7, expires), None);
        assert!(cookies.bucket(Some(&value), 7, expires - 1).is_some());
        for junk in ["", "7", "7...", "a.b.c.d", &format!("{value}.x")] {
            assert_eq!(cookies.bucket(Some(junk), 7, now), None, "{junk}");
        }
        assert_eq!(cookies.bucket(None, 7, now), None);
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_and_mapped_ones_as_ipv4() {
        let group = |s: &str| address_group(s.parse().unwrap());
        assert_eq!(group("2001:db8:1:2:aaaa::1"), group("2001:db8:1:2::ffff:9"));
        assert_ne!(group("2001:db8:1:2::1"), group("2001:db8:1:3::1"));
        assert_eq!(group("::ffff:10.1.2.3"), group("10.1.2.3"));
        assert_ne!(group("10.1.2.3"), group("10.1.2.4"));
        // One attacker with one /64 runs out of the address allowance however many addresses
        // of it they use...
        let t = LoginThrottle::new();
        for i in 0..IP_BURST {
            let ip: IpAddr = format!("2001:db8:1:2::{:x}", i + 1).parse().unwrap();
            assert!(t.record_failure(&format!("user{i}"), Some(ip)).is_ok());
        }
        let other: IpAddr = "2001:db8:1:2:ffff::77".parse().unwrap();
        assert!(t.record_failure("another", Some(other)).is_err());
        assert!(t.check("fresh", Some(other)).is_err());
        assert!(t
            .check("fresh", Some("2001:db8:1:3::1".parse().unwrap()))
            .is_ok());
        // ...and of parallel checks; a mapped address is its IPv4 address.
        let t = LoginThrottle::new();
        let held: Vec<_> = (0..IP_PARALLEL)
            .map(|i| {
                let ip: IpAddr = format!("2001:db8::{:x}", i + 1).parse().unwrap();
                t.begin(&format!("u{i}"), Some(ip)).unwrap()
            })
            .collect();
        assert!(t
            .begin("u-next", Some("2001:db8::ff:1".parse().unwrap()))
            .is_err());
        let v4 = LoginThrottle::new();
        let _held4: Vec<_> = (0..IP_PARALLEL)
            .map(|i| {
                v4.begin(&format!("u{i}"), Some("10.0.0.1".parse().unwrap()))
                    .unwrap()
            })
            .collect();
        assert!(v4
            .begin("u-next", Some("::ffff:10.0.0.1".parse().unwrap()))
            .is_err());
        drop(held);
    }
}
