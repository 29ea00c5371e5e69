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

use super::codec::{self, id_key, read_id, Record};
use super::courses::{enrolled_counter, tx_get_course, CourseRecord, LessonRecord};
use super::curricula::tx_get_curriculum;
use super::users::UserRecord;
use super::{abort, bump_counter, Store, StoreError};
use crate::model::catalog::{EnrolSource, EnrolSummary, EnrolmentView, Progress, ProgressStatus};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

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

/// A two-id key: `a ++ b`, both 8 bytes big-endian.
pub(crate) fn pair_key(a: u64, b: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id_key(a));
    k[8..].copy_from_slice(&id_key(b));
    k
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

type Tx<T> = Result<T, ConflictableTransactionError<StoreError>>;

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

/// Learner-count changes per course, summed inside one transaction and written once per
/// course at its end (never a counter read-modify-write per enrolment).
#[derive(Debug, Default)]
pub(crate) struct CourseDeltas(Vec<(u64, i64)>);

impl CourseDeltas {
    pub(crate) fn add(&mut self, course: u64, delta: i64) {
        match self.0.iter_mut().find(|(c, _)| *c == course) {
            Some((_, d)) => *d += delta,
            None => self.0.push((course, delta)),
        }
    }

    pub(crate) fn apply(&self, meta: &TransactionalTree) -> Tx<()> {
        for (course, delta) in &self.0 {
            if *delta != 0 {
                bump_counter(meta, &enrolled_counter(*course), *delta)?;
            }
        }
        Ok(())
    }
}

/// The trees an enrolment transaction writes.
pub(crate) struct EnrolTrees<'a> {
    pub enrolments: &'a TransactionalTree,
    pub course_users: &'a TransactionalTree,
}

impl EnrolTrees<'_> {
    /// Enrols `user` in `course` by `source`, or adds `source` to the enrolment they have.
    /// `Ok(true)` when the enrolment is new. Archived courses are the caller's to skip.
    pub(crate) fn enrol(
        &self,
        deltas: &mut CourseDeltas,
        user: u64,
        course: u64,
        source: Source,
        now: u64,
    ) -> Tx<bool> {
        let key = pair_key(user, course);
        if let Some(bytes) = self.enrolments.get(key)? {
            let mut rec: EnrolmentRecord = codec::decode(&key, &bytes).or_else(abort)?;
            if !rec.sources.contains(&source) {
                rec.sources.push(source);
                self.enrolments
                    .insert(&key, codec::encode(&rec).or_else(abort)?)?;
            }
            return Ok(false);
        }
        let rec = EnrolmentRecord {
            enrolled_at: now,
            sources: vec![source],
        };
        self.enrolments
            .insert(&key, codec::encode(&rec).or_else(abort)?)?;
        self.course_users.insert(&pair_key(course, user), &[])?;
        deltas.add(course, 1);
        Ok(true)
    }

    /// Ends `user`'s enrolment in `course` whatever its sources (progress stays). `Ok(true)`
    /// when there was one.
    pub(crate) fn unenrol(&self, deltas: &mut CourseDeltas, user: u64, course: u64) -> Tx<bool> {
        if self.enrolments.remove(&pair_key(user, course))?.is_none() {
            return Ok(false);
        }
        self.course_users.remove(&pair_key(course, user))?;
        deltas.add(course, -1);
        Ok(true)
    }

    /// Takes away every source that comes through `group` from `user`'s enrolment in
    /// `course`, and ends the enrolment when no source is left. `Ok(true)` when it ended.
    pub(crate) fn drop_group(
        &self,
        deltas: &mut CourseDeltas,
        user: u64,
        course: u64,
        group: u64,
    ) -> Tx<bool> {
        let key = pair_key(user, course);
        let Some(bytes) = self.enrolments.get(key)? else {
            return Ok(false);
        };
        let mut rec: EnrolmentRecord = codec::decode(&key, &bytes).or_else(abort)?;
        let before = rec.sources.len();
        rec.sources.retain(|s| s.group() != Some(group));
        if rec.sources.len() == before {
            return Ok(false);
        }
        if rec.sources.is_empty() {
            return self.unenrol(deltas, user, course);
        }
        self.enrolments
            .insert(&key, codec::encode(&rec).or_else(abort)?)?;
        Ok(false)
    }
}

