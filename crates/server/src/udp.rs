//! UDP (`-U`): the text and binary protocols over datagrams, framed exactly as memcached
//! 1.6.45 frames them.
//!
//! Every datagram, both ways, starts with memcached's 8-byte frame header: request id,
//! sequence number, total datagrams, reserved (four big-endian u16). memcached
//!
//! - ignores a datagram of 8 bytes or fewer, and drops one whose header says it is one of
//!   several (total ≠ 1): requests must fit one datagram. It reads the request id and the
//!   total and ignores the sequence number and reserved field;
//! - runs every request in the datagram's payload; the payload's first byte picks the
//!   protocol for all of them (0x80: binary), whatever `-B` says. A request cut off by the end
//!   of the datagram is dropped;
//! - answers each of its internal response objects (one per request, one per key of a
//!   multi-key get) in datagrams of its own, each carrying at most 1392 bytes of reply after
//!   the header (1400 in all); the header echoes the request id, numbers the datagrams of that
//!   response from 0, gives their total (at most 65535) and a zero reserved field;
//! - sends a response with no bytes (a miss among a get's keys, a quiet binary request) as a
//!   header alone, total 0, but only when it comes first in a batch of responses: one that
//!   follows a response just sent is dropped with it. `noreply` responses are never sent;
//! - sends what is pending before it goes on after `mn`, a binary noop, a binary error and
//!   `quit`, and when it yields (`-R`, counted in `conn_yields`); a close (`quit`, a line too
//!   long, a bad binary magic byte, `shutdown`) ends the datagram's run.
//!
//! [`run_datagram`] runs one datagram's requests and returns the replies as memcached groups
//! them; [`frames`] turns those into datagrams. The socket loop around them ([`serve`]) is
//! the only part that does I/O.
//!
//! Deliberate differences, all about replies memcached loses (as over TCP, ferrocache answers
//! every request it has run; see KNOWN_DIFFERENCES in protocol-tests):
//!
//! - a close drops, in memcached, the replies it has not sent yet, and a retrieval with a
//!   key over 250 bytes drops the earlier ones of the datagram; ferrocache sends them;
//! - after a `quit` or a malformed binary request memcached keeps a flag set on the socket
//!   for good, and from then on stops every datagram at its first sending point, dropping
//!   the rest; ferrocache runs every datagram whole;
//! - a request whose data block, or the data block a refused request must skip, runs past
//!   the end of its datagram is dropped (the replies pending before it are sent). memcached
//!   instead waits on the socket and takes the next datagram's bytes (its header included,
//!   from whichever client sent it) as the missing data.

use crate::conn::{ConnCtx, Next};
use crate::metrics::{Laps, Op, Proto};
use crate::out::Output;
use crate::{binary, text, Counters, Shared};
use ferrocache_protocol::binary::{opcode, REQUEST_MAGIC};
use ferrocache_protocol::text::{Request, StatsGroup};
use ferrocache_protocol::{Limits, Parsed, Reject};
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// memcached's `UDP_HEADER_SIZE`.
pub(crate) const HEADER_LEN: usize = 8;
/// memcached's `UDP_MAX_PAYLOAD_SIZE`: the largest datagram it sends, header included.
pub(crate) const MAX_DATAGRAM: usize = 1400;
/// memcached's `UDP_DATA_SIZE`: reply bytes per datagram.
pub(crate) const DATA_PER_DATAGRAM: usize = MAX_DATAGRAM - HEADER_LEN;
/// memcached's `UDP_READ_BUFFER_SIZE`: a longer datagram is cut to this.
const READ_BUFFER: usize = 65536;

/// memcached's address notation for a UDP socket: `udp:1.2.3.4:5`, `udp6:[::1]:5`.
pub(crate) fn udp_addr(a: SocketAddr) -> String {
    match a {
        SocketAddr::V4(a) => format!("udp:{a}"),
        SocketAddr::V6(a) => format!("udp6:{a}"),
    }
}

/// A UDP socket as `stats conns` lists it.
pub(crate) struct UdpEntry {
    /// The socket's own address, in memcached's notation.
    pub local: String,
    /// memcached's `current_time` when the socket last ran a request.
    pub last_cmd: Arc<AtomicU64>,
    /// While the socket runs a `stats conns` request: the client's address. memcached then
    /// lists the socket as a connection to that client. Set and cleared under the registry's
    /// lock around that request only, so datagrams in general take no lock.
    pub serving: Option<String>,
}

