//! Accepting connections and running one connection: read, parse, execute, write.

use crate::config::Protocol;
use crate::listen::{Listener, Stream};
use crate::out::Output;
use crate::session::Session;
use crate::watch::{CloseReason, Peer};
use crate::workers::Workers;
use crate::{auth, vlog, Counters, Shared};
use bytes::Bytes;
use ferrocache_storage::{Value, ValueIn};
use futures_util::task::AtomicWaker;
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::Poll;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

/// A value shares its request's buffer only if the rest of that buffer (the command line or
/// header, and the key) is at most this long, so a small value never pins a large buffer.
const SHARE_SLACK: usize = 1024;

/// What `stats conns` reports, by file descriptor.
#[derive(Default)]
pub(crate) struct Registry {
    pub entries: BTreeMap<i32, Arc<ConnEntry>>,
    /// The UDP sockets (`-U`), listed among the connections as memcached lists them.
    pub udp: BTreeMap<i32, crate::udp::UdpEntry>,
}

/// One listener or connection in `stats conns`, shared with the connection itself, which
/// keeps its figures up to date without taking the registry lock.
///
/// Why one allocation holding the address and both figures: every idle connection keeps
/// one, and its memory counts against what an idle connection costs (the addresses are
/// formatted only when `stats conns` asks).
pub(crate) struct ConnEntry {
    /// The client's address; `None` for a listener or a UNIX-domain client, whose `addr`
    /// memcached shows as the listening address.
    pub peer: Option<std::net::SocketAddr>,
    /// The listening address, in memcached's notation, shared by all its connections.
    pub listen: Arc<str>,
    pub is_listener: bool,
    /// memcached's `current_time` (whole seconds) at this connection's last command.
    pub last_cmd: AtomicU64,
    /// What the connection waits for (see [`Waiting`]).
    pub waiting: AtomicU8,
    /// Why it closed (a [`CloseReason`]), set as it ends, for `watch connevents`.
    pub close_reason: AtomicU8,
    /// The connection's task while it waits to read, woken when the server stops
    /// ([`wake_all`]).
    ///
    /// Why not a `CancellationToken::cancelled()` future per connection: each of those is a
    /// waiter in the one list all connections share behind one lock, which every poll of a
    /// waiting connection takes, and it is 72 bytes of every connection's future.
    pub stop_waker: AtomicWaker,
}

impl ConnEntry {
    /// A client connection's entry.
    pub fn new(shared: &Shared, peer: Option<std::net::SocketAddr>, listen: Arc<str>) -> Self {
        ConnEntry {
            peer,
            listen,
            is_listener: false,
            last_cmd: AtomicU64::new(shared.last_cmd_time()),
            waiting: AtomicU8::new(Waiting::Command as u8),
            close_reason: AtomicU8::new(CloseReason::Error as u8),
            stop_waker: AtomicWaker::new(),
        }
    }

    /// Ready once the server is stopping; until then, `cx`'s task is woken when it stops.
    fn poll_stopping(&self, shared: &Shared, cx: &mut std::task::Context<'_>) -> Poll<()> {
        // Registered before the check, so a stop between the two still wakes the task.
        self.stop_waker.register(cx.waker());
        if shared.stopping() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// memcached's `addr`.
    pub fn addr(&self) -> String {
        match self.peer {
            Some(peer) => tcp_addr(peer),
            None => self.listen.to_string(),
        }
    }
}

/// What a connection waits for between reads, as `stats conns` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Waiting {
    /// A command (memcached's `conn_read`).
    Command = 0,
    /// The rest of a storage command's data block (`conn_nread`).
    Data = 1,
    /// The rest of a refused command's data block, to throw away (`conn_swallow`).
    Swallow = 2,
    /// Nothing: the connection streams `watch` lines (`conn_watch`).
    Watch = 3,
}

impl Waiting {
    pub fn state_name(raw: u8) -> &'static str {
        match raw {
            1 => "conn_nread",
            2 => "conn_swallow",
            3 => "conn_watch",
            _ => "conn_read",
        }
    }
}

fn stream_fd(stream: &Stream) -> i32 {
    match stream {
        Stream::Tcp(s) => s.as_raw_fd(),
        Stream::Unix(s) => s.as_raw_fd(),
        Stream::Tls(s) => s.tcp().as_raw_fd(),
    }
}

