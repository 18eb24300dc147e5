//! The ferrocache server: accepts connections and speaks memcached's protocols.
//!
//! [`run`] takes its listeners, configuration and a shutdown signal as inputs, so tests can
//! start a server in-process on port 0.

pub mod admin;
pub mod alloc;
mod auth;
mod binary;
mod bufpool;
pub mod config;
mod conn;
mod crawler;
pub mod listen;
mod memguard;
mod meta;
mod metrics;
mod out;
mod prefix;
#[doc(hidden)]
pub mod replay;
mod restart;
mod session;
mod stats;
mod text;
pub mod tls;
mod udp;
mod vlog;
mod watch;
mod workers;

pub use config::Config;
pub use listen::{Endpoint, Listener};

use ferrocache_storage::{DebugClock, EvictionPolicy, Store, StoreConfig};
use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Called by the `verbosity` command with the new level (0 to 2), so the binary can change
/// its log filter at run time as memcached changes its output. Set once by `main`.
pub static VERBOSITY_HOOK: std::sync::OnceLock<Box<dyn Fn(u32) + Send + Sync>> =
    std::sync::OnceLock::new();

/// The version we report: the memcached release whose behaviour we match. Clients parse it.
pub const MEMCACHED_VERSION: &str = "1.6.45";

/// How a running server was asked to stop. Either way it stops accepting, lets each
/// connection finish the request it is working on, and returns once all are closed; the two
/// differ in what is printed, as memcached's do, and only a graceful stop saves (`-e`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM, SIGINT, or `shutdown` (with `-A`): memcached prints "Exiting normally" with
    /// `-v` and nothing without.
    Normal,
    /// SIGUSR1, or `shutdown graceful` (with `-A`): memcached prints "Gracefully stopping".
    /// With `-e` the cache is saved once the connections are closed (see `restart`).
    Graceful,
}

/// What the binary's signal handlers ask of a server started with [`run_controlled`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// SIGHUP: read the `-Y` authfile again, and the TLS certificates (`-Z`).
    Reload,
    /// SIGTERM or SIGINT (`Stop::Normal`), SIGUSR1 (`Stop::Graceful`).
    Stop(Stop),
}

/// Stops the server when dropped, as [`Shared::request_stop`] does (so that
/// [`Shared::stopping`] says so too), unless it was stopped already.
struct StopOnDrop<'a>(&'a Shared);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        if !self.0.stopping() {
            self.0.request_stop(Stop::Normal);
        }
    }
}

