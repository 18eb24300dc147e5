"""Helpers shared by the benchmark scripts' Python parts (imported with scripts/ on sys.path)."""
import os
import json
import socket
import subprocess
import time


def free_port():
    """A loopback port that was free a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def load_json(path):
    """A benchmark's JSON output, or None if the run left none (or a broken one)."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def rss(pid):
    """The process's VmRSS in bytes, or None once it is gone."""
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def start_server(binary, user, args):
    """Starts memcached or ferrocache on a free loopback port (TCP only, no UDP) with `args`,
    waits until it accepts and half a second more; returns the process and the port."""
    port = free_port()
    server = subprocess.Popen([binary, *user, "-l", "127.0.0.1", "-p", str(port), "-U", "0",
                               *args], stderr=subprocess.DEVNULL)
    for _ in range(250):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            break
        except OSError:
            time.sleep(0.02)
    time.sleep(0.5)
    return server, port


def cpu_seconds(pid):
    """The process's user + system CPU time (all its threads) in seconds, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (the stat file's field 3): utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
