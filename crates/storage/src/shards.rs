//! The store's moka caches and how a key picks one.
//!
//! Why not moka's `SegmentedCache`: it picks a segment by the top bits of moka's 64-bit hash,
//! and each segment's hash table picks one of its 64 sub-tables by the top six bits of that
//! same hash. With 8 segments only 8 of each segment's 64 sub-tables were ever used, so the
//! whole store had 64 sub-tables however it was split. On a full cache every `set` evicts and
//! leaves a tombstone; when a sub-table's tombstones reach a tenth of its slots, the call that
//! notices re-hashes the whole sub-table (about 9,000 entries at `-m 256`, 100-byte values),
//! and that one request waited milliseconds: perf put 86% of the samples inside requests
//! slower than 1 ms in moka's `BucketArray::rehash`. Here a shard is picked by the top bits of
//! our own 32-bit key hash, which moka's hash does not share, so every shard uses all 64 of
//! its sub-tables: from `-m 512`, 8 shards, 512 sub-tables, each re-hash an eighth of the
//! work (at `-m 256`, four shards of 64 MiB: see [`MIN_SHARE`]).
//!
//! Fewer shards for a small `-m`, and when `-I` is large against `-m` (see
//! [`Shards::count_for`]).

use crate::front::Front;
use crate::housekeeper::Waker;
use crate::item::Item;
use crate::key::Key;
use foldhash::quality::RandomState;
use moka::sync::{Cache, CacheBuilder};
use std::sync::Arc;

/// The most moka caches a store uses. Each gets an equal share of `-m` and evicts on its own,
/// as the segments of `SegmentedCache` did.
pub(crate) const MAX_SHARDS: usize = 8;

/// The smallest share of `-m` worth a cache of its own. Each moka cache costs memory that a
/// small share does not amortize: at `-m 64` with 4 KB values, 8 caches held about 300 B per
/// item more than one cache (5245-5281 against 4938-4949 B of RSS per item, memcached 4940;
/// about 150 B of it with a slow fill, the rest from each cache's writes waiting for its own
/// maintenance). From `-m 64` to `-m 1023` a share is then between 64 and 128 MiB, as each
/// of the 8 caches' is at `-m 1024`: at most about 4,650 entries per sub-table with 100-byte
/// values (5,900 with the lightest entries; 340 bytes charged per entry), where scenario 9's
/// stall test stayed under 10 ms with 4,400 (`-m 256`, two caches, 360 bytes charged) and
/// reached it with 8,900 (one cache).
pub(crate) const MIN_SHARE: u64 = 64 << 20;

type Shard = Cache<Key, Item, RandomState>;
/// moka's builder before the hasher is chosen.
type Builder = CacheBuilder<Key, Item, Cache<Key, Item>>;

/// The moka caches. Cloning is cheap and shares them (the housekeeper holds a clone).
#[derive(Clone)]
pub(crate) struct Shards {
    caches: Arc<[Shard]>,
    /// How far to shift the 32-bit key hash to get a cache's index (32 with one cache).
    shift: u32,
    /// Wakes the housekeeper on any access once it has parked (see `housekeeper`).
    pub(crate) waker: Arc<Waker>,
    /// Copies of recently read entries, which most reads find without asking moka (see
    /// `front`). Every change made here is followed by a `forget` there; the eviction
    /// listener makes one for every entry moka removes itself.
    pub(crate) front: Arc<Front>,
    /// Each cache's hasher, which moka's sub-table choice depends on (for a test).
    #[cfg(test)]
    hashers: Vec<RandomState>,
}

impl Shards {
    /// How many caches: as many as possible up to [`MAX_SHARDS`] (a power of two) while each
    /// share of `max_capacity` is at least [`MIN_SHARE`] and at least twice `item_size_max`
    /// (`-I`, which counts the key and memcached's header, so also more than the heaviest
    /// entry's weight: `-I` plus moka's overhead). memcached accepts `-I` up to half of `-m`,
    /// and moka drops an entry heavier than its cache's whole capacity right after the insert
    /// that answered STORED. The default `-m 64` gets one cache, `-m 256` four, `-m 512` and
    /// up eight; `-m 1024 -I 256m` two.
    pub(crate) fn count_for(max_capacity: u64, item_size_max: u64) -> usize {
        let mut n = MAX_SHARDS;
        while n > 1 && {
            let share = max_capacity / (n as u64);
            share < MIN_SHARE || share < 2 * item_size_max
        } {
            n /= 2;
        }
        n
    }

    /// Builds `count` caches (a power of two) from one builder recipe, each with
    /// `max_capacity / count`.
    pub(crate) fn build(
        count: usize,
        max_capacity: u64,
        front: Arc<Front>,
        recipe: impl Fn(Builder) -> Builder,
    ) -> Shards {
        assert!(count.is_power_of_two() && count <= MAX_SHARDS);
        let share = max_capacity.div_ceil(count as u64);
        let hashers: Vec<RandomState> = (0..count).map(|_| RandomState::default()).collect();
        let caches = hashers
            .iter()
            .map(|h| recipe(Cache::builder().max_capacity(share)).build_with_hasher(h.clone()))
            .collect();
        Shards {
            caches,
            shift: 32 - count.trailing_zeros(),
            waker: Arc::default(),
            front,
            #[cfg(test)]
            hashers,
        }
    }

    /// The cache that holds `key`.
    #[inline]
    fn of(&self, key: &Key) -> &Shard {
        &self.caches[self.index(key)]
    }

    /// How many caches.
    pub(crate) fn count(&self) -> usize {
        self.caches.len()
    }

