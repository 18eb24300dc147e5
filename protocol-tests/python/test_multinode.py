"""Three nodes in one client's server list: three memcached nodes and three ferrocache nodes.

Run with CACHE_SUITE=multinode (scripts/test.sh does, once, with MEMCACHED_BIN and
FERROCACHE_BIN set). Every test builds the same scenario on a memcached cluster and on a
ferrocache cluster:

- spread: keys written through the client land on all three nodes, each key on exactly one
  (asked of each node directly), and read back through the client;
- failover: one node is SIGKILLed; what each call then gives (value, miss, exception class)
  is recorded as a trace, the node is restarted on the same port, and the time until the
  client stores on it again is measured. The two clusters' traces must be equal.
"""

import time
import uuid

import pytest

from cluster import KINDS, Cluster, Twemproxy

N_KEYS = 300


def names(n, tag):
    run = uuid.uuid4().hex[:6]
    return [f"{tag}-{run}-{i}" for i in range(n)]


# --- client adapters: one interface over every client, and the key each sends on the wire ----


class Adapter:
    name = "?"

    def wire(self, key):
        return key

    def close(self):
        pass


class DjangoAdapter(Adapter):
    def __init__(self, backend, addresses, options=None):
        from django.core.cache.backends import memcached

        cls = getattr(memcached, backend)
        self.cache = cls(addresses, {"OPTIONS": dict(options or {}), "TIMEOUT": None})

    def set(self, k, v):
        return self.cache.set(k, v)

    def get(self, k):
        return self.cache.get(k)

    def get_many(self, keys):
        return self.cache.get_many(keys)

    def set_many(self, data):
        return self.cache.set_many(data)

    def delete(self, k):
        return self.cache.delete(k)

    def incr(self, k):
        return self.cache.incr(k)

    def wire(self, key):
        return self.cache.make_key(key)

    def close(self):
        self.cache.close()


class HashClientAdapter(Adapter):
    def __init__(self, addresses, options=None):
        from pymemcache.client.hash import HashClient
        from pymemcache.serde import pickle_serde

        servers = [tuple(a.rsplit(":", 1)) for a in addresses]
        servers = [(h, int(p)) for h, p in servers]
        self.c = HashClient(servers, serde=pickle_serde, **(options or {}))

    def set(self, k, v):
        return self.c.set(k, v)

    def get(self, k):
        return self.c.get(k)

    def get_many(self, keys):
        return self.c.get_many(keys)

    def set_many(self, data):
        return self.c.set_many(data)

    def delete(self, k):
        return self.c.delete(k)

    def incr(self, k):
        return self.c.incr(k, 1)

    def close(self):
        self.c.close()


class PylibmcAdapter(Adapter):
    def __init__(self, addresses, binary=False, behaviors=None):
        import pylibmc

        self.c = pylibmc.Client(addresses, binary=binary, behaviors=behaviors or {})

    def set(self, k, v):
        return self.c.set(k, v)

    def get(self, k):
        return self.c.get(k)

    def get_many(self, keys):
        return self.c.get_multi(keys)

    def set_many(self, data):
        return self.c.set_multi(data)

    def delete(self, k):
        return self.c.delete(k)

    def incr(self, k):
        return self.c.incr(k)


class PythonMemcachedAdapter(Adapter):
    def __init__(self, addresses, options=None):
        import memcache

        self.c = memcache.Client(addresses, **(options or {}))

    def set(self, k, v):
        return self.c.set(k, v)

    def get(self, k):
        return self.c.get(k)

    def get_many(self, keys):
        return self.c.get_multi(keys)

    def set_many(self, data):
        return self.c.set_multi(data)

    def delete(self, k):
        return self.c.delete(k)

    def incr(self, k):
        return self.c.incr(k)

    def close(self):
        self.c.disconnect_all()


# Each client, with its defaults and with the options README recommends for several nodes.
PYMEMCACHE_FAILOVER = {
    "ignore_exc": True,
    "retry_attempts": 1,
    "retry_timeout": 1,
    "dead_timeout": 2,
    "connect_timeout": 1,
    "timeout": 1,
}
PYLIBMC_FAILOVER = {
    "ketama": True,
    "remove_failed": 1,
    "retry_timeout": 1,
    "dead_timeout": 2,
    "connect_timeout": 1000,
}

