use super::*;

use crate::model::catalog::{Progress, ProgressStatus};

use crate::model::group::JoinedHow;

use crate::server::store::courses::tests::{add_lesson, course_fields};

use crate::server::store::enrolments::tests_support::{learner, plain_group as group};

use crate::server::store::enrolments::Source;

use crate::server::store::groups::Actor;

#[allow(unused_imports)]
use crate::server::store::tests::prelude::*;

use proptest::prelude::*;

pub(crate) const ACTOR: Actor = Actor { user: 0, now: 1 };

pub(crate) fn course(s: &Store, code: &str, lessons: usize) -> (u64, Vec<u64>) {
    let id = s.create_course(&course_fields(code), 0).unwrap().id;
    let ls = (0..lessons)
        .map(|i| add_lesson(s, id, &format!("L{i}")))
        .collect();
    (id, ls)
}

pub(crate) fn prog(done: u32, total: u32, completed_at: Option<u64>) -> ReportCell {
    let status = match done {
        0 => ProgressStatus::NotStarted,
        d if d == total => ProgressStatus::Completed,
        _ => ProgressStatus::InProgress,
    };
    Some(Progress {
        done,
        total,
        status,
        completed_at,
    })
}

pub(crate) fn counts(
    not_started: u64,
    in_progress: u64,
    completed: u64,
    not_enrolled: u64,
) -> StatusCounts {
    StatusCounts {
        not_started,
        in_progress,
        completed,
        not_enrolled,
    }
}

pub(crate) fn logins(r: &GroupReportView) -> Vec<&str> {
    r.rows.rows.iter().map(|r| r.login.as_str()).collect()
}

/// A random group: courses with 0–3 lessons, members (and an outsider) with random enrolments
/// and lessons done.
#[derive(Debug, Clone)]
pub(crate) struct World {
    lessons: Vec<usize>,
    /// Per member (the last is not a member), per course: enrolled, and which lessons are done.
    people: Vec<Vec<(bool, Vec<bool>)>>,
    status: Option<usize>,
    course: Option<usize>,
    per_page: u32,
}

pub(crate) fn world() -> impl Strategy<Value = World> {
    (
        prop::collection::vec(0usize..4, 1..4),
        1usize..7,
        proptest::option::of(0usize..4),
        proptest::option::of(0usize..3),
        1u32..4,
    )
        .prop_flat_map(|(lessons, people, status, course, per_page)| {
            let row: Vec<_> = lessons
                .iter()
                .map(|&n| (any::<bool>(), prop::collection::vec(any::<bool>(), n)))
                .collect();
            (
                Just(lessons.clone()),
                prop::collection::vec(row, people),
                Just(status),
                Just(course.filter(|c| *c < lessons.len())),
                Just(per_page),
            )
        })
        .prop_map(|(lessons, people, status, course, per_page)| World {
            lessons,
            people,
            status,
            course,
            per_page,
        })
}

/// The model's cell: enrolled or not, lessons done of lessons.
pub(crate) fn model_cell(enrolled: bool, done: &[bool]) -> Option<(u32, u32)> {
    enrolled.then(|| {
        (
            done.iter().filter(|d| **d).count() as u32,
            done.len() as u32,
        )
    })
}

