//! `/join`: a signed-in user joins a group with its key, and sees the courses it gave them.

use crate::api::keys::{joined_group_courses, RedeemGroupKey};
use crate::components::field::{action_error, Field, FormError};
use crate::components::layout::{Access, ErrorBox, Page};
use crate::components::url::query_text;
use leptos::prelude::*;

#[component]
pub fn JoinPage() -> impl IntoView {
    view! {
        <Page title="Join a group" access=Access::SignedIn>
            <Join />
        </Page>
    }
}

#[component]
fn Join() -> impl IntoView {
    let redeem = ServerAction::<RedeemGroupKey>::new();
    let error = action_error(redeem);
    // Read outside the suspense (a query read inside it may outlive its page).
    let joined_id = query_text("joined");
    let joined = Resource::new(
        move || joined_id().parse::<u64>().ok(),
        |id| async move {
            match id {
                Some(id) => joined_group_courses(id).await.map(Some),
                None => Ok(None),
            }
        },
    );
    view! {
        <h1>"Join a group"</h1>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match joined.await {
                    Ok(Some(g)) => view! {
                        <section class="panel notice-panel" aria-labelledby="joined-title" role="status" tabindex="-1" autofocus>
                            <h2 id="joined-title">{format!("You joined {}", g.name)}</h2>
                            {if g.courses.is_empty() {
                                view! { <p>"This group gives no courses yet."</p> }.into_any()
                            } else {
                                view! {
                                    <p>"You are enrolled in:"</p>
                                    <ul>
                                        {g.courses.into_iter().map(|(id, code, title)| view! {
                                            <li><a href=format!("/learn/{id}")>{title}</a>" "<span class="muted">{code}</span></li>
                                        }).collect_view()}
                                    </ul>
                                }
                                .into_any()
                            }}
                            <p><a href="/">"Go to My courses"</a></p>
                        </section>
                    }
                    .into_any(),
                    Ok(None) => ().into_any(),
                    Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                }
            })}
        </Transition>
        <section class="panel" aria-labelledby="join-title">
            <h2 id="join-title">"Have a group key?"</h2>
            <p class="hint">"Someone who runs a group (a teacher, a trainer) may give you its key. Type it here to join the group and its courses."</p>
            <ActionForm action=redeem attr:class="form" attr:novalidate=true>
                <FormError error />
                <Field label="Group key" name="key" form="join" error autocomplete="off" required=true />
                <div class="actions"><button type="submit" class="primary">"Join"</button></div>
            </ActionForm>
        </section>
    }
}
