"""ferrocache's built-in Prometheus endpoint (-o metrics_listen), parsed by
prometheus_client's own text parser.

The mapping table below is memcached_exporter's (pkg/exporter/exporter.go): for each stat
it reads, the family it makes and that family's type. The test asks the server for its
stats over the memcached protocol and requires, for every stat there, the exporter's
family with the exporter's type, so a stat added to ferrocache later is checked too.

This starts its own ferrocache (FERROCACHE_BIN, which scripts/test.sh exports), whatever
CACHE_SERVER is: memcached has no such endpoint.
"""

import os
import socket
import subprocess
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cluster import free_port, wait_port

# stat of `stats` (and the globals of `stats slabs`) -> (sample name, type)
GLOBAL = {
    "uptime": ("memcached_uptime_seconds", "counter"),
    "time": ("memcached_time_seconds", "gauge"),
    "rusage_user": ("memcached_process_user_cpu_seconds_total", "counter"),
    "rusage_system": ("memcached_process_system_cpu_seconds_total", "counter"),
    "bytes": ("memcached_current_bytes", "gauge"),
    "limit_maxbytes": ("memcached_limit_bytes", "gauge"),
    "curr_items": ("memcached_current_items", "gauge"),
    "total_items": ("memcached_items_total", "counter"),
    "bytes_read": ("memcached_read_bytes_total", "counter"),
    "bytes_written": ("memcached_written_bytes_total", "counter"),
    "curr_connections": ("memcached_current_connections", "gauge"),
    "total_connections": ("memcached_connections_total", "counter"),
    "rejected_connections": ("memcached_connections_rejected_total", "counter"),
    "conn_yields": ("memcached_connections_yielded_total", "counter"),
    "listen_disabled_num": ("memcached_connections_listener_disabled_total", "counter"),
    "evictions": ("memcached_items_evicted_total", "counter"),
    "reclaimed": ("memcached_items_reclaimed_total", "counter"),
    "store_too_large": ("memcached_item_too_large_total", "counter"),
    "store_no_memory": ("memcached_item_no_memory_total", "counter"),
    "lru_crawler_starts": ("memcached_lru_crawler_starts_total", "counter"),
    "direct_reclaims": ("memcached_direct_reclaims_total", "counter"),
    "crawler_items_checked": ("memcached_lru_crawler_items_checked_total", "counter"),
    "crawler_reclaimed": ("memcached_lru_crawler_reclaimed_total", "counter"),
    "moves_to_cold": ("memcached_lru_crawler_moves_to_cold_total", "counter"),
    "moves_to_warm": ("memcached_lru_crawler_moves_to_warm_total", "counter"),
    "moves_within_lru": ("memcached_lru_crawler_moves_within_lru_total", "counter"),
    "total_malloced": ("memcached_malloced_bytes", "gauge"),
    "accepting_conns": ("memcached_accepting_connections", "gauge"),
}
# `<op>_hits`/`<op>_misses` -> memcached_commands_total{command=op}
COMMAND_OPS = ["get", "delete", "incr", "decr", "cas", "touch"]
# `stats items` (items:N:stat) -> (sample name, type)
ITEMS = {
    "number": ("memcached_slab_current_items", "gauge"),
    "age": ("memcached_slab_items_age_seconds", "gauge"),
    "crawler_reclaimed": ("memcached_slab_items_crawler_reclaimed_total", "counter"),
    "evicted": ("memcached_slab_items_evicted_total", "counter"),
    "evicted_nonzero": ("memcached_slab_items_evicted_nonzero_total", "counter"),
    "evicted_time": ("memcached_slab_items_evicted_time_seconds", "counter"),
    "evicted_unfetched": ("memcached_slab_items_evicted_unfetched_total", "counter"),
    "expired_unfetched": ("memcached_slab_items_expired_unfetched_total", "counter"),
    "outofmemory": ("memcached_slab_items_outofmemory_total", "counter"),
    "reclaimed": ("memcached_slab_items_reclaimed_total", "counter"),
    "tailrepairs": ("memcached_slab_items_tailrepairs_total", "counter"),
    "mem_requested": ("memcached_slab_mem_requested_bytes", "counter"),
    "moves_to_cold": ("memcached_slab_items_moves_to_cold", "counter"),
    "moves_to_warm": ("memcached_slab_items_moves_to_warm", "counter"),
    "moves_within_lru": ("memcached_slab_items_moves_within_lru", "counter"),
    "number_hot": ("memcached_slab_hot_items", "gauge"),
    "number_warm": ("memcached_slab_warm_items", "gauge"),
    "number_cold": ("memcached_slab_cold_items", "gauge"),
    "number_temp": ("memcached_slab_temporary_items", "gauge"),
    "age_hot": ("memcached_slab_hot_age_seconds", "gauge"),
    "age_warm": ("memcached_slab_warm_age_seconds", "gauge"),
    "hits_to_hot": ("memcached_slab_lru_hits_total", "counter"),
    "hits_to_warm": ("memcached_slab_lru_hits_total", "counter"),
    "hits_to_cold": ("memcached_slab_lru_hits_total", "counter"),
    "hits_to_temp": ("memcached_slab_lru_hits_total", "counter"),
}
# `stats slabs` (N:stat) -> (sample name, type)
SLABS = {
    "chunk_size": ("memcached_slab_chunk_size_bytes", "gauge"),
    "chunks_per_page": ("memcached_slab_chunks_per_page", "gauge"),
    "total_pages": ("memcached_slab_current_pages", "gauge"),
    "total_chunks": ("memcached_slab_current_chunks", "gauge"),
    "used_chunks": ("memcached_slab_chunks_used", "gauge"),
    "free_chunks": ("memcached_slab_chunks_free", "gauge"),
    "free_chunks_end": ("memcached_slab_chunks_free_end", "gauge"),
    "get_hits": ("memcached_slab_commands_total", "counter"),
    "cmd_set": ("memcached_slab_commands_total", "counter"),
}
# `stats settings`
SETTINGS = {"maxconns": ("memcached_max_connections", "gauge")}
LRU_SETTINGS = {
    "lru_crawler": ("memcached_lru_crawler_enabled", "gauge"),
    "lru_crawler_sleep": ("memcached_lru_crawler_sleep", "gauge"),
    "lru_crawler_tocrawl": ("memcached_lru_crawler_to_crawl", "gauge"),
    "lru_maintainer_thread": ("memcached_lru_crawler_maintainer_thread", "gauge"),
    "hot_lru_pct": ("memcached_lru_crawler_hot_percent", "gauge"),
    "warm_lru_pct": ("memcached_lru_crawler_warm_percent", "gauge"),
    "hot_max_factor": ("memcached_lru_crawler_hot_max_factor", "gauge"),
    "warm_max_factor": ("memcached_lru_crawler_warm_max_factor", "gauge"),
}

