//! `/groups` (the groups table), `/groups/new` and `/groups/:id/edit` (the group form).

use crate::api::branches::branch_options;
use crate::api::groups::{
    current_default_group, generate_group_key, get_group, list_groups, CreateGroup, DeleteGroup,
    UpdateGroup,
};
use crate::components::data_table::DataTable;
use crate::components::field::{action_error, kept, kept_checked, BranchSelect, Field, FormError};
use crate::components::islands::GroupKeyField;
use crate::components::layout::{show, Access, Page};
use crate::components::pager::urlencode;
use crate::components::signed_in::AuthCtx;
use crate::components::url::{param_id, query_page, query_text};
use crate::components::widgets::{confirm, date, SearchForm};
use crate::model::catalog::BranchView;
use crate::model::group::{parse_sort, uses_text, GroupRow, GroupSort, GroupView};
use crate::model::number::count;
use crate::model::AppError;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::components::A;

/// `/groups`: every group (administrators) or the groups one manages (group managers).
#[component]
pub fn GroupsPage() -> impl IntoView {
    view! {
        <Page title="Groups" access=Access::SignedIn>
            <GroupsList />
        </Page>
    }
}

#[component]
fn GroupsList() -> impl IntoView {
    let auth = expect_context::<AuthCtx>();
    let q = query_text("q");
    let sort = query_text("sort");
    let page = query_page();
    let delete = ServerAction::<DeleteGroup>::new();
    let rows = Resource::new(
        move || (q(), sort(), page(), delete.version().get()),
        |(q, s, p, _)| list_groups(q, s, p),
    );
    let delete_error = action_error(delete);
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                crate::components::layout::past_dry_run().await;
                let admin = matches!(auth.me.await, Ok(Some(m)) if m.is_admin());
                let result = rows.await;
                let (q, sort, page) = (q(), sort(), page());
                view! {
                    <div class="page-head">
                        <h1>"Groups"</h1>
                        {admin.then(|| view! { <A href="/groups/new" attr:class="button primary">"Add group"</A> })}
                    </div>
                    <p class="lead">
                        {if admin {
                            "Groups gather users so you can give them courses, message them and see reports on them together."
                        } else {
                            "The groups you manage."
                        }}
                    </p>
                    <FormError error=delete_error fields=&["group"] />
                    <SearchForm action="/groups".into() param="q" label="Search groups" placeholder="Any part of the name…" value=q.clone() id="groups-q" />
                    {show(result, move |p| {
                        let back = format!("/groups?q={}&sort={}&page={}", urlencode(&q), urlencode(&sort), page);
                        let (hq, hs) = (q.clone(), sort.clone());
                        view! {
                            <DataTable
                                noun="groups"
                                caption="Groups"
                                base="/groups"
                                query=q.clone()
                                page=p
                                class="groups stack"
                                empty=if admin { "No groups yet. Add one to start." } else { "You manage no groups." }
                                params=vec![("sort", sort.clone())]
                                head=move || view! {
                                    <SortHeader label="Name" key="name" current=hs.clone() q=hq.clone() />
                                    <th scope="col" role="columnheader">"Branch"</th>
                                    <SortHeader label="Members" key="members" current=hs.clone() q=hq.clone() />
                                    <th scope="col" role="columnheader">"Courses"</th>
                                    <th scope="col" role="columnheader">"Group key"</th>
                                    <SortHeader label="Created" key="created" current=hs.clone() q=hq.clone() />
                                    {admin.then(|| view! { <th scope="col" role="columnheader">"Actions"</th> })}
                                }
                                row=move |g: GroupRow| group_table_row(g, admin, &back)
                            />
                        }
                    })}
                }
            })}
        </Transition>
    }
}

/// A sortable column header: a link that sorts by this column (again: the other way).
#[component]
fn SortHeader(label: &'static str, key: &'static str, current: String, q: String) -> impl IntoView {
    let (cur, desc) = parse_sort(&current);
    let this = match key {
        "members" => GroupSort::Members,
        "created" => GroupSort::Created,
        _ => GroupSort::Name,
    };
    let active = cur == this && (!current.is_empty() || this == GroupSort::Name);
    let next = if active && !desc {
        format!("-{key}")
    } else {
        key.to_string()
    };
    let aria = active.then_some(if desc { "descending" } else { "ascending" });
    let arrow = match (active, desc) {
        (true, false) => " ↑",
        (true, true) => " ↓",
        _ => "",
    };
    let mut href = format!("/groups?sort={next}");
    if !q.is_empty() {
        href.push_str(&format!("&q={}", urlencode(&q)));
    }
    let how = if active && !desc {
        "descending"
    } else {
        "ascending"
    };
    view! {
        <th scope="col" role="columnheader" aria-sort=aria>
            <a href=href title=format!("Sort by {} ({how})", label.to_lowercase())>{label}{arrow}</a>
        </th>
    }
}

