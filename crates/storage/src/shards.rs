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
//! its sub-tables: 8 shards, 512 sub-tables, each re-hash an eighth of the work.

use crate::item::Item;
use crate::key::Key;
use foldhash::quality::RandomState;
use moka::sync::{Cache, CacheBuilder};
use std::sync::Arc;

/// Number of moka caches. Each gets an equal share of `-m` and evicts on its own, as the
/// segments of `SegmentedCache` did; 8 keeps a share (8 MB at the default `-m 64`) well above
/// the default item size limit of 1 MB.
pub(crate) const SHARDS: usize = 8;

const SHARD_BITS: u32 = SHARDS.trailing_zeros();

type Shard = Cache<Key, Item, RandomState>;
/// moka's builder before the hasher is chosen.
type Builder = CacheBuilder<Key, Item, Cache<Key, Item>>;

/// The moka caches. Cloning is cheap and shares them (the housekeeper holds a clone).
#[derive(Clone)]
pub(crate) struct Shards {
    caches: Arc<[Shard]>,
}

impl Shards {
    /// Builds [`SHARDS`] caches from one builder recipe, each with `max_capacity / SHARDS`.
    pub(crate) fn build(max_capacity: u64, recipe: impl Fn(Builder) -> Builder) -> Shards {
        let share = max_capacity.div_ceil(SHARDS as u64);
        let caches = (0..SHARDS)
            .map(|_| {
                recipe(Cache::builder().max_capacity(share))
                    .build_with_hasher(RandomState::default())
            })
            .collect();
        Shards { caches }
    }

    /// The cache that holds `key`.
    #[inline]
    pub(crate) fn of(&self, key: &Key) -> &Shard {
        &self.caches[(key.hash32() >> (32 - SHARD_BITS)) as usize]
    }

    pub(crate) fn get(&self, key: &Key) -> Option<Item> {
        self.of(key).get(key)
    }

    pub(crate) fn invalidate(&self, key: &Key) {
        self.of(key).invalidate(key)
    }

    pub(crate) fn insert(&self, key: Key, item: Item) {
        self.of(&key).insert(key, item)
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
