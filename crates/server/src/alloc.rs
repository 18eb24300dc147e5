//! mimalloc settings the server changes from mimalloc's defaults.
//!
//! `generic_collect` (mimalloc v3's option number 34, default 10,000): every that many
//! allocations that take mimalloc's slow path, the allocating thread walks all its pages and
//! takes back the blocks other threads freed there. In a full cache nearly every free is such
//! a cross-thread free (a worker thread allocates an entry; the housekeeper or another worker
//! evicts it), so with the default each walk had tens of thousands of blocks to visit, one
//! cache miss each, inside some request: perf put most of the remaining >1 ms store calls of
//! `examples/store_stall` there. In 12 alternating `ferrobench stall` runs on a full
//! `-m 256` cache, 1,000 instead of 10,000 took the requests over 10 ms from 66 (in 11 of
//! the runs) to 25 (in 5); see bench/README.md. The same total work, in ten times as many
//! pieces a tenth the size.
//!
//! Transparent huge pages: mimalloc asks for them on its memory (`madvise(MADV_HUGEPAGE)`,
//! which Debian's default THP mode, `madvise`, honours), so the first touch of each 2 MB
//! faults in and zeroes all of it at once, with compaction if no free 2 MB block is at hand.
//! memcached gets none (its memory is not madvised). With them, a fresh server taking
//! djblets-like 1 MB values had a p99.9 of 182 ms and a max of 272 ms in its first 10 s
//! (memcached 49 and 58 ms); without, 50 and 61 ms. They also made a full cache's RSS larger:
//! at `-m 64` with 100-byte values 74 against 69 MiB (2.55x against 2.38x memcached's per
//! item). Server CPU per request with small values did not measurably change
//! (bench/RESULTS.md). mimalloc's own switch (`MIMALLOC_ALLOW_THP`)
//! is read before `main`, so the server asks the kernel directly
//! (`prctl(PR_SET_THP_DISABLE)`, which mimalloc itself uses when that option is 0).
//! It must ask before the first allocation: the Rust runtime allocates before `main`, and
//! those first blocks faulted in two huge pages, 4 MiB of an empty server's 8.7 MiB resident
//! memory (memcached: 4.5 MiB). So the binary runs [`disable_thp_before_main`] from the
//! ELF constructor list (`.init_array`), which the C runtime runs before any of it; empty
//! server 5.2 MiB.

use std::os::raw::c_long;

/// mimalloc v3's `mi_option_generic_collect` (libmimalloc-sys names no constant for it).
const GENERIC_COLLECT: libmimalloc_sys::mi_option_t = 34;
const GENERIC_COLLECT_DEFAULT: c_long = 10_000;
/// Ours.
const GENERIC_COLLECT_SERVER: c_long = 1_000;
/// mimalloc v3's `mi_option_purge_delay` (milliseconds before freed memory is given back to
/// the OS; v3's default is 1000, v2's was 10).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const PURGE_DELAY_DEFAULT: c_long = 1000;
/// Ours: at once. Why: while a full cache churns from one value size to another (100-byte
/// values, then 4 KB ones), the pages the old items leave wait out the delay, and meanwhile
/// the new items take fresh ones: RSS peaked at 92 to 120 MiB at `-m 64` with the delay, 79
/// to 83 MiB without, while the heap's live bytes stayed at 62 to 66 MiB (counted with a
/// wrapping allocator; bench/RESULTS.md, "Operator limits").
const PURGE_DELAY_SERVER: c_long = 0;

