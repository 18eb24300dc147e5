//! Accepting connections and running one connection: read, parse, execute, write.

use crate::config::Protocol;
use crate::listen::{Listener, Stream};
use crate::out::Output;
use crate::session::Session;
use crate::workers::Workers;
use crate::{auth, vlog, Counters, Shared};
use bytes::Bytes;
use ferrocache_storage::{Value, ValueIn};
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

/// A value shares its request's buffer only if the rest of that buffer (the command line or
/// header, and the key) is at most this long, so a small value never pins a large buffer.
const SHARE_SLACK: usize = 1024;

/// On shutdown, how long a connection may take to finish sending a request it has begun.
const DRAIN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// What `stats conns` reports, by file descriptor.
#[derive(Default)]
pub(crate) struct Registry {
    pub entries: BTreeMap<i32, ConnEntry>,
    /// The UDP sockets (`-U`), listed among the connections as memcached lists them.
    pub udp: BTreeMap<i32, crate::udp::UdpEntry>,
}

pub(crate) struct ConnEntry {
    pub addr: String,
    /// `None` for a listening socket.
    pub listen_addr: Option<String>,
    /// memcached's `current_time` (whole seconds) at this connection's last command. Each
    /// connection updates its own copy without taking the registry lock.
    pub last_cmd: Arc<AtomicU64>,
    /// What the connection waits for (see [`Waiting`]), kept by the connection likewise.
    pub waiting: Arc<AtomicU8>,
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
}

impl Waiting {
    pub fn state_name(raw: u8) -> &'static str {
        match raw {
            1 => "conn_nread",
            2 => "conn_swallow",
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

fn peer_addr(stream: &Stream, listen: &str) -> String {
    match stream {
        Stream::Tcp(s) => s.peer_addr().map(tcp_addr).unwrap_or_default(),
        Stream::Unix(_) => listen.to_string(),
        Stream::Tls(s) => s.tcp().peer_addr().map(tcp_addr).unwrap_or_default(),
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
        addr: listener_addr(listener),
        listen_addr: None,
        last_cmd: Arc::new(AtomicU64::new(shared.last_cmd_time())),
        waiting: Arc::default(),
    };
    lock(shared).entries.insert(listener_fd(listener), entry);
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
    let listen_addr = listener_addr(&listener);
    loop {
        let accepted = tokio::select! {
            _ = shared.stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let mut stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                // Out of file descriptors and similar: memcached keeps going too.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
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
        // the worker's when its task first runs there.
        let stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("could not hand a connection to a worker: {e}");
                continue;
            }
        };
        let shared = shared.clone();
        let listen_addr = listen_addr.clone();
        let connection = async move {
            let stream = match Stream::from_std(stream) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("a worker could not take a connection: {e}");
                    return;
                }
            };
            let fd = stream_fd(&stream);
            let addr = peer_addr(&stream, &listen_addr);
            if vlog::on(&shared) {
                let text: &[u8] = match protocol {
                    Protocol::Auto => b"new auto-negotiating client connection",
                    Protocol::Ascii => b"new ascii client connection.",
                    Protocol::Binary => b"new binary client connection.",
                };
                vlog::line('<', fd, text);
            }
            let last_cmd = Arc::new(AtomicU64::new(shared.last_cmd_time()));
            let waiting = Arc::new(AtomicU8::new(Waiting::Command as u8));
            lock(&shared).entries.insert(
                fd,
                ConnEntry {
                    addr,
                    listen_addr: Some(listen_addr),
                    last_cmd: last_cmd.clone(),
                    waiting: waiting.clone(),
                },
            );
            Counters::add(&shared.counters.curr_connections, 1);
            // TLS, where the listener speaks it, starts here: on the worker, with the
            // connection already counted, as memcached counts one in its handshake.
            let result = match crate::tls::start(stream, tls, &shared).await {
                Ok(stream) => serve(stream, &shared, fd, &last_cmd, &waiting, protocol).await,
                Err(e) => Err(e),
            };
            shared
                .counters
                .curr_connections
                .fetch_sub(1, Ordering::Relaxed);
            lock(&shared).entries.remove(&fd);
            if let Err(e) = result {
                tracing::debug!(fd, "connection ended: {e}");
            }
            if vlog::on(&shared) {
                vlog::line('<', fd, b"connection closed.");
            }
            drop(permit);
        };
        tracker.spawn_on(connection, workers.next());
    }
}

