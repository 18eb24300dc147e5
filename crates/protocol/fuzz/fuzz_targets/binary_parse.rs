//! Arbitrary bytes to the binary-protocol parser, as a connection feeds them (the checks are
//! `checks::binary_parse`, which the corpus replay in `cargo test` runs too).
#![no_main]

#[path = "common/checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::binary_parse(data));
