//! Requests to the main mutations' server functions on the real router: see
//! `tessera::fuzz::RequestHarness::request`. One harness (store, router, sessions) serves the
//! whole run, so what earlier inputs created is there for later ones.
#![no_main]

use std::sync::OnceLock;
use tessera::fuzz::RequestHarness;

fn harness() -> &'static RequestHarness {
    static HARNESS: OnceLock<RequestHarness> = OnceLock::new();
    HARNESS.get_or_init(RequestHarness::new)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness().request(data));
