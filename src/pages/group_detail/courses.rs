//! The Courses tab: the courses and curricula attached to the group.

use super::*;
use crate::model::number::{count, count_of};

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
    let attach_error = action_error(a.attach);
    let link = a.link;
    // Removing asks first, as deleting a group does: the second click is the confirmation.
    let remove = move |kind: &'static str, target: u64, label: String| {
        let aria = format!("Remove {kind} {label} from the group");
        view! {
            <Confirm summary="Remove…" explanation=format!("{label} stops being given by this group. Members' enrolments and progress stay.")>
                <ActionForm action=link>
                    <input type="hidden" name="id" value=id />
                    <input type="hidden" name="kind" value=kind />
                    <input type="hidden" name="target" value=target />
                    <input type="hidden" name="op" value="remove" />
                    <button type="submit" class="danger" aria-label=aria>"Remove"</button>
                </ActionForm>
            </Confirm>
        }
    };
    view! {
        <MassEnrolPanel g=g.clone() />
        <section class="panel" aria-labelledby="group-courses-title">
            <h2 id="group-courses-title">"Courses and curricula"</h2>
            <p class="hint">"The courses and curricula this group gives its members."</p>
            <FormError error />
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    crate::components::layout::past_dry_run().await;
                    match load(links).await {
                        Ok(Some(l)) => view! {
                            <div class="two-col">
                                <div>
                                    <h3>"Courses"</h3>
                                    {l.courses.is_empty().then(|| view! { <p class="empty-state">"No courses yet."</p> })}
                                    <ul class="picker">
                                        {l.courses.into_iter().map(|c| {
                                            let confirm = edit.then(|| remove("course", c.id, c.label.clone()));
                                            view! {
                                                <li>
                                                    <span><A href=format!("/courses/{}", c.id)>{c.label}</A> " " <span class="muted">{c.detail}</span></span>
                                                    {confirm}
                                                </li>
                                            }
                                        }).collect_view()}
                                    </ul>
                                </div>
                                <div>
                                    <h3>"Curricula"</h3>
                                    {l.curricula.is_empty().then(|| view! { <p class="empty-state">"No curricula yet."</p> })}
                                    <ul class="picker">
                                        {l.curricula.into_iter().map(|c| {
                                            let confirm = edit.then(|| remove("curriculum", c.id, c.label.clone()));
                                            view! {
                                                <li>
                                                    <span><A href=format!("/curricula/{}", c.id)>{c.label}</A> " " <span class="muted">{c.detail}</span></span>
                                                    {confirm}
                                                </li>
                                            }
                                        }).collect_view()}
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
                <p class="hint">"Tick the courses and curricula to give this group, then attach them all at once."</p>
                <FormError error=attach_error fields=&["courses", "curricula"] />
                <SearchForm action=format!("/groups/{id}") param="cq" label="Find courses to add" placeholder="Any part of the code or title" value=cq.clone() id="group-course-q" keep=vec![("tab", "courses".to_string()), ("kq", kq.clone())] />
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        crate::components::layout::past_dry_run().await;
                        match load(found_courses).await {
                            Ok(Some(p)) if p.rows.is_empty() => view! { <p class="muted">"No course to add matches."</p> }.into_any(),
                            Ok(Some(p)) => {
                                let shown = p.rows.len() as u64;
                                let (total, capped) = (p.total, p.total_is_capped);
                                let items = p.rows.into_iter().map(|c| Pick {
                                    id: c.id,
                                    label: c.code,
                                    detail: c.title,
                                }).collect();
                                view! { <Checklist group=id kind="courses" legend="Courses not in the group yet" items shown total capped /> }.into_any()
                            }
                            Ok(None) => ().into_any(),
                            Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                        }
                    })}
                </Transition>
                <h3>"Add curricula"</h3>
                <SearchForm action=format!("/groups/{id}") param="kq" label="Find curricula to add" placeholder="Name starts with…" value=kq.clone() id="group-curriculum-q" keep=vec![("tab", "courses".to_string()), ("cq", cq.clone())] />
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        crate::components::layout::past_dry_run().await;
                        match load(found_curricula).await {
                            Ok(Some(p)) if p.rows.is_empty() => view! { <p class="muted">"No curriculum to add matches."</p> }.into_any(),
                            Ok(Some(p)) => {
                                let shown = p.rows.len() as u64;
                                let (total, capped) = (p.total, p.total_is_capped);
                                let items = p.rows.into_iter().map(|c| Pick {
                                    id: c.id,
                                    detail: count_of(c.courses.len() as u64, "course", "courses"),
                                    label: c.name,
                                }).collect();
                                view! { <Checklist group=id kind="curricula" legend="Curricula not in the group yet" items shown total capped /> }.into_any()
                            }
                            Ok(None) => ().into_any(),
                            Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        })}
    }
}

/// One row of a [`Checklist`].
struct Pick {
    id: u64,
    label: String,
    detail: String,
}

