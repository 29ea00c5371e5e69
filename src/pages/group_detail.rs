//! `/groups/:id`: a group's header and its tabs: Users (members, add, bulk add), Courses
//! (courses and curricula), Managers and Activity. Administrators change things; the group's
//! managers read.

use crate::api::courses::list_courses;
use crate::api::curricula::list_curricula;
use crate::api::groups::{
    get_group, get_group_links, group_activity, last_bulk_result, list_group_managers,
    list_group_members, AddGroupMember, BulkAddGroupMembers, BulkUploadGroupMembers,
    ChangeGroupLink, ChangeGroupManager, DeleteGroup, RemoveGroupMember,
};
use crate::api::users::list_users;
use crate::components::field::{action_error, url_error, FormError};
use crate::components::layout::{show, Access, Page};
use crate::components::pager::Pager;
use crate::components::url::{param_id, query_page, query_text};
use crate::components::widgets::{date, date_time, Confirm, SearchForm, UserPicker};
use crate::model::catalog::{CourseRow, CurriculumView};
use crate::model::group::{
    uses_text, AuditView, BulkOutcome, BulkResult, GroupLinks, GroupView, KeyStatus, ManagerRow,
    MemberRow,
};
use crate::model::user::{UserPage, UserView};
use crate::model::{AppError, Paged};
use leptos::prelude::*;
use leptos_router::components::A;

fn plural(n: u32, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

type Res<T> = Resource<Result<Option<T>, AppError>>;

/// Runs `f` only when `on`; `Ok(None)` otherwise (a tab that is not shown fetches nothing).
async fn when<T, F>(on: bool, f: F) -> Result<Option<T>, AppError>
where
    F: std::future::Future<Output = Result<T, AppError>>,
{
    if on {
        f.await.map(Some)
    } else {
        Ok(None)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tab {
    Users,
    Courses,
    Managers,
    Activity,
}

impl Tab {
    fn parse(raw: &str) -> Tab {
        match raw {
            "courses" => Tab::Courses,
            "managers" => Tab::Managers,
            "activity" => Tab::Activity,
            _ => Tab::Users,
        }
    }
}

#[derive(Clone, Copy)]
struct Actions {
    delete: ServerAction<DeleteGroup>,
    add: ServerAction<AddGroupMember>,
    remove: ServerAction<RemoveGroupMember>,
    bulk: ServerAction<BulkAddGroupMembers>,
    link: ServerAction<ChangeGroupLink>,
    manager: ServerAction<ChangeGroupManager>,
}

#[component]
pub fn GroupDetailPage() -> impl IntoView {
    view! {
        <Page title="Group" access=Access::SignedIn>
            <GroupDetail />
        </Page>
    }
}

#[component]
fn GroupDetail() -> impl IntoView {
    let id = param_id("id");
    let tab_raw = query_text("tab");
    let tab = move || Tab::parse(&tab_raw());
    let q = query_text("q");
    let page = query_page();
    let uq = query_text("uq");
    let cq = query_text("cq");
    let kq = query_text("kq");
    let mq = query_text("mq");
    let a = Actions {
        delete: ServerAction::new(),
        add: ServerAction::new(),
        remove: ServerAction::new(),
        bulk: ServerAction::new(),
        link: ServerAction::new(),
        manager: ServerAction::new(),
    };
    let changes = move || {
        (
            a.add.version().get(),
            a.remove.version().get(),
            a.bulk.version().get(),
            a.link.version().get(),
            a.manager.version().get(),
        )
    };
    // Every resource of the page is created here, before any suspense (see course_detail.rs).
    let group = Resource::new(
        move || (id(), changes()),
        |(id, _)| async move {
            match id {
                Some(id) => get_group(id).await,
                None => Err(AppError::not_found("Group")),
            }
        },
    );
    let gid = move || id().unwrap_or(0);
    let members: Res<Paged<MemberRow>> = Resource::new(
        move || (gid(), tab(), q(), page(), changes()),
        |(id, tab, q, page, _)| when(tab == Tab::Users, list_group_members(id, q, page)),
    );
    let bulk_flag = query_text("bulk");
    let bulk_report: Res<Option<BulkResult>> = Resource::new(
        move || (gid(), tab(), bulk_flag(), changes()),
        |(id, tab, flag, _)| when(tab == Tab::Users && flag == "1", last_bulk_result(id)),
    );
    let found_users: Res<UserPage> = Resource::new(
        move || (tab(), uq()),
        |(tab, q)| when(tab == Tab::Users && !q.trim().is_empty(), list_users(q, 1)),
    );
    let links: Res<GroupLinks> = Resource::new(
        move || (gid(), tab(), changes()),
        |(id, tab, _)| when(tab == Tab::Courses, get_group_links(id)),
    );
    let found_courses: Res<Paged<CourseRow>> = Resource::new(
        move || (tab(), cq()),
        |(tab, q)| {
            when(
                tab == Tab::Courses && !q.trim().is_empty(),
                list_courses(q, 1),
            )
        },
    );
    let found_curricula: Res<Paged<CurriculumView>> = Resource::new(
        move || (tab(), kq()),
        |(tab, q)| {
            when(
                tab == Tab::Courses && !q.trim().is_empty(),
                list_curricula(q, 1),
            )
        },
    );
    let managers: Res<Vec<ManagerRow>> = Resource::new(
        move || (gid(), tab(), changes()),
        |(id, tab, _)| when(tab == Tab::Managers, list_group_managers(id)),
    );
    let found_managers: Res<UserPage> = Resource::new(
        move || (tab(), mq()),
        |(tab, q)| {
            when(
                tab == Tab::Managers && !q.trim().is_empty(),
                list_users(q, 1),
            )
        },
    );
    let activity: Res<Vec<AuditView>> = Resource::new(
        move || (gid(), tab(), changes()),
        |(id, tab, _)| when(tab == Tab::Activity, group_activity(id)),
    );
    view! {
        <p class="breadcrumb"><A href="/groups">"← All groups"</A></p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                show(group.await, move |g| {
                    let tab = tab();
                    view! {
                        <GroupHeader g=g.clone() delete=a.delete />
                        <TabNav id=g.id tab />
                        <div class="tab-panel">
                            {match tab {
                                Tab::Users => view! {
                                    <UsersTab g=g.clone() a members found=found_users bulk_report q=q() uq=uq() />
                                }.into_any(),
                                Tab::Courses => view! {
                                    <CoursesTab g=g.clone() a links found_courses found_curricula cq=cq() kq=kq() />
                                }.into_any(),
                                Tab::Managers => view! {
                                    <ManagersTab g=g.clone() a managers found=found_managers mq=mq() />
                                }.into_any(),
                                Tab::Activity => view! { <ActivityTab activity /> }.into_any(),
                            }}
                        </div>
                    }
                })
            })}
        </Transition>
    }
}

