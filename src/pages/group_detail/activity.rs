//! The Activity tab: the group's audit trail.

use super::*;

#[component]
pub(super) fn ActivityTab() -> impl IntoView {
    let GroupCtx { activity, .. } = expect_context();
    view! {
        <KeyRedemptions />
        <section class="panel" aria-labelledby="activity-title">
            <h2 id="activity-title">"Activity"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    crate::components::layout::past_dry_run().await;
                    match load(activity).await {
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

/// Who joined with the group's key, newest first, a page at a time.
#[component]
fn KeyRedemptions() -> impl IntoView {
    use crate::model::group::RedemptionView;
    let GroupCtx { redemptions, .. } = expect_context();
    let gid = crate::components::url::param_id("id")();
    view! {
        <section class="panel" aria-labelledby="redemptions-title">
            <h2 id="redemptions-title">"Key redemptions"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    crate::components::layout::past_dry_run().await;
                    match load(redemptions).await {
                        Ok(Some(page)) => view! {
                            <DataTable
                                noun="key redemptions"
                                class="stack"
                                caption="Key redemptions"
                                base=format!("/groups/{}", gid.unwrap_or(0))
                                query=String::new()
                                page
                                params=vec![("tab", "activity".to_string())]
                                empty="Nobody has joined with the group key yet."
                                head=|| view! {
                                    <th scope="col" role="columnheader">"When"</th>
                                    <th scope="col" role="columnheader">"Who"</th>
                                    <th scope="col" role="columnheader">"Key"</th>
                                    <th scope="col" role="columnheader">"From"</th>
                                }
                                row=|r: RedemptionView| view! {
                                    <tr role="row">
                                        <td role="cell" data-label="When">{date_time(r.at)}</td>
                                        <td role="cell" data-label="Who">{r.login.clone()} " " <span class="muted">{r.display_name.clone()}</span></td>
                                        <td role="cell" data-label="Key"><code>{r.key.clone()}</code></td>
                                        <td role="cell" data-label="From">{r.client.clone()}</td>
                                    </tr>
                                }
                            />
                        }
                        .into_any(),
                        Ok(None) => view! { <p class="loading">"…"</p> }.into_any(),
                        Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
