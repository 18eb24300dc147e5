//! `fill`: write unique keys until the server evicts, then 20% of its estimated capacity
//! more, and read its resident memory.

use crate::conn::{stat_u64, Conn};
use crate::keys::{KeyPattern, KeySpace};
use crate::load::{self, Progress, Ratio, Shared, Workload};
use std::io::{Error, ErrorKind, Result};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct FillOptions {
    pub server: String,
    pub value_size: usize,
    pub clients: usize,
    pub threads: usize,
    pub pipeline: usize,
    pub key_prefix: String,
    /// Fraction of the estimated capacity written after the first eviction.
    pub extra: f64,
    pub seed: u64,
}

#[derive(Debug, Clone)]
pub struct Filled {
    /// Keys `<prefix>1..=written` were stored, in order (the newest survive).
    pub written: u64,
    /// Keys written when `evictions` was first seen above 0.
    pub written_at_first_eviction: u64,
    /// `curr_items` then: the capacity estimate.
    pub capacity: u64,
    pub secs: f64,
}

/// Reads a `/proc/<pid>/status` field such as `VmRSS`, in bytes.
pub fn proc_status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status
        .lines()
        .find(|l| l.split(':').next() == Some(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Fills the server; see the module doc. Blocks the calling thread.
pub fn fill(opts: &FillOptions) -> Result<Filled> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut probe = rt.block_on(Conn::connect(&opts.server))?;
    let limit = stat_u64(&rt.block_on(probe.stats())?, "limit_maxbytes");
    let work = Arc::new(Workload::simple(
        opts.server.clone(),
        opts.clients,
        opts.threads,
        Ratio { set: 1, get: 0 },
        opts.pipeline,
        opts.value_size,
        KeySpace::new(KeyPattern::Sequential, 1, u64::MAX / 2, true),
        opts.key_prefix.clone().into_bytes(),
        0,
        opts.seed,
    ));
    let shared = Shared::new(1);
    let started = Instant::now();
    let handles = load::spawn(work, shared.clone());
    let mut progress = Progress::new();
    let mut first_eviction: Option<(u64, u64)> = None;
    let mut without_evictions = false;
    loop {
        std::thread::sleep(Duration::from_millis(50));
        if handles.iter().any(|h| h.is_finished()) {
            break; // a connection failed: join reports why
        }
        let written = shared.sets.load(std::sync::atomic::Ordering::Relaxed);
        let stats = rt.block_on(probe.stats())?;
        let (evictions, items) = (
            stat_u64(&stats, "evictions"),
            stat_u64(&stats, "curr_items"),
        );
        progress.tick(
            &shared,
            &format!("fill items {items:>9} evictions {evictions:>9} "),
        );
        match first_eviction {
            None if evictions > 0 => first_eviction = Some((written, items)),
            None if written.saturating_mul(opts.value_size as u64 + 50)
                > limit.saturating_mul(8) =>
            {
                // Eight times the limit written and still no eviction: the server does not
                // evict (or does not report it); stop rather than fill forever.
                without_evictions = true;
                break;
            }
            Some((at, capacity)) if written >= at + (capacity as f64 * opts.extra) as u64 => break,
            _ => {}
        }
    }
    shared.stop();
    load::join(handles, 1)?;
    let written = shared.sets.load(std::sync::atomic::Ordering::Relaxed);
    if without_evictions {
        eprintln!("warning: wrote {written} keys, 8x the memory limit, and saw no eviction");
    }
    let (at, capacity) = first_eviction.unwrap_or((written, written));
    Ok(Filled {
        written,
        written_at_first_eviction: at,
        capacity,
        secs: started.elapsed().as_secs_f64(),
    })
}

/// `ferrobench fill`: fill, settle, and report items, bytes and RSS.
pub fn run(opts: &FillOptions, pid: Option<u32>, settle: Duration) -> Result<serde_json::Value> {
    let rss_start = pid.and_then(|p| proc_status_bytes(p, "VmRSS"));
    if pid.is_some() && rss_start.is_none() {
        return Err(Error::new(
            ErrorKind::NotFound,
            "no /proc/<pid>/status for --pid",
        ));
    }
    let filled = fill(opts)?;
    eprintln!(
        "wrote {} keys in {:.1} s ({:.0} sets/s); first eviction after {}",
        filled.written,
        filled.secs,
        filled.written as f64 / filled.secs,
        filled.written_at_first_eviction
    );
    // Let background work (eviction, memory purging) settle before measuring.
    std::thread::sleep(settle);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let stats = rt.block_on(async { Conn::connect(&opts.server).await?.stats().await })?;
    let items = stat_u64(&stats, "curr_items");
    let bytes = stat_u64(&stats, "bytes");
    let limit = stat_u64(&stats, "limit_maxbytes");
    let rss = pid.and_then(|p| proc_status_bytes(p, "VmRSS"));
    let hwm = pid.and_then(|p| proc_status_bytes(p, "VmHWM"));
    let mb = |b: u64| b as f64 / (1 << 20) as f64;
    println!("server            {}", opts.server);
    println!("value size        {} B", opts.value_size);
    println!("keys written      {}", filled.written);
    println!("items             {items}");
    println!("bytes (stats)     {bytes} ({:.1} MiB)", mb(bytes));
    println!("evictions         {}", stat_u64(&stats, "evictions"));
    println!("limit (-m)        {:.0} MiB", mb(limit));
    if let (Some(rss), Some(start), Some(hwm)) = (rss, rss_start, hwm) {
        println!("RSS empty         {:.1} MiB", mb(start));
        println!(
            "RSS full          {:.1} MiB (peak {:.1} MiB)",
            mb(rss),
            mb(hwm)
        );
        println!("RSS / -m          {:.3}", rss as f64 / limit.max(1) as f64);
        println!(
            "RSS per item      {:.0} B",
            rss as f64 / items.max(1) as f64
        );
    }
    Ok(serde_json::json!({
        "server": opts.server,
        "version": stats.get("version"),
        "value_size": opts.value_size,
        "written": filled.written,
        "written_at_first_eviction": filled.written_at_first_eviction,
        "fill_secs": filled.secs,
        "items": items,
        "bytes": bytes,
        "evictions": stat_u64(&stats, "evictions"),
        "limit": limit,
        "rss_empty": rss_start,
        "rss": rss,
        "rss_peak": hwm,
        "rss_over_limit": rss.map(|r| r as f64 / limit.max(1) as f64),
        "rss_per_item": rss.map(|r| r as f64 / items.max(1) as f64),
    }))
}
