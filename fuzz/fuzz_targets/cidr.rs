#![no_main]
//! `cargo +nightly fuzz run cidr`: see `scimctl::fuzz_targets::cidr`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| scimctl::fuzz_targets::cidr(data));
