//! Tessera: a self-hosted learning-management server built around groups.
// Islands put deeper view types into the pages around them (the release wasm build needs it).
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod components;
/// Bodies of the fuzz targets in `fuzz/`, shared with the test that replays their corpus.
#[cfg(feature = "ssr")]
pub mod fuzz;
pub mod model;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod server;

/// The browser entry point. Pages are rendered on the server only (islands mode); this sets up
/// the reactive runtime, then Leptos' loader hydrates each `#[island]` on the page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
