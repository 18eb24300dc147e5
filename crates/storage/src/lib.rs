//! The ferrocache store: a [`Store`] wraps a moka cache and gives it memcached's semantics.
//!
//! - **Time**: exptimes follow memcached's rules (0 never, up to 30 days relative, larger
//!   absolute, negative already expired) and are checked lazily when an item is read, never
//!   by moka's own expiry. A million keys expiring at once therefore costs no request a mass
//!   clean-up: the LRU crawler's thread removes them in the background, paced (`crawler`).
//! - **Flush**: `flush_all` records a flush epoch (memcached's `oldest_live` and `oldest_cas`)
//!   that reads check, instead of calling `invalidate_all()`, whose later clean-up stalls a
//!   request for seconds on a full cache. The crawler then removes the flushed items, paced.
//! - **CAS**: one global counter; every mutation takes a fresh value.
//! - **Atomicity**: every write to a key (set, add, replace, append, prepend, cas, incr, decr,
//!   touch, delete) runs under that key's stripe lock; see [`Store`].
//! - **Memory**: `-m` is a budget of real memory. The weigher charges each entry its key,
//!   its value and moka's per-entry overhead ([`item::ENTRY_OVERHEAD`]).
//! - **Hashing**: moka's table and the stripe locks hash keys with foldhash (seeded at random
//!   per store, so clients cannot predict collisions) instead of std's SipHash. moka's hash
//!   table rehashes every live key of a table each time tombstones pile up, and with SipHash
//!   that re-hashing was the largest single cost of a `set` on a full cache (perf, while
//!   storing a million keys): the slower each set, the more often moka's write log filled up
//!   and a request thread slept or did moka's bookkeeping itself.
//!   A long key also carries its hash and a short one sits inline (`key::Key`), so those
//!   re-hashes and moka's probes do not follow a pointer to the key's bytes.
//! - **Shards**: up to 8 moka caches, each with an equal share of `-m`: one cache up to
//!   `-m 127`, then shares of at least 64 MiB, and fewer caches when a share would be under
//!   twice `-I` (so that the largest item fits in one), picked by the key's own hash so that
//!   every one of moka's hash sub-tables is used and each re-hash stays small (`shards`).

mod clock;
mod counters;
mod crawler;
mod front;
mod housekeeper;
mod item;
mod key;
mod meta;
mod persist;
mod shards;
pub mod slabs;
pub mod tap;
mod value;

pub use clock::{Clock, DebugClock, ManualClock, SystemClock, REALTIME_MAXDELTA};
pub use counters::{stripe, Stripes, STRIPES as COUNTER_STRIPES};
pub use crawler::{CrawlReply, CrawlTarget, CrawlerConfig, CrawlerStats, Dump, DumpKind};
pub use item::{exact_size, AllocSize, ValueIn, ENTRY_OVERHEAD};
pub use meta::{DebugInfo, MetaArith, MetaDelete, MetaGet, MetaHit, MetaStore, MgOp};
pub use persist::{LoadError, LoadReport, SaveReport};
pub use value::Value;

use clock::Times;
use counters::{bump, Counters};
use ferrocache_protocol::number::strtoull;
use item::{ntotal, weight, Item};
use key::{Key, Probe};
use moka::notification::RemovalCause;
use shards::Shards;
use slabs::{ClassCounters, ClassHits, Classes, SlabConfig};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// What the server passes at start-up (from memcached's `-m`, `-M`, `-I`, `-C`, `-o`).
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// `-m`, in bytes (default 64 MiB): a budget of real memory.
    pub memory_limit: u64,
    /// The most [`Store::set_memory_limit`] (`cache_memlimit`) can raise the budget to, in
    /// bytes: moka's caches are built this large, and the store holds back what the budget
    /// does not lend to items as ballast (see [`Store::set_memory_limit`]). At or below
    /// `memory_limit` (the default, 0), the budget cannot grow past `memory_limit`.
    pub memory_ceiling: u64,
    /// `-M`: refuse to store (`OutOfMemory`) instead of evicting.
    pub no_evict: bool,
    /// `-I`, in bytes (default 1 MiB), counted as memcached counts items.
    pub item_size_max: usize,
    /// `-C` turns CAS off: every item's CAS is 0.
    pub cas_enabled: bool,
    /// Eviction policy: memcached-like LRU (default) or moka's TinyLFU.
    pub policy: EvictionPolicy,
    /// The allocator's size classes, charged against `-m` (see [`AllocSize`]).
    pub alloc_size: AllocSize,
    /// memcached's slab class table settings (`-n`, `-f`, `slab_chunk_max`, `slab_sizes`):
    /// items are counted by class as memcached would file them (see [`slabs`]).
    pub slabs: SlabConfig,
    /// The LRU crawler's start-up settings (`-o lru_crawler_sleep`, ...).
    pub crawler: CrawlerConfig,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            memory_limit: 64 * 1024 * 1024,
            memory_ceiling: 0,
            no_evict: false,
            item_size_max: 1024 * 1024,
            cas_enabled: true,
            policy: EvictionPolicy::Lru,
            alloc_size: exact_size,
            slabs: SlabConfig::default(),
            crawler: CrawlerConfig::default(),
        }
    }
}

/// Which entries moka evicts when the budget is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvictionPolicy {
    /// Least recently used first, as memcached does: a value just stored stays readable.
    Lru,
    /// moka's TinyLFU: keeps frequently used keys better under scans, but once the cache is
    /// full it refuses most new keys (a `set` answers `STORED`, then the key is soon gone).
    TinyLfu,
}

/// An item as a reader sees it. Cheap to clone: the value is reference-counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemView {
    pub value: Value,
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
    Stored,
    NotStored,
    Exists,
    NotFound,
    TooLarge,
    OutOfMemory,
}

/// The outcome of incr/decr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOutcome {
    Value(u64),
    NotFound,
    NonNumeric,
    /// The binary protocol's CAS did not match.
    Exists,
    /// The new item could not be stored (out of memory with `-M`).
    NotStored,
}

/// The outcome of a delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    NotFound,
    /// The binary protocol's CAS did not match.
    Exists,
}

/// Counters the store keeps, named after memcached's `stats` fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub curr_items: u64,
    pub total_items: u64,
    /// Bytes of items, counted as memcached counts them.
    pub bytes: u64,
    pub evictions: u64,
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
    pub store_too_large: u64,
    pub store_no_memory: u64,
    /// Rounds of moka's bookkeeping the housekeeper thread has run (memcached's
    /// `lru_maintainer_juggles`).
    pub housekeeper_rounds: u64,
    /// The most items linked at once since start.
    pub peak_items: u64,
}

/// Number of write locks. A power of two well above the number of threads, so two writers
/// rarely share a stripe.
const STRIPES: usize = 4096;

