//! memcached's slab classes, as a table ferrocache files its items under.
//!
//! ferrocache keeps its items in moka, not in slab pages, but operators' tools read
//! `stats items` and `stats slabs` by class (memcached_exporter, memcached-tool, dashboards),
//! and `lru_crawler metadump`, `watch` and `stats cachedump` name an item's class. So each
//! item is counted under the class memcached would put it in: memcached's table, built from
//! `-n` (the smallest chunk), `-f` (the growth factor), `-o slab_chunk_max` and
//! `-o slab_sizes` as `slabs_init` builds it, and looked up by the item's size as
//! `slabs_clsid` looks it up. The counts per class are kept as items come and go
//! ([`ClassCounters`]).

use crate::counters::Stripes;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};

/// memcached's `MAX_NUMBER_OF_SLAB_CLASSES`: classes 1 to 63 (0 is its page pool).
pub const MAX_CLASSES: usize = 64;
/// memcached's `sizeof(item)` on a 64-bit build.
const ITEM_HEADER: usize = 48;
/// memcached's `sizeof(item_chunk)` on a 64-bit build: what each chunk of a large item
/// spends on its own header.
pub const CHUNK_HEADER: usize = 48;
/// `stats sizes`' step.
const SIZE_STEP: usize = 32;
/// memcached's `CHUNK_ALIGN_BYTES`.
const ALIGN: u32 = 8;

/// What the class table is built from (memcached's settings of the same names).
#[derive(Clone, Debug, PartialEq)]
pub struct SlabConfig {
    /// `-n`: room for key and value in the smallest chunk (default 48).
    pub chunk_size: u32,
    /// `-f` (default 1.25).
    pub factor: f64,
    /// `slab_chunk_max`: the largest chunk (default half a page).
    pub chunk_max: u32,
    /// memcached's slab page (1 MiB).
    pub page_size: u32,
    /// `-o slab_sizes=a-b-c`: the classes' sizes, given.
    pub sizes: Option<Vec<u32>>,
    /// `-o track_sizes`: keep `stats sizes`' histogram.
    pub track_sizes: bool,
}

impl Default for SlabConfig {
    fn default() -> Self {
        SlabConfig {
            chunk_size: 48,
            factor: 1.25,
            chunk_max: 512 * 1024,
            page_size: 1024 * 1024,
            sizes: None,
            track_sizes: false,
        }
    }
}

/// memcached's slab class table.
#[derive(Clone, Debug)]
pub struct SlabClasses {
    /// Chunk size of each class; index 0 is unused, as in memcached.
    sizes: Vec<u32>,
    page_size: u32,
    chunk_max: u32,
    item_size_max: usize,
}

impl SlabClasses {
    /// The table `slabs_init` builds: sizes from `sizeof(item) + -n`, each `-f` times the
    /// last (cut to a whole number, then aligned to 8), until the next would pass
    /// `slab_chunk_max / -f`; the last class is `slab_chunk_max` itself.
    pub fn new(config: &SlabConfig, item_size_max: usize) -> SlabClasses {
        let mut sizes = vec![0u32];
        let mut size = ITEM_HEADER as u32 + config.chunk_size;
        let mut given = config.sizes.iter().flatten();
        while sizes.len() < MAX_CLASSES - 1 {
            if config.sizes.is_some() {
                match given.next() {
                    Some(&s) => size = s,
                    None => break,
                }
            } else if f64::from(size) >= f64::from(config.chunk_max) / config.factor {
                break;
            }
            if !size.is_multiple_of(ALIGN) {
                size += ALIGN - size % ALIGN;
            }
            sizes.push(size);
            if config.sizes.is_none() {
                // C: `unsigned int size *= double factor` truncates.
                size = (f64::from(size) * config.factor) as u32;
            }
        }
        sizes.push(config.chunk_max);
        SlabClasses {
            sizes,
            page_size: config.page_size,
            chunk_max: config.chunk_max,
            item_size_max,
        }
    }

    /// The largest class id (memcached's `power_largest`).
    pub fn largest(&self) -> u8 {
        (self.sizes.len() - 1) as u8
    }

    /// A class's chunk size.
    pub fn chunk_size(&self, class: u8) -> u32 {
        self.sizes[usize::from(class)]
    }

    /// Chunks of a class in one page (memcached's `perslab`).
    pub fn per_page(&self, class: u8) -> u32 {
        self.page_size / self.chunk_size(class)
    }

    pub fn page_size(&self) -> u32 {
        self.page_size
    }

