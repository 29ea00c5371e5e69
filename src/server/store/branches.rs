//! Branches: organisational units (a school, a department) in a tree.
//!
//! Trees: `branches` (id → [`BranchRecord`]), `branch_name` (folded name → id: uniqueness and
//! name order), `search_branch` (see `search.rs`), `branch_children` (parent id ++ child id →
//! nothing: a branch's sub-branches by range scan). The counter `count/children/<id>` lets a
//! delete refuse a parent inside its transaction; `count/branches` is the list's total.

use crate::server::store::StoreError;

use super::codec::Record;
use crate::model::catalog::BranchView;
use serde::{Deserialize, Serialize};

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

/// The validated fields of a branch.
#[derive(Debug, Clone)]
pub struct BranchFields {
    pub name: String,
    pub description: String,
    pub parent: Option<u64>,
}

/// The store's operations on this area (see the contract in `store/mod.rs`).
pub trait Branches: Send + Sync {
    /// Creates a branch. The name must be unused (ignoring case); the parent must exist.
    fn create_branch(&self, f: &BranchFields, now: u64) -> Result<BranchView, StoreError>;

    /// Changes a branch's name, description and parent (no cycles).
    fn update_branch(&self, id: u64, f: &BranchFields) -> Result<BranchView, StoreError>;

    fn get_branch(&self, id: u64) -> Result<Option<BranchRecord>, StoreError>;

    /// A branch's name, as the group pages show it (`None`: no branch, or one deleted since).
    fn branch_name(&self, branch: Option<u64>) -> Result<Option<String>, StoreError> {
        match branch {
            Some(b) => Ok(self.get_branch(b)?.map(|b| b.name)),
            None => Ok(None),
        }
    }

    /// The ids of a branch's sub-branches.
    fn sub_branches(&self, id: u64) -> Result<Vec<u64>, StoreError>;

    /// Deletes a branch. Refused (on `branch`) while it has sub-branches or groups: they would
    /// be orphaned.
    fn delete_branch(&self, id: u64) -> Result<(), StoreError>;

    /// Number of branches (a stored counter: `Tree::len` would walk the whole tree).
    fn branch_count(&self) -> Result<u64, StoreError>;

    /// Up to `limit` branches in name order (for pickers).
    fn branch_options(&self, limit: usize) -> Result<Vec<BranchView>, StoreError>;

    /// A page of branches (from 1), in name order or matching a name prefix search.
    fn list_branches(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<BranchView>, u64, bool), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::server::store::tests::prelude::*;
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

    /// A NUL character in a branch's name or description is refused on its field with nothing
    /// written, or kept as given: never a storage error.
    #[test]
    fn a_nul_in_a_branch_is_refused_or_kept_never_a_storage_error() {
        let (_d, s) = temp_store();
        for field in ["name", "description"] {
            let mut b = f(&format!("N {field}"), None);
            match field {
                "name" => b.name.push('\0'),
                _ => b.description.push('\0'),
            }
            let before = crate::server::store::tests::dump(&s);
            match s.create_branch(&b, 0) {
                Err(StoreError::Invalid { field: got, .. }) => {
                    assert_eq!(got, field);
                    assert!(before == crate::server::store::tests::dump(&s));
                }
                Ok(v) => {
                    let back = s.get_branch(v.id).unwrap().unwrap();
                    assert_eq!((back.name, back.description), (b.name, b.description));
                }
                Err(other) => panic!("{field}: expected Invalid or Ok, got {other:?}"),
            }
        }
        assert!(s.list_branches("n\0", 1, 20).is_ok());
    }
}
