"""Shared fixtures: the server under test comes from CACHE_SERVER=host:port.

scripts/test.sh runs this suite twice, once against real memcached and once against
ferrocache, so every assertion here is checked against memcached's own behaviour.
"""

import glob
import os
import uuid

import django
import pytest
from django.conf import settings


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


def pytest_configure(config):
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


@pytest.fixture(
    params=["pymemcache", "pylibmc", "pylibmc-binary"],
    ids=["PyMemcacheCache", "PyLibMCCache", "PyLibMCCache-binary"],
)
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
