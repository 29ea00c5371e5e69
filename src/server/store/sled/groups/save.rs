//! The sled backend's GroupEdits (the interface: `crate::server::store::groups::save`).

pub(crate) use crate::server::store::groups::save::*;

#[allow(unused_imports)]
use crate::server::store::prelude::*;

use super::*;

/// The trees of a group save, and what it is about: one named step per concern.
struct SaveTx<'a> {
    groups: &'a TransactionalTree,
    names: &'a TransactionalTree,
    suffix_t: &'a TransactionalTree,
    by_members: &'a TransactionalTree,
    keys: &'a TransactionalTree,
    meta: &'a TransactionalTree,
    audit: AuditTrees<'a>,
    branches: &'a TransactionalTree,
    actor: Actor,
    /// Audit event ids, drawn before the transaction: saved, previous default, default.
    events: [u64; 3],
    id: u64,
}

impl SaveTx<'_> {
    /// The branch exists, and the name and key are not another group's ([`check_fields`]).
    fn check(&self, f: &GroupFields) -> Tx<()> {
        let branch_exists = match f.branch {
            Some(b) => self.branches.get(id_key(b))?.is_some(),
            None => false,
        };
        let owner = |tree: &TransactionalTree, name: &'static str, key: &[u8]| -> Tx<Option<u64>> {
            tree.get(key)?
                .map(|v| read_id(name, key, &v))
                .transpose()
                .or_else(abort)
        };
        let name_owner = owner(self.names, "group_name", fold(&f.name).as_bytes())?;
        let key_owner = match f.key.key.as_deref() {
            Some(key) => owner(self.keys, "group_key", fold_key(key).as_bytes())?,
            None => None,
        };
        check_fields(self.id, f, branch_exists, name_owner, key_owner).or_else(abort)
    }

    /// The name index and the substring index follow a new or changed name.
    fn reindex_name(&self, old: Option<&GroupRecord>, f: &GroupFields) -> Tx<()> {
        if old.map(|o| &o.name) == Some(&f.name) {
            return Ok(());
        }
        if let Some(o) = old {
            self.names.remove(fold(&o.name).as_bytes())?;
            for g in suffixes(&o.name) {
                self.suffix_t.remove(suffix_key(&g, self.id))?;
            }
        }
        self.names
            .insert(fold(&f.name).as_bytes(), &id_key(self.id))?;
        for g in suffixes(&f.name) {
            self.suffix_t.insert(suffix_key(&g, self.id), &[])?;
        }
        Ok(())
    }

    /// The key index follows a new or removed key.
    fn rekey(&self, old: Option<&GroupRecord>, f: &GroupFields) -> Tx<()> {
        let old_key = old.and_then(|o| o.key.key.as_deref().map(fold_key));
        let new_key = f.key.key.as_deref().map(fold_key);
        if old_key == new_key {
            return Ok(());
        }
        if let Some(k) = &old_key {
            self.keys.remove(k.as_bytes())?;
        }
        if let Some(k) = &new_key {
            self.keys.insert(k.as_bytes(), &id_key(self.id))?;
        }
        Ok(())
    }

    /// The per-branch group counters follow a new group or a change of branch.
    fn move_branch(&self, old: Option<&GroupRecord>, f: &GroupFields) -> Tx<()> {
        let before = old.and_then(|o| o.branch);
        if old.is_some() && before == f.branch {
            return Ok(());
        }
        if let Some(b) = before {
            bump_counter(self.meta, &branch_counter(b), -1)?;
        }
        if let Some(b) = f.branch {
            bump_counter(self.meta, &branch_counter(b), 1)?;
        }
        Ok(())
    }

    /// Makes the group the default (the previous one stops being it, in this transaction) or
    /// not; returns the group that stopped being the default.
    fn set_default(&self, rec: &mut GroupRecord, f: &GroupFields) -> Tx<Option<(u64, String)>> {
        let mut previous = None;
        if f.is_default && !rec.is_default {
            if let Some(p) = self.meta.get(DEFAULT_GROUP)? {
                let p = read_id("meta", DEFAULT_GROUP, &p).or_else(abort)?;
                if p != self.id {
                    let mut prev = tx_get(self.groups, p)?;
                    prev.is_default = false;
                    tx_put(self.groups, &prev)?;
                    tx_audit(
                        self.audit,
                        p,
                        self.events[1],
                        self.actor,
                        AuditAction::DefaultChanged,
                        no_longer_default(&f.name),
                    )?;
                    previous = Some((p, prev.name));
                }
            }
            self.meta.insert(DEFAULT_GROUP, &id_key(self.id))?;
            rec.is_default = true;
            tx_audit(
                self.audit,
                self.id,
                self.events[2],
                self.actor,
                AuditAction::DefaultChanged,
                MADE_DEFAULT.into(),
            )?;
        } else if !f.is_default && rec.is_default {
            self.meta.remove(DEFAULT_GROUP)?;
            rec.is_default = false;
            tx_audit(
                self.audit,
                self.id,
                self.events[2],
                self.actor,
                AuditAction::DefaultChanged,
                NO_DEFAULT.into(),
            )?;
        }
        Ok(previous)
    }

    /// Counts a new group and records its creation, or records what an edit changed.
    fn audit_save(&self, created: bool, changed: &[String], f: &GroupFields) -> Tx<()> {
        if created {
            bump_counter(self.meta, COUNT_GROUPS, 1)?;
            self.by_members.insert(&members_key(0, self.id), &[])?;
        }
        match save_event(created, f, changed) {
            Some((action, detail)) => tx_audit(
                self.audit,
                self.id,
                self.events[0],
                self.actor,
                action,
                detail,
            ),
            None => Ok(()),
        }
    }
}

