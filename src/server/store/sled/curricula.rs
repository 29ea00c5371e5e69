//! The sled backend's Curricula (the interface: `crate::server::store::curricula`).

pub(crate) use crate::server::store::curricula::*;

#[allow(unused_imports)]
use crate::server::store::prelude::*;
use crate::server::store::sled::tables::{of, TxOf};

use super::codec::{fold, id_key, read_id};
use super::groups::LinkKind;
use super::jobs::{tx_enqueue, JobKind, JobRecord, JobSteps, Step};
use super::{abort, bump_counter, counter_key, read_counter, search, SledStore, StoreError};
use crate::model::catalog::CurriculumView;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

/// `count/curricula`: how many curricula there are.
pub(crate) const COUNT_CURRICULA: &str = "curricula";

/// `course_curricula` key: course id ++ curriculum id.
pub(crate) fn link_key(course: u64, curriculum: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id_key(course));
    k[8..].copy_from_slice(&id_key(curriculum));
    k
}

type Tx<T> = Result<T, ConflictableTransactionError<StoreError>>;

pub(crate) fn tx_get_curriculum(t: &TransactionalTree, id: u64) -> Tx<Option<CurriculumRecord>> {
    TxOf::<of::curricula>::from(t).row(id)
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
        TxOf::<of::curricula>::from(curricula).put(cur, &rec)?;
    }
    links.remove(&link_key(course, cur))?;
    Ok(())
}

/// Detaching a deleted curriculum from the groups that still hold it
/// ([`JobKind::CurriculumDeleted`]).
pub(crate) struct CurriculumDeletedJob;

impl JobSteps for CurriculumDeletedJob {
    fn step(
        &self,
        store: &SledStore,
        job: &JobRecord,
        now: u64,
    ) -> Option<Result<Step, StoreError>> {
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

impl Curricula for SledStore {
    fn create_curriculum(
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

    fn update_curriculum(
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

    fn get_curriculum(&self, id: u64) -> Result<Option<CurriculumRecord>, StoreError> {
        self.curricula.row(id)
    }

    fn change_curriculum(
        &self,
        id: u64,
        change: CurriculumChange,
    ) -> Result<CurriculumView, StoreError> {
        let _w = self.writing();
        let rec = (&*self.curricula, &self.course_curricula, &*self.courses).transaction(
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
                TxOf::<of::curricula>::from(curricula).put(id, &rec)?;
                Ok(rec)
            },
        )?;
        Ok(rec.view())
    }

    fn curricula_of_course(&self, course: u64) -> Result<Vec<u64>, StoreError> {
        self.course_curricula
            .scan_prefix(id_key(course))
            .map(|item| {
                let (k, _) = item?;
                read_id("course_curricula", &k, &k[8..])
            })
            .collect()
    }

    fn delete_curriculum(&self, id: u64) -> Result<u64, StoreError> {
        let _w = self.writing();
        let job = self.new_job_id()?;
        (
            &*self.curricula,
            &self.curriculum_name,
            &self.search_curriculum,
            &self.course_curricula,
            &self.meta,
            &*self.jobs,
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

    fn curriculum_count(&self) -> Result<u64, StoreError> {
        Ok(read_counter(self.meta.get(counter_key(COUNT_CURRICULA))?))
    }

    fn list_curricula(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<CurriculumView>, u64, bool), StoreError> {
        self.curricula_except(query, page, per_page, &std::collections::HashSet::new())
    }

    fn curricula_except(
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

impl SledStore {
    pub(crate) fn save_curriculum(
        &self,
        old: Option<&CurriculumRecord>,
        rec: &CurriculumRecord,
    ) -> Result<(), StoreError> {
        let _w = self.writing();
        let id = rec.id;
        let bytes = self.curricula.encode(rec)?;
        (
            &*self.curricula,
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
}
