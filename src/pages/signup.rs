use crate::api::sign_in::signup_open;
use crate::components::field::{action_error, Field, FormError, OwnAccountFields};
use crate::components::layout::Card;
use crate::components::signed_in::AuthCtx;
use crate::components::url::query_once;
use leptos::prelude::*;

/// Self-registration of a learner account, when an administrator has turned it on, with an
/// optional group key (`?key=` fills it in).
#[component]
pub fn SignupPage() -> impl IntoView {
    let auth = expect_context::<AuthCtx>();
    let error = action_error(auth.signup);
    let open = Resource::new(|| (), |_| signup_open());
    let key = query_once("key");
    view! {
        <Card title="Sign up">
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    if !open.await.unwrap_or(false) {
                        return view! {
                            <p>"Self-registration is turned off. Ask an administrator for an account."</p>
                            <p>
                                <a href="/login">"Back to log in"</a>
                            </p>
                        }
                            .into_any();
                    }
                    view! {
                        <ActionForm action=auth.signup attr:class="form" attr:novalidate=true>
                            <FormError error />
                            <OwnAccountFields form="signup" error />
                            <Field
                                label="Group key"
                                name="key"
                                form="signup"
                                error
                                value=key()
                                autocomplete="off"
                                hint="Optional. If a teacher or trainer gave you a group key, type it to join their group and its courses."
                            />
                            <button type="submit" class="primary">
                                "Create my account"
                            </button>
                        </ActionForm>
                        <p class="aside">
                            "Already have an account? " <a href="/login">"Log in"</a>
                        </p>
                    }
                        .into_any()
                })}
            </Transition>
        </Card>
    }
}
