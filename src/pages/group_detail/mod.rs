//! `/groups/:id`: a group's header and its tabs: Users (members, add, bulk add), Courses
//! (courses and curricula), Managers, Messages, Activity and Report. Administrators change
//! things; the group's managers read (and write to the members).

use crate::api::groups::{
    courses_to_attach, curricula_to_attach, get_group, get_group_links, group_activity,
    last_bulk_result, list_group_managers, list_group_members, mass_enrolment_status,
    AddGroupMember, AttachGroupLinks, BulkAddGroupMembers, BulkUploadGroupMembers, ChangeGroupLink,
    ChangeGroupManager, DeleteGroup, RemoveGroupMember, StartMassEnrolment,
};
use crate::api::keys::{ChangeGroupKey, RegenerateGroupKey};
use crate::api::messages::{group_messages, SendGroupMessage};
use crate::api::users::list_users;
use crate::components::data_table::DataTable;
use crate::components::field::{action_done, action_error, url_error, FormError};
use crate::components::islands::{CopyButton, LiveRegion};
use crate::components::layout::{show, Access, ErrorBox, Page};
use crate::components::url::{param_id, query_page, query_text};
use crate::components::widgets::{date, date_time, Confirm, SearchForm, UserPicker};
use crate::model::catalog::{CourseRow, CurriculumView};
use crate::model::group::{
    uses_text, AuditView, BulkOutcome, BulkResult, GroupLinks, GroupView, KeyStatus, ManagerRow,
    MassEnrolView, MemberRow,
};
use crate::model::number::{count, count_of};
use crate::model::user::{UserPage, UserView};
use crate::model::{AppError, Paged};
use leptos::prelude::*;
use leptos_router::components::A;

mod activity;
mod courses;
mod managers;
mod messages;
mod report;
mod users;

use activity::ActivityTab;
use courses::CoursesTab;
use managers::ManagersTab;
use messages::MessagesTab;
use report::ReportTab;
use users::UsersTab;

fn plural(n: u32, one: &str, many: &str) -> String {
    count_of(u64::from(n), one, many)
}

/// A tab's data: created only when its tab is the one shown (`None` otherwise). Pages are
/// rendered on the server only, so the tab cannot change during a render: creating the other
/// tabs' resources cost a task, a memo and signals each for nothing.
type Res<T> = Option<Resource<Result<Option<T>, AppError>>>;

/// The value of `res`, or `Ok(None)` when its tab is not shown.
async fn load<T>(res: Res<T>) -> Result<Option<T>, AppError>
where
    T: Clone + Send + Sync + 'static,
{
    match res {
        Some(r) => r.await,
        None => Ok(None),
    }
}

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
    Messages,
    Activity,
    Report,
}

impl Tab {
    fn parse(raw: &str) -> Tab {
        match raw {
            "courses" => Tab::Courses,
            "managers" => Tab::Managers,
            "messages" => Tab::Messages,
            "activity" => Tab::Activity,
            "report" => Tab::Report,
            _ => Tab::Users,
        }
    }
}

/// Everything the group page's tabs read and change, created once by [`GroupDetail`] (before
/// any suspense) and provided as context.
#[derive(Clone, Copy)]
struct GroupCtx {
    a: Actions,
    members: Res<Paged<MemberRow>>,
    bulk_report: Res<Option<BulkResult>>,
    found_users: Res<UserPage>,
    links: Res<GroupLinks>,
    /// A page of the courses not yet attached (all of them at first, or those searched).
    found_courses: Res<Paged<CourseRow>>,
    /// A page of the curricula not yet attached.
    found_curricula: Res<Paged<CurriculumView>>,
    managers: Res<Vec<ManagerRow>>,
    found_managers: Res<UserPage>,
    activity: Res<Vec<AuditView>>,
    /// Who joined with the key (Activity tab), a page at a time.
    redemptions: Res<Paged<crate::model::group::RedemptionView>>,
    mass: Res<Option<MassEnrolView>>,
    /// Messages sent to the group (Messages tab), a page at a time.
    messages: Res<Paged<crate::model::message::SentRow>>,
    /// The Report tab's page of the report.
    report: Res<crate::model::report::GroupReportView>,
}

