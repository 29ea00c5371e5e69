use crate::components::field::{action_error, FormError, OwnAccountFields};
use crate::components::layout::Card;
use crate::components::signed_in::AuthCtx;
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
                <OwnAccountFields form="setup" error />
                <button type="submit" class="primary">
                    "Create administrator"
                </button>
            </ActionForm>
        </Card>
    }
}
