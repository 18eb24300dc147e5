//! Per-command latency histograms, recorded on the request path.
//!
//! What is timed: from the moment a connection starts on the bytes it has read (or the end
//! of the request before it, in a pipeline) to the moment the request's reply is queued,
//! which is parsing plus executing. Writing the reply to the socket is not in it: that
//! depends on the client and the network, which the client measures better.
//!
//! Why sharded atomics: every worker thread records every request, so the figures must not
//! be behind a lock, and a single set of counters shared by all workers would bounce its
//! cache lines between the cores at every request. Each thread picks one of [`SHARDS`]
//! shards once (round robin), so with up to [`SHARDS`] threads no two write the same line;
//! recording is two relaxed `fetch_add`s, no lock and no allocation. A scrape sums the
//! shards. It reads them while they move, so a scrape may see a request in a bucket and not
//! yet in the sum (or the reverse): each figure is exact on its own, and is never behind by
//! more than the requests under way.

use super::encode::Histogram;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

/// The buckets' upper bounds, in nanoseconds: fixed, so every ferrocache exposes the same
/// `le`s and dashboards can add them up across instances. From half a microsecond (a `get`
/// of a small value in a release build) to a second.
pub(crate) const BOUNDS_NS: [u64; 19] = [
    500,
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    1_000_000_000,
];

/// Buckets per series: one per bound, and one for what is over the last.
const BUCKETS: usize = BOUNDS_NS.len() + 1;

/// The command groups the histograms are labelled with (`command="..."`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// `get`, `gets`; binary GET, GETQ, GETK, GETKQ.
    Get,
    /// `gat`, `gats`; binary GAT, GATQ, GATK, GATKQ.
    Gat,
    /// `set`, `add`, `replace`, `append`, `prepend`, `cas`; the binary ones and their
    /// quiet forms.
    Set,
    Delete,
    /// `incr`, `decr`; binary INCREMENT, DECREMENT.
    IncrDecr,
    Touch,
    /// `flush_all`; binary FLUSH.
    Flush,
    /// `mg`
    MetaGet,
    /// `ms`
    MetaSet,
    /// `md`
    MetaDelete,
    /// `ma`
    MetaArithmetic,
    /// `mn`, `me`
    MetaOther,
    /// Everything else: `stats`, `version`, `verbosity`, NOOP, SASL, refused lines...
    Other,
}

impl Op {
    pub const ALL: [Op; 13] = [
        Op::Get,
        Op::Gat,
        Op::Set,
        Op::Delete,
        Op::IncrDecr,
        Op::Touch,
        Op::Flush,
        Op::MetaGet,
        Op::MetaSet,
        Op::MetaDelete,
        Op::MetaArithmetic,
        Op::MetaOther,
        Op::Other,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Gat => "gat",
            Op::Set => "set",
            Op::Delete => "delete",
            Op::IncrDecr => "incr_decr",
            Op::Touch => "touch",
            Op::Flush => "flush",
            Op::MetaGet => "meta_get",
            Op::MetaSet => "meta_set",
            Op::MetaDelete => "meta_delete",
            Op::MetaArithmetic => "meta_arithmetic",
            Op::MetaOther => "meta_other",
            Op::Other => "other",
        }
    }

    fn is_meta(self) -> bool {
        matches!(
            self,
            Op::MetaGet | Op::MetaSet | Op::MetaDelete | Op::MetaArithmetic | Op::MetaOther
        )
    }

    /// The group of a text-protocol request.
    pub fn text(request: &ferrocache_protocol::text::Request<'_>) -> Op {
        use ferrocache_protocol::meta::MetaCommand;
        use ferrocache_protocol::text::{GetKind, Request};
        match request {
            Request::Get { kind, .. } => match kind {
                GetKind::Get | GetKind::Gets => Op::Get,
                GetKind::Gat | GetKind::Gats => Op::Gat,
            },
            Request::Store { .. } | Request::TooLarge { .. } => Op::Set,
            Request::Delete { .. } => Op::Delete,
            Request::Arith { .. } => Op::IncrDecr,
            Request::Touch { .. } => Op::Touch,
            Request::FlushAll { .. } => Op::Flush,
            Request::Meta(m) => match m.command {
                MetaCommand::Get => Op::MetaGet,
                MetaCommand::Set => Op::MetaSet,
                MetaCommand::Delete => Op::MetaDelete,
                MetaCommand::Arith => Op::MetaArithmetic,
                MetaCommand::Debug => Op::MetaOther,
            },
            Request::MetaTooLarge { .. } => Op::MetaSet,
            Request::MetaNoop => Op::MetaOther,
            _ => Op::Other,
        }
    }

    /// The group of a binary-protocol opcode (quiet forms as their loud twins).
    pub fn binary(opcode: u8) -> Op {
        use ferrocache_protocol::binary::opcode::*;
        match loud(opcode).unwrap_or(opcode) {
            GET | GETK => Op::Get,
            GAT | GATK => Op::Gat,
            SET | ADD | REPLACE | APPEND | PREPEND => Op::Set,
            DELETE => Op::Delete,
            INCREMENT | DECREMENT => Op::IncrDecr,
            TOUCH => Op::Touch,
            FLUSH => Op::Flush,
            _ => Op::Other,
        }
    }
}

