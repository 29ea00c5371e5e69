use crate::api::settings::{get_settings, SaveSettings};
use crate::components::field::{action_error, kept_checked, FormError};
use crate::components::layout::{show, Access, Page};
use leptos::prelude::*;

/// `/settings`: server-wide settings (administrators).
#[component]
pub fn SettingsPage() -> impl IntoView {
    view! {
        <Page title="Settings" access=Access::Admin>
            <SettingsForm />
        </Page>
    }
}

#[component]
fn SettingsForm() -> impl IntoView {
    let save = ServerAction::<SaveSettings>::new();
    let settings = Resource::new(move || save.version().get(), |_| get_settings());
    let error = action_error(save);
    view! {
        <h1>"Settings"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                show(
                    settings.await,
                    |s| {
                        view! {
                            <ActionForm action=save attr:class="form" attr:novalidate=true>
                                <FormError error />
                                <fieldset>
                                    <legend>"Accounts"</legend>
                                    <div class="check">
                                        <input
                                            type="checkbox"
                                            id="settings-self-registration"
                                            name="self_registration"
                                            value="on"
                                            checked=kept_checked(error, "self_registration").unwrap_or(s.self_registration)
                                        />
                                        <label for="settings-self-registration">
                                            "Allow self-registration (visitors can create a learner account on the Sign up page)"
                                        </label>
                                    </div>
                                </fieldset>
                                <button type="submit" class="primary">
                                    "Save settings"
                                </button>
                            </ActionForm>
                        }
                    },
                )
            })}
        </Transition>
    }
}
