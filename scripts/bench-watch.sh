#!/usr/bin/env bash
# What `watch` costs when watchers do not read: starts memcached 1.6.45 and then ferrocache
# (-m 64, -t 4, default log buffers), opens 20 watchers (`watch fetchers mutations`, the
# limit) whose sockets have a 4 KB receive buffer and which never read, then sends 3,000
# `get`s of 100 missing keys (300,000 item_get lines) on one more connection. Reads each
# server's VmRSS before the watchers and 1.5 s after the traffic, times the traffic, and
# prints the log_* stats: where lines were dropped (worker buffers) or skipped (watcher
# buffers). Then the same traffic with no watcher, for the cost of the check alone.
# Writes a markdown table to bench/out/watch.md.
#
# Usage: scripts/bench-watch.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
. scripts/common.sh

cargo build --release --quiet -p ferrocache-server
mc=$(reference_memcached)
mkdir -p bench/out

python3 - "$mc" target/release/ferrocache "${user_flag[@]}" <<'PY' | tee bench/out/watch.md
import socket, sys, time
sys.path.insert(0, "scripts")
from benchlib import rss, start_server
mc, fc, user = sys.argv[1], sys.argv[2], sys.argv[3:]
ROUNDS = 3000
REQ = b"get" + b"".join(b" key-%d" % k for k in range(100)) + b"\r\n"

def traffic(sock):
    t = time.perf_counter()
    for _ in range(ROUNDS):
        sock.sendall(REQ)
        reply = b""
        while not reply.endswith(b"END\r\n"):
            reply += sock.recv(65536)
    return time.perf_counter() - t

def logs(sock):
    sock.sendall(b"stats\r\n")
    reply = b""
    while not reply.endswith(b"END\r\n"):
        reply += sock.recv(65536)
    return {l.split()[1]: int(l.split()[2]) for l in reply.decode().splitlines()
            if l.startswith("STAT log_")}

def run(binary, watchers):
    server, port = start_server(binary, user, ["-m", "64"])
    try:
        client = socket.create_connection(("127.0.0.1", port))
        before = rss(server.pid)
        held = []
        for _ in range(watchers):
            w = socket.socket()
            w.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            w.connect(("127.0.0.1", port))
            w.sendall(b"watch fetchers mutations\r\n")
            held.append(w)
        time.sleep(0.5)
        secs = traffic(client)
        time.sleep(1.5)
        after = rss(server.pid)
        return before // 1024, after // 1024, secs, logs(client)
    finally:
        server.kill()
        server.wait()

print("| server | watchers | RSS before (KiB) | RSS after (KiB) | growth (KiB) | 300,000 lookups (s) | worker written / dropped | watcher sent / skipped |")
print("|---|---|---|---|---|---|---|---|")
for watchers in (20, 0):
    for name, binary in (("memcached", mc), ("ferrocache", fc)):
        before, after, secs, l = run(binary, watchers)
        print(f"| {name} | {watchers} | {before} | {after} | {after - before} | {secs:.2f} | "
              f"{l['log_worker_written']} / {l['log_worker_dropped']} | "
              f"{l['log_watcher_sent']} / {l['log_watcher_skipped']} |")
PY
