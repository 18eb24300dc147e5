//! User-space CPU per request, end to end with no socket: a connection's session is fed
//! recorded reads (parse, dispatch, the store, the reply, the buffers) as `conn::serve` feeds
//! it, and the replies are taken as a write would take them. The scenarios are those of
//! `scripts/bench-compare.sh`: 100,000 keys preloaded, uniform keys, 1 set to 10 gets.
//!
//! `cargo bench -p ferrocache-server --bench request_path`
//!
//! Each benchmark's time is per request (its throughput is one element per request), so
//! the figures compare across pipelines and protocols.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ferrocache_protocol::binary::{encode_request, opcode};
use ferrocache_server::replay::{Conn, Server};

// The server runs on mimalloc; measure with the same allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const KEYS: u64 = 100_000;
/// Requests recorded per scenario; the benchmark cycles through them. More than the keys:
/// fewer would let the keys they touch stay in the CPU's caches, which a server's 100,000
/// keys under uniform load do not (the first version recorded 4,096 reads, and a request at
/// pipeline 1 looked 40% cheaper than one at pipeline 16).
const REQUESTS: usize = 200_000;

#[derive(Clone, Copy)]
enum Proto {
    Text,
    Meta,
    Binary,
}

struct Scenario {
    name: &'static str,
    proto: Proto,
    /// Requests per read.
    pipeline: usize,
    value: usize,
    /// Sets per 11 requests (1 for memtier's 1:10, 0 for gets only).
    sets: u64,
    /// Keys per get.
    multiget: usize,
}

/// A small deterministic generator (xorshift), so every run replays the same traffic.
struct Keys(u64);

impl Keys {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % KEYS
    }
}

fn key(n: u64) -> String {
    format!("key:{n}")
}

fn request(s: &Scenario, is_set: bool, keys: &mut Keys, value: &[u8]) -> Vec<u8> {
    match (s.proto, is_set) {
        (Proto::Text, true) => {
            let mut r = format!("set {} 0 0 {}\r\n", key(keys.next()), value.len()).into_bytes();
            r.extend_from_slice(value);
            r.extend_from_slice(b"\r\n");
            r
        }
        (Proto::Text, false) => {
            let mut r = b"get".to_vec();
            for _ in 0..s.multiget {
                r.push(b' ');
                r.extend_from_slice(key(keys.next()).as_bytes());
            }
            r.extend_from_slice(b"\r\n");
            r
        }
        (Proto::Meta, true) => {
            let mut r = format!("ms {} {}\r\n", key(keys.next()), value.len()).into_bytes();
            r.extend_from_slice(value);
            r.extend_from_slice(b"\r\n");
            r
        }
        (Proto::Meta, false) => format!("mg {} v\r\n", key(keys.next())).into_bytes(),
        (Proto::Binary, true) => {
            let extras = [0u8; 8];
            encode_request(
                opcode::SET,
                0,
                0,
                &extras,
                key(keys.next()).as_bytes(),
                value,
            )
        }
        (Proto::Binary, false) => {
            encode_request(opcode::GET, 0, 0, &[], key(keys.next()).as_bytes(), b"")
        }
    }
}

/// The reads of a scenario, each of `pipeline` requests: `REQUESTS` in all.
fn reads(s: &Scenario) -> Vec<Vec<u8>> {
    let mut keys = Keys(0x9e37_79b9_7f4a_7c15);
    let value = vec![b'v'; s.value];
    let mut n = 0u64;
    (0..REQUESTS / s.pipeline)
        .map(|_| {
            let mut read = Vec::new();
            for _ in 0..s.pipeline {
                n += 1;
                let is_set = n % 11 < s.sets;
                read.extend(request(s, is_set, &mut keys, &value));
            }
            read
        })
        .collect()
}

fn preload(conn: &mut Conn<'_>, value: usize) {
    let mut out = Vec::new();
    let v = vec![b'v'; value];
    for k in 0..KEYS {
        let mut r = format!("set {} 0 0 {} noreply\r\n", key(k), value).into_bytes();
        r.extend_from_slice(&v);
        r.extend_from_slice(b"\r\n");
        conn.read(&r, &mut out);
    }
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
}

/// A server of its own for a scenario (leaked: it lives as long as the benchmark), its keys
/// preloaded, a connection, and the scenario's reads, each checked once: a benchmark of
/// error lines would measure nothing.
fn setup(s: &Scenario) -> (Conn<'static>, Vec<Vec<u8>>) {
    let server: &'static Server =
        Box::leak(Box::new(Server::new(&["-m", "1024", "-t", "2"]).unwrap()));
    preload(&mut server.conn(), s.value);
    // A connection of its own: its protocol is picked from its first byte.
    let mut conn = server.conn();
    let reads = reads(s);
    let mut out = Vec::new();
    for read in reads.iter().take(64) {
        out.clear();
        assert!(conn.read(read, &mut out));
        assert!(!out.is_empty());
        let text = String::from_utf8_lossy(&out);
        assert!(
            !text.contains("ERROR") && !text.contains("EN\r\n"),
            "{}: {text}",
            s.name
        );
    }
    (conn, reads)
}

fn request_path(c: &mut Criterion) {
    let base = Scenario {
        name: "",
        proto: Proto::Text,
        pipeline: 1,
        value: 32,
        sets: 1,
        multiget: 1,
    };
    let scenarios = [
        Scenario {
            name: "1 text 1:10 32B",
            ..base
        },
        Scenario {
            name: "2 text 1:10 32B pipeline 16",
            pipeline: 16,
            ..base
        },
        Scenario {
            name: "3 text 1:10 1KB",
            value: 1024,
            ..base
        },
        Scenario {
            name: "4 text get-only",
            sets: 0,
            ..base
        },
        Scenario {
            name: "5 text 1:10 10-key multiget",
            multiget: 10,
            ..base
        },
        Scenario {
            name: "6 binary 1:10 32B",
            proto: Proto::Binary,
            ..base
        },
        Scenario {
            name: "6p binary 1:10 32B pipeline 16",
            proto: Proto::Binary,
            pipeline: 16,
            ..base
        },
        Scenario {
            name: "m meta 1:10 32B",
            proto: Proto::Meta,
            ..base
        },
        Scenario {
            name: "mp meta 1:10 32B pipeline 16",
            proto: Proto::Meta,
            pipeline: 16,
            ..base
        },
    ];
    let mut group = c.benchmark_group("request path");
    for s in &scenarios {
        group.throughput(Throughput::Elements(s.pipeline as u64));
        // Set up on first use, so that a filtered run (`-- "pipeline 16"`, `--profile-time`)
        // fills only the stores it measures.
        let mut ready: Option<(Conn<'static>, Vec<Vec<u8>>)> = None;
        let mut out = Vec::with_capacity(1 << 20);
        let mut i = 0;
        group.bench_function(s.name, |b| {
            let (conn, reads) = ready.get_or_insert_with(|| setup(s));
            b.iter(|| {
                i = (i + 1) % reads.len();
                out.clear();
                black_box(conn.read(black_box(&reads[i]), &mut out));
            })
        });
    }
    group.finish();
}

criterion_group!(benches, request_path);
criterion_main!(benches);
