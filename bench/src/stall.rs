//! `stall`: request latency on a full cache under steady load, across `flush_all` and
//! across a million keys expiring together.

use crate::conn::{push_get, Conn};
use crate::fill::{fill, FillOptions};
use crate::keys::{KeyPattern, KeySpace};
use crate::load::{self, latency_json, Progress, Ratio, Shared, Workload};
use crate::reply::Reply;
use hdrhistogram::Histogram;
use std::io::{Error, ErrorKind, Result};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct StallOptions {
    pub fill: FillOptions,
    /// Background load connections, one request in flight each.
    pub clients: usize,
    pub threads: usize,
    pub ratio: Ratio,
    /// Seconds of load in the steady phase and after each event.
    pub phase_secs: f64,
    /// Keys stored with `exptime` to expire together.
    pub expiring: u64,
    pub exptime: u32,
    /// Send `exptime` as an absolute unix time (start of the set phase + `exptime`), so every
    /// key expires in the same second however long storing them takes.
    pub absolute: bool,
    /// Seconds to wait for them to expire (after that second, with `absolute`).
    pub expiry_wait: f64,
    /// Threshold of the requirement, in microseconds.
    pub limit_us: u64,
}

const PHASES: [&str; 5] = [
    "steady (full cache)",
    "after flush_all",
    "setting the expiring keys",
    "waiting for the expiry",
    "after the mass expiry",
];

/// Keeps `shared`'s progress lines coming while the calling thread waits.
fn wait(shared: &Shared, progress: &mut Progress, secs: f64, label: &str) {
    let until = Instant::now() + Duration::from_secs_f64(secs);
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20).min(until - Instant::now()));
        progress.tick(shared, label);
    }
}

fn over(h: &Histogram<u64>, us: u64) -> u64 {
    h.iter_recorded()
        .filter(|v| v.value_iterated_to() > us)
        .map(|v| v.count_at_value())
        .sum()
}

