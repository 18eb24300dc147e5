//! Nanoseconds per request for the parsers: text get/set/multiget and binary get/set.
//! `cargo bench -p ferrocache-protocol`

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ferrocache_protocol::{binary, text, Limits, Parsed};

fn binary_packet(opcode: u8, extras: &[u8], key: &[u8], value: &[u8]) -> Vec<u8> {
    binary::encode_request(opcode, 7, 0, extras, key, value)
}

fn parse_benches(c: &mut Criterion) {
    let limits = Limits::default();
    let value32 = [b'v'; 32];
    let value1k = [b'v'; 1024];
    let mut set32 = b"set key:123456 0 0 32\r\n".to_vec();
    set32.extend_from_slice(&value32);
    set32.extend_from_slice(b"\r\n");
    let mut set1k = b"set key:123456 0 0 1024\r\n".to_vec();
    set1k.extend_from_slice(&value1k);
    set1k.extend_from_slice(b"\r\n");
    let mget10: Vec<u8> = {
        let mut l = b"get".to_vec();
        for i in 0..10 {
            l.extend_from_slice(format!(" key:{}", 100_000 + i).as_bytes());
        }
        l.extend_from_slice(b"\r\n");
        l
    };
    let text_cases: [(&str, Vec<u8>); 4] = [
        ("text get", b"get key:123456\r\n".to_vec()),
        ("text set 32 B", set32),
        ("text set 1 KB", set1k),
        ("text get 10 keys", mget10),
    ];
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(1));
    for (name, req) in &text_cases {
        assert!(matches!(text::parse(req, &limits), Parsed::Complete(_, n) if n == req.len()));
        group.bench_function(*name, |b| {
            b.iter(|| match text::parse(black_box(req), &limits) {
                Parsed::Complete(r, n) => {
                    black_box(&r);
                    n
                }
                _ => unreachable!(),
            })
        });
    }
    let extras = [0u8; 8];
    let bin_cases: [(&str, Vec<u8>); 2] = [
        (
            "binary get",
            binary_packet(binary::opcode::GET, &[], b"key:123456", &[]),
        ),
        (
            "binary set 32 B",
            binary_packet(binary::opcode::SET, &extras, b"key:123456", &value32),
        ),
    ];
    for (name, req) in &bin_cases {
        assert!(matches!(binary::parse(req, &limits), Parsed::Complete(_, n) if n == req.len()));
        group.bench_function(*name, |b| {
            b.iter(|| match binary::parse(black_box(req), &limits) {
                Parsed::Complete(r, n) => {
                    black_box(&r);
                    n
                }
                _ => unreachable!(),
            })
        });
    }
    group.finish();
}

criterion_group!(benches, parse_benches);
criterion_main!(benches);
