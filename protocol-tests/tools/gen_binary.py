#!/usr/bin/env python3
"""Writes protocol-tests/transcripts/binary.t: binary-protocol transcripts as escaped bytes.

Run it again after changing the cases below; the transcripts are compared against real
memcached like every other transcript.
"""
import struct
from pathlib import Path

OPS = dict(GET=0x00, SET=0x01, ADD=0x02, REPLACE=0x03, DELETE=0x04, INCR=0x05, DECR=0x06,
           QUIT=0x07, FLUSH=0x08, GETQ=0x09, NOOP=0x0A, VERSION=0x0B, GETK=0x0C, GETKQ=0x0D,
           APPEND=0x0E, PREPEND=0x0F, STAT=0x10, SETQ=0x11, ADDQ=0x12, REPLACEQ=0x13,
           DELETEQ=0x14, INCRQ=0x15, DECRQ=0x16, QUITQ=0x17, FLUSHQ=0x18, APPENDQ=0x19,
           PREPENDQ=0x1A, VERBOSITY=0x1B, TOUCH=0x1C, GAT=0x1D, GATQ=0x1E, SASL_LIST=0x20,
           SASL_AUTH=0x21, GATK=0x23, GATKQ=0x24)


def pkt(op, key=b"", extras=b"", value=b"", cas=0, opaque=0x01020304, magic=0x80, body=None):
    op = OPS[op] if isinstance(op, str) else op
    total = len(extras) + len(key) + len(value) if body is None else body
    return (struct.pack(">BBHBBHIIQ", magic, op, len(key), len(extras), 0, 0, total, opaque, cas)
            + extras + key + value)


def set_(key, value, flags=0, exp=0, cas=0, op="SET"):
    return pkt(op, key, struct.pack(">II", flags, exp), value, cas)


def arith(op, key, delta, initial=0, exp=0):
    return pkt(op, key, struct.pack(">QQI", delta, initial, exp))


def esc(b):
    """Escaped bytes; a run of 16 or more equal bytes becomes one {c*N}."""
    out, i = [], 0
    while i < len(b):
        j = i
        while j < len(b) and b[j] == b[i]:
            j += 1
        if j - i >= 16:
            out.append(f"{{\\x{b[i]:02x}*{j - i}}}")
        else:
            out.extend(f"\\x{c:02x}" for c in b[i:j])
        i = j
    return "".join(out)


