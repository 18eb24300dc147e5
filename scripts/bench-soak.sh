#!/usr/bin/env bash
# Soak: ferrocache and memcached 1.6.45 under the same long mixed load (`ferrobench soak`:
# sets of mixed sizes up to 100 KB, gets, multigets, deletes, malformed lines, pipelined and
# not, every connection killed after a random life - quit, closed or reset with replies
# pending, cut inside a data block, garbage - and replaced), with each server's RSS
# (VmRSS), CPU and the latency percentiles sampled every 5 s. Not part of CI.
#
# Both servers run at the same time by default (-m 64 -t 2, each with its own ferrobench
# process and the same seed), so both see the same machine; --serial runs one after the
# other. The cache fills within the first minutes and then evicts, so a server's RSS should
# level off; a leak shows as RSS that keeps growing.
#
# Out (bench/out/soak/): <server>.csv (the time series), <server>.json (summary),
# <server>.log, soak.md (a table of both) and soak.png (RSS, p99 and CPU over time, gnuplot).
# Fails when a server died or a reply was wrong (a value not as set, a malformed line not
# refused, a connection broken while not being killed).
#
# Usage: scripts/bench-soak.sh [--minutes M] [--secs S] [--serial] [--mem MB] [--report] [-- FERROBENCH_SOAK_ARGS]
#   default 30 minutes; e.g. `nice -n 10 scripts/bench-soak.sh --minutes 3`.
#   --report: run nothing, redraw soak.md and soak.png from bench/out/soak (or $SOAK_OUT).
#   FERROBENCH_SOAK_ARGS go to `ferrobench soak` (--clients 16 --rate 200 --keys 100000
#   --mean-life 5 are its defaults: 3,200 requests/s a server).
#   memcached: $MEMCACHED_BIN, or 1.6.45 built by scripts/common.sh into .reference/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
. scripts/common.sh

SECS=1800
SERIAL=0
MEM=64
REPORT=0
EXTRA=()
while [ $# -gt 0 ]; do
    case $1 in
        --minutes) SECS=$(($2 * 60)); shift ;;
        --secs) SECS=$2; shift ;;
        --serial) SERIAL=1 ;;
        --mem) MEM=$2; shift ;;
        --report) REPORT=1 ;;
        --) shift; EXTRA=("$@"); break ;;
        -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

OUT=${SOAK_OUT:-bench/out/soak}
failed=()
if [ "$REPORT" = 0 ]; then
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build --release --quiet -p ferrocache-server -p ferrocache-bench
FERROCACHE=$TARGET_DIR/release/ferrocache
BENCH=$TARGET_DIR/release/ferrobench
MEMCACHED=${MEMCACHED_BIN:-$(reference_memcached)}
"$MEMCACHED" -V | grep -q '^memcached 1.6.45$' || echo "warning: $MEMCACHED is not memcached 1.6.45" >&2