#[component]
fn GroupHeader(g: GroupView, delete: ServerAction<DeleteGroup>) -> impl IntoView {
    let delete_error = action_error(delete);
    // Managers get the key's state without the key itself.
    let key = g.key.key.clone();
    let window = match (g.key.valid_from, g.key.valid_until) {
        (None, None) => None,
        (Some(f), None) => Some(format!("from {}", date(f))),
        (None, Some(u)) => Some(format!("until {}", date(u))),
        (Some(f), Some(u)) => Some(format!("{} to {}", date(f), date(u))),
    };
    let has_key = g.key_status != KeyStatus::None;
    let name = g.name.clone();
    view! {
        <div class="page-head">
            <h1>
                {g.name.clone()}
                {g.is_default.then(|| view! { " " <span class="badge">"Default group"</span> })}
            </h1>
            {g.can_edit.then(|| view! { <A href=format!("/groups/{}/edit", g.id) attr:class="button">"Edit group"</A> })}
        </div>
        {(!g.description.is_empty()).then(|| view! { <p class="lead">{g.description.clone()}</p> })}
        <dl class="facts">
            <div><dt>"Branch"</dt><dd>{g.branch_name.clone().unwrap_or_else(|| "—".into())}</dd></div>
            <div><dt>"Members"</dt><dd>{g.members}</dd></div>
            <div><dt>"Courses"</dt><dd>{format!("{} · {}", plural(g.courses, "course", "courses"), plural(g.curricula, "curriculum", "curricula"))}</dd></div>
            <div><dt>"Created"</dt><dd>{date(g.created_at)}</dd></div>
            <div>
                <dt>"Group key"</dt>
                <dd>
                    {key.map(|k| view! { <code class="key-text">{k}</code> " " })}
                    <span class=g.key_status.class()>{g.key_status.label()}</span>
                    {has_key.then(|| view! { " · " {uses_text(g.key_uses, g.key.max_uses)} " uses" })}
                    {window.map(|w| view! { " · " {w} })}
                </dd>
            </div>
        </dl>
        {g.can_edit.then(|| view! {
            <FormError error=delete_error fields=&["group"] />
            <Confirm summary="Delete this group…" explanation="Its memberships and its course and curriculum links go; users' enrolments and progress stay.">
                <ActionForm action=delete>
                    <input type="hidden" name="id" value=g.id />
                    <input type="hidden" name="back" value="/groups" />
                    <button type="submit" class="danger" aria-label=format!("Delete group {name}")>"Delete group"</button>
                </ActionForm>
            </Confirm>
        })}
    }
}

