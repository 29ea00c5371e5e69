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
//! held by the runner that read it ([`tx_step_job`]); a step whose lease was taken over writes
//! nothing. So several servers on one database can share the queue: a job is advanced by one
//! runner at a time and no step is done twice. (sled is opened by one process at a time, so
//! on sled a lease found at start is left over from a process that has gone and is dropped at
//! once: a restart resumes its jobs without waiting for the lease to run out.)
use super::codec::{self, id_key, read_id, Record};
use super::enrolments::pair_key;
use super::tx::tree_set;
use super::{abort, Store, StoreError};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

/// Entries a step handles at most (sled transactions hold a global lock: keep them short).
pub const STEP_BATCH: usize = 500;

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
struct JobRecordV1 {
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

type Tx<T> = Result<T, ConflictableTransactionError<StoreError>>;

/// How one kind of job does its work, implemented by the module that enqueues that kind and
/// listed in `JOB_STEPS` (`store/mod.rs`). Each method answers `None` for a kind it does not do.
pub(crate) trait JobSteps: Sync {
    /// Runs one bounded step of `job`, which this runner holds (see the module text). Its
    /// transactions check the hold with [`tx_step_job`]; it ends the job with [`Store::finish_job`]
    /// or in a transaction of its own.
    fn step(&self, store: &Store, job: &JobRecord, now: u64) -> Option<Result<Step, StoreError>>;

