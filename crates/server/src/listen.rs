//! Listening sockets, made with socket2 so that SO_REUSEADDR and the listen backlog (`-b`)
//! are set as memcached sets them; accepted TCP connections get TCP_NODELAY. With `-U`, UDP
//! sockets are bound on the same interfaces as TCP.
//!
//! `-l` entries are read as memcached 1.6.45 reads them:
//!
//! ```text
//! [notls:|btls:|mtls:][proto[<name>]:][tag[<name>]:|tag_<name>_:]<host>[:<port>]
//! ```
//!
//! `<host>` is a name, an IPv4 address, `[<IPv6 address>]`, a bare IPv6 address (then with
//! no port) or `*` for every interface. With `-Z`, `notls:` makes a plain-text listener,
//! `btls:` one that asks for no client certificate and `mtls:` one that requires one (see
//! [`crate::tls`]); without `-Z` they are refused, as memcached refuses them. `proto[ascii]`, `proto[binary]` and
//! `proto[negotiating]` (any prefix of those words, as memcached compares them) set the
//! protocol of that listener's connections, as memcached does; `proto[proxy]` is refused as
//! by a memcached built without its proxy; a tag is checked (1 to 8 characters) and has no
//! other effect, as in memcached outside its proxy.

use crate::config::Protocol;
use crate::tls::TlsMode;
use crate::Config;
use socket2::{Domain, Protocol as SockProtocol, SockAddr, Socket, Type};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A listening socket and the protocol its connections speak.
pub struct Endpoint {
    pub listener: Listener,
    /// From a `-l proto[...]` prefix; `None`: `-B`'s.
    pub protocol: Option<Protocol>,
    /// From a `-l notls:|btls:|mtls:` prefix.
    pub tls: TlsMode,
}

impl From<Listener> for Endpoint {
    fn from(listener: Listener) -> Self {
        Endpoint {
            listener,
            protocol: None,
            tls: TlsMode::Default,
        }
    }
}

/// Why the listeners could not be made: what to print (memcached's words), and the exit
/// code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindError {
    pub message: String,
    pub exit_code: i32,
}

impl std::fmt::Display for BindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BindError {}

impl From<BindError> for io::Error {
    fn from(e: BindError) -> Self {
        io::Error::other(e.message)
    }
}

/// memcached's exit code when a listener cannot be made (`EX_OSERR`).
const EX_OSERR: i32 = 71;

/// An OS error as C's `strerror` words it, without Rust's " (os error N)".
pub fn strerror(e: &io::Error) -> String {
    let text = e.to_string();
    match (e.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(i)) => text[..i].to_string(),
        _ => text,
    }
}

/// A listening socket.
pub enum Listener {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener),
    /// A descriptor of a bound UDP socket (`-U`), not yet registered with any runtime: `run`
    /// hands it to a worker thread. memcached gives every worker a descriptor of each UDP
    /// socket (one only when `-l` names several interfaces), and so does [`bind_all`]. It
    /// accepts no connections.
    Udp(std::net::UdpSocket),
}

/// An accepted connection.
pub enum Stream {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
    /// A TCP connection once its TLS handshake is done (on the worker that serves it).
    Tls(Box<crate::tls::TlsConn>),
}

/// An accepted connection between runtimes: registered with none, in non-blocking mode.
pub enum StdStream {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

impl Stream {
    /// Ready when a read would find something (or the peer has gone). A poll function, not
    /// an `async fn`: its future would be part of every connection's, idle or not.
    pub fn poll_read_ready(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        match self {
            Stream::Tcp(s) => s.poll_read_ready(cx),
            Stream::Unix(s) => s.poll_read_ready(cx),
            // The socket's, not rustls's: bytes rustls has decrypted and not yet given out
            // do not show here. Readers of a TLS stream read through it (`AsyncRead`).
            Stream::Tls(s) => s.tcp().poll_read_ready(cx),
        }
    }

    /// Reads what is there into `buf` without waiting; `WouldBlock` if nothing is.
    pub fn try_read_buf(&self, buf: &mut bytes::BytesMut) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.try_read_buf(buf),
            Stream::Unix(s) => s.try_read_buf(buf),
            Stream::Tls(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a TLS stream is read through rustls",
            )),
        }
    }

    /// Takes the connection out of the current runtime's reactor.
    pub fn into_std(self) -> io::Result<StdStream> {
        Ok(match self {
            Stream::Tcp(s) => StdStream::Tcp(s.into_std()?),
            Stream::Unix(s) => StdStream::Unix(s.into_std()?),
            // TLS starts on the worker, after the hand-over.
            Stream::Tls(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "a TLS connection stays on its worker",
                ))
            }
        })
    }

    /// Registers the connection with the current runtime's reactor.
    pub fn from_std(s: StdStream) -> io::Result<Stream> {
        Ok(match s {
            StdStream::Tcp(s) => Stream::Tcp(tokio::net::TcpStream::from_std(s)?),
            StdStream::Unix(s) => Stream::Unix(tokio::net::UnixStream::from_std(s)?),
        })
    }
}

