#!/usr/bin/env bash
# ferrocache against memcached, scenario by scenario, alternating the two servers.
#
# Each run starts a fresh server (ferrocache from this tree in release, or Debian's memcached,
# both with the same -m, -t 2 and -I), runs one ferrobench scenario against it (50
# connections unless noted), reads the server's utime+stime from /proc/PID/stat before and
# after the measured part (ferrobench --server-pid) and kills it. Round r runs every
# scenario on memcached then ferrocache when r is odd, the other way round when it is even
# (A B, B A, A B...), so drift on the shared machine hits both servers alike.
#
# Out (bench/out/compare/): one JSON per run, compare.md (table of medians with fc/mc ratios
# and their spread over rounds), compare.csv, compare.json and compare.png (gnuplot).
# When memtier_benchmark is on PATH, scenarios 1-4 and 6 are also run with it
# (memtier-*.json, memtier.md).
#
# Usage: scripts/bench-compare.sh [--quick] [--rounds N] [--secs S] [--only 1,2,9] [--no-chart] [--report]
#   --quick: 1 round of 3 s runs; scenario 8 with a shorter warm-up, 9 on -m 64 with 200k keys.
#   --only: these scenarios (1-9, 7b, 8e, m, 1r); the results of the others in bench/out/compare stay
#   and are reported with them.
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
while [ $# -gt 0 ]; do
    case $1 in
        --quick) QUICK=1; ROUNDS=1; SECS=3 ;;
        --rounds) ROUNDS=$2; shift ;;
        --secs) SECS=$2; shift ;;
        --only) ONLY=,$2, ; shift ;;
        --no-chart) CHART=0 ;;
        --report) REPORT=1 ;;
        --more) MORE=1 ;;
        -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

OUT=bench/out/compare
[ "$REPORT" = 1 ] || bench_setup
mkdir -p "$OUT"

