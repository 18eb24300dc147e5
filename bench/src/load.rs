//! The load engine: threads of connections, each keeping up to `pipeline` requests in
//! flight, timing every request from the write that carried it to its parsed reply.

use crate::conn::{push_get, push_set, Conn};
use crate::keys::{KeySpace, Rng};
use crate::reply::Reply;
use hdrhistogram::Histogram;
use std::collections::VecDeque;
use std::io::{Error, ErrorKind, Result};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Latencies are kept in microseconds, 1 µs to 60 s, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

/// `set:get`, e.g. `1:10`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ratio {
    pub set: u32,
    pub get: u32,
}

impl FromStr for Ratio {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (a, b) = s
            .split_once(':')
            .ok_or_else(|| format!("ratio {s:?} is not set:get"))?;
        let set = a
            .trim()
            .parse()
            .map_err(|_| format!("bad set count in {s:?}"))?;
        let get = b
            .trim()
            .parse()
            .map_err(|_| format!("bad get count in {s:?}"))?;
        if set == 0 && get == 0 {
            return Err("ratio 0:0 sends nothing".into());
        }
        Ok(Ratio { set, get })
    }
}

/// A value size, or a range `min-max` drawn uniformly per set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataSize {
    pub min: usize,
    pub max: usize,
}

impl FromStr for DataSize {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let parse = |t: &str| {
            t.trim()
                .parse::<usize>()
                .map_err(|_| format!("bad data size {s:?}"))
        };
        let (min, max) = match s.split_once('-') {
            Some((a, b)) => (parse(a)?, parse(b)?),
            None => (parse(s)?, parse(s)?),
        };
        if min > max {
            return Err(format!("data size range {s:?} is empty"));
        }
        Ok(DataSize { min, max })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Set = 0,
    Get = 1,
}

/// What to send. Shared by all connections.
pub struct Workload {
    pub server: String,
    /// Connections per thread.
    pub clients: usize,
    pub threads: usize,
    pub ratio: Ratio,
    pub pipeline: usize,
    pub data: DataSize,
    pub keys: Arc<KeySpace>,
    pub prefix: Vec<u8>,
    pub exptime: u32,
    /// Requests per connection, if bounded.
    pub requests: Option<u64>,
    /// Stop sending after this long.
    pub test_time: Option<Duration>,
    pub seed: u64,
}

/// Live state shared with the controller: stop flag, phase, running totals for progress.
pub struct Shared {
    pub stop: AtomicBool,
    /// Index of the phase replies are filed under.
    pub phase: AtomicUsize,
    pub phases: usize,
    pub sets: AtomicU64,
    pub gets: AtomicU64,
    pub hits: AtomicU64,
    pub errors: AtomicU64,
    pub latency_sum_us: AtomicU64,
}

impl Shared {
    pub fn new(phases: usize) -> Arc<Shared> {
        Arc::new(Shared {
            stop: AtomicBool::new(false),
            phase: AtomicUsize::new(0),
            phases: phases.max(1),
            sets: AtomicU64::new(0),
            gets: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency_sum_us: AtomicU64::new(0),
        })
    }

    pub fn completed(&self) -> u64 {
        self.sets.load(Ordering::Relaxed) + self.gets.load(Ordering::Relaxed)
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Per-phase latency histograms of one operation kind each.
#[derive(Clone)]
pub struct PhaseHists {
    pub set: Histogram<u64>,
    pub get: Histogram<u64>,
}

impl PhaseHists {
    fn new() -> PhaseHists {
        PhaseHists {
            set: new_histogram(),
            get: new_histogram(),
        }
    }

    /// Both kinds together.
    pub fn all(&self) -> Histogram<u64> {
        let mut h = self.set.clone();
        h.add(&self.get).expect("same bounds");
        h
    }
}

/// What one connection (or, merged, a whole run) measured.
#[derive(Clone)]
pub struct Totals {
    pub phases: Vec<PhaseHists>,
    pub sets: u64,
    pub gets: u64,
    pub hits: u64,
    pub misses: u64,
    pub errors: u64,
}

impl Totals {
    pub fn new(phases: usize) -> Totals {
        Totals {
            phases: (0..phases).map(|_| PhaseHists::new()).collect(),
            sets: 0,
            gets: 0,
            hits: 0,
            misses: 0,
            errors: 0,
        }
    }

    pub fn merge(&mut self, other: &Totals) {
        for (a, b) in self.phases.iter_mut().zip(&other.phases) {
            a.set.add(&b.set).expect("same bounds");
            a.get.add(&b.get).expect("same bounds");
        }
        self.sets += other.sets;
        self.gets += other.gets;
        self.hits += other.hits;
        self.misses += other.misses;
        self.errors += other.errors;
    }

    /// All phases together.
    pub fn overall(&self) -> PhaseHists {
        let mut all = PhaseHists::new();
        for p in &self.phases {
            all.set.add(&p.set).expect("same bounds");
            all.get.add(&p.get).expect("same bounds");
        }
        all
    }
}

/// Starts `threads` threads of `clients` connections each. Each thread returns its merged
/// totals; the first connection error stops the whole run.
pub fn spawn(work: Arc<Workload>, shared: Arc<Shared>) -> Vec<JoinHandle<Result<Totals>>> {
    (0..work.threads.max(1))
        .map(|t| {
            let (work, shared) = (work.clone(), shared.clone());
            std::thread::Builder::new()
                .name(format!("ferrobench-{t}"))
                .spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    let result = rt.block_on(run_thread(t, work, shared.clone()));
                    if result.is_err() {
                        shared.stop();
                    }
                    result
                })
                .expect("spawn loader thread")
        })
        .collect()
}

