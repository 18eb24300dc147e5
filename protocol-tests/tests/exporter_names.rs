//! Every name prometheus/memcached_exporter (pkg/exporter/exporter.go, 2025) reads from
//! `stats`, `stats settings`, `stats items` and `stats slabs`, read from ferrocache by the
//! exporter's own rules: a missing name is skipped silently (so a dashboard goes blank with no
//! error), a present one must parse as Go's `strconv.ParseFloat` reads it, `rusage_*` as
//! "seconds.micros", and the LRU settings (read only when `lru_crawler` is "yes") as
//! "yes"/"no" where the exporter reads a bool.

use protocol_tests::server::{ferrocache_binary, Server};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// `stats`: every key `parseStats` reads (extstore and proxy keys are read only when
/// `extstore_limit_maxbytes` / `proxy_backend_total` exist, which they do not here, as in a
/// memcached without them).
const GENERAL: &[&str] = &[
    "get_hits",
    "get_misses",
    "delete_hits",
    "delete_misses",
    "incr_hits",
    "incr_misses",
    "decr_hits",
    "decr_misses",
    "cas_hits",
    "cas_misses",
    "touch_hits",
    "touch_misses",
    "uptime",
    "time",
    "cas_badval",
    "cmd_flush",
    "cmd_set",
    "bytes",
    "limit_maxbytes",
    "curr_items",
    "total_items",
    "bytes_read",
    "bytes_written",
    "curr_connections",
    "total_connections",
    "rejected_connections",
    "conn_yields",
    "listen_disabled_num",
    "evictions",
    "reclaimed",
    "store_too_large",
    "store_no_memory",
    "lru_crawler_starts",
    "direct_reclaims",
    "crawler_items_checked",
    "crawler_reclaimed",
    "moves_to_cold",
    "moves_to_warm",
    "moves_within_lru",
    "accepting_conns",
];
// It also reads `total_malloced` "from `stats`": its client (grobie/gomemcache) files the
// global lines of `stats slabs` (`active_slabs`, `total_malloced`) with `stats`' own.
/// `stats items`, per class: the ones it reads always, then its counter and gauge maps.
const ITEMS: &[&str] = &[
    "number",
    "age",
    "hits_to_hot",
    "hits_to_warm",
    "hits_to_cold",
    "hits_to_temp",
    "crawler_reclaimed",
    "evicted",
    "evicted_nonzero",
    "evicted_time",
    "evicted_unfetched",
    "expired_unfetched",
    "outofmemory",
    "reclaimed",
    "tailrepairs",
    "mem_requested",
    "moves_to_cold",
    "moves_to_warm",
    "moves_within_lru",
    "number_hot",
    "number_warm",
    "number_cold",
    "age_hot",
    "age_warm",
];
/// `stats slabs`, per class.
const SLABS: &[&str] = &[
    "get_hits",
    "delete_hits",
    "incr_hits",
    "decr_hits",
    "cas_hits",
    "touch_hits",
    "cas_badval",
    "cmd_set",
    "chunk_size",
    "chunks_per_page",
    "total_pages",
    "total_chunks",
    "used_chunks",
    "free_chunks",
    "free_chunks_end",
];
/// `stats settings`, numbers, read when `lru_crawler` is "yes".
const SETTINGS_NUMBERS: &[&str] = &[
    "maxconns",
    "lru_crawler_sleep",
    "lru_crawler_tocrawl",
    "hot_lru_pct",
    "warm_lru_pct",
    "hot_max_factor",
    "warm_max_factor",
];
const SETTINGS_BOOLS: &[&str] = &["lru_crawler", "lru_maintainer_thread"];

fn group(s: &mut TcpStream, request: &str) -> Vec<(String, String)> {
    s.write_all(request.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    while !got.ends_with(b"END\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(got)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("STAT "))
        .map(|l| {
            let (k, v) = l.split_once(' ').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// Go's ParseFloat on memcached's decimal figures.
fn number(v: &str) -> bool {
    !v.is_empty() && v.parse::<f64>().is_ok()
}

#[test]
fn every_name_the_exporter_reads_is_there_and_parses() {
    let server = Server::start(&ferrocache_binary().unwrap(), &[]).unwrap();
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"set a 0 0 1\r\n1\r\nset b 0 0 3000\r\n")
        .unwrap();
    s.write_all(&[b'x'; 3000]).unwrap();
    s.write_all(b"\r\nget a\r\n").unwrap();
    group(&mut s, "");
    let mut problems = Vec::new();

    let general: HashMap<_, _> = group(&mut s, "stats\r\n").into_iter().collect();
    for name in GENERAL {
        match general.get(*name) {
            Some(v) if number(v) => {}
            other => problems.push(format!("stats {name}: {other:?}")),
        }
    }
    for name in ["rusage_user", "rusage_system"] {
        let ok = general.get(name).is_some_and(|v| {
            v.split('.').count() == 2 && v.split('.').all(|p| p.parse::<f64>().is_ok())
        });
        if !ok {
            problems.push(format!("stats {name}: {:?}", general.get(name)));
        }
    }
    if !general.contains_key("version") {
        problems.push("stats version missing".into());
    }

    // grobie/gomemcache files "items:N:key" under class N, "N:key" under slab N.
    let mut items: HashMap<String, HashMap<String, String>> = HashMap::new();
    for (k, v) in group(&mut s, "stats items\r\n") {
        let mut parts = k.splitn(3, ':');
        let (_, class, key) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
        items.entry(class.into()).or_default().insert(key.into(), v);
    }
    let mut slabs: HashMap<String, HashMap<String, String>> = HashMap::new();
    let globals = group(&mut s, "stats slabs\r\n");
    if !globals
        .iter()
        .any(|(k, v)| k == "total_malloced" && number(v))
    {
        problems.push("stats slabs total_malloced missing".into());
    }
    for (k, v) in group(&mut s, "stats slabs\r\n") {
        match k.split_once(':') {
            Some((class, key)) => {
                slabs.entry(class.into()).or_default().insert(key.into(), v);
            }
            None if k == "total_malloced" && number(&v) => {}
            None if k == "active_slabs" => {}
            None => problems.push(format!("stats slabs {k}: {v}")),
        }
    }
    assert_eq!(items.len(), 2, "two classes hold items: {items:?}");
    assert_eq!(slabs.len(), 2, "two classes hold items: {slabs:?}");
    for (what, classes, names) in [("items", &items, ITEMS), ("slabs", &slabs, SLABS)] {
        for (class, stats) in classes.iter() {
            for name in names {
                match stats.get(*name) {
                    Some(v) if number(v) => {}
                    other => problems.push(format!("{what} {class}:{name}: {other:?}")),
                }
            }
        }
    }

    let settings: HashMap<_, _> = group(&mut s, "stats settings\r\n").into_iter().collect();
    for name in SETTINGS_NUMBERS {
        match settings.get(*name) {
            Some(v) if number(v) => {}
            other => problems.push(format!("settings {name}: {other:?}")),
        }
    }
    for name in SETTINGS_BOOLS {
        match settings.get(*name).map(String::as_str) {
            Some("yes" | "no") => {}
            other => problems.push(format!("settings {name}: {other:?}")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
