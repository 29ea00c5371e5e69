//! Members: adding, removing, bulk adding from a list, and listing.

use crate::server::store::StoreError;

use super::*;
use crate::model::group::{BulkOutcome, BulkRow};

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

/// [`Memberships::bulk_add_members`] on any backend: refuses an unknown group (`NotFound`),
/// sorts each entry out (invalid, unknown user, or a user to add), hands the users to add to
/// `add_batch` in batches of [`BULK_BATCH`] (the backend's transaction, which returns the rows
/// it added: the others were members already, or users deleted meanwhile), and counts the
/// outcomes.
pub fn bulk_add<S: Groups + Memberships + ?Sized>(
    s: &S,
    group: u64,
    entries: &[(u32, String)],
    mut add_batch: impl FnMut(&[(usize, u64)]) -> Result<Vec<usize>, StoreError>,
) -> Result<BulkResult, StoreError> {
    s.get_group(group)?.ok_or(StoreError::NotFound("group"))?;
    let mut result = BulkResult::default();
    let mut resolved: Vec<(usize, u64)> = Vec::new();
    for (line, input) in entries {
        let outcome = if input.chars().count() > 254 || input.chars().any(char::is_control) {
            Some(BulkOutcome::Invalid(
                "not a login name or e-mail address".into(),
            ))
        } else {
            match s.user_id_by_login_or_email(input)? {
                Some(id) => {
                    resolved.push((result.rows.len(), id));
                    None
                }
                None => Some(BulkOutcome::UnknownUser),
            }
        };
        result.rows.push(BulkRow {
            line: *line,
            input: input.clone(),
            outcome: outcome.unwrap_or(BulkOutcome::AlreadyMember),
        });
    }
    for batch in resolved.chunks(BULK_BATCH) {
        for row in add_batch(batch)? {
            result.rows[row].outcome = BulkOutcome::Added;
        }
    }
    for r in &result.rows {
        match r.outcome {
            BulkOutcome::Added => result.added += 1,
            BulkOutcome::AlreadyMember => result.already += 1,
            BulkOutcome::UnknownUser => result.unknown += 1,
            BulkOutcome::Invalid(_) => result.invalid += 1,
        }
    }
    Ok(result)
}

/// The audit line of one batch of a bulk add that added `n` users.
pub fn bulk_added_detail(n: usize) -> String {
    format!("Bulk add: {n} user(s) added.")
}

/// The audit line of removing `login` from a group; with `unenrol`, `ended` enrolments the
/// group gave ended with it.
pub fn removed_detail(login: &str, unenrol: bool, ended: u32) -> String {
    if unenrol {
        format!("Removed {login}; {ended} enrolment(s) given by the group ended.")
    } else {
        format!("Removed {login}; enrolments kept.")
    }
}