/// Waits for the threads of [`spawn`] and merges what they measured.
pub fn join(handles: Vec<JoinHandle<Result<Totals>>>, phases: usize) -> Result<Totals> {
    let mut totals = Totals::new(phases);
    let mut first_error = None;
    for h in handles {
        match h.join().expect("loader thread panicked") {
            Ok(t) => totals.merge(&t),
            Err(e) => first_error = first_error.or(Some(e)),
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(totals),
    }
}

async fn run_thread(thread: usize, work: Arc<Workload>, shared: Arc<Shared>) -> Result<Totals> {
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..work.clients.max(1) {
        let id = (thread * work.clients.max(1) + c) as u64;
        tasks.spawn(client(id, work.clone(), shared.clone()));
    }
    let mut totals = Totals::new(shared.phases);
    let mut first_error = None;
    while let Some(done) = tasks.join_next().await {
        match done.expect("client task panicked") {
            Ok(t) => totals.merge(&t),
            Err(e) => {
                shared.stop();
                first_error = first_error.or(Some(e));
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(totals),
    }
}

fn desync(op: Op, reply: &Reply) -> Error {
    Error::new(
        ErrorKind::InvalidData,
        format!("{op:?} got an unexpected reply {reply:?}"),
    )
}

async fn client(id: u64, work: Arc<Workload>, shared: Arc<Shared>) -> Result<Totals> {
    let mut conn = Conn::connect(&work.server).await?;
    let mut rng = Rng::new(work.seed ^ id.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let value: Vec<u8> = (0..work.data.max)
        .map(|i| b'a' + ((i as u64 * 7 + id) % 26) as u8)
        .collect();
    let deadline = work.test_time.map(|t| Instant::now() + t);
    let period = work.ratio.set + work.ratio.get;
    let pipeline = work.pipeline.max(1);
    let mut totals = Totals::new(shared.phases);
    let mut inflight: VecDeque<(Instant, Op)> = VecDeque::with_capacity(pipeline);
    let mut out = Vec::with_capacity(pipeline * (work.data.max + 64));
    let (mut sent, mut cycle, mut exhausted) = (0u64, 0u32, false);
    loop {
        let done = exhausted
            || shared.stop.load(Ordering::Relaxed)
            || deadline.is_some_and(|d| Instant::now() >= d)
            || work.requests.is_some_and(|r| sent >= r);
        if !done {
            let first_new = inflight.len();
            while inflight.len() < pipeline && work.requests.is_none_or(|r| sent < r) {
                let op = if cycle < work.ratio.set {
                    Op::Set
                } else {
                    Op::Get
                };
                cycle = (cycle + 1) % period;
                let Some(key) = work.keys.next(&mut rng) else {
                    exhausted = true;
                    break;
                };
                match op {
                    Op::Set => {
                        let spread = (work.data.max - work.data.min) as u64;
                        let len = work.data.min + rng.below(spread + 1) as usize;
                        push_set(&mut out, &work.prefix, key, work.exptime, &value[..len]);
                    }
                    Op::Get => push_get(&mut out, &work.prefix, [key]),
                }
                inflight.push_back((Instant::now(), op));
                sent += 1;
            }
            if !out.is_empty() {
                let now = Instant::now();
                for entry in inflight.iter_mut().skip(first_new) {
                    entry.0 = now;
                }
                conn.send(&out).await?;
                out.clear();
            }
        }
        if inflight.is_empty() {
            break;
        }
        // Everything that has arrived, then file it under the current phase.
        let mut reply = Some(conn.recv().await?);
        let phase = shared.phase.load(Ordering::Relaxed).min(shared.phases - 1);
        let (mut sets, mut gets, mut hits, mut errors, mut lat_sum) = (0, 0, 0, 0, 0);
        while let Some(r) = reply {
            let (started, op) = inflight
                .pop_front()
                .ok_or_else(|| Error::new(ErrorKind::InvalidData, format!("unsolicited {r:?}")))?;
            let us = (started.elapsed().as_micros() as u64).max(1);
            lat_sum += us;
            let hists = &mut totals.phases[phase];
            match (op, &r) {
                (Op::Set, Reply::Stored) => {
                    sets += 1;
                    hists.set.saturating_record(us);
                }
                (Op::Get, Reply::Values { hits: h, .. }) => {
                    gets += 1;
                    if *h > 0 {
                        hits += 1;
                    } else {
                        totals.misses += 1;
                    }
                    hists.get.saturating_record(us);
                }
                (_, Reply::Error(_)) => errors += 1,
                _ => return Err(desync(op, &r)),
            }
            reply = conn.buffered()?;
        }
        totals.sets += sets;
        totals.gets += gets;
        totals.hits += hits;
        totals.errors += errors;
        shared.sets.fetch_add(sets, Ordering::Relaxed);
        shared.gets.fetch_add(gets, Ordering::Relaxed);
        shared.hits.fetch_add(hits, Ordering::Relaxed);
        shared.errors.fetch_add(errors, Ordering::Relaxed);
        shared.latency_sum_us.fetch_add(lat_sum, Ordering::Relaxed);
    }
    Ok(totals)
}

/// Prints a line a second on stderr: throughput and mean latency since the last line.
pub struct Progress {
    started: Instant,
    last: Instant,
    last_sets: u64,
    last_gets: u64,
    last_hits: u64,
    last_lat: u64,
}

impl Progress {
    pub fn new() -> Progress {
        let now = Instant::now();
        Progress {
            started: now,
            last: now,
            last_sets: 0,
            last_gets: 0,
            last_hits: 0,
            last_lat: 0,
        }
    }

    /// Prints if a second has passed since the last line.
    pub fn tick(&mut self, shared: &Shared, label: &str) {
        if self.last.elapsed() >= Duration::from_secs(1) {
            self.print(shared, label);
        }
    }

    pub fn print(&mut self, shared: &Shared, label: &str) {
        let now = Instant::now();
        let secs = (now - self.last).as_secs_f64().max(1e-9);
        let sets = shared.sets.load(Ordering::Relaxed);
        let gets = shared.gets.load(Ordering::Relaxed);
        let hits = shared.hits.load(Ordering::Relaxed);
        let lat = shared.latency_sum_us.load(Ordering::Relaxed);
        let (ds, dg, dh) = (
            sets - self.last_sets,
            gets - self.last_gets,
            hits - self.last_hits,
        );
        let ops = ds + dg;
        let hit = if dg > 0 {
            format!("{:5.1}%", 100.0 * dh as f64 / dg as f64)
        } else {
            "    -".to_string()
        };
        eprintln!(
            "[{:5.1}s] {label}{:>10.0} ops/s  set {:>9.0}/s  get {:>9.0}/s  hit {hit}  avg {:>7.0} µs  total {}",
            (now - self.started).as_secs_f64(),
            ops as f64 / secs,
            ds as f64 / secs,
            dg as f64 / secs,
            (lat - self.last_lat) as f64 / ops.max(1) as f64,
            sets + gets,
        );
        (
            self.last,
            self.last_sets,
            self.last_gets,
            self.last_hits,
            self.last_lat,
        ) = (now, sets, gets, hits, lat);
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

/// Latency summary of one histogram, in microseconds.
pub fn latency_json(h: &Histogram<u64>) -> serde_json::Value {
    serde_json::json!({
        "count": h.len(),
        "mean_us": if h.is_empty() { 0.0 } else { h.mean() },
        "p50_us": h.value_at_quantile(0.5),
        "p99_us": h.value_at_quantile(0.99),
        "p99_9_us": h.value_at_quantile(0.999),
        "max_us": h.max(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ratio_and_data_size() {
        assert_eq!("1:10".parse(), Ok(Ratio { set: 1, get: 10 }));
        assert_eq!("0:1".parse(), Ok(Ratio { set: 0, get: 1 }));
        assert!("0:0".parse::<Ratio>().is_err());
        assert!("3".parse::<Ratio>().is_err());
        assert_eq!("100".parse(), Ok(DataSize { min: 100, max: 100 }));
        assert_eq!("32-1024".parse(), Ok(DataSize { min: 32, max: 1024 }));
        assert!("9-1".parse::<DataSize>().is_err());
    }
}