HISTOGRAM = "ferrocache_command_duration_seconds"


def ferrocache_bin():
    path = os.environ.get("FERROCACHE_BIN")
    if not path and "ferrocache" in os.path.basename(os.environ.get("CACHE_SERVER_BIN", "")):
        path = os.environ["CACHE_SERVER_BIN"]
    if not path:
        pytest.skip("FERROCACHE_BIN is not set (scripts/test.sh sets it)")
    return path


@pytest.fixture(scope="module")
def server():
    port, metrics_port = free_port(), free_port()
    args = [ferrocache_bin(), "-l", "127.0.0.1", "-p", str(port), "-U", "0",
            "-o", f"metrics_listen=127.0.0.1:{metrics_port}"]
    if os.geteuid() == 0:
        args += ["-u", "root"]
    proc = subprocess.Popen(args)
    try:
        wait_port(port, proc)
        wait_port(metrics_port, proc)
        yield port, metrics_port
    finally:
        proc.terminate()
        proc.wait(10)


def ask(port, request, until=b"END\r\n"):
    with socket.create_connection(("127.0.0.1", port), 5) as s:
        s.sendall(request)
        got = b""
        while not got.endswith(until):
            chunk = s.recv(65536)
            assert chunk, got
            got += chunk
        return got


def stats(port, group=""):
    line = f"stats {group}".strip().encode() + b"\r\n"
    out = {}
    for row in ask(port, line).decode().split("\r\n"):
        parts = row.split(" ", 2)
        if len(parts) == 3 and parts[0] == "STAT":
            out[parts[1]] = parts[2]
    return out


