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
//! - `group_courses` / `course_groups`, `group_curricula` / `curriculum_groups`: links, both ways.
//! - `group_managers` / `manager_groups`: group id ++ user id / user id ++ group id.
//! - `bulk_results`: group id ++ user id → the [`BulkResult`] of that admin's last bulk add to
//!   that group (so its per-row report survives the page load that follows the form).
//! - `audit`: group id ++ event id → [`AuditRecord`] (newest last; group 0 = not about a group).
//! - `meta`: `default_group` → group id; `count/groups`; `count/branch_groups/<branch id>`.

use super::codec::{self, fold, id_key, read_id, Record};
use super::courses::CourseRecord;
use super::curricula::CurriculumRecord;
use super::enrolments::{pair_key, tx_unenrol};
use super::users::UserRecord;
use super::{abort, bump_counter, counter_key, read_counter, search, Store, StoreError};
use crate::model::group::{
    fold_key, AuditAction, BulkOutcome, BulkResult, BulkRow, GroupSort, JoinedHow, KeySettings,
    KEY_ALPHABET,
};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;
use std::collections::HashSet;

const DEFAULT_GROUP: &[u8] = b"default_group";
const COUNT_GROUPS: &str = "groups";
/// Longest suffix indexed; longer queries are checked against the name.
pub const SUFFIX_MAX: usize = 32;
/// A name search collects at most this many matching groups; beyond it the table says "more
/// than" and pages through its sort index instead.
pub const MATCH_CAP: usize = 1_000;
/// Rows of a bulk add written per transaction (sled transactions hold a global lock).
const BULK_BATCH: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub id: u64,
    pub name: String,
    pub description: String,
    pub branch: Option<u64>,
    pub key: KeySettings,
    /// Memberships the current key created.
    pub key_uses: u32,
    pub is_default: bool,
    pub members: u64,
    pub courses: u32,
    pub curricula: u32,
    pub created_at: u64,
}

impl Record for GroupRecord {
    const TREE: &'static str = "groups";
    const VERSION: u8 = 1;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    pub joined_at: u64,
    pub how: JoinedHow,
}

impl Record for MemberRecord {
    const TREE: &'static str = "group_members";
    const VERSION: u8 = 1;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub at: u64,
    /// The user who did it (0 = Tessera itself).
    pub actor: u64,
    pub action: AuditAction,
    pub detail: String,
}

impl Record for BulkResult {
    const TREE: &'static str = "bulk_results";
    const VERSION: u8 = 1;
}

impl Record for AuditRecord {
    const TREE: &'static str = "audit";
    const VERSION: u8 = 1;
}

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