/// One group's row. A plain function, not a component, with plain links and forms: the table is
/// rendered on the server only (never hydrated), so a `<A>` (which resolves its link through the
/// router and keeps a memo to mark itself current, never the case here) and an `<ActionForm>`
/// (whose submit handler is never attached) would give the same HTML at a higher cost per row.
fn group_table_row(g: GroupRow, admin: bool, back: &str) -> impl IntoView {
    let courses = if g.curricula > 0 {
        format!(
            "{} + {} curricula",
            count(u64::from(g.courses)),
            count(u64::from(g.curricula))
        )
    } else {
        g.courses.to_string()
    };
    let key_uses = (g.key_status != crate::model::group::KeyStatus::None)
        .then(|| uses_text(g.key_uses, g.key_max_uses));
    let id = g.id;
    let delete_path = <DeleteGroup as ServerFn>::PATH;
    let actions = admin.then(|| {
        let name = &g.name;
        let (edit_label, explanation, delete_label) = (
            format!("Edit {name}"),
            format!("Delete “{name}”? Its memberships and its course links go; users' enrolments and progress stay."),
            format!("Delete group {name}"),
        );
        view! {
            <td role="cell" class="row-actions" data-label="Actions">
                <a href=format!("/groups/{id}/edit") aria-label=edit_label>"Edit"</a>
                {confirm(
                    "Delete…",
                    explanation,
                    view! {
                        <form action=delete_path method="post">
                            <input type="hidden" name="id" value=id />
                            <input type="hidden" name="back" value=back.to_string() />
                            <button type="submit" class="danger" aria-label=delete_label>"Delete group"</button>
                        </form>
                    },
                )}
            </td>
        }
    });
    view! {
        <tr role="row">
            <td role="cell" class="row-title">
                <a href=format!("/groups/{id}")>{g.name}</a>
                {g.is_default.then(|| view! { " " <span class="badge">"Default"</span> })}
            </td>
            <td role="cell" data-label="Branch">{g.branch.unwrap_or_else(|| "—".into())}</td>
            <td role="cell" class="num" data-label="Members">{count(g.members)}</td>
            <td role="cell" data-label="Courses">{courses}</td>
            <td role="cell" data-label="Group key">
                <span class=g.key_status.class()>{g.key_status.label()}</span>
                {key_uses.map(|u| view! { " " <span class="muted">{u}</span> })}
            </td>
            <td role="cell" data-label="Created">{date(g.created_at)}</td>
            {actions}
        </tr>
    }
}

/// `/groups/new`: the add group form (administrators).
#[component]
pub fn NewGroupPage() -> impl IntoView {
    view! {
        <Page title="Add group" access=Access::Admin>
            <NewGroup />
        </Page>
    }
}

#[component]
fn NewGroup() -> impl IntoView {
    let create = ServerAction::<CreateGroup>::new();
    let generated = generated_key();
    let branches = Resource::new(|| (), |_| branch_options());
    let default_now = Resource::new(|| (), |_| current_default_group());
    let error = action_error(create);
    view! {
        <p class="breadcrumb"><A href="/groups">"← All groups"</A></p>
        <h1>"Add group"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                crate::components::layout::past_dry_run().await;
                let branches = branches.await.unwrap_or_default();
                let default_now = default_now.await.ok().flatten();
                let generated = generated.await.ok().flatten();
                view! {
                    <section class="panel" aria-label="New group">
                        <ActionForm action=create attr:class="form grid" attr:novalidate=true>
                            <GroupFormFields group=None branches default_now generated error />
                            <div class="actions">
                                <button type="submit" class="primary">"Create group"</button>
                                <A href="/groups">"Cancel"</A>
                            </div>
                        </ActionForm>
                    </section>
                }
            })}
        </Transition>
    }
}

/// `/groups/:id/edit`: the edit group form (administrators).
#[component]
pub fn EditGroupPage() -> impl IntoView {
    view! {
        <Page title="Edit group" access=Access::Admin>
            <EditGroup />
        </Page>
    }
}

#[component]
fn EditGroup() -> impl IntoView {
    let id = param_id("id");
    let update = ServerAction::<UpdateGroup>::new();
    let generated = generated_key();
    let branches = Resource::new(|| (), |_| branch_options());
    // Reload after a successful save only: after a failed one the form keeps what was typed.
    let saved = move || update.value().get().and_then(|r| r.ok()).map(|s| s.group);
    let default_now = Resource::new(saved, |_| current_default_group());
    let group = Resource::new(
        move || (id(), saved()),
        |(id, _)| async move {
            match id {
                Some(id) => get_group(id).await,
                None => Err(AppError::not_found("Group")),
            }
        },
    );
    let error = action_error(update);
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                crate::components::layout::past_dry_run().await;
                let branches = branches.await.unwrap_or_default();
                let default_now = default_now.await.ok().flatten();
                let generated = generated.await.ok().flatten();
                show(group.await, move |g| view! {
                    <p class="breadcrumb"><A href=format!("/groups/{}", g.id)>{format!("← {}", g.name)}</A></p>
                    <h1>{format!("Edit “{}”", g.name)}</h1>
                    <section class="panel" aria-label="Group details">
                        <ActionForm action=update attr:class="form grid" attr:novalidate=true>
                            <input type="hidden" name="id" value=g.id />
                            <GroupFormFields group=Some(g.clone()) branches default_now generated=generated.clone() error />
                            <div class="actions">
                                <button type="submit" class="primary">"Save changes"</button>
                                <A href=format!("/groups/{}", g.id)>"Back to the group"</A>
                            </div>
                        </ActionForm>
                    </section>
                })
            })}
        </Transition>
    }
}

