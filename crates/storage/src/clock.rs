//! Time as memcached keeps it.
//!
//! memcached measures time in whole seconds relative to a `process_started` instant, which it
//! sets 62 seconds before it really started (so "now" is never near zero). Expiry times, the
//! flush deadline and each item's last-store time are all in that relative unit, and the
//! conversion of a client's exptime follows its rules exactly (see [`Times::realtime`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

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
pub struct SystemClock {
    start_unix: u64,
    start: Instant,
}

impl SystemClock {
    pub fn new() -> SystemClock {
        SystemClock {
            start_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            start: Instant::now(),
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
        self.start_unix + self.start.elapsed().as_secs()
    }
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
}
