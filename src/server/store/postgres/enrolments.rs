//! The PostgreSQL backend's Enrolments (the interface: `crate::server::store::enrolments`;
//! the behaviour: `sled/enrolments.rs`): `enrolments` with their ordered `enrolment_sources`,
//! a course's learners in `courses.enrolled`, and progress in `progress`, `progress_done` and
//! `progress_history`. The enrolment writes a group join shares (`enrol`, `enrol_courses`,
//! `drop_group_sources`) live in `groups/members.rs` and are reused here.
//!
//! Isolation: every write is SERIALIZABLE (a learner count and an enrolment's sources change
//! together, and a course's archived flag decides whether a new enrolment is allowed). Single
//! reads are READ COMMITTED; an enrolment with its progress, and a page with its total, read one
//! snapshot (REPEATABLE READ).

use super::groups::links::course_records;
use super::groups::members::{enrol, enrol_courses};
use super::{PgError, PgStore};
use crate::model::catalog::{EnrolSummary, EnrolmentView, Progress};
use crate::server::store::courses::CourseRecord;
use crate::server::store::enrolments::{
    derive_progress, EnrolCounts, Enrolments, ProgressRecord, Source, MAX_BATCH_PAIRS,
};
use crate::server::store::StoreError;
use postgres::{IsolationLevel, Transaction};

/// The source a row of `enrolment_sources` holds (the inverse of `source_columns`).
fn source_of(kind: &str, ref_id: Option<i64>) -> Result<Source, StoreError> {
    let id = ref_id.map(|r| r as u64);
    Ok(match (kind, id) {
        ("manual", None) => Source::Manual,
        ("import", None) => Source::Import,
        ("curriculum", Some(c)) => Source::Curriculum(c),
        ("group_sync", Some(g)) => Source::GroupSync(g),
        ("group_key", Some(g)) => Source::GroupKey(g),
        ("default_group", Some(g)) => Source::DefaultGroup(g),
        ("import_group", Some(g)) => Source::ImportGroup(g),
        _ => {
            return Err(StoreError::Corrupt {
                tree: "enrolment_sources",
                key: String::new(),
                reason: format!("unknown source {kind} {ref_id:?}"),
            })
        }
    })
}

/// Refuses a user id with no row: `NotFound("user")`.
fn require_user(t: &mut Transaction<'_>, user: u64) -> Result<(), PgError> {
    if t.query_opt("SELECT 1 FROM users WHERE id = $1", &[&(user as i64)])?
        .is_none()
    {
        return Err(StoreError::NotFound("user").into());
    }
    Ok(())
}

/// Course `id` with its lessons, if it exists.
fn course(t: &mut Transaction<'_>, id: u64) -> Result<Option<CourseRecord>, PgError> {
    Ok(course_records(t, &[id])?.pop())
}

/// Whether `user` is enrolled in `course`.
fn is_enrolled(t: &mut Transaction<'_>, user: u64, course: u64) -> Result<bool, PgError> {
    Ok(t.query_opt(
        "SELECT 1 FROM enrolments WHERE user_id = $1 AND course_id = $2",
        &[&(user as i64), &(course as i64)],
    )?
    .is_some())
}

/// How many different ids there are.
fn distinct(ids: &[u64]) -> usize {
    let mut v = ids.to_vec();
    v.sort_unstable();
    v.dedup();
    v.len()
}

/// The enrolment's sources in order; empty when not enrolled (an enrolment has at least one).
fn sources(t: &mut Transaction<'_>, user: u64, course: u64) -> Result<Vec<Source>, PgError> {
    let rows = t.query(
        "SELECT kind, ref_id FROM enrolment_sources WHERE user_id = $1 AND course_id = $2 \
         ORDER BY position",
        &[&(user as i64), &(course as i64)],
    )?;
    rows.iter()
        .map(|r| source_of(r.get(0), r.get(1)).map_err(PgError::from))
        .collect()
}

