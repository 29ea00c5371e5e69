use super::*;

use crate::model::group::KeySettings;

use crate::server::csv_input::import_rows;

use crate::server::store::enrolments::tests_support::learner;

use crate::server::store::groups::GroupFields;

use crate::server::store::jobs::Step;

#[allow(unused_imports)]
use crate::server::store::tests::prelude::*;

use crate::server::store::tests::temp_store;

pub(crate) const ADMIN: (u64, &str) = (1, "root");

pub(crate) fn group(s: &Store, name: &str, default: bool) -> u64 {
    let f = GroupFields {
        name: name.into(),
        description: String::new(),
        branch: None,
        key: KeySettings::default(),
        is_default: default,
    };
    s.create_group(Actor { user: 0, now: 1 }, &f).unwrap().0.id
}

/// Uploads `csv` (passwords "hashed" as `hash:<password>`) and returns the preview.
pub(crate) fn upload(s: &Store, csv: &str) -> ImportView {
    let inputs = import_rows(csv).unwrap();
    let mut rows = s.plan_import(&inputs).unwrap();
    for (row, input) in rows.iter_mut().zip(&inputs) {
        if row.outcome == StoredOutcome::Create && !input.password.is_empty() {
            row.hash = Some(format!("hash:{}", input.password));
        }
    }
    s.save_import(ADMIN, "people.csv", &rows, 10).unwrap()
}

/// Runs the import's job to its end.
pub(crate) fn apply(s: &Store, id: u64) -> u64 {
    let job = s.start_import(id, 20).unwrap();
    while s.run_job_step(job, 30).unwrap() == Step::More {}
    job
}

/// Imports Ada and Bob without passwords; returns the import and their two links.
pub(crate) fn ada_and_bob_with_links(s: &Store) -> (ImportView, Vec<String>) {
    let v = upload(
        s,
        "login,email,name\nada,ada@x.org,Ada\nbob,bob@x.org,Bob\n",
    );
    apply(s, v.id);
    let links = rows(s, v.id)
        .into_iter()
        .map(|r| match r.outcome {
            ImportOutcome::Created { link: Some(t), .. } => t,
            o => panic!("{o:?}"),
        })
        .collect();
    (v, links)
}

pub(crate) fn rows(s: &Store, id: u64) -> Vec<ImportRowView> {
    let mut out = Vec::new();
    s.import_rows_all(id, 35, &mut |r| {
        out.push(r);
        Ok(())
    })
    .unwrap();
    out
}

pub(crate) fn user_id(s: &Store, login: &str) -> Option<u64> {
    s.find_for_login(login).unwrap().map(|(u, _)| u.id)
}

#[test]
fn the_preview_says_what_each_row_will_do_and_writes_no_user() {
    let (_d, s) = temp_store();
    learner(&s, "taken");
    group(&s, "Physics", false);
    let before_users = s.user_count().unwrap();
    let csv = "login,email,display name,role,password,groups\n\
               ada,ada@x.org,\"Lovelace, Ada\",learner,,physics\n\
               taken,new@x.org,Taken,,,\n\
               other,TAKEN@x.org,Other,,,\n\
               ,nobody@x.org,No login,,,\n\
               bad,bad@x.org,Bad role,boss,,\n\
               short,short@x.org,Short,,abc,\n\
               ghost,ghost@x.org,Ghost,,,Nowhere\n\
               ADA,ada2@x.org,Ada again,,,\n\
               carl,ada@X.org,Carl,,,\n\
               dora,dora@x.org,Dora,admin,s3cret-pass,Physics;physics\n";
    let v = upload(&s, csv);
    assert_eq!(v.state, ImportState::Preview);
    assert_eq!(v.rows, 10);
    let kinds: Vec<String> = rows(&s, v.id)
        .iter()
        .map(|r| match &r.outcome {
            ImportOutcome::Invalid { field, .. } => format!("invalid:{field}"),
            ImportOutcome::Exists { field } => format!("exists:{field}"),
            o => o.kind().to_string(),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "create",
            "exists:login",
            "exists:email",
            "invalid:login",
            "invalid:role",
            "invalid:password",
            "invalid:groups",
            "invalid:login",
            "invalid:email",
            "create"
        ]
    );
    let all = rows(&s, v.id);
    assert_eq!(all[0].display_name, "Lovelace, Ada");
    assert!(
        matches!(&all[7].outcome, ImportOutcome::Invalid { message, .. } if message.contains("line 2"))
    );
    assert!(all[9].has_password, "the hash is kept for the apply");
    assert_eq!(
        (v.counts.create, v.counts.exists, v.counts.invalid),
        (2, 2, 6)
    );
    assert_eq!(s.user_count().unwrap(), before_users, "nothing created");
    // Filtering and paging the rows.
    let (page, total) = s.import_rows_page(v.id, "invalid", 2, 4, 35).unwrap();
    assert_eq!(total, 6);
    assert_eq!(page.iter().map(|r| r.line).collect::<Vec<_>>(), [9, 10]);
    let (page, total) = s.import_rows_page(v.id, "", 3, 4, 35).unwrap();
    assert_eq!((page.len(), total), (2, 10));
}

