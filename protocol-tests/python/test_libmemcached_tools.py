"""libmemcached's command-line tools (Debian's libmemcached-tools) against the server."""

import subprocess

from conftest import server_address


def run(*args):
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def servers_flag():
    return f"--servers={server_address()}"


import pytest


@pytest.mark.parametrize("mode", ["-a", "-b"], ids=["ascii", "binary"])
def test_memccapable_passes_every_test(mode):
    host, port = server_address().rsplit(":", 1)
    out = run("memccapable", "-h", host, "-p", port, mode)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "All tests passed" in out.stdout
    assert "[FAIL]" not in out.stdout


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
