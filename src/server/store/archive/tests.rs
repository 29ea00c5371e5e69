//! The archive read from a backup and written into a new one gives back the same school, on
//! any backend; and the fixture with a record of every kind, and the comparison of stores,
//! that the backup tests across backends share.

use super::{ArchiveRead, ArchiveWrite, Items};
use crate::model::group::{JoinedHow, KeySettings};
use crate::model::user::Role;
use crate::server::store::backup::{read_header, BackupVia, LastBackupRecord};
use crate::server::store::branches::BranchFields;
use crate::server::store::courses::tests::{add_lesson, course_fields};
use crate::server::store::curricula::CurriculumChange;
use crate::server::store::enrolments::tests_support::{learner, plain_group};
use crate::server::store::enrolments::Source;
use crate::server::store::groups::{Actor, GroupFields};
use crate::server::store::jobs::Step;
use crate::server::store::messages::Settle;
#[allow(unused_imports)]
use crate::server::store::prelude::*;
use crate::server::store::sessions::SessionRecord;
use crate::server::store::tests::{dump, temp_store, Dump};
use crate::server::store::users::{PasswordHash, UserFields};
use crate::server::store::{new_archive, open_archive, restore, Store, StoreError};

fn run(s: &Store, job: u64) {
    while s.run_job_step(job, 50).unwrap() == Step::More {}
}

