//! Members: adding, removing, bulk adding from a list, and listing.

use crate::server::store::StoreError;

use super::*;

/// The store's operations on this area (see the contract in `store/mod.rs`).
pub trait Memberships: Send + Sync {
    /// Adds `user` to `group`; `Ok(false)` when already a member (nothing changes).
    fn add_member(
        &self,
        actor: Actor,
        group: u64,
        user: u64,
        how: JoinedHow,
    ) -> Result<bool, StoreError>;

    /// Removes `user` from `group`. Enrolments and progress stay, unless `unenrol`: then, in
    /// the same transaction, every enrolment of the user that came through this group (also in
    /// a course the group has since detached) loses that source, and those left with none end:
    /// never one given by hand, by a curriculum or by another group. Progress stays either way.
    /// Returns how many ended. Not a member: `NotFound`.
    fn remove_member(
        &self,
        actor: Actor,
        group: u64,
        user: u64,
        unenrol: bool,
    ) -> Result<u32, StoreError>;

    /// Adds many users (login names or e-mails, one per entry) to a group: each row is added,
    /// already a member, unknown or invalid, and nothing is half-applied for any row. Rows are
    /// written in transactions of [`BULK_BATCH`].
    fn bulk_add_members(
        &self,
        actor: Actor,
        group: u64,
        entries: &[(u32, String)],
    ) -> Result<BulkResult, StoreError>;

    /// Keeps `result` as `user`'s last bulk add to `group` (replacing the one before).
    fn save_bulk_result(
        &self,
        group: u64,
        user: u64,
        result: &BulkResult,
    ) -> Result<(), StoreError>;

    /// `user`'s last bulk add to `group`, if any.
    fn last_bulk_result(&self, group: u64, user: u64) -> Result<Option<BulkResult>, StoreError>;

    /// A user id by login name or e-mail (ignoring case).
    fn user_id_by_login_or_email(&self, raw: &str) -> Result<Option<u64>, StoreError>;

    /// Whether `user` is in `group`, and how they joined.
    fn membership(&self, group: u64, user: u64) -> Result<Option<MemberRecord>, StoreError>;

    /// A page (from 1) of a group's members: without a query in user-id order; with one, the
    /// members whose login, e-mail or a word of their name starts with it. Returns
    /// `(user id, membership)` pairs, the total and whether it was capped.
    fn list_members(
        &self,
        group: u64,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<MemberPage, StoreError>;

    /// The groups `user` is a member of (a deleted group whose memberships are still being
    /// swept away is not one).
    fn groups_of_user(&self, user: u64) -> Result<Vec<u64>, StoreError>;
}
