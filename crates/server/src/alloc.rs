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

use std::os::raw::c_long;

/// mimalloc v3's `mi_option_generic_collect` (libmimalloc-sys names no constant for it).
const GENERIC_COLLECT: libmimalloc_sys::mi_option_t = 34;
const GENERIC_COLLECT_DEFAULT: c_long = 10_000;
/// Ours.
pub const GENERIC_COLLECT_SERVER: c_long = 1_000;

/// Applies the server's mimalloc settings, unless the environment sets them
/// (`MIMALLOC_GENERIC_COLLECT`), as mimalloc's own environment variables normally do. Does
/// nothing if option 34 does not hold mimalloc's documented default, which would mean a
/// mimalloc whose option numbers differ.
pub fn tune_allocator() {
    if std::env::var_os("MIMALLOC_GENERIC_COLLECT").is_some() {
        return;
    }
    // SAFETY: mimalloc's option calls take any option number and are thread-safe.
    unsafe {
        if libmimalloc_sys::mi_option_get(GENERIC_COLLECT) == GENERIC_COLLECT_DEFAULT {
            libmimalloc_sys::mi_option_set(GENERIC_COLLECT, GENERIC_COLLECT_SERVER);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Option 34 is `generic_collect` in the mimalloc we link: it starts at mimalloc's
    /// documented default, and `tune_allocator` changes it. A mimalloc upgrade that renumbers
    /// the options fails here instead of silently tuning nothing.
    #[test]
    fn generic_collect_is_option_34_and_gets_tuned() {
        if std::env::var_os("MIMALLOC_GENERIC_COLLECT").is_some() {
            return;
        }
        // SAFETY: as in `tune_allocator`.
        let before = unsafe { libmimalloc_sys::mi_option_get(GENERIC_COLLECT) };
        assert_eq!(before, GENERIC_COLLECT_DEFAULT);
        tune_allocator();
        let after = unsafe { libmimalloc_sys::mi_option_get(GENERIC_COLLECT) };
        assert_eq!(after, GENERIC_COLLECT_SERVER);
    }
}
