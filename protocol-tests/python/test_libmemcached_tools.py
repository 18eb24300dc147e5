"""libmemcached's command-line tools (Debian's libmemcached-tools) against the server."""

import re
import subprocess
import time
import uuid

import pytest

from conftest import server_address


def run(*args):
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def servers_flag():
    return f"--servers={server_address()}"


# memcapable's `ascii delete` tests send `delete <key> 10` and want it refused, as memcached
# did before 1.6.45's parser; 1.6.45 ignores the extra token, and so does ferrocache.
MEMCAPABLE_EXPECTS_1_6_18 = {"ascii delete", "ascii delete noreply"}


@pytest.mark.parametrize("mode", ["-a", "-b"], ids=["ascii", "binary"])
def test_memccapable_passes_every_test(mode):
    host, port = server_address().rsplit(":", 1)
    out = run("memccapable", "-h", host, "-p", port, mode)
    # Each test prints its name padded with spaces on stdout, then [pass] there or [FAIL]
    # on stderr.
    results = re.findall(r"((?:ascii|binary) [\w ]+?) {2,}(\[pass\])?", out.stdout)
    assert len(results) > 10, out.stdout + out.stderr
    failed = {name for name, passed in results if not passed}
    expected = MEMCAPABLE_EXPECTS_1_6_18 if mode == "-a" else set()
    assert failed == expected, out.stdout + out.stderr


def test_memccp_memccat_memcrm(tmp_path):
    path = tmp_path / "tool-file.txt"
    path.write_text("contents from a file\n")
    assert run("memccp", servers_flag(), str(path)).returncode == 0
    out = run("memccat", servers_flag(), "tool-file.txt")
    # memccat prints the value followed by a newline of its own.
    assert out.returncode == 0 and out.stdout == "contents from a file\n\n"
    assert run("memcexist", servers_flag(), "tool-file.txt").returncode == 0
    assert run("memctouch", servers_flag(), "--expire=100", "tool-file.txt").returncode == 0
    assert run("memcrm", servers_flag(), "tool-file.txt").returncode == 0
    assert run("memcexist", servers_flag(), "tool-file.txt").returncode != 0


def test_memcstat_and_memcflush():
    out = run("memcstat", servers_flag())
    assert out.returncode == 0
    for field in ("pid", "uptime", "curr_items", "total_items", "bytes", "limit_maxbytes"):
        assert field in out.stdout, field
    assert run("memccp", servers_flag(), "/etc/hostname").returncode == 0
    assert run("memcflush", servers_flag()).returncode == 0
    assert run("memcexist", servers_flag(), "hostname").returncode != 0


def test_memcdump_lists_the_keys(tmp_path):
    names = [f"dump-{uuid.uuid4().hex[:8]}-{i}" for i in range(3)]
    for name in names:
        (tmp_path / name).write_text(name)
    assert run("memccp", servers_flag(), *[str(tmp_path / n) for n in names]).returncode == 0
    # memcached lists an item once its LRU maintainer has moved it out of the HOT queue,
    # within a second or so of the set: ask again until then.
    deadline = time.monotonic() + 5
    while True:
        out = run("memcdump", servers_flag())
        assert out.returncode == 0, out.stderr
        listed = set(out.stdout.split())
        if set(names) <= listed or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert set(names) <= listed, out.stdout


def test_memcstat_args_items_and_memcstat_analyze():
    out = run("memcstat", servers_flag(), "--args=items")
    assert out.returncode == 0
    assert "items:" in out.stdout
    out = run("memcstat", servers_flag(), "--analyze")
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"Number of Servers Analyzed\s*: 1\b", out.stdout), out.stdout
