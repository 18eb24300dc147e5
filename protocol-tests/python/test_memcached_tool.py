"""memcached 1.6.45's own scripts/memcached-tool (copied into .reference/ with the oracle)
against the server: the operator's view of slab classes, stats, settings and a dump."""

import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest
from pymemcache.client.base import Client

from conftest import server_address

TOOL = Path(__file__).resolve().parents[2] / ".reference" / "memcached-tool"


def tool(*args):
    if not TOOL.exists():
        pytest.fail(f"{TOOL} is missing: scripts/test.sh copies it there with the oracle")
    # Bytes, decoded here: text mode would turn the dump's \r\n into \n.
    out = subprocess.run(
        ["perl", str(TOOL), server_address(), *args], capture_output=True, timeout=30
    )
    out.stdout = out.stdout.decode()
    out.stderr = out.stderr.decode()
    return out


def client():
    host, port = server_address().rsplit(":", 1)
    return Client((host, int(port)))


def test_display_lists_the_classes_that_hold_items():
    c = client()
    prefix = uuid.uuid4().hex[:8]
    # 5,000-byte values: memcached's class 19 of 5,680-byte chunks ("5.5K"), whatever else
    # the shared server holds.
    for i in range(3):
        c.set(f"{prefix}-{i}", b"x" * 5000)
    out = tool("display")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == [
        "#", "Item_Size", "Max_age", "Pages", "Count", "Full?", "Evicted", "Evict_Time", "OOM",
    ], out.stdout
    rows = {}
    for line in lines[1:]:
        fields = line.split()
        rows[fields[1]] = fields
    assert "5.5K" in rows, out.stdout
    row = rows["5.5K"]
    assert row[0] == "19", out.stdout
    assert int(row[3]) >= 1 and int(row[4]) >= 3, out.stdout


def test_stats_and_settings_print_every_name():
    out = tool("stats")
    assert out.returncode == 0, out.stderr
    names = {line.split()[0] for line in out.stdout.splitlines()[1:]}
    for name in ("curr_items", "bytes", "limit_maxbytes", "evictions", "reclaimed",
                 "hash_power_level", "total_connections"):
        assert name in names, out.stdout
    out = tool("settings")
    assert out.returncode == 0, out.stderr
    settings = dict(line.split(None, 1) for line in out.stdout.splitlines()[1:])
    assert settings["maxbytes"].strip().isdigit(), out.stdout
    assert settings["growth_factor"].strip() == "1.25", out.stdout
    assert settings["chunk_size"].strip() == "48", out.stdout


def test_dump_writes_add_commands_for_the_items_and_ends():
    c = client()
    prefix = uuid.uuid4().hex[:8]
    keys = {f"{prefix}-dump-{i}": f"value {i}".encode() for i in range(5)}
    for key, value in keys.items():
        c.set(key, value, expire=0, noreply=False)
    c.set(f"{prefix}-dump-flags", b"flagged", noreply=False)
    out = tool("dump")
    assert out.returncode == 0, out.stderr
    found = {}
    for m in re.finditer(r"add (\S+) (\d+) (-?\d+) (\d+)\r\n(.*?)\r\n", out.stdout, re.S):
        found[m.group(1)] = m.group(5).encode()
    for key, value in keys.items():
        assert found.get(key) == value, (key, out.stdout[-2000:])


def test_keys_lists_the_keys():
    c = client()
    key = f"{uuid.uuid4().hex[:8]}-listed"
    c.set(key, b"v", noreply=False)
    out = tool("keys")
    assert out.returncode == 0, out.stderr
    assert re.search(rf"^key={re.escape(key)} exp=-1 la=\d+ cas=\d+ fetch=no cls=1 size=\d+",
                     out.stdout, re.M), out.stdout[-2000:]
