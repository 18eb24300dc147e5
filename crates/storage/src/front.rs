//! The front table: reads of recently read keys that skip moka.
//!
//! Why: a moka `get` is five dependent cache misses, a clock read, a write of the entry's
//! access time and a read record that its bookkeeping applies later (touching 4-5 more
//! lines): 1.0-1.6 µs of CPU per get on a cache of 100k-1M entries (bench/moka-study.md),
//! as much as memcached 1.6.45's whole request. memcached itself bumps an item in its LRU at
//! most once every 60 s (`ITEM_UPDATE_INTERVAL`); this table lets most reads do the same.
//!
//! What it is: a fixed array of two-slot buckets, each behind its own lock, indexed by the
//! key's hash. A slot holds a copy of an entry moka holds (the key, and the 32-byte [`Item`],
//! whose value is shared, not copied) and the second it was filled. A read first looks here;
//! a slot filled less than [`Front::bump_after`] seconds ago answers it. Otherwise the read
//! goes to moka (which records it, moving the entry up its LRU) and refills the slot.
//!
//! Why it never answers with an item moka no longer holds: every change of an entry in moka
//! (insert, invalidation, and every removal moka makes itself, which reaches the eviction
//! listener) is followed by [`Front::forget`], which empties the key's slot and bumps its
//! bucket's generation. A read notes the generation before it asks moka, and fills the slot
//! only if the generation has not moved since: a change that moka applied after the read's
//! lookup is followed by a `forget` that either comes before the fill (the generation moved:
//! no fill) or after it (it empties the slot). moka is never called with a bucket locked, so
//! the bucket locks are the innermost locks, and the listener may take them from any thread.
//!
//! Memory: 128 bytes per bucket of two slots, one bucket per 8 KiB of `-m` (1/64 of it,
//! 128 KiB to 32 MiB), allocated at start, so it is part of the empty server's RSS that the
//! memory guard counts as base; a key of 15 to 64 bytes costs a copy of its own while a slot
//! holds it (at most as much again); longer keys are not kept. A slot's item shares its
//! value with moka's, and is dropped as soon as moka lets the entry go.
//!
//! Why a bump interval that follows evictions: an entry read only here does not move up
//! moka's LRU. Where nothing is evicted that costs nothing; where the LRU turns over in a
//! few seconds (a full cache that keeps storing), a hot item must still be bumped more often
//! than it takes to reach the LRU's tail. So the interval is a quarter of the time the LRU
//! takes to turn over at the last second's eviction rate, at most 60 s, and 0 (every read
//! goes to moka, as before this table) when that is under a second.

use crate::item::Item;
use crate::key::Key;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// The longest a slot answers reads before the next read bumps the item in moka: memcached's
/// `ITEM_UPDATE_INTERVAL`.
pub(crate) const MAX_BUMP_AFTER: u32 = 60;

/// Keys longer than this are not kept: a short key lives inside the slot, a longer one costs
/// an allocation of its own, and this bounds what those can cost (see the module's doc).
pub(crate) const MAX_KEY: usize = 64;

/// Bytes of `-m` per bucket: the table takes at most about 1/64 of `-m` (128-byte buckets),
/// plus the long keys' copies.
const BYTES_PER_PAIR: u64 = 8192;
/// The fewest and the most buckets (a power of two between): 128 KiB to 32 MiB.
const MIN_PAIRS: usize = 1 << 10;
const MAX_PAIRS: usize = 1 << 18;

/// A copy of an entry that moka holds.
struct Slot {
    key: Key,
    item: Item,
    /// The relative second it was read from moka.
    filled: u32,
}

#[derive(Default)]
struct Pair {
    /// Moves on every `forget` of a key of this bucket (see the module's doc).
    generation: u32,
    slots: [Option<Slot>; 2],
}

impl Pair {
    fn find(&self, key: &Key) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.key == *key))
    }
}

/// One bucket per 128 bytes: two buckets never share a cache line, so two threads reading
/// different keys do not take turns at one line.
#[derive(Default)]
#[repr(align(128))]
struct Bucket(Mutex<Pair>);

