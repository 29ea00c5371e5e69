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

use crate::server::store::StoreError;

use super::groups::Actor;
use super::jobs::JobRecord;

/// What a mass enrolment did and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MassEnrolment {
    pub job: JobRecord,
    pub group: u64,
}

/// The store's operations on this area (see the contract in `store/mod.rs`).
pub trait MassEnrolments: Send + Sync {
    /// Starts a mass enrolment of `group` by `actor`; returns the job's id. Refused (`Invalid`
    /// on `group`) while one runs for the same group; `NotFound` for a group that is not.
    fn start_mass_enrolment(&self, actor: Actor, group: u64) -> Result<u64, StoreError>;

    /// The group's latest mass enrolment (running or finished), if it ever had one.
    fn last_mass_enrolment(&self, group: u64) -> Result<Option<MassEnrolment>, StoreError>;
}

/// (user, course) pairs written per step by default: short transactions keep other requests
/// fast (`SledStore::set_step_pairs` changes it).
pub const PAIRS_PER_STEP: usize = 2_000;

/// Reasons kept per job (the counts say how many failed in all).
pub const FAILURES_KEPT: usize = 20;

/// Why the job of a group deleted while its mass enrolment ran is stopped.
pub const GROUP_DELETED: &str = "the group was deleted while it ran";

/// The refusal of a second mass enrolment of a group while one runs.
pub fn already_running() -> StoreError {
    StoreError::invalid(
        "group",
        "A mass enrolment of this group is already running; its progress is shown below. Start \
         another when it has finished.",
    )
}

/// Members a step takes when the group gives `courses` courses: as many as fit in `pairs`
/// pairs, at least one.
pub fn members_per_step(pairs: usize, courses: usize) -> usize {
    (pairs / courses.max(1)).max(1)
}

/// The summary a finished mass enrolment writes to its group's activity: `by` is who started
/// it (a login, "Tessera", or "user #id" for one gone), `job` the finished job.
pub fn audit_detail(by: &str, job: &JobRecord, now: u64) -> String {
    let c = &job.counts;
    let secs = now.saturating_sub(job.created_at) / 1000;
    let mut detail = format!(
        "Mass enrolment started by {by}: {}; took {secs} s.",
        crate::model::group::mass_enrol_summary(
            job.done,
            c.enrolled,
            c.already,
            c.skipped_archived,
            c.skipped_inactive,
            c.failed,
        )
    );
    if !job.failures.is_empty() {
        detail.push_str(&format!(" Failures: {}.", job.failures.join("; ")));
    }
    detail
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    use crate::model::group::{JoinedHow, KeySettings};

    use crate::server::store::courses::tests::course_fields;

    use crate::server::store::courses::CourseFields;

    use crate::server::store::groups::GroupFields;

    #[allow(unused_imports)]
    use crate::server::store::tests::prelude::*;

    use crate::server::store::tests::temp_store;

    use crate::server::store::users::{PasswordHash, UserFields};

    use proptest::prelude::*;

    pub(crate) const ACTOR: Actor = Actor { user: 0, now: 1 };

    pub(crate) struct Setup {
        pub(crate) store: Store,
        pub(crate) _dir: crate::server::store::tests::TestPlace,
        pub(crate) group: u64,
        pub(crate) users: Vec<u64>,
        pub(crate) courses: Vec<u64>,
        pub(crate) archived: u64,
    }

    /// A group of `n` members (every fifth deactivated) with `m` courses of its own, one
    /// curriculum holding another course and an archived one; one member already enrolled by
    /// hand in the first course.
    pub(crate) fn setup(n: usize, m: usize) -> Setup {
        setup_in(temp_store(), n, m)
    }

    /// [`setup`] in the given (empty) store.
    pub(crate) fn setup_in(
        (dir, s): (crate::server::store::tests::TestPlace, Store),
        n: usize,
        m: usize,
    ) -> Setup {
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
    pub(crate) fn state(s: &Setup) -> Vec<(u64, u64, Vec<Source>)> {
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

    pub(crate) fn run(s: &Setup, job: u64) -> JobRecord {
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
        assert_eq!(
            s.store
                .enrolment_sources(s.users[0], s.courses[0])
                .unwrap()
                .unwrap(),
            vec![Source::Manual, Source::GroupSync(s.group)],
            "the group's source is added to the enrolment there was"
        );
        assert_eq!(
            s.store
                .enrolment_sources(s.users[1], s.courses[1])
                .unwrap()
                .unwrap(),
            vec![Source::GroupSync(s.group)]
        );
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

    /// Failing a running mass enrolment lets go of the group's running mark: another may
    /// start, and it is the group's latest.
    #[test]
    fn failing_a_mass_enrolment_lets_another_start() {
        let s = setup(3, 1);
        let job = s.store.start_mass_enrolment(ACTOR, s.group).unwrap();
        s.store.fail_job(job, "stopped by hand", 5).unwrap();
        let again = s.store.start_mass_enrolment(ACTOR, s.group).unwrap();
        let last = s.store.last_mass_enrolment(s.group).unwrap().unwrap();
        assert_eq!((last.job.id, last.group), (again, s.group));
        assert_eq!(
            s.store.get_job(job).unwrap().unwrap().state,
            JobState::Failed("stopped by hand".into())
        );
    }

    /// A group deleted while its mass enrolment runs stops the job, which says why; nothing
    /// more is enrolled through it. An unknown group cannot be started.
    #[test]
    fn a_group_deleted_mid_job_stops_it() {
        let s = setup(8, 1);
        s.store.set_step_pairs(3);
        let job = s.store.start_mass_enrolment(ACTOR, s.group).unwrap();
        assert_eq!(s.store.run_job_step(job, 9).unwrap(), Step::More);
        let before = state(&s);
        s.store.delete_group(ACTOR, s.group).unwrap();
        assert_eq!(s.store.run_job_step(job, 10).unwrap(), Step::Finished);
        let rec = s.store.get_job(job).unwrap().unwrap();
        assert_eq!(rec.state, JobState::Failed(GROUP_DELETED.into()));
        assert_eq!(state(&s), before);
        assert!(matches!(
            s.store.start_mass_enrolment(ACTOR, s.group),
            Err(StoreError::NotFound("group"))
        ));
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
