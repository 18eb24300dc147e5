//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the checks the fuzz
//! targets run (`fuzz/fuzz_targets/common/checks.rs`, included here), so every `cargo test`
//! on stable Rust re-checks each input the fuzzers have kept. A failure names the files.

use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;

#[path = "../fuzz/fuzz_targets/common/checks.rs"]
mod checks;

/// Runs `check` on every file of the target's corpus; fails listing those that panicked.
/// Returns how many files there were.
fn replay(target: &str, check: impl Fn(&[u8])) -> usize {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no corpus", dir.display());
    let mut failed = Vec::new();
    for file in &files {
        let data = fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        if panic::catch_unwind(AssertUnwindSafe(|| check(&data))).is_err() {
            failed.push(file.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} {target} corpus inputs break an invariant (rerun one with \
         `cargo fuzz run {target} FILE` in crates/protocol/fuzz):\n  {}",
        failed.len(),
        files.len(),
        failed.join("\n  ")
    );
    files.len()
}

#[test]
fn text_parse_corpus() {
    replay("text_parse", checks::text_parse);
}

#[test]
fn meta_parse_corpus() {
    replay("meta_parse", checks::meta_parse);
}

#[test]
fn binary_parse_corpus() {
    replay("binary_parse", checks::binary_parse);
}

/// The structured target's inputs are decoded from the bytes as libfuzzer-sys decodes them
/// (too short for the type: skipped; otherwise `arbitrary_take_rest`), so a file checks the
/// same request here as under the fuzzer, as long as both use the same `arbitrary` (the fuzz
/// crate's Cargo.lock and the workspace's pin the same version).
#[test]
fn round_trip_corpus() {
    use arbitrary::{Arbitrary, Unstructured};
    let decoded = std::cell::Cell::new(0usize);
    let files = replay("round_trip", |data| {
        if data.len() < checks::RoundTripInput::size_hint(0).0 {
            return;
        }
        if let Ok(input) = checks::RoundTripInput::arbitrary_take_rest(Unstructured::new(data)) {
            decoded.set(decoded.get() + 1);
            checks::round_trip(input);
        }
    });
    // A change to RoundTripInput can make the old inputs undecodable: then they check nothing.
    assert_eq!(
        decoded.get(),
        files,
        "round_trip corpus inputs that no longer decode"
    );
}
