//! What each fuzz target checks. The targets (`fuzz_targets/*.rs`) and the replay of the
//! committed corpus in `cargo test` (`crates/protocol/tests/fuzz_corpus.rs`) both include this
//! file with `#[path]`, so a corpus input is checked the same way in both. Every function
//! panics when an invariant breaks.
#![allow(dead_code)] // each fuzz target uses one of them

use arbitrary::Arbitrary;
use ferrocache_protocol::binary::{self, opcode};
use ferrocache_protocol::meta::encode_key;
use ferrocache_protocol::text::{self, Request, StatsGroup, StoreMode};
use ferrocache_protocol::{Limits, Parsed};

/// `text_parse`: arbitrary bytes to the text-protocol parser (which also reads meta lines),
/// fed as a connection feeds them (see [`drive`]).
pub fn text_parse(data: &[u8]) {
    let limits = Limits {
        item_size_max: 4096,
        cas_enabled: data.first().is_some_and(|b| b & 1 == 0),
    };
    drive(data, &limits);
}

const META_NAMES: [&[u8]; 6] = [b"mg ", b"ms ", b"md ", b"ma ", b"me ", b"mn"];

/// `meta_parse`: arbitrary bytes after a meta command name (chosen by the first byte, whose
/// top bit also turns CAS off), fed as a connection feeds them (see [`drive`]).
pub fn meta_parse(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let mut buf = META_NAMES[usize::from(pick) % META_NAMES.len()].to_vec();
    buf.extend_from_slice(body);
    let limits = Limits {
        item_size_max: 4096,
        cas_enabled: pick & 0x80 == 0,
    };
    drive(&buf, &limits);
}

/// The loop the text and meta targets share: feed bytes to the text parser as a connection
/// does (parse a request, drop the bytes it used and any data block to swallow, repeat).
/// The parser must never panic, never claim bytes it was not given, always make progress,
/// and what it understood must encode back to bytes it understands the same way.
fn drive(data: &[u8], limits: &Limits) {
    let mut rest = data;
    let mut swallow = 0usize;
    while !rest.is_empty() {
        if swallow > 0 {
            let n = swallow.min(rest.len());
            rest = &rest[n..];
            swallow -= n;
            continue;
        }
        match text::parse(rest, limits) {
            Parsed::Complete(request, used) => {
                assert!(used > 0 && used <= rest.len());
                if let Request::Meta(m) = &request {
                    assert!(m.key.len() <= 250);
                }
                if let Request::TooLarge { swallow: s, .. }
                | Request::MetaTooLarge { swallow: s, .. } = request
                {
                    swallow = s;
                } else if !matches!(
                    request,
                    // Key lists keep the client's spacing; the others carry "unreadable", or
                    // an error line that depends on how the arguments were wrong.
                    Request::Get { .. }
                        | Request::Shutdown { graceful: None, .. }
                        | Request::FlushAll { delay: None, .. }
                        | Request::Stats(StatsGroup::Cachedump(Err(_)))
                ) {
                    let again = text::encode(&request);
                    match text::parse(&again, limits) {
                        Parsed::Complete(reparsed, n) => {
                            assert_eq!(n, again.len());
                            assert_eq!(reparsed, request);
                        }
                        other => panic!("{request:?} encoded as {again:?} parses as {other:?}"),
                    }
                }
                rest = &rest[used..];
            }
            Parsed::Rejected(rejection, used) => {
                assert!(used > 0 && used <= rest.len());
                swallow = rejection.swallow;
                rest = &rest[used..];
            }
            Parsed::Incomplete(need) => {
                if let Some(total) = need {
                    assert!(total > rest.len());
                }
                break;
            }
        }
    }
}

/// `binary_parse`: arbitrary bytes to the binary-protocol parser as a connection would feed
/// them. It must never panic, never claim bytes it was not given, and always make progress.
pub fn binary_parse(data: &[u8]) {
    let limits = Limits {
        item_size_max: 4096,
        cas_enabled: true,
    };
    let mut rest = data;
    let mut swallow = 0usize;
    while !rest.is_empty() {
        if swallow > 0 {
            let n = swallow.min(rest.len());
            rest = &rest[n..];
            swallow -= n;
            continue;
        }
        match binary::parse(rest, &limits) {
            Parsed::Complete(request, used) => {
                assert!(used >= 24 && used <= rest.len());
                assert!(request.key.len() <= usize::from(request.header.key_len));
                swallow = request.swallow;
                rest = &rest[used..];
            }
            Parsed::Rejected(_, _) => break,
            Parsed::Incomplete(need) => {
                assert!(need.is_some_and(|n| n > rest.len()));
                break;
            }
        }
    }
}

/// What `round_trip` builds a request from.
#[derive(Arbitrary, Debug)]
pub enum RoundTripInput {
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

/// Parses `wire`, which must be exactly one request, and checks that it encodes back to
/// bytes that parse the same and that every strict prefix of `wire` is incomplete.
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

/// `round_trip`: builds a valid request of each protocol from fuzzer-chosen parts, encodes it
/// as a client would, and checks that the parser reads back exactly that request (and uses
/// exactly its bytes), and that every strict prefix is incomplete.
pub fn round_trip(input: RoundTripInput) {
    let limits = Limits {
        item_size_max: 1024 * 1024,
        cas_enabled: true,
    };
    match input {
        RoundTripInput::Store {
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
        RoundTripInput::Arith {
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
        RoundTripInput::Meta {
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
                // memcached reads a TTL as a 32-bit signed number and refuses a larger one.
                let arg = match code {
                    b'T' => (n as i32).to_string(),
                    b'O' | b'C' | b'P' => n.to_string(),
                    _ => String::new(),
                };
                wire.extend_from_slice(arg.as_bytes());
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
        RoundTripInput::Binary {
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
}