fn listener_fd(listener: &Listener) -> i32 {
    match listener {
        Listener::Tcp(l) => l.as_raw_fd(),
        Listener::Unix(l) => l.as_raw_fd(),
        Listener::Udp(s) => s.as_raw_fd(),
    }
}

/// memcached's address notation: `tcp:1.2.3.4:5`, `tcp6:[::1]:5`, `unix:/path`.
fn listener_addr(listener: &Listener) -> String {
    match listener {
        Listener::Tcp(l) => match l.local_addr() {
            Ok(a) => tcp_addr(a),
            Err(_) => "tcp:unknown".into(),
        },
        Listener::Unix(l) => match l.local_addr() {
            Ok(a) => format!(
                "unix:{}",
                a.as_pathname()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ),
            Err(_) => "unix:unknown".into(),
        },
        Listener::Udp(s) => match s.local_addr() {
            Ok(a) => crate::udp::udp_addr(a),
            Err(_) => "udp:unknown".into(),
        },
    }
}

fn tcp_addr(a: std::net::SocketAddr) -> String {
    match a {
        std::net::SocketAddr::V4(a) => format!("tcp:{a}"),
        std::net::SocketAddr::V6(a) => format!("tcp6:{a}"),
    }
}

fn peer_addr(stream: &Stream) -> Option<std::net::SocketAddr> {
    match stream {
        Stream::Tcp(s) => s.peer_addr().ok(),
        Stream::Unix(_) => None,
        Stream::Tls(s) => s.tcp().peer_addr().ok(),
    }
}

pub(crate) fn register_listener(shared: &Shared, listener: &Listener, protocol: Protocol) {
    if vlog::on(shared) {
        let name = match protocol {
            Protocol::Auto => "auto-negotiate",
            Protocol::Ascii => "ascii",
            Protocol::Binary => "binary",
        };
        let text = format!("server listening ({name})");
        vlog::line('<', listener_fd(listener), text.as_bytes());
    }
    let entry = ConnEntry {
        peer: None,
        listen: listener_addr(listener).into(),
        is_listener: true,
        last_cmd: AtomicU64::new(shared.last_cmd_time()),
        waiting: AtomicU8::default(),
        close_reason: AtomicU8::new(CloseReason::Error as u8),
        stop_waker: AtomicWaker::new(),
    };
    lock(shared)
        .entries
        .insert(listener_fd(listener), Arc::new(entry));
}