if ! command -v gnuplot >/dev/null; then
    echo "gnuplot is missing: installing Debian's gnuplot-nox for the chart (apt-get)..." >&2
    if [ "$(id -u)" -eq 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
    { "${apt_get[@]}" install -y -qq gnuplot-nox >/dev/null 2>&1 \
        || { "${apt_get[@]}" update -qq >/dev/null 2>&1 && "${apt_get[@]}" install -y -qq gnuplot-nox >/dev/null 2>&1; }; } \
        || echo "warning: could not install gnuplot-nox; no chart (the tables are still written)" >&2
fi

rm -rf "$OUT"
mkdir -p "$OUT"
{
    echo "date: $(date -u +%FT%TZ)"
    echo "nproc: $(nproc), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "memcached: $("$MEMCACHED" -V) ($MEMCACHED)"
    echo "ferrocache: $(git describe --always --dirty 2>/dev/null || echo unknown)"
    echo "seconds: $SECS, -m $MEM -t 2, $([ "$SERIAL" = 1 ] && echo 'one server after the other' || echo 'both servers at once')"
    echo "ferrobench soak ${EXTRA[*]:-(defaults)}"
} | tee "$OUT/machine.txt" >&2

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# Starts server $1 and its soak in the background; sets SOAK_PID.
start() {
    local name=$1 bin=$2 port
    port=$(free_port)
    "$bin" "${user_flag[@]}" -U 0 -l 127.0.0.1 -p "$port" -m "$MEM" -t 2 -c 1024 >/dev/null 2>&1 &
    local server=$!
    pids+=("$server")
    wait_port "$port" >&2
    echo "== $name on 127.0.0.1:$port (pid $server), $SECS s" >&2
    "$BENCH" soak --server "127.0.0.1:$port" --pid "$server" --duration "$SECS" \
        --csv "$OUT/$name.csv" --json "$OUT/$name.json" "${EXTRA[@]}" \
        >/dev/null 2>"$OUT/$name.log" &
    SOAK_PID=$!
    pids+=("$SOAK_PID")
}

finish() { # name soak-pid
    wait "$2" || failed+=("$1")
    tail -n 3 "$OUT/$1.log" >&2
}
if [ "$SERIAL" = 1 ]; then
    start memcached "$MEMCACHED"; finish memcached "$SOAK_PID"; cleanup; pids=()
    start ferrocache "$FERROCACHE"; finish ferrocache "$SOAK_PID"
else
    start memcached "$MEMCACHED"; mc=$SOAK_PID
    start ferrocache "$FERROCACHE"; fc=$SOAK_PID
    finish memcached "$mc"
    finish ferrocache "$fc"
fi
cleanup
pids=()
fi

python3 - "$OUT" <<'PY' | tee "$OUT/soak.md"
import csv, json, os, statistics, sys
out = sys.argv[1]
def load(name):
    try:
        s = json.load(open(os.path.join(out, f"{name}.json")))
    except (OSError, ValueError):
        s = None
    try:
        rows = list(csv.DictReader(open(os.path.join(out, f"{name}.csv"))))
    except OSError:
        rows = []
    return s, rows
def num(rows, key):
    return [float(r[key]) for r in rows if r[key] not in ("", "NaN", "nan")]
print("| | memcached | ferrocache |")
print("|---|---|---|")
data = {n: load(n) for n in ("memcached", "ferrocache")}
def row(label, f):
    cells = []
    for n in ("memcached", "ferrocache"):
        s, rows = data[n]
        try:
            cells.append(f(s, rows))
        except Exception:
            cells.append("-")
    print(f"| {label} | " + " | ".join(cells) + " |")
row("seconds", lambda s, r: f"{s['seconds']:.0f}")
row("requests (per second)", lambda s, r: f"{s['requests']:,} ({s['requests'] / s['seconds']:,.0f})")
row("sets / gets / malformed lines", lambda s, r: f"{s['sets']:,} / {s['gets']:,} / {s['bad_lines']:,}")
row("connections opened / killed", lambda s, r: f"{s['connects']:,} / {sum(s['kills'].values()):,}")
row("hit ratio", lambda s, r: f"{s['hit_ratio']:.3f}")
row("p50 / p99 / p99.9 / max, whole run (µs)",
    lambda s, r: "{p50_us} / {p99_us} / {p99_9_us} / {max_us}".format(**s["latency"]))
row("p99 of the 5 s samples: median / max (µs)",
    lambda s, r: f"{s['interval_p99_us']['median']} / {s['interval_p99_us']['max']}")
row("RSS at start / first sample / last sample / max (MiB)",
    lambda s, r: " / ".join(f"{s['rss_mib'][k]:.1f}" for k in ("start", "first_sample", "last_sample", "max")))
def halves(s, rows):
    rss = num(rows, "rss_mib")
    h = len(rss) // 2
    return f"{rss[h]:.1f} → {rss[-1]:.1f} ({rss[-1] - rss[h]:+.1f})"
row("RSS from mid-run to the end (MiB)", halves)
row("server CPU, mean of the samples (% of a core)", lambda s, r: f"{statistics.mean(num(r, 'cpu_pct')):.1f}")
def last(key, spec):
    return lambda s, rows: format(num(rows, key)[-1], spec)
row("items / item bytes (MiB) at the end, from `stats`",
    lambda s, r: f"{num(r, 'curr_items')[-1]:,.0f} / {num(r, 'bytes_mib')[-1]:.1f}")
row("open connections (`curr_connections`): max / at the end",
    lambda s, r: f"{max(num(r, 'curr_connections')):.0f} / {num(r, 'curr_connections')[-1]:.0f}")
row("server errors / unexpected", lambda s, r: f"{s['server_errors']} / {s['unexpected']}")
PY

# A chart needs samples from both (a header and the line before the load are not enough).
if command -v gnuplot >/dev/null && [ "$(wc -l < "$OUT/memcached.csv" 2>/dev/null || echo 0)" -gt 2 ] &&
    [ "$(wc -l < "$OUT/ferrocache.csv" 2>/dev/null || echo 0)" -gt 2 ]; then
    # The fourth panel (open connections) needs the `stats` columns, which older runs lack.
    panels=3 conns=
    if head -n1 "$OUT/ferrocache.csv" | grep -q curr_connections; then
        panels=4
        conns="set ylabel 'connections'; set title 'open connections (from stats)'; plot '$OUT/memcached.csv' using (\$1/60):17 with lines lw 2 lc rgb '#4477aa' title 'memcached', '$OUT/ferrocache.csv' using (\$1/60):17 with lines lw 2 lc rgb '#ee6677' title 'ferrocache'"
    fi
    height=$((panels * 300))
    term="pngcairo size 900,$height font 'Sans,10'"
    gnuplot -e "set terminal pngcairo" >/dev/null 2>&1 || term="png size 900,$height"
    version=$(sed -n 's/^ferrocache: //p' "$OUT/machine.txt" 2>/dev/null)
    gnuplot <<GP
set terminal $term
set output "$OUT/soak.png"
set datafile separator ","
set key autotitle columnhead
set multiplot layout $panels,1 title "soak: ferrocache ${version:-} and memcached 1.6.45, -m $MEM -t 2, mixed load, clients killed at random"
set grid
set key top left
set xlabel "minutes"
set ylabel "MiB"
set yrange [0:*]
set title "server RSS (VmRSS); dashed: -m"
plot "$OUT/memcached.csv" using (\$1/60):2 with lines lw 2 lc rgb "#4477aa" title "memcached", \
     "$OUT/ferrocache.csv" using (\$1/60):2 with lines lw 2 lc rgb "#ee6677" title "ferrocache", \
     $MEM with lines dt 2 lc rgb "#888888" notitle
set ylabel "µs"
set logscale y
set yrange [*:*]
set title "p99 latency of each 5 s sample (log scale)"
plot "$OUT/memcached.csv" using (\$1/60):6 with lines lw 2 lc rgb "#4477aa" title "memcached", \
     "$OUT/ferrocache.csv" using (\$1/60):6 with lines lw 2 lc rgb "#ee6677" title "ferrocache"
unset logscale y
set yrange [0:*]
set ylabel "% of a core"
set title "server CPU"
plot "$OUT/memcached.csv" using (\$1/60):3 with lines lw 2 lc rgb "#4477aa" title "memcached", \
     "$OUT/ferrocache.csv" using (\$1/60):3 with lines lw 2 lc rgb "#ee6677" title "ferrocache"
$conns
unset multiplot
GP
    echo "chart: $OUT/soak.png" >&2
fi
echo "table: $OUT/soak.md; series: $OUT/{memcached,ferrocache}.csv" >&2
if [ ${#failed[@]} -gt 0 ]; then
    echo "error: the soak of ${failed[*]} failed (see $OUT/<server>.log)" >&2
    exit 1
fi
