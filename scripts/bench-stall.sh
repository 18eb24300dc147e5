#!/usr/bin/env bash
# Latency stalls: on a full cache (-m 256 by default, 100-byte values) under a steady load
# (8 connections, one request in flight each, get:set 10:1), send flush_all and keep the load
# 5 s; then store 1,000,000 keys with exptime 2 (pipelined), wait 3 s for them to expire,
# read them back and keep the load 5 s. Latency of every load request, per phase, for
# memcached and ferrocache (-t 2), one at a time; a side-by-side table goes to
# bench/out/stall.md (per-server tables and JSON beside it).
# Usage: scripts/bench-stall.sh [--quick] [MB] [-- more `ferrobench stall` options]
#   --quick: -m 64, 200k expiring keys, 2 s phases.
#   e.g. `scripts/bench-stall.sh 256 -- --absolute --exptime 10`: one absolute expiry time for
#   all the keys (out files then carry a suffix made of those options).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/common.sh

args=()
MB=256
if [ "${1:-}" = --quick ]; then
    MB=64
    args=(--expiring 200000 --phase-secs 2)
    shift
fi
if [ $# -gt 0 ] && [ "$1" != -- ]; then MB=$1; shift; fi
tag=
if [ "${1:-}" = -- ]; then
    shift
    args+=("$@")
    tag=$(echo "$*" | tr -cs 'a-z0-9' '-' | sed 's/^-*/-/; s/-*$//')
fi

command -v memcached >/dev/null || { echo "install memcached first (apt-get install memcached)" >&2; exit 1; }
cargo build --release --quiet -p ferrocache-bench
servers=(memcached)
if cargo build --release --quiet -p ferrocache-server && [ -x target/release/ferrocache ]; then
    servers+=(ferrocache)
else
    echo "warning: ferrocache does not build; measuring memcached alone" >&2
fi
mkdir -p bench/out

for server in "${servers[@]}"; do
    bin=$(command -v memcached)
    [ "$server" = ferrocache ] && bin=target/release/ferrocache
    port=$(free_port)
    "$bin" "${user_flag[@]}" -U 0 -l 127.0.0.1 -p "$port" -m "$MB" -t 2 >/dev/null 2>&1 &
    pid=$!
    wait_port "$port" >&2
    echo "== $server -m $MB -t 2 (load average $(cut -d" " -f1-3 /proc/loadavg))" >&2
    target/release/ferrobench stall --server "127.0.0.1:$port" "${args[@]}" \
        --json "bench/out/stall-$server$tag.json" | tee "bench/out/stall-$server$tag.md" >&2 \
        || echo "stall failed" >&2
    kill "$pid"; wait "$pid" 2>/dev/null || true
done

python3 - "$MB" "$tag" <<'PY' | tee "bench/out/stall$tag.md"
import json, sys
mb, tag = sys.argv[1], sys.argv[2]
runs = {}
for s in ("memcached", "ferrocache"):
    try:
        with open(f"bench/out/stall-{s}{tag}.json") as f:
            runs[s] = json.load(f)
    except (OSError, ValueError):
        pass
m, f = runs.get("memcached"), runs.get("ferrocache")
def cell(r, i, k):
    return str(r["phases"][i][k]) if r else "-"
def ratio(i, k):
    if not (m and f) or not m["phases"][i][k]:
        return "-"
    return f"{f['phases'][i][k] / m['phases'][i][k]:.2f}x"
print(f"Latency of the load requests in µs, -m {mb} -t 2; mc = memcached, fc = ferrocache.")
print()
print("| phase | requests mc | requests fc | p50 mc | p50 fc | p99 mc | p99 fc | p99.9 mc | p99.9 fc | p99.9 fc/mc "
      "| max mc | max fc | max fc/mc | >10 ms mc | >10 ms fc |")
print("|" + "---|" * 15)
names = [p["phase"] for p in (m or f)["phases"]] if (m or f) else []
for i, name in enumerate(names):
    print(f"| {name} | {cell(m,i,'count')} | {cell(f,i,'count')} | {cell(m,i,'p50_us')} | {cell(f,i,'p50_us')} "
          f"| {cell(m,i,'p99_us')} | {cell(f,i,'p99_us')} | {cell(m,i,'p99_9_us')} | {cell(f,i,'p99_9_us')} | {ratio(i,'p99_9_us')} "
          f"| {cell(m,i,'max_us')} | {cell(f,i,'max_us')} | {ratio(i,'max_us')} "
          f"| {cell(m,i,'over_limit')} | {cell(f,i,'over_limit')} |")
print()
for s, r in runs.items():
    print(f"- {s}: filled {r['filled_keys']} keys; flush_all answered in {r['flush_all_us']} µs; "
          f"{r['expiring_keys']} keys with {'absolute ' if r['absolute_exptime'] else ''}exptime {r['exptime']} stored in {r['expiring_set_secs']:.2f} s; "
          f"read back in {r['read_back_secs']:.2f} s ({r['expired_keys_found']} still there); "
          f"no request over 10 ms after flush_all/around the expiry: {'met' if r['requirement_met'] else 'NOT met'}")
PY
