//! The PostgreSQL backend's GroupEdits (the interface: `crate::server::store::groups::save`;
//! the behaviour: `sled/groups/save.rs`).

use super::*;
use crate::model::group::AuditAction;
use crate::server::store::groups::save::*;
use crate::server::store::postgres::audit;
use crate::server::store::prelude::*;

/// The branch exists, and the name and key are not another group's ([`check_fields`]).
fn check(t: &mut postgres::Transaction<'_>, id: u64, f: &GroupFields) -> Result<(), PgError> {
    let branch_exists = match f.branch {
        Some(b) => t
            .query_opt("SELECT 1 FROM branches WHERE id = $1", &[&(b as i64)])?
            .is_some(),
        None => false,
    };
    let name_owner = t
        .query_opt(
            "SELECT id FROM groups WHERE name_folded = $1 AND deleted_at_ms IS NULL",
            &[&fold(&f.name)],
        )?
        .map(|r| r.get::<_, i64>(0) as u64);
    let key_owner = match f.key.key.as_deref() {
        Some(key) => t
            .query_opt(
                "SELECT id FROM groups WHERE key_folded = $1",
                &[&fold_key(key)],
            )?
            .map(|r| r.get::<_, i64>(0) as u64),
        None => None,
    };
    Ok(check_fields(id, f, branch_exists, name_owner, key_owner)?)
}

/// Makes the group the default (the previous one stops being it, in this transaction) or
/// not; returns the group that stopped being the default. Runs before the group's row is
/// written: at most one row may be the default at any moment (`groups_default`).
fn set_default(
    t: &mut postgres::Transaction<'_>,
    actor: Actor,
    events: [u64; 3],
    rec: &mut GroupRecord,
    f: &GroupFields,
) -> Result<Option<(u64, String)>, PgError> {
    let mut previous = None;
    if f.is_default && !rec.is_default {
        let prev = t.query_opt(
            "SELECT id, name FROM groups WHERE is_default FOR UPDATE",
            &[],
        )?;
        if let Some(p) = prev {
            let (p, name) = (p.get::<_, i64>(0) as u64, p.get::<_, String>(1));
            if p != rec.id {
                t.execute(
                    "UPDATE groups SET is_default = false WHERE id = $1",
                    &[&(p as i64)],
                )?;
                audit::record(
                    t,
                    p,
                    events[1],
                    actor,
                    AuditAction::DefaultChanged,
                    no_longer_default(&f.name),
                )?;
                previous = Some((p, name));
            }
        }
        rec.is_default = true;
        audit::record(
            t,
            rec.id,
            events[2],
            actor,
            AuditAction::DefaultChanged,
            MADE_DEFAULT.into(),
        )?;
    } else if !f.is_default && rec.is_default {
        rec.is_default = false;
        audit::record(
            t,
            rec.id,
            events[2],
            actor,
            AuditAction::DefaultChanged,
            NO_DEFAULT.into(),
        )?;
    }
    Ok(previous)
}

/// The suffix index follows a new or changed name (after the group's row is written).
fn reindex_name(
    t: &mut postgres::Transaction<'_>,
    old: Option<&GroupRecord>,
    rec: &GroupRecord,
) -> Result<(), postgres::Error> {
    if old.map(|o| &o.name) == Some(&rec.name) {
        return Ok(());
    }
    let id = rec.id as i64;
    if old.is_some() {
        t.execute("DELETE FROM group_suffixes WHERE group_id = $1", &[&id])?;
    }
    t.execute(
        "INSERT INTO group_suffixes (suffix, group_id) SELECT s, $2 FROM unnest($1::text[]) AS s",
        &[&suffixes(&rec.name), &id],
    )?;
    Ok(())
}

impl GroupEdits for PgStore {
    fn create_group(
        &self,
        actor: Actor,
        f: &GroupFields,
    ) -> Result<(GroupRecord, Option<(u64, String)>), StoreError> {
        let id = self.new_id()?;
        self.save_group(actor, id, None, f, None)
    }

    fn create_group_with(
        &self,
        actor: Actor,
        f: &GroupFields,
        managers_regenerate_key: bool,
    ) -> Result<(GroupRecord, Option<(u64, String)>), StoreError> {
        let id = self.new_id()?;
        self.save_group(actor, id, None, f, Some(managers_regenerate_key))
    }

    fn update_group_with(
        &self,
        actor: Actor,
        id: u64,
        f: &GroupFields,
        managers_regenerate_key: bool,
    ) -> Result<(GroupRecord, Option<(u64, String)>), StoreError> {
        self.save_group(actor, id, Some(id), f, Some(managers_regenerate_key))
    }

    fn update_group(
        &self,
        actor: Actor,
        id: u64,
        f: &GroupFields,
    ) -> Result<(GroupRecord, Option<(u64, String)>), StoreError> {
        self.save_group(actor, id, Some(id), f, None)
    }
}

impl PgStore {
    /// Creates (`existing` None) or changes group `id`: one serializable transaction, as
    /// sled's `save_group`.
    pub(crate) fn save_group(
        &self,
        actor: Actor,
        id: u64,
        existing: Option<u64>,
        f: &GroupFields,
        managers_regenerate_key: Option<bool>,
    ) -> Result<(GroupRecord, Option<(u64, String)>), StoreError> {
        let events = [self.new_id()?, self.new_id()?, self.new_id()?];
        self.write_tx(|t| {
            let old = match existing {
                Some(id) => Some(must(t, id, true)?),
                None => None,
            };
            check(t, id, f)?;
            let (mut rec, changed) =
                edited(old.as_ref(), id, actor.now, f, managers_regenerate_key);
            let previous = set_default(t, actor, events, &mut rec, f)?;
            if old.is_some() {
                put(t, &rec)?;
            } else {
                insert(t, &rec)?;
            }
            reindex_name(t, old.as_ref(), &rec)?;
            if old.is_none() {
                bump_total(t, "groups", id, 1)?;
            }
            if let Some((action, detail)) = save_event(old.is_none(), f, &changed) {
                audit::record(t, id, events[0], actor, action, detail)?;
            }
            Ok((rec, previous))
        })
    }
}
