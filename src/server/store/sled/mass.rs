//! The sled backend's MassEnrolments (the interface: `crate::server::store::mass`).

pub(crate) use crate::server::store::mass::*;

#[allow(unused_imports)]
use crate::server::store::prelude::*;

use super::codec::{id_key, read_id};
use super::enrolments::{tx_enrol_courses, CourseDeltas, EnrolCounts, EnrolTrees, Source};
use super::groups::{tx_group_courses, tx_mass_enrol_audit, Actor, AuditTrees};
use super::jobs::{
    ids_after, tx_put_job, tx_step_job, FailJobTx, JobKind, JobRecord, JobState, JobSteps, Step,
};
use super::{abort, SledStore, StoreError};
use crate::server::store::sled::tables::{of, TxOf};
use crate::server::store::sled::tx::tree_set;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

type Tx<T> = Result<T, ConflictableTransactionError<StoreError>>;

pub(crate) fn running_key(group: u64) -> Vec<u8> {
    format!("mass_enrol/{group}").into_bytes()
}

pub(crate) fn last_key(group: u64) -> Vec<u8> {
    format!("last_mass_enrol/{group}").into_bytes()
}

/// Inside a transaction: lets go of the group's running mark if job `job` holds it.
pub(crate) fn tx_release(meta: &TransactionalTree, group: u64, job: u64) -> Tx<()> {
    if let Some(v) = meta.get(running_key(group))? {
        if v.as_ref() == id_key(job) {
            meta.remove(running_key(group))?;
        }
    }
    Ok(())
}

tree_set! {
    /// The trees one step of a mass enrolment writes.
    struct EnrolStepTx {
        jobs, users, courses, curricula, group_links, enrolments, course_users, meta, groups, group_members,
    }
}

/// Mass enrolment ([`JobKind::MassEnrol`]).
pub(crate) struct MassEnrolJob;

impl JobSteps for MassEnrolJob {
    fn step(
        &self,
        store: &SledStore,
        job: &JobRecord,
        now: u64,
    ) -> Option<Result<Step, StoreError>> {
        let JobKind::MassEnrol { group } = job.kind else {
            return None;
        };
        Some(store.mass_enrol_step(job, group, now))
    }

    fn failed(&self, t: &FailJobTx<'_>, job: &JobRecord, _: &str, _: u64) -> Option<Tx<()>> {
        let JobKind::MassEnrol { group } = job.kind else {
            return None;
        };
        Some(tx_release(t.meta, group, job.id))
    }
}

impl MassEnrolments for SledStore {
    fn start_mass_enrolment(&self, actor: Actor, group: u64) -> Result<u64, StoreError> {
        let _w = self.writing();
        let id = self.new_job_id()?;
        (&*self.groups, &self.meta, &*self.jobs).transaction(|(groups, meta, jobs)| {
            let rec = TxOf::<of::groups>::from(groups).must(group, "group")?;
            if meta.get(running_key(group))?.is_some() {
                return abort(already_running());
            }
            meta.insert(running_key(group), &id_key(id))?;
            meta.insert(last_key(group), &id_key(id))?;
            let job = JobRecord::new(
                id,
                JobKind::MassEnrol { group },
                rec.members,
                actor.user,
                actor.now,
            );
            tx_put_job(jobs, &job)
        })?;
        Ok(id)
    }

    fn last_mass_enrolment(&self, group: u64) -> Result<Option<MassEnrolment>, StoreError> {
        let Some(v) = self.meta.get(last_key(group))? else {
            return Ok(None);
        };
        let id = read_id("meta", &last_key(group), &v)?;
        Ok(self.get_job(id)?.map(|job| MassEnrolment { job, group }))
    }
}

impl SledStore {
    /// One step of a mass enrolment: the next members after the cursor, as many as fit in
    /// [`PAIRS_PER_STEP`] pairs with the group's current courses.
    pub(crate) fn mass_enrol_step(
        &self,
        job: &JobRecord,
        group: u64,
        now: u64,
    ) -> Result<Step, StoreError> {
        let _w = self.writing();
        if self.get_group(group)?.is_none() {
            self.fail_job(job.id, GROUP_DELETED, now)?;
            return Ok(Step::Finished);
        }
        let courses = self.group_course_ids_with_curricula(group)?.len();
        let batch = members_per_step(self.step_pairs(), courses);
        let members = ids_after(
            &self.group_members,
            "group_members",
            group,
            job.cursor,
            batch,
        )?;
        if members.is_empty() {
            return self.finish_mass_enrolment(job, group, now);
        }
        EnrolStepTx::run(self, |t| {
            let EnrolStepTx {
                jobs,
                users,
                courses: courses_t,
                curricula,
                group_links: links,
                enrolments,
                course_users,
                meta,
                groups,
                group_members,
            } = *t;
            let Some(mut rec) = tx_step_job(&jobs, job)? else {
                // This step ran already, or another runner took the job over.
                return Ok(());
            };
            if groups.get(id_key(group))?.is_none() {
                return Ok(());
            }
            let list = tx_group_courses(&links, &curricula, &courses_t, group)?;
            let e = EnrolTrees {
                enrolments: &enrolments,
                course_users,
            };
            let mut deltas = CourseDeltas::default();
            let mut counts = EnrolCounts::default();
            let mut failures = Vec::new();
            for user in &members {
                // Removed from the group since the members were read: not enrolled through it.
                if group_members
                    .get(super::enrolments::pair_key(group, *user))?
                    .is_none()
                {
                    continue;
                }
                let Some(u) = users.row(*user)? else {
                    counts.missing += list.len() as u64;
                    failures.push(format!("user #{user} no longer exists"));
                    continue;
                };
                if !u.active {
                    counts.skipped_inactive += list.len() as u64;
                    continue;
                }
                tx_enrol_courses(
                    &e,
                    &mut deltas,
                    &mut counts,
                    *user,
                    &list,
                    Source::GroupSync(group),
                    now,
                )?;
            }
            deltas.apply(meta)?;
            rec.cursor = *members.last().unwrap_or(&job.cursor);
            rec.done += members.len() as u64;
            rec.total = rec.total.max(rec.done);
            rec.counts.enrolled += counts.enrolled;
            rec.counts.already += counts.already;
            rec.counts.skipped_archived += counts.skipped_archived;
            rec.counts.skipped_inactive += counts.skipped_inactive;
            rec.counts.failed += counts.missing;
            for f in failures {
                if rec.failures.len() < FAILURES_KEPT {
                    rec.failures.push(f);
                }
            }
            tx_put_job(&jobs, &rec)
        })?;
        Ok(Step::More)
    }

