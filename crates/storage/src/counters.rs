//! The store's statistics counters.
//!
//! Every counter is a relaxed atomic: each is only ever added to (or zeroed by `stats reset`)
//! and read for `stats`, so no ordering between counters is needed, and connections on
//! different threads never wait on each other to count.

use crate::StoreStats;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

macro_rules! counters {
    ($($name:ident),* $(,)?) => {
        #[derive(Default)]
        pub(crate) struct Counters {
            $(pub $name: AtomicU64,)*
            /// Items linked now, and their memcached-counted bytes. Signed, because an
            /// eviction may be reported before the insert that it balances is counted.
            pub curr_items: AtomicI64,
            pub bytes: AtomicI64,
            /// Bytes charged against the memory limit (items plus per-entry overhead).
            pub charged: AtomicI64,
            /// Bytes ever charged: the volume of writes, which paces the housekeeper
            /// (see `housekeeper::commands`). Never reset.
            pub charged_total: AtomicU64,
            /// The most items ever linked at once (sizes memcached's hash table).
            pub peak_items: AtomicU64,
        }

        impl Counters {
            pub fn snapshot(&self) -> StoreStats {
                StoreStats {
                    $($name: self.$name.load(Ordering::Relaxed),)*
                    curr_items: self.curr_items.load(Ordering::Relaxed).max(0) as u64,
                    bytes: self.bytes.load(Ordering::Relaxed).max(0) as u64,
                    peak_items: self.peak_items.load(Ordering::Relaxed),

                }
            }

            /// `stats reset`: zero what memcached zeroes (not the current contents).
            pub fn reset(&self) {
                $(self.$name.store(0, Ordering::Relaxed);)*
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
