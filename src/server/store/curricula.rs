//! Curricula: named, ordered sets of courses.
//!
//! Trees: `curricula` (id → [`CurriculumRecord`], course ids in order), `curriculum_name`
//! (folded name → id: uniqueness and name order), `search_curriculum` (name terms),
//! `course_curricula` (course id ++ curriculum id → nothing: the curricula holding a course, for
//! deleting a course without a scan of all curricula). `count/curricula` is the list's total.

use crate::server::store::StoreError;

use super::codec::Record;
use crate::model::catalog::CurriculumView;
use serde::{Deserialize, Serialize};

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

/// The store's operations on this area (see the contract in `store/mod.rs`).
pub trait Curricula: Send + Sync {
    /// Creates a curriculum with no courses. The name must be unused (ignoring case).
    fn create_curriculum(
        &self,
        name: &str,
        description: &str,
        now: u64,
    ) -> Result<CurriculumView, StoreError>;

    /// Renames a curriculum / changes its description.
    fn update_curriculum(
        &self,
        id: u64,
        name: &str,
        description: &str,
    ) -> Result<CurriculumView, StoreError>;

    fn get_curriculum(&self, id: u64) -> Result<Option<CurriculumRecord>, StoreError>;

    /// Adds, removes or moves a course in a curriculum. Adding an unknown course is `NotFound`;
    /// adding one already there changes nothing.
    fn change_curriculum(
        &self,
        id: u64,
        change: CurriculumChange,
    ) -> Result<CurriculumView, StoreError>;

    /// The curricula that hold `course`.
    fn curricula_of_course(&self, course: u64) -> Result<Vec<u64>, StoreError>;

    /// Deletes a curriculum. A job recorded in the same transaction then detaches it from its
    /// groups (see `jobs.rs`); returns its id. Enrolments made through it stay.
    fn delete_curriculum(&self, id: u64) -> Result<u64, StoreError>;

    /// Number of curricula (a stored counter: `Tree::len` would walk the whole tree).
    fn curriculum_count(&self) -> Result<u64, StoreError>;

    /// A page of curricula (from 1), in name order or matching a name prefix search.
    fn list_curricula(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<CurriculumView>, u64, bool), StoreError>;

    /// [`Store::list_curricula`] without the curricula in `except` (those a group already
    /// gives, say).
    fn curricula_except(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
        except: &std::collections::HashSet<u64>,
    ) -> Result<(Vec<CurriculumView>, u64, bool), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::courses::tests::course_fields;
    #[allow(unused_imports)]
    use crate::server::store::tests::prelude::*;
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
