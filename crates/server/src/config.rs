//! memcached's command-line flags, with memcached's defaults, so an operator can swap the
//! binary without touching a service file.
//!
//! Parsing uses clap; the help text (`-h`) and version (`-V`) are written here to read like
//! memcached's. Flags for features ferrocache does not have are accepted and warned about.

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
    /// `-p`: TCP port (default 11211). Port 0 picks a free port (tests use it).
    pub port: u16,
    /// `-l`: interfaces, from every `-l` and every comma-separated entry. Empty: all.
    pub listen: Vec<String>,
    /// `-s`: UNIX socket path (turns TCP off, as in memcached).
    pub unix_socket: Option<PathBuf>,
    /// `-a`: the UNIX socket's access mask (default 0700).
    pub unix_mask: u32,
    /// `-U`: UDP port (default 0, off), on the `-l` interfaces. Given without `-p`, it is the
    /// TCP port too, as in memcached.
    pub udp_port: u16,
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
    /// `-Y`: ASCII authentication file of `user:password` lines.
    pub auth_file: Option<PathBuf>,
    /// `-X`: no `stats cachedump`.
    pub disable_dumping: bool,
    /// `-o eviction=lru|tinylfu`
    pub eviction: Eviction,
    /// `-o idle_timeout=N`: close connections idle for N seconds (0: never).
    pub idle_timeout: u64,
    /// `-o debug_clock`: answer memcached's debug-build `debugtime` command, which moves the
    /// server's clock (for memcached's own test suite; never in production).
    pub debug_clock: bool,
    /// Every `-o` pair as given, in order (a bare key has an empty value).
    pub extended: Vec<(String, String)>,
    /// Things the operator should know about the flags (unknown `-o` keys, flags of
    /// features ferrocache lacks). Logged at start-up.
    pub warnings: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 11211,
            listen: Vec::new(),
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
            eviction: Eviction::Lru,
            idle_timeout: 0,
            debug_clock: false,
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

/// Extended (`-o`) keys of memcached's that ferrocache accepts without acting on them.
const IGNORED_EXTENDED: &[&str] = &[
    "maxconns_fast",
    "no_maxconns_fast",
    "hashpower",
    "tail_repair_time",
    "hash_algorithm",
    "lru_crawler",
    "no_lru_crawler",
    "lru_crawler_sleep",
    "lru_crawler_tocrawl",
    "read_buf_mem_limit",
    "lru_maintainer",
    "no_lru_maintainer",
    "hot_lru_pct",
    "warm_lru_pct",
    "hot_max_factor",
    "warm_max_factor",
    "temporary_ttl",
    "slab_chunk_max",
    "slab_reassign",
    "slab_automove",
    "slab_automove_ratio",
    "slab_automove_window",
    "watcher_logbuf_size",
    "worker_logbuf_size",
    "track_sizes",
    "no_hashexpand",
    "modern",
    "no_modern",
    "sock_cookie_id",
];

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
        .arg(
            Arg::new("extended")
                .short('o')
                .long("extended")
                .action(ArgAction::Append),
        )
}