/// A login taken between the preview and the apply makes the row "exists", and nothing of
/// it is written; the other rows go on.
#[test]
fn a_user_created_since_the_preview_is_skipped() {
    let (_d, s) = temp_store();
    let v = upload(
        &s,
        "login,email,name\nada,ada@x.org,Ada\nbob,bob@x.org,Bob\n",
    );
    let first = learner(&s, "ada");
    apply(&s, v.id);
    let r = rows(&s, v.id);
    assert_eq!(
        r[0].outcome,
        ImportOutcome::Exists {
            field: "login".into()
        }
    );
    assert!(matches!(r[1].outcome, ImportOutcome::Created { .. }));
    assert_eq!(user_id(&s, "ada"), Some(first));
    let v = s.get_import(v.id).unwrap().unwrap();
    assert_eq!((v.counts.exists, v.counts.created), (1, 1));
}

#[test]
fn an_import_is_applied_once_and_a_discarded_one_never() {
    let (_d, s) = temp_store();
    let v = upload(
        &s,
        "login,email,name,password\nada,ada@x.org,Ada,s3cret-pass\n",
    );
    apply(&s, v.id);
    let again = s.start_import(v.id, 40).unwrap_err();
    assert!(again.to_string().contains("applied already"));
    assert!(s.discard_import(v.id).is_err());

    let w = upload(
        &s,
        "login,email,name,password\nbob,bob@x.org,Bob,s3cret-pass\n",
    );
    s.discard_import(w.id).unwrap();
    assert_eq!(
        s.get_import(w.id).unwrap().unwrap().state,
        ImportState::Discarded
    );
    assert!(rows(&s, w.id).is_empty(), "rows and their hashes are gone");
    assert!(s
        .start_import(w.id, 40)
        .unwrap_err()
        .to_string()
        .contains("discarded"));
    assert_eq!(user_id(&s, "bob"), None);
    let recent = s.recent_imports(10).unwrap();
    assert_eq!(
        recent.iter().map(|i| i.id).collect::<Vec<_>>(),
        [w.id, v.id]
    );
}

/// An import whose every row brought its password made no set-password link, and its view
/// says so (no expiry), so the page does not promise links; one link is enough to say it.
#[test]
fn links_are_promised_only_when_a_row_got_one() {
    let (_d, s) = temp_store();
    let v = upload(
        &s,
        "login,email,name,password\nada,ada@x.org,Ada,s3cret-pass\nbob,bob@x.org,Bob,an0ther-pass\n",
    );
    apply(&s, v.id);
    let v = s.get_import(v.id).unwrap().unwrap();
    assert_eq!((v.state, v.counts.created), (ImportState::Done, 2));
    assert_eq!(v.links_expire_at, None);

    let v = upload(
        &s,
        "login,email,name,password\ncy,cy@x.org,Cy,s3cret-pass\ndee,dee@x.org,Dee,\n",
    );
    apply(&s, v.id);
    let v = s.get_import(v.id).unwrap().unwrap();
    assert_eq!(
        v.links_expire_at,
        Some(30 + SET_PASSWORD_DAYS * 24 * 3600 * 1000)
    );
}

/// The password hash kept for the user with this login.
fn hash_of(s: &Store, login: &str) -> String {
    let (_, hash) = s.find_for_login(login).unwrap().unwrap();
    hash.as_phc().to_string()
}

#[test]
fn applying_creates_each_user_with_groups_courses_and_a_link_or_password() {
    let (_d, s) = temp_store();
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
    assert_eq!(hash_of(&s, "bob").as_bytes(), b"hash:s3cret-pass");
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
        hash_of(&s, "ada").as_bytes(),
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
    let (_d, s) = temp_store();
    let (v, links) = ada_and_bob_with_links(&s);
    assert_ne!(links[0], links[1]);
    let ada = user_id(&s, "ada").unwrap();
    let epoch = s.get_user(ada).unwrap().unwrap().auth_epoch;
    let hash = PasswordHash::from_phc("hash:new".into());
    assert_eq!(s.use_password_token(&links[0], &hash, 100).unwrap(), ada);
    assert_eq!(hash_of(&s, "ada").as_bytes(), b"hash:new");
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

/// A password set another way (an administrator's reset) or a deactivation ends the link.
#[test]
fn a_link_ends_when_the_password_is_set_otherwise_or_the_account_deactivated() {
    let (_d, s) = temp_store();
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
    assert_eq!(hash_of(&s, "ada").as_bytes(), b"hash:by-admin");
    assert!(rows(&s, v.id)
        .iter()
        .all(|r| matches!(r.outcome, ImportOutcome::Created { link: None, .. })));
}

/// Every group a row names is looked up, whatever the rows around it say: a row after one whose
/// login is taken, naming two groups, gets both; one naming a group that is not is invalid.
#[test]
fn every_group_a_row_names_is_found() {
    let (_d, s) = temp_store();
    learner(&s, "taken");
    let physics = group(&s, "Physics", false);
    let chemistry = group(&s, "Chemistry", false);
    let csv = "login,email,name,role,password,groups\n\
               taken,t2@x.org,T,,,Physics\n\
               ada,ada@x.org,Ada,,,Physics;Chemistry\n\
               bob,bob@x.org,Bob,,,Chemistry;Nowhere\n\
               cy,cy@x.org,Cy,,,chemistry\n";
    let rows = s.plan_import(&import_rows(csv).unwrap()).unwrap();
    assert_eq!(rows[0].outcome, StoredOutcome::ExistsLogin);
    assert_eq!(
        (&rows[1].outcome, &rows[1].group_ids),
        (&StoredOutcome::Create, &vec![physics, chemistry])
    );
    assert!(matches!(&rows[2].outcome, StoredOutcome::Invalid { field, .. } if field == "groups"));
    assert_eq!(rows[3].group_ids, vec![chemistry]);
}
