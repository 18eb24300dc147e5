//! One connection's protocol state machine: bytes in, replies out, and no I/O.
//!
//! [`Session::run`] runs the requests that are complete in the read buffer (at most `-R` of
//! them) and queues their replies; it says what the connection should do next (write and
//! close, let the others run, or read more). `conn::serve` does the reading, the writing,
//! the idle timeout and the shutdown around it, so any event loop can drive a session, and
//! tests drive one by feeding it bytes.

use crate::config::Protocol;
use crate::conn::{ConnCtx, Next, Waiting};
use crate::metrics::{Laps, Op, Proto};
use crate::{auth, binary, text, vlog, Counters, Shared};
use bytes::{Buf, Bytes, BytesMut};
use ferrocache_protocol::{Parsed, Reject};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::bufpool::{self, READ_BUFFER};
/// A request known to be at least this long (a storage command with its data block, or a
/// binary request with its body) gets a read buffer of exactly its size, rather than one grown
/// by doubling; the store then keeps that buffer as the value instead of copying it out.
pub(crate) const OWN_BUFFER_THRESHOLD: usize = 8 * 1024;
/// A read buffer larger than this is replaced by a small one once it is (nearly) empty.
const BIG_BUFFER: usize = 64 * 1024;
/// Replies waiting to be written count in `Shared::replies` from this size up. Smaller ones
/// fit the connection's usual write buffer (see `bufpool`), which is not counted, as
/// memcached does not count a connection's own buffers.
pub(crate) const COUNTED_REPLIES: usize = 16 * 1024;

/// What one [`Session::run`] did, and so what the connection does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pass {
    /// Write what is pending, then close.
    pub close: bool,
    /// `-R` requests ran and more are buffered, or the replies queued so far would go over
    /// the limit on replies waiting to be written: write what is pending, let the other
    /// connections run, then go on.
    pub yielded: bool,
    /// What the connection waits for now (shown by `stats conns`).
    pub waiting: Waiting,
    /// The request at the front of the buffer needs a buffer of its own, and the memory
    /// that requests still arriving may hold is taken (see `Config::inflight_limit`): read
    /// nothing more until [`Session::room_available`], then run again.
    pub memory_wait: bool,
    /// `watch` made the connection a watcher in this slot (see [`Next::Watch`]). A byte:
    /// every connection's future holds a `Pass` (there are 20 slots).
    pub watch: Option<u8>,
    /// A dump is to be streamed before the next request runs (see [`Next::Dump`]).
    pub dump: bool,
}

/// A connection's state between reads.
pub(crate) struct Session<'a> {
    pub ctx: ConnCtx<'a>,
    /// Bytes read and not yet used. The caller reads into it (see [`Session::make_room`]).
    /// Between requests it holds no memory (see [`Session::release_buffer`]).
    pub buf: BytesMut,
    /// The listener's protocol (`-B`, or a `-l proto[...]`).
    protocol: Protocol,
    /// memcached's `current_time` at the last command, shared with `stats conns`.
    last_cmd: &'a AtomicU64,
    /// Bytes of a refused command's data block still to be thrown away.
    swallow: usize,
    /// Set while `buf` is a buffer that `make_room` sized for the pending request alone.
    own_buffer: bool,
    /// The read buffer as last reported for `stats` (`read_buf_*`).
    held: bufpool::Held,
    /// Bytes of that buffer counted in `Shared::inflight`, given back when the buffer goes.
    charged: u64,
    /// The size of the request that waits for room (with [`Pass::memory_wait`]).
    wanted: u64,
    /// Bytes of the replies being written counted in `Shared::replies`, given back once
    /// they are written (see [`Session::count_replies`]).
    replies_charged: u64,
    /// Binary or text: the listener's protocol, or with `-B auto` the first byte the
    /// connection sends. (With -Y the listeners speak ascii: see `Config`.)
    binary: Option<bool>,
    authenticated: bool,
    auth_state: auth::AuthState,
    /// The `-vv` trace has shown the command line (or binary header) of the request at the
    /// front of `buf`, whose data is still arriving: as memcached, it shows it once, when
    /// it arrives.
    traced: bool,
}

