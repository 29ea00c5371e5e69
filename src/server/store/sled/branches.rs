//! The sled backend's Branches (the interface: `crate::server::store::branches`).

pub(crate) use crate::server::store::branches::*;

#[allow(unused_imports)]
use crate::server::store::prelude::*;
use crate::server::store::sled::tables::{of, TxOf};

use super::codec::{self, fold, id_key};
use super::{abort, bump_counter, counter_key, read_counter, search, SledStore, StoreError};
use crate::model::catalog::BranchView;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

/// `branch_children` key: parent id ++ child id (both 8 bytes big-endian).
pub(crate) fn child_key(parent: u64, child: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id_key(parent));
    k[8..].copy_from_slice(&id_key(child));
    k
}

/// `count/branches`: how many branches there are.
pub(crate) const COUNT_BRANCHES: &str = "branches";

pub(crate) fn children_counter(id: u64) -> String {
    format!("children/{id}")
}

type Tx<T> = Result<T, ConflictableTransactionError<StoreError>>;

fn tx_get(branches: &TransactionalTree, id: u64) -> Tx<Option<BranchRecord>> {
    TxOf::<of::branches>::from(branches).row(id)
}

/// Refuses a parent that does not exist, or that is `id` itself or one of its descendants.
fn tx_check_parent(branches: &TransactionalTree, id: u64, parent: Option<u64>) -> Tx<()> {
    let mut cursor = parent;
    let mut steps = 0;
    while let Some(p) = cursor {
        if p == id {
            return abort(StoreError::invalid(
                "parent",
                "A branch cannot be placed inside itself or one of its own sub-branches.",
            ));
        }
        let Some(rec) = tx_get(branches, p)? else {
            return abort(StoreError::invalid(
                "parent",
                "The chosen parent branch no longer exists.",
            ));
        };
        cursor = rec.parent;
        steps += 1;
        if steps > 10_000 {
            return abort(StoreError::Corrupt {
                tree: "branches",
                key: p.to_string(),
                reason: "the parent chain does not end".into(),
            });
        }
    }
    Ok(())
}

impl Branches for SledStore {
    fn create_branch(&self, f: &BranchFields, now: u64) -> Result<BranchView, StoreError> {
        let id = self.new_id()? + 1;
        let rec = BranchRecord {
            id,
            name: f.name.clone(),
            description: f.description.clone(),
            parent: f.parent,
            created_at: now,
        };
        self.save_branch(None, rec)
    }

    fn update_branch(&self, id: u64, f: &BranchFields) -> Result<BranchView, StoreError> {
        let old = self.get_branch(id)?.ok_or(StoreError::NotFound("branch"))?;
        let rec = BranchRecord {
            name: f.name.clone(),
            description: f.description.clone(),
            parent: f.parent,
            ..old.clone()
        };
        self.save_branch(Some(old), rec)
    }

    fn get_branch(&self, id: u64) -> Result<Option<BranchRecord>, StoreError> {
        self.branches.row(id)
    }

    fn sub_branches(&self, id: u64) -> Result<Vec<u64>, StoreError> {
        self.branch_children
            .scan_prefix(id_key(id))
            .map(|item| {
                let (k, _) = item?;
                codec::read_id("branch_children", &k, &k[8..])
            })
            .collect()
    }

