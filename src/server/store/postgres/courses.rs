//! The PostgreSQL backend's Courses (the interface: `crate::server::store::courses`):
//! `courses` (the folded code unique; `enrolled` is the course's learners, kept by the
//! enrolments), its ordered `course_lessons`, and `course_suffixes` for search.
//!
//! Isolation: every write is SERIALIZABLE (a unique code; no learners when deleting). The
//! total is count(*) over the primary key (a catalogue's size, as the schema decides).

use super::search::{self, TermIndex};
use super::{refuse_nul, unique_violation, PgError, PgStore};
use crate::model::catalog::{CourseRow, CourseView, LessonView};
use crate::server::store::codec::fold;
use crate::server::store::courses::{
    CourseFields, CourseRecord, Courses, LessonChange, LessonRecord,
};
use crate::server::store::groups::{suffixes, SUFFIX_MAX};
use crate::server::store::{Core, StoreError};
use postgres::{IsolationLevel, Transaction};
use std::collections::HashSet;

/// `course_suffixes`.
const SUFFIXES: TermIndex = TermIndex {
    table: "course_suffixes",
    term: "suffix",
    id: "course_id",
};

const CODE_TAKEN: &str = "A course with this code already exists.";

/// Each suffix of the folded code and title (sled's `course_suffix` terms).
pub(crate) fn course_terms(code: &str, title: &str) -> Vec<String> {
    let mut terms = suffixes(code);
    terms.extend(suffixes(title));
    terms.sort();
    terms.dedup();
    terms
}

fn code_unique(e: postgres::Error) -> PgError {
    let e = PgError::Db(e);
    if unique_violation(&e, "courses_code_folded") {
        PgError::Store(StoreError::invalid("code", CODE_TAKEN))
    } else {
        e
    }
}

fn refuse_nul_fields(f: &CourseFields) -> Result<(), StoreError> {
    refuse_nul("code", &f.code)?;
    refuse_nul("title", &f.title)?;
    refuse_nul("description", &f.description)
}

/// Inside a transaction: course `id` with its lessons in order and its learners.
fn tx_get(
    t: &mut Transaction<'_>,
    id: u64,
    lock: bool,
) -> Result<Option<(CourseRecord, u64)>, PgError> {
    let sql = if lock {
        "SELECT id, code, title, description, archived, created_at_ms, enrolled FROM courses \
         WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT id, code, title, description, archived, created_at_ms, enrolled FROM courses \
         WHERE id = $1"
    };
    let Some(row) = t.query_opt(sql, &[&(id as i64)])? else {
        return Ok(None);
    };
    let lessons = t
        .query(
            "SELECT id, title, text FROM course_lessons WHERE course_id = $1 ORDER BY position",
            &[&(id as i64)],
        )?
        .iter()
        .map(|r| LessonRecord {
            id: r.get::<_, i64>(0) as u64,
            title: r.get(1),
            text: r.get(2),
        })
        .collect();
    Ok(Some((
        CourseRecord {
            id: row.get::<_, i64>(0) as u64,
            code: row.get(1),
            title: row.get(2),
            description: row.get(3),
            archived: row.get(4),
            lessons,
            created_at: row.get::<_, i64>(5) as u64,
        },
        row.get::<_, i64>(6) as u64,
    )))
}

fn tx_check_code(t: &mut Transaction<'_>, id: u64, folded: &str) -> Result<(), PgError> {
    if let Some(row) = t.query_opt("SELECT id FROM courses WHERE code_folded = $1", &[&folded])? {
        if row.get::<_, i64>(0) as u64 != id {
            return Err(StoreError::invalid("code", CODE_TAKEN).into());
        }
    }
    Ok(())
}

fn tx_count(t: &mut Transaction<'_>) -> Result<u64, PgError> {
    Ok(t.query_one("SELECT count(*) FROM courses", &[])?
        .get::<_, i64>(0) as u64)
}

/// Inside a transaction: writes the course's lessons in order.
fn tx_put_lessons(t: &mut Transaction<'_>, rec: &CourseRecord) -> Result<(), PgError> {
    let course = rec.id as i64;
    let ids: Vec<i64> = rec.lessons.iter().map(|l| l.id as i64).collect();
    t.execute(
        "DELETE FROM course_lessons WHERE course_id = $1 AND id <> ALL($2)",
        &[&course, &ids],
    )?;
    for (position, l) in rec.lessons.iter().enumerate() {
        t.execute(
            "INSERT INTO course_lessons (id, course_id, position, title, text) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET \
             position = EXCLUDED.position, title = EXCLUDED.title, text = EXCLUDED.text",
            &[
                &(l.id as i64),
                &course,
                &(position as i32),
                &l.title,
                &l.text,
            ],
        )?;
    }
    Ok(())
}

