//! `/imports`: upload a CSV file of users; `/imports/:id`: its preview, applying it with live
//! progress, and the result row by row with the set-password links (administrators).

use crate::api::imports::{
    get_import, import_rows, recent_imports, ApplyImport, DiscardImport, UploadUserImport,
};
use crate::components::data_table::DataTable;
use crate::components::field::{action_error, url_error, FormError};
use crate::components::layout::{show, Access, ErrorBox, Page};
use crate::components::url::{param_id, query_page, query_text};
use crate::components::widgets::date_time;
use crate::model::import::{
    ImportOutcome, ImportRowView, ImportState, ImportView, IMPORT_PASSWORDS_MAX, IMPORT_ROWS_MAX,
    NO_PUBLIC_URL,
};
use crate::model::number::{count, count_of};
use crate::model::AppError;
use leptos::prelude::*;
use leptos_router::components::A;

/// `/imports`: the upload form and the latest imports.
#[component]
pub fn ImportsPage() -> impl IntoView {
    view! {
        <Page title="Import users" access=Access::Admin>
            <Imports />
        </Page>
    }
}

#[component]
fn Imports() -> impl IntoView {
    let recent = Resource::new(|| (), |_| recent_imports());
    view! {
        <p class="breadcrumb"><A href="/users">"← All users"</A></p>
        <h1>"Import users"</h1>
        <UploadForm />
        <section class="panel" aria-labelledby="recent-imports-title">
            <h2 id="recent-imports-title">"Recent imports"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    show(recent.await, |list| {
                        if list.is_empty() {
                            return view! { <p class="empty-state">"No imports yet."</p> }.into_any();
                        }
                        view! {
                            <div class="table-wrap" role="region" aria-label="Table of recent imports" tabindex="0">
                                <table class="data">
                                    <caption class="visually-hidden">"Recent imports"</caption>
                                    <thead><tr>
                                        <th scope="col">"File"</th>
                                        <th scope="col">"Uploaded"</th>
                                        <th scope="col">"By"</th>
                                        <th scope="col" class="num">"Rows"</th>
                                        <th scope="col">"State"</th>
                                    </tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|i| {
                                            let state = state_text(&i);
                                            view! {
                                            <tr>
                                                <td><A href=format!("/imports/{}", i.id)>{i.file_name.clone()}</A></td>
                                                <td>{date_time(i.created_at)}</td>
                                                <td>{i.by_login.clone()}</td>
                                                <td class="num">{count(i.rows)}</td>
                                                <td>{state}</td>
                                            </tr>
                                        }}).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }
                        .into_any()
                    })
                })}
            </Transition>
        </section>
    }
}

/// A short state of an import for the list.
fn state_text(i: &ImportView) -> String {
    let c = i.counts;
    match i.state {
        ImportState::Preview => format!("Preview: {} to create", c.create),
        ImportState::Applying => format!("Creating users: {}%", i.percent()),
        ImportState::Done => format!("Done: {} created", c.created),
        ImportState::Discarded => "Discarded".into(),
        ImportState::Failed => format!("Stopped: {} created, {} not yet", c.created, c.create),
    }
}

