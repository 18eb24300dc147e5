//! What the store keeps per key, and what it costs.

use crate::ItemView;
use bytes::Bytes;

/// One cached item. moka clones the value on every read, so it is kept small and cheap to
/// clone: the data is a refcounted `Bytes`, the rest is plain numbers.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub value: Bytes,
    pub flags: u32,
    /// Relative expiry time (see `clock`); 0 means never.
    pub exptime: u32,
    /// Relative time of the last store: what `flush_all` compares with.
    pub time: u32,
    pub cas: u64,
    /// memcached's per-item marks that clients can see through the meta protocol (see
    /// [`Item::FETCHED`] and the others). Fits in the struct's padding: an `Item` stays 56
    /// bytes.
    pub marks: u8,
}

impl Item {
    /// Read at least once since it was stored (`mg ... h`, `me`'s `fetch=`).
    pub const FETCHED: u8 = 1;
    /// Marked stale by `md <key> I` or stored stale by `ms <key> I C<older cas>`.
    pub const STALE: u8 = 2;
    /// A client has been sent the `W` (won the recache) flag for this item.
    pub const WIN_SENT: u8 = 4;
    /// Stored by a meta command with a base64 (`b`) key: `k` returns it encoded.
    pub const BINARY_KEY: u8 = 8;

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
/// Measured with the server binary (mimalloc, purge delay 0) filled past `-m` by
/// `ferrobench fill` (bench/README.md): the RSS above an empty server's ~10.5 MB, divided by
/// the items held, less key and value, came to 436 B/item with 100-byte values at -m 64 and
/// 445 B/item with 4 KB values at -m 256.
pub const ENTRY_OVERHEAD: usize = 448;

/// An entry's weight in moka: what it charges against `-m`.
pub(crate) fn weight(key_len: usize, value_len: usize) -> u32 {
    u32::try_from(key_len + value_len + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
}

/// moka's weigher. (moka hands it the key as stored, a boxed slice.)
#[allow(clippy::borrowed_box)]
pub(crate) fn weigh(key: &Box<[u8]>, item: &Item) -> u32 {
    weight(key.len(), item.value.len())
}

/// The item's size as memcached counts it for `-I` and the `bytes` statistic.
pub(crate) fn ntotal(key_len: usize, flags: u32, value_len: usize, cas_enabled: bool) -> usize {
    ferrocache_protocol::item_size(key_len, flags, value_len, cas_enabled)
}
