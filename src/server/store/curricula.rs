//! Curricula: named, ordered sets of courses.
//!
//! Trees: `curricula` (id → [`CurriculumRecord`], course ids in order), `curriculum_name`
//! (folded name → id: uniqueness and name order), `search_curriculum` (name terms),
//! `course_curricula` (course id ++ curriculum id → nothing: the curricula holding a course, for
//! deleting a course without a scan of all curricula). `count/curricula` is the list's total.

use super::codec::{self, fold, id_key, read_id, Record};
use super::groups::LinkKind;
use super::jobs::{tx_enqueue, JobKind, JobRecord, JobSteps, Step};
use super::{abort, bump_counter, counter_key, read_counter, search, Store, StoreError};
use crate::model::catalog::CurriculumView;
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurriculumRecord {
    pub id: u64,
    pub name: String,
    pub description: String,
    pub courses: Vec<u64>,
    pub created_at: u64,
}

impl Record for CurriculumRecord {
    const TREE: &'static str = "curricula";
    const VERSION: u8 = 1;
}

impl CurriculumRecord {
    pub fn view(&self) -> CurriculumView {
        CurriculumView {
            id: self.id,
            name: self.name.clone(),
            description: self.description.clone(),
            courses: self.courses.clone(),
        }
    }
}

/// A change to a curriculum's course list.
#[derive(Debug, Clone, Copy)]
pub enum CurriculumChange {
    Add(u64),
    Remove(u64),
    /// Moves a course up (-1) or down (+1) one place.
    Move(u64, i32),
}

/// `count/curricula`: how many curricula there are.
pub(crate) const COUNT_CURRICULA: &str = "curricula";

/// `course_curricula` key: course id ++ curriculum id.
fn link_key(course: u64, curriculum: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id_key(course));
    k[8..].copy_from_slice(&id_key(curriculum));
    k
}

type Tx<T> = Result<T, ConflictableTransactionError<StoreError>>;

pub(crate) fn tx_get_curriculum(t: &TransactionalTree, id: u64) -> Tx<Option<CurriculumRecord>> {
    let key = id_key(id);
    match t.get(key)? {
        Some(b) => codec::decode(&key, &b).map(Some).or_else(abort),
        None => Ok(None),
    }
}

/// Inside a transaction: takes `course` out of curriculum `cur` (used when a course goes).
pub(crate) fn tx_remove_course(
    curricula: &TransactionalTree,
    links: &TransactionalTree,
    cur: u64,
    course: u64,
) -> Tx<()> {
    if let Some(mut rec) = tx_get_curriculum(curricula, cur)? {
        rec.courses.retain(|c| *c != course);
        curricula.insert(&id_key(cur), codec::encode(&rec).or_else(abort)?)?;
    }
    links.remove(&link_key(course, cur))?;
    Ok(())
}

/// Detaching a deleted curriculum from the groups that still hold it
/// ([`JobKind::CurriculumDeleted`]).
pub(crate) struct CurriculumDeletedJob;

impl JobSteps for CurriculumDeletedJob {
    fn step(&self, store: &Store, job: &JobRecord, now: u64) -> Option<Result<Step, StoreError>> {
        let JobKind::CurriculumDeleted { curriculum } = job.kind else {
            return None;
        };
        Some(
            store
                .unlink_deleted(curriculum, LinkKind::Curriculum)
                .and_then(|groups| store.finish_job(job, groups, now)),
        )
    }
}

impl Store {
    /// Creates a curriculum with no courses. The name must be unused (ignoring case).
    pub fn create_curriculum(
        &self,
        name: &str,
        description: &str,
        now: u64,
    ) -> Result<CurriculumView, StoreError> {
        let id = self.new_id()? + 1;
        let rec = CurriculumRecord {
            id,
            name: name.into(),
            description: description.into(),
            courses: Vec::new(),
            created_at: now,
        };
        self.save_curriculum(None, &rec)?;
        Ok(rec.view())
    }

    /// Renames a curriculum / changes its description.
    pub fn update_curriculum(
        &self,
        id: u64,
        name: &str,
        description: &str,
    ) -> Result<CurriculumView, StoreError> {
        let old = self
            .get_curriculum(id)?
            .ok_or(StoreError::NotFound("curriculum"))?;
        let rec = CurriculumRecord {
            name: name.into(),
            description: description.into(),
            ..old.clone()
        };
        self.save_curriculum(Some(&old), &rec)?;
        Ok(rec.view())
    }

