//! Large blocks (values, and the buffers large requests are read into) are mapped from the
//! OS one by one, and kept for reuse in a small pool shared by all threads.
//!
//! Why not mimalloc: it serves blocks of 10 KiB to 512 KiB from pages of 512 KiB or 4 MiB,
//! each page holding one size class, and each thread has its own pages. In a cache the
//! blocks of a page are freed in no order (eviction), so pages stay partly used: resident,
//! yet mostly free. In the mixed-size soak (16 B to 100 KB values, `-m 64`) the cache held
//! 8,400-8,900 items where memcached holds 14,200; with large blocks here, 12,100-12,500
//! (bench/RESULTS.md, "Large blocks").
//!
//! Why a pool: a fresh mapping is zeroed and faulted in page by page, and unmapping one
//! interrupts the other threads' CPUs to flush their TLBs: without the pool, sets of
//! 16-100 KB values cost 30-75 µs of server CPU each instead of 21-22. A block kept for the
//! next allocation of about its size costs neither. The pool holds at most
//! [`set_pool_limit`] bytes; the memory guard empties it first ([`release`]).

use std::alloc::Layout;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

const PAGE: usize = 4096;
/// Blocks of at least this many bytes are mapped here: just over the connections' 16 KiB
/// read buffers (`bufpool::READ_BUFFER`), which stay mimalloc's. Their per-thread pool
/// recycles them already, and a connection lends one for every request: mapped apart, tens
/// of thousands of connections would hold as many mappings, near the process's limit
/// (`vm.max_map_count`, 65,530 by default).
pub const THRESHOLD: usize = 16 * 1024 + 1;
/// Blocks of at most this many pages are kept in the pool; larger ones are always unmapped.
const MAX_POOLED_PAGES: usize = 512;
/// An allocation may take a pooled block up to an eighth larger (the excess pages are
/// unmapped at once): values vary in length, and exact matches would be rare.
const SLACK_DIVISOR: usize = 8;

/// Bytes the pool may hold: set once at start from `-m` (see [`set_pool_limit`]).
static LIMIT: AtomicUsize = AtomicUsize::new(8 << 20);

/// Freed blocks by their length in pages: singly linked through their first word.
struct Pool {
    heads: [usize; MAX_POOLED_PAGES + 1],
    /// How many blocks each list holds.
    counts: [u32; MAX_POOLED_PAGES + 1],
    /// Bit `n` is set when `heads[n]` is not empty, so a search skips empty lengths fast.
    nonempty: [u64; (MAX_POOLED_PAGES + 1).div_ceil(64)],
    bytes: usize,
}

impl Pool {
    /// Takes a block of `pages` pages (whose list is not empty).
    fn pop(&mut self, pages: usize) -> *mut u8 {
        let block = self.heads[pages];
        // SAFETY: a pooled block is a live mapping whose first word links to the next.
        let next = unsafe { *(block as *const usize) };
        self.heads[pages] = next;
        self.counts[pages] -= 1;
        if next == 0 {
            self.nonempty[pages / 64] &= !(1 << (pages % 64));
        }
        self.bytes -= pages * PAGE;
        block as *mut u8
    }

    fn push(&mut self, block: *mut u8, pages: usize) {
        // SAFETY: the block is ours (freed), writable, and at least a page long.
        unsafe { *(block as *mut usize) = self.heads[pages] };
        self.heads[pages] = block as usize;
        self.counts[pages] += 1;
        self.nonempty[pages / 64] |= 1 << (pages % 64);
        self.bytes += pages * PAGE;
    }

    /// The length with the most blocks pooled: the one the pool can best spare.
    fn most_common(&self) -> usize {
        (0..=MAX_POOLED_PAGES)
            .max_by_key(|&at| self.counts[at])
            .unwrap_or(0)
    }
}

