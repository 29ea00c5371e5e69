//! Enrolments (user × course) and learners' progress.
//!
//! Trees:
//! - `enrolments`: user id ++ course id → [`EnrolmentRecord`] ("courses of a user": range scan).
//! - `course_users`: course id ++ user id → nothing ("users of a course": range scan).
//! - `progress`: user id ++ course id → [`ProgressRecord`]; kept apart from the enrolment so
//!   that unenrolling can keep it.
//! - `meta`: `count/course_users/<course id>`, the learners of a course.
//!
//! An enrolment records every way it was given ([`Source`]: by hand, a curriculum, a group's
//! sync, key or default-group membership with the group's id, an import). Taking a learner out
//! of a group "and unenrol" removes only that group's sources, and ends an enrolment only when
//! none is left: never one given by hand or by another group.
//!
//! Status is derived, never stored: from the course's current lessons and the lessons done, so
//! adding or removing a lesson can never leave a status stale. A completion that a new lesson
//! undoes is kept in the progress history.

use crate::server::store::StoreError;

use super::codec::Record;
use super::courses::LessonRecord;

use crate::model::catalog::{EnrolSource, EnrolSummary, EnrolmentView, Progress, ProgressStatus};
use serde::{Deserialize, Serialize};

/// One way an enrolment was given. Only ever append variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Source {
    /// An administrator enrolled the learner in the course.
    Manual,
    /// An administrator enrolled the learner in this curriculum.
    Curriculum(u64),
    /// This group's "enrol all members" (mass enrolment).
    GroupSync(u64),
    /// The learner redeemed this group's key.
    GroupKey(u64),
    /// The learner joined this group as the default group.
    DefaultGroup(u64),
    /// A user import.
    Import,
    /// A user import that put the new user in this group.
    ImportGroup(u64),
}

impl Source {
    /// The group this source comes through, if any.
    pub fn group(self) -> Option<u64> {
        match self {
            Source::GroupSync(g)
            | Source::GroupKey(g)
            | Source::DefaultGroup(g)
            | Source::ImportGroup(g) => Some(g),
            _ => None,
        }
    }

