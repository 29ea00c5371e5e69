//! Reading a page's URL: query parameters and path ids, as cheap copyable getters.

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_params_map, use_query_map};
use percent_encoding::{percent_decode_str, utf8_percent_encode, NON_ALPHANUMERIC};

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

/// Query parameter `name` decoded exactly once from the raw query string (empty when absent).
/// For values that are themselves URLs: the router's own query map decodes values twice, which
/// turns an encoded `%20` inside a `next` path into a space.
pub fn query_once(name: &'static str) -> impl Fn() -> String + Copy + Send + Sync + 'static {
    let location = use_location();
    move || {
        let search = location.search.get();
        search
            .trim_start_matches('?')
            .split('&')
            .find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                (k == name).then(|| {
                    percent_decode_str(&v.replace('+', " "))
                        .decode_utf8_lossy()
                        .into_owned()
                })
            })
            .unwrap_or_default()
    }
}

/// `value` encoded for a query parameter (everything but letters and digits escaped).
pub fn encode_query_value(value: &str) -> String {
    utf8_percent_encode(value, NON_ALPHANUMERIC).to_string()
}
