//! The islands: the only components compiled to wasm and hydrated in the browser. Every page
//! is rendered on the server and works without JavaScript; an island adds what needs it (a copy
//! button, a progress bar that moves, a key generated in place). Their props cross from server
//! to browser as JSON, so they are plain data; they cannot read the server's context.

use leptos::prelude::*;

/// Marks the page as live (`data-hydrated="true"` on `<body>`) once the islands before it are
/// hydrated: the shell puts it last in `<body>`, and islands hydrate in document order. The
/// browser tests wait for it; a page whose wasm fails to load never gets it.
#[island]
pub fn Hydrated() -> impl IntoView {
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}

/// "Copy" next to a text the user will pass on (a group key). It needs JavaScript, so it shows
/// only once the page is live; where the browser refuses the clipboard (a plain-HTTP site that
/// is not this machine), the text is selected instead, ready for Ctrl+C.
#[island]
pub fn CopyButton(
    /// The text copied.
    text: String,
    /// The id of the element showing it (selected when copying is refused).
    #[prop(into)]
    target: String,
    /// What is copied, for screen readers ("Copy the group key").
    #[prop(into)]
    label: String,
) -> impl IntoView {
    let live = RwSignal::new(false);
    let said = RwSignal::new(String::new());
    // Effects run only in the browser: the button appears once it can work.
    Effect::new(move || live.set(true));
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        browser::copy_text(text.clone(), target.clone(), said);
        #[cfg(not(feature = "hydrate"))]
        let _ = (&text, &target);
    };
    view! {
        <button type="button" class="small copy" hidden=move || !live.get() aria-label=label on:click=copy>"Copy"</button>
        <span class="copy-said" role="status">{move || said.get()}</span>
    }
}

/// Keeps the element `region` up to date while it says a job runs (`data-running="true"`):
/// every second (every 5 s after the first minute) the page is read again, with `live=1` so
/// that it may leave out what the region does not show, and the element's new content put in
/// its place, until it says the job is over. `reload_when_done` then loads the whole page once
/// (the rest of it changed too: an import's rows). It gives up after 5 failed reads in a row
/// (signed out, the page gone) and when the page no longer has the region. Without JavaScript
/// the region has a Refresh link instead. The region holds server-rendered HTML only (no
/// islands: those would not be hydrated).
#[island]
pub fn LiveRegion(#[prop(into)] region: String, reload_when_done: bool) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(browser::follow(region, reload_when_done));
    #[cfg(not(feature = "hydrate"))]
    let _ = (region, reload_when_done);
}

/// The group key field with "Generate": in place with JavaScript (nothing typed elsewhere in
/// the form is lost), and without it a link that loads the form again with a fresh key in it.
/// Either way nothing is saved until the form is.
#[island]
pub fn GroupKeyField(
    /// The key shown first (the group's, or one generated for `?generate=1`).
    initial: String,
    /// The field's error from the last save, if any.
    error: Option<String>,
    /// The form's page with `?generate=1`: a full path, since the page may be shown at the
    /// address its form was posted to (after a refusal).
    generate_href: String,
) -> impl IntoView {
    let key = RwSignal::new(initial.clone());
    let follow = generate_href.clone();
    let generate = move |ev: leptos::ev::MouseEvent| {
        ev.prevent_default();
        let follow = follow.clone();
        leptos::task::spawn_local(async move {
            match crate::api::groups::generate_group_key().await {
                Ok(k) => key.set(k),
                // Signed out, say: the link's own way, whose page says what is wrong.
                Err(_) => follow_link(&follow),
            }
        });
    };
    let invalid = error.is_some();
    view! {
        <div class="field" id=invalid.then_some("problem-key") class:invalid=invalid>
            <label for="group-key">"Group key"</label>
            <div class="inline">
                <input
                    id="group-key"
                    name="key"
                    value=initial
                    prop:value=move || key.get()
                    on:input=move |ev| key.set(event_target_value(&ev))
                    autocomplete="off"
                    spellcheck="false"
                    aria-invalid=invalid.then_some("true")
                    aria-describedby=if invalid { "group-key-hint group-key-error" } else { "group-key-hint" }
                />
                <a href=generate_href class="button" on:click=generate>"Generate"</a>
            </div>
            <p class="hint" id="group-key-hint">"Learners who know the key join the group themselves. At least 8 letters and digits, mixed (or 12 of one kind), not easy to guess; hyphens allowed, case does not matter. Generate makes a strong one. Leave empty for no key."</p>
            {error.map(|m| view! { <p class="field-error" id="group-key-error">{m}</p> })}
        </div>
    }
}

