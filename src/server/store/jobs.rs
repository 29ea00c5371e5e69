//! Background jobs: work too big for one transaction, or that must finish even if the server
//! stops half-way.
//!
//! Tree `jobs`: job id → [`JobRecord`] (kind, state, cursor, counts). A job is written in the
//! same transaction as whatever made it necessary (a group deleted, a course deleted, lessons
//! added), so it can never be forgotten; then [`Store::run_job_step`] does it in bounded steps.
//! Each step writes its effects and the job's new cursor in one transaction, so a step is
//! either wholly done or not at all, and a job interrupted by a crash resumes where it was at
//! the next start (`server/jobs.rs` runs them). Every step is also safe to run twice.

use super::codec::{self, id_key, read_id, Record};
use super::enrolments::{derive_progress, pair_key, ProgressRecord};
use super::groups::LinkKind;
use super::{abort, Store, StoreError};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

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
    const VERSION: u8 = 1;
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// More to do.
    More,
    /// The job is finished (now or before).
    Finished,
}

type Tx<T> = Result<T, ConflictableTransactionError<StoreError>>;

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

    /// Marks a job failed (it will not run again) with the reason, and lets go of what it held
    /// (a group's running mass enrolment).
    pub fn fail_job(&self, id: u64, reason: &str, now: u64) -> Result<(), StoreError> {
        let _w = self.writing();
        (&self.jobs, &self.meta, &self.imports, &self.messages).transaction(
            |(jobs, meta, imports, messages)| {
                let mut rec = tx_job(jobs, id)?;
                rec.state = JobState::Failed(reason.to_string());
                rec.finished_at = Some(now);
                match rec.kind {
                    JobKind::MassEnrol { group } => super::mass::tx_release(meta, group, id)?,
                    JobKind::ImportUsers { import } => {
                        super::imports::tx_import_failed(imports, import, reason, now)?
                    }
                    JobKind::DeliverMessage { message } => {
                        super::messages::tx_delivery_failed(messages, message)?
                    }
                    _ => {}
                }
                tx_put_job(jobs, &rec)
            },
        )?;
        Ok(())
    }

    /// Runs one bounded step of job `id`. A finished or failed job is `Finished` at once.
    pub fn run_job_step(&self, id: u64, now: u64) -> Result<Step, StoreError> {
        // A job whose record is gone was finished (delivery jobs remove theirs).
        let Some(rec) = self.get_job(id)? else {
            return Ok(Step::Finished);
        };
        if rec.state != JobState::Pending {
            return Ok(Step::Finished);
        }
        match &rec.kind {
            JobKind::SweepGroup { group } => self.sweep_group_step(&rec, *group, now),
            JobKind::CourseDeleted { course } => {
                let groups = self.unlink_deleted(*course, LinkKind::Course)?;
                let curricula = self.remove_deleted_course_from_curricula(*course)?;
                self.finish_job(id, groups + curricula, now)
            }
            JobKind::CurriculumDeleted { curriculum } => {
                let groups = self.unlink_deleted(*curriculum, LinkKind::Curriculum)?;
                self.finish_job(id, groups, now)
            }
            JobKind::LessonsAdded {
                course,
                old_lessons,
            } => self.keep_completions_step(&rec, *course, old_lessons, now),
            JobKind::MassEnrol { group } => self.mass_enrol_step(&rec, *group, now),
            JobKind::ImportUsers { import } => self.import_step(&rec, *import, now),
            JobKind::DeliverMessage { message } => self.deliver_step(&rec, *message, now),
        }
    }

    fn finish_job(&self, id: u64, handled: u64, now: u64) -> Result<Step, StoreError> {
        let _w = self.writing();
        self.jobs.transaction(|jobs| {
            let mut rec = tx_job(jobs, id)?;
            rec.done += handled;
            rec.state = JobState::Done;
            rec.finished_at = Some(now);
            tx_put_job(jobs, &rec)
        })?;
        Ok(Step::Finished)
    }

    /// A deleted group's memberships go [`STEP_BATCH`] at a time, then its managers and
    /// bulk-add reports. The group record is gone already, so no new ones can appear.
    fn sweep_group_step(&self, job: &JobRecord, group: u64, now: u64) -> Result<Step, StoreError> {
        let _w = self.writing();
        let members = ids_after(&self.group_members, "group_members", group, 0, STEP_BATCH)?;
        if !members.is_empty() {
            (&self.group_members, &self.user_groups, &self.jobs).transaction(
                |(gm, ug, jobs)| {
                    let mut rec = tx_job(jobs, job.id)?;
                    if rec.cursor != job.cursor || rec.state != JobState::Pending {
                        // Done by another run of this step already.
                        return Ok(());
                    }
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
        self.finish_job(job.id, 0, now)
    }

    /// Takes a deleted course out of every curriculum that still lists it.
    fn remove_deleted_course_from_curricula(&self, course: u64) -> Result<u64, StoreError> {
        let _w = self.writing();
        let curricula = self.curricula_of_course(course)?;
        for cur in &curricula {
            (&self.curricula, &self.course_curricula).transaction(|(curricula, links)| {
                super::curricula::tx_remove_course(curricula, links, *cur, course)
            })?;
        }
        Ok(curricula.len() as u64)
    }

    /// One batch of a course's learners, from the cursor on: whoever had completed the course
    /// with its old lessons gets that completion time in their history. Read and written in
    /// one transaction with the progress, so a "Mark as done" at the same moment is never lost.
    fn keep_completions_step(
        &self,
        job: &JobRecord,
        course: u64,
        old_lessons: &[u64],
        now: u64,
    ) -> Result<Step, StoreError> {
        let _w = self.writing();
        let users = ids_after(
            &self.course_users,
            "course_users",
            course,
            job.cursor,
            STEP_BATCH,
        )?;
        if users.is_empty() {
            return self.finish_job(job.id, 0, now);
        }
        let lessons: Vec<super::courses::LessonRecord> = old_lessons
            .iter()
            .map(|id| super::courses::LessonRecord {
                id: *id,
                title: String::new(),
                text: String::new(),
            })
            .collect();
        (&self.progress, &self.jobs).transaction(|(progress, jobs)| {
            let mut rec = tx_job(jobs, job.id)?;
            if rec.cursor != job.cursor || rec.state != JobState::Pending {
                return Ok(());
            }
            for user in &users {
                let key = pair_key(*user, course);
                let Some(bytes) = progress.get(key)? else {
                    continue;
                };
                let mut p: ProgressRecord = codec::decode(&key, &bytes).or_else(abort)?;
                // Only a completion from before the lessons were added (the job's creation, in
                // the same transaction as the change): finishing the old lessons afterwards is
                // not a completion of the course.
                if let Some(at) = derive_progress(&lessons, Some(&p))
                    .completed_at
                    .filter(|at| *at <= job.created_at)
                {
                    if !p.history.contains(&at) {
                        p.history.push(at);
                        progress.insert(&key, codec::encode(&p).or_else(abort)?)?;
                    }
                }
            }
            rec.done += users.len() as u64;
            rec.cursor = *users.last().unwrap_or(&0);
            tx_put_job(jobs, &rec)
        })?;
        Ok(Step::More)
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
    use crate::server::store::tests::{reopen, temp_store};
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
        let (_d, s) = temp_store();
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