/// memcached's flush epoch, and the last second a request saw.
///
/// Shared (in an `Arc`) by the store and moka's eviction listener: an item evicted for room
/// while already expired or flushed is what memcached counts as `reclaimed` rather than
/// `evicted`, and the listener has no store to ask. Relaxed atomics: each field is written
/// whole by `flush_all` (or once a second) and a reader racing a flush sees it a moment
/// early or late, as a reader racing memcached's flush does.
#[derive(Default)]
struct Epoch {
    /// memcached's flush epoch: items last stored at or before `oldest_live` are gone once
    /// `oldest_live` has passed (read as "flushed"). 0 means no flush.
    oldest_live: AtomicU32,
    /// What memcached's `flush_all` unlinks at once: the items that existed then (a CAS below
    /// `oldest_cas`) stored at or after `unlinked_from`. They are gone for good (read as
    /// plain misses), even if a later delayed flush moves `oldest_live` into the future.
    oldest_cas: AtomicU64,
    unlinked_from: AtomicU32,
    /// The store's relative time as last read by a request.
    now: AtomicU32,
}

impl Epoch {
    /// Is the item gone by a `flush_all`, and how: memcached unlinks an immediate flush's
    /// recent items at once (a later read is a plain miss) and the older ones when they are
    /// next read (counted in `get_flushed`).
    fn flushed(&self, item: &Item, now: u32) -> Flushed {
        let oldest_cas = self.oldest_cas.load(Ordering::Relaxed);
        if oldest_cas != 0
            && item.cas != 0
            && item.cas < oldest_cas
            && item.time >= self.unlinked_from.load(Ordering::Relaxed)
        {
            return Flushed::Unlinked;
        }
        let oldest_live = self.oldest_live.load(Ordering::Relaxed);
        if oldest_live != 0 && oldest_live <= now && item.time <= oldest_live {
            return Flushed::OnRead;
        }
        Flushed::No
    }

    /// Is the item flushed or expired?
    fn is_dead(&self, item: &Item, now: u32) -> bool {
        !matches!(self.flushed(item, now), Flushed::No)
            || (item.exptime != 0 && item.exptime <= now)
    }
}

/// How `flush_all` took an item (see [`Store::flush_all`]).
enum Flushed {
    No,
    /// Unlinked by the flush itself: a later read is a plain miss.
    Unlinked,
    /// Found flushed by the read: counted in `get_flushed`.
    OnRead,
}

/// The store.
///
/// Concurrency: reads go straight to moka, which is safe for concurrent use. Every write
/// takes the stripe lock of its key first, then reads the current item, decides, and inserts
/// or invalidates. moka's own `entry().and_compute_with` is not atomic against a plain
/// `insert` on the same key, so instead *every* write goes through the stripe locks: two
/// writers of one key are serialised, and a read-modify-write (add, cas, incr, append...)
/// sees no other write between its read and its write. Readers never take a lock except to
/// remove an item they found expired, and then they re-check under the lock; so does the
/// LRU crawler (`crawler`), which shares the store's state through an `Arc` of its [`Core`].
pub struct Store {
    core: Arc<Core>,
}

/// The store's state, shared by the [`Store`] handle and the crawler's thread (which must
/// outlive no store: dropping the `Store` stops it). `Store` derefs to it, so the store's
/// methods read these fields as their own.
pub struct Core {
    cache: Shards,
    locks: Box<[Mutex<()>]>,
    clock: Arc<dyn Clock>,
    times: Times,
    /// The last CAS value handed out. memcached 1.6.45 starts it at 1 and hands out the next
    /// value, so the first item's CAS is 2.
    cas: AtomicU64,
    /// The flush epoch, shared with the eviction listener (see [`Epoch`]).
    epoch: Arc<Epoch>,
    /// `-m`, changeable by `cache_memlimit`: the `-M` admission limit.
    limit: AtomicU64,
    config: StoreConfig,
    counters: Arc<Counters>,
    /// Set by the eviction listener when moka evicted the ballast.
    ballast_lost: Arc<AtomicBool>,
    /// The second `removals` counts reader removals in (see `removal_budget`).
    removal_window: AtomicU32,
    removals: AtomicU64,
    /// Keys for the ballast ([`Store::set_ballast`]), the same number for each moka cache
    /// (enough for its share of the ceiling: moka weighs an entry with a `u32`): 251 bytes,
    /// one more than any key a client can send, so no request reaches them.
    ballast_keys: Vec<Key>,
    /// What the ballast holds, behind a lock: the memory guard (every 10 ms) and
    /// `cache_memlimit` (any connection) both change it, and each writes the whole ballast
    /// from both parts, so two writers must not interleave.
    ballast: Mutex<Ballast>,
    /// moka's capacity: the most the budget can be raised to (see [`Store::set_memory_limit`]).
    ceiling: u64,
    /// memcached's slab classes and each one's counters, shared with the eviction listener,
    /// which counts items out as `link` counts them in.
    classes: Arc<Classes>,
    /// What `watch` log streams are told (see [`tap`]); shared with the eviction listener.
    tap: Arc<tap::Tap>,
    /// The LRU crawler's settings, state and schedule (see `crawler`).
    crawler: crawler::Crawler,
}

impl std::ops::Deref for Store {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

/// The item a store's `item_store` event describes: the request's, or for an append the
/// joined one (memcached logs whichever it ends up holding).
struct Logged {
    flags: u32,
    /// Relative expiry time (0 for none), and the time it is measured from.
    exptime: u32,
    now: u32,
    size: usize,
}

/// memcached's name for a storage mode in its `item_store` log line.
fn store_cmd(mode: StoreMode) -> &'static str {
    match mode {
        StoreMode::Set => "set",
        StoreMode::Add => "add",
        StoreMode::Replace => "replace",
        StoreMode::Append => "append",
        StoreMode::Prepend => "prepend",
        StoreMode::Cas(_) => "cas",
    }
}

/// `per_shard` keys for each of `cache`'s moka caches, none of which a client can send (251
/// bytes).
fn ballast_keys(cache: &Shards, per_shard: usize) -> Vec<Key> {
    let mut keys: Vec<Vec<Key>> = (0..cache.count()).map(|_| Vec::new()).collect();
    let mut bytes = vec![b'.'; 251];
    let name = b"\0ferrocache-ballast";
    bytes[..name.len()].copy_from_slice(name);
    let mut n = 0u64;
    while keys.iter().any(|k| k.len() < per_shard) {
        bytes[240..248].copy_from_slice(&n.to_le_bytes());
        let probe = Probe::new(&bytes);
        let shard = cache.index(&probe);
        if keys[shard].len() < per_shard {
            keys[shard].push(probe.to_owned_key());
        }
        n += 1;
    }
    keys.into_iter().flatten().collect()
}

