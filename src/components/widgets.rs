//! Small view pieces used across the catalog pages.

use crate::model::catalog::{Progress, ProgressStatus};
use crate::model::user::{UserPage, UserView};
use crate::model::AppError;
use leptos::prelude::*;

/// A labelled progress bar: lessons done out of lessons, with the status in words.
#[component]
pub fn ProgressBar(progress: Progress, #[prop(into)] label: String) -> impl IntoView {
    let class = match progress.status {
        ProgressStatus::Completed => "progress done",
        _ => "progress",
    };
    view! {
        <div class="progress-wrap">
            // A native bar: no inline style, which the Content-Security-Policy would block.
            <progress
                class=class
                aria-label=label
                max=progress.total.max(1)
                value=progress.done.min(progress.total)
                aria-valuetext=format!("{} of {} lessons done", progress.done, progress.total)
            ></progress>
            <span class="progress-text">
                {format!("{} / {} lessons", progress.done, progress.total)} " · "
                <span class=format!("status status-{}", status_class(progress.status))>
                    {progress.status.label()}
                </span>
            </span>
        </div>
    }
}

fn status_class(s: ProgressStatus) -> &'static str {
    match s {
        ProgressStatus::NotStarted => "not-started",
        ProgressStatus::InProgress => "in-progress",
        ProgressStatus::Completed => "completed",
    }
}

/// A disclosure that must be opened before its (destructive) form can be used: the second
/// click is the confirmation, with or without JavaScript.
#[component]
pub fn Confirm(
    #[prop(into)] summary: String,
    #[prop(into)] explanation: String,
    children: Children,
) -> impl IntoView {
    confirm(summary, explanation, children())
}

/// [`Confirm`] as a plain function, for table rows: no boxed children.
pub fn confirm(
    summary: impl IntoView,
    explanation: impl IntoView,
    body: impl IntoView,
) -> impl IntoView {
    view! {
        <details class="confirm">
            <summary>{summary}</summary>
            <p>{explanation}</p>
            {body}
        </details>
    }
}

/// A GET search form for a table: works without JavaScript and keeps the query in the URL.
#[component]
pub fn SearchForm(
    action: String,
    param: &'static str,
    #[prop(into)] label: String,
    #[prop(into)] placeholder: String,
    value: String,
    /// Element id prefix, unique on the page.
    id: &'static str,
    /// Query parameters the search keeps (the tab it is on, say).
    #[prop(optional)]
    keep: Vec<(&'static str, String)>,
) -> impl IntoView {
    let aria = label.clone();
    view! {
        <form method="get" action=action role="search" class="search" aria-label=aria>
            {keep.into_iter().map(|(k, v)| view! { <input type="hidden" name=k value=v /> }).collect_view()}
            <label for=id>{label}</label>
            <input id=id type="search" name=param value=value placeholder=placeholder />
            <button type="submit">"Search"</button>
        </form>
    }
}

/// The results of a user search in a picker, each user with an action next to them (an Enrol
/// button, say). Nothing is searched until the admin types something.
#[component]
pub fn UserPicker<F, V>(
    /// The search's page of users; `None` when the page did not search (nothing to show).
    #[prop(into)]
    found: Option<Resource<Result<Option<UserPage>, AppError>>>,
    action: F,
) -> impl IntoView
where
    F: Fn(UserView) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    view! {
        <Transition fallback=|| ()>
            {move || {
                let action = action.clone();
                Suspend::new(async move {
                    let found = match found {
                        Some(r) => r.await,
                        None => Ok(None),
                    };
                    match found {
                        Ok(Some(p)) if p.rows.is_empty() => {
                            view! { <p class="muted">"No user matches."</p> }.into_any()
                        }
                        Ok(Some(p)) => view! {
                            <ul class="picker">
                                {p.rows.iter().map(|u| view! {
                                    <li>
                                        <span>
                                            {u.display_name.clone()} " "
                                            <span class="muted">{format!("({}, {})", u.login, u.email)}</span>
                                        </span>
                                        {action(u.clone())}
                                    </li>
                                }).collect_view()}
                            </ul>
                        }
                        .into_any(),
                        Ok(None) => view! { <p class="hint">"Search above to find users."</p> }.into_any(),
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

/// Formats milliseconds since the Unix epoch as a UTC date, `YYYY-MM-DD`.
pub fn date(ms: u64) -> String {
    let days = (ms / 86_400_000) as i64;
    // Civil-from-days (Howard Hinnant's algorithm), valid for the proleptic Gregorian calendar.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Milliseconds since the Unix epoch as `YYYY-MM-DD HH:MM UTC`.
pub fn date_time(ms: u64) -> String {
    let minutes = (ms / 60_000) % 1_440;
    format!("{} {:02}:{:02} UTC", date(ms), minutes / 60, minutes % 60)
}

/// Milliseconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS` (UTC), for files.
pub fn timestamp(ms: u64) -> String {
    let secs = (ms / 1_000) % 86_400;
    format!(
        "{} {:02}:{:02}:{:02}",
        date(ms),
        secs / 3_600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(
            super::date_time(1_795_651_200_000 + 13 * 3_600_000 + 7 * 60_000 + 59_999),
            "2026-11-26 13:07 UTC"
        );
        assert_eq!(super::date(0), "1970-01-01");
        assert_eq!(
            super::timestamp(1_795_651_200_000 + 13 * 3_600_000 + 7 * 60_000 + 59_999),
            "2026-11-26 13:07:59"
        );
        assert_eq!(super::date(1_795_651_200_000), "2026-11-26");
        assert_eq!(super::date(951_782_400_000), "2000-02-29");
    }
}
