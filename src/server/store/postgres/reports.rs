//! The PostgreSQL backend's Reports (the interface, its plan and its tally: `store/reports.rs`;
//! the behaviour: `sled/reports.rs`). Read-only, no tables of its own: a member's cells are
//! derived from `enrolments` and `progress_done` with the courses' current lessons, as
//! `derive_progress` does for a learner's own page.
//!
//! A report walks the group's members in batches of [`WALK_BATCH`] by keyset on
//! `group_members`' primary key (`user_id > last`), and reads each batch's enrolments and
//! lessons done in the plan's courses with one query each over their primary keys: every query
//! is bounded and index-backed, whatever the size of the group (`explain.sql` shows the plans).
//!
//! Isolation: a report page and the completion of a group (counts over every member with the
//! page's rows) read one `REPEATABLE READ` snapshot, so the page's rows and its totals agree.
//! [`Reports::walk_report`] (the export, which hands each member to a caller that may be slow)
//! reads each batch in a `READ COMMITTED` transaction of its own and calls the caller between
//! them, holding no transaction or connection while it works.

use super::groups::links::{course_records, group_courses};
use super::{groups, PgError, PgStore};
use crate::model::report::{
    GroupReportView, LearnerReportRow, ReportCell, ReportFilter, ReportGroupRow, ReportRow,
    StatusCounts,
};
use crate::server::store::courses::CourseRecord;
use crate::server::store::enrolments::{derive_progress, ProgressRecord};
use crate::server::store::groups::RowPage;
use crate::server::store::reports::*;
use crate::server::store::StoreError;
use postgres::Transaction;
use std::collections::HashMap;

/// Members read per batch of a walk.
pub(crate) const WALK_BATCH: usize = 500;

/// Inside a transaction: the plan of `group`'s report (`NotFound` for a group that is not).
fn plan(t: &mut Transaction<'_>, group: u64, filter: ReportFilter) -> Result<ReportPlan, PgError> {
    let g = groups::must(t, group, false)?;
    let courses = group_courses(t, group)?;
    Ok(ReportPlan::new(g, courses, filter))
}

/// Inside a transaction: the cells of each of `users` (in that order) in each of `courses`
/// (`index`: course id → its place): two queries over the batch, whatever its size.
fn cells_of(
    t: &mut Transaction<'_>,
    users: &[i64],
    courses: &[CourseRecord],
    index: &HashMap<u64, usize>,
) -> Result<Vec<Vec<ReportCell>>, PgError> {
    let mut cells: Vec<Vec<ReportCell>> = vec![vec![None; courses.len()]; users.len()];
    if users.is_empty() || courses.is_empty() {
        return Ok(cells);
    }
    let place: HashMap<i64, usize> = users.iter().enumerate().map(|(i, u)| (*u, i)).collect();
    let course_ids: Vec<i64> = courses.iter().map(|c| c.id as i64).collect();
    let mut done: HashMap<(usize, usize), Vec<(u64, u64)>> = HashMap::new();
    for r in t.query(
        "SELECT user_id, course_id FROM enrolments WHERE user_id = ANY($1) AND course_id = ANY($2)",
        &[&users, &course_ids],
    )? {
        let (u, c) = (r.get::<_, i64>(0), r.get::<_, i64>(1) as u64);
        if let (Some(&ui), Some(&ci)) = (place.get(&u), index.get(&c)) {
            done.insert((ui, ci), Vec::new());
        }
    }
    if done.is_empty() {
        return Ok(cells);
    }
    for r in t.query(
        "SELECT user_id, course_id, lesson_id, done_at_ms FROM progress_done \
         WHERE user_id = ANY($1) AND course_id = ANY($2) ORDER BY user_id, course_id, position",
        &[&users, &course_ids],
    )? {
        let (u, c) = (r.get::<_, i64>(0), r.get::<_, i64>(1) as u64);
        if let (Some(&ui), Some(&ci)) = (place.get(&u), index.get(&c)) {
            // Progress of a course not enrolled in (kept after unenrolling) is no cell.
            if let Some(list) = done.get_mut(&(ui, ci)) {
                list.push((r.get::<_, i64>(2) as u64, r.get::<_, i64>(3) as u64));
            }
        }
    }
    for ((ui, ci), list) in done {
        let p = ProgressRecord {
            done: list,
            history: Vec::new(),
        };
        cells[ui][ci] = Some(derive_progress(&courses[ci].lessons, Some(&p)));
    }
    Ok(cells)
}