/// One of memcached's response objects, or a point where it sent all those before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    /// A response: these bytes of [`Replies::bytes`] (possibly none).
    Response(Range<usize>),
    /// A `noreply` response: never sent.
    Skip,
    /// memcached sent every response before this point before it ran the next request.
    Flush,
}

/// The replies to one datagram's requests.
#[derive(Debug, Default)]
pub(crate) struct Replies {
    pub bytes: Vec<u8>,
    pub parts: Vec<Part>,
    /// How many times memcached would have yielded to other connections (`-R`).
    pub yields: u64,
    /// Whether any response was made since the last flush (memcached's `resp_head`).
    pending: bool,
}

impl Replies {
    fn clear(&mut self) {
        self.bytes.clear();
        self.parts.clear();
        self.yields = 0;
        self.pending = false;
    }

    fn flush(&mut self) {
        if self.pending {
            self.parts.push(Part::Flush);
            self.pending = false;
        }
    }

    /// Takes what `out` holds as the response(s) to one request: one per marked boundary,
    /// or none if it is empty and `skip_if_empty` (a text request with `noreply`). A binary
    /// request always has one, possibly empty: memcached writes nothing for a quiet reply
    /// but keeps its response object.
    fn take(&mut self, out: &mut Output, skip_if_empty: bool, marks: &mut Vec<usize>) {
        let start = self.bytes.len();
        marks.clear();
        out.drain_into(&mut self.bytes, marks);
        self.pending = true;
        if skip_if_empty && self.bytes.len() == start {
            self.parts.push(Part::Skip);
            return;
        }
        let mut from = start;
        for &at in marks.iter() {
            self.parts.push(Part::Response(from..at));
            from = at;
        }
        self.parts.push(Part::Response(from..self.bytes.len()));
    }
}

/// How a datagram's run ended.
enum End {
    /// No more complete requests: memcached sends what is pending.
    Drained,
    /// Nothing more to run in this datagram: a close, or the rest waits on data the
    /// datagram does not have. What was pending has been sent.
    Stopped,
}

/// One datagram's run: its replies and memcached's `-R` accounting. Each request, and the
/// sending at the end of the payload, takes one from a budget of `-R`; when it runs out
/// memcached sends what is pending and yields (`conn_yields`), then resumes with a fresh
/// budget.
struct Run<'a> {
    replies: &'a mut Replies,
    per_event: i64,
    left: i64,
}

impl Run<'_> {
    /// memcached's `conn_mwrite`: sends what is pending.
    fn flush(&mut self) {
        self.replies.flush();
    }

    /// After a request: counts memcached's `-R` budget, and yields when it runs out.
    fn after_request(&mut self) {
        self.left -= 1;
        if self.left < 0 {
            self.flush();
            self.replies.yields += 1;
            // It resumes where it stopped, which takes one more.
            self.left = self.per_event - 1;
        }
    }

    fn at_end(&mut self) {
        if self.replies.pending {
            self.flush();
            self.left -= 1;
            if self.left < 0 {
                self.replies.yields += 1;
            }
        }
    }

    /// A close (`quit`, a malformed request, `shutdown`): the rest of the datagram is not
    /// run; what is pending is sent (memcached drops it, except after `quit`).
    fn close(&mut self) -> End {
        self.flush();
        End::Stopped
    }
}

/// Runs the requests in one datagram's payload (the bytes after its frame header) and leaves
/// the replies, grouped into memcached's response objects, in `replies`. `peer` is the
/// sender, which `stats conns` shows; `state` is what the socket keeps between datagrams.
pub(crate) fn run_datagram(
    ctx: &mut ConnCtx<'_>,
    payload: &[u8],
    peer: SocketAddr,
    replies: &mut Replies,
) {
    replies.clear();
    // The socket whose datagram this thread runs, for `watch` lines' `cfd=`.
    crate::watch::set_current_fd(ctx.fd);
    let per_event = i64::from(ctx.shared.config.reqs_per_event);
    let mut run = Run {
        replies,
        per_event,
        left: per_event,
    };
    let end = if payload.first() == Some(&REQUEST_MAGIC) {
        run_binary(ctx, payload, &mut run)
    } else {
        run_text(ctx, payload, peer, &mut run)
    };
    if let End::Drained = end {
        run.at_end();
    }
}

