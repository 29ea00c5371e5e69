//! Labelled form fields with their error next to them, the form-level error box, and the
//! outcome banner at the top of a page after a form was posted.
//!
//! A form posted (with or without JavaScript: pages are rendered on the server) that the
//! server refuses is answered with its page rendered again, not a redirect: the server
//! (`server::layers::form_redirects`) renders the page the form was on with a [`FormReplay`]
//! in the request, and every field of that form shows what was typed (never a password) with
//! its error beside it, while [`Outcome`] at the top lists every problem, linked to its field,
//! and takes the focus. A form that succeeded comes back to a page whose URL carries
//! `__done=<function path>`, and [`Outcome`] says what happened, the same way for every form.

use crate::model::AppError;
use leptos::prelude::*;

/// What a refused form post sent, for rendering its page again: the server function, its
/// error (and that error as server_fn encodes it in a URL, for the function's action), and
/// the typed values, passwords left out.
#[derive(Clone, Debug, PartialEq)]
pub struct FormReplay {
    /// The function's path, `/api/<endpoint>`.
    pub fn_path: String,
    /// The error, encoded the way `ServerFnUrlError` decodes it.
    pub encoded: String,
    /// The error.
    pub error: AppError,
    /// The posted fields in their order (a name may repeat: checklists).
    pub values: Vec<(String, String)>,
}

impl FormReplay {
    /// Whether a posted field is one whose value never comes back to the page.
    pub fn is_secret(name: &str) -> bool {
        name.contains("password")
    }

    /// The typed value of field `name` (the first, when it repeats).
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `value` was posted for field `name` (a ticked checkbox, a chosen option).
    pub fn has(&self, name: &str, value: &str) -> bool {
        self.values.iter().any(|(k, v)| k == name && v == value)
    }
}

/// The replay of the refused form this page is rendered for, if any.
pub fn form_replay() -> Option<FormReplay> {
    use_context::<FormReplay>()
}

/// What field `name` of a form was typed as, when this very form was just refused (its
/// `error` is set; only the refused form's action has one): the page then shows that instead
/// of the stored value.
pub fn kept(error: Signal<Option<AppError>>, name: &str) -> Option<String> {
    if FormReplay::is_secret(name) || error.get_untracked().is_none() {
        return None;
    }
    form_replay().and_then(|r| r.value(name).map(str::to_string))
}

/// `error`, for the one form of several sharing an action whose post carried `name=value`
/// (the lesson it edits, the `op` it does): the others of that action stay as they were, so
/// what was typed in one is not shown in all.
pub fn error_where(
    error: Signal<Option<AppError>>,
    name: &'static str,
    value: String,
) -> Signal<Option<AppError>> {
    let posted = form_replay().is_some_and(|r| r.has(name, &value));
    Signal::derive(move || error.get().filter(|_| posted))
}

/// Whether checkbox `name` of a just-refused form was ticked (`None` when this form was not
/// the one refused, so the page shows the stored state).
pub fn kept_checked(error: Signal<Option<AppError>>, name: &str) -> Option<bool> {
    error.get_untracked()?;
    form_replay().map(|r| r.value(name).is_some())
}

/// The id of the element a problem with field `name` links to from [`Outcome`].
pub fn problem_id(name: &str) -> String {
    format!("problem-{name}")
}

