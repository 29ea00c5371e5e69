use super::*;

use crate::model::catalog::EnrolSource;

use crate::model::user::Role;

use crate::server::csv_input::bulk_entries;

use crate::server::store::branches::BranchFields;

use crate::server::store::courses::tests::{add_lesson, course_fields};

use crate::server::store::curricula::CurriculumChange;

use crate::server::store::enrolments::Source;

#[allow(unused_imports)]
use crate::server::store::tests::prelude::*;

use crate::server::store::tests::{dump, temp_store};

use crate::server::store::users::{PasswordHash, UserFields};

use std::collections::BTreeSet;

pub(crate) const ACTOR: Actor = Actor { user: 0, now: 1 };

pub(crate) fn at(now: u64) -> Actor {
    Actor { user: 0, now }
}

pub(crate) fn fields(name: &str) -> GroupFields {
    GroupFields {
        name: name.into(),
        description: String::new(),
        branch: None,
        key: KeySettings::default(),
        is_default: false,
    }
}

pub(crate) fn keyed(name: &str, key: &str) -> GroupFields {
    GroupFields {
        key: KeySettings {
            key: Some(key.into()),
            enabled: true,
            ..KeySettings::default()
        },
        ..fields(name)
    }
}

/// The fields that leave `g` as it is (to change one of them).
pub(crate) fn fields_of(g: &GroupRecord) -> GroupFields {
    GroupFields {
        name: g.name.clone(),
        description: g.description.clone(),
        branch: g.branch,
        key: KeySettings::from(&g.key),
        is_default: g.is_default,
    }
}

pub(crate) fn group(s: &Store, name: &str) -> GroupRecord {
    s.create_group(ACTOR, &fields(name)).unwrap().0
}

pub(crate) fn get(s: &Store, id: u64) -> GroupRecord {
    s.get_group(id).unwrap().expect("group exists")
}

pub(crate) fn learner(s: &Store, login: &str) -> u64 {
    let f = UserFields {
        login: login.into(),
        email: format!("{login}@x.org"),
        display_name: login.into(),
        role: Role::Learner,
    };
    s.create_user(&f, &PasswordHash::from_phc("$x".into()), false, 0)
        .unwrap()
        .id
}

pub(crate) fn course(s: &Store, code: &str) -> u64 {
    s.create_course(&course_fields(code), 0).unwrap().id
}

pub(crate) fn branch(s: &Store, name: &str) -> u64 {
    let f = BranchFields {
        name: name.into(),
        description: String::new(),
        parent: None,
    };
    s.create_branch(&f, 0).unwrap().id
}

pub(crate) fn ids(rows: &[GroupRecord]) -> Vec<u64> {
    rows.iter().map(|g| g.id).collect()
}

/// Names of the groups `query` finds, in name order, and the total.
pub(crate) fn search(s: &Store, query: &str) -> (Vec<String>, u64) {
    let (rows, total, capped) = s
        .list_groups(query, GroupSort::Name, false, 1, 100, None)
        .unwrap();
    assert!(!capped);
    (rows.into_iter().map(|g| g.name).collect(), total)
}

/// Every member of a group, read page by page.
pub(crate) fn all_members(s: &Store, group: u64) -> Vec<u64> {
    let mut out = Vec::new();
    for page in 1.. {
        let (rows, _, _) = s.list_members(group, "", page, 100).unwrap();
        if rows.is_empty() {
            break;
        }
        out.extend(rows.into_iter().map(|(u, _)| u));
    }
    out
}

pub(crate) fn is_invalid(r: Result<impl std::fmt::Debug, StoreError>, field: &str) -> bool {
    matches!(r, Err(StoreError::Invalid { field: f, .. }) if f == field)
}

pub(crate) fn actions(s: &Store, group: u64) -> Vec<AuditAction> {
    s.group_activity(group, 1000)
        .unwrap()
        .into_iter()
        .map(|(_, a)| a.action.into())
        .collect()
}

#[test]
fn names_are_unique_ignoring_case_and_a_rename_frees_the_old_one() {
    let (_d, s) = temp_store();
    let a = group(&s, "Physics");
    let b = group(&s, "Biology");
    let before = dump(&s);
    assert!(is_invalid(
        s.create_group(ACTOR, &fields("PHYSICS")),
        "name"
    ));
    assert!(is_invalid(
        s.create_group(ACTOR, &fields("physics")),
        "name"
    ));
    assert!(is_invalid(
        s.update_group(ACTOR, b.id, &fields("pHySiCs")),
        "name"
    ));
    assert_eq!(dump(&s), before, "a refused name writes nothing");
    assert_eq!(get(&s, b.id), b);
    assert_eq!(s.group_count().unwrap(), 2);
    assert_eq!(
        search(&s, ""),
        (vec!["Biology".into(), "Physics".into()], 2)
    );

    // Saving a group under its own name, or its own name in another case, is fine.
    s.update_group(ACTOR, a.id, &fields("Physics")).unwrap();
    let (a2, _) = s.update_group(ACTOR, a.id, &fields("PHYSICS")).unwrap();
    assert_eq!(a2.name, "PHYSICS");
    assert_eq!(search(&s, "phys"), (vec!["PHYSICS".into()], 1));

    s.update_group(ACTOR, a.id, &fields("Chemistry")).unwrap();
    assert_eq!(search(&s, "phys").1, 0, "old name no longer found");
    assert_eq!(search(&s, "chem"), (vec!["Chemistry".into()], 1));
    assert!(is_invalid(
        s.create_group(ACTOR, &fields("CHEMISTRY")),
        "name"
    ));
    let c = group(&s, "physics");
    assert_eq!(search(&s, "physics"), (vec!["physics".into()], 1));
    assert_eq!(s.group_count().unwrap(), 3);
    assert_eq!(
        search(&s, ""),
        (
            vec!["Biology".into(), "Chemistry".into(), "physics".into()],
            3
        )
    );
    assert!(is_invalid(
        s.update_group(ACTOR, a.id, &fields("Physics")),
        "name"
    ));
    assert_eq!(get(&s, a.id).name, "Chemistry");
    assert_eq!(get(&s, c.id).name, "physics");
    assert!(matches!(
        s.update_group(ACTOR, 424_242, &fields("Nope")),
        Err(StoreError::NotFound("group"))
    ));
}