fn limits(shared: &Shared) -> Limits {
    Limits {
        item_size_max: shared.config.item_size_max,
        cas_enabled: !shared.config.disable_cas,
    }
}

/// Skips a refused request's data block: true if the datagram holds all of it.
fn skip(at: &mut usize, payload: &[u8], swallow: usize) -> bool {
    if swallow > payload.len() - *at {
        return false;
    }
    *at += swallow;
    true
}

fn run_text(ctx: &mut ConnCtx<'_>, payload: &[u8], peer: SocketAddr, run: &mut Run<'_>) -> End {
    let limits = limits(ctx.shared);
    let shared = ctx.shared;
    let mut laps = Laps::start(shared.latency.as_ref());
    let mut marks = Vec::new();
    let mut at = 0;
    while at < payload.len() {
        let parsed = ferrocache_protocol::text::parse(&payload[at..], &limits);
        if !matches!(parsed, Parsed::Incomplete(_)) && crate::vlog::on(ctx.shared) {
            crate::vlog::request_line(ctx.fd, &payload[at..]);
        }
        match parsed {
            Parsed::Complete(request, used) => {
                at += used;
                let quit = matches!(request, Request::Quit);
                let flushes = matches!(request, Request::MetaNoop);
                let conns = matches!(request, Request::Stats(StatsGroup::Conns));
                if conns {
                    set_serving(ctx, Some(peer));
                }
                let mut swallow = 0;
                let op = Op::text(&request);
                let next = text::execute(ctx, request, &mut swallow);
                laps.lap(Proto::Ascii, op);
                if conns {
                    set_serving(ctx, None);
                }
                // `quit` writes nothing but keeps its response object: memcached sends it as
                // a header alone when nothing precedes it.
                run.replies.take(&mut ctx.out, !quit, &mut marks);
                match next {
                    Next::Close => return run.close(),
                    // A datagram socket cannot become a stream: the watcher goes at once,
                    // and nothing is sent.
                    Next::Watch(slot) => ctx.shared.logger.remove_watcher(usize::from(slot)),
                    // Refused over UDP (see `crawler`); were one started, it stops.
                    Next::Dump => crate::crawler::forget(ctx.shared, ctx.fd),
                    Next::Continue => {}
                }
                if flushes {
                    run.flush();
                }
                if !skip(&mut at, payload, swallow) {
                    return run.close();
                }
                run.after_request();
            }
            // A command line not yet ended: dropped.
            Parsed::Incomplete(None) => break,
            // A storage command whose data block the datagram does not hold.
            Parsed::Incomplete(Some(_)) => return run.close(),
            Parsed::Rejected(rejection, used) => {
                at += used;
                if rejection.reason == Reject::Close {
                    return run.close();
                }
                text::refused(ctx, &rejection);
                laps.lap(Proto::Ascii, Op::Other);
                run.replies.take(&mut ctx.out, true, &mut marks);
                if !skip(&mut at, payload, rejection.swallow) {
                    return run.close();
                }
                run.after_request();
            }
        }
    }
    End::Drained
}

