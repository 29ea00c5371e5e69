//! The PostgreSQL backend's MassEnrolments (the interface and its rules: `store/mass.rs`; the
//! behaviour: `sled/mass.rs`) and the steps of its job kind, `mass_enrol`.
//!
//! A group's running mass enrolment and its latest are columns of the group's row
//! (`groups.mass_enrol_running`, `mass_enrol_last`: sled's `meta` keys). Starting one locks
//! that row, so two starts of one group queue and the second is refused; failing the job lets
//! go of the running mark in the failing transaction (`jobs.rs`, [`release`]).
//!
//! Each step is one transaction (`PgStore::step_tx_at`: the job's row locked and checked to be
//! as the step read it, pending, at the same cursor, held by the same runner). It takes the
//! next members after the cursor (user ids in order, as many as fit in `step_pairs` pairs with
//! the group's courses read in that same transaction), enrols them (a few statements for the
//! whole batch, [`enrol_batch`]), adds to the job's counts and moves the cursor. A step is done wholly or not at all: a runner that dies mid-step leaves
//! nothing of it, and the runner that takes the job over once the lease has run out resumes at
//! the cursor, so every pair is made once. A late step of a runner whose lease was taken over
//! finds the job changed and writes nothing.
//!
//! Isolation: starting and every step are `SERIALIZABLE`, like the operations they race with
//! (a member removed with their enrolments, a course linked to the group), so a member removed
//! while a step enrols them is either enrolled before the removal or not at all.

use super::audit;
use super::groups::links::group_courses;
use super::jobs::{self, Advance};
use super::{PgError, PgStore};
use crate::model::group::AuditAction;
use crate::server::store::courses::CourseRecord;
use crate::server::store::enrolments::EnrolCounts;
use crate::server::store::groups::Actor;
use crate::server::store::jobs::{JobKind, JobRecord, Step};
use crate::server::store::mass::*;
use crate::server::store::prelude::*;
use crate::server::store::StoreError;
use postgres::{IsolationLevel, Transaction};

/// Inside a transaction: lets go of `group`'s running mark if job `job` holds it.
pub(crate) fn release(t: &mut Transaction<'_>, group: u64, job: u64) -> Result<(), PgError> {
    t.execute(
        "UPDATE groups SET mass_enrol_running = NULL WHERE id = $1 AND mass_enrol_running = $2",
        &[&(group as i64), &(job as i64)],
    )?;
    Ok(())
}

/// Whether `group` is a live group.
fn live(t: &mut Transaction<'_>, group: u64) -> Result<bool, PgError> {
    Ok(t.query_opt(
        "SELECT 1 FROM groups WHERE id = $1 AND deleted_at_ms IS NULL",
        &[&(group as i64)],
    )?
    .is_some())
}

impl MassEnrolments for PgStore {
    fn start_mass_enrolment(&self, actor: Actor, group: u64) -> Result<u64, StoreError> {
        let id = self.new_id()?;
        self.write_tx(|t| {
            // The running mark counts only while its job is pending: a mark left by a job that
            // ended another way than through its steps or `fail_job` holds nothing.
            let row = t
                .query_opt(
                    "SELECT g.members, j.state FROM groups g \
                     LEFT JOIN jobs j ON j.id = g.mass_enrol_running \
                     WHERE g.id = $1 AND g.deleted_at_ms IS NULL FOR UPDATE OF g",
                    &[&(group as i64)],
                )?
                .ok_or(StoreError::NotFound("group"))?;
            if row.get::<_, Option<&str>>(1) == Some("pending") {
                return Err(already_running().into());
            }
            let job = JobRecord::new(
                id,
                JobKind::MassEnrol { group },
                row.get::<_, i64>(0) as u64,
                actor.user,
                actor.now,
            );
            jobs::insert(t, &job)?;
            t.execute(
                "UPDATE groups SET mass_enrol_running = $2, mass_enrol_last = $2 WHERE id = $1",
                &[&(group as i64), &(id as i64)],
            )?;
            Ok(id)
        })
    }

    fn last_mass_enrolment(&self, group: u64) -> Result<Option<MassEnrolment>, StoreError> {
        self.read_tx(|t| {
            let last = t
                .query_opt(
                    "SELECT mass_enrol_last FROM groups WHERE id = $1",
                    &[&(group as i64)],
                )?
                .and_then(|r| r.get::<_, Option<i64>>(0));
            let Some(id) = last else {
                return Ok(None);
            };
            Ok(jobs::get(t, id as u64)?.map(|job| MassEnrolment { job, group }))
        })
    }
}

