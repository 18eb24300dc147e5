#!/usr/bin/env bash
# Runs every test of ferrocache: formatting and lints, the Rust unit and integration tests,
# a 30-second fuzz run of each protocol parser target,
# the differential transcripts against memcached 1.6.45, memcached's own test suite, and the
# client suites (Python, Perl, Node) against both memcached and ferrocache. Installs what is missing on a Debian machine
# first (apt-get when root or with sudo; Python packages in .venv/, pinned).
#
# Exits non-zero on the first failure. Works from any directory.
# Environment: CARGO_TARGET_DIR is honoured; TEST_SH_SKIP_APT=1 only reports what is missing;
# FUZZ_SECONDS sets the fuzz run's length per target (default 30, 0 skips it).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

section() { printf '\n==== %s  (%ds elapsed) ====\n' "$*" "$SECONDS"; }
die() { echo "error: $*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        return 1
    fi
}

# ---------------------------------------------------------------------------------------
section "prerequisites"
missing_pkgs=()
need() { missing_pkgs+=("$1"); }

# memcached 1.6.45, the oracle, is built from source (scripts/common.sh): its build needs these.
command -v autoconf >/dev/null || need autoconf
command -v automake >/dev/null || need automake
command -v pkg-config >/dev/null || need pkg-config
[ -e /usr/include/event2/event.h ] || need libevent-dev
[ -e /usr/include/openssl/ssl.h ] || need libssl-dev
[ -e /usr/include/sasl/sasl.h ] || need libsasl2-dev
command -v memccapable >/dev/null || need libmemcached-tools
command -v nutcracker >/dev/null || [ -x /usr/sbin/nutcracker ] || need nutcracker
# SASL (-S) tests: saslpasswd2 gives Debian's memcached its users; PLAIN is a libsasl2 plugin.
command -v saslpasswd2 >/dev/null || [ -x /usr/sbin/saslpasswd2 ] || need sasl2-bin
compgen -G '/usr/lib/*/sasl2/libplain.so*' >/dev/null || need libsasl2-modules
command -v perl >/dev/null && perl -MCache::Memcached::Fast -e1 2>/dev/null ||
    need libcache-memcached-fast-perl
# memcached's own test suite runs with prove (perl); its TLS runs (SSL_TEST=1) with
# IO::Socket::SSL.
command -v prove >/dev/null || need perl
command -v perl >/dev/null && perl -MIO::Socket::SSL -e1 2>/dev/null ||
    need libio-socket-ssl-perl
# memcached 1.6.45's scripts/memcached-tool (protocol-tests/python/test_memcached_tool.py)
# loads URI::Escape.
command -v perl >/dev/null && perl -MURI::Escape -e1 2>/dev/null || need liburi-perl
# TLS tests (protocol-tests/python/test_tls.py): certificates and s_client.
command -v openssl >/dev/null || need openssl
command -v node >/dev/null || need nodejs
command -v npm >/dev/null || need npm
# pylibmc is compiled from source against libmemcached and zlib.
[ -e /usr/include/libmemcached/memcached.h ] || need libmemcached-dev
[ -e /usr/include/zlib.h ] || need zlib1g-dev
command -v cc >/dev/null || need build-essential
# libfuzzer-sys compiles libFuzzer (C++) for the fuzz run.
command -v c++ >/dev/null || need g++
command -v python3 >/dev/null || die "python3 (3.8 or newer, with pip) is required"
command -v cargo >/dev/null || die "cargo is required (https://rustup.rs)"
# Debian's own python3 needs python3-venv for `python3 -m venv` and python3-dev to build
# pylibmc; a python3 from elsewhere (pyenv, ...) brings both with it.
if [ "$(python3 -c 'import sys; print(sys.base_prefix)')" = /usr ]; then
    python3 -c 'import ensurepip, venv' 2>/dev/null || need python3-venv
    python3 -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' ||
        need python3-dev
fi

