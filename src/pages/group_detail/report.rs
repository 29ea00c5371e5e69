//! The Report tab: every member × every course of the group with status, progress and
//! completion date; completion per course and overall as a chart and a table; filters by status
//! and course (a GET form: works without JavaScript), pages, and the CSV download.

use super::*;
use crate::components::chart::ReportChart;
use crate::components::pager::urlencode;
use crate::model::report::{
    cell_label, cell_percent, GroupReportView, ReportCell, ReportRow, StatusFilter,
};
use leptos::either::Either;
use std::sync::Arc;

/// A member's cell: status in words, then progress and completion date. `course` (the
/// column's course code) labels the cell when a phone shows the row as a card.
fn cell_view(cell: ReportCell, course: Arc<str>) -> impl IntoView {
    match cell {
        None => Either::Left(
            view! { <td role="cell" data-label=course><span class="muted">{cell_label(&None)}</span></td> },
        ),
        Some(p) => {
            let label = p.status.label();
            let class = match p.status {
                crate::model::catalog::ProgressStatus::Completed => "status status-completed",
                crate::model::catalog::ProgressStatus::InProgress => "status status-in-progress",
                crate::model::catalog::ProgressStatus::NotStarted => "status status-not-started",
            };
            Either::Right(view! {
                <td role="cell" data-label=course>
                    <span class=class>{label}</span>
                    " "
                    <span class="cell-detail">
                        {format!("{} %", cell_percent(&p))}
                        {p.completed_at.map(|at| format!(" · {}", date(at)))}
                    </span>
                </td>
            })
        }
    }
}

#[component]
pub(super) fn ReportTab(id: u64, status: String, course: String) -> impl IntoView {
    let GroupCtx { report, .. } = expect_context();
    view! {
        <section class="panel" aria-labelledby="report-title">
            <h2 id="report-title">"Report"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || {
                    let (status, course) = (status.clone(), course.clone());
                    Suspend::new(async move {
                        crate::components::layout::past_dry_run().await;
                        match load(report).await {
                            Ok(Some(r)) => view! { <ReportBody id r status course /> }.into_any(),
                            Ok(None) => view! { <p class="loading">"…"</p> }.into_any(),
                            Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                        }
                    })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn ReportBody(id: u64, r: GroupReportView, status: String, course: String) -> impl IntoView {
    let mut csv = format!("/groups/{id}/report.csv");
    let filters: Vec<(&str, &String)> = [("status", &status), ("course", &course)]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    for (i, (k, v)) in filters.iter().enumerate() {
        csv.push(if i == 0 { '?' } else { '&' });
        csv.push_str(&format!("{k}={}", urlencode(v)));
    }
    let selected_course: Option<u64> = course.parse().ok();
    let shown: Vec<(String, String)> = r
        .shown
        .iter()
        .map(|&i| (r.courses[i].code.clone(), r.courses[i].title.clone()))
        .collect();
    // Shared by every row's cells (a phone's card labels), not copied per cell.
    let codes: Vec<Arc<str>> = shown
        .iter()
        .map(|(code, _)| Arc::from(code.as_str()))
        .collect();
    let course_options = r
        .courses
        .iter()
        .map(|c| {
            view! {
                <option value=c.id.to_string() selected=selected_course == Some(c.id)>
                    {format!("{} — {}", c.code, c.title)}
                </option>
            }
        })
        .collect_view();
    let filtered = !status.is_empty() || !course.is_empty();
    view! {
        <dl class="facts">
            <div><dt>"Members"</dt><dd>{r.members}</dd></div>
            <div><dt>"Courses"</dt><dd>{r.courses.len()}</dd></div>
            <div><dt>"Overall completion"</dt><dd>{format!("{} %", r.overall.rate())}</dd></div>
            <div><dt>"Completed enrolments"</dt><dd>{format!("{} of {}", count(r.overall.completed), count(r.overall.enrolled()))}</dd></div>
        </dl>
        <ReportChart id="group-report-chart" group=r.group_name.clone() courses=r.courses.clone() overall=r.overall />
        <h3>"Members"</h3>
        <form method="get" action=format!("/groups/{id}") class="search report-filters" aria-label="Filter the report">
            <input type="hidden" name="tab" value="report" />
            <label for="report-status">"Status"</label>
            <select id="report-status" name="status">
                <option value="" selected=status.is_empty()>"Any status"</option>
                {StatusFilter::ALL
                    .into_iter()
                    .map(|s| view! { <option value=s.key() selected=status == s.key()>{s.label()}</option> })
                    .collect_view()}
            </select>
            <label for="report-course">"Course"</label>
            <select id="report-course" name="course">
                <option value="" selected=selected_course.is_none()>"All courses"</option>
                {course_options}
            </select>
            <button type="submit">"Apply filters"</button>
            {filtered.then(|| view! { <a href=format!("/groups/{id}?tab=report")>"Clear filters"</a> })}
        </form>
        <p>
            <a href=csv class="button" download="" rel="external">"Download CSV"</a>
            " "
            <span class="hint">"Every member matching the filters, with status, progress and completion date per course."</span>
        </p>
        <DataTable
            noun="members"
            caption="Members by course"
            base=format!("/groups/{id}")
            query=String::new()
            page=r.rows
            params=vec![("tab", "report".to_string()), ("status", status.clone()), ("course", course.clone())]
            empty=if filtered { "No member matches these filters." } else { "This group has no members yet." }
            class="report stack"
            head=move || view! {
                <th scope="col" role="columnheader">"Member"</th>
                {shown
                    .into_iter()
                    .map(|(code, title)| view! { <th scope="col" role="columnheader"><abbr title=title>{code}</abbr></th> })
                    .collect_view()}
            }
            row=move |row: ReportRow| view! {
                <tr role="row">
                    <th scope="row" role="rowheader">{row.login} " " <span class="muted cell-name">{row.display_name}</span></th>
                    {row.cells.into_iter().zip(codes.iter().cloned()).map(|(cell, code)| cell_view(cell, code)).collect_view()}
                </tr>
            }
        />
    }
}
