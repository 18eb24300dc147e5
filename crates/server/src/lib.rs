//! The ferrocache server: accepts connections and speaks memcached's protocols.
//!
//! [`run`] takes its listeners, configuration and a shutdown signal as inputs, so tests can
//! start a server in-process on port 0.

pub mod alloc;
mod auth;
mod binary;
pub mod config;
mod conn;
pub mod listen;
mod meta;
mod out;
mod prefix;
mod stats;
mod text;
mod udp;
mod workers;

pub use config::Config;
pub use listen::Listener;

use ferrocache_storage::{DebugClock, EvictionPolicy, Store, StoreConfig};
use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Called by the `verbosity` command with the new level (0 to 2), so the binary can change
/// its log filter at run time as memcached changes its output. Set once by `main`.
pub static VERBOSITY_HOOK: std::sync::OnceLock<Box<dyn Fn(u32) + Send + Sync>> =
    std::sync::OnceLock::new();

/// The version we report: the memcached release whose behaviour we match. Clients parse it.
pub const MEMCACHED_VERSION: &str = "1.6.45";

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
    /// Cancelled by `shutdown` (with `-A`) or by the caller's shutdown future.
    pub stop: CancellationToken,
    /// `verbosity` changes it at run time.
    pub verbosity: AtomicU32,
    /// `cache_memlimit` changes it at run time (bytes).
    pub maxbytes: AtomicU64,
    pub listeners: usize,
    /// `-Y`: the users of the authfile; connections must authenticate first.
    pub auth: Option<auth::AuthFile>,
    /// `-S`: the users of the SASL password file; binary connections must authenticate
    /// first.
    pub sasl: Option<auth::SaslUsers>,
    /// `stats detail`'s per-prefix counters.
    pub prefixes: prefix::PrefixStats,
    /// `-o debug_clock`: the store's clock, which `debugtime` moves.
    pub debug_clock: Option<Arc<DebugClock>>,
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
        Shared {
            auth,
            sasl,
            store,
            debug_clock,
            counters: Counters::default(),
            conns: Mutex::new(conn::Registry::default()),
            started: Instant::now(),
            stop: CancellationToken::new(),
            verbosity: AtomicU32::new(u32::from(config.verbosity)),
            maxbytes: AtomicU64::new(config.memory_limit_bytes()),
            listeners,
            prefixes: prefix::PrefixStats::new(
                config.prefix_delimiter as u8,
                config.detail_enabled,
            ),
            config,
        }
    }

    /// The time a connection records as that of its last command: memcached's
    /// `current_time`, whole seconds, which is all `stats conns` shows. Read from the store's
    /// clock, because every request sets it and a precise clock read would cost more.
    pub fn last_cmd_time(&self) -> u64 {
        u64::from(self.store.current_time())
    }
}

/// Server-wide counters that are not the store's business.
#[derive(Default)]
pub(crate) struct Counters {
    pub curr_connections: AtomicU64,
    pub total_connections: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub bytes_read: AtomicU64,
    pub bytes_written: AtomicU64,
    pub cmd_flush: AtomicU64,
    pub cmd_meta: AtomicU64,
    pub conn_yields: AtomicU64,
    pub auth_cmds: AtomicU64,
    pub auth_errors: AtomicU64,
    /// Connections closed by `-o idle_timeout`.
    pub idle_kicks: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

pub(crate) fn store_config(config: &Config) -> StoreConfig {
    StoreConfig {
        memory_limit: config.memory_limit_bytes(),
        no_evict: config.disable_evictions,
        item_size_max: config.item_size_max,
        cas_enabled: !config.disable_cas,
        policy: match config.eviction {
            config::Eviction::Lru => EvictionPolicy::Lru,
            config::Eviction::TinyLfu => EvictionPolicy::TinyLfu,
        },
    }
}

/// Serves `listeners` until `shutdown` completes or a client sends `shutdown` (with `-A`).
/// Then it stops accepting, lets every connection finish the request it is working on, and
/// returns once all connections are closed.
///
/// The caller's runtime runs the accept loops; the connections are served on `-t` worker
/// threads that `run` starts, each with its own single-threaded runtime, and ends before it
/// returns. Each UDP descriptor (`-U`; see [`Listener::Udp`]) is served on a worker thread.
pub async fn run(
    listeners: Vec<Listener>,
    config: Arc<Config>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
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
    // The UDP descriptors count as connections too.
    let sockets = listeners.len();
    let (udp, listeners): (Vec<Listener>, Vec<Listener>) = listeners
        .into_iter()
        .partition(|l| matches!(l, Listener::Udp(_)));
    let shared = Arc::new(Shared::new(config, auth, sasl, sockets));
    // If this future is dropped before it returns, the accept loops (tasks of the caller's
    // runtime) stop too, and with them the last hold on the worker threads.
    let _stop_on_drop = shared.stop.clone().drop_guard();
    // The listening sockets count as connections in memcached's totals.
    Counters::add(&shared.counters.total_connections, shared.listeners as u64);
    // Connection slots: a permit per client connection, up to `-c`.
    let slots = Arc::new(Semaphore::new(shared.config.max_connections));
    let tracker = TaskTracker::new();
    let workers = Arc::new(workers::Workers::start(shared.config.threads)?);
    for socket in udp {
        let Listener::Udp(socket) = socket else {
            unreachable!("partitioned above");
        };
        udp::start(socket, &shared, &tracker, &workers)?;
    }
    for listener in listeners {
        let listener = Arc::new(listener);
        conn::register_listener(&shared, &listener);
        tracker.spawn(conn::accept_loop(
            listener,
            shared.clone(),
            slots.clone(),
            tracker.clone(),
            workers.clone(),
        ));
    }
    let stop = shared.stop.clone();
    tokio::select! {
        _ = shutdown => {}
        _ = stop.cancelled() => {}
    }
    tracing::info!("shutting down: no new connections, draining the open ones");
    shared.stop.cancel();
    tracker.close();
    tracker.wait().await;
    workers.stop().await;
    Ok(())
}