pub(crate) struct Front {
    buckets: Box<[Bucket]>,
    mask: usize,
    /// How long a slot answers reads, in seconds (see the module's doc).
    bump_after: AtomicU32,
    /// Entries moka removed to make room (the eviction listener counts them), and the count
    /// and second at the last tuning of `bump_after`.
    tail_removals: AtomicU64,
    tuned_removals: AtomicU64,
    tuned_at: AtomicU32,
}

impl Front {
    /// How many buckets for a store of `memory_limit` bytes.
    pub(crate) fn pairs_for(memory_limit: u64) -> usize {
        let want = usize::try_from(memory_limit / BYTES_PER_PAIR).unwrap_or(MAX_PAIRS);
        want.clamp(MIN_PAIRS, MAX_PAIRS).next_power_of_two()
    }

    pub(crate) fn new(pairs: usize) -> Front {
        assert!(pairs.is_power_of_two());
        Front {
            buckets: (0..pairs).map(|_| Bucket::default()).collect(),
            mask: pairs - 1,
            bump_after: AtomicU32::new(MAX_BUMP_AFTER),
            tail_removals: AtomicU64::new(0),
            tuned_removals: AtomicU64::new(0),
            tuned_at: AtomicU32::new(0),
        }
    }

    fn bucket(&self, key: &Key) -> MutexGuard<'_, Pair> {
        let b = &self.buckets[key.hash32() as usize & self.mask];
        // Every writer leaves a bucket whole (slots are replaced, not edited).
        b.0.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The item under `key` if a slot filled less than `bump_after` seconds before `now`
    /// holds it; otherwise the bucket's generation, for [`Front::fill`] after asking moka.
    #[inline]
    pub(crate) fn get(&self, key: &Key, now: u32) -> Result<Item, u32> {
        let after = self.bump_after.load(Ordering::Relaxed);
        let pair = self.bucket(key);
        if let Some(i) = pair.find(key) {
            let slot = pair.slots[i].as_ref().expect("found");
            if now.wrapping_sub(slot.filled) < after {
                return Ok(slot.item.clone());
            }
        }
        Err(pair.generation)
    }

    /// Keeps `item`, just read from moka under `key` at `now`, if the bucket's generation is
    /// still `generation` (nothing under its keys changed since the read began).
    pub(crate) fn fill(&self, key: &Key, item: &Item, now: u32, generation: u32) {
        self.keep(key, item, now, generation, false);
    }

    /// The generation of `key`'s bucket, for [`Front::put`] after a write to moka.
    pub(crate) fn generation(&self, key: &Key) -> u32 {
        self.bucket(key).generation
    }

    /// After `item` was stored in moka under `key` at `now`: keeps it, if nothing else
    /// under the bucket's keys changed since the writer read `generation` (an eviction
    /// between the insert and this call would have), and otherwise empties the key's slot.
    /// Either way the generation moves, as in [`Front::forget`], so that a reader that
    /// looked the key up in moka before the write does not fill the older item.
    pub(crate) fn put(&self, key: &Key, item: &Item, now: u32, generation: u32) {
        self.keep(key, item, now, generation, true);
    }

    fn keep(&self, key: &Key, item: &Item, now: u32, generation: u32, write: bool) {
        if key.len() > MAX_KEY {
            return;
        }
        let keep = self.bump_after.load(Ordering::Relaxed) != 0;
        let old;
        {
            let mut pair = self.bucket(key);
            let same = pair.generation == generation;
            if !same && !write {
                // A fill that raced a change: the slot is the change's to set.
                return;
            }
            if write {
                pair.generation = pair.generation.wrapping_add(1);
            }
            let found = pair.find(key);
            if !(same && keep) {
                old = found.and_then(|i| pair.slots[i].take());
            } else {
                // The key's own slot, else an empty one, else the one filled longer ago.
                let i = found.unwrap_or_else(|| match &pair.slots {
                    [None, _] => 0,
                    [_, None] => 1,
                    [Some(a), Some(b)] => {
                        usize::from(now.wrapping_sub(b.filled) > now.wrapping_sub(a.filled))
                    }
                });
                let slot = Slot {
                    key: key.to_owned_key(),
                    item: item.clone(),
                    filled: now,
                };
                old = pair.slots[i].replace(slot);
            }
        }
        // Dropped unlocked: it may be the last reference to a value.
        drop(old);
    }

