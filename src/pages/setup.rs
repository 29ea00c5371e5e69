use crate::app::AuthCtx;
use crate::components::field::{action_error, Field, FormError};
use crate::components::layout::Card;
use leptos::prelude::*;

/// First start: create the first administrator. Gone once any user exists.
#[component]
pub fn SetupPage() -> impl IntoView {
    let auth = expect_context::<AuthCtx>();
    let error = action_error(auth.setup);
    view! {
        <Card title="Welcome to Tessera">
            <p>
                "Create the first administrator account. You will use it to add users, groups and courses."
            </p>
            <ActionForm action=auth.setup attr:class="form" attr:novalidate=true>
                <FormError error />
                <Field label="Login name" name="login" form="setup" error autocomplete="username" required=true />
                <Field label="E-mail" name="email" form="setup" kind="email" error autocomplete="email" required=true />
                <Field label="Display name" name="display_name" form="setup" error autocomplete="name" required=true />
                <Field
                    label="Password"
                    name="password"
                    form="setup"
                    kind="password"
                    error
                    autocomplete="new-password"
                    hint="8 to 128 characters."
                    required=true
                />
                <Field
                    label="Password again"
                    name="password_confirm"
                    form="setup"
                    kind="password"
                    error
                    autocomplete="new-password"
                    required=true
                />
                <button type="submit" class="primary">
                    "Create administrator"
                </button>
            </ActionForm>
        </Card>
    }
}
