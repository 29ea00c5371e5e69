//! The sled backend's Groups (the interface: `crate::server::store::groups`).

pub(crate) use crate::server::store::groups::*;

#[allow(unused_imports)]
use crate::server::store::prelude::*;
use crate::server::store::sled::tables::{of, TxOf};

use super::codec::{fold, id_key, read_id};
use super::courses::CourseRecord;
use super::enrolments::{pair_key, CourseDeltas, EnrolTrees};
use super::{abort, bump_counter, counter_key, read_counter, search, SledStore, StoreError};
use crate::model::group::{fold_key, AuditAction, BulkResult, GroupSort, JoinedHow, KeySettings};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;
use std::collections::HashSet;

pub(crate) const DEFAULT_GROUP: &[u8] = b"default_group";

pub(crate) const COUNT_GROUPS: &str = "groups";

type Tx<T> = Result<T, ConflictableTransactionError<StoreError>>;

pub(crate) fn branch_counter(branch: u64) -> String {
    format!("branch_groups/{branch}")
}

/// `group_by_members` key: member count ++ group id.
pub(crate) fn members_key(members: u64, group: u64) -> [u8; 16] {
    pair_key(members, group)
}

/// `group_suffix` key: suffix, `0x00`, group id.
pub(crate) fn suffix_key(suffix: &str, id: u64) -> Vec<u8> {
    search::key(suffix, id)
}

pub(crate) fn tx_get(groups: &TransactionalTree, id: u64) -> Tx<GroupRecord> {
    TxOf::<of::groups>::from(groups).must(id, "group")
}

fn tx_put(groups: &TransactionalTree, rec: &GroupRecord) -> Tx<()> {
    TxOf::<of::groups>::from(groups).put(rec.id, rec)?;
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
    TxOf::<of::audit>::from(audit.trail).put((group, event), &rec)?;
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
    Ok(TxOf::<of::users>::from(users).must(user, "user")?.login)
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
    TxOf::<of::group_members>::from(members).put((rec.id, user), &m)?;
    user_groups.insert(&pair_key(user, rec.id), &[])?;
    rec.members += 1;
    Ok(true)
}

/// The second ids of `prefix ++ id` keys in an index tree.
pub(crate) fn suffix_ids(
    tree: &sled::Tree,
    name: &'static str,
    prefix: u64,
) -> Result<Vec<u64>, StoreError> {
    tree.scan_prefix(id_key(prefix))
        .map(|item| {
            let (k, _) = item?;
            read_id(name, &k, &k[8..])
        })
        .collect()
}

pub(crate) mod delete;

pub(crate) mod keys;

pub(crate) mod links;

pub(crate) mod list;

pub(crate) mod managers;

pub(crate) mod members;

pub(crate) mod save;

pub(crate) mod views;

pub(crate) use delete::SweepGroupJob;
pub(crate) use links::tx_group_courses;
pub(crate) use links::LinkKind;
pub(crate) use managers::tx_mass_enrol_audit;
pub(crate) use members::{
    tx_join_default, tx_join_new_user, DefaultJoinTrees, DefaultJoinTx, NewMember,
};
pub(crate) use views::RowPage;

impl Groups for SledStore {
    fn get_group(&self, id: u64) -> Result<Option<GroupRecord>, StoreError> {
        self.groups.row(id)
    }

    fn group_count(&self) -> Result<u64, StoreError> {
        Ok(read_counter(self.meta.get(counter_key(COUNT_GROUPS))?))
    }

    fn default_group(&self) -> Result<Option<u64>, StoreError> {
        self.meta
            .get(DEFAULT_GROUP)?
            .map(|b| read_id("meta", DEFAULT_GROUP, &b))
            .transpose()
    }

    fn generate_group_key(&self) -> Result<String, StoreError> {
        loop {
            let k = random_key();
            if self.group_key.get(fold_key(&k).as_bytes())?.is_none() {
                return Ok(k);
            }
        }
    }
}

impl SledStore {
    /// A group an index led to; `None` when it was deleted after the index was read (reads
    /// outside a transaction are no snapshot: a concurrent delete is not corruption).
    pub(crate) fn group_at(&self, id: u64) -> Result<Option<GroupRecord>, StoreError> {
        self.get_group(id)
    }
}

#[cfg(test)]
mod tests;
