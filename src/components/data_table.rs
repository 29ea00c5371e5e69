//! The one table every list page uses: a page of rows from the server, what to say when there
//! are none (nothing yet, nothing matching the search, or past the last page), and the pager.

use super::pager::Pager;
use crate::model::Paged;
use leptos::prelude::*;

/// A page of rows as a table inside a box that scrolls sideways on narrow screens (so the page
/// itself never does), followed by the pager.
///
/// `noun` is the rows' plural for the messages ("courses"), `caption` the table's accessible
/// name, `head` the header cells, `row` one `<tr>` per row. `empty` replaces "No {noun} yet."
/// when the list is empty without a search.
#[component]
pub fn DataTable<T, R, RV, H, HV>(
    noun: &'static str,
    caption: &'static str,
    /// The page's path, for the pager's links.
    #[prop(into)]
    base: String,
    /// The search the rows answer (empty: none).
    query: String,
    page: Paged<T>,
    head: H,
    row: R,
    /// Other query parameters the pager keeps (a sort order, a tab).
    #[prop(optional)]
    params: Vec<(&'static str, String)>,
    #[prop(optional, into)] empty: Option<String>,
    /// Extra classes for the table.
    #[prop(optional)]
    class: &'static str,
) -> impl IntoView
where
    T: 'static,
    R: Fn(T) -> RV + 'static,
    RV: IntoView + 'static,
    H: FnOnce() -> HV,
    HV: IntoView + 'static,
{
    if page.rows.is_empty() {
        let searched = query.trim();
        let text = if page.total > 0 {
            None
        } else if searched.is_empty() {
            Some(empty.unwrap_or_else(|| format!("No {noun} yet.")))
        } else {
            Some(format!("No {noun} match “{searched}”."))
        };
        return match text {
            Some(text) => view! { <p class="empty-state">{text}</p> }.into_any(),
            None => view! {
                <p class="empty-state">
                    "This page is past the end of the list. " <a href=base.clone()>"Go to the first page"</a>
                </p>
            }
            .into_any(),
        };
    }
    let table = view! { <RowsTable noun caption rows=page.rows head row class /> }.into_any();
    view! {
        {table}
        <Pager
            base
            query
            page=page.page
            per_page=page.per_page
            total=page.total
            capped=page.total_is_capped
            params
        />
    }
    .into_any()
}

/// Rows as a table inside a box that scrolls sideways on narrow screens (so the page itself
/// never does): the table of [`DataTable`], for lists that page another way.
///
/// The rows are a plain list, not a keyed `<For>`: these tables are rendered on the server only
/// (never inside an island, so never hydrated or updated in place), and the keyed walk cost a
/// fifth of the server's time on a page of 25 groups.
#[component]
pub fn RowsTable<T, R, RV, H, HV>(
    /// The rows' plural, for the box's accessible name ("Table of courses").
    noun: &'static str,
    /// The table's accessible name.
    caption: &'static str,
    rows: Vec<T>,
    head: H,
    row: R,
    /// Extra classes for the table.
    #[prop(optional)]
    class: &'static str,
) -> impl IntoView
where
    T: 'static,
    R: Fn(T) -> RV + 'static,
    RV: IntoView + 'static,
    H: FnOnce() -> HV,
    HV: IntoView + 'static,
{
    // Erased types: a table's full type nests deep enough to overflow the compiler's query
    // depth in the release WebAssembly build.
    let head = head().into_any();
    let rows = rows.into_iter().map(|t| row(t).into_any()).collect_view();
    view! {
        <div class="table-wrap" role="region" aria-label=format!("Table of {noun}") tabindex="0">
            // The roles restate what the elements are: a table that a phone shows as stacked
            // cards (`display: block`) loses its table semantics in browsers otherwise.
            <table class=format!("data {class}") role="table">
                <caption class="visually-hidden">{caption}</caption>
                <thead role="rowgroup">
                    <tr role="row">{head}</tr>
                </thead>
                <tbody role="rowgroup">
                    {rows}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