#[derive(Clone, Copy)]
struct Actions {
    delete: ServerAction<DeleteGroup>,
    add: ServerAction<AddGroupMember>,
    remove: ServerAction<RemoveGroupMember>,
    bulk: ServerAction<BulkAddGroupMembers>,
    link: ServerAction<ChangeGroupLink>,
    attach: ServerAction<AttachGroupLinks>,
    manager: ServerAction<ChangeGroupManager>,
    mass: ServerAction<StartMassEnrolment>,
    key: ServerAction<ChangeGroupKey>,
    regenerate: ServerAction<RegenerateGroupKey>,
    send: ServerAction<SendGroupMessage>,
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
    let shown = tab();
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
        attach: ServerAction::new(),
        manager: ServerAction::new(),
        mass: ServerAction::new(),
        key: ServerAction::new(),
        regenerate: ServerAction::new(),
        send: ServerAction::new(),
    };
    let changes = move || {
        (
            a.add.version().get(),
            a.remove.version().get(),
            a.bulk.version().get(),
            a.link.version().get(),
            a.attach.version().get(),
            a.manager.version().get(),
            a.mass.version().get(),
            a.key.version().get(),
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
    let members: Res<Paged<MemberRow>> = (shown == Tab::Users).then(|| {
        Resource::new(
            move || (gid(), tab(), q(), page(), changes()),
            |(id, tab, q, page, _)| when(tab == Tab::Users, list_group_members(id, q, page)),
        )
    });
    let bulk_flag = query_text("bulk");
    let bulk_report: Res<Option<BulkResult>> = (shown == Tab::Users).then(|| {
        Resource::new(
            move || (gid(), tab(), bulk_flag(), changes()),
            |(id, tab, flag, _)| when(tab == Tab::Users && flag == "1", last_bulk_result(id)),
        )
    });
    let found_users: Res<UserPage> = (shown == Tab::Users).then(|| {
        Resource::new(
            move || (tab(), uq()),
            |(tab, q)| when(tab == Tab::Users && !q.trim().is_empty(), list_users(q, 1)),
        )
    });
    let links: Res<GroupLinks> = (shown == Tab::Courses).then(|| {
        Resource::new(
            move || (gid(), tab(), changes()),
            |(id, tab, _)| when(tab == Tab::Courses, get_group_links(id)),
        )
    });
    // The first page of what can still be attached shows at once; a search narrows it.
    let found_courses: Res<Paged<CourseRow>> = (shown == Tab::Courses).then(|| {
        Resource::new(
            move || (gid(), tab(), cq(), changes()),
            |(id, tab, q, _)| when(tab == Tab::Courses, courses_to_attach(id, q, 1)),
        )
    });
    let found_curricula: Res<Paged<CurriculumView>> = (shown == Tab::Courses).then(|| {
        Resource::new(
            move || (gid(), tab(), kq(), changes()),
            |(id, tab, q, _)| when(tab == Tab::Courses, curricula_to_attach(id, q, 1)),
        )
    });
    let managers: Res<Vec<ManagerRow>> = (shown == Tab::Managers).then(|| {
        Resource::new(
            move || (gid(), tab(), changes()),
            |(id, tab, _)| when(tab == Tab::Managers, list_group_managers(id)),
        )
    });
    let found_managers: Res<UserPage> = (shown == Tab::Managers).then(|| {
        Resource::new(
            move || (tab(), mq()),
            |(tab, q)| {
                when(
                    tab == Tab::Managers && !q.trim().is_empty(),
                    list_users(q, 1),
                )
            },
        )
    });
    let mass: Res<Option<MassEnrolView>> = (shown == Tab::Courses).then(|| {
        Resource::new(
            move || (gid(), tab(), changes()),
            |(id, tab, _)| when(tab == Tab::Courses, mass_enrolment_status(id)),
        )
    });
    let activity: Res<Vec<AuditView>> = (shown == Tab::Activity).then(|| {
        Resource::new(
            move || (gid(), tab(), changes()),
            |(id, tab, _)| when(tab == Tab::Activity, group_activity(id)),
        )
    });
    let redemptions: Res<Paged<crate::model::group::RedemptionView>> = (shown == Tab::Activity)
        .then(|| {
            Resource::new(
                move || (gid(), tab(), page(), changes()),
                |(id, tab, page, _)| {
                    when(
                        tab == Tab::Activity,
                        crate::api::keys::group_key_redemptions(id, page),
                    )
                },
            )
        });
    let messages: Res<Paged<crate::model::message::SentRow>> =
        (shown == Tab::Messages).then(|| {
            Resource::new(
                move || (gid(), tab(), page(), a.send.version().get()),
                |(id, tab, page, _)| when(tab == Tab::Messages, group_messages(id, page)),
            )
        });
    let status = query_text("status");
    let course = query_text("course");
    let report: Res<crate::model::report::GroupReportView> = (shown == Tab::Report).then(|| {
        Resource::new(
            move || (gid(), tab(), status(), course(), page(), changes()),
            |(id, tab, status, course, page, _)| {
                when(
                    tab == Tab::Report,
                    crate::api::reports::group_report(id, status, course, page),
                )
            },
        )
    });
    provide_context(GroupCtx {
        messages,
        a,
        members,
        bulk_report,
        found_users,
        links,
        found_courses,
        found_curricula,
        managers,
        found_managers,
        activity,
        redemptions,
        mass,
        report,
    });
    view! {
        <p class="breadcrumb"><A href="/groups">"← All groups"</A></p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                crate::components::layout::past_dry_run().await;
                show(group.await, move |g| {
                    let tab = tab();
                    view! {
                        <GroupHeader g=g.clone() tab delete=a.delete key_action=a.key regenerate=a.regenerate />
                        <TabNav id=g.id tab />
                        <div class="tab-panel">
                            {match tab {
                                Tab::Users => view! { <UsersTab g=g.clone() q=q() uq=uq() /> }.into_any(),
                                Tab::Courses => view! { <CoursesTab g=g.clone() cq=cq() kq=kq() /> }.into_any(),
                                Tab::Managers => view! { <ManagersTab g=g.clone() mq=mq() /> }.into_any(),
                                Tab::Messages => view! { <MessagesTab g=g.clone() /> }.into_any(),
                                Tab::Activity => view! { <ActivityTab /> }.into_any(),
                                Tab::Report => view! { <ReportTab id=g.id status=status() course=course() /> }.into_any(),
                            }}
                        </div>
                    }
                })
            })}
        </Transition>
    }
}

