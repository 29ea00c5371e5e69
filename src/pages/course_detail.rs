use crate::api::courses::{
    course_enrolments, get_course, ChangeLesson, DeleteCourse, EnrolUser, UnenrolUser, UpdateCourse,
};
use crate::api::users::list_users;
use crate::components::data_table::DataTable;
use crate::components::field::{action_error, error_where, kept_checked, Field, FormError};
use crate::components::layout::{show, Access, Page};
use crate::components::url::{param_id, query_page, query_text};
use crate::components::widgets::{date, Confirm, ProgressBar, SearchForm, UserPicker};
use crate::model::catalog::{CourseStatus, CourseView, EnrolmentRow};
use crate::model::user::{UserPage, UserView};
use crate::model::AppError;
use crate::model::Paged;
use leptos::prelude::*;
use leptos_router::components::A;

/// `/courses/:id`: a course's details, lessons and enrolments (administrators).
#[component]
pub fn CourseDetailPage() -> impl IntoView {
    view! {
        <Page title="Course" access=Access::Admin>
            <CourseDetail />
        </Page>
    }
}

#[component]
fn CourseDetail() -> impl IntoView {
    let id = param_id("id");
    let update = ServerAction::<UpdateCourse>::new();
    let lessons = ServerAction::<ChangeLesson>::new();
    let delete = ServerAction::<DeleteCourse>::new();
    let enrol = ServerAction::<EnrolUser>::new();
    let unenrol = ServerAction::<UnenrolUser>::new();
    // Every resource of the page is created here, before any suspense: resources created inside
    // a resolved <Transition> hydrate unreliably.
    let uq = query_text("uq");
    let page = query_page();
    let rows = Resource::new(
        move || (id(), page(), enrol.version().get(), unenrol.version().get()),
        |(id, p, ..)| async move {
            match id {
                Some(id) => course_enrolments(id, p).await,
                None => Err(AppError::not_found("Course")),
            }
        },
    );
    let found = Resource::new(uq, |q| async move {
        if q.trim().is_empty() {
            Ok(None)
        } else {
            list_users(q, 1).await.map(Some)
        }
    });
    let course = Resource::new(
        move || {
            (
                id(),
                update.version().get(),
                lessons.version().get(),
                enrol.version().get(),
                unenrol.version().get(),
            )
        },
        |(id, ..)| async move {
            match id {
                Some(id) => get_course(id).await,
                None => Err(AppError::not_found("Course")),
            }
        },
    );
    view! {
        <p class="breadcrumb"><A href="/courses">"← All courses"</A></p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                show(course.await, move |c| view! {
                    <div class="page-head">
                        <h1>{c.title.clone()}</h1>
                        {match c.status {
                            CourseStatus::Active => view! { <span class="badge ok">"Active"</span> },
                            CourseStatus::Archived => view! { <span class="badge off">"Archived"</span> },
                        }}
                    </div>
                    <CourseForm course=c.clone() update />
                    <Lessons course=c.clone() change=lessons />
                    <Enrolments course=c.id archived=c.status == CourseStatus::Archived enrol unenrol rows found uq=uq() />
                    <DeleteCourseSection id=c.id delete />
                })
            })}
        </Transition>
    }
}

#[component]
fn CourseForm(course: CourseView, update: ServerAction<UpdateCourse>) -> impl IntoView {
    let error = action_error(update);
    view! {
        <section class="panel" aria-labelledby="course-details-title">
            <h2 id="course-details-title">"Details"</h2>
            <ActionForm action=update attr:class="form grid" attr:novalidate=true>
                <FormError error />
                <input type="hidden" name="id" value=course.id />
                <Field label="Code" name="code" form="course" error value=course.code.clone() required=true />
                <Field label="Title" name="title" form="course" error value=course.title.clone() required=true />
                <Field label="Description" name="description" form="course" error value=course.description.clone() />
                <div class="check">
                    <input type="checkbox" id="course-archived" name="archived" value="on" checked=kept_checked(error, "archived").unwrap_or(course.status == CourseStatus::Archived) />
                    <label for="course-archived">"Archived (no new enrolments)"</label>
                </div>
                <div class="actions">
                    <button type="submit" class="primary">"Save changes"</button>
                </div>
            </ActionForm>
        </section>
    }
}

