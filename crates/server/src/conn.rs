//! Accepting connections and running one connection: read, parse, execute, write.

use crate::config::Protocol;
use crate::listen::{Listener, Stream};
use crate::out::Output;
use crate::workers::Workers;
use crate::{auth, binary, text, Counters, Shared};
use bytes::{Buf, Bytes, BytesMut};
use ferrocache_protocol::{Limits, Parsed, Reject};
use ferrocache_storage::{Value, ValueIn};
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

/// A read buffer starts this big, like memcached's.
const READ_BUFFER: usize = 16 * 1024;
/// A storage command whose whole request is at least this long gets a buffer of exactly its
/// size, rather than one grown by doubling.
pub(crate) const OWN_BUFFER_THRESHOLD: usize = 8 * 1024;
/// A read buffer larger than this is replaced by a small one once it is (nearly) empty.
const BIG_BUFFER: usize = 64 * 1024;

/// On shutdown, how long a connection may take to finish sending a request it has begun.
const DRAIN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// What `stats conns` reports, by file descriptor.
#[derive(Default)]
pub(crate) struct Registry {
    pub entries: BTreeMap<i32, ConnEntry>,
}

pub(crate) struct ConnEntry {
    pub addr: String,
    /// `None` for a listening socket.
    pub listen_addr: Option<String>,
    /// memcached's `current_time` (whole seconds) at this connection's last command. Each
    /// connection updates its own copy without taking the registry lock.
    pub last_cmd: Arc<AtomicU64>,
}

fn stream_fd(stream: &Stream) -> i32 {
    match stream {
        Stream::Tcp(s) => s.as_raw_fd(),
        Stream::Unix(s) => s.as_raw_fd(),
    }
}

fn listener_fd(listener: &Listener) -> i32 {
    match listener {
        Listener::Tcp(l) => l.as_raw_fd(),
        Listener::Unix(l) => l.as_raw_fd(),
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
    }
}

pub(crate) fn register_listener(shared: &Shared, listener: &Listener) {
    let entry = ConnEntry {
        addr: listener_addr(listener),
        listen_addr: None,
        last_cmd: Arc::new(AtomicU64::new(shared.last_cmd_time())),
    };
    lock(shared).entries.insert(listener_fd(listener), entry);
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Registry> {
    // The registry holds plain data; a panic elsewhere cannot leave it inconsistent.
    shared.conns.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) async fn accept_loop(
    listener: Arc<Listener>,
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
            tracing::debug!(fd, %addr, "new connection");
            let last_cmd = Arc::new(AtomicU64::new(shared.last_cmd_time()));
            lock(&shared).entries.insert(
                fd,
                ConnEntry {
                    addr,
                    listen_addr: Some(listen_addr),
                    last_cmd: last_cmd.clone(),
                },
            );
            Counters::add(&shared.counters.curr_connections, 1);
            let result = serve(stream, &shared, fd, &last_cmd).await;
            shared
                .counters
                .curr_connections
                .fetch_sub(1, Ordering::Relaxed);
            lock(&shared).entries.remove(&fd);
            if let Err(e) = result {
                tracing::debug!(fd, "connection ended: {e}");
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
    /// (see [`fills_own_buffer`]): its value can then be kept without a copy.
    pub backing: Option<Bytes>,
}

impl ConnCtx<'_> {
    /// A request's value as the store takes it: shared with the read buffer when the request
    /// has that buffer to itself, otherwise to be copied.
    pub fn value_in<'v>(&self, value: &'v [u8]) -> ValueIn<'v> {
        if let Some(whole) = &self.backing {
            let inside = whole.as_ptr_range();
            let part = value.as_ptr_range();
            if inside.start <= part.start && part.end <= inside.end {
                return ValueIn::Owned(Value::from(whole.slice_ref(value)));
            }
        }
        ValueIn::Slice(value)
    }
}

