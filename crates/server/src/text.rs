//! Executes text-protocol requests against the store and writes memcached's replies.

use crate::conn::{ConnCtx, Next};
use crate::prefix::Op;
use crate::watch::{CloseReason, TooMany};
use crate::{stats, vlog, Counters, MEMCACHED_VERSION};
use ferrocache_protocol::response::value_header;
use ferrocache_protocol::text::{DebugTime, Request, StoreMode};
use ferrocache_protocol::{Rejection, KEY_MAX_LENGTH};
use ferrocache_storage::{ArithOutcome, StoreMode as Mode, StoreOutcome};
use std::sync::atomic::Ordering;

impl ConnCtx<'_> {
    /// Writes a reply line unless the request said `noreply`.
    fn reply(&mut self, noreply: bool, line: &[u8]) {
        if !noreply {
            self.out.extend(line);
        }
    }

    /// [`ConnCtx::reply`] for the replies memcached writes with its `out_string`, which its
    /// `-vv` trace shows (`>28 STORED`, `>28 NOREPLY STORED`); see [`crate::vlog`].
    pub(crate) fn say(&mut self, noreply: bool, line: &[u8]) {
        if vlog::on(self.shared) {
            vlog::reply(self.fd, noreply, line);
        }
        self.reply(noreply, line);
    }
}

/// Answers a refused request: its error line (unless `noreply`), shown in the `-vv` trace
/// when memcached's is (see [`Rejection::logged`]).
pub(crate) fn refused(ctx: &mut ConnCtx<'_>, rejection: &Rejection) {
    if rejection.spends_cas {
        ctx.shared.store.spend_cas();
    }
    let Some(line) = rejection.line() else {
        return;
    };
    if rejection.logged && vlog::on(ctx.shared) {
        vlog::reply(ctx.fd, rejection.noreply, &line);
    }
    if !rejection.noreply {
        ctx.out.extend(&line);
    }
}

fn store_mode(mode: StoreMode, cas: u64) -> Mode {
    match mode {
        StoreMode::Set => Mode::Set,
        StoreMode::Add => Mode::Add,
        StoreMode::Replace => Mode::Replace,
        StoreMode::Append => Mode::Append,
        StoreMode::Prepend => Mode::Prepend,
        StoreMode::Cas => Mode::Cas(cas),
    }
}