    fn delete_branch(&self, id: u64) -> Result<(), StoreError> {
        let _w = self.writing();
        (
            &*self.branches,
            &self.branch_name,
            &self.search_branch,
            &self.branch_children,
            &self.meta,
        )
            .transaction(|(branches, names, search_t, children, meta)| {
                let Some(rec) = tx_get(branches, id)? else {
                    return abort(StoreError::NotFound("branch"));
                };
                if read_counter(meta.get(counter_key(&children_counter(id)))?) > 0 {
                    return abort(StoreError::invalid(
                        "branch",
                        "This branch has sub-branches. Move or delete them first.",
                    ));
                }
                let groups = read_counter(meta.get(counter_key(&super::groups::branch_counter(id)))?);
                if groups > 0 {
                    return abort(StoreError::invalid(
                        "branch",
                        format!("{groups} group(s) belong to this branch. Move them to another branch or delete them first."),
                    ));
                }
                branches.remove(&id_key(id))?;
                names.remove(fold(&rec.name).as_bytes())?;
                for t in search::terms(&[&rec.name]) {
                    search_t.remove(search::key(&t, id))?;
                }
                if let Some(p) = rec.parent {
                    children.remove(&child_key(p, id))?;
                    bump_counter(meta, &children_counter(p), -1)?;
                }
                bump_counter(meta, COUNT_BRANCHES, -1)?;
                Ok(())
            })?;
        Ok(())
    }

    fn branch_count(&self) -> Result<u64, StoreError> {
        Ok(read_counter(self.meta.get(counter_key(COUNT_BRANCHES))?))
    }

    fn branch_options(&self, limit: usize) -> Result<Vec<BranchView>, StoreError> {
        search::by_name(&self.branch_name, "branch_name", 0, limit)?
            .into_iter()
            .map(|id| {
                self.get_branch(id)?
                    .map(|b| b.view())
                    .ok_or(StoreError::NotFound("branch"))
            })
            .collect()
    }

    fn list_branches(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<BranchView>, u64, bool), StoreError> {
        let (skip, take) = search::window(page, per_page);
        let (ids, total, capped) = if fold(query).is_empty() {
            (
                search::by_name(&self.branch_name, "branch_name", skip, take)?,
                self.branch_count()?,
                false,
            )
        } else {
            search::page(&self.search_branch, "search_branch", query, skip, take)?
        };
        let rows = ids
            .into_iter()
            .map(|id| {
                self.get_branch(id)?
                    .map(|b| b.view())
                    .ok_or(StoreError::NotFound("branch"))
            })
            .collect::<Result<_, _>>()?;
        Ok((rows, total, capped))
    }
}

impl SledStore {
    pub(crate) fn save_branch(
        &self,
        old: Option<BranchRecord>,
        rec: BranchRecord,
    ) -> Result<BranchView, StoreError> {
        let _w = self.writing();
        let bytes = self.branches.encode(&rec)?;
        let id = rec.id;
        (
            &*self.branches,
            &self.branch_name,
            &self.search_branch,
            &self.branch_children,
            &self.meta,
        )
            .transaction(|(branches, names, search_t, children, meta)| {
                let current = tx_get(branches, id)?;
                if current != old {
                    return abort(StoreError::invalid(
                        "name",
                        "This branch was changed meanwhile; reload and try again.",
                    ));
                }
                tx_check_parent(branches, id, rec.parent)?;
                let folded = fold(&rec.name);
                if let Some(owner) = names.get(folded.as_bytes())? {
                    if owner.as_ref() != id_key(id) {
                        return abort(StoreError::invalid(
                            "name",
                            "A branch with this name already exists.",
                        ));
                    }
                }
                if let Some(old) = &old {
                    if fold(&old.name) != folded {
                        names.remove(fold(&old.name).as_bytes())?;
                    }
                    for t in search::terms(&[&old.name]) {
                        search_t.remove(search::key(&t, id))?;
                    }
                    if let Some(p) = old.parent {
                        children.remove(&child_key(p, id))?;
                        bump_counter(meta, &children_counter(p), -1)?;
                    }
                }
                names.insert(folded.as_bytes(), &id_key(id))?;
                for t in search::terms(&[&rec.name]) {
                    search_t.insert(search::key(&t, id), &[])?;
                }
                if let Some(p) = rec.parent {
                    children.insert(&child_key(p, id), &[])?;
                    bump_counter(meta, &children_counter(p), 1)?;
                }
                if old.is_none() {
                    bump_counter(meta, COUNT_BRANCHES, 1)?;
                }
                branches.insert(&id_key(id), bytes.as_slice())?;
                Ok(())
            })?;
        Ok(rec.view())
    }
}
