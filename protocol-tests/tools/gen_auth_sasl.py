#!/usr/bin/env python3
"""Writes protocol-tests/transcripts/auth_sasl.t: binary SASL (-S) transcripts.

Both servers get MEMCACHED_SASL_PWDB=fixtures/sasl-pwdb; the harness gives Debian's
memcached the same users through libsasl2 (see protocol-tests/src/sasl.rs). Run this again
after changing the cases below.
"""
import struct
from pathlib import Path

from gen_binary import esc, pkt, set_

FLAGS = "-S"
ENV = "MEMCACHED_SASL_PWDB=fixtures/sasl-pwdb"


def auth(data, mech=b"PLAIN", op=0x21, opaque=0x01020304):
    return pkt(op, mech, value=data, opaque=opaque)


def step(data, mech=b"PLAIN"):
    return auth(data, mech, op=0x22)


LIST = pkt(0x20)
NOOP = pkt("NOOP")
GOOD = auth(b"\x00user1\x00pass1")
GOOD2 = auth(b"\x00user2\x00pass2")
BAD = auth(b"\x00user1\x00wrong")
EMPTY = auth(b"")
SGOOD = step(b"\x00user1\x00pass1")
SBAD = step(b"\x00user1\x00wrong")


class Big:
    """A SASL auth request with `n` bytes of data, written with the {c*N} escape."""

    def __init__(self, n, op=0x21, mech=b"PLAIN"):
        self.head = struct.pack(">BBHBBHIIQ", 0x80, op, len(mech), 0, 0, 0, len(mech) + n,
                                0x01020304, 0) + mech
        self.n = n


