#!/usr/bin/env bash
# Warm restart (-e): memcached 1.6.45 (the reference build; $MEMCACHED_BIN overrides it) and
# ferrocache, one at a time, each -m 1024 -t 2:
#   1. start with -e <file>, fill with ITEMS keys of 100-byte values (`ferrobench --preload`),
#      read VmRSS ("filled by clients");
#   2. SIGUSR1, and time from the signal to the exit (the save: ferrocache also logs its own
#      figure), and the file's size;
#   3. start again with the same -e (2 s later: memcached restores nothing within the second
#      it stopped in), and time from the start to the first reply to `version` (the load:
#      ferrocache also logs its own figure), then read curr_items,
#      check a value, and read VmRSS 2 s later ("after loading").
# memcached's -e file must be on a tmpfs (/dev/shm); ferrocache is measured there and on the
# disk file system of the work tree (target/).
# Writes bench/out/restart.md (and prints it).
# Usage: scripts/bench-restart.sh [ITEMS [ROUNDS]]      (defaults 1000000 and 3)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
. scripts/common.sh

items=${1:-1000000}
rounds=${2:-3}
mc=${MEMCACHED_BIN:-$(reference_memcached)}
cargo build --release --quiet -p ferrocache-bench -p ferrocache-server
mkdir -p bench/out

python3 - "$items" "$rounds" "$mc" target/release/ferrocache target/release/ferrobench "$ROOT/target" "${user_flag[@]}" <<'PY' | tee bench/out/restart.md
import os, re, signal, socket, statistics, subprocess, sys, time
sys.path.insert(0, "scripts")
from benchlib import free_port, rss
items, rounds, mc, fc, fb, disk = int(sys.argv[1]), int(sys.argv[2]), *sys.argv[3:7]
user = sys.argv[7:]
MiB = 2**20
SIZE = 100

def start(binary, path, log):
    port = free_port()
    t0 = time.monotonic()
    p = subprocess.Popen([binary, *user, "-l", "127.0.0.1", "-p", str(port), "-U", "0",
                          "-m", "1024", "-t", "2", "-e", path, "-v"],
                         stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    # Until the first reply: ferrocache binds before it loads (connections wait in the
    # backlog meanwhile), memcached loads before it binds.
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port), 0.2)
            s.settimeout(600)
            s.sendall(b"version\r\n")
            if s.recv(100).startswith(b"VERSION"):
                s.close()
                break
        except OSError:
            if p.poll() is not None:
                raise SystemExit(f"{binary} exited: {open(log).read()}")
            time.sleep(0.005)
    return p, port, time.monotonic() - t0

def ask(port, req, end=b"END\r\n"):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req)
    out = b""
    while not out.endswith(end):
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    s.close()
    return out

def curr_items(port):
    m = re.search(rb"STAT curr_items (\d+)", ask(port, b"stats\r\n"))
    return int(m.group(1))

def stop_gracefully(p):
    t0 = time.monotonic()
    p.send_signal(signal.SIGUSR1)
    p.wait()
    return time.monotonic() - t0

