#!/usr/bin/env python3
"""New TLS connections per second, and the server's CPU per connection.

Each connection: TCP connect, a full handshake (no session is ever offered back, so no
resumption), `version\\r\\n`, read the `VERSION ...` line, close. PROCS client processes loop
for WARMUP + SECONDS; the server's utime+stime (/proc/<pid>/stat, all its threads) and the
number of finished connections are read when the warm-up ends and SECONDS later.
Used by scripts/bench-tls.sh.

Usage: tls-handshakes.py HOST PORT CA_FILE TLS_VERSION(1.2|1.3) SECONDS PROCS SERVER_PID JSON_OUT
"""
import json
import multiprocessing as mp
import os
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import cpu_seconds  # noqa: E402

WARMUP = 1.0


def context(ca, version):
    ctx = ssl.create_default_context(cafile=ca)
    v = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[version]
    ctx.minimum_version = ctx.maximum_version = v
    return ctx


def one(ctx, host, port):
    """One connection; returns (tls version, cipher) once `version` was answered."""
    raw = socket.create_connection((host, port))
    try:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s = ctx.wrap_socket(raw, server_hostname="localhost")  # handshakes here
        s.sendall(b"version\r\n")
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = s.recv(256)
            if not chunk:
                raise ConnectionError("closed before the reply")
            reply += chunk
        if not reply.startswith(b"VERSION "):
            raise ConnectionError(f"unexpected reply {reply!r}")
        info = (s.version(), s.cipher()[0])
        s.close()
        return info
    finally:
        raw.close()


def worker(host, port, ca, version, done, errors, stop):
    ctx = context(ca, version)
    while not stop.is_set():
        try:
            one(ctx, host, port)
            with done.get_lock():
                done.value += 1
        except (OSError, ConnectionError):
            with errors.get_lock():
                errors.value += 1


def main():
    host, port, ca, version = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    seconds, procs, pid, out = float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), sys.argv[8]
    negotiated = one(context(ca, version), host, port)
    done, errors, stop = mp.Value("q", 0), mp.Value("q", 0), mp.Event()
    workers = [mp.Process(target=worker, args=(host, port, ca, version, done, errors, stop))
               for _ in range(procs)]
    for w in workers:
        w.start()
    time.sleep(WARMUP)
    n0, c0, t0 = done.value, cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    n1, c1, t1 = done.value, cpu_seconds(pid), time.monotonic()
    stop.set()
    for w in workers:
        w.join()
    n = n1 - n0
    result = {
        "tls_version": negotiated[0], "cipher": negotiated[1], "seconds": t1 - t0,
        "procs": procs, "handshakes": n, "errors": errors.value,
        "handshakes_per_sec": n / (t1 - t0),
        "server_cpu_s": c1 - c0,
        "server_cpu_us_per_handshake": (c1 - c0) * 1e6 / n if n else None,
    }
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"{negotiated[0]} {negotiated[1]}: {result['handshakes_per_sec']:.0f} handshakes/s, "
          f"server CPU {result['server_cpu_us_per_handshake'] or 0:.0f} µs per handshake, "
          f"{errors.value} errors", file=sys.stderr)


if __name__ == "__main__":
    main()