fn tx_get(groups: &TransactionalTree, id: u64) -> Tx<GroupRecord> {
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

/// Appends an audit event (its id was drawn before the transaction: closures may re-run).
fn tx_audit(
    audit: &TransactionalTree,
    group: u64,
    event: u64,
    actor: Actor,
    action: AuditAction,
    detail: String,
) -> Tx<()> {
    let rec = AuditRecord {
        at: actor.now,
        actor: actor.user,
        action,
        detail,
    };
    audit.insert(&pair_key(group, event), codec::encode(&rec).or_else(abort)?)?;
    Ok(())
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
        how,
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

/// A fresh random key of 12 characters in three blocks, from [`KEY_ALPHABET`].
pub fn random_key() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let mut key = String::with_capacity(14);
    for i in 0..12 {
        if i > 0 && i % 4 == 0 {
            key.push('-');
        }
        key.push(KEY_ALPHABET[rng.gen_range(0..KEY_ALPHABET.len())] as char);
    }
    key
}

impl Store {
    /// Creates a group. Returns it and the group that stopped being the default, if this one
    /// became it. Name and key must be unused (ignoring case); the branch must exist.
    pub fn create_group(
        &self,
        actor: Actor,
        f: &GroupFields,
    ) -> Result<(GroupRecord, Option<(u64, String)>), StoreError> {
        let id = self.db.generate_id()? + 1;
        self.save_group(actor, id, None, f)
    }

    /// Changes a group's fields (name, description, branch, key options, default flag). A new
    /// key text starts its use count again; memberships are untouched.
    pub fn update_group(
        &self,
        actor: Actor,
        id: u64,
        f: &GroupFields,
    ) -> Result<(GroupRecord, Option<(u64, String)>), StoreError> {
        self.get_group(id)?.ok_or(StoreError::NotFound("group"))?;
        self.save_group(actor, id, Some(id), f)
    }

    fn save_group(
        &self,
        actor: Actor,
        id: u64,
        existing: Option<u64>,
        f: &GroupFields,
    ) -> Result<(GroupRecord, Option<(u64, String)>), StoreError> {
        let events = [
            self.db.generate_id()?,
            self.db.generate_id()?,
            self.db.generate_id()?,
        ];
        let r = (
            &self.groups,
            &self.group_name,
            &self.group_suffix,
            &self.group_by_members,
            &self.group_key,
            &self.meta,
            &self.audit,
            &self.branches,
        )
            .transaction(|(groups, names, suffix_t, by_members, keys, meta, audit, branches)| {
                let old = match existing {
                    Some(id) => Some(tx_get(groups, id)?),
                    None => None,
                };
                if let Some(b) = f.branch {
                    if branches.get(id_key(b))?.is_none() {
                        return abort(StoreError::invalid(
                            "branch",
                            "The chosen branch no longer exists.",
                        ));
                    }
                }
                let folded = fold(&f.name);
                if let Some(owner) = names.get(folded.as_bytes())? {
                    if owner.as_ref() != id_key(id) {
                        return abort(StoreError::invalid(
                            "name",
                            "A group with this name already exists.",
                        ));
                    }
                }
                let new_key = f.key.key.as_deref().map(fold_key);
                if let Some(k) = &new_key {
                    if let Some(owner) = keys.get(k.as_bytes())? {
                        if owner.as_ref() != id_key(id) {
                            return abort(StoreError::invalid(
                                "key",
                                "Another group already uses this key. Type another or generate one.",
                            ));
                        }
                    }
                }
                let mut rec = match &old {
                    Some(o) => o.clone(),
                    None => GroupRecord {
                        id,
                        name: String::new(),
                        description: String::new(),
                        branch: None,
                        key: KeySettings::default(),
                        key_uses: 0,
                        is_default: false,
                        members: 0,
                        courses: 0,
                        curricula: 0,
                        created_at: actor.now,
                    },
                };
                let old_key = old.as_ref().and_then(|o| o.key.key.as_deref().map(fold_key));
                let mut changed = Vec::new();
                if let Some(o) = &old {
                    if o.name != f.name {
                        changed.push(format!("name \"{}\" → \"{}\"", o.name, f.name));
                        names.remove(fold(&o.name).as_bytes())?;
                        for g in suffixes(&o.name) {
                            suffix_t.remove(suffix_key(&g, id))?;
                        }
                    }
                    if o.description != f.description {
                        changed.push("description".into());
                    }
                    if o.branch != f.branch {
                        changed.push("branch".into());
                    }
                    if old_key != new_key {
                        changed.push(if new_key.is_some() { "new key" } else { "key removed" }.into());
                    } else if o.key != f.key {
                        changed.push("key options".into());
                    }
                }
                if old.as_ref().map(|o| &o.name) != Some(&f.name) {
                    names.insert(folded.as_bytes(), &id_key(id))?;
                    for g in suffixes(&f.name) {
                        suffix_t.insert(suffix_key(&g, id), &[])?;
                    }
                }
                if old_key != new_key {
                    if let Some(k) = &old_key {
                        keys.remove(k.as_bytes())?;
                    }
                    if let Some(k) = &new_key {
                        keys.insert(k.as_bytes(), &id_key(id))?;
                    }
                    rec.key_uses = 0;
                }
                if rec.branch != f.branch || old.is_none() {
                    if let (Some(b), Some(_)) = (rec.branch, &old) {
                        bump_counter(meta, &branch_counter(b), -1)?;
                    }
                    if let Some(b) = f.branch {
                        bump_counter(meta, &branch_counter(b), 1)?;
                    }
                }
                rec.name = f.name.clone();
                rec.description = f.description.clone();
                rec.branch = f.branch;
                rec.key = f.key.clone();
                let mut previous = None;
                if f.is_default && !rec.is_default {
                    if let Some(p) = meta.get(DEFAULT_GROUP)? {
                        let p = read_id("meta", DEFAULT_GROUP, &p).or_else(abort)?;
                        if p != id {
                            let mut prev = tx_get(groups, p)?;
                            prev.is_default = false;
                            tx_put(groups, &prev)?;
                            tx_audit(audit, p, events[1], actor, AuditAction::DefaultChanged,
                                format!("No longer the default group: \"{}\" is now.", f.name))?;
                            previous = Some((p, prev.name));
                        }
                    }
                    meta.insert(DEFAULT_GROUP, &id_key(id))?;
                    rec.is_default = true;
                    tx_audit(audit, id, events[2], actor, AuditAction::DefaultChanged,
                        "Made the default group: every new user joins it.".into())?;
                } else if !f.is_default && rec.is_default {
                    meta.remove(DEFAULT_GROUP)?;
                    rec.is_default = false;
                    tx_audit(audit, id, events[2], actor, AuditAction::DefaultChanged,
                        "No longer the default group; there is no default group now.".into())?;
                }
                match &old {
                    None => {
                        bump_counter(meta, COUNT_GROUPS, 1)?;
                        by_members.insert(&members_key(0, id), &[])?;
                        tx_audit(audit, id, events[0], actor, AuditAction::GroupCreated,
                            format!("Created \"{}\".", f.name))?;
                    }
                    Some(_) if !changed.is_empty() => {
                        tx_audit(audit, id, events[0], actor, AuditAction::GroupChanged,
                            format!("Changed: {}.", changed.join(", ")))?;
                    }
                    Some(_) => {}
                }
                tx_put(groups, &rec)?;
                Ok((rec, previous))
            })?;
        Ok(r)
    }

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

    /// Deletes a group with its memberships, course and curriculum links and managers, in one
    /// transaction. Users' enrolments and progress stay. Its audit trail stays too, with the
    /// deletion as its last event.
    pub fn delete_group(&self, actor: Actor, id: u64) -> Result<(), StoreError> {
        for _ in 0..5 {
            let rec = self.get_group(id)?.ok_or(StoreError::NotFound("group"))?;
            let members = suffix_ids(&self.group_members, "group_members", id)?;
            let courses = suffix_ids(&self.group_courses, "group_courses", id)?;
            let curricula = suffix_ids(&self.group_curricula, "group_curricula", id)?;
            let managers = suffix_ids(&self.group_managers, "group_managers", id)?;
            let event = self.db.generate_id()?;
            let trees: [&sled::Tree; 15] = [
                &self.groups,
                &self.group_name,
                &self.group_suffix,
                &self.group_by_members,
                &self.group_key,
                &self.group_members,
                &self.user_groups,
                &self.group_courses,
                &self.course_groups,
                &self.group_curricula,
                &self.curriculum_groups,
                &self.group_managers,
                &self.manager_groups,
                &self.meta,
                &self.audit,
            ];
            let done = trees.as_slice().transaction(|t| {
                let [groups, names, suffix_t, by_members, keys, gm, ug, gc, cg, gcu, cug, gma, mg, meta, audit] =
                    t.as_slice()
                else {
                    unreachable!("fifteen trees were given")
                };
                let now = tx_get(groups, id)?;
                if now != rec {
                    // Changed since the scans above: scan again.
                    return Ok(false);
                }
                groups.remove(&id_key(id))?;
                names.remove(fold(&rec.name).as_bytes())?;
                for g in suffixes(&rec.name) {
                    suffix_t.remove(suffix_key(&g, id))?;
                }
                by_members.remove(&members_key(rec.members, id))?;
                if let Some(k) = &rec.key.key {
                    keys.remove(fold_key(k).as_bytes())?;
                }
                for u in &members {
                    gm.remove(&pair_key(id, *u))?;
                    ug.remove(&pair_key(*u, id))?;
                }
                for c in &courses {
                    gc.remove(&pair_key(id, *c))?;
                    cg.remove(&pair_key(*c, id))?;
                }
                for c in &curricula {
                    gcu.remove(&pair_key(id, *c))?;
                    cug.remove(&pair_key(*c, id))?;
                }
                for u in &managers {
                    gma.remove(&pair_key(id, *u))?;
                    mg.remove(&pair_key(*u, id))?;
                }
                if rec.is_default {
                    meta.remove(DEFAULT_GROUP)?;
                }
                if let Some(b) = rec.branch {
                    bump_counter(meta, &branch_counter(b), -1)?;
                }
                bump_counter(meta, COUNT_GROUPS, -1)?;
                tx_audit(
                    audit,
                    id,
                    event,
                    actor,
                    AuditAction::GroupDeleted,
                    format!(
                        "Deleted \"{}\": {} membership(s), {} course and {} curriculum link(s) removed.",
                        rec.name,
                        members.len(),
                        courses.len(),
                        curricula.len()
                    ),
                )?;
                Ok(true)
            })?;
            if done {
                // A membership or link added and another removed between the scans and the
                // commit leave the record as it was, so the check above misses them. None can
                // be added once the group is gone, so a sweep now leaves nothing behind.
                for (forward, backward, name) in [
                    (&self.group_members, &self.user_groups, "group_members"),
                    (&self.group_courses, &self.course_groups, "group_courses"),
                    (
                        &self.group_curricula,
                        &self.curriculum_groups,
                        "group_curricula",
                    ),
                    (&self.group_managers, &self.manager_groups, "group_managers"),
                ] {
                    for other in suffix_ids(forward, name, id)? {
                        (forward, backward).transaction(|(f, b)| {
                            f.remove(&pair_key(id, other))?;
                            b.remove(&pair_key(other, id))?;
                            Ok::<_, ConflictableTransactionError<StoreError>>(())
                        })?;
                    }
                }
                for k in self.bulk_results.scan_prefix(id_key(id)).keys() {
                    self.bulk_results.remove(k?)?;
                }
                return Ok(());
            }
        }
        Err(StoreError::invalid(
            "group",
            "The group keeps changing; try deleting it again in a moment.",
        ))
    }

    /// Groups in `branch` (a branch with groups cannot be deleted).
    pub fn groups_in_branch(&self, branch: u64) -> Result<u64, StoreError> {
        Ok(read_counter(
            self.meta.get(counter_key(&branch_counter(branch)))?,
        ))
    }

    /// A page (from 1) of groups. `query` matches any part of the name, ignoring case; `sort`
    /// orders by name, member count or creation (`desc` reverses). With `only`, just those
    /// groups (a group manager's). Returns `(rows, total, total_is_capped)`.
    ///
    /// Cost, never a scan of all groups: without a query, the rows skipped and returned in an
    /// index kept in that order. With one, a prefix scan of the suffix index (the matches, up to
    /// [`MATCH_CAP`]), then sorting those; when more match than that, the sort index is walked
    /// from the start and filtered, which for so common a query takes a few entries per row.
    pub fn list_groups(
        &self,
        query: &str,
        sort: GroupSort,
        desc: bool,
        page: u32,
        per_page: u32,
        only: Option<&[u64]>,
    ) -> Result<(Vec<GroupRecord>, u64, bool), StoreError> {
        let (skip, take) = search::window(page, per_page);
        let q = fold(query);
        if q.is_empty() && only.is_none() {
            let ids = self.ordered_group_ids(sort, desc, skip, take)?;
            let rows = ids
                .into_iter()
                .filter_map(|id| self.group_at(id).transpose())
                .collect::<Result<_, _>>()?;
            return Ok((rows, self.group_count()?, false));
        }
        let ids = match only {
            Some(ids) => ids.to_vec(),
            None => match self.ids_matching(&q)? {
                Some(ids) => ids,
                None => {
                    let rows = self.walk_matching(&q, sort, desc, skip, take)?;
                    return Ok((rows, MATCH_CAP as u64, true));
                }
            },
        };
        let mut matches = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(g) = self.group_at(id)? {
                if fold(&g.name).contains(&q) {
                    matches.push(g);
                }
            }
        }
        match sort {
            GroupSort::Name => matches.sort_by_cached_key(|g| (fold(&g.name), g.id)),
            GroupSort::Members => matches.sort_by_key(|g| (g.members, g.id)),
            GroupSort::Created => matches.sort_by_key(|g| g.id),
        }
        if desc {
            matches.reverse();
        }
        let total = matches.len() as u64;
        let rows = matches.into_iter().skip(skip).take(take).collect();
        Ok((rows, total, false))
    }

    /// The ids of the groups whose folded name contains `q` (non-empty), or `None` when more
    /// than [`MATCH_CAP`] do.
    fn ids_matching(&self, q: &str) -> Result<Option<Vec<u64>>, StoreError> {
        let prefix: String = q.chars().take(SUFFIX_MAX).collect();
        let long = prefix.len() < q.len();
        let mut seen = HashSet::new();
        let mut ids = Vec::new();
        for item in self.group_suffix.scan_prefix(prefix.as_bytes()) {
            let (k, _) = item?;
            let id = read_id("group_suffix", &k, &k[k.len().saturating_sub(8)..])?;
            if seen.insert(id) {
                // A query longer than the indexed suffixes only shares its start with them:
                // count a group only when its name holds the whole query.
                if long
                    && !self
                        .group_at(id)?
                        .is_some_and(|g| fold(&g.name).contains(q))
                {
                    continue;
                }
                ids.push(id);
                if ids.len() > MATCH_CAP {
                    return Ok(None);
                }
            }
        }
        Ok(Some(ids))
    }

    /// A page of a query too common to collect: the sort index in order, filtered. The name
    /// index holds folded names, so sorting by name reads no records until a row is taken.
    fn walk_matching(
        &self,
        q: &str,
        sort: GroupSort,
        desc: bool,
        skip: usize,
        take: usize,
    ) -> Result<Vec<GroupRecord>, StoreError> {
        let iter = self.sort_index(sort, desc);
        let mut seen = 0usize;
        let mut rows = Vec::with_capacity(take);
        for item in iter {
            let (k, v) = item?;
            let g = match sort {
                GroupSort::Name => {
                    if !String::from_utf8_lossy(&k).contains(q) {
                        continue;
                    }
                    self.group_at(read_id("group_name", &k, &v)?)?
                }
                GroupSort::Members => self.group_at(read_id("group_by_members", &k, &k[8..])?)?,
                GroupSort::Created => Some(codec::decode::<GroupRecord>(&k, &v)?),
            };
            let Some(g) = g else { continue };
            if !fold(&g.name).contains(q) {
                continue;
            }
            if seen >= skip {
                rows.push(g);
                if rows.len() >= take {
                    break;
                }
            }
            seen += 1;
        }
        Ok(rows)
    }

    fn ordered_group_ids(
        &self,
        sort: GroupSort,
        desc: bool,
        skip: usize,
        take: usize,
    ) -> Result<Vec<u64>, StoreError> {
        self.sort_index(sort, desc)
            .skip(skip)
            .take(take)
            .map(|item| {
                let (k, v) = item?;
                match sort {
                    GroupSort::Name => read_id("group_name", &k, &v),
                    GroupSort::Members => read_id("group_by_members", &k, &k[8..]),
                    GroupSort::Created => read_id("groups", &k, &k),
                }
            })
            .collect()
    }

    /// The index kept in `sort` order (the name index, the member-count index, or the groups
    /// themselves, whose ids grow with creation), walked forwards or backwards.
    fn sort_index(
        &self,
        sort: GroupSort,
        desc: bool,
    ) -> Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> {
        let tree = match sort {
            GroupSort::Name => &self.group_name,
            GroupSort::Members => &self.group_by_members,
            GroupSort::Created => &self.groups,
        };
        if desc {
            Box::new(tree.iter().rev())
        } else {
            Box::new(tree.iter())
        }
    }

    /// Adds `user` to `group`; `Ok(false)` when already a member (nothing changes).
    pub fn add_member(
        &self,
        actor: Actor,
        group: u64,
        user: u64,
        how: JoinedHow,
    ) -> Result<bool, StoreError> {
        let event = self.db.generate_id()?;
        let r = (
            &self.groups,
            &self.users,
            &self.group_members,
            &self.user_groups,
            &self.group_by_members,
            &self.audit,
        )
            .transaction(|(groups, users, members, user_groups, by_members, audit)| {
                let mut rec = tx_get(groups, group)?;
                let login = tx_user_login(users, user)?;
                let old = rec.members;
                if !tx_join(members, user_groups, &mut rec, user, how, actor.now)? {
                    return Ok(false);
                }
                tx_members_moved(by_members, &rec, old)?;
                tx_put(groups, &rec)?;
                tx_audit(
                    audit,
                    group,
                    event,
                    actor,
                    AuditAction::MembersAdded,
                    format!("Added {login} ({}).", how.label()),
                )?;
                Ok(true)
            })?;
        Ok(r)
    }

    /// Removes `user` from `group`. Enrolments and progress stay, unless `unenrol`: then the
    /// user's enrolments in the group's courses (and its curricula's courses) end in the same
    /// transaction; progress stays either way. Not a member: `NotFound`.
    pub fn remove_member(
        &self,
        actor: Actor,
        group: u64,
        user: u64,
        unenrol: bool,
    ) -> Result<u32, StoreError> {
        let courses = if unenrol {
            self.group_course_ids_with_curricula(group)?
        } else {
            Vec::new()
        };
        let event = self.db.generate_id()?;
        let r = (
            &self.groups,
            &self.group_members,
            &self.user_groups,
            &self.group_by_members,
            &self.audit,
            &self.enrolments,
            &self.course_users,
            &self.meta,
            &self.users,
        )
            .transaction(
                |(
                    groups,
                    members,
                    user_groups,
                    by_members,
                    audit,
                    enrolments,
                    course_users,
                    meta,
                    users,
                )| {
                    let mut rec = tx_get(groups, group)?;
                    // A user is never deleted, but a missing one must not block removing the membership.
                    let login = match users.get(id_key(user))? {
                        Some(_) => tx_user_login(users, user)?,
                        None => format!("user #{user}"),
                    };
                    if members.remove(&pair_key(group, user))?.is_none() {
                        return abort(StoreError::NotFound("member"));
                    }
                    user_groups.remove(&pair_key(user, group))?;
                    let old = rec.members;
                    rec.members = rec.members.saturating_sub(1);
                    tx_members_moved(by_members, &rec, old)?;
                    tx_put(groups, &rec)?;
                    let mut ended = 0u32;
                    for c in &courses {
                        if tx_unenrol(enrolments, course_users, meta, user, *c)? {
                            ended += 1;
                        }
                    }
                    let detail = if unenrol {
                        format!(
                            "Removed {login}; {ended} enrolment(s) in the group's courses ended."
                        )
                    } else {
                        format!("Removed {login}; enrolments kept.")
                    };
                    tx_audit(
                        audit,
                        group,
                        event,
                        actor,
                        AuditAction::MembersRemoved,
                        detail,
                    )?;
                    Ok(ended)
                },
            )?;
        Ok(r)
    }

    /// Adds many users (login names or e-mails, one per entry) to a group: each row is added,
    /// already a member, unknown or invalid, and nothing is half-applied for any row. Rows are
    /// written in transactions of [`BULK_BATCH`].
    pub fn bulk_add_members(
        &self,
        actor: Actor,
        group: u64,
        entries: &[(u32, String)],
    ) -> Result<BulkResult, StoreError> {
        self.get_group(group)?
            .ok_or(StoreError::NotFound("group"))?;
        let mut result = BulkResult::default();
        let mut resolved: Vec<(usize, u64)> = Vec::new();
        for (line, input) in entries {
            let outcome = if input.chars().count() > 254 || input.chars().any(char::is_control) {
                Some(BulkOutcome::Invalid(
                    "not a login name or e-mail address".into(),
                ))
            } else {
                match self.user_id_by_login_or_email(input)? {
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
            let event = self.db.generate_id()?;
            let added = (
                &self.groups,
                &self.users,
                &self.group_members,
                &self.user_groups,
                &self.group_by_members,
                &self.audit,
            )
                .transaction(
                    |(groups, users, members, user_groups, by_members, audit)| {
                        let mut rec = tx_get(groups, group)?;
                        let old = rec.members;
                        let mut added = Vec::new();
                        for (row, user) in batch {
                            if users.get(id_key(*user))?.is_none() {
                                continue;
                            }
                            if tx_join(
                                members,
                                user_groups,
                                &mut rec,
                                *user,
                                JoinedHow::Import,
                                actor.now,
                            )? {
                                added.push(*row);
                            }
                        }
                        if !added.is_empty() {
                            tx_members_moved(by_members, &rec, old)?;
                            tx_put(groups, &rec)?;
                            tx_audit(
                                audit,
                                group,
                                event,
                                actor,
                                AuditAction::MembersAdded,
                                format!("Bulk add: {} user(s) added.", added.len()),
                            )?;
                        }
                        Ok(added)
                    },
                )?;
            for row in added {
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

    /// Keeps `result` as `user`'s last bulk add to `group` (replacing the one before).
    pub fn save_bulk_result(
        &self,
        group: u64,
        user: u64,
        result: &BulkResult,
    ) -> Result<(), StoreError> {
        self.bulk_results
            .insert(pair_key(group, user), codec::encode(result)?)?;
        Ok(())
    }

    /// `user`'s last bulk add to `group`, if any.
    pub fn last_bulk_result(
        &self,
        group: u64,
        user: u64,
    ) -> Result<Option<BulkResult>, StoreError> {
        let key = pair_key(group, user);
        self.bulk_results
            .get(key)?
            .map(|b| codec::decode(&key, &b))
            .transpose()
    }

    /// A user id by login name or e-mail (ignoring case).
    pub fn user_id_by_login_or_email(&self, raw: &str) -> Result<Option<u64>, StoreError> {
        let folded = fold(raw);
        let found = if folded.contains('@') {
            self.email_user.get(folded.as_bytes())?
        } else {
            self.login_user.get(folded.as_bytes())?
        };
        found
            .map(|b| read_id("login_user", folded.as_bytes(), &b))
            .transpose()
    }

    /// Whether `user` is in `group`, and how they joined.
    pub fn membership(&self, group: u64, user: u64) -> Result<Option<MemberRecord>, StoreError> {
        let key = pair_key(group, user);
        self.group_members
            .get(key)?
            .map(|b| codec::decode(&key, &b))
            .transpose()
    }

    /// A page (from 1) of a group's members: without a query in user-id order; with one, the
    /// members whose login, e-mail or a word of their name starts with it. Returns
    /// `(user id, membership)` pairs, the total and whether it was capped.
    pub fn list_members(
        &self,
        group: u64,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<MemberPage, StoreError> {
        let rec = self
            .get_group(group)?
            .ok_or(StoreError::NotFound("group"))?;
        let (skip, take) = search::window(page, per_page);
        let q = fold(query);
        let mut rows = Vec::new();
        if q.is_empty() {
            for item in self
                .group_members
                .scan_prefix(id_key(group))
                .skip(skip)
                .take(take)
            {
                let (k, v) = item?;
                rows.push((
                    read_id("group_members", &k, &k[8..])?,
                    codec::decode(&k, &v)?,
                ));
            }
            return Ok((rows, rec.members, false));
        }
        let mut seen = HashSet::new();
        let mut count = 0u64;
        for item in self.search_user.scan_prefix(q.as_bytes()) {
            let (k, _) = item?;
            let user = read_id("search_user", &k, &k[k.len().saturating_sub(8)..])?;
            if !seen.insert(user) {
                continue;
            }
            let Some(m) = self.membership(group, user)? else {
                continue;
            };
            if count as usize >= skip && rows.len() < take {
                rows.push((user, m));
            }
            count += 1;
            if count >= search::TOTAL_CAP {
                return Ok((rows, count, true));
            }
        }
        Ok((rows, count, false))
    }

    /// The groups `user` is a member of.
    pub fn groups_of_user(&self, user: u64) -> Result<Vec<u64>, StoreError> {
        suffix_ids(&self.user_groups, "user_groups", user)
    }

    /// Attaches (`add`) or detaches a course. Attaching twice or detaching an absent link
    /// changes nothing (`Ok(false)`); an unknown course is `NotFound`.
    pub fn link_group_course(
        &self,
        actor: Actor,
        group: u64,
        course: u64,
        add: bool,
    ) -> Result<bool, StoreError> {
        self.link(actor, group, course, add, LinkKind::Course)
    }

    /// Attaches (`add`) or detaches a curriculum, like [`Store::link_group_course`].
    pub fn link_group_curriculum(
        &self,
        actor: Actor,
        group: u64,
        curriculum: u64,
        add: bool,
    ) -> Result<bool, StoreError> {
        self.link(actor, group, curriculum, add, LinkKind::Curriculum)
    }

    fn link(
        &self,
        actor: Actor,
        group: u64,
        target: u64,
        add: bool,
        kind: LinkKind,
    ) -> Result<bool, StoreError> {
        let event = self.db.generate_id()?;
        let (targets, forward, backward, what) = match kind {
            LinkKind::Course => (
                &self.courses,
                &self.group_courses,
                &self.course_groups,
                "course",
            ),
            LinkKind::Curriculum => (
                &self.curricula,
                &self.group_curricula,
                &self.curriculum_groups,
                "curriculum",
            ),
        };
        let r = (&self.groups, targets, forward, backward, &self.audit).transaction(
            |(groups, targets, forward, backward, audit)| {
                let mut rec = tx_get(groups, group)?;
                let there = forward.get(pair_key(group, target))?.is_some();
                if add == there {
                    return Ok(false);
                }
                let label = match (targets.get(id_key(target))?, kind) {
                    (None, _) if add => return abort(StoreError::NotFound(what)),
                    (None, _) => format!("#{target}"),
                    (Some(b), LinkKind::Course) => {
                        codec::decode::<CourseRecord>(&id_key(target), &b)
                            .map(|c| c.code)
                            .or_else(abort)?
                    }
                    (Some(b), LinkKind::Curriculum) => {
                        codec::decode::<CurriculumRecord>(&id_key(target), &b)
                            .map(|c| c.name)
                            .or_else(abort)?
                    }
                };
                if add {
                    forward.insert(&pair_key(group, target), &[])?;
                    backward.insert(&pair_key(target, group), &[])?;
                } else {
                    forward.remove(&pair_key(group, target))?;
                    backward.remove(&pair_key(target, group))?;
                }
                let delta: i32 = if add { 1 } else { -1 };
                match kind {
                    LinkKind::Course => rec.courses = rec.courses.saturating_add_signed(delta),
                    LinkKind::Curriculum => {
                        rec.curricula = rec.curricula.saturating_add_signed(delta)
                    }
                }
                tx_put(groups, &rec)?;
                let verb = if add { "Attached" } else { "Detached" };
                tx_audit(
                    audit,
                    group,
                    event,
                    actor,
                    AuditAction::CoursesChanged,
                    format!("{verb} {what} {label}."),
                )?;
                Ok(true)
            },
        )?;
        Ok(r)
    }

    /// The group's course ids and curriculum ids.
    pub fn group_links(&self, group: u64) -> Result<(Vec<u64>, Vec<u64>), StoreError> {
        Ok((
            suffix_ids(&self.group_courses, "group_courses", group)?,
            suffix_ids(&self.group_curricula, "group_curricula", group)?,
        ))
    }

    /// Every course the group leads to: its own and its curricula's, without repeats.
    pub fn group_course_ids_with_curricula(&self, group: u64) -> Result<Vec<u64>, StoreError> {
        let (mut courses, curricula) = self.group_links(group)?;
        for cur in curricula {
            if let Some(c) = self.get_curriculum(cur)? {
                courses.extend(c.courses);
            }
        }
        let mut seen = HashSet::new();
        courses.retain(|c| seen.insert(*c));
        Ok(courses)
    }

    /// Detaches a course (or curriculum) that is being deleted from every group. Run after the
    /// deletion committed: no new link to it can appear then, so nothing is left behind.
    pub(crate) fn unlink_deleted(&self, target: u64, curriculum: bool) -> Result<(), StoreError> {
        let (forward, backward, name) = if curriculum {
            (
                &self.group_curricula,
                &self.curriculum_groups,
                "curriculum_groups",
            )
        } else {
            (&self.group_courses, &self.course_groups, "course_groups")
        };
        for group in suffix_ids(backward, name, target)? {
            (&self.groups, forward, backward).transaction(|(groups, forward, backward)| {
                backward.remove(&pair_key(target, group))?;
                if forward.remove(&pair_key(group, target))?.is_none() {
                    return Ok(());
                }
                if groups.get(id_key(group))?.is_none() {
                    return Ok(());
                }
                let mut rec = tx_get(groups, group)?;
                if curriculum {
                    rec.curricula = rec.curricula.saturating_sub(1);
                } else {
                    rec.courses = rec.courses.saturating_sub(1);
                }
                tx_put(groups, &rec)
            })?;
        }
        Ok(())
    }

    /// Makes `user` a manager of `group` (`add`) or not. Changing nothing returns `Ok(false)`.
    pub fn set_group_manager(
        &self,
        actor: Actor,
        group: u64,
        user: u64,
        add: bool,
    ) -> Result<bool, StoreError> {
        let event = self.db.generate_id()?;
        let r = (
            &self.groups,
            &self.users,
            &self.group_managers,
            &self.manager_groups,
            &self.audit,
        )
            .transaction(|(groups, users, managers, manager_groups, audit)| {
                tx_get(groups, group)?;
                let login = tx_user_login(users, user)?;
                let there = managers.get(pair_key(group, user))?.is_some();
                if there == add {
                    return Ok(false);
                }
                if add {
                    managers.insert(&pair_key(group, user), &[])?;
                    manager_groups.insert(&pair_key(user, group), &[])?;
                } else {
                    managers.remove(&pair_key(group, user))?;
                    manager_groups.remove(&pair_key(user, group))?;
                }
                let verb = if add { "Made" } else { "Removed" };
                let role = if add { "a manager" } else { "as a manager" };
                tx_audit(
                    audit,
                    group,
                    event,
                    actor,
                    AuditAction::ManagersChanged,
                    format!("{verb} {login} {role}."),
                )?;
                Ok(true)
            })?;
        Ok(r)
    }

    pub fn group_managers(&self, group: u64) -> Result<Vec<u64>, StoreError> {
        suffix_ids(&self.group_managers, "group_managers", group)
    }

    /// The groups `user` manages.
    pub fn managed_groups(&self, user: u64) -> Result<Vec<u64>, StoreError> {
        suffix_ids(&self.manager_groups, "manager_groups", user)
    }

    pub fn manages_group(&self, user: u64, group: u64) -> Result<bool, StoreError> {
        Ok(self.manager_groups.get(pair_key(user, group))?.is_some())
    }

    pub fn manages_any_group(&self, user: u64) -> Result<bool, StoreError> {
        Ok(self
            .manager_groups
            .scan_prefix(id_key(user))
            .next()
            .is_some())
    }

    /// The newest `limit` audit events of a group, newest first.
    pub fn group_activity(
        &self,
        group: u64,
        limit: usize,
    ) -> Result<Vec<(u64, AuditRecord)>, StoreError> {
        self.audit
            .scan_prefix(id_key(group))
            .rev()
            .take(limit)
            .map(|item| {
                let (k, v) = item?;
                Ok((read_id("audit", &k, &k[8..])?, codec::decode(&k, &v)?))
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "groups_tests.rs"]
mod tests;

#[derive(Clone, Copy)]
enum LinkKind {
    Course,
    Curriculum,
}