pub fn run(opts: &StallOptions) -> Result<serde_json::Value> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    eprintln!("filling {} until it evicts", opts.fill.server);
    let filled = fill(&opts.fill)?;
    // The newest `capacity` keys are the ones most likely still stored.
    let newest = filled.capacity.clamp(1, filled.written.max(1));
    let keys = KeySpace::new(
        KeyPattern::Uniform,
        filled.written.saturating_sub(newest) + 1,
        filled.written.max(1),
        false,
    );
    eprintln!(
        "wrote {} keys; load over keys {}..={}",
        filled.written, keys.min, keys.max
    );
    let work = Arc::new(Workload::simple(
        opts.fill.server.clone(),
        opts.clients,
        opts.threads,
        opts.ratio,
        1,
        opts.fill.value_size,
        keys,
        opts.fill.key_prefix.clone().into_bytes(),
        0,
        opts.fill.seed ^ 0x5747,
    ));
    let shared = Shared::new(PHASES.len());
    let handles = load::spawn(work, shared.clone());
    let mut progress = Progress::new();
    let mut admin = rt.block_on(Conn::connect(&opts.fill.server))?;
    let phase = |i: usize| {
        shared.phase.store(i, Ordering::Relaxed);
        eprintln!("--- phase: {}", PHASES[i]);
    };

    phase(0);
    wait(&shared, &mut progress, opts.phase_secs, "");

    phase(1);
    let t = Instant::now();
    let reply = rt.block_on(admin.command("flush_all\r\n"))?;
    let flush_us = t.elapsed().as_micros() as u64;
    if reply != Reply::Ok {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("flush_all: {reply:?}"),
        ));
    }
    eprintln!("flush_all answered in {flush_us} µs");
    wait(&shared, &mut progress, opts.phase_secs, "");

    phase(2);
    let set_start = Instant::now();
    let unix_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let exptime = if opts.absolute {
        u32::try_from(unix_now + u64::from(opts.exptime)).unwrap_or(u32::MAX)
    } else {
        opts.exptime
    };
    let setter = Arc::new(Workload::simple(
        opts.fill.server.clone(),
        2,
        1,
        Ratio { set: 1, get: 0 },
        64,
        opts.fill.value_size,
        KeySpace::new(KeyPattern::Sequential, 1, opts.expiring.max(1), true),
        b"expiring:".to_vec(),
        exptime,
        1,
    ));
    let set_shared = Shared::new(1);
    let t = Instant::now();
    let setters = load::spawn(setter, set_shared.clone());
    while !setters.iter().all(|h| h.is_finished()) {
        wait(&shared, &mut progress, 0.05, "");
    }
    let set_totals = load::join(setters, 1)?;
    let set_secs = t.elapsed().as_secs_f64();
    eprintln!(
        "stored {} keys with exptime {} in {set_secs:.2} s ({} errors)",
        set_totals.sets, opts.exptime, set_totals.errors
    );

    phase(3);
    let mut wait_secs = opts.expiry_wait;
    if opts.absolute {
        let deadline = f64::from(opts.exptime) - set_start.elapsed().as_secs_f64();
        if deadline < 0.0 {
            eprintln!("warning: storing the keys took longer than --exptime; some expired early");
        }
        wait_secs += deadline.max(0.0);
    }
    wait(&shared, &mut progress, wait_secs, "");

    phase(4);
    // Ask for every expired key (100 per get, 10 gets in flight) so the server meets them
    // all, while the load goes on.
    let t = Instant::now();
    let still_there = rt.block_on(read_back(&opts.fill.server, opts.expiring))?;
    let read_secs = t.elapsed().as_secs_f64();
    eprintln!(
        "read back {} expired keys in {read_secs:.2} s: {still_there} still there",
        opts.expiring
    );
    wait(
        &shared,
        &mut progress,
        (opts.phase_secs - read_secs).max(0.0),
        "",
    );
    shared.stop();
    let totals = load::join(handles, PHASES.len())?;

    println!("server {}: flush_all answered in {flush_us} µs; {} keys with exptime {exptime} stored in {set_secs:.2} s; expired keys read back in {read_secs:.2} s ({still_there} found)",
        opts.fill.server, set_totals.sets);
    println!();
    println!(
        "| phase | requests | p50 µs | p99 µs | p99.9 µs | max µs | > 1 ms | > {} ms |",
        opts.limit_us / 1000
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut phases_json = Vec::new();
    let mut rows: Vec<(&str, Histogram<u64>)> = PHASES
        .iter()
        .zip(&totals.phases)
        .map(|(name, h)| (*name, h.all()))
        .collect();
    rows.push(("whole run", totals.overall().all()));
    let mut met = true;
    for (i, (name, h)) in rows.iter().enumerate() {
        let (ms1, limit) = (over(h, 1000), over(h, opts.limit_us));
        println!(
            "| {name} | {} | {} | {} | {} | {} | {ms1} | {limit} |",
            h.len(),
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max()
        );
        if (1..PHASES.len()).contains(&i) && h.max() > opts.limit_us {
            met = false;
        }
        let mut j = latency_json(h);
        j["phase"] = (*name).into();
        j["over_1ms"] = ms1.into();
        j["over_limit"] = limit.into();
        phases_json.push(j);
    }
    println!();
    println!(
        "no request over {} ms after flush_all or around the mass expiry: {}",
        opts.limit_us / 1000,
        if met { "met" } else { "NOT met" }
    );
    Ok(serde_json::json!({
        "server": opts.fill.server,
        "filled_keys": filled.written,
        "capacity_estimate": filled.capacity,
        "flush_all_us": flush_us,
        "expiring_keys": set_totals.sets,
        "exptime": opts.exptime,
        "absolute_exptime": opts.absolute,
        "expiring_set_secs": set_secs,
        "read_back_secs": read_secs,
        "expired_keys_found": still_there,
        "load": { "sets": totals.sets, "gets": totals.gets, "hits": totals.hits, "errors": totals.errors },
        "limit_us": opts.limit_us,
        "requirement_met": met,
        "phases": phases_json,
    }))
}

/// Gets `expiring:1..=n`, 100 keys a request, 10 requests in flight; returns the hits.
async fn read_back(server: &str, n: u64) -> Result<u64> {
    let mut conn = Conn::connect(server).await?;
    let (mut next, mut hits, mut out) = (1u64, 0u64, Vec::new());
    while next <= n {
        let mut requests = 0;
        while requests < 10 && next <= n {
            let end = (next + 100).min(n + 1);
            push_get(&mut out, b"expiring:", next..end);
            next = end;
            requests += 1;
        }
        conn.send(&out).await?;
        out.clear();
        for _ in 0..requests {
            match conn.recv().await? {
                Reply::Values { hits: h, .. } => hits += u64::from(h),
                other => {
                    return Err(Error::new(
                        ErrorKind::InvalidData,
                        format!("get answered {other:?}"),
                    ))
                }
            }
        }
    }
    Ok(hits)
}
