//! Structured round trip: builds a valid request of each protocol from fuzzer-chosen parts,
//! encodes it as a client would, and checks that the parser reads back exactly that request
//! (and uses exactly its bytes), and that every strict prefix is incomplete.
#![no_main]

use arbitrary::Arbitrary;
use ferrocache_protocol::binary::{self, opcode};
use ferrocache_protocol::meta::encode_key;
use ferrocache_protocol::text::{self, Request, StoreMode};
use ferrocache_protocol::{Limits, Parsed};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Input {
    Store {
        mode: u8,
        key: Vec<u8>,
        flags: u32,
        exptime: i32,
        cas: u64,
        value: Vec<u8>,
        noreply: bool,
    },
    Arith {
        key: Vec<u8>,
        incr: bool,
        delta: u64,
        noreply: bool,
    },
    Meta {
        command: u8,
        key: Vec<u8>,
        base64: bool,
        flags: Vec<(u8, u32)>,
        value: Vec<u8>,
    },
    Binary {
        op: u8,
        opaque: u32,
        cas: u64,
        key: Vec<u8>,
        value: Vec<u8>,
        extras: [u8; 20],
    },
}

/// A key a client may send: printable, no spaces, 1 to `max` bytes.
fn key(raw: &[u8], max: usize) -> Vec<u8> {
    let mut k: Vec<u8> = raw.iter().take(max).map(|b| 0x21 + b % 0x5e).collect();
    if k.is_empty() {
        k.push(b'k');
    }
    k
}

/// Parses `wire` and checks the round trip; returns the request's encoding.
fn text_round_trip(wire: &[u8], limits: &Limits) {
    let request = match text::parse(wire, limits) {
        Parsed::Complete(r, used) => {
            assert_eq!(used, wire.len(), "{wire:?}");
            r
        }
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(wire)),
    };
    let again = text::encode(&request);
    match text::parse(&again, limits) {
        Parsed::Complete(reparsed, n) => {
            assert_eq!(n, again.len());
            assert_eq!(reparsed, request);
        }
        other => panic!("{request:?} encoded as {again:?} parses as {other:?}"),
    }
    for cut in 0..wire.len() {
        assert!(matches!(
            text::parse(&wire[..cut], limits),
            Parsed::Incomplete(_)
        ));
    }
}

const META_FLAGS: &[u8] = b"kqctvsfhluOTCP";

fuzz_target!(|input: Input| {
    let limits = Limits {
        item_size_max: 1024 * 1024,
        cas_enabled: true,
    };
    match input {
        Input::Store {
            mode,
            key: k,
            flags,
            exptime,
            cas,
            value,
            noreply,
        } => {
            let mode = [
                StoreMode::Set,
                StoreMode::Add,
                StoreMode::Replace,
                StoreMode::Append,
                StoreMode::Prepend,
                StoreMode::Cas,
            ][usize::from(mode) % 6];
            let k = key(&k, 250);
            let request = Request::Store {
                mode,
                key: &k,
                flags,
                exptime,
                cas: if mode == StoreMode::Cas { cas } else { 0 },
                value: &value,
                noreply,
            };
            let wire = text::encode(&request);
            text_round_trip(&wire, &limits);
        }
        Input::Arith {
            key: k,
            incr,
            delta,
            noreply,
        } => {
            let k = key(&k, 250);
            let wire = text::encode(&Request::Arith {
                key: &k,
                incr,
                delta,
                noreply,
            });
            text_round_trip(&wire, &limits);
        }
        Input::Meta {
            command,
            key: k,
            base64,
            flags,
            value,
        } => {
            let name = ["mg", "ms", "md", "ma"][usize::from(command) % 4];
            let mut wire = format!("{name} ").into_bytes();
            if base64 {
                wire.extend_from_slice(encode_key(&k[..k.len().min(180)]).as_bytes());
            } else {
                wire.extend_from_slice(&key(&k, 250));
            }
            if name == "ms" {
                wire.extend_from_slice(format!(" {}", value.len()).as_bytes());
            }
            if base64 {
                wire.extend_from_slice(b" b");
            }
            let mut seen = [false; 256];
            for (pick, n) in flags.into_iter().take(15) {
                let code = META_FLAGS[usize::from(pick) % META_FLAGS.len()];
                if std::mem::replace(&mut seen[usize::from(code)], true) {
                    continue;
                }
                wire.push(b' ');
                wire.push(code);
                if b"OTCP".contains(&code) {
                    wire.extend_from_slice(n.to_string().as_bytes());
                }
            }
            wire.extend_from_slice(b"\r\n");
            if name == "ms" {
                wire.extend_from_slice(&value);
                wire.extend_from_slice(b"\r\n");
            }
            if base64 && k.is_empty() {
                // An empty key encodes to nothing: not a request.
                return;
            }
            text_round_trip(&wire, &limits);
        }
        Input::Binary {
            op,
            opaque,
            cas,
            key: k,
            value,
            extras,
        } => {
            let ops = [
                opcode::GET,
                opcode::GETKQ,
                opcode::SET,
                opcode::ADDQ,
                opcode::APPEND,
                opcode::DELETE,
                opcode::INCREMENT,
                opcode::TOUCH,
                opcode::GATK,
                opcode::NOOP,
                opcode::FLUSH,
            ];
            let op = ops[usize::from(op) % ops.len()];
            let k: Vec<u8> = k.into_iter().take(250).collect();
            if k.is_empty() {
                return;
            }
            let (ex, key, value): (&[u8], &[u8], &[u8]) = match op {
                opcode::GET | opcode::GETKQ | opcode::DELETE => (&[], &k, &[]),
                opcode::SET | opcode::ADDQ => (&extras[..8], &k, &value),
                opcode::APPEND => (&[], &k, &value),
                opcode::INCREMENT => (&extras, &k, &[]),
                opcode::TOUCH | opcode::GATK => (&extras[..4], &k, &[]),
                opcode::FLUSH => (&extras[..4], &[], &[]),
                _ => (&[], &[], &[]),
            };
            let wire = binary::encode_request(op, opaque, cas, ex, key, value);
            match binary::parse(&wire, &limits) {
                Parsed::Complete(r, used) => {
                    assert_eq!(used, wire.len());
                    assert_eq!(r.kind, binary::Kind::Ok);
                    let again = binary::encode_request(
                        r.header.opcode,
                        r.header.opaque,
                        r.header.cas,
                        r.extras,
                        r.key,
                        r.value,
                    );
                    assert_eq!(again, wire);
                }
                other => panic!("{wire:?}: {other:?}"),
            }
            for cut in 0..wire.len() {
                assert!(matches!(
                    binary::parse(&wire[..cut], &limits),
                    Parsed::Incomplete(_)
                ));
            }
        }
    }
});
