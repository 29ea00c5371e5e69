//! The sled backend's own tests: what only sled has (its trees, its files, damage written
//! under the store).

#[allow(unused_imports)]
use crate::server::store::backup::tests::{
    actor, assert_same_trees, school, sender, without_sessions,
};
#[allow(unused_imports)]
use crate::server::store::sled::test_prelude::*;

#[test]
fn a_restored_store_holds_every_tree_of_the_original_but_sessions() {
    let (_d, s, last) = school();
    let mut file = Vec::new();
    let made = s.backup(&mut file, 1_700_000_000_000).unwrap();
    assert_eq!(made.bytes, file.len() as u64);
    assert_eq!(made.schema, SCHEMA_VERSION);
    assert!(file.starts_with(b"tessera-backup 1\n"));

    let to = tempfile::tempdir().unwrap();
    let target = to.path().join("restored");
    let (r, sum) = restore(file.as_slice(), &target).unwrap();
    assert!(sum.violations.is_empty(), "{:?}", sum.violations);
    assert_eq!((sum.trees, sum.entries), (made.trees, made.entries));
    assert_eq!(sum.backup.created_ms, 1_700_000_000_000);
    assert_eq!(sum.schema, SCHEMA_VERSION);

    let filled = dump(&s).iter().filter(|(_, kvs)| !kvs.is_empty()).count();
    assert!(filled > 15, "only {filled} trees hold anything");
    assert_same_trees(&s, &r);
    // Sessions stay behind: nobody is signed in on a restored server.
    assert!(!s.sled().sessions.is_empty());
    assert!(r.sled().sessions.is_empty());
    // Ids continue past the original's: a new user cannot take an old id.
    let next = learner(&r, "newcomer");
    assert!(next > last, "new id {next} after restored id {last}");
    // And the restored store serves the same data.
    assert_eq!(r.settings().unwrap().self_registration, Some(true));
    assert_eq!(read_header(file.as_slice()).unwrap(), sum.backup);
}

#[test]
fn a_backup_made_at_schema_1_is_migrated_when_restored() {
    let old = crate::server::store::sled::migrations::tests::schema_v1();
    let mut file = Vec::new();
    {
        let db = ::sled::Config::new()
            .path(old.path().join("data"))
            .open()
            .unwrap();
        let made = write_backup(&db, &mut file, 9).unwrap();
        assert_eq!(made.schema, 1);
    }
    assert_eq!(read_header(file.as_slice()).unwrap().schema, 1);
    let to = tempfile::tempdir().unwrap();
    let (r, sum) = restore(file.as_slice(), &to.path().join("new")).unwrap();
    assert_eq!(sum.backup.schema, 1);
    assert_eq!(sum.schema, SCHEMA_VERSION);
    assert!(sum.violations.is_empty(), "{:?}", sum.violations);
    crate::server::store::sled::migrations::tests::check_v2(r.sled());
}

#[test]
fn a_backup_from_a_newer_schema_is_refused() {
    let (_d, s, _) = school();
    s.sled()
        .meta
        .insert(SCHEMA_KEY, &(SCHEMA_VERSION + 1).to_be_bytes())
        .unwrap();
    let mut file = Vec::new();
    s.backup(&mut file, 1).unwrap();
    let to = tempfile::tempdir().unwrap();
    let target = to.path().join("new");
    let err = restore(file.as_slice(), &target).err().unwrap();
    assert!(matches!(err, BackupError::NewerSchema { .. }), "{err}");
    assert!(!target.exists());
}
