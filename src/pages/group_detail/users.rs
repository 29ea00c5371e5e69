//! The Users tab: members, adding users one by one, bulk add by list or file.
//!
//! Only administrators and the group's managers reach this page. Both remove members and add
//! them from a pasted list; administrators also pick users from the directory and upload a
//! file. A manager never browses the directory: they type exact logins or e-mails.

use super::*;
use crate::components::field::{kept, problem_id};
use crate::components::widgets::confirm;
use leptos::server_fn::ServerFn;

#[component]
pub(super) fn UsersTab(g: GroupView, q: String, uq: String) -> impl IntoView {
    let GroupCtx {
        a,
        members,
        found_users: found,
        bulk_report,
        ..
    } = expect_context();
    let id = g.id;
    let admin = g.can_edit;
    let remove_error = action_error(a.remove);
    let add_error = action_error(a.add);
    let base = format!("/groups/{id}");
    let q2 = q.clone();
    view! {
        <section class="panel" aria-labelledby="members-title">
            <h2 id="members-title">"Members"</h2>
            <FormError error=remove_error />
            <SearchForm action=base.clone() param="q" label="Search members" placeholder="Login, e-mail or name starts with…" value=q.clone() id="members-q" keep=vec![("tab", "users".to_string())] />
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || {
                    let (base, q) = (base.clone(), q2.clone());
                    Suspend::new(async move {
                        crate::components::layout::past_dry_run().await;
                        match load(members).await {
                            Ok(Some(p)) => view! {
                                <DataTable
                                    noun="members"
                                    caption="Members"
                                    base=base.clone()
                                    query=q
                                    page=p
                                    params=vec![("tab", "users".to_string())]
                                    class="stack"
                                    head=move || view! {
                                        <th scope="col" role="columnheader">"Login"</th>
                                        <th scope="col" role="columnheader">"Name"</th>
                                        <th scope="col" role="columnheader">"Joined"</th>
                                        <th scope="col" role="columnheader">"How"</th>
                                        <th scope="col" role="columnheader">"Actions"</th>
                                    }
                                    row=move |m: MemberRow| member_table_row(id, m)
                                />
                            }.into_any(),
                            Ok(None) => view! { <p class="loading">"…"</p> }.into_any(),
                            Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                        }
                    })
                }}
            </Transition>
        </section>
        {admin.then(|| view! {
            <section class="panel" aria-labelledby="add-users-title">
                <h2 id="add-users-title">"Add users"</h2>
                <FormError error=add_error fields=&["user"] />
                <SearchForm action=format!("/groups/{id}") param="uq" label="Find users to add" placeholder="Login, e-mail or name starts with…" value=uq.clone() id="group-user-q" keep=vec![("tab", "users".to_string())] />
                <UserPicker found action=move |u: UserView| view! {
                    <ActionForm action=a.add>
                        <input type="hidden" name="id" value=id />
                        <input type="hidden" name="user" value=u.id />
                        <button type="submit" aria-label=format!("Add {} to the group", u.login)>"Add"</button>
                    </ActionForm>
                } />
            </section>
        }.into_any())}
        <BulkAdd id admin bulk=a.bulk report=bulk_report />
    }
}

/// One member's row: a plain function with a plain form, as the groups table's rows (see
/// `group_table_row` in pages/groups.rs): rendered on the server only, never hydrated.
fn member_table_row(id: u64, m: MemberRow) -> impl IntoView {
    let check = format!("unenrol-{}", m.user_id);
    let explanation = format!(
        "Remove {} from the group? Their enrolments and progress stay unless you tick the box.",
        m.login
    );
    let remove_label = format!("Remove from group: {}", m.login);
    let remove_path = <RemoveGroupMember as ServerFn>::PATH;
    view! {
        <tr role="row">
            <td role="cell" class="row-title">{m.login}</td>
            <td role="cell" data-label="Name">{m.display_name}</td>
            <td role="cell" data-label="Joined">{date(m.joined_at)}</td>
            <td role="cell" data-label="How">{m.how.label()}</td>
            <td role="cell" data-label="Actions">
                {confirm(
                    "Remove…",
                    explanation,
                    view! {
                        <form action=remove_path method="post">
                            <input type="hidden" name="id" value=id />
                            <input type="hidden" name="user" value=m.user_id />
                            <div class="check">
                                <input type="checkbox" id=check.clone() name="unenrol" value="on" />
                                <label for=check>"Also unenrol from this group's courses"</label>
                            </div>
                            <button type="submit" class="danger" aria-label=remove_label>"Remove from group"</button>
                        </form>
                    },
                )}
            </td>
        </tr>
    }
}

