//! Executes meta requests (`mg`, `ms`, `md`, `ma`, `me`) and writes memcached's replies.
//!
//! Reply flags come back in the order the request sent them. In quiet mode (`q`) memcached
//! hides `EN` for `mg`, `HD` for `ms` and `md`, and every success of `ma` (`HD` or `VA`);
//! failures and errors are always sent.

use crate::conn::{ConnCtx, Next};
use crate::Counters;
use ferrocache_protocol::meta::reply::{DebugLine, ReplyLine};
use ferrocache_protocol::meta::{MetaCommand, MetaRequest};
use ferrocache_storage::{
    ArithOutcome, DeleteOutcome, MetaArith, MetaDelete, MetaGet, MetaStore, MgOp, StoreMode,
    StoreOutcome,
};

pub(crate) fn execute(ctx: &mut ConnCtx<'_>, m: MetaRequest<'_>) -> Next {
    match m.command {
        MetaCommand::Get => get(ctx, &m),
        MetaCommand::Set => set(ctx, &m),
        MetaCommand::Delete => delete(ctx, &m),
        MetaCommand::Arith => arith(ctx, &m),
        MetaCommand::Debug => debug(ctx, &m),
    }
    Next::Continue
}

/// Appends the `O` and `k` flags, the only ones a reply without an item carries.
fn echo(line: &mut ReplyLine, m: &MetaRequest<'_>, binary_key: bool) {
    for &(code, arg) in &m.flags {
        match code {
            b'O' => {
                line.token(b'O', arg);
            }
            b'k' => {
                line.key(&m.key, binary_key);
            }
            _ => {}
        }
    }
}

fn get(ctx: &mut ConnCtx<'_>, m: &MetaRequest<'_>) {
    let o = &m.opts;
    let ops = m
        .flags
        .iter()
        .filter_map(|&(code, _)| match code {
            b'T' => o.ttl.map(|t| MgOp::Touch(t.into())),
            b'N' => o.vivify.map(|t| MgOp::Vivify(t.into())),
            b'R' => o.recache.map(|t| MgOp::Recache(t.into())),
            b't' => Some(MgOp::Ttl),
            _ => None,
        })
        .collect();
    let req = MetaGet {
        ops,
        no_bump: o.no_bump,
        new_cas: o.new_cas,
    };
    let Some(hit) = ctx.shared.store.meta_get(&m.key, &req) else {
        if !o.quiet {
            let mut line = ReplyLine::new(b"EN");
            echo(&mut line, m, o.base64);
            ctx.out.extend(&line.finish());
        }
        return;
    };
    let item = &hit.item;
    // memcached 1.6.45: a `C<cas>` that matches the item's means the client has the value
    // already, so it is not sent again.
    let value = o.value && o.compare_cas != Some(item.cas);
    let mut line = if value {
        ReplyLine::value(item.value.len())
    } else {
        ReplyLine::new(b"HD")
    };
    for &(code, arg) in &m.flags {
        match code {
            b's' => {
                line.number(b's', item.value.len());
            }
            b't' => {
                line.number(b't', hit.ttl.unwrap_or(-1));
            }
            b'c' => {
                line.number(b'c', item.cas);
            }
            b'f' => {
                line.number(b'f', item.flags);
            }
            b'l' => {
                line.number(b'l', hit.last_access);
            }
            b'h' => {
                line.number(b'h', u8::from(hit.fetched_before));
            }
            b'O' => {
                line.token(b'O', arg);
            }
            b'k' => {
                line.key(&m.key, hit.binary_key);
            }
            _ => {}
        }
    }
    if hit.win_sent_before {
        line.flag(b'Z');
    }
    if hit.stale {
        line.flag(b'X');
    }
    if hit.won {
        line.flag(b'W');
    }
    ctx.out.extend(&line.finish());
    if value {
        ctx.out.value(&item.value);
        ctx.out.extend(b"\r\n");
    }
}

