//! Branches: organisational units (a school, a department) in a tree.
//!
//! Trees: `branches` (id → [`BranchRecord`]), `branch_name` (folded name → id: uniqueness and
//! name order), `search_branch` (see `search.rs`), `branch_children` (parent id ++ child id →
//! nothing: a branch's sub-branches by range scan). The counter `count/children/<id>` lets a
//! delete refuse a parent inside its transaction; `count/branches` is the list's total.

use super::codec::{self, fold, id_key, Record};
use super::{abort, bump_counter, counter_key, read_counter, search, Store, StoreError};
use crate::model::catalog::BranchView;
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchRecord {
    pub id: u64,
    pub name: String,
    pub description: String,
    pub parent: Option<u64>,
    pub created_at: u64,
}

impl Record for BranchRecord {
    const TREE: &'static str = "branches";
    const VERSION: u8 = 1;
}

impl BranchRecord {
    pub fn view(&self) -> BranchView {
        BranchView {
            id: self.id,
            name: self.name.clone(),
            description: self.description.clone(),
            parent: self.parent,
        }
    }
}

/// `branch_children` key: parent id ++ child id (both 8 bytes big-endian).
fn child_key(parent: u64, child: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id_key(parent));
    k[8..].copy_from_slice(&id_key(child));
    k
}

/// `count/branches`: how many branches there are.
pub(crate) const COUNT_BRANCHES: &str = "branches";

fn children_counter(id: u64) -> String {
    format!("children/{id}")
}

type Tx<T> = Result<T, ConflictableTransactionError<StoreError>>;

