//! Holds `protocol_tests::stats_table` to the two live servers: every name memcached 1.6.45
//! prints in `stats`, `stats settings`, `stats items` and `stats slabs` is in the table, and
//! ferrocache prints, in memcached's order, exactly the names the table does not mark
//! missing.
//!
//! Both servers run with `-o idle_timeout`, `-o temporary_ttl` (a TEMP LRU) and items of a small and a large
//! class (one of them chunked), so that the names memcached prints only in those cases are
//! checked too.

use protocol_tests::server::{ferrocache_binary, memcached_binary, Server};
use protocol_tests::stats_table::{pattern, Status, STATS};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const GROUPS: [(&str, &str); 4] = [
    ("stats", "stats\r\n"),
    ("settings", "stats settings\r\n"),
    ("items", "stats items\r\n"),
    ("slabs", "stats slabs\r\n"),
];

fn ask(stream: &mut TcpStream, request: &[u8], end: &[u8]) -> Vec<u8> {
    stream.write_all(request).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    while !got.ends_with(end) {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    got
}

/// The names each group prints, as patterns, in order, once each.
fn names(port: u16) -> Vec<(&'static str, Vec<String>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let big = vec![b'x'; 600_000];
    let mut set = b"set small 1 0 5\r\nhello\r\nset big 0 0 600000\r\n".to_vec();
    set.extend_from_slice(&big);
    set.extend_from_slice(b"\r\nset temp 0 5 1\r\nx\r\nget small\r\n");
    ask(&mut s, &set, b"END\r\n");
    GROUPS
        .iter()
        .map(|&(group, request)| {
            let reply = ask(&mut s, request.as_bytes(), b"END\r\n");
            let mut seen: Vec<String> = Vec::new();
            for line in String::from_utf8(reply).unwrap().lines() {
                if let Some(rest) = line.strip_prefix("STAT ") {
                    let name = pattern(rest.split(' ').next().unwrap());
                    if !seen.contains(&name) {
                        seen.push(name);
                    }
                }
            }
            (group, seen)
        })
        .collect()
}

fn flags() -> Vec<String> {
    ["-o", "idle_timeout=600,temporary_ttl=10"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn every_memcached_stats_name_is_listed_and_served_as_listed() {
    let memcached = Server::start(&memcached_binary().unwrap(), &flags()).unwrap();
    let ferrocache = Server::start(&ferrocache_binary().unwrap(), &flags()).unwrap();
    let theirs = names(memcached.port);
    let ours = names(ferrocache.port);
    let mut problems = Vec::new();
    for ((group, theirs), (_, ours)) in theirs.iter().zip(&ours) {
        let listed = |name: &str| STATS.iter().find(|s| s.group == *group && s.name == name);
        for name in theirs {
            if listed(name).is_none() {
                problems.push(format!("{group}: memcached's {name} is not in the table"));
            }
        }
        let expected: Vec<&String> = theirs
            .iter()
            .filter(|n| listed(n).is_some_and(|s| s.status != Status::Missing))
            .collect();
        let served: Vec<&String> = ours.iter().collect();
        if served != expected {
            problems.push(format!(
                "{group}: ferrocache serves\n  {served:?}\nthe table expects\n  {expected:?}"
            ));
        }
    }
    // A name the table lists as served but memcached did not print here (a TLS-only name,
    // say) is checked by the transcripts that set its flags; one that neither server printed
    // is listed for nothing.
    for s in STATS.iter().filter(|s| s.status == Status::Missing) {
        assert!(
            !s.why.is_empty(),
            "{}: no reason given for {}",
            s.group,
            s.name
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_table_explains_every_status_but_a_plain_match() {
    for s in STATS {
        if s.status != Status::Same {
            assert!(!s.why.is_empty(), "{} {} has no reason", s.group, s.name);
        }
        let twice = STATS
            .iter()
            .filter(|t| t.group == s.group && t.name == s.name)
            .count();
        assert_eq!(twice, 1, "{} {} is listed {twice} times", s.group, s.name);
    }
}
