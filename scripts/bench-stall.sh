#!/usr/bin/env bash
# Stall benchmark: on a full cache under steady load (8 connections, 10:1 get:set), send
# flush_all, then store a million keys with exptime 2 and let them all expire at once.
# Prints per-phase latency (p50, p99, p99.9, max) for memcached and ferrocache (-m 256 -t 2).
# Usage: scripts/bench-stall.sh [MB]        (results also go to bench/out/stall.md)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MB=${1:-256}
. scripts/common.sh
bench_setup
{
for server in memcached ferrocache; do
    bin=$(command -v memcached)
    [ "$server" = ferrocache ] && bin=target/release/ferrocache
    port=$(free_port)
    "$bin" "${user_flag[@]}" -U 0 -l 127.0.0.1 -p "$port" -m "$MB" -t 2 >/dev/null 2>&1 &
    pid=$!
    wait_port "$port"
    echo
    echo "### $server (-m $MB -t 2)"
    echo
    target/release/ferrobench stall --server "127.0.0.1:$port"
    kill "$pid"; wait "$pid" 2>/dev/null || true
done
} | tee bench/out/stall.md
