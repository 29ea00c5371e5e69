use super::*;

use crate::model::group::JoinedHow;

use crate::server::store::enrolments::tests_support::{course, learner, plain_group};

use crate::server::store::enrolments::Source;

use crate::server::store::groups::Actor;

use crate::server::store::jobs::Step;

use crate::server::store::sessions::SessionRecord;

#[allow(unused_imports)]
use crate::server::store::tests::prelude::*;

use crate::server::store::tests::{dump, temp_store, Dump};

pub(crate) fn without_sessions(d: Dump) -> Dump {
    d.into_iter().filter(|(n, _)| n != "sessions").collect()
}

/// Every tree but `sessions` holds the same entries in both stores (names the first that
/// differs instead of printing both stores).
pub(crate) fn assert_same_trees(a: &Store, b: &Store) {
    let (a, b) = (without_sessions(dump(a)), without_sessions(dump(b)));
    let names = |d: &Dump| d.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b), "the same trees");
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "tree {name} differs");
    }
}

pub(crate) fn actor() -> Actor {
    Actor { user: 0, now: 5 }
}

pub(crate) fn sender(s: &Store) -> Actor {
    Actor {
        user: learner(s, "teacher"),
        now: 5,
    }
}

/// A store with a record of most kinds: users, a group with members and a course, enrolments
/// with progress, a delivered message, a setting and a login session.
pub(crate) fn school() -> (crate::server::store::tests::TestPlace, Store, u64) {
    let (d, s) = temp_store();
    let g = plain_group(&s, "Year 7");
    let c = course(&s, "PHY");
    let mut last = 0;
    for i in 0..30 {
        let u = learner(&s, &format!("pupil{i}"));
        s.add_member(actor(), g, u, JoinedHow::Manual).unwrap();
        s.enrol(u, c, Source::Manual, 6).unwrap();
        last = u;
    }
    s.link_group_course(actor(), g, c, true).unwrap();
    let (_, job) = s
        .send_message(sender(&s), g, "Trip", "Bring a coat.", false)
        .unwrap();
    while s.run_job_step(job, 7).unwrap() == Step::More {}
    s.set_self_registration(true).unwrap();
    s.create_session(
        "live-session",
        &SessionRecord {
            expires_at: i64::MAX,
            data: vec![1, 2, 3],
        },
    )
    .unwrap();
    (d, s, last)
}

/// A group's "managers may regenerate the key" comes back with the restore, on and off, and a
/// course is found by any part of its title there too.
#[test]
fn group_settings_and_the_course_index_are_restored() {
    let (_d, s) = temp_store();
    let on = plain_group(&s, "On");
    let off = plain_group(&s, "Off");
    let f = |g: u64| {
        let rec = s.get_group(g).unwrap().unwrap();
        crate::server::store::groups::GroupFields {
            name: rec.name,
            description: rec.description,
            branch: rec.branch,
            key: (&rec.key).into(),
            is_default: rec.is_default,
        }
    };
    s.update_group_with(actor(), on, &f(on), true).unwrap();
    let c = course(&s, "PHY");
    let mut file = Vec::new();
    s.backup(&mut file, 1).unwrap();
    let to = tempfile::tempdir().unwrap();
    let (r, sum) = restore(file.as_slice(), &to.path().join("r")).unwrap();
    assert!(sum.violations.is_empty(), "{:?}", sum.violations);
    assert!(r.get_group(on).unwrap().unwrap().managers_regenerate_key);
    assert!(!r.get_group(off).unwrap().unwrap().managers_regenerate_key);
    assert_eq!(r.list_courses("hy", 1, 10).unwrap().0[0].id, c);
}

#[test]
fn a_backup_of_a_backup_restores_to_the_same_store() {
    let (_d, s, _) = school();
    let mut first = Vec::new();
    s.backup(&mut first, 1).unwrap();
    let to = tempfile::tempdir().unwrap();
    let (r, _) = restore(first.as_slice(), &to.path().join("a")).unwrap();
    let mut second = Vec::new();
    r.backup(&mut second, 2).unwrap();
    let (r2, sum) = restore(second.as_slice(), &to.path().join("b")).unwrap();
    assert!(sum.violations.is_empty());
    assert_same_trees(&r, &r2);
    // The restores are embedded stores: the original compares with them when it is one too
    // (PostgreSQL's round trip through sled has its own test, `postgres/backup/tests.rs`).
    if TestBackend::current() == TestBackend::Sled {
        assert_same_trees(&s, &r2);
    }
}