/// What a form that just succeeded did, by its server function's path: said at the top of
/// the page it comes back to. Functions whose page shows its own result are not listed.
pub fn done_message(fn_path: &str) -> Option<&'static str> {
    let endpoint = fn_path.strip_prefix("/api/")?;
    Some(match endpoint {
        "create_group" => "Group created.",
        "delete_group" => "Group deleted.",
        "create_branch" => "Branch created.",
        "delete_branch" => "Branch deleted.",
        "create_course" => "Course created.",
        "delete_course" => "Course deleted.",
        "create_curriculum" => "Curriculum created.",
        "delete_curriculum" => "Curriculum deleted.",
        "create_user" => "User created.",
        "reset_password" => "Password changed.",
        "save_settings" => "Settings saved.",
        "add_group_member" => "Member added.",
        "bulk_add_group_members" => "Done: each name's outcome is listed below.",
        "start_mass_enrolment" => "Enrolment started: its progress is shown below.",
        "mark_lesson" => "Progress saved.",
        "remove_group_member" => "Member removed.",
        "change_group_manager" => "Managers changed.",
        "change_group_link" => "Courses and curricula changed.",
        "enrol_user" => "Enrolled.",
        "unenrol_user" => "Enrolment removed.",
        "enrol_in_curriculum" => "Enrolled in the curriculum.",
        "change_lesson" => "Lessons changed.",
        "change_curriculum_course" => "Curriculum courses changed.",
        "set_user_active" => "Account status changed.",
        "discard_import" => "Import discarded.",
        "update_group" | "update_branch" | "update_course" | "update_curriculum"
        | "update_user" => "Changes saved.",
        _ => return None,
    })
}

/// The outcome of the form just posted, at the top of the page's content: after a refusal,
/// "There is a problem" (or "There are N problems") with every problem, each linked to its
/// field; after a success, what was done. It is the page's first heading and takes the focus
/// as the page loads (`autofocus`, which needs no JavaScript), so keyboard and screen-reader
/// users start from it.
#[component]
pub fn Outcome() -> impl IntoView {
    let done = crate::components::url::query_text("__done");
    if let Some(replay) = form_replay() {
        let problems = replay.error.each().to_vec();
        let heading = match problems.len() {
            1 => "There is a problem".to_string(),
            n => format!("There are {n} problems"),
        };
        let items = problems
            .into_iter()
            .map(|e| match e.field() {
                Some(field) => view! {
                    <li><a href=format!("#{}", problem_id(field))>{e.to_string()}</a></li>
                }
                .into_any(),
                None => view! { <li>{e.to_string()}</li> }.into_any(),
            })
            .collect_view();
        return view! {
            <div class="outcome problems" id="outcome" role="alert" tabindex="-1" autofocus=true>
                <h2>{heading}</h2>
                <ul>{items}</ul>
                <p class="hint">"Nothing was saved. What you typed is still in the form (passwords aside)."</p>
            </div>
        }
        .into_any();
    }
    match done_message(&untrack(done)) {
        Some(text) => view! {
            <div class="outcome done" id="outcome" role="status" tabindex="-1" autofocus=true>
                <h2>{text}</h2>
            </div>
        }
        .into_any(),
        None => ().into_any(),
    }
}

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
    let anchor = message().map(|_| problem_id(name));
    let value = if kind == "password" {
        None
    } else {
        kept(error, name).or(value)
    };
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
        <div class="field" id=anchor class:invalid=move || message().is_some()>
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
        error.get().filter(|e| {
            e.each().iter().any(|one| match one.field() {
                Some(field) => fields.contains(&field),
                None => true,
            })
        })
    };
    // Each error of a field without an input here is the target of its link in [`Outcome`].
    let line = |e: &AppError| {
        let id = e.field().map(problem_id);
        view! { <p class="form-error" id=id>{e.to_string()}</p> }
    };
    view! {
        <div class="form-errors">
            {move || {
                shown().map(|e| {
                    e.each()
                        .iter()
                        .filter(|one| match one.field() {
                            Some(field) => fields.contains(&field),
                            None => true,
                        })
                        .map(line)
                        .collect_view()
                })
            }}
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
    let anchor = message().map(|_| problem_id(name));
    let selected = match kept(error, name) {
        Some(typed) => typed.parse::<u64>().ok(),
        None => selected,
    };
    let err_ref = err_id.clone();
    view! {
        <div class="field" id=anchor class:invalid=move || message().is_some()>
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
