//! Background jobs: work too big for one transaction, or that must finish even if the server
//! stops half-way.
//!
//! Tree `jobs`: job id → [`JobRecord`] (kind, state, cursor, counts). A job is written in the
//! same transaction as whatever made it necessary (a group deleted, a course deleted, lessons
//! added), so it can never be forgotten; then [`Store::run_job_step`] does it in bounded steps.
//! Each step writes its effects and the job's new cursor in one transaction, so a step is
//! either wholly done or not at all, and a job interrupted by a crash resumes where it was at
//! the next start (`server/job_runner.rs` runs them). Every step is also safe to run twice.
//!
//! **Kinds.** Each kind of job is done by the module that enqueues it, through [`JobSteps`];
//! `JOB_STEPS` in `store/mod.rs` lists them. This file knows the queue, not the work.
//!
//! **Leases.** A runner takes a job before a step ([`Store::take_job`]): the job records the
//! runner and until when it holds it ([`LEASE_MS`] from then); it takes it again once half of
//! that has passed. Another runner leaves a job
//! alone while its lease runs, and takes it over once the lease has run out (its holder died
//! or stalled). Every step's transaction checks, with the job's cursor, that the job is still
//! held by the runner that read it; a step whose lease was taken over writes
//! nothing. So several servers on one database can share the queue: a job is advanced by one
//! runner at a time and no step is done twice. A backend that only one process opens at a time
//! (the embedded one) drops the leases it finds when it opens: they are a gone process's, and a
//! restart resumes its jobs without waiting for them to run out.

use crate::server::store::StoreError;

use super::codec::Record;

use serde::{Deserialize, Serialize};

/// What a job does. Only ever append variants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobKind {
    /// Removes a deleted group's memberships, managers and bulk-add reports.
    SweepGroup { group: u64 },
    /// Detaches a deleted course from the groups and curricula that still hold it.
    CourseDeleted { course: u64 },
    /// Detaches a deleted curriculum from the groups that still hold it.
    CurriculumDeleted { curriculum: u64 },
    /// Lessons were added to a course: learners who had completed it (with `old_lessons`)
    /// keep that completion in their history.
    LessonsAdded { course: u64, old_lessons: Vec<u64> },
    /// Enrols every member of a group in every course it gives (see `mass.rs`).
    MassEnrol { group: u64 },
    /// Creates the users of an import (see `imports.rs`); the cursor is the next row.
    ImportUsers { import: u64 },
    /// Delivers a message to its group's members (see `messages.rs`); the cursor is the last
    /// member done.
    DeliverMessage { message: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobState {
    Pending,
    Done,
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: u64,
    pub kind: JobKind,
    pub state: JobState,
    /// Where the next step starts (meaning depends on the kind; 0 = the beginning).
    pub cursor: u64,
    /// Entries handled so far.
    pub done: u64,
    /// Entries to handle, when known at the start (0 otherwise).
    pub total: u64,
    /// What an enrolling job did, pair by pair.
    pub counts: JobCounts,
    /// Why pairs failed (the first few reasons).
    pub failures: Vec<String>,
    /// Who started it (0 = Tessera itself).
    pub started_by: u64,
    pub created_at: u64,
    pub finished_at: Option<u64>,
    /// The runner advancing it, and until when (see the module text). Appended in version 2:
    /// a version-1 record reads as held by nobody.
    pub lease: Option<Lease>,
}

/// A runner's hold on a job: `holder` (a runner's random id) advances it until `until` (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub holder: u64,
    pub until: u64,
}

/// How long a runner holds a job after taking it: far longer than a step (a bounded batch,
/// milliseconds to a second), short enough that a job whose server died is taken over soon.
pub const LEASE_MS: u64 = 30_000;

/// A job as version 1 stored it, frozen here.
#[derive(Deserialize)]
pub(crate) struct JobRecordV1 {
    id: u64,
    kind: JobKind,
    state: JobState,
    cursor: u64,
    done: u64,
    total: u64,
    counts: JobCounts,
    failures: Vec<String>,
    started_by: u64,
    created_at: u64,
    finished_at: Option<u64>,
}

impl From<JobRecordV1> for JobRecord {
    fn from(v: JobRecordV1) -> Self {
        JobRecord {
            id: v.id,
            kind: v.kind,
            state: v.state,
            cursor: v.cursor,
            done: v.done,
            total: v.total,
            counts: v.counts,
            failures: v.failures,
            started_by: v.started_by,
            created_at: v.created_at,
            finished_at: v.finished_at,
            lease: None,
        }
    }
}

