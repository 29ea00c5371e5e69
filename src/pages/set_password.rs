//! `/set-password?token=…`: a user imported without a password chooses one with the link an
//! administrator handed them (single use; it expires).

use crate::api::imports::{password_link_login, SetPasswordByLink};
use crate::components::field::{action_error, Field, FormError};
use crate::components::layout::Card;
use crate::components::url::query_text;
use leptos::prelude::*;

#[component]
pub fn SetPasswordPage() -> impl IntoView {
    let token = query_text("token");
    let set = ServerAction::<SetPasswordByLink>::new();
    let error = action_error(set);
    let login = Resource::new(token, password_link_login);
    view! {
        <Card title="Choose a password">
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let token = token();
                    match login.await {
                        Ok(login) => view! {
                            <p>{format!("Choose the password for your account {login}. This link works once.")}</p>
                            <ActionForm action=set attr:class="form" attr:novalidate=true>
                                <FormError error fields=&["token"] />
                                <input type="hidden" name="token" value=token />
                                <Field label="New password" name="password" form="set-password" kind="password" error autocomplete="new-password" hint="At least 8 characters." required=true />
                                <Field label="New password again" name="password_confirm" form="set-password" kind="password" error autocomplete="new-password" required=true />
                                <button type="submit" class="primary">"Set password"</button>
                            </ActionForm>
                        }
                        .into_any(),
                        Err(e) => view! {
                            <p class="field-error" role="alert">{match e {
                                crate::model::AppError::Invalid { message, .. } => message,
                                other => other.to_string(),
                            }}</p>
                            <p><a href="/login">"Go to log in"</a></p>
                        }
                        .into_any(),
                    }
                })}
            </Transition>
        </Card>
    }
}
