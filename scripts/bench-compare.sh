#!/usr/bin/env bash
# ferrocache against memcached 1.6.45 and 1.6.18, scenario by scenario, taking turns.
#
# Each run starts a fresh server (ferrocache from this tree in release; memcached 1.6.45, the
# release ferrocache matches, built by scripts/common.sh's reference_memcached or
# $MEMCACHED_BIN; memcached 1.6.18, Debian's /usr/bin/memcached or $MEMCACHED18_BIN, skipped
# with a note when absent or with --no-1618), all with the same flags
# (-t 2 -c 4096 -U 0 -l 127.0.0.1 -m M -I I), runs one ferrobench scenario against it (50
# connections unless noted), reads the server's utime+stime from /proc/PID/stat before and
# after the measured part (ferrobench --server-pid) and kills it. Each round runs every
# scenario on the three servers back to back, the order rotated by one each round
# (mc45 mc18 fc, then mc18 fc mc45, then fc mc45 mc18...), so drift on the shared machine
# hits all of them alike.
#
# memtier_benchmark, when on PATH (Debian does not package it; build it with
# ../shared/reference/build-memtier.sh and run e.g. PATH=/tmp/memtier:$PATH
# scripts/bench-compare.sh), also runs scenarios 1, 2, 3, 4, 6 and 1r in every round (after
# ferrobench's), on the same servers in the same order: keys memtier-1..100000 preloaded by
# memtier itself (--key-pattern P:P --requests allkeys), then the measured run. memtier cannot
# speak the meta protocol (m), nor ferrobench's multiget (5), djblets (7, 7b), fill and
# cache-aside (8, 8e) or stall (9) loads. The benchmarks are not part of scripts/test.sh.
#
# Out (bench/out/compare/): one JSON per run (s<N>-<server>-r<round>.json, server ferrocache,
# mc45 or mc18; memtier-s<N>-...), compare.md, compare.csv, compare.json and compare.png
# (gnuplot) for ferrobench, memtier.md, memtier.csv and memtier.json for memtier. The main
# ratio is fc/mc45: the median of the per-round ratios ferrocache / memcached 1.6.45, with
# the lowest and highest round; fc/mc18 beside it the same against 1.6.18; then the medians
# of all three servers and every round's figure. Result files of earlier versions of this
# script named s<N>-memcached-r<R>.json were runs of Debian's 1.6.18 and are read as mc18.
#
# Usage: scripts/bench-compare.sh [--quick] [--rounds N] [--secs S] [--only 1,2,9] [--no-1618]
#                                 [--no-memtier] [--no-chart] [--report] [--more]
#   --quick: 1 round of 3 s runs; scenario 8 with a shorter warm-up, 9 on -m 64 with 200k keys.
#   --only: these scenarios (1-9, 7b, 8e, m, 1r; memtier runs those of 1, 2, 3, 4, 6, 1r among
#   them); the results of the others in bench/out/compare stay and are reported with them.
#   --no-1618: ferrocache and memcached 1.6.45 only.
#   --no-memtier: ferrobench only, even when memtier_benchmark is on PATH.
#   --report: run nothing, only rebuild the tables and the chart from bench/out/compare.
#   --more: add rounds to the results already in bench/out/compare (numbered after them)
#   instead of replacing them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/common.sh

ROUNDS=3
SECS=10
QUICK=0
ONLY=
CHART=1
REPORT=0
MORE=0
WITH_1618=1
MEMTIER=1
while [ $# -gt 0 ]; do
    case $1 in
        --quick) QUICK=1; ROUNDS=1; SECS=3 ;;
        --rounds) ROUNDS=$2; shift ;;
        --secs) SECS=$2; shift ;;
        --only) ONLY=,$2, ; shift ;;
        --no-1618) WITH_1618=0 ;;
        --no-memtier) MEMTIER=0 ;;
        --no-chart) CHART=0 ;;
        --report) REPORT=1 ;;
        --more) MORE=1 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

OUT=bench/out/compare
mkdir -p "$OUT"

