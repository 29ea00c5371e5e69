//! The Activity tab: the group's audit trail.

use super::*;

#[component]
pub(super) fn ActivityTab() -> impl IntoView {
    let GroupCtx { activity, .. } = expect_context();
    view! {
        <section class="panel" aria-labelledby="activity-title">
            <h2 id="activity-title">"Activity"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match activity.await {
                        Ok(Some(list)) if list.is_empty() => view! { <p class="empty-state">"Nothing has happened yet."</p> }.into_any(),
                        Ok(Some(list)) => view! {
                            <ol class="activity">
                                {list.into_iter().map(|e| view! {
                                    <li>
                                        <span class="when">{date_time(e.at)}</span>
                                        <span class="what"><strong>{e.action.label()}</strong> " · " {e.detail}</span>
                                        <span class="who">{format!("by {}", e.actor)}</span>
                                    </li>
                                }).collect_view()}
                            </ol>
                        }.into_any(),
                        Ok(None) => view! { <p class="loading">"…"</p> }.into_any(),
                        Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
