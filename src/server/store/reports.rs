//! Reports: a group's members × courses with status and progress, the groups with their
//! completion, one learner's courses across their groups. Read-only; no trees of its own.
//!
//! Cells are derived, never stored: from `enrolments` (user ++ course) and `progress`
//! (user ++ course) and the course's current lessons, as `derive_progress` does for a learner's
//! own page. Aggregates need every member, so each member costs two range scans over their own
//! keys (their enrolments, then their progress), never a point get per course.

use super::codec::{self, id_key, read_id};
use super::courses::CourseRecord;
use super::enrolments::{derive_progress, ProgressRecord};
use super::groups::{GroupRecord, RowPage};
use super::{search, Store, StoreError};
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
    index: HashMap<u64, usize>,
    /// Indexes into `courses` of the columns shown.
    pub shown: Vec<usize>,
    pub status: Option<StatusFilter>,
}

impl ReportPlan {
    fn new(group: GroupRecord, courses: Vec<CourseRecord>, filter: ReportFilter) -> ReportPlan {
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

impl Store {
    /// The plan of `group`'s report with `filter`: the group and the courses it gives (its own
    /// and its curricula's, each once). Unknown group: `NotFound`.
    pub fn report_plan(&self, group: u64, filter: ReportFilter) -> Result<ReportPlan, StoreError> {
        let g = self
            .get_group(group)?
            .ok_or(StoreError::NotFound("group"))?;
        Ok(ReportPlan::new(
            g,
            self.group_course_records(group)?,
            filter,
        ))
    }

    /// `user`'s cell in each of `courses` (indexed by `index`): a range scan of their
    /// enrolments, then of their progress.
    fn cells_of(
        &self,
        user: u64,
        courses: &[CourseRecord],
        index: &HashMap<u64, usize>,
    ) -> Result<Vec<ReportCell>, StoreError> {
        let mut cells: Vec<ReportCell> = vec![None; courses.len()];
        let mut any = false;
        for item in self.enrolments.scan_prefix(id_key(user)) {
            let (k, _) = item?;
            let course = read_id("enrolments", &k, &k[8..])?;
            if let Some(&i) = index.get(&course) {
                cells[i] = Some(derive_progress(&courses[i].lessons, None));
                any = true;
            }
        }
        if !any {
            return Ok(cells);
        }
        for item in self.progress.scan_prefix(id_key(user)) {
            let (k, v) = item?;
            let course = read_id("progress", &k, &k[8..])?;
            if let Some(&i) = index.get(&course) {
                if cells[i].is_some() {
                    let p: ProgressRecord = codec::decode(&k, &v)?;
                    cells[i] = Some(derive_progress(&courses[i].lessons, Some(&p)));
                }
            }
        }
        Ok(cells)
    }

    /// Walks every member of the plan's group in user-id order, calling `f(user, cells)` with
    /// their cell in every course of the plan (not only the shown ones) until it returns
    /// `Ok(false)`. Holds one member's cells at a time.
    pub fn walk_report(
        &self,
        plan: &ReportPlan,
        mut f: impl FnMut(u64, Vec<ReportCell>) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        for item in self.group_members.scan_prefix(id_key(plan.group.id)) {
            let (k, _) = item?;
            let user = read_id("group_members", &k, &k[8..])?;
            if !f(user, self.cells_of(user, &plan.courses, &plan.index)?)? {
                break;
            }
        }
        Ok(())
    }

    /// A member's row of a report, with their login and name (`#id` for a user gone).
    pub fn report_row(&self, user: u64, cells: Vec<ReportCell>) -> Result<ReportRow, StoreError> {
        let (login, display_name) = match self.get_user(user)? {
            Some(u) => (u.login, u.display_name),
            None => (format!("#{user}"), String::new()),
        };
        Ok(ReportRow {
            user_id: user,
            login,
            display_name,
            cells,
        })
    }

    /// Page `page` (from 1) of `group`'s report with `filter`: counts per course and overall
    /// over every member whatever the filter; rows of the members with a shown cell of the
    /// filter's status (every member without one), in user-id order. Unknown group:
    /// `NotFound`.
    pub fn group_report(
        &self,
        group: u64,
        filter: ReportFilter,
        page: u32,
        per_page: u32,
    ) -> Result<GroupReportView, StoreError> {
        let plan = self.report_plan(group, filter)?;
        let (skip, take) = search::window(page, per_page);
        let mut counts = vec![StatusCounts::default(); plan.courses.len()];
        let mut overall = StatusCounts::default();
        let mut members = 0u64;
        let mut matched = 0u64;
        let mut page_cells = Vec::with_capacity(take);
        self.walk_report(&plan, |user, cells| {
            members += 1;
            for (c, cell) in counts.iter_mut().zip(&cells) {
                c.add(cell);
                overall.add(cell);
            }
            if plan.matches(&cells) {
                if matched as usize >= skip && page_cells.len() < take {
                    page_cells.push((user, plan.shown_cells(&cells)));
                }
                matched += 1;
            }
            Ok(true)
        })?;
        let rows = page_cells
            .into_iter()
            .map(|(user, cells)| self.report_row(user, cells))
            .collect::<Result<Vec<_>, _>>()?;
        let courses = plan
            .courses
            .iter()
            .zip(counts)
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
            members,
            courses,
            shown: plan.shown.clone(),
            overall,
            rows: Paged {
                rows,
                total: matched,
                total_is_capped: false,
                page: page.max(1),
                per_page: per_page.clamp(1, 100),
            },
        })
    }