/// The weight the store holds in moka that is no item (see [`Store::set_ballast`]).
#[derive(Debug, Default)]
struct Ballast {
    /// Held back from items because the budget is under the ceiling: `ceiling - limit`
    /// once a lowering has been paced in ([`RESERVE_STEP`] at a time).
    reserve: u64,
    /// Held for the server's memory guard.
    guard: u64,
    /// What was last written into moka, and the write volume (`charged_total`) then.
    held: u64,
    writes: u64,
}

/// How much more the reserve may hold back per [`Store::set_ballast`] call (the memory
/// guard calls it every 10 ms) when `cache_memlimit` lowers the budget. Every byte of it
/// is items evicted by the housekeeper, in moka's maintenance, which writers wait for
/// when their write log fills: a step at a time keeps each maintenance run short (see
/// bench/RESULTS.md, "cache_memlimit").
pub const RESERVE_STEP: u64 = 8 << 20;

/// Counts an entry moka let go for room. As memcached's `lru_pull_tail` does, one that was
/// already expired or flushed is `reclaimed` (and `expired_unfetched` if never read), a live
/// one `evicted` (`evicted_unfetched` if never read). One evicted on a worker thread, not by
/// the housekeeper, is a `direct_reclaim`: a request paid for it. Returns whether it was live.
fn evicted(c: &Counters, k: &ClassCounters, epoch: &Epoch, item: &Item) -> bool {
    let now = epoch.now.load(Ordering::Relaxed);
    let live = !epoch.is_dead(item, now);
    if !live {
        bump(&k.reclaimed);
        if !item.value.fetched() {
            bump(&k.expired_unfetched);
        }
    } else {
        bump(&c.mine().evictions);
        bump(&k.evicted);
        if item.exptime != 0 {
            bump(&k.evicted_nonzero);
        }
        if !item.value.fetched() {
            bump(&k.evicted_unfetched);
        }
        k.evicted_time
            .store(u64::from(now.saturating_sub(item.time)), Ordering::Relaxed);
    }
    if !housekeeper::on_this_thread() {
        bump(&k.direct_reclaims);
    }
    live
}

/// Dead items readers remove per second at most (see `Store::removal_budget`).
const READ_REMOVALS_PER_SECOND: u64 = 2_000;

impl Store {
    pub fn new(config: StoreConfig) -> Store {
        Store::with_clock(config, Arc::new(SystemClock::new()))
    }

    pub fn with_clock(config: StoreConfig, clock: Arc<dyn Clock>) -> Store {
        let counters = Arc::new(Counters::default());
        let listener_counters = counters.clone();
        let classes = Arc::new(Classes::new(
            &config.slabs,
            config.item_size_max,
            config.cas_enabled,
        ));
        let listener_classes = classes.clone();
        let epoch = Arc::new(Epoch::default());
        let listener_epoch = epoch.clone();
        let tap = Arc::new(tap::Tap::default());
        let listener_tap = tap.clone();
        let cas_enabled = config.cas_enabled;
        let alloc_size = config.alloc_size;
        // With -M nothing may be evicted: the budget is enforced by `link`'s admission check
        // alone, and moka (whose shards each get a share of the capacity, and would evict in a
        // busy one) is given room it never uses. Otherwise moka gets the ceiling, and the
        // ballast holds back what `-m` does not lend to items.
        let ceiling = if config.no_evict {
            config.memory_limit
        } else {
            config.memory_limit.max(config.memory_ceiling)
        };
        let capacity = if config.no_evict {
            u64::MAX / 4
        } else {
            ceiling
        };
        // The count follows -m even with -M, where moka's own capacity is only a ceiling.
        let count = Shards::count_for(config.memory_limit, config.item_size_max as u64);
        let ballast_lost = Arc::new(AtomicBool::new(false));
        let lost = ballast_lost.clone();
        let front = Arc::new(front::Front::new(front::Front::pairs_for(
            config.memory_limit,
        )));
        let listener_front = front.clone();
        let cache = Shards::build(count, capacity, front, |builder| {
            let front = listener_front.clone();
            let c = listener_counters.clone();
            let classes = listener_classes.clone();
            let lost = lost.clone();
            let epoch = listener_epoch.clone();
            let tap = listener_tap.clone();
            builder
                .weigher(move |key, item| item::weigh(key, item, alloc_size))
                .eviction_policy(match config.policy {
                    EvictionPolicy::Lru => moka::policy::EvictionPolicy::lru(),
                    EvictionPolicy::TinyLfu => moka::policy::EvictionPolicy::tiny_lfu(),
                })
                .eviction_listener(move |key: Arc<Key>, item: Item, cause| {
                    // The front table must not keep a copy (see `front`). A replaced item is
                    // the one exception: every replacement is an insert of ours, which
                    // updates the front table itself once moka has the new item.
                    if cause != RemovalCause::Replaced {
                        front.forget(&key);
                    }
                    if cause == RemovalCause::Size {
                        front.count_tail_removal();
                    }
                    if item.has(Item::BALLAST) {
                        // Evicted (it had become the least recently used): put back at
                        // the next `set_ballast`. Replacing it is how it is refreshed.
                        if cause == RemovalCause::Size {
                            lost.store(true, Ordering::Relaxed);
                        }
                        return;
                    }
                    // Every entry that leaves, for whatever reason, is uncounted here, and every
                    // insert counts itself in `link`: the two balance exactly.
                    c.curr_items.fetch_sub(1, Ordering::Relaxed);
                    c.bytes.fetch_sub(
                        ntotal(key.len(), item.flags, item.value.len(), cas_enabled) as i64,
                        Ordering::Relaxed,
                    );
                    c.charged.fetch_sub(
                        i64::from(weight(key.len(), item.value.len(), alloc_size)),
                        Ordering::Relaxed,
                    );
                    let class = classes.count(key.len(), item.flags, item.value.len(), -1);
                    if cause == RemovalCause::Size {
                        let now = epoch.now.load(Ordering::Relaxed);
                        let live = evicted(&c, classes.counters(class), &epoch, &item);
                        // memcached logs the live items it evicts (not the dead ones it
                        // reclaims), with TTL and age on its relative clock.
                        if live && tap.wants(tap::EVICTIONS) {
                            tap.emit(tap::Event::Eviction {
                                key: key.bytes(),
                                fetched: item.value.fetched(),
                                ttl: if item.exptime == 0 {
                                    -1
                                } else {
                                    i64::from(item.exptime) - i64::from(now)
                                },
                                last_access: now.wrapping_sub(item.time),
                                clsid: class,
                                size: item.value.len(),
                            });
                        }
                    }
                })
        });
        let work = cache.clone();
        let waker = cache.waker.clone();
        let idle = housekeeper::IDLE_SLEEP;
        if let Err(e) = housekeeper::spawn(waker, counters.clone(), idle, move || {
            work.run_pending_tasks()
        }) {
            // The cache still works; moka then does all its bookkeeping inline.
            eprintln!("ferrocache: could not start the housekeeping thread: {e}");
        }
        let times = Times::new(clock.unix_now());
        // moka weighs an entry with a u32: enough keys per cache to hold its whole share.
        let per_shard = (ceiling / cache.count() as u64)
            .div_ceil(u64::from(u32::MAX))
            .max(1);
        let ballast_keys = ballast_keys(&cache, per_shard as usize);
        let crawler = crawler::Crawler::new(&config.crawler);
        let core = Arc::new(Core {
            crawler,
            ballast_keys,
            ballast: Mutex::new(Ballast::default()),
            ballast_lost,
            ceiling,
            cache,
            locks: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            clock,
            times,
            cas: AtomicU64::new(1),
            epoch,
            limit: AtomicU64::new(config.memory_limit),
            config,
            counters,
            removal_window: AtomicU32::new(0),
            removals: AtomicU64::new(0),
            classes,
            tap,
        });
        crawler::spawn(&core);
        let store = Store { core };
        // The whole reserve at once, into the empty cache (nothing to evict), where moka
        // admits it whatever its policy.
        {
            let mut b = store.ballast();
            b.reserve = store.reserve_target();
            store.put_ballast(&mut b);
        }
        store
    }
}