/// One step of a mass enrolment (see the module text): the next members after the cursor, or,
/// when there are none left, the end: the job done, the running mark let go and the summary in
/// the group's activity, in one transaction.
pub(crate) fn mass_enrol_step(
    store: &PgStore,
    job: &JobRecord,
    now: u64,
) -> Result<Step, StoreError> {
    let JobKind::MassEnrol { group } = job.kind else {
        return Err(StoreError::Corrupt {
            tree: "jobs",
            key: job.id.to_string(),
            reason: "not a mass enrolment".into(),
        });
    };
    if !store.read_tx(|t| live(t, group))? {
        store.fail_job(job.id, GROUP_DELETED, now)?;
        return Ok(Step::Finished);
    }
    let pairs = store.step_pairs();
    // Drawn before the transaction, which may run again; used only by the last step.
    let event = store.new_id()?;
    store.step_tx_at(IsolationLevel::Serializable, job, now, |t| {
        if !live(t, group)? {
            // Deleted since it was looked at: nothing written; the next step stops the job.
            return Ok(Advance::More {
                handled: 0,
                cursor: job.cursor,
            });
        }
        let courses = group_courses(t, group)?;
        let batch = members_per_step(pairs, courses.len());
        // Cursor 0 is the beginning; otherwise the last member done.
        let from = if job.cursor == 0 { 0 } else { job.cursor + 1 };
        let members: Vec<(i64, Option<bool>)> = t
            .query(
                "SELECT m.user_id, u.active FROM group_members m \
                 LEFT JOIN users u ON u.id = m.user_id \
                 WHERE m.group_id = $1 AND m.user_id >= $2 ORDER BY m.user_id LIMIT $3",
                &[&(group as i64), &(from as i64), &(batch as i64)],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let Some(&(last, _)) = members.last() else {
            finish(t, job.id, group, event, now)?;
            return Ok(Advance::Finished { handled: 0 });
        };
        let mut counts = EnrolCounts::default();
        let mut failures = Vec::new();
        let per_user = courses.len() as u64;
        let mut active = Vec::with_capacity(members.len());
        for &(user, is_active) in &members {
            match is_active {
                None => {
                    counts.missing += per_user;
                    failures.push(format!("user #{user} no longer exists"));
                }
                Some(false) => counts.skipped_inactive += per_user,
                Some(true) => active.push(user),
            }
        }
        enrol_batch(t, &mut counts, &active, &courses, group, now)?;
        let handled = members.len() as i64;
        t.execute(
            "UPDATE jobs SET total = greatest(total, done + $2), enrolled = enrolled + $3, \
             already = already + $4, skipped_archived = skipped_archived + $5, \
             skipped_inactive = skipped_inactive + $6, failed = failed + $7, \
             failures = (failures || $8::text[])[1:$9] WHERE id = $1",
            &[
                &(job.id as i64),
                &handled,
                &(counts.enrolled as i64),
                &(counts.already as i64),
                &(counts.skipped_archived as i64),
                &(counts.skipped_inactive as i64),
                &(counts.missing as i64),
                &failures,
                &(FAILURES_KEPT as i32),
            ],
        )?;
        Ok(Advance::More {
            handled: handled as u64,
            cursor: last as u64,
        })
    })
}

/// Inside a step's transaction: enrols each of `users` (active members) in each of `courses`
/// with the source "group sync" of `group`, adding to `counts` exactly what enrolling pair by
/// pair (`groups/members.rs`, `enrol_courses`) would: a new enrolment, or the source added to
/// the one there is ("already"); an archived course takes no new enrolment. In a few
/// statements for the whole batch instead of three round trips a pair.
fn enrol_batch(
    t: &mut Transaction<'_>,
    counts: &mut EnrolCounts,
    users: &[i64],
    courses: &[CourseRecord],
    group: u64,
    now: u64,
) -> Result<(), PgError> {
    if users.is_empty() || courses.is_empty() {
        return Ok(());
    }
    let (archived, open): (Vec<&CourseRecord>, Vec<&CourseRecord>) =
        courses.iter().partition(|c| c.archived);
    let ids = |cs: &[&CourseRecord]| cs.iter().map(|c| c.id as i64).collect::<Vec<i64>>();
    let (archived, open) = (ids(&archived), ids(&open));
    let n = users.len() as u64;
    if !archived.is_empty() {
        let enrolled: i64 = t
            .query_one(
                "SELECT count(*) FROM enrolments WHERE user_id = ANY($1) AND course_id = ANY($2)",
                &[&users, &archived],
            )?
            .get(0);
        counts.already += enrolled as u64;
        counts.skipped_archived += n * archived.len() as u64 - enrolled as u64;
    }
    if open.is_empty() {
        return Ok(());
    }
    let new: Vec<i64> = t
        .query(
            "INSERT INTO enrolments (user_id, course_id, enrolled_at_ms) \
             SELECT u, c, $3 FROM unnest($1::bigint[]) AS u, unnest($2::bigint[]) AS c \
             ORDER BY u, c ON CONFLICT DO NOTHING RETURNING course_id",
            &[&users, &open, &(now as i64)],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    counts.enrolled += new.len() as u64;
    counts.already += n * open.len() as u64 - new.len() as u64;
    // The enrolments there were are locked (as `enrol` locks one) before their sources change.
    t.execute(
        "SELECT 1 FROM enrolments WHERE user_id = ANY($1) AND course_id = ANY($2) \
         ORDER BY user_id, course_id FOR UPDATE",
        &[&users, &open],
    )?;
    t.execute(
        "INSERT INTO enrolment_sources (user_id, course_id, position, kind, ref_id) \
         SELECT e.user_id, e.course_id, \
           (SELECT coalesce(max(s.position) + 1, 0) FROM enrolment_sources s \
            WHERE s.user_id = e.user_id AND s.course_id = e.course_id), 'group_sync', $3 \
         FROM enrolments e WHERE e.user_id = ANY($1) AND e.course_id = ANY($2) \
         AND NOT EXISTS (SELECT 1 FROM enrolment_sources s WHERE s.user_id = e.user_id \
           AND s.course_id = e.course_id AND s.kind = 'group_sync' AND s.ref_id = $3)",
        &[&users, &open, &(group as i64)],
    )?;
    t.execute(
        "UPDATE courses c SET enrolled = c.enrolled + n.k \
         FROM (SELECT course_id, count(*) AS k FROM unnest($1::bigint[]) AS course_id \
               GROUP BY course_id ORDER BY course_id) n \
         WHERE c.id = n.course_id",
        &[&new],
    )?;
    Ok(())
}

/// Inside the last step's transaction: the job's total is what it did, the group's running
/// mark goes, and the summary goes to the group's activity as event `event`.
fn finish(
    t: &mut Transaction<'_>,
    job: u64,
    group: u64,
    event: u64,
    now: u64,
) -> Result<(), PgError> {
    t.execute(
        "UPDATE jobs SET total = done WHERE id = $1",
        &[&(job as i64)],
    )?;
    let rec = jobs::get(t, job)?.ok_or(StoreError::NotFound("job"))?;
    release(t, group, job)?;
    let by = match rec.started_by {
        0 => "Tessera".to_string(),
        u => t
            .query_opt("SELECT login FROM users WHERE id = $1", &[&(u as i64)])?
            .map(|r| r.get(0))
            .unwrap_or_else(|| format!("user #{u}")),
    };
    let actor = Actor {
        user: rec.started_by,
        now,
    };
    audit::record(
        t,
        group,
        event,
        actor,
        AuditAction::MassEnrolment,
        audit_detail(&by, &rec, now),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::jobs::{JobState, LEASE_MS};
    use crate::server::store::mass::tests::{run, setup_in, state};
    use crate::server::store::postgres::tests::temp_pg_store;
    use crate::server::store::tests::{dump, TestPlace};
    use crate::server::store::Store;

    const ACTOR: Actor = Actor { user: 0, now: 1 };

    /// Two runners on one database: while A holds the job, B leaves it alone; once A's lease
    /// has run out (A died mid-job), B takes it over and finishes it, and A's late step, on the
    /// job as A read it, writes nothing. The enrolments and counts are one straight run's,
    /// none twice.
    #[test]
    fn a_job_whose_runner_stops_is_taken_over_after_its_lease_without_duplicates() {
        let (Some((db1, pg1)), Some((db2, pg2))) = (temp_pg_store(), temp_pg_store()) else {
            return;
        };
        let straight = setup_in((TestPlace::Database(db1), Store::new(pg1)), 17, 2);
        let job = straight
            .store
            .start_mass_enrolment(ACTOR, straight.group)
            .unwrap();
        let want = run(&straight, job);

        let s = setup_in((TestPlace::Database(db2), Store::new(pg2)), 17, 2);
        s.store.set_step_pairs(6);
        let job = s.store.start_mass_enrolment(ACTOR, s.group).unwrap();
        let (a, b, t0) = (11, 22, 1_000);
        assert_eq!(s.store.run_job_step_as(a, job, t0).unwrap(), Step::More);
        let before = dump(&s.store);
        assert_eq!(s.store.run_job_step_as(b, job, t0 + 5).unwrap(), Step::Held);
        assert_eq!(dump(&s.store), before, "B wrote nothing while A held it");

        let stale = s.store.take_job(job, a, t0 + 10).unwrap().unwrap();
        let later = t0 + 10 + LEASE_MS;
        assert_eq!(s.store.run_job_step_as(b, job, later).unwrap(), Step::More);
        let after_b = dump(&s.store);
        let pg = s.store.as_any().downcast_ref::<PgStore>().unwrap();
        assert_eq!(mass_enrol_step(pg, &stale, later).unwrap(), Step::Held);
        assert_eq!(dump(&s.store), after_b, "A's late step wrote nothing");
        assert_eq!(
            s.store.run_job_step_as(a, job, later + 1).unwrap(),
            Step::Held
        );

        while s.store.run_job_step_as(b, job, later + 2).unwrap() == Step::More {}
        let got = s.store.get_job(job).unwrap().unwrap();
        assert_eq!(got.state, JobState::Done);
        assert_eq!(got.counts, want.counts, "every pair once");
        assert_eq!(state(&s), state(&straight));
        // The running mark went with the end: another may start.
        assert!(s.store.start_mass_enrolment(ACTOR, s.group).is_ok());
    }
}