    /// The courses `group` gives (its curricula's included) and every cell of its members
    /// together (the Reports page's completion).
    pub fn group_completion(&self, group: u64) -> Result<(u32, StatusCounts), StoreError> {
        let plan = self.report_plan(group, ReportFilter::default())?;
        let mut overall = StatusCounts::default();
        self.walk_report(&plan, |_, cells| {
            cells.iter().for_each(|c| overall.add(c));
            Ok(true)
        })?;
        Ok((plan.courses.len() as u32, overall))
    }

    /// A page (from 1) of groups by name, `query` matching any part of the name, each with its
    /// completion, worked out for this page's groups only, and only for groups of at most
    /// [`LIST_COMPLETION_MAX_MEMBERS`] (a larger one's completion is on its own report): the
    /// page reads at most 20 × that many members, whatever the size of the school.
    pub fn report_groups(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<RowPage<ReportGroupRow>, StoreError> {
        let (groups, total, capped) =
            self.list_groups(query, GroupSort::Name, false, page, per_page, None)?;
        let mut rows = Vec::with_capacity(groups.len());
        for g in groups {
            if g.members > LIST_COMPLETION_MAX_MEMBERS {
                rows.push(ReportGroupRow {
                    id: g.id,
                    name: g.name,
                    members: g.members,
                    courses: self
                        .report_plan(g.id, ReportFilter::default())?
                        .courses
                        .len() as u32,
                    overall: None,
                });
                continue;
            }
            let (courses, overall) = match self.group_completion(g.id) {
                Ok(o) => o,
                // Deleted since the page was read.
                Err(StoreError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            rows.push(ReportGroupRow {
                id: g.id,
                name: g.name,
                members: g.members,
                courses,
                overall: Some(overall),
            });
        }
        Ok((rows, total, capped))
    }

    /// `user`'s courses: every course their groups give (in the groups' order, with the
    /// groups' names), then any other course they are enrolled in; each with their cell.
    /// Unknown user: `NotFound`.
    pub fn learner_report(&self, user: u64) -> Result<Vec<LearnerReportRow>, StoreError> {
        self.get_user(user)?.ok_or(StoreError::NotFound("user"))?;
        let mut courses: Vec<CourseRecord> = Vec::new();
        let mut groups: Vec<Vec<String>> = Vec::new();
        let mut index: HashMap<u64, usize> = HashMap::new();
        let mut group_ids = self.groups_of_user(user)?;
        let mut named: Vec<(String, u64)> = Vec::with_capacity(group_ids.len());
        for g in group_ids.drain(..) {
            if let Some(rec) = self.get_group(g)? {
                named.push((rec.name, g));
            }
        }
        named.sort();
        for (name, g) in named {
            for c in self.group_course_records(g)? {
                let i = *index.entry(c.id).or_insert_with(|| {
                    courses.push(c);
                    groups.push(Vec::new());
                    courses.len() - 1
                });
                groups[i].push(name.clone());
            }
        }
        for item in self.enrolments.scan_prefix(id_key(user)) {
            let (k, _) = item?;
            let course = read_id("enrolments", &k, &k[8..])?;
            if index.contains_key(&course) {
                continue;
            }
            if let Some(c) = self.get_course(course)? {
                index.insert(course, courses.len());
                courses.push(c);
                groups.push(Vec::new());
            }
        }
        let cells = self.cells_of(user, &courses, &index)?;
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
    }
}

#[cfg(test)]
mod tests;