#[test]
fn the_branch_must_exist_and_is_counted() {
    let (_d, s) = temp_store();
    let b1 = branch(&s, "North");
    let b2 = branch(&s, "South");
    let before = dump(&s);
    let r = s.create_group(
        ACTOR,
        &GroupFields {
            branch: Some(999_999),
            ..fields("G")
        },
    );
    assert!(is_invalid(r, "branch"));
    assert_eq!(dump(&s), before);
    assert_eq!(s.group_count().unwrap(), 0);
    assert_eq!(search(&s, ""), (vec![], 0));
    assert_eq!(search(&s, "g").1, 0);

    let (g, _) = s
        .create_group(
            ACTOR,
            &GroupFields {
                branch: Some(b1),
                ..fields("G")
            },
        )
        .unwrap();
    assert_eq!(g.branch, Some(b1));
    assert_eq!(s.groups_in_branch(b1).unwrap(), 1);
    let before = dump(&s);
    let r = s.update_group(
        ACTOR,
        g.id,
        &GroupFields {
            branch: Some(999_999),
            ..fields("Renamed")
        },
    );
    assert!(is_invalid(r, "branch"));
    assert_eq!(dump(&s), before);
    assert_eq!(get(&s, g.id), g);
    assert_eq!(search(&s, "renamed").1, 0);

    let move_to = |b: Option<u64>| {
        s.update_group(
            ACTOR,
            g.id,
            &GroupFields {
                branch: b,
                ..fields("G")
            },
        )
        .unwrap()
    };
    move_to(Some(b2));
    assert_eq!(
        (
            s.groups_in_branch(b1).unwrap(),
            s.groups_in_branch(b2).unwrap()
        ),
        (0, 1)
    );
    move_to(Some(b2));
    assert_eq!(
        s.groups_in_branch(b2).unwrap(),
        1,
        "saving again counts once"
    );
    move_to(None);
    assert_eq!(
        (
            s.groups_in_branch(b1).unwrap(),
            s.groups_in_branch(b2).unwrap()
        ),
        (0, 0)
    );
    move_to(Some(b1));
    assert_eq!(s.groups_in_branch(b1).unwrap(), 1);
}

#[test]
fn a_branch_with_groups_cannot_be_deleted() {
    let (_d, s) = temp_store();
    let b1 = branch(&s, "North");
    let b2 = branch(&s, "South");
    let in_branch = |name: &str, b: u64| GroupFields {
        branch: Some(b),
        ..fields(name)
    };
    let (g, _) = s.create_group(ACTOR, &in_branch("G", b1)).unwrap();
    let before = dump(&s);
    let err = s.delete_branch(b1).unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid { field: "branch", message } if message.contains("1 group(s)")),
        "{err:?}"
    );
    assert_eq!(dump(&s), before);
    assert!(s.get_branch(b1).unwrap().is_some());

    s.update_group(ACTOR, g.id, &in_branch("G", b2)).unwrap();
    s.delete_branch(b1).unwrap();
    assert!(s.get_branch(b1).unwrap().is_none());
    assert!(is_invalid(s.delete_branch(b2), "branch"));
    s.delete_group(ACTOR, g.id).unwrap();
    s.delete_branch(b2).unwrap();
}

#[test]
fn substring_search_matches_any_part_of_the_name_ignoring_case() {
    let (_d, s) = temp_store();
    for name in [
        "Physics 101",
        "Astrophysics",
        "Chemistry",
        "abcXbcd",
        "PHY",
        "Zebra",
        "Ärzte Nord",
    ] {
        group(&s, name);
    }
    let names = |q: &str| search(&s, q).0;
    let n = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(names("phy"), n(&["Astrophysics", "PHY", "Physics 101"]));
    assert_eq!(names("PHYS"), n(&["Astrophysics", "Physics 101"]));
    assert_eq!(names("  phy  "), n(&["Astrophysics", "PHY", "Physics 101"]));
    // One and two characters, anywhere (including the very end).
    assert_eq!(
        names("y"),
        n(&["Astrophysics", "Chemistry", "PHY", "Physics 101"])
    );
    assert_eq!(names("Y"), names("y"));
    assert_eq!(names("1"), n(&["Physics 101"]));
    assert_eq!(names("01"), n(&["Physics 101"]));
    assert_eq!(names("ra"), n(&["Zebra"]));
    assert_eq!(names("a"), n(&["abcXbcd", "Astrophysics", "Zebra"]));
    assert_eq!(names("hy"), n(&["Astrophysics", "PHY", "Physics 101"]));
    assert_eq!(names("d"), n(&["abcXbcd", "Ärzte Nord"]));
    assert_eq!(names("rd"), n(&["Ärzte Nord"]));
    assert_eq!(names("q"), n(&[]));
    // Three or more: at the end, in the middle, across a space, non-ASCII.
    assert_eq!(names("bcd"), n(&["abcXbcd"]));
    assert_eq!(names("CXB"), n(&["abcXbcd"]));
    assert_eq!(names("abcxbcd"), n(&["abcXbcd"]));
    assert_eq!(names("ics 1"), n(&["Physics 101"]));
    assert_eq!(names("ärz"), n(&["Ärzte Nord"]));
    assert_eq!(names("Ä"), n(&["Ärzte Nord"]));
    assert_eq!(names("stry"), n(&["Chemistry"]));
    // Every trigram of the query occurs, but not as one run.
    assert_eq!(names("abcd"), n(&[]));
    assert_eq!(names("physics 1012"), n(&[]));
    assert_eq!(names("zebrax"), n(&[]));
    assert_eq!(names("hyhy"), n(&[]));
    assert_eq!(search(&s, "phy").1, 3);
    assert_eq!(search(&s, "abcd").1, 0);
}

#[test]
fn sorting_and_paging_agree_across_index_search_and_scope() {
    let (_d, s) = temp_store();
    let users: Vec<u64> = (0..3).map(|i| learner(&s, &format!("u{i}"))).collect();
    // Created in this order, with these member counts.
    let plan = [
        ("Team Delta", 2),
        ("team alpha", 0),
        ("TEAM Charlie", 3),
        ("Team bravo", 1),
        ("Team Echo", 2),
    ];
    let mut created = Vec::new();
    for (name, members) in plan {
        let g = group(&s, name);
        for u in &users[..members] {
            s.add_member(ACTOR, g.id, *u, JoinedHow::Manual).unwrap();
        }
        created.push(g.id);
    }
    group(&s, "Unrelated");
    let [d, a, c, b, e] = created[..] else {
        unreachable!()
    };
    let expected = [
        (GroupSort::Name, vec![a, b, c, d, e]),
        (GroupSort::Members, vec![a, b, d, e, c]),
        (GroupSort::Created, vec![d, a, c, b, e]),
    ];
    let scope = created.clone();
    for (sort, order) in expected {
        for desc in [false, true] {
            let mut want = order.clone();
            if desc {
                want.reverse();
            }
            // The index (no query, the unrelated group filtered out), two searches and a scope.
            let (all, total, _) = s.list_groups("", sort, desc, 1, 100, None).unwrap();
            assert_eq!(total, 6);
            let got: Vec<u64> = ids(&all)
                .into_iter()
                .filter(|id| created.contains(id))
                .collect();
            assert_eq!(got, want, "{sort:?} desc={desc} without a query");
            for (q, only) in [("team", None), ("m", None), ("", Some(&scope[..]))] {
                let (rows, total, capped) = s.list_groups(q, sort, desc, 1, 100, only).unwrap();
                assert_eq!(
                    (ids(&rows), total, capped),
                    (want.clone(), 5, false),
                    "{sort:?} {desc} {q:?}"
                );
                // Pages of two: distinct rows, the same total, nothing past the end.
                let mut paged = Vec::new();
                for page in 1..=3 {
                    let (rows, total, _) = s.list_groups(q, sort, desc, page, 2, only).unwrap();
                    assert_eq!(total, 5);
                    assert_eq!(rows.len(), if page < 3 { 2 } else { 1 });
                    paged.extend(ids(&rows));
                }
                assert_eq!(paged, want);
                assert!(s
                    .list_groups(q, sort, desc, 4, 2, only)
                    .unwrap()
                    .0
                    .is_empty());
            }
            let mut paged = Vec::new();
            for page in 1..=3 {
                let (rows, total, _) = s.list_groups("", sort, desc, page, 2, None).unwrap();
                assert_eq!(total, 6);
                paged.extend(ids(&rows));
            }
            assert_eq!(paged.len(), 6);
            assert_eq!(
                paged.iter().collect::<BTreeSet<_>>().len(),
                6,
                "pages are distinct"
            );
        }
    }
}