/// Inside a transaction: enrols `user` in each of `courses` (skipping archived ones) by
/// `source`, adding to `counts`.
pub(crate) fn tx_enrol_courses(
    t: &EnrolTrees<'_>,
    deltas: &mut CourseDeltas,
    counts: &mut EnrolCounts,
    user: u64,
    courses: &[CourseRecord],
    source: Source,
    now: u64,
) -> Tx<()> {
    for c in courses {
        if c.archived {
            if t.enrolments.get(pair_key(user, c.id))?.is_some() {
                counts.already += 1;
            } else {
                counts.skipped_archived += 1;
            }
            continue;
        }
        if t.enrol(deltas, user, c.id, source, now)? {
            counts.enrolled += 1;
        } else {
            counts.already += 1;
        }
    }
    Ok(())
}

/// How many different ids there are.
fn distinct(ids: &[u64]) -> usize {
    let mut v = ids.to_vec();
    v.sort_unstable();
    v.dedup();
    v.len()
}

/// Inside a transaction: the course records of these ids that still exist, in order, each once.
pub(crate) fn tx_courses(courses: &TransactionalTree, ids: &[u64]) -> Tx<Vec<CourseRecord>> {
    let mut out: Vec<CourseRecord> = Vec::with_capacity(ids.len());
    for id in ids {
        if out.iter().any(|c| c.id == *id) {
            continue;
        }
        if let Some(c) = tx_get_course(courses, *id)? {
            out.push(c);
        }
    }
    Ok(out)
}

fn tx_require_user(users: &TransactionalTree, user: u64) -> Tx<()> {
    if users.get(id_key(user))?.is_none() {
        return abort(StoreError::NotFound("user"));
    }
    Ok(())
}

/// Most (user, course) pairs one call to [`Store::enrol_users_in_courses`] may write: sled
/// transactions hold a global lock, so big jobs go in batches of this size.
pub const MAX_BATCH_PAIRS: usize = 10_000;

impl Store {
    /// Enrols a user in a course by `source`; enrolling again changes nothing but adds the
    /// source (`Ok(false)`). Archived courses take no new enrolments (`Invalid` on `course`).
    pub fn enrol(
        &self,
        user: u64,
        course: u64,
        source: Source,
        now: u64,
    ) -> Result<bool, StoreError> {
        let _w = self.writing();
        let r = (
            &self.users,
            &self.courses,
            &self.enrolments,
            &self.course_users,
            &self.meta,
        )
            .transaction(|(users, courses, enrolments, course_users, meta)| {
                tx_require_user(users, user)?;
                let Some(c) = tx_get_course(courses, course)? else {
                    return abort(StoreError::NotFound("course"));
                };
                if c.archived && enrolments.get(pair_key(user, course))?.is_none() {
                    return abort(StoreError::invalid(
                        "course",
                        "This course is archived and takes no new enrolments.",
                    ));
                }
                let t = EnrolTrees {
                    enrolments,
                    course_users,
                };
                let mut deltas = CourseDeltas::default();
                let new = t.enrol(&mut deltas, user, course, source, now)?;
                deltas.apply(meta)?;
                Ok(new)
            })?;
        Ok(r)
    }

    /// Enrols a user in every course of a curriculum in one transaction (source: that
    /// curriculum); courses they already have keep their enrolment, archived ones are skipped.
    pub fn enrol_curriculum(
        &self,
        user: u64,
        curriculum: u64,
        now: u64,
    ) -> Result<EnrolSummary, StoreError> {
        let _w = self.writing();
        let r = (
            &self.users,
            &self.courses,
            &self.curricula,
            &self.enrolments,
            &self.course_users,
            &self.meta,
        )
            .transaction(
                |(users, courses, curricula, enrolments, course_users, meta)| {
                    tx_require_user(users, user)?;
                    let Some(cur) = tx_get_curriculum(curricula, curriculum)? else {
                        return abort(StoreError::NotFound("curriculum"));
                    };
                    let list = tx_courses(courses, &cur.courses)?;
                    let t = EnrolTrees {
                        enrolments,
                        course_users,
                    };
                    let (mut deltas, mut counts) = Default::default();
                    tx_enrol_courses(
                        &t,
                        &mut deltas,
                        &mut counts,
                        user,
                        &list,
                        Source::Curriculum(curriculum),
                        now,
                    )?;
                    deltas.apply(meta)?;
                    Ok(EnrolSummary {
                        enrolled: counts.enrolled as u32,
                        already: counts.already as u32,
                        skipped_archived: counts.skipped_archived as u32,
                    })
                },
            )?;
        Ok(r)
    }