/// Wakes every connection waiting to read, so that it sees the server is stopping. Called
/// once the stop token is cancelled.
pub(crate) fn wake_all(shared: &Shared) {
    for entry in lock(shared).entries.values() {
        entry.stop_waker.wake();
    }
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Registry> {
    // The registry holds plain data; a panic elsewhere cannot leave it inconsistent.
    shared.conns.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) async fn accept_loop(
    listener: Arc<Listener>,
    protocol: Protocol,
    tls: crate::tls::TlsMode,
    shared: Arc<Shared>,
    slots: Arc<Semaphore>,
    tracker: TaskTracker,
    workers: Arc<Workers>,
) {
    let listen_addr: Arc<str> = listener_addr(&listener).into();
    loop {
        let accepted = tokio::select! {
            _ = shared.stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let mut stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                // Out of file descriptors and similar: memcached keeps going too, after a
                // pause it counts as listening disabled.
                tracing::warn!("accept failed: {e}");
                let paused = std::time::Instant::now();
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                let c = &shared.counters;
                Counters::add(&c.listen_disabled_num, 1);
                Counters::add(
                    &c.time_in_listen_disabled_us,
                    paused.elapsed().as_micros() as u64,
                );
                continue;
            }
        };
        Counters::add(&shared.counters.total_connections, 1);
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            Counters::add(&shared.counters.rejected_connections, 1);
            tracker.spawn(async move {
                let _ = stream
                    .write_all(b"ERROR Too many open connections\r\n")
                    .await;
                let _ = stream.shutdown().await;
            });
            continue;
        };
        // The connection moves to a worker thread's runtime: out of this one's reactor, into
        // the worker's, registered from here (in that runtime's context) so that the task
        // the worker runs holds only what serving needs.
        let worker = workers.next();
        let stream = match stream.into_std().and_then(|s| {
            let _in_worker = worker.enter();
            Stream::from_std(s)
        }) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("could not hand a connection to a worker: {e}");
                continue;
            }
        };
        let fd = stream_fd(&stream);
        if vlog::on(&shared) {
            let text: &[u8] = match protocol {
                Protocol::Auto => b"new auto-negotiating client connection",
                Protocol::Ascii => b"new ascii client connection.",
                Protocol::Binary => b"new binary client connection.",
            };
            vlog::line('<', fd, text);
        }
        let peer = peer_addr(&stream);
        let log_peer = peer.map_or(Peer::Local, Peer::Tcp);
        shared.logger.conn_new(log_peer, fd);
        let entry = Arc::new(ConnEntry::new(&shared, peer, listen_addr.clone()));
        lock(&shared).entries.insert(fd, entry.clone());
        let open = shared
            .counters
            .curr_connections
            .fetch_add(1, Ordering::Relaxed)
            + 1;
        shared
            .counters
            .peak_connections
            .fetch_max(open + shared.listeners as u64, Ordering::Relaxed);
        let shared = shared.clone();
        let mut stream = stream;
        let connection = async move {
            // TLS, where the listener speaks it, starts here: on the worker, with the
            // connection already counted, as memcached counts one in its handshake. Boxed:
            // a handshake's state is large, and every connection's future would otherwise
            // carry room for it.
            let result = match &shared.tls {
                Some(_) => {
                    let (shared, entry) = (&shared, &entry);
                    Box::pin(async move {
                        let mut stream = crate::tls::start(stream, tls, shared, fd).await?;
                        let served = serve(&mut stream, shared, fd, entry, protocol).await;
                        // However it ends (idle_timeout, a stop, the client's EOF, an
                        // error), a TLS connection closes with close_notify, as memcached's
                        // close calls SSL_shutdown.
                        if let Stream::Tls(_) = stream {
                            shutdown_once(&mut stream).await;
                        }
                        served
                    })
                    .await
                }
                None => serve(&mut stream, &shared, fd, &entry, protocol).await,
            };
            shared
                .counters
                .curr_connections
                .fetch_sub(1, Ordering::Relaxed);
            lock(&shared).entries.remove(&fd);
            // A dump it had not streamed yet stops (see `crawler`).
            crate::crawler::forget(&shared, fd);
            if let Err(e) = result {
                tracing::debug!(fd, "connection ended: {e}");
            }
            let reason = CloseReason::from_u8(entry.close_reason.load(Ordering::Relaxed));
            shared.logger.conn_close(log_peer, fd, reason);
            if vlog::on(&shared) {
                vlog::line('<', fd, b"connection closed.");
            }
            drop(permit);
        };
        tracker.spawn_on(connection, worker);
    }
}

/// What the connection does after a request.
pub(crate) enum Next {
    Continue,
    /// Write what is pending, then close.
    Close,
    /// `watch` added the watcher in this slot of the logger: the connection now only
    /// streams its log lines (what else the client sent is ignored, as memcached does).
    Watch(u8),
    /// `lru_crawler metadump|mgdump` started a dump, which waits in `Shared::dumps` for the
    /// connection to stream it before it runs its next request (see `crawler`).
    Dump,
}

/// Per-connection state that request handlers see.
pub(crate) struct ConnCtx<'a> {
    pub shared: &'a Shared,
    pub fd: i32,
    pub out: Output,
    /// `-S`: where this connection is in the SASL exchange.
    pub sasl: auth::SaslState,
    /// The buffer the request being run was read into, when that request had it to itself
    /// (see [`crate::session::OWN_BUFFER_THRESHOLD`]): its value can then be kept without a copy.
    /// Boxed: set only around one large request, and every connection's future holds a
    /// `ConnCtx` (one word instead of four).
    pub backing: Option<Box<Bytes>>,
    /// Why the connection closes if a request closes it (`quit`, `shutdown`, or an error),
    /// for `watch connevents`.
    pub close_reason: CloseReason,
}

impl<'a> ConnCtx<'a> {
    /// A fresh connection's context: nothing pending, no SASL exchange begun.
    pub fn new(shared: &'a Shared, fd: i32) -> Self {
        ConnCtx {
            shared,
            fd,
            out: Output::default(),
            sasl: auth::SaslState::default(),
            backing: None,
            close_reason: CloseReason::Error,
        }
    }

