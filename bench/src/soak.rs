//! `ferrobench soak`: a long mixed load to find slow leaks and drift. Connections send, at a
//! steady rate each, a mix of sets (most values small, some of several KB, a few of 16-100
//! KB), gets, multigets, deletes and malformed lines, some one request at a time and some
//! pipelined; every connection is killed after a random life (quit, closed or reset with
//! replies pending, cut inside a data block, or after garbage bytes) and another opens in
//! its place. Every few seconds the server's RSS (VmRSS of /proc/PID/status), its CPU use
//! and the latency percentiles of that interval go to a CSV line.
//!
//! Every reply is checked: a value read back must be the one its key and length were set
//! with, a malformed line must get an error line, and no connection may break while it is
//! not being killed. Anything else counts as unexpected and fails the run.

use crate::conn::{stat_u64, Conn};
use crate::fill::proc_status_bytes;
use crate::keys::{KeyPattern, KeySpace, Rng};
use crate::load::{latency_json, new_histogram, proc_cpu_split_us};
use crate::reply::Reply;
use hdrhistogram::Histogram;
use std::io::{Error, ErrorKind, Result, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct SoakOptions {
    pub server: String,
    /// The server's pid, for RSS and CPU.
    pub pid: Option<u32>,
    pub duration: Duration,
    /// How often a CSV line is written.
    pub sample: Duration,
    /// Connections open at any time.
    pub clients: usize,
    /// Worker threads of the loader's runtime.
    pub threads: usize,
    /// Requests per second per connection.
    pub rate: u32,
    /// Keys `soak:1` to `soak:<keys>`, drawn zipfian (0.99).
    pub keys: u64,
    /// Mean life of a connection before it is killed (exponentially distributed).
    pub mean_life: Duration,
    pub seed: u64,
    /// The time series, one line per sample.
    pub csv: Option<PathBuf>,
}

/// Ways a connection's life ends, counted apart.
const KILLS: [&str; 5] = [
    "quit",
    "close_pending",
    "reset_pending",
    "cut_data",
    "garbage",
];

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    sets: AtomicU64,
    gets: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    bad_lines: AtomicU64,
    connects: AtomicU64,
    connect_failures: AtomicU64,
    kills: [AtomicU64; KILLS.len()],
    server_errors: AtomicU64,
    unexpected: AtomicU64,
}

struct Shared {
    stop: AtomicBool,
    counts: Counts,
    /// Latencies since the last sample.
    interval: Mutex<Histogram<u64>>,
    keys: Arc<KeySpace>,
    /// The first few unexpected events, to print.
    first_errors: Mutex<Vec<String>>,
}

