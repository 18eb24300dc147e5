//! `stats` replies, with memcached's field names and order. A figure we do not have is left
//! out rather than made up.

use crate::conn::{ConnCtx, Waiting};
use crate::{Shared, MEMCACHED_VERSION};
use ferrocache_protocol::text::{DetailCommand, StatsGroup};
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

/// `stats` figures as (name, value) pairs, which each protocol then encodes.
pub(crate) type Pairs = Vec<(String, String)>;

fn stat(out: &mut Pairs, name: &str, value: impl std::fmt::Display) {
    out.push((name.to_string(), value.to_string()));
}

/// The pairs of a group the binary protocol asks for by name ("" for the general group),
/// or `None` for a name memcached does not know there. As memcached 1.6.45 does, `reset`,
/// `settings` and `detail` are matched by their first letters (`resetx` resets), `items`,
/// `slabs` and `sizes` whole.
pub(crate) fn named_group(shared: &Shared, name: &[u8]) -> Option<Pairs> {
    let mut out = Pairs::new();
    if name.is_empty() {
        general(shared, &mut out);
    } else if name.starts_with(b"reset") {
        reset(shared);
    } else if name.starts_with(b"settings") {
        settings(shared, &mut out);
    } else if let Some(sub) = name.strip_prefix(b"detail") {
        if shared.config.disable_dumping {
            return None;
        }
        if sub.starts_with(b" dump") {
            // The per-prefix listing, as one pair.
            let dump = String::from_utf8_lossy(&shared.prefixes.dump()).into_owned();
            stat(&mut out, "detailed", dump);
        } else if sub.starts_with(b" on") {
            shared.prefixes.set_enabled(true);
        } else if sub.starts_with(b" off") {
            shared.prefixes.set_enabled(false);
        } else {
            return None;
        }
    } else {
        match name {
            b"items" => items(shared, &mut out),
            b"slabs" => slabs(shared, &mut out),
            b"sizes" => stat(&mut out, "sizes_status", "disabled"),
            _ => return None,
        }
    }
    Some(out)
}

pub(crate) fn reply(ctx: &mut ConnCtx<'_>, group: StatsGroup) {
    let shared = ctx.shared;
    let mut out = Pairs::new();
    match group {
        StatsGroup::General => general(shared, &mut out),
        StatsGroup::Settings => settings(shared, &mut out),
        StatsGroup::Items => items(shared, &mut out),
        StatsGroup::Slabs => slabs(shared, &mut out),
        StatsGroup::Sizes => stat(&mut out, "sizes_status", "disabled"),
        StatsGroup::Conns => conns(shared, ctx.fd, &mut out),
        StatsGroup::Reset => {
            reset(shared);
            ctx.say(false, b"RESET\r\n");
            return;
        }
        StatsGroup::Detail(_) if shared.config.disable_dumping => {
            ctx.say(false, b"CLIENT_ERROR stats detail not allowed\r\n");
            return;
        }
        StatsGroup::Detail(None) => {
            ctx.say(false, b"CLIENT_ERROR usage: stats detail on|off|dump\r\n");
            return;
        }
        StatsGroup::Detail(Some(cmd @ (DetailCommand::On | DetailCommand::Off))) => {
            shared.prefixes.set_enabled(cmd == DetailCommand::On);
            ctx.say(false, b"OK\r\n");
            return;
        }
        StatsGroup::Detail(Some(DetailCommand::Dump)) => {
            ctx.out.extend(&shared.prefixes.dump());
            return;
        }
        StatsGroup::Cachedump(_) if shared.config.disable_dumping => {
            ctx.say(false, b"CLIENT_ERROR stats cachedump not allowed\r\n");
            return;
        }
        StatsGroup::Cachedump(Err(line)) => {
            ctx.say(false, format!("{line}\r\n").as_bytes());
            return;
        }
        StatsGroup::Cachedump(Ok((class, limit))) => {
            // All items are reported as class 1 (see `items`).
            let mut text = Vec::new();
            if class == 1 {
                for (key, len, expires) in shared.store.dump(limit as usize) {
                    text.extend_from_slice(b"ITEM ");
                    text.extend_from_slice(&key);
                    text.extend_from_slice(format!(" [{len} b; {expires} s]\r\n").as_bytes());
                }
            }
            text.extend_from_slice(b"END\r\n");
            ctx.out.extend(&text);
            return;
        }
    }
    let mut text = Vec::with_capacity(out.len() * 32 + 5);
    for (name, value) in &out {
        ferrocache_protocol::response::stat(&mut text, name, value);
    }
    text.extend_from_slice(b"END\r\n");
    ctx.out.extend(&text);
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// (user, system) CPU seconds of this process.
fn rusage() -> (f64, f64) {
    // SAFETY: getrusage writes into the struct we pass and reads nothing else.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if rc != 0 {
        return (0.0, 0.0);
    }
    let secs = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (secs(usage.ru_utime), secs(usage.ru_stime))
}