/// A fresh key when the URL asks for one (`?generate=1`: the Generate link without JavaScript).
fn generated_key() -> Resource<Result<Option<String>, AppError>> {
    let flag = query_text("generate");
    Resource::new(flag, |f| async move {
        if f == "1" {
            generate_group_key().await.map(Some)
        } else {
            Ok(None)
        }
    })
}

/// The fields of the add / edit group form: basic, then "Advanced options" (key, default).
#[component]
fn GroupFormFields(
    group: Option<GroupView>,
    branches: Vec<BranchView>,
    /// The current default group (id, name), for the hint next to "Default group".
    default_now: Option<(u64, String)>,
    /// A freshly generated key to put in the key field (no-JavaScript "Generate").
    generated: Option<String>,
    error: Signal<Option<AppError>>,
) -> impl IntoView {
    let form = "group";
    let g = group.clone();
    let was_generated = generated.is_some();
    let initial_key = kept(error, "key")
        .or(generated)
        .or_else(|| g.as_ref().and_then(|g| g.key.key.clone()))
        .unwrap_or_default();
    let generate_href = match &g {
        Some(g) => format!("/groups/{}/edit?generate=1", g.id),
        None => "/groups/new?generate=1".to_string(),
    };
    let key_error = move || error.get().and_then(|e| e.field_message("key"));
    let advanced_error = move || {
        error.get().is_some_and(|e| {
            ["key", "max_uses", "valid_from", "valid_until"]
                .iter()
                .any(|f| e.field_message(f).is_some())
        })
    };
    let open = was_generated
        || g.as_ref()
            .is_some_and(|g| g.key.key.is_some() || g.is_default);
    let is_default = g.as_ref().is_some_and(|g| g.is_default);
    let key_enabled =
        kept_checked(error, "key_enabled").unwrap_or(g.as_ref().is_none_or(|g| g.key.enabled));
    let default_ticked = kept_checked(error, "is_default").unwrap_or(is_default);
    let default_hint = match (&default_now, is_default) {
        (_, true) => "This is the default group: every new user joins it.".to_string(),
        (Some((_, name)), false) => {
            format!("“{name}” is the default group now; ticking this makes this group the default instead.")
        }
        (None, false) => {
            "There is no default group now. Tick this to make every new user join this group."
                .to_string()
        }
    };
    let date_value = |d: Option<u64>| d.map(date).unwrap_or_default();
    view! {
        <FormError error fields=&["group"] />
        <Field label="Name" name="name" form error value=g.as_ref().map(|g| g.name.clone()).unwrap_or_default() required=true hint="Unique; 1 to 100 characters." />
        <BranchSelect form name="branch" label="Branch" none="(no branch)" options=branches selected=g.as_ref().and_then(|g| g.branch) error />
        <Field label="Description" name="description" form kind="textarea" error value=g.as_ref().map(|g| g.description.clone()).unwrap_or_default() hint="Optional; up to 1,000 characters." />
        <details class="advanced" open=move || open || advanced_error()>
            <summary>"Advanced options"</summary>
            <div class="advanced-grid">
            <GroupKeyField initial=initial_key error=key_error() generate_href />
            <Field label="Maximum key uses" name="max_uses" form kind="number" error value=g.as_ref().map(|g| g.key.max_uses.to_string()).unwrap_or_else(|| "0".into()) hint="0 means unlimited. A maximum at or below the uses so far is allowed: the key then stops working (members stay)." />
            <Field label="Key valid from" name="valid_from" form kind="date" error value=date_value(g.as_ref().and_then(|g| g.key.valid_from)) hint="Optional: the first day the key works (UTC)." />
            <Field label="Key valid until" name="valid_until" form kind="date" error value=date_value(g.as_ref().and_then(|g| g.key.valid_until)) hint="Optional: the last day the key works (UTC)." />
            <div class="check">
                <input type="checkbox" id="group-key-enabled" name="key_enabled" value="on" checked=key_enabled />
                <label for="group-key-enabled">"Key enabled"</label>
            </div>
            <div class="check">
                <input type="checkbox" id="group-default" name="is_default" value="on" checked=default_ticked aria-describedby="group-default-hint" />
                <label for="group-default">"Default group"</label>
            </div>
            <p class="hint" id="group-default-hint">{default_hint}</p>
            <div class="check">
                <input type="checkbox" id="group-managers-regenerate" name="managers_regenerate_key" value="on" checked=g.as_ref().is_some_and(|g| g.managers_regenerate_key) aria-describedby="group-managers-regenerate-hint" />
                <label for="group-managers-regenerate">"Group managers may regenerate the key"</label>
            </div>
            <p class="hint" id="group-managers-regenerate-hint">"Off: only administrators make a new key. On: the group's managers can too (the old key then stops working at once)."</p>
            </div>
        </details>
    }
}