    fn save_curriculum(
        &self,
        old: Option<&CurriculumRecord>,
        rec: &CurriculumRecord,
    ) -> Result<(), StoreError> {
        let _w = self.writing();
        let id = rec.id;
        let bytes = codec::encode(rec)?;
        (
            &self.curricula,
            &self.curriculum_name,
            &self.search_curriculum,
            &self.meta,
        )
            .transaction(|(curricula, names, search_t, meta)| {
                if tx_get_curriculum(curricula, id)?.as_ref() != old {
                    return abort(StoreError::invalid(
                        "name",
                        "This curriculum was changed meanwhile; reload and try again.",
                    ));
                }
                let folded = fold(&rec.name);
                if let Some(owner) = names.get(folded.as_bytes())? {
                    if owner.as_ref() != id_key(id) {
                        return abort(StoreError::invalid(
                            "name",
                            "A curriculum with this name already exists.",
                        ));
                    }
                }
                if let Some(old) = old {
                    if fold(&old.name) != folded {
                        names.remove(fold(&old.name).as_bytes())?;
                    }
                    for t in search::terms(&[&old.name]) {
                        search_t.remove(search::key(&t, id))?;
                    }
                }
                names.insert(folded.as_bytes(), &id_key(id))?;
                for t in search::terms(&[&rec.name]) {
                    search_t.insert(search::key(&t, id), &[])?;
                }
                if old.is_none() {
                    bump_counter(meta, COUNT_CURRICULA, 1)?;
                }
                curricula.insert(&id_key(id), bytes.as_slice())?;
                Ok(())
            })?;
        Ok(())
    }

    pub fn get_curriculum(&self, id: u64) -> Result<Option<CurriculumRecord>, StoreError> {
        let key = id_key(id);
        self.curricula
            .get(key)?
            .map(|b| codec::decode(&key, &b))
            .transpose()
    }

    /// Adds, removes or moves a course in a curriculum. Adding an unknown course is `NotFound`;
    /// adding one already there changes nothing.
    pub fn change_curriculum(
        &self,
        id: u64,
        change: CurriculumChange,
    ) -> Result<CurriculumView, StoreError> {
        let _w = self.writing();
        let rec = (&self.curricula, &self.course_curricula, &self.courses).transaction(
            |(curricula, links, courses)| {
                let Some(mut rec) = tx_get_curriculum(curricula, id)? else {
                    return abort(StoreError::NotFound("curriculum"));
                };
                match change {
                    CurriculumChange::Add(course) => {
                        if courses.get(id_key(course))?.is_none() {
                            return abort(StoreError::NotFound("course"));
                        }
                        if !rec.courses.contains(&course) {
                            rec.courses.push(course);
                            links.insert(&link_key(course, id), &[])?;
                        }
                    }
                    CurriculumChange::Remove(course) => {
                        rec.courses.retain(|c| *c != course);
                        links.remove(&link_key(course, id))?;
                    }
                    CurriculumChange::Move(course, by) => {
                        if let Some(i) = rec.courses.iter().position(|c| *c == course) {
                            let j = i as i64 + i64::from(by);
                            if j >= 0 && (j as usize) < rec.courses.len() {
                                rec.courses.swap(i, j as usize);
                            }
                        }
                    }
                }
                curricula.insert(&id_key(id), codec::encode(&rec).or_else(abort)?)?;
                Ok(rec)
            },
        )?;
        Ok(rec.view())
    }

    /// The curricula that hold `course`.
    pub fn curricula_of_course(&self, course: u64) -> Result<Vec<u64>, StoreError> {
        self.course_curricula
            .scan_prefix(id_key(course))
            .map(|item| {
                let (k, _) = item?;
                read_id("course_curricula", &k, &k[8..])
            })
            .collect()
    }

    /// Deletes a curriculum. A job recorded in the same transaction then detaches it from its
    /// groups (see `jobs.rs`); returns its id. Enrolments made through it stay.
    pub fn delete_curriculum(&self, id: u64) -> Result<u64, StoreError> {
        let _w = self.writing();
        let job = self.new_job_id()?;
        (
            &self.curricula,
            &self.curriculum_name,
            &self.search_curriculum,
            &self.course_curricula,
            &self.meta,
            &self.jobs,
        )
            .transaction(|(curricula, names, search_t, links, meta, jobs)| {
                let Some(rec) = tx_get_curriculum(curricula, id)? else {
                    return abort(StoreError::NotFound("curriculum"));
                };
                curricula.remove(&id_key(id))?;
                names.remove(fold(&rec.name).as_bytes())?;
                for t in search::terms(&[&rec.name]) {
                    search_t.remove(search::key(&t, id))?;
                }
                for c in &rec.courses {
                    links.remove(&link_key(*c, id))?;
                }
                bump_counter(meta, COUNT_CURRICULA, -1)?;
                tx_enqueue(
                    jobs,
                    job,
                    JobKind::CurriculumDeleted { curriculum: id },
                    super::now_ms(),
                )
            })?;
        Ok(job)
    }

