//! What each way of building and calling moka costs per operation, each option in isolation
//! (see `bench/moka-study.md` for the reading of moka's source behind the variants).
//!
//! ```text
//! cargo bench -p ferrocache-storage --bench moka_options                 # the interleaved table
//! MOKA_SIZES=100000 MOKA_ROUNDS=3 cargo bench -p ferrocache-storage --bench moka_options
//! MOKA_CRITERION=1 cargo bench -p ferrocache-storage --bench moka_options -- 'get hit'
//! ```
//!
//! Environment: `MOKA_SIZES` (entries, comma-separated; default `100000,1000000`),
//! `MOKA_ROUNDS` (5), `MOKA_OPS` (operations per measurement, 200000), `MOKA_VARIANTS` and
//! `MOKA_ONLY_OPS` (names from the table, comma-separated), `MOKA_THP=1` (keep transparent
//! huge pages, which the server turns off).
//!
//! The caches are built here directly, with moka 0.12 from crates.io, and with keys and values
//! shaped as the store's: a 16-byte key holding its bytes inline and hashing as one `u32`
//! (foldhash of the bytes, as `crates/storage/src/key.rs` does for keys of up to 14 bytes),
//! and a 32-byte item holding a `ferrocache_storage::Value` (one thin pointer to a refcounted
//! block). Keys are `k:` and 10 digits (12 bytes), values 100 bytes.
//!
//! Why the default run is not criterion's: criterion measures one variant after the other,
//! and on this shared 2-core machine the load changes between them. Here every round builds
//! and fills each variant in turn (in a rotated order) and measures each operation on it, so
//! the variants are compared inside one round; the table gives the median over rounds and
//! the spread (min-max). What is measured is **CPU time** (`CLOCK_PROCESS_CPUTIME_ID`: every
//! thread of the process, so moka's maintenance counts wherever it runs), not wall time,
//! which waiting for a shared core would inflate. With `MOKA_CRITERION=1` the main variants
//! run as ordinary criterion benchmarks (also CPU time, via `iter_custom`).
//!
//! Operations (uniform random keys over the whole key space, so that the table does not stay
//! in the CPU cache):
//! - `get hit`: a key the cache holds; `get miss`: a key it never held;
//! - `contains_key hit`: the walk of a hit without recording the read or cloning the value
//!   (moka's only read that records nothing; it returns no value);
//! - `replace`: `insert` of a key the cache holds, with a new 100-byte value (made per call,
//!   as a `set` makes one);
//! - `insert new`: `insert` of a key never seen, on a full cache: each one evicts one;
//! - `2 thr get`: two threads reading at once (the server's two workers), CPU per get.
//!
//! Without a housekeeper thread (every variant but `ours + hk`) the calling thread does all
//! of moka's bookkeeping itself (every 64 reads or writes), so CPU per operation is all that
//! moka spends on it. `ours + hk` runs a thread calling `run_pending_tasks` every millisecond,
//! as the store's housekeeper does under load; its `thread` column is the calling thread's
//! CPU only (`CLOCK_THREAD_CPUTIME_ID`), what leaves the request path. `ours + hk 50us` and
//! `ours + hk spin` pause 50 µs or not at all between rounds (not in the default set: run
//! them with `MOKA_VARIANTS`).

use criterion::{black_box, Criterion};
use ferrocache_storage::Value;
use moka::notification::RemovalCause;
use moka::policy::EvictionPolicy;
use moka::sync::{Cache, CacheBuilder};
use moka::Equivalent;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

// The server runs on mimalloc; so does this.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// ---------------------------------------------------------------------------------------------
// Keys and items shaped as the store's.

const KEY_LEN: usize = 12;
const VALUE_LEN: usize = 100;
/// `ENTRY_OVERHEAD` of the store: what its weigher charges per entry beyond key and value.
const OVERHEAD: usize = ferrocache_storage::ENTRY_OVERHEAD;

/// A 16-byte key with its bytes inline, as the store's `Key` for keys of up to 14 bytes
/// (`Repr::Inline`: a tag, the length, 14 bytes).
#[derive(Clone)]
struct BKey {
    _tag: u8,
    len: u8,
    bytes: [u8; 14],
}
const _: () = assert!(std::mem::size_of::<BKey>() == 16);

