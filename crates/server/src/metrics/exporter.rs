//! memcached_exporter's metrics, made from the same (name, value) pairs `stats`, `stats
//! settings`, `stats slabs` and `stats items` serve, with the exporter's names, types,
//! labels and HELP texts, so its dashboards and alerts work unchanged.
//!
//! The mapping follows prometheus/memcached_exporter's collector (pkg/exporter/exporter.go):
//! the pairs of `stats`, `stats slabs` and `stats items` are merged as its memcache client
//! merges them (a name without `:` is a global figure, `N:name` a slab class's, `items:N:name`
//! the items of class N), then each metric is made from its stat when that stat is there
//! and skipped when it is not. A stat added to `stats` later shows up here without a change,
//! if the exporter maps it. A stat that is there but unreadable is skipped too, and makes
//! `memcached_up` 0, as a parse error makes it 0 in the exporter.

use super::encode::{Exposition, Kind};
use crate::stats::Pairs;
use std::collections::{BTreeMap, HashMap};

/// How the exporter reads a stat's value.
#[derive(Clone, Copy)]
enum Read {
    /// A number (Go's `strconv.ParseFloat`).
    Number,
    /// `seconds.microseconds` (`rusage_user`).
    Timeval,
    /// `yes` 1, `no` 0.
    Bool,
}

/// (stat, metric, type, HELP) of the global figures the exporter reads one to one, in its
/// order.
#[rustfmt::skip]
const GLOBAL: &[(&str, &str, Kind, Read, &str)] = &[
    ("uptime", "memcached_uptime_seconds", Kind::Counter, Read::Number,
     "Number of seconds since the server started."),
    ("time", "memcached_time_seconds", Kind::Gauge, Read::Number,
     "current UNIX time according to the server."),
    ("rusage_user", "memcached_process_user_cpu_seconds_total", Kind::Counter, Read::Timeval,
     "Accumulated user time for this process."),
    ("rusage_system", "memcached_process_system_cpu_seconds_total", Kind::Counter,
     Read::Timeval, "Accumulated system time for this process."),
    ("bytes", "memcached_current_bytes", Kind::Gauge, Read::Number,
     "Current number of bytes used to store items."),
    ("limit_maxbytes", "memcached_limit_bytes", Kind::Gauge, Read::Number,
     "Number of bytes this server is allowed to use for storage."),
    ("curr_items", "memcached_current_items", Kind::Gauge, Read::Number,
     "Current number of items stored by this instance."),
    ("total_items", "memcached_items_total", Kind::Counter, Read::Number,
     "Total number of items stored during the life of this instance."),
    ("bytes_read", "memcached_read_bytes_total", Kind::Counter, Read::Number,
     "Total number of bytes read by this server from network."),
    ("bytes_written", "memcached_written_bytes_total", Kind::Counter, Read::Number,
     "Total number of bytes sent by this server to network."),
    ("curr_connections", "memcached_current_connections", Kind::Gauge, Read::Number,
     "Current number of open connections."),
    ("total_connections", "memcached_connections_total", Kind::Counter, Read::Number,
     "Total number of connections opened since the server started running."),
    ("rejected_connections", "memcached_connections_rejected_total", Kind::Counter,
     Read::Number,
     "Total number of connections rejected due to hitting the memcached's -c limit in maxconns_fast mode."),
    ("conn_yields", "memcached_connections_yielded_total", Kind::Counter, Read::Number,
     "Total number of connections yielded running due to hitting the memcached's -R limit."),
    ("listen_disabled_num", "memcached_connections_listener_disabled_total", Kind::Counter,
     Read::Number,
     "Number of times that memcached has hit its connections limit and disabled its listener."),
    ("evictions", "memcached_items_evicted_total", Kind::Counter, Read::Number,
     "Total number of valid items removed from cache to free memory for new items."),
    ("reclaimed", "memcached_items_reclaimed_total", Kind::Counter, Read::Number,
     "Total number of times an entry was stored using memory from an expired entry."),
    ("store_too_large", "memcached_item_too_large_total", Kind::Counter, Read::Number,
     "The number of times an item exceeded the max-item-size when being stored."),
    ("store_no_memory", "memcached_item_no_memory_total", Kind::Counter, Read::Number,
     "The number of times an item could not be stored due to no more memory."),
    ("lru_crawler_starts", "memcached_lru_crawler_starts_total", Kind::Counter, Read::Number,
     "Times an LRU crawler was started."),
    ("direct_reclaims", "memcached_direct_reclaims_total", Kind::Counter, Read::Number,
     "Times worker threads had to directly reclaim or evict items."),
    ("crawler_items_checked", "memcached_lru_crawler_items_checked_total", Kind::Counter,
     Read::Number, "Total items examined by LRU Crawler."),
    ("crawler_reclaimed", "memcached_lru_crawler_reclaimed_total", Kind::Counter,
     Read::Number, "Total items freed by LRU Crawler."),
    ("moves_to_cold", "memcached_lru_crawler_moves_to_cold_total", Kind::Counter,
     Read::Number, "Total number of items moved from HOT/WARM to COLD LRU's."),
    ("moves_to_warm", "memcached_lru_crawler_moves_to_warm_total", Kind::Counter,
     Read::Number, "Total number of items moved from COLD to WARM LRU."),
    ("moves_within_lru", "memcached_lru_crawler_moves_within_lru_total", Kind::Counter,
     Read::Number, "Total number of items reshuffled within HOT or WARM LRU's."),
    ("total_malloced", "memcached_malloced_bytes", Kind::Gauge, Read::Number,
     "Number of bytes of memory allocated to slab pages."),
    ("accepting_conns", "memcached_accepting_connections", Kind::Gauge, Read::Number,
     "The Memcached server is currently accepting new connections."),
];

