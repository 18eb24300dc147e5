#!/usr/bin/env bash
# `cache_memlimit` on a full cache, down and up: memcached 1.6.45 and ferrocache (-t 4), one
# at a time, each started with -m MB (default 256):
#   1. fill: 1000-byte values under fresh keys, 1.3 x the capacity (pipelined, noreply);
#   2. `cache_memlimit MB/4`, then 10 s with VmRSS sampled every 100 ms, while one client
#      times a set+get round trip every 2 ms (the worst is the stall a lowering costs);
#   3. as many fresh keys again as MB/4 holds (a cache keeps being written to);
#   4. `cache_memlimit 2*MB` (past -m), and fresh keys for 1.3 x that.
# After each step: VmRSS, curr_items, bytes, evictions. With FERROCACHE_BASELINE=<binary>
# (e.g. main's build, whose cache_memlimit changes only the figure) that binary is run too, to
# show what building moka with headroom costs a server that never changes its limit (empty
# RSS, full RSS, fill rate).
# Writes a markdown table to bench/out/memlimit.md.
#
# Usage: scripts/bench-memlimit.sh [MB]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
. scripts/common.sh

mb=${1:-256}
cargo build --release --quiet -p ferrocache-server
mc=${MEMCACHED_BIN:-$(reference_memcached)}
mkdir -p bench/out

python3 - "$mb" "$mc" target/release/ferrocache "${FERROCACHE_BASELINE:-}" "${user_flag[@]}" <<'PY' | tee bench/out/memlimit.md
import socket, sys, threading, time
sys.path.insert(0, "scripts")
from benchlib import rss, start_server
mb, mc, fc, baseline, user = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
MiB = 2**20
VALUE = b"v" * 1000

def connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def ask(s, req, end):
    s.sendall(req)
    got = b""
    while not got.endswith(end):
        chunk = s.recv(65536)
        assert chunk, got
        got += chunk
    return got

def stats(s):
    out = {}
    for line in ask(s, b"stats\r\n", b"END\r\n").decode().splitlines():
        if line.startswith("STAT "):
            _, k, v = line.split(" ", 2)
            out[k] = v
    return out

def fill(s, prefix, megabytes):
    """Fresh keys holding 1.3 x `megabytes` of 1000-byte values; returns sets per second."""
    n = int(megabytes * MiB * 1.3 / 1000)
    start = time.perf_counter()
    batch = []
    for i in range(n):
        batch.append(b"set %s%08d 0 0 1000 noreply\r\n%s\r\n" % (prefix, i, VALUE))
        if len(batch) == 200:
            s.sendall(b"".join(batch))
            batch = []
    s.sendall(b"".join(batch))
    ask(s, b"version\r\n", b"\r\n")
    return n / (time.perf_counter() - start)

def snapshot(server, s, label, extra=""):
    time.sleep(2)
    st = stats(s)
    return dict(step=label, rss=rss(server.pid), items=int(st["curr_items"]),
                bytes=int(st["bytes"]), evictions=int(st["evictions"]),
                limit=int(st["limit_maxbytes"]), extra=extra)

def prober(port, stop, worst):
    s = connect(port)
    while not stop.is_set():
        t = time.perf_counter()
        ask(s, b"set probe 0 0 5\r\nhello\r\nget probe\r\n", b"END\r\n")
        worst.append(time.perf_counter() - t)
        time.sleep(0.002)

def measure(name, binary, full_run=True):
    server, port = start_server(binary, user, ["-m", str(mb), "-t", "4"])
    rows = []
    try:
        empty = rss(server.pid)
        s = connect(port)
        rate = fill(s, b"a", mb)
        rows.append(snapshot(server, s, f"full at -m {mb}", f"empty RSS {empty/MiB:.1f} MiB, fill {rate/1000:.0f}k sets/s"))
        if not full_run:
            return rows
        low = mb // 4
        stop, times = threading.Event(), []
        probe = threading.Thread(target=prober, args=(port, stop, times))
        probe.start()
        time.sleep(0.5)
        before = len(times)
        ask(s, b"cache_memlimit %d\r\n" % low, b"\r\n")
        t0, fitted, peak = time.perf_counter(), None, 0
        while time.perf_counter() - t0 < 10:
            peak = max(peak, rss(server.pid))
            if fitted is None and int(stats(s)["bytes"]) <= low * MiB:
                fitted = time.perf_counter() - t0
            time.sleep(0.1)
        stop.set(); probe.join()
        during = times[before:]
        rows.append(snapshot(server, s, f"cache_memlimit {low}, 10 s on",
            f"bytes under the limit after {'%.1f s' % fitted if fitted is not None else 'never (10 s)'}; "
            f"VmRSS at most {peak/MiB:.1f} MiB in the 10 s; "
            f"set+get worst {max(during)*1e3:.1f} ms, p50 {sorted(during)[len(during)//2]*1e3:.2f} ms ({len(during)} probes)"))
        fill(s, b"b", low)
        rows.append(snapshot(server, s, f"then 1.3 x {low} MB of fresh keys"))
        high = mb * 2
        ask(s, b"cache_memlimit %d\r\n" % high, b"\r\n")
        fill(s, b"c", high)
        rows.append(snapshot(server, s, f"cache_memlimit {high}, then 1.3 x {high} MB of fresh keys"))
        return rows
    finally:
        server.terminate(); server.wait()

runs = [("memcached 1.6.45", measure("memcached", mc)), ("ferrocache", measure("ferrocache", fc))]
if baseline:
    runs.append((f"ferrocache baseline ({baseline})", measure("baseline", baseline, full_run=False)))
print(f"cache_memlimit on a full cache: -m {mb} -t 4, 1000-byte values; each row 2 s after its step.\n")
print("| server | step | VmRSS MiB | curr_items | bytes MiB | evictions | notes |")
print("|---|---|---|---|---|---|---|")
for name, rows in runs:
    for r in rows:
        print(f"| {name} | {r['step']} | {r['rss']/MiB:.1f} | {r['items']} | {r['bytes']/MiB:.1f} "
              f"| {r['evictions']} | {r['extra']} |")
PY