/// State shared by every connection.
///
/// Why it is shaped this way: the store does its own concurrency control (see
/// `ferrocache_storage`); everything else here is either read-only after start-up (`config`)
/// or a counter that is only ever added to and read for `stats`, so relaxed atomics are
/// enough. The connection table is behind a mutex because it changes only on connect and
/// disconnect (and around a `stats conns` request over UDP) and is read only by
/// `stats conns`.
pub(crate) struct Shared {
    pub config: Arc<Config>,
    pub store: Store,
    pub counters: Counters,
    pub conns: Mutex<conn::Registry>,
    pub started: Instant,
    /// Cancelled by `shutdown` (with `-A`) or by the caller's shutdown future or signal;
    /// always through [`Shared::request_stop`], which records how first.
    pub stop: CancellationToken,
    /// How the server was asked to stop: 0 not yet, else a [`Stop`] as 1 + its index.
    stop_kind: AtomicU8,
    /// When connections still in the middle of a request are closed anyway: the first stop
    /// request plus `-o shutdown_grace_ms`. Set before `stop` is cancelled, so whoever sees
    /// the cancellation finds it.
    stop_deadline: std::sync::OnceLock<tokio::time::Instant>,
    /// `verbosity` changes it at run time.
    pub verbosity: AtomicU32,
    /// `cache_memlimit` changes it at run time (bytes).
    pub maxbytes: AtomicU64,
    /// `slabs automove` and `lru` change these at run time. A mutex: admin commands on any
    /// connection write them (`lru tune` four at once) and only `stats settings` reads them,
    /// both rarely.
    tunables: Mutex<admin::Tunables>,
    pub listeners: usize,
    /// `-Y`: the users of the authfile; connections must authenticate first. SIGHUP reads
    /// the file again and swaps the list (see [`auth::Reloadable`] for why it is shaped so).
    pub auth: Option<auth::Reloadable<auth::AuthFile>>,
    /// `-S`: the users of the SASL password file; binary connections must authenticate
    /// first.
    pub sasl: Option<auth::SaslUsers>,
    /// `stats detail`'s per-prefix counters.
    pub prefixes: prefix::PrefixStats,
    /// Bytes of buffers held by requests still arriving (see `Config::inflight_limit`),
    /// at most `inflight_limit`; `inflight_freed` wakes the connections that wait for room.
    pub inflight: AtomicU64,
    pub inflight_limit: Option<u64>,
    pub inflight_freed: tokio::sync::Notify,
    /// Bytes of large replies being written (see `Session::count_replies`). Under the same
    /// limit as `inflight`, counted apart: a client that reads no replies must not hold up
    /// other connections' requests, only its own.
    pub replies: AtomicU64,
    /// What the parsers refuse (`-I`, `-C`), kept here rather than in each connection.
    pub limits: ferrocache_protocol::Limits,
    /// `-o debug_clock`: the store's clock, which `debugtime` moves.
    pub debug_clock: Option<Arc<DebugClock>>,
    /// `watch` log streams: the watchers, the per-thread line buffers and the logger thread
    /// (see [`watch`] for how they are shared).
    pub logger: Arc<watch::Logger>,
    /// `-Z`: the certificates, which `refresh_certs` and SIGHUP swap (see [`tls::Tls`] for
    /// how open connections keep theirs), and the TLS counters.
    pub tls: Option<Arc<tls::Tls>>,
    /// `-o metrics_listen`: the per-command latency histograms of `/metrics`, which every
    /// worker thread writes (sharded atomics, no lock: see [`metrics::latency`]). `None`
    /// without the option, and then no request is timed.
    pub latency: Option<metrics::Latency>,
    /// `lru_crawler metadump|mgdump` listings started and not yet streamed, by connection
    /// (see `crawler`). Touched only by dumps, one at a time.
    pub dumps: Mutex<std::collections::HashMap<i32, crawler::DumpStream>>,
}

impl Shared {
    fn new(
        config: Arc<Config>,
        auth: Option<auth::AuthFile>,
        sasl: Option<auth::SaslUsers>,
        listeners: usize,
    ) -> Shared {
        let debug_clock = config.debug_clock.then(|| Arc::new(DebugClock::new()));
        let store = match &debug_clock {
            Some(clock) => Store::with_clock(store_config(&config), clock.clone()),
            None => Store::new(store_config(&config)),
        };
        let logger = watch::Logger::start(
            store.tap().clone(),
            config.worker_logbuf_size as usize,
            config.watcher_logbuf_size as usize,
        );
        Shared {
            logger,
            auth: auth.map(auth::Reloadable::new),
            sasl,
            store,
            debug_clock,
            inflight: AtomicU64::new(0),
            inflight_limit: config.inflight_limit(),
            inflight_freed: tokio::sync::Notify::new(),
            dumps: Mutex::default(),
            replies: AtomicU64::new(0),
            limits: ferrocache_protocol::Limits {
                item_size_max: config.item_size_max,
                cas_enabled: !config.disable_cas,
            },
            tls: None,
            latency: config
                .metrics_listen
                .is_some()
                .then(metrics::Latency::default),
            counters: Counters::default(),
            conns: Mutex::new(conn::Registry::default()),
            started: Instant::now(),
            stop: CancellationToken::new(),
            stop_kind: AtomicU8::new(0),
            stop_deadline: std::sync::OnceLock::new(),
            verbosity: AtomicU32::new(u32::from(config.verbosity)),
            maxbytes: AtomicU64::new(config.memory_limit_bytes()),
            tunables: Mutex::new(config.tunables.clone()),
            listeners,
            prefixes: prefix::PrefixStats::new(
                config.prefix_delimiter as u8,
                config.detail_enabled,
            ),
            config,
        }
    }

