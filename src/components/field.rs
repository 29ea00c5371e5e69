//! Labelled form fields with their error next to them, and the form-level error box.

use crate::model::AppError;
use leptos::prelude::*;

/// The error a server action last returned, as a signal for the fields of its form.
pub fn action_error<I, T>(action: ServerAction<I>) -> Signal<Option<AppError>>
where
    I: leptos::server_fn::ServerFn<Output = T, Error = AppError> + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    Signal::derive(move || action.value().get().and_then(|r| r.err()))
}

/// Whether a server action just succeeded on this page: its form was posted and the server
/// sent the browser back here with `__done=<its path>` (see `server::layers::form_redirects`).
/// Pages are rendered on the server only, so the action's own value is never there; this mark
/// is how "Changes saved." reaches them. The action names the function.
pub fn action_done<I>(_action: ServerAction<I>) -> Signal<bool>
where
    I: leptos::server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    I::Output: Clone + Send + Sync + 'static,
{
    let done = crate::components::url::query_text("__done");
    Signal::derive(move || done() == <I as leptos::server_fn::ServerFn>::PATH)
}

/// A labelled input. Its error (an `Invalid` error naming `name`) appears under it and is tied to
/// it with `aria-describedby`.
#[component]
pub fn Field(
    /// The visible label.
    label: &'static str,
    /// The form field name (= the server function argument).
    name: &'static str,
    /// Prefix for element ids, unique on the page.
    #[prop(into)]
    form: String,
    error: Signal<Option<AppError>>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional, into)] value: Option<String>,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional)] required: bool,
) -> impl IntoView {
    let id = format!("{form}-{name}");
    let err_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let message = move || error.get().and_then(|e| e.field_message(name));
    let multiline = kind == "textarea";
    let described = {
        let (err_id, hint_id) = (err_id.clone(), hint_id.clone());
        move || {
            let mut ids = Vec::new();
            if hint.is_some() {
                ids.push(hint_id.clone());
            }
            if message().is_some() {
                ids.push(err_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    view! {
        <div class="field" class:invalid=move || message().is_some()>
            <label for=id.clone()>{label}</label>
            {if multiline {
                view! {
                    <textarea
                        id=id
                        name=name
                        rows="8"
                        required=required
                        aria-invalid=move || message().map(|_| "true")
                        aria-describedby=described
                    >
                        {value}
                    </textarea>
                }
                    .into_any()
            } else {
                view! {
                    <input
                        id=id
                        type=kind
                        name=name
                        value=value
                        autocomplete=autocomplete
                        required=required
                        aria-invalid=move || message().map(|_| "true")
                        aria-describedby=described
                    />
                }
                    .into_any()
            }}
            {hint.map(|h| view! { <p class="hint" id=hint_id.clone()>{h}</p> })}
            {move || message().map(|m| view! { <p class="field-error" id=err_id.clone()>{m}</p> })}
        </div>
    }
}

/// An error that belongs to the form as a whole (not to one field), announced to screen readers.
/// `fields` names field errors that have no input of their own on this form and so are shown
/// here. The wrapper element is always rendered so the page keeps one shape for hydration.
#[component]
pub fn FormError(
    error: Signal<Option<AppError>>,
    #[prop(optional)] fields: &'static [&'static str],
) -> impl IntoView {
    let shown = move || {
        error.get().filter(|e| match e.field() {
            Some(field) => fields.contains(&field),
            None => true,
        })
    };
    view! {
        <div class="form-errors" role="alert">
            {move || shown().map(|e| view! { <p class="form-error">{e.to_string()}</p> })}
        </div>
    }
}

/// A success note shown after an action finished well.
#[component]
pub fn Notice(#[prop(into)] show: Signal<bool>, text: &'static str) -> impl IntoView {
    view! {
        <div class="notices" role="status">
            {move || show.get().then(|| view! { <p class="notice">{text}</p> })}
        </div>
    }
}

/// The fields of a new account as its owner fills them in (set-up and sign-up): login name,
/// e-mail, display name and the password twice.
#[component]
pub fn OwnAccountFields(form: &'static str, error: Signal<Option<AppError>>) -> impl IntoView {
    view! {
        <Field label="Login name" name="login" form error autocomplete="username" required=true />
        <Field label="E-mail" name="email" form kind="email" error autocomplete="email" required=true />
        <Field label="Display name" name="display_name" form error autocomplete="name" required=true />
        <Field
            label="Password"
            name="password"
            form
            kind="password"
            error
            autocomplete="new-password"
            hint="8 to 128 characters."
            required=true
        />
        <Field
            label="Password again"
            name="password_confirm"
            form
            kind="password"
            error
            autocomplete="new-password"
            required=true
        />
    }
}

/// An optional branch picker (a `<select>` of branches plus "none"), with its field error.
#[component]
pub fn BranchSelect(
    form: &'static str,
    /// The form field name.
    name: &'static str,
    label: &'static str,
    /// The label of the "no branch" choice.
    none: &'static str,
    options: Vec<crate::model::catalog::BranchView>,
    selected: Option<u64>,
    error: Signal<Option<AppError>>,
) -> impl IntoView {
    let id = format!("{form}-{name}");
    let err_id = format!("{id}-error");
    let message = move || error.get().and_then(|e| e.field_message(name));
    let err_ref = err_id.clone();
    view! {
        <div class="field" class:invalid=move || message().is_some()>
            <label for=id.clone()>{label}</label>
            <select id=id name=name aria-describedby=move || message().map(|_| err_ref.clone())>
                <option value="" selected=selected.is_none()>{none}</option>
                {options
                    .into_iter()
                    .map(|b| view! { <option value=b.id selected=Some(b.id) == selected>{b.name}</option> })
                    .collect_view()}
            </select>
            {move || message().map(|m| view! { <p class="field-error" id=err_id.clone()>{m}</p> })}
        </div>
    }
}

/// The error server function `S` sent back in the URL after a form post without JavaScript,
/// for forms that cannot use a `ServerAction` (file uploads post a plain multipart form).
pub fn url_error<S>() -> Option<AppError>
where
    S: leptos::server_fn::ServerFn<Error = AppError>,
{
    use leptos::server::ServerActionError;
    use leptos::server_fn::error::ServerFnUrlError;
    use_context::<ServerActionError>()
        .filter(|e| e.path() == S::PATH)
        .map(|e| ServerFnUrlError::<AppError>::decode_err(e.err()))
}