/// The pairs an enrolling job enrolled, found enrolled, skipped and could not enrol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCounts {
    pub enrolled: u64,
    pub already: u64,
    pub skipped_archived: u64,
    pub skipped_inactive: u64,
    pub failed: u64,
}

impl Record for JobRecord {
    const TREE: &'static str = "jobs";
    const VERSION: u8 = 2;

    fn decode_older(version: u8, body: &[u8]) -> Option<Result<Self, postcard::Error>> {
        (version == 1).then(|| postcard::from_bytes::<JobRecordV1>(body).map(JobRecord::from))
    }
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// More to do.
    More,
    /// The job is finished (now or before).
    Finished,
    /// Another runner holds the job (its lease has not run out): nothing was done.
    Held,
}

impl JobRecord {
    /// A pending job, not started yet.
    pub(crate) fn new(id: u64, kind: JobKind, total: u64, started_by: u64, now: u64) -> Self {
        JobRecord {
            id,
            kind,
            state: JobState::Pending,
            cursor: 0,
            done: 0,
            total,
            counts: JobCounts::default(),
            failures: Vec::new(),
            started_by,
            created_at: now,
            finished_at: None,
            lease: None,
        }
    }
}

/// The store's operations on this area (see the contract in `store/mod.rs`).
pub trait Jobs: Send + Sync {
    fn get_job(&self, id: u64) -> Result<Option<JobRecord>, StoreError>;

    /// Jobs not finished yet, oldest first. A record that cannot be read is logged and left
    /// out: it must not stop every other job.
    fn pending_jobs(&self) -> Result<Vec<u64>, StoreError>;

    /// This open store's runner id: the holder of the leases its job runner takes. Random per
    /// opening, so two servers on one database never share one.
    fn runner_id(&self) -> u64;

    /// Takes job `id` for `runner` until `now + LEASE_MS`: when it is pending and nobody else
    /// holds it (no lease, its own, or one that has run out). Returns the job as taken, or
    /// `None` (finished, gone, or held by another runner).
    fn take_job(&self, id: u64, runner: u64, now: u64) -> Result<Option<JobRecord>, StoreError>;

    /// Marks a job failed (it will not run again) with the reason, and lets go of what it held
    /// (a group's running mass enrolment).
    fn fail_job(&self, id: u64, reason: &str, now: u64) -> Result<(), StoreError>;

    /// Runs one bounded step of job `id` as this store's runner. A finished or failed job is
    /// `Finished` at once; one another runner holds is `Held`.
    fn run_job_step(&self, id: u64, now: u64) -> Result<Step, StoreError>;

    /// [`Store::run_job_step`] for runner `runner` (tests run two on one store).
    fn run_job_step_as(&self, runner: u64, id: u64, now: u64) -> Result<Step, StoreError>;

    /// Runs every pending job to its end, here and now (tests, and the offline tools).
    fn run_pending_jobs(&self, now: u64) -> Result<(), StoreError>;
}

