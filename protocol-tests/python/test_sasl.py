"""SASL (-S) with the clients that speak it: pylibmc (libmemcached, binary protocol) and
python-binary-memcached, plus the counters and settings -S affects.

Each test module run starts its own server with -S from CACHE_SERVER_BIN, so the assertions
hold for memcached and for ferrocache alike (scripts/test.sh runs the suite against both).
Both servers get the same users: ferrocache (and memcached builds with a password database)
read MEMCACHED_SASL_PWDB; Debian's memcached checks passwords through libsasl2, so it gets a
sasldb made from the same file with saslpasswd2 (Debian's sasl2-bin) and a memcached.conf
allowing only PLAIN, found through SASL_CONF_PATH. See protocol-tests/README.md.
"""

import os
import shutil
import socket
import struct
import subprocess
import time
import uuid

import pytest

from test_clients import free_port

USERS = {"alice": "wonderland", "bob": "builder"}


def saslpasswd2():
    found = shutil.which("saslpasswd2") or next(
        (p for p in ("/usr/sbin/saslpasswd2", "/sbin/saslpasswd2") if os.path.exists(p)), None
    )
    if not found:
        pytest.fail("saslpasswd2 is missing (Debian: apt-get install sasl2-bin; scripts/test.sh does)")
    return found


@pytest.fixture(scope="module")
def sasl_env(tmp_path_factory):
    d = tmp_path_factory.mktemp("sasl")
    pwdb = d / "pwdb"
    pwdb.write_text("".join(f"{u}:{p}\n" for u, p in USERS.items()))
    sasldb = d / "sasldb2"
    for user, password in USERS.items():
        subprocess.run([saslpasswd2(), "-p", "-c", "-a", "memcached", "-f", str(sasldb), user],
                       input=password.encode(), check=True)
    (d / "memcached.conf").write_text(f"mech_list: plain\nsasldb_path: {sasldb}\n")
    return {"MEMCACHED_SASL_PWDB": str(pwdb), "SASL_CONF_PATH": str(d)}


def start_server(env, *flags):
    binary = os.environ.get("CACHE_SERVER_BIN")
    if not binary:
        pytest.fail("CACHE_SERVER_BIN is not set (scripts/test.sh sets it)")
    port = free_port()
    args = [binary, "-U", "0", "-l", "127.0.0.1", "-p", str(port), *flags]
    if os.geteuid() == 0:
        args += ["-u", "root"]
    proc = subprocess.Popen(args, env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc, port
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"{binary} -S exited: {proc.stderr.read().decode()}")
            time.sleep(0.025)
    proc.kill()
    pytest.fail(f"{binary} -S did not start")


@pytest.fixture(scope="module")
def sasl_server(sasl_env):
    proc, port = start_server(sasl_env, "-S")
    yield f"127.0.0.1:{port}"
    proc.kill()
    proc.wait()


def key(name):
    return f"{name}-{uuid.uuid4().hex[:8]}"


# --- pylibmc (libmemcached's SASL) -------------------------------------------------------


def test_pylibmc_binary_with_credentials(sasl_server):
    import pylibmc

    assert pylibmc.support_sasl
    mc = pylibmc.Client([sasl_server], binary=True, username="alice", password="wonderland")
    k = key("plm")
    assert mc.set(k, {"a": 1})
    assert mc.get(k) == {"a": 1}
    assert mc.add(k, "x") is False
    mc.set(k + "n", 5)
    assert mc.incr(k + "n", 3) == 8
    assert mc.get_multi([k, k + "n", "missing"]) == {k: {"a": 1}, k + "n": 8}
    assert mc.delete(k)
    assert mc.get(k) is None
    mc.disconnect_all()


def test_pylibmc_second_user(sasl_server):
    import pylibmc

    mc = pylibmc.Client([sasl_server], binary=True, username="bob", password="builder")
    k = key("bob")
    assert mc.set(k, "v")
    assert mc.get(k) == "v"


@pytest.mark.parametrize("user,password", [("alice", "wrong"), ("nobody", "wonderland")])
def test_pylibmc_bad_credentials_are_refused(sasl_server, user, password):
    import pylibmc

    mc = pylibmc.Client([sasl_server], binary=True, username=user, password=password)
    with pytest.raises(pylibmc.Error):
        mc.set(key("refused"), "v")


# --- python-binary-memcached --------------------------------------------------------------


