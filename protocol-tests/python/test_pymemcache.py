"""pymemcache's client speaking the text protocol directly."""

import socket

import pytest

from conftest import server_kind


def test_round_trip_and_flags(client):
    client.set("pm-a", b"value", expire=0)
    assert client.get("pm-a") == b"value"
    value, cas = client.gets("pm-a")
    assert value == b"value" and int(cas) > 0


def test_cas(client):
    client.set("pm-c", b"1")
    _, cas = client.gets("pm-c")
    assert client.cas("pm-c", b"2", cas) is True
    assert client.cas("pm-c", b"3", cas) is False
    assert client.get("pm-c") == b"2"


def test_incr_wraps_and_decr_floors(client):
    client.set("pm-n", b"18446744073709551615")
    assert client.incr("pm-n", 1) == 0
    client.set("pm-d", b"3")
    assert client.decr("pm-d", 10) == 0


def test_noreply(client):
    assert client.set("pm-nr", b"x", noreply=True) is True
    assert client.get("pm-nr") == b"x"


def test_get_many(client):
    client.set_many({"pm-1": b"1", "pm-2": b"2"})
    assert client.get_many(["pm-1", "pm-2", "pm-3"]) == {"pm-1": b"1", "pm-2": b"2"}


def test_append_prepend(client):
    client.set("pm-ap", b"b")
    client.append("pm-ap", b"c")
    client.prepend("pm-ap", b"a")
    assert client.get("pm-ap") == b"abc"


# --- the item size limit (memcached's default -I 1m) ---------------------------------------

# memcached counts an item as a 48-byte header, the key and its NUL, the value and its CRLF,
# and 8 bytes of CAS: the whole must fit in 1 MiB.
ITEM_LIMIT = 1024 * 1024


def largest_value(key):
    return ITEM_LIMIT - 48 - (len(key) + 1) - 2 - 8


def test_largest_value_is_stored_and_one_byte_more_is_refused(client):
    from pymemcache.exceptions import MemcacheServerError

    key = b"pm-edge"
    size = largest_value(key)
    client.set(key, b"e" * size, noreply=False)
    assert client.get(key) == b"e" * size
    with pytest.raises(MemcacheServerError, match="object too large for cache"):
        client.set(key, b"e" * (size + 1), noreply=False)
    # The refused set removed the old value rather than leave it stale.
    assert client.get(key) is None
    # The connection stays in step: the refused data block was swallowed.
    client.set(b"pm-after", b"ok", noreply=False)
    assert client.get(b"pm-after") == b"ok"


def test_value_over_one_megabyte_with_noreply(client):
    client.set(b"pm-big-nr", b"old", noreply=False)
    # With noreply memcached sends no error either; the old value is gone all the same.
    assert client.set(b"pm-big-nr", b"z" * (ITEM_LIMIT + 1), noreply=True) is True
    assert client.get(b"pm-big-nr") is None
    assert client.get(b"pm-after-nr") is None


# --- more text-protocol behaviour -------------------------------------------------------


def test_noreply_on_every_storage_and_update_command(client):
    client.set("pm-q", b"5", noreply=True)
    client.add("pm-q", b"no", noreply=True)  # refused, silently
    client.replace("pm-q-missing", b"no", noreply=True)  # refused, silently
    client.append("pm-q", b"0", noreply=True)
    client.prepend("pm-q", b"1", noreply=True)
    client.incr("pm-q", 1, noreply=True)
    client.decr("pm-q", 2, noreply=True)
    client.touch("pm-q", 100, noreply=True)
    client.delete("pm-q-missing", noreply=True)
    # Nothing was answered, so the next reply belongs to this get: 150 + 1 - 2.
    assert client.get("pm-q") == b"149"
    assert client.get("pm-q-missing") is None
    client.delete("pm-q", noreply=True)
    assert client.get("pm-q") is None


def test_incr_of_a_non_number_and_of_a_missing_key(client):
    from pymemcache.exceptions import MemcacheClientError

    client.set("pm-text", b"abc", noreply=False)
    with pytest.raises(MemcacheClientError, match="non-numeric"):
        client.incr("pm-text", 1)
    assert client.incr("pm-absent", 1) is None
    assert client.decr("pm-absent", 1) is None


def test_gets_cas_changes_on_every_write(client):
    client.set("pm-cas", b"a", noreply=False)
    _, first = client.gets("pm-cas")
    client.append("pm-cas", b"b", noreply=False)
    _, second = client.gets("pm-cas")
    assert int(second) > int(first)
    # A cas on a key that does not exist answers NOT_FOUND (pymemcache: None).
    assert client.cas("pm-cas-missing", b"x", second, noreply=False) is None


def test_unicode_key_raw(server):
    from pymemcache.client.base import Client

    host, port = server
    c = Client((host, port), allow_unicode_keys=True)
    c.set("pm-ключ", b"v", noreply=False)
    assert c.get("pm-ключ") == b"v"
    assert c.get("pm-ключ".encode()) == b"v"
    c.close()


def test_key_limits_on_the_wire(server):
    # Below the client libraries, which check key lengths themselves: the server's own answers.
    host, port = server
    with socket.create_connection((host, port), timeout=5) as s:
        f = s.makefile("rwb")
        f.write(b"get " + b"k" * 250 + b"\r\n")
        f.flush()
        assert f.readline() == b"END\r\n"
        f.write(b"get " + b"k" * 251 + b"\r\n")
        f.flush()
        assert f.readline() == b"CLIENT_ERROR bad command line format\r\n"
        if server_kind() == "memcached":
            # memcached 1.6.45 follows this refusal with an empty line; ferrocache does not
            # (KNOWN_DIFFERENCES "long-key-drops-replies" in protocol-tests/src/lib.rs).
            assert f.readline() == b"\r\n"
        f.write(b"set \xc3\xa9 0 0 1\r\nx\r\nget \xc3\xa9\r\n")
        f.flush()
        assert f.readline() == b"STORED\r\n"
        assert f.readline() == b"VALUE \xc3\xa9 0 1\r\n"
        assert f.readline() == b"x\r\n"
        assert f.readline() == b"END\r\n"