if [ ${#missing_pkgs[@]} -gt 0 ]; then
    echo "missing: ${missing_pkgs[*]}"
    if [ "${TEST_SH_SKIP_APT:-0}" = 1 ] || ! command -v apt-get >/dev/null ||
        ! { as_root apt-get update -q &&
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
                "${missing_pkgs[@]}"; }; then
        echo "error: could not install ${missing_pkgs[*]}." >&2
        echo "       Install them (Debian/Ubuntu: apt-get install ${missing_pkgs[*]})," >&2
        echo "       or run this script as root, and rerun." >&2
        exit 1
    fi
fi
export PATH="$PATH:/usr/sbin" # nutcracker
for tool in memccapable nutcracker saslpasswd2 node npm cc c++ openssl; do
    command -v "$tool" >/dev/null || die "$tool is still missing after installation"
done
# Rust: the workspace's rust-version, and rustfmt and clippy for the lint steps.
rust_min=$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' Cargo.toml)
rust_have=$(rustc --version | cut -d' ' -f2)
if [ -n "$rust_min" ] &&
    [ "$(printf '%s\n%s\n' "$rust_min" "$rust_have" | sort -V | head -n1)" != "$rust_min" ]; then
    die "Rust $rust_min or newer is required, found $rust_have (install it with https://rustup.rs)"
fi
for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        command -v rustup >/dev/null || die "cargo ${component/rustfmt/fmt} is required (rustup component add $component)"
        echo "adding the $component component with rustup"
        rustup component add "$component"
    fi
done
echo "cargo:     $(cargo --version)"
echo "python3:   $(python3 --version 2>&1)"
echo "node:      $(node --version)"

# The oracle: memcached 1.6.45, built once into .reference/.
. scripts/common.sh
MEMCACHED_BIN=$(reference_memcached) || die "could not build memcached 1.6.45"
export MEMCACHED_BIN
echo "memcached: $("$MEMCACHED_BIN" -V) ($MEMCACHED_BIN)"

# The Python venv, reused while requirements.txt and the interpreter stay the same.
VENV="$ROOT/.venv"
REQS=protocol-tests/python/requirements.txt
stamp="$(sha256sum "$REQS" | cut -d' ' -f1) $(python3 -c 'import sys; print(sys.version)')"
if ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    echo "creating $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
fi
if [ "$(cat "$VENV/.ferrocache-stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "installing pinned Python packages from $REQS"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQS"
    printf '%s' "$stamp" >"$VENV/.ferrocache-stamp"
else
    echo "Python venv up to date ($VENV)"
fi

# The Node suite's packages, reinstalled only when package-lock.json changes.
NODE_DIR=protocol-tests/node
node_stamp=$(sha256sum "$NODE_DIR/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$NODE_DIR/node_modules/.ferrocache-stamp" 2>/dev/null)" != "$node_stamp" ]; then
    echo "installing Node packages in $NODE_DIR"
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund --silent)
    printf '%s' "$node_stamp" >"$NODE_DIR/node_modules/.ferrocache-stamp"
else
    echo "Node packages up to date ($NODE_DIR/node_modules)"
fi

# ---------------------------------------------------------------------------------------
section "format (cargo fmt --check)"
cargo fmt --all -- --check

section "lints (cargo clippy -D warnings)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

section "build (cargo build --workspace --all-targets)"
cargo build --workspace --all-targets --quiet
export FERROCACHE_BIN="$TARGET_DIR/debug/ferrocache"
[ -x "$FERROCACHE_BIN" ] || die "the build did not produce $FERROCACHE_BIN"

section "rust tests (unit, integration, differential against memcached)"
cargo test --workspace --quiet 2>&1

section "fuzz the parsers (cargo-fuzz on stable, ${FUZZ_SECONDS:-30} s a target)"
# Builds the targets of crates/protocol/fuzz (installing the pinned cargo-fuzz into .tools/
# first) and runs each from the committed corpus; fails on a crash. FUZZ_SECONDS=0 skips it.
if [ "${FUZZ_SECONDS:-30}" -gt 0 ]; then
    scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
fi

section "memcached 1.6.45's own test suite (t/) against ferrocache"
scripts/memcached-suite.sh

# ---------------------------------------------------------------------------------------
section "client suites (Python, Perl, Node) against memcached and ferrocache"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

run_pytest() {
    local rc=0
    "$VENV/bin/pytest" -p no:cacheprovider -rfEsx "${@:-protocol-tests/python}" || rc=$?
    # Exit code 5 means "no tests collected": a suite that tests nothing is a failure too.
    [ "$rc" -eq 5 ] && echo "error: pytest collected no tests" >&2
    return "$rc"
}

run_suite() {
    local name=$1 bin=$2 port
    port=$(free_port)
    "$bin" "${user_flag[@]}" -U 0 -l 127.0.0.1 -p "$port" &
    pids+=($!)
    wait_port "$port"
    echo "-- $name $("$bin" -V) on 127.0.0.1:$port"
    # CACHE_SERVER_BIN lets the twemproxy run start three more nodes of the same server.
    export CACHE_SERVER="127.0.0.1:$port" CACHE_SERVER_BIN="$bin"
    echo "   python (pytest)"
    run_pytest
    echo "   python: the Django module through twemproxy (nutcracker, ketama) and three $name nodes"
    CACHE_SUITE=twemproxy run_pytest protocol-tests/python/test_django_cache.py
    echo "   perl (Cache::Memcached::Fast)"
    perl protocol-tests/perl/cache_memcached_fast.pl
    echo "   node (memjs)"
    node protocol-tests/node/memjs_test.js
    kill "${pids[-1]}" 2>/dev/null || true
}
run_suite memcached "$MEMCACHED_BIN"
run_suite ferrocache "$FERROCACHE_BIN"

section "multi-node: clients over three memcached nodes vs three ferrocache nodes"
# Starts its own clusters from MEMCACHED_BIN and FERROCACHE_BIN, kills and restarts a node
# of each, and requires the same behaviour from both.
unset CACHE_SERVER CACHE_SERVER_BIN
CACHE_SUITE=multinode run_pytest -s protocol-tests/python/test_multinode.py

section "all tests passed"