    /// The run-time settings of `slabs automove` and `lru` (see [`admin`]).
    pub fn tunables(&self) -> std::sync::MutexGuard<'_, admin::Tunables> {
        // Every writer leaves the settings whole, so a poisoned lock still holds good ones.
        self.tunables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The time a connection records as that of its last command: memcached's
    /// `current_time`, whole seconds, which is all `stats conns` shows. Read from the store's
    /// clock, because every request sets it and a precise clock read would cost more.
    pub fn last_cmd_time(&self) -> u64 {
        u64::from(self.store.current_time())
    }

    /// Stops the server; the first request decides how (memcached, too, acts on one stop).
    pub fn request_stop(&self, how: Stop) {
        let code = match how {
            Stop::Normal => 1,
            Stop::Graceful => 2,
        };
        let _ = self
            .stop_kind
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire);
        self.stop_deadline
            .get_or_init(|| tokio::time::Instant::now() + self.config.shutdown_grace);
        self.stop.cancel();
        conn::wake_all(self);
    }

    /// When a stopping server closes the connections still open: `-o shutdown_grace_ms`
    /// after the first stop request (or from now, if the server is stopped by dropping).
    pub fn stop_deadline(&self) -> tokio::time::Instant {
        *self
            .stop_deadline
            .get_or_init(|| tokio::time::Instant::now() + self.config.shutdown_grace)
    }

    /// Has a stop been asked for? What every connection checks between reads.
    ///
    /// Why not `stop.is_cancelled()`: tokio-util's token answers that under a mutex that
    /// every connection of every thread would take two or three times a request (1% of the
    /// server's CPU at one request per round trip, with the lock's line moving between the
    /// cores). `stop_kind` is set before the token is cancelled, and only then written.
    pub fn stopping(&self) -> bool {
        self.stop_kind.load(Ordering::Acquire) != 0
    }

    /// How the server was asked to stop (`Normal` if it was not, or only by dropping).
    fn stop_kind(&self) -> Stop {
        match self.stop_kind.load(Ordering::Acquire) {
            2 => Stop::Graceful,
            _ => Stop::Normal,
        }
    }

    /// SIGHUP, as memcached handles it: the `-Y` authfile is read again, and connections that
    /// have not authenticated yet (new ones included) check against the new users. If the
    /// file cannot be read the old users stay, and the error is logged (memcached keeps them
    /// silently).
    fn reload(&self) {
        if let (Some(users), Some(path)) = (&self.auth, &self.config.auth_file) {
            match auth::AuthFile::load(path) {
                Ok(new) => {
                    users.replace(new);
                    tracing::info!("SIGHUP: reloaded the authfile {}", path.display());
                }
                Err(e) => tracing::error!(
                    "SIGHUP: could not read the authfile {}: {e}; the users read before stay",
                    path.display()
                ),
            }
        }
        // memcached's refresh_certs: on failure the certificates read before stay.
        if let Some(tls) = &self.tls {
            match tls.refresh() {
                Ok(()) => tracing::info!("SIGHUP: reloaded the TLS certificates"),
                Err(e) => tracing::error!("Could not reload TLS certificates on SIGHUP: {e}"),
            }
        }
    }
}

