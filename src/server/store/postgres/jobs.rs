//! Jobs on PostgreSQL (table `jobs`): what other areas' transactions need to enqueue one. The
//! runner (`Jobs`) comes with its area.

use super::super::jobs::{JobKind, JobRecord, JobState};

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