    /// Marks the job done, lets go of the group's running mark and writes the summary to the
    /// group's activity, in one transaction.
    pub(crate) fn finish_mass_enrolment(
        &self,
        job: &JobRecord,
        group: u64,
        now: u64,
    ) -> Result<Step, StoreError> {
        let _w = self.writing();
        let event = self.new_id()?;
        (
            &*self.jobs,
            &self.meta,
            &*self.audit,
            &self.audit_index,
            &*self.users,
        )
            .transaction(|(jobs, meta, trail, index, users)| {
                let Some(mut rec) = tx_step_job(jobs, job)? else {
                    return Ok(());
                };
                rec.state = JobState::Done;
                rec.finished_at = Some(now);
                rec.total = rec.done;
                tx_release(meta, group, job.id)?;
                tx_mass_enrol_audit(AuditTrees { trail, index }, users, group, event, &rec, now)?;
                tx_put_job(jobs, &rec)
            })?;
        Ok(Step::Finished)
    }
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)]
    use crate::server::store::mass::tests::{run, setup, state, Setup, ACTOR};
    #[allow(unused_imports)]
    use crate::server::store::sled::test_prelude::*;

    /// Two runners on one store share the queue through leases: while A holds the job, B
    /// leaves it alone; once A's lease has run out (A died mid-job), B takes the job over and
    /// finishes it, and A's late step writes nothing. The enrolments are the same as one
    /// runner's, none twice.
    #[test]
    fn a_job_whose_runner_stops_is_taken_over_after_its_lease_without_duplicates() {
        use crate::server::store::jobs::LEASE_MS;
        let straight = setup(17, 2);
        let job = straight
            .store
            .start_mass_enrolment(ACTOR, straight.group)
            .unwrap();
        let want = run(&straight, job);

        let s = setup(17, 2);
        s.store.set_step_pairs(6);
        let job = s.store.start_mass_enrolment(ACTOR, s.group).unwrap();
        let (a, b, t0) = (11, 22, 1_000);
        assert_eq!(s.store.run_job_step_as(a, job, t0).unwrap(), Step::More);
        let held = s.store.get_job(job).unwrap().unwrap();
        assert_eq!(
            held.lease.map(|l| (l.holder, l.until)),
            Some((a, t0 + LEASE_MS))
        );

        // B, while A's lease runs: nothing done, nothing written.
        let before = crate::server::store::tests::dump(&s.store);
        assert_eq!(s.store.run_job_step_as(b, job, t0 + 5).unwrap(), Step::Held);
        assert_eq!(crate::server::store::tests::dump(&s.store), before);

        // A read the job for its next step, then stalled past its lease; B takes over.
        let stale = s.store.take_job(job, a, t0 + 10).unwrap().unwrap();
        let later = t0 + 10 + LEASE_MS;
        assert_eq!(s.store.run_job_step_as(b, job, later).unwrap(), Step::More);
        let after_b = crate::server::store::tests::dump(&s.store);
        // A's step, late: its transaction finds the job held by B and writes nothing.
        assert_eq!(
            MassEnrolJob
                .step(s.store.sled(), &stale, later)
                .unwrap()
                .unwrap(),
            Step::More
        );
        assert_eq!(crate::server::store::tests::dump(&s.store), after_b);
        // A cannot take it back while B's lease runs.
        assert_eq!(
            s.store.run_job_step_as(a, job, later + 1).unwrap(),
            Step::Held
        );

        while s.store.run_job_step_as(b, job, later + 2).unwrap() == Step::More {}
        let got = s.store.get_job(job).unwrap().unwrap();
        assert_eq!(got.state, JobState::Done);
        assert_eq!(got.counts, want.counts, "every pair once");
        assert_eq!(state(&s), state(&straight));
    }

    /// A lease left in a sled directory by a process that has gone does not hold its job
    /// after a restart: the next runner resumes it at once.
    #[test]
    fn a_restart_drops_the_leases_a_gone_process_held() {
        let s = setup(5, 1);
        let job = s.store.start_mass_enrolment(ACTOR, s.group).unwrap();
        assert!(s.store.take_job(job, 77, 1_000).unwrap().is_some());
        s.store.flush().unwrap();
        let Setup { store, _dir, .. } = s;
        drop(store);
        let store = crate::server::store::tests::reopen(_dir.path()).unwrap();
        assert_eq!(store.get_job(job).unwrap().unwrap().lease, None);
        assert_eq!(store.run_job_step(job, 1_001).unwrap(), Step::More);
    }
}