impl Shared {
    fn unexpected(&self, what: String) {
        self.counts.unexpected.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_errors.lock().expect("lock");
        if first.len() < 10 {
            first.push(what);
        }
    }
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// What a request's reply must be.
enum Expect {
    Stored,
    /// The keys asked for.
    Values(Vec<u64>),
    Deleted,
    /// A malformed line: an error line.
    Error,
}

const PREFIX: &str = "soak:";

/// The value stored under key `n` with length `len`: readable, and different for each key.
fn value_byte(n: u64, i: usize) -> u8 {
    b'a' + ((n.wrapping_mul(31) as usize).wrapping_add(i.wrapping_mul(7)) % 26) as u8
}

/// Flags stored with key `n`.
fn flags_of(n: u64) -> u64 {
    n % 65_536
}

/// Most values small, some of several KB, a few of 16 to 100 KB.
fn value_len(rng: &mut Rng) -> usize {
    match rng.below(100) {
        0..=74 => 16 + rng.below(497) as usize,
        75..=94 => 1024 + rng.below(7 * 1024 + 1) as usize,
        _ => 16 * 1024 + rng.below(84 * 1024 + 1) as usize,
    }
}

fn push_set(out: &mut Vec<u8>, n: u64, len: usize) {
    out.extend_from_slice(format!("set {PREFIX}{n} {} 0 {len}\r\n", flags_of(n)).as_bytes());
    out.extend((0..len).map(|i| value_byte(n, i)));
    out.extend_from_slice(b"\r\n");
}

/// Malformed requests, each answered by one error line (as memcached 1.6.45 answers them).
const BAD_LINES: [&[u8]; 9] = [
    b"frobnicate a b c\r\n",
    b"set soak:1 0 0 xyz\r\n",
    b"incr soak:1 notanumber\r\n",
    b"gets\r\n",
    b"touch soak:1\r\n",
    b"set soak:1 0 0 -1\r\n",
    b"mg soak:1 zz\r\n",
    b"verbosity\r\n",
    b"delete\r\n",
];

/// Appends one request of the mix to `out` and says what its reply must be.
fn push_request(out: &mut Vec<u8>, rng: &mut Rng, keys: &KeySpace) -> (Expect, &'static str) {
    let key = |rng: &mut Rng| keys.next(rng).expect("keys never run out");
    match rng.below(100) {
        0..=14 => {
            let n = key(rng);
            let len = value_len(rng);
            push_set(out, n, len);
            (Expect::Stored, "set")
        }
        15..=84 => {
            let n = key(rng);
            out.extend_from_slice(format!("get {PREFIX}{n}\r\n").as_bytes());
            (Expect::Values(vec![n]), "get")
        }
        85..=92 => {
            let count = 2 + rng.below(9);
            let ns: Vec<u64> = (0..count).map(|_| key(rng)).collect();
            out.extend_from_slice(b"get");
            for n in &ns {
                out.extend_from_slice(format!(" {PREFIX}{n}").as_bytes());
            }
            out.extend_from_slice(b"\r\n");
            (Expect::Values(ns), "multiget")
        }
        93..=96 => {
            let n = key(rng);
            out.extend_from_slice(format!("delete {PREFIX}{n}\r\n").as_bytes());
            (Expect::Deleted, "delete")
        }
        _ => {
            let pick = rng.below(BAD_LINES.len() as u64 + 1) as usize;
            if pick < BAD_LINES.len() {
                out.extend_from_slice(BAD_LINES[pick]);
            } else {
                // A key over 250 bytes: refused, and its data block (up to 8 KB) swallowed.
                let len = rng.below(8 * 1024) as usize;
                out.extend_from_slice(format!("set {} 0 0 {len}\r\n", "k".repeat(251)).as_bytes());
                out.extend(std::iter::repeat_n(b'x', len));
                out.extend_from_slice(b"\r\n");
            }
            (Expect::Error, "bad line")
        }
    }
}

/// Checks the `VALUE` blocks of a retrieval reply (`raw`) against the keys asked for.
fn check_values(raw: &[u8], asked: &[u64]) -> std::result::Result<(), String> {
    let mut at = 0;
    loop {
        let nl = raw[at..]
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("no line end")?;
        let line = &raw[at..at + nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        at += nl + 1;
        if line == b"END" {
            return Ok(());
        }
        let text = String::from_utf8_lossy(line);
        let mut fields = text.split(' ').skip(1);
        let (key, flags, len) = (fields.next(), fields.next(), fields.next());
        let n: u64 = key
            .and_then(|k| k.strip_prefix(PREFIX))
            .and_then(|k| k.parse().ok())
            .ok_or_else(|| format!("unknown key in {text:?}"))?;
        let len: usize = len
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| format!("bad length in {text:?}"))?;
        if !asked.contains(&n) {
            return Err(format!("{text:?} answers a key not asked for"));
        }
        if flags.and_then(|f| f.parse().ok()) != Some(flags_of(n)) {
            return Err(format!("{text:?}: flags are not those set"));
        }
        let data = &raw[at..at + len];
        if let Some(i) = (0..len).find(|&i| data[i] != value_byte(n, i)) {
            return Err(format!(
                "{text:?}: byte {i} of the value is not the one set"
            ));
        }
        at += len + 2;
    }
}

/// Sends batches on a steady beat until the life ends; `Err` when the connection broke or a
/// reply could not be read.
async fn live(
    conn: &mut Conn,
    rng: &mut Rng,
    shared: &Shared,
    depth: usize,
    interval: Duration,
    end: Instant,
) -> Result<()> {
    let mut next = Instant::now();
    let mut out = Vec::new();
    let mut expect = Vec::with_capacity(depth);
    while !shared.stop.load(Ordering::Relaxed) && Instant::now() < end {
        tokio::time::sleep_until(next.into()).await;
        next = (next + interval).max(Instant::now());
        out.clear();
        expect.clear();
        for _ in 0..depth {
            expect.push(push_request(&mut out, rng, &shared.keys));
        }
        let sent = Instant::now();
        conn.send(&out).await?;
        for (e, what) in expect.drain(..) {
            let (reply, raw) = conn.recv_raw().await?;
            let us = sent.elapsed().as_micros() as u64;
            let _ = shared.interval.lock().expect("lock").record(us.max(1));
            let c = &shared.counts;
            add(&c.requests, 1);
            let ok = match (&e, &reply) {
                (Expect::Stored, Reply::Stored) => {
                    add(&c.sets, 1);
                    true
                }
                (Expect::Stored, Reply::Error(line)) if line.starts_with("SERVER_ERROR") => {
                    add(&c.sets, 1);
                    add(&c.server_errors, 1);
                    true
                }
                (Expect::Values(asked), Reply::Values { hits, .. }) => {
                    add(&c.gets, 1);
                    add(&c.hits, u64::from(*hits));
                    add(
                        &c.misses,
                        (asked.len() as u64).saturating_sub(u64::from(*hits)),
                    );
                    if let Err(why) = check_values(raw, asked) {
                        shared.unexpected(format!("{what}: {why}"));
                    }
                    true
                }
                (Expect::Deleted, Reply::Deleted | Reply::NotFound) => true,
                (Expect::Error, Reply::Error(_)) => {
                    add(&c.bad_lines, 1);
                    true
                }
                _ => false,
            };
            if !ok {
                shared.unexpected(format!("{what} answered {reply:?}"));
            }
        }
    }
    Ok(())
}

/// Ends a connection one of the ways of [`KILLS`].
async fn kill(mut conn: Conn, rng: &mut Rng, shared: &Shared) {
    let how = rng.below(KILLS.len() as u64) as usize;
    add(&shared.counts.kills[how], 1);
    let mut out = Vec::new();
    match how {
        0 => out.extend_from_slice(b"quit\r\n"),
        1 | 2 => {
            for _ in 0..1 + rng.below(8) {
                push_request(&mut out, rng, &shared.keys);
            }
        }
        3 => {
            let n = shared.keys.next(rng).expect("keys");
            let len = 4096 + rng.below(96 * 1024) as usize;
            push_set(&mut out, n, len);
            out.truncate(out.len() - 2 - rng.below(len as u64) as usize);
        }
        _ => out.extend((0..512 + rng.below(3584)).map(|_| rng.next_u64() as u8)),
    }
    // The server may have closed already (after `quit`, or garbage it refused): no matter.
    let _ = conn.send(&out).await;
    if how == 2 || (how == 3 && rng.below(2) == 0) {
        conn.reset();
    }
}

async fn client(id: u64, opts: Arc<SoakOptions>, shared: Arc<Shared>) {
    let mut rng = Rng::new(opts.seed ^ (id + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    while !shared.stop.load(Ordering::Relaxed) {
        let mut conn = match Conn::connect(&opts.server).await {
            Ok(conn) => conn,
            Err(e) => {
                add(&shared.counts.connect_failures, 1);
                shared.unexpected(format!("connect: {e}"));
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        add(&shared.counts.connects, 1);
        // Half the connections send one request at a time, half pipeline 2 to 16.
        let depth = if rng.below(2) == 0 {
            1
        } else {
            2 + rng.below(15) as usize
        };
        let interval = Duration::from_secs_f64(depth as f64 / f64::from(opts.rate.max(1)));
        let life = opts.mean_life.as_secs_f64() * -(1.0 - rng.unit()).ln();
        let end = Instant::now() + Duration::from_secs_f64(life);
        match live(&mut conn, &mut rng, &shared, depth, interval, end).await {
            // At the end of the run the connection just closes.
            Ok(()) if shared.stop.load(Ordering::Relaxed) => {}
            Ok(()) => kill(conn, &mut rng, &shared).await,
            Err(e) if !shared.stop.load(Ordering::Relaxed) => {
                shared.unexpected(format!("connection broke: {e}"));
            }
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(rng.below(50))).await;
    }
}

const CSV_HEADER: &str = "elapsed_s,rss_mib,cpu_pct,requests_per_s,p50_us,p99_us,p999_us,\
                          max_us,hit_ratio,connects,kills,bad_lines,server_errors,unexpected,\
                          curr_items,bytes_mib,curr_connections";

/// `curr_items`, `bytes` (in MiB) and `curr_connections` from the server's `stats`, read on
/// a connection of the sampler's own, as CSV fields (empty when they could not be read).
fn server_stats(rt: &tokio::runtime::Runtime, probe: &mut Option<Conn>, server: &str) -> String {
    if probe.is_none() {
        *probe = rt.block_on(Conn::connect(server)).ok();
    }
    let Some(conn) = probe.as_mut() else {
        return ",,".into();
    };
    let stats = rt.block_on(async {
        // Made inside the runtime: a timer needs one.
        tokio::time::timeout(Duration::from_secs(2), conn.stats()).await
    });
    match stats {
        Ok(Ok(stats)) => format!(
            "{},{:.2},{}",
            stat_u64(&stats, "curr_items"),
            stat_u64(&stats, "bytes") as f64 / 1_048_576.0,
            stat_u64(&stats, "curr_connections")
        ),
        _ => {
            *probe = None;
            ",,".into()
        }
    }
}

/// Runs the soak; returns its summary. Fails when anything unexpected happened.
pub fn run(opts: SoakOptions) -> Result<serde_json::Value> {
    let opts = Arc::new(opts);
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        counts: Counts::default(),
        interval: Mutex::new(new_histogram()),
        keys: KeySpace::new(KeyPattern::Zipf(0.99), 1, opts.keys.max(2), false),
        first_errors: Mutex::new(Vec::new()),
    });
    let rss = |pid: Option<u32>| pid.and_then(|p| proc_status_bytes(p, "VmRSS"));
    let cpu = |pid: Option<u32>| pid.and_then(proc_cpu_split_us).map(|(u, s)| u + s);
    let mib = |b: Option<u64>| b.map_or(f64::NAN, |b| b as f64 / 1_048_576.0);
    let rss_start = rss(opts.pid);
    let mut csv = match &opts.csv {
        Some(path) => Some(std::fs::File::create(path)?),
        None => None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(opts.threads.max(1))
        .enable_all()
        .build()?;
    let mut probe = None;
    if let Some(f) = csv.as_mut() {
        writeln!(f, "{CSV_HEADER}")?;
        // The server before the load.
        let stats = server_stats(&rt, &mut probe, &opts.server);
        writeln!(f, "0.0,{:.2},,,,,,,,0,0,0,0,0,{stats}", mib(rss_start))?;
    }
    let started = Instant::now();
    let tasks: Vec<_> = (0..opts.clients as u64)
        .map(|id| rt.spawn(client(id, opts.clone(), shared.clone())))
        .collect();

    let mut overall = new_histogram();
    let mut samples: Vec<(f64, Option<u64>, u64)> = Vec::new();
    let (mut last_t, mut last_cpu) = (Instant::now(), cpu(opts.pid));
    let (mut last_requests, mut last_hits, mut last_misses) = (0, 0, 0);
    let c = &shared.counts;
    let mut server_gone = false;
    while started.elapsed() < opts.duration {
        let left = opts.duration.saturating_sub(started.elapsed());
        std::thread::sleep(opts.sample.min(left));
        let now = Instant::now();
        let secs = now.duration_since(last_t).as_secs_f64();
        let h = std::mem::replace(&mut *shared.interval.lock().expect("lock"), new_histogram());
        overall.add(&h).expect("same bounds");
        let (requests, hits, misses) = (
            c.requests.load(Ordering::Relaxed),
            c.hits.load(Ordering::Relaxed),
            c.misses.load(Ordering::Relaxed),
        );
        let cpu_now = cpu(opts.pid);
        let cpu_pct = match (last_cpu, cpu_now) {
            (Some(a), Some(b)) => (b - a) as f64 / (secs * 1e4),
            _ => f64::NAN,
        };
        let looked = (hits - last_hits) + (misses - last_misses);
        let hit_ratio = (hits - last_hits) as f64 / looked.max(1) as f64;
        let rss_now = rss(opts.pid);
        if opts.pid.is_some() && rss_now.is_none() {
            server_gone = true;
        }
        let kills: u64 = c.kills.iter().map(|k| k.load(Ordering::Relaxed)).sum();
        let stats = server_stats(&rt, &mut probe, &opts.server);
        let line = format!(
            "{:.1},{:.2},{:.1},{:.0},{},{},{},{},{:.4},{},{},{},{},{},{stats}",
            started.elapsed().as_secs_f64(),
            mib(rss_now),
            cpu_pct,
            (requests - last_requests) as f64 / secs,
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max(),
            hit_ratio,
            c.connects.load(Ordering::Relaxed),
            kills,
            c.bad_lines.load(Ordering::Relaxed),
            c.server_errors.load(Ordering::Relaxed),
            c.unexpected.load(Ordering::Relaxed),
        );
        if let Some(f) = csv.as_mut() {
            writeln!(f, "{line}")?;
        }
        eprintln!("soak {line}");
        samples.push((
            started.elapsed().as_secs_f64(),
            rss_now,
            h.value_at_quantile(0.99),
        ));
        (last_t, last_cpu) = (now, cpu_now);
        (last_requests, last_hits, last_misses) = (requests, hits, misses);
        if server_gone {
            break;
        }
    }
    shared.stop.store(true, Ordering::Relaxed);
    for t in tasks {
        // A task waits at most one beat or one reply before it sees the stop.
        let _ = rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), t).await });
    }
    rt.shutdown_timeout(Duration::from_secs(1));
    overall
        .add(&*shared.interval.lock().expect("lock"))
        .expect("same bounds");

