//! The sled backend's Courses (the interface: `crate::server::store::courses`).

pub(crate) use crate::server::store::courses::*;

#[allow(unused_imports)]
use crate::server::store::prelude::*;
use crate::server::store::sled::tables::{of, TxOf};

use super::codec::{fold, id_key};
use super::enrolments::derive_progress;
use super::groups::LinkKind;
use super::jobs::{
    ids_after, tx_enqueue, tx_put_job, tx_step_job, JobKind, JobRecord, JobSteps, Step, STEP_BATCH,
};
use super::{abort, bump_counter, counter_key, read_counter, search, SledStore, StoreError};
use crate::model::catalog::{CourseRow, CourseView, LessonView};
use crate::server::store::sled::tx::tree_set;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;
use std::collections::HashSet;

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
    TxOf::<of::courses>::from(courses).row(id)
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
    fn step(
        &self,
        store: &SledStore,
        job: &JobRecord,
        now: u64,
    ) -> Option<Result<Step, StoreError>> {
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
    fn step(
        &self,
        store: &SledStore,
        job: &JobRecord,
        now: u64,
    ) -> Option<Result<Step, StoreError>> {
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

impl Courses for SledStore {
    fn create_course(&self, f: &CourseFields, now: u64) -> Result<CourseView, StoreError> {
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

    fn update_course(&self, id: u64, f: &CourseFields) -> Result<CourseView, StoreError> {
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

    fn get_course(&self, id: u64) -> Result<Option<CourseRecord>, StoreError> {
        self.courses.row(id)
    }

    fn course_count(&self) -> Result<u64, StoreError> {
        Ok(read_counter(self.meta.get(counter_key(COUNT_COURSES))?))
    }

    fn enrolled_count(&self, course: u64) -> Result<u64, StoreError> {
        Ok(read_counter(
            self.meta.get(counter_key(&enrolled_counter(course)))?,
        ))
    }

    fn change_lessons(
        &self,
        course: u64,
        change: LessonChange,
    ) -> Result<(Vec<LessonView>, Option<u64>), StoreError> {
        let _w = self.writing();
        let new_id = self.new_id()? + 1;
        let job = self.new_job_id()?;
        let (new, queued) = (&*self.courses, &*self.jobs).transaction(|(courses, jobs)| {
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
            TxOf::<of::courses>::from(courses).put(course, &rec)?;
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

    fn delete_course(&self, id: u64) -> Result<u64, StoreError> {
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
            let Some(rec) = tx_get_course(&courses, id)? else {
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
                super::curricula::tx_remove_course(&curricula_t, links, *cur, id)?;
            }
            bump_counter(meta, COUNT_COURSES, -1)?;
            tx_enqueue(
                &jobs,
                job,
                JobKind::CourseDeleted { course: id },
                super::now_ms(),
            )
        })?;
        Ok(job)
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
}

impl SledStore {
    pub(crate) fn save_course(
        &self,
        old: Option<&CourseRecord>,
        rec: &CourseRecord,
    ) -> Result<(), StoreError> {
        let _w = self.writing();
        let id = rec.id;
        let bytes = self.courses.encode(rec)?;
        (
            &*self.courses,
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

    /// Builds `course_suffix` from the courses: emptied (it is empty but after a crash in this
    /// step), then each course's terms. Safe to run again (the 4 → 5 migration).
    pub(crate) fn rebuild_course_search(&self) -> Result<u64, StoreError> {
        self.course_suffix.clear()?;
        let mut batch = sled::Batch::default();
        let (mut pending, mut n) = (0usize, 0u64);
        for item in self.courses.iter() {
            let (_, c) = self.courses.decode_row(item)?;
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

    /// Takes a deleted course out of every curriculum that still lists it.
    pub(crate) fn remove_deleted_course_from_curricula(
        &self,
        course: u64,
    ) -> Result<u64, StoreError> {
        let _w = self.writing();
        let curricula = self.curricula_of_course(course)?;
        for cur in &curricula {
            (&*self.curricula, &self.course_curricula).transaction(|(curricula, links)| {
                super::curricula::tx_remove_course(curricula, links, *cur, course)
            })?;
        }
        Ok(curricula.len() as u64)
    }

    /// One batch of a course's learners, from the cursor on: whoever had completed the course
    /// with its old lessons gets that completion time in their history. Read and written in
    /// one transaction with the progress, so a "Mark as done" at the same moment is never lost.
    pub(crate) fn keep_completions_step(
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
        (&*self.progress, &*self.jobs).transaction(|(progress, jobs)| {
            let progress = TxOf::<of::progress>::from(progress);
            let Some(mut rec) = tx_step_job(jobs, job)? else {
                return Ok(());
            };
            for user in &users {
                let Some(mut p) = progress.row((*user, course))? else {
                    continue;
                };
                // Only a completion from before the lessons were added (the job's creation, in
                // the same transaction as the change): finishing the old lessons afterwards is
                // not a completion of the course.
                if let Some(at) = derive_progress(&lessons, Some(&p))
                    .completed_at
                    .filter(|at| *at <= job.created_at)
                {
                    if !p.history.contains(&at) {
                        p.history.push(at);
                        progress.put((*user, course), &p)?;
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
mod tests {
    #[allow(unused_imports)]
    use crate::server::store::sled::test_prelude::*;
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
            s.sled().course_suffix.len()
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
