"""TLS (-Z) with the clients that speak it: pymemcache with an ssl.SSLContext, Django's
PyMemcacheCache with OPTIONS={"tls_context": ...}, and `openssl s_client`.

The module starts its own server with -Z from CACHE_SERVER_BIN (scripts/test.sh runs the
suite against memcached 1.6.45 built with TLS and against ferrocache), with a TLS listener,
an mtls: listener that requires a client certificate, and a notls: listener to read stats
from. The certificates are made here with the openssl command, in a temporary folder.
"""

import os
import shutil
import socket
import ssl
import subprocess
import time
import uuid

import pytest

from test_clients import free_port


def openssl(*args):
    found = shutil.which("openssl")
    if not found:
        pytest.fail("the openssl command is missing (Debian: apt-get install openssl; scripts/test.sh does)")
    subprocess.run([found, *args], check=True, capture_output=True)


def make_cert(d, name, ca=None, days="30"):
    """An EC P-256 key and certificate for localhost/127.0.0.1, signed by `ca` (a name
    made before) or self-signed as a CA."""
    key, pem = d / f"{name}.key", d / f"{name}.pem"
    if ca is None:
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", str(key), "-out", str(pem), "-days", days, "-subj", f"/CN={name}")
        return
    csr = d / f"{name}.csr"
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}")
    ext = d / "san.cnf"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(d / f"{ca}.pem"), "-CAkey", str(d / f"{ca}.key"),
            "-CAcreateserial", "-out", str(pem), "-days", days, "-extfile", str(ext))


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    make_cert(d, "ca")
    make_cert(d, "server", ca="ca")
    make_cert(d, "client", ca="ca")
    make_cert(d, "otherca")
    return d


def wait_listening(proc, port, what):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"{what} exited: {proc.stderr.read().decode()}")
            time.sleep(0.025)
    proc.kill()
    pytest.fail(f"{what} did not start")