impl Listener {
    /// Accepts a connection; returns it and the peer's address for logs.
    pub async fn accept(&self) -> io::Result<(Stream, String)> {
        match self {
            Listener::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                // Replies are written whole, so waiting to coalesce them only adds latency.
                s.set_nodelay(true)?;
                Ok((Stream::Tcp(s), peer.to_string()))
            }
            Listener::Unix(l) => {
                let (s, _) = l.accept().await?;
                Ok((Stream::Unix(s), "unix".into()))
            }
            Listener::Udp(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a UDP socket accepts no connections",
            )),
        }
    }

    pub fn local_addr_string(&self) -> String {
        match self {
            Listener::Tcp(l) => l
                .local_addr()
                .map_or_else(|_| "tcp:?".into(), |a| a.to_string()),
            Listener::Unix(l) => l
                .local_addr()
                .ok()
                .and_then(|a| a.as_pathname().map(|p| p.display().to_string()))
                .unwrap_or_else(|| "unix:?".into()),
            Listener::Udp(s) => s
                .local_addr()
                .map_or_else(|_| "udp:?".into(), |a| format!("{a} (UDP)")),
        }
    }
}

/// One `-l` entry, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListenSpec {
    /// `None`: every interface (`*`).
    pub host: Option<String>,
    /// `None`: `-p`'s.
    pub port: Option<u16>,
    /// `None`: `-B`'s.
    pub protocol: Option<Protocol>,
    pub tls: TlsMode,
    /// What memcached prints about the entry while it binds it.
    pub warning: Option<String>,
}

/// Reads an entry as memcached's `server_sockets` does. An error is memcached's message.
/// Also returns where memcached's parse writes its first NUL into the entry, which is what
/// its "not built with proxy" message shows of the first entry.
fn parse_spec(entry: &str, config: &Config, first: &str) -> (Result<ListenSpec, String>, usize) {
    let mut cut = entry.len();
    let result = parse_spec_at(entry, config, first, &mut cut);
    (result, cut)
}