async fn serve(
    mut stream: Stream,
    shared: &Shared,
    fd: i32,
    last_cmd: &AtomicU64,
) -> std::io::Result<()> {
    let limits = Limits {
        item_size_max: shared.config.item_size_max,
        cas_enabled: !shared.config.disable_cas,
    };
    let mut buf = BytesMut::with_capacity(READ_BUFFER);
    let mut ctx = ConnCtx {
        shared,
        fd,
        out: Output::default(),
        sasl: auth::SaslState::default(),
        backing: None,
    };
    // Bytes of a refused command's data block still to be thrown away.
    let mut swallow = 0usize;
    // Binary or text, decided by the first byte the connection sends. With -Y connections
    // speak text: they must authenticate with the ascii exchange first.
    let mut binary: Option<bool> = shared.auth.as_ref().map(|_| false);
    let mut authenticated = shared.auth.is_none();
    let mut auth_state = auth::AuthState::default();
    // The reply to the latest authentication attempt of this read: memcached sends only the
    // last one.
    let mut auth_reply: Option<&'static [u8]> = None;
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
        let mut close = false;
        let mut handled = 0u32;
        loop {
            if handled >= shared.config.reqs_per_event {
                Counters::add(&shared.counters.conn_yields, 1);
                break;
            }
            if swallow > 0 {
                let n = swallow.min(buf.len());
                buf.advance(n);
                swallow -= n;
                if swallow > 0 {
                    break;
                }
            }
            if buf.is_empty() {
                break;
            }
            if !authenticated {
                let users = shared.auth.as_ref().expect("unauthenticated only with -Y");
                match auth_state.step(&buf, users) {
                    auth::Step::NeedMore => break,
                    auth::Step::Close => {
                        ctx.out.clear();
                        close = true;
                        break;
                    }
                    auth::Step::Done {
                        consumed,
                        reply,
                        outcome,
                    } => {
                        buf.advance(consumed);
                        if reply.is_some() {
                            auth_reply = reply;
                        }
                        if outcome != auth::Outcome::Pending {
                            Counters::add(&shared.counters.auth_cmds, 1);
                        }
                        match outcome {
                            auth::Outcome::Authenticated => {
                                authenticated = true;
                                if let Some(r) = auth_reply.take() {
                                    ctx.out.extend(r);
                                }
                            }
                            auth::Outcome::Failed => {
                                tracing::info!(fd, "ascii authentication failed");
                                Counters::add(&shared.counters.auth_errors, 1);
                            }
                            auth::Outcome::Pending => {}
                        }
                        continue;
                    }
                }
            }
            // memcached picks the protocol from a connection's first byte (with -B auto).
            let is_binary = *binary.get_or_insert_with(|| match shared.config.protocol {
                Protocol::Binary => true,
                Protocol::Ascii => false,
                Protocol::Auto => buf[0] == ferrocache_protocol::binary::REQUEST_MAGIC,
            });
            if is_binary {
                let parse = match shared.sasl {
                    Some(_) => ferrocache_protocol::binary::parse_sasl,
                    None => ferrocache_protocol::binary::parse,
                };
                match parse(&buf, &limits) {
                    Parsed::Complete(_, used) if fills_own_buffer(&buf, used) => {
                        handled += 1;
                        last_cmd.store(shared.last_cmd_time(), Ordering::Relaxed);
                        let whole = take_buffer(&mut buf);
                        let Parsed::Complete(request, _) = parse(&whole, &limits) else {
                            unreachable!("the same bytes parse the same way");
                        };
                        tracing::trace!(fd, ?request, "binary request");
                        ctx.backing = Some(whole.clone());
                        let next = binary::execute(&mut ctx, request, &mut swallow);
                        ctx.backing = None;
                        if let Next::Close = next {
                            close = true;
                            break;
                        }
                    }
                    Parsed::Complete(request, used) => {
                        handled += 1;
                        last_cmd.store(shared.last_cmd_time(), Ordering::Relaxed);
                        tracing::trace!(fd, ?request, "binary request");
                        let next = binary::execute(&mut ctx, request, &mut swallow);
                        buf.advance(used);
                        if let Next::Close = next {
                            close = true;
                            break;
                        }
                    }
                    Parsed::Incomplete(need) => {
                        if let Some(total) = need {
                            make_room(&mut buf, total);
                        }
                        break;
                    }
                    Parsed::Rejected(_, _) => {
                        // A bad magic byte: memcached drops the connection and its replies.
                        ctx.out.clear();
                        close = true;
                        break;
                    }
                }
                continue;
            }
            match ferrocache_protocol::text::parse(&buf, &limits) {
                Parsed::Complete(_, used) if fills_own_buffer(&buf, used) => {
                    handled += 1;
                    last_cmd.store(shared.last_cmd_time(), Ordering::Relaxed);
                    let whole = take_buffer(&mut buf);
                    let Parsed::Complete(request, _) =
                        ferrocache_protocol::text::parse(&whole, &limits)
                    else {
                        unreachable!("the same bytes parse the same way");
                    };
                    tracing::trace!(fd, ?request, "request");
                    ctx.backing = Some(whole.clone());
                    let next = text::execute(&mut ctx, request, &mut swallow);
                    ctx.backing = None;
                    if let Next::Close = next {
                        close = true;
                        break;
                    }
                }
                Parsed::Complete(request, used) => {
                    handled += 1;
                    last_cmd.store(shared.last_cmd_time(), Ordering::Relaxed);
                    tracing::trace!(fd, ?request, "request");
                    let next = text::execute(&mut ctx, request, &mut swallow);
                    buf.advance(used);
                    if let Next::Close = next {
                        close = true;
                        break;
                    }
                }
                Parsed::Incomplete(need) => {
                    if let Some(total) = need {
                        make_room(&mut buf, total);
                    }
                    break;
                }
                Parsed::Rejected(rejection, used) => {
                    handled += 1;
                    tracing::debug!(fd, ?rejection, "request refused");
                    if rejection.discard_pending {
                        ctx.out.clear();
                    }
                    if let Some(line) = rejection.reply_line() {
                        ctx.out.extend(&line);
                    }
                    buf.advance(used);
                    swallow = rejection.swallow;
                    if rejection.reason == Reject::Close {
                        // memcached closes at once, without sending the replies it still
                        // holds for earlier requests of the same read.
                        ctx.out.clear();
                        close = true;
                        break;
                    }
                }
            }
        }
        if let Some(r) = auth_reply.take() {
            ctx.out.extend(r);
        }
        // memcached answers a refused command only once its data block has been swallowed.
        if !ctx.out.is_empty() && swallow == 0 {
            let n = ctx.out.flush(&mut stream).await?;
            Counters::add(&shared.counters.bytes_written, n as u64);
        }
        if close {
            let _ = stream.shutdown().await;
            return Ok(());
        }
        if handled >= shared.config.reqs_per_event && !buf.is_empty() {
            // More requests are buffered: let other connections run, then go on.
            tokio::task::yield_now().await;
            continue;
        }
        if buf.capacity() > BIG_BUFFER && buf.len() < READ_BUFFER {
            // A large request's buffer has served its purpose: go back to a small one rather
            // than keep it for the connection's lifetime.
            let mut small = BytesMut::with_capacity(READ_BUFFER);
            small.extend_from_slice(&buf);
            buf = small;
        }
        if buf.capacity() == buf.len() {
            buf.reserve(READ_BUFFER);
        }
        let idle = buf.is_empty() && swallow == 0;
        let n = if shared.stop.is_cancelled() {
            // Shutting down: an idle connection closes now; one in the middle of a request
            // gets a few seconds to finish sending it, and its reply, before it closes.
            if idle {
                return Ok(());
            }
            match tokio::time::timeout(DRAIN_GRACE, stream.read_buf(&mut buf)).await {
                Ok(n) => n?,
                Err(_) => return Ok(()),
            }
        } else {
            let read = async {
                match idle_timeout {
                    // memcached's idle_timeout: a connection that sends nothing for that
                    // long is closed.
                    Some(limit) if idle => tokio::time::timeout(limit, stream.read_buf(&mut buf))
                        .await
                        .unwrap_or(Ok(0)),
                    _ => stream.read_buf(&mut buf).await,
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

/// Where `part` (a sub-slice of `buf`) lies within it.
/// Does the request of `used` bytes at the front of `buf` fill a buffer of about its own
/// size (see [`OWN_BUFFER_THRESHOLD`])? Then the store can keep that buffer as the request's
/// value instead of copying the value out of it.
fn fills_own_buffer(buf: &BytesMut, used: usize) -> bool {
    buf.len() == used && used >= OWN_BUFFER_THRESHOLD && buf.capacity() - used <= used / 16
}

/// Hands over the read buffer, which holds exactly one request, and starts a fresh one.
fn take_buffer(buf: &mut BytesMut) -> Bytes {
    std::mem::replace(buf, BytesMut::with_capacity(READ_BUFFER)).freeze()
}

/// Makes room for a request known to take `total` bytes: a large one gets a buffer of exactly
/// its size (see [`OWN_BUFFER_THRESHOLD`]), a small one the usual growth.
fn make_room(buf: &mut BytesMut, total: usize) {
    if total >= OWN_BUFFER_THRESHOLD && buf.capacity() < total {
        let mut own = BytesMut::with_capacity(total);
        own.extend_from_slice(buf);
        *buf = own;
    } else if buf.capacity() < total {
        buf.reserve(total - buf.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrocache_protocol::binary::{encode_request, opcode};

    fn forget<T>(parsed: Parsed<T>) -> Parsed<()> {
        match parsed {
            Parsed::Complete(_, used) => Parsed::Complete((), used),
            Parsed::Incomplete(need) => Parsed::Incomplete(need),
            Parsed::Rejected(why, used) => Parsed::Rejected(why, used),
        }
    }

    /// A large request that arrives in pieces ends up alone in a buffer of its own size, for
    /// both protocols, so its value can be kept without a copy; a small one does not.
    #[test]
    fn a_large_request_gets_a_buffer_of_its_own() {
        let limits = Limits {
            item_size_max: 1 << 20,
            cas_enabled: true,
        };
        let value = vec![b'v'; 300_000];
        let mut text = b"set k 0 0 300000\r\n".to_vec();
        text.extend_from_slice(&value);
        text.extend_from_slice(b"\r\n");
        let binary = encode_request(opcode::SET, 0, 0, &[0; 8], b"k", &value);
        for (request, is_binary) in [(text, false), (binary, true)] {
            let parse = |buf: &[u8]| match is_binary {
                false => forget(ferrocache_protocol::text::parse(buf, &limits)),
                true => forget(ferrocache_protocol::binary::parse(buf, &limits)),
            };
            let mut buf = BytesMut::with_capacity(READ_BUFFER);
            let mut pieces = request.chunks(READ_BUFFER);
            let used = loop {
                buf.extend_from_slice(pieces.next().expect("complete before the end"));
                match parse(&buf) {
                    Parsed::Complete((), used) => break used,
                    Parsed::Incomplete(Some(total)) => make_room(&mut buf, total),
                    Parsed::Incomplete(None) => {}
                    Parsed::Rejected(..) => panic!("rejected"),
                }
            };
            assert_eq!(used, request.len());
            assert!(fills_own_buffer(&buf, used), "binary: {is_binary}");
        }
        let mut small = BytesMut::with_capacity(READ_BUFFER);
        small.extend_from_slice(b"set k 0 0 1\r\nv\r\n");
        assert!(!fills_own_buffer(&small, small.len()));
    }

    /// With the request's buffer as backing, a (large) value inside it is shared; anything
    /// else is copied as before.
    #[test]
    fn value_in_shares_only_from_the_backing_buffer() {
        let shared = Shared::new(Arc::new(crate::Config::default()), None, None, 0);
        let mut request = b"set k 0 0 10000\r\n".to_vec();
        request.extend_from_slice(&[b'v'; 10_000]);
        request.extend_from_slice(b"\r\n");
        let whole = Bytes::from(request);
        let mut ctx = ConnCtx {
            shared: &shared,
            fd: -1,
            out: Output::default(),
            sasl: auth::SaslState::default(),
            backing: None,
        };
        let value = &whole[17..17 + 10_000];
        assert!(matches!(ctx.value_in(value), ValueIn::Slice(_)));
        ctx.backing = Some(whole.clone());
        match ctx.value_in(value) {
            ValueIn::Owned(v) => {
                assert_eq!(v.as_ptr(), value.as_ptr());
                assert_eq!(v.len(), 10_000);
            }
            ValueIn::Slice(_) => panic!("copied"),
        }
        let elsewhere = vec![b'v'; 10_000];
        assert!(matches!(ctx.value_in(&elsewhere), ValueIn::Slice(_)));
    }
}
