//! The groups table: paging, sorting and searching by any part of the name.

use crate::server::store::StoreError;

use super::*;

/// The store's operations on this area (see the contract in `store/mod.rs`).
pub trait GroupLists: Send + Sync {
    /// Groups in `branch` (a branch with groups cannot be deleted).
    fn groups_in_branch(&self, branch: u64) -> Result<u64, StoreError>;

    /// A page (from 1) of groups. `query` matches any part of the name, ignoring case; `sort`
    /// orders by name, member count or creation (`desc` reverses). With `only`, just those
    /// groups (a group manager's). Returns `(rows, total, total_is_capped)`.
    ///
    /// Cost, never a scan of all groups: without a query, the rows skipped and returned in an
    /// index kept in that order. With one, a prefix scan of the suffix index (the matches, up to
    /// [`MATCH_CAP`]), then sorting those; when more match than that, the sort index is walked
    /// from the start and filtered, which for so common a query takes a few entries per row.
    fn list_groups(
        &self,
        query: &str,
        sort: GroupSort,
        desc: bool,
        page: u32,
        per_page: u32,
        only: Option<&[u64]>,
    ) -> Result<(Vec<GroupRecord>, u64, bool), StoreError>;
}
