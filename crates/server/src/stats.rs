//! `stats` replies, with memcached's field names and order. A figure we do not have is left
//! out rather than made up.

use crate::conn::{ConnCtx, Waiting};
use crate::{Shared, MEMCACHED_VERSION};
use ferrocache_protocol::text::{DetailCommand, StatsGroup};
use ferrocache_storage::slabs::level;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

/// memcached's cap on a `stats cachedump` reply.
const CACHEDUMP_LIMIT: usize = 2 * 1024 * 1024;

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
    let group = if name.is_empty() {
        Some(StatsGroup::General)
    } else if name.starts_with(b"settings") {
        Some(StatsGroup::Settings)
    } else {
        match name {
            b"items" => Some(StatsGroup::Items),
            b"slabs" => Some(StatsGroup::Slabs),
            b"sizes" => Some(StatsGroup::Sizes),
            _ => None,
        }
    };
    if let Some(group) = group {
        listing(shared, &group, &mut out);
        return Some(out);
    }
    if name.starts_with(b"reset") {
        reset(shared);
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
        return None;
    }
    Some(out)
}

/// The groups both protocols list alike (general, settings, items, slabs, sizes): their
/// pairs into `out`, after bringing the store's counts up to date (moka's pending evictions
/// applied) for those that read them.
fn listing(shared: &Shared, group: &StatsGroup, out: &mut Pairs) {
    let list: fn(&Shared, &mut Pairs) = match group {
        StatsGroup::General => general,
        StatsGroup::Settings => settings,
        StatsGroup::Items => items,
        StatsGroup::Slabs => slabs,
        StatsGroup::Sizes => sizes,
        _ => unreachable!("stats {group:?} is not a listing"),
    };
    if *group != StatsGroup::Settings {
        shared.store.sync();
    }
    list(shared, out);
}

