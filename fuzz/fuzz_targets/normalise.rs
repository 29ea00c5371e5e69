//! Group keys, login and e-mail folding, names and descriptions: see `tessera::fuzz::normalise`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera::fuzz::normalise(data));
