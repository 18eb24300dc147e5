"""Shared fixtures: the server under test comes from CACHE_SERVER=host:port.

scripts/test.sh runs this suite twice, once against real memcached and once against
ferrocache, so every assertion here is checked against memcached's own behaviour.
"""

import os
import uuid

import django
import pytest
from django.conf import settings


def server_address():
    address = os.environ.get("CACHE_SERVER")
    if not address:
        pytest.exit("set CACHE_SERVER=host:port (scripts/test.sh does)", returncode=2)
    return address


def pytest_configure(config):
    settings.configure(
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                "LOCATION": server_address(),
                # A prefix per run, so repeated runs against one server do not collide.
                "KEY_PREFIX": "t" + uuid.uuid4().hex[:8],
            }
        },
        USE_TZ=True,
    )
    django.setup()


@pytest.fixture
def cache():
    from django.core.cache import caches

    c = caches["default"]
    yield c
    c.close()


@pytest.fixture
def client():
    from pymemcache.client.base import Client

    host, port = server_address().rsplit(":", 1)
    c = Client((host, int(port)), connect_timeout=5, timeout=5)
    yield c
    c.close()