impl Core {
    fn now(&self) -> u32 {
        let now = self.times.current(self.clock.unix_now());
        // Read first: the line is written once a second, not by every request.
        if self.epoch.now.load(Ordering::Relaxed) != now {
            self.epoch.now.store(now, Ordering::Relaxed);
        }
        now
    }

    /// memcached's `settings.oldest_live` (`stats settings` `oldest`): the relative time of
    /// the last `flush_all`, 0 for none.
    pub fn oldest_live(&self) -> u32 {
        self.epoch.oldest_live.load(Ordering::Relaxed)
    }

    /// Adds one to a counter of the class `item` is filed under.
    fn class_bump(&self, key_len: usize, item: &Item, field: fn(&ClassHits) -> &AtomicU64) {
        let (_, class) = self.classes.item(key_len, item.flags, item.value.len());
        bump(field(self.classes.hit(class)));
    }

    /// Where `watch` log streams get the store's events (see [`tap`]).
    pub fn tap(&self) -> &Arc<tap::Tap> {
        &self.tap
    }

    /// The slab class an item of these sizes is filed under.
    fn class_of(&self, key_len: usize, flags: u32, value_len: usize) -> u8 {
        self.classes.item(key_len, flags, value_len).1
    }

    /// memcached's slab classes and their counters (`stats items`, `stats slabs`).
    pub fn classes(&self) -> &Classes {
        &self.classes
    }

    /// memcached's `current_time`: whole seconds since the store's (backdated) start.
    pub fn current_time(&self) -> u32 {
        self.now()
    }

    fn lock(&self, key: &Key) -> MutexGuard<'_, ()> {
        let stripe = key.hash32() as usize % STRIPES;
        // A stripe guards no data of its own, so a poisoned one is still usable.
        self.locks[stripe].lock().unwrap_or_else(|e| e.into_inner())
    }

    fn next_cas(&self) -> u64 {
        self.cas.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn flushed(&self, item: &Item, now: u32) -> Flushed {
        self.epoch.flushed(item, now)
    }

    /// Is the item flushed or expired? (No counter changes: for listings.)
    fn is_dead(&self, item: &Item, now: u32) -> bool {
        self.epoch.is_dead(item, now)
    }
}

impl Store {
    /// Looks a key up as memcached's `do_item_get` does: an expired or flushed item is
    /// counted, removed and reported missing. `locked` says whether the caller holds the
    /// key's stripe lock. Each lookup is an `item_get` event for `watch fetchers`, as
    /// memcached logs every `do_item_get`.
    fn lookup(&self, key: &Key, now: u32, locked: bool) -> Option<Item> {
        self.lookup_full(key, now, locked, false, true)
    }

    /// [`Store::lookup`] by a caller about to store a new item under the key: a dead item
    /// found there is `reclaimed`: its memory goes to the new one, as memcached's allocation
    /// reuses a dead item from its LRU's tail.
    fn lookup_storing(&self, key: &Key, now: u32) -> Option<Item> {
        self.lookup_full(key, now, true, true, true)
    }

    /// [`Store::lookup`], with `storing` as for [`Store::lookup_storing`], and `log` false
    /// for the server's own peeks (the `-vv` trace), which memcached does not log.
    fn lookup_full(
        &self,
        key: &Key,
        now: u32,
        locked: bool,
        storing: bool,
        log: bool,
    ) -> Option<Item> {
        let emit = |status: tap::GetStatus, item: Option<&Item>| {
            if log && self.tap.wants(tap::FETCHERS) {
                self.tap.emit(tap::Event::ItemGet {
                    key: key.bytes(),
                    status,
                    clsid: item.map_or(0, |i| self.class_of(key.len(), i.flags, i.value.len())),
                    size: item.map_or(0, |i| i.value.len()),
                });
            }
        };
        self.cache.front.tune(now, || {
            self.counters.curr_items.load(Ordering::Relaxed).max(0) as u64
        });
        let Some(item) = self.cache.read(key, now, |i| !self.is_dead(i, now)) else {
            emit(tap::GetStatus::NotFound, None);
            return None;
        };
        let dead = match self.flushed(&item, now) {
            Flushed::OnRead => {
                bump(&self.counters.mine().get_flushed);
                Some(tap::GetStatus::Flushed)
            }
            // memcached unlinked it at the flush: its lookup finds nothing.
            Flushed::Unlinked => Some(tap::GetStatus::NotFound),
            Flushed::No if item.exptime != 0 && item.exptime <= now => {
                bump(&self.counters.mine().get_expired);
                Some(tap::GetStatus::Expired)
            }
            Flushed::No => None,
        };
        let Some(status) = dead else {
            emit(tap::GetStatus::Found, Some(&item));
            return Some(item);
        };
        emit(status, None);
        if storing {
            let class = self.classes.item(key.len(), item.flags, item.value.len()).1;
            let k = self.classes.counters(class);
            bump(&k.reclaimed);
            if !item.value.fetched() {
                bump(&k.expired_unfetched);
            }
        }
        if locked {
            self.cache.invalidate(key);
        } else if self.removal_budget(now) {
            let _guard = self.lock(key);
            // Remove it only if nobody replaced it since we looked.
            if self.cache.get(key).is_some_and(|now| now.cas == item.cas) {
                self.cache.invalidate(key);
            }
        }
        None
    }

    /// May a reader remove one more dead item this second? Like memcached, a read that finds
    /// an expired or flushed item unlinks it, which keeps `curr_items` exact. But each removal
    /// is a write in moka, and after a `flush_all` or a mass expiry on a full cache every read
    /// would become one, which measurably stalls requests; past this many per second the
    /// dead item is left for eviction to reclaim (it is still never returned).
    fn removal_budget(&self, now: u32) -> bool {
        let window = self.removal_window.load(Ordering::Relaxed);
        if window != now {
            self.removal_window.store(now, Ordering::Relaxed);
            self.removals.store(1, Ordering::Relaxed);
            return true;
        }
        self.removals.fetch_add(1, Ordering::Relaxed) < READ_REMOVALS_PER_SECOND
    }

