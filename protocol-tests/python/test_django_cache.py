"""Django's memcached backends against the server: every call of the low-level cache API.

The `cache` fixture runs each test through PyMemcacheCache, PyLibMCCache (ASCII) and
PyLibMCCache with binary=True. scripts/test.sh runs this module against memcached, against
ferrocache, and (CACHE_SUITE=twemproxy) through twemproxy in front of three nodes of each.
"""

import time
import warnings

import pytest
from django.core.cache import CacheKeyWarning
from django.core.cache.backends.base import InvalidCacheKey

from conftest import SUITE, server_address

# memcached's item limit (-I 1m): a 48-byte header, the key and its NUL, the value and its
# CRLF, and 8 bytes of CAS must fit in 1 MiB. Django stores bytes values unpickled with flags
# 0 through both backends, so the value on the wire is exactly the bytes given.
ITEM_LIMIT = 1024 * 1024


def largest_bytes_value(full_key):
    return ITEM_LIMIT - 48 - (len(full_key.encode()) + 1) - 2 - 8


def is_binary(request):
    return "binary" in request.node.callspec.id


def same_backend(cache, **params):
    """A cache of the same backend and options as `cache`, with other Django params."""
    options = dict(cache._options)
    return type(cache)(server_address(), {"OPTIONS": options, **params})


def too_big_errors():
    from pylibmc import TooBig
    from pymemcache.exceptions import MemcacheServerError

    return (MemcacheServerError, TooBig)


# --- get, set, add, delete -----------------------------------------------------------------


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
        "big-int": 2**70,
        "negative": -5,
        "bytes": b"\x00\x01binary\xff",
        "empty-bytes": b"",
        "empty-str": "",
        "dict": {"a": [1, 2, {"b": None}]},
        "float": 1.5,
        "bool": True,
        "none": None,
    }
    for key, value in values.items():
        cache.set(key, value)
    for key, value in values.items():
        got = cache.get(key, "missing")
        assert got == value, key
        # pylibmc stores a bool as an integer and reads it back as one (True -> 1).
        if key != "bool":
            assert type(got) is type(value), key


def test_set_overwrites(cache):
    cache.set("over", "first")
    cache.set("over", "second")
    assert cache.get("over") == "second"


def test_add_only_when_absent(cache):
    cache.delete("once")
    assert cache.add("once", 1) is True
    assert cache.add("once", 2) is False
    assert cache.get("once") == 1
    cache.delete("once")
    assert cache.add("once", 3) is True
    assert cache.get("once") == 3


def test_has_key(cache):
    cache.delete("hk")
    assert cache.has_key("hk") is False
    cache.set("hk", "v")
    assert cache.has_key("hk") is True
    # A stored None is a hit, not a miss.
    cache.set("hk-none", None)
    assert cache.has_key("hk-none") is True
    assert cache.get("hk-none", "default") is None


def test_get_or_set(cache):
    cache.delete("gos")
    assert cache.get_or_set("gos", lambda: "made") == "made"
    assert cache.get_or_set("gos", lambda: "other") == "made"
    assert cache.get_or_set("gos-plain", "value") == "value"
    assert cache.get("gos-plain") == "value"
    # A callable that returns None stores None (Django 4.2 adds whatever the default gives).
    assert cache.get_or_set("gos-none", lambda: None) is None
    assert cache.has_key("gos-none") is True


# --- many keys at once ------------------------------------------------------------------------


def test_get_many_set_many_delete_many(cache):
    failed = cache.set_many({"m1": 1, "m2": "two", "m3": [3]})
    assert failed == []
    assert cache.get_many(["m1", "m2", "m3", "m4"]) == {"m1": 1, "m2": "two", "m3": [3]}
    cache.delete_many(["m1", "m2", "never-there"])
    assert cache.get_many(["m1", "m2", "m3"]) == {"m3": [3]}
    assert cache.get_many([]) == {}
    cache.delete_many([])


