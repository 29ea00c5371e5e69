//! Courses and their ordered lessons.
//!
//! Trees: `courses` (id → [`CourseRecord`], lessons inline and in order), `course_code` (folded
//! code → id: uniqueness and code order), `course_suffix` (every suffix of the folded code and
//! title, cut to `groups::SUFFIX_MAX` characters, `0x00`, id: a part of either is a prefix of
//! one of them, so a prefix scan finds any part, costing the matches; see
//! [`Store::list_courses`]; built by the 4 → 5 migration, which drops schema 4's
//! `search_course`, whose words and whole fields matched only their starts). A course's enrolment count is the counter `count/course_users/<id>` kept by
//! `enrolments.rs`.

use super::codec::{self, fold, id_key, Record};
use super::enrolments::{derive_progress, pair_key, ProgressRecord};
use super::groups::LinkKind;
use super::jobs::{
    ids_after, tx_enqueue, tx_put_job, tx_step_job, JobKind, JobRecord, JobSteps, Step, STEP_BATCH,
};
use super::{abort, bump_counter, counter_key, read_counter, search, Store, StoreError};
use crate::model::catalog::{CourseRow, CourseStatus, CourseView, LessonView};
use crate::server::store::tx::tree_set;
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;
use std::collections::HashSet;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LessonRecord {
    /// Stable across edits and reordering: progress refers to it.
    pub id: u64,
    pub title: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CourseRecord {
    pub id: u64,
    pub code: String,
    pub title: String,
    pub description: String,
    pub archived: bool,
    pub lessons: Vec<LessonRecord>,
    pub created_at: u64,
}

impl Record for CourseRecord {
    const TREE: &'static str = "courses";
    const VERSION: u8 = 1;
}

impl CourseRecord {
    pub fn status(&self) -> CourseStatus {
        if self.archived {
            CourseStatus::Archived
        } else {
            CourseStatus::Active
        }
    }

    pub fn view(&self, enrolled: u64) -> CourseView {
        CourseView {
            id: self.id,
            code: self.code.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            status: self.status(),
            lessons: self
                .lessons
                .iter()
                .map(|l| LessonView {
                    id: l.id,
                    title: l.title.clone(),
                    text: l.text.clone(),
                })
                .collect(),
            enrolled,
        }
    }

    pub fn row(&self, enrolled: u64) -> CourseRow {
        CourseRow {
            id: self.id,
            code: self.code.clone(),
            title: self.title.clone(),
            status: self.status(),
            lessons: self.lessons.len() as u32,
            enrolled,
        }
    }
}

/// The validated fields of a course.
#[derive(Debug, Clone)]
pub struct CourseFields {
    pub code: String,
    pub title: String,
    pub description: String,
    pub archived: bool,
}

/// A change to a course's lessons.
#[derive(Debug, Clone)]
pub enum LessonChange {
    Add {
        title: String,
        text: String,
    },
    Edit {
        lesson: u64,
        title: String,
        text: String,
    },
    /// Moves a lesson up (-1) or down (+1) one place.
    Move {
        lesson: u64,
        by: i32,
    },
    Remove {
        lesson: u64,
    },
}

/// `count/courses`: how many courses there are (list totals without walking the tree).
pub(crate) const COUNT_COURSES: &str = "courses";

pub(crate) fn enrolled_counter(course: u64) -> String {
    format!("course_users/{course}")
}

type Tx<T> = Result<T, ConflictableTransactionError<StoreError>>;

/// The `course_suffix` terms of a course: each suffix of its folded code and of its folded
/// title (see the module docs).
pub(crate) fn course_terms(code: &str, title: &str) -> Vec<String> {
    let mut terms = super::groups::suffixes(code);
    terms.extend(super::groups::suffixes(title));
    terms.sort();
    terms.dedup();
    terms
}

pub(crate) fn tx_get_course(courses: &TransactionalTree, id: u64) -> Tx<Option<CourseRecord>> {
    let key = id_key(id);
    match courses.get(key)? {
        Some(b) => codec::decode(&key, &b).map(Some).or_else(abort),
        None => Ok(None),
    }
}

tree_set! {
    /// The trees deleting a course writes.
    struct DeleteCourseTx {
        courses, course_code, course_suffix, meta, curricula, course_curricula, jobs,
    }
}

/// Detaching a deleted course from the groups and curricula that still hold it
/// ([`JobKind::CourseDeleted`]).
pub(crate) struct CourseDeletedJob;

impl JobSteps for CourseDeletedJob {
    fn step(&self, store: &Store, job: &JobRecord, now: u64) -> Option<Result<Step, StoreError>> {
        let JobKind::CourseDeleted { course } = job.kind else {
            return None;
        };
        Some((|| {
            let groups = store.unlink_deleted(course, LinkKind::Course)?;
            let curricula = store.remove_deleted_course_from_curricula(course)?;
            store.finish_job(job, groups + curricula, now)
        })())
    }
}

/// Keeping past completions when lessons are added ([`JobKind::LessonsAdded`]).
pub(crate) struct LessonsAddedJob;

impl JobSteps for LessonsAddedJob {
    fn step(&self, store: &Store, job: &JobRecord, now: u64) -> Option<Result<Step, StoreError>> {
        let JobKind::LessonsAdded {
            course,
            old_lessons,
        } = &job.kind
        else {
            return None;
        };
        Some(store.keep_completions_step(job, *course, old_lessons, now))
    }
}

impl Store {
    /// Creates a course. The code must be unused (ignoring case).
    pub fn create_course(&self, f: &CourseFields, now: u64) -> Result<CourseView, StoreError> {
        let id = self.new_id()? + 1;
        let rec = CourseRecord {
            id,
            code: f.code.clone(),
            title: f.title.clone(),
            description: f.description.clone(),
            archived: f.archived,
            lessons: Vec::new(),
            created_at: now,
        };
        self.save_course(None, &rec)?;
        Ok(rec.view(0))
    }

    /// Changes a course's code, title, description and status.
    pub fn update_course(&self, id: u64, f: &CourseFields) -> Result<CourseView, StoreError> {
        let old = self.get_course(id)?.ok_or(StoreError::NotFound("course"))?;
        let rec = CourseRecord {
            code: f.code.clone(),
            title: f.title.clone(),
            description: f.description.clone(),
            archived: f.archived,
            ..old.clone()
        };
        self.save_course(Some(&old), &rec)?;
        Ok(rec.view(self.enrolled_count(id)?))
    }

    fn save_course(
        &self,
        old: Option<&CourseRecord>,
        rec: &CourseRecord,
    ) -> Result<(), StoreError> {
        let _w = self.writing();
        let id = rec.id;
        let bytes = codec::encode(rec)?;
        (
            &self.courses,
            &self.course_code,
            &self.course_suffix,
            &self.meta,
        )
            .transaction(|(courses, codes, search_t, meta)| {
                if tx_get_course(courses, id)?.as_ref() != old {
                    return abort(StoreError::invalid(
                        "code",
                        "This course was changed meanwhile; reload and try again.",
                    ));
                }
                let folded = fold(&rec.code);
                if let Some(owner) = codes.get(folded.as_bytes())? {
                    if owner.as_ref() != id_key(id) {
                        return abort(StoreError::invalid(
                            "code",
                            "A course with this code already exists.",
                        ));
                    }
                }
                if let Some(old) = old {
                    if fold(&old.code) != folded {
                        codes.remove(fold(&old.code).as_bytes())?;
                    }
                    for t in course_terms(&old.code, &old.title) {
                        search_t.remove(search::key(&t, id))?;
                    }
                }
                codes.insert(folded.as_bytes(), &id_key(id))?;
                for t in course_terms(&rec.code, &rec.title) {
                    search_t.insert(search::key(&t, id), &[])?;
                }
                if old.is_none() {
                    bump_counter(meta, COUNT_COURSES, 1)?;
                }
                courses.insert(&id_key(id), bytes.as_slice())?;
                Ok(())
            })?;
        Ok(())
    }

    pub fn get_course(&self, id: u64) -> Result<Option<CourseRecord>, StoreError> {
        let key = id_key(id);
        self.courses
            .get(key)?
            .map(|b| codec::decode(&key, &b))
            .transpose()
    }

    /// Number of courses (a stored counter: `Tree::len` would walk the whole tree).
    pub fn course_count(&self) -> Result<u64, StoreError> {
        Ok(read_counter(self.meta.get(counter_key(COUNT_COURSES))?))
    }

    /// Number of users enrolled in the course.
    pub fn enrolled_count(&self, course: u64) -> Result<u64, StoreError> {
        Ok(read_counter(
            self.meta.get(counter_key(&enrolled_counter(course)))?,
        ))
    }

    /// Applies a change to a course's lessons; returns the new lesson list. When lessons are
    /// added, a job recorded in the same transaction keeps, for each learner who had completed
    /// the course, that completion in their history (see `jobs.rs`); returns its id too.
    pub fn change_lessons(
        &self,
        course: u64,
        change: LessonChange,
    ) -> Result<(Vec<LessonView>, Option<u64>), StoreError> {
        let _w = self.writing();
        let new_id = self.new_id()? + 1;
        let job = self.new_job_id()?;
        let (new, queued) = (&self.courses, &self.jobs).transaction(|(courses, jobs)| {
            let Some(old) = tx_get_course(courses, course)? else {
                return abort(StoreError::NotFound("course"));
            };
            let mut rec = old.clone();
            let position = |lesson: u64| rec.lessons.iter().position(|l| l.id == lesson);
            match &change {
                LessonChange::Add { title, text } => {
                    rec.lessons.push(LessonRecord {
                        id: new_id,
                        title: title.clone(),
                        text: text.clone(),
                    });
                }
                LessonChange::Edit {
                    lesson,
                    title,
                    text,
                } => {
                    let Some(i) = position(*lesson) else {
                        return abort(StoreError::NotFound("lesson"));
                    };
                    rec.lessons[i].title = title.clone();
                    rec.lessons[i].text = text.clone();
                }
                LessonChange::Move { lesson, by } => {
                    let Some(i) = position(*lesson) else {
                        return abort(StoreError::NotFound("lesson"));
                    };
                    let j = i as i64 + i64::from(*by);
                    if j >= 0 && (j as usize) < rec.lessons.len() {
                        rec.lessons.swap(i, j as usize);
                    }
                }
                LessonChange::Remove { lesson } => {
                    let Some(i) = position(*lesson) else {
                        return abort(StoreError::NotFound("lesson"));
                    };
                    rec.lessons.remove(i);
                }
            }
            courses.insert(&id_key(course), codec::encode(&rec).or_else(abort)?)?;
            let queued = rec.lessons.len() > old.lessons.len() && !old.lessons.is_empty();
            if queued {
                let kind = JobKind::LessonsAdded {
                    course,
                    old_lessons: old.lessons.iter().map(|l| l.id).collect(),
                };
                tx_enqueue(jobs, job, kind, super::now_ms())?;
            }
            Ok((rec, queued))
        })?;
        Ok((new.view(0).lessons, queued.then_some(job)))
    }

    /// Deletes a course that nobody is enrolled in (archive it otherwise), and takes it out of
    /// the curricula that hold it, in one transaction. A job recorded in that transaction then
    /// detaches it from its groups and from any curriculum that added it meanwhile (see
    /// `jobs.rs`); returns its id.
    pub fn delete_course(&self, id: u64) -> Result<u64, StoreError> {
        let _w = self.writing();
        let curricula = self.curricula_of_course(id)?;
        let job = self.new_job_id()?;
        DeleteCourseTx::run(self, |t| {
            let DeleteCourseTx {
                courses,
                course_code: codes,
                course_suffix: search_t,
                meta,
                curricula: curricula_t,
                course_curricula: links,
                jobs,
            } = *t;
            let Some(rec) = tx_get_course(courses, id)? else {
                return abort(StoreError::NotFound("course"));
            };
            if read_counter(meta.get(counter_key(&enrolled_counter(id)))?) > 0 {
                return abort(StoreError::invalid(
                    "course",
                    "Learners are enrolled in this course. Archive it instead, or unenrol them first.",
                ));
            }
            courses.remove(&id_key(id))?;
            codes.remove(fold(&rec.code).as_bytes())?;
            for t in course_terms(&rec.code, &rec.title) {
                search_t.remove(search::key(&t, id))?;
            }
            for cur in &curricula {
                super::curricula::tx_remove_course(curricula_t, links, *cur, id)?;
            }
            bump_counter(meta, COUNT_COURSES, -1)?;
            tx_enqueue(
                jobs,
                job,
                JobKind::CourseDeleted { course: id },
                super::now_ms(),
            )
        })?;
        Ok(job)
    }

    /// A page of courses (from 1): in code order, or those with `query` in any part of their
    /// code or title, ignoring case. Returns `(rows, total, total_is_capped)`.
    pub fn list_courses(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<CourseRow>, u64, bool), StoreError> {
        self.courses_except(query, page, per_page, &HashSet::new())
    }

    /// [`Store::list_courses`] without the courses in `except` (those a group already gives,
    /// say). Without a query: the code index in order, skipping them. With one: the matches
    /// of the suffix index (any part of the code or title, ignoring case), counted up to
    /// [`search::TOTAL_CAP`]; a query longer than the indexed suffixes is checked against
    /// each matching course.
    pub fn courses_except(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
        except: &HashSet<u64>,
    ) -> Result<(Vec<CourseRow>, u64, bool), StoreError> {
        let (skip, take) = search::window(page, per_page);
        let q = fold(query);
        let (ids, total, capped) = if q.is_empty() {
            (
                search::by_name_except(&self.course_code, "course_code", skip, take, except)?,
                self.course_count()?.saturating_sub(except.len() as u64),
                false,
            )
        } else {
            let prefix: String = q.chars().take(super::groups::SUFFIX_MAX).collect();
            let long = prefix.len() < q.len();
            search::page_where(
                &self.course_suffix,
                "course_suffix",
                &prefix,
                skip,
                take,
                |id| {
                    if except.contains(&id) {
                        return Ok(false);
                    }
                    if !long {
                        return Ok(true);
                    }
                    Ok(self
                        .get_course(id)?
                        .is_some_and(|c| fold(&c.code).contains(&q) || fold(&c.title).contains(&q)))
                },
            )?
        };
        let rows = ids
            .into_iter()
            .map(|id| {
                let rec = self.get_course(id)?.ok_or(StoreError::NotFound("course"))?;
                Ok(rec.row(self.enrolled_count(id)?))
            })
            .collect::<Result<_, StoreError>>()?;
        Ok((rows, total, capped))
    }

    /// Builds `course_suffix` from the courses: emptied (it is empty but after a crash in this
    /// step), then each course's terms. Safe to run again (the 4 → 5 migration).
    pub(crate) fn rebuild_course_search(&self) -> Result<u64, StoreError> {
        self.course_suffix.clear()?;
        let mut batch = sled::Batch::default();
        let (mut pending, mut n) = (0usize, 0u64);
        for item in self.courses.iter() {
            let (k, v) = item?;
            let c: CourseRecord = codec::decode(&k, &v)?;
            for t in course_terms(&c.code, &c.title) {
                batch.insert(search::key(&t, c.id), &[]);
                pending += 1;
            }
            n += 1;
            if pending >= 10_000 {
                self.course_suffix.apply_batch(std::mem::take(&mut batch))?;
                pending = 0;
            }
        }
        self.course_suffix.apply_batch(batch)?;
        Ok(n)
    }
}

impl Store {
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
            return self.finish_job(job, 0, now);
        }
        let lessons: Vec<LessonRecord> = old_lessons
            .iter()
            .map(|id| LessonRecord {
                id: *id,
                title: String::new(),
                text: String::new(),
            })
            .collect();
        (&self.progress, &self.jobs).transaction(|(progress, jobs)| {
            let Some(mut rec) = tx_step_job(jobs, job)? else {
                return Ok(());
            };
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
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::server::store::tests::{sled_temp_store, temp_store};

    pub fn course_fields(code: &str) -> CourseFields {
        CourseFields {
            code: code.into(),
            title: format!("{code} title"),
            description: String::new(),
            archived: false,
        }
    }

    pub fn add_lesson(s: &Store, course: u64, title: &str) -> u64 {
        let lessons = s
            .change_lessons(
                course,
                LessonChange::Add {
                    title: title.into(),
                    text: "text".into(),
                },
            )
            .unwrap()
            .0;
        // The follow-up job (completions into history) runs at once, as the runner would.
        s.run_pending_jobs(0).unwrap();
        lessons.last().unwrap().id
    }

    #[test]
    fn codes_are_unique_ignoring_case_and_searchable() {
        let (_d, s) = temp_store();
        let c = s.create_course(&course_fields("PHY-101"), 0).unwrap();
        let err = s.create_course(&course_fields("phy-101"), 0).unwrap_err();
        assert!(matches!(err, StoreError::Invalid { field: "code", .. }));
        assert_eq!(s.list_courses("phy", 1, 20).unwrap().0[0].id, c.id);
        assert_eq!(s.list_courses("title", 1, 20).unwrap().1, 1);
        let mut f = course_fields("PHY-102");
        f.archived = true;
        let v = s.update_course(c.id, &f).unwrap();
        assert_eq!(v.status, CourseStatus::Archived);
        s.create_course(&course_fields("PHY-101"), 0).unwrap();
    }

    #[test]
    fn lessons_keep_ids_through_edit_move_remove() {
        let (_d, s) = temp_store();
        let c = s.create_course(&course_fields("C1"), 0).unwrap();
        let a = add_lesson(&s, c.id, "A");
        let b = add_lesson(&s, c.id, "B");
        let z = add_lesson(&s, c.id, "C");
        let order = |s: &Store| {
            s.get_course(c.id)
                .unwrap()
                .unwrap()
                .lessons
                .iter()
                .map(|l| l.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(order(&s), vec![a, b, z]);
        s.change_lessons(c.id, LessonChange::Move { lesson: z, by: -1 })
            .unwrap();
        assert_eq!(order(&s), vec![a, z, b]);
        s.change_lessons(c.id, LessonChange::Move { lesson: a, by: -1 })
            .unwrap();
        assert_eq!(
            order(&s),
            vec![a, z, b],
            "moving the first up changes nothing"
        );
        s.change_lessons(
            c.id,
            LessonChange::Edit {
                lesson: b,
                title: "B2".into(),
                text: "new".into(),
            },
        )
        .unwrap();
        assert_eq!(s.get_course(c.id).unwrap().unwrap().lessons[2].title, "B2");
        s.change_lessons(c.id, LessonChange::Remove { lesson: z })
            .unwrap();
        assert_eq!(order(&s), vec![a, b]);
        let err = s
            .change_lessons(c.id, LessonChange::Remove { lesson: 424242 })
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound("lesson")));
    }

    /// Figures for the any-part course search at 100,000 courses (run by hand:
    /// `cargo test --release --features ssr --lib course_search_at_scale -- --ignored
    /// --nocapture`): what a page of the Courses tab's list costs with and without a query,
    /// and how many index entries the courses take.
    #[test]
    #[ignore = "a measurement: minutes to build 100,000 courses"]
    fn course_search_at_scale() {
        let (_d, s) = sled_temp_store();
        let topics = [
            "Physics",
            "Chemistry",
            "Biology",
            "History",
            "Geography",
            "Music",
        ];
        let started = std::time::Instant::now();
        for i in 0..100_000u64 {
            let f = CourseFields {
                code: format!("C-{i:06}"),
                title: format!("Introduction to {} {}", topics[(i % 6) as usize], i / 6),
                description: String::new(),
                archived: false,
            };
            s.create_course(&f, 0).unwrap();
        }
        println!(
            "100,000 courses in {:?}; course_suffix holds {} entries",
            started.elapsed(),
            s.course_suffix.len()
        );
        let except: HashSet<u64> = HashSet::new();
        for q in ["", "ntro", "chem", "C-0999", "physics 1666", "zzz"] {
            let t = std::time::Instant::now();
            let (rows, total, capped) = s.courses_except(q, 1, 50, &except).unwrap();
            println!(
                "{q:?}: {} rows, total {total} (capped {capped}) in {:?}",
                rows.len(),
                t.elapsed()
            );
        }
    }
}