    /// The kind, as the browser shows it.
    pub fn kind(self) -> EnrolSource {
        match self {
            Source::Manual => EnrolSource::Manual,
            Source::Curriculum(_) => EnrolSource::Curriculum,
            Source::GroupSync(_) => EnrolSource::GroupSync,
            Source::GroupKey(_) => EnrolSource::GroupKey,
            Source::DefaultGroup(_) => EnrolSource::DefaultGroup,
            Source::Import | Source::ImportGroup(_) => EnrolSource::Import,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolmentRecord {
    pub enrolled_at: u64,
    /// Every way the enrolment was given, first first; never empty.
    pub sources: Vec<Source>,
}

impl Record for EnrolmentRecord {
    const TREE: &'static str = "enrolments";
    /// 2: sources with their group or curriculum (1 had one source kind and a curriculum id).
    const VERSION: u8 = 2;
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressRecord {
    /// Lessons done, with when (ms).
    pub done: Vec<(u64, u64)>,
    /// Completion times that a later new lesson undid.
    pub history: Vec<u64>,
}

impl Record for ProgressRecord {
    const TREE: &'static str = "progress";
    const VERSION: u8 = 1;
}

/// A learner's progress in a course with these lessons.
pub fn derive_progress(lessons: &[LessonRecord], p: Option<&ProgressRecord>) -> Progress {
    let total = lessons.len() as u32;
    let mut done = 0u32;
    let mut last = 0u64;
    if let Some(p) = p {
        for l in lessons {
            if let Some((_, at)) = p.done.iter().find(|(id, _)| *id == l.id) {
                done += 1;
                last = last.max(*at);
            }
        }
    }
    let status = match done {
        0 => ProgressStatus::NotStarted,
        d if d == total => ProgressStatus::Completed,
        _ => ProgressStatus::InProgress,
    };
    let completed_at = (status == ProgressStatus::Completed).then_some(last);
    Progress {
        done,
        total,
        status,
        completed_at,
    }
}

/// What an enrolment call did, pair by pair.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EnrolCounts {
    /// New enrolments.
    pub enrolled: u64,
    /// Pairs already enrolled (the source was added to the enrolment if it was new to it).
    pub already: u64,
    /// Pairs with an archived course (no new enrolments).
    pub skipped_archived: u64,
    /// Pairs with a deactivated user.
    pub skipped_inactive: u64,
    /// Pairs whose user or course no longer exists.
    pub missing: u64,
}

impl EnrolCounts {
    pub fn add(&mut self, o: EnrolCounts) {
        self.enrolled += o.enrolled;
        self.already += o.already;
        self.skipped_archived += o.skipped_archived;
        self.skipped_inactive += o.skipped_inactive;
        self.missing += o.missing;
    }
}

/// The store's operations on this area (see the contract in `store/mod.rs`).
pub trait Enrolments: Send + Sync {
    /// Enrols a user in a course by `source`; enrolling again changes nothing but adds the
    /// source (`Ok(false)`). Archived courses take no new enrolments (`Invalid` on `course`).
    fn enrol(&self, user: u64, course: u64, source: Source, now: u64) -> Result<bool, StoreError>;

    /// Enrols a user in every course of a curriculum in one transaction (source: that
    /// curriculum); courses they already have keep their enrolment, archived ones are skipped.
    fn enrol_curriculum(
        &self,
        user: u64,
        curriculum: u64,
        now: u64,
    ) -> Result<EnrolSummary, StoreError>;

    /// Enrols one user in a set of courses by `source`, in one transaction (archived courses
    /// skipped, courses gone counted as missing). Unknown user: `NotFound`.
    fn enrol_user_in_courses(
        &self,
        user: u64,
        courses: &[u64],
        source: Source,
        now: u64,
    ) -> Result<EnrolCounts, StoreError>;

    /// Enrols many users in a set of courses by `source`, in one transaction: for batches
    /// (at most [`MAX_BATCH_PAIRS`] pairs; more is `Invalid`). Deactivated users and archived
    /// courses are skipped and counted, users or courses gone counted as missing; learner
    /// counts change once per course.
    fn enrol_users_in_courses(
        &self,
        users: &[u64],
        courses: &[u64],
        source: Source,
        now: u64,
    ) -> Result<EnrolCounts, StoreError>;

    /// Ends an enrolment. Progress stays unless `delete_progress`. Not enrolled: `NotFound`.
    fn unenrol(&self, user: u64, course: u64, delete_progress: bool) -> Result<(), StoreError>;

    /// Marks a lesson done (or not done) for an enrolled learner; returns their progress.
    fn mark_lesson(
        &self,
        user: u64,
        course: u64,
        lesson: u64,
        done: bool,
        now: u64,
    ) -> Result<Progress, StoreError>;

    /// Why `user` is enrolled in `course`: every source that gave the enrolment, in the order
    /// they came. `None`: not enrolled.
    fn enrolment_sources(&self, user: u64, course: u64) -> Result<Option<Vec<Source>>, StoreError>;

    /// The user's enrolment in a course with progress, if enrolled.
    fn enrolment(&self, user: u64, course: u64) -> Result<Option<EnrolmentView>, StoreError>;

    /// Every enrolment of a user, with progress (a range scan of `enrolments`).
    fn enrolments_of_user(&self, user: u64) -> Result<Vec<EnrolmentView>, StoreError>;

    /// A page (from 1) of a course's enrolments, in user-id order (a range scan of
    /// `course_users`), with the total.
    fn enrolments_of_course(
        &self,
        course: u64,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<EnrolmentView>, u64), StoreError>;

    /// The ids of the lessons a user has done in a course (lessons since removed included).
    fn done_lessons(&self, user: u64, course: u64) -> Result<Vec<u64>, StoreError>;

    /// Past completion times of a course that new lessons undid.
    fn completion_history(&self, user: u64, course: u64) -> Result<Vec<u64>, StoreError>;
}

/// Most (user, course) pairs one call to [`Enrolments::enrol_users_in_courses`] may write: one
/// call is one transaction, so big jobs go in batches of this size.
pub const MAX_BATCH_PAIRS: usize = 10_000;

#[cfg(test)]
pub(crate) mod tests {
    use super::tests_support::learner;

    use super::*;

    use crate::server::store::courses::tests::{add_lesson, course_fields};

    use crate::server::store::courses::{CourseFields, LessonChange};

    use crate::server::store::curricula::CurriculumChange;

    #[allow(unused_imports)]
    use crate::server::store::tests::prelude::*;

    use crate::server::store::tests::temp_store;

    #[test]
    fn enrolment_is_idempotent_and_indexed_both_ways() {
        let (_d, s) = temp_store();
        let u = learner(&s, "ann");
        let c = s.create_course(&course_fields("C"), 0).unwrap();
        assert!(s.enrol(u, c.id, Source::Manual, 1).unwrap());
        assert!(!s.enrol(u, c.id, Source::Manual, 2).unwrap());
        assert_eq!(s.enrolled_count(c.id).unwrap(), 1);
        assert_eq!(s.enrolments_of_user(u).unwrap()[0].enrolled_at, 1);
        assert_eq!(s.enrolments_of_course(c.id, 1, 20).unwrap().0[0].user_id, u);
        assert!(matches!(
            s.enrol(424242, c.id, Source::Manual, 0),
            Err(StoreError::NotFound("user"))
        ));
        assert!(matches!(
            s.enrol(u, 424242, Source::Manual, 0),
            Err(StoreError::NotFound("course"))
        ));
    }

    #[test]
    fn archived_courses_take_no_new_enrolments() {
        let (_d, s) = temp_store();
        let u = learner(&s, "ann");
        let c = s
            .create_course(
                &CourseFields {
                    archived: true,
                    ..course_fields("C")
                },
                0,
            )
            .unwrap();
        assert!(matches!(
            s.enrol(u, c.id, Source::Manual, 0),
            Err(StoreError::Invalid {
                field: "course",
                ..
            })
        ));
        assert_eq!(s.enrolled_count(c.id).unwrap(), 0);
    }

    #[test]
    fn curriculum_enrols_each_course_once_and_skips_archived() {
        let (_d, s) = temp_store();
        let u = learner(&s, "ann");
        let a = s.create_course(&course_fields("A"), 0).unwrap();
        let b = s.create_course(&course_fields("B"), 0).unwrap();
        let z = s
            .create_course(
                &CourseFields {
                    archived: true,
                    ..course_fields("Z")
                },
                0,
            )
            .unwrap();
        let cur = s.create_curriculum("Path", "", 0).unwrap();
        for c in [a.id, b.id, z.id] {
            s.change_curriculum(cur.id, CurriculumChange::Add(c))
                .unwrap();
        }
        s.enrol(u, a.id, Source::Manual, 0).unwrap();
        let sum = s.enrol_curriculum(u, cur.id, 5).unwrap();
        assert_eq!(
            sum,
            EnrolSummary {
                enrolled: 1,
                already: 1,
                skipped_archived: 1
            }
        );
        let e = s.enrolment(u, b.id).unwrap().unwrap();
        assert_eq!(
            (e.source, e.via_curriculum),
            (EnrolSource::Curriculum, Some(cur.id))
        );
        assert_eq!(
            s.enrolment(u, a.id).unwrap().unwrap().source,
            EnrolSource::Manual,
            "left as it was"
        );
        let again = s.enrol_curriculum(u, cur.id, 6).unwrap();
        assert_eq!(
            again,
            EnrolSummary {
                enrolled: 0,
                already: 2,
                skipped_archived: 1
            }
        );
    }

    #[test]
    fn progress_is_derived_and_completion_kept_in_history() {
        let (_d, s) = temp_store();
        let u = learner(&s, "ann");
        let c = s.create_course(&course_fields("C"), 0).unwrap();
        let l1 = add_lesson(&s, c.id, "one");
        let l2 = add_lesson(&s, c.id, "two");
        s.enrol(u, c.id, Source::Manual, 0).unwrap();
        assert_eq!(
            s.enrolment(u, c.id).unwrap().unwrap().progress.status,
            ProgressStatus::NotStarted
        );
        let p = s.mark_lesson(u, c.id, l1, true, 10).unwrap();
        assert_eq!(
            (p.done, p.total, p.status),
            (1, 2, ProgressStatus::InProgress)
        );
        let p = s.mark_lesson(u, c.id, l2, true, 20).unwrap();
        assert_eq!(
            (p.status, p.completed_at),
            (ProgressStatus::Completed, Some(20))
        );
        let l3 = add_lesson(&s, c.id, "three");
        let e = s.enrolment(u, c.id).unwrap().unwrap();
        assert_eq!(
            (e.progress.status, e.progress.done, e.progress.total),
            (ProgressStatus::InProgress, 2, 3)
        );
        assert_eq!(s.completion_history(u, c.id).unwrap(), vec![20]);
        s.change_lessons(c.id, LessonChange::Remove { lesson: l3 })
            .unwrap();
        let e = s.enrolment(u, c.id).unwrap().unwrap();
        assert_eq!(
            (e.progress.status, e.progress.completed_at),
            (ProgressStatus::Completed, Some(20))
        );
        let p = s.mark_lesson(u, c.id, l2, false, 30).unwrap();
        assert_eq!(p.status, ProgressStatus::InProgress);
        assert!(matches!(
            s.mark_lesson(u, c.id, 99, true, 0),
            Err(StoreError::NotFound("lesson"))
        ));
    }

    #[test]
    fn unenrol_keeps_progress_unless_asked() {
        let (_d, s) = temp_store();
        let u = learner(&s, "ann");
        let c = s.create_course(&course_fields("C"), 0).unwrap();
        let l1 = add_lesson(&s, c.id, "one");
        add_lesson(&s, c.id, "two");
        s.enrol(u, c.id, Source::Manual, 0).unwrap();
        s.mark_lesson(u, c.id, l1, true, 1).unwrap();
        s.unenrol(u, c.id, false).unwrap();
        assert_eq!(s.enrolled_count(c.id).unwrap(), 0);
        assert!(s.enrolment(u, c.id).unwrap().is_none());
        assert!(matches!(
            s.mark_lesson(u, c.id, l1, true, 2),
            Err(StoreError::NotFound("enrolment"))
        ));
        s.enrol(u, c.id, Source::Manual, 3).unwrap();
        assert_eq!(
            s.enrolment(u, c.id).unwrap().unwrap().progress.done,
            1,
            "progress kept"
        );
        s.unenrol(u, c.id, true).unwrap();
        s.enrol(u, c.id, Source::Manual, 4).unwrap();
        assert_eq!(
            s.enrolment(u, c.id).unwrap().unwrap().progress.done,
            0,
            "progress deleted"
        );
        assert!(
            s.delete_course(c.id).is_err(),
            "enrolled courses are archived, not deleted"
        );
    }
}

/// Random sequences of enrol / unenrol / mark / add-lesson / remove-lesson keep every learner's
/// progress equal to what a plain in-memory model says.
#[cfg(test)]
mod model_check {
    use super::tests_support::*;
    use super::*;
    use crate::server::store::courses::LessonChange;
    use crate::server::store::tests::temp_store;
    use proptest::prelude::*;
    use std::collections::{HashMap, HashSet};

    #[derive(Debug, Clone)]
    pub(crate) enum Op {
        Enrol(usize, usize),
        Unenrol(usize, usize, bool),
        Mark(usize, usize, usize, bool),
        AddLesson(usize),
        RemoveLesson(usize, usize),
    }

    pub(crate) fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..2usize, 0..2usize).prop_map(|(u, c)| Op::Enrol(u, c)),
            (0..2usize, 0..2usize, any::<bool>()).prop_map(|(u, c, d)| Op::Unenrol(u, c, d)),
            (0..2usize, 0..2usize, 0..4usize, any::<bool>())
                .prop_map(|(u, c, l, d)| Op::Mark(u, c, l, d)),
            (0..2usize).prop_map(Op::AddLesson),
            (0..2usize, 0..4usize).prop_map(|(c, l)| Op::RemoveLesson(c, l)),
        ]
    }

