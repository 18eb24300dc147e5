//! Keys as moka holds them: the bytes, and a hash of them computed once.
//!
//! Why not `Box<[u8]>`: moka's hash table re-hashes every live key of a table whenever
//! tombstones pile up (on a full cache every `set` evicts, so that is constant), and it
//! compares keys while probing. moka keeps each key in an `Arc`, so with `Box<[u8]>` every
//! re-hash and every probe of a cold entry followed two pointers, the `Arc` and then the
//! bytes, and hashing the bytes was the largest single cost of a `set` on a full cache (perf).
//! A [`Key`] keeps a 32-bit hash beside the pointer, inside moka's `Arc` allocation: a
//! re-hash reads it without touching the bytes, a probe that lands on another key is turned
//! away by the hash, and moka's own eviction (which looks up the very key it holds) matches
//! by pointer. A `Key` is 16 bytes, as `Box<[u8]>` is; keys of up to 14 bytes are kept inside
//! it, which saves their allocation.

use std::hash::{BuildHasher, Hash, Hasher};
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::OnceLock;

/// A key's bytes (owned) and their hash.
pub struct Key {
    repr: Repr,
}

/// Keys of up to [`INLINE`] bytes (most keys) live in the `Key` itself, inside moka's `Arc`
/// allocation, so they cost no allocation of their own (16 bytes less per entry) and are
/// compared and hashed without leaving that cache line. Longer keys keep their bytes behind a
/// pointer and their hash beside it. Which form a key takes depends only on its length, so
/// two keys are equal only in the same form.
enum Repr {
    Inline {
        len: u8,
        /// The key, then zeros.
        bytes: [u8; INLINE],
    },
    Heap {
        len: u16,
        hash: u32,
        ptr: NonNull<u8>,
    },
}

/// The longest key kept inline.
const INLINE: usize = 14;

// SAFETY: a `Key` is an immutable byte string. An owned one frees its bytes only when dropped
// (a `Probe`'s never does); nothing writes through `ptr`.
unsafe impl Send for Key {}
unsafe impl Sync for Key {}

/// The hash of a key's bytes: foldhash, seeded at random once per process, so clients cannot
/// aim keys at one bucket. 32 bits are plenty to tell keys apart (equal hashes still compare
/// bytes); moka mixes them into its own 64-bit hash.
pub(crate) fn key_hash(bytes: &[u8]) -> u32 {
    static SEED: OnceLock<foldhash::quality::RandomState> = OnceLock::new();
    (SEED.get_or_init(Default::default).hash_one(bytes) >> 32) as u32
}

fn inline(bytes: &[u8]) -> Option<Key> {
    let mut buf = [0u8; INLINE];
    buf.get_mut(..bytes.len())?.copy_from_slice(bytes);
    Some(Key {
        repr: Repr::Inline {
            len: bytes.len() as u8,
            bytes: buf,
        },
    })
}

fn heap_len(bytes: &[u8]) -> u16 {
    // Text keys are at most 250 bytes, binary ones at most 65535 (a 16-bit field).
    u16::try_from(bytes.len()).expect("keys are shorter than 64 KiB")
}

impl Key {
    /// An owned copy of `bytes` (the store makes its keys from a [`Probe`]).
    #[cfg(test)]
    pub fn new(bytes: &[u8]) -> Key {
        Probe::new(bytes).to_owned_key()
    }

    /// An owned copy of this key, keeping the hash it carries.
    pub fn to_owned_key(&self) -> Key {
        let repr = match self.repr {
            Repr::Inline { len, bytes } => Repr::Inline { len, bytes },
            Repr::Heap { len, hash, .. } => {
                let boxed: Box<[u8]> = self.bytes().into();
                // SAFETY: `Box::into_raw` never returns null.
                let ptr = unsafe { NonNull::new_unchecked(Box::into_raw(boxed).cast::<u8>()) };
                Repr::Heap { len, hash, ptr }
            }
        };
        Key { repr }
    }

    pub fn bytes(&self) -> &[u8] {
        match &self.repr {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            // SAFETY: `ptr` points at `len` initialised bytes that live as long as `self`
            // (owned), or as long as the `Probe` that made this `Key` borrows them.
            Repr::Heap { len, ptr, .. } => unsafe {
                std::slice::from_raw_parts(ptr.as_ptr(), usize::from(*len))
            },
        }
    }

    pub fn len(&self) -> usize {
        self.bytes().len()
    }