/// The help text, in memcached's order, with memcached's flag names and defaults.
pub fn help_text() -> String {
    let version = env!("CARGO_PKG_VERSION");
    format!(
        "ferrocache {version} (speaks memcached {mc})
-p, --port=<num>          TCP port to listen on (default: 11211)
-U, --udp-port=<num>      UDP port to listen on (default: 0, off)
-s, --unix-socket=<file>  UNIX socket to listen on (turns TCP off)
-a, --unix-mask=<mask>    access mask of the UNIX socket, in octal (default: 700)
-A, --enable-shutdown     allow the ascii \"shutdown\" command
-l, --listen=<addr>       interface(s) to listen on, comma-separated or repeated
                          (default: all interfaces); <addr>:<port> is allowed
-d, --daemon              run in the background
-r, --enable-coredumps    accepted for compatibility; no effect
-u, --user=<user>         run as <user> (required when started as root)
-m, --memory-limit=<num>  memory for items, in megabytes, counting per-item
                          overhead (default: 64)
-M, --disable-evictions   answer an error when memory is full instead of evicting
-c, --conn-limit=<num>    most simultaneous connections (default: 1024)
-k, --lock-memory         accepted for compatibility; no effect
-v, --verbose             log warnings and errors
-vv                       also log each connection and command
-vvv                      log everything
-h, --help                print this help and exit
-i, --license             print the license and exit
-V, --version             print the version and exit
-P, --pidfile=<file>      write the pid to <file> (with -d)
-f, --slab-growth-factor=<num> accepted for compatibility; ferrocache has no slabs
-n, --slab-min-size=<bytes>    accepted for compatibility; ferrocache has no slabs
-L, --enable-largepages   accepted for compatibility; no effect
-D <char>                 delimiter of key prefixes for \"stats detail\" (default: \":\")
-t, --threads=<num>       worker threads (default: 4)
-R, --max-reqs-per-event  accepted for compatibility (default: 20)
-C, --disable-cas         turn CAS off
-b, --listen-backlog=<num> listen queue length (default: 1024)
-B, --protocol=<name>     ascii, binary or auto (default: auto-negotiate)
-I, --max-item-size=<num> largest item, with k or m suffix
                          (default: 1m, min: 1k, max: 1024m)
-S, --enable-sasl         turn on SASL authentication (binary protocol, PLAIN; the
                          users come from the file named by MEMCACHED_SASL_PWDB)
-F, --disable-flush-all   refuse the flush_all command
-X, --disable-dumping     refuse stats cachedump
-W, --disable-watch       accepted for compatibility; no effect
-Y, --auth-file=<file>    ascii authentication from user:pass lines
-e, --memory-file=<file>  accepted for compatibility; no effect
-Z, --enable-ssl          accepted for compatibility; TLS is not served
-o, --extended            comma-separated key=value options:
   - eviction:            lru (default, like memcached) or tinylfu (moka's
                          frequency-based admission; see the README)
   - idle_timeout:        close connections idle this many seconds (default: 0, never)
   - sasl_pwdb:           the user:password file for -S (default: $MEMCACHED_SASL_PWDB)
   - memcached's own keys (maxconns_fast, hashpower, lru_crawler,
     slab_chunk_max, ...) are accepted and have no effect; unknown keys are
     accepted with a warning
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

fn number<T: std::str::FromStr>(
    m: &ArgMatches,
    id: &str,
    what: &str,
) -> Result<Option<T>, ConfigError> {
    match m.get_one::<String>(id) {
        None => Ok(None),
        Some(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| invalid(format!("Invalid value for {what}: {text}"), EX_USAGE)),
    }
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
        if let Some(port) = m.get_one::<String>("port") {
            c.port = port
                .trim()
                .parse()
                .map_err(|_| invalid(format!("ERROR: Invalid port number {port}."), EX_USAGE))?;
        }
        if let Some(port) = m.get_one::<String>("udp-port") {
            c.udp_port = port
                .trim()
                .parse()
                .map_err(|_| invalid(format!("ERROR: Invalid port number {port}."), EX_USAGE))?;
            // memcached: a UDP port given without a TCP port is the TCP port too.
            if c.udp_port != 0 && m.get_one::<String>("port").is_none() {
                c.port = c.udp_port;
            }
        }
        c.listen = m
            .get_many::<String>("listen")
            .into_iter()
            .flatten()
            .flat_map(|l| l.split(','))
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
        if let Some(mb) = number::<u64>(&m, "memory-limit", "memory limit")? {
            c.memory_limit_mb = mb;
        }
        c.disable_evictions = m.get_flag("disable-evictions");
        if let Some(n) = number::<usize>(&m, "conn-limit", "connection limit")? {
            if n == 0 {
                return Err(invalid("Maximum connections must be greater than 0", 1));
            }
            c.max_connections = n;
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
        if let Some(n) = number::<usize>(&m, "threads", "threads")? {
            if n == 0 {
                return Err(invalid("Number of threads must be greater than 0", 1));
            }
            c.threads = n;
        }
        if let Some(n) = number::<u32>(&m, "max-reqs-per-event", "max requests per event")? {
            if n == 0 {
                return Err(invalid(
                    "Number of requests per event must be greater than 0",
                    1,
                ));
            }
            c.reqs_per_event = n;
        }
        c.disable_cas = m.get_flag("disable-cas");
        if let Some(n) = number::<i32>(&m, "listen-backlog", "listen backlog")? {
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
            let bytes = parse_size(size).unwrap_or(0);
            if bytes < 1024 {
                return Err(invalid(
                    "Item max size cannot be less than 1024 bytes.",
                    EX_USAGE,
                ));
            }
            if bytes > 1024 * 1024 * 1024 {
                return Err(invalid(
                    "Cannot set item size limit higher than 1 gigabyte.",
                    EX_USAGE,
                ));
            }
            c.item_size_max = bytes as usize;
        }
        if c.item_size_max as u64 > c.memory_limit_bytes() / 2 {
            return Err(invalid(
                "Cannot set item size limit higher than 1/2 of memory max.",
                EX_USAGE,
            ));
        }
        c.sasl = m.get_flag("enable-sasl");
        c.disable_flush = m.get_flag("disable-flush-all");
        c.disable_dumping = m.get_flag("disable-dumping");
        c.auth_file = m.get_one::<String>("auth-file").map(PathBuf::from);
        for (flag, what) in [
            ("enable-coredumps", "-r"),
            ("lock-memory", "-k"),
            ("enable-largepages", "-L"),
            ("disable-watch", "-W"),
            ("enable-ssl", "-Z (TLS)"),
        ] {
            if m.get_flag(flag) {
                c.warnings.push(format!(
                    "{what} is accepted for compatibility and has no effect"
                ));
            }
        }
        for id in ["slab-growth-factor", "slab-min-size", "memory-file"] {
            if m.contains_id(id) && m.get_one::<String>(id).is_some() {
                c.warnings.push(format!(
                    "--{id} is accepted for compatibility and has no effect"
                ));
            }
        }
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
        for option in m.get_many::<String>("extended").into_iter().flatten() {
            for pair in option.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                c.extended.push((key.to_string(), value.to_string()));
                match key {
                    "eviction" => {
                        c.eviction = match value {
                            "lru" => Eviction::Lru,
                            "tinylfu" => Eviction::TinyLfu,
                            other => {
                                return Err(invalid(
                                    format!("Invalid eviction policy: {other} (lru or tinylfu)"),
                                    EX_USAGE,
                                ))
                            }
                        }
                    }
                    "sasl_pwdb" => c.sasl_pwdb = Some(PathBuf::from(value)),
                    "idle_timeout" => {
                        c.idle_timeout = value.parse().map_err(|_| {
                            invalid(format!("Invalid value for idle_timeout: {value}"), EX_USAGE)
                        })?;
                    }
                    "debug_clock" => c.debug_clock = true,
                    k if IGNORED_EXTENDED.contains(&k)
                        || k.starts_with("ext_")
                        || k.starts_with("ssl_") =>
                    {
                        c.warnings.push(format!(
                            "-o {key} is accepted for compatibility and has no effect"
                        ));
                    }
                    _ => c
                        .warnings
                        .push(format!("unknown -o option \"{pair}\" ignored")),
                }
            }
        }
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
                eprintln!("{}", message.trim_end());
                std::process::exit(exit_code);
            }
        }
    }

    /// memcached's `num_threads_per_udp`: how many worker threads serve each UDP socket. All
    /// of them, unless `-l` names several interfaces: then one each.
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

    /// The lines of memcached's `stats settings` that describe ferrocache truthfully, with
    /// memcached's names, formatting and order.
    pub fn settings_stats(&self) -> Vec<(&'static str, String)> {
        let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
        let inter = if self.listen.is_empty() {
            "NULL".to_string()
        } else {
            self.listen.join(",")
        };
        vec![
            ("maxbytes", self.memory_limit_bytes().to_string()),
            ("maxconns", self.max_connections.to_string()),
            ("tcpport", self.port.to_string()),
            ("udpport", self.udp_port.to_string()),
            ("inter", inter),
            ("verbosity", self.verbosity.to_string()),
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
                    // -Y makes every connection speak ascii.
                    _ if self.auth_file.is_some() => "ascii",
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
            ("flush_enabled", yes_no(!self.disable_flush)),
            ("dump_enabled", yes_no(!self.disable_dumping)),
            ("idle_timeout", self.idle_timeout.to_string()),
            // Client flags are 32 bits, as in memcached built without LARGE_CLIENT_FLAGS.
            ("client_flags_size", "4".to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            "--max-item-size=4k",
        ])
        .unwrap();
        assert_eq!(
            (c.port, c.memory_limit_mb, c.item_size_max),
            (1234, 8, 4096)
        );
        let c = parse(&["-I", "1024"]).unwrap();
        assert_eq!(c.item_size_max, 1024);
    }

    #[test]
    fn unknown_extended_options_are_accepted_with_a_warning() {
        let c = parse(&["-o", "frobnicate=3,modern"]).unwrap();
        assert!(c.warnings.iter().any(|w| w.contains("frobnicate")));
        assert_eq!(c.extended[1], ("modern".into(), String::new()));
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
            "-Y,", "-o,",
        ] {
            assert!(help.contains(flag), "{flag}");
        }
    }
}
