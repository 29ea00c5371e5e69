use crate::api::users::{list_users, CreateUser};
use crate::components::field::{action_error, Field, FormError};
use crate::components::layout::{show, Access, Page};
use crate::components::pager::Pager;
use crate::components::url::{query_page, query_text};
use crate::model::user::{Role, UserPage};
use crate::model::AppError;
use leptos::prelude::*;
use leptos_router::components::A;

/// `/users`: the users table with search and pages, and the form to add a user (administrators).
#[component]
pub fn UsersPage() -> impl IntoView {
    view! {
        <Page title="Users" access=Access::Admin>
            <UsersList />
        </Page>
    }
}

#[component]
fn UsersList() -> impl IntoView {
    let q = query_text("q");
    let page = query_page();
    let create = ServerAction::<CreateUser>::new();
    let users = Resource::new(
        move || (q(), page(), create.version().get()),
        |(q, page, _)| list_users(q, page),
    );
    view! {
        <div class="page-head">
            <h1>"Users"</h1>
            <a class="button primary" href="#add-user">
                "Add user"
            </a>
        </div>
        <form method="get" action="/users" role="search" class="search">
            <label for="users-q">"Search users"</label>
            <input id="users-q" type="search" name="q" value=q placeholder="Login, e-mail or name starts with…" />
            <button type="submit">"Search"</button>
        </form>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move { show(users.await, move |p| view! { <UsersTable page=p query=q() /> }) })}
        </Transition>
        <AddUser create />
    }
}

#[component]
fn UsersTable(page: UserPage, query: String) -> impl IntoView {
    if page.rows.is_empty() {
        let text = if query.is_empty() {
            "No users yet."
        } else {
            "No user matches this search."
        };
        return view! { <p class="empty-state">{text}</p> }.into_any();
    }
    view! {
        <table class="data">
            <caption class="visually-hidden">"Users"</caption>
            <thead>
                <tr>
                    <th scope="col">"Login name"</th>
                    <th scope="col">"Name"</th>
                    <th scope="col">"E-mail"</th>
                    <th scope="col">"Role"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">
                        <span class="visually-hidden">"Actions"</span>
                    </th>
                </tr>
            </thead>
            <tbody>
                <For each=move || page.rows.clone() key=|u| u.id let:u>
                    <tr>
                        <td>
                            <A href=format!("/users/{}", u.id)>{u.login.clone()}</A>
                        </td>
                        <td>{u.display_name.clone()}</td>
                        <td>{u.email.clone()}</td>
                        <td>{u.role.label()}</td>
                        <td>
                            {if u.active {
                                view! { <span class="badge ok">"Active"</span> }
                            } else {
                                view! { <span class="badge off">"Inactive"</span> }
                            }}
                        </td>
                        <td>
                            <A href=format!("/users/{}", u.id) attr:aria-label=format!("Edit {}", u.display_name)>
                                "Edit"
                            </A>
                        </td>
                    </tr>
                </For>
            </tbody>
        </table>
        <Pager base="/users" query page=page.page per_page=page.per_page total=page.total capped=page.total_is_capped />
    }
    .into_any()
}

#[component]
fn AddUser(create: ServerAction<CreateUser>) -> impl IntoView {
    let error = action_error(create);
    view! {
        <section id="add-user" class="panel" aria-labelledby="add-user-title">
            <h2 id="add-user-title">"Add a user"</h2>
            <ActionForm action=create attr:class="form grid" attr:novalidate=true>
                <FormError error />
                <Field label="Login name" name="login" form="new-user" error autocomplete="off" required=true />
                <Field label="E-mail" name="email" form="new-user" kind="email" error autocomplete="off" required=true />
                <Field label="Display name" name="display_name" form="new-user" error autocomplete="off" required=true />
                <RoleSelect form="new-user" selected=Role::Learner error />
                <Field
                    label="Initial password"
                    name="password"
                    form="new-user"
                    kind="password"
                    error
                    autocomplete="new-password"
                    hint="8 to 128 characters. Tell the user; they can log in with it at once."
                    required=true
                />
                <Field
                    label="Initial password again"
                    name="password_confirm"
                    form="new-user"
                    kind="password"
                    error
                    autocomplete="new-password"
                    required=true
                />
                <div class="actions">
                    <button type="submit" class="primary">
                        "Create user"
                    </button>
                </div>
            </ActionForm>
        </section>
    }
}

/// The role picker shared by the create and edit forms.
#[component]
pub fn RoleSelect(
    form: &'static str,
    selected: Role,
    error: Signal<Option<AppError>>,
) -> impl IntoView {
    let id = format!("{form}-role");
    let err_id = format!("{id}-error");
    let message = move || error.get().and_then(|e| e.field_message("role"));
    let err_ref = err_id.clone();
    view! {
        <div class="field" class:invalid=move || message().is_some()>
            <label for=id.clone()>"Role"</label>
            <select
                id=id
                name="role"
                aria-invalid=move || message().map(|_| "true")
                aria-describedby=move || message().map(|_| err_ref.clone())
            >
                {[Role::Learner, Role::Admin]
                    .into_iter()
                    .map(|r| view! { <option value=r.as_str() selected=r == selected>{r.label()}</option> })
                    .collect_view()}
            </select>
            {move || message().map(|m| view! { <p class="field-error" id=err_id.clone()>{m}</p> })}
        </div>
    }
}
