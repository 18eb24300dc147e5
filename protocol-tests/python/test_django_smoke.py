"""Django's PyMemcacheCache against the server: the calls a Django site makes."""

import time
import warnings

import pytest
from django.core.cache import CacheKeyWarning
from django.core.cache.backends.base import InvalidCacheKey


def test_set_get_delete(cache):
    cache.set("greeting", "hello")
    assert cache.get("greeting") == "hello"
    assert cache.delete("greeting") is True
    assert cache.get("greeting") is None
    assert cache.get("greeting", "fallback") == "fallback"
    assert cache.delete("greeting") is False


def test_values_of_several_types(cache):
    values = {
        "str": "ünïcödé",
        "int": 42,
        "bytes": b"\x00\x01binary\xff",
        "dict": {"a": [1, 2, {"b": None}]},
        "float": 1.5,
        "bool": True,
    }
    for key, value in values.items():
        cache.set(key, value)
    for key, value in values.items():
        assert cache.get(key) == value


def test_add_only_when_absent(cache):
    assert cache.add("once", 1) is True
    assert cache.add("once", 2) is False
    assert cache.get("once") == 1


def test_incr_decr(cache):
    cache.set("counter", 10)
    assert cache.incr("counter") == 11
    assert cache.incr("counter", 5) == 16
    assert cache.decr("counter", 20) == 0
    with pytest.raises(ValueError):
        cache.incr("missing-counter")


def test_get_many_set_many_delete_many(cache):
    failed = cache.set_many({"m1": 1, "m2": "two", "m3": [3]})
    assert failed == []
    assert cache.get_many(["m1", "m2", "m3", "m4"]) == {"m1": 1, "m2": "two", "m3": [3]}
    cache.delete_many(["m1", "m2"])
    assert cache.get_many(["m1", "m2", "m3"]) == {"m3": [3]}


def test_touch_and_timeouts(cache):
    cache.set("short", "v", timeout=1)
    assert cache.touch("short", timeout=None) is True
    time.sleep(2.1)
    assert cache.get("short") == "v"
    assert cache.touch("nope") is False
    cache.set("expiring", "v", timeout=1)
    time.sleep(2.1)
    assert cache.get("expiring") is None


def test_timeout_zero_and_none(cache, request):
    # Django: 0 expires at once, None never expires. Django sends 0 as exptime -1; the binary
    # protocol carries it as the unsigned 4294967295, a far-future unix time, so over
    # pylibmc's binary mode the value stays (the same with memcached).
    cache.set("zero", "v", timeout=0)
    binary = "binary" in request.node.callspec.id
    assert cache.get("zero") == ("v" if binary else None)
    cache.set("forever", "v", timeout=None)
    assert cache.get("forever") == "v"


def test_timeout_over_30_days(cache):
    cache.set("month", "v", timeout=60 * 60 * 24 * 45)
    assert cache.get("month") == "v"


def test_has_key_get_or_set(cache):
    assert cache.has_key("hk") is False
    assert cache.get_or_set("hk", lambda: "made") == "made"
    assert cache.get_or_set("hk", lambda: "other") == "made"
    assert cache.has_key("hk") is True


def test_versions(cache):
    cache.set("ver", "v1", version=1)
    cache.set("ver", "v2", version=2)
    assert cache.get("ver", version=1) == "v1"
    assert cache.get("ver", version=2) == "v2"
    cache.incr_version("ver", version=2)
    assert cache.get("ver", version=3) == "v2"


def test_value_near_one_megabyte(cache):
    # Django pickles bytes with a small header; ~1000 KB stays under the 1 MB item limit.
    big = b"x" * (1000 * 1024)
    cache.set("big", big)
    assert cache.get("big") == big


def test_value_over_the_item_limit_is_refused(cache):
    from pymemcache.exceptions import MemcacheServerError
    from pylibmc import TooBig

    cache.set("huge", "old")
    # pymemcache passes memcached's SERVER_ERROR line on; pylibmc raises TooBig.
    with pytest.raises((MemcacheServerError, TooBig)):
        cache.set("huge", b"y" * (1024 * 1024 + 1))
    # The failed set also removed the old value, so no stale value is served.
    assert cache.get("huge") is None
    # The connection is still usable.
    cache.set("after-huge", 1)
    assert cache.get("after-huge") == 1


def test_unicode_keys(cache):
    # Django passes non-ASCII keys on as UTF-8; memcached takes any byte but space and
    # control characters in a key.
    key = "ключ-日本語-é"
    cache.set(key, "unicode")
    assert cache.get(key) == "unicode"
    assert cache.get_many([key, "ключ-missing"]) == {key: "unicode"}
    cache.set(key + "-n", 1)
    assert cache.incr(key + "-n") == 2
    assert cache.delete(key) is True
    assert cache.get(key) is None


def test_key_of_250_bytes_is_accepted(cache):
    # The longest key memcached stores is 250 bytes, counted after Django's prefix and version.
    full = cache.make_key("")
    key = "k" * (250 - len(full.encode()))
    assert len(cache.make_key(key).encode()) == 250
    cache.set(key, "edge")
    assert cache.get(key) == "edge"


def test_invalid_keys_are_refused_before_sending(cache):
    # Django's memcached backends refuse these keys itself; the server never sees them.
    with pytest.raises(InvalidCacheKey):
        cache.set("k" * 300, "v")
    with pytest.raises(InvalidCacheKey):
        cache.set("has space", "v")


def test_key_warning_in_validate_key(cache):
    from django.core.cache.backends.base import BaseCache

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        BaseCache({}).validate_key("k" * 300)
    assert any(issubclass(w.category, CacheKeyWarning) for w in caught)


def test_clear(cache):
    cache.set("c1", 1)
    cache.clear()
    assert cache.get("c1") is None
