use crate::api::groups::{current_default_group, list_groups};
use crate::api::learning::my_courses;
use crate::components::layout::{show, Access, Page};
use crate::components::signed_in::AuthCtx;
use crate::components::widgets::ProgressBar;
use crate::model::catalog::MyCourse;
use crate::model::group::GroupRow;
use crate::model::number::count_of;
use crate::model::AppError;
use leptos::prelude::*;

/// `/`: the administrator's overview, or the learner's own courses.
#[component]
pub fn HomePage() -> impl IntoView {
    let auth = expect_context::<AuthCtx>();
    // Created before any suspense so it hydrates reliably (see course_detail.rs).
    let courses = Resource::new(|| (), |_| my_courses());
    // The Groups card's numbers, fetched for administrators only (others get nothing).
    let groups = Resource::new(
        || (),
        move |_| async move {
            match auth.me.await {
                Ok(Some(me)) if me.is_admin() => {
                    let largest = list_groups(String::new(), "-members".into(), 1).await?;
                    let default = current_default_group().await?;
                    Ok(Some(GroupsSummary {
                        total: largest.total,
                        largest: largest.rows.into_iter().take(3).collect(),
                        default,
                    }))
                }
                _ => Ok(None),
            }
        },
    );
    view! {
        <Page title="Home" access=Access::SignedIn>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    crate::components::layout::past_dry_run().await;
                    match auth.me.await {
                        Ok(Some(me)) if me.is_admin() => view! { <AdminHome name=me.display_name groups /> }.into_any(),
                        Ok(Some(me)) => view! { <LearnerHome name=me.display_name courses /> }.into_any(),
                        _ => ().into_any(),
                    }
                })}
            </Transition>
        </Page>
    }
}

/// What the admin home's Groups card shows.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct GroupsSummary {
    total: u64,
    /// The largest groups, most members first.
    largest: Vec<GroupRow>,
    /// The default group (where people who sign up by themselves land), as (id, name).
    default: Option<(u64, String)>,
}

#[component]
fn AdminHome(
    name: String,
    groups: Resource<Result<Option<GroupsSummary>, AppError>>,
) -> impl IntoView {
    view! {
        <h1>"Administration"</h1>
        <p class="lead">"Welcome, " {name} "."</p>
        <ul class="tiles">
            <li class="tile-wide">
                <section class="tile groups-card" aria-labelledby="home-groups">
                    <h2 id="home-groups"><a href="/groups">"Groups"</a></h2>
                    <p>"Groups gather users: give them courses and a key to join with, message them and follow their progress."</p>
                    <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                        {move || Suspend::new(async move {
                            crate::components::layout::past_dry_run().await;
                            show(groups.await, |summary| view! { <div class="groups-summary">{summary.map(|s| view! { <GroupsFacts s /> })}</div> })
                        })}
                    </Transition>
                    <p class="actions">
                        <a class="button primary" href="/groups/new">"Add group"</a>
                        <a href="/groups">"All groups"</a>
                    </p>
                </section>
            </li>
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

/// The Groups card's numbers: how many, the largest, and the default group.
#[component]
fn GroupsFacts(s: GroupsSummary) -> impl IntoView {
    view! {
        <p class="groups-total">
            <strong>{count_of(s.total, "group", "groups")}</strong>
            " · "
            {match s.default {
                Some((id, name)) => view! { "Default group: " <a href=format!("/groups/{id}")>{name}</a> }.into_any(),
                None => view! { "No default group" }.into_any(),
            }}
        </p>
        {(!s.largest.is_empty()).then(|| view! {
            <ul class="groups-largest" aria-label="Largest groups">
                {s.largest.into_iter().map(|g| view! {
                    <li>
                        <a href=format!("/groups/{}", g.id)>{g.name.clone()}</a>
                        " "
                        <span class="muted">{count_of(g.members, "member", "members")}</span>
                    </li>
                }).collect_view()}
            </ul>
        })}
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
                crate::components::layout::past_dry_run().await;
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
