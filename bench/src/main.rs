//! `ferrobench`: load generator for the memcached text protocol (memtier-like options), plus
//! `fill` (RSS of a full cache) and `stall` (latency across flush_all and a mass expiry).

use clap::{Args, Parser, Subcommand};
use ferrocache_bench::fill::proc_status_bytes;
use ferrocache_bench::fill::{self, FillOptions};
use ferrocache_bench::keys::{KeyPattern, KeySpace};
use ferrocache_bench::load::{
    self, latency_json, proc_cpu_split_us, DataSize, Progress, Ratio, Shared, Workload,
};
use ferrocache_bench::proto::Protocol;
use ferrocache_bench::soak::{self, SoakOptions};
use ferrocache_bench::stall::{self, StallOptions};
use hdrhistogram::Histogram;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "ferrobench",
    about = "Load generator for memcached's text, binary and meta protocols; `fill` and \
             `stall` are the foundation measurements",
    args_conflicts_with_subcommands = true,
    args_override_self = true
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
    /// A long mixed load (sets of mixed sizes, gets, multigets, deletes, malformed lines;
    /// pipelined and not) whose connections are killed and reopened at random; the server's
    /// RSS, CPU and the latency percentiles every few seconds (scripts/bench-soak.sh).
    Soak(SoakArgs),
}

