use crate::api::learning::my_courses;
use crate::components::auth::AuthCtx;
use crate::components::layout::{show, Access, Page};
use crate::components::widgets::ProgressBar;
use crate::model::catalog::MyCourse;
use crate::model::AppError;
use leptos::prelude::*;

/// `/`: the administrator's overview, or the learner's own courses.
#[component]
pub fn HomePage() -> impl IntoView {
    let auth = expect_context::<AuthCtx>();
    // Created before any suspense so it hydrates reliably (see course_detail.rs).
    let courses = Resource::new(|| (), |_| my_courses());
    view! {
        <Page title="Home" access=Access::SignedIn>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match auth.me.await {
                        Ok(Some(me)) if me.is_admin() => view! { <AdminHome name=me.display_name /> }.into_any(),
                        Ok(Some(me)) => view! { <LearnerHome name=me.display_name courses /> }.into_any(),
                        _ => ().into_any(),
                    }
                })}
            </Transition>
        </Page>
    }
}

#[component]
fn AdminHome(name: String) -> impl IntoView {
    view! {
        <h1>"Administration"</h1>
        <p class="lead">"Welcome, " {name} "."</p>
        <ul class="tiles">
            <li>
                <a class="tile" href="/users">
                    <strong>"Users"</strong>
                    <span>"Create accounts, change roles, deactivate and reset passwords."</span>
                </a>
            </li>
            <li>
                <a class="tile" href="/branches">
                    <strong>"Branches"</strong>
                    <span>"Schools, departments and sites, nested as you need."</span>
                </a>
            </li>
            <li>
                <a class="tile" href="/courses">
                    <strong>"Courses"</strong>
                    <span>"Courses and their lessons; enrol learners and follow their progress."</span>
                </a>
            </li>
            <li>
                <a class="tile" href="/curricula">
                    <strong>"Curricula"</strong>
                    <span>"Ordered sets of courses to enrol learners in at once."</span>
                </a>
            </li>
            <li>
                <a class="tile" href="/settings">
                    <strong>"Settings"</strong>
                    <span>"Decide whether people may sign up by themselves."</span>
                </a>
            </li>
        </ul>
    }
}

/// Courses under the curriculum they came from (`None`: enrolled one by one).
type CourseGroup = (Option<(u64, String)>, Vec<MyCourse>);

#[component]
fn LearnerHome(name: String, courses: Resource<Result<Vec<MyCourse>, AppError>>) -> impl IntoView {
    view! {
        <h1>"My courses"</h1>
        <p class="lead">"Welcome, " {name} "."</p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                show(courses.await, |list| {
                    if list.is_empty() {
                        return view! {
                            <section class="empty-state">
                                <p>"You are not enrolled in any course yet."</p>
                                <p class="hint">"Your courses appear here as soon as an administrator enrols you."</p>
                                <p><a href="/join">"Have a group key? Join a group"</a></p>
                            </section>
                        }
                        .into_any();
                    }
                    // Group by curriculum, keeping first-seen order; single courses last.
                    let mut groups: Vec<CourseGroup> = Vec::new();
                    for c in list {
                        match groups.iter_mut().find(|(k, _)| *k == c.curriculum) {
                            Some((_, v)) => v.push(c),
                            None => groups.push((c.curriculum.clone(), vec![c])),
                        }
                    }
                    groups.sort_by_key(|(k, _)| k.is_none());
                    groups
                        .into_iter()
                        .map(|(k, courses)| {
                            let heading = k.map(|(_, name)| name).unwrap_or_else(|| "Courses".to_string());
                            view! {
                                <section class="course-group">
                                    <h2>{heading}</h2>
                                    <ul class="course-cards">
                                        {courses.into_iter().map(|c| view! {
                                            <li class="course-card">
                                                <a href=format!("/learn/{}", c.course_id)>
                                                    <strong>{c.title.clone()}</strong>
                                                    <span class="muted">{c.code.clone()}</span>
                                                </a>
                                                <ProgressBar progress=c.progress.clone() label=format!("Progress in {}", c.title) />
                                            </li>
                                        }).collect_view()}
                                    </ul>
                                </section>
                            }
                        })
                        .collect_view()
                        .into_any()
                })
            })}
        </Transition>
    }
}
