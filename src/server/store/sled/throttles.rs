//! The sled backend's Throttles (the interface: `crate::server::store::throttles`): none. One
//! process holds the directory and counts in memory (`server/throttle.rs`).

use super::SledStore;
use crate::server::store::throttles::{Bucket, Throttles};
use crate::server::store::{BackendError, StoreError};

fn not_kept() -> StoreError {
    StoreError::Backend(BackendError::Other(
        "the embedded store keeps no throttle buckets: its one server counts in memory".into(),
    ))
}

impl Throttles for SledStore {
    fn shares_throttles(&self) -> bool {
        false
    }

    fn count_failures(&self, _: &[(Bucket, u64)], _: u64) -> Result<Vec<u64>, StoreError> {
        Err(not_kept())
    }

    fn bucket_times(&self, _: &[Bucket]) -> Result<Vec<u64>, StoreError> {
        Err(not_kept())
    }

    fn forget_full_buckets(&self, _: u64) -> Result<u64, StoreError> {
        Err(not_kept())
    }
}
