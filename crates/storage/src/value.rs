//! An item's value: its bytes, a reference count and memcached's "fetched" mark behind one
//! thin pointer.
//!
//! Why not `Arc<[u8]>` (or `Arc<[AtomicU8]>`, as before): moka clones the value on every read,
//! so it must be reference-counted, but a std `Arc` of a slice is a 16-byte fat pointer and
//! its allocation starts with two 8-byte counts, one of them (the weak count) never used here.
//! A [`Value`] is one 8-byte pointer to an allocation that starts with an 8-byte [`Header`]
//! (a 4-byte count, the length, the mark), so:
//!
//! - a 100-byte value takes 8 + 100 = 108 bytes, which mimalloc serves from its 112-byte
//!   class, where `Arc<[AtomicU8]>` took 16 + 1 + 100 = 117, served from the 128-byte class;
//! - a large value's block (header and `Bytes`) is 40 bytes, where `Arc<LargeValue>` took 56;
//! - [`Item`](crate::item::Item) shrinks from 40 to 32 bytes. (moka's block holding it, its
//!   `ValueEntry`, goes from 64 to 56 bytes, but mimalloc serves both from its 64-byte class:
//!   no saving there.)
//!
//! Measured with `examples/entry_cost.rs` (mimalloc): 1M entries with 100-byte values went from
//! 425-426 to 408-411 bytes each, 100k with 4 KB values from 4468 to 4447.
//!
//! Two layouts, told apart by a header byte:
//!
//! - small (up to [`Value::SMALL`] bytes): the header, then the bytes, in one allocation;
//! - large: the header, then a [`Bytes`] holding exactly the value in a buffer of its own
//!   size (or a slice of the buffer the request arrived in, kept without a copy), so a 4 KB
//!   value does not spill into the allocator's next size class (one `Arc<[u8]>` holding a
//!   4 KB value and its counts cost 5829 bytes per entry, against 4531 for a `Bytes`).
//!
//! Small values are copied once, from the connection's read buffer.
//!
//! The fetched mark lives here, shared by every clone, because the first read of each item
//! sets it: as a field of the item it would cost a moka write per first read (measured: 49
//! more bytes per entry after one read of each, from the churn).

use bytes::Bytes;
use std::alloc::{self, Layout};
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicU32, AtomicU8, Ordering};

/// The start of every value's allocation.
#[repr(C)]
struct Header {
    /// How many [`Value`]s point here.
    count: AtomicU32,
    /// A small value's length (unused by a large one: its `Bytes` knows).
    len: u16,
    /// 1 once the item has been read (memcached's "fetched").
    fetched: AtomicU8,
    /// Which layout follows: [`SMALL`] or [`LARGE`].
    kind: u8,
}

const SMALL: u8 = 0;
const LARGE: u8 = 1;

impl Header {
    /// A new value's header: one reference, not fetched yet.
    fn new(kind: u8, len: u16) -> Header {
        Header {
            count: AtomicU32::new(1),
            len,
            fetched: AtomicU8::new(0),
            kind,
        }
    }
}

/// A large value's allocation.
#[repr(C)]
struct Large {
    header: Header,
    bytes: Bytes,
}

/// Where a small value's bytes start in its allocation.
const DATA: usize = std::mem::size_of::<Header>();

/// More references than this and the count could overflow: abort, as `Arc` does. Half the
/// range, so that threads cloning at the same moment cannot carry it past `u32::MAX` first.
const MAX_COUNT: u32 = u32::MAX / 2;

/// An item's value; see the module doc. Cloning shares it (one atomic increment).
pub struct Value {
    ptr: NonNull<Header>,
}

// SAFETY: the bytes behind `ptr` are never written after the value is built; the count and
// the fetched mark are atomics; a large value's `Bytes` is `Send + Sync`. The allocation is
// freed by whichever `Value` drops the count to zero, after an acquire fence that orders every
// other clone's use before it (the `Arc` protocol).
unsafe impl Send for Value {}
unsafe impl Sync for Value {}

const _: () = assert!(std::mem::size_of::<Value>() == 8);
const _: () = assert!(std::mem::size_of::<Option<Value>>() == 8);
const _: () = assert!(DATA == 8);
// A small value's length fits the header's `len`.
const _: () = assert!(Value::SMALL <= u16::MAX as usize);
// The `Send`/`Sync` claim above leans on `Bytes` being both.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<Bytes>();
};

