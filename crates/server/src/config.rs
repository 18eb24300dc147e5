//! memcached's command-line flags, with memcached's defaults, so an operator can swap the
//! binary without touching a service file.
//!
//! Parsing uses clap; the help text (`-h`) and version (`-V`) are written here to read like
//! memcached's. A flag is refused, with memcached's message and exit code, where memcached
//! refuses it. Flags of features ferrocache does not have are accepted and warned about when
//! no client can tell the difference; those that would silently lose security or durability
//! (restartable caches, extstore, TLS options rustls cannot honour) are refused.

mod extended;
mod tls;

pub use tls::TlsSettings;

use clap::{Arg, ArgAction, ArgMatches, Command};
use std::path::PathBuf;

/// Which protocols a connection may speak (`-B`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Auto,
    Ascii,
    Binary,
}

/// Which entries are evicted first when memory is full (`-o eviction=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eviction {
    /// Least recently used, like memcached (the default).
    Lru,
    /// moka's TinyLFU; see the README for its trade-off.
    TinyLfu,
}

/// The server's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `-p`: TCP port (default 11211), as memcached reads it: 0 turns TCP off and -1 picks
    /// a free port.
    pub port: i32,
    /// `-l`: the listeners, from every `-l` and every entry separated by `,` or `;`, in
    /// memcached's syntax (`[notls:|btls:|mtls:][proto[..]:][tag[..]:]<host>[:<port>]`,
    /// read by `listen`). Empty: all interfaces.
    pub listen: Vec<String>,
    /// `-l` as memcached keeps it (and `stats settings` shows it): the arguments joined by
    /// commas, each only once.
    pub inter: Option<String>,
    /// `-s`: UNIX socket path (turns TCP off, as in memcached).
    pub unix_socket: Option<PathBuf>,
    /// `-a`: the UNIX socket's access mask (default 0700).
    pub unix_mask: u32,
    /// `-U`: UDP port (default 0, off), on the `-l` interfaces. Given without `-p`, it is the
    /// TCP port too, as in memcached.
    /// 0 is off and -1 picks a free port, as for `-p`.
    pub udp_port: i32,
    /// `-m`: item memory in megabytes (default 64).
    pub memory_limit_mb: u64,
    /// `-M`: answer an error instead of evicting.
    pub disable_evictions: bool,
    /// `-c`: most simultaneous connections (default 1024).
    pub max_connections: usize,
    /// `-t`: worker threads (default 4).
    pub threads: usize,
    /// `-I`: largest item in bytes (default 1m).
    pub item_size_max: usize,
    /// `-B`
    pub protocol: Protocol,
    /// `-v` counted: 0 to 3.
    pub verbosity: u8,
    /// `-u`: the user to run as when started as root.
    pub user: Option<String>,
    /// `-R`: requests per event (default 20). Accepted; ferrocache's scheduler is tokio's.
    pub reqs_per_event: u32,
    /// `-b`: listen backlog (default 1024).
    pub backlog: i32,
    /// `-A`: allow the `shutdown` command.
    pub enable_shutdown: bool,
    /// `-C`: no CAS.
    pub disable_cas: bool,
    /// `-F`: refuse `flush_all`.
    pub disable_flush: bool,
    /// `-d`: run as a daemon.
    pub daemonize: bool,
    /// `-P`: where `-d` writes the pid.
    pub pid_file: Option<PathBuf>,
    /// `-D`: prefix delimiter for `stats detail` (default ':'). Giving it turns the
    /// per-prefix counters on, as in memcached.
    pub prefix_delimiter: char,
    pub detail_enabled: bool,
    /// `-S`: SASL authentication for the binary protocol (PLAIN, users from `sasl_pwdb`).
    pub sasl: bool,
    /// `-o sasl_pwdb=FILE`, else the `MEMCACHED_SASL_PWDB` environment variable (as
    /// memcached reads it): the `user:password` lines `-S` checks PLAIN logins against.
    pub sasl_pwdb: Option<PathBuf>,
    /// `-Y`: ASCII authentication file of `user:password` lines (read again on SIGHUP).
    pub auth_file: Option<PathBuf>,
    /// `-X`: no `stats cachedump`.
    pub disable_dumping: bool,
    /// `-W`: refuse `watch` (`CLIENT_ERROR watch commands not allowed`).
    pub disable_watch: bool,
    /// `-o watcher_logbuf_size=KB` (in bytes here, as `stats settings` shows it): each
    /// watcher's buffer of lines not yet written (default 256 KB).
    pub watcher_logbuf_size: u32,
    /// `-o worker_logbuf_size=KB` (in bytes): each worker thread's buffer of log lines not
    /// yet passed on to the watchers (default 64 KB).
    pub worker_logbuf_size: u32,
    /// `-o eviction=lru|tinylfu`
    pub eviction: Eviction,
    /// `-o idle_timeout=N`: close connections idle for N seconds (0: never).
    pub idle_timeout: u64,
    /// `-o debug_clock`: answer memcached's debug-build `debugtime` command, which moves the
    /// server's clock (for memcached's own test suite; never in production).
    pub debug_clock: bool,
    /// `-o shutdown_grace_ms=N`: on SIGTERM, SIGINT, SIGUSR1 or `shutdown`, how long a
    /// connection in the middle of a request may take to finish sending it and read its
    /// reply before the server closes it anyway (default 1000; memcached exits at once).
    pub shutdown_grace: std::time::Duration,
    /// `-o read_buf_mem_limit=MB` (in bytes here): how much memory the connections may hold
    /// in requests still arriving (see [`Config::inflight_limit`]). `Some(0)`: no limit.
    pub read_buf_mem_limit: Option<u64>,
    /// `-o sock_cookie_id=N`: SO_MARK of the listening TCP sockets (0: none), as memcached
    /// sets it on Linux.
    pub sock_cookie_id: u32,
    /// `-N`: memcached's NAPI ID count (0: off). Checked as memcached checks it; ferrocache
    /// spreads connections over its workers as without it.
    pub napi_ids: u32,
    /// `-n`: memcached's smallest slab chunk (default 48). ferrocache keeps items in moka,
    /// not slabs, but counts them by memcached's slab classes for `stats items`/`stats slabs`,
    /// so `-n`, `-f`, `slab_chunk_max` and `slab_sizes` shape that table as in memcached.
    pub slab_min_size: u32,
    /// `-f` (default 1.25).
    pub slab_factor: f64,
    /// memcached's `slab_chunk_size_max` once every option is read (default 512 KiB).
    pub slab_chunk_max: u32,
    /// `-o slab_sizes=a-b-c`.
    pub slab_sizes: Option<Vec<u32>>,
    /// `-o track_sizes`: `stats sizes` counts items by size.
    pub track_sizes: bool,
    /// `-o hashpower=N` as given (0: not given). Shown in `stats settings`; moka sizes its
    /// own table.
    pub hashpower_init: i32,
    /// `-o tail_repair_time=N` as given (0: not given). Shown in `stats settings`;
    /// ferrocache holds no item references that could get stuck and need repair.
    pub tail_repair_time: i32,
    /// `-r`: raise the core file size limit, as memcached does.
    pub enable_coredumps: bool,
    /// memcached's `lru_crawler` setting: the `lru_crawler` commands work (off with `-o
    /// no_lru_crawler` or `no_modern`; `lru_crawler enable|disable` at run time).
    pub lru_crawler: bool,
    /// `-o lru_crawler_sleep=N`: microseconds a crawl or dump sleeps every 1000 items.
    pub lru_crawler_sleep: u32,
    /// `-o lru_crawler_tocrawl=N`: items a crawl checks per class at most (0: all).
    pub lru_crawler_tocrawl: u32,
    /// memcached's LRU maintainer, whose work here is the crawler's background reclaim of
    /// expired and flushed items (off with `-o no_lru_maintainer` or `no_modern`).
    pub lru_maintainer: bool,
    /// The slab mover's and LRU's settings (`-o slab_automove`, `-o hot_lru_pct`, ...),
    /// which `slabs automove` and `lru` change at run time (see [`crate::admin`]).
    pub tunables: crate::admin::Tunables,
    /// `-e`: the file the cache is saved to on a graceful stop and loaded from at start
    /// (see `restart`).
    pub memory_file: Option<PathBuf>,
    /// `-Z` and the `-o ssl_*` keys.
    pub tls: TlsSettings,
    /// `-o metrics_listen=HOST:PORT`: serve Prometheus metrics at `http://HOST:PORT/metrics`
    /// (off by default). Checked to be `HOST:PORT` here, bound by the server.
    pub metrics_listen: Option<String>,
    /// Every `-o` pair as given, in order (a bare key has an empty value).
    pub extended: Vec<(String, String)>,
    /// Things the operator should know about the flags (flags and `-o` keys of features
    /// ferrocache lacks, which no client can tell apart). Logged at start-up.
    pub warnings: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 11211,
            listen: Vec::new(),
            inter: None,
            unix_socket: None,
            unix_mask: 0o700,
            udp_port: 0,
            memory_limit_mb: 64,
            disable_evictions: false,
            max_connections: 1024,
            threads: 4,
            item_size_max: 1024 * 1024,
            protocol: Protocol::Auto,
            verbosity: 0,
            user: None,
            reqs_per_event: 20,
            backlog: 1024,
            enable_shutdown: false,
            disable_cas: false,
            disable_flush: false,
            daemonize: false,
            pid_file: None,
            prefix_delimiter: ':',
            detail_enabled: false,
            sasl: false,
            sasl_pwdb: None,
            auth_file: None,
            disable_dumping: false,
            disable_watch: false,
            watcher_logbuf_size: crate::watch::WATCHER_BUF_DEFAULT as u32,
            worker_logbuf_size: crate::watch::WORKER_BUF_DEFAULT as u32,
            eviction: Eviction::Lru,
            idle_timeout: 0,
            debug_clock: false,
            shutdown_grace: std::time::Duration::from_secs(1),
            read_buf_mem_limit: None,
            sock_cookie_id: 0,
            napi_ids: 0,
            slab_min_size: 48,
            slab_factor: 1.25,
            slab_chunk_max: 512 * 1024,
            slab_sizes: None,
            track_sizes: false,
            hashpower_init: 0,
            tail_repair_time: 0,
            enable_coredumps: false,
            lru_crawler: true,
            lru_crawler_sleep: 100,
            lru_crawler_tocrawl: 0,
            lru_maintainer: true,
            tunables: crate::admin::Tunables::default(),
            memory_file: None,
            tls: TlsSettings::default(),
            metrics_listen: None,
            extended: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

