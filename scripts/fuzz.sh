#!/usr/bin/env bash
# A bounded fuzz run of the protocol parsers (crates/protocol/fuzz): builds the cargo-fuzz
# targets with the stable toolchain and runs each for a while from the committed corpus.
# Exits non-zero when a target crashes (a panic, a broken invariant, a hang of 10 s on one
# input), after printing what libFuzzer said and where it saved the input.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET [TARGET...]]    (default: 30, all four targets)
#
# scripts/test.sh runs it on every CI pass. cargo-fuzz (pinned below) is installed into
# .tools/ when missing. No sanitizer: the protocol crate has no unsafe code, and without one
# the targets build on stable Rust (no -Z flag) in a quarter of the time and run 4 to 5 times
# as many inputs. New inputs the run finds go to a temporary folder, not into corpus/; a
# crash input is kept in crates/protocol/fuzz/artifacts/TARGET/.
# Targets run side by side, as many at once as there are cores (at most 4).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
CARGO_FUZZ_VERSION=0.13.2
FUZZ_DIR=$ROOT/crates/protocol/fuzz

seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(text_parse meta_parse binary_parse round_trip)

tools=$ROOT/.tools
if [ "$("$tools/bin/cargo-fuzz" --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    echo "installing cargo-fuzz $CARGO_FUZZ_VERSION into $tools"
    cargo install --quiet --locked --root "$tools" --version "$CARGO_FUZZ_VERSION" cargo-fuzz
fi
export PATH="$tools/bin:$PATH"

fuzz_target_dir=$TARGET_DIR/fuzz
(cd "$FUZZ_DIR" && cargo fuzz build --sanitizer none --target-dir "$fuzz_target_dir")
bin_dir=$fuzz_target_dir/$(rustc -vV | sed -n 's/^host: //p')/release

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# Runs one target for $seconds; its output goes to $work/TARGET.log.
run_target() {
    local t=$1
    mkdir -p "$work/$t" "$FUZZ_DIR/artifacts/$t"
    # The first folder gets the new inputs; the committed corpus is only read.
    "$bin_dir/$t" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$FUZZ_DIR/artifacts/$t/" "$work/$t" "$FUZZ_DIR/corpus/$t" \
        >"$work/$t.log" 2>&1
}

cores=$(nproc 2>/dev/null || echo 1)
parallel=$((cores < 4 ? cores : 4))
failed=()
for ((i = 0; i < ${#targets[@]}; i += parallel)); do
    batch=("${targets[@]:i:parallel}")
    pids=()
    for t in "${batch[@]}"; do
        [ -x "$bin_dir/$t" ] || { echo "error: no fuzz target $t in $bin_dir" >&2; exit 1; }
        run_target "$t" &
        pids+=($!)
    done
    for j in "${!batch[@]}"; do
        t=${batch[j]}
        rc=0
        wait "${pids[j]}" || rc=$?
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
        kept=$(find "$work/$t" -type f | wc -l)
        if [ "$rc" -eq 0 ]; then
            echo "$t: ${runs:-?} inputs in ${seconds} s, no crash ($kept new corpus inputs, not kept)"
        else
            echo "error: fuzz target $t failed (exit $rc); the end of libFuzzer's output:" >&2
            grep -v '^#[0-9]' "$work/$t.log" | tail -n 60 >&2
            failed+=("$t")
        fi
    done
done
pids=()
if [ ${#failed[@]} -gt 0 ]; then
    echo "error: ${failed[*]} crashed. Reproduce with" >&2
    echo "  cd crates/protocol/fuzz && cargo fuzz run --sanitizer none TARGET artifacts/TARGET/<file>" >&2
    exit 1
fi
