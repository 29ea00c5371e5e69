//! The sled backend's GroupDeletion (the interface: `crate::server::store::groups::delete`).

pub(crate) use crate::server::store::groups::delete::*;

#[allow(unused_imports)]
use crate::server::store::prelude::*;

use super::*;
use crate::server::store::sled::jobs::{
    ids_after, tx_enqueue, tx_put_job, tx_step_job, JobKind, JobRecord, JobSteps, Step, STEP_BATCH,
};
use crate::server::store::sled::tx::tree_set;

tree_set! {
    /// The trees one step of deleting a group writes.
    struct DeleteGroupTx {
        groups, group_name, group_suffix, group_by_members, group_key, group_links, course_groups, curriculum_groups, meta, audit, audit_index, jobs,
    }
}

/// The sweep that follows a group's deletion ([`JobKind::SweepGroup`]).
pub(crate) struct SweepGroupJob;

impl JobSteps for SweepGroupJob {
    fn step(
        &self,
        store: &SledStore,
        job: &JobRecord,
        now: u64,
    ) -> Option<Result<Step, StoreError>> {
        let JobKind::SweepGroup { group } = job.kind else {
            return None;
        };
        Some(store.sweep_group_step(job, group, now))
    }
}

impl GroupDeletion for SledStore {
    fn delete_group(&self, actor: Actor, id: u64) -> Result<u64, StoreError> {
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
            let rec = tx_get(&groups, id)?;
            groups.remove(&id_key(id))?;
            names.remove(fold(&rec.name).as_bytes())?;
            for g in suffixes(&rec.name) {
                suffix_t.remove(suffix_key(&g, id))?;
            }
            by_members.remove(&members_key(rec.members, id))?;
            if let Some(k) = &rec.key.key {
                keys.remove(fold_key(k).as_bytes())?;
            }
            let l = links::tx_links(&links, id)?;
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
                AuditTrees { trail: &trail, index },
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
            tx_enqueue(&jobs, job, JobKind::SweepGroup { group: id }, actor.now)
        })?;
        Ok(job)
    }
}

impl SledStore {
    /// A deleted group's memberships go [`STEP_BATCH`] at a time, then its managers and
    /// bulk-add reports. The group record is gone already, so no new ones can appear.
    pub(crate) fn sweep_group_step(
        &self,
        job: &JobRecord,
        group: u64,
        now: u64,
    ) -> Result<Step, StoreError> {
        let _w = self.writing();
        let members = ids_after(&self.group_members, "group_members", group, 0, STEP_BATCH)?;
        if !members.is_empty() {
            (&*self.group_members, &self.user_groups, &*self.jobs).transaction(
                |(gm, ug, jobs)| {
                    let Some(mut rec) = tx_step_job(jobs, job)? else {
                        // Done by another run of this step already, or taken over.
                        return Ok(());
                    };
                    for u in &members {
                        gm.remove(&pair_key(group, *u))?;
                        ug.remove(&pair_key(*u, group))?;
                    }
                    rec.done += members.len() as u64;
                    rec.cursor = *members.last().unwrap_or(&0);
                    tx_put_job(jobs, &rec)
                },
            )?;
            return Ok(Step::More);
        }
        let managers = ids_after(&self.group_managers, "group_managers", group, 0, STEP_BATCH)?;
        if !managers.is_empty() {
            (&self.group_managers, &self.manager_groups).transaction(|(gm, mg)| {
                for u in &managers {
                    gm.remove(&pair_key(group, *u))?;
                    mg.remove(&pair_key(*u, group))?;
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })?;
            return Ok(Step::More);
        }
        for k in self.bulk_results.scan_prefix(id_key(group)).keys() {
            self.bulk_results.remove(k?)?;
        }
        self.finish_job(job, 0, now)
    }
}