    /// Enrols one user in a set of courses by `source`, in one transaction (archived courses
    /// skipped, courses gone counted as missing). Unknown user: `NotFound`.
    pub fn enrol_user_in_courses(
        &self,
        user: u64,
        courses: &[u64],
        source: Source,
        now: u64,
    ) -> Result<EnrolCounts, StoreError> {
        let _w = self.writing();
        let r = (
            &self.users,
            &self.courses,
            &self.enrolments,
            &self.course_users,
            &self.meta,
        )
            .transaction(|(users, courses_t, enrolments, course_users, meta)| {
                tx_require_user(users, user)?;
                let list = tx_courses(courses_t, courses)?;
                let mut counts = EnrolCounts {
                    missing: (distinct(courses) - list.len()) as u64,
                    ..Default::default()
                };
                let t = EnrolTrees {
                    enrolments,
                    course_users,
                };
                let mut deltas = CourseDeltas::default();
                tx_enrol_courses(&t, &mut deltas, &mut counts, user, &list, source, now)?;
                deltas.apply(meta)?;
                Ok(counts)
            })?;
        Ok(r)
    }

    /// Enrols many users in a set of courses by `source`, in one transaction: for batches
    /// (at most [`MAX_BATCH_PAIRS`] pairs; more is `Invalid`). Deactivated users and archived
    /// courses are skipped and counted, users or courses gone counted as missing; learner
    /// counts change once per course.
    pub fn enrol_users_in_courses(
        &self,
        users: &[u64],
        courses: &[u64],
        source: Source,
        now: u64,
    ) -> Result<EnrolCounts, StoreError> {
        let _w = self.writing();
        if users.len().saturating_mul(courses.len()) > MAX_BATCH_PAIRS {
            return Err(StoreError::invalid(
                "batch",
                format!("At most {MAX_BATCH_PAIRS} enrolments per batch."),
            ));
        }
        let r = (
            &self.users,
            &self.courses,
            &self.enrolments,
            &self.course_users,
            &self.meta,
        )
            .transaction(|(users_t, courses_t, enrolments, course_users, meta)| {
                let list = tx_courses(courses_t, courses)?;
                let gone_courses = (distinct(courses) - list.len()) as u64;
                let t = EnrolTrees {
                    enrolments,
                    course_users,
                };
                let mut deltas = CourseDeltas::default();
                let mut counts = EnrolCounts::default();
                for user in users {
                    let key = id_key(*user);
                    let Some(bytes) = users_t.get(key)? else {
                        counts.missing += distinct(courses) as u64;
                        continue;
                    };
                    counts.missing += gone_courses;
                    let rec: UserRecord = codec::decode(&key, &bytes).or_else(abort)?;
                    if !rec.active {
                        counts.skipped_inactive += list.len() as u64;
                        continue;
                    }
                    tx_enrol_courses(&t, &mut deltas, &mut counts, *user, &list, source, now)?;
                }
                deltas.apply(meta)?;
                Ok(counts)
            })?;
        Ok(r)
    }

    /// Ends an enrolment. Progress stays unless `delete_progress`. Not enrolled: `NotFound`.
    pub fn unenrol(&self, user: u64, course: u64, delete_progress: bool) -> Result<(), StoreError> {
        let _w = self.writing();
        (
            &self.enrolments,
            &self.course_users,
            &self.progress,
            &self.meta,
        )
            .transaction(|(enrolments, course_users, progress, meta)| {
                let t = EnrolTrees {
                    enrolments,
                    course_users,
                };
                let mut deltas = CourseDeltas::default();
                if !t.unenrol(&mut deltas, user, course)? {
                    return abort(StoreError::NotFound("enrolment"));
                }
                deltas.apply(meta)?;
                if delete_progress {
                    progress.remove(&pair_key(user, course))?;
                }
                Ok(())
            })?;
        Ok(())
    }

