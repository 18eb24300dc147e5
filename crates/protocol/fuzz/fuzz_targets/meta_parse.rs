//! Arbitrary bytes after a meta command name, as a connection feeds them (the checks are
//! `checks::meta_parse`, which the corpus replay in `cargo test` runs too).
#![no_main]

#[path = "common/checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::meta_parse(data));