impl<'a> Session<'a> {
    pub fn new(shared: &'a Shared, fd: i32, last_cmd: &'a AtomicU64, protocol: Protocol) -> Self {
        Session {
            ctx: ConnCtx::new(shared, fd),
            buf: BytesMut::new(),
            protocol,
            last_cmd,
            swallow: 0,
            own_buffer: false,
            held: bufpool::Held::default(),
            charged: 0,
            wanted: 0,
            replies_charged: 0,
            binary: None,
            authenticated: shared.auth.is_none(),
            auth_state: auth::AuthState::default(),
            traced: false,
        }
    }

    /// Runs the complete requests at the front of the read buffer, at most `-R` of them,
    /// and queues their replies in `ctx.out`.
    pub fn run(&mut self) -> Pass {
        let Session {
            ctx,
            buf,
            protocol,
            last_cmd,
            swallow,
            own_buffer,
            charged,
            wanted,
            replies_charged: _,
            held: _,
            binary,
            authenticated,
            auth_state,
            traced,
        } = self;
        let shared = ctx.shared;
        let limits = &shared.limits;
        let fd = ctx.fd;
        let mut close = false;
        let mut watch = None;
        let mut dump = false;
        // The connection whose requests this thread runs, for `watch` lines' `cfd=`.
        crate::watch::set_current_fd(fd);
        let mut handled = 0u32;
        // Set when the buffer ends in a storage command whose data block is still coming.
        let mut data_pending = false;
        let mut memory_wait = false;
        // Set when the replies queued so far are to be written before the next request runs.
        let mut replies_full = false;
        // `-o metrics_listen`'s latency histograms: one clock read per request.
        let mut laps = Laps::start(shared.latency.as_ref());
        crate::alloc::note_busy();
        loop {
            if handled >= shared.config.reqs_per_event {
                Counters::add(&shared.counters.conn_yields, 1);
                break;
            }
            // Replies that other connections' clients are slow to read may hold all the
            // memory the limit allows: then this connection writes what it has queued before
            // it runs another request. The first request of a pass always runs, so that no
            // connection waits on another.
            if handled > 0
                && ctx.out.len() >= COUNTED_REPLIES
                && !replies_fit(shared, ctx.out.len() as u64)
            {
                replies_full = !buf.is_empty();
                crate::Counters::add(&shared.counters.response_obj_oom, 1);
                break;
            }
            if *swallow > 0 {
                let n = (*swallow).min(buf.len());
                buf.advance(n);
                *swallow -= n;
                if *swallow > 0 {
                    break;
                }
            }
            if buf.is_empty() {
                break;
            }
            if !*authenticated {
                // The users in force now: a SIGHUP reload applies to every connection that
                // has not authenticated yet.
                let users = shared
                    .auth
                    .as_ref()
                    .expect("unauthenticated only with -Y")
                    .current();
                match auth_state.step(buf, &users) {
                    auth::Step::NeedMore => break,
                    auth::Step::Close => {
                        // Earlier attempts of the same read are still answered.
                        close = true;
                        break;
                    }
                    auth::Step::Done {
                        consumed,
                        reply,
                        outcome,
                    } => {
                        buf.advance(consumed);
                        if let Some(reply) = reply {
                            if vlog::on(shared) {
                                vlog::reply(fd, false, reply);
                            }
                            ctx.out.extend(reply);
                        }
                        if outcome != auth::Outcome::Pending {
                            Counters::add(&shared.counters.auth_cmds, 1);
                        }
                        match outcome {
                            auth::Outcome::Authenticated => *authenticated = true,
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
            let is_binary = *binary.get_or_insert_with(|| match *protocol {
                Protocol::Binary => true,
                Protocol::Ascii => false,
                Protocol::Auto => {
                    let is = buf[0] == ferrocache_protocol::binary::REQUEST_MAGIC;
                    if vlog::on(shared) {
                        let name = if is { "binary" } else { "ascii" };
                        vlog::write(format!("{fd}: Client using the {name} protocol\n").as_bytes());
                    }
                    is
                }
            });
            if is_binary {
                let parse = match shared.sasl {
                    Some(_) => ferrocache_protocol::binary::parse_sasl,
                    None => ferrocache_protocol::binary::parse,
                };
                let parsed = parse(buf, limits);
                if !*traced && vlog::on(shared) {
                    *traced = vlog::request_header(fd, buf);
                }
                *traced &= matches!(parsed, Parsed::Incomplete(_));
                match parsed {
                    Parsed::Complete(_, used) if *own_buffer && buf.len() == used => {
                        handled += 1;
                        last_cmd.store(shared.last_cmd_time(), Ordering::Relaxed);
                        *own_buffer = false;
                        uncharge(shared, charged);
                        let whole = take_buffer(buf);
                        let Parsed::Complete(request, _) = parse(&whole, limits) else {
                            unreachable!("the same bytes parse the same way");
                        };
                        ctx.backing = Some(Box::new(whole.clone()));
                        let op = Op::binary(request.header.opcode);
                        let next = binary::execute(ctx, request, swallow);
                        laps.lap(Proto::Binary, op);
                        ctx.backing = None;
                        if let Next::Close = next {
                            close = true;
                            break;
                        }
                    }
                    Parsed::Complete(request, used) => {
                        handled += 1;
                        last_cmd.store(shared.last_cmd_time(), Ordering::Relaxed);
                        let op = Op::binary(request.header.opcode);
                        let next = binary::execute(ctx, request, swallow);
                        laps.lap(Proto::Binary, op);
                        buf.advance(used);
                        if let Next::Close = next {
                            close = true;
                            break;
                        }
                    }
                    Parsed::Incomplete(need) => {
                        if let Some(total) = need {
                            match make_room(shared, buf, total, charged) {
                                Room::Own => *own_buffer = true,
                                Room::Usual => {}
                                Room::Wait => {
                                    (memory_wait, *wanted) = (true, total as u64);
                                    crate::Counters::add(&shared.counters.read_buf_oom, 1);
                                }
                            }
                            data_pending = true;
                        }
                        break;
                    }
                    Parsed::Rejected(_, _) => {
                        // A bad magic byte: memcached drops the connection, and with it the
                        // replies it still holds for earlier requests of the same read;
                        // ferrocache answers them first (see KNOWN_DIFFERENCES in
                        // protocol-tests).
                        close = true;
                        break;
                    }
                }
                continue;
            }
            let parsed = ferrocache_protocol::text::parse(buf, limits);
            if !*traced && vlog::on(shared) {
                *traced = vlog::request_line(fd, buf);
            }
            *traced &= matches!(parsed, Parsed::Incomplete(_));
            match parsed {
                Parsed::Complete(_, used) if *own_buffer && buf.len() == used => {
                    handled += 1;
                    last_cmd.store(shared.last_cmd_time(), Ordering::Relaxed);
                    *own_buffer = false;
                    uncharge(shared, charged);
                    let whole = take_buffer(buf);
                    let Parsed::Complete(request, _) =
                        ferrocache_protocol::text::parse(&whole, limits)
                    else {
                        unreachable!("the same bytes parse the same way");
                    };
                    ctx.backing = Some(Box::new(whole.clone()));
                    let op = Op::text(&request);
                    let next = text::execute(ctx, request, swallow);
                    laps.lap(Proto::Ascii, op);
                    ctx.backing = None;
                    if stops(next, &mut close, &mut watch, &mut dump) {
                        break;
                    }
                }
                Parsed::Complete(request, used) => {
                    handled += 1;
                    last_cmd.store(shared.last_cmd_time(), Ordering::Relaxed);
                    let op = Op::text(&request);
                    let next = text::execute(ctx, request, swallow);
                    laps.lap(Proto::Ascii, op);
                    buf.advance(used);
                    if stops(next, &mut close, &mut watch, &mut dump) {
                        break;
                    }
                }
                Parsed::Incomplete(need) => {
                    if let Some(total) = need {
                        match make_room(shared, buf, total, charged) {
                            Room::Own => *own_buffer = true,
                            Room::Usual => {}
                            Room::Wait => {
                                (memory_wait, *wanted) = (true, total as u64);
                                crate::Counters::add(&shared.counters.read_buf_oom, 1);
                            }
                        }
                        data_pending = true;
                    }
                    break;
                }
                Parsed::Rejected(rejection, used) => {
                    handled += 1;
                    text::refused(ctx, &rejection);
                    laps.lap(Proto::Ascii, Op::Other);
                    buf.advance(used);
                    // A refused request gives up its own buffer too (`reserve` would reuse it).
                    *own_buffer = false;
                    uncharge(shared, charged);
                    *swallow = rejection.swallow;
                    if rejection.reason == Reject::Close {
                        // memcached closes at once, without sending the replies it still
                        // holds for earlier requests of the same read; ferrocache answers
                        // them first (see KNOWN_DIFFERENCES in protocol-tests).
                        close = true;
                        break;
                    }
                }
            }
        }
        let waiting = if *swallow > 0 {
            Waiting::Swallow
        } else if data_pending {
            Waiting::Data
        } else {
            Waiting::Command
        };
        Pass {
            close,
            watch,
            dump,
            yielded: replies_full || (handled >= shared.config.reqs_per_event && !buf.is_empty()),
            waiting,
            memory_wait,
        }
    }

    /// Are replies ready to write? memcached answers a refused command only once its data
    /// block has been swallowed.
    pub fn replies_ready(&self) -> bool {
        !self.ctx.out.is_empty() && self.swallow == 0
    }

    /// Nothing buffered and nothing to throw away: the connection waits for a new command
    /// (the idle timeout and a shutdown apply).
    pub fn idle(&self) -> bool {
        self.buf.is_empty() && self.swallow == 0
    }

    /// Counts the replies about to be written in `Shared::replies` (when they are large
    /// enough to count: see [`COUNTED_REPLIES`]), until [`Session::replies_written`].
    ///
    /// Why: a reply holds its values (shared with the store, not copied), and a value
    /// replaced or evicted meanwhile stays alive outside `-m` for as long as the client takes
    /// to read it. Counting them lets [`Session::run`] stop queueing more while they are over
    /// the limit (`-o read_buf_mem_limit`, which memcached applies to its read and response
    /// buffers alike).
    pub fn count_replies(&mut self) {
        let len = self.ctx.out.len() as u64;
        if len >= COUNTED_REPLIES as u64 {
            self.ctx.shared.replies.fetch_add(len, Ordering::Relaxed);
            self.replies_charged = len;
        }
    }

    /// The replies counted by [`Session::count_replies`] are written: they count no more.
    pub fn replies_written(&mut self) {
        if self.replies_charged > 0 {
            let written = std::mem::take(&mut self.replies_charged);
            self.ctx
                .shared
                .replies
                .fetch_sub(written, Ordering::Relaxed);
        }
    }

    /// After [`Pass::memory_wait`]: whether the waiting request's buffer would now fit.
    pub fn room_available(&self) -> bool {
        fits(self.ctx.shared, self.wanted)
    }

    /// Gives the read buffer back to the thread's pool if it holds nothing, so that a
    /// connection waiting for its next request holds no buffer. [`Session::make_room`]
    /// borrows one again before the next read.
    pub fn release_buffer(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 0 {
            self.own_buffer = false;
            uncharge(self.ctx.shared, &mut self.charged);
            bufpool::READ.give(std::mem::take(&mut self.buf));
        }
        bufpool::READ.report(&mut self.held, self.buf.capacity());
    }

    /// Readies the read buffer for the next read: an empty one is borrowed from the
    /// thread's pool, a large request's buffer that has served
    /// its purpose gives way to a small one (not the one just sized for the request still
    /// arriving: that would be allocated again after the next read), and a full one grows.
    pub fn make_room(&mut self) {
        if self.buf.capacity() == 0 {
            self.buf = bufpool::READ.take();
            bufpool::READ.report(&mut self.held, self.buf.capacity());
            return;
        }
        if self.buf.capacity() > BIG_BUFFER && self.buf.len() < READ_BUFFER && !self.own_buffer {
            let mut small = bufpool::READ.take();
            small.extend_from_slice(&self.buf);
            self.buf = small;
        }
        if self.buf.capacity() == self.buf.len() {
            self.buf.reserve(READ_BUFFER);
        }
        bufpool::READ.report(&mut self.held, self.buf.capacity());
    }
}

/// Hands over the read buffer, which holds exactly one request, and leaves none in its
/// place (the next read borrows one: see [`Session::make_room`]).
fn take_buffer(buf: &mut BytesMut) -> Bytes {
    std::mem::take(buf).freeze()
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        uncharge(self.ctx.shared, &mut self.charged);
        self.replies_written();
        bufpool::READ.report(&mut self.held, 0);
    }
}

/// Whether a pass stops after a text request that returned `next`, and why: it closes, it
/// became a watcher (in that logger slot), or a dump streams before any later request runs
/// (see `crawler`).
fn stops(next: Next, close: &mut bool, watch: &mut Option<u8>, dump: &mut bool) -> bool {
    match next {
        Next::Close => *close = true,
        Next::Watch(slot) => *watch = Some(slot),
        Next::Dump => *dump = true,
        Next::Continue => return false,
    }
    true
}

/// What [`make_room`] did.
enum Room {
    /// Gave the request a buffer of its own.
    Own,
    /// Grew (or kept) the usual buffer.
    Usual,
    /// The request needs a buffer of its own and there is no room for one now.
    Wait,
}

/// Makes room for a request known to take `total` bytes, whose first bytes `buf` holds: a
/// large one gets a buffer of exactly its size (see [`OWN_BUFFER_THRESHOLD`]), counted in
/// `charged` and in `Shared::inflight`, if the limit on requests still arriving leaves room
/// for it; a small one the usual growth.
fn make_room(shared: &Shared, buf: &mut BytesMut, total: usize, charged: &mut u64) -> Room {
    if total >= OWN_BUFFER_THRESHOLD && buf.capacity() < total {
        if !charge(shared, total as u64) {
            return Room::Wait;
        }
        uncharge(shared, charged);
        *charged = total as u64;
        let mut own = BytesMut::with_capacity(total);
        own.extend_from_slice(buf);
        *buf = own;
        #[cfg(test)]
        crate::conn::tests::OWN_BUFFERS.with(|n| n.set(n.get() + 1));
        return Room::Own;
    }
    if buf.capacity() < total {
        buf.reserve(total - buf.len());
    }
    Room::Usual
}

/// Whether `bytes` more would fit under the limit on requests still arriving. A request
/// always fits when no other is arriving, however large, so that none waits forever.
fn fits(shared: &Shared, bytes: u64) -> bool {
    room(
        shared.inflight.load(Ordering::Relaxed),
        bytes,
        shared.inflight_limit,
    )
}

/// Whether `bytes` more fit beside `now` under `limit` (see [`fits`]).
fn room(now: u64, bytes: u64, limit: Option<u64>) -> bool {
    limit.is_none_or(|limit| now == 0 || now + bytes <= limit)
}

/// Whether replies of `bytes` more would fit beside those other connections are writing,
/// under the same limit as requests still arriving (see [`Session::count_replies`]).
fn replies_fit(shared: &Shared, bytes: u64) -> bool {
    shared
        .inflight_limit
        .is_none_or(|limit| shared.replies.load(Ordering::Relaxed) + bytes <= limit)
}

/// Counts `bytes` more in `Shared::inflight` if they fit under the limit. One
/// compare-and-swap decides it: two connections must not both take the last room.
fn charge(shared: &Shared, bytes: u64) -> bool {
    shared
        .inflight
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| {
            room(now, bytes, shared.inflight_limit).then_some(now + bytes)
        })
        .is_ok()
}

/// Gives back what `charged` holds, and wakes the connections waiting for room.
fn uncharge(shared: &Shared, charged: &mut u64) {
    if *charged > 0 {
        shared
            .inflight
            .fetch_sub(std::mem::take(charged), Ordering::Relaxed);
        shared.inflight_freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use ferrocache_protocol::binary::{encode_request, opcode};
    use std::sync::Arc;

    /// A session of a fresh server fed `pieces` one after another, as reads would bring them;
    /// returns everything it wrote, and `<closed>` if it asked to close.
    async fn replies(pieces: &[&[u8]]) -> Vec<u8> {
        let config =
            Config::parse_from(["ferrocache", "-I", "32k", "-o", "slab_chunk_max=16"]).unwrap();
        let shared = Shared::new(Arc::new(config), None, None, 0);
        let last_cmd = AtomicU64::new(0);
        let mut session = Session::new(&shared, -1, &last_cmd, Protocol::Auto);
        let mut out = Vec::new();
        for piece in pieces {
            session.buf.extend_from_slice(piece);
            loop {
                let pass = session.run();
                if session.replies_ready() {
                    session.ctx.out.flush(&mut out).await.unwrap();
                }
                if pass.close {
                    out.extend_from_slice(b"<closed>");
                    return out;
                }
                if !pass.yielded {
                    break;
                }
                session.make_room();
            }
        }
        out
    }

    /// The same bytes give the same replies however they are cut into reads: whole, in two
    /// pieces cut anywhere, and a byte at a time.
    async fn same_however_cut(script: &[u8], cuts: impl Iterator<Item = usize>) {
        let whole = replies(&[script]).await;
        for cut in cuts {
            let (a, b) = script.split_at(cut);
            assert_eq!(
                replies(&[a, b]).await,
                whole,
                "cut at {cut}: {:?} | {:?}",
                String::from_utf8_lossy(&a[a.len().saturating_sub(20)..]),
                String::from_utf8_lossy(&b[..b.len().min(20)])
            );
        }
        let bytes: Vec<&[u8]> = script.chunks(1).collect();
        assert_eq!(replies(&bytes).await, whole, "a byte at a time");
    }

    #[tokio::test]
    async fn text_replies_do_not_depend_on_how_the_bytes_arrive() {
        let mut script = b"set a 0 0 5\r\nhello\r\nget a b\r\nincr n 1\r\nset n 0 0 2 noreply\r\n10\r\n\
            incr n 5\r\ngets a\r\nbogus\r\nset bad 0 0 1\r\nxyz\r\nmg a v c k\r\nms m 2 T0 c\r\nhi\r\n\
            mn\r\nappend a 0 0 1\r\n!\r\nset big 0 0 40000\r\n"
            .to_vec();
        let large = script.len();
        script.extend(std::iter::repeat_n(b'v', 40_000));
        script.extend_from_slice(b"\r\nget a big\r\nversion\r\nquit\r\nget a\r\n");
        let replies_whole = replies(&[&script]).await;
        let text = String::from_utf8_lossy(&replies_whole);
        assert!(text.starts_with("STORED\r\nVALUE a 0 5\r\nhello\r\nEND\r\nNOT_FOUND\r\n15\r\n"));
        assert!(text.contains("SERVER_ERROR object too large for cache\r\n"));
        assert!(text.ends_with("VERSION 1.6.45\r\n<closed>"), "{text}");
        let cuts = (1..large + 10).chain((large + 10..script.len()).step_by(997));
        same_however_cut(&script, cuts).await;
    }

    #[tokio::test]
    async fn binary_replies_do_not_depend_on_how_the_bytes_arrive() {
        let extras = [0u8; 8];
        let script = [
            encode_request(opcode::SET, 1, 0, &extras, b"a", b"hello"),
            encode_request(opcode::GETQ, 2, 0, &[], b"nope", b""),
            encode_request(opcode::GETK, 3, 0, &[], b"a", b""),
            encode_request(opcode::SET, 4, 0, &extras, b"big", &[b'v'; 40_000]),
            encode_request(opcode::NOOP, 5, 0, &[], b"", b""),
            encode_request(opcode::VERSION, 6, 0, &[], b"", b""),
        ]
        .concat();
        let whole = replies(&[&script]).await;
        // Replies to the set, the getk, the set too large (status 0x03), the noop and the
        // version; the quiet miss says nothing.
        let mut at = 0;
        let mut seen = Vec::new();
        while at + 24 <= whole.len() {
            let body = u32::from_be_bytes(whole[at + 8..at + 12].try_into().unwrap()) as usize;
            seen.push((
                whole[at + 1],
                u16::from_be_bytes([whole[at + 6], whole[at + 7]]),
            ));
            at += 24 + body;
        }
        assert_eq!(at, whole.len());
        let want = [
            (opcode::SET, 0),
            (opcode::GETK, 0),
            (opcode::SET, 3),
            (opcode::NOOP, 0),
            (opcode::VERSION, 0),
        ];
        assert_eq!(seen, want);
        same_however_cut(&script, (1..200).chain((200..script.len()).step_by(991))).await;
    }
}