/// Inside a transaction: the next members of the plan's group after `after` (`-1`: from the
/// start), at most [`WALK_BATCH`], each with their cells.
fn batch(
    t: &mut Transaction<'_>,
    plan: &ReportPlan,
    after: i64,
) -> Result<Vec<(u64, Vec<ReportCell>)>, PgError> {
    let users: Vec<i64> = t
        .query(
            "SELECT user_id FROM group_members WHERE group_id = $1 AND user_id > $2 \
             ORDER BY user_id LIMIT $3",
            &[&(plan.group.id as i64), &after, &(WALK_BATCH as i64)],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let cells = cells_of(t, &users, &plan.courses, &plan.index)?;
    Ok(users.into_iter().map(|u| u as u64).zip(cells).collect())
}

/// Inside a transaction: every member of the plan's group in user-id order with their cells,
/// batch by batch, to `each`.
fn walk_all(
    t: &mut Transaction<'_>,
    plan: &ReportPlan,
    mut each: impl FnMut(u64, &[ReportCell]),
) -> Result<(), PgError> {
    let mut after = -1i64;
    loop {
        let rows = batch(t, plan, after)?;
        let Some((last, _)) = rows.last() else {
            return Ok(());
        };
        after = *last as i64;
        let full = rows.len() == WALK_BATCH;
        for (user, cells) in &rows {
            each(*user, cells);
        }
        if !full {
            return Ok(());
        }
    }
}

/// Inside a transaction: a member's row (`#id` and no name for a user gone).
fn row_of(
    t: &mut Transaction<'_>,
    user: u64,
    cells: Vec<ReportCell>,
) -> Result<ReportRow, PgError> {
    let (login, display_name) = t
        .query_opt(
            "SELECT login, display_name FROM users WHERE id = $1",
            &[&(user as i64)],
        )?
        .map_or_else(
            || (format!("#{user}"), String::new()),
            |r| (r.get(0), r.get(1)),
        );
    Ok(ReportRow {
        user_id: user,
        login,
        display_name,
        cells,
    })
}

impl Reports for PgStore {
    fn report_plan(&self, group: u64, filter: ReportFilter) -> Result<ReportPlan, StoreError> {
        self.page_tx(|t| plan(t, group, filter))
    }

    fn walk_report(
        &self,
        plan: &ReportPlan,
        f: &mut dyn FnMut(u64, Vec<ReportCell>) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let mut after = -1i64;
        loop {
            let rows = self.read_tx(|t| batch(t, plan, after))?;
            let full = rows.len() == WALK_BATCH;
            for (user, cells) in rows {
                after = user as i64;
                if !f(user, cells)? {
                    return Ok(());
                }
            }
            if !full {
                return Ok(());
            }
        }
    }

    fn report_row(&self, user: u64, cells: Vec<ReportCell>) -> Result<ReportRow, StoreError> {
        self.read_tx(|t| row_of(t, user, cells.clone()))
    }

    fn group_report(
        &self,
        group: u64,
        filter: ReportFilter,
        page: u32,
        per_page: u32,
    ) -> Result<GroupReportView, StoreError> {
        self.page_tx(|t| {
            let plan = plan(t, group, filter)?;
            let mut tally = ReportTally::new(&plan, page, per_page);
            walk_all(t, &plan, |user, cells| tally.add(user, cells))?;
            Ok(tally.view(|user, cells| Ok(row_of(t, user, cells)?))?)
        })
    }

    fn group_completion(&self, group: u64) -> Result<(u32, StatusCounts), StoreError> {
        self.page_tx(|t| {
            let plan = plan(t, group, ReportFilter::default())?;
            let mut overall = StatusCounts::default();
            walk_all(t, &plan, |_, cells| {
                cells.iter().for_each(|c| overall.add(c))
            })?;
            Ok((plan.courses.len() as u32, overall))
        })
    }

    fn report_groups(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<RowPage<ReportGroupRow>, StoreError> {
        report_groups_via(self, query, page, per_page)
    }

    fn learner_report(&self, user: u64) -> Result<Vec<LearnerReportRow>, StoreError> {
        let u = user as i64;
        self.page_tx(|t| {
            if t.query_opt("SELECT 1 FROM users WHERE id = $1", &[&u])?
                .is_none()
            {
                return Err(StoreError::NotFound("user").into());
            }
            // The user's groups by name (ties by id), as sled sorts them.
            let mut named: Vec<(String, u64)> = t
                .query(
                    "SELECT g.name, g.id FROM group_members m JOIN groups g ON g.id = m.group_id \
                     WHERE m.user_id = $1 AND g.deleted_at_ms IS NULL",
                    &[&u],
                )?
                .iter()
                .map(|r| (r.get(0), r.get::<_, i64>(1) as u64))
                .collect();
            named.sort();
            let mut courses: Vec<CourseRecord> = Vec::new();
            let mut groups: Vec<Vec<String>> = Vec::new();
            let mut index: HashMap<u64, usize> = HashMap::new();
            for (name, g) in named {
                for c in group_courses(t, g)? {
                    let i = *index.entry(c.id).or_insert_with(|| {
                        courses.push(c);
                        groups.push(Vec::new());
                        courses.len() - 1
                    });
                    groups[i].push(name.clone());
                }
            }
            let others: Vec<u64> = t
                .query(
                    "SELECT course_id FROM enrolments WHERE user_id = $1 ORDER BY course_id",
                    &[&u],
                )?
                .iter()
                .map(|r| r.get::<_, i64>(0) as u64)
                .filter(|c| !index.contains_key(c))
                .collect();
            for c in course_records(t, &others)? {
                index.insert(c.id, courses.len());
                courses.push(c);
                groups.push(Vec::new());
            }
            let cells = cells_of(t, &[u], &courses, &index)?
                .pop()
                .unwrap_or_default();
            Ok(courses
                .into_iter()
                .zip(groups)
                .zip(cells)
                .map(|((c, groups), cell)| LearnerReportRow {
                    course_id: c.id,
                    code: c.code,
                    title: c.title,
                    groups,
                    cell,
                })
                .collect())
        })
    }
}
