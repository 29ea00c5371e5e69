use crate::api::courses::list_courses;
use crate::api::curricula::{
    get_curriculum, list_curricula, ChangeCurriculumCourse, CreateCurriculum, DeleteCurriculum,
    EnrolInCurriculum, UpdateCurriculum,
};
use crate::api::users::list_users;
use crate::components::data_table::DataTable;
use crate::components::field::{action_done, action_error, Field, FormError};
use crate::components::layout::{show, Access, ErrorBox, Page};
use crate::components::url::{param_id, query_page, query_text};
use crate::components::widgets::{Confirm, SearchForm, UserPicker};
use crate::model::catalog::{CourseRow, CurriculumDetail, CurriculumView};
use crate::model::user::{UserPage, UserView};
use crate::model::AppError;
use crate::model::Paged;
use leptos::prelude::*;
use leptos_router::components::A;

/// `/curricula`: the curricula table and the form to add one (administrators).
#[component]
pub fn CurriculaPage() -> impl IntoView {
    view! {
        <Page title="Curricula" access=Access::Admin>
            <CurriculaList />
        </Page>
    }
}

#[component]
fn CurriculaList() -> impl IntoView {
    let q = query_text("q");
    let page = query_page();
    let create = ServerAction::<CreateCurriculum>::new();
    let rows = Resource::new(
        move || (q(), page(), create.version().get()),
        |(q, p, _)| list_curricula(q, p),
    );
    let error = action_error(create);
    view! {
        <div class="page-head"><h1>"Curricula"</h1></div>
        <p class="lead">"A curriculum is an ordered set of courses: enrolling a learner in it enrols them in each course."</p>
        <SearchForm action="/curricula".into() param="q" label="Search curricula" placeholder="Name starts with…" value=q() id="curricula-q" />
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                show(rows.await, move |p| view! {
                    <DataTable
                        noun="curricula"
                        caption="Curricula"
                        base="/curricula"
                        query=q()
                        page=p
                        head=|| view! {
                            <th scope="col">"Name"</th>
                            <th scope="col">"Courses"</th>
                            <th scope="col">"Description"</th>
                        }
                        row=|c: CurriculumView| view! {
                            <tr>
                                <td><A href=format!("/curricula/{}", c.id)>{c.name}</A></td>
                                <td class="num">{c.courses.len()}</td>
                                <td>{c.description}</td>
                            </tr>
                        }
                    />
                })
            })}
        </Transition>
        <section class="panel" aria-labelledby="add-curriculum-title">
            <h2 id="add-curriculum-title">"Add a curriculum"</h2>
            <ActionForm action=create attr:class="form grid" attr:novalidate=true>
                <FormError error />
                <Field label="Name" name="name" form="new-curriculum" error required=true />
                <Field label="Description" name="description" form="new-curriculum" error />
                <div class="actions"><button type="submit" class="primary">"Create curriculum"</button></div>
            </ActionForm>
        </section>
    }
}

/// `/curricula/:id`: a curriculum's details, its courses in order, enrolling a learner in it.
#[component]
pub fn CurriculumDetailPage() -> impl IntoView {
    view! {
        <Page title="Curriculum" access=Access::Admin>
            <CurriculumDetailView />
        </Page>
    }
}

#[component]
fn CurriculumDetailView() -> impl IntoView {
    let id = param_id("id");
    let update = ServerAction::<UpdateCurriculum>::new();
    let change = ServerAction::<ChangeCurriculumCourse>::new();
    let delete = ServerAction::<DeleteCurriculum>::new();
    let enrol = ServerAction::<EnrolInCurriculum>::new();
    // All resources of the page are created here, before any suspense (see course_detail.rs).
    let cq = query_text("cq");
    let uq = query_text("uq");
    let found_courses = Resource::new(cq, |q| async move {
        if q.trim().is_empty() {
            Ok(None)
        } else {
            list_courses(q, 1).await.map(Some)
        }
    });
    let found_users = Resource::new(uq, |q| async move {
        if q.trim().is_empty() {
            Ok(None)
        } else {
            list_users(q, 1).await.map(Some)
        }
    });
    let detail = Resource::new(
        move || (id(), update.version().get(), change.version().get()),
        |(id, ..)| async move {
            match id {
                Some(id) => get_curriculum(id).await,
                None => Err(AppError::not_found("Curriculum")),
            }
        },
    );
    view! {
        <p class="breadcrumb"><A href="/curricula">"← All curricula"</A></p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                show(detail.await, move |d| view! {
                    <h1>{d.curriculum.name.clone()}</h1>
                    <CurriculumForm detail=d.clone() update />
                    <CurriculumCourses detail=d.clone() change found=found_courses cq=cq() />
                    <EnrolLearner id=d.curriculum.id enrol found=found_users uq=uq() />
                    <section class="panel" aria-labelledby="cur-delete-title">
                        <h2 id="cur-delete-title">"Delete"</h2>
                        <Confirm summary="Delete this curriculum…" explanation="The curriculum goes; its courses and everyone's enrolments and progress stay.">
                            <ActionForm action=delete>
                                <input type="hidden" name="id" value=d.curriculum.id />
                                <button type="submit" class="danger">"Delete curriculum"</button>
                            </ActionForm>
                        </Confirm>
                    </section>
                })
            })}
        </Transition>
    }
}