#[component]
fn Lessons(course: CourseView, change: ServerAction<ChangeLesson>) -> impl IntoView {
    let error = action_error(change);
    let count = course.lessons.len();
    let cid = course.id;
    view! {
        <section class="panel" aria-labelledby="lessons-title">
            <h2 id="lessons-title">"Lessons"</h2>
            <FormError error />
            {(count == 0).then(|| view! { <p class="empty-state">"No lessons yet. Add the first one below."</p> })}
            <ol class="lessons">
                {course.lessons.into_iter().enumerate().map(|(i, l)| {
                    let form_id = format!("lesson-{}", l.id);
                    let up_label = format!("Move “{}” up", l.title);
                    let down_label = format!("Move “{}” down", l.title);
                    let remove_label = format!("Remove “{}”", l.title);
                    let edit_label = format!("Edit “{}”", l.title);
                    let error = error_where(error, "lesson", l.id.to_string());
                    let refused = error.get_untracked().is_some();
                    view! {
                        <li>
                            <div class="lesson-row">
                                <span class="lesson-title">{l.title.clone()}</span>
                                <div class="row-actions">
                                    <ActionForm action=change>
                                        <input type="hidden" name="course" value=cid />
                                        <input type="hidden" name="lesson" value=l.id />
                                        <input type="hidden" name="op" value="move" />
                                        <input type="hidden" name="by" value="-1" />
                                        <button type="submit" disabled=i == 0 aria-label=up_label>"↑"</button>
                                    </ActionForm>
                                    <ActionForm action=change>
                                        <input type="hidden" name="course" value=cid />
                                        <input type="hidden" name="lesson" value=l.id />
                                        <input type="hidden" name="op" value="move" />
                                        <input type="hidden" name="by" value="1" />
                                        <button type="submit" disabled=i + 1 == count aria-label=down_label>"↓"</button>
                                    </ActionForm>
                                    <ActionForm action=change>
                                        <input type="hidden" name="course" value=cid />
                                        <input type="hidden" name="lesson" value=l.id />
                                        <input type="hidden" name="op" value="remove" />
                                        <button type="submit" class="danger-text" aria-label=remove_label>"Remove"</button>
                                    </ActionForm>
                                </div>
                            </div>
                            <details class="edit" open=refused>
                                <summary>{edit_label}</summary>
                                <ActionForm action=change attr:class="form" attr:novalidate=true>
                                    <input type="hidden" name="course" value=cid />
                                    <input type="hidden" name="lesson" value=l.id />
                                    <input type="hidden" name="op" value="edit" />
                                    <Field label="Lesson title" name="title" form=form_id.clone() error value=l.title.clone() required=true />
                                    <Field label="Text" name="text" form=form_id kind="textarea" error value=l.text.clone() />
                                    <button type="submit">"Save lesson"</button>
                                </ActionForm>
                            </details>
                        </li>
                    }
                }).collect_view()}
            </ol>
            <section aria-labelledby="add-lesson-title">
                <h3 id="add-lesson-title">"Add a lesson"</h3>
                {
                    let error = error_where(error, "op", "add".to_string());
                    view! {
                <ActionForm action=change attr:class="form" attr:novalidate=true>
                    <input type="hidden" name="course" value=cid />
                    <input type="hidden" name="op" value="add" />
                    <Field label="Lesson title" name="title" form="new-lesson" error required=true />
                    <Field label="Text" name="text" form="new-lesson" kind="textarea" error hint="Plain text; line breaks are kept." />
                    <button type="submit" class="primary">"Add lesson"</button>
                </ActionForm>
                    }
                }
            </section>
        </section>
    }
}