pub(crate) fn reply(ctx: &mut ConnCtx<'_>, group: StatsGroup) {
    let shared = ctx.shared;
    let mut out = Pairs::new();
    match group {
        StatsGroup::General
        | StatsGroup::Settings
        | StatsGroup::Items
        | StatsGroup::Slabs
        | StatsGroup::Sizes => {
            listing(shared, &group, &mut out);
        }
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
            let mut text = Vec::new();
            if let Ok(class) = u8::try_from(class) {
                for (key, len, expires) in shared.store.dump(class, limit as usize) {
                    let line = [
                        &b"ITEM "[..],
                        &key,
                        format!(" [{len} b; {expires} s]\r\n").as_bytes(),
                    ]
                    .concat();
                    // memcached's listing is one 2 MB buffer, END and its NUL included.
                    if text.len() + line.len() + 6 > CACHEDUMP_LIMIT {
                        break;
                    }
                    text.extend_from_slice(&line);
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
    // The event library: ferrocache's is tokio.
    stat(out, "libevent", "tokio");
    stat(out, "pointer_size", usize::BITS);
    stat(out, "rusage_user", format!("{user:.6}"));
    stat(out, "rusage_system", format!("{system:.6}"));
    stat(out, "max_connections", shared.config.max_connections);
    // memcached counts its listening sockets as connections and subtracts one.
    let curr = load(&c.curr_connections) + shared.listeners as u64;
    stat(out, "curr_connections", curr.saturating_sub(1));
    stat(out, "total_connections", load(&c.total_connections));
    stat(out, "rejected_connections", load(&c.rejected_connections));
    stat(
        out,
        "connection_structures",
        load(&c.peak_connections).max(shared.listeners as u64),
    );
    // memcached's response objects and read buffers are ferrocache's pooled write and read
    // buffers (see `bufpool`); the `_oom` counts are the waits `-o read_buf_mem_limit` made.
    let writes = crate::bufpool::WRITE.figures();
    let reads = crate::bufpool::READ.figures();
    stat(out, "response_obj_oom", load(&c.response_obj_oom));
    stat(out, "response_obj_count", writes.count);
    stat(out, "response_obj_bytes", writes.bytes);
    stat(out, "read_buf_count", reads.count);
    stat(out, "read_buf_bytes", reads.bytes);
    stat(out, "read_buf_bytes_free", reads.free_bytes);
    stat(out, "read_buf_oom", load(&c.read_buf_oom));
    // `-c` counts client connections only: no descriptors are set aside from it.
    stat(out, "reserved_fds", 0);
    stat(out, "cmd_get", s.cmd_get);
    stat(out, "cmd_set", s.cmd_set);
    stat(out, "cmd_flush", load(&c.cmd_flush));
    stat(out, "cmd_touch", s.cmd_touch);
    stat(out, "cmd_meta", c.sum(|c| &c.cmd_meta));
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
    stat(out, "bytes_read", c.sum(|c| &c.bytes_read));
    stat(out, "bytes_written", c.sum(|c| &c.bytes_written));
    stat(
        out,
        "limit_maxbytes",
        shared.maxbytes.load(Ordering::Relaxed),
    );
    stat(out, "accepting_conns", 1);
    stat(out, "listen_disabled_num", load(&c.listen_disabled_num));
    stat(
        out,
        "time_in_listen_disabled_us",
        load(&c.time_in_listen_disabled_us),
    );
    stat(out, "threads", shared.config.threads);
    stat(out, "conn_yields", load(&c.conn_yields));
    let power = hash_power(shared.config.hashpower_init, s.peak_items);
    stat(out, "hash_power_level", power);
    stat(out, "hash_bytes", 8u64 << power);
    // moka grows its table a piece at a time, never stopping a request for it.
    stat(out, "hash_is_expanding", 0);
    // memcached's slab mover, idle: ferrocache has no slab pages to move (items live in
    // moka), so none is ever rescued, moved or busy. Shown, as in memcached, while
    // `slab_reassign` is on.
    if shared.tunables().slab_reassign {
        stat(out, "slab_reassign_rescues", 0);
        stat(out, "slab_reassign_chunk_rescues", 0);
        stat(out, "slab_reassign_inline_reclaim", 0);
        stat(out, "slab_reassign_busy_items", 0);
        stat(out, "slab_reassign_busy_deletes", 0);
        stat(out, "slab_reassign_busy_nomem", 0);
        stat(out, "slab_reassign_last_busy_status", "none");
        stat(out, "slab_reassign_running", 0);
        stat(out, "slabs_moved", 0);
    }
    let crawler = shared.store.crawler_stats();
    if crawler.enabled {
        stat(out, "lru_crawler_running", u32::from(crawler.running));
        stat(out, "lru_crawler_starts", crawler.starts);
    }
    // memcached's LRU maintainer is ferrocache's housekeeper thread (moka's upkeep). Its
    // lines follow memcached's switch (`-o no_lru_maintainer`), as in memcached.
    let maintainer = shared.config.lru_maintainer;
    if maintainer {
        stat(out, "lru_maintainer_juggles", s.housekeeper_rounds);
    }
    stat(out, "malloc_fails", crate::alloc::large::refused());
    let log = &shared.logger;
    stat(out, "log_worker_dropped", load(&log.worker_dropped));
    stat(out, "log_worker_written", load(&log.worker_written));
    stat(out, "log_watcher_skipped", load(&log.watcher_skipped));
    stat(out, "log_watcher_sent", load(&log.watcher_sent));
    stat(out, "log_watchers", log.watcher_count());
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
    // NAPI ids: with -N ferrocache still spreads connections round robin.
    stat(out, "unexpected_napi_ids", 0);
    let round_robin = if shared.config.napi_ids > 0 {
        load(&c.total_connections)
    } else {
        0
    };
    stat(out, "round_robin_fallback", round_robin);
    // The memory items take against -m, ferrocache's per-item overhead included, so that
    // bytes / limit_maxbytes reads how full the cache is (memcached counts item sizes).
    stat(out, "bytes", shared.store.charged_bytes());
    stat(out, "curr_items", s.curr_items);
    stat(out, "total_items", s.total_items);
    // Pages are not pooled: each class's figure is what its items fill (see `slabs`).
    stat(out, "slab_global_page_pool", 0);
    let t = class_totals(shared);
    stat(out, "expired_unfetched", t.expired_unfetched);
    stat(out, "evicted_unfetched", t.evicted_unfetched);
    // One LRU, no active marks: nothing is evicted while marked active.
    if maintainer {
        stat(out, "evicted_active", 0);
    }
    stat(out, "evictions", s.evictions);
    stat(out, "reclaimed", t.reclaimed);
    stat(out, "crawler_reclaimed", t.crawler_reclaimed);
    stat(out, "crawler_items_checked", t.crawler_items_checked);
    // Readers hold items by reference count (`Arc`), which never blocks eviction.
    stat(out, "lrutail_reflocked", 0);
    // One LRU per moka cache, not memcached's HOT/WARM/COLD segments: no moves between them.
    if maintainer {
        stat(out, "moves_to_cold", 0);
        stat(out, "moves_to_warm", 0);
        stat(out, "moves_within_lru", 0);
        stat(out, "direct_reclaims", t.direct_reclaims);
    }
}

/// memcached's hash table size for the items held: it starts at `-o hashpower` (16 by
/// default) and doubles whenever the items pass 1.5 times its buckets, never shrinking.
/// ferrocache's table is moka's; this is the level memcached would report for the most items
/// ferrocache has held, so that capacity planning read from it carries over.
fn hash_power(init: i32, peak_items: u64) -> u32 {
    let mut power = if init > 0 { init as u32 } else { 16 };
    while power < 32 && peak_items > (1u64 << power) * 3 / 2 {
        power += 1;
    }
    power
}

/// The per-class counters summed (memcached's `item_stats_totals`).
#[derive(Default)]
struct Totals {
    reclaimed: u64,
    expired_unfetched: u64,
    evicted_unfetched: u64,
    crawler_reclaimed: u64,
    crawler_items_checked: u64,
    direct_reclaims: u64,
}

fn class_totals(shared: &Shared) -> Totals {
    let mut t = Totals::default();
    for (_, k) in shared.store.classes().all() {
        let l = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        t.reclaimed += l(&k.reclaimed);
        t.expired_unfetched += l(&k.expired_unfetched);
        t.evicted_unfetched += l(&k.evicted_unfetched);
        t.crawler_reclaimed += l(&k.crawler_reclaimed);
        t.crawler_items_checked += l(&k.crawler_items_checked);
        t.direct_reclaims += l(&k.direct_reclaims);
    }
    t
}

pub(crate) fn settings(shared: &Shared, out: &mut Pairs) {
    let crawler = shared.store.crawler_stats();
    for (name, value) in shared.config.settings_stats() {
        // Some settings change at run time.
        let value = match name {
            "maxbytes" => shared.maxbytes.load(Ordering::Relaxed).to_string(),
            "oldest" => shared.store.oldest_live().to_string(),
            "verbosity" => shared.verbosity.load(Ordering::Relaxed).to_string(),
            "detail_enabled" => if shared.prefixes.enabled() {
                "yes"
            } else {
                "no"
            }
            .to_string(),
            "lru_crawler" => if crawler.enabled { "yes" } else { "no" }.to_string(),
            "lru_crawler_sleep" => crawler.sleep_us.to_string(),
            "lru_crawler_tocrawl" => crawler.tocrawl.to_string(),
            _ => shared.tunables().stat(name).unwrap_or(value),
        };
        stat(out, name, value);
    }
}

/// `stats items`: each class that holds items, as memcached lists it with its LRU
/// maintainer running. ferrocache files items under memcached's slab classes (see
/// `ferrocache_storage::slabs`) but keeps one LRU per moka cache, not HOT/WARM/COLD
/// segments: every item counts as COLD, as in memcached without segmented LRUs.
pub(crate) fn items(shared: &Shared, out: &mut Pairs) {
    let classes = shared.store.classes();
    let now = shared.store.current_time();
    let maintainer = shared.config.lru_maintainer;
    let l = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    for (class, k) in classes.all() {
        let number = level(&k.number);
        if number == 0 {
            continue;
        }
        let mut put = |name: &str, value: &dyn std::fmt::Display| {
            stat(out, &format!("items:{class}:{name}"), value);
        };
        put("number", &number);
        if maintainer {
            put("number_hot", &0);
            put("number_warm", &0);
            put("number_cold", &number);
            // No TEMP LRU: short-lived items share the one LRU.
            if shared.tunables().temp_lru {
                put("number_temp", &0);
            }
            put("age_hot", &0);
            put("age_warm", &0);
        }
        let oldest = k.oldest.load(Ordering::Relaxed);
        let age = if oldest == 0 {
            0
        } else {
            now.saturating_sub(oldest)
        };
        put("age", &age);
        put("mem_requested", &level(&k.requested));
        put("evicted", &l(&k.evicted));
        put("evicted_nonzero", &l(&k.evicted_nonzero));
        put("evicted_time", &l(&k.evicted_time));
        put("outofmemory", &l(&k.outofmemory));
        // No reference can get stuck on an item: nothing to repair.
        put("tailrepairs", &0);
        put("reclaimed", &l(&k.reclaimed));
        put("expired_unfetched", &l(&k.expired_unfetched));
        put("evicted_unfetched", &l(&k.evicted_unfetched));
        if maintainer {
            put("evicted_active", &0);
        }
        put("crawler_reclaimed", &l(&k.crawler_reclaimed));
        put("crawler_items_checked", &l(&k.crawler_items_checked));
        put("lrutail_reflocked", &0);
        if maintainer {
            put("moves_to_cold", &0);
            put("moves_to_warm", &0);
            put("moves_within_lru", &0);
            put("direct_reclaims", &l(&k.direct_reclaims));
            put("hits_to_hot", &0);
            put("hits_to_warm", &0);
            put("hits_to_cold", &classes.hits(class).get_hits);
            put("hits_to_temp", &0);
        }
    }
}

/// `stats slabs`: each class that has held items, with its chunk figures derived from the
/// items held now (pages are what those chunks fill, rounded up, and at least the one page
/// memcached keeps once a class has had it), and the class's hit counters.
pub(crate) fn slabs(shared: &Shared, out: &mut Pairs) {
    let classes = shared.store.classes();
    let table = &classes.table;
    let (mut active, mut malloced) = (0u64, 0u64);
    for (class, k) in classes.all() {
        let used = level(&k.chunks);
        if class == 0 || !k.ever_used.load(Ordering::Relaxed) {
            continue;
        }
        let per_page = u64::from(table.per_page(class));
        // A class keeps a page once it has had one, as in memcached.
        let pages = used.div_ceil(per_page).max(1);
        active += 1;
        malloced += pages * u64::from(table.page_size());
        let mut put = |name: &str, value: &dyn std::fmt::Display| {
            stat(out, &format!("{class}:{name}"), value);
        };
        put("chunk_size", &table.chunk_size(class));
        put("chunks_per_page", &per_page);
        put("total_pages", &pages);
        put("total_chunks", &(pages * per_page));
        put("used_chunks", &used);
        put("free_chunks", &(pages * per_page - used));
        put("free_chunks_end", &0);
        let h = classes.hits(class);
        put("get_hits", &h.get_hits);
        put("cmd_set", &h.cmd_set);
        put("delete_hits", &h.delete_hits);
        put("incr_hits", &h.incr_hits);
        put("decr_hits", &h.decr_hits);
        put("cas_hits", &h.cas_hits);
        put("cas_badval", &h.cas_badval);
        put("touch_hits", &h.touch_hits);
    }
    stat(out, "active_slabs", active);
    stat(out, "total_malloced", malloced);
}

/// `stats sizes`: with `-o track_sizes`, items by size in 32-byte steps.
fn sizes(shared: &Shared, out: &mut Pairs) {
    match shared.store.classes().sizes() {
        Some(sizes) => {
            for (size, items) in sizes {
                stat(out, &size.to_string(), items);
            }
        }
        None => stat(out, "sizes_status", "disabled"),
    }
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
    shared.logger.reset_stats();
    shared.prefixes.clear();
    let c = &shared.counters;
    for counter in [
        &c.total_connections,
        &c.rejected_connections,
        &c.cmd_flush,
        &c.conn_yields,
        &c.auth_cmds,
        &c.auth_errors,
        &c.idle_kicks,
        &c.listen_disabled_num,
        &c.time_in_listen_disabled_us,
        &c.read_buf_oom,
        &c.response_obj_oom,
    ] {
        counter.store(0, Ordering::Relaxed);
    }
    for stripe in c.hot.all() {
        stripe.reset();
    }
    if let Some(tls) = &shared.tls {
        let t = &tls.counters;
        for counter in [&t.new_sessions, &t.handshake_errors, &t.proto_errors] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}
