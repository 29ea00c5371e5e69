//! Tessera: a self-hosted learning-management server built around groups.
// Islands put deeper view types into the pages around them (the release wasm build needs it).
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod components;
/// Bodies of the fuzz targets in `fuzz/`, shared with the test that replays their corpus. Built
/// for the library's own tests and with the `fuzzing` feature (which `fuzz/Cargo.toml` turns
/// on), never into the shipped server: it holds a whole test harness (a store in a temporary
/// directory, a signed-in administrator) that no deployment should carry.
#[cfg(all(feature = "ssr", any(test, feature = "fuzzing")))]
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