if [ "$CHART" = 1 ] && ! command -v gnuplot >/dev/null; then
    echo "gnuplot is missing: installing Debian's gnuplot-nox for the chart (apt-get)..." >&2
    if [ "$(id -u)" -eq 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
    { "${apt_get[@]}" install -y -qq gnuplot-nox >/dev/null 2>&1 \
        || { "${apt_get[@]}" update -qq >/dev/null 2>&1 && "${apt_get[@]}" install -y -qq gnuplot-nox >/dev/null 2>&1; }; } \
        || echo "warning: could not install gnuplot-nox; no chart (the tables are still written)" >&2
fi

FERROCACHE=target/release/ferrocache
BENCH=target/release/ferrobench
# The servers of a round, in the order of round 1 (rotated by one each round).
SERVERS=(mc45)
MC45='' MC18=''
if [ "$REPORT" = 0 ]; then
    cargo build --release --quiet -p ferrocache-server -p ferrocache-bench
    MC45=${MEMCACHED_BIN:-$(reference_memcached)}
    "$MC45" -V | grep -q '^memcached 1\.6\.45$' \
        || echo "warning: $MC45 is $("$MC45" -V), not memcached 1.6.45: its runs are still named mc45" >&2
    if [ "$WITH_1618" = 1 ]; then
        MC18=${MEMCACHED18_BIN:-/usr/bin/memcached}
        if [ -x "$MC18" ]; then
            SERVERS+=(mc18)
        else
            echo "note: no memcached 1.6.18 at $MC18 (Debian's package): skipped, tables without fc/mc18" >&2
            MC18=
        fi
    fi
    SERVERS+=(ferrocache)
    if [ "$MEMTIER" = 1 ] && ! command -v memtier_benchmark >/dev/null; then
        echo "memtier_benchmark is not on PATH: ferrobench alone (build it with ../shared/reference/build-memtier.sh, then PATH=<its folder>:\$PATH)" >&2
        MEMTIER=0
    fi
fi
CONNS=(--threads 2 --clients 25)   # 50 connections

# Scenario N: sets NAME, MEM (-m), FC_MEM (ferrocache's -m when not MEM; both memcacheds
# keep MEM), ITEM (-I), KIND (load|stall) and ARGS.
scenario() {
    MEM=1024 FC_MEM='' ITEM=1m KIND=load
    local base=(--ratio 1:10 --data-size 32 --key-maximum 100000 --preload --test-time "$SECS")
    case $1 in
        1) NAME="text 1:10, 32 B"; ARGS=("${CONNS[@]}" "${base[@]}") ;;
        2) NAME="text 1:10, 32 B, pipeline 16"; ARGS=("${CONNS[@]}" "${base[@]}" --pipeline 16) ;;
        3) NAME="text 1:10, 1 KB"; ARGS=("${CONNS[@]}" "${base[@]}" --data-size 1024) ;;
        4) NAME="text get-only, all hits"; ARGS=("${CONNS[@]}" "${base[@]}" --ratio 0:1) ;;
        5) NAME="text 1:10, 10-key multiget"; ARGS=("${CONNS[@]}" "${base[@]}" --multiget 10) ;;
        6) NAME="binary 1:10, 32 B"; ARGS=("${CONNS[@]}" "${base[@]}" --protocol binary) ;;
        7) NAME="djblets: set_many/get_many 4 x 1 MB, 10 conns"
           # djblets stores large values in chunks of 1 MiB - 1 KiB; 4 chunks a value, the
           # 4 sets pipelined, then one multiget of the 4 keys. 100 such values (400 MB).
           ARGS=(--threads 2 --clients 5 --many 4 --ratio 1:1 --data-size 1047552
                 --key-maximum 400 --pipeline 4 --test-time "$SECS") ;;
        7b) NAME="djblets as 7, binary protocol (pylibmc binary)"
           scenario 7
           NAME="djblets as 7, binary protocol (pylibmc binary)"
           ARGS+=(--protocol binary) ;;
        8) NAME="zipf 0.99 over 10x the cache, -m 64, cache-aside"
           # memcached holds ~350k 100-byte items in -m 64 (bench/README.md): 3.5M keys.
           # Gets only; a miss is followed by a set of that key (--set-on-miss). The cache is
           # filled first (`ferrobench fill`: other keys until it evicts, and 20% more), so
           # both servers start full, then a warm-up, then the measured run.
           MEM=64
           local warm=20
           if [ "$QUICK" = 1 ]; then warm=5; fi
           ARGS=("${CONNS[@]}" --ratio 0:1 --set-on-miss --data-size 100
                 --key-pattern zipf:0.99 --key-maximum 3500000 --warmup "$warm" --test-time "$SECS") ;;
        8e) NAME="zipf as 8, equal RSS: ferrocache -m 68"
           # In scenario 8 at -m 64 ferrocache's RSS comes to 0.95x memcached's (67.4 against
           # 71.0 MiB at 965ef09, one moka cache below -m 128; 0.97x with 8 caches at c0f4289):
           # here it gets the -m that gives about memcached's RSS (-m 66 gave 69.1 MiB).
           scenario 8
           NAME="zipf as 8, equal RSS: memcached -m 64, ferrocache -m 68"
           FC_MEM=68 ;;
        9) NAME="flush_all + mass expiry on a full cache, under load"
           KIND=stall MEM=256
           ARGS=(--absolute --exptime 10)
           if [ "$QUICK" = 1 ]; then MEM=64; ARGS+=(--expiring 200000 --phase-secs 2); fi ;;
        m) NAME="meta 1:10, 32 B"
           ARGS=("${CONNS[@]}" "${base[@]}" --protocol meta) ;;
        1r) NAME="text 1:10, 32 B, at a fixed 60k requests/s"
           # Scenario 1 at a load both servers carry with CPU to spare (1,200 requests/s on
           # each of the 50 connections; each server alone does over 100k/s here): CPU per
           # request and latency at equal throughput, as an operator's servers mostly run.
           ARGS=("${CONNS[@]}" "${base[@]}" --rate-limiting 1200) ;;
    esac
}
SCENARIOS=(1 2 3 4 5 6 7 7b 8 8e 9 m 1r)
# The scenarios memtier runs too (it has no meta protocol, no multiget of exactly N keys, no
# djblets-like set_many/get_many, no fill or cache-aside, no stall phases).
MT_SCENARIOS=(1 2 3 4 6 1r)