pub(crate) fn model_status(cell: Option<(u32, u32)>) -> StatusFilter {
    match cell {
        None => StatusFilter::NotEnrolled,
        Some((0, _)) => StatusFilter::NotStarted,
        Some((d, t)) if d == t => StatusFilter::Completed,
        Some(_) => StatusFilter::InProgress,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Every cell, every per-course count and rate, the overall counts and the filtered,
    /// paged rows are what a plain model of the same world says.
    #[test]
    fn reports_match_a_simple_model(w in world()) {
        let (_dir, s) = temp_store();
        let g = group(&s, "G");
        let courses: Vec<(u64, Vec<u64>)> = w
            .lessons
            .iter()
            .enumerate()
            .map(|(i, &n)| course(&s, &format!("C{i}"), n))
            .collect();
        for (c, _) in &courses {
            s.link_group_course(ACTOR, g, *c, true).unwrap();
        }
        let members = w.people.len() - 1;
        let mut users = Vec::new();
        for (p, row) in w.people.iter().enumerate() {
            let u = learner(&s, &format!("p{p}"));
            users.push(u);
            if p < members {
                s.add_member(ACTOR, g, u, JoinedHow::Manual).unwrap();
            }
            for ((enrolled, done), (c, lessons)) in row.iter().zip(&courses) {
                if *enrolled {
                    s.enrol(u, *c, Source::Manual, 1).unwrap();
                    for (d, l) in done.iter().zip(lessons) {
                        if *d {
                            s.mark_lesson(u, *c, *l, true, 10).unwrap();
                        }
                    }
                }
            }
        }
        let status = w.status.map(|i| StatusFilter::ALL[i]);
        let filter = ReportFilter { status, course: w.course.map(|i| courses[i].0) };
        let shown: Vec<usize> = match w.course {
            Some(i) => vec![i],
            None => (0..courses.len()).collect(),
        };
        // The model: cells of members, counts, matching rows.
        let cells: Vec<Vec<Option<(u32, u32)>>> = w.people[..members]
            .iter()
            .map(|row| row.iter().map(|(e, d)| model_cell(*e, d)).collect())
            .collect();
        let matching: Vec<usize> = (0..members)
            .filter(|&m| status.is_none_or(|s| shown.iter().any(|&i| model_status(cells[m][i]) == s)))
            .collect();
        let pages = (matching.len() as u32).div_ceil(w.per_page).max(1);
        for page in 1..=pages {
            let r = s.group_report(g, filter, page, w.per_page).unwrap();
            prop_assert_eq!(r.members, members as u64);
            prop_assert_eq!(&r.shown, &shown);
            prop_assert_eq!(r.rows.total, matching.len() as u64);
            let mut overall = (0u64, 0u64);
            for (i, c) in r.courses.iter().enumerate() {
                let statuses: Vec<StatusFilter> = cells.iter().map(|row| model_status(row[i])).collect();
                let n = |s: StatusFilter| statuses.iter().filter(|x| **x == s).count() as u64;
                prop_assert_eq!(c.counts, counts(
                    n(StatusFilter::NotStarted),
                    n(StatusFilter::InProgress),
                    n(StatusFilter::Completed),
                    n(StatusFilter::NotEnrolled),
                ));
                let enrolled = members as u64 - n(StatusFilter::NotEnrolled);
                let rate = (n(StatusFilter::Completed) * 100).checked_div(enrolled).unwrap_or(0);
                prop_assert_eq!(u64::from(c.counts.rate()), rate);
                overall.0 += n(StatusFilter::Completed);
                overall.1 += enrolled;
            }
            prop_assert_eq!((r.overall.completed, r.overall.enrolled()), overall);
            let start = ((page - 1) * w.per_page) as usize;
            let want: Vec<usize> = matching.iter().copied().skip(start).take(w.per_page as usize).collect();
            prop_assert_eq!(r.rows.rows.len(), want.len());
            for (row, &m) in r.rows.rows.iter().zip(&want) {
                prop_assert_eq!(row.user_id, users[m]);
                let got: Vec<Option<(u32, u32, StatusFilter)>> = row
                    .cells
                    .iter()
                    .map(|c| c.as_ref().map(|p| (p.done, p.total, model_status(Some((p.done, p.total))))))
                    .collect();
                let expected: Vec<Option<(u32, u32, StatusFilter)>> = shown
                    .iter()
                    .map(|&i| cells[m][i].map(|(d, t)| (d, t, model_status(Some((d, t))))))
                    .collect();
                prop_assert_eq!(got, expected);
                for (cell, &i) in row.cells.iter().zip(&shown) {
                    prop_assert_eq!(
                        model_status(cell.as_ref().map(|p| (p.done, p.total))),
                        model_status(cells[m][i])
                    );
                    if let Some(p) = cell {
                        prop_assert_eq!(
                            p.status == ProgressStatus::Completed,
                            model_status(cells[m][i]) == StatusFilter::Completed
                        );
                        prop_assert_eq!(p.completed_at.is_some(), p.status == ProgressStatus::Completed && p.done > 0);
                    }
                }
            }
        }
    }
}

/// Three courses (A with two lessons, B with one, C with none; B and C through a curriculum,
/// B also directly), three members and an outsider; every number worked out by hand.
#[test]
fn a_report_adds_up_as_worked_out_by_hand() {
    let (_dir, s) = temp_store();
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

/// A group bigger than any batch a backend reads at once: the walk hands over every member
/// once, in user-id order, and stops when told; the report counts them all.
#[test]
fn a_walk_goes_over_every_member_in_order_and_stops_when_told() {
    let (_dir, s) = temp_store();
    let g = group(&s, "Big");
    let (c, lessons) = course(&s, "BIG", 1);
    s.link_group_course(ACTOR, g, c, true).unwrap();
    let n = 1_100;
    let mut users: Vec<u64> = (0..n)
        .map(|i| {
            let u = learner(&s, &format!("w{i}"));
            s.add_member(ACTOR, g, u, JoinedHow::Manual).unwrap();
            u
        })
        .collect();
    users.sort_unstable();
    // Every third member enrolled; every sixth done.
    for (i, u) in users.iter().enumerate() {
        if i % 3 == 0 {
            s.enrol(*u, c, Source::Manual, 1).unwrap();
            if i % 6 == 0 {
                s.mark_lesson(*u, c, lessons[0], true, 7).unwrap();
            }
        }
    }
    let plan = s.report_plan(g, ReportFilter::default()).unwrap();
    let mut seen = Vec::new();
    s.walk_report(&plan, &mut |u, cells| {
        assert_eq!(cells.len(), 1);
        seen.push(u);
        Ok(true)
    })
    .unwrap();
    assert_eq!(seen, users);
    let mut first = Vec::new();
    s.walk_report(&plan, &mut |u, _| {
        first.push(u);
        Ok(first.len() < 3)
    })
    .unwrap();
    assert_eq!(first, users[..3]);
    let third = (n as u64).div_ceil(3);
    let sixth = (n as u64).div_ceil(6);
    let r = s.group_report(g, ReportFilter::default(), 55, 20).unwrap();
    assert_eq!(r.members, n as u64);
    assert_eq!(
        r.courses[0].counts,
        counts(third - sixth, 0, sixth, n as u64 - third)
    );
    assert_eq!(
        r.rows.rows.iter().map(|r| r.user_id).collect::<Vec<_>>(),
        users[1_080..1_100]
    );
    assert_eq!(s.group_completion(g).unwrap(), (1, r.overall));
}
