//! Backups and restores between the backends, on the test cluster (skipped without one, as
//! every PostgreSQL test). The schools here are made on the embedded backend on purpose: a
//! file it wrote is what a school moving to PostgreSQL brings, and what comes back is compared
//! with its original there.

use super::super::tests::temp_pg_store;
use super::*;
use crate::server::store::archive::tests::{assert_same, comparable, every_area};
#[allow(unused_imports)]
use crate::server::store::prelude::*;
use crate::server::store::tests::dump;
use crate::server::store::Store;

/// A store on the embedded backend (deliberately: see the module docs) with a record of every
/// kind, and its backup file.
fn school_file() -> (tempfile::TempDir, Store, Vec<u8>) {
    let (dir, s) = crate::server::store::sled::tests::sled_temp_store();
    every_area(&s);
    let mut file = Vec::new();
    s.backup(&mut file, 1_700_000_000_000).unwrap();
    (dir, s, file)
}

#[test]
fn a_school_moved_from_sled_to_postgresql_and_back_is_the_same_school() {
    let Some((_db, pg)) = temp_pg_store() else {
        return;
    };
    let (_d, original, file) = school_file();
    let header = crate::server::store::backup::read_header(file.as_slice()).unwrap();

    let summary = restore(file.as_slice(), &pg).unwrap();
    assert_eq!(summary.violations, Vec::<String>::new());
    // The copy serves the school: logins, totals recounted, groups, and new ids past the old.
    let pg_store = Store::new(pg);
    assert_eq!(
        pg_store.user_count().unwrap(),
        original.user_count().unwrap()
    );
    assert!(pg_store.find_for_login("ADA").unwrap().is_some());
    let phy = original.list_courses("PHY", 1, 5).unwrap().0[0].id;
    assert_eq!(
        pg_store.enrolled_count(phy).unwrap(),
        original.enrolled_count(phy).unwrap()
    );
    assert!(pg_store.new_id().unwrap() >= header.id_mark);

    let mut again = Vec::new();
    let made = pg_store.backup(&mut again, 1_700_000_000_001).unwrap();
    assert_eq!(made.bytes, again.len() as u64);
    let back = crate::server::store::backup::read_header(again.as_slice()).unwrap();
    assert!(back.id_mark >= header.id_mark);
    assert_eq!(back.schema, header.schema);

    let to = tempfile::tempdir().unwrap();
    let (restored, sum) =
        crate::server::store::restore(again.as_slice(), &to.path().join("s")).unwrap();
    assert_eq!(sum.violations, Vec::<String>::new());
    assert_same(&comparable(&restored), &comparable(&original));
}

#[test]
fn a_restore_into_a_database_holding_a_school_is_refused_and_changes_nothing() {
    let Some((_db, pg)) = temp_pg_store() else {
        return;
    };
    let (_d, _original, file) = school_file();
    let pg = Store::new(pg);
    crate::server::store::enrolments::tests_support::learner(&pg, "already-here");
    let before = dump(&pg);
    let pg_ref = pg.as_any().downcast_ref::<PgStore>().unwrap();
    let err = restore(file.as_slice(), pg_ref).unwrap_err();
    assert!(matches!(err, BackupError::DatabaseNotEmpty(_)), "{err}");
    assert_eq!(dump(&pg), before);
}

#[test]
fn a_damaged_file_is_a_typed_error_and_the_database_stays_empty() {
    let Some((_db, pg)) = temp_pg_store() else {
        return;
    };
    let (_d, _original, file) = school_file();
    let before = pg.snapshot().unwrap();
    let mut flipped = file.clone();
    let mid = file.len() / 2;
    flipped[mid] ^= 0x10;
    for bad in [
        &file[..file.len() / 3],
        &file[..file.len() - 1],
        &flipped[..],
    ] {
        let err = restore(bad, &pg).unwrap_err();
        assert!(
            matches!(err, BackupError::Damaged(_) | BackupError::NotABackup),
            "{err}"
        );
        assert_eq!(pg.snapshot().unwrap(), before);
    }
    let err = restore(&b"PK\x03\x04 a zip file"[..], &pg).unwrap_err();
    assert!(matches!(err, BackupError::NotABackup), "{err}");
    assert_eq!(pg.snapshot().unwrap(), before);
    // The database is still empty: the whole file restores.
    restore(file.as_slice(), &pg).unwrap();
}

#[test]
fn the_last_backup_is_kept_in_the_database() {
    let Some((_db, pg)) = temp_pg_store() else {
        return;
    };
    assert_eq!(pg.last_backup().unwrap(), None);
    for rec in [
        LastBackupRecord {
            at_ms: 5,
            bytes: 10,
            via: BackupVia::Command,
        },
        LastBackupRecord {
            at_ms: 6,
            bytes: 11,
            via: BackupVia::Download { by: 3 },
        },
    ] {
        pg.record_backup(&rec).unwrap();
        assert_eq!(pg.last_backup().unwrap(), Some(rec));
    }
}

