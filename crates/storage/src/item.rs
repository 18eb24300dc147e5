//! What the store keeps per key, and what it costs.

use crate::ItemView;
use bytes::Bytes;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

/// An item's value, reference-counted so that a read (moka clones values on every read) is
/// one atomic increment, and laid out to waste as little memory as the allocator allows:
///
/// - `Small`: up to [`Value::SMALL`] bytes, one allocation holding the count, a flag byte and
///   the bytes;
/// - `Large`: the bytes in an allocation of exactly their size, the count and flag in a
///   second small one, so a 4 KB value does not spill into the allocator's next size class.
///
/// The flag is memcached's "fetched" mark. It lives here, shared by every clone, because the
/// first read of each item sets it: as a field of the item it would cost a moka write per
/// first read (measured: 49 more bytes per entry after one read of each, from the churn).
///
/// Measured with `examples/entry_cost.rs` (1M entries, mimalloc, key ~10 bytes): a 100-byte
/// value held as `Bytes` cost 539 bytes per entry in all, as `Small` 489; at 4 KB, `Bytes`
/// cost 4531 and a single `Arc<[u8]>` 5829, which `Large` avoids. Both variants are 16 bytes,
/// so `Item` stays 40. Small values are copied once from the connection's read buffer; a large
/// request that arrived in a buffer of its own leaves that buffer to its value (no copy).
#[derive(Clone)]
pub enum Value {
    /// Byte 0 is the fetched flag; the value is the rest.
    Small(Arc<[AtomicU8]>),
    Large(Arc<LargeValue>),
}

pub struct LargeValue {
    fetched: AtomicU8,
    /// Exactly the value: a buffer of its own size, or (for a request that arrived in a buffer
    /// of its own) a slice of that request's buffer, kept without a copy.
    bytes: Bytes,
}

impl Value {
    /// The longest value kept in a single allocation with its count.
    pub const SMALL: usize = 512;

    /// `a` followed by `b` (append and prepend).
    pub fn concat(a: &[u8], b: &[u8]) -> Value {
        if a.len() + b.len() <= Value::SMALL {
            let bytes = std::iter::once(0).chain(a.iter().chain(b).copied());
            Value::Small(bytes.map(AtomicU8::new).collect())
        } else {
            let mut joined = Vec::with_capacity(a.len() + b.len());
            joined.extend_from_slice(a);
            joined.extend_from_slice(b);
            Value::from(joined)
        }
    }

    fn flag(&self) -> &AtomicU8 {
        match self {
            Value::Small(cells) => &cells[0],
            Value::Large(large) => &large.fetched,
        }
    }

    /// Has the item holding this value been read?
    pub fn fetched(&self) -> bool {
        self.flag().load(Ordering::Relaxed) != 0
    }

    /// Marks the value as read; returns whether it already was.
    pub fn mark_fetched(&self) -> bool {
        // Most reads find the mark set: a load keeps the cache line shared.
        self.fetched() || self.flag().swap(1, Ordering::Relaxed) != 0
    }
}

impl From<&[u8]> for Value {
    fn from(bytes: &[u8]) -> Value {
        if bytes.len() <= Value::SMALL {
            let cells = std::iter::once(0).chain(bytes.iter().copied());
            Value::Small(cells.map(AtomicU8::new).collect())
        } else {
            Value::from(bytes.to_vec())
        }
    }
}

impl From<Vec<u8>> for Value {
    fn from(bytes: Vec<u8>) -> Value {
        if bytes.len() <= Value::SMALL {
            Value::from(&bytes[..])
        } else {
            Value::Large(Arc::new(LargeValue {
                fetched: AtomicU8::new(0),
                bytes: Bytes::from(bytes.into_boxed_slice()),
            }))
        }
    }
}

impl From<Bytes> for Value {
    /// A large value keeps the buffer it came in; a small one is copied.
    fn from(bytes: Bytes) -> Value {
        if bytes.len() <= Value::SMALL {
            Value::from(&bytes[..])
        } else {
            Value::Large(Arc::new(LargeValue {
                fetched: AtomicU8::new(0),
                bytes,
            }))
        }
    }
}

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

impl std::ops::Deref for Value {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Value::Small(cells) => {
                let data = &cells[1..];
                // SAFETY: `AtomicU8` has the size, alignment and bit validity of `u8`, so the
                // slice can be viewed as bytes. Only cell 0 (the flag, left out here) is ever
                // written after the value is built; the data cells are never written again,
                // so no write can race with this shared view.
                unsafe { std::slice::from_raw_parts(data.as_ptr().cast::<u8>(), data.len()) }
            }
            Value::Large(large) => &large.bytes,
        }
    }
}

impl AsRef<[u8]> for Value {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        self[..] == other[..]
    }
}

impl Eq for Value {}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Value({} bytes)", self.len())
    }
}

#[cfg(test)]
mod value_tests {
    use super::Value;

    #[test]
    fn both_layouts_hold_their_bytes_and_share_the_fetched_mark() {
        for len in [0, 1, 100, Value::SMALL, Value::SMALL + 1, 5000] {
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let v = Value::from(&bytes[..]);
            assert_eq!(&v[..], &bytes[..]);
            assert_eq!(Value::from(bytes.clone()), v);
            let (a, b) = bytes.split_at(len / 3);
            assert_eq!(&Value::concat(a, b)[..], &bytes[..]);
            let clone = v.clone();
            assert!(!clone.fetched());
            assert!(!v.mark_fetched());
            assert!(clone.fetched() && clone.mark_fetched());
        }
    }
}

/// One cached item. moka clones the value on every read, so it is kept small (40 bytes) and
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

impl Item {
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
/// Measured with the server binary (mimalloc, purge delay 0) filled past `-m 1024` by
/// `scripts/bench-rss.sh` (2026-11-30, with [`Value`] and the fetched mark in it): the RSS
/// above an empty server's ~12 MB, divided by the items held, less key and value, came to
/// about 342 B/item with 100-byte values and 394 B/item with 4 KB values (448 before `Value`
/// replaced `Bytes`). 360 keeps a full cache's RSS within a few MB of `-m` either way.
pub const ENTRY_OVERHEAD: usize = 360;

/// An entry's weight in moka: what it charges against `-m`.
pub(crate) fn weight(key_len: usize, value_len: usize) -> u32 {
    u32::try_from(key_len + value_len + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
}

/// moka's weigher.
pub(crate) fn weigh(key: &crate::Key, item: &Item) -> u32 {
    weight(key.len(), item.value.len())
}

/// The item's size as memcached counts it for `-I` and the `bytes` statistic.
pub(crate) fn ntotal(key_len: usize, flags: u32, value_len: usize, cas_enabled: bool) -> usize {
    ferrocache_protocol::item_size(key_len, flags, value_len, cas_enabled)
}