/// What memcached prints when its main loop ends: "Gracefully stopping" always for a
/// graceful stop, "Exiting normally" only with `-v` (its level now, which `verbosity`
/// changes) for the others. Plain lines on stderr, as memcached's `fprintf`s are.
fn announce(how: Stop, verbosity: u32) {
    match how {
        Stop::Graceful => eprintln!("Gracefully stopping"),
        Stop::Normal if verbosity > 0 => eprintln!("Exiting normally"),
        Stop::Normal => {}
    }
}

/// Server-wide counters that are not the store's business.
#[derive(Default)]
pub(crate) struct Counters {
    pub curr_connections: AtomicU64,
    pub total_connections: AtomicU64,
    pub rejected_connections: AtomicU64,
    /// Added to by every request: per thread (see [`PerRequest`]).
    pub hot: ferrocache_storage::Stripes<PerRequest>,
    pub cmd_flush: AtomicU64,
    pub conn_yields: AtomicU64,
    pub auth_cmds: AtomicU64,
    pub auth_errors: AtomicU64,
    /// Connections closed by `-o idle_timeout`.
    pub idle_kicks: AtomicU64,
    /// Times accepting stopped for lack of descriptors (memcached's `listen_disabled_num`),
    /// and for how long in all.
    pub listen_disabled_num: AtomicU64,
    pub time_in_listen_disabled_us: AtomicU64,
    /// Requests that waited for read buffer room under `-o read_buf_mem_limit`.
    pub read_buf_oom: AtomicU64,
    /// Times a connection stopped running requests because replies waiting for slow clients
    /// were over `-o read_buf_mem_limit` (memcached's `response_obj_oom`).
    pub response_obj_oom: AtomicU64,
    /// The most connections open at once, listeners included (memcached's
    /// `connection_structures`, which it allocates once and keeps).
    pub peak_connections: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The calling thread's copy of the counters every request adds to.
    #[inline]
    pub fn mine(&self) -> &PerRequest {
        self.hot.mine()
    }

    /// One of those counters, summed over the threads.
    pub fn sum(&self, field: fn(&PerRequest) -> &AtomicU64) -> u64 {
        self.hot
            .all()
            .map(|c| field(c).load(Ordering::Relaxed))
            .sum()
    }
}

/// The server's counters that every request adds to, one copy per thread, summed for
/// `stats`. Why: a single shared copy would move its cache line between the worker
/// threads' cores on every request (see `ferrocache_storage::Stripes`).
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct PerRequest {
    pub bytes_read: AtomicU64,
    pub bytes_written: AtomicU64,
    pub cmd_meta: AtomicU64,
}

