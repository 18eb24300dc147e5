//! The load engine: threads of connections, each keeping up to `pipeline` requests in
//! flight, timing every request from the write that carried it to its parsed reply.

use crate::conn::{push_get, push_set, Conn};
use crate::keys::{KeySpace, Rng};
use crate::proto::{self, Protocol};
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
    pub protocol: Protocol,
    /// Keys per get (1: a plain get; more: one multiget request).
    pub multiget: u32,
    /// set_many/get_many (djblets-like): `Some((n, key_minimum))` makes `keys` a space of
    /// blocks of `n` consecutive keys. One block is drawn per ratio cycle; each set of the
    /// cycle writes all `n` keys of it (n pipelined requests) and each get reads them in one
    /// multiget.
    pub block: Option<(u32, u64)>,
    /// Cache-aside: a get of one key that misses is followed by a set of that key.
    pub set_on_miss: bool,
    /// memtier's `--rate-limiting`: at most this many requests per second per connection,
    /// sent on a steady beat (`None`: as fast as replies come back).
    pub rate: Option<u32>,
}

impl Workload {
    /// A text-protocol workload of single-key gets and sets.
    #[allow(clippy::too_many_arguments)]
    pub fn simple(
        server: String,
        clients: usize,
        threads: usize,
        ratio: Ratio,
        pipeline: usize,
        value_size: usize,
        keys: Arc<KeySpace>,
        prefix: Vec<u8>,
        exptime: u32,
        seed: u64,
    ) -> Workload {
        Workload {
            server,
            clients,
            threads,
            ratio,
            pipeline,
            data: DataSize {
                min: value_size,
                max: value_size,
            },
            keys,
            prefix,
            exptime,
            requests: None,
            test_time: None,
            seed,
            protocol: Protocol::Text,
            multiget: 1,
            block: None,
            set_on_miss: false,
            rate: None,
        }
    }
}

