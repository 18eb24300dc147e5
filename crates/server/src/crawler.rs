//! `lru_crawler`: memcached's crawler commands, answered as 1.6.45 answers them, and the
//! streaming of `metadump`/`mgdump` listings to the client.
//!
//! ```text
//! lru_crawler crawl <classids|all>         OK | BADCLASS ... | BUSY ... | NOTSTARTED ...
//! lru_crawler metadump <classids|all|hash> OK\r\n key=... \n ... END\r\n
//! lru_crawler mgdump <classids|all|hash>   OK\r\n mg <key>\r\n ... EN\r\n
//! lru_crawler tocrawl <n>                  OK
//! lru_crawler sleep <usec>                 OK
//! lru_crawler enable|disable               OK
//! ```
//!
//! A dump walks the store on a thread of its own ([`ferrocache_storage::Dump::run`]) and hands
//! its listing, in pieces of about 64 KiB, through a channel of [`CHANNEL_PIECES`] to the
//! connection, which writes them out before it reads its next request. Why: the listing of
//! a million items is never held whole (at most the channel's pieces and the one being
//! written), and a client that stops reading stalls only its own dump's thread (its
//! connection gives up after [`STALL_LIMIT`] without progress, as memcached's crawler
//! does, which stops the thread); the store, the
//! background reclaim and every other connection go on. As in memcached, one crawl or dump
//! runs at a time: another gets `BUSY`.

use crate::conn::{ConnCtx, Next};
use crate::listen::Stream;
use crate::{Counters, Shared};
use bytes::Bytes;
use ferrocache_protocol::text::{ClassList, LruCrawler};
use ferrocache_storage::{CrawlReply, CrawlTarget, Dump, DumpKind};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// Pieces of a listing that may wait for the connection to write them.
pub(crate) const CHANNEL_PIECES: usize = 4;
/// A dump whose client reads nothing for this long is abandoned (memcached polls 1800
/// times for a second each before it closes the client).
pub(crate) const STALL_LIMIT: Duration = Duration::from_secs(1800);

/// What the dump's thread hands the connection.
pub(crate) enum Piece {
    Data(Bytes),
    /// The whole listing was sent.
    Done,
}

/// A dump under way, for the connection to stream (see [`stream`]). Dropping it stops the
/// dump (its thread finds the channel closed).
pub(crate) struct DumpStream {
    pieces: mpsc::Receiver<Piece>,
}

/// Runs `lru_crawler ...`: `Next::Dump` once a dump waits for the connection to stream it.
pub(crate) fn execute(ctx: &mut ConnCtx<'_>, command: LruCrawler, noreply: bool) -> Next {
    if answer(ctx, command, noreply) {
        Next::Dump
    } else {
        Next::Continue
    }
}

/// Answers the command; true when a dump was started instead.
fn answer(ctx: &mut ConnCtx<'_>, command: LruCrawler, noreply: bool) -> bool {
    let store = &ctx.shared.store;
    match command {
        LruCrawler::Crawl(list) => {
            if !store.crawler_enabled() {
                {
                    ctx.say(noreply, b"CLIENT_ERROR lru crawler disabled\r\n");
                    return false;
                }
            }
            let reply = match target(list) {
                Some(target) => store.lru_crawl(target),
                None => {
                    ctx.say(noreply, b"BADCLASS invalid class id\r\n");
                    return false;
                }
            };
            ctx.say(noreply, reply_line(reply));
        }
        LruCrawler::Metadump(list) | LruCrawler::Mgdump(list) => {
            let kind = match command {
                LruCrawler::Metadump(_) => DumpKind::Meta,
                _ => DumpKind::Mg,
            };
            if !store.crawler_enabled() {
                {
                    ctx.say(noreply, b"CLIENT_ERROR lru crawler disabled\r\n");
                    return false;
                }
            }
            if ctx.shared.config.disable_dumping {
                let line: &[u8] = match kind {
                    DumpKind::Meta => b"ERROR metadump not allowed\r\n",
                    DumpKind::Mg => b"ERROR key dump not allowed\r\n",
                };
                {
                    ctx.say(noreply, line);
                    return false;
                }
            }
            // memcached hands the connection to its crawler thread, which it cannot do with
            // replies to earlier requests of the same read still pending: so does ferrocache
            // refuse, for the same bytes.
            if !ctx.out.is_empty() {
                let line: &[u8] = match kind {
                    DumpKind::Meta => b"ERROR cannot pipeline other commands before metadump\r\n",
                    DumpKind::Mg => b"ERROR cannot pipeline other commands before mgdump\r\n",
                };
                {
                    ctx.say(noreply, line);
                    return false;
                }
            }
            let Some(target) = target(list) else {
                {
                    ctx.say(noreply, b"BADCLASS invalid class id\r\n");
                    return false;
                }
            };
            let shared = ctx.shared;
            // Over UDP there is no stream to hand the listing to.
            let udp = shared
                .conns
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .udp
                .contains_key(&ctx.fd);
            match store.lru_dump(kind, target) {
                Ok(dump) if !udp => match start(dump) {
                    Some(stream) => {
                        let mut dumps = shared.dumps.lock().unwrap_or_else(|e| e.into_inner());
                        dumps.insert(ctx.fd, stream);
                        return true;
                    }
                    None => ctx.say(noreply, reply_line(CrawlReply::Error)),
                },
                Ok(_) => ctx.say(noreply, reply_line(CrawlReply::Error)),
                Err(reply) => ctx.say(noreply, reply_line(reply)),
            }
        }
        LruCrawler::Tocrawl(n) => {
            store.set_crawler_tocrawl(n);
            ctx.say(noreply, b"OK\r\n");
        }
        LruCrawler::Sleep(us) => {
            store.set_crawler_sleep(us);
            ctx.say(noreply, b"OK\r\n");
        }
        LruCrawler::Enable => {
            if store.set_crawler_enabled(true) {
                // memcached cannot start a second crawler thread.
                ctx.say(noreply, b"ERROR failed to start lru crawler thread\r\n");
            } else {
                ctx.say(noreply, b"OK\r\n");
            }
        }
        LruCrawler::Disable => {
            store.set_crawler_enabled(false);
            ctx.say(noreply, b"OK\r\n");
        }
    }
    false
}

