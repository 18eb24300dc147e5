//! What may differ between memcached and ferrocache, and nothing else.
//!
//! 1. Values of `stats` fields that are volatile by nature ([`VOLATILE`]): times, pids,
//!    ports, byte counts that depend on when replies were written.
//! 2. `stats` fields memcached has and ferrocache does not report, because ferrocache has no
//!    such figure ([`MISSING`], each with its reason). ferrocache never reports a field that
//!    memcached lacks: any such line is a difference.
//! 3. File descriptor numbers in `stats conns`.
//! 4. In `watch` log lines (`ts=<secs>.<usecs> gid=<n> type=...`): the time stamp, the
//!    client's port (`rport=`), and the connections' descriptors (`cfd=`), which are
//!    renamed `<fd1>`, `<fd2>`... in order of first appearance, so a line still has to name
//!    the same connection as memcached's. `gid=` and everything else must be equal.
//!
//! Every other byte must be equal, the version string included (both say 1.6.45), and every
//! other `stats` value too.

/// Stats fields whose value is volatile: (name, reason).
pub const VOLATILE: &[(&str, &str)] = &[
    ("pid", "process id"),
    ("uptime", "seconds since start"),
    ("time", "wall clock"),
    ("rusage_user", "CPU time"),
    ("rusage_system", "CPU time"),
    (
        "bytes_read",
        "depends on earlier traffic only, but kept volatile for stats-reset timing",
    ),
    (
        "bytes_written",
        "counts replies when written, which a pipelined or split run does at other moments",
    ),
    ("tcpport", "each server gets its own free port"),
    ("secs_since_last_cmd", "timing"),
    ("addr", "the client's ephemeral port"),
    ("listen_addr", "each server gets its own free port"),
    ("time_since_server_cert_refresh", "seconds"),
];

