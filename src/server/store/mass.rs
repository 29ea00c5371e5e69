//! Mass enrolment: every member of a group into every course the group gives (its own and its
//! curricula's), source "group sync" with the group's id, as a background job.
//!
//! `meta` keys: `mass_enrol/<group>` → the id of the group's running mass enrolment (at most
//! one at a time; set when it is started, cleared when it ends), `last_mass_enrol/<group>` →
//! the id of the latest one (its progress and summary stay on the group page).
//!
//! Each step takes the next members after the cursor (user ids in order) and, in one
//! transaction, enrols them, adds the pairs to the job's counts and moves the cursor: a step is
//! done wholly or not at all, so a job resumed after a crash makes exactly the pairs that were
//! missing, once. The group's courses are read in each step's transaction, so courses attached
//! while it runs are included for the members still to come.

use super::codec::{self, id_key, read_id};
use super::enrolments::{tx_enrol_courses, CourseDeltas, EnrolCounts, EnrolTrees, Source};
use super::groups::{tx_group_courses, tx_mass_enrol_audit, Actor, AuditTrees};
use super::jobs::{
    ids_after, tx_put_job, tx_step_job, FailJobTx, JobKind, JobRecord, JobState, JobSteps, Step,
};
use super::users::UserRecord;
use super::{abort, Store, StoreError};
use crate::server::store::tx::tree_set;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

type Tx<T> = Result<T, ConflictableTransactionError<StoreError>>;

/// (user, course) pairs written per step by default: short transactions keep other requests
/// fast (`Store::set_step_pairs` changes it).
pub const PAIRS_PER_STEP: usize = 2_000;

/// Reasons kept per job (the counts say how many failed in all).
const FAILURES_KEPT: usize = 20;

fn running_key(group: u64) -> Vec<u8> {
    format!("mass_enrol/{group}").into_bytes()
}

