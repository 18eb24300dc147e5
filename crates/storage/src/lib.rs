//! The ferrocache store: a [`Store`] wraps a moka cache and gives it memcached's semantics
//! (exptime rules, flush epochs, one global CAS counter, atomic read-modify-write commands,
//! and a memory budget that counts real bytes).
//!
//! CONTRACT (written by the server author; the storage implementer fills the bodies and may add
//! private modules, but must keep these public names and signatures so the server compiles):

use bytes::Bytes;

/// What the server passes at start-up (from memcached's `-m`, `-M`, `-I`, `-C`, `-o`).
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// `-m`, in bytes (default 64 MiB). A budget of real memory: the weigher counts moka's
    /// per-entry overhead as well as key and value.
    pub memory_limit: u64,
    /// `-M`: refuse to store (`OutOfMemory`) instead of evicting.
    pub no_evict: bool,
    /// `-I`, in bytes (default 1 MiB). Items larger than this, counted as memcached counts
    /// them, are refused with `TooLarge`.
    pub item_size_max: usize,
    /// `-C` turns CAS off: every item's CAS is 0 and `cas` commands never match.
    pub cas_enabled: bool,
    /// Eviction policy: memcached-like LRU (default) or moka's TinyLFU (`-o ...`).
    pub policy: EvictionPolicy,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            memory_limit: 64 * 1024 * 1024,
            no_evict: false,
            item_size_max: 1024 * 1024,
            cas_enabled: true,
            policy: EvictionPolicy::Lru,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvictionPolicy {
    Lru,
    TinyLfu,
}

/// An item as a reader sees it. Cheap to clone: the value is a refcounted `Bytes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemView {
    pub value: Bytes,
    pub flags: u32,
    pub cas: u64,
}

/// Which storage command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreMode {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    /// `cas` with the client's unique.
    Cas(u64),
}

/// The outcome of a storage command; the server maps it to memcached's reply line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreOutcome {
    /// `STORED`
    Stored,
    /// `NOT_STORED` (add on a live key, replace/append/prepend on a missing key)
    NotStored,
    /// `EXISTS` (cas unique mismatch)
    Exists,
    /// `NOT_FOUND` (cas on a missing key)
    NotFound,
    /// `SERVER_ERROR object too large for cache`
    TooLarge,
    /// `SERVER_ERROR out of memory storing object` (with `-M`, when full)
    OutOfMemory,
}

/// The outcome of incr/decr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOutcome {
    /// The new value.
    Value(u64),
    NotFound,
    /// `CLIENT_ERROR cannot increment or decrement non-numeric value`
    NonNumeric,
}

/// Counters the store keeps; names follow memcached's `stats` fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub curr_items: u64,
    pub total_items: u64,
    /// Bytes of items as memcached would report them.
    pub bytes: u64,
    pub evictions: u64,
    pub limit_maxbytes: u64,
    pub get_hits: u64,
    pub get_misses: u64,
    pub get_expired: u64,
    pub get_flushed: u64,
    pub delete_hits: u64,
    pub delete_misses: u64,
    pub incr_hits: u64,
    pub incr_misses: u64,
    pub decr_hits: u64,
    pub decr_misses: u64,
    pub cas_hits: u64,
    pub cas_misses: u64,
    pub cas_badval: u64,
    pub touch_hits: u64,
    pub touch_misses: u64,
    pub cmd_get: u64,
    pub cmd_set: u64,
    pub cmd_touch: u64,
    pub cmd_flush: u64,
    pub store_too_large: u64,
    pub store_no_memory: u64,
    pub expired_unfetched: u64,
    pub evicted_unfetched: u64,
    pub reclaimed: u64,
}

/// A source of wall-clock time in whole unix seconds, swappable in tests.
pub trait Clock: Send + Sync + 'static {
    fn unix_now(&self) -> u64;
}

pub struct Store {
    _private: (),
}

impl Store {
    pub fn new(config: StoreConfig) -> Store {
        let _ = config;
        todo!()
    }
    pub fn with_clock(config: StoreConfig, clock: std::sync::Arc<dyn Clock>) -> Store {
        let _ = (config, clock);
        todo!()
    }
    /// `get`/`gets` of one key. `exptime` values elsewhere are the raw client numbers
    /// (0 never, <= 30 days relative, larger absolute unix time, negative already expired).
    pub fn get(&self, key: &[u8]) -> Option<ItemView> {
        let _ = key;
        todo!()
    }
    /// `gat`/`gats` of one key: get and set a new exptime.
    pub fn get_and_touch(&self, key: &[u8], exptime: i64) -> Option<ItemView> {
        let _ = (key, exptime);
        todo!()
    }
    pub fn touch(&self, key: &[u8], exptime: i64) -> bool {
        let _ = (key, exptime);
        todo!()
    }
    pub fn store(
        &self,
        mode: StoreMode,
        key: &[u8],
        flags: u32,
        exptime: i64,
        value: Bytes,
    ) -> StoreOutcome {
        let _ = (mode, key, flags, exptime, value);
        todo!()
    }
    pub fn delete(&self, key: &[u8]) -> bool {
        let _ = key;
        todo!()
    }
    pub fn incr_decr(&self, key: &[u8], delta: u64, incr: bool) -> ArithOutcome {
        let _ = (key, delta, incr);
        todo!()
    }
    /// `flush_all [delay]`; delay 0 (or negative) means now.
    pub fn flush_all(&self, delay: i64) {
        let _ = delay;
        todo!()
    }
    /// `cache_memlimit <megabytes>`.
    pub fn set_memory_limit(&self, bytes: u64) {
        let _ = bytes;
        todo!()
    }
    /// `stats reset`: zero the counters (not curr_items/bytes/limit).
    pub fn reset_stats(&self) {
        todo!()
    }
    pub fn stats(&self) -> StoreStats {
        todo!()
    }
    /// Would an item of this key and value length fit under `-I`, counted as memcached counts?
    pub fn item_size_ok(&self, key_len: usize, value_len: usize) -> bool {
        let _ = (key_len, value_len);
        todo!()
    }
}