CASES = [
    # What may be sent before authenticating.
    ("sasl-list-mechs", [LIST]),
    ("sasl-version-before-auth", [pkt("VERSION") + LIST]),
    ("sasl-noop-before-auth-closes", [NOOP]),
    ("sasl-get-before-auth-closes", [pkt("GET", b"k")]),
    ("sasl-quiet-get-before-auth-closes", [pkt("GETQ", b"k") + GOOD]),
    ("sasl-set-before-auth-closes", [set_(b"k", b"v") + GOOD]),
    ("sasl-stat-before-auth-closes", [pkt("STAT")]),
    ("sasl-quit-before-auth", [pkt("QUIT")]),
    ("sasl-unknown-opcode-before-auth", [pkt(0x55, b"k", value=b"vv")]),
    ("sasl-bad-shape-before-auth", [pkt("GET", b"k", extras=b"\x00\x00\x00\x00")]),
    ("sasl-long-key-before-auth", [pkt("GET", b"k" * 251)]),
    ("sasl-bad-lengths-before-auth", [pkt("GET", b"kk", body=1)]),
    ("sasl-version-then-noop", [pkt("VERSION") + NOOP]),
    ("sasl-text-is-refused", [b"version\r\n", b"get aaaaaaaaaaaaaaaaaaaaaaaaa\r\n"]),
    # PLAIN.
    ("sasl-plain-good", [GOOD, set_(b"k", b"v"), pkt("GET", b"k")]),
    ("sasl-plain-good-pipelined", [GOOD + set_(b"k", b"v") + pkt("GETK", b"k") + NOOP]),
    ("sasl-plain-second-user", [GOOD2, NOOP]),
    ("sasl-plain-wrong-password", [BAD, NOOP]),
    ("sasl-plain-unknown-user", [auth(b"\x00nobody\x00pass1"), NOOP]),
    ("sasl-plain-other-users-password", [auth(b"\x00user1\x00pass2")]),
    ("sasl-plain-authzid-same", [auth(b"user1\x00user1\x00pass1"), NOOP]),
    ("sasl-plain-authzid-other", [auth(b"user2\x00user1\x00pass1")]),
    ("sasl-plain-no-separator", [auth(b"user1pass1")]),
    ("sasl-plain-one-separator", [auth(b"user1\x00pass1")]),
    ("sasl-plain-trailing-nul", [auth(b"\x00user1\x00pass1\x00")]),
    ("sasl-plain-empty-user", [auth(b"\x00\x00pass1")]),
    ("sasl-plain-empty-password", [auth(b"\x00user1\x00")]),
    ("sasl-plain-lowercase-mech", [auth(b"\x00user1\x00pass1", mech=b"plain"), NOOP]),
    ("sasl-unknown-mech", [auth(b"\x00user1\x00pass1", mech=b"CRAM-MD5")]),
    ("sasl-mech-32-bytes", [auth(b"\x00user1\x00pass1", mech=b"P" * 32)]),
    ("sasl-mech-33-bytes", [auth(b"\x00user1\x00pass1", mech=b"P" * 33) + GOOD + NOOP]),
    ("sasl-auth-with-extras", [pkt(0x21, b"PLAIN", extras=b"\x00\x00\x00\x00", value=b"\x00u\x00p")]),
    ("sasl-auth-without-mech", [auth(b"\x00user1\x00pass1", mech=b"")]),
    ("sasl-list-with-body", [pkt(0x20, value=b"x")]),
    ("sasl-opaque-echoed", [auth(b"\x00user1\x00pass1", opaque=0x12345678) + pkt(0x20, opaque=7)]),
    ("sasl-auth-split-bytewise", [("bytewise", GOOD), NOOP]),
    ("sasl-auth-data-large", [auth(b"\x00user1\x00" + b"x" * 3000), GOOD + NOOP]),
    ("sasl-auth-data-at-limit", [Big(524224), GOOD + NOOP]),
    ("sasl-auth-data-over-limit", [Big(524225), GOOD + NOOP]),
    ("sasl-step-data-over-limit", [GOOD, Big(600000, op=0x22), NOOP]),
    ("sasl-over-limit-keeps-auth", [GOOD, Big(600000), NOOP]),
    ("sasl-long-mech-before-data-size", [Big(600000, mech=b"P" * 33), GOOD + NOOP]),
    ("sasl-step-long-mech", [EMPTY, step(b"\x00user1\x00pass1", mech=b"P" * 33), SGOOD, NOOP]),
    # Steps, and the order of requests.
    ("sasl-empty-auth-continues", [EMPTY]),
    ("sasl-empty-auth-then-step", [EMPTY, SGOOD, NOOP]),
    ("sasl-step-without-auth", [SGOOD, NOOP]),
    ("sasl-step-ignores-its-mech", [EMPTY, step(b"\x00user1\x00pass1", mech=b"FOO"), NOOP]),
    ("sasl-step-empty-data", [EMPTY, step(b""), SGOOD, NOOP]),
    ("sasl-step-bad-then-good", [EMPTY, SBAD, SBAD, SGOOD, NOOP]),
    ("sasl-step-bad-then-noop", [EMPTY, SBAD, NOOP]),
    ("sasl-failed-auth-ends-step", [EMPTY, BAD, SGOOD, NOOP]),
    ("sasl-unknown-mech-ends-step", [EMPTY, auth(b"x", mech=b"FOO"), SGOOD]),
    ("sasl-list-keeps-step", [EMPTY, LIST, SGOOD, NOOP]),
    ("sasl-version-keeps-step", [EMPTY, pkt("VERSION"), SGOOD, NOOP]),
    ("sasl-bad-then-good", [BAD, BAD, GOOD, NOOP]),
    ("sasl-auth-twice", [GOOD, GOOD, NOOP]),
    ("sasl-auth-three-times", [GOOD, GOOD, GOOD, NOOP]),
    ("sasl-auth-good-bad-good", [GOOD, BAD, GOOD, NOOP]),
    ("sasl-auth-other-user-after-auth", [GOOD, GOOD2, NOOP]),
    ("sasl-unknown-mech-after-auth", [GOOD, auth(b"x", mech=b"FOO"), GOOD, NOOP]),
    ("sasl-step-after-auth", [GOOD, SGOOD, GOOD, NOOP]),
    ("sasl-step-after-step", [EMPTY, SGOOD, SGOOD, NOOP]),
    ("sasl-list-after-auth", [GOOD, LIST, NOOP]),
    ("sasl-list-after-auth-then-auth", [GOOD, LIST, GOOD, NOOP]),
    ("sasl-empty-auth-after-auth", [GOOD, EMPTY, NOOP]),
    ("sasl-empty-auth-after-auth-then-step", [GOOD, EMPTY, EMPTY, SGOOD, NOOP]),
    ("sasl-version-keeps-auth", [GOOD, pkt("VERSION"), NOOP]),
    ("sasl-long-mech-keeps-auth", [GOOD, auth(b"x", mech=b"P" * 33), NOOP]),
    ("sasl-auth-then-quiet-commands", [GOOD + set_(b"k", b"v", op="SETQ") + pkt("GETQ", b"k") + pkt("GETQ", b"z") + NOOP]),
    ("sasl-connections-are-separate", [GOOD, ("b", NOOP)]),
]

SETTINGS_CASES = [
    ("sasl-with-ascii-auth-speaks-ascii", "-S -Y fixtures/authfile",
     [b"set a 0 0 11\r\nuser1 pass1\r\nget a\r\n", GOOD]),
]


def emit(out, send):
    conn = ""
    if isinstance(send, tuple) and send[0] == "b":
        conn, send = "@b ", send[1]
    if isinstance(send, tuple):
        out.append(f"{conn}>> {esc(send[1])}\n")
    elif isinstance(send, Big):
        out.append(f"{conn}> {esc(send.head)}{{x*{send.n}}}\n")
    else:
        out.append(f"{conn}> {esc(send)}\n")


def main():
    out = ["# Generated by protocol-tests/tools/gen_auth_sasl.py: binary SASL (-S), byte for byte.\n"]
    cases = [(n, FLAGS, s) for n, s in CASES] + SETTINGS_CASES
    for name, flags, sends in cases:
        out.append(f"=== {name}\n")
        out.append(f"flags: {flags}\n")
        out.append(f"env: {ENV}\n")
        for send in sends:
            emit(out, send)
    path = Path(__file__).resolve().parent.parent / "transcripts" / "auth_sasl.t"
    path.write_text("".join(out))
    print(f"wrote {len(cases)} transcripts to {path}")


if __name__ == "__main__":
    main()
