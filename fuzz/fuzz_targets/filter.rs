#![no_main]
//! `cargo +nightly fuzz run filter`: see `scimctl::fuzz_targets::filter`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| scimctl::fuzz_targets::filter(data));