/// The upload: a plain multipart form (works without JavaScript); its errors come back in the
/// URL and show under the file field.
#[component]
fn UploadForm() -> impl IntoView {
    let message = url_error::<UploadUserImport>().map(|e| match e {
        AppError::Invalid { message, .. } => message,
        other => other.to_string(),
    });
    let invalid = message.is_some();
    let path = <UploadUserImport as leptos::server_fn::ServerFn>::PATH;
    view! {
        <section class="panel" aria-labelledby="upload-title">
            <h2 id="upload-title">"Upload a CSV file"</h2>
            <p>
                "The first row names the columns, in any order. You see what will happen to each row before anything is created."
            </p>
            <div class="table-wrap" role="region" aria-label="Table of import columns" tabindex="0">
                <table class="data columns-help">
                    <caption class="visually-hidden">"Import columns"</caption>
                    <thead><tr><th scope="col">"Column"</th><th scope="col">"What it holds"</th></tr></thead>
                    <tbody>
                        <tr><td><code>"login"</code></td><td>"Login name (required, unique)"</td></tr>
                        <tr><td><code>"email"</code></td><td>"E-mail address (required, unique)"</td></tr>
                        <tr><td><code>"display name"</code></td><td>"Name shown to others (required)"</td></tr>
                        <tr><td><code>"role"</code></td><td>"learner or admin; empty means learner"</td></tr>
                        <tr><td><code>"password"</code></td><td>{format!("Optional, at least 8 characters, on at most {IMPORT_PASSWORDS_MAX} rows. Users without one get a set-password link.")}</td></tr>
                        <tr><td><code>"groups"</code></td><td>"Optional: group names separated by ; (the groups must exist)"</td></tr>
                    </tbody>
                </table>
            </div>
            <p class="hint">"Example:"</p>
            <pre class="sample">"login,email,display name,role,groups\nada,ada@example.org,\"Lovelace, Ada\",learner,Physics;Maths"</pre>
            <form class="form upload" method="post" action=path enctype="multipart/form-data">
                <div class="field" id=invalid.then_some("problem-file") class:invalid=invalid>
                    <label for="import-file">"CSV file"</label>
                    <input
                        id="import-file"
                        type="file"
                        name="file"
                        accept=".csv,.txt,text/csv,text/plain"
                        required
                        aria-invalid=invalid.then_some("true")
                        aria-describedby=if invalid { "import-file-hint import-file-error" } else { "import-file-hint" }
                    />
                    <p class="hint" id="import-file-hint">
                        {format!("UTF-8, comma, semicolon or tab separated; up to {IMPORT_ROWS_MAX} rows and 16 MB. New users also join the default group.")}
                    </p>
                    {message.map(|m| view! { <p class="field-error" id="import-file-error">{m}</p> })}
                </div>
                <div class="actions"><button type="submit" class="primary">"Upload and preview"</button></div>
            </form>
        </section>
    }
}

/// `/imports/:id`: one import.
#[component]
pub fn ImportPage() -> impl IntoView {
    view! {
        <Page title="Import" access=Access::Admin>
            <Import />
        </Page>
    }
}