/// extstore's figures: the exporter reads them only when `extstore_limit_maxbytes` is there.
#[rustfmt::skip]
const EXTSTORE: &[(&str, &str, Kind, &str)] = &[
    ("extstore_compact_lost", "memcached_extstore_compact_lost_total", Kind::Counter,
     "Total number of items lost because they were locked during extstore compaction."),
    ("extstore_compact_rescues", "memcached_extstore_compact_rescued_total", Kind::Counter,
     "Total number of items moved to a new page during extstore compaction,"),
    ("extstore_compact_skipped", "memcached_extstore_compact_skipped_total", Kind::Counter,
     "Total number of items dropped due to inactivity during extstore compaction."),
    ("extstore_page_allocs", "memcached_extstore_pages_allocated_total", Kind::Counter,
     "Total number of times a page was allocated in extstore."),
    ("extstore_page_evictions", "memcached_extstore_pages_evicted_total", Kind::Counter,
     "Total number of times a page was evicted from extstore."),
    ("extstore_page_reclaims", "memcached_extstore_pages_reclaimed_total", Kind::Counter,
     "Total number of times an empty extstore page was freed."),
    ("extstore_pages_free", "memcached_extstore_pages_free", Kind::Gauge,
     "Number of extstore pages not yet containing any items."),
    ("extstore_pages_used", "memcached_extstore_pages_used", Kind::Gauge,
     "Number of extstore pages containing at least one item."),
    ("extstore_objects_evicted", "memcached_extstore_objects_evicted_total", Kind::Counter,
     "Total number of items evicted from extstore to free up space."),
    ("extstore_objects_read", "memcached_extstore_objects_read_total", Kind::Counter,
     "Total number of items read from extstore."),
    ("extstore_objects_written", "memcached_extstore_objects_written_total", Kind::Counter,
     "Total number of items written to extstore."),
    ("extstore_objects_used", "memcached_extstore_objects_used", Kind::Gauge,
     "Number of items stored in extstore."),
    ("extstore_bytes_evicted", "memcached_extstore_bytes_evicted_total", Kind::Counter,
     "Total number of bytes evicted from extstore to free up space."),
    ("extstore_bytes_written", "memcached_extstore_bytes_written_total", Kind::Counter,
     "Total number of bytes written to extstore."),
    ("extstore_bytes_read", "memcached_extstore_bytes_read_total", Kind::Counter,
     "Total number of bytes read from extstore."),
    // The exporter's type for this one is counter, though its name has no _total.
    ("extstore_bytes_used", "memcached_extstore_bytes_used", Kind::Counter,
     "Current number of bytes used to store items in extstore."),
    ("extstore_bytes_fragmented", "memcached_extstore_bytes_fragmented", Kind::Gauge,
     "Current number of bytes in extstore pages allocated but not used to store an object."),
    ("extstore_limit_maxbytes", "memcached_extstore_bytes_limit", Kind::Gauge,
     "Number of bytes of external storage allocated for this server."),
    ("extstore_io_queue", "memcached_extstore_io_queue_depth", Kind::Gauge,
     "Number of items in the I/O queue waiting to be processed."),
];