/// The protocol label (`protocol="ascii"` or `"binary"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Proto {
    Ascii,
    Binary,
}

impl Proto {
    pub fn label(self) -> &'static str {
        match self {
            Proto::Ascii => "ascii",
            Proto::Binary => "binary",
        }
    }
}

/// A series' index: protocol, then command group.
const SERIES: usize = 2 * Op::ALL.len();

fn series(proto: Proto, op: Op) -> usize {
    proto as usize * Op::ALL.len() + op as usize
}

/// Shards: threads beyond this many share them (still correct, atomics).
const SHARDS: usize = 16;

/// One thread's counters, on cache lines of their own.
#[repr(align(128))]
struct Shard {
    buckets: [[AtomicU64; BUCKETS]; SERIES],
    sum_ns: [AtomicU64; SERIES],
}

impl Shard {
    fn new() -> Shard {
        Shard {
            buckets: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            sum_ns: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// Which shard this thread writes, picked at its first request.
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static SHARD: usize = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
}

/// The histograms of a server (`-o metrics_listen` only: without it nothing is timed).
pub(crate) struct Latency {
    shards: Box<[Shard]>,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            shards: (0..SHARDS).map(|_| Shard::new()).collect(),
        }
    }
}

/// What one series holds, summed over the shards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub proto: Proto,
    pub op: Op,
    /// Per bucket, not cumulative; the last is over the last bound.
    pub buckets: [u64; BUCKETS],
    pub sum_ns: u64,
}

impl Snapshot {
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    pub fn histogram(&self) -> Histogram {
        Histogram {
            buckets: BOUNDS_NS
                .iter()
                .zip(self.buckets)
                .map(|(&ns, n)| (ns as f64 / 1e9, n))
                .collect(),
            sum: self.sum_ns as f64 / 1e9,
            count: self.count(),
        }
    }
}

impl Latency {
    /// Counts a request of `ns` nanoseconds.
    pub fn record(&self, proto: Proto, op: Op, ns: u64) {
        let shard = &self.shards[SHARD.with(|s| *s)];
        // `le` is inclusive: a request of exactly a bound is in that bound's bucket.
        let bucket = BOUNDS_NS
            .iter()
            .position(|&b| ns <= b)
            .unwrap_or(BOUNDS_NS.len());
        let i = series(proto, op);
        shard.buckets[i][bucket].fetch_add(1, Ordering::Relaxed);
        shard.sum_ns[i].fetch_add(ns, Ordering::Relaxed);
    }

    /// Every series there can be (binary has no meta commands), summed over the shards.
    pub fn snapshot(&self) -> Vec<Snapshot> {
        let mut out = Vec::with_capacity(SERIES);
        for proto in [Proto::Ascii, Proto::Binary] {
            for op in Op::ALL {
                if proto == Proto::Binary && op.is_meta() {
                    continue;
                }
                let i = series(proto, op);
                let mut snap = Snapshot {
                    proto,
                    op,
                    buckets: [0; BUCKETS],
                    sum_ns: 0,
                };
                for shard in self.shards.iter() {
                    for (b, n) in snap.buckets.iter_mut().zip(&shard.buckets[i]) {
                        *b += n.load(Ordering::Relaxed);
                    }
                    snap.sum_ns += shard.sum_ns[i].load(Ordering::Relaxed);
                }
                out.push(snap);
            }
        }
        out
    }
}