#[component]
fn TabNav(id: u64, tab: Tab) -> impl IntoView {
    let item = move |t: Tab, key: &'static str, label: &'static str| {
        view! {
            <li>
                <a href=format!("/groups/{id}?tab={key}") aria-current=(t == tab).then_some("page")>{label}</a>
            </li>
        }
    };
    view! {
        <nav class="tabs" aria-label="Group sections">
            <ul>
                {item(Tab::Users, "users", "Users")}
                {item(Tab::Courses, "courses", "Courses")}
                {item(Tab::Managers, "managers", "Managers")}
                {item(Tab::Activity, "activity", "Activity")}
            </ul>
        </nav>
    }
}

#[component]
fn UsersTab(
    g: GroupView,
    a: Actions,
    members: Res<Paged<MemberRow>>,
    found: Res<UserPage>,
    bulk_report: Res<Option<BulkResult>>,
    q: String,
    uq: String,
) -> impl IntoView {
    let id = g.id;
    let edit = g.can_edit;
    let remove_error = action_error(a.remove);
    let add_error = action_error(a.add);
    let base = format!("/groups/{id}");
    let q2 = q.clone();
    view! {
        <section class="panel" aria-labelledby="members-title">
            <h2 id="members-title">"Members"</h2>
            <FormError error=remove_error />
            <SearchForm action=base.clone() param="q" label="Search members" placeholder="Login, e-mail or name starts with…" value=q.clone() id="members-q" keep=vec![("tab", "users".to_string())] />
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || {
                    let (base, q) = (base.clone(), q2.clone());
                    Suspend::new(async move {
                        match members.await {
                            Ok(Some(p)) if p.rows.is_empty() => view! {
                                <p class="empty-state">{if q.trim().is_empty() { "No members yet." } else { "No member matches." }}</p>
                            }.into_any(),
                            Ok(Some(p)) => view! {
                                <table class="data">
                                    <caption class="visually-hidden">"Members"</caption>
                                    <thead><tr>
                                        <th scope="col">"Login"</th><th scope="col">"Name"</th><th scope="col">"Joined"</th><th scope="col">"How"</th>
                                        {edit.then(|| view! { <th scope="col">"Actions"</th> })}
                                    </tr></thead>
                                    <tbody>
                                        {p.rows.clone().into_iter().map(|m| view! { <MemberTableRow id m edit remove=a.remove /> }).collect_view()}
                                    </tbody>
                                </table>
                                <Pager base=base query=q page=p.page per_page=p.per_page total=p.total capped=p.total_is_capped params=vec![("tab", "users".to_string())] />
                            }.into_any(),
                            Ok(None) => view! { <p class="loading">"…"</p> }.into_any(),
                            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        }
                    })
                }}
            </Transition>
        </section>
        {edit.then(|| view! {
            <section class="panel" aria-labelledby="add-users-title">
                <h2 id="add-users-title">"Add users"</h2>
                <FormError error=add_error fields=&["user"] />
                <SearchForm action=format!("/groups/{id}") param="uq" label="Find users to add" placeholder="Login, e-mail or name starts with…" value=uq.clone() id="group-user-q" keep=vec![("tab", "users".to_string())] />
                <UserPicker found action=move |u: UserView| view! {
                    <ActionForm action=a.add>
                        <input type="hidden" name="id" value=id />
                        <input type="hidden" name="user" value=u.id />
                        <button type="submit" aria-label=format!("Add {} to the group", u.login)>"Add"</button>
                    </ActionForm>
                } />
            </section>
            <BulkAdd id bulk=a.bulk report=bulk_report />
        }.into_any())}
    }
}

