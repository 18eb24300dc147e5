//! The thread that does moka's bookkeeping off the request threads, as often as the load
//! needs and not at all when the store is idle.
//!
//! moka applies its read and write logs (LRU order, evictions, our eviction listener) inside
//! cache calls, and `sync::Cache` may make a writer sleep briefly when its write log is full.
//! Draining the logs from a thread of our own keeps that work off the request threads.
//!
//! Why it adapts: a thread that wakes every millisecond costs about 20 µs of CPU per wake on
//! this (virtual) machine, whatever there is to do: 2% of a core with no client at all, where
//! memcached sleeps. So the interval follows the rate of commands: about [`OPS_PER_TICK`]
//! commands per wake, between [`MIN_INTERVAL`] and [`MAX_INTERVAL`]; with no command for
//! [`IDLE_AFTER`] the thread parks until the next cache access wakes it ([`Waker::touch`]),
//! or for at most [`IDLE_SLEEP`].

use crate::counters::Counters;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::Duration;

/// The shortest interval between two rounds of bookkeeping (under load).
pub(crate) const MIN_INTERVAL: Duration = Duration::from_millis(1);
/// The longest interval while commands arrive.
pub(crate) const MAX_INTERVAL: Duration = Duration::from_millis(16);
/// About this many commands between two rounds: well below the 64 reads at which moka
/// applies a cache's read log inside a request.
pub(crate) const OPS_PER_TICK: u64 = 64;
/// The interval at which a store without commands is called idle and the thread parks.
pub(crate) const IDLE_AFTER: Duration = Duration::from_millis(64);
/// The longest park: an idle store still gets a round of bookkeeping this often.
pub(crate) const IDLE_SLEEP: Duration = Duration::from_secs(1);

/// What the request threads share with the housekeeper: whether it is parked, and how to
/// wake it. Every cache access reads `parked`, so it gets cache lines of its own: a
/// neighbour written by requests would make each of those reads a miss.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct Waker {
    parked: AtomicBool,
    stop: AtomicBool,
    thread: OnceLock<Thread>,
}

impl Waker {
    /// Called on every cache access: wakes the housekeeper if it is parked. One relaxed load
    /// on the hot path; the line is written only when the housekeeper parks or wakes.
    #[inline]
    pub(crate) fn touch(&self) {
        if self.parked.load(Ordering::Relaxed) && self.parked.swap(false, Ordering::SeqCst) {
            self.unpark();
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

/// The commands that reach moka so far, by the store's counters. Any change is activity
/// (`stats reset` zeroes them).
fn commands(c: &Counters) -> u64 {
    [
        &c.cmd_get,
        &c.cmd_set,
        &c.cmd_touch,
        &c.delete_hits,
        &c.delete_misses,
        &c.incr_hits,
        &c.incr_misses,
        &c.decr_hits,
        &c.decr_misses,
    ]
    .iter()
    .fold(0u64, |sum, n| sum.wrapping_add(n.load(Ordering::Relaxed)))
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

/// Starts the thread. `work` is one round of bookkeeping.
pub(crate) fn spawn(
    waker: Arc<Waker>,
    counters: Arc<Counters>,
    work: impl Fn() + Send + 'static,
) -> std::io::Result<()> {
    let handle = {
        let waker = waker.clone();
        std::thread::Builder::new()
            .name("ferrocache-housekeeper".into())
            .spawn(move || {
                let mut interval = MIN_INTERVAL;
                let mut seen = commands(&counters);
                while !waker.stop.load(Ordering::Relaxed) {
                    work();
                    if interval >= IDLE_AFTER {
                        waker.parked.store(true, Ordering::SeqCst);
                        // A command counted since the last look would otherwise wait for the
                        // next touch to wake us: look once more after raising the flag.
                        if commands(&counters) == seen {
                            std::thread::park_timeout(IDLE_SLEEP);
                        }
                        waker.parked.store(false, Ordering::SeqCst);
                        interval = MIN_INTERVAL;
                    } else {
                        std::thread::sleep(interval);
                    }
                    let now = commands(&counters);
                    interval = next_interval(interval, now.wrapping_sub(seen));
                    seen = now;
                }
            })?
    };
    let _ = waker.thread.set(handle.thread().clone());
    Ok(())
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

    /// Idle, the thread parks and stops waking; a touch wakes it at once for a round.
    #[test]
    fn an_idle_housekeeper_parks_and_a_touch_wakes_it() {
        use std::sync::atomic::AtomicU64;
        let waker = Arc::new(Waker::default());
        let counters = Arc::new(Counters::default());
        let rounds = Arc::new(AtomicU64::new(0));
        let r = rounds.clone();
        spawn(waker.clone(), counters.clone(), move || {
            r.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        // 1 + 2 + 4 + ... + 32 ms of idle rounds, then parked.
        let parked = wait_for(|| waker.parked.load(Ordering::SeqCst));
        assert!(parked, "parks when idle");
        let before = rounds.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(
            rounds.load(Ordering::SeqCst),
            before,
            "no rounds while parked"
        );
        counters.cmd_get.fetch_add(1, Ordering::Relaxed);
        waker.touch();
        assert!(wait_for(|| rounds.load(Ordering::SeqCst) > before), "woken");
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
