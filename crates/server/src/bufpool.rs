//! Buffers lent to connections while a request arrives or its reply leaves, and kept per
//! worker thread between requests.
//!
//! Why: a connection that waits for its next command holds no buffer (memcached does the
//! same with its per-thread read and write buffer caches). It waits for its socket to become
//! readable, borrows a read buffer for the read, and gives it back once the buffer is empty
//! again; its replies go into a borrowed write buffer, given back once they are sent. So idle
//! connections cost no buffer memory, and a busy thread reuses the same few buffers, whose
//! pages stay warm. Each worker thread runs its connections on its own single-threaded
//! runtime, so the pools are thread-local and need no lock.

use bytes::BytesMut;
use std::cell::RefCell;
use std::sync::atomic::{AtomicI64, Ordering};
use std::thread::LocalKey;

/// A read buffer starts this big, like memcached's.
pub(crate) const READ_BUFFER: usize = 16 * 1024;
/// A write buffer starts this big: small replies, and the headers around large values (which
/// are sent from the store's own memory), fit.
pub(crate) const WRITE_BUFFER: usize = 4 * 1024;

/// At most this many buffers wait in a thread's pool (512 KiB of read buffers): enough for
/// the connections a thread serves at once, few enough that a burst leaves little behind.
const POOL_MAX: usize = 32;

type Buffers = RefCell<Vec<BytesMut>>;

thread_local! {
    static READ_POOL: Buffers = const { RefCell::new(Vec::new()) };
    static WRITE_POOL: Buffers = const { RefCell::new(Vec::new()) };
}

/// One thread-local pool of buffers of one size.
pub(crate) struct Pool {
    size: usize,
    buffers: &'static LocalKey<Buffers>,
    /// The pool's figures for `stats`, in shards: see [`Tally`].
    tally: [Tally; SHARDS],
}

/// Shards of each pool's figures. Every request takes and gives back buffers, so one set of
/// counters written by every worker thread would bounce its cache lines between the cores
/// at every request; each thread writes its own stripe's shard (the store's counters'
/// `ferrocache_storage::stripe`, given out round robin), and `stats` sums them. A fixed
/// array rather than a `Stripes`: the pools are statics.
const SHARDS: usize = ferrocache_storage::COUNTER_STRIPES;

/// One shard of a pool's figures (its own cache lines).
#[repr(align(128))]
struct Tally {
    /// Buffers waiting in pools (memcached's `read_buf_bytes_free` and the like).
    pooled: AtomicI64,
    /// Buffers connections hold now, and their bytes, as they report them ([`Held`]).
    held: AtomicI64,
    held_bytes: AtomicI64,
}

impl Tally {
    const fn new() -> Tally {
        Tally {
            pooled: AtomicI64::new(0),
            held: AtomicI64::new(0),
            held_bytes: AtomicI64::new(0),
        }
    }
}

/// What one connection last reported holding of a pool's kind of buffer (see
/// [`Pool::report`]). A connection's buffer is swapped, grown, frozen into a request and
/// given back in many places; reporting its capacity at a few points keeps the shared
/// figures right without following each move.
#[derive(Default, Debug)]
pub(crate) struct Held(u32);

/// A pool's figures for `stats`: buffers (pooled and held), their bytes, and the bytes of
/// the pooled ones.
pub(crate) struct Figures {
    pub count: u64,
    pub bytes: u64,
    pub free_bytes: u64,
}

/// Read buffers ([`READ_BUFFER`] bytes).
pub(crate) static READ: Pool = Pool {
    size: READ_BUFFER,
    buffers: &READ_POOL,
    tally: [const { Tally::new() }; SHARDS],
};

/// Write buffers ([`WRITE_BUFFER`] bytes).
pub(crate) static WRITE: Pool = Pool {
    size: WRITE_BUFFER,
    buffers: &WRITE_POOL,
    tally: [const { Tally::new() }; SHARDS],
};

impl Pool {
    /// An empty buffer of the pool's size: from this thread's pool, or new.
    pub(crate) fn take(&self) -> BytesMut {
        match self.buffers.with(|pool| pool.borrow_mut().pop()) {
            Some(buf) => {
                self.mine().pooled.fetch_sub(1, Ordering::Relaxed);
                buf
            }
            None => BytesMut::with_capacity(self.size),
        }
    }

