//! The thread that does moka's bookkeeping off the request threads, as often as the load
//! needs and not at all when the store is idle.
//!
//! moka applies its read and write logs (LRU order, evictions, our eviction listener) inside
//! cache calls once 64 of either are pending, and `sync::Cache` may make a writer sleep
//! briefly when its write log is full while another thread holds the bookkeeping lock.
//! Draining the logs from a thread of our own takes most of that work off the request threads.
//!
//! Why it adapts: a thread that wakes every millisecond costs about 20 µs of CPU per wake on
//! this (virtual) machine, whatever there is to do: 2% of a core with no client at all, where
//! memcached sleeps. So the interval follows the rate of commands: about [`OPS_PER_TICK`]
//! commands per round, between [`MIN_INTERVAL`] and [`MAX_INTERVAL`]; after [`IDLE_AFTER`]
//! without any cache access the thread parks until the next access wakes it
//! ([`Waker::touch`]), or for at most [`IDLE_SLEEP`].

use crate::counters::Counters;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::Duration;

/// The shortest interval between two rounds of bookkeeping (under load).
pub(crate) const MIN_INTERVAL: Duration = Duration::from_millis(1);
/// The longest interval while commands arrive.
pub(crate) const MAX_INTERVAL: Duration = Duration::from_millis(16);
/// About this many commands per round: what moka lets pile up (64 reads or 64 writes per
/// cache) before a request applies them itself. Above 64,000 commands a second the 1 ms
/// floor lets more pile up, as the fixed 1 ms did.
pub(crate) const OPS_PER_TICK: u64 = 64;
/// The interval at which a store without cache accesses is called idle and the thread parks.
pub(crate) const IDLE_AFTER: Duration = Duration::from_millis(64);
/// The longest park: an idle store still gets one round of bookkeeping this often.
pub(crate) const IDLE_SLEEP: Duration = Duration::from_secs(1);

/// What the request threads share with the housekeeper: whether the cache was used since
/// its last round, whether it is parked, and how to wake it. Every cache access reads
/// `busy`, so the struct gets cache lines of its own: a neighbour written by requests would
/// make each of those reads a miss.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct Waker {
    busy: AtomicBool,
    parked: AtomicBool,
    stop: AtomicBool,
    thread: OnceLock<Thread>,
}

impl Waker {
    /// Called after every cache access. Under load `busy` is already set and this is one
    /// relaxed load; otherwise it sets `busy` and wakes the housekeeper if it is parked.
    ///
    /// Why no wake-up is lost: the housekeeper sets `parked`, then reads `busy`; this sets
    /// `busy`, then reads `parked`, all four sequentially consistent, so at least one side
    /// sees the other's write: either the housekeeper does not park, or this unparks it.
    #[inline]
    pub(crate) fn touch(&self) {
        if !self.busy.load(Ordering::Relaxed) {
            self.busy.store(true, Ordering::SeqCst);
            if self.parked.load(Ordering::SeqCst) && self.parked.swap(false, Ordering::SeqCst) {
                self.unpark();
            }
        }
    }

    /// Ends the thread (when the store is dropped).
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.unpark();
    }

    fn unpark(&self) {
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }
}

/// Stored bytes that count as one more command (see [`commands`]).
pub(crate) const BYTES_PER_COMMAND: u64 = 64 * 1024;

/// The store's command counters, summed: their change over a round is the command rate.
/// Only the rate: whether the cache is used at all is `Waker::busy`, which every access sets.
///
/// A command that stores a large value counts once more for every [`BYTES_PER_COMMAND`] of
/// it. Why: the items a full cache evicts in one round are freed together, and the server's
/// pool of large blocks (`alloc::large`) can reuse them for the next values only if a round
/// frees no more than it holds. Paced by commands alone, sets of 1 MB values freed 12 MB per
/// round, and at `-m 64` 60% of new values took fresh (zeroed, faulted-in) memory.
fn commands(c: &Counters) -> u64 {
    let written = c.charged_total.load(Ordering::Relaxed) / BYTES_PER_COMMAND;
    let reclaimed = c.reclaimed_total.load(Ordering::Relaxed);
    c.stripes().fold(written.wrapping_add(reclaimed), |sum, h| {
        [
            &h.cmd_get,
            &h.cmd_set,
            &h.cmd_touch,
            &h.delete_hits,
            &h.delete_misses,
            &h.incr_hits,
            &h.incr_misses,
            &h.decr_hits,
            &h.decr_misses,
        ]
        .iter()
        .fold(sum, |sum, n| sum.wrapping_add(n.load(Ordering::Relaxed)))
    })
}

/// The next interval, after `ops` commands in the last `interval`: about [`OPS_PER_TICK`]
/// commands per round, within [`MIN_INTERVAL`] and [`MAX_INTERVAL`]; with none, twice the
/// last, up to [`IDLE_AFTER`] (which parks).
pub(crate) fn next_interval(interval: Duration, ops: u64) -> Duration {
    if ops == 0 {
        return (interval * 2).min(IDLE_AFTER);
    }
    let micros = interval.as_micros() as u64 * OPS_PER_TICK / ops;
    Duration::from_micros(micros).clamp(MIN_INTERVAL, MAX_INTERVAL)
}