fn set(ctx: &mut ConnCtx<'_>, m: &MetaRequest<'_>) {
    let o = &m.opts;
    let mode = match o.mode {
        Some(b'E') => StoreMode::Add,
        Some(b'A') => StoreMode::Append,
        Some(b'P') => StoreMode::Prepend,
        // The set and replace modes with a CAS are memcached's `cas` (a missing item is
        // then `NF`, not `NS`).
        _ => match o.compare_cas {
            Some(cas) => StoreMode::Cas(cas),
            None if o.mode == Some(b'R') => StoreMode::Replace,
            None => StoreMode::Set,
        },
    };
    // An append or prepend with `N` creates a missing item, with `N`'s TTL (not `T`'s).
    let vivify = matches!(mode, StoreMode::Append | StoreMode::Prepend) && o.vivify.is_some();
    let ttl = if vivify { o.vivify } else { o.ttl };
    let extra = MetaStore {
        compare_cas: o.compare_cas,
        invalidate: o.invalidate,
        new_cas: o.new_cas,
        binary_key: o.base64,
        unlink_if_too_large: true,
        vivify,
    };
    let (outcome, cas, len) = ctx.shared.store.store_with(
        mode,
        &m.key,
        o.client_flags.unwrap_or(0),
        ttl.map_or(0, i64::from),
        ctx.value_in(m.value),
        &extra,
    );
    if let (StoreOutcome::Exists, StoreMode::Cas(got)) = (outcome, mode) {
        ctx.trace_cas_failure(&m.key, got);
    }
    let code: &[u8; 2] = match outcome {
        StoreOutcome::Stored if o.quiet => return,
        StoreOutcome::Stored => b"HD",
        StoreOutcome::NotStored => b"NS",
        StoreOutcome::Exists => b"EX",
        StoreOutcome::NotFound => b"NF",
        StoreOutcome::TooLarge => {
            ctx.out
                .extend(b"SERVER_ERROR object too large for cache\r\n");
            return;
        }
        StoreOutcome::OutOfMemory => {
            ctx.out
                .extend(b"SERVER_ERROR out of memory storing object\r\n");
            return;
        }
    };
    let mut line = ReplyLine::new(code);
    for &(flag, arg) in &m.flags {
        match flag {
            b'O' => {
                line.token(b'O', arg);
            }
            b'k' => {
                line.key(&m.key, o.base64);
            }
            b'c' => {
                line.number(b'c', cas);
            }
            // memcached 1.6.45 returns the stored size (1.6.18 ignored the flag).
            b's' if outcome == StoreOutcome::Stored => {
                line.number(b's', len);
            }
            _ => {}
        }
    }
    ctx.out.extend(&line.finish());
}

fn delete(ctx: &mut ConnCtx<'_>, m: &MetaRequest<'_>) {
    let o = &m.opts;
    let outcome = ctx.shared.store.meta_delete(
        &m.key,
        &MetaDelete {
            compare_cas: o.compare_cas,
            invalidate: o.invalidate,
            remove_value: o.remove_value,
            client_flags: o.client_flags.unwrap_or(0),
            ttl: o.ttl.map(i64::from),
            new_cas: o.new_cas,
        },
    );
    let code: &[u8; 2] = match outcome {
        DeleteOutcome::Deleted if o.quiet => return,
        DeleteOutcome::Deleted => b"HD",
        DeleteOutcome::NotFound => b"NF",
        DeleteOutcome::Exists => b"EX",
    };
    let mut line = ReplyLine::new(code);
    echo(&mut line, m, o.base64);
    ctx.out.extend(&line.finish());
}

