use super::users::RoleSelect;
use crate::api::users::{get_user, ResetPassword, SetUserActive, UpdateUser};
use crate::components::field::{action_error, Field, FormError};
use crate::components::layout::{show, Access, Page};
use crate::components::url::param_id;
use crate::model::user::UserView;
use crate::model::AppError;
use leptos::prelude::*;
use leptos_router::components::A;

/// `/users/:id`: edit a user, deactivate or reactivate them, reset their password; their
/// courses across their groups with status and progress (administrators).
#[component]
pub fn UserDetailPage() -> impl IntoView {
    view! {
        <Page title="User" access=Access::Admin>
            <UserDetail />
        </Page>
    }
}

#[component]
fn UserDetail() -> impl IntoView {
    let id = param_id("id");
    let update = ServerAction::<UpdateUser>::new();
    let activate = ServerAction::<SetUserActive>::new();
    let reset = ServerAction::<ResetPassword>::new();
    let user = Resource::new(
        move || (id(), update.version().get(), activate.version().get()),
        |(id, _, _)| async move {
            match id {
                Some(id) => get_user(id).await,
                None => Err(AppError::not_found("User")),
            }
        },
    );
    view! {
        <p class="breadcrumb">
            <A href="/users">"← All users"</A>
        </p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                show(user.await, move |u| view! { <UserForms user=u update activate reset /> })
            })}
        </Transition>
        <LearnerReport />
    }
}

/// The user's courses across all their groups (and any other enrolment), with status,
/// progress and completion date.
#[component]
fn LearnerReport() -> impl IntoView {
    use crate::components::widgets::date;
    use crate::model::report::{cell_label, cell_percent};
    let id = param_id("id");
    let rows = Resource::new(id, |id| async move {
        match id {
            Some(id) => crate::api::reports::learner_report(id).await,
            None => Err(AppError::not_found("User")),
        }
    });
    view! {
        <section class="panel" aria-labelledby="learner-report-title">
            <h2 id="learner-report-title">"Courses and progress"</h2>
            <p class="hint">"Every course the user's groups give, and any other course they are enrolled in."</p>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    show(rows.await, |rows| {
                        if rows.is_empty() {
                            return view! { <p class="empty-state">"No courses: the user is in no group that gives one, and enrolled in none."</p> }.into_any();
                        }
                        view! {
                            <div class="table-wrap" role="region" aria-label="Table of the user's courses" tabindex="0">
                                <table class="data">
                                    <caption class="visually-hidden">"The user's courses"</caption>
                                    <thead>
                                        <tr>
                                            <th scope="col">"Course"</th>
                                            <th scope="col">"Groups"</th>
                                            <th scope="col">"Status"</th>
                                            <th scope="col">"Progress"</th>
                                            <th scope="col">"Completed on"</th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {rows.into_iter().map(|r| {
                                            let groups = if r.groups.is_empty() { "—".to_string() } else { r.groups.join(", ") };
                                            view! {
                                                <tr>
                                                    <td><A href=format!("/courses/{}", r.course_id)>{r.code.clone()}</A> " " <span class="muted">{r.title.clone()}</span></td>
                                                    <td>{groups}</td>
                                                    <td>{cell_label(&r.cell)}</td>
                                                    <td class="num">{r.cell.as_ref().map(|p| format!("{} % ({} / {} lessons)", cell_percent(p), p.done, p.total))}</td>
                                                    <td>{r.cell.as_ref().and_then(|p| p.completed_at).map(date)}</td>
                                                </tr>
                                            }
                                        }).collect_view()}
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

#[component]
fn UserForms(
    user: UserView,
    update: ServerAction<UpdateUser>,
    activate: ServerAction<SetUserActive>,
    reset: ServerAction<ResetPassword>,
) -> impl IntoView {
    let update_error = action_error(update);
    let activate_error = action_error(activate);
    let reset_error = action_error(reset);
    let id = user.id;
    view! {
        <div class="page-head">
            <h1>{user.display_name.clone()}</h1>
            {if user.active {
                view! { <span class="badge ok">"Active"</span> }
            } else {
                view! { <span class="badge off">"Inactive"</span> }
            }}
        </div>
        <section class="panel" aria-labelledby="edit-title">
            <h2 id="edit-title">"Details"</h2>
            <ActionForm action=update attr:class="form grid" attr:novalidate=true>
                <FormError error=update_error />
                <input type="hidden" name="id" value=id />
                <Field label="Login name" name="login" form="edit" error=update_error value=user.login.clone() required=true />
                <Field label="E-mail" name="email" form="edit" kind="email" error=update_error value=user.email.clone() required=true />
                <Field label="Display name" name="display_name" form="edit" error=update_error value=user.display_name.clone() required=true />
                <RoleSelect form="edit" selected=user.role error=update_error />
                <div class="actions">
                    <button type="submit" class="primary">
                        "Save changes"
                    </button>
                </div>
            </ActionForm>
        </section>
        <section class="panel" aria-labelledby="access-title">
            <h2 id="access-title">"Access"</h2>
            <ActionForm action=activate attr:class="form" attr:novalidate=true>
                <input type="hidden" name="id" value=id />
                <input type="hidden" name="active" value=if user.active { "false" } else { "true" } />
                <FormError error=activate_error fields=&["active"] />
                {if user.active {
                    view! {
                        <p>"Deactivated users cannot log in, and their open sessions end at once."</p>
                        <button type="submit" class="danger">
                            "Deactivate user"
                        </button>
                    }
                        .into_any()
                } else {
                    view! {
                        <p>"This user cannot log in. Reactivate to let them log in again."</p>
                        <button type="submit">"Reactivate user"</button>
                    }
                        .into_any()
                }}
            </ActionForm>
        </section>
        <section class="panel" aria-labelledby="reset-title">
            <h2 id="reset-title">"Reset password"</h2>
            <ActionForm action=reset attr:class="form grid" attr:novalidate=true>
                <FormError error=reset_error />
                <input type="hidden" name="id" value=id />
                <Field
                    label="New password"
                    name="password"
                    form="reset"
                    kind="password"
                    error=reset_error
                    autocomplete="new-password"
                    hint="The user's open sessions end."
                    required=true
                />
                <Field
                    label="New password again"
                    name="password_confirm"
                    form="reset"
                    kind="password"
                    error=reset_error
                    autocomplete="new-password"
                    required=true
                />
                <div class="actions">
                    <button type="submit">"Set new password"</button>
                </div>
            </ActionForm>
        </section>
    }
}
