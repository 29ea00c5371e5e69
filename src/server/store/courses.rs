//! Courses and their ordered lessons.
//!
//! Trees: `courses` (id → [`CourseRecord`], lessons inline and in order), `course_code` (folded
//! code → id: uniqueness and code order), `course_suffix` (every suffix of the folded code and
//! title, cut to `groups::SUFFIX_MAX` characters, `0x00`, id: a part of either is a prefix of
//! one of them, so a prefix scan finds any part, costing the matches; see
//! [`Store::list_courses`]; built by the 4 → 5 migration, which drops schema 4's
//! `search_course`, whose words and whole fields matched only their starts). A course's enrolment count is the counter `count/course_users/<id>` kept by
//! `enrolments.rs`.

use crate::server::store::StoreError;

use super::codec::Record;
use crate::model::catalog::{CourseRow, CourseStatus, CourseView, LessonView};
use serde::{Deserialize, Serialize};
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

/// The store's operations on this area (see the contract in `store/mod.rs`).
pub trait Courses: Send + Sync {
    /// Creates a course. The code must be unused (ignoring case).
    fn create_course(&self, f: &CourseFields, now: u64) -> Result<CourseView, StoreError>;

    /// Changes a course's code, title, description and status.
    fn update_course(&self, id: u64, f: &CourseFields) -> Result<CourseView, StoreError>;

    fn get_course(&self, id: u64) -> Result<Option<CourseRecord>, StoreError>;

    /// Number of courses (a stored counter: `Tree::len` would walk the whole tree).
    fn course_count(&self) -> Result<u64, StoreError>;

    /// Number of users enrolled in the course.
    fn enrolled_count(&self, course: u64) -> Result<u64, StoreError>;

    /// Applies a change to a course's lessons; returns the new lesson list. When lessons are
    /// added, a job recorded in the same transaction keeps, for each learner who had completed
    /// the course, that completion in their history (see `jobs.rs`); returns its id too.
    fn change_lessons(
        &self,
        course: u64,
        change: LessonChange,
    ) -> Result<(Vec<LessonView>, Option<u64>), StoreError>;

    /// Deletes a course that nobody is enrolled in (archive it otherwise), and takes it out of
    /// the curricula that hold it, in one transaction. A job recorded in that transaction then
    /// detaches it from its groups and from any curriculum that added it meanwhile (see
    /// `jobs.rs`); returns its id.
    fn delete_course(&self, id: u64) -> Result<u64, StoreError>;

    /// A page of courses (from 1): in code order, or those with `query` in any part of their
    /// code or title, ignoring case. Returns `(rows, total, total_is_capped)`.
    fn list_courses(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<CourseRow>, u64, bool), StoreError>;

    /// [`Store::list_courses`] without the courses in `except` (those a group already gives,
    /// say). Without a query: the code index in order, skipping them. With one: the matches
    /// of the suffix index (any part of the code or title, ignoring case), counted up to
    /// [`search::TOTAL_CAP`]; a query longer than the indexed suffixes is checked against
    /// each matching course.
    fn courses_except(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
        except: &HashSet<u64>,
    ) -> Result<(Vec<CourseRow>, u64, bool), StoreError>;
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[allow(unused_imports)]
    use crate::server::store::tests::prelude::*;

    use crate::server::store::tests::temp_store;

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
}
