#!/usr/bin/env bash
# Memory benchmark: fills memcached and ferrocache past -m with 100-byte and 4 KB values at
# -m 64 and -m 1024 (-t 2 for both), and prints each server's RSS against its limit.
# Usage: scripts/bench-rss.sh            (results also go to bench/out/rss.md)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/common.sh
bench_setup

measure() { # server-binary mb value-size -> JSON line
    local bin=$1 mb=$2 vs=$3 port pid
    port=$(free_port)
    "$bin" "${user_flag[@]}" -U 0 -l 127.0.0.1 -p "$port" -m "$mb" -t 2 >/dev/null 2>&1 &
    pid=$!
    wait_port "$port" >&2
    local empty
    empty=$(awk '/VmRSS/ {print $2 * 1024}' "/proc/$pid/status")
    target/release/ferrobench fill --server "127.0.0.1:$port" --value-size "$vs" --pid "$pid" \
        | sed "s/}\$/,\"empty_rss\":$empty}/"
    kill "$pid"; wait "$pid" 2>/dev/null || true
}

{
echo "| -m | value | server | items | RSS MB | RSS - empty MB | (RSS - empty) / -m | RSS B/item |"
echo "|---|---|---|---|---|---|---|---|"
for mb in 64 1024; do
    for vs in 100 4096; do
        for server in memcached ferrocache; do
            bin=$(command -v memcached)
            [ "$server" = ferrocache ] && bin=target/release/ferrocache
            line=$(measure "$bin" "$mb" "$vs")
            python3 - "$mb" "$vs" "$server" "$line" <<'PY'
import json, sys
mb, vs, server, line = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
rss, empty, items, limit = line["rss"], line["empty_rss"], line["items"], line["limit"]
print(f"| {mb} | {vs} B | {server} | {items} | {rss/2**20:.1f} | {(rss-empty)/2**20:.1f} | {(rss-empty)/limit:.3f} | {rss/max(items,1):.0f} |")
PY
        done
    done
done
} | tee bench/out/rss.md
