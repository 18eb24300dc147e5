#!/usr/bin/env bash
# Stall benchmark: on a full cache under steady load (8 connections, 10:1 get:set), send
# flush_all, then store a million keys with exptime 2 and let them all expire at once.
# Prints per-phase latency (p50, p99, p99.9, max) for memcached and ferrocache (-m 256 -t 2).
# Usage: scripts/bench-stall.sh [MB]        (results also go to bench/out/stall.md)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MB=${1:-256}
command -v memcached >/dev/null || { echo "install memcached first (apt-get install memcached)" >&2; exit 1; }
cargo build --release --quiet -p ferrocache-server -p ferrocache-bench
mkdir -p bench/out
user_flag=()
[ "$(id -u)" -eq 0 ] && user_flag=(-u root)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
{
for server in memcached ferrocache; do
    bin=$(command -v memcached)
    [ "$server" = ferrocache ] && bin=target/release/ferrocache
    port=$(free_port)
    "$bin" "${user_flag[@]}" -U 0 -l 127.0.0.1 -p "$port" -m "$MB" -t 2 >/dev/null 2>&1 &
    pid=$!
    sleep 0.5
    echo
    echo "### $server (-m $MB -t 2)"
    echo
    target/release/ferrobench stall --server "127.0.0.1:$port"
    kill "$pid"; wait "$pid" 2>/dev/null || true
done
} | tee bench/out/stall.md