#[component]
fn Import() -> impl IntoView {
    let id = param_id("id");
    let show_kind = query_text("show");
    let page = query_page();
    let apply = ServerAction::<ApplyImport>::new();
    let discard = ServerAction::<DiscardImport>::new();
    let import = Resource::new(
        move || (id(), apply.version().get()),
        |(id, _)| async move {
            match id {
                Some(id) => get_import(id).await,
                None => Err(AppError::not_found("Import")),
            }
        },
    );
    // The live region's own reads (`live=1`, every second while the import is applied) need
    // only the state panel: the rows (a filtered page reads every row) are read when it ends.
    let live = query_text("live");
    let rows = Resource::new(
        move || (id(), show_kind(), page(), apply.version().get(), live()),
        |(id, show, page, _, live)| async move {
            match id {
                _ if live == "1" => Ok(None),
                Some(id) => import_rows(id, show, page).await.map(Some),
                None => Err(AppError::not_found("Import")),
            }
        },
    );
    let apply_error = action_error(apply);
    let discard_error = action_error(discard);
    view! {
        <p class="breadcrumb"><A href="/imports">"← Imports"</A></p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let i = match import.await {
                    Ok(i) => i,
                    Err(e) => return view! { <ErrorBox error=e /> }.into_any(),
                };
                let applying = i.state == ImportState::Applying;
                let id = i.id;
                let file = i.file_name.clone();
                view! {
                    <h1>{format!("Import of {file}")}</h1>
                    // Read again every second while the import is applied (with JavaScript);
                    // the whole page once when it has finished, for the rows' outcomes.
                    <section class="panel" aria-labelledby="import-state-title" id="import-live" data-running=applying.to_string()>
                        <h2 id="import-state-title">{i.state.label()}</h2>
                        <p class="muted">{format!("Uploaded by {} at {}; {} row(s).", i.by_login, date_time(i.created_at), i.rows)}</p>
                        <FormError error=apply_error fields=&["import"] />
                        <FormError error=discard_error fields=&["import"] />
                        <ImportStatus i=i.clone() />
                        {matches!(i.state, ImportState::Preview | ImportState::Failed).then(|| {
                            let n = i.counts.create;
                            let preview = i.state == ImportState::Preview;
                            let label = if preview {
                                format!("Create {n} user(s)")
                            } else {
                                format!("Resume: create the other {n} user(s)")
                            };
                            view! {
                                <div class="actions">
                                    <ActionForm action=apply attr:class="inline">
                                        <input type="hidden" name="id" value=id />
                                        <button type="submit" class="primary" disabled=n == 0>{label}</button>
                                    </ActionForm>
                                    {preview.then(|| view! {
                                        <ActionForm action=discard attr:class="inline">
                                            <input type="hidden" name="id" value=id />
                                            <button type="submit">"Discard"</button>
                                        </ActionForm>
                                    })}
                                </div>
                            }
                        })}
                    </section>
                    <RowFilter i=i.clone() />
                }
                .into_any()
            })}
        </Transition>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let i = import.await;
                let rows = rows.await;
                match (i, rows) {
                    (Ok(i), Ok(Some(p))) => view! { <RowsTable i p show=show_kind() /> }.into_any(),
                    (Err(_), _) | (_, Ok(None)) => ().into_any(),
                    (_, Err(e)) => view! { <ErrorBox error=e /> }.into_any(),
                }
            })}
        </Transition>
        <crate::components::islands::LiveRegion region="import-live" reload_when_done=true />
    }
}

/// The counts, the progress bar while applying, and the result file when done.
#[component]
fn ImportStatus(i: ImportView) -> impl IntoView {
    let c = i.counts;
    match i.state {
        ImportState::Preview => view! {
            <p class="summary" role="status">
                {format!("{} will be created; {} skipped because the user exists; {} invalid (fix them in the file and upload it again).", count(c.create), count(c.exists), count(c.invalid))}
            </p>
        }
        .into_any(),
        ImportState::Applying => view! {
            <div class="mass-progress">
                <progress class="progress" aria-label="Import progress" max=i.rows.max(1) value=i.done></progress>
                <p class="muted">{format!("{} of {} · {} created so far", count(i.done), count_of(i.rows, "row", "rows"), count(c.created))}</p>
                <p class="hint"><a href=format!("/imports/{}", i.id)>"Refresh"</a>" (the bar moves by itself with JavaScript on)"</p>
            </div>
        }
        .into_any(),
        ImportState::Done => {
            let took = i
                .finished_at
                .map(|f| format!(" Finished at {}.", date_time(f)))
                .unwrap_or_default();
            let expires = i
                .links_expire_at
                .map(|e| format!(" Set-password links work once, until {}.", date_time(e)))
                .unwrap_or_default();
            view! {
                <p class="summary" role="status">
                    {format!("{} created; {} skipped because the user exists; {} invalid; {} failed.{took}", count(c.created), count(c.exists), count(c.invalid), count(c.failed))}
                </p>
                <p>{expires}</p>
                {(i.links_expire_at.is_some() && i.link_base.is_none()).then(|| view! {
                    <p class="notice" role="note">{NO_PUBLIC_URL}</p>
                })}
                <p><a class="button" href=format!("/imports/{}/result.csv", i.id) download>"Download the result (CSV)"</a></p>
            }
            .into_any()
        }
        ImportState::Discarded => view! { <p>"This import was discarded; nothing was created."</p> }.into_any(),
        ImportState::Failed => view! {
            <p class="form-error" role="alert">
                {format!("Applying stopped after {} of {}: {}. {} created; {} not yet. Resuming creates only those.", count(i.done), count_of(i.rows, "row", "rows"), i.failure.clone().unwrap_or_default(), count_of(c.created, "user was", "users were"), count(c.create))}
            </p>
        }
        .into_any(),
    }
}