/// Applies the server's allocator settings, each unless the environment sets it as mimalloc
/// reads it (`MIMALLOC_GENERIC_COLLECT`, `MIMALLOC_PURGE_DELAY`, `MIMALLOC_ALLOW_THP`). Leaves
/// an option alone if it does not hold mimalloc's documented default, which would mean a
/// mimalloc whose option numbers differ. On glibc huge pages are already off by now
/// ([`disable_thp_before_main`]); elsewhere this is the earliest place to turn them off.
pub fn tune_allocator() {
    if !env_has("MIMALLOC_GENERIC_COLLECT") {
        // SAFETY: mimalloc's option calls take any option number and are thread-safe.
        unsafe {
            if libmimalloc_sys::mi_option_get(GENERIC_COLLECT) == GENERIC_COLLECT_DEFAULT {
                libmimalloc_sys::mi_option_set(GENERIC_COLLECT, GENERIC_COLLECT_SERVER);
            }
        }
    }
    if !env_has("MIMALLOC_PURGE_DELAY") {
        // SAFETY: as above.
        unsafe {
            if libmimalloc_sys::mi_option_get(PURGE_DELAY) == PURGE_DELAY_DEFAULT {
                libmimalloc_sys::mi_option_set(PURGE_DELAY, PURGE_DELAY_SERVER);
            }
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    if !env_has("MIMALLOC_ALLOW_THP") {
        disable_thp();
    }
}

/// What a block of `n` bytes occupies: mimalloc's size class for it, or whole pages for a
/// block [`large`] maps. What the store charges a value's block against `-m`.
pub fn allocated_size(n: usize) -> usize {
    if n >= large::THRESHOLD {
        return large::mapped_len(n);
    }
    // SAFETY: a pure function of its argument.
    unsafe { libmimalloc_sys::mi_good_size(n) }
}

pub mod large;

/// The server's allocator: mimalloc, except for blocks over 16 KiB, which
/// [`large`] maps from the OS and pools (see there for why).
pub struct ServerAlloc;

/// Whether `ptr`, a block of a layout [`large`] serves, is mimalloc's after all: given when
/// the OS refused a mapping.
fn mimallocs(ptr: *mut u8) -> bool {
    // SAFETY: a lookup in mimalloc's region map; any pointer may be asked about.
    unsafe { libmimalloc_sys::mi_is_in_heap_region(ptr.cast()) }
}

// SAFETY: every block is freed (and resized) by the allocator that gave it: a large layout's
// block is `large`'s unless it lies in mimalloc's regions, which `large`'s mappings never do.
unsafe impl std::alloc::GlobalAlloc for ServerAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        if large::is_large(layout) {
            let block = large::alloc(layout.size());
            if !block.is_null() {
                return block;
            }
        }
        // SAFETY: the caller's layout, passed on.
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        if large::is_large(layout) {
            let block = large::alloc_zeroed(layout.size());
            if !block.is_null() {
                return block;
            }
        }
        // SAFETY: as above.
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        if large::is_large(layout) && !mimallocs(ptr) {
            // SAFETY: `large` gave this block for this size.
            return unsafe { large::dealloc(ptr, layout.size()) };
        }
        // SAFETY: mimalloc gave this block for this layout.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        // SAFETY: GlobalAlloc's contract: the new size, with the old alignment, is valid.
        let new =
            unsafe { std::alloc::Layout::from_size_align_unchecked(new_size, layout.align()) };
        let was_large = large::is_large(layout) && !mimallocs(ptr);
        let will_be_large = large::is_large(new);
        if !was_large && !will_be_large {
            // SAFETY: mimalloc's block, passed on.
            return unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) };
        }
        if was_large && will_be_large {
            // SAFETY: `large`'s block of this size.
            let moved = unsafe { large::realloc(ptr, layout.size(), new_size) };
            if !moved.is_null() {
                return moved;
            }
        }
        // SAFETY: a new block, the old one's bytes copied over, then the old one freed by
        // its own allocator.
        unsafe {
            let block = self.alloc(new);
            if !block.is_null() {
                std::ptr::copy_nonoverlapping(ptr, block, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            block
        }
    }
}

thread_local! {
    /// Whether this thread served a request since its last [`return_memory_when_idle`] look.
    static BUSY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks this thread as busy: called for each batch of requests a connection runs.
pub fn note_busy() {
    BUSY.with(|b| b.set(true));
}

/// Runs on each worker thread for its life: once a second, if the thread served nothing in
/// the last second, asks mimalloc to give back what it can of the thread's freed memory.
///
/// Why: mimalloc returns a thread's freed pages to the OS only when that thread allocates
/// or frees again. A worker whose connections closed (200 clients that sent half of a
/// 1 MB value each, say) otherwise keeps their memory resident for as long as no request
/// comes (106 MiB, against 5 MiB for an empty server). A busy thread is left alone: its
/// own allocations reuse and purge that memory, and a collection would delay its requests.
pub async fn return_memory_when_idle() {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if !BUSY.with(|b| b.replace(false)) {
            // SAFETY: mimalloc's collection works on the calling thread's own heap.
            unsafe { libmimalloc_sys::mi_collect(false) };
        }
    }
}