if [ "$CHART" = 1 ] && ! command -v gnuplot >/dev/null; then
    echo "gnuplot is missing: installing Debian's gnuplot-nox for the chart (apt-get)..." >&2
    if [ "$(id -u)" -eq 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
    { "${apt_get[@]}" install -y -qq gnuplot-nox >/dev/null 2>&1 \
        || { "${apt_get[@]}" update -qq >/dev/null 2>&1 && "${apt_get[@]}" install -y -qq gnuplot-nox >/dev/null 2>&1; }; } \
        || echo "warning: could not install gnuplot-nox; no chart (the tables are still written)" >&2
fi

MEMCACHED=$(command -v memcached)
FERROCACHE=target/release/ferrocache
BENCH=target/release/ferrobench
CONNS=(--threads 2 --clients 25)   # 50 connections

# Scenario N: sets NAME, MEM (-m), FC_MEM (ferrocache's -m when not MEM), ITEM (-I), SERVERS,
# KIND (load|stall) and ARGS.
scenario() {
    MEM=1024 FC_MEM= ITEM=1m SERVERS="memcached ferrocache" KIND=load
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

# utime+stime of a process in clock ticks (fields 14 and 15 of /proc/PID/stat).
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

PID=
start_server() { # server mem item -> PORT, PID
    local bin=$MEMCACHED
    [ "$1" = ferrocache ] && bin=$FERROCACHE
    PORT=$(free_port)
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

mkdir -p "$OUT"
for s in "${SCENARIOS[@]}"; do scenario "$s"; printf '%s\t%s\n' "$s" "$NAME"; done > "$OUT/names.tsv"

if [ "$REPORT" = 0 ]; then
{
    echo "date: $(date -u +%FT%TZ)"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "memcached: $($MEMCACHED -V)"
    echo "ferrocache: $(git describe --always --dirty 2>/dev/null || echo unknown)"
    echo "rounds: $ROUNDS, seconds per run: $SECS"
} > "$OUT/machine.txt"
cat "$OUT/machine.txt" >&2
cat "$OUT/machine.txt" >> "$OUT/runs.log"

# Earlier results of the scenarios about to run go (those of other scenarios stay), unless
# --more: then the new rounds are numbered after the last one there.
FIRST=1
if [ "$MORE" = 1 ]; then
    last=$(ls "$OUT" | sed -n 's/^s.*-r\([0-9]*\)\.json$/\1/p' | sort -n | tail -1)
    FIRST=$(( ${last:-0} + 1 ))
else
    for s in "${SCENARIOS[@]}"; do
        [ -z "$ONLY" ] || [[ $ONLY == *,$s,* ]] || continue
        rm -f "$OUT/s$s-"* "$OUT/memtier-s$s-"*
    done
fi
LAST=$((FIRST + ROUNDS - 1))

for round in $(seq "$FIRST" "$LAST"); do
    for s in "${SCENARIOS[@]}"; do
        [ -z "$ONLY" ] || [[ $ONLY == *,$s,* ]] || continue
        scenario "$s"
        order=($SERVERS)
        if [ $((round % 2)) = 0 ] && [ ${#order[@]} = 2 ]; then order=("${order[1]}" "${order[0]}"); fi
        for server in "${order[@]}"; do
            mem=$MEM
            [ "$server" = ferrocache ] && [ -n "$FC_MEM" ] && mem=$FC_MEM
            start_server "$server" "$mem" "$ITEM"
            json="$OUT/s$s-$server-r$round.json"
            echo "== round $round/$LAST, scenario $s ($NAME): $server -m $mem -I $ITEM -t 2 (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
            if [ "$KIND" = stall ]; then
                "$BENCH" stall --server "127.0.0.1:$PORT" "${ARGS[@]}" --json "$json" >"$OUT/s$s-$server-r$round.txt" 2>&1 \
                    || echo "scenario $s failed on $server (see $OUT/s$s-$server-r$round.txt)" >&2
            else
                if [ "$s" = 8 ] || [ "$s" = 8e ]; then
                    "$BENCH" fill --server "127.0.0.1:$PORT" --value-size 100 --pid "$PID" --settle 0 \
                        >"$OUT/s$s-$server-r$round.fill.txt" 2>&1 || echo "fill failed on $server" >&2
                fi
                "$BENCH" --server "127.0.0.1:$PORT" "${ARGS[@]}" --server-pid "$PID" --json "$json" \
                    >"$OUT/s$s-$server-r$round.txt" 2>"$OUT/s$s-$server-r$round.log" \
                    || echo "scenario $s failed on $server (see $OUT/s$s-$server-r$round.log)" >&2
                grep -E '^\| total|^hit ratio|^server CPU' "$OUT/s$s-$server-r$round.txt" >&2 || true
            fi
            stop_server
        done
    done
done

# memtier_benchmark, when installed: the same text/binary scenarios, CPU read by this script.
if command -v memtier_benchmark >/dev/null; then
    for round in $(seq "$FIRST" "$LAST"); do
        for s in 1 2 3 4 6; do
            [ -z "$ONLY" ] || [[ $ONLY == *,$s,* ]] || continue
            # The protocol and value size serve both the preload and the measured run.
            proto=memcache_text dsize=32
            case $s in
                1) mt=(--ratio 1:10) ;;
                2) mt=(--ratio 1:10 --pipeline 16) ;;
                3) mt=(--ratio 1:10); dsize=1024 ;;
                4) mt=(--ratio 0:1) ;;
                6) mt=(--ratio 1:10); proto=memcache_binary ;;
            esac
            order=(memcached ferrocache)
            [ $((round % 2)) = 0 ] && order=(ferrocache memcached)
            for server in "${order[@]}"; do
                start_server "$server" 1024 1m
                # Preload keys memtier-0..memtier-100000 (memtier's own names) with the
                # scenario's value size; a failure is reported, and shows as misses below.
                memtier_benchmark -s 127.0.0.1 -p "$PORT" -P "$proto" -t 2 -c 25 --hide-histogram \
                    --key-maximum 100000 --key-pattern P:P --ratio 1:0 --requests allkeys -d "$dsize" \
                    >/dev/null 2>&1 || echo "memtier preload failed on $server" >&2
                before=$(cpu_ticks "$PID")
                memtier_benchmark -s 127.0.0.1 -p "$PORT" -P "$proto" -t 2 -c 25 --hide-histogram \
                    --distinct-client-seed --key-maximum 100000 --key-pattern R:R --test-time "$SECS" \
                    -d "$dsize" "${mt[@]}" --json-out-file "$OUT/memtier-s$s-$server-r$round.json" >/dev/null 2>&1 \
                    || echo "memtier failed on $server" >&2
                after=$(cpu_ticks "$PID")
                echo "$((after - before))" > "$OUT/memtier-s$s-$server-r$round.ticks"
                stop_server
            done
        done
    done
else
    echo "memtier_benchmark is not on PATH: ferrobench alone (Debian does not package memtier)" >&2
fi
fi

python3 - "$OUT" "$(getconf CLK_TCK)" "$SECS" <<'PY'
import csv, glob, json, os, re, statistics, sys
out, hz, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
names = dict(l.rstrip("\n").split("\t", 1) for l in open(os.path.join(out, "names.tsv")))

def metrics(path):
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

runs = {}
for path in glob.glob(os.path.join(out, "s*-r*.json")):
    m = re.match(r"s(\w+)-(memcached|ferrocache)-r(\d+)\.json", os.path.basename(path))
    try:
        runs.setdefault(m.group(1), {}).setdefault(m.group(2), {})[int(m.group(3))] = metrics(path)
    except (ValueError, KeyError, TypeError) as e:
        print(f"skipping {path}: {e}", file=sys.stderr)