def test_many_keys_in_one_call(cache):
    data = {f"many-{i}": i for i in range(500)}
    assert cache.set_many(data) == []
    assert cache.get_many(list(data) + ["many-missing"]) == data
    cache.delete_many(list(data)[:250])
    assert cache.get_many(list(data)) == {k: v for k, v in data.items() if v >= 250}


def test_get_many_of_large_values(cache):
    # Three values of ~900 KB in one multi-get: a reply of several MB.
    values = {f"lg-{i}": bytes([65 + i]) * (900 * 1024) for i in range(3)}
    assert cache.set_many(values) == []
    assert cache.get_many(list(values)) == values


# --- incr and decr ----------------------------------------------------------------------------


def test_incr_decr(cache):
    cache.set("counter", 10)
    assert cache.incr("counter") == 11
    assert cache.incr("counter", 5) == 16
    assert cache.decr("counter") == 15
    assert cache.decr("counter", 5) == 10
    # Negative deltas turn into the other command.
    assert cache.incr("counter", -3) == 7
    assert cache.decr("counter", -3) == 10
    # memcached never goes below 0.
    assert cache.decr("counter", 20) == 0
    assert cache.get("counter") == 0


def test_incr_decr_of_a_missing_key_raise_value_error(cache):
    cache.delete("missing-counter")
    with pytest.raises(ValueError):
        cache.incr("missing-counter")
    with pytest.raises(ValueError):
        cache.decr("missing-counter")
    assert cache.get("missing-counter") is None


def test_incr_past_64_bits_wraps(cache):
    cache.set("wrap", 2**64 - 1)
    assert cache.incr("wrap") == 0


# --- timeouts ---------------------------------------------------------------------------------


def test_timeout_none(cache):
    cache.set("forever", "v", timeout=None)
    assert cache.get("forever") == "v"
    assert cache.add("forever-add", "v", timeout=None) is True
    assert cache.set_many({"forever-many": 1}, timeout=None) == []
    assert cache.get_many(["forever-add", "forever-many"]) == {"forever-add": "v", "forever-many": 1}


def test_timeout_zero(cache, request):
    # Django: 0 expires at once, None never expires. Django sends 0 as exptime -1; the binary
    # protocol carries it as the unsigned 4294967295, a far-future unix time, so over
    # pylibmc's binary mode the value stays (the same with memcached).
    if SUITE == "twemproxy" and "PyMemcacheCache" in request.node.callspec.id:
        pytest.skip(
            "twemproxy: an exptime of -1 (Django's timeout=0 through pymemcache) is a parse "
            "error to twemproxy, which closes the connection"
        )
    cache.set("zero", "v", timeout=0)
    assert cache.get("zero") == ("v" if is_binary(request) else None)
    assert cache.add("zero-add", "v", timeout=0) is True
    assert cache.get("zero-add") == ("v" if is_binary(request) else None)
    assert cache.set_many({"zero-many": 1}, timeout=0) == []
    assert cache.get("zero-many") == (1 if is_binary(request) else None)


def test_timeouts_over_30_days(cache):
    # Up to 30 days memcached takes a relative time; beyond, Django sends a unix time.
    day = 60 * 60 * 24
    for name, timeout in [
        ("30d", 30 * day),
        ("30d+1", 30 * day + 1),
        ("45d", 45 * day),
        ("10y", 3650 * day),
    ]:
        cache.set(f"long-{name}", name, timeout=timeout)
        assert cache.get(f"long-{name}") == name, name
    cache.set_many({"long-many": 1}, timeout=45 * day)
    assert cache.get("long-many") == 1
    cache.set("long-touched", 1, timeout=5)
    assert cache.touch("long-touched", timeout=45 * day) is True
    assert cache.get("long-touched") == 1


