//! The `ferrocache` binary: parse memcached's flags, set up logging, bind, serve until
//! SIGTERM/SIGINT/SIGUSR1 (or `shutdown` with `-A`), then drain and exit 0. SIGHUP reloads
//! the `-Y` authfile and the `-Z` certificates.

use ferrocache_server::{listen, Config};
use std::ffi::CString;
use std::sync::Arc;

// mimalloc keeps moka's many small per-entry allocations cheapest (see the README's memory
// section); large blocks are mapped apart (see `alloc::large`).
#[global_allocator]
static GLOBAL: ferrocache_server::alloc::ServerAlloc = ferrocache_server::alloc::ServerAlloc;

// Before the Rust runtime's first allocation (see `alloc`'s module notes).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[used]
#[link_section = ".init_array"]
static DISABLE_THP_BEFORE_MAIN: extern "C" fn() = ferrocache_server::alloc::disable_thp_before_main;

/// What the pool of freed large blocks may hold: 8 MiB, or an eighth of a smaller `-m`.
/// Twice what the store frees at most in one round of its bookkeeping (see the storage
/// crate's `housekeeper::BYTES_PER_COMMAND`): sets of 1 MB values at `-m 64` reused 97% of
/// blocks with 8 MiB, 75% with 4 MiB (bench/RESULTS.md, "Large blocks").
fn large_pool_limit(memory_limit: u64) -> usize {
    (memory_limit / 8).clamp(1 << 20, 8 << 20) as usize
}

fn main() {
    // mimalloc gives freed pages back at once (see `alloc::PURGE_DELAY_SERVER`). Large blocks
    // (values over 16 KiB) do not go through it: they are pooled, so that a 1 MB value
    // does not fault in fresh zeroed pages each time (see `alloc::large`).
    ferrocache_server::alloc::tune_allocator();
    let config = Config::from_env_args();
    ferrocache_server::alloc::large::set_pool_limit(large_pool_limit(config.memory_limit_bytes()));
    init_logging(config.verbosity);
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    if config.enable_coredumps && !raise_core_limit() {
        eprintln!("failed to ensure corefile creation");
        std::process::exit(71);
    }
    // -Z: the certificates are read now, as memcached reads them, before -u drops the
    // privileges that may be needed to read the key; the errors are memcached's (exit 64).
    let tls = if config.tls.enabled {
        match ferrocache_server::tls::Tls::load(&config) {
            Ok(tls) => Some(tls),
            Err(message) => {
                eprintln!("{message}");
                std::process::exit(64);
            }
        }
    } else {
        None
    };
    // memcached's order: it becomes the -u user first, then binds its sockets (so the UNIX
    // socket belongs to that user, and a port below 1024 cannot be bound as someone else),
    // then writes its pid file.
    if let Err((message, code)) = drop_privileges(config.user.as_deref()) {
        if !message.is_empty() {
            eprintln!("{message}");
        }
        std::process::exit(code);
    }
    if config.daemonize {
        if let Err(e) = daemonize() {
            eprintln!("failed to daemonize: {e}");
            std::process::exit(71);
        }
    }
    // The main thread accepts connections and waits for signals; `run` starts the `-t`
    // worker threads that serve the connections.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("failed to start the main thread's runtime: {e}");
            std::process::exit(71);
        }
    };
    let code = runtime.block_on(serve(config, tls));
    std::process::exit(code);
}

async fn serve(config: Config, tls: Option<Arc<ferrocache_server::tls::Tls>>) -> i32 {
    // The handlers are installed first, before anything is bound, so that no signal finds
    // the default action once a client can reach the server (a SIGTERM sent as soon as the
    // server answered once ended it without draining or removing the pid file, seen once in
    // CI, under load). memcached's four: SIGTERM and SIGINT stop, SIGUSR1 stops gracefully,
    // SIGHUP reloads.
    use ferrocache_server::{Control, Stop};
    use tokio::signal::unix::{signal, SignalKind};
    let (orders, control) = tokio::sync::mpsc::unbounded_channel();
    for (kind, order) in [
        (SignalKind::terminate(), Control::Stop(Stop::Normal)),
        (SignalKind::interrupt(), Control::Stop(Stop::Normal)),
        (SignalKind::user_defined1(), Control::Stop(Stop::Graceful)),
        (SignalKind::hangup(), Control::Reload),
    ] {
        let mut handler = match signal(kind) {
            Ok(h) => h,
            Err(e) => {
                eprintln!(
                    "could not install the handler of signal {}: {e}",
                    kind.as_raw_value()
                );
                return 71;
            }
        };
        let orders = orders.clone();
        tokio::spawn(async move {
            while handler.recv().await.is_some() {
                tracing::debug!("signal {} received", kind.as_raw_value());
                if orders.send(order).is_err() {
                    break;
                }
            }
        });
    }
    let listeners = match listen::bind_endpoints(&config) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{}", e.message);
            return e.exit_code;
        }
    };
    if config.unix_socket.is_none() {
        if let Some(path) = std::env::var_os("MEMCACHED_PORT_FILENAME") {
            listen::write_port_file(&listeners, std::path::Path::new(&path));
        }
    }
    // Written once the listeners are bound (by the -u user, as memcached writes it), and
    // removed at exit only if written: a server that could not bind must not remove the pid
    // file of the one holding its port.
    let pid_file = config.pid_file.clone().filter(|path| {
        match std::fs::write(path, format!("{}\n", std::process::id())) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!("could not write the pid file {}: {e}", path.display());
                false
            }
        }
    });
    // A UDP socket has a descriptor per worker thread: name it once.
    let mut addrs: Vec<String> = listeners
        .iter()
        .map(|l| l.listener.local_addr_string())
        .collect();
    addrs.dedup();
    if !listen::is_loopback_only(&config) && !config.sasl && config.auth_file.is_none() {
        tracing::warn!(
            "listening beyond loopback with no authentication: anyone who can reach {} can \
             read and change the cache; use -l 127.0.0.1 or a firewall",
            addrs.join(", ")
        );
    }
    for addr in &addrs {
        tracing::info!("listening on {addr}");
    }
    let code =
        match ferrocache_server::run_controlled(listeners, Arc::new(config), tls, control).await {
            Ok(_) => 0,
            // A listener `run` binds itself (`-o metrics_listen`): memcached's words and
            // exit code for a listener it cannot make.
            Err(e) if e.get_ref().is_some_and(|i| i.is::<listen::BindError>()) => {
                let bind = e
                    .into_inner()
                    .and_then(|i| i.downcast::<listen::BindError>().ok())
                    .expect("checked above");
                eprintln!("{}", bind.message);
                bind.exit_code
            }
            Err(e) => {
                tracing::error!("{e}");
                1
            }
        };
    if let Some(path) = pid_file {
        let _ = std::fs::remove_file(path);
    }
    code
}