fn parse_spec_at(
    entry: &str,
    config: &Config,
    first: &str,
    cut: &mut usize,
) -> Result<ListenSpec, String> {
    let base = entry.as_ptr() as usize;
    let mut note_cut = |at: &str| *cut = (*cut).min(at.as_ptr() as usize - base);
    let mut p = entry;
    // memcached's TLS prefixes, valid only with -Z (the "otls" is memcached's own word). As
    // memcached, the character after the prefix is skipped unseen (a `:`).
    let mut tls = TlsMode::Default;
    for (prefix, name, mode) in [
        ("notls", "notls", TlsMode::Off),
        ("btls", "btls", TlsMode::NoPeer),
        ("mtls", "otls", TlsMode::Peer),
    ] {
        if let Some(rest) = p.strip_prefix(prefix) {
            if !config.tls.enabled {
                return Err(format!("'{name}' option is valid only when SSL is enabled"));
            }
            if mode == TlsMode::Peer && config.tls.ca_cert.is_none() {
                return Err(format!(
                    "-l {entry}: mtls: needs -o ssl_ca_cert, the CAs client certificates are \
                     checked against (ferrocache would refuse every client)"
                ));
            }
            tls = mode;
            p = skip_one(rest);
            break;
        }
    }
    let mut protocol = None;
    let mut warning = None;
    if let Some(rest) = p.strip_prefix("proto") {
        p = rest;
        if p.starts_with('[') {
            let Some(e) = p.find(']') else {
                return Err(format!("Invalid protocol spec: \"{p}\""));
            };
            note_cut(&p[e..]);
            let name = &p[1..e];
            p = skip_one(&p[e + 1..]);
            protocol = if "ascii".starts_with(name) {
                Some(Protocol::Ascii)
            } else if "binary".starts_with(name) {
                if config.auth_file.is_some() {
                    return Err(
                        "Cannot use binary protocol when ascii authentication enabled".into(),
                    );
                }
                Some(Protocol::Binary)
            } else if "negotiating".starts_with(name) {
                if config.auth_file.is_some() {
                    warning = Some(
                        "WARNING: negotiating ports are ascii only when ascii authentication \
                         enabled"
                            .to_string(),
                    );
                    Some(Protocol::Ascii)
                } else {
                    Some(Protocol::Auto)
                }
            } else if "proxy".starts_with(name) {
                return Err(format!("Server not built with proxy: \"{first}\""));
            } else {
                // memcached keeps -B's protocol for a name it does not know, silently.
                warning = Some(format!(
                    "-l {entry}: unknown protocol \"{name}\"; -B's is used, as by memcached"
                ));
                None
            };
            if config.sasl && matches!(protocol, Some(Protocol::Ascii | Protocol::Auto)) {
                return Err(format!(
                    "-l {entry}: -S authenticates the binary protocol only, and memcached would \
                     serve this listener's ascii without authentication: refused"
                ));
            }
        }
    }
    if let Some(rest) = p.strip_prefix("tag") {
        p = rest;
        if p.starts_with(['[', '_']) {
            let end = p.find(']').or_else(|| p[1..].find('_').map(|i| i + 1));
            let Some(e) = end else {
                return Err(format!("Invalid tag in socket config: \"{p}\""));
            };
            note_cut(&p[e..]);
            let tag = &p[1..e];
            if tag.is_empty() || tag.len() > 8 {
                return Err(format!(
                    "Listener tags must be between 1 and 8 characters: \"{tag}\""
                ));
            }
            p = skip_one(&p[e + 1..]);
        }
    }
    let mut bracketed = None;
    if p.starts_with('[') {
        let Some(e) = p.find(']') else {
            return Err(format!("Invalid IPV6 address: \"{p}\""));
        };
        note_cut(&p[e..]);
        bracketed = Some(&p[1..e]);
        p = &p[e + 1..];
    }
    let mut port = None;
    if let Some(s) = p.find(':') {
        // A port follows the last colon, unless the host is a bare IPv6 address.
        if !p[s + 1..].contains(':') || bracketed.is_some() {
            note_cut(&p[s..]);
            let text = &p[s + 1..];
            port = match ferrocache_protocol::number::strtol32(text.as_bytes()) {
                // memcached reads -1 as 0.
                Some(-1) => Some(0),
                Some(n) => {
                    Some(u16::try_from(n).map_err(|_| format!("Invalid port number: \"{text}\""))?)
                }
                None => return Err(format!("Invalid port number: \"{text}\"")),
            };
            p = &p[..s];
        }
    }
    let host = bracketed.unwrap_or(p);
    Ok(ListenSpec {
        host: (host != "*").then(|| host.to_string()),
        port,
        protocol,
        tls,
        warning,
    })
}

/// memcached steps over the character after a `]` (an assumed `:`).
fn skip_one(p: &str) -> &str {
    let mut chars = p.chars();
    chars.next();
    chars.as_str()
}

/// The addresses an entry names, as getaddrinfo gives them for a listening socket.
fn resolve(spec: &ListenSpec, port: u16) -> Result<Vec<SocketAddr>, String> {
    let Some(host) = &spec.host else {
        // Every interface, IPv4 and (where the machine has it) IPv6, like memcached.
        return Ok(vec![
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port),
        ]);
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let failed = |e: io::Error| {
        let text = e.to_string();
        let text = text
            .strip_prefix("failed to lookup address information: ")
            .unwrap_or(&text)
            .to_string();
        format!("getaddrinfo(): {text}")
    };
    if host.is_empty() {
        return Err("getaddrinfo(): Name or service not known".into());
    }
    let addrs: Vec<SocketAddr> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(failed)?
        .collect();
    Ok(addrs)
}

/// What memcached prints when a TCP listener cannot be made, after its own line (if any).
fn listen_failure(config: &Config, detail: Option<String>, errno: &str) -> BindError {
    let what = match &config.inter {
        Some(inter) => format!("failed to listen on one of interface(s) {inter}: {errno}"),
        None => format!("failed to listen on TCP port {}: {errno}", config.port),
    };
    BindError {
        message: match detail {
            Some(d) => format!("{d}\n{what}"),
            None => what,
        },
        exit_code: EX_OSERR,
    }
}

/// An address to listen on, and what its `-l` entry says of it.
struct BindAddr {
    addr: SocketAddr,
    protocol: Option<Protocol>,
    tls: TlsMode,
    /// One of "every interface"'s addresses (IPv6 may be missing).
    any: bool,
    /// To print before binding it.
    warning: Option<String>,
}

/// The TCP addresses that `-l` and `-p` name, each with its listener's protocol.
fn tcp_addrs(config: &Config) -> Result<Vec<BindAddr>, BindError> {
    addrs(config, Config::bind_port(config.port))
}