#[component]
fn MemberTableRow(
    id: u64,
    m: MemberRow,
    edit: bool,
    remove: ServerAction<RemoveGroupMember>,
) -> impl IntoView {
    let check = format!("unenrol-{}", m.user_id);
    let login = m.login.clone();
    view! {
        <tr>
            <td>{m.login.clone()}</td>
            <td>{m.display_name.clone()}</td>
            <td>{date(m.joined_at)}</td>
            <td>{m.how.label()}</td>
            {edit.then(|| view! {
                <td>
                    <Confirm summary="Remove…" explanation=format!("Remove {login} from the group? Their enrolments and progress stay unless you tick the box.")>
                        <ActionForm action=remove>
                            <input type="hidden" name="id" value=id />
                            <input type="hidden" name="user" value=m.user_id />
                            <div class="check">
                                <input type="checkbox" id=check.clone() name="unenrol" value="on" />
                                <label for=check>"Also unenrol from this group's courses"</label>
                            </div>
                            <button type="submit" class="danger" aria-label=format!("Remove from group: {login}")>"Remove from group"</button>
                        </ActionForm>
                    </Confirm>
                </td>
            })}
        </tr>
    }
}

/// Paste a list (or load a CSV file into the box) and add everyone on it; then each row's
/// outcome.
#[component]
fn BulkAdd(
    id: u64,
    bulk: ServerAction<BulkAddGroupMembers>,
    report: Res<Option<BulkResult>>,
) -> impl IntoView {
    let error = action_error(bulk);
    let text = RwSignal::new(String::new());
    let file_note = RwSignal::new(None::<String>);
    // The file control needs JavaScript (the file is read in the browser), so it appears only
    // once the page is live; without JavaScript the list is pasted.
    let live = RwSignal::new(false);
    Effect::new(move |_| live.set(true));
    let message = move || {
        file_note
            .get()
            .or_else(|| error.get().and_then(|e| e.field_message("text")))
    };
    view! {
        <section class="panel" aria-labelledby="bulk-title">
            <h2 id="bulk-title">"Bulk add"</h2>
            <ActionForm action=bulk attr:class="form" attr:novalidate=true>
                <FormError error />
                <input type="hidden" name="id" value=id />
                <div class="field" class:invalid=move || message().is_some()>
                    <label for="bulk-text">"Login names or e-mail addresses"</label>
                    <textarea
                        id="bulk-text"
                        name="text"
                        rows="8"
                        prop:value=move || text.get()
                        on:input=move |ev| text.set(event_target_value(&ev))
                        aria-invalid=move || message().map(|_| "true")
                        aria-describedby=move || if message().is_some() { "bulk-text-hint bulk-text-error" } else { "bulk-text-hint" }
                    ></textarea>
                    <p class="hint" id="bulk-text-hint">"One per line, or a CSV whose first column holds them (a header line is skipped). Up to 10,000 rows."</p>
                    {move || message().map(|m| view! { <p class="field-error" id="bulk-text-error">{m}</p> })}
                </div>
                {move || live.get().then(|| view! {
                    <div class="field">
                        <label for="bulk-file">"Or load a CSV or text file"</label>
                        <input id="bulk-file" type="file" accept=".csv,.txt,text/csv,text/plain" on:change=move |ev| load_file(ev, text, file_note) />
                    </div>
                })}
                <div class="actions"><button type="submit" class="primary">"Add listed users"</button></div>
            </ActionForm>
            // Without JavaScript the file goes to the server as an upload instead.
            {move || (!live.get()).then(|| view! { <BulkUpload id /> })}
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match report.await {
                        Ok(Some(Some(r))) => view! { <BulkReport r /> }.into_any(),
                        Ok(_) => view! { <div class="bulk-result"></div> }.into_any(),
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// Uploads a CSV or text file of users to add: the bulk add without JavaScript, a plain
/// multipart form whose errors come back in the URL.
#[component]
fn BulkUpload(id: u64) -> impl IntoView {
    let message = url_error::<BulkUploadGroupMembers>().map(|e| match e {
        AppError::Invalid { message, .. } => message,
        other => other.to_string(),
    });
    let invalid = message.is_some();
    let path = <BulkUploadGroupMembers as leptos::server_fn::ServerFn>::PATH;
    view! {
        <form
            class="form upload"
            method="post"
            action=path
            enctype="multipart/form-data"
        >
            <input type="hidden" name="id" value=id />
            <div class="field" class:invalid=invalid>
                <label for="bulk-upload">"Or upload a CSV or text file"</label>
                <input
                    id="bulk-upload"
                    type="file"
                    name="file"
                    accept=".csv,.txt,text/csv,text/plain"
                    aria-invalid=invalid.then_some("true")
                    aria-describedby=if invalid { "bulk-upload-hint bulk-upload-error" } else { "bulk-upload-hint" }
                />
                <p class="hint" id="bulk-upload-hint">"The same format as above, up to 1 MB."</p>
                {message.map(|m| view! { <p class="field-error" id="bulk-upload-error">{m}</p> })}
            </div>
            <div class="actions"><button type="submit">"Upload and add"</button></div>
        </form>
    }
}

/// Largest file the browser loads into the bulk-add box (the request limit is 1 MiB).
const BULK_FILE_MAX: f64 = crate::api::groups::BULK_FILE_MAX as f64;

/// Reads the chosen file into the bulk-add box (in the browser; the file never goes to the
/// server as a file, only as the text the admin then submits).
fn load_file(ev: leptos::ev::Event, text: RwSignal<String>, note: RwSignal<Option<String>>) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let input = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok());
        let Some(file) = input.and_then(|i| i.files()).and_then(|f| f.get(0)) else {
            return;
        };
        if file.size() > BULK_FILE_MAX {
            note.set(Some(
                "This file is larger than 1 MB. Split it into smaller lists.".into(),
            ));
            return;
        }
        note.set(None);
        leptos::task::spawn_local(async move {
            match wasm_bindgen_futures::JsFuture::from(file.text()).await {
                Ok(v) => text.set(v.as_string().unwrap_or_default()),
                Err(_) => note.set(Some("This file could not be read.".into())),
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (ev, text, note, BULK_FILE_MAX);
}

/// The outcome of a bulk add, row by row.
#[component]
fn BulkReport(r: BulkResult) -> impl IntoView {
    view! {
        <div class="bulk-result">
            <p class="notice" role="status">
                {format!("Last bulk add: {} added, {} already members, {} unknown, {} invalid.", r.added, r.already, r.unknown, r.invalid)}
            </p>
            <div class="scroll" tabindex="0" role="group" aria-label="Result per row">
                <table class="data">
                    <caption>"Result per row"</caption>
                    <thead><tr><th scope="col">"Line"</th><th scope="col">"Entry"</th><th scope="col">"Result"</th></tr></thead>
                    <tbody>
                        {r.rows.into_iter().map(|row| {
                            let class = match row.outcome {
                                BulkOutcome::Added => "ok",
                                BulkOutcome::AlreadyMember => "muted",
                                _ => "bad",
                            };
                            view! { <tr><td class="num">{row.line}</td><td>{row.input}</td><td class=class>{row.outcome.label()}</td></tr> }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </div>
    }
}

#[component]
fn CoursesTab(
    g: GroupView,
    a: Actions,
    links: Res<GroupLinks>,
    found_courses: Res<Paged<CourseRow>>,
    found_curricula: Res<Paged<CurriculumView>>,
    cq: String,
    kq: String,
) -> impl IntoView {
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
            <p class="hint">"Members are enrolled in these by the group's mass enrolment, and when they join by key or as new users of the default group."</p>
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
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
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
                            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
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
                            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        })}
    }
}

#[component]
fn ManagersTab(
    g: GroupView,
    a: Actions,
    managers: Res<Vec<ManagerRow>>,
    found: Res<UserPage>,
    mq: String,
) -> impl IntoView {
    let id = g.id;
    let edit = g.can_edit;
    let error = action_error(a.manager);
    let manager = a.manager;
    view! {
        <section class="panel" aria-labelledby="managers-title">
            <h2 id="managers-title">"Group managers"</h2>
            <p class="hint">"A manager sees this group, its members and its courses (and, later, its reports and messages), and nothing else."</p>
            <FormError error />
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match managers.await {
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
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
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

#[component]
fn ActivityTab(activity: Res<Vec<AuditView>>) -> impl IntoView {
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
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