def test_short_timeouts_expire(cache):
    # memcached's clock ticks once a second and an item with a relative exptime of N expires
    # at the N-th tick, so after 0 to 1 s with N=1: the short timeouts here are 2 s, checked
    # right away and again 3.1 s later. One sleep covers every case.
    default_2s = same_backend(cache, KEY_PREFIX=cache.key_prefix + "d", TIMEOUT=2)
    cache.set("exp-set", "v", timeout=2)
    assert cache.add("exp-add", "v", timeout=2) is True
    assert cache.set_many({"exp-many-1": 1, "exp-many-2": 2}, timeout=2) == []
    assert cache.get_or_set("exp-gos", "v", timeout=2) == "v"
    cache.set("exp-default", "v")  # this cache's TIMEOUT is Django's default, 300 s
    default_2s.set("exp-default", "v")
    # Still there before the first second is over.
    assert cache.get_many(["exp-set", "exp-add", "exp-many-1", "exp-gos"]) == {
        "exp-set": "v", "exp-add": "v", "exp-many-1": 1, "exp-gos": "v"
    }
    assert default_2s.get("exp-default") == "v"
    time.sleep(3.1)
    for key in ["exp-set", "exp-add", "exp-many-1", "exp-many-2", "exp-gos"]:
        assert cache.get(key) is None, key
    assert default_2s.get("exp-default") is None
    assert cache.get("exp-default") == "v"
    # An expired key can be added again.
    assert cache.add("exp-add", "again") is True
    assert cache.get("exp-add") == "again"
    default_2s.close()


def test_touch(cache):
    cache.set("touch-longer", "v", timeout=2)
    assert cache.touch("touch-longer", timeout=None) is True
    cache.set("touch-300", "v", timeout=2)
    assert cache.touch("touch-300", timeout=300) is True
    cache.set("touch-shorter", "v", timeout=None)
    assert cache.touch("touch-shorter", timeout=2) is True
    cache.delete("touch-missing")
    assert cache.touch("touch-missing") is False
    time.sleep(3.1)
    assert cache.get("touch-shorter") is None
    assert cache.get("touch-longer") == "v"
    assert cache.get("touch-300") == "v"


def test_touch_with_zero_expires_the_key(cache):
    # PyLibMCCache turns touch(timeout=0) into a delete; PyMemcacheCache sends exptime -1.
    cache.set("touch-zero", "v", timeout=None)
    assert cache.touch("touch-zero", timeout=0) is True
    assert cache.get("touch-zero") is None


# --- versions and prefixes -------------------------------------------------------------------


def test_versions(cache):
    cache.set("ver", "v1", version=1)
    cache.set("ver", "v2", version=2)
    assert cache.get("ver", version=1) == "v1"
    assert cache.get("ver", version=2) == "v2"
    assert cache.get("ver") == "v1"  # VERSION defaults to 1
    assert cache.incr_version("ver", version=2) == 3
    assert cache.get("ver", version=2) is None
    assert cache.get("ver", version=3) == "v2"
    assert cache.decr_version("ver", version=3) == 2
    assert cache.get("ver", version=3) is None
    assert cache.get("ver", version=2) == "v2"
    assert cache.incr_version("ver") == 2  # moves v1 over the old version 2
    assert cache.get("ver", version=2) == "v1"
    assert cache.get("ver", version=1) is None


def test_incr_version_of_a_missing_key_raises(cache):
    cache.delete("ver-missing")
    with pytest.raises(ValueError):
        cache.incr_version("ver-missing")
    with pytest.raises(ValueError):
        cache.decr_version("ver-missing")


