//! Tessera: a self-hosted learning-management server built around groups.

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

/// The browser entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