pub(crate) fn execute(ctx: &mut ConnCtx<'_>, request: Request<'_>, swallow: &mut usize) -> Next {
    let shared = ctx.shared;
    let store = &shared.store;
    match request {
        Request::Get {
            kind,
            exptime,
            keys,
        } => {
            // memcached looks the keys up in order and refuses the command at the first key
            // over 250 bytes: the keys before it have been looked up (and counted), but the
            // command's reply is only the error. (memcached also drops the replies still
            // unsent to earlier requests, and adds an empty line; ferrocache answers every
            // request: see KNOWN_DIFFERENCES in protocol-tests.)
            let refused = keys.clone().position(|k| k.len() > KEY_MAX_LENGTH);
            let trace = vlog::on(shared);
            for (i, key) in keys.take(refused.unwrap_or(usize::MAX)).enumerate() {
                if i > 0 && refused.is_none() {
                    // memcached answers each key in a response object of its own (the last
                    // one also carries END), which UDP frames apart.
                    ctx.out.boundary();
                }
                let hit = if kind.touches() {
                    store.get_and_touch(key, i64::from(exptime))
                } else {
                    store.get(key)
                };
                shared.prefixes.record(key, Op::Get { hit: hit.is_some() });
                if let (Some(item), None) = (hit, refused) {
                    if trace {
                        let mut text = b"sending key ".to_vec();
                        text.extend_from_slice(key);
                        vlog::line('>', ctx.fd, &text);
                    }
                    let cas = kind.returns_cas().then_some(item.cas);
                    let len = item.value.len();
                    ctx.out
                        .put_with(|out| value_header(out, key, item.flags, len, cas));
                    ctx.out.value(&item.value);
                    ctx.out.extend(b"\r\n");
                }
            }
            if refused.is_some() {
                ctx.say(false, b"CLIENT_ERROR bad command line format\r\n");
            } else {
                ctx.say(false, b"END\r\n");
            }
        }
        Request::Store {
            mode,
            key,
            flags,
            exptime,
            cas,
            value,
            noreply,
        } => {
            let mode = store_mode(mode, cas);
            shared.prefixes.record(key, Op::Set);
            let value = ctx.value_in(value);
            let outcome = store.store(mode, key, flags, i64::from(exptime), value);
            if let (StoreOutcome::Exists, Mode::Cas(got)) = (outcome, mode) {
                ctx.trace_cas_failure(key, got);
            }
            let line: &[u8] = match outcome {
                StoreOutcome::Stored => b"STORED\r\n",
                StoreOutcome::NotStored => b"NOT_STORED\r\n",
                StoreOutcome::Exists => b"EXISTS\r\n",
                StoreOutcome::NotFound => b"NOT_FOUND\r\n",
                StoreOutcome::TooLarge => b"SERVER_ERROR object too large for cache\r\n",
                StoreOutcome::OutOfMemory => b"SERVER_ERROR out of memory storing object\r\n",
            };
            ctx.say(noreply, line);
        }
        Request::TooLarge {
            key,
            mode,
            noreply,
            swallow: data,
        } => {
            shared.prefixes.record(key, Op::Set);
            store.note_too_large();
            store.log_too_large(key, Some(store_mode(mode, 0)));
            if mode == StoreMode::Set {
                // A failed set must not leave the old value behind.
                store.unlink(key);
            }
            ctx.reply(noreply, b"SERVER_ERROR object too large for cache\r\n");
            *swallow = data;
        }
        Request::Delete { key, noreply } => {
            shared.prefixes.record(key, Op::Delete);
            let line: &[u8] = if store.delete(key) {
                b"DELETED\r\n"
            } else {
                b"NOT_FOUND\r\n"
            };
            ctx.reply(noreply, line);
        }
        Request::Arith {
            key,
            incr,
            delta,
            noreply,
        } => match store.incr_decr(key, delta, incr) {
            ArithOutcome::Value(v) => ctx.reply(noreply, format!("{v}\r\n").as_bytes()),
            ArithOutcome::NotFound | ArithOutcome::Exists => ctx.reply(noreply, b"NOT_FOUND\r\n"),
            ArithOutcome::NotStored => ctx.reply(noreply, b"SERVER_ERROR out of memory\r\n"),
            ArithOutcome::NonNumeric => ctx.reply(
                noreply,
                b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
            ),
        },
        Request::Touch {
            key,
            exptime,
            noreply,
        } => {
            let line: &[u8] = if store.touch(key, i64::from(exptime)) {
                b"TOUCHED\r\n"
            } else {
                b"NOT_FOUND\r\n"
            };
            ctx.reply(noreply, line);
        }
        Request::FlushAll { delay, noreply } => {
            Counters::add(&shared.counters.cmd_flush, 1);
            if shared.config.disable_flush {
                ctx.say(noreply, b"CLIENT_ERROR flush_all not allowed\r\n");
            } else if let Some(delay) = delay {
                store.flush_all(i64::from(delay));
                ctx.say(noreply, b"OK\r\n");
            } else {
                ctx.say(noreply, b"CLIENT_ERROR invalid exptime argument\r\n");
            }
        }
        Request::Version => {
            ctx.say(false, format!("VERSION {MEMCACHED_VERSION}\r\n").as_bytes());
        }
        Request::Quit => {
            ctx.close_reason = CloseReason::Normal;
            return Next::Close;
        }
        Request::Shutdown { graceful, noreply } => {
            if !shared.config.enable_shutdown {
                ctx.say(noreply, b"SERVER_ERROR: shutdown not enabled\r\n");
            } else if let Some(graceful) = graceful {
                // memcached raises SIGINT for `shutdown` and SIGUSR1 for `shutdown graceful`,
                // and prints what those signals print.
                tracing::debug!(fd = ctx.fd, graceful, "shutdown requested by a client");
                ctx.close_reason = CloseReason::Shutdown;
                shared.request_stop(if graceful {
                    crate::Stop::Graceful
                } else {
                    crate::Stop::Normal
                });
                return Next::Close;
            } else {
                ctx.say(noreply, b"CLIENT_ERROR invalid shutdown mode\r\n");
            }
        }
        Request::Verbosity { level, noreply } => {
            shared.verbosity.store(level.min(2), Ordering::Relaxed);
            if let Some(hook) = crate::VERBOSITY_HOOK.get() {
                hook(level.min(2));
            }
            ctx.say(noreply, b"OK\r\n");
        }
        Request::CacheMemlimit { megabytes, noreply } => {
            let bytes = u64::from(megabytes) * 1024 * 1024;
            store.set_memory_limit(bytes);
            shared.maxbytes.store(bytes, Ordering::Relaxed);
            if vlog::verbose(shared) {
                vlog::write(format!("maxbytes adjusted to {megabytes}m\n").as_bytes());
            }
            ctx.say(noreply, b"OK\r\n");
        }
        Request::SlabsAutomove { setting, noreply } => {
            crate::admin::slabs_automove(ctx, setting, noreply)
        }
        Request::SlabsReassign { classes, noreply } => {
            crate::admin::slabs_reassign(ctx, classes, noreply)
        }
        Request::Lru { setting, noreply } => crate::admin::lru(ctx, setting, noreply),
        Request::Extstore { noreply } => {
            // Checked and acknowledged as memcached does; ferrocache has no external
            // storage for it to tune (see the README).
            ctx.say(noreply, b"OK\r\n");
        }
        Request::DebugTime { change, noreply } => match &shared.debug_clock {
            // Without -o debug_clock, the command does not exist, as in a release build.
            None => ctx.say(noreply, b"ERROR\r\n"),
            Some(clock) => {
                match change {
                    DebugTime::Advance(secs) => clock.advance(secs),
                    DebugTime::Pause => clock.pause(),
                    DebugTime::Resume => clock.resume(),
                }
                ctx.say(noreply, b"OK\r\n");
            }
        },
        // memcached's answers: OK, or its error message as it is (written directly: its
        // trace does not show it).
        Request::RefreshCerts { noreply } => match &shared.tls {
            None => ctx.reply(noreply, b"Error TLS not enabled\r\n"),
            Some(tls) => match tls.refresh() {
                Ok(()) => ctx.say(noreply, b"OK\r\n"),
                Err(e) => ctx.reply(noreply, format!("{e}\r\n").as_bytes()),
            },
        },
        Request::LruCrawler { command, noreply } => {
            return crate::crawler::execute(ctx, command, noreply)
        }
        Request::Stats(group) => stats::reply(ctx, group),
        Request::Watch { flags } => {
            // memcached's order: -W, then replies of the same read still unsent (it cannot
            // hand the connection to its logger with those), then the arguments.
            if shared.config.disable_watch {
                ctx.say(false, b"CLIENT_ERROR watch commands not allowed\r\n");
            } else if !ctx.out.is_empty() {
                ctx.say(
                    false,
                    b"ERROR cannot pipeline other commands before watch\r\n",
                );
            } else if let Some(flags) = flags {
                match shared.logger.add_watcher(flags) {
                    Ok((slot, _)) => return Next::Watch(slot as u8),
                    Err(TooMany) => {
                        ctx.say(false, b"WATCHER_TOO_MANY log watcher limit reached\r\n");
                    }
                }
            } else {
                ctx.say(false, b"ERROR\r\n");
            }
        }
        Request::MetaNoop => ctx.say(false, b"MN\r\n"),
        Request::Meta(m) => return crate::meta::execute(ctx, m),
        Request::MetaTooLarge { key, swallow: data } => {
            store.note_too_large();
            store.log_too_large(&key, Some(Mode::Set));
            // memcached's ms drops the old value whatever the mode, and says so even in
            // quiet mode.
            store.unlink(&key);
            ctx.out
                .extend(b"SERVER_ERROR object too large for cache\r\n");
            *swallow = data;
        }
    }
    Next::Continue
}