    /// A request's value as the store takes it: shared with the read buffer when the request
    /// has that buffer to itself and the value is nearly all of it, otherwise to be copied.
    pub fn value_in<'v>(&self, value: &'v [u8]) -> ValueIn<'v> {
        if let Some(whole) = &self.backing {
            let inside = whole.as_ptr_range();
            let part = value.as_ptr_range();
            if inside.start <= part.start
                && part.end <= inside.end
                && whole.len() - value.len() <= SHARE_SLACK
            {
                #[cfg(test)]
                tests::SHARED_VALUES.with(|n| n.set(n.get() + 1));
                return ValueIn::Owned(Value::from(whole.slice_ref(value)));
            }
        }
        ValueIn::Slice(value)
    }
}

/// Serves one connection, speaking `protocol` (its listener's: `-B`, or a `-l proto[...]`):
/// the I/O around its [`Session`].
#[allow(clippy::manual_async_fn)] // on purpose: see the comment in the body
fn serve<'a>(
    stream: &'a mut Stream,
    shared: &'a Shared,
    fd: i32,
    entry: &'a ConnEntry,
    protocol: Protocol,
) -> impl std::future::Future<Output = std::io::Result<()>> + 'a {
    // An `async` block rather than an `async fn`: an `async fn` keeps its arguments, and a
    // moved copy of each, in its future for its whole life; a block uses what it captured in
    // place. Every connection, idle or not, carries this future.
    async move {
        let mut session = Session::new(shared, fd, &entry.last_cmd, protocol);
        loop {
            // Handle the complete requests already buffered, then write all replies at once.
            // After `-R` requests the connection yields to the others, as memcached does.
            let pass = session.run();
            if session.replies_ready() {
                session.count_replies();
                let n = session.ctx.out.flush(stream).await?;
                session.replies_written();
                Counters::add(&shared.counters.mine().bytes_written, n as u64);
            }
            if pass.dump {
                // The replies before the dump are written; the requests after it wait.
                if !Box::pin(crate::crawler::stream(stream, fd, shared)).await? {
                    let _ = stream.shutdown().await;
                    return Ok(());
                }
                continue;
            }
            if pass.close {
                let reason = session.ctx.close_reason as u8;
                entry.close_reason.store(reason, Ordering::Relaxed);
                let _ = stream.shutdown().await;
                return Ok(());
            }
            if let Some(slot) = pass.watch {
                let slot = usize::from(slot);
                entry.waiting.store(Waiting::Watch as u8, Ordering::Relaxed);
                // Boxed: every connection's future would otherwise carry room for it.
                if let Some(watcher) = shared.logger.watcher(slot) {
                    let logger = &shared.logger;
                    let client_gone = Box::pin(crate::watch::serve_watcher(
                        stream,
                        logger,
                        slot,
                        watcher,
                        &shared.stop,
                    ))
                    .await;
                    // memcached's logger thread hands a watcher whose client went back to
                    // its worker to close, and says so at -vv.
                    if client_gone && vlog::on(shared) {
                        vlog::line('<', fd, b"connection closing from side thread.");
                    }
                }
                return Ok(());
            }
            if pass.memory_wait {
                // The request at the front needs a buffer of its own and requests still
                // arriving hold all the memory they may: read nothing more (the client sees
                // TCP flow control) until some is given back, then run again.
                if shared.stopping() {
                    return Ok(());
                }
                let freed = shared.inflight_freed.notified();
                let mut freed = Box::pin(freed);
                // Registered before the check, so that room given back between the two
                // still wakes this connection.
                freed.as_mut().enable();
                if !session.room_available() {
                    tokio::select! {
                        biased;
                        _ = std::future::poll_fn(|cx| entry.poll_stopping(shared, cx)) => {}
                        _ = freed => {}
                    }
                }
                continue;
            }
            if pass.yielded {
                // More requests are buffered: let other connections run, then go on.
                tokio::task::yield_now().await;
                continue;
            }
            if entry.waiting.load(Ordering::Relaxed) != pass.waiting as u8 {
                entry.waiting.store(pass.waiting as u8, Ordering::Relaxed);
            }
            let idle = session.idle();
            let n = if shared.stopping() {
                // Shutting down: an idle connection closes now; one in the middle of a request
                // gets until the stop deadline (`-o shutdown_grace_ms`) to finish sending it.
                if idle {
                    return Ok(());
                }
                // Boxed, here and below: a timer is large, and every connection's future would
                // otherwise carry room for one for its whole life.
                let read = read_more(stream, &mut session, None);
                match Box::pin(tokio::time::timeout_at(shared.stop_deadline(), read)).await {
                    Ok(n) => n?.unwrap_or(0),
                    Err(_) => return Ok(()),
                }
            } else {
                // A stop ends the wait (`None`): the loop then closes the connection if it is
                // idle, or gives it until the deadline.
                let watch = Some((entry, shared));
                let read = match shared.config.idle_timeout {
                    // memcached's idle_timeout: a connection that sends nothing for that long
                    // is closed.
                    secs if secs > 0 && idle => {
                        let limit = std::time::Duration::from_secs(secs);
                        let read = read_more(stream, &mut session, watch);
                        match Box::pin(tokio::time::timeout(limit, read)).await {
                            Ok(read) => read?,
                            Err(_) => {
                                idle_kick(shared, fd);
                                let reason = CloseReason::IdleTimeout as u8;
                                entry.close_reason.store(reason, Ordering::Relaxed);
                                return Ok(());
                            }
                        }
                    }
                    _ => read_more(stream, &mut session, watch).await?,
                };
                match read {
                    Some(n) => n,
                    None => continue,
                }
            };
            if n == 0 {
                let reason = CloseReason::Normal as u8;
                entry.close_reason.store(reason, Ordering::Relaxed);
                return Ok(());
            }
            Counters::add(&shared.counters.mine().bytes_read, n as u64);
        }
    }
}

