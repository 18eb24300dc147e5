//! `ferrobench`: load generator for the memcached text protocol (memtier-like options), plus
//! `fill` (RSS of a full cache) and `stall` (latency across flush_all and a mass expiry).

use clap::{Args, Parser, Subcommand};
use ferrocache_bench::fill::{self, FillOptions};
use ferrocache_bench::keys::{KeyPattern, KeySpace};
use ferrocache_bench::load::{self, latency_json, DataSize, Progress, Ratio, Shared, Workload};
use ferrocache_bench::stall::{self, StallOptions};
use hdrhistogram::Histogram;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "ferrobench",
    about = "Load generator for memcached's text protocol; `fill` and `stall` are the \
             foundation measurements",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Subcommand)]
enum Cmd {
    /// Fill the server with unique keys until it evicts, write 20% of its capacity more,
    /// and report items, bytes and the server's RSS.
    Fill(FillArgs),
    /// On a full cache under steady load: flush_all, then a million keys expiring at once;
    /// latency per phase.
    Stall(StallArgs),
}

#[derive(Args)]
struct LoadArgs {
    /// Server address.
    #[arg(long, short = 's', default_value = "127.0.0.1:11211")]
    server: String,
    /// Connections per thread.
    #[arg(long, short = 'c', default_value_t = 4)]
    clients: usize,
    /// Loader threads (each runs its own event loop).
    #[arg(long, short = 't', default_value_t = 1)]
    threads: usize,
    /// set:get ratio, e.g. 1:10 (0:1 = gets only).
    #[arg(long, default_value = "1:10")]
    ratio: Ratio,
    /// Requests in flight per connection.
    #[arg(long, default_value_t = 1)]
    pipeline: usize,
    /// Value size in bytes, or a range min-max drawn uniformly.
    #[arg(long, short = 'd', default_value = "32")]
    data_size: DataSize,
    /// uniform, sequential, gaussian or zipf (theta 0.99).
    #[arg(long, default_value = "uniform")]
    key_pattern: KeyPattern,
    #[arg(long, default_value = "key:")]
    key_prefix: String,
    #[arg(long, default_value_t = 1)]
    key_minimum: u64,
    #[arg(long, default_value_t = 1_000_000)]
    key_maximum: u64,
    /// Seconds to run (the default unless --requests is given: 10).
    #[arg(long, conflicts_with = "requests")]
    test_time: Option<f64>,
    /// Requests per connection, instead of a time limit.
    #[arg(long)]
    requests: Option<u64>,
    /// Before the test, set every key from key-minimum to key-maximum (pipelined).
    #[arg(long)]
    preload: bool,
    /// Requests in flight per connection while preloading.
    #[arg(long, default_value_t = 64)]
    preload_pipeline: usize,
    /// exptime sent with every set.
    #[arg(long, default_value_t = 0)]
    expiry: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Args)]
struct FillTarget {
    #[arg(long, short = 's', default_value = "127.0.0.1:11211")]
    server: String,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Connections that fill.
    #[arg(long, default_value_t = 4)]
    fill_clients: usize,
    /// Loader threads that fill.
    #[arg(long, default_value_t = 1)]
    fill_threads: usize,
    /// Sets in flight per filling connection.
    #[arg(long, default_value_t = 128)]
    fill_pipeline: usize,
    #[arg(long, default_value = "fill:")]
    key_prefix: String,
    /// Part of the estimated capacity written after the first eviction.
    #[arg(long, default_value_t = 0.2)]
    extra: f64,
}

impl FillTarget {
    fn options(&self) -> FillOptions {
        FillOptions {
            server: self.server.clone(),
            value_size: self.value_size,
            clients: self.fill_clients,
            threads: self.fill_threads,
            pipeline: self.fill_pipeline,
            key_prefix: self.key_prefix.clone(),
            extra: self.extra,
            seed: 1,
        }
    }
}

#[derive(Args)]
struct FillArgs {
    #[command(flatten)]
    target: FillTarget,
    /// The server's pid, to read VmRSS from /proc/PID/status.
    #[arg(long)]
    pid: Option<u32>,
    /// Seconds to wait after filling before reading RSS.
    #[arg(long, default_value_t = 2.0)]
    settle: f64,
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Args)]
struct StallArgs {
    #[command(flatten)]
    target: FillTarget,
    /// Background load connections (one request in flight each).
    #[arg(long, default_value_t = 8)]
    clients: usize,
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// set:get ratio of the background load.
    #[arg(long, default_value = "1:10")]
    ratio: Ratio,
    /// Seconds of load in the steady phase and after each event.
    #[arg(long, default_value_t = 5.0)]
    phase_secs: f64,
    /// Keys stored to expire together.
    #[arg(long, default_value_t = 1_000_000)]
    expiring: u64,
    #[arg(long, default_value_t = 2)]
    exptime: u32,
    /// Send the exptime as an absolute unix time (now + --exptime), so all the keys expire
    /// in the same second even when storing them takes longer than --exptime.
    #[arg(long)]
    absolute: bool,
    /// Seconds to wait, under load, for them to expire (after that second, with --absolute).
    #[arg(long, default_value_t = 3.0)]
    expiry_wait: f64,
    /// The requirement: no request slower than this many milliseconds.
    #[arg(long, default_value_t = 10)]
    limit_ms: u64,
    #[arg(long)]
    json: Option<PathBuf>,
}