def scrape(metrics_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        text = r.read().decode()
    families = list(text_string_to_metric_families(text))
    names = [f.name for f in families]
    assert len(names) == len(set(names)), "a family appears twice"
    return families


def types_by_sample(families):
    """family name and sample names (with _total, _bucket, ...) -> the family's type.

    prometheus_client names a counter family without its _total, and gives the samples of a
    counter whose name has no _total (memcached_uptime_seconds) one: both are kept here so
    that the exporter's names, as written, can be looked up."""
    out = {}
    for f in families:
        out.setdefault(f.name, f.type)
        for s in f.samples:
            out.setdefault(s.name, f.type)
    return out


def sample(families, name, **labels):
    for f in families:
        for s in f.samples:
            if s.name == name and s.labels == labels:
                return s.value
    raise AssertionError(f"no {name}{labels}")


def test_every_exporter_family_with_its_stat_is_there_with_its_type(server):
    port, metrics_port = server
    ask(port, b"set warm 0 0 1\r\nx\r\n", b"\r\n")  # so that stats items/slabs show a class
    general, settings = stats(port), stats(port, "settings")
    items, slabs = stats(port, "items"), stats(port, "slabs")
    families = scrape(metrics_port)
    types = types_by_sample(families)

    expected = {"memcached_up": "gauge", "memcached_version": "gauge"}
    for stat, (name, kind) in GLOBAL.items():
        if stat in general or stat in slabs:
            expected[name] = kind
    if any(f"{op}_hits" in general for op in COMMAND_OPS) or "cmd_set" in general:
        expected["memcached_commands_total"] = "counter"
    for stat, (name, kind) in SETTINGS.items():
        if stat in settings:
            expected[name] = kind
    if settings.get("lru_crawler") == "yes":
        for stat, (name, kind) in LRU_SETTINGS.items():
            if stat in settings:
                expected[name] = kind
    for key in items:
        stat = key.split(":")[2]
        if stat in ITEMS:
            name, kind = ITEMS[stat]
            expected[name] = kind
    for key in slabs:
        parts = key.split(":")
        if len(parts) == 2 and parts[1] in SLABS:
            name, kind = SLABS[parts[1]]
            expected[name] = kind
    assert items, "stats items shows the class of the item just set"
    assert "memcached_slab_current_items" in expected

    missing = sorted(n for n in expected if n not in types)
    assert not missing, f"families the exporter would make, not in /metrics: {missing}"
    wrong = {n: (types[n], k) for n, k in expected.items() if types[n] != k}
    assert not wrong, f"(ours, exporter's) types differ: {wrong}"

    assert sample(families, "memcached_up") == 1
    assert sample(families, "memcached_version", version=general["version"]) == 1
    assert sample(families, "memcached_max_connections") == int(settings["maxconns"])
    assert sample(families, "memcached_limit_bytes") == int(general["limit_maxbytes"])
    # Ours: a histogram per command group and protocol, with the standard layout.
    assert types[HISTOGRAM + "_bucket"] == "histogram"
    buckets = [s for f in families if f.name == HISTOGRAM for s in f.samples
               if s.name.endswith("_bucket") and s.labels["command"] == "set"
               and s.labels["protocol"] == "ascii"]
    assert buckets[-1].labels["le"] == "+Inf"
    values = [s.value for s in buckets]
    assert values == sorted(values), "buckets are cumulative"
    assert values[-1] == sample(families, HISTOGRAM + "_count", command="set", protocol="ascii")


def test_values_move_with_load(server):
    port, metrics_port = server
    n = 37
    before = scrape(metrics_port)
    with socket.create_connection(("127.0.0.1", port), 5) as s:
        for i in range(n):
            s.sendall(f"set load{i} 0 0 3\r\nabc\r\n".encode())
            assert s.recv(100) == b"STORED\r\n"
        s.sendall(b"get load1 load2 missing\r\n")
        got = b""
        while not got.endswith(b"END\r\n"):
            got += s.recv(4096)
    after = scrape(metrics_port)

    def grew(name, **labels):
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("memcached_commands_total", command="set", status="hit") == n
    assert grew("memcached_commands_total", command="get", status="hit") == 2
    assert grew("memcached_commands_total", command="get", status="miss") == 1
    assert grew("memcached_current_items") == n
    assert grew("memcached_items_total") == n
    assert grew(HISTOGRAM + "_count", command="set", protocol="ascii") == n
    assert grew(HISTOGRAM + "_bucket", command="set", protocol="ascii", le="+Inf") == n
    assert grew(HISTOGRAM + "_count", command="get", protocol="ascii") == 1
    assert grew(HISTOGRAM + "_sum", command="set", protocol="ascii") > 0
    assert grew("memcached_read_bytes_total") > 0


def test_other_paths_are_404(server):
    _, metrics_port = server
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/", timeout=5)
    assert e.value.code == 404