/// Times the requests of one pass over a connection's read buffer: each lap ends one
/// request and starts the next, so a request costs one clock read. Does nothing (reads no
/// clock) when the server has no histograms.
pub(crate) struct Laps<'a> {
    running: Option<(&'a Latency, Instant)>,
}

impl<'a> Laps<'a> {
    pub fn start(latency: Option<&'a Latency>) -> Laps<'a> {
        Laps {
            running: latency.map(|l| (l, Instant::now())),
        }
    }

    /// The request just done was of `op`: counts the time since the last lap.
    #[inline]
    pub fn lap(&mut self, proto: Proto, op: Op) {
        if let Some((latency, last)) = &mut self.running {
            let now = Instant::now();
            let ns = now.duration_since(*last).as_nanos();
            latency.record(proto, op, u64::try_from(ns).unwrap_or(u64::MAX));
            *last = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(snaps: &[Snapshot], proto: Proto, op: Op) -> Snapshot {
        snaps
            .iter()
            .find(|s| s.proto == proto && s.op == op)
            .cloned()
            .unwrap()
    }

    #[test]
    fn buckets_are_inclusive_and_overflow_goes_last() {
        let l = Latency::default();
        l.record(Proto::Ascii, Op::Get, 0);
        l.record(Proto::Ascii, Op::Get, 500);
        l.record(Proto::Ascii, Op::Get, 501);
        l.record(Proto::Ascii, Op::Get, 2_000_000_000);
        l.record(Proto::Binary, Op::Set, 7_000);
        let snaps = l.snapshot();
        let get = find(&snaps, Proto::Ascii, Op::Get);
        assert_eq!(get.buckets[0], 2);
        assert_eq!(get.buckets[1], 1);
        assert_eq!(get.buckets[BUCKETS - 1], 1);
        assert_eq!(get.count(), 4);
        assert_eq!(get.sum_ns, 2_000_001_001);
        let set = find(&snaps, Proto::Binary, Op::Set);
        assert_eq!(set.count(), 1);
        assert_eq!(set.buckets[4], 1, "7 us is in the 10 us bucket");
        assert_eq!(find(&snaps, Proto::Ascii, Op::Set).count(), 0);
    }

    #[test]
    fn binary_has_no_meta_series() {
        let snaps = Latency::default().snapshot();
        assert_eq!(snaps.len(), 13 + 8);
        assert!(!snaps
            .iter()
            .any(|s| s.proto == Proto::Binary && s.op.is_meta()));
    }

    #[test]
    fn threads_on_other_shards_add_up() {
        let l = std::sync::Arc::new(Latency::default());
        let threads: Vec<_> = (0..20)
            .map(|_| {
                let l = l.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        l.record(Proto::Ascii, Op::Delete, 1_000);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let d = find(&l.snapshot(), Proto::Ascii, Op::Delete);
        assert_eq!(d.count(), 20_000);
        assert_eq!(d.buckets[1], 20_000);
        assert_eq!(d.sum_ns, 20_000_000);
    }

    #[test]
    fn histogram_bounds_are_seconds() {
        let l = Latency::default();
        l.record(Proto::Ascii, Op::Touch, 1_500);
        let h = find(&l.snapshot(), Proto::Ascii, Op::Touch).histogram();
        assert_eq!(h.buckets[0].0, 0.0000005);
        assert_eq!(h.buckets.last().unwrap().0, 1.0);
        assert_eq!(h.buckets[2], (0.0000025, 1));
        assert_eq!(h.count, 1);
        assert_eq!(h.sum, 0.0000015);
    }

    #[test]
    fn laps_without_histograms_do_nothing() {
        let mut laps = Laps::start(None);
        laps.lap(Proto::Ascii, Op::Get);
        assert!(laps.running.is_none());
        let l = Latency::default();
        let mut laps = Laps::start(Some(&l));
        laps.lap(Proto::Ascii, Op::Get);
        laps.lap(Proto::Ascii, Op::Get);
        assert_eq!(find(&l.snapshot(), Proto::Ascii, Op::Get).count(), 2);
    }
}