    /// memcached's `slabs_clsid`: the smallest class whose chunks hold `size` bytes, the
    /// largest class for anything bigger (a chunked item), 0 for nothing or over `-I`.
    pub fn class_of_size(&self, size: usize) -> u8 {
        if size == 0 || size > self.item_size_max {
            return 0;
        }
        let i = self.sizes[1..].partition_point(|&s| (s as usize) < size) + 1;
        i.min(self.sizes.len() - 1) as u8
    }

    /// The class an item of `ntotal` bytes (memcached's `ITEM_ntotal`) is listed under in
    /// `stats items`: its LRU's class. A large item (over `slab_chunk_max`) is listed under
    /// the largest class, where memcached links it, though its header comes from another.
    pub fn class_of(&self, ntotal: usize) -> u8 {
        self.class_of_size(ntotal)
    }

    /// The chunks memcached takes for an item, as `(class, count)` pairs: one chunk of its
    /// class for a small item; for a large one, a header chunk (key and suffix) and the value
    /// in chunks of `slab_chunk_max`, the last cut to the smallest class that holds what is
    /// left (`do_item_alloc_chunk`). `header` is the large item's header size (memcached's
    /// `htotal`: key, suffix, CAS, `sizeof(item) + sizeof(item_chunk)`), `value_len` the
    /// value with its `\r\n`.
    pub fn chunks(&self, ntotal: usize, header: usize, value_len: usize, mut each: impl FnMut(u8)) {
        if ntotal <= self.chunk_max as usize {
            each(self.class_of_size(ntotal));
            return;
        }
        each(self.class_of_size(header));
        let mut remain = value_len;
        while remain > 0 {
            let size = (remain + CHUNK_HEADER).min(self.chunk_max as usize);
            each(self.class_of_size(size));
            remain -= size - CHUNK_HEADER;
        }
    }
}

/// What memcached counts per class (`stats items`, `stats slabs`), for one class.
///
/// Why atomics: items of one class are stored, read and evicted by every worker thread and by
/// moka's eviction listener at once; each figure is only added to and read for `stats`, so
/// relaxed order is enough. One class's counters sit together, apart from other classes'
/// (aligned to 128 bytes), so that threads busy with different sizes do not share lines.
#[derive(Default, Debug)]
#[repr(align(128))]
pub struct ClassCounters {
    /// Items linked now, and their memcached-counted bytes (`mem_requested`).
    pub number: AtomicI64,
    pub requested: AtomicI64,
    /// Chunks of this class in use (memcached's `used_chunks`): one per small item, and the
    /// headers and value chunks of large items, which may be filed under other classes.
    pub chunks: AtomicI64,
    pub evicted: AtomicU64,
    pub evicted_nonzero: AtomicU64,
    /// Seconds since the last access of the item evicted last.
    pub evicted_time: AtomicU64,
    pub evicted_unfetched: AtomicU64,
    pub expired_unfetched: AtomicU64,
    pub reclaimed: AtomicU64,
    pub crawler_reclaimed: AtomicU64,
    pub crawler_items_checked: AtomicU64,
    pub outofmemory: AtomicU64,
    /// Evictions a request's own thread did, not the housekeeper.
    pub direct_reclaims: AtomicU64,
    /// The class has held a chunk since start: memcached keeps a page once a class has one,
    /// so `stats slabs` lists it from then on, with no chunk used if it is empty again.
    pub ever_used: AtomicBool,
    /// The relative store time of the class's oldest item, as the crawler last found it
    /// (0: not known yet): `stats items`' `age`.
    pub oldest: AtomicU32,
}