/// One lock for the whole pool: large allocations are a small share of all allocations
/// (one per large value at most), each holds the lock for a few bit operations, and
/// the alternative, a lock per length, would need one taken per length searched.
static POOL: Mutex<Pool> = Mutex::new(Pool {
    heads: [0; MAX_POOLED_PAGES + 1],
    counts: [0; MAX_POOLED_PAGES + 1],
    nonempty: [0; (MAX_POOLED_PAGES + 1).div_ceil(64)],
    bytes: 0,
});

/// Sets how many bytes of freed large blocks may be kept for reuse.
pub fn set_pool_limit(bytes: usize) {
    LIMIT.store(bytes, Ordering::Relaxed);
}

/// Bytes of freed blocks in the pool now.
#[cfg(test)]
fn pooled() -> usize {
    lock().bytes
}

fn lock() -> std::sync::MutexGuard<'static, Pool> {
    // Nothing panics while holding the lock; a poisoned pool is still consistent.
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether a block of this layout is served here.
pub fn is_large(layout: Layout) -> bool {
    layout.size() >= THRESHOLD && layout.align() <= PAGE
}

/// The bytes a large block of `size` occupies: whole pages.
pub fn mapped_len(size: usize) -> usize {
    size.div_ceil(PAGE) * PAGE
}

/// A block of `size` bytes (at least [`THRESHOLD`]): from the pool, or freshly mapped.
/// Null if the OS gives no memory, or no more mappings (`vm.max_map_count`): the caller
/// then asks mimalloc.
pub fn alloc(size: usize) -> *mut u8 {
    let pages = mapped_len(size) / PAGE;
    if let Some(block) = take(pages) {
        return block;
    }
    map(pages * PAGE)
}

/// A block of `size` zeroed bytes: a fresh mapping is zeroed by the OS.
pub fn alloc_zeroed(size: usize) -> *mut u8 {
    map(mapped_len(size))
}

/// Frees a block [`alloc`] gave for `size` bytes: into the pool, or unmapped.
///
/// # Safety
/// `block` came from [`alloc`], [`alloc_zeroed`] or [`realloc`] with this `size`.
pub unsafe fn dealloc(block: *mut u8, size: usize) {
    let pages = mapped_len(size) / PAGE;
    if !put(block, pages) {
        // SAFETY: the caller's promise: a mapping of exactly these pages.
        unsafe { unmap(block, pages * PAGE) };
    }
}

/// Resizes a block in place or by moving its pages (no copy). Null if the OS refuses.
///
/// # Safety
/// As [`dealloc`]; on success the old block is gone.
pub unsafe fn realloc(block: *mut u8, size: usize, new_size: usize) -> *mut u8 {
    let (old, new) = (mapped_len(size), mapped_len(new_size));
    if old == new {
        return block;
    }
    // SAFETY: the caller's promise: a mapping of `old` bytes.
    let moved = unsafe { libc::mremap(block.cast(), old, new, libc::MREMAP_MAYMOVE) };
    if moved == libc::MAP_FAILED {
        REFUSED.fetch_add(1, Ordering::Relaxed);
        std::ptr::null_mut()
    } else {
        moved.cast()
    }
}

/// Gives `len` bytes at `block` back to the OS. Unmapping the middle of a mapping splits it
/// in two, which fails once the process has `vm.max_map_count` mappings (65,530 by default);
/// then the pages are only emptied (`MADV_DONTNEED`): the memory goes back, the addresses
/// stay taken.
///
/// # Safety
/// The range is whole pages of a mapping of ours that no one uses any more.
unsafe fn unmap(block: *mut u8, len: usize) {
    // SAFETY: the caller's promise.
    unsafe {
        if libc::munmap(block.cast(), len) != 0 {
            libc::madvise(block.cast(), len, libc::MADV_DONTNEED);
        }
    }
}

fn map(len: usize) -> *mut u8 {
    // SAFETY: a new private anonymous mapping; no existing memory is touched.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        REFUSED.fetch_add(1, Ordering::Relaxed);
        std::ptr::null_mut()
    } else {
        p.cast()
    }
}

/// Mappings the OS refused (each then served by mimalloc): memcached's `malloc_fails`
/// counts the page allocations its OS refused.
static REFUSED: AtomicU64 = AtomicU64::new(0);

