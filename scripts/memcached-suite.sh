#!/usr/bin/env bash
# Runs memcached 1.6.45's own test suite (t/ in its source, beside build-memcached.sh in
# ../shared/reference) against ferrocache, as memcached's developers run it: `prove` from a
# directory whose ./memcached-debug is the server under test. Here that is a small wrapper
# that starts ferrocache with the flags the tests give, and with `-o debug_clock` for the
# debug build's `debugtime` command some of them use.
#
# protocol-tests/memcached-suite.txt lists every file of t/: those marked `pass` are run
# and must pass; the others are left out, each with its reason. A file of t/ the list does
# not name is an error, so a new test cannot be skipped silently.
#
# Environment: FERROCACHE_BIN (default target/debug/ferrocache), MEMCACHED_REFERENCE_DIR
# (default ../shared/reference), SUITE_FILES (space-separated files to run instead of the
# `pass` list, for a look at one file).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
FERROCACHE_BIN=${FERROCACHE_BIN:-$ROOT/target/debug/ferrocache}
src=${MEMCACHED_REFERENCE_DIR:-$ROOT/../shared/reference}
tarball=$src/memcached-1.6.45-src.tar.gz
list=$ROOT/protocol-tests/memcached-suite.txt
work=$ROOT/.reference/suite

die() { echo "error: $*" >&2; exit 1; }
[ -f "$tarball" ] || die "memcached 1.6.45's source is not in $src (set MEMCACHED_REFERENCE_DIR)"
[ -x "$FERROCACHE_BIN" ] || die "no ferrocache binary at $FERROCACHE_BIN (cargo build, or set FERROCACHE_BIN)"
command -v prove >/dev/null || die "prove (perl) is required"

# t/ unpacked once, again when the tarball changes.
stamp=$(sha256sum "$tarball" | cut -d' ' -f1)
if [ "$(cat "$work/.stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$work"
    mkdir -p "$work"
    tar -xzf "$tarball" -C "$work" --strip-components=1 memcached-1.6.45/t
    printf '%s' "$stamp" >"$work/.stamp"
fi

cat >"$work/memcached-debug" <<EOF
#!/bin/sh
# memcached's test suite starts ./memcached-debug with memcached's flags.
exec "$FERROCACHE_BIN" -o debug_clock "\$@"
EOF
cat >"$work/timedrun" <<'EOF'
#!/bin/sh
# memcached's timedrun: run a command for at most $1 seconds.
limit=$1
shift
exec timeout -k 5 "$limit" "$@"
EOF
chmod +x "$work/memcached-debug" "$work/timedrun"

# Every file of t/ must match exactly one line of the list.
patterns=()
verdicts=()
while read -r name verdict _; do
    case "$name" in '' | '#'*) continue ;; esac
    [ "$verdict" = pass ] || [ "$verdict" = skip ] || die "$list: '$name' has verdict '$verdict'"
    patterns+=("$name")
    verdicts+=("$verdict")
done <"$list"
run=()
skipped=0
for path in "$work"/t/*.t; do
    file=$(basename "$path")
    match=()
    for i in "${!patterns[@]}"; do
        # shellcheck disable=SC2053 # the list's names are glob patterns on purpose
        [[ $file == ${patterns[$i]} ]] && match+=("$i")
    done
    [ ${#match[@]} -eq 1 ] || die "t/$file matches ${#match[@]} lines of $list (it must match one)"
    if [ "${verdicts[${match[0]}]}" = pass ]; then
        run+=("t/$file")
    else
        skipped=$((skipped + 1))
    fi
done
for i in "${!patterns[@]}"; do
    compgen -G "$work/t/${patterns[$i]}" >/dev/null || die "$list names ${patterns[$i]}, which t/ does not have"
done

if [ -n "${SUITE_FILES:-}" ]; then
    read -r -a run <<<"$SUITE_FILES"
fi
echo "memcached's t/: ${#run[@]} files to run, $skipped left out (reasons in $list)"
cd "$work"
prove -j "$(nproc)" "${run[@]}"
