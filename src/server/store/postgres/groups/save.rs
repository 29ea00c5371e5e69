//! The PostgreSQL backend's GroupEdits (the interface: `crate::server::store::groups::save`;
//! the behaviour: `sled/groups/save.rs`).

use super::*;
use crate::model::group::AuditAction;
use crate::server::store::groups::save::*;
use crate::server::store::postgres::audit;
use crate::server::store::prelude::*;

/// A group as it starts.
fn new_record(id: u64, now: u64) -> GroupRecord {
    GroupRecord {
        id,
        name: String::new(),
        description: String::new(),
        branch: None,
        key: KeyRecord::default(),
        key_uses: 0,
        is_default: false,
        members: 0,
        courses: 0,
        curricula: 0,
        created_at: now,
        managers_regenerate_key: false,
    }
}

/// What an edit changes, in words for the audit trail.
fn changes(old: &GroupRecord, f: &GroupFields) -> Vec<String> {
    let mut changed = Vec::new();
    if old.name != f.name {
        changed.push(format!("name \"{}\" → \"{}\"", old.name, f.name));
    }
    if old.description != f.description {
        changed.push("description".into());
    }
    if old.branch != f.branch {
        changed.push("branch".into());
    }
    let old_key = old.key.key.as_deref().map(fold_key);
    let new_key = f.key.key.as_deref().map(fold_key);
    if old_key != new_key {
        changed.push(
            if new_key.is_some() {
                "new key"
            } else {
                "key removed"
            }
            .into(),
        );
    } else if old.key != KeyRecord::from(&f.key) {
        changed.push("key options".into());
    }
    changed
}

/// The branch exists, and the name and key are not another group's.
fn check(t: &mut postgres::Transaction<'_>, id: u64, f: &GroupFields) -> Result<(), PgError> {
    if let Some(b) = f.branch {
        if t.query_opt("SELECT 1 FROM branches WHERE id = $1", &[&(b as i64)])?
            .is_none()
        {
            return Err(
                StoreError::invalid("branch", "The chosen branch no longer exists.").into(),
            );
        }
    }
    let owner = t.query_opt(
        "SELECT id FROM groups WHERE name_folded = $1 AND deleted_at_ms IS NULL",
        &[&fold(&f.name)],
    )?;
    if owner.is_some_and(|r| r.get::<_, i64>(0) as u64 != id) {
        return Err(StoreError::invalid("name", "A group with this name already exists.").into());
    }
    if let Some(key) = f.key.key.as_deref() {
        let owner = t.query_opt(
            "SELECT id FROM groups WHERE key_folded = $1",
            &[&fold_key(key)],
        )?;
        match owner.map(|r| r.get::<_, i64>(0) as u64) {
            Some(owner) if owner != id => {
                return Err(StoreError::invalid(
                    "key",
                    "Another group already uses this key. Type another or generate one.",
                )
                .into());
            }
            // The group's own key, sent back by its edit form: it keeps working even if it
            // was set before typed keys had to be strong (and may be a generated one).
            Some(_) => {}
            None => {
                if let Some(message) = crate::model::group::typed_key_problem(key) {
                    return Err(StoreError::invalid("key", message).into());
                }
            }
        }
    }
    Ok(())
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
                    format!("No longer the default group: \"{}\" is now.", f.name),
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
            "Made the default group.".into(),
        )?;
    } else if !f.is_default && rec.is_default {
        rec.is_default = false;
        audit::record(
            t,
            rec.id,
            events[2],
            actor,
            AuditAction::DefaultChanged,
            "No longer the default group; there is no default group now.".into(),
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
            let mut rec = old.clone().unwrap_or_else(|| new_record(id, actor.now));
            let mut changed = old.as_ref().map(|o| changes(o, f)).unwrap_or_default();
            if let Some(on) = managers_regenerate_key {
                if old.is_some() && on != rec.managers_regenerate_key {
                    changed.push(
                        if on {
                            "managers may regenerate the key"
                        } else {
                            "managers may no longer regenerate the key"
                        }
                        .into(),
                    );
                }
                rec.managers_regenerate_key = on;
            }
            let old_key = old
                .as_ref()
                .and_then(|o| o.key.key.as_deref().map(fold_key));
            if old.is_none() || old_key != f.key.key.as_deref().map(fold_key) {
                // A new key starts its use count again.
                rec.key_uses = 0;
            }
            rec.name = f.name.clone();
            rec.description = f.description.clone();
            rec.branch = f.branch;
            rec.key = KeyRecord::from(&f.key);
            let previous = set_default(t, actor, events, &mut rec, f)?;
            if old.is_some() {
                put(t, &rec)?;
            } else {
                insert(t, &rec)?;
            }
            reindex_name(t, old.as_ref(), &rec)?;
            if old.is_none() {
                bump_total(t, "groups", id, 1)?;
                audit::record(
                    t,
                    id,
                    events[0],
                    actor,
                    AuditAction::GroupCreated,
                    format!("Created \"{}\".", f.name),
                )?;
            } else if !changed.is_empty() {
                audit::record(
                    t,
                    id,
                    events[0],
                    actor,
                    AuditAction::GroupChanged,
                    format!("Changed: {}.", changed.join(", ")),
                )?;
            }
            Ok((rec, previous))
        })
    }
}