# names.tsv lists the scenarios in the order of SCENARIOS.
order = [s for s in names if s in runs]
cols = [("ops_per_sec", "ops/s", "{:.0f}"), ("p99_us", "p99 µs", "{:.0f}"), ("max_us", "max µs", "{:.0f}"),
        ("cpu_us_per_op", "CPU µs/op", "{:.2f}"), ("user_us_per_op", "user CPU µs/op", "{:.2f}"),
        ("sys_us_per_op", "kernel CPU µs/op", "{:.2f}"), ("hit_ratio", "hit ratio", "{:.4f}"),
        ("rss_mib", "RSS MiB", "{:.1f}"), ("over_10ms", ">10 ms", "{:.0f}")]
summary, csv_rows = {}, []
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
for s in order:
    mc, fc = runs[s].get("memcached", {}), runs[s].get("ferrocache", {})
    summary[s] = {"name": names.get(s, s), "metrics": {}}
    for key, _, _ in cols:
        a = [mc[r].get(key) for r in sorted(mc)]
        b = [fc[r].get(key) for r in sorted(fc)]
        if all(x is None for x in a + b):
            continue
        ratios = [fc[r][key] / mc[r][key] for r in sorted(set(mc) & set(fc))
                  if fc[r].get(key) is not None and mc[r].get(key)]
        e = {"memcached": med(a), "ferrocache": med(b),
             "memcached_runs": a, "ferrocache_runs": b,
             "ratio": med(ratios), "ratio_min": min(ratios) if ratios else None,
             "ratio_max": max(ratios) if ratios else None}
        summary[s]["metrics"][key] = e
        csv_rows.append([s, names.get(s, s), key, e["memcached"], e["ferrocache"], e["ratio"],
                         e["ratio_min"], e["ratio_max"], " ".join(map(str, a)), " ".join(map(str, b))])

json.dump(summary, open(os.path.join(out, "compare.json"), "w"), indent=1)
with open(os.path.join(out, "compare.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["scenario", "name", "metric", "memcached_median", "ferrocache_median", "fc_mc_median",
                "fc_mc_min", "fc_mc_max", "memcached_runs", "ferrocache_runs"])
    w.writerows(csv_rows)

def fmt(v, spec):
    return "-" if v is None else spec.format(v)
def ratio_cell(e):
    if not e or e["ratio"] is None:
        return "-"
    if e["ratio_min"] == e["ratio_max"]:
        return f"{e['ratio']:.2f}x"
    return f"{e['ratio']:.2f}x ({e['ratio_min']:.2f}-{e['ratio_max']:.2f})"
lines = ["fc/mc ratios: median of the per-round ratios (each round runs both servers back to back), "
         "in brackets the lowest and highest round.", "",
         "| # | scenario | ops/s | p99 | max | CPU/op | user CPU/op | kernel CPU/op | hit ratio | >10 ms (fc/mc runs) |",
         "|---|---|---|---|---|---|---|---|---|---|"]
for s in order:
    m = summary[s]["metrics"]
    over = m.get("over_10ms")
    over = "-" if not over else f"{over['ferrocache_runs']} / {over['memcached_runs']}"
    lines.append(f"| {s} | {summary[s]['name']} | " + " | ".join(
        ratio_cell(m.get(k)) for k in ("ops_per_sec", "p99_us", "max_us", "cpu_us_per_op", "user_us_per_op",
                                       "sys_us_per_op", "hit_ratio")) + f" | {over} |")
lines += ["", "Medians over the rounds, and every round's figure in brackets (memcached = mc, ferrocache = fc).", "",
          "| # | metric | mc | fc | fc/mc | mc runs | fc runs |", "|---|---|---|---|---|---|---|"]
for s in order:
    for key, label, spec in cols:
        e = summary[s]["metrics"].get(key)
        if not e:
            continue
        runs_of = lambda xs: ", ".join(fmt(x, spec) for x in xs)
        lines.append(f"| {s} | {label} | {fmt(e['memcached'], spec)} | {fmt(e['ferrocache'], spec)} "
                     f"| {fmt(e['ratio'], '{:.2f}x')} | {runs_of(e['memcached_runs'])} | {runs_of(e['ferrocache_runs'])} |")
