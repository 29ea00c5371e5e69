//! The frame of every signed-in page: top bar with navigation, and the access checks.

use crate::components::field::{form_replay, Outcome};
use crate::components::signed_in::AuthCtx;
use crate::model::user::Me;
use crate::model::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

/// Who may see a page.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Access {
    SignedIn,
    Admin,
}

/// A signed-in page: title, top bar, and the content once the caller is known to be allowed.
/// Visitors go to the login page; signed-in users without the role see "access denied" (403).
#[component]
pub fn Page(title: &'static str, access: Access, children: ChildrenFn) -> impl IntoView {
    let auth = expect_context::<AuthCtx>();
    // Where to come back to after logging in, should the session have ended.
    let location = leptos_router::hooks::use_location();
    let login_path = move || {
        let wanted = format!(
            "{}{}",
            location.pathname.get_untracked(),
            location.search.get_untracked()
        );
        if wanted == "/" {
            "/login".to_string()
        } else {
            format!(
                "/login?next={}",
                crate::components::url::encode_query_value(&wanted)
            )
        }
    };
    // The unread count in the top bar; on a message's own page, without that message (opening
    // it marks it read).
    let opening = move || {
        location
            .pathname
            .get()
            .strip_prefix("/inbox/")
            .and_then(|id| id.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let unread = Resource::new(opening, crate::api::messages::unread_count);
    let body = move || {
        let children = children.clone();
        Suspend::new(async move {
            let me = auth.me.await;
            // See [`past_dry_run`]: the resources of a discarded copy would still load (a
            // second store read per page, finishing after the request when the context is gone).
            past_dry_run().await;
            match me {
                Ok(Some(me)) if access == Access::Admin && !me.is_admin() => view! {
                    <TopBar me unread />
                    <AccessDenied />
                }
                .into_any(),
                Ok(Some(me)) => view! {
                    <TopBar me unread />
                    <main id="main" class="content">
                        <Outcome />
                        {children()}
                    </main>
                }
                .into_any(),
                Ok(None) => view! { <Redirect path=login_path() /> }.into_any(),
                Err(e) => view! { <ErrorBox error=e /> }.into_any(),
            }
        })
    };
    view! {
        <Title text=page_title(title) />
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>{body}</Transition>
    }
}

/// The top bar: the brand, the navigation and who is signed in.
///
/// The navigation keeps the everyday pages as links on the bar and the rest under a "More"
/// menu (a `<details>`: it opens with a click, Enter or Space, without JavaScript). On a phone
/// the bar keeps only the Inbox and a "Menu" holding every page, so it stays one row; the links
/// shown only at one width are duplicates hidden at the other (`wide` / `narrow`), never both
/// visible or both in the accessibility tree at once.
#[component]
fn TopBar(me: Me, unread: Resource<Result<u64, AppError>>) -> impl IntoView {
    let auth = expect_context::<AuthCtx>();
    let admin = me.is_admin();
    let groups = admin || me.manages_groups;
    let home = if admin { "Home" } else { "My courses" };
    // The pages on the bar at desktop width, in the phone's menu otherwise.
    let mut top: Vec<(&'static str, &'static str)> = vec![("/", home)];
    if !admin {
        top.push(("/join", "Join a group"));
    }
    if groups {
        top.push(("/groups", "Groups"));
    }
    if admin {
        top.extend([
            ("/courses", "Courses"),
            ("/users", "Users"),
            ("/reports", "Reports"),
        ]);
    }
    // The pages under "More" at every width.
    let more: &[(&str, &str)] = if admin {
        &[
            ("/curricula", "Curricula"),
            ("/branches", "Branches"),
            ("/activity", "Activity"),
            ("/settings", "Settings"),
            ("/backup", "Backup"),
        ]
    } else {
        &[]
    };
    // Plain links marked current the way `<A>` marks them, without its memo and router lookup
    // per link (sixteen on an administrator's bar, on every page).
    let path = leptos_router::hooks::use_location()
        .pathname
        .get_untracked();
    let current = |href: &str| is_current(href, &path).then_some("page");
    let link = |class: &'static str, (href, label): (&'static str, &'static str)| {
        view! {
            <li class=class>
                <a href=href aria-current=current(href)>{label}</a>
            </li>
        }
    };
    let on_bar = top.iter().map(|&l| link("wide", l)).collect_view();
    let in_menu = top
        .iter()
        .map(|&l| link("narrow", l))
        .chain(more.iter().map(|&l| link("", l)))
        .collect_view();
    // Learners have nothing under "More" at desktop width: the menu is for phones only.
    let menu_class = if more.is_empty() {
        "menu-item narrow"
    } else {
        "menu-item"
    };
    let who = format!("{} · {}", me.display_name, me.role_label());
    view! {
        <a class="skip" href="#main">
            "Skip to content"
        </a>
        <header class="topbar">
            <a href="/" aria-current=current("/") class="brand">
                "Tessera"
            </a>
            <nav aria-label="Main">
                <ul class="nav-bar">
                    {on_bar}
                    <li>
                        <a href="/inbox" aria-current=current("/inbox")>
                            "Inbox"
                            <Transition fallback=|| ()>
                                {move || Suspend::new(async move {
                                    crate::components::layout::past_dry_run().await;
                                    unread.await.ok().filter(|n| *n > 0).map(|n| view! {
                                        " " <span class="count">{crate::model::number::count(n)}<span class="visually-hidden">" unread"</span></span>
                                    })
                                })}
                            </Transition>
                        </a>
                    </li>
                    <li class=menu_class>
                        <details class="menu">
                            <summary>
                                <span class="wide">"More"</span>
                                <span class="narrow">"Menu"</span>
                            </summary>
                            <ul class="menu-list">
                                {in_menu}
                                <li class="narrow menu-who">{who}</li>
                            </ul>
                        </details>
                    </li>
                </ul>
            </nav>
            <div class="whoami">
                <span class="who">
                    {me.display_name.clone()} <span class="role">" · " {me.role_label()}</span>
                </span>
                <ActionForm action=auth.logout>
                    <button type="submit" class="link-button">
                        "Log out"
                    </button>
                </ActionForm>
            </div>
        </header>
        {me.saving_paused.map(|reason| view! {
            <p class="saving-paused" role="alert">
                <strong>"Changes cannot be saved right now: " {reason} "."</strong>
                " Pages can still be read. Anything you change now is not saved; try again later."
                {admin.then_some(" Free space on the server (or make its data directory writable again): Tessera notices by itself and saving resumes.")}
            </p>
        })}
    }
}

/// Whether a link to `href` is marked `aria-current="page"` on the page at `path`: the page
/// itself or one under it (`/groups` on `/groups/7`), as `<A>` marks its links; `/` only on `/`.
pub fn is_current(href: &str, path: &str) -> bool {
    if href == "/" {
        return path == "/";
    }
    path.strip_prefix(href)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Shown to a signed-in user who opens a page their role may not see; answers 403 when rendered
/// on the server.
#[component]
pub fn AccessDenied() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::FORBIDDEN);
    }
    view! {
        <Title text="Access denied · Tessera" />
        <main id="main" class="content narrow">
            <h1>"Access denied"</h1>
            <p>"This page is for administrators. Your account does not have access to it."</p>
            <p>
                <a href="/">"Go to your home page"</a>
            </p>
        </main>
    }
}