#[test]
fn the_only_filter_limits_the_list_to_a_managers_groups() {
    let (_d, s) = temp_store();
    let m = learner(&s, "meg");
    let a = group(&s, "Alpha");
    let b = group(&s, "Beta");
    let c = group(&s, "Gamma");
    s.set_group_manager(ACTOR, a.id, m, true).unwrap();
    s.set_group_manager(ACTOR, c.id, m, true).unwrap();
    let mine = s.managed_groups(m).unwrap();
    let list = |q: &str, only: &[u64]| {
        let (rows, total, _) = s
            .list_groups(q, GroupSort::Name, false, 1, 100, Some(only))
            .unwrap();
        (ids(&rows), total)
    };
    assert_eq!(list("", &mine), (vec![a.id, c.id], 2));
    assert_eq!(list("a", &mine), (vec![a.id, c.id], 2));
    assert_eq!(list("ta", &mine), (vec![], 0), "Beta is not theirs");
    assert_eq!(list("mm", &mine), (vec![c.id], 1));
    assert_eq!(list("ALP", &mine), (vec![a.id], 1));
    assert_eq!(list("", &[]), (vec![], 0));
    s.delete_group(ACTOR, c.id).unwrap();
    assert_eq!(
        list("", &[a.id, c.id]),
        (vec![a.id], 1),
        "deleted ids are skipped"
    );
    assert_eq!(list("", &[b.id]), (vec![b.id], 1));
}

#[test]
fn adding_a_member_twice_changes_nothing() {
    let (_d, s) = temp_store();
    let u = learner(&s, "ann");
    let g = group(&s, "G");
    assert!(s.add_member(at(5), g.id, u, JoinedHow::Key).unwrap());
    let before = dump(&s);
    assert!(!s.add_member(at(6), g.id, u, JoinedHow::Manual).unwrap());
    assert_eq!(dump(&s), before);
    assert_eq!(get(&s, g.id).members, 1);
    assert_eq!(
        s.membership(g.id, u).unwrap(),
        Some(MemberRecord {
            joined_at: 5,
            how: JoinedVia::Key
        })
    );
    assert_eq!(s.groups_of_user(u).unwrap(), vec![g.id]);
    assert_eq!(all_members(&s, g.id), vec![u]);
    assert!(matches!(
        s.add_member(ACTOR, g.id, 424_242, JoinedHow::Manual),
        Err(StoreError::NotFound("user"))
    ));
    assert!(matches!(
        s.add_member(ACTOR, 424_242, u, JoinedHow::Manual),
        Err(StoreError::NotFound("group"))
    ));
    assert_eq!(dump(&s), before);
}

#[test]
fn removing_a_member_keeps_enrolments_unless_asked() {
    let (_d, s) = temp_store();
    let u = learner(&s, "ann");
    let other = learner(&s, "bob");
    let own = course(&s, "OWN");
    let via1 = course(&s, "VIA1");
    let via2 = course(&s, "VIA2");
    let unrelated = course(&s, "ELSE");
    let lesson = add_lesson(&s, own, "one");
    add_lesson(&s, own, "two");
    let cur = s.create_curriculum("Path", "", 0).unwrap().id;
    for c in [via1, via2] {
        s.change_curriculum(cur, CurriculumChange::Add(c)).unwrap();
    }
    let g = group(&s, "G");
    s.link_group_course(ACTOR, g.id, own, true).unwrap();
    s.link_group_curriculum(ACTOR, g.id, cur, true).unwrap();
    for c in [own, via1, via2, unrelated] {
        s.enrol(u, c, Source::Manual, 0).unwrap();
    }
    s.enrol(other, own, Source::Manual, 0).unwrap();
    s.mark_lesson(u, own, lesson, true, 3).unwrap();
    s.add_member(ACTOR, g.id, u, JoinedHow::Manual).unwrap();
    s.add_member(ACTOR, g.id, other, JoinedHow::Manual).unwrap();

    assert_eq!(s.remove_member(ACTOR, g.id, u, false).unwrap(), 0);
    assert_eq!(get(&s, g.id).members, 1);
    assert!(s.groups_of_user(u).unwrap().is_empty());
    assert_eq!(s.membership(g.id, u).unwrap(), None);
    for c in [own, via1, via2, unrelated] {
        assert!(s.enrolment(u, c).unwrap().is_some(), "kept");
    }
    assert_eq!(actions(&s, g.id)[0], AuditAction::MembersRemoved);

    // Not a member (any more): NotFound and nothing changes.
    let before = dump(&s);
    assert!(matches!(
        s.remove_member(ACTOR, g.id, u, true),
        Err(StoreError::NotFound("member"))
    ));
    assert_eq!(dump(&s), before);
    assert!(matches!(
        s.remove_member(ACTOR, 424_242, u, false),
        Err(StoreError::NotFound(_))
    ));

    // "Remove and unenrol" ends only what came through this group and nothing else gives.
    let v = learner(&s, "vic");
    let h = group(&s, "H");
    s.add_member(ACTOR, g.id, v, JoinedHow::Manual).unwrap();
    for c in [own, via1, via2] {
        s.enrol(v, c, Source::GroupSync(g.id), 1).unwrap();
    }
    s.enrol(v, via1, Source::Manual, 2).unwrap();
    s.enrol(v, via2, Source::GroupKey(h.id), 2).unwrap();
    s.enrol(v, unrelated, Source::Manual, 2).unwrap();
    s.mark_lesson(v, own, lesson, true, 3).unwrap();
    let learners = |c| s.enrolled_count(c).unwrap();
    let before = [own, via1, via2, unrelated].map(learners);
    assert_eq!(s.remove_member(ACTOR, g.id, v, true).unwrap(), 1);
    assert!(
        s.enrolment(v, own).unwrap().is_none(),
        "only this group gave it"
    );
    let kept = s.enrolment(v, via1).unwrap().unwrap();
    assert_eq!(kept.source, EnrolSource::Manual, "what is left of it");
    assert!(
        s.enrolment(v, via2).unwrap().is_some(),
        "another group gives it"
    );
    assert!(s.enrolment(v, unrelated).unwrap().is_some());
    assert_eq!(
        [own, via1, via2, unrelated].map(learners),
        [before[0] - 1, before[1], before[2], before[3]]
    );
    // A course the group gave and has since detached: "remove and unenrol" still takes the
    // group's source away.
    let gone = course(&s, "GONE");
    s.link_group_course(ACTOR, g.id, gone, true).unwrap();
    s.add_member(ACTOR, g.id, v, JoinedHow::Manual).unwrap();
    s.enrol(v, gone, Source::GroupSync(g.id), 4).unwrap();
    s.link_group_course(ACTOR, g.id, gone, false).unwrap();
    assert_eq!(s.remove_member(ACTOR, g.id, v, true).unwrap(), 1);
    assert!(s.enrolment(v, gone).unwrap().is_none());
    // What is left of via1 is the manual enrolment: removing from the group again (after
    // joining again) ends nothing.
    s.add_member(ACTOR, g.id, v, JoinedHow::Manual).unwrap();
    assert_eq!(s.remove_member(ACTOR, g.id, v, true).unwrap(), 0);
    assert!(s.enrolment(v, via1).unwrap().is_some());
    // Progress stays.
    assert_eq!(s.done_lessons(v, own).unwrap(), vec![lesson]);
    s.enrol(v, own, Source::Manual, 9).unwrap();
    assert_eq!(s.enrolment(v, own).unwrap().unwrap().progress.done, 1);
    assert_eq!(s.groups_of_user(other).unwrap(), vec![g.id]);
}