/// The commands' entry points: a file restores into an empty database, a second restore into
/// it is refused with the restore's "target not empty" exit code, and a backup of it is made.
#[test]
fn the_commands_restore_into_an_empty_database_refuse_a_filled_one_and_back_it_up() {
    let Some((db, pg)) = temp_pg_store() else {
        return;
    };
    let place = crate::server::store::StorePlace::Database {
        url: db.url.clone(),
        pool_size: 2,
    };
    let (_d, original, file) = school_file();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("school.tessera-backup");
    std::fs::write(&path, &file).unwrap();
    let summary = crate::server::backup_control::restore_command(&path, &place).unwrap();
    assert_eq!(summary.violations, Vec::<String>::new());
    assert_eq!(pg.user_count().unwrap(), original.user_count().unwrap());
    let err = crate::server::backup_control::restore_command(&path, &place).unwrap_err();
    assert_eq!(err.exit_code(), 10, "{err}");

    // And `tessera backup` of it writes a file the embedded restore takes, and records itself.
    let out = dir.path().join("again.tessera-backup");
    let (made, from) = crate::server::backup_control::backup_command(&place, &out).unwrap();
    assert_eq!(from, crate::server::backup_control::Source::Database);
    assert_eq!(made.bytes, std::fs::metadata(&out).unwrap().len());
    assert_eq!(
        pg.last_backup().unwrap().map(|b| b.via),
        Some(BackupVia::Command)
    );
    let (_, sum) =
        crate::server::store::restore(std::fs::File::open(&out).unwrap(), &dir.path().join("back"))
            .unwrap();
    assert_eq!(sum.violations, Vec::<String>::new());
}

/// A measurement, not a check: how long a school of `TESSERA_BENCH_USERS` learners (10,000 by
/// default; 10 courses each through their groups) takes to back up on sled, restore into
/// PostgreSQL and back up from PostgreSQL.
/// `cargo test --features ssr --lib backup_and_restore_at_scale -- --ignored --nocapture`
#[test]
#[ignore = "a measurement"]
fn backup_and_restore_at_scale() {
    use crate::server::seed::{seed, SeedPlan};
    use std::time::Instant;
    let Some((_db, pg)) = temp_pg_store() else {
        return;
    };
    let users: u64 = std::env::var("TESSERA_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let (_d, s) = crate::server::store::sled::tests::sled_temp_store();
    let plan = SeedPlan {
        users,
        groups: (users / 1_000).max(1),
        courses: 100,
        courses_per_group: 10,
    };
    let hash = crate::server::store::users::PasswordHash::from_phc("$x".into());
    seed(&s, plan, &hash, |_| {}).unwrap();
    let mut file = Vec::new();
    let started = Instant::now();
    let made = s.backup(&mut file, 1).unwrap();
    let sled_backup = started.elapsed();
    let started = Instant::now();
    restore(file.as_slice(), &pg).unwrap();
    let pg_restore = started.elapsed();
    let mut again = Vec::new();
    let started = Instant::now();
    let remade = pg.backup(&mut again, 2).unwrap();
    let pg_backup = started.elapsed();
    println!(
        "{users} users, {} entries, {} bytes: sled backup {sled_backup:?}; restore into \
         PostgreSQL {pg_restore:?}; backup from PostgreSQL {pg_backup:?} ({} entries, {} bytes)",
        made.entries, made.bytes, remade.entries, remade.bytes
    );
}

/// Backups taken on PostgreSQL while writers run are each one consistent state (a member and
/// the group's count, an enrolment and the course's, from the same moment): the file restores
/// on the embedded store and `check` finds nothing. The writers are never held up.
#[test]
fn backups_taken_while_writers_run_are_consistent() {
    use crate::model::group::JoinedHow;
    use crate::server::store::enrolments::tests_support::{course, learner, plain_group};
    use crate::server::store::groups::Actor;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    let Some((_db, pg)) = temp_pg_store() else {
        return;
    };
    let s = Store::new(pg);
    let groups: Vec<u64> = (0..2).map(|i| plain_group(&s, &format!("G{i}"))).collect();
    let courses: Vec<u64> = (0..2).map(|i| course(&s, &format!("C{i}"))).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (s, stop, done) = (s.clone(), stop.clone(), done.clone());
            let (g, c) = (groups[w], courses[w]);
            std::thread::spawn(move || {
                let actor = Actor { user: 0, now: 5 };
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let u = learner(&s, &format!("w{w}u{i}"));
                    s.add_member(actor, g, u, JoinedHow::Manual).unwrap();
                    s.enrol(u, c, Source::Manual, 6).unwrap();
                    if i % 3 == 0 {
                        s.remove_member(actor, g, u, true).unwrap();
                    }
                    i += 1;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let to = tempfile::tempdir().unwrap();
    let mut restored = Vec::new();
    for round in 0..4u64 {
        let before = done.load(Ordering::Relaxed);
        while done.load(Ordering::Relaxed) < before + 3 {
            std::thread::yield_now();
        }
        let mut file = Vec::new();
        s.backup(&mut file, round).unwrap();
        let (r, sum) =
            crate::server::store::restore(file.as_slice(), &to.path().join(round.to_string()))
                .unwrap();
        assert_eq!(sum.violations, Vec::<String>::new(), "round {round}");
        restored.push(r.user_count().unwrap());
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    // Each backup saw the school further on: the writers went on while they were taken.
    assert!(restored.windows(2).all(|w| w[0] < w[1]), "{restored:?}");
}