/// Shows any error as a message; a 404 or 403 from the server gets its own wording.
#[component]
pub fn ErrorBox(error: AppError) -> impl IntoView {
    let title = match &error {
        AppError::NotFound { .. } => "Not found",
        AppError::Forbidden => "Access denied",
        AppError::Unauthenticated => "Please log in",
        _ => "Something went wrong",
    };
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(error.status_code());
    }
    view! {
        <section class="error-box" role="alert">
            <h2>{title}</h2>
            <p>{error.to_string()}</p>
        </section>
    }
}

/// The document title of a page: "Error: " first when it shows a refused form again, so the
/// first thing a screen reader says is that something was not done.
fn page_title(title: &str) -> String {
    match form_replay() {
        Some(_) => format!("Error: {title} · Tessera"),
        None => format!("{title} · Tessera"),
    }
}

/// A centred card for the pages used before signing in (set-up, login, sign-up).
#[component]
pub fn Card(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <Title text=page_title(title) />
        <main id="main" class="card-page">
            <div class="card">
                <p class="brand-big">"Tessera"</p>
                <Outcome />
                <h1>{title}</h1>
                {children()}
            </div>
        </main>
    }
}

/// Ends Suspense's "dry run" here, on the server. A `<Transition>` walks its children once
/// before rendering them, calling each `Suspend` closure an extra time and polling its future
/// once; when the data are already loaded, that walk builds the whole view (a table's every
/// row, with its forms and links) only to drop it, and renders it again after. Awaited first
/// in a `Suspend`, this makes the walk stop before any view exists, so a page is built once
/// (the profile of `/groups` had a quarter of the server's time in that walk). In the browser
/// it does nothing.
pub async fn past_dry_run() {
    #[cfg(feature = "ssr")]
    tokio::task::yield_now().await;
}

/// Renders a data resource's result: the view on success, the error box otherwise.
pub fn show<T, V: IntoView + 'static>(
    result: Result<T, AppError>,
    f: impl FnOnce(T) -> V,
) -> AnyView {
    match result {
        Ok(v) => f(v).into_any(),
        Err(e) => view! { <ErrorBox error=e /> }.into_any(),
    }
}

#[cfg(test)]
mod tests {
    use super::is_current;

    #[test]
    fn current_links_match_what_the_router_link_marked() {
        assert!(is_current("/", "/"));
        assert!(!is_current("/", "/groups"));
        assert!(is_current("/groups", "/groups"));
        assert!(is_current("/groups", "/groups/7"));
        assert!(is_current("/groups", "/groups/"));
        assert!(!is_current("/groups", "/groupsx"));
        assert!(!is_current("/inbox", "/groups"));
        assert!(is_current("/inbox", "/inbox/12"));
    }
}