/// The store's `key_hash`: foldhash of the bytes, seeded once per process, top 32 bits.
fn key_hash(bytes: &[u8]) -> u32 {
    static SEED: OnceLock<foldhash::quality::RandomState> = OnceLock::new();
    (SEED.get_or_init(Default::default).hash_one(bytes) >> 32) as u32
}

impl BKey {
    /// `k:` and `n` in 10 digits.
    fn of(mut n: u64) -> BKey {
        let mut bytes = [0u8; 14];
        bytes[0] = b'k';
        bytes[1] = b':';
        for i in (2..KEY_LEN).rev() {
            bytes[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
        BKey {
            _tag: 0,
            len: KEY_LEN as u8,
            bytes,
        }
    }
    fn bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
    /// As the store's `Key::hash32` for an inline key: computed from the bytes each time.
    fn hash32(&self) -> u32 {
        key_hash(self.bytes())
    }
}

impl PartialEq for BKey {
    fn eq(&self, other: &BKey) -> bool {
        self.len == other.len && self.bytes == other.bytes
    }
}
impl Eq for BKey {}
impl Hash for BKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u32(self.hash32());
    }
}

/// A key to look up with its hash computed once by the caller: moka's `get` takes any
/// `Q: Equivalent<K> + Hash`, so this hashes as the key does without re-reading its bytes.
struct Lookup<'a> {
    key: &'a BKey,
    hash: u32,
}
impl Hash for Lookup<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u32(self.hash);
    }
}
impl Equivalent<BKey> for Lookup<'_> {
    fn equivalent(&self, key: &BKey) -> bool {
        self.key == key
    }
}

/// The store's `Item`: 32 bytes, cloned by moka on every read.
#[derive(Clone)]
#[allow(dead_code)] // the fields give it the store's size; only some are read here
struct Item {
    value: Value,
    flags: u32,
    exptime: u32,
    time: u32,
    cas: u64,
    marks: u8,
}
const _: () = assert!(std::mem::size_of::<Item>() == 32);

fn item(cas: u64) -> Item {
    Item {
        value: Value::from(&[b'v'; VALUE_LEN][..]),
        flags: 0,
        exptime: 0,
        time: 0,
        cas,
        marks: 0,
    }
}

/// The store's weight: key, value, overhead, and the allocator's rounding of the value block
/// (`item::weight`, through an `AllocSize` function pointer as the server passes one).
fn weight(key_len: usize, value_len: usize, alloc_size: fn(usize) -> usize) -> u32 {
    let block = 8 + value_len;
    let rounding = alloc_size(block).saturating_sub(block);
    (key_len + value_len + OVERHEAD + rounding) as u32
}
fn exact(n: usize) -> usize {
    n
}
const ENTRY_WEIGHT: u64 = (KEY_LEN + VALUE_LEN + OVERHEAD) as u64;

/// What the store's eviction listener updates for every entry that leaves.
#[derive(Default)]
struct Counters {
    curr_items: AtomicI64,
    bytes: AtomicI64,
    charged: AtomicI64,
    class_items: AtomicI64,
    evictions: AtomicI64,
    lost: AtomicBool,
}

// ---------------------------------------------------------------------------------------------
// Hashers.