/// Proxy mode's figures: read only when `proxy_backend_total` is there.
#[rustfmt::skip]
const PROXY: &[(&str, &str, Kind, &str)] = &[
    ("proxy_conn_requests", "memcached_proxy_conn_requests_total", Kind::Counter,
     "Total number of times the proxy opened a backend connection."),
    ("proxy_conn_errors", "memcached_proxy_conn_errors_total", Kind::Counter,
     "Total number of backend connection errors in proxy mode."),
    ("proxy_conn_oom", "memcached_proxy_conn_oom_total", Kind::Counter,
     "Total number of times the proxy ran out of memory allocating a connection."),
    ("proxy_req_active", "memcached_proxy_req_active", Kind::Gauge,
     "Number of in-flight requests currently forwarded by the proxy."),
    ("proxy_config_reloads", "memcached_proxy_config_reloads_total", Kind::Counter,
     "Total attempts to reload the proxy configuration."),
    ("proxy_config_reload_fails", "memcached_proxy_config_reload_fails_total", Kind::Counter,
     "Total failed attempts to reload the proxy configuration."),
    ("proxy_config_cron_runs", "memcached_proxy_config_cron_runs_total", Kind::Counter,
     "Total times the proxy\u{2019}s Lua cron hooks have run."),
    ("proxy_config_cron_fails", "memcached_proxy_config_cron_fails_total", Kind::Counter,
     "Total errors from the proxy\u{2019}s Lua cron hooks."),
    ("proxy_backend_total", "memcached_proxy_backend_total", Kind::Gauge,
     "Number of backend servers configured in proxy mode."),
    ("proxy_backend_marked_bad", "memcached_proxy_backend_marked_bad_total", Kind::Counter,
     "Total times a backend was marked unhealthy by the proxy."),
    ("proxy_backend_failed", "memcached_proxy_backend_failed", Kind::Gauge,
     "Number of backends currently in a failed state."),
    ("proxy_request_failed_depth", "memcached_proxy_request_failed_depth_total", Kind::Counter,
     "Total requests dropped due to backend depth limits."),
    ("round_robin_fallback", "memcached_round_robin_fallback_total", Kind::Counter,
     "Total times the proxy fell back to round-robin routing."),
    ("unexpected_napi_ids", "memcached_unexpected_napi_ids_total", Kind::Counter,
     "Total unexpected internal event-loop IDs seen by the proxy."),
];