fn write_json(path: &Option<PathBuf>, value: &serde_json::Value) -> std::io::Result<()> {
    if let Some(path) = path {
        std::fs::write(path, serde_json::to_string_pretty(value)? + "\n")?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => run_load(&cli.load),
        Some(Cmd::Fill(a)) => fill::run(
            &a.target.options(),
            a.pid,
            Duration::from_secs_f64(a.settle),
        )
        .and_then(|v| write_json(&a.json, &v)),
        Some(Cmd::Stall(a)) => stall::run(&StallOptions {
            fill: a.target.options(),
            clients: a.clients,
            threads: a.threads,
            ratio: a.ratio,
            phase_secs: a.phase_secs,
            expiring: a.expiring,
            exptime: a.exptime,
            absolute: a.absolute,
            expiry_wait: a.expiry_wait,
            limit_us: a.limit_ms * 1000,
        })
        .and_then(|v| write_json(&a.json, &v)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferrobench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a workload to its end, with a progress line a second; returns totals and seconds.
fn drive(work: Workload, label: &str) -> std::io::Result<(load::Totals, f64)> {
    let shared = Shared::new(1);
    let started = Instant::now();
    let handles = load::spawn(Arc::new(work), shared.clone());
    let mut progress = Progress::new();
    while !handles.iter().all(|h| h.is_finished()) {
        std::thread::sleep(Duration::from_millis(20));
        progress.tick(&shared, label);
    }
    let secs = started.elapsed().as_secs_f64();
    Ok((load::join(handles, 1)?, secs))
}

fn run_load(a: &LoadArgs) -> std::io::Result<()> {
    let mut preload_json = serde_json::Value::Null;
    if a.preload {
        let (t, secs) = drive(
            Workload {
                server: a.server.clone(),
                clients: a.clients,
                threads: a.threads,
                ratio: Ratio { set: 1, get: 0 },
                pipeline: a.preload_pipeline,
                data: a.data_size,
                keys: KeySpace::new(KeyPattern::Sequential, a.key_minimum, a.key_maximum, true),
                prefix: a.key_prefix.clone().into_bytes(),
                exptime: a.expiry,
                requests: None,
                test_time: None,
                seed: a.seed ^ 0x9e10,
            },
            "preload ",
        )?;
        eprintln!(
            "preloaded {} keys in {secs:.2} s ({:.0} sets/s, {} errors)",
            t.sets,
            t.sets as f64 / secs,
            t.errors
        );
        preload_json = serde_json::json!({"keys": t.sets, "secs": secs, "errors": t.errors});
    }
    let test_time = match (a.test_time, a.requests) {
        (Some(s), _) => Some(Duration::from_secs_f64(s)),
        (None, Some(_)) => None,
        (None, None) => Some(Duration::from_secs(10)),
    };
    let (t, secs) = drive(
        Workload {
            server: a.server.clone(),
            clients: a.clients,
            threads: a.threads,
            ratio: a.ratio,
            pipeline: a.pipeline,
            data: a.data_size,
            keys: KeySpace::new(a.key_pattern, a.key_minimum, a.key_maximum, false),
            prefix: a.key_prefix.clone().into_bytes(),
            exptime: a.expiry,
            requests: a.requests,
            test_time,
            seed: a.seed,
        },
        "",
    )?;
    let all = t.overall();
    let total = all.all();
    let hit_ratio = if t.gets > 0 {
        t.hits as f64 / t.gets as f64
    } else {
        0.0
    };
    println!(
        "{} connections ({} threads x {}), pipeline {}, ratio {}:{}, {:.2} s",
        a.threads * a.clients,
        a.threads,
        a.clients,
        a.pipeline,
        a.ratio.set,
        a.ratio.get,
        secs
    );
    println!();
    println!("| type | ops | ops/s | hits/s | misses/s | p50 µs | p99 µs | p99.9 µs | max µs |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let row = |name: &str, h: &Histogram<u64>, hits: Option<(u64, u64)>| {
        let (hs, ms) = match hits {
            Some((h, m)) => (
                format!("{:.0}", h as f64 / secs),
                format!("{:.0}", m as f64 / secs),
            ),
            None => ("-".into(), "-".into()),
        };
        println!(
            "| {name} | {} | {:.0} | {hs} | {ms} | {} | {} | {} | {} |",
            h.len(),
            h.len() as f64 / secs,
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max()
        );
    };
    row("sets", &all.set, None);
    row("gets", &all.get, Some((t.hits, t.misses)));
    row("total", &total, Some((t.hits, t.misses)));
    println!();
    println!("hit ratio {:.4}  errors {}", hit_ratio, t.errors);
    let mut sets = latency_json(&all.set);
    sets["ops_per_sec"] = (all.set.len() as f64 / secs).into();
    let mut gets = latency_json(&all.get);
    gets["ops_per_sec"] = (all.get.len() as f64 / secs).into();
    let mut totals = latency_json(&total);
    totals["ops_per_sec"] = (total.len() as f64 / secs).into();
    write_json(
        &a.json,
        &serde_json::json!({
            "server": a.server,
            "config": {
                "clients": a.clients, "threads": a.threads, "pipeline": a.pipeline,
                "ratio": format!("{}:{}", a.ratio.set, a.ratio.get),
                "data_size": [a.data_size.min, a.data_size.max],
                "key_pattern": format!("{:?}", a.key_pattern).to_lowercase(),
                "key_minimum": a.key_minimum, "key_maximum": a.key_maximum,
            },
            "preload": preload_json,
            "secs": secs,
            "sets": sets,
            "gets": gets,
            "totals": totals,
            "hits": t.hits,
            "misses": t.misses,
            "hit_ratio": hit_ratio,
            "errors": t.errors,
        }),
    )
}
