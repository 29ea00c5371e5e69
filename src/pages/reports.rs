//! `/reports`: every group with its members, courses and completion rate, a page at a time,
//! each leading to the group's Report tab (administrators).

use crate::api::reports::report_groups;
use crate::components::data_table::DataTable;
use crate::components::layout::{show, Access, Page};
use crate::components::url::{query_page, query_text};
use crate::components::widgets::SearchForm;
use crate::model::number::count;
use crate::model::report::{ReportGroupRow, LIST_COMPLETION_MAX_MEMBERS};
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn ReportsPage() -> impl IntoView {
    view! {
        <Page title="Reports" access=Access::Admin>
            <ReportsList />
        </Page>
    }
}

#[component]
fn ReportsList() -> impl IntoView {
    let q = query_text("q");
    let page = query_page();
    let rows = Resource::new(move || (q(), page()), |(q, p)| report_groups(q, p));
    view! {
        <div class="page-head">
            <h1>"Reports"</h1>
        </div>
        <p class="lead">"Completion is the share of the members' enrolments in the group's courses that are completed."</p>
        <SearchForm action="/reports".into() param="q" label="Search groups" placeholder="Any part of a name…" value=q() id="reports-q" />
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                show(rows.await, move |p| view! {
                    <DataTable
                        noun="groups"
                        caption="Groups with their completion"
                        base="/reports"
                        query=q()
                        page=p
                        head=|| view! {
                            <th scope="col">"Group"</th>
                            <th scope="col">"Members"</th>
                            <th scope="col">"Courses"</th>
                            <th scope="col">"Completed enrolments"</th>
                            <th scope="col">"Completion rate"</th>
                        }
                        row=|g: ReportGroupRow| view! {
                            <tr>
                                <td><A href=format!("/groups/{}?tab=report", g.id)>{g.name.clone()}</A></td>
                                <td class="num">{count(g.members)}</td>
                                <td class="num">{count(u64::from(g.courses))}</td>
                                {match g.overall {
                                    Some(o) => view! {
                                        <td class="num">{format!("{} of {}", count(o.completed), count(o.enrolled()))}</td>
                                        <td class="num">{format!("{} %", o.rate())}</td>
                                    }.into_any(),
                                    None => view! {
                                        <td colspan="2">
                                            <A href=format!("/groups/{}?tab=report", g.id)>"On its report"</A>
                                            <span class="muted">{format!(" (over {LIST_COMPLETION_MAX_MEMBERS} members)")}</span>
                                        </td>
                                    }.into_any(),
                                }}
                            </tr>
                        }
                    />
                })
            })}
        </Transition>
    }
}
