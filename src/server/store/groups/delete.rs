//! Deleting a group.

use crate::server::store::StoreError;

use super::*;

/// The store's operations on this area (see the contract in `store/mod.rs`).
pub trait GroupDeletion: Send + Sync {
    /// Deletes a group in one small transaction: it disappears from every list and index at
    /// once (its name and key are free again), its course and curriculum links go, and a job is
    /// recorded that removes its memberships, managers and bulk-add reports in bounded batches
    /// afterwards (resumed after a restart; see `jobs.rs`). Users' enrolments and progress stay.
    /// Its audit trail stays too, with the deletion as its last event. Returns the job's id.
    fn delete_group(&self, actor: Actor, id: u64) -> Result<u64, StoreError>;
}