#[test]
fn member_lists_page_and_search_only_members() {
    let (_d, s) = temp_store();
    let g = group(&s, "G");
    let mut members = Vec::new();
    for i in 0..25 {
        let u = learner(&s, &format!("mem{i:02}"));
        s.add_member(ACTOR, g.id, u, JoinedHow::Manual).unwrap();
        members.push(u);
    }
    learner(&s, "memx1");
    learner(&s, "other");
    let page = |q: &str, p: u32, n: u32| {
        let (rows, total, capped) = s.list_members(g.id, q, p, n).unwrap();
        assert!(!capped);
        (rows.into_iter().map(|(u, _)| u).collect::<Vec<_>>(), total)
    };
    let mut seen = Vec::new();
    for p in 1..=3 {
        let (rows, total) = page("", p, 10);
        assert_eq!(total, 25);
        assert_eq!(rows.len(), if p < 3 { 10 } else { 5 });
        seen.extend(rows);
    }
    assert_eq!(seen, members, "user-id order, each once");
    assert!(page("", 4, 10).0.is_empty());

    let (rows, total) = page("mem", 1, 100);
    assert_eq!(total, 25, "memx1 is not a member");
    assert_eq!(
        rows.iter().collect::<BTreeSet<_>>(),
        members.iter().collect()
    );
    let mut seen = BTreeSet::new();
    for p in 1..=3 {
        let (rows, total) = page("MEM", p, 10);
        assert_eq!(total, 25);
        seen.extend(rows);
    }
    assert_eq!(seen.len(), 25);
    let (rows, total) = page("mem1", 1, 100);
    assert_eq!(total, 10);
    assert_eq!(
        rows.iter().collect::<BTreeSet<_>>(),
        members[10..20].iter().collect()
    );
    assert_eq!(page("mem03@x", 1, 100), (vec![members[3]], 1));
    assert_eq!(page("memx", 1, 100), (vec![], 0));
    assert_eq!(page("other", 1, 100), (vec![], 0));
    assert_eq!(page("em0", 1, 100).1, 0, "a prefix, not a substring");
}

#[test]
fn bulk_add_reports_each_row() {
    let (_d, s) = temp_store();
    let ann = learner(&s, "ann");
    let bob = learner(&s, "bob");
    let carl = learner(&s, "carl");
    let g = group(&s, "G");
    s.add_member(ACTOR, g.id, carl, JoinedHow::Manual).unwrap();
    let long = "x".repeat(300);
    let text = format!(
        "login,name\nAnn,Ann A\nBOB@X.ORG\n\ncarl\nnobody\nnobody@x.org\nann\nbob\n{long}\nbad\u{7}name\n"
    );
    let entries = bulk_entries(&text).unwrap();
    let r = s.bulk_add_members(at(7), g.id, &entries).unwrap();
    let got: Vec<(u32, &str, BulkOutcome)> = r
        .rows
        .iter()
        .map(|row| (row.line, row.input.as_str(), row.outcome.clone()))
        .collect();
    let invalid = || BulkOutcome::Invalid("not a login name or e-mail address".into());
    assert_eq!(
        got,
        vec![
            (2, "Ann", BulkOutcome::Added),
            (3, "BOB@X.ORG", BulkOutcome::Added),
            (5, "carl", BulkOutcome::AlreadyMember),
            (6, "nobody", BulkOutcome::UnknownUser),
            (7, "nobody@x.org", BulkOutcome::UnknownUser),
            (8, "ann", BulkOutcome::AlreadyMember),
            (9, "bob", BulkOutcome::AlreadyMember),
            (10, long.as_str(), invalid()),
            (11, "bad\u{7}name", invalid()),
        ]
    );
    assert_eq!((r.added, r.already, r.unknown, r.invalid), (2, 3, 2, 2));
    assert_eq!(get(&s, g.id).members, 3);
    assert_eq!(
        all_members(&s, g.id).into_iter().collect::<BTreeSet<_>>(),
        [ann, bob, carl].into_iter().collect()
    );
    for u in [ann, bob] {
        assert_eq!(s.groups_of_user(u).unwrap(), vec![g.id]);
        assert_eq!(
            s.membership(g.id, u).unwrap(),
            Some(MemberRecord {
                joined_at: 7,
                // Pasted on the group's page: not an import, and it says so.
                how: JoinedVia::Bulk
            })
        );
    }
    assert_eq!(
        s.membership(g.id, carl).unwrap().unwrap().how,
        JoinedVia::Manual
    );

    // Again: everything already there, nothing written.
    let before = dump(&s);
    let entries = bulk_entries("ann\nbob@x.org\nghost").unwrap();
    let r = s.bulk_add_members(ACTOR, g.id, &entries).unwrap();
    assert_eq!((r.added, r.already, r.unknown, r.invalid), (0, 2, 1, 0));
    assert_eq!(dump(&s), before);
    assert!(matches!(
        s.bulk_add_members(ACTOR, 424_242, &entries),
        Err(StoreError::NotFound("group"))
    ));
}