/// A `BuildHasher` for keys that hash as one `u32` (already a good hash): spreads it over 64
/// bits with one multiply (moka takes its sub-table from the top 6 bits and the bucket from
/// the low bits), seeded per cache. Nothing else is hashed with it here.
#[derive(Clone)]
struct U32Mix {
    seed: u64,
}
impl U32Mix {
    fn new() -> U32Mix {
        U32Mix {
            seed: foldhash::quality::RandomState::default().hash_one(0u64) | 1,
        }
    }
}
struct U32MixHasher {
    seed: u64,
    h: u64,
}
impl BuildHasher for U32Mix {
    type Hasher = U32MixHasher;
    fn build_hasher(&self) -> U32MixHasher {
        U32MixHasher {
            seed: self.seed,
            h: 0,
        }
    }
}
impl Hasher for U32MixHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Not used by these keys; a plain fold keeps it a hasher.
        for b in bytes {
            self.h = (self.h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u32(&mut self, x: u32) {
        self.h = (u64::from(x) ^ self.seed).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn finish(&self) -> u64 {
        self.h
    }
}

// ---------------------------------------------------------------------------------------------
// Variants.

#[derive(Clone, Copy, PartialEq)]
enum Hasher_ {
    Fold,
    Sip,
    Mix,
}

#[derive(Clone, Copy)]
struct Spec {
    name: &'static str,
    weigher: bool,
    listener: bool,
    tinylfu: bool,
    initial_capacity: bool,
    hasher: Hasher_,
    shards: usize,
    /// Look up with the hash computed once (`Lookup`), for the shard and moka.
    lookup: bool,
    /// Replace by `invalidate` then `insert` (not atomic for readers: see the study).
    replace_by_invalidate: bool,
    ttl: bool,
    invalidation_closures: bool,
    /// A thread calling `run_pending_tasks` every millisecond, as the store's housekeeper.
    housekeeper: bool,
    /// The housekeeper's pause between rounds: 1 ms as the store's under load; `ZERO` runs
    /// round after round (yielding between them), the most a housekeeper can take off.
    hk_interval: Duration,
}

const OURS: Spec = Spec {
    name: "ours",
    weigher: true,
    listener: true,
    tinylfu: false,
    initial_capacity: false,
    hasher: Hasher_::Fold,
    shards: 1,
    lookup: false,
    replace_by_invalidate: false,
    ttl: false,
    invalidation_closures: false,
    housekeeper: false,
    hk_interval: Duration::from_millis(1),
};

fn specs() -> Vec<Spec> {
    vec![
        OURS,
        Spec {
            name: "ours + hk",
            housekeeper: true,
            ..OURS
        },
        Spec {
            name: "ours + hk 50us",
            housekeeper: true,
            hk_interval: Duration::from_micros(50),
            ..OURS
        },
        Spec {
            name: "ours + hk spin",
            housekeeper: true,
            hk_interval: Duration::ZERO,
            ..OURS
        },
        Spec {
            name: "no weigher",
            weigher: false,
            ..OURS
        },
        Spec {
            name: "no listener",
            listener: false,
            ..OURS
        },
        Spec {
            name: "tinylfu",
            tinylfu: true,
            ..OURS
        },
        Spec {
            name: "initial_capacity",
            initial_capacity: true,
            ..OURS
        },
        Spec {
            name: "siphash (default)",
            hasher: Hasher_::Sip,
            ..OURS
        },
        Spec {
            name: "u32 mix hasher",
            hasher: Hasher_::Mix,
            ..OURS
        },
        Spec {
            name: "hash once (Lookup)",
            lookup: true,
            ..OURS
        },
        Spec {
            name: "8 caches",
            shards: 8,
            ..OURS
        },
        Spec {
            name: "8 caches + hk",
            shards: 8,
            housekeeper: true,
            ..OURS
        },
        Spec {
            name: "replace=inval+insert",
            replace_by_invalidate: true,
            ..OURS
        },
        Spec {
            name: "+ time_to_live",
            ttl: true,
            ..OURS
        },
        Spec {
            name: "+ inval. closures",
            invalidation_closures: true,
            ..OURS
        },
        Spec {
            name: "bare",
            weigher: false,
            listener: false,
            hasher: Hasher_::Mix,
            lookup: true,
            ..OURS
        },
    ]
}

/// The operations the bench calls, whatever the cache's hasher type.
trait Store: Send + Sync {
    fn get(&self, key: &BKey) -> Option<Item>;
    fn insert(&self, key: BKey, item: Item);
    fn contains_key(&self, key: &BKey) -> bool;
    fn run_pending_tasks(&self);
    fn entry_count(&self) -> u64;
}

struct Moka<S> {
    caches: Vec<Cache<BKey, Item, S>>,
    shift: u32,
    lookup: bool,
    replace_by_invalidate: bool,
}

impl<S> Moka<S>
where
    S: BuildHasher + Clone + Send + Sync + 'static,
{
    #[inline]
    fn index(&self, hash32: u32) -> usize {
        hash32.checked_shr(self.shift).unwrap_or(0) as usize
    }
}

impl<S> Store for Moka<S>
where
    S: BuildHasher + Clone + Send + Sync + 'static,
{
    #[inline]
    fn get(&self, key: &BKey) -> Option<Item> {
        if self.lookup {
            let hash = key.hash32();
            self.caches[self.index(hash)].get(&Lookup { key, hash })
        } else {
            // As `Shards::get`: the shard from the key's hash, then moka hashes the key again.
            self.caches[self.index(key.hash32())].get(key)
        }
    }
    #[inline]
    fn insert(&self, key: BKey, item: Item) {
        let cache = &self.caches[self.index(key.hash32())];
        if self.replace_by_invalidate {
            cache.invalidate(&key);
        }
        cache.insert(key, item);
    }
    #[inline]
    fn contains_key(&self, key: &BKey) -> bool {
        if self.lookup {
            let hash = key.hash32();
            self.caches[self.index(hash)].contains_key(&Lookup { key, hash })
        } else {
            self.caches[self.index(key.hash32())].contains_key(key)
        }
    }
    fn run_pending_tasks(&self) {
        for c in &self.caches {
            c.run_pending_tasks();
        }
    }
    fn entry_count(&self) -> u64 {
        self.caches.iter().map(|c| c.entry_count()).sum()
    }
}

fn build(spec: &Spec, entries: u64, counters: &Arc<Counters>) -> Box<dyn Store> {
    match spec.hasher {
        Hasher_::Fold => build_with(
            spec,
            entries,
            counters,
            foldhash::quality::RandomState::default,
        ),
        Hasher_::Sip => build_with(
            spec,
            entries,
            counters,
            std::collections::hash_map::RandomState::new,
        ),
        Hasher_::Mix => build_with(spec, entries, counters, U32Mix::new),
    }
}

fn build_with<S>(
    spec: &Spec,
    entries: u64,
    counters: &Arc<Counters>,
    hasher: impl Fn() -> S,
) -> Box<dyn Store>
where
    S: BuildHasher + Clone + Send + Sync + 'static,
{
    let per_cache = entries / spec.shards as u64;
    let caches = (0..spec.shards)
        .map(|_| {
            let mut b: CacheBuilder<BKey, Item, Cache<BKey, Item>> = Cache::builder();
            b = if spec.weigher {
                b.max_capacity(per_cache * ENTRY_WEIGHT)
                    .weigher(move |k: &BKey, i: &Item| {
                        if i.marks & 16 != 0 {
                            return i.flags;
                        }
                        weight(usize::from(k.len), i.value.len(), exact)
                    })
            } else {
                b.max_capacity(per_cache)
            };
            b = b.eviction_policy(if spec.tinylfu {
                EvictionPolicy::tiny_lfu()
            } else {
                EvictionPolicy::lru()
            });
            if spec.initial_capacity {
                b = b.initial_capacity(per_cache as usize);
            }
            if spec.ttl {
                b = b.time_to_live(Duration::from_secs(365 * 24 * 3600));
            }
            if spec.invalidation_closures {
                b = b.support_invalidation_closures();
            }
            if spec.listener {
                let c = counters.clone();
                b = b.eviction_listener(move |key: Arc<BKey>, item: Item, cause| {
                    // The shape of the store's listener: a ballast test, four relaxed
                    // read-modify-writes on shared counters, one more for an eviction.
                    if item.marks & 16 != 0 {
                        if cause == RemovalCause::Size {
                            c.lost.store(true, Ordering::Relaxed);
                        }
                        return;
                    }
                    let len = item.value.len();
                    c.curr_items.fetch_sub(1, Ordering::Relaxed);
                    c.bytes
                        .fetch_sub((key.len as usize + len + 50) as i64, Ordering::Relaxed);
                    c.charged.fetch_sub(
                        i64::from(weight(usize::from(key.len), len, exact)),
                        Ordering::Relaxed,
                    );
                    c.class_items.fetch_sub(1, Ordering::Relaxed);
                    if cause == RemovalCause::Size {
                        c.evictions.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            b.build_with_hasher(hasher())
        })
        .collect();
    Box::new(Moka {
        caches,
        shift: 32 - (spec.shards as u32).trailing_zeros(),
        lookup: spec.lookup,
        replace_by_invalidate: spec.replace_by_invalidate,
    })
}

// ---------------------------------------------------------------------------------------------
// Measuring.

fn cpu_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
fn process_ns() -> u64 {
    cpu_ns(libc::CLOCK_PROCESS_CPUTIME_ID)
}
fn thread_ns() -> u64 {
    cpu_ns(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// xorshift64*: uniform enough, and costs a few instructions.
struct Rng(u64);
impl Rng {
    #[inline]
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) * n) >> 32
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    /// Make the key and hash it, no cache: what every row includes.
    Baseline,
    GetHit,
    /// `contains_key` of a held key: the same walk as a hit, without recording the read and
    /// without cloning the value.
    ContainsHit,
    GetMiss,
    Replace,
    InsertNew,
    /// Two threads reading at once.
    GetHit2,
}
/// In this order: the reads while the cache holds every key `0..entries`, and `InsertNew`
/// last, since it evicts them.
const OPS: [Op; 7] = [
    Op::Baseline,
    Op::GetHit,
    Op::ContainsHit,
    Op::GetHit2,
    Op::GetMiss,
    Op::Replace,
    Op::InsertNew,
];
fn op_name(op: Op) -> &'static str {
    match op {
        Op::Baseline => "key+hash only",
        Op::GetHit => "get hit",
        Op::ContainsHit => "contains_key hit",
        Op::GetMiss => "get miss",
        Op::Replace => "replace",
        Op::InsertNew => "insert new",
        Op::GetHit2 => "2 thr get",
    }
}

/// Runs `ops` operations; returns (process CPU ns, calling thread CPU ns) per operation.
/// `next_new` is the next never-used key number for `InsertNew`.
fn run(
    store: &dyn Store,
    op: Op,
    entries: u64,
    ops: u64,
    seed: u64,
    next_new: &mut u64,
) -> (f64, f64) {
    let mut rng = Rng(seed | 1);
    let (p0, t0) = (process_ns(), thread_ns());
    match op {
        Op::Baseline => {
            for _ in 0..ops {
                let k = BKey::of(rng.below(entries));
                black_box(k.hash32());
            }
        }
        Op::GetHit => {
            for _ in 0..ops {
                let k = BKey::of(rng.below(entries));
                black_box(store.get(&k));
            }
        }
        Op::ContainsHit => {
            for _ in 0..ops {
                let k = BKey::of(rng.below(entries));
                black_box(store.contains_key(&k));
            }
        }
        Op::GetMiss => {
            for _ in 0..ops {
                let k = BKey::of(entries + rng.below(entries));
                black_box(store.get(&k));
            }
        }
        Op::Replace => {
            for i in 0..ops {
                let k = BKey::of(rng.below(entries));
                store.insert(k, item(i));
            }
        }
        Op::InsertNew => {
            for i in 0..ops {
                let k = BKey::of(*next_new);
                *next_new += 1;
                store.insert(k, item(i));
            }
        }
        Op::GetHit2 => {
            std::thread::scope(|s| {
                for t in 0..2u64 {
                    s.spawn(move || {
                        let mut rng = Rng((seed ^ ((t + 1) * 0x9e37_79b9)) | 1);
                        for _ in 0..ops / 2 {
                            let k = BKey::of(rng.below(entries));
                            black_box(store.get(&k));
                        }
                    });
                }
            });
        }
    }
    let (p1, t1) = (process_ns(), thread_ns());
    ((p1 - p0) as f64 / ops as f64, (t1 - t0) as f64 / ops as f64)
}

/// A thread calling `run_pending_tasks` every millisecond until stopped.
struct Housekeeper {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}
impl Housekeeper {
    fn spawn(store: Arc<dyn Store>, interval: Duration) -> Housekeeper {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                store.run_pending_tasks();
                if interval.is_zero() {
                    std::thread::yield_now();
                } else {
                    std::thread::sleep(interval);
                }
            }
        });
        Housekeeper {
            stop,
            thread: Some(thread),
        }
    }
}
impl Drop for Housekeeper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Builds a variant and fills it with keys `0..entries`, then lets moka settle.
fn filled(spec: &Spec, entries: u64) -> Arc<dyn Store> {
    let counters = Arc::new(Counters::default());
    let store: Arc<dyn Store> = Arc::from(build(spec, entries, &counters));
    for n in 0..entries {
        store.insert(BKey::of(n), item(n));
    }
    store.run_pending_tasks();
    store
}

fn interleaved() {
    let sizes: Vec<u64> = std::env::var("MOKA_SIZES")
        .unwrap_or_else(|_| "100000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let rounds: usize = env_or("MOKA_ROUNDS", 5);
    let ops: u64 = env_or("MOKA_OPS", 200_000);
    let only: Option<String> = std::env::var("MOKA_VARIANTS").ok();
    let only_ops: Option<String> = std::env::var("MOKA_ONLY_OPS").ok();
    let specs: Vec<Spec> = specs()
        .into_iter()
        .filter(|s| match &only {
            Some(o) => o.split(',').any(|n| n == s.name),
            // A housekeeper that never sleeps takes a core: only when asked for.
            None => s.hk_interval == OURS.hk_interval,
        })
        .collect();
    println!(
        "moka_options: {} variants, sizes {:?}, {} rounds, {} ops per measurement; CPU ns/op",
        specs.len(),
        sizes,
        rounds,
        ops
    );
    for &entries in &sizes {
        // [variant][op] -> per-round (process, thread) ns/op
        let mut results = vec![vec![Vec::<(f64, f64)>::new(); OPS.len()]; specs.len()];
        for round in 0..rounds {
            for j in 0..specs.len() {
                // Rotate the order each round, so no variant always runs first or last.
                let v = (j + round) % specs.len();
                let spec = &specs[v];
                let store = filled(spec, entries);
                assert!(
                    store.entry_count() >= entries * 95 / 100,
                    "{}: {} of {} entries held",
                    spec.name,
                    store.entry_count(),
                    entries
                );
                let hk = spec
                    .housekeeper
                    .then(|| Housekeeper::spawn(store.clone(), spec.hk_interval));
                let mut next_new = 10 * entries;
                for (o, &op) in OPS.iter().enumerate() {
                    if only_ops
                        .as_ref()
                        .is_some_and(|f| !f.split(',').any(|n| n == op_name(op)))
                    {
                        continue;
                    }
                    let seed = 0x1234_5678 ^ ((round as u64) << 20) ^ o as u64;
                    // A short warm-up of the same operation (its pages, its branch history).
                    run(&*store, op, entries, ops / 10, seed ^ 0xff, &mut next_new);
                    let r = run(&*store, op, entries, ops, seed, &mut next_new);
                    results[v][o].push(r);
                }
                drop(hk);
                drop(store);
            }
            eprintln!("  {entries} entries: round {} of {rounds} done", round + 1);
        }
        println!("\n### {entries} entries, uniform random keys\n");
        print_header();
        for (v, spec) in specs.iter().enumerate() {
            print!("| {} |", spec.name);
            for (o, &op) in OPS.iter().enumerate() {
                if results[v][o].is_empty() {
                    print!(" - |");
                    continue;
                }
                let mut p: Vec<f64> = results[v][o].iter().map(|r| r.0).collect();
                let (lo, hi) = (
                    p.iter().cloned().fold(f64::MAX, f64::min),
                    p.iter().cloned().fold(0.0, f64::max),
                );
                let m = median(&mut p);
                if spec.housekeeper && op != Op::GetHit2 && op != Op::Baseline {
                    let mut t: Vec<f64> = results[v][o].iter().map(|r| r.1).collect();
                    print!(" {m:.0} ({lo:.0}-{hi:.0}); thread {:.0} |", median(&mut t));
                } else {
                    print!(" {m:.0} ({lo:.0}-{hi:.0}) |");
                }
            }
            println!();
        }
        // The same, as ratios to `ours` measured in the same round: the load of a shared
        // machine moves both alike, so the ratio is steadier than either figure.
        let Some(base) = specs.iter().position(|s| s.name == OURS.name) else {
            continue;
        };
        println!("\n### {entries} entries: CPU per operation / ours in the same round\n");
        print_header();
        for (v, spec) in specs.iter().enumerate() {
            print!("| {} |", spec.name);
            for (rounds, base_rounds) in results[v].iter().zip(&results[base]) {
                let mut r: Vec<f64> = rounds
                    .iter()
                    .zip(base_rounds)
                    .map(|(a, b)| a.0 / b.0)
                    .collect();
                if r.is_empty() {
                    print!(" - |");
                    continue;
                }
                let (lo, hi) = (
                    r.iter().cloned().fold(f64::MAX, f64::min),
                    r.iter().cloned().fold(0.0, f64::max),
                );
                print!(" {:.2} ({lo:.2}-{hi:.2}) |", median(&mut r));
            }
            println!();
        }
        // Every round's figure, for the record.
        if std::env::var_os("MOKA_RAW").is_some() {
            println!("\nraw (variant, op, per-round process ns/op):");
            for (v, spec) in specs.iter().enumerate() {
                for (o, &op) in OPS.iter().enumerate() {
                    let r: Vec<String> = results[v][o]
                        .iter()
                        .map(|r| format!("{:.0}", r.0))
                        .collect();
                    println!("{} | {} | {}", spec.name, op_name(op), r.join(" "));
                }
            }
        }
    }
}

/// The main variants as criterion benchmarks (CPU time per operation), 100k entries.
fn criterion_benches(c: &mut Criterion) {
    let entries = 100_000u64;
    let names = [
        "ours",
        "no listener",
        "u32 mix hasher",
        "hash once (Lookup)",
        "bare (no w/l, mix)",
    ];
    for op in [Op::GetHit, Op::GetMiss, Op::Replace] {
        let mut group = c.benchmark_group(op_name(op));
        for spec in specs().iter().filter(|s| names.contains(&s.name)) {
            let store = filled(spec, entries);
            let mut seed = 1u64;
            let mut next_new = 10 * entries;
            group.bench_function(spec.name, |b| {
                b.iter_custom(|iters| {
                    seed += 1;
                    let (p, _) = run(&*store, op, entries, iters, seed, &mut next_new);
                    Duration::from_nanos((p * iters as f64) as u64)
                })
            });
        }
        group.finish();
    }
}

fn main() {
    // As the server does (crates/server/src/alloc.rs): no transparent huge pages, which
    // mimalloc would otherwise ask for; they make every dependent cache miss of moka's walk
    // cheaper (fewer TLB misses), so figures with them would not be the server's.
    // `MOKA_THP=1` keeps them, to measure that difference.
    if std::env::var_os("MOKA_THP").is_none() {
        // SAFETY: a plain prctl on this process, no pointers.
        unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    }
    if std::env::var_os("MOKA_CRITERION").is_some() {
        let mut c = Criterion::default().configure_from_args();
        criterion_benches(&mut c);
        c.final_summary();
    } else {
        // `cargo test --benches` runs this with `--bench` absent: keep that quick.
        if std::env::args().any(|a| a == "--bench") {
            interleaved();
        } else {
            let spec = OURS;
            let store = filled(&spec, 1000);
            let mut n = 0;
            for op in OPS {
                run(&*store, op, 1000, 1000, 7, &mut n);
            }
            println!("moka_options: smoke run done (use `cargo bench` for figures)");
        }
    }
}

/// A results table's header: one column per operation.
fn print_header() {
    print!("| variant |");
    for op in OPS {
        print!(" {} |", op_name(op));
    }
    println!();
    print!("|---|");
    for _ in OPS {
        print!("---|");
    }
    println!();
}