/// The LRU crawler's settings, read only when `stats settings` says `lru_crawler yes`.
#[rustfmt::skip]
const LRU_SETTINGS: &[(&str, &str, Read, &str)] = &[
    ("lru_crawler", "memcached_lru_crawler_enabled", Read::Bool,
     "Whether the LRU crawler is enabled."),
    ("lru_crawler_sleep", "memcached_lru_crawler_sleep", Read::Number,
     "Microseconds to sleep between LRU crawls."),
    ("lru_crawler_tocrawl", "memcached_lru_crawler_to_crawl", Read::Number,
     "Max items to crawl per slab per run."),
    ("lru_maintainer_thread", "memcached_lru_crawler_maintainer_thread", Read::Bool,
     "Split LRU mode and background threads."),
    ("hot_lru_pct", "memcached_lru_crawler_hot_percent", Read::Number,
     "Percent of slab memory reserved for HOT LRU."),
    ("warm_lru_pct", "memcached_lru_crawler_warm_percent", Read::Number,
     "Percent of slab memory reserved for WARM LRU."),
    ("hot_max_factor", "memcached_lru_crawler_hot_max_factor", Read::Number,
     "Set idle age of HOT LRU to COLD age * this"),
    ("warm_max_factor", "memcached_lru_crawler_warm_max_factor", Read::Number,
     "Set idle age of WARM LRU to COLD age * this"),
];

/// `stats items` figures of a class, with the exporter's type for each (its counter map
/// also holds `mem_requested`, which so comes out as a counter, and `store_too_large` and
/// `store_no_memory`, which memcached 1.6.45 does not show per class).
#[rustfmt::skip]
const ITEMS: &[(&str, &str, Kind, &str)] = &[
    ("number", "memcached_slab_current_items", Kind::Gauge,
     "Number of items currently stored in this slab class."),
    ("age", "memcached_slab_items_age_seconds", Kind::Gauge,
     "Number of seconds the oldest item has been in the slab class."),
    ("crawler_reclaimed", "memcached_slab_items_crawler_reclaimed_total", Kind::Counter,
     "Number of items freed by the LRU Crawler."),
    ("evicted", "memcached_slab_items_evicted_total", Kind::Counter,
     "Total number of times an item had to be evicted from the LRU before it expired."),
    ("evicted_nonzero", "memcached_slab_items_evicted_nonzero_total", Kind::Counter,
     "Total number of times an item which had an explicit expire time set had to be evicted from the LRU before it expired."),
    ("evicted_time", "memcached_slab_items_evicted_time_seconds", Kind::Counter,
     "Seconds since the last access for the most recent item evicted from this class."),
    ("evicted_unfetched", "memcached_slab_items_evicted_unfetched_total", Kind::Counter,
     "Total nmber of items evicted and never fetched."),
    ("expired_unfetched", "memcached_slab_items_expired_unfetched_total", Kind::Counter,
     "Total number of valid items evicted from the LRU which were never touched after being set."),
    ("outofmemory", "memcached_slab_items_outofmemory_total", Kind::Counter,
     "Total number of items for this slab class that have triggered an out of memory error."),
    ("reclaimed", "memcached_slab_items_reclaimed_total", Kind::Counter,
     "Total number of items reclaimed."),
    ("tailrepairs", "memcached_slab_items_tailrepairs_total", Kind::Counter,
     "Total number of times the entries for a particular ID need repairing."),
    ("mem_requested", "memcached_slab_mem_requested_bytes", Kind::Counter,
     "Number of bytes of memory actual items take up within a slab."),
    ("moves_to_cold", "memcached_slab_items_moves_to_cold", Kind::Counter,
     "Number of items moved from HOT or WARM into COLD."),
    ("moves_to_warm", "memcached_slab_items_moves_to_warm", Kind::Counter,
     "Number of items moves from COLD into WARM."),
    ("moves_within_lru", "memcached_slab_items_moves_within_lru", Kind::Counter,
     "Number of times active items were bumped within HOT or WARM."),
    ("number_hot", "memcached_slab_hot_items", Kind::Gauge,
     "Number of items presently stored in the HOT LRU."),
    ("number_warm", "memcached_slab_warm_items", Kind::Gauge,
     "Number of items presently stored in the WARM LRU."),
    ("number_cold", "memcached_slab_cold_items", Kind::Gauge,
     "Number of items presently stored in the COLD LRU."),
    ("number_temp", "memcached_slab_temporary_items", Kind::Gauge,
     "Number of items presently stored in the TEMPORARY LRU."),
    ("age_hot", "memcached_slab_hot_age_seconds", Kind::Gauge,
     "Age of the oldest item in HOT LRU."),
    // The exporter's HELP says HOT here too.
    ("age_warm", "memcached_slab_warm_age_seconds", Kind::Gauge,
     "Age of the oldest item in HOT LRU."),
];

