//! Throttle buckets kept in the store, so that several servers on one database count failed
//! logins, refused sign-ups and wrong group keys together (`server/throttle.rs` decides what is
//! counted and what is refused; this area only keeps the counts).
//!
//! A bucket is the generic cell rate algorithm's one number, its "theoretical arrival time"
//! (`tat_ms`): a failure moves it to `max(tat, now) + refill`, and a bucket holds
//! `(tat - now) / refill` failures not yet refilled. That is the token bucket `governor` keeps
//! in memory on one server (a burst, then one more per refill), so one school sees the same
//! allowances on one server or on several.
//!
//! The embedded store is opened by one process, which counts in memory: it keeps no buckets
//! ([`Throttles::shares_throttles`] is false) and the other operations are not called on it.

use crate::server::store::StoreError;

/// Which allowance a bucket draws on (the constants of `server/throttle.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThrottleFamily {
    LoginAccount,
    LoginDevice,
    LoginIp,
    SignupName,
    SignupIp,
    KeyUser,
    KeyIp,
}

impl ThrottleFamily {
    /// The family's name as the store keeps it.
    pub fn name(self) -> &'static str {
        match self {
            ThrottleFamily::LoginAccount => "login_account",
            ThrottleFamily::LoginDevice => "login_device",
            ThrottleFamily::LoginIp => "login_ip",
            ThrottleFamily::SignupName => "signup_name",
            ThrottleFamily::SignupIp => "signup_ip",
            ThrottleFamily::KeyUser => "key_user",
            ThrottleFamily::KeyIp => "key_ip",
        }
    }
}

/// One bucket: its family and a hash of its key (a folded login name, an address group, a
/// device nonce). Only equality matters, so the store keeps no list of what was tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bucket {
    pub family: ThrottleFamily,
    pub key_hash: [u8; 32],
}

impl Bucket {
    /// The bucket of `key` in `family`.
    pub fn new(family: ThrottleFamily, key: &str) -> Bucket {
        Bucket {
            family,
            key_hash: super::codec::secret_key(key.as_bytes()),
        }
    }
}

/// The store's operations on this area (see the contract in `store/mod.rs`).
pub trait Throttles: Send + Sync {
    /// Whether the store keeps throttle buckets (shared by every server on it). When it does
    /// not, the server counts in memory and calls nothing else here.
    fn shares_throttles(&self) -> bool;

    /// Counts one failure in each of `buckets` at `now_ms`, each with its refill interval:
    /// `tat = max(tat, now) + refill_ms`, atomically per bucket under any number of servers.
    /// Returns the new `tat_ms` of each, in order.
    fn count_failures(
        &self,
        buckets: &[(Bucket, u64)],
        now_ms: u64,
    ) -> Result<Vec<u64>, StoreError>;

    /// The `tat_ms` of each of `buckets` (0 for one that never failed), in order.
    fn bucket_times(&self, buckets: &[Bucket]) -> Result<Vec<u64>, StoreError>;

    /// Forgets buckets whose time has passed before `now_ms` (they are full again); returns
    /// how many.
    fn forget_full_buckets(&self, now_ms: u64) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::tests::temp_store;

    #[test]
    fn failures_add_up_across_handles_and_full_buckets_are_forgotten() {
        let (_place, store) = temp_store();
        if !store.shares_throttles() {
            return;
        }
        // Two handles on one store stand for two servers on one database.
        let (a, b) = (store.clone(), store.clone());
        let alice = Bucket::new(ThrottleFamily::LoginAccount, "alice");
        let ip = Bucket::new(ThrottleFamily::LoginIp, "192.0.2.7");
        let now = 1_000_000;
        assert_eq!(a.bucket_times(&[alice, ip]).unwrap(), vec![0, 0]);
        assert_eq!(
            a.count_failures(&[(alice, 60_000), (ip, 6_000)], now)
                .unwrap(),
            vec![now + 60_000, now + 6_000]
        );
        // The second server's failures start from the first's.
        assert_eq!(
            b.count_failures(&[(alice, 60_000)], now + 1).unwrap(),
            vec![now + 120_000]
        );
        assert_eq!(
            b.bucket_times(&[alice, ip]).unwrap(),
            vec![now + 120_000, now + 6_000]
        );
        // A bucket whose time has passed starts again from now.
        assert_eq!(
            a.count_failures(&[(ip, 6_000)], now + 50_000).unwrap(),
            vec![now + 56_000]
        );
        // Families keep their own buckets for the same text.
        let key_user = Bucket::new(ThrottleFamily::KeyUser, "alice");
        assert_eq!(a.bucket_times(&[key_user]).unwrap(), vec![0]);
        assert_eq!(a.forget_full_buckets(now + 60_000).unwrap(), 1);
        assert_eq!(
            a.bucket_times(&[alice, ip]).unwrap(),
            vec![now + 120_000, 0]
        );
    }

    #[test]
    fn concurrent_failures_on_one_bucket_are_each_counted() {
        let (_place, store) = temp_store();
        if !store.shares_throttles() {
            return;
        }
        let bucket = Bucket::new(ThrottleFamily::KeyIp, "198.51.100.1");
        let now = 5_000_000;
        std::thread::scope(|s| {
            for _ in 0..8 {
                let store = store.clone();
                s.spawn(move || {
                    for _ in 0..5 {
                        store.count_failures(&[(bucket, 1_000)], now).unwrap();
                    }
                });
            }
        });
        assert_eq!(
            store.bucket_times(&[bucket]).unwrap(),
            vec![now + 40 * 1_000]
        );
    }
}