#[test]
fn bulk_add_over_several_batches_counts_right() {
    let (_d, s) = temp_store();
    let g = group(&s, "Big");
    let other = group(&s, "Small");
    let users: Vec<u64> = (0..1200)
        .map(|i| learner(&s, &format!("user{i:04}")))
        .collect();
    for u in &users[..10] {
        s.add_member(ACTOR, g.id, *u, JoinedHow::Manual).unwrap();
    }
    s.add_member(ACTOR, other.id, users[0], JoinedHow::Manual)
        .unwrap();
    let mut text = String::new();
    for i in 0..1200 {
        // Half by login, half by e-mail in upper case.
        if i % 2 == 0 {
            text.push_str(&format!("user{i:04}\n"));
        } else {
            text.push_str(&format!("USER{i:04}@X.ORG\n"));
        }
    }
    for i in (0..1200).step_by(12) {
        text.push_str(&format!("user{i:04}@x.org\n"));
    }
    for i in 0..5 {
        text.push_str(&format!("ghost{i}\n"));
    }
    let entries = bulk_entries(&text).unwrap();
    assert_eq!(entries.len(), 1305);
    let r = s.bulk_add_members(ACTOR, g.id, &entries).unwrap();
    assert_eq!(
        (r.added, r.already, r.unknown, r.invalid),
        (1190, 110, 5, 0)
    );
    assert_eq!(r.rows.len(), 1305);
    assert_eq!(
        r.rows
            .iter()
            .filter(|row| row.outcome == BulkOutcome::Added)
            .count(),
        1190
    );
    assert_eq!(
        r.rows[1200].outcome,
        BulkOutcome::AlreadyMember,
        "a repeat in the paste"
    );
    assert_eq!(r.rows[1304].outcome, BulkOutcome::UnknownUser);
    assert_eq!(get(&s, g.id).members, 1200);
    let members = all_members(&s, g.id);
    assert_eq!(members, users);
    assert_eq!(s.list_members(g.id, "", 1, 10).unwrap().1, 1200);
    assert_eq!(s.list_members(g.id, "user11", 1, 10).unwrap().1, 100);
    for u in [users[0], users[599], users[1199]] {
        assert!(s.groups_of_user(u).unwrap().contains(&g.id));
    }
    assert_eq!(get(&s, other.id).members, 1);
    let (rows, _, _) = s
        .list_groups("", GroupSort::Members, true, 1, 10, None)
        .unwrap();
    assert_eq!(ids(&rows), vec![g.id, other.id]);
    let batches = actions(&s, g.id)
        .into_iter()
        .filter(|a| *a == AuditAction::MembersAdded)
        .count();
    assert_eq!(batches, 10 + 1300usize.div_ceil(BULK_BATCH));
}

#[test]
fn managers_are_added_and_removed() {
    let (_d, s) = temp_store();
    let m = learner(&s, "meg");
    let n = learner(&s, "ned");
    let a = group(&s, "A");
    let b = group(&s, "B");
    assert!(!s.manages_any_group(m).unwrap());
    assert!(s.set_group_manager(ACTOR, a.id, m, true).unwrap());
    let before = dump(&s);
    assert!(!s.set_group_manager(ACTOR, a.id, m, true).unwrap());
    assert_eq!(dump(&s), before);
    assert!(s.set_group_manager(ACTOR, b.id, m, true).unwrap());
    assert!(s.set_group_manager(ACTOR, b.id, n, true).unwrap());
    assert_eq!(s.managed_groups(m).unwrap(), vec![a.id, b.id]);
    assert_eq!(s.group_managers(b.id).unwrap(), vec![m, n]);
    assert!(s.manages_group(m, a.id).unwrap());
    assert!(s.manages_group(n, b.id).unwrap());
    assert!(!s.manages_group(n, a.id).unwrap());
    assert!(s.manages_any_group(n).unwrap());

    assert!(s.set_group_manager(ACTOR, a.id, m, false).unwrap());
    assert!(!s.set_group_manager(ACTOR, a.id, m, false).unwrap());
    assert!(!s.set_group_manager(ACTOR, a.id, n, false).unwrap());
    assert_eq!(s.managed_groups(m).unwrap(), vec![b.id]);
    assert!(!s.manages_group(m, a.id).unwrap());
    assert!(s.group_managers(a.id).unwrap().is_empty());
    assert!(s.set_group_manager(ACTOR, b.id, n, false).unwrap());
    assert!(!s.manages_any_group(n).unwrap());
    assert!(s.manages_any_group(m).unwrap());
    assert_eq!(actions(&s, a.id)[0], AuditAction::ManagersChanged);

    let before = dump(&s);
    assert!(matches!(
        s.set_group_manager(ACTOR, a.id, 424_242, true),
        Err(StoreError::NotFound("user"))
    ));
    assert!(matches!(
        s.set_group_manager(ACTOR, 424_242, m, true),
        Err(StoreError::NotFound("group"))
    ));
    assert_eq!(dump(&s), before);
}

#[test]
fn the_audit_trail_records_what_changed() {
    let (_d, s) = temp_store();
    let u = learner(&s, "ann");
    let (g, _) = s.create_group(at(1), &fields("G")).unwrap();
    s.update_group(at(2), g.id, &fields("G")).unwrap();
    assert_eq!(
        actions(&s, g.id),
        vec![AuditAction::GroupCreated],
        "no change, no event"
    );
    let f = GroupFields {
        description: "About".into(),
        ..fields("G2")
    };
    s.update_group(at(3), g.id, &f).unwrap();
    s.add_member(Actor { user: u, now: 4 }, g.id, u, JoinedHow::Manual)
        .unwrap();
    let trail = s.group_activity(g.id, 10).unwrap();
    let got: Vec<(u64, u64, AuditAction)> = trail
        .iter()
        .map(|(_, a)| (a.at, a.actor, a.action.into()))
        .collect();
    assert_eq!(
        got,
        vec![
            (4, u, AuditAction::MembersAdded),
            (3, 0, AuditAction::GroupChanged),
            (1, 0, AuditAction::GroupCreated),
        ]
    );
    assert!(
        trail[1].1.detail.contains("\"G\" → \"G2\""),
        "{}",
        trail[1].1.detail
    );
    assert!(trail[1].1.detail.contains("description"));
    assert_eq!(s.group_activity(g.id, 1).unwrap().len(), 1);
}

/// Random sequences of group operations keep every stored counter and index equal to a plain
/// in-memory model.
pub(crate) mod model_check {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const NAMES: [&str; 6] = ["Alpha", "ALPHA", "beta", "Gamma", "delta", "Beta"];
    const USERS: usize = 4;

    #[derive(Debug, Clone)]
    enum Op {
        Create(usize, bool),
        Add(usize, usize),
        Remove(usize, usize, bool),
        /// User indexes; `USERS` stands for an unknown login.
        Bulk(usize, Vec<usize>),
        Link(usize, usize, bool),
        LinkCurriculum(usize, bool),
        Delete(usize),
        SetDefault(usize, bool),
    }

    fn op() -> impl Strategy<Value = Op> {
        let g = 0..4usize;
        prop_oneof![
            (0..NAMES.len(), proptest::bool::weighted(0.3)).prop_map(|(n, d)| Op::Create(n, d)),
            (g.clone(), 0..USERS).prop_map(|(g, u)| Op::Add(g, u)),
            (g.clone(), 0..USERS, any::<bool>()).prop_map(|(g, u, x)| Op::Remove(g, u, x)),
            (g.clone(), proptest::collection::vec(0..=USERS, 0..6))
                .prop_map(|(g, us)| Op::Bulk(g, us)),
            (g.clone(), 0..2usize, any::<bool>()).prop_map(|(g, c, a)| Op::Link(g, c, a)),
            (g.clone(), any::<bool>()).prop_map(|(g, a)| Op::LinkCurriculum(g, a)),
            g.clone().prop_map(Op::Delete),
            (g, any::<bool>()).prop_map(|(g, d)| Op::SetDefault(g, d)),
        ]
    }