/// The UDP addresses that `-l` and `-U` name: memcached binds UDP on the same interfaces as
/// TCP, and an `-l <addr>:<port>` entry's port applies to both.
fn udp_addrs(config: &Config) -> Result<Vec<BindAddr>, BindError> {
    addrs(config, Config::bind_port(config.udp_port))
}

/// The addresses `-l` names, with `port` where an entry gives none.
fn addrs(config: &Config, port: u16) -> Result<Vec<BindAddr>, BindError> {
    let specs = if config.listen.is_empty() {
        vec![ListenSpec {
            host: None,
            port: None,
            protocol: None,
            tls: TlsMode::Default,
            warning: None,
        }]
    } else {
        let first = config.listen[0].as_str();
        let head = &first[..parse_spec(first, config, "").1];
        let mut specs = Vec::new();
        for entry in &config.listen {
            // A parse error: memcached's line, then its "failed to listen" with errno 0.
            let spec = parse_spec(entry, config, head)
                .0
                .map_err(|e| listen_failure(config, Some(e), "Success"))?;
            specs.push(spec);
        }
        specs
    };
    let mut addrs: Vec<BindAddr> = Vec::new();
    for spec in specs {
        let mut warning = spec.warning.clone();
        for addr in resolve(&spec, spec.port.unwrap_or(port))
            .map_err(|e| listen_failure(config, Some(e), "Success"))?
        {
            if !addrs.iter().any(|a| a.addr == addr) {
                addrs.push(BindAddr {
                    addr,
                    protocol: spec.protocol,
                    tls: spec.tls,
                    any: spec.host.is_none(),
                    warning: warning.take(),
                });
            }
        }
    }
    Ok(addrs)
}

fn bind_tcp(addr: SocketAddr, config: &Config) -> Result<std::net::TcpListener, BindError> {
    let os = |detail: Option<&str>, e: io::Error| {
        listen_failure(
            config,
            detail.map(|d| format!("{d}: {}", strerror(&e))),
            &strerror(&e),
        )
    };
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM,
        Some(SockProtocol::TCP),
    )
    .map_err(|e| os(Some("socket()"), e))?;
    if config.napi_ids > 0 && !has_napi_ids(&socket) {
        return Err(BindError {
            message: "-N <num_napi_ids> option not supported".into(),
            exit_code: 1,
        });
    }
    if addr.is_ipv6() {
        // Keep IPv6 sockets to IPv6, so "all interfaces" can bind both families.
        socket
            .set_only_v6(true)
            .map_err(|e| os(Some("setsockopt"), e))?;
    }
    if config.sock_cookie_id != 0 {
        // As memcached: a mark that cannot be set (it needs CAP_NET_ADMIN) is reported and
        // the socket served without it.
        if let Err(e) = socket.set_mark(config.sock_cookie_id) {
            eprintln!("setsockopt: {}", strerror(&e));
        }
    }
    socket
        .set_reuse_address(true)
        .map_err(|e| os(Some("setsockopt"), e))?;
    socket.bind(&SockAddr::from(addr)).map_err(|e| {
        // memcached names the failing call, except for an address already in use.
        if e.kind() == io::ErrorKind::AddrInUse {
            os(None, e)
        } else {
            os(Some("bind()"), e)
        }
    })?;
    socket
        .listen(config.backlog)
        .map_err(|e| os(Some("listen()"), e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| os(Some("setting O_NONBLOCK"), e))?;
    Ok(socket.into())
}

/// memcached's MAX_SENDBUF_SIZE: it raises a UDP socket's send buffer as far towards this as
/// the kernel allows (which caps it at `net.core.wmem_max` without failing).
const UDP_SEND_BUFFER: usize = 256 * 1024 * 1024;

fn bind_udp(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::DGRAM,
        Some(SockProtocol::UDP),
    )?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    // A large reply goes out as many datagrams at once; a small buffer would drop them.
    if let Err(e) = socket.set_send_buffer_size(UDP_SEND_BUFFER) {
        tracing::debug!("could not raise the UDP send buffer of {addr}: {e}");
    }
    socket.bind(&SockAddr::from(addr))?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// `-N`: memcached refuses to start where the kernel cannot tell a connection's NAPI ID.
