#!/usr/bin/env bash
# Throughput and latency under ferrobench's load generator: for memcached and ferrocache
# (-m 1024 -t 2), one at a time, preload 100,000 keys of 100 bytes, then 10 s of get:set
# 10:1 over them, uniform keys, 4 connections, without and with pipelining (16).
# Side-by-side table with fc/mc ratios in bench/out/load.md.
# Usage: scripts/bench-load.sh [SECONDS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/common.sh
SECS=${1:-10}

command -v memcached >/dev/null || { echo "install memcached first (apt-get install memcached)" >&2; exit 1; }
cargo build --release --quiet -p ferrocache-bench
servers=(memcached)
if cargo build --release --quiet -p ferrocache-server && [ -x target/release/ferrocache ]; then
    servers+=(ferrocache)
else
    echo "warning: ferrocache does not build; measuring memcached alone" >&2
fi
mkdir -p bench/out

for pipeline in 1 16; do
    for server in "${servers[@]}"; do
        bin=$(command -v memcached)
        [ "$server" = ferrocache ] && bin=target/release/ferrocache
        port=$(free_port)
        "$bin" "${user_flag[@]}" -U 0 -l 127.0.0.1 -p "$port" -m 1024 -t 2 >/dev/null 2>&1 &
        pid=$!
        wait_port "$port" >&2
        echo "== $server, pipeline $pipeline (load average $(cut -d" " -f1-3 /proc/loadavg))" >&2
        target/release/ferrobench --server "127.0.0.1:$port" --clients 4 --threads 1 \
            --ratio 1:10 --pipeline "$pipeline" --data-size 100 --key-maximum 100000 --preload \
            --test-time "$SECS" --json "bench/out/load-$server-p$pipeline.json" >&2 \
            || echo "load failed" >&2
        kill "$pid"; wait "$pid" 2>/dev/null || true
    done
done

python3 - <<'PY' | tee bench/out/load.md
import json
def load(s, p):
    try:
        with open(f"bench/out/load-{s}-p{p}.json") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
print("| pipeline | metric | memcached | ferrocache | fc/mc |")
print("|---|---|---|---|---|")
for p in (1, 16):
    m, f = load("memcached", p), load("ferrocache", p)
    rows = [("ops/s", lambda r: r["totals"]["ops_per_sec"]),
            ("hit ratio", lambda r: r["hit_ratio"]),
            ("p50 µs", lambda r: r["totals"]["p50_us"]),
            ("p99 µs", lambda r: r["totals"]["p99_us"]),
            ("p99.9 µs", lambda r: r["totals"]["p99_9_us"]),
            ("max µs", lambda r: r["totals"]["max_us"])]
    for name, get in rows:
        a = get(m) if m else None
        b = get(f) if f else None
        fmt = lambda v: "-" if v is None else (f"{v:.0f}" if v > 1.5 else f"{v:.4f}")
        ratio = f"{b / a:.2f}x" if a and b is not None else "-"
        print(f"| {p} | {name} | {fmt(a)} | {fmt(b)} | {ratio} |")
PY
