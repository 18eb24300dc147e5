//! Keeps the server's RSS near `-m` while a full cache changes from one value size to
//! another, by making the store evict sooner while RSS is over.
//!
//! Why: the store charges each item its real memory, and its live bytes stay within `-m`.
//! But when the items' sizes change (100-byte values, then 4 KB ones), the allocator's pages
//! of the old size stay resident until their last item is gone, and with items evicted
//! oldest first, interleaved with survivors, that takes a while: RSS ran to 80-89 MiB at
//! `-m 64` while the heap's live bytes stayed at 62-66 MiB (bench/RESULTS.md, "Memory under
//! churn"). memcached never frees its slab pages, so its RSS never goes over; ferrocache
//! frees them, and so must get them empty sooner. Every 10 ms this reads RSS; while it is
//! over the target the store holds ballast (weight that is no item, `Store::set_ballast`)
//! of the excess, so moka evicts that much more of the oldest items; once RSS is back, the
//! ballast is given back a quarter of the slack at a time. Before any ballast, the pool of
//! freed large blocks (`alloc::large`) gives back what it holds.

use crate::Shared;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// What one more idle connection costs in RSS (`scripts/bench-conns.sh`: 918 B), rounded up:
/// connections are not the store's to make room for.
const CONNECTION_COST: u64 = 1024;

/// How often RSS is read.
const TICK: Duration = Duration::from_millis(10);

/// Ticks the guard waits after a `cache_memlimit` lowering has been paced in before it
/// judges RSS against the new limit (see [`follow_rss`]).
const SETTLE_TICKS: u32 = 300;

/// While RSS rises, the guard acts on where it will be this many ticks on: evictions take
/// effect a few ticks after the ballast asks for them (the housekeeper applies them), and a
/// change from 100-byte to 4 KB values raised RSS 6 MiB in 100 ms, past the bound before
/// the evictions caught up (bench/RESULTS.md, "Large blocks", churn).
const LOOKAHEAD: u64 = 5;

/// RSS as the guard judges it: now, plus the rise it kept up over the last two ticks, for
/// [`LOOKAHEAD`] ticks more, once RSS is past `full` (the empty server's RSS and `-m`). Two
/// ticks: one large value read (a 1 MB buffer) is not a trend. Past `full`: below it, a
/// rise is the cache filling up, which must not be cut short (with 4 KB values a fill kept
/// 8% fewer items when the guard judged it ahead).
pub(crate) fn projected(rss: u64, rise: u64, last_rise: u64, full: u64) -> u64 {
    if rss <= full {
        return rss;
    }
    rss + rise.min(last_rise) * LOOKAHEAD
}

/// The RSS at which the guard starts to act: the empty server's, `-m`, a margin of 1/32 of
/// `-m` (at least 2 MiB: a small cache's RSS is mostly the allocator's fixed share), and what
/// the connections and the requests still arriving hold.
pub(crate) fn target(base: u64, limit: u64, connections: u64, inflight: u64) -> u64 {
    base + limit + (limit / 32).max(2 << 20) + connections * CONNECTION_COST + inflight
}

/// The next ballast: the excess over the target added (at most three quarters of `-m`: an
/// evicted item costs a miss, a server over its memory costs the whole cache), or once RSS is
/// well under it, a quarter of the slack given back.
pub(crate) fn next_ballast(ballast: u64, rss: u64, target: u64, limit: u64) -> u64 {
    if rss > target {
        (ballast + (rss - target)).min(limit / 4 * 3)
    } else {
        let slack = target - rss;
        if slack > (limit / 32).max(1 << 20) {
            ballast.saturating_sub(slack / 4)
        } else {
            ballast
        }
    }
}

/// The machine's physical memory (`sysconf`), if the system says.
pub(crate) fn physical_memory() -> Option<u64> {
    // SAFETY: sysconf only reads constants of the system.
    let (pages, page) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    u64::try_from(pages)
        .ok()?
        .checked_mul(u64::try_from(page).ok()?)
}

/// The process's resident memory, from `/proc/self/statm` (Linux); `None` elsewhere.
pub(crate) fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a constant of the system.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