/// memcached's idle_timeout closing a connection: counted in `idle_kicks`, and logged at
/// `-vv`. Also for a TLS handshake that goes quiet (see `tls::start`).
pub(crate) fn idle_kick(shared: &Shared, fd: i32) {
    Counters::add(&shared.counters.idle_kicks, 1);
    if vlog::on(shared) {
        vlog::write(format!("Closing idle fd {fd}\n").as_bytes());
    }
}

/// Ends the sending side in one attempt, without waiting, as memcached's close does with
/// its non-blocking `SSL_shutdown`: over TLS that sends the close_notify alert (then a FIN),
/// if the socket takes it now. Called on every TLS connection as it closes.
///
/// Why a TLS connection closed by the server must send close_notify: its client otherwise
/// reads a bare EOF, which OpenSSL treats as a fatal error and answers with an alert of
/// its own, written to a socket the server has closed; a client that does not ignore
/// SIGPIPE (Perl's IO::Socket::SSL, as memcached's t/idle-timeout.t uses it) is killed.
/// One attempt only: a client that reads nothing must not hold the connection open.
async fn shutdown_once(stream: &mut Stream) {
    std::future::poll_fn(|cx| {
        let _ = std::pin::Pin::new(&mut *stream).poll_shutdown(cx);
        Poll::Ready(())
    })
    .await
}

