#!/usr/bin/env bash
# Runs memcached 1.6.45's own test suite (t/ in its source, beside build-memcached.sh in
# ../shared/reference) against ferrocache, as memcached's developers run it: `prove` from a
# directory whose ./memcached-debug is the server under test. Here that is a small wrapper
# that starts ferrocache with the flags the tests give, and with `-o debug_clock` for the
# debug build's `debugtime` command some of them use.
#
# protocol-tests/memcached-suite.txt lists every file of t/ with a verdict: `pass` files are
# run and must pass; `pass+tls` ones too, and run a second time over TLS; `tls` ones (the
# ssl_*.t files, which skip themselves without TLS) are run over TLS only; `skip` ones are
# left out, each with its reason. A file of t/ the list does not name is an error, so a new
# test cannot be skipped silently.
#
# Over TLS means as memcached's developers run it: SSL_TEST=1, with which
# t/lib/MemcachedTest.pm starts the server with -Z and t/'s certificates and connects with
# Perl's IO::Socket::SSL (Debian: libio-socket-ssl-perl). Only a few core files are run both
# ways: on 2 shared cores the whole pass list took 131 s over TLS, against 54 s in plain
# text and 26 s for the TLS list (the ssl_*.t files and the `pass+tls` ones).
#
# Environment: FERROCACHE_BIN (default target/debug/ferrocache), MEMCACHED_REFERENCE_DIR
# (default ../shared/reference), SUITE_FILES (space-separated files to run once instead of
# the lists, for a look at one file; over TLS if SSL_TEST=1 is set).
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
perl -MIO::Socket::SSL -e1 2>/dev/null ||
    die "Perl's IO::Socket::SSL is required for the TLS runs (apt-get install libio-socket-ssl-perl)"

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
    case "$verdict" in pass | pass+tls | tls | skip) ;; *) die "$list: '$name' has verdict '$verdict'" ;; esac
    patterns+=("$name")
    verdicts+=("$verdict")
done <"$list"
run=()
run_tls=()
skipped=0
for path in "$work"/t/*.t; do
    file=$(basename "$path")
    match=()
    for i in "${!patterns[@]}"; do
        # shellcheck disable=SC2053 # the list's names are glob patterns on purpose
        [[ $file == ${patterns[$i]} ]] && match+=("$i")
    done
    [ ${#match[@]} -eq 1 ] || die "t/$file matches ${#match[@]} lines of $list (it must match one)"
    case "${verdicts[${match[0]}]}" in
    pass) run+=("t/$file") ;;
    pass+tls) run+=("t/$file"); run_tls+=("t/$file") ;;
    tls) run_tls+=("t/$file") ;;
    *) skipped=$((skipped + 1)) ;;
    esac
done
for i in "${!patterns[@]}"; do
    compgen -G "$work/t/${patterns[$i]}" >/dev/null || die "$list names ${patterns[$i]}, which t/ does not have"
done

cd "$work"
if [ -n "${SUITE_FILES:-}" ]; then
    read -r -a run <<<"$SUITE_FILES"
    echo "memcached's t/: ${#run[@]} chosen files${SSL_TEST:+, over TLS}"
    prove -j "$(nproc)" "${run[@]}"
    exit
fi
echo "memcached's t/: ${#run[@]} files to run, ${#run_tls[@]} over TLS, $skipped left out (reasons in $list)"
env -u SSL_TEST prove -j "$(nproc)" "${run[@]}"
echo "memcached's t/ over TLS (SSL_TEST=1): ${#run_tls[@]} files"
SSL_TEST=1 prove -j "$(nproc)" "${run_tls[@]}"