/// Why the command line was not accepted, and the exit code memcached would use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// `-h`: print this and exit 0.
    Help(String),
    /// `-V`: print this and exit 0.
    Version(String),
    /// A bad flag or value: print the message and exit with the code.
    Invalid { message: String, exit_code: i32 },
}

/// memcached's exit code for a bad value (`EX_USAGE`).
const EX_USAGE: i32 = 64;

fn invalid(message: impl Into<String>, exit_code: i32) -> ConfigError {
    ConfigError::Invalid {
        message: message.into(),
        exit_code,
    }
}

fn command() -> Command {
    let flag = |id: &'static str, short: char, long: &'static str| {
        Arg::new(id)
            .short(short)
            .long(long)
            .action(ArgAction::SetTrue)
    };
    let value = |id: &'static str, short: char, long: &'static str| {
        Arg::new(id)
            .short(short)
            .long(long)
            .action(ArgAction::Set)
            .allow_hyphen_values(true)
    };
    Command::new("ferrocache")
        .disable_help_flag(true)
        .disable_version_flag(true)
        // getopt lets a repeated flag override the earlier one.
        .args_override_self(true)
        .arg(value("port", 'p', "port"))
        .arg(value("udp-port", 'U', "udp-port"))
        .arg(value("unix-socket", 's', "unix-socket"))
        .arg(value("unix-mask", 'a', "unix-mask"))
        .arg(flag("enable-shutdown", 'A', "enable-shutdown"))
        .arg(
            Arg::new("listen")
                .short('l')
                .long("listen")
                .action(ArgAction::Append),
        )
        .arg(flag("daemon", 'd', "daemon"))
        .arg(flag("enable-coredumps", 'r', "enable-coredumps"))
        .arg(value("user", 'u', "user"))
        .arg(value("memory-limit", 'm', "memory-limit"))
        .arg(flag("disable-evictions", 'M', "disable-evictions"))
        .arg(value("conn-limit", 'c', "conn-limit"))
        .arg(flag("lock-memory", 'k', "lock-memory"))
        .arg(
            Arg::new("verbose")
                .short('v')
                .long("verbose")
                .action(ArgAction::Count),
        )
        .arg(flag("help", 'h', "help"))
        .arg(flag("license", 'i', "license"))
        .arg(flag("version", 'V', "version"))
        .arg(value("pidfile", 'P', "pidfile"))
        .arg(value("slab-growth-factor", 'f', "slab-growth-factor"))
        .arg(value("slab-min-size", 'n', "slab-min-size"))
        .arg(flag("enable-largepages", 'L', "enable-largepages"))
        .arg(Arg::new("delimiter").short('D').action(ArgAction::Set))
        .arg(value("threads", 't', "threads"))
        .arg(value("max-reqs-per-event", 'R', "max-reqs-per-event"))
        .arg(flag("disable-cas", 'C', "disable-cas"))
        .arg(value("listen-backlog", 'b', "listen-backlog"))
        .arg(value("protocol", 'B', "protocol"))
        .arg(value("max-item-size", 'I', "max-item-size"))
        .arg(flag("enable-sasl", 'S', "enable-sasl"))
        .arg(flag("disable-flush-all", 'F', "disable-flush-all"))
        .arg(flag("disable-dumping", 'X', "disable-dumping"))
        .arg(flag("disable-watch", 'W', "disable-watch"))
        .arg(value("auth-file", 'Y', "auth-file"))
        .arg(value("memory-file", 'e', "memory-file"))
        .arg(flag("enable-ssl", 'Z', "enable-ssl"))
        .arg(value("napi-ids", 'N', "napi-ids"))
        .arg(
            Arg::new("extended")
                .short('o')
                .long("extended")
                .action(ArgAction::Append),
        )
}