def test_versions_in_every_call(cache):
    assert cache.add("vv", "a", version=7) is True
    assert cache.add("vv", "b", version=7) is False
    assert cache.add("vv", "c", version=8) is True
    assert cache.set_many({"vv1": 1, "vv2": 2}, version=7) == []
    assert cache.get_many(["vv", "vv1", "vv2"], version=7) == {"vv": "a", "vv1": 1, "vv2": 2}
    assert cache.get_many(["vv1", "vv2"], version=8) == {}
    assert cache.incr("vv1", version=7) == 2
    assert cache.has_key("vv1", version=7) and not cache.has_key("vv1", version=8)
    assert cache.touch("vv", version=7) is True
    cache.delete_many(["vv1", "vv2"], version=7)
    assert cache.get_many(["vv1", "vv2"], version=7) == {}
    assert cache.delete("vv", version=8) is True
    assert cache.get("vv", version=7) == "a"


def test_version_setting(cache):
    v5 = same_backend(cache, KEY_PREFIX=cache.key_prefix, VERSION=5)
    v5.set("cfg-ver", "five")
    assert cache.get("cfg-ver", version=5) == "five"
    assert cache.get("cfg-ver") is None
    assert v5.incr_version("cfg-ver") == 6
    assert cache.get("cfg-ver", version=6) == "five"
    v5.close()


def test_key_prefix_is_on_the_wire(cache, client):
    cache.set("wire", b"raw-bytes")
    full = cache.make_key("wire")
    assert full == f"{cache.key_prefix}:1:wire"
    # Django stores bytes as they are, with flags 0, in both backends.
    assert client.get(full) == b"raw-bytes"
    assert client.get(":1:wire") is None or cache.key_prefix == ""
    cache.set("wire", b"v9", version=9)
    assert client.get(f"{cache.key_prefix}:9:wire") == b"v9"


def test_key_prefixes_keep_caches_apart(cache):
    a = same_backend(cache, KEY_PREFIX=cache.key_prefix + "A")
    b = same_backend(cache, KEY_PREFIX=cache.key_prefix + "B")
    a.set("shared-name", "from a")
    b.set("shared-name", "from b")
    assert a.get("shared-name") == "from a"
    assert b.get("shared-name") == "from b"
    a.delete("shared-name")
    assert b.get("shared-name") == "from b"
    a.close()
    b.close()


def test_custom_key_function(cache, client):
    def key_func(key, key_prefix, version):
        return f"kf|{key_prefix}|{version}|{key}"

    kf = same_backend(cache, KEY_PREFIX=cache.key_prefix, KEY_FUNCTION=key_func)
    kf.set("custom", b"x")
    assert client.get(f"kf|{cache.key_prefix}|1|custom") == b"x"
    assert kf.get("custom") == b"x"
    kf.close()


# --- values near and over the item limit ---------------------------------------------------


def test_value_near_one_megabyte(cache):
    big = b"x" * (1000 * 1024)
    cache.set("big", big)
    assert cache.get("big") == big


