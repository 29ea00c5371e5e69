//! Jobs on PostgreSQL (table `jobs`; the interface and the contract: `store/jobs.rs`, the
//! behaviour: `sled/jobs.rs`): enqueueing a job in another operation's transaction, and the
//! runner. A runner takes a job with a lease in one conditional `UPDATE` (the row lock makes
//! two runners racing for it take turns, and the loser sees the winner's lease); each step
//! commits its effects with the job's new cursor in one transaction that first locks the job
//! row and checks it is still pending, at the step's cursor and held by the step's runner, so
//! a step whose lease was taken over writes nothing.
//!
//! **Kinds.** Each kind's step is one function listed in [`JOB_STEPS`], as sled's `JOB_STEPS`.
//! Every kind's step lives with its area (`messages.rs`, `mass.rs`, `imports.rs`, ...), which
//! is why [`PgStore::step_tx`] and [`Advance`] are open to the backend's files.

use super::super::jobs::{JobKind, JobRecord, JobState, Jobs, Lease, Step, LEASE_MS, STEP_BATCH};
use super::{PgError, PgStore};
use crate::server::store::{BackendError, StoreError};
use postgres::IsolationLevel;

/// The `jobs.kind` text, the `target_id` and the `old_lessons` of a kind.
fn kind_columns(kind: &JobKind) -> (&'static str, u64, Option<Vec<i64>>) {
    match kind {
        JobKind::SweepGroup { group } => ("sweep_group", *group, None),
        JobKind::CourseDeleted { course } => ("course_deleted", *course, None),
        JobKind::CurriculumDeleted { curriculum } => ("curriculum_deleted", *curriculum, None),
        JobKind::LessonsAdded {
            course,
            old_lessons,
        } => (
            "lessons_added",
            *course,
            Some(old_lessons.iter().map(|l| *l as i64).collect()),
        ),
        JobKind::MassEnrol { group } => ("mass_enrol", *group, None),
        JobKind::ImportUsers { import } => ("import_users", *import, None),
        JobKind::DeliverMessage { message } => ("deliver_message", *message, None),
    }
}

/// Writes a new job row for `rec`, in the caller's transaction.
pub(crate) fn insert(
    t: &mut postgres::Transaction<'_>,
    rec: &JobRecord,
) -> Result<(), postgres::Error> {
    let (kind, target, old_lessons) = kind_columns(&rec.kind);
    let (state, failure) = match &rec.state {
        JobState::Pending => ("pending", None),
        JobState::Done => ("done", None),
        JobState::Failed(why) => ("failed", Some(why.as_str())),
    };
    let c = &rec.counts;
    t.execute(
        "INSERT INTO jobs (id, kind, target_id, old_lessons, state, failure, cursor, done, total, \
         enrolled, already, skipped_archived, skipped_inactive, failed, failures, started_by, \
         created_at_ms, finished_at_ms, lease_holder, lease_until_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19, $20)",
        &[
            &(rec.id as i64),
            &kind,
            &(target as i64),
            &old_lessons,
            &state,
            &failure,
            &(rec.cursor as i64),
            &(rec.done as i64),
            &(rec.total as i64),
            &(c.enrolled as i64),
            &(c.already as i64),
            &(c.skipped_archived as i64),
            &(c.skipped_inactive as i64),
            &(c.failed as i64),
            &rec.failures,
            &(rec.started_by as i64),
            &(rec.created_at as i64),
            &rec.finished_at.map(|f| f as i64),
            &rec.lease.map(|l| l.holder as i64),
            &rec.lease.map(|l| l.until as i64),
        ],
    )?;
    Ok(())
}

/// Enqueues a new pending job of `kind` started by Tessera itself (as sled's `tx_enqueue`).
pub(crate) fn enqueue(
    t: &mut postgres::Transaction<'_>,
    id: u64,
    kind: JobKind,
    now: u64,
) -> Result<(), postgres::Error> {
    insert(t, &JobRecord::new(id, kind, 0, 0, now))
}

