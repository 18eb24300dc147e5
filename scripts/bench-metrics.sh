#!/usr/bin/env bash
# What -o metrics_listen costs: the latency histograms on the request path, and scrapes.
#
# Part 1, recording: server CPU per request of ferrocache without the option (nothing is
# timed: the request path of main), with it (every request timed and counted), and of
# memcached, in the same run: text 1:10, 32 B values, 50 connections, pipeline 1 and 16, as
# fast as replies come back (ferrobench --server-pid reads the server's utime+stime).
# Part 2, scrapes: the p50/p99/p99.9 latency of a steady load (text 1:10, 32 B, 50
# connections at 600 requests/s each: 30k/s, which both servers carry with CPU to spare)
# with no scrape, one scrape a second and ten a second. ferrocache is scraped at
# GET /metrics; memcached gets what memcached_exporter sends per scrape (a new connection,
# then stats, stats settings, stats slabs, stats items), so both sides pay for a scrape.
# Part 3, one scrape: the server CPU that 1,000 scrapes in a row take, on a server holding
# 100k items (ferrocache: GET /metrics; memcached: the exporter's four stats commands).
# Each round runs the servers and scrape rates in turn, the order reversed every other
# round, so drift on the shared machine hits all alike.
#
# Out: bench/out/metrics/ (one JSON per run; metrics.md, the medians over the rounds).
# Usage: scripts/bench-metrics.sh [--rounds N] [--secs S] [--quick] [--parts 1,2,3]
#   --quick: 1 round of 3 s; --parts: only these parts (default all).
#   memcached: $MEMCACHED_BIN, else 1.6.45 from scripts/common.sh's reference_memcached.
#   MAIN_FERROCACHE=<release binary built from main>: part 1 runs it too (column "main").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/common.sh

ROUNDS=3
SECS=10
PARTS=,1,2,3,
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) ROUNDS=$2; shift ;;
        --secs) SECS=$2; shift ;;
        --quick) ROUNDS=1; SECS=3 ;;
        --parts) PARTS=,$2, ; shift ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

OUT=bench/out/metrics
cargo build --release --quiet -p ferrocache-server -p ferrocache-bench
MEMCACHED=${MEMCACHED_BIN:-$(ROOT=$PWD reference_memcached)}
FERROCACHE=target/release/ferrocache
BENCH=target/release/ferrobench
mkdir -p "$OUT"
# The results of the parts about to run go; the others' stay, and are reported with them.
[[ $PARTS != *,1,* ]] || rm -f "$OUT"/cpu-*
[[ $PARTS != *,2,* ]] || rm -f "$OUT"/scrape-*
[[ $PARTS != *,3,* ]] || rm -f "$OUT"/one-*
{
    echo "date: $(date -u +%FT%TZ)"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "memcached: $($MEMCACHED -V) ($MEMCACHED)"
    echo "ferrocache: $(git describe --always --dirty 2>/dev/null || echo unknown)"
    echo "rounds: $ROUNDS, seconds per run: $SECS"
} | tee "$OUT/machine.txt" >&2

PID=
METRICS_PORT=
start_server() { # kind (memcached|ferrocache|ferrocache+metrics) -> PORT, PID, METRICS_PORT
    local bin=$MEMCACHED extra=()
    case $1 in
        ferrocache) bin=$FERROCACHE ;;
        main) bin=$MAIN_FERROCACHE ;;
        ferrocache+metrics)
            bin=$FERROCACHE
            METRICS_PORT=$(free_port)
            extra=(-o "metrics_listen=127.0.0.1:$METRICS_PORT") ;;
    esac
    PORT=$(free_port)
    "$bin" "${user_flag[@]}" -U 0 -l 127.0.0.1 -p "$PORT" -m 1024 -t 2 -c 4096 "${extra[@]}" >/dev/null 2>&1 &
    PID=$!
    wait_port "$PORT" >&2
}
stop_server() {
    [ -n "$PID" ] || return 0
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=
}
SCRAPER=
stop_scraper() {
    [ -n "$SCRAPER" ] || return 0
    kill "$SCRAPER" 2>/dev/null || true
    wait "$SCRAPER" 2>/dev/null || true
    SCRAPER=
}
trap 'stop_scraper; stop_server' EXIT

# utime+stime of a process in clock ticks (fields 14 and 15 of /proc/PID/stat).
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

