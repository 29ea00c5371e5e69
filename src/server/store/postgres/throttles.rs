//! The PostgreSQL backend's Throttles (the interface: `crate::server::store::throttles`): one
//! row of `throttles` per bucket, shared by every server on the database.
//!
//! Isolation: READ COMMITTED. A failure is one `INSERT … ON CONFLICT DO UPDATE` per bucket,
//! which PostgreSQL applies atomically to the row (the conflicting row is locked and the update
//! sees its latest version), so failures counted at once by several servers all count. A
//! transaction's buckets are taken in one order (family, then hash), so two of them never wait
//! on each other.

use super::PgStore;
use crate::server::store::throttles::{Bucket, Throttles};
use crate::server::store::StoreError;
use postgres::IsolationLevel;

/// A time or interval as the `bigint` column holds it (times beyond 2^63 ms do not occur).
fn ms(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn sorted<T: Copy>(items: &[T], key: impl Fn(&T) -> Bucket) -> Vec<(usize, T)> {
    let mut v: Vec<(usize, T)> = items.iter().copied().enumerate().collect();
    v.sort_by_key(|(_, t)| {
        let b = key(t);
        (b.family.name(), b.key_hash)
    });
    v
}

impl Throttles for PgStore {
    fn shares_throttles(&self) -> bool {
        true
    }

    fn count_failures(
        &self,
        buckets: &[(Bucket, u64)],
        now_ms: u64,
    ) -> Result<Vec<u64>, StoreError> {
        let order = sorted(buckets, |(b, _)| *b);
        self.tx(IsolationLevel::ReadCommitted, |t| {
            let mut out = vec![0u64; buckets.len()];
            for (i, (bucket, refill)) in &order {
                let row = t.query_one(
                    "INSERT INTO throttles (family, key_hash, tat_ms) VALUES ($1, $2, $3::bigint + $4::bigint) \
                     ON CONFLICT (family, key_hash) DO UPDATE \
                     SET tat_ms = greatest(throttles.tat_ms, $3::bigint) + $4::bigint \
                     RETURNING tat_ms",
                    &[
                        &bucket.family.name(),
                        &&bucket.key_hash[..],
                        &ms(now_ms),
                        &ms(*refill),
                    ],
                )?;
                out[*i] = u64::try_from(row.get::<_, i64>(0)).unwrap_or(0);
            }
            Ok(out)
        })
    }

    fn bucket_times(&self, buckets: &[Bucket]) -> Result<Vec<u64>, StoreError> {
        self.tx(IsolationLevel::ReadCommitted, |t| {
            let mut out = Vec::with_capacity(buckets.len());
            for bucket in buckets {
                let row = t.query_opt(
                    "SELECT tat_ms FROM throttles WHERE family = $1 AND key_hash = $2",
                    &[&bucket.family.name(), &&bucket.key_hash[..]],
                )?;
                out.push(row.map_or(0, |r| u64::try_from(r.get::<_, i64>(0)).unwrap_or(0)));
            }
            Ok(out)
        })
    }

    fn forget_full_buckets(&self, now_ms: u64) -> Result<u64, StoreError> {
        self.tx(IsolationLevel::ReadCommitted, |t| {
            Ok(t.execute("DELETE FROM throttles WHERE tat_ms < $1", &[&ms(now_ms)])?)
        })
    }
}