/// Paste a list (or, for administrators, upload a CSV file) and add everyone on it; then each
/// row's outcome.
#[component]
pub(super) fn BulkAdd(
    id: u64,
    admin: bool,
    bulk: ServerAction<BulkAddGroupMembers>,
    report: Res<Option<BulkResult>>,
) -> impl IntoView {
    let error = action_error(bulk);
    let message = move || error.get().and_then(|e| e.field_message("text"));
    let typed = kept(error, "text").unwrap_or_default();
    let anchor = message().map(|_| problem_id("text"));
    view! {
        <section class="panel" aria-labelledby="bulk-title">
            <h2 id="bulk-title">{if admin { "Bulk add" } else { "Add members" }}</h2>
            <ActionForm action=bulk attr:class="form" attr:novalidate=true>
                <FormError error />
                <input type="hidden" name="id" value=id />
                <div class="field" id=anchor class:invalid=move || message().is_some()>
                    <label for="bulk-text">"Login names or e-mail addresses"</label>
                    <textarea
                        id="bulk-text"
                        name="text"
                        rows="8"
                        aria-invalid=move || message().map(|_| "true")
                        aria-describedby=move || if message().is_some() { "bulk-text-hint bulk-text-error" } else { "bulk-text-hint" }
                    >{typed}</textarea>
                    <p class="hint" id="bulk-text-hint">
                        {if admin {
                            "One per line, or a CSV whose first column holds them (a header line is skipped). Up to 10,000 rows."
                        } else {
                            "One per line, exactly as the person signs in (login name) or their full e-mail address. Up to 10,000 rows."
                        }}
                    </p>
                    {move || message().map(|m| view! { <p class="field-error" id="bulk-text-error">{m}</p> })}
                </div>
                <div class="actions"><button type="submit" class="primary">"Add listed users"</button></div>
            </ActionForm>
            // A file goes to the server as an upload (the same rules as the box).
            {admin.then(|| view! { <BulkUpload id /> })}
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    crate::components::layout::past_dry_run().await;
                    match load(report).await {
                        Ok(Some(Some(r))) => view! { <BulkReport r admin /> }.into_any(),
                        Ok(_) => view! { <div class="bulk-result"></div> }.into_any(),
                        Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// Uploads a CSV or text file of users to add: the bulk add without JavaScript, a plain
/// multipart form whose errors come back in the URL.
#[component]
pub(super) fn BulkUpload(id: u64) -> impl IntoView {
    let message = url_error::<BulkUploadGroupMembers>().map(|e| match e {
        AppError::Invalid { message, .. } => message,
        other => other.to_string(),
    });
    let invalid = message.is_some();
    let path = <BulkUploadGroupMembers as leptos::server_fn::ServerFn>::PATH;
    view! {
        <form
            class="form upload"
            method="post"
            action=path
            enctype="multipart/form-data"
        >
            <input type="hidden" name="id" value=id />
            <div class="field" id=invalid.then_some("problem-file") class:invalid=invalid>
                <label for="bulk-upload">"Or upload a CSV or text file"</label>
                <input
                    id="bulk-upload"
                    type="file"
                    name="file"
                    accept=".csv,.txt,text/csv,text/plain"
                    aria-invalid=invalid.then_some("true")
                    aria-describedby=if invalid { "bulk-upload-hint bulk-upload-error" } else { "bulk-upload-hint" }
                />
                <p class="hint" id="bulk-upload-hint">"The same format as above, up to 1 MB."</p>
                {message.map(|m| view! { <p class="field-error" id="bulk-upload-error">{m}</p> })}
            </div>
            <div class="actions"><button type="submit">"Upload and add"</button></div>
        </form>
    }
}

/// The outcome of a bulk add, row by row. A manager reads "No such user" for any name that
/// is not an exact login or e-mail, whether such an account exists or not.
#[component]
pub(super) fn BulkReport(r: BulkResult, admin: bool) -> impl IntoView {
    let unknown = if admin { "unknown" } else { "no such user" };
    view! {
        <div class="bulk-result">
            <p class="notice" role="status">
                {format!("Last bulk add: {} added, {} already members, {} {unknown}, {} invalid.", count(r.added.into()), count(r.already.into()), count(r.unknown.into()), count(r.invalid.into()))}
            </p>
            <div class="scroll" tabindex="0" role="group" aria-label="Result per row">
                <table class="data">
                    <caption>"Result per row"</caption>
                    <thead><tr role="row"><th scope="col" role="columnheader">"Line"</th><th scope="col" role="columnheader">"Entry"</th><th scope="col" role="columnheader">"Result"</th></tr></thead>
                    <tbody>
                        {r.rows.into_iter().map(|row| {
                            let class = match row.outcome {
                                BulkOutcome::Added => "ok",
                                BulkOutcome::AlreadyMember => "muted",
                                _ => "bad",
                            };
                            let label = match row.outcome {
                                BulkOutcome::UnknownUser if !admin => "No such user".to_string(),
                                ref other => other.label(),
                            };
                            view! { <tr role="row"><td role="cell" class="num">{row.line}</td><td role="cell">{row.input}</td><td role="cell" class=class>{label}</td></tr> }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </div>
    }
}