fn run_binary(ctx: &mut ConnCtx<'_>, payload: &[u8], run: &mut Run<'_>) -> End {
    let limits = limits(ctx.shared);
    let shared = ctx.shared;
    let mut laps = Laps::start(shared.latency.as_ref());
    let mut marks = Vec::new();
    let mut at = 0;
    while at < payload.len() {
        let rest = &payload[at..];
        let parsed = ferrocache_protocol::binary::parse(rest, &limits);
        if !matches!(parsed, Parsed::Incomplete(_)) && crate::vlog::on(ctx.shared) {
            crate::vlog::request_header(ctx.fd, rest);
        }
        match parsed {
            Parsed::Complete(request, used) => {
                at += used;
                let noop = request.header.opcode == opcode::NOOP;
                let mut swallow = 0;
                let op = Op::binary(request.header.opcode);
                let next = binary::execute(ctx, request, &mut swallow);
                laps.lap(Proto::Binary, op);
                let start = run.replies.bytes.len();
                run.replies.take(&mut ctx.out, false, &mut marks);
                if let Next::Close = next {
                    // quit, or a malformed request: memcached sends the reply, then closes.
                    return run.close();
                }
                // memcached sends at once after a noop and after an error it answers without
                // skipping a body; a get-with-key miss (which carries the key) is no error
                // there.
                let reply = &run.replies.bytes[start..];
                let error = reply.len() >= 24
                    && reply[6..8] != [0, 0]
                    && reply[2..4] == [0, 0]
                    && swallow == 0;
                if noop || error {
                    run.flush();
                }
                if !skip(&mut at, payload, swallow) {
                    return run.close();
                }
                run.after_request();
            }
            Parsed::Incomplete(_) => {
                // memcached waits for a request's header, extras and key before it looks at
                // it: without them the request is dropped and what is pending sent. A value
                // still to come is waited for (see the module notes).
                let fixed = rest.len() >= 24 && {
                    let key = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
                    rest.len() >= 24 + usize::from(rest[4]) + key
                };
                if fixed {
                    return run.close();
                }
                break;
            }
            // A bad magic byte: memcached closes, dropping what it has not sent; ferrocache
            // sends it.
            Parsed::Rejected(..) => return run.close(),
        }
    }
    End::Drained
}

fn set_serving(ctx: &ConnCtx<'_>, peer: Option<SocketAddr>) {
    let mut registry = ctx.shared.conns.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(entry) = registry.udp.get_mut(&ctx.fd) {
        entry.serving = peer.map(udp_addr);
    }
}

/// memcached's frame header.
fn header(request_id: u16, sequence: u16, total: u16) -> [u8; HEADER_LEN] {
    let [r0, r1] = request_id.to_be_bytes();
    let [s0, s1] = sequence.to_be_bytes();
    let [t0, t1] = total.to_be_bytes();
    [r0, r1, s0, s1, t0, t1, 0, 0]
}

/// The datagrams memcached sends for `replies`, in order: each a frame header and the range
/// of [`Replies::bytes`] that follows it.
pub(crate) fn frames(request_id: u16, replies: &Replies) -> Vec<([u8; HEADER_LEN], Range<usize>)> {
    let mut out = Vec::new();
    for batch in replies.parts.split(|p| *p == Part::Flush) {
        let mut parts = batch.iter().peekable();
        while let Some(part) = parts.next() {
            let Part::Response(range) = part else {
                continue;
            };
            let len = range.len();
            // The total is worked out once, from the whole response, and capped; the
            // sequence number wraps as memcached's 16-bit counter does.
            let total = len.div_ceil(DATA_PER_DATAGRAM).min(usize::from(u16::MAX)) as u16;
            if len == 0 {
                out.push((header(request_id, 0, 0), range.clone()));
            }
            for (i, start) in range.clone().step_by(DATA_PER_DATAGRAM).enumerate() {
                let end = (start + DATA_PER_DATAGRAM).min(range.end);
                out.push((header(request_id, i as u16, total), start..end));
            }
            // Once a response is sent, memcached also completes every response after it that
            // has nothing to send.
            while parts.next_if(|p| is_empty(p)).is_some() {}
        }
    }
    out
}

fn is_empty(part: &Part) -> bool {
    match part {
        Part::Skip => true,
        Part::Response(r) => r.is_empty(),
        Part::Flush => false,
    }
}

/// The request id of a datagram memcached runs, or `None` for one it ignores.
fn accept(datagram: &[u8]) -> Option<u16> {
    if datagram.len() <= HEADER_LEN {
        return None;
    }
    // Only whole requests: a datagram that is one of several is dropped.
    if datagram[4..6] != [0, 1] {
        return None;
    }
    Some(u16::from_be_bytes([datagram[0], datagram[1]]))
}