impl PerRequest {
    /// `stats reset`: memcached zeroes all three.
    pub(crate) fn reset(&self) {
        for counter in [&self.bytes_read, &self.bytes_written, &self.cmd_meta] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

pub(crate) fn store_config(config: &Config) -> StoreConfig {
    StoreConfig {
        memory_limit: config.memory_limit_bytes(),
        // How far `cache_memlimit` can raise the budget: the machine's memory, past which
        // a budget cannot be used anyway. Not with TinyLFU: moka sizes its frequency
        // sketch once, from the entries it holds when half full, and the ballast that
        // holds back the headroom would make it half full with no item in it (the sketch
        // would stay at its 128-entry minimum); so there `cache_memlimit` lowers, and
        // raises only back up to `-m`.
        memory_ceiling: match config.eviction {
            config::Eviction::Lru => memguard::physical_memory().unwrap_or(0),
            config::Eviction::TinyLfu => 0,
        },
        no_evict: config.disable_evictions,
        item_size_max: config.item_size_max,
        cas_enabled: !config.disable_cas,
        policy: match config.eviction {
            config::Eviction::Lru => EvictionPolicy::Lru,
            config::Eviction::TinyLfu => EvictionPolicy::TinyLfu,
        },
        alloc_size: alloc::allocated_size,
        slabs: ferrocache_storage::slabs::SlabConfig {
            chunk_size: config.slab_min_size,
            factor: config.slab_factor,
            chunk_max: config.slab_chunk_max,
            page_size: 1024 * 1024,
            sizes: config.slab_sizes.clone(),
            track_sizes: config.track_sizes,
        },
        crawler: ferrocache_storage::CrawlerConfig {
            enabled: config.lru_crawler,
            reclaim: config.lru_maintainer,
            sleep_us: config.lru_crawler_sleep,
            tocrawl: config.lru_crawler_tocrawl,
        },
    }
}

/// Serves `listeners` (plain [`Listener`]s speak `-B`'s protocol, [`Endpoint`]s their own)
/// until `shutdown` completes or a client sends `shutdown` (with `-A`).
/// Then it stops accepting, lets every connection finish the request it is working on, and
/// returns once all connections are closed.
///
/// The caller's runtime runs the accept loops; the connections are served on `-t` worker
/// threads that `run` starts, each with its own single-threaded runtime, and ends before it
/// returns. Each UDP descriptor (`-U`; see [`Listener::Udp`]) is served on a worker thread.
///
/// With `-Z` the certificates are read here (see [`run_controlled`] to read them earlier).
pub async fn run(
    listeners: Vec<impl Into<Endpoint>>,
    config: Arc<Config>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve(listeners, config, shutdown, None, None)
        .await
        .map(|_| ())
}

/// [`run`], steered by the process's signals as memcached is: [`Control::Reload`] (SIGHUP)
/// reads the `-Y` authfile again, [`Control::Stop`] stops the server. Returns how it was
/// stopped (by a signal or by a client's `shutdown`), once every connection is closed.
/// `tls`: the certificates of `-Z`, read by [`tls::Tls::load`] (the binary reads them before
/// it drops privileges, as memcached does); read here if `None` and `-Z` is given.
pub async fn run_controlled(
    listeners: Vec<impl Into<Endpoint>>,
    config: Arc<Config>,
    tls: Option<Arc<tls::Tls>>,
    control: UnboundedReceiver<Control>,
) -> std::io::Result<Stop> {
    serve(
        listeners,
        config,
        std::future::pending(),
        tls,
        Some(control),
    )
    .await
}

async fn serve(
    listeners: Vec<impl Into<Endpoint>>,
    config: Arc<Config>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    tls: Option<Arc<tls::Tls>>,
    mut control: Option<UnboundedReceiver<Control>>,
) -> std::io::Result<Stop> {
    let tls = match tls {
        Some(tls) => Some(tls),
        None if config.tls.enabled => Some(
            tls::Tls::load(&config)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?,
        ),
        None => None,
    };
    let auth = match &config.auth_file {
        Some(path) => Some(auth::AuthFile::load(path).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("could not read the authfile {}: {e}", path.display()),
            )
        })?),
        None => None,
    };
    let sasl = if config.sasl {
        let Some(path) = &config.sasl_pwdb else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "-S needs a SASL password file of user:password lines: set MEMCACHED_SASL_PWDB \
                 or -o sasl_pwdb=<file>",
            ));
        };
        Some(auth::SaslUsers::load(path).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "could not read the SASL password file {}: {e}",
                    path.display()
                ),
            )
        })?)
    } else {
        None
    };
    // `-o metrics_listen`: bound before anything starts, so a port that cannot be bound
    // stops the server as one of its own listeners would (see `metrics::bind`).
    let metrics_listener = match &config.metrics_listen {
        Some(addr) => Some(metrics::bind(addr).await.map_err(std::io::Error::other)?),
        None => None,
    };
    // The UDP descriptors count as connections too.
    let sockets = listeners.len();
    let (udp, listeners): (Vec<Endpoint>, Vec<Endpoint>) = listeners
        .into_iter()
        .map(Into::into)
        .partition(|e: &Endpoint| matches!(e.listener, Listener::Udp(_)));
    let mut shared = Shared::new(config, auth, sasl, sockets);
    shared.tls = tls;
    let shared = Arc::new(shared);
    // -e: the cache saved by the last graceful stop comes back before any client is
    // served (the listeners are bound, and connections wait in their backlog meanwhile).
    if let Some(path) = shared.config.memory_file.clone() {
        restart::check_writable(&path)?;
        let loading = shared.clone();
        tokio::task::spawn_blocking(move || restart::load(&loading.store, &path))
            .await
            .map_err(std::io::Error::other)??;
    }
    // If this future is dropped before it returns, the accept loops (tasks of the caller's
    // runtime) stop too, and with them the last hold on the worker threads.
    let _stop_on_drop = StopOnDrop(&shared);
    // The listening sockets count as connections in memcached's totals.
    Counters::add(&shared.counters.total_connections, shared.listeners as u64);
    // Connection slots: a permit per client connection, up to `-c`.
    let slots = Arc::new(Semaphore::new(shared.config.max_connections));
    let tracker = TaskTracker::new();
    let workers = Arc::new(workers::Workers::start(shared.config.threads)?);
    for endpoint in listeners {
        let Endpoint {
            listener,
            protocol,
            tls,
        } = endpoint;
        let listener = Arc::new(listener);
        let protocol = protocol.unwrap_or(shared.config.protocol);
        conn::register_listener(&shared, &listener, protocol);
        tracker.spawn(conn::accept_loop(
            listener,
            protocol,
            tls,
            shared.clone(),
            slots.clone(),
            tracker.clone(),
            workers.clone(),
        ));
    }
    for endpoint in udp {
        let Listener::Udp(socket) = endpoint.listener else {
            unreachable!("partitioned above");
        };
        udp::start(socket, &shared, &tracker, &workers)?;
    }
    // On the caller's runtime (the main thread in the binary), away from the workers: a
    // scrape or a bad HTTP client never holds up a cache connection's thread. It stops
    // accepting when the server stops.
    let metrics_task = metrics_listener.map(|l| tokio::spawn(metrics::serve(l, shared.clone())));
    tokio::spawn(memguard::follow_rss(shared.clone(), memguard::rss_bytes()));
    let mut shutdown = std::pin::pin!(shutdown);
    let how = loop {
        tokio::select! {
            _ = &mut shutdown => {
                shared.request_stop(Stop::Normal);
                break shared.stop_kind();
            }
            _ = shared.stop.cancelled() => break shared.stop_kind(),
            Some(order) = next_control(&mut control) => match order {
                Control::Reload => shared.reload(),
                Control::Stop(how) => shared.request_stop(how),
            },
        }
    };
    announce(how, shared.verbosity.load(Ordering::Relaxed));
    tracing::debug!("stopping: no new connections, draining the open ones");
    tracker.close();
    // Connections in the middle of a request get until the deadline to finish it; one that
    // is still there then (a client that stopped reading its replies, say) is dropped with
    // its worker's runtime.
    if tokio::time::timeout_at(shared.stop_deadline(), tracker.wait())
        .await
        .is_err()
    {
        tracing::debug!("closing the connections still open after -o shutdown_grace_ms");
    }
    workers.stop().await;
    if let Some(task) = metrics_task {
        // It returns at the stop; its listening socket is closed once it has.
        let _ = task.await;
    }
    // -e: saved only on a graceful stop, as memcached saves, and only now that every
    // connection is closed, so that no write answered before the exit is missing from it.
    if how == Stop::Graceful {
        if let Some(path) = shared.config.memory_file.clone() {
            let saving = shared.clone();
            tokio::task::spawn_blocking(move || restart::save(&saving.store, &path))
                .await
                .map_err(std::io::Error::other)??;
        }
    }
    Ok(how)
}

/// The next order from the signal handlers; never, without them or once they are gone.
async fn next_control(control: &mut Option<UnboundedReceiver<Control>>) -> Option<Control> {
    match control {
        Some(rx) => match rx.recv().await {
            Some(order) => Some(order),
            None => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}
