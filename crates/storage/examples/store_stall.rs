//! Finds long store calls without a network in the way: fills a `Store` until it evicts, then
//! one thread stores fresh keys as fast as it can (as a pipelined bulk load does) while another
//! reads and writes the old ones (10 gets to 1 set). Prints, per thread, how many calls took
//! over 1 ms and over 10 ms, the slowest, and how much of the slow calls' time was the thread's
//! own CPU (moka bookkeeping done in the call) rather than waiting.
//!
//! ```text
//! cargo run --release -p ferrocache-storage --example store_stall -- [MB] [fresh keys] [value bytes]
//! ```
//!
//! With `STALL_LOG` set, each call over 1 ms is also written to stderr as `tid start end`
//! (CLOCK_MONOTONIC nanoseconds), to pick those calls' samples out of
//! `perf record -k mono --call-graph dwarf`.

use bytes::Bytes;
use ferrocache_storage::{Store, StoreConfig, StoreMode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn clock(id: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(id, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn thread_cpu() -> Duration {
    clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

#[derive(Default)]
struct Slow {
    calls: u64,
    over_1ms: u64,
    over_10ms: u64,
    max: Duration,
    slow_wall: Duration,
    slow_cpu: Duration,
}

impl Slow {
    fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let (c0, t0) = (thread_cpu(), Instant::now());
        let out = f();
        let wall = t0.elapsed();
        self.calls += 1;
        if wall > Duration::from_millis(1) {
            if std::env::var_os("STALL_LOG").is_some() {
                let end = clock(libc::CLOCK_MONOTONIC).as_nanos();
                // SAFETY: gettid has no preconditions.
                let tid = unsafe { libc::gettid() };
                eprintln!("{tid} {} {end}", end - wall.as_nanos());
            }
            self.over_1ms += 1;
            self.slow_wall += wall;
            self.slow_cpu += thread_cpu() - c0;
        }
        if wall > Duration::from_millis(10) {
            self.over_10ms += 1;
        }
        self.max = self.max.max(wall);
        out
    }

    fn report(&self, who: &str, took: Duration) {
        println!(
            "{who}: {} calls in {:.2} s, >1 ms {}, >10 ms {}, max {:.2} ms; slow calls: {:.1} ms wall, {:.1} ms own CPU",
            self.calls,
            took.as_secs_f64(),
            self.over_1ms,
            self.over_10ms,
            self.max.as_secs_f64() * 1e3,
            self.slow_wall.as_secs_f64() * 1e3,
            self.slow_cpu.as_secs_f64() * 1e3,
        );
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mb: u64 = args.next().map_or(256, |a| a.parse().unwrap());
    let fresh: u64 = args.next().map_or(1_000_000, |a| a.parse().unwrap());
    let size: usize = args.next().map_or(100, |a| a.parse().unwrap());
    let store = Store::new(StoreConfig {
        memory_limit: mb << 20,
        ..StoreConfig::default()
    });
    let value = Bytes::from(vec![b'v'; size]);
    let mut filled = 0u64;
    loop {
        store.store(
            StoreMode::Set,
            format!("fill:{filled}").as_bytes(),
            0,
            0,
            value.clone(),
        );
        filled += 1;
        if filled.is_multiple_of(10_000) && store.stats().evictions > 0 {
            break;
        }
    }
    store.sync();
    println!("filled {filled} keys, {} held", store.stats().curr_items);

    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let loader = s.spawn(|| {
            let mut slow = Slow::default();
            let t0 = Instant::now();
            for i in 0..fresh {
                let key = format!("fresh:{i}");
                slow.time(|| store.store(StoreMode::Set, key.as_bytes(), 0, 0, value.clone()));
            }
            done.store(true, Ordering::Relaxed);
            slow.report("bulk sets", t0.elapsed());
        });
        let mixed = s.spawn(|| {
            let mut slow = Slow::default();
            let t0 = Instant::now();
            let mut x = 0x9E37_79B9_7F4A_7C15u64;
            let mut n = 0u64;
            while !done.load(Ordering::Relaxed) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let key = format!("fill:{}", x % filled);
                if n % 11 == 10 {
                    slow.time(|| store.store(StoreMode::Set, key.as_bytes(), 0, 0, value.clone()));
                } else {
                    slow.time(|| store.get(key.as_bytes()).is_some());
                }
                n += 1;
            }
            slow.report("mixed 10:1", t0.elapsed());
        });
        loader.join().unwrap();
        mixed.join().unwrap();
    });
    let st = store.stats();
    println!("evictions {}, held {}", st.evictions, st.curr_items);
}