fn small_layout(len: usize) -> Layout {
    Layout::from_size_align(DATA + len, std::mem::align_of::<Header>())
        .expect("a small value's layout")
}

impl Value {
    /// The longest value kept in a single allocation with its header.
    pub const SMALL: usize = 512;

    /// A small value made of `parts`, one after the other (at most [`Value::SMALL`] bytes in
    /// all).
    fn small(parts: &[&[u8]]) -> Value {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        assert!(len <= Value::SMALL, "a small value of {len} bytes");
        let layout = small_layout(len);
        // SAFETY: the layout is never zero-sized (it holds the header). The header is written
        // whole before the pointer escapes, and exactly `len` bytes are copied after it, in
        // bounds of the allocation.
        unsafe {
            let raw = alloc::alloc(layout);
            let Some(ptr) = NonNull::new(raw.cast::<Header>()) else {
                alloc::handle_alloc_error(layout);
            };
            ptr.as_ptr().write(Header::new(SMALL, len as u16));
            let mut at = raw.add(DATA);
            for part in parts {
                std::ptr::copy_nonoverlapping(part.as_ptr(), at, part.len());
                at = at.add(part.len());
            }
            Value { ptr }
        }
    }

    /// A large value that keeps `bytes` as they are.
    fn large(bytes: Bytes) -> Value {
        let block = Box::new(Large {
            header: Header::new(LARGE, 0),
            bytes,
        });
        // `Large` is `repr(C)` with the header first, so its pointer is the header's.
        let ptr = NonNull::from(Box::leak(block)).cast::<Header>();
        Value { ptr }
    }

    fn header(&self) -> &Header {
        // SAFETY: the allocation lives as long as any `Value` pointing to it, `self` included.
        unsafe { self.ptr.as_ref() }
    }

    /// `a` followed by `b` (append and prepend).
    pub fn concat(a: &[u8], b: &[u8]) -> Value {
        let len = a.len() + b.len();
        if len <= Value::SMALL {
            Value::small(&[a, b])
        } else {
            let mut joined = Vec::with_capacity(len);
            joined.extend_from_slice(a);
            joined.extend_from_slice(b);
            Value::from(joined)
        }
    }

    /// Has the item holding this value been read?
    pub fn fetched(&self) -> bool {
        self.header().fetched.load(Ordering::Relaxed) != 0
    }

    /// Marks the value as read; returns whether it already was.
    pub fn mark_fetched(&self) -> bool {
        // Most reads find the mark set: a load keeps the cache line shared.
        self.fetched() || self.header().fetched.swap(1, Ordering::Relaxed) != 0
    }
}

impl Clone for Value {
    fn clone(&self) -> Value {
        // Relaxed, as `Arc`: the new reference comes from an existing one, which already
        // keeps the allocation alive; nothing else is published by the increment.
        let before = self.header().count.fetch_add(1, Ordering::Relaxed);
        if before > MAX_COUNT {
            std::process::abort();
        }
        Value { ptr: self.ptr }
    }
}

impl Drop for Value {
    fn drop(&mut self) {
        if self.header().count.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        // Every other clone's last use happened before its release decrement; this fence
        // makes them happen before the free below.
        fence(Ordering::Acquire);
        let header = self.header();
        // SAFETY: the count reached zero, so no other `Value` points here; the allocation
        // was made by `small` with `small_layout(len)` or by `large` as a `Box<Large>`.
        unsafe {
            if header.kind == LARGE {
                drop(Box::from_raw(self.ptr.as_ptr().cast::<Large>()));
            } else {
                let layout = small_layout(usize::from(header.len));
                alloc::dealloc(self.ptr.as_ptr().cast::<u8>(), layout);
            }
        }
    }
}

impl Deref for Value {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        let header = self.header();
        if header.kind == LARGE {
            // SAFETY: a large value's allocation is a `Large`, alive while `self` is.
            unsafe { &self.ptr.cast::<Large>().as_ref().bytes }
        } else {
            // SAFETY: a small value's `len` bytes follow the header and are never written
            // after `small` built them.
            unsafe {
                let data = self.ptr.as_ptr().cast::<u8>().add(DATA);
                std::slice::from_raw_parts(data, usize::from(header.len))
            }
        }
    }
}