    #[derive(Debug, Default)]
    struct MGroup {
        name: String,
        members: BTreeSet<usize>,
        courses: BTreeSet<usize>,
        curricula: bool,
    }

    #[derive(Default)]
    struct Model {
        groups: BTreeMap<u64, MGroup>,
        default: Option<u64>,
    }

    impl Model {
        /// The `i`-th live group (wrapping), if any.
        fn pick(&self, i: usize) -> Option<u64> {
            let n = self.groups.len();
            (n > 0).then(|| *self.groups.keys().nth(i % n).unwrap())
        }
    }

    fn check(s: &Store, m: &Model, users: &[u64]) -> Result<(), TestCaseError> {
        prop_assert_eq!(s.group_count().unwrap(), m.groups.len() as u64);
        prop_assert_eq!(s.default_group().unwrap(), m.default);
        for (id, mg) in &m.groups {
            let rec = get(s, *id);
            let want: Vec<u64> = mg.members.iter().map(|u| users[*u]).collect();
            prop_assert_eq!(&rec.name, &mg.name);
            prop_assert_eq!(rec.members, want.len() as u64);
            prop_assert_eq!(all_members(s, *id), want.clone());
            prop_assert_eq!(
                s.list_members(*id, "", 1, 100).unwrap().1,
                want.len() as u64
            );
            let (courses, curricula) = s.group_links(*id).unwrap();
            prop_assert_eq!(rec.courses as usize, courses.len());
            prop_assert_eq!(courses.len(), mg.courses.len());
            prop_assert_eq!(rec.curricula as usize, curricula.len());
            prop_assert_eq!(curricula.len(), usize::from(mg.curricula));
            prop_assert_eq!(rec.is_default, m.default == Some(*id));
        }
        for (i, u) in users.iter().enumerate() {
            let want: Vec<u64> = m
                .groups
                .iter()
                .filter(|(_, g)| g.members.contains(&i))
                .map(|(id, _)| *id)
                .collect();
            prop_assert_eq!(s.groups_of_user(*u).unwrap(), want);
        }
        let (all, total, _) = s
            .list_groups("", GroupSort::Created, false, 1, 100, None)
            .unwrap();
        prop_assert_eq!(total, m.groups.len() as u64);
        prop_assert!(all.iter().filter(|g| g.is_default).count() <= 1);
        let mut by_members: Vec<(u64, u64)> = m
            .groups
            .iter()
            .map(|(id, g)| (g.members.len() as u64, *id))
            .collect();
        by_members.sort();
        let want: Vec<u64> = by_members.iter().map(|(_, id)| *id).collect();
        let (rows, _, _) = s
            .list_groups("", GroupSort::Members, false, 1, 100, None)
            .unwrap();
        prop_assert_eq!(ids(&rows), want.clone());
        let (rows, _, _) = s
            .list_groups("a", GroupSort::Members, true, 1, 100, None)
            .unwrap();
        let mut want_a: Vec<u64> = want
            .iter()
            .copied()
            .filter(|id| m.groups[id].name.to_lowercase().contains('a'))
            .collect();
        want_a.reverse();
        prop_assert_eq!(ids(&rows), want_a);
        Ok(())
    }

    proptest! {
           #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
           #[test]
           fn store_matches_model(ops in proptest::collection::vec(op(), 1..30)) {
               let (_d, s) = temp_store();
               let users: Vec<u64> = (0..USERS).map(|i| learner(&s, &format!("u{i}"))).collect();
               let courses = [course(&s, "C0"), course(&s, "C1")];
               let cur = s.create_curriculum("Path", "", 0).unwrap().id;
               let mut m = Model::default();
               for op in ops {
                   match op {
                       Op::Create(n, d) => {
                           let name = NAMES[n];
                           let f = GroupFields { is_default: d, ..fields(name) };
                           let taken = m.groups.values().any(|g| g.name.to_lowercase() == name.to_lowercase());
                           match s.create_group(ACTOR, &f) {
                               Ok((g, prev)) => {
                                   prop_assert!(!taken);
                                   let want_prev = if d { m.default } else { None };
                                   prop_assert_eq!(prev.map(|p| p.0), want_prev);
                                   if d {
                                       m.default = Some(g.id);
                                   }
                                   m.groups.insert(g.id, MGroup { name: name.into(), ..MGroup::default() });
                               }
                               Err(e) => {
                                   prop_assert!(taken, "{e:?}");
                                   prop_assert!(
    matches!(e, StoreError::Invalid { field: "name", .. }),
    "a taken name is refused on name"
    );
                               }
                           }
                       }
                       Op::Add(g, u) => {
                           let Some(id) = m.pick(g) else { continue };
                           let new = s.add_member(ACTOR, id, users[u], JoinedHow::Manual).unwrap();
                           prop_assert_eq!(new, m.groups.get_mut(&id).unwrap().members.insert(u));
                       }
                       Op::Remove(g, u, unenrol) => {
                           let Some(id) = m.pick(g) else { continue };
                           let r = s.remove_member(ACTOR, id, users[u], unenrol);
                           let was = m.groups.get_mut(&id).unwrap().members.remove(&u);
                           prop_assert_eq!(r.is_ok(), was);
                       }
                       Op::Bulk(g, us) => {
                           let Some(id) = m.pick(g) else { continue };
                           let entries: Vec<(u32, String)> = us
                               .iter()
                               .enumerate()
                               .map(|(i, u)| (i as u32 + 1, if *u == USERS { "ghost".into() } else { format!("U{u}") }))
                               .collect();
                           let r = s.bulk_add_members(ACTOR, id, &entries).unwrap();
                           let mg = m.groups.get_mut(&id).unwrap();
                           let mut added = 0;
                           for (row, u) in r.rows.iter().zip(&us) {
                               let want = if *u == USERS {
                                   BulkOutcome::UnknownUser
                               } else if mg.members.insert(*u) {
                                   added += 1;
                                   BulkOutcome::Added
                               } else {
                                   BulkOutcome::AlreadyMember
                               };
                               prop_assert_eq!(&row.outcome, &want);
                           }
                           prop_assert_eq!(r.added, added);
                       }
                       Op::Link(g, c, add) => {
                           let Some(id) = m.pick(g) else { continue };
                           let changed = s.link_group_course(ACTOR, id, courses[c], add).unwrap();
                           let mg = m.groups.get_mut(&id).unwrap();
                           let want = if add { mg.courses.insert(c) } else { mg.courses.remove(&c) };
                           prop_assert_eq!(changed, want);
                       }
                       Op::LinkCurriculum(g, add) => {
                           let Some(id) = m.pick(g) else { continue };
                           let changed = s.link_group_curriculum(ACTOR, id, cur, add).unwrap();
                           let mg = m.groups.get_mut(&id).unwrap();
                           prop_assert_eq!(changed, mg.curricula != add);
                           mg.curricula = add;
                       }
                       Op::Delete(g) => {
                           let Some(id) = m.pick(g) else { continue };
                           s.delete_group(ACTOR, id).unwrap();
                           m.groups.remove(&id);
                           if m.default == Some(id) {
                               m.default = None;
                           }
                       }
                       Op::SetDefault(g, d) => {
                           let Some(id) = m.pick(g) else { continue };
                           let f = GroupFields { is_default: d, ..fields_of(&get(&s, id)) };
                           let (_, prev) = s.update_group(ACTOR, id, &f).unwrap();
                           let want_prev = m.default.filter(|p| d && *p != id);
                           prop_assert_eq!(prev.map(|p| p.0), want_prev);
                           if d {
                               m.default = Some(id);
                           } else if m.default == Some(id) {
                               m.default = None;
                           }
                       }
                   }
                   check(&s, &m, &users)?;
               }
           }
       }
}