/// `stats items` hits by LRU: stat, `lru` label.
const LRU_HITS: &[(&str, &str)] = &[
    ("hits_to_hot", "hot"),
    ("hits_to_warm", "warm"),
    ("hits_to_cold", "cold"),
    ("hits_to_temp", "temporary"),
];

/// `stats slabs` figures of a class (all gauges).
#[rustfmt::skip]
const SLABS: &[(&str, &str, &str)] = &[
    ("chunk_size", "memcached_slab_chunk_size_bytes",
     "Number of bytes allocated to each chunk within this slab class."),
    ("chunks_per_page", "memcached_slab_chunks_per_page",
     "Number of chunks within a single page for this slab class."),
    ("total_pages", "memcached_slab_current_pages",
     "Number of pages allocated to this slab class."),
    ("total_chunks", "memcached_slab_current_chunks",
     "Number of chunks allocated to this slab class."),
    ("used_chunks", "memcached_slab_chunks_used", "Number of chunks allocated to an item."),
    ("free_chunks", "memcached_slab_chunks_free", "Number of chunks not yet allocated items."),
    ("free_chunks_end", "memcached_slab_chunks_free_end",
     "Number of free chunks at the end of the last allocated page."),
    ("mem_requested", "memcached_slab_mem_requested_bytes",
     "Number of bytes of memory actual items take up within a slab."),
];

const COMMANDS: &str = "memcached_commands_total";
const COMMANDS_HELP: &str =
    "Total number of all requests broken down by command (get, set, etc.) and status.";
const SLAB_COMMANDS: &str = "memcached_slab_commands_total";
const SLAB_COMMANDS_HELP: &str =
    "Total number of all requests broken down by command (get, set, etc.) and status per slab.";
const LRU_HITS_NAME: &str = "memcached_slab_lru_hits_total";
const LRU_HITS_HELP: &str = "Number of get_hits to the LRU.";

/// The pairs the exporter would have read, merged as its memcache client merges them.
#[derive(Default)]
struct Merged {
    global: HashMap<String, String>,
    slabs: BTreeMap<i64, HashMap<String, String>>,
    items: BTreeMap<i64, HashMap<String, String>>,
}