    /// Links `item` under `key` (the caller holds the stripe lock). Refuses with `-M` when the
    /// budget would be exceeded.
    fn link(&self, key: &Key, item: Item, replacing: Option<&Item>, count: bool) -> bool {
        let alloc_size = self.config.alloc_size;
        let w = i64::from(weight(key.len(), item.value.len(), alloc_size));
        if self.config.no_evict {
            let freed = replacing.map_or(0, |old| {
                i64::from(weight(key.len(), old.value.len(), alloc_size))
            });
            let charged = self.counters.charged.load(Ordering::Relaxed);
            if charged - freed + w > self.limit.load(Ordering::Relaxed) as i64 {
                bump(&self.counters.mine().store_no_memory);
                let class = self.class_of(key.len(), item.flags, item.value.len());
                bump(&self.classes.counters(class).outofmemory);
                return false;
            }
        }
        let c = &self.counters;
        let items = c.curr_items.fetch_add(1, Ordering::Relaxed) + 1;
        // Read first: the peak moves rarely once a cache has filled.
        if items > 0 && items as u64 > c.peak_items.load(Ordering::Relaxed) {
            c.peak_items.fetch_max(items as u64, Ordering::Relaxed);
        }
        c.bytes.fetch_add(
            ntotal(
                key.len(),
                item.flags,
                item.value.len(),
                self.config.cas_enabled,
            ) as i64,
            Ordering::Relaxed,
        );
        c.charged.fetch_add(w, Ordering::Relaxed);
        c.charged_total.fetch_add(w as u64, Ordering::Relaxed);
        self.classes
            .count(key.len(), item.flags, item.value.len(), 1);
        if count {
            bump(&c.mine().total_items);
        }
        if item.exptime != 0 {
            self.crawler.note_expiry(item.exptime);
        }
        self.cache
            .store(key, item, self.epoch.now.load(Ordering::Relaxed));
        true
    }

    /// A new item, with the client's CAS value (`E`) or the next one (none without CAS).
    fn new_item(
        &self,
        value: Value,
        flags: u32,
        exptime: u32,
        now: u32,
        cas_in: Option<u64>,
    ) -> Item {
        let cas = match cas_in {
            Some(cas) => cas,
            None if self.config.cas_enabled => self.next_cas(),
            None => 0,
        };
        Item {
            value,
            flags,
            exptime,
            time: now,
            cas,
            marks: 0,
        }
    }

    /// `get`/`gets` of one key.
    pub fn get(&self, key: &[u8]) -> Option<ItemView> {
        let probe = Probe::new(key);
        let key: &Key = &probe;
        bump(&self.counters.mine().cmd_get);
        let found = self.lookup(key, self.now(), false);
        bump(if found.is_some() {
            &self.counters.mine().get_hits
        } else {
            &self.counters.mine().get_misses
        });
        if let Some(item) = &found {
            item.value.mark_fetched();
            self.class_bump(key.len(), item, |k| &k.get_hits);
        }
        found.map(Item::view)
    }

    /// `gat`/`gats` of one key: get it and give it a new exptime. memcached counts this as a
    /// touch, not a get.
    pub fn get_and_touch(&self, key: &[u8], exptime: i64) -> Option<ItemView> {
        self.touch_item(key, exptime).map(Item::view)
    }

    /// `touch`. The CAS value does not change.
    pub fn touch(&self, key: &[u8], exptime: i64) -> bool {
        self.touch_item(key, exptime).is_some()
    }

    fn touch_item(&self, key: &[u8], exptime: i64) -> Option<Item> {
        let probe = Probe::new(key);
        let key: &Key = &probe;
        bump(&self.counters.mine().cmd_touch);
        let _guard = self.lock(key);
        let now = self.now();
        let Some(mut item) = self.lookup(key, now, true) else {
            bump(&self.counters.mine().touch_misses);
            return None;
        };
        bump(&self.counters.mine().touch_hits);
        self.class_bump(key.len(), &item, |k| &k.touch_hits);
        let old = item.clone();
        item.exptime = self.times.realtime(exptime, now);
        item.value.mark_fetched();
        // Same size as before, so it cannot be refused for memory.
        self.link(key, item.clone(), Some(&old), false);
        Some(item)
    }

    /// Would an item fit under `-I`, counted as memcached counts it?
    pub fn item_size_ok(&self, key_len: usize, flags: u32, value_len: usize) -> bool {
        ntotal(key_len, flags, value_len, self.config.cas_enabled) <= self.config.item_size_max
    }

    /// Draws a CAS value and throws it away: what memcached does for a meta set it refuses
    /// after allocating its item (a bad data chunk, an opaque too long).
    pub fn spend_cas(&self) {
        self.next_cas();
    }

    /// Counts a storage command refused for size before its data was read.
    pub fn note_too_large(&self) {
        bump(&self.counters.mine().store_too_large);
    }

    /// Removes a key without counting a delete: what memcached does to the old value when a
    /// `set` fails, so a stale value does not outlive it.
    ///
    /// memcached finds the old item with `item_get` first, which `watch fetchers` shows;
    /// so does this, and it counts an expired or flushed item found as memcached's lookup
    /// does.
    pub fn unlink(&self, key: &[u8]) {
        let probe = Probe::new(key);
        let _guard = self.lock(&probe);
        if self.lookup(&probe, self.now(), true).is_some() {
            self.cache.invalidate(&probe);
        }
    }

    /// The `deleted` event of an item a delete removes.
    fn log_deleted(&self, key: &Key, item: &Item, cmd: tap::DeleteCmd) {
        if self.tap.wants(tap::DELETIONS) {
            self.tap.emit(tap::Event::Deleted {
                key: key.bytes(),
                cmd,
                clsid: self.class_of(key.len(), item.flags, item.value.len()),
                size: item.value.len(),
            });
        }
    }

