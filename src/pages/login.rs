use crate::api::sign_in::signup_open;
use crate::components::field::{action_error, Field, FormError};
use crate::components::layout::Card;
use crate::components::signed_in::AuthCtx;
use crate::components::url::query_once;
use leptos::prelude::*;

/// Log in with a login name or e-mail and a password.
#[component]
pub fn LoginPage() -> impl IntoView {
    let auth = expect_context::<AuthCtx>();
    let error = action_error(auth.login);
    let open = Resource::new(|| (), |_| signup_open());
    // Where the visitor was going when they were sent here (the server keeps it to this site).
    let next = query_once("next");
    let password_set = query_once("password_set");
    view! {
        <Card title="Log in">
            {move || (password_set() == "1").then(|| view! {
                <p class="notice" role="status">"Your password is set. Log in with it."</p>
            })}
            <ActionForm action=auth.login attr:class="form" attr:novalidate=true>
                <FormError error />
                {move || {
                    let next = next();
                    (!next.is_empty()).then(|| view! { <input type="hidden" name="next" value=next /> })
                }}
                <Field
                    label="Login name or e-mail"
                    name="identifier"
                    form="login"
                    error
                    autocomplete="username"
                    required=true
                />
                <Field label="Password" name="password" form="login" kind="password" error autocomplete="current-password" required=true />
                <button type="submit" class="primary">
                    "Log in"
                </button>
            </ActionForm>
            // A visitor is sent back here to log in first, and then on to the join page.
            <p class="aside">
                <a href="/join">"Have a group key?"</a>
                " Log in, and you can join its group."
            </p>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    open.await
                        .unwrap_or(false)
                        .then(|| {
                            view! {
                                <p class="aside">
                                    "New here? " <a href="/signup">"Sign up"</a>
                                    ", with your group key if you have one."
                                </p>
                            }
                        })
                })}
            </Transition>
        </Card>
    }
}
