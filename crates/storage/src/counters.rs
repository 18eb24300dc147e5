//! The store's statistics counters.
//!
//! Every counter is a relaxed atomic: each is only ever added to (or zeroed by `stats reset`)
//! and read for `stats`, so no ordering between counters is needed, and connections on
//! different threads never wait on each other to count.
//!
//! The counters every request adds to (`cmd_get`, `get_hits`, ...) are kept in per-thread
//! [`Stripes`], summed when `stats` reads them. Why: one shared copy puts their cache line
//! in every worker thread's core in turn, an exchange between the cores on each request
//! (memcached keeps its per-thread stats for the same reason).

use crate::StoreStats;
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

/// How many copies [`Stripes`] keeps. A thread takes the next one when it first counts; with
/// more threads than stripes some share one, which is still correct, only slower.
pub const STRIPES: usize = 8;

/// [`STRIPES`] copies of `T`, one per thread (see the module's doc). `T` should be aligned
/// to a cache line pair (`#[repr(align(128))]`), so that no two threads' copies share one.
pub struct Stripes<T> {
    stripes: Box<[T]>,
}

impl<T: Default> Default for Stripes<T> {
    fn default() -> Self {
        Stripes {
            stripes: (0..STRIPES).map(|_| T::default()).collect(),
        }
    }
}

impl<T> std::fmt::Debug for Stripes<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Stripes({})", self.stripes.len())
    }
}

impl<T> Stripes<T> {
    /// The calling thread's copy.
    #[inline]
    pub fn mine(&self) -> &T {
        &self.stripes[stripe()]
    }

    /// Every copy, to sum or to zero.
    pub fn all(&self) -> impl Iterator<Item = &T> {
        self.stripes.iter()
    }
}

/// The calling thread's stripe, given out round robin on first use.
#[inline]
pub fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE.with(|s| {
        let mine = s.get();
        if mine != usize::MAX {
            return mine;
        }
        let mine = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
        s.set(mine);
        mine
    })
}

macro_rules! counters {
    ($($name:ident),* $(,)?) => {
        /// One thread's copy of the counters requests add to.
        #[derive(Default)]
        #[repr(align(128))]
        pub(crate) struct Hot {
            $(pub $name: AtomicU64,)*
        }

        #[derive(Default)]
        pub(crate) struct Counters {
            /// Added to by every request: per thread (see the module's doc).
            hot: Stripes<Hot>,
            /// Items linked now, and their memcached-counted bytes. Signed, because an
            /// eviction may be reported before the insert that it balances is counted.
            pub curr_items: AtomicI64,
            pub bytes: AtomicI64,
            /// Bytes charged against the memory limit (items plus per-entry overhead).
            pub charged: AtomicI64,
            /// Bytes ever charged: the volume of writes, which paces the housekeeper
            /// (see `housekeeper::commands`). Never reset.
            pub charged_total: AtomicU64,
            /// Dead items the crawler removed: each is a write in moka, which paces the
            /// housekeeper as a command does (see `housekeeper::commands`). Never reset.
            pub reclaimed_total: AtomicU64,
            /// The most items ever linked at once (sizes memcached's hash table).
            pub peak_items: AtomicU64,
        }

        impl Counters {
            /// The calling thread's copy of the counters requests add to.
            #[inline]
            pub fn mine(&self) -> &Hot {
                self.hot.mine()
            }

            /// Every thread's copy, to sum.
            pub fn stripes(&self) -> impl Iterator<Item = &Hot> {
                self.hot.all()
            }

            pub fn snapshot(&self) -> StoreStats {
                StoreStats {
                    $($name: self.hot.all().map(|h| h.$name.load(Ordering::Relaxed)).sum(),)*
                    curr_items: self.curr_items.load(Ordering::Relaxed).max(0) as u64,
                    bytes: self.bytes.load(Ordering::Relaxed).max(0) as u64,
                    peak_items: self.peak_items.load(Ordering::Relaxed),

                }
            }

            /// `stats reset`: zero what memcached zeroes (not the current contents).
            pub fn reset(&self) {
                for h in self.hot.all() {
                    $(h.$name.store(0, Ordering::Relaxed);)*
                }
            }
        }
    };
}

counters!(
    total_items,
    evictions,
    get_hits,
    get_misses,
    get_expired,
    get_flushed,
    delete_hits,
    delete_misses,
    incr_hits,
    incr_misses,
    decr_hits,
    decr_misses,
    cas_hits,
    cas_misses,
    cas_badval,
    touch_hits,
    touch_misses,
    cmd_get,
    cmd_set,
    cmd_touch,
    store_too_large,
    store_no_memory,
    housekeeper_rounds,
);

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}