# Scrapes at RATE a second for SECS seconds; writes the count and the scrape times as JSON.
scraper() { # kind port rate secs out.json [count]
    python3 - "$@" <<'EOF'
import json, socket, sys, time, urllib.request
kind, port, rate, secs, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
count = int(sys.argv[6]) if len(sys.argv) > 6 else None
took = []
size = 0
start = time.monotonic()
n = 0
while time.monotonic() - start < secs and (count is None or n < count):
    t0 = time.monotonic()
    if kind == "http":
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            size = len(r.read())
    else:  # what memcached_exporter sends to memcached per scrape
        with socket.create_connection(("127.0.0.1", port), 5) as s:
            size = 0
            for cmd in (b"stats\r\n", b"stats settings\r\n", b"stats slabs\r\n", b"stats items\r\n"):
                s.sendall(cmd)
                got = b""
                while not got.endswith(b"END\r\n"):
                    chunk = s.recv(65536)
                    if not chunk:
                        raise SystemExit("closed")
                    got += chunk
                size += len(got)
    took.append(time.monotonic() - t0)
    n += 1
    time.sleep(max(0.0, start + n / rate - time.monotonic()))
took.sort()
json.dump({"scrapes": len(took), "bytes": size,
           "median_ms": 1000 * took[len(took) // 2] if took else None,
           "max_ms": 1000 * took[-1] if took else None}, open(out, "w"))
EOF
}

base=(--threads 2 --clients 25 --ratio 1:10 --data-size 32 --key-maximum 100000 --preload --test-time "$SECS")
for round in $(seq 1 "$ROUNDS"); do
    # Part 1: CPU per request.
    kinds=(memcached ferrocache ferrocache+metrics)
    [ -z "${MAIN_FERROCACHE:-}" ] || kinds=(memcached main ferrocache ferrocache+metrics)
    if [ $((round % 2)) = 0 ]; then
        for ((i = 0, j = ${#kinds[@]} - 1; i < j; i++, j--)); do
            k=${kinds[i]}; kinds[i]=${kinds[j]}; kinds[j]=$k
        done
    fi
    pipelines=(1 16)
    [[ $PARTS == *,1,* ]] || pipelines=()
    for pipeline in "${pipelines[@]}"; do
        for kind in "${kinds[@]}"; do
            start_server "$kind"
            json="$OUT/cpu-p$pipeline-$kind-r$round.json"
            echo "== round $round/$ROUNDS, CPU, pipeline $pipeline: $kind (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
            "$BENCH" --server "127.0.0.1:$PORT" "${base[@]}" --pipeline "$pipeline" --server-pid "$PID" --json "$json" \
                >"${json%.json}.txt" 2>&1 || echo "run failed: ${json%.json}.txt" >&2
            grep -E '^\| total|^server CPU' "${json%.json}.txt" >&2 || true
            stop_server
        done
    done
    # Part 2: latency of a steady load, with 0, 1 and 10 scrapes a second.
    runs=("ferrocache+metrics 0" "ferrocache+metrics 1" "ferrocache+metrics 10" "memcached 0" "memcached 1" "memcached 10")
    if [ $((round % 2)) = 0 ]; then
        runs=("memcached 10" "memcached 1" "memcached 0" "ferrocache+metrics 10" "ferrocache+metrics 1" "ferrocache+metrics 0")
    fi
    [[ $PARTS == *,2,* ]] || runs=()
    for run in "${runs[@]}"; do
        read -r kind rate <<<"$run"
        start_server "$kind"
        json="$OUT/scrape-$rate-$kind-r$round.json"
        echo "== round $round/$ROUNDS, scrapes: $kind, $rate a second (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
        if [ "$rate" != 0 ]; then
            if [ "$kind" = memcached ]; then
                scraper stats "$PORT" "$rate" "$((SECS + 2))" "${json%.json}.scrapes.json" &
            else
                scraper http "$METRICS_PORT" "$rate" "$((SECS + 2))" "${json%.json}.scrapes.json" &
            fi
            SCRAPER=$!
        fi
        "$BENCH" --server "127.0.0.1:$PORT" "${base[@]}" --rate-limiting 600 --server-pid "$PID" --json "$json" \
            >"${json%.json}.txt" 2>&1 || echo "run failed: ${json%.json}.txt" >&2
        grep -E '^\| total|^server CPU' "${json%.json}.txt" >&2 || true
        [ -z "$SCRAPER" ] || wait "$SCRAPER" || echo "scraper failed" >&2
        SCRAPER=
        stop_server
    done
    # Part 3: server CPU per scrape.
    one=(memcached ferrocache+metrics)
    if [ $((round % 2)) = 0 ]; then one=(ferrocache+metrics memcached); fi
    [[ $PARTS == *,3,* ]] || one=()
    for kind in "${one[@]}"; do
        start_server "$kind"
        "$BENCH" --server "127.0.0.1:$PORT" --key-maximum 100000 --data-size 32 --preload --requests 1 >/dev/null 2>&1
        echo "== round $round/$ROUNDS, one scrape: $kind (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
        before=$(cpu_ticks "$PID")
        if [ "$kind" = memcached ]; then
            scraper stats "$PORT" 1000000 1000000 "$OUT/one-$kind-r$round.scrapes.json" 1000
        else
            scraper http "$METRICS_PORT" 1000000 1000000 "$OUT/one-$kind-r$round.scrapes.json" 1000
        fi
        after=$(cpu_ticks "$PID")
        python3 -c "import json, os; print(json.dumps({'cpu_us_per_scrape': ($after - $before) * 1e6 / os.sysconf('SC_CLK_TCK') / 1000}))" \
            >"$OUT/one-$kind-r$round.json"
        cat "$OUT/one-$kind-r$round.json" >&2
        stop_server
    done
done

python3 - "$OUT" <<'EOF' | tee "$OUT/metrics.md"
import glob, json, os, statistics, sys
out = sys.argv[1]
def runs(pattern):
    got = []
    for path in sorted(glob.glob(os.path.join(out, pattern))):
        if pattern.endswith("-r*.json") and path.endswith(".scrapes.json"):
            continue
        try:
            got.append(json.load(open(path)))
        except (OSError, ValueError):
            pass
    return got
def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None
def fmt(v, digits=2):
    return "-" if v is None else f"{v:.{digits}f}"
print(open(os.path.join(out, "machine.txt")).read())
print("### Recording: server CPU per request (us), medians over the rounds\n")
print("| pipeline | memcached | ferrocache | ferrocache + metrics | metrics/no metrics | ferrocache/memcached | ferrocache + metrics/memcached | main | metrics/main |")
print("|---|---|---|---|---|---|---|---|---|")
for p in (1, 16):
    cpu = {k: med([r["server_cpu_us_per_op"] for r in runs(f"cpu-p{p}-{k}-r*.json")])
           for k in ("memcached", "ferrocache", "ferrocache+metrics", "main")}
    ops = {k: med([r["totals"]["ops_per_sec"] for r in runs(f"cpu-p{p}-{k}-r*.json")])
           for k in cpu}
    ratio = lambda a, b: None if a is None or b is None else a / b
    if cpu["ferrocache"] is None:
        continue
    print(f"| {p} | {fmt(cpu['memcached'], 3)} | {fmt(cpu['ferrocache'], 3)} | {fmt(cpu['ferrocache+metrics'], 3)} "
          f"| {fmt(ratio(cpu['ferrocache+metrics'], cpu['ferrocache']), 3)} "
          f"| {fmt(ratio(cpu['ferrocache'], cpu['memcached']))} | {fmt(ratio(cpu['ferrocache+metrics'], cpu['memcached']))} "
          f"| {fmt(cpu['main'], 3)} | {fmt(ratio(cpu['ferrocache+metrics'], cpu['main']), 3)} |")
    print(f"|  | {fmt(ops['memcached'], 0)} req/s | {fmt(ops['ferrocache'], 0)} req/s | {fmt(ops['ferrocache+metrics'], 0)} req/s | | | | {fmt(ops['main'], 0)} req/s | |")
print("\n### Scrapes: latency of 30k requests/s (us), medians over the rounds\n")
print("| server | scrapes/s | scrapes done | scrape size (B) | scrape median (ms) | p50 | p99 | p99.9 | server CPU/req (us) |")
print("|---|---|---|---|---|---|---|---|---|")
for k in ("ferrocache+metrics", "memcached"):
    for rate in (0, 1, 10):
        rs = runs(f"scrape-{rate}-{k}-r*.json")
        sc = runs(f"scrape-{rate}-{k}-r*.scrapes.json")
        t = lambda f: med([r["totals"][f] for r in rs])
        if not rs:
            continue
        print(f"| {k} | {rate} | {fmt(med([s['scrapes'] for s in sc]), 0)} | {fmt(med([s['bytes'] for s in sc]), 0)} "
              f"| {fmt(med([s['median_ms'] for s in sc]), 2)} | {fmt(t('p50_us'), 0)} | {fmt(t('p99_us'), 0)} "
              f"| {fmt(t('p99_9_us'), 0)} | {fmt(med([r['server_cpu_us_per_op'] for r in rs]), 3)} |")
print("\n### One scrape: server CPU (us), 1,000 scrapes in a row on 100k items, medians over the rounds\n")
print("| server | CPU per scrape (us) | scrape size (B) | scrape median, client side (ms) |")
print("|---|---|---|---|")
for k in ("ferrocache+metrics", "memcached"):
    rs = runs(f"one-{k}-r*.json")
    sc = runs(f"one-{k}-r*.scrapes.json")
    if rs:
        print(f"| {k} | {fmt(med([r['cpu_us_per_scrape'] for r in rs]), 0)} | {fmt(med([s['bytes'] for s in sc]), 0)} "
              f"| {fmt(med([s['median_ms'] for s in sc]), 2)} |")
EOF
