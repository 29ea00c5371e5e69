//! Deleting a group.

use super::*;
use crate::server::store::jobs::{tx_enqueue, JobKind};
use crate::server::store::tx::tree_set;

tree_set! {
    /// The trees one step of deleting a group writes.
    struct DeleteGroupTx {
        groups, group_name, group_suffix, group_by_members, group_key, group_links, course_groups, curriculum_groups, meta, audit, audit_index, jobs,
    }
}

impl Store {
    /// Deletes a group in one small transaction: it disappears from every list and index at
    /// once (its name and key are free again), its course and curriculum links go, and a job is
    /// recorded that removes its memberships, managers and bulk-add reports in bounded batches
    /// afterwards (resumed after a restart; see `jobs.rs`). Users' enrolments and progress stay.
    /// Its audit trail stays too, with the deletion as its last event. Returns the job's id.
    pub fn delete_group(&self, actor: Actor, id: u64) -> Result<u64, StoreError> {
        let _w = self.writing();
        let event = self.new_id()?;
        let job = self.new_job_id()?;
        DeleteGroupTx::run(self, |t| {
            let DeleteGroupTx {
                groups,
                group_name: names,
                group_suffix: suffix_t,
                group_by_members: by_members,
                group_key: keys,
                group_links: links,
                course_groups,
                curriculum_groups,
                meta,
                audit: trail,
                audit_index: index,
                jobs,
            } = *t;
            let rec = tx_get(groups, id)?;
            groups.remove(&id_key(id))?;
            names.remove(fold(&rec.name).as_bytes())?;
            for g in suffixes(&rec.name) {
                suffix_t.remove(suffix_key(&g, id))?;
            }
            by_members.remove(&members_key(rec.members, id))?;
            if let Some(k) = &rec.key.key {
                keys.remove(fold_key(k).as_bytes())?;
            }
            let l = links::tx_links(links, id)?;
            for c in &l.courses {
                course_groups.remove(&pair_key(*c, id))?;
            }
            for c in &l.curricula {
                curriculum_groups.remove(&pair_key(*c, id))?;
            }
            links.remove(&id_key(id))?;
            if rec.is_default {
                meta.remove(DEFAULT_GROUP)?;
            }
            if let Some(b) = rec.branch {
                bump_counter(meta, &branch_counter(b), -1)?;
            }
            bump_counter(meta, COUNT_GROUPS, -1)?;
            tx_audit(
                AuditTrees { trail, index },
                id,
                event,
                actor,
                AuditAction::GroupDeleted,
                format!(
                    "Deleted \"{}\": {} membership(s), {} course and {} curriculum link(s) removed.",
                    rec.name,
                    rec.members,
                    l.courses.len(),
                    l.curricula.len()
                ),
            )?;
            tx_enqueue(jobs, job, JobKind::SweepGroup { group: id }, actor.now)
        })?;
        Ok(job)
    }
}
