//! `/activity`: every audit event across groups, newest first (administrators). Filters by who
//! did it, group, kind and days in a GET form (works without JavaScript, each field at fault
//! marked), "Newer" / "Older" pages, and the CSV download of everything the filters match.

use crate::api::activity::activity;
use crate::components::data_table::RowsTable;
use crate::components::field::Field;
use crate::components::layout::{show, Access, Page};
use crate::components::pager::urlencode;
use crate::components::url::query_text;
use crate::components::widgets::date_time;
use crate::model::activity::{ActivityList, ActivityQuery, ActivityRow, Place};
use crate::model::group::AuditAction;
use crate::model::AppError;
use leptos::prelude::*;

#[component]
pub fn ActivityPage() -> impl IntoView {
    view! {
        <Page title="Activity" access=Access::Admin>
            <ActivityBody />
        </Page>
    }
}

#[component]
fn ActivityBody() -> impl IntoView {
    const PARAMS: [&str; 7] = ["actor", "group", "kind", "from", "to", "before", "after"];
    let params = PARAMS.map(query_text);
    let query = move || {
        let values = params.map(|p| p());
        ActivityQuery::from_pairs(PARAMS.into_iter().zip(values.iter().map(String::as_str)))
    };
    let list = Resource::new(query, |q| {
        activity(q.actor, q.group, q.kind, q.from, q.to, q.before, q.after)
    });
    view! {
        <div class="page-head">
            <h1>"Activity"</h1>
        </div>
        <p class="lead">"Everything done to groups and their members, newest first: who did what, and when (times in UTC)."</p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let q = query();
                show(list.await, move |list| view! { <ActivityView q list /> })
            })}
        </Transition>
    }
}

/// `/activity` with `q`'s filters and `extra` (a place), as a link.
fn href(q: &ActivityQuery, extra: Option<(&str, String)>) -> String {
    let mut url = String::from("/activity");
    for (i, (k, v)) in q.filters().into_iter().chain(extra).enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        url.push_str(&format!("{k}={}", urlencode(&v)));
    }
    url
}

#[component]
fn ActivityView(q: ActivityQuery, list: ActivityList) -> impl IntoView {
    let filtered = !q.filters().is_empty();
    let paged = !(q.before.trim().is_empty() && q.after.trim().is_empty());
    let csv = href(&q, None).replacen("/activity", "/activity.csv", 1);
    let error = |field: &'static str| -> Signal<Option<AppError>> {
        Signal::stored(
            list.problems
                .iter()
                .find(|e| e.field() == Some(field))
                .cloned(),
        )
    };
    let kind_error = list.problem("kind");
    let table = if !list.problems.is_empty() {
        view! { <p class="empty-state">"Correct the filters marked above to see the events."</p> }
            .into_any()
    } else if list.rows.is_empty() {
        let text = match (list.searched_to, paged, filtered) {
            (Some(at), _, _) => format!(
                "No event matching these filters among those looked through so far (up to {}). The links below look further.",
                date_time(at)
            ),
            (None, true, _) => "No more events this way.".to_string(),
            (None, false, true) => "No event matches these filters.".to_string(),
            (None, false, false) => "Nothing has happened yet.".to_string(),
        };
        view! { <p class="empty-state">{text}</p> }.into_any()
    } else {
        view! {
            <RowsTable
                noun="events"
                caption="Activity"
                rows=list.rows.clone()
                class="activity-table"
                head=|| view! {
                    <th scope="col">"When"</th>
                    <th scope="col">"Who"</th>
                    <th scope="col">"Group"</th>
                    <th scope="col">"What happened"</th>
                }
                row=|r: ActivityRow| view! {
                    <tr>
                        <td class="when">{date_time(r.at)}</td>
                        <td>{r.actor.clone()}</td>
                        <td>
                            {match r.group.clone() {
                                Some(name) => view! { <a href=format!("/groups/{}", r.group_id)>{name}</a> }.into_any(),
                                None => view! { <span class="muted">{format!("Deleted group #{}", r.group_id)}</span> }.into_any(),
                            }}
                        </td>
                        <td class="detail"><strong>{r.action.label()}</strong><br />{r.detail.clone()}</td>
                    </tr>
                }
            />
        }
        .into_any()
    };
    let summary = match (list.rows.len(), list.searched_to) {
        (_, Some(at)) => format!(
            "Looked through the events up to {}; the links look further.",
            date_time(at)
        ),
        (1, None) => "1 event on this page".to_string(),
        (n, None) => format!("{n} events on this page"),
    };
    let newer = list
        .newer
        .map(|p: Place| href(&q, Some(("after", p.param()))));
    let older = list
        .older
        .map(|p: Place| href(&q, Some(("before", p.param()))));
    let pager = (newer.is_some() || older.is_some() || paged).then(|| {
        view! {
            <nav class="pager" aria-label="Pages">
                <span class="pager-summary">{summary}</span>
                {paged.then(|| view! { <a href=href(&q, None)>"Newest"</a> })}
                {newer.map(|h| view! { <a href=h rel="prev">"← Newer"</a> })}
                {older.map(|h| view! { <a href=h rel="next">"Older →"</a> })}
            </nav>
        }
    });
    view! {
        <form method="get" action="/activity" role="search" aria-label="Filter the activity" class="form grid activity-filters">
            <Field label="Who" name="actor" form="activity" error=error("actor") value=q.actor.clone() autocomplete="off" hint="Login name or e-mail" />
            <Field label="Group" name="group" form="activity" error=error("group") value=q.group.clone() autocomplete="off" hint="The group's name" />
            <KindSelect selected=q.kind.clone() message=kind_error />
            <Field label="From" name="from" form="activity" kind="date" error=error("from") value=q.from.clone() />
            <Field label="To" name="to" form="activity" kind="date" error=error("to") value=q.to.clone() />
            <div class="actions">
                <button type="submit" class="primary">"Apply filters"</button>
                {filtered.then(|| view! { <a href="/activity">"Clear filters"</a> })}
            </div>
        </form>
        {list.problems.is_empty().then(|| view! {
            <p class="download">
                <a href=csv class="button" download="" rel="external">"Download CSV"</a>
                " "
                <span class="hint">"Every event matching the filters, newest first."</span>
            </p>
        })}
        {table}
        {pager}
    }
}

/// The kind filter: any kind, or one of [`AuditAction::ALL`].
#[component]
fn KindSelect(selected: String, message: Option<String>) -> impl IntoView {
    let invalid = message.is_some();
    view! {
        <div class="field" class:invalid=invalid>
            <label for="activity-kind">"Kind"</label>
            <select
                id="activity-kind"
                name="kind"
                aria-invalid=invalid.then_some("true")
                aria-describedby=invalid.then_some("activity-kind-error")
            >
                <option value="" selected=selected.is_empty()>"Any kind"</option>
                {AuditAction::ALL
                    .into_iter()
                    .map(|a| view! { <option value=a.key() selected=selected == a.key()>{a.label()}</option> })
                    .collect_view()}
            </select>
            {message.map(|m| view! { <p class="field-error" id="activity-kind-error">{m}</p> })}
        </div>
    }
}
