//! The HTML shell, the root component and the one route table.

#[cfg(feature = "ssr")]
use crate::components::field::FormReplay;
use crate::components::signed_in::provide_auth;
use crate::pages;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// The document around the app (server side). Sets the page's Content-Security-Policy with the
/// nonce Leptos puts on its scripts for this render.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(res)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        if let Ok(v) = http::HeaderValue::from_str(&crate::server::layers::page_csp(&nonce)) {
            res.insert_header(http::header::CONTENT_SECURITY_POLICY, v);
        }
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="description" content="Tessera learning management" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                // Beside the scripts, from the same (versioned) directory; the shell is not
                // hydrated, so the browser build never needs to know it.
                <link
                    rel="stylesheet"
                    id="leptos"
                    href=format!("/{}/tessera.css", options.site_pkg_dir)
                />
                <HydrationScripts options islands=true />
                <MetaTags />
            </head>
            <body>
                <App />
                // Last, so that it is hydrated after every other island on the page.
                <crate::components::islands::Hydrated />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Tessera" />
        <Router>
            <AppRoutes />
        </Router>
    }
}

/// The route table. Lives inside `<Router>` so that the actions created here see the error a
/// form post without JavaScript brought back in the URL.
#[component]
fn AppRoutes() -> impl IntoView {
    // <Routes> provides this only to the route views; the auth actions are created above them.
    leptos_router::hooks::use_url()
        .read_untracked()
        .provide_server_action_error();
    // A refused form's page, rendered again: its action gets the error, its fields the values.
    #[cfg(feature = "ssr")]
    if let Some(replay) = use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<FormReplay>().cloned())
    {
        provide_context(leptos::server::ServerActionError::new(
            &replay.fn_path,
            &replay.encoded,
        ));
        provide_context(replay);
    }
    provide_auth();
    view! {
            <Routes fallback=pages::not_found::NotFound>
                <Route path=path!("/") view=pages::home::HomePage ssr=SsrMode::Async />
                <Route path=path!("/setup") view=pages::setup::SetupPage ssr=SsrMode::Async />
                <Route path=path!("/login") view=pages::login::LoginPage ssr=SsrMode::Async />
                <Route path=path!("/signup") view=pages::signup::SignupPage ssr=SsrMode::Async />
                <Route path=path!("/users") view=pages::users::UsersPage ssr=SsrMode::Async />
                <Route path=path!("/users/:id") view=pages::user_detail::UserDetailPage ssr=SsrMode::Async />
                <Route path=path!("/join") view=pages::join::JoinPage ssr=SsrMode::Async />
                <Route path=path!("/inbox") view=pages::inbox::InboxPage ssr=SsrMode::Async />
                <Route path=path!("/inbox/:id") view=pages::inbox::MessagePage ssr=SsrMode::Async />
                <Route path=path!("/imports") view=pages::imports::ImportsPage ssr=SsrMode::Async />
                <Route path=path!("/imports/:id") view=pages::imports::ImportPage ssr=SsrMode::Async />
                <Route path=path!("/set-password") view=pages::set_password::SetPasswordPage ssr=SsrMode::Async />
                <Route path=path!("/settings") view=pages::settings::SettingsPage ssr=SsrMode::Async />
                <Route path=path!("/backup") view=pages::backup::BackupPage ssr=SsrMode::Async />
                <Route path=path!("/branches") view=pages::branches::BranchesPage ssr=SsrMode::Async />
                <Route path=path!("/branches/:id") view=pages::branches::BranchDetailPage ssr=SsrMode::Async />
                <Route path=path!("/courses") view=pages::courses::CoursesPage ssr=SsrMode::Async />
                <Route path=path!("/courses/:id") view=pages::course_detail::CourseDetailPage ssr=SsrMode::Async />
                <Route path=path!("/curricula") view=pages::curricula::CurriculaPage ssr=SsrMode::Async />
                <Route path=path!("/curricula/:id") view=pages::curricula::CurriculumDetailPage ssr=SsrMode::Async />
                <Route path=path!("/groups") view=pages::groups::GroupsPage ssr=SsrMode::Async />
                <Route path=path!("/groups/new") view=pages::groups::NewGroupPage ssr=SsrMode::Async />
                <Route path=path!("/groups/:id") view=pages::group_detail::GroupDetailPage ssr=SsrMode::Async />
                <Route path=path!("/groups/:id/edit") view=pages::groups::EditGroupPage ssr=SsrMode::Async />
                <Route path=path!("/learn/:course") view=pages::learn::LearnerCoursePage ssr=SsrMode::Async />
                <Route path=path!("/learn/:course/:lesson") view=pages::learn::LessonPage ssr=SsrMode::Async />
                <Route path=path!("/reports") view=pages::reports::ReportsPage ssr=SsrMode::Async />
                <Route path=path!("/activity") view=pages::activity::ActivityPage ssr=SsrMode::Async />
            </Routes>
    }
}
