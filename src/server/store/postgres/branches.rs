//! The PostgreSQL backend's Branches (the interface: `crate::server::store::branches`):
//! `branches` (the folded name unique, the parent a RESTRICT foreign key) and `branch_terms`.
//!
//! Isolation: creating, editing and deleting are SERIALIZABLE (a unique name, a parent chain
//! without cycles, no groups or sub-branches left behind are rules over several rows). Totals
//! are counted: a catalogue holds hundreds to a few thousand branches, and the count(*) runs
//! over the primary key (see the schema's note on totals).

use super::search::{self, TermIndex};
use super::{refuse_nul, unique_violation, PgError, PgStore};
use crate::model::catalog::BranchView;
use crate::server::store::branches::{BranchFields, BranchRecord, Branches};
use crate::server::store::codec::fold;
use crate::server::store::{Core, StoreError};
use postgres::{IsolationLevel, Row, Transaction};

/// `branch_terms`.
pub(crate) const TERMS: TermIndex = TermIndex {
    table: "branch_terms",
    term: "term",
    id: "branch_id",
};

const COLUMNS: &str = "id, name, description, parent, created_at_ms";

const NAME_TAKEN: &str = "A branch with this name already exists.";

fn record(row: &Row) -> BranchRecord {
    BranchRecord {
        id: row.get::<_, i64>(0) as u64,
        name: row.get(1),
        description: row.get(2),
        parent: row.get::<_, Option<i64>>(3).map(|p| p as u64),
        created_at: row.get::<_, i64>(4) as u64,
    }
}

pub(crate) fn terms(name: &str) -> Vec<String> {
    crate::server::store::search_terms(&[name])
}

fn tx_get(t: &mut Transaction<'_>, id: u64) -> Result<Option<BranchRecord>, PgError> {
    let row = t.query_opt(
        &format!("SELECT {COLUMNS} FROM branches WHERE id = $1"),
        &[&(id as i64)],
    )?;
    Ok(row.as_ref().map(record))
}

/// Refuses a parent that does not exist, or that is `id` itself or one of its descendants.
fn tx_check_parent(t: &mut Transaction<'_>, id: u64, parent: Option<u64>) -> Result<(), PgError> {
    let mut cursor = parent;
    let mut steps = 0;
    while let Some(p) = cursor {
        if p == id {
            return Err(StoreError::invalid(
                "parent",
                "A branch cannot be placed inside itself or one of its own sub-branches.",
            )
            .into());
        }
        let Some(rec) = tx_get(t, p)? else {
            return Err(StoreError::invalid(
                "parent",
                "The chosen parent branch no longer exists.",
            )
            .into());
        };
        cursor = rec.parent;
        steps += 1;
        if steps > 10_000 {
            return Err(StoreError::Corrupt {
                tree: "branches",
                key: p.to_string(),
                reason: "the parent chain does not end".into(),
            }
            .into());
        }
    }
    Ok(())
}

/// Refuses the name when another branch holds it.
fn tx_check_name(t: &mut Transaction<'_>, id: u64, folded: &str) -> Result<(), PgError> {
    if let Some(row) = t.query_opt("SELECT id FROM branches WHERE name_folded = $1", &[&folded])? {
        if row.get::<_, i64>(0) as u64 != id {
            return Err(StoreError::invalid("name", NAME_TAKEN).into());
        }
    }
    Ok(())
}

fn name_unique(e: postgres::Error) -> PgError {
    let e = PgError::Db(e);
    if unique_violation(&e, "branches_name_folded") {
        PgError::Store(StoreError::invalid("name", NAME_TAKEN))
    } else {
        e
    }
}

fn refuse_nul_fields(f: &BranchFields) -> Result<(), StoreError> {
    refuse_nul("name", &f.name)?;
    refuse_nul("description", &f.description)
}

/// Inside a transaction: `ids`' branches as views, in this order.
fn tx_views(t: &mut Transaction<'_>, ids: &[u64]) -> Result<Vec<BranchView>, PgError> {
    let wanted: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
    let rows = t.query(
        &format!("SELECT {COLUMNS} FROM branches WHERE id = ANY($1)"),
        &[&wanted],
    )?;
    let mut found: std::collections::HashMap<u64, BranchView> = rows
        .iter()
        .map(|r| {
            let b = record(r);
            (b.id, b.view())
        })
        .collect();
    ids.iter()
        .map(|id| {
            found
                .remove(id)
                .ok_or(PgError::Store(StoreError::NotFound("branch")))
        })
        .collect()
}

fn tx_by_name(t: &mut Transaction<'_>, skip: usize, take: usize) -> Result<Vec<u64>, PgError> {
    Ok(t.query(
        "SELECT id FROM branches ORDER BY name_folded LIMIT $1 OFFSET $2",
        &[&(take as i64), &(skip as i64)],
    )?
    .iter()
    .map(|r| r.get::<_, i64>(0) as u64)
    .collect())
}

