//! The Courses tab: the courses and curricula attached to the group.

use super::*;

#[component]
pub(super) fn CoursesTab(g: GroupView, cq: String, kq: String) -> impl IntoView {
    let GroupCtx {
        a,
        links,
        found_courses,
        found_curricula,
        ..
    } = expect_context();
    let id = g.id;
    let edit = g.can_edit;
    let error = action_error(a.link);
    let link = a.link;
    let button = move |kind: &'static str,
                       target: u64,
                       op: &'static str,
                       label: &'static str,
                       aria: String| {
        view! {
            <ActionForm action=link>
                <input type="hidden" name="id" value=id />
                <input type="hidden" name="kind" value=kind />
                <input type="hidden" name="target" value=target />
                <input type="hidden" name="op" value=op />
                <button type="submit" class=if op == "remove" { "danger" } else { "" } aria-label=aria>{label}</button>
            </ActionForm>
        }
    };
    view! {
        <section class="panel" aria-labelledby="group-courses-title">
            <h2 id="group-courses-title">"Courses and curricula"</h2>
            <p class="hint">"The courses and curricula this group gives its members."</p>
            <FormError error />
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match links.await {
                        Ok(Some(l)) => view! {
                            <div class="two-col">
                                <div>
                                    <h3>"Courses"</h3>
                                    {l.courses.is_empty().then(|| view! { <p class="empty-state">"No courses yet."</p> })}
                                    <ul class="picker">
                                        {l.courses.into_iter().map(|c| {
                                            let aria = format!("Remove course {} from the group", c.label);
                                            view! {
                                            <li>
                                                <span><A href=format!("/courses/{}", c.id)>{c.label.clone()}</A> " " <span class="muted">{c.detail}</span></span>
                                                {edit.then(|| button("course", c.id, "remove", "Remove", aria))}
                                            </li>
                                        }}).collect_view()}
                                    </ul>
                                </div>
                                <div>
                                    <h3>"Curricula"</h3>
                                    {l.curricula.is_empty().then(|| view! { <p class="empty-state">"No curricula yet."</p> })}
                                    <ul class="picker">
                                        {l.curricula.into_iter().map(|c| {
                                            let aria = format!("Remove curriculum {} from the group", c.label);
                                            view! {
                                            <li>
                                                <span><A href=format!("/curricula/{}", c.id)>{c.label.clone()}</A> " " <span class="muted">{c.detail}</span></span>
                                                {edit.then(|| button("curriculum", c.id, "remove", "Remove", aria))}
                                            </li>
                                        }}).collect_view()}
                                    </ul>
                                </div>
                            </div>
                        }.into_any(),
                        Ok(None) => view! { <p class="loading">"…"</p> }.into_any(),
                        Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        {edit.then(|| view! {
            <section class="panel" aria-labelledby="add-courses-title">
                <h2 id="add-courses-title">"Add courses"</h2>
                <SearchForm action=format!("/groups/{id}") param="cq" label="Find courses to add" placeholder="Code or title starts with…" value=cq.clone() id="group-course-q" keep=vec![("tab", "courses".to_string())] />
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match found_courses.await {
                            Ok(Some(p)) if p.rows.is_empty() => view! { <p class="muted">"No course matches."</p> }.into_any(),
                            Ok(Some(p)) => view! {
                                <ul class="picker">
                                    {p.rows.into_iter().map(|c| view! {
                                        <li>
                                            <span>{c.code.clone()} " " <span class="muted">{c.title.clone()}</span></span>
                                            {button("course", c.id, "add", "Add", format!("Add course {}", c.code))}
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }.into_any(),
                            Ok(None) => view! { <p class="hint">"Search above to find courses."</p> }.into_any(),
                            Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                        }
                    })}
                </Transition>
                <h3>"Add curricula"</h3>
                <SearchForm action=format!("/groups/{id}") param="kq" label="Find curricula to add" placeholder="Name starts with…" value=kq.clone() id="group-curriculum-q" keep=vec![("tab", "courses".to_string())] />
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match found_curricula.await {
                            Ok(Some(p)) if p.rows.is_empty() => view! { <p class="muted">"No curriculum matches."</p> }.into_any(),
                            Ok(Some(p)) => view! {
                                <ul class="picker">
                                    {p.rows.into_iter().map(|c| view! {
                                        <li>
                                            <span>{c.name.clone()} " " <span class="muted">{format!("{} course(s)", c.courses.len())}</span></span>
                                            {button("curriculum", c.id, "add", "Add", format!("Add curriculum {}", c.name))}
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }.into_any(),
                            Ok(None) => view! { <p class="hint">"Search above to find curricula."</p> }.into_any(),
                            Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        })}
    }
}
