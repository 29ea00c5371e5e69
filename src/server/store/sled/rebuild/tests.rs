//! Rebuilding the derived trees gives back what the operations wrote.

use super::{derived_meta_key, DERIVED_TREES};
use crate::server::store::archive::tests::{assert_same, comparable, every_area};
#[allow(unused_imports)]
use crate::server::store::prelude::*;

#[test]
fn the_derived_trees_rebuilt_from_the_records_are_the_ones_the_operations_wrote() {
    let (_d, s) = crate::server::store::sled::tests::sled_temp_store();
    every_area(&s);
    let before = comparable(&s);
    let filled = before.iter().filter(|(_, rows)| !rows.is_empty()).count();
    assert!(filled >= 40, "only {filled} trees hold anything");

    let sled = s.sled();
    for name in DERIVED_TREES {
        sled.db.open_tree(name).unwrap().clear().unwrap();
    }
    for key in sled.meta.iter().keys() {
        let key = key.unwrap();
        if derived_meta_key(&key) {
            sled.meta.remove(key).unwrap();
        }
    }
    assert_ne!(comparable(&s), before, "the derived trees were cleared");

    sled.rebuild_derived().unwrap();
    assert_same(&comparable(&s), &before);
    assert_eq!(s.check().unwrap().violations, vec![]);
    // Running it again changes nothing.
    sled.rebuild_derived().unwrap();
    assert_same(&comparable(&s), &before);
}
