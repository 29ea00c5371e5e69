//! The Managers tab: who manages the group.

use super::*;

#[component]
pub(super) fn ManagersTab(g: GroupView, mq: String) -> impl IntoView {
    let GroupCtx {
        a,
        managers,
        found_managers: found,
        ..
    } = expect_context();
    let id = g.id;
    let edit = g.can_edit;
    let error = action_error(a.manager);
    let manager = a.manager;
    view! {
        <section class="panel" aria-labelledby="managers-title">
            <h2 id="managers-title">"Group managers"</h2>
            <p class="hint">"A manager sees this group, its members, its courses and its activity, changes nothing, and sees no other group."</p>
            <FormError error />
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    crate::components::layout::past_dry_run().await;
                    match load(managers).await {
                        Ok(Some(list)) if list.is_empty() => view! { <p class="empty-state">"No managers yet."</p> }.into_any(),
                        Ok(Some(list)) => view! {
                            <ul class="picker">
                                {list.into_iter().map(|m| view! {
                                    <li>
                                        <span>{m.display_name.clone()} " " <span class="muted">{format!("({})", m.login)}</span></span>
                                        {edit.then(|| view! {
                                            <ActionForm action=manager>
                                                <input type="hidden" name="id" value=id />
                                                <input type="hidden" name="user" value=m.user_id />
                                                <input type="hidden" name="op" value="remove" />
                                                <button type="submit" class="danger" aria-label=format!("Remove {} as manager", m.login)>"Remove"</button>
                                            </ActionForm>
                                        })}
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Ok(None) => view! { <p class="loading">"…"</p> }.into_any(),
                        Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        {edit.then(|| view! {
            <section class="panel" aria-labelledby="add-manager-title">
                <h2 id="add-manager-title">"Add a manager"</h2>
                <SearchForm action=format!("/groups/{id}") param="mq" label="Find users" placeholder="Login, e-mail or name starts with…" value=mq.clone() id="group-manager-q" keep=vec![("tab", "managers".to_string())] />
                <UserPicker found action=move |u: UserView| view! {
                    <ActionForm action=manager>
                        <input type="hidden" name="id" value=id />
                        <input type="hidden" name="user" value=u.id />
                        <input type="hidden" name="op" value="add" />
                        <button type="submit" aria-label=format!("Make manager: {}", u.login)>"Make manager"</button>
                    </ActionForm>
                } />
            </section>
        })}
    }
}