fn has_napi_ids(socket: &Socket) -> bool {
    use std::os::fd::AsRawFd;
    let mut id: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `id`.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_INCOMING_NAPI_ID,
            (&mut id as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    rc == 0
}

/// Binds every listener the configuration names. Must run inside a tokio runtime.
pub fn bind_all(config: &Config) -> io::Result<Vec<Listener>> {
    Ok(bind_endpoints(config)?
        .into_iter()
        .map(|e| e.listener)
        .collect())
}

/// Binds every listener the configuration names, each with the protocol its `-l` entry
/// gives. Must run inside a tokio runtime.
pub fn bind_endpoints(config: &Config) -> Result<Vec<Endpoint>, BindError> {
    if let Some(path) = &config.unix_socket {
        return bind_unix(path, config).map(|l| vec![l.into()]);
    }
    let mut listeners: Vec<Endpoint> = Vec::new();
    // `-p 0` turns TCP off, whatever `-l` says, as in memcached.
    let tcp = if config.port != 0 {
        tcp_addrs(config)?
    } else {
        Vec::new()
    };
    for BindAddr {
        addr,
        protocol,
        tls,
        any,
        warning,
    } in tcp
    {
        if let Some(w) = warning {
            eprintln!("{w}");
        }
        match bind_tcp(addr, config) {
            Ok(l) => {
                let listener = tokio::net::TcpListener::from_std(l)
                    .map_err(|e| listen_failure(config, None, &strerror(&e)))?;
                listeners.push(Endpoint {
                    listener: Listener::Tcp(listener),
                    protocol,
                    tls,
                });
            }
            // A machine without IPv6 still serves IPv4 on "all interfaces".
            Err(e) if any && addr.is_ipv6() && !listeners.is_empty() => {
                tracing::debug!("not listening on {addr}: {e}");
            }
            Err(e) => return Err(e),
        }
    }
    if config.udp_port != 0 {
        let tcp_count = listeners.len();
        let failed = |e: io::Error| {
            let errno = strerror(&e);
            BindError {
                message: match &config.inter {
                    Some(inter) => {
                        format!("failed to listen on one of interface(s) {inter}: {errno}")
                    }
                    None => format!("failed to listen on UDP port {}: {errno}", config.udp_port),
                },
                exit_code: EX_OSERR,
            }
        };
        for BindAddr { addr, any, .. } in udp_addrs(config)? {
            match bind_udp(addr) {
                Ok(s) => {
                    // A descriptor per worker thread that serves the socket, made at once as
                    // memcached makes them (so `stats conns` lists them in its order).
                    let dups = (1..config.num_threads_per_udp())
                        .map(|_| s.try_clone())
                        .collect::<io::Result<Vec<_>>>()
                        .map_err(failed)?;
                    listeners.push(Listener::Udp(s).into());
                    listeners.extend(dups.into_iter().map(|d| Listener::Udp(d).into()));
                }
                // As for TCP: a machine without IPv6 still serves IPv4 on "all interfaces".
                Err(e) if any && addr.is_ipv6() && listeners.len() > tcp_count => {
                    tracing::debug!("not listening on UDP {addr}: {e}");
                }
                Err(e) => return Err(failed(e)),
            }
        }
    }
    Ok(listeners)
}

/// `MEMCACHED_PORT_FILENAME`, as memcached writes it: a line per TCP and UDP socket bound
/// (`TCP INET: 11211`, `UDP INET6: 11211`; a UDP socket once, not once per worker), written to
/// `<file>.lck` and renamed to `<file>` once all are bound, so a reader never sees half of it.
/// memcached's test suite finds free ports (`-p -1`) this way.
pub fn write_port_file(listeners: &[Endpoint], path: &std::path::Path) {
    use std::io::Write;
    let mut text = String::new();
    let mut last_udp = None;
    for endpoint in listeners {
        let (kind, addr) = match &endpoint.listener {
            Listener::Tcp(l) => ("TCP", l.local_addr()),
            Listener::Udp(s) => ("UDP", s.local_addr()),
            Listener::Unix(_) => continue,
        };
        let Ok(addr) = addr else { continue };
        if kind == "UDP" {
            if last_udp == Some(addr) {
                continue;
            }
            last_udp = Some(addr);
        }
        let family = if addr.is_ipv6() { "INET6" } else { "INET" };
        text.push_str(&format!("{kind} {family}: {}\n", addr.port()));
    }
    let mut lock = path.as_os_str().to_owned();
    lock.push(".lck");
    let written = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&lock)
        .and_then(|mut f| f.write_all(text.as_bytes()));
    match written {
        Ok(()) => {
            let _ = std::fs::rename(&lock, path);
        }
        Err(e) => eprintln!(
            "Failed to open \"{}\": {}",
            std::path::Path::new(&lock).display(),
            strerror(&e)
        ),
    }
}