impl GroupEdits for SledStore {
    fn create_group(
        &self,
        actor: Actor,
        f: &GroupFields,
    ) -> Result<(GroupRecord, Option<(u64, String)>), StoreError> {
        let id = self.new_id()? + 1;
        self.save_group(actor, id, None, f, None)
    }

    fn create_group_with(
        &self,
        actor: Actor,
        f: &GroupFields,
        managers_regenerate_key: bool,
    ) -> Result<(GroupRecord, Option<(u64, String)>), StoreError> {
        let id = self.new_id()? + 1;
        self.save_group(actor, id, None, f, Some(managers_regenerate_key))
    }

    fn update_group_with(
        &self,
        actor: Actor,
        id: u64,
        f: &GroupFields,
        managers_regenerate_key: bool,
    ) -> Result<(GroupRecord, Option<(u64, String)>), StoreError> {
        self.get_group(id)?.ok_or(StoreError::NotFound("group"))?;
        self.save_group(actor, id, Some(id), f, Some(managers_regenerate_key))
    }

    fn update_group(
        &self,
        actor: Actor,
        id: u64,
        f: &GroupFields,
    ) -> Result<(GroupRecord, Option<(u64, String)>), StoreError> {
        self.get_group(id)?.ok_or(StoreError::NotFound("group"))?;
        self.save_group(actor, id, Some(id), f, None)
    }
}

impl SledStore {
    pub(crate) fn save_group(
        &self,
        actor: Actor,
        id: u64,
        existing: Option<u64>,
        f: &GroupFields,
        managers_regenerate_key: Option<bool>,
    ) -> Result<(GroupRecord, Option<(u64, String)>), StoreError> {
        let _w = self.writing();
        let events = [self.new_id()?, self.new_id()?, self.new_id()?];
        let r = (
            &*self.groups,
            &self.group_name,
            &self.group_suffix,
            &self.group_by_members,
            &self.group_key,
            &self.meta,
            &*self.audit,
            &self.audit_index,
            &*self.branches,
        )
            .transaction(
                |(groups, names, suffix_t, by_members, keys, meta, trail, index, branches)| {
                    let t = SaveTx {
                        groups,
                        names,
                        suffix_t,
                        by_members,
                        keys,
                        meta,
                        audit: AuditTrees { trail, index },
                        branches,
                        actor,
                        events,
                        id,
                    };
                    let old = match existing {
                        Some(id) => Some(tx_get(groups, id)?),
                        None => None,
                    };
                    t.check(f)?;
                    let (mut rec, changed) =
                        edited(old.as_ref(), id, actor.now, f, managers_regenerate_key);
                    t.reindex_name(old.as_ref(), f)?;
                    t.rekey(old.as_ref(), f)?;
                    t.move_branch(old.as_ref(), f)?;
                    let previous = t.set_default(&mut rec, f)?;
                    t.audit_save(old.is_none(), &changed, f)?;
                    tx_put(groups, &rec)?;
                    Ok((rec, previous))
                },
            )?;
        Ok(r)
    }
}