/// A page of courses (`kind` = "courses") or curricula ("curricula") to attach: a checkbox
/// each and one "Attach selected" button, a plain form posting every ticked id at once
/// (`courses[]=…`), so it works without JavaScript.
#[component]
fn Checklist(
    group: u64,
    kind: &'static str,
    legend: &'static str,
    items: Vec<Pick>,
    shown: u64,
    total: u64,
    capped: bool,
) -> impl IntoView {
    let GroupCtx { a, .. } = expect_context();
    let more = if capped {
        format!(
            "Showing {} of more than {}: search to find others.",
            count(shown),
            count(total)
        )
    } else if total > shown {
        format!(
            "Showing {} of {}: search to find others.",
            count(shown),
            count(total)
        )
    } else {
        String::new()
    };
    let singular = if kind == "courses" {
        "course"
    } else {
        "curriculum"
    };
    view! {
        <ActionForm action=a.attach attr:class="checklist">
            <input type="hidden" name="id" value=group />
            <fieldset>
                <legend>{legend}</legend>
                <ul class="picker">
                    {items.into_iter().map(|p| {
                        let box_id = format!("attach-{singular}-{}", p.id);
                        // Ticked again after a refused post (the other list's refusal aside).
                        let ticked = crate::components::field::form_replay()
                            .is_some_and(|r| r.has(&format!("{kind}[]"), &p.id.to_string()));
                        view! {
                            <li>
                                <span class="check">
                                    <input type="checkbox" id=box_id.clone() name=format!("{kind}[]") value=p.id checked=ticked />
                                    <label for=box_id>{p.label} " " <span class="muted">{p.detail}</span></label>
                                </span>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </fieldset>
            {(!more.is_empty()).then(|| view! { <p class="hint">{more}</p> })}
            <button type="submit" class="primary">{format!("Attach selected {kind}")}</button>
        </ActionForm>
    }
}

/// "Enrol all members in the group's courses": the button (administrators), the live progress
/// of a run (read again every second with JavaScript; on reload without), and the summary of
/// the last one. After a course or curriculum was attached (`added=1`), it asks first.
#[component]
fn MassEnrolPanel(g: GroupView) -> impl IntoView {
    let GroupCtx { a, mass, .. } = expect_context();
    let id = g.id;
    let edit = g.can_edit;
    let members = g.members;
    // Read once: the panel is built again whenever the group changes (a course attached).
    let just_added = crate::components::url::query_text("added")() == "1";
    let error = action_error(a.mass);
    let start_button = move |label: &'static str| {
        view! {
            <ActionForm action=a.mass attr:class="inline">
                <input type="hidden" name="id" value=id />
                <button type="submit" class="primary">{label}</button>
            </ActionForm>
        }
    };
    view! {
        <section class="panel" aria-labelledby="mass-title">
            <h2 id="mass-title">"Enrol all members"</h2>
            <FormError error fields=&["group"] />
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    crate::components::layout::past_dry_run().await;
                    let status = match load(mass).await {
                        Ok(Some(s)) => s,
                        Ok(None) => None,
                        Err(e) => return view! { <ErrorBox error=e /> }.into_any(),
                    };
                    let running = status.as_ref().is_some_and(|s| s.running);
                    let ask = edit && !running && members > 0 && just_added;
                    view! {
                        // Read again every second while a run goes on (with JavaScript).
                        <div class="mass" id="mass-live" data-running=running.to_string()>
                            {status.map(|s| view! { <MassStatus s group=id /> })}
                            {ask.then(|| view! {
                                <div class="notice" role="status">
                                    <p>{format!("Added. Enrol the group's {} in its courses now? Those already enrolled stay as they are.", count_of(members, "current member", "current members"))}</p>
                                    {start_button("Enrol them now")}
                                </div>
                            })}
                            {(edit && !running && !ask).then(|| view! {
                                <p class="hint">"Enrols every member in every course of the group and of its curricula. Members already enrolled stay as they are (progress included); archived courses and deactivated users are skipped. It runs in the background: you can leave this page."</p>
                                {start_button("Enrol all members in the group's courses")}
                            })}
                        </div>
                    }
                    .into_any()
                })}
            </Transition>
            <LiveRegion region="mass-live" reload_when_done=false />
        </section>
    }
}

/// A run's progress bar and estimate, or how it ended.
#[component]
fn MassStatus(s: MassEnrolView, group: u64) -> impl IntoView {
    if s.running {
        let eta = s
            .eta_secs
            .map(|e| format!(" · about {e} s left"))
            .unwrap_or_default();
        return view! {
            <div class="mass-progress">
                <p>{format!("Running, started by {} at {}.", s.started_by, date_time(s.started_at))}</p>
                <progress
                    class="progress"
                    aria-label="Mass enrolment progress"
                    max=s.total.max(1)
                    value=s.done
                ></progress>
                <p class="muted">{format!("{} of {}{eta}", count(s.done), count_of(s.total, "member", "members"))}</p>
                <p class="hint"><a href=format!("/groups/{group}?tab=courses")>"Refresh"</a>" (the bar moves by itself with JavaScript on)"</p>
            </div>
        }
        .into_any();
    }
    let took = s
        .finished_at
        .map(|f| format!(", in {} s", f.saturating_sub(s.started_at).div_ceil(1000)))
        .unwrap_or_default();
    let title = match &s.stopped {
        Some(why) => format!("The last run stopped: {why}."),
        None => "Last run finished.".to_string(),
    };
    view! {
        <div class="mass-summary" role="status">
            <p><strong>{title}</strong></p>
            <p>{format!("{}. Started by {} at {}{took}.", s.summary(), s.started_by, date_time(s.started_at))}</p>
            {(!s.failures.is_empty()).then(|| view! {
                <ul class="failures">{s.failures.into_iter().map(|f| view! { <li>{f}</li> }).collect_view()}</ul>
            })}
        </div>
    }
    .into_any()
}