# utime+stime, utime and stime of a process in clock ticks (fields 14 and 15 of /proc/PID/stat).
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13, $12, $13}'; }

PID=
start_server() { # server mem item -> PORT, PID
    local bin
    case $1 in
        ferrocache) bin=$FERROCACHE ;;
        mc45) bin=$MC45 ;;
        mc18) bin=$MC18 ;;
    esac
    PORT=$(free_port)
    # The same flags for every server.
    "$bin" "${user_flag[@]}" -U 0 -l 127.0.0.1 -p "$PORT" -m "$2" -I "$3" -t 2 -c 4096 >/dev/null 2>&1 &
    PID=$!
    wait_port "$PORT" >&2
}
stop_server() {
    [ -n "$PID" ] || return 0
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=
}
trap stop_server EXIT

# The servers of round $1: SERVERS rotated left by (round - 1), so over as many rounds as
# there are servers each one runs first, in the middle and last once.
round_order() {
    local n=${#SERVERS[@]} i
    order=()
    for i in $(seq 0 $((n - 1))); do order+=("${SERVERS[$(( (i + $1 - 1) % n ))]}"); done
}

# curr_items of the server on $1 (memtier's preload check).
curr_items() {
    python3 - "$1" <<'PYSTATS'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
s.sendall(b"stats\r\n")
buf = b""
while not buf.endswith(b"END\r\n"):
    d = s.recv(65536)
    if not d:
        break
    buf += d
print(next((l.split()[2] for l in buf.decode().split("\r\n") if l.startswith("STAT curr_items ")), "?"))
PYSTATS
}

# One ferrobench run: scenario (already set by `scenario`), server, round.
run_ferrobench() {
    local s=$1 server=$2 round=$3 mem=$MEM
    [ "$server" = ferrocache ] && [ -n "$FC_MEM" ] && mem=$FC_MEM
    start_server "$server" "$mem" "$ITEM"
    local stem="$OUT/s$s-$server-r$round"
    echo "== round $round/$LAST, scenario $s ($NAME): $server -m $mem -I $ITEM -t 2 (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    if [ "$KIND" = stall ]; then
        "$BENCH" stall --server "127.0.0.1:$PORT" "${ARGS[@]}" --json "$stem.json" >"$stem.txt" 2>&1 \
            || echo "scenario $s failed on $server (see $stem.txt)" >&2
    else
        if [ "$s" = 8 ] || [ "$s" = 8e ]; then
            "$BENCH" fill --server "127.0.0.1:$PORT" --value-size 100 --pid "$PID" --settle 0 \
                >"$stem.fill.txt" 2>&1 || echo "fill failed on $server" >&2
        fi
        "$BENCH" --server "127.0.0.1:$PORT" "${ARGS[@]}" --server-pid "$PID" --json "$stem.json" \
            >"$stem.txt" 2>"$stem.log" || echo "scenario $s failed on $server (see $stem.log)" >&2
        grep -E '^\| total|^hit ratio|^server CPU' "$stem.txt" >&2 || true
    fi
    stop_server
}

# One memtier run: scenario, server, round. memtier's own options for the scenario, as
# ferrobench's: 50 connections, keys 1..100000, 32-byte values, 1 set : 10 gets, uniform keys.
run_memtier() {
    local s=$1 server=$2 round=$3 proto=memcache_text dsize=32 mt
    case $s in
        1) mt=(--ratio 1:10) ;;
        2) mt=(--ratio 1:10 --pipeline 16) ;;
        3) mt=(--ratio 1:10); dsize=1024 ;;
        4) mt=(--ratio 0:1) ;;
        6) mt=(--ratio 1:10); proto=memcache_binary ;;
        1r) mt=(--ratio 1:10 --rate-limiting 1200) ;;   # 60k requests/s over the 50 connections
    esac
    start_server "$server" 1024 1m
    local stem="$OUT/memtier-s$s-$server-r$round"
    echo "== round $round/$LAST, memtier scenario $s: $server -m 1024 -I 1m -t 2 (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    # Preload keys memtier-1..memtier-100000 (memtier's own names; P:P splits the range among
    # the 50 connections and allkeys covers it) with the scenario's protocol and value size.
    # curr_items afterwards goes into the .preload.txt: the report checks it is 100000.
    memtier_benchmark -s 127.0.0.1 -p "$PORT" -P "$proto" -t 2 -c 25 --hide-histogram \
        --key-minimum 1 --key-maximum 100000 --key-pattern P:P --ratio 1:0 --requests allkeys -d "$dsize" \
        >"$stem.preload.txt" 2>&1 || echo "memtier preload failed on $server (see $stem.preload.txt)" >&2
    echo "curr_items $(curr_items "$PORT")" >>"$stem.preload.txt"
    local before after
    before=$(cpu_ticks "$PID")
    memtier_benchmark -s 127.0.0.1 -p "$PORT" -P "$proto" -t 2 -c 25 --hide-histogram \
        --distinct-client-seed --key-minimum 1 --key-maximum 100000 --key-pattern R:R \
        --test-time "$SECS" -d "$dsize" "${mt[@]}" --print-percentiles 50,99,99.9 \
        --json-out-file "$stem.json" >"$stem.txt" 2>"$stem.log" \
        || echo "memtier failed on $server (see $stem.log)" >&2
    after=$(cpu_ticks "$PID")
    # total user kernel, in clock ticks, over the measured run.
    paste -d' ' <(tr ' ' '\n' <<<"$before") <(tr ' ' '\n' <<<"$after") | awk '{printf "%d ", $2 - $1} END {print ""}' \
        >"$stem.ticks"
    grep -E '^Totals|^Gets' "$stem.txt" >&2 || true
    stop_server
}