/// Serves one descriptor of a `-U` socket until shutdown.
pub(crate) async fn serve(
    socket: tokio::net::UdpSocket,
    shared: Arc<Shared>,
    fd: i32,
    last_cmd: Arc<AtomicU64>,
) {
    let shared = &*shared;
    let mut ctx = ConnCtx::new(shared, fd);
    ctx.out.keep_boundaries();
    let mut buf = vec![0u8; READ_BUFFER];
    let mut replies = Replies::default();
    let mut datagram = Vec::with_capacity(MAX_DATAGRAM);
    loop {
        let received = tokio::select! {
            biased;
            _ = shared.stop.cancelled() => return,
            received = socket.recv_from(&mut buf) => received,
        };
        let (n, peer) = match received {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(fd, "udp receive failed: {e}");
                continue;
            }
        };
        let got = &buf[..n];
        if n > HEADER_LEN {
            Counters::add(&shared.counters.mine().bytes_read, n as u64);
        }
        let Some(request_id) = accept(got) else {
            tracing::debug!(fd, %peer, len = n, "udp datagram dropped");
            continue;
        };
        last_cmd.store(shared.last_cmd_time(), Ordering::Relaxed);
        run_datagram(&mut ctx, &got[HEADER_LEN..], peer, &mut replies);
        Counters::add(&shared.counters.conn_yields, replies.yields);
        for (head, range) in frames(request_id, &replies) {
            datagram.clear();
            datagram.extend_from_slice(&head);
            datagram.extend_from_slice(&replies.bytes[range]);
            match socket.send_to(&datagram, peer).await {
                Ok(sent) => Counters::add(&shared.counters.mine().bytes_written, sent as u64),
                Err(e) => {
                    // memcached gives up on the rest of the reply too.
                    tracing::debug!(fd, %peer, "udp send failed: {e}");
                    break;
                }
            }
        }
    }
}