/// The columns of `jobs` that make a [`JobRecord`], in [`job_of`]'s order.
pub(crate) const JOB_COLUMNS: &str = "id, kind, target_id, old_lessons, state, failure, cursor, \
     done, total, enrolled, already, skipped_archived, skipped_inactive, failed, failures, \
     started_by, created_at_ms, finished_at_ms, lease_holder, lease_until_ms";

/// A row of [`JOB_COLUMNS`] as its record.
pub(crate) fn job_of(row: &postgres::Row) -> Result<JobRecord, super::super::StoreError> {
    use super::super::jobs::{JobCounts, Lease};
    let u = |i: usize| row.get::<_, i64>(i) as u64;
    let id = u(0);
    let target = u(2);
    let corrupt = |reason: String| super::super::StoreError::Corrupt {
        tree: "jobs",
        key: id.to_string(),
        reason,
    };
    let kind = match row.get::<_, &str>(1) {
        "sweep_group" => JobKind::SweepGroup { group: target },
        "course_deleted" => JobKind::CourseDeleted { course: target },
        "curriculum_deleted" => JobKind::CurriculumDeleted { curriculum: target },
        "lessons_added" => JobKind::LessonsAdded {
            course: target,
            old_lessons: row
                .get::<_, Option<Vec<i64>>>(3)
                .unwrap_or_default()
                .into_iter()
                .map(|l| l as u64)
                .collect(),
        },
        "mass_enrol" => JobKind::MassEnrol { group: target },
        "import_users" => JobKind::ImportUsers { import: target },
        "deliver_message" => JobKind::DeliverMessage { message: target },
        other => return Err(corrupt(format!("unknown kind {other}"))),
    };
    let state = match row.get::<_, &str>(4) {
        "pending" => JobState::Pending,
        "done" => JobState::Done,
        "failed" => JobState::Failed(row.get::<_, Option<String>>(5).unwrap_or_default()),
        other => return Err(corrupt(format!("unknown state {other}"))),
    };
    let holder = row.get::<_, Option<i64>>(18);
    let until = row.get::<_, Option<i64>>(19);
    Ok(JobRecord {
        id,
        kind,
        state,
        cursor: u(6),
        done: u(7),
        total: u(8),
        counts: JobCounts {
            enrolled: u(9),
            already: u(10),
            skipped_archived: u(11),
            skipped_inactive: u(12),
            failed: u(13),
        },
        failures: row.get(14),
        started_by: u(15),
        created_at: u(16),
        finished_at: row.get::<_, Option<i64>>(17).map(|f| f as u64),
        lease: holder.zip(until).map(|(h, t)| Lease {
            holder: h as u64,
            until: t as u64,
        }),
    })
}

/// Job `id`, if there is one.
pub(crate) fn get(
    c: &mut impl postgres::GenericClient,
    id: u64,
) -> Result<Option<JobRecord>, super::PgError> {
    let row = c.query_opt(
        &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"),
        &[&(id as i64)],
    )?;
    Ok(row.map(|r| job_of(&r)).transpose()?)
}

/// One step of a kind of job, run by the runner that holds `job` (see the module text).
type StepFn = fn(&PgStore, &JobRecord, u64) -> Result<Step, StoreError>;

/// Every kind of job (its `jobs.kind` text) and its step: a new kind is one more line here.
static JOB_STEPS: &[(&str, StepFn)] = &[
    ("sweep_group", sweep_group_step),
    ("course_deleted", course_deleted_step),
    ("curriculum_deleted", curriculum_deleted_step),
    ("lessons_added", lessons_added_step),
    ("mass_enrol", super::mass::mass_enrol_step),
    ("import_users", super::imports::import_step),
    ("deliver_message", super::messages::deliver_step),
];

