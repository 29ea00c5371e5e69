//! Reports: a group's members × courses with status and progress, the groups with their
//! completion, one learner's courses across their groups. Read-only; no trees of its own.
//!
//! Cells are derived, never stored: from `enrolments` (user ++ course) and `progress`
//! (user ++ course) and the course's current lessons, as `derive_progress` does for a learner's
//! own page. Aggregates need every member, so each member costs two range scans over their own
//! keys (their enrolments, then their progress), never a point get per course.

use crate::server::store::StoreError;

use super::courses::CourseRecord;
use super::groups::list::GroupLists;
use super::groups::{GroupRecord, RowPage};
use crate::model::group::GroupSort;
use crate::model::report::{
    GroupReportView, LearnerReportRow, ReportCell, ReportCourse, ReportFilter, ReportGroupRow,
    ReportRow, StatusCounts, StatusFilter, LIST_COMPLETION_MAX_MEMBERS,
};
use crate::model::Paged;
use std::collections::HashMap;

/// What a report reads: the group, its courses (with their lessons) and which of them are
/// shown, worked out once before walking the members.
pub struct ReportPlan {
    pub group: GroupRecord,
    pub courses: Vec<CourseRecord>,
    /// Course id → index in `courses`.
    pub(crate) index: HashMap<u64, usize>,
    /// Indexes into `courses` of the columns shown.
    pub shown: Vec<usize>,
    pub status: Option<StatusFilter>,
}

impl ReportPlan {
    pub(crate) fn new(
        group: GroupRecord,
        courses: Vec<CourseRecord>,
        filter: ReportFilter,
    ) -> ReportPlan {
        let index: HashMap<u64, usize> =
            courses.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
        // A course that is not the group's (a stale link) filters nothing away.
        let shown = match filter.course.and_then(|c| index.get(&c)) {
            Some(&i) => vec![i],
            None => (0..courses.len()).collect(),
        };
        ReportPlan {
            group,
            courses,
            index,
            shown,
            status: filter.status,
        }
    }

    /// Whether a member with these cells (one per course) is a row of the report.
    pub fn matches(&self, cells: &[ReportCell]) -> bool {
        self.status
            .is_none_or(|s| self.shown.iter().any(|&i| s.matches(&cells[i])))
    }

    /// The shown cells of a member's cells.
    pub fn shown_cells(&self, cells: &[ReportCell]) -> Vec<ReportCell> {
        self.shown.iter().map(|&i| cells[i].clone()).collect()
    }
}

/// What a report page adds up while its plan's members are walked, the same on every backend:
/// counts per course and overall over every member, and the page's members among those the
/// filter matches.
pub struct ReportTally<'a> {
    plan: &'a ReportPlan,
    skip: usize,
    take: usize,
    page: u32,
    per_page: u32,
    counts: Vec<StatusCounts>,
    overall: StatusCounts,
    members: u64,
    matched: u64,
    page_cells: Vec<(u64, Vec<ReportCell>)>,
}