open(os.path.join(out, "compare.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))

# Chart data: one row per scenario with a throughput.
with open(os.path.join(out, "chart.dat"), "w") as f:
    f.write("# scenario mc_ops fc_ops mc_p99 fc_p99 mc_cpu fc_cpu\n")
    for s in order:
        m = summary[s]["metrics"]
        if "ops_per_sec" not in m:
            continue
        g = lambda k, who: m.get(k, {}).get(who) or 0
        f.write(f"\"{s}\" {g('ops_per_sec','memcached')/1000:.2f} {g('ops_per_sec','ferrocache')/1000:.2f} "
                f"{g('p99_us','memcached'):.0f} {g('p99_us','ferrocache'):.0f} "
                f"{g('cpu_us_per_op','memcached'):.2f} {g('cpu_us_per_op','ferrocache'):.2f}\n")

# memtier, when it ran.
mt = {}
for path in glob.glob(os.path.join(out, "memtier-s*-r*.json")):
    m = re.match(r"memtier-s(\w+)-(memcached|ferrocache)-r(\d+)\.json", os.path.basename(path))
    try:
        stats = json.load(open(path))["ALL STATS"]
        tot = stats["Totals"]
        ticks = int(open(path[:-5] + ".ticks").read())
        ops = tot["Ops/sec"]
        # "Count" is the requests completed; older memtiers may lack it.
        count = tot.get("Count") or ops * secs
        gets = stats.get("Gets", {})
        hits, misses = gets.get("Hits/sec"), gets.get("Misses/sec")
        hit = hits / (hits + misses) if hits is not None and misses is not None and hits + misses else None
        if m.group(1) == "4" and hit is not None and hit < 1:
            print(f"memtier {path}: gets-only scenario with misses (hit ratio {hit:.4f}): preload incomplete?",
                  file=sys.stderr)
        mt.setdefault(m.group(1), {}).setdefault(m.group(2), []).append(
            {"ops": ops, "cpu_us_per_op": ticks * 1e6 / hz / max(count, 1), "hit": hit})
    except Exception as e:  # memtier's JSON layout differs between versions
        print(f"memtier {path}: {e}", file=sys.stderr)
if mt:
    ml = ["| # | memtier ops/s mc | memtier ops/s fc | fc/mc | CPU µs/op mc | CPU µs/op fc | fc/mc "
          "| hit ratio mc | hit ratio fc |",
          "|---|---|---|---|---|---|---|---|---|"]
    for s in sorted(mt):
        a = med([r["ops"] for r in mt[s].get("memcached", [])])
        b = med([r["ops"] for r in mt[s].get("ferrocache", [])])
        ca = med([r["cpu_us_per_op"] for r in mt[s].get("memcached", [])])
        cb = med([r["cpu_us_per_op"] for r in mt[s].get("ferrocache", [])])
        ha = med([r["hit"] for r in mt[s].get("memcached", [])])
        hb = med([r["hit"] for r in mt[s].get("ferrocache", [])])
        ml.append(f"| {s} | {fmt(a,'{:.0f}')} | {fmt(b,'{:.0f}')} | {fmt(b / a if a and b else None, '{:.2f}x')} "
                  f"| {fmt(ca,'{:.2f}')} | {fmt(cb,'{:.2f}')} | {fmt(cb / ca if ca and cb else None, '{:.2f}x')} "
                  f"| {fmt(ha,'{:.4f}')} | {fmt(hb,'{:.4f}')} |")
    open(os.path.join(out, "memtier.md"), "w").write("\n".join(ml) + "\n")
    print("\n".join(ml))
PY

if [ "$CHART" = 1 ] && command -v gnuplot >/dev/null && [ "$(wc -l < "$OUT/chart.dat")" -gt 1 ]; then
    term="pngcairo size 900,1000 font 'Sans,10'"
    gnuplot -e "set terminal pngcairo" >/dev/null 2>&1 || term="png size 900,1000"
    n=$(($(wc -l < "$OUT/chart.dat") - 1))
    gnuplot <<GP
set terminal $term
set output "$OUT/compare.png"
set multiplot layout 3,1 title "ferrocache vs memcached 1.6.18, median of the rounds (scenarios: bench/RESULTS.md)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key top left
set grid ytics
set xlabel "scenario"
set xrange [-0.6:$n-0.4]
set logscale y
set ylabel "k ops/s"
set title "throughput (higher is better)"
plot "$OUT/chart.dat" using 2:xtic(1) title "memcached" lc rgb "#4477aa", '' using 3 title "ferrocache" lc rgb "#ee6677"
set ylabel "µs"
set title "p99 latency (lower is better)"
plot "$OUT/chart.dat" using 4:xtic(1) title "memcached" lc rgb "#4477aa", '' using 5 title "ferrocache" lc rgb "#ee6677"
set title "server CPU per operation (lower is better)"
plot "$OUT/chart.dat" using 6:xtic(1) title "memcached" lc rgb "#4477aa", '' using 7 title "ferrocache" lc rgb "#ee6677"
unset multiplot
GP
    echo "chart: $OUT/compare.png" >&2
fi
echo "tables: $OUT/compare.md, $OUT/compare.csv, $OUT/compare.json" >&2