#[component]
fn GroupHeader(
    g: GroupView,
    tab: Tab,
    delete: ServerAction<DeleteGroup>,
    key_action: ServerAction<ChangeGroupKey>,
    regenerate: ServerAction<RegenerateGroupKey>,
) -> impl IntoView {
    let delete_error = action_error(delete);
    // Administrators and the group's managers get the key, to copy and hand out.
    let key = g.key.key.clone();
    let window = match (g.key.valid_from, g.key.valid_until) {
        (None, None) => None,
        (Some(f), None) => Some(format!("from {}", date(f))),
        (None, Some(u)) => Some(format!("until {}", date(u))),
        (Some(f), Some(u)) => Some(format!("{} to {}", date(f), date(u))),
    };
    let has_key = g.key_status != KeyStatus::None;
    let name = g.name.clone();
    let default_text = if g.is_default {
        "Join it automatically (this is the default group)"
    } else {
        "Are not added automatically (not the default group)"
    };
    view! {
        <div class="page-head">
            <h1>
                {g.name.clone()}
                {g.is_default.then(|| view! { " " <span class="badge">"Default group"</span> })}
            </h1>
            {g.can_edit.then(|| view! { <A href=format!("/groups/{}/edit", g.id) attr:class="button">"Edit group"</A> })}
        </div>
        {(!g.description.is_empty()).then(|| view! { <p class="lead">{g.description.clone()}</p> })}
        // The group's main actions at a glance: the key to hand out (with its copy button),
        // whether new users land here, and enrolling every member in the group's courses.
        <section class="group-head" aria-label="Key and main actions">
            <div class="head-key">
                <span class="head-label">"Group key"</span>
                <span class="head-value">
                    {key.map(|k| view! {
                        <code class="key-text key-big" id="group-key-text">{k.clone()}</code>
                        " "
                        <CopyButton text=k target="group-key-text" label="Copy the group key" />
                        " "
                    })}
                    <span class=g.key_status.class()>{g.key_status.label()}</span>
                    {has_key.then(|| view! { " · " {uses_text(g.key_uses, g.key.max_uses)} " uses" })}
                    {window.map(|w| view! { " · " {w} })}
                </span>
                // Managers too, when the group lets them regenerate its key (never disable or enable it).
                {g.can_regenerate_key.then(|| view! { <KeyButtons g=g.clone() action=key_action regenerate /> })}
            </div>
            <div class="head-default">
                <span class="head-label">"New users"</span>
                <span class="head-value">{default_text}</span>
            </div>
            // (On the Courses tab its panel is the first thing under the tabs.)
            {(g.can_edit && tab != Tab::Courses).then(|| view! {
                <div class="head-enrol">
                    <a class="button primary" href=format!("/groups/{}?tab=courses#mass-title", g.id)>"Enrol all members…"</a>
                </div>
            })}
        </section>
        <dl class="facts">
            <div><dt>"Branch"</dt><dd>{g.branch_name.clone().unwrap_or_else(|| "—".into())}</dd></div>
            <div><dt>"Members"</dt><dd>{count(g.members)}</dd></div>
            <div><dt>"Courses"</dt><dd>{format!("{} · {}", plural(g.courses, "course", "courses"), plural(g.curricula, "curriculum", "curricula"))}</dd></div>
            <div><dt>"Created"</dt><dd>{date(g.created_at)}</dd></div>
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
    .into_any()
}

/// "Regenerate key" (behind a confirmation: the old key stops working) and "Disable key" /
/// "Enable key", for administrators; the first alone for a manager the group lets regenerate
/// its key.
#[component]
fn KeyButtons(
    g: GroupView,
    action: ServerAction<ChangeGroupKey>,
    regenerate: ServerAction<RegenerateGroupKey>,
) -> impl IntoView {
    let error = action_error(action);
    let regenerate_error = action_error(regenerate);
    let has_key = g.key_status != KeyStatus::None;
    let admin = g.can_edit;
    // What the action that just succeeded did, told the way other actions tell theirs.
    let notice = if action_done(regenerate).get_untracked() {
        Some(match &g.key.key {
            Some(k) => format!("New key made: {k}. The old key no longer works."),
            None => "Key regenerated.".to_string(),
        })
    } else if action_done(action).get_untracked() {
        Some(
            if g.key.enabled {
                "Key enabled."
            } else {
                "Key disabled."
            }
            .to_string(),
        )
    } else {
        None
    };
    let button = move |op: &'static str, label: &'static str, class: &'static str| {
        view! {
            <ActionForm action=action>
                <input type="hidden" name="id" value=g.id />
                <input type="hidden" name="op" value=op />
                <button type="submit" class=class>{label}</button>
            </ActionForm>
        }
    };
    let regenerate_button = move |label: &'static str, class: &'static str| {
        view! {
            <ActionForm action=regenerate>
                <input type="hidden" name="id" value=g.id />
                <button type="submit" class=class>{label}</button>
            </ActionForm>
        }
    };
    view! {
        <div class="notices" role="status">
            {notice.map(|n| view! { <p class="notice">{n}</p> })}
        </div>
        <div class="key-actions">
            <FormError error fields=&["key", "op", "id"] />
            <FormError error=regenerate_error fields=&["key", "id"] />
            {if has_key {
                view! {
                    <Confirm summary="Regenerate key…" explanation="A new random key replaces this one, which stops working at once. Members who joined with it stay. Uses start again at 0.">
                        {regenerate_button("Regenerate key", "primary")}
                    </Confirm>
                    {admin.then(|| if g.key.enabled {
                        button("disable", "Disable key", "")
                    } else {
                        button("enable", "Enable key", "primary")
                    })}
                }
                .into_any()
            } else {
                regenerate_button("Generate a key", "").into_any()
            }}
        </div>
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
                {item(Tab::Messages, "messages", "Messages")}
                {item(Tab::Activity, "activity", "Activity")}
                {item(Tab::Report, "report", "Report")}
            </ul>
        </nav>
    }
}
