//! The PostgreSQL backend's Curricula (the interface: `crate::server::store::curricula`):
//! `curricula` (the folded name unique), its ordered `curriculum_courses` (sled's
//! `course_curricula` is that table's index by course) and `curriculum_terms`.
//!
//! Isolation: every write is SERIALIZABLE (a unique name; a course added must exist). The
//! total is count(*) over the primary key (a catalogue's size, as the schema decides).

use super::search::{self, TermIndex};
use super::{refuse_nul, unique_violation, PgError, PgStore};
use crate::model::catalog::CurriculumView;
use crate::server::store::codec::fold;
use crate::server::store::curricula::{Curricula, CurriculumChange, CurriculumRecord};
use crate::server::store::{Core, StoreError};
use postgres::{IsolationLevel, Transaction};
use std::collections::HashSet;

/// `curriculum_terms`.
pub(crate) const TERMS: TermIndex = TermIndex {
    table: "curriculum_terms",
    term: "term",
    id: "curriculum_id",
};

const NAME_TAKEN: &str = "A curriculum with this name already exists.";

pub(crate) fn terms(name: &str) -> Vec<String> {
    crate::server::store::search_terms(&[name])
}

fn name_unique(e: postgres::Error) -> PgError {
    let e = PgError::Db(e);
    if unique_violation(&e, "curricula_name_folded") {
        PgError::Store(StoreError::invalid("name", NAME_TAKEN))
    } else {
        e
    }
}

/// Inside a transaction: curriculum `id` with its courses in order (`lock`: FOR UPDATE).
fn tx_get(
    t: &mut Transaction<'_>,
    id: u64,
    lock: bool,
) -> Result<Option<CurriculumRecord>, PgError> {
    let sql = if lock {
        "SELECT id, name, description, created_at_ms FROM curricula WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT id, name, description, created_at_ms FROM curricula WHERE id = $1"
    };
    let Some(row) = t.query_opt(sql, &[&(id as i64)])? else {
        return Ok(None);
    };
    let courses = t
        .query(
            "SELECT course_id FROM curriculum_courses WHERE curriculum_id = $1 ORDER BY position",
            &[&(id as i64)],
        )?
        .iter()
        .map(|r| r.get::<_, i64>(0) as u64)
        .collect();
    Ok(Some(CurriculumRecord {
        id: row.get::<_, i64>(0) as u64,
        name: row.get(1),
        description: row.get(2),
        courses,
        created_at: row.get::<_, i64>(3) as u64,
    }))
}

/// Refuses the name when another curriculum holds it.
fn tx_check_name(t: &mut Transaction<'_>, id: u64, folded: &str) -> Result<(), PgError> {
    if let Some(row) = t.query_opt(
        "SELECT id FROM curricula WHERE name_folded = $1",
        &[&folded],
    )? {
        if row.get::<_, i64>(0) as u64 != id {
            return Err(StoreError::invalid("name", NAME_TAKEN).into());
        }
    }
    Ok(())
}

/// Inside a transaction: `ids`' curricula as views, in this order.
fn tx_views(t: &mut Transaction<'_>, ids: &[u64]) -> Result<Vec<CurriculumView>, PgError> {
    ids.iter()
        .map(|&id| {
            tx_get(t, id, false)?
                .map(|c| c.view())
                .ok_or(PgError::Store(StoreError::NotFound("curriculum")))
        })
        .collect()
}

fn tx_count(t: &mut Transaction<'_>) -> Result<u64, PgError> {
    Ok(t.query_one("SELECT count(*) FROM curricula", &[])?
        .get::<_, i64>(0) as u64)
}

