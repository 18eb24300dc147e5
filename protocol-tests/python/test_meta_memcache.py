"""The meta-protocol client meta-memcache (pure Python, mg/ms/md/ma only) against the server
under test: plain get/set, CAS, leases, stale-while-revalidate, recache, counters, binary
keys and pipelined multi-gets. The same assertions run against memcached and ferrocache."""

import time
import uuid

import pytest
from meta_memcache import (
    CacheClient,
    Key,
    LeasePolicy,
    RecachePolicy,
    ServerAddress,
    SetMode,
    StalePolicy,
    connection_pool_factory_builder,
)

from conftest import server_address


@pytest.fixture
def client():
    host, port = server_address().rsplit(":", 1)
    return CacheClient.cache_client_from_servers(
        servers=[ServerAddress(host=host, port=int(port))],
        connection_pool_factory_fn=connection_pool_factory_builder(),
    )


def key(name):
    return Key(f"meta-{uuid.uuid4().hex[:10]}-{name}")


def test_set_get_delete(client):
    k = key("a")
    assert client.get(k) is None
    assert client.set(k, {"x": [1, 2, 3]}, ttl=60)
    assert client.get(k) == {"x": [1, 2, 3]}
    assert client.set(k, b"raw bytes", ttl=60)
    assert client.get(k) == b"raw bytes"
    assert client.delete(k)
    assert client.get(k) is None


def test_large_and_unicode_values(client):
    k = key("big")
    value = "ü" * 300_000
    assert client.set(k, value, ttl=60)
    assert client.get(k) == value


def test_set_modes(client):
    k = key("modes")
    assert not client.set(k, "v", ttl=60, set_mode=SetMode.REPLACE)
    assert client.set(k, "v1", ttl=60, set_mode=SetMode.ADD)
    assert not client.set(k, "v2", ttl=60, set_mode=SetMode.ADD)
    assert client.get(k) == "v1"
    assert client.set(k, "v3", ttl=60, set_mode=SetMode.REPLACE)
    assert client.get(k) == "v3"


def test_cas(client):
    k = key("cas")
    assert client.set(k, "one", ttl=60)
    value, cas = client.get_cas(k)
    assert value == "one" and cas
    assert client.set(k, "two", ttl=60, cas_token=cas)
    assert not client.set(k, "three", ttl=60, cas_token=cas)
    assert client.get(k) == "two"


def test_multi_get_pipelines(client):
    keys = [key(f"m{i}") for i in range(20)]
    for i, k in enumerate(keys[::2]):
        assert client.set(k, i, ttl=60)
    found = client.multi_get(keys)
    assert [found[k] for k in keys[::2]] == list(range(10))
    assert all(found[k] is None for k in keys[1::2])


def test_touch_and_expiry(client):
    k = key("ttl")
    assert client.set(k, "v", ttl=1)
    assert client.touch(k, ttl=100)
    time.sleep(2.1)
    assert client.get(k) == "v"
    assert not client.touch(key("missing"), ttl=10)


def test_counters(client):
    k = key("n")
    assert client.delta_and_get(k, 1) is None
    assert client.delta_initialize_and_get(k, 5, initial_value=10, initial_ttl=60) == 10
    assert client.delta_and_get(k, 5) == 15
    assert client.delta_and_get(k, -20) == 0
    assert client.delta(k, 3)
    assert client.delta_and_get(k, 0) == 3


def test_lease_on_miss(client):
    k = key("lease")
    # The first client to miss wins the lease (W) and gets a miss; the next one is told
    # another client is recaching (Z), retries once, and also sees a miss.
    policy = LeasePolicy(miss_retries=1, miss_retry_wait=0.01)
    assert client.get_or_lease(k, lease_policy=policy) is None
    assert client.get_or_lease(k, lease_policy=policy) is None
    assert client.set(k, "filled", ttl=60)
    assert client.get_or_lease(k, lease_policy=policy) == "filled"


def test_stale_while_revalidate(client):
    k = key("stale")
    assert client.set(k, "old", ttl=60)
    assert client.invalidate(k, stale_policy=StalePolicy(mark_stale_on_deletion_ttl=30))
    # The first reader of a stale item wins the recache and gets a miss; later readers get
    # the stale value until it is refreshed.
    assert client.get(k) is None
    assert client.get(k) == "old"
    assert client.set(k, "new", ttl=60)
    assert client.get(k) == "new"


def test_recache_policy(client):
    k = key("recache")
    assert client.set(k, "v", ttl=5)
    policy = RecachePolicy(ttl=30)
    # Remaining TTL is under 30 s: one client wins the recache (a miss), others keep the value.
    assert client.get(k, recache_policy=policy) is None
    assert client.get(k, recache_policy=policy) == "v"


def test_binary_key(client):
    # Keys with spaces or non-ASCII characters go out base64-encoded with the `b` flag.
    k = Key(f"ünïcode key {uuid.uuid4().hex}")
    assert client.set(k, "bin", ttl=60)
    assert client.get(k) == "bin"
    assert client.delete(k)
    assert client.get(k) is None


def test_long_key_is_hashed(client):
    # meta-memcache hashes keys over 250 bytes into a short binary key.
    k = Key("long-" + "x" * 400)
    assert client.set(k, "v", ttl=60)
    assert client.get(k) == "v"
