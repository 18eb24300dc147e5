"""pymemcache's client speaking the text protocol directly."""


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