/// The help text, in memcached's order, with memcached's flag names and defaults; each line
/// says what the flag does in ferrocache.
pub fn help_text() -> String {
    let version = env!("CARGO_PKG_VERSION");
    format!(
        "ferrocache {version} (speaks memcached {mc})
-p, --port=<num>          TCP port to listen on (default: 11211)
-U, --udp-port=<num>      UDP port to listen on (default: 0, off)
-s, --unix-socket=<file>  UNIX socket to listen on (turns TCP off), owned by the
                          -u user
-a, --unix-mask=<mask>    access mask of the UNIX socket, in octal (default: 700)
-A, --enable-shutdown     allow the ascii \"shutdown\" and \"shutdown graceful\" commands
-l, --listen=<addr>       interface(s) to listen on, separated by , or ; or repeated
                          (default: all interfaces), in memcached's syntax
                          [notls:|btls:|mtls:][proto[<name>]:][tag[<tag>]:]<addr>[:<port>]:
                          <name> is ascii, binary or negotiating (default: -B's), a
                          tag has no effect; with -Z, notls: serves plain text,
                          btls: TLS without and mtls: TLS with client certificates
-d, --daemon              run in the background
-r, --enable-coredumps    raise the core file size limit as far as allowed
-u, --user=<user>         become <user> before binding (required when started as
                          root; -u root stays root)
-m, --memory-limit=<num>  memory for items, in megabytes, counting per-item
                          overhead (default: 64)
-M, --disable-evictions   answer an error when memory is full instead of evicting
-c, --conn-limit=<num>    most simultaneous connections (default: 1024)
-k, --lock-memory         accepted for compatibility; no effect
-v, --verbose             also log start-up, reloads and stops (warnings and errors
                          are always logged)
-vv                       also trace each connection, command and reply, in
                          memcached's format (<28 get foo, >28 END)
-vvv                      as -vv (memcached's connection state changes are not shown)
-h, --help                print this help and exit
-i, --license             print the license and exit
-V, --version             print the version and exit
-P, --pidfile=<file>      write the pid to <file>, removed on a clean exit
-f, --slab-growth-factor=<num> growth factor of memcached's slab classes, which
                          stats items/slabs file items under (default: 1.25)
-n, --slab-min-size=<bytes> room for key and value in the smallest class (default: 48)
-L, --enable-largepages   accepted for compatibility; no effect
-D <char>                 key prefix delimiter of the per-prefix statistics (\"stats
                          detail\"), which -D turns on (default: \":\")
-t, --threads=<num>       worker threads (default: 4)
-R, --max-reqs-per-event  requests a connection serves in a row before letting the
                          others run (default: 20)
-C, --disable-cas         turn CAS off
-b, --listen-backlog=<num> listen queue length (default: 1024)
-B, --protocol=<name>     ascii, binary or auto (default: auto-negotiate)
-I, --max-item-size=<num> largest item, with k or m suffix
                          (default: 1m, min: 1k, max: 1024m)
-S, --enable-sasl         turn on SASL authentication (binary protocol, PLAIN; the
                          users come from the file named by MEMCACHED_SASL_PWDB)
-F, --disable-flush-all   refuse the flush_all command
-X, --disable-dumping     refuse stats cachedump
-W, --disable-watch       refuse the watch command (live log streams)
-Y, --auth-file=<file>    ascii authentication from user:pass lines; SIGHUP reads
                          the file again
-e, --memory-file=<file>  keep the cache across a restart: saved to <file> on a
                          graceful stop (SIGUSR1, or shutdown graceful with -A),
                          loaded (then removed) at start
-Z, --enable-ssl          enable TLS/SSL on every TCP listener (rustls; see ssl_*)
-o, --extended            comma-separated key=value options, memcached's:
   - idle_timeout:        close connections idle this many seconds (default: 0, never)
   - sock_cookie_id:      SO_MARK of the listening TCP sockets, for firewalls
                          (default: 0, none)
   - track_sizes:         keep stats sizes (items by size, in 32-byte steps)
   - slab_chunk_max, slab_sizes: the slab class table stats items/slabs use
   - no_lru_crawler:      disable the lru_crawler commands (lru_crawler: enable)
   - lru_crawler_sleep:   microseconds a crawl or dump sleeps every 1000 items
                          (default: 100)
   - lru_crawler_tocrawl: max items a crawl checks per class (default: 0, all)
   - no_lru_maintainer:   no background reclaim of expired and flushed items
   - tuning keys (maxconns_fast, hashpower, hash_algorithm, slab_reassign,
     slab_automove, modern, no_modern, ...): their values are checked as memcached
     checks them; they have no effect (ferrocache keeps items in moka, not slab
     pages; no_modern also turns the crawler and its reclaim off)
   - ssl_chain_cert:      certificate chain file in PEM format
   - ssl_key:             private key file
   - ssl_keyformat:       1 (PEM, default) or 2 (DER); no ENGINE keys
   - ssl_verify_mode:     client certificates: 0 (none, default), 1 (request),
                          2 (require), 3 (require once: as 2, there is no renegotiation)
   - ssl_ciphers:         TLS 1.2 suites by OpenSSL name (ECDHE-RSA-AES128-GCM-SHA256:...)
   - ssl_ca_cert:         PEM file of the CAs client certificates are checked against
   - ssl_wbuf_size:       accepted; no effect (rustls sizes its records)
   - ssl_session_cache:   server-side session cache, for resumption
   - ssl_kernel_tls:      refused (rustls has no kernel TLS offload)
   - ssl_min_version:     2 (tlsv1.2, default) or 3 (tlsv1.3); 0 and 1 are refused
   - ext_* keys (extstore): refused; ferrocache keeps items in memory only
   - any other key is refused, as memcached refuses it
   and ferrocache's own:
   - eviction:            lru (default, like memcached) or tinylfu (moka's
                          frequency-based admission; see the README)
   - sasl_pwdb:           the user:password file for -S (default: $MEMCACHED_SASL_PWDB)
   - read_buf_mem_limit:  megabytes that requests still arriving may hold, and
                          apart replies not yet written (0: no limit; default:
                          a sixteenth of -m, at least two of -I)
   - shutdown_grace_ms:   on a stop, how long a client halfway through a request may
                          take to finish it before it is closed (default: 1000)
   - debug_clock:         answer memcached's debug-build \"debugtime\" command, which
                          moves the clock (for memcached's test suite; never in production)
   - metrics_listen:      HOST:PORT to serve Prometheus metrics on, at /metrics
                          (memcached_exporter's names, and latency histograms); off
                          by default (e.g. metrics_listen=127.0.0.1:9150)
-N, --napi-ids=<num>      checked as memcached checks it (at most -t); no effect
",
        mc = crate::MEMCACHED_VERSION
    )
}

/// `-I` and similar sizes: a number with an optional k, m or g suffix.
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().last()? {
        (i, 'k' | 'K') => (&text[..i], 1024),
        (i, 'm' | 'M') => (&text[..i], 1024 * 1024),
        (i, 'g' | 'G') => (&text[..i], 1024 * 1024 * 1024),
        _ => (text, 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(unit)
}

/// A path as `stats settings` shows it, or `none` when unset.
fn path_or(path: &Option<PathBuf>, none: &str) -> String {
    path.as_ref()
        .map_or_else(|| none.to_string(), |p| p.display().to_string())
}

/// A flag's value read with C's `atoi`, as memcached reads most of its numbers.
fn atoi_flag(m: &ArgMatches, id: &str) -> Option<i32> {
    m.get_one::<String>(id).map(|text| extended::atoi(text))
}

impl Config {
    /// Parses a command line (`args` starts with the program name).
    pub fn parse_from<I, T>(args: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let m = command()
            .try_get_matches_from(args)
            .map_err(|e| invalid(e.to_string(), 1))?;
        if m.get_flag("help") {
            return Err(ConfigError::Help(help_text()));
        }
        if m.get_flag("version") {
            return Err(ConfigError::Version(format!(
                "ferrocache {} (memcached {} compatible)",
                env!("CARGO_PKG_VERSION"),
                crate::MEMCACHED_VERSION
            )));
        }
        if m.get_flag("license") {
            return Err(ConfigError::Help(
                "ferrocache is licensed under MIT OR Apache-2.0.\n".into(),
            ));
        }
        let mut c = Config::default();
        c.tls.enabled = m.get_flag("enable-ssl");
        c.memory_file = m.get_one::<String>("memory-file").map(PathBuf::from);
        // Ports are read with atoi, as memcached reads them: 0 is off, -1 a free port.
        if let Some(port) = atoi_flag(&m, "port") {
            c.port = port;
        }
        if let Some(port) = atoi_flag(&m, "udp-port") {
            c.udp_port = port;
            // memcached: a UDP port given without a TCP port is the TCP port too.
            if c.udp_port != 0 && m.get_one::<String>("port").is_none() {
                c.port = c.udp_port;
            }
        }
        // memcached checks the TCP port only; a UDP port over 65535 wraps when bound.
        if c.port > 65535 {
            return Err(invalid(
                format!("ERROR: Invalid port number {}.", c.port),
                EX_USAGE,
            ));
        }
        // Each argument as getopt gives it, less its leading space, as memcached takes it; an
        // argument given twice counts once.
        let mut args: Vec<&str> = Vec::new();
        for l in m.get_many::<String>("listen").into_iter().flatten() {
            let l = l.trim_start();
            if !args.contains(&l) {
                args.push(l);
            }
        }
        c.inter = (!args.is_empty()).then(|| args.join(","));
        c.listen = c
            .inter
            .iter()
            .flat_map(|l| l.split([',', ';']))
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        c.unix_socket = m.get_one::<String>("unix-socket").map(PathBuf::from);
        if let Some(mask) = m.get_one::<String>("unix-mask") {
            c.unix_mask = u32::from_str_radix(mask.trim(), 8)
                .map_err(|_| invalid(format!("Invalid value for unix mask: {mask}"), EX_USAGE))?;
        }
        c.enable_shutdown = m.get_flag("enable-shutdown");
        c.daemonize = m.get_flag("daemon");
        c.user = m.get_one::<String>("user").cloned();
        // memcached reads -m with atoi into a size_t: "abc" is 0 (and then refused by the
        // item size check below), a negative number wraps.
        if let Some(mb) = atoi_flag(&m, "memory-limit") {
            c.memory_limit_mb = i64::from(mb) as u64;
        }
        c.disable_evictions = m.get_flag("disable-evictions");
        // -c, -t, -R and -b are read with C's atoi, as memcached reads them: "-c -1" and
        // "-c abc" are refused as "-c 0" is.
        if let Some(n) = atoi_flag(&m, "conn-limit") {
            if n <= 0 {
                return Err(invalid("Maximum connections must be greater than 0", 1));
            }
            c.max_connections = n as usize;
        }
        c.verbosity = m.get_count("verbose").min(3);
        c.pid_file = m.get_one::<String>("pidfile").map(PathBuf::from);
        if let Some(d) = m.get_one::<String>("delimiter") {
            let Some(&delimiter) = d.as_bytes().first() else {
                return Err(invalid("No delimiter specified", 1));
            };
            c.prefix_delimiter = char::from(delimiter);
            c.detail_enabled = true;
        }
        if let Some(n) = atoi_flag(&m, "threads") {
            if n <= 0 {
                return Err(invalid("Number of threads must be greater than 0", 1));
            }
            c.threads = n as usize;
        }
        if let Some(n) = atoi_flag(&m, "max-reqs-per-event") {
            if n <= 0 {
                return Err(invalid(
                    "Number of requests per event must be greater than 0",
                    1,
                ));
            }
            c.reqs_per_event = n as u32;
        }
        c.disable_cas = m.get_flag("disable-cas");
        if let Some(n) = atoi_flag(&m, "listen-backlog") {
            c.backlog = n;
        }
        if let Some(p) = m.get_one::<String>("protocol") {
            c.protocol = match p.as_str() {
                "auto" => Protocol::Auto,
                "ascii" => Protocol::Ascii,
                "binary" => Protocol::Binary,
                other => {
                    return Err(invalid(
                        format!(
                            "Invalid value for binding protocol: {other}\n -- should be one of auto, binary, or ascii"
                        ),
                        EX_USAGE,
                    ))
                }
            };
        }
        if let Some(size) = m.get_one::<String>("max-item-size") {
            c.item_size_max = parse_size(size)
                .and_then(|b| usize::try_from(b).ok())
                .unwrap_or(0);
        }
        if let Some(f) = m.get_one::<String>("slab-growth-factor") {
            let factor = extended::atof(f);
            if factor <= 1.0 {
                return Err(invalid("Factor must be greater than 1", 1));
            }
            c.slab_factor = factor;
        }
        if let Some(n) = m.get_one::<String>("slab-min-size") {
            let n = extended::atoi(n);
            if n <= 0 {
                return Err(invalid("Chunk size must be greater than 0", 1));
            }
            c.slab_min_size = n as u32;
        }
        if let Some(n) = m.get_one::<String>("napi-ids") {
            let n = extended::atoi(n);
            if n <= 0 {
                return Err(invalid(
                    "Maximum number of NAPI IDs must be greater than 0",
                    1,
                ));
            }
            c.napi_ids = n as u32;
        }
        c.enable_coredumps = m.get_flag("enable-coredumps");
        c.sasl = m.get_flag("enable-sasl");
        c.disable_flush = m.get_flag("disable-flush-all");
        c.disable_dumping = m.get_flag("disable-dumping");
        c.disable_watch = m.get_flag("disable-watch");
        c.auth_file = m.get_one::<String>("auth-file").map(PathBuf::from);
        for (flag, what) in [("lock-memory", "-k"), ("enable-largepages", "-L")] {
            if m.get_flag(flag) {
                c.warnings.push(format!(
                    "{what} is accepted for compatibility and has no effect"
                ));
            }
        }
        for (id, what) in [("napi-ids", "-N")] {
            if m.get_one::<String>(id).is_some() {
                c.warnings.push(format!(
                    "{what} is accepted for compatibility and has no effect"
                ));
            }
        }
        let mut pending = extended::Pending::default();
        for option in m.get_many::<String>("extended").into_iter().flatten() {
            extended::apply(&mut c, &mut pending, option)?;
        }
        // memcached's checks once every flag is read, in its order.
        if c.napi_ids as usize > c.threads {
            return Err(invalid(
                format!(
                    "Number of napi_ids({}) cannot be greater than number of threads({})",
                    c.napi_ids, c.threads
                ),
                EX_USAGE,
            ));
        }
        if c.item_size_max < 1024 {
            return Err(invalid(
                "Item max size cannot be less than 1024 bytes.",
                EX_USAGE,
            ));
        }
        if c.item_size_max as u64 > c.memory_limit_bytes() / 2 {
            return Err(invalid(
                "Cannot set item size limit higher than 1/2 of memory max.",
                EX_USAGE,
            ));
        }
        if c.item_size_max > 1024 * 1024 * 1024 {
            return Err(invalid(
                "Cannot set item size limit higher than a gigabyte.",
                EX_USAGE,
            ));
        }
        extended::check(&c, &pending)?;
        (c.slab_chunk_max, c.slab_sizes) = extended::slab_table(&c, &pending);
        c.lru_maintainer = extended::lru_maintainer(&pending);
        if c.sasl {
            // memcached: SASL means the binary protocol, and no UDP.
            match m.get_one::<String>("protocol") {
                None => c.protocol = Protocol::Binary,
                Some(_) if c.protocol == Protocol::Binary => {}
                Some(_) => {
                    return Err(invalid(
                        "ERROR: You cannot allow the ASCII protocol while using SASL.",
                        EX_USAGE,
                    ))
                }
            }
            if c.udp_port != 0 {
                return Err(invalid(
                    "ERROR: Cannot enable UDP while using binary SASL authentication.",
                    EX_USAGE,
                ));
            }
        }
        if c.auth_file.is_some() && c.udp_port != 0 {
            return Err(invalid(
                "Cannot use UDP with ascii authentication enabled (-U 0 to disable)",
                EX_USAGE,
            ));
        }
        if c.auth_file.is_some() {
            // memcached: ascii authentication means the ascii protocol (after -S's choice,
            // so -Y wins over -S).
            match m.get_one::<String>("protocol") {
                None => c.protocol = Protocol::Ascii,
                Some(_) if c.protocol == Protocol::Ascii => {}
                Some(_) => {
                    return Err(invalid(
                        "ERROR: You cannot allow the BINARY protocol while using ascii \
                         authentication tokens.",
                        EX_USAGE,
                    ))
                }
            }
        }
        // memcached sets TLS up last, after every other check.
        tls::check(&mut c)?;
        Ok(c)
    }

    /// Parses the process's arguments; prints help, version or an error and exits as
    /// memcached does when there is nothing to run.
    pub fn from_env_args() -> Config {
        match Config::parse_from(std::env::args_os()) {
            Ok(mut c) => {
                if c.sasl_pwdb.is_none() {
                    c.sasl_pwdb = std::env::var_os("MEMCACHED_SASL_PWDB").map(PathBuf::from);
                }
                c
            }
            Err(ConfigError::Help(text)) => {
                print!("{text}");
                std::process::exit(0);
            }
            Err(ConfigError::Version(text)) => {
                println!("{text}");
                std::process::exit(0);
            }
            Err(ConfigError::Invalid { message, exit_code }) => {
                if !message.is_empty() {
                    eprintln!("{}", message.trim_end_matches(['\n', '\r']));
                }
                std::process::exit(exit_code);
            }
        }
    }

    /// memcached's `num_threads_per_udp`: how many worker threads serve each UDP socket. All
    /// of them, unless `-l` names several interfaces: then one each.
    /// The port a socket is bound to for a `-p`/`-U` value: -1 picks a free one (0 to the
    /// kernel), as memcached does; other values are used as given (modulo 65536).
    pub fn bind_port(port: i32) -> u16 {
        if port == -1 {
            0
        } else {
            port as u16
        }
    }

    pub fn num_threads_per_udp(&self) -> usize {
        if self.listen.len() > 1 {
            1
        } else {
            self.threads
        }
    }

    /// `-m` in bytes.
    pub fn memory_limit_bytes(&self) -> u64 {
        self.memory_limit_mb.saturating_mul(1024 * 1024)
    }

    /// The most memory connections may hold in large requests still arriving (values read
    /// into buffers of their own; see `session`), or `None` for no limit: `-o
    /// read_buf_mem_limit`, else a sixteenth of `-m` but at least two items of `-I`.
    ///
    /// Why a limit: memcached reads a value straight into item memory, inside `-m`;
    /// ferrocache reads it into a buffer that the store takes once it is complete, and
    /// until then it is outside the store's budget. A connection that would go over the
    /// limit waits, reading nothing more, until others finish (its client sees TCP flow
    /// control, not an error); one request is always let through, however large.
    pub fn inflight_limit(&self) -> Option<u64> {
        match self.read_buf_mem_limit {
            Some(0) => None,
            Some(bytes) => Some(bytes),
            None => Some((self.memory_limit_bytes() / 16).max(2 * self.item_size_max as u64)),
        }
    }

    /// The lines of memcached's `stats settings` that describe ferrocache truthfully, with
    /// memcached's names, formatting and order.
    pub fn settings_stats(&self) -> Vec<(&'static str, String)> {
        let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
        let inter = self.inter.clone().unwrap_or_else(|| "NULL".to_string());
        let t = |name: &str| self.tunables.stat(name).unwrap_or_default();
        vec![
            ("maxbytes", self.memory_limit_bytes().to_string()),
            ("maxconns", self.max_connections.to_string()),
            ("tcpport", self.port.to_string()),
            ("udpport", self.udp_port.to_string()),
            ("inter", inter),
            ("verbosity", self.verbosity.to_string()),
            // The flush epoch: the server fills it in (see `stats::settings`).
            ("oldest", "0".to_string()),
            (
                "evictions",
                if self.disable_evictions { "off" } else { "on" }.to_string(),
            ),
            (
                "domain_socket",
                self.unix_socket
                    .as_ref()
                    .map_or("NULL".to_string(), |p| p.display().to_string()),
            ),
            ("umask", format!("{:o}", self.unix_mask)),
            ("shutdown_command", yes_no(self.enable_shutdown)),
            ("growth_factor", format!("{:.2}", self.slab_factor)),
            ("chunk_size", self.slab_min_size.to_string()),
            ("num_threads", self.threads.to_string()),
            (
                "num_threads_per_udp",
                self.num_threads_per_udp().to_string(),
            ),
            ("stat_key_prefix", self.prefix_delimiter.to_string()),
            ("detail_enabled", yes_no(self.detail_enabled)),
            ("reqs_per_event", self.reqs_per_event.to_string()),
            ("cas_enabled", yes_no(!self.disable_cas)),
            ("tcp_backlog", self.backlog.to_string()),
            (
                "binding_protocol",
                match self.protocol {
                    Protocol::Auto => "auto-negotiate",
                    Protocol::Ascii => "ascii",
                    Protocol::Binary => "binary",
                }
                .to_string(),
            ),
            ("auth_enabled_sasl", yes_no(self.sasl)),
            (
                "auth_enabled_ascii",
                self.auth_file
                    .as_ref()
                    .map_or("no".to_string(), |p| p.display().to_string()),
            ),
            ("item_size_max", self.item_size_max.to_string()),
            ("maxconns_fast", yes_no(true)),
            ("hashpower_init", self.hashpower_init.to_string()),
            ("slab_reassign", t("slab_reassign")),
            ("slab_automove", t("slab_automove")),
            ("slab_automove_ratio", t("slab_automove_ratio")),
            ("slab_automove_window", t("slab_automove_window")),
            ("slab_chunk_max", self.slab_chunk_max.to_string()),
            // The crawler's settings change at run time: `stats` reads the store's.
            ("lru_crawler", yes_no(self.lru_crawler)),
            ("lru_crawler_sleep", self.lru_crawler_sleep.to_string()),
            ("lru_crawler_tocrawl", self.lru_crawler_tocrawl.to_string()),
            ("tail_repair_time", self.tail_repair_time.to_string()),
            ("flush_enabled", yes_no(!self.disable_flush)),
            ("dump_enabled", yes_no(!self.disable_dumping)),
            // The table is moka's, keyed with foldhash (see the storage crate).
            ("hash_algorithm", "foldhash".to_string()),
            // The housekeeper thread does moka's LRU upkeep and always runs; this is
            // memcached's switch, which `-o no_lru_maintainer` turns off (and with it `lru
            // mode` and `lru temp_ttl`), as in memcached.
            ("lru_maintainer_thread", t("lru_maintainer_thread")),
            ("lru_segmented", t("lru_segmented")),
            ("hot_lru_pct", t("hot_lru_pct")),
            ("warm_lru_pct", t("warm_lru_pct")),
            ("hot_max_factor", t("hot_max_factor")),
            ("warm_max_factor", t("warm_max_factor")),
            ("temp_lru", t("temp_lru")),
            ("temporary_ttl", t("temporary_ttl")),
            ("idle_timeout", self.idle_timeout.to_string()),
            ("watcher_logbuf_size", self.watcher_logbuf_size.to_string()),
            ("worker_logbuf_size", self.worker_logbuf_size.to_string()),
            // The limit in effect, in bytes as memcached prints it: ferrocache's default is a
            // sixteenth of -m (memcached's none).
            (
                "read_buf_mem_limit",
                self.inflight_limit().unwrap_or(0).to_string(),
            ),
            ("track_sizes", yes_no(self.track_sizes)),
            // memcached 1.6.45 prints this dead setting as "no" always.
            ("inline_ascii_response", "no".to_string()),
            // extstore is refused at start (`-o ext_*`): memcached's defaults, as a memcached
            // started without an ext_path prints them.
            ("ext_item_size", "512".to_string()),
            ("ext_item_age", u32::MAX.to_string()),
            ("ext_low_ttl", "0".to_string()),
            ("ext_recache_rate", "2000".to_string()),
            ("ext_wbuf_size", (4 * 1024 * 1024).to_string()),
            ("ext_compact_under", "0".to_string()),
            ("ext_drop_under", "0".to_string()),
            ("ext_max_sleep", "1000000".to_string()),
            ("ext_max_frag", "0.80".to_string()),
            // Shown among the extstore settings; the slab mover's (see `crate::admin`).
            ("slab_automove_freeratio", t("slab_automove_freeratio")),
            // A TLS build of memcached shows these with or without -Z; NULL paths print as
            // glibc prints a null string.
            ("ext_drop_unread", yes_no(false)),
            ("ssl_enabled", yes_no(self.tls.enabled)),
            ("ssl_chain_cert", path_or(&self.tls.chain_cert, "(null)")),
            ("ssl_key", path_or(&self.tls.key, "(null)")),
            (
                "ssl_verify_mode",
                tls::verify_bits(self.tls.verify_mode).to_string(),
            ),
            ("ssl_keyformat", self.tls.keyformat.to_string()),
            (
                "ssl_ciphers",
                self.tls.ciphers.clone().unwrap_or_else(|| "NULL".into()),
            ),
            ("ssl_ca_cert", path_or(&self.tls.ca_cert, "NULL")),
            ("ssl_wbuf_size", self.tls.wbuf_size.to_string()),
            ("ssl_session_cache", yes_no(self.tls.session_cache)),
            ("ssl_kernel_tls", yes_no(self.tls.kernel_tls)),
            (
                "ssl_min_version",
                tls::version_name(self.tls.min_version).to_string(),
            ),
            ("num_napi_ids", self.napi_ids.to_string()),
            // As memcached prints a null path (glibc's "(null)").
            ("memory_file", path_or(&self.memory_file, "(null)")),
            // Client flags are 32 bits, as in memcached built without LARGE_CLIENT_FLAGS.
            ("client_flags_size", "4".to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn parse(args: &[&str]) -> Result<Config, ConfigError> {
        Config::parse_from(std::iter::once("ferrocache").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_are_memcacheds() {
        let c = parse(&[]).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.port, 11211);
        assert_eq!(c.memory_limit_bytes(), 64 << 20);
        assert_eq!(
            (c.max_connections, c.threads, c.item_size_max),
            (1024, 4, 1 << 20)
        );
    }

    #[test]
    fn known_answers() {
        let c = parse(&[
            "-p",
            "22122",
            "-l",
            "127.0.0.1,::1",
            "-l",
            "10.0.0.1",
            "-m",
            "128",
            "-M",
            "-c",
            "10",
            "-t",
            "2",
            "-I",
            "2m",
            "-vv",
            "-A",
            "-C",
            "-F",
            "-B",
            "ascii",
            "-U",
            "0",
            "-u",
            "nobody",
            "-b",
            "64",
            "-R",
            "5",
            "-o",
            "eviction=tinylfu,idle_timeout=5,hashpower=20",
        ])
        .unwrap();
        assert_eq!(c.port, 22122);
        assert_eq!(c.listen, vec!["127.0.0.1", "::1", "10.0.0.1"]);
        assert_eq!(c.memory_limit_mb, 128);
        assert!(c.disable_evictions && c.enable_shutdown && c.disable_cas && c.disable_flush);
        assert_eq!(
            (c.max_connections, c.threads, c.item_size_max),
            (10, 2, 2 << 20)
        );
        assert_eq!(c.verbosity, 2);
        assert_eq!(c.protocol, Protocol::Ascii);
        assert_eq!(c.user.as_deref(), Some("nobody"));
        assert_eq!((c.backlog, c.reqs_per_event), (64, 5));
        assert_eq!(c.eviction, Eviction::TinyLfu);
        assert_eq!(c.extended.len(), 3);
        assert_eq!(c.idle_timeout, 5);
        assert!(c.warnings.iter().any(|w| w.contains("hashpower")));
    }

    #[test]
    fn long_forms_and_attached_values() {
        let c = parse(&[
            "--port=1234",
            "--memory-limit",
            "8",
            "-I1k",
            "--max-item-size=2m",
        ])
        .unwrap();
        assert_eq!(
            (c.port, c.memory_limit_mb, c.item_size_max),
            (1234, 8, 2 << 20)
        );
        let c = parse(&["-I", "1024", "-o", "slab_chunk_max=1"]).unwrap();
        assert_eq!(c.item_size_max, 1024);
        // As memcached 1.6.45 (the oracle): without a smaller slab_chunk_max, -I must be a
        // multiple of its largest slab chunk, 512k.
        for (size, message) in [
            (
                "1k",
                "slab_chunk_max (bytes: 524288) cannot be larger than -I (item_size_max 1024)",
            ),
            (
                "700k",
                "-I (item_size_max: 716800) must be evenly divisible by slab_chunk_max \
                 (bytes: 524288)",
            ),
        ] {
            assert_eq!(
                parse(&["-I", size]),
                Err(ConfigError::Invalid {
                    message: message.into(),
                    exit_code: EX_USAGE
                })
            );
        }
    }

    /// What memcached 1.6.45 answers (run as the oracle): (flags, exit code, stderr).
    #[test]
    fn bad_values_are_refused_as_memcached_refuses_them() {
        for (args, code, message) in [
            (
                &["-m", "abc"][..],
                64,
                "Cannot set item size limit higher than 1/2 of memory max.",
            ),
            (&["-p", "70000"], 64, "ERROR: Invalid port number 70000."),
            (&["-o", "frobnicate"], 1, "Illegal suboption \"frobnicate\""),
            (&["-o", "frobnicate=1"], 1, "Illegal suboption \"frobnicate=1\""),
            (&["-o", ",hashpower=20"], 1, "Illegal suboption \"\""),
            (&["-o", "hashpower=20, lru_crawler"], 1, "Illegal suboption \" lru_crawler\""),
            (&["-o", "proxy_config=/x"], 1, "Illegal suboption \"proxy_config=/x\""),
            (&["-o", "ssl_foo=1"], 1, "Illegal suboption \"ssl_foo=1\""),
            (&["-o", "ext_foo=1"], 1, "Illegal suboption \"ext_foo=1\""),
            (&["-o", "idle_timeout"], 1, "Missing numeric argument for idle_timeout"),
            (
                &["-o", "shutdown_grace_ms=1s"],
                1,
                "shutdown_grace_ms must be a whole number of milliseconds, not 1s",
            ),
            (&["-o", "hashpower=5"], 1, "Initial hashtable multiplier of 5 is too low"),
            (&["-o", "hashpower=abc"], 1, "Initial hashtable multiplier of 0 is too low"),
            (
                &["-o", "hashpower=99"],
                1,
                "Initial hashtable multiplier of 99 is too high\n\
                 Choose a value based on \"STAT hash_power_level\" from a running instance",
            ),
            (
                &["-o", "hashpower=12"],
                1,
                "Hash table power size (12) cannot be equal to or less than item lock table \
                 (12)\nItem lock table grows with `-t N` (worker threadcount)\n\
                 Hash table grows with `-o hashpower=N` ",
            ),
            (&["-o", "slab_chunk_max=0"], 1, "slab_chunk_max must be >= 0"),
            (&["-o", "slab_chunk_max=abc"], 1, "could not parse argument to slab_chunk_max"),
            (&["-o", "slab_chunk_max=2048"], 1, "slab_chunk_max must be specified in kilobytes."),
            (
                &["-o", "slab_chunk_max=3"],
                64,
                "-I (item_size_max: 1048576) must be evenly divisible by slab_chunk_max \
                 (bytes: 3072)",
            ),
            (
                &["-I", "4k", "-o", "slab_chunk_max=16"],
                64,
                "slab_chunk_max (bytes: 16384) cannot be larger than -I (item_size_max 4096)",
            ),
            (
                &["-I", "1000k", "-o", "slab_chunk_max=1000"],
                64,
                "slab_chunk_max (bytes: 1024000) must divide evenly into 1048576 \
                 (slab_page_size)",
            ),
            (&["-o", "slab_automove=3"], 1, "slab_automove must be between 0 and 2"),
            (&["-o", "slab_automove_window=2"], 1, "slab_automove_window must be > 2 and < 1800"),
            (&["-o", "slab_automove_ratio=2"], 1, "slab_automove_ratio must be > 0 and < 1"),
            (&["-o", "tail_repair_time=5"], 1, "Cannot set tail_repair_time to less than 10 seconds"),
            (&["-o", "hash_algorithm=foo"], 1, "Unknown hash_algorithm option (jenkins, murmur3, xxh3)"),
            (&["-o", "lru_crawler_sleep=2000000"], 1, "LRU crawler sleep must be between 0 and 1 second"),
            (&["-o", "lru_crawler_tocrawl=-1"], 1, "lru_crawler_tocrawl takes a numeric 32bit value"),
            (&["-o", "hot_lru_pct=90"], 1, "hot_lru_pct must be > 1 and < 80"),
            (&["-o", "warm_lru_pct=0"], 1, "warm_lru_pct must be > 1 and < 80"),
            (&["-o", "hot_max_factor=0"], 1, "hot_max_factor must be > 0"),
            (&["-o", "temporary_ttl"], 1, "Missing temporary_ttl argument"),
            (&["-o", "watcher_logbuf_size=abc"], 1, "could not parse argument to watcher_logbuf_size"),
            (&["-o", "read_buf_mem_limit=x"], 1, "could not parse argument to read_buf_mem_limit"),
            (&["-o", "slab_automove_freeratio=abc"], 1, "could not parse argument to slab_automove_freeratio"),
            (&["-o", "slab_sizes=300-200"], 64, "slab size 200 cannot be lower than or equal to a previous class size"),
            (&["-o", "slab_sizes=2000000"], 64, "slab size 2000000 is out of valid range"),
            (&["-o", "slab_sizes="], 64, ""),
            (&["-o", "hot_lru_pct=50,warm_lru_pct=50"], 64, "hot_lru_pct + warm_lru_pct cannot be more than 80% combined"),
            (&["-o", "no_lru_maintainer,temporary_ttl=5"], 64, "temporary_ttl requires lru_maintainer to be enabled"),
            (&["-c", "-1"], 1, "Maximum connections must be greater than 0"),
            (&["-c", "abc"], 1, "Maximum connections must be greater than 0"),
            (&["-t", "abc"], 1, "Number of threads must be greater than 0"),
            (&["-R", "x"], 1, "Number of requests per event must be greater than 0"),
            (&["-f", "1"], 1, "Factor must be greater than 1"),
            (&["-n", "0"], 1, "Chunk size must be greater than 0"),
            (&["-D", ""], 1, "No delimiter specified"),
            (&["-N", "0"], 1, "Maximum number of NAPI IDs must be greater than 0"),
            (&["-N", "5"], 64, "Number of napi_ids(5) cannot be greater than number of threads(4)"),
            (&["-m", "4096", "-I", "1025m"], 64, "Cannot set item size limit higher than a gigabyte."),
            (
                &["-Y", "/etc/auth", "-B", "auto"],
                64,
                "ERROR: You cannot allow the BINARY protocol while using ascii authentication tokens.",
            ),
        ] {
            match parse(args) {
                Err(ConfigError::Invalid { message: m, exit_code }) => {
                    assert_eq!((exit_code, m.as_str()), (code, message), "{args:?}")
                }
                other => panic!("{args:?}: {other:?}"),
            }
        }
    }

    /// Values memcached accepts are accepted, the knobs with a warning: among them every key
    /// memcached's own test suite starts its servers with.
    #[test]
    fn track_sizes_and_the_slab_table_settings_are_kept() {
        let c = parse(&["-o", "track_sizes", "-f", "1.5", "-n", "32"]).unwrap();
        assert!(c.track_sizes && c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!((c.slab_factor, c.slab_min_size), (1.5, 32));
        let c = parse(&["-o", "slab_chunk_max=16,slab_sizes=100-200"]).unwrap();
        assert_eq!(
            (c.slab_chunk_max, c.slab_sizes),
            (16384, Some(vec![100, 200]))
        );
        let c = parse(&["-I", "2m"]).unwrap();
        assert_eq!(c.slab_chunk_max, 512 * 1024);
        let c = parse(&["-o", "no_modern"]).unwrap();
        assert_eq!(c.slab_chunk_max, 1024 * 1024);
    }

    #[test]
    fn extended_options_memcached_accepts_are_accepted() {
        for option in [
            "relaxed_privileges",
            "modern",
            "slab_chunk_max=16",
            "slab_automove_window=3",
            "slab_reassign",
            "slab_automove=2",
            "hash_algorithm=jenkins",
            "maxconns_fast",
            "no_hashexpand",
            "hashpower=13",
            "slab_sizes=100-200-300",
            "temporary_ttl=5",
            "no_drop_privileges",
            "slab_automove_freeratio=0.01",
            "hashpower=20,",
            " hashpower=20",
            "",
        ] {
            let c = parse(&["-o", option]).unwrap_or_else(|e| panic!("{option}: {e:?}"));
            if let Some(key) = option
                .trim()
                .split(['=', ','])
                .next()
                .filter(|k| !k.is_empty())
            {
                assert!(
                    c.warnings.iter().any(|w| w.contains(key)),
                    "{option}: {:?}",
                    c.warnings
                );
            }
        }
        // The crawler's keys take effect, without a warning.
        let c = parse(&[
            "-o",
            "no_lru_crawler,lru_crawler_sleep=5,lru_crawler_tocrawl=7",
        ])
        .unwrap();
        assert_eq!(
            (
                c.lru_crawler,
                c.lru_crawler_sleep,
                c.lru_crawler_tocrawl,
                c.lru_maintainer
            ),
            (false, 5, 7, true)
        );
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let c = parse(&["-o", "no_lru_crawler,lru_crawler,no_lru_maintainer"]).unwrap();
        assert_eq!((c.lru_crawler, c.lru_maintainer), (true, false));
        let c = parse(&["-o", "no_modern"]).unwrap();
        assert_eq!((c.lru_crawler, c.lru_maintainer), (false, false));
        let d = parse(&[]).unwrap();
        assert_eq!(
            (
                d.lru_crawler,
                d.lru_crawler_sleep,
                d.lru_crawler_tocrawl,
                d.lru_maintainer
            ),
            (true, 100, 0, true)
        );
        // As memcached reads it with atoi.
        let c = parse(&["-o", "idle_timeout=abc"]).unwrap();
        assert_eq!(c.idle_timeout, 0);
        assert_eq!(parse(&["-o", "idle_timeout=-5"]).unwrap().idle_timeout, 0);
        assert_eq!(parse(&["-o", "idle_timeout=7"]).unwrap().idle_timeout, 7);
        assert_eq!(parse(&[]).unwrap().shutdown_grace, Duration::from_secs(1));
        // watch's buffers: kilobytes, shown in bytes; -W turns watch off.
        let c = parse(&["-o", "watcher_logbuf_size=10,worker_logbuf_size=3", "-W"]).unwrap();
        assert_eq!((c.watcher_logbuf_size, c.worker_logbuf_size), (10240, 3072));
        assert!(c.disable_watch && c.warnings.is_empty(), "{:?}", c.warnings);
        let c = parse(&[]).unwrap();
        assert_eq!(
            (c.watcher_logbuf_size, c.worker_logbuf_size),
            (262144, 65536)
        );
        assert!(!c.disable_watch);
        // The limit on requests still arriving: memcached's megabytes, 0 for none, and by
        // default a sixteenth of -m but at least two items of -I.
        let limit = |args: &[&str]| parse(args).unwrap().inflight_limit();
        assert_eq!(limit(&["-o", "read_buf_mem_limit=10"]), Some(10 << 20));
        assert_eq!(limit(&["-o", "read_buf_mem_limit=0"]), None);
        assert_eq!(limit(&["-m", "1024"]), Some(64 << 20));
        assert_eq!(limit(&[]), Some(4 << 20));
        assert_eq!(limit(&["-m", "8"]), Some(2 << 20));
        assert_eq!(limit(&["-m", "64", "-I", "16m"]), Some(32 << 20));
        assert_eq!(
            parse(&["-o", "shutdown_grace_ms=250"])
                .unwrap()
                .shutdown_grace,
            Duration::from_millis(250)
        );
        assert_eq!(
            parse(&["-o", "sock_cookie_id=42"]).unwrap().sock_cookie_id,
            42
        );
        assert!(parse(&["-f", "1.5", "-n", "64", "-N", "2", "-D", "#"]).is_ok());
        assert!(parse(&["-Y", "/etc/auth", "-B", "ascii"]).is_ok());
    }

    /// `-e` is served now (it was refused), and `stats settings` shows it as memcached does.
    #[test]
    fn memory_file_is_kept_and_shown() {
        let c = parse(&["-e", "/dev/shm/memory_file"]).unwrap();
        assert_eq!(c.memory_file, Some(PathBuf::from("/dev/shm/memory_file")));
        let shown = |c: &Config| {
            c.settings_stats()
                .into_iter()
                .find(|(name, _)| *name == "memory_file")
                .map(|(_, value)| value)
        };
        assert_eq!(shown(&c).as_deref(), Some("/dev/shm/memory_file"));
        assert_eq!(shown(&Config::default()).as_deref(), Some("(null)"));
    }

    /// Flags that would silently lose capacity if ignored are refused.
    #[test]
    fn extstore_is_refused() {
        for args in [
            &["-o", "ext_path=/mnt/d1/extstore:1G"][..],
            &["-o", "ext_threads=4"],
        ] {
            match parse(args) {
                Err(ConfigError::Invalid { message, exit_code }) => {
                    assert_eq!(exit_code, EX_USAGE, "{args:?}");
                    assert!(
                        message.contains("ferrocache does not serve"),
                        "{args:?}: {message}"
                    );
                }
                other => panic!("{args:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn bad_values_exit_like_memcached() {
        let code = |args: &[&str]| match parse(args) {
            Err(ConfigError::Invalid { exit_code, .. }) => exit_code,
            other => panic!("{args:?}: {other:?}"),
        };
        assert_eq!(code(&["-t", "0"]), 1);
        assert_eq!(code(&["-c", "0"]), 1);
        assert_eq!(code(&["-B", "foo"]), EX_USAGE);
        assert_eq!(code(&["-I", "512"]), EX_USAGE);
        assert_eq!(code(&["-I", "2g"]), EX_USAGE);
        assert_eq!(code(&["-m", "1", "-I", "1m"]), EX_USAGE);
        assert_eq!(code(&["-p", "70000"]), EX_USAGE);
        assert_eq!(code(&["--bogus"]), 1);
        assert!(matches!(parse(&["-h"]), Err(ConfigError::Help(_))));
        assert!(matches!(parse(&["-V"]), Err(ConfigError::Version(_))));
    }

    #[test]
    fn metrics_listen_takes_host_and_port() {
        assert_eq!(parse(&[]).unwrap().metrics_listen, None);
        for good in [
            "127.0.0.1:9150",
            "[::1]:9150",
            "localhost:9150",
            "0.0.0.0:0",
            "my-host.example:80",
        ] {
            let c = parse(&["-o", &format!("metrics_listen={good}")]).unwrap();
            assert_eq!(c.metrics_listen.as_deref(), Some(good));
            assert!(c.warnings.is_empty(), "{:?}", c.warnings);
            // Not a memcached setting: `stats settings` does not show it.
            assert!(!c
                .settings_stats()
                .iter()
                .any(|(n, _)| n.contains("metrics")));
        }
        for bad in [
            "9150",
            "127.0.0.1",
            "127.0.0.1:",
            ":9150",
            "127.0.0.1:99999",
            "127.0.0.1:91x",
            "::1:9150",
            "host name:9150",
            "",
        ] {
            match parse(&["-o", &format!("metrics_listen={bad}")]) {
                Err(ConfigError::Invalid { message, exit_code }) => {
                    assert_eq!(exit_code, 1, "{bad:?}");
                    assert_eq!(
                        message,
                        format!(
                            "metrics_listen must be HOST:PORT, an address or host name and a \
                             port (e.g. 127.0.0.1:9150 or [::1]:9150), not {bad}"
                        )
                    );
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert_eq!(
            parse(&["-o", "metrics_listen"]),
            Err(invalid("Missing metrics_listen argument", 1))
        );
    }

    #[test]
    fn sasl_means_binary_and_no_udp() {
        let c = parse(&["-S", "-o", "sasl_pwdb=/etc/pwdb"]).unwrap();
        assert!(c.sasl);
        assert_eq!(c.protocol, Protocol::Binary);
        assert_eq!(c.sasl_pwdb, Some(PathBuf::from("/etc/pwdb")));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert!(parse(&["-S", "-B", "binary"]).is_ok());
        assert!(parse(&["-S", "-U", "0"]).is_ok());
        let code = |args: &[&str]| match parse(args) {
            Err(ConfigError::Invalid { exit_code, .. }) => exit_code,
            other => panic!("{args:?}: {other:?}"),
        };
        assert_eq!(code(&["-S", "-B", "ascii"]), EX_USAGE);
        assert_eq!(code(&["-B", "auto", "-S"]), EX_USAGE);
        assert_eq!(code(&["-S", "-U", "11211"]), EX_USAGE);
        let settings = parse(&["-S"]).unwrap().settings_stats();
        let get = |name| settings.iter().find(|(n, _)| *n == name).unwrap().1.clone();
        assert_eq!(get("binding_protocol"), "binary");
        assert_eq!(get("auth_enabled_sasl"), "yes");
    }

    #[test]
    fn udp_as_memcached_sets_it_up() {
        // -U alone is the TCP port too; with -p it is not.
        let c = parse(&["-U", "5000"]).unwrap();
        assert_eq!((c.port, c.udp_port), (5000, 5000));
        let c = parse(&["-U", "5000", "-p", "6000"]).unwrap();
        assert_eq!((c.port, c.udp_port), (6000, 5000));
        let c = parse(&["-U", "0"]).unwrap();
        assert_eq!((c.port, c.udp_port), (11211, 0));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        // Every worker serves each UDP socket, unless -l names several interfaces.
        let get = |c: &Config, name| {
            let settings = c.settings_stats();
            settings.iter().find(|(n, _)| *n == name).unwrap().1.clone()
        };
        let c = parse(&["-t", "3", "-U", "5000"]).unwrap();
        assert_eq!(get(&c, "num_threads_per_udp"), "3");
        assert_eq!(get(&c, "udpport"), "5000");
        let c = parse(&["-t", "3", "-l", "127.0.0.1,127.0.0.2"]).unwrap();
        assert_eq!(get(&c, "num_threads_per_udp"), "1");
        // memcached refuses UDP with ascii authentication.
        match parse(&["-Y", "/etc/auth", "-U", "5000"]) {
            Err(ConfigError::Invalid { exit_code, message }) => {
                assert_eq!(exit_code, EX_USAGE);
                assert_eq!(
                    message,
                    "Cannot use UDP with ascii authentication enabled (-U 0 to disable)"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["-Y", "/etc/auth", "-U", "0"]).is_ok());
    }

    #[test]
    fn help_lists_every_flag() {
        let help = help_text();
        for flag in [
            "-p,", "-U,", "-s,", "-a,", "-A,", "-l,", "-d,", "-u,", "-m,", "-M,", "-c,", "-v,",
            "-vv", "-h,", "-V,", "-P,", "-t,", "-R,", "-C,", "-b,", "-B,", "-I,", "-S,", "-F,",
            "-Y,", "-o,", "-e,", "-Z,", "-N,", "-r,", "-k,", "-L,", "-W,", "-f,", "-n,", "-D ",
        ] {
            assert!(help.contains(flag), "{flag}");
        }
    }

    /// memcached's test suite reads `-h` to decide what the server supports: SASL, UNIX
    /// sockets and (with SSL_TEST set) TLS by their flags' names, extstore, the proxy and the
    /// privilege sandbox by a key each, which must not appear.
    #[test]
    fn help_says_what_memcacheds_tests_look_for() {
        let help = help_text();
        for word in ["sasl", "enable-ssl", "unix-socket"] {
            assert!(help.to_lowercase().contains(word), "{word}");
        }
        for word in ["ext_path", "proxy_config", "no_drop_privileges"] {
            assert!(!help.contains(word), "{word}");
        }
        // Each line says what the flag does: nothing that works is called a no-op.
        for line in help.lines() {
            if line.contains("no effect") || line.contains("accepted for compatibility") {
                assert!(
                    [
                        "-k,",
                        "-L,",
                        "-W,",
                        "-f,",
                        "-n,",
                        "-N,",
                        "ssl_wbuf_size",
                        "they have no effect"
                    ]
                    .iter()
                    .any(|f| line.contains(f))
                        || line.starts_with("                          "),
                    "{line}"
                );
            }
        }
        assert!(help.contains("-e, --memory-file=<file>  keep the cache across a restart"));
        assert!(help.contains("-Z, --enable-ssl          enable TLS"));
    }
}