/// `-v` levels as memcached's: none logs warnings, -v adds info, -vv debug, -vvv trace.
fn level(verbosity: u32) -> &'static str {
    match verbosity {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    }
}

/// Logs to stderr at the `-v` level. `RUST_LOG`, when set, wins; otherwise the `verbosity`
/// command changes the level at run time.
///
/// Colours only on a terminal: stderr sent to a file, a pipe or a journal gets plain text, as
/// memcached's does (`NO_COLOR` still turns them off on a terminal too).
fn init_logging(verbosity: u8) {
    use std::io::IsTerminal;
    use tracing_subscriber::prelude::*;
    use tracing_subscriber::{fmt, reload, EnvFilter};
    let ansi = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    if let Ok(filter) = EnvFilter::try_from_default_env() {
        fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .init();
        return;
    }
    let (filter, handle) = reload::Layer::new(EnvFilter::new(level(u32::from(verbosity))));
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().with_writer(std::io::stderr).with_ansi(ansi))
        .init();
    let _ = ferrocache_server::VERBOSITY_HOOK.set(Box::new(move |v| {
        let _ = handle.reload(EnvFilter::new(level(v)));
    }));
}

/// `-r`, as memcached does it: the core file size limit as high as it goes (unlimited, else
/// the hard limit). False if core files would still not be written (a soft limit of 0).
fn raise_core_limit() -> bool {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_CORE, &mut limit) == 0 {
            let unlimited = libc::rlimit {
                rlim_cur: libc::RLIM_INFINITY,
                rlim_max: libc::RLIM_INFINITY,
            };
            if libc::setrlimit(libc::RLIMIT_CORE, &unlimited) != 0 {
                let hard = libc::rlimit {
                    rlim_cur: limit.rlim_max,
                    rlim_max: limit.rlim_max,
                };
                libc::setrlimit(libc::RLIMIT_CORE, &hard);
            }
        }
        libc::getrlimit(libc::RLIMIT_CORE, &mut limit) == 0 && limit.rlim_cur != 0
    }
}

/// Forks into the background, detaches from the terminal and points stdio at /dev/null.
fn daemonize() -> std::io::Result<()> {
    // SAFETY: called before any thread is started, so fork only copies this thread.
    unsafe {
        match libc::fork() {
            -1 => return Err(std::io::Error::last_os_error()),
            0 => {}
            _ => libc::_exit(0),
        }
        if libc::setsid() == -1 {
            return Err(std::io::Error::last_os_error());
        }
        let devnull = CString::new("/dev/null").expect("no NUL");
        let fd = libc::open(devnull.as_ptr(), libc::O_RDWR);
        if fd >= 0 {
            libc::dup2(fd, 0);
            libc::dup2(fd, 1);
            libc::dup2(fd, 2);
            if fd > 2 {
                libc::close(fd);
            }
        }
    }
    Ok(())
}

/// `-u`, as memcached 1.6.45 does it: started as root, become `user` (which must be given;
/// `-u root` stays root) before anything is bound. The error is memcached's message and exit
/// code.
fn drop_privileges(user: Option<&str>) -> Result<(), (String, i32)> {
    // SAFETY: getuid and geteuid have no preconditions.
    if unsafe { libc::getuid() } != 0 && unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    let Some(user) = user.filter(|u| !u.is_empty()) else {
        return Err(("must add '-u root' to start as root".into(), 64));
    };
    let not_found = || (format!("can't find the user {user} to switch to"), 67);
    let name = CString::new(user).map_err(|_| not_found())?;
    // SAFETY: getpwnam returns a pointer into static storage or null; we read it at once,
    // before any other thread exists.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err(not_found());
    }
    // SAFETY: pw is non-null and points to a valid passwd record.
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    // SAFETY: plain system calls with integer arguments.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            // EPERM means there are no privileges left to drop: memcached goes on.
            let e = std::io::Error::last_os_error();
            eprintln!(
                "failed to drop supplementary groups: {}",
                listen::strerror(&e)
            );
            if e.raw_os_error() != Some(libc::EPERM) {
                return Err((String::new(), 71));
            }
        }
        if libc::setgid(gid) != 0 || libc::setuid(uid) != 0 {
            return Err((format!("failed to assume identity of user {user}"), 71));
        }
    }
    Ok(())
}