/// Inside a transaction: records a pending job (`kind`, its target, `old_lessons`).
fn tx_enqueue(
    t: &mut Transaction<'_>,
    job: u64,
    kind: &str,
    target: u64,
    old_lessons: Option<Vec<i64>>,
) -> Result<(), PgError> {
    t.execute(
        "INSERT INTO jobs (id, kind, target_id, old_lessons, state, failure, cursor, done, total, \
         enrolled, already, skipped_archived, skipped_inactive, failed, started_by, \
         created_at_ms) VALUES ($1, $2, $3, $4, 'pending', NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, $5)",
        &[
            &(job as i64),
            &kind,
            &(target as i64),
            &old_lessons,
            &(crate::server::store::now_ms() as i64),
        ],
    )?;
    Ok(())
}

impl Courses for PgStore {
    fn create_course(&self, f: &CourseFields, now: u64) -> Result<CourseView, StoreError> {
        refuse_nul_fields(f)?;
        let id = self.new_id()?;
        let rec = CourseRecord {
            id,
            code: f.code.clone(),
            title: f.title.clone(),
            description: f.description.clone(),
            archived: f.archived,
            lessons: Vec::new(),
            created_at: now,
        };
        self.tx(IsolationLevel::Serializable, |t| {
            let folded = fold(&rec.code);
            tx_check_code(t, id, &folded)?;
            t.execute(
                "INSERT INTO courses (id, code, code_folded, title, description, archived, \
                 created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &(id as i64),
                    &rec.code,
                    &folded,
                    &rec.title,
                    &rec.description,
                    &rec.archived,
                    &(now as i64),
                ],
            )
            .map_err(code_unique)?;
            search::set_terms(t, &SUFFIXES, id, &course_terms(&rec.code, &rec.title))
        })?;
        Ok(rec.view(0))
    }

    fn update_course(&self, id: u64, f: &CourseFields) -> Result<CourseView, StoreError> {
        refuse_nul_fields(f)?;
        self.tx(IsolationLevel::Serializable, |t| {
            let (old, enrolled) = tx_get(t, id, true)?.ok_or(StoreError::NotFound("course"))?;
            let rec = CourseRecord {
                code: f.code.clone(),
                title: f.title.clone(),
                description: f.description.clone(),
                archived: f.archived,
                ..old
            };
            let folded = fold(&rec.code);
            tx_check_code(t, id, &folded)?;
            t.execute(
                "UPDATE courses SET code = $2, code_folded = $3, title = $4, description = $5, \
                 archived = $6 WHERE id = $1",
                &[
                    &(id as i64),
                    &rec.code,
                    &folded,
                    &rec.title,
                    &rec.description,
                    &rec.archived,
                ],
            )
            .map_err(code_unique)?;
            search::set_terms(t, &SUFFIXES, id, &course_terms(&rec.code, &rec.title))?;
            Ok(rec.view(enrolled))
        })
    }

    fn get_course(&self, id: u64) -> Result<Option<CourseRecord>, StoreError> {
        self.tx(IsolationLevel::RepeatableRead, |t| {
            Ok(tx_get(t, id, false)?.map(|(c, _)| c))
        })
    }

    fn course_count(&self) -> Result<u64, StoreError> {
        self.tx(IsolationLevel::ReadCommitted, tx_count)
    }

    fn enrolled_count(&self, course: u64) -> Result<u64, StoreError> {
        self.tx(IsolationLevel::ReadCommitted, |t| {
            Ok(t.query_opt(
                "SELECT enrolled FROM courses WHERE id = $1",
                &[&(course as i64)],
            )?
            .map_or(0, |r| r.get::<_, i64>(0) as u64))
        })
    }

    fn change_lessons(
        &self,
        course: u64,
        change: LessonChange,
    ) -> Result<(Vec<LessonView>, Option<u64>), StoreError> {
        if let LessonChange::Add { title, text } | LessonChange::Edit { title, text, .. } = &change
        {
            refuse_nul("title", title)?;
            refuse_nul("text", text)?;
        }
        let new_id = self.new_id()?;
        let job = self.new_id()?;
        let (new, queued) = self.tx(IsolationLevel::Serializable, |t| {
            let (old, _) = tx_get(t, course, true)?.ok_or(StoreError::NotFound("course"))?;
            let mut rec = old.clone();
            let position = |lessons: &[LessonRecord], lesson: u64| {
                lessons
                    .iter()
                    .position(|l| l.id == lesson)
                    .ok_or(PgError::Store(StoreError::NotFound("lesson")))
            };
            match &change {
                LessonChange::Add { title, text } => rec.lessons.push(LessonRecord {
                    id: new_id,
                    title: title.clone(),
                    text: text.clone(),
                }),
                LessonChange::Edit {
                    lesson,
                    title,
                    text,
                } => {
                    let i = position(&rec.lessons, *lesson)?;
                    rec.lessons[i].title = title.clone();
                    rec.lessons[i].text = text.clone();
                }
                LessonChange::Move { lesson, by } => {
                    let i = position(&rec.lessons, *lesson)?;
                    let j = i as i64 + i64::from(*by);
                    if j >= 0 && (j as usize) < rec.lessons.len() {
                        rec.lessons.swap(i, j as usize);
                    }
                }
                LessonChange::Remove { lesson } => {
                    let i = position(&rec.lessons, *lesson)?;
                    rec.lessons.remove(i);
                }
            }
            tx_put_lessons(t, &rec)?;
            let queued = rec.lessons.len() > old.lessons.len() && !old.lessons.is_empty();
            if queued {
                let old_lessons = old.lessons.iter().map(|l| l.id as i64).collect();
                tx_enqueue(t, job, "lessons_added", course, Some(old_lessons))?;
            }
            Ok((rec, queued))
        })?;
        Ok((new.view(0).lessons, queued.then_some(job)))
    }

    /// Refused while learners are enrolled; the row goes (lessons, suffixes and curriculum
    /// links with it, by CASCADE) and the CourseDeleted job is recorded, in one transaction.
    fn delete_course(&self, id: u64) -> Result<u64, StoreError> {
        let job = self.new_id()?;
        self.tx(IsolationLevel::Serializable, |t| {
            let (_, enrolled) = tx_get(t, id, true)?.ok_or(StoreError::NotFound("course"))?;
            if enrolled > 0 {
                return Err(StoreError::invalid(
                    "course",
                    "Learners are enrolled in this course. Archive it instead, or unenrol them first.",
                )
                .into());
            }
            // Close the gaps the removed course leaves in its curricula's positions.
            t.execute(
                "UPDATE curriculum_courses c SET position = c.position - 1 \
                 FROM curriculum_courses gone WHERE gone.course_id = $1 \
                 AND c.curriculum_id = gone.curriculum_id AND c.position > gone.position",
                &[&(id as i64)],
            )?;
            t.execute(
                "DELETE FROM curriculum_courses WHERE course_id = $1",
                &[&(id as i64)],
            )?;
            t.execute("DELETE FROM courses WHERE id = $1", &[&(id as i64)])?;
            tx_enqueue(t, job, "course_deleted", id, None)?;
            Ok(job)
        })
    }

    fn list_courses(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<CourseRow>, u64, bool), StoreError> {
        self.courses_except(query, page, per_page, &HashSet::new())
    }

    fn courses_except(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
        except: &HashSet<u64>,
    ) -> Result<(Vec<CourseRow>, u64, bool), StoreError> {
        let (skip, take) = crate::server::store::page_window(page, per_page);
        let q = fold(query);
        let left_out: Vec<i64> = except.iter().map(|&i| i as i64).collect();
        self.tx(IsolationLevel::RepeatableRead, |t| {
            let (ids, total, capped) = if q.is_empty() {
                let ids = t
                    .query(
                        "SELECT id FROM courses WHERE id <> ALL($3) ORDER BY code_folded \
                         LIMIT $1 OFFSET $2",
                        &[&(take as i64), &(skip as i64), &left_out],
                    )?
                    .iter()
                    .map(|r| r.get::<_, i64>(0) as u64)
                    .collect();
                let total = tx_count(t)?.saturating_sub(except.len() as u64);
                (ids, total, false)
            } else {
                let prefix: String = q.chars().take(SUFFIX_MAX).collect();
                let long = prefix.len() < q.len();
                search::page_where(t, &SUFFIXES, &prefix, skip, take, |t, id| {
                    if except.contains(&id) {
                        return Ok(false);
                    }
                    if !long {
                        return Ok(true);
                    }
                    Ok(tx_get(t, id, false)?.is_some_and(|(c, _)| {
                        fold(&c.code).contains(&q) || fold(&c.title).contains(&q)
                    }))
                })?
            };
            ids.iter()
                .map(|&id| {
                    let (rec, enrolled) =
                        tx_get(t, id, false)?.ok_or(StoreError::NotFound("course"))?;
                    Ok(rec.row(enrolled))
                })
                .collect::<Result<Vec<_>, PgError>>()
                .map(|rows| (rows, total, capped))
        })
    }
}
