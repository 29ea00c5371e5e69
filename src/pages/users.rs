use crate::api::groups::current_default_group;
use crate::api::users::{list_users, CreateUser};
use crate::components::data_table::DataTable;
use crate::components::field::{action_error, kept, problem_id, Field, FormError};
use crate::components::layout::{show, Access, Page};
use crate::components::url::{query_page, query_text};
use crate::model::user::{Role, UserPage, UserView};
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
    let default_group = Resource::new(|| (), |_| current_default_group());
    view! {
        <div class="page-head">
            <h1>"Users"</h1>
            <div class="actions">
                <a class="button" href="/imports">"Import users"</a>
                <a class="button primary" href="#add-user">
                    "Add user"
                </a>
            </div>
        </div>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                view! { <div class="default-note"><DefaultGroupNote group=default_group.await.ok().flatten() /></div> }
            })}
        </Transition>
        <form method="get" action="/users" role="search" class="search">
            <label for="users-q">"Search users"</label>
            <input id="users-q" type="search" name="q" value=q placeholder="Login, e-mail or name starts with…" />
            <button type="submit">"Search"</button>
        </form>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move { show(users.await, move |p| view! { <UsersTable page=p query=q() /> }) })}
        </Transition>
        <AddUser create default_group />
    }
}

#[component]
fn UsersTable(page: UserPage, query: String) -> impl IntoView {
    view! {
        <DataTable
            noun="users"
            caption="Users"
            base="/users"
            query
            page
            head=|| view! {
                <th scope="col">"Login name"</th>
                <th scope="col">"Name"</th>
                <th scope="col">"E-mail"</th>
                <th scope="col">"Role"</th>
                <th scope="col">"Status"</th>
                <th scope="col"><span class="visually-hidden">"Actions"</span></th>
            }
            row=|u: UserView| view! {
                <tr>
                    <td><A href=format!("/users/{}", u.id)>{u.login.clone()}</A></td>
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
            }
        />
    }
}

/// Which group new users join, with a link to it (or that there is none).
#[component]
fn DefaultGroupNote(group: Option<(u64, String)>) -> impl IntoView {
    match group {
        Some((id, name)) => view! {
            <p class="hint">
                "New users — added here, signing up or imported — join the default group "
                <a href=format!("/groups/{id}")>{name}</a>
                " and are enrolled in its courses."
            </p>
        }
        .into_any(),
        None => view! {
            <p class="hint">
                "There is no default group: new users join no group. "
                <a href="/groups">"Choose one on the Groups page."</a>
            </p>
        }
        .into_any(),
    }
}

#[component]
fn AddUser(
    create: ServerAction<CreateUser>,
    default_group: Resource<Result<Option<(u64, String)>, AppError>>,
) -> impl IntoView {
    let error = action_error(create);
    view! {
        <section id="add-user" class="panel" aria-labelledby="add-user-title">
            <h2 id="add-user-title">"Add a user"</h2>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    view! { <div class="default-note"><DefaultGroupNote group=default_group.await.ok().flatten() /></div> }
                })}
            </Transition>
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
    let anchor = message().map(|_| problem_id("role"));
    let selected = kept(error, "role")
        .and_then(|typed| {
            [Role::Learner, Role::Admin]
                .into_iter()
                .find(|r| r.as_str() == typed)
        })
        .unwrap_or(selected);
    let err_ref = err_id.clone();
    view! {
        <div class="field" id=anchor class:invalid=move || message().is_some()>
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