    let rss_of: Vec<u64> = samples.iter().filter_map(|s| s.1).collect();
    let mut p99s: Vec<u64> = samples.iter().map(|s| s.2).collect();
    p99s.sort_unstable();
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let kills: serde_json::Map<String, serde_json::Value> = KILLS
        .iter()
        .zip(&c.kills)
        .map(|(name, n)| (name.to_string(), load(n).into()))
        .collect();
    let unexpected = load(&c.unexpected);
    let summary = serde_json::json!({
        "server": opts.server,
        "seconds": started.elapsed().as_secs_f64(),
        "clients": opts.clients,
        "rate_per_client": opts.rate,
        "requests": load(&c.requests),
        "sets": load(&c.sets),
        "gets": load(&c.gets),
        "hit_ratio": load(&c.hits) as f64 / (load(&c.hits) + load(&c.misses)).max(1) as f64,
        "bad_lines": load(&c.bad_lines),
        "connects": load(&c.connects),
        "connect_failures": load(&c.connect_failures),
        "kills": kills,
        "server_errors": load(&c.server_errors),
        "unexpected": unexpected,
        "first_unexpected": shared.first_errors.lock().expect("lock").clone(),
        "latency": latency_json(&overall),
        "interval_p99_us": {
            "median": p99s.get(p99s.len() / 2),
            "max": p99s.last(),
        },
        "rss_mib": {
            "start": rss_start.map(|b| mib(Some(b))),
            "first_sample": rss_of.first().map(|&b| mib(Some(b))),
            "last_sample": rss_of.last().map(|&b| mib(Some(b))),
            "max": rss_of.iter().max().map(|&b| mib(Some(b))),
        },
        "server_gone": server_gone,
    });
    if server_gone {
        return Err(Error::other(format!(
            "the server (pid {:?}) is gone; {summary}",
            opts.pid
        )));
    }
    if unexpected > 0 {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("{unexpected} unexpected replies or broken connections: {summary}"),
        ));
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_against_what_was_set() {
        let mut set = Vec::new();
        push_set(&mut set, 7, 5);
        let data: Vec<u8> = (0..5).map(|i| value_byte(7, i)).collect();
        assert_eq!(
            set,
            [b"set soak:7 7 0 5\r\n".as_slice(), &data, b"\r\n"].concat()
        );
        let reply = [b"VALUE soak:7 7 5\r\n".as_slice(), &data, b"\r\nEND\r\n"].concat();
        assert_eq!(check_values(&reply, &[7]), Ok(()));
        assert_eq!(check_values(b"END\r\n", &[7]), Ok(()));
        assert!(check_values(&reply, &[8]).is_err(), "a key not asked for");
        let mut wrong = reply.clone();
        wrong[20] ^= 1;
        assert!(check_values(&wrong, &[7]).is_err(), "a changed byte");
        let flags = [b"VALUE soak:7 8 5\r\n".as_slice(), &data, b"\r\nEND\r\n"].concat();
        assert!(check_values(&flags, &[7]).is_err(), "other flags");
    }

    #[test]
    fn the_mix_holds_every_kind_of_request() {
        let keys = KeySpace::new(KeyPattern::Zipf(0.99), 1, 1000, false);
        let mut rng = Rng::new(3);
        let mut seen = std::collections::HashSet::new();
        let mut big = 0;
        for _ in 0..5000 {
            let mut out = Vec::new();
            let (_, what) = push_request(&mut out, &mut rng, &keys);
            seen.insert(what);
            if out.len() > 16 * 1024 {
                big += 1;
            }
        }
        assert_eq!(seen.len(), 5, "{seen:?}");
        assert!(big > 20, "{big} values over 16 KB");
    }
}
