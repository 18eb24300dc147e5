//! `watch` log streams, as memcached 1.6.45's logger (logger.c) runs them.
//!
//! A connection that sends `watch [streams]` gets `OK` and then one line per event of the
//! streams it asked for, until it disconnects:
//!
//! ```text
//! ts=1765142400.123456 gid=3 type=item_get key=foo status=found clsid=1 cfd=12 size=3
//! ts=1765142400.123460 gid=4 type=item_store key=foo status=stored cmd=set ttl=0 clsid=1 cfd=12 size=3
//! ts=1765142400.123470 gid=5 type=deleted key=foo cmd=delete clsid=1 size=3
//! ts=1765142400.123480 gid=6 type=eviction key=k fetch=no ttl=-1 la=0 clsid=1 size=3
//! ts=1765142400.123490 gid=7 type=conn_new rip=127.0.0.1 rport=40000 transport=tcp cfd=13
//! ts=1765142400.123499 gid=8 type=conn_close rip=127.0.0.1 rport=40000 transport=tcp reason=normal cfd=13
//! skipped=5
//! ```
//!
//! How it flows, and why (memcached's design, kept so that a slow or stuck watcher can never
//! hold up a request or make memory grow):
//!
//! 1. A request that makes an event checks [`Tap::wants`] (one relaxed load: nothing more
//!    when nobody watches), renders the line and appends it to the buffer of the thread it
//!    runs on (`-o worker_logbuf_size`, 64 KB by default). A full buffer drops the line
//!    (`log_worker_dropped`); nothing waits. The global id (`gid`) is taken only for a line
//!    that is kept, as in memcached.
//! 2. The logger thread (`fc-logger`) takes every thread's lines, in `gid` order, and copies
//!    each into the buffer of every watcher that asked for its stream and was added before
//!    it was logged (`-o watcher_logbuf_size`, 256 KB by default). A watcher whose buffer
//!    has no room for the line loses it; the next line it gets is preceded by
//!    `skipped=N` (`log_watcher_skipped` counts them, `log_watcher_sent` the lines given).
//! 3. The watcher's connection task writes its buffer to the socket, reads and ignores what
//!    the client sends, and removes the watcher when the client goes.
//!
//! At most [`WATCHER_LIMIT`] watchers at a time (`WATCHER_TOO_MANY log watcher limit
//! reached`).

use crate::listen::Stream;
use ferrocache_protocol::text::{CONNEVENTS, DELETIONS, EVICTIONS, FETCHERS, MUTATIONS};
use ferrocache_storage::tap::{self, Event, Tap};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// memcached's `WATCHER_LIMIT`.
pub(crate) const WATCHER_LIMIT: usize = 20;
/// memcached's defaults (`LOGGER_BUF_SIZE`, `LOGGER_WATCHER_BUF_SIZE`), in bytes.
pub(crate) const WORKER_BUF_DEFAULT: usize = 64 * 1024;
pub(crate) const WATCHER_BUF_DEFAULT: usize = 256 * 1024;
/// The room a thread's buffer must have for one more line: memcached requests its entry
/// header (40 bytes) plus 512 bytes for every entry before it knows the entry's size.
const ENTRY_REQUEST: usize = 40 + 512;
/// What a kept line takes of its thread's buffer besides its text (memcached's header).
const ENTRY_HEADER: usize = 40;
/// The room a watcher's buffer must have beyond a line: memcached keeps 128 bytes for a
/// `skipped=N` line in front of it.
const SKIP_ROOM: usize = 128;
/// The most a watcher's task writes at once.
const WRITE_CHUNK: usize = 16 * 1024;
/// The logger thread's sleep between rounds: memcached's, from 1 ms, growing by an eighth
/// while nothing is logged, to 1 s. Workers also wake it when they log into an empty buffer,
/// so a line is normally passed on at once.
const MIN_SLEEP: Duration = Duration::from_millis(1);
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// Why a connection closed, as `conn_close` lines say it (`reason=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum CloseReason {
    /// Anything but the others: memcached's default (a watcher's connection ends so too).
    Error = 0,
    /// The client closed it or sent `quit`.
    Normal = 1,
    IdleTimeout = 2,
    /// `shutdown`.
    Shutdown = 3,
}

