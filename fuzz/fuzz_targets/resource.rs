#![no_main]
//! `cargo +nightly fuzz run resource`: see `scimctl::fuzz_targets::resource`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| scimctl::fuzz_targets::resource(data));