/// Stats fields memcached reports and ferrocache does not: (name or pattern, reason).
/// `items:N:x` and `N:x` (per slab class) patterns are written with `*` for the number.
pub const MISSING: &[(&str, &str)] = &[
    ("libevent", "ferrocache does not use libevent"),
    (
        "connection_structures",
        "no preallocated connection structures",
    ),
    ("response_obj_oom", "no response object pool"),
    ("response_obj_count", "no response object pool"),
    ("response_obj_bytes", "no response object pool"),
    ("read_buf_count", "no read buffer pool"),
    ("read_buf_bytes", "no read buffer pool"),
    ("read_buf_bytes_free", "no read buffer pool"),
    ("read_buf_oom", "no read buffer pool"),
    (
        "reserved_fds",
        "connection limit counts clients, not descriptors",
    ),
    ("listen_disabled_num", "listening is never disabled"),
    ("time_in_listen_disabled_us", "listening is never disabled"),
    (
        "conn_yields",
        "no -R request budget: tokio schedules connections",
    ),
    ("hash_power_level", "the hash table is moka's"),
    ("hash_bytes", "the hash table is moka's"),
    ("hash_is_expanding", "the hash table is moka's"),
    ("slab_reassign_rescues", "no slabs"),
    ("slab_reassign_chunk_rescues", "no slabs"),
    ("slab_reassign_evictions_nomem", "no slabs"),
    ("slab_reassign_inline_reclaim", "no slabs"),
    ("slab_reassign_busy_items", "no slabs"),
    ("slab_reassign_busy_deletes", "no slabs"),
    ("slab_reassign_running", "no slabs"),
    ("slabs_moved", "no slabs"),
    (
        "lru_crawler_running",
        "no LRU crawler: expiry is checked on read",
    ),
    ("lru_crawler_starts", "no LRU crawler"),
    ("lru_maintainer_juggles", "no LRU maintainer thread"),
    ("malloc_fails", "not tracked"),
    ("unexpected_napi_ids", "no NAPI id support"),
    ("round_robin_fallback", "no NAPI id support"),
    ("slab_global_page_pool", "no slabs"),
    ("expired_unfetched", "fetched flag not tracked"),
    ("evicted_unfetched", "fetched flag not tracked"),
    ("evicted_active", "no segmented LRU"),
    ("reclaimed", "memory is not reused in place"),
    ("crawler_reclaimed", "no LRU crawler"),
    ("crawler_items_checked", "no LRU crawler"),
    ("lrutail_reflocked", "no segmented LRU"),
    ("moves_to_cold", "no segmented LRU"),
    ("moves_to_warm", "no segmented LRU"),
    ("moves_within_lru", "no segmented LRU"),
    ("direct_reclaims", "no segmented LRU"),
    ("lru_bumps_dropped", "no segmented LRU"),
    // stats settings
    ("oldest", "flush epoch is internal"),
    ("growth_factor", "no slabs"),
    ("chunk_size", "no slabs"),
    ("hashpower_init", "the hash table is moka's"),
    ("slab_reassign", "no slabs"),
    ("slab_automove", "no slabs"),
    ("slab_automove_ratio", "no slabs"),
    ("slab_automove_window", "no slabs"),
    ("slab_chunk_max", "no slabs"),
    ("lru_crawler", "no LRU crawler"),
    ("lru_crawler_sleep", "no LRU crawler"),
    ("lru_crawler_tocrawl", "no LRU crawler"),
    ("tail_repair_time", "no LRU tail repair"),
    ("hash_algorithm", "the hash table is moka's"),
    ("lru_maintainer_thread", "no LRU maintainer thread"),
    ("lru_segmented", "no segmented LRU"),
    ("hot_lru_pct", "no segmented LRU"),
    ("warm_lru_pct", "no segmented LRU"),
    ("hot_max_factor", "no segmented LRU"),
    ("warm_max_factor", "no segmented LRU"),
    ("temp_lru", "no segmented LRU"),
    ("temporary_ttl", "no segmented LRU"),
    ("read_buf_mem_limit", "no read buffer pool"),
    ("track_sizes", "stats sizes not tracked"),
    ("inline_ascii_response", "not applicable"),
    ("ext_item_size", "no extstore"),
    ("ext_item_age", "no extstore"),
    ("ext_low_ttl", "no extstore"),
    ("ext_recache_rate", "no extstore"),
    ("ext_wbuf_size", "no extstore"),
    ("ext_compact_under", "no extstore"),
    ("ext_drop_under", "no extstore"),
    ("ext_max_sleep", "no extstore"),
    ("ext_max_frag", "no extstore"),
    ("slab_automove_freeratio", "no slabs"),
    ("ext_drop_unread", "no extstore"),
    ("num_napi_ids", "no NAPI id support"),
    ("memory_file", "no restartable memory file"),
    // stats items, per class
    ("items:*:number_hot", "no segmented LRU"),
    ("items:*:number_warm", "no segmented LRU"),
    ("items:*:number_cold", "no segmented LRU"),
    ("items:*:age_hot", "no segmented LRU"),
    ("items:*:age_warm", "no segmented LRU"),
    ("items:*:age", "LRU age not tracked"),
    ("items:*:evicted_nonzero", "not tracked"),
    ("items:*:evicted_time", "not tracked"),
    ("items:*:tailrepairs", "no LRU tail repair"),
    ("items:*:reclaimed", "memory is not reused in place"),
    ("items:*:expired_unfetched", "fetched flag not tracked"),
    ("items:*:evicted_unfetched", "fetched flag not tracked"),
    ("items:*:evicted_active", "no segmented LRU"),
    ("items:*:crawler_reclaimed", "no LRU crawler"),
    ("items:*:crawler_items_checked", "no LRU crawler"),
    ("items:*:lrutail_reflocked", "no segmented LRU"),
    ("items:*:moves_to_cold", "no segmented LRU"),
    ("items:*:moves_to_warm", "no segmented LRU"),
    ("items:*:moves_within_lru", "no segmented LRU"),
    ("items:*:direct_reclaims", "no segmented LRU"),
    ("items:*:hits_to_hot", "no segmented LRU"),
    ("items:*:hits_to_warm", "no segmented LRU"),
    ("items:*:hits_to_cold", "no segmented LRU"),
    ("items:*:hits_to_temp", "no segmented LRU"),
    // stats slabs, per class
    ("*:chunk_size", "no slabs"),
    ("*:chunks_per_page", "no slabs"),
    ("*:total_pages", "no slabs"),
    ("*:total_chunks", "no slabs"),
    ("*:used_chunks", "no slabs"),
    ("*:free_chunks", "no slabs"),
    ("*:free_chunks_end", "no slabs"),
    ("total_malloced", "no slab pages"),
];

