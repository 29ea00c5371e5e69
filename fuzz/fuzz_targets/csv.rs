//! The user import file and the group bulk-add list: see `tessera::fuzz::csv`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera::fuzz::csv(data));
