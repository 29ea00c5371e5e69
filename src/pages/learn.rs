use crate::api::learning::{course_for_learner, MarkLesson};
use crate::components::layout::{show, Access, Page};
use crate::components::url::param_id;
use crate::components::widgets::ProgressBar;
use crate::model::catalog::ProgressStatus;
use crate::model::AppError;
use leptos::prelude::*;
use leptos_router::components::A;

/// `/learn/:course`: a course the learner is enrolled in, its lessons in order and their
/// progress. Others get "not found".
#[component]
pub fn LearnerCoursePage() -> impl IntoView {
    view! {
        <Page title="Course" access=Access::SignedIn>
            <LearnerCourseView />
        </Page>
    }
}

#[component]
fn LearnerCourseView() -> impl IntoView {
    let course_id = param_id("course");
    let course = Resource::new(course_id, |id| async move {
        match id {
            Some(id) => course_for_learner(id).await,
            None => Err(AppError::not_found("Course")),
        }
    });
    view! {
        <p class="breadcrumb"><A href="/">"← My courses"</A></p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                show(course.await, |c| view! {
                    <h1>{c.title.clone()}</h1>
                    <p class="muted">{c.code.clone()}</p>
                    {(!c.description.is_empty()).then(|| view! { <p class="lead">{c.description.clone()}</p> })}
                    <ProgressBar progress=c.progress.clone() label="Your progress in this course" />
                    {(c.progress.status == ProgressStatus::Completed).then(|| view! {
                        <p class="notice" role="status">"You have completed this course."</p>
                    })}
                    <h2>"Lessons"</h2>
                    {c.lessons.is_empty().then(|| view! { <p class="empty-state">"This course has no lessons yet."</p> })}
                    <ol class="lesson-list">
                        {c.lessons.clone().into_iter().map(|l| {
                            let done = c.done.contains(&l.id);
                            view! {
                                <li class:done=done>
                                    <A href=format!("/learn/{}/{}", c.id, l.id)>{l.title}</A>
                                    {done.then(|| view! { <span class="badge ok">"Done"</span> })}
                                </li>
                            }
                        }).collect_view()}
                    </ol>
                })
            })}
        </Transition>
    }
}

/// `/learn/:course/:lesson`: one lesson's text, "Mark as done" (and undo), previous / next.
#[component]
pub fn LessonPage() -> impl IntoView {
    view! {
        <Page title="Lesson" access=Access::SignedIn>
            <LessonView />
        </Page>
    }
}

#[component]
fn LessonView() -> impl IntoView {
    let course_id = param_id("course");
    let lesson_id = param_id("lesson");
    let mark = ServerAction::<MarkLesson>::new();
    let course = Resource::new(
        move || (course_id(), mark.version().get()),
        |(id, _)| async move {
            match id {
                Some(id) => course_for_learner(id).await,
                None => Err(AppError::not_found("Course")),
            }
        },
    );
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let lesson = lesson_id();
                show(course.await, move |c| {
                    let Some(i) = c.lessons.iter().position(|l| Some(l.id) == lesson) else {
                        return view! { <crate::components::layout::ErrorBox error=AppError::not_found("Lesson") /> }.into_any();
                    };
                    let l = c.lessons[i].clone();
                    let done = c.done.contains(&l.id);
                    let prev = i.checked_sub(1).map(|j| c.lessons[j].id);
                    let next = c.lessons.get(i + 1).map(|n| n.id);
                    view! {
                        <p class="breadcrumb"><A href=format!("/learn/{}", c.id)>{format!("← {}", c.title)}</A></p>
                        <article class="lesson">
                            <p class="muted">{format!("Lesson {} of {}", i + 1, c.lessons.len())}</p>
                            <h1>{l.title.clone()}</h1>
                            <div class="lesson-text">{l.text.clone()}</div>
                        </article>
                        <ActionForm action=mark attr:class="mark">
                            <input type="hidden" name="course" value=c.id />
                            <input type="hidden" name="lesson" value=l.id />
                            <input type="hidden" name="done" value=if done { "false" } else { "true" } />
                            {if done {
                                view! {
                                    <span class="badge ok">"Done"</span>
                                    <button type="submit">"Mark as not done"</button>
                                }.into_any()
                            } else {
                                view! { <button type="submit" class="primary">"Mark as done"</button> }.into_any()
                            }}
                        </ActionForm>
                        <ProgressBar progress=c.progress.clone() label="Your progress in this course" />
                        <nav class="pager" aria-label="Lessons">
                            {prev.map(|p| view! { <A href=format!("/learn/{}/{}", c.id, p)>"← Previous lesson"</A> })}
                            {next.map(|n| view! { <A href=format!("/learn/{}/{}", c.id, n)>"Next lesson →"</A> })}
                        </nav>
                    }
                    .into_any()
                })
            })}
        </Transition>
    }
}