def test_bmemcached_with_credentials(sasl_server):
    import bmemcached

    client = bmemcached.Client([sasl_server], "alice", "wonderland")
    k = key("bm")
    assert client.set(k, {"a": [1, 2]})
    assert client.get(k) == {"a": [1, 2]}
    value, cas = client.gets(k)
    assert client.cas(k, "new", cas) is True
    assert client.get(k) == "new"
    assert client.delete(k) is True
    stats = next(iter(client.stats().values()))
    assert int(stats["auth_cmds"]) >= 1
    settings = next(iter(client.stats("settings").values()))
    assert settings["auth_enabled_sasl"] in ("yes", b"yes")
    assert settings["binding_protocol"] in ("binary", b"binary")
    client.disconnect_all()


@pytest.mark.parametrize("user,password", [("alice", "wrong"), ("nobody", "wonderland")])
def test_bmemcached_bad_credentials_are_refused(sasl_server, user, password):
    import bmemcached
    from bmemcached.exceptions import MemcachedException

    client = bmemcached.Client([sasl_server], user, password)
    # bmemcached 0.31 expects status 0x08 for a refusal; memcached answers 0x20.
    with pytest.raises(MemcachedException, match="Auth failure"):
        client.set(key("refused"), "v")


# --- the wire, counters and settings ------------------------------------------------------


def request(op, key=b"", value=b"", opaque=0):
    return struct.pack(">BBHBBHIIQ", 0x80, op, len(key), 0, 0, 0, len(key) + len(value),
                       opaque, 0) + key + value


class Replies:
    """Reads binary replies from a socket: (opcode, status, key, value)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.closed = False

    def _fill(self, n):
        while len(self.buf) < n and not self.closed:
            chunk = self.sock.recv(65536)
            self.closed = not chunk
            self.buf += chunk
        return len(self.buf) >= n

    def next(self):
        if not self._fill(24):
            return None
        _, op, klen, elen, _, status, blen = struct.unpack(">BBHBBHI", self.buf[:12])
        if not self._fill(24 + blen):
            return None
        body = self.buf[24:24 + blen]
        self.buf = self.buf[24 + blen:]
        return op, status, body[elen:elen + klen], body[elen + klen:]

    def take(self, count):
        return [self.next() for _ in range(count)]


def plain(user, password):
    return request(0x21, b"PLAIN", b"\0" + user.encode() + b"\0" + password.encode())


def stats(address, group=b""):
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), 5) as s:
        s.sendall(plain("alice", "wonderland") + request(0x10, group))
        out = {}
        r = Replies(s)
        assert r.next()[1] == 0
        while True:
            reply = r.next()
            if not reply[2]:
                return out
            out[reply[2].decode()] = reply[3].decode()


def test_auth_counters(sasl_server):
    before = stats(sasl_server)
    host, port = sasl_server.rsplit(":", 1)
    with socket.create_connection((host, int(port)), 5) as s:
        # list (uncounted), a failure, a continue (uncounted), a step, and a refused noop.
        s.sendall(request(0x20) + plain("alice", "bad") + request(0x21, b"PLAIN")
                  + request(0x22, b"PLAIN", b"\0alice\0wonderland"))
        replies = Replies(s).take(4)
        assert [r[1] for r in replies] == [0, 0x20, 0x21, 0]
        assert replies[0][3] == b"PLAIN"
        assert replies[3][3] == b"Authenticated"
    with socket.create_connection((host, int(port)), 5) as s:
        s.sendall(request(0x0A))
        r = Replies(s)
        reply = r.next()
        assert (reply[1], reply[3]) == (0x20, b"Auth failure.")
        assert r.next() is None and r.closed
    after = stats(sasl_server)
    # Each stats() call authenticates once too.
    assert int(after["auth_cmds"]) - int(before["auth_cmds"]) == 3
    assert int(after["auth_errors"]) - int(before["auth_errors"]) == 1


def test_settings(sasl_server):
    s = stats(sasl_server, b"settings")
    assert (s["auth_enabled_sasl"], s["binding_protocol"], s["auth_enabled_ascii"]) == (
        "yes", "binary", "no")


def test_text_clients_get_nothing(sasl_server):
    from pymemcache.client.base import Client

    host, port = sasl_server.rsplit(":", 1)
    c = Client((host, int(port)), connect_timeout=2, timeout=2)
    # The text command is read as a binary header with a bad magic byte: the server hangs up.
    with pytest.raises(Exception):
        c.set(key("text"), b"v" * 40, noreply=False)
    c.close()


def test_ascii_protocol_flag_is_refused(sasl_env):
    binary = os.environ.get("CACHE_SERVER_BIN")
    args = [binary, "-S", "-B", "ascii", "-U", "0", "-l", "127.0.0.1", "-p", str(free_port())]
    if os.geteuid() == 0:
        args += ["-u", "root"]
    done = subprocess.run(args, env={**os.environ, **sasl_env}, capture_output=True, timeout=10)
    assert done.returncode == 64
    assert b"You cannot allow the ASCII protocol while using SASL." in done.stderr
