#!/usr/bin/env bash
# Memory of a full cache: for -m 64 and -m 1024, with 100-byte and 4 KB values, start
# memcached 1.6.45 (the reference build, `reference_memcached`; $MEMCACHED_BIN overrides it)
# and ferrocache (-t 2) one at a time, fill each with `ferrobench fill` (unique keys until
# evictions, then 20% of the capacity more) and read its VmRSS.
# Prints a markdown table, both servers side by side, and writes it to bench/out/rss.md
# (raw JSON per run: bench/out/rss-<server>-<mb>-<size>.json).
# Usage: scripts/bench-rss.sh [--quick]      (--quick: -m 64 only)
#
#        scripts/bench-rss.sh --churn [MB]   (default 64)
# Write patterns under churn, memcached 1.6.45 and ferrocache (-t 4) one at a time: VmRSS
# sampled every 100 ms while ferrobench sends pipelined sets of sequential keys, pattern by
# pattern (below), each on a fresh server. Checks the bound RSS <= 1.10 x -m + the empty
# server's RSS at every sample; writes bench/out/churn.md, churn-<pattern>.csv and churn.png
# (gnuplot: RSS over time, both servers, one panel per pattern).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
. scripts/common.sh

if [ "${1:-}" = --churn ]; then
    mb=${2:-64}
    cargo build --release --quiet -p ferrocache-bench -p ferrocache-server
    mc=$(reference_memcached)
    mkdir -p bench/out
    python3 - "$mb" "$mc" target/release/ferrocache target/release/ferrobench "${user_flag[@]}" <<'PY'
import subprocess, sys, threading, time
sys.path.insert(0, "scripts")
from benchlib import rss, start_server
mb, mc, fc, fb, user = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
MiB = 2**20
# Keys per fill: enough 100-byte items to fill -m once (memcached holds ~ -m/150 B of them).
once = mb * MiB // 150
# Each pattern: phases of (value size, number of sets); every phase writes fresh keys.
patterns = {
    "small-then-large": [("100", 12 * once // 10), ("4096", once // 30)],
    "refill-4x": [("100", 4 * once)],
    "small-large-small": [("100", once), ("4096", once // 30), ("100", once)],
    "mixed-sizes": [("10-8000", once // 4)],
}

def run(binary, phases):
    server, port = start_server(binary, user, ["-m", str(mb), "-t", "4"])
    empty = rss(server.pid)
    samples, done = [], threading.Event()
    start = time.time()
    def sample():
        while not done.is_set():
            r = rss(server.pid)
            if r:
                samples.append((time.time() - start, r))
            time.sleep(0.1)
    t = threading.Thread(target=sample); t.start()
    key = 1
    for size, count in phases:
        per_conn = max(1, count // 8)
        subprocess.run([fb, "-s", f"127.0.0.1:{port}", "-c", "4", "-t", "2", "--ratio", "1:0",
                        "--pipeline", "16", "--key-pattern", "sequential", "--data-size", size,
                        "--requests", str(per_conn), "--key-minimum", str(key),
                        "--key-maximum", str(key + per_conn * 8)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        key += per_conn * 8 + 1
    time.sleep(3)
    done.set(); t.join()
    server.terminate(); server.wait()
    return empty, samples

rows = []
for name, phases in patterns.items():
    runs = {}
    for label, binary in (("memcached", mc), ("ferrocache", fc)):
        runs[label] = run(binary, phases)
    with open(f"bench/out/churn-{name}.csv", "w") as f:
        f.write("server,seconds,rss_mib\n")
        for label, (_, samples) in runs.items():
            for t, r in samples:
                f.write(f"{label},{t:.2f},{r / MiB:.2f}\n")
    for label, (empty, samples) in runs.items():
        bound = 1.10 * mb * MiB + empty
        peak = max(r for _, r in samples)
        end = samples[-1][1]
        over = sum(1 for _, r in samples if r > bound)
        rows.append((name, label, empty / MiB, peak / MiB, end / MiB, bound / MiB, over, len(samples)))

with open("bench/out/churn.md", "w") as out:
    out.write(f"-m {mb}, -t 4; bound = 1.10 x -m + the empty server's RSS\n\n")
    out.write("| pattern | server | empty MiB | peak MiB | end MiB | bound MiB | samples over the bound |\n")
    out.write("|---|---|---|---|---|---|---|\n")
    for name, label, empty, peak, end, bound, over, n in rows:
        out.write(f"| {name} | {label} | {empty:.1f} | {peak:.1f} | {end:.1f} | {bound:.1f} | {over} of {n} |\n")
print(open("bench/out/churn.md").read())
PY
    if command -v gnuplot >/dev/null; then
        plot=""
        for p in small-then-large refill-4x small-large-small mixed-sizes; do
            f=bench/out/churn-$p.csv
            plot+="set title '$p'; plot '< grep ^memcached $f' u 2:3 w l t 'memcached 1.6.45', '< grep ^ferrocache $f' u 2:3 w l t 'ferrocache', $((mb * 11 / 10 + 5)) w l dt 2 t '1.10 x -m + empty';"
        done
        gnuplot -e "set terminal pngcairo size 900,1100 font 'Sans,9'; set output 'bench/out/churn.png'; set datafile separator ','; set multiplot layout 4,1; set xlabel 's'; set ylabel 'RSS MiB'; $plot unset multiplot" &&
            echo "chart: bench/out/churn.png" >&2
    fi
    exit 0
fi

sizes_mb=(64 1024)
[ "${1:-}" = --quick ] && sizes_mb=(64)
values=(100 4096)

mc=${MEMCACHED_BIN:-$(reference_memcached)}
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
            bin=$mc
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
sys.path.insert(0, "scripts")
from benchlib import load_json
def load(server, mb, vs):
    return load_json(f"bench/out/rss-{server}-{mb}-{vs}.json")
MiB = 2**20
def full(r):
    """`stats` bytes / limit_maxbytes on the full cache: what a "cache nearly full" alert reads."""
    return r["bytes"] / r["limit"] if r and r.get("limit") else None
def ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b else "-"
print("| -m | value | items mc | items fc | items fc/mc | RSS mc MiB | RSS fc MiB | RSS fc/mc "
      "| RSS/-m mc | RSS/-m fc | RSS B/item mc | RSS B/item fc | B/item fc/mc "
      "| bytes/-m mc | bytes/-m fc |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
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
              f"| {ratio(g(f,'rss_per_item'), g(m,'rss_per_item'))} "
              f"| {fmt(full(m),'.3f')} | {fmt(full(f),'.3f')} |")
print()
print("mc = memcached " + str((load('memcached', mbs[0], values[0]) or {}).get('version')) +
      ", fc = ferrocache; both -t 2. RSS is VmRSS 2 s after the fill ended "
      "(evictions seen, then 20% of the capacity more written).")
PY
