"""Other clients users point at the server: djblets, python-memcached, pylibmc,
python-binary-memcached, and a pool mixing memcached and ferrocache nodes."""

import os
import socket
import subprocess
import time
import uuid
import zlib

import pytest

from conftest import server_address


def unique(name):
    return f"{name}-{uuid.uuid4().hex[:8]}"


# --- djblets.cache.backend -------------------------------------------------------------


def test_djblets_large_data_is_chunked_and_read_back():
    from django.core.cache import cache
    from djblets.cache.backend import CACHE_CHUNK_SIZE, cache_memoize, make_cache_key

    key = unique("big-report")
    # Random-looking data, so zlib cannot shrink it below several chunks.
    payload = [os.urandom(512 * 1024) for _ in range(8)]
    calls = []

    def compute():
        calls.append(1)
        return payload

    assert cache_memoize(key, compute, large_data=True) == payload
    assert cache_memoize(key, compute, large_data=True) == payload
    assert len(calls) == 1, "the second call is served from the cache"

    full_key = make_cache_key(key)
    chunk_count = int(cache.get(full_key))
    assert chunk_count >= 4
    chunks = cache.get_many([f"{full_key}-{i}" for i in range(chunk_count)])
    assert len(chunks) == chunk_count
    assert all(len(c[0]) <= CACHE_CHUNK_SIZE for c in chunks.values())


def test_djblets_missing_chunk_makes_it_recompute():
    from django.core.cache import cache
    from djblets.cache.backend import cache_memoize, make_cache_key

    key = unique("chunked")
    payload = [os.urandom(400 * 1024) for _ in range(6)]
    calls = []

    def compute():
        calls.append(1)
        return payload

    cache_memoize(key, compute, large_data=True)
    cache.delete(f"{make_cache_key(key)}-1")
    assert cache_memoize(key, compute, large_data=True) == payload
    assert len(calls) == 2


def test_djblets_memoize_iter():
    from djblets.cache.backend import cache_memoize_iter

    key = unique("iter")
    items = [{"n": i, "blob": "x" * 1000} for i in range(2000)]
    first = list(cache_memoize_iter(key, lambda: iter(items)))
    second = list(cache_memoize_iter(key, lambda: iter([])))
    assert first == items and second == items


def test_djblets_make_cache_key_long_and_spaced():
    from django.core.cache import cache
    from djblets.cache.backend import make_cache_key

    long_key = make_cache_key("k" * 400)
    spaced = make_cache_key("has some spaces")
    for key in (long_key, spaced):
        assert len(key) <= 250 and " " not in key
        cache.set(key, "v")
        assert cache.get(key) == "v"


# --- python-memcached ----------------------------------------------------------------


def test_python_memcached():
    import memcache

    mc = memcache.Client([server_address()])
    key = unique("pm")
    assert mc.set(key, {"a": 1})
    assert mc.get(key) == {"a": 1}
    assert mc.add(key, 2) == 0
    assert mc.incr(unique("missing")) is None
    mc.set(key + "n", "5")
    assert mc.incr(key + "n", 3) == 8
    assert mc.get_multi([key, key + "n", "nope"]) == {key: {"a": 1}, key + "n": "8"}
    assert mc.delete(key)
    assert mc.get(key) is None
    mc.disconnect_all()


# --- pylibmc (ASCII) ------------------------------------------------------------------


def test_pylibmc_ascii():
    import pylibmc

    mc = pylibmc.Client([server_address()], binary=False, behaviors={"cas": True})
    key = unique("lm")
    mc.set(key, b"v", time=0)
    assert mc.get(key) == b"v"
    assert mc.add(key, b"w") is False
    mc.set(key + "n", 10)
    assert mc.incr(key + "n", 5) == 15
    assert mc.decr(key + "n", 100) == 0
    value, cas = mc.gets(key)
    assert value == b"v"
    assert mc.cas(key, b"new", cas) is True
    assert mc.cas(key, b"newer", cas) is False
    assert mc.get_multi([key, "nope"]) == {key: b"new"}
    big = zlib.compress(os.urandom(10))
    mc.set(key + "z", big)
    assert mc.get(key + "z") == big


def test_pylibmc_binary():
    import pylibmc

    mc = pylibmc.Client([server_address()], binary=True, behaviors={"cas": True})
    key = unique("lb")
    mc.set(key, b"v", time=0)
    assert mc.get(key) == b"v"
    assert mc.add(key, b"w") is False
    # In binary mode pylibmc raises for a replace of a missing key.
    with pytest.raises(pylibmc.NotFound):
        mc.replace(unique("nope"), b"w")
    mc.set(key + "n", 10)
    assert mc.incr(key + "n", 5) == 15
    assert mc.decr(key + "n", 100) == 0
    value, cas = mc.gets(key)
    assert value == b"v"
    assert mc.cas(key, b"new", cas) is True
    assert mc.cas(key, b"newer", cas) is False
    mc.append(key, b"+")
    mc.prepend(key, b"-")
    assert mc.get(key) == b"-new+"
    assert mc.get_multi([key, "nope"]) == {key: b"-new+"}
    assert mc.touch(key, 100) is True
    assert mc.delete(key) is True
    assert mc.delete(key) is False
    stats = dict(mc.get_stats()[0][1])
    assert "curr_items" in stats and "cmd_get" in stats


# pymemcache's HashClient, pylibmc and python-memcached over three nodes, killing and
# restarting one, and twemproxy in front of three nodes: test_multinode.py
# (CACHE_SUITE=multinode) and the twemproxy run of test_django_cache.py.


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- a mixed pool: memcached and ferrocache nodes together --------------------------------


def test_mixed_pool_of_memcached_and_ferrocache():
    from pymemcache.client.hash import HashClient

    binaries = [os.environ.get("MEMCACHED_BIN"), os.environ.get("FERROCACHE_BIN")]
    if not all(binaries):
        pytest.fail("MEMCACHED_BIN and FERROCACHE_BIN must be set (scripts/test.sh sets them)")
    procs = []
    ports = []
    try:
        for binary in binaries + binaries[1:]:
            port = free_port()
            args = [binary, "-U", "0", "-l", "127.0.0.1", "-p", str(port)]
            if os.geteuid() == 0:
                args += ["-u", "root"]
            procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
            ports.append(port)
        for port in ports:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.025)
        hc = HashClient([("127.0.0.1", p) for p in ports])
        values = {f"mix-{i}": str(i).encode() for i in range(200)}
        for k, v in values.items():
            hc.set(k, v)
        assert hc.get_many(list(values)) == values
        hc.set("mix-n", b"1")
        assert hc.incr("mix-n", 41) == 42
    finally:
        for p in procs:
            p.kill()
            p.wait()


# --- python-binary-memcached (binary protocol) -------------------------------------------


def test_python_binary_memcached():
    import bmemcached

    client = bmemcached.Client([server_address()])
    key = unique("bm")
    assert client.set(key, {"a": [1, 2]})
    assert client.get(key) == {"a": [1, 2]}
    assert client.add(key, "x") is False
    assert client.replace(unique("nope"), "x") is False
    client.set(key + "n", 10)
    assert client.incr(key + "n", 5) == 15
    assert client.decr(key + "n", 100) == 0
    value, cas = client.gets(key)
    assert value == {"a": [1, 2]}
    assert client.cas(key, "new", cas) is True
    assert client.cas(key, "newer", cas) is False
    assert client.get_multi([key, "nope"]) == {key: "new"}
    assert client.delete(key) is True
    assert client.get(key) is None
    stats = client.stats()
    assert "curr_items" in next(iter(stats.values()))
    client.disconnect_all()
