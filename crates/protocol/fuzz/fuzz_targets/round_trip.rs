//! Structured round trip: valid text, meta and binary requests built from fuzzer-chosen
//! parts must parse back to exactly themselves (the checks are `checks::round_trip`, which
//! the corpus replay in `cargo test` runs too).
#![no_main]

#[path = "common/checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|input: checks::RoundTripInput| checks::round_trip(input));