#[test]
fn restore_refuses_a_directory_that_is_not_empty() {
    let (_d, s, _) = school();
    let mut file = Vec::new();
    s.backup(&mut file, 1).unwrap();
    let to = tempfile::tempdir().unwrap();
    std::fs::write(to.path().join("notes.txt"), "keep me").unwrap();
    let err = restore(file.as_slice(), to.path()).err().unwrap();
    assert!(matches!(err, BackupError::TargetNotEmpty(_)), "{err}");
    let left: Vec<_> = std::fs::read_dir(to.path()).unwrap().flatten().collect();
    assert_eq!(left.len(), 1);
    assert_eq!(
        std::fs::read_to_string(to.path().join("notes.txt")).unwrap(),
        "keep me"
    );
    // An empty directory is fine.
    let empty = tempfile::tempdir().unwrap();
    assert!(restore(file.as_slice(), empty.path()).is_ok());
}

#[test]
fn a_damaged_file_is_refused_and_leaves_nothing_behind() {
    let (_d, s, _) = school();
    let mut file = Vec::new();
    s.backup(&mut file, 1).unwrap();
    let to = tempfile::tempdir().unwrap();
    let target = to.path().join("new");
    let refused = |bytes: &[u8]| {
        let err = restore(bytes, &target).err().expect("refused");
        assert!(!target.exists(), "nothing left after: {err}");
        err
    };
    // Cut short anywhere: every cut is refused.
    for cut in (0..file.len()).step_by(97).chain([file.len() - 1]) {
        let err = refused(&file[..cut]);
        assert!(
            matches!(err, BackupError::NotABackup | BackupError::Damaged(_)),
            "cut at {cut}: {err}"
        );
    }
    // A flipped bit inside the compressed stream.
    let mut flipped = file.clone();
    let mid = file.len() / 2;
    flipped[mid] ^= 0x10;
    assert!(matches!(refused(&flipped), BackupError::Damaged(_)));
    // Something else entirely, and a newer format.
    assert!(matches!(refused(b"PK\x03\x04zip"), BackupError::NotABackup));
    let mut newer = b"tessera-backup 2\n".to_vec();
    newer.extend_from_slice(&file[17..]);
    assert!(matches!(
        refused(&newer),
        BackupError::NewerFormat {
            found: 2,
            supported: BACKUP_FORMAT
        }
    ));
    // Trailing bytes after the gzip stream's end are not silently ignored either.
    let mut longer = file.clone();
    longer.extend_from_slice(b"junk");
    assert!(refused(&longer).to_string().contains("damaged"));
}

/// Backups taken while several threads write are each a consistent store: `check` finds no
/// counter out of step with its records and no index out of step with its tree.
#[test]
fn backups_taken_while_writers_run_are_consistent() {
    let (_d, s) = temp_store();
    let groups: Vec<u64> = (0..3).map(|i| plain_group(&s, &format!("G{i}"))).collect();
    let courses: Vec<u64> = (0..3).map(|i| course(&s, &format!("C{i}"))).collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (s, stop) = (s.clone(), stop.clone());
            let (g, c) = (groups[w], courses[w]);
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let u = learner(&s, &format!("w{w}u{i}"));
                    s.add_member(actor(), g, u, JoinedHow::Manual).unwrap();
                    s.enrol(u, c, Source::Manual, 6).unwrap();
                    if i % 5 == 0 {
                        s.remove_member(actor(), g, u, true).unwrap();
                    }
                    i += 1;
                }
                i
            })
        })
        .collect();
    let to = tempfile::tempdir().unwrap();
    for round in 0..6 {
        std::thread::sleep(std::time::Duration::from_millis(30));
        let mut file = Vec::new();
        s.backup(&mut file, round).unwrap();
        let (_, sum) = restore(file.as_slice(), &to.path().join(round.to_string())).unwrap();
        assert!(
            sum.violations.is_empty(),
            "round {round}: {:?}",
            sum.violations
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written: u64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(written > 0);
}