for s in "${SCENARIOS[@]}"; do scenario "$s"; printf '%s\t%s\n' "$s" "$NAME"; done > "$OUT/names.tsv"

if [ "$REPORT" = 0 ]; then
MT_RATE=0
if [ "$MEMTIER" = 1 ]; then
    # Not `| grep -q`: with pipefail, memtier dying of the closed pipe would fail the test
    # (and its --help exits 2 anyway).
    mt_help=$(memtier_benchmark --help 2>&1 || true)
    [[ $mt_help != *--rate-limiting* ]] || MT_RATE=1
    [ "$MT_RATE" = 1 ] || echo "note: this memtier_benchmark has no --rate-limiting: no memtier 1r" >&2
fi
{
    echo "date: $(date -u +%FT%TZ)"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "mc45: $("$MC45" -V) ($MC45)"
    if [ -n "$MC18" ]; then echo "mc18: $("$MC18" -V) ($MC18)"; else echo "mc18: not run"; fi
    echo "ferrocache: $(git describe --always --dirty 2>/dev/null || echo unknown)"
    if [ "$MEMTIER" = 1 ]; then
        echo "memtier: $(memtier_benchmark --version 2>&1 | head -1) ($(command -v memtier_benchmark))"
    else
        echo "memtier: not run"
    fi
    echo "servers (round 1's order, rotated each round): ${SERVERS[*]}"
    echo "rounds: $ROUNDS, seconds per run: $SECS"
} > "$OUT/machine.txt"
cat "$OUT/machine.txt" >&2
cat "$OUT/machine.txt" >> "$OUT/runs.log"

