//! Reading a page's URL: query parameters and path ids, as cheap copyable getters.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

/// The text of query parameter `name` (empty when absent).
pub fn query_text(name: &'static str) -> impl Fn() -> String + Copy + Send + Sync + 'static {
    let query = use_query_map();
    move || query.read().get(name).unwrap_or_default()
}

/// The `page` query parameter: a page number from 1 (1 when absent or not a number).
pub fn query_page() -> impl Fn() -> u32 + Copy + Send + Sync + 'static {
    let query = use_query_map();
    move || {
        query
            .read()
            .get("page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1u32)
            .max(1)
    }
}

/// The path parameter `name` as an id (`None` when it is not a number).
pub fn param_id(name: &'static str) -> impl Fn() -> Option<u64> + Copy + Send + Sync + 'static {
    let params = use_params_map();
    move || params.read().get(name).and_then(|s| s.parse::<u64>().ok())
}
