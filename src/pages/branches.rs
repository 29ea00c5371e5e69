use crate::api::branches::{
    branch_options, get_branch, list_branches, CreateBranch, DeleteBranch, UpdateBranch,
};
use crate::components::data_table::DataTable;
use crate::components::field::{action_error, BranchSelect, Field, FormError};
use crate::components::layout::{show, Access, Page};
use crate::components::url::{param_id, query_page, query_text};
use crate::components::widgets::{Confirm, SearchForm};
use crate::model::catalog::BranchView;
use crate::model::AppError;
use leptos::prelude::*;
use leptos_router::components::A;

/// `/branches`: the branches table and the form to add one (administrators).
#[component]
pub fn BranchesPage() -> impl IntoView {
    view! {
        <Page title="Branches" access=Access::Admin>
            <BranchesList />
        </Page>
    }
}

#[component]
fn BranchesList() -> impl IntoView {
    let q = query_text("q");
    let page = query_page();
    let create = ServerAction::<CreateBranch>::new();
    let rows = Resource::new(
        move || (q(), page(), create.version().get()),
        |(q, p, _)| list_branches(q, p),
    );
    let options = Resource::new(move || create.version().get(), |_| branch_options());
    let error = action_error(create);
    view! {
        <div class="page-head">
            <h1>"Branches"</h1>
        </div>
        <p class="lead">"Branches are the units of your organisation: schools, departments, sites."</p>
        <SearchForm action="/branches".into() param="q" label="Search branches" placeholder="Name starts with…" value=q() id="branches-q" />
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let names = options.await.unwrap_or_default();
                let parent_name = move |id: Option<u64>| {
                    id.and_then(|id| names.iter().find(|b| b.id == id).map(|b| b.name.clone()))
                        .unwrap_or_default()
                };
                show(rows.await, move |p| view! {
                    <DataTable
                        noun="branches"
                        caption="Branches"
                        base="/branches"
                        query=q()
                        page=p
                        head=|| view! {
                            <th scope="col">"Name"</th>
                            <th scope="col">"Parent branch"</th>
                            <th scope="col">"Description"</th>
                        }
                        row=move |b: BranchView| view! {
                            <tr>
                                <td><A href=format!("/branches/{}", b.id)>{b.name}</A></td>
                                <td>{parent_name(b.parent)}</td>
                                <td>{b.description}</td>
                            </tr>
                        }
                    />
                })
            })}
        </Transition>
        <section class="panel" aria-labelledby="add-branch-title">
            <h2 id="add-branch-title">"Add a branch"</h2>
            <ActionForm action=create attr:class="form grid" attr:novalidate=true>
                <FormError error />
                <Field label="Name" name="name" form="new-branch" error required=true />
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        let opts = options.await.unwrap_or_default();
                        view! { <BranchSelect form="new-branch" name="parent" label="Parent branch" none="(none: a top-level branch)" options=opts selected=None error /> }
                    })}
                </Transition>
                <Field label="Description" name="description" form="new-branch" error />
                <div class="actions">
                    <button type="submit" class="primary">"Create branch"</button>
                </div>
            </ActionForm>
        </section>
    }
}

/// `/branches/:id`: edit or delete a branch (administrators).
#[component]
pub fn BranchDetailPage() -> impl IntoView {
    view! {
        <Page title="Branch" access=Access::Admin>
            <BranchDetail />
        </Page>
    }
}

#[component]
fn BranchDetail() -> impl IntoView {
    let id = param_id("id");
    let update = ServerAction::<UpdateBranch>::new();
    let delete = ServerAction::<DeleteBranch>::new();
    let branch = Resource::new(
        move || (id(), update.version().get()),
        |(id, _)| async move {
            match id {
                Some(id) => get_branch(id).await,
                None => Err(AppError::not_found("Branch")),
            }
        },
    );
    let options = Resource::new(|| (), |_| branch_options());
    let error = action_error(update);
    let delete_error = action_error(delete);
    view! {
        <p class="breadcrumb"><A href="/branches">"← All branches"</A></p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let opts: Vec<BranchView> = options.await.unwrap_or_default();
                show(branch.await, move |b| {
                    let opts = opts.into_iter().filter(|o| o.id != b.id).collect::<Vec<_>>();
                    view! {
                        <h1>{b.name.clone()}</h1>
                        <section class="panel" aria-labelledby="branch-edit-title">
                            <h2 id="branch-edit-title">"Details"</h2>
                            <ActionForm action=update attr:class="form grid" attr:novalidate=true>
                                <FormError error />
                                <input type="hidden" name="id" value=b.id />
                                <Field label="Name" name="name" form="branch" error value=b.name.clone() required=true />
                                <BranchSelect form="branch" name="parent" label="Parent branch" none="(none: a top-level branch)" options=opts selected=b.parent error />
                                <Field label="Description" name="description" form="branch" error value=b.description.clone() />
                                <div class="actions">
                                    <button type="submit" class="primary">"Save changes"</button>
                                </div>
                            </ActionForm>
                        </section>
                        <section class="panel" aria-labelledby="branch-delete-title">
                            <h2 id="branch-delete-title">"Delete"</h2>
                            <FormError error=delete_error fields=&["branch"] />
                            <Confirm summary="Delete this branch…" explanation="The branch is removed. A branch with sub-branches or groups cannot be deleted: move or delete them first.">
                                <ActionForm action=delete>
                                    <input type="hidden" name="id" value=b.id />
                                    <button type="submit" class="danger">"Delete branch"</button>
                                </ActionForm>
                            </Confirm>
                        </section>
                    }
                })
            })}
        </Transition>
    }
}