impl CloseReason {
    pub fn from_u8(v: u8) -> CloseReason {
        match v {
            1 => CloseReason::Normal,
            2 => CloseReason::IdleTimeout,
            3 => CloseReason::Shutdown,
            _ => CloseReason::Error,
        }
    }

    fn name(self) -> &'static str {
        match self {
            CloseReason::Error => "error",
            CloseReason::Normal => "normal",
            CloseReason::IdleTimeout => "idle_timeout",
            CloseReason::Shutdown => "shutdown",
        }
    }
}

/// Where a connection comes from, for `conn_new`/`conn_close` lines.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Peer {
    Tcp(std::net::SocketAddr),
    /// A unix socket: `rip=unix rport=0 transport=local`.
    Local,
}

thread_local! {
    /// The connection whose request this thread is running (memcached's `t->cur_sfd`), for
    /// the `cfd=` of item lines. Set by the session before it runs requests.
    static CUR_FD: Cell<i32> = const { Cell::new(-1) };
    /// This thread's buffer in each logger (one per server in the process), by logger id.
    static BUFFERS: RefCell<Vec<(usize, Arc<Mutex<WorkerBuf>>)>> = const { RefCell::new(Vec::new()) };
}

/// Notes which connection's requests this thread runs now.
pub(crate) fn set_current_fd(fd: i32) {
    CUR_FD.with(|c| c.set(fd));
}

fn current_fd() -> i32 {
    CUR_FD.with(Cell::get)
}

/// One thread's lines not yet taken by the logger thread.
#[derive(Default)]
struct WorkerBuf {
    lines: VecDeque<(u64, u16, Vec<u8>)>,
    /// Bytes counted against `-o worker_logbuf_size`.
    used: usize,
    written: u64,
    dropped: u64,
}

/// One watcher: what it asked for, and its lines waiting to be written.
pub(crate) struct Watcher {
    flags: u16,
    /// Lines logged before the watcher was added are not its own.
    min_gid: u64,
    out: Mutex<WatcherOut>,
    ready: tokio::sync::Notify,
}

struct WatcherOut {
    /// Lines not yet written, `-o watcher_logbuf_size` at most. Bytes being written stay
    /// here until written (the writer copies a chunk out), so a stuck client holds no more
    /// than this, allocated once.
    pending: VecDeque<u8>,
    /// Lines lost since the last one given, announced before the next.
    skipped: u64,
}

/// Why `watch` was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TooMany;

/// The server's logger. Shared state, and why each piece is guarded as it is:
/// - `watchers`: a mutex, taken when a watcher comes or goes and once per logger round;
///   never by a request.
/// - each thread's [`WorkerBuf`]: a mutex taken by its own thread to log a line and by the
///   logger thread to take the lines; the two meet rarely (memcached's design).
/// - each watcher's buffer: a mutex between the logger thread and the watcher's task.
/// - counters: relaxed atomics, read only by `stats`.
pub(crate) struct Logger {
    /// Tells this logger's per-thread buffers from other servers' in the same process.
    id: usize,
    /// Which streams are watched, shared with the store (see [`Tap`]).
    tap: Arc<Tap>,
    /// memcached's global log id: a relaxed `fetch_add`, since only uniqueness and each
    /// thread's own order matter (the logger thread sorts a round's lines by it).
    gid: AtomicU64,
    worker_cap: usize,
    watcher_cap: usize,
    watchers: Mutex<[Option<Arc<Watcher>>; WATCHER_LIMIT]>,
    buffers: Mutex<Vec<Arc<Mutex<WorkerBuf>>>>,
    /// The logger thread, to wake.
    thread: OnceLock<std::thread::Thread>,
    pub worker_dropped: AtomicU64,
    pub worker_written: AtomicU64,
    pub watcher_skipped: AtomicU64,
    pub watcher_sent: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data: a panic elsewhere cannot leave it inconsistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

impl Logger {
    /// A logger with no watcher and no thread yet.
    fn new(tap: Arc<Tap>, worker_cap: usize, watcher_cap: usize) -> Logger {
        Logger {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            tap,
            gid: AtomicU64::new(0),
            worker_cap,
            watcher_cap,
            watchers: Mutex::new(Default::default()),
            buffers: Mutex::new(Vec::new()),
            thread: OnceLock::new(),
            worker_dropped: AtomicU64::new(0),
            worker_written: AtomicU64::new(0),
            watcher_skipped: AtomicU64::new(0),
            watcher_sent: AtomicU64::new(0),
        }
    }

