//! Reports: a group's members × courses, the groups with their completion, one learner's
//! courses.
//!
//! A group's report is for administrators and that group's managers (`Forbidden` for anyone
//! else, whether the group exists or not); the list of groups and a learner's report are for
//! administrators. Learners see their own progress on their own pages, not here.

use crate::model::report::{GroupReportView, LearnerReportRow, ReportGroupRow};
use crate::model::{AppError, Paged};
use leptos::prelude::*;

/// Page `page` (from 1) of group `id`'s report: every course with its counts over all members,
/// and the members with a cell of `status` (`not_started`, `in_progress`, `completed`,
/// `not_enrolled`; blank: all) among the columns shown (`course`: that course's only; blank:
/// all). Administrators and the group's managers; an unknown group is `NotFound` for admins.
#[server(endpoint = "group_report")]
pub async fn group_report(
    id: u64,
    status: String,
    course: String,
    page: u32,
) -> Result<GroupReportView, AppError> {
    crate::server::session_guards::require_group_reader(id).await?;
    let state = crate::server::state::app_state()?;
    let filter = crate::model::report::ReportFilter::parse(&status, &course);
    let per_page = crate::model::user::PER_PAGE;
    let _turn = state.report_turn().await?;
    state
        .read(move |s| s.group_report(id, filter, page, per_page))
        .await
}

/// A page (from 1) of groups by name (`query` matches any part of it), each with its member
/// count and completion rate, computed for this page's groups only (administrators).
#[server(endpoint = "report_groups")]
pub async fn report_groups(query: String, page: u32) -> Result<Paged<ReportGroupRow>, AppError> {
    crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    let per_page = crate::model::user::PER_PAGE;
    let _turn = state.report_turn().await?;
    let (rows, total, capped) = state
        .read(move |s| s.report_groups(&query, page, per_page))
        .await?;
    Ok(super::paged(rows, total, capped, page))
}

/// User `id`'s courses across all their groups (and any other course they are enrolled in),
/// with status and progress (administrators). Unknown user: `NotFound`.
#[server(endpoint = "learner_report")]
pub async fn learner_report(id: u64) -> Result<Vec<LearnerReportRow>, AppError> {
    crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    state.read(move |s| s.learner_report(id)).await
}