#[derive(Args)]
struct SoakArgs {
    #[arg(long, short = 's', default_value = "127.0.0.1:11211")]
    server: String,
    /// The server's pid: its RSS (VmRSS) and CPU go into every sample.
    #[arg(long)]
    pid: Option<u32>,
    /// Seconds to run.
    #[arg(long, default_value_t = 1800.0)]
    duration: f64,
    /// Seconds between samples.
    #[arg(long, default_value_t = 5.0)]
    sample: f64,
    /// Connections open at any time.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Worker threads of the loader.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Requests per second per connection.
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// Keys soak:1 to soak:N, drawn zipfian (0.99).
    #[arg(long, default_value_t = 100_000)]
    keys: u64,
    /// Mean seconds a connection lives before it is killed.
    #[arg(long, default_value_t = 5.0)]
    mean_life: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The time series: one CSV line per sample.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// The summary.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Args)]
struct LoadArgs {
    /// Server address.
    #[arg(long, short = 's', default_value = "127.0.0.1:11211")]
    server: String,
    /// text, binary (GET/SET; GETKQ..NOOP for multigets) or meta (mg/ms; quiet mg..mn).
    #[arg(long, short = 'P', default_value = "text")]
    protocol: Protocol,
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
    /// At most this many requests per second per connection, on a steady beat (memtier's
    /// option of the same name); unset, each connection sends as fast as replies come back.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    rate_limiting: Option<u32>,
    /// Value size in bytes, or a range min-max drawn uniformly.
    #[arg(long, short = 'd', default_value = "32")]
    data_size: DataSize,
    /// uniform, sequential, gaussian, zipf (exponent 0.99) or zipf:EXPONENT (0 < e < 1).
    #[arg(long, default_value = "uniform")]
    key_pattern: KeyPattern,
    /// Keys per get: above 1, each get is one multiget of that many keys.
    #[arg(long, default_value_t = 1)]
    multiget: u32,
    /// set_many/get_many of N consecutive keys (djblets-like): per ratio cycle one block is
    /// drawn; a set writes all N keys (N pipelined requests), a get reads them in one multiget.
    #[arg(long, conflicts_with = "multiget")]
    many: Option<u32>,
    /// Cache-aside: after a single-key get misses, set that key (counted as a set).
    #[arg(long)]
    set_on_miss: bool,
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
    /// Run the workload this many seconds first, unmeasured (e.g. to reach a steady hit ratio).
    #[arg(long, default_value_t = 0.0)]
    warmup: f64,
    /// The server's pid: report its CPU time (utime+stime from /proc/PID/stat) per operation
    /// over the measured run, and its RSS at the end.
    #[arg(long)]
    server_pid: Option<u32>,
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
    /// Speak TLS on every connection, trusting the CAs of this PEM file (the server's
    /// certificate must name localhost).
    #[arg(long)]
    tls_ca: Option<PathBuf>,
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
    if let Some(ca) = &cli.load.tls_ca {
        match ferrocache_bench::conn::tls_config(ca) {
            Ok(config) => {
                let _ = ferrocache_bench::conn::TLS.set(config);
            }
            Err(e) => {
                eprintln!("ferrobench: --tls-ca {}: {e}", ca.display());
                return ExitCode::FAILURE;
            }
        }
    }
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
        Some(Cmd::Soak(a)) => soak::run(SoakOptions {
            server: a.server,
            pid: a.pid,
            duration: Duration::from_secs_f64(a.duration),
            sample: Duration::from_secs_f64(a.sample),
            clients: a.clients,
            threads: a.threads,
            rate: a.rate,
            keys: a.keys,
            mean_life: Duration::from_secs_f64(a.mean_life),
            seed: a.seed,
            csv: a.csv,
        })
        .and_then(|v| {
            println!("{}", serde_json::to_string_pretty(&v)?);
            write_json(&a.json, &v)
        }),
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

/// The measured workload of the options (preload and warmup derive from it).
fn workload(a: &LoadArgs) -> Workload {
    let (keys, block) = match a.many {
        Some(n) if n > 1 => {
            let blocks = ((a.key_maximum - a.key_minimum + 1) / u64::from(n)).max(1);
            (
                KeySpace::new(a.key_pattern, 0, blocks - 1, false),
                Some((n, a.key_minimum)),
            )
        }
        _ => (
            KeySpace::new(a.key_pattern, a.key_minimum, a.key_maximum, false),
            None,
        ),
    };
    Workload {
        server: a.server.clone(),
        clients: a.clients,
        threads: a.threads,
        ratio: a.ratio,
        pipeline: a.pipeline,
        data: a.data_size,
        keys,
        prefix: a.key_prefix.clone().into_bytes(),
        exptime: a.expiry,
        requests: a.requests,
        test_time: None,
        seed: a.seed,
        protocol: a.protocol,
        multiget: a.multiget,
        block,
        set_on_miss: a.set_on_miss,
        rate: a.rate_limiting,
    }
}

fn run_load(a: &LoadArgs) -> std::io::Result<()> {
    let mut preload_json = serde_json::Value::Null;
    if a.preload {
        let (t, secs) = drive(
            Workload {
                ratio: Ratio { set: 1, get: 0 },
                pipeline: a.preload_pipeline,
                keys: KeySpace::new(KeyPattern::Sequential, a.key_minimum, a.key_maximum, true),
                requests: None,
                test_time: None,
                seed: a.seed ^ 0x9e10,
                multiget: 1,
                block: None,
                set_on_miss: false,
                rate: None,
                ..workload(a)
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
    if a.warmup > 0.0 {
        let (t, secs) = drive(
            Workload {
                test_time: Some(Duration::from_secs_f64(a.warmup)),
                requests: None,
                seed: a.seed ^ 0x3a3a,
                ..workload(a)
            },
            "warmup ",
        )?;
        eprintln!(
            "warmup: {} requests in {secs:.2} s, hit ratio {:.4}",
            t.sets + t.gets,
            t.hits as f64 / (t.hits + t.misses).max(1) as f64
        );
    }
    let cpu_before = a.server_pid.and_then(proc_cpu_split_us);
    let (t, secs) = drive(
        Workload {
            test_time,
            ..workload(a)
        },
        "",
    )?;
    let cpu_after = a.server_pid.and_then(proc_cpu_split_us);
    let rss = a.server_pid.and_then(|p| proc_status_bytes(p, "VmRSS"));
    let all = t.overall();
    let total = all.all();
    let hit_ratio = if t.hits + t.misses > 0 {
        t.hits as f64 / (t.hits + t.misses) as f64
    } else {
        0.0
    };
    // The server's CPU over the run: user space and kernel.
    let server_split_us = cpu_before
        .zip(cpu_after)
        .map(|(b, e)| (e.0.saturating_sub(b.0), e.1.saturating_sub(b.1)));
    let server_cpu_us = server_split_us.map(|(user, sys)| user + sys);
    let us_per_op = |us: u64| us as f64 / total.len().max(1) as f64;
    let cpu_per_op = server_cpu_us.map(us_per_op);
    println!(
        "{} protocol, {} connections ({} threads x {}), pipeline {}, ratio {}:{}{}{}, {:.2} s",
        a.protocol.name(),
        a.threads * a.clients,
        a.threads,
        a.clients,
        a.pipeline,
        a.ratio.set,
        a.ratio.get,
        match (a.many, a.multiget) {
            (Some(n), _) => format!(", set_many/get_many of {n} keys"),
            (None, m) if m > 1 => format!(", multiget of {m} keys"),
            _ => String::new(),
        },
        match a.rate_limiting {
            Some(r) => format!(", at most {r} requests/s per connection"),
            None => String::new(),
        },
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
    println!(
        "hit ratio {:.4} ({} of {} keys)  errors {}",
        hit_ratio,
        t.hits,
        t.hits + t.misses,
        t.errors
    );
    if let Some((user, sys)) = server_split_us {
        let us = user + sys;
        println!(
            "server CPU {:.3} s = {:.2} µs/op (user {:.2}, kernel {:.2}){}",
            us as f64 / 1e6,
            us_per_op(us),
            us_per_op(user),
            us_per_op(sys),
            rss.map(|r| format!(", RSS {:.1} MiB", r as f64 / 1048576.0))
                .unwrap_or_default()
        );
    }
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
                "protocol": a.protocol.name(),
                "clients": a.clients, "threads": a.threads, "pipeline": a.pipeline,
                "multiget": a.multiget, "many": a.many, "set_on_miss": a.set_on_miss,
                "rate_limiting": a.rate_limiting,
                "warmup": a.warmup,
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
            "server_cpu_us": server_cpu_us,
            "server_cpu_us_per_op": cpu_per_op,
            "server_user_us_per_op": server_split_us.map(|(user, _)| us_per_op(user)),
            "server_sys_us_per_op": server_split_us.map(|(_, sys)| us_per_op(sys)),
            "server_rss": rss,
        }),
    )
}