/// More matches than the search collects: pages come from the sort index, filtered, and are
/// exactly what sorting every match would give, in every order.
#[test]
fn a_query_too_common_to_collect_still_pages_in_the_right_order() {
    let (_d, s) = temp_store();
    let n = MATCH_CAP + 60;
    let mut names = Vec::new();
    for i in 0..n {
        // Scrambled numbers so that name order, creation order and member order all differ.
        let name = format!("Lab {:05}", (i * 7_919) % 100_000);
        let g = group(&s, &name);
        names.push((name, g.id));
        group(&s, &format!("Other {i}"));
    }
    let u = learner(&s, "mo");
    let busy = names[5].1;
    s.add_member(ACTOR, busy, u, JoinedHow::Manual).unwrap();
    let mut by_name: Vec<_> = names
        .iter()
        .map(|(n, id)| (n.to_lowercase(), *id))
        .collect();
    by_name.sort();
    for (page, desc) in [(1, false), (3, false), (1, true)] {
        let (rows, total, capped) = s
            .list_groups("lab", GroupSort::Name, desc, page, 20, None)
            .unwrap();
        assert!(capped && total == MATCH_CAP as u64, "{total} {capped}");
        let mut expect: Vec<u64> = by_name.iter().map(|(_, id)| *id).collect();
        if desc {
            expect.reverse();
        }
        let skip = (page as usize - 1) * 20;
        assert_eq!(
            ids(&rows),
            expect[skip..skip + 20].to_vec(),
            "page {page} desc {desc}"
        );
    }
    let (rows, _, _) = s
        .list_groups("LAB", GroupSort::Created, true, 1, 20, None)
        .unwrap();
    let mut newest: Vec<u64> = names.iter().map(|(_, id)| *id).collect();
    newest.reverse();
    assert_eq!(ids(&rows), newest[..20].to_vec());
    let (rows, _, _) = s
        .list_groups("lab ", GroupSort::Members, true, 1, 20, None)
        .unwrap();
    assert_eq!(rows[0].id, busy, "the only group with a member comes first");
    assert!(rows.iter().all(|g| g.name.starts_with("Lab")));
    // A rarer query is collected and counted exactly.
    let (_, total, capped) = s
        .list_groups("lab 0", GroupSort::Name, false, 1, 20, None)
        .unwrap();
    let exact = names
        .iter()
        .filter(|(n, _)| n.to_lowercase().contains("lab 0"))
        .count();
    assert_eq!((total, capped), (exact as u64, false));
}