/// The progress record of `user` in `course`, if there is one.
fn progress_record(
    t: &mut Transaction<'_>,
    user: u64,
    course: u64,
) -> Result<Option<ProgressRecord>, PgError> {
    let (u, c) = (user as i64, course as i64);
    if t.query_opt(
        "SELECT 1 FROM progress WHERE user_id = $1 AND course_id = $2",
        &[&u, &c],
    )?
    .is_none()
    {
        return Ok(None);
    }
    let done = t
        .query(
            "SELECT lesson_id, done_at_ms FROM progress_done WHERE user_id = $1 \
             AND course_id = $2 ORDER BY position",
            &[&u, &c],
        )?
        .iter()
        .map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, i64>(1) as u64))
        .collect();
    let history = t
        .query(
            "SELECT completed_at_ms FROM progress_history WHERE user_id = $1 \
             AND course_id = $2 ORDER BY position",
            &[&u, &c],
        )?
        .iter()
        .map(|r| r.get::<_, i64>(0) as u64)
        .collect();
    Ok(Some(ProgressRecord { done, history }))
}

/// Writes the lessons done of a progress record (its history untouched), creating the
/// record when there is none; positions are the list's, numbered from 0.
fn put_done(
    t: &mut Transaction<'_>,
    user: u64,
    course: u64,
    done: &[(u64, u64)],
) -> Result<(), PgError> {
    let (u, c) = (user as i64, course as i64);
    t.execute(
        "INSERT INTO progress (user_id, course_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&u, &c],
    )?;
    t.execute(
        "DELETE FROM progress_done WHERE user_id = $1 AND course_id = $2",
        &[&u, &c],
    )?;
    for (i, (lesson, at)) in done.iter().enumerate() {
        t.execute(
            "INSERT INTO progress_done (user_id, course_id, position, lesson_id, done_at_ms) \
             VALUES ($1, $2, $3, $4, $5)",
            &[&u, &c, &(i as i32), &(*lesson as i64), &(*at as i64)],
        )?;
    }
    Ok(())
}

/// The enrolment of `user` in `course` with progress (sled's `enrolment`): `None` when not
/// enrolled, `NotFound("course")` when the course is gone.
fn view(t: &mut Transaction<'_>, user: u64, course: u64) -> Result<Option<EnrolmentView>, PgError> {
    let Some(row) = t.query_opt(
        "SELECT enrolled_at_ms FROM enrolments WHERE user_id = $1 AND course_id = $2",
        &[&(user as i64), &(course as i64)],
    )?
    else {
        return Ok(None);
    };
    let enrolled_at = row.get::<_, i64>(0) as u64;
    let sources = sources(t, user, course)?;
    let c = self::course(t, course)?.ok_or(StoreError::NotFound("course"))?;
    let progress = derive_progress(&c.lessons, progress_record(t, user, course)?.as_ref());
    let first = sources.first().copied().unwrap_or(Source::Manual);
    let via_curriculum = sources.iter().find_map(|s| match s {
        Source::Curriculum(c) => Some(*c),
        _ => None,
    });
    Ok(Some(EnrolmentView {
        user_id: user,
        course_id: course,
        source: first.kind(),
        via_curriculum,
        enrolled_at,
        progress,
    }))
}

impl PgStore {
    /// A write of this area: SERIALIZABLE, retried on serialization failures.
    fn enrol_tx<T>(
        &self,
        body: impl FnMut(&mut Transaction<'_>) -> Result<T, PgError>,
    ) -> Result<T, StoreError> {
        self.tx(IsolationLevel::Serializable, body)
    }
}

impl Enrolments for PgStore {
    fn enrol(&self, user: u64, course: u64, source: Source, now: u64) -> Result<bool, StoreError> {
        self.enrol_tx(|t| {
            require_user(t, user)?;
            let c = self::course(t, course)?.ok_or(StoreError::NotFound("course"))?;
            if c.archived && !is_enrolled(t, user, course)? {
                return Err(StoreError::invalid(
                    "course",
                    "This course is archived and takes no new enrolments.",
                )
                .into());
            }
            Ok(enrol(t, user, course, source, now)?)
        })
    }

