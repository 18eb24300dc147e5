#!/usr/bin/env bash
# Runs every test of ferrocache: formatting and lints, the Rust unit and integration tests,
# the differential transcripts against real memcached, and the Python client suite against
# both memcached and ferrocache. Installs what is missing on a Debian machine first.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

section() { printf '\n==== %s ====\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi
}

section "prerequisites"
missing_pkgs=()
command -v memcached >/dev/null || missing_pkgs+=(memcached)
command -v memcaslap >/dev/null || missing_pkgs+=(libmemcached-tools)
command -v nutcracker >/dev/null || [ -x /usr/sbin/nutcracker ] || missing_pkgs+=(nutcracker)
perl -MCache::Memcached::Fast -e1 2>/dev/null || missing_pkgs+=(libcache-memcached-fast-perl)
# pylibmc is built from source against libmemcached and zlib.
[ -e /usr/include/libmemcached/memcached.h ] || missing_pkgs+=(libmemcached-dev)
[ -e /usr/include/zlib.h ] || missing_pkgs+=(zlib1g-dev)
if [ ${#missing_pkgs[@]} -gt 0 ]; then
    echo "installing ${missing_pkgs[*]} with apt-get"
    if ! { as_root apt-get update -q && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing_pkgs[@]}"; }; then
        echo "error: could not install ${missing_pkgs[*]}." >&2
        echo "       Install them yourself (Debian/Ubuntu: apt-get install ${missing_pkgs[*]}) and rerun." >&2
        exit 1
    fi
fi
for tool in cargo python3 node npm; do
    command -v "$tool" >/dev/null || { echo "error: $tool is required" >&2; exit 1; }
done
memcached -V

VENV="$ROOT/.venv"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check -r protocol-tests/python/requirements.txt
(cd protocol-tests/node && npm ci --no-audit --no-fund --silent)

section "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

section "build"
cargo build --workspace --all-targets --quiet
export FERROCACHE_BIN="$ROOT/target/debug/ferrocache"
export MEMCACHED_BIN="$(command -v memcached)"

section "rust tests (unit, integration, differential against memcached)"
cargo test --workspace --quiet 2>&1

section "client suites (Python, Perl, Node)"
export PATH="$PATH:/usr/sbin"
. scripts/common.sh
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
run_suite() {
    local name=$1 bin=$2 port
    port=$(free_port)
    "$bin" "${user_flag[@]}" -U 0 -l 127.0.0.1 -p "$port" &
    pids+=($!)
    wait_port "$port"
    echo "-- $name on port $port"
    # CACHE_SERVER_BIN lets the multi-node tests start more nodes of the same server.
    CACHE_SERVER="127.0.0.1:$port" CACHE_SERVER_BIN="$bin" \
        "$VENV/bin/pytest" -p no:cacheprovider protocol-tests/python
    CACHE_SERVER="127.0.0.1:$port" perl protocol-tests/perl/cache_memcached_fast.pl
    CACHE_SERVER="127.0.0.1:$port" node protocol-tests/node/memjs_test.js
}
run_suite memcached "$MEMCACHED_BIN"
run_suite ferrocache "$FERROCACHE_BIN"

section "all tests passed"
