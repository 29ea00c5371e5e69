//! The sled backend's Enrolments (the interface: `crate::server::store::enrolments`).

pub(crate) use crate::server::store::enrolments::*;

#[allow(unused_imports)]
use crate::server::store::prelude::*;
use crate::server::store::sled::tables::{of, TxOf};

use super::codec::{id_key, read_id};
use super::courses::{enrolled_counter, tx_get_course, CourseRecord};
use super::curricula::tx_get_curriculum;
use super::{abort, bump_counter, SledStore, StoreError};
use crate::model::catalog::{EnrolSummary, EnrolmentView, Progress};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

/// A two-id key: `a ++ b`, both 8 bytes big-endian.
pub(crate) fn pair_key(a: u64, b: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id_key(a));
    k[8..].copy_from_slice(&id_key(b));
    k
}

type Tx<T> = Result<T, ConflictableTransactionError<StoreError>>;

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
        let enrolments = TxOf::<of::enrolments>::from(self.enrolments);
        if let Some(mut rec) = enrolments.row((user, course))? {
            if !rec.sources.contains(&source) {
                rec.sources.push(source);
                enrolments.put((user, course), &rec)?;
            }
            return Ok(false);
        }
        let rec = EnrolmentRecord {
            enrolled_at: now,
            sources: vec![source],
        };
        enrolments.put((user, course), &rec)?;
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
        let enrolments = TxOf::<of::enrolments>::from(self.enrolments);
        let Some(mut rec) = enrolments.row((user, course))? else {
            return Ok(false);
        };
        let before = rec.sources.len();
        rec.sources.retain(|s| s.group() != Some(group));
        if rec.sources.len() == before {
            return Ok(false);
        }
        if rec.sources.is_empty() {
            return self.unenrol(deltas, user, course);
        }
        enrolments.put((user, course), &rec)?;
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

impl Enrolments for SledStore {
    fn enrol(&self, user: u64, course: u64, source: Source, now: u64) -> Result<bool, StoreError> {
        let _w = self.writing();
        let r = (
            &*self.users,
            &*self.courses,
            &*self.enrolments,
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

    fn enrol_curriculum(
        &self,
        user: u64,
        curriculum: u64,
        now: u64,
    ) -> Result<EnrolSummary, StoreError> {
        let _w = self.writing();
        let r = (
            &*self.users,
            &*self.courses,
            &*self.curricula,
            &*self.enrolments,
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

    fn enrol_user_in_courses(
        &self,
        user: u64,
        courses: &[u64],
        source: Source,
        now: u64,
    ) -> Result<EnrolCounts, StoreError> {
        let _w = self.writing();
        let r = (
            &*self.users,
            &*self.courses,
            &*self.enrolments,
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

    fn enrol_users_in_courses(
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
            &*self.users,
            &*self.courses,
            &*self.enrolments,
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
                    let Some(rec) = TxOf::<of::users>::from(users_t).row(*user)? else {
                        counts.missing += distinct(courses) as u64;
                        continue;
                    };
                    counts.missing += gone_courses;
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

    fn unenrol(&self, user: u64, course: u64, delete_progress: bool) -> Result<(), StoreError> {
        let _w = self.writing();
        (
            &*self.enrolments,
            &self.course_users,
            &*self.progress,
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

    fn mark_lesson(
        &self,
        user: u64,
        course: u64,
        lesson: u64,
        done: bool,
        now: u64,
    ) -> Result<Progress, StoreError> {
        let _w = self.writing();
        let r = (&*self.courses, &*self.enrolments, &*self.progress).transaction(
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
                let progress = TxOf::<of::progress>::from(progress);
                let mut p = progress.row((user, course))?.unwrap_or_default();
                let has = p.done.iter().any(|(id, _)| *id == lesson);
                if done && !has {
                    p.done.push((lesson, now));
                } else if !done && has {
                    p.done.retain(|(id, _)| *id != lesson);
                }
                progress.put((user, course), &p)?;
                Ok(derive_progress(&c.lessons, Some(&p)))
            },
        )?;
        Ok(r)
    }

    fn enrolment_sources(&self, user: u64, course: u64) -> Result<Option<Vec<Source>>, StoreError> {
        Ok(self.enrolments.row((user, course))?.map(|r| r.sources))
    }

    fn enrolment(&self, user: u64, course: u64) -> Result<Option<EnrolmentView>, StoreError> {
        let Some(rec) = self.enrolments.row((user, course))? else {
            return Ok(None);
        };
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

    fn enrolments_of_user(&self, user: u64) -> Result<Vec<EnrolmentView>, StoreError> {
        let mut out = Vec::new();
        for item in self.enrolments.scan_prefix(id_key(user)) {
            let (k, _) = item?;
            let course = read_id("enrolments", &k, &k[8..])?;
            out.extend(self.enrolment(user, course)?);
        }
        Ok(out)
    }

    fn enrolments_of_course(
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

    fn done_lessons(&self, user: u64, course: u64) -> Result<Vec<u64>, StoreError> {
        Ok(self
            .progress_record(user, course)?
            .map(|p| p.done.into_iter().map(|(id, _)| id).collect())
            .unwrap_or_default())
    }

    fn completion_history(&self, user: u64, course: u64) -> Result<Vec<u64>, StoreError> {
        Ok(self
            .progress_record(user, course)?
            .map(|p| p.history)
            .unwrap_or_default())
    }
}

impl SledStore {
    pub(crate) fn progress_record(
        &self,
        user: u64,
        course: u64,
    ) -> Result<Option<ProgressRecord>, StoreError> {
        self.progress.row((user, course))
    }
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)]
    use crate::server::store::enrolments::tests::*;
    #[allow(unused_imports)]
    use crate::server::store::sled::test_prelude::*;

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
        let rec = s.sled().enrolments.row((users[0], a)).unwrap().unwrap();
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
}
