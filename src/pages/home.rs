use crate::app::AuthCtx;
use crate::components::layout::{Access, Page};
use leptos::prelude::*;

/// `/`: the administrator's overview, or the learner's own courses.
#[component]
pub fn HomePage() -> impl IntoView {
    let auth = expect_context::<AuthCtx>();
    view! {
        <Page title="Home" access=Access::SignedIn>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match auth.me.await {
                        Ok(Some(me)) if me.is_admin() => view! { <AdminHome name=me.display_name /> }.into_any(),
                        Ok(Some(me)) => view! { <LearnerHome name=me.display_name /> }.into_any(),
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
                <a class="tile" href="/settings">
                    <strong>"Settings"</strong>
                    <span>"Decide whether people may sign up by themselves."</span>
                </a>
            </li>
        </ul>
    }
}

#[component]
fn LearnerHome(name: String) -> impl IntoView {
    view! {
        <h1>"My courses"</h1>
        <p class="lead">"Welcome, " {name} "."</p>
        <section class="empty-state">
            <p>"You are not enrolled in any course yet."</p>
            <p class="hint">"Your courses appear here as soon as an administrator enrols you."</p>
        </section>
    }
}