    /// Marks a lesson done (or not done) for an enrolled learner; returns their progress.
    pub fn mark_lesson(
        &self,
        user: u64,
        course: u64,
        lesson: u64,
        done: bool,
        now: u64,
    ) -> Result<Progress, StoreError> {
        let _w = self.writing();
        let r = (&self.courses, &self.enrolments, &self.progress).transaction(
            |(courses, enrolments, progress)| {
                if enrolments.get(pair_key(user, course))?.is_none() {
                    return abort(StoreError::NotFound("enrolment"));
                }
                let Some(c) = tx_get_course(courses, course)? else {
                    return abort(StoreError::NotFound("course"));
                };
                if !c.lessons.iter().any(|l| l.id == lesson) {
                    return abort(StoreError::NotFound("lesson"));
                }
                let key = pair_key(user, course);
                let mut p: ProgressRecord = match progress.get(key)? {
                    Some(b) => codec::decode(&key, &b).or_else(abort)?,
                    None => ProgressRecord::default(),
                };
                let has = p.done.iter().any(|(id, _)| *id == lesson);
                if done && !has {
                    p.done.push((lesson, now));
                } else if !done && has {
                    p.done.retain(|(id, _)| *id != lesson);
                }
                progress.insert(&key, codec::encode(&p).or_else(abort)?)?;
                Ok(derive_progress(&c.lessons, Some(&p)))
            },
        )?;
        Ok(r)
    }

    fn progress_record(
        &self,
        user: u64,
        course: u64,
    ) -> Result<Option<ProgressRecord>, StoreError> {
        let key = pair_key(user, course);
        self.progress
            .get(key)?
            .map(|b| codec::decode(&key, &b))
            .transpose()
    }

    /// Why `user` is enrolled in `course`: every source that gave the enrolment, in the order
    /// they came. `None`: not enrolled.
    pub fn enrolment_sources(
        &self,
        user: u64,
        course: u64,
    ) -> Result<Option<Vec<Source>>, StoreError> {
        let key = pair_key(user, course);
        self.enrolments
            .get(key)?
            .map(|bytes| codec::decode::<EnrolmentRecord>(&key, &bytes).map(|r| r.sources))
            .transpose()
    }

    /// The user's enrolment in a course with progress, if enrolled.
    pub fn enrolment(&self, user: u64, course: u64) -> Result<Option<EnrolmentView>, StoreError> {
        let key = pair_key(user, course);
        let Some(bytes) = self.enrolments.get(key)? else {
            return Ok(None);
        };
        let rec: EnrolmentRecord = codec::decode(&key, &bytes)?;
        let c = self
            .get_course(course)?
            .ok_or(StoreError::NotFound("course"))?;
        let progress = derive_progress(&c.lessons, self.progress_record(user, course)?.as_ref());
        let first = rec.sources.first().copied().unwrap_or(Source::Manual);
        let via_curriculum = rec.sources.iter().find_map(|s| match s {
            Source::Curriculum(c) => Some(*c),
            _ => None,
        });
        Ok(Some(EnrolmentView {
            user_id: user,
            course_id: course,
            source: first.kind(),
            via_curriculum,
            enrolled_at: rec.enrolled_at,
            progress,
        }))
    }

    /// Every enrolment of a user, with progress (a range scan of `enrolments`).
    pub fn enrolments_of_user(&self, user: u64) -> Result<Vec<EnrolmentView>, StoreError> {
        let mut out = Vec::new();
        for item in self.enrolments.scan_prefix(id_key(user)) {
            let (k, _) = item?;
            let course = read_id("enrolments", &k, &k[8..])?;
            out.extend(self.enrolment(user, course)?);
        }
        Ok(out)
    }

    /// A page (from 1) of a course's enrolments, in user-id order (a range scan of
    /// `course_users`), with the total.
    pub fn enrolments_of_course(
        &self,
        course: u64,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<EnrolmentView>, u64), StoreError> {
        let (skip, take) = super::search::window(page, per_page);
        let mut out = Vec::new();
        for item in self
            .course_users
            .scan_prefix(id_key(course))
            .skip(skip)
            .take(take)
        {
            let (k, _) = item?;
            let user = read_id("course_users", &k, &k[8..])?;
            out.extend(self.enrolment(user, course)?);
        }
        Ok((out, self.enrolled_count(course)?))
    }

    /// The ids of the lessons a user has done in a course (lessons since removed included).
    pub fn done_lessons(&self, user: u64, course: u64) -> Result<Vec<u64>, StoreError> {
        Ok(self
            .progress_record(user, course)?
            .map(|p| p.done.into_iter().map(|(id, _)| id).collect())
            .unwrap_or_default())
    }

