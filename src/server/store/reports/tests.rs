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
