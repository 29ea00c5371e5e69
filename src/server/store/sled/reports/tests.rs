//! The sled backend's own tests: what only sled has (its trees, its files, damage written
//! under the store).

#[allow(unused_imports)]
use crate::server::store::enrolments::tests_support::plain_group as group;
use crate::server::store::reports::tests::{counts, course, logins, prog, ACTOR};
#[allow(unused_imports)]
use crate::server::store::sled::test_prelude::*;

/// Three courses (A with two lessons, B with one, C with none; B and C through a curriculum,
/// B also directly), three members and an outsider; every number worked out by hand.
#[test]
fn a_report_adds_up_as_worked_out_by_hand() {
    let (_dir, s) = sled_temp_store();
    let g = group(&s, "Physics");
    let (a, a_lessons) = course(&s, "A", 2);
    let (b, b_lessons) = course(&s, "B", 1);
    let (c, _) = course(&s, "C", 0);
    s.link_group_course(ACTOR, g, a, true).unwrap();
    s.link_group_course(ACTOR, g, b, true).unwrap();
    let cur = s.create_curriculum("Bundle", "", 0).map(|v| v.id).unwrap();
    for id in [b, c] {
        s.change_curriculum(cur, CurriculumChange::Add(id)).unwrap();
    }
    s.link_group_curriculum(ACTOR, g, cur, true).unwrap();
    let (u1, u2, u3, out) = (
        learner(&s, "ann"),
        learner(&s, "bob"),
        learner(&s, "cyd"),
        learner(&s, "out"),
    );
    for u in [u1, u2, u3] {
        s.add_member(ACTOR, g, u, JoinedHow::Manual).unwrap();
    }
    // ann: A half done, B completed at 5000.
    s.enrol(u1, a, Source::Manual, 1).unwrap();
    s.mark_lesson(u1, a, a_lessons[0], true, 2000).unwrap();
    s.enrol(u1, b, Source::Manual, 1).unwrap();
    s.mark_lesson(u1, b, b_lessons[0], true, 5000).unwrap();
    // bob: A and C not started, not enrolled in B.
    s.enrol(u2, a, Source::Manual, 1).unwrap();
    s.enrol(u2, c, Source::Manual, 1).unwrap();
    // cyd: progress in A kept after being unenrolled: not enrolled.
    s.enrol(u3, a, Source::Manual, 1).unwrap();
    s.mark_lesson(u3, a, a_lessons[0], true, 3000).unwrap();
    s.unenrol(u3, a, false).unwrap();
    // An outsider's completion counts nowhere.
    s.enrol(out, a, Source::Manual, 1).unwrap();
    for l in &a_lessons {
        s.mark_lesson(out, a, *l, true, 4000).unwrap();
    }

    let r = s.group_report(g, ReportFilter::default(), 1, 20).unwrap();
    assert_eq!(r.members, 3);
    let codes: Vec<&str> = r.courses.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(
        codes,
        vec!["A", "B", "C"],
        "own courses, then the curriculum's, once each"
    );
    assert_eq!(r.courses[0].counts, counts(1, 1, 0, 1));
    assert_eq!(r.courses[1].counts, counts(0, 0, 1, 2));
    assert_eq!(r.courses[2].counts, counts(1, 0, 0, 2));
    assert_eq!(
        r.courses
            .iter()
            .map(|c| c.counts.rate())
            .collect::<Vec<_>>(),
        vec![0, 100, 0]
    );
    assert_eq!(r.overall, counts(2, 1, 1, 5));
    assert_eq!(r.overall.rate(), 25);
    assert_eq!(r.shown, vec![0, 1, 2]);
    assert_eq!(logins(&r), vec!["ann", "bob", "cyd"]);
    assert_eq!(
        r.rows.rows[0].cells,
        vec![prog(1, 2, None), prog(1, 1, Some(5000)), None]
    );
    assert_eq!(r.rows.rows[0].display_name, "ann");
    assert_eq!(
        r.rows.rows[1].cells,
        vec![prog(0, 2, None), None, prog(0, 0, None)]
    );
    assert_eq!(r.rows.rows[2].cells, vec![None, None, None]);
    assert_eq!(r.rows.total, 3);

    // Filters: a status anywhere in the shown columns; one course's column.
    let f = |status: &str, course: &str| ReportFilter::parse(status, course);
    let done = s.group_report(g, f("completed", ""), 1, 20).unwrap();
    assert_eq!((logins(&done), done.rows.total), (vec!["ann"], 1));
    assert_eq!(done.overall, r.overall, "counts ignore the filter");
    let b_missing = s
        .group_report(g, f("not_enrolled", &b.to_string()), 1, 20)
        .unwrap();
    assert_eq!(logins(&b_missing), vec!["bob", "cyd"]);
    assert_eq!(b_missing.shown, vec![1]);
    assert_eq!(b_missing.rows.rows[0].cells, vec![None]);
    let only_c = s.group_report(g, f("", &c.to_string()), 1, 20).unwrap();
    assert_eq!(only_c.rows.rows[1].cells, vec![prog(0, 0, None)]);
    // Paging counts the matching rows.
    let p2 = s.group_report(g, ReportFilter::default(), 2, 2).unwrap();
    assert_eq!(
        (logins(&p2), p2.rows.total, p2.rows.page),
        (vec!["cyd"], 3, 2)
    );

    assert_eq!(
        s.group_completion(g).unwrap(),
        (r.courses.len() as u32, r.overall)
    );
    let (rows, total, _) = s.report_groups("phys", 1, 20).unwrap();
    assert_eq!(
        (rows.len(), total, rows[0].overall.map(|o| o.rate())),
        (1, 1, Some(25))
    );
    // The list counts every course the group gives, its curricula's included.
    assert_eq!(rows[0].courses, r.courses.len() as u32);
    assert!(matches!(
        s.group_report(999, ReportFilter::default(), 1, 20),
        Err(StoreError::NotFound("group"))
    ));

    // ann across her groups: the group's courses with her cells, and a course of her own.
    let (d, _) = course(&s, "D", 1);
    s.enrol(u1, d, Source::Manual, 1).unwrap();
    let mine = s.learner_report(u1).unwrap();
    let view: Vec<(&str, Vec<String>, ReportCell)> = mine
        .iter()
        .map(|r| (r.code.as_str(), r.groups.clone(), r.cell.clone()))
        .collect();
    let physics = || vec!["Physics".to_string()];
    assert_eq!(
        view,
        vec![
            ("A", physics(), prog(1, 2, None)),
            ("B", physics(), prog(1, 1, Some(5000))),
            ("C", physics(), None),
            ("D", vec![], prog(0, 1, None)),
        ]
    );
    assert!(matches!(
        s.learner_report(999),
        Err(StoreError::NotFound("user"))
    ));
}
