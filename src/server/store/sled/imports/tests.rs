//! The sled backend's own tests: what only sled has (its trees, its files, damage written
//! under the store).

#[allow(unused_imports)]
use crate::server::store::imports::tests::{
    ada_and_bob_with_links, apply, group, rows, upload, user_id, ADMIN,
};
#[allow(unused_imports)]
use crate::server::store::sled::test_prelude::*;

#[test]
fn applying_creates_each_user_with_groups_courses_and_a_link_or_password() {
    let (_d, s) = sled_temp_store();
    let a = course(&s, "DEF-A");
    let p = course(&s, "PHY-1");
    let everyone = group(&s, "Everyone", true);
    let physics = group(&s, "Physics", false);
    s.link_group_course(Actor { user: 0, now: 1 }, everyone, a, true)
        .unwrap();
    s.link_group_course(Actor { user: 0, now: 1 }, physics, p, true)
        .unwrap();
    let csv = "login,email,display name,role,password,groups\n\
               ada,ada@x.org,\"Lovelace, Ada\",,,Physics\n\
               bob,bob@x.org,Bob,admin,s3cret-pass,\n\
               bad,bad,Bad,,,\n";
    let v = upload(&s, csv);
    apply(&s, v.id);
    let v = s.get_import(v.id).unwrap().unwrap();
    assert_eq!(v.state, ImportState::Done);
    assert_eq!(
        (v.done, v.counts.created, v.counts.invalid, v.counts.create),
        (3, 2, 1, 0)
    );
    assert!(v.links_expire_at.unwrap() > 30);

    let ada = user_id(&s, "ada").unwrap();
    let bob = user_id(&s, "bob").unwrap();
    let mut groups = s.groups_of_user(ada).unwrap();
    groups.sort_unstable();
    assert_eq!(groups, vec![everyone, physics]);
    assert_eq!(
        s.membership(physics, ada).unwrap().unwrap().how,
        JoinedVia::Import
    );
    assert_eq!(
        s.enrolment(ada, a).unwrap().unwrap().source,
        EnrolSource::DefaultGroup
    );
    assert_eq!(
        s.enrolment(ada, p).unwrap().unwrap().source,
        EnrolSource::Import
    );
    assert_eq!(s.groups_of_user(bob).unwrap(), vec![everyone]);
    assert_eq!(
        s.get_user(bob).unwrap().unwrap().role(),
        crate::model::user::Role::Admin
    );
    // Bob gave a password: his hash is the one made at upload; no link.
    assert_eq!(
        s.sled()
            .user_secrets
            .get(id_key(bob))
            .unwrap()
            .unwrap()
            .as_ref(),
        b"hash:s3cret-pass"
    );
    let r = rows(&s, v.id);
    assert_eq!(
        r[1].outcome,
        ImportOutcome::Created {
            user: bob,
            link: None
        }
    );
    // Ada did not: no password matches hers, and her link is for her alone.
    assert_eq!(
        s.sled()
            .user_secrets
            .get(id_key(ada))
            .unwrap()
            .unwrap()
            .as_ref(),
        PasswordHash::unset().as_phc().as_bytes()
    );
    let ImportOutcome::Created {
        user,
        link: Some(token),
    } = &r[0].outcome
    else {
        panic!("{:?}", r[0].outcome)
    };
    assert_eq!(*user, ada);
    assert_eq!(s.password_token_user(token, 40).unwrap(), ada);
    // Removing Ada from Physics with "unenrol" ends what the import gave through it.
    s.remove_member(Actor { user: 0, now: 50 }, physics, ada, true)
        .unwrap();
    assert!(s.enrolment(ada, p).unwrap().is_none());
    assert!(s.enrolment(ada, a).unwrap().is_some());
}

/// A set-password link works once, within its time, and ends the user's sessions (epoch).
#[test]
fn a_set_password_link_works_once_and_expires() {
    let (_d, s) = sled_temp_store();
    let (v, links) = ada_and_bob_with_links(&s);
    assert_ne!(links[0], links[1]);
    let ada = user_id(&s, "ada").unwrap();
    let epoch = s.get_user(ada).unwrap().unwrap().auth_epoch;
    let hash = PasswordHash::from_phc("hash:new".into());
    assert_eq!(s.use_password_token(&links[0], &hash, 100).unwrap(), ada);
    assert_eq!(
        s.sled()
            .user_secrets
            .get(id_key(ada))
            .unwrap()
            .unwrap()
            .as_ref(),
        b"hash:new"
    );
    assert_eq!(s.get_user(ada).unwrap().unwrap().auth_epoch, epoch + 1);
    let again = s.use_password_token(&links[0], &hash, 101).unwrap_err();
    assert!(again.to_string().contains("used already"), "{again}");
    assert!(s.use_password_token("not-a-token", &hash, 101).is_err());
    // Bob waited too long.
    // Every link of the import ends at one time, set when the first was made (step at 30).
    let late = 30 + SET_PASSWORD_DAYS * 24 * 3600 * 1000;
    assert_eq!(
        s.get_import(v.id).unwrap().unwrap().links_expire_at,
        Some(late)
    );
    let expired = s.use_password_token(&links[1], &hash, late).unwrap_err();
    assert!(expired.to_string().contains("expired"), "{expired}");
    assert!(s.password_token_user(&links[1], late).is_err());
    assert!(s.password_token_user(&links[1], late - 1).is_ok());
    // Pages no longer show a used link (nor an expired one).
    let shown: Vec<bool> = rows(&s, v.id)
        .into_iter()
        .map(|r| matches!(r.outcome, ImportOutcome::Created { link: Some(_), .. }))
        .collect();
    assert_eq!(shown, [false, true]);
}

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

/// A password set another way (an administrator's reset) or a deactivation ends the link.
#[test]
fn a_link_ends_when_the_password_is_set_otherwise_or_the_account_deactivated() {
    let (_d, s) = sled_temp_store();
    let (v, links) = ada_and_bob_with_links(&s);
    let (ada, bob) = (user_id(&s, "ada").unwrap(), user_id(&s, "bob").unwrap());
    s.set_password(ada, &PasswordHash::from_phc("hash:by-admin".into()))
        .unwrap();
    s.set_active(bob, false).unwrap();
    let hash = PasswordHash::from_phc("hash:mine".into());
    for link in &links {
        let e = s.use_password_token(link, &hash, 40).unwrap_err();
        assert!(e.to_string().contains("no longer works"), "{e}");
    }
    assert_eq!(
        s.sled()
            .user_secrets
            .get(id_key(ada))
            .unwrap()
            .unwrap()
            .as_ref(),
        b"hash:by-admin"
    );
    assert!(rows(&s, v.id)
        .iter()
        .all(|r| matches!(r.outcome, ImportOutcome::Created { link: None, .. })));
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