    #[derive(Default)]
    pub(crate) struct Model {
        lessons: HashMap<usize, Vec<u64>>,
        enrolled: HashSet<(usize, usize)>,
        done: HashMap<(usize, usize), HashMap<u64, u64>>,
    }

    impl Model {
        fn progress(&self, u: usize, c: usize) -> (u32, u32, ProgressStatus, Option<u64>) {
            let lessons = self.lessons.get(&c).cloned().unwrap_or_default();
            let done = self.done.get(&(u, c)).cloned().unwrap_or_default();
            let hits: Vec<u64> = lessons
                .iter()
                .filter_map(|l| done.get(l).copied())
                .collect();
            let (d, t) = (hits.len() as u32, lessons.len() as u32);
            let status = if d == 0 {
                ProgressStatus::NotStarted
            } else if d == t {
                ProgressStatus::Completed
            } else {
                ProgressStatus::InProgress
            };
            let at = (status == ProgressStatus::Completed)
                .then(|| hits.iter().copied().max().unwrap_or(0));
            (d, t, status, at)
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
        #[test]
        fn store_matches_model(ops in proptest::collection::vec(op(), 1..40)) {
            let (_d, s) = temp_store();
            let users = [learner(&s, "u0"), learner(&s, "u1")];
            let courses = [course(&s, "C0"), course(&s, "C1")];
            let mut m = Model::default();
            for (step, op) in ops.into_iter().enumerate() {
                let now = step as u64 + 1;
                match op {
                    Op::Enrol(u, c) => {
                        s.enrol(users[u], courses[c], Source::Manual, now).unwrap();
                        m.enrolled.insert((u, c));
                    }
                    Op::Unenrol(u, c, del) => {
                        let r = s.unenrol(users[u], courses[c], del);
                        prop_assert_eq!(r.is_ok(), m.enrolled.remove(&(u, c)));
                        if r.is_ok() && del {
                            m.done.remove(&(u, c));
                        }
                    }
                    Op::Mark(u, c, l, done) => {
                        let Some(&lesson) = m.lessons.get(&c).and_then(|ls| ls.get(l)) else { continue };
                        let r = s.mark_lesson(users[u], courses[c], lesson, done, now);
                        prop_assert_eq!(r.is_ok(), m.enrolled.contains(&(u, c)));
                        if r.is_ok() {
                            let set = m.done.entry((u, c)).or_default();
                            if done {
                                set.entry(lesson).or_insert(now);
                            } else {
                                set.remove(&lesson);
                            }
                        }
                    }
                    Op::AddLesson(c) => {
                        let ls = s.change_lessons(courses[c], LessonChange::Add { title: "L".into(), text: String::new() }).unwrap().0;
                        s.run_pending_jobs(now).unwrap();
                        m.lessons.entry(c).or_default().push(ls.last().unwrap().id);
                    }
                    Op::RemoveLesson(c, l) => {
                        let Some(&lesson) = m.lessons.get(&c).and_then(|ls| ls.get(l)) else { continue };
                        s.change_lessons(courses[c], LessonChange::Remove { lesson }).unwrap();
                        m.lessons.get_mut(&c).unwrap().retain(|x| *x != lesson);
                    }
                }
                for (u, user) in users.iter().enumerate() {
                    for (c, course) in courses.iter().enumerate() {
                        let got = s.enrolment(*user, *course).unwrap();
                        prop_assert_eq!(got.is_some(), m.enrolled.contains(&(u, c)));
                        if let Some(e) = got {
                            let p = e.progress;
                            prop_assert_eq!((p.done, p.total, p.status, p.completed_at), m.progress(u, c));
                        }
                    }
                }
                for (c, course) in courses.iter().enumerate() {
                    let n = m.enrolled.iter().filter(|(_, mc)| *mc == c).count() as u64;
                    prop_assert_eq!(s.enrolled_count(*course).unwrap(), n);
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests_support {

    use crate::model::user::Role;
    use crate::server::store::courses::CourseFields;
    #[allow(unused_imports)]
    use crate::server::store::tests::prelude::*;
    use crate::server::store::users::{PasswordHash, UserFields};

    /// A group without key, branch or default flag.
    pub fn plain_group(s: &Store, name: &str) -> u64 {
        let f = crate::server::store::groups::GroupFields {
            name: name.into(),
            description: String::new(),
            branch: None,
            key: crate::model::group::KeySettings::default(),
            is_default: false,
        };
        let actor = crate::server::store::groups::Actor { user: 0, now: 1 };
        s.create_group(actor, &f).unwrap().0.id
    }

    pub fn learner(s: &Store, login: &str) -> u64 {
        let f = UserFields {
            login: login.into(),
            email: format!("{login}@x.org"),
            display_name: login.into(),
            role: Role::Learner,
        };
        s.create_user(&f, &PasswordHash::from_phc("$x".into()), false, 0)
            .unwrap()
            .id
    }

    pub fn course(s: &Store, code: &str) -> u64 {
        let f = CourseFields {
            code: code.into(),
            title: code.into(),
            description: String::new(),
            archived: false,
        };
        s.create_course(&f, 0).unwrap().id
    }
}