    /// The hash of the bytes ([`key_hash`]): carried by a long key, computed for a short one
    /// (its bytes are beside it).
    pub(crate) fn hash32(&self) -> u32 {
        match &self.repr {
            Repr::Inline { .. } => key_hash(self.bytes()),
            Repr::Heap { hash, .. } => *hash,
        }
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        if let Repr::Heap { len, ptr, .. } = self.repr {
            let slice = std::ptr::slice_from_raw_parts_mut(ptr.as_ptr(), usize::from(len));
            // SAFETY: an owned `Key` made the pointer with `Box::into_raw` of exactly this
            // length (a `Probe`'s `Key` is never dropped).
            drop(unsafe { Box::from_raw(slice) });
        }
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        match (&self.repr, &other.repr) {
            (Repr::Inline { len, bytes }, Repr::Inline { len: l2, bytes: b2 }) => {
                len == l2 && bytes == b2
            }
            (
                Repr::Heap { len, hash, ptr },
                Repr::Heap {
                    len: l2,
                    hash: h2,
                    ptr: p2,
                },
            ) => hash == h2 && len == l2 && (ptr == p2 || self.bytes() == other.bytes()),
            _ => false,
        }
    }
}

impl Eq for Key {}

impl Ord for Key {
    fn cmp(&self, other: &Key) -> std::cmp::Ordering {
        self.bytes().cmp(other.bytes())
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u32(self.hash32());
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.bytes()))
    }
}

/// A request's key as a [`Key`], without copying it (its hash computed once), for the stripe
/// lock and for looking it up in moka; [`Key::to_owned_key`] makes the key to insert. It
/// borrows the bytes and never frees them.
pub(crate) struct Probe<'a> {
    key: ManuallyDrop<Key>,
    _bytes: PhantomData<&'a [u8]>,
}

impl<'a> Probe<'a> {
    pub fn new(bytes: &'a [u8]) -> Probe<'a> {
        let key = inline(bytes).unwrap_or_else(|| Key {
            repr: Repr::Heap {
                len: heap_len(bytes),
                hash: key_hash(bytes),
                ptr: NonNull::from(bytes).cast::<u8>(),
            },
        });
        Probe {
            key: ManuallyDrop::new(key),
            _bytes: PhantomData,
        }
    }
}

impl Deref for Probe<'_> {
    type Target = Key;

    fn deref(&self) -> &Key {
        &self.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_and_owned_key_agree() {
        let owned = Key::new(b"user:42");
        let probe = Probe::new(b"user:42");
        assert_eq!(&*probe, &owned);
        assert_eq!(owned.bytes(), b"user:42");
        let s = foldhash::quality::RandomState::default();
        assert_eq!(s.hash_one(&owned), s.hash_one(&*probe));
        assert_ne!(&*Probe::new(b"user:43"), &owned);
        assert_ne!(&*Probe::new(b"user:4"), &owned);
    }

    proptest::proptest! {
        /// A borrowed probe and an owned key of the same bytes are the same key to moka
        /// (equal, same hash); different bytes never are; order is the bytes' order.
        #[test]
        fn keys_behave_as_their_bytes(
            a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            let s = foldhash::quality::RandomState::default();
            let (ka, kb) = (Key::new(&a), Key::new(&b));
            proptest::prop_assert!(ka == *Probe::new(&a));
            proptest::prop_assert_eq!(s.hash_one(&ka), s.hash_one(&*Probe::new(&a)));
            proptest::prop_assert_eq!(ka == kb, a == b);
            proptest::prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
            proptest::prop_assert_eq!(ka.bytes(), &a[..]);
        }
    }

    #[test]
    fn empty_and_long_keys() {
        let empty = Key::new(b"");
        assert_eq!(empty.len(), 0);
        assert_eq!(&*Probe::new(b""), &empty);
        // Both sides of the inline limit.
        for len in [INLINE - 1, INLINE, INLINE + 1, INLINE + 2] {
            let bytes = vec![b'k'; len];
            let key = Key::new(&bytes);
            assert_eq!((key.bytes(), key.len()), (&bytes[..], len));
            assert_eq!(&*Probe::new(&bytes), &key);
            assert_ne!(&*Probe::new(&bytes[1..]), &key);
        }
        let long = vec![b'k'; 65535];
        assert_eq!(Key::new(&long).bytes(), &long[..]);
        assert_eq!(std::mem::size_of::<Key>(), 16);
    }
}
