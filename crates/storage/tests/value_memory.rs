//! What a `Value` asks the allocator for, and that it gives all of it back: a counting global
//! allocator around the system one. One test in this binary, so nothing else allocates
//! meanwhile except the test harness's own threads, which are idle while it runs.

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

#[test]
fn values_cost_a_header_and_their_bytes_and_free_everything() {
    let payload = vec![5u8; 100_000];

    // A small value is one allocation: an 8-byte header, then the bytes.
    for len in [0, 1, 100, Value::SMALL] {
        let before = live();
        let v = Value::from(&payload[..len]);
        assert_eq!(live() - before, 8 + len as isize, "{len}-byte value");
        assert_eq!(LAST_SIZE.load(Ordering::SeqCst), 8 + len);
        let clones: Vec<Value> = (0..10).map(|_| v.clone()).collect();
        // Clones share it. (The Vec holding them is the only new allocation.)
        assert_eq!(
            live() - before,
            8 + len as isize + 10 * std::mem::size_of::<Value>() as isize
        );
        drop(clones);
        drop(v);
        assert_eq!(live(), before, "{len}-byte value freed");
    }

    // A large value: its bytes, and a 40-byte block for the header and the `Bytes`.
    for len in [Value::SMALL + 1, 4096, 100_000] {
        let before = live();
        let v = Value::from(&payload[..len]);
        assert_eq!(live() - before, len as isize + 40, "{len}-byte value");
        let c = v.clone();
        drop(v);
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

    // Clones dropped on other threads: the last one frees the value, wherever it runs.
    let before = live();
    for len in [50, 5000] {
        let v = Value::from(&payload[..len]);
        std::thread::scope(|s| {
            for _ in 0..4 {
                let mine: Vec<Value> = (0..1000).map(|_| v.clone()).collect();
                s.spawn(move || drop(mine));
            }
        });
        drop(v);
    }
    assert_eq!(live(), before);
}