pub(crate) fn general(shared: &Shared, out: &mut Pairs) {
    let c = &shared.counters;
    let s = shared.store.stats();
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let (user, system) = rusage();
    stat(out, "pid", std::process::id());
    stat(out, "uptime", shared.started.elapsed().as_secs());
    stat(out, "time", now_unix());
    stat(out, "version", MEMCACHED_VERSION);
    stat(out, "pointer_size", usize::BITS);
    stat(out, "rusage_user", format!("{user:.6}"));
    stat(out, "rusage_system", format!("{system:.6}"));
    stat(out, "max_connections", shared.config.max_connections);
    // memcached counts its listening sockets as connections and subtracts one.
    let curr = load(&c.curr_connections) + shared.listeners as u64;
    stat(out, "curr_connections", curr.saturating_sub(1));
    stat(out, "total_connections", load(&c.total_connections));
    stat(out, "rejected_connections", load(&c.rejected_connections));
    stat(out, "cmd_get", s.cmd_get);
    stat(out, "cmd_set", s.cmd_set);
    stat(out, "cmd_flush", load(&c.cmd_flush));
    stat(out, "cmd_touch", s.cmd_touch);
    stat(out, "cmd_meta", load(&c.cmd_meta));
    stat(out, "get_hits", s.get_hits);
    stat(out, "get_misses", s.get_misses);
    stat(out, "get_expired", s.get_expired);
    stat(out, "get_flushed", s.get_flushed);
    stat(out, "delete_misses", s.delete_misses);
    stat(out, "delete_hits", s.delete_hits);
    stat(out, "incr_misses", s.incr_misses);
    stat(out, "incr_hits", s.incr_hits);
    stat(out, "decr_misses", s.decr_misses);
    stat(out, "decr_hits", s.decr_hits);
    stat(out, "cas_misses", s.cas_misses);
    stat(out, "cas_hits", s.cas_hits);
    stat(out, "cas_badval", s.cas_badval);
    stat(out, "touch_hits", s.touch_hits);
    stat(out, "touch_misses", s.touch_misses);
    stat(out, "store_too_large", s.store_too_large);
    stat(out, "store_no_memory", s.store_no_memory);
    stat(out, "auth_cmds", load(&c.auth_cmds));
    stat(out, "auth_errors", load(&c.auth_errors));
    if shared.config.idle_timeout != 0 {
        stat(out, "idle_kicks", load(&c.idle_kicks));
    }
    stat(out, "bytes_read", load(&c.bytes_read));
    stat(out, "bytes_written", load(&c.bytes_written));
    stat(
        out,
        "limit_maxbytes",
        shared.maxbytes.load(Ordering::Relaxed),
    );
    stat(out, "accepting_conns", 1);
    stat(out, "threads", shared.config.threads);
    stat(out, "conn_yields", load(&c.conn_yields));
    // memcached's slab mover, idle: ferrocache has no slab pages to move, so it is never
    // short of memory for a move and has no last busy status.
    stat(out, "slab_reassign_busy_nomem", 0);
    stat(out, "slab_reassign_last_busy_status", "none");
    // memcached's TLS counters, with -Z only; ssl_new_sessions with ssl_session_cache only.
    if let Some(tls) = &shared.tls {
        let t = &tls.counters;
        if tls.session_cache() {
            stat(out, "ssl_new_sessions", load(&t.new_sessions));
        }
        stat(out, "ssl_handshake_errors", load(&t.handshake_errors));
        stat(out, "ssl_proto_errors", load(&t.proto_errors));
        stat(out, "time_since_server_cert_refresh", tls.since_refresh());
    }
    stat(out, "bytes", s.bytes);
    stat(out, "curr_items", s.curr_items);
    stat(out, "total_items", s.total_items);
    stat(out, "evictions", s.evictions);
}