    /// Inside the transaction that marks `job` failed: lets go of what it holds (a running
    /// mark, an import's state). Kinds that hold nothing keep this default.
    fn failed(&self, t: &FailJobTx<'_>, job: &JobRecord, reason: &str, now: u64) -> Option<Tx<()>> {
        let _ = (t, job, reason, now);
        None
    }
}

tree_set! {
    /// The trees failing a job writes: the job, and what its kind lets go of.
    pub(crate) struct FailJobTx { jobs, meta, imports, messages }
}

/// Inside a step's transaction: the job as it is now, when it is still as the step read it
/// (`job`): pending, at the same cursor, held by the same runner. `None`: this step ran
/// already, or another runner took the job over after the lease ran out; the step then writes
/// nothing.
pub(crate) fn tx_step_job(jobs: &TransactionalTree, job: &JobRecord) -> Tx<Option<JobRecord>> {
    let rec = tx_job(jobs, job.id)?;
    let holder = |r: &JobRecord| r.lease.map(|l| l.holder);
    Ok(
        (rec.state == JobState::Pending && rec.cursor == job.cursor && holder(&rec) == holder(job))
            .then_some(rec),
    )
}

/// Inside a transaction: adds a pending job; its id was drawn before the transaction.
pub(crate) fn tx_enqueue(jobs: &TransactionalTree, id: u64, kind: JobKind, now: u64) -> Tx<()> {
    tx_put_job(jobs, &JobRecord::new(id, kind, 0, 0, now))
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

pub(crate) fn tx_job(jobs: &TransactionalTree, id: u64) -> Tx<JobRecord> {
    let key = id_key(id);
    match jobs.get(key)? {
        Some(b) => codec::decode(&key, &b).or_else(abort),
        None => abort(StoreError::NotFound("job")),
    }
}

pub(crate) fn tx_put_job(jobs: &TransactionalTree, rec: &JobRecord) -> Tx<()> {
    jobs.insert(&id_key(rec.id), codec::encode(rec).or_else(abort)?)?;
    Ok(())
}

/// The second ids of the first `limit` keys `prefix ++ id` of an index tree, from `after`
/// (exclusive) on.
pub(crate) fn ids_after(
    tree: &sled::Tree,
    name: &'static str,
    prefix: u64,
    after: u64,
    limit: usize,
) -> Result<Vec<u64>, StoreError> {
    let start = pair_key(prefix, after.saturating_add(u64::from(after != 0)));
    let end = pair_key(prefix, u64::MAX);
    let mut out = Vec::new();
    for item in tree.range(start..=end).take(limit) {
        let (k, _) = item?;
        out.push(read_id(name, &k, &k[8..])?);
    }
    Ok(out)
}

impl Store {
    /// Draws an id for a job to enqueue in a transaction (closures may re-run: ids are drawn
    /// outside them).
    pub(crate) fn new_job_id(&self) -> Result<u64, StoreError> {
        Ok(self.new_id()? + 1)
    }

    pub fn get_job(&self, id: u64) -> Result<Option<JobRecord>, StoreError> {
        let key = id_key(id);
        self.jobs
            .get(key)?
            .map(|b| codec::decode(&key, &b))
            .transpose()
    }

    /// Jobs not finished yet, oldest first. A record that cannot be read is logged and left
    /// out: it must not stop every other job.
    pub fn pending_jobs(&self) -> Result<Vec<u64>, StoreError> {
        let mut out = Vec::new();
        for item in self.jobs.iter() {
            let (k, v) = item?;
            match codec::decode::<JobRecord>(&k, &v) {
                Ok(rec) if rec.state == JobState::Pending => out.push(rec.id),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "a job record cannot be read; skipped"),
            }
        }
        Ok(out)
    }

    /// This open store's runner id: the holder of the leases its job runner takes. Random per
    /// opening, so two servers on one database never share one.
    pub fn runner_id(&self) -> u64 {
        self.runner
    }

    /// Takes job `id` for `runner` until `now + LEASE_MS`: when it is pending and nobody else
    /// holds it (no lease, its own, or one that has run out). Returns the job as taken, or
    /// `None` (finished, gone, or held by another runner).
    pub fn take_job(
        &self,
        id: u64,
        runner: u64,
        now: u64,
    ) -> Result<Option<JobRecord>, StoreError> {
        let _w = self.writing();
        let taken = self.jobs.transaction(|jobs| {
            let key = id_key(id);
            let Some(bytes) = jobs.get(key)? else {
                return Ok(None);
            };
            let mut rec: JobRecord = codec::decode(&key, &bytes).or_else(abort)?;
            let free = rec
                .lease
                .is_none_or(|l| l.holder == runner || l.until <= now);
            if rec.state != JobState::Pending || !free {
                return Ok(None);
            }
            rec.lease = Some(Lease {
                holder: runner,
                until: now.saturating_add(LEASE_MS),
            });
            tx_put_job(jobs, &rec)?;
            Ok(Some(rec))
        })?;
        Ok(taken)
    }

    /// Drops every lease the jobs hold: for a backend only one process opens (sled), whose
    /// leases found at start were left by a process that has gone.
    pub(crate) fn drop_leftover_leases(&self) -> Result<(), StoreError> {
        for item in self.jobs.iter() {
            let (k, v) = item?;
            let Ok(mut rec) = codec::decode::<JobRecord>(&k, &v) else {
                continue; // `pending_jobs` reports it
            };
            if rec.lease.take().is_some() {
                self.jobs.insert(k, codec::encode(&rec)?)?;
            }
        }
        Ok(())
    }

    /// Marks a job failed (it will not run again) with the reason, and lets go of what it held
    /// (a group's running mass enrolment).
    pub fn fail_job(&self, id: u64, reason: &str, now: u64) -> Result<(), StoreError> {
        let _w = self.writing();
        FailJobTx::run(self, |t| {
            let mut rec = tx_job(t.jobs, id)?;
            rec.state = JobState::Failed(reason.to_string());
            rec.finished_at = Some(now);
            super::JOB_STEPS
                .iter()
                .find_map(|kind| kind.failed(t, &rec, reason, now))
                .unwrap_or(Ok(()))?;
            tx_put_job(t.jobs, &rec)
        })
    }

    /// Runs one bounded step of job `id` as this store's runner. A finished or failed job is
    /// `Finished` at once; one another runner holds is `Held`.
    pub fn run_job_step(&self, id: u64, now: u64) -> Result<Step, StoreError> {
        self.run_job_step_as(self.runner, id, now)
    }

    /// [`Store::run_job_step`] for runner `runner` (tests run two on one store).
    pub fn run_job_step_as(&self, runner: u64, id: u64, now: u64) -> Result<Step, StoreError> {
        // A job whose record is gone was finished (delivery jobs remove theirs).
        let Some(rec) = self.get_job(id)? else {
            return Ok(Step::Finished);
        };
        if rec.state != JobState::Pending {
            return Ok(Step::Finished);
        }
        // A lease of this runner's with more than half its time left is used as it is: taking
        // it again each step would be one more transaction per step for nothing.
        let held = rec
            .lease
            .is_some_and(|l| l.holder == runner && l.until.saturating_sub(now) > LEASE_MS / 2);
        let rec = if held {
            rec
        } else {
            match self.take_job(id, runner, now)? {
                Some(rec) => rec,
                None => {
                    return Ok(match self.get_job(id)? {
                        Some(r) if r.state == JobState::Pending => Step::Held,
                        _ => Step::Finished,
                    })
                }
            }
        };
        super::JOB_STEPS
            .iter()
            .find_map(|kind| kind.step(self, &rec, now))
            .unwrap_or_else(|| {
                Err(StoreError::Corrupt {
                    tree: "jobs",
                    key: id.to_string(),
                    reason: format!("no job step does {:?}", rec.kind),
                })
            })
    }

    /// Ends `job` as done, `handled` more entries counted, unless another runner has it now.
    pub(crate) fn finish_job(
        &self,
        job: &JobRecord,
        handled: u64,
        now: u64,
    ) -> Result<Step, StoreError> {
        let _w = self.writing();
        self.jobs.transaction(|jobs| {
            let Some(mut rec) = tx_step_job(jobs, job)? else {
                return Ok(());
            };
            rec.done += handled;
            rec.state = JobState::Done;
            rec.finished_at = Some(now);
            tx_put_job(jobs, &rec)
        })?;
        Ok(Step::Finished)
    }

    /// Runs every pending job to its end, here and now (tests, and the offline tools).
    pub fn run_pending_jobs(&self, now: u64) -> Result<(), StoreError> {
        for id in self.pending_jobs()? {
            while self.run_job_step(id, now)? == Step::More {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::group::{JoinedHow, KeySettings};
    use crate::server::store::courses::tests::{add_lesson, course_fields};
    use crate::server::store::courses::LessonChange;
    use crate::server::store::enrolments::Source;
    use crate::server::store::groups::{Actor, GroupFields};
    use crate::server::store::tests::{reopen, sled_temp_store, temp_store};
    use crate::server::store::users::{PasswordHash, UserFields};

    const ACTOR: Actor = Actor { user: 0, now: 1 };

    fn learners(s: &Store, n: usize) -> Vec<u64> {
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

    fn keyed_group(s: &Store, name: &str) -> u64 {
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

    /// Deleting a big group is one small transaction (the group, its name and key gone at
    /// once); the memberships follow in bounded steps, and a step interrupted by a restart is
    /// picked up where it was.
    #[test]
    fn a_big_group_goes_at_once_and_its_memberships_in_steps_across_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let members = STEP_BATCH * 2 + 17;
        let (g, users, job) = {
            let s = Store::open(dir.path()).unwrap();
            let users = learners(&s, members);
            let g = keyed_group(&s, "Big Group");
            let entries: Vec<(u32, String)> = (0..members)
                .map(|i| (i as u32 + 1, format!("l{i}")))
                .collect();
            assert_eq!(
                s.bulk_add_members(ACTOR, g, &entries).unwrap().added as usize,
                members
            );
            s.set_group_manager(ACTOR, g, users[0], true).unwrap();
            let job = s.delete_group(ACTOR, g).unwrap();
            // Gone from every read at once; its name and key can be used again.
            assert_eq!(s.get_group(g).unwrap(), None);
            assert_eq!(s.default_group().unwrap(), None);
            assert!(s.groups_of_user(users[5]).unwrap().is_empty());
            assert!(!s.manages_any_group(users[0]).unwrap());
            let again = keyed_group(&s, "big group");
            s.delete_group(ACTOR, again).unwrap();
            // The memberships are still there for the job; one step takes one batch.
            assert_eq!(s.group_members.scan_prefix(id_key(g)).count(), members);
            assert_eq!(s.run_job_step(job, 2).unwrap(), Step::More);
            assert_eq!(
                s.group_members.scan_prefix(id_key(g)).count(),
                members - STEP_BATCH
            );
            let rec = s.get_job(job).unwrap().unwrap();
            assert_eq!(
                (rec.state.clone(), rec.done),
                (JobState::Pending, STEP_BATCH as u64)
            );
            s.flush().unwrap();
            (g, users, job)
        };
        // A restart: the job is still pending and finishes.
        let s = reopen(dir.path()).unwrap();
        assert!(s.pending_jobs().unwrap().contains(&job));
        s.run_pending_jobs(3).unwrap();
        let rec = s.get_job(job).unwrap().unwrap();
        assert_eq!((rec.state, rec.done), (JobState::Done, members as u64));
        assert!(s.group_members.scan_prefix(id_key(g)).next().is_none());
        for u in &users {
            assert!(s.user_groups.scan_prefix(id_key(*u)).next().is_none());
        }
        assert!(s.group_managers.scan_prefix(id_key(g)).next().is_none());
        assert!(s.pending_jobs().unwrap().is_empty());
        // A finished job run again does nothing.
        assert_eq!(s.run_job_step(job, 4).unwrap(), Step::Finished);
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

    /// A deleted group's managers go too, however many.
    #[test]
    fn the_sweep_takes_every_manager() {
        let (_d, s) = sled_temp_store();
        let users = learners(&s, STEP_BATCH + 3);
        let g = keyed_group(&s, "Managed");
        for u in &users {
            s.set_group_manager(ACTOR, g, *u, true).unwrap();
        }
        s.delete_group(ACTOR, g).unwrap();
        s.run_pending_jobs(2).unwrap();
        assert!(s.group_managers.scan_prefix(id_key(g)).next().is_none());
        for u in &users {
            assert!(s.manager_groups.scan_prefix(id_key(*u)).next().is_none());
        }
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
