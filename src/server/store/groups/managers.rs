//! Group managers and the audit trail.

use crate::server::store::StoreError;

use super::*;

/// The store's operations on this area (see the contract in `store/mod.rs`).
pub trait GroupManagers: Send + Sync {
    /// Makes `user` a manager of `group` (`add`) or not. Changing nothing returns `Ok(false)`.
    fn set_group_manager(
        &self,
        actor: Actor,
        group: u64,
        user: u64,
        add: bool,
    ) -> Result<bool, StoreError>;

    fn group_managers(&self, group: u64) -> Result<Vec<u64>, StoreError>;

    /// The groups `user` manages.
    /// The groups `user` manages (not counting deleted ones still being swept).
    fn managed_groups(&self, user: u64) -> Result<Vec<u64>, StoreError>;

    fn manages_group(&self, user: u64, group: u64) -> Result<bool, StoreError>;

    fn manages_any_group(&self, user: u64) -> Result<bool, StoreError>;

    /// The newest `limit` audit events of a group, newest first.
    fn group_activity(
        &self,
        group: u64,
        limit: usize,
    ) -> Result<Vec<(u64, AuditRecord)>, StoreError>;
}