/// `-s`, as memcached makes it: a socket left by an earlier run is removed (nothing else
/// is), and the socket is bound with the `-a` mask, by whoever the process is by then (the
/// `-u` user when started as root), who owns it. Only the UNIX socket is served.
fn bind_unix(path: &std::path::Path, config: &Config) -> Result<Listener, BindError> {
    use std::os::unix::fs::FileTypeExt;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        let _ = std::fs::remove_file(path);
    }
    let fail = |call: Option<&str>, e: io::Error| {
        let errno = strerror(&e);
        let call = call.map(|c| format!("{c}: {errno}\n")).unwrap_or_default();
        BindError {
            message: format!(
                "{call}failed to listen on UNIX socket: {}: {errno}",
                path.display()
            ),
            exit_code: EX_OSERR,
        }
    };
    let socket =
        Socket::new(Domain::UNIX, Type::STREAM, None).map_err(|e| fail(Some("socket()"), e))?;
    let address = SockAddr::unix(path).map_err(|e| fail(None, e))?;
    let old_umask = unsafe_umask(!config.unix_mask & 0o777);
    let bound = socket.bind(&address);
    unsafe_umask(old_umask);
    bound.map_err(|e| fail(Some("bind()"), e))?;
    socket
        .listen(config.backlog)
        .map_err(|e| fail(Some("listen()"), e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| fail(Some("setting O_NONBLOCK"), e))?;
    let std_listener: std::os::unix::net::UnixListener = socket.into();
    let listener = tokio::net::UnixListener::from_std(std_listener).map_err(|e| fail(None, e))?;
    Ok(Listener::Unix(listener))
}

/// Sets the process umask, returning the old one (to give the UNIX socket its `-a` mask).
fn unsafe_umask(mask: u32) -> u32 {
    // SAFETY: umask only swaps a process-wide integer.
    unsafe { libc::umask(mask as libc::mode_t) as u32 }
}

