"""Shared fixtures: the server under test comes from CACHE_SERVER=host:port.

scripts/test.sh runs this suite twice, once against real memcached and once against
ferrocache, so every assertion here is checked against memcached's own behaviour.

CACHE_SUITE picks what runs:
  single     (default) every module but test_multinode.py, against CACHE_SERVER.
  twemproxy  starts three nodes of CACHE_SERVER_BIN behind nutcracker (ketama) and runs
             against the proxy (give it test_django_cache.py); tests marked
             no_twemproxy(reason) are skipped, for memcached and ferrocache alike.
  multinode  test_multinode.py alone: it starts clusters of MEMCACHED_BIN and of
             FERROCACHE_BIN itself and compares them; CACHE_SERVER is not needed.
"""

import glob
import os
import uuid

import django
import pytest
from django.conf import settings

SUITE = os.environ.get("CACHE_SUITE", "single")
if SUITE not in ("single", "twemproxy", "multinode"):
    raise RuntimeError(f"CACHE_SUITE={SUITE!r}: expected single, twemproxy or multinode")

collect_ignore = ["test_multinode.py"] if SUITE != "multinode" else []

_twemproxy = None  # (Cluster, Twemproxy) while CACHE_SUITE=twemproxy


# pylibmc's wheel bundles a libsasl2 that looks for its mechanism plugins where CentOS keeps
# them (/usr/lib64/sasl2); without PLAIN it cannot log in (test_sasl.py). Point it at the
# system's plugins (Debian: libsasl2-modules) before pylibmc is loaded, which reads this once.
for _plugins in glob.glob("/usr/lib/*/sasl2/libplain.so*") + glob.glob("/usr/lib*/sasl2/libplain.so*"):
    os.environ.setdefault("SASL_PATH", os.path.dirname(_plugins))
    break


def server_address():
    address = os.environ.get("CACHE_SERVER")
    if not address:
        pytest.exit("set CACHE_SERVER=host:port (scripts/test.sh does)", returncode=2)
    return address


def server_kind():
    """'memcached' or 'ferrocache': which server CACHE_SERVER_BIN is (for xfail markers)."""
    binary = os.path.basename(os.environ.get("CACHE_SERVER_BIN", ""))
    return "ferrocache" if "ferrocache" in binary else "memcached"


def _start_twemproxy():
    global _twemproxy
    from cluster import Cluster, Twemproxy

    binary = os.environ.get("CACHE_SERVER_BIN")
    if not binary:
        pytest.exit("CACHE_SUITE=twemproxy needs CACHE_SERVER_BIN", returncode=2)
    cluster = Cluster(os.path.basename(binary), binary=binary).start()
    proxy = Twemproxy(cluster.ports).start()
    _twemproxy = (cluster, proxy)
    os.environ["CACHE_SERVER"] = proxy.address
    os.environ["CACHE_NODES"] = ",".join(cluster.addresses)


def pytest_unconfigure(config):
    if _twemproxy is not None:
        cluster, proxy = _twemproxy
        proxy.stop()
        cluster.stop()


def pytest_collection_modifyitems(config, items):
    if SUITE != "twemproxy":
        return
    for item in items:
        marker = item.get_closest_marker("no_twemproxy")
        if marker is not None:
            reason = marker.args[0] if marker.args else marker.kwargs["reason"]
            item.add_marker(pytest.mark.skip(reason=f"twemproxy: {reason}"))


def pytest_configure(config):
    if SUITE == "twemproxy":
        _start_twemproxy()
    elif SUITE == "multinode":
        # The multi-node tests configure their own caches; Django still needs settings.
        os.environ.setdefault("CACHE_SERVER", "127.0.0.1:1")
    # A prefix per run, so repeated runs against one server do not collide.
    prefix = "t" + uuid.uuid4().hex[:8]
    settings.configure(
        CACHES={
            # What djblets uses: the default cache, as Review Board configures it.
            "default": {
                "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                "LOCATION": server_address(),
            },
            "pymemcache": {
                "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                "LOCATION": server_address(),
                "KEY_PREFIX": prefix,
            },
            "pylibmc": {
                "BACKEND": "django.core.cache.backends.memcached.PyLibMCCache",
                "LOCATION": server_address(),
                "KEY_PREFIX": prefix + "l",
            },
            "pylibmc-binary": {
                "BACKEND": "django.core.cache.backends.memcached.PyLibMCCache",
                "LOCATION": server_address(),
                "KEY_PREFIX": prefix + "b",
                "OPTIONS": {"binary": True},
            },
        },
        # djblets.cache.backend imports the sites framework; with no database the site
        # lookup fails and djblets uses keys without a domain prefix.
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.sites"],
        USE_TZ=True,
    )
    django.setup()


# twemproxy speaks the text protocol only, so pylibmc's binary mode cannot go through it.
_BACKENDS = {
    "pymemcache": "PyMemcacheCache",
    "pylibmc": "PyLibMCCache",
    "pylibmc-binary": "PyLibMCCache-binary",
}
if SUITE == "twemproxy":
    del _BACKENDS["pylibmc-binary"]


@pytest.fixture(params=list(_BACKENDS), ids=list(_BACKENDS.values()))
def cache(request):
    from django.core.cache import caches

    c = caches[request.param]
    yield c
    c.close()


@pytest.fixture
def client():
    from pymemcache.client.base import Client

    host, port = server_address().rsplit(":", 1)
    c = Client((host, int(port)), connect_timeout=5, timeout=5)
    yield c
    c.close()


@pytest.fixture
def server():
    """(host, port) of the server under test."""
    host, port = server_address().rsplit(":", 1)
    return host, int(port)
