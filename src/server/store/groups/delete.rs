//! Deleting a group.

use super::*;

impl Store {
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
}