def run(label, binary, path):
    for f in (path, path + ".meta"):
        if os.path.exists(f):
            os.remove(f)
    log = f"bench/out/restart-{label}.log"
    p, port, _ = start(binary, path, log)
    subprocess.run([fb, "-s", f"127.0.0.1:{port}", "-c", "4", "-t", "2", "--preload",
                    "--key-minimum", "1", "--key-maximum", str(items), "--data-size", str(SIZE),
                    "--ratio", "0:1", "--requests", "1"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    time.sleep(2)
    filled_items, filled_rss = curr_items(port), rss(p.pid)
    save = stop_gracefully(p)
    size = sum(os.path.getsize(f) for f in (path, path + ".meta") if os.path.exists(f))
    # memcached refuses to restore a cache stopped in the same second ("restart incompatible
    # due to setting for [stop_time]").
    time.sleep(2)
    p, port, load = start(binary, path, log + ".2")
    loaded_items = curr_items(port)
    # A key from the middle, read back whole: the restored items are really served.
    value = ask(port, f"get key:{items // 2}\r\n".encode())
    readable = value.startswith(f"VALUE key:{items // 2} 0 {SIZE}\r\n".encode())
    print(f"{label}: filled {filled_items}, loaded {loaded_items}, key:{items // 2} "
          f"{'read back' if readable else 'MISSING'}", file=sys.stderr)
    time.sleep(2)
    loaded_rss = rss(p.pid)
    p.terminate(); p.wait()
    logged = open(log).read() + open(log + ".2").read()
    own_save = re.search(r"\[restart\] saved \d+ items \(\d+ bytes\) to \S+ in (\d+) ms", logged)
    own_load = re.search(r"\[restart\] loaded \d+ items from \S+ in (\d+) ms", logged)
    for f in (path, path + ".meta"):
        if os.path.exists(f):
            os.remove(f)
    return dict(label=label, filled_items=filled_items, filled_rss=filled_rss, save=save,
                own_save=own_save and int(own_save.group(1)), size=size, load=load,
                own_load=own_load and int(own_load.group(1)), loaded_items=loaded_items,
                loaded_rss=loaded_rss, readable=readable)

servers = [
    ("memcached", mc, "/dev/shm/bench-restart-memcached"),
    ("ferrocache", fc, "/dev/shm/bench-restart-ferrocache"),
    ("ferrocache-disk", fc, os.path.join(disk, "bench-restart-ferrocache")),
]
# Rounds, the servers taking turns in each, so that what else runs on the machine falls on
# all of them alike; the summary takes each figure's median over the rounds.
runs = [dict(run(*server), round=n + 1) for n in range(rounds) for server in servers]
ms = lambda v: "-" if v is None else f"{v:.0f}"
print(f"{items} keys of {SIZE}-byte values, -m 1024 -t 2, {rounds} rounds; load average at the "
      f"end {open('/proc/loadavg').read().split()[0]}\n")
print("| round | server (-e on) | items filled | RSS filled MiB | SIGUSR1 to exit ms | own save ms | file MiB "
      "| start to first reply ms | own load ms | items loaded | RSS loaded MiB | RSS loaded/filled | a value read back |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
def name(label):
    return "ferrocache (disk)" if label == "ferrocache-disk" else f"{label} (tmpfs)"
for r in runs:
    print(f"| {r['round']} | {name(r['label'])} | {r['filled_items']} | {r['filled_rss'] / MiB:.1f} | {ms(r['save'] * 1000)} "
          f"| {ms(r['own_save'])} | {r['size'] / MiB:.1f} | {ms(r['load'] * 1000)} | {ms(r['own_load'])} "
          f"| {r['loaded_items']} | {r['loaded_rss'] / MiB:.1f} | {r['loaded_rss'] / r['filled_rss']:.2f} "
          f"| {'yes' if r['readable'] else 'no'} |")
med = {label: {k: statistics.median(r[k] for r in runs if r["label"] == label)
               for k in ("save", "load", "filled_rss", "loaded_rss")}
       for label, _, _ in servers}
print("\nMedians: " + "; ".join(
    f"{name(label)} stop {m['save'] * 1000:.0f} ms, start {m['load'] * 1000:.0f} ms, "
    f"RSS filled {m['filled_rss'] / MiB:.1f} MiB, loaded {m['loaded_rss'] / MiB:.1f} MiB"
    for label, m in med.items()))
m, f = med["memcached"], med["ferrocache"]
print(f"\nferrocache/memcached (both on tmpfs, medians): stop {f['save'] / m['save']:.2f}x, "
      f"start {f['load'] / m['load']:.2f}x, RSS filled {f['filled_rss'] / m['filled_rss']:.2f}x, "
      f"RSS loaded {f['loaded_rss'] / m['loaded_rss']:.2f}x")
PY