CLIENTS = {
    "PyMemcacheCache": lambda a: DjangoAdapter("PyMemcacheCache", a),
    "PyMemcacheCache-failover": lambda a: DjangoAdapter("PyMemcacheCache", a, PYMEMCACHE_FAILOVER),
    "PyLibMCCache": lambda a: DjangoAdapter("PyLibMCCache", a),
    "PyLibMCCache-binary": lambda a: DjangoAdapter("PyLibMCCache", a, {"binary": True}),
    "PyLibMCCache-failover": lambda a: DjangoAdapter(
        "PyLibMCCache", a, {"behaviors": PYLIBMC_FAILOVER}
    ),
    "HashClient": lambda a: HashClientAdapter(a),
    "HashClient-failover": lambda a: HashClientAdapter(a, PYMEMCACHE_FAILOVER),
    "pylibmc-ketama": lambda a: PylibmcAdapter(a, behaviors={"ketama": True}),
    "pylibmc-ketama-binary": lambda a: PylibmcAdapter(a, binary=True, behaviors={"ketama": True}),
    "python-memcached": lambda a: PythonMemcachedAdapter(a),
    "python-memcached-failover": lambda a: PythonMemcachedAdapter(
        a, {"dead_retry": 2, "socket_timeout": 1}
    ),
}


def outcome(call, label=str):
    """What a call gave, as a comparable value: its result (keys replaced by their roles,
    as the key names differ from run to run), or its exception's class."""
    try:
        result = call()
    except Exception as e:  # noqa: BLE001 - the class is what is recorded
        return f"raises {type(e).__module__}.{type(e).__name__}"
    if isinstance(result, dict):
        return {label(k): v for k, v in result.items()}
    if isinstance(result, (list, tuple, set)) or type(result).__name__ == "dict_keys":
        return sorted(label(k) for k in result)
    return result


# --- spread ---------------------------------------------------------------------------------