def test_largest_value_is_stored_and_one_byte_more_is_refused(cache):
    full = cache.make_key("edge")
    size = largest_bytes_value(full)
    value = bytes(range(256)) * (size // 256) + b"e" * (size % 256)
    cache.set("edge", value)
    assert cache.get("edge") == value
    with pytest.raises(too_big_errors()):
        cache.set("edge", value + b"!")
    # The refused set also removed the old value, so no stale value is served.
    assert cache.get("edge") is None
    # The connection is still usable.
    cache.set("after-edge", 1)
    assert cache.get("after-edge") == 1


def test_value_over_the_item_limit_is_refused(cache):
    cache.set("huge", "old")
    # pymemcache passes memcached's SERVER_ERROR line on; pylibmc raises TooBig.
    with pytest.raises(too_big_errors()):
        cache.set("huge", b"y" * (1024 * 1024 + 1))
    assert cache.get("huge") is None
    with pytest.raises(too_big_errors()):
        cache.add("huge-add", b"y" * (2 * 1024 * 1024))
    assert cache.get("huge-add") is None
    cache.set("after-huge", 1)
    assert cache.get("after-huge") == 1


def test_set_many_with_one_value_too_big(cache):
    # pymemcache stops at the server's error; pylibmc reports the key as failed.
    data = {"sm-small": 1, "sm-huge": b"z" * (ITEM_LIMIT + 1)}
    try:
        failed = cache.set_many(data)
    except too_big_errors():
        failed = None
    assert failed in (None, ["sm-huge"])
    assert cache.get("sm-huge") is None
    cache.set("sm-after", 2)
    assert cache.get("sm-after") == 2


# --- keys ---------------------------------------------------------------------------------


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
    assert cache.get_many([key]) == {key: "edge"}
    assert cache.delete(key) is True


LONG = "long-key-warning"
SPACED = ["has space", "tab\there", "new\nline", "cr\rhere", "nul\x00", "del\x7f", "\x1funit"]


def test_long_key_is_refused_before_sending(cache):
    # Django's memcached backends turn the memcached key warnings into InvalidCacheKey, so
    # the server never sees such a key. 251 bytes counts the prefix and version too.
    full = cache.make_key("")
    key = "k" * (251 - len(full))
    with pytest.raises(InvalidCacheKey, match=r"will cause errors if used with memcached.*longer than 250"):
        cache.set(key, "v")
    with pytest.raises(InvalidCacheKey, match="longer than 250"):
        cache.get("k" * 300)


@pytest.mark.parametrize("key", SPACED, ids=[repr(k) for k in SPACED])
def test_whitespace_and_control_keys_are_refused_before_sending(cache, key):
    with pytest.raises(InvalidCacheKey, match="characters that will cause errors"):
        cache.set(key, "v")


def test_every_call_validates_keys(cache):
    bad = ["k" * 300, "has space"]
    calls = [
        lambda k: cache.get(k),
        lambda k: cache.set(k, 1),
        lambda k: cache.add(k, 1),
        lambda k: cache.delete(k),
        lambda k: cache.touch(k),
        lambda k: cache.incr(k),
        lambda k: cache.decr(k),
        lambda k: cache.has_key(k),
        lambda k: cache.get_or_set(k, 1),
        lambda k: cache.get_many(["ok", k]),
        lambda k: cache.set_many({"ok": 1, k: 2}),
        lambda k: cache.delete_many(["ok", k]),
        lambda k: cache.incr_version(k),
    ]
    for key in bad:
        for i, call in enumerate(calls):
            with pytest.raises(InvalidCacheKey):
                call(key)
                pytest.fail(f"call #{i} accepted {key!r}")


def test_key_warnings_of_other_backends(cache):
    # The non-memcached backends warn (CacheKeyWarning) rather than refuse, with the same text.
    from django.core.cache.backends.locmem import LocMemCache

    loc = LocMemCache("ferrocache-test", {})
    for key, text in [("k" * 300, "longer than 250"), ("has space", "characters that will cause")]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loc.set(key, 1)
        assert any(
            issubclass(w.category, CacheKeyWarning) and text in str(w.message) for w in caught
        ), key


def test_multibyte_key_over_250_bytes(cache):
    # Django counts characters, memcached counts bytes: 130 Cyrillic letters pass Django's
    # check but make a 260-byte key. Both client libraries refuse it without sending it.
    key = "я" * 130
    with pytest.raises(Exception) as info:
        cache.set(key, "v")
    assert not isinstance(info.value, InvalidCacheKey)
    cache.set("after-multibyte", 1)
    assert cache.get("after-multibyte") == 1


# --- clear and close ----------------------------------------------------------------------


@pytest.mark.no_twemproxy("flush_all is not a command twemproxy forwards")
def test_clear(cache):
    cache.set("c1", 1)
    cache.set_many({"c2": 2, "c3": 3})
    cache.clear()
    assert cache.get_many(["c1", "c2", "c3"]) == {}
    cache.set("c4", 4)
    assert cache.get("c4") == 4


def test_close_and_reuse(cache):
    cache.set("reuse", 1)
    cache.close()
    assert cache.get("reuse") == 1