/// Writes a record of every kind through the store's operations (on any backend whose areas
/// are written): an administrator and learners, a branch under another, courses with lessons
/// (one deleted), a curriculum, a keyed default group with a branch, members, a manager, links,
/// redemptions, a bulk add and a mass enrolment (one finished, one running), enrolments with
/// progress, an import with its rows and set-password links, a message delivered with e-mails
/// sent, failed and waiting, a read and an unread inbox entry, a group deleted with its sweep
/// pending, a setting, the last backup and a login session.
pub(crate) fn every_area(s: &Store) {
    let admin = s
        .create_user(
            &UserFields {
                login: "root".into(),
                email: "root@x.org".into(),
                display_name: "Head Teacher".into(),
                role: Role::Admin,
            },
            &PasswordHash::from_phc("$admin".into()),
            true,
            1,
        )
        .unwrap()
        .id;
    let actor = Actor {
        user: admin,
        now: 2,
    };
    let north = s
        .create_branch(
            &BranchFields {
                name: "North School".into(),
                description: "The north site".into(),
                parent: None,
            },
            2,
        )
        .unwrap()
        .id;
    let east = s
        .create_branch(
            &BranchFields {
                name: "North East".into(),
                description: String::new(),
                parent: Some(north),
            },
            2,
        )
        .unwrap()
        .id;
    let phy = s.create_course(&course_fields("PHY"), 3).unwrap().id;
    let lesson = add_lesson(s, phy, "Forces");
    add_lesson(s, phy, "Energy");
    let che = s.create_course(&course_fields("CHE"), 3).unwrap().id;
    let bio = s.create_course(&course_fields("BIO"), 3).unwrap().id;
    let science = s
        .create_curriculum("Science Path", "All of it", 3)
        .unwrap()
        .id;
    s.change_curriculum(science, CurriculumChange::Add(che))
        .unwrap();
    s.change_curriculum(science, CurriculumChange::Add(phy))
        .unwrap();
    let year7 = s
        .create_group(
            actor,
            &GroupFields {
                name: "Year 7".into(),
                description: "Everyone in year 7".into(),
                branch: Some(east),
                key: KeySettings {
                    key: Some("SEVEN-2026".into()),
                    max_uses: 5,
                    valid_from: Some(0),
                    valid_until: None,
                    enabled: true,
                },
                is_default: true,
            },
        )
        .unwrap()
        .0
        .id;
    let year8 = s
        .create_group(
            actor,
            &GroupFields {
                name: "Year 8".into(),
                description: String::new(),
                branch: Some(north),
                key: KeySettings {
                    key: Some("EIGHT-2026".into()),
                    max_uses: 0,
                    valid_from: None,
                    valid_until: None,
                    enabled: true,
                },
                is_default: false,
            },
        )
        .unwrap()
        .0
        .id;
    s.update_group_with(
        actor,
        year8,
        &GroupFields {
            name: "Year 8".into(),
            description: "Renamed".into(),
            branch: Some(north),
            key: KeySettings {
                key: Some("EIGHT-2026".into()),
                max_uses: 0,
                valid_from: None,
                valid_until: None,
                enabled: true,
            },
            is_default: false,
        },
        true,
    )
    .unwrap();
    let gone = plain_group(s, "Leavers");
    s.link_group_course(actor, year7, phy, true).unwrap();
    s.link_group_curriculum(actor, year7, science, true)
        .unwrap();
    s.link_group_course(actor, year8, che, true).unwrap();
    // Learners: they join the default group (Year 7) as they are made.
    let pupils: Vec<u64> = (0..6).map(|i| learner(s, &format!("pupil{i}"))).collect();
    s.set_group_manager(actor, year7, pupils[0], true).unwrap();
    s.set_group_manager(actor, gone, pupils[1], true).unwrap();
    s.add_member(actor, gone, pupils[1], JoinedHow::Manual)
        .unwrap();
    s.add_member(actor, gone, pupils[2], JoinedHow::Manual)
        .unwrap();
    s.redeem_key(
        pupils[3],
        "pupil3",
        "eight-2026",
        Some("10.0.0.3".into()),
        4,
    )
    .unwrap()
    .unwrap();
    s.redeem_key(pupils[4], "pupil4", " EIGHT-2026 ", None, 4)
        .unwrap()
        .unwrap();
    let bulk = s
        .bulk_add_members(
            actor,
            year8,
            &[
                (1, "pupil5".into()),
                (2, "nobody".into()),
                (3, "pupil3".into()),
            ],
        )
        .unwrap();
    s.save_bulk_result(year8, admin, &bulk).unwrap();
    s.enrol(pupils[5], bio, Source::Manual, 4).unwrap();
    s.unenrol(pupils[5], bio, false).unwrap();
    s.enrol(pupils[0], che, Source::Manual, 4).unwrap();
    s.mark_lesson(pupils[0], phy, lesson, true, 5).unwrap();
    s.mark_lesson(pupils[1], phy, lesson, true, 5).unwrap();
    let job = s.delete_course(bio).unwrap();
    run(s, job);
    let first = s.start_mass_enrolment(actor, year8).unwrap();
    run(s, first);
    s.start_mass_enrolment(actor, year8).unwrap();

    let inputs = crate::server::csv_input::import_rows(
        "login,email,name,password\nada,ada@x.org,Ada Lovelace,\nbob,bob@x.org,Bob,secret\n\
         root,other@x.org,Clash,\n",
    )
    .unwrap();
    let mut rows = s.plan_import(&inputs).unwrap();
    for (row, input) in rows.iter_mut().zip(&inputs) {
        if !input.password.is_empty() {
            row.hash = Some(format!("hash:{}", input.password));
        }
    }
    let import = s
        .save_import((admin, "root"), "people.csv", &rows, 6)
        .unwrap();
    let job = s.start_import(import.id, 6).unwrap();
    run(s, job);

    let (message, job) = s
        .send_message(
            Actor {
                user: pupils[0],
                now: 7,
            },
            year7,
            "Trip",
            "Bring a coat.",
            true,
        )
        .unwrap();
    run(s, job);
    s.set_message_read(pupils[1], message, true).unwrap();
    let due = s.due_mail(u64::MAX / 2, 10).unwrap();
    assert!(due.len() >= 3, "mail queued for the members");
    let sent = s.take_mail(&due[0], 8).unwrap().unwrap();
    s.settle_mail(&sent, &Settle::Sent).unwrap();
    let failed = s.take_mail(&due[1], 8).unwrap().unwrap();
    s.settle_mail(
        &failed,
        &Settle::Failed {
            error: "mailbox unknown".into(),
        },
    )
    .unwrap();
    let retry = s.take_mail(&due[2], 8).unwrap().unwrap();
    s.settle_mail(
        &retry,
        &Settle::Retry {
            at: 99,
            error: "try later".into(),
        },
    )
    .unwrap();

    s.delete_group(actor, gone).unwrap();
    s.set_self_registration(true).unwrap();
    s.record_backup(&LastBackupRecord {
        at_ms: 9,
        bytes: 1234,
        via: BackupVia::Download { by: admin },
    })
    .unwrap();
    s.create_session(
        "live-session",
        &SessionRecord {
            expires_at: i64::MAX,
            data: vec![1, 2, 3],
        },
    )
    .unwrap();
}

/// A store's tables as a backup keeps them and a reader sees them: without sessions and the
/// signing secret (backups leave them out), and without the embedded store's counters at zero
/// (a missing counter reads as zero; see `sled/rebuild.rs`).
pub(crate) fn comparable(s: &Store) -> Dump {
    dump(s)
        .into_iter()
        .filter(|(name, _)| name != "sessions" && name != "secrets")
        .map(|(name, rows)| {
            let rows = rows
                .into_iter()
                .filter(|(k, v)| !(k.starts_with(b"count/") && v.iter().all(|b| *b == 0)))
                .collect();
            (name, rows)
        })
        .collect()
}