    /// A logger for a store whose events go to it, with its thread started. The thread
    /// holds only a weak reference and ends within a second of the logger going.
    pub fn start(tap: Arc<Tap>, worker_cap: usize, watcher_cap: usize) -> Arc<Logger> {
        let logger = Arc::new(Logger::new(tap, worker_cap, watcher_cap));
        let weak = Arc::downgrade(&logger);
        logger.tap.set_sink({
            let weak = weak.clone();
            move |event| {
                if let Some(logger) = weak.upgrade() {
                    logger.log_event(event);
                }
            }
        });
        let spawned = std::thread::Builder::new()
            .name("fc-logger".into())
            .spawn(move || run_thread(weak));
        match spawned {
            Ok(handle) => {
                let _ = logger.thread.set(handle.thread().clone());
            }
            Err(e) => tracing::warn!("could not start the logger thread: {e}"),
        }
        logger
    }

    /// Does a watcher want `flag`'s events? One relaxed load.
    #[inline]
    pub fn wants(&self, flag: u16) -> bool {
        self.tap.wants(flag)
    }

    /// How many watchers there are (`log_watchers`).
    pub fn watcher_count(&self) -> usize {
        lock(&self.watchers).iter().flatten().count()
    }

    /// `stats reset`.
    pub fn reset_stats(&self) {
        for c in [
            &self.worker_dropped,
            &self.worker_written,
            &self.watcher_skipped,
            &self.watcher_sent,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }

    /// Adds a watcher of `flags`, its buffer starting with `OK`; returns its slot.
    pub fn add_watcher(&self, flags: u16) -> Result<(usize, Arc<Watcher>), TooMany> {
        let mut slots = lock(&self.watchers);
        let Some(slot) = slots.iter().position(Option::is_none) else {
            return Err(TooMany);
        };
        let watcher = Arc::new(Watcher {
            flags,
            // memcached spends an id here.
            min_gid: self.gid.fetch_add(1, Ordering::Relaxed) + 1,
            out: Mutex::new(WatcherOut {
                pending: {
                    let mut pending = VecDeque::with_capacity(self.watcher_cap.max(4));
                    pending.extend(b"OK\r\n");
                    pending
                },
                skipped: 0,
            }),
            ready: tokio::sync::Notify::new(),
        });
        watcher.ready.notify_one();
        slots[slot] = Some(watcher.clone());
        self.set_flags(&slots[..]);
        Ok((slot, watcher))
    }

    /// The watcher in `slot`.
    pub fn watcher(&self, slot: usize) -> Option<Arc<Watcher>> {
        lock(&self.watchers)[slot].clone()
    }

    pub fn remove_watcher(&self, slot: usize) {
        let mut slots = lock(&self.watchers);
        slots[slot] = None;
        self.set_flags(&slots[..]);
    }

    fn set_flags(&self, slots: &[Option<Arc<Watcher>>]) {
        let flags = slots.iter().flatten().fold(0, |f, w| f | w.flags);
        self.tap.set_flags(flags);
    }

    /// Logs a line of stream `flag`: `body` writes what follows `ts=... gid=... `.
    /// Dropped, and counted, when this thread's buffer is full.
    pub fn log(&self, flag: u16, body: impl FnOnce(&mut Vec<u8>)) {
        let buf = self.thread_buffer();
        let mut b = lock(&buf);
        if b.used + ENTRY_REQUEST > self.worker_cap {
            b.dropped += 1;
            return;
        }
        let gid = self.gid.fetch_add(1, Ordering::Relaxed) + 1;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let mut line = Vec::with_capacity(128);
        let _ = write!(
            line,
            "ts={}.{} gid={gid} ",
            now.as_secs(),
            now.subsec_micros()
        );
        body(&mut line);
        line.push(b'\n');
        let was_empty = b.lines.is_empty();
        b.used += ENTRY_HEADER + line.len();
        b.lines.push_back((gid, flag, line));
        b.written += 1;
        drop(b);
        if was_empty {
            if let Some(thread) = self.thread.get() {
                thread.unpark();
            }
        }
    }

    fn thread_buffer(&self) -> Arc<Mutex<WorkerBuf>> {
        BUFFERS.with(|bufs| {
            let mut bufs = bufs.borrow_mut();
            if let Some((_, b)) = bufs.iter().find(|(id, _)| *id == self.id) {
                return b.clone();
            }
            // Buffers of loggers gone (servers started and stopped in one process, as
            // tests do) are held by this thread alone: let them go.
            bufs.retain(|(_, b)| Arc::strong_count(b) > 1);
            let b = Arc::new(Mutex::new(WorkerBuf::default()));
            lock(&self.buffers).push(b.clone());
            bufs.push((self.id, b.clone()));
            b
        })
    }

    /// A store event, with the current connection for the lines that name one.
    fn log_event(&self, event: &Event<'_>) {
        let fd = current_fd();
        self.log(event.flag(), |out| render_event(out, event, fd));
    }

    /// `conn_new`, when someone watches `connevents`.
    pub fn conn_new(&self, peer: Peer, fd: i32) {
        if self.wants(CONNEVENTS) {
            self.log(CONNEVENTS, |out| {
                out.extend_from_slice(b"type=conn_new ");
                render_peer(out, peer);
                let _ = write!(out, " cfd={fd}");
            });
        }
    }

    /// `conn_close`, when someone watches `connevents`.
    pub fn conn_close(&self, peer: Peer, fd: i32, reason: CloseReason) {
        if self.wants(CONNEVENTS) {
            self.log(CONNEVENTS, |out| {
                out.extend_from_slice(b"type=conn_close ");
                render_peer(out, peer);
                let _ = write!(out, " reason={} cfd={fd}", reason.name());
            });
        }
    }

    /// One round of the logger thread: takes every thread's lines and hands them to the
    /// watchers. Returns how many lines it took.
    fn round(&self) -> usize {
        let buffers: Vec<_> = lock(&self.buffers).clone();
        let mut lines = Vec::new();
        for buf in buffers {
            let mut b = lock(&buf);
            lines.extend(b.lines.drain(..));
            b.used = 0;
            self.worker_written.fetch_add(b.written, Ordering::Relaxed);
            self.worker_dropped.fetch_add(b.dropped, Ordering::Relaxed);
            b.written = 0;
            b.dropped = 0;
        }
        if lines.is_empty() {
            return 0;
        }
        // Threads' lines interleave by id, so that a watcher reads them in the order
        // they were logged.
        lines.sort_unstable_by_key(|(gid, _, _)| *gid);
        let watchers: Vec<Arc<Watcher>> = lock(&self.watchers).iter().flatten().cloned().collect();
        for w in &watchers {
            let mut given = false;
            let mut out = lock(&w.out);
            for (gid, flag, line) in &lines {
                if w.flags & flag == 0 || *gid < w.min_gid {
                    continue;
                }
                if out.pending.len() + line.len() + SKIP_ROOM > self.watcher_cap {
                    out.skipped += 1;
                    self.watcher_skipped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if out.skipped > 0 {
                    let skipped = out.skipped;
                    out.pending
                        .extend(format!("skipped={skipped}\n").as_bytes());
                    out.skipped = 0;
                }
                out.pending.extend(line);
                self.watcher_sent.fetch_add(1, Ordering::Relaxed);
                given = true;
            }
            drop(out);
            if given {
                w.ready.notify_one();
            }
        }
        lines.len()
    }
}

fn run_thread(logger: Weak<Logger>) {
    let mut sleep = MIN_SLEEP;
    loop {
        let Some(l) = logger.upgrade() else {
            return;
        };
        let found = l.round();
        drop(l);
        sleep = if found == 0 {
            (sleep + sleep / 8).min(MAX_SLEEP)
        } else {
            (sleep / 2).max(MIN_SLEEP)
        };
        std::thread::park_timeout(sleep);
    }
}

/// memcached's `uriencode`: letters, digits and `-._~` as they are, any other byte `%XX`.
fn write_key(out: &mut Vec<u8>, key: &[u8]) {
    for &b in key {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

fn render_peer(out: &mut Vec<u8>, peer: Peer) {
    match peer {
        Peer::Tcp(addr) => {
            let _ = write!(out, "rip={} rport={} transport=tcp", addr.ip(), addr.port());
        }
        Peer::Local => out.extend_from_slice(b"rip=unix rport=0 transport=local"),
    }
}

/// A store event's line after `ts=... gid=... `; `fd` is the connection whose request made
/// it (memcached's `cfd=`).
fn render_event(out: &mut Vec<u8>, event: &Event<'_>, fd: i32) {
    match *event {
        Event::ItemGet {
            key,
            status,
            clsid,
            size,
        } => {
            out.extend_from_slice(b"type=item_get key=");
            write_key(out, key);
            let _ = write!(
                out,
                " status={} clsid={clsid} cfd={fd} size={size}",
                status.name()
            );
        }
        Event::ItemStore {
            key,
            status,
            cmd,
            ttl,
            clsid,
            size,
        } => {
            out.extend_from_slice(b"type=item_store key=");
            write_key(out, key);
            let _ = write!(
                out,
                " status={} cmd={cmd} ttl={ttl} clsid={clsid} cfd={fd} size={size}",
                status.name()
            );
        }
        Event::Deleted {
            key,
            cmd,
            clsid,
            size,
        } => {
            out.extend_from_slice(b"type=deleted key=");
            write_key(out, key);
            let cmd = match cmd {
                tap::DeleteCmd::Delete => "delete",
                tap::DeleteCmd::Md => "md",
            };
            let _ = write!(out, " cmd={cmd} clsid={clsid} size={size}");
        }
        Event::Eviction {
            key,
            fetched,
            ttl,
            last_access,
            clsid,
            size,
        } => {
            out.extend_from_slice(b"type=eviction key=");
            write_key(out, key);
            let fetch = if fetched { "yes" } else { "no" };
            let _ = write!(
                out,
                " fetch={fetch} ttl={ttl} la={last_access} clsid={clsid} size={size}"
            );
        }
    }
}

// The store's stream bits are memcached's, as the protocol crate's are.
const _: () = assert!(
    FETCHERS == tap::FETCHERS
        && MUTATIONS == tap::MUTATIONS
        && EVICTIONS == tap::EVICTIONS
        && DELETIONS == tap::DELETIONS
);

/// Runs a connection that has become a watcher: writes its lines, reads and ignores what
/// the client sends, and ends (removing the watcher) when the client goes or a write fails
/// (`true`), or the server stops (`false`).
pub(crate) async fn serve_watcher(
    stream: &mut Stream,
    logger: &Logger,
    slot: usize,
    watcher: Arc<Watcher>,
    stop: &tokio_util::sync::CancellationToken,
) -> bool {
    // Removes the watcher however this ends (a dropped task included).
    struct Slot<'a>(&'a Logger, usize);
    impl Drop for Slot<'_> {
        fn drop(&mut self) {
            self.0.remove_watcher(self.1);
        }
    }
    let _slot = Slot(logger, slot);
    let mut sink = [0u8; 64];
    let mut chunk = Vec::with_capacity(WRITE_CHUNK);
    loop {
        // A chunk of the buffer, copied out to be written; the bytes leave the buffer once
        // written, and count against its size until then.
        {
            let out = lock(&watcher.out);
            let (front, back) = out.pending.as_slices();
            let n = (front.len() + back.len()).min(WRITE_CHUNK);
            chunk.clear();
            chunk.extend_from_slice(&front[..n.min(front.len())]);
            chunk.extend_from_slice(&back[..n - n.min(front.len())]);
        }
        if !chunk.is_empty() {
            let written = tokio::select! {
                _ = stop.cancelled() => return false,
                w = stream.write_all(&chunk) => w.and(stream.flush().await),
            };
            if written.is_err() {
                return true;
            }
            lock(&watcher.out).pending.drain(..chunk.len());
            continue;
        }
        tokio::select! {
            _ = stop.cancelled() => return false,
            _ = watcher.ready.notified() => {}
            read = stream.read(&mut sink) => match read {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event_line(event: Event<'_>, fd: i32) -> String {
        let mut out = Vec::new();
        render_event(&mut out, &event, fd);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn keys_are_uri_encoded() {
        let mut out = Vec::new();
        write_key(&mut out, b"a-b.c_d~e f/\x00\xff");
        assert_eq!(out, b"a-b.c_d~e%20f%2F%00%FF");
    }

    #[test]
    fn item_lines() {
        assert_eq!(
            event_line(
                Event::ItemGet {
                    key: b"foo",
                    status: tap::GetStatus::Found,
                    clsid: 1,
                    size: 3
                },
                12
            ),
            "type=item_get key=foo status=found clsid=1 cfd=12 size=3"
        );
        assert_eq!(
            event_line(
                Event::ItemStore {
                    key: b"k:1",
                    status: tap::StoreStatus::NotStored,
                    cmd: "add",
                    ttl: 99,
                    clsid: 5,
                    size: 100
                },
                7
            ),
            "type=item_store key=k%3A1 status=not_stored cmd=add ttl=99 clsid=5 cfd=7 size=100"
        );
        assert_eq!(
            event_line(
                Event::Deleted {
                    key: b"d",
                    cmd: tap::DeleteCmd::Md,
                    clsid: 2,
                    size: 0
                },
                7
            ),
            "type=deleted key=d cmd=md clsid=2 size=0"
        );
        assert_eq!(
            event_line(
                Event::Eviction {
                    key: b"e",
                    fetched: false,
                    ttl: -1,
                    last_access: 4,
                    clsid: 39,
                    size: 10
                },
                7
            ),
            "type=eviction key=e fetch=no ttl=-1 la=4 clsid=39 size=10"
        );
    }

    #[test]
    fn connection_lines() {
        let mut out = Vec::new();
        render_peer(&mut out, Peer::Tcp("127.0.0.1:4000".parse().unwrap()));
        assert_eq!(out, b"rip=127.0.0.1 rport=4000 transport=tcp");
        out.clear();
        render_peer(&mut out, Peer::Local);
        assert_eq!(out, b"rip=unix rport=0 transport=local");
    }

    /// A logger whose thread is not started: rounds are run by hand.
    fn manual(worker_cap: usize, watcher_cap: usize) -> Logger {
        Logger::new(Arc::new(Tap::default()), worker_cap, watcher_cap)
    }

    fn pending(w: &Watcher) -> String {
        let bytes: Vec<u8> = lock(&w.out).pending.drain(..).collect();
        String::from_utf8(bytes).unwrap()
    }

    /// The lines without their `ts=` field.
    fn without_ts(text: &str) -> Vec<String> {
        text.lines()
            .map(|l| match l.split_once(' ') {
                Some((ts, rest)) if ts.starts_with("ts=") => rest.to_string(),
                _ => l.to_string(),
            })
            .collect()
    }

    #[test]
    fn a_watcher_gets_ok_then_its_streams_from_its_own_gid_on() {
        let l = manual(WORKER_BUF_DEFAULT, WATCHER_BUF_DEFAULT);
        l.log(FETCHERS, |o| o.extend_from_slice(b"before"));
        let (_, w) = l.add_watcher(FETCHERS).unwrap();
        assert!(l.wants(FETCHERS) && !l.wants(MUTATIONS));
        l.log(MUTATIONS, |o| o.extend_from_slice(b"not mine"));
        l.log(FETCHERS, |o| o.extend_from_slice(b"mine"));
        l.round();
        // gid 1 was logged before the watcher, 2 is the watcher's own, 3 is a mutation.
        assert_eq!(without_ts(&pending(&w)), ["OK", "gid=4 mine"]);
        assert_eq!(l.watcher_sent.load(Ordering::Relaxed), 1);
        assert_eq!(l.worker_written.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn a_full_watcher_skips_lines_and_says_how_many() {
        // Room for "OK" and about two 60-byte lines beside the 128 kept for `skipped=`.
        let l = manual(WORKER_BUF_DEFAULT, 260);
        let (_, w) = l.add_watcher(FETCHERS).unwrap();
        for n in 0..5 {
            l.log(FETCHERS, |o| write!(o, "line {n:040}").unwrap());
        }
        l.round();
        let first = without_ts(&pending(&w));
        let given = first.len() as u64 - 1;
        let skipped = l.watcher_skipped.load(Ordering::Relaxed);
        assert!(given >= 1 && skipped >= 1, "{first:?}");
        assert_eq!(given + skipped, 5);
        l.log(FETCHERS, |o| o.extend_from_slice(b"after"));
        l.round();
        // The watcher's id is 1, the five lines 2 to 6.
        assert_eq!(
            without_ts(&pending(&w)),
            [format!("skipped={skipped}"), "gid=7 after".to_string()]
        );
    }

    #[test]
    fn a_watchers_lines_never_take_more_than_its_buffer() {
        let cap = 2000;
        let l = manual(WORKER_BUF_DEFAULT, cap);
        let (_, w) = l.add_watcher(FETCHERS).unwrap();
        for round in 0..50 {
            for _ in 0..20 {
                l.log(FETCHERS, |o| {
                    write!(o, "line of round {round:050}").unwrap()
                });
            }
            l.round();
            let out = lock(&w.out);
            assert!(out.pending.len() <= cap, "round {round}");
            assert!(out.pending.capacity() <= 2 * cap, "round {round}");
        }
        let skipped = l.watcher_skipped.load(Ordering::Relaxed);
        let sent = l.watcher_sent.load(Ordering::Relaxed);
        assert_eq!(skipped + sent, 1000);
        assert!(sent <= 25, "{sent}");
    }

    #[test]
    fn a_full_thread_buffer_drops_lines() {
        // Room for two requests of ENTRY_REQUEST.
        let l = manual(2 * ENTRY_REQUEST + 100, WATCHER_BUF_DEFAULT);
        let (_, _w) = l.add_watcher(FETCHERS).unwrap();
        for _ in 0..10 {
            l.log(FETCHERS, |o| o.extend_from_slice(&[b'x'; 200]));
        }
        l.round();
        let written = l.worker_written.load(Ordering::Relaxed);
        let dropped = l.worker_dropped.load(Ordering::Relaxed);
        assert_eq!(written + dropped, 10);
        assert!(dropped > 0 && written >= 2, "{written} {dropped}");
        // A dropped line takes no id: the ids stay dense.
        assert_eq!(l.gid.load(Ordering::Relaxed), 1 + written);
    }

    #[test]
    fn at_most_twenty_watchers() {
        let l = manual(WORKER_BUF_DEFAULT, WATCHER_BUF_DEFAULT);
        let slots: Vec<_> = (0..WATCHER_LIMIT)
            .map(|_| l.add_watcher(FETCHERS).unwrap().0)
            .collect();
        assert!(l.add_watcher(FETCHERS).is_err());
        l.remove_watcher(slots[3]);
        assert_eq!(l.add_watcher(CONNEVENTS).unwrap().0, slots[3]);
        assert_eq!(l.watcher_count(), WATCHER_LIMIT);
    }
}