    /// A connection's buffer now has `capacity` bytes (0: it holds none).
    pub(crate) fn report(&self, held: &mut Held, capacity: usize) {
        // A buffer holds one request at most (-I is under 4 GiB): u32 keeps every
        // connection's future from growing for this.
        let capacity = u32::try_from(capacity).unwrap_or(u32::MAX);
        if held.0 == capacity {
            return;
        }
        let count = i64::from(capacity > 0) - i64::from(held.0 > 0);
        let t = self.mine();
        if count != 0 {
            t.held.fetch_add(count, Ordering::Relaxed);
        }
        t.held_bytes
            .fetch_add(i64::from(capacity) - i64::from(held.0), Ordering::Relaxed);
        held.0 = capacity;
    }

    /// This thread's shard of the figures.
    fn mine(&self) -> &Tally {
        &self.tally[ferrocache_storage::stripe()]
    }

    /// One more (`1`) or one fewer (`-1`) buffer held, for an owner that counts buffers
    /// rather than report sizes: its bytes count as the pool's size.
    pub(crate) fn lend(&self, n: i64) {
        let t = self.mine();
        t.held.fetch_add(n, Ordering::Relaxed);
        t.held_bytes
            .fetch_add(n * self.size as i64, Ordering::Relaxed);
    }

    /// Buffers pooled and held, for `stats`.
    pub(crate) fn figures(&self) -> Figures {
        let sum = |f: fn(&Tally) -> &AtomicI64| {
            let n: i64 = self
                .tally
                .iter()
                .map(|t| f(t).load(Ordering::Relaxed))
                .sum();
            n.max(0) as u64
        };
        let pooled = sum(|t| &t.pooled);
        let held = sum(|t| &t.held);
        let held_bytes = sum(|t| &t.held_bytes);
        let free_bytes = pooled * self.size as u64;
        Figures {
            count: pooled + held,
            bytes: held_bytes + free_bytes,
            free_bytes,
        }
    }

    /// Gives back an empty buffer. It is kept if it is the pool's size and wholly this
    /// connection's again (no value still shares its memory) and the pool has room;
    /// otherwise it is freed.
    pub(crate) fn give(&self, mut buf: BytesMut) {
        if !buf.is_empty() {
            return;
        }
        // `try_reclaim` moves an emptied view back to the start of its memory when nothing
        // else shares that memory, without allocating; a shared one reports false.
        if !buf.try_reclaim(self.size) || buf.capacity() != self.size {
            return;
        }
        self.buffers.with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < POOL_MAX {
                pool.push(buf);
                self.mine().pooled.fetch_add(1, Ordering::Relaxed);
            }
        });
    }

    /// How many buffers this thread's pool holds.
    #[cfg(test)]
    pub(crate) fn pooled(&self) -> usize {
        self.buffers.with(|pool| pool.borrow().len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Buf;

    #[test]
    fn an_emptied_buffer_is_reused_and_a_shared_or_odd_one_is_not() {
        let (take, give, pooled) = (|| READ.take(), |b| READ.give(b), || READ.pooled());
        while pooled() > 0 {
            drop(take());
        }
        let mut buf = take();
        buf.extend_from_slice(b"get k\r\n");
        let first = buf.as_ptr();
        buf.advance(7);
        give(buf);
        assert_eq!(pooled(), 1);
        let again = take();
        assert_eq!((again.as_ptr(), again.capacity()), (first, READ_BUFFER));
        assert_eq!(pooled(), 0);

        // A buffer part of which a value still holds is not pooled.
        let mut shared = again;
        shared.extend_from_slice(b"value");
        let value = shared.split().freeze();
        give(shared);
        assert_eq!(pooled(), 0);
        drop(value);

        // Nor one that grew, nor one with bytes in it.
        let mut grown = BytesMut::with_capacity(4 * READ_BUFFER);
        grown.extend_from_slice(b"x");
        grown.clear();
        give(grown);
        let mut full = take();
        full.extend_from_slice(b"x");
        give(full);
        assert_eq!(pooled(), 0);

        for _ in 0..POOL_MAX + 5 {
            give(BytesMut::with_capacity(READ_BUFFER));
        }
        assert_eq!(pooled(), POOL_MAX);
        // The write pool is apart, with buffers of its own size.
        assert_eq!(WRITE.take().capacity(), WRITE_BUFFER);
        WRITE.give(READ.take());
        assert_eq!(WRITE.pooled(), 0);
    }
}
