//! The sled backend's Reports (the interface: `crate::server::store::reports`).

pub(crate) use crate::server::store::reports::*;

#[allow(unused_imports)]
use crate::server::store::prelude::*;

use super::codec::{id_key, read_id};
use super::courses::CourseRecord;
use super::enrolments::derive_progress;
use super::groups::RowPage;
use super::{SledStore, StoreError};
use crate::model::report::{
    GroupReportView, LearnerReportRow, ReportCell, ReportFilter, ReportGroupRow, ReportRow,
    StatusCounts,
};
use std::collections::HashMap;

impl Reports for SledStore {
    fn report_plan(&self, group: u64, filter: ReportFilter) -> Result<ReportPlan, StoreError> {
        let g = self
            .get_group(group)?
            .ok_or(StoreError::NotFound("group"))?;
        Ok(ReportPlan::new(
            g,
            self.group_course_records(group)?,
            filter,
        ))
    }

    fn walk_report(
        &self,
        plan: &ReportPlan,
        f: &mut dyn FnMut(u64, Vec<ReportCell>) -> Result<bool, StoreError>,
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

    fn report_row(&self, user: u64, cells: Vec<ReportCell>) -> Result<ReportRow, StoreError> {
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

    fn group_report(
        &self,
        group: u64,
        filter: ReportFilter,
        page: u32,
        per_page: u32,
    ) -> Result<GroupReportView, StoreError> {
        let plan = self.report_plan(group, filter)?;
        let mut tally = ReportTally::new(&plan, page, per_page);
        self.walk_report(&plan, &mut |user, cells| {
            tally.add(user, &cells);
            Ok(true)
        })?;
        tally.view(|user, cells| self.report_row(user, cells))
    }

    fn group_completion(&self, group: u64) -> Result<(u32, StatusCounts), StoreError> {
        let plan = self.report_plan(group, ReportFilter::default())?;
        let mut overall = StatusCounts::default();
        self.walk_report(&plan, &mut |_, cells| {
            cells.iter().for_each(|c| overall.add(c));
            Ok(true)
        })?;
        Ok((plan.courses.len() as u32, overall))
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

impl SledStore {
    /// `user`'s cell in each of `courses` (indexed by `index`): a range scan of their
    /// enrolments, then of their progress.
    pub(crate) fn cells_of(
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
                    let p = self.progress.decode(&k, &v)?;
                    cells[i] = Some(derive_progress(&courses[i].lessons, Some(&p)));
                }
            }
        }
        Ok(cells)
    }
}
