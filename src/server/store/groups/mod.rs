//! Groups: records, their members, courses, curricula and managers, the default group, keys,
//! and the audit trail of what was done to them.
//!
//! Trees:
//! - `groups`: group id → [`GroupRecord`] (with its member / course / curriculum counts and
//!   key uses, changed in the same transaction as the records they count).
//! - `group_name`: folded name → group id (uniqueness, name order).
//! - `group_suffix`: each suffix of the folded name (cut to [`SUFFIX_MAX`] characters), `0x00`,
//!   group id → nothing. A substring of a name is a prefix of one of its suffixes, so a prefix
//!   scan finds exactly the groups containing a query, at a cost of the matches, never a scan
//!   of all groups (see [`Store::list_groups`]).
//! - `group_by_members`: member count (8 bytes BE) ++ group id → nothing (sort by members).
//! - `group_key`: folded key → group id (keys are unique across groups).
//! - `group_members`: group id ++ user id → [`MemberRecord`]; `user_groups`: user id ++ group id.
//! - `group_links`: group id → [`GroupLinksRecord`] (its courses and curricula, in order);
//!   `course_groups` / `curriculum_groups`: target id ++ group id (the reverse), see `links.rs`.
//! - `group_managers` / `manager_groups`: group id ++ user id / user id ++ group id.
//! - `bulk_results`: group id ++ user id → the [`BulkResultRecord`] of that admin's last bulk add to
//!   that group (so its per-row report survives the page load that follows the form).
//! - `audit`: group id ++ event id → [`AuditRecord`] (newest last; every event names a group,
//!   kept after the group is deleted); indexed across groups in `audit_index` (`audit.rs`).
//! - `key_redemptions`: group id ++ event id → [`keys::RedemptionRecord`] (who joined with the
//!   group's key, which key, when, from where).
//! - `meta`: `default_group` → group id; `count/groups`; `count/branch_groups/<branch id>`.

use crate::server::store::StoreError;

use super::codec::fold;
use super::courses::CourseRecord;

use crate::model::group::{BulkResult, GroupSort, JoinedHow, KeySettings, KEY_ALPHABET};

mod records;

pub use records::*;

/// Longest suffix indexed; longer queries are checked against the name.
pub const SUFFIX_MAX: usize = 32;

/// A name search collects at most this many matching groups; beyond it the table says "more
/// than" and pages through its sort index instead.
pub const MATCH_CAP: usize = 1_000;

/// The validated fields of the add / edit group form.
#[derive(Debug, Clone)]
pub struct GroupFields {
    pub name: String,
    pub description: String,
    pub branch: Option<u64>,
    pub key: KeySettings,
    pub is_default: bool,
}

/// What a membership change is about: who did it and when.
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    pub user: u64,
    pub now: u64,
}

/// A page of members: `(user id, membership)` rows, the total and whether it was capped.
pub type MemberPage = (Vec<(u64, MemberRecord)>, u64, bool);

/// The suffixes a name is found by (folded, each cut to [`SUFFIX_MAX`] characters).
pub fn suffixes(name: &str) -> Vec<String> {
    let chars: Vec<char> = fold(name).chars().collect();
    let mut out: Vec<String> = (0..chars.len())
        .map(|i| chars[i..].iter().take(SUFFIX_MAX).collect())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A fresh random key of 12 characters in three blocks, from [`KEY_ALPHABET`]. The form's
/// Generate puts it in the key field, where it is saved as a typed key, so it is drawn again
/// in the rare case (about 1 in 4,600) that it looks guessable to
/// [`crate::model::group::typed_key_problem`].
pub fn random_key() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    loop {
        let mut key = String::with_capacity(14);
        for i in 0..12 {
            if i > 0 && i % 4 == 0 {
                key.push('-');
            }
            key.push(KEY_ALPHABET[rng.gen_range(0..KEY_ALPHABET.len())] as char);
        }
        if crate::model::group::typed_key_problem(&key).is_none() {
            return key;
        }
    }
}

pub mod delete;

pub mod keys;

pub mod links;

pub mod list;

pub mod managers;

pub mod members;

pub mod save;

pub mod views;

pub use links::LinkKind;

pub use views::{GroupQuery, RowPage};

/// The store's operations on this area (see the contract in `store/mod.rs`).
pub trait Groups: Send + Sync {
    fn get_group(&self, id: u64) -> Result<Option<GroupRecord>, StoreError>;

    /// Number of groups.
    fn group_count(&self) -> Result<u64, StoreError>;

    /// The default group, if one is set.
    fn default_group(&self) -> Result<Option<u64>, StoreError>;

    /// A free random key (not held by any group).
    fn generate_group_key(&self) -> Result<String, StoreError>;
}

/// Members a bulk add writes per transaction, and so per `MembersAdded` audit event: each
/// transaction stays short, whatever the size of the list.
pub const BULK_BATCH: usize = 500;

#[cfg(test)]
pub(crate) mod tests;