/// Entries a step handles at most: each step is one transaction, kept short so other writers
/// do not wait behind it.
pub const STEP_BATCH: usize = 500;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    use crate::model::group::{JoinedHow, KeySettings};

    use crate::server::store::courses::tests::{add_lesson, course_fields};

    use crate::server::store::courses::LessonChange;

    use crate::server::store::enrolments::Source;

    use crate::server::store::groups::{Actor, GroupFields};

    #[allow(unused_imports)]
    use crate::server::store::tests::prelude::*;

    use crate::server::store::tests::temp_store;

    use crate::server::store::users::{PasswordHash, UserFields};

    pub(crate) const ACTOR: Actor = Actor { user: 0, now: 1 };

    pub(crate) fn learners(s: &Store, n: usize) -> Vec<u64> {
        (0..n)
            .map(|i| {
                let f = UserFields {
                    login: format!("l{i}"),
                    email: format!("l{i}@x.org"),
                    display_name: format!("L {i}"),
                    role: crate::model::user::Role::Learner,
                };
                s.create_user(&f, &PasswordHash::from_phc("$x".into()), false, 0)
                    .unwrap()
                    .id
            })
            .collect()
    }

    pub(crate) fn keyed_group(s: &Store, name: &str) -> u64 {
        let f = GroupFields {
            name: name.into(),
            description: String::new(),
            branch: None,
            key: KeySettings {
                key: Some("SWEEP-KEY-1".into()),
                enabled: true,
                ..KeySettings::default()
            },
            is_default: true,
        };
        s.create_group(ACTOR, &f).unwrap().0.id
    }

    /// Adding a lesson while learners mark lessons done: no mark is lost, and whoever had
    /// completed the course keeps that completion in their history.
    #[test]
    fn marking_lessons_while_a_lesson_is_added_loses_nothing() {
        let (_d, s) = temp_store();
        let users = learners(&s, 600);
        let c = s.create_course(&course_fields("RACE"), 0).unwrap().id;
        let l1 = add_lesson(&s, c, "one");
        let l2 = add_lesson(&s, c, "two");
        for (i, u) in users.iter().enumerate() {
            s.enrol(*u, c, Source::Manual, 0).unwrap();
            s.mark_lesson(*u, c, l1, true, 10).unwrap();
            if i % 2 == 0 {
                s.mark_lesson(*u, c, l2, true, 20).unwrap();
            }
        }
        std::thread::scope(|scope| {
            let marker = scope.spawn(|| {
                // The learners who had not finished mark the second lesson now.
                for (i, u) in users.iter().enumerate() {
                    if i % 2 == 1 {
                        s.mark_lesson(*u, c, l2, true, 30).unwrap();
                    }
                }
            });
            let (_, job) = s
                .change_lessons(
                    c,
                    LessonChange::Add {
                        title: "three".into(),
                        text: String::new(),
                    },
                )
                .unwrap();
            let job = job.expect("a job for the new lesson");
            while s.run_job_step(job, 40).unwrap() == Step::More {}
            marker.join().unwrap();
        });
        for (i, u) in users.iter().enumerate() {
            let done = s.done_lessons(*u, c).unwrap();
            assert!(
                done.contains(&l1) && done.contains(&l2),
                "learner {i}: {done:?}"
            );
            let history = s.completion_history(*u, c).unwrap();
            if i % 2 == 0 {
                assert_eq!(history, vec![20], "learner {i} had completed it");
            }
        }
    }

    /// Finishing the old lessons after a lesson was added (before the job got to the learner)
    /// is not a completion of the course: nothing goes into the history.
    #[test]
    fn completing_the_old_lessons_after_the_change_is_no_past_completion() {
        let (_d, s) = temp_store();
        let u = learners(&s, 1)[0];
        let c = s.create_course(&course_fields("LATE"), 0).unwrap().id;
        let l1 = add_lesson(&s, c, "one");
        s.enrol(u, c, Source::Manual, 0).unwrap();
        let (_, job) = s
            .change_lessons(
                c,
                LessonChange::Add {
                    title: "two".into(),
                    text: String::new(),
                },
            )
            .unwrap();
        let created = s.get_job(job.unwrap()).unwrap().unwrap().created_at;
        s.mark_lesson(u, c, l1, true, created + 60_000).unwrap();
        s.run_pending_jobs(created + 120_000).unwrap();
        assert!(s.completion_history(u, c).unwrap().is_empty());
    }

    #[test]
    fn a_deleted_course_leaves_its_groups_and_curricula_through_its_job() {
        let (_d, s) = temp_store();
        let c = s.create_course(&course_fields("GONE"), 0).unwrap().id;
        let keep = s.create_course(&course_fields("KEEP"), 0).unwrap().id;
        let g = keyed_group(&s, "G");
        s.link_group_course(ACTOR, g, c, true).unwrap();
        s.link_group_course(ACTOR, g, keep, true).unwrap();
        let job = s.delete_course(c).unwrap();
        assert_eq!(s.get_job(job).unwrap().unwrap().state, JobState::Pending);
        s.run_pending_jobs(2).unwrap();
        assert_eq!(s.group_links(g).unwrap().0, vec![keep]);
        assert_eq!(s.get_group(g).unwrap().unwrap().courses, 1);
        let u = learners(&s, 1)[0];
        s.add_member(ACTOR, g, u, JoinedHow::Manual).unwrap();
        assert_eq!(s.group_course_ids_with_curricula(g).unwrap(), vec![keep]);
    }
}
