#!/usr/bin/env bash
# Memory of a full cache: for -m 64 and -m 1024, with 100-byte and 4 KB values, start
# memcached and ferrocache (-t 2) one at a time, fill each with `ferrobench fill` (unique keys
# until evictions, then 20% of the capacity more) and read its VmRSS.
# Prints a markdown table, both servers side by side, and writes it to bench/out/rss.md
# (raw JSON per run: bench/out/rss-<server>-<mb>-<size>.json).
# Usage: scripts/bench-rss.sh [--quick]      (--quick: -m 64 only)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/common.sh

sizes_mb=(64 1024)
[ "${1:-}" = --quick ] && sizes_mb=(64)
values=(100 4096)

command -v memcached >/dev/null || { echo "install memcached first (apt-get install memcached)" >&2; exit 1; }
cargo build --release --quiet -p ferrocache-bench
servers=(memcached)
if cargo build --release --quiet -p ferrocache-server && [ -x target/release/ferrocache ]; then
    servers+=(ferrocache)
else
    echo "warning: ferrocache does not build; measuring memcached alone" >&2
fi
mkdir -p bench/out

for mb in "${sizes_mb[@]}"; do
    for vs in "${values[@]}"; do
        for server in "${servers[@]}"; do
            bin=$(command -v memcached)
            [ "$server" = ferrocache ] && bin=target/release/ferrocache
            port=$(free_port)
            "$bin" "${user_flag[@]}" -U 0 -l 127.0.0.1 -p "$port" -m "$mb" -t 2 >/dev/null 2>&1 &
            pid=$!
            wait_port "$port" >&2
            echo "== $server -m $mb, $vs-byte values (load average $(cut -d" " -f1-3 /proc/loadavg))" >&2
            target/release/ferrobench fill --server "127.0.0.1:$port" --value-size "$vs" \
                --pid "$pid" --json "bench/out/rss-$server-$mb-$vs.json" >&2 || echo "fill failed" >&2
            kill "$pid"; wait "$pid" 2>/dev/null || true
        done
    done
done

python3 - "${sizes_mb[*]}" "${values[*]}" <<'PY' | tee bench/out/rss.md
import json, os, sys
mbs, values = sys.argv[1].split(), sys.argv[2].split()
def load(server, mb, vs):
    try:
        with open(f"bench/out/rss-{server}-{mb}-{vs}.json") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
MiB = 2**20
def ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b else "-"
print("| -m | value | items mc | items fc | items fc/mc | RSS mc MiB | RSS fc MiB | RSS fc/mc "
      "| RSS/-m mc | RSS/-m fc | RSS B/item mc | RSS B/item fc | B/item fc/mc |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for mb in mbs:
    for vs in values:
        m, f = load("memcached", mb, vs), load("ferrocache", mb, vs)
        g = lambda r, k: r.get(k) if r else None
        fmt = lambda v, spec: format(v, spec) if v is not None else "-"
        rss_m = g(m, "rss"); rss_f = g(f, "rss")
        print(f"| {mb} | {vs} B | {fmt(g(m,'items'),'d')} | {fmt(g(f,'items'),'d')} "
              f"| {ratio(g(f,'items'), g(m,'items'))} "
              f"| {fmt(rss_m and rss_m/MiB,'.1f')} | {fmt(rss_f and rss_f/MiB,'.1f')} | {ratio(rss_f, rss_m)} "
              f"| {fmt(g(m,'rss_over_limit'),'.3f')} | {fmt(g(f,'rss_over_limit'),'.3f')} "
              f"| {fmt(g(m,'rss_per_item'),'.0f')} | {fmt(g(f,'rss_per_item'),'.0f')} "
              f"| {ratio(g(f,'rss_per_item'), g(m,'rss_per_item'))} |")
print()
print("mc = memcached " + str((load('memcached', mbs[0], values[0]) or {}).get('version')) +
      ", fc = ferrocache; both -t 2. RSS is VmRSS 2 s after the fill ended "
      "(evictions seen, then 20% of the capacity more written).")
PY