fn target(list: ClassList) -> Option<CrawlTarget> {
    match list {
        ClassList::All => Some(CrawlTarget::All),
        ClassList::Hash => Some(CrawlTarget::Hash),
        ClassList::Classes(mask) => Some(CrawlTarget::Classes(mask)),
        ClassList::Bad => None,
    }
}

fn reply_line(reply: CrawlReply) -> &'static [u8] {
    match reply {
        CrawlReply::Ok => b"OK\r\n",
        CrawlReply::Busy => b"BUSY currently processing crawler request\r\n",
        CrawlReply::NotStarted => b"NOTSTARTED no items to crawl\r\n",
        CrawlReply::Error => b"ERROR an unknown error happened\r\n",
    }
}

/// Starts the dump's thread; `None` if no thread could be started.
fn start(dump: Dump) -> Option<DumpStream> {
    let (tx, rx) = mpsc::channel(CHANNEL_PIECES);
    let spawned = std::thread::Builder::new()
        .name("ferrocache-dump".into())
        .spawn(move || {
            // `blocking_send` waits for room in the channel, or fails once the connection
            // has dropped its end (gone, or stalled past STALL_LIMIT: see `stream`).
            let send = |piece| tx.blocking_send(piece).is_ok();
            let done = dump.run(|piece| send(Piece::Data(Bytes::copy_from_slice(piece))));
            if done {
                send(Piece::Done);
            }
        });
    spawned.ok().map(|_| DumpStream { pieces: rx })
}

/// Writes the dump's listing to the client as it comes. Ok(false) when the dump did not
/// finish (given up, or the server is stopping past its grace period): the connection is
/// then closed, as memcached closes it.
pub(crate) async fn stream(out: &mut Stream, fd: i32, shared: &Shared) -> std::io::Result<bool> {
    let taken = shared
        .dumps
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&fd);
    let Some(mut dump) = taken else {
        return Ok(false);
    };
    let send_all = async {
        while let Some(piece) = dump.pieces.recv().await {
            match piece {
                Piece::Data(bytes) => {
                    // A client that takes nothing for STALL_LIMIT is given up, as memcached
                    // gives up on it; dropping the channel then stops the dump's thread.
                    let written = tokio::time::timeout(STALL_LIMIT, out.write_all(&bytes)).await;
                    match written {
                        Ok(result) => result?,
                        Err(_) => return Ok(false),
                    }
                    Counters::add(&shared.counters.mine().bytes_written, bytes.len() as u64);
                }
                Piece::Done => {
                    out.flush().await?;
                    return Ok(true);
                }
            }
        }
        Ok(false)
    };
    let stopped = async {
        shared.stop.cancelled().await;
        tokio::time::sleep_until(shared.stop_deadline()).await;
    };
    tokio::select! {
        sent = send_all => sent,
        () = stopped => Ok(false),
    }
}

/// The connection `fd` is gone: a dump it had not taken yet stops.
pub(crate) fn forget(shared: &Shared, fd: i32) {
    let mut dumps = shared.dumps.lock().unwrap_or_else(|e| e.into_inner());
    if !dumps.is_empty() {
        dumps.remove(&fd);
    }
}