/// Turns `items:3:number` into `items:*:number` and `3:chunk_size` into `*:chunk_size`.
fn pattern(name: &str) -> String {
    name.split(':')
        .map(|part| {
            if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
                "*"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join(":")
}

/// Escapes bytes for the readable logs.
pub fn escape(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in bytes {
        match b {
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out
}

/// Applies the allowed normalisations to a transcript log.
pub fn normalize(log: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(log.len());
    let mut fds: Vec<String> = Vec::new();
    for line in log.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"@") {
            // The log's own record of what was sent.
            out.extend_from_slice(line);
            continue;
        }
        if let Some(text) = watch_line(line) {
            out.extend_from_slice(normalize_watch_line(text, &mut fds).as_bytes());
            continue;
        }
        if let Some(rest) = line.strip_prefix(b"STAT ") {
            let text = String::from_utf8_lossy(rest);
            let body = text.trim_end_matches(['\r', '\n']);
            let ending = &text[body.len()..];
            let (name, value) = body.split_once(' ').unwrap_or((body, ""));
            let pat = pattern(name);
            if MISSING.iter().any(|(m, _)| *m == pat) {
                continue;
            }
            // In `stats conns`, names are "<fd>:field"; the fd is the server's own.
            let (shown_name, field) = match name.split_once(':') {
                Some((fd, field))
                    if fd.bytes().all(|b| b.is_ascii_digit())
                        && matches!(
                            field,
                            "addr" | "listen_addr" | "state" | "secs_since_last_cmd"
                        ) =>
                {
                    (format!("<fd>:{field}"), field.to_string())
                }
                _ => (name.to_string(), name.to_string()),
            };
            let value = if VOLATILE.iter().any(|(v, _)| *v == field) {
                "<v>".to_string()
            } else {
                value.to_string()
            };
            out.extend_from_slice(format!("STAT {shown_name} {value}{ending}").as_bytes());
            continue;
        }
        out.extend_from_slice(line);
    }
    out
}

/// A `watch` log line: `ts=<digits>.<digits> gid=<digits> ...`.
fn watch_line(line: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(line).ok()?;
    let rest = text.strip_prefix("ts=")?;
    let (ts, rest) = rest.split_once(' ')?;
    let (secs, usecs) = ts.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let gid = rest.strip_prefix("gid=")?.split(' ').next()?;
    (digits(secs) && digits(usecs) && digits(gid.trim_end())).then_some(text)
}

/// See the module's docs, item 4.
fn normalize_watch_line(text: &str, fds: &mut Vec<String>) -> String {
    let body = text.trim_end_matches(['\r', '\n']);
    let ending = &text[body.len()..];
    let fields: Vec<String> = body
        .split(' ')
        .map(|field| match field.split_once('=') {
            Some(("ts", _)) => "ts=<ts>".to_string(),
            Some(("rport", _)) => "rport=<port>".to_string(),
            Some(("cfd", fd)) => {
                let n = match fds.iter().position(|f| f == fd) {
                    Some(n) => n,
                    None => {
                        fds.push(fd.to_string());
                        fds.len() - 1
                    }
                };
                format!("cfd=<fd{}>", n + 1)
            }
            _ => field.to_string(),
        })
        .collect();
    format!("{}{ending}", fields.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_things_are_normalised() {
        let log = b"VERSION 1.6.45\r\nSTAT pid 12\r\nSTAT libevent 2.1\r\nSTAT cmd_get 3\r\nSTAT 23:addr tcp:127.0.0.1:5\r\nSTAT items:7:age_hot 1\r\nEND\r\n";
        assert_eq!(
            normalize(log),
            b"VERSION 1.6.45\r\nSTAT pid <v>\r\nSTAT cmd_get 3\r\nSTAT <fd>:addr <v>\r\nEND\r\n"
                .to_vec()
        );
        assert_eq!(
            normalize(b"STAT cmd_get 4\r\n"),
            b"STAT cmd_get 4\r\n".to_vec()
        );
    }

    #[test]
    fn watch_lines_keep_all_but_time_port_and_descriptor_numbers() {
        let log = b"OK\r\nts=1765000000.51 gid=2 type=item_get key=a status=found clsid=1 cfd=29 size=1\n\
ts=1765000000.123456 gid=3 type=conn_new rip=127.0.0.1 rport=4000 transport=tcp cfd=31\n\
ts=1765000001.7 gid=4 type=item_get key=b status=not_found clsid=0 cfd=29 size=0\n\
ts=x.1 gid=5 cfd=3\n";
        assert_eq!(
            String::from_utf8(normalize(log)).unwrap(),
            "OK\r\nts=<ts> gid=2 type=item_get key=a status=found clsid=1 cfd=<fd1> size=1\n\
ts=<ts> gid=3 type=conn_new rip=127.0.0.1 rport=<port> transport=tcp cfd=<fd2>\n\
ts=<ts> gid=4 type=item_get key=b status=not_found clsid=0 cfd=<fd1> size=0\n\
ts=x.1 gid=5 cfd=3\n"
        );
    }
}