/// Links that show the rows of one outcome.
#[component]
fn RowFilter(i: ImportView) -> impl IntoView {
    let shown = query_text("show")();
    let c = i.counts;
    let mut kinds = vec![("", "All", i.rows)];
    if i.state != ImportState::Done {
        kinds.push(("create", "To create", c.create));
    }
    if i.state != ImportState::Preview {
        kinds.push(("created", "Created", c.created));
        kinds.push(("failed", "Failed", c.failed));
    }
    kinds.push(("exists", "Existing", c.exists));
    kinds.push(("invalid", "Invalid", c.invalid));
    view! {
        <nav class="filters" aria-label="Show rows">
            {kinds.into_iter().map(|(kind, label, n)| {
                let href = if kind.is_empty() { format!("/imports/{}", i.id) } else { format!("/imports/{}?show={kind}", i.id) };
                let current = (shown == kind).then_some("page");
                view! { <a href=href aria-current=current>{format!("{label} ({})", count(n))}</a> }
            }).collect_view()}
        </nav>
    }
}

#[component]
fn RowsTable(i: ImportView, p: crate::model::Paged<ImportRowView>, show: String) -> impl IntoView {
    let params = if show.is_empty() {
        Vec::new()
    } else {
        vec![("show", show)]
    };
    let link_of = i.clone();
    view! {
        <DataTable
            noun="rows"
            caption="Rows of the import"
            base=format!("/imports/{}", i.id)
            query=String::new()
            page=p
            params
            empty="No rows of this kind."
            head=|| view! {
                <th scope="col" class="num">"Line"</th>
                <th scope="col">"Login name"</th>
                <th scope="col">"Name"</th>
                <th scope="col">"E-mail"</th>
                <th scope="col">"Role"</th>
                <th scope="col">"Groups"</th>
                <th scope="col">"Result"</th>
            }
            row=move |r: ImportRowView| {
                let class = match r.outcome {
                    ImportOutcome::Create | ImportOutcome::Created { .. } => "ok",
                    ImportOutcome::Exists { .. } => "muted",
                    _ => "bad",
                };
                let result = match &r.outcome {
                    ImportOutcome::Created { user, link } => {
                        let token_left = link.is_some();
                        let link = link.as_ref().and_then(|t| link_of.link(t));
                        view! {
                            <A href=format!("/users/{user}")>"Created"</A>
                            {match (r.has_password, token_left, link.is_some()) {
                                (true, _, _) => " (with the password given)",
                                (false, false, _) => " (set-password link used or expired)",
                                (false, true, false) => " (set-password link not shown: public_url is not set)",
                                (false, true, true) => "",
                            }}
                            {link.map(|l| view! {
                                <label class="link-copy">
                                    <span class="visually-hidden">{format!("Set-password link for {}", r.login)}</span>
                                    <input type="text" readonly value=l class="link" />
                                </label>
                            })}
                        }
                        .into_any()
                    }
                    ImportOutcome::Create if r.has_password => {
                        view! { "Will be created (with the password given)" }.into_any()
                    }
                    other => view! { {other.describe()} }.into_any(),
                };
                view! {
                    <tr>
                        <td class="num">{r.line}</td>
                        <td>{r.login.clone()}</td>
                        <td>{r.display_name.clone()}</td>
                        <td>{r.email.clone()}</td>
                        <td>{if r.role.is_empty() { "learner".to_string() } else { r.role.clone() }}</td>
                        <td>{r.groups.join("; ")}</td>
                        <td class=class>{result}</td>
                    </tr>
                }
            }
        />
    }
}