/// Serves one descriptor of a bound UDP socket on the next worker thread.
///
/// Why a descriptor per worker ([`crate::listen::bind_all`] makes them) rather than one task
/// per socket: the kernel then hands each datagram to whichever worker is waiting, so
/// requests from many clients are served in parallel, as in memcached. The tasks share
/// nothing but `Shared`.
pub(crate) fn start(
    socket: std::net::UdpSocket,
    shared: &Arc<Shared>,
    tracker: &tokio_util::task::TaskTracker,
    workers: &crate::workers::Workers,
) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = socket.as_raw_fd();
    if crate::vlog::on(shared) {
        crate::vlog::line('<', fd, b"server listening (udp)");
    }
    let last_cmd = Arc::new(AtomicU64::new(shared.last_cmd_time()));
    let entry = UdpEntry {
        local: udp_addr(socket.local_addr()?),
        last_cmd: last_cmd.clone(),
        serving: None,
    };
    shared
        .conns
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .udp
        .insert(fd, entry);
    let shared = shared.clone();
    tracker.spawn_on(
        async move {
            match tokio::net::UdpSocket::from_std(socket) {
                Ok(socket) => serve(socket, shared, fd, last_cmd).await,
                Err(e) => tracing::warn!("a worker could not take a UDP socket: {e}"),
            }
        },
        workers.next(),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use ferrocache_protocol::binary::encode_request;

    fn shared(args: &[&str]) -> Shared {
        let config =
            Config::parse_from(std::iter::once("ferrocache").chain(args.iter().copied())).unwrap();
        Shared::new(Arc::new(config), None, None, 0)
    }

    fn peer() -> SocketAddr {
        "127.0.0.1:5000".parse().unwrap()
    }

    /// Runs `payload` as one datagram with request id 7, and returns the datagrams sent and
    /// the yields counted.
    fn exchange(shared: &Shared, payload: &[u8]) -> (Vec<Vec<u8>>, u64) {
        let mut ctx = ConnCtx::new(shared, -1);
        ctx.out.keep_boundaries();
        let mut replies = Replies::default();
        run_datagram(&mut ctx, payload, peer(), &mut replies);
        let sent = frames(7, &replies)
            .into_iter()
            .map(|(head, range)| [&head[..], &replies.bytes[range]].concat())
            .collect();
        (sent, replies.yields)
    }

    fn dgram(seq: u16, total: u16, body: &[u8]) -> Vec<u8> {
        [&header(7, seq, total)[..], body].concat()
    }

    #[test]
    fn accepts_only_whole_requests_with_a_body() {
        assert_eq!(accept(&[0, 9, 0, 0, 0, 1, 0, 0]), None, "header alone");
        assert_eq!(accept(&[0, 9, 0, 0, 0, 1, 0]), None, "short");
        assert_eq!(accept(&[0, 9, 0, 0, 0, 2, 0, 0, b'x']), None, "one of two");
        assert_eq!(accept(&[0, 9, 0, 0, 0, 0, 0, 0, b'x']), None, "total 0");
        assert_eq!(accept(&[1, 2, 0, 5, 0, 1, 9, 9, b'x']), Some(0x0102));
    }

    #[test]
    fn a_large_reply_is_cut_into_1392_byte_pieces() {
        let shared = shared(&[]);
        let value = vec![b'v'; 5000];
        let set = [&b"set big 0 0 5000\r\n"[..], &value, b"\r\n"].concat();
        assert_eq!(exchange(&shared, &set).0, vec![dgram(0, 1, b"STORED\r\n")]);
        let (sent, _) = exchange(&shared, b"get big\r\n");
        let whole = [&b"VALUE big 0 5000\r\n"[..], &value, b"\r\nEND\r\n"].concat();
        assert_eq!(sent.len(), 4);
        for (i, d) in sent.iter().enumerate() {
            assert_eq!(&d[..8], &header(7, i as u16, 4));
        }
        assert_eq!(
            sent.iter().map(Vec::len).collect::<Vec<_>>(),
            [1400, 1400, 1400, 8 + whole.len() - 3 * 1392]
        );
        assert_eq!(sent.concat().len(), whole.len() + 4 * 8);
        let joined: Vec<u8> = sent.iter().flat_map(|d| d[8..].to_vec()).collect();
        assert_eq!(joined, whole);
    }

    #[test]
    fn each_key_of_a_get_is_a_response_of_its_own() {
        let shared = shared(&[]);
        exchange(&shared, b"set a 0 0 1\r\n1\r\n");
        let a = &b"VALUE a 0 1\r\n1\r\n"[..];
        // A hit, then misses: the misses go with the response before them; END comes with
        // the last key.
        assert_eq!(
            exchange(&shared, b"get a x y\r\n").0,
            [dgram(0, 1, a), dgram(0, 1, b"END\r\n")]
        );
        // Misses first: a header alone (total 0) for the first; the second goes with it.
        assert_eq!(
            exchange(&shared, b"get x y a\r\n").0,
            [dgram(0, 0, b""), dgram(0, 1, &[a, b"END\r\n"].concat())]
        );
        // A noreply request sends nothing, and after a sent response the empty ones vanish.
        assert_eq!(
            exchange(
                &shared,
                b"get x y\r\nset n 0 0 1 noreply\r\n1\r\nget x y\r\n"
            )
            .0,
            [
                dgram(0, 0, b""),
                dgram(0, 1, b"END\r\n"),
                dgram(0, 1, b"END\r\n")
            ]
        );
    }

    #[test]
    fn a_cut_off_request_is_dropped_and_a_close_sends_what_is_pending() {
        let shared = shared(&[]);
        assert_eq!(
            exchange(&shared, b"version\r\nget a").0,
            [dgram(0, 1, b"VERSION 1.6.45\r\n")]
        );
        // A storage command whose data is not all there is dropped; memcached drops the
        // version's reply too.
        assert_eq!(
            exchange(&shared, b"version\r\nset a 0 0 10\r\nabc").0,
            [dgram(0, 1, b"VERSION 1.6.45\r\n")]
        );
        // quit sends what came before it and ends the datagram.
        assert_eq!(
            exchange(&shared, b"version\r\nquit\r\nversion\r\n").0,
            [dgram(0, 1, b"VERSION 1.6.45\r\n")]
        );
        // A line too long to be a command closes; memcached takes the pending reply with it.
        let long = [&b"version\r\n"[..], &[b'x'; 3000]].concat();
        assert_eq!(
            exchange(&shared, &long).0,
            [dgram(0, 1, b"VERSION 1.6.45\r\n")]
        );
        // mn sends what is pending first.
        let long = [&b"version\r\nmn\r\n"[..], &[b'x'; 3000]].concat();
        assert_eq!(
            exchange(&shared, &long).0,
            [dgram(0, 1, b"VERSION 1.6.45\r\n"), dgram(0, 1, b"MN\r\n")]
        );
    }

    #[test]
    fn binary_requests_over_udp() {
        let shared = shared(&[]);
        let set = encode_request(opcode::SETQ, 0, 0, &[0; 8], b"k", b"v");
        let noop = encode_request(opcode::NOOP, 0, 0, &[], &[], &[]);
        // A quiet reply is an empty response: a header alone, total 0.
        let (sent, _) = exchange(&shared, &[&set[..], &noop].concat());
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0], dgram(0, 0, b""));
        assert_eq!(&sent[1][..8], &header(7, 0, 1));
        assert_eq!(&sent[1][8..10], &[0x81, opcode::NOOP]);
        // A noop sends what is pending, so a bad magic byte after it takes nothing back.
        let (sent, _) = exchange(&shared, &[&noop[..], &[0u8; 24]].concat());
        assert_eq!(sent.len(), 1);
        // Without the noop memcached drops the get's reply with the connection; ferrocache
        // sends it.
        let get = encode_request(opcode::GET, 0, 0, &[], b"k", &[]);
        assert_eq!(
            exchange(&shared, &[&get[..], &[0u8; 24]].concat()).0.len(),
            1
        );
        assert_eq!(exchange(&shared, &get).0.len(), 1);
    }

    #[test]
    fn yields_are_counted_as_memcached_counts_them() {
        // memcached's figures for -R 2 and -R 1, with `version` requests.
        for (per_event, counts) in [(2, [0, 1, 1, 2, 2, 3]), (1, [1, 1, 2, 3, 4, 5])] {
            let shared = shared(&["-R", &per_event.to_string()]);
            for (n, want) in (1..=6).zip(counts) {
                let (sent, yields) = exchange(&shared, &b"version\r\n".repeat(n));
                assert_eq!(sent.len(), n);
                assert_eq!(yields, want, "-R {per_event}, {n} requests");
            }
        }
        let shared = shared(&["-R", "2"]);
        assert_eq!(exchange(&shared, &b"mn\r\n".repeat(2)).1, 0);
        assert_eq!(exchange(&shared, &b"mn\r\n".repeat(3)).1, 1);
        assert_eq!(
            exchange(&shared, &b"set a 0 0 1 noreply\r\n1\r\n".repeat(2)).1,
            1
        );
    }

    #[test]
    fn a_close_ends_the_datagram_but_not_the_socket() {
        // memcached keeps a close-after-write flag set on the socket for good after a quit or
        // a binary protocol error, and then stops every later datagram at its first sending
        // point. ferrocache runs every datagram whole.
        let shared = shared(&["-R", "3"]);
        let pipelined = b"version\r\n".repeat(7);
        assert_eq!(exchange(&shared, &pipelined).0.len(), 7);
        assert_eq!(exchange(&shared, b"quit\r\n").0, [dgram(0, 0, b"")]);
        assert_eq!(exchange(&shared, &pipelined).0.len(), 7);
        let bad = encode_request(opcode::NOOP, 0, 0, &[], b"k", &[]);
        let noop = encode_request(opcode::NOOP, 0, 0, &[], &[], &[]);
        assert_eq!(exchange(&shared, &bad).0.len(), 1);
        let two_noops = [&noop[..], &noop].concat();
        assert_eq!(exchange(&shared, &two_noops).0.len(), 2);
        // A close sends what the datagram's earlier requests answered (memcached drops it).
        let long = [&b"version\r\n"[..], &[b'x'; 3000]].concat();
        assert_eq!(
            exchange(&shared, &long).0,
            [dgram(0, 1, b"VERSION 1.6.45\r\n")]
        );
    }

    #[test]
    fn frame_totals_are_capped_and_sequence_numbers_wrap() {
        let len = DATA_PER_DATAGRAM * 65536 + 1;
        let replies = Replies {
            bytes: vec![0; len],
            parts: vec![Part::Response(0..len)],
            ..Replies::default()
        };
        let sent = frames(1, &replies);
        assert_eq!(sent.len(), 65537);
        assert_eq!(sent[0].0, header(1, 0, u16::MAX));
        assert_eq!(sent[65535].0, header(1, 65535, u16::MAX));
        assert_eq!(sent[65536].0, header(1, 0, u16::MAX));
        assert_eq!(sent[65536].1.len(), 1);
    }
}