# Earlier results of the scenarios about to run go (those of other scenarios stay), unless
# --more: then the new rounds are numbered after the last one there.
FIRST=1
if [ "$MORE" = 1 ]; then
    last=$(ls "$OUT" | sed -n 's/^.*s[0-9a-z]*-.*-r\([0-9]*\)\.json$/\1/p' | sort -n | tail -1)
    FIRST=$(( ${last:-0} + 1 ))
else
    for s in "${SCENARIOS[@]}"; do
        [ -z "$ONLY" ] || [[ $ONLY == *,$s,* ]] || continue
        rm -f "$OUT/s$s-"* "$OUT/memtier-s$s-"*
    done
fi
LAST=$((FIRST + ROUNDS - 1))

for round in $(seq "$FIRST" "$LAST"); do
    round_order "$round"
    for s in "${SCENARIOS[@]}"; do
        [ -z "$ONLY" ] || [[ $ONLY == *,$s,* ]] || continue
        scenario "$s"
        for server in "${order[@]}"; do run_ferrobench "$s" "$server" "$round"; done
    done
    [ "$MEMTIER" = 1 ] || continue
    for s in "${MT_SCENARIOS[@]}"; do
        [ -z "$ONLY" ] || [[ $ONLY == *,$s,* ]] || continue
        [ "$s" != 1r ] || [ "$MT_RATE" = 1 ] || continue
        for server in "${order[@]}"; do run_memtier "$s" "$server" "$round"; done
    done
done
fi

python3 - "$OUT" "$(getconf CLK_TCK)" <<'PY'
import csv, glob, json, os, re, statistics, sys
out, hz = sys.argv[1], int(sys.argv[2])
names = dict(l.rstrip("\n").split("\t", 1) for l in open(os.path.join(out, "names.tsv")))
SERVERS = ("mc45", "mc18", "ferrocache")
# Before 1.6.45 joined the comparison the script ran Debian's memcached (1.6.18) only, and
# named its runs "memcached".
LEGACY = {"memcached": "mc18"}
RUN = re.compile(r"(memtier-)?s(\w+?)-(mc45|mc18|memcached|ferrocache)-r(\d+)\.json")

def ferrobench_metrics(path):
    r = json.load(open(path))
    if "phases" in r:  # stall: the phases from flush_all on
        ph = [p for p in r["phases"][1:] if p["phase"] != "whole run"]
        return {"p99_us": max(p["p99_us"] for p in ph), "max_us": max(p["max_us"] for p in ph),
                "over_10ms": sum(p["over_limit"] for p in ph),
                "steady_max_us": r["phases"][0]["max_us"]}
    return {"ops_per_sec": r["totals"]["ops_per_sec"], "p99_us": r["totals"]["p99_us"],
            "max_us": r["totals"]["max_us"], "cpu_us_per_op": r.get("server_cpu_us_per_op"),
            "user_us_per_op": r.get("server_user_us_per_op"),
            "sys_us_per_op": r.get("server_sys_us_per_op"),
            "hit_ratio": r["hit_ratio"], "rss_mib": (r.get("server_rss") or 0) / 2**20 or None,
            "errors": r["errors"]}