fn tx_get(branches: &TransactionalTree, id: u64) -> Tx<Option<BranchRecord>> {
    let key = id_key(id);
    match branches.get(key)? {
        Some(b) => codec::decode(&key, &b).map(Some).or_else(abort),
        None => Ok(None),
    }
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

/// The validated fields of a branch.
#[derive(Debug, Clone)]
pub struct BranchFields {
    pub name: String,
    pub description: String,
    pub parent: Option<u64>,
}

impl Store {
    /// Creates a branch. The name must be unused (ignoring case); the parent must exist.
    pub fn create_branch(&self, f: &BranchFields, now: u64) -> Result<BranchView, StoreError> {
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

    /// Changes a branch's name, description and parent (no cycles).
    pub fn update_branch(&self, id: u64, f: &BranchFields) -> Result<BranchView, StoreError> {
        let old = self.get_branch(id)?.ok_or(StoreError::NotFound("branch"))?;
        let rec = BranchRecord {
            name: f.name.clone(),
            description: f.description.clone(),
            parent: f.parent,
            ..old.clone()
        };
        self.save_branch(Some(old), rec)
    }

    fn save_branch(
        &self,
        old: Option<BranchRecord>,
        rec: BranchRecord,
    ) -> Result<BranchView, StoreError> {
        let _w = self.writing();
        let bytes = codec::encode(&rec)?;
        let id = rec.id;
        (
            &self.branches,
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

    pub fn get_branch(&self, id: u64) -> Result<Option<BranchRecord>, StoreError> {
        let key = id_key(id);
        self.branches
            .get(key)?
            .map(|b| codec::decode(&key, &b))
            .transpose()
    }

    /// The ids of a branch's sub-branches.
    pub fn sub_branches(&self, id: u64) -> Result<Vec<u64>, StoreError> {
        self.branch_children
            .scan_prefix(id_key(id))
            .map(|item| {
                let (k, _) = item?;
                codec::read_id("branch_children", &k, &k[8..])
            })
            .collect()
    }

    /// Deletes a branch. Refused (on `branch`) while it has sub-branches or groups: they would
    /// be orphaned.
    pub fn delete_branch(&self, id: u64) -> Result<(), StoreError> {
        let _w = self.writing();
        (
            &self.branches,
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

    /// Number of branches (a stored counter: `Tree::len` would walk the whole tree).
    pub fn branch_count(&self) -> Result<u64, StoreError> {
        Ok(read_counter(self.meta.get(counter_key(COUNT_BRANCHES))?))
    }

    /// Up to `limit` branches in name order (for pickers).
    pub fn branch_options(&self, limit: usize) -> Result<Vec<BranchView>, StoreError> {
        search::by_name(&self.branch_name, "branch_name", 0, limit)?
            .into_iter()
            .map(|id| {
                self.get_branch(id)?
                    .map(|b| b.view())
                    .ok_or(StoreError::NotFound("branch"))
            })
            .collect()
    }

    /// A page of branches (from 1), in name order or matching a name prefix search.
    pub fn list_branches(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::tests::temp_store;

    fn f(name: &str, parent: Option<u64>) -> BranchFields {
        BranchFields {
            name: name.into(),
            description: String::new(),
            parent,
        }
    }

    #[test]
    fn names_are_unique_ignoring_case() {
        let (_d, s) = temp_store();
        s.create_branch(&f("North School", None), 0).unwrap();
        let err = s.create_branch(&f("north school", None), 0).unwrap_err();
        assert!(matches!(err, StoreError::Invalid { field: "name", .. }));
        assert_eq!(s.list_branches("", 1, 20).unwrap().1, 1);
    }

    #[test]
    fn no_branch_becomes_its_own_ancestor() {
        let (_d, s) = temp_store();
        let a = s.create_branch(&f("A", None), 0).unwrap();
        let b = s.create_branch(&f("B", Some(a.id)), 0).unwrap();
        let c = s.create_branch(&f("C", Some(b.id)), 0).unwrap();
        for bad_parent in [a.id, b.id, c.id] {
            let err = s
                .update_branch(a.id, &f("A", Some(bad_parent)))
                .unwrap_err();
            assert!(err.to_string().contains("inside itself"), "{err}");
        }
        assert_eq!(
            s.get_branch(a.id).unwrap().unwrap().parent,
            None,
            "unchanged"
        );
        // Moving C to the top and then A under C is fine.
        s.update_branch(c.id, &f("C", None)).unwrap();
        s.update_branch(a.id, &f("A", Some(c.id))).unwrap();
        let err = s.create_branch(&f("D", Some(999_999)), 0).unwrap_err();
        assert!(matches!(
            err,
            StoreError::Invalid {
                field: "parent",
                ..
            }
        ));
    }

    #[test]
    fn deleting_refuses_parents_and_cleans_indexes() {
        let (_d, s) = temp_store();
        let a = s.create_branch(&f("Alpha", None), 0).unwrap();
        let b = s.create_branch(&f("Beta", Some(a.id)), 0).unwrap();
        assert!(s
            .delete_branch(a.id)
            .unwrap_err()
            .to_string()
            .contains("sub-branches"));
        assert_eq!(s.sub_branches(a.id).unwrap(), vec![b.id]);
        s.update_branch(b.id, &f("Beta", None)).unwrap();
        assert!(s.sub_branches(a.id).unwrap().is_empty());
        s.delete_branch(a.id).unwrap();
        s.delete_branch(b.id).unwrap();
        assert_eq!(s.list_branches("", 1, 20).unwrap().1, 0);
        assert_eq!(s.list_branches("alp", 1, 20).unwrap().1, 0);
        s.create_branch(&f("alpha", None), 0).unwrap();
        assert!(matches!(
            s.delete_branch(12345),
            Err(StoreError::NotFound("branch"))
        ));
    }

    #[test]
    fn rename_moves_the_name_and_search_entries() {
        let (_d, s) = temp_store();
        let a = s.create_branch(&f("Old Name", None), 0).unwrap();
        s.update_branch(a.id, &f("New Name", None)).unwrap();
        assert_eq!(s.list_branches("old", 1, 20).unwrap().1, 0);
        assert_eq!(s.list_branches("new", 1, 20).unwrap().0[0].id, a.id);
        s.create_branch(&f("old name", None), 0).unwrap();
    }
}