CASES = [
    ("bin-get-miss", "", [pkt("GET", b"k")]),
    ("bin-getk-miss", "", [pkt("GETK", b"k")]),
    ("bin-getq-miss-then-noop", "", [pkt("GETQ", b"k") + pkt("NOOP")]),
    ("bin-getkq-miss-then-noop", "", [pkt("GETKQ", b"k") + pkt("NOOP")]),
    ("bin-set-get", "", [set_(b"k", b"hello", flags=7), pkt("GET", b"k"), pkt("GETK", b"k")]),
    ("bin-set-quiet-then-get", "", [set_(b"k", b"v", op="SETQ") + pkt("GETQ", b"k") + pkt("NOOP")]),
    ("bin-add-existing", "", [set_(b"k", b"v"), set_(b"k", b"w", op="ADD"), set_(b"k", b"w", op="ADDQ")]),
    ("bin-add-new", "", [set_(b"k", b"v", op="ADD"), pkt("GET", b"k")]),
    ("bin-replace-missing", "", [set_(b"k", b"v", op="REPLACE"), set_(b"k", b"v", op="REPLACEQ")]),
    ("bin-replace-existing", "", [set_(b"k", b"v"), set_(b"k", b"w", op="REPLACE"), pkt("GET", b"k")]),
    ("bin-set-cas-mismatch", "", [set_(b"k", b"v"), set_(b"k", b"w", cas=999), pkt("GET", b"k")]),
    ("bin-set-cas-missing", "", [set_(b"k", b"w", cas=5)]),
    ("bin-set-cas-match", "", [set_(b"k", b"v"), set_(b"k", b"w", cas=1), pkt("GET", b"k")]),
    ("bin-add-with-cas", "", [set_(b"k", b"v"), set_(b"k", b"w", cas=1, op="ADD"), pkt("GET", b"k")]),
    ("bin-delete", "", [set_(b"k", b"v"), pkt("DELETE", b"k"), pkt("DELETE", b"k")]),
    ("bin-delete-quiet", "", [set_(b"k", b"v") + pkt("DELETEQ", b"k") + pkt("DELETEQ", b"k") + pkt("NOOP")]),
    ("bin-delete-cas", "", [set_(b"k", b"v"), pkt("DELETE", b"k", cas=99), pkt("DELETE", b"k", cas=1)]),
    ("bin-incr-create", "", [arith("INCR", b"n", 5, initial=10), arith("INCR", b"n", 5), pkt("GET", b"n")]),
    ("bin-incr-no-create", "", [arith("INCR", b"n", 5, initial=10, exp=0xFFFFFFFF)]),
    ("bin-decr-floor", "", [set_(b"n", b"3"), arith("DECR", b"n", 10), pkt("GET", b"n")]),
    ("bin-incr-wrap", "", [set_(b"n", b"18446744073709551615"), arith("INCR", b"n", 1)]),
    ("bin-incr-non-numeric", "", [set_(b"n", b"abc"), arith("INCR", b"n", 1)]),
    ("bin-incr-quiet", "", [set_(b"n", b"1") + arith("INCRQ", b"n", 1) + pkt("GET", b"n")]),
    ("bin-incr-text-pads", "", [set_(b"n", b"100"), arith("DECR", b"n", 1), pkt("GET", b"n")]),
    ("bin-append-prepend", "", [set_(b"k", b"b", flags=3), pkt("APPEND", b"k", value=b"c"),
                                pkt("PREPEND", b"k", value=b"a"), pkt("GET", b"k")]),
    ("bin-append-missing", "", [pkt("APPEND", b"k", value=b"c"), pkt("PREPENDQ", b"k", value=b"a")]),
    # A CAS in an append's header must match the item's (its first set got CAS 1).
    ("bin-append-cas", "", [set_(b"k", b"b"), pkt("APPEND", b"k", value=b"c", cas=1),
                            pkt("APPEND", b"k", value=b"d", cas=1), pkt("PREPENDQ", b"k", value=b"a", cas=99),
                            pkt("GET", b"k")]),
    ("bin-append-cas-missing", "", [pkt("APPEND", b"k", value=b"c", cas=5)]),
    ("bin-touch", "", [set_(b"k", b"v", flags=9), pkt("TOUCH", b"k", struct.pack(">I", 100)),
                       pkt("TOUCH", b"nope", struct.pack(">I", 100))]),
    ("bin-gat", "", [set_(b"k", b"v"), pkt("GAT", b"k", struct.pack(">I", 100)),
                     pkt("GATK", b"k", struct.pack(">I", 100)), pkt("GAT", b"nope", struct.pack(">I", 1))]),
    ("bin-gatq", "", [set_(b"k", b"v") + pkt("GATQ", b"k", struct.pack(">I", 100))
                      + pkt("GATKQ", b"nope", struct.pack(">I", 100)) + pkt("NOOP")]),
    ("bin-gat-negative-expires", "", [set_(b"k", b"v"), pkt("GAT", b"k", struct.pack(">I", 0xFFFFFFFF)),
                                      pkt("GET", b"k")]),
    ("bin-flush", "", [set_(b"k", b"v"), pkt("FLUSH"), pkt("GET", b"k")]),
    ("bin-flush-quiet", "", [set_(b"k", b"v") + pkt("FLUSHQ") + pkt("GET", b"k")]),
    ("bin-flush-delay", "", [set_(b"k", b"v"), pkt("FLUSH", extras=struct.pack(">I", 100)), pkt("GET", b"k")]),
    ("bin-noop-version", "", [pkt("NOOP") + pkt("VERSION")]),
    ("bin-quit", "", [pkt("QUIT")]),
    ("bin-quitq", "", [pkt("QUITQ")]),
    ("bin-stat-sizes", "", [pkt("STAT", b"sizes")]),
    ("bin-stat-unknown", "", [pkt("STAT", b"nonsense")]),
    ("bin-verbosity", "", [pkt("VERBOSITY", extras=struct.pack(">I", 1)), pkt("NOOP")]),
    ("bin-unknown-opcode", "", [pkt(0x55, b"k", value=b"xyz") + pkt("NOOP")]),
    ("bin-sasl-list-without-sasl", "", [pkt("SASL_LIST")]),
    ("bin-sasl-auth-without-sasl", "", [pkt("SASL_AUTH", b"PLAIN", value=b"\x00u\x00p") + pkt("NOOP")]),
    ("bin-get-with-extras-is-protocol-error", "", [pkt("GET", b"k", extras=b"\x00\x00\x00\x00")]),
    ("bin-key-251", "", [pkt("GET", b"k" * 251)]),
    ("bin-key-longer-than-body", "", [pkt("GET", b"kk", body=1)]),
    ("bin-set-without-extras", "", [pkt("SET", b"k", value=b"v")]),
    ("bin-bad-magic", "", [pkt("NOOP", magic=0x81)]),
    ("bin-too-large", "-I 512k", [set_(b"k", b"old"), set_(b"k", b"x" * 600000) + pkt("GET", b"k")]),
    # Large values: a reply that shares the stored value, a set kept in its own read buffer
    # (header and value in one send, or the header first), and an append to such a value.
    ("bin-large-set-get", "", [set_(b"big", b"x" * 300000, flags=5), pkt("GET", b"big"),
                               pkt("GETK", b"big"), pkt("GATK", b"big", struct.pack(">I", 100)),
                               pkt("APPEND", b"big", value=b"y" * 20000), pkt("GETQ", b"big") + pkt("NOOP")]),
    ("bin-large-header-first", "", [set_(b"big", b"z" * 200000, flags=3)[:24 + 8 + 3],
                                    b"z" * 200000, pkt("GET", b"big")]),
    ("bin-pipelined-quiet-gets", "", [set_(b"a", b"1") + set_(b"b", b"2"),
                                      pkt("GETKQ", b"a") + pkt("GETKQ", b"z") + pkt("GETKQ", b"b") + pkt("NOOP")]),
    ("bin-split-bytewise", "", [("bytewise", set_(b"k", b"hello")), pkt("GET", b"k")]),
    ("bin-then-text-is-binary", "", [pkt("NOOP"), b"version\r\n"]),
    ("bin-disable-flush", "-F", [pkt("FLUSH")]),
    ("bin-disable-cas", "-C", [set_(b"k", b"v"), pkt("GET", b"k")]),
]


def main():
    out = ["# Generated by protocol-tests/tools/gen_binary.py: binary protocol, byte for byte.\n"]
    for name, flags, sends in CASES:
        out.append(f"=== {name}\n")
        if flags:
            out.append(f"flags: {flags}\n")
        for send in sends:
            if isinstance(send, tuple):
                out.append(f">> {esc(send[1])}\n")
            else:
                out.append(f"> {esc(send)}\n")
    path = Path(__file__).resolve().parent.parent / "transcripts" / "binary.t"
    path.write_text("".join(out))
    print(f"wrote {len(CASES)} transcripts to {path}")


if __name__ == "__main__":
    main()