# memtier's --json-out-file (format version 2): "ALL STATS" / "Totals" has "Count" (requests
# completed), "Max Latency" and "Percentile Latencies" / "p99.00" in milliseconds; "Gets" has
# "Hits/sec" and "Misses/sec". The server's CPU over the run is in the .ticks file beside it
# (total user kernel, clock ticks), curr_items after the preload in .preload.txt.
# ops/s is Count over the run's --test-time ("configuration" / "test_time"; each connection
# runs that many whole seconds), not memtier's "Ops/sec": memtier divides by a duration merged
# from the connections' start and end times with their seconds averaged as integers
# (timeval_factorial_average in run_stats.cpp), which can come out a whole second short:
# "Total duration" 2001 ms for a 3 s run, and 89978 ops/s printed for 180116 requests, where
# the other servers' runs gave 3002-3007 ms. Its Hits/sec and Misses/sec share that divisor,
# so their ratio (the hit ratio) is right.
def memtier_metrics(path):
    doc = json.load(open(path))
    stats = doc["ALL STATS"]
    tot = stats["Totals"]
    count = tot["Count"]
    secs = doc["configuration"]["test_time"]
    ops = count / secs
    if tot.get("Ops/sec") and abs(tot["Ops/sec"] / ops - 1) > 0.05:
        print(f"note: {os.path.basename(path)}: memtier says {tot['Ops/sec']:.0f} ops/s (duration "
              f"{stats.get('Runtime', {}).get('Total duration')} ms); {count} requests in {secs} s "
              f"are {ops:.0f}/s, which the tables use", file=sys.stderr)
    ticks = [int(x) for x in open(path[:-5] + ".ticks").read().split()]
    per_op = lambda t: t * 1e6 / hz / count if count else None
    gets = stats.get("Gets", {})
    hits, misses = gets.get("Hits/sec"), gets.get("Misses/sec")
    hit = hits / (hits + misses) if hits is not None and misses is not None and hits + misses else None
    m = {"ops_per_sec": ops, "p99_us": tot["Percentile Latencies"]["p99.00"] * 1000,
         "max_us": tot["Max Latency"] * 1000, "cpu_us_per_op": per_op(ticks[0]),
         "user_us_per_op": per_op(ticks[1]) if len(ticks) > 2 else None,
         "sys_us_per_op": per_op(ticks[2]) if len(ticks) > 2 else None,
         "hit_ratio": hit, "errors": tot.get("Connection Errors")}
    try:
        items = open(path[:-5] + ".preload.txt").read().split("curr_items ")[-1].split()[0]
        m["preloaded_items"] = int(items)
    except (OSError, IndexError, ValueError):
        pass
    return m

def load(memtier):
    runs = {}
    for path in glob.glob(os.path.join(out, ("memtier-" if memtier else "") + "s*-r*.json")):
        m = RUN.fullmatch(os.path.basename(path))
        if not m or bool(m.group(1)) != memtier:
            continue
        s, server, rnd = m.group(2), LEGACY.get(m.group(3), m.group(3)), int(m.group(4))
        try:
            runs.setdefault(s, {}).setdefault(server, {})[rnd] = (
                memtier_metrics if memtier else ferrobench_metrics)(path)
        except (ValueError, KeyError, TypeError, OSError, IndexError) as e:
            print(f"skipping {path}: {e}", file=sys.stderr)
    return runs

cols = [("ops_per_sec", "ops/s", "{:.0f}"), ("p99_us", "p99 µs", "{:.0f}"), ("max_us", "max µs", "{:.0f}"),
        ("cpu_us_per_op", "CPU µs/op", "{:.2f}"), ("user_us_per_op", "user CPU µs/op", "{:.2f}"),
        ("sys_us_per_op", "kernel CPU µs/op", "{:.2f}"), ("hit_ratio", "hit ratio", "{:.4f}"),
        ("rss_mib", "RSS MiB", "{:.1f}"), ("over_10ms", ">10 ms", "{:.0f}")]
RATIO_COLS = [("ops_per_sec", "ops/s"), ("p99_us", "p99"), ("max_us", "max"), ("cpu_us_per_op", "CPU/op"),
              ("user_us_per_op", "user CPU/op"), ("sys_us_per_op", "kernel CPU/op"), ("hit_ratio", "hit ratio")]

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

def ratios(fc, mc, key):
    """ferrocache / memcached of every round in which both ran: the median, lowest, highest."""
    rs = [fc[r][key] / mc[r][key] for r in sorted(set(mc) & set(fc))
          if fc[r].get(key) is not None and mc[r].get(key)]
    return (med(rs), min(rs), max(rs)) if rs else (None, None, None)

def summarise(runs, order):
    summary, rows = {}, []
    for s in order:
        by = {sv: runs[s].get(sv, {}) for sv in SERVERS}
        summary[s] = {"name": names.get(s, s), "metrics": {}}
        for key, _, _ in cols:
            vals = {sv: [by[sv][r].get(key) for r in sorted(by[sv])] for sv in SERVERS}
            if all(x is None for v in vals.values() for x in v):
                continue
            e = {}
            for sv in SERVERS:
                e[sv] = med(vals[sv])
                e[sv + "_runs"] = vals[sv]
                e[sv + "_rounds"] = sorted(by[sv])
            e["ratio"], e["ratio_min"], e["ratio_max"] = ratios(by["ferrocache"], by["mc45"], key)
            e["ratio_mc18"], e["ratio_mc18_min"], e["ratio_mc18_max"] = ratios(by["ferrocache"], by["mc18"], key)
            summary[s]["metrics"][key] = e
            rows.append([s, names.get(s, s), key, e["mc45"], e["mc18"], e["ferrocache"],
                         e["ratio"], e["ratio_min"], e["ratio_max"],
                         e["ratio_mc18"], e["ratio_mc18_min"], e["ratio_mc18_max"]]
                        + [" ".join(map(str, vals[sv])) for sv in SERVERS])
    return summary, rows