/// Goes to `href` as the link would have without JavaScript (in the browser only).
fn follow_link(href: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(w) = web_sys::window() {
        let _ = w.location().set_href(href);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = href;
}

/// What the islands do with the browser's own objects.
#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::{js_sys, JsFuture};

    pub fn copy_text(text: String, target: String, said: RwSignal<String>) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let select = {
            let window = window.clone();
            move || {
                let node = window.document().and_then(|d| d.get_element_by_id(&target));
                if let (Some(node), Ok(Some(sel))) = (node, window.get_selection()) {
                    let _ = sel.select_all_children(&node);
                }
                said.set("Selected: press Ctrl+C (or ⌘C) to copy.".into());
            }
        };
        let clipboard = window.navigator().clipboard();
        if clipboard.is_undefined() {
            return select();
        }
        let promise = clipboard.write_text(&text);
        leptos::task::spawn_local(async move {
            match JsFuture::from(promise).await {
                Ok(_) => said.set("Copied.".into()),
                Err(_) => select(),
            }
        });
    }

    fn running(el: &web_sys::Element) -> bool {
        el.get_attribute("data-running").as_deref() == Some("true")
    }

    async fn sleep(ms: i32) {
        let wait = js_sys::Promise::new(&mut |resolve, _| {
            if let Some(w) = web_sys::window() {
                let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
            }
        });
        let _ = JsFuture::from(wait).await;
    }

    /// This page as the server renders it now for a live region (`live=1`), or `None`
    /// (offline, signed out, the page gone).
    async fn page_now(window: &web_sys::Window) -> Option<web_sys::Document> {
        let url = web_sys::Url::new(&window.location().href().ok()?).ok()?;
        url.search_params().set("live", "1");
        let res: web_sys::Response = JsFuture::from(window.fetch_with_str(&url.href()))
            .await
            .ok()?
            .dyn_into()
            .ok()?;
        if !res.ok() || res.redirected() {
            return None;
        }
        let text = JsFuture::from(res.text().ok()?).await.ok()?.as_string()?;
        web_sys::DomParser::new()
            .ok()?
            .parse_from_string(&text, web_sys::SupportedType::TextHtml)
            .ok()
    }

    pub async fn follow(region: String, reload_when_done: bool) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let here = || window.document()?.get_element_by_id(&region);
        let (mut rounds, mut failures) = (0u32, 0u32);
        while here().is_some_and(|el| running(&el)) {
            rounds += 1;
            sleep(if rounds <= 60 { 1_000 } else { 5_000 }).await;
            let Some(page) = page_now(&window).await else {
                failures += 1;
                if failures >= 5 {
                    return;
                }
                continue;
            };
            failures = 0;
            // The page no longer shows the region (the job's subject is gone): nothing to follow.
            let Some(fresh) = page.get_element_by_id(&region) else {
                return;
            };
            let Some(el) = here() else { return };
            el.set_inner_html(&fresh.inner_html());
            let _ = el.set_attribute(
                "data-running",
                if running(&fresh) { "true" } else { "false" },
            );
            if !running(&fresh) && reload_when_done {
                let _ = window.location().reload();
            }
        }
    }
}