/// Inside the transaction that marks job `id` (of `kind`, about `target`) failed: lets go of
/// what its kind holds, as sled's `JobSteps::failed` (a group's running mass enrolment).
fn failed(
    t: &mut postgres::Transaction<'_>,
    id: u64,
    kind: &str,
    target: i64,
    reason: &str,
    now: u64,
) -> Result<(), PgError> {
    match kind {
        "mass_enrol" => super::mass::release(t, target as u64, id),
        "import_users" => super::imports::failed(t, target as u64, reason, now),
        "deliver_message" => Ok(super::messages::delivery_failed(t, id)?),
        _ => Ok(()),
    }
}

/// What a step's body did: the entries it handled and the cursor to go on from, or that the
/// job is finished.
pub(crate) enum Advance {
    More { handled: u64, cursor: u64 },
    Finished { handled: u64 },
}

impl PgStore {
    /// Runs `body` and records what it did on `job`, in one transaction that first locks the
    /// job's row and checks it is as the step read it (pending, same cursor, same holder).
    /// When it is not, nothing is written: `Held` when another runner took the job over,
    /// `More` when this step ran already, `Finished` when the job is.
    pub(crate) fn step_tx(
        &self,
        job: &JobRecord,
        now: u64,
        body: impl FnMut(&mut postgres::Transaction<'_>) -> Result<Advance, PgError>,
    ) -> Result<Step, StoreError> {
        self.step_tx_at(IsolationLevel::ReadCommitted, job, now, body)
    }

    /// [`PgStore::step_tx`] at `isolation`: a step whose writes follow rules over several rows
    /// (enrolling a group's members) runs `SERIALIZABLE`, as the operations it races with do.
    pub(crate) fn step_tx_at(
        &self,
        isolation: IsolationLevel,
        job: &JobRecord,
        now: u64,
        mut body: impl FnMut(&mut postgres::Transaction<'_>) -> Result<Advance, PgError>,
    ) -> Result<Step, StoreError> {
        self.tx(isolation, |t| {
            let row = t.query_opt(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 FOR UPDATE"),
                &[&(job.id as i64)],
            )?;
            let Some(rec) = row.map(|r| job_of(&r)).transpose()? else {
                return Ok(Step::Finished);
            };
            let holder = |r: &JobRecord| r.lease.map(|l| l.holder);
            if rec.state != JobState::Pending {
                return Ok(Step::Finished);
            }
            if holder(&rec) != holder(job) {
                return Ok(Step::Held);
            }
            if rec.cursor != job.cursor {
                // This step ran already: the next one goes on from where it left the job.
                return Ok(Step::More);
            }
            match body(t)? {
                Advance::More { handled, cursor } => {
                    t.execute(
                        "UPDATE jobs SET done = done + $2, cursor = $3 WHERE id = $1",
                        &[&(job.id as i64), &(handled as i64), &(cursor as i64)],
                    )?;
                    Ok(Step::More)
                }
                Advance::Finished { handled } => {
                    t.execute(
                        "UPDATE jobs SET done = done + $2, state = 'done', finished_at_ms = $3 \
                         WHERE id = $1",
                        &[&(job.id as i64), &(handled as i64), &(now as i64)],
                    )?;
                    Ok(Step::Finished)
                }
            }
        })
    }
}

/// A step given a job of another kind than its own (its row's `kind` column and its record
/// disagree): a typed error, the job left pending, never a guess.
fn wrong_kind(_: &PgStore, job: &JobRecord, _: u64) -> Result<Step, StoreError> {
    let (kind, _, _) = kind_columns(&job.kind);
    Err(StoreError::Backend(BackendError::Other(format!(
        "job {} reached the step of another kind than its own ({kind})",
        job.id
    ))))
}

/// Removes a deleted group's memberships, then its managers, a batch a step, then its bulk-add
/// reports (their rows go with them by CASCADE). The group's tombstone row stays.
fn sweep_group_step(store: &PgStore, job: &JobRecord, now: u64) -> Result<Step, StoreError> {
    let JobKind::SweepGroup { group } = job.kind else {
        return wrong_kind(store, job, now);
    };
    let (gid, batch) = (group as i64, STEP_BATCH as i64);
    store.step_tx(job, now, |t| {
        let members: Vec<i64> = t
            .query(
                "DELETE FROM group_members WHERE group_id = $1 AND user_id IN (SELECT user_id \
                 FROM group_members WHERE group_id = $1 ORDER BY user_id LIMIT $2) \
                 RETURNING user_id",
                &[&gid, &batch],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if let Some(last) = members.iter().max() {
            return Ok(Advance::More {
                handled: members.len() as u64,
                cursor: *last as u64,
            });
        }
        let managers = t.execute(
            "DELETE FROM group_managers WHERE group_id = $1 AND user_id IN (SELECT user_id \
             FROM group_managers WHERE group_id = $1 ORDER BY user_id LIMIT $2)",
            &[&gid, &batch],
        )?;
        if managers > 0 {
            // Managers are not counted in `done` (as on sled); the cursor stays, which is
            // safe: deleting what is gone already deletes nothing.
            return Ok(Advance::More {
                handled: 0,
                cursor: job.cursor,
            });
        }
        t.execute("DELETE FROM bulk_results WHERE group_id = $1", &[&gid])?;
        Ok(Advance::Finished { handled: 0 })
    })
}

/// Detaches `target` from up to a batch of the groups that still link it in `table`
/// (`column`): closes the gap each link leaves in its group's positions and lowers the group's
/// count. Finished when no group links it any more.
fn unlink_step(
    store: &PgStore,
    job: &JobRecord,
    now: u64,
    (table, column, count): (&str, &str, &str),
    target: u64,
) -> Result<Step, StoreError> {
    let (target, batch) = (target as i64, STEP_BATCH as i64);
    store.step_tx(job, now, |t| {
        let groups: Vec<i64> = t
            .query(
                &format!(
                    "SELECT group_id FROM {table} WHERE {column} = $1 ORDER BY group_id \
                     LIMIT $2 FOR UPDATE"
                ),
                &[&target, &batch],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let Some(last) = groups.iter().max() else {
            return Ok(Advance::Finished { handled: 0 });
        };
        t.execute(
            &format!(
                "UPDATE {table} l SET position = l.position - 1 FROM {table} gone \
                 WHERE gone.{column} = $1 AND gone.group_id = ANY($2) \
                 AND l.group_id = gone.group_id AND l.position > gone.position"
            ),
            &[&target, &groups],
        )?;
        t.execute(
            &format!("DELETE FROM {table} WHERE {column} = $1 AND group_id = ANY($2)"),
            &[&target, &groups],
        )?;
        t.execute(
            &format!("UPDATE groups SET {count} = {count} - 1 WHERE id = ANY($1)"),
            &[&groups],
        )?;
        Ok(Advance::More {
            handled: groups.len() as u64,
            cursor: *last as u64,
        })
    })
}

/// Detaches a deleted course from the groups that still give it (its curricula let go of it in
/// `delete_course`'s own transaction).
fn course_deleted_step(store: &PgStore, job: &JobRecord, now: u64) -> Result<Step, StoreError> {
    let JobKind::CourseDeleted { course } = job.kind else {
        return wrong_kind(store, job, now);
    };
    let columns = ("group_courses", "course_id", "courses");
    unlink_step(store, job, now, columns, course)
}

/// Detaches a deleted curriculum from the groups that still give it.
fn curriculum_deleted_step(store: &PgStore, job: &JobRecord, now: u64) -> Result<Step, StoreError> {
    let JobKind::CurriculumDeleted { curriculum } = job.kind else {
        return wrong_kind(store, job, now);
    };
    let columns = ("group_curricula", "curriculum_id", "curricula");
    unlink_step(store, job, now, columns, curriculum)
}

/// Lessons were added to a course: each learner enrolled in it (a batch a step, in user id
/// order after the cursor) who had done every old lesson by the job's creation keeps that
/// completion (the last of those lessons' times) in their history, once.
fn lessons_added_step(store: &PgStore, job: &JobRecord, now: u64) -> Result<Step, StoreError> {
    let JobKind::LessonsAdded {
        course,
        old_lessons,
    } = &job.kind
    else {
        return wrong_kind(store, job, now);
    };
    let old: Vec<i64> = old_lessons.iter().map(|l| *l as i64).collect();
    let (course, batch) = (*course as i64, STEP_BATCH as i64);
    store.step_tx(job, now, |t| {
        let users: Vec<i64> = t
            .query(
                "SELECT user_id FROM enrolments WHERE course_id = $1 AND user_id > $2 \
                 ORDER BY user_id LIMIT $3",
                &[&course, &(job.cursor as i64), &batch],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let Some(last) = users.last() else {
            return Ok(Advance::Finished { handled: 0 });
        };
        if !old.is_empty() {
            // A completion: every old lesson done, at the last of their times, no later than
            // the change (finishing the old lessons afterwards is no past completion).
            t.execute(
                "INSERT INTO progress_history (user_id, course_id, position, completed_at_ms) \
                 SELECT c.user_id, $1, \
                   (SELECT coalesce(max(h.position) + 1, 0) FROM progress_history h \
                    WHERE h.user_id = c.user_id AND h.course_id = $1), c.at \
                 FROM (SELECT d.user_id, max(d.done_at_ms) AS at FROM progress_done d \
                       WHERE d.course_id = $1 AND d.user_id = ANY($2) AND d.lesson_id = ANY($3) \
                       GROUP BY d.user_id \
                       HAVING count(DISTINCT d.lesson_id) = cardinality($3)) c \
                 WHERE c.at <= $4 AND NOT EXISTS (SELECT 1 FROM progress_history h \
                   WHERE h.user_id = c.user_id AND h.course_id = $1 AND h.completed_at_ms = c.at)",
                &[&course, &users, &old, &(job.created_at as i64)],
            )?;
        }
        Ok(Advance::More {
            handled: users.len() as u64,
            cursor: *last as u64,
        })
    })
}

impl Jobs for PgStore {
    fn get_job(&self, id: u64) -> Result<Option<JobRecord>, StoreError> {
        Ok(get(&mut *self.conn()?, id)?)
    }

    fn pending_jobs(&self) -> Result<Vec<u64>, StoreError> {
        let rows = self
            .conn()?
            .query(
                "SELECT id FROM jobs WHERE state = 'pending' ORDER BY id",
                &[],
            )
            .map_err(PgError::from)?;
        Ok(rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect())
    }

    fn runner_id(&self) -> u64 {
        self.runner
    }

    fn take_job(&self, id: u64, runner: u64, now: u64) -> Result<Option<JobRecord>, StoreError> {
        // One statement: the row lock it takes makes a racing runner wait, then re-check the
        // condition against the winner's lease (READ COMMITTED re-evaluates the WHERE).
        let row = self
            .conn()?
            .query_opt(
                &format!(
                    "UPDATE jobs SET lease_holder = $2, lease_until_ms = $3 WHERE id = $1 \
                     AND state = 'pending' AND (lease_holder IS NULL OR lease_holder = $2 \
                     OR lease_until_ms <= $4) RETURNING {JOB_COLUMNS}"
                ),
                &[
                    &(id as i64),
                    &(runner as i64),
                    &(now.saturating_add(LEASE_MS) as i64),
                    &(now as i64),
                ],
            )
            .map_err(PgError::from)?;
        row.map(|r| job_of(&r)).transpose()
    }

    fn fail_job(&self, id: u64, reason: &str, now: u64) -> Result<(), StoreError> {
        super::refuse_nul("reason", reason)?;
        self.tx(IsolationLevel::ReadCommitted, |t| {
            let row = t.query_opt(
                "UPDATE jobs SET state = 'failed', failure = $2, finished_at_ms = $3 \
                 WHERE id = $1 RETURNING kind, target_id",
                &[&(id as i64), &reason, &(now as i64)],
            )?;
            let Some(row) = row else {
                return Err(StoreError::NotFound("job").into());
            };
            failed(t, id, row.get(0), row.get(1), reason, now)
        })
    }

    fn run_job_step(&self, id: u64, now: u64) -> Result<Step, StoreError> {
        self.run_job_step_as(self.runner, id, now)
    }

    fn run_job_step_as(&self, runner: u64, id: u64, now: u64) -> Result<Step, StoreError> {
        let Some(rec) = self.get_job(id)? else {
            return Ok(Step::Finished);
        };
        if rec.state != JobState::Pending {
            return Ok(Step::Finished);
        }
        // A lease of this runner's with more than half its time left is used as it is.
        let held = rec.lease.is_some_and(|l: Lease| {
            l.holder == runner && l.until.saturating_sub(now) > LEASE_MS / 2
        });
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
        let (kind, _, _) = kind_columns(&rec.kind);
        let step = JOB_STEPS
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, step)| *step)
            .ok_or_else(|| StoreError::Corrupt {
                tree: "jobs",
                key: id.to_string(),
                reason: format!("no job step does {kind}"),
            })?;
        step(self, &rec, now)
    }

    fn run_pending_jobs(&self, now: u64) -> Result<(), StoreError> {
        for id in self.pending_jobs()? {
            while self.run_job_step(id, now)? == Step::More {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::jobs::tests::{keyed_group, learners, ACTOR};
    use crate::server::store::postgres::tests::temp_pg_store;
    #[allow(unused_imports)]
    use crate::server::store::tests::prelude::*;

    fn members_of(s: &Store, g: u64) -> i64 {
        let pg = s
            .as_any()
            .downcast_ref::<PgStore>()
            .expect("a PostgreSQL store");
        pg.conn()
            .unwrap()
            .query_one(
                "SELECT count(*) FROM group_members WHERE group_id = $1",
                &[&(g as i64)],
            )
            .unwrap()
            .get(0)
    }

    /// Two runners on one database: while one holds a job the other is `Held`; once the lease
    /// has run out the other takes it over, and a step of the first one's, on the job as it
    /// read it, writes nothing. The sweep goes a batch a step.
    #[test]
    fn a_job_is_advanced_by_one_runner_at_a_time_and_taken_over_after_its_lease() {
        let Some((_db, pg)) = temp_pg_store() else {
            return;
        };
        let s = Store::new(pg);
        let n = STEP_BATCH * 2 + 3;
        let users = learners(&s, n);
        let g = keyed_group(&s, "Leased");
        for u in &users {
            s.add_member(ACTOR, g, *u, crate::model::group::JoinedHow::Manual)
                .unwrap();
        }
        let job = s.delete_group(ACTOR, g).unwrap();
        let (a, b, t0) = (11, 22, 1_000_000);
        assert_eq!(s.run_job_step_as(a, job, t0).unwrap(), Step::More);
        assert_eq!(members_of(&s, g), (n - STEP_BATCH) as i64);
        assert_eq!(s.run_job_step_as(b, job, t0 + 5).unwrap(), Step::Held);
        assert_eq!(members_of(&s, g), (n - STEP_BATCH) as i64);
        // A's view of the job before B takes it over: its step must write nothing.
        let stale = s.take_job(job, a, t0 + 10).unwrap().unwrap();
        let later = t0 + 10 + LEASE_MS;
        assert_eq!(s.run_job_step_as(b, job, later).unwrap(), Step::More);
        assert_eq!(members_of(&s, g), (n - 2 * STEP_BATCH) as i64);
        let pg = s.as_any().downcast_ref::<PgStore>().unwrap();
        assert_eq!(sweep_group_step(pg, &stale, later + 1).unwrap(), Step::Held);
        assert_eq!(members_of(&s, g), (n - 2 * STEP_BATCH) as i64);
        while s.run_job_step_as(b, job, later + 2).unwrap() == Step::More {}
        let rec = s.get_job(job).unwrap().unwrap();
        assert_eq!((rec.state, rec.done), (JobState::Done, n as u64));
        assert_eq!(members_of(&s, g), 0);
        assert!(s.pending_jobs().unwrap().is_empty());
        assert_eq!(
            s.run_job_step_as(a, job, later + 3).unwrap(),
            Step::Finished
        );
    }
}
