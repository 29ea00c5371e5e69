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

use super::codec::{self, fold, id_key, read_id};
use super::courses::CourseRecord;
use super::curricula::CurriculumRecord;
use super::enrolments::{pair_key, CourseDeltas, EnrolTrees};
use super::users::UserRecord;
use super::{abort, bump_counter, counter_key, read_counter, search, Store, StoreError};
use crate::model::group::{
    fold_key, AuditAction, BulkOutcome, BulkResult, BulkRow, GroupSort, JoinedHow, KeySettings,
    KEY_ALPHABET,
};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;
use std::collections::HashSet;

mod records;
pub use records::*;

const DEFAULT_GROUP: &[u8] = b"default_group";
const COUNT_GROUPS: &str = "groups";
/// Longest suffix indexed; longer queries are checked against the name.
pub const SUFFIX_MAX: usize = 32;
/// A name search collects at most this many matching groups; beyond it the table says "more
/// than" and pages through its sort index instead.
pub const MATCH_CAP: usize = 1_000;
/// Rows of a bulk add written per transaction (sled transactions hold a global lock).
const BULK_BATCH: usize = 500;

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

type Tx<T> = Result<T, ConflictableTransactionError<StoreError>>;

/// A page of members: `(user id, membership)` rows, the total and whether it was capped.
pub type MemberPage = (Vec<(u64, MemberRecord)>, u64, bool);

pub(crate) fn branch_counter(branch: u64) -> String {
    format!("branch_groups/{branch}")
}

/// `group_by_members` key: member count ++ group id.
fn members_key(members: u64, group: u64) -> [u8; 16] {
    pair_key(members, group)
}

/// `group_suffix` key: suffix, `0x00`, group id.
fn suffix_key(suffix: &str, id: u64) -> Vec<u8> {
    search::key(suffix, id)
}

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

pub(crate) fn tx_get(groups: &TransactionalTree, id: u64) -> Tx<GroupRecord> {
    let key = id_key(id);
    match groups.get(key)? {
        Some(b) => codec::decode(&key, &b).or_else(abort),
        None => abort(StoreError::NotFound("group")),
    }
}

fn tx_put(groups: &TransactionalTree, rec: &GroupRecord) -> Tx<()> {
    groups.insert(&id_key(rec.id), codec::encode(rec).or_else(abort)?)?;
    Ok(())
}

/// The trees an audit event is written to: the trail and its index (`store/audit.rs`).
#[derive(Clone, Copy)]
pub(crate) struct AuditTrees<'a> {
    pub trail: &'a TransactionalTree,
    pub index: &'a TransactionalTree,
}

/// Appends an audit event and its index entries (its id was drawn before the transaction:
/// closures may re-run).
pub(crate) fn tx_audit(
    audit: AuditTrees<'_>,
    group: u64,
    event: u64,
    actor: Actor,
    action: AuditAction,
    detail: String,
) -> Tx<()> {
    let rec = AuditRecord {
        at: actor.now,
        actor: actor.user,
        action: action.into(),
        detail,
    };
    audit
        .trail
        .insert(&pair_key(group, event), codec::encode(&rec).or_else(abort)?)?;
    super::audit::tx_index(audit.index, group, event, &rec)
}

/// Moves a group's entry in `group_by_members` from `old` to its current count.
fn tx_members_moved(by_members: &TransactionalTree, rec: &GroupRecord, old: u64) -> Tx<()> {
    if old != rec.members {
        by_members.remove(&members_key(old, rec.id))?;
        by_members.insert(&members_key(rec.members, rec.id), &[])?;
    }
    Ok(())
}

/// A user's login name (audit details name people, not ids); `NotFound` when there is none.
fn tx_user_login(users: &TransactionalTree, user: u64) -> Tx<String> {
    let key = id_key(user);
    match users.get(key)? {
        Some(b) => codec::decode::<UserRecord>(&key, &b)
            .map(|u| u.login)
            .or_else(abort),
        None => abort(StoreError::NotFound("user")),
    }
}

/// Adds a membership unless there is one; `Ok(true)` when new. The caller writes `rec`.
fn tx_join(
    members: &TransactionalTree,
    user_groups: &TransactionalTree,
    rec: &mut GroupRecord,
    user: u64,
    how: JoinedHow,
    now: u64,
) -> Tx<bool> {
    let key = pair_key(rec.id, user);
    if members.get(key)?.is_some() {
        return Ok(false);
    }
    let m = MemberRecord {
        joined_at: now,
        how: how.into(),
    };
    members.insert(&key, codec::encode(&m).or_else(abort)?)?;
    user_groups.insert(&pair_key(user, rec.id), &[])?;
    rec.members += 1;
    Ok(true)
}

/// The second ids of `prefix ++ id` keys in an index tree.
fn suffix_ids(tree: &sled::Tree, name: &'static str, prefix: u64) -> Result<Vec<u64>, StoreError> {
    tree.scan_prefix(id_key(prefix))
        .map(|item| {
            let (k, _) = item?;
            read_id(name, &k, &k[8..])
        })
        .collect()
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

mod delete;
pub mod keys;
mod links;
mod list;
mod managers;
mod members;
mod save;
mod views;

pub(crate) use delete::SweepGroupJob;
pub(crate) use links::tx_group_courses;
pub use links::LinkKind;
pub(crate) use managers::tx_mass_enrol_audit;
pub(crate) use members::{
    tx_join_default, tx_join_new_user, DefaultJoinTrees, DefaultJoinTx, NewMember,
};
pub use views::{GroupQuery, RowPage};

impl Store {
    pub fn get_group(&self, id: u64) -> Result<Option<GroupRecord>, StoreError> {
        let key = id_key(id);
        self.groups
            .get(key)?
            .map(|b| codec::decode(&key, &b))
            .transpose()
    }

    /// A group an index led to; `None` when it was deleted after the index was read (reads
    /// outside a transaction are no snapshot: a concurrent delete is not corruption).
    fn group_at(&self, id: u64) -> Result<Option<GroupRecord>, StoreError> {
        self.get_group(id)
    }

    /// Number of groups.
    pub fn group_count(&self) -> Result<u64, StoreError> {
        Ok(read_counter(self.meta.get(counter_key(COUNT_GROUPS))?))
    }

    /// The default group, if one is set.
    pub fn default_group(&self) -> Result<Option<u64>, StoreError> {
        self.meta
            .get(DEFAULT_GROUP)?
            .map(|b| read_id("meta", DEFAULT_GROUP, &b))
            .transpose()
    }

    /// A free random key (not held by any group).
    pub fn generate_group_key(&self) -> Result<String, StoreError> {
        loop {
            let k = random_key();
            if self.group_key.get(fold_key(&k).as_bytes())?.is_none() {
                return Ok(k);
            }
        }
    }
}

#[cfg(test)]
mod tests;
