#!/usr/bin/env bash
# Server CPU per operation over TLS: memcached 1.6.45 built with TLS (the reference build,
# OpenSSL) against ferrocache (rustls), in the same run, one server at a time, each with -Z,
# -t 2 -m 1024 and the same EC P-256 certificate made here with openssl. ferrobench speaks
# TLS (--tls-ca) over N connections: preload 100,000 keys of 100 bytes, then SECONDS of get:set
# 10:1, without and with pipelining (16), and reads each server's utime+stime from
# /proc/<pid>/stat over the measured part. Plain TCP is measured too, for the TLS overhead.
# Table with fc/mc ratios in bench/out/tls.md.
# Then new connections (scripts/tls-handshakes.py): HS_PROCS client processes each loop over
# connect, full handshake (TLS 1.3, then TLS 1.2; no resumption), `version`, close, for
# SECONDS after a 1 s warm-up; handshakes per second and the server's CPU per handshake, the
# servers alternating (memcached first in odd rounds, ferrocache in even ones), ROUNDS rounds.
# Table in bench/out/tls-handshakes.md.
# Usage: scripts/bench-tls.sh [SECONDS] [CONNECTIONS]          (one round of handshakes)
#        scripts/bench-tls.sh --handshakes [SECONDS] [ROUNDS]  (handshakes only; 10 s, 3 rounds)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
. scripts/common.sh
ops=1
if [ "${1:-}" = --handshakes ]; then
    ops=0
    shift
    SECS=${1:-10}
    ROUNDS=${2:-3}
else
    SECS=${1:-10}
    CONNS=${2:-8}
    ROUNDS=1
fi
HS_PROCS=${HS_PROCS:-4}

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

# Starts $1 (memcached or ferrocache) with -m 1024 -t 2 and the flags after it; sets pid, port.
start() {
    local bin=$MEMCACHED
    [ "$1" = ferrocache ] && bin=$TARGET/release/ferrocache
    shift
    port=$(free_port)
    "$bin" "${user_flag[@]}" -U 0 -l 127.0.0.1 -p "$port" -m 1024 -t 2 "$@" >/dev/null 2>&1 &
    pid=$!
    wait_port "$port" >&2
}

handshakes() {
    rm -f bench/out/tls-hs-*.json
    for round in $(seq "$ROUNDS"); do
        order=(memcached ferrocache)
        [ $((round % 2)) = 0 ] && order=(ferrocache memcached)
        for version in 1.3 1.2; do
            for server in "${order[@]}"; do
                start "$server" "${tls_flags[@]}"
                echo "== handshakes: round $round, $server, TLS $version (load average $(cut -d" " -f1-3 /proc/loadavg))" >&2
                if [ "$round" = 1 ]; then  # what was negotiated, for the log
                    openssl s_client -connect "127.0.0.1:$port" "-tls${version/./_}" \
                        -CAfile "$certs/ca.pem" </dev/null 2>/dev/null |
                        grep -E '^(Server Temp Key|Peer signature type|New, )' >&2 || true
                fi
                python3 scripts/tls-handshakes.py 127.0.0.1 "$port" "$certs/ca.pem" "$version" \
                    "$SECS" "$HS_PROCS" "$pid" "bench/out/tls-hs-$server-$version-r$round.json" \
                    || echo "handshakes failed" >&2
                kill "$pid"; wait "$pid" 2>/dev/null || true
            done
        done
    done
    python3 - "$ROUNDS" "$SECS" "$HS_PROCS" <<'PY' | tee bench/out/tls-handshakes.md
import json, statistics, sys
rounds, secs, procs = int(sys.argv[1]), sys.argv[2], sys.argv[3]
sys.path.insert(0, "scripts")
from benchlib import load_json
def load(s, v, r):
    return load_json(f"bench/out/tls-hs-{s}-{v}-r{r}.json")
def cell(values, fmt):
    got = [v for v in values if v is not None]
    if not got:
        return "-"
    med = statistics.median(got)
    return f"**{med:{fmt}}** ({', '.join(format(v, fmt) for v in values if v is not None)})"
print(f"{procs} client processes, {secs} s per run after 1 s of warm-up, {rounds} round(s); "
      "median (each round)\n")
print("| TLS | metric | memcached | ferrocache | fc/mc |")
print("|---|---|---|---|---|")
for v in ("1.3", "1.2"):
    m = [load("memcached", v, r) for r in range(1, rounds + 1)]
    f = [load("ferrocache", v, r) for r in range(1, rounds + 1)]
    for name, key, fmt in (("handshakes/s", "handshakes_per_sec", ".0f"),
                           ("server CPU µs/handshake", "server_cpu_us_per_handshake", ".0f")):
        a = [x[key] if x else None for x in m]
        b = [x[key] if x else None for x in f]
        ratios = [y / x if x and y is not None else None for x, y in zip(a, b)]
        print(f"| {v} | {name} | {cell(a, fmt)} | {cell(b, fmt)} | {cell(ratios, '.2f')} |")
errors = sum(x["errors"] for s in ("memcached", "ferrocache") for v in ("1.3", "1.2")
             for x in [load(s, v, r) for r in range(1, rounds + 1)] if x)
print(f"\nfailed connections: {errors}")
PY
}

if [ "$ops" = 0 ]; then
    handshakes
    exit 0
fi

for transport in tls plain; do
    for pipeline in 1 16; do
        for server in memcached ferrocache; do
            flags=()
            client=()
            if [ "$transport" = tls ]; then
                flags=("${tls_flags[@]}")
                client=(--tls-ca "$certs/ca.pem")
            fi
            start "$server" "${flags[@]}"
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
import sys
sys.path.insert(0, "scripts")
from benchlib import load_json
def load(s, t, p):
    return load_json(f"bench/out/tls-{s}-{t}-p{p}.json")
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

handshakes
