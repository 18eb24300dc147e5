//! Nanoseconds per operation of the `Store`: get (hit and miss), set, incr.
//! `cargo bench -p ferrocache-storage`

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ferrocache_storage::{Store, StoreConfig, StoreMode};

// The server runs on mimalloc; measure the store with the same allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const KEYS: u64 = 100_000;

fn key(n: u64) -> Vec<u8> {
    format!("key:{n}").into_bytes()
}

fn store_benches(c: &mut Criterion) {
    let store = Store::new(StoreConfig {
        memory_limit: 1024 * 1024 * 1024,
        ..StoreConfig::default()
    });
    let keys: Vec<Vec<u8>> = (0..KEYS).map(key).collect();
    let value = Bytes::from(vec![b'v'; 32]);
    for k in &keys {
        store.store(StoreMode::Set, k, 0, 0, value.clone());
    }
    store.store(StoreMode::Set, b"counter", 0, 0, Bytes::from_static(b"0"));
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    group.bench_function("get hit", |b| {
        b.iter(|| {
            i = (i + 7919) % keys.len();
            black_box(store.get(black_box(&keys[i])))
        })
    });
    group.bench_function("get miss", |b| {
        b.iter(|| black_box(store.get(black_box(b"no-such-key:123456"))))
    });
    group.bench_function("set 32 B (existing key)", |b| {
        b.iter_batched(
            || {
                i = (i + 7919) % keys.len();
                (i, value.clone())
            },
            |(k, v)| black_box(store.store(StoreMode::Set, &keys[k], 0, 0, v)),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("incr", |b| {
        b.iter(|| black_box(store.incr_decr(black_box(b"counter"), 1, true)))
    });
    group.finish();
}

criterion_group!(benches, store_benches);
criterion_main!(benches);