def fmt(v, spec):
    return "-" if v is None else spec.format(v)

def ratio_cell(e, suffix=""):
    r, lo, hi = (e.get("ratio" + suffix), e.get("ratio" + suffix + "_min"),
                 e.get("ratio" + suffix + "_max")) if e else (None, None, None)
    if r is None:
        return "-"
    if lo == hi:
        return f"{r:.2f}x"
    return f"{r:.2f}x ({lo:.2f}-{hi:.2f})"

def tables(summary, order, what):
    lines = [f"{what}. fc/mc45: ferrocache / memcached 1.6.45, the median of the per-round ratios "
             "(each round runs the servers back to back), in brackets the lowest and highest round; "
             "fc/mc18 beside it: the same against memcached 1.6.18.", "",
             "| # | scenario | " + " | ".join(f"{label} fc/mc45 | fc/mc18" for _, label in RATIO_COLS)
             + " | >10 ms (fc / mc45 / mc18 runs) |",
             "|---|---|" + "---|---|" * len(RATIO_COLS) + "---|"]
    for s in order:
        m = summary[s]["metrics"]
        over = m.get("over_10ms")
        over = "-" if not over else " / ".join(str(over[sv + "_runs"]) for sv in ("ferrocache", "mc45", "mc18"))
        lines.append(f"| {s} | {summary[s]['name']} | " + " | ".join(
            ratio_cell(m.get(k)) + " | " + ratio_cell(m.get(k), "_mc18") for k, _ in RATIO_COLS) + f" | {over} |")
    lines += ["", "Medians over the rounds, and every round's figure in round order (mc45 = memcached 1.6.45, "
              "mc18 = memcached 1.6.18, fc = ferrocache).", "",
              "| # | metric | mc45 | mc18 | fc | fc/mc45 | fc/mc18 | mc45 runs | mc18 runs | fc runs |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for s in order:
        for key, label, spec in cols:
            e = summary[s]["metrics"].get(key)
            if not e:
                continue
            runs_of = lambda xs: ", ".join(fmt(x, spec) for x in xs) or "-"
            lines.append(f"| {s} | {label} | {fmt(e['mc45'], spec)} | {fmt(e['mc18'], spec)} "
                         f"| {fmt(e['ferrocache'], spec)} | {fmt(e['ratio'], '{:.2f}x')} "
                         f"| {fmt(e['ratio_mc18'], '{:.2f}x')} | {runs_of(e['mc45_runs'])} "
                         f"| {runs_of(e['mc18_runs'])} | {runs_of(e['ferrocache_runs'])} |")
    return lines

def write(stem, summary, rows, lines):
    json.dump(summary, open(os.path.join(out, stem + ".json"), "w"), indent=1)
    with open(os.path.join(out, stem + ".csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["scenario", "name", "metric", "mc45_median", "mc18_median", "ferrocache_median",
                    "fc_mc45_median", "fc_mc45_min", "fc_mc45_max", "fc_mc18_median", "fc_mc18_min",
                    "fc_mc18_max", "mc45_runs", "mc18_runs", "ferrocache_runs"])
        w.writerows(rows)
    open(os.path.join(out, stem + ".md"), "w").write("\n".join(lines) + "\n")

# ferrobench. names.tsv lists the scenarios in the order of SCENARIOS.
runs = load(False)
if glob.glob(os.path.join(out, "s*-memcached-r*.json")):
    print("note: s*-memcached-r*.json (this script's runs before 1.6.45 joined) are read as memcached 1.6.18",
          file=sys.stderr)
order = [s for s in names if s in runs]
summary, rows = summarise(runs, order)
lines = tables(summary, order, "ferrobench")
write("compare", summary, rows, lines)
print("\n".join(lines))

# memtier, when it ran. Every memtier scenario reads keys that its preload stored in a
# -m 1024 cache, so any miss (or a preload short of the 100000 keys) means the run is wrong.
mt = load(True)
if mt:
    for s, by in mt.items():
        for sv, rs in by.items():
            for r, m in rs.items():
                if m.get("preloaded_items") not in (None, 100000):
                    print(f"memtier s{s} {sv} r{r}: {m['preloaded_items']} items after the preload, "
                          "not 100000", file=sys.stderr)
                if m.get("hit_ratio") is not None and m["hit_ratio"] < 1:
                    print(f"memtier s{s} {sv} r{r}: misses in the measured gets (hit ratio "
                          f"{m['hit_ratio']:.4f}): preload incomplete?", file=sys.stderr)
    mt_order = [s for s in names if s in mt] + sorted(s for s in mt if s not in names)
    msum, mrows = summarise(mt, mt_order)
    mlines = tables(msum, mt_order, "memtier_benchmark (same scenarios, memtier's client and keys)")
    write("memtier", msum, mrows, mlines)
    with open(os.path.join(out, "compare.md"), "a") as f:
        f.write("\n## memtier_benchmark\n\n" + "\n".join(mlines) + "\n")
    print("\n## memtier_benchmark\n")
    print("\n".join(mlines))
else:  # no memtier runs (any more): no memtier tables from earlier ones
    for ext in ("md", "csv", "json"):
        if os.path.exists(os.path.join(out, "memtier." + ext)):
            os.remove(os.path.join(out, "memtier." + ext))

# Chart data: one row per scenario with a throughput; "-" where a server did not run.
with open(os.path.join(out, "chart.dat"), "w") as f:
    f.write("# scenario mc45_ops mc18_ops fc_ops mc45_p99 mc18_p99 fc_p99 mc45_cpu mc18_cpu fc_cpu\n")
    for s in order:
        m = summary[s]["metrics"]
        if "ops_per_sec" not in m:
            continue
        def g(k, sv, scale, spec):
            v = m.get(k, {}).get(sv)
            return "-" if v is None else spec.format(v / scale)
        f.write(f"\"{s}\" " + " ".join(g(k, sv, scale, spec) for k, scale, spec in
                                        (("ops_per_sec", 1000, "{:.2f}"), ("p99_us", 1, "{:.0f}"),
                                         ("cpu_us_per_op", 1, "{:.2f}")) for sv in SERVERS) + "\n")
PY

if [ "$CHART" = 1 ] && command -v gnuplot >/dev/null && [ "$(wc -l < "$OUT/chart.dat")" -gt 1 ]; then
    term="pngcairo size 900,1000 font 'Sans,10'"
    gnuplot -e "set terminal pngcairo" >/dev/null 2>&1 || term="png size 900,1000"
    n=$(($(wc -l < "$OUT/chart.dat") - 1))
    # One bar per server: memcached 1.6.45, 1.6.18 (when it ran), ferrocache.
    with18=$(awk 'NR > 1 && $3 != "-"' "$OUT/chart.dat" | wc -l)
    versions="1.6.45 and 1.6.18"
    [ "$with18" -gt 0 ] || versions=1.6.45
    bars() { # column of mc45 -> plot clause
        local c=$1 mc18=
        [ "$with18" = 0 ] || mc18=", '' using $((c + 1)) title \"memcached 1.6.18\" lc rgb \"#88ccee\""
        echo "\"$OUT/chart.dat\" using $c:xtic(1) title \"memcached 1.6.45\" lc rgb \"#4477aa\"$mc18, '' using $((c + 2)) title \"ferrocache\" lc rgb \"#ee6677\""
    }
    gnuplot <<GP
set terminal $term
set output "$OUT/compare.png"
set datafile missing "-"
set multiplot layout 3,1 title "ferrocache vs memcached $versions, ferrobench, median of the rounds (scenarios: bench/RESULTS.md)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key outside top center horizontal
set grid ytics
set xlabel "scenario"
set xrange [-0.6:$n-0.4]
set logscale y
set ylabel "k ops/s"
set title "throughput (higher is better)"
plot $(bars 2)
set ylabel "µs"
set title "p99 latency (lower is better)"
plot $(bars 5)
set title "server CPU per operation (lower is better)"
plot $(bars 8)
unset multiplot
GP
    echo "chart: $OUT/compare.png" >&2
fi
echo "tables: $OUT/compare.md, $OUT/compare.csv, $OUT/compare.json" >&2
[ ! -f "$OUT/memtier.md" ] || echo "memtier: $OUT/memtier.md, $OUT/memtier.csv, $OUT/memtier.json" >&2