/// Many threads racing for one name, one key and the default flag: exactly one group gets the
/// name and the key, and afterwards exactly one group is the default.
#[test]
fn racing_creates_and_default_switches_keep_the_rules() {
    let (_d, s) = temp_store();
    for round in 0..5 {
        let name = format!("Race {round}");
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let s = s.clone();
                let name = if t % 2 == 0 {
                    name.clone()
                } else {
                    name.to_uppercase()
                };
                let key = format!("RACE-KEY-{round}");
                std::thread::spawn(move || {
                    let by_name = s.create_group(ACTOR, &fields(&name)).is_ok();
                    let by_key = s
                        .create_group(ACTOR, &keyed(&format!("{name} keyed {t}"), &key))
                        .is_ok();
                    (by_name, by_key)
                })
            })
            .collect();
        let results: Vec<(bool, bool)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(results.iter().filter(|r| r.0).count(), 1, "one name winner");
        assert_eq!(results.iter().filter(|r| r.1).count(), 1, "one key winner");
    }
    let ids: Vec<u64> = (0..6)
        .map(|i| group(&s, &format!("Default {i}")).id)
        .collect();
    let handles: Vec<_> = ids
        .iter()
        .map(|&id| {
            let s = s.clone();
            std::thread::spawn(move || {
                for _ in 0..5 {
                    let g = get(&s, id);
                    s.update_group(
                        ACTOR,
                        id,
                        &GroupFields {
                            is_default: true,
                            ..fields_of(&g)
                        },
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let (all, _, _) = s
        .list_groups("", GroupSort::Name, false, 1, 100, None)
        .unwrap();
    let defaults: Vec<u64> = all.iter().filter(|g| g.is_default).map(|g| g.id).collect();
    assert_eq!(defaults.len(), 1, "exactly one default: {defaults:?}");
    assert_eq!(s.default_group().unwrap(), Some(defaults[0]));
}

/// A query longer than the indexed suffixes, whose start is shared by more groups than the
/// search collects, is still counted exactly.
#[test]
fn a_long_query_sharing_its_start_with_many_names_is_counted_exactly() {
    let (_d, s) = temp_store();
    for i in 1..=MATCH_CAP + 1 {
        group(&s, &format!("Health and Safety Refresher Course, Site {i}"));
    }
    let q = "health and safety refresher course, site 1001";
    assert!(q.chars().count() > SUFFIX_MAX);
    let (rows, total, capped) = s
        .list_groups(q, GroupSort::Members, false, 1, 20, None)
        .unwrap();
    assert_eq!((total, capped), (1, false));
    assert_eq!(
        rows[0].name,
        "Health and Safety Refresher Course, Site 1001"
    );
}

/// A new user joins the default group and is enrolled in what it gives, in the user's own
/// transaction; switching the default later leaves existing users alone.
#[test]
fn new_users_join_the_default_group_and_its_courses_at_once() {
    let (_d, s) = temp_store();
    let a = course(&s, "DEF-A");
    let b = course(&s, "DEF-B");
    let z = s
        .create_course(
            &crate::server::store::courses::CourseFields {
                archived: true,
                ..course_fields("DEF-Z")
            },
            0,
        )
        .unwrap()
        .id;
    let cur = s.create_curriculum("Default path", "", 0).unwrap().id;
    for c in [b, z] {
        s.change_curriculum(cur, CurriculumChange::Add(c)).unwrap();
    }
    // No default group: a new user joins nothing.
    let before = learner(&s, "early");
    assert!(s.groups_of_user(before).unwrap().is_empty());

    let (g, _) = s
        .create_group(
            ACTOR,
            &GroupFields {
                is_default: true,
                ..fields("Everyone")
            },
        )
        .unwrap();
    s.link_group_course(ACTOR, g.id, a, true).unwrap();
    s.link_group_curriculum(ACTOR, g.id, cur, true).unwrap();
    let u = learner(&s, "newbie");
    assert_eq!(s.groups_of_user(u).unwrap(), vec![g.id]);
    assert_eq!(
        s.membership(g.id, u).unwrap().unwrap().how,
        JoinedVia::Default
    );
    assert_eq!(get(&s, g.id).members, 1);
    for c in [a, b] {
        let e = s.enrolment(u, c).unwrap().unwrap();
        assert_eq!(e.source, EnrolSource::DefaultGroup);
        assert_eq!(s.enrolled_count(c).unwrap(), 1);
    }
    assert!(s.enrolment(u, z).unwrap().is_none(), "archived: skipped");
    assert!(
        s.groups_of_user(before).unwrap().is_empty(),
        "existing users untouched"
    );
    assert!(actions(&s, g.id).contains(&AuditAction::MembersAdded));

    // Switching the default: the next user joins the new one; earlier users stay where they are.
    let (h, _) = s
        .create_group(
            ACTOR,
            &GroupFields {
                is_default: true,
                ..fields("Newcomers")
            },
        )
        .unwrap();
    let later = learner(&s, "later");
    assert_eq!(s.groups_of_user(later).unwrap(), vec![h.id]);
    assert_eq!(s.groups_of_user(u).unwrap(), vec![g.id]);
    assert_eq!(get(&s, g.id).members, 1);
}

/// One unknown id refuses the whole attach, with a typed error naming its list, and the store
/// stays as it was: no link, no count, no reverse index, no audit event.
#[test]
fn attaching_with_an_unknown_id_changes_nothing() {
    let (_d, s) = temp_store();
    let g = group(&s, "G");
    let (c1, c2) = (course(&s, "C1"), course(&s, "C2"));
    let cur = s.create_curriculum("Path", "", 0).unwrap().id;
    let before = dump(&s);
    assert!(is_invalid(
        s.attach_links(ACTOR, g.id, &[c1, 424_242, c2], &[]),
        "courses"
    ));
    assert!(is_invalid(
        s.attach_links(ACTOR, g.id, &[c1], &[cur, c2]),
        "curricula"
    ));
    assert!(is_invalid(
        s.attach_links(ACTOR, g.id, &[cur], &[]),
        "courses"
    ));
    assert!(is_invalid(s.attach_links(ACTOR, g.id, &[], &[]), "courses"));
    let many: Vec<u64> = (0..=ATTACH_MAX as u64).collect();
    assert!(is_invalid(
        s.attach_links(ACTOR, g.id, &many, &[]),
        "courses"
    ));
    assert!(matches!(
        s.attach_links(ACTOR, 424_242, &[c1], &[]),
        Err(StoreError::NotFound("group"))
    ));
    assert_eq!(dump(&s), before);
}

/// What the checklist offers: every course not yet attached, at once; a search matches any
/// part of the code or title, ignoring case, and still leaves out the attached ones.
#[test]
fn the_checklist_offers_the_courses_not_yet_attached_by_any_part() {
    let (_d, s) = temp_store();
    let g = group(&s, "G");
    let make = |code: &str, title: &str| {
        s.create_course(
            &crate::server::store::courses::CourseFields {
                code: code.into(),
                title: title.into(),
                description: String::new(),
                archived: false,
            },
            0,
        )
        .unwrap()
        .id
    };
    let phy = make("PHY-101", "Introductory Physics");
    let chem = make("CHEM-101", "General Chemistry");
    let bio = make("BIO-7", "Cells and Genes");
    let cur = s.create_curriculum("Science Path", "", 0).unwrap().id;
    let codes = |q: &str| -> (Vec<String>, u64) {
        let (rows, total, _) = s.courses_to_attach(g.id, q, 1, 50).unwrap();
        (rows.into_iter().map(|c| c.code).collect(), total)
    };
    assert_eq!(
        codes(""),
        (vec!["BIO-7".into(), "CHEM-101".into(), "PHY-101".into()], 3)
    );
    assert_eq!(codes("101").0.len(), 2, "a part of the code");
    assert_eq!(
        codes("ysic"),
        (vec!["PHY-101".into()], 1),
        "a part of the title"
    );
    assert_eq!(codes("GENE").0.len(), 2, "ignoring case: General, Genes");
    assert_eq!(codes("s and g"), (vec!["BIO-7".into()], 1), "across words");
    assert_eq!(codes("xyz"), (vec![], 0));
    s.attach_links(ACTOR, g.id, &[phy, chem], &[]).unwrap();
    assert_eq!(codes(""), (vec!["BIO-7".into()], 1));
    assert_eq!(codes("101"), (vec![], 0));
    // The course page's own list finds by any part too.
    assert_eq!(s.list_courses("hem", 1, 50).unwrap().0[0].id, chem);
    // Curricula: not yet attached, at once.
    let (rows, total, _) = s.curricula_to_attach(g.id, "", 1, 50).unwrap();
    assert_eq!((rows[0].id, total), (cur, 1));
    s.attach_links(ACTOR, g.id, &[], &[cur]).unwrap();
    assert_eq!(s.curricula_to_attach(g.id, "", 1, 50).unwrap().1, 0);
    // An edit moves the course's terms with it; a deletion takes them away.
    let mut f = crate::server::store::courses::tests::course_fields("BIO-8");
    f.title = "Ecology".into();
    s.update_course(bio, &f).unwrap();
    assert_eq!(codes("genes").0.len(), 0);
    assert_eq!(codes("colog").0, vec!["BIO-8".to_string()]);
    s.delete_course(bio).unwrap();
    assert_eq!(codes("colog").1, 0);
}

/// A search common to more courses than are counted stops at the cap, and says so; a query
/// longer than the indexed suffixes is checked against each course.
#[test]
fn course_search_stays_bounded() {
    use crate::server::store::TOTAL_CAP;
    let (_d, s) = temp_store();
    let g = group(&s, "G");
    let n = TOTAL_CAP as usize + 20;
    for i in 0..n {
        let mut f = crate::server::store::courses::tests::course_fields(&format!("K{i:05}"));
        f.title = format!("An introduction to the history of mathematics, part {i}");
        s.create_course(&f, 0).unwrap();
    }
    let (rows, total, capped) = s.courses_to_attach(g.id, "ntro", 1, 50).unwrap();
    assert_eq!((rows.len(), total, capped), (50, TOTAL_CAP, true));
    let long = "history of mathematics, part 1017";
    assert!(long.chars().count() > SUFFIX_MAX);
    let (rows, total, capped) = s.courses_to_attach(g.id, long, 1, 50).unwrap();
    assert_eq!((total, capped), (1, false));
    assert_eq!(rows[0].code, "K01017");
}
