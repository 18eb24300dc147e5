//! Listening sockets, made with socket2 so that SO_REUSEADDR and the listen backlog (`-b`)
//! are set as memcached sets them; accepted TCP connections get TCP_NODELAY. With `-U`, UDP
//! sockets are bound on the same interfaces as TCP.

use crate::Config;
use socket2::{Domain, Protocol as SockProtocol, SockAddr, Socket, Type};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

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
}

/// An accepted connection between runtimes: registered with none, in non-blocking mode.
pub enum StdStream {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

impl Stream {
    /// Takes the connection out of the current runtime's reactor.
    pub fn into_std(self) -> io::Result<StdStream> {
        Ok(match self {
            Stream::Tcp(s) => StdStream::Tcp(s.into_std()?),
            Stream::Unix(s) => StdStream::Unix(s.into_std()?),
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

/// The TCP addresses that `-l` and `-p` name.
fn tcp_addrs(config: &Config) -> io::Result<Vec<SocketAddr>> {
    addrs(config, config.port)
}

/// The UDP addresses that `-l` and `-U` name: memcached binds UDP on the same interfaces as
/// TCP, and an `-l <addr>:<port>` entry's port applies to both.
fn udp_addrs(config: &Config) -> io::Result<Vec<SocketAddr>> {
    addrs(config, config.udp_port)
}

/// The addresses `-l` names, with `port` where an entry gives none.
fn addrs(config: &Config, port: u16) -> io::Result<Vec<SocketAddr>> {
    if config.listen.is_empty() {
        // All interfaces, IPv4 and (where the machine has it) IPv6, like memcached.
        return Ok(vec![
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port),
        ]);
    }
    let mut addrs = Vec::new();
    for entry in &config.listen {
        if let Ok(addr) = entry.parse::<SocketAddr>() {
            addrs.push(addr);
        } else if let Ok(ip) = entry.trim_matches(['[', ']']).parse::<IpAddr>() {
            addrs.push(SocketAddr::new(ip, port));
        } else {
            // A host name, possibly with :port.
            let resolved: Vec<SocketAddr> = if entry.contains(':') {
                entry.to_socket_addrs()?.collect()
            } else {
                (entry.as_str(), port).to_socket_addrs()?.collect()
            };
            addrs.extend(resolved);
        }
    }
    addrs.dedup();
    Ok(addrs)
}

fn bind_tcp(addr: SocketAddr, backlog: i32) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM,
        Some(SockProtocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        // Keep IPv6 sockets to IPv6, so "all interfaces" can bind both families.
        socket.set_only_v6(true)?;
    }
    socket.bind(&SockAddr::from(addr))?;
    socket.listen(backlog)?;
    socket.set_nonblocking(true)?;
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

/// Binds every listener the configuration names: TCP, then (with `-U`) UDP, or the UNIX
/// socket alone. Must run inside a tokio runtime.
pub fn bind_all(config: &Config) -> io::Result<Vec<Listener>> {
    if let Some(path) = &config.unix_socket {
        // memcached removes a stale socket file and serves only the UNIX socket.
        let _ = std::fs::remove_file(path);
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        let old_umask = unsafe_umask(!config.unix_mask & 0o777);
        let bound = socket.bind(&SockAddr::unix(path)?);
        unsafe_umask(old_umask);
        bound?;
        socket.listen(config.backlog)?;
        socket.set_nonblocking(true)?;
        let std_listener: std::os::unix::net::UnixListener = socket.into();
        return Ok(vec![Listener::Unix(tokio::net::UnixListener::from_std(
            std_listener,
        )?)]);
    }
    let all_interfaces = config.listen.is_empty();
    let mut listeners = Vec::new();
    let mut port = config.port;
    for mut addr in tcp_addrs(config)? {
        // With port 0, every listener shares the port the first one was given.
        if addr.port() == 0 && port != 0 {
            addr.set_port(port);
        }
        match bind_tcp(addr, config.backlog) {
            Ok(l) => {
                if port == 0 {
                    port = l.local_addr()?.port();
                }
                listeners.push(Listener::Tcp(tokio::net::TcpListener::from_std(l)?));
            }
            // A machine without IPv6 still serves IPv4 on "all interfaces".
            Err(e) if all_interfaces && addr.is_ipv6() && !listeners.is_empty() => {
                tracing::debug!("not listening on {addr}: {e}");
            }
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("failed to listen on TCP port {}: {e}", addr.port()),
                ))
            }
        }
    }
    if config.udp_port != 0 {
        let tcp_count = listeners.len();
        for addr in udp_addrs(config)? {
            match bind_udp(addr) {
                Ok(s) => {
                    // A descriptor per worker thread that serves the socket, made at once as
                    // memcached makes them (so `stats conns` lists them in its order).
                    let dups = (1..config.num_threads_per_udp())
                        .map(|_| s.try_clone())
                        .collect::<io::Result<Vec<_>>>()?;
                    listeners.push(Listener::Udp(s));
                    listeners.extend(dups.into_iter().map(Listener::Udp));
                }
                // As for TCP: a machine without IPv6 still serves IPv4 on "all interfaces".
                Err(e) if all_interfaces && addr.is_ipv6() && listeners.len() > tcp_count => {
                    tracing::debug!("not listening on UDP {addr}: {e}");
                }
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("failed to listen on UDP port {}: {e}", addr.port()),
                    ))
                }
            }
        }
    }
    Ok(listeners)
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
        Ok(addrs) => !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()),
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
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
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
        let addrs = tcp_addrs(&c).unwrap();
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
        let c = config(&["-p", "5000", "-U", "7000", "-l", "127.0.0.1,[::1]:6000"]);
        assert_eq!(
            udp_addrs(&c).unwrap(),
            vec![
                "127.0.0.1:7000".parse().unwrap(),
                "[::1]:6000".parse().unwrap()
            ]
        );
        let all = udp_addrs(&config(&["-U", "7000"])).unwrap();
        assert_eq!(all.len(), 2);
        assert!(all
            .iter()
            .all(|a| a.ip().is_unspecified() && a.port() == 7000));
    }

    #[tokio::test]
    async fn udp_is_bound_only_with_a_port() {
        let c = config(&["-p", "0", "-l", "127.0.0.1"]);
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
            "0",
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

    #[tokio::test]
    async fn port_zero_binds_a_free_port() {
        let c = config(&["-p", "0", "-l", "127.0.0.1"]);
        let listeners = bind_all(&c).unwrap();
        assert_eq!(listeners.len(), 1);
        assert!(!listeners[0].local_addr_string().ends_with(":0"));
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