fn disable_thp() {
    // SAFETY: prctl with these arguments only sets a flag of this process. It can fail
    // only on kernels without it (before 3.15), which leaves huge pages as they were.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

/// Turns transparent huge pages off unless `MIMALLOC_ALLOW_THP` is set, for the binary's
/// constructor list: it runs before the Rust runtime and before anything has allocated, so
/// it must not allocate either (it reads the environment in place).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub extern "C" fn disable_thp_before_main() {
    if !env_has_in_place(b"MIMALLOC_ALLOW_THP") {
        disable_thp();
    }
}

/// [`env_has`] without allocating: walks the C environment block.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn env_has_in_place(name: &[u8]) -> bool {
    // SAFETY: `environ` is the C runtime's NUL-terminated array of NUL-terminated strings (or
    // null once the environment is cleared). Before `main` the process has one thread; after
    // it, std's rule applies: whoever changes the environment (`set_var`, `remove_var`) must
    // make sure no other thread reads it meanwhile.
    unsafe {
        let mut entry = libc::environ as *const *const libc::c_char;
        if entry.is_null() {
            return false;
        }
        while !(*entry).is_null() {
            let var = std::ffi::CStr::from_ptr(*entry).to_bytes();
            let key = var.split(|&b| b == b'=').next().unwrap_or(var);
            if key.eq_ignore_ascii_case(name) {
                return true;
            }
            entry = entry.add(1);
        }
    }
    false
}

/// Whether the environment sets `name`, matched without regard to case as mimalloc does.
fn env_has(name: &str) -> bool {
    std::env::vars_os().any(|(key, _)| key.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Option 34 is `generic_collect` in the mimalloc we link: `tune_allocator` sets it only
    /// when it holds mimalloc's documented default, so a mimalloc that renumbered its options
    /// fails here instead of silently tuning nothing (or something else).
    #[test]
    fn generic_collect_is_option_34_and_gets_tuned() {
        if env_has("MIMALLOC_GENERIC_COLLECT") {
            return;
        }
        tune_allocator();
        // SAFETY: as in `tune_allocator`.
        let after = unsafe { libmimalloc_sys::mi_option_get(GENERIC_COLLECT) };
        assert_eq!(after, GENERIC_COLLECT_SERVER);
        if !env_has("MIMALLOC_PURGE_DELAY") {
            // SAFETY: as above.
            let delay = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
            assert_eq!(delay, PURGE_DELAY_SERVER);
        }
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn the_environment_is_read_in_place_as_mimalloc_reads_it() {
        // A variable this test runs with, asked for in lower case, is found: mimalloc matches
        // names without regard to case.
        use std::os::unix::ffi::OsStrExt;
        let (first, _) = std::env::vars_os().next().expect("an environment");
        assert!(env_has_in_place(&first.as_bytes().to_ascii_lowercase()));
        assert!(!env_has_in_place(b"FERROCACHE_NO_SUCH_VARIABLE_X7"));
        assert_eq!(
            env_has_in_place(b"MIMALLOC_ALLOW_THP"),
            env_has("MIMALLOC_ALLOW_THP")
        );
    }

    /// The store is charged what each block occupies: of mimalloc's size classes, a block
    /// between two costs the larger, one that fills a class what it asks for; a large block
    /// its whole pages.
    #[test]
    fn allocated_size_is_mimallocs_size_class() {
        assert_eq!(allocated_size(4096), 4096);
        assert!(allocated_size(4097) > 4097);
        assert!(allocated_size(4097) <= 4096 * 5 / 4);
        // Large blocks are mapped apart, in whole pages; a connection's read buffer is not.
        let read_buffer =
            std::alloc::Layout::from_size_align(crate::bufpool::READ_BUFFER, 1).unwrap();
        assert!(!large::is_large(read_buffer));
        assert_eq!(allocated_size(large::THRESHOLD + 1), 20 * 1024);
        let config = crate::store_config(&crate::Config::default());
        assert_eq!((config.alloc_size)(4097), allocated_size(4097));
    }

    #[test]
    fn transparent_huge_pages_are_turned_off() {
        if env_has("MIMALLOC_ALLOW_THP") {
            return;
        }
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        disable_thp_before_main();
        #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
        tune_allocator();
        // SAFETY: reads a flag of this process.
        let disabled = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        assert_eq!(disabled, 1);
    }
}
