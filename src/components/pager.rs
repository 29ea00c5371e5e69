//! Previous / next links for server-side paginated tables.

use crate::model::number::count;
use leptos::prelude::*;

/// Links to the neighbouring pages of a table, keeping the search query. Plain links, so they
/// work without JavaScript.
#[component]
pub fn Pager(
    #[prop(into)] base: String,
    query: String,
    page: u32,
    per_page: u32,
    total: u64,
    capped: bool,
    /// Other query parameters the links keep (a sort order, a tab).
    #[prop(optional)]
    params: Vec<(&'static str, String)>,
) -> impl IntoView {
    let pages = total.div_ceil(per_page as u64).max(1) as u32;
    let href = move |p: u32| {
        let mut url = format!("{base}?page={p}");
        if !query.is_empty() {
            url.push_str("&q=");
            url.push_str(&urlencode(&query));
        }
        for (k, v) in &params {
            if !v.is_empty() {
                url.push_str(&format!("&{k}={}", urlencode(v)));
            }
        }
        url
    };
    let first = (page - 1) as u64 * per_page as u64 + 1;
    let last = (page as u64 * per_page as u64).min(total);
    let summary = if total == 0 {
        "No results".to_string()
    } else if capped {
        format!(
            "{}–{} of more than {}",
            count(first),
            count(last),
            count(total)
        )
    } else {
        format!("{}–{} of {}", count(first), count(last), count(total))
    };
    view! {
        <nav class="pager" aria-label="Pages">
            <span class="pager-summary">{summary}</span>
            {(page > 1).then(|| view! { <a href=href(page - 1) rel="prev">"← Previous"</a> })}
            {(page < pages).then(|| view! { <a href=href(page + 1) rel="next">"Next →"</a> })}
        </nav>
    }
}

/// Percent-encodes a query-string value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