/// Live state shared with the controller: stop flag, phase, running totals for progress.
pub struct Shared {
    pub stop: AtomicBool,
    /// Index of the phase replies are filed under.
    pub phase: AtomicUsize,
    pub phases: usize,
    pub sets: AtomicU64,
    pub gets: AtomicU64,
    /// Keys found, over all gets.
    pub hits: AtomicU64,
    /// Keys asked for, over all gets (more than `gets` with multigets).
    pub get_keys: AtomicU64,
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
            get_keys: AtomicU64::new(0),
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
    /// Get requests (a multiget is one).
    pub gets: u64,
    /// Keys found and keys missed, over all gets.
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

/// One request to send.
#[derive(Clone, Copy, Debug)]
struct Req {
    op: Op,
    /// The key, or a multiget's first key.
    key: u64,
    /// Keys of a get.
    nkeys: u32,
    /// A multiget of `key..key+nkeys` (get_many); otherwise its other keys are drawn.
    consecutive: bool,
}

impl Req {
    fn set(key: u64) -> Req {
        Req {
            op: Op::Set,
            key,
            nkeys: 1,
            consecutive: false,
        }
    }
}

async fn client(id: u64, work: Arc<Workload>, shared: Arc<Shared>) -> Result<Totals> {
    let mut conn = Conn::connect_with(&work.server, work.protocol).await?;
    let mut rng = Rng::new(work.seed ^ id.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let value: Vec<u8> = (0..work.data.max)
        .map(|i| b'a' + ((i as u64 * 7 + id) % 26) as u8)
        .collect();
    let deadline = work.test_time.map(|t| Instant::now() + t);
    let period = work.ratio.set + work.ratio.get;
    let pipeline = work.pipeline.max(1);
    let multiget = work.multiget.max(1);
    let mut totals = Totals::new(shared.phases);
    let mut inflight: VecDeque<(Instant, Req)> = VecDeque::with_capacity(pipeline);
    // Requests decided but not sent yet: the sets of a set_many, sets after misses.
    let mut pending: VecDeque<Req> = VecDeque::new();
    let mut out = Vec::with_capacity(pipeline * (work.data.max + 64));
    let mut block_key = 0u64;
    let mut keys_buf: Vec<u64> = Vec::with_capacity(multiget as usize);
    let (mut sent, mut cycle, mut exhausted) = (0u64, 0u32, false);
    // With a rate limit: one request per beat. The connections' first beats are spread over
    // one interval so that they do not all send at once.
    let interval = work
        .rate
        .map(|r| Duration::from_nanos(1_000_000_000 / u64::from(r.max(1))));
    let mut next_beat = Instant::now()
        + interval.map_or(Duration::ZERO, |i| {
            Duration::from_nanos(rng.below(i.as_nanos() as u64))
        });
    loop {
        let done = exhausted
            || shared.stop.load(Ordering::Relaxed)
            || deadline.is_some_and(|d| Instant::now() >= d)
            || work.requests.is_some_and(|r| sent >= r);
        if !done {
            let first_new = inflight.len();
            let allowed = match interval {
                None => pipeline,
                Some(interval) => {
                    let beats = beats_due(&mut next_beat, interval, Instant::now());
                    (inflight.len() + beats).min(pipeline)
                }
            };
            if inflight.is_empty() && allowed == 0 {
                let wake = deadline.map_or(next_beat, |d| d.min(next_beat));
                tokio::time::sleep_until(wake.into()).await;
                continue;
            }
            while inflight.len() < allowed && work.requests.is_none_or(|r| sent < r) {
                let req = match pending.pop_front() {
                    Some(req) => req,
                    None => {
                        let op = if cycle < work.ratio.set {
                            Op::Set
                        } else {
                            Op::Get
                        };
                        let new_cycle = cycle == 0;
                        cycle = (cycle + 1) % period;
                        if let Some((n, key_min)) = work.block {
                            if new_cycle {
                                let Some(b) = work.keys.next(&mut rng) else {
                                    exhausted = true;
                                    break;
                                };
                                block_key = key_min + b * u64::from(n);
                            }
                            match op {
                                Op::Set => {
                                    pending
                                        .extend((0..u64::from(n)).map(|i| Req::set(block_key + i)));
                                    continue;
                                }
                                Op::Get => Req {
                                    op,
                                    key: block_key,
                                    nkeys: n,
                                    consecutive: true,
                                },
                            }
                        } else {
                            let Some(key) = work.keys.next(&mut rng) else {
                                exhausted = true;
                                break;
                            };
                            match op {
                                Op::Set => Req::set(key),
                                Op::Get => Req {
                                    op,
                                    key,
                                    nkeys: multiget,
                                    consecutive: false,
                                },
                            }
                        }
                    }
                };
                match req.op {
                    Op::Set => {
                        let spread = (work.data.max - work.data.min) as u64;
                        let len = work.data.min + rng.below(spread + 1) as usize;
                        let v = &value[..len];
                        match work.protocol {
                            Protocol::Text => {
                                push_set(&mut out, &work.prefix, req.key, work.exptime, v)
                            }
                            Protocol::Binary => {
                                proto::bin_set(&mut out, &work.prefix, req.key, work.exptime, v)
                            }
                            Protocol::Meta => {
                                proto::meta_set(&mut out, &work.prefix, req.key, work.exptime, v)
                            }
                        }
                    }
                    Op::Get => {
                        keys_buf.clear();
                        keys_buf.push(req.key);
                        for i in 1..u64::from(req.nkeys) {
                            let k = if req.consecutive {
                                Some(req.key + i)
                            } else {
                                work.keys.next(&mut rng)
                            };
                            keys_buf.extend(k);
                        }
                        let multi = req.nkeys > 1;
                        let keys = keys_buf.iter().copied();
                        match work.protocol {
                            Protocol::Text => push_get(&mut out, &work.prefix, keys),
                            Protocol::Binary => proto::bin_get(&mut out, &work.prefix, keys, multi),
                            Protocol::Meta => proto::meta_get(&mut out, &work.prefix, keys, multi),
                        }
                    }
                }
                inflight.push_back((Instant::now(), req));
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
        let multi = |q: &VecDeque<(Instant, Req)>| q.front().is_some_and(|(_, r)| r.nkeys > 1);
        let mut reply = if interval.is_some() && !done && inflight.len() < pipeline {
            // Rate-limited with room in the pipeline: the next beat may come before the
            // reply, and then its request goes out at once (`recv_for` is cancel-safe: what
            // it has read stays in the connection's buffer).
            tokio::select! {
                reply = conn.recv_for(multi(&inflight)) => Some(reply?),
                _ = tokio::time::sleep_until(next_beat.into()) => None,
            }
        } else {
            Some(conn.recv_for(multi(&inflight)).await?)
        };
        if reply.is_none() {
            continue;
        }
        let phase = shared.phase.load(Ordering::Relaxed).min(shared.phases - 1);
        let (mut sets, mut gets, mut hits, mut keys, mut errors, mut lat_sum) = (0, 0, 0, 0, 0, 0);
        while let Some(r) = reply {
            let (started, req) = inflight
                .pop_front()
                .ok_or_else(|| Error::new(ErrorKind::InvalidData, format!("unsolicited {r:?}")))?;
            let us = (started.elapsed().as_micros() as u64).max(1);
            lat_sum += us;
            let hists = &mut totals.phases[phase];
            match (req.op, &r) {
                (Op::Set, Reply::Stored) => {
                    sets += 1;
                    hists.set.saturating_record(us);
                }
                (Op::Get, Reply::Values { hits: h, .. }) => {
                    let h = u64::from(*h).min(u64::from(req.nkeys));
                    gets += 1;
                    hits += h;
                    keys += u64::from(req.nkeys);
                    totals.misses += u64::from(req.nkeys) - h;
                    if h == 0 && req.nkeys == 1 && work.set_on_miss {
                        pending.push_back(Req::set(req.key));
                    }
                    hists.get.saturating_record(us);
                }
                (_, Reply::Error(_)) => errors += 1,
                _ => return Err(desync(req.op, &r)),
            }
            reply = conn.buffered_for(multi(&inflight))?;
        }
        totals.sets += sets;
        totals.gets += gets;
        totals.hits += hits;
        totals.errors += errors;
        shared.sets.fetch_add(sets, Ordering::Relaxed);
        shared.gets.fetch_add(gets, Ordering::Relaxed);
        shared.hits.fetch_add(hits, Ordering::Relaxed);
        shared.get_keys.fetch_add(keys, Ordering::Relaxed);
        shared.errors.fetch_add(errors, Ordering::Relaxed);
        shared.latency_sum_us.fetch_add(lat_sum, Ordering::Relaxed);
    }
    Ok(totals)
}

/// How many beats of a rate-limited connection are due at `now` (0 or 1), moving `next` on
/// by one beat. A connection that is behind sends on every chance (as its pipeline allows)
/// until it has caught up, which keeps the average rate although tokio's timer wakes it up
/// to a millisecond late; more than `CATCH_UP` intervals behind (its replies were slow) it
/// drops the missed beats rather than send a long burst. The run's ops/s shows whether the
/// rate was kept.
fn beats_due(next: &mut Instant, interval: Duration, now: Instant) -> usize {
    if now < *next {
        return 0;
    }
    if now - *next > interval * CATCH_UP {
        *next = now + interval;
    } else {
        *next += interval;
    }
    1
}

/// See [`beats_due`]: about 10 ms at 1,600 requests per second.
const CATCH_UP: u32 = 16;

/// Prints a line a second on stderr: throughput and mean latency since the last line.
pub struct Progress {
    started: Instant,
    last: Instant,
    last_sets: u64,
    last_gets: u64,
    last_hits: u64,
    last_keys: u64,
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
            last_keys: 0,
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
        let keys = shared.get_keys.load(Ordering::Relaxed);
        let lat = shared.latency_sum_us.load(Ordering::Relaxed);
        let (ds, dg, dh) = (
            sets - self.last_sets,
            gets - self.last_gets,
            hits - self.last_hits,
        );
        let ops = ds + dg;
        let dk = keys - self.last_keys;
        let hit = if dk > 0 {
            format!("{:5.1}%", 100.0 * dh as f64 / dk as f64)
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
            self.last_keys,
            self.last_lat,
        ) = (now, sets, gets, hits, keys, lat);
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

/// A process's CPU time so far in user space and in the kernel, in microseconds (fields 14
/// and 15 of `/proc/<pid>/stat`, counted in clock ticks).
pub fn proc_cpu_split_us(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as u64 } else { 100 };
    Some((utime * 1_000_000 / hz, stime * 1_000_000 / hz))
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
    fn splits_user_and_kernel_time() {
        // A loop of system calls adds kernel time; a loop of arithmetic adds user time.
        let pid = std::process::id();
        let (user0, sys0) = proc_cpu_split_us(pid).expect("/proc/self/stat");
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut sys = sys0;
        while sys < sys0 + 20_000 && Instant::now() < deadline {
            for _ in 0..1_000 {
                // SAFETY: getppid takes no arguments and cannot fail.
                std::hint::black_box(unsafe { libc::getppid() });
            }
            sys = proc_cpu_split_us(pid).unwrap().1;
        }
        let mut user = proc_cpu_split_us(pid).unwrap().0;
        let mut x = 0u64;
        while user < user0 + 20_000 && Instant::now() < deadline {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            user = proc_cpu_split_us(pid).unwrap().0;
        }
        assert!(sys >= sys0 + 20_000, "kernel {sys0} -> {sys}");
        assert!(user >= user0 + 20_000, "user {user0} -> {user}");
    }

    #[test]
    fn rate_limit_beats() {
        // (now, beats due, next beat after), in ms from t0, a 10 ms interval, the first beat
        // at 10, one step after another.
        let steps: &[(u64, usize, u64)] = &[
            // Before the beat: nothing; on it: one, and the next beat 10 ms later.
            (0, 0, 10),
            (10, 1, 20),
            (15, 0, 20),
            // Late: the schedule keeps its phase, and a connection behind catches up.
            (43, 1, 30),
            (43, 1, 40),
            (43, 1, 50),
            (43, 0, 50),
            // Exactly CATCH_UP intervals behind: still caught up, beat by beat.
            (50 + 160, 1, 60),
            // More than that: one request now, the missed beats are dropped.
            (60 + 161, 1, 231),
        ];
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut next = t0 + ms(10);
        for &(now, beats, after) in steps {
            assert_eq!(
                beats_due(&mut next, ms(10), t0 + ms(now)),
                beats,
                "at {now} ms"
            );
            assert_eq!(next, t0 + ms(after), "at {now} ms");
        }
    }

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
