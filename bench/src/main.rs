//! `ferrobench`: measurements that compare ferrocache with memcached.
//!
//! - `fill`: fills a server past its memory limit and reports its resident memory.
//! - `stall`: on a full server under steady load, sends `flush_all` and then lets a million
//!   keys expire at once, and reports request latency in each phase.
//!
//! Both speak the text protocol over plain TCP to any memcached-compatible server.

mod client;

use clap::{Parser, Subcommand};
use client::Conn;
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "ferrobench", about = "Benchmarks ferrocache against memcached")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Fill the server until it evicts, then write 20% more, and report its RSS.
    Fill {
        #[arg(long, default_value = "127.0.0.1:11211")]
        server: String,
        /// Value size in bytes.
        #[arg(long, default_value_t = 100)]
        value_size: usize,
        /// The server's pid, to read its RSS from /proc.
        #[arg(long)]
        pid: u32,
        /// Connections used to fill.
        #[arg(long, default_value_t = 4)]
        clients: usize,
    },
    /// Latency on a full cache across flush_all and a mass expiry.
    Stall {
        #[arg(long, default_value = "127.0.0.1:11211")]
        server: String,
        #[arg(long, default_value_t = 100)]
        value_size: usize,
        /// Keys that expire together in the mass-expiry phase.
        #[arg(long, default_value_t = 1_000_000)]
        expiring: usize,
        /// Background load connections.
        #[arg(long, default_value_t = 8)]
        clients: usize,
        /// Seconds of load in each phase.
        #[arg(long, default_value_t = 5)]
        phase_secs: u64,
    },
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::io::Result<()> {
    match Cli::parse().command {
        Cmd::Fill {
            server,
            value_size,
            pid,
            clients,
        } => {
            let filled = fill(&server, value_size, clients, "fill").await?;
            // Let both servers finish background work (evictions, purges) before measuring.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let rss = rss_kib(pid).unwrap_or(0) * 1024;
            let mut c = Conn::connect(&server).await?;
            let stats = c.stats().await?;
            let items: u64 = stats
                .get("curr_items")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let limit: u64 = stats
                .get("limit_maxbytes")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            println!(
                "{{\"value_size\":{value_size},\"written\":{filled},\"items\":{items},\"limit\":{limit},\"rss\":{rss},\"rss_per_item\":{:.1},\"rss_over_limit\":{:.3}}}",
                rss as f64 / items.max(1) as f64,
                rss as f64 / limit.max(1) as f64
            );
        }
        Cmd::Stall {
            server,
            value_size,
            expiring,
            clients,
            phase_secs,
        } => stall(&server, value_size, expiring, clients, phase_secs).await?,
    }
    Ok(())
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Writes unique keys until the server reports evictions, then 20% more. Returns the
/// number of keys written.
async fn fill(
    server: &str,
    value_size: usize,
    clients: usize,
    prefix: &str,
) -> std::io::Result<usize> {
    let next = Arc::new(AtomicUsize::new(0));
    let evicting_at = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let value = vec![b'v'; value_size];
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (next, done) = (next.clone(), done.clone());
        let (server, value, prefix) = (server.to_string(), value.clone(), prefix.to_string());
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::connect(&server).await?;
            const BATCH: usize = 64;
            while !done.load(Ordering::Relaxed) {
                let start = next.fetch_add(BATCH, Ordering::Relaxed);
                c.set_batch(&prefix, start..start + BATCH, &value, 0)
                    .await?;
            }
            Ok::<(), std::io::Error>(())
        }));
    }
    let mut probe = Conn::connect(server).await?;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let written = next.load(Ordering::Relaxed);
        let stats = probe.stats().await?;
        let evictions: u64 = stats
            .get("evictions")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let at = evicting_at.load(Ordering::Relaxed);
        if evictions > 0 && at == 0 {
            evicting_at.store(written, Ordering::Relaxed);
        } else if at > 0 && written >= at + at / 5 {
            done.store(true, Ordering::Relaxed);
            break;
        }
    }
    for t in tasks {
        t.await.expect("fill task")?;
    }
    Ok(next.load(Ordering::Relaxed))
}

