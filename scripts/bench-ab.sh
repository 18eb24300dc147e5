#!/usr/bin/env bash
# Server CPU per request, this ferrocache against another build of it and memcached 1.6.45,
# the servers taking turns: ferrobench sets and gets 1:1 for 5 s each round, and reads the
# server's CPU time from /proc (`--server-pid`).
# Usage: scripts/bench-ab.sh [OTHER_FERROCACHE_BINARY]
# Environment: SIZE (value bytes, default 100), MEM (-m, 64), KEYS (20000), CLIENTS (4),
# ROUNDS (3).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
. scripts/common.sh
cargo build --release --quiet -p ferrocache-bench -p ferrocache-server
mc=$(reference_memcached)
fb=target/release/ferrobench
other=${1:-}
for round in $(seq "${ROUNDS:-3}"); do
    for v in fc ${other:+other} mc; do
        case $v in
            fc) bin=target/release/ferrocache ;;
            other) bin=$other ;;
            mc) bin=$mc ;;
        esac
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        "$bin" "${user_flag[@]}" -U 0 -l 127.0.0.1 -p "$port" -m "${MEM:-64}" -t 2 >/dev/null 2>&1 &
        pid=$!
        sleep 0.3
        echo "$round $v $("$fb" -s "127.0.0.1:$port" -c "${CLIENTS:-4}" -t 1 --ratio 1:1 \
            -d "${SIZE:-100}" --test-time 5 --key-maximum "${KEYS:-20000}" --server-pid "$pid" 2>&1 |
            grep -o 'server CPU.*')"
        kill "$pid"
        wait "$pid" 2>/dev/null || true
    done
done
