//! Measures what one item costs in real memory: fills a `Store` (no memory limit reached)
//! with N items, reads each once (as clients do; moka clones values on reads), and prints the
//! process's resident memory growth per item, under mimalloc as the server uses it.
//!
//! ```text
//! cargo run --release -p ferrocache-storage --example entry_cost -- [items] [value bytes]
//! ```

use bytes::Bytes;
use ferrocache_storage::{Store, StoreConfig, StoreMode};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(1_000_000, |a| a.parse().unwrap());
    let size: usize = args.next().map_or(100, |a| a.parse().unwrap());
    // Freed memory goes back to the OS at once (`mi_option_purge_delay` 0), so the RSS counts
    // only what live entries hold.
    unsafe { libmimalloc_sys::mi_option_set(15, 0) };
    let store = Store::new(StoreConfig {
        memory_limit: 64 << 30,
        ..StoreConfig::default()
    });
    let value = vec![b'x'; size];
    let before = rss_bytes();
    for i in 0..n {
        let key = format!("key:{i}");
        // Values arrive as their own small buffers, as the server copies them.
        let v = Bytes::copy_from_slice(&value);
        store.store(StoreMode::Set, key.as_bytes(), 0, 0, v);
    }
    store.sync();
    let after_set = rss_bytes();
    for i in 0..n {
        let key = format!("key:{i}");
        assert!(store.get(key.as_bytes()).is_some());
    }
    store.sync();
    let after_get = rss_bytes();
    let key_len = format!("key:{}", n / 2).len();
    let per = |b: u64| b as f64 / n as f64;
    println!(
        "{n} items, key ~{key_len} B, value {size} B: {:.0} B/item after sets, {:.0} B/item after one read each; overhead beyond key+value {:.0} B",
        per(after_set - before),
        per(after_get - before),
        per(after_get - before) - (key_len + size) as f64
    );
}
