#!/usr/bin/env bash
# The LRU crawler's background reclaim under load, against memcached 1.6.45 in the same run.
# For each server (memcached 1.6.45 from .reference/, then ferrocache, -t 2, one at a time):
# `ferrobench stall` fills the cache (-m 512 by default, 100-byte values), keeps a steady
# load (8 connections, get:set 10:1), sends flush_all and keeps the load, then stores
# 1,000,000 keys with exptime 2, waits for them to expire and keeps the load again. Meanwhile
# a sampler reads `stats` every 200 ms: how many items are still counted, and how many the
# server reclaimed, over time. The question: is a flushed or expired cache emptied within
# seconds, as memcached's LRU maintainer empties it, and does any request wait meanwhile?
# Output: bench/out/crawler.md (the table and the reclaim timings), and per server the stall
# JSON and the samples (CSV) beside it.
# Usage: scripts/bench-crawler.sh [MB] [-- more `ferrobench stall` options]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/common.sh

MB=512
if [ $# -gt 0 ] && [ "$1" != -- ]; then MB=$1; shift; fi
args=(--phase-secs 8)
if [ "${1:-}" = -- ]; then
    shift
    args+=("$@")
fi

memcached=$(reference_memcached)
cargo build --release --quiet -p ferrocache-bench -p ferrocache-server
mkdir -p bench/out

# ferrocache twice: with the crawler's background reclaim (the default), and without it
# (-o no_lru_maintainer: dead items leave only when read or evicted, as before the crawler),
# so that what the reclaim itself costs the requests shows apart from the machine's noise.
for server in memcached ferrocache ferrocache-noreclaim; do
    bin=$memcached
    extra=()
    [ "$server" != memcached ] && bin=target/release/ferrocache
    [ "$server" = ferrocache-noreclaim ] && extra=(-o no_lru_maintainer)
    port=$(free_port)
    "$bin" "${user_flag[@]}" -U 0 -l 127.0.0.1 -p "$port" -m "$MB" -t 2 "${extra[@]}" >/dev/null 2>&1 &
    pid=$!
    wait_port "$port" >&2
    echo "== $server -m $MB -t 2 (load average $(cut -d" " -f1-3 /proc/loadavg))" >&2
    # The sampler: one `stats` every 200 ms until the server goes away.
    python3 - "$port" "bench/out/crawler-$server.csv" <<'PY' &
import socket, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
names = ("curr_items", "cmd_flush", "reclaimed", "crawler_reclaimed", "expired_unfetched",
         "get_flushed", "get_expired", "evictions")
with open(out, "w") as f:
    f.write("t," + ",".join(names) + "\n")
    start = time.time()
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), 2) as s:
                while True:
                    s.sendall(b"stats\r\n")
                    buf = b""
                    while not buf.endswith(b"END\r\n"):
                        chunk = s.recv(65536)
                        if not chunk:
                            raise OSError("closed")
                        buf += chunk
                    stats = dict(l.split(" ", 2)[1:] for l in buf.decode().splitlines()
                                 if l.startswith("STAT "))
                    f.write(f"{time.time() - start:.2f}," +
                            ",".join(stats.get(n, "") for n in names) + "\n")
                    f.flush()
                    time.sleep(0.2)
        except OSError:
            sys.exit(0)
PY
    sampler=$!
    target/release/ferrobench stall --server "127.0.0.1:$port" "${args[@]}" \
        --json "bench/out/crawler-stall-$server.json" >"bench/out/crawler-stall-$server.md" \
        || echo "stall failed" >&2
    kill "$pid"; wait "$pid" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
done

python3 - "$MB" <<'PY' | tee bench/out/crawler.md
import csv, json, sys
mb = sys.argv[1]
runs, samples = {}, {}
for s in ("memcached", "ferrocache", "ferrocache-noreclaim"):
    try:
        with open(f"bench/out/crawler-stall-{s}.json") as f:
            runs[s] = json.load(f)
        with open(f"bench/out/crawler-{s}.csv") as f:
            samples[s] = [r for r in csv.DictReader(f) if r["curr_items"]]
    except (OSError, ValueError):
        pass
m, f, n = runs.get("memcached"), runs.get("ferrocache"), runs.get("ferrocache-noreclaim")
def cell(r, i, k):
    return str(r["phases"][i][k]) if r else "-"
def ratio(a, i, k):
    if not (m and a) or not m["phases"][i][k]:
        return "-"
    return f"{a['phases'][i][k] / m['phases'][i][k]:.2f}x"
print(f"Latency of the load requests in µs, -m {mb} -t 2; mc = memcached 1.6.45, fc = ferrocache, "
      "fc0 = ferrocache -o no_lru_maintainer (no background reclaim).")
print()
print("| phase | requests mc / fc / fc0 | p99 mc / fc / fc0 | p99 fc/mc | p99.9 mc / fc / fc0 "
      "| max mc / fc / fc0 | max fc/mc | >10 ms mc / fc / fc0 |")
print("|" + "---|" * 8)
names = [p["phase"] for p in (m or f)["phases"]] if (m or f) else []
def three(i, k):
    return " / ".join(cell(r, i, k) for r in (m, f, n))
for i, name in enumerate(names):
    print(f"| {name} | {three(i,'count')} | {three(i,'p99_us')} | {ratio(f,i,'p99_us')} "
          f"| {three(i,'p99_9_us')} | {three(i,'max_us')} | {ratio(f,i,'max_us')} "
          f"| {three(i,'over_limit')} |")
print()
print("Reclaim, from the `stats` samples (every 200 ms):")
print()
for s, rows in samples.items():
    flush = next((r for r in rows if int(r["cmd_flush"] or 0) > 0), None)
    if not flush:
        print(f"- {s}: no flush_all seen")
        continue
    before = [r for r in rows if float(r["t"]) < float(flush["t"])]
    items = int(before[-1]["curr_items"]) if before else 0
    t0 = float(flush["t"])
    def when(pred):
        r = next((r for r in rows if float(r["t"]) >= t0 and pred(r)), None)
        return f"{float(r['t']) - t0:.1f} s" if r else "not within the run"
    low = when(lambda r: int(r["curr_items"]) <= items // 100)
    zero = when(lambda r: int(r["curr_items"]) == 0)
    last = rows[-1]
    print(f"- {s}: {items} items before flush_all; under 1% of them counted {low} after it, "
          f"none {zero}; at the end: reclaimed {last['reclaimed']}, crawler_reclaimed "
          f"{last['crawler_reclaimed']}, expired_unfetched {last['expired_unfetched']}, "
          f"get_flushed {last['get_flushed']}, get_expired {last['get_expired']}")
for s, r in runs.items():
    print(f"- {s}: filled {r['filled_keys']} keys; flush_all answered in {r['flush_all_us']} µs; "
          f"{r['expiring_keys']} keys with exptime {r['exptime']} stored in {r['expiring_set_secs']:.2f} s; "
          f"read back in {r['read_back_secs']:.2f} s ({r['expired_keys_found']} still there)")
PY
