#!/usr/bin/env bash
# What an idle connection costs: opens N connections to memcached 1.6.45 and to ferrocache
# (-t 4, the default), one server at a time, has each send one request, and reads the server's
# VmRSS before and after; then times 200 set+get round trips on one more connection while the
# N are held, and reads VmRSS again once they are closed.
# Writes a markdown table to bench/out/conns.md.
#
# Usage: scripts/bench-conns.sh [N]    (default 50000)
# N is capped by the open-file limit this shell may raise itself to (`ulimit -Hn`): the
# server needs N descriptors and so does this script's client.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
. scripts/common.sh

want=${1:-50000}
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=1048576
n=$want
if [ $((want + 200)) -gt "$hard" ]; then
    n=$((hard - 200))
    echo "note: the open-file hard limit is $hard here; measuring $n connections, not $want" >&2
fi
ulimit -n "$hard"
cargo build --release --quiet -p ferrocache-server
mc=$(reference_memcached)
mkdir -p bench/out

python3 - "$n" "$mc" target/release/ferrocache "${user_flag[@]}" <<'PY' | tee bench/out/conns.md
import socket, sys, time, statistics
sys.path.insert(0, "scripts")
from benchlib import rss, start_server
n, mc, fc, user = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]

def round_trips(sock, count):
    times = []
    for i in range(count):
        t = time.perf_counter()
        sock.sendall(b"set probe 0 0 5\r\nhello\r\nget probe\r\n")
        reply = b""
        while not reply.endswith(b"END\r\n"):
            reply += sock.recv(4096)
        times.append(time.perf_counter() - t)
    return times

def measure(name, binary):
    server, port = start_server(binary, user, ["-c", str(n + 100)])
    try:
        empty = rss(server.pid)
        socks = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"version\r\n")
            socks.append(s)
        for s in socks:
            assert s.recv(64).startswith(b"VERSION")
        time.sleep(1)
        held = rss(server.pid)
        probe = socket.create_connection(("127.0.0.1", port))
        probe.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        times = round_trips(probe, 200)
        probe.close()
        for s in socks:
            s.close()
        time.sleep(1)
        after = rss(server.pid)
        return dict(name=name, empty=empty, held=held, after=after,
                    per_conn=(held - empty) / n,
                    p50=statistics.median(times) * 1e3, worst=max(times) * 1e3)
    finally:
        server.terminate(); server.wait()

rows = [measure("memcached 1.6.45", mc), measure("ferrocache", fc)]
MiB = 2**20
print(f"{n} idle connections (each sent `version` once), -t 4:\n")
print("| server | RSS empty MiB | RSS with the connections MiB | B per connection | set+get p50 ms | set+get max ms | RSS after they close MiB |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['name']} | {r['empty']/MiB:.1f} | {r['held']/MiB:.1f} | {r['per_conn']:.0f} "
          f"| {r['p50']:.3f} | {r['worst']:.3f} | {r['after']/MiB:.1f} |")
print(f"\nferrocache/memcached per connection: {rows[1]['per_conn']/rows[0]['per_conn']:.2f}x")
PY