/// Runs until the server stops (see the module's documentation). `base` is the empty
/// server's RSS, `None` where RSS cannot be read: then the loop only paces `cache_memlimit`
/// (see `Store::set_memory_limit`).
///
/// The limit it keeps RSS to is the store's capacity: the `-m` or `cache_memlimit` budget.
/// While a lowering is under way (the store evicting 8 MiB more per tick) and for
/// [`SETTLE_TICKS`] after, the guard holds its ballast as it is: RSS does not follow the
/// evictions at once, and a guard adding the excess every tick had evicted the cache down
/// to a sixth, then (judging against what the items still held) a twentieth of the new
/// budget (`scripts/bench-memlimit.sh`, -m 256 lowered to 64: 10 MB, then 3.2 MB of items
/// left). Even so, RSS stays well above the items after a large lowering until new writes
/// reuse the freed memory (109.5 MiB with 64 MiB of items, 3 s after; see
/// bench/RESULTS.md, "cache_memlimit"), and the guard then evicts up to its cap.
pub(crate) async fn follow_rss(shared: Arc<Shared>, base: Option<u64>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ballast = 0;
    let mut settling = 0;
    let base = base.unwrap_or(0);
    let (mut previous, mut last_rise) = (base, 0);
    loop {
        tokio::select! {
            _ = shared.stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let Some(now) = rss_bytes() else {
            shared.store.set_ballast(0);
            continue;
        };
        let rise = now.saturating_sub(previous);
        let store = &shared.store;
        if store.lowering() {
            settling = SETTLE_TICKS;
        }
        let limit = store.capacity();
        let mut rss = projected(now, rise, last_rise, base + limit);
        (previous, last_rise) = (now, rise);
        let target = target(
            base,
            limit,
            shared.counters.curr_connections.load(Ordering::Relaxed),
            shared.inflight.load(Ordering::Relaxed),
        );
        if rss > target {
            // Freed large blocks kept for reuse go back first: they hold no item.
            rss -= crate::alloc::large::release((rss - target) as usize) as u64;
        }
        let next = if settling > 0 {
            settling -= 1;
            ballast
        } else {
            next_ballast(ballast, rss, target, limit)
        };
        // Every tick: the store puts the ballast back when items were written (it must
        // stay among the most recently used) and takes the next step of a lowering.
        shared.store.set_ballast(next);
        ballast = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn ballast_follows_the_excess_and_goes_back_slowly() {
        let limit = 64 * MIB;
        let target = target(6 * MIB, limit, 10, 0);
        assert_eq!(target, 6 * MIB + 64 * MIB + 2 * MIB + 10 * 1024);
        // Over: the excess is added, up to three quarters of -m.
        assert_eq!(next_ballast(0, target + 5 * MIB, target, limit), 5 * MIB);
        assert_eq!(
            next_ballast(5 * MIB, target + 3 * MIB, target, limit),
            8 * MIB
        );
        assert_eq!(
            next_ballast(40 * MIB, target + 9 * MIB, target, limit),
            48 * MIB
        );
        // Just under: kept. Well under: a quarter of the slack given back.
        assert_eq!(next_ballast(8 * MIB, target - MIB, target, limit), 8 * MIB);
        assert_eq!(
            next_ballast(8 * MIB, target - 8 * MIB, target, limit),
            6 * MIB
        );
        assert_eq!(next_ballast(MIB, target - 40 * MIB, target, limit), 0);
    }

    #[test]
    fn a_steady_rise_past_full_counts_ahead() {
        let full = 69 * MIB;
        assert_eq!(projected(70 * MIB, 0, 0, full), 70 * MIB);
        // One jump (a large value read) is not a trend.
        assert_eq!(projected(70 * MIB, MIB, 0, full), 70 * MIB);
        assert_eq!(projected(70 * MIB, 0, MIB, full), 70 * MIB);
        // Two ticks rising: the smaller rise, LOOKAHEAD times.
        assert_eq!(
            projected(70 * MIB, 2 * MIB, MIB, full),
            70 * MIB + LOOKAHEAD * MIB
        );
        // The cache filling up.
        assert_eq!(projected(60 * MIB, 2 * MIB, 2 * MIB, full), 60 * MIB);
    }

    #[test]
    fn rss_is_read() {
        let rss = rss_bytes().expect("Linux");
        assert!(rss > MIB && rss < 64 * 1024 * MIB, "{rss}");
    }
}