/// Does the server listen only on loopback addresses (or a UNIX socket)?
pub fn is_loopback_only(config: &Config) -> bool {
    if config.unix_socket.is_some() {
        return true;
    }
    match tcp_addrs(config) {
        Ok(addrs) => !addrs.is_empty() && addrs.iter().all(|a| a.addr.ip().is_loopback()),
        Err(_) => false,
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Config {
        Config::parse_from(std::iter::once("ferrocache").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn addresses_from_flags() {
        let c = config(&["-p", "5000", "-l", "127.0.0.1,[::1]:6000"]);
        let addrs: Vec<SocketAddr> = tcp_addrs(&c).unwrap().iter().map(|a| a.addr).collect();
        assert_eq!(
            addrs,
            vec![
                "127.0.0.1:5000".parse().unwrap(),
                "[::1]:6000".parse().unwrap()
            ]
        );
        assert!(is_loopback_only(&c));
        assert!(!is_loopback_only(&config(&[])));
        assert!(!is_loopback_only(&config(&["-l", "0.0.0.0"])));
    }

    #[test]
    fn udp_binds_the_tcp_interfaces() {
        let addrs = |c: &Config| -> Vec<SocketAddr> {
            udp_addrs(c).ok().unwrap().iter().map(|a| a.addr).collect()
        };
        let c = config(&["-p", "5000", "-U", "7000", "-l", "127.0.0.1,[::1]:6000"]);
        assert_eq!(
            addrs(&c),
            vec![
                "127.0.0.1:7000".parse::<SocketAddr>().unwrap(),
                "[::1]:6000".parse().unwrap()
            ]
        );
        let all = addrs(&config(&["-U", "7000"]));
        assert_eq!(all.len(), 2);
        assert!(all
            .iter()
            .all(|a| a.ip().is_unspecified() && a.port() == 7000));
    }

    #[tokio::test]
    async fn udp_is_bound_only_with_a_port() {
        let c = config(&["-p", "-1", "-l", "127.0.0.1"]);
        assert!(bind_all(&c)
            .unwrap()
            .iter()
            .all(|l| !matches!(l, Listener::Udp(_))));
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // A descriptor per worker thread.
        let c = config(&[
            "-p",
            "-1",
            "-l",
            "127.0.0.1",
            "-U",
            &port.to_string(),
            "-t",
            "3",
        ]);
        let listeners = bind_all(&c).unwrap();
        assert_eq!(listeners.len(), 4);
        assert!(matches!(listeners[0], Listener::Tcp(_)));
        for udp in &listeners[1..] {
            assert_eq!(udp.local_addr_string(), format!("127.0.0.1:{port} (UDP)"));
        }
    }

    /// Entries as memcached 1.6.45 reads them (its messages found by running it).
    #[test]
    fn listen_entries_as_memcached_reads_them() {
        let c = config(&[]);
        let spec = |entry: &str| parse_spec(entry, &c, "HEAD").0;
        let ok = |host: Option<&str>, port: Option<u16>, protocol: Option<Protocol>| {
            Ok(ListenSpec {
                host: host.map(String::from),
                port,
                protocol,
                tls: TlsMode::Default,
                warning: None,
            })
        };
        let l = Some("127.0.0.1");
        assert_eq!(spec("127.0.0.1"), ok(l, None, None));
        assert_eq!(spec("127.0.0.1:5000"), ok(l, Some(5000), None));
        assert_eq!(spec("127.0.0.1:-1"), ok(l, Some(0), None));
        assert_eq!(spec("*:5000"), ok(None, Some(5000), None));
        assert_eq!(spec("[::1]:5000"), ok(Some("::1"), Some(5000), None));
        assert_eq!(spec("[::1]"), ok(Some("::1"), None, None));
        assert_eq!(spec("::1"), ok(Some("::1"), None, None));
        assert_eq!(
            spec("localhost:5000"),
            ok(Some("localhost"), Some(5000), None)
        );
        let ascii = Some(Protocol::Ascii);
        let binary = Some(Protocol::Binary);
        assert_eq!(spec("proto[ascii]:127.0.0.1"), ok(l, None, ascii));
        assert_eq!(
            spec("proto[binary]:127.0.0.1:5000"),
            ok(l, Some(5000), binary)
        );
        assert_eq!(spec("proto[bin]:127.0.0.1"), ok(l, None, binary));
        assert_eq!(spec("proto[]:127.0.0.1"), ok(l, None, ascii));
        assert_eq!(
            spec("proto[negotiating]:127.0.0.1"),
            ok(l, None, Some(Protocol::Auto))
        );
        assert_eq!(
            spec("proto[binary]:tag[svc]:127.0.0.1"),
            ok(l, None, binary)
        );
        assert_eq!(spec("tag[svc]:127.0.0.1:5000"), ok(l, Some(5000), None));
        assert_eq!(spec("tag_svc_:127.0.0.1:5000"), ok(l, Some(5000), None));
        assert_eq!(
            spec("tag[12345678]:[::1]:5000"),
            ok(Some("::1"), Some(5000), None)
        );
        // Tag first: memcached no longer sees a protocol, and takes it all for a host.
        assert_eq!(
            spec("tag[svc]:proto[binary]:127.0.0.1:5000"),
            ok(Some("proto[binary]:127.0.0.1:5000"), None, None)
        );
        let err = |e: &str| Err(e.to_string());
        for (prefix, name) in [("notls", "notls"), ("btls", "btls"), ("mtls", "otls")] {
            assert_eq!(
                spec(&format!("{prefix}:127.0.0.1")),
                err(&format!(
                    "'{name}' option is valid only when SSL is enabled"
                ))
            );
        }
        assert_eq!(
            spec("tls:127.0.0.1"),
            err("Invalid port number: \"127.0.0.1\"")
        );
        assert_eq!(spec("127.0.0.1:abc"), err("Invalid port number: \"abc\""));
        assert_eq!(
            spec("127.0.0.1:70000"),
            err("Invalid port number: \"70000\"")
        );
        assert_eq!(
            spec("proto[ascii:127.0.0.1"),
            err("Invalid protocol spec: \"[ascii:127.0.0.1\"")
        );
        assert_eq!(
            spec("proto[proxy]:127.0.0.1"),
            err("Server not built with proxy: \"HEAD\"")
        );
        assert_eq!(
            spec("tag[toolongtag]:127.0.0.1"),
            err("Listener tags must be between 1 and 8 characters: \"toolongtag\"")
        );
        assert_eq!(
            spec("tag[]:127.0.0.1"),
            err("Listener tags must be between 1 and 8 characters: \"\"")
        );
        assert_eq!(
            spec("tag_abc:127.0.0.1"),
            err("Invalid tag in socket config: \"_abc:127.0.0.1\"")
        );
        assert_eq!(spec("[::1"), err("Invalid IPV6 address: \"[::1\""));
        // What memcached shows of the first entry in its proxy message: up to where its
        // parse first cuts the string.
        for (entry, head) in [
            ("proto[proxy]:127.0.0.1", "proto[proxy"),
            ("proto[binary]:127.0.0.1:5000", "proto[binary"),
            ("127.0.0.1:5000", "127.0.0.1"),
            // memcached looks for a `]` first, even after `tag_`.
            ("tag_ab_:[::1]:5000", "tag_ab_:[::1"),
            ("localhost", "localhost"),
        ] {
            assert_eq!(&entry[..parse_spec(entry, &c, "").1], head, "{entry}");
        }
        // -Y speaks ascii: binary listeners are refused, negotiating ones speak ascii.
        let y = config(&["-Y", "/etc/auth"]);
        assert_eq!(
            parse_spec("proto[binary]:127.0.0.1", &y, "").0,
            err("Cannot use binary protocol when ascii authentication enabled")
        );
        let negotiating = parse_spec("proto[negotiating]:127.0.0.1", &y, "")
            .0
            .unwrap();
        assert_eq!(negotiating.protocol, ascii);
        assert!(negotiating
            .warning
            .unwrap()
            .starts_with("WARNING: negotiating ports"));
        // -S authenticates binary only: an ascii listener would serve without it.
        let s = config(&["-S"]);
        assert!(parse_spec("proto[ascii]:127.0.0.1", &s, "").0.is_err());
        assert!(parse_spec("proto[negotiating]:127.0.0.1", &s, "")
            .0
            .is_err());
        assert!(parse_spec("proto[binary]:127.0.0.1", &s, "").0.is_ok());
    }

    #[test]
    fn listen_errors_print_as_memcacheds() {
        let bind = |args: &[&str]| match tcp_addrs(&config(args)) {
            Err(e) => (e.exit_code, e.message),
            Ok(_) => panic!("{args:?} accepted"),
        };
        assert_eq!(
            bind(&["-l", "notls:127.0.0.1"]),
            (
                71,
                "'notls' option is valid only when SSL is enabled\n\
                 failed to listen on one of interface(s) notls:127.0.0.1: Success"
                    .into()
            )
        );
        assert_eq!(
            bind(&[
                "-l",
                "proto[binary]:127.0.0.1:5000",
                "-l",
                "proto[proxy]:127.0.0.2"
            ]),
            (
                71,
                "Server not built with proxy: \"proto[binary\"\n\
                 failed to listen on one of interface(s) \
                 proto[binary]:127.0.0.1:5000,proto[proxy]:127.0.0.2: Success"
                    .into()
            )
        );
        assert_eq!(
            bind(&["-l", ":5000"]).1,
            "getaddrinfo(): Name or service not known\n\
             failed to listen on one of interface(s) :5000: Success"
        );
    }

    /// `-o sock_cookie_id` marks the listening sockets (SO_MARK, which needs root), and `-N`
    /// starts where the kernel reports NAPI IDs, as memcached requires.
    #[tokio::test]
    async fn listening_sockets_get_their_mark() {
        let c = config(&[
            "-p",
            "-1",
            "-l",
            "127.0.0.1",
            "-o",
            "sock_cookie_id=42",
            "-N",
            "1",
        ]);
        let endpoints = bind_endpoints(&c).unwrap();
        let Listener::Tcp(l) = &endpoints[0].listener else {
            panic!("not TCP");
        };
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            assert_eq!(socket2::SockRef::from(l).mark().unwrap(), 42);
        }
    }

    /// As memcached: `-p -1` binds a free port (each address its own), `-p 0` no TCP at all.
    #[tokio::test]
    async fn port_minus_one_binds_a_free_port_and_zero_none() {
        let c = config(&["-p", "-1", "-l", "127.0.0.1"]);
        let listeners = bind_all(&c).unwrap();
        assert_eq!(listeners.len(), 1);
        assert!(!listeners[0].local_addr_string().ends_with(":0"));
        assert!(bind_all(&config(&["-p", "0", "-l", "127.0.0.1"]))
            .unwrap()
            .is_empty());
        // UDP alone.
        let listeners = bind_all(&config(&["-p", "0", "-U", "-1", "-l", "127.0.0.1"])).unwrap();
        assert!(!listeners.is_empty());
        assert!(listeners.iter().all(|l| matches!(l, Listener::Udp(_))));
    }

    /// `MEMCACHED_PORT_FILENAME`: a line per socket, UDP once, in memcached's words.
    #[tokio::test]
    async fn the_port_file_names_every_socket_once() {
        let c = config(&["-p", "-1", "-U", "-1", "-l", "127.0.0.1", "-t", "2"]);
        let endpoints = bind_endpoints(&c).unwrap();
        let path = std::env::temp_dir().join(format!("ferrocache-ports-{}", std::process::id()));
        write_port_file(&endpoints, &path);
        let text = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].starts_with("TCP INET: ") && lines[1].starts_with("UDP INET: "));
        assert!(lines.iter().all(|l| !l.ends_with(": 0")));
    }

    #[tokio::test]
    async fn unix_socket_gets_its_mask() {
        use std::os::unix::fs::PermissionsExt;
        let path =
            std::env::temp_dir().join(format!("ferrocache-test-{}.sock", std::process::id()));
        let c = config(&["-s", path.to_str().unwrap(), "-a", "600"]);
        let listeners = bind_all(&c).unwrap();
        assert!(matches!(listeners[0], Listener::Unix(_)));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let _ = std::fs::remove_file(path);
    }
}
