use leptos::prelude::*;
use leptos_meta::Title;

/// Any address that is not a page: 404.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found · Tessera" />
        <main id="main" class="content narrow">
            <h1>"Page not found"</h1>
            <p>"There is no page at this address."</p>
            <p>
                <a href="/">"Go to the home page"</a>
            </p>
        </main>
    }
}