/// Reads what the client sent next into the session's buffer; `None` once the server
/// stops, if `watch` (the connection's entry) is given. A session with nothing buffered
/// gives its buffer back and waits for the socket to become readable before it borrows one
/// (see `bufpool`): an idle connection holds no buffer.
///
/// One poll function waits for both the socket and the stop, rather than a `select!` of two
/// futures: every connection's future keeps room for this wait for its whole life.
#[allow(clippy::manual_async_fn)] // an `async` block: see `serve`
fn read_more<'a, 's>(
    stream: &'a mut Stream,
    session: &'a mut Session<'s>,
    watch: Option<(&'a ConnEntry, &'a Shared)>,
) -> impl std::future::Future<Output = std::io::Result<Option<usize>>> + use<'a, 's> {
    async move {
        let stopping = |cx: &mut std::task::Context<'_>| match watch {
            Some((entry, shared)) => entry.poll_stopping(shared, cx).is_ready(),
            None => false,
        };
        if let Stream::Tls(_) = stream {
            // rustls holds decrypted bytes that the socket's readiness does not show, so a TLS
            // connection reads through it, and keeps its buffer while it waits.
            session.make_room();
            let buf = &mut session.buf;
            return std::future::poll_fn(|cx| {
                if stopping(cx) {
                    return Poll::Ready(Ok(None));
                }
                tokio_util::io::poll_read_buf(std::pin::Pin::new(&mut *stream), cx, buf)
                    .map_ok(Some)
            })
            .await;
        }
        let empty = session.buf.is_empty();
        if empty {
            session.release_buffer();
            session.ctx.out.release();
        }
        loop {
            let ready = std::future::poll_fn(|cx| {
                if stopping(cx) {
                    return Poll::Ready(Ok(false));
                }
                stream.poll_read_ready(cx).map_ok(|()| true)
            })
            .await?;
            if !ready {
                return Ok(None);
            }
            session.make_room();
            match stream.try_read_buf(&mut session.buf) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if empty {
                        session.release_buffer();
                    }
                }
                read => return read.map(Some),
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ferrocache_protocol::binary::{encode_request, opcode};
    use std::cell::Cell;
    use std::thread::LocalKey;
    use std::time::Duration;
    use tokio::io::AsyncReadExt;

    thread_local! {
        /// Values `value_in` handed to the store without a copy, on this thread.
        pub(crate) static SHARED_VALUES: Cell<usize> = const { Cell::new(0) };
        /// Buffers `make_room` sized for one request, on this thread.
        pub(crate) static OWN_BUFFERS: Cell<usize> = const { Cell::new(0) };
    }

    fn count(counter: &'static LocalKey<Cell<usize>>) -> usize {
        counter.with(Cell::get)
    }

    /// Runs `serve` on one end of a socket pair, on this thread. The client sends the first
    /// `split` bytes of `request`, pauses so that the server reads them alone, sends the
    /// rest, reads a reply of `reply_len` bytes and hangs up.
    async fn exchange(shared: &Shared, request: &[u8], split: usize, reply_len: usize) -> Vec<u8> {
        let (mut client, server) = tokio::net::UnixStream::pair().unwrap();
        let entry = ConnEntry::new(shared, None, "test".into());
        let mut server = Stream::Unix(server);
        let talk = async move {
            client.write_all(&request[..split]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            client.write_all(&request[split..]).await.unwrap();
            let mut reply = vec![0; reply_len];
            client.read_exact(&mut reply).await.unwrap();
            reply
        };
        let serving = serve(&mut server, shared, -1, &entry, shared.config.protocol);
        let (served, reply) = tokio::join!(serving, talk);
        served.unwrap();
        reply
    }

    /// A connection waiting for its next request holds no buffer: once its reply is sent,
    /// its read and write buffers are back in the thread's pools, and the next request
    /// borrows them again.
    #[tokio::test]
    async fn an_idle_connection_gives_its_buffers_back() {
        use crate::bufpool::{READ, WRITE};
        let shared = Shared::new(Arc::new(crate::Config::default()), None, None, 0);
        let (mut client, server) = tokio::net::UnixStream::pair().unwrap();
        let entry = ConnEntry::new(&shared, None, "test".into());
        let mut server = Stream::Unix(server);
        let serving = serve(&mut server, &shared, -1, &entry, Protocol::Auto);
        let talk = async {
            for round in 0..3 {
                let (read_before, write_before) = (READ.pooled(), WRITE.pooled());
                client
                    .write_all(b"set k 0 0 2\r\nhi\r\nget k\r\n")
                    .await
                    .unwrap();
                let mut reply = [0u8; 30];
                client.read_exact(&mut reply).await.unwrap();
                assert_eq!(&reply, b"STORED\r\nVALUE k 0 2\r\nhi\r\nEND\r\n");
                // Let the connection go back to waiting.
                tokio::time::sleep(Duration::from_millis(20)).await;
                let back = (READ.pooled(), WRITE.pooled());
                if round == 0 {
                    assert_eq!(back, (read_before + 1, write_before + 1), "first request");
                } else {
                    assert_eq!(back, (read_before, write_before), "round {round}");
                }
            }
            drop(client);
        };
        let (served, ()) = tokio::join!(serving, talk);
        served.unwrap();
    }

    /// What every connection, idle or not, keeps allocated: its task holds `serve`'s future.
    /// 1 KiB of `IoSlice`s held across an `.await`, a `select!` per read and an `async fn`'s
    /// copies of its arguments once made it 1,576 bytes (debug build); bench-conns.sh measures
    /// what a connection costs in all.
    #[tokio::test]
    async fn a_connections_future_stays_small() {
        let shared = Shared::new(Arc::new(crate::Config::default()), None, None, 0);
        let (_client, server) = tokio::net::UnixStream::pair().unwrap();
        let entry = ConnEntry::new(&shared, None, "test".into());
        let mut stream = Stream::Unix(server);
        let serving = serve(&mut stream, &shared, -1, &entry, Protocol::Auto);
        let size = std::mem::size_of_val(&serving);
        eprintln!("serve's future: {size} bytes");
        assert!(size <= 320, "serve's future is {size} bytes");
    }

    /// A large set in any protocol, whose header arrives before its value, gets one buffer
    /// of its own size (not one per read) and the store keeps that buffer as the value; a
    /// small set gets neither.
    #[tokio::test]
    async fn a_large_value_is_kept_in_the_buffer_it_arrived_in() {
        let shared = Shared::new(Arc::new(crate::Config::default()), None, None, 0);
        let value: Vec<u8> = (0..400_000u32).map(|i| (i % 251) as u8).collect();
        let with_value = |head: &[u8], tail: &[u8]| [head, &value[..], tail].concat();
        let cases = [
            (
                "text",
                with_value(b"set t 7 0 400000\r\n", b"\r\n"),
                18,
                &b"STORED\r\n"[..],
                &b"t"[..],
            ),
            (
                "meta",
                with_value(b"ms m 400000 F7\r\n", b"\r\n"),
                16,
                b"HD\r\n",
                b"m",
            ),
            (
                "binary",
                encode_request(opcode::SET, 0, 0, &[0, 0, 0, 7, 0, 0, 0, 0], b"b", &value),
                24 + 8 + 1,
                &[0x81, opcode::SET, 0, 0, 0, 0, 0, 0][..],
                b"b",
            ),
        ];
        for (name, request, split, reply_start, key) in cases {
            let (shared_before, own_before) = (count(&SHARED_VALUES), count(&OWN_BUFFERS));
            let reply_len = if name == "binary" {
                24
            } else {
                reply_start.len()
            };
            let reply = exchange(&shared, &request, split, reply_len).await;
            assert!(reply.starts_with(reply_start), "{name}: {reply:?}");
            assert_eq!(count(&OWN_BUFFERS) - own_before, 1, "{name}: own buffers");
            assert_eq!(
                count(&SHARED_VALUES) - shared_before,
                1,
                "{name}: shared values"
            );
            let stored = shared.store.get(key).expect("stored");
            assert_eq!((&stored.value[..], stored.flags), (&value[..], 7), "{name}");
        }
        let (shared_before, own_before) = (count(&SHARED_VALUES), count(&OWN_BUFFERS));
        let reply = exchange(&shared, b"set s 0 0 5\r\nhello\r\n", 5, 8).await;
        assert_eq!(reply, b"STORED\r\n");
        assert_eq!(count(&OWN_BUFFERS), own_before);
        assert_eq!(count(&SHARED_VALUES), shared_before);
    }

    /// With the request's buffer as backing, a value that is nearly all of it is shared,
    /// including one that ends at its last byte (as a binary value does); a small value in a
    /// large buffer, or bytes from elsewhere, are copied.
    #[test]
    fn value_in_shares_only_a_value_that_fills_the_backing_buffer() {
        let shared = Shared::new(Arc::new(crate::Config::default()), None, None, 0);
        let mut ctx = ConnCtx::new(&shared, -1);
        // A header one byte short of the slack, then the value.
        let head = SHARE_SLACK - 1;
        let mut request = vec![b' '; head];
        request.extend_from_slice(&[b'v'; 10_000]);
        let whole = Bytes::from(request);
        let to_the_end = &whole[head..];
        let short_of_the_end = &whole[head..whole.len() - 1];
        let too_small = &whole[head..head + 600];
        let elsewhere = vec![b'v'; 10_000];
        assert!(matches!(ctx.value_in(to_the_end), ValueIn::Slice(_)));
        ctx.backing = Some(Box::new(whole.clone()));
        for (value, want_shared) in [
            (to_the_end, true),
            (short_of_the_end, true),
            (too_small, false),
            (&elsewhere[..], false),
        ] {
            match ctx.value_in(value) {
                ValueIn::Owned(v) => {
                    assert!(want_shared, "{} B shared", value.len());
                    assert_eq!((v.as_ptr(), v.len()), (value.as_ptr(), value.len()));
                }
                ValueIn::Slice(_) => assert!(!want_shared, "{} B copied", value.len()),
            }
        }
    }
}