/// What the connection does after a request.
pub(crate) enum Next {
    Continue,
    /// Write what is pending, then close.
    Close,
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
    pub backing: Option<Bytes>,
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
async fn serve(
    mut stream: Stream,
    shared: &Shared,
    fd: i32,
    last_cmd: &AtomicU64,
    waiting: &AtomicU8,
    protocol: Protocol,
) -> std::io::Result<()> {
    let mut session = Session::new(shared, fd, last_cmd, protocol);
    let idle_timeout = match shared.config.idle_timeout {
        0 => None,
        secs => Some(std::time::Duration::from_secs(secs)),
    };
    // One wait for shutdown for the connection's whole life, polled beside every read. Why
    // not a fresh `cancelled()` per read: each one registers with, and then leaves, the
    // token's waiter list, which all connections share behind one lock: two lock round
    // trips per request otherwise.
    let stopping = shared.stop.cancelled();
    tokio::pin!(stopping);
    loop {
        // Handle the complete requests already buffered, then write all replies at once.
        // After `-R` requests the connection yields to the others, as memcached does.
        let pass = session.run();
        if session.replies_ready() {
            let n = session.ctx.out.flush(&mut stream).await?;
            Counters::add(&shared.counters.bytes_written, n as u64);
        }
        if pass.close {
            let _ = stream.shutdown().await;
            return Ok(());
        }
        if pass.yielded {
            // More requests are buffered: let other connections run, then go on.
            tokio::task::yield_now().await;
            continue;
        }
        session.make_room();
        if waiting.load(Ordering::Relaxed) != pass.waiting as u8 {
            waiting.store(pass.waiting as u8, Ordering::Relaxed);
        }
        let idle = session.idle();
        let buf = &mut session.buf;
        let n = if shared.stop.is_cancelled() {
            // Shutting down: an idle connection closes now; one in the middle of a request
            // gets a few seconds to finish sending it, and its reply, before it closes.
            if idle {
                return Ok(());
            }
            match tokio::time::timeout(DRAIN_GRACE, stream.read_buf(buf)).await {
                Ok(n) => n?,
                Err(_) => return Ok(()),
            }
        } else {
            let read = async {
                match idle_timeout {
                    // memcached's idle_timeout: a connection that sends nothing for that
                    // long is closed.
                    Some(limit) if idle => {
                        match tokio::time::timeout(limit, stream.read_buf(buf)).await {
                            Ok(read) => read,
                            Err(_) => {
                                Counters::add(&shared.counters.idle_kicks, 1);
                                if vlog::on(shared) {
                                    vlog::write(format!("Closing idle fd {fd}\n").as_bytes());
                                }
                                Ok(0)
                            }
                        }
                    }
                    _ => stream.read_buf(buf).await,
                }
            };
            // `biased`: poll in this order rather than draw a random one per read.
            tokio::select! {
                biased;
                _ = &mut stopping => continue,
                n = read => n?,
            }
        };
        if n == 0 {
            return Ok(());
        }
        Counters::add(&shared.counters.bytes_read, n as u64);
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
        let last_cmd = AtomicU64::new(0);
        let waiting = AtomicU8::new(0);
        let talk = async move {
            client.write_all(&request[..split]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            client.write_all(&request[split..]).await.unwrap();
            let mut reply = vec![0; reply_len];
            client.read_exact(&mut reply).await.unwrap();
            reply
        };
        let serving = serve(
            Stream::Unix(server),
            shared,
            -1,
            &last_cmd,
            &waiting,
            shared.config.protocol,
        );
        let (served, reply) = tokio::join!(serving, talk);
        served.unwrap();
        reply
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
        ctx.backing = Some(whole.clone());
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