/// How many mappings the OS has refused.
pub fn refused() -> u64 {
    REFUSED.load(Ordering::Relaxed)
}

/// A pooled block of `pages` pages: one of up to an eighth more, with the excess unmapped, or
/// else one of up to an eighth fewer, grown (only the pages added are new).
fn take(pages: usize) -> Option<*mut u8> {
    if pages > MAX_POOLED_PAGES {
        return None;
    }
    let slack = pages / SLACK_DIVISOR;
    let (block, found) = {
        let mut pool = lock();
        let found = first_set(&pool.nonempty, pages, (pages + slack).min(MAX_POOLED_PAGES))
            .or_else(|| last_set(&pool.nonempty, pages.saturating_sub(slack).max(1), pages));
        let found = found?;
        (pool.pop(found), found)
    };
    if found > pages {
        // SAFETY: the block's last pages, which no one else knows of.
        unsafe { unmap(block.add(pages * PAGE), (found - pages) * PAGE) };
        return Some(block);
    }
    if found < pages {
        // SAFETY: a mapping of `found` pages that no one else knows of.
        let grown = unsafe { realloc(block, found * PAGE, pages * PAGE) };
        if grown.is_null() {
            // SAFETY: as above; the OS refused to grow it.
            unsafe { unmap(block, found * PAGE) };
            return None;
        }
        return Some(grown);
    }
    Some(block)
}

/// Up to `N` blocks taken out of the pool, to be unmapped once its lock is let go: an unmap
/// is a system call, which must not hold up other threads' allocations.
struct Evicted<const N: usize> {
    blocks: [(usize, usize); N],
    count: usize,
}

impl<const N: usize> Evicted<N> {
    fn new() -> Self {
        Evicted {
            blocks: [(0, 0); N],
            count: 0,
        }
    }

    fn is_full(&self) -> bool {
        self.count == self.blocks.len()
    }

    /// Takes a block of `pages` pages (whose list is not empty) out of `pool`.
    fn take(&mut self, pool: &mut Pool, pages: usize) {
        self.blocks[self.count] = (pool.pop(pages) as usize, pages);
        self.count += 1;
    }

    /// Unmaps the blocks taken; returns their bytes.
    fn unmap(self) -> usize {
        let mut bytes = 0;
        for &(block, pages) in &self.blocks[..self.count] {
            // SAFETY: blocks taken out of the pool, which no one else knows of.
            unsafe { unmap(block as *mut u8, pages * PAGE) };
            bytes += pages * PAGE;
        }
        bytes
    }
}

/// Keeps a freed block of `pages` pages, making room by unmapping blocks of the length the
/// pool holds most of; false (and the block is the caller's to unmap) if the pool is full of
/// blocks of its own length, or it is too large to pool.
///
/// Why evict rather than refuse: the pool would otherwise fill up with blocks of lengths
/// seldom asked for (read buffers, values of an old size) and refuse every block that would
/// be reused; in a set-heavy load of 0.9-1 MB values it then reused 41% of blocks.
fn put(block: *mut u8, pages: usize) -> bool {
    if pages > MAX_POOLED_PAGES {
        return false;
    }
    let limit = LIMIT.load(Ordering::Relaxed);
    if pages * PAGE > limit {
        return false;
    }
    let mut evicted = Evicted::<8>::new();
    let kept = {
        let mut pool = lock();
        while pool.bytes + pages * PAGE > limit && !evicted.is_full() {
            let most = pool.most_common();
            if most == pages {
                break;
            }
            evicted.take(&mut pool, most);
        }
        let fits = pool.bytes + pages * PAGE <= limit;
        if fits {
            pool.push(block, pages);
        }
        fits
    };
    evicted.unmap();
    kept
}

