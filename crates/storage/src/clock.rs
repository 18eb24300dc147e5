//! Time as memcached keeps it.
//!
//! memcached measures time in whole seconds relative to a `process_started` instant, which it
//! sets 62 seconds before it really started (so "now" is never near zero). Expiry times, the
//! flush deadline and each item's last-store time are all in that relative unit, and the
//! conversion of a client's exptime follows its rules exactly (see [`Times::realtime`]).

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time in whole unix seconds, swappable in tests.
pub trait Clock: Send + Sync + 'static {
    fn unix_now(&self) -> u64;
}

/// The system's clock, advancing as memcached's does: whole seconds counted on a monotonic
/// clock from the moment it was made, added to the unix time of that moment.
///
/// memcached samples a monotonic clock once a second from its start, so its "now" is its start
/// plus the whole seconds since. Reading the wall clock instead would tick at wall-second
/// boundaries, up to a second earlier than memcached: a TTL read back a few hundred
/// milliseconds after it was set could then show one second less than memcached shows.
///
/// The monotonic clock read is the kernel's coarse one, which the vDSO answers from the last
/// timer tick without reading the hardware clock: every request reads the time, and whole
/// seconds do not need more than a tick's precision (1 to 10 ms by the kernel's HZ; 4 ms on
/// the machines measured).
pub struct SystemClock {
    start_unix: u64,
    start: Duration,
}

impl SystemClock {
    pub fn new() -> SystemClock {
        SystemClock {
            start_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            start: coarse_monotonic(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn unix_now(&self) -> u64 {
        self.start_unix + coarse_monotonic().saturating_sub(self.start).as_secs()
    }
}

/// `CLOCK_MONOTONIC_COARSE`: time since boot as of the last timer tick.
#[cfg(target_os = "linux")]
pub fn coarse_monotonic() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the struct we pass. It cannot fail for a
    // clock id that Linux has had since 2.6.32; if it did, `ts` stays zero and time stands
    // still rather than going wrong.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Elsewhere, the precise monotonic clock, from the first call on.
#[cfg(not(target_os = "linux"))]
pub fn coarse_monotonic() -> Duration {
    static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    ORIGIN.get_or_init(std::time::Instant::now).elapsed()
}

/// A clock that moves only when told to, for tests.
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn new(unix_now: u64) -> ManualClock {
        ManualClock(AtomicU64::new(unix_now))
    }

    pub fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn unix_now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A clock a client can move: memcached's debug build's `debugtime`, which its own test
/// suite (`t/expirations.t` and others) uses instead of sleeping. ferrocache turns it on
/// only with `-o debug_clock`: anyone who can connect could otherwise expire every item.
///
/// ```text
/// debugtime <seconds>\r\n   move the clock (memcached adds it to all earlier moves)
/// debugtime p\r\n           pause the clock
/// debugtime r\r\n           resume it
/// ```
pub struct DebugClock {
    inner: SystemClock,
    /// Seconds added by `debugtime`, all moves together.
    offset: AtomicI64,
    /// While paused, the clock reads the time it was paused at.
    paused: AtomicBool,
    paused_at: AtomicU64,
}

impl DebugClock {
    pub fn new() -> DebugClock {
        DebugClock {
            inner: SystemClock::new(),
            offset: AtomicI64::new(0),
            paused: AtomicBool::new(false),
            paused_at: AtomicU64::new(0),
        }
    }

    /// `debugtime <seconds>`.
    pub fn advance(&self, secs: i64) {
        self.offset.fetch_add(secs, Ordering::SeqCst);
    }

    /// `debugtime p`.
    pub fn pause(&self) {
        if !self.paused.load(Ordering::SeqCst) {
            self.paused_at
                .store(self.inner.unix_now(), Ordering::SeqCst);
            self.paused.store(true, Ordering::SeqCst);
        }
    }

    /// `debugtime r`.
    pub fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
    }
}

impl Default for DebugClock {
    fn default() -> Self {
        DebugClock::new()
    }
}

impl Clock for DebugClock {
    fn unix_now(&self) -> u64 {
        let base = if self.paused.load(Ordering::SeqCst) {
            self.paused_at.load(Ordering::SeqCst)
        } else {
            self.inner.unix_now()
        };
        base.saturating_add_signed(self.offset.load(Ordering::SeqCst))
    }
}

/// Exptimes up to this many seconds (30 days) are relative; larger ones are unix times.
pub const REALTIME_MAXDELTA: i64 = 60 * 60 * 24 * 30;

/// memcached's relative clock.
pub struct Times {
    /// Unix time that relative time 0 stands for.
    pub process_started: u64,
}

impl Times {
    pub fn new(unix_now: u64) -> Times {
        // memcached backs its start time off by ITEM_UPDATE_INTERVAL + 2 seconds.
        Times {
            process_started: unix_now.saturating_sub(62),
        }
    }

    /// The current relative time.
    pub fn current(&self, unix_now: u64) -> u32 {
        unix_now.saturating_sub(self.process_started) as u32
    }

    /// A client's exptime as a relative expiry time: 0 means never; 1 means long ago.
    ///
    /// Negative values are already expired; values up to 30 days count from now; larger
    /// values are unix times, and one that is not after the start counts as already expired.
    pub fn realtime(&self, exptime: i64, current: u32) -> u32 {
        let exptime = if exptime < 0 {
            REALTIME_MAXDELTA + 1
        } else {
            exptime
        };
        if exptime == 0 {
            0
        } else if exptime > REALTIME_MAXDELTA {
            if exptime as u64 <= self.process_started {
                1
            } else {
                (exptime as u64 - self.process_started) as u32
            }
        } else {
            (exptime as u32).wrapping_add(current)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realtime_known_answers() {
        let start = 1_800_000_000;
        let t = Times::new(start);
        let now = t.current(start);
        assert_eq!(now, 62);
        let table: &[(i64, u32)] = &[
            (0, 0),
            (1, now + 1),
            (REALTIME_MAXDELTA, now + REALTIME_MAXDELTA as u32),
            (-1, 1),
            (i64::from(i32::MIN), 1),
            (REALTIME_MAXDELTA + 1, 1),
            (start as i64 - 100, 1),
            (start as i64 + 100, 162),
        ];
        for (exptime, want) in table {
            assert_eq!(t.realtime(*exptime, now), *want, "exptime {exptime}");
        }
    }

    #[test]
    fn the_debug_clock_moves_pauses_and_resumes() {
        let clock = DebugClock::new();
        let start = clock.unix_now();
        clock.advance(100);
        assert!((start + 100..=start + 101).contains(&clock.unix_now()));
        clock.pause();
        let paused = clock.unix_now();
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(clock.unix_now(), paused);
        clock.advance(-50);
        assert_eq!(clock.unix_now(), paused - 50);
        clock.resume();
        assert!(clock.unix_now() > paused - 50, "moving again");
    }

    #[test]
    fn coarse_clock_keeps_up_with_the_precise_one() {
        let precise = std::time::Instant::now();
        let coarse = coarse_monotonic();
        std::thread::sleep(Duration::from_millis(120));
        let moved = coarse_monotonic() - coarse;
        let real = precise.elapsed();
        // It moves at the precise clock's pace: never ahead of it by more than a tick (1 to 10
        // ms), and not far behind. The lower bound is loose because a virtual machine's
        // coarse clock can lag for a few ticks when the host delays its timer; a clock that
        // stood still or counted in the wrong unit would still fail it.
        assert!(moved * 2 >= real, "{moved:?} vs {real:?}");
        assert!(
            moved <= real + Duration::from_millis(20),
            "{moved:?} vs {real:?}"
        );
    }
}