impl Merged {
    fn add(&mut self, pairs: &Pairs) {
        for (name, value) in pairs {
            // The client reads `STAT <name> <value>` lines split at spaces: a value with a
            // space in it is not read.
            if value.contains(' ') || name.contains(' ') {
                continue;
            }
            let parts: Vec<&str> = name.split(':').collect();
            let value = value.trim().to_string();
            match parts[..] {
                [name] => {
                    self.global.insert(name.to_string(), value);
                }
                [class, name] => {
                    if let Ok(class) = class.parse::<i64>() {
                        self.slabs
                            .entry(class)
                            .or_default()
                            .insert(name.to_string(), value);
                    }
                }
                [_, class, name] => {
                    if let Ok(class) = class.parse::<i64>() {
                        self.items
                            .entry(class)
                            .or_default()
                            .insert(name.to_string(), value);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Reads a stat: `None` when it is not there; `Some(Err)` when it is and cannot be read.
fn read(stats: &HashMap<String, String>, key: &str, how: Read) -> Option<Result<f64, ()>> {
    let text = stats.get(key)?;
    Some(match how {
        Read::Number => parse_float(text),
        Read::Bool => match text.as_str() {
            "yes" => Ok(1.0),
            "no" => Ok(0.0),
            _ => Err(()),
        },
        // The exporter adds the part after the dot as microseconds.
        Read::Timeval => match text.split('.').collect::<Vec<_>>()[..] {
            [secs, micros] => match (parse_float(secs), parse_float(micros)) {
                (Ok(s), Ok(us)) => Ok(s + us / 1e6),
                _ => Err(()),
            },
            _ => Err(()),
        },
    })
}

fn parse_float(text: &str) -> Result<f64, ()> {
    text.parse::<f64>().map_err(|_| ())
}

/// Makes metrics from stats, remembering whether any stat could not be read.
struct Builder<'a> {
    out: &'a mut Exposition,
    ok: bool,
}

impl Builder<'_> {
    #[allow(clippy::too_many_arguments)]
    fn one(
        &mut self,
        stats: &HashMap<String, String>,
        key: &str,
        how: Read,
        kind: Kind,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
    ) {
        match read(stats, key, how) {
            None => {}
            Some(Ok(v)) => self.out.number(kind, name, help, labels, v),
            Some(Err(())) => self.ok = false,
        }
    }

    /// `cmd_set` less the CAS figures `cas_keys` (memcached counts CAS commands in
    /// `cmd_set` too): the `set` `hit` count. Missing figures are an error, as in the
    /// exporter.
    fn sets(&mut self, stats: &HashMap<String, String>, cas_keys: &[&str]) -> Option<f64> {
        let set = match read(stats, "cmd_set", Read::Number) {
            Some(Ok(v)) => v,
            _ => {
                self.ok = false;
                return None;
            }
        };
        let mut cas = 0.0;
        for key in cas_keys {
            match read(stats, key, Read::Number) {
                Some(Ok(v)) => cas += v,
                _ => {
                    self.ok = false;
                    return None;
                }
            }
        }
        Some(set - cas)
    }
}

/// Adds memcached_exporter's metrics to `out`, from the pairs of `stats`, `stats slabs`,
/// `stats items` and `stats settings`.
pub(crate) fn add(
    out: &mut Exposition,
    general: &Pairs,
    slabs: &Pairs,
    items: &Pairs,
    settings: &Pairs,
) {
    let mut m = Merged::default();
    m.add(general);
    m.add(slabs);
    m.add(items);
    let mut b = Builder { out, ok: true };
    let s = &m.global;

    let version = s.get("version").map_or("", String::as_str);
    b.out.gauge(
        "memcached_version",
        "The version of this memcached server.",
        &[("version", version)],
        1.0,
    );
    for op in ["get", "delete", "incr", "decr", "cas", "touch"] {
        for (suffix, status) in [("hits", "hit"), ("misses", "miss")] {
            b.one(
                s,
                &format!("{op}_{suffix}"),
                Read::Number,
                Kind::Counter,
                COMMANDS,
                COMMANDS_HELP,
                &[("command", op), ("status", status)],
            );
        }
    }
    b.one(
        s,
        "cas_badval",
        Read::Number,
        Kind::Counter,
        COMMANDS,
        COMMANDS_HELP,
        &[("command", "cas"), ("status", "badval")],
    );
    b.one(
        s,
        "cmd_flush",
        Read::Number,
        Kind::Counter,
        COMMANDS,
        COMMANDS_HELP,
        &[("command", "flush"), ("status", "hit")],
    );
    if let Some(v) = b.sets(s, &["cas_misses", "cas_hits", "cas_badval"]) {
        b.out.counter(
            COMMANDS,
            COMMANDS_HELP,
            &[("command", "set"), ("status", "hit")],
            v,
        );
    }
    if s.contains_key("extstore_limit_maxbytes") {
        for &(key, name, kind, help) in EXTSTORE {
            b.one(s, key, Read::Number, kind, name, help, &[]);
        }
    }
    if s.contains_key("proxy_backend_total") {
        for &(key, name, kind, help) in PROXY {
            b.one(s, key, Read::Number, kind, name, help, &[]);
        }
    }
    for &(key, name, kind, how, help) in GLOBAL {
        b.one(s, key, how, kind, name, help, &[]);
    }

    for (class, u) in &m.items {
        let slab = class.to_string();
        let label = [("slab", slab.as_str())];
        for &(key, name, kind, help) in ITEMS {
            b.one(u, key, Read::Number, kind, name, help, &label);
        }
        for &(key, lru) in LRU_HITS {
            b.one(
                u,
                key,
                Read::Number,
                Kind::Counter,
                LRU_HITS_NAME,
                LRU_HITS_HELP,
                &[("slab", &slab), ("lru", lru)],
            );
        }
    }

    for (class, v) in &m.slabs {
        let slab = class.to_string();
        for op in ["get", "delete", "incr", "decr", "cas", "touch"] {
            b.one(
                v,
                &format!("{op}_hits"),
                Read::Number,
                Kind::Counter,
                SLAB_COMMANDS,
                SLAB_COMMANDS_HELP,
                &[("slab", &slab), ("command", op), ("status", "hit")],
            );
        }
        b.one(
            v,
            "cas_badval",
            Read::Number,
            Kind::Counter,
            SLAB_COMMANDS,
            SLAB_COMMANDS_HELP,
            &[("slab", &slab), ("command", "cas"), ("status", "badval")],
        );
        if let Some(sets) = b.sets(v, &["cas_hits", "cas_badval"]) {
            b.out.counter(
                SLAB_COMMANDS,
                SLAB_COMMANDS_HELP,
                &[("slab", &slab), ("command", "set"), ("status", "hit")],
                sets,
            );
        }
        for &(key, name, help) in SLABS {
            b.one(
                v,
                key,
                Read::Number,
                Kind::Gauge,
                name,
                help,
                &[("slab", &slab)],
            );
        }
    }

    let settings: HashMap<String, String> = settings.iter().cloned().collect();
    b.one(
        &settings,
        "maxconns",
        Read::Number,
        Kind::Gauge,
        "memcached_max_connections",
        "Maximum number of clients allowed.",
        &[],
    );
    if settings.get("lru_crawler").map(String::as_str) == Some("yes") {
        for &(key, name, how, help) in LRU_SETTINGS {
            b.one(&settings, key, how, Kind::Gauge, name, help, &[]);
        }
    }

    let up = if b.ok { 1.0 } else { 0.0 };
    b.out.gauge(
        "memcached_up",
        "Could the memcached server be reached.",
        &[],
        up,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Pairs {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn scrape(
        general: &[(&str, &str)],
        slabs: &[(&str, &str)],
        items: &[(&str, &str)],
        settings: &[(&str, &str)],
    ) -> String {
        let mut e = Exposition::default();
        add(
            &mut e,
            &pairs(general),
            &pairs(slabs),
            &pairs(items),
            &pairs(settings),
        );
        e.encode()
    }

    const GENERAL: &[(&str, &str)] = &[
        ("version", "1.6.45"),
        ("uptime", "12"),
        ("rusage_user", "1.500000"),
        ("cmd_set", "10"),
        ("cas_misses", "1"),
        ("cas_hits", "2"),
        ("cas_badval", "3"),
        ("get_hits", "4"),
        ("get_misses", "5"),
        ("cmd_flush", "0"),
    ];

    #[test]
    fn global_stats_map_to_the_exporters_names() {
        let text = scrape(GENERAL, &[], &[], &[("maxconns", "1024")]);
        for line in [
            "# TYPE memcached_commands_total counter",
            "memcached_commands_total{command=\"set\",status=\"hit\"} 4",
            "memcached_commands_total{command=\"cas\",status=\"badval\"} 3",
            "memcached_commands_total{command=\"get\",status=\"miss\"} 5",
            "memcached_commands_total{command=\"flush\",status=\"hit\"} 0",
            "memcached_version{version=\"1.6.45\"} 1",
            "# TYPE memcached_uptime_seconds counter",
            "memcached_uptime_seconds 12",
            "memcached_process_user_cpu_seconds_total 1.5",
            "memcached_max_connections 1024",
            "memcached_up 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        // Missing stats are skipped, as the exporter skips them.
        assert!(!text.contains("memcached_commands_total{command=\"touch\""));
        assert!(!text.contains("memcached_extstore"));
        assert!(!text.contains("memcached_lru_crawler_enabled"));
    }

    #[test]
    fn a_stat_that_cannot_be_read_makes_up_zero() {
        let text = scrape(
            &[
                ("uptime", "x"),
                ("cmd_set", "1"),
                ("cas_misses", "0"),
                ("cas_hits", "0"),
                ("cas_badval", "0"),
            ],
            &[],
            &[],
            &[],
        );
        assert!(text.contains("\nmemcached_up 0\n"), "{text}");
        assert!(!text.contains("memcached_uptime_seconds"));
        // So does a missing cmd_set (the exporter needs it for the set count).
        let text = scrape(&[], &[], &[], &[]);
        assert!(text.contains("\nmemcached_up 0\n"), "{text}");
    }

    #[test]
    fn slab_and_item_stats_are_labelled_by_class() {
        let text = scrape(
            GENERAL,
            &[
                ("1:chunk_size", "96"),
                ("1:cmd_set", "9"),
                ("1:cas_hits", "1"),
                ("1:cas_badval", "1"),
                ("1:get_hits", "3"),
                ("active_slabs", "1"),
                ("total_malloced", "1048576"),
            ],
            &[
                ("items:1:number", "5"),
                ("items:1:mem_requested", "400"),
                ("items:1:hits_to_hot", "2"),
                ("items:12:evicted", "7"),
            ],
            &[
                ("lru_crawler", "yes"),
                ("lru_crawler_sleep", "100"),
                ("lru_maintainer_thread", "no"),
            ],
        );
        for line in [
            "memcached_slab_chunk_size_bytes{slab=\"1\"} 96",
            "memcached_slab_commands_total{command=\"set\",slab=\"1\",status=\"hit\"} 7",
            "memcached_slab_commands_total{command=\"get\",slab=\"1\",status=\"hit\"} 3",
            "memcached_slab_current_items{slab=\"1\"} 5",
            "# TYPE memcached_slab_mem_requested_bytes counter",
            "memcached_slab_mem_requested_bytes{slab=\"1\"} 400",
            "memcached_slab_lru_hits_total{lru=\"hot\",slab=\"1\"} 2",
            "memcached_slab_items_evicted_total{slab=\"12\"} 7",
            "memcached_malloced_bytes 1048576",
            "memcached_lru_crawler_enabled 1",
            "memcached_lru_crawler_sleep 100",
            "memcached_lru_crawler_maintainer_thread 0",
            "memcached_up 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }

    #[test]
    fn extstore_and_proxy_figures_only_with_their_signal_stat() {
        let mut general = GENERAL.to_vec();
        general.push(("extstore_pages_free", "3"));
        general.push(("proxy_req_active", "2"));
        let text = scrape(&general, &[], &[], &[]);
        assert!(!text.contains("memcached_extstore_pages_free"));
        assert!(!text.contains("memcached_proxy_req_active"));
        general.push(("extstore_limit_maxbytes", "100"));
        general.push(("proxy_backend_total", "4"));
        let text = scrape(&general, &[], &[], &[]);
        assert!(text.contains("\nmemcached_extstore_pages_free 3\n"));
        assert!(text.contains("\nmemcached_extstore_bytes_limit 100\n"));
        assert!(text.contains("\nmemcached_proxy_req_active 2\n"));
        assert!(text.contains("\nmemcached_proxy_backend_total 4\n"));
    }
}