/// Unmaps pooled blocks, those of the lengths the pool holds most of first, until `bytes`
/// are given back or the pool is empty; returns how much was. The memory guard calls it
/// while RSS is over its target: pooled blocks are the cheapest memory to give back.
pub fn release(bytes: usize) -> usize {
    let mut released = 0;
    while released < bytes {
        let mut evicted = Evicted::<32>::new();
        {
            let mut pool = lock();
            let mut taken = 0;
            while !evicted.is_full() && released + taken < bytes && pool.bytes > 0 {
                let most = pool.most_common();
                evicted.take(&mut pool, most);
                taken += most * PAGE;
            }
        }
        match evicted.unmap() {
            0 => break,
            n => released += n,
        }
    }
    released
}

/// The first bit set in `bits` from `from` to `to` (inclusive).
fn first_set(bits: &[u64], from: usize, to: usize) -> Option<usize> {
    let mut at = from;
    while at <= to {
        let word = bits[at / 64] >> (at % 64);
        if word != 0 {
            let found = at + word.trailing_zeros() as usize;
            return (found <= to).then_some(found);
        }
        at = (at / 64 + 1) * 64;
    }
    None
}

/// The last bit set in `bits` from `from` to `to` (inclusive).
fn last_set(bits: &[u64], from: usize, to: usize) -> Option<usize> {
    (from..=to)
        .rev()
        .find(|&at| bits[at / 64] & (1 << (at % 64)) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_set_finds_the_lowest_bit_in_range() {
        let mut bits = [0u64; 9];
        bits[1] |= 1 << 6; // 70
        bits[3] |= 1; // 192
        assert_eq!(first_set(&bits, 0, 500), Some(70));
        assert_eq!(first_set(&bits, 70, 70), Some(70));
        assert_eq!(first_set(&bits, 71, 191), None);
        assert_eq!(first_set(&bits, 71, 192), Some(192));
        assert_eq!(first_set(&bits, 193, 512), None);
    }

    /// One test for the whole pool: it is one static, shared by the tests of this binary.
    #[test]
    fn freed_blocks_are_reused_trimmed_and_bounded() {
        let size = 100_000; // 25 pages
        let a = alloc(size);
        assert!(!a.is_null());
        // SAFETY: a is 100,000 writable bytes, freed once.
        unsafe {
            a.write_bytes(7, size);
            dealloc(a, size);
        }
        assert_eq!(pooled(), 25 * PAGE);
        // A slightly shorter block (24 pages) takes it, trimmed to its own length.
        let b = alloc(97_000);
        assert_eq!(b, a, "the pooled block is reused");
        assert_eq!(pooled(), 0);
        // SAFETY: b is 24 pages; the 25th was unmapped, so growing it moves or extends it.
        unsafe {
            assert_eq!(*b.add(96_999), 7);
            let c = realloc(b, 97_000, 200_000);
            assert!(!c.is_null());
            assert_eq!(*c.add(96_000), 7, "the bytes moved with the block");
            c.add(199_999).write(1);
            dealloc(c, 200_000);
        }
        // A block much smaller than any pooled one is mapped afresh.
        let small = alloc(THRESHOLD);
        assert!(pooled() > 0);
        // SAFETY: freed once.
        unsafe { dealloc(small, THRESHOLD) };
        // Over the limit, a freed block is unmapped instead of kept.
        set_pool_limit(pooled());
        let d = alloc(300_000);
        let before = pooled();
        // SAFETY: freed once.
        unsafe { dealloc(d, 300_000) };
        assert_eq!(pooled(), before);
        // Blocks too large to pool are never kept.
        set_pool_limit(usize::MAX);
        let huge = alloc(4 << 20);
        // SAFETY: freed once.
        unsafe { dealloc(huge, 4 << 20) };
        assert_eq!(pooled(), before);
        assert!(take(1024).is_none());
        // The memory guard empties it.
        assert!(pooled() > 0);
        // One block at a time: the 4-page one and the 49-page one are pooled.
        let first = release(1);
        assert!(first == 4 * PAGE || first == 49 * PAGE, "{first}");
        assert_eq!(release(usize::MAX), before - first);
        assert_eq!(pooled(), 0);
    }
}