    /// A storage command. `exptime` is the client's raw number.
    pub fn store<'v>(
        &self,
        mode: StoreMode,
        key: &[u8],
        flags: u32,
        exptime: i64,
        value: impl Into<ValueIn<'v>>,
    ) -> StoreOutcome {
        self.store_cas(mode, key, flags, exptime, value).0
    }

    /// [`Store::store`], also returning the stored item's CAS (0 when nothing was stored):
    /// the binary protocol sends it back.
    pub fn store_cas<'v>(
        &self,
        mode: StoreMode,
        key: &[u8],
        flags: u32,
        exptime: i64,
        value: impl Into<ValueIn<'v>>,
    ) -> (StoreOutcome, u64) {
        let (outcome, cas, _) =
            self.store_with(mode, key, flags, exptime, value, &MetaStore::default());
        (outcome, cas)
    }

    /// A storage command with the meta protocol's extras (see [`MetaStore`]). Returns the
    /// outcome, the stored item's CAS and its value's length (the joined length after an
    /// append), or zeros when nothing was stored.
    ///
    /// Each call is an `item_store` event for `watch mutations`, with the request's item
    /// (its key, value length, exptime and class), as memcached logs every `do_store_item`.
    pub fn store_with<'v>(
        &self,
        mode: StoreMode,
        key: &[u8],
        flags: u32,
        exptime: i64,
        value: impl Into<ValueIn<'v>>,
        extra: &MetaStore,
    ) -> (StoreOutcome, u64, usize) {
        let incoming = value.into();
        let mut logged = Logged {
            flags,
            exptime: 0,
            now: 0,
            size: incoming.as_slice().len(),
        };
        let result = self.store_unlogged(mode, key, flags, exptime, incoming, extra, &mut logged);
        if self.tap.wants(tap::MUTATIONS) {
            let status = match result.0 {
                StoreOutcome::Stored => tap::StoreStatus::Stored,
                StoreOutcome::NotStored => tap::StoreStatus::NotStored,
                StoreOutcome::Exists => tap::StoreStatus::Exists,
                StoreOutcome::NotFound => tap::StoreStatus::NotFound,
                StoreOutcome::TooLarge => tap::StoreStatus::TooLarge,
                StoreOutcome::OutOfMemory => tap::StoreStatus::NoMemory,
            };
            if status == tap::StoreStatus::TooLarge {
                // memcached logs a refused item with no item: size, TTL and class 0.
                self.log_too_large(key, Some(mode));
            } else {
                self.tap.emit(tap::Event::ItemStore {
                    key,
                    status,
                    cmd: store_cmd(mode),
                    ttl: if logged.exptime == 0 {
                        0
                    } else {
                        logged.exptime.wrapping_sub(logged.now)
                    },
                    clsid: self.class_of(key.len(), logged.flags, logged.size),
                    size: logged.size,
                });
            }
        }
        result
    }

    /// The `item_store` event of a store refused for size before any item was made (see
    /// [`Store::store_with`]). `mode` is `None` for the binary protocol's, which memcached
    /// logs as `cmd=null`.
    pub fn log_too_large(&self, key: &[u8], mode: Option<StoreMode>) {
        self.tap.emit(tap::Event::ItemStore {
            key,
            status: tap::StoreStatus::TooLarge,
            cmd: mode.map_or("null", store_cmd),
            ttl: 0,
            clsid: 0,
            size: 0,
        });
    }

    // `store_with`'s arguments plus where to note the item memcached would log.
    #[allow(clippy::too_many_arguments)]
    fn store_unlogged(
        &self,
        mode: StoreMode,
        key: &[u8],
        flags: u32,
        exptime: i64,
        incoming: ValueIn<'_>,
        extra: &MetaStore,
        logged: &mut Logged,
    ) -> (StoreOutcome, u64, usize) {
        let value = incoming.as_slice();
        if !self.item_size_ok(key.len(), flags, value.len()) {
            self.note_too_large();
            if mode == StoreMode::Set || extra.unlink_if_too_large {
                self.unlink(key);
            }
            return (StoreOutcome::TooLarge, 0, 0);
        }
        bump(&self.counters.mine().cmd_set);
        let (_, class) = self.classes.item(key.len(), flags, value.len());
        bump(&self.classes.hit(class).cmd_set);
        // memcached takes the new item's CAS value before it tries to store, so a store that
        // fails (NOT_STORED, EXISTS, NOT_FOUND) spends one too: later CAS values show it.
        let cas = match extra.new_cas {
            Some(cas) => cas,
            None if self.config.cas_enabled => self.next_cas(),
            None => 0,
        };
        let probe = Probe::new(key);
        let key: &Key = &probe;
        let _guard = self.lock(key);
        let now = self.now();
        logged.now = now;
        logged.exptime = self.times.realtime(exptime, now);
        let old = self.lookup_storing(key, now);
        let c = &self.counters;
        let mut marks = if extra.binary_key {
            Item::BINARY_KEY
        } else {
            0
        };
        let (value, flags, exptime) = match (mode, &old) {
            (StoreMode::Add, Some(_)) => return (StoreOutcome::NotStored, 0, 0),
            (StoreMode::Append | StoreMode::Prepend, None) if extra.vivify => (
                incoming.into_value(),
                flags,
                self.times.realtime(exptime, now),
            ),
            (StoreMode::Replace | StoreMode::Append | StoreMode::Prepend, None) => {
                return (StoreOutcome::NotStored, 0, 0)
            }
            (StoreMode::Cas(_), None) => {
                bump(&c.mine().cas_misses);
                return (StoreOutcome::NotFound, 0, 0);
            }
            // `ms ... I C<cas>`: a CAS older than the item's stores the value marked stale,
            // keeping the old item's TTL and its "win sent" mark.
            (StoreMode::Cas(unique), Some(old))
                if extra.invalidate && unique < old.cas && self.config.cas_enabled =>
            {
                marks |= Item::STALE | (old.marks & Item::WIN_SENT);
                logged.exptime = old.exptime;
                (incoming.into_value(), flags, old.exptime)
            }
            // With -C memcached never lets a cas through.
            (StoreMode::Cas(unique), Some(old))
                if old.cas != unique || !self.config.cas_enabled =>
            {
                bump(&c.mine().cas_badval);
                self.class_bump(key.len(), old, |k| &k.cas_badval);
                return (StoreOutcome::Exists, 0, 0);
            }
            // `ms ... MA C<cas>`: appends honour a CAS too.
            (StoreMode::Append | StoreMode::Prepend, Some(old))
                if extra.compare_cas.is_some_and(|want| want != old.cas) =>
            {
                return (StoreOutcome::Exists, 0, 0);
            }
            (StoreMode::Append | StoreMode::Prepend, Some(old)) => {
                // Appends keep the old item's flags and exptime.
                let (first, second) = if mode == StoreMode::Append {
                    (&old.value[..], value)
                } else {
                    (value, &old.value[..])
                };
                if !self.item_size_ok(key.len(), old.flags, first.len() + second.len()) {
                    return (StoreOutcome::NotStored, 0, 0);
                }
                let joined = Value::concat(first, second);
                // memcached logs the joined item.
                *logged = Logged {
                    flags: old.flags,
                    exptime: old.exptime,
                    now,
                    size: joined.len(),
                };
                (joined, old.flags, old.exptime)
            }
            _ => (
                incoming.into_value(),
                flags,
                self.times.realtime(exptime, now),
            ),
        };
        let item = Item {
            value,
            flags,
            exptime,
            time: now,
            cas,
            marks,
        };
        let len = item.value.len();
        if !self.link(key, item, old.as_ref(), true) {
            return (StoreOutcome::OutOfMemory, 0, 0);
        }
        if let (StoreMode::Cas(_), Some(old)) = (mode, &old) {
            bump(&c.mine().cas_hits);
            self.class_bump(key.len(), old, |k| &k.cas_hits);
        }
        (StoreOutcome::Stored, cas, len)
    }

    /// `delete`: a `deleted` event for `watch deletions` when it removes an item.
    pub fn delete(&self, key: &[u8]) -> bool {
        self.delete_as(key, 0, true) == DeleteOutcome::Deleted
    }

    /// A delete that, with a non-zero `cas`, removes the item only if its CAS matches (the
    /// binary protocol's delete, which memcached does not log as a deletion).
    pub fn delete_cas(&self, key: &[u8], cas: u64) -> DeleteOutcome {
        self.delete_as(key, cas, false)
    }

    fn delete_as(&self, key: &[u8], cas: u64, log: bool) -> DeleteOutcome {
        let probe = Probe::new(key);
        let key: &Key = &probe;
        let _guard = self.lock(key);
        match self.lookup(key, self.now(), true) {
            Some(item) if cas == 0 || cas == item.cas => {
                if log {
                    self.log_deleted(key, &item, tap::DeleteCmd::Delete);
                }
                self.cache.invalidate(key);
                bump(&self.counters.mine().delete_hits);
                self.class_bump(key.len(), &item, |k| &k.delete_hits);
                DeleteOutcome::Deleted
            }
            Some(_) => DeleteOutcome::Exists,
            None => {
                bump(&self.counters.mine().delete_misses);
                DeleteOutcome::NotFound
            }
        }
    }

    /// `incr`/`decr`: the value must be a decimal number; incr wraps at 2^64, decr stops at 0.
    /// As in memcached, a result no longer than the old value is written over it and padded
    /// with spaces; a longer one makes a new item of exactly its length.
    pub fn incr_decr(&self, key: &[u8], delta: u64, incr: bool) -> ArithOutcome {
        self.arith(key, delta, incr, 0, None).0
    }

    /// The binary protocol's incr/decr: with a non-zero `cas` the item's CAS must match
    /// (`Exists` otherwise); on a miss with `initial` = Some((value, exptime)) the key is
    /// created holding `value` (and no miss is counted). Returns the outcome and the new CAS.
    pub fn arith(
        &self,
        key: &[u8],
        delta: u64,
        incr: bool,
        cas: u64,
        initial: Option<(u64, i64)>,
    ) -> (ArithOutcome, u64) {
        let args = MetaArith {
            delta,
            incr,
            compare_cas: (cas != 0).then_some(cas),
            initial,
            ..MetaArith::default()
        };
        let (outcome, cas, _) = self.arith_with(key, &args);
        (outcome, cas)
    }

    /// incr/decr with the meta protocol's extras (see [`MetaArith`]). Also returns the item's
    /// remaining TTL afterwards (-1 for none), for `ma ... t`.
    pub fn arith_with(&self, key: &[u8], args: &MetaArith) -> (ArithOutcome, u64, i64) {
        let (delta, incr) = (args.delta, args.incr);
        let c = &self.counters;
        let probe = Probe::new(key);
        let key: &Key = &probe;
        let _guard = self.lock(key);
        let now = self.now();
        let ttl = |exptime| meta::remaining_ttl(exptime, now);
        let Some(old) = self.lookup(key, now, true) else {
            if let Some((value, exptime)) = args.initial {
                // `T` wins over `N`'s TTL for the new item too.
                let exptime = self.times.realtime(args.ttl.unwrap_or(exptime), now);
                let mut item = self.new_item(
                    Value::from(value.to_string().as_bytes()),
                    0,
                    exptime,
                    now,
                    args.new_cas,
                );
                if args.binary_key {
                    item.marks |= Item::BINARY_KEY;
                }
                let new_cas = item.cas;
                // memcached stores the new item as an `add` (`do_store_item`), which looks
                // the key up again: both show in `watch`.
                let size = item.value.len();
                self.tap.emit(tap::Event::ItemGet {
                    key: key.bytes(),
                    status: tap::GetStatus::NotFound,
                    clsid: 0,
                    size: 0,
                });
                let stored = self.link(key, item, None, true);
                self.tap.emit(tap::Event::ItemStore {
                    key: key.bytes(),
                    status: if stored {
                        tap::StoreStatus::Stored
                    } else {
                        tap::StoreStatus::NoMemory
                    },
                    cmd: "add",
                    ttl: if exptime == 0 {
                        0
                    } else {
                        exptime.wrapping_sub(now)
                    },
                    clsid: self.class_of(key.len(), 0, size),
                    size,
                });
                if stored {
                    return (ArithOutcome::Value(value), new_cas, ttl(exptime));
                }
                return (ArithOutcome::NotStored, 0, 0);
            }
            bump(if incr {
                &c.mine().incr_misses
            } else {
                &c.mine().decr_misses
            });
            return (ArithOutcome::NotFound, 0, 0);
        };
        if args.compare_cas.is_some_and(|want| want != old.cas) {
            return (ArithOutcome::Exists, 0, 0);
        }
        let Some(current) = (!old.value.is_empty())
            .then(|| strtoull(&old.value))
            .flatten()
        else {
            return (ArithOutcome::NonNumeric, 0, 0);
        };
        let new = if incr {
            current.wrapping_add(delta)
        } else {
            current.saturating_sub(delta)
        };
        bump(if incr {
            &c.mine().incr_hits
        } else {
            &c.mine().decr_hits
        });
        if incr {
            self.class_bump(key.len(), &old, |k| &k.incr_hits);
        } else {
            self.class_bump(key.len(), &old, |k| &k.decr_hits);
        }
        let mut text = new.to_string().into_bytes();
        let in_place = text.len() <= old.value.len();
        if in_place {
            text.resize(old.value.len(), b' ');
        }
        // memcached spends a CAS value here even when `E` then replaces it.
        let mut item = self.new_item(Value::from(text), old.flags, old.exptime, now, None);
        if in_place {
            // memcached rewrites the number inside the same item: its marks and time stay.
            item.time = old.time;
            item.marks = old.marks;
            if old.value.fetched() {
                item.value.mark_fetched();
            }
        }
        if let Some(exptime) = args.ttl {
            item.exptime = self.times.realtime(exptime, now);
        }
        if let Some(cas) = args.new_cas {
            item.cas = cas;
        }
        let new_cas = item.cas;
        let remaining = ttl(item.exptime);
        if !self.link(key, item, Some(&old), !in_place) {
            return (ArithOutcome::NotStored, 0, 0);
        }
        (ArithOutcome::Value(new), new_cas, remaining)
    }

    /// `flush_all [delay]`. O(1): it records memcached's flush epoch, and reads check it.
    ///
    /// memcached sets `oldest_live` to a second before the flush time, and unlinks at once
    /// the items stored at or after it, which on an immediate flush are this second's and
    /// the last's; older items are found flushed when next read. Items stored after the
    /// flush, in the same second, are kept. The next CAS value to be handed out tells the
    /// two apart (without spending one, as 1.6.45 spends none). Without CAS (`-C`) the
    /// whole second is flushed.
    pub fn flush_all(&self, delay: i64) {
        let now = self.now();
        let new_oldest = if delay > 0 {
            self.times.realtime(delay, now)
        } else {
            now
        };
        let e = &self.epoch;
        if !self.config.cas_enabled {
            e.oldest_live.store(new_oldest, Ordering::Relaxed);
            self.crawler.note_flush();
            return;
        }
        // A flush time in the past reads as 0 here, which memcached takes as no flush.
        let oldest_live = new_oldest.wrapping_sub(1);
        e.oldest_live.store(oldest_live, Ordering::Relaxed);
        if oldest_live != 0 && oldest_live <= now {
            e.unlinked_from.store(oldest_live, Ordering::Relaxed);
            let next = self.cas.load(Ordering::Relaxed) + 1;
            e.oldest_cas.store(next, Ordering::Relaxed);
        }
        // The crawler reclaims the flushed items in the background (see `crawler`).
        self.crawler.note_flush();
    }

    /// `cache_memlimit`: changes the budget, up to the ceiling ([`StoreConfig::memory_ceiling`]).
    ///
    /// moka cannot change a cache's capacity once built, so the caches are built with the
    /// ceiling and the store holds the difference back as ballast (weight that is no item,
    /// as for [`Store::set_ballast`]). Raising gives ballast back at once: nothing is
    /// evicted. Lowering adds ballast [`RESERVE_STEP`] at a time, at each `set_ballast`
    /// (every 10 ms in the server), so that moka evicts the least recently used items down
    /// to the new budget a batch at a time instead of in one maintenance run that writers
    /// would wait for. Budgets past the ceiling hold nothing back. With `-M` the budget is
    /// `link`'s admission limit, and nothing is evicted.
    pub fn set_memory_limit(&self, bytes: u64) {
        self.limit.store(bytes, Ordering::Relaxed);
        let mut b = self.ballast();
        let target = self.reserve_target();
        if target < b.reserve {
            b.reserve = target;
            self.put_ballast(&mut b);
        }
    }

    /// What the ballast must hold back for the budget once paced in.
    fn reserve_target(&self) -> u64 {
        if self.config.no_evict {
            return 0;
        }
        self.ceiling
            .saturating_sub(self.limit.load(Ordering::Relaxed))
    }

    /// What items may hold now: the budget, or during a lowering the part of the way the
    /// reserve has come (before the memory guard's own ballast).
    pub fn capacity(&self) -> u64 {
        if self.config.no_evict {
            return self.limit.load(Ordering::Relaxed);
        }
        self.ceiling - self.ballast().reserve
    }

    /// Is a `cache_memlimit` lowering still under way: the reserve still being paced in,
    /// or the items still holding more than the capacity by over a step (the evictions
    /// it asked for not applied yet)?
    pub fn lowering(&self) -> bool {
        let reserve = self.ballast().reserve;
        reserve < self.reserve_target()
            || self.charged_bytes() > self.ceiling - reserve + RESERVE_STEP
    }

    fn ballast(&self) -> MutexGuard<'_, Ballast> {
        // Every writer leaves the record whole; a poisoned lock still holds a good one.
        self.ballast
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes the ballast into moka when what it should hold changed, or when items were
    /// written since (the ballast must stay among the most recently used, or it is the
    /// next to be evicted), or when moka evicted it. On an idle server nothing is written
    /// and the housekeeper stays parked.
    fn put_ballast(&self, b: &mut Ballast) {
        let total = (b.reserve + b.guard).min(self.ceiling);
        let writes = self.counters.charged_total.load(Ordering::Relaxed);
        let lost = self.ballast_lost.swap(false, Ordering::Relaxed);
        if total == b.held && (total == 0 || (writes == b.writes && !lost)) {
            return;
        }
        (b.held, b.writes) = (total, writes);
        let per = total / self.ballast_keys.len() as u64;
        for key in &self.ballast_keys {
            if per == 0 {
                self.cache.invalidate(key);
                continue;
            }
            let item = Item {
                value: Value::from(&[][..]),
                flags: u32::try_from(per).unwrap_or(u32::MAX),
                exptime: 0,
                time: 0,
                cas: 0,
                marks: Item::BALLAST,
            };
            self.cache.insert(key, item);
        }
    }

    /// Holds `bytes` of weight in the store that are no item, so that moka keeps that much
    /// less of the items (evicting the least recently used to make room); 0 gives it back.
    /// Also takes the next step of a `cache_memlimit` lowering (see
    /// [`Store::set_memory_limit`]): the server calls it every 10 ms.
    ///
    /// Why: the server follows its RSS with it. While a full cache changes from one value
    /// size to another, the allocator's pages of the old size are half empty until their last
    /// items go, and RSS runs past `-m` although the items fit it (bench/RESULTS.md, "Memory
    /// under churn"); evicting sooner empties those pages sooner. The weight is re-inserted
    /// whenever items were written since the last call, so that it stays among the most
    /// recently used and is not evicted itself (see `put_ballast`). With `-o
    /// eviction=tinylfu` moka may refuse a ballast that had to be put back.
    pub fn set_ballast(&self, bytes: u64) {
        let mut b = self.ballast();
        b.guard = bytes;
        let target = self.reserve_target();
        b.reserve = if b.reserve < target {
            (b.reserve + RESERVE_STEP).min(target)
        } else {
            target
        };
        self.put_ballast(&mut b);
    }

    /// `stats reset`.
    pub fn reset_stats(&self) {
        self.counters.reset();
        self.classes.reset();
        self.crawler.reset_stats();
    }

    pub fn stats(&self) -> StoreStats {
        // Evictions and their counts still waiting in moka's logs (up to a housekeeper
        // interval, 16 ms at low rates) are applied first, so `stats` is as exact as
        // memcached's.
        self.cache.run_pending_tasks();
        self.counters.snapshot()
    }

    /// Bytes charged against `-m` now (items plus moka's per-entry overhead).
    pub fn charged_bytes(&self) -> u64 {
        self.counters.charged.load(Ordering::Relaxed).max(0) as u64
    }

    /// Lets moka finish its pending bookkeeping (evictions, counters): `stats` calls it
    /// first, so that its counts include the evictions of every write already answered, as
    /// memcached's do (it evicts before it answers a set). The housekeeper keeps what is
    /// pending small, so this is short.
    pub fn sync(&self) {
        self.cache.run_pending_tasks();
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.cache.waker.stop();
        self.crawler.stop();
    }
}

#[cfg(test)]
mod tests;