#[component]
fn CurriculumForm(
    detail: CurriculumDetail,
    update: ServerAction<UpdateCurriculum>,
) -> impl IntoView {
    let error = action_error(update);
    let c = detail.curriculum;
    view! {
        <section class="panel" aria-labelledby="cur-details-title">
            <h2 id="cur-details-title">"Details"</h2>
            <ActionForm action=update attr:class="form grid" attr:novalidate=true>
                <FormError error />
                <input type="hidden" name="id" value=c.id />
                <Field label="Name" name="name" form="curriculum" error value=c.name required=true />
                <Field label="Description" name="description" form="curriculum" error value=c.description />
                <div class="actions">
                    <button type="submit" class="primary">"Save changes"</button>
                </div>
            </ActionForm>
        </section>
    }
}

#[component]
fn CurriculumCourses(
    detail: CurriculumDetail,
    change: ServerAction<ChangeCurriculumCourse>,
    found: Resource<Result<Option<Paged<CourseRow>>, AppError>>,
    cq: String,
) -> impl IntoView {
    let error = action_error(change);
    let id = detail.curriculum.id;
    let count = detail.courses.len();
    let present = detail.curriculum.courses.clone();
    let button =
        move |course: u64, op: &'static str, label: &'static str, aria: String, disabled: bool| {
            view! {
                <ActionForm action=change>
                    <input type="hidden" name="id" value=id />
                    <input type="hidden" name="course" value=course />
                    <input type="hidden" name="op" value=op />
                    <button type="submit" disabled=disabled aria-label=aria>{label}</button>
                </ActionForm>
            }
        };
    view! {
        <section class="panel" aria-labelledby="cur-courses-title">
            <h2 id="cur-courses-title">"Courses"</h2>
            <FormError error />
            {(count == 0).then(|| view! { <p class="empty-state">"No courses yet. Find courses below to add them."</p> })}
            <ol class="lessons">
                {detail.courses.into_iter().enumerate().map(|(i, c)| {
                    let code = c.code.clone();
                    view! {
                    <li>
                        <div class="lesson-row">
                            <span class="lesson-title"><A href=format!("/courses/{}", c.id)>{c.code}</A> " " {c.title}</span>
                            <div class="row-actions">
                                {button(c.id, "up", "↑", format!("Move {code} up"), i == 0)}
                                {button(c.id, "down", "↓", format!("Move {code} down"), i + 1 == count)}
                                {button(c.id, "remove", "Remove", format!("Remove {code} from the curriculum"), false)}
                            </div>
                        </div>
                    </li>
                    }
                }).collect_view()}
            </ol>
            <h3>"Add courses"</h3>
            <SearchForm action=format!("/curricula/{id}") param="cq" label="Find courses to add" placeholder="Code or title starts with…" value=cq id="cur-course-q" />
            <Transition fallback=|| ()>
                {move || {
                    let present = present.clone();
                    Suspend::new(async move {
                        match found.await {
                            Ok(Some(p)) if p.rows.is_empty() => view! { <p class="muted">"No course matches."</p> }.into_any(),
                            Ok(Some(p)) => view! {
                                <ul class="picker">
                                    {p.rows.into_iter().map(|c| {
                                        let there = present.contains(&c.id);
                                        view! {
                                            <li>
                                                <span>{c.code.clone()} " " <span class="muted">{c.title.clone()}</span></span>
                                                {if there {
                                                    view! { <span class="muted">"In the curriculum"</span> }.into_any()
                                                } else {
                                                    button(c.id, "add", "Add", format!("Add {}", c.code), false).into_any()
                                                }}
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            }.into_any(),
                            Ok(None) => view! { <p class="hint">"Search above to find courses to add."</p> }.into_any(),
                            Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                        }
                    })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn EnrolLearner(
    id: u64,
    enrol: ServerAction<EnrolInCurriculum>,
    found: Resource<Result<Option<UserPage>, AppError>>,
    uq: String,
) -> impl IntoView {
    let error = action_error(enrol);
    let enrolled = action_done(enrol);
    view! {
        <section class="panel" aria-labelledby="cur-enrol-title">
            <h2 id="cur-enrol-title">"Enrol a learner in every course"</h2>
            <FormError error />
            {move || enrolled.get().then(|| view! {
                <p class="notice" role="status">
                    "Enrolled in every course of the curriculum (courses they were already in, and archived ones, stay as they were)."
                </p>
            })}
            <SearchForm action=format!("/curricula/{id}") param="uq" label="Find users to enrol" placeholder="Login, e-mail or name starts with…" value=uq id="cur-user-q" />
            <UserPicker found action=move |u: UserView| view! {
                <ActionForm action=enrol>
                    <input type="hidden" name="id" value=id />
                    <input type="hidden" name="user" value=u.id />
                    <button type="submit" aria-label=format!("Enrol {}", u.login)>"Enrol"</button>
                </ActionForm>
            } />
        </section>
    }
}
