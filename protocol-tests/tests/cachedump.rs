//! `stats cachedump` stops at memcached's 2 MB reply, on both servers at the same line.
//!
//! Too many items for a transcript: 10,000 keys of 250 bytes, whose listing would be 2.7 MB.
//! Every line has the same length, so the two servers must stop after the same number of
//! lines whatever order they list the items in.

use protocol_tests::server::{ferrocache_binary, memcached_binary, Server};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn dump(port: u16) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut batch = Vec::new();
    for i in 0..10_000 {
        let key = format!("{i:0>250}");
        batch.extend_from_slice(format!("set {key} 0 0 1 noreply\r\nx\r\n").as_bytes());
    }
    s.write_all(&batch).unwrap();
    // memcached lists an item once it has left its HOT LRU, about a second after the set.
    std::thread::sleep(Duration::from_millis(2500));
    // 250-byte keys with 1-byte values are 310 bytes: class 7 (384-byte chunks).
    s.write_all(b"stats cachedump 7 0\r\n").unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    while !got.ends_with(b"END\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    got
}

#[test]
fn cachedump_stops_at_two_megabytes_like_memcached() {
    let flags: Vec<String> = vec!["-m".into(), "64".into()];
    let memcached = Server::start(&memcached_binary().unwrap(), &flags).unwrap();
    let ferrocache = Server::start(&ferrocache_binary().unwrap(), &flags).unwrap();
    let theirs = dump(memcached.port);
    let ours = dump(ferrocache.port);
    let lines = |d: &[u8]| {
        d.split(|&b| b == b'\n')
            .filter(|l| l.starts_with(b"ITEM "))
            .count()
    };
    assert!(theirs.len() <= 2 * 1024 * 1024 && theirs.len() > 2 * 1024 * 1024 - 300);
    assert_eq!(lines(&ours), lines(&theirs));
    assert_eq!(ours.len(), theirs.len());
    let first = ours.split(|&b| b == b'\n').next().unwrap();
    assert!(first.starts_with(b"ITEM 0000") && first.ends_with(b" [1 b; 0 s]\r"));
}
