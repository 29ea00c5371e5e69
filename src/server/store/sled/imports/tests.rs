//! The sled backend's own tests: what only sled has (its trees, its files, damage written
//! under the store).

#[allow(unused_imports)]
use crate::server::store::imports::tests::{
    ada_and_bob_with_links, apply, group, rows, upload, user_id, ADMIN,
};
#[allow(unused_imports)]
use crate::server::store::sled::test_prelude::*;

/// A set-password token is a bearer secret: `password_tokens` holds only its BLAKE2b hash, so
/// reading that tree gives no link that works. (The import's rows keep the link itself, for the
/// administrator to hand out; README, "Security notes".)
#[test]
fn a_set_password_token_is_stored_only_as_its_hash() {
    let (_d, s) = sled_temp_store();
    let (_v, links) = ada_and_bob_with_links(&s);
    let ada = user_id(&s, "ada").unwrap();
    let found = |needle: &[u8]| {
        s.sled().password_tokens.iter().any(|kv| {
            let (k, v) = kv.unwrap();
            [k.as_ref(), v.as_ref()]
                .iter()
                .any(|b| b.windows(needle.len()).any(|w| w == needle))
        })
    };
    for link in &links {
        assert!(!found(link.as_bytes()), "the token's text is stored");
        let raw: Vec<u8> = (0..link.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&link[i..i + 2], 16).unwrap())
            .collect();
        assert!(!found(&raw), "the token's bits are stored");
        assert!(s
            .sled()
            .password_tokens
            .contains_key(codec::secret_key(link.as_bytes()))
            .unwrap());
    }
    assert_eq!(s.sled().password_tokens.len(), 2);
    assert_eq!(s.password_token_user(&links[0], 40).unwrap(), ada);
}

/// A job that fails for good leaves the import stopped, with the reason, and applying it again
/// resumes with the rows not yet created.
#[test]
fn a_failed_import_says_why_and_resumes() {
    let (_d, s) = sled_temp_store();
    let v = upload(
        &s,
        "login,email,name\nada,ada@x.org,Ada\nbob,bob@x.org,Bob\n",
    );
    let job = s.start_import(v.id, 20).unwrap();
    let rec = s.sled().imports.row(v.id).unwrap().unwrap();
    s.sled().apply_row(&rec, 0, 21).unwrap();
    s.fail_job(job, "the disk is full", 22).unwrap();
    let failed = s.get_import(v.id).unwrap().unwrap();
    assert_eq!(failed.state, ImportState::Failed);
    assert_eq!(failed.failure.as_deref(), Some("the disk is full"));
    assert_eq!((failed.counts.created, failed.counts.create), (1, 1));
    apply(&s, v.id);
    let done = s.get_import(v.id).unwrap().unwrap();
    assert_eq!((done.state, done.failure), (ImportState::Done, None));
    assert_eq!((done.counts.created, done.counts.create), (2, 0));
    assert_eq!(s.user_count().unwrap(), 2);
}

/// A row is applied in one transaction: a failure after the user record was written (the
/// group it names cannot be read) leaves no user, no membership, no token and no outcome;
/// once the group is readable the same step creates it.
#[test]
fn a_row_is_applied_whole_or_not_at_all() {
    let (_d, s) = sled_temp_store();
    let g = group(&s, "Physics", false);
    let v = upload(&s, "login,email,name,groups\nada,ada@x.org,Ada,Physics\n");
    let job = s.start_import(v.id, 20).unwrap();
    let good = s.sled().groups.get(id_key(g)).unwrap().unwrap();
    s.sled().groups.insert(id_key(g), &[1u8, 0xff][..]).unwrap();
    // The runner's lease on the job is written before the step (the same again at the step).
    s.take_job(job, s.runner_id(), 30).unwrap();
    let before = dump(&s);
    assert!(matches!(
        s.run_job_step(job, 30),
        Err(StoreError::Corrupt { .. })
    ));
    assert_eq!(dump(&s), before, "nothing written");
    s.sled().groups.insert(id_key(g), good).unwrap();
    while s.run_job_step(job, 31).unwrap() == Step::More {}
    let ada = user_id(&s, "ada").unwrap();
    assert_eq!(s.groups_of_user(ada).unwrap(), vec![g]);
    assert_eq!(s.get_import(v.id).unwrap().unwrap().counts.created, 1);
}

/// A step run again after a crash (its rows applied, its cursor not yet moved) changes
/// nothing: every row is created exactly once, whatever was applied before the crash.
#[test]
fn resuming_from_any_row_creates_each_user_once() {
    let csv: String = std::iter::once("login,email,name,groups\n".to_string())
        .chain((0..12).map(|i| format!("u{i},u{i}@x.org,User {i},Physics\n")))
        .collect();
    for crashed_after in 0..=12u64 {
        let (_d, s) = sled_temp_store();
        let g = group(&s, "Physics", false);
        let v = upload(&s, &csv);
        let job = s.start_import(v.id, 20).unwrap();
        let rec = s.sled().imports.row(v.id).unwrap().unwrap();
        for i in 0..crashed_after {
            s.sled().apply_row(&rec, i, 25).unwrap();
        }
        while s.run_job_step(job, 30).unwrap() == Step::More {}
        assert_eq!(s.user_count().unwrap(), 12, "after {crashed_after}");
        let v = s.get_import(v.id).unwrap().unwrap();
        assert_eq!((v.counts.created, v.counts.create), (12, 0));
        assert_eq!(s.list_members(g, "", 1, 100).unwrap().1, 12);
        let users: std::collections::BTreeSet<u64> = rows(&s, v.id)
            .into_iter()
            .map(|r| match r.outcome {
                ImportOutcome::Created { user, .. } => user,
                o => panic!("{o:?}"),
            })
            .collect();
        assert_eq!(users.len(), 12);
    }
}

/// While an import is applied, its progress counts the rows handled so far, not only the
/// steps finished: a page showing "Created (3)" never says "0 of 5 rows".
#[test]
fn progress_counts_rows_as_they_are_applied() {
    let (_d, s) = sled_temp_store();
    let csv: String = std::iter::once("login,email,name\n".to_string())
        .chain((0..5).map(|i| format!("u{i},u{i}@x.org,User {i}\n")))
        .collect();
    let v = upload(&s, &csv);
    s.start_import(v.id, 20).unwrap();
    let rec = s.sled().imports.row(v.id).unwrap().unwrap();
    for i in 0..3 {
        s.sled().apply_row(&rec, i, 25).unwrap();
    }
    let v = s.get_import(v.id).unwrap().unwrap();
    assert_eq!(v.state, ImportState::Applying);
    assert_eq!((v.done, v.counts.created, v.rows), (3, 3, 5));
}