def spread(kind, client_name):
    with Cluster(kind) as cluster:
        client = CLIENTS[client_name](cluster.addresses)
        keys = names(N_KEYS, "spread")
        values = {k: f"value of {k}" for k in keys}
        for k in keys[: N_KEYS // 2]:
            client.set(k, values[k])
        failed = client.set_many({k: values[k] for k in keys[N_KEYS // 2:]})
        assert not failed, failed
        assert client.get_many(keys) == values
        assert all(client.get(k) == values[k] for k in keys[:20])
        held = cluster.holders([client.wire(k) for k in keys])
        client.close()
    counts = [sum(1 for h in held.values() if i in h) for i in range(3)]
    return {
        "each key on exactly one node": all(len(h) == 1 for h in held.values()),
        "every node holds at least 15%": all(c >= N_KEYS * 0.15 for c in counts),
    }, counts


@pytest.mark.parametrize("client_name", list(CLIENTS))
def test_keys_spread_over_three_nodes(client_name):
    results = {kind: spread(kind, client_name) for kind in KINDS}
    for kind, (checks, counts) in results.items():
        assert all(checks.values()), (kind, checks, counts)
    assert results["memcached"][0] == results["ferrocache"][0]


def test_twemproxy_spreads_keys_with_ketama():
    # Named servers in the pool: ketama hashes the names, so both clusters spread the keys
    # identically, and the per-node counts must be equal, not only similar.
    from django.core.cache.backends.memcached import PyMemcacheCache

    counts = {}
    keys = [f"tw-spread-{i}" for i in range(N_KEYS)]
    for kind in KINDS:
        with Cluster(kind) as cluster:
            proxy = Twemproxy(cluster.ports).start()
            try:
                cache = PyMemcacheCache(proxy.address, {})
                assert cache.set_many({k: k for k in keys}) == []
                assert cache.get_many(keys) == {k: k for k in keys}
                held = cluster.holders([cache.make_key(k) for k in keys])
                cache.close()
            finally:
                proxy.stop()
        assert all(len(h) == 1 for h in held.values()), kind
        counts[kind] = [sum(1 for h in held.values() if i in h) for i in range(3)]
        assert min(counts[kind]) >= N_KEYS * 0.15, counts
    assert counts["memcached"] == counts["ferrocache"], counts


# --- failover: kill one node, restart it ------------------------------------------------------

# How long after the restart each client is given to use the node again: its dead or retry
# timeout plus a margin. Clients with pymemcache's default dead_timeout (60 s) are not waited
# for; that they do not come back within a few seconds is part of their trace.
COMEBACK_WAIT = {
    "PyMemcacheCache": 4,
    "HashClient": 4,
    "python-memcached": 4,
    "PyLibMCCache-binary": 5,
    "pylibmc-ketama-binary": 5,
}
DEFAULT_COMEBACK_WAIT = 8

# The exceptions the recommended options still let through: pylibmc raises ServerDead once,
# for the request that finds the node gone, then fails its keys over to the other nodes.
ALLOWED_WITH_FAILOVER_OPTIONS = {"raises pylibmc.ServerDead"}


def failover(kind, client_name):
    trace = []
    roles = {}

    def step(name, call):
        trace.append((name, outcome(call, lambda k: roles.get(k, k))))

    with Cluster(kind) as cluster:
        client = CLIENTS[client_name](cluster.addresses)
        # Keys in batches of 60 until node 0 (the one killed) holds 6 and the others 6: how
        # many land on node 0 depends on the client's hashing and on the nodes' random ports
        # (one run had 4 of 60 there), not on the server.
        keys = []
        while True:
            batch = names(60, "fo")
            for k in batch:
                client.set(k, "v")
            keys += batch
            # A read on every connection: HashClient's sets are noreply by default, and the
            # nodes must have applied them before they are asked.
            assert len(client.get_many(keys)) == len(keys)
            held = cluster.holders([client.wire(k) for k in keys])
            dead = [k for k in keys if held[client.wire(k)] == [0]]
            live = [k for k in keys if held[client.wire(k)] and held[client.wire(k)] != [0]]
            if (len(dead) >= 6 and len(live) >= 6) or len(keys) >= 600:
                break
        assert len(dead) >= 6 and len(live) >= 6, (len(dead), len(live))
        roles.update({k: f"dead[{i}]" for i, k in enumerate(dead)})
        roles.update({k: f"live[{i}]" for i, k in enumerate(live)})

        cluster.nodes[0].kill()
        t_kill = time.monotonic()
        step("get dead key", lambda: client.get(dead[0]))
        step("get dead key again", lambda: client.get(dead[0]))
        step("get live key", lambda: client.get(live[0]))
        step("set dead key", lambda: client.set(dead[1], "new"))
        step("get that key", lambda: client.get(dead[1]))
        step("get_many dead+live", lambda: client.get_many([dead[2], live[1]]))
        step("set_many dead+live", lambda: client.set_many({dead[3]: "m", live[2]: "m"}))
        step("delete dead key", lambda: client.delete(dead[4]))
        step("set live key", lambda: client.set(live[3], "new"))
        step("get live key after", lambda: client.get(live[3]))
        if time.monotonic() - t_kill > 0.9:
            # The steps must run within the clients' 1-second retry timeouts, or the trace
            # depends on the machine's load: the caller runs the scenario again.
            client.close()
            return None, None

        # Where did the writes to the dead node's keys go while it was down?
        where = cluster.holders(
            [client.wire(k) for k in (dead[1], dead[3])]
        )
        trace.append(("stored on another node while down", [bool(h) for h in where.values()]))

        cluster.nodes[0].start()
        t_back = time.monotonic()
        step("get dead key right after restart", lambda: client.get(dead[5]))

        # Keep writing a key of the restarted node until it turns up there.
        wait = COMEBACK_WAIT.get(client_name, DEFAULT_COMEBACK_WAIT)
        probe = dead[5]
        node0 = cluster.nodes[0].raw()
        back_after = None
        while time.monotonic() - t_back < wait:
            try:
                client.set(probe, "back")
            except Exception:  # noqa: BLE001 - still failing over
                pass
            if node0.get(client.wire(probe)) is not None:
                back_after = time.monotonic() - t_back
                break
            time.sleep(0.2)
        node0.close()
        trace.append(("used again after restart", back_after is not None))
        if back_after is not None:
            trace.append(("read back through the client", outcome(lambda: client.get(probe))))
        client.close()
    return trace, back_after


def failover_trace(kind, client_name):
    """One kind's trace, run again (up to three times) while the machine was too slow."""
    for _attempt in range(3):
        trace, back_after = failover(kind, client_name)
        if trace is not None:
            print(f"{client_name} on {kind}: back after {back_after} s")
            for step_name, result in trace:
                print(f"    {step_name}: {result}")
            return trace
    raise AssertionError("the machine was too slow for three attempts")


# How many times a pair of clusters is run when their traces differ. A client's choices on a
# failing node can hang on an event outside both servers (once in about fifty CI runs,
# python-memcached stored nothing for one key on memcached, where every other run stores it
# on a live node), so a difference counts only if it shows up in every pair. A difference
# that a server causes in every run still fails the test; one that ferrocache causes only
# now and then can pass, as the client's own can, so every differing pair is printed (-s).
PAIRS = 3


@pytest.mark.parametrize("client_name", list(CLIENTS))
def test_failover_behaves_the_same(client_name):
    differing = []
    for _pair in range(PAIRS):
        traces = {kind: failover_trace(kind, client_name) for kind in KINDS}
        if traces["ferrocache"] == traces["memcached"]:
            break
        differing.append(traces)
        print(f"{client_name}: the traces differ, pair {len(differing)} of {PAIRS}")
    assert traces["ferrocache"] == traces["memcached"], differing
    trace = dict(traces["memcached"])
    # Whatever the client does with the dead node, the live nodes keep serving.
    assert trace["get live key"] == "v"
    assert trace["get live key after"] == "new"
    if client_name.endswith("-failover"):
        # With the recommended options: misses instead of exceptions, and the node is used
        # again once it is back.
        raised = [
            r for _, r in traces["memcached"] if isinstance(r, str) and r.startswith("raises")
        ]
        assert set(raised) <= ALLOWED_WITH_FAILOVER_OPTIONS and len(raised) <= 1, raised
        assert trace["used again after restart"]


# --- libmemcached's tools over three nodes ------------------------------------------------


def tools_over(kind, tmp_path):
    import subprocess

    def run(*args):
        return subprocess.run(args, capture_output=True, text=True, timeout=60)

    files = [f"mtool-{i}.txt" for i in range(12)]
    for name in files:
        (tmp_path / name).write_text(f"contents of {name}")
    with Cluster(kind) as cluster:
        servers = "--servers=" + ",".join(cluster.addresses)
        assert run("memccp", servers, *[str(tmp_path / n) for n in files]).returncode == 0
        held = cluster.holders(files)
        out = run("memccat", servers, *files)
        stat = run("memcstat", servers)
        flush = run("memcflush", servers)
        after = cluster.holders(files)
    return {
        "each file on exactly one node": all(len(h) == 1 for h in held.values()),
        "nodes used": len({h[0] for h in held.values() if h}),
        "memccat": (out.returncode, out.stdout.splitlines()),
        "memcstat servers": (stat.returncode, stat.stdout.count("Server: 127.0.0.1")),
        "memcflush": flush.returncode,
        "left after memcflush": sum(len(h) for h in after.values()),
    }


def test_libmemcached_tools_over_three_nodes(tmp_path):
    results = {kind: tools_over(kind, tmp_path) for kind in KINDS}
    mc = results["memcached"]
    assert mc["each file on exactly one node"] and mc["nodes used"] >= 2, mc
    assert mc["memccat"] == (0, [f"contents of {n}" for n in [f"mtool-{i}.txt" for i in range(12)]]), mc
    assert mc["memcstat servers"] == (0, 3) and mc["memcflush"] == 0
    assert mc["left after memcflush"] == 0
    assert results["ferrocache"] == mc