    fn enrol_curriculum(
        &self,
        user: u64,
        curriculum: u64,
        now: u64,
    ) -> Result<EnrolSummary, StoreError> {
        self.enrol_tx(|t| {
            require_user(t, user)?;
            let cur = curriculum as i64;
            if t.query_opt("SELECT 1 FROM curricula WHERE id = $1", &[&cur])?
                .is_none()
            {
                return Err(StoreError::NotFound("curriculum").into());
            }
            let ids: Vec<u64> = t
                .query(
                    "SELECT course_id FROM curriculum_courses WHERE curriculum_id = $1 \
                     ORDER BY position",
                    &[&cur],
                )?
                .iter()
                .map(|r| r.get::<_, i64>(0) as u64)
                .collect();
            let list = course_records(t, &ids)?;
            let mut counts = EnrolCounts::default();
            enrol_courses(
                t,
                &mut counts,
                user,
                &list,
                Source::Curriculum(curriculum),
                now,
            )?;
            Ok(EnrolSummary {
                enrolled: counts.enrolled as u32,
                already: counts.already as u32,
                skipped_archived: counts.skipped_archived as u32,
            })
        })
    }

    fn enrol_user_in_courses(
        &self,
        user: u64,
        courses: &[u64],
        source: Source,
        now: u64,
    ) -> Result<EnrolCounts, StoreError> {
        self.enrol_tx(|t| {
            require_user(t, user)?;
            let list = course_records(t, courses)?;
            let mut counts = EnrolCounts {
                missing: (distinct(courses) - list.len()) as u64,
                ..Default::default()
            };
            enrol_courses(t, &mut counts, user, &list, source, now)?;
            Ok(counts)
        })
    }

    fn enrol_users_in_courses(
        &self,
        users: &[u64],
        courses: &[u64],
        source: Source,
        now: u64,
    ) -> Result<EnrolCounts, StoreError> {
        if users.len().saturating_mul(courses.len()) > MAX_BATCH_PAIRS {
            return Err(StoreError::invalid(
                "batch",
                format!("At most {MAX_BATCH_PAIRS} enrolments per batch."),
            ));
        }
        self.enrol_tx(|t| {
            let list = course_records(t, courses)?;
            let gone_courses = (distinct(courses) - list.len()) as u64;
            let mut counts = EnrolCounts::default();
            for user in users {
                let active = t
                    .query_opt("SELECT active FROM users WHERE id = $1", &[&(*user as i64)])?
                    .map(|r| r.get::<_, bool>(0));
                let Some(active) = active else {
                    counts.missing += distinct(courses) as u64;
                    continue;
                };
                counts.missing += gone_courses;
                if !active {
                    counts.skipped_inactive += list.len() as u64;
                    continue;
                }
                enrol_courses(t, &mut counts, *user, &list, source, now)?;
            }
            Ok(counts)
        })
    }

    fn unenrol(&self, user: u64, course: u64, delete_progress: bool) -> Result<(), StoreError> {
        let (u, c) = (user as i64, course as i64);
        self.enrol_tx(|t| {
            // The sources go with the enrolment (ON DELETE CASCADE).
            let gone = t.execute(
                "DELETE FROM enrolments WHERE user_id = $1 AND course_id = $2",
                &[&u, &c],
            )?;
            if gone == 0 {
                return Err(StoreError::NotFound("enrolment").into());
            }
            t.execute(
                "UPDATE courses SET enrolled = greatest(enrolled - 1, 0) WHERE id = $1",
                &[&c],
            )?;
            if delete_progress {
                t.execute(
                    "DELETE FROM progress WHERE user_id = $1 AND course_id = $2",
                    &[&u, &c],
                )?;
            }
            Ok(())
        })
    }