impl From<&[u8]> for Value {
    fn from(bytes: &[u8]) -> Value {
        if bytes.len() <= Value::SMALL {
            Value::small(&[bytes])
        } else {
            Value::large(Bytes::copy_from_slice(bytes))
        }
    }
}

impl From<Vec<u8>> for Value {
    fn from(bytes: Vec<u8>) -> Value {
        if bytes.len() <= Value::SMALL {
            Value::from(&bytes[..])
        } else {
            Value::large(Bytes::from(bytes.into_boxed_slice()))
        }
    }
}

impl From<Bytes> for Value {
    /// A large value keeps the buffer it came in; a small one is copied.
    fn from(bytes: Bytes) -> Value {
        if bytes.len() <= Value::SMALL {
            Value::from(&bytes[..])
        } else {
            Value::large(bytes)
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
mod tests {
    use super::Value;
    use bytes::Bytes;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn both_layouts_hold_their_bytes_and_share_the_fetched_mark() {
        for len in [0, 1, 100, Value::SMALL, Value::SMALL + 1, 5000] {
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let v = Value::from(&bytes[..]);
            assert_eq!(&v[..], &bytes[..]);
            assert_eq!(Value::from(bytes.clone()), v);
            assert_eq!(Value::from(Bytes::from(bytes.clone())), v);
            for cut in [0, len / 3, len] {
                let (a, b) = bytes.split_at(cut);
                assert_eq!(&Value::concat(a, b)[..], &bytes[..]);
            }
            let clone = v.clone();
            assert!(!clone.fetched());
            assert!(!v.mark_fetched());
            assert!(clone.fetched() && clone.mark_fetched());
            drop(v);
            assert_eq!(&clone[..], &bytes[..]);
        }
    }

    /// A large value keeps the very buffer it was given (no copy) and lets go of it when,
    /// and only when, its last clone is dropped.
    #[test]
    fn a_large_value_keeps_its_buffer_until_the_last_clone_goes() {
        struct Owner(Vec<u8>, Arc<AtomicUsize>);
        impl AsRef<[u8]> for Owner {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }
        impl Drop for Owner {
            fn drop(&mut self) {
                self.1.fetch_add(1, Ordering::SeqCst);
            }
        }
        let dropped = Arc::new(AtomicUsize::new(0));
        let bytes = Bytes::from_owner(Owner(vec![7; 4096], dropped.clone()));
        let at = bytes.as_ptr();
        let v = Value::from(bytes);
        assert_eq!(v.as_ptr(), at);
        let clones: Vec<Value> = (0..5).map(|_| v.clone()).collect();
        drop(v);
        assert_eq!(dropped.load(Ordering::SeqCst), 0);
        for (i, c) in clones.into_iter().enumerate() {
            assert_eq!(c.len(), 4096);
            drop(c);
            let expected = usize::from(i == 4);
            assert_eq!(dropped.load(Ordering::SeqCst), expected);
        }
    }

    /// The last clone can be dropped on any thread: that thread frees the value, after the
    /// other threads' reads of it (the release decrement and acquire fence in `Drop`; without
    /// them Miri reports a data race with the deallocation here).
    #[test]
    fn the_last_clone_can_go_on_any_thread() {
        for len in [3, Value::SMALL + 100] {
            for _ in 0..50 {
                let v = Value::from(vec![7u8; len]);
                let barrier = std::sync::Barrier::new(5);
                std::thread::scope(|s| {
                    for _ in 0..4 {
                        let mine = v.clone();
                        let barrier = &barrier;
                        s.spawn(move || {
                            barrier.wait();
                            assert!(mine.iter().all(|b| *b == 7));
                            drop(mine);
                        });
                    }
                    barrier.wait();
                    drop(v);
                });
            }
        }
    }

    /// Clones made and dropped on several threads at once leave a value intact, and the
    /// last drop frees it (the allocation counts are checked in `tests/value_memory.rs`).
    #[test]
    fn clones_on_many_threads_share_one_value() {
        for len in [3, Value::SMALL + 100] {
            let v = Value::from(vec![9u8; len]);
            std::thread::scope(|s| {
                for _ in 0..4 {
                    s.spawn(|| {
                        for _ in 0..20_000 {
                            let c = v.clone();
                            assert_eq!(c.len(), len);
                            c.mark_fetched();
                        }
                    });
                }
            });
            assert!(v.fetched());
            assert!(v.iter().all(|b| *b == 9));
        }
    }
}