    /// Number of curricula (a stored counter: `Tree::len` would walk the whole tree).
    pub fn curriculum_count(&self) -> Result<u64, StoreError> {
        Ok(read_counter(self.meta.get(counter_key(COUNT_CURRICULA))?))
    }

    /// A page of curricula (from 1), in name order or matching a name prefix search.
    pub fn list_curricula(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<CurriculumView>, u64, bool), StoreError> {
        self.curricula_except(query, page, per_page, &std::collections::HashSet::new())
    }

    /// [`Store::list_curricula`] without the curricula in `except` (those a group already
    /// gives, say).
    pub fn curricula_except(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
        except: &std::collections::HashSet<u64>,
    ) -> Result<(Vec<CurriculumView>, u64, bool), StoreError> {
        let (skip, take) = search::window(page, per_page);
        let q = fold(query);
        let (ids, total, capped) = if q.is_empty() {
            (
                search::by_name_except(
                    &self.curriculum_name,
                    "curriculum_name",
                    skip,
                    take,
                    except,
                )?,
                self.curriculum_count()?.saturating_sub(except.len() as u64),
                false,
            )
        } else {
            search::page_where(
                &self.search_curriculum,
                "search_curriculum",
                &q,
                skip,
                take,
                |id| Ok(!except.contains(&id)),
            )?
        };
        let rows = ids
            .into_iter()
            .map(|id| {
                self.get_curriculum(id)?
                    .map(|c| c.view())
                    .ok_or(StoreError::NotFound("curriculum"))
            })
            .collect::<Result<_, _>>()?;
        Ok((rows, total, capped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::courses::tests::course_fields;
    use crate::server::store::tests::temp_store;

    #[test]
    fn courses_in_order_and_removed_with_their_course() {
        let (_d, s) = temp_store();
        let a = s.create_course(&course_fields("A"), 0).unwrap();
        let b = s.create_course(&course_fields("B"), 0).unwrap();
        let cur = s.create_curriculum("Science", "", 0).unwrap();
        s.change_curriculum(cur.id, CurriculumChange::Add(a.id))
            .unwrap();
        s.change_curriculum(cur.id, CurriculumChange::Add(b.id))
            .unwrap();
        s.change_curriculum(cur.id, CurriculumChange::Add(a.id))
            .unwrap();
        assert_eq!(
            s.get_curriculum(cur.id).unwrap().unwrap().courses,
            vec![a.id, b.id]
        );
        s.change_curriculum(cur.id, CurriculumChange::Move(b.id, -1))
            .unwrap();
        assert_eq!(
            s.get_curriculum(cur.id).unwrap().unwrap().courses,
            vec![b.id, a.id]
        );
        assert!(matches!(
            s.change_curriculum(cur.id, CurriculumChange::Add(777)),
            Err(StoreError::NotFound("course"))
        ));
        s.delete_course(b.id).unwrap();
        assert_eq!(
            s.get_curriculum(cur.id).unwrap().unwrap().courses,
            vec![a.id]
        );
        assert!(s.curricula_of_course(b.id).unwrap().is_empty());
        s.change_curriculum(cur.id, CurriculumChange::Remove(a.id))
            .unwrap();
        assert!(s.curricula_of_course(a.id).unwrap().is_empty());
    }

    #[test]
    fn names_unique_and_delete_cleans_up() {
        let (_d, s) = temp_store();
        let cur = s.create_curriculum("Science", "", 0).unwrap();
        assert!(matches!(
            s.create_curriculum("SCIENCE", "", 0),
            Err(StoreError::Invalid { field: "name", .. })
        ));
        let a = s.create_course(&course_fields("A"), 0).unwrap();
        s.change_curriculum(cur.id, CurriculumChange::Add(a.id))
            .unwrap();
        s.delete_curriculum(cur.id).unwrap();
        assert!(s.curricula_of_course(a.id).unwrap().is_empty());
        assert_eq!(s.list_curricula("sci", 1, 20).unwrap().1, 0);
        s.create_curriculum("science", "", 0).unwrap();
    }
}