    fn mark_lesson(
        &self,
        user: u64,
        course: u64,
        lesson: u64,
        done: bool,
        now: u64,
    ) -> Result<Progress, StoreError> {
        self.enrol_tx(|t| {
            if !is_enrolled(t, user, course)? {
                return Err(StoreError::NotFound("enrolment").into());
            }
            let c = self::course(t, course)?.ok_or(StoreError::NotFound("course"))?;
            if !c.lessons.iter().any(|l| l.id == lesson) {
                return Err(StoreError::NotFound("lesson").into());
            }
            let mut p = progress_record(t, user, course)?.unwrap_or_default();
            let has = p.done.iter().any(|(id, _)| *id == lesson);
            if done && !has {
                p.done.push((lesson, now));
            } else if !done && has {
                p.done.retain(|(id, _)| *id != lesson);
            }
            put_done(t, user, course, &p.done)?;
            Ok(derive_progress(&c.lessons, Some(&p)))
        })
    }

    fn enrolment_sources(&self, user: u64, course: u64) -> Result<Option<Vec<Source>>, StoreError> {
        self.tx(IsolationLevel::ReadCommitted, |t| {
            let s = sources(t, user, course)?;
            Ok((!s.is_empty()).then_some(s))
        })
    }

    fn enrolment(&self, user: u64, course: u64) -> Result<Option<EnrolmentView>, StoreError> {
        self.tx(IsolationLevel::RepeatableRead, |t| view(t, user, course))
    }

    fn enrolments_of_user(&self, user: u64) -> Result<Vec<EnrolmentView>, StoreError> {
        self.tx(IsolationLevel::RepeatableRead, |t| {
            let courses: Vec<u64> = t
                .query(
                    "SELECT course_id FROM enrolments WHERE user_id = $1 ORDER BY course_id",
                    &[&(user as i64)],
                )?
                .iter()
                .map(|r| r.get::<_, i64>(0) as u64)
                .collect();
            let mut out = Vec::with_capacity(courses.len());
            for course in courses {
                out.extend(view(t, user, course)?);
            }
            Ok(out)
        })
    }

    fn enrolments_of_course(
        &self,
        course: u64,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<EnrolmentView>, u64), StoreError> {
        let (skip, take) = super::groups::window(page, per_page);
        self.tx(IsolationLevel::RepeatableRead, |t| {
            let c = course as i64;
            let users: Vec<u64> = t
                .query(
                    "SELECT user_id FROM enrolments WHERE course_id = $1 ORDER BY user_id \
                     OFFSET $2 LIMIT $3",
                    &[&c, &(skip as i64), &(take as i64)],
                )?
                .iter()
                .map(|r| r.get::<_, i64>(0) as u64)
                .collect();
            let mut out = Vec::with_capacity(users.len());
            for user in users {
                out.extend(view(t, user, course)?);
            }
            let total = t
                .query_opt("SELECT enrolled FROM courses WHERE id = $1", &[&c])?
                .map_or(0, |r| r.get::<_, i64>(0) as u64);
            Ok((out, total))
        })
    }

    fn done_lessons(&self, user: u64, course: u64) -> Result<Vec<u64>, StoreError> {
        self.tx(IsolationLevel::ReadCommitted, |t| {
            Ok(t.query(
                "SELECT lesson_id FROM progress_done WHERE user_id = $1 AND course_id = $2 \
                 ORDER BY position",
                &[&(user as i64), &(course as i64)],
            )?
            .iter()
            .map(|r| r.get::<_, i64>(0) as u64)
            .collect())
        })
    }

    fn completion_history(&self, user: u64, course: u64) -> Result<Vec<u64>, StoreError> {
        self.tx(IsolationLevel::ReadCommitted, |t| {
            Ok(t.query(
                "SELECT completed_at_ms FROM progress_history WHERE user_id = $1 \
                 AND course_id = $2 ORDER BY position",
                &[&(user as i64), &(course as i64)],
            )?
            .iter()
            .map(|r| r.get::<_, i64>(0) as u64)
            .collect())
        })
    }
}