struct Phase {
    name: &'static str,
    hist: Histogram<u64>,
}

async fn stall(
    server: &str,
    value_size: usize,
    expiring: usize,
    clients: usize,
    phase_secs: u64,
) -> std::io::Result<()> {
    eprintln!("filling {server} until it evicts");
    let filled = fill(server, value_size, 4, "fill").await?;
    eprintln!("wrote {filled} keys");
    let phases = Arc::new(Mutex::new(vec![Phase {
        name: "steady (full cache)",
        hist: Histogram::new_with_bounds(1, 60_000_000, 3).expect("bounds"),
    }]));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for id in 0..clients {
        let (phases, stop, server) = (phases.clone(), stop.clone(), server.to_string());
        let value = vec![b'w'; value_size];
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::connect(&server).await?;
            let mut local = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
            let mut phase_seen = 0;
            let mut n: u64 = id as u64 * 7919;
            while !stop.load(Ordering::Relaxed) {
                n = n
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let key = (n >> 33) as usize % filled.max(1);
                let started = Instant::now();
                if n.is_multiple_of(11) {
                    c.set_batch("fill", key..key + 1, &value, 0).await?;
                } else {
                    c.get(&format!("fill:{key}")).await?;
                }
                let us = started.elapsed().as_micros() as u64;
                let mut p = phases.lock().expect("phases");
                if p.len() - 1 != phase_seen {
                    // Hand this client's samples to the phase they belong to.
                    p[phase_seen].hist.add(&local).expect("same bounds");
                    local.reset();
                    phase_seen = p.len() - 1;
                }
                drop(p);
                local.record(us.max(1)).expect("in bounds");
            }
            phases.lock().expect("phases")[phase_seen]
                .hist
                .add(&local)
                .expect("same bounds");
            Ok::<(), std::io::Error>(())
        }));
    }
    let new_phase = |name: &'static str| {
        phases.lock().expect("phases").push(Phase {
            name,
            hist: Histogram::new_with_bounds(1, 60_000_000, 3).expect("bounds"),
        });
    };
    tokio::time::sleep(Duration::from_secs(phase_secs)).await;
    let mut admin = Conn::connect(server).await?;
    new_phase("after flush_all");
    let t = Instant::now();
    admin.command("flush_all\r\n").await?;
    eprintln!("flush_all answered in {:?}", t.elapsed());
    tokio::time::sleep(Duration::from_secs(phase_secs)).await;
    new_phase("setting 1M keys with exptime 2");
    let value = vec![b'e'; value_size];
    let t = Instant::now();
    let mut i = 0;
    while i < expiring {
        let end = (i + 256).min(expiring);
        admin.set_batch("exp", i..end, &value, 2).await?;
        i = end;
    }
    eprintln!("set {expiring} expiring keys in {:?}", t.elapsed());
    new_phase("waiting for the mass expiry");
    tokio::time::sleep(Duration::from_secs(3)).await;
    new_phase("after the mass expiry");
    // Touch the expired keys too, so the server meets them.
    let mut reader = Conn::connect(server).await?;
    let t = Instant::now();
    for start in (0..expiring.min(100_000)).step_by(100) {
        let keys: Vec<String> = (start..start + 100).map(|k| format!("exp:{k}")).collect();
        reader.get_many(&keys).await?;
    }
    eprintln!("read back 100k expired keys in {:?}", t.elapsed());
    tokio::time::sleep(Duration::from_secs(phase_secs)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("load task")?;
    }
    println!("| phase | requests | p50 µs | p99 µs | p99.9 µs | max µs |");
    println!("|---|---|---|---|---|---|");
    for p in phases.lock().expect("phases").iter() {
        let h = &p.hist;
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            p.name,
            h.len(),
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max()
        );
    }
    Ok(())
}