#[component]
fn Enrolments(
    course: u64,
    archived: bool,
    enrol: ServerAction<EnrolUser>,
    unenrol: ServerAction<UnenrolUser>,
    rows: Resource<Result<Paged<EnrolmentRow>, AppError>>,
    found: Resource<Result<Option<UserPage>, AppError>>,
    uq: String,
) -> impl IntoView {
    let enrol_error = action_error(enrol);
    let unenrol_error = action_error(unenrol);
    view! {
            <section class="panel" aria-labelledby="enrolments-title">
                <h2 id="enrolments-title">"Enrolled learners"</h2>
                <FormError error=unenrol_error />
                <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        show(rows.await, move |p| view! {
                            <DataTable
                                noun="enrolled learners"
                                caption="Enrolled learners"
                                base=format!("/courses/{course}")
                                query=String::new()
                                page=p
                                empty="Nobody is enrolled yet."
                                class="stack"
                                head=|| view! {
                                    <th scope="col" role="columnheader">"Learner"</th>
                                    <th scope="col" role="columnheader">"Enrolled"</th>
                                    <th scope="col" role="columnheader">"How"</th>
                                    <th scope="col" role="columnheader">"Progress"</th>
                                    <th scope="col" role="columnheader"><span class="visually-hidden">"Actions"</span></th>
                                }
                                row=move |e: EnrolmentRow| {
                                            let label = format!("Progress of {}", e.display_name);
                                            view! {
                                                <tr role="row">
                                                    <td role="cell" class="row-title">{e.display_name.clone()} " " <span class="muted">{format!("({})", e.login)}</span></td>
                                                    <td role="cell" data-label="Enrolled">{date(e.enrolled_at)}</td>
                                                    <td role="cell" data-label="How">{e.source.label()}</td>
                                                    <td role="cell" data-label="Progress"><ProgressBar progress=e.progress.clone() label /></td>
                                                    <td role="cell">
                                                        <Confirm summary=format!("Unenrol {}…", e.login) explanation="Their progress is kept unless you tick the box; enrolling them again brings it back.">
                                                            <ActionForm action=unenrol attr:class="form">
                                                                <input type="hidden" name="course" value=course />
                                                                <input type="hidden" name="user" value=e.user_id />
                                                                <div class="check">
                                                                    <input type="checkbox" id=format!("del-{}", e.user_id) name="delete_progress" value="on" />
                                                                    <label for=format!("del-{}", e.user_id)>"Also delete their progress"</label>
                                                                </div>
                                                                <button type="submit" class="danger">"Unenrol"</button>
                                                            </ActionForm>
                                                        </Confirm>
                                                    </td>
                                                </tr>
                                            }
    }
                            />
                        })
                    })}
                </Transition>
                <h3>"Enrol learners"</h3>
                {archived.then(|| view! { <p class="hint">"This course is archived: it takes no new enrolments."</p> })}
                <FormError error=enrol_error fields=&["course"] />
                <SearchForm action=format!("/courses/{course}") param="uq" label="Find users to enrol" placeholder="Login, e-mail or name starts with…" value=uq id="enrol-q" />
                <UserPicker found action=move |u: UserView| view! {
                    <ActionForm action=enrol>
                        <input type="hidden" name="course" value=course />
                        <input type="hidden" name="user" value=u.id />
                        <button type="submit" aria-label=format!("Enrol {}", u.login)>"Enrol"</button>
                    </ActionForm>
                } />
            </section>
        }
}

#[component]
fn DeleteCourseSection(id: u64, delete: ServerAction<DeleteCourse>) -> impl IntoView {
    let error = action_error(delete);
    view! {
        <section class="panel" aria-labelledby="course-delete-title">
            <h2 id="course-delete-title">"Delete"</h2>
            <FormError error fields=&["course"] />
            <Confirm summary="Delete this course…" explanation="Only a course nobody is enrolled in can be deleted; it also leaves every curriculum. Archive a course to keep its history.">
                <ActionForm action=delete>
                    <input type="hidden" name="id" value=id />
                    <button type="submit" class="danger">"Delete course"</button>
                </ActionForm>
            </Confirm>
        </section>
    }
}
