//! What a `Value` asks the allocator for, and that it gives all of it back: a counting global
//! allocator around the system one.
//!
//! No test harness (`harness = false` in Cargo.toml): the harness's own main thread allocates
//! while a test runs, which made the counts off by a few hundred bytes now and then. Threads
//! are joined one by one, so their own bookkeeping is freed before the counts are read.

use bytes::Bytes;
use ferrocache_storage::Value;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static LAST_SIZE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to `System` unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::SeqCst);
        LAST_SIZE.store(layout.size(), Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE_BYTES.load(Ordering::SeqCst)
}

fn main() {
    let payload = vec![5u8; 100_000];
    let vec_of = |n: usize| (n * std::mem::size_of::<Value>()) as isize;

    // A small value is one allocation: an 8-byte header, then the bytes.
    for len in [0, 1, 100, Value::SMALL] {
        let size = 8 + len as isize;
        let before = live();
        let v = Value::from(&payload[..len]);
        assert_eq!(live() - before, size, "{len}-byte value");
        assert_eq!(LAST_SIZE.load(Ordering::SeqCst), 8 + len);
        let clones: Vec<Value> = (0..10).map(|_| v.clone()).collect();
        // Clones share it. (The Vec holding them is the only new allocation.)
        assert_eq!(live() - before, size + vec_of(10));
        // Still held by the clones after the original goes.
        drop(v);
        assert_eq!(
            live() - before,
            size + vec_of(10),
            "{len}-byte value freed early"
        );
        assert!(clones.iter().all(|c| c[..] == payload[..len]));
        drop(clones);
        assert_eq!(live(), before, "{len}-byte value freed");
    }

    // A large value: its bytes, and a 40-byte block for the header and the `Bytes`.
    for len in [Value::SMALL + 1, 4096, 100_000] {
        let size = len as isize + 40;
        let before = live();
        let v = Value::from(&payload[..len]);
        assert_eq!(live() - before, size, "{len}-byte value");
        let c = v.clone();
        drop(v);
        assert_eq!(live() - before, size, "{len}-byte value freed early");
        assert_eq!(c.len(), len);
        drop(c);
        assert_eq!(live(), before, "{len}-byte value freed");
    }

    // A large buffer handed over is kept, not copied; append/prepend results free too.
    let before = live();
    let buf = Bytes::from(payload.clone());
    let with_buf = live();
    let v = Value::from(buf);
    assert_eq!(live() - with_buf, 40);
    let joined = Value::concat(&v[..10], &v[..20]);
    let joined_big = Value::concat(&v[..], b"x");
    drop((v, joined, joined_big));
    assert_eq!(live(), before);

    // Clones dropped on other threads, the original on this one before or after them: the
    // last one frees the value, wherever it runs.
    let before = live();
    for len in [50, 5000] {
        for original_first in [false, true] {
            let v = Value::from(&payload[..len]);
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let mine: Vec<Value> = (0..1000).map(|_| v.clone()).collect();
                    std::thread::spawn(move || drop(mine))
                })
                .collect();
            let held = if original_first {
                drop(v);
                None
            } else {
                Some(v)
            };
            for h in handles {
                h.join().unwrap();
            }
            drop(held);
        }
    }
    assert_eq!(live(), before, "values dropped across threads");
    println!("value_memory: ok");
}