/// Tree by tree, naming the first that differs and its first differing entry.
pub(crate) fn assert_same(a: &Dump, b: &Dump) {
    let names = |d: &Dump| d.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(a), names(b), "the same trees");
    for ((name, x), (_, y)) in a.iter().zip(b) {
        if x != y {
            let only_x: Vec<_> = x.iter().filter(|e| !y.contains(e)).take(3).collect();
            let only_y: Vec<_> = y.iter().filter(|e| !x.contains(e)).take(3).collect();
            panic!(
                "tree {name} differs: only in the first {only_x:?}; only in the second {only_y:?}"
            );
        }
    }
}

/// Hands each item of `items` to `put`, stopping at the first error.
fn each<T>(
    mut items: Items<'_, T>,
    mut put: impl FnMut(T) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    items.try_for_each(|item| put(item?))
}

/// Every record of `from` put into `to`, as a backend keeping them in its own shape would read
/// them out and hand them over.
fn copy(from: &dyn ArchiveRead, to: &mut dyn ArchiveWrite) -> Result<(), StoreError> {
    if let Some(on) = from.self_registration()? {
        to.put_self_registration(on)?;
    }
    if let Some(rec) = from.last_backup()? {
        to.put_last_backup(&rec)?;
    }
    each(from.users(), |(u, hash)| to.put_user(&u, hash.as_deref()))?;
    each(from.branches(), |r| to.put_branch(&r))?;
    each(from.courses(), |r| to.put_course(&r))?;
    each(from.curricula(), |r| to.put_curriculum(&r))?;
    each(from.enrolments(), |(k, r)| to.put_enrolment(k, &r))?;
    each(from.progress(), |(k, r)| to.put_progress(k, &r))?;
    each(from.jobs(), |r| to.put_job(&r))?;
    each(from.groups(), |(g, mass)| to.put_group(&g, mass))?;
    each(from.group_links(), |(g, r)| to.put_group_links(g, &r))?;
    each(from.members(), |(k, r)| to.put_member(k, &r))?;
    each(from.managers(), |k| to.put_manager(k))?;
    each(from.bulk_results(), |(k, r)| to.put_bulk_result(k, &r))?;
    each(from.redemptions(), |(k, r)| to.put_redemption(k, &r))?;
    each(from.audit(), |(k, r)| to.put_audit(k, &r))?;
    each(from.imports(), |r| to.put_import(&r))?;
    each(from.import_rows(), |(k, r)| to.put_import_row(k, &r))?;
    each(from.password_tokens(), |(k, r)| {
        to.put_password_token(&k, &r)
    })?;
    each(from.messages(), |(id, m, counts, body)| {
        to.put_message(id, &m, counts, body.as_ref())
    })?;
    each(from.inbox(), |(k, r)| to.put_inbox(k, &r))?;
    each(from.outbox(), |(k, r)| to.put_outbox(k, &r))
}

/// A backup opened as an archive and copied record by record into a new one makes a file that
/// restores to the same school: the reader gives every record, the writer works out all that
/// is derived, and the id mark is carried over.
#[test]
fn a_backup_copied_through_an_archive_restores_to_the_same_school() {
    let (_d, s) = temp_store();
    every_area(&s);
    let mut file = Vec::new();
    s.backup(&mut file, 1_700_000_000_000).unwrap();
    let (from, summary) = open_archive(file.as_slice()).unwrap();
    assert_eq!(summary.violations, Vec::<String>::new());

    let mut to = new_archive().unwrap();
    to.put_schema(summary.schema).unwrap();
    copy(&*from, to.as_mut()).unwrap();
    let mut again = Vec::new();
    let made = to
        .finish(&mut again, 1_700_000_000_001, summary.backup.id_mark)
        .unwrap();
    assert_eq!(made.bytes, again.len() as u64);
    let header = read_header(again.as_slice()).unwrap();
    assert_eq!(header.id_mark, summary.backup.id_mark);
    assert_eq!(header.schema, summary.schema);

    let dir = tempfile::tempdir().unwrap();
    let (original, _) = restore(file.as_slice(), &dir.path().join("original")).unwrap();
    let (copied, sum) = restore(again.as_slice(), &dir.path().join("copied")).unwrap();
    assert_eq!(sum.violations, Vec::<String>::new());
    assert_same(&comparable(&copied), &comparable(&original));
}