thread_local! {
    /// Set on the housekeeper thread: moka's eviction listener runs on whichever thread does
    /// moka's pending work, and an eviction anywhere else is one a request paid for.
    static ON_HOUSEKEEPER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Is this the housekeeper thread?
pub(crate) fn on_this_thread() -> bool {
    ON_HOUSEKEEPER.with(std::cell::Cell::get)
}

/// Starts the thread. `work` is one round of bookkeeping; an idle thread parks for at most
/// `idle_sleep` ([`IDLE_SLEEP`]; a test passes longer).
pub(crate) fn spawn(
    waker: Arc<Waker>,
    counters: Arc<Counters>,
    idle_sleep: Duration,
    work: impl Fn() + Send + 'static,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("ferrocache-housekeeper".into())
        .spawn(move || {
            // Before any park, so that a touch can always reach this thread.
            let _ = waker.thread.set(std::thread::current());
            ON_HOUSEKEEPER.with(|on| on.set(true));
            let mut interval = MIN_INTERVAL;
            let mut seen = commands(&counters);
            while !waker.stop.load(Ordering::Relaxed) {
                work();
                counters
                    .mine()
                    .housekeeper_rounds
                    .fetch_add(1, Ordering::Relaxed);
                if interval >= IDLE_AFTER {
                    waker.parked.store(true, Ordering::SeqCst);
                    if !waker.busy.load(Ordering::SeqCst) {
                        std::thread::park_timeout(idle_sleep);
                    }
                    waker.parked.store(false, Ordering::SeqCst);
                    if waker.busy.swap(false, Ordering::SeqCst) {
                        // Woken by a request: a round right after its command, then the
                        // rate decides.
                        interval = MIN_INTERVAL;
                        seen = commands(&counters);
                    }
                    // Otherwise the timeout (or a spurious wake-up): one round, park again.
                    continue;
                }
                std::thread::sleep(interval);
                let now = commands(&counters);
                let ops = now.wrapping_sub(seen);
                seen = now;
                interval = if waker.busy.swap(false, Ordering::SeqCst) {
                    // Accesses without a counted command still count as a command.
                    next_interval(interval, ops.max(1))
                } else {
                    next_interval(interval, 0)
                };
            }
        })
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_follows_the_command_rate() {
        let ms = Duration::from_millis;
        let us = Duration::from_micros;
        for (interval, ops, want) in [
            // Saturated: as often as allowed.
            (ms(1), 140, ms(1)),
            (ms(1), 64, ms(1)),
            // 5,000 commands a second: 64 of them every 12.8 ms.
            (ms(1), 5, us(12_800)),
            (us(12_800), 64, us(12_800)),
            // Slower still: no longer than MAX_INTERVAL while commands come.
            (ms(16), 1, MAX_INTERVAL),
            // A burst after a long interval: back to the shortest.
            (ms(16), 10_000, MIN_INTERVAL),
            // No command: twice as long, then IDLE_AFTER, where the thread parks.
            (ms(1), 0, ms(2)),
            (ms(16), 0, ms(32)),
            (ms(32), 0, IDLE_AFTER),
            (IDLE_AFTER, 0, IDLE_AFTER),
        ] {
            assert_eq!(
                next_interval(interval, ops),
                want,
                "{interval:?}, {ops} commands"
            );
        }
    }

    /// Large values pace the rounds too: 1 MiB stored counts as 16 commands, and a real set
    /// of a 1 MB value moves the count by about that.
    #[test]
    fn stored_bytes_count_as_commands() {
        let c = Counters::default();
        let before = commands(&c);
        c.mine().cmd_set.fetch_add(1, Ordering::Relaxed);
        assert_eq!(commands(&c) - before, 1);
        c.charged_total
            .fetch_add(16 * BYTES_PER_COMMAND, Ordering::Relaxed);
        assert_eq!(commands(&c) - before, 17);
        let store = crate::Store::new(crate::StoreConfig::default());
        let before = commands(&store.counters);
        let value = bytes::Bytes::from(vec![b'v'; 1_000_000]);
        let stored = store.store(crate::StoreMode::Set, b"big", 0, 0, value);
        assert_eq!(stored, crate::StoreOutcome::Stored);
        let counted = commands(&store.counters) - before;
        assert!((15..=17).contains(&counted), "{counted}");
    }

    /// Idle, the thread parks and stops waking (its park timeout here is a minute, so only a
    /// touch can wake it); the first access wakes it at once for a round, without any
    /// command counted; and it parks again once idle.
    #[test]
    fn an_idle_housekeeper_parks_and_a_touch_wakes_it() {
        use std::sync::atomic::AtomicU64;
        let waker = Arc::new(Waker::default());
        let counters = Arc::new(Counters::default());
        let rounds = Arc::new(AtomicU64::new(0));
        let r = rounds.clone();
        let minute = Duration::from_secs(60);
        spawn(waker.clone(), counters, minute, move || {
            r.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        // Rounds at 1 + 2 + 4 + ... + 32 ms, then parked.
        assert!(
            wait_for(|| waker.parked.load(Ordering::SeqCst)),
            "parks when idle"
        );
        let before = rounds.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            rounds.load(Ordering::SeqCst),
            before,
            "no rounds while parked"
        );
        waker.touch();
        assert!(
            wait_for(|| rounds.load(Ordering::SeqCst) > before),
            "woken by a touch"
        );
        assert!(
            wait_for(|| waker.parked.load(Ordering::SeqCst)),
            "parks again"
        );
        waker.stop();
    }

    /// Polls `done` for up to 5 s.
    fn wait_for(done: impl Fn() -> bool) -> bool {
        for _ in 0..500 {
            if done() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}
