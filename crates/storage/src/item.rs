//! What the store keeps per key, and what it costs.

use crate::value::Value;
use crate::ItemView;
use bytes::Bytes;

/// A value handed to the store: bytes to copy, or a [`Value`] built already.
pub enum ValueIn<'a> {
    Slice(&'a [u8]),
    Owned(Value),
}

impl ValueIn<'_> {
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            ValueIn::Slice(bytes) => bytes,
            ValueIn::Owned(value) => value,
        }
    }

    pub(crate) fn into_value(self) -> Value {
        match self {
            ValueIn::Slice(bytes) => Value::from(bytes),
            ValueIn::Owned(value) => value,
        }
    }
}

impl<'a> From<&'a [u8]> for ValueIn<'a> {
    fn from(bytes: &'a [u8]) -> ValueIn<'a> {
        ValueIn::Slice(bytes)
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for ValueIn<'a> {
    fn from(bytes: &'a [u8; N]) -> ValueIn<'a> {
        ValueIn::Slice(bytes)
    }
}

impl From<Value> for ValueIn<'_> {
    fn from(value: Value) -> Self {
        ValueIn::Owned(value)
    }
}

impl From<Bytes> for ValueIn<'_> {
    fn from(bytes: Bytes) -> Self {
        ValueIn::Owned(Value::from(bytes))
    }
}

/// One cached item. moka clones the value on every read, so it is kept small (32 bytes) and
/// cheap to clone: the data is a reference-counted [`Value`], the rest is plain numbers.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub value: Value,
    pub flags: u32,
    /// Relative expiry time (see `clock`); 0 means never.
    pub exptime: u32,
    /// Relative time of the last store: what `flush_all` compares with.
    pub time: u32,
    pub cas: u64,
    /// memcached's per-item marks that clients can see through the meta protocol (see
    /// [`Item::STALE`] and the others; the fetched mark is in the [`Value`]). Fits in the
    /// struct's padding.
    pub marks: u8,
}

// moka clones the item on every read, and keeps it in a block with a 4-byte count and two
// pointers (56 bytes at 32, served from mimalloc's 64-byte class as the 64 at 40 were).
const _: () = assert!(std::mem::size_of::<Item>() == 32);

impl Item {
    /// Marked stale by `md <key> I` or stored stale by `ms <key> I C<older cas>`.
    pub const STALE: u8 = 2;
    /// A client has been sent the `W` (won the recache) flag for this item.
    pub const WIN_SENT: u8 = 4;
    /// Stored by a meta command with a base64 (`b`) key: `k` returns it encoded.
    pub const BINARY_KEY: u8 = 8;
    /// Not an item: weight the store holds in moka to make it evict more, under a key no
    /// client can send (see `Store::set_ballast`). Its `flags` are its weight.
    pub const BALLAST: u8 = 16;

    pub fn has(&self, mark: u8) -> bool {
        self.marks & mark != 0
    }

    pub fn view(self) -> ItemView {
        ItemView {
            value: self.value,
            flags: self.flags,
            cas: self.cas,
        }
    }
}

/// Bytes of real memory an entry costs beyond its key and value: moka's entry (its
/// hash-table node, the `Arc`ed key and value entry, the LRU deque node, the per-entry
/// metadata) plus our `Item` and the allocator's rounding of the key and value blocks.
///
/// Measured with the server binary (mimalloc, purge delay 0) filled past `-m 1024` by
/// `scripts/bench-rss.sh`: the RSS above an empty server's ~5 MB, divided by the items held,
/// less key and value, came to about 300 B/item with 100-byte values and 379 B/item with 4 KB
/// values once [`Value`] became a thin pointer with an 8-byte header (2026-11-30; 342 and 394
/// before that, and 448 at 100 B before `Value` replaced `Bytes`). 340, between the two, keeps
/// a full cache's RSS within about 10% of `-m` either way (at `-m 1024`: 9% under with
/// 100-byte values, 2% over with 4 KB ones).
pub const ENTRY_OVERHEAD: usize = 340;

/// The allocator's size for a block of `n` bytes: the size class it serves the block from,
/// which is what the block really occupies. The server passes mimalloc's `mi_good_size`; the
/// default, for other allocators and for tests, charges a block what it asks for.
pub type AllocSize = fn(usize) -> usize;

/// [`AllocSize`] for an allocator whose classes are not known.
pub fn exact_size(n: usize) -> usize {
    n
}

/// An entry's weight in moka: what it charges against `-m`: key, value, the fixed
/// [`ENTRY_OVERHEAD`], and what the allocator's size classes add to the value's block.
///
/// Why the rounding is charged: values of every size (10 B to 8 KB, say) are served from
/// size classes up to a quarter apart, about 12% over on average, and a budget that counted
/// only the bytes asked for let a full cache's RSS run 20% past `-m` (bench/RESULTS.md,
/// "Operator limits", churn). [`ENTRY_OVERHEAD`] was measured with 100-byte and 4 KB values,
/// whose blocks the allocator serves almost exactly, so the two do not count it twice.
pub(crate) fn weight(key_len: usize, value_len: usize, alloc_size: AllocSize) -> u32 {
    // A small value shares one block with its 8-byte header; a large one's bytes are a
    // block of their own (see `Value`).
    let block = if value_len <= crate::Value::SMALL {
        8 + value_len
    } else {
        value_len
    };
    let rounding = alloc_size(block).saturating_sub(block);
    u32::try_from(key_len + value_len + ENTRY_OVERHEAD + rounding).unwrap_or(u32::MAX)
}

/// moka's weigher.
pub(crate) fn weigh(key: &crate::Key, item: &Item, alloc_size: AllocSize) -> u32 {
    if item.has(Item::BALLAST) {
        return item.flags;
    }
    weight(key.len(), item.value.len(), alloc_size)
}

/// The item's size as memcached counts it for `-I` and the `bytes` statistic.
pub(crate) fn ntotal(key_len: usize, flags: u32, value_len: usize, cas_enabled: bool) -> usize {
    ferrocache_protocol::item_size(key_len, flags, value_len, cas_enabled)
}

#[cfg(test)]
mod weight_tests {
    use super::*;

    /// Blocks rounded up to whole KiB, as an allocator with coarse classes would serve them.
    fn kib_classes(n: usize) -> usize {
        n.div_ceil(1024) * 1024
    }

    #[test]
    fn an_entry_is_charged_its_value_blocks_size_class() {
        let base = |key: usize, value: usize| (key + value + ENTRY_OVERHEAD) as u32;
        // Exact classes: key, value and overhead only.
        assert_eq!(weight(10, 100, exact_size), base(10, 100));
        assert_eq!(weight(10, 4097, exact_size), base(10, 4097));
        // A small value shares its block with the 8-byte header: 8 + 100 = 108 -> 1024.
        assert_eq!(weight(10, 100, kib_classes), base(10, 100) + 1024 - 108);
        // A large value's bytes are a block of their own: 4097 -> 5120.
        assert_eq!(weight(10, 4097, kib_classes), base(10, 4097) + 5120 - 4097);
        assert_eq!(weight(10, 4096, kib_classes), base(10, 4096));
    }
}