impl Branches for PgStore {
    fn create_branch(&self, f: &BranchFields, now: u64) -> Result<BranchView, StoreError> {
        refuse_nul_fields(f)?;
        let id = self.new_id()?;
        let rec = BranchRecord {
            id,
            name: f.name.clone(),
            description: f.description.clone(),
            parent: f.parent,
            created_at: now,
        };
        self.tx(IsolationLevel::Serializable, |t| {
            tx_check_parent(t, id, rec.parent)?;
            let folded = fold(&rec.name);
            tx_check_name(t, id, &folded)?;
            t.execute(
                "INSERT INTO branches (id, name, name_folded, description, parent, created_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &(id as i64),
                    &rec.name,
                    &folded,
                    &rec.description,
                    &rec.parent.map(|p| p as i64),
                    &(rec.created_at as i64),
                ],
            )
            .map_err(name_unique)?;
            search::set_terms(t, &TERMS, id, &terms(&rec.name))?;
            Ok(())
        })?;
        Ok(rec.view())
    }

    fn update_branch(&self, id: u64, f: &BranchFields) -> Result<BranchView, StoreError> {
        refuse_nul_fields(f)?;
        self.tx(IsolationLevel::Serializable, |t| {
            let old = t
                .query_opt(
                    &format!("SELECT {COLUMNS} FROM branches WHERE id = $1 FOR UPDATE"),
                    &[&(id as i64)],
                )?
                .map(|r| record(&r))
                .ok_or(StoreError::NotFound("branch"))?;
            let rec = BranchRecord {
                name: f.name.clone(),
                description: f.description.clone(),
                parent: f.parent,
                ..old
            };
            tx_check_parent(t, id, rec.parent)?;
            let folded = fold(&rec.name);
            tx_check_name(t, id, &folded)?;
            t.execute(
                "UPDATE branches SET name = $2, name_folded = $3, description = $4, parent = $5 \
                 WHERE id = $1",
                &[
                    &(id as i64),
                    &rec.name,
                    &folded,
                    &rec.description,
                    &rec.parent.map(|p| p as i64),
                ],
            )
            .map_err(name_unique)?;
            search::set_terms(t, &TERMS, id, &terms(&rec.name))?;
            Ok(rec.view())
        })
    }

    fn get_branch(&self, id: u64) -> Result<Option<BranchRecord>, StoreError> {
        self.tx(IsolationLevel::ReadCommitted, |t| tx_get(t, id))
    }

    fn sub_branches(&self, id: u64) -> Result<Vec<u64>, StoreError> {
        self.tx(IsolationLevel::ReadCommitted, |t| {
            Ok(t.query(
                "SELECT id FROM branches WHERE parent = $1 ORDER BY id",
                &[&(id as i64)],
            )?
            .iter()
            .map(|r| r.get::<_, i64>(0) as u64)
            .collect())
        })
    }

    fn delete_branch(&self, id: u64) -> Result<(), StoreError> {
        self.tx(IsolationLevel::Serializable, |t| {
            let found = t.query_opt(
                "SELECT id FROM branches WHERE id = $1 FOR UPDATE",
                &[&(id as i64)],
            )?;
            if found.is_none() {
                return Err(StoreError::NotFound("branch").into());
            }
            let children = t.query_opt(
                "SELECT 1 FROM branches WHERE parent = $1 LIMIT 1",
                &[&(id as i64)],
            )?;
            if children.is_some() {
                return Err(StoreError::invalid(
                    "branch",
                    "This branch has sub-branches. Move or delete them first.",
                )
                .into());
            }
            let groups: i64 = t
                .query_one(
                    "SELECT count(*) FROM groups WHERE branch_id = $1",
                    &[&(id as i64)],
                )?
                .get(0);
            if groups > 0 {
                return Err(StoreError::invalid(
                    "branch",
                    format!(
                        "{groups} group(s) belong to this branch. Move them to another branch \
                         or delete them first."
                    ),
                )
                .into());
            }
            t.execute("DELETE FROM branches WHERE id = $1", &[&(id as i64)])?;
            Ok(())
        })
    }

    fn branch_count(&self) -> Result<u64, StoreError> {
        self.tx(IsolationLevel::ReadCommitted, tx_count)
    }

    fn branch_options(&self, limit: usize) -> Result<Vec<BranchView>, StoreError> {
        self.tx(IsolationLevel::RepeatableRead, |t| {
            let ids = tx_by_name(t, 0, limit)?;
            tx_views(t, &ids)
        })
    }

    fn list_branches(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<BranchView>, u64, bool), StoreError> {
        let (skip, take) = crate::server::store::page_window(page, per_page);
        let folded = fold(query);
        self.tx(IsolationLevel::RepeatableRead, |t| {
            let (ids, total, capped) = if folded.is_empty() {
                (tx_by_name(t, skip, take)?, tx_count(t)?, false)
            } else {
                search::page(t, &TERMS, &folded, skip, take)?
            };
            Ok((tx_views(t, &ids)?, total, capped))
        })
    }
}

fn tx_count(t: &mut Transaction<'_>) -> Result<u64, PgError> {
    Ok(t.query_one("SELECT count(*) FROM branches", &[])?
        .get::<_, i64>(0) as u64)
}
