//! Creating and editing groups: name, description, branch, key options and the default flag.

use crate::server::store::StoreError;

use super::*;

/// The store's operations on this area (see the contract in `store/mod.rs`).
pub trait GroupEdits: Send + Sync {
    /// Creates a group. Returns it and the group that stopped being the default, if this one
    /// became it. Name and key must be unused (ignoring case); the branch must exist.
    fn create_group(
        &self,
        actor: Actor,
        f: &GroupFields,
    ) -> Result<(GroupRecord, Option<(u64, String)>), StoreError>;

    /// [`Store::create_group`] with the group's settings beyond the fields: whether its
    /// managers may regenerate its key.
    fn create_group_with(
        &self,
        actor: Actor,
        f: &GroupFields,
        managers_regenerate_key: bool,
    ) -> Result<(GroupRecord, Option<(u64, String)>), StoreError>;

    /// [`Store::update_group`] that also sets whether the group's managers may regenerate its
    /// key (`update_group` leaves that as it is).
    fn update_group_with(
        &self,
        actor: Actor,
        id: u64,
        f: &GroupFields,
        managers_regenerate_key: bool,
    ) -> Result<(GroupRecord, Option<(u64, String)>), StoreError>;

    /// Changes a group's fields (name, description, branch, key options, default flag). A new
    /// key text starts its use count again; memberships are untouched.
    fn update_group(
        &self,
        actor: Actor,
        id: u64,
        f: &GroupFields,
    ) -> Result<(GroupRecord, Option<(u64, String)>), StoreError>;
}
