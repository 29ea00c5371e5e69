use crate::api::courses::{list_courses, CreateCourse};
use crate::components::data_table::DataTable;
use crate::components::field::{action_error, Field, FormError};
use crate::components::layout::{show, Access, Page};
use crate::components::url::{query_page, query_text};
use crate::components::widgets::SearchForm;
use crate::model::catalog::{CourseRow, CourseStatus};
use crate::model::number::count;
use leptos::prelude::*;
use leptos_router::components::A;

/// `/courses`: the courses table and the form to add one (administrators).
#[component]
pub fn CoursesPage() -> impl IntoView {
    view! {
        <Page title="Courses" access=Access::Admin>
            <CoursesList />
        </Page>
    }
}

#[component]
fn CoursesList() -> impl IntoView {
    let q = query_text("q");
    let page = query_page();
    let create = ServerAction::<CreateCourse>::new();
    let rows = Resource::new(
        move || (q(), page(), create.version().get()),
        |(q, p, _)| list_courses(q, p),
    );
    let error = action_error(create);
    view! {
        <div class="page-head">
            <h1>"Courses"</h1>
        </div>
        <SearchForm action="/courses".into() param="q" label="Search courses" placeholder="Code or title starts with…" value=q() id="courses-q" />
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                show(rows.await, move |p| view! {
                    <DataTable
                        noun="courses"
                        caption="Courses"
                        base="/courses"
                        query=q()
                        page=p
                        head=|| view! {
                            <th scope="col">"Code"</th>
                            <th scope="col">"Title"</th>
                            <th scope="col">"Lessons"</th>
                            <th scope="col">"Enrolled"</th>
                            <th scope="col">"Status"</th>
                        }
                        row=|c: CourseRow| view! {
                            <tr>
                                <td><A href=format!("/courses/{}", c.id)>{c.code}</A></td>
                                <td>{c.title}</td>
                                <td class="num">{c.lessons}</td>
                                <td class="num">{count(c.enrolled)}</td>
                                <td>{match c.status {
                                    CourseStatus::Active => view! { <span class="badge ok">"Active"</span> },
                                    CourseStatus::Archived => view! { <span class="badge off">"Archived"</span> },
                                }}</td>
                            </tr>
                        }
                    />
                })
            })}
        </Transition>
        <section class="panel" aria-labelledby="add-course-title">
            <h2 id="add-course-title">"Add a course"</h2>
            <ActionForm action=create attr:class="form grid" attr:novalidate=true>
                <FormError error />
                <Field label="Code" name="code" form="new-course" error hint="Unique, e.g. PHY-101." required=true />
                <Field label="Title" name="title" form="new-course" error required=true />
                <Field label="Description" name="description" form="new-course" error />
                <div class="actions">
                    <button type="submit" class="primary">"Create course"</button>
                </div>
            </ActionForm>
        </section>
    }
}