impl ClassCounters {
    /// `stats reset`: what memcached zeroes per class (not the current contents).
    pub fn reset(&self) {
        for c in [
            &self.evicted,
            &self.evicted_nonzero,
            &self.evicted_time,
            &self.evicted_unfetched,
            &self.expired_unfetched,
            &self.reclaimed,
            &self.crawler_reclaimed,
            &self.crawler_items_checked,
            &self.outofmemory,
            &self.direct_reclaims,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// A class's counters that requests add to (`stats slabs`' `get_hits`, `cmd_set`, ...): kept
/// per thread, each thread's for every class in a [`Stripes`] copy of its own, and summed by
/// [`Classes::hits`]. Why: most traffic is of one or two sizes, so one shared copy would put
/// the same line in every worker thread's core in turn on each request (see `counters`).
#[derive(Default, Debug)]
pub struct ClassHits {
    pub get_hits: AtomicU64,
    pub cmd_set: AtomicU64,
    pub delete_hits: AtomicU64,
    pub incr_hits: AtomicU64,
    pub decr_hits: AtomicU64,
    pub cas_hits: AtomicU64,
    pub cas_badval: AtomicU64,
    pub touch_hits: AtomicU64,
}

/// [`ClassHits`] summed over the threads, for `stats`.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassHitCounts {
    pub get_hits: u64,
    pub cmd_set: u64,
    pub delete_hits: u64,
    pub incr_hits: u64,
    pub decr_hits: u64,
    pub cas_hits: u64,
    pub cas_badval: u64,
    pub touch_hits: u64,
}

/// One thread's [`ClassHits`] for every class (aligned so that no two threads' copies share
/// a cache line).
#[repr(align(128))]
pub struct HitsStripe([ClassHits; MAX_CLASSES]);

impl Default for HitsStripe {
    fn default() -> Self {
        HitsStripe(std::array::from_fn(|_| ClassHits::default()))
    }
}

/// The class table and each class's counters: what the store and its eviction listener
/// share to file every item as it comes and goes.
#[derive(Debug)]
pub struct Classes {
    pub table: SlabClasses,
    counters: Box<[ClassCounters]>,
    hits: Stripes<HitsStripe>,
    cas_enabled: bool,
    /// `-o track_sizes`: items by size, in 32-byte steps up to `-I` (`stats sizes`).
    sizes: Option<Box<[AtomicI64]>>,
}

impl Classes {
    pub fn new(config: &SlabConfig, item_size_max: usize, cas_enabled: bool) -> Classes {
        Classes {
            table: SlabClasses::new(config, item_size_max),
            counters: (0..MAX_CLASSES).map(|_| ClassCounters::default()).collect(),
            hits: Stripes::default(),
            cas_enabled,
            sizes: config.track_sizes.then(|| {
                (0..item_size_max / SIZE_STEP + 1)
                    .map(|_| AtomicI64::new(0))
                    .collect()
            }),
        }
    }

    /// `stats sizes` with `-o track_sizes`: (size, items) for every 32-byte step that has
    /// items, the size being the step's upper end as memcached prints it; `None` without.
    pub fn sizes(&self) -> Option<Vec<(usize, u64)>> {
        let sizes = self.sizes.as_ref()?;
        Some(
            sizes
                .iter()
                .enumerate()
                .map(|(i, n)| (i * SIZE_STEP, level(n)))
                .filter(|&(_, n)| n > 0)
                .collect(),
        )
    }

    /// A class's counters (class 0 holds what fits no class; it stays empty).
    pub fn counters(&self, class: u8) -> &ClassCounters {
        &self.counters[usize::from(class)]
    }

    /// The calling thread's hit counters of a class.
    #[inline]
    pub fn hit(&self, class: u8) -> &ClassHits {
        &self.hits.mine().0[usize::from(class)]
    }

    /// A class's hit counters, summed over the threads.
    pub fn hits(&self, class: u8) -> ClassHitCounts {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        self.hits
            .all()
            .fold(ClassHitCounts::default(), |sum, stripe| {
                let h = &stripe.0[usize::from(class)];
                ClassHitCounts {
                    get_hits: sum.get_hits + l(&h.get_hits),
                    cmd_set: sum.cmd_set + l(&h.cmd_set),
                    delete_hits: sum.delete_hits + l(&h.delete_hits),
                    incr_hits: sum.incr_hits + l(&h.incr_hits),
                    decr_hits: sum.decr_hits + l(&h.decr_hits),
                    cas_hits: sum.cas_hits + l(&h.cas_hits),
                    cas_badval: sum.cas_badval + l(&h.cas_badval),
                    touch_hits: sum.touch_hits + l(&h.touch_hits),
                }
            })
    }

    /// Every class's counters, class 0 first.
    pub fn all(&self) -> impl Iterator<Item = (u8, &ClassCounters)> {
        self.counters.iter().enumerate().map(|(i, c)| (i as u8, c))
    }

    /// memcached's `ITEM_ntotal` of an item, and its class.
    pub fn item(&self, key_len: usize, flags: u32, value_len: usize) -> (usize, u8) {
        let ntotal = ferrocache_protocol::item_size(key_len, flags, value_len, self.cas_enabled);
        (ntotal, self.table.class_of(ntotal))
    }

    /// Counts an item in (`sign` 1) or out (`sign` -1) of its class, with the chunks it
    /// takes; returns its class.
    pub fn count(&self, key_len: usize, flags: u32, value_len: usize, sign: i64) -> u8 {
        let (ntotal, class) = self.item(key_len, flags, value_len);
        let c = self.counters(class);
        if let Some(sizes) = &self.sizes {
            // memcached's bucket: the size rounded up to 32 bytes.
            if let Some(n) = sizes.get(ntotal.div_ceil(SIZE_STEP)) {
                n.fetch_add(sign, Ordering::Relaxed);
            }
        }
        c.number.fetch_add(sign, Ordering::Relaxed);
        c.requested
            .fetch_add(sign * ntotal as i64, Ordering::Relaxed);
        let suffix = if flags == 0 { 0 } else { 4 };
        let cas = if self.cas_enabled { 8 } else { 0 };
        let header = key_len + 1 + suffix + cas + ITEM_HEADER + CHUNK_HEADER;
        self.table
            .chunks(ntotal, header, value_len + 2, |chunk_class| {
                let k = self.counters(chunk_class);
                k.chunks.fetch_add(sign, Ordering::Relaxed);
                // Read first: written once per class, not by every store.
                if sign > 0 && !k.ever_used.load(Ordering::Relaxed) {
                    k.ever_used.store(true, Ordering::Relaxed);
                }
            });
        class
    }

    /// `stats reset`.
    pub fn reset(&self) {
        self.counters.iter().for_each(ClassCounters::reset);
        for stripe in self.hits.all() {
            for h in &stripe.0 {
                for c in [
                    &h.get_hits,
                    &h.cmd_set,
                    &h.delete_hits,
                    &h.incr_hits,
                    &h.decr_hits,
                    &h.cas_hits,
                    &h.cas_badval,
                    &h.touch_hits,
                ] {
                    c.store(0, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Reads a counter that may dip below zero for a moment (an eviction counted before the
/// insert it balances).
pub fn level(counter: &AtomicI64) -> u64 {
    counter.load(Ordering::Relaxed).max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// memcached 1.6.45's `-vv` start-up table with default settings: 39 classes from 96 to
    /// 524288 bytes.
    #[test]
    fn the_default_table_is_memcacheds() {
        let t = SlabClasses::new(&SlabConfig::default(), 1024 * 1024);
        assert_eq!(t.largest(), 39);
        let first: Vec<u32> = (1..=8).map(|c| t.chunk_size(c)).collect();
        assert_eq!(first, [96, 120, 152, 192, 240, 304, 384, 480]);
        assert_eq!(t.chunk_size(38), 394_840);
        assert_eq!(t.chunk_size(39), 524_288);
        assert_eq!(t.per_page(1), 10_922);
        assert_eq!(t.per_page(39), 2);
    }

    #[test]
    fn items_are_filed_by_size() {
        let t = SlabClasses::new(&SlabConfig::default(), 1024 * 1024);
        assert_eq!(t.class_of(0), 0);
        assert_eq!(t.class_of(1), 1);
        assert_eq!(t.class_of(96), 1);
        assert_eq!(t.class_of(97), 2);
        assert_eq!(t.class_of(524_288), 39);
        assert_eq!(t.class_of(600_000), 39);
        assert_eq!(t.class_of(1024 * 1024 + 1), 0);
    }

    #[test]
    fn given_sizes_and_factors_build_memcacheds_tables() {
        let given = SlabConfig {
            sizes: Some(vec![100, 200, 300]),
            ..SlabConfig::default()
        };
        let t = SlabClasses::new(&given, 1024 * 1024);
        let sizes: Vec<u32> = (1..=t.largest()).map(|c| t.chunk_size(c)).collect();
        assert_eq!(sizes, [104, 200, 304, 524_288]);
        let steep = SlabConfig {
            factor: 2.0,
            chunk_size: 16,
            ..SlabConfig::default()
        };
        let t = SlabClasses::new(&steep, 1024 * 1024);
        let sizes: Vec<u32> = (1..=t.largest()).map(|c| t.chunk_size(c)).collect();
        assert_eq!(
            sizes,
            [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 524288]
        );
    }

    #[test]
    fn a_large_item_takes_a_header_and_chunks() {
        let t = SlabClasses::new(&SlabConfig::default(), 1024 * 1024);
        let mut got = Vec::new();
        // 600,000-byte value with a 1-byte key: header class, one full chunk, and the rest.
        let value = 600_002;
        let ntotal = 48 + 8 + 2 + value;
        t.chunks(ntotal, 48 + 48 + 8 + 2, value, |c| got.push(c));
        let rest = value - (524_288 - CHUNK_HEADER);
        assert_eq!(got, [t.class_of(106), 39, t.class_of(rest + CHUNK_HEADER)]);
    }
}