    /// Empties `key`'s slot and moves its bucket's generation: called after every change
    /// moka makes to `key`'s entry.
    pub(crate) fn forget(&self, key: &Key) {
        if key.len() > MAX_KEY {
            // Never kept, and no fill of another key needs to see this change.
            return;
        }
        let old = {
            let mut pair = self.bucket(key);
            pair.generation = pair.generation.wrapping_add(1);
            pair.find(key).and_then(|i| pair.slots[i].take())
        };
        drop(old);
    }

    /// Counts an entry moka removed to make room (for [`Front::tune`]).
    pub(crate) fn count_tail_removal(&self) {
        self.tail_removals.fetch_add(1, Ordering::Relaxed);
    }

    /// The interval a slot answers reads for, in seconds.
    #[cfg(test)]
    pub(crate) fn bump_after(&self) -> u32 {
        self.bump_after.load(Ordering::Relaxed)
    }

    /// Re-tunes `bump_after` once a second (the first call in a new second does it), from
    /// the evictions since the last tuning and the `items` the store holds.
    #[inline]
    pub(crate) fn tune(&self, now: u32, items: impl FnOnce() -> u64) {
        let at = self.tuned_at.load(Ordering::Relaxed);
        if at == now
            || self
                .tuned_at
                .compare_exchange(at, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let removals = self.tail_removals.load(Ordering::Relaxed);
        let before = self.tuned_removals.swap(removals, Ordering::Relaxed);
        let rate = removals.saturating_sub(before) / u64::from(now.wrapping_sub(at).max(1));
        self.bump_after
            .store(bump_after(items(), rate), Ordering::Relaxed);
    }
}

/// A quarter of the seconds that `rate` removals a second take to turn over `items`, at most
/// [`MAX_BUMP_AFTER`]. (Half lost 0.1% of scenario 8's hit ratio, 0.7155-0.7157 against
/// 0.7161-0.7163 without the table: an item read again within the interval stays where its
/// first read put it in the LRU, a little nearer the tail than moka alone would keep it.)
fn bump_after(items: u64, rate: u64) -> u32 {
    if rate == 0 {
        return MAX_BUMP_AFTER;
    }
    (items / rate / 4).min(u64::from(MAX_BUMP_AFTER)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn item(cas: u64) -> Item {
        Item {
            value: Value::from(&b"v"[..]),
            flags: 0,
            exptime: 0,
            time: 0,
            cas,
            marks: 0,
        }
    }

    fn key(s: &str) -> Key {
        Key::new(s.as_bytes())
    }

    #[test]
    fn a_filled_slot_answers_until_the_bump_interval() {
        let f = Front::new(MIN_PAIRS);
        let k = key("a");
        let g = f.get(&k, 100).unwrap_err();
        f.fill(&k, &item(7), 100, g);
        assert_eq!(f.get(&k, 100).unwrap().cas, 7);
        assert_eq!(f.get(&k, 100 + MAX_BUMP_AFTER - 1).unwrap().cas, 7);
        // Then the read goes to moka (and refills).
        let g = f.get(&k, 100 + MAX_BUMP_AFTER).unwrap_err();
        f.fill(&k, &item(8), 100 + MAX_BUMP_AFTER, g);
        assert_eq!(f.get(&k, 100 + MAX_BUMP_AFTER).unwrap().cas, 8);
    }

    #[test]
    fn a_change_during_the_read_keeps_the_slot_empty() {
        let f = Front::new(MIN_PAIRS);
        let k = key("a");
        let g = f.get(&k, 1).unwrap_err();
        // A writer changes the entry in moka after the reader's lookup, then forgets.
        f.forget(&k);
        f.fill(&k, &item(1), 1, g);
        assert!(f.get(&k, 1).is_err());
        // A change after the fill empties the slot.
        let g = f.get(&k, 1).unwrap_err();
        f.fill(&k, &item(1), 1, g);
        f.forget(&k);
        assert!(f.get(&k, 1).is_err());
    }

    #[test]
    fn a_write_keeps_its_item_unless_the_bucket_changed_meanwhile() {
        let f = Front::new(MIN_PAIRS);
        let k = key("a");
        // A reader looks the key up in moka before the write.
        let reader = f.get(&k, 1).unwrap_err();
        let g = f.generation(&k);
        f.put(&k, &item(2), 1, g);
        assert_eq!(f.get(&k, 1).unwrap().cas, 2);
        // The reader's older item is not filled over it.
        f.fill(&k, &item(1), 1, reader);
        assert_eq!(f.get(&k, 1).unwrap().cas, 2);
        // An eviction between the writer's insert and its put: nothing is kept.
        let g = f.generation(&k);
        f.forget(&k);
        f.put(&k, &item(3), 1, g);
        assert!(f.get(&k, 1).is_err());
    }

    #[test]
    fn a_bucket_holds_two_keys_and_replaces_the_older() {
        // One bucket: every key shares it.
        let f = Front::new(1);
        let (a, b, c) = (key("a"), key("b"), key("c"));
        for (k, t) in [(&a, 1), (&b, 2)] {
            let g = f.get(k, t).unwrap_err();
            f.fill(k, &item(t.into()), t, g);
        }
        assert!(f.get(&a, 3).is_ok() && f.get(&b, 3).is_ok());
        let g = f.get(&c, 3).unwrap_err();
        f.fill(&c, &item(3), 3, g);
        assert!(f.get(&a, 3).is_err(), "a was filled first");
        assert!(f.get(&b, 3).is_ok() && f.get(&c, 3).is_ok());
        // Forgetting a key leaves its neighbour.
        f.forget(&b);
        assert!(f.get(&b, 3).is_err() && f.get(&c, 3).is_ok());
    }

    /// The memory the module's doc and README give: two slots and the lock in 128 bytes
    /// (more would double a bucket to the next multiple of its alignment).
    #[test]
    fn a_bucket_is_128_bytes() {
        assert_eq!(std::mem::size_of::<Bucket>(), 128);
        assert_eq!(Front::pairs_for(64 << 20) * 128, (64 << 20) / 64);
        assert_eq!(Front::pairs_for(1 << 20), MIN_PAIRS);
        assert_eq!(Front::pairs_for(1 << 40), MAX_PAIRS);
    }

    #[test]
    fn long_keys_are_not_kept() {
        let f = Front::new(MIN_PAIRS);
        let long = Key::new(&[b'x'; MAX_KEY + 1]);
        let fits = Key::new(&[b'y'; MAX_KEY]);
        for k in [&long, &fits] {
            let g = f.get(k, 1).unwrap_err();
            f.fill(k, &item(1), 1, g);
        }
        assert!(f.get(&long, 1).is_err());
        assert!(f.get(&fits, 1).is_ok());
    }

    #[test]
    fn the_bump_interval_follows_the_eviction_rate() {
        // Known answers: items, removals a second, interval.
        for (items, rate, after) in [
            (100_000, 0, 60),
            (100_000, 2_000, 12),
            (100_000, 400, 60),
            (350_000, 30_000, 2),
            (3_000, 1_000, 0),
        ] {
            assert_eq!(bump_after(items, rate), after, "{items} items, {rate}/s");
        }
        let f = Front::new(MIN_PAIRS);
        f.tune(1, || 1000);
        assert_eq!(f.bump_after(), MAX_BUMP_AFTER);
        for _ in 0..4000 {
            f.count_tail_removal();
        }
        // Within the same second nothing is re-tuned; in the next, 4000 removals over 2 s.
        f.tune(1, || 1000);
        assert_eq!(f.bump_after(), MAX_BUMP_AFTER);
        f.tune(3, || 20_000);
        assert_eq!(f.bump_after(), 2);
        // With the interval at 0 nothing is kept.
        f.tune(4, || 0);
        assert_eq!(f.bump_after(), MAX_BUMP_AFTER);
        for _ in 0..4000 {
            f.count_tail_removal();
        }
        f.tune(5, || 1000);
        assert_eq!(f.bump_after(), 0);
        let k = key("a");
        let g = f.get(&k, 5).unwrap_err();
        f.fill(&k, &item(1), 5, g);
        assert!(f.get(&k, 5).is_err());
    }
}
