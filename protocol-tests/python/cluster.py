"""Starting server nodes and twemproxy for the multi-node tests.

The binaries come from the environment that scripts/test.sh sets:
  MEMCACHED_BIN   real memcached (the oracle)
  FERROCACHE_BIN  the ferrocache binary under test
  CACHE_SERVER_BIN  the binary of the server the current single-server run is testing
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

KINDS = ("memcached", "ferrocache")


def binary_for(kind):
    var = {"memcached": "MEMCACHED_BIN", "ferrocache": "FERROCACHE_BIN"}[kind]
    path = os.environ.get(var)
    if not path and kind == "memcached":
        path = shutil.which("memcached")
    if not path:
        raise RuntimeError(f"{var} is not set (scripts/test.sh sets it)")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc=None, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for port {port} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def wait_port_closed(port, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
        except OSError:
            return
        time.sleep(0.02)
    raise RuntimeError(f"127.0.0.1:{port} still accepts connections")


class Node:
    """One memcached or ferrocache process on a fixed loopback port."""

    def __init__(self, binary, port, extra_args=()):
        self.binary = binary
        self.port = port
        self.extra_args = list(extra_args)
        self.proc = None

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        args = [self.binary, "-U", "0", "-l", "127.0.0.1", "-p", str(self.port), *self.extra_args]
        if os.geteuid() == 0:
            args += ["-u", "root"]
        # The port of a node killed a moment ago can be briefly unavailable: try a few times.
        for attempt in range(20):
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_port(self.port, self.proc)
                return self
            except RuntimeError:
                if self.proc.poll() is None:
                    self.proc.kill()
                self.proc.wait()
                time.sleep(0.1 * (attempt + 1))
        raise RuntimeError(f"{self.binary} did not start on port {self.port}")

    def kill(self):
        """SIGKILL, as a crashed or unplugged node: no goodbye to the clients."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        wait_port_closed(self.port)

    def restart(self):
        self.kill()
        return self.start()

    def raw(self):
        """A plain pymemcache client talking to this node alone."""
        from pymemcache.client.base import Client

        return Client(("127.0.0.1", self.port), connect_timeout=2, timeout=2)


class Cluster:
    """Three (or n) nodes of one kind of server."""

    def __init__(self, kind, n=3, extra_args=(), binary=None):
        self.kind = kind
        binary = binary or binary_for(kind)
        self.nodes = [Node(binary, free_port(), extra_args) for _ in range(n)]

    def start(self):
        for node in self.nodes:
            node.start()
        return self

    def stop(self):
        for node in self.nodes:
            node.kill()

    @property
    def addresses(self):
        return [node.address for node in self.nodes]

    @property
    def ports(self):
        return [node.port for node in self.nodes]

    def holders(self, wire_keys):
        """For each key as sent on the wire, the indexes of the (running) nodes holding it."""
        found = {k: [] for k in wire_keys}
        for i, node in enumerate(self.nodes):
            if node.proc is None or node.proc.poll() is not None:
                continue
            c = node.raw()
            try:
                got = c.get_many(list(wire_keys))
            finally:
                c.close()
            for k in got:
                found[k if isinstance(k, str) else k.decode()].append(i)
        return found

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Twemproxy:
    """nutcracker with one pool of memcached-protocol servers, ketama distribution."""

    def __init__(self, ports, hash_name="md5"):
        self.ports = list(ports)
        self.port = free_port()
        self.hash_name = hash_name
        self.proc = None
        self.dir = None

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        exe = shutil.which("nutcracker") or "/usr/sbin/nutcracker"
        self.dir = tempfile.mkdtemp(prefix="ferrocache-twemproxy-")
        # Named servers: ketama hashes the names, not the (random) ports, so the spread of
        # keys over the nodes is the same in every run.
        servers = "".join(
            f"    - 127.0.0.1:{p}:1 node{i}\n" for i, p in enumerate(self.ports)
        )
        conf = os.path.join(self.dir, "nutcracker.yml")
        with open(conf, "w") as f:
            f.write(
                "pool:\n"
                f"  listen: 127.0.0.1:{self.port}\n"
                f"  hash: {self.hash_name}\n"
                "  distribution: ketama\n"
                "  timeout: 2000\n"
                "  auto_eject_hosts: false\n"
                "  servers:\n"
                f"{servers}"
            )
        self.proc = subprocess.Popen(
            [exe, "-c", conf, "-s", str(free_port()), "-o", os.path.join(self.dir, "log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port, self.proc)
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