@pytest.fixture(scope="module")
def tls_server(certs):
    binary = os.environ.get("CACHE_SERVER_BIN")
    if not binary:
        pytest.fail("CACHE_SERVER_BIN is not set (scripts/test.sh sets it)")
    tls, mtls, plain = free_port(), free_port(), free_port()
    o = (f"ssl_chain_cert={certs / 'server.pem'},ssl_key={certs / 'server.key'},"
         f"ssl_ca_cert={certs / 'ca.pem'}")
    args = [binary, "-U", "0", "-p", str(tls), "-l", "127.0.0.1", "-l", f"mtls:127.0.0.1:{mtls}",
            "-l", f"notls:127.0.0.1:{plain}", "-Z", "-o", o]
    if os.geteuid() == 0:
        args += ["-u", "root"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for port in (tls, mtls, plain):
        wait_listening(proc, port, binary)
    yield {"tls": tls, "mtls": mtls, "plain": plain}
    proc.kill()
    proc.wait()


def context(certs, ca="ca", client=None):
    ctx = ssl.create_default_context(cafile=str(certs / f"{ca}.pem"))
    if client:
        ctx.load_cert_chain(str(certs / f"{client}.pem"), str(certs / f"{client}.key"))
    return ctx


def stats(server):
    from pymemcache.client.base import Client

    c = Client(("127.0.0.1", server["plain"]), timeout=5)
    try:
        return {k.decode(): v for k, v in c.stats().items()}
    finally:
        c.close()


def tls_errors(server):
    """Failed handshakes: memcached counts each in ssl_handshake_errors or ssl_proto_errors
    depending on a race with its accept call; ferrocache in ssl_handshake_errors."""
    s = stats(server)
    return int(s["ssl_handshake_errors"]) + int(s["ssl_proto_errors"])


def errors_reach(server, want):
    deadline = time.time() + 3
    while time.time() < deadline:
        n = tls_errors(server)
        if n >= want:
            return n
        time.sleep(0.02)
    return tls_errors(server)


def key(name):
    return f"{name}-{uuid.uuid4().hex[:8]}"


def test_pymemcache_with_an_ssl_context(tls_server, certs):
    from pymemcache.client.base import Client

    c = Client(("localhost", tls_server["tls"]), tls_context=context(certs), timeout=5)
    k = key("pm")
    assert c.set(k, b"x" * 200_000)
    assert c.get(k) == b"x" * 200_000
    assert c.add(k, b"y", noreply=False) is False
    c.set(k + "n", b"5")
    assert c.incr(k + "n", 3) == 8
    assert c.get_many([k + "n", "missing"]) == {k + "n": b"8"}
    assert c.delete(k)
    assert c.version().startswith(b"1.6.")
    c.close()
    # The plain listener serves the same cache.
    plain = Client(("127.0.0.1", tls_server["plain"]), timeout=5)
    assert plain.get(k + "n") == b"8"
    settings = {k.decode(): v for k, v in plain.stats("settings").items()}
    plain.close()
    assert settings["ssl_enabled"] in (b"yes", "yes", True)
    s = stats(tls_server)
    for name in ("ssl_handshake_errors", "ssl_proto_errors", "time_since_server_cert_refresh"):
        assert name in s


def test_django_pymemcachecache_with_tls_context(tls_server, certs):
    from django.core.cache.backends.memcached import PyMemcacheCache

    cache = PyMemcacheCache(f"localhost:{tls_server['tls']}",
                            {"OPTIONS": {"tls_context": context(certs)}, "KEY_PREFIX": key("dj")})
    cache.set("greeting", {"hello": "tls"}, 30)
    assert cache.get("greeting") == {"hello": "tls"}
    assert cache.get_many(["greeting", "nothing"]) == {"greeting": {"hello": "tls"}}
    assert cache.add("counter", 1)
    assert cache.incr("counter") == 2
    cache.delete("greeting")
    assert cache.get("greeting") is None
    cache.close()


def test_mtls_listener_requires_a_client_certificate(tls_server, certs):
    from pymemcache.client.base import Client

    c = Client(("localhost", tls_server["mtls"]), tls_context=context(certs, client="client"), timeout=5)
    assert c.version().startswith(b"1.6.")
    c.close()
    before = tls_errors(tls_server)
    anonymous = Client(("localhost", tls_server["mtls"]), tls_context=context(certs), timeout=5)
    with pytest.raises((ssl.SSLError, OSError, Exception)):
        anonymous.version()
    anonymous.close()
    assert errors_reach(tls_server, before + 1) == before + 1


def test_a_client_trusting_another_ca_refuses_the_server(tls_server, certs):
    from pymemcache.client.base import Client

    before = tls_errors(tls_server)
    c = Client(("localhost", tls_server["tls"]), tls_context=context(certs, ca="otherca"), timeout=5)
    with pytest.raises(ssl.SSLCertVerificationError):
        c.version()
    c.close()
    assert errors_reach(tls_server, before + 1) == before + 1


def test_openssl_s_client(tls_server, certs):
    found = shutil.which("openssl")
    assert found, "openssl is missing"
    out = subprocess.run(
        [found, "s_client", "-connect", f"127.0.0.1:{tls_server['tls']}", "-CAfile", str(certs / "ca.pem"),
         "-verify_return_error", "-ign_eof", "-quiet"],
        input=b"version\r\nquit\r\n", capture_output=True, timeout=10)
    assert out.stdout.startswith(b"VERSION 1.6."), (out.stdout, out.stderr)
    # Without the client certificate the mtls: listener refuses it.
    out = subprocess.run(
        [found, "s_client", "-connect", f"127.0.0.1:{tls_server['mtls']}", "-CAfile", str(certs / "ca.pem"),
         "-ign_eof", "-quiet"],
        input=b"version\r\nquit\r\n", capture_output=True, timeout=10)
    assert b"VERSION" not in out.stdout, out.stdout


def test_plain_text_to_the_tls_port_is_refused(tls_server):
    before = tls_errors(tls_server)
    with socket.create_connection(("127.0.0.1", tls_server["tls"]), 5) as s:
        s.sendall(b"version\r\n")
        try:
            reply = s.recv(100)
        except ConnectionResetError:
            reply = b""
    assert not reply.startswith(b"VERSION")
    assert errors_reach(tls_server, before + 1) == before + 1


def test_refresh_certs(tls_server):
    with socket.create_connection(("127.0.0.1", tls_server["plain"]), 5) as s:
        s.sendall(b"refresh_certs\r\n")
        assert s.recv(100) == b"OK\r\n"
