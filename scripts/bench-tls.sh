#!/usr/bin/env bash
# Server CPU per operation over TLS: memcached 1.6.45 built with TLS (the reference build,
# OpenSSL) against ferrocache (rustls), in the same run, one server at a time, each with -Z,
# -t 2 -m 1024 and the same EC P-256 certificate made here with openssl. ferrobench speaks
# TLS (--tls-ca) over N connections: preload 100,000 keys of 100 bytes, then SECONDS of get:set
# 10:1, without and with pipelining (16), and reads each server's utime+stime from
# /proc/<pid>/stat over the measured part. Plain TCP is measured too, for the TLS overhead.
# Table with fc/mc ratios in bench/out/tls.md.
# Usage: scripts/bench-tls.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
. scripts/common.sh
SECS=${1:-10}
CONNS=${2:-8}

MEMCACHED=$(reference_memcached)
cargo build --release --quiet -p ferrocache-bench -p ferrocache-server
TARGET=${CARGO_TARGET_DIR:-target}
mkdir -p bench/out
certs=$(mktemp -d)
trap 'rm -rf "$certs"' EXIT
ossl() { openssl "$@" >/dev/null 2>&1; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$certs/ca.key" \
    -out "$certs/ca.pem" -days 2 -subj /CN=bench-ca
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$certs/server.key" \
    -out "$certs/server.csr" -subj /CN=localhost
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$certs/san.cnf"
ossl x509 -req -in "$certs/server.csr" -CA "$certs/ca.pem" -CAkey "$certs/ca.key" \
    -CAcreateserial -out "$certs/server.pem" -days 2 -extfile "$certs/san.cnf"
tls_flags=(-Z -o "ssl_chain_cert=$certs/server.pem,ssl_key=$certs/server.key")

for transport in tls plain; do
    for pipeline in 1 16; do
        for server in memcached ferrocache; do
            bin=$MEMCACHED
            [ "$server" = ferrocache ] && bin=$TARGET/release/ferrocache
            flags=()
            client=()
            if [ "$transport" = tls ]; then
                flags=("${tls_flags[@]}")
                client=(--tls-ca "$certs/ca.pem")
            fi
            port=$(free_port)
            "$bin" "${user_flag[@]}" -U 0 -l 127.0.0.1 -p "$port" -m 1024 -t 2 "${flags[@]}" \
                >/dev/null 2>&1 &
            pid=$!
            wait_port "$port" >&2
            echo "== $server, $transport, pipeline $pipeline (load average $(cut -d" " -f1-3 /proc/loadavg))" >&2
            "$TARGET/release/ferrobench" --server "localhost:$port" "${client[@]}" \
                --clients "$CONNS" --threads 1 --ratio 1:10 --pipeline "$pipeline" \
                --data-size 100 --key-maximum 100000 --preload --warmup 1 --test-time "$SECS" \
                --server-pid "$pid" --json "bench/out/tls-$server-$transport-p$pipeline.json" >&2 \
                || echo "load failed" >&2
            kill "$pid"; wait "$pid" 2>/dev/null || true
        done
    done
done

python3 - <<'PY' | tee bench/out/tls.md
import json
def load(s, t, p):
    try:
        with open(f"bench/out/tls-{s}-{t}-p{p}.json") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
print("| transport | pipeline | metric | memcached | ferrocache | fc/mc |")
print("|---|---|---|---|---|---|")
for t in ("tls", "plain"):
    for p in (1, 16):
        m, f = load("memcached", t, p), load("ferrocache", t, p)
        rows = [("server CPU µs/op", lambda r: r["server_cpu_us_per_op"]),
                ("ops/s", lambda r: r["totals"]["ops_per_sec"]),
                ("p99 µs", lambda r: r["totals"]["p99_us"])]
        for name, get in rows:
            a = get(m) if m else None
            b = get(f) if f else None
            fmt = lambda v: "-" if v is None else (f"{v:.0f}" if v > 50 else f"{v:.2f}")
            ratio = f"{b / a:.2f}x" if a and b is not None else "-"
            print(f"| {t} | {p} | {name} | {fmt(a)} | {fmt(b)} | {ratio} |")
PY