    /// The top bits of our own key hash (the stripe locks use its low bits).
    #[inline]
    pub(crate) fn index(&self, key: &Key) -> usize {
        // `checked_shr`: with one cache the shift is 32, which a u32 cannot shift by.
        key.hash32().checked_shr(self.shift).unwrap_or(0) as usize
    }

    // Each access touches the waker after moka has logged it, so that the round it may
    // wake finds it.

    /// moka's entry, read as moka reads (and records) it.
    pub(crate) fn get(&self, key: &Key) -> Option<Item> {
        let item = self.of(key).get(key);
        self.waker.touch();
        item
    }

    /// A client's read: from the front table if a recent copy is there, else from moka (and
    /// then copied there if `live` says the item is worth keeping: a dead item only takes a
    /// live one's slot, and after a mass expiry every read would copy one).
    #[inline]
    pub(crate) fn read(
        &self,
        key: &Key,
        now: u32,
        live: impl FnOnce(&Item) -> bool,
    ) -> Option<Item> {
        let generation = match self.front.get(key, now) {
            Ok(item) => return Some(item),
            Err(generation) => generation,
        };
        let item = self.get(key)?;
        if !item.has(Item::BALLAST) && live(&item) {
            self.front.fill(key, &item, now, generation);
        }
        Some(item)
    }

    pub(crate) fn invalidate(&self, key: &Key) {
        self.of(key).invalidate(key);
        self.front.forget(key);
        self.waker.touch();
    }

    /// Inserts a copy of `key` (moka keeps it).
    pub(crate) fn insert(&self, key: &Key, item: Item) {
        self.of(key).insert(key.to_owned_key(), item);
        self.front.forget(key);
        self.waker.touch();
    }

    /// A client's write, at `now`: [`Shards::insert`], and the item goes to the front table
    /// too, so that the next read finds it there.
    pub(crate) fn store(&self, key: &Key, item: Item, now: u32) {
        let generation = self.front.generation(key);
        let copy = item.clone();
        self.of(key).insert(key.to_owned_key(), item);
        self.front.put(key, &copy, now, generation);
        self.waker.touch();
    }

    pub(crate) fn run_pending_tasks(&self) {
        for cache in self.caches.iter() {
            cache.run_pending_tasks();
        }
    }

    /// Every entry of every shard (moka's iterators: a snapshot of no particular order).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Arc<Key>, Item)> + '_ {
        self.caches.iter().flat_map(|c| c.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    /// Keys spread evenly over the shards, and the keys of any one shard still spread over
    /// all 64 of moka's sub-tables: the top 6 bits of the hash moka computes with that
    /// shard's hasher. (With `SegmentedCache` one hash picked both the segment and the
    /// sub-table, and a segment's keys used only 64 / 8 of them.)
    #[test]
    fn every_shard_uses_every_moka_sub_table() {
        let shards = Shards::build(MAX_SHARDS, 1 << 30, Arc::new(Front::new(1024)), |b| b);
        let mut per_shard = [0usize; MAX_SHARDS];
        let mut sub_tables = vec![[false; 64]; MAX_SHARDS];
        let n = 80_000;
        for i in 0..n {
            let key = Key::new(format!("key:{i}").as_bytes());
            let shard = shards.index(&key);
            per_shard[shard] += 1;
            let moka_hash = shards.hashers[shard].hash_one(&key);
            sub_tables[shard][(moka_hash >> 58) as usize] = true;
        }
        for (shard, count) in per_shard.iter().enumerate() {
            let share = *count as f64 / n as f64;
            assert!((0.11..0.14).contains(&share), "shard {shard} holds {share}");
            let used = sub_tables[shard].iter().filter(|u| **u).count();
            assert_eq!(used, 64, "shard {shard} uses {used} of 64 sub-tables");
        }
    }

    #[test]
    fn fewer_shards_for_a_small_cache_or_large_items() {
        const MB: u64 = 1 << 20;
        // By -m: a share of at least 64 MiB each.
        assert_eq!(Shards::count_for(8 * MB, MB), 1);
        assert_eq!(Shards::count_for(64 * MB, MB), 1);
        assert_eq!(Shards::count_for(127 * MB, MB), 1);
        assert_eq!(Shards::count_for(128 * MB, MB), 2);
        assert_eq!(Shards::count_for(256 * MB, MB), 4);
        assert_eq!(Shards::count_for(512 * MB, MB), 8);
        assert_eq!(Shards::count_for(1024 * MB, MB), 8);
        assert_eq!(Shards::count_for(u64::MAX / 4, MB), 8);
        // By -I: twice the largest item fits in each share.
        assert_eq!(Shards::count_for(1024 * MB, 64 * MB), 8);
        assert_eq!(Shards::count_for(1024 * MB, 128 * MB), 4);
        assert_eq!(Shards::count_for(1024 * MB, 256 * MB), 2);
        assert_eq!(Shards::count_for(1024 * MB, 512 * MB), 1);
        // Each share holds more than the heaviest entry `-I` allows.
        for (m, i) in [
            (64 * MB, MB),
            (64 * MB, 32 * MB),
            (256 * MB, 8 * MB),
            (1024 * MB, 256 * MB),
            (8 * MB, MB),
        ] {
            let share = m / Shards::count_for(m, i) as u64;
            assert!(
                share
                    > u64::from(crate::item::weight(
                        250,
                        i as usize,
                        crate::item::exact_size
                    ))
            );
        }
        let one = Shards::build(1, MB, Arc::new(Front::new(1024)), |b| b);
        assert_eq!(one.index(&Key::new(b"any")), 0);
    }
}
