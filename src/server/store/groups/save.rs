//! Creating and editing groups: name, description, branch, key options and the default flag.

use super::*;

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
                        key: KeyRecord::default(),
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
                    } else if o.key != KeyRecord::from(&f.key) {
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
                rec.key = KeyRecord::from(&f.key);
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
}