fn arith(ctx: &mut ConnCtx<'_>, m: &MetaRequest<'_>) {
    let o = &m.opts;
    let args = MetaArith {
        delta: o.delta.unwrap_or(1),
        incr: ferrocache_protocol::meta::is_incr(o.mode).unwrap_or(true),
        compare_cas: o.compare_cas,
        initial: o.vivify.map(|ttl| (o.initial.unwrap_or(0), i64::from(ttl))),
        ttl: o.ttl.map(i64::from),
        new_cas: o.new_cas,
        binary_key: o.base64,
    };
    let (outcome, cas, ttl) = ctx.shared.store.arith_with(&m.key, &args);
    let code: &[u8; 2] = match outcome {
        // memcached checks the opaque's length only while writing a success, after the
        // number has changed.
        ArithOutcome::Value(_) if m.opaque_too_long() => {
            ctx.out.extend(b"CLIENT_ERROR opaque token too long\r\n");
            return;
        }
        ArithOutcome::Value(_) if o.quiet => return,
        ArithOutcome::Value(number) => {
            let number = number.to_string();
            let mut line = if o.value {
                ReplyLine::value(number.len())
            } else {
                ReplyLine::new(b"HD")
            };
            for &(code, arg) in &m.flags {
                match code {
                    b't' => {
                        line.number(b't', ttl);
                    }
                    b'c' => {
                        line.number(b'c', cas);
                    }
                    b'O' => {
                        line.token(b'O', arg);
                    }
                    b'k' => {
                        line.key(&m.key, o.base64);
                    }
                    _ => {}
                }
            }
            ctx.out.extend(&line.finish());
            if o.value {
                ctx.out.extend(number.as_bytes());
                ctx.out.extend(b"\r\n");
            }
            return;
        }
        ArithOutcome::NonNumeric => {
            ctx.out
                .extend(b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
            return;
        }
        ArithOutcome::NotFound => b"NF",
        ArithOutcome::NotStored => b"NS",
        ArithOutcome::Exists => b"EX",
    };
    let mut line = ReplyLine::new(code);
    echo(&mut line, m, o.base64);
    ctx.out.extend(&line.finish());
}

fn debug(ctx: &mut ConnCtx<'_>, m: &MetaRequest<'_>) {
    Counters::add(&ctx.shared.counters.mine().cmd_meta, 1);
    let Some(d) = ctx.shared.store.debug(&m.key) else {
        // memcached's `out_string`, so the `-vv` trace shows it (a hit is not shown).
        ctx.say(false, b"EN\r\n");
        return;
    };
    let line = DebugLine {
        key: &m.key,
        binary_key: d.binary_key,
        exp: d.exp,
        last_access: d.last_access,
        cas: d.cas,
        fetched: d.fetched,
        class: slab_class(d.size),
        size: d.size,
    };
    ctx.out.extend(&line.encode());
}

/// The slab class memcached would put an item of `size` bytes in, with its default classes
/// (`-n 48`, `-f 1.25`, 512 KB largest chunk): `me` reports it as `cls=`. ferrocache has no
/// slabs; the number is only for `me` to read as memcached's does.
fn slab_class(size: usize) -> u32 {
    const CHUNK_MAX: f64 = 512.0 * 1024.0;
    const FACTOR: f64 = 1.25;
    let mut class_size: usize = 48 + 48;
    let mut class = 1;
    loop {
        if class_size as f64 >= CHUNK_MAX / FACTOR {
            // The largest class holds whole chunks; larger items are chained chunks of it.
            return class;
        }
        let aligned = class_size.div_ceil(8) * 8;
        if size <= aligned {
            return class;
        }
        class += 1;
        class_size = (aligned as f64 * FACTOR) as usize;
    }
}

#[cfg(test)]
mod tests {
    use super::slab_class;

    #[test]
    fn slab_classes_match_memcached_defaults() {
        // Sizes and the classes memcached 1.6 reported for them in `me`.
        let table = [
            (62, 1),
            (64, 1),
            (96, 1),
            (97, 2),
            (160, 4),
            (1060, 12),
            (10060, 22),
            (400_062, 39),
            (600_062, 39),
        ];
        for (size, class) in table {
            assert_eq!(slab_class(size), class, "size {size}");
        }
    }
}