    /// Past completion times of a course that new lessons undid.
    pub fn completion_history(&self, user: u64, course: u64) -> Result<Vec<u64>, StoreError> {
        Ok(self
            .progress_record(user, course)?
            .map(|p| p.history)
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::learner;
    use super::*;
    use crate::server::store::courses::tests::{add_lesson, course_fields};
    use crate::server::store::courses::{CourseFields, LessonChange};
    use crate::server::store::curricula::CurriculumChange;
    use crate::server::store::tests::{sled_temp_store, temp_store};

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

    /// Many users × a set of courses in one bounded transaction: archived courses, deactivated
    /// users and ids that are gone are skipped and counted; a second run enrols nobody; counts
    /// per course are right; sources are recorded without duplicates.
    #[test]
    fn batch_enrolment_counts_skips_and_is_idempotent() {
        let (_d, s) = sled_temp_store();
        let users: Vec<u64> = (0..5).map(|i| learner(&s, &format!("b{i}"))).collect();
        s.set_active(users[4], false).unwrap();
        let a = s.create_course(&course_fields("A"), 0).unwrap().id;
        let b = s.create_course(&course_fields("B"), 0).unwrap().id;
        let z = s
            .create_course(
                &CourseFields {
                    archived: true,
                    ..course_fields("Z")
                },
                0,
            )
            .unwrap()
            .id;
        s.enrol(users[0], a, Source::Manual, 0).unwrap();
        let mut with_ghosts = users.clone();
        with_ghosts.push(424_242);
        let courses = [a, b, z, 525_252];
        let first = s
            .enrol_users_in_courses(&with_ghosts, &courses, Source::GroupSync(7), 5)
            .unwrap();
        assert_eq!(
            first,
            EnrolCounts {
                enrolled: 7,
                already: 1,
                skipped_archived: 4,
                skipped_inactive: 3,
                missing: 4 + 5,
            }
        );
        assert_eq!(s.enrolled_count(a).unwrap(), 4);
        assert_eq!(s.enrolled_count(b).unwrap(), 4);
        assert_eq!(s.enrolled_count(z).unwrap(), 0);
        let again = s
            .enrol_users_in_courses(&with_ghosts, &courses, Source::GroupSync(7), 6)
            .unwrap();
        assert_eq!((again.enrolled, again.already), (0, 8));
        assert_eq!(s.enrolled_count(a).unwrap(), 4);
        // The manual enrolment kept its date and gained the group as a second source.
        let key = pair_key(users[0], a);
        let rec: EnrolmentRecord =
            codec::decode(&key, &s.enrolments.get(key).unwrap().unwrap()).unwrap();
        assert_eq!(
            rec,
            EnrolmentRecord {
                enrolled_at: 0,
                sources: vec![Source::Manual, Source::GroupSync(7)],
            }
        );
        // Too many pairs for one transaction: refused, nothing written.
        let many: Vec<u64> = (0..(MAX_BATCH_PAIRS as u64 / 2 + 1)).collect();
        assert!(matches!(
            s.enrol_users_in_courses(&many, &[a, b], Source::Import, 7),
            Err(StoreError::Invalid { field: "batch", .. })
        ));
        // One user in a set of courses, in one transaction.
        let one = learner(&s, "solo");
        let counts = s
            .enrol_user_in_courses(one, &[a, z, b, a], Source::DefaultGroup(3), 8)
            .unwrap();
        assert_eq!(
            (counts.enrolled, counts.skipped_archived, counts.missing),
            (2, 1, 0)
        );
        assert_eq!(
            s.enrolment(one, b).unwrap().unwrap().source,
            EnrolSource::DefaultGroup
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
    use proptest::prelude::*;
    use std::collections::{HashMap, HashSet};

    #[derive(Debug, Clone)]
    enum Op {
        Enrol(usize, usize),
        Unenrol(usize, usize, bool),
        Mark(usize, usize, usize, bool),
        AddLesson(usize),
        RemoveLesson(usize, usize),
    }

    fn op() -> impl Strategy<Value = Op> {
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
    struct Model {
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
            let (_d, s) = crate::server::store::tests::sled_temp_store();
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
    use super::*;
    use crate::model::user::Role;
    use crate::server::store::courses::CourseFields;
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