impl Curricula for PgStore {
    fn create_curriculum(
        &self,
        name: &str,
        description: &str,
        now: u64,
    ) -> Result<CurriculumView, StoreError> {
        refuse_nul("name", name)?;
        refuse_nul("description", description)?;
        let id = self.new_id()?;
        let rec = CurriculumRecord {
            id,
            name: name.into(),
            description: description.into(),
            courses: Vec::new(),
            created_at: now,
        };
        self.tx(IsolationLevel::Serializable, |t| {
            let folded = fold(&rec.name);
            tx_check_name(t, id, &folded)?;
            t.execute(
                "INSERT INTO curricula (id, name, name_folded, description, created_at_ms) \
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &(id as i64),
                    &rec.name,
                    &folded,
                    &rec.description,
                    &(now as i64),
                ],
            )
            .map_err(name_unique)?;
            search::set_terms(t, &TERMS, id, &terms(&rec.name))
        })?;
        Ok(rec.view())
    }

    fn update_curriculum(
        &self,
        id: u64,
        name: &str,
        description: &str,
    ) -> Result<CurriculumView, StoreError> {
        refuse_nul("name", name)?;
        refuse_nul("description", description)?;
        self.tx(IsolationLevel::Serializable, |t| {
            let old = tx_get(t, id, true)?.ok_or(StoreError::NotFound("curriculum"))?;
            let rec = CurriculumRecord {
                name: name.into(),
                description: description.into(),
                ..old
            };
            let folded = fold(&rec.name);
            tx_check_name(t, id, &folded)?;
            t.execute(
                "UPDATE curricula SET name = $2, name_folded = $3, description = $4 WHERE id = $1",
                &[&(id as i64), &rec.name, &folded, &rec.description],
            )
            .map_err(name_unique)?;
            search::set_terms(t, &TERMS, id, &terms(&rec.name))?;
            Ok(rec.view())
        })
    }

    fn get_curriculum(&self, id: u64) -> Result<Option<CurriculumRecord>, StoreError> {
        self.tx(IsolationLevel::RepeatableRead, |t| tx_get(t, id, false))
    }

    fn change_curriculum(
        &self,
        id: u64,
        change: CurriculumChange,
    ) -> Result<CurriculumView, StoreError> {
        self.tx(IsolationLevel::Serializable, |t| {
            let mut rec = tx_get(t, id, true)?.ok_or(StoreError::NotFound("curriculum"))?;
            match change {
                CurriculumChange::Add(course) => {
                    let known =
                        t.query_opt("SELECT 1 FROM courses WHERE id = $1", &[&(course as i64)])?;
                    if known.is_none() {
                        return Err(StoreError::NotFound("course").into());
                    }
                    if !rec.courses.contains(&course) {
                        rec.courses.push(course);
                    }
                }
                CurriculumChange::Remove(course) => rec.courses.retain(|c| *c != course),
                CurriculumChange::Move(course, by) => {
                    if let Some(i) = rec.courses.iter().position(|c| *c == course) {
                        let j = i as i64 + i64::from(by);
                        if j >= 0 && (j as usize) < rec.courses.len() {
                            rec.courses.swap(i, j as usize);
                        }
                    }
                }
            }
            let courses: Vec<i64> = rec.courses.iter().map(|&c| c as i64).collect();
            t.execute(
                "DELETE FROM curriculum_courses WHERE curriculum_id = $1",
                &[&(id as i64)],
            )?;
            t.execute(
                "INSERT INTO curriculum_courses (curriculum_id, course_id, position) \
                 SELECT $1, c, (n - 1)::integer FROM unnest($2::bigint[]) WITH ORDINALITY AS u(c, n)",
                &[&(id as i64), &courses],
            )?;
            Ok(rec.view())
        })
    }

    fn curricula_of_course(&self, course: u64) -> Result<Vec<u64>, StoreError> {
        self.tx(IsolationLevel::ReadCommitted, |t| {
            Ok(t.query(
                "SELECT curriculum_id FROM curriculum_courses WHERE course_id = $1 \
                     ORDER BY curriculum_id",
                &[&(course as i64)],
            )?
            .iter()
            .map(|r| r.get::<_, i64>(0) as u64)
            .collect())
        })
    }

    /// The row goes (its terms and course links with it, by CASCADE) and its
    /// CurriculumDeleted job is recorded in the same transaction, as on sled.
    fn delete_curriculum(&self, id: u64) -> Result<u64, StoreError> {
        let job = self.new_id()?;
        let now = crate::server::store::now_ms();
        self.tx(IsolationLevel::Serializable, |t| {
            let n = t.execute("DELETE FROM curricula WHERE id = $1", &[&(id as i64)])?;
            if n == 0 {
                return Err(StoreError::NotFound("curriculum").into());
            }
            t.execute(
                "INSERT INTO jobs (id, kind, target_id, old_lessons, state, failure, cursor, \
                 done, total, enrolled, already, skipped_archived, skipped_inactive, failed, \
                 started_by, created_at_ms) VALUES ($1, 'curriculum_deleted', $2, NULL, \
                 'pending', NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, $3)",
                &[&(job as i64), &(id as i64), &(now as i64)],
            )?;
            Ok(job)
        })
    }

    fn curriculum_count(&self) -> Result<u64, StoreError> {
        self.tx(IsolationLevel::ReadCommitted, tx_count)
    }

    fn list_curricula(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<CurriculumView>, u64, bool), StoreError> {
        self.curricula_except(query, page, per_page, &HashSet::new())
    }

    fn curricula_except(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
        except: &HashSet<u64>,
    ) -> Result<(Vec<CurriculumView>, u64, bool), StoreError> {
        let (skip, take) = crate::server::store::page_window(page, per_page);
        let q = fold(query);
        let left_out: Vec<i64> = except.iter().map(|&i| i as i64).collect();
        self.tx(IsolationLevel::RepeatableRead, |t| {
            let (ids, total, capped) = if q.is_empty() {
                let ids = t
                    .query(
                        "SELECT id FROM curricula WHERE id <> ALL($3) ORDER BY name_folded \
                         LIMIT $1 OFFSET $2",
                        &[&(take as i64), &(skip as i64), &left_out],
                    )?
                    .iter()
                    .map(|r| r.get::<_, i64>(0) as u64)
                    .collect();
                // As sled counts: the total less the ids left out.
                let total = tx_count(t)?.saturating_sub(except.len() as u64);
                (ids, total, false)
            } else {
                search::page_where(t, &TERMS, &q, skip, take, |_, id| Ok(!except.contains(&id)))?
            };
            Ok((tx_views(t, &ids)?, total, capped))
        })
    }
}
