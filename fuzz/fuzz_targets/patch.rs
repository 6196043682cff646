#![no_main]
//! `cargo +nightly fuzz run patch`: see `scimctl::fuzz_targets::patch`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| scimctl::fuzz_targets::patch(data));