impl<'a> ReportTally<'a> {
    /// A tally for page `page` (from 1) of `per_page` rows (1 to 100) of `plan`'s report.
    pub fn new(plan: &'a ReportPlan, page: u32, per_page: u32) -> ReportTally<'a> {
        let per_page = per_page.clamp(1, 100);
        let page = page.max(1);
        ReportTally {
            plan,
            skip: (page as usize - 1) * per_page as usize,
            take: per_page as usize,
            page,
            per_page,
            counts: vec![StatusCounts::default(); plan.courses.len()],
            overall: StatusCounts::default(),
            members: 0,
            matched: 0,
            page_cells: Vec::new(),
        }
    }

    /// Adds the next member (in user-id order) with their cell in every course of the plan.
    pub fn add(&mut self, user: u64, cells: &[ReportCell]) {
        self.members += 1;
        for (c, cell) in self.counts.iter_mut().zip(cells) {
            c.add(cell);
            self.overall.add(cell);
        }
        if self.plan.matches(cells) {
            if self.matched as usize >= self.skip && self.page_cells.len() < self.take {
                self.page_cells.push((user, self.plan.shown_cells(cells)));
            }
            self.matched += 1;
        }
    }

    /// The report, each of the page's members made a row by `row` (see [`Reports::report_row`]).
    pub fn view(
        self,
        mut row: impl FnMut(u64, Vec<ReportCell>) -> Result<ReportRow, StoreError>,
    ) -> Result<GroupReportView, StoreError> {
        let rows = self
            .page_cells
            .into_iter()
            .map(|(user, cells)| row(user, cells))
            .collect::<Result<Vec<_>, _>>()?;
        let plan = self.plan;
        let courses = plan
            .courses
            .iter()
            .zip(self.counts)
            .map(|(c, counts)| ReportCourse {
                id: c.id,
                code: c.code.clone(),
                title: c.title.clone(),
                counts,
            })
            .collect();
        Ok(GroupReportView {
            group_id: plan.group.id,
            group_name: plan.group.name.clone(),
            members: self.members,
            courses,
            shown: plan.shown.clone(),
            overall: self.overall,
            rows: Paged {
                rows,
                total: self.matched,
                total_is_capped: false,
                page: self.page,
                per_page: self.per_page,
            },
        })
    }
}

/// [`Reports::report_groups`] from the operations every backend has: the page of groups by
/// name, then each one's completion (none for a group over [`LIST_COMPLETION_MAX_MEMBERS`]; a
/// group deleted since the page was read is left out).
pub fn report_groups_via<S>(
    s: &S,
    query: &str,
    page: u32,
    per_page: u32,
) -> Result<RowPage<ReportGroupRow>, StoreError>
where
    S: Reports + GroupLists + ?Sized,
{
    let (groups, total, capped) =
        s.list_groups(query, GroupSort::Name, false, page, per_page, None)?;
    let mut rows = Vec::with_capacity(groups.len());
    for g in groups {
        let (courses, overall) = if g.members > LIST_COMPLETION_MAX_MEMBERS {
            match s.report_plan(g.id, ReportFilter::default()) {
                Ok(plan) => (plan.courses.len() as u32, None),
                Err(StoreError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            }
        } else {
            match s.group_completion(g.id) {
                Ok((courses, overall)) => (courses, Some(overall)),
                Err(StoreError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            }
        };
        rows.push(ReportGroupRow {
            id: g.id,
            name: g.name,
            members: g.members,
            courses,
            overall,
        });
    }
    Ok((rows, total, capped))
}

/// The store's operations on this area (see the contract in `store/mod.rs`).
pub trait Reports: Send + Sync {
    /// The plan of `group`'s report with `filter`: the group and the courses it gives (its own
    /// and its curricula's, each once). Unknown group: `NotFound`.
    fn report_plan(&self, group: u64, filter: ReportFilter) -> Result<ReportPlan, StoreError>;

    /// Walks every member of the plan's group in user-id order, calling `f(user, cells)` with
    /// their cell in every course of the plan (not only the shown ones) until it returns
    /// `Ok(false)`. Holds one member's cells at a time.
    fn walk_report(
        &self,
        plan: &ReportPlan,
        f: &mut dyn FnMut(u64, Vec<ReportCell>) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError>;

    /// A member's row of a report, with their login and name (`#id` for a user gone).
    fn report_row(&self, user: u64, cells: Vec<ReportCell>) -> Result<ReportRow, StoreError>;

    /// Page `page` (from 1) of `group`'s report with `filter`: counts per course and overall
    /// over every member whatever the filter; rows of the members with a shown cell of the
    /// filter's status (every member without one), in user-id order. Unknown group:
    /// `NotFound`.
    fn group_report(
        &self,
        group: u64,
        filter: ReportFilter,
        page: u32,
        per_page: u32,
    ) -> Result<GroupReportView, StoreError>;

    /// The courses `group` gives (its curricula's included) and every cell of its members
    /// together (the Reports page's completion).
    fn group_completion(&self, group: u64) -> Result<(u32, StatusCounts), StoreError>;

    /// A page (from 1) of groups by name, `query` matching any part of the name, each with its
    /// completion, worked out for this page's groups only, and only for groups of at most
    /// [`LIST_COMPLETION_MAX_MEMBERS`] (a larger one's completion is on its own report): the
    /// page reads at most 20 × that many members, whatever the size of the school.
    fn report_groups(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<RowPage<ReportGroupRow>, StoreError>;

    /// `user`'s courses: every course their groups give (in the groups' order, with the
    /// groups' names), then any other course they are enrolled in; each with their cell.
    /// Unknown user: `NotFound`.
    fn learner_report(&self, user: u64) -> Result<Vec<LearnerReportRow>, StoreError>;
}

#[cfg(test)]
pub(crate) mod tests;