fn last_key(group: u64) -> Vec<u8> {
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

/// What a mass enrolment did and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MassEnrolment {
    pub job: JobRecord,
    pub group: u64,
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
    fn step(&self, store: &Store, job: &JobRecord, now: u64) -> Option<Result<Step, StoreError>> {
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

impl Store {
    /// Starts a mass enrolment of `group` by `actor`; returns the job's id. Refused (`Invalid`
    /// on `group`) while one runs for the same group; `NotFound` for a group that is not.
    pub fn start_mass_enrolment(&self, actor: Actor, group: u64) -> Result<u64, StoreError> {
        let _w = self.writing();
        let id = self.new_job_id()?;
        (&self.groups, &self.meta, &self.jobs).transaction(|(groups, meta, jobs)| {
            let key = id_key(group);
            let Some(bytes) = groups.get(key)? else {
                return abort(StoreError::NotFound("group"));
            };
            let rec: super::groups::GroupRecord = codec::decode(&key, &bytes).or_else(abort)?;
            if meta.get(running_key(group))?.is_some() {
                return abort(StoreError::invalid(
                    "group",
                    "A mass enrolment of this group is already running; its progress is shown \
                     below. Start another when it has finished.",
                ));
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

    /// The group's latest mass enrolment (running or finished), if it ever had one.
    pub fn last_mass_enrolment(&self, group: u64) -> Result<Option<MassEnrolment>, StoreError> {
        let Some(v) = self.meta.get(last_key(group))? else {
            return Ok(None);
        };
        let id = read_id("meta", &last_key(group), &v)?;
        Ok(self.get_job(id)?.map(|job| MassEnrolment { job, group }))
    }

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
            self.fail_job(job.id, "the group was deleted while it ran", now)?;
            return Ok(Step::Finished);
        }
        let courses = self.group_course_ids_with_curricula(group)?.len().max(1);
        let batch = (self.step_pairs() / courses).max(1);
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
            let Some(mut rec) = tx_step_job(jobs, job)? else {
                // This step ran already, or another runner took the job over.
                return Ok(());
            };
            if groups.get(id_key(group))?.is_none() {
                return Ok(());
            }
            let list = tx_group_courses(links, curricula, courses_t, group)?;
            let e = EnrolTrees {
                enrolments,
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
                let key = id_key(*user);
                let Some(bytes) = users.get(key)? else {
                    counts.missing += list.len() as u64;
                    failures.push(format!("user #{user} no longer exists"));
                    continue;
                };
                let u: UserRecord = codec::decode(&key, &bytes).or_else(abort)?;
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
            tx_put_job(jobs, &rec)
        })?;
        Ok(Step::More)
    }

    /// Marks the job done, lets go of the group's running mark and writes the summary to the
    /// group's activity, in one transaction.
    fn finish_mass_enrolment(
        &self,
        job: &JobRecord,
        group: u64,
        now: u64,
    ) -> Result<Step, StoreError> {
        let _w = self.writing();
        let event = self.new_id()?;
        (
            &self.jobs,
            &self.meta,
            &self.audit,
            &self.audit_index,
            &self.users,
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
    use super::*;
    use crate::model::group::{JoinedHow, KeySettings};
    use crate::server::store::courses::tests::course_fields;
    use crate::server::store::courses::CourseFields;
    use crate::server::store::groups::GroupFields;
    use crate::server::store::tests::temp_store;
    use crate::server::store::users::{PasswordHash, UserFields};
    use proptest::prelude::*;

    const ACTOR: Actor = Actor { user: 0, now: 1 };

    struct Setup {
        store: Store,
        _dir: tempfile::TempDir,
        group: u64,
        users: Vec<u64>,
        courses: Vec<u64>,
        archived: u64,
    }

    /// A group of `n` members (every fifth deactivated) with `m` courses of its own, one
    /// curriculum holding another course and an archived one; one member already enrolled by
    /// hand in the first course.
    fn setup(n: usize, m: usize) -> Setup {
        let (dir, s) = temp_store();
        let users: Vec<u64> = (0..n)
            .map(|i| {
                let f = UserFields {
                    login: format!("m{i}"),
                    email: format!("m{i}@x.org"),
                    display_name: format!("M {i}"),
                    role: crate::model::user::Role::Learner,
                };
                s.create_user(&f, &PasswordHash::from_phc("$x".into()), false, 0)
                    .unwrap()
                    .id
            })
            .collect();
        let f = GroupFields {
            name: "Cohort".into(),
            description: String::new(),
            branch: None,
            key: KeySettings::default(),
            is_default: false,
        };
        let group = s.create_group(ACTOR, &f).unwrap().0.id;
        let mut courses: Vec<u64> = (0..m)
            .map(|i| {
                s.create_course(&course_fields(&format!("MC{i}")), 0)
                    .unwrap()
                    .id
            })
            .collect();
        for c in &courses {
            s.link_group_course(ACTOR, group, *c, true).unwrap();
        }
        let via = s.create_course(&course_fields("VIA"), 0).unwrap().id;
        let archived = s
            .create_course(
                &CourseFields {
                    archived: true,
                    ..course_fields("OLD")
                },
                0,
            )
            .unwrap()
            .id;
        let cur = s.create_curriculum("Cohort path", "", 0).unwrap().id;
        for c in [via, archived] {
            s.change_curriculum(
                cur,
                crate::server::store::curricula::CurriculumChange::Add(c),
            )
            .unwrap();
        }
        s.link_group_curriculum(ACTOR, group, cur, true).unwrap();
        courses.push(via);
        for (i, u) in users.iter().enumerate() {
            s.add_member(ACTOR, group, *u, JoinedHow::Manual).unwrap();
            if i % 5 == 4 {
                s.set_active(*u, false).unwrap();
            }
        }
        s.enrol(users[0], courses[0], Source::Manual, 0).unwrap();
        Setup {
            store: s,
            _dir: dir,
            group,
            users,
            courses,
            archived,
        }
    }

    /// The (user, course) enrolments there are, each with its sources.
    fn state(s: &Setup) -> Vec<(u64, u64, Vec<Source>)> {
        let mut out = Vec::new();
        for u in &s.users {
            for c in s.courses.iter().chain([&s.archived]) {
                if let Some(sources) = s.store.enrolment_sources(*u, *c).unwrap() {
                    out.push((*u, *c, sources));
                }
            }
        }
        out
    }

    fn run(s: &Setup, job: u64) -> JobRecord {
        while s.store.run_job_step(job, 9).unwrap() == Step::More {}
        s.store.get_job(job).unwrap().unwrap()
    }

    #[test]
    fn a_mass_enrolment_makes_exactly_the_missing_pairs_and_says_so() {
        let s = setup(23, 3);
        let job = s.store.start_mass_enrolment(ACTOR, s.group).unwrap();
        // A second start while it runs is refused, and changes nothing.
        assert!(matches!(
            s.store.start_mass_enrolment(ACTOR, s.group),
            Err(StoreError::Invalid { field: "group", .. })
        ));
        let rec = run(&s, job);
        assert_eq!(rec.state, JobState::Done);
        let active = s.users.len() - s.users.len() / 5;
        let per_user = s.courses.len() as u64;
        assert_eq!(rec.counts.enrolled, active as u64 * per_user - 1);
        assert_eq!(rec.counts.already, 1, "the manual enrolment");
        assert_eq!(rec.counts.skipped_archived, active as u64);
        assert_eq!(
            rec.counts.skipped_inactive,
            (s.users.len() / 5) as u64 * (per_user + 1)
        );
        assert_eq!((rec.done, rec.total), (23, 23));
        for c in &s.courses {
            assert_eq!(s.store.enrolled_count(*c).unwrap(), active as u64);
        }
        assert_eq!(s.store.enrolled_count(s.archived).unwrap(), 0);
        let first = s
            .store
            .enrolment(s.users[0], s.courses[0])
            .unwrap()
            .unwrap();
        assert_eq!(first.enrolled_at, 0, "the manual enrolment kept its date");
        // The summary is in the activity.
        let activity = s.store.group_activity(s.group, 1).unwrap();
        assert!(
            activity[0].1.detail.contains("new enrolments"),
            "{:?}",
            activity[0].1
        );

        // Again right away: nothing new; a second start is allowed now.
        let again = s.store.start_mass_enrolment(ACTOR, s.group).unwrap();
        let before = state(&s);
        let rec = run(&s, again);
        assert_eq!(rec.counts.enrolled, 0);
        assert_eq!(rec.counts.already, active as u64 * per_user);
        assert_eq!(state(&s), before, "nothing written twice");
        assert_eq!(
            s.store
                .last_mass_enrolment(s.group)
                .unwrap()
                .unwrap()
                .job
                .id,
            again
        );
    }

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
            MassEnrolJob.step(&s.store, &stale, later).unwrap().unwrap(),
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

    /// A runner renews its lease only once half of it has passed, not with every step.
    #[test]
    fn a_lease_is_renewed_after_half_its_time() {
        use crate::server::store::jobs::LEASE_MS;
        let s = setup(6, 1);
        s.store.set_step_pairs(1);
        let job = s.store.start_mass_enrolment(ACTOR, s.group).unwrap();
        let until = |s: &Setup| s.store.get_job(job).unwrap().unwrap().lease.unwrap().until;
        assert_eq!(s.store.run_job_step(job, 1_000).unwrap(), Step::More);
        assert_eq!(until(&s), 1_000 + LEASE_MS);
        assert_eq!(
            s.store.run_job_step(job, 999 + LEASE_MS / 2).unwrap(),
            Step::More
        );
        assert_eq!(until(&s), 1_000 + LEASE_MS, "more than half left: kept");
        let later = 1_001 + LEASE_MS / 2;
        assert_eq!(s.store.run_job_step(job, later).unwrap(), Step::More);
        assert_eq!(until(&s), later + LEASE_MS, "renewed");
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

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
        /// Stopping after any number of steps (a crash between them) and finishing later gives
        /// the same enrolments as running straight through.
        #[test]
        fn resuming_from_any_cursor_gives_the_same_result(steps_before in 0usize..8) {
            let straight = setup(17, 2);
            let job = straight.store.start_mass_enrolment(ACTOR, straight.group).unwrap();
            let want = run(&straight, job);
            let want_state = state(&straight);

            let resumed = setup(17, 2);
            resumed.store.set_step_pairs(6);
            let job = resumed.store.start_mass_enrolment(ACTOR, resumed.group).unwrap();
            // Tiny steps, so the crash points fall inside the member list.
            let mut step = 0;
            while step < steps_before
                && resumed.store.run_job_step(job, 9).unwrap() == Step::More
            {
                step += 1;
            }
            // Whatever ran is on disk; the rest runs "after the restart".
            let got = run(&resumed, job);
            prop_assert_eq!(got.counts, want.counts);
            prop_assert_eq!(state(&resumed), want_state);
        }
    }
}