pub(crate) fn settings(shared: &Shared, out: &mut Pairs) {
    for (name, value) in shared.config.settings_stats() {
        // Some settings change at run time.
        let value = match name {
            "maxbytes" => shared.maxbytes.load(Ordering::Relaxed).to_string(),
            "verbosity" => shared.verbosity.load(Ordering::Relaxed).to_string(),
            "detail_enabled" => if shared.prefixes.enabled() {
                "yes"
            } else {
                "no"
            }
            .to_string(),
            _ => value,
        };
        stat(out, name, value);
    }
}

/// ferrocache has no slab classes; all items are reported as one class, numbered 1.
pub(crate) fn items(shared: &Shared, out: &mut Pairs) {
    let s = shared.store.stats();
    if s.curr_items == 0 {
        return;
    }
    stat(out, "items:1:number", s.curr_items);
    stat(out, "items:1:mem_requested", s.bytes);
    stat(out, "items:1:evicted", s.evictions);
    stat(out, "items:1:outofmemory", s.store_no_memory);
}

pub(crate) fn slabs(shared: &Shared, out: &mut Pairs) {
    let s = shared.store.stats();
    if s.curr_items > 0 {
        stat(out, "1:get_hits", s.get_hits);
        stat(out, "1:cmd_set", s.cmd_set);
        stat(out, "1:delete_hits", s.delete_hits);
        stat(out, "1:incr_hits", s.incr_hits);
        stat(out, "1:decr_hits", s.decr_hits);
        stat(out, "1:cas_hits", s.cas_hits);
        stat(out, "1:cas_badval", s.cas_badval);
        stat(out, "1:touch_hits", s.touch_hits);
    }
    stat(out, "active_slabs", u64::from(s.curr_items > 0));
}

fn conns(shared: &Shared, me: i32, out: &mut Pairs) {
    let now = shared.last_cmd_time();
    let registry = shared.conns.lock().unwrap_or_else(|e| e.into_inner());
    // TCP and UDP entries, in descriptor order as memcached walks its connection table.
    let mut fds: Vec<i32> = registry
        .entries
        .keys()
        .chain(registry.udp.keys())
        .copied()
        .collect();
    fds.sort_unstable();
    for fd in fds {
        let last_cmd = if let Some(entry) = registry.entries.get(&fd) {
            stat(out, &format!("{fd}:addr"), entry.addr());
            let state = match entry.is_listener {
                false => {
                    stat(out, &format!("{fd}:listen_addr"), &*entry.listen);
                    if fd == me {
                        "conn_parse_cmd"
                    } else {
                        Waiting::state_name(entry.waiting.load(Ordering::Relaxed))
                    }
                }
                true => "conn_listening",
            };
            stat(out, &format!("{fd}:state"), state);
            &entry.last_cmd
        } else {
            let entry = &registry.udp[&fd];
            stat(out, &format!("{fd}:UDP"), "UDP");
            match &entry.serving {
                // The socket running this very request shows its client, as memcached does.
                Some(peer) if fd == me => {
                    stat(out, &format!("{fd}:addr"), peer);
                    stat(out, &format!("{fd}:listen_addr"), &entry.local);
                    stat(out, &format!("{fd}:state"), "conn_parse_cmd");
                }
                _ => {
                    stat(out, &format!("{fd}:addr"), &entry.local);
                    stat(out, &format!("{fd}:state"), "conn_read");
                }
            }
            &entry.last_cmd
        };
        let last = last_cmd.load(Ordering::Relaxed);
        stat(
            out,
            &format!("{fd}:secs_since_last_cmd"),
            now.saturating_sub(last),
        );
    }
}

fn reset(shared: &Shared) {
    shared.store.reset_stats();
    shared.prefixes.clear();
    let c = &shared.counters;
    for counter in [
        &c.total_connections,
        &c.rejected_connections,
        &c.bytes_read,
        &c.bytes_written,
        &c.cmd_flush,
        &c.cmd_meta,
        &c.conn_yields,
        &c.auth_cmds,
        &c.auth_errors,
        &c.idle_kicks,
    ] {
        counter.store(0, Ordering::Relaxed);
    }
    if let Some(tls) = &shared.tls {
        let t = &tls.counters;
        for counter in [&t.new_sessions, &t.handshake_errors, &t.proto_errors] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}
